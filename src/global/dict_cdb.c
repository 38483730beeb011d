/*
 * dict_cdb - cdb: tables (FILE.cdb) through tinycdb, the format Postfix's
 * postmap writes for cdb: (keys and values without a trailing NUL).
 *
 * A cdb file is constant: it is made in one go (DICT_CREATE, then
 * dict_commit) and read through a memory map; in-place updates ("map -i",
 * "map -d") are refused, as Postfix refuses them.  While building, the keys
 * seen so far are kept in memory to find duplicates (tinycdb's own check
 * walks a list per hash bucket: quadratic on big tables).
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/dict_private.h"
#include "util/htable.h"
#include "util/mem.h"

struct cdb_ctx {
	int fd;
	struct cdb cdb;		/* reading */
	bool have_cdb;
	unsigned seq_pos;
	struct cdb_make make;	/* building */
	struct htable *seen;	/* building: keys so far */
	bool finished;
};

/* cdb_open_file - open for reading, or create */
static int cdb_open_file(struct dict *d, const char **error_r)
{
	struct cdb_ctx *c = xcalloc(1, sizeof(*c));

	d->ctx = c;
	c->fd = -1;
	if (d->mode == DICT_WRITE)
		return dict_fail(error_r, "%s: a cdb table cannot be updated in place; "
				 "change the source and rebuild it", d->spec);
	if (d->mode == DICT_CREATE) {
		if ((c->fd = open(d->path, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0)
			return dict_fail(error_r, "create %s: %s", d->path, strerror(errno));
		if (cdb_make_start(&c->make, c->fd) < 0)
			return dict_fail(error_r, "create %s: %s", d->path, strerror(errno));
		c->seen = htable_create(1024);
		return 0;
	}
	if ((c->fd = open(d->path, O_RDONLY)) < 0)
		return dict_fail(error_r, "open %s: %s", d->path, strerror(errno));
	if (cdb_init(&c->cdb, c->fd) < 0)
		return dict_fail(error_r, "open %s: not a cdb file (%s)", d->path,
				 strerror(errno ? errno : EPROTO));
	c->have_cdb = true;
	return 0;
}

/* cdb_get_key - one key */
static int cdb_get_key(struct dict *d, const char *key, size_t klen, const char **value_r,
		       size_t *vlen_r, const char **error_r)
{
	struct cdb_ctx *c = d->ctx;
	int rc;

	if (!c->have_cdb)
		return dict_fail(error_r, "%s: a cdb table being built cannot be read", d->spec);
	if ((rc = cdb_find(&c->cdb, key, (unsigned)klen)) < 0)
		return dict_fail(error_r, "read %s: damaged cdb file", d->path);
	if (rc == 0)
		return DICT_NOTFOUND;
	*vlen_r = cdb_datalen(&c->cdb);
	*value_r = cdb_get(&c->cdb, cdb_datalen(&c->cdb), cdb_datapos(&c->cdb));
	if (*value_r == NULL)
		return dict_fail(error_r, "read %s: damaged cdb file", d->path);
	return DICT_FOUND;
}

/* cdb_put_key - add unless seen */
static int cdb_put_key(struct dict *d, const char *key, size_t klen, const char *value,
		       size_t vlen, const char **error_r)
{
	struct cdb_ctx *c = d->ctx;
	char *k = xmemdup(key, klen);	/* klen excludes any NUL here: cdb has none */

	if (htable_find(c->seen, k) != NULL) {
		free(k);
		return DICT_NOTFOUND;
	}
	htable_enter(c->seen, k, c);
	free(k);
	if (cdb_make_add(&c->make, key, (unsigned)klen, value, (unsigned)vlen) < 0)
		return dict_fail(error_r, "write %s: %s", d->path, strerror(errno));
	return DICT_FOUND;
}

/* cdb_seq_key - walk the records in file order */
static int cdb_seq_key(struct dict *d, bool first, const char **key_r, size_t *klen_r,
		       const char **value_r, size_t *vlen_r, const char **error_r)
{
	struct cdb_ctx *c = d->ctx;
	int rc;

	if (!c->have_cdb)
		return dict_fail(error_r, "%s: a cdb table being built cannot be read", d->spec);
	if (first)
		cdb_seqinit(&c->seq_pos, &c->cdb);
	if ((rc = cdb_seqnext(&c->seq_pos, &c->cdb)) < 0)
		return dict_fail(error_r, "read %s: damaged cdb file", d->path);
	if (rc == 0)
		return DICT_NOTFOUND;
	*klen_r = cdb_keylen(&c->cdb);
	*key_r = cdb_get(&c->cdb, cdb_keylen(&c->cdb), cdb_keypos(&c->cdb));
	*vlen_r = cdb_datalen(&c->cdb);
	*value_r = cdb_get(&c->cdb, cdb_datalen(&c->cdb), cdb_datapos(&c->cdb));
	if (*key_r == NULL || *value_r == NULL)
		return dict_fail(error_r, "read %s: damaged cdb file", d->path);
	return DICT_FOUND;
}

/* cdb_commit_file - write the index and sync */
static int cdb_commit_file(struct dict *d, const char **error_r)
{
	struct cdb_ctx *c = d->ctx;

	if (d->mode != DICT_CREATE || c->finished)
		return 0;
	c->finished = true;
	if (cdb_make_finish(&c->make) < 0 || fsync(c->fd) < 0)
		return dict_fail(error_r, "write %s: %s", d->path, strerror(errno));
	return 0;
}

/* cdb_close_file - release */
static void cdb_close_file(struct dict *d)
{
	struct cdb_ctx *c = d->ctx;

	if (c == NULL)
		return;
	if (c->have_cdb)
		cdb_free(&c->cdb);
	/* An abandoned build: finishing frees tinycdb's lists (the file goes). */
	if (d->mode == DICT_CREATE && !c->finished && c->seen != NULL)
		(void)cdb_make_finish(&c->make);
	htable_free(&c->seen, NULL);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	d->ctx = NULL;
}

const struct dict_ops dict_cdb_ops = {
	.type = "cdb", .props = DICT_PROP_INDEXED | DICT_PROP_FOLD, .suffix = ".cdb",
	.default_nul = DICT_NUL_WITHOUT, .open = cdb_open_file, .get = cdb_get_key,
	.put = cdb_put_key, .seq = cdb_seq_key, .commit = cdb_commit_file,
	.close = cdb_close_file,
};
