/*
 * test_mail_copy - message copies for mailboxes, files and commands:
 * separator and envelope headers, ">From " quoting, dot-stuffing, line
 * ends, the closing blank line, decisions across chunk boundaries (every
 * case is fed whole and one byte at a time), write failures, flag letters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "global/mail_copy.h"
#include "util/buf.h"

/* sink - collect output in a buf */
static int sink(const void *data, size_t n, void *ctx)
{
	buf_append(ctx, data, n);
	return 0;
}

/* failing_sink - every write fails */
static int failing_sink(const void *data, size_t n, void *ctx)
{
	(void)data;
	(void)n;
	(void)ctx;
	errno = ENOSPC;
	return -1;
}

struct copy_case {
	const char *name;
	int flags;
	const char *eol;
	const char *in;
	const char *want;
};

static const struct copy_case copy_cases[] = {
	{"plain", 0, NULL, "Subject: x\n\nbody\n", "Subject: x\n\nbody\n"},
	{"missing final newline", 0, NULL, "a\nb", "a\nb\n"},
	{"empty", 0, NULL, "", ""},
	{"quote From", MAIL_COPY_QUOTE, NULL,
	 "Subject: x\n\nFrom here\nFrom\nFro\n From x\nFrom: y\n>From z\n",
	 "Subject: x\n\n>From here\nFrom\nFro\n From x\nFrom: y\n>From z\n"},
	{"quote without newline at the end", MAIL_COPY_QUOTE, NULL, "x\nFrom ", "x\n>From \n"},
	{"short tail kept", MAIL_COPY_QUOTE, NULL, "x\nFro", "x\nFro\n"},
	{"dot stuffing", MAIL_COPY_DOT, NULL, ".\n..x\na.b\n.\n", "..\n...x\na.b\n..\n"},
	{"dot and quote", MAIL_COPY_DOT | MAIL_COPY_QUOTE, NULL, ".From x\nFrom x\n.\n",
	 "..From x\n>From x\n..\n"},
	{"blank line", MAIL_COPY_BLANK, NULL, "a\n", "a\n\n"},
	{"blank line after unterminated", MAIL_COPY_BLANK, NULL, "a", "a\n\n"},
	{"crlf", MAIL_COPY_DOT, "\r\n", "a\n.b\n\nc", "a\r\n..b\r\n\r\nc\r\n"},
	{"mbox", MAIL_COPY_QUOTE | MAIL_COPY_BLANK, NULL, "S: 1\n\nFrom me\nbye\n",
	 "S: 1\n\n>From me\nbye\n\n"},
	{"empty lines held", MAIL_COPY_QUOTE, NULL, "\n\n\nFrom \n\n", "\n\n\n>From \n\n"},
};

/* run_copy - copy in chunks of step bytes (0 = whole) */
static void run_copy(const struct copy_case *c, size_t step, struct buf *out)
{
	struct mail_copy mc;
	size_t len = strlen(c->in), off = 0, n;

	buf_reset(out);
	mail_copy_init(&mc, c->flags, c->eol, sink, out);
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		assert_int_equal(mail_copy_data(&mc, c->in + off, n), 0);
		off += n;
	}
	assert_int_equal(mail_copy_end(&mc), 0);
	mail_copy_deinit(&mc);
}

/* content transformations, whole and in pieces */
static void test_content(void **state)
{
	struct buf *out = buf_create(256);

	(void)state;
	for (size_t i = 0; i < sizeof(copy_cases) / sizeof(copy_cases[0]); i++) {
		const struct copy_case *c = &copy_cases[i];
		size_t steps[] = {0, 1, 2, 3, 7};

		for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			run_copy(c, steps[s], out);
			if (strcmp(buf_str(out), c->want) != 0)
				fail_msg("%s (step %zu): got \"%s\", want \"%s\"", c->name,
					 steps[s], buf_str(out), c->want);
		}
	}
	buf_free(&out);
}

