/*
 * bounce_append - record a permanent failure, or under soft_bounce a
 * deferral (see bounce_append.h).
 *
 * DIAGNOSTICS: the Postfix-shaped per-recipient line (deliver_log);
 * status_log's error text when the bounce log cannot be written.  A
 * failed trace or defer log append is a warning (the outcome stands: the
 * defer log only feeds delay warnings, and Postfix also goes on).
 */
#include <stdio.h>
#include <string.h>

#include "global/bounce_append.h"
#include "global/deliver_log.h"
#include "global/dsn.h"
#include "global/params.h"
#include "util/log.h"

/* bounce_soft_status - the 4.x.y twin of a 5.x.y status */
const char *bounce_soft_status(const char *status, char out[16])
{
	if (status && status[0] == '5' && dsn_status_valid(status))
		snprintf(out, 16, "4%.14s", status + 1);
	else
		snprintf(out, 16, "4.0.0");
	return out;
}

/* bounce_append - bounce log, or defer log under soft_bounce */
int bounce_append(const char *queue_id, const struct rcpt_status *st, bool trace,
		  const struct bounce_append_log *lg, const char **error_r)
{
	struct rcpt_status rec = *st;
	const char *error;

	/* A hostile server can send anything: only a 5.x.y is a bounce status. */
	if (rec.dsn.status[0] != '5' || !dsn_status_valid(rec.dsn.status)) {
		msg_warn("%s: bounce_append: ignoring status \"%.15s\" for <%s>", queue_id,
			 rec.dsn.status, rec.recipient);
		snprintf(rec.dsn.status, sizeof(rec.dsn.status), "5.0.0");
	}

	if (var_soft_bounce) {
		char soft[16];

		/*
		 * Pretend the agent deferred: same reason and remote reply, a 4.x.y
		 * status; the message stays queued and is retried.
		 */
		snprintf(rec.dsn.status, sizeof(rec.dsn.status), "%s",
			 bounce_soft_status(rec.dsn.status, soft));
		rec.dsn.action = "delayed";
		if (status_log_append(var_queue_directory, STATUS_LOG_DEFER, queue_id, &rec,
				      &error) < 0)
			msg_warn("%s: defer log append for <%s>: %s", queue_id, rec.recipient,
				 error);
		if (trace && status_log_append(var_queue_directory, STATUS_LOG_TRACE, queue_id,
					       &rec, &error) < 0)
			msg_warn("%s: trace log append for <%s>: %s", queue_id, rec.recipient,
				 error);
		deliver_log_rcpt(queue_id, rec.recipient, rec.orig_rcpt, lg->relay, lg->delay,
				 lg->delays, &rec.dsn, "SOFTBOUNCE", -1);
		return BOUNCE_APPEND_DEFERRED;
	}

	/* The bounce log is the only memory of this failure: it comes first. */
	rec.dsn.action = "failed";
	if (status_log_append(var_queue_directory, STATUS_LOG_BOUNCE, queue_id, &rec,
			      error_r) < 0)
		return -1;
	if (trace && status_log_append(var_queue_directory, STATUS_LOG_TRACE, queue_id, &rec,
				       &error) < 0)
		msg_warn("%s: trace log append for <%s>: %s", queue_id, rec.recipient, error);
	deliver_log_rcpt(queue_id, rec.recipient, rec.orig_rcpt, lg->relay, lg->delay, lg->delays,
			 &rec.dsn, "bounced", -1);
	return BOUNCE_APPEND_BOUNCED;
}
