/*
 * test_cmd_super - hold, release, requeue, delete and expire: the command-line
 * check (table-driven), the summary wording, then the commands run
 * in-process on a queue directory with exact counts and on-disk results:
 * with no queue manager (stale or missing control socket: active/ is
 * handled directly, except a file an agent holds locked), and with a fake
 * queue manager on private/qmgr-control that records what it is sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cli_queue_testlib.h"
#include "cmd_queue.h"
#include "cmd_super.h"
#include "util/argv.h"
#include "util/attr.h"
#include "util/iostuff.h"

static char valid_id[QUEUE_ID_SIZE];
static char valid_id2[QUEUE_ID_SIZE];

static int setup(void **state)
{
	queue_id_format(valid_id, 1606557600, 123456, 12345);
	queue_id_format(valid_id2, 1606557601, 1, 99);
	return tl_setup(NULL);
}

static int teardown(void **state)
{
	return tl_teardown();
}

/* ---- parsing ---- */

/* the command line: operations, IDs, ALL, "-", queue names */
static void test_parse(void **state)
{
	static const struct {
		const char *args[6];	/* "$1" and "$2" stand for two valid IDs */
		int status;
		enum cmd_super_op op;
		bool all, from_stdin;
		int nids;
		const char *queues;
	} cases[] = {
		{{"hold", "$1"}, 0, SUPER_HOLD, false, false, 1, "incoming active deferred"},
		{{"release", "$1", "$2"}, 0, SUPER_RELEASE, false, false, 2, "hold"},
		{{"requeue", "$1"}, 0, SUPER_REQUEUE, false, false, 1, "incoming active deferred hold"},
		{{"delete", "ALL"}, 0, SUPER_DELETE, true, false, 0, "incoming active deferred hold"},
		{{"delete", "ALL", "maildrop"}, 0, SUPER_DELETE, true, false, 0, "maildrop"},
		{{"delete", "$1", "hold", "deferred"}, 0, SUPER_DELETE, false, false, 1, "deferred hold"},
		{{"delete", "$1", "corrupt"}, 0, SUPER_DELETE, false, false, 1, "corrupt"},
		{{"requeue", "$1", "corrupt"}, 0, SUPER_REQUEUE, false, false, 1, "corrupt"},
		{{"hold", "-"}, 0, SUPER_HOLD, false, true, 0, "incoming active deferred"},
		{{"hold", "-", "$1", "deferred"}, 0, SUPER_HOLD, false, true, 1, "deferred"},
		{{"expire", "$1"}, 0, SUPER_EXPIRE, false, false, 1, "incoming active deferred hold"},
		{{"expire", "ALL", "hold"}, 0, SUPER_EXPIRE, true, false, 0, "hold"},
		{{"expire", "-"}, 0, SUPER_EXPIRE, false, true, 0, "incoming active deferred hold"},
		{.args = {"expire"}, .status = 64},
		{.args = {"expire", "$1", "corrupt"}, .status = 64},
		{.args = {"expire", "$1", "maildrop"}, .status = 64},
		{.args = {"expire", "ALL", "$1"}, .status = 64},
		{.args = {"expire", "bogus!"}, .status = 1},
		{.args = {"hold", "$1", "maildrop"}, .status = 64},
		{.args = {"hold", "$1", "hold"}, .status = 64},
		{.args = {"release", "$1", "incoming"}, .status = 64},
		{.args = {"requeue", "$1", "maildrop"}, .status = 64},
		{.args = {"hold"}, .status = 64},
		{.args = {"delete", "deferred"}, .status = 64},
		{.args = {"hold", "ALL", "$1"}, .status = 64},
		{.args = {"hold", "ALL", "-"}, .status = 64},
		{.args = {"frobnicate", "$1"}, .status = 64},
		{.args = {"hold", "all"}, .status = 1},
		{.args = {"hold", "$1", "NOT-AN-ID"}, .status = 1},
		{.args = {"delete", "$1", "deferred", "$2"}, .status = 1},	/* a queue name in the middle */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmd_super_req req;
		const char *error;
		char *argv[6];
		int argc = 0, rc;

		for (; argc < 6 && cases[i].args[argc]; argc++) {
			const char *a = cases[i].args[argc];

			argv[argc] = (char *)(strcmp(a, "$1") == 0 ? valid_id
					      : strcmp(a, "$2") == 0 ? valid_id2 : a);
		}
		rc = cmd_super_parse(argc, argv, &req, &error);
		if (rc != cases[i].status)
			print_error("case %zu: status %d (%s), want %d\n", i, rc,
				    rc ? error : "", cases[i].status);
		assert_int_equal(rc, cases[i].status);
		if (rc != 0) {
			assert_true(*error != 0);
			continue;
		}
		assert_int_equal(req.op, cases[i].op);
		assert_int_equal(req.all, cases[i].all);
		assert_int_equal(req.from_stdin, cases[i].from_stdin);
		assert_int_equal(req.ids->argc, cases[i].nids);
		{
			struct buf *q = buf_create(64);

			for (size_t k = 0; k < req.queues->argc; k++)
				buf_printf(q, "%s%s", k ? " " : "", req.queues->argv[k]);
			assert_string_equal(buf_str(q), cases[i].queues);
			buf_free(&q);
		}
		cmd_super_req_deinit(&req);
	}
}

