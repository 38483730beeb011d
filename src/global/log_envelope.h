/*
 * log_envelope - the tail of Postfix's policy log lines, shared by smtpd's
 * access actions and cleanup's content checks:
 *   " from=<sender> to=<recipient> proto=ESMTP helo=<name>"
 * each part only when known (NULL leaves it out), every value escaped
 * with log_escape().
 */
#ifndef SLUICE_LOG_ENVELOPE_H
#define SLUICE_LOG_ENVELOPE_H

struct buf;

/* log_envelope - append the parts that are not NULL to out. */
void log_envelope(struct buf *out, const char *sender, const char *rcpt, const char *proto,
		  const char *helo);

#endif
