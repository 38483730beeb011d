/*
 * test_status_log - per-message status logs: awkward text round-trips, a
 * failed append leaves the log byte-for-byte unchanged, torn tails are
 * skipped and cut off, malformed records are refused, concurrent appenders
 * do not interleave, hashed logs land where queue_path says, and a link
 * planted in a log folder (a hash level, the log itself, a hard link) is
 * never written through or removed through; a hash level a root process
 * makes belongs to the log folder's owner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/dsn.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "testlib.h"
#include "util/buf.h"
#include "util/mem.h"

#define ID "4SVLCh0sf82R"	/* any well-formed queue ID */

/* make_queue - a fresh queue directory with default hashing */
static char *make_queue(void)
{
	return testlib_queue_tmp("sluice-sl");
}

/* drop_queue - remove the test tree */
static void drop_queue(char *dir)
{
	assert_int_equal(testlib_rmtree(dir), 0);
	free(dir);
}

/* slurp - the bytes of a log */
static void slurp(const char *dir, const char *log, const char *id, struct buf *b)
{
	char *path = queue_path(dir, log, id), chunk[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	buf_reset(b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(b, chunk, (size_t)n);
	close(fd);
	free(path);
}

/* raw_append - add bytes behind the module's back */
static void raw_append(const char *dir, const char *log, const char *id, const char *text)
{
	char *path = queue_path(dir, log, id);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(path);
}

/* status - a record with the given texts */
static struct rcpt_status status(const char *rcpt, long offset, const char *code,
				 const char *reason, const char *diag)
{
	struct rcpt_status st;

	memset(&st, 0, sizeof(st));
	st.recipient = rcpt;
	st.orig_rcpt = "";
	st.offset = offset;
	st.dsn_orcpt = "";
	st.notify = 0;
	snprintf(st.dsn.status, sizeof(st.dsn.status), "%s", code);
	st.dsn.action = code[0] == '5' ? "failed" : code[0] == '4' ? "delayed" : "delivered";
	st.dsn.reason = reason;
	st.dsn.diag_text = diag;
	st.time = 1700000000.5;
	return st;
}

/* same - a record read back equals what was appended */
static void same(const struct rcpt_status *st, const struct rcpt_status_rec *r)
{
#define S(x) ((x) ? (x) : "")
	assert_string_equal(r->recipient, st->recipient);
	assert_string_equal(r->orig_rcpt, S(st->orig_rcpt));
	assert_int_equal(r->offset, st->offset);
	assert_string_equal(r->dsn_orcpt, S(st->dsn_orcpt));
	assert_int_equal(r->notify, st->notify);
	assert_string_equal(r->status, st->dsn.status);
	assert_string_equal(r->action, st->dsn.action);
	assert_string_equal(r->reason, S(st->dsn.reason));
	assert_string_equal(r->mta, S(st->dsn.mta));
	assert_string_equal(r->diag_type, S(st->dsn.diag_type));
	assert_string_equal(r->diag_text, S(st->dsn.diag_text));
	assert_true(r->time > st->time - 1e-6 && r->time < st->time + 1e-6);
#undef S
}

/* any text without NUL comes back exactly */
static void test_awkward_text(void **state)
{
	static const char *const texts[] = {
		"",
		"plain",
		"line one\nline two",
		"crlf\r\nend\r\n",
		"\n\n\n",
		"back\\slash\\",
		"\\n is not a newline",
		"\\\\n\\r\\",
		"key=value=more",
		"tab\there and \x01\x7f control",
		"utf-8 \xc3\xa9\xe2\x82\xac and bad \xff\xfe",
		"recipient=evil@example\n\nrecipient=forged",
	};
	size_t nt = sizeof(texts) / sizeof(texts[0]);
	struct rcpt_status *st = xcalloc(nt + 1, sizeof(*st));
	struct rcpt_status_rec *recs;
	const char *err;
	char *dir = make_queue(), *big = xmalloc(100001);
	long n;

	for (size_t i = 0; i < nt; i++) {
		st[i] = status(i % 2 ? "a@x.test" : "b\\c\nd@y.test", (long)(100 + i), "5.1.1",
			       texts[i], texts[nt - 1 - i]);
		st[i].orig_rcpt = texts[(i + 3) % nt];
		st[i].dsn_orcpt = i % 3 ? "rfc822;a@x.test" : NULL;
		st[i].notify = (int)(i % 16) & ~DSN_NOTIFY_NEVER;
		st[i].dsn.mta = i % 2 ? "mx.example.test" : NULL;
		st[i].dsn.diag_type = i % 2 ? "smtp" : NULL;
		st[i].time = 1700000000.0 + (double)i / 8;
		assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st[i], &err), 0);
	}
	memset(big, 'x', 100000);
	big[100000] = 0;
	big[500] = '\n';
	st[nt] = status("big@x.test", 7, "4.4.1", big, big);
	assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st[nt], &err), 0);

	n = status_log_read(dir, STATUS_LOG_BOUNCE, ID, &recs, &err);
	assert_int_equal(n, (long)nt + 1);
	for (long i = 0; i < n; i++)
		same(&st[i], &recs[i]);
	status_log_free(&recs, n);
	assert_null(recs);
	free(big);
	free(st);
	drop_queue(dir);
}

