/*
 * smtp_sasl - SMTP AUTH client with Cyrus SASL (see smtp_sasl.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "agents/smtp/smtp_sasl.h"
#include "global/maps.h"
#include "global/sasl_options.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

struct smtp_sasl_client {
	sasl_conn_t *conn;
	sasl_callback_t callbacks[4];
	char *user;
	sasl_secret_t *secret;	/* the password, as the library wants it */
	size_t secret_size;
	char mech[64];
};

/* wipe - clear memory the compiler may not skip */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* smtp_sasl_init - plugins */
int smtp_sasl_init(const char **error_r)
{
	static int done;
	int rc;

	if (done)
		return 0;
	if ((rc = sasl_client_init(NULL)) != SASL_OK) {
		*error_r = sasl_errstring(rc, NULL, NULL);
		return -1;
	}
	done = 1;
	return 0;
}

/* ---- the password table ---- */

/* try_key - look key up; 1 found (auth filled), 0 not, -1 bad value */
static int try_key(struct maps *maps, const char *key, struct smtp_auth *auth,
		   const char **error_r)
{
	const char *value = maps_find(maps, key), *colon;

	if (value == NULL)
		return 0;
	if ((colon = strchr(value, ':')) == NULL) {
		*error_r = "smtp_sasl_password_maps: entry is not \"username:password\"";
		return -1;
	}
	auth->user = xstrdup(value);
	auth->user[colon - value] = 0;
	auth->pass = xstrdup(colon + 1);
	auth->key = xstrdup(key);
	return 1;
}

/* smtp_sasl_lookup - sender, @domain, server host name, next hop */
int smtp_sasl_lookup(struct maps *maps, bool sender_dependent, const char *sender,
		     const char *host, const char *nexthop, struct smtp_auth *auth,
		     const char **error_r)
{
	const char *at;
	int rc;

	memset(auth, 0, sizeof(*auth));
	if (maps == NULL)
		return 0;
	if (sender_dependent && sender && *sender) {
		if ((rc = try_key(maps, sender, auth, error_r)) != 0)
			return rc;
		if ((at = strrchr(sender, '@')) != NULL
		    && (rc = try_key(maps, at, auth, error_r)) != 0)
			return rc;
	}
	if (host && *host && (rc = try_key(maps, host, auth, error_r)) != 0)
		return rc;
	if (host == NULL || strcasecmp(host, nexthop) != 0)
		return try_key(maps, nexthop, auth, error_r);
	return 0;
}

/* smtp_auth_deinit - wipe secrets */
void smtp_auth_deinit(struct smtp_auth *auth)
{
	if (auth->pass) {
		wipe(auth->pass, strlen(auth->pass));
		free(auth->pass);
	}
	free(auth->user);
	free(auth->key);
	memset(auth, 0, sizeof(*auth));
}

/* smtp_sasl_filter - offered mechanisms the filter lets through */
void smtp_sasl_filter(const char *offered, const char *filter, struct buf *out)
{
	char *copy = xstrdup(offered), *cp = copy, *mech;

	buf_reset(out);
	while ((mech = str_token(&cp, " \t")) != NULL) {
		if (*filter && !str_list_match(filter, mech))
			continue;
		if (out->len)
			buf_putc(out, ' ');
		buf_puts(out, mech);
	}
	free(copy);
}

/* ---- the library's call-backs ---- */

/* get_user - SASL_CB_USER / SASL_CB_AUTHNAME */
static int get_user(void *ctx, int id, const char **result, unsigned *len)
{
	struct smtp_sasl_client *c = ctx;

	if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
		return SASL_FAIL;
	*result = c->user;
	if (len)
		*len = (unsigned)strlen(c->user);
	return SASL_OK;
}

/* get_pass - SASL_CB_PASS */
static int get_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
	struct smtp_sasl_client *c = ctx;

	(void)conn;
	if (id != SASL_CB_PASS || psecret == NULL)
		return SASL_BADPARAM;
	*psecret = c->secret;
	return SASL_OK;
}

