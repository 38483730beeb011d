/*
 * cli_queue_testlib - helpers for the queue tools' tests (header only, so
 * each test executable takes what it uses): a scratch configuration and
 * queue directory, queue files made with the queue_file library (with done
 * marks, modes and defer-log records), and running a command with its
 * standard input, output and error redirected to files.
 */
#ifndef CLI_QUEUE_TESTLIB_H
#define CLI_QUEUE_TESTLIB_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/queue_file.h"
#include "global/status_log.h"
#include "testlib.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define TL_UNUSED __attribute__((unused))

/* The scratch area: DIR/main.cf and DIR/queue. */
static char *tl_dir;
static char tl_queue[300];

/* tl_setup - make the scratch area and main.cf; 0 or -1 */
static TL_UNUSED int tl_setup(const char *extra_main_cf)
{
	log_init("sluice", LOG_FLAG_STDERR);
	setenv("TZ", "UTC", 1);
	tzset();
	tl_dir = testlib_tmpdir("test_cli_queue");
	snprintf(tl_queue, sizeof(tl_queue), "%s/queue", tl_dir);
	testlib_main_cf(tl_dir, "queue_directory = %s\n%s", tl_queue,
			extra_main_cf ? extra_main_cf : "");
	queue_hash_init("deferred, defer", 1);
	testlib_queue_dirs(tl_queue);
	return 0;
}

/* tl_teardown - remove the scratch area */
static TL_UNUSED int tl_teardown(void)
{
	int rc = testlib_rmtree(tl_dir);

	free(tl_dir);
	tl_dir = NULL;
	return rc;
}

/* tl_clear_queues - empty every queue and log folder (keeps the folders) */
static TL_UNUSED void tl_clear_queues(void)
{
	static const char *const names[] = {"maildrop", "incoming", "active", "deferred",
		"hold", "corrupt", "bounce", "defer", "trace", NULL};
	char path[600];

	for (const char *const *n = names; *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", tl_queue, *n);
		if (testlib_empty_tree(path) != 0)
			abort();
	}
}

/*
 * tl_make - a queue file in queue with arrival time, sender and the
 * recipients (NULL-terminated); content is "Subject: x\n\nbody\n" unless
 * given.  done_mask bit i marks recipient i done.  Returns the ID (static
 * buffer, valid until the next call) or aborts.  offsets_r (may be NULL)
 * receives the recipients' offsets.
 */
static TL_UNUSED const char *tl_make_full(const char *queue, double arrival, const char *sender,
					  const char *const *rcpts, unsigned done_mask,
					  const char *content, long *offsets_r)
{
	static char id[QUEUE_ID_SIZE];
	static char *no_attrs[] = {NULL};
	struct qf_envelope env;
	struct qf_writer *w;
	struct qf_rcpt r[64];
	const char *error;
	char *path;
	struct qf *q;
	bool corrupt;
	long offset = 0, n;

	memset(&env, 0, sizeof(env));
	env.arrival_time = arrival;
	env.sender = (char *)sender;
	env.envid = "";
	env.attrs = no_attrs;
	if ((w = qf_create(tl_queue, queue, &error)) == NULL) {
		fprintf(stderr, "qf_create: %s\n", error);
		abort();
	}
	qf_put_envelope(w, &env);
	if (content == NULL)
		content = "Subject: x\n\nbody\n";
	qf_put_content(w, content, strlen(content));
	for (size_t i = 0; rcpts[i]; i++)
		qf_add_rcpt(w, rcpts[i], "", "", 0);
	if (qf_commit(&w, id, &error) < 0) {
		fprintf(stderr, "qf_commit: %s\n", error);
		abort();
	}
	path = queue_path(tl_queue, queue, id);
	if ((q = qf_open(path, true, &corrupt, &error)) == NULL)
		abort();
	n = qf_read_rcpts(q, &offset, r, 64, true, &error);
	if (n < 0)
		abort();
	for (long i = 0; i < n; i++) {
		if (offsets_r)
			offsets_r[i] = r[i].offset;
		if (i < 32 && (done_mask & (1u << i)) && qf_mark_done(qf_fd(q), r[i].offset) != 0)
			abort();
		qf_rcpt_deinit(&r[i]);
	}
	qf_close(&q);
	free(path);
	return id;
}