/* missing logs, exists, remove */
static void test_exists_remove(void **state)
{
	char *dir = make_queue();
	struct rcpt_status st = status("a@x.test", 1, "4.4.1", "timeout", NULL);
	struct rcpt_status_rec *recs = (void *)1;
	const char *err;

	assert_int_equal(status_log_read(dir, STATUS_LOG_TRACE, ID, &recs, &err), 0);
	assert_null(recs);
	assert_int_equal(status_log_exists(dir, STATUS_LOG_TRACE, ID), 0);
	assert_int_equal(status_log_remove(dir, STATUS_LOG_TRACE, ID), 0);
	assert_int_equal(status_log_append(dir, STATUS_LOG_TRACE, ID, &st, &err), 0);
	assert_int_equal(status_log_exists(dir, STATUS_LOG_TRACE, ID), 1);
	assert_int_equal(status_log_exists(dir, STATUS_LOG_BOUNCE, ID), 0);
	assert_int_equal(status_log_remove(dir, STATUS_LOG_TRACE, ID), 0);
	assert_int_equal(status_log_exists(dir, STATUS_LOG_TRACE, ID), 0);
	drop_queue(dir);
}

/* the defer log is hashed like deferred; hash folders are made on demand */
static void test_hashed_log(void **state)
{
	char *dir = make_queue(), *path, *hashdir;
	struct rcpt_status st = status("a@x.test", 1, "4.4.1", "timeout", NULL);
	struct rcpt_status_rec *recs;
	const char *err;
	struct stat sb;

	path = queue_path(dir, STATUS_LOG_DEFER, ID);
	assert_non_null(strstr(path, "/defer/8/" ID));	/* ID[9] == '8' */
	hashdir = xasprintf("%s/defer/8", dir);
	assert_int_equal(rmdir(hashdir), 0);		/* gone: must be re-made */
	assert_int_equal(status_log_append(dir, STATUS_LOG_DEFER, ID, &st, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(status_log_read(dir, STATUS_LOG_DEFER, ID, &recs, &err), 1);
	status_log_free(&recs, 1);
	free(hashdir);
	free(path);
	drop_queue(dir);
}

/* with a file size limit, a failed append leaves the log byte-for-byte */
static void test_failed_append_unchanged(void **state)
{
	char *dir = make_queue();
	struct rcpt_status st = status("a@x.test", 1, "5.1.1", "no such user", "550 5.1.1 no");
	struct rcpt_status_rec *recs;
	struct rlimit old, lim;
	struct buf before, after;
	const char *err;
	static const long slack[] = {0, 1, 10, 100};

	signal(SIGXFSZ, SIG_IGN);
	buf_init(&before, 0);
	buf_init(&after, 0);
	assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st, &err), 0);
	assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st, &err), 0);
	slurp(dir, STATUS_LOG_BOUNCE, ID, &before);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	for (size_t i = 0; i < sizeof(slack) / sizeof(slack[0]); i++) {
		/* Room for none or part of the record: the write falls short. */
		lim = old;
		lim.rlim_cur = before.len + (size_t)slack[i];
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
		assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st, &err), -1);
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
		assert_non_null(strstr(err, "append to"));
		slurp(dir, STATUS_LOG_BOUNCE, ID, &after);
		assert_int_equal(after.len, before.len);
		assert_memory_equal(after.data, before.data, before.len);
	}
	/* And it still works afterwards. */
	assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st, &err), 0);
	assert_int_equal(status_log_read(dir, STATUS_LOG_BOUNCE, ID, &recs, &err), 3);
	status_log_free(&recs, 3);

	/* A new log that cannot be written at all is not left behind empty-handed. */
	lim = old;
	lim.rlim_cur = 0;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(status_log_append(dir, STATUS_LOG_TRACE, ID, &st, &err), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(status_log_exists(dir, STATUS_LOG_TRACE, ID), 0);
	{
		char *path = queue_path(dir, STATUS_LOG_TRACE, ID);

		assert_int_equal(access(path, F_OK), -1);	/* absent, as before */
		free(path);
	}
	buf_deinit(&before);
	buf_deinit(&after);
	drop_queue(dir);
}

