/*
 * smtp - the SMTP delivery agent (Postfix smtp(8)).
 *
 * For each request from the queue manager: find the addresses of the next
 * hop (smtp_mx), try them in order until one gives a usable session
 * (smtp_proto: greeting, EHLO, STARTTLS), run one mail transaction, and
 * record every recipient's outcome with the skeleton (agent_rcpt_*).
 *
 * Routes: the next hop may be a list of sites ("[a]:587, [b]:587", as
 * relayhost may be), and smtp_fallback_relay is appended to it.  Sites and
 * their servers are tried in order; recipients that a server deferred (a
 * 4xx to RCPT, MAIL, DATA or ".") go on to the next server in the same
 * delivery and keep that server's reply when nobody else takes them.  The
 * loop check (port 25 only) drops this host and every worse MX; nothing
 * left bounces "mail for X loops back to myself" (5.4.6).
 *
 * LMTP: run as "lmtp" (a link to this program) it speaks LMTP with the
 * lmtp_* settings: next hops unix:/path or inet:host:port, no MX, no TLS,
 * no AUTH, no fallback relay, no loop check.
 *
 * Connection reuse: after a transaction the session may stay open for the
 * next request to the same next hop -- when the queue manager asks for it
 * (DEL_REQ_FLAG_REUSE, smtp_connection_cache_on_demand) or the next hop is
 * in smtp_connection_cache_destinations.  The skeleton reports the held
 * next hop to the queue manager (reply attribute "session"), which then
 * sends the next request for it to this process.  A reused session is
 * RSET first (a failed RSET closes it and a new one is made, silently; to
 * a server that offers PIPELINING the RSET goes out with the MAIL, RCPT and
 * DATA of the next transaction, which then counts for nothing); it
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
 * Content (docs/RELAY.md "Content the server cannot take"): a message the
 * queue file flags SMTPUTF8 gets the SMTPUTF8 parameter from a server that
 * offers it; to one that does not, it is returned (5.6.7) when its sender,
 * a recipient of the transaction or a primary header field is non-ASCII,
 * and sent without the parameter otherwise.  An 8-bit body (or one
 * declared 8BITMIME) to a server without 8BITMIME is converted to
 * quoted-printable (smtp_mime.h) unless disable_mime_output_conversion.
 * The content is scanned once per request for what these need.
 *
 * XFORWARD (smtp_send_xforward_command, lmtp_send_xforward_command; off by
 * default): to a server that announces it, the original client's name,
 * address, port, protocol and HELO name, the queue ID and the origin
 * (LOCAL/REMOTE) go ahead of each MAIL FROM, taken from the queue file
 * (xforward_init(); smtp_xforward.h builds the commands).
 *
 * Per next hop, before connecting: the TLS policy (smtp_tls_policy_maps
 * over smtp_tls_security_level; one that cannot be parsed defers, 4.7.5)
 * and, per server, the SMTP AUTH login (smtp_sasl_password_maps, smtp_sasl.h; a table
 * that cannot be read defers, 4.3.0) and, under the dane and dane-only
 * levels, the server's TLSA records (dane_policy(), smtp_dane.h).
 * docs/RELAY.md has the whole story.
 *
 * Parameters are the smtp_* ones, for every service name (as in Postfix,
 * where a master.cf "relay" service running smtp also reads smtp_*); LMTP
 * mode reads the lmtp_* ones it has.  Per-service values come from
 * master.cf "-o" options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <resolv.h>
#include <sys/un.h>

#include "agents/common/agent_server.h"
#include "agents/smtp/smtp_body.h"
#include "agents/smtp/smtp_cmd.h"
#include "agents/smtp/smtp_dane.h"
#include "agents/smtp/smtp_mx.h"
#include "agents/smtp/smtp_proto.h"
#include "agents/smtp/smtp_sasl.h"
#include "agents/smtp/smtp_tls.h"
#include "agents/smtp/smtp_xforward.h"
#include "global/deliver_request.h"
#include "global/dsn.h"
#include "global/maps.h"
#include "global/notice.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

static bool lmtp_mode;			/* run as "lmtp": LMTP, lmtp_* parameters */
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
static bool dnssec_enabled;		/* smtp_dns_support_level = dnssec */
/* dane / dane-only resolved for the server being tried (see dane_policy()). */
static struct smtp_session_conf server_conf;
static struct smtp_tlsa server_tlsa;
/* The connection cache settings: smtp_* or lmtp_*. */
static bool cache_on_demand;
static const char *cache_destinations;
static long cache_time_limit;
static long reuse_count_limit;
static bool send_xforward;		/* smtp_send_xforward_command or lmtp_... */

