/*
 * fuzz_mime_header - libFuzzer target for cleanup's header and MIME parser
 * (global/cleanup/cleanup_stream.c), which every message from smtpd,
 * sendmail and pickup goes through.
 *
 * Input: one byte of flags (CLEANUP_STREAM_*, and whether the content
 * check drops some lines), one byte of limits (header size, size limit,
 * line and body-check limits, chunk size), then the message.  Checked:
 *   - the message fed whole and in chunks gives the same output and the
 *     same info (sizes, counts, flags, Message-ID, extracted recipients),
 *     unless it is over the size limit (then both say so);
 *   - the output ends with a line end unless the size limit stopped it;
 *     it has no CR when stray CRs are replaced;
 *   - the check callback sees known classes, header fields that are
 *     header fields, body lines without LF and no longer than the limit;
 *   - with stray CRs replaced and nothing dropped, the filter is
 *     idempotent: its output filtered again is the same bytes;
 *   - extracted recipients are in internal form (non-empty).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/cleanup/cleanup_stream.h"
#include "global/rfc822.h"
#include "util/argv.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_mime_header: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define FLAG_DROP	0x80	/* the check callback drops some lines */

struct run {
	struct buf *out;
	bool drop;
	long line_limit;
	long checked;		/* lines the callback saw */
	bool hdr_end_seen;
};

static void out_fn(const char *data, size_t len, void *ctx)
{
	struct run *r = ctx;

	buf_append(r->out, data, len);
}

static void hdr_end_fn(struct cleanup_stream *s, void *ctx)
{
	struct run *r = ctx;

	check(!r->hdr_end_seen);
	r->hdr_end_seen = true;
	cleanup_stream_emit(s, "X-Added: 1\n", 11);
}

/* check_fn - the content-check callback's view of each line */
static bool check_fn(struct cleanup_stream *s, int cls, struct buf *text, void *ctx)
{
	struct run *r = ctx;
	unsigned h = 0;

	(void)s;
	check(cls == CLEANUP_HDR_PRIMARY || cls == CLEANUP_HDR_MIME || cls == CLEANUP_HDR_NESTED
	      || cls == CLEANUP_BODY);
	if (cls == CLEANUP_BODY) {
		check(memchr(text->data, '\n', text->len) == NULL);
		if (r->line_limit > 0)
			if ((long)text->len > r->line_limit) {
			fprintf(stderr, "fuzz_mime_header: body line of %zu bytes, limit %ld: %.*s\n", text->len, r->line_limit, (int)text->len, text->data);
			abort();
		}
	} else {
		if (rfc822_header_name_len(text->data, text->len) == 0) {
			fprintf(stderr, "fuzz_mime_header: class %d line is no header field: \"%.*s\"\n", cls, (int)text->len, text->data);
			abort();
		}
		if (cls == CLEANUP_HDR_MIME)
			check(strncasecmp(text->data, "Content-", 8) == 0);
	}
	r->checked++;
	for (size_t i = 0; i < text->len; i++)
		h = h * 31 + (unsigned char)text->data[i];
	return !(r->drop && h % 7 == 0);
}

struct limits {
	long header_size, size, line, body;
	size_t chunk;
};

/* filter - one pass; the info is copied out */
static void filter(const char *msg, size_t len, int flags, const struct limits *lim,
		   bool drop, bool hdr_end, struct run *r, struct cleanup_stream_info *info,
		   struct argv **rcpts_r)
{
	struct cleanup_stream *s;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	r->out = buf_create(len + 64);
	r->drop = drop;
	r->line_limit = lim->line;
	s = cleanup_stream_create(flags, lim->header_size, lim->size, out_fn,
				  hdr_end ? hdr_end_fn : NULL, r);
	if (flags & CLEANUP_STREAM_CHECKS)
		cleanup_stream_set_checks(s, check_fn, lim->line, lim->body);
	while (pos < len) {
		size_t n = len - pos < lim->chunk ? len - pos : lim->chunk;

		cleanup_stream_write(s, msg + pos, n);
		pos += n;
	}
	cleanup_stream_finish(s);
	*info = *cleanup_stream_info(s);
	info->msgid = info->msgid ? strdup(info->msgid) : NULL;
	*rcpts_r = argv_create();
	if (info->rcpts)
		for (size_t i = 0; i < info->rcpts->argc; i++)
			argv_add(*rcpts_r, info->rcpts->argv[i], (char *)NULL);
	info->rcpts = NULL;
	cleanup_stream_free(&s);
	check(s == NULL);
}

