/*
 * bounce_append - the one place where a permanent delivery failure is
 * recorded, by every delivery agent (agent_server) and by the queue
 * manager (error transport, unknown routing ...), as Postfix's
 * bounce_append() is.
 *
 * Normally: the recipient's record goes to the bounce/ log (action
 * "failed"), to the trace/ log too when the sender asked for a trace, and
 * the line "ID: to=<...>, ..., dsn=5.1.1, status=bounced (REASON)" is
 * logged.  The caller then marks the recipient done.
 *
 * With soft_bounce = yes (Postfix's safety net, "keep mail queued that
 * would otherwise be returned to the sender"): the failure becomes a
 * deferral, as Postfix makes it: the status's class digit becomes 4
 * ("5.1.1" -> "4.1.1"), the action "delayed", the reason and the remote
 * reply are kept ("... said: 550 5.1.1 ..."), the record goes to the defer/
 * log, and the line is Postfix's
 *   "ID: to=<...>, ..., dsn=4.1.1, status=SOFTBOUNCE (REASON)".
 * The caller must then treat the recipient as deferred (not done).
 *
 * Address verification (sendmail -bv) is not a delivery: its callers
 * record it in the trace log themselves and never come here.
 *
 * Return convention: BOUNCE_APPEND_BOUNCED (0) or BOUNCE_APPEND_DEFERRED
 * (1, soft bounce), or -1 with *error_r (static) when the bounce log could
 * not be written: nothing was logged, the caller defers the recipient.
 */
#ifndef SLUICE_BOUNCE_APPEND_H
#define SLUICE_BOUNCE_APPEND_H

#include <stdbool.h>

#include "global/status_log.h"

#define BOUNCE_APPEND_BOUNCED	0
#define BOUNCE_APPEND_DEFERRED	1

/* Where the log line's relay and delay figures come from (deliver_log.h). */
struct bounce_append_log {
	const char *relay;		/* NULL: "none" */
	double delay;			/* since arrival */
	double delays[4];		/* a/b/c/d */
};

/*
 * bounce_append - record st (a permanent failure: st->dsn.status 5.x.y,
 * anything else is taken as 5.0.0) for queue_id; trace: also the trace/
 * log.  st->dsn.action is ignored.
 */
int bounce_append(const char *queue_id, const struct rcpt_status *st, bool trace,
		  const struct bounce_append_log *lg, const char **error_r);

/* bounce_soft_status - "5.1.1" as soft_bounce records it ("4.1.1") into
 * out; a status that is not 5.x.y becomes 4.0.0. Returns out. */
const char *bounce_soft_status(const char *status, char out[16]);

#endif
