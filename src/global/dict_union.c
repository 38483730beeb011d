/*
 * dict_union - tables made of tables, as Postfix's:
 *
 *   unionmap:{t1, t2, ...}   asks every table; the answers that were found
 *                            are joined with commas, in order; not found
 *                            when none answers
 *   pipemap:{t1, t2, ...}    t1's answer is the key for t2, and so on; not
 *                            found as soon as one table has no answer
 *
 * An error in any table is the whole look-up's error.  The inner tables
 * are opened read-only, with the same flags.
 */
#include <stdlib.h>
#include <string.h>

#include "global/dict_private.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"

struct multi {
	struct dict **v;
	size_t n;
	struct buf result;
};

/* multi_open - open every table in the braces */
static int multi_open(struct dict *d, const char **error_r)
{
	struct multi *m = xcalloc(1, sizeof(*m));
	struct argv *specs = dict_split_braces(d->spec, d->name, error_r);

	d->ctx = m;
	buf_init(&m->result, 64);
	if (specs == NULL)
		return -1;
	m->v = xcalloc(specs->argc, sizeof(*m->v));
	for (size_t i = 0; i < specs->argc; i++) {
		if ((m->v[i] = dict_open_inner(specs->argv[i], d->flags, error_r)) == NULL) {
			argv_free(&specs);
			return -1;
		}
		m->n++;
	}
	argv_free(&specs);
	return 0;
}

/* union_get - every answer, comma-joined */
static int union_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		     size_t *vlen_r, const char **error_r)
{
	struct multi *m = d->ctx;
	const char *v;
	bool found = false;
	int rc;

	buf_reset(&m->result);
	for (size_t i = 0; i < m->n; i++) {
		if ((rc = dict_get(m->v[i], key, &v, error_r)) == DICT_ERROR)
			return DICT_ERROR;
		if (rc == DICT_FOUND) {
			if (found)
				buf_putc(&m->result, ',');
			buf_puts(&m->result, v);
			found = true;
		}
	}
	if (!found)
		return DICT_NOTFOUND;
	*value_r = buf_str(&m->result);
	*vlen_r = m->result.len;
	return DICT_FOUND;
}

/* pipe_get - each answer is the next key */
static int pipe_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		    size_t *vlen_r, const char **error_r)
{
	struct multi *m = d->ctx;
	const char *v;
	int rc;

	buf_set(&m->result, key);
	for (size_t i = 0; i < m->n; i++) {
		/* The key is copied: v belongs to m->v[i] and the buffer is reused. */
		char *k = xstrdup(buf_str(&m->result));

		rc = dict_get(m->v[i], k, &v, error_r);
		free(k);
		if (rc != DICT_FOUND)
			return rc;
		buf_set(&m->result, v);
	}
	*value_r = buf_str(&m->result);
	*vlen_r = m->result.len;
	return DICT_FOUND;
}

/* multi_close - close the inner tables */
static void multi_close(struct dict *d)
{
	struct multi *m = d->ctx;

	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		dict_close(&m->v[i]);
	free(m->v);
	buf_deinit(&m->result);
	free(m);
	d->ctx = NULL;
}

const struct dict_ops dict_unionmap_ops = {
	.type = "unionmap", .props = 0, .open = multi_open, .get = union_get,
	.close = multi_close,
};
const struct dict_ops dict_pipemap_ops = {
	.type = "pipemap", .props = 0, .open = multi_open, .get = pipe_get,
	.close = multi_close,
};
