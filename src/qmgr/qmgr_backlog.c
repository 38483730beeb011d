/*
 * qmgr_backlog - the backlog of a dead destination, re-deferred in place.
 *
 * A destination that is down for hours collects its mail in deferred/, and
 * every retry cycle would move each message into active/, hand it to the
 * retry agent, have a defer log record written and move it back: work that
 * tells nobody anything new, because the queue manager knows the
 * destination is dead before it opens the message.  When the deferred scan
 * yields a message whose every pending recipient routes to a transport or
 * destination the scheduler holds as dead, this module does what that round
 * trip would have done, without it:
 *
 *   - the defer log is rewritten with one record per pending recipient,
 *     the saved reason ("delivery temporarily suspended: ..."), as the retry
 *     agent writes them (status_log_rewrite: in place, not synced when only
 *     the times change; the logs of a slice that say something new are
 *     synced together by one syncfs() at the end of the slice);
 *   - one Postfix-shaped "status=deferred" line per recipient, relay=none;
 *   - the next attempt is set exactly as at the end of an attempt (backoff
 *     from the message's age, with the spread), time stamps and index.
 *
 * The file is read where it lies (envelope and recipients, no lock: the
 * queue manager is the only process that changes deferred files' contents),
 * never moved.  Anything else goes the normal way (import into active/):
 * a live or unknown destination for any recipient, an expired message or a
 * delay warning due, the flush and force-expire mode bits, a flush (F) scan,
 * verification and verbose-trace messages, content filters, more than
 * BACKLOG_RCPT_MAX pending recipients, a bounce or trace log waiting to be
 * reported, and any trouble reading or writing.
 *
 * The dead destination itself is probed as before: its revive timer makes
 * it live again, the next message takes the normal path and is delivered
 * or kills it again.
 *
 * A queue tool may move or remove the file while it is being read (tools
 * do not lock deferred files).  If it is gone when the time stamps are
 * set, the defer log just written is removed again, so a requeued or
 * deleted message keeps no stale log; a tool that acts between that check
 * and the rename it makes leaves at worst the same records the message's
 * previous attempt left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "global/deliver_log.h"
#include "global/dsn.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "qmgr.h"
#include "util/log.h"
#include "util/mem.h"

#define BACKLOG_RCPT_MAX	100	/* pending recipients handled in place */

static bool unsynced;			/* defer logs written but not yet synced */

/*
 * qmgr_backlog_sync - the end of a slice: one syncfs() for every defer log
 * of the slice that says something new (a first log, a changed reason), in
 * place of one or two fsyncs per message.  Logs that only got new times
 * need none.
 */
