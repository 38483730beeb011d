/*
 * smtp_body - content encoding for DATA (see smtp_body.h).
 *
 * Contract: whatever the input, the output has CRLF line ends only where
 * the content had LF, no line of more than line_limit bytes (plus one
 * stuffed dot) when a limit is set, and no line that is a lone "." before
 * the end marker.  Runs of ordinary bytes are copied in one piece, so a
 * large message costs a few memcpy calls per line, not one call per byte.
 */
#include <string.h>

#include "agents/smtp/smtp_body.h"
#include "util/buf.h"

/* smtp_body_init - fresh state */
void smtp_body_init(struct smtp_body *b, long line_limit)
{
	b->line_limit = line_limit > 0 ? line_limit : 0;
	b->col = 0;
	b->bol = true;
	b->in_header = true;
}

/* smtp_body_put - encode a chunk */
void smtp_body_put(struct smtp_body *b, const char *data, size_t len, struct buf *out)
{
	const char *nl;
	size_t run;

	while (len > 0) {
		if (*data == '\n') {
			buf_append(out, "\r\n", 2);
			/* The first empty line ends the header. */
			if (b->bol)
				b->in_header = false;
			b->col = 0;
			b->bol = true;
			data++;
			len--;
			continue;
		}
		if (b->line_limit && b->col >= b->line_limit) {
			if (b->in_header) {
				buf_append(out, "\r\n ", 3);
				b->col = 1;
			} else {
				buf_append(out, "\r\n", 2);
				b->col = 0;
			}
		}
		if (b->col == 0 && *data == '.') {
			buf_putc(out, '.');
			b->col++;
		}
		nl = memchr(data, '\n', len);
		run = nl ? (size_t)(nl - data) : len;
		if (b->line_limit && (long)run > b->line_limit - b->col)
			run = b->line_limit > b->col ? (size_t)(b->line_limit - b->col) : 1;
		buf_append(out, data, run);
		b->col += (long)run;
		b->bol = false;
		data += run;
		len -= run;
	}
}

/* smtp_body_end - terminate the last line and the content */
void smtp_body_end(struct smtp_body *b, struct buf *out)
{
	if (!b->bol)
		buf_append(out, "\r\n", 2);
	buf_append(out, ".\r\n", 3);
	b->bol = true;
	b->col = 0;
}

/* smtp_body_8bit - any byte with the high bit set */
bool smtp_body_8bit(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)data[i] & 0x80)
			return true;
	return false;
}
