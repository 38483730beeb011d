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
 * MIME is not parsed: only the primary header block is examined.
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
	return s;
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

/* process_field - look at one complete header field, then write it out */
static void process_field(struct cleanup_stream *s)
{
	const char *f = s->field.data;
	size_t n = rfc822_header_name_len(f, s->field.len);
	bool extracting = (s->flags & CLEANUP_STREAM_EXTRACT) != 0;
	bool drop = false;

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
}

/* body_feed - body bytes: pass through, watching for "." lines if asked */
static void body_feed(struct cleanup_stream *s, const char *data, size_t len)
{
	const char *p = data, *end = data + len, *run = data;

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
		cleanup_stream_emit(s, l, n);
		cleanup_stream_emit(s, "\n", 1);
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
