/*
 * dict_build - make an indexed table from its text source, as postmap(1)
 * and postalias(1) do, but atomically: the new FILE.db (.lmdb, .cdb) is
 * written under a temporary name in the same folder, synced, and renamed
 * over the old one, so a reader sees the old table or the new one, never a
 * half-built one, and a source with an error leaves the old table alone.
 *
 * Source format: "key whitespace value" lines (postmap) or aliases(5)
 * entries (DICT_BUILD_ALIASES), in the logical lines of table_text.h.  A
 * line that does not parse fails the build with file:line (Postfix warns
 * and leaves the entry out).  A duplicate key is a warning and the first
 * entry wins, as in Postfix.  An aliases build ends with the "@" -> "@"
 * entry that postalias writes (sendmail's sign that the build completed).
 */
#ifndef SLUICE_DICT_BUILD_H
#define SLUICE_DICT_BUILD_H

#include <stdbool.h>

struct dict;
struct table_text;

#define DICT_BUILD_ALIASES	(1 << 0)

/*
 * dict_load_text - put every entry of r into d (DICT_CREATE or DICT_WRITE);
 * the entry count in *count_r.  0, or -1 with *error_r.
 */
int dict_load_text(struct dict *d, struct table_text *r, int build_flags, long *count_r,
		   const char **error_r);

/*
 * dict_build - rebuild the table of spec ("hash:/etc/aliases") from the
 * text file its name gives; dict_flags as for dict_open (DICT_FLAG_NOFOLD,
 * DICT_FLAG_NUL, DICT_FLAG_NO_NUL).  For a type that reads its text
 * directly (texthash, regexp, pcre ...) this only checks that the table
 * opens.  0, or -1 with *error_r.
 */
int dict_build(const char *spec, int dict_flags, int build_flags, const char **error_r);

#endif
