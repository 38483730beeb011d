/*
 * split_addr - address extension boundaries (see split_addr.h).
 *
 * Pure string work, no diagnostics.  Mailing-list conventions are kept
 * whole when '-' is a delimiter: "owner-list" and "list-request" are the
 * names of their own aliases, not "owner" and "list" with an extension.
 */
#include <string.h>
#include <strings.h>

#include "global/split_addr.h"
#include "util/strutil.h"

/* split_addr_ext - where the extension starts */
size_t split_addr_ext(const char *localpart, const char *delimiters)
{
	size_t len = strlen(localpart), n;

	if (delimiters == NULL || *delimiters == 0)
		return len;
	if (strchr(delimiters, '-') != NULL) {
		if (strncasecmp(localpart, "owner-", 6) == 0)
			return len;
		if (len > 8 && str_casecmp_ascii(localpart + len - 8, "-request") == 0)
			return len;
	}
	n = strcspn(localpart, delimiters);
	return n == 0 ? len : n;
}
