/*
 * test_argv - growable NULL-terminated string arrays (util/argv.h).
 *
 * Pins: argv_split drops empty fields whatever the delimiters, copies each
 * field, keeps argv[argc] == NULL through growth; argv_add takes any number
 * of strings up to its NULL sentinel; argv_addn copies exactly n bytes;
 * argv_find is exact and finds the first match; argv_free clears the pointer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/argv.h"

#define MAXF 32

/* check_fields - a holds exactly want[] (NULL-terminated), then NULL */
static void check_fields(const struct argv *a, const char *const *want, const char *label)
{
	size_t n = 0;

	while (want[n])
		n++;
	if (a->argc != n)
		fail_msg("%s: %zu fields, want %zu", label, a->argc, n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->argv[i], want[i]) != 0)
			fail_msg("%s: field %zu is \"%s\", want \"%s\"", label, i,
				 a->argv[i], want[i]);
	assert_null(a->argv[a->argc]);
	assert_true(a->cap > a->argc);
}

/* split: delimiters, empty fields and growth */
static void test_split(void **state)
{
	static const struct {
		const char *s;
		const char *delims;
		const char *want[MAXF];
	} rows[] = {
		{"", " ", {NULL}},
		{"   ", " ", {NULL}},
		{",,,", ", ", {NULL}},
		{"a", " ", {"a", NULL}},
		{"a b c", " ", {"a", "b", "c", NULL}},
		{"  a  b  ", " ", {"a", "b", NULL}},
		{",,a,,b,,", ", ", {"a", "b", NULL}},
		{"a, b ,c", ", ", {"a", "b", "c", NULL}},
		{"a\tb\nc\r\nd", " \t\r\n", {"a", "b", "c", "d", NULL}},
		{"no delimiters here", "", {"no delimiters here", NULL}},
		{"x=y=z", "=", {"x", "y", "z", NULL}},
		{"key = value", "= ", {"key", "value", NULL}},
		{"\xc3\xa9t\xc3\xa9 caf\xc3\xa9", " ", {"\xc3\xa9t\xc3\xa9", "caf\xc3\xa9", NULL}},
		/* more fields than the initial capacity (8) */
		{"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", " ",
		 {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
		  "14", "15", "16", "17", "18", "19", "20", NULL}},
		/* exactly the capacity boundary: 7 and 8 fields */
		{"a b c d e f g", " ", {"a", "b", "c", "d", "e", "f", "g", NULL}},
		{"a b c d e f g h", " ", {"a", "b", "c", "d", "e", "f", "g", "h", NULL}},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct argv *a = argv_split(rows[i].s, rows[i].delims);
		char label[64];

		snprintf(label, sizeof(label), "row %zu", i);
		check_fields(a, rows[i].want, label);
		/* fields are copies, not pointers into the input */
		for (size_t k = 0; k < a->argc; k++)
			assert_false(a->argv[k] >= rows[i].s
				     && a->argv[k] < rows[i].s + strlen(rows[i].s) + 1);
		argv_free(&a);
		assert_null(a);
	}
}

/* add, addn, find */
static void test_add_find(void **state)
{
	static const struct {
		const char *s;
		long want;
	} finds[] = {
		{"alpha", 0},
		{"beta", 1},
		{"Beta", -1},		/* exact, case matters */
		{"bet", -1},		/* no prefix match */
		{"gamma", 2},		/* first of two */
		{"", 4},		/* the empty string is a value like any other */
		{"ab", 5},		/* from argv_addn: 2 bytes of "abc" */
		{"abc", -1},
		{"missing", -1},
	};
	struct argv *a = argv_create();
	const char *want[] = {"alpha", "beta", "gamma", "gamma", "", "ab", "x\0", NULL};

	check_fields(a, (const char *[]){NULL}, "empty");
	argv_add(a, "alpha", "beta", (char *)NULL);
	argv_add(a, (char *)NULL);		/* nothing */
	argv_add(a, "gamma", "gamma", "", (char *)NULL);
	argv_addn(a, "abc", 2);
	argv_addn(a, "x\0y", 2);		/* n bytes even past a NUL */
	want[6] = "x";
	check_fields(a, want, "added");
	for (size_t i = 0; i < sizeof(finds) / sizeof(finds[0]); i++)
		if (argv_find(a, finds[i].s) != finds[i].want)
			fail_msg("find \"%s\": %ld, want %ld", finds[i].s,
				 argv_find(a, finds[i].s), finds[i].want);

	/* many single adds keep the array terminated at every step */
	for (int i = 0; i < 1000; i++) {
		char s[16];

		snprintf(s, sizeof(s), "n%d", i);
		argv_add(a, s, (char *)NULL);
		assert_null(a->argv[a->argc]);
		assert_string_equal(a->argv[a->argc - 1], s);
	}
	assert_int_equal(a->argc, 1007);
	assert_int_equal(argv_find(a, "n999"), 1006);
	argv_free(&a);
	assert_null(a);
	argv_free(&a);				/* NULL is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_add_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
