/*
 * smtp_tls_scache - the TLS session cache shared by every smtp process
 * (smtp_tls_session_cache_database, e.g. "lmdb:/var/lib/sluice/smtp_scache").
 *
 * Postfix keeps this cache in its tlsmgr daemon; sluice's smtp processes
 * share one indexed table file directly: a look-up takes the table's shared
 * lock, a store its exclusive lock (dict.c), each for one operation, so
 * that a session one process made is resumed by the next process that
 * talks to the same server under the same policy.  Entries are
 * "EXPIRY BASE64(DER session)" under the caller's cache key (a SHA-256
 * of it when it is long); an entry past its expiry is removed when it is
 * met, and every process sweeps the expired ones out once, when it first
 * stores.  The file (mode 0600: sessions hold secrets) is made when it does
 * not exist, by whichever process needs it first; it lives in
 * data_directory, which mail_owner owns.
 *
 * Failures (a table that cannot be opened, a damaged entry) only cost the
 * resumption: they are logged once and the handshake goes on in full.
 */
#ifndef SLUICE_SMTP_TLS_SCACHE_H
#define SLUICE_SMTP_TLS_SCACHE_H

#include <stdbool.h>
#include <time.h>

struct ssl_session_st;

/*
 * smtp_tls_scache_init - the table to use ("type:path"; "" none) and the
 * session lifetime.  The type must be one that can be updated in place
 * (btree, hash, lmdb).  0, or -1 with *error_r (static); nothing is opened
 * yet.
 */
int smtp_tls_scache_init(const char *spec, long timeout, const char **error_r);

/* smtp_tls_scache_enabled - is a shared table in use? */
bool smtp_tls_scache_enabled(void);

/*
 * smtp_tls_scache_get - the session stored under key that is still
 * within its lifetime (a new reference, or NULL); *stored_r gets the time
 * it was stored.
 */
struct ssl_session_st *smtp_tls_scache_get(const char *key, time_t *stored_r);

/* smtp_tls_scache_put - store sess under key, as stored at "stored". */
void smtp_tls_scache_put(const char *key, struct ssl_session_st *sess, time_t stored);

#endif
