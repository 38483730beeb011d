/*
 * smtp_tls - OpenSSL client side of STARTTLS (see smtp_tls.h).
 *
 * Contract: one SSL_CTX per process, made on first use from the smtp_tls_*
 * parameters.  Handshakes and transfers run on the session's non-blocking
 * descriptor and wait only through smtp_wait(), so TLS obeys the same
 * deadlines as plain text.  The handshake itself never fails on an
 * untrusted certificate; the result is judged afterwards so that the
 * reason can say what was wrong (as Postfix logs "Server certificate not
 * trusted").
 *
 * Session cache: a small table in process memory (SESSION_SLOTS entries,
 * the oldest replaced when full).  Sessions are stored by OpenSSL's
 * new-session callback (in TLS 1.3 the tickets come after the handshake,
 * while the first reply is read), under the key the SSL object carries in
 * its ex_data; a session past its time, or one OpenSSL says cannot be
 * resumed, is dropped when looked up.
 *
 * With smtp_tls_session_cache_database the sessions are also kept in a
 * table every smtp process shares (smtp_tls_scache.h): a process that has
 * no session of its own for a key looks there.
 *
 * Diagnostics: errors are returned as text with OpenSSL's reason.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "agents/smtp/smtp_conn.h"
#include "agents/smtp/smtp_dane.h"
#include "agents/smtp/smtp_tls.h"
#include "agents/smtp/smtp_tls_scache.h"
#include "global/tls_proto.h"
#include "util/log.h"

static SSL_CTX *client_ctx;

/* The session cache. */
#define SESSION_SLOTS	64
static struct {
	char *key;
	SSL_SESSION *session;
	time_t stored;
} sessions[SESSION_SLOTS];
static long session_timeout;		/* smtp_tls_session_cache_timeout */
static int key_index = -1;		/* SSL ex_data: the cache key (owned) */

/* key_free - ex_data destructor: the SSL object's copy of its cache key */
static void key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
		     void *argp)
{
	free(ptr);
}

/* slot_clear - forget one cache entry */
static void slot_clear(int i)
{
	free(sessions[i].key);
	SSL_SESSION_free(sessions[i].session);
	sessions[i].key = NULL;
	sessions[i].session = NULL;
}

/* slot_store - keep sess (our reference) under key, as stored at "stored";
 * false when it could not be kept (the caller still owns sess) */
static bool slot_store(const char *key, SSL_SESSION *sess, time_t stored)
{
	int slot = -1;

	for (int i = 0; i < SESSION_SLOTS && slot < 0; i++)
		if (sessions[i].key && strcmp(sessions[i].key, key) == 0)
			slot = i;
	for (int i = 0; i < SESSION_SLOTS && slot < 0; i++)
		if (sessions[i].key == NULL)
			slot = i;
	if (slot < 0) {
		slot = 0;
		for (int i = 1; i < SESSION_SLOTS; i++)
			if (sessions[i].stored < sessions[slot].stored)
				slot = i;
	}
	slot_clear(slot);
	sessions[slot].key = strdup(key);
	if (sessions[slot].key == NULL)
		return false;
	sessions[slot].session = sess;
	sessions[slot].stored = stored;
	return true;
}

/* session_find - the usable session stored under key, or NULL (borrowed):
 * this process's own first, then the shared table's */
static SSL_SESSION *session_find(const char *key)
{
	time_t now = time(NULL), stored;
	SSL_SESSION *sess;

	for (int i = 0; i < SESSION_SLOTS; i++) {
		if (sessions[i].key == NULL || strcmp(sessions[i].key, key) != 0)
			continue;
		if (now - sessions[i].stored >= session_timeout
		    || !SSL_SESSION_is_resumable(sessions[i].session)) {
			slot_clear(i);
			break;
		}
		return sessions[i].session;
	}
	if ((sess = smtp_tls_scache_get(key, &stored)) == NULL)
		return NULL;
	if (!slot_store(key, sess, stored)) {
		SSL_SESSION_free(sess);
		return NULL;
	}
	return sess;
}

