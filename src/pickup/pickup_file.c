/*
 * pickup_file - one maildrop file into incoming/ (see pickup_file.h).
 *
 * This module is for the trust boundary between users and the queue:
 * maildrop/ is writable by every user through postdrop, so a file there may
 * be anything (a symbolic link, a hard link to someone else's file, a FIFO
 * swapped in after a check, random bytes with a plausible name).  The
 * checks, in order:
 *
 *   1. lstat: a regular file, complete mode bits, one link; the mode says
 *      which kind (submission 0744, requeued 0700 owned by us or root);
 *   2. open O_NOFOLLOW|O_NONBLOCK, fstat: the same inode as in step 1;
 *   3. the queue-file reader opens it by name again (it has no open-by-fd)
 *      under an alarm, so a FIFO swapped in between cannot hang pickup,
 *      and its descriptor must again show the same inode;
 *   4. qf_validate() walks every record; then each field is checked with
 *      the submission rules before it reaches cleanup.
 *
 * It does not: log (except cleanup's two success lines; the caller reports
 * the status), decide about retries (the caller's scan does), or bounce a
 * refused message (pickup cannot; the file is quarantined and the reason
 * logged, where Postfix's cleanup would have sent a bounce).
 *
 * DIAGNOSTICS: the status and a reason in struct pickup_result.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/addr.h"
#include "global/cleanup/cleanup.h"
#include "global/cleanup/submission.h"
#include "global/queue_file.h"
#include "pickup_file.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define RCPT_BATCH	100
#define OPEN_TIMEOUT	10		/* seconds for the guarded qf_open() */
#define FUTURE_SLACK	7200		/* arrival times this far ahead are clock trouble */

enum kind { KIND_SUBMISSION, KIND_REQUEUED };

/* set - fill in the result */
__attribute__((format(printf, 3, 4)))
static enum pickup_status set(struct pickup_result *res, enum pickup_status status,
			      const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
	return status;
}

/* already_queued - does a queue folder hold a file with this ID? */
static bool already_queued(const char *queue_dir, const char *id)
{
	static const char *queues[] = {"incoming", "active", "deferred", "hold", "corrupt"};
	struct stat st;
	bool found = false;

	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]) && !found; i++) {
		char *path = queue_path(queue_dir, queues[i], id);

		found = lstat(path, &st) == 0;
		free(path);
	}
	return found;
}

/* on_alarm - only interrupts a blocked open() */
static void on_alarm(int sig)
{
	(void)sig;
}

/* open_guarded - qf_open() that cannot hang on a FIFO swapped in */
static struct qf *open_guarded(const char *path, bool *corrupt_r, const char **error_r)
{
	struct sigaction sa, old;
	struct qf *q;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: open() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	alarm(OPEN_TIMEOUT);
	q = qf_open(path, false, corrupt_r, error_r);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return q;
}

/* same_file - do two stat results describe one inode? */
static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* check_envelope - what a submission's envelope may hold */
static int check_envelope(const struct qf_envelope *env, enum kind kind, const char **why_r)
{
	const char *name;

	if (submission_check_address(env->sender, true, why_r) < 0)
		return -1;
	if (kind == KIND_REQUEUED)
		return 0;
	if (submission_check_envid(env->envid, why_r) < 0)
		return -1;
	if (env->flags & ~SUBMISSION_QFLAGS) {
		*why_r = "flags a submission may not set";
		return -1;
	}
	for (char **a = env->attrs; a && *a; a++) {
		name = SUBMISSION_ATTR_FULL_NAME "=";
		if (strncmp(*a, name, strlen(name)) != 0) {
			*why_r = "attribute a submission may not set";
			return -1;
		}
		if (submission_check_text(*a + strlen(name), SUBMISSION_NAME_MAX, why_r) < 0)
			return -1;
	}
	return 0;
}

/* copy_envelope - the envelope into cleanup */
static void copy_envelope(struct cleanup *c, const struct qf_envelope *env, enum kind kind,
			  const struct stat *st, const char *id)
{
	const char *full = SUBMISSION_ATTR_FULL_NAME "=";
	double now = wall_time(), arrival = env->arrival_time;
	char *eq, *copy;

	cleanup_set_sender(c, env->sender);
	cleanup_set_uid(c, (long)st->st_uid);
	cleanup_set_dsn(c, env->envid, env->ret);
	cleanup_set_qflags(c, env->flags);	/* QF_FLAG_SMTPUTF8: sendmail -SMTPUTF8 */
	if (cleanup_smtputf8_class("sendmail"))
		cleanup_set_smtputf8(c, CLEANUP_SMTPUTF8_AUTODETECT);
	if (arrival > now + FUTURE_SLACK)
		arrival = now;		/* a clock far ahead; Postfix does the same */
	cleanup_set_arrival(c, arrival);
	for (char **a = env->attrs; a && *a; a++) {
		if (kind == KIND_SUBMISSION) {
			if (strncmp(*a, full, strlen(full)) == 0)
				cleanup_set_fullname(c, *a + strlen(full));
			continue;
		}
		copy = xstrdup(*a);
		if ((eq = strchr(copy, '=')) != NULL) {
			*eq = 0;
			cleanup_set_attr(c, copy, eq + 1);
		}
		free(copy);
	}
	if (kind == KIND_REQUEUED)
		cleanup_set_orig_id(c, id);
}

