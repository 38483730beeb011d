/*
 * test_queue_file - queue files, queue IDs, hashed paths and moves.
 *
 * Round trips (envelope, multi-chunk binary content, recipients read in
 * batches across resume offsets), in-place updates surviving reopen, and
 * strictness: a table of hand-built damaged files, every byte-truncation of
 * valid files, garbage appended, and random single-byte corruption (which
 * must never crash under ASan/UBSan, and on which every reader must agree
 * with qf_validate).  A golden file pins the on-disk format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "global/dsn.h"
#include "global/queue_file.h"
#include "global/rec.h"
#include "testlib.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- helpers ---- */

/* rm_rf - remove a test tree */
static void rm_rf(const char *dir)
{
	assert_int_equal(testlib_rmtree(dir), 0);
}

/*
 * make_queue - a fresh queue directory with default hashing, in memory
 * where there is a tmpfs: these tests check what is written and read back,
 * which no power cut tests here, so the disk's fsync latency (hundreds of
 * fsyncs in all; seconds each on a loaded machine) would only time them out.
 */
static char *make_queue(void)
{
	return testlib_queue_tmp_mem("sluice-qf");
}

/* count_entries - files (not folders) directly in dir */
static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || (de->d_name[1] && strcmp(de->d_name, "..") != 0))
			if (de->d_type == DT_REG)
				n++;
	closedir(d);
	return n;
}

/* read_file - whole file into a buf */
static void read_file(const char *path, struct buf *b)
{
	char chunk[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	buf_reset(b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(b, chunk, (size_t)n);
	close(fd);
}

/* write_file - replace path with data */
static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

struct test_rcpt {
	const char *address, *orig, *orcpt;
	int notify;
};

struct test_msg {
	const char *sender;
	const char *envid;
	int ret;
	long warn;
	int flags;
	double arrival;
	char **attrs;
	const char *content;
	size_t content_len;
	const struct test_rcpt *rcpts;
	size_t nrcpts;
};

/* put_msg - write a message (content in pieces of odd sizes) and commit */
static int put_msg(const char *dir, const char *queue, const struct test_msg *m,
		   char id[QUEUE_ID_SIZE], const char **err)
{
	struct qf_envelope env = {0};
	struct qf_writer *w = qf_create(dir, queue, err);
	size_t done = 0, step = 1;

	assert_non_null(w);
	env.arrival_time = m->arrival;
	env.sender = (char *)m->sender;
	env.envid = (char *)m->envid;
	env.ret = m->ret;
	env.warn_time = m->warn;
	env.flags = m->flags;
	env.attrs = m->attrs;
	qf_put_envelope(w, &env);
	while (done < m->content_len) {
		size_t n = m->content_len - done < step ? m->content_len - done : step;

		qf_put_content(w, m->content + done, n);
		done += n;
		step = step * 7 + 3;	/* 1, 10, 73, 514 ... crosses chunk borders */
	}
	for (size_t i = 0; i < m->nrcpts; i++)
		qf_add_rcpt(w, m->rcpts[i].address, m->rcpts[i].orig, m->rcpts[i].orcpt,
			    m->rcpts[i].notify);
	return qf_commit(&w, id, err);
}

struct collect {
	struct buf *b;
	int calls;
};

static int collect_fn(const char *data, size_t len, void *ctx)
{
	struct collect *c = ctx;

	c->calls++;
	buf_append(c->b, data, len);
	return 0;
}

static const struct test_rcpt small_rcpts[] = {
	{"a@x.test", "A@X.test", "rfc822;a@x.test", DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY},
	{"b@y.test", NULL, NULL, 0},
	{"c@z.test", "", "", DSN_NOTIFY_NEVER},
	{"d@z.test", NULL, "rfc822;d@z.test", 0},
	{"e@z.test", "list@z.test", NULL, DSN_NOTIFY_SUCCESS},
};

/* small_msg - a message with every optional record */
static struct test_msg small_msg(void)
{
	static char *attrs[] = {"rewrite_context=local", "log_client_address=127.0.0.1",
				"empty=", NULL};
	static const char content[] = "Subject: test\n\nline one\r\nline\0two\n\xff\xfe\n";
	struct test_msg m = {
		.sender = "sender@example.test", .envid = "ENV-1", .ret = DSN_RET_HDRS,
		.warn = 1700003600, .flags = QF_FLAG_TRACE_VERBOSE, .arrival = 1700000000.25,
		.attrs = attrs, .content = content, .content_len = sizeof(content) - 1,
		.rcpts = small_rcpts, .nrcpts = sizeof(small_rcpts) / sizeof(small_rcpts[0]),
	};

	return m;
}

/* ---- judging a file ---- */

enum verdict { V_VALID, V_CORRUPT, V_IOERR };
static char verdict_why[512];

/* judge - run every reader; they must agree with qf_validate */
static enum verdict judge(const char *path)
{
	struct qf_envelope env;
	struct qf_rcpt batch[7];
	struct buf content;
	struct collect c = {&content, 0};
	const char *err;
	bool corrupt;
	struct qf *q;
	long offset = 0, n;
	int rc, worst = 0, vrc;

	verdict_why[0] = 0;
	if ((q = qf_open(path, false, &corrupt, &err)) == NULL) {
		snprintf(verdict_why, sizeof(verdict_why), "%s", err);
		return corrupt ? V_CORRUPT : V_IOERR;
	}
#define NOTE(rc) do { if ((rc) < 0 && worst == 0) { worst = (rc); \
		snprintf(verdict_why, sizeof(verdict_why), "%s", err); } } while (0)
	rc = qf_read_envelope(q, &env, &err);
	if (rc == 0)
		qf_envelope_deinit(&env);
	NOTE(rc);
	buf_init(&content, 0);
	rc = qf_read_content(q, collect_fn, &c, &err);
	NOTE(rc);
	buf_deinit(&content);
	for (int pass = 0; pass < 2; pass++) {
		offset = 0;
		do {
			n = qf_read_rcpts(q, &offset, batch, 7, pass == 1, &err);
			if (n < 0) {
				NOTE((int)n);
				break;
			}
			for (long i = 0; i < n; i++)
				qf_rcpt_deinit(&batch[i]);
		} while (offset != 0);
	}
	vrc = qf_validate(q, &err);
	/* qf_validate is the sum of the readers: they must agree. */
	assert_int_equal(vrc == 0, worst == 0);
	if (vrc != 0 && verdict_why[0] == 0)
		snprintf(verdict_why, sizeof(verdict_why), "%s", err);
#undef NOTE
	qf_close(&q);
	if (worst == 0)
		return V_VALID;
	return worst == QF_CORRUPT ? V_CORRUPT : V_IOERR;
}

