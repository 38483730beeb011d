/*
 * addr_map - address look-ups with Postfix's query order (see addr_map.h).
 *
 * DIAGNOSTICS: none of its own; a table error is returned with the maps'
 * text for the caller to log and defer on.
 */
#include <stdlib.h>
#include <string.h>

#include "global/addr.h"
#include "global/addr_map.h"
#include "global/params.h"
#include "global/split_addr.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

/* in_list - is word (case-insensitive) an item of the list value? */
static bool in_list(const char *list, const char *word)
{
	struct argv *a;
	bool found = false;

	if (list == NULL || *list == 0)
		return false;
	a = argv_split(list, ", \t\r\n");
	for (size_t i = 0; i < a->argc && !found; i++)
		found = str_casecmp_ascii(a->argv[i], word) == 0;
	argv_free(&a);
	return found;
}

/* addr_map_local_domain - the domains that bare user keys are asked for */
bool addr_map_local_domain(const char *domain)
{
	if (*domain == 0)
		return true;
	if (var_myorigin && str_casecmp_ascii(var_myorigin, domain) == 0)
		return true;
	return in_list(var_mydestination, domain);
}

/* addr_map_propagates - propagate_unmatched_extensions membership */
bool addr_map_propagates(const char *class_name)
{
	return in_list(var_propagate_unmatched_extensions, class_name);
}

/* add_extension - each address of list with ext before its '@' (or at the end) */
static char *add_extension(const char *list, const char *ext)
{
	struct argv *a = argv_split(list, ", \t\r\n");
	struct buf b;
	char *at, *res;

	buf_init(&b, strlen(list) + 16);
	for (size_t i = 0; i < a->argc; i++) {
		if (i > 0)
			buf_puts(&b, ", ");
		if ((at = strrchr(a->argv[i], '@')) != NULL && at != a->argv[i]) {
			buf_append(&b, a->argv[i], (size_t)(at - a->argv[i]));
			buf_puts(&b, ext);
			buf_puts(&b, at);
		} else if (at == NULL) {
			buf_puts(&b, a->argv[i]);
			buf_puts(&b, ext);
		} else {
			buf_puts(&b, a->argv[i]);	/* "@domain": nothing to extend */
		}
	}
	argv_free(&a);
	res = buf_steal(&b);
	buf_deinit(&b);
	return res;
}

/* addr_map_lookup - the query order */
int addr_map_lookup(struct maps *maps, const char *addr, int flags, char **result_r,
		    const char **error_r)
{
	char *key_addr, *at, *user, *domain, *ext = NULL, *key, *res;
	const char *value = NULL;
	size_t base;
	int rc = MAPS_NOTFOUND;
	bool ext_matched = true;

	if (maps == NULL)
		return MAPS_NOTFOUND;
	key_addr = str_lower(xstrdup(addr));
	if ((at = strrchr(key_addr, '@')) != NULL) {
		user = xstrndup(key_addr, (size_t)(at - key_addr));
		domain = xstrdup(at + 1);
	} else {
		user = xstrdup(key_addr);
		domain = xstrdup("");
	}
	base = split_addr_ext(user, var_recipient_delimiter ? var_recipient_delimiter : "");
	if (user[base] != 0) {
		ext = xstrdup(user + base);
		user[base] = 0;		/* user is the base now */
	}

	/* 1. The full address, pattern tables included. */
	rc = maps_lookup(maps, key_addr, 0, &value, error_r);
	/* 2. Without the extension. */
	if (rc == MAPS_NOTFOUND && ext && *domain) {
		key = xasprintf("%s@%s", user, domain);
		rc = maps_lookup(maps, key, MAPS_FLAG_PARTIAL, &value, error_r);
		ext_matched = false;
		free(key);
	}
	/* 3, 4. The local part alone, for a local domain. */
	if (rc == MAPS_NOTFOUND && addr_map_local_domain(domain)) {
		if (ext && *domain) {
			key = xasprintf("%s%s", user, ext);
			rc = maps_lookup(maps, key, MAPS_FLAG_PARTIAL, &value, error_r);
			ext_matched = true;
			free(key);
		}
		if (rc == MAPS_NOTFOUND && (ext || *domain)) {
			rc = maps_lookup(maps, user, MAPS_FLAG_PARTIAL, &value, error_r);
			ext_matched = ext == NULL;
		}
	}
	/* 5. The domain. */
	if (rc == MAPS_NOTFOUND && *domain) {
		key = xasprintf("@%s", domain);
		rc = maps_lookup(maps, key, MAPS_FLAG_PARTIAL, &value, error_r);
		ext_matched = ext == NULL;
		free(key);
	}

	if (rc == MAPS_FOUND) {
		const char *orig_at = strrchr(addr, '@');
		size_t ulen = orig_at ? (size_t)(orig_at - addr) : strlen(addr);

		/* "@otherdomain": the original local part (case kept), no extension. */
		if (*value == '@') {
			if (ext && !ext_matched)
				ulen -= strlen(ext);
			/* The value is in external form: quote the local part as needed. */
			char *internal = xasprintf("%.*s%s", (int)ulen, addr, value);

			res = addr_quote(internal);
			free(internal);
		} else {
			res = xstrdup(value);
		}
		if ((flags & ADDR_MAP_PROPAGATE) && ext && !ext_matched) {
			char *with = add_extension(res, ext);

			free(res);
			res = with;
		}
		*result_r = res;
	}
	free(key_addr);
	free(user);
	free(domain);
	free(ext);
	return rc;
}
