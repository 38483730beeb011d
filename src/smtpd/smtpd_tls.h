/*
 * smtpd_tls - the server side of STARTTLS (RFC 3207) with OpenSSL.
 *
 * smtpd_tls_security_level (Postfix's names):
 *   none (or empty)  STARTTLS is not offered
 *   may              offered; smtpd_tls_protocols apply
 *   encrypt          required: until the handshake only EHLO, HELO,
 *                    STARTTLS, NOOP, RSET and QUIT are served (530 5.7.0
 *                    otherwise); smtpd_tls_mandatory_protocols apply
 * The certificate and key come from smtpd_tls_chain_files or
 * smtpd_tls_cert_file and smtpd_tls_key_file, read once before the
 * process gives up root.  Client certificates are not requested.
 */
#ifndef SLUICE_SMTPD_TLS_H
#define SLUICE_SMTPD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_st;

enum smtpd_tls_level { SMTPD_TLS_NONE, SMTPD_TLS_MAY, SMTPD_TLS_ENCRYPT };

/*
 * smtpd_tls_init - read the parameters and make the server context.  A
 * certificate that cannot be loaded is fatal under encrypt (nothing could
 * be received) and a warning under may (STARTTLS is then not offered).
 * Returns the level in effect.
 */
enum smtpd_tls_level smtpd_tls_init(void);

/*
 * smtpd_tls_accept - the server handshake on fd (blocking or not; it is
 * left non-blocking), within timeout_ms per wait.  Returns the session,
 * or NULL after logging "SSL_accept error from CLIENT: reason".  On
 * success info gets "TLSv1.3 with cipher X (256/256 bits)" and, with
 * smtpd_tls_loglevel >= 1, "Anonymous TLS connection established from
 * CLIENT: INFO" is logged.  *bits_r is the cipher strength (SASL's
 * external SSF).
 */
struct ssl_st *smtpd_tls_accept(int fd, int timeout_ms, const char *client, char *info,
				size_t infolen, unsigned *bits_r);

/*
 * smtpd_tls_read - at most len decrypted bytes, waiting at most
 * timeout_ms: the count, 0 at the end of the stream, or -1 (errno
 * ETIMEDOUT for the time limit, EPROTO for a TLS error).
 */
ssize_t smtpd_tls_read(struct ssl_st *ssl, int fd, void *buf, size_t len, int timeout_ms);

/* smtpd_tls_write - all len bytes, each wait at most timeout_ms: 0 or -1
 * (errno as for smtpd_tls_read). */
int smtpd_tls_write(struct ssl_st *ssl, int fd, const void *buf, size_t len, int timeout_ms);

/* smtpd_tls_pending - decrypted input already buffered in the session? */
bool smtpd_tls_pending(struct ssl_st *ssl);

/* smtpd_tls_free - close_notify if it goes out at once, free, clear *sslp. */
void smtpd_tls_free(struct ssl_st **sslp);

#endif