/* ---- round trips ---- */

/* envelope, content and recipients come back exactly; file is named and ready */
static void test_roundtrip(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path;
	struct test_msg m = small_msg();
	struct qf_envelope env;
	struct qf_rcpt r[16];
	struct buf content;
	struct collect c = {&content, 0};
	const char *err;
	struct stat st;
	bool corrupt;
	struct qf *q;
	long offset = 0, now = (long)time(NULL);

	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	assert_true(queue_id_valid(id));
	assert_true(queue_id_time(id) >= now - 1 && queue_id_time(id) <= now + 1);
	path = queue_path(dir, "incoming", id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY);
	assert_true(qf_mode_ready(st.st_mode));
	free(path);
	path = xasprintf("%s/incoming", dir);
	assert_int_equal(count_entries(path), 1);
	free(path);
	path = queue_path(dir, "incoming", id);

	q = qf_open(path, false, &corrupt, &err);
	assert_non_null(q);
	assert_int_equal(qf_read_envelope(q, &env, &err), 0);
	assert_true(env.arrival_time == 1700000000.25);
	assert_string_equal(env.sender, "sender@example.test");
	assert_string_equal(env.envid, "ENV-1");
	assert_int_equal(env.ret, DSN_RET_HDRS);
	assert_int_equal(env.warn_time, 1700003600);
	assert_int_equal(env.warn_offset, QF_WARN_OFFSET);
	assert_int_equal(env.flags, QF_FLAG_TRACE_VERBOSE);
	assert_int_equal(env.content_size, (long)m.content_len);
	assert_int_equal(env.rcpt_count, 5);
	assert_string_equal(env.attrs[0], "rewrite_context=local");
	assert_string_equal(env.attrs[1], "log_client_address=127.0.0.1");
	assert_string_equal(env.attrs[2], "empty=");
	assert_null(env.attrs[3]);
	qf_envelope_deinit(&env);

	buf_init(&content, 0);
	assert_int_equal(qf_read_content(q, collect_fn, &c, &err), 0);
	assert_int_equal(content.len, m.content_len);
	assert_memory_equal(content.data, m.content, m.content_len);
	buf_deinit(&content);

	assert_int_equal(qf_read_rcpts(q, &offset, r, 16, false, &err), 5);
	assert_int_equal(offset, 0);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(r[i].address, small_rcpts[i].address);
		assert_string_equal(r[i].orig_rcpt, small_rcpts[i].orig ? small_rcpts[i].orig : "");
		assert_string_equal(r[i].dsn_orcpt, small_rcpts[i].orcpt ? small_rcpts[i].orcpt : "");
		assert_int_equal(r[i].notify, small_rcpts[i].notify);
		assert_false(r[i].done);
		assert_true(i == 0 || r[i].offset > r[i - 1].offset);
		qf_rcpt_deinit(&r[i]);
	}
	assert_int_equal(qf_validate(q, &err), 0);
	qf_close(&q);
	assert_null(q);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* a big binary message: several B records, every byte value, odd write sizes */
static void test_big_binary_content(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path;
	size_t len = 3 * QF_CHUNK_SIZE + 12345;
	char *data = xmalloc(len);
	struct test_rcpt one = {"x@y.test", NULL, NULL, 0};
	struct test_msg m = {.sender = "", .arrival = 1.5, .content = data,
			     .content_len = len, .rcpts = &one, .nrcpts = 1};
	struct buf content;
	struct collect c = {&content, 0};
	struct qf_envelope env;
	const char *err;
	bool corrupt;
	struct qf *q;

	for (size_t i = 0; i < len; i++)
		data[i] = (char)((i * 131 + i / 256) & 0xff);
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	q = qf_open(path, false, &corrupt, &err);
	assert_non_null(q);
	assert_int_equal(qf_read_envelope(q, &env, &err), 0);
	assert_string_equal(env.sender, "");		/* the null sender */
	assert_string_equal(env.envid, "");
	assert_int_equal(env.ret, 0);
	assert_null(env.attrs[0]);
	assert_true(env.arrival_time == 1.5);
	qf_envelope_deinit(&env);
	buf_init(&content, 0);
	assert_int_equal(qf_read_content(q, collect_fn, &c, &err), 0);
	assert_int_equal(c.calls, 4);			/* 3 full chunks and the rest */
	assert_int_equal(content.len, len);
	assert_memory_equal(content.data, data, len);
	buf_deinit(&content);
	assert_int_equal(qf_validate(q, &err), 0);
	qf_close(&q);
	free(path);
	free(data);
	rm_rf(dir);
	free(dir);
}

static int stop_fn(const char *data, size_t len, void *ctx)
{
	return -1;
}

/* empty content is legal; a content callback that stops makes the read fail */
static void test_empty_content_and_stop(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path;
	struct test_rcpt one = {"x@y.test", NULL, NULL, 0};
	struct test_msg m = {.sender = "s@t.test", .arrival = 2, .rcpts = &one, .nrcpts = 1};
	struct buf content;
	struct collect c = {&content, 0};
	const char *err;
	bool corrupt;
	struct qf *q;

	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	q = qf_open(path, false, &corrupt, &err);
	assert_non_null(q);
	buf_init(&content, 0);
	assert_int_equal(qf_read_content(q, collect_fn, &c, &err), 0);
	assert_int_equal(c.calls, 0);
	buf_deinit(&content);
	assert_int_equal(qf_validate(q, &err), 0);
	qf_close(&q);
	free(path);

	m.content = "hello\n";
	m.content_len = 6;
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	q = qf_open(path, false, &corrupt, &err);
	assert_int_equal(qf_read_content(q, stop_fn, NULL, &err), -1);
	qf_close(&q);
	free(path);
	rm_rf(dir);
	free(dir);
}

#define MANY 1000

