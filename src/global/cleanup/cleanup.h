/*
 * cleanup - the only code that creates queue files in incoming/.
 *
 * Used by pickup (local submissions), the bounce service (delivery status
 * reports) and, later, smtpd.  One struct cleanup is one message:
 *
 *   c = cleanup_open(queue_dir, flags, &err);
 *   cleanup_set_sender(c, "a@b.test");          envelope first:
 *   cleanup_set_dsn / _qflags / _attr / _uid / _fullname / _arrival
 *   cleanup_add_rcpt(c, ...)                    any time before close
 *   cleanup_write(c, data, len) ...             the message, any pieces
 *   cleanup_close(&c, id, &err)  or  cleanup_abort(&c)
 *
 * All cleanup_set_*() calls must come before the first cleanup_write()
 * (the envelope is written then); a later call is a programming error and
 * panics.  The message may use LF or CRLF line ends; it is stored with LF.
 *
 * What cleanup does to the message (Postfix cleanup(8) behaviour):
 *   - prepends "Received: by $myhostname ($mail_name, from userid N);
 *     DATE" ("(...)" without "from userid" when no uid was given).  The
 *     queue ID is not in it: the ID is the file's inode number, known only
 *     at commit, after the header has been written (sluice departs from
 *     Postfix here; the log ties the ID to the Message-ID instead);
 *   - appends, at the end of the header block, the missing From: (the
 *     sender, with the full name when set; MAILER-DAEMON@$myhostname for
 *     the null sender), Date: (arrival time) and
 *     Message-ID: <YYYYMMDDhhmmss.RANDOM@$myhostname>;
 *   - CLEANUP_FLAG_EXTRACT: adds the To/Cc/Bcc recipients (Resent-To/Cc/Bcc
 *     when present) to those given with cleanup_add_rcpt(), and removes
 *     Bcc:;
 *   - recipients are qualified with @$myorigin when they have no domain,
 *     and duplicates (same address and original recipient) are dropped, up
 *     to duplicate_filter_limit of them;
 *   - the sender too is qualified with @$myorigin;
 *   - envelope addresses are rewritten (canonical_maps, masquerade_domains,
 *     virtual_alias_maps, automatic BCC: docs/REWRITE.md, cleanup_rewrite.h);
 *   - header_checks, mime_header_checks, nested_header_checks and
 *     body_checks act on each line (cleanup_checks.h), not on delivery
 *     status reports; their message-level decisions are carried out at
 *     close: REJECT/DEFER refuse ("5.7.1 ..."/"4.7.1 ..."), DISCARD
 *     succeeds without queueing anything (the ID is reported all the same),
 *     HOLD commits into hold/, REDIRECT replaces every recipient, FILTER
 *     sets the message's content filter;
 *   - with cleanup_replace_stray_cr_lf (default yes), each CR that is not
 *     part of a CR LF line end becomes a space (every LF is a line end
 *     here: the message is stored with LF line ends and sent with CR LF),
 *     so no stray CR or LF can reach an SMTP peer (SMTP smuggling).
 *
 * What cleanup refuses (cleanup_close() fails, nothing is queued); the
 * error text starts with an RFC 3463 status, 5.x.x permanent, 4.x.x
 * temporary:
 *   "5.3.4 message size exceeds fixed limit"      (message_size_limit)
 *   "5.4.6 too many hops"                          (>= hopcount_limit Received:)
 *   "5.1.3 no recipients specified"
 *   "5.1.3 malformed recipient address"            (cleanup_add_rcpt said -1)
 *   "5.5.3 too many recipients ..."                (cleanup_recipient_limit)
 *   "5.3.4 envelope size exceeds ..."              (cleanup_envelope_size_limit)
 *   "4.3.0 ..."                                    (queue file I/O)
 *   "4.3.0 lookup table not available"             (a rewriting or check table failed)
 *   "5.7.1 text", "4.7.1 text"                     (content check REJECT, DEFER)
 *   "5.4.6 virtual alias expansion of ..."         (expansion limits)
 *
 * On success cleanup_close() logs, Postfix style,
 *   "QUEUEID: uid=N from=<sender>"   (when a uid was given: pickup's line;
 *                                     " orig_id=ID" added for requeued mail)
 *   "QUEUEID: message-id=<...>"
 * and writes the "I" trigger to public/qmgr (nobody listening is fine: qmgr
 * scans incoming/ when it starts).
 *
 * The queue file's delay-warning time is arrival + delay_warning_time when
 * that parameter is > 0 and the sender is not null.
 *
 * Configuration: reads var_myhostname, var_myorigin, var_mail_name,
 * var_message_size_limit, var_header_size_limit, var_hopcount_limit,
 * var_delay_warning_time, var_duplicate_filter_limit,
 * var_cleanup_recipient_limit, var_cleanup_envelope_size_limit and
 * var_cleanup_replace_stray_cr_lf.
 */
#ifndef SLUICE_CLEANUP_H
#define SLUICE_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>

#include "global/queue_file.h"

struct cleanup;

