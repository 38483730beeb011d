/*
 * strutil - small string helpers (see strutil.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/strutil.h"

/* str_token - destructive tokenizer */
char *str_token(char **sp, const char *delims)
{
	char *start = *sp + strspn(*sp, delims);
	char *end;

	if (*start == 0) {
		*sp = start;
		return NULL;
	}
	end = start + strcspn(start, delims);
	if (*end)
		*end++ = 0;
	*sp = end;
	return start;
}

/* str_trim - strip white space */
char *str_trim(char *s)
{
	char *end;

	while (*s && isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	return s;
}

/* str_lower - ASCII lower-case */
char *str_lower(char *s)
{
	for (char *cp = s; *cp; cp++)
		if (*cp >= 'A' && *cp <= 'Z')
			*cp = (char)(*cp + 'a' - 'A');
	return s;
}

/* str_has_prefix - prefix test */
bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* str_has_suffix - suffix test */
bool str_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* str_is_digits - all digits */
bool str_is_digits(const char *s)
{
	if (*s == 0)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* str_to_long - strict decimal conversion with bounds */
int str_to_long(const char *s, long min, long max, long *value_r)
{
	char *end;
	long v;

	if (*s == 0 || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != 0 || v < min || v > max)
		return -1;
	*value_r = v;
	return 0;
}

/* str_casecmp_ascii - compare ignoring ASCII case */
int str_casecmp_ascii(const char *a, const char *b)
{
	int ca, cb;

	do {
		ca = (unsigned char)*a++;
		cb = (unsigned char)*b++;
		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
	} while (ca == cb && ca != 0);
	return ca - cb;
}

/* str_list_match - membership in a comma/space list */
bool str_list_match(const char *list, const char *word)
{
	size_t wl = strlen(word), n;

	while (*list) {
		list += strspn(list, ", \t\r\n");
		n = strcspn(list, ", \t\r\n");
		if (n == wl && n > 0 && strncasecmp(list, word, n) == 0)
			return true;
		list += n;
	}
	return false;
}