/* many recipients read 7 at a time across resume offsets; marks survive reopen */
static void test_many_rcpts_and_marks(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path;
	struct test_rcpt *rc = xcalloc(MANY, sizeof(*rc));
	char **names = xcalloc(MANY, sizeof(char *));
	long offsets[MANY];
	struct test_msg m = {.sender = "s@t.test", .arrival = 3, .content = "x\n",
			     .content_len = 2, .rcpts = rc, .nrcpts = MANY};
	struct qf_rcpt batch[7];
	const char *err;
	bool corrupt;
	struct qf *q;
	long offset, n, seen;
	int calls;

	for (int i = 0; i < MANY; i++) {
		names[i] = xasprintf("user%d@example.test", i);
		rc[i].address = names[i];
		rc[i].notify = i % 3 == 0 ? DSN_NOTIFY_SUCCESS : 0;
	}
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);

	/* All of them, in order, in batches of 7. */
	q = qf_open(path, true, &corrupt, &err);
	assert_non_null(q);
	offset = 0;
	seen = 0;
	calls = 0;
	do {
		n = qf_read_rcpts(q, &offset, batch, 7, false, &err);
		assert_true(n >= 0);
		assert_true(n == 7 || offset == 0);
		calls++;
		for (long i = 0; i < n; i++, seen++) {
			assert_string_equal(batch[i].address, names[seen]);
			assert_int_equal(batch[i].notify, rc[seen].notify);
			offsets[seen] = batch[i].offset;
			qf_rcpt_deinit(&batch[i]);
		}
	} while (offset != 0);
	assert_int_equal(seen, MANY);
	assert_int_equal(calls, (MANY + 6) / 7);

	/* Mark every third done (twice: marking is idempotent). */
	for (int i = 0; i < MANY; i += 3) {
		assert_int_equal(qf_mark_done(qf_fd(q), offsets[i]), 0);
		assert_int_equal(qf_mark_done(qf_fd(q), offsets[i]), 0);
	}
	/* Not an R/D record: the content, a length byte, past the end. */
	assert_int_equal(qf_mark_done(qf_fd(q), offsets[1] + 1), QF_CORRUPT);
	assert_int_equal(qf_mark_done(qf_fd(q), 50), QF_CORRUPT);
	assert_int_equal(qf_mark_done(qf_fd(q), 1L << 40), QF_CORRUPT);
	qf_close(&q);

	/* Reopen: only the pending ones, still in order, still 7 at a time. */
	q = qf_open(path, false, &corrupt, &err);
	assert_non_null(q);
	offset = 0;
	seen = 0;
	calls = 0;
	do {
		n = qf_read_rcpts(q, &offset, batch, 7, false, &err);
		assert_true(n >= 0);
		for (long i = 0; i < n; i++, calls++) {
			while (seen % 3 == 0)
				seen++;
			assert_string_equal(batch[i].address, names[seen]);
			assert_int_equal(batch[i].offset, offsets[seen]);
			assert_false(batch[i].done);
			seen++;
			qf_rcpt_deinit(&batch[i]);
		}
	} while (offset != 0);
	assert_int_equal(calls, MANY - (MANY + 2) / 3);	/* 666 pending */

	/* include_done: everybody, with the marks. */
	offset = 0;
	seen = 0;
	do {
		n = qf_read_rcpts(q, &offset, batch, 7, true, &err);
		assert_true(n >= 0);
		for (long i = 0; i < n; i++, seen++) {
			assert_int_equal(batch[i].done, seen % 3 == 0);
			qf_rcpt_deinit(&batch[i]);
		}
	} while (offset != 0);
	assert_int_equal(seen, MANY);

	/* A resume offset outside the recipient segment is refused, as is max 0. */
	offset = 10;
	assert_int_equal(qf_read_rcpts(q, &offset, batch, 7, true, &err), -1);
	offset = 0;
	assert_int_equal(qf_read_rcpts(q, &offset, batch, 0, true, &err), -1);
	assert_int_equal(qf_validate(q, &err), 0);
	qf_close(&q);

	for (int i = 0; i < MANY; i++)
		free(names[i]);
	free(names);
	free(rc);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* the warn record is rewritten in place and survives reopen */
static void test_set_warn(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path;
	struct test_msg m = small_msg();
	struct qf_envelope env;
	const char *err;
	bool corrupt;
	struct qf *q;
	static const long values[] = {-1, 0, 42, 999999999999999L, -99999999999999L};

	assert_int_equal(put_msg(dir, "deferred", &m, id, &err), 0);
	path = queue_path(dir, "deferred", id);
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		q = qf_open(path, true, &corrupt, &err);
		assert_non_null(q);
		assert_int_equal(qf_read_envelope(q, &env, &err), 0);
		assert_int_equal(qf_set_warn(qf_fd(q), i % 2 ? &env : NULL, values[i]), 0);
		qf_envelope_deinit(&env);
		qf_close(&q);
		q = qf_open(path, false, &corrupt, &err);
		assert_non_null(q);
		assert_int_equal(qf_read_envelope(q, &env, &err), 0);
		assert_int_equal(env.warn_time, values[i]);
		assert_int_equal(qf_validate(q, &err), 0);
		qf_envelope_deinit(&env);
		qf_close(&q);
	}
	q = qf_open(path, true, &corrupt, &err);
	assert_int_equal(qf_set_warn(qf_fd(q), NULL, 1000000000000000L), -1);
	memset(&env, 0, sizeof(env));
	env.warn_offset = QF_WARN_OFFSET + 1;	/* not a W record */
	assert_int_equal(qf_set_warn(qf_fd(q), &env, -1), QF_CORRUPT);
	qf_close(&q);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* corrupt mark, ready test and locks */
static void test_mode_and_locks(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path;
	struct test_msg m = small_msg();
	const char *err;
	struct stat st;
	bool corrupt;
	struct qf *a, *b;

	assert_int_equal(put_msg(dir, "active", &m, id, &err), 0);
	path = queue_path(dir, "active", id);
	a = qf_open(path, true, &corrupt, &err);
	b = qf_open(path, true, &corrupt, &err);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(qf_lock(qf_fd(a), false), 0);		/* agent: shared */
	assert_int_equal(qf_lock(qf_fd(b), true), -1);		/* qmgr: busy */
	assert_true(errno == EWOULDBLOCK);
	qf_close(&a);
	assert_int_equal(qf_lock(qf_fd(b), true), 0);
	assert_int_equal(qf_mark_corrupt(qf_fd(b)), 0);
	qf_close(&b);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_CORRUPT);
	assert_false(qf_mode_ready(st.st_mode));
	assert_false(qf_mode_ready(0600));
	assert_true(qf_mode_ready(0700 | QF_MODE_UNTHROTTLE));
	assert_true(qf_mode_ready(QF_MODE_MAILDROP));
	free(path);

	/* maildrop files are readable by pickup, another user */
	assert_int_equal(put_msg(dir, "maildrop", &m, id, &err), 0);
	path = queue_path(dir, "maildrop", id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_MAILDROP);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* open failures that are not damage say so: missing, folder, symlink */
