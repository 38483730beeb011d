/*
 * test_rfc822 - header helpers: field names, unfolding, address lists
 * (display names, comments, groups, quoting, routes, broken elements),
 * dates and display names for added headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/rfc822.h"
#include "util/argv.h"
#include "util/buf.h"

static const struct {
	const char *line;
	size_t want;
} name_tests[] = {
	{"Subject: hello", 7},
	{"To:a@b", 2},
	{"X-Odd-Name_1: v", 12},
	{"Subject : obsolete space", 7},
	{"Subject\t: tab", 7},
	{"From a@b Mon Nov 28", 0},	/* mbox From_ line */
	{" continued: line", 0},
	{": no name", 0},
	{"no colon at all", 0},
	{"", 0},
	{"Bad Name: x", 0},
	{"Caf\xc3\xa9: x", 0},		/* field names are ASCII */
};

/* field name recognition */
static void test_header_name(void **state)
{
	for (size_t i = 0; i < sizeof(name_tests) / sizeof(name_tests[0]); i++) {
		size_t got = rfc822_header_name_len(name_tests[i].line, strlen(name_tests[i].line));

		if (got != name_tests[i].want)
			fail_msg("row %zu \"%s\": %zu, want %zu", i, name_tests[i].line, got,
				 name_tests[i].want);
	}
	assert_true(rfc822_header_is("bcc: x", "Bcc"));
	assert_true(rfc822_header_is("BCC : x", "bcc"));
	assert_false(rfc822_header_is("Bcc-Extra: x", "Bcc"));
	assert_false(rfc822_header_is("Bc: x", "Bcc"));
	assert_string_equal(rfc822_header_value("To: \t a@b"), "a@b");
	assert_string_equal(rfc822_header_value("To:"), "");
}

static const struct {
	const char *in;
	const char *want;
} unfold_tests[] = {
	{"Subject: one\n two", "Subject: one two"},
	{"Subject: one\r\n\ttwo", "Subject: one\ttwo"},
	{"To: a@b,\n  c@d,\n\te@f", "To: a@b,  c@d,\te@f"},
	{"Subject: no fold", "Subject: no fold"},
	{"Subject: x\n", "Subject: x\n"},	/* a final break is not a fold */
};

/* unfolding */
static void test_unfold(void **state)
{
	for (size_t i = 0; i < sizeof(unfold_tests) / sizeof(unfold_tests[0]); i++) {
		struct buf *b = buf_create(64);

		rfc822_unfold(b, unfold_tests[i].in, strlen(unfold_tests[i].in));
		assert_string_equal(buf_str(b), unfold_tests[i].want);
		buf_free(&b);
	}
}

static const struct {
	const char *value;
	int want_r;		/* return value: count, or -1 */
	const char *want;	/* addresses joined with "|" */
} list_tests[] = {
	{"a@b.test", 1, "a@b.test"},
	{"a@b.test, c@D.TEST", 2, "a@b.test|c@d.test"},
	{"John Doe <john@Example.COM>", 1, "john@example.com"},
	{"\"Doe, John\" <john@x.test>, jane@x.test", 2, "john@x.test|jane@x.test"},
	{"john@x.test (John Doe)", 1, "john@x.test"},
	{"(comment (nested)) john@x.test", 1, "john@x.test"},
	{"john (c) @ (c) x.test", 1, "john@x.test"},
	{"\"john doe\"@x.test", 1, "john doe@x.test"},
	{"\"a\\\"q\"@x.test", 1, "a\"q@x.test"},
	{"undisclosed-recipients:;", 0, ""},
	{"friends: a@x.test, B <b@x.test>;, c@x.test", 3, "a@x.test|b@x.test|c@x.test"},
	{"friends: a@x.test", 1, "a@x.test"},		/* missing ';' tolerated */
	{"<@relay.test,@r2.test:u@x.test>", 1, "u@x.test"},
	{"Mr. J. Smith <js@x.test>", 1, "js@x.test"},	/* obs-phrase with dots */
	{"a@x.test,, ,b@x.test", 2, "a@x.test|b@x.test"},
	{"root", 1, "root"},				/* unqualified */
	{"root, admin@x.test", 2, "root|admin@x.test"},
	{"<>", 0, ""},
	{"a@[127.0.0.1]", 1, "a@[127.0.0.1]"},
	{"a@x.test,\r\n b@x.test", 2, "a@x.test|b@x.test"},
	{"", 0, ""},
	{"   ", 0, ""},
	/* broken elements are skipped, the rest still counts */
	{"John Doe, a@x.test", -1, "a@x.test"},
	{"<a@x.test, b@x.test", -1, "b@x.test"},
	{"a@x..test, b@x.test", -1, "b@x.test"},
	{"\"unterminated <a@x.test>, b@x.test", -1, ""},
	{"a@x.test (unterminated", -1, ""},
	{"x <a@x.test> junk, b@x.test", -1, "b@x.test"},
	{"@x.test", -1, ""},
	{"a@, b@x.test", -1, "b@x.test"},
};