/* separator and envelope headers in Postfix's order and shape */
static void test_begin(void **state)
{
	struct buf *out = buf_create(256);
	struct mail_copy mc;
	struct tm tm;
	char want_date[32], want[256];
	time_t when = 1764331200;	/* a fixed moment; printed in local time */

	(void)state;
	localtime_r(&when, &tm);
	strftime(want_date, sizeof(want_date), "%a %b %e %H:%M:%S %Y", &tm);

	mail_copy_init(&mc, MAIL_COPY_MBOX | MAIL_COPY_ENVELOPE, NULL, sink, out);
	assert_int_equal(mail_copy_begin(&mc, "Jo.Sender@Example.test", "Orig@Example.test",
					 "Rcpt+Ext@Example.TEST", when), 0);
	assert_int_equal(mail_copy_data(&mc, "From x\n", 7), 0);
	assert_int_equal(mail_copy_end(&mc), 0);
	snprintf(want, sizeof(want),
		 "From Jo.Sender@Example.test  %s\n"
		 "Return-Path: <Jo.Sender@Example.test>\n"
		 "X-Original-To: Orig@Example.test\n"
		 "Delivered-To: rcpt+ext@example.test\n"
		 ">From x\n\n", want_date);
	assert_string_equal(buf_str(out), want);
	mail_copy_deinit(&mc);

	/* The null sender; local parts that need quotes; no orig_rcpt. */
	buf_reset(out);
	mail_copy_init(&mc, MAIL_COPY_FROM | MAIL_COPY_ENVELOPE, "\r\n", sink, out);
	assert_int_equal(mail_copy_begin(&mc, "", NULL, "john doe@x.test", when), 0);
	assert_int_equal(mail_copy_end(&mc), 0);
	snprintf(want, sizeof(want),
		 "From MAILER-DAEMON  %s\r\n"
		 "Return-Path: <>\r\n"
		 "X-Original-To: \"john doe\"@x.test\r\n"
		 "Delivered-To: \"john doe\"@x.test\r\n", want_date);
	assert_string_equal(buf_str(out), want);
	mail_copy_deinit(&mc);

	/* Only what the flags ask for. */
	buf_reset(out);
	mail_copy_init(&mc, MAIL_COPY_DELIVERED, NULL, sink, out);
	assert_int_equal(mail_copy_begin(&mc, "a@b", "c@d", "E@F", when), 0);
	assert_int_equal(mail_copy_end(&mc), 0);
	assert_string_equal(buf_str(out), "Delivered-To: e@f\n");
	mail_copy_deinit(&mc);
	buf_free(&out);
}

/* a failed write stops the copy and keeps errno */
static void test_write_failure(void **state)
{
	struct mail_copy mc;
	char *big = malloc(200000);

	(void)state;
	memset(big, 'x', 200000);
	mail_copy_init(&mc, 0, NULL, failing_sink, NULL);
	/* Small amounts are buffered; the failure shows at the flush. */
	assert_int_equal(mail_copy_data(&mc, "abc\n", 4), 0);
	assert_int_equal(mail_copy_data(&mc, big, 200000), -1);
	assert_int_equal(mc.err, ENOSPC);
	assert_int_equal(mail_copy_data(&mc, "more", 4), -1);
	assert_int_equal(mail_copy_end(&mc), -1);
	mail_copy_deinit(&mc);
	free(big);
}

/* large content arrives intact in several writes */
static void test_large(void **state)
{
	struct buf *out = buf_create(256);
	struct mail_copy mc;
	char line[100];

	(void)state;
	memset(line, 'y', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	mail_copy_init(&mc, MAIL_COPY_QUOTE, NULL, sink, out);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(mail_copy_data(&mc, line, sizeof(line)), 0);
	assert_int_equal(mail_copy_end(&mc), 0);
	assert_int_equal(out->len, 5000 * sizeof(line));
	assert_int_equal(mc.written, (long long)(5000 * sizeof(line)));
	mail_copy_deinit(&mc);
	buf_free(&out);
}

struct flags_case {
	const char *text;
	const char *pass;
	int want;		/* -1: error */
};

static const struct flags_case flags_cases[] = {
	{"", NULL, 0},
	{"F", NULL, MAIL_COPY_FROM},
	{"DRO", NULL, MAIL_COPY_ENVELOPE},
	{"FR.>B", NULL, MAIL_COPY_FROM | MAIL_COPY_RETURN | MAIL_COPY_DOT | MAIL_COPY_QUOTE
	 | MAIL_COPY_BLANK},
	{"Fhqu", "hquX", MAIL_COPY_FROM},
	{"Fh", NULL, -1},
	{"Z", "hquX", -1},
};

/* pipe(8) flag letters */
static void test_flags(void **state)
{
	const char *error;
	int flags;

	(void)state;
	for (size_t i = 0; i < sizeof(flags_cases) / sizeof(flags_cases[0]); i++) {
		const struct flags_case *c = &flags_cases[i];
		int r = mail_copy_flags_parse(c->text, c->pass, &flags, &error);

		if (c->want < 0) {
			assert_int_equal(r, -1);
			assert_non_null(strstr(error, "unknown flag"));
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(flags, c->want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content),
		cmocka_unit_test(test_begin),
		cmocka_unit_test(test_write_failure),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