/* bad input is refused before anything is written */
static void test_refused_input(void **state)
{
	char *dir = make_queue();
	struct rcpt_status st = status("a@x.test", 1, "5.1.1", "x", NULL);
	const char *err;
	static const char *const bad_status[] = {"", "6.1.1", "5.1", "250", "5.1.1 "};

	for (size_t i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
		snprintf(st.dsn.status, sizeof(st.dsn.status), "%s", bad_status[i]);
		assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st, &err), -1);
	}
	st = status("", 1, "5.1.1", "x", NULL);
	assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st, &err), -1);
	st = status("a@x.test", 1, "5.1.1", "x", NULL);
	st.dsn.action = NULL;
	assert_int_equal(status_log_append(dir, STATUS_LOG_BOUNCE, ID, &st, &err), -1);
	assert_int_equal(status_log_exists(dir, STATUS_LOG_BOUNCE, ID), 0);
	drop_queue(dir);
}

/* a torn last record is skipped by readers and cut off by the next append */
static void test_torn_tail(void **state)
{
	static const char *const tails[] = {
		"r",
		"recipient=torn@x.test\nstat",
		"recipient=torn@x.test\nstatus=5.1.1\n",	/* no empty line yet */
		"\n",
	};
	struct rcpt_status a = status("a@x.test", 10, "5.1.1", "first", NULL);
	struct rcpt_status b = status("b@x.test", 20, "4.4.1", "second", NULL);
	struct rcpt_status_rec *recs;
	const char *err;

	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		char *dir = make_queue();

		assert_int_equal(status_log_append(dir, STATUS_LOG_DEFER, ID, &a, &err), 0);
		raw_append(dir, STATUS_LOG_DEFER, ID, tails[i]);
		if (tails[i][0] != '\n') {
			assert_int_equal(status_log_read(dir, STATUS_LOG_DEFER, ID, &recs, &err), 1);
			same(&a, &recs[0]);
			status_log_free(&recs, 1);
		}
		assert_int_equal(status_log_append(dir, STATUS_LOG_DEFER, ID, &b, &err), 0);
		assert_int_equal(status_log_read(dir, STATUS_LOG_DEFER, ID, &recs, &err), 2);
		same(&a, &recs[0]);
		same(&b, &recs[1]);
		status_log_free(&recs, 2);
		drop_queue(dir);
	}

	/* A torn first record: the log starts afresh. */
	{
		char *dir = make_queue();

		raw_append(dir, STATUS_LOG_DEFER, ID, "recipient=x");
		assert_int_equal(status_log_read(dir, STATUS_LOG_DEFER, ID, &recs, &err), 0);
		assert_int_equal(status_log_append(dir, STATUS_LOG_DEFER, ID, &b, &err), 0);
		assert_int_equal(status_log_read(dir, STATUS_LOG_DEFER, ID, &recs, &err), 1);
		same(&b, &recs[0]);
		status_log_free(&recs, 1);
		drop_queue(dir);
	}
}

