/*
 * qmgr_active - the active queue: import a file, and decide what happens to
 * it when its deliveries are over.
 *
 * Import (qmgr_active_feed): one lstat, one rename into active/, one read of
 * the envelope and the first recipients.  The mode bits say whether the file
 * is complete (u=rwx, Postfix's convention) and carry per-file requests
 * (group read: flush this message, cleared at import; group execute:
 * force-expire it, kept until the message is gone).
 *
 * When the last entry of a message is done (qmgr_active_done) the end-of-
 * message chain runs, with asynchronous requests to the bounce service where
 * a report is due (as oqmgr does): flush the bounce log, flush the trace
 * log, then for a message with deferred recipients either expire it (the
 * defer log becomes the non-delivery report), or warn the sender once, and
 * move it to deferred/ with its next attempt recorded in its time stamps;
 * otherwise remove it.  A file an agent found damaged goes to corrupt/.
 *
 * A message deferred because its delivery agent died while delivering it
 * (killed, crashed, timed out: QMGR_MSG_CRASHED) is tried again after
 * QMGR_CRASH_RETRY seconds instead of its backoff, once: if the agent dies
 * on the next attempt too (a message that crashes its agent), that attempt
 * gets the ordinary backoff.  Postfix defers such a message for its backoff
 * (minimal_backoff_time, 300 s, at the first attempt) and throttles the
 * whole transport; sluice differs on purpose, since an agent killed by an
 * operator, a supervisor or the OOM killer says nothing about the message.
 * Which messages had their prompt retry is remembered in memory (at most
 * QMGR_CRASH_MEMORY of them), so a new queue manager may give one again.
 *
 * DIAGNOSTICS: Postfix's lines: "ID: from=<s>, size=N, nrcpt=N (queue
 * active)", "ID: removed", "ID: from=<s>, status=expired, returned to
 * sender" (status=force-expired for the group execute bit), "ID: skipped, still being delivered", and warnings for
 * quarantined files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "global/deliver_request.h"
#include "global/notice.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "global/trigger.h"
#include "qmgr.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/ev.h"
#include "util/log.h"
#include "util/mem.h"

/* End-of-message chain steps. */
enum done_step {
	DONE_START,
	DONE_BOUNCE_FLUSHED,
	DONE_TRACE_FLUSHED,
	DONE_DEFER_HANDLED,
};

static void done_next(struct qmgr_message *msg);

/* Seconds before a file that an earlier queue manager's agent holds is tried again. */
#define QMGR_LOCKED_RETRY	5

/* Seconds before a message whose agent died is tried again (the first time). */
#define QMGR_CRASH_RETRY	1.0
/* Messages remembered as retried promptly after an agent died. */
#define QMGR_CRASH_MEMORY	10000

static struct htable *crash_retried;	/* IDs that had their prompt retry */
static bool crash_timer_armed;
static double crash_retry_last;		/* due time of the latest prompt retry */

/* crash_retry_event - the deferred index holds prompt retries that are due */
static void crash_retry_event(int event, void *ctx)
{
	double now = wall_time();

	crash_timer_armed = false;
	qmgr_scan_request(qmgr_deferred_scan, QMGR_SCAN_START);
	/* An index pass takes what is due within a second; later ones wait. */
	if (crash_retry_last > now + 1) {
		crash_timer_armed = true;
		ev_timer_request(crash_retry_event, NULL, crash_retry_last - now - 0.9);
	}
}

/*
 * crash_retry_prompt - should msg, at the end of this attempt, be tried
 * again soon rather than after its backoff?  Yes when an agent died on it
 * in this attempt and not in the attempt before (as far as this queue
 * manager remembers).
 */
static bool crash_retry_prompt(const struct qmgr_message *msg, bool to_deferred)
{
	static char mark;

	if (crash_retried == NULL)
		crash_retried = htable_create(64);
	if (htable_delete(crash_retried, msg->id) != NULL)
		return false;			/* it died on the prompt retry too */
	if (!to_deferred || (msg->flags & QMGR_MSG_CRASHED) == 0
	    || htable_count(crash_retried) >= QMGR_CRASH_MEMORY)
		return false;
	htable_enter(crash_retried, msg->id, &mark);
	return true;
}

/* locked_retry_event - scan incoming/ for the files skipped as still being delivered */
static void locked_retry_event(int event, void *ctx)
{
	qmgr_scan_request(qmgr_incoming_scan, QMGR_SCAN_START);
}

