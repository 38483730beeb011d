/*
 * test_smtp_reply - the SMTP reply parser: a table of replies, each fed
 * whole and one byte at a time (both must agree), plus the limits (overlong
 * lines, too many lines, endless input) and replies that follow each other
 * in one buffer as they do under PIPELINING.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/smtp/smtp_reply.h"
#include "util/buf.h"
#include "util/mem.h"

struct reply_case {
	const char *name;
	const char *input;
	int want;		/* SMTP_REPLY_DONE, _MORE or _ERROR */
	int code;
	const char *status;
	bool enhanced;
	size_t lines;
	const char *text;	/* joined text, when DONE */
	const char *error;	/* substring of the error, when ERROR */
	size_t used;		/* bytes consumed at DONE (0: whole input) */
};

static const struct reply_case cases[] = {
	{"single line", "250 Ok\r\n", SMTP_REPLY_DONE, 250, "2.0.0", false, 1, "250 Ok", NULL, 0},
	{"enhanced code", "550 5.1.1 <a@b>: no such user\r\n", SMTP_REPLY_DONE, 550, "5.1.1",
	 true, 1, "550 5.1.1 <a@b>: no such user", NULL, 0},
	{"enhanced code, three digit parts", "452 4.5.300 too many\r\n", SMTP_REPLY_DONE, 452,
	 "4.5.300", true, 1, "452 4.5.300 too many", NULL, 0},
	{"enhanced class must match the code", "550 4.1.1 confused\r\n", SMTP_REPLY_DONE, 550,
	 "5.0.0", false, 1, "550 4.1.1 confused", NULL, 0},
	{"not an enhanced code", "250 2.0 almost\r\n", SMTP_REPLY_DONE, 250, "2.0.0", false, 1,
	 "250 2.0 almost", NULL, 0},
	{"missing enhanced code on 4xx", "421 try later\r\n", SMTP_REPLY_DONE, 421, "4.0.0",
	 false, 1, "421 try later", NULL, 0},
	{"code only", "354\r\n", SMTP_REPLY_DONE, 354, "3.0.0", false, 1, "354", NULL, 0},
	{"multi-line", "250-mx.test hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n",
	 SMTP_REPLY_DONE, 250, "2.0.0", false, 4,
	 "250-mx.test hello\n250-PIPELINING\n250-SIZE 1000\n250 8BITMIME", NULL, 0},
	{"multi-line enhanced", "550-5.7.1 first\r\n550 5.7.1 second\r\n", SMTP_REPLY_DONE, 550,
	 "5.7.1", true, 2, "550-5.7.1 first\n550 5.7.1 second", NULL, 0},
	{"bare LF tolerated", "250-a\n250 b\n", SMTP_REPLY_DONE, 250, "2.0.0", false, 2,
	 "250-a\n250 b", NULL, 0},
	{"mixed CRLF and LF", "220-x\r\n220 y\n", SMTP_REPLY_DONE, 220, "2.0.0", false, 2,
	 "220-x\n220 y", NULL, 0},
	{"CR inside a line is data", "250 a\rb\r\n", SMTP_REPLY_DONE, 250, "2.0.0", false, 1,
	 "250 a\rb", NULL, 0},
	{"stops after the last line", "250 one\r\n250 two\r\n", SMTP_REPLY_DONE, 250, "2.0.0",
	 false, 1, "250 one", NULL, 9},
	{"incomplete line", "250 Ok", SMTP_REPLY_MORE, 0, NULL, false, 0, NULL, NULL, 0},
	{"incomplete multi-line", "250-a\r\n250-b\r\n", SMTP_REPLY_MORE, 0, NULL, false, 0, NULL,
	 NULL, 0},
	{"garbage", "hello there\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL, "no reply code", 0},
	{"garbage without line end", "HTTP/1.1 400 Bad", SMTP_REPLY_ERROR, 0, NULL, false, 0,
	 NULL, "no reply code", 0},
	{"short code", "25\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL, "no reply code", 0},
	{"empty line", "\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL, "no reply code", 0},
	{"code out of range (1xx)", "199 hm\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL,
	 "out of range", 0},
	{"code out of range (6xx)", "600 hm\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL,
	 "out of range", 0},
	{"bad separator", "250_ok\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL, "separator", 0},
	{"CR after the code, not at the end", "354\rx\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0,
	 NULL, "separator", 0},
	{"tab separator", "250\tok\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL, "separator", 0},
	{"mixed codes", "250-a\r\n251 b\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL,
	 "inconsistent", 0},
	{"garbage continuation", "250-a\r\nxyz\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL,
	 "no reply code", 0},
	{"NUL byte", "250 a\0b\r\n", SMTP_REPLY_ERROR, 0, NULL, false, 0, NULL, "NUL", 0},
};

/* input_len - length of a case's input (cases may hold a NUL) */
static size_t input_len(const struct reply_case *c)
{
	/* The NUL case is the only one with an embedded NUL: count to "\r\n". */
	if (strcmp(c->name, "NUL byte") == 0)
		return 9;
	return strlen(c->input);
}

/* check_case - compare a parse outcome with the table row */
static void check_case(const struct reply_case *c, struct smtp_reply_parser *p, int r,
		       size_t used, const char *error)
{
	const struct smtp_reply *rep;

	if (r != c->want)
		fail_msg("%s: result %d, want %d (%s)", c->name, r, c->want,
			 r == SMTP_REPLY_ERROR ? error : "");
	if (r == SMTP_REPLY_DONE) {
		rep = smtp_reply_parser_reply(p);
		assert_int_equal(rep->code, c->code);
		assert_string_equal(rep->status, c->status);
		assert_int_equal(rep->enhanced, c->enhanced);
		assert_int_equal(rep->lines, c->lines);
		assert_string_equal(rep->text.data, c->text);
		assert_int_equal(rep->truncated, false);
		assert_int_equal(used, c->used ? c->used : input_len(c));
	} else if (r == SMTP_REPLY_ERROR) {
		if (strstr(error, c->error) == NULL)
			fail_msg("%s: error \"%s\", want \"%s\"", c->name, error, c->error);
	} else {
		assert_int_equal(used, input_len(c));
	}
}

/* the table, fed whole */
static void test_table_whole(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
		const char *error = "";
		size_t used;
		int r;

		r = smtp_reply_parse(p, c->input, input_len(c), &used, &error);
		check_case(c, p, r, used, error);
		smtp_reply_parser_free(&p);
		assert_null(p);
	}
}

/* the table, fed one byte at a time: the same outcome */
static void test_table_bytewise(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
		const char *error = "";
		size_t used = 0, total = 0, n = input_len(c);
		int r = SMTP_REPLY_MORE;

		while (total < n) {
			r = smtp_reply_parse(p, c->input + total, 1, &used, &error);
			total += used;
			if (r != SMTP_REPLY_MORE)
				break;
			assert_int_equal(used, 1);
		}
		check_case(c, p, r, total, error);
		smtp_reply_parser_free(&p);
	}
}

/* pipelined replies in one buffer come out one by one, in order */
static void test_pipelined(void **state)
{
	static const char in[] = "250 2.1.0 sender ok\r\n550 5.1.1 no\r\n"
				 "451 4.3.0 later\r\n354 go ahead\r\n";
	static const struct {
		int code;
		const char *status;
	} want[] = {{250, "2.1.0"}, {550, "5.1.1"}, {451, "4.3.0"}, {354, "3.0.0"}};
	struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
	const char *error;
	size_t off = 0, used;

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(smtp_reply_parse(p, in + off, strlen(in) - off, &used, &error),
				 SMTP_REPLY_DONE);
		off += used;
		assert_int_equal(smtp_reply_parser_reply(p)->code, want[i].code);
		assert_string_equal(smtp_reply_parser_reply(p)->status, want[i].status);
	}
	assert_int_equal(off, strlen(in));
	smtp_reply_parser_free(&p);
}

/* a megabyte line keeps line_keep bytes and marks the reply truncated */
static void test_overlong_line(void **state)
{
	size_t n = 1024 * 1024;
	char *in = xmalloc(n + 16);
	struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
	const struct smtp_reply *r;
	const char *error;
	size_t used, off = 0;
	int res = SMTP_REPLY_MORE;

	memcpy(in, "550 5.7.1 ", 10);
	memset(in + 10, 'x', n - 10);
	memcpy(in + n, "\r\n", 2);
	/* In 4 KiB reads, as from a socket. */
	while (off < n + 2) {
		size_t chunk = n + 2 - off < 4096 ? n + 2 - off : 4096;

		res = smtp_reply_parse(p, in + off, chunk, &used, &error);
		off += used;
		if (res != SMTP_REPLY_MORE)
			break;
	}
	assert_int_equal(res, SMTP_REPLY_DONE);
	r = smtp_reply_parser_reply(p);
	assert_int_equal(r->code, 550);
	assert_string_equal(r->status, "5.7.1");
	assert_true(r->truncated);
	assert_int_equal(r->text.len, SMTP_REPLY_LINE_KEEP);
	assert_int_equal(r->text.data[SMTP_REPLY_LINE_KEEP - 1], 'x');
	smtp_reply_parser_free(&p);
	free(in);
}

/* a line of exactly line_keep bytes plus CRLF is not truncated */
static void test_line_at_limit(void **state)
{
	struct smtp_reply_limits lim = {.line_keep = 8, .max_lines = 10, .max_text = 100,
					.max_raw = 1000};
	struct smtp_reply_parser *p = smtp_reply_parser_create(&lim);
	const char *error;
	size_t used;

	assert_int_equal(smtp_reply_parse(p, "250 abcd\r\n", 10, &used, &error), SMTP_REPLY_DONE);
	assert_false(smtp_reply_parser_reply(p)->truncated);
	assert_string_equal(smtp_reply_parser_reply(p)->text.data, "250 abcd");
	assert_int_equal(smtp_reply_parse(p, "250 abcde\r\n", 11, &used, &error), SMTP_REPLY_DONE);
	assert_true(smtp_reply_parser_reply(p)->truncated);
	assert_string_equal(smtp_reply_parser_reply(p)->text.data, "250 abcd");
	smtp_reply_parser_free(&p);
}

/* an endless multi-line reply is an error after max_lines lines */
static void test_too_many_lines(void **state)
{
	struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
	const char *error = NULL;
	size_t used, lines = 0;
	int r;

	do {
		r = smtp_reply_parse(p, "250-more\r\n", 10, &used, &error);
		lines++;
	} while (r == SMTP_REPLY_MORE && lines < 100000);
	assert_int_equal(r, SMTP_REPLY_ERROR);
	assert_int_equal(lines, SMTP_REPLY_MAX_LINES + 1);
	assert_non_null(strstr(error, "too many lines"));
	/* The error sticks until reset. */
	assert_int_equal(smtp_reply_parse(p, "250 ok\r\n", 8, &used, &error), SMTP_REPLY_ERROR);
	smtp_reply_parser_reset(p);
	assert_int_equal(smtp_reply_parse(p, "250 ok\r\n", 8, &used, &error), SMTP_REPLY_DONE);
	smtp_reply_parser_free(&p);
}

/* long lines fill the text limit before the line limit */
static void test_text_limit(void **state)
{
	struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
	char line[2000];
	const char *error = NULL;
	size_t used, lines = 0;
	int r;

	memset(line, 'y', sizeof(line));
	memcpy(line, "250-", 4);
	line[sizeof(line) - 1] = '\n';
	do {
		r = smtp_reply_parse(p, line, sizeof(line), &used, &error);
		lines++;
	} while (r == SMTP_REPLY_MORE && lines < 1000);
	assert_int_equal(r, SMTP_REPLY_ERROR);
	assert_non_null(strstr(error, "text too long"));
	assert_true(lines * sizeof(line) <= SMTP_REPLY_MAX_TEXT + 2 * sizeof(line));
	smtp_reply_parser_free(&p);
}

/* a valid start followed by endless bytes without a line end stops at max_raw */
static void test_endless_line(void **state)
{
	struct smtp_reply_limits lim = {.line_keep = 100, .max_lines = 10, .max_text = 1000,
					.max_raw = 100000};
	struct smtp_reply_parser *p = smtp_reply_parser_create(&lim);
	char chunk[4096];
	const char *error = NULL;
	size_t used, total = 0;
	int r;

	memset(chunk, 'z', sizeof(chunk));
	assert_int_equal(smtp_reply_parse(p, "220 ", 4, &used, &error), SMTP_REPLY_MORE);
	do {
		r = smtp_reply_parse(p, chunk, sizeof(chunk), &used, &error);
		total += used;
	} while (r == SMTP_REPLY_MORE && total < 10 * lim.max_raw);
	assert_int_equal(r, SMTP_REPLY_ERROR);
	assert_non_null(strstr(error, "too long"));
	assert_true(total <= lim.max_raw);
	smtp_reply_parser_free(&p);
}

/* random bytes, mostly reply-like, in random chunk sizes: never a crash,
 * every outcome one of the three, and DONE only for well-formed replies */
static void test_random_input(void **state)
{
	static const char alphabet[] = "0123456789 -\r\n250-452 5.1.1xyz\n\n\0";
	uint32_t x = 123456789u;
	char in[512];

	for (int round = 0; round < 3000; round++) {
		struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
		size_t len, off = 0, used;
		const char *error;
		int r = SMTP_REPLY_MORE;

		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		len = x % sizeof(in);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			in[i] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		while (off < len && r != SMTP_REPLY_ERROR) {
			size_t chunk = 1 + x % 7;

			if (chunk > len - off)
				chunk = len - off;
			r = smtp_reply_parse(p, in + off, chunk, &used, &error);
			assert_true(used <= chunk);
			off += used;
			if (r == SMTP_REPLY_DONE) {
				const struct smtp_reply *rep = smtp_reply_parser_reply(p);

				assert_true(rep->code >= 200 && rep->code <= 599);
				assert_true(rep->lines >= 1);
				assert_int_equal(rep->status[0], '0' + rep->code / 100);
				assert_int_equal(strlen(rep->text.data), rep->text.len);
			} else if (r == SMTP_REPLY_MORE) {
				assert_int_equal(used, chunk);
			}
		}
		smtp_reply_parser_free(&p);
	}
}

/* oneline joins the lines with spaces */
static void test_oneline(void **state)
{
	struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);
	struct buf *out = buf_create(16);
	const char *error;
	size_t used;

	assert_int_equal(smtp_reply_parse(p, "550-5.1.1 a\r\n550 5.1.1 b\r\n", 26, &used, &error),
			 SMTP_REPLY_DONE);
	buf_puts(out, "said: ");
	assert_string_equal(smtp_reply_oneline(smtp_reply_parser_reply(p), out),
			    "said: 550-5.1.1 a 550 5.1.1 b");
	buf_free(&out);
	smtp_reply_parser_free(&p);
}

/* oneline cleans what it copies: no control bytes, only valid UTF-8 */
static void test_oneline_clean(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{"550 plain text\r\n", "550 plain text"},
		{"550 bell\a esc\033[31m del\177\r\n", "550 bell? esc?[31m del?"},
		{"550 tab\there\r\n", "550 tab?here"},
		{"550 bare CR\rinside\r\n", "550 bare CR?inside"},
		{"550-one\r\n550 two\r\n", "550-one 550 two"},
		{"550 caf\303\251 \342\202\254\r\n", "550 caf\303\251 \342\202\254"},
		{"550 latin1 caf\351\r\n", "550 latin1 caf?"},
		{"550 cut \342\202\r\n", "550 cut ??"},
		{"550 overlong \300\257\r\n", "550 overlong ??"},
		{"550 surrogate \355\240\200\r\n", "550 surrogate ???"},
		{"550 big \364\220\200\200\r\n", "550 big ????"},
		{"550 back\\slash\r\n", "550 back\\slash"},
	};
	struct buf *out = buf_create(16);
	const char *error;
	size_t used;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct smtp_reply_parser *p = smtp_reply_parser_create(NULL);

		assert_int_equal(smtp_reply_parse(p, rows[i].in, strlen(rows[i].in), &used, &error),
				 SMTP_REPLY_DONE);
		buf_reset(out);
		if (strcmp(smtp_reply_oneline(smtp_reply_parser_reply(p), out), rows[i].want) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, buf_str(out), rows[i].want);
		smtp_reply_parser_free(&p);
	}
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_whole),
		cmocka_unit_test(test_table_bytewise),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_line_at_limit),
		cmocka_unit_test(test_too_many_lines),
		cmocka_unit_test(test_text_limit),
		cmocka_unit_test(test_endless_line),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test(test_oneline),
		cmocka_unit_test(test_oneline_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
