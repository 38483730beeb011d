/*
 * smtp_tls_scache - the shared TLS session table (see smtp_tls_scache.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "agents/smtp/smtp_tls_scache.h"
#include "global/dict.h"
#include "util/argv.h"
#include "util/log.h"
#include "util/mem.h"

static char *spec;		/* "type:path", NULL when not in use */
static char *file;		/* path + the type's suffix */
static char *type;
static long lifetime;		/* seconds */
static bool swept;		/* this process swept the expired entries */
static bool warned;		/* a failure was logged already */

/* trouble - log a failure once per process */
static void trouble(const char *what, const char *error)
{
	if (warned)
		return;
	warned = true;
	msg_warn("smtp_tls_session_cache_database %s: %s: %s", spec, what,
		 error ? error : "unknown error");
}

/* smtp_tls_scache_init - remember what to use */
int smtp_tls_scache_init(const char *db, long timeout, const char **error_r)
{
	static char why[300];
	const char *colon = strchr(db, ':'), *suffix;

	free(spec);
	free(file);
	free(type);
	spec = file = type = NULL;
	lifetime = timeout;
	if (*db == 0 || timeout <= 0)
		return 0;
	if (colon == NULL || colon[1] != '/') {
		snprintf(why, sizeof(why), "smtp_tls_session_cache_database: \"%.200s\" is not "
			 "type:/absolute/path", db);
		*error_r = why;
		return -1;
	}
	type = xstrndup(db, (size_t)(colon - db));
	suffix = dict_type_suffix(type);
	if (suffix == NULL || *suffix == 0 || strcmp(type, "cdb") == 0) {
		snprintf(why, sizeof(why), "smtp_tls_session_cache_database: \"%.100s\" is not a "
			 "table type that can be updated (btree, hash, lmdb)", type);
		*error_r = why;
		free(type);
		type = NULL;
		return -1;
	}
	spec = xstrdup(db);
	file = xasprintf("%s%s", colon + 1, suffix);
	return 0;
}

/* smtp_tls_scache_enabled - in use? */
bool smtp_tls_scache_enabled(void)
{
	return spec != NULL;
}

