/*
 * smtp - the SMTP delivery agent (Postfix smtp(8)).
 *
 * For each request from the queue manager: find the addresses of the next
 * hop (smtp_mx), try them in order until one gives a usable session
 * (smtp_proto: greeting, EHLO, STARTTLS), run one mail transaction, and
 * record every recipient's outcome with the skeleton (agent_rcpt_*).
 *
 * Connection reuse: after a transaction the session may stay open for the
 * next request to the same next hop -- when the queue manager asks for it
 * (DEL_REQ_FLAG_REUSE, smtp_connection_cache_on_demand) or the next hop is
 * in smtp_connection_cache_destinations.  The skeleton reports the held
 * next hop to the queue manager (reply attribute "session"), which then
 * sends the next request for it to this process.  A reused session is
 * RSET first (a failed RSET closes it and a new one is made, silently); it
 * is closed after smtp_connection_cache_time_limit idle seconds, after
 * smtp_connection_reuse_count_limit transactions, and when the queue
 * manager goes away.  A reused session's log lines carry ", conn_use=N"
 * after the relay, as Postfix's do.
 *
 * Failure classes: no address could be set up (connection refused or timed
 * out, greeting or EHLO/HELO refused, TLS required and failed, time-out or
 * lost connection during set-up) defers every recipient with the last
 * reason and reports a hop failure to the queue manager (negative
 * concurrency feedback).  Everything after the set-up is per recipient
 * (smtp_proto.h) and is no hop failure.  A next hop that does not exist
 * (5.4.4) or refuses all mail (null MX, 5.1.10) bounces.
 *
 * Per next hop, before connecting: the TLS policy (smtp_tls_policy_maps
 * over smtp_tls_security_level; one that cannot be parsed defers, 4.7.5)
 * and the SMTP AUTH login (smtp_sasl_password_maps, smtp_sasl.h; a table
 * that cannot be read defers, 4.3.0).  docs/RELAY.md has the whole story.
 *
 * Parameters are the smtp_* ones, for every service name (as in Postfix,
 * where a master.cf "relay" service running smtp also reads smtp_*; only
 * Postfix's LMTP mode has parameters of its own).  Per-service values come
 * from master.cf "-o" options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <resolv.h>

#include "agents/common/agent_server.h"
#include "agents/smtp/smtp_body.h"
#include "agents/smtp/smtp_cmd.h"
#include "agents/smtp/smtp_mx.h"
#include "agents/smtp/smtp_proto.h"
#include "agents/smtp/smtp_sasl.h"
#include "agents/smtp/smtp_tls.h"
#include "global/deliver_request.h"
#include "global/dsn.h"
#include "global/maps.h"
#include "global/notice.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

static struct smtp_session_conf session_conf;
static struct smtp_lookup_conf lookup_conf;
static const char *tls_error;		/* why TLS could not be set up, or NULL */
static unsigned default_port = 25;	/* the "smtp" service */
static struct smtp_session *cached;	/* the one session kept between requests */
static struct maps *sasl_passwd;	/* smtp_sasl_password_maps */
static struct maps *tls_policy;		/* smtp_tls_policy_maps */
static char *tls_policy_error;		/* why the policy table cannot be used */
/* The settings of the current request: session_conf with its TLS policy.
 * A held session points here too; it is only reused for the same next hop,
 * which has the same policy. */
static struct smtp_session_conf req_conf;
static char *req_policy;		/* storage behind req_conf's policy texts */
static char *sasl_error;		/* why SMTP AUTH cannot be done, or NULL */

/* ---- configuration ---- */

/* parse_host_lookup - smtp_host_lookup into SMTP_LOOKUP_* bits */
static int parse_host_lookup(const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *tok;
	int bits = 0;

	while ((tok = str_token(&cp, ", \t")) != NULL) {
		if (strcasecmp(tok, "dns") == 0)
			bits |= SMTP_LOOKUP_DNS;
		else if (strcasecmp(tok, "native") == 0)
			bits |= SMTP_LOOKUP_NATIVE;
		else
			msg_fatal("smtp_host_lookup: unknown mechanism \"%s\"", tok);
	}
	free(copy);
	return bits ? bits : SMTP_LOOKUP_DNS;
}

