/*
 * mem - allocation that never returns NULL.
 *
 * Every allocator here either succeeds or ends the process with msg_fatal()
 * (Postfix mymalloc, OpenSMTPD xmalloc).  Sizes are overflow-checked before
 * they reach malloc.  Memory from these functions is released with free();
 * objects with their own lifecycle have a *_free(&p) function instead.
 */
#ifndef SLUICE_MEM_H
#define SLUICE_MEM_H

#include <stddef.h>

/* xmalloc - allocate n bytes (n may be 0). Caller frees with free(). */
void *xmalloc(size_t n);
/* xcalloc - allocate a zeroed array of nmemb * size bytes, overflow-checked. */
void *xcalloc(size_t nmemb, size_t size);
/* xrealloc - resize p to n bytes. */
void *xrealloc(void *p, size_t n);
/* xreallocarray - resize p to nmemb * size bytes, overflow-checked. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/* xstrdup - copy a string. Caller frees with free(). */
char *xstrdup(const char *s);
/* xstrndup - copy at most n bytes of s and terminate. */
char *xstrndup(const char *s, size_t n);
/* xmemdup - copy n bytes and add a terminating NUL. */
char *xmemdup(const void *p, size_t n);
/* xasprintf - format into a new string. Caller frees with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* XFREE - free *pp and clear it; accepts a pointer to NULL. */
#define XFREE(p) do { free(p); (p) = NULL; } while (0)

#endif
