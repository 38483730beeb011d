/*
 * test_strutil - the small string helpers the parsers share
 * (util/strutil.h).
 *
 * Pins: str_token walks tokens in place and keeps returning NULL at the end;
 * str_trim strips white space at both ends; str_lower touches ASCII letters
 * only; str_to_long accepts a whole decimal string within [min,max] and
 * nothing else (white space, garbage, overflow, hex); str_casecmp_ascii
 * folds ASCII only and orders by folded bytes; str_list_match is a
 * case-insensitive whole-word match in a comma/space list.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/mem.h"
#include "util/strutil.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* str_token: tokens in order, then NULL, and NULL again */
static void test_token(void **state)
{
	static const struct {
		const char *s;
		const char *delims;
		const char *want[8];
	} rows[] = {
		{"", " ", {NULL}},
		{"   ", " ", {NULL}},
		{"a", " ", {"a", NULL}},
		{"a b", " ", {"a", "b", NULL}},
		{"  a  ", " ", {"a", NULL}},
		{"a,,b, c", ", ", {"a", "b", "c", NULL}},
		{"x\ty\n", " \t\n", {"x", "y", NULL}},
		{"abc", "", {"abc", NULL}},
		{"one=two", "=", {"one", "two", NULL}},
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		char *copy = xstrdup(rows[i].s), *cp = copy, *tok;
		size_t k = 0;

		while ((tok = str_token(&cp, rows[i].delims)) != NULL) {
			if (rows[i].want[k] == NULL)
				fail_msg("row %zu: extra token \"%s\"", i, tok);
			assert_string_equal(tok, rows[i].want[k]);
			/* in place: the token lives in the caller's string */
			assert_true(tok >= copy && tok < copy + strlen(rows[i].s) + 1);
			k++;
		}
		if (rows[i].want[k] != NULL)
			fail_msg("row %zu: missing token \"%s\"", i, rows[i].want[k]);
		assert_null(str_token(&cp, rows[i].delims));
		assert_null(str_token(&cp, rows[i].delims));
		free(copy);
	}
}

/* str_trim and str_lower, in place */
static void test_trim_lower(void **state)
{
	static const struct {
		const char *s;
		const char *want_trim;
		const char *want_lower;
	} rows[] = {
		{"", "", ""},
		{"   ", "", "   "},
		{"x", "x", "x"},
		{"  x  ", "x", "  x  "},
		{"\t a b \r\n", "a b", "\t a b \r\n"},
		{"\v\fMiXeD\v\f", "MiXeD", "\v\fmixed\v\f"},
		{"ABC def 123-_@[`{", "ABC def 123-_@[`{", "abc def 123-_@[`{"},
		{"\xc4\xd6 Z", "\xc4\xd6 Z", "\xc4\xd6 z"},	/* non-ASCII untouched */
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		char *t = xstrdup(rows[i].s), *l = xstrdup(rows[i].s), *r;

		r = str_trim(t);
		assert_string_equal(r, rows[i].want_trim);
		assert_true(r >= t && r <= t + strlen(rows[i].s));
		assert_ptr_equal(str_lower(l), l);
		assert_string_equal(l, rows[i].want_lower);
		free(t);
		free(l);
	}
}

/* str_has_prefix, str_has_suffix, str_is_digits */
static void test_predicates(void **state)
{
	static const struct {
		const char *s, *affix;
		bool prefix, suffix;
	} affixes[] = {
		{"", "", true, true},
		{"abc", "", true, true},
		{"abc", "a", true, false},
		{"abc", "c", false, true},
		{"abc", "abc", true, true},
		{"abc", "abcd", false, false},
		{"", "a", false, false},
		{"smtp_bind", "smtp_", true, false},
		{"a.test", ".test", false, true},
		{"ABC", "abc", false, false},	/* case matters */
	};
	static const struct {
		const char *s;
		bool want;
	} digits[] = {
		{"", false}, {"0", true}, {"0123456789", true}, {"12a", false},
		{" 1", false}, {"1 ", false}, {"-1", false}, {"+1", false},
		{"1.5", false}, {"\xd9\xa3", false},
	};

	for (size_t i = 0; i < NROWS(affixes); i++) {
		if (str_has_prefix(affixes[i].s, affixes[i].affix) != affixes[i].prefix)
			fail_msg("prefix \"%s\" of \"%s\"", affixes[i].affix, affixes[i].s);
		if (str_has_suffix(affixes[i].s, affixes[i].affix) != affixes[i].suffix)
			fail_msg("suffix \"%s\" of \"%s\"", affixes[i].affix, affixes[i].s);
	}
	for (size_t i = 0; i < NROWS(digits); i++)
		if (str_is_digits(digits[i].s) != digits[i].want)
			fail_msg("digits \"%s\": want %d", digits[i].s, digits[i].want);
}