/* smtp_pre_init - settings from the parameters; TLS before privileges go */
static void smtp_pre_init(void)
{
	struct smtp_tls_conf tls = {
		.CAfile = var_smtp_tls_CAfile,
		.CApath = var_smtp_tls_CApath,
		.loglevel = var_smtp_tls_loglevel,
		.cert_file = var_smtp_tls_cert_file,
		.key_file = var_smtp_tls_key_file,
	};
	int level = smtp_tls_level_parse(var_smtp_tls_security_level);
	struct servent *se;

	if (level < 0)
		msg_fatal("smtp_tls_security_level: unknown level \"%s\"",
			  var_smtp_tls_security_level);
	tls.protocols = level >= SMTP_TLS_ENCRYPT ? var_smtp_tls_mandatory_protocols
						  : var_smtp_tls_protocols;

	session_conf = (struct smtp_session_conf) {
		.helo_name = var_smtp_helo_name,
		.bind_address = var_smtp_bind_address,
		.connect_timeout = (double)var_smtp_connect_timeout,
		.helo_timeout = (double)var_smtp_helo_timeout,
		.starttls_timeout = (double)var_smtp_starttls_timeout,
		.mail_timeout = (double)var_smtp_mail_timeout,
		.rcpt_timeout = (double)var_smtp_rcpt_timeout,
		.data_init_timeout = (double)var_smtp_data_init_timeout,
		.data_xfer_timeout = (double)var_smtp_data_xfer_timeout,
		.data_done_timeout = (double)var_smtp_data_done_timeout,
		.rset_timeout = (double)var_smtp_rset_timeout,
		.quit_timeout = (double)var_smtp_quit_timeout,
		.tls_level = level,
		.tls_verify_match = var_smtp_tls_verify_cert_match,
		.tls_secure_match = var_smtp_tls_secure_cert_match,
		.tls_loglevel = var_smtp_tls_loglevel,
		.skip_5xx_greeting = var_smtp_skip_5xx_greeting,
		.always_send_ehlo = var_smtp_always_send_ehlo,
		.skip_quit_response = var_smtp_skip_quit_response,
		.line_length_limit = var_smtp_line_length_limit,
		.sasl_secopts = var_smtp_sasl_security_options,
		.sasl_tls_secopts = var_smtp_sasl_tls_security_options,
		.sasl_filter = var_smtp_sasl_mechanism_filter,
	};
	if (smtp_inet_protocols(var_inet_protocols) < 0)
		msg_fatal("inet_protocols: bad value \"%s\"", var_inet_protocols);
	lookup_conf = (struct smtp_lookup_conf) {
		.lookup = parse_host_lookup(var_smtp_host_lookup),
		.disable_dns = var_disable_dns_lookups,
		.families = smtp_inet_protocols(var_inet_protocols),
		.address_limit = var_smtp_mx_address_limit,
		.pref = strcasecmp(var_smtp_address_preference, "ipv4") == 0 ? SMTP_PREF_IPV4
			: strcasecmp(var_smtp_address_preference, "ipv6") == 0 ? SMTP_PREF_IPV6
			: SMTP_PREF_ANY,
		.randomize = var_smtp_randomize_addresses,
		.defer_if_no_mx_address = var_smtp_defer_if_no_mx_address_found,
	};

	/*
	 * CA files may be readable by root only: load them now.  A broken TLS
	 * set-up is not fatal: "may" goes on without TLS, stricter levels
	 * defer every delivery with the reason (a postmaster sees it in the
	 * queue), as Postfix does.
	 */
	if ((level != SMTP_TLS_NONE || *var_smtp_tls_policy_maps)
	    && smtp_tls_init(&tls, &tls_error) < 0)
		msg_warn("TLS is not available: %s", tls_error);
	/* Read now (root-only files); a broken table defers every delivery. */
	if (*var_smtp_tls_policy_maps) {
		const char *error;

		if ((tls_policy = maps_open(var_smtp_tls_policy_maps, &error)) == NULL) {
			tls_policy_error = xasprintf("smtp_tls_policy_maps lookup error: %s", error);
			msg_warn("%s", tls_policy_error);
		}
	}
	/*
	 * SMTP AUTH: the password table may be readable by root only, so it is
	 * read now.  A table that cannot be read defers every delivery (mail
	 * must never go out without the login it was told to use).
	 */
	if (var_smtp_sasl_auth_enable) {
		const char *error;

		if (smtp_sasl_init(&error) < 0)
			sasl_error = xasprintf("SASL library initialization failed: %s", error);
		else if ((sasl_passwd = maps_open(var_smtp_sasl_password_maps, &error)) == NULL)
			sasl_error = xasprintf("smtp_sasl_password_maps lookup error: %s", error);
		if (sasl_error)
			msg_warn("%s", sasl_error);
	}
	res_init();
	if ((se = getservbyname("smtp", "tcp")) != NULL)
		default_port = ntohs((unsigned short)se->s_port);
}

