/*
 * test_counters - the shared event counters: additions from two processes
 * (a parent and a forked child) meet in one file; names that are too long
 * are dropped; a full table drops new names but keeps counting old ones; a
 * file that is not a counters file is refused; a missing file makes adds
 * silent no-ops; counters_create replaces an old file with a zeroed one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/counters.h"
#include "global/params.h"

static char dir[] = "/tmp/test_counters.XXXXXX";
static char path[256];

struct seen {
	char name[COUNTERS_NAME_MAX + 1];
	uint64_t value;
};

struct seen_list {
	struct seen v[COUNTERS_SLOTS + 8];
	int n;
};

static void collect(void *ctx, const char *name, uint64_t value)
{
	struct seen_list *l = ctx;

	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
	l->v[l->n++].value = value;
}

/* get - the value read back for name; -1 when absent */
static long long get(const char *name)
{
	static struct seen_list l;
	const char *error;

	l.n = 0;
	assert_int_equal(counters_read(path, collect, &l, &error), 0);
	for (int i = 0; i < l.n; i++)
		if (strcmp(l.v[i].name, name) == 0)
			return (long long)l.v[i].value;
	return -1;
}

static int setup(void **state)
{
	const char *error;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pid", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	var_queue_directory = dir;
	var_process_id_directory = "pid";
	snprintf(path, sizeof(path), "%s/pid/counters", dir);
	assert_int_equal(counters_create(path, getuid(), getgid(), &error), 0);
	counters_reset_for_test();
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	counters_reset_for_test();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_path(void **state)
{
	char *p = counters_path();

	assert_string_equal(p, path);
	free(p);
}

/* Rows: name, times added, amount per add, expected reading (-1: absent). */
static const struct {
	const char *name;
	int times;
	uint64_t each;
	long long want;
} add_rows[] = {
	{"sluice_smtpd_connects_total", 3, 1, 3},
	{"sluice_smtpd_rejects_total{stage=\"RCPT\",code=\"554\"}", 2, 1, 2},
	{"sluice_smtpd_rejects_total{stage=\"RCPT\",code=\"450\"}", 1, 5, 5},
	{"sluice_received_messages_total{source=\"pickup\"}", 0, 1, -1},
};

static void test_add_and_read(void **state)
{
	char long_name[COUNTERS_NAME_MAX + 2];

	/* One byte more than fits: dropped; exactly the limit: kept. */
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	counters_add(long_name, 1);
	assert_int_equal(get(long_name), -1);
	long_name[COUNTERS_NAME_MAX] = 0;
	counters_add(long_name, 1);
	assert_int_equal(get(long_name), 1);
	for (size_t r = 0; r < sizeof(add_rows) / sizeof(add_rows[0]); r++)
		for (int i = 0; i < add_rows[r].times; i++)
			counters_add(add_rows[r].name, add_rows[r].each);
	for (size_t r = 0; r < sizeof(add_rows) / sizeof(add_rows[0]); r++)
		assert_int_equal(get(add_rows[r].name), add_rows[r].want);
}

static void test_two_processes(void **state)
{
	pid_t pid;
	int status;

	counters_add("sluice_shared_total", 1);
	if ((pid = fork()) == 0) {
		counters_reset_for_test();	/* a process of its own mapping */
		for (int i = 0; i < 1000; i++)
			counters_add("sluice_shared_total", 1);
		counters_add("sluice_child_only_total", 7);
		_exit(0);
	}
	for (int i = 0; i < 1000; i++)
		counters_add("sluice_shared_total", 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(get("sluice_shared_total"), 2001);
	assert_int_equal(get("sluice_child_only_total"), 7);
}

static void test_full_table(void **state)
{
	char name[64];
	int named = 0;

	/* Earlier tests named a few slots; fill the rest and try one more. */
	for (int i = 0; i < COUNTERS_SLOTS + 10; i++) {
		snprintf(name, sizeof(name), "sluice_fill_%d_total", i);
		counters_add(name, 1);
		if (get(name) == 1)
			named++;
	}
	assert_true(named > COUNTERS_SLOTS - 20 && named < COUNTERS_SLOTS);
	/* Old names still count. */
	counters_add("sluice_shared_total", 1);
	assert_int_equal(get("sluice_shared_total"), 2002);
}

static void test_recreate_zeroes(void **state)
{
	const char *error;

	assert_int_equal(counters_create(path, getuid(), getgid(), &error), 0);
	assert_int_equal(get("sluice_shared_total"), -1);
	/* This process still maps the old file: reopen, as a new process would. */
	counters_reset_for_test();
	counters_add("sluice_shared_total", 4);
	assert_int_equal(get("sluice_shared_total"), 4);
}

static void test_bad_and_missing_files(void **state)
{
	char other[300];
	const char *error;
	FILE *fp;

	snprintf(other, sizeof(other), "%s/not-counters", dir);
	fp = fopen(other, "w");
	fputs("hello\n", fp);
	fclose(fp);
	assert_int_equal(counters_read(other, collect, NULL, &error), -1);
	assert_non_null(strstr(error, "size of"));
	snprintf(other, sizeof(other), "%s/missing", dir);
	assert_int_equal(counters_read(other, collect, NULL, &error), -1);
	assert_non_null(strstr(error, "No such file"));
	/* No file at all: adds are silent no-ops. */
	unlink(path);
	counters_reset_for_test();
	counters_add("sluice_nowhere_total", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_add_and_read),
		cmocka_unit_test(test_two_processes),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_recreate_zeroes),
		cmocka_unit_test(test_bad_and_missing_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
