/*
 * addr_map - look an email address up in a list of tables the way
 * Postfix's canonical(5), virtual(5) and relocated(5) do; every consumer
 * of address tables (cleanup's rewriting, relocated_maps in resolve) asks
 * through here so that the query order is the same everywhere.
 *
 * For "user+ext@domain" (recipient_delimiter "+"), the keys, in order, the
 * first that a table has answering:
 *   1. user+ext@domain           (every table, pattern tables included)
 *   2. user@domain               (only when there is an extension)
 *   3. user+ext                  (only when the domain is local:
 *   4. user                         $myorigin, $mydestination, or none)
 *   5. @domain
 * Keys are lower-cased.  Keys 2..5 are derived ones, asked with
 * MAPS_FLAG_PARTIAL, so regexp/pcre tables see the full address only.
 *
 * The answer is the table's value, with two adjustments:
 *   - a result "@otherdomain" (a domain only) gets the local part of the
 *     address in front (without its extension);
 *   - with ADDR_MAP_PROPAGATE (propagate_unmatched_extensions names the
 *     table class), when the key that matched had no extension but the
 *     address did, the extension is put back into each address of the
 *     result: user+ext@domain -> "u2@x, u3" gives "u2+ext@x, u3+ext".
 */
#ifndef SLUICE_ADDR_MAP_H
#define SLUICE_ADDR_MAP_H

#include <stdbool.h>

#include "global/maps.h"

#define ADDR_MAP_PROPAGATE	(1 << 0)	/* copy an unmatched extension into the result */

/*
 * addr_map_lookup - MAPS_FOUND with *result_r (caller frees), MAPS_NOTFOUND,
 * or MAPS_ERROR with *error_r (borrowed, names the table).  maps NULL is an
 * empty list.
 */
int addr_map_lookup(struct maps *maps, const char *addr, int flags, char **result_r,
		    const char **error_r);

/* addr_map_local_domain - "" or a domain equal to $myorigin or listed in
 * $mydestination (the domains whose bare "user" keys are asked). */
bool addr_map_local_domain(const char *domain);

/* addr_map_propagates - does propagate_unmatched_extensions name class
 * ("canonical", "virtual", ...)? */
bool addr_map_propagates(const char *class_name);

#endif