/* new_session - OpenSSL's new-session callback: keep it under the SSL
 * object's key (and in the shared table); 1 = we took the reference */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	const char *key = key_index >= 0 ? SSL_get_ex_data(ssl, key_index) : NULL;
	time_t now = time(NULL);

	if (key == NULL || session_timeout <= 0)
		return 0;
	smtp_tls_scache_put(key, sess, now);
	return slot_store(key, sess, now) ? 1 : 0;
}

static const char *const level_names[] = {"none",   "may",	"encrypt",  "verify",
					  "secure", "dane", "dane-only"};

/* smtp_tls_level_parse - name to level */
int smtp_tls_level_parse(const char *name)
{
	if (*name == 0)
		return SMTP_TLS_NONE;
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* smtp_tls_level_name - level to name */
const char *smtp_tls_level_name(int level)
{
	if (level < 0 || level >= (int)(sizeof(level_names) / sizeof(level_names[0])))
		return "?";
	return level_names[level];
}

/* OpenSSL's versions, indexed as tls_proto.h counts them. */
static const int versions[TLS_PROTO_COUNT] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
					      TLS1_3_VERSION};

/* protocol_range - smtp_tls_protocols syntax (tls_proto.h) to a range */
static int protocol_range(const char *spec, int *lo_r, int *hi_r, const char **error_r)
{
	static char why[128];
	const char *error;

	if (tls_proto_range(spec, lo_r, hi_r, &error) < 0) {
		snprintf(why, sizeof(why), "smtp_tls_protocols: %s", error);
		*error_r = why;
		return -1;
	}
	return 0;
}

/* set_protocols - the range of spec on the context */
static int set_protocols(SSL_CTX *ctx, const char *spec, const char **error_r)
{
	int lo, hi;

	if (protocol_range(spec, &lo, &hi, error_r) < 0)
		return -1;
	SSL_CTX_set_min_proto_version(ctx, versions[lo]);
	SSL_CTX_set_max_proto_version(ctx, versions[hi]);
	return 0;
}

/* cipher_list - Postfix's cipher grades as OpenSSL cipher lists; anything
 * else is taken as an OpenSSL cipher list itself */
static const char *cipher_list(const char *grade)
{
	static const struct {
		const char *grade, *list;
	} grades[] = {
		{"high", "HIGH:!aNULL:!eNULL"},
		{"medium", "HIGH:MEDIUM:!aNULL:!eNULL"},
		{"low", "HIGH:MEDIUM:LOW:!aNULL:!eNULL"},
		{"export", "ALL:!aNULL:!eNULL"},
		{"null", "eNULL:!aNULL"},
	};

	for (size_t i = 0; i < sizeof(grades) / sizeof(grades[0]); i++)
		if (strcasecmp(grade, grades[i].grade) == 0)
			return grades[i].list;
	return grade;
}

/* smtp_tls_check_policy - are protocols and ciphers usable? */
int smtp_tls_check_policy(const char *protocols, const char *ciphers, const char **error_r)
{
	int lo, hi;

	if (protocols && *protocols && protocol_range(protocols, &lo, &hi, error_r) < 0)
		return -1;
	if (ciphers && *ciphers && client_ctx) {
		SSL *ssl = SSL_new(client_ctx);
		int ok = ssl && SSL_set_cipher_list(ssl, cipher_list(ciphers)) == 1;

		SSL_free(ssl);
		ERR_clear_error();
		if (!ok) {
			*error_r = "unknown cipher grade or list";
			return -1;
		}
	}
	return 0;
}