#define CLEANUP_FLAG_EXTRACT	(1 << 0)	/* recipients from To/Cc/Bcc (sendmail -t) */
#define CLEANUP_FLAG_BOUNCE	(1 << 1)	/* a delivery status report: QF_FLAG_BOUNCE */
/*
 * CLEANUP_FLAG_RETURN - a permanent refusal (5.x.x: content check REJECT,
 * too big, too many hops, a malformed recipient; not the envelope caps) of
 * a message that has recipients is returned
 * to the sender as a bounce, as Postfix's cleanup does for pickup: the
 * message is queued with every recipient done and a bounce/ record for
 * each ("ID: to=<r>, relay=none, ..., dsn=5.7.1, status=bounced (text)"),
 * and cleanup_close() succeeds.  Without it the producer is told.
 */
#define CLEANUP_FLAG_RETURN	(1 << 2)

/* cleanup_open - start a message in queue_dir/incoming.  NULL with *error_r
 * (static; "4.3.0 ..." ) when the queue file cannot be created. */
struct cleanup *cleanup_open(const char *queue_dir, int flags, const char **error_r);

/* cleanup_set_sender - envelope sender in internal form; "" is the null sender. */
void cleanup_set_sender(struct cleanup *c, const char *sender);
/* cleanup_set_fullname - the sender's full name for an added From: (sendmail -F). */
void cleanup_set_fullname(struct cleanup *c, const char *name);
/* cleanup_set_dsn - DSN ENVID ("" or NULL none) and RET (DSN_RET_* or 0). */
void cleanup_set_dsn(struct cleanup *c, const char *envid, int ret);
/* cleanup_set_qflags - QF_FLAG_* bits (trace requests). */
void cleanup_set_qflags(struct cleanup *c, int qf_flags);
/*
 * SMTPUTF8 (RFC 6531; Postfix's rules, docs/RELAY.md "Content"): the queue
 * file gets QF_FLAG_SMTPUTF8 when smtputf8_enable is yes and
 *   - the producer says the sender requested it (smtpd: MAIL FROM ...
 *     SMTPUTF8; sendmail -SMTPUTF8 arrives as the flag in cleanup_set_qflags),
 *   - or the producer asks for autodetection (its origin class is in
 *     smtputf8_autodetect_classes, cleanup_smtputf8_class()) and the final
 *     envelope sender, a final envelope recipient or a kept primary header
 *     field has a byte above 127.
 * With smtputf8_enable = no the flag is never set (a requeued message
 * loses it).
 */
#define CLEANUP_SMTPUTF8_REQUESTED	(1 << 0)
#define CLEANUP_SMTPUTF8_AUTODETECT	(1 << 1)
/* cleanup_set_smtputf8 - CLEANUP_SMTPUTF8_* bits (replaces earlier ones). */
void cleanup_set_smtputf8(struct cleanup *c, int how);
/* cleanup_smtputf8_class - is this origin class ("sendmail", "smtpd" ...)
 * named in smtputf8_autodetect_classes ("all" names every class)?  Unknown
 * names in the parameter are warned about and ignored. */
bool cleanup_smtputf8_class(const char *origin_class);
/* cleanup_set_attr - a name=value envelope attribute (copied). */
void cleanup_set_attr(struct cleanup *c, const char *name, const char *value);
/* cleanup_set_uid - the submitting user, for Received: and the log. */
void cleanup_set_uid(struct cleanup *c, long uid);
/* cleanup_set_arrival - arrival time (default: when cleanup_open ran). */
void cleanup_set_arrival(struct cleanup *c, double when);
/* cleanup_set_orig_id - the queue ID a requeued message had, for the log
 * ("uid=N from=<...> orig_id=ID", as Postfix's pickup writes it). */
/*
 * cleanup_set_queue_id - commit under this queue ID (it must be unused in
 * incoming/; cleanup_close fails with "File exists" otherwise).  pickup
 * gives a message the ID of its maildrop file, so that a pickup killed
 * between its commit and the unlink of the maildrop file does not queue
 * the message twice.
 */
void cleanup_set_queue_id(struct cleanup *c, const char *id);
/*
 * cleanup_reserve_id - the message's queue ID, known and fixed now (smtpd
 * logs "ID: client=..." and writes the ID into its Received: header while
 * the message arrives).  0, or -1 (fstat failed; errno set).
 */
int cleanup_reserve_id(struct cleanup *c, char id_r[QUEUE_ID_SIZE]);
/*
 * cleanup_set_received - use this header (one or more lines joined by
 * "\n\t", no final newline) instead of cleanup's "Received: by ..." line.
 */
void cleanup_set_received(struct cleanup *c, const char *header);
/*
 * cleanup_prepend_header - a header field ("Name: text", one line; control
 * characters become spaces) written before the Received: header, in the
 * order of the calls (smtpd's access table PREPEND, as Postfix puts it).
 * Not seen by header_checks.
 */
