/*
 * bounce_service - the work behind one bounce/defer/trace request.
 *
 * The queue manager decides when a report is due and sends one request per
 * connection (see bounce.c for the protocol).  This module turns a decoded
 * request into its effects: reports built by bounce_notify and submitted
 * through cleanup, recipients marked done in the queue file, status logs
 * removed.  Reports are submitted with the null sender (postmaster copies
 * and double bounces with double_bounce_sender), flagged QF_FLAG_BOUNCE,
 * without DSN RET.
 *
 * The parameters it uses (var_*) must have been read (mail_conf) and
 * queue_hash_init() called before the first request.
 */
#ifndef SLUICE_BOUNCE_SERVICE_H
#define SLUICE_BOUNCE_SERVICE_H

#include <stdbool.h>

#include "global/queue_file.h"

struct attr_list;
struct buf;

/* Request flag bits (attribute "flags"). */
#define BOUNCE_FLAG_VERBOSE		(1 << 0)	/* sendmail -v: full trace */
#define BOUNCE_FLAG_VERIFY		(1 << 1)	/* sendmail -bv: verify report */
#define BOUNCE_FLAG_DELAY_CLEARED	(1 << 2)	/* a delay warning went out */

enum bounce_op {
	BOUNCE_OP_BOUNCE_FLUSH,		/* bounce/ log: non-delivery report, marks */
	BOUNCE_OP_DEFER_FLUSH,		/* defer/ log, message expired: same */
	BOUNCE_OP_DEFER_WARN,		/* defer/ log: delay warning, log kept */
	BOUNCE_OP_TRACE_FLUSH,		/* trace/ log: success/trace/verify reports */
};

/* A decoded request; strings borrowed from the attribute list. */
struct bounce_request {
	enum bounce_op op;
	const char *queue_name;
	const char *queue_id;
	const char *sender;		/* NULL: take it from the queue file */
	const char *envid;		/* NULL: take it from the queue file */
	int ret;			/* DSN_RET_*, -1: from the queue file */
	int flags;			/* BOUNCE_FLAG_* */
	double arrival_time;		/* 0: from the queue file */
	double next_attempt;		/* 0: unknown */
};

/*
 * bounce_request_decode - check and decode a request frame: a known
 * request, a queue name that is a plain queue folder, a valid queue ID and
 * well-formed optional fields.  0, or -1 with *error_r (static).
 */
int bounce_request_decode(const struct attr_list *al, struct bounce_request *req_r,
			  const char **error_r);

/*
 * bounce_service_run - carry out one request at time now.  Returns 0 when
 * everything it asks for is done (also when there was nothing to report),
 * -1 when it should be tried again later, with *reason_r (valid until the
 * next call).  Never sends a report twice within one call; a retry after a
 * failure may repeat a report that did go out (at least once, like Postfix).
 */
int bounce_service_run(const struct bounce_request *req, double now, const char **reason_r);

/* bounce_notify_class - does notify_classes list cls ("bounce", "delay"...)? */
bool bounce_notify_class(const char *cls);

/*
 * bounce_submit - queue a finished report through cleanup: envelope sender
 * env_sender ("" null), one recipient, QF_FLAG_BOUNCE, no DSN RET (see
 * notice_submit() in global/notice.h, which does the work).  The new
 * queue ID goes to id_r.  0, or -1 with *error_r (borrowed from cleanup).
 */
int bounce_submit(const char *env_sender, const char *recipient, const struct buf *report,
		  char id_r[QUEUE_ID_SIZE], const char **error_r);

/*
 * bounce_postmaster_notice - tell the postmaster about a problem of class
 * cls ("resource", "software", "protocol", "policy", "data", or "bounce",
 * "2bounce", "delay") when notify_classes lists it: notice_send() (global/
 * notice.h) with Subject "Postmaster Warning: subject" and body text.
 * Returns 1 sent, 0 not sent (class not listed, or a repeat), -1 with
 * *error_r.  Logs "queue_id: postmaster CLS notification: NEWID" when sent.
 */
int bounce_postmaster_notice(const char *cls, const char *queue_id, const char *subject,
			     const char *text, double now, const char **error_r);

#endif
