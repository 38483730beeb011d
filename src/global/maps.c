/*
 * maps - lists of lookup tables (contract in maps.h), over dict.h.
 *
 * Opening is all or nothing: a table that cannot be opened or parsed fails
 * the whole list with a message naming the table (and, for text files, the
 * line), so a broken transport_maps can never silently route mail
 * elsewhere.  Looking up stops at the first table that answers or fails.
 *
 * DIAGNOSTICS: errors are returned; maps_find() logs them as warnings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/maps.h"
#include "util/argv.h"
#include "util/log.h"
#include "util/mem.h"

struct maps {
	char *spec_list;
	struct dict **v;
	size_t n;
};

static char maps_err[2100];

/* Every open list of this process, for maps_any_changed(). */
static struct maps **open_maps;
static size_t open_count, open_cap;

/* register_maps - remember an open list */
static void register_maps(struct maps *maps)
{
	if (open_count == open_cap) {
		open_cap = open_cap ? 2 * open_cap : 8;
		open_maps = xreallocarray(open_maps, open_cap, sizeof(*open_maps));
	}
	open_maps[open_count++] = maps;
}

/* unregister_maps - forget a list being freed */
static void unregister_maps(const struct maps *maps)
{
	for (size_t i = 0; i < open_count; i++) {
		if (open_maps[i] == maps) {
			open_maps[i] = open_maps[--open_count];
			return;
		}
	}
}

/* next_spec - the next "type:name" of a list, braces respected; NULL at end */
static char *next_spec(const char **pp)
{
	const char *cp = *pp, *start;
	int depth = 0;

	cp += strspn(cp, ", \t\r\n");
	if (*cp == 0)
		return NULL;
	for (start = cp; *cp; cp++) {
		if (*cp == '{')
			depth++;
		else if (*cp == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(", \t\r\n", *cp))
			break;
	}
	*pp = cp;
	return xstrndup(start, (size_t)(cp - start));
}

/* maps_split - the specs of a list */
struct argv *maps_split(const char *spec_list)
{
	struct argv *out = argv_create();
	const char *cp = spec_list;
	char *spec;

	while ((spec = next_spec(&cp)) != NULL) {
		argv_add(out, spec, (char *)NULL);
		free(spec);
	}
	return out;
}

/* needs_absolute - a type whose name is a file */
static bool needs_absolute(const char *spec)
{
	const char *colon = strchr(spec, ':');
	static const char *const file_types[] = {"texthash", "regexp", "pcre"};
	char *type;
	const char *suffix;
	bool yes = false;

	if (colon == NULL || colon[1] == '/')
		return false;
	type = xstrndup(spec, (size_t)(colon - spec));
	suffix = dict_type_suffix(type);
	if (suffix != NULL && *suffix != 0)
		yes = true;
	for (size_t i = 0; i < sizeof(file_types) / sizeof(file_types[0]); i++)
		if (strcmp(type, file_types[i]) == 0)
			yes = true;
	free(type);
	return yes;
}

/* maps_open - open a list of tables */
struct maps *maps_open(const char *spec_list, const char **error_r)
{
	struct maps *maps = xcalloc(1, sizeof(*maps));
	const char *cp = spec_list;
	char *spec;
	size_t cap = 0;

	maps->spec_list = xstrdup(spec_list);
	while ((spec = next_spec(&cp)) != NULL) {
		struct dict *d;

		if (needs_absolute(spec)) {
			snprintf(maps_err, sizeof(maps_err), "%s: the table must be an absolute path "
				 "name", spec);
			*error_r = maps_err;
			free(spec);
			goto bad;
		}
		if ((d = dict_open(spec, DICT_READ, 0, error_r)) == NULL) {
			free(spec);
			goto bad;
		}
		free(spec);
		if (maps->n == cap) {
			cap = cap ? 2 * cap : 4;
			maps->v = xreallocarray(maps->v, cap, sizeof(*maps->v));
		}
		maps->v[maps->n++] = d;
	}
	register_maps(maps);
	return maps;

bad:
	maps_free(&maps);
	return NULL;
}

/* maps_lookup - tri-state search */
int maps_lookup(struct maps *maps, const char *key, int flags, const char **value_r,
		const char **error_r)
{
	int rc;

	for (size_t i = 0; i < maps->n; i++) {
		if ((flags & MAPS_FLAG_PARTIAL) && (dict_props(maps->v[i]) & DICT_PROP_PATTERN))
			continue;
		rc = dict_get(maps->v[i], key, value_r, error_r);
		if (rc == DICT_ERROR) {
			snprintf(maps_err, sizeof(maps_err), "%s: %s", dict_spec(maps->v[i]), *error_r);
			*error_r = maps_err;
		}
		if (rc != DICT_NOTFOUND)
			return rc;
	}
	return MAPS_NOTFOUND;
}

/* maps_find - look-up that reads an error as "not found", after a warning */
const char *maps_find(struct maps *maps, const char *key)
{
	const char *value, *error;

	switch (maps_lookup(maps, key, 0, &value, &error)) {
	case MAPS_FOUND:
		return value;
	case MAPS_ERROR:
		msg_warn("table lookup of \"%s\": %s", key, error);
		return NULL;
	default:
		return NULL;
	}
}

/* maps_spec - the list as opened */
const char *maps_spec(const struct maps *maps)
{
	return maps->spec_list;
}

/* maps_changed - any file changed */
bool maps_changed(const struct maps *maps)
{
	for (size_t i = 0; i < maps->n; i++)
		if (dict_file_changed(maps->v[i]))
			return true;
	return false;
}

/* maps_any_changed - the first table of this process that changed */
const char *maps_any_changed(void)
{
	for (size_t i = 0; i < open_count; i++)
		for (size_t j = 0; j < open_maps[i]->n; j++)
			if (dict_file_changed(open_maps[i]->v[j]))
				return dict_spec(open_maps[i]->v[j]);
	return NULL;
}

/* maps_free - close all */
void maps_free(struct maps **mapsp)
{
	struct maps *maps = *mapsp;

	if (maps == NULL)
		return;
	unregister_maps(maps);
	for (size_t i = 0; i < maps->n; i++)
		dict_close(&maps->v[i]);
	free(maps->v);
	free(maps->spec_list);
	free(maps);
	*mapsp = NULL;
}