/* postsuper's summary wording */
static void test_summary(void **state)
{
	assert_string_equal(cmd_super_summary(SUPER_HOLD, 1), "Placed on hold: 1 message");
	assert_string_equal(cmd_super_summary(SUPER_HOLD, 3), "Placed on hold: 3 messages");
	assert_string_equal(cmd_super_summary(SUPER_RELEASE, 2), "Released from hold: 2 messages");
	assert_string_equal(cmd_super_summary(SUPER_REQUEUE, 1), "Requeued: 1 message");
	assert_string_equal(cmd_super_summary(SUPER_DELETE, 0), "Deleted: 0 messages");
	assert_string_equal(cmd_super_summary(SUPER_EXPIRE, 1), "Force-expired: 1 message");
}

/* ---- on disk, no queue manager ---- */

static const char *const one_rcpt[] = {"r@x.test", NULL};

/* mk - a one-recipient message in queue; its ID (static) */
static const char *mk(const char *queue, char id[QUEUE_ID_SIZE])
{
	snprintf(id, QUEUE_ID_SIZE, "%s", tl_make(queue, 1606557600, "s@x.test", one_rcpt, 0));
	return id;
}

/* run - cmd_super with argv (NULL-terminated), stdin text */
static struct tl_run run(const char *in, char **argv)
{
	return tl_run_cmd(cmd_super, in, argv);
}