/* smtp_post_init - per-process random seed for MX shuffling */
static void smtp_post_init(void)
{
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
}

/* ---- the session cache ---- */

/* cache_close - close the held session */
static void cache_close(void)
{
	smtp_session_close(&cached);
}

/* smtp_idle_wait - seconds until the held session must go */
static double smtp_idle_wait(void)
{
	double left;

	if (cached == NULL)
		return -1;
	left = cached->idle_since + (double)var_smtp_connection_cache_time_limit - mono_time();
	return left > 0 ? left : 0;
}

/* smtp_idle - the cache time limit passed */
static void smtp_idle(void)
{
	if (cached && smtp_idle_wait() <= 0) {
		if (msg_verbose) {
			struct buf r, n;

			buf_init(&r, 64);
			buf_init(&n, 64);
			msg_info("closing cached session %s for %s", log_escape(&r, cached->relay),
				 log_escape(&n, cached->nexthop));
			buf_deinit(&r);
			buf_deinit(&n);
		}
		cache_close();
	}
}

/* smtp_session_nexthop - what the queue manager may send us next */
static const char *smtp_session_nexthop(void)
{
	return cached ? cached->nexthop : NULL;
}

/* smtp_disconnect - the queue manager left: nobody will reuse the session */
static void smtp_disconnect(void)
{
	cache_close();
}

/* cache_take - the held session for nexthop, RSET and ready, or NULL */
static struct smtp_session *cache_take(const char *nexthop)
{
	struct smtp_session *s;

	if (cached == NULL)
		return NULL;
	s = cached;
	cached = NULL;
	if (strcmp(s->nexthop, nexthop) != 0
	    || mono_time() - s->idle_since > (double)var_smtp_connection_cache_time_limit) {
		smtp_session_close(&s);
		return NULL;
	}
	/* A failed RSET just closes it; the caller connects afresh. */
	if (smtp_session_rset(s) < 0) {
		smtp_session_close(&s);
		return NULL;
	}
	return s;
}

/* cache_wanted - may this session stay open after the request? */
static bool cache_wanted(const struct deliver_request *req, const struct smtp_session *s)
{
	/* A session logged in for one sender is no good for the next (Postfix). */
	if (var_smtp_sasl_auth_enable && var_smtp_sender_dependent_authentication)
		return false;
	if (var_smtp_connection_reuse_count_limit > 0
	    && s->uses >= var_smtp_connection_reuse_count_limit)
		return false;
	if ((req->flags & DEL_REQ_FLAG_REUSE) && var_smtp_connection_cache_on_demand)
		return true;
	return *var_smtp_connection_cache_destinations
	       && str_list_match(var_smtp_connection_cache_destinations, req->nexthop);
}

/* ---- delivery ---- */

/* log_failure - a server's failure as its own log line (as Postfix logs
 * each failed server); the text holds what the network said: escaped */
static void log_failure(const char *text, const char *suffix)
{
	struct buf esc;

	buf_init(&esc, 128);
	msg_info("%s%s", log_escape(&esc, text), suffix);
	buf_deinit(&esc);
}

/* everyone - the same outcome for every recipient still to do */
static void everyone(struct agent_delivery *d, bool bounce, const char *status,
		     const char *reason, const char *mta, const char *diag, const char *relay)
{
	struct dsn dsn = agent_dsn(status, bounce ? "failed" : "delayed", reason);

	dsn.mta = mta;
	dsn.diag_type = diag ? "smtp" : NULL;
	dsn.diag_text = diag;
	if (bounce)
		agent_bounce_pending(d, &dsn, relay);
	else
		agent_defer_pending(d, &dsn, relay);
}

