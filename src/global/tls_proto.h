/*
 * tls_proto - Postfix's TLS protocol lists (smtp_tls_protocols,
 * smtpd_tls_protocols ...) as a range of versions, without OpenSSL, so
 * the SMTP client and server read them the same way.
 *
 * Syntax: ">=TLSv1.2", "<=TLSv1.3", "!TLSv1", or plain names (then only
 * those), separated by commas, white space or colons.  "!SSLv2" and
 * "!SSLv3" are accepted and mean nothing (those are never used).  The
 * allowed set must be a range for OpenSSL: its lowest and highest member.
 */
#ifndef SLUICE_TLS_PROTO_H
#define SLUICE_TLS_PROTO_H

/* Version indexes, oldest first. */
enum { TLS_PROTO_TLSv1, TLS_PROTO_TLSv1_1, TLS_PROTO_TLSv1_2, TLS_PROTO_TLSv1_3, TLS_PROTO_COUNT };

/*
 * tls_proto_range - spec (NULL or "" allows every version) to the lowest
 * and highest allowed index.  0, or -1 with *error_r (static): "unknown
 * protocol name" or "excludes every protocol".
 */
int tls_proto_range(const char *spec, int *lo_r, int *hi_r, const char **error_r);

/* tls_proto_name - "TLSv1" ... "TLSv1.3" for an index. */
const char *tls_proto_name(int index);

#endif
