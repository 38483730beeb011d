/*
 * dict_db - hash: and btree: tables in Berkeley DB files (FILE.db), the
 * format Postfix's postmap and postalias write on Debian (libdb5.3).
 *
 * No DB environment, as Postfix: the file alone, opened read-only by the
 * daemons, with a bounded private cache, so memory does not grow with the
 * table.  Builds use a larger cache (faster creation of big tables).
 * Berkeley DB's own messages are caught and returned as the error text
 * instead of going to stderr.
 */
#include <db.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/dict_private.h"
#include "util/mem.h"

#define DB_READ_CACHE	(256 * 1024)
#define DB_BUILD_CACHE	(16 * 1024 * 1024)

struct db_ctx {
	DB *db;
	DBC *cursor;		/* dict_seq */
};

static char db_last_msg[512];

/* db_msg - keep Berkeley DB's message for the error text */
static void db_msg(const DB_ENV *env, const char *prefix, const char *msg)
{
	snprintf(db_last_msg, sizeof(db_last_msg), "%s", msg);
}

/* db_error - an error with Berkeley DB's own words when it gave some */
static int db_error(struct dict *d, const char *what, int rc, const char **error_r)
{
	if (db_last_msg[0]) {
		dict_fail(error_r, "%s %s: %s (%s)", what, d->path, db_strerror(rc), db_last_msg);
		db_last_msg[0] = 0;
		return DICT_ERROR;
	}
	return dict_fail(error_r, "%s %s: %s", what, d->path, db_strerror(rc));
}

/* db_open_type - open FILE.db as hash or btree */
static int db_open_type(struct dict *d, DBTYPE type, const char **error_r)
{
	struct db_ctx *c = xcalloc(1, sizeof(*c));
	u_int32_t flags;
	int rc;

	if ((rc = db_create(&c->db, NULL, 0)) != 0) {
		free(c);
		return dict_fail(error_r, "%s: db_create: %s", d->spec, db_strerror(rc));
	}
	c->db->set_errcall(c->db, db_msg);
	c->db->set_cachesize(c->db, 0, d->mode == DICT_READ ? DB_READ_CACHE : DB_BUILD_CACHE, 0);
	flags = d->mode == DICT_READ ? DB_RDONLY : d->mode == DICT_CREATE ? DB_CREATE | DB_EXCL : 0;
	db_last_msg[0] = 0;
	if ((rc = c->db->open(c->db, NULL, d->path, NULL, type, flags, 0644)) != 0) {
		if (rc == ENOENT)
			dict_fail(error_r, "open %s: %s", d->path, strerror(rc));
		else
			db_error(d, "open", rc, error_r);
		c->db->close(c->db, 0);
		free(c);
		return -1;
	}
	d->ctx = c;
	return 0;
}

/* hash_open, btree_open - by type */
static int hash_open(struct dict *d, const char **error_r)
{
	return db_open_type(d, DB_HASH, error_r);
}

static int btree_open(struct dict *d, const char **error_r)
{
	return db_open_type(d, DB_BTREE, error_r);
}

/* db_get - one key */
static int db_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		  size_t *vlen_r, const char **error_r)
{
	struct db_ctx *c = d->ctx;
	DBT k = {.data = (void *)key, .size = (u_int32_t)klen}, v = {0};
	int rc = c->db->get(c->db, NULL, &k, &v, 0);

	if (rc == DB_NOTFOUND)
		return DICT_NOTFOUND;
	if (rc != 0)
		return db_error(d, "read", rc, error_r);
	*value_r = v.data;
	*vlen_r = v.size;
	return DICT_FOUND;
}

/* db_put - add unless present */
static int db_put(struct dict *d, const char *key, size_t klen, const char *value, size_t vlen,
		  const char **error_r)
{
	struct db_ctx *c = d->ctx;
	DBT k = {.data = (void *)key, .size = (u_int32_t)klen};
	DBT v = {.data = (void *)value, .size = (u_int32_t)vlen};
	int rc = c->db->put(c->db, NULL, &k, &v, DB_NOOVERWRITE);

	if (rc == DB_KEYEXIST)
		return DICT_NOTFOUND;
	if (rc != 0)
		return db_error(d, "write", rc, error_r);
	return DICT_FOUND;
}

/* db_del - remove */
static int db_del(struct dict *d, const char *key, size_t klen, const char **error_r)
{
	struct db_ctx *c = d->ctx;
	DBT k = {.data = (void *)key, .size = (u_int32_t)klen};
	int rc = c->db->del(c->db, NULL, &k, 0);

	if (rc == DB_NOTFOUND)
		return DICT_NOTFOUND;
	if (rc != 0)
		return db_error(d, "delete from", rc, error_r);
	return DICT_FOUND;
}

/* db_seq - walk with a cursor */
static int db_seq(struct dict *d, bool first, const char **key_r, size_t *klen_r,
		  const char **value_r, size_t *vlen_r, const char **error_r)
{
	struct db_ctx *c = d->ctx;
	DBT k = {0}, v = {0};
	int rc;

	if (first && c->cursor) {
		c->cursor->close(c->cursor);
		c->cursor = NULL;
	}
	if (c->cursor == NULL && (rc = c->db->cursor(c->db, NULL, &c->cursor, 0)) != 0)
		return db_error(d, "read", rc, error_r);
	rc = c->cursor->get(c->cursor, &k, &v, first ? DB_FIRST : DB_NEXT);
	if (rc == DB_NOTFOUND)
		return DICT_NOTFOUND;
	if (rc != 0)
		return db_error(d, "read", rc, error_r);
	*key_r = k.data;
	*klen_r = k.size;
	*value_r = v.data;
	*vlen_r = v.size;
	return DICT_FOUND;
}

/* db_commit - flush to disk */
static int db_commit(struct dict *d, const char **error_r)
{
	struct db_ctx *c = d->ctx;
	int rc;

	if (c->cursor) {
		c->cursor->close(c->cursor);
		c->cursor = NULL;
	}
	if ((rc = c->db->sync(c->db, 0)) != 0)
		return db_error(d, "write", rc, error_r);
	return 0;
}

/* db_close - close the file */
static void db_close(struct dict *d)
{
	struct db_ctx *c = d->ctx;

	if (c == NULL)
		return;
	if (c->cursor)
		c->cursor->close(c->cursor);
	c->db->close(c->db, d->mode == DICT_READ ? DB_NOSYNC : 0);
	free(c);
	d->ctx = NULL;
}

const struct dict_ops dict_db_hash_ops = {
	.type = "hash", .props = DICT_PROP_INDEXED | DICT_PROP_FOLD, .suffix = ".db",
	.default_nul = DICT_NUL_WITH, .open = hash_open, .get = db_get, .put = db_put,
	.del = db_del, .seq = db_seq, .commit = db_commit, .close = db_close,
};
const struct dict_ops dict_db_btree_ops = {
	.type = "btree", .props = DICT_PROP_INDEXED | DICT_PROP_FOLD, .suffix = ".db",
	.default_nul = DICT_NUL_WITH, .open = btree_open, .get = db_get, .put = db_put,
	.del = db_del, .seq = db_seq, .commit = db_commit, .close = db_close,
};
