/*
 * smtpd_check_actions - the access(5) results that do not answer the
 * command but change what happens to the message or only log: DISCARD,
 * HOLD, REDIRECT, BCC, FILTER, PREPEND, WARN and INFO (docs/SMTPD.md).
 *
 * What the tables decide for a transaction is collected in a struct
 * smtpd_actions (one per session, cleared with the envelope) and handed to
 * cleanup when the message starts, which carries it out as it carries out
 * the same actions of header_checks: hold/, nothing queued, every
 * recipient replaced, a copy to one more, the filter= attribute, a header
 * field in front.
 *
 * Each action logs one line in the shape of Postfix's smtpd:
 *   "ID: hold: RCPT from host[addr]: <x>: Recipient address triggers HOLD
 *    action; from=<s> to=<r> proto=ESMTP helo=<h>"
 * ("NOQUEUE" before the queue file exists; text from the table replaces
 * "triggers HOLD action").
 */
#ifndef SLUICE_SMTPD_CHECK_ACTIONS_H
#define SLUICE_SMTPD_CHECK_ACTIONS_H

#include <stdbool.h>

struct argv;
struct cleanup;
struct smtpd_check_ctx;

/* What the access tables decided for the message. */
struct smtpd_actions {
	bool discard;
	bool hold;
	char *redirect;			/* REDIRECT: the address */
	char *filter;			/* FILTER: "transport:destination" */
	struct argv *prepend;		/* PREPEND: header fields, in order */
	struct argv *bcc;		/* BCC: addresses of copies */
};

/* smtpd_actions_reset - forget every decision (a new transaction). */
void smtpd_actions_reset(struct smtpd_actions *a);

/* smtpd_actions_apply - hand the decisions to cleanup; before the first
 * byte of the message is written. */
void smtpd_actions_apply(const struct smtpd_actions *a, struct cleanup *c);

/*
 * smtpd_check_action - act on an access table value ("HOLD some text")
 * when it is one of the actions above.  table names the table for
 * warnings, subject and what the reply name and class ("<x>", "Recipient
 * address").  Returns SMTPD_ACTION_NONE (not such an action: the caller
 * goes on), SMTPD_ACTION_DUNNO (done; the list goes on) or
 * SMTPD_ACTION_PERMIT (DISCARD: done; the list permits).
 */
enum { SMTPD_ACTION_NONE, SMTPD_ACTION_DUNNO, SMTPD_ACTION_PERMIT };
int smtpd_check_action(const struct smtpd_check_ctx *ctx, const char *table, const char *value,
		       const char *subject, const char *what);

/* smtpd_log_whatsup - "ID: action: WHERE from client: text; from=<s>
 * to=<r> proto=P helo=<h>" (each part after the ";" when known). */
void smtpd_log_whatsup(const struct smtpd_check_ctx *ctx, const char *action, const char *text);

#endif
