/*
 * qmgr_defer - outcomes the queue manager records itself, without an
 * agent: deferrals for defer_transports, dead transports (when even retry
 * is dead), the verification limit and crashed agents; the discarding of
 * mail to the double-bounce address.  Same log line and status log records
 * as an agent would write (deliver_log.c, status_log.c).
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/bounce_append.h"
#include "global/deliver_log.h"
#include "global/deliver_request.h"
#include "global/dsn.h"
#include "global/params.h"
#include "global/status_log.h"
#include "qmgr.h"
#include "util/log.h"

/* log_rcpt - the to=<...> line for a recipient the queue manager decided */
static void log_rcpt(struct qmgr_message *msg, const struct qmgr_rcpt *r,
		     const struct dsn *dsn, const char *word)
{
	double delays[4] = {msg->active_time - msg->env.arrival_time,
			    qmgr_now - msg->active_time, 0, 0};

	deliver_log_rcpt(msg->id, r->address, r->orig_rcpt, "none",
			 qmgr_now - msg->env.arrival_time, delays, dsn, word, -1);
}

/* append - one status log record */
static int append(struct qmgr_message *msg, const struct qmgr_rcpt *r, const char *log,
		  const struct dsn *dsn)
{
	struct rcpt_status st = {
		.recipient = r->address, .orig_rcpt = r->orig_rcpt, .offset = r->offset,
		.dsn_orcpt = r->dsn_orcpt, .notify = r->notify, .dsn = *dsn, .time = qmgr_now,
	};
	const char *error;

	if (status_log_append(var_queue_directory, log, msg->id, &st, &error) < 0) {
		msg_warn("%s: %s log: %s", msg->id, log, error);
		return -1;
	}
	return 0;
}

/* make_dsn - a dsn from status and reason */
static struct dsn make_dsn(const char *status, const char *action, const char *reason)
{
	struct dsn d;

	memset(&d, 0, sizeof(d));
	snprintf(d.status, sizeof(d.status), "%s", dsn_status_valid(status) ? status : "4.0.0");
	d.action = action;
	d.reason = reason;
	return d;
}

/* qmgr_defer_rcpt - defer one recipient now */
void qmgr_defer_rcpt(struct qmgr_message *msg, const struct qmgr_rcpt *r,
		     const char *status, const char *reason)
{
	struct dsn dsn = make_dsn(status, "delayed", reason);

	if (msg->tflags & DEL_REQ_FLAG_TRACE)
		(void)append(msg, r, STATUS_LOG_TRACE, &dsn);
	(void)append(msg, r, STATUS_LOG_DEFER, &dsn);
	log_rcpt(msg, r, &dsn, "deferred");
	qmgr_metrics_outcome("qmgr", r->address, QMGR_OUTCOME_DEFERRED, 1);
	msg->flags |= QMGR_MSG_DEFERRED;
}

/* qmgr_defer_batch - defer every recipient of a batch */
void qmgr_defer_batch(struct qmgr_batch *b, const char *status, const char *reason)
{
	for (size_t i = 0; i < b->count; i++)
		qmgr_defer_rcpt(b->msg, &b->rcpt[i], status, reason);
}

/* mark_done - flag one recipient done in the queue file */
static void mark_done(struct qmgr_message *msg, const struct qmgr_rcpt *r)
{
	char *path = qmgr_message_path(msg);
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0 || qf_mark_done(fd, r->offset) != 0)
		msg_warn("%s: cannot mark <%s> done: %s", msg->id, r->address,
			 fd < 0 ? strerror(errno) : "no recipient record at its offset");
	if (fd >= 0)
		close(fd);
	free(path);
}

/* qmgr_discard_rcpt - drop a recipient with a log line (double bounce) */
void qmgr_discard_rcpt(struct qmgr_message *msg, const struct qmgr_rcpt *r,
		       const char *reason)
{
	struct dsn dsn = make_dsn("2.0.0", "delivered", reason);

	log_rcpt(msg, r, &dsn, "sent");
	qmgr_metrics_outcome("qmgr", r->address, QMGR_OUTCOME_SENT, 1);
	mark_done(msg, r);
}

/* qmgr_bounce_rcpt - bounce one recipient now (bounce log, then done
 * mark); under soft_bounce a deferral (bounce_append.h) */
void qmgr_bounce_rcpt(struct qmgr_message *msg, const struct qmgr_rcpt *r,
		      const char *status, const char *reason)
{
	struct dsn dsn = make_dsn(status, "failed", reason);
	struct rcpt_status st = {
		.recipient = r->address, .orig_rcpt = r->orig_rcpt, .offset = r->offset,
		.dsn_orcpt = r->dsn_orcpt, .notify = r->notify, .dsn = dsn, .time = qmgr_now,
	};
	struct bounce_append_log lg = {
		.relay = "none", .delay = qmgr_now - msg->env.arrival_time,
		.delays = {msg->active_time - msg->env.arrival_time, qmgr_now - msg->active_time},
	};
	const char *error;

	switch (bounce_append(msg->id, &st, (msg->tflags & DEL_REQ_FLAG_TRACE) != 0, &lg, &error)) {
	case BOUNCE_APPEND_BOUNCED:
		qmgr_metrics_outcome("qmgr", r->address, QMGR_OUTCOME_BOUNCED, 1);
		msg->flags |= QMGR_MSG_LOGS;
		mark_done(msg, r);
		break;
	case BOUNCE_APPEND_DEFERRED:
		qmgr_metrics_outcome("qmgr", r->address, QMGR_OUTCOME_DEFERRED, 1);
		msg->flags |= QMGR_MSG_DEFERRED;
		break;
	default:
		msg_warn("%s: %s log: %s", msg->id, STATUS_LOG_BOUNCE, error);
		qmgr_defer_rcpt(msg, r, "4.3.0", "cannot record bounce status");
		break;
	}
}
