/*
 * test_pickup_file - maildrop files as hostile input: a good submission is
 * copied (identity from the owner, DSN fields kept, the file removed);
 * garbage, links, odd modes and submissions holding records a user may not
 * write are rejected with a reason and quarantined in corrupt/; a requeued
 * file keeps its envelope and copies only pending recipients; a refused
 * message is quarantined; an unwritable incoming/ stops the scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/dsn.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "pickup_file.h"
#include "testlib.h"
#include "util/buf.h"
#include "util/log.h"

static char *qdir;

/* set_params - what cleanup reads */
static void set_params(void)
{
	var_myhostname = (char *)"mail.example.test";
	var_myorigin = (char *)"example.test";
	var_mail_name = (char *)"sluice";
	var_message_size_limit = 10240000;
	var_header_size_limit = 102400;
	var_hopcount_limit = 50;
	var_delay_warning_time = 0;
	var_duplicate_filter_limit = 1000;
}

/* qpath - "qdir/sub" into a static buffer */
static const char *qpath(const char *sub)
{
	static char path[400];

	snprintf(path, sizeof(path), "%s/%s", qdir, sub);
	return path;
}

/* setup - queue folders */
static int setup(void **state)
{
	qdir = testlib_tmpdir("test_pickup_file");
	mkdir(qpath("maildrop"), 0700);
	mkdir(qpath("incoming"), 0700);
	mkdir(qpath("corrupt"), 0700);
	mkdir(qpath("bounce"), 0700);
	log_init("test_pickup_file", 0);
	return 0;
}

/* teardown - remove them */
static int teardown(void **state)
{
	int rc = testlib_rmtree(qdir);

	free(qdir);
	return rc;
}

/* each - defaults, empty folders */
static int each(void **state)
{
	set_params();
	return testlib_empty_tree(qdir);
}

/* count - entries in a folder */
static int count(const char *sub)
{
	struct dirent *d;
	DIR *dir = opendir(qpath(sub));
	int n = 0;

	assert_non_null(dir);
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

struct drop_spec {
	const char *sender;
	const char *envid;
	int ret;
	int flags;
	const char *attr;	/* one "name=value" or NULL */
	const char *text;
	int nrcpt;
	const char *rcpt[3];
};

/* make_drop - a maildrop file as postdrop writes it; its ID into id */
static void make_drop(const struct drop_spec *s, char id[QUEUE_ID_SIZE])
{
	struct qf_writer *w;
	struct qf_envelope env;
	char *attrs[2] = {(char *)s->attr, NULL};
	const char *err;

	assert_non_null(w = qf_create(qdir, "maildrop", &err));
	memset(&env, 0, sizeof(env));
	env.arrival_time = 1700000000.5;
	env.sender = (char *)s->sender;
	env.envid = (char *)(s->envid ? s->envid : "");
	env.ret = s->ret;
	env.flags = s->flags;
	env.attrs = attrs;
	qf_put_envelope(w, &env);
	qf_put_content(w, s->text, strlen(s->text));
	for (int i = 0; i < s->nrcpt; i++)
		qf_add_rcpt(w, s->rcpt[i], i == 0 ? "orig@x.test" : NULL,
			    i == 0 ? "rfc822;orig@x.test" : NULL, i == 0 ? DSN_NOTIFY_FAILURE : 0);
	assert_int_equal(qf_commit(&w, id, &err), 0);
}

/* collect - content callback */
static int collect(const char *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
	return 0;
}

struct copied {
	struct qf_envelope env;
	struct qf_rcpt rcpt[4];
	long nrcpt;
	struct buf *text;
};

/* read_incoming - the copy cleanup made */
static void read_incoming(const char *id, struct copied *m)
{
	char *path = queue_path(qdir, "incoming", id);
	const char *err;
	bool corrupt;
	struct qf *q;
	long off = 0;

	assert_non_null(q = qf_open(path, false, &corrupt, &err));
	assert_int_equal(qf_read_envelope(q, &m->env, &err), 0);
	m->nrcpt = qf_read_rcpts(q, &off, m->rcpt, 4, true, &err);
	m->text = buf_create(256);
	assert_int_equal(qf_read_content(q, collect, m->text, &err), 0);
	qf_close(&q);
	free(path);
}

/* free_copied - release */
static void free_copied(struct copied *m)
{
	qf_envelope_deinit(&m->env);
	for (long i = 0; i < m->nrcpt; i++)
		qf_rcpt_deinit(&m->rcpt[i]);
	buf_free(&m->text);
}

/* a good submission is copied and removed; the uid is the owner's */
static void test_good(void **state)
{
	const struct drop_spec spec = {"user@x.test", "ENV1", DSN_RET_HDRS,
				       QF_FLAG_TRACE_VERBOSE, "full_name=Jane Q. User",
				       "Subject: hi\n\nbody\n", 2, {"a@x.test", "b"}};
	struct pickup_result res;
	struct copied m;
	char id[QUEUE_ID_SIZE], want[64];

	make_drop(&spec, id);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_DONE);
	assert_string_equal(res.reason, "");
	assert_true(queue_id_valid(res.queue_id));
	assert_int_equal(count("maildrop"), 0);
	read_incoming(res.queue_id, &m);
	assert_string_equal(m.env.sender, "user@x.test");
	assert_string_equal(m.env.envid, "ENV1");
	assert_int_equal(m.env.ret, DSN_RET_HDRS);
	assert_int_equal(m.env.flags, QF_FLAG_TRACE_VERBOSE);
	assert_true(m.env.arrival_time > 1700000000.4 && m.env.arrival_time < 1700000000.6);
	assert_int_equal(m.nrcpt, 2);
	assert_string_equal(m.rcpt[0].orig_rcpt, "orig@x.test");
	assert_string_equal(m.rcpt[0].dsn_orcpt, "rfc822;orig@x.test");
	assert_int_equal(m.rcpt[0].notify, DSN_NOTIFY_FAILURE);
	assert_string_equal(m.rcpt[1].address, "b@example.test");
	snprintf(want, sizeof(want), "(sluice, from userid %ld)", (long)getuid());
	assert_non_null(strstr(m.text->data, want));
	assert_non_null(strstr(m.text->data, "\nFrom: \"Jane Q. User\" <user@x.test>\n"));
	free_copied(&m);
}

