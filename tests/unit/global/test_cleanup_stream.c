/*
 * test_cleanup_stream - the message text filter, table-driven: each input
 * is fed whole, one byte at a time and in pieces of 2, 3 and 7 bytes, and
 * must give the same output and the same findings every time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/cleanup/cleanup_stream.h"
#include "util/argv.h"
#include "util/buf.h"

#define EX	CLEANUP_STREAM_EXTRACT
#define SKIP	CLEANUP_STREAM_SKIP_FROM
#define DOT	CLEANUP_STREAM_DOT_EOF
#define STRAY	CLEANUP_STREAM_STRAY_CR

static const struct {
	int flags;
	long hdr_limit;
	long size_limit;
	const char *in;
	const char *want;	/* "|H|\n" marks where hdr_end ran */
	long received;
	const char *rcpts;	/* joined with "," */
	bool too_big;
} rows[] = {
	/* line ends */
	{0, 1000, 0, "A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\nB: 2\n|H|\n\nbody\n", 0, "", false},
	{0, 1000, 0, "A: 1\n\nbare\rcr\r\n", "A: 1\n|H|\n\nbare\rcr\n", 0, "", false},
	{0, 1000, 0, "A: 1\n\nno final newline", "A: 1\n|H|\n\nno final newline\n", 0, "", false},
	{0, 1000, 0, "A: 1\n\nends in cr\r", "A: 1\n|H|\n\nends in cr\r\n", 0, "", false},
	/* stray CR (cleanup_replace_stray_cr_lf): a space, in headers and body */
	{STRAY, 1000, 0, "A: 1\n\nbare\rcr\r\n", "A: 1\n|H|\n\nbare cr\n", 0, "", false},
	{STRAY, 1000, 0, "A: x\ry\r\n\r\nb\r.\rc\r\r\n", "A: x y\n|H|\n\nb . c \n", 0, "", false},
	{STRAY, 1000, 0, "A: 1\n\nends in cr\r", "A: 1\n|H|\n\nends in cr \n", 0, "", false},
	{STRAY, 1000, 0, "A: 1\n\nx\n.\ny\r\n.\r\nz\n", "A: 1\n|H|\n\nx\n.\ny\n.\nz\n", 0, "", false},
	/* header block endings */
	{0, 1000, 0, "A: 1", "A: 1\n|H|\n", 0, "", false},
	{0, 1000, 0, "", "|H|\n", 0, "", false},
	{0, 1000, 0, "\nonly body\n", "|H|\n\nonly body\n", 0, "", false},
	{0, 1000, 0, "A: 1\nnot a header\nB: 2\n", "A: 1\n|H|\n\nnot a header\nB: 2\n", 0, "", false},
	{0, 1000, 0, " leading space\n", "|H|\n\n leading space\n", 0, "", false},
	{0, 1000, 0, "A: 1\n folded\n\tagain\n\nb\n", "A: 1\n folded\n\tagain\n|H|\n\nb\n", 0, "", false},
	/* counting and extraction */
	{0, 1000, 0, "Received: a\nreceived : b\n\nReceived: c\n",
	 "Received: a\nreceived : b\n|H|\n\nReceived: c\n", 2, "", false},
	{EX, 1000, 0, "To: a@x.test\nBcc: b@x.test\nCc: c@x.test\n\n",
	 "To: a@x.test\nCc: c@x.test\n|H|\n\n", 0, "a@x.test,b@x.test,c@x.test", false},
	{EX, 1000, 0, "bcc: b@x.test,\n c@x.test\nX: y\n\n", "X: y\n|H|\n\n", 0,
	 "b@x.test,c@x.test", false},
	{0, 1000, 0, "Bcc: b@x.test\n\n", "Bcc: b@x.test\n|H|\n\n", 0, "", false},
	{EX, 1000, 0, "To: a@x.test\nResent-Cc: r@x.test\n\n",
	 "To: a@x.test\nResent-Cc: r@x.test\n|H|\n\n", 0, "r@x.test", false},
	/* size limit */
	{0, 1000, 10, "A: 1\n\n12345", "A: 1\n|H|\n\n", 0, "", true},
	{0, 1000, 10, "A: 1\n\n123", "A: 1\n|H|\n\n123\n", 0, "", false},
	{0, 1000, 10, "A: 1\r\n\r\n123", "A: 1\n|H|\n\n123\n", 0, "", false},
	/* sendmail options */
	{SKIP, 1000, 0, "From a@b Mon\n>From x\nA: 1\n\nFrom body\n", "A: 1\n|H|\n\nFrom body\n", 0, "", false},
	{SKIP, 1000, 0, "A: 1\nFrom late\n", "A: 1\n|H|\n\nFrom late\n", 0, "", false},
	{DOT, 1000, 0, "A: 1\n\nx\n.\nafter\n", "A: 1\n|H|\n\nx\n", 0, "", false},
	{DOT, 1000, 0, "A: 1\n\nx\r\n.\r\nafter\n", "A: 1\n|H|\n\nx\n", 0, "", false},
	{DOT, 1000, 0, "A: 1\n\n..\n.x\nx.\n.", "A: 1\n|H|\n\n..\n.x\nx.\n", 0, "", false},
	{DOT, 1000, 0, "A: 1\n.\nB: 2\n", "A: 1\n|H|\n", 0, "", false},
	{DOT, 1000, 0, ".\n", "|H|\n", 0, "", false},
	{0, 1000, 0, "A: 1\n\n.\nafter\n", "A: 1\n|H|\n\n.\nafter\n", 0, "", false},
	/* header_size_limit (at least 80): fields are cut, long body lines are not */
	{0, 80, 0,
	 "S: 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\nT: 1\n\n",
	 "S: 01234567890123456789012345678901234567890123456789012345678901234567890123456\nT: 1\n|H|\n\n",
	 0, "", false},
	{0, 80, 0,
	 "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 no colon\n",
	 "|H|\n\n0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 no colon\n",
	 0, "", false},
};

