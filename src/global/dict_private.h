/*
 * dict_private - what the table types share with dict.c (not for callers).
 *
 * A type is a row of struct dict_ops.  dict.c does key folding, the NUL
 * convention of the indexed types and the error text buffer; a type's
 * functions see the folded key and raw bytes.
 */
#ifndef SLUICE_DICT_PRIVATE_H
#define SLUICE_DICT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "global/dict.h"
#include "util/buf.h"

/* How keys and values are stored in an indexed file (Postfix's
 * DICT_FLAG_TRY1NULL / TRY0NULL). */
#define DICT_NUL_UNKNOWN	0	/* reading: try both, learn from the first hit */
#define DICT_NUL_WITH		1
#define DICT_NUL_WITHOUT	2

struct dict;

struct dict_ops {
	const char *type;
	int props;		/* DICT_PROP_* */
	const char *suffix;	/* indexed types: ".db" ... */
	int default_nul;	/* indexed types: how postmap writes them */
	/* open - d->name is the argument, d->path the file (indexed types). */
	int (*open)(struct dict *d, const char **error_r);
	/* get/put/del: raw bytes (klen excludes any NUL); put/del may be NULL. */
	int (*get)(struct dict *d, const char *key, size_t klen, const char **value_r,
		   size_t *vlen_r, const char **error_r);
	int (*put)(struct dict *d, const char *key, size_t klen, const char *value,
		   size_t vlen, const char **error_r);
	int (*del)(struct dict *d, const char *key, size_t klen, const char **error_r);
	/* seq - raw entries; may be NULL. */
	int (*seq)(struct dict *d, bool first, const char **key_r, size_t *klen_r,
		   const char **value_r, size_t *vlen_r, const char **error_r);
	int (*commit)(struct dict *d, const char **error_r);
	void (*close)(struct dict *d);
};

struct dict {
	const struct dict_ops *ops;
	char *spec;		/* "type:name" */
	char *name;		/* after the colon */
	char *path;		/* indexed types: the file; else NULL */
	int mode;		/* DICT_READ ... */
	int flags;		/* DICT_FLAG_* */
	int nul;		/* DICT_NUL_* */
	int lock_fd;		/* indexed types: fd for flock, or -1 */
	dev_t dev;		/* the file as opened (dict_file_changed) */
	ino_t ino;
	long long mtime_ns;
	off_t size;
	struct buf key;		/* folded key, with room for a NUL */
	struct buf value;	/* copied value, NUL-terminated */
	struct buf skey;	/* dict_seq's key copy */
	void *ctx;		/* the type's state */
};

/* dict_fail - format *error_r (dict.c's buffer); returns DICT_ERROR. */
int dict_fail(const char **error_r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* dict_open_inner - open a nested table (unionmap, pipemap) in the same mode. */
struct dict *dict_open_inner(const char *spec, int flags, const char **error_r);

/* dict_split_braces - the specs inside "{a, b}"; NULL with *error_r when the
 * braces do not balance.  Caller frees with argv_free(). */
struct argv *dict_split_braces(const char *spec, const char *arg, const char **error_r);

/* dict_remember_file - note fd's identity for dict_file_changed(). */
void dict_remember_file(struct dict *d, int fd);

extern const struct dict_ops dict_db_hash_ops, dict_db_btree_ops, dict_lmdb_ops, dict_cdb_ops;
extern const struct dict_ops dict_texthash_ops, dict_inline_ops, dict_static_ops;
extern const struct dict_ops dict_regexp_ops, dict_pcre_ops;
extern const struct dict_ops dict_unix_ops;
extern const struct dict_ops dict_unionmap_ops, dict_pipemap_ops;

#endif
