/*
 * cleanup_stream - the message text filter (see cleanup_stream.h).
 *
 * This module is for turning whatever a submitter wrote into the message
 * text sluice stores: LF line ends, a well-formed primary header block
 * that cleanup can complete, Bcc gone when recipients come from headers.
 * It is a push parser (input in pieces of any size, byte-at-a-time works)
 * with three stages:
 *
 *   1. line ends: CRLF becomes LF, also when CR and LF arrive in separate
 *      writes; a CR not followed by LF (a stray CR) is kept, or with
 *      CLEANUP_STREAM_STRAY_CR becomes a space;
 *   2. header mode: lines are collected into fields (continuation lines
 *      start with a space or tab), each field is looked at and written out
 *      when the next line shows it is complete; memory per field is
 *      bounded by header_size_limit;
 *   3. body mode: bytes pass straight through (only the optional "." line
 *      check looks at them).
 *
 * It does not write files, decide what is an error (cleanup and sendmail
 * judge the info), or add headers itself (the hdr_end callback does).
 * MIME is followed only for content checks (CLEANUP_STREAM_CHECKS): then
 * body bytes are cut into lines, multipart boundaries and message/rfc822
 * parts are tracked (MIME_DEPTH levels at most; deeper ones are body
 * text), and each part's header block is collected into fields as the
 * primary one is.  Without checks the body is not looked at.
 *
 * DIAGNOSTICS: none; everything noteworthy is counted in the info.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/cleanup/cleanup_stream.h"
#include "global/rfc822.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

struct cleanup_stream {
	int flags;
	size_t hdr_limit;		/* bytes per header field */
	long size_limit;		/* 0: none */
	cleanup_stream_out_fn *out;
	cleanup_stream_hdr_end_fn *hdr_end;
	void *ctx;

	bool pending_cr;		/* a CR ended the previous write */
	bool in_body;
	bool hdr_end_done;
	bool skip_from;			/* still skipping leading "From " lines */

	struct buf line;		/* header mode: the line being read */
	size_t line_bytes;		/* its length before truncation */
	bool line_trunc;
	struct buf field;		/* header mode: the field being collected */
	bool field_trunc;
	struct buf scratch;		/* unfolded copy of a field */

	bool bol;			/* body: at the start of a line */
	bool dot_held;			/* body: a "." starts the current line */
	bool any_output;
	char last;			/* last byte written out */

	cleanup_stream_rewrite_fn *rewrite;	/* primary header fields, or NULL */

	/* Content checks (CLEANUP_STREAM_CHECKS). */
	cleanup_stream_check_fn *check;
	size_t line_limit;		/* body lines are shown in pieces this long */
	long body_limit;		/* checked bytes per body part; 0: all */
	struct buf bline;		/* the body line being read */
	bool mid_line;			/* bline continues a piece already shown */
	struct buf pfield;		/* the part header field being collected */
	bool part_headers;		/* reading the header block of a part */
	bool rest_passes;		/* the rest of a long boundary line follows */
	int part_class;			/* the class of its non-Content-* fields */
	struct argv *boundaries;	/* open multipart boundaries, innermost last */
	char *pending_boundary;		/* of the header block being read */
	bool pending_rfc822;		/* its Content-Type is message/rfc822 */
	long part_bytes;		/* body bytes of the current part so far */

	struct argv *resent_rcpts;	/* EXTRACT: from Resent-To/Cc/Bcc */
	bool saw_resent_rcpt;
	struct cleanup_stream_info info;
};

/* cleanup_stream_create - new filter */
struct cleanup_stream *cleanup_stream_create(int flags, long header_size_limit,
					     long size_limit,
					     cleanup_stream_out_fn *out,
					     cleanup_stream_hdr_end_fn *hdr_end,
					     void *ctx)
{
	struct cleanup_stream *s = xcalloc(1, sizeof(*s));

	s->flags = flags;
	s->hdr_limit = header_size_limit > 80 ? (size_t)header_size_limit : 80;
	s->size_limit = size_limit;
	s->out = out;
	s->hdr_end = hdr_end;
	s->ctx = ctx;
	s->skip_from = (flags & CLEANUP_STREAM_SKIP_FROM) != 0;
	buf_init(&s->line, 256);
	buf_init(&s->field, 256);
	buf_init(&s->scratch, 256);
	s->info.rcpts = argv_create();
	s->resent_rcpts = argv_create();
	buf_init(&s->bline, 0);
	buf_init(&s->pfield, 0);
	s->boundaries = argv_create();
	return s;
}

