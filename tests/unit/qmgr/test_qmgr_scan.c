/*
 * test_qmgr_scan - the queue manager's scans: the deferred due-time index
 * (only what is due, in due order), full passes (at start, on A, after
 * deferred_rescan_time), SCAN_ALL, and a request during a pass making the
 * pass run again.  Real folders and files, a fake clock (qmgr_now).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "qmgr.h"
#include "testlib.h"

double qmgr_now;		/* the fake clock */

static char *dir;

/* setup - a queue directory and a configuration pointing at it */
static int setup(void **state)
{
	const char *error = NULL;

	dir = testlib_tmpdir("test_qmgr_scan");
	testlib_main_cf(dir, "queue_directory = %s/spool\ndeferred_rescan_time = 3600s\n", dir);
	if (mail_conf_read(dir, &error) < 0)
		fail_msg("%s", error);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
	assert_int_equal(queue_dirs_create(var_queue_directory, &error), 0);
	return 0;
}

/* teardown - remove everything */
static int teardown(void **state)
{
	int rc = testlib_rmtree(dir);

	free(dir);
	return rc;
}

/* make_file - an (empty) deferred file named like a queue ID, due at due */
static void make_file(const char *queue, long sec, long usec, unsigned long ino, double due,
		      char id_r[QUEUE_ID_SIZE])
{
	struct timeval tv[2] = {{(time_t)due, 0}, {(time_t)due, 0}};
	char *path;
	FILE *fp;

	queue_id_format(id_r, sec, usec, ino);
	assert_int_equal(queue_hash_mkdirs(var_queue_directory, queue, id_r), 0);
	path = queue_path(var_queue_directory, queue, id_r);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_int_equal(utimes(path, tv), 0);
	free(path);
}

/* drain - every ID the scan yields now, in order, joined by spaces */
static char *drain(struct qmgr_scan *scan, int *flags_r)
{
	static char out[4096];
	const char *id;
	int flags = 0;

	out[0] = 0;
	while ((id = qmgr_scan_next(scan, &flags)) != NULL) {
		if (out[0])
			strcat(out, " ");
		strcat(out, id);
		if (flags_r)
			*flags_r = flags;
	}
	return out;
}

/* test_deferred_index - full pass at start, then only what is due */
static void test_deferred_index(void **state)
{
	struct qmgr_scan *scan = qmgr_scan_create("deferred", true);
	char past[QUEUE_ID_SIZE], soon[QUEUE_ID_SIZE], later[QUEUE_ID_SIZE],
	     sneaky[QUEUE_ID_SIZE], want[256];

	qmgr_now = 1000000;
	make_file("deferred", 999000, 1, 11, qmgr_now - 50, past);
	make_file("deferred", 999000, 2, 12, qmgr_now + 600, later);
	make_file("deferred", 999000, 3, 13, qmgr_now + 300, soon);

	/* First pass lists the folder: yields what is due, indexes the rest. */
	qmgr_scan_request(scan, QMGR_SCAN_START);
	assert_string_equal(drain(scan, NULL), past);
	assert_false(qmgr_scan_running(scan));
	assert_int_equal(qmgr_defer_index_size(), 2);

	/* A file appearing behind our back is not seen by index passes ... */
	make_file("deferred", 999000, 4, 14, qmgr_now - 10, sneaky);
	qmgr_now += 301;
	qmgr_scan_request(scan, QMGR_SCAN_START);
	assert_string_equal(drain(scan, NULL), soon);
	qmgr_now += 300;
	qmgr_scan_request(scan, QMGR_SCAN_START);
	assert_string_equal(drain(scan, NULL), later);
	qmgr_scan_request(scan, QMGR_SCAN_START);
	assert_string_equal(drain(scan, NULL), "");

	/* ... until deferred_rescan_time has passed: a full pass finds it. */
	qmgr_now += 3600;
	qmgr_scan_request(scan, QMGR_SCAN_START);
	snprintf(want, sizeof(want), "%s", drain(scan, NULL));
	assert_non_null(strstr(want, sneaky));
	qmgr_scan_free(&scan);
}

/* test_index_order - due order, whatever the insertion order */
static void test_index_order(void **state)
{
	struct qmgr_scan *scan = qmgr_scan_create("deferred", true);
	static const double due[] = {50, 10, 40, 20, 30, 70, 60};
	char want[512] = "", id[QUEUE_ID_SIZE];

	qmgr_now = 2000000;
	qmgr_scan_request(scan, QMGR_SCAN_START);	/* the start-up full pass */
	(void)drain(scan, NULL);
	for (size_t i = 0; i < sizeof(due) / sizeof(due[0]); i++) {
		snprintf(id, sizeof(id), "ID%02d", (int)due[i]);
		qmgr_defer_index_add(id, qmgr_now + due[i]);
	}
	qmgr_now += 45;
	qmgr_scan_request(scan, QMGR_SCAN_START);
	assert_string_equal(drain(scan, NULL), "ID10 ID20 ID30 ID40");
	qmgr_now += 100;
	qmgr_scan_request(scan, QMGR_SCAN_START);
	assert_string_equal(drain(scan, NULL), "ID50 ID60 ID70");
	(void)want;
	qmgr_scan_free(&scan);
}

/* test_scan_all - A: everything, due or not, in a full pass */
static void test_scan_all(void **state)
{
	struct qmgr_scan *scan = qmgr_scan_create("deferred", true);
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE];
	const char *got;
	int flags = 0;

	qmgr_now = 3000000;
	qmgr_scan_request(scan, QMGR_SCAN_START);
	(void)drain(scan, NULL);
	make_file("deferred", 2999000, 5, 21, qmgr_now + 1000, a);
	make_file("deferred", 2999000, 6, 22, qmgr_now + 2000, b);
	qmgr_scan_request(scan, QMGR_SCAN_ALL | QMGR_SCAN_START);
	got = drain(scan, &flags);
	assert_non_null(strstr(got, a));
	assert_non_null(strstr(got, b));
	assert_true(flags & QMGR_SCAN_ALL);
	qmgr_scan_free(&scan);
}

/* test_restart_during_scan - a request during a pass runs it again */
static void test_restart_during_scan(void **state)
{
	struct qmgr_scan *scan = qmgr_scan_create("incoming", false);
	char x[QUEUE_ID_SIZE], y[QUEUE_ID_SIZE];
	const char *id;
	int flags, n;

	qmgr_now = 4000000;
	make_file("incoming", 3999000, 7, 31, qmgr_now, x);
	make_file("incoming", 3999000, 8, 32, qmgr_now, y);
	qmgr_scan_request(scan, QMGR_SCAN_START);
	assert_non_null(qmgr_scan_next(scan, &flags));
	/* Requests while it runs collapse into ONE more pass. */
	for (int i = 0; i < 100; i++)
		qmgr_scan_request(scan, QMGR_SCAN_START);
	for (n = 1; (id = qmgr_scan_next(scan, &flags)) != NULL; n++)
		;
	assert_int_equal(n, 4);		/* 2 files, twice */
	assert_false(qmgr_scan_running(scan));
	qmgr_scan_free(&scan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deferred_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_during_scan, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
