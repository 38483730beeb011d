/*
 * dict_mem - the tables that live in memory: texthash:, inline:, static:.
 *
 * texthash:/path   Postfix's text format read at open (table_text.h): "key
 *                  value" lines, comments, continuation lines.  A line
 *                  without a value fails the open with file and line (Postfix
 *                  warns and skips it: a lost entry is worse than a refusal).
 *                  A duplicate key is a warning; the first entry wins, as in
 *                  Postfix.
 * inline:{ a=b, { key = value with, commas }, ... }
 *                  entries separated by commas or white space; braces around
 *                  an entry allow spaces and commas in it.  sluice extension:
 *                  a word without '=' after a white-space separator continues
 *                  the previous value, so "inline:{ b=error:5.1.1 no such
 *                  user }" works (Postfix requires braces there).
 * static:VALUE     every key answers VALUE; static:{a value} allows spaces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/dict_private.h"
#include "global/table_text.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

/* An in-memory table and its walking position. */
struct mem_table {
	struct htable *t;
	struct htable_info **list;	/* dict_seq's snapshot */
	size_t count, next;
};

/* mem_attach - make t the table of d */
static void mem_attach(struct dict *d, struct htable *t)
{
	struct mem_table *m = xcalloc(1, sizeof(*m));

	m->t = t;
	d->ctx = m;
}

/* mem_get - look-up in an in-memory table */
static int mem_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		   size_t *vlen_r, const char **error_r)
{
	struct mem_table *m = d->ctx;
	const char *v = htable_find(m->t, key);

	if (v == NULL)
		return DICT_NOTFOUND;
	*value_r = v;
	*vlen_r = strlen(v);
	return DICT_FOUND;
}

/* mem_seq - walk an in-memory table (order: as the hash table keeps it) */
static int mem_seq(struct dict *d, bool first, const char **key_r, size_t *klen_r,
		   const char **value_r, size_t *vlen_r, const char **error_r)
{
	struct mem_table *m = d->ctx;

	if (first) {
		free(m->list);
		m->list = htable_list(m->t, &m->count);
		m->next = 0;
	}
	if (m->list == NULL || m->next >= m->count)
		return DICT_NOTFOUND;
	*key_r = m->list[m->next]->key;
	*klen_r = strlen(*key_r);
	*value_r = m->list[m->next]->value;
	*vlen_r = strlen(*value_r);
	m->next++;
	return DICT_FOUND;
}

/* mem_close - free an in-memory table */
static void mem_close(struct dict *d)
{
	struct mem_table *m = d->ctx;

	if (m == NULL)
		return;
	htable_free(&m->t, free);
	free(m->list);
	free(m);
	d->ctx = NULL;
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
static int texthash_open(struct dict *d, const char **error_r)
{
	struct table_text r;
	struct htable *t;
	struct buf line;
	char *key, *value;
	int lineno, rc, status = 0;

	if (table_text_open(&r, d->name, error_r) < 0)
		return -1;
	d->path = xstrdup(d->name);
	dict_remember_file(d, fileno(r.fp));
	t = htable_create(64);
	buf_init(&line, 128);
	while ((rc = table_text_next(&r, &line, &lineno, error_r)) != 0) {
		if (rc < 0) {
			status = -1;
			break;
		}
		if (table_text_kv(buf_str(&line), &key, &value) < 0) {
			status = dict_fail(error_r, "%s:%d: expected format: key whitespace value",
					   d->name, lineno);
			break;
		}
		if (!mem_add(t, key, value))
			msg_warn("%s:%d: duplicate entry \"%s\" ignored; the first one is used",
				 d->name, lineno, key);
	}
	buf_deinit(&line);
	table_text_close(&r);
	if (status < 0) {
		htable_free(&t, free);
		return -1;
	}
	mem_attach(d, t);
	return 0;
}

/*
 * add_pair - one inline "key=value" (trimmed around '='); *last_key_r is the
 * lower-cased key, or NULL when the entry was a duplicate and ignored.
 */
static int add_pair(struct dict *d, struct htable *t, const char *item, char **last_key_r,
		    const char **error_r)
{
	const char *eq = strchr(item, '=');
	char *key_copy, *value_copy, *key;
	int rc = 0;

	free(*last_key_r);
	*last_key_r = NULL;
	if (eq == NULL)
		return dict_fail(error_r, "%s: missing '=' in \"%s\"; need "
				 "\"inline:{name=value, ...}\"", d->spec, item);
	key_copy = xstrndup(item, (size_t)(eq - item));
	value_copy = xstrdup(eq + 1);
	key = str_trim(key_copy);
	if (*key == 0)
		rc = dict_fail(error_r, "%s: missing name before '=' in \"%s\"", d->spec, item);
	else if (mem_add(t, key, str_trim(value_copy)))
		*last_key_r = str_lower(xstrdup(key));
	else
		msg_warn("%s: duplicate entry \"%s\" ignored; the first one is used", d->spec, key);
	free(key_copy);
	free(value_copy);
	return rc;
}

/* inline_open - parse inline:{ ... } */
static int inline_open(struct dict *d, const char **error_r)
{
	const char *arg = d->name;
	size_t len = strlen(arg);
	struct htable *t;
	char *body, *cp, *item, *last_key = NULL;
	bool continuable = false;	/* a bare word may continue the last value */
	int rc = 0;

	if (len < 2 || arg[0] != '{' || arg[len - 1] != '}')
		return dict_fail(error_r, "%s: need \"inline:{name=value, ...}\"", d->spec);
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
				rc = dict_fail(error_r, "%s: missing '}'", d->spec);
				break;
			}
			item = xstrndup(cp + 1, (size_t)(end - cp - 1));
			cp = end + 1;
			rc = add_pair(d, t, item, &last_key, error_r);
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
				rc = add_pair(d, t, item, &last_key, error_r);
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
	mem_attach(d, t);
	return 0;
}

/* static_open - the one value */
static int static_open(struct dict *d, const char **error_r)
{
	size_t len = strlen(d->name);

	if (len >= 2 && d->name[0] == '{' && d->name[len - 1] == '}') {
		char *v = xstrndup(d->name + 1, len - 2);

		d->ctx = xstrdup(str_trim(v));
		free(v);
	} else {
		d->ctx = xstrdup(d->name);
	}
	return 0;
}

/* static_get - always the value */
static int static_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		      size_t *vlen_r, const char **error_r)
{
	*value_r = d->ctx;
	*vlen_r = strlen(d->ctx);
	return DICT_FOUND;
}

/* static_close - free the value */
static void static_close(struct dict *d)
{
	free(d->ctx);
	d->ctx = NULL;
}

const struct dict_ops dict_texthash_ops = {
	.type = "texthash", .props = DICT_PROP_FOLD, .open = texthash_open,
	.get = mem_get, .seq = mem_seq, .close = mem_close,
};
const struct dict_ops dict_inline_ops = {
	.type = "inline", .props = DICT_PROP_FOLD, .open = inline_open,
	.get = mem_get, .seq = mem_seq, .close = mem_close,
};
const struct dict_ops dict_static_ops = {
	.type = "static", .props = 0, .open = static_open,
	.get = static_get, .close = static_close,
};