/* smtp_tls_init - the process-wide client context */
int smtp_tls_init(const struct smtp_tls_conf *conf, const char **error_r)
{
	static char why[512];
	SSL_CTX *ctx;
	const char *error;
	const char *file = conf->CAfile && *conf->CAfile ? conf->CAfile : NULL;
	const char *path = conf->CApath && *conf->CApath ? conf->CApath : NULL;

	if (client_ctx)
		return 0;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*error_r = "cannot create TLS context";
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* DANE (RFC 7672): per session, when the server has TLSA records. */
	if (SSL_CTX_dane_enable(ctx) <= 0) {
		*error_r = "cannot enable DANE support";
		goto fail;
	}
	/* Resumption: our own cache (smtp_tls.h), not OpenSSL's internal one. */
	session_timeout = conf->session_cache_timeout;
	/* A shared table that cannot be used costs resumption, not TLS. */
	if (conf->session_cache_database
	    && smtp_tls_scache_init(conf->session_cache_database, session_timeout, &error) < 0)
		msg_warn("%s: sessions are not shared between processes", error);
	if (session_timeout > 0) {
		if (key_index < 0)
			key_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, key_free);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT
					       | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session);
	}
	if (set_protocols(ctx, conf->protocols, error_r) < 0)
		goto fail;
	/* A client certificate, for servers that ask for one. */
	if (conf->cert_file && *conf->cert_file) {
		const char *key = conf->key_file && *conf->key_file ? conf->key_file : conf->cert_file;

		if (SSL_CTX_use_certificate_chain_file(ctx, conf->cert_file) != 1
		    || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
		    || SSL_CTX_check_private_key(ctx) != 1) {
			snprintf(why, sizeof(why), "cannot load client certificate %s or key %s: %s",
				 conf->cert_file, key, ERR_reason_error_string(ERR_get_error()));
			*error_r = why;
			goto fail;
		}
	}
	if ((file || path) && SSL_CTX_load_verify_locations(ctx, file, path) != 1) {
		snprintf(why, sizeof(why), "cannot load CA certificates from %s: %s",
			 file ? file : path, ERR_reason_error_string(ERR_get_error()));
		*error_r = why;
		goto fail;
	}
	client_ctx = ctx;
	return 0;

fail:
	SSL_CTX_free(ctx);
	return -1;
}

/* ssl_error_text - the queued OpenSSL reason, or a fallback */
static const char *ssl_error_text(const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return reason ? reason : fallback;
}

/* wait_for - map want-read/want-write to a wait; SMTP_IO_OK to retry */
static int wait_for(int fd, int ssl_err, double deadline, const char **error_r)
{
	int r = smtp_wait(fd, ssl_err == SSL_ERROR_WANT_WRITE, deadline);

	if (r == 0)
		return SMTP_IO_TIMEOUT;
	if (r < 0) {
		*error_r = "poll failed";
		return SMTP_IO_ERROR;
	}
	return SMTP_IO_OK;
}

/* is_ip - a numeric address (possibly after a leading dot of dot-nexthop)? */
static bool is_ip(const char *name)
{
	unsigned char tmp[16];

	if (*name == '.')
		name++;
	return inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1;
}

/*
 * set_names - what the certificate must match.  Host names are checked
 * against DNS names (OpenSSL: any one of them); an address literal (a
 * "[192.0.2.1]" next hop) against IP address entries instead -- OpenSSL
 * would require both kinds to match, so addresses count only when there
 * is no host name at all.
 */
static void set_names(SSL *ssl, const char *const *names)
{
	bool any_host = false;

	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (int i = 0; names[i]; i++) {
		if (is_ip(names[i]))
			continue;
		if (!any_host)
			SSL_set1_host(ssl, names[i]);
		else
			SSL_add1_host(ssl, names[i]);
		any_host = true;
	}
	if (any_host)
		return;
	for (int i = 0; names[i]; i++) {
		if (names[i][0] != '.' && is_ip(names[i])) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), names[i]);
			return;
		}
	}
}

