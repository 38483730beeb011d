/*
 * smtpd_sasl - the server side of SMTP AUTH (RFC 4954) with Cyrus SASL's
 * server library (Postfix's xsasl_cyrus_server in spirit).
 *
 * smtpd_sasl_path is the Cyrus application name: the library reads
 * NAME.conf (pwcheck_method, auxprop_plugin, sasldb_path, mech_list ...)
 * from cyrus_sasl_config_path, or from its default folders when that is
 * empty.  smtpd_sasl_security_options (smtpd_sasl_tls_security_options on
 * a TLS session) decide which mechanisms are offered; the TLS cipher
 * strength is given to the library as the external security layer.
 *
 * Secrecy: responses are handed to the library and never logged; the
 * failure reason that is logged and sent is the library's generic text.
 */
#ifndef SLUICE_SMTPD_SASL_H
#define SLUICE_SMTPD_SASL_H

#include <stdbool.h>

struct smtpd_sasl;

/* smtpd_sasl_init - when smtpd_sasl_auth_enable is on: check the
 * parameters and load the plugins (before privileges drop).  Fatal on a
 * bad setting, naming it.  Returns whether AUTH is available. */
bool smtpd_sasl_init(void);

/*
 * smtpd_sasl_new - a server session for the client on fd; tls_bits is
 * the TLS cipher strength (0 in plain text).  NULL with a warning logged
 * when the library refuses.  Free with smtpd_sasl_free().
 */
struct smtpd_sasl *smtpd_sasl_new(int fd, unsigned tls_bits);

/* smtpd_sasl_mechanisms - "PLAIN LOGIN" (borrowed; "" when none). */
const char *smtpd_sasl_mechanisms(struct smtpd_sasl *s);

/* Results of smtpd_sasl_start() and smtpd_sasl_step(). */
enum {
	SMTPD_SASL_DONE,	/* authenticated: smtpd_sasl_username() */
	SMTPD_SASL_CONTINUE,	/* send "334 " + *challenge_r, read a response */
	SMTPD_SASL_FAIL,	/* *reply_r; *reason_r for the log */
};

/*
 * smtpd_sasl_start - AUTH mech [initial]: initial is the base64 initial
 * response ("=" for an empty one) or NULL.  *challenge_r (base64) and
 * *reply_r (a whole reply, e.g. "535 5.7.8 Error: authentication failed:
 * authentication failure") are borrowed until the next call; *reason_r
 * is the library's reason ("authentication failure").
 */
int smtpd_sasl_start(struct smtpd_sasl *s, const char *mech, const char *initial,
		     const char **challenge_r, const char **reply_r, const char **reason_r);

/* smtpd_sasl_step - the client's base64 response to a challenge. */
int smtpd_sasl_step(struct smtpd_sasl *s, const char *response, const char **challenge_r,
		    const char **reply_r, const char **reason_r);

/* smtpd_sasl_username - the login name after SMTPD_SASL_DONE (borrowed),
 * else NULL. */
const char *smtpd_sasl_username(struct smtpd_sasl *s);

/* smtpd_sasl_method - the mechanism being or last used (borrowed). */
const char *smtpd_sasl_method(struct smtpd_sasl *s);

/* smtpd_sasl_free - end the session, clear *sp; NULL is fine. */
void smtpd_sasl_free(struct smtpd_sasl **sp);

#endif