/* garbage with a queue ID name: corrupt, with a reason, then quarantined */
static void test_garbage(void **state)
{
	struct pickup_result res;
	char id[QUEUE_ID_SIZE], path[500];
	int fd;

	queue_id_format(id, 1700000000, 123456, 4242);
	snprintf(path, sizeof(path), "%s/maildrop/%s", qdir, id);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "this is not a queue file at all\n", 32), 32);
	fchmod(fd, QF_MODE_MAILDROP);
	close(fd);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_CORRUPT);
	assert_true(strlen(res.reason) > 0);
	assert_int_equal(pickup_quarantine(qdir, id, "corrupt", res.reason), 0);
	assert_int_equal(count("maildrop"), 0);
	assert_int_equal(count("corrupt"), 1);
	assert_int_equal(count("incoming"), 0);
}

/* a symbolic link, a hard link, odd modes */
static void test_links_and_modes(void **state)
{
	const struct drop_spec spec = {"u@x.test", NULL, 0, 0, NULL, "x\n", 1, {"a@x.test"}};
	struct pickup_result res;
	char id[QUEUE_ID_SIZE], link_id[QUEUE_ID_SIZE], path[500], other[500];

	/* a symlink to a real file */
	make_drop(&spec, id);
	queue_id_format(link_id, 1700000001, 1, 77);
	snprintf(path, sizeof(path), "%s/maildrop/%s", qdir, link_id);
	snprintf(other, sizeof(other), "%s/maildrop/%s", qdir, id);
	assert_int_equal(symlink(other, path), 0);
	assert_int_equal(pickup_file(qdir, link_id, &res), PICKUP_CORRUPT);
	assert_string_equal(res.reason, "not a regular file");
	assert_int_equal(pickup_quarantine(qdir, link_id, "corrupt", res.reason), 0);

	/* a second name for the file */
	snprintf(path, sizeof(path), "%s/maildrop/%s", qdir, link_id);
	assert_int_equal(link(other, path), 0);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_CORRUPT);
	assert_non_null(strstr(res.reason, "2 links"));
	unlink(path);

	/* not complete yet: left alone */
	chmod(other, 0600);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_SKIP);
	/* complete, but not a mode postdrop or requeue writes */
	chmod(other, 0755);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_CORRUPT);
	assert_non_null(strstr(res.reason, "unexpected mode 0755"));
	/* gone */
	unlink(other);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_SKIP);
	assert_int_equal(count("incoming"), 0);
}