/* set_times - atime and mtime of a queue file */
static int set_times(const char *path, double when)
{
	struct timeval tv[2];

	tv[0].tv_sec = (time_t)when;
	tv[0].tv_usec = 0;
	tv[1] = tv[0];
	return utimes(path, tv);
}

/* move_file - rename between queue folders, with a warning on failure */
static int move_file(const char *id, const char *from, const char *to)
{
	if (queue_move_flags(var_queue_directory, from, to, id, QUEUE_MOVE_NOSYNC) < 0) {
		if (errno != ENOENT)
			msg_warn("%s: move from %s to %s: %s", id, from, to, strerror(errno));
		return -1;
	}
	return 0;
}

/* quarantine - a damaged file goes to corrupt/ */
static void quarantine(const char *id, const char *from)
{
	msg_warn("%s: saving corrupt queue file from queue %s to queue corrupt", id, from);
	(void)move_file(id, from, "corrupt");
	notice_warn(NOTICE_SOFTWARE, id, NULL, "corrupt queue file",
		    "Queue file %s is damaged. It was moved from queue %s to queue corrupt "
		    "and will not be delivered.\nInspect it with \"sluice queue\" tools; "
		    "see the local mail logfile for the reason.", id, from);
}

/* message_leave - take a message out of the active queue and free it */
static void message_leave(struct qmgr_message *msg)
{
	if (msg->prev)
		msg->prev->next = msg->next;
	else
		qmgr_messages = msg->next;
	if (msg->next)
		msg->next->prev = msg->prev;
	qmgr_message_count--;
	sched_message_leave(qmgr_sched);
	if (msg->tflags & DEL_REQ_FLAG_VERIFY)
		qmgr_vrfy_pend_count--;
	qmgr_message_free(&msg);
	/* Room in the active queue: the loop may import again. */
	qmgr_wakeup();
}

/* qmgr_active_feed - import one file from queue into the active queue */
int qmgr_active_feed(const char *queue, const char *id, int scan_flags)
{
	struct qmgr_message *msg;
	struct stat st;
	char *path;
	int qflags, r;

	path = queue_path(var_queue_directory, queue, id);
	if (lstat(path, &st) < 0) {
		free(path);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		msg_warn("%s: not a regular file: %s", id, path);
		free(path);
		return 0;
	}
	/* Still being written, or marked corrupt by a tool: not ours yet. */
	if ((st.st_mode & S_IRWXU) != S_IRWXU) {
		free(path);
		return 0;
	}
	if (!(scan_flags & QMGR_SCAN_ALL) && (double)st.st_mtime > qmgr_now + 1) {
		/* Not due after all (someone moved its time): keep it indexed. */
		if (strcmp(queue, "deferred") == 0)
			qmgr_defer_index_add(id, (double)st.st_mtime);
		free(path);
		return 0;
	}
	qflags = scan_flags & QMGR_FLUSH_DFXP;
	if (st.st_mode & S_IRGRP)
		qflags |= QMGR_FLUSH_EACH | QMGR_FLUSH_DFXP;
	if (st.st_mode & S_IXGRP)
		qflags |= QMGR_FORCE_EXPIRE;
	free(path);
	if (move_file(id, queue, "active") < 0)
		return 0;

	/*
	 * pickup gives a message the ID of its maildrop file and removes that
	 * file after the commit; if pickup was stopped in between, the copy
	 * in maildrop/ goes now, so that it can never be queued twice.
	 */
	if (strcmp(queue, "incoming") == 0) {
		path = queue_path(var_queue_directory, "maildrop", id);
		(void)unlink(path);
		free(path);
	}

	msg = qmgr_message_alloc(id, qflags);
	/*
	 * A fresh message from cleanup has no status logs; one that was
	 * deferred before, or found in active/ at start-up, may have: only
	 * then is the end-of-message check of bounce/ and trace/ needed.
	 */
	if (strcmp(queue, "incoming") != 0 || htable_find(qmgr_recovered, id)
	    || (st.st_mode & (S_IRGRP | S_IXGRP)))
		msg->flags |= QMGR_MSG_LOGS;	/* released or flushed: may have logs */
	msg->next = qmgr_messages;
	if (qmgr_messages)
		qmgr_messages->prev = msg;
	qmgr_messages = msg;
	qmgr_message_count++;
	sched_message_enter(qmgr_sched);

	/*
	 * The defer log describes the latest attempt only (Postfix).  Fresh
	 * mail from cleanup has none (release and requeue remove it when they
	 * bring a message back), so only the others pay for the unlink.
	 */
	if (msg->flags & QMGR_MSG_LOGS)
		(void)status_log_remove(var_queue_directory, STATUS_LOG_DEFER, id);

	r = qmgr_message_read(msg);
	if (r == QMGR_READ_LOCKED) {
		/*
		 * An agent of an earlier queue manager still works on it: look
		 * again in QMGR_LOCKED_RETRY seconds (an agent holds the lock for
		 * one delivery; it marks what it delivered, so nothing goes twice).
		 */
		msg_info("%s: skipped, still being delivered", id);
		if (move_file(id, "active", "incoming") == 0) {
			path = queue_path(var_queue_directory, "incoming", id);
			(void)set_times(path, qmgr_now + QMGR_LOCKED_RETRY);
			free(path);
			ev_timer_request(locked_retry_event, NULL, QMGR_LOCKED_RETRY + 1.5);
		}
		msg->refcount = 0;
		message_leave(msg);
		return 0;
	}
	if (r == QF_CORRUPT) {
		quarantine(id, "active");
		message_leave(msg);
		return 0;
	}
	if (r < 0) {
		/* Trouble reading: try again later rather than lose it. */
		if (move_file(id, "active", "deferred") == 0) {
			path = queue_path(var_queue_directory, "deferred", id);
			(void)set_times(path, qmgr_now + (double)var_minimal_backoff_time);
			free(path);
			qmgr_defer_index_add(id, qmgr_now + (double)var_minimal_backoff_time);
		}
		message_leave(msg);
		return 0;
	}
	if (st.st_mode & QF_MODE_UNTHROTTLE) {
		/*
		 * A flush request is honoured once.  The force-expire bit stays
		 * until the message is gone: if the bounce cannot be sent now, the
		 * next attempt expires it again.
		 */
		path = qmgr_message_path(msg);
		(void)chmod(path, QF_MODE_READY | (st.st_mode & QF_MODE_EXPIRE));
		free(path);
	}
	/*
	 * Nothing to deliver at all: a message cleanup returned to its sender
	 * at once (its bounce/ records were written before it was queued).
	 */
	if (msg->refcount == 0 && msg->rcpt_offset == 0)
		msg->flags |= QMGR_MSG_LOGS;
	if (msg->refcount == 0)
		qmgr_active_continue(msg);
	return 1;
}