/* address list extraction */
static void test_addr_list(void **state)
{
	for (size_t i = 0; i < sizeof(list_tests) / sizeof(list_tests[0]); i++) {
		struct argv *a = argv_create();
		struct buf *joined = buf_create(64);
		const char *err = NULL;
		int r = rfc822_addr_list(list_tests[i].value, a, &err);

		for (size_t j = 0; j < a->argc; j++) {
			if (j)
				buf_putc(joined, '|');
			buf_puts(joined, a->argv[j]);
		}
		if (r != list_tests[i].want_r || strcmp(buf_str(joined), list_tests[i].want) != 0)
			fail_msg("row %zu \"%s\": r=%d \"%s\", want r=%d \"%s\"", i,
				 list_tests[i].value, r, buf_str(joined), list_tests[i].want_r,
				 list_tests[i].want);
		if (r < 0)
			assert_non_null(err);
		argv_free(&a);
		buf_free(&joined);
	}
}

/* every prefix of a list parses without crashing (run under ASan) */
static void test_addr_list_prefixes(void **state)
{
	const char *text = "\"Q\\\" x\" (c (d)) <@r.test:a@[1.2.3.4]>, g: b@x.test, <c@y>; d";
	char *copy;

	for (size_t n = 0; n <= strlen(text); n++) {
		struct argv *a = argv_create();
		const char *err;

		copy = strndup(text, n);
		(void)rfc822_addr_list(copy, a, &err);
		free(copy);
		argv_free(&a);
	}
}

/* dates look like Postfix's */
static void test_date(void **state)
{
	struct buf *b = buf_create(64);

	setenv("TZ", "UTC", 1);
	tzset();
	rfc822_date(b, 1701165600);	/* 2023-11-28 10:00:00 UTC */
	assert_string_equal(buf_str(b), "Tue, 28 Nov 2023 10:00:00 +0000 (UTC)");
	buf_reset(b);
	rfc822_date(b, 1701424800);	/* 2023-12-01 10:00:00 UTC */
	assert_string_equal(buf_str(b), "Fri,  1 Dec 2023 10:00:00 +0000 (UTC)");
	buf_free(&b);
}

static const struct {
	const char *in;
	const char *want;
} phrase_tests[] = {
	{"John Doe", "John Doe"},
	{"Doe, John", "\"Doe, John\""},
	{"J. Doe", "\"J. Doe\""},
	{"say \"hi\"", "\"say \\\"hi\\\"\""},
	{"evil\nBcc: x@y", "\"evil Bcc: x@y\""},
	{"cr\r\nlf", "\"cr  lf\""},
	{" lead", "\" lead\""},
	{"", "\"\""},
};

/* display names are quoted when needed and never carry a line break */
static void test_phrase(void **state)
{
	for (size_t i = 0; i < sizeof(phrase_tests) / sizeof(phrase_tests[0]); i++) {
		struct buf *b = buf_create(64);

		rfc822_append_phrase(b, phrase_tests[i].in);
		assert_string_equal(buf_str(b), phrase_tests[i].want);
		buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_name),
		cmocka_unit_test(test_unfold),
		cmocka_unit_test(test_addr_list),
		cmocka_unit_test(test_addr_list_prefixes),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_phrase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