static const struct {
	struct drop_spec spec;
	const char *why;
} bad_subs[] = {
	{{"u@x.test", NULL, 0, QF_FLAG_BOUNCE, NULL, "x\n", 1, {"a@x.test"}},
	 "flags a submission may not set"},
	{{"u@x.test", NULL, 0, 0, "log_ident=x", "x\n", 1, {"a@x.test"}},
	 "attribute a submission may not set"},
	{{"u@x.test", NULL, 0, 0, "full_name=bad\rname", "x\n", 1, {"a@x.test"}},
	 "control character"},
	{{"u@x..test", NULL, 0, 0, NULL, "x\n", 1, {"a@x.test"}}, "malformed domain"},
	{{"u@x.test", "sp ace", 0, 0, NULL, "x\n", 1, {"a@x.test"}}, "printable"},
	{{"u@x.test", NULL, 0, 0, NULL, "x\n", 1, {"a\nb@x.test"}}, "control character"},
	{{"u@x.test", NULL, 0, 0, NULL, "x\n", 2, {"a@x.test", "b@[bad"}}, "malformed domain"},
};

/* submissions with records a user may not write */
static void test_bad_submissions(void **state)
{
	for (size_t i = 0; i < sizeof(bad_subs) / sizeof(bad_subs[0]); i++) {
		struct pickup_result res;
		char id[QUEUE_ID_SIZE];

		make_drop(&bad_subs[i].spec, id);
		if (pickup_file(qdir, id, &res) != PICKUP_CORRUPT
		    || strstr(res.reason, bad_subs[i].why) == NULL)
			fail_msg("row %zu: status %d, reason \"%s\"", i, res.status, res.reason);
		assert_int_equal(pickup_quarantine(qdir, id, "corrupt", res.reason), 0);
		assert_int_equal(count("incoming"), 0);
	}
	assert_int_equal(count("maildrop"), 0);
}

/* a recipient already marked done has no place in a submission */
static void test_done_in_submission(void **state)
{
	const struct drop_spec spec = {"u@x.test", NULL, 0, 0, NULL, "x\n", 1, {"a@x.test"}};
	struct pickup_result res;
	struct qf_rcpt r;
	char id[QUEUE_ID_SIZE];
	const char *err;
	bool corrupt;
	long off = 0;
	char *path;
	struct qf *q;

	make_drop(&spec, id);
	path = queue_path(qdir, "maildrop", id);
	assert_non_null(q = qf_open(path, true, &corrupt, &err));
	assert_int_equal(qf_read_rcpts(q, &off, &r, 1, true, &err), 1);
	assert_int_equal(qf_mark_done(qf_fd(q), r.offset), 0);
	qf_rcpt_deinit(&r);
	qf_close(&q);
	free(path);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_CORRUPT);
	assert_string_equal(res.reason, "recipient marked done in a submission");
}

/* a requeued queue file: envelope kept, pending recipients only */
static void test_requeued(void **state)
{
	const struct drop_spec spec = {"", NULL, 0, QF_FLAG_BOUNCE, "log_ident=abc",
				       "Subject: report\n\nbody\n", 2,
				       {"done@x.test", "todo@x.test"}};
	struct pickup_result res;
	struct copied m;
	struct qf_rcpt r;
	char id[QUEUE_ID_SIZE];
	const char *err;
	bool corrupt;
	long off = 0;
	char *path;
	struct qf *q;

	make_drop(&spec, id);
	path = queue_path(qdir, "maildrop", id);
	assert_int_equal(chmod(path, QF_MODE_READY), 0);
	assert_non_null(q = qf_open(path, true, &corrupt, &err));
	assert_int_equal(qf_read_rcpts(q, &off, &r, 1, true, &err), 1);
	assert_int_equal(qf_mark_done(qf_fd(q), r.offset), 0);
	qf_rcpt_deinit(&r);
	qf_close(&q);
	free(path);

	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_DONE);
	read_incoming(res.queue_id, &m);
	assert_string_equal(m.env.sender, "");
	assert_int_equal(m.env.flags, QF_FLAG_BOUNCE);
	assert_string_equal(m.env.attrs[0], "log_ident=abc");
	assert_true(m.env.arrival_time > 1700000000.4 && m.env.arrival_time < 1700000000.6);
	assert_int_equal(m.nrcpt, 1);
	assert_string_equal(m.rcpt[0].address, "todo@x.test");
	free_copied(&m);
	assert_int_equal(count("maildrop"), 0);

	/* everything done meanwhile: removed, nothing copied */
	make_drop(&(struct drop_spec){"s@x.test", NULL, 0, 0, NULL, "x\n", 1, {"a@x.test"}}, id);
	assert_int_equal(chmod(path = queue_path(qdir, "maildrop", id), QF_MODE_READY), 0);
	assert_non_null(q = qf_open(path, true, &corrupt, &err));
	off = 0;
	assert_int_equal(qf_read_rcpts(q, &off, &r, 1, true, &err), 1);
	assert_int_equal(qf_mark_done(qf_fd(q), r.offset), 0);
	qf_rcpt_deinit(&r);
	qf_close(&q);
	free(path);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_DONE);
	assert_string_equal(res.reason, "no pending recipients");
	assert_int_equal(count("maildrop"), 0);
	assert_int_equal(count("incoming"), 1);		/* only the first copy */
}