/* qmgr_active_continue - the message has no entries: read more, or finish */
void qmgr_active_continue(struct qmgr_message *msg)
{
	int r;

	while (msg->refcount == 0 && msg->rcpt_offset != 0 && !msg->in_done) {
		if ((r = qmgr_message_more(msg)) < 0) {
			if (r == QF_CORRUPT)
				msg->flags |= QMGR_MSG_CORRUPT;
			else
				msg->flags |= QMGR_MSG_DEFERRED;
			msg->rcpt_offset = 0;
		}
	}
	if (msg->refcount == 0 && !msg->in_done)
		qmgr_active_done(msg);
}

/* qmgr_active_recover - start-up: return every file in active/ to incoming/ */
void qmgr_active_recover(void)
{
	struct qmgr_scan *scan = qmgr_scan_create("active", false);
	const char *id;
	char *path;
	int flags, n = 0;

	qmgr_scan_request(scan, QMGR_SCAN_START);
	while ((id = qmgr_scan_next(scan, &flags)) != NULL) {
		if (move_file(id, "active", "incoming") == 0) {
			path = queue_path(var_queue_directory, "incoming", id);
			(void)set_times(path, qmgr_now);
			free(path);
			/* Remember it: an agent may still hold it; logs may be pending. */
			if (htable_find(qmgr_recovered, id) == NULL)
				htable_enter(qmgr_recovered, id, qmgr_recovered);
			n++;
		}
	}
	if (n)
		msg_info("returned %d message%s from the active queue to the incoming queue",
			 n, n == 1 ? "" : "s");
	qmgr_scan_free(&scan);
}

/* bounce_done - a report request finished */
static void bounce_done(struct qmgr_message *msg, int status)
{
	switch (msg->done_step) {
	case DONE_BOUNCE_FLUSHED:
		/* A failed flush leaves the bounce log: try again next time. */
		if (status != 0)
			msg->flags |= QMGR_MSG_DEFERRED;
		break;
	case DONE_TRACE_FLUSHED:
		break;
	case DONE_DEFER_HANDLED:
		break;
	}
	done_next(msg);
}

