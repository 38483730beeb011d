/*
 * smtp_tls - STARTTLS for the SMTP client with OpenSSL.
 *
 * Security levels (smtp_tls_security_level, Postfix's names):
 *   none     never STARTTLS
 *   may      STARTTLS when offered; certificates are not checked; when the
 *            handshake fails the client connects again without TLS (as
 *            Postfix does), so opportunistic TLS never costs a delivery
 *   encrypt  TLS is required (no STARTTLS or a failed handshake: 4.7.5);
 *            certificates are not checked
 *   verify   as encrypt, and the certificate must chain to a CA from
 *            smtp_tls_CAfile/CApath and name the server (smtp_tls_verify_cert_match,
 *            default "hostname": the MX host name)
 *   secure   as verify, names from smtp_tls_secure_cert_match (default
 *            "nexthop, dot-nexthop": the next-hop domain or a subdomain)
 *   dane, dane-only  policy levels: smtp.c turns them, per server, into
 *            may, encrypt, or a session at level dane, which must match
 *            the server's DNSSEC-validated TLSA records (OpenSSL's DANE
 *            support; smtp_dane.h finds the records)
 *
 * Session resumption: each process keeps the TLS sessions (TLS 1.3 tickets,
 * TLS 1.2 sessions) its servers gave it, in memory, under a key the caller
 * makes from the next hop, the server and the TLS policy, for
 * smtp_tls_session_cache_timeout seconds (0: never kept).  A later
 * handshake under the same key offers the session; a resumed session keeps
 * the certificate verdict of the handshake that made it, which is why the
 * policy (level, names, protocols, ciphers) is part of the key.  With
 * smtp_tls_session_cache_database the sessions are shared by every smtp
 * process through that table (smtp_tls_scache.h).
 */
#ifndef SLUICE_SMTP_TLS_H
#define SLUICE_SMTP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_st;

enum smtp_tls_level {
	SMTP_TLS_NONE,
	SMTP_TLS_MAY,
	SMTP_TLS_ENCRYPT,
	SMTP_TLS_VERIFY,
	SMTP_TLS_SECURE,
	SMTP_TLS_DANE,		/* policy: opportunistic DANE; session: TLSA-verified */
	SMTP_TLS_DANE_ONLY,	/* policy: mandatory DANE */
};

struct smtp_tls_conf {
	const char *CAfile;		/* "" none */
	const char *CApath;		/* "" none */
	const char *protocols;		/* ">=TLSv1", "!SSLv3, !TLSv1" ... */
	long loglevel;			/* smtp_tls_loglevel */
	const char *cert_file;		/* smtp_tls_cert_file: client certificate, "" none */
	const char *key_file;		/* smtp_tls_key_file ("" : in cert_file) */
	long session_cache_timeout;	/* seconds a session is kept; 0: none */
	const char *session_cache_database; /* shared "type:path", "" none */
};

/* smtp_tls_check_policy - protocols (as smtp_tls_protocols, ':' also
 * separates) and ciphers (a Postfix grade "high", "medium"..., or an
 * OpenSSL cipher list) are usable; NULL or "" means the default.  0, or -1
 * with *error_r (static). */
int smtp_tls_check_policy(const char *protocols, const char *ciphers, const char **error_r);

/* smtp_tls_level_parse - level name ("" is none); -1 when unknown. */
int smtp_tls_level_parse(const char *name);
/* smtp_tls_level_name - "none", "may" ... */
const char *smtp_tls_level_name(int level);

/* smtp_tls_init - the client context (once; later calls are no-ops).
 * 0, or -1 with *error_r (static). */
int smtp_tls_init(const struct smtp_tls_conf *conf, const char **error_r);

/*
 * smtp_tls_connect - TLS handshake on a connected non-blocking descriptor,
 * finished before deadline.  sni: server name to send (NULL: none).  When
 * verify is true the chain must be trusted and the certificate must match
 * one of names (NULL-terminated; a name that starts with "." matches any
 * subdomain).  tlsa (non-NULL: DANE) makes the TLSA records the trust
 * anchors instead of the CA files: the certificate chain must match one of
 * them, and names are checked for DANE-TA(2) matches only (names[0] is the
 * TLSA base domain).  protocols and ciphers (smtp_tls_check_policy(); NULL: the
 * context's) narrow this session.  cache_key (NULL: none) names the
 * session cache entry to resume from and to store into.  Returns the
 * session, or NULL with the reason in why; info gets "TLSv1.3 with cipher X
 * (256/256 bits)", *trust_r "Untrusted", "Trusted" or "Verified" (static)
 * and *reused_r whether an earlier session was resumed, on success.
 */
struct smtp_tlsa;

struct ssl_st *smtp_tls_connect(int fd, const char *sni, bool verify, const char *const *names,
				const char *protocols, const char *ciphers, const char *cache_key,
				const struct smtp_tlsa *tlsa, double deadline, char *why,
				size_t whylen, char *info, size_t infolen, const char **trust_r,
				bool *reused_r);

/*
 * smtp_tls_tlsa_usable - how many of the records OpenSSL's DANE support
 * can use for SMTP (RFC 7672: DANE-TA(2) and DANE-EE(3) only; known
 * selectors and matching types).
 */
size_t smtp_tls_tlsa_usable(const struct smtp_tlsa *tlsa);

/*
 * smtp_tls_read / smtp_tls_write - one transfer of at most len bytes before
 * the deadline: SMTP_IO_OK with the count in *n_r, or SMTP_IO_TIMEOUT,
 * SMTP_IO_EOF, SMTP_IO_ERROR (with *error_r, static).
 */
int smtp_tls_read(struct ssl_st *ssl, int fd, void *buf, size_t len, double deadline,
		  ssize_t *n_r, const char **error_r);
int smtp_tls_write(struct ssl_st *ssl, int fd, const void *buf, size_t len, double deadline,
		   ssize_t *n_r, const char **error_r);

/* smtp_tls_free - free the session (no close_notify wait) and clear *sslp. */
void smtp_tls_free(struct ssl_st **sslp);

#endif