static void self_add_list(const char *param, const char *value);

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
		.session_cache_timeout = var_smtp_tls_session_cache_timeout,
		.session_cache_database = var_smtp_tls_session_cache_database,
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
		.xforward_timeout = (double)var_smtp_xforward_timeout,
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
	cache_on_demand = var_smtp_connection_cache_on_demand;
	cache_destinations = var_smtp_connection_cache_destinations;
	cache_time_limit = var_smtp_connection_cache_time_limit;
	reuse_count_limit = var_smtp_connection_reuse_count_limit;
	send_xforward = var_smtp_send_xforward_command;
	session_conf.bind_address6 = var_smtp_bind_address6;
	if (lmtp_mode) {
		/* Postfix's LMTP client reads lmtp_* settings; no TLS, no AUTH here. */
		session_conf.lmtp = true;
		session_conf.helo_name = var_lmtp_lhlo_name;
		session_conf.bind_address = var_lmtp_bind_address;
		session_conf.bind_address6 = var_lmtp_bind_address6;
		session_conf.connect_timeout = (double)var_lmtp_connect_timeout;
		session_conf.helo_timeout = (double)var_lmtp_lhlo_timeout;
		session_conf.mail_timeout = (double)var_lmtp_mail_timeout;
		session_conf.rcpt_timeout = (double)var_lmtp_rcpt_timeout;
		session_conf.data_init_timeout = (double)var_lmtp_data_init_timeout;
		session_conf.data_xfer_timeout = (double)var_lmtp_data_xfer_timeout;
		session_conf.data_done_timeout = (double)var_lmtp_data_done_timeout;
		session_conf.rset_timeout = (double)var_lmtp_rset_timeout;
		session_conf.quit_timeout = (double)var_lmtp_quit_timeout;
		session_conf.xforward_timeout = (double)var_lmtp_xforward_timeout;
		session_conf.line_length_limit = var_lmtp_line_length_limit;
		session_conf.skip_quit_response = var_lmtp_skip_quit_response;
		session_conf.tls_level = level = SMTP_TLS_NONE;
		session_conf.skip_5xx_greeting = false;
		cache_on_demand = var_lmtp_connection_cache_on_demand;
		cache_destinations = var_lmtp_connection_cache_destinations;
		cache_time_limit = var_lmtp_connection_cache_time_limit;
		reuse_count_limit = var_lmtp_connection_reuse_count_limit;
		send_xforward = var_lmtp_send_xforward_command;
	}
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
	if (!lmtp_mode && (level != SMTP_TLS_NONE || *var_smtp_tls_policy_maps)
	    && smtp_tls_init(&tls, &tls_error) < 0)
		msg_warn("TLS is not available: %s", tls_error);
	/* Read now (root-only files); a broken table defers every delivery. */
	if (!lmtp_mode && *var_smtp_tls_policy_maps) {
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
	if (!lmtp_mode && var_smtp_sasl_auth_enable) {
		const char *error;

		if (smtp_sasl_init(&error) < 0)
			sasl_error = xasprintf("SASL library initialization failed: %s", error);
		else if ((sasl_passwd = maps_open(var_smtp_sasl_password_maps, &error)) == NULL)
			sasl_error = xasprintf("smtp_sasl_password_maps lookup error: %s", error);
		if (sasl_error)
			msg_warn("%s", sasl_error);
	}
	res_init();
	/*
	 * smtp_dns_support_level = dnssec: ask for DNSSEC (EDNS0 with DO) and
	 * believe the resolver's AD bit (smtp_dane.h says what that needs).
	 */
	if (strcasecmp(var_smtp_dns_support_level, "dnssec") == 0) {
		dnssec_enabled = true;
		_res.options |= RES_USE_EDNS0 | RES_USE_DNSSEC;
	} else if (*var_smtp_dns_support_level
		   && strcasecmp(var_smtp_dns_support_level, "enabled") != 0
		   && strcasecmp(var_smtp_dns_support_level, "disabled") != 0) {
		msg_fatal("smtp_dns_support_level: unknown level \"%s\" (disabled, enabled, dnssec)",
			  var_smtp_dns_support_level);
	}
	if (lmtp_mode)
		default_port = 24;
	if ((se = getservbyname(lmtp_mode ? "lmtp" : "smtp", "tcp")) != NULL)
		default_port = ntohs((unsigned short)se->s_port);
	/* Our own addresses, for the mail loop check. */
	if (!lmtp_mode) {
		self_add_list("inet_interfaces", var_inet_interfaces);
		self_add_list("proxy_interfaces", var_proxy_interfaces);
	}
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
	left = cached->idle_since + (double)cache_time_limit - mono_time();
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
	    || mono_time() - s->idle_since > (double)cache_time_limit) {
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
	if (!lmtp_mode && var_smtp_sasl_auth_enable && var_smtp_sender_dependent_authentication)
		return false;
	if (reuse_count_limit > 0 && s->uses >= reuse_count_limit)
		return false;
	if ((req->flags & DEL_REQ_FLAG_REUSE) && cache_on_demand)
		return true;
	return *cache_destinations && str_list_match(cache_destinations, req->nexthop);
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

/* ---- the mail loop check ---- */

/* The addresses this mail system receives mail on (inet_interfaces,
 * proxy_interfaces), for the loop check; ports do not matter (Postfix). */
static struct sockaddr_storage *self_addrs;
static size_t self_count;

/* self_add - one address of ours */
static void self_add(const struct sockaddr *sa)
{
	size_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					       : sizeof(struct sockaddr_in);

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	self_addrs = xrealloc(self_addrs, (self_count + 1) * sizeof(*self_addrs));
	memset(&self_addrs[self_count], 0, sizeof(*self_addrs));
	memcpy(&self_addrs[self_count++], sa, len);
}

/* self_add_list - inet_interfaces or proxy_interfaces into self_addrs */
static void self_add_list(const char *param, const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *tok;

	while ((tok = str_token(&cp, ", \t\r\n")) != NULL) {
		if (strcasecmp(tok, "all") == 0) {
			struct ifaddrs *ifa, *i;

			if (getifaddrs(&ifa) < 0) {
				msg_warn("%s: getifaddrs: %m", param);
				continue;
			}
			for (i = ifa; i; i = i->ifa_next)
				if (i->ifa_addr)
					self_add(i->ifa_addr);
			freeifaddrs(ifa);
		} else if (strcasecmp(tok, "loopback-only") == 0) {
			struct sockaddr_in v4 = {.sin_family = AF_INET};
			struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};

			v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			v6.sin6_addr = in6addr_loopback;
			self_add((struct sockaddr *)&v4);
			self_add((struct sockaddr *)&v6);
		} else {
			struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *r;
			char *host = tok;
			size_t len = strlen(host);

			if (*host == '[' && len > 1 && host[len - 1] == ']') {
				host[len - 1] = 0;
				host++;
			}
			if (getaddrinfo(host, NULL, &hints, &res) != 0) {
				msg_warn("%s: cannot find the address of \"%s\"", param, host);
				continue;
			}
			for (r = res; r; r = r->ai_next)
				self_add(r->ai_addr);
			freeaddrinfo(res);
		}
	}
	free(copy);
}

