/*
 * bounce_format - text formatting for delivery status reports: dates,
 * folded header fields, wrapped paragraphs and message text, all within
 * RFC 5322's 998-octet line limit.  Every function appends to out; nothing
 * here allocates anything the caller must free.
 */
#ifndef SLUICE_BOUNCE_FORMAT_H
#define SLUICE_BOUNCE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define BOUNCE_LINE_LIMIT	998	/* RFC 5322: octets per line, without the line end */
#define BOUNCE_FOLD_WIDTH	78	/* where fields and text are wrapped when possible */

/* bounce_format_date - RFC 5322 date-time of t, local time with numeric zone. */
void bounce_format_date(char out[64], double t);
/* bounce_format_duration - "35 minutes", "5.0 hours", "2.5 days". */
void bounce_format_duration(char out[64], double secs);
/*
 * bounce_format_wrap - append text word by word from column col, breaking
 * before width with brk (a line end and the continuation's indent, e.g.
 * "\n " for a folded field).  Words end up separated by single spaces;
 * control characters become '?'; a word too long for any line is cut.
 * Ends without a line end.
 */
void bounce_format_wrap(struct buf *out, const char *text, size_t col, size_t width,
			const char *brk);
/* bounce_format_field - "Name: value" folded near 78 columns, with a line end. */
void bounce_format_field(struct buf *out, const char *name, const char *value);
/* bounce_format_fieldf - the same with a formatted value. */
void bounce_format_fieldf(struct buf *out, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* bounce_format_para - a paragraph wrapped for reading, then a blank line. */
void bounce_format_para(struct buf *out, const char *text);
/* bounce_format_paraf - the same with a formatted text. */
void bounce_format_paraf(struct buf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* bounce_format_lines - message bytes with lines over 998 octets broken,
 * ending with a line end (unless len is 0). */
void bounce_format_lines(struct buf *out, const char *data, size_t len);
/* bounce_format_8bit - does b hold any octet with the high bit set? */
bool bounce_format_8bit(const struct buf *b);

#endif
