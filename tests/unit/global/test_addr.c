/*
 * test_addr - address syntax: path parsing (brackets, null, source routes,
 * quoting, domain case), quoting round trips, next hops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/addr.h"

#define BARE	ADDR_PATH_BARE
#define NUL_OK	ADDR_PATH_NULL_OK
#define UNQ	ADDR_PATH_UNQUALIFIED

static const struct {
	const char *in;
	int flags;
	const char *want;	/* NULL: must fail */
} path_tests[] = {
	{"<user@example.com>", 0, "user@example.com"},
	{"<User@EXAMPLE.Com>", 0, "User@example.com"},
	{"  <a@b.test>  ", 0, "a@b.test"},
	{"a@b.test", 0, NULL},			/* brackets required */
	{"a@b.test", BARE, "a@b.test"},
	{"<a@b.test>", BARE, "a@b.test"},
	{"<>", 0, NULL},			/* null not allowed */
	{"<>", NUL_OK, ""},
	{"", BARE | NUL_OK, ""},
	{"", BARE, NULL},
	{"<@relay.test,@r2.test:u@x.test>", 0, "u@x.test"},
	{"<@relay.test:u@x.test>", 0, "u@x.test"},
	{"<@relay.test u@x.test>", 0, NULL},
	{"<\"john doe\"@x.test>", 0, "john doe@x.test"},
	{"<\"a\\\"b\"@x.test>", 0, "a\"b@x.test"},
	{"<\"a@b\"@X.TEST>", 0, "a@b@x.test"},
	{"<\"\"@x.test>", 0, "@x.test"},
	{"<\"\">", UNQ | NUL_OK, NULL},	/* not the null address */
	{"<\"a@b.test\">", UNQ, NULL},	/* a local part, no address at b.test */
	{"<u@[a@b.test]>", 0, NULL},		/* '@' would move the split */
	{"<\"unterminated@x.test>", 0, NULL},
	{"<first.last@x.test>", 0, "first.last@x.test"},
	{"<first..last@x.test>", 0, NULL},
	{".a@x.test", BARE, NULL},
	{"a.@x.test", BARE, NULL},
	{"<a b@x.test>", 0, NULL},
	{"<a@x.test", 0, NULL},
	{"<a@x.test> junk", 0, NULL},
	{"<a@[127.0.0.1]>", 0, "a@[127.0.0.1]"},
	{"<a@[IPv6:::1]>", 0, "a@[ipv6:::1]"},
	{"<a@[]>", 0, NULL},
	{"<a@x..test>", 0, NULL},
	{"<a@.x.test>", 0, NULL},
	{"<a@x.test.>", 0, NULL},
	{"<a@my_host.test>", 0, "a@my_host.test"},
	{"<a@x!.test>", 0, NULL},
	{"<a@>", 0, NULL},
	{"<root>", 0, NULL},			/* no domain */
	{"<root>", UNQ, "root"},
	{"root", BARE | UNQ, "root"},
	{"a\tb@x.test", BARE, NULL},
	{"<a\x01@x.test>", 0, NULL},
	{"<\"a\x01\"@x.test>", 0, NULL},
	{"<j\xc3\xb6rg@b\xc3\xbc" "cher.test>", 0, "j\xc3\xb6rg@b\xc3\xbc" "cher.test"},
	{"<o'neil+tag=x@x.test>", 0, "o'neil+tag=x@x.test"},
};

/* path parsing table */
static void test_parse_path(void **state)
{
	for (size_t i = 0; i < sizeof(path_tests) / sizeof(path_tests[0]); i++) {
		char *got = NULL;
		const char *err = NULL;
		int r = addr_parse_path(path_tests[i].in, path_tests[i].flags, &got, &err);

		if (path_tests[i].want == NULL) {
			if (r != -1)
				fail_msg("row %zu \"%s\": accepted as \"%s\"", i, path_tests[i].in, got);
			assert_non_null(err);
		} else {
			if (r != 0)
				fail_msg("row %zu \"%s\": %s", i, path_tests[i].in, err);
			assert_string_equal(got, path_tests[i].want);
		}
		free(got);
	}
}

/* a very long local part or domain is refused */
static void test_limits(void **state)
{
	char text[ADDR_MAX + 64];
	char *got = NULL;
	const char *err;

	memset(text, 'a', ADDR_LOCAL_MAX + 1);
	strcpy(text + ADDR_LOCAL_MAX + 1, "@x.test");
	assert_int_equal(addr_parse_path(text, BARE, &got, &err), -1);
	memset(text, 'a', ADDR_LOCAL_MAX);
	strcpy(text + ADDR_LOCAL_MAX, "@x.test");
	assert_int_equal(addr_parse_path(text, BARE, &got, &err), 0);
	free(got);
	/* a 64-character label is too long */
	snprintf(text, sizeof(text), "a@%0*d.test", 64, 0);
	assert_int_equal(addr_parse_path(text, BARE, &got, &err), -1);
}

