/*
 * dict - one lookup table behind one interface (contract in dict.h).
 *
 * This file does what every type shares: the type registry, key folding,
 * the NUL convention of the indexed files (Postfix writes Berkeley DB and
 * LMDB keys and values with a trailing NUL and cdb ones without, and reads
 * either: the first hit decides for the rest of the table's life), copying
 * values out of the type's storage, and locking: a look-up in an indexed
 * file holds a shared flock(2) on it, an update an exclusive one, as
 * Postfix does, so that an in-place "map -i" or "map -d" never shows a
 * reader a half-written page.  A rebuild never needs the lock: it writes a
 * new file and renames it over the old one (dict_build.c).
 *
 * DIAGNOSTICS: errors are returned in one buffer, valid until the next
 * dict call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/dict_private.h"
#include "util/argv.h"
#include "util/mem.h"
#include "util/strutil.h"

static const struct dict_ops *const dict_types[] = {
	&dict_db_hash_ops, &dict_db_btree_ops, &dict_lmdb_ops, &dict_cdb_ops,
	&dict_texthash_ops, &dict_inline_ops, &dict_static_ops,
	&dict_regexp_ops, &dict_pcre_ops, &dict_unionmap_ops, &dict_pipemap_ops, &dict_unix_ops,
};
#define DICT_TYPE_COUNT (sizeof(dict_types) / sizeof(dict_types[0]))

static char dict_err[2048];

/* dict_fail - format the error text (arguments may point into it) */
int dict_fail(const char **error_r, const char *fmt, ...)
{
	char tmp[sizeof(dict_err)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(dict_err, tmp, sizeof(dict_err));
	*error_r = dict_err;
	return DICT_ERROR;
}

/* find_type - the ops row for a type name of len bytes, or NULL */
static const struct dict_ops *find_type(const char *type, size_t len)
{
	for (size_t i = 0; i < DICT_TYPE_COUNT; i++)
		if (strlen(dict_types[i]->type) == len && strncmp(dict_types[i]->type, type, len) == 0)
			return dict_types[i];
	return NULL;
}

/* dict_type_suffix - file suffix of a type */
const char *dict_type_suffix(const char *type)
{
	const struct dict_ops *ops = find_type(type, strlen(type));

	if (ops == NULL)
		return NULL;
	return ops->suffix ? ops->suffix : "";
}

/* type_list - "hash, btree, ..." for an error message */
static const char *type_list(void)
{
	static char list[256];

	if (list[0] == 0)
		for (size_t i = 0; i < DICT_TYPE_COUNT; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", dict_types[i]->type);
	return list;
}

/* dict_remember_file - identity of the opened file */
void dict_remember_file(struct dict *d, int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0) {
		d->dev = st.st_dev;
		d->ino = st.st_ino;
		d->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		d->size = st.st_size;
	}
}

/* dict_file_changed - replaced, grown or touched since open */
bool dict_file_changed(const struct dict *d)
{
	struct stat st;

	if (d->path == NULL || d->ino == 0)
		return false;
	/*
	 * Gone is changed; a file we may no longer look at (a daemon that
	 * opened it as root and dropped privileges) is not: the open table is
	 * all we can have, and reopening it would fail.
	 */
	if (stat(d->path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR;
	return st.st_dev != d->dev || st.st_ino != d->ino || st.st_size != d->size
	    || (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != d->mtime_ns;
}

/* open_common - the work of dict_open and dict_open_inner */
static struct dict *open_common(const char *spec, int mode, int flags, const char **error_r)
{
	const char *colon;
	const struct dict_ops *ops;
	struct dict *d;

	/* Postfix's proxymap only relays look-ups; sluice's daemons do them
	 * themselves, so "proxy:type:name" is "type:name". */
	if (strncmp(spec, "proxy:", 6) == 0 && mode == DICT_READ)
		spec += 6;
	colon = strchr(spec, ':');

	if (colon == NULL || colon == spec) {
		dict_fail(error_r, "%s: missing table type (need type:name, e.g. hash:/etc/aliases; "
			  "types: %s)", spec, type_list());
		return NULL;
	}
	if ((ops = find_type(spec, (size_t)(colon - spec))) == NULL) {
		dict_fail(error_r, "%s: unsupported lookup table type \"%.*s\" (sluice has %s)",
			  spec, (int)(colon - spec), spec, type_list());
		return NULL;
	}
	if (mode != DICT_READ && ops->put == NULL && ops->commit == NULL) {
		dict_fail(error_r, "%s: a %s table cannot be written", spec, ops->type);
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->ops = ops;
	d->spec = xstrdup(spec);
	d->name = xstrdup(colon + 1);
	d->mode = mode;
	d->flags = flags;
	d->lock_fd = -1;
	buf_init(&d->key, 64);
	buf_init(&d->value, 64);
	buf_init(&d->skey, 64);
	if (ops->props & DICT_PROP_INDEXED) {
		if (*d->name == 0) {
			dict_fail(error_r, "%s: missing file name", spec);
			dict_close(&d);
			return NULL;
		}
		d->path = mode == DICT_CREATE ? xstrdup(d->name)
			: xasprintf("%s%s", d->name, ops->suffix);
		if (mode == DICT_CREATE)
			d->nul = ops->default_nul;
		if (flags & DICT_FLAG_NUL)
			d->nul = DICT_NUL_WITH;
		else if (flags & DICT_FLAG_NO_NUL)
			d->nul = DICT_NUL_WITHOUT;
	}
	if (ops->open(d, error_r) < 0) {
		/* Each type's close copes with what a failed open left. */
		dict_close(&d);
		return NULL;
	}
	return d;
}

/* dict_open - open one table */
struct dict *dict_open(const char *spec, int mode, int flags, const char **error_r)
{
	struct dict *d = open_common(spec, mode, flags, error_r);
	int fd;

	if (d == NULL || !(d->ops->props & DICT_PROP_INDEXED) || mode == DICT_CREATE)
		return d;

	/* The lock file is the table itself, through a descriptor of our own. */
	if ((fd = open(d->path, mode == DICT_WRITE ? O_RDWR : O_RDONLY)) < 0) {
		dict_fail(error_r, "open %s: %s", d->path, strerror(errno));
		dict_close(&d);
		return NULL;
	}
	dict_remember_file(d, fd);
	/* A constant table (cdb) is never changed in place: no lock to take. */
	if (d->ops->del == NULL) {
		close(fd);
		return d;
	}
	d->lock_fd = fd;
	if (mode == DICT_WRITE && flock(fd, LOCK_EX) < 0) {
		dict_fail(error_r, "lock %s: %s", d->path, strerror(errno));
		dict_close(&d);
		return NULL;
	}
	return d;
}

/* dict_open_inner - nested table, read-only */
struct dict *dict_open_inner(const char *spec, int flags, const char **error_r)
{
	return dict_open(spec, DICT_READ, flags, error_r);
}

/* dict_split_braces - "{a, b {c}}" into specs */
struct argv *dict_split_braces(const char *spec, const char *arg, const char **error_r)
{
	size_t len = strlen(arg);
	struct argv *out;
	const char *cp, *start, *end;
	int depth;

	if (len < 2 || arg[0] != '{' || arg[len - 1] != '}') {
		dict_fail(error_r, "%s: need {type:name, type:name ...}", spec);
		return NULL;
	}
	out = argv_create();
	end = arg + len - 1;
	for (cp = arg + 1;;) {
		while (cp < end && strchr(", \t\r\n", *cp))
			cp++;
		if (cp >= end)
			break;
		for (start = cp, depth = 0; cp < end; cp++) {
			if (*cp == '{')
				depth++;
			else if (*cp == '}' && --depth < 0)
				break;
			else if (depth == 0 && strchr(", \t\r\n", *cp))
				break;
		}
		if (depth != 0) {
			dict_fail(error_r, "%s: unbalanced braces", spec);
			argv_free(&out);
			return NULL;
		}
		argv_addn(out, start, (size_t)(cp - start));
	}
	if (out->argc == 0) {
		dict_fail(error_r, "%s: no tables inside the braces", spec);
		argv_free(&out);
	}
	return out;
}

/* fold_key - the key as the type stores it, in d->key (with a NUL) */
static const char *fold_key(struct dict *d, const char *key)
{
	buf_set(&d->key, key);
	if ((d->ops->props & DICT_PROP_FOLD) && !(d->flags & DICT_FLAG_NOFOLD))
		str_lower(buf_str(&d->key));
	return buf_str(&d->key);
}

/* lock - shared or exclusive flock around one operation (indexed reads) */
static int lock(struct dict *d, int how, const char **error_r)
{
	if (d->lock_fd < 0 || d->mode != DICT_READ)
		return 0;
	if (flock(d->lock_fd, how) < 0)
		return dict_fail(error_r, "lock %s: %s", d->path, strerror(errno));
	return 0;
}

/* copy_value - NUL-terminated copy of raw bytes, less a trailing NUL */
static const char *copy_value(struct buf *b, const char *v, size_t vlen)
{
	if (vlen > 0 && v[vlen - 1] == 0)
		vlen--;
	buf_reset(b);
	buf_append(b, v, vlen);
	return buf_str(b);
}

/* get_indexed - try the NUL forms the table may use */
static int get_indexed(struct dict *d, const char *key, const char **value_r,
		       const char **error_r)
{
	size_t klen = strlen(key), vlen;
	const char *v;
	int forms[2], nforms = 0, rc = DICT_NOTFOUND;

	if (d->nul != DICT_NUL_UNKNOWN) {
		forms[nforms++] = d->nul;
	} else {
		forms[nforms++] = d->ops->default_nul;
		forms[nforms++] = d->ops->default_nul == DICT_NUL_WITH ? DICT_NUL_WITHOUT
			: DICT_NUL_WITH;
	}
	if (lock(d, LOCK_SH, error_r) < 0)
		return DICT_ERROR;
	for (int i = 0; i < nforms; i++) {
		/* An empty key is in no table (and LMDB refuses to look one up). */
		if (klen + (forms[i] == DICT_NUL_WITH) == 0)
			continue;
		rc = d->ops->get(d, key, klen + (forms[i] == DICT_NUL_WITH), &v, &vlen, error_r);
		if (rc == DICT_FOUND) {
			if (d->mode == DICT_READ)
				d->nul = forms[i];
			*value_r = copy_value(&d->value, v, vlen);
			break;
		}
		if (rc == DICT_ERROR)
			break;
	}
	if (lock(d, LOCK_UN, error_r) < 0)
		return DICT_ERROR;
	return rc;
}

/* dict_get - tri-state look-up */
int dict_get(struct dict *d, const char *key, const char **value_r, const char **error_r)
{
	size_t vlen;

	key = fold_key(d, key);
	if (d->ops->props & DICT_PROP_INDEXED)
		return get_indexed(d, key, value_r, error_r);
	return d->ops->get(d, key, strlen(key), value_r, &vlen, error_r);
}

/* write_nul - how this table writes: the file's own form when known */
static int write_nul(const struct dict *d)
{
	return d->nul != DICT_NUL_UNKNOWN ? d->nul : d->ops->default_nul;
}

/* dict_put - add */
int dict_put(struct dict *d, const char *key, const char *value, const char **error_r)
{
	int with;

	if (d->mode == DICT_READ || d->ops->put == NULL)
		return dict_fail(error_r, "%s: the table cannot be updated in place", d->spec);
	key = fold_key(d, key);
	with = (d->ops->props & DICT_PROP_INDEXED) && write_nul(d) == DICT_NUL_WITH;
	return d->ops->put(d, key, strlen(key) + with, value, strlen(value) + with, error_r);
}

/* dict_del - remove */
int dict_del(struct dict *d, const char *key, const char **error_r)
{
	size_t klen;
	int rc;

	if (d->mode != DICT_WRITE || d->ops->del == NULL)
		return dict_fail(error_r, "%s: entries cannot be deleted from a %s table", d->spec,
				 d->ops->type);
	key = fold_key(d, key);
	if ((klen = strlen(key)) == 0)
		return DICT_NOTFOUND;
	/* A file of unknown form: delete whichever form is there. */
	if (d->nul != DICT_NUL_UNKNOWN)
		return d->ops->del(d, key, klen + (d->nul == DICT_NUL_WITH), error_r);
	rc = d->ops->del(d, key, klen + 1, error_r);
	if (rc == DICT_NOTFOUND)
		rc = d->ops->del(d, key, klen, error_r);
	return rc;
}

/* dict_seq - walk */
int dict_seq(struct dict *d, bool first, const char **key_r, const char **value_r,
	     const char **error_r)
{
	const char *k, *v;
	size_t klen, vlen;
	int rc;

	if (d->ops->seq == NULL)
		return dict_fail(error_r, "%s: a %s table cannot be listed", d->spec, d->ops->type);
	if (first && lock(d, LOCK_SH, error_r) < 0)
		return DICT_ERROR;
	rc = d->ops->seq(d, first, &k, &klen, &v, &vlen, error_r);
	if (rc != DICT_FOUND) {
		(void)lock(d, LOCK_UN, error_r);
		return rc;
	}
	*key_r = copy_value(&d->skey, k, klen);
	*value_r = copy_value(&d->value, v, vlen);
	return DICT_FOUND;
}

/* dict_commit - finish writing */
int dict_commit(struct dict *d, const char **error_r)
{
	if (d->ops->commit == NULL)
		return 0;
	return d->ops->commit(d, error_r);
}

/* dict_close - release everything */
void dict_close(struct dict **dp)
{
	struct dict *d = *dp;

	if (d == NULL)
		return;
	if (d->ops != NULL)
		d->ops->close(d);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	buf_deinit(&d->key);
	buf_deinit(&d->value);
	buf_deinit(&d->skey);
	free(d->spec);
	free(d->name);
	free(d->path);
	free(d);
	*dp = NULL;
}

/* dict_spec - as opened */
const char *dict_spec(const struct dict *d)
{
	return d->spec;
}

/* dict_props - type properties */
int dict_props(const struct dict *d)
{
	return d->ops->props;
}