static void test_open_failures(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path, *other;
	struct test_msg m = small_msg();
	const char *err;
	bool corrupt;
	static const char *const cases[] = {"missing", "folder", "symlink", "empty"};

	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	other = xasprintf("%s/hold/x", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(other);
		rmdir(other);
		if (i == 1)
			assert_int_equal(mkdir(other, 0700), 0);
		if (i == 2)
			assert_int_equal(symlink(path, other), 0);
		if (i == 3)
			write_file(other, "", 0);
		corrupt = i != 3;
		assert_null(qf_open(other, false, &corrupt, &err));
		assert_int_equal(corrupt, i == 3);
		assert_true(*err != 0);
	}
	free(other);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* ---- the writer refuses what it cannot store, and cleans up ---- */

static void test_writer_failures(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE];
	char *incoming = xasprintf("%s/incoming", dir);
	struct test_rcpt empty = {"", NULL, NULL, 0};
	struct test_rcpt badnotify = {"a@b.test", NULL, NULL, DSN_NOTIFY_NEVER | DSN_NOTIFY_DELAY};
	struct test_rcpt good = {"a@b.test", NULL, NULL, 0};
	char *badattr[] = {"novalue", NULL};
	struct test_msg m = {.sender = "s@t.test", .arrival = 1, .content = "x\n", .content_len = 2};
	struct qf_envelope env = {.sender = "s@t.test"};
	struct qf_writer *w;
	struct rlimit old, lim;
	const char *err;
	char *big;

	m.rcpts = &empty;
	m.nrcpts = 1;
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), -1);
	assert_non_null(strstr(err, "empty recipient"));
	m.rcpts = &badnotify;
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), -1);
	assert_non_null(strstr(err, "NOTIFY"));
	m.nrcpts = 0;
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), -1);
	assert_non_null(strstr(err, "no recipients"));
	m.rcpts = &good;
	m.nrcpts = 1;
	m.attrs = badattr;
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), -1);
	assert_non_null(strstr(err, "attribute"));
	m.attrs = NULL;

	/* A recipient over 1 MiB cannot be a record. */
	big = xmalloc(REC_MAX_LEN + 2);
	memset(big, 'a', REC_MAX_LEN + 1);
	big[REC_MAX_LEN + 1] = 0;
	w = qf_create(dir, "incoming", &err);
	qf_put_envelope(w, &env);
	qf_add_rcpt(w, big, NULL, NULL, 0);
	assert_int_equal(qf_commit(&w, id, &err), -1);
	assert_null(w);
	free(big);

	/* qf_abort leaves nothing */
	w = qf_create(dir, "incoming", &err);
	assert_non_null(w);
	assert_int_equal(count_entries(incoming), 1);
	qf_abort(&w);
	assert_null(w);

	/* A file size limit: the write fails, the commit fails, nothing is left. */
	signal(SIGXFSZ, SIG_IGN);
	big = xcalloc(1, 300000);
	m.content = big;
	m.content_len = 300000;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), -1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_non_null(strstr(err, "write queue file"));
	free(big);

	/* A missing queue folder is an error from qf_create. */
	assert_null(qf_create(dir, "nonexistent", &err));
	assert_non_null(strstr(err, "nonexistent"));

	assert_int_equal(count_entries(incoming), 0);
	free(incoming);
	rm_rf(dir);
	free(dir);
}

/* ---- strictness: hand-built files ---- */

struct trec {
	int type;		/* 0: raw bytes in data[0..len) */
	const char *data;
	int len;		/* -1: strlen(data) */
};

struct tweak {
	long content_offset, content_size, rcpt_offset, rcpt_count, size, flags;
};

#define W0 "              0"
#define BASE_ENV {'W', W0, -1}, {'T', "1700000000 5", -1}, {'S', "a@b.test", -1}
#define END_OK {'M', "", 0}, {'B', "hello\n", -1}, {'X', "", 0}, {'R', "c@d.test", -1}, {'E', "", 0}

struct strict_case {
	const char *name;
	struct trec recs[20];
	struct tweak tweak;
	const char *want;	/* NULL: valid; else a substring of the reason */
};

