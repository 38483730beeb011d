/*
 * argv - growable, NULL-terminated string arrays (see argv.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/argv.h"
#include "util/mem.h"

/* argv_create - new empty array */
struct argv *argv_create(void)
{
	struct argv *a = xmalloc(sizeof(*a));

	a->cap = 8;
	a->argc = 0;
	a->argv = xcalloc(a->cap, sizeof(char *));
	return a;
}

/* argv_free - release everything */
void argv_free(struct argv **ap)
{
	struct argv *a = *ap;

	if (a == NULL)
		return;
	for (size_t i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	free(a);
	*ap = NULL;
}

/* argv_push - take ownership of s */
static void argv_push(struct argv *a, char *s)
{
	if (a->argc + 1 >= a->cap) {
		a->cap *= 2;
		a->argv = xreallocarray(a->argv, a->cap, sizeof(char *));
	}
	a->argv[a->argc++] = s;
	a->argv[a->argc] = NULL;
}

/* argv_add - append copies */
void argv_add(struct argv *a, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL)
		argv_push(a, xstrdup(s));
	va_end(ap);
}

/* argv_addn - append a counted copy */
void argv_addn(struct argv *a, const char *s, size_t n)
{
	argv_push(a, xmemdup(s, n));
}

/* argv_split - split at delimiters */
struct argv *argv_split(const char *s, const char *delims)
{
	struct argv *a = argv_create();
	size_t n;

	while (*s) {
		s += strspn(s, delims);
		if (*s == 0)
			break;
		n = strcspn(s, delims);
		argv_addn(a, s, n);
		s += n;
	}
	return a;
}

/* argv_find - linear search */
long argv_find(const struct argv *a, const char *s)
{
	for (size_t i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], s) == 0)
			return (long)i;
	return -1;
}
