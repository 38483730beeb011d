/*
 * timefmt - parse the typed values of configuration parameters.
 *
 * Syntax is Postfix's (postconf(5)):
 *   time     a decimal number with at most one unit letter: s (seconds),
 *            m (minutes), h (hours), d (days), w (weeks).  A bare number is
 *            in the parameter's default unit (usually s).  "5m" = 300.
 *   size     a decimal number of bytes.  sluice also takes one k/m/g suffix
 *            (binary multiples, either case); Postfix rejects those.
 *   integer  a decimal number, optionally signed.
 *   boolean  yes/no/true/false, any case.
 *
 * All parsers are strict: no white space, no junk after the value, no
 * overflow.  They return 0 and the value, or -1 and leave *value_r alone.
 */
#ifndef SLUICE_TIMEFMT_H
#define SLUICE_TIMEFMT_H

#include <stdbool.h>

/*
 * timefmt_parse_time - "300s", "5m", "4h", "5d", "1w", or a bare number in
 * default_unit (one of s m h d w).  Result in seconds; negative values are
 * rejected.
 */
int timefmt_parse_time(const char *value, char default_unit, long *seconds_r);

/* timefmt_parse_size - bytes: "10240000", "10m" (sluice extension). */
int timefmt_parse_size(const char *value, long *bytes_r);

/* timefmt_parse_long - whole-string decimal integer. */
int timefmt_parse_long(const char *value, long *value_r);

/* timefmt_parse_bool - yes/no/true/false, case-insensitive. */
int timefmt_parse_bool(const char *value, bool *value_r);

/* timefmt_unit_seconds - seconds in one unit letter (s m h d w), 0 if bad. */
long timefmt_unit_seconds(char unit);

#endif