/* cleanup_stream_set_checks - the content check callback */
void cleanup_stream_set_checks(struct cleanup_stream *s, cleanup_stream_check_fn *fn,
			       long line_limit, long body_limit)
{
	if (!(s->flags & CLEANUP_STREAM_CHECKS) || (s->flags & CLEANUP_STREAM_DOT_EOF))
		msg_panic("cleanup_stream_set_checks: stream not made for checks");
	s->check = fn;
	s->line_limit = line_limit > 80 ? (size_t)line_limit : 80;
	s->body_limit = body_limit;
}

/* cleanup_stream_set_rewrite - the header rewriting callback */
void cleanup_stream_set_rewrite(struct cleanup_stream *s, cleanup_stream_rewrite_fn *fn)
{
	s->rewrite = fn;
}

/* cleanup_stream_free - release */
void cleanup_stream_free(struct cleanup_stream **sp)
{
	struct cleanup_stream *s = *sp;

	if (s == NULL)
		return;
	buf_deinit(&s->line);
	buf_deinit(&s->field);
	buf_deinit(&s->scratch);
	argv_free(&s->info.rcpts);
	argv_free(&s->resent_rcpts);
	buf_deinit(&s->bline);
	buf_deinit(&s->pfield);
	argv_free(&s->boundaries);
	free(s->pending_boundary);
	free(s->info.msgid);
	free(s);
	*sp = NULL;
}

/* cleanup_stream_info - what was seen */
const struct cleanup_stream_info *cleanup_stream_info(const struct cleanup_stream *s)
{
	return &s->info;
}

/* cleanup_stream_emit - bytes straight to the output */
void cleanup_stream_emit(struct cleanup_stream *s, const char *data, size_t len)
{
	if (len == 0)
		return;
	s->out(data, len, s->ctx);
	s->last = data[len - 1];
	s->any_output = true;
}

/* account - count n input bytes; false once over the size limit */
static bool account(struct cleanup_stream *s, size_t n)
{
	s->info.size += (long)n;
	if (s->size_limit > 0 && s->info.size > s->size_limit)
		s->info.too_big = true;
	return !s->info.too_big;
}

/* stopped - no more input wanted */
static bool stopped(const struct cleanup_stream *s)
{
	return s->info.ended || s->info.too_big;
}

/* name_is - does the field's name equal name (any case)? */
static bool name_is(const char *field, size_t name_len, const char *name)
{
	return strlen(name) == name_len && strncasecmp(field, name, name_len) == 0;
}

/* extract - add the addresses of the field in scratch to list */
static void extract(struct cleanup_stream *s, struct argv *list)
{
	const char *err;

	if (rfc822_addr_list(rfc822_header_value(s->scratch.data), list, &err) < 0) {
		if (s->info.bad_addr_headers++ == 0)
			s->info.bad_addr_error = err;
	}
}

#define MIME_DEPTH	20		/* nested multiparts followed, at most */
#define BOUNDARY_MAX	200		/* RFC 2046 allows 70 */

/* is_content - a Content-* field (mime_header_checks) */
static bool is_content(const char *f, size_t name_len)
{
	return name_len > 8 && strncasecmp(f, "Content-", 8) == 0;
}

/* note_content_type - remember what a Content-Type value says about the body */
static void note_content_type(struct cleanup_stream *s, const char *v)
{
	const char *p, *e;

	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, "message/rfc822", 14) == 0) {
		s->pending_rfc822 = true;
		return;
	}
	if (strncasecmp(v, "multipart/", 10) != 0)
		return;
	for (p = v; *p; p++) {
		if (strncasecmp(p, "boundary=", 9) != 0 || (p > v && p[-1] != ';' && p[-1] != ' '
							    && p[-1] != '\t'))
			continue;
		p += 9;
		if (*p == '"')
			e = strchr(++p, '"');
		else
			e = p + strcspn(p, "; \t");
		if (e == NULL || e == p || e - p > BOUNDARY_MAX)
			return;
		free(s->pending_boundary);
		s->pending_boundary = xstrndup(p, (size_t)(e - p));
		return;
	}
}

