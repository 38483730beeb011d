/*
 * dict_lmdb - lmdb: tables in one LMDB file (FILE.lmdb), as Postfix writes
 * them: the unnamed database, MDB_NOSUBDIR, and no lock file (MDB_NOLOCK;
 * dict.c's flock(2) does the locking, as Postfix's does).
 *
 * Reading maps the file: memory does not grow with the table.  One read
 * transaction is kept and renewed for each look-up (cheap), so a reader
 * sees an in-place update from the next look-up on.
 *
 * Writing: puts go into a transaction committed every WRITE_BATCH entries;
 * when the map is full, the transaction is aborted, the map grown (doubled)
 * and the batch, which is kept in memory, replayed.  So a build needs no
 * size estimate and never holds more than one batch in memory.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/dict_private.h"
#include "util/buf.h"
#include "util/mem.h"

#define LMDB_INITIAL_MAP	(16UL * 1024 * 1024)	/* Postfix's lmdb_map_size */
#define WRITE_BATCH		10000

struct lmdb_op {
	char *key, *value;	/* value NULL: delete */
	size_t klen, vlen;
};

struct lmdb_ctx {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;		/* reading: reset between look-ups; writing: the batch */
	MDB_cursor *cursor;	/* dict_seq */
	size_t map_size;
	struct lmdb_op *batch;	/* writing: the puts of txn, for a replay */
	size_t batch_len;
};

/* lmdb_error - error text */
static int lmdb_error(struct dict *d, const char *what, int rc, const char **error_r)
{
	return dict_fail(error_r, "%s %s: %s", what, d->path, mdb_strerror(rc));
}