void qmgr_backlog_sync(void)
{
	int fd;

	if (!unsynced)
		return;
	unsynced = false;
	if ((fd = open(var_queue_directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
	    || syncfs(fd) < 0)
		msg_warn("sync %s: %s", var_queue_directory, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* retry_dsn - status and reason as the retry agent derives them from why */
static const char *retry_dsn(const char *why, char status[16])
{
	const char *reason = dsn_status_from_text(why, status);

	if (reason == NULL || status[0] != '4') {
		if (reason == NULL)
			reason = why;
		dsn_status_default(4, status);
	}
	return *reason ? reason : "delivery temporarily suspended";
}

/* read_pending - every pending recipient, at most BACKLOG_RCPT_MAX; count or -1 */
static long read_pending(struct qf *qf, struct qf_rcpt *rcpts)
{
	long off = 0, n = 0, got;
	const char *error;

	do {
		if (n == BACKLOG_RCPT_MAX)
			goto too_many;
		got = qf_read_rcpts(qf, &off, rcpts + n, (size_t)(BACKLOG_RCPT_MAX - n), false,
				    &error);
		if (got < 0)
			goto too_many;
		n += got;
	} while (off != 0);
	return n;

too_many:
	for (long i = 0; i < n; i++)
		qf_rcpt_deinit(&rcpts[i]);
	return -1;
}

/* qmgr_backlog_defer - re-defer a message of a dead destination in place */
int qmgr_backlog_defer(const char *id, int scan_flags)
{
	struct qf_rcpt rcpts[BACKLOG_RCPT_MAX];
	struct rcpt_status recs[BACKLOG_RCPT_MAX];
	char *whys[BACKLOG_RCPT_MAX];
	char status[BACKLOG_RCPT_MAX][16];
	struct qf_envelope env;
	struct stat st;
	struct timeval tv[2];
	struct qf *qf = NULL;
	const char *error;
	char *path;
	bool corrupt, have_env = false;
	double lifetime, delay, due, now = qmgr_now;
	long n = 0, i;
	int done = 0;

	/* A flush scan (F), or a file asking for a flush or expiry: as usual. */
	if (scan_flags & QMGR_FLUSH_DFXP)
		return 0;
	path = queue_path(var_queue_directory, "deferred", id);
	/* qf_open refuses links and anything but a regular file. */
	if ((qf = qf_open(path, false, &corrupt, &error)) == NULL)
		goto out;
	if (fstat(qf_fd(qf), &st) < 0
	    || (st.st_mode & S_IRWXU) != S_IRWXU || (st.st_mode & (S_IRGRP | S_IXGRP))
	    || (!(scan_flags & QMGR_SCAN_ALL) && (double)st.st_mtime > now + 1))
		goto out;
	if (qf_read_envelope(qf, &env, &error) < 0)
		goto out;
	have_env = true;
	if (env.flags & (QF_FLAG_TRACE_VERBOSE | QF_FLAG_TRACE_VERIFY))
		goto out;
	for (char **a = env.attrs; a && *a; a++)
		if (strncmp(*a, "filter=", 7) == 0 && (*a)[7] != 0)
			goto out;
	lifetime = sched_lifetime(*env.sender == 0, (double)var_maximal_queue_lifetime,
				  (double)var_bounce_queue_lifetime);
	if (sched_expired(env.arrival_time, now, lifetime))
		goto out;
	if (env.warn_time > 0 && now >= (double)env.warn_time - 1)
		goto out;
	if ((n = read_pending(qf, rcpts)) <= 0) {
		n = 0;
		goto out;
	}
	memset(whys, 0, sizeof(whys));
	for (i = 0; i < n; i++)
		if (!qmgr_rcpt_dead(rcpts[i].address, &whys[i]))
			goto out;
	/* Reports waiting to be sent are the end-of-message chain's business. */
	if (status_log_exists(var_queue_directory, STATUS_LOG_BOUNCE, id) != 0
	    || status_log_exists(var_queue_directory, STATUS_LOG_TRACE, id) != 0)
		goto out;

	for (i = 0; i < n; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		recs[i].recipient = rcpts[i].address;
		recs[i].orig_rcpt = rcpts[i].orig_rcpt;
		recs[i].offset = rcpts[i].offset;
		recs[i].dsn_orcpt = rcpts[i].dsn_orcpt;
		recs[i].notify = rcpts[i].notify;
		recs[i].dsn.reason = retry_dsn(whys[i], status[i]);
		memcpy(recs[i].dsn.status, status[i], sizeof(recs[i].dsn.status));
		recs[i].dsn.action = "delayed";
		recs[i].time = now;
	}
	if (status_log_rewrite(var_queue_directory, STATUS_LOG_DEFER, id, recs, (size_t)n,
			       &unsynced, &error) < 0) {
		/* The normal path removes the log and writes it anew. */
		msg_warn("%s: %s log: %s", id, STATUS_LOG_DEFER, error);
		goto out;
	}
	delay = sched_backoff_delay(now - env.arrival_time, (double)var_minimal_backoff_time,
				    (double)var_maximal_backoff_time,
				    (int)var_backoff_spread_percent, drand48());
	due = now + delay;
	tv[0].tv_sec = (time_t)due;
	tv[0].tv_usec = 0;
	tv[1] = tv[0];
	/* By name: a file a tool moved or removed meanwhile fails with ENOENT. */
	if (utimes(path, tv) < 0) {
		/* Moved or removed by a tool meanwhile: leave no log behind it. */
		if (errno == ENOENT)
			(void)status_log_remove(var_queue_directory, STATUS_LOG_DEFER, id);
		else
			msg_warn("%s: set time stamps: %s", id, strerror(errno));
		done = 1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		double delays[4] = {now - env.arrival_time, 0, 0, 0};

		deliver_log_rcpt(id, rcpts[i].address, rcpts[i].orig_rcpt, "none",
				 now - env.arrival_time, delays, &recs[i].dsn, "deferred", -1);
		qmgr_metrics_outcome("qmgr", rcpts[i].address, QMGR_OUTCOME_DEFERRED, 1);
	}
	qmgr_defer_index_add(id, due);
	done = 1;

out:
	for (i = 0; i < n; i++) {
		free(whys[i]);
		qf_rcpt_deinit(&rcpts[i]);
	}
	if (have_env)
		qf_envelope_deinit(&env);
	qf_close(&qf);
	free(path);
	return done;
}