/* mime_enter_body - a header block ended: what its body is */
static void mime_enter_body(struct cleanup_stream *s)
{
	if (s->pending_boundary) {
		if (s->boundaries->argc < MIME_DEPTH)
			argv_add(s->boundaries, s->pending_boundary, (char *)NULL);
		free(s->pending_boundary);
		s->pending_boundary = NULL;
	}
	s->part_bytes = 0;
	if (s->pending_rfc822) {
		/* The body of an attached message starts with its headers. */
		s->pending_rfc822 = false;
		s->part_headers = true;
		s->part_class = CLEANUP_HDR_NESTED;
	}
}

/* process_field - look at one complete header field, then write it out */
static void process_field(struct cleanup_stream *s)
{
	const char *f = s->field.data;
	size_t n = rfc822_header_name_len(f, s->field.len);
	bool extracting = (s->flags & CLEANUP_STREAM_EXTRACT) != 0;
	bool drop = false;

	/* Content checks see the field first; what they leave is looked at. */
	if (s->check) {
		if (!s->check(s, is_content(f, n) ? CLEANUP_HDR_MIME : CLEANUP_HDR_PRIMARY,
			      &s->field, s->ctx)) {
			buf_reset(&s->field);
			s->field_trunc = false;
			return;
		}
		f = s->field.data;
		if ((n = rfc822_header_name_len(f, s->field.len)) == 0)
			msg_panic("cleanup_stream: a check left a header that is not one");
	}
	/* Header address rewriting sees what the checks left. */
	if (s->rewrite) {
		s->rewrite(s, &s->field, s->ctx);
		f = s->field.data;
		if ((n = rfc822_header_name_len(f, s->field.len)) == 0)
			msg_panic("cleanup_stream: rewriting left a header that is not one");
	}
	s->info.header_fields++;
	if (s->field_trunc)
		s->info.truncated_headers++;
	buf_reset(&s->scratch);
	rfc822_unfold(&s->scratch, f, s->field.len);

	if (name_is(f, n, "Received")) {
		s->info.received++;
	} else if (name_is(f, n, "From")) {
		s->info.has_from = true;
	} else if (name_is(f, n, "Date")) {
		s->info.has_date = true;
	} else if (name_is(f, n, "Message-ID")) {
		s->info.has_msgid = true;
		if (s->info.msgid == NULL) {
			char *v = xstrdup(rfc822_header_value(s->scratch.data));

			s->info.msgid = xstrdup(str_trim(v));
			free(v);
		}
	} else if (extracting && (name_is(f, n, "To") || name_is(f, n, "Cc"))) {
		extract(s, s->info.rcpts);
	} else if (extracting && name_is(f, n, "Bcc")) {
		extract(s, s->info.rcpts);
		drop = true;
	} else if (extracting && (name_is(f, n, "Resent-To") || name_is(f, n, "Resent-Cc"))) {
		extract(s, s->resent_rcpts);
		s->saw_resent_rcpt = true;
	} else if (extracting && name_is(f, n, "Resent-Bcc")) {
		extract(s, s->resent_rcpts);
		s->saw_resent_rcpt = true;
		drop = true;
	}
	if (n > 7 && strncasecmp(f, "Resent-", 7) == 0)
		s->info.has_resent = true;
	if (s->check && name_is(f, n, "Content-Type"))
		note_content_type(s, rfc822_header_value(s->scratch.data));
	if (!drop) {
		/* Non-ASCII in a kept field: SMTPUTF8 autodetection (cleanup.h). */
		for (size_t i = 0; i < s->field.len && !s->info.header_8bit; i++)
			if ((unsigned char)f[i] & 0x80)
				s->info.header_8bit = true;
		cleanup_stream_emit(s, f, s->field.len);
		cleanup_stream_emit(s, "\n", 1);
	}
	buf_reset(&s->field);
	s->field_trunc = false;
}

/* flush_field - process the field being collected, if any */
static void flush_field(struct cleanup_stream *s)
{
	if (s->field.len > 0)
		process_field(s);
}

/* end_headers - the header block is complete: let the owner add headers */
static void end_headers(struct cleanup_stream *s)
{
	flush_field(s);
	if (!s->hdr_end_done) {
		s->hdr_end_done = true;
		if (s->hdr_end)
			s->hdr_end(s, s->ctx);
	}
}

