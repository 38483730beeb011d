/*
 * smtp_reply - incremental parser for SMTP server replies (RFC 5321 4.2,
 * enhanced status codes RFC 2034/3463).
 *
 * A pure parser: it is fed bytes as they arrive, in pieces of any size, and
 * says when a complete reply is there.  It never reads or writes a
 * descriptor and never blocks, so that every limit on a hostile server
 * (line length, number of lines, total size) is enforced here, while the
 * caller enforces the time limits.
 *
 * Lines end in CRLF; a bare LF is tolerated.  Each line is "DDD" followed by
 * "-" (more lines follow), " " or the end of the line (last line).  Of a
 * line longer than line_keep bytes the first line_keep bytes are kept and the
 * rest is discarded (the reply is marked truncated).  Errors (garbage) are:
 * a line that does not start with a reply code 200..599 and a separator, a
 * NUL byte, a continuation line whose code differs from the first line's
 * (as Dovecot's lib-smtp; Postfix takes the last line's code), more than
 * max_lines lines, more than max_text bytes kept or max_raw bytes read.
 */
#ifndef SLUICE_SMTP_REPLY_H
#define SLUICE_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define SMTP_REPLY_LINE_KEEP	2048		/* bytes kept of one line */
#define SMTP_REPLY_MAX_LINES	1000		/* lines in one reply */
#define SMTP_REPLY_MAX_TEXT	(64 * 1024)	/* kept bytes of one reply */
#define SMTP_REPLY_MAX_RAW	(4 * 1024 * 1024)	/* bytes read for one reply */

/* Results of smtp_reply_parse(). */
#define SMTP_REPLY_ERROR	(-1)
#define SMTP_REPLY_MORE		0
#define SMTP_REPLY_DONE		1

struct smtp_reply_limits {
	size_t line_keep;
	size_t max_lines;
	size_t max_text;
	size_t max_raw;
};

struct smtp_reply {
	int code;		/* 200..599 */
	char status[16];	/* enhanced status from the reply, else "X.0.0" */
	bool enhanced;		/* status was taken from the reply */
	bool truncated;		/* a line was cut at line_keep bytes */
	size_t lines;		/* number of lines */
	struct buf text;	/* lines as received, CR LF removed, joined by "\n" */
};

struct smtp_reply_parser;

/* smtp_reply_parser_create - new parser; lim NULL means the defaults above.
 * Caller frees with smtp_reply_parser_free(). */
struct smtp_reply_parser *smtp_reply_parser_create(const struct smtp_reply_limits *lim);
/* smtp_reply_parser_free - release *pp and clear it; NULL is fine. */
void smtp_reply_parser_free(struct smtp_reply_parser **pp);
/* smtp_reply_parser_reset - forget any partial reply or error. */
void smtp_reply_parser_reset(struct smtp_reply_parser *p);

/*
 * smtp_reply_parse - feed len bytes of server output.  Stores in *used_r how
 * many bytes were consumed and returns:
 *   SMTP_REPLY_DONE   a reply is complete (smtp_reply_parser_reply()); bytes
 *                     after *used_r belong to the next reply.  The next call
 *                     starts a new reply.
 *   SMTP_REPLY_MORE   every byte was consumed; the reply is not complete.
 *   SMTP_REPLY_ERROR  the bytes cannot be a reply; *error_r (static text)
 *                     says why.  The error sticks until reset.
 */
int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len,
		     size_t *used_r, const char **error_r);

/* smtp_reply_parser_reply - the last complete reply. Borrowed; valid until
 * the next smtp_reply_parse() or reset. */
const struct smtp_reply *smtp_reply_parser_reply(const struct smtp_reply_parser *p);

/*
 * smtp_reply_oneline - the reply text on one line, appended to out;
 * returns buf_str(out).  Line breaks become spaces; control characters,
 * DEL and bytes that are not valid UTF-8 become '?' (as Postfix's
 * printable()), so the text is clean wherever it goes: delivery status
 * reasons, status logs, bounce messages.  Log lines still escape it.
 */
const char *smtp_reply_oneline(const struct smtp_reply *r, struct buf *out);

#endif
