/*
 * test_submission - the sendmail->postdrop stream: a good stream (read in
 * one piece or a byte at a time) becomes a maildrop queue file with every
 * field; malformed streams, each a table row, are refused with a reason and
 * leave nothing in maildrop/; the field checks pickup shares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/cleanup/submission.h"
#include "global/dsn.h"
#include "global/queue_file.h"
#include "testlib.h"
#include "util/buf.h"

static char *qdir;

struct mem_in {
	const char *data;
	size_t len, pos, step;
	bool fail_at_end;	/* the read function reports an error at EOF */
};

/* mem_read - submission_read_fn over memory, step bytes per call */
static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem_in *m = ctx;
	size_t take = m->len - m->pos;

	if (take == 0)
		return m->fail_at_end ? -1 : 0;
	if (m->step && take > m->step)
		take = m->step;
	if (take > n)
		take = n;
	memcpy(buf, m->data + m->pos, take);
	m->pos += take;
	return (ssize_t)take;
}

/* setup - queue directory with maildrop/ */
static int setup(void **state)
{
	char path[256];

	qdir = testlib_tmpdir("test_submission");
	snprintf(path, sizeof(path), "%s/maildrop", qdir);
	return mkdir(path, 0700);
}

/* teardown - remove it */
static int teardown(void **state)
{
	int rc = testlib_rmtree(qdir);

	free(qdir);
	return rc;
}

/* maildrop_count - entries in maildrop/ */
static int maildrop_count(void)
{
	char path[256];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "%s/maildrop", qdir);
	assert_non_null(dir = opendir(path));
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* good_stream - a complete submission */
static void good_stream(struct buf *b, const char *content)
{
	submission_put_str(b, 'V', SUBMISSION_VERSION);
	submission_put_str(b, 'S', "user@example.test");
	submission_put_str(b, 'F', "Jane User");
	submission_put_str(b, 'I', "ENV-1");
	submission_put_str(b, 'r', "2");
	submission_put_str(b, 'f', "1");
	submission_put_str(b, 'M', "");
	submission_put_str(b, 'B', content);
	submission_put_str(b, 'X', "");
	submission_put_str(b, 'O', "orig@example.test");
	submission_put_str(b, 'o', "rfc822;orig@example.test");
	submission_put_str(b, 'n', "6");
	submission_put_str(b, 'R', "a@example.test");
	submission_put_str(b, 'R', "b");
	submission_put_str(b, 'E', "");
}

/* collect - content callback */
static int collect(const char *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
	return 0;
}

/* a good stream, whole and byte by byte, becomes a maildrop file */
static void test_good(void **state)
{
	for (size_t step = 0; step < 2; step++) {
		struct buf *b = buf_create(256), *text = buf_create(64);
		struct mem_in in;
		char id[QUEUE_ID_SIZE];
		const char *why = NULL, *err;
		struct qf_envelope env;
		struct qf_rcpt rc[4];
		struct stat st;
		struct qf *q;
		long off = 0;
		bool corrupt;
		char *path;
		int status = 0;

		good_stream(b, "Subject: hi\n\nbody\n");
		in = (struct mem_in){b->data, b->len, 0, step, false};
		if (submission_receive(mem_read, &in, qdir, 0, id, &status, &why) != 0)
			fail_msg("step %zu: %s", step, why);
		path = queue_path(qdir, "maildrop", id);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, QF_MODE_MAILDROP);
		assert_non_null(q = qf_open(path, false, &corrupt, &err));
		assert_int_equal(qf_read_envelope(q, &env, &err), 0);
		assert_string_equal(env.sender, "user@example.test");
		assert_string_equal(env.envid, "ENV-1");
		assert_int_equal(env.ret, DSN_RET_HDRS);
		assert_int_equal(env.flags, QF_FLAG_TRACE_VERBOSE);
		assert_string_equal(env.attrs[0], "full_name=Jane User");
		assert_null(env.attrs[1]);
		assert_int_equal(qf_read_rcpts(q, &off, rc, 4, true, &err), 2);
		assert_string_equal(rc[0].address, "a@example.test");
		assert_string_equal(rc[0].orig_rcpt, "orig@example.test");
		assert_string_equal(rc[0].dsn_orcpt, "rfc822;orig@example.test");
		assert_int_equal(rc[0].notify, DSN_NOTIFY_FAILURE | DSN_NOTIFY_SUCCESS);
		assert_string_equal(rc[1].address, "b");
		assert_string_equal(rc[1].orig_rcpt, "");
		assert_int_equal(rc[1].notify, 0);
		assert_int_equal(qf_read_content(q, collect, text, &err), 0);
		assert_string_equal(text->data, "Subject: hi\n\nbody\n");
		qf_rcpt_deinit(&rc[0]);
		qf_rcpt_deinit(&rc[1]);
		qf_envelope_deinit(&env);
		qf_close(&q);
		unlink(path);
		free(path);
		buf_free(&b);
		buf_free(&text);
	}
	assert_int_equal(maildrop_count(), 0);
}

