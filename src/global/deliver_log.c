/*
 * deliver_log - Postfix-shaped per-recipient log lines (see deliver_log.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/addr.h"
#include "global/deliver_log.h"
#include "global/params.h"
#include "global/dsn.h"
#include "util/buf.h"
#include "util/log.h"

static int default_resolution = 2;

/* deliver_log_set_resolution - remember delay_logging_resolution_limit */
void deliver_log_set_resolution(int digits)
{
	default_resolution = digits < 0 ? 0 : digits > 6 ? 6 : digits;
}

/* deliver_log_resolution - current default */
int deliver_log_resolution(void)
{
	return default_resolution;
}

/*
 * deliver_log_format_delay - about two significant digits, never more than
 * `resolution` decimals: 226 -> "226", 5.54 -> "5.5", 0.347 -> "0.35",
 * 0.001 -> "0".
 */
void deliver_log_format_delay(struct buf *out, double secs, int resolution)
{
	char tmp[64];
	int decimals;
	size_t n;

	if (!(secs > 0) || !isfinite(secs))
		secs = 0;
	if (secs >= 10)
		decimals = 0;
	else if (secs >= 1)
		decimals = 1;
	else
		decimals = 2;
	if (decimals > resolution)
		decimals = resolution;
	snprintf(tmp, sizeof(tmp), "%.*f", decimals, secs);
	/* Drop trailing zeros and a bare point: "0.50" -> "0.5", "0.00" -> "0". */
	if (strchr(tmp, '.')) {
		n = strlen(tmp);
		while (n > 0 && tmp[n - 1] == '0')
			tmp[--n] = 0;
		if (n > 0 && tmp[n - 1] == '.')
			tmp[--n] = 0;
	}
	buf_puts(out, tmp);
}

/*
 * deliver_log_address - an address as info_log_address_format says:
 * "external" (the default) quotes a local part that needs it, as it would
 * appear in an SMTP command; "internal" logs it as stored.
 */
const char *deliver_log_address(struct buf *out, const char *addr)
{
	char *ext;

	if (var_info_log_address_format && strcmp(var_info_log_address_format, "internal") == 0)
		return log_escape(out, addr);
	ext = addr_quote(addr);
	log_escape(out, ext);
	free(ext);
	return buf_str(out);
}

/* deliver_log_rcpt - the to=<...> line */
void deliver_log_rcpt(const char *queue_id, const char *rcpt, const char *orig,
		      const char *relay, double delay, const double delays[4],
		      const struct dsn *dsn, const char *status_word, int resolution)
{
	struct buf line, esc;

	if (resolution < 0)
		resolution = default_resolution;
	buf_init(&line, 256);
	buf_init(&esc, 128);
	buf_printf(&line, "%s: to=<%s>", queue_id, deliver_log_address(&esc, rcpt));
	if (orig && *orig && strcmp(orig, rcpt) != 0) {
		buf_reset(&esc);
		buf_printf(&line, ", orig_to=<%s>", deliver_log_address(&esc, orig));
	}
	buf_reset(&esc);
	buf_printf(&line, ", relay=%s, delay=", relay && *relay ? log_escape(&esc, relay) : "none");
	deliver_log_format_delay(&line, delay, resolution);
	buf_puts(&line, ", delays=");
	for (int i = 0; i < 4; i++) {
		if (i)
			buf_putc(&line, '/');
		deliver_log_format_delay(&line, delays[i], resolution);
	}
	buf_reset(&esc);
	buf_printf(&line, ", dsn=%s, status=%s (%s)", dsn->status, status_word,
		   log_escape(&esc, dsn->reason ? dsn->reason : ""));
	msg_info("%s", buf_str(&line));
	buf_deinit(&line);
	buf_deinit(&esc);
}
