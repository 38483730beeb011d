/*
 * log_envelope - " from=<s> to=<r> proto=P helo=<h>" (see log_envelope.h).
 */
#include <stddef.h>

#include "global/log_envelope.h"
#include "util/buf.h"
#include "util/log.h"

/* log_envelope - the known parts, escaped */
void log_envelope(struct buf *out, const char *sender, const char *rcpt, const char *proto,
		  const char *helo)
{
	static const char *const head[] = {" from=<", " to=<", " proto=", " helo=<"};
	static const char *const tail[] = {">", ">", "", ">"};
	const char *value[] = {sender, rcpt, proto, helo};
	struct buf esc;

	buf_init(&esc, 128);
	for (size_t i = 0; i < sizeof(value) / sizeof(value[0]); i++) {
		if (value[i] == NULL)
			continue;
		buf_reset(&esc);
		buf_printf(out, "%s%s%s", head[i], log_escape(&esc, value[i]), tail[i]);
	}
	buf_deinit(&esc);
}