/* a complete but malformed record makes the whole log unreadable */
static void test_malformed(void **state)
{
	static const struct {
		const char *text;
		long want;
	} rows[] = {
		{"recipient=a\noffset=1\nstatus=5.1.1\naction=failed\ntime=1.5\n\n", 1},
		{"recipient=a\noffset=1\nstatus=5.1.1\naction=failed\ntime=1.5\nnew_field=x\n\n", 1},
		{"offset=1\nstatus=5.1.1\naction=failed\ntime=1.5\n\n", -1},	/* no recipient */
		{"recipient=\noffset=1\nstatus=5.1.1\naction=failed\ntime=1.5\n\n", -1},
		{"recipient=a\noffset=x\nstatus=5.1.1\naction=failed\ntime=1.5\n\n", -1},
		{"recipient=a\noffset=1\nstatus=9.1.1\naction=failed\ntime=1.5\n\n", -1},
		{"recipient=a\noffset=1\nstatus=5.1.1\naction=failed\ntime=soon\n\n", -1},
		{"recipient=a\noffset=1\nstatus=5.1.1\naction=failed\n\n", -1},	/* no time */
		{"recipient=a\noffset=1\nstatus=5.1.1\naction=failed\ntime=1\nnotify=99\n\n", -1},
		{"recipient=a\nrecipient=b\noffset=1\nstatus=5.1.1\naction=failed\ntime=1\n\n", -1},
		{"recipient=a\\q\noffset=1\nstatus=5.1.1\naction=failed\ntime=1\n\n", -1},
		{"recipient=a\\\noffset=1\nstatus=5.1.1\naction=failed\ntime=1\n\n", -1},
		{"garbage line\n\n", -1},
		{"=x\n\n", -1},
		{"\n\n", -1},							/* empty record */
	};
	struct rcpt_status_rec *recs;
	const char *err;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *dir = make_queue();
		long n;

		raw_append(dir, STATUS_LOG_BOUNCE, ID, rows[i].text);
		n = status_log_read(dir, STATUS_LOG_BOUNCE, ID, &recs, &err);
		if (n != rows[i].want)
			fail_msg("row %zu: got %ld, want %ld", i, n, rows[i].want);
		if (n > 0)
			status_log_free(&recs, n);
		else
			assert_null(recs);
		drop_queue(dir);
	}
}

#define WRITERS 4
#define EACH 50

/* concurrent appenders: every record arrives whole */
static void test_concurrent_appends(void **state)
{
	char *dir = make_queue();
	struct rcpt_status_rec *recs;
	int counts[WRITERS] = {0};
	const char *err;
	pid_t pids[WRITERS];
	long n;

	for (int w = 0; w < WRITERS; w++) {
		if ((pids[w] = fork()) == 0) {
			char rcpt[64], reason[256];

			for (int i = 0; i < EACH; i++) {
				struct rcpt_status st;

				snprintf(rcpt, sizeof(rcpt), "w%d@x.test", w);
				memset(reason, 'a' + w, sizeof(reason) - 1);
				reason[sizeof(reason) - 1] = 0;
				st = status(rcpt, i, "4.4.1", reason, NULL);
				if (status_log_append(dir, STATUS_LOG_DEFER, ID, &st, &err) < 0)
					_exit(1);
			}
			_exit(0);
		}
		assert_true(pids[w] > 0);
	}
	for (int w = 0; w < WRITERS; w++) {
		int ws;

		assert_int_equal(waitpid(pids[w], &ws, 0), pids[w]);
		assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	}
	n = status_log_read(dir, STATUS_LOG_DEFER, ID, &recs, &err);
	assert_int_equal(n, WRITERS * EACH);
	for (long i = 0; i < n; i++) {
		int w = recs[i].recipient[1] - '0';

		assert_true(w >= 0 && w < WRITERS);
		assert_int_equal(recs[i].offset, counts[w]);	/* each writer in order */
		counts[w]++;
		assert_int_equal(strlen(recs[i].reason), 255);
		assert_int_equal(recs[i].reason[0], 'a' + w);
	}
	status_log_free(&recs, n);
	drop_queue(dir);
}

