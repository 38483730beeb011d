/*
 * rec - queue file record encoding and a windowed record reader.
 *
 * Contract: see rec.h and docs/QUEUE.md section 3.  The encoder only
 * produces canonical records; the decoder accepts nothing else, so that a
 * damaged length byte is caught rather than resynchronised on.
 *
 * The reader never reads past the size it was given (the file size seen at
 * open), and it reports a file that shrank under it as corrupt (short read),
 * not as an I/O error: a queue file is never legitimately shortened.
 *
 * DIAGNOSTICS: none logged; errors are returned.  rec_put() panics on a
 * record longer than REC_MAX_LEN (the caller's bug).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/rec.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define REC_WINDOW_MIN	8192

struct rec_in {
	int fd;
	off_t size;		/* records must end by here */
	char *win;		/* window buffer */
	bool borrowed;		/* win is the caller's (rec_in_create_image) */
	size_t cap;		/* its size */
	off_t base;		/* file offset of win[0] */
	size_t have;		/* valid bytes in win */
	unsigned long served;	/* records decoded (rec_in_served) */
	char err[160];
};

/* rec_hdr_size - header bytes for a record of len data bytes */
size_t rec_hdr_size(size_t len)
{
	if (len < (1u << 7))
		return 2;
	if (len < (1u << 14))
		return 3;
	return 4;
}

/* rec_put - append one canonical record */
void rec_put(struct buf *b, int type, const void *data, size_t len)
{
	unsigned char hdr[REC_HDR_MAX];
	size_t n = 0, v = len;

	if (len > REC_MAX_LEN)
		msg_panic("rec_put: record of %zu bytes exceeds %d", len, REC_MAX_LEN);
	hdr[n++] = (unsigned char)type;
	do {
		hdr[n] = v & 0x7f;
		v >>= 7;
		if (v)
			hdr[n] |= 0x80;
		n++;
	} while (v);
	buf_append(b, hdr, n);
	if (len)
		buf_append(b, data, len);
}

/* rec_decode_hdr - parse type and length */
int rec_decode_hdr(const unsigned char *p, size_t avail, int *type_r,
		   size_t *len_r, const char **error_r)
{
	size_t len = 0;
	unsigned shift = 0;

	if (avail < 1)
		return 0;
	for (size_t i = 1; i < REC_HDR_MAX; i++, shift += 7) {
		if (i >= avail)
			return 0;
		len |= (size_t)(p[i] & 0x7f) << shift;
		if ((p[i] & 0x80) == 0) {
			/* A last group of 0 after the first is a padded length. */
			if (p[i] == 0 && i > 1) {
				*error_r = "non-canonical record length";
				return REC_CORRUPT;
			}
			if (len > REC_MAX_LEN) {
				*error_r = "record length exceeds 1 MiB";
				return REC_CORRUPT;
			}
			*type_r = p[0];
			*len_r = len;
			return (int)i + 1;
		}
	}
	*error_r = "record length field too long";
	return REC_CORRUPT;
}

/* rec_in_create - new reader over fd */
struct rec_in *rec_in_create(int fd, off_t size)
{
	struct rec_in *in = xcalloc(1, sizeof(*in));

	in->fd = fd;
	in->size = size;
	in->cap = REC_WINDOW_MIN;
	in->win = xmalloc(in->cap);
	return in;
}

/* rec_in_create_image - reader over a whole file the caller holds */
struct rec_in *rec_in_create_image(const void *data, size_t len)
{
	struct rec_in *in = xcalloc(1, sizeof(*in));

	in->fd = -1;
	in->size = (off_t)len;
	in->win = (char *)data;	/* never written while borrowed */
	in->borrowed = true;
	in->cap = in->have = len;
	return in;
}

/* own_window - a window of at least need bytes of our own (empty) */
static void own_window(struct rec_in *in, size_t need)
{
	if (!in->borrowed)
		return;
	in->borrowed = false;
	in->cap = need > REC_WINDOW_MIN ? need : REC_WINDOW_MIN;
	in->win = xmalloc(in->cap);
	in->have = 0;
	in->base = 0;
}

