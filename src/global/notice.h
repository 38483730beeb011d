/*
 * notice - postmaster notices for the problem classes of notify_classes
 * (Postfix postconf(5) notify_classes, mail_error.h).
 *
 * PURPOSE: one way for every program (delivery agents, the queue manager,
 * the bounce service, smtpd later) to tell the postmaster that something
 * went wrong that a person should look at: a short text/plain message
 * queued through the cleanup library, from double_bounce_sender to the
 * class's notice recipient (error_notice_recipient for policy, protocol,
 * resource, software and data; bounce_notice_recipient, 2bounce_notice_
 * recipient, delay_notice_recipient for the other three), optionally with
 * a session transcript ("Transcript of session follows.", as Postfix's
 * smtp(8) and smtpd(8) send it).
 *
 * CONTRACT:
 *   - sent only when notify_classes lists one of the notice's classes;
 *   - never about a notice: when the message the trouble is about was sent
 *     by double_bounce_sender (our own notices and postmaster copies), the
 *     notice is discarded with a log line, so that a notice that cannot be
 *     delivered cannot cause another one (bounces of notices are discarded
 *     by the bounce service for the same reason);
 *   - volume: a caller sends at most one notice per failing delivery; on
 *     top of that one process sends the same Subject at most once per
 *     NOTICE_REPEAT_SECS (a broken peer or a missing table is then one
 *     notice a minute per process, not one per message);
 *   - the notice is queued synchronously (cleanup: write, fsync, rename).
 *
 * NOT: it does not decide what is worth a notice (the callers classify
 * their troubles as Postfix does) and it does not send reports about
 * recipients (bounce_notify in src/bounce does that).
 *
 * DIAGNOSTICS: "QUEUEID: postmaster CLASS notification: NEWID" when queued
 * (without "QUEUEID: " when the notice is about no message); "QUEUEID:
 * postmaster CLASS notification discarded: the message is itself a
 * postmaster notice"; failures to queue are returned, not logged.
 */
#ifndef SLUICE_NOTICE_H
#define SLUICE_NOTICE_H

#include <stdbool.h>

#include "global/queue_file.h"

struct buf;

/* The classes of notify_classes, as bits. */
#define NOTICE_BOUNCE	(1 << 0)	/* postmaster copy of a non-delivery report */
#define NOTICE_2BOUNCE	(1 << 1)	/* a report that could not be delivered */
#define NOTICE_DELAY	(1 << 2)	/* postmaster copy of a delay warning */
#define NOTICE_POLICY	(1 << 3)	/* a client rejected by policy (smtpd transcript) */
#define NOTICE_PROTOCOL	(1 << 4)	/* a peer broke the protocol (session transcript) */
#define NOTICE_RESOURCE	(1 << 5)	/* not delivered for lack of a resource (queue file write) */
#define NOTICE_SOFTWARE	(1 << 6)	/* not delivered because of a software problem */
#define NOTICE_DATA	(1 << 7)	/* a critical data file (table, alias file) unavailable */

/* Same Subject from one process at most this often (seconds). */
#define NOTICE_REPEAT_SECS	60

/* notice_class_mask - the NOTICE_* bits of a notify_classes value (unknown
 * words are ignored: the parameter check rejects them). */
int notice_class_mask(const char *list);

/* notice_enabled - the classes of mask that var_notify_classes lists. */
int notice_enabled(int mask);

/* notice_class_name - "protocol" for NOTICE_PROTOCOL ...; the lowest bit
 * of mask; static string, "" for 0. */
const char *notice_class_name(int mask);

/* notice_sender_is_ours - is sender double_bounce_sender, bare or
 * qualified with @myorigin as cleanup writes it? */
bool notice_sender_is_ours(const char *sender);

struct notice {
	int classes;			/* NOTICE_* bits this trouble belongs to */
	const char *queue_id;		/* the message concerned, or NULL */
	const char *sender;		/* its envelope sender, or NULL (not known) */
	const char *subject;		/* the whole Subject */
	const char *text;		/* what happened; each line a paragraph */
	const char *transcript;		/* NULL, or session lines ("Out: ...", "In: ...") */
};

/*
 * notice_format - the notice as a message (out is reset first): From
 * MAILER-DAEMON@myhostname, To to, Subject, Auto-Submitted, Date now,
 * Message-Id made of now, the queue ID and the class, MIME text/plain;
 * the body is text, then when there is a transcript "Transcript of session
 * follows." and each transcript line indented by one space, wrapped at 78
 * columns with a four-space indent, control characters as '?'.  No line
 * is longer than 998 octets.  Pure.
 */
void notice_format(struct buf *out, const struct notice *n, const char *to, double now);

/*
 * notice_send - queue notice n at time now when notify_classes lists one
 * of its classes.  Returns 1 queued (logged), 0 not sent (class not
 * listed, repeat within NOTICE_REPEAT_SECS, or a notice about a notice,
 * logged), -1 could not be queued with *error_r (borrowed from cleanup).
 */
int notice_send(const struct notice *n, double now, const char **error_r);

/*
 * notice_warn - notice_send() of a notice of class cls about queue_id
 * (may be NULL) from sender (may be NULL) with Subject "Postmaster
 * Warning: subject" and a formatted text; a failure to queue it is logged
 * as a warning.  For the one-line call sites in agents and daemons.
 */
void notice_warn(int cls, const char *queue_id, const char *sender, const char *subject,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* notice_submit - queue a finished message from env_sender to recipient
 * through cleanup, flagged QF_FLAG_BOUNCE, without DSN RET (default
 * NOTIFY, so a failure comes back to the bounce service, which discards
 * it).  0 with the new ID in id_r, or -1 with *error_r. */
int notice_submit(const char *env_sender, const char *recipient, const struct buf *message,
		  char id_r[QUEUE_ID_SIZE], const char **error_r);

/* notice_reset_repeats - forget the Subjects sent (tests). */
void notice_reset_repeats(void);

#endif