static const struct strict_case strict_cases[] = {
	{"baseline", {BASE_ENV, END_OK}, {0}, NULL},
	{"all optional records", {BASE_ENV, {'i', "E1", -1}, {'<', "1", -1}, {'A', "a=b", -1},
		{'A', "c=", -1}, {'M', "", 0}, {'B', "x", -1}, {'B', "y", -1}, {'X', "", 0},
		{'O', "o@d.test", -1}, {'o', "rfc822;c@d.test", -1}, {'n', "6", -1},
		{'D', "c@d.test", -1}, {'R', "e@d.test", -1}, {'E', "", 0}}, {0}, NULL},
	{"missing arrival", {{'W', W0, -1}, {'S', "a@b.test", -1}, END_OK}, {0},
		"missing arrival time"},
	{"missing sender", {{'W', W0, -1}, {'T', "1700000000 123456", -1}, END_OK}, {0},
		"missing sender"},
	{"missing warn", {{'T', "1 2", -1}, {'S', "a@b.test", -1}, END_OK}, {0}, "missing warn"},
	{"sender before arrival", {{'W', W0, -1}, {'S', "a@b.test", -1}, {'T', "1 2", -1},
		END_OK}, {0}, "missing arrival time"},
	{"two senders", {BASE_ENV, {'S', "x@b.test", -1}, END_OK}, {0}, "out of order"},
	{"attribute before ret", {BASE_ENV, {'A', "a=b", -1}, {'<', "1", -1}, END_OK}, {0},
		"out of order"},
	{"unknown envelope record", {BASE_ENV, {'Z', "z", -1}, END_OK}, {0},
		"unexpected record 'Z' in envelope"},
	{"short warn record", {{'W', "             0", -1}, {'T', "1 2", -1},
		{'S', "a@b.test", -1}, END_OK}, {0}, "warn record"},
	{"bad arrival", {{'W', W0, -1}, {'T', "12", -1}, {'S', "a@b.test", -1}, END_OK}, {0},
		"arrival time"},
	{"arrival ends in a space", {{'W', W0, -1}, {'T', "12 ", -1}, {'S', "a", -1}, END_OK},
		{0}, "arrival time"},
	{"arrival with a sign", {{'W', W0, -1}, {'T', "12 -5", -1}, {'S', "a", -1}, END_OK},
		{0}, "arrival time"},
	{"arrival usec too big", {{'W', W0, -1}, {'T', "1 1000000", -1}, {'S', "a", -1},
		END_OK}, {0}, "arrival time"},
	{"NUL in sender", {{'W', W0, -1}, {'T', "1 2", -1}, {'S', "a\0b", 3}, END_OK}, {0},
		"NUL byte"},
	{"bad ret", {BASE_ENV, {'<', "3", -1}, END_OK}, {0}, "DSN RET"},
	{"empty envid", {BASE_ENV, {'i', "", 0}, END_OK}, {0}, "empty record 'i'"},
	{"attribute without name", {BASE_ENV, {'A', "=x", -1}, END_OK}, {0}, "attribute"},
	{"attribute without =", {BASE_ENV, {'A', "x", -1}, END_OK}, {0}, "attribute"},
	{"non-empty end of envelope", {BASE_ENV, {'M', "x", -1}, {'B', "h", -1}, {'X', "", 0},
		{'R', "c", -1}, {'E', "", 0}}, {0}, "end of envelope"},
	{"no end of envelope", {BASE_ENV, {'X', "", 0}, {'R', "c", -1}, {'E', "", 0}}, {0},
		"runs into the content"},
	{"empty content record", {BASE_ENV, {'M', "", 0}, {'B', "", 0}, {'X', "", 0},
		{'R', "c", -1}, {'E', "", 0}}, {0}, "content record of 0 bytes"},
	{"recipient in content", {BASE_ENV, {'M', "", 0}, {'B', "h", -1}, {'R', "c", -1},
		{'X', "", 0}, {'R', "abc@d.test", -1}, {'E', "", 0}}, {.rcpt_count = -1},
		"unexpected record 'R' in content"},
	{"content size too small", {BASE_ENV, END_OK}, {.content_size = -1}, "content"},
	{"content size too big", {BASE_ENV, END_OK}, {.content_size = 1}, "content"},
	{"recipient count too big", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'R', "abc@d.test", -1},
		{'R', "abc@d.test", -1}, {'E', "", 0}}, {.rcpt_count = 1}, "recipients"},
	{"recipient count too small", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'R', "c", -1},
		{'R', "c", -1}, {'E', "", 0}}, {.rcpt_count = -1}, "recipients"},
	{"no recipients", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'E', "", 0}}, {0},
		"inconsistent size record"},
	{"empty recipient", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'R', "", 0},
		{'R', "abc@d.test", -1}, {'E', "", 0}}, {0}, "empty record 'R'"},
	{"two originals", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'O', "a", -1}, {'O', "b", -1},
		{'R', "c", -1}, {'E', "", 0}}, {0}, "out of order"},
	{"orcpt before original", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'o', "a", -1},
		{'O', "b", -1}, {'R', "c", -1}, {'E', "", 0}}, {0}, "out of order"},
	{"bad notify", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'n', "16", -1}, {'R', "c", -1},
		{'E', "", 0}}, {0}, "NOTIFY"},
	{"never with success", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'n', "3", -1},
		{'R', "c", -1}, {'E', "", 0}}, {0}, "NOTIFY"},
	{"group without recipient", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'R', "c", -1},
		{'O', "a", -1}, {'E', "", 0}}, {0}, "no R/D record"},
	{"data after end", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'R', "c", -1}, {'E', "", 0},
		{'R', "c", -1}, {'E', "", 0}}, {.rcpt_count = -1}, "after the end marker"},
	{"unknown flags", {BASE_ENV, END_OK}, {.flags = 16}, "unknown flags"},
	{"size field wrong", {BASE_ENV, END_OK}, {.size = 1}, "differs"},
	{"rcpt offset wrong", {BASE_ENV, END_OK}, {.rcpt_offset = 1}, "content"},
	{"padded length", {BASE_ENV, {0, "S\x81\x00x", 4}, END_OK}, {0}, "non-canonical"},
	{"length over 1 MiB", {BASE_ENV, {0, "A\xff\xff\x7f", 4}, END_OK}, {0}, "exceeds 1 MiB"},
	{"length field too long", {BASE_ENV, {0, "A\x80\x80\x80\x01", 5}, END_OK}, {0},
		"too long"},
	{"record past the end", {BASE_ENV, {'M', "", 0}, {'X', "", 0}, {'R', "abc@d.test", -1},
		{0, "R\x7f" "E\0", 4}}, {.rcpt_count = 1}, "past the end"},
};

/* build - write recs behind a computed (and tweaked) size record */
static void build(const char *path, const struct trec *recs, const struct tweak *t)
{
	struct buf b;
	char size[128];
	long content_offset = 0, content_size = 0, rcpt_offset = 0, rcpt_count = 0, x_at = 0;

	buf_init(&b, 256);
	buf_append(&b, "C_", 2);
	buf_append(&b, "_______________________________________________________________"
		   "________________________________", 95);
	for (const struct trec *r = recs; r->type || r->data; r++) {
		size_t len = r->len < 0 ? strlen(r->data) : (size_t)r->len;

		if (r->type == 0) {
			buf_append(&b, r->data, len);
			continue;
		}
		rec_put(&b, r->type, r->data, len);
		if (r->type == 'M' && content_offset == 0)
			content_offset = (long)b.len;
		if (r->type == 'B')
			content_size += (long)len;
		if (r->type == 'X' && rcpt_offset == 0) {
			rcpt_offset = (long)b.len;
			x_at = rcpt_offset - 2;
		}
		if (r->type == 'R' || r->type == 'D')
			rcpt_count++;
	}
	if (content_offset == 0)	/* no M: say the content starts at X */
		content_offset = x_at;
	snprintf(size, sizeof(size), "%15ld %15ld %15ld %15ld %15ld %15ld",
		 content_offset + t->content_offset, content_size + t->content_size,
		 rcpt_offset + t->rcpt_offset, rcpt_count + t->rcpt_count,
		 (long)b.len + t->size, t->flags);
	b.data[0] = 'C';
	b.data[1] = 95;
	memcpy(b.data + 2, size, 95);
	write_file(path, b.data, b.len);
	buf_deinit(&b);
}