/* rec_in_preload - the file's first len bytes, read by the caller */
void rec_in_preload(struct rec_in *in, const void *data, size_t len)
{
	own_window(in, len);
	if (len > in->cap) {
		in->cap = len;
		in->win = xrealloc(in->win, in->cap);
	}
	memcpy(in->win, data, len);
	in->base = 0;
	in->have = len;
}

/* rec_in_free - release the reader */
void rec_in_free(struct rec_in **inp)
{
	struct rec_in *in = *inp;

	if (in == NULL)
		return;
	if (!in->borrowed)
		free(in->win);
	free(in);
	*inp = NULL;
}

/* rec_in_served - how many records were asked for */
unsigned long rec_in_served(const struct rec_in *in)
{
	return in->served;
}

/* rec_in_forget - invalidate the window */
void rec_in_forget(struct rec_in *in)
{
	in->have = 0;
	in->base = 0;
}

/* ensure - make [off, off+need) available in the window */
static int ensure(struct rec_in *in, off_t off, size_t need)
{
	size_t want, got = 0;
	ssize_t n;

	if (off >= in->base && (size_t)(off - in->base) + need <= in->have)
		return 0;
	own_window(in, need);

	/*
	 * Refill from off.  Grow the window for a big record; read as much as
	 * fits (up to the end of the file) so that the following records come
	 * from memory.
	 */
	if (need > in->cap) {
		in->cap = need;
		in->win = xrealloc(in->win, in->cap);
	}
	want = in->cap;
	if ((off_t)want > in->size - off)
		want = (size_t)(in->size - off);
	in->base = off;
	in->have = 0;
	while (got < want) {
		n = pread(in->fd, in->win + got, want - got, off + (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(in->err, sizeof(in->err), "read at offset %lld: %s",
				 (long long)(off + (off_t)got), strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	in->have = got;
	if (got < need) {
		snprintf(in->err, sizeof(in->err),
			 "unexpected end of file at offset %lld",
			 (long long)(off + (off_t)got));
		return REC_CORRUPT;
	}
	return 0;
}

/* rec_in_peek - n bytes at off if the window holds them, else NULL */
const char *rec_in_peek(const struct rec_in *in, off_t off, size_t n)
{
	if (off >= in->base && (size_t)(off - in->base) + n <= in->have)
		return in->win + (off - in->base);
	return NULL;
}

/* rec_in_get - the record at off */
int rec_in_get(struct rec_in *in, off_t off, struct rec *r, const char **error_r)
{
	const unsigned char *p;
	const char *why;
	size_t hdr_avail, len;
	int type, hlen, rc;

	*error_r = in->err;
	in->served++;
	if (off < 0 || off >= in->size) {
		snprintf(in->err, sizeof(in->err), "no record at offset %lld (file size %lld)",
			 (long long)off, (long long)in->size);
		return REC_CORRUPT;
	}
	hdr_avail = REC_HDR_MAX;
	if ((off_t)hdr_avail > in->size - off)
		hdr_avail = (size_t)(in->size - off);
	if ((rc = ensure(in, off, hdr_avail)) != 0)
		return rc;
	p = (const unsigned char *)in->win + (off - in->base);
	hlen = rec_decode_hdr(p, hdr_avail, &type, &len, &why);
	if (hlen == 0) {
		snprintf(in->err, sizeof(in->err), "truncated record header at offset %lld",
			 (long long)off);
		return REC_CORRUPT;
	}
	if (hlen < 0) {
		snprintf(in->err, sizeof(in->err), "%s at offset %lld", why, (long long)off);
		return REC_CORRUPT;
	}
	if ((off_t)len > in->size - off - hlen) {
		snprintf(in->err, sizeof(in->err),
			 "record '%c' at offset %lld runs past the end of the file",
			 type >= 0x21 && type < 0x7f ? type : '?', (long long)off);
		return REC_CORRUPT;
	}
	if ((rc = ensure(in, off, (size_t)hlen + len)) != 0)
		return rc;
	r->type = type;
	r->data = in->win + (off - in->base) + hlen;
	r->len = len;
	r->off = off;
	r->next = off + hlen + (off_t)len;
	return 0;
}
