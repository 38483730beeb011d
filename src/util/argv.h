/*
 * argv - growable, NULL-terminated string arrays.
 */
#ifndef SLUICE_ARGV_H
#define SLUICE_ARGV_H

#include <stddef.h>

struct argv {
	char **argv;	/* NULL-terminated */
	size_t argc;
	size_t cap;
};

/* argv_create - empty array. Caller frees with argv_free(). */
struct argv *argv_create(void);
/* argv_free - free the array, its strings, and clear *ap. */
void argv_free(struct argv **ap);
/* argv_add - append copies of strings; the list ends with NULL. */
void argv_add(struct argv *a, ...) __attribute__((sentinel));
/* argv_addn - append a copy of n bytes. */
void argv_addn(struct argv *a, const char *s, size_t n);
/* argv_split - split s at any of delims (empty fields dropped). Caller frees. */
struct argv *argv_split(const char *s, const char *delims);
/* argv_find - index of s (exact), or -1. */
long argv_find(const struct argv *a, const char *s);

#endif