/* lmdb_open - open or create the file */
static int lmdb_open(struct dict *d, const char **error_r)
{
	struct lmdb_ctx *c = xcalloc(1, sizeof(*c));
	unsigned int flags = MDB_NOSUBDIR | MDB_NOLOCK;
	MDB_envinfo info;
	MDB_txn *txn;
	int rc;

	d->ctx = c;
	if ((rc = mdb_env_create(&c->env)) != 0)
		return lmdb_error(d, "open", rc, error_r);
	c->map_size = LMDB_INITIAL_MAP;
	mdb_env_set_mapsize(c->env, c->map_size);
	if (d->mode == DICT_READ)
		flags |= MDB_RDONLY;
	else
		flags |= MDB_NOSYNC;	/* one sync at commit */
	if ((rc = mdb_env_open(c->env, d->path, flags, 0644)) != 0)
		return rc == ENOENT ? dict_fail(error_r, "open %s: %s", d->path, strerror(rc))
			: lmdb_error(d, "open", rc, error_r);
	/* A file made with a larger map keeps its size. */
	if (mdb_env_info(c->env, &info) == 0 && info.me_mapsize > c->map_size)
		c->map_size = info.me_mapsize;
	if ((rc = mdb_txn_begin(c->env, NULL, d->mode == DICT_READ ? MDB_RDONLY : 0, &txn)) != 0)
		return lmdb_error(d, "open", rc, error_r);
	if ((rc = mdb_dbi_open(txn, NULL, 0, &c->dbi)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_error(d, "open", rc, error_r);
	}
	if (d->mode == DICT_READ) {
		mdb_txn_reset(txn);
		c->txn = txn;
	} else if ((rc = mdb_txn_commit(txn)) != 0) {
		return lmdb_error(d, "open", rc, error_r);
	}
	return 0;
}

/* lmdb_get - one key, in a renewed read transaction */
static int lmdb_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		    size_t *vlen_r, const char **error_r)
{
	struct lmdb_ctx *c = d->ctx;
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
	int rc;

	if (d->mode == DICT_READ) {
		if ((rc = mdb_txn_renew(c->txn)) != 0)
			return lmdb_error(d, "read", rc, error_r);
		rc = mdb_get(c->txn, c->dbi, &k, &v);
		if (rc == 0) {
			/* The value stays mapped after the reset; dict.c copies it now. */
			*value_r = v.mv_data;
			*vlen_r = v.mv_size;
		}
		mdb_txn_reset(c->txn);
	} else {
		MDB_txn *txn = c->txn;

		if (txn == NULL && (rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
			return lmdb_error(d, "read", rc, error_r);
		rc = mdb_get(txn, c->dbi, &k, &v);
		if (rc == 0) {
			*value_r = v.mv_data;
			*vlen_r = v.mv_size;
		}
		if (txn != c->txn)
			mdb_txn_abort(txn);
	}
	if (rc == MDB_NOTFOUND)
		return DICT_NOTFOUND;
	if (rc != 0)
		return lmdb_error(d, "read", rc, error_r);
	return DICT_FOUND;
}

/* batch_clear - forget the kept operations */
static void batch_clear(struct lmdb_ctx *c)
{
	for (size_t i = 0; i < c->batch_len; i++) {
		free(c->batch[i].key);
		free(c->batch[i].value);
	}
	c->batch_len = 0;
}

/* apply - one operation in c->txn: DICT_FOUND, DICT_NOTFOUND, or an MDB code < 0 */
static int apply(struct lmdb_ctx *c, const struct lmdb_op *op, int *mdb_rc)
{
	MDB_val k = {.mv_size = op->klen, .mv_data = op->key};
	MDB_val v = {.mv_size = op->vlen, .mv_data = op->value};
	int rc = op->value ? mdb_put(c->txn, c->dbi, &k, &v, MDB_NOOVERWRITE)
		: mdb_del(c->txn, c->dbi, &k, NULL);

	*mdb_rc = rc;
	if (rc == 0)
		return DICT_FOUND;
	if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
		return DICT_NOTFOUND;
	return DICT_ERROR;
}

/* replay - the map was full: abort, double the map, apply the batch again */
static int replay(struct dict *d, const char **error_r)
{
	struct lmdb_ctx *c = d->ctx;
	bool full;
	int rc, mrc;

	do {
		if (c->txn)
			mdb_txn_abort(c->txn);
		c->txn = NULL;
		c->map_size *= 2;
		if ((rc = mdb_env_set_mapsize(c->env, c->map_size)) != 0)
			return lmdb_error(d, "grow", rc, error_r);
		if ((rc = mdb_txn_begin(c->env, NULL, 0, &c->txn)) != 0)
			return lmdb_error(d, "write", rc, error_r);
		full = false;
		for (size_t i = 0; i < c->batch_len && !full; i++) {
			if (apply(c, &c->batch[i], &mrc) == DICT_ERROR) {
				if (mrc != MDB_MAP_FULL)
					return lmdb_error(d, "write", mrc, error_r);
				full = true;
			}
		}
	} while (full);
	return 0;
}

/* flush - commit the batch */
static int flush(struct dict *d, const char **error_r)
{
	struct lmdb_ctx *c = d->ctx;
	int rc;

	if (c->txn == NULL)
		return 0;
	while ((rc = mdb_txn_commit(c->txn)) == MDB_MAP_FULL) {
		/* The commit freed the transaction: replay into a bigger map. */
		c->txn = NULL;
		if (replay(d, error_r) < 0)
			return -1;
	}
	c->txn = NULL;
	batch_clear(c);
	if (rc != 0)
		return lmdb_error(d, "write", rc, error_r);
	return 0;
}

/* update - one put or delete, batched */
static int update(struct dict *d, const char *key, size_t klen, const char *value, size_t vlen,
		  const char **error_r)
{
	struct lmdb_ctx *c = d->ctx;
	struct lmdb_op *op;
	int rc, mrc;

	if (c->txn == NULL && (rc = mdb_txn_begin(c->env, NULL, 0, &c->txn)) != 0)
		return lmdb_error(d, "write", rc, error_r);
	if (c->batch == NULL)
		c->batch = xcalloc(WRITE_BATCH, sizeof(*c->batch));
	op = &c->batch[c->batch_len];
	op->key = xmemdup(key, klen);
	op->klen = klen;
	op->value = value ? xmemdup(value, vlen) : NULL;
	op->vlen = vlen;
	while ((rc = apply(c, op, &mrc)) == DICT_ERROR && mrc == MDB_MAP_FULL)
		if (replay(d, error_r) < 0)
			break;
	if (rc == DICT_FOUND) {
		c->batch_len++;
	} else {
		free(op->key);
		free(op->value);
		op->key = op->value = NULL;
	}
	if (rc == DICT_ERROR)
		return mrc == MDB_MAP_FULL ? DICT_ERROR : lmdb_error(d, "write", mrc, error_r);
	if (c->batch_len == WRITE_BATCH && flush(d, error_r) < 0)
		return DICT_ERROR;
	return rc;
}

/* lmdb_put, lmdb_del - updates */
static int lmdb_put(struct dict *d, const char *key, size_t klen, const char *value,
		    size_t vlen, const char **error_r)
{
	return update(d, key, klen, value, vlen, error_r);
}

static int lmdb_del(struct dict *d, const char *key, size_t klen, const char **error_r)
{
	return update(d, key, klen, NULL, 0, error_r);
}

/* lmdb_seq - walk with a cursor in one read transaction */
static int lmdb_seq(struct dict *d, bool first, const char **key_r, size_t *klen_r,
		    const char **value_r, size_t *vlen_r, const char **error_r)
{
	struct lmdb_ctx *c = d->ctx;
	MDB_val k, v;
	int rc;

	if (first) {
		if (c->cursor) {
			mdb_cursor_close(c->cursor);
			c->cursor = NULL;
		}
		if (d->mode == DICT_READ) {
			if ((rc = mdb_txn_renew(c->txn)) != 0)
				return lmdb_error(d, "read", rc, error_r);
		} else if (flush(d, error_r) < 0
			   || (rc = mdb_txn_begin(c->env, NULL, 0, &c->txn)) != 0) {
			return DICT_ERROR;
		}
		if ((rc = mdb_cursor_open(c->txn, c->dbi, &c->cursor)) != 0)
			return lmdb_error(d, "read", rc, error_r);
	}
	if (c->cursor == NULL)
		return DICT_NOTFOUND;
	rc = mdb_cursor_get(c->cursor, &k, &v, first ? MDB_FIRST : MDB_NEXT);
	if (rc == MDB_NOTFOUND) {
		mdb_cursor_close(c->cursor);
		c->cursor = NULL;
		if (d->mode == DICT_READ)
			mdb_txn_reset(c->txn);
		return DICT_NOTFOUND;
	}
	if (rc != 0)
		return lmdb_error(d, "read", rc, error_r);
	*key_r = k.mv_data;
	*klen_r = k.mv_size;
	*value_r = v.mv_data;
	*vlen_r = v.mv_size;
	return DICT_FOUND;
}

/* lmdb_commit - last batch, then one sync */
static int lmdb_commit(struct dict *d, const char **error_r)
{
	struct lmdb_ctx *c = d->ctx;
	int rc;

	if (c->cursor) {
		mdb_cursor_close(c->cursor);
		c->cursor = NULL;
	}
	if (flush(d, error_r) < 0)
		return -1;
	if ((rc = mdb_env_sync(c->env, 1)) != 0)
		return lmdb_error(d, "sync", rc, error_r);
	return 0;
}

/* lmdb_close - release (an uncommitted batch is lost) */
static void lmdb_close(struct dict *d)
{
	struct lmdb_ctx *c = d->ctx;

	if (c == NULL)
		return;
	if (c->cursor)
		mdb_cursor_close(c->cursor);
	if (c->txn)
		mdb_txn_abort(c->txn);
	batch_clear(c);
	free(c->batch);
	if (c->env)
		mdb_env_close(c->env);
	free(c);
	d->ctx = NULL;
}

const struct dict_ops dict_lmdb_ops = {
	.type = "lmdb", .props = DICT_PROP_INDEXED | DICT_PROP_FOLD, .suffix = ".lmdb",
	.default_nul = DICT_NUL_WITH, .open = lmdb_open, .get = lmdb_get, .put = lmdb_put,
	.del = lmdb_del, .seq = lmdb_seq, .commit = lmdb_commit, .close = lmdb_close,
};
