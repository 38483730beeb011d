/*
 * maps - lookup tables named by a parameter value (transport_maps,
 * alias_maps...).
 *
 * A spec list is a comma/space separated list of "type:name" tables, searched
 * in order; the first table that has the key answers.  Keys compare
 * case-insensitively.  Table types:
 *
 *   texthash:/path   Postfix's text format, read into memory at open:
 *                    "key value" lines (key up to the first white space),
 *                    '#' comment lines, continuation lines that start with
 *                    white space.  Errors name the file and line.
 *   inline:{ a=b, { key = value with, commas }, ... }
 *                    entries separated by commas or white space; braces
 *                    around an entry allow spaces and commas in it.  sluice
 *                    extension: a word without '=' after a white-space
 *                    separator continues the previous value, so
 *                    "inline:{ b=error:5.1.1 no such user }" works (Postfix
 *                    requires braces there).
 *
 * Each type sits behind a small interface (open, find, close) so that
 * others, such as lmdb:, can be added.
 */
#ifndef SLUICE_MAPS_H
#define SLUICE_MAPS_H

struct maps;

/*
 * maps_open - open every table of spec_list ("" gives an empty list whose
 * look-ups all fail).  Returns the list (caller frees with maps_free()), or
 * NULL with *error_r, e.g. "/etc/sluice/transport:7: expected format: key
 * whitespace value" (borrowed until the next call).
 */
struct maps *maps_open(const char *spec_list, const char **error_r);

/*
 * maps_find - the value for key in the first table that has it, or NULL.
 * Borrowed; valid until maps_free().
 */
const char *maps_find(struct maps *maps, const char *key);

/* maps_spec - the spec list the maps were opened with. Borrowed. */
const char *maps_spec(const struct maps *maps);

/* maps_free - close every table and clear *mapsp; NULL is fine. */
void maps_free(struct maps **mapsp);

#endif
