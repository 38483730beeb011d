/*
 * smtpd_sasl - SMTP AUTH with the Cyrus SASL server library (see
 * smtpd_sasl.h).
 *
 * The library does the mechanisms and the password checks; this module
 * maps SMTP's base64 lines to sasl_server_start/step and the library's
 * results to SMTP replies.  A security layer is never negotiated (max_ssf
 * 0): after AUTH the session stays as it was, plain or TLS.
 *
 * Diagnostics: a bad smtpd_sasl_* setting is fatal at start-up; the
 * library's own messages go to the mail log as warnings (errors) or are
 * dropped (notes), never to syslog behind our back.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "global/params.h"
#include "global/sasl_options.h"
#include "smtpd_sasl.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

struct smtpd_sasl {
	sasl_conn_t *conn;
	char mechs[512];
	char method[64];
	char *out;		/* base64 challenge */
	size_t out_size;
	char reply[300];
	bool done;
};

/* security_flags - the SASL_SEC_* of an option parameter; fatal on a bad word */
static unsigned security_flags(const char *param, const char *list)
{
	const char *bad;
	int flags = sasl_security_flags(list, &bad);

	if (flags < 0)
		msg_fatal("parameter %s: unknown SASL security option \"%s\" (must be "
			  SASL_OPTIONS_WORDS ")", param, bad);
	return (unsigned)flags;
}

/* sasl_log - the library's messages: problems are warnings, the rest dropped */
static int sasl_log(void *context, int level, const char *message)
{
	(void)context;
	if (level <= SASL_LOG_ERR)
		msg_warn("SASL authentication problem: %s", message);
	else if (level <= SASL_LOG_NOTE && msg_verbose)
		msg_info("SASL authentication info: %s", message);
	return SASL_OK;
}

/* sasl_confpath - cyrus_sasl_config_path */
static int sasl_confpath(void *context, const char **path)
{
	(void)context;
	*path = var_cyrus_sasl_config_path;
	return SASL_OK;
}

static sasl_callback_t callbacks[] = {
	{SASL_CB_LOG, SASL_PROC(sasl_log), NULL},
	{SASL_CB_GETCONFPATH, SASL_PROC(sasl_confpath), NULL},
	{SASL_CB_LIST_END, NULL, NULL},
};

/* smtpd_sasl_init - parameters and plugins */
bool smtpd_sasl_init(void)
{
	int rc;

	if (!var_smtpd_sasl_auth_enable)
		return false;
	if (strcasecmp(var_smtpd_sasl_type, "cyrus") != 0)
		msg_fatal("parameter smtpd_sasl_type: unsupported SASL type \"%s\" (sluice has "
			  "cyrus)", var_smtpd_sasl_type);
	if (*var_smtpd_sasl_path == 0)
		msg_fatal("parameter smtpd_sasl_path: empty (the Cyrus application name, e.g. "
			  "smtpd)");
	(void)security_flags("smtpd_sasl_security_options", var_smtpd_sasl_security_options);
	(void)security_flags("smtpd_sasl_tls_security_options",
			     var_smtpd_sasl_tls_security_options);
	/* Without a configured path the library looks in its own folders. */
	if (*var_cyrus_sasl_config_path == 0)
		callbacks[1].id = SASL_CB_LIST_END;
	if ((rc = sasl_server_init(callbacks, var_smtpd_sasl_path)) != SASL_OK)
		msg_fatal("SASL per-process initialization failed: %s",
			  sasl_errstring(rc, NULL, NULL));
	return true;
}

/* endpoint - "addr;port" of a socket address for the library */
static void endpoint(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t outlen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, outlen, "0.0.0.0;0");
	else
		snprintf(out, outlen, "%s;%s", host, port);
}

/* smtpd_sasl_new - one server session */
struct smtpd_sasl *smtpd_sasl_new(int fd, unsigned tls_bits)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char local[NI_MAXHOST + 16], remote[NI_MAXHOST + 16];
	sasl_security_properties_t props;
	sasl_ssf_t ssf = tls_bits;
	struct smtpd_sasl *s;
	const char *list;
	unsigned count;
	int rc;

	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		endpoint(&ss, len, local, sizeof(local));
	else
		snprintf(local, sizeof(local), "0.0.0.0;0");
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		endpoint(&ss, len, remote, sizeof(remote));
	else
		snprintf(remote, sizeof(remote), "0.0.0.0;0");
	s = xcalloc(1, sizeof(*s));
	rc = sasl_server_new("smtp", var_myhostname, *var_smtpd_sasl_local_domain
			     ? var_smtpd_sasl_local_domain : NULL, local, remote, NULL, 0, &s->conn);
	if (rc != SASL_OK) {
		msg_warn("SASL per-connection server initialization: %s",
			 sasl_errstring(rc, NULL, NULL));
		free(s);
		return NULL;
	}
	memset(&props, 0, sizeof(props));
	props.max_ssf = 0;		/* no SASL security layer */
	props.maxbufsize = 0;
	props.security_flags = tls_bits
	    ? security_flags("smtpd_sasl_tls_security_options", var_smtpd_sasl_tls_security_options)
	    : security_flags("smtpd_sasl_security_options", var_smtpd_sasl_security_options);
	if (sasl_setprop(s->conn, SASL_SSF_EXTERNAL, &ssf) != SASL_OK
	    || sasl_setprop(s->conn, SASL_SEC_PROPS, &props) != SASL_OK) {
		msg_warn("SASL per-connection security setup: %s", sasl_errdetail(s->conn));
		smtpd_sasl_free(&s);
		return NULL;
	}
	if (sasl_listmech(s->conn, NULL, "", " ", "", &list, NULL, (int *)&count) == SASL_OK
	    && list)
		snprintf(s->mechs, sizeof(s->mechs), "%s", list);
	return s;
}