/* begin_body - leave header mode, writing the empty separator line */
static void begin_body(struct cleanup_stream *s)
{
	end_headers(s);
	cleanup_stream_emit(s, "\n", 1);
	s->in_body = true;
	s->bol = true;
	if (s->check)
		mime_enter_body(s);
}

/* flush_part_field - one complete header field of a MIME part */
static void flush_part_field(struct cleanup_stream *s)
{
	size_t n;

	if (s->pfield.len == 0)
		return;
	n = rfc822_header_name_len(s->pfield.data, s->pfield.len);
	if (s->check(s, is_content(s->pfield.data, n) ? CLEANUP_HDR_MIME : s->part_class,
		     &s->pfield, s->ctx)) {
		n = rfc822_header_name_len(s->pfield.data, s->pfield.len);
		if (name_is(s->pfield.data, n, "Content-Type")) {
			buf_reset(&s->scratch);
			rfc822_unfold(&s->scratch, s->pfield.data, s->pfield.len);
			note_content_type(s, rfc822_header_value(s->scratch.data));
		}
		cleanup_stream_emit(s, s->pfield.data, s->pfield.len);
		cleanup_stream_emit(s, "\n", 1);
	}
	buf_reset(&s->pfield);
}

/* boundary_line - 0: not a boundary; 1: a part starts; 2: the multipart ends */
static int boundary_line(struct cleanup_stream *s, const char *l, size_t len)
{
	if (len < 3 || l[0] != '-' || l[1] != '-')
		return 0;
	for (size_t i = s->boundaries->argc; i-- > 0;) {
		const char *b = s->boundaries->argv[i];
		size_t blen = strlen(b);

		if (len - 2 < blen || memcmp(l + 2, b, blen) != 0)
			continue;
		/* Inner multiparts left open end here too. */
		while (s->boundaries->argc > i + 1) {
			free(s->boundaries->argv[--s->boundaries->argc]);
			s->boundaries->argv[s->boundaries->argc] = NULL;
		}
		if (len - 2 - blen >= 2 && l[2 + blen] == '-' && l[3 + blen] == '-') {
			free(s->boundaries->argv[--s->boundaries->argc]);
			s->boundaries->argv[s->boundaries->argc] = NULL;
			return 2;
		}
		return 1;
	}
	return 0;
}

/*
 * body_line - one body line (or a piece of a long one) in checks mode:
 * part headers are collected into fields, boundaries switch parts, other
 * lines go through the check.  nl: the line ended with LF.
 */
static void body_line(struct cleanup_stream *s, bool nl)
{
	struct buf *l = &s->bline;
	bool cont = s->mid_line, show;

	s->mid_line = !nl;
	if (cont && s->rest_passes) {
		/* A boundary line longer than line_limit: its rest is no header. */
		cleanup_stream_emit(s, l->data, l->len);
		cleanup_stream_emit(s, "\n", nl);
		s->rest_passes = !nl;
		goto done;
	}
	if (s->part_headers) {
		if (!cont && l->len == 0 && nl) {
			flush_part_field(s);
			cleanup_stream_emit(s, "\n", 1);
			s->part_headers = false;
			mime_enter_body(s);
			goto done;
		}
		if (cont || (l->len > 0 && (l->data[0] == ' ' || l->data[0] == '\t')
			     && s->pfield.len > 0)) {
			if (s->pfield.len + l->len + 1 < s->hdr_limit) {
				if (!cont)
					buf_putc(&s->pfield, '\n');
				buf_append(&s->pfield, l->data, l->len);
			}
			goto done;
		}
		if (rfc822_header_name_len(l->data, l->len) > 0) {
			flush_part_field(s);
			buf_append(&s->pfield, l->data, l->len);
			goto done;
		}
		/* Not a header: the part's body starts without an empty line. */
		flush_part_field(s);
		s->part_headers = false;
		mime_enter_body(s);
		if (s->part_headers) {
			/*
			 * A message/rfc822 part: this line is no header of the
			 * attached message either, whose header is then empty
			 * too (fuzz finding F19: the rest of a long line was
			 * taken for its first header field).
			 */
			s->part_headers = false;
			mime_enter_body(s);
		}
	}
	if (!cont && s->boundaries->argc > 0) {
		switch (boundary_line(s, l->data, l->len)) {
		case 1:
			s->part_headers = true;
			s->part_class = CLEANUP_HDR_NESTED;
			s->part_bytes = 0;
			/* FALLTHROUGH */
		case 2:
			cleanup_stream_emit(s, l->data, l->len);
			cleanup_stream_emit(s, "\n", nl);
			s->rest_passes = !nl;
			goto done;
		}
	}
	show = s->body_limit <= 0 || s->part_bytes < s->body_limit;
	s->part_bytes += (long)l->len + nl;
	if (!show || s->check(s, CLEANUP_BODY, l, s->ctx)) {
		cleanup_stream_emit(s, l->data, l->len);
		cleanup_stream_emit(s, "\n", nl);
	}
done:
	buf_reset(l);
}