/* is_self - is a's address one of ours? */
static bool is_self(const struct smtp_addr *a)
{
	for (size_t i = 0; i < self_count; i++) {
		const struct sockaddr_storage *m = &self_addrs[i];

		if (m->ss_family != a->sa.ss_family)
			continue;
		if (m->ss_family == AF_INET
		    && ((const struct sockaddr_in *)m)->sin_addr.s_addr
		       == ((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr)
			return true;
		if (m->ss_family == AF_INET6
		    && memcmp(&((const struct sockaddr_in6 *)m)->sin6_addr,
			      &((const struct sockaddr_in6 *)&a->sa)->sin6_addr,
			      sizeof(struct in6_addr)) == 0)
			return true;
	}
	return false;
}

/*
 * loop_check - the servers of a next hop less this host and everything it
 * prefers less or as much (as Postfix: a backup MX sends only to better
 * ones).  -1 when nothing is left: the mail would loop.  Only for the SMTP
 * port: a filter on another port of this host is no loop.
 */
static int loop_check(struct smtp_addr_list *l, unsigned port)
{
	if (lmtp_mode || port != 25)
		return 0;
	for (size_t i = 0; i < l->count; i++) {
		if (!is_self(&l->addr[i]))
			continue;
		int pref = l->addr[i].pref;
		size_t keep = 0;

		while (keep < l->count && l->addr[keep].pref < pref)
			keep++;
		if (msg_verbose)
			msg_info("found myself at %s, preference %d: %zu server%s left", l->addr[i].ip,
				 pref, keep, keep == 1 ? "" : "s");
		smtp_addr_limit(l, (long)keep);
		return keep ? 0 : -1;
	}
	return 0;
}

/* ---- the servers of one delivery ---- */

/*
 * A route: the sites of a delivery in order -- the request's next hop, a
 * comma/space separated list as relayhost may be, then smtp_fallback_relay
 * (not for LMTP) -- and each site's servers.  route_next() gives the next
 * set-up session; the caller asks again for recipients a server deferred.
 */
struct route {
	struct agent_delivery *d;
	struct argv *sites;
	size_t site;			/* the current site */
	bool open;			/* addrs holds the current site's servers */
	struct smtp_nexthop nh;
	struct smtp_addr_list addrs;
	size_t next;			/* the next of addrs to try */
	long sessions;			/* servers of this site that answered */
	struct smtp_auth auth;
	struct smtp_auth *login;
	struct smtp_failure fail;	/* the last failure */
	bool fail_logged;		/* it got its own log line */
	bool stop;			/* the last failure ends the search */
	bool spoke;			/* some server was set up */
	const char *skip_ip;		/* the held session's server: tried already */
	unsigned skip_port;
};

/* route_init - the sites of a request */
static void route_init(struct route *r, struct agent_delivery *d, const char *skip_ip,
		       unsigned skip_port)
{
	memset(r, 0, sizeof(*r));
	r->d = d;
	r->skip_ip = skip_ip;
	r->skip_port = skip_port;
	r->sites = argv_split(d->req->nexthop, ", \t\r\n");
	if (r->sites->argc == 0)
		argv_add(r->sites, d->req->nexthop, (char *)NULL);
	if (!lmtp_mode && *var_smtp_fallback_relay) {
		struct argv *fb = argv_split(var_smtp_fallback_relay, ", \t\r\n");

		for (size_t i = 0; i < fb->argc; i++)
			if (argv_find(r->sites, fb->argv[i]) < 0)
				argv_add(r->sites, fb->argv[i], (char *)NULL);
		argv_free(&fb);
	}
}

/* route_close_site - forget the current site's servers and login */
static void route_close_site(struct route *r)
{
	if (!r->open)
		return;
	smtp_addr_list_deinit(&r->addrs);
	smtp_auth_deinit(&r->auth);
	r->login = NULL;
	smtp_nexthop_deinit(&r->nh);
	r->open = false;
}

/* route_free - release everything */
static void route_free(struct route *r)
{
	route_close_site(r);
	smtp_failure_deinit(&r->fail);
	argv_free(&r->sites);
}

/* route_fail - the current failure, as a site-level one */
static void route_fail(struct route *r, const char *status, bool hard, bool hop,
		       const char *reason)
{
	smtp_failure_deinit(&r->fail);
	snprintf(r->fail.status, sizeof(r->fail.status), "%s", status);
	r->fail.reason = xstrdup(reason);
	r->fail.hard = hard;
	r->fail.hop = hop;
	r->fail_logged = false;
}

/* unix_addr - the one "server" of an LMTP unix:/path next hop */
static int unix_addr(const char *path, struct smtp_addr_list *l)
{
	struct sockaddr_un *sun;
	struct smtp_addr *a;

	if (*path == 0 || strlen(path) >= sizeof(sun->sun_path))
		return -1;
	l->addr = xcalloc(1, sizeof(*l->addr));
	l->count = l->cap = 1;
	a = &l->addr[0];
	a->host = xstrdup(var_myhostname);
	sun = (struct sockaddr_un *)&a->sa;
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	a->salen = (socklen_t)sizeof(*sun);
	snprintf(a->ip, sizeof(a->ip), "%s", path);
	return 0;
}

/*
 * route_open_site - parse the current site, find its TLS policy, login and
 * servers.  0, or -1 with r->fail (r->stop when nothing else may be tried).
 */
static int route_open_site(struct route *r)
{
	const char *site = r->sites->argv[r->site], *error;
	struct smtp_lookup_error lerr;
	char *reason = NULL;

	r->next = 0;
	r->sessions = 0;
	/* LMTP: "unix:/path", "inet:host[:port]" or a host; never MX records. */
	if (lmtp_mode && strncmp(site, "unix:", 5) == 0) {
		if (unix_addr(site + 5, &r->addrs) < 0) {
			reason = xasprintf("bad next hop \"%s\": bad socket path", site);
			route_fail(r, "4.3.5", false, false, reason);
			free(reason);
			return -1;
		}
		r->nh.host = xstrdup(site + 5);
		req_conf = session_conf;
		r->open = true;
		return 0;
	}
	if (lmtp_mode && strncmp(site, "inet:", 5) == 0)
		site += 5;
	if (smtp_nexthop_parse(site, default_port, &r->nh, &error) < 0) {
		reason = xasprintf("bad next hop \"%s\": %s", site, error);
		route_fail(r, "4.3.5", false, false, reason);
		free(reason);
		return -1;
	}
	if (lmtp_mode)
		r->nh.no_mx = true;
	r->open = true;
	/* The TLS policy: one that cannot be applied never means plain text. */
	if (lmtp_mode) {
		req_conf = session_conf;
	} else if (apply_policy(site, r->nh.host, &reason) < 0) {
		route_fail(r, "4.7.5", false, false, reason);
		free(reason);
		return -1;
	}
	/* A password table that cannot be read: no server gets the mail. */
	if (!lmtp_mode && var_smtp_sasl_auth_enable && sasl_error) {
		route_fail(r, "4.3.0", false, false, sasl_error);
		return -1;
	}
	if (smtp_lookup(&r->nh, &lookup_conf, &r->addrs, &lerr) < 0) {
		route_fail(r, lerr.status, lerr.status[0] == '5', lerr.status[0] == '4',
			   lerr.reason);
		return -1;
	}
	/* Postfix: never a backup host when the mail would loop back. */
	if (loop_check(&r->addrs, r->nh.port) < 0) {
		reason = xasprintf("mail for %s loops back to myself", site);
		route_fail(r, "5.4.6", true, false, reason);
		free(reason);
		r->stop = true;
		return -1;
	}
	return 0;
}

/*
 * find_login - the login for server a of the current site (or the sender):
 * smtp_sasl_lookup() keys in Postfix's order, the server's own name (MX host
 * name) before the next hop.  0 (r->login NULL when there is none), or -1
 * with r->fail.
 */
static int find_login(struct route *r, const struct smtp_addr *a)
{
	const char *error, *site = r->sites->argv[r->site];
	int found;

	smtp_auth_deinit(&r->auth);
	r->login = NULL;
	if (lmtp_mode || !var_smtp_sasl_auth_enable)
		return 0;
	found = smtp_sasl_lookup(sasl_passwd, var_smtp_sender_dependent_authentication,
				 r->d->req->sender, a->host, site, &r->auth, &error);
	if (found < 0) {
		route_fail(r, "4.3.0", false, false, error);
		return -1;
	}
	if (found > 0) {
		r->login = &r->auth;
		if (msg_verbose) {
			struct buf u, k;

			buf_init(&u, 64);
			buf_init(&k, 64);
			msg_info("SASL login %s for %s", log_escape(&u, r->auth.user),
				 log_escape(&k, r->auth.key));
			buf_deinit(&u);
			buf_deinit(&k);
		}
	}
	return 0;
}

/*
 * dane_policy - the TLS level for server a when the policy is dane or
 * dane-only (RFC 7672, as Postfix):
 *   - without smtp_dns_support_level = dnssec: dane is may (logged once);
 *     dane-only defers;
 *   - addresses not DNSSEC-validated (MX or address records without the AD
 *     bit): dane is may, dane-only defers;
 *   - TLSA records: validated and usable: a session that must match them;
 *     none usable: dane is encrypt, dane-only defers; validated proof of no
 *     records, or an insecure answer: dane is may, dane-only defers;
 *   - a TLSA look-up that fails (SERVFAIL: a bogus signature is one) defers
 *     with both (this server; the next one is tried).
 * 0 with *conf_r, or -1 with r->fail.
 */
static int dane_policy(struct route *r, const struct smtp_addr *a,
		       const struct smtp_session_conf **conf_r)
{
	static bool warned;
	bool only = req_conf.tls_level == SMTP_TLS_DANE_ONLY;
	char why[256], *reason = NULL;
	int rc;

	*conf_r = &req_conf;
	if (req_conf.tls_level != SMTP_TLS_DANE && !only)
		return 0;
	server_conf = req_conf;
	server_conf.tlsa = NULL;
	smtp_tlsa_deinit(&server_tlsa);
	*conf_r = &server_conf;
	if (!dnssec_enabled) {
		if (!only) {
			if (!warned)
				msg_warn("TLS policy \"dane\" needs smtp_dns_support_level = dnssec: "
					 "using \"may\"");
			warned = true;
			server_conf.tls_level = SMTP_TLS_MAY;
			return 0;
		}
		reason = xasprintf("TLS is required, but DANE is not available for host %s[%s]: "
				   "smtp_dns_support_level is not dnssec", a->host, a->ip);
	} else if (!a->dnssec) {
		if (!only) {
			server_conf.tls_level = SMTP_TLS_MAY;
			return 0;
		}
		reason = xasprintf("TLS is required, but the address of host %s[%s] was not "
				   "found securely (DNSSEC)", a->host, a->ip);
	} else if ((rc = smtp_dane_lookup(a->host, a->port, &server_tlsa, why, sizeof(why)))
		   == SMTP_DANE_ERROR) {
		reason = xasprintf("TLSA lookup error for %s:%u: %s", a->host, a->port, why);
	} else if (rc == SMTP_DANE_FOUND && smtp_tls_tlsa_usable(&server_tlsa) > 0) {
		server_conf.tls_level = SMTP_TLS_DANE;
		server_conf.tlsa = &server_tlsa;
		return 0;
	} else if (rc == SMTP_DANE_FOUND) {
		if (!only) {
			server_conf.tls_level = SMTP_TLS_ENCRYPT;
			return 0;
		}
		reason = xasprintf("TLS is required, but none of the TLSA records of host %s "
				   "are usable", a->host);
	} else {
		if (!only) {
			server_conf.tls_level = SMTP_TLS_MAY;
			return 0;
		}
		reason = xasprintf("TLS is required, but no %sTLSA records were found for host %s",
				   rc == SMTP_DANE_INSECURE ? "DNSSEC-validated " : "", a->host);
	}
	route_fail(r, "4.7.5", false, true, reason);
	free(reason);
	return -1;
}

/* route_try - one server of the current site: 0 with *sp, or -1 (r->fail) */
static int route_try(struct route *r, const struct smtp_addr *a, struct smtp_session **sp)
{
	const struct smtp_session_conf *conf;
	struct smtp_failure *fail = &r->fail;
	const char *site = r->d->req->nexthop;

	smtp_failure_deinit(fail);
	r->fail_logged = false;
	if (find_login(r, a) < 0 || dane_policy(r, a, &conf) < 0)
		return -1;
	if (conf->tls_level >= SMTP_TLS_ENCRYPT && tls_error) {
		snprintf(fail->status, sizeof(fail->status), "4.7.5");
		fail->reason = xasprintf("TLS is required, but not available: %s", tls_error);
		r->stop = true;
		return -1;
	}
	if (smtp_session_open(conf, a, site, r->nh.host, tls_error != NULL || lmtp_mode,
			      r->login, sp, fail) == 0)
		return 0;
	notify_failure(r->d, fail);
	if (fail->retry_plain) {
		/* Opportunistic TLS failed: this server again, in plain text. */
		log_failure(fail->reason, "; trying again without TLS");
		smtp_failure_deinit(fail);
		if (smtp_session_open(conf, a, site, r->nh.host, true, r->login, sp,
				      fail) == 0)
			return 0;
		notify_failure(r->d, fail);
	}
	return -1;
}

/* route_next - the next server of the route that sets up a session, or
 * NULL with r->fail saying why the last one did not */
static struct smtp_session *route_next(struct route *r)
{
	struct smtp_session *s = NULL;

	while (!r->stop && r->site < r->sites->argc) {
		if (!r->open) {
			if (r->fail.reason && !r->fail_logged) {
				log_failure(r->fail.reason, "");
				r->fail_logged = true;
			}
			if (route_open_site(r) < 0) {
				route_close_site(r);
				r->site++;
				continue;
			}
		}
		while (r->next < r->addrs.count) {
			const struct smtp_addr *a = &r->addrs.addr[r->next++];

			if (r->skip_ip && r->skip_port == a->port && strcmp(r->skip_ip, a->ip) == 0)
				continue;
			/* As Postfix: each failed server gets its own log line. */
			if (r->fail.reason && !r->fail_logged) {
				log_failure(r->fail.reason, "");
				r->fail_logged = true;
			}
			if (route_try(r, a, &s) == 0) {
				r->spoke = true;
				return s;
			}
			if (r->stop)
				return NULL;
			/* soft_bounce: a server's 5xx is no reason to skip the others. */
			if (r->fail.hard && !var_soft_bounce) {
				r->stop = true;
				return NULL;
			}
			/* smtp_mx_session_limit counts servers that answered at all. */
			if (strcmp(r->fail.status, "4.4.1") != 0 && var_smtp_mx_session_limit > 0
			    && ++r->sessions >= var_smtp_mx_session_limit)
				break;
		}
		route_close_site(r);
		r->site++;
	}
	return NULL;
}

/* route_give_up - every recipient still to do gets the route's last failure */
static void route_give_up(struct route *r)
{
	struct smtp_failure *f = &r->fail;

	if (f->reason == NULL)
		route_fail(r, "4.3.0", false, false, "no server to try");
	everyone(r->d, f->hard, f->status, f->reason, f->mta, f->diag, "none");
	if (f->hop && !f->hard && !r->spoke)
		agent_hop_failed(r->d, f->status, f->reason);
}

/* content - the message content, from the queue file */
static int content(smtp_sink_fn *sink, void *sink_ctx, void *ctx, const char **error_r)
{
	struct agent_delivery *d = ctx;

	return qf_read_content(d->qf, sink, sink_ctx, error_r);
}

/* What the message needs from a server, learned once per request. */
struct msg_needs {
	bool smtputf8;		/* QF_FLAG_SMTPUTF8, with smtputf8_enable */
	bool declared_8bit;	/* encoding=8bit: it came in with BODY=8BITMIME */
	bool scanned;		/* the content scan below is done */
	bool header_8bit;	/* the primary header has a byte above 127 */
	bool body_8bit;		/* the body has one */
	/* XFORWARD (send_xforward): the original client, from the queue file. */
	bool xforward;
	struct smtp_xforward_attrs xfwd;	/* points into env below */
	struct qf_envelope env;			/* kept while xforward */
};

/* The content scan: where we are, what we found. */
struct scan_state {
	struct msg_needs *m;
	bool in_header;
	bool bol;
};

/* scan_sink - note 8-bit bytes in the header and the body; stop at the
 * first one in the body (the header comes first, so all is known then) */
static int scan_sink(const char *data, size_t len, void *ctx)
{
	struct scan_state *st = ctx;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (st->in_header) {
			if (c == '\n' && st->bol)
				st->in_header = false;
			else if (c & 0x80)
				st->m->header_8bit = true;
			st->bol = c == '\n';
		} else if (c & 0x80) {
			st->m->body_8bit = true;
			return -1;
		}
	}
	return 0;
}

/* scan_known - scan the content once per request; 0, or -1 with *error_r
 * (the queue file could not be read) */
static int scan_known(struct agent_delivery *d, struct msg_needs *m, const char **error_r)
{
	struct scan_state st = {.m = m, .in_header = true, .bol = true};

	if (m->scanned)
		return 0;
	if (qf_read_content(d->qf, scan_sink, &st, error_r) < 0 && !m->body_8bit)
		return -1;
	m->scanned = true;
	return 0;
}

/* attr_value - the value of "name=value" in a queue file's attributes, or NULL */
static const char *attr_value(char **attrs, const char *name)
{
	size_t n = strlen(name);

	for (char **a = attrs; a && *a; a++)
		if (strncmp(*a, name, n) == 0 && (*a)[n] == '=')
			return *a + n + 1;
	return NULL;
}

/* known - a client attribute's value, or NULL when it says "unknown" (the
 * name of a client without a reverse name, as Postfix writes it too) */
static const char *known(const char *value)
{
	return value && strcasecmp(value, "unknown") != 0 ? value : NULL;
}

/*
 * xforward_init - what XFORWARD says about the message: the log_* copies
 * that smtpd wrote (the client that first gave the message to this system),
 * the queue ID it is known by (log_ident when it came with one, else ours),
 * and SOURCE from rewrite_context.  Only smtpd writes rewrite_context; mail
 * without it came from sendmail/pickup, a bounce or a local forward: LOCAL,
 * as Postfix's queue manager presets it.  Missing values, and a client
 * name, address, port or protocol "unknown", are sent as [UNAVAILABLE]
 * (smtp_xforward.h); Postfix leaves those out, which a server takes the
 * same way.  The address goes as the queue file has it, an IPv6 one
 * without the "IPv6:" prefix, as Postfix sends it (a server takes both).
 */
static void xforward_init(struct agent_delivery *d, struct msg_needs *m)
{
	char **attrs = m->env.attrs;
	const char *rwr = attr_value(attrs, "rewrite_context"), *ident;

	ident = attr_value(attrs, "log_ident");
	m->xfwd = (struct smtp_xforward_attrs) {
		.name = known(attr_value(attrs, "log_client_name")),
		.addr = known(attr_value(attrs, "log_client_address")),
		.port = known(attr_value(attrs, "log_client_port")),
		.proto = known(attr_value(attrs, "log_protocol_name")),
		.helo = attr_value(attrs, "log_helo_name"),
		.ident = ident && *ident ? ident : d->req->queue_id,
		.source = rwr && strcmp(rwr, "remote") == 0 ? "REMOTE" : "LOCAL",
	};
	m->xforward = true;
}

/* msg_needs_init - the queue file's SMTPUTF8 flag and declared encoding,
 * and the XFORWARD attributes when they are sent; 0, or -1 with *error_r */
static int msg_needs_init(struct agent_delivery *d, struct msg_needs *m, const char **error_r)
{
	memset(m, 0, sizeof(*m));
	if (qf_read_envelope(d->qf, &m->env, error_r) < 0)
		return -1;
	m->smtputf8 = var_smtputf8_enable && (m->env.flags & QF_FLAG_SMTPUTF8);
	for (char **a = m->env.attrs; a && *a; a++)
		if (strcasecmp(*a, "encoding=8bit") == 0)
			m->declared_8bit = true;
	if (send_xforward)
		xforward_init(d, m);
	else
		qf_envelope_deinit(&m->env);
	return 0;
}

/* msg_needs_deinit - release what msg_needs_init() kept */
static void msg_needs_deinit(struct msg_needs *m)
{
	if (m->xforward) {
		qf_envelope_deinit(&m->env);
		m->xforward = false;
	}
}

/* non_ascii - any byte above 127 */
static bool non_ascii(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s & 0x80)
			return true;
	return false;
}

