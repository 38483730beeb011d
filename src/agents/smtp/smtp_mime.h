/*
 * smtp_mime - 8-bit content made 7-bit for a server that does not offer
 * 8BITMIME (RFC 6152): Postfix's MIME output conversion.
 *
 * The message is read as MIME (RFC 2045, 2046) on the fly:
 *   - a part whose type is not multipart or message/rfc822 (the top-level
 *     message is one too; no Content-Type means text/plain, or
 *     message/rfc822 inside multipart/digest) and whose
 *     Content-Transfer-Encoding is 8bit, binary or absent gets
 *     "Content-Transfer-Encoding: quoted-printable" (replacing the old
 *     field, or added at the end of its header) and its body encoded so
 *     (lines at most 76 bytes, soft breaks "=", trailing blanks encoded).
 *     A top-level message without MIME-Version also gets "MIME-Version: 1.0";
 *   - parts with 7bit, quoted-printable, base64 or another encoding go as
 *     they are (a "7bit" part that has 8-bit bytes all the same is not
 *     repaired);
 *   - multipart types are followed through its boundaries (nested ones too;
 *     preamble and epilogue go as they are), message/rfc822 into the
 *     enclosed message, whose own header is read as a part header; both
 *     get their 8bit/binary Content-Transfer-Encoding changed to 7bit,
 *     since what they hold is now 7-bit;
 *   - header fields are never changed beyond that: 8-bit bytes in a header
 *     stay (there is no lossless 7-bit form that every reader accepts; a
 *     message that needs SMTPUTF8 is dealt with before, smtp.c);
 *   - limits: a part header of more than 256 KiB, a line of more than 4096
 *     bytes where a boundary could be, and parts nested deeper than
 *     nesting_limit (mime_nesting_limit) are not followed: what they hold
 *     goes as it is.
 * A multipart without a boundary parameter is treated as a single part.
 *
 * Input and output both have LF line ends (smtp_body does the wire form
 * after this); input comes in chunks split anywhere and the output does
 * not depend on the split.
 */
#ifndef SLUICE_SMTP_MIME_H
#define SLUICE_SMTP_MIME_H

#include <stddef.h>

struct buf;
struct smtp_mime;

/* smtp_mime_create - a converter for one message.  Caller frees with
 * smtp_mime_free(). */
struct smtp_mime *smtp_mime_create(long nesting_limit);
/* smtp_mime_put - convert len bytes, appending to out. */
void smtp_mime_put(struct smtp_mime *m, const char *data, size_t len, struct buf *out);
/* smtp_mime_end - the input is over: flush what is held back. */
void smtp_mime_end(struct smtp_mime *m, struct buf *out);
/* smtp_mime_free - release; clears *mp.  NULL is fine. */
void smtp_mime_free(struct smtp_mime **mp);

#endif
