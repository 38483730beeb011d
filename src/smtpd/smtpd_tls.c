/*
 * smtpd_tls - OpenSSL server side of STARTTLS (see smtpd_tls.h).
 *
 * Contract: one SSL_CTX per process, made by smtpd_tls_init() while the
 * process can still read root-only key files.  Sessions run on the
 * client's descriptor switched to non-blocking; every wait goes through
 * fd_wait() with smtpd_timeout, so a client that stalls in the handshake
 * costs no more than one that stalls in plain text.
 *
 * Renegotiation by the client is refused (SSL_OP_NO_RENEGOTIATION): it
 * would let a client make the server do handshake work at will.  There is
 * no session cache or ticket: each process serves one client at a time
 * and lives for max_use sessions.
 *
 * Diagnostics: configuration problems are fatal or warnings at start-up;
 * handshake failures are logged by smtpd_tls_accept().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "global/params.h"
#include "global/tls_proto.h"
#include "smtpd_tls.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

static SSL_CTX *server_ctx;

/* OpenSSL's versions, indexed as tls_proto.h counts them. */
static const int versions[TLS_PROTO_COUNT] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION,
					      TLS1_3_VERSION};

/* ssl_reason - the queued OpenSSL reason, or fallback; clears the queue */
static const char *ssl_reason(const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return reason ? reason : fallback;
}

/* load_keys - chain files, or certificate and key; 0 or -1 with why */
static int load_keys(SSL_CTX *ctx, char *why, size_t whylen)
{
	if (*var_smtpd_tls_chain_files) {
		char *copy = xstrdup(var_smtpd_tls_chain_files), *cp = copy, *file;
		int rc = 0;

		/* Each file: a private key, then the certificate chain it signs. */
		while (rc == 0 && (file = str_token(&cp, ", \t\r\n")) != NULL)
			if (SSL_CTX_use_PrivateKey_file(ctx, file, SSL_FILETYPE_PEM) != 1
			    || SSL_CTX_use_certificate_chain_file(ctx, file) != 1
			    || SSL_CTX_check_private_key(ctx) != 1) {
				snprintf(why, whylen, "smtpd_tls_chain_files: cannot load key and "
					 "certificate from %s: %s", file, ssl_reason("bad file"));
				rc = -1;
			}
		free(copy);
		return rc;
	}
	if (*var_smtpd_tls_cert_file == 0) {
		snprintf(why, whylen, "no server certificate: set smtpd_tls_cert_file (and "
			 "smtpd_tls_key_file) or smtpd_tls_chain_files");
		return -1;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, var_smtpd_tls_cert_file) != 1) {
		snprintf(why, whylen, "smtpd_tls_cert_file: cannot load certificate from %s: %s",
			 var_smtpd_tls_cert_file, ssl_reason("bad file"));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, *var_smtpd_tls_key_file ? var_smtpd_tls_key_file
					: var_smtpd_tls_cert_file, SSL_FILETYPE_PEM) != 1
	    || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, whylen, "smtpd_tls_key_file: cannot load the private key of %s "
			 "from %s: %s", var_smtpd_tls_cert_file, var_smtpd_tls_key_file,
			 ssl_reason("bad file"));
		return -1;
	}
	return 0;
}