/* At most one postmaster notice per delivery request, whatever it meets. */
static bool notified;

/* notify - the postmaster notice about a session's troubles (smtp_chat.h) */
static void notify(struct agent_delivery *d, struct smtp_chat *chat, const char *peer)
{
	if (notified)
		smtp_chat_reset(chat);
	else
		notified = smtp_chat_notify(chat, peer, d->req->queue_id, d->req->sender) > 0;
}

/* notify_failure - the same about a server that failed set-up */
static void notify_failure(struct agent_delivery *d, struct smtp_failure *f)
{
	if (f->chat)
		notify(d, f->chat, f->chat_peer);
}

/*
 * apply_policy - req_conf for this next hop: smtp_tls_policy_maps looked up
 * by the next hop as the request names it, then by its host part; the
 * value is "level [match=a:b] [protocols=x:y] [ciphers=grade]".  Without
 * an entry: the main.cf settings.  0, or -1 with *error_r (allocated).
 */
static int apply_policy(const char *nexthop, const char *host, char **error_r)
{
	const char *value, *error;
	char *cp, *word;
	int level;

	req_conf = session_conf;
	XFREE(req_policy);
	if (tls_policy_error) {
		*error_r = xstrdup(tls_policy_error);
		return -1;
	}
	if (tls_policy == NULL)
		return 0;
	if ((value = maps_find(tls_policy, nexthop)) == NULL
	    && (value = maps_find(tls_policy, host)) == NULL)
		return 0;
	req_policy = xstrdup(value);
	cp = req_policy;
	if ((word = str_token(&cp, " \t")) == NULL
	    || (level = smtp_tls_level_parse(word)) < 0) {
		*error_r = xasprintf("smtp_tls_policy_maps: invalid TLS security level in \"%s\" "
				     "for %s", value, nexthop);
		return -1;
	}
	req_conf.tls_level = level;
	req_conf.tls_protocols = level >= SMTP_TLS_ENCRYPT ? var_smtp_tls_mandatory_protocols
							   : var_smtp_tls_protocols;
	while ((word = str_token(&cp, " \t")) != NULL) {
		char *eq = strchr(word, '=');

		if (eq == NULL)
			goto bad;
		*eq++ = 0;
		if (strcasecmp(word, "match") == 0) {
			for (char *c = eq; *c; c++)
				if (*c == ':')
					*c = ' ';
			req_conf.tls_verify_match = req_conf.tls_secure_match = eq;
		} else if (strcasecmp(word, "protocols") == 0) {
			req_conf.tls_protocols = eq;
		} else if (strcasecmp(word, "ciphers") == 0) {
			req_conf.tls_ciphers = eq;
		} else {
			goto bad;
		}
	}
	if (smtp_tls_check_policy(req_conf.tls_protocols, req_conf.tls_ciphers, &error) < 0) {
		*error_r = xasprintf("smtp_tls_policy_maps: %s in \"%s\" for %s", error, value,
				     nexthop);
		return -1;
	}
	return 0;
bad:
	*error_r = xasprintf("smtp_tls_policy_maps: invalid attribute in \"%s\" for %s", value,
			     nexthop);
	return -1;
}

/* connect_nexthop - a set-up session to some address of the next hop, or
 * NULL after every recipient got the failure */
static struct smtp_session *connect_nexthop(struct agent_delivery *d)
{
	const struct deliver_request *req = d->req;
	struct smtp_nexthop nh;
	struct smtp_addr_list addrs;
	struct smtp_lookup_error lerr;
	struct smtp_failure fail;
	struct smtp_session *s = NULL;
	struct smtp_auth auth, *login = NULL;
	char *policy_error = NULL;
	const char *error;
	long sessions = 0;

