/*
 * maps - lists of lookup tables named by a parameter value (transport_maps,
 * alias_maps...).
 *
 * A spec list is a comma/space separated list of "type:name" tables (see
 * dict.h for the types, docs/TABLES.md for the whole story), searched in
 * order; the first table that has the key answers.  Tables in files must be
 * named by absolute paths (daemons run in the queue directory).
 *
 * Look-ups are tri-state: a table that cannot be read is an error, never
 * "not found", so that a daemon defers ("4.3.0 lookup table not
 * available") instead of routing or delivering as if the entry were absent.
 */
#ifndef SLUICE_MAPS_H
#define SLUICE_MAPS_H

#include <stdbool.h>

#include "global/dict.h"

struct argv;

struct maps;

/* maps_lookup() results: the dict.h values. */
#define MAPS_FOUND	DICT_FOUND
#define MAPS_NOTFOUND	DICT_NOTFOUND
#define MAPS_ERROR	DICT_ERROR

/* maps_lookup() flags. */
#define MAPS_FLAG_PARTIAL	(1 << 0)	/* a derived key ("@domain", "user"):
						 * pattern tables are not asked */

/*
 * maps_open - open every table of spec_list ("" gives an empty list whose
 * look-ups all fail).  Returns the list (caller frees with maps_free()), or
 * NULL with *error_r, e.g. "/etc/sluice/transport:7: expected format: key
 * whitespace value" (borrowed until the next call).
 */
struct maps *maps_open(const char *spec_list, const char **error_r);

/*
 * maps_lookup - the value for key in the first table that has it:
 * MAPS_FOUND with *value_r (borrowed; valid until the next look-up in these
 * maps or maps_free()), MAPS_NOTFOUND, or MAPS_ERROR with *error_r naming
 * the table (a table that fails stops the search: a later table must not
 * answer in its place).
 */
int maps_lookup(struct maps *maps, const char *key, int flags, const char **value_r,
		const char **error_r);

/*
 * maps_find - maps_lookup() for callers that cannot defer: the value or
 * NULL; an error is logged as a warning and reads as NULL.  New code
 * should use maps_lookup().
 */
const char *maps_find(struct maps *maps, const char *key);

/* maps_spec - the spec list the maps were opened with. Borrowed. */
const char *maps_spec(const struct maps *maps);

/* maps_changed - has a table file changed since the maps were opened?
 * (A long-running daemon reopens its maps then, as Postfix's restart.) */
bool maps_changed(const struct maps *maps);

/*
 * maps_any_changed - the spec ("hash:/etc/aliases") of the first table, of
 * all maps this process has open, whose file changed since it was opened;
 * NULL when none did.  A daemon that keeps tables asks after each job and
 * exits when one changed, so that master starts it again with the new
 * table (Postfix's "table ... has changed -- restarting").
 */
const char *maps_any_changed(void);

/*
 * maps_split - the "type:name" specs of a spec list, in order, as maps_open()
 * reads them (commas and white space separate; "inline:{ a=b, c }" is one
 * spec).  Caller frees with argv_free().  For callers that treat some
 * tables of a list apart (alias_maps: each table's owner;
 * local_recipient_maps: unix:passwd.byname).
 */
struct argv *maps_split(const char *spec_list);

/* maps_free - close every table and clear *mapsp; NULL is fine. */
void maps_free(struct maps **mapsp);

#endif
