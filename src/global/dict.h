/*
 * dict - one lookup table ("type:name"), whatever its type, behind one
 * interface (Postfix's dict(3) in spirit).  maps.h builds lists of these;
 * the map tools (sluice map, sluice aliases) use them one at a time.
 *
 * Types (docs/TABLES.md has the full story):
 *   hash:FILE, btree:FILE   Berkeley DB FILE.db, as Postfix's postmap makes
 *   lmdb:FILE               LMDB FILE.lmdb (one file, no lock file)
 *   cdb:FILE                tinycdb FILE.cdb (read-only once made)
 *   texthash:FILE           Postfix's text format, read into memory
 *   regexp:FILE, pcre:FILE  pattern tables (regexp_table(5), pcre_table(5))
 *   inline:{k=v, ...}       entries in the spec itself
 *   static:VALUE            every key answers VALUE
 *   unionmap:{t1, t2 ...}   every table's answer, joined with commas
 *   pipemap:{t1, t2 ...}    each answer is the key of the next table
 *   unix:passwd.byname      the system's accounts (also unix:group.byname)
 * "proxy:type:name" is read as "type:name" (there is no proxymap).
 *
 * Look-ups are tri-state: found, not found, or an error (a file that cannot
 * be read).  An error is never "not found": the caller defers.
 *
 * Keys: the indexed types, texthash, inline and static fold keys to lower
 * case (as postmap does when it builds, unless -f); pattern tables see the
 * key as given (their patterns are case-insensitive by default).
 *
 * Values: borrowed, valid until the next call on the same dict or its
 * close.
 */
#ifndef SLUICE_DICT_H
#define SLUICE_DICT_H

#include <stdbool.h>

#define DICT_FOUND	1
#define DICT_NOTFOUND	0
#define DICT_ERROR	(-1)

/* Open modes. */
#define DICT_READ	0	/* look-ups and sequencing */
#define DICT_WRITE	1	/* in-place updates of an existing indexed file */
#define DICT_CREATE	2	/* a new file at exactly the given path (builds) */

/* Flags for dict_open(). */
#define DICT_FLAG_NOFOLD	(1 << 0)	/* keep key case (postmap -f) */
#define DICT_FLAG_NUL		(1 << 1)	/* write keys/values with a NUL (-N) */
#define DICT_FLAG_NO_NUL	(1 << 2)	/* write them without (-n) */

/* Properties, from dict_props(). */
#define DICT_PROP_PATTERN	(1 << 0)	/* regexp/pcre: full keys only */
#define DICT_PROP_INDEXED	(1 << 1)	/* built from a text file (.db ...) */
#define DICT_PROP_FOLD		(1 << 2)	/* keys are lower-cased */

struct dict;

/*
 * dict_open - open one table.  For the indexed types name is the text
 * file's path and the table is name + suffix (DICT_READ, DICT_WRITE); with
 * DICT_CREATE name is the exact path of a new file.  Returns the table
 * (caller frees with dict_close()), or NULL with *error_r naming the table
 * and what was wrong, e.g. "/etc/x:7: expected format: key whitespace value"
 * (borrowed until the next dict call).
 */
struct dict *dict_open(const char *spec, int mode, int flags, const char **error_r);

/*
 * dict_get - look key up.  DICT_FOUND with *value_r (borrowed, see above),
 * DICT_NOTFOUND, or DICT_ERROR with *error_r.
 */
int dict_get(struct dict *d, const char *key, const char **value_r, const char **error_r);

/*
 * dict_put - add key (DICT_WRITE, DICT_CREATE).  DICT_FOUND when added,
 * DICT_NOTFOUND when the key was already there (the old value stays, as
 * with postmap: the caller warns), DICT_ERROR with *error_r.
 */
int dict_put(struct dict *d, const char *key, const char *value, const char **error_r);

/* dict_del - remove key (DICT_WRITE): DICT_FOUND, DICT_NOTFOUND, DICT_ERROR. */
int dict_del(struct dict *d, const char *key, const char **error_r);

/*
 * dict_seq - walk the table: first true for the first entry.  DICT_FOUND
 * with key and value (borrowed until the next call), DICT_NOTFOUND at the
 * end, DICT_ERROR (also for types that cannot be walked).
 */
int dict_seq(struct dict *d, bool first, const char **key_r, const char **value_r,
	     const char **error_r);

/*
 * dict_commit - finish a DICT_CREATE or DICT_WRITE table (flush, sync):
 * 0, or -1 with *error_r.  dict_close() without it discards a CREATE.
 */
int dict_commit(struct dict *d, const char **error_r);

/* dict_close - close and clear *dp; NULL is fine. */
void dict_close(struct dict **dp);

/* dict_spec - "type:name" as opened. Borrowed. */
const char *dict_spec(const struct dict *d);

/* dict_props - DICT_PROP_* of the table's type. */
int dict_props(const struct dict *d);

/*
 * dict_type_suffix - the file suffix of an indexed type (".db", ".lmdb",
 * ".cdb"), "" for a type that reads its file directly, NULL for an
 * unknown type.  type is the part before the colon.
 */
const char *dict_type_suffix(const char *type);

/* dict_file_changed - has the table's file been replaced or changed since
 * it was opened (or removed)?  false for tables without a file, and when
 * the file cannot be looked at (no permission: the open table stays). */
bool dict_file_changed(const struct dict *d);

#endif