/* every damaged file in the table is corrupt, for the stated reason */
static void test_strict_table(void **state)
{
	char *dir = make_queue();
	char *path = xasprintf("%s/corrupt/case", dir);

	for (size_t i = 0; i < sizeof(strict_cases) / sizeof(strict_cases[0]); i++) {
		const struct strict_case *c = &strict_cases[i];
		enum verdict v;

		build(path, c->recs, &c->tweak);
		v = judge(path);
		if (c->want == NULL) {
			if (v != V_VALID)
				fail_msg("case \"%s\": expected valid, got %s", c->name, verdict_why);
			continue;
		}
		if (v != V_CORRUPT)
			fail_msg("case \"%s\": expected corrupt, got %d", c->name, v);
		if (c->want && strstr(verdict_why, c->want) == NULL)
			fail_msg("case \"%s\": reason \"%s\" lacks \"%s\"", c->name, verdict_why,
				 c->want);
	}
	free(path);
	rm_rf(dir);
	free(dir);
}

/* ---- strictness: truncation, appended garbage, random damage ---- */

/* reframe - make a cut file look framed: E at the end, size record patched */
static void reframe(const char *path, const char *data, size_t len, size_t cut)
{
	struct buf b;
	char num[16];

	buf_init(&b, len + 2);
	buf_append(&b, data, cut);
	buf_append(&b, "E", 2);		/* 'E' and its NUL length */
	snprintf(num, sizeof(num), "%15ld", (long)b.len);
	memcpy(b.data + 2 + 4 * 16, num, 15);	/* field 5: file size */
	write_file(path, b.data, b.len);
	buf_deinit(&b);
}

/* is_boundary - does a record start at off? (walk from 0) */
static bool is_boundary(const char *data, size_t len, size_t off)
{
	size_t pos = 0, rlen;
	int type, h;
	const char *why;

	while (pos < off) {
		h = rec_decode_hdr((const unsigned char *)data + pos, len - pos, &type, &rlen, &why);
		if (h <= 0)
			return false;
		pos += (size_t)h + rlen;
	}
	return pos == off;
}

#define NEAR	64	/* bytes either side of a record start that are all cut */

/* near_boundary - is off within NEAR bytes of a record start or of the end? */
static bool near_boundary(const char *data, size_t len, size_t off)
{
	size_t pos = 0, rlen;
	int type, h;
	const char *why;

	while (pos < len) {
		if (off + NEAR >= pos && off <= pos + NEAR)
			return true;
		h = rec_decode_hdr((const unsigned char *)data + pos, len - pos, &type, &rlen, &why);
		if (h <= 0)
			return true;
		pos += (size_t)h + rlen;
	}
	return off + NEAR >= len;
}

/*
 * truncate_all - cuts of the file at path are corrupt, also when reframed.
 * Plain cuts: every length when stride is 1; else every length within NEAR
 * bytes of a record start and every stride-th one inside long records
 * (cuts there differ only in how many payload bytes are left).  Reframed
 * cuts: at every record boundary.
 */
static void truncate_all(const char *path, const char *scratch, bool reframed_too, size_t stride)
{
	struct buf orig;
	int fd;

	buf_init(&orig, 0);
	read_file(path, &orig);
	assert_int_equal(judge(path), V_VALID);

	/* Plain cuts: shrink one copy step by step (no rewrite per length). */
	write_file(scratch, orig.data, orig.len);
	fd = open(scratch, O_RDWR);
	for (size_t len = orig.len; len-- > 0;) {
		if (stride > 1 && len % stride != 0 && !near_boundary(orig.data, orig.len, len))
			continue;
		assert_int_equal(ftruncate(fd, (off_t)len), 0);
		if (judge(scratch) != V_CORRUPT)
			fail_msg("truncation to %zu of %zu bytes not judged corrupt", len, orig.len);
	}
	close(fd);

	/*
	 * Cuts at record boundaries, re-framed so that the frame check passes:
	 * the deep checks alone must still find what is missing.
	 */
	for (size_t cut = 97; reframed_too && cut + 2 < orig.len; cut++) {
		if (!is_boundary(orig.data, orig.len, cut))
			continue;
		reframe(scratch, orig.data, orig.len, cut);
		if (judge(scratch) != V_CORRUPT)
			fail_msg("reframed cut at %zu of %zu bytes not judged corrupt", cut, orig.len);
	}
	buf_deinit(&orig);
}

/*
 * every byte-truncation of a small valid file is corrupt; so is every one of
 * a multi-chunk file near its record starts, and every 61st inside its
 * 64 KiB content records (truncate_all)
 */
static void test_every_truncation(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path, *scratch;
	struct test_msg m = small_msg();
	size_t len = 2 * QF_CHUNK_SIZE + 7;
	char *data = xcalloc(1, len);
	const char *err;

	scratch = xasprintf("%s/corrupt/scratch", dir);
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	truncate_all(path, scratch, true, 1);
	free(path);

	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i % 251);
	m.content = data;
	m.content_len = len;
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	truncate_all(path, scratch, true, 61);
	free(path);

	free(scratch);
	free(data);
	rm_rf(dir);
	free(dir);
}

/* anything after the end marker is corrupt, framed or not */
static void test_garbage_appended(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path, *scratch;
	struct test_msg m = small_msg();
	static const struct {
		const char *bytes;
		size_t len;
		bool patch_size;
		const char *want;
	} cases[] = {
		{"x", 1, false, "differs"},
		{"E", 2, false, "differs"},
		{"E", 2, true, "after the end marker"},
		{"R\x03" "a@b" "E", 7, true, "after the end marker"},
		{"\n", 1, true, "end marker"},
	};
	struct buf orig, b;
	const char *err;
	char num[16];

	scratch = xasprintf("%s/corrupt/scratch", dir);
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	buf_init(&orig, 0);
	buf_init(&b, 0);
	read_file(path, &orig);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		buf_append(&b, orig.data, orig.len);
		buf_append(&b, cases[i].bytes, cases[i].len);
		if (cases[i].patch_size) {
			snprintf(num, sizeof(num), "%15ld", (long)b.len);
			memcpy(b.data + 2 + 4 * 16, num, 15);
		}
		write_file(scratch, b.data, b.len);
		assert_int_equal(judge(scratch), V_CORRUPT);
		if (strstr(verdict_why, cases[i].want) == NULL)
			fail_msg("case %zu: reason \"%s\" lacks \"%s\"", i, verdict_why, cases[i].want);
	}
	buf_deinit(&orig);
	buf_deinit(&b);
	free(path);
	free(scratch);
	rm_rf(dir);
	free(dir);
}

