/*
 * attr - framed attribute protocol (see attr.h).
 *
 * DIAGNOSTICS: decoding errors are returned as static strings; nothing here
 * logs, the caller decides (docs/STYLE.md).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

/* attr_frame_begin - reserve the length prefix */
void attr_frame_begin(struct buf *out)
{
	buf_reset(out);
	buf_append(out, "\0\0\0\0", 4);
}

/* valid_name - [a-z0-9_]{1,64} */
static bool valid_name(const char *name, size_t len)
{
	if (len == 0 || len > ATTR_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* attr_put_str - add name=value */
void attr_put_str(struct buf *out, const char *name, const char *value)
{
	if (!valid_name(name, strlen(name)))
		msg_panic("attr_put_str: bad attribute name \"%s\"", name);
	buf_append(out, name, strlen(name) + 1);
	buf_append(out, value ? value : "", strlen(value ? value : "") + 1);
}

/* attr_put_long - add a number */
void attr_put_long(struct buf *out, const char *name, long value)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%ld", value);
	attr_put_str(out, name, tmp);
}

/* attr_put_double - add a real number (enough digits for microseconds) */
void attr_put_double(struct buf *out, const char *name, double value)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "%.6f", value);
	attr_put_str(out, name, tmp);
}

/* attr_frame_end - fill in the payload length */
void attr_frame_end(struct buf *out)
{
	size_t n;

	if (out->len < 4)
		msg_panic("attr_frame_end: no frame begun");
	n = out->len - 4;
	if (n > UINT32_MAX)
		msg_panic("attr_frame_end: frame too large");
	out->data[0] = (char)(n >> 24);
	out->data[1] = (char)(n >> 16);
	out->data[2] = (char)(n >> 8);
	out->data[3] = (char)n;
}

/* attr_list_init - empty list */
void attr_list_init(struct attr_list *al)
{
	memset(al, 0, sizeof(*al));
}

/* attr_list_deinit - release */
void attr_list_deinit(struct attr_list *al)
{
	free(al->items);
	free(al->storage);
	memset(al, 0, sizeof(*al));
}

/* attr_parse_payload - strict decoder */
int attr_parse_payload(const char *data, size_t len, struct attr_list *al,
		       const char **error_r)
{
	const char *cp, *end, *name, *nul;
	size_t nlen;

	free(al->storage);
	al->storage = xmemdup(data, len);
	al->count = 0;
	cp = al->storage;
	end = al->storage + len;
	while (cp < end) {
		name = cp;
		if ((nul = memchr(cp, 0, (size_t)(end - cp))) == NULL) {
			*error_r = "attribute name without terminator";
			return -1;
		}
		nlen = (size_t)(nul - name);
		if (!valid_name(name, nlen)) {
			*error_r = "malformed attribute name";
			return -1;
		}
		cp = nul + 1;
		if (cp >= end || (nul = memchr(cp, 0, (size_t)(end - cp))) == NULL) {
			*error_r = "attribute value without terminator";
			return -1;
		}
		if (al->count == al->cap) {
			al->cap = al->cap ? al->cap * 2 : 16;
			al->items = xreallocarray(al->items, al->cap, sizeof(*al->items));
		}
		al->items[al->count].name = name;
		al->items[al->count].value = cp;
		al->items[al->count].vlen = (size_t)(nul - cp);
		al->count++;
		cp = nul + 1;
	}
	return 0;
}

/* attr_frame_extract - take one frame off the front of inbuf */
int attr_frame_extract(struct buf *inbuf, size_t limit, struct attr_list *al,
		       const char **error_r)
{
	const unsigned char *p = (const unsigned char *)inbuf->data;
	size_t n;
	int r;

	if (inbuf->len < 4)
		return 0;
	n = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
	if (n > limit) {
		*error_r = "frame exceeds size limit";
		return -1;
	}
	if (inbuf->len - 4 < n)
		return 0;
	r = attr_parse_payload(inbuf->data + 4, n, al, error_r);
	buf_consume(inbuf, n + 4);
	return r < 0 ? -1 : 1;
}

/* attr_read_frame - blocking read of one frame */
int attr_read_frame(int fd, struct buf *inbuf, size_t limit, int timeout_ms,
		    struct attr_list *al, const char **error_r)
{
	char tmp[16384];
	ssize_t n;
	int r;

	for (;;) {
		if ((r = attr_frame_extract(inbuf, limit, al, error_r)) != 0)
			return r;
		n = read_timeout(fd, tmp, sizeof(tmp), timeout_ms);
		if (n < 0) {
			*error_r = errno == ETIMEDOUT ? "timeout" : "read error";
			return -1;
		}
		if (n == 0) {
			if (inbuf->len == 0)
				return 0;
			*error_r = "unexpected end of input inside a frame";
			return -1;
		}
		buf_append(inbuf, tmp, (size_t)n);
	}
}

/* attr_write_frame - send a frame */
int attr_write_frame(int fd, const struct buf *frame, int timeout_ms)
{
	return write_all_timeout(fd, frame->data, frame->len, timeout_ms);
}

/* attr_get - first value by name */
const char *attr_get(const struct attr_list *al, const char *name)
{
	for (size_t i = 0; i < al->count; i++)
		if (strcmp(al->items[i].name, name) == 0)
			return al->items[i].value;
	return NULL;
}

/* attr_get_long - numeric value */
int attr_get_long(const struct attr_list *al, const char *name, long min,
		  long max, long *value_r)
{
	const char *v = attr_get(al, name);

	if (v == NULL)
		return -1;
	return str_to_long(v, min, max, value_r);
}

/* attr_get_double - real value */
int attr_get_double(const struct attr_list *al, const char *name, double *value_r)
{
	const char *v = attr_get(al, name);
	char *end;
	double d;

	if (v == NULL || *v == 0)
		return -1;
	errno = 0;
	d = strtod(v, &end);
	if (errno || *end || !isfinite(d))
		return -1;
	*value_r = d;
	return 0;
}

/* attr_cursor_init - start at the first attribute */
void attr_cursor_init(struct attr_cursor *c, const struct attr_list *al)
{
	c->al = al;
	c->pos = 0;
}

/* attr_cursor_find - scan forward for name */
const char *attr_cursor_find(struct attr_cursor *c, const char *name)
{
	for (size_t i = c->pos; i < c->al->count; i++) {
		if (strcmp(c->al->items[i].name, name) == 0) {
			c->pos = i + 1;
			return c->al->items[i].value;
		}
	}
	return NULL;
}

/* attr_cursor_expect - next attribute must be name */
const char *attr_cursor_expect(struct attr_cursor *c, const char *name)
{
	if (c->pos >= c->al->count || strcmp(c->al->items[c->pos].name, name) != 0)
		return NULL;
	return c->al->items[c->pos++].value;
}