/* expire_done - the expiry report went out: every recipient is done */
static void expire_done(struct qmgr_message *msg, int status)
{
	if (status == 0)
		msg->flags &= ~QMGR_MSG_DEFERRED;
	done_next(msg);
}

/* warn_done - the delay warning went out: remember it in the file */
static void warn_done(struct qmgr_message *msg, int status)
{
	char *path;
	int fd;

	if (status == 0) {
		path = qmgr_message_path(msg);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0
		    || qf_set_warn(fd, &msg->env, -1) < 0)
			msg_warn("%s: cannot update the warning time: %s", msg->id,
				 strerror(errno));
		if (fd >= 0)
			close(fd);
		msg->env.warn_time = -1;
		free(path);
	}
	done_next(msg);
}

/* finish - the last step: remove, or defer with backoff */
static void finish(struct qmgr_message *msg)
{
	char *path;
	double delay, due;

	bool pending = (msg->flags & (QMGR_MSG_DEFERRED | QMGR_MSG_DROPPED)) != 0;
	bool prompt = crash_retry_prompt(msg, pending && !(msg->flags & (QMGR_MSG_HOLD
									  | QMGR_MSG_REQUEUE)));

	if (pending && (msg->flags & QMGR_MSG_HOLD)) {
		if (move_file(msg->id, "active", "hold") == 0)
			msg_info("%s: placed on hold", msg->id);
	} else if (pending && (msg->flags & QMGR_MSG_REQUEUE)) {
		/*
		 * Requeue: back through pickup and cleanup (a complete file, mode
		 * 0700, owned by us, is a requeued file to pickup), with the logs
		 * of this attempt gone, as the queue tool does.
		 */
		const char *error;

		(void)status_log_remove(var_queue_directory, STATUS_LOG_DEFER, msg->id);
		(void)status_log_remove(var_queue_directory, STATUS_LOG_TRACE, msg->id);
		if (move_file(msg->id, "active", "maildrop") == 0) {
			msg_info("%s: requeued", msg->id);
			if (trigger_send(var_queue_directory, "public/pickup", "W", 1, &error) < 0)
				msg_warn("%s: cannot wake pickup: %s", msg->id, error);
		}
	} else if (pending && prompt) {
		delay = QMGR_CRASH_RETRY;
		if (delay > (double)var_minimal_backoff_time)
			delay = (double)var_minimal_backoff_time;
		due = qmgr_now + delay;
		path = qmgr_message_path(msg);
		if (set_times(path, due) < 0)
			msg_warn("%s: set time stamps: %s", msg->id, strerror(errno));
		free(path);
		if (move_file(msg->id, "active", "deferred") == 0) {
			qmgr_defer_index_add(msg->id, due);
			if (due > crash_retry_last)
				crash_retry_last = due;
			if (!crash_timer_armed) {
				crash_timer_armed = true;
				ev_timer_request(crash_retry_event, NULL, delay);
			}
		}
	} else if (pending) {
		delay = sched_backoff_delay(qmgr_now - msg->env.arrival_time,
					    (double)var_minimal_backoff_time,
					    (double)var_maximal_backoff_time,
					    (int)var_backoff_spread_percent, drand48());
		due = qmgr_now + delay;
		path = qmgr_message_path(msg);
		if (set_times(path, due) < 0)
			msg_warn("%s: set time stamps: %s", msg->id, strerror(errno));
		free(path);
		if (move_file(msg->id, "active", "deferred") == 0)
			qmgr_defer_index_add(msg->id, due);
	} else {
		path = qmgr_message_path(msg);
		/* No defer log is left: removed at import, flushed on expiry. */
		if (unlink(path) < 0 && errno != ENOENT)
			msg_warn("%s: remove %s: %s", msg->id, path, strerror(errno));
		else {
			msg_info("%s: removed", msg->id);
			qmgr_metrics_removed();
		}
		free(path);
	}
	message_leave(msg);
}