/* random single-byte damage never crashes; readers agree with qf_validate */
static void test_random_corruption(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *path, *scratch;
	struct test_msg m = small_msg();
	struct buf orig;
	const char *err;
	int detected = 0, fd, rounds = 4000;
	unsigned seed = 12345;

	scratch = xasprintf("%s/corrupt/scratch", dir);
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	buf_init(&orig, 0);
	read_file(path, &orig);
	write_file(scratch, orig.data, orig.len);
	fd = open(scratch, O_RDWR);
	assert_true(fd >= 0);
	for (int i = 0; i < rounds; i++) {
		size_t at = (size_t)rand_r(&seed) % orig.len;
		char c = (char)(orig.data[at] ^ (1 + rand_r(&seed) % 255));
		long where = (long)((size_t)rand_r(&seed) % (orig.len + 10));
		int rc;

		assert_int_equal(pwrite(fd, &c, 1, (off_t)at), 1);
		if (judge(scratch) == V_CORRUPT)
			detected++;
		/* In-place updates at arbitrary places must not crash either. */
		rc = qf_mark_done(fd, where);
		assert_true(rc == 0 || rc == QF_CORRUPT);
		rc = qf_set_warn(fd, NULL, -1);
		assert_true(rc == 0 || rc == QF_CORRUPT);
		assert_int_equal(pwrite(fd, orig.data, orig.len, 0), (ssize_t)orig.len);
	}
	close(fd);
	/* Most bytes are structure; a flip in a string or the content is not. */
	assert_true(detected > rounds / 4);
	assert_true(detected < rounds);
	buf_deinit(&orig);
	free(path);
	free(scratch);
	rm_rf(dir);
	free(dir);
}

/* ---- queue IDs ---- */

static void test_queue_id_format(void **state)
{
	static const struct {
		long sec, usec;
		unsigned long inode;
		const char *want;
	} rows[] = {
		{0, 0, 1, "00000000001"},
		{1, 0, 1, "00000100001"},
		{51, 0, 51, "00000z0000z"},
		{52, 999999, 52, "00001075pl10"},
		{1700000000, 123456, 18446744073709551615UL, "4SVLCh0sf82Rbkh2p1XY8H"},
		{19770609663, 0, 12345, "zzzzzz00004YP"},
	};
	char id[QUEUE_ID_SIZE];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		queue_id_format(id, rows[i].sec, rows[i].usec, rows[i].inode);
		assert_string_equal(id, rows[i].want);
		assert_true(queue_id_valid(id));
		assert_int_equal(queue_id_time(id), rows[i].sec);
	}
}

static void test_queue_id_valid(void **state)
{
	static const struct {
		const char *id;
		bool valid;
	} rows[] = {
		{"00000000001", true},
		{"4SVLCh0sf82Rbkh2p1XY8H", true},
		{"", false},
		{"0000000000", false},			/* no inode */
		{"00000000000", false},			/* inode with a leading zero */
		{"0000000000a", false},			/* vowel: not in the alphabet */
		{"000000zzzz1", false},			/* microseconds >= 1000000 */
		{"00000075pm1", false},			/* 1000000 exactly */
		{"00000075pl1", true},			/* 999999 */
		{"0000000000zzzzzzzzzzzz", false},	/* inode over 64 bits */
		{"00000000001234567890123", false},	/* too long */
		{"tmp.1700000000.000001.42", false},	/* a temporary name */
		{"0000000000 1", false},
		{"0000000000/1", false},
		{"..", false},
	};

	assert_false(queue_id_valid(NULL));
	assert_int_equal(queue_id_time("tmp.1.2.3"), -1);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (queue_id_valid(rows[i].id) != rows[i].valid)
			fail_msg("queue_id_valid(\"%s\") != %d", rows[i].id, rows[i].valid);
}

#define NIDS 300

/* IDs of quick successive commits are unique and sort by creation time */
static void test_queue_ids_unique_sorted(void **state)
{
	char *dir = make_queue(), (*ids)[QUEUE_ID_SIZE] = xcalloc(NIDS, QUEUE_ID_SIZE);
	struct test_rcpt one = {"x@y.test", NULL, NULL, 0};
	struct test_msg m = {.sender = "", .arrival = 1, .rcpts = &one, .nrcpts = 1};
	const char *err;
	long t0 = (long)time(NULL), t1;

	for (int i = 0; i < NIDS; i++)
		assert_int_equal(put_msg(dir, i % 2 ? "incoming" : "deferred", &m, ids[i], &err), 0);
	t1 = (long)time(NULL);
	for (int i = 0; i < NIDS; i++) {
		char *path = queue_path(dir, i % 2 ? "incoming" : "deferred", ids[i]);

		assert_true(queue_id_valid(ids[i]));
		assert_true(queue_id_time(ids[i]) >= t0 && queue_id_time(ids[i]) <= t1);
		assert_int_equal(access(path, F_OK), 0);
		free(path);
		/* The time part sorts in creation order. */
		if (i > 0)
			assert_true(strncmp(ids[i - 1], ids[i], 10) <= 0);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ids[i], ids[j]);
	}
	free(ids);
	rm_rf(dir);
	free(dir);
}

/* ---- hashed paths, moves, folders, sweeping ---- */

