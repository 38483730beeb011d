/*
 * maps - lists of lookup tables (contract in maps.h).
 *
 * A table is a struct map with an operations vector (struct map_ops): the
 * types here are texthash: and inline:, both loaded into a hash table of
 * lower-cased keys when opened, so look-ups never touch the disk.  A new
 * type (lmdb:) adds a row to map_types[] and three functions.
 *
 * Opening is all or nothing: a table that cannot be read or parsed fails the
 * whole list with a message naming the table (and, for files, the line), so
 * a broken transport_maps can never silently route mail elsewhere.
 *
 * DIAGNOSTICS: errors are returned; a duplicate key is a warning (the first
 * entry wins, as with Postfix's texthash).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/conf_line.h"
#include "global/maps.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

struct map;

/* One table type. */
struct map_ops {
	const char *type;
	/* open - load the table named arg; 0, or -1 with *error_r. */
	int (*open)(struct map *m, const char *arg, const char **error_r);
	/* find - value for a lower-cased key, or NULL; borrowed. */
	const char *(*find)(struct map *m, const char *key);
	/* close - release what open made. */
	void (*close)(struct map *m);
};

struct map {
	const struct map_ops *ops;
	char *spec;		/* "type:name" as written */
	void *ctx;		/* the type's state */
};

struct maps {
	char *spec_list;
	struct map *v;
	size_t n;
};

static char err_buf[1024];

/* fail - format an error text */
static int fail(const char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
	va_end(ap);
	*error_r = err_buf;
	return -1;
}

/* mem_find - look-up in an in-memory table */
static const char *mem_find(struct map *m, const char *key)
{
	return htable_find(m->ctx, key);
}

/* mem_close - free an in-memory table */
static void mem_close(struct map *m)
{
	struct htable *t = m->ctx;

	htable_free(&t, free);
	m->ctx = NULL;
}

/* mem_add - enter key (lower-cased) unless present; false for a duplicate */
static bool mem_add(struct htable *t, const char *key, const char *value)
{
	char *k = str_lower(xstrdup(key));
	bool added = htable_find(t, k) == NULL;

	if (added)
		htable_enter(t, k, xstrdup(value));
	free(k);
	return added;
}

/* texthash_open - "key value" file into memory */
static int texthash_open(struct map *m, const char *path, const char **error_r)
{
	struct conf_line_reader r;
	struct htable *t;
	struct buf *line;
	char *text, *cp;
	size_t klen;
	int lineno, rc, status = 0;

	if (*path != '/')
		return fail(error_r, "%s: the table must be an absolute path name", m->spec);
	if (conf_file_read(path, &text) < 0)
		return fail(error_r, "open %s: %s", path, strerror(errno));
	t = htable_create(64);
	line = buf_create(128);
	conf_line_init(&r, text);
	while ((rc = conf_line_next(&r, line, &lineno)) != 0) {
		if (rc < 0) {
			status = fail(error_r, "%s:%d: line starts with white space, but there "
				      "is no entry to continue", path, lineno);
			break;
		}
		cp = buf_str(line);
		klen = strcspn(cp, " \t");
		if (cp[klen] == 0) {
			status = fail(error_r, "%s:%d: expected format: key whitespace value",
				      path, lineno);
			break;
		}
		cp[klen] = 0;
		if (!mem_add(t, cp, cp + klen + 1 + strspn(cp + klen + 1, " \t")))
			msg_warn("%s:%d: duplicate entry \"%s\" ignored; the first one is used",
				 path, lineno, cp);
	}
	buf_free(&line);
	free(text);
	if (status < 0) {
		htable_free(&t, free);
		return -1;
	}
	m->ctx = t;
	return 0;
}

/*
 * add_pair - one inline "key=value" (trimmed around '='); *last_key_r is the
 * lower-cased key, or NULL when the entry was a duplicate and ignored.
 */
static int add_pair(struct map *m, struct htable *t, const char *item, char **last_key_r,
		    const char **error_r)
{
	const char *eq = strchr(item, '=');
	char *key_copy, *value_copy, *key;
	int rc = 0;

	free(*last_key_r);
	*last_key_r = NULL;
	if (eq == NULL)
		return fail(error_r, "%s: missing '=' in \"%s\"; need \"inline:{name=value, ...}\"",
			    m->spec, item);
	key_copy = xstrndup(item, (size_t)(eq - item));
	value_copy = xstrdup(eq + 1);
	key = str_trim(key_copy);
	if (*key == 0)
		rc = fail(error_r, "%s: missing name before '=' in \"%s\"", m->spec, item);
	else if (mem_add(t, key, str_trim(value_copy)))
		*last_key_r = str_lower(xstrdup(key));
	else
		msg_warn("%s: duplicate entry \"%s\" ignored; the first one is used", m->spec, key);
	free(key_copy);
	free(value_copy);
	return rc;
}