/* same_info - the fields that must not depend on chunking */
static void same_info(const struct cleanup_stream_info *a, const struct cleanup_stream_info *b)
{
	check(a->size == b->size);
	check(a->too_big == b->too_big);
	check(a->ended == b->ended);
	check(a->received == b->received);
	check(a->has_from == b->has_from && a->has_date == b->has_date);
	check(a->has_msgid == b->has_msgid && a->has_resent == b->has_resent);
	check((a->msgid == NULL) == (b->msgid == NULL));
	if (a->msgid)
		check(strcmp(a->msgid, b->msgid) == 0);
	check(a->bad_addr_headers == b->bad_addr_headers);
	check(a->truncated_headers == b->truncated_headers);
	check(a->header_fields == b->header_fields);
	check(a->header_8bit == b->header_8bit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long hsizes[] = {102400, 64, 200, 1000};
	struct cleanup_stream_info i1, i2;
	struct argv *r1, *r2;
	struct run a, b;
	struct limits whole, pieces;
	const char *msg;
	size_t len;
	int flags;
	bool drop;

	if (size < 2)
		return 0;
	flags = data[0] & (CLEANUP_STREAM_EXTRACT | CLEANUP_STREAM_SKIP_FROM | CLEANUP_STREAM_DOT_EOF
			   | CLEANUP_STREAM_STRAY_CR | CLEANUP_STREAM_CHECKS);
	/* Content checks are cleanup's; the "." end is sendmail's: not both. */
	if (flags & CLEANUP_STREAM_CHECKS)
		flags &= ~CLEANUP_STREAM_DOT_EOF;
	drop = (data[0] & FLAG_DROP) && (flags & CLEANUP_STREAM_CHECKS);
	whole.header_size = hsizes[data[1] & 3];
	whole.size = data[1] & 4 ? 300 : 0;
	whole.line = data[1] & 8 ? 80 : 2048;	/* 80 is the least it takes */
	whole.body = data[1] & 16 ? 100 : 0;
	msg = (const char *)data + 2;
	len = size - 2;
	whole.chunk = len ? len : 1;
	pieces = whole;
	pieces.chunk = 1 + (data[1] >> 5) * 3;

	filter(msg, len, flags, &whole, drop, true, &a, &i1, &r1);
	filter(msg, len, flags, &pieces, drop, true, &b, &i2, &r2);
	/* Past the size limit the message is refused: what came out by then
	 * depends on where the pieces ended, and does not matter. */
	check(i1.too_big == i2.too_big);
	if (i1.too_big)
		goto out;
	if (a.out->len != b.out->len || memcmp(a.out->data, b.out->data, a.out->len) != 0) {
		fprintf(stderr, "fuzz_mime_header: whole and in chunks of %zu differ\n--whole\n"
			"%.*s--chunks\n%.*s--\n", pieces.chunk, (int)a.out->len, a.out->data,
			(int)b.out->len, b.out->data);
		abort();
	}
	check(a.checked == b.checked);
	check(a.hdr_end_seen && b.hdr_end_seen);
	same_info(&i1, &i2);
	check(r1->argc == r2->argc);
	for (size_t i = 0; i < r1->argc; i++) {
		check(strcmp(r1->argv[i], r2->argv[i]) == 0);
		check(*r1->argv[i] != 0);
	}
	if (!i1.too_big) {
		check(a.out->len > 0 && a.out->data[a.out->len - 1] == '\n');
		if (flags & CLEANUP_STREAM_STRAY_CR)
			check(memchr(a.out->data, '\r', a.out->len) == NULL);
	}

	/* Idempotence: the output through the plain filter again. */
	if (!i1.too_big && !drop && (flags & CLEANUP_STREAM_STRAY_CR)
	    && i1.truncated_headers == 0) {
		struct cleanup_stream_info i3;
		struct argv *r3;
		struct run c;
		struct limits plain = whole;

		plain.size = 0;
		plain.chunk = a.out->len;
		filter(a.out->data, a.out->len, CLEANUP_STREAM_STRAY_CR, &plain, false, false, &c,
		       &i3, &r3);
		if (c.out->len != a.out->len || memcmp(c.out->data, a.out->data, a.out->len) != 0) {
			fprintf(stderr, "fuzz_mime_header: not idempotent\n--first\n%.*s--second\n"
				"%.*s--\n", (int)a.out->len, a.out->data, (int)c.out->len,
				c.out->data);
			abort();
		}
		free(i3.msgid);
		argv_free(&r3);
		buf_free(&c.out);
	}
out:
	free(i1.msgid);
	free(i2.msgid);
	argv_free(&r1);
	argv_free(&r2);
	buf_free(&a.out);
	buf_free(&b.out);
	return 0;
}