static void test_hash_paths(void **state)
{
	static const struct {
		const char *names;
		long depth;
		const char *queue;
		const char *want;
	} rows[] = {
		{"deferred, defer", 1, "deferred", "/q/deferred/9/0123456789B"},
		{"deferred, defer", 1, "defer", "/q/defer/9/0123456789B"},
		{"deferred, defer", 1, "incoming", "/q/incoming/0123456789B"},
		{"deferred", 1, "defer", "/q/defer/0123456789B"},	/* exact names */
		{"deferred", 2, "deferred", "/q/deferred/9/8/0123456789B"},
		{"incoming,deferred", 3, "incoming", "/q/incoming/9/8/7/0123456789B"},
		{" incoming  deferred ", 4, "deferred", "/q/deferred/9/8/7/6/0123456789B"},
		{"", 1, "deferred", "/q/deferred/0123456789B"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *p;

		queue_hash_init(rows[i].names, rows[i].depth);
		p = queue_path("/q", rows[i].queue, "0123456789B");
		if (strcmp(p, rows[i].want) != 0)
			fail_msg("row %zu: %s, want %s", i, p, rows[i].want);
		free(p);
	}
	queue_hash_init("deferred, defer", 1);
}

static void test_dirs_move_and_depth(void **state)
{
	char *tmpl = testlib_tmpdir_mem("sluice-qf"), id[QUEUE_ID_SIZE], id2[QUEUE_ID_SIZE];
	struct test_msg m = small_msg();
	char *p, *dir;
	const char *err;
	struct stat st;
	static const char *const folders[] = {"maildrop", "incoming", "active", "deferred",
		"hold", "corrupt", "bounce", "defer", "trace", "public", "private", "pid"};

	dir = xasprintf("%s/var/spool", tmpl);		/* parents are made too */
	queue_hash_init("deferred, defer", 2);
	assert_int_equal(queue_dirs_create(dir, &err), 0);
	assert_int_equal(queue_dirs_create(dir, &err), 0);	/* idempotent */
	for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		p = xasprintf("%s/%s", dir, folders[i]);
		assert_int_equal(stat(p, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		free(p);
	}
	p = xasprintf("%s/maildrop", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01730);
	free(p);
	p = xasprintf("%s/deferred/z/z", dir);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	p = xasprintf("%s/defer/0/B", dir);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	p = xasprintf("%s/incoming/0", dir);
	assert_int_equal(stat(p, &st), -1);		/* not hashed */
	free(p);

	/* Depth 3: the third level is made on demand by commit and move. */
	queue_hash_init("deferred, defer, hold", 3);
	assert_int_equal(put_msg(dir, "deferred", &m, id, &err), 0);
	p = queue_path(dir, "deferred", id);
	assert_int_equal(stat(p, &st), 0);
	assert_non_null(strstr(p, "/deferred/"));
	assert_int_equal(p[strlen(p) - strlen(id) - 2], id[7]);
	free(p);
	assert_int_equal(put_msg(dir, "incoming", &m, id2, &err), 0);
	assert_int_equal(queue_move(dir, "incoming", "hold", id2), 0);
	p = queue_path(dir, "hold", id2);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	p = queue_path(dir, "incoming", id2);
	assert_int_equal(stat(p, &st), -1);
	free(p);
	assert_int_equal(queue_move(dir, "hold", "active", id2), 0);
	assert_int_equal(queue_move(dir, "active", "active", id2), 0);	/* no-op */

	/* Missing source: ENOENT; occupied destination: EEXIST, nothing lost. */
	assert_int_equal(queue_move(dir, "incoming", "deferred", id2), -1);
	assert_int_equal(errno, ENOENT);
	p = queue_path(dir, "deferred", id);
	{
		char *q = queue_path(dir, "active", id);

		write_file(q, "x", 1);
		free(q);
	}
	assert_int_equal(queue_move(dir, "active", "deferred", id), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_size > 1);
	free(p);

	queue_hash_init("deferred, defer", 1);
	rm_rf(tmpl);
	free(tmpl);
	free(dir);
}

static void test_sweep_temp(void **state)
{
	char *dir = make_queue(), id[QUEUE_ID_SIZE], *old, *fresh, *idpath;
	struct test_msg m = small_msg();
	struct timeval tv[2] = {{1000, 0}, {1000, 0}};
	const char *err;
	double now = 1000 + 2 * 86400;

	old = xasprintf("%s/incoming/tmp.1.2.3", dir);
	fresh = xasprintf("%s/incoming/tmp.4.5.6", dir);
	write_file(old, "x", 1);
	write_file(fresh, "x", 1);
	assert_int_equal(utimes(old, tv), 0);
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	idpath = queue_path(dir, "incoming", id);
	assert_int_equal(utimes(idpath, tv), 0);	/* old, but a real message */
	tv[0].tv_sec = tv[1].tv_sec = (time_t)now - 10;
	assert_int_equal(utimes(fresh, tv), 0);

	assert_int_equal(queue_sweep_temp(dir, "incoming", 86400, now, &err), 1);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	assert_int_equal(access(idpath, F_OK), 0);
	assert_int_equal(queue_sweep_temp(dir, "nonexistent", 86400, now, &err), -1);
	free(old);
	free(fresh);
	free(idpath);
	rm_rf(dir);
	free(dir);
}

/* ---- the format is pinned by a golden file ---- */

static void test_golden(void **state)
{
	const char *data_dir = getenv("SLUICE_TEST_DATA");
	char *dir, *golden, *path, id[QUEUE_ID_SIZE];
	struct test_msg m = small_msg();
	struct buf made, want;
	struct qf_envelope env;
	struct qf_rcpt r[8];
	const char *err;
	long offset = 0;
	bool corrupt;
	struct qf *q;

	if (data_dir == NULL)
		skip();
	dir = make_queue();
	golden = xasprintf("%s/queue_file_golden.qf", data_dir);
	assert_int_equal(put_msg(dir, "incoming", &m, id, &err), 0);
	path = queue_path(dir, "incoming", id);
	buf_init(&made, 0);
	buf_init(&want, 0);
	read_file(path, &made);
	if (getenv("SLUICE_REGEN_GOLDEN"))
		write_file(golden, made.data, made.len);
	read_file(golden, &want);
	assert_int_equal(made.len, want.len);
	assert_memory_equal(made.data, want.data, want.len);

	/* And the golden file reads back as the message it was made from. */
	q = qf_open(golden, false, &corrupt, &err);
	assert_non_null(q);
	assert_int_equal(qf_read_envelope(q, &env, &err), 0);
	assert_string_equal(env.sender, m.sender);
	assert_int_equal(env.warn_time, m.warn);
	qf_envelope_deinit(&env);
	assert_int_equal(qf_read_rcpts(q, &offset, r, 8, true, &err), 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(r[i].address, small_rcpts[i].address);
		qf_rcpt_deinit(&r[i]);
	}
	qf_close(&q);
	buf_deinit(&made);
	buf_deinit(&want);
	free(path);
	free(golden);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_big_binary_content),
		cmocka_unit_test(test_empty_content_and_stop),
		cmocka_unit_test(test_many_rcpts_and_marks),
		cmocka_unit_test(test_set_warn),
		cmocka_unit_test(test_mode_and_locks),
		cmocka_unit_test(test_open_failures),
		cmocka_unit_test(test_writer_failures),
		cmocka_unit_test(test_strict_table),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_garbage_appended),
		cmocka_unit_test(test_random_corruption),
		cmocka_unit_test(test_queue_id_format),
		cmocka_unit_test(test_queue_id_valid),
		cmocka_unit_test(test_queue_ids_unique_sorted),
		cmocka_unit_test(test_hash_paths),
		cmocka_unit_test(test_dirs_move_and_depth),
		cmocka_unit_test(test_sweep_temp),
		cmocka_unit_test(test_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
