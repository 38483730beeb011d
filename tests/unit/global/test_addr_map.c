/*
 * test_addr_map - the address query order of canonical(5)/virtual(5):
 * full address, without extension, bare user (local domains only),
 * @domain; lower-cased keys; pattern tables asked the full address only;
 * extension propagation; "@otherdomain" results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/addr_map.h"
#include "global/params.h"
#include "testlib.h"
#include "util/mem.h"

static char *scratch_dir;

struct query {
	const char *spec;		/* %s: scratch dir */
	const char *addr;
	int flags;
	int rc;
	const char *result;
};

static const struct query queries[] = {
	/* 1. full address, lower-cased key */
	{"inline:{a@x.test=full}", "A@X.Test", 0, MAPS_FOUND, "full"},
	/* full address beats user and @domain */
	{"inline:{a@x.test=full, @x.test=dom}", "a@x.test", 0, MAPS_FOUND, "full"},
	/* 2. without the extension */
	{"inline:{a@x.test=noext}", "a+tag@x.test", 0, MAPS_FOUND, "noext"},
	{"inline:{a@x.test=noext, a+tag@x.test=ext}", "a+tag@x.test", 0, MAPS_FOUND, "ext"},
	/* propagation into every address of the result */
	{"inline:{{a@x.test = b@y.test, c}}", "a+tag@x.test", ADDR_MAP_PROPAGATE, MAPS_FOUND,
	 "b+tag@y.test, c+tag"},
	{"inline:{a+tag@x.test=b@y.test}", "a+tag@x.test", ADDR_MAP_PROPAGATE, MAPS_FOUND,
	 "b@y.test"},
	/* 3/4. bare user: only for local domains (myorigin, mydestination) */
	{"inline:{a=user}", "a@local.test", 0, MAPS_FOUND, "user"},
	{"inline:{a=user}", "a@origin.test", 0, MAPS_FOUND, "user"},
	{"inline:{a=user}", "a@remote.test", 0, MAPS_NOTFOUND, NULL},
	{"inline:{a=user}", "a+e@local.test", ADDR_MAP_PROPAGATE, MAPS_FOUND, "user+e"},
	{"inline:{a+e=withext, a=user}", "a+e@local.test", 0, MAPS_FOUND, "withext"},
	{"inline:{a=user}", "a", 0, MAPS_FOUND, "user"},
	{"inline:{a=user}", "a+e", 0, MAPS_FOUND, "user"},
	/* user before @domain */
	{"inline:{a=user, @local.test=dom}", "a@local.test", 0, MAPS_FOUND, "user"},
	/* 5. @domain, and "@otherdomain" results keep the local part */
	{"inline:{@x.test=catch@y.test}", "zz@x.test", 0, MAPS_FOUND, "catch@y.test"},
	{"inline:{@x.test=@y.test}", "Zz@x.test", 0, MAPS_FOUND, "Zz@y.test"},
	{"inline:{@x.test=@y.test}", "zz+e@x.test", ADDR_MAP_PROPAGATE, MAPS_FOUND,
	 "zz+e@y.test"},
	{"inline:{@x.test=@y.test}", "zz+e@x.test", 0, MAPS_FOUND, "zz@y.test"},
	{"inline:{@x.test=dom}", "a@sub.x.test", 0, MAPS_NOTFOUND, NULL},
	/* tables in order: the first that has any key of the address answers
	 * per key: key order goes first, then table order */
	{"inline:{@x.test=t1}, inline:{a@x.test=t2}", "a@x.test", 0, MAPS_FOUND, "t2"},
	/* pattern tables: the full address only */
	{"regexp:%s/re", "a+tag@x.test", 0, MAPS_FOUND, "re-a+tag@x.test"},
	{"regexp:%s/re", "q@x.test", 0, MAPS_NOTFOUND, NULL},
	{NULL, NULL, 0, 0, NULL},
};

static char *subst(const char *spec)
{
	const char *p = strstr(spec, "%s");

	if (p == NULL)
		return xstrdup(spec);
	return xasprintf("%.*s%s%s", (int)(p - spec), spec, scratch_dir, p + 2);
}

static void test_queries(void **state)
{
	(void)state;
	for (const struct query *q = queries; q->spec; q++) {
		char *spec = subst(q->spec), *res = NULL;
		const char *err = NULL;
		struct maps *m;
		int rc;

		m = maps_open(spec, &err);
		if (m == NULL)
			fail_msg("%s: %s", spec, err);
		rc = addr_map_lookup(m, q->addr, q->flags, &res, &err);
		if (rc != q->rc)
			fail_msg("%s %s: rc %d, want %d", spec, q->addr, rc, q->rc);
		if (q->result)
			assert_string_equal(res, q->result);
		if (rc == MAPS_ERROR)
			assert_non_null(err);
		free(res);
		maps_free(&m);
		free(spec);
	}
}

static void test_local_domain(void **state)
{
	(void)state;
	assert_true(addr_map_local_domain(""));
	assert_true(addr_map_local_domain("LOCAL.test"));
	assert_true(addr_map_local_domain("origin.test"));
	assert_false(addr_map_local_domain("remote.test"));
	assert_true(addr_map_propagates("virtual"));
	assert_false(addr_map_propagates("alias"));
}

static int setup(void **state)
{
	(void)state;
	scratch_dir = testlib_tmpdir("test_addr_map");
	testlib_write_file(scratch_dir, "re", "/^(a.*)$/ re-$1\n");
	var_myorigin = xstrdup("origin.test");
	var_mydestination = xstrdup("local.test, localhost");
	var_recipient_delimiter = xstrdup("+");
	var_propagate_unmatched_extensions = xstrdup("canonical, virtual");
	return 0;
}

static int teardown(void **state)
{
	int rc = testlib_rmtree(scratch_dir);

	(void)state;
	free(var_myorigin);
	free(var_mydestination);
	free(var_recipient_delimiter);
	free(var_propagate_unmatched_extensions);
	free(scratch_dir);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_local_domain),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