/* hold and release by ID; unknown and repeated IDs; time stamps */
static void test_hold_release(void **state)
{
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE], d[QUEUE_ID_SIZE];
	struct timespec future[2] = {{.tv_sec = 4000000000L}, {.tv_sec = 4000000000L}};
	struct tl_run r;
	struct stat st;

	tl_clear_queues();
	mk("deferred", a);
	mk("active", b);
	mk("incoming", c);
	mk("deferred", d);
	assert_int_equal(utimensat(AT_FDCWD, tl_path("deferred", a), future, 0), 0);

	{
		char *argv[] = {"hold", a, b, a, valid_id, c, NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Placed on hold: 3 messages\n"));
	assert_true(tl_exists("hold", a) && tl_exists("hold", b) && tl_exists("hold", c));
	assert_false(tl_exists("deferred", a) || tl_exists("active", b) || tl_exists("incoming", c));
	assert_true(tl_exists("deferred", d));
	tl_run_free(&r);

	/*
	 * Release: to deferred (not a flush: no group-read bit), with the time
	 * stamp now (due now, not the old deferred time).
	 */
	assert_int_equal(chmod(tl_path("hold", a), QF_MODE_READY | QF_MODE_UNTHROTTLE), 0);
	{
		char *argv[] = {"release", a, d, NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Released from hold: 1 message\n"));
	assert_true(tl_exists("deferred", a));
	assert_false(tl_exists("hold", a) || tl_exists("incoming", a));
	assert_int_equal(stat(tl_path("deferred", a), &st), 0);
	assert_true(st.st_mtime <= time(NULL) && st.st_mtime > time(NULL) - 60);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY);
	tl_run_free(&r);

	/* Release everything else that is on hold. */
	{
		char *argv[] = {"release", "ALL", NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Released from hold: 2 messages\n"));
	assert_int_equal(tl_count("hold"), 0);
	assert_int_equal(tl_count("deferred"), 4);
	tl_run_free(&r);
}

/* expire: the force-expire bit on complete files, wherever they wait */
static void test_expire(void **state)
{
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE], d[QUEUE_ID_SIZE];
	struct tl_run r;
	struct stat st;

	tl_clear_queues();
	mk("deferred", a);
	mk("hold", b);
	mk("active", c);
	mk("incoming", d);
	{
		char *argv[] = {"expire", a, b, c, valid_id, a, NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Force-expired: 3 messages\n"));
	assert_non_null(strstr(r.err, "expired"));
	assert_int_equal(stat(tl_path("deferred", a), &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY | QF_MODE_EXPIRE);
	assert_int_equal(stat(tl_path("hold", b), &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY | QF_MODE_EXPIRE);
	/* In active/ too, without asking the queue manager (a mode bit). */
	assert_int_equal(stat(tl_path("active", c), &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY | QF_MODE_EXPIRE);
	assert_int_equal(stat(tl_path("incoming", d), &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY);
	tl_run_free(&r);

	/* A held message keeps the bit when released. */
	{
		char *argv[] = {"release", b, NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_int_equal(stat(tl_path("deferred", b), &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY | QF_MODE_EXPIRE);
	tl_run_free(&r);

	/* From stdin; a file being written is no queue file to expire. */
	assert_int_equal(chmod(tl_path("incoming", d), QF_MODE_WRITING), 0);
	{
		char *argv[] = {"expire", "-", NULL};
		char in[2 * QUEUE_ID_SIZE + 8];

		snprintf(in, sizeof(in), "%s\n\n%s\n", a, d);
		r = run(in, argv);
	}
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "not a complete queue file"));
	assert_non_null(strstr(r.err, "sluice: Force-expired: 1 message\n"));
	assert_int_equal(stat(tl_path("incoming", d), &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_WRITING);
	tl_run_free(&r);

	/* Usage: exit 64 with the usage line. */
	{
		char *argv[] = {"expire", NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 64);
	assert_non_null(strstr(r.err, "usage: sluice hold|release|requeue|delete|expire"));
	tl_run_free(&r);
}

/* release and expire never change a file through a link planted in hold/ */
static void test_release_planted_links(void **state)
{
	static const struct {
		bool hard;
		const char *label;
	} rows[] = {
		{false, "symbolic link"},
		{true, "hard link"},
	};
	struct timespec old[2] = {{.tv_sec = 1000000000L}, {.tv_sec = 1000000000L}};
	char canary[400];
	struct tl_run r;
	struct stat st;
	int fd;

	snprintf(canary, sizeof(canary), "%s/canary", tl_dir);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tl_clear_queues();
		(void)unlink(canary);
		assert_true((fd = open(canary, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
		assert_int_equal(fchmod(fd, 0600), 0);
		assert_int_equal(futimens(fd, old), 0);
		close(fd);
		if (rows[i].hard)
			assert_int_equal(link(canary, tl_path("hold", valid_id)), 0);
		else
			assert_int_equal(symlink(canary, tl_path("hold", valid_id)), 0);
		for (int k = 0; k < 3; k++) {
			char *argv[] = {k == 2 ? "expire" : "release", k == 1 ? "ALL" : valid_id, NULL};

			r = run(NULL, argv);
			assert_int_equal(lstat(canary, &st), 0);
			if ((st.st_mode & 07777) != 0600 || st.st_mtime != old[0].tv_sec)
				fail_msg("%s, %s %s: canary mode %o, time %ld", rows[i].label,
					 argv[0], argv[1], (unsigned)(st.st_mode & 07777),
					 (long)st.st_mtime);
			assert_false(tl_exists("deferred", valid_id));
			assert_true(tl_exists("hold", valid_id));
			assert_non_null(strstr(r.err, k == 2 ? "not expired" : "not released"));
			tl_run_free(&r);
		}
		/* tl_clear_queues() removes files only. */
		assert_int_equal(unlink(tl_path("hold", valid_id)), 0);
	}
	(void)unlink(canary);
	tl_clear_queues();
}

/* a malformed ID touches nothing and exits 1; bad usage exits 64 */
static void test_bad_ids(void **state)
{
	char a[QUEUE_ID_SIZE];
	struct tl_run r;

	tl_clear_queues();
	mk("deferred", a);
	{
		char *argv[] = {"delete", a, "bogus", NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "invalid mail queue id: bogus"));
	assert_null(strstr(r.err, "Deleted"));
	assert_true(tl_exists("deferred", a));
	tl_run_free(&r);

	/* On standard input, too. */
	{
		char *argv[] = {"delete", "-", NULL};
		char in[128];

		snprintf(in, sizeof(in), "%s\nnot/an/id\n", a);
		r = run(in, argv);
	}
	assert_int_equal(r.status, 1);
	assert_true(tl_exists("deferred", a));
	tl_run_free(&r);

	{
		char *argv[] = {"hold", a, "maildrop", NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 64);
	assert_true(tl_exists("deferred", a));
	tl_run_free(&r);
}

/* delete by ID from stdin and ALL of one queue; logs go too */
static void test_delete(void **state)
{
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE], d[QUEUE_ID_SIZE];
	char e[QUEUE_ID_SIZE], f[QUEUE_ID_SIZE];
	struct tl_run r;
	char in[256];

	tl_clear_queues();
	mk("deferred", a);
	mk("deferred", b);
	mk("hold", c);
	mk("incoming", d);
	mk("maildrop", e);
	mk("active", f);
	tl_defer(a, "r@x.test", 200, "later");
	tl_defer(b, "r@x.test", 200, "later");
	assert_int_equal(tl_count("defer"), 2);

	/* IDs on stdin, blank lines and spaces ignored; e is in maildrop (not searched). */
	snprintf(in, sizeof(in), "%s\n\n  %s  \n%s\n%s\n", a, c, valid_id, e);
	{
		char *argv[] = {"delete", "-", NULL};

		r = run(in, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Deleted: 2 messages\n"));
	assert_false(tl_exists("deferred", a) || tl_exists("hold", c));
	assert_true(tl_exists("maildrop", e) && tl_exists("deferred", b));
	assert_int_equal(tl_count("defer"), 1);
	tl_run_free(&r);

	/* ALL deferred: b only. */
	{
		char *argv[] = {"delete", "ALL", "deferred", NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Deleted: 1 message\n"));
	assert_int_equal(tl_count("deferred"), 0);
	assert_int_equal(tl_count("defer"), 0);
	assert_true(tl_exists("incoming", d) && tl_exists("active", f));
	tl_run_free(&r);

	/* ALL: the default queues (active directly: no queue manager). */
	{
		char *argv[] = {"delete", "ALL", NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Deleted: 2 messages\n"));
	assert_true(tl_exists("maildrop", e));
	assert_int_equal(tl_count("incoming") + tl_count("active"), 0);
	tl_run_free(&r);

	/* Nothing there: zero, and still exit 0. */
	{
		char *argv[] = {"delete", valid_id, NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Deleted: 0 messages\n"));
	tl_run_free(&r);
}

/* hold ALL from the default queues; a locked active file is left alone */
static void test_hold_all_locked(void **state)
{
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE], d[QUEUE_ID_SIZE];
	char e[QUEUE_ID_SIZE];
	struct tl_run r;
	int fd;

	tl_clear_queues();
	mk("incoming", a);
	mk("active", b);
	mk("deferred", c);
	mk("hold", d);
	mk("active", e);
	/* An agent of a previous queue manager still delivering e. */
	assert_true((fd = open(tl_path("active", e), O_RDONLY)) >= 0);
	assert_int_equal(flock(fd, LOCK_SH), 0);
	{
		char *argv[] = {"hold", "ALL", NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 75);
	assert_non_null(strstr(r.err, "sluice: Placed on hold: 3 messages\n"));
	assert_non_null(strstr(r.err, "still being delivered"));
	assert_true(tl_exists("active", e));
	assert_int_equal(tl_count("hold"), 4);
	tl_run_free(&r);
	close(fd);
}

/* requeue: to maildrop/ as a 0700 queue file, logs gone; refusals */
static void test_requeue(void **state)
{
	static const char *const rcpts[] = {"a@x.test", "b@x.test", "c@y.test", NULL};
	static const char *const done_all[] = {"z@x.test", NULL};
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE], d[QUEUE_ID_SIZE];
	char e[QUEUE_ID_SIZE];
	struct qf_rcpt rr[8];
	struct rcpt_status st;
	const char *error;
	struct tl_run r;
	struct stat sb;
	struct qf *q;
	long off[4], offset = 0, n;
	bool corrupt;

	tl_clear_queues();
	snprintf(a, sizeof(a), "%s", tl_make_full("deferred", 1606557600.25, "", rcpts, 1u << 1,
						  "Subject: requeue me\n\nbody\n", off));
	tl_defer(a, "a@x.test", off[0], "later");
	snprintf(b, sizeof(b), "%s", tl_make("deferred", 1606557600, "s@x.test", done_all, 1));
	mk("deferred", c);
	/* c has a failure whose bounce has not been sent yet. */
	memset(&st, 0, sizeof(st));
	st.recipient = "r@x.test";
	snprintf(st.dsn.status, sizeof(st.dsn.status), "5.1.1");
	st.dsn.action = "failed";
	st.dsn.reason = "no such user";
	st.time = 1;
	assert_int_equal(status_log_append(tl_queue, STATUS_LOG_BOUNCE, c, &st, &error), 0);
	/* d is on hold and marked for forced expiry; e is damaged. */
	mk("hold", d);
	assert_int_equal(chmod(tl_path("hold", d), 0700 | QF_MODE_EXPIRE), 0);
	mk("incoming", e);
	assert_int_equal(truncate(tl_path("incoming", e), 120), 0);

	{
		char *argv[] = {"requeue", a, b, c, d, e, NULL};

		r = run(NULL, argv);
	}
	/* The damaged file is a hard failure (1); the bounce log only waits (75). */
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "sluice: Requeued: 2 messages\n"));
	assert_non_null(strstr(r.err, "no recipients left to deliver"));
	assert_non_null(strstr(r.err, "bounce log"));
	assert_non_null(strstr(r.err, "cannot requeue"));
	assert_false(tl_exists("deferred", a) || tl_exists("hold", a) || tl_exists("hold", d));
	assert_true(tl_exists("deferred", b) && tl_exists("deferred", c) && tl_exists("incoming", e));
	assert_int_equal(tl_count("defer"), 0);
	assert_int_equal(tl_count("maildrop"), 2);
	tl_run_free(&r);

	/* In maildrop/: the same file, mode exactly 0700, the done mark kept. */
	assert_int_equal(stat(tl_path("maildrop", d), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, QF_MODE_READY);
	assert_int_equal(stat(tl_path("maildrop", a), &sb), 0);
	assert_int_equal(sb.st_mode & 07777, QF_MODE_READY);
	assert_non_null(q = qf_open(tl_path("maildrop", a), false, &corrupt, &error));
	n = qf_read_rcpts(q, &offset, rr, 8, true, &error);
	assert_int_equal(n, 3);
	assert_false(rr[0].done);
	assert_true(rr[1].done);
	assert_false(rr[2].done);
	for (long i = 0; i < n; i++)
		qf_rcpt_deinit(&rr[i]);
	qf_close(&q);
}

/* ---- with a (fake) queue manager on private/qmgr-control ---- */

/*
 * fake_qmgr - serve one connection: read the request, write what it held
 * ("request ID ID...") to DIR/qmgr.txt, reply count=reply (or nothing
 * when reply < 0).  Returns the child's pid.
 */
static pid_t fake_qmgr(int listen_fd, long reply)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct buf *in = buf_create(256), *out = buf_create(64), *rec = buf_create(256);
		struct attr_list al;
		struct attr_cursor c;
		const char *error, *id;
		char path[400];
		int fd = accept(listen_fd, NULL, NULL);
		FILE *fp;

		attr_list_init(&al);
		if (fd < 0 || attr_read_frame(fd, in, 1 << 20, 5000, &al, &error) != 1)
			_exit(2);
		buf_puts(rec, attr_get(&al, "request"));
		attr_cursor_init(&c, &al);
		while ((id = attr_cursor_find(&c, "queue_id")) != NULL)
			buf_printf(rec, " %s", id);
		snprintf(path, sizeof(path), "%s/qmgr.txt", tl_dir);
		if ((fp = fopen(path, "w")) == NULL)
			_exit(3);
		fputs(buf_str(rec), fp);
		fclose(fp);
		if (reply >= 0) {
			attr_frame_begin(out);
			attr_put_long(out, "status", 0);
			attr_put_long(out, "count", reply);
			attr_frame_end(out);
			attr_write_frame(fd, out, 5000);
		}
		close(fd);
		_exit(0);
	}
	return pid;
}

/* child_ok - the fake queue manager ended well */
static void child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* active messages go to the queue manager, the others are moved here */
static void test_qmgr_control(void **state)
{
	char a[QUEUE_ID_SIZE], b[QUEUE_ID_SIZE], c[QUEUE_ID_SIZE], want[256];
	char sock[400], txt[400];
	struct tl_run r;
	int lfd;
	pid_t pid;
	char *got;

	tl_clear_queues();
	mk("active", a);
	mk("deferred", b);
	mk("active", c);
	snprintf(sock, sizeof(sock), "%s/private/qmgr-control", tl_queue);
	snprintf(txt, sizeof(txt), "%s/qmgr.txt", tl_dir);
	assert_true((lfd = unix_listen(sock, 4, 0600)) >= 0);

	/* It had both: they stay in active/ (it applies the hold later). */
	pid = fake_qmgr(lfd, 2);
	{
		char *argv[] = {"hold", a, b, c, NULL};

		r = run(NULL, argv);
	}
	child_ok(pid);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Placed on hold: 3 messages\n"));
	got = tl_slurp(txt);
	snprintf(want, sizeof(want), "hold %s %s", a, c);
	assert_string_equal(got, want);
	free(got);
	assert_true(tl_exists("active", a) && tl_exists("active", c) && tl_exists("hold", b));
	tl_run_free(&r);

	/* It had neither (finishing): not counted, nor touched behind its back. */
	pid = fake_qmgr(lfd, 0);
	{
		char *argv[] = {"delete", "ALL", "active", NULL};

		r = run(NULL, argv);
	}
	child_ok(pid);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Deleted: 0 messages\n"));
	got = tl_slurp(txt);
	/* In ID order, as the folder scan sorts them. */
	snprintf(want, sizeof(want), "delete %s %s", strcmp(a, c) < 0 ? a : c,
		 strcmp(a, c) < 0 ? c : a);
	assert_string_equal(got, want);
	free(got);
	assert_true(tl_exists("active", a) && tl_exists("active", c));
	tl_run_free(&r);

	/* No answer: a warning, exit 75, nothing touched. */
	pid = fake_qmgr(lfd, -1);
	{
		char *argv[] = {"requeue", a, NULL};

		r = run(NULL, argv);
	}
	child_ok(pid);
	assert_int_equal(r.status, 75);
	assert_non_null(strstr(r.err, "no reply from"));
	assert_non_null(strstr(r.err, "sluice: Requeued: 0 messages\n"));
	assert_true(tl_exists("active", a));
	assert_int_equal(tl_count("maildrop"), 0);
	tl_run_free(&r);

	/* Release: the files move to deferred/, then it is told their IDs. */
	assert_true(tl_exists("hold", b));
	pid = fake_qmgr(lfd, 1);
	{
		char *argv[] = {"release", b, NULL};

		r = run(NULL, argv);
	}
	child_ok(pid);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Released from hold: 1 message\n"));
	got = tl_slurp(txt);
	snprintf(want, sizeof(want), "release %s", b);
	assert_string_equal(got, want);
	free(got);
	assert_true(tl_exists("deferred", b));
	tl_run_free(&r);

	/* A stale socket (nobody listening): the system is stopped. */
	close(lfd);
	{
		char *argv[] = {"delete", a, NULL};

		r = run(NULL, argv);
	}
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "sluice: Deleted: 1 message\n"));
	assert_false(tl_exists("active", a));
	tl_run_free(&r);
	unlink(sock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_hold_release),
		cmocka_unit_test(test_release_planted_links),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_hold_all_locked),
		cmocka_unit_test(test_requeue),
		cmocka_unit_test(test_qmgr_control),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
