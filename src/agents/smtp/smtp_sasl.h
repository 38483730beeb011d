/*
 * smtp_sasl - the SMTP client's side of SMTP AUTH (RFC 4954) with Cyrus
 * SASL's client library (Postfix smtp_sasl_glue.c, xsasl_cyrus_client.c).
 *
 * Credentials come from smtp_sasl_password_maps, "username:password"
 * values; smtp_sasl_lookup() picks the entry for a delivery.  The SASL
 * security options (smtp_sasl_security_options, or
 * smtp_sasl_tls_security_options on a TLS session) decide which of the
 * mechanisms the server offers may be used; smtp_sasl_mechanism_filter
 * narrows the server's list first.
 *
 * Secrecy: the password lives in memory that is wiped when the client is
 * freed; nothing here logs it, and the SMTP dialogue that carries it is
 * kept out of session transcripts by smtp_proto.
 */
#ifndef SLUICE_SMTP_SASL_H
#define SLUICE_SMTP_SASL_H

#include <stdbool.h>

struct buf;
struct maps;
struct smtp_sasl_client;

/* The login for one delivery. */
struct smtp_auth {
	char *user;
	char *pass;
	char *key;		/* the table key that found it, for logs */
};

/* smtp_sasl_init - load the SASL client plugins (once, before privileges
 * go).  0, or -1 with *error_r (static). */
int smtp_sasl_init(const char **error_r);

/*
 * smtp_sasl_lookup - the login for one server of a delivery, in Postfix's
 * order: with sender_dependent the sender address, then "@domain" of it;
 * then host, the name of the server being tried (the MX host name, or the
 * host of a "[host]:port" next hop); then the next hop as the request
 * names it ("[host]:port", "domain").  Returns 1 with *auth filled in
 * (free with smtp_auth_deinit()), 0 when no entry matches, -1 when the
 * entry has no ':' (*error_r, static).
 */
int smtp_sasl_lookup(struct maps *maps, bool sender_dependent, const char *sender,
		     const char *host, const char *nexthop, struct smtp_auth *auth,
		     const char **error_r);

/* smtp_auth_deinit - wipe and free the texts. */
void smtp_auth_deinit(struct smtp_auth *auth);

/* smtp_sasl_filter - the mechanisms of offered ("PLAIN LOGIN ...") that
 * filter (a list; "" lets everything through) names, space separated, into
 * out.  Case-insensitive. */
void smtp_sasl_filter(const char *offered, const char *filter, struct buf *out);

/*
 * smtp_sasl_client_new - a client for one AUTH exchange with server host.
 * secopts: "noplaintext, noanonymous, noactive, nodictionary,
 * mutual_auth" words; ssf: the TLS session's strength (0 plain).  NULL
 * with *error_r (static or borrowed from the library) on failure.
 */
struct smtp_sasl_client *smtp_sasl_client_new(const char *host, const struct smtp_auth *auth,
					      const char *secopts, unsigned ssf,
					      const char **error_r);

/*
 * smtp_sasl_client_start - choose a mechanism from mechs (space separated)
 * and the initial response.  0 with *mech_r (borrowed) and out holding the
 * base64 initial response ("=" for an empty one, nothing when there is
 * none); -1 with *error_r.
 */
int smtp_sasl_client_start(struct smtp_sasl_client *c, const char *mechs, const char **mech_r,
			   struct buf *out, const char **error_r);

/* smtp_sasl_client_step - answer the server's base64 challenge: 0 with the
 * base64 response in out, or -1 with *error_r. */
int smtp_sasl_client_step(struct smtp_sasl_client *c, const char *challenge, struct buf *out,
			  const char **error_r);

/* smtp_sasl_client_free - free, wiping secrets; clears *cp. NULL is fine. */
void smtp_sasl_client_free(struct smtp_sasl_client **cp);

#endif