/* done_next - run the end-of-message chain from where it stands */
static void done_next(struct qmgr_message *msg)
{
	bool expired;
	double lifetime;
	int flags;

	switch (msg->done_step) {
	case DONE_START:
		msg->done_step = DONE_BOUNCE_FLUSHED;
		if ((msg->flags & QMGR_MSG_LOGS)
		    && status_log_exists(var_queue_directory, STATUS_LOG_BOUNCE, msg->id) > 0) {
			/* soft_bounce: no report; message and bounce log stay (Postfix). */
			if (!var_soft_bounce) {
				qmgr_bounce_request(msg, QMGR_BOUNCE_FLUSH, 0, bounce_done);
				return;
			}
			msg->flags |= QMGR_MSG_DEFERRED;
		}
		/* FALLTHROUGH */
	case DONE_BOUNCE_FLUSHED:
		msg->done_step = DONE_TRACE_FLUSHED;
		if (((msg->flags & QMGR_MSG_LOGS)
		     || (msg->tflags & (DEL_REQ_FLAG_TRACE | DEL_REQ_FLAG_VERIFY | DEL_REQ_FLAG_RECORD)))
		    && status_log_exists(var_queue_directory, STATUS_LOG_TRACE, msg->id) > 0) {
			flags = 0;
			if (msg->tflags & DEL_REQ_FLAG_TRACE)
				flags |= 1;
			if (msg->tflags & DEL_REQ_FLAG_VERIFY)
				flags |= 2;
			if ((msg->tflags & DEL_REQ_FLAG_RECORD) && !(msg->flags & QMGR_MSG_DEFERRED))
				flags |= 4;
			qmgr_bounce_request(msg, QMGR_TRACE_FLUSH, flags, bounce_done);
			return;
		}
		/* FALLTHROUGH */
	case DONE_TRACE_FLUSHED:
		msg->done_step = DONE_DEFER_HANDLED;
		if (!(msg->flags & QMGR_MSG_DEFERRED))
			break;
		lifetime = sched_lifetime(*msg->env.sender == 0,
					  (double)var_maximal_queue_lifetime,
					  (double)var_bounce_queue_lifetime);
		expired = (msg->qflags & QMGR_FORCE_EXPIRE)
			|| sched_expired(msg->env.arrival_time, qmgr_now, lifetime);
		if (expired) {
			struct buf esc;

			buf_init(&esc, 64);
			/* Postfix's words: force-expired when an administrator asked. */
			msg_info("%s: from=<%s>, status=%s, returned to sender", msg->id,
				 log_escape(&esc, msg->env.sender),
				 (msg->qflags & QMGR_FORCE_EXPIRE) ? "force-expired" : "expired");
			buf_deinit(&esc);
			qmgr_metrics_expired();
			qmgr_bounce_request(msg, QMGR_DEFER_FLUSH, 0, expire_done);
			return;
		}
		if (msg->env.warn_time > 0 && qmgr_now >= (double)msg->env.warn_time - 1) {
			qmgr_bounce_request(msg, QMGR_DEFER_WARN, 0, warn_done);
			return;
		}
		break;
	case DONE_DEFER_HANDLED:
		break;
	}
	finish(msg);
}

/* qmgr_active_done - every entry of msg is done */
void qmgr_active_done(struct qmgr_message *msg)
{
	char *path;

	if (msg->refcount != 0)
		msg_panic("qmgr_active_done: %s still has %ld entries", msg->id, msg->refcount);
	msg->in_done = true;
	if (msg->flags & QMGR_MSG_CORRUPT) {
		quarantine(msg->id, "active");
		message_leave(msg);
		return;
	}
	/*
	 * The queue tools asked for this while it was being delivered.  Delete
	 * happens now.  Hold and requeue happen at the end of the chain,
	 * after any report due for this attempt went out, and only when
	 * recipients remain (finish()); a message done meanwhile is removed.
	 */
	if ((msg->flags & (QMGR_MSG_HOLD | QMGR_MSG_REQUEUE))
	    && !(msg->flags & (QMGR_MSG_DEFERRED | QMGR_MSG_DROPPED)))
		msg->flags &= ~(QMGR_MSG_HOLD | QMGR_MSG_REQUEUE);
	if (msg->flags & QMGR_MSG_DELETE) {
		path = qmgr_message_path(msg);
		if (unlink(path) == 0) {
			msg_info("%s: removed", msg->id);
			qmgr_metrics_removed();
			(void)status_log_remove(var_queue_directory, STATUS_LOG_DEFER, msg->id);
			(void)status_log_remove(var_queue_directory, STATUS_LOG_BOUNCE, msg->id);
			(void)status_log_remove(var_queue_directory, STATUS_LOG_TRACE, msg->id);
		}
		free(path);
		message_leave(msg);
		return;
	}
	msg->done_step = DONE_START;
	done_next(msg);
}
