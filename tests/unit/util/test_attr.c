/*
 * test_attr - the framed attribute protocol: round trips, strictness, and
 * random bytes never crash the decoder (run under ASan/UBSan by the test
 * command).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/attr.h"
#include "util/buf.h"

/* round trip: what is put is what is read, in order, repeats kept */
static void test_roundtrip(void **state)
{
	struct buf *b = buf_create(64);
	struct attr_list al;
	struct attr_cursor c;
	const char *err = NULL;
	long n;

	attr_frame_begin(b);
	attr_put_str(b, "queue_id", "4XbZ1q2w3e");
	attr_put_long(b, "count", 2);
	attr_put_str(b, "rcpt", "a@x.test");
	attr_put_str(b, "rcpt", "b@y.test");
	attr_put_str(b, "empty", "");
	attr_frame_end(b);
	attr_list_init(&al);
	assert_int_equal(attr_frame_extract(b, ATTR_FRAME_LIMIT, &al, &err), 1);
	assert_int_equal(b->len, 0);
	assert_string_equal(attr_get(&al, "queue_id"), "4XbZ1q2w3e");
	assert_int_equal(attr_get_long(&al, "count", 0, 10, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(attr_get_long(&al, "count", 3, 10, &n), -1);
	assert_string_equal(attr_get(&al, "empty"), "");
	assert_null(attr_get(&al, "missing"));
	attr_cursor_init(&c, &al);
	assert_string_equal(attr_cursor_find(&c, "rcpt"), "a@x.test");
	assert_string_equal(attr_cursor_expect(&c, "rcpt"), "b@y.test");
	assert_null(attr_cursor_expect(&c, "rcpt"));
	attr_list_deinit(&al);
	buf_free(&b);
}

/* partial frames ask for more; frames split anywhere reassemble */
static void test_byte_at_a_time(void **state)
{
	struct buf *frame = buf_create(64), *in = buf_create(64);
	struct attr_list al;
	const char *err;
	int r = 0;

	attr_frame_begin(frame);
	attr_put_str(frame, "protocol", "delivery_request");
	attr_put_str(frame, "x", "y");
	attr_frame_end(frame);
	attr_list_init(&al);
	for (size_t i = 0; i < frame->len; i++) {
		buf_putc(in, frame->data[i]);
		r = attr_frame_extract(in, ATTR_FRAME_LIMIT, &al, &err);
		if (i + 1 < frame->len)
			assert_int_equal(r, 0);
	}
	assert_int_equal(r, 1);
	assert_string_equal(attr_get(&al, "x"), "y");
	attr_list_deinit(&al);
	buf_free(&frame);
	buf_free(&in);
}

/* malformed payloads and oversized frames are errors with a reason */
static void test_malformed(void **state)
{
	static const struct {
		const char *payload;
		size_t len;
		const char *why;
	} rows[] = {
		{"name", 4, "name without terminator"},
		{"name\0value", 10, "value without terminator"},
		{"name\0", 5, "value without terminator"},
		{"\0value\0", 7, "empty name"},
		{"Bad\0v\0", 6, "upper case name"},
		{"a-b\0v\0", 6, "punctuation in name"},
	};
	struct attr_list al;
	const char *err;

	attr_list_init(&al);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err = NULL;
		assert_int_equal(attr_parse_payload(rows[i].payload, rows[i].len, &al, &err), -1);
		assert_non_null(err);
	}
	attr_list_deinit(&al);

	/* a declared length beyond the limit is refused before reading it */
	struct buf *in = buf_create(16);
	buf_append(in, "\x00\x10\x00\x00", 4);
	attr_list_init(&al);
	assert_int_equal(attr_frame_extract(in, 1024, &al, &err), -1);
	assert_string_equal(err, "frame exceeds size limit");
	attr_list_deinit(&al);
	buf_free(&in);
}

/* random bytes: the decoder returns 1, 0 or -1 and never misbehaves */
static void test_random_bytes(void **state)
{
	struct attr_list al;
	struct buf *in = buf_create(256);
	const char *err;
	unsigned seed = 12345;
	int r, ok = 0, bad = 0;

	attr_list_init(&al);
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 96);

		buf_reset(in);
		/* Half the rounds get a plausible small length prefix. */
		if (round % 2) {
			buf_append(in, "\0\0\0", 3);
			buf_putc(in, (int)(len > 4 ? len - 4 : 0));
		}
		for (size_t i = 0; i < len; i++) {
			int c = rand_r(&seed) % 4 == 0 ? 0 : "az09_=\xff"[rand_r(&seed) % 7];
			buf_putc(in, c);
		}
		while ((r = attr_frame_extract(in, 64, &al, &err)) == 1)
			ok++;
		if (r < 0)
			bad++;
		for (size_t i = 0; i < al.count; i++)
			assert_int_equal(strlen(al.items[i].value), al.items[i].vlen);
	}
	assert_true(ok > 0);
	assert_true(bad > 0);
	attr_list_deinit(&al);
	buf_free(&in);
}

/* blocking read with timeout over a pipe: EOF, timeout and truncation */
static void test_read_frame(void **state)
{
	struct buf *frame = buf_create(64), *in = buf_create(64);
	struct attr_list al;
	const char *err;
	int p[2];

	attr_list_init(&al);
	attr_frame_begin(frame);
	attr_put_str(frame, "status", "0");
	attr_frame_end(frame);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(attr_write_frame(p[1], frame, 1000), 0);
	assert_int_equal(attr_read_frame(p[0], in, 1024, 1000, &al, &err), 1);
	assert_string_equal(attr_get(&al, "status"), "0");
	/* nothing more: time-out */
	assert_int_equal(attr_read_frame(p[0], in, 1024, 50, &al, &err), -1);
	assert_string_equal(err, "timeout");
	/* half a frame then EOF: truncation */
	assert_int_equal(write(p[1], frame->data, 5), 5);
	close(p[1]);
	assert_int_equal(attr_read_frame(p[0], in, 1024, 1000, &al, &err), -1);
	assert_string_equal(err, "unexpected end of input inside a frame");
	close(p[0]);
	/* clean EOF */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	buf_reset(in);
	assert_int_equal(attr_read_frame(p[0], in, 1024, 1000, &al, &err), 0);
	close(p[0]);
	attr_list_deinit(&al);
	buf_free(&frame);
	buf_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_read_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
