/*
 * test_maps - lookup tables: texthash files (comments, continuations,
 * case-folded keys, duplicates, errors with file and line), inline tables
 * (Postfix syntax, braces, the bare-word extension, errors), and lists of
 * tables searched in order.
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

#include "global/maps.h"
#include "testlib.h"
#include "util/buf.h"
#include "util/mem.h"

static char *scratch_dir;

/* subst - tmpl with every "%s" replaced by dir. Caller frees. */
static char *subst(const char *tmpl, const char *dir)
{
	struct buf *b = buf_create(256);
	const char *cp;
	char *s;

	while ((cp = strstr(tmpl, "%s")) != NULL) {
		buf_append(b, tmpl, (size_t)(cp - tmpl));
		buf_puts(b, dir);
		tmpl = cp + 2;
	}
	buf_puts(b, tmpl);
	s = buf_steal(b);
	buf_free(&b);
	return s;
}

/* file - write a table file; returns its path (caller frees) */
static char *file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", scratch_dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* lookups: spec list, key, expected value (NULL: not found) */
static void test_lookups(void **state)
{
	char *t1 = file("t1", "# transport table\nKey1 v1\n  cont\n# c\nkey2\tv2 v3\n\n"
			"KEY1 dup\nexample.com smtp:[127.0.0.1]:2525\n.example.com relay:x\n");
	char *t2 = file("t2", "key2 from-t2\nonly2 yes\n");
	char *list = xasprintf("texthash:%s, texthash:%s", t1, t2);
	char *rlist = xasprintf("texthash:%s texthash:%s", t2, t1);
	char *mixed = xasprintf("inline:{ key2=inline },texthash:%s", t1);
	const struct {
		const char *spec;
		const char *key;
		const char *want;
	} rows[] = {
		{list, "key1", "v1  cont"},
		{list, "KEY1", "v1  cont"},
		{list, "Key2", "v2 v3"},
		{list, "only2", "yes"},
		{list, "example.com", "smtp:[127.0.0.1]:2525"},
		{list, ".EXAMPLE.com", "relay:x"},
		{list, "missing", NULL},
		{rlist, "key2", "from-t2"},
		{mixed, "key2", "inline"},
		{mixed, "key1", "v1  cont"},
		{"inline:{ a.test=smtp:[127.0.0.1]:2525, b=error:5.1.1 nope }", "a.test",
		 "smtp:[127.0.0.1]:2525"},
		{"inline:{ a.test=smtp:[127.0.0.1]:2525, b=error:5.1.1 nope }", "B",
		 "error:5.1.1 nope"},
		{"inline:{ {c = x, y }, d=1 }", "c", "x, y"},
		{"inline:{ {c = x, y }, d=1 }", "d", "1"},
		{"inline:{ {c = x, y } more, d=1 }", "c", "x, y more"},
		{"inline:{a=1,b=2}", "b", "2"},
		{"inline:{ a=, b=2 }", "a", ""},
		{"inline:{ a=1 a=2 }", "a", "1"},
		{"inline:{}", "a", NULL},
		{"", "a", NULL},
		{"  ,  ", "a", NULL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *error = NULL;
		struct maps *m = maps_open(rows[i].spec, &error);
		const char *v;

		if (m == NULL)
			fail_msg("row %zu: %s", i, error);
		v = maps_find(m, rows[i].key);
		if (rows[i].want == NULL)
			assert_null(v);
		else if (v == NULL || strcmp(v, rows[i].want) != 0)
			fail_msg("row %zu: %s = \"%s\", want \"%s\"", i, rows[i].key,
				 v ? v : "(null)", rows[i].want);
		assert_string_equal(maps_spec(m), rows[i].spec);
		maps_free(&m);
		assert_null(m);
	}
	free(t1);
	free(t2);
	free(list);
	free(rlist);
	free(mixed);
}

/* errors: the exact text, "%s" standing for the scratch folder */
static void test_errors(void **state)
{
	char *bad1 = file("bad1", "ok value\n\n# c\nnovalue\n");
	char *bad2 = file("bad2", "  leading\n");
	char *bad3 = file("bad3", "ok value\n");
	const struct {
		const char *spec;
		const char *error;
	} rows[] = {
		{"texthash:%s/bad1", "%s/bad1:4: expected format: key whitespace value"},
		{"texthash:%s/bad2",
		 "%s/bad2:1: line starts with white space, but there is no entry to continue"},
		{"texthash:%s/missing", "open %s/missing: No such file or directory"},
		{"texthash:%s/bad3, texthash:%s/missing", "open %s/missing: No such file or directory"},
		{"texthash:relative/path", "texthash:relative/path: the table must be an absolute "
		 "path name"},
		{"nis:mail.aliases", "nis:mail.aliases: unsupported lookup table type \"nis\" "
		 "(sluice has hash, btree, lmdb, cdb, texthash, inline, static, regexp, pcre, "
		 "unionmap, pipemap, unix)"},
		{"/etc/aliases", "/etc/aliases: missing table type (need type:name, e.g. "
		 "hash:/etc/aliases; types: hash, btree, lmdb, cdb, texthash, inline, static, "
		 "regexp, pcre, unionmap, pipemap, unix)"},
		{"hash:relative", "hash:relative: the table must be an absolute path name"},
		{"hash:%s/missing", "open %s/missing.db: No such file or directory"},
		{"inline:a=b", "inline:a=b: need \"inline:{name=value, ...}\""},
		{"inline:{ c }", "inline:{ c }: missing '=' in \"c\"; need \"inline:{name=value, ...}\""},
		{"inline:{ a = }", "inline:{ a = }: missing '=' in \"a\"; need "
		 "\"inline:{name=value, ...}\""},
		{"inline:{ a=1, b }", "inline:{ a=1, b }: missing '=' in \"b\"; need "
		 "\"inline:{name=value, ...}\""},
		{"inline:{ =x }", "inline:{ =x }: missing name before '=' in \"=x\""},
		{"inline:{ {a=b }", "inline:{ {a=b }: missing '}'"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *spec = subst(rows[i].spec, scratch_dir);
		char *want = subst(rows[i].error, scratch_dir);
		const char *error = NULL;
		struct maps *m = maps_open(spec, &error);

		if (m != NULL)
			fail_msg("row %zu: %s opened", i, spec);
		assert_string_equal(error, want);
		free(spec);
		free(want);
	}
	free(bad1);
	free(bad2);
	free(bad3);
}

static int setup(void **state)
{
	scratch_dir = testlib_tmpdir("test_maps");
	return 0;
}

static int teardown(void **state)
{
	if (testlib_rmtree(scratch_dir) != 0)
		fprintf(stderr, "cannot remove %s\n", scratch_dir);
	free(scratch_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
