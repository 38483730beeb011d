/*
 * timefmt - typed parameter values: time, size, integer, boolean.
 *
 * Contract: see timefmt.h.  These are the only functions that turn
 * configuration text into numbers, so that main.cf, master.cf -o and
 * "sluice config NAME=VALUE" agree on what is valid.
 *
 * Postfix takes a single unit letter after a time value (conv_time()); so do
 * we.  Compound values such as "1h30m" are rejected rather than half-read.
 *
 * DIAGNOSTICS: none; callers word the message ("bad time value ...").
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "global/timefmt.h"
#include "util/strutil.h"

/* parse_digits - unsigned decimal prefix; returns the end or NULL */
static const char *parse_digits(const char *s, long *value_r)
{
	long v = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (LONG_MAX - (*s - '0')) / 10)
			return NULL;
		v = v * 10 + (*s - '0');
	}
	*value_r = v;
	return s;
}

/* timefmt_unit_seconds - size of a time unit */
long timefmt_unit_seconds(char unit)
{
	switch (unit) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	case 'w':
		return 7 * 86400;
	default:
		return 0;
	}
}

/* timefmt_parse_time - number with one optional unit letter */
int timefmt_parse_time(const char *value, char default_unit, long *seconds_r)
{
	const char *end;
	long n, mult;

	if ((end = parse_digits(value, &n)) == NULL)
		return -1;
	if (*end == 0)
		mult = timefmt_unit_seconds(default_unit);
	else if (end[1] == 0)
		mult = timefmt_unit_seconds(*end);
	else
		return -1;
	if (mult == 0 || n > LONG_MAX / mult)
		return -1;
	*seconds_r = n * mult;
	return 0;
}

/* timefmt_parse_size - bytes with an optional k/m/g suffix */
int timefmt_parse_size(const char *value, long *bytes_r)
{
	const char *end;
	long n, mult;

	if ((end = parse_digits(value, &n)) == NULL)
		return -1;
	switch (*end) {
	case 0:
		mult = 1;
		break;
	case 'k':
	case 'K':
		mult = 1024L;
		break;
	case 'm':
	case 'M':
		mult = 1024L * 1024;
		break;
	case 'g':
	case 'G':
		mult = 1024L * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*end && end[1] != 0)
		return -1;
	if (n > LONG_MAX / mult)
		return -1;
	*bytes_r = n * mult;
	return 0;
}

/* timefmt_parse_long - strict signed decimal */
int timefmt_parse_long(const char *value, long *value_r)
{
	const char *digits = value;

	/* strtol would accept leading white space and "+"; we do not. */
	if (*digits == '-')
		digits++;
	if (!str_is_digits(digits))
		return -1;
	return str_to_long(value, LONG_MIN, LONG_MAX, value_r);
}

/* timefmt_parse_bool - Postfix booleans (plus true/false) */
int timefmt_parse_bool(const char *value, bool *value_r)
{
	if (str_casecmp_ascii(value, "yes") == 0 || str_casecmp_ascii(value, "true") == 0) {
		*value_r = true;
		return 0;
	}
	if (str_casecmp_ascii(value, "no") == 0 || str_casecmp_ascii(value, "false") == 0) {
		*value_r = false;
		return 0;
	}
	return -1;
}
