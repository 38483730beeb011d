/*
 * mem - allocation that never returns NULL (see mem.h).
 *
 * DIAGNOSTICS: out of memory and size overflow are fatal; there is nothing a
 * mail daemon can usefully do half-allocated, and master restarts it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/mem.h"

/* xmalloc - allocate or die */
void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		msg_fatal("out of memory allocating %zu bytes", n);
	return p;
}

/* xcalloc - allocate zeroed array or die */
void *xcalloc(size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		msg_fatal("xcalloc: size overflow (%zu * %zu)", nmemb, size);
	/* A zero-sized request gets one byte, not nmemb bytes. */
	p = (nmemb == 0 || size == 0) ? calloc(1, 1) : calloc(nmemb, size);
	if (p == NULL)
		msg_fatal("out of memory allocating %zu * %zu bytes", nmemb, size);
	return p;
}

/* xrealloc - resize or die */
void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		msg_fatal("out of memory reallocating %zu bytes", n);
	return q;
}

/* xreallocarray - resize array, overflow-checked */
void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		msg_fatal("xreallocarray: size overflow (%zu * %zu)", nmemb, size);
	return xrealloc(p, nmemb * size);
}

/* xstrdup - copy string */
char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

/* xstrndup - copy at most n bytes */
char *xstrndup(const char *s, size_t n)
{
	return xmemdup(s, strnlen(s, n));
}

/* xmemdup - copy bytes, add NUL */
char *xmemdup(const void *p, size_t n)
{
	char *q;

	if (n == SIZE_MAX)
		msg_fatal("xmemdup: size overflow");
	q = xmalloc(n + 1);
	memcpy(q, p, n);
	q[n] = 0;
	return q;
}

/* xasprintf - format into new memory */
char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		msg_fatal("out of memory in xasprintf");
	va_end(ap);
	return s;
}