/* table_key - the key itself, or a SHA-256 of a long one (LMDB's key limit) */
static const char *table_key(const char *key, char *out, size_t outlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (strlen(key) < 200)
		return key;
	SHA256((const unsigned char *)key, strlen(key), md);
	for (size_t i = 0; i < sizeof(md) && 2 * i + 2 < outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return out;
}

/* ensure_file - make an empty table when there is none (0600) */
static int ensure_file(void)
{
	struct stat st;
	struct dict *d;
	const char *error = NULL;
	char *tmp, *tmp_spec;
	int rc = -1;

	if (stat(file, &st) == 0)
		return 0;
	if (errno != ENOENT) {
		trouble(file, strerror(errno));
		return -1;
	}
	tmp = xasprintf("%s.tmp.%ld", file, (long)getpid());
	tmp_spec = xasprintf("%s:%s", type, tmp);
	(void)unlink(tmp);
	if ((d = dict_open(tmp_spec, DICT_CREATE, DICT_FLAG_NOFOLD, &error)) != NULL
	    && dict_commit(d, &error) == 0) {
		dict_close(&d);
		/* link(): a table another process made meanwhile is kept. */
		if (chmod(tmp, 0600) < 0 || (link(tmp, file) < 0 && errno != EEXIST))
			error = strerror(errno);
		else
			rc = 0;
	}
	dict_close(&d);
	(void)unlink(tmp);
	if (rc < 0)
		trouble("cannot create the table", error);
	free(tmp);
	free(tmp_spec);
	return rc;
}

/* parse - "EXPIRY BASE64" into a session; NULL when damaged or expired */
static SSL_SESSION *parse(const char *value, time_t now, time_t *stored_r, bool *expired_r)
{
	char *end;
	long long expiry = strtoll(value, &end, 10);
	const unsigned char *p;
	unsigned char *der;
	size_t len;
	int n;
	SSL_SESSION *sess = NULL;

	*expired_r = false;
	if (end == value || *end != ' ')
		return NULL;
	if ((time_t)expiry <= now) {
		*expired_r = true;
		return NULL;
	}
	*stored_r = (time_t)expiry - lifetime;
	end++;
	len = strlen(end);
	if (len == 0 || len % 4)
		return NULL;
	der = xmalloc(len / 4 * 3 + 1);
	if ((n = EVP_DecodeBlock(der, (const unsigned char *)end, (int)len)) > 0) {
		/* EVP_DecodeBlock counts the padding as data: drop it. */
		if (end[len - 1] == '=')
			n--;
		if (end[len - 2] == '=')
			n--;
		p = der;
		sess = d2i_SSL_SESSION(NULL, &p, n);
	}
	free(der);
	return sess;
}

/* remove_key - delete one entry (exclusive lock for the operation) */
static void remove_key(const char *key)
{
	struct dict *d;
	const char *error = NULL;

	if ((d = dict_open(spec, DICT_WRITE, DICT_FLAG_NOFOLD, &error)) == NULL) {
		trouble("cannot update", error);
		return;
	}
	if (dict_del(d, key, &error) == DICT_ERROR || dict_commit(d, &error) < 0)
		trouble("cannot remove an entry", error);
	dict_close(&d);
}

/* smtp_tls_scache_get - a live session stored under key */
struct ssl_session_st *smtp_tls_scache_get(const char *key, time_t *stored_r)
{
	char hashed[2 * SHA256_DIGEST_LENGTH + 1];
	const char *k, *value, *error = NULL;
	struct dict *d;
	SSL_SESSION *sess = NULL;
	bool expired = false;
	int rc;

	if (spec == NULL || ensure_file() < 0)
		return NULL;
	k = table_key(key, hashed, sizeof(hashed));
	if ((d = dict_open(spec, DICT_READ, DICT_FLAG_NOFOLD, &error)) == NULL) {
		trouble("cannot open", error);
		return NULL;
	}
	rc = dict_get(d, k, &value, &error);
	if (rc == DICT_FOUND)
		sess = parse(value, time(NULL), stored_r, &expired);
	else if (rc == DICT_ERROR)
		trouble("cannot read", error);
	dict_close(&d);
	if (rc == DICT_FOUND && sess == NULL)
		remove_key(k);	/* expired or damaged */
	if (sess && !SSL_SESSION_is_resumable(sess)) {
		SSL_SESSION_free(sess);
		sess = NULL;
	}
	return sess;
}

/* sweep - remove every expired entry of the open table */
static void sweep(struct dict *d, time_t now)
{
	struct argv *old = argv_create();
	const char *key, *value, *error = NULL;
	bool first = true;

	while (dict_seq(d, first, &key, &value, &error) == DICT_FOUND) {
		first = false;
		if (strtoll(value, NULL, 10) <= (long long)now)
			argv_add(old, key, (char *)NULL);
	}
	for (size_t i = 0; i < old->argc; i++)
		(void)dict_del(d, old->argv[i], &error);
	argv_free(&old);
}

/* smtp_tls_scache_put - store a session */
void smtp_tls_scache_put(const char *key, struct ssl_session_st *sess, time_t stored)
{
	char hashed[2 * SHA256_DIGEST_LENGTH + 1];
	const char *k, *error = NULL;
	unsigned char *der = NULL, *p;
	char *value = NULL;
	struct dict *d;
	int len, n;

	if (spec == NULL || ensure_file() < 0)
		return;
	if ((len = i2d_SSL_SESSION(sess, NULL)) <= 0)
		return;
	der = xmalloc((size_t)len);
	p = der;
	(void)i2d_SSL_SESSION(sess, &p);
	value = xmalloc(32 + ((size_t)len + 2) / 3 * 4 + 1);
	n = snprintf(value, 32, "%lld ", (long long)(stored + lifetime));
	(void)EVP_EncodeBlock((unsigned char *)value + n, der, len);
	free(der);
	k = table_key(key, hashed, sizeof(hashed));
	if ((d = dict_open(spec, DICT_WRITE, DICT_FLAG_NOFOLD, &error)) == NULL) {
		trouble("cannot update", error);
		free(value);
		return;
	}
	if (!swept) {
		sweep(d, time(NULL));
		swept = true;
	}
	if (dict_del(d, k, &error) == DICT_ERROR || dict_put(d, k, value, &error) == DICT_ERROR
	    || dict_commit(d, &error) < 0)
		trouble("cannot store a session", error);
	dict_close(&d);
	free(value);
}
