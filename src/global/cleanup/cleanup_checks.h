/*
 * cleanup_checks - Postfix's header and body checks for new mail
 * (header_checks(5)): header_checks, mime_header_checks,
 * nested_header_checks and body_checks, looked up with the whole header
 * field (continuation lines included, as Postfix does) or body line as the
 * key, usually in regexp: or pcre: tables.
 *
 * A table answers "ACTION [text]".  What each action does to the message
 * is collected in a struct cleanup_verdict and carried out by cleanup when
 * the message is closed; what it does to the line is done at once:
 *
 *   REJECT [text]      refuse the message ("5.7.1 text", default text
 *                      "Message content rejected"); checks stop
 *   DEFER [text]       refuse it for now ("4.7.1 ..."); checks stop
 *   DISCARD [text]     accept it and throw it away; checks stop
 *   HOLD [text]        queue it in hold/
 *   REDIRECT addr      deliver to addr instead of every recipient
 *   FILTER tr:nexthop  send it through this content filter
 *   BCC addr           add a recipient
 *   PREPEND text       put a line (a header field for headers) before it
 *   REPLACE text       put this line (header field) in its place
 *   IGNORE             drop the line
 *   WARN / INFO [text] log only
 *   DUNNO, OK          nothing
 *
 * A text may start with an RFC 3463 status; REJECT keeps a 5.x.x one and
 * DEFER a 4.x.x one (the other class digit is corrected).  Every action but
 * PREPEND, REPLACE, IGNORE, DUNNO and OK logs a line in Postfix's shape:
 *   "ID: reject: header Subject: xx from local; from=<s> to=<r>: 5.7.1 text"
 * ("body" for body lines; after "from" the client, "local" for pickup;
 * " proto=P helo=<H>" before the colon when the client gave them).
 *
 * Tables are opened on first use and opened again when their file changed
 * or the parameter did.  A table that cannot be opened or read refuses the
 * message with "4.3.0 lookup table not available" (never "not found"); an
 * unknown action or a malformed argument is logged as a warning naming the
 * table and ignored, as Postfix does.
 */
#ifndef SLUICE_CLEANUP_CHECKS_H
#define SLUICE_CLEANUP_CHECKS_H

#include <stdbool.h>

struct argv;
struct buf;
struct cleanup_stream;

/* What the checks decided for the message (cleanup carries it out). */
struct cleanup_verdict {
	char *error;			/* REJECT/DEFER (or a table error): "5.7.1 text" */
	bool discard;
	bool hold;
	char *filter;			/* FILTER: "transport:nexthop" */
	char *redirect;			/* REDIRECT: the address */
	struct argv *bcc;		/* BCC: addresses; NULL until one */
};

/* Who the message is from and to, for the log lines. */
struct cleanup_checks_log {
	const char *(*queue_id)(void *ctx);	/* the ID (asked only when logging) */
	void *ctx;
	const char *origin;		/* "local", "host[addr]" */
	const char *sender;
	const char *rcpt;		/* the first recipient, or NULL */
	const char *proto, *helo;	/* NULL: not logged */
};

/* cleanup_checks_configured - is any of the four parameters set? */
bool cleanup_checks_configured(void);

/*
 * cleanup_checks_apply - one line of class cls (CLEANUP_HDR_* or
 * CLEANUP_BODY from cleanup_stream.h) in text: look it up, act, record in
 * *v.  Lines written before it (PREPEND) go to s with cleanup_stream_emit;
 * REPLACE changes text.  Returns false when the line is to be dropped.
 * Once v->error or v->discard is set, lines are no longer looked up.
 */
bool cleanup_checks_apply(struct cleanup_verdict *v, int cls, struct buf *text,
			  struct cleanup_stream *s, const struct cleanup_checks_log *lg);

/* cleanup_verdict_free - release what *v holds and clear it. */
void cleanup_verdict_free(struct cleanup_verdict *v);

/* cleanup_checks_reset - close the tables (tests, before exit). */
void cleanup_checks_reset(void);

#endif
