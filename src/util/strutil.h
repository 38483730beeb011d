/*
 * strutil - small string helpers shared by the parsers.
 */
#ifndef SLUICE_STRUTIL_H
#define SLUICE_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* str_token - next token of *sp delimited by any of delims; NULL at the end.
 * Modifies the string in place (Postfix mystrtok). */
char *str_token(char **sp, const char *delims);
/* str_trim - strip leading and trailing white space in place; returns start. */
char *str_trim(char *s);
/* str_lower - lower-case ASCII letters in place; returns s. */
char *str_lower(char *s);
/* str_has_prefix - s starts with prefix. */
bool str_has_prefix(const char *s, const char *prefix);
/* str_has_suffix - s ends with suffix. */
bool str_has_suffix(const char *s, const char *suffix);
/* str_is_digits - non-empty and all ASCII digits. */
bool str_is_digits(const char *s);
/* str_to_long - whole-string decimal in [min,max]; 0 ok, -1 bad. */
int str_to_long(const char *s, long min, long max, long *value_r);
/* str_casecmp_ascii - locale-free strcasecmp. */
int str_casecmp_ascii(const char *a, const char *b);
/* str_list_match - is word in a list separated by comma/space (case-insensitive)? */
bool str_list_match(const char *list, const char *word);

#endif
