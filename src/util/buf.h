/*
 * buf - growable byte string (Postfix VSTRING in spirit).
 *
 * The data is always NUL-terminated (a safety net; binary data may contain
 * NULs too, len is authoritative).  Growth is overflow-checked.  A struct buf
 * may live on the stack (buf_init/buf_deinit) or on the heap
 * (buf_create/buf_free).
 */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;	/* NUL-terminated storage */
	size_t len;	/* bytes in use, excluding the NUL */
	size_t cap;	/* bytes allocated, including room for the NUL */
};

/* buf_create - new empty buffer. Caller frees with buf_free(). */
struct buf *buf_create(size_t initial);
/* buf_free - release *bp and set it to NULL; NULL is fine. */
void buf_free(struct buf **bp);
/* buf_init/buf_deinit - for a struct buf embedded elsewhere. */
void buf_init(struct buf *b, size_t initial);
void buf_deinit(struct buf *b);

/* buf_reserve - make room for n more bytes. */
void buf_reserve(struct buf *b, size_t n);
/* buf_reset - empty the buffer, keep the storage. */
void buf_reset(struct buf *b);
/* buf_truncate - shorten to len (no-op when already shorter). */
void buf_truncate(struct buf *b, size_t len);
/* buf_append - append n bytes. */
void buf_append(struct buf *b, const void *p, size_t n);
/* buf_puts - append a string. */
void buf_puts(struct buf *b, const char *s);
/* buf_putc - append one byte. */
void buf_putc(struct buf *b, int c);
/* buf_printf - append formatted text. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* buf_set - replace the contents with a string. */
void buf_set(struct buf *b, const char *s);
/* buf_consume - drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* buf_steal - take the storage; the buffer is left empty. Caller frees with free(). */
char *buf_steal(struct buf *b);

#define buf_str(b) ((b)->data)
#define buf_len(b) ((b)->len)

#endif