/* a mode-0700 file owned by somebody else is not a requeued file (root only) */
static void test_foreign_owner(void **state)
{
	const struct drop_spec spec = {"u@x.test", NULL, 0, 0, NULL, "x\n", 1, {"a@x.test"}};
	struct pickup_result res;
	char id[QUEUE_ID_SIZE];
	char *path;

	if (geteuid() != 0)
		skip();
	make_drop(&spec, id);
	path = queue_path(qdir, "maildrop", id);
	assert_int_equal(chmod(path, QF_MODE_READY), 0);
	assert_int_equal(chown(path, 12345, 12345), 0);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_CORRUPT);
	assert_non_null(strstr(res.reason, "unexpected mode 0700 for owner uid 12345"));
	/* the same as a submission: copied, with the owner as the identity */
	assert_int_equal(chmod(path, QF_MODE_MAILDROP), 0);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_DONE);
	free(path);
}

/*
 * cleanup refuses for good: returned to the sender (queued with the
 * recipient done and its bounce record written); cannot write incoming/:
 * stop, file kept
 */
static void test_rejected_and_stop(void **state)
{
	const struct drop_spec hops = {"u@x.test", NULL, 0, 0, NULL,
				       "Received: a\nReceived: b\n\nx\n", 1, {"a@x.test"}};
	const struct drop_spec plain = {"u@x.test", NULL, 0, 0, NULL, "x\n", 1, {"a@x.test"}};
	struct pickup_result res;
	char id[QUEUE_ID_SIZE];

	var_hopcount_limit = 2;
	var_queue_directory = qdir;
	make_drop(&hops, id);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_DONE);
	assert_int_equal(count("maildrop"), 0);
	assert_int_equal(count("incoming"), 1);
	assert_int_equal(count("corrupt"), 0);
	assert_int_equal(status_log_exists(qdir, STATUS_LOG_BOUNCE, id), 1);
	{
		struct rcpt_status_rec *recs;
		const char *err;
		long n = status_log_read(qdir, STATUS_LOG_BOUNCE, id, &recs, &err);

		assert_int_equal(n, 1);
		assert_string_equal(recs[0].recipient, "a@x.test");
		assert_string_equal(recs[0].status, "5.4.6");
		assert_string_equal(recs[0].reason, "too many hops");
		status_log_free(&recs, n);
	}
	assert_int_equal(status_log_remove(qdir, STATUS_LOG_BOUNCE, id), 0);
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -f %s/incoming/*", qdir);
		assert_int_equal(system(cmd), 0);
	}

	make_drop(&plain, id);
	assert_int_equal(rmdir(qpath("incoming")), 0);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_STOP);
	assert_non_null(strstr(res.reason, "4.3.0"));
	assert_int_equal(count("maildrop"), 1);
	assert_int_equal(mkdir(qpath("incoming"), 0700), 0);
	assert_int_equal(pickup_file(qdir, id, &res), PICKUP_DONE);
	assert_int_equal(count("maildrop"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_good, each),
		cmocka_unit_test_setup(test_garbage, each),
		cmocka_unit_test_setup(test_links_and_modes, each),
		cmocka_unit_test_setup(test_bad_submissions, each),
		cmocka_unit_test_setup(test_done_in_submission, each),
		cmocka_unit_test_setup(test_requeued, each),
		cmocka_unit_test_setup(test_foreign_owner, each),
		cmocka_unit_test_setup(test_rejected_and_stop, each),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
