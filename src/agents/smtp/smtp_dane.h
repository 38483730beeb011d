/*
 * smtp_dane - TLSA records (RFC 6698, RFC 7672) for DANE, through the
 * system resolver.
 *
 * Trust comes from the resolver: with smtp_dns_support_level = dnssec the
 * answers are believed secure only when the resolver sets the AD bit, as
 * Postfix does.  That resolver must validate and must be trusted (on this
 * host); glibc 2.31 and later pass the AD bit on only with "options
 * trust-ad" in resolv.conf.
 *
 * The outcome of a look-up for _port._tcp.host:
 *   SMTP_DANE_FOUND     secure TLSA records (at least one)
 *   SMTP_DANE_NONE      secure proof that there are none (NXDOMAIN, NODATA)
 *   SMTP_DANE_INSECURE  an answer without the AD bit: DANE does not apply
 *   SMTP_DANE_ERROR     no usable answer (SERVFAIL -- a bogus signature is
 *                       one -- a time-out, a malformed reply)
 */
#ifndef SLUICE_SMTP_DANE_H
#define SLUICE_SMTP_DANE_H

#include <stdbool.h>
#include <stddef.h>

enum {
	SMTP_DANE_FOUND,
	SMTP_DANE_NONE,
	SMTP_DANE_INSECURE,
	SMTP_DANE_ERROR,
};

struct smtp_tlsa_rr {
	unsigned char usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

struct smtp_tlsa {
	struct smtp_tlsa_rr *rr;
	size_t count;
};

/* smtp_dane_qname - "_port._tcp.host" into out. */
void smtp_dane_qname(const char *host, unsigned port, char *out, size_t outlen);

/*
 * smtp_dane_parse - the outcome of a reply to a TLSA query (a whole DNS
 * message), with the TLSA records of its answer section in *out (free with
 * smtp_tlsa_deinit()).  why gets the reason for SMTP_DANE_ERROR.
 */
int smtp_dane_parse(const unsigned char *msg, size_t len, struct smtp_tlsa *out, char *why,
		    size_t whylen);

/* smtp_dane_lookup - query the resolver for host's TLSA records at port. */
int smtp_dane_lookup(const char *host, unsigned port, struct smtp_tlsa *out, char *why,
		     size_t whylen);

/* smtp_tlsa_deinit - free the records. */
void smtp_tlsa_deinit(struct smtp_tlsa *t);

/* smtp_dane_secure_reply - did the resolver set the AD bit in msg? */
bool smtp_dane_secure_reply(const unsigned char *msg, size_t len);

#endif