static const struct {
	const char *internal;
	const char *external;
} quote_tests[] = {
	{"user@x.test", "user@x.test"},
	{"john doe@x.test", "\"john doe\"@x.test"},
	{"a\"b@x.test", "\"a\\\"b\"@x.test"},
	{"a\\b@x.test", "\"a\\\\b\"@x.test"},
	{"a@b@x.test", "\"a@b\"@x.test"},
	{"first..last@x.test", "\"first..last\"@x.test"},
	{".x@x.test", "\".x\"@x.test"},
	{"@x.test", "\"\"@x.test"},
	{"root", "root"},
	{"root user", "\"root user\""},
	{"", ""},
};

/* quoting, and unquoting gives back the internal form */
static void test_quote_roundtrip(void **state)
{
	for (size_t i = 0; i < sizeof(quote_tests) / sizeof(quote_tests[0]); i++) {
		char *ext = addr_quote(quote_tests[i].internal);
		char *back = NULL;
		const char *err = NULL;

		assert_string_equal(ext, quote_tests[i].external);
		if (addr_unquote(ext, &back, &err) != 0)
			fail_msg("row %zu: unquote \"%s\": %s", i, ext, err);
		assert_string_equal(back, quote_tests[i].internal);
		free(ext);
		free(back);
	}
}

/* domain helpers */
static void test_domain(void **state)
{
	char a[] = "Mixed.Case@Example.COM";
	char b[] = "\"x@Y\"@Z.TEST";
	char *q;

	assert_string_equal(addr_lower_domain(a), "Mixed.Case@example.com");
	assert_string_equal(addr_domain(a), "example.com");
	assert_string_equal(addr_lower_domain(b), "\"x@Y\"@z.test");
	assert_null(addr_domain("root"));
	assert_true(addr_valid_domain("a-b.c_d.test"));
	assert_true(addr_valid_domain("[10.0.0.1]"));
	assert_false(addr_valid_domain("a b.test"));
	assert_false(addr_valid_domain(""));
	q = addr_qualify("root", "example.org");
	assert_string_equal(q, "root@example.org");
	free(q);
	q = addr_qualify("a@b.test", "example.org");
	assert_string_equal(q, "a@b.test");
	free(q);
	q = addr_qualify("", "example.org");
	assert_string_equal(q, "");
	free(q);
}

static const struct {
	const char *in;
	const char *host;	/* NULL: must fail */
	int port;
	bool mx;
} nexthop_tests[] = {
	{"[mx.example.com]:2525", "mx.example.com", 2525, false},
	{"[MX.Example.com]", "mx.example.com", 0, false},
	{"[127.0.0.1]:25", "127.0.0.1", 25, false},
	{"[::1]:2525", "::1", 2525, false},
	{"[ipv6:2001:db8::1]", "2001:db8::1", 0, false},
	{"example.com", "example.com", 0, true},
	{"Example.com:587", "example.com", 587, true},
	{"example.com:smtp", "example.com", 25, true},
	{"[host.test]:0", NULL, 0, false},
	{"[host.test]:65536", NULL, 0, false},
	{"[host.test]:no-such-service-x", NULL, 0, false},
	{"[host.test", NULL, 0, false},
	{"[host.test]x", NULL, 0, false},
	{"2001:db8::1", NULL, 0, false},
	{"", NULL, 0, false},
	{"[]:25", NULL, 0, false},
	{"bad host:25", NULL, 0, false},
	{"::1", NULL, 0, false},
};

/* next hop syntax */
static void test_nexthop(void **state)
{
	for (size_t i = 0; i < sizeof(nexthop_tests) / sizeof(nexthop_tests[0]); i++) {
		char *host = NULL;
		int port = -1;
		bool mx = false;
		const char *err = NULL;
		int r = addr_parse_nexthop(nexthop_tests[i].in, &host, &port, &mx, &err);

		if (nexthop_tests[i].host == NULL) {
			if (r != -1)
				fail_msg("row %zu \"%s\": accepted", i, nexthop_tests[i].in);
			assert_non_null(err);
			continue;
		}
		if (r != 0)
			fail_msg("row %zu \"%s\": %s", i, nexthop_tests[i].in, err);
		assert_string_equal(host, nexthop_tests[i].host);
		assert_int_equal(port, nexthop_tests[i].port);
		assert_int_equal(mx, nexthop_tests[i].mx);
		free(host);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_quote_roundtrip),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_nexthop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