void cleanup_prepend_header(struct cleanup *c, const char *field);
/*
 * cleanup_set_actions - message-level actions decided outside the content
 * (smtpd's access tables): CLEANUP_ACT_* bits, a REDIRECT address and a
 * FILTER "transport:nexthop" (NULL: none).  Carried out at cleanup_close()
 * as the same actions of the content checks are (hold/, nothing queued,
 * every recipient replaced, the filter= attribute); a content check that
 * decides the same later wins.  May be called at any time before close.
 */
/* cleanup_add_bcc - a recipient of a copy (smtpd's access table BCC),
 * added at close as automatic BCC recipients are (not for delivery status
 * reports). */
void cleanup_add_bcc(struct cleanup *c, const char *addr);
#define CLEANUP_ACT_HOLD	(1 << 0)
#define CLEANUP_ACT_DISCARD	(1 << 1)
void cleanup_set_actions(struct cleanup *c, int acts, const char *redirect, const char *filter);
void cleanup_set_orig_id(struct cleanup *c, const char *id);
/*
 * cleanup_set_origin - who submitted the message, for content check log
 * lines: origin "host[addr]" (NULL: "local"), and the protocol and HELO
 * name when there were (NULL: not logged).
 */
void cleanup_set_origin(struct cleanup *c, const char *origin, const char *proto,
			const char *helo);

/*
 * cleanup_set_rewrite_context - how header addresses are rewritten (Postfix's
 * local_header_rewrite_clients): CLEANUP_RWR_LOCAL (the default: local
 * submissions, and SMTP clients that match local_header_rewrite_clients)
 * completes incomplete header addresses with @$myorigin and applies
 * canonical mapping and masquerading to sender and recipient header
 * fields; CLEANUP_RWR_REMOTE rewrites no header unless
 * remote_header_rewrite_domain is set, and then completes incomplete
 * addresses with that domain instead.  Also recorded as the
 * rewrite_context attribute.
 */
#define CLEANUP_RWR_LOCAL	0
#define CLEANUP_RWR_REMOTE	1
void cleanup_set_rewrite_context(struct cleanup *c, int context);

/*
 * cleanup_add_rcpt - add a recipient (internal form; qualified with
 * @myorigin when it has no domain).  orig_rcpt and dsn_orcpt may be NULL
 * or "".  notify is DSN_NOTIFY_* bits or 0.  Returns 0; -1 when addr is
 * empty, too long or holds control characters (cleanup_close() then fails
 * with "5.1.3 malformed recipient address"); CLEANUP_TOO_MANY when the
 * envelope went over cleanup_recipient_limit or cleanup_envelope_size_limit
 * (nothing more is stored; cleanup_close() fails with the reason
 * cleanup_envelope_limit() gives).  A producer reading recipients from
 * untrusted input should stop at the first CLEANUP_TOO_MANY.
 */
#define CLEANUP_TOO_MANY	(-2)
int cleanup_add_rcpt(struct cleanup *c, const char *addr, const char *orig_rcpt,
		     const char *dsn_orcpt, int notify);

/* cleanup_write - the next piece of the message (any size, LF or CRLF). */
void cleanup_write(struct cleanup *c, const char *data, size_t len);

/*
 * cleanup_close - finish the message, commit the queue file durably and
 * free *cp (always, also on failure).  Returns 0 with the queue ID in id_r,
 * or -1 with *error_r (borrowed; valid until the next cleanup_close()).
 */
int cleanup_close(struct cleanup **cp, char id_r[QUEUE_ID_SIZE], const char **error_r);

/* cleanup_abort - discard the message (removes the temporary file), free *cp. */
void cleanup_abort(struct cleanup **cp);

/*
 * The envelope cap, for every producer of new mail (sendmail and postdrop
 * check it while the user is there, cleanup enforces it, smtpd will):
 * cleanup holds a message's recipients in memory until its content is
 * written, so their number and total size are bounded.
 *
 * cleanup_envelope_bytes - what one recipient counts against
 * cleanup_envelope_size_limit: the lengths of its address, original
 * recipient and ORCPT (NULL counts 0).
 */
long cleanup_envelope_bytes(const char *addr, const char *orig_rcpt, const char *dsn_orcpt);
/*
 * cleanup_envelope_limit - 0 when count recipients of bytes in total are
 * within cleanup_recipient_limit and cleanup_envelope_size_limit (0 = no
 * limit); else -1 with *why_r ("5.5.3 too many recipients ..." or
 * "5.3.4 envelope size exceeds ...", static, valid until the next call).
 */
int cleanup_envelope_limit(long count, long bytes, const char **why_r);

/*
 * cleanup_space_check - is there room for new mail in the queue file
 * system?  0 when its free space (for unprivileged users, statvfs f_bavail)
 * is at least queue_minfree and 1.5 times message_size_limit (Postfix's
 * rule); else -1 with *why_r ("4.3.1 ...", static, valid until the next
 * call).  A statvfs failure is not a refusal (0): the write that follows
 * reports real trouble.
 */
int cleanup_space_check(const char *queue_dir, const char **why_r);

#endif