/* smtp_sasl_client_new - one exchange */
struct smtp_sasl_client *smtp_sasl_client_new(const char *host, const struct smtp_auth *auth,
					      const char *secopts, unsigned ssf,
					      const char **error_r)
{
	struct smtp_sasl_client *c;
	sasl_security_properties_t props;
	sasl_ssf_t ext = ssf;
	size_t plen = strlen(auth->pass);
	const char *bad;
	int flags, rc;

	if ((flags = sasl_security_flags(secopts, &bad)) < 0) {
		static char why[128];

		snprintf(why, sizeof(why), "unknown SASL security option \"%s\" (must be "
			 SASL_OPTIONS_WORDS ")", bad);
		*error_r = why;
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->user = xstrdup(auth->user);
	c->secret_size = sizeof(sasl_secret_t) + plen + 1;
	c->secret = xcalloc(1, c->secret_size);
	c->secret->len = (unsigned long)plen;
	memcpy(c->secret->data, auth->pass, plen);
	c->callbacks[0] = (sasl_callback_t){SASL_CB_USER, SASL_PROC(get_user), c};
	c->callbacks[1] = (sasl_callback_t){SASL_CB_AUTHNAME, SASL_PROC(get_user), c};
	c->callbacks[2] = (sasl_callback_t){SASL_CB_PASS, SASL_PROC(get_pass), c};
	c->callbacks[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
	if ((rc = sasl_client_new("smtp", host, NULL, NULL, c->callbacks, 0, &c->conn))
	    != SASL_OK) {
		*error_r = sasl_errstring(rc, NULL, NULL);
		smtp_sasl_client_free(&c);
		return NULL;
	}
	memset(&props, 0, sizeof(props));
	props.max_ssf = 0;		/* no SASL security layer: TLS does that */
	props.maxbufsize = 0;
	props.security_flags = (unsigned)flags;
	if (sasl_setprop(c->conn, SASL_SEC_PROPS, &props) != SASL_OK
	    || sasl_setprop(c->conn, SASL_SSF_EXTERNAL, &ext) != SASL_OK) {
		*error_r = sasl_errdetail(c->conn);
		smtp_sasl_client_free(&c);
		return NULL;
	}
	return c;
}

/* encode - base64 of len bytes into out */
static int encode(const char *data, unsigned len, struct buf *out, const char **error_r)
{
	unsigned need = (len + 2) / 3 * 4 + 1, got = 0;

	buf_reset(out);
	buf_reserve(out, need + 1);
	if (sasl_encode64(data, len, out->data, need, &got) != SASL_OK) {
		*error_r = "cannot encode the SASL response";
		return -1;
	}
	out->len = got;
	out->data[got] = 0;
	return 0;
}

/* smtp_sasl_client_start - mechanism and initial response */
int smtp_sasl_client_start(struct smtp_sasl_client *c, const char *mechs, const char **mech_r,
			   struct buf *out, const char **error_r)
{
	const char *clientout = NULL, *mech = NULL;
	unsigned clientlen = 0;
	int rc;

	buf_reset(out);
	rc = sasl_client_start(c->conn, mechs, NULL, &clientout, &clientlen, &mech);
	if (rc != SASL_OK && rc != SASL_CONTINUE) {
		*error_r = rc == SASL_NOMECH ? "no mechanism available" : sasl_errdetail(c->conn);
		return -1;
	}
	snprintf(c->mech, sizeof(c->mech), "%s", mech ? mech : "");
	*mech_r = c->mech;
	if (clientout == NULL)
		return 0;
	if (clientlen == 0) {
		buf_puts(out, "=");
		return 0;
	}
	return encode(clientout, clientlen, out, error_r);
}

/* smtp_sasl_client_step - one challenge, one response */
int smtp_sasl_client_step(struct smtp_sasl_client *c, const char *challenge, struct buf *out,
			  const char **error_r)
{
	size_t clen = strlen(challenge);
	unsigned declen = 0, clientlen = 0;
	const char *clientout = NULL;
	char *dec = xmalloc(clen + 1);
	int rc;

	if (sasl_decode64(challenge, (unsigned)clen, dec, (unsigned)clen + 1, &declen)
	    != SASL_OK) {
		free(dec);
		*error_r = "malformed SASL challenge from server";
		return -1;
	}
	rc = sasl_client_step(c->conn, dec, declen, NULL, &clientout, &clientlen);
	free(dec);
	if (rc != SASL_OK && rc != SASL_CONTINUE) {
		*error_r = sasl_errdetail(c->conn);
		return -1;
	}
	if (clientout == NULL || clientlen == 0) {
		buf_reset(out);
		return 0;
	}
	return encode(clientout, clientlen, out, error_r);
}

/* smtp_sasl_client_free - dispose */
void smtp_sasl_client_free(struct smtp_sasl_client **cp)
{
	struct smtp_sasl_client *c = *cp;

	if (c == NULL)
		return;
	if (c->conn)
		sasl_dispose(&c->conn);
	if (c->secret) {
		wipe(c->secret, c->secret_size);
		free(c->secret);
	}
	free(c->user);
	free(c);
	*cp = NULL;
}
