/*
 * test_smtp_body - DATA content encoding: CRLF line ends, dot-stuffing,
 * the final CRLF and ".", line length limits (header folded, body broken).
 * Every case is also fed split at every position and one byte at a time:
 * the output must not depend on how the content was chunked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/smtp/smtp_body.h"
#include "util/buf.h"

static const struct {
	const char *name;
	const char *in;
	long limit;
	const char *want;
} cases[] = {
	{"empty", "", 0, ".\r\n"},
	{"one line", "Subject: x\n\nhello\n", 0, "Subject: x\r\n\r\nhello\r\n.\r\n"},
	{"no final newline", "a\n\nb", 0, "a\r\n\r\nb\r\n.\r\n"},
	{"leading dots stuffed", "h: 1\n\n.\n..x\n.end\nmid.dle\n", 0,
	 "h: 1\r\n\r\n..\r\n...x\r\n..end\r\nmid.dle\r\n.\r\n"},
	{"dot on first line", ".x\n", 0, "..x\r\n.\r\n"},
	{"lone dot last without newline", "a\n\n.", 0, "a\r\n\r\n..\r\n.\r\n"},
	{"CR kept as data", "a\rb\n", 0, "a\rb\r\n.\r\n"},
	{"body line broken", "h: v\n\n0123456789\n", 4, "h: v\r\n\r\n0123\r\n4567\r\n89\r\n.\r\n"},
	{"line exactly at limit", "h: v\n\nabcd\n", 4, "h: v\r\n\r\nabcd\r\n.\r\n"},
	{"header folded", "Subject: abcdef\n\nx\n", 8, "Subject:\r\n  abcdef\r\n\r\nx\r\n.\r\n"},
	{"break before a dot stuffs it", "h\n\nabcd.efg\n", 4, "h\r\n\r\nabcd\r\n..ef\r\ng\r\n.\r\n"},
	{"no limit keeps long lines", "h\n\n0123456789012345\n", 0,
	 "h\r\n\r\n0123456789012345\r\n.\r\n"},
	{"limit one still progresses", "h\n\n..\n", 1, "h\r\n\r\n..\r\n..\r\n.\r\n"},
};

/* encode - run the encoder over in, in pieces of at most step bytes
 * (0: whole), or split once at split (when step is 0 and split > 0) */
static void encode(struct buf *out, const char *in, long limit, size_t step, size_t split)
{
	struct smtp_body b;
	size_t len = strlen(in), off = 0;

	buf_reset(out);
	smtp_body_init(&b, limit);
	if (step) {
		for (; off < len; off += step)
			smtp_body_put(&b, in + off, len - off < step ? len - off : step, out);
	} else {
		smtp_body_put(&b, in, split, out);
		smtp_body_put(&b, in + split, len - split, out);
	}
	smtp_body_end(&b, out);
}

/* the table, whole, byte by byte and split at every point */
static void test_table(void **state)
{
	struct buf *out = buf_create(64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		encode(out, cases[i].in, cases[i].limit, 0, 0);
		if (strcmp(buf_str(out), cases[i].want) != 0)
			fail_msg("%s: got \"%s\"", cases[i].name, buf_str(out));
		encode(out, cases[i].in, cases[i].limit, 1, 0);
		if (strcmp(buf_str(out), cases[i].want) != 0)
			fail_msg("%s (bytewise): got \"%s\"", cases[i].name, buf_str(out));
		for (size_t split = 1; split < len; split++) {
			encode(out, cases[i].in, cases[i].limit, 0, split);
			if (strcmp(buf_str(out), cases[i].want) != 0)
				fail_msg("%s (split at %zu): got \"%s\"", cases[i].name, split,
					 buf_str(out));
		}
	}
	buf_free(&out);
}

/* random_message - header plus pseudo-random lines of dots, spaces, text */
static void random_message(struct buf *in, uint32_t x, int n)
{
	buf_puts(in, "Subject: a rather long header line that must be folded\n\n");
	for (int i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf_putc(in, "ab.\n.\nxyz \t"[x % 11]);
	}
}

/* whatever the content: no bare LF, no lone "." line before the end, no
 * wire line over the limit, a folded header continuation */
static void test_invariants(void **state)
{
	struct buf *in = buf_create(4096), *out = buf_create(8192);
	const long limit = 20;
	const char *p, *end, *crlf;

	random_message(in, 2463534242u, 3000);
	encode(out, buf_str(in), limit, 7, 0);
	p = buf_str(out);
	end = p + out->len;
	while (p < end) {
		size_t n;

		assert_non_null(crlf = strstr(p, "\r\n"));
		n = (size_t)(crlf - p);
		assert_null(memchr(p, '\n', n));
		if (crlf + 2 == end) {
			assert_true(n == 1 && p[0] == '.');
			break;
		}
		assert_false(n == 1 && p[0] == '.');
		assert_true((long)n <= limit);
		p = crlf + 2;
	}
	assert_non_null(strstr(buf_str(out), "\r\n "));
	buf_free(&in);
	buf_free(&out);
}

/* without a limit the encoding is reversible: unstuff, CRLF -> LF */
static void test_reversible(void **state)
{
	struct buf *in = buf_create(4096), *out = buf_create(8192), *back = buf_create(4096);
	const char *p, *end, *crlf;

	random_message(in, 88675123u, 5000);
	buf_putc(in, '\n');
	encode(out, buf_str(in), 0, 13, 0);
	p = buf_str(out);
	end = p + out->len - 3;		/* without ".\r\n" */
	assert_string_equal(end, ".\r\n");
	while (p < end) {
		crlf = strstr(p, "\r\n");
		if (*p == '.')
			p++;
		buf_append(back, p, (size_t)(crlf - p));
		buf_putc(back, '\n');
		p = crlf + 2;
	}
	assert_int_equal(back->len, in->len);
	assert_memory_equal(back->data, in->data, in->len);
	buf_free(&in);
	buf_free(&out);
	buf_free(&back);
}

/* 8-bit detection */
static void test_8bit(void **state)
{
	assert_false(smtp_body_8bit("plain ascii\n", 12));
	assert_true(smtp_body_8bit("caf\xc3\xa9\n", 6));
	assert_false(smtp_body_8bit("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_invariants),
		cmocka_unit_test(test_reversible),
		cmocka_unit_test(test_8bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