/*
 * copy_rcpts - recipients into cleanup; count of pending ones, or -1 (res
 * set).  *too_many_r: cleanup's envelope cap was hit and reading stopped
 * there (cleanup_close() then refuses the message).
 */
static long copy_rcpts(struct qf *q, struct cleanup *c, enum kind kind,
		       struct pickup_result *res, bool *too_many_r)
{
	struct qf_rcpt batch[RCPT_BATCH];
	const char *err, *why = NULL;
	long off = 0, n, pending = 0;
	bool too_many = false;

	do {
		n = qf_read_rcpts(q, &off, batch, RCPT_BATCH, true, &err);
		if (n < 0) {
			set(res, n == QF_CORRUPT ? PICKUP_CORRUPT : PICKUP_RETRY, "%s", err);
			return -1;
		}
		for (long i = 0; i < n; i++) {
			struct qf_rcpt *r = &batch[i];

			if (why == NULL && kind == KIND_SUBMISSION) {
				if (r->done)
					why = "recipient marked done in a submission";
				else if (submission_check_address(r->address, false, &err) < 0
					 || submission_check_text(r->orig_rcpt, ADDR_MAX + 16, &err) < 0
					 || submission_check_text(r->dsn_orcpt, ADDR_MAX + 16, &err) < 0)
					why = err;
			}
			if (why == NULL && !r->done) {
				int rc = cleanup_add_rcpt(c, r->address, r->orig_rcpt,
							  r->dsn_orcpt, r->notify);

				if (rc == CLEANUP_TOO_MANY)
					too_many = true;
				else if (rc < 0)
					why = "malformed recipient";
				pending++;
			}
			qf_rcpt_deinit(r);
		}
	} while (off != 0 && !too_many && why == NULL);
	*too_many_r = too_many;
	if (why) {
		set(res, PICKUP_CORRUPT, "%s", why);
		return -1;
	}
	return pending;
}

/* copy_content - qf_read_content callback */
static int copy_content(const char *data, size_t len, void *ctx)
{
	cleanup_write(ctx, data, len);
	return 0;
}

/* pickup_file - judge, copy, remove */
enum pickup_status pickup_file(const char *queue_dir, const char *id, struct pickup_result *res)
{
	char *path = queue_path(queue_dir, "maildrop", id);
	struct qf_envelope env;
	struct stat st, fst, qst;
	struct cleanup *c = NULL;
	struct qf *q = NULL;
	const char *err;
	bool corrupt, have_env = false, too_many = false;
	enum kind kind;
	long pending;
	int fd = -1, rc;

	memset(res, 0, sizeof(*res));
	memset(&env, 0, sizeof(env));

