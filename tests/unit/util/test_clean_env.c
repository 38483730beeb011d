/*
 * test_clean_env - import_environment semantics (util/clean_env.h).
 *
 * Pins: only listed names survive; NAME keeps its current value and is
 * skipped when unset; NAME=VALUE sets (also over an existing value, also an
 * empty value); the last entry for a name wins; malformed entries are
 * skipped; an empty list leaves an empty environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/clean_env.h"

#define MAXV 8

extern char **environ;

/* env_sorted - the environment as one sorted "A=1 B=2" string */
static void env_sorted(char *out, size_t size)
{
	size_t n = 0;
	char *list[64];

	for (char **e = environ; e && *e && n < 64; e++)
		list[n++] = *e;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
			char *t = list[j];

			list[j] = list[j - 1];
			list[j - 1] = t;
		}
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(out, " ", size - strlen(out) - 1);
		strncat(out, list[i], size - strlen(out) - 1);
	}
}

static void test_rows(void **state)
{
	static const struct {
		const char *before[MAXV];	/* NAME=VALUE to set first */
		char *keep[MAXV];
		const char *want;
	} rows[] = {
		{{"A=1", "B=2", "C=3"}, {"A", "C"}, "A=1 C=3"},
		{{"A=1"}, {"A", "MISSING"}, "A=1"},
		{{"A=1", "LD_PRELOAD=/x.so"}, {"A"}, "A=1"},
		{{"LANG=en_US.UTF-8"}, {"LANG=C"}, "LANG=C"},
		{{NULL}, {"LANG=C", "TZ"}, "LANG=C"},
		{{"E=1"}, {"E="}, "E="},
		{{"A=1"}, {"A=2", "A"}, "A=1"},
		{{"A=1"}, {"A", "A=2"}, "A=2"},
		{{"A=1", "B=x=y"}, {"B", "", "=z"}, "B=x=y"},
		{{"A=1", "B=2"}, {NULL}, ""},
	};
	char got[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		clearenv();
		for (size_t j = 0; j < MAXV && rows[i].before[j]; j++)
			putenv((char *)rows[i].before[j]);
		clean_env(rows[i].keep);
		env_sorted(got, sizeof(got));
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row %zu: environment \"%s\", want \"%s\"", i, got, rows[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
