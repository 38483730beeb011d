/*
 * test_rfc822_rewrite - the header address-list rewriter: only the
 * addr-specs that change are replaced, everything else (display names,
 * comments, groups, quoted strings with commas, encoded words, folds,
 * malformed elements) stays byte for byte.
 *
 * The rewriting function of the tests is a small masquerade: a domain
 * "*.host.test" becomes "host.test", an address without a domain gets
 * "@origin.test", "old@x.test" becomes the quoted "new, local@x.test", and
 * anything else is left alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/rfc822.h"
#include "util/buf.h"
#include "util/mem.h"

/* rewrite - the test's rewriting (see the top of the file) */
static char *rewrite(void *ctx, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t len = strlen(addr);
	int *calls = ctx;

	(*calls)++;
	if (at == NULL)
		return xasprintf("%s@origin.test", addr);
	if (strcmp(addr, "old@x.test") == 0)
		return xstrdup("new, local@x.test");
	if (len > 10 && strcmp(addr + len - 10, ".host.test") == 0 && at < addr + len - 10)
		return xasprintf("%.*s@host.test", (int)(at - addr), addr);
	return xstrdup(addr);	/* unchanged: same text, nothing replaced */
}

static const struct {
	const char *in;		/* header value */
	const char *want;
	int changed;		/* addresses replaced */
	int calls;		/* well-formed addresses seen */
} tests[] = {
	/* plain and display-name forms */
	{"a@mx.host.test", "a@host.test", 1, 1},
	{"Ann Smith <ann@mx.host.test>", "Ann Smith <ann@host.test>", 1, 1},
	{"\"Smith, Ann\" <ann@mx.host.test>, bob@other.test",
	 "\"Smith, Ann\" <ann@host.test>, bob@other.test", 1, 2},
	{"bob@other.test", "bob@other.test", 0, 1},
	/* unqualified: @origin.test */
	{"bob", "bob@origin.test", 1, 1},
	{"Bob <bob>, carol (the boss)", "Bob <bob@origin.test>, carol@origin.test (the boss)", 2, 2},
	/* comments before, after and inside are kept */
	{"(lead) a@mx.host.test (trail)", "(lead) a@host.test (trail)", 1, 1},
	{"a@mx.host.test (a, comment; with <angle> and \"quote\")",
	 "a@host.test (a, comment; with <angle> and \"quote\")", 1, 1},
	{"Ann (nested (comment)) <ann@mx.host.test>", "Ann (nested (comment)) <ann@host.test>", 1, 1},
	/* groups: members rewritten, group syntax kept; empty groups */
	{"friends: a@mx.host.test, Bo <b@y.host.test>;",
	 "friends: a@host.test, Bo <b@host.test>;", 2, 2},
	{"undisclosed-recipients:;", "undisclosed-recipients:;", 0, 0},
	{"team: ;, c@mx.host.test", "team: ;, c@host.test", 1, 1},
	/* quoted local parts, with commas and at signs */
	{"\"smith, john\"@mx.host.test", "\"smith, john\"@host.test", 1, 1},
	{"\"a@b\"@mx.host.test, x@other.test", "\"a@b\"@host.test, x@other.test", 1, 2},
	/* a result that needs quoting is quoted */
	{"Old <old@x.test>", "Old <\"new, local\"@x.test>", 1, 1},
	/* encoded words in the display name */
	{"=?UTF-8?B?w4lyaWM=?= <eric@mx.host.test>", "=?UTF-8?B?w4lyaWM=?= <eric@host.test>", 1, 1},
	{"=?iso-8859-1?q?Andr=E9_P?= <andre@mx.host.test>, =?utf-8?q?x?= <y@z.test>",
	 "=?iso-8859-1?q?Andr=E9_P?= <andre@host.test>, =?utf-8?q?x?= <y@z.test>", 1, 2},
	/* folded lines: the folds stay where they were */
	{"Ann <ann@mx.host.test>,\n\tBob <bob@mx.host.test>,\n carol@other.test",
	 "Ann <ann@host.test>,\n\tBob <bob@host.test>,\n carol@other.test", 2, 3},
	{"Ann\n <ann@mx.host.test>", "Ann\n <ann@host.test>", 1, 1},
	/* source route kept, the address after it rewritten */
	{"<@relay.test,@r2.test:u@mx.host.test>", "<@relay.test,@r2.test:u@host.test>", 1, 1},
	/* domain literal, upper case domain (compared in lower case) */
	{"u@[192.0.2.1]", "u@[192.0.2.1]", 0, 1},
	{"U@MX.HOST.TEST", "U@host.test", 1, 1},
	/* CFWS inside the addr-spec: the whole addr-spec is replaced */
	{"u @ mx.host.test", "u@host.test", 1, 1},
	/* malformed elements are left as they are, the others still rewritten */
	{"a@mx.host.test, <broken, b@mx.host.test", "a@host.test, <broken, b@host.test", 2, 2},
	{"@@@, a@mx.host.test", "@@@, a@host.test", 1, 1},
	{"a@mx.host.test (unterminated", "a@mx.host.test (unterminated", 0, 0},
	{"Ann \"unterminated <a@mx.host.test>", "Ann \"unterminated <a@mx.host.test>", 0, 0},
	/* empty and null addresses */
	{"", "", 0, 0},
	{"<>", "<>", 0, 0},
	{" , ,, ", " , ,, ", 0, 0},
};

/* table-driven rewriting */
static void test_rewrite_table(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 64);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		int calls = 0, changed;

		buf_reset(&out);
		changed = rfc822_addr_list_rewrite(tests[i].in, rewrite, &calls, &out);
		if (strcmp(buf_str(&out), tests[i].want) != 0 || changed != tests[i].changed
		    || calls != tests[i].calls)
			fail_msg("row %zu \"%s\":\n got \"%s\" (%d changed, %d seen)\n"
				 "want \"%s\" (%d changed, %d seen)", i, tests[i].in, buf_str(&out),
				 changed, calls, tests[i].want, tests[i].changed, tests[i].calls);
	}
	buf_deinit(&out);
}

/* a very long header (many addresses, many folds): every one rewritten */
static void test_rewrite_long(void **state)
{
	struct buf in, want, out;
	int calls = 0, changed;

	(void)state;
	buf_init(&in, 1024);
	buf_init(&want, 1024);
	buf_init(&out, 1024);
	for (int i = 0; i < 2000; i++) {
		buf_printf(&in, "%s\"User %d\" <u%d@m%d.host.test>", i ? ",\n\t" : "", i, i, i);
		buf_printf(&want, "%s\"User %d\" <u%d@host.test>", i ? ",\n\t" : "", i, i);
	}
	changed = rfc822_addr_list_rewrite(buf_str(&in), rewrite, &calls, &out);
	assert_int_equal(changed, 2000);
	assert_int_equal(calls, 2000);
	assert_string_equal(buf_str(&out), buf_str(&want));
	buf_deinit(&in);
	buf_deinit(&want);
	buf_deinit(&out);
}

int main(void)
{
	const struct CMUnitTest tests_[] = {
		cmocka_unit_test(test_rewrite_table),
		cmocka_unit_test(test_rewrite_long),
	};

	return cmocka_run_group_tests(tests_, NULL, NULL);
}