/* smtpd_sasl_mechanisms - what EHLO offers */
const char *smtpd_sasl_mechanisms(struct smtpd_sasl *s)
{
	return s->mechs;
}

/* offered - is mech in the offered list? */
static bool offered(struct smtpd_sasl *s, const char *mech)
{
	char *copy = xstrdup(s->mechs), *cp = copy, *w;
	bool found = false;

	while (!found && (w = str_token(&cp, " ")) != NULL)
		found = strcasecmp(w, mech) == 0;
	free(copy);
	return found;
}

/* result - turn a library status and its output into our answer */
static int result(struct smtpd_sasl *s, int rc, const char *out, unsigned outlen,
		  const char **challenge_r, const char **reply_r, const char **reason_r)
{
	unsigned enc_len;

	if (rc == SASL_OK) {
		s->done = true;
		return SMTPD_SASL_DONE;
	}
	if (rc == SASL_CONTINUE) {
		size_t need = ((size_t)outlen + 2) / 3 * 4 + 1;

		if (need > s->out_size) {
			free(s->out);
			s->out_size = need + 16;
			s->out = xmalloc(s->out_size);
		}
		if (sasl_encode64(out ? out : "", outlen, s->out, (unsigned)s->out_size,
				  &enc_len) != SASL_OK) {
			rc = SASL_FAIL;
		} else {
			*challenge_r = s->out;
			return SMTPD_SASL_CONTINUE;
		}
	}
	*reason_r = sasl_errstring(rc, NULL, NULL);
	if (rc == SASL_BADPROT)
		snprintf(s->reply, sizeof(s->reply), "501 5.5.2 Cannot decode response");
	else if (rc == SASL_TRYAGAIN || rc == SASL_UNAVAIL)
		snprintf(s->reply, sizeof(s->reply), "454 4.7.0 Temporary authentication failure: "
			 "%s", *reason_r);
	else
		snprintf(s->reply, sizeof(s->reply), "535 5.7.8 Error: authentication failed: %s",
			 *reason_r);
	*reply_r = s->reply;
	return SMTPD_SASL_FAIL;
}

/* decode - base64 text to bytes (caller frees); NULL when malformed */
static char *decode(const char *text, unsigned *len_r)
{
	size_t n = strlen(text);
	char *out = xmalloc(n / 4 * 3 + 4);

	if (strcmp(text, "=") == 0) {
		*len_r = 0;
		out[0] = 0;
		return out;
	}
	if (sasl_decode64(text, (unsigned)n, out, (unsigned)(n / 4 * 3 + 4), len_r) != SASL_OK) {
		free(out);
		return NULL;
	}
	return out;
}

/* smtpd_sasl_start - AUTH mech [initial-response] */
int smtpd_sasl_start(struct smtpd_sasl *s, const char *mech, const char *initial,
		     const char **challenge_r, const char **reply_r, const char **reason_r)
{
	const char *out = NULL;
	unsigned outlen = 0, inlen = 0;
	char *in = NULL;
	int rc;

	snprintf(s->method, sizeof(s->method), "%s", mech);
	for (char *cp = s->method; *cp; cp++)
		if (*cp >= 'a' && *cp <= 'z')
			*cp = (char)(*cp - 'a' + 'A');
	if (!offered(s, mech)) {
		*reason_r = "unsupported mechanism";
		*reply_r = "504 5.5.4 Unsupported authentication mechanism";
		return SMTPD_SASL_FAIL;
	}
	if (initial && (in = decode(initial, &inlen)) == NULL) {
		*reason_r = "malformed initial response";
		*reply_r = "501 5.5.2 Cannot decode response";
		return SMTPD_SASL_FAIL;
	}
	rc = sasl_server_start(s->conn, s->method, in, inlen, &out, &outlen);
	if (in) {
		explicit_bzero(in, inlen);
		free(in);
	}
	return result(s, rc, out, outlen, challenge_r, reply_r, reason_r);
}

/* smtpd_sasl_step - one response */
int smtpd_sasl_step(struct smtpd_sasl *s, const char *response, const char **challenge_r,
		    const char **reply_r, const char **reason_r)
{
	const char *out = NULL;
	unsigned outlen = 0, inlen = 0;
	char *in;
	int rc;

	if ((in = decode(response, &inlen)) == NULL) {
		*reason_r = "malformed response";
		*reply_r = "501 5.5.2 Cannot decode response";
		return SMTPD_SASL_FAIL;
	}
	rc = sasl_server_step(s->conn, in, inlen, &out, &outlen);
	explicit_bzero(in, inlen);
	free(in);
	return result(s, rc, out, outlen, challenge_r, reply_r, reason_r);
}

/* smtpd_sasl_username - the authenticated name */
const char *smtpd_sasl_username(struct smtpd_sasl *s)
{
	const void *name = NULL;

	if (!s->done || sasl_getprop(s->conn, SASL_USERNAME, &name) != SASL_OK)
		return NULL;
	return name;
}

/* smtpd_sasl_method - the mechanism */
const char *smtpd_sasl_method(struct smtpd_sasl *s)
{
	return s->method;
}

/* smtpd_sasl_free - end */
void smtpd_sasl_free(struct smtpd_sasl **sp)
{
	if (*sp == NULL)
		return;
	sasl_dispose(&(*sp)->conn);
	free((*sp)->out);
	free(*sp);
	*sp = NULL;
}