	if (smtp_nexthop_parse(req->nexthop, default_port, &nh, &error) < 0) {
		char *reason = xasprintf("bad next hop \"%s\": %s", req->nexthop, error);

		everyone(d, false, "4.3.5", reason, NULL, NULL, "none");
		free(reason);
		return NULL;
	}
	/* The TLS policy: one that cannot be applied never means plain text. */
	if (apply_policy(req->nexthop, nh.host, &policy_error) < 0) {
		everyone(d, false, "4.7.5", policy_error, NULL, NULL, "none");
		free(policy_error);
		smtp_nexthop_deinit(&nh);
		return NULL;
	}
	/* The login, when this next hop (or sender) has one. */
	memset(&auth, 0, sizeof(auth));
	if (var_smtp_sasl_auth_enable) {
		int found = sasl_error ? -1
			    : smtp_sasl_lookup(sasl_passwd, var_smtp_sender_dependent_authentication,
					       req->sender, req->nexthop, nh.host, &auth, &error);

		if (found < 0) {
			char *reason = xasprintf("%s", sasl_error ? sasl_error : error);

			everyone(d, false, "4.3.0", reason, NULL, NULL, "none");
			free(reason);
			smtp_nexthop_deinit(&nh);
			return NULL;
		}
		if (found > 0) {
			login = &auth;
			if (msg_verbose) {
				struct buf u, k;

				buf_init(&u, 64);
				buf_init(&k, 64);
				msg_info("SASL login %s for %s", log_escape(&u, auth.user),
					 log_escape(&k, auth.key));
				buf_deinit(&u);
				buf_deinit(&k);
			}
		}
	}
	if (smtp_lookup(&nh, &lookup_conf, &addrs, &lerr) < 0) {
		everyone(d, lerr.status[0] == '5', lerr.status, lerr.reason, NULL, NULL, "none");
		if (lerr.status[0] == '4')
			agent_hop_failed(d, lerr.status, lerr.reason);
		smtp_auth_deinit(&auth);
		smtp_nexthop_deinit(&nh);
		return NULL;
	}

	memset(&fail, 0, sizeof(fail));
	for (size_t i = 0; i < addrs.count; i++) {
		const struct smtp_addr *a = &addrs.addr[i];

		if (i > 0 && fail.reason)
			log_failure(fail.reason, "");	/* as Postfix: each failed server */
		if (req_conf.tls_level >= SMTP_TLS_ENCRYPT && tls_error) {
			smtp_failure_deinit(&fail);
			snprintf(fail.status, sizeof(fail.status), "4.7.5");
			fail.reason = xasprintf("TLS is required, but not available: %s", tls_error);
			break;
		}
		if (smtp_session_open(&req_conf, a, req->nexthop, nh.host,
				      tls_error != NULL, login, &s, &fail) == 0)
			break;
		notify_failure(d, &fail);
		if (fail.retry_plain) {
			/* Opportunistic TLS failed: this server again, in plain text. */
			log_failure(fail.reason, "; trying again without TLS");
			smtp_failure_deinit(&fail);
			if (smtp_session_open(&req_conf, a, req->nexthop, nh.host, true, login,
					      &s, &fail) == 0)
				break;
			notify_failure(d, &fail);
		}
		/* soft_bounce: a server's 5xx is no reason to skip the others (Postfix). */
		if (fail.hard && !var_soft_bounce)
			break;
		/* smtp_mx_session_limit counts servers that answered at all. */
		if (strcmp(fail.status, "4.4.1") != 0 && var_smtp_mx_session_limit > 0
		    && ++sessions >= var_smtp_mx_session_limit)
			break;
	}
	if (s == NULL) {
		everyone(d, fail.hard, fail.status, fail.reason, fail.mta, fail.diag, "none");
		if (fail.hop && !fail.hard)
			agent_hop_failed(d, fail.status, fail.reason);
	}
	smtp_failure_deinit(&fail);
	smtp_addr_list_deinit(&addrs);
	smtp_auth_deinit(&auth);
	smtp_nexthop_deinit(&nh);
	return s;
}

/* content - the message content, from the queue file */
static int content(smtp_sink_fn *sink, void *sink_ctx, void *ctx, const char **error_r)
{
	struct agent_delivery *d = ctx;

	return qf_read_content(d->qf, sink, sink_ctx, error_r);
}

/* eightbit_sink - stop at the first 8-bit byte */
static int eightbit_sink(const char *data, size_t len, void *ctx)
{
	bool *found = ctx;

	if (smtp_body_8bit(data, len)) {
		*found = true;
		return -1;
	}
	return 0;
}

