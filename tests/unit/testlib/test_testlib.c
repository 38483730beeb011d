/*
 * test_testlib - the shared test helpers: rmtree removes a whole tree but
 * never what a symbolic link inside it points at, empty_tree keeps the
 * folders, count_files counts at any depth, the configuration writers
 * write exactly the text, and a queue directory has its folders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/conf_line.h"
#include "testlib.h"
#include "util/mem.h"

/* exists - does path exist (without following a last link)? */
static int exists(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel);
	struct stat st;
	int rc = lstat(path, &st) == 0;

	free(path);
	return rc;
}

/* mk - make dir/rel as a folder (trailing "/") or a file */
static void mk(const char *dir, const char *rel)
{
	char *path = xasprintf("%s/%s", dir, rel);
	size_t n = strlen(path);

	if (path[n - 1] == '/') {
		path[n - 1] = 0;
		assert_int_equal(mkdir(path, 0700), 0);
	} else {
		testlib_write_file(dir, rel, "x");
	}
	free(path);
}

static void test_trees(void **state)
{
	static const char *const tree[] = {"a/", "a/b/", "a/b/c/", "a/f1", "a/b/f2", "a/b/c/f3",
		"top", NULL};
	char *dir = testlib_tmpdir("test_testlib"), *outside = testlib_tmpdir("test_testlib_out");
	char *link_path = xasprintf("%s/a/b/link", dir);

	for (const char *const *t = tree; *t; t++)
		mk(dir, *t);
	testlib_write_file(outside, "keep", "kept\n");
	assert_int_equal(symlink(outside, link_path), 0);

	/* Files at every depth, the link counted as a file, not walked into. */
	assert_int_equal(testlib_count_files(dir), 5);
	assert_int_equal(testlib_empty_tree(dir), 0);
	assert_int_equal(testlib_count_files(dir), 0);
	assert_true(exists(dir, "a/b/c"));
	assert_true(exists(outside, "keep"));

	for (const char *const *t = tree; *t; t++)
		if ((*t)[strlen(*t) - 1] != '/')
			mk(dir, *t);
	assert_int_equal(symlink(outside, link_path), 0);
	assert_int_equal(testlib_rmtree(dir), 0);
	assert_false(exists(dir, ""));
	assert_true(exists(outside, "keep"));
	assert_int_equal(testlib_rmtree(dir), 0);		/* already gone */
	assert_int_equal(testlib_count_files(dir), -1);

	assert_int_equal(testlib_rmtree(outside), 0);
	free(link_path);
	free(outside);
	free(dir);
}

static void test_config_files(void **state)
{
	char *dir = testlib_tmpdir("test_testlib"), *path, *text;

	testlib_main_cf(dir, "queue_directory = %s/q\nx = %d\n", dir, 7);
	path = xasprintf("%s/main.cf", dir);
	assert_int_equal(conf_file_read(path, &text), 0);
	free(path);
	path = xasprintf("queue_directory = %s/q\nx = 7\n", dir);
	assert_string_equal(text, path);
	free(text);
	free(path);

	testlib_master_cf(dir, "smtp unix - - n - - smtp\n");
	assert_true(exists(dir, "master.cf"));
	testlib_master_cf(dir, NULL);
	assert_false(exists(dir, "master.cf"));
	testlib_master_cf(dir, NULL);				/* absent is fine */
	assert_int_equal(testlib_rmtree(dir), 0);
	free(dir);
}

static void test_queue(void **state)
{
	static const char *const folders[] = {"maildrop", "incoming", "active", "deferred",
		"hold", "corrupt", "bounce", "defer", "trace", "public", "private", NULL};
	char *dir = testlib_queue_tmp("test_testlib");

	for (const char *const *f = folders; *f; f++)
		assert_true(exists(dir, *f));
	assert_int_equal(testlib_count_files(dir), 0);
	assert_int_equal(testlib_rmtree(dir), 0);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trees),
		cmocka_unit_test(test_config_files),
		cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