/* canary_same - the canary file still has its mode and its bytes */
static void canary_same(const char *canary, const char *label)
{
	char got[64] = "";
	struct stat st;
	int fd;

	assert_int_equal(lstat(canary, &st), 0);
	if ((st.st_mode & 07777) != 0640 || st.st_uid != getuid())
		fail_msg("%s: canary mode %o owner %ld changed", label,
			 (unsigned)(st.st_mode & 07777), (long)st.st_uid);
	assert_true((fd = open(canary, O_RDONLY)) >= 0);
	assert_true(read(fd, got, sizeof(got) - 1) >= 0);
	close(fd);
	if (strcmp(got, "canary\n") != 0)
		fail_msg("%s: canary now holds \"%s\"", label, got);
}

/* links planted in a log folder lead nowhere */
static void test_planted_links(void **state)
{
	enum { HASH_LINK, LOG_SYMLINK, LOG_HARDLINK };
	static const struct {
		int kind;
		const char *label;
	} rows[] = {
		{HASH_LINK, "hash folder is a symlink"},
		{LOG_SYMLINK, "log is a symlink"},
		{LOG_HARDLINK, "log is a hard link"},
	};
	struct rcpt_status st = status("a@x.test", 1, "4.4.1", "timeout", NULL);
	const char *err;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *dir = make_queue();
		char *canary = xasprintf("%s/canary", dir), *other = xasprintf("%s/other", dir);
		char *hash = xasprintf("%s/defer/8", dir), *log = queue_path(dir, "defer", ID);
		char *other_log = xasprintf("%s/%s", other, ID);
		struct stat sb;
		int fd;

		assert_true((fd = open(canary, O_WRONLY | O_CREAT | O_EXCL, 0640)) >= 0);
		assert_int_equal(write(fd, "canary\n", 7), 7);
		assert_int_equal(fchmod(fd, 0640), 0);
		close(fd);
		assert_int_equal(mkdir(other, 0755), 0);
		switch (rows[i].kind) {
		case HASH_LINK:
			assert_int_equal(rmdir(hash), 0);
			assert_int_equal(symlink(other, hash), 0);
			/* The removal of a log there must not reach other/ID either. */
			assert_int_equal(link(canary, other_log), 0);
			break;
		case LOG_SYMLINK:
			assert_int_equal(symlink(canary, log), 0);
			break;
		case LOG_HARDLINK:
			assert_int_equal(link(canary, log), 0);
			break;
		}
		if (status_log_append(dir, STATUS_LOG_DEFER, ID, &st, &err) == 0)
			fail_msg("%s: append succeeded", rows[i].label);
		canary_same(canary, rows[i].label);
		if (rows[i].kind == HASH_LINK) {
			assert_int_equal(status_log_remove(dir, STATUS_LOG_DEFER, ID), -1);
			if (lstat(other_log, &sb) < 0)
				fail_msg("%s: removed %s", rows[i].label, other_log);
		}
		unlink(other_log);
		free(other_log);
		free(canary);
		free(other);
		free(hash);
		free(log);
		drop_queue(dir);
	}
}

/* a hash folder made by root belongs to the owner of the log folder */
static void test_root_made_hash_owner(void **state)
{
	struct rcpt_status st = status("a@x.test", 1, "4.4.1", "timeout", NULL);
	char *dir, *top, *hash;
	const char *err;
	struct stat sb;

	if (geteuid() != 0)
		skip();
	dir = make_queue();
	top = xasprintf("%s/defer", dir);
	hash = xasprintf("%s/defer/8", dir);
	assert_int_equal(rmdir(hash), 0);
	assert_int_equal(chown(top, 4321, 4322), 0);
	assert_int_equal(status_log_append(dir, STATUS_LOG_DEFER, ID, &st, &err), 0);
	assert_int_equal(lstat(hash, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(sb.st_uid, 4321);
	assert_int_equal(sb.st_gid, 4322);
	free(top);
	free(hash);
	drop_queue(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_awkward_text),
		cmocka_unit_test(test_exists_remove),
		cmocka_unit_test(test_hashed_log),
		cmocka_unit_test(test_failed_append_unchanged),
		cmocka_unit_test(test_refused_input),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_concurrent_appends),
		cmocka_unit_test(test_planted_links),
		cmocka_unit_test(test_root_made_hash_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
