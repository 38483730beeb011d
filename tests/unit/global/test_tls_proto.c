/*
 * test_tls_proto - Postfix's TLS protocol lists as version ranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "global/tls_proto.h"

enum { V10 = TLS_PROTO_TLSv1, V11 = TLS_PROTO_TLSv1_1, V12 = TLS_PROTO_TLSv1_2,
       V13 = TLS_PROTO_TLSv1_3, BAD = -1 };

static const struct {
	const char *spec;
	int lo, hi;		/* lo BAD: must fail */
	const char *error;
} tests[] = {
	{"", V10, V13, NULL},
	{NULL, V10, V13, NULL},
	{">=TLSv1", V10, V13, NULL},
	{">=TLSv1.2", V12, V13, NULL},
	{"<=TLSv1.2", V10, V12, NULL},
	{"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", V12, V13, NULL},
	{"!SSLv2:!SSLv3:!TLSv1", V11, V13, NULL},
	{"TLSv1.3", V13, V13, NULL},
	{"tlsv1.2 TLSv1.3", V12, V13, NULL},
	{">=TLSv1.3, <=TLSv1.2", BAD, 0, "excludes every protocol"},
	{"TLSv9", BAD, 0, "unknown protocol name"},
	{"!TLSv9", BAD, 0, "unknown protocol name"},
	{">=", BAD, 0, "unknown protocol name"},
};

static void test_ranges(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		const char *error = NULL;
		int lo = -5, hi = -5, rc = tls_proto_range(tests[i].spec, &lo, &hi, &error);

		if (tests[i].lo == BAD) {
			assert_int_equal(rc, -1);
			assert_string_equal(error, tests[i].error);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(lo, tests[i].lo);
			assert_int_equal(hi, tests[i].hi);
		}
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(tls_proto_name(V10), "TLSv1");
	assert_string_equal(tls_proto_name(V13), "TLSv1.3");
	assert_string_equal(tls_proto_name(9), "?");
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
