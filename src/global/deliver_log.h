/*
 * deliver_log - the per-recipient log line every sluice program writes in
 * Postfix's shape (docs/LOGGING.md):
 *
 *   ID: to=<rcpt>, orig_to=<orig>, relay=RELAY, delay=D, delays=a/b/c/d,
 *       dsn=X.Y.Z, status=WORD (REASON)
 *
 * a = before the active queue, b = in the active queue until the agent got
 * the request, c = connection set-up, d = transmission.  Times are printed
 * with at most delay_logging_resolution_limit digits after the point, fewer
 * as values grow, as Postfix does.
 */
#ifndef SLUICE_DELIVER_LOG_H
#define SLUICE_DELIVER_LOG_H

#include <stddef.h>

struct buf;
struct dsn;

/* deliver_log_format_delay - one delay value (appended to out). */
void deliver_log_format_delay(struct buf *out, double secs, int resolution);

/*
 * deliver_log_rcpt - log one recipient outcome. orig may be NULL or "" (not
 * shown), relay NULL means "none". delays[4] as above (negative = 0).
 * status_word is sent, deferred, bounced, expired, deliverable,
 * undeliverable.  The address and reason are escaped for the log.
 */
void deliver_log_rcpt(const char *queue_id, const char *rcpt, const char *orig,
		      const char *relay, double delay, const double delays[4],
		      const struct dsn *dsn, const char *status_word, int resolution);

/* deliver_log_address - append addr in info_log_address_format form to out
 * (escaped for the log); returns buf_str(out). */
const char *deliver_log_address(struct buf *out, const char *addr);

/* deliver_log_set_resolution - default resolution (delay_logging_resolution_limit). */
void deliver_log_set_resolution(int digits);
int deliver_log_resolution(void);

#endif