/* tl_make - the common case */
static TL_UNUSED const char *tl_make(const char *queue, double arrival, const char *sender,
				     const char *const *rcpts, unsigned done_mask)
{
	return tl_make_full(queue, arrival, sender, rcpts, done_mask, NULL, NULL);
}

/* tl_defer - append a defer-log record for recipient at offset */
static TL_UNUSED void tl_defer(const char *id, const char *rcpt, long offset, const char *reason)
{
	struct rcpt_status st;
	const char *error;

	memset(&st, 0, sizeof(st));
	st.recipient = rcpt;
	st.orig_rcpt = "";
	st.dsn_orcpt = "";
	st.offset = offset;
	snprintf(st.dsn.status, sizeof(st.dsn.status), "4.4.1");
	st.dsn.action = "delayed";
	st.dsn.reason = reason;
	st.time = 1000;
	if (status_log_append(tl_queue, STATUS_LOG_DEFER, id, &st, &error) < 0) {
		fprintf(stderr, "status_log_append: %s\n", error);
		abort();
	}
}

/* tl_path - where id is in queue (static buffer) */
static TL_UNUSED const char *tl_path(const char *queue, const char *id)
{
	static char path[512];
	char *p = queue_path(tl_queue, queue, id);

	snprintf(path, sizeof(path), "%s", p);
	free(p);
	return path;
}

/* tl_exists - is id in queue? */
static TL_UNUSED bool tl_exists(const char *queue, const char *id)
{
	struct stat st;

	return lstat(tl_path(queue, id), &st) == 0;
}

/* tl_count - files in a folder tree */
static TL_UNUSED long tl_count(const char *queue)
{
	char path[400];
	long n;

	snprintf(path, sizeof(path), "%s/%s", tl_queue, queue);
	if ((n = testlib_count_files(path)) < 0)
		abort();
	return n;
}

/* tl_slurp - a whole file (caller frees) */
static TL_UNUSED char *tl_slurp(const char *path)
{
	struct buf *b = buf_create(1024);
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		abort();
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(b, chunk, (size_t)n);
	close(fd);
	{
		char *s = buf_steal(b);

		buf_free(&b);
		return s;
	}
}

/* tl_redirect - make fd the descriptor target */
static TL_UNUSED void tl_redirect(int fd, int target)
{
	if (fd < 0 || dup2(fd, target) < 0)
		abort();
	close(fd);
}

typedef int tl_cmd_fn(const char *config_dir, int argc, char **argv);

/* Output of one run. */
struct tl_run {
	int status;
	char *out;	/* stdout */
	char *err;	/* stderr */
};

/*
 * tl_run - run fn(tl_dir, argv...) with stdin from in_text (NULL: empty),
 * stdout and stderr into files.  Free the result with tl_run_free().
 */
static TL_UNUSED struct tl_run tl_run_cmd(tl_cmd_fn *fn, const char *in_text, char **argv)
{
	char out_path[400], err_path[400], in_path[400];
	struct tl_run r;
	int save0, save1, save2, fd, argc = 0;

	while (argv[argc])
		argc++;
	snprintf(out_path, sizeof(out_path), "%s/out.txt", tl_dir);
	snprintf(err_path, sizeof(err_path), "%s/err.txt", tl_dir);
	snprintf(in_path, sizeof(in_path), "%s/in.txt", tl_dir);
	fd = open(in_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (in_text && write(fd, in_text, strlen(in_text)) < 0))
		abort();
	close(fd);

	fflush(stdout);
	fflush(stderr);
	save0 = dup(0);
	save1 = dup(1);
	save2 = dup(2);
	tl_redirect(open(in_path, O_RDONLY), 0);
	tl_redirect(open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 1);
	tl_redirect(open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 2);
	clearerr(stdin);
	r.status = fn(tl_dir, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(save0, 0);
	dup2(save1, 1);
	dup2(save2, 2);
	close(save0);
	close(save1);
	close(save2);
	clearerr(stdin);
	r.out = tl_slurp(out_path);
	r.err = tl_slurp(err_path);
	return r;
}

/* tl_run_free - release a run's output */
static TL_UNUSED void tl_run_free(struct tl_run *r)
{
	free(r->out);
	free(r->err);
}

#endif