/* lines_cut - body bytes in checks mode: cut into lines of at most line_limit */
static void lines_cut(struct cleanup_stream *s, const char *data, size_t len)
{
	const char *nl;
	size_t seg, take;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		seg = nl ? (size_t)(nl - data) : len;
		while (seg > 0) {
			take = s->line_limit - s->bline.len;
			if (take > seg)
				take = seg;
			buf_append(&s->bline, data, take);
			data += take;
			len -= take;
			seg -= take;
			if (s->bline.len >= s->line_limit)
				body_line(s, false);
		}
		if (nl) {
			data++;
			len--;
			body_line(s, true);
		}
	}
}

/* lines_feed - body bytes in checks mode, counted, then cut into lines */
static void lines_feed(struct cleanup_stream *s, const char *data, size_t len)
{
	if (account(s, len))
		lines_cut(s, data, len);
}

/* body_feed - body bytes: pass through, watching for "." lines if asked */
static void body_feed(struct cleanup_stream *s, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *run = data;

	if (s->check) {
		lines_feed(s, data, len);
		return;
	}
	if (!(s->flags & CLEANUP_STREAM_DOT_EOF)) {
		if (account(s, len))
			cleanup_stream_emit(s, data, len);
		return;
	}
	while (p < end) {
		if (s->dot_held) {
			s->dot_held = false;
			if (*p == '\n') {
				account(s, 2);
				s->info.ended = true;
				return;
			}
			if (!account(s, 1))
				return;
			cleanup_stream_emit(s, ".", 1);
		}
		if (s->bol && *p == '.') {
			if (!account(s, (size_t)(p - run)))
				return;
			cleanup_stream_emit(s, run, (size_t)(p - run));
			s->dot_held = true;
			s->bol = false;
			run = ++p;
			continue;
		}
		s->bol = (*p == '\n');
		p++;
	}
	if (account(s, (size_t)(end - run)))
		cleanup_stream_emit(s, run, (size_t)(end - run));
}

/* line_is_header_part - could the line being read belong to a header field? */
static bool line_is_header_part(const struct cleanup_stream *s)
{
	if (s->line.len > 0 && (s->line.data[0] == ' ' || s->line.data[0] == '\t'))
		return s->field.len > 0;
	return rfc822_header_name_len(s->line.data, s->line.len) > 0;
}

/* process_line - one complete line in header mode */
static void process_line(struct cleanup_stream *s)
{
	const char *l = s->line.data;
	size_t n = s->line.len;
	size_t room;

	if (!account(s, s->line_bytes + 1))
		return;

	/* mbox "From " lines before the headers are not part of the message. */
	if (s->skip_from) {
		size_t k = strspn(l, ">");

		if (n >= k + 5 && memcmp(l + k, "From ", 5) == 0)
			goto done;
		s->skip_from = false;
	}
	if ((s->flags & CLEANUP_STREAM_DOT_EOF) && n == 1 && l[0] == '.') {
		flush_field(s);
		s->info.ended = true;
		goto done;
	}

	/* A continuation line belongs to the field being collected. */
	if (n > 0 && (l[0] == ' ' || l[0] == '\t') && s->field.len > 0) {
		room = s->hdr_limit > s->field.len ? s->hdr_limit - s->field.len : 0;
		if (room > 1) {
			buf_putc(&s->field, '\n');
			buf_append(&s->field, l, n < room - 1 ? n : room - 1);
		}
		if (s->line_trunc || n + 1 > room)
			s->field_trunc = true;
		goto done;
	}
	flush_field(s);
	if (n == 0) {
		begin_body(s);
	} else if (rfc822_header_name_len(l, n) > 0) {
		buf_append(&s->field, l, n);
		s->field_trunc = s->line_trunc;
	} else {
		/* Body text without the empty line before it: insert one. */
		begin_body(s);
		if (s->check) {
			/* Already counted; cut like any body line (it may be long). */
			lines_cut(s, l, n);
			body_line(s, true);
		} else {
			cleanup_stream_emit(s, l, n);
			cleanup_stream_emit(s, "\n", 1);
		}
	}
done:
	buf_reset(&s->line);
	s->line_bytes = 0;
	s->line_trunc = false;
}

