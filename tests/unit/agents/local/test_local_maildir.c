/*
 * test_local_maildir - unique names (host escaping, fields), folder
 * creation, delivery into new/ with nothing left in tmp/, and failures that
 * leave no file behind and keep errno.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agents/local/local_maildir.h"
#include "testlib.h"
#include "util/buf.h"

struct name_case {
	double now;
	long pid;
	unsigned long count;
	const char *host;
	const char *want;
};

static const struct name_case name_cases[] = {
	{1764331200.25, 4321, 1, "mx.example.test", "1764331200.M250000P4321Q1.mx.example.test"},
	{1764331200.0, 7, 12, "a/b:c", "1764331200.M000000P7Q12.a\\057b\\072c"},
	{5.999999, 1, 2, "", "5.M999999P1Q2.localhost"},
	{5.5, 1, 3, NULL, "5.M500000P1Q3.localhost"},
};

/* names */
static void test_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];
		char *got = maildir_unique_name(c->now, c->pid, c->count, c->host);

		assert_string_equal(got, c->want);
		free(got);
	}
}

/* count_entries - files in a folder, not counting . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* write_text - the write function: ctx is the text; "FAIL" fails with EDQUOT */
static int write_text(int fd, void *ctx)
{
	const char *text = ctx;

	if (strcmp(text, "FAIL") == 0) {
		(void)!write(fd, "partial", 7);
		errno = EDQUOT;
		return -1;
	}
	return write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
}

/* slurp - whole file */
static char *slurp(const char *path)
{
	static char data[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	assert_true(n >= 0);
	data[n] = 0;
	return data;
}

/* delivery into a new nested Maildir, twice */
static void test_deliver(void **state)
{
	char *base = testlib_tmpdir("sluice-test-maildir"), dir[256], sub[300];
	struct buf *why = buf_create(64);
	char *path1 = NULL, *path2 = NULL;
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/deep/joe", base);
	assert_int_equal(maildir_deliver(dir, true, "h", write_text, "Subject: 1\n\nhi\n",
					 &path1, why), 0);
	assert_int_equal(maildir_deliver(dir, false, "h", write_text, "Subject: 2\n\nho\n",
					 &path2, why), 0);
	assert_string_not_equal(path1, path2);
	assert_string_equal(slurp(path1), "Subject: 1\n\nhi\n");
	assert_string_equal(slurp(path2), "Subject: 2\n\nho\n");
	assert_int_equal(stat(path1, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(sub, sizeof(sub), "%s/new", dir);
	assert_int_equal(count_entries(sub), 2);
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	assert_int_equal(count_entries(sub), 0);
	snprintf(sub, sizeof(sub), "%s/cur", dir);
	assert_int_equal(count_entries(sub), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* A failing write leaves nothing behind and keeps its errno. */
	buf_reset(why);
	assert_int_equal(maildir_deliver(dir, false, "h", write_text, "FAIL", NULL, why), -1);
	assert_int_equal(errno, EDQUOT);
	assert_non_null(strstr(buf_str(why), "write maildir file"));
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	assert_int_equal(count_entries(sub), 0);
	snprintf(sub, sizeof(sub), "%s/new", dir);
	assert_int_equal(count_entries(sub), 2);

	/* Without create, a missing Maildir is an error (ENOENT). */
	buf_reset(why);
	snprintf(sub, sizeof(sub), "%s/nobody", base);
	assert_int_equal(maildir_deliver(sub, false, "h", write_text, "x", NULL, why), -1);
	assert_int_equal(errno, ENOENT);

	/* A file where a folder should be. */
	buf_reset(why);
	snprintf(sub, sizeof(sub), "%s/plain", base);
	close(open(sub, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(maildir_create(sub, true, why), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_non_null(strstr(buf_str(why), "create maildir folder"));

	free(path1);
	free(path2);
	buf_free(&why);
	assert_int_equal(testlib_rmtree(base), 0);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_deliver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
