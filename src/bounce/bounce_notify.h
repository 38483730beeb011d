/*
 * bounce_notify - build RFC 3464 delivery status reports (pure).
 *
 * One call turns a report request (what kind, for whom, the message's
 * envelope facts, the per-recipient records of a status log and a way to
 * read the original message) into the complete report message: headers and
 * a multipart/report body with a human-readable part, a
 * message/delivery-status part and the original message (or its headers).
 *
 * The builder does no I/O and reads no clock: the time is an input, the
 * original message comes through a callback, and the boundary and
 * Message-Id are derived from the inputs, so equal inputs give equal bytes
 * (the golden tests in tests/unit/data/bounce_*.ref rely on that).  Dates
 * are written in the local time zone with a numeric offset (RFC 5322), as
 * set by TZ.
 *
 * Output lines end in LF (cleanup accepts LF) and are never longer than
 * 998 octets; 8-bit data (from the original message or from recipients
 * and remote replies) is passed through and the parts that carry it are
 * labelled 8bit.
 */
#ifndef SLUICE_BOUNCE_NOTIFY_H
#define SLUICE_BOUNCE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "global/status_log.h"

struct buf;

/* What the report says. */
enum bounce_kind {
	BOUNCE_KIND_FAILURE,		/* non-delivery: recipients given up on */
	BOUNCE_KIND_DELAY,		/* delay warning: still being retried */
	BOUNCE_KIND_SUCCESS,		/* delivered/relayed, for NOTIFY=SUCCESS */
	BOUNCE_KIND_DELAY_CLEARED,	/* delivered after a delay warning */
	BOUNCE_KIND_TRACE,		/* sendmail -v: every outcome */
	BOUNCE_KIND_VERIFY,		/* sendmail -bv: address verification */
};

/* Who the report is for; decides the recipient filter and the attachment. */
enum bounce_role {
	BOUNCE_ROLE_SENDER,		/* the original sender: NOTIFY filter, RET as asked */
	BOUNCE_ROLE_POSTMASTER,		/* a postmaster copy: every recipient, headers only */
	BOUNCE_ROLE_DOUBLE,		/* a failed report, to postmaster: every recipient, full */
};

/*
 * The original message comes through a push callback, so that the service
 * can hand qf_read_content() through directly.  The sink returns 0 to ask
 * for more and -1 when it has enough; the producer then stops and returns 0.
 * The producer returns -1 with *error_r only when reading failed.
 */
typedef int bounce_content_sink(const char *data, size_t len, void *sink_ctx);
typedef int bounce_content_fn(void *ctx, bounce_content_sink *sink, void *sink_ctx,
			      const char **error_r);

struct bounce_notify_input {
	enum bounce_kind kind;
	enum bounce_role role;
	const char *queue_id;		/* the original message's queue ID */
	const char *myhostname;		/* the reporting MTA */
	const char *mail_name;		/* "sluice": signs the text part */
	const char *sender;		/* the original envelope sender, "" = null */
	const char *recipient;		/* the report's To: (sender or postmaster) */
	const char *postmaster;		/* where the reader can ask for help */
	double arrival_time;		/* the original message's arrival, 0 unknown */
	double now;			/* the report's Date: */
	const char *envid;		/* DSN ENVID, "" or NULL when none */
	int ret;			/* DSN_RET_FULL, DSN_RET_HDRS or 0 */
	long size_limit;		/* bounce_size_limit; <= 0 means no limit */
	double retry_until;		/* DELAY: Will-Retry-Until, 0 unknown */
	double next_attempt;		/* DELAY: next delivery attempt, 0 unknown */
	const struct rcpt_status_rec *rcpts;	/* the status log records */
	size_t rcpt_count;
	bounce_content_fn *content;	/* NULL: nothing to attach */
	void *content_ctx;
};

/*
 * bounce_notify_build - render the report into out (which is reset first).
 * Returns the number of recipients reported; 0 means that no recipient
 * qualifies (NOTIFY=NEVER, nothing left) and no report must be sent (out is
 * then empty).  Never fails: when the original message cannot be read the
 * report is still built, says so, and *content_error_r (if not NULL) is
 * set to the producer's reason (borrowed from it), else to NULL.
 */
size_t bounce_notify_build(const struct bounce_notify_input *in, struct buf *out,
			   const char **content_error_r);

/*
 * bounce_notify_wanted - does record r belong in a report of this kind for
 * this role?  Sender reports follow the recipient's NOTIFY bits (0 counts
 * as FAILURE,DELAY for compatibility); postmaster reports take everyone the
 * kind is about.
 */
bool bounce_notify_wanted(enum bounce_kind kind, enum bounce_role role,
			  const struct rcpt_status_rec *r);

/*
 * bounce_notify_status - the RFC 3463 status reported for r: the recorded
 * one when valid, else derived from the remote reply, the reason text and
 * the action (e.g. 5.1.1 unknown user, 4.4.1 no answer, 4.4.7 expired).
 */
void bounce_notify_status(enum bounce_kind kind, const struct rcpt_status_rec *r,
			  char status_r[16]);

/* bounce_notify_action - the RFC 3464 Action reported for r. Static string. */
const char *bounce_notify_action(enum bounce_kind kind, const struct rcpt_status_rec *r);

/* bounce_kind_name - "failure", "delay", ... for logs and tags. Static. */
const char *bounce_kind_name(enum bounce_kind kind);

#endif