/* make_ctx - the server context for level; NULL with why */
static SSL_CTX *make_ctx(enum smtpd_tls_level level, char *why, size_t whylen)
{
	const char *param = level == SMTPD_TLS_ENCRYPT ? "smtpd_tls_mandatory_protocols"
	    : "smtpd_tls_protocols";
	const char *spec = level == SMTPD_TLS_ENCRYPT ? var_smtpd_tls_mandatory_protocols
	    : var_smtpd_tls_protocols;
	const char *error;
	SSL_CTX *ctx;
	int lo, hi;

	if (tls_proto_range(spec, &lo, &hi, &error) < 0) {
		snprintf(why, whylen, "%s: \"%s\" %s", param, spec, error);
		return NULL;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(why, whylen, "cannot create TLS context: %s", ssl_reason("?"));
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
			    | SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE
			    | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, versions[lo]);
	SSL_CTX_set_max_proto_version(ctx, versions[hi]);
	if (load_keys(ctx, why, whylen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* smtpd_tls_init - level and context */
enum smtpd_tls_level smtpd_tls_init(void)
{
	char why[600];
	enum smtpd_tls_level level;

	if (strcasecmp(var_smtpd_tls_security_level, "encrypt") == 0)
		level = SMTPD_TLS_ENCRYPT;
	else if (strcasecmp(var_smtpd_tls_security_level, "may") == 0)
		level = SMTPD_TLS_MAY;
	else
		return SMTPD_TLS_NONE;
	if ((server_ctx = make_ctx(level, why, sizeof(why))) != NULL)
		return level;
	if (level == SMTPD_TLS_ENCRYPT)
		msg_fatal("smtpd_tls_security_level = encrypt, but TLS cannot be used: %s", why);
	msg_warn("%s: STARTTLS is not offered", why);
	return SMTPD_TLS_NONE;
}

/* wait_io - wait for what OpenSSL wants; 0 to retry, -1 (errno) */
static int wait_io(int fd, int ssl_err, int timeout_ms)
{
	return fd_wait(fd, ssl_err == SSL_ERROR_WANT_WRITE, timeout_ms);
}

/* smtpd_tls_accept - handshake */
struct ssl_st *smtpd_tls_accept(int fd, int timeout_ms, const char *client, char *info,
				size_t infolen, unsigned *bits_r)
{
	const SSL_CIPHER *cipher;
	SSL *ssl;
	int r, e, alg_bits = 0, bits;

	if (server_ctx == NULL)
		msg_panic("smtpd_tls_accept: TLS is not initialized");
	ERR_clear_error();
	set_nonblock(fd, true);
	if ((ssl = SSL_new(server_ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		msg_warn("%s: cannot create TLS session: %s", client, ssl_reason("?"));
		SSL_free(ssl);
		return NULL;
	}
	for (;;) {
		if ((r = SSL_accept(ssl)) == 1)
			break;
		e = SSL_get_error(ssl, r);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		    && wait_io(fd, e, timeout_ms) == 0)
			continue;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			msg_info("SSL_accept error from %s: %s", client,
				 errno == ETIMEDOUT ? "timed out" : strerror(errno));
		else
			msg_info("SSL_accept error from %s: %s", client,
				 ssl_reason(e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN
					    ? "lost connection" : "handshake failure"));
		SSL_free(ssl);
		return NULL;
	}
	cipher = SSL_get_current_cipher(ssl);
	bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	*bits_r = bits > 0 ? (unsigned)bits : 0;
	snprintf(info, infolen, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		 SSL_CIPHER_get_name(cipher), bits, alg_bits);
	if (var_smtpd_tls_loglevel >= 1)
		msg_info("Anonymous TLS connection established from %s: %s", client, info);
	return ssl;
}

/* transfer - one SSL_read or SSL_write that moved something */
static ssize_t transfer(SSL *ssl, int fd, void *rbuf, const void *wbuf, size_t len,
			int timeout_ms)
{
	int n, e, chunk = len > INT_MAX ? INT_MAX : (int)len;

	for (;;) {
		ERR_clear_error();
		n = rbuf ? SSL_read(ssl, rbuf, chunk) : SSL_write(ssl, wbuf, chunk);
		if (n > 0)
			return n;
		e = SSL_get_error(ssl, n);
		switch (e) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			if (wait_io(fd, e, timeout_ms) < 0)
				return -1;
			continue;
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0)
				return 0;
			/* FALLTHROUGH */
		default:
			if (msg_verbose)
				msg_info("TLS %s error: %s", rbuf ? "read" : "write",
					 ssl_reason("unknown"));
			ERR_clear_error();
			errno = EPROTO;
			return -1;
		}
	}
}

/* smtpd_tls_read - decrypt some input */
ssize_t smtpd_tls_read(struct ssl_st *ssl, int fd, void *buf, size_t len, int timeout_ms)
{
	return transfer(ssl, fd, buf, NULL, len, timeout_ms);
}

/* smtpd_tls_write - encrypt and send everything */
int smtpd_tls_write(struct ssl_st *ssl, int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = transfer(ssl, fd, NULL, p, len, timeout_ms);

		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* smtpd_tls_pending - buffered plaintext */
bool smtpd_tls_pending(struct ssl_st *ssl)
{
	return SSL_pending(ssl) > 0;
}

/* smtpd_tls_free - shut down and free */
void smtpd_tls_free(struct ssl_st **sslp)
{
	if (*sslp == NULL)
		return;
	(void)SSL_shutdown(*sslp);
	ERR_clear_error();
	SSL_free(*sslp);
	*sslp = NULL;
}
