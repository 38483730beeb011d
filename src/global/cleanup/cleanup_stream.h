/*
 * cleanup_stream - the message text filter shared by cleanup and sendmail.
 *
 * Input: the message in pieces of any size, with LF or CRLF line ends.
 * Output (through a callback): the same message with LF line ends, its
 * primary header block examined field by field on the way.  Every LF is a
 * line end (so no LF is "stray"); a CR not followed by LF is kept as it is,
 * or with CLEANUP_STREAM_STRAY_CR replaced by a space:
 *
 *   - header fields are unfolded for parsing (the output keeps the folds);
 *     a field longer than header_size_limit is cut there (Postfix discards
 *     the excess too) and counted in info.truncated_headers;
 *   - a kept field with a byte above 127 sets info.header_8bit;
 *   - Received: fields are counted (hop count), From:, Date:, Message-ID:
 *     are noted, the Message-ID value kept for the log;
 *   - with CLEANUP_STREAM_EXTRACT, addresses in To/Cc/Bcc are collected and
 *     Bcc: fields removed; when the message has Resent-To/Cc/Bcc fields,
 *     those are used instead (and Resent-Bcc removed), as Postfix does;
 *   - the header block ends at an empty line or at the first line that is
 *     not a header field; in the latter case an empty line is inserted so
 *     that headers added at the end of the block stay headers;
 *   - at that point the hdr_end callback runs (cleanup adds its missing
 *     headers there), before the separating empty line is written;
 *   - the output always ends with a line end.
 *
 * With CLEANUP_STREAM_CHECKS (cleanup's content checks, set up with
 * cleanup_stream_set_checks()), every header field and body line is shown
 * to a callback before it is written, and MIME structure is followed
 * (multipart boundaries, message/rfc822 parts) so that each line has a
 * class: CLEANUP_HDR_PRIMARY (a primary header that is not Content-*),
 * CLEANUP_HDR_MIME (a Content-* header at any level), CLEANUP_HDR_NESTED
 * (any other header of a MIME part or of an attached message), or
 * CLEANUP_BODY (a body line, boundaries included; a line longer than
 * line_length_limit is shown in pieces of that length).  Body lines past
 * body_limit bytes of one part are not shown (body_checks_size_limit).
 *
 * Options for the sendmail side: CLEANUP_STREAM_SKIP_FROM drops leading
 * mbox "From " lines (also ">From "), CLEANUP_STREAM_DOT_EOF ends the input
 * at a line holding only "." (sendmail without -i).
 *
 * size counts input bytes after line-end conversion; past size_limit
 * (when > 0) output stops and info.too_big is set.
 */
#ifndef SLUICE_CLEANUP_STREAM_H
#define SLUICE_CLEANUP_STREAM_H

#include <stdbool.h>
#include <stddef.h>

struct argv;
struct cleanup_stream;

#define CLEANUP_STREAM_EXTRACT	(1 << 0)	/* collect To/Cc/Bcc, drop Bcc */
#define CLEANUP_STREAM_SKIP_FROM (1 << 1)	/* drop leading "From " lines */
#define CLEANUP_STREAM_DOT_EOF	(1 << 2)	/* a "." line ends the input */
#define CLEANUP_STREAM_STRAY_CR	(1 << 3)	/* a CR not before LF becomes a space */
#define CLEANUP_STREAM_CHECKS	(1 << 4)	/* lines through the check callback */

/* Line classes for the check callback. */
#define CLEANUP_HDR_PRIMARY	0
#define CLEANUP_HDR_MIME	1
#define CLEANUP_HDR_NESTED	2
#define CLEANUP_BODY		3

/* cleanup_stream_out_fn - receives output bytes (LF line ends). */
typedef void cleanup_stream_out_fn(const char *data, size_t len, void *ctx);
/* cleanup_stream_hdr_end_fn - the primary header block is over; anything
 * written with cleanup_stream_emit() now goes at its end. */
typedef void cleanup_stream_hdr_end_fn(struct cleanup_stream *s, void *ctx);

struct buf;

/*
 * cleanup_stream_check_fn - one header field (folded, without its final
 * LF) or body line (without its LF) of class cls, in text.  The callback
 * may change text (a header must stay a header field), write lines before
 * it with cleanup_stream_emit() (each ending in LF), and returns false to
 * drop the line.
 */
typedef bool cleanup_stream_check_fn(struct cleanup_stream *s, int cls, struct buf *text,
				     void *ctx);

/*
 * cleanup_stream_rewrite_fn - one primary header field (folded, without
 * its final LF), after the content checks; the callback may change text
 * (it must stay the same header field).
 */
typedef void cleanup_stream_rewrite_fn(struct cleanup_stream *s, struct buf *text, void *ctx);

struct cleanup_stream_info {
	long size;		/* input bytes after CRLF -> LF */
	bool too_big;		/* size went over size_limit: output stopped */
	bool ended;		/* input ended (dot line or finish) */
	long received;		/* Received: fields in the primary headers */
	bool has_from;
	bool has_date;
	bool has_msgid;
	bool has_resent;	/* some Resent-* field */
	char *msgid;		/* first Message-ID value, unfolded, trimmed; or NULL */
	struct argv *rcpts;	/* EXTRACT: the addresses (final after finish) */
	long bad_addr_headers;	/* address fields with elements that did not parse */
	const char *bad_addr_error; /* reason for the first of those (static) */
	long truncated_headers;	/* fields cut at header_size_limit */
	long header_fields;	/* fields in the primary header block */
	bool header_8bit;	/* a primary header field (one that is kept) has
				 * a byte above 127 */
};

/*
 * cleanup_stream_create - a new filter.  header_size_limit bounds one
 * header field (and the memory used); size_limit 0 means no limit.  out
 * must not be NULL; hdr_end may be.  Caller frees with cleanup_stream_free().
 */
struct cleanup_stream *cleanup_stream_create(int flags, long header_size_limit,
					     long size_limit,
					     cleanup_stream_out_fn *out,
					     cleanup_stream_hdr_end_fn *hdr_end,
					     void *ctx);
/* cleanup_stream_set_checks - the check callback (CLEANUP_STREAM_CHECKS);
 * line_limit splits long body lines, body_limit bounds the checked bytes
 * of each body part (0: no limit). */
void cleanup_stream_set_checks(struct cleanup_stream *s, cleanup_stream_check_fn *fn,
			       long line_limit, long body_limit);
/* cleanup_stream_set_rewrite - a callback for each primary header field
 * (cleanup's header address rewriting), before recipients are extracted. */
void cleanup_stream_set_rewrite(struct cleanup_stream *s, cleanup_stream_rewrite_fn *fn);
/* cleanup_stream_write - feed message bytes; ignored once the input ended. */
void cleanup_stream_write(struct cleanup_stream *s, const char *data, size_t len);
/* cleanup_stream_emit - write bytes straight to the output (from hdr_end). */
void cleanup_stream_emit(struct cleanup_stream *s, const char *data, size_t len);
/* cleanup_stream_finish - end of input: flush, run hdr_end if it has not
 * run, make the output end with a line end. */
void cleanup_stream_finish(struct cleanup_stream *s);
/* cleanup_stream_info - what was seen. Borrowed; valid until free. */
const struct cleanup_stream_info *cleanup_stream_info(const struct cleanup_stream *s);
/* cleanup_stream_free - release *sp and clear it; NULL is fine. */
void cleanup_stream_free(struct cleanup_stream **sp);

#endif