/*
 * utf8_needed - does this transaction need SMTPUTF8?  Postfix's rule for
 * a message flagged SMTPUTF8: yes when the envelope sender, a recipient
 * of this transaction or a primary header field has non-ASCII text.
 */
static bool utf8_needed(const struct deliver_request *req, const size_t *idx, size_t n,
			const struct msg_needs *m)
{
	if (m->header_8bit || non_ascii(req->sender))
		return true;
	for (size_t j = 0; j < n; j++)
		if (non_ascii(req->rcpt[idx[j]].address))
			return true;
	return false;
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

/* record_deferred - a deferral kept for another server, now final */
static void record_deferred(struct agent_delivery *d, size_t i, const struct smtp_rcpt_result *r,
			    const char *relay, const char *mta)
{
	struct dsn dsn = agent_dsn(r->status, "delayed", r->reason);

	dsn.mta = r->diag ? mta : NULL;
	dsn.diag_type = r->diag ? "smtp" : NULL;
	dsn.diag_text = r->diag;
	agent_rcpt_defer(d, i, &dsn, relay ? relay : "none");
}

/*
 * transact - one transaction on s for the recipients in idx[0..n): each
 * outcome is recorded, except deferrals when more_servers (another server
 * may take them: left in res[] for the caller).  Returns what
 * smtp_session_deliver() returned, or SMTP_TXN_LOCAL.
 */
static int transact(struct agent_delivery *d, struct smtp_session *s, const size_t *idx, size_t n,
		    struct smtp_rcpt_result *res, struct msg_needs *m, bool more_servers)
{
	struct deliver_request *req = d->req;
	struct deliver_rcpt *sub;
	struct smtp_txn txn;
	const char *error;
	char *relay;
	int ret;
	bool offers_8bit = (s->features & SMTP_FEAT_8BITMIME) != 0;
	bool convert = !offers_8bit && !var_disable_mime_output_conversion;
	bool utf8_check = m->smtputf8 && !(s->features & SMTP_FEAT_SMTPUTF8);

	/*
	 * The content matters for BODY=8BITMIME (a server that offers it), for
	 * the quoted-printable conversion (one that does not) and for whether
	 * a message flagged SMTPUTF8 really needs it (non-ASCII header).
	 */
	if ((offers_8bit || convert || utf8_check) && scan_known(d, m, &error) < 0) {
		char *reason = xasprintf("local data error while talking to %s: %s", s->namaddr,
					 error);

		everyone(d, false, "4.3.0", reason, NULL, NULL, s->relay);
		free(reason);
		s->chat.troubles |= NOTICE_DATA;
		notify(d, &s->chat, s->namaddr);
		return SMTP_TXN_LOCAL;
	}
	/*
	 * SMTPUTF8 required but not offered: the recipients are returned, as
	 * Postfix does (no other server is tried: RFC 6531 3.4 says a server
	 * without it cannot take the message, and the next one is no likelier).
	 */
	if (utf8_check && utf8_needed(req, idx, n, m)) {
		struct smtp_rcpt_result r = {.outcome = SMTP_RCPT_BOUNCE, .status = "5.6.7"};

		r.reason = xasprintf("SMTPUTF8 is required, but was not offered by host %s",
				     s->namaddr);
		for (size_t j = 0; j < n; j++)
			record(d, s, idx[j], &r, s->relay);
		free(r.reason);
		return SMTP_TXN_OK;
	}
	sub = xcalloc(n ? n : 1, sizeof(*sub));
	for (size_t j = 0; j < n; j++)
		sub[j] = req->rcpt[idx[j]];
	memset(&txn, 0, sizeof(txn));
	txn.sender = req->sender;
	txn.envid = req->envid;
	txn.ret = req->ret;
	txn.size = req->data_size;
	txn.eightbit = m->declared_8bit || m->header_8bit || m->body_8bit;
	txn.smtputf8 = m->smtputf8 && (s->features & SMTP_FEAT_SMTPUTF8);
	/* 8-bit body, or declared so, to a server without 8BITMIME. */
	txn.downgrade = convert && (m->declared_8bit || m->body_8bit);
	txn.mime_nesting_limit = var_mime_nesting_limit;
	txn.verify_only = (req->flags & DEL_REQ_FLAG_VERIFY) != 0;
	txn.rcpt_count = n;
	txn.rcpt = sub;
	txn.content = content;
	txn.content_ctx = d;
	txn.xforward = m->xforward ? &m->xfwd : NULL;
	ret = smtp_session_deliver(s, &txn, res);
	free(sub);
	if (ret == SMTP_TXN_STALE)
		return ret;	/* nothing decided: the caller connects afresh */

	/* Postfix's relay=host[ip]:port, conn_use=N for reused sessions. */
	relay = s->uses > 1 ? xasprintf("%s, conn_use=%ld", s->relay, s->uses)
			    : xstrdup(s->relay);
	for (size_t j = 0; j < n; j++) {
		if (res[j].outcome == SMTP_RCPT_DEFER && more_servers)
			continue;
		record(d, s, idx[j], &res[j], relay);
	}
	free(relay);
	/* Postfix's "Transcript of session follows." when notify_classes wants it. */
	notify(d, &s->chat, s->namaddr);
	return ret;
}

/*
 * smtp_deliver - one delivery request.  A server's temporary refusal of
 * some recipients (or of the whole transaction) sends those recipients on
 * to the next server of the route -- the next MX, the next relayhost, a
 * fallback relay -- as Postfix does; they are deferred only when no
 * server is left.
 */
static int smtp_deliver(struct agent_delivery *d)
{
	struct deliver_request *req = d->req;
	struct smtp_rcpt_result *res, *kept;
	struct smtp_session *s;
	struct route route;
	bool routed = false, connected = false;
	char *last_relay = NULL, *last_mta = NULL, last_ip[108] = "";
	unsigned last_port = 0;
	size_t *idx, n = req->rcpt_count;
	struct msg_needs needs;
	const char *error;
	int ret;

	if (msg_needs_init(d, &needs, &error) < 0) {
		msg_warn("%s: %s", req->queue_id, error);
		return -1;
	}
	notified = false;
	idx = xcalloc(n ? n : 1, sizeof(*idx));
	res = xcalloc(n ? n : 1, sizeof(*res));
	kept = xcalloc(n ? n : 1, sizeof(*kept));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;

	/* A held session to this next hop, or a new one. */
	if ((s = cache_take(req->nexthop)) == NULL) {
		cache_close();
		route_init(&route, d, NULL, 0);
		routed = true;
		s = route_next(&route);
	} else {
		snprintf(last_ip, sizeof(last_ip), "%s", s->ip);
		last_port = s->port;
	}
	while (s != NULL) {
		bool more;
		size_t left = 0;

		if (!connected) {
			agent_connected(d);
			connected = true;
		}
		/* Is there another server to try?  Not known yet: assume so while
		 * the route has sites, and settle it below. */
		more = !routed || (!route.stop && (route.next < route.addrs.count
						   || route.site + 1 < route.sites->argc));
		ret = transact(d, s, idx, n, res, &needs, more);
		if (ret == SMTP_TXN_LOCAL) {
			smtp_session_close(&s);
			break;
		}
		if (ret == SMTP_TXN_STALE) {
			/* The held session's pipelined RSET failed: as if there were
			 * no held session (cache_take), a new one, silently. */
			smtp_session_close(&s);
			route_init(&route, d, NULL, 0);
			routed = true;
			if ((s = route_next(&route)) == NULL)
				route_give_up(&route);
			continue;
		}
		/* Keep the server's replies for when nobody else takes them. */
		smtp_results_deinit(kept, req->rcpt_count);
		for (size_t j = 0; j < n; j++) {
			if (res[j].outcome == SMTP_RCPT_DEFER && more) {
				idx[left] = idx[j];
				kept[left++] = res[j];
				memset(&res[j], 0, sizeof(res[j]));
			}
		}
		smtp_results_deinit(res, req->rcpt_count);
		n = left;
		free(last_relay);
		free(last_mta);
		last_relay = xstrdup(s->relay);
		last_mta = xstrdup(s->host);
		if (ret == SMTP_TXN_OK && n == 0 && cache_wanted(req, s))
			cached = s;
		else
			smtp_session_close(&s);
		if (n == 0)
			break;
		/* The next server for the recipients this one deferred. */
		if (!routed) {
			route_init(&route, d, last_ip[0] ? last_ip : NULL, last_port);
			routed = true;
		}
		if (msg_verbose)
			msg_info("%zu recipient%s deferred by a server: trying the next one", n,
				 n == 1 ? "" : "s");
		if ((s = route_next(&route)) == NULL) {
			/* Nobody else: the last server's replies stand; why the
			 * others could not take them gets its own line. */
			if (route.fail.reason && !route.fail_logged)
				log_failure(route.fail.reason, "");
			for (size_t j = 0; j < n; j++)
				record_deferred(d, idx[j], &kept[j], last_relay, last_mta);
			n = 0;
		}
	}
	if (!connected && routed)
		route_give_up(&route);
	if (routed)
		route_free(&route);
	free(last_relay);
	free(last_mta);
	smtp_results_deinit(res, req->rcpt_count);
	smtp_results_deinit(kept, req->rcpt_count);
	free(res);
	free(kept);
	free(idx);
	msg_needs_deinit(&needs);
	return 0;
}

int main(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;

	/* As Postfix: the same program, run under the name "lmtp", speaks LMTP. */
	base = base ? base + 1 : argc > 0 ? argv[0] : "smtp";
	lmtp_mode = strcmp(base, "lmtp") == 0;
	static const struct agent_server_conf smtp_conf = {
		.progname = "smtp",
		.deliver = smtp_deliver,
		.pre_init = smtp_pre_init,
		.post_init = smtp_post_init,
		.idle_wait = smtp_idle_wait,
		.idle_fn = smtp_idle,
		.session_nexthop = smtp_session_nexthop,
		.disconnect_fn = smtp_disconnect,
	};
	struct agent_server_conf conf = smtp_conf;

	if (lmtp_mode)
		conf.progname = "lmtp";
	agent_server_main(argc, argv, &conf);
}
