/*
 * test_split_addr - where the address extension starts, for single and
 * multiple delimiters and the mailing-list names that are never split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "global/split_addr.h"

struct split_case {
	const char *localpart;
	const char *delims;
	size_t want;
};

static const struct split_case split_cases[] = {
	{"user+ext", "+", 4},
	{"user+ext+more", "+", 4},
	{"user", "+", 4},
	{"user+ext", "", 8},
	{"user+ext", NULL, 8},
	{"+ext", "+", 4},
	{"user-ext", "+-", 4},
	{"a+b-c", "-+", 1},
	{"owner-list", "-", 10},
	{"OWNER-list", "+-", 10},
	{"list-request", "-", 12},
	{"list-Request", "-", 12},
	{"owner-list", "+", 10},
	{"owner+x", "+", 5},
	{"user-name+x", "+", 9},
};

/* the split table */
static void test_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];
		size_t got = split_addr_ext(c->localpart, c->delims);

		if (got != c->want)
			fail_msg("\"%s\" with \"%s\": got %zu, want %zu", c->localpart,
				 c->delims ? c->delims : "(null)", got, c->want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