/* Malformed streams: built from a list of "Tdata" records. */
static const struct {
	const char *records[12];
	const char *why;	/* expected reason (substring) */
	int status;
} bad_rows[] = {
	{{"Vsluice-submission-0"}, "unsupported submission version", 65},
	{{"Vsluice-submission-1", "Ma"}, "submission without sender", 65},
	{{"Vsluice-submission-1", "Sa@b.test"}, "premature end", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "Bx", "X", "E"}, "no recipients", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "X", "Ra@b.test"}, "premature end", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "X", "Ra@b.test", "E", "E"},
	 "data after the end", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "Ix", "Fname", "M"}, "unexpected record", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "f4", "M"}, "bad flags", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "f", "M"}, "bad flags", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "r3", "M"}, "bad DSN RET", 65},
	{{"Vsluice-submission-1", "Sa\nb@b.test", "M"}, "control character", 65},
	{{"Vsluice-submission-1", "Sa@b..test", "M"}, "malformed domain", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "Fbad\rname", "M"}, "control character", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "Ibad envid", "M"}, "printable", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "X", "R"}, "empty address", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "X", "n9", "Rx@y.test", "E"},
	 "bad DSN NOTIFY", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "X", "ox", "Ox", "Rx@y.test", "E"},
	 "unexpected record", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "X", "Bx", "Rx@y.test", "E"},
	 "unexpected record", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "Rx@y.test", "E"}, "unexpected record", 65},
	{{"Vsluice-submission-1", "Sa@b.test", "M", "Bx", "Zjunk"}, "unexpected record", 65},
};

/* each malformed stream is refused and leaves nothing behind */
static void test_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		struct buf *b = buf_create(256);
		struct mem_in in;
		char id[QUEUE_ID_SIZE];
		const char *why = NULL;
		int status = 0;

		for (const char *const *r = bad_rows[i].records; *r; r++)
			submission_put_str(b, (*r)[0], *r + 1);
		in = (struct mem_in){b->data, b->len, 0, 0, false};
		if (submission_receive(mem_read, &in, qdir, 0, id, &status, &why) != -1)
			fail_msg("row %zu accepted", i);
		if (strstr(why, bad_rows[i].why) == NULL || status != bad_rows[i].status)
			fail_msg("row %zu: \"%s\" (%d), want \"%s\" (%d)", i, why, status,
				 bad_rows[i].why, bad_rows[i].status);
		assert_int_equal(maildrop_count(), 0);
		buf_free(&b);
	}
}

/* framing abuse: oversized lengths, NULs, size limit, interrupted reads */
static void test_framing(void **state)
{
	static const char huge[] = {'V', 0x7f, 0, 0, 0};
	static const char nul[] = {'V', 0, 0, 0, 3, 'a', 0, 'b'};
	struct buf *b = buf_create(256);
	struct mem_in in;
	char id[QUEUE_ID_SIZE];
	const char *why;
	int status;

	in = (struct mem_in){huge, sizeof(huge), 0, 0, false};
	assert_int_equal(submission_receive(mem_read, &in, qdir, 0, id, &status, &why), -1);
	assert_non_null(strstr(why, "oversized"));
	in = (struct mem_in){nul, sizeof(nul), 0, 0, false};
	assert_int_equal(submission_receive(mem_read, &in, qdir, 0, id, &status, &why), -1);
	assert_non_null(strstr(why, "NUL"));

	/* content over the limit */
	good_stream(b, "0123456789");
	in = (struct mem_in){b->data, b->len, 0, 0, false};
	assert_int_equal(submission_receive(mem_read, &in, qdir, 9, id, &status, &why), -1);
	assert_string_equal(why, "message size exceeds message_size_limit");
	assert_int_equal(status, 65);
	in = (struct mem_in){b->data, b->len, 0, 0, false};
	assert_int_equal(submission_receive(mem_read, &in, qdir, 10, id, &status, &why), 0);
	assert_int_equal(maildrop_count(), 1);
	{
		char *path = queue_path(qdir, "maildrop", id);

		unlink(path);
		free(path);
	}

	/* the read function gives up half-way (a signal): temporary, nothing left */
	in = (struct mem_in){b->data, b->len / 2, 0, 0, true};
	assert_int_equal(submission_receive(mem_read, &in, qdir, 0, id, &status, &why), -1);
	assert_int_equal(status, 75);
	assert_int_equal(maildrop_count(), 0);
	buf_free(&b);
}

static const struct {
	const char *addr;
	bool null_ok;
	bool ok;
} check_rows[] = {
	{"a@b.test", false, true},
	{"john doe@b.test", false, true},
	{"root", false, true},
	{"", true, true},
	{"", false, false},
	{"a@b..test", false, false},
	{"a@", false, false},
	{"a\tb@c.test", false, false},
	{"a@b.test\n", false, false},
};

/* the field checks */
static void test_checks(void **state)
{
	char longname[SUBMISSION_NAME_MAX + 2];
	const char *why;

	for (size_t i = 0; i < sizeof(check_rows) / sizeof(check_rows[0]); i++) {
		int r = submission_check_address(check_rows[i].addr, check_rows[i].null_ok, &why);

		if ((r == 0) != check_rows[i].ok)
			fail_msg("row %zu \"%s\": %d", i, check_rows[i].addr, r);
	}
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(submission_check_text(longname, SUBMISSION_NAME_MAX, &why), -1);
	longname[SUBMISSION_NAME_MAX] = 0;
	assert_int_equal(submission_check_text(longname, SUBMISSION_NAME_MAX, &why), 0);
	assert_int_equal(submission_check_envid("abc+2B", &why), 0);
	assert_int_equal(submission_check_envid("a b", &why), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_checks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