/* inline_open - parse inline:{ ... } */
static int inline_open(struct map *m, const char *arg, const char **error_r)
{
	size_t len = strlen(arg);
	struct htable *t;
	char *body, *cp, *item, *last_key = NULL;
	bool continuable = false;	/* a bare word may continue the last value */
	int rc = 0;

	if (len < 2 || arg[0] != '{' || arg[len - 1] != '}')
		return fail(error_r, "%s: need \"inline:{name=value, ...}\"", m->spec);
	body = xstrndup(arg + 1, len - 2);
	t = htable_create(16);
	for (cp = body; rc == 0;) {
		bool comma = false;

		for (; *cp == ',' || *cp == ' ' || *cp == '\t'; cp++)
			comma |= *cp == ',';
		if (*cp == 0)
			break;
		if (*cp == '{') {
			/* { name = value, with commas } */
			char *end;
			int depth = 0;

			for (end = cp; *end; end++) {
				if (*end == '{')
					depth++;
				else if (*end == '}' && --depth == 0)
					break;
			}
			if (*end == 0) {
				rc = fail(error_r, "%s: missing '}'", m->spec);
				break;
			}
			item = xstrndup(cp + 1, (size_t)(end - cp - 1));
			cp = end + 1;
			rc = add_pair(m, t, item, &last_key, error_r);
			continuable = true;
		} else {
			size_t n = strcspn(cp, ", \t");

			item = xstrndup(cp, n);
			cp += n;
			if (strchr(item, '=') == NULL && !comma && continuable) {
				/* Extension: a bare word continues the previous value. */
				if (last_key != NULL) {
					char *old = htable_delete(t, last_key);

					htable_enter(t, last_key, xasprintf("%s %s", old, item));
					free(old);
				}
			} else {
				rc = add_pair(m, t, item, &last_key, error_r);
				continuable = true;
			}
		}
		free(item);
	}
	free(last_key);
	free(body);
	if (rc < 0) {
		htable_free(&t, free);
		return -1;
	}
	m->ctx = t;
	return 0;
}

static const struct map_ops map_types[] = {
	{.type = "texthash", .open = texthash_open, .find = mem_find, .close = mem_close},
	{.type = "inline", .open = inline_open, .find = mem_find, .close = mem_close},
};

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

/* maps_open - open a list of tables */
struct maps *maps_open(const char *spec_list, const char **error_r)
{
	struct maps *maps = xcalloc(1, sizeof(*maps));
	const char *cp = spec_list;
	char *spec, *colon;
	size_t cap = 0;

	maps->spec_list = xstrdup(spec_list);
	while ((spec = next_spec(&cp)) != NULL) {
		const struct map_ops *ops = NULL;
		struct map *m;

		if ((colon = strchr(spec, ':')) == NULL) {
			fail(error_r, "%s: missing table type (use texthash:/path or "
			     "inline:{name=value, ...})", spec);
			free(spec);
			goto bad;
		}
		*colon = 0;
		for (size_t i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
			if (strcmp(map_types[i].type, spec) == 0)
				ops = &map_types[i];
		*colon = ':';
		if (ops == NULL) {
			fail(error_r, "%s: unsupported lookup table type \"%.*s\" (sluice has "
			     "texthash and inline)", spec, (int)(colon - spec), spec);
			free(spec);
			goto bad;
		}
		if (maps->n == cap) {
			cap = cap ? 2 * cap : 4;
			maps->v = xreallocarray(maps->v, cap, sizeof(*maps->v));
		}
		m = &maps->v[maps->n];
		m->ops = ops;
		m->spec = spec;
		m->ctx = NULL;
		if (ops->open(m, colon + 1, error_r) < 0) {
			free(spec);
			goto bad;
		}
		maps->n++;
	}
	return maps;

bad:
	maps_free(&maps);
	return NULL;
}

/* maps_find - first table that has key */
const char *maps_find(struct maps *maps, const char *key)
{
	char *lower = str_lower(xstrdup(key));
	const char *value = NULL;

	for (size_t i = 0; value == NULL && i < maps->n; i++)
		value = maps->v[i].ops->find(&maps->v[i], lower);
	free(lower);
	return value;
}

/* maps_spec - the list as opened */
const char *maps_spec(const struct maps *maps)
{
	return maps->spec_list;
}

/* maps_free - close all */
void maps_free(struct maps **mapsp)
{
	struct maps *maps = *mapsp;

	if (maps == NULL)
		return;
	for (size_t i = 0; i < maps->n; i++) {
		maps->v[i].ops->close(&maps->v[i]);
		free(maps->v[i].spec);
	}
	free(maps->v);
	free(maps->spec_list);
	free(maps);
	*mapsp = NULL;
}
