/*
 * bounce_format - text formatting for delivery status reports (see
 * bounce_format.h).
 *
 * PURPOSE: the line discipline of everything the bounce service writes:
 * RFC 5322 dates, header fields folded at white space, paragraphs wrapped
 * for reading, message text with over-long lines broken, so that no line
 * ever exceeds 998 octets (RFC 5322 2.1.1).
 *
 * CONTRACT: pure; appends to the caller's buffer.  Text from users or the
 * network (addresses, reasons, remote replies) has its control characters
 * (CR and LF included) shown as '?' so that it cannot end a field or forge
 * one; 8-bit octets pass through.
 *
 * DIAGNOSTICS: none.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "global/bounce_format.h"
#include "util/buf.h"
#include "util/mem.h"

#define CHUNK_WIDTH	900	/* pieces of a word too long for any line */

/* bounce_format_date - RFC 5322 date-time of t in the local time zone */
void bounce_format_date(char out[64], double t)
{
	static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt;
	struct tm tm;
	long off;
	char sign = '+';

	/* Times come from status logs: keep them within what a date can say. */
	if (!(t >= 0))
		t = 0;
	else if (t > 253402300799.0)	/* 9999-12-31 23:59:59 UTC */
		t = 253402300799.0;
	tt = (time_t)t;
	localtime_r(&tt, &tm);
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	snprintf(out, 64, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
		 wday[tm.tm_wday % 7], tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
}

/* bounce_format_duration - "35 minutes", "5.0 hours", "2.5 days" */
void bounce_format_duration(char out[64], double secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 2 * 3600) {
		long min = (long)(secs / 60 + 0.5);

		snprintf(out, 64, "%ld minute%s", min, min == 1 ? "" : "s");
	} else if (secs < 2 * 86400) {
		snprintf(out, 64, "%.1f hours", secs / 3600);
	} else {
		snprintf(out, 64, "%.1f days", secs / 86400);
	}
}

/* clean_copy - s with control characters (line ends included) made '?' */
static char *clean_copy(const char *s)
{
	char *copy = xstrdup(s ? s : "");

	for (unsigned char *cp = (unsigned char *)copy; *cp; cp++)
		if ((*cp < 0x20 && *cp != '\t') || *cp == 0x7f)
			*cp = '?';
	return copy;
}

/*
 * bounce_format_wrap - append text word by word, starting at column col, breaking
 * lines before width with brk (a line end plus the continuation's leading
 * white space).  Words are separated by single spaces in the output; a word
 * too long for any line is cut into CHUNK_WIDTH pieces so that no line
 * reaches BOUNCE_LINE_LIMIT.  Ends without a line end.
 */
void bounce_format_wrap(struct buf *out, const char *text, size_t col, size_t width,
			const char *brk)
{
	char *copy = clean_copy(text);
	size_t brk_col = strlen(brk) - 1;	/* the continuation's indent */
	bool line_has_word = false;
	char *cp = copy;

	for (;;) {
		size_t wlen;

		cp += strspn(cp, " ");
		if (*cp == 0)
			break;
		wlen = strcspn(cp, " ");
		if (line_has_word && col + 1 + wlen > width) {
			buf_puts(out, brk);
			col = brk_col;
			line_has_word = false;
		}
		if (line_has_word) {
			buf_putc(out, ' ');
			col++;
		}
		while (wlen > CHUNK_WIDTH) {
			buf_append(out, cp, CHUNK_WIDTH);
			buf_puts(out, brk);
			cp += CHUNK_WIDTH;
			wlen -= CHUNK_WIDTH;
			col = brk_col;
		}
		buf_append(out, cp, wlen);
		col += wlen;
		cp += wlen;
		line_has_word = true;
	}
	free(copy);
}

/* bounce_format_field - "Name: value" folded at white space, with a line end */
void bounce_format_field(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "%s: ", name);
	bounce_format_wrap(out, value, strlen(name) + 2, BOUNCE_FOLD_WIDTH, "\n ");
	buf_putc(out, '\n');
}

/* bounce_format_fieldf - bounce_format_field with a formatted value */
void bounce_format_fieldf(struct buf *out, const char *name, const char *fmt, ...)
{
	struct buf value;
	va_list ap;

	buf_init(&value, 128);
	va_start(ap, fmt);
	buf_vprintf(&value, fmt, ap);
	va_end(ap);
	bounce_format_field(out, name, buf_str(&value));
	buf_deinit(&value);
}

/* bounce_format_para - a paragraph of text wrapped for reading, then a blank line */
void bounce_format_para(struct buf *out, const char *text)
{
	bounce_format_wrap(out, text, 0, BOUNCE_FOLD_WIDTH - 2, "\n");
	buf_puts(out, "\n\n");
}

/* bounce_format_paraf - bounce_format_para with a formatted text */
void bounce_format_paraf(struct buf *out, const char *fmt, ...)
{
	struct buf text;
	va_list ap;

	buf_init(&text, 256);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	bounce_format_para(out, buf_str(&text));
	buf_deinit(&text);
}

/*
 * bounce_format_lines - append message bytes, breaking any line longer than
 * BOUNCE_LINE_LIMIT and making sure the result ends with a line end.
 */
void bounce_format_lines(struct buf *out, const char *data, size_t len)
{
	size_t col = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n') {
			col = 0;
		} else if (col == BOUNCE_LINE_LIMIT) {
			buf_putc(out, '\n');
			col = 1;
		} else {
			col++;
		}
		buf_putc(out, data[i]);
	}
	if (len > 0 && data[len - 1] != '\n')
		buf_putc(out, '\n');
}

/* bounce_format_8bit - any octet with the high bit set? */
bool bounce_format_8bit(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] & 0x80)
			return true;
	return false;
}

