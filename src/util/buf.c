/*
 * buf - growable byte string (see buf.h).
 *
 * Contract: data[len] == 0 at all times; growth doubles and is checked for
 * size_t overflow before allocating (fatal, never a wrap-around).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* buf_init - set up an embedded buffer */
void buf_init(struct buf *b, size_t initial)
{
	b->cap = initial < 16 ? 16 : initial;
	b->data = xmalloc(b->cap);
	b->len = 0;
	b->data[0] = 0;
}

/* buf_deinit - release an embedded buffer */
void buf_deinit(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* buf_create - new heap buffer */
struct buf *buf_create(size_t initial)
{
	struct buf *b = xmalloc(sizeof(*b));

	buf_init(b, initial);
	return b;
}

/* buf_free - release heap buffer */
void buf_free(struct buf **bp)
{
	if (*bp == NULL)
		return;
	buf_deinit(*bp);
	free(*bp);
	*bp = NULL;
}

/* buf_reserve - room for n more bytes plus the NUL */
void buf_reserve(struct buf *b, size_t n)
{
	size_t need;

	if (n > SIZE_MAX - b->len - 1)
		msg_fatal("buf_reserve: size overflow");
	need = b->len + n + 1;
	if (need <= b->cap)
		return;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->data = xrealloc(b->data, b->cap);
}

/* buf_reset - empty */
void buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = 0;
}

/* buf_truncate - shorten */
void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}

/* buf_append - append bytes */
void buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

/* buf_puts - append string */
void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* buf_putc - append byte */
void buf_putc(struct buf *b, int c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = (char)c;
	b->data[b->len] = 0;
}

/* buf_vprintf - append formatted text */
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		msg_panic("buf_vprintf: bad format \"%s\"", fmt);
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

/* buf_printf - append formatted text */
void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* buf_set - replace contents */
void buf_set(struct buf *b, const char *s)
{
	buf_reset(b);
	buf_puts(b, s);
}

/* buf_consume - drop a prefix */
void buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		msg_panic("buf_consume: %zu > %zu", n, b->len);
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = 0;
}

/* buf_steal - hand the storage to the caller */
char *buf_steal(struct buf *b)
{
	char *p = b->data;

	buf_init(b, 16);
	return p;
}
