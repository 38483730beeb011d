/*
 * test_bounce_append - the one function through which agents and the
 * queue manager record a permanent failure: bounce log and "bounced", or
 * under soft_bounce the defer log, a 4.x.y status and Postfix's
 * "status=SOFTBOUNCE" line.  Table-driven: each row is one call.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/bounce_append.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "testlib.h"
#include "util/log.h"
#include "util/mem.h"

#define ID	"4XbZ1q2w3e"

static char *tmp_root, *queue_dir, *log_path;

/* setup - a configuration, a queue and a log file under a temporary folder */
static int setup(void **state)
{
	const char *error;
	int fd;

	tmp_root = testlib_tmpdir("test_bounce_append");
	queue_dir = xasprintf("%s/spool", tmp_root);
	assert_int_equal(mkdir(queue_dir, 0700), 0);
	testlib_main_cf(tmp_root, "queue_directory = %s\nmaillog_file = -\n", queue_dir);
	if (mail_conf_read(tmp_root, &error) < 0)
		fail_msg("main.cf: %s", error);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
	if (queue_dirs_create(queue_dir, &error) < 0)
		fail_msg("queue_dirs_create: %s", error);
	log_path = xasprintf("%s/maillog", tmp_root);
	assert_true((fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0);
	log_set_fd(fd);
	return 0;
}

/* teardown - remove it all */
static int teardown(void **state)
{
	assert_int_equal(testlib_rmtree(tmp_root), 0);
	XFREE(tmp_root);
	XFREE(queue_dir);
	XFREE(log_path);
	return 0;
}

/* last_log_line - the last line written to the log */
static char *last_log_line(void)
{
	FILE *fp = fopen(log_path, "r");
	char line[4096], *last = NULL;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		free(last);
		last = xstrdup(line);
	}
	fclose(fp);
	assert_non_null(last);
	return last;
}

/* remove_logs - forget what the previous row left */
static void remove_logs(void)
{
	assert_int_equal(status_log_remove(queue_dir, STATUS_LOG_BOUNCE, ID), 0);
	assert_int_equal(status_log_remove(queue_dir, STATUS_LOG_DEFER, ID), 0);
	assert_int_equal(status_log_remove(queue_dir, STATUS_LOG_TRACE, ID), 0);
}

static void test_rows(void **state)
{
	static const struct {
		bool soft, trace;
		const char *status_in;
		int want;			/* BOUNCE_APPEND_* */
		const char *want_log;		/* where the record went */
		const char *want_status;	/* in the record and the log line */
		const char *want_action;
		const char *want_word;		/* status= in the log line */
	} rows[] = {
		{false, false, "5.1.1", BOUNCE_APPEND_BOUNCED, STATUS_LOG_BOUNCE, "5.1.1", "failed",
		 "bounced"},
		{false, true, "5.7.1", BOUNCE_APPEND_BOUNCED, STATUS_LOG_BOUNCE, "5.7.1", "failed",
		 "bounced"},
		{true, false, "5.1.1", BOUNCE_APPEND_DEFERRED, STATUS_LOG_DEFER, "4.1.1", "delayed",
		 "SOFTBOUNCE"},
		{true, true, "5.3.4", BOUNCE_APPEND_DEFERRED, STATUS_LOG_DEFER, "4.3.4", "delayed",
		 "SOFTBOUNCE"},
		/* Not a bounce status (a hostile server's?): taken as 5.0.0. */
		{false, false, "4.4.1", BOUNCE_APPEND_BOUNCED, STATUS_LOG_BOUNCE, "5.0.0", "failed",
		 "bounced"},
		{true, false, "2.0.0", BOUNCE_APPEND_DEFERRED, STATUS_LOG_DEFER, "4.0.0", "delayed",
		 "SOFTBOUNCE"},
	};
	const char *reason = "host mx.test[192.0.2.1] said: 550 5.1.1 <u@x.test>: User unknown "
			     "(in reply to RCPT TO command)";

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rcpt_status st = {.recipient = "u@x.test", .orig_rcpt = "", .offset = 99,
					 .dsn_orcpt = "", .time = 1700000000};
		struct bounce_append_log lg = {.relay = "mx.test[192.0.2.1]:25", .delay = 3};
		struct rcpt_status_rec *recs;
		const char *other, *error;
		char *line, want[128];

		remove_logs();
		var_soft_bounce = rows[i].soft;
		snprintf(st.dsn.status, sizeof(st.dsn.status), "%s", rows[i].status_in);
		st.dsn.action = "whatever";
		st.dsn.reason = reason;
		st.dsn.diag_type = "smtp";
		st.dsn.diag_text = "550 5.1.1 <u@x.test>: User unknown";
		if (bounce_append(ID, &st, rows[i].trace, &lg, &error) != rows[i].want)
			fail_msg("row %zu: want %d", i, rows[i].want);

		/* The record, in the right log, with the remote reply kept. */
		assert_int_equal(status_log_read(queue_dir, rows[i].want_log, ID, &recs, &error), 1);
		assert_string_equal(recs[0].status, rows[i].want_status);
		assert_string_equal(recs[0].action, rows[i].want_action);
		assert_string_equal(recs[0].reason, reason);
		assert_string_equal(recs[0].diag_text, "550 5.1.1 <u@x.test>: User unknown");
		status_log_free(&recs, 1);
		other = strcmp(rows[i].want_log, STATUS_LOG_BOUNCE) == 0 ? STATUS_LOG_DEFER
									: STATUS_LOG_BOUNCE;
		assert_int_equal(status_log_exists(queue_dir, other, ID), 0);
		assert_int_equal(status_log_exists(queue_dir, STATUS_LOG_TRACE, ID), rows[i].trace);

		/* The log line: Postfix's shape, the reason with its 5xx text. */
		line = last_log_line();
		snprintf(want, sizeof(want), ", dsn=%s, status=%s (", rows[i].want_status,
			 rows[i].want_word);
		if (strstr(line, want) == NULL || strstr(line, "said: 550 5.1.1") == NULL
		    || strstr(line, ID ": to=<u@x.test>, relay=mx.test[192.0.2.1]:25") == NULL)
			fail_msg("row %zu: log line %s", i, line);
		free(line);
	}
	var_soft_bounce = false;
}

static void test_soft_status(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{"5.1.1", "4.1.1"}, {"5.7.26", "4.7.26"}, {"5.0.0", "4.0.0"},
		{"4.2.2", "4.0.0"}, {"", "4.0.0"}, {"5.x.1", "4.0.0"},
	};
	char out[16];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_string_equal(bounce_soft_status(rows[i].in, out), rows[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
		cmocka_unit_test(test_soft_status),
	};

	log_init("test_bounce_append", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
