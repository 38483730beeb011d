/*
 * smtp_body - message content as it goes on the wire after DATA.
 *
 * The queue file holds the content with LF line ends.  On the wire every
 * line ends in CRLF, a line that starts with "." gets another "." in front
 * (RFC 5321 4.5.2), and the content ends with CRLF "." CRLF (a CRLF is added
 * when the content's last line has none).
 *
 * Lines longer than line_limit bytes (smtp_line_length_limit, without the
 * CRLF; 0 = no limit) are split as Postfix does: in the header a long line
 * is folded, the continuation starting with a space, so it stays one
 * header; in the body it is broken with a plain CRLF (a line that a server
 * would otherwise truncate or refuse is broken where Postfix breaks it).
 *
 * The encoder is incremental: content arrives in chunks split anywhere.
 */
#ifndef SLUICE_SMTP_BODY_H
#define SLUICE_SMTP_BODY_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

struct smtp_body {
	long line_limit;	/* 0: none */
	long col;		/* bytes of the current output line */
	bool bol;		/* at the start of a content line */
	bool in_header;		/* before the first empty line */
};

/* smtp_body_init - start encoding one message. */
void smtp_body_init(struct smtp_body *b, long line_limit);
/* smtp_body_put - encode len bytes, appending to out. */
void smtp_body_put(struct smtp_body *b, const char *data, size_t len, struct buf *out);
/* smtp_body_end - final CRLF if needed and the "." line. */
void smtp_body_end(struct smtp_body *b, struct buf *out);

/* smtp_body_8bit - does data contain bytes above 127? */
bool smtp_body_8bit(const char *data, size_t len);

#endif