	/* 1. What the name points to, without following it. */
	if (lstat(path, &st) < 0) {
		rc = errno == ENOENT ? set(res, PICKUP_SKIP, "vanished")
			: set(res, PICKUP_RETRY, "lstat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = set(res, PICKUP_CORRUPT, "not a regular file");
		goto out;
	}
	if (!qf_mode_ready(st.st_mode)) {
		rc = set(res, PICKUP_SKIP, "not complete (mode 0%o)", (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_nlink != 1) {
		rc = set(res, PICKUP_CORRUPT, "file has %lu links", (unsigned long)st.st_nlink);
		goto out;
	}
	if ((st.st_mode & 07777) == QF_MODE_MAILDROP) {
		kind = KIND_SUBMISSION;
	} else if ((st.st_mode & 07777) == QF_MODE_READY
		   && (st.st_uid == geteuid() || st.st_uid == 0)) {
		kind = KIND_REQUEUED;
	} else {
		rc = set(res, PICKUP_CORRUPT, "unexpected mode 0%o for owner uid %ld",
			 (unsigned)(st.st_mode & 07777), (long)st.st_uid);
		goto out;
	}

	/* 2. Open that very file. */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? set(res, PICKUP_SKIP, "vanished")
			: errno == ELOOP ? set(res, PICKUP_CORRUPT, "became a symbolic link")
			: set(res, PICKUP_RETRY, "open: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &fst) < 0 || !same_file(&st, &fst)) {
		rc = set(res, PICKUP_SKIP, "replaced while being opened");
		goto out;
	}

	/* 3. The queue-file reader on the same inode. */
	if ((q = open_guarded(path, &corrupt, &err)) == NULL) {
		rc = set(res, corrupt ? PICKUP_CORRUPT : PICKUP_RETRY, "%s", err);
		goto out;
	}
	if (fstat(qf_fd(q), &qst) < 0 || !same_file(&fst, &qst)) {
		rc = set(res, PICKUP_SKIP, "replaced while being opened");
		goto out;
	}

	/* 4. Every record, then every field. */
	if ((rc = qf_validate(q, &err)) != 0) {
		rc = set(res, rc == QF_CORRUPT ? PICKUP_CORRUPT : PICKUP_RETRY, "%s", err);
		goto out;
	}
	if ((rc = qf_read_envelope(q, &env, &err)) != 0) {
		rc = set(res, rc == QF_CORRUPT ? PICKUP_CORRUPT : PICKUP_RETRY, "%s", err);
		goto out;
	}
	have_env = true;
	if (check_envelope(&env, kind, &err) < 0) {
		rc = set(res, PICKUP_CORRUPT, "%s", err);
		goto out;
	}

	/*
	 * Already queued under this ID: an earlier pickup committed the copy
	 * and was stopped before it could remove this file.  (The queue
	 * manager also removes maildrop/ID when it imports incoming/ID.)
	 */
	if (already_queued(queue_dir, id)) {
		msg_info("%s: already queued; removing the maildrop copy", id);
		res->status = PICKUP_DONE;
		goto remove;
	}

	/* Copy: envelope, recipients, content, under the same queue ID. */
	/* A permanent refusal goes back to the sender as a bounce (Postfix). */
	if ((c = cleanup_open(queue_dir, CLEANUP_FLAG_RETURN, &err)) == NULL) {
		rc = set(res, PICKUP_STOP, "%s", err);
		goto out;
	}
	cleanup_set_queue_id(c, id);
	copy_envelope(c, &env, kind, &fst, id);
	if ((pending = copy_rcpts(q, c, kind, res, &too_many)) < 0) {
		rc = res->status;
		goto out;
	}
	if (pending == 0) {
		/* A requeued message that was delivered meanwhile: nothing to do. */
		cleanup_abort(&c);
		set(res, PICKUP_DONE, "no pending recipients");
		goto remove;
	}
	/* Over the envelope cap: cleanup_close() refuses it; no need to copy. */
	if (!too_many && (rc = qf_read_content(q, copy_content, c, &err)) != 0) {
		rc = set(res, rc == QF_CORRUPT ? PICKUP_CORRUPT : PICKUP_RETRY, "%s", err);
		goto out;
	}
	if (cleanup_close(&c, res->queue_id, &err) < 0) {
		if (already_queued(queue_dir, id)) {
			res->status = PICKUP_DONE;
			goto remove;
		}
		/* 4.3.x: the queue cannot take mail now; other 4.x.x (a content
		 * check's DEFER): this file only, later. */
		rc = set(res, strncmp(err, "4.3.", 4) == 0 ? PICKUP_STOP
			 : err[0] == '4' ? PICKUP_RETRY : PICKUP_REJECTED, "%s", err);
		goto out;
	}
	res->status = PICKUP_DONE;

remove:
	/* Only now: the copy is durable in incoming/. */
	if (unlink(path) < 0 && errno != ENOENT)
		snprintf(res->reason, sizeof(res->reason),
			 "cannot remove maildrop file: %s (it will be copied again)",
			 strerror(errno));
	rc = PICKUP_DONE;
out:
	if (c)
		cleanup_abort(&c);
	if (have_env)
		qf_envelope_deinit(&env);
	qf_close(&q);
	if (fd >= 0)
		close(fd);
	free(path);
	return (enum pickup_status)rc;
}

/* pickup_quarantine - maildrop/id to corrupt/ */
int pickup_quarantine(const char *queue_dir, const char *id, const char *what,
		      const char *reason)
{
	struct buf esc;

	buf_init(&esc, 128);
	msg_warn("%s: %s", id, log_escape(&esc, reason));
	buf_deinit(&esc);
	if (queue_move(queue_dir, "maildrop", "corrupt", id) < 0) {
		msg_warn("%s: cannot move maildrop file to corrupt/: %s", id, strerror(errno));
		return -1;
	}
	msg_warn("%s: %s maildrop file moved to corrupt/", id, what);
	return 0;
}