/* record - give recipient i the outcome the transaction found */
static void record(struct agent_delivery *d, struct smtp_session *s, size_t i,
		   const struct smtp_rcpt_result *r, const char *relay)
{
	struct deliver_rcpt *rcpt = &d->req->rcpt[i];
	struct dsn dsn;
	int notify;

	dsn = agent_dsn(r->status, NULL, r->reason);
	dsn.mta = r->diag ? s->host : NULL;
	dsn.diag_type = r->diag ? "smtp" : NULL;
	dsn.diag_text = r->diag;
	switch (r->outcome) {
	case SMTP_RCPT_SENT:
		/*
		 * RFC 3461 5.2.2: a server that speaks DSN takes over NOTIFY=SUCCESS
		 * (we passed it on), so we send no success notice; one that does
		 * not gets the mail "relayed" and we tell the sender ourselves.
		 */
		notify = rcpt->notify;
		if (s->features & SMTP_FEAT_DSN) {
			dsn.action = "delivered";
			rcpt->notify &= ~DSN_NOTIFY_SUCCESS;
		} else {
			dsn.action = (notify & DSN_NOTIFY_SUCCESS) ? "relayed" : "delivered";
		}
		agent_rcpt_sent(d, i, &dsn, relay);
		rcpt->notify = notify;
		break;
	case SMTP_RCPT_BOUNCE:
		dsn.action = "failed";
		agent_rcpt_bounce(d, i, &dsn, relay);
		break;
	default:
		dsn.action = "delayed";
		agent_rcpt_defer(d, i, &dsn, relay);
		break;
	}
}

/* smtp_deliver - one delivery request */
static int smtp_deliver(struct agent_delivery *d)
{
	struct deliver_request *req = d->req;
	struct smtp_rcpt_result *res;
	struct smtp_session *s;
	struct smtp_txn txn;
	const char *error;
	bool eightbit = false;
	char *relay;
	int ret;

	notified = false;
	/* A held session to this next hop, or a new one. */
	if ((s = cache_take(req->nexthop)) == NULL) {
		cache_close();
		if ((s = connect_nexthop(d)) == NULL)
			return 0;
	}
	agent_connected(d);

	/* BODY=8BITMIME only matters to a server that offers it. */
	if ((s->features & SMTP_FEAT_8BITMIME)
	    && qf_read_content(d->qf, eightbit_sink, &eightbit, &error) < 0 && !eightbit) {
		char *reason = xasprintf("local data error while talking to %s: %s", s->namaddr,
					 error);

		everyone(d, false, "4.3.0", reason, NULL, NULL, s->relay);
		free(reason);
		s->chat.troubles |= NOTICE_DATA;
		notify(d, &s->chat, s->namaddr);
		smtp_session_close(&s);
		return 0;
	}

	memset(&txn, 0, sizeof(txn));
	txn.sender = req->sender;
	txn.envid = req->envid;
	txn.ret = req->ret;
	txn.size = req->data_size;
	txn.eightbit = eightbit;
	txn.verify_only = (req->flags & DEL_REQ_FLAG_VERIFY) != 0;
	txn.rcpt_count = req->rcpt_count;
	txn.rcpt = req->rcpt;
	txn.content = content;
	txn.content_ctx = d;
	res = xcalloc(req->rcpt_count, sizeof(*res));
	ret = smtp_session_deliver(s, &txn, res);

	/* Postfix's relay=host[ip]:port, conn_use=N for reused sessions. */
	relay = s->uses > 1 ? xasprintf("%s, conn_use=%ld", s->relay, s->uses)
			    : xstrdup(s->relay);
	for (size_t i = 0; i < req->rcpt_count; i++)
		record(d, s, i, &res[i], relay);
	free(relay);
	smtp_results_deinit(res, req->rcpt_count);
	free(res);
	/* Postfix's "Transcript of session follows." when notify_classes wants it. */
	notify(d, &s->chat, s->namaddr);

	if (ret == SMTP_TXN_OK && cache_wanted(req, s))
		cached = s;
	else
		smtp_session_close(&s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct agent_server_conf conf = {
		.progname = "smtp",
		.deliver = smtp_deliver,
		.pre_init = smtp_pre_init,
		.post_init = smtp_post_init,
		.idle_wait = smtp_idle_wait,
		.idle_fn = smtp_idle,
		.session_nexthop = smtp_session_nexthop,
		.disconnect_fn = smtp_disconnect,
	};

	agent_server_main(argc, argv, &conf);
}