struct sink {
	struct buf *out;
};

/* out_fn - collect output */
static void out_fn(const char *data, size_t len, void *ctx)
{
	buf_append(((struct sink *)ctx)->out, data, len);
}

/* hdr_end_fn - mark the spot */
static void hdr_end_fn(struct cleanup_stream *s, void *ctx)
{
	cleanup_stream_emit(s, "|H|\n", 4);
}

/* run - one row fed in pieces of size step (0: whole) */
static void run(size_t row, size_t step)
{
	struct sink sink = {.out = buf_create(256)};
	struct cleanup_stream *s;
	const struct cleanup_stream_info *info;
	struct buf *joined = buf_create(64);
	const char *in = rows[row].in;
	size_t len = strlen(in), off, n;

	s = cleanup_stream_create(rows[row].flags, rows[row].hdr_limit, rows[row].size_limit,
				  out_fn, hdr_end_fn, &sink);
	for (off = 0; off < len; off += n) {
		n = step == 0 || step > len - off ? len - off : step;
		cleanup_stream_write(s, in + off, n);
	}
	cleanup_stream_finish(s);
	info = cleanup_stream_info(s);
	for (size_t i = 0; i < info->rcpts->argc; i++) {
		if (i)
			buf_putc(joined, ',');
		buf_puts(joined, info->rcpts->argv[i]);
	}
	if (strcmp(buf_str(sink.out), rows[row].want) != 0)
		fail_msg("row %zu step %zu: output \"%s\", want \"%s\"", row, step,
			 buf_str(sink.out), rows[row].want);
	if (!rows[row].too_big && strcmp(buf_str(joined), rows[row].rcpts) != 0)
		fail_msg("row %zu step %zu: rcpts \"%s\", want \"%s\"", row, step,
			 buf_str(joined), rows[row].rcpts);
	if (info->received != rows[row].received || info->too_big != rows[row].too_big)
		fail_msg("row %zu step %zu: received %ld too_big %d", row, step, info->received,
			 info->too_big);
	cleanup_stream_free(&s);
	assert_null(s);
	buf_free(&sink.out);
	buf_free(&joined);
}

/* every row, every piece size */
static void test_rows(void **state)
{
	static const size_t steps[] = {0, 1, 2, 3, 7};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			/* Over-limit output depends on where the limit trips. */
			if (rows[r].too_big && steps[i] != 0)
				continue;
			run(r, steps[i]);
		}
}

/* the findings: From/Date/Message-ID, the Message-ID value, truncation */
static void test_info(void **state)
{
	struct sink sink = {.out = buf_create(256)};
	const char *in = "from: a\nDATE: b\nMessage-Id:\n  <x@y>  \nResent-From: c\n"
			 "X-Long: 0123456789012345678901234567890123456789012345678901234567890123456789"
			 "0123456789\n\n";
	struct cleanup_stream *s = cleanup_stream_create(0, 80, 0, out_fn, NULL, &sink);
	const struct cleanup_stream_info *info;

	cleanup_stream_write(s, in, strlen(in));
	cleanup_stream_finish(s);
	info = cleanup_stream_info(s);
	assert_true(info->has_from && info->has_date && info->has_msgid && info->has_resent);
	assert_string_equal(info->msgid, "<x@y>");
	assert_int_equal(info->truncated_headers, 1);
	assert_int_equal(info->header_fields, 5);
	assert_true(info->ended);
	cleanup_stream_free(&s);
	buf_free(&sink.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