/* smtp_tls_connect - handshake, then judge the certificate */
struct ssl_st *smtp_tls_connect(int fd, const char *sni, bool verify, const char *const *names,
				const char *protocols, const char *ciphers, const char *cache_key,
				const struct smtp_tlsa *tlsa, double deadline, char *why,
				size_t whylen, char *info, size_t infolen, const char **trust_r,
				bool *reused_r)
{
	const char *error = NULL;
	const SSL_CIPHER *cipher;
	X509 *peer;
	SSL *ssl;
	long vr;
	int r, e, alg_bits = 0, bits;

	if (client_ctx == NULL) {
		snprintf(why, whylen, "TLS is not initialized");
		return NULL;
	}
	ERR_clear_error();
	if ((ssl = SSL_new(client_ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		snprintf(why, whylen, "cannot create TLS session: %s", ssl_error_text("?"));
		SSL_free(ssl);
		return NULL;
	}
	if (protocols && *protocols) {
		int lo, hi;

		if (protocol_range(protocols, &lo, &hi, &error) < 0) {
			snprintf(why, whylen, "%s", error);
			SSL_free(ssl);
			return NULL;
		}
		SSL_set_min_proto_version(ssl, versions[lo]);
		SSL_set_max_proto_version(ssl, versions[hi]);
	}
	if (ciphers && *ciphers && SSL_set_cipher_list(ssl, cipher_list(ciphers)) != 1) {
		snprintf(why, whylen, "unknown cipher grade or list \"%s\"", ciphers);
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	if (sni && *sni)
		SSL_set_tlsext_host_name(ssl, sni);
	if (tlsa) {
		size_t usable = 0;

		/* The base domain is the first reference identifier (DANE-TA). */
		if (SSL_dane_enable(ssl, names && names[0] ? names[0] : sni) <= 0) {
			snprintf(why, whylen, "cannot enable DANE: %s", ssl_error_text("?"));
			SSL_free(ssl);
			return NULL;
		}
		for (int i = 1; names && names[0] && names[i]; i++)
			SSL_add1_host(ssl, names[i]);
		for (size_t i = 0; i < tlsa->count; i++) {
			const struct smtp_tlsa_rr *rr = &tlsa->rr[i];

			/* PKIX-TA(0) and PKIX-EE(1) are not for SMTP (RFC 7672 3.1.3). */
			if (rr->usage < 2)
				continue;
			if (SSL_dane_tlsa_add(ssl, rr->usage, rr->selector, rr->mtype, rr->data,
					      rr->len) > 0)
				usable++;
		}
		ERR_clear_error();
		if (usable == 0) {
			snprintf(why, whylen, "no usable TLSA records");
			SSL_free(ssl);
			return NULL;
		}
		verify = true;
	} else if (verify && names) {
		set_names(ssl, names);
	}
	if (cache_key && session_timeout > 0 && key_index >= 0) {
		SSL_SESSION *old = session_find(cache_key);
		char *copy = strdup(cache_key);

		if (copy && SSL_set_ex_data(ssl, key_index, copy) != 1)
			free(copy);
		if (old)
			(void)SSL_set_session(ssl, old);
	}
	for (;;) {
		if ((r = SSL_connect(ssl)) == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r = wait_for(fd, e, deadline, &error);
			if (r == SMTP_IO_OK)
				continue;
			snprintf(why, whylen, "%s", r == SMTP_IO_TIMEOUT ? "timed out" : error);
		} else {
			snprintf(why, whylen, "%s",
				 ssl_error_text(e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN
						? "lost connection" : "handshake failure"));
		}
		SSL_free(ssl);
		return NULL;
	}

	/* Judge the certificate now that the session is up. */
	peer = SSL_get1_peer_certificate(ssl);
	vr = SSL_get_verify_result(ssl);
	if (peer == NULL)
		*trust_r = "Anonymous";
	else if (vr != X509_V_OK)
		*trust_r = "Untrusted";
	else
		*trust_r = (verify && names) || tlsa ? "Verified" : "Trusted";
	X509_free(peer);
	if (verify && (peer == NULL || vr != X509_V_OK)) {
		if (peer == NULL)
			snprintf(why, whylen, "server certificate not verified: no certificate");
		else if (vr == X509_V_ERR_HOSTNAME_MISMATCH
			 || vr == X509_V_ERR_IP_ADDRESS_MISMATCH)
			snprintf(why, whylen,
				 "server certificate not verified: name does not match %s",
				 names && names[0] ? names[0] : "?");
		else if (tlsa)
			snprintf(why, whylen, "server certificate verification failed: %s",
				 X509_verify_cert_error_string(vr));
		else
			snprintf(why, whylen, "server certificate not trusted: %s",
				 X509_verify_cert_error_string(vr));
		SSL_free(ssl);
		return NULL;
	}
	cipher = SSL_get_current_cipher(ssl);
	bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	snprintf(info, infolen, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		 SSL_CIPHER_get_name(cipher), bits, alg_bits);
	*reused_r = SSL_session_reused(ssl) == 1;
	return ssl;
}

/* smtp_tls_tlsa_usable - records OpenSSL's DANE can use for SMTP */
size_t smtp_tls_tlsa_usable(const struct smtp_tlsa *tlsa)
{
	size_t n = 0;

	for (size_t i = 0; i < tlsa->count; i++) {
		const struct smtp_tlsa_rr *rr = &tlsa->rr[i];

		/* DANE-TA/DANE-EE; Cert or SPKI; Full, SHA2-256 or SHA2-512 (of
		 * the right length). */
		if (rr->usage < 2 || rr->usage > 3 || rr->selector > 1 || rr->mtype > 2)
			continue;
		if ((rr->mtype == 1 && rr->len != 32) || (rr->mtype == 2 && rr->len != 64))
			continue;
		n++;
	}
	return n;
}

/* transfer - SSL_read or SSL_write until something moved or the deadline */
static int transfer(SSL *ssl, int fd, void *rbuf, const void *wbuf, size_t len,
		    double deadline, ssize_t *n_r, const char **error_r)
{
	static char why[256];
	int n, e, r, chunk = len > INT_MAX ? INT_MAX : (int)len;

	for (;;) {
		ERR_clear_error();
		n = rbuf ? SSL_read(ssl, rbuf, chunk) : SSL_write(ssl, wbuf, chunk);
		if (n > 0) {
			*n_r = n;
			return SMTP_IO_OK;
		}
		e = SSL_get_error(ssl, n);
		switch (e) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			if ((r = wait_for(fd, e, deadline, error_r)) != SMTP_IO_OK)
				return r;
			continue;
		case SSL_ERROR_ZERO_RETURN:
			return SMTP_IO_EOF;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0)
				return SMTP_IO_EOF;
			/* FALLTHROUGH */
		default:
			snprintf(why, sizeof(why), "TLS %s error: %s", rbuf ? "read" : "write",
				 ssl_error_text("unknown"));
			*error_r = why;
			return SMTP_IO_ERROR;
		}
	}
}

/* smtp_tls_read - decrypt some input */
int smtp_tls_read(struct ssl_st *ssl, int fd, void *buf, size_t len, double deadline,
		  ssize_t *n_r, const char **error_r)
{
	return transfer(ssl, fd, buf, NULL, len, deadline, n_r, error_r);
}

/* smtp_tls_write - encrypt and send some output */
int smtp_tls_write(struct ssl_st *ssl, int fd, const void *buf, size_t len, double deadline,
		   ssize_t *n_r, const char **error_r)
{
	return transfer(ssl, fd, NULL, buf, len, deadline, n_r, error_r);
}

/* smtp_tls_free - send close_notify if it goes out at once, then free */
void smtp_tls_free(struct ssl_st **sslp)
{
	if (*sslp == NULL)
		return;
	(void)SSL_shutdown(*sslp);
	ERR_clear_error();
	SSL_free(*sslp);
	*sslp = NULL;
}