/* str_to_long: whole string, decimal, bounds */
static void test_to_long(void **state)
{
	static const struct {
		const char *s;
		long min, max;
		int want_rc;
		long want;
	} rows[] = {
		{"0", 0, 10, 0, 0},
		{"10", 0, 10, 0, 10},
		{"11", 0, 10, -1, 0},
		{"-1", 0, 10, -1, 0},
		{"-5", -10, 10, 0, -5},
		{"-10", -10, 10, 0, -10},
		{"-11", -10, 10, -1, 0},
		{"007", 0, 100, 0, 7},			/* decimal, not octal */
		{"08", 0, 100, 0, 8},
		{"", 0, 10, -1, 0},
		{" 5", 0, 10, -1, 0},
		{"\t5", 0, 10, -1, 0},
		{"5 ", 0, 10, -1, 0},
		{"5\n", 0, 10, -1, 0},
		{"5x", 0, 10, -1, 0},
		{"x5", 0, 10, -1, 0},
		{"0x10", 0, 100, -1, 0},		/* no hex */
		{"1e3", 0, 10000, -1, 0},
		{"1.0", 0, 10, -1, 0},
		{"-", LONG_MIN, LONG_MAX, -1, 0},
		{"+", LONG_MIN, LONG_MAX, -1, 0},
		{"--1", LONG_MIN, LONG_MAX, -1, 0},
		{"abc", LONG_MIN, LONG_MAX, -1, 0},
		{"9223372036854775807", LONG_MIN, LONG_MAX, 0, LONG_MAX},
		{"9223372036854775808", LONG_MIN, LONG_MAX, -1, 0},	/* ERANGE */
		{"-9223372036854775808", LONG_MIN, LONG_MAX, 0, LONG_MIN},
		{"-9223372036854775809", LONG_MIN, LONG_MAX, -1, 0},
		{"99999999999999999999999", LONG_MIN, LONG_MAX, -1, 0},
		{"5", 5, 5, 0, 5},
		{"5", 6, 4, -1, 0},			/* empty range */
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		long v = 4242;
		int rc = str_to_long(rows[i].s, rows[i].min, rows[i].max, &v);

		if (rc != rows[i].want_rc)
			fail_msg("\"%s\" in [%ld,%ld]: rc %d, want %d", rows[i].s,
				 rows[i].min, rows[i].max, rc, rows[i].want_rc);
		if (rc == 0 && v != rows[i].want)
			fail_msg("\"%s\": %ld, want %ld", rows[i].s, v, rows[i].want);
	}
}

/* sign - -1, 0 or 1 */
static int sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

/* str_casecmp_ascii: ASCII folding only, ordered by the folded bytes */
static void test_casecmp(void **state)
{
	static const struct {
		const char *a, *b;
		int want;	/* sign */
	} rows[] = {
		{"", "", 0},
		{"abc", "ABC", 0},
		{"MiXeD", "mIxEd", 0},
		{"a", "b", -1},
		{"B", "a", 1},
		{"abc", "abcd", -1},
		{"abcd", "ABC", 1},
		{"", "a", -1},
		{"_", "A", -1},			/* '_' < 'a' once 'A' is folded */
		{"[", "a", -1},
		{"@", "`", -1},			/* neighbours of the letter ranges */
		{"\xe4", "\xc4", 1},		/* Latin-1 a/A umlaut: not folded */
		{"\xc4", "\xe4", -1},
		{"\x80", "a", 1},		/* bytes compare unsigned */
		{"Z", "z", 0},
		{"z", "{", -1},
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		int have = sign(str_casecmp_ascii(rows[i].a, rows[i].b));
		int back = sign(str_casecmp_ascii(rows[i].b, rows[i].a));

		if (have != rows[i].want || back != -rows[i].want)
			fail_msg("row %zu \"%s\" vs \"%s\": %d/%d, want %d", i,
				 rows[i].a, rows[i].b, have, back, rows[i].want);
	}
}

/* str_list_match: whole words, any case, comma or white space between */
static void test_list_match(void **state)
{
	static const struct {
		const char *list, *word;
		bool want;
	} rows[] = {
		{"a, b c", "b", true},
		{"a, b c", "c", true},
		{"a,b", "A", true},
		{"BOUNCE", "bounce", true},
		{"ab", "a", false},
		{"a", "ab", false},
		{"", "a", false},
		{"", "", false},
		{"a,,b", "", false},		/* empty fields are not words */
		{" , ", "", false},
		{"bounce,2bounce", "bounce", true},
		{"2bounce", "bounce", false},
		{"resource, software", "soft", false},
		{"x\ty\nz", "z", true},
		{"x\r\ny", "y", true},
		{",,,delay,,,", "delay", true},
		{"policy protocol", "protocol", true},
		{"policy;protocol", "protocol", false},	/* ';' is not a separator */
	};

	for (size_t i = 0; i < NROWS(rows); i++)
		if (str_list_match(rows[i].list, rows[i].word) != rows[i].want)
			fail_msg("\"%s\" in \"%s\": want %d", rows[i].word, rows[i].list,
				 rows[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_trim_lower),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_to_long),
		cmocka_unit_test(test_casecmp),
		cmocka_unit_test(test_list_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