/* line_add - append to the current header-mode line; returns bytes used */
static size_t line_add(struct cleanup_stream *s, const char *data, size_t n)
{
	size_t room = s->line.len < s->hdr_limit ? s->hdr_limit - s->line.len : 0;
	size_t take = n < room ? n : room;

	buf_append(&s->line, data, take);
	s->line_bytes += take;
	if (take == n)
		return n;

	/* Too long for a header field: cut it, or it is body text after all. */
	if (line_is_header_part(s)) {
		s->line_trunc = true;
		s->line_bytes += n - take;
		return n;
	}
	flush_field(s);
	begin_body(s);
	body_feed(s, s->line.data, s->line.len);
	buf_reset(&s->line);
	s->line_bytes = 0;
	return take;
}

/* feed - LF-only bytes into header or body processing */
static void feed(struct cleanup_stream *s, const char *data, size_t len)
{
	const char *nl;
	size_t seg, used;

	while (len > 0 && !s->in_body && !stopped(s)) {
		nl = memchr(data, '\n', len);
		seg = nl ? (size_t)(nl - data) : len;
		used = line_add(s, data, seg);
		data += used;
		len -= used;
		if (s->in_body || !nl)
			break;
		data++;
		len--;
		process_line(s);
	}
	if (len > 0 && s->in_body && !stopped(s))
		body_feed(s, data, len);
}

/*
 * stray_cr - what a CR not followed by LF becomes: itself, or a space
 * (Postfix's cleanup_replace_stray_cr_lf: a receiver that ends DATA on a
 * bare "<CR>.<CR>" must never see one in mail we send on).
 */
static const char *stray_cr(const struct cleanup_stream *s)
{
	return (s->flags & CLEANUP_STREAM_STRAY_CR) ? " " : "\r";
}

/* cleanup_stream_write - CRLF to LF, then feed */
void cleanup_stream_write(struct cleanup_stream *s, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *cr;

	if (len == 0 || stopped(s))
		return;
	if (s->pending_cr) {
		s->pending_cr = false;
		if (*p != '\n')
			feed(s, stray_cr(s), 1);
	}
	while (p < end) {
		if ((cr = memchr(p, '\r', (size_t)(end - p))) == NULL) {
			feed(s, p, (size_t)(end - p));
			break;
		}
		feed(s, p, (size_t)(cr - p));
		if (cr + 1 == end) {
			s->pending_cr = true;
			break;
		}
		if (cr[1] != '\n')
			feed(s, stray_cr(s), 1);
		p = cr + 1;
	}
}

/* cleanup_stream_finish - end of input */
void cleanup_stream_finish(struct cleanup_stream *s)
{
	struct argv *tmp;

	if (s->pending_cr) {
		s->pending_cr = false;
		feed(s, stray_cr(s), 1);
	}
	if (!s->in_body && !stopped(s) && (s->line.len > 0 || s->line_bytes > 0)) {
		s->line_bytes--;	/* process_line counts a line end that is not there */
		process_line(s);
	}
	/* A message of headers only has no empty line after them. */
	if (!s->in_body)
		end_headers(s);
	if (s->check && s->in_body) {
		if (s->bline.len > 0)
			body_line(s, false);
		if (s->part_headers)
			flush_part_field(s);
	}
	s->dot_held = false;
	s->info.ended = true;
	if (s->any_output && s->last != '\n')
		cleanup_stream_emit(s, "\n", 1);
	if (s->saw_resent_rcpt) {
		tmp = s->info.rcpts;
		s->info.rcpts = s->resent_rcpts;
		s->resent_rcpts = tmp;
		s->saw_resent_rcpt = false;
	}
}
