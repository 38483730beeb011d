/*
 * smtp_mx - next hop parsing, MX look-up and address ordering (see
 * smtp_mx.h).
 *
 * Contract: smtp_lookup() returns addresses in the order they are to be
 * tried, at most smtp_mx_address_limit of them, or a status and reason
 * that say whether trying again later can help (4.4.3: the resolver could
 * not answer) or not (5.4.4: the name does not exist; 5.1.10: null MX).
 * Resolver failures are never logged here; the caller turns them into
 * recipient outcomes.
 *
 * What it does not do: Postfix's "mail for X loops back to myself" check
 * (dropping MX hosts at or after the local machine's own preference).  The
 * tests deliver to servers on this very machine, and sluice has no notion
 * yet of which names are its own for SMTP.
 *
 * Reason texts follow Postfix's wording ("Host or domain name not found.
 * Name service error for name=x type=MX: Host not found, try again") so
 * that postmasters recognise them.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/smtp/smtp_mx.h"
#include "util/mem.h"
#include "util/strutil.h"

/* Outcome of looking up one name. */
#define FOUND		1
#define NOT_FOUND	0	/* the name or its records do not exist */
#define TRY_LATER	(-1)	/* the resolver could not tell */

/* smtp_nexthop_deinit - free the fields */
void smtp_nexthop_deinit(struct smtp_nexthop *nh)
{
	XFREE(nh->host);
}

/* parse_port - "25" or a service name */
static int parse_port(const char *s, unsigned *port_r)
{
	struct servent *se;
	long n;

	if (str_is_digits(s)) {
		if (str_to_long(s, 1, 65535, &n) < 0)
			return -1;
		*port_r = (unsigned)n;
		return 0;
	}
	if (*s == 0 || (se = getservbyname(s, "tcp")) == NULL)
		return -1;
	*port_r = ntohs((unsigned short)se->s_port);
	return 0;
}

/* smtp_addr_is_literal - is s a numeric IPv4 or IPv6 address? */
bool smtp_addr_is_literal(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, tmp) == 1 || inet_pton(AF_INET6, s, tmp) == 1;
}

/* smtp_nexthop_parse - "[host]:port", "[host]", "host:port", "domain" */
int smtp_nexthop_parse(const char *nexthop, unsigned default_port, struct smtp_nexthop *nh,
		       const char **error_r)
{
	const char *host, *end, *port = NULL, *colon;
	size_t hlen;

	memset(nh, 0, sizeof(*nh));
	nh->port = default_port;
	if (*nexthop == '[') {
		host = nexthop + 1;
		if ((end = strchr(host, ']')) == NULL) {
			*error_r = "missing \"]\" in next hop";
			return -1;
		}
		hlen = (size_t)(end - host);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != 0) {
			*error_r = "garbage after \"]\" in next hop";
			return -1;
		}
		/* Postfix writes IPv6 literals as [ipv6:addr]. */
		if (hlen > 5 && strncasecmp(host, "ipv6:", 5) == 0) {
			host += 5;
			hlen -= 5;
		}
		nh->no_mx = true;
	} else {
		host = nexthop;
		colon = strchr(nexthop, ':');
		if (colon && strchr(colon + 1, ':') == NULL) {
			/* host:port; several colons make a bare IPv6 address. */
			hlen = (size_t)(colon - host);
			port = colon + 1;
			nh->no_mx = true;
		} else {
			hlen = strlen(host);
		}
	}
	if (hlen == 0) {
		*error_r = "empty host name in next hop";
		return -1;
	}
	if (port && parse_port(port, &nh->port) < 0) {
		*error_r = "bad port in next hop";
		return -1;
	}
	nh->host = xstrndup(host, hlen);
	if (smtp_addr_is_literal(nh->host))
		nh->no_mx = true;
	return 0;
}

/* smtp_mx_sort - stable sort by preference, then shuffle equal runs */
void smtp_mx_sort(struct smtp_mx *mx, size_t n, smtp_rand_fn *rnd, void *ctx)
{
	struct smtp_mx t;
	size_t i, j, run;

	/* Insertion sort: MX lists are short, and stability keeps "no rnd" exact. */
	for (i = 1; i < n; i++) {
		t = mx[i];
		for (j = i; j > 0 && mx[j - 1].pref > t.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = t;
	}
	if (rnd == NULL)
		return;
	/* Fisher-Yates within each run of equal preference. */
	for (i = 0; i < n; i = run) {
		for (run = i + 1; run < n && mx[run].pref == mx[i].pref; run++)
			;
		for (j = run - 1; j > i; j--) {
			size_t k = i + (size_t)rnd(ctx, (unsigned long)(j - i + 1));

			if (k > j)
				k = j;	/* a bad random source must not break us */
			t = mx[j];
			mx[j] = mx[k];
			mx[k] = t;
		}
	}
}

/* smtp_mx_free - release records */
void smtp_mx_free(struct smtp_mx **mxp, size_t n)
{
	if (*mxp == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free((*mxp)[i].host);
	free(*mxp);
	*mxp = NULL;
}

/* smtp_mx_is_null - RFC 7505: a single MX with exchange "." */
bool smtp_mx_is_null(const struct smtp_mx *mx, size_t n)
{
	return n == 1 && mx[0].host[0] == 0;
}

/* smtp_mx_parse_answer - MX records of a DNS reply */
long smtp_mx_parse_answer(const unsigned char *answer, size_t len, struct smtp_mx **mx_r,
			  const char **error_r)
{
	struct smtp_mx *mx = NULL;
	char name[NS_MAXDNAME];
	size_t n = 0, count;
	ns_msg msg;
	ns_rr rr;

	*mx_r = NULL;
	if (len > NS_MAXMSG || ns_initparse(answer, (int)len, &msg) < 0) {
		*error_r = "malformed DNS reply";
		return -1;
	}
	count = ns_msg_count(msg, ns_s_an);
	mx = xcalloc(count ? count : 1, sizeof(*mx));
	for (size_t i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, (int)i, &rr) < 0) {
			*error_r = "malformed DNS reply record";
			goto bad;
		}
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;	/* a CNAME on the way, for instance */
		if (ns_rr_rdlen(rr) < 3) {
			*error_r = "malformed MX record";
			goto bad;
		}
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2,
				       name, sizeof(name)) < 0) {
			*error_r = "malformed MX host name";
			goto bad;
		}
		/* The root is "." here; keep names without their final dot. */
		size_t nl = strlen(name);
		if (nl > 0 && name[nl - 1] == '.')
			name[--nl] = 0;
		mx[n].pref = (int)ns_get16(ns_rr_rdata(rr));
		mx[n].host = xstrdup(name);
		n++;
	}
	*mx_r = mx;
	return (long)n;

bad:
	smtp_mx_free(&mx, n);
	return -1;
}

/* set_port - store the port in a socket address */
static void set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((unsigned short)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((unsigned short)port);
}

/* smtp_addr_add - append unless already present */
bool smtp_addr_add(struct smtp_addr_list *l, const char *host, int pref,
		   const struct sockaddr *sa, unsigned port)
{
	struct smtp_addr a;
	const void *bin;

	memset(&a, 0, sizeof(a));
	if (sa->sa_family == AF_INET) {
		a.salen = sizeof(struct sockaddr_in);
		bin = &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a.salen = sizeof(struct sockaddr_in6);
		bin = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	} else {
		return false;
	}
	memcpy(&a.sa, sa, a.salen);
	set_port(&a.sa, port);
	if (inet_ntop(sa->sa_family, bin, a.ip, sizeof(a.ip)) == NULL)
		return false;
	a.port = port;
	a.pref = pref;
	for (size_t i = 0; i < l->count; i++)
		if (l->addr[i].port == port && strcmp(l->addr[i].ip, a.ip) == 0)
			return false;
	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->addr = xreallocarray(l->addr, l->cap, sizeof(*l->addr));
	}
	a.host = xstrdup(host);
	l->addr[l->count++] = a;
	return true;
}

/* smtp_addr_order - preferred family first, stable */
void smtp_addr_order(struct smtp_addr_list *l, size_t from, enum smtp_addr_pref pref)
{
	int first;
	size_t out = from;
	struct smtp_addr t;

	if (pref == SMTP_PREF_ANY)
		return;
	first = pref == SMTP_PREF_IPV4 ? AF_INET : AF_INET6;
	/* Stable partition by repeated rotation: lists are tiny. */
	for (size_t i = from; i < l->count; i++) {
		if (l->addr[i].sa.ss_family != first)
			continue;
		t = l->addr[i];
		memmove(&l->addr[out + 1], &l->addr[out], (i - out) * sizeof(t));
		l->addr[out++] = t;
	}
}

/* smtp_addr_limit - truncate the list */
void smtp_addr_limit(struct smtp_addr_list *l, long limit)
{
	if (limit <= 0)
		return;
	while (l->count > (size_t)limit)
		free(l->addr[--l->count].host);
}

/* smtp_addr_list_deinit - free everything */
void smtp_addr_list_deinit(struct smtp_addr_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->addr[i].host);
	free(l->addr);
	memset(l, 0, sizeof(*l));
}

/* dns_query - res_search into a new buffer; length, or -1 with *herr_r */
static int dns_query(const char *name, int type, unsigned char **ans_r, int *herr_r)
{
	unsigned char *ans = xmalloc(NS_MAXMSG);
	int len;

	h_errno = 0;
	len = res_search(name, ns_c_in, type, ans, NS_MAXMSG);
	if (len < 0) {
		*herr_r = h_errno;
		free(ans);
		return -1;
	}
	if (len > NS_MAXMSG)
		len = NS_MAXMSG;	/* truncated answer: parse what we have */
	*ans_r = ans;
	return len;
}

/* herr_outcome - resolver error into FOUND/NOT_FOUND/TRY_LATER */
static int herr_outcome(int herr)
{
	/*
	 * NO_RECOVERY (a server failure, a refused query) is deferred, not
	 * bounced: mail is not returned because a resolver misbehaves.
	 */
	return herr == HOST_NOT_FOUND || herr == NO_DATA ? NOT_FOUND : TRY_LATER;
}

/* family_ok - inet_protocols allows addresses of family af */
static bool family_ok(int families, int af)
{
	if (families == 0)
		return true;
	return (af == AF_INET && (families & SMTP_FAMILY_IPV4))
		|| (af == AF_INET6 && (families & SMTP_FAMILY_IPV6));
}

/* smtp_inet_protocols - see smtp_mx.h */
int smtp_inet_protocols(const char *value)
{
	char *copy = xstrdup(value), *cp = copy, *tok;
	int families = 0, fd;

	while ((tok = strsep(&cp, ", \t\r\n")) != NULL) {
		if (*tok == 0)
			continue;
		if (strcasecmp(tok, "all") == 0) {
			families |= SMTP_FAMILY_IPV4;
			/* As Postfix: "all" means what this kernel supports. */
			if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) >= 0) {
				close(fd);
				families |= SMTP_FAMILY_IPV6;
			}
		} else if (strcasecmp(tok, "ipv4") == 0) {
			families |= SMTP_FAMILY_IPV4;
		} else if (strcasecmp(tok, "ipv6") == 0) {
			families |= SMTP_FAMILY_IPV6;
		} else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return families;
}

/* dns_addrs - A then AAAA records of host, as far as inet_protocols allows */
static int dns_addrs(const char *host, int pref, unsigned port, int families, bool secure,
		     struct smtp_addr_list *l)
{
	static const ns_type types[] = {ns_t_a, ns_t_aaaa};
	int outcome = NOT_FOUND, herr, len;
	unsigned char *ans;
	ns_msg msg;
	ns_rr rr;

	for (size_t t = 0; t < 2; t++) {
		if (!family_ok(families, types[t] == ns_t_a ? AF_INET : AF_INET6))
			continue;
		if ((len = dns_query(host, types[t], &ans, &herr)) < 0) {
			if (herr_outcome(herr) == TRY_LATER && outcome != FOUND)
				outcome = TRY_LATER;
			continue;
		}
		if (ns_initparse(ans, len, &msg) == 0) {
			for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
				struct sockaddr_storage ss;

				if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
					break;
				if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != types[t])
					continue;
				memset(&ss, 0, sizeof(ss));
				if (types[t] == ns_t_a && ns_rr_rdlen(rr) == 4) {
					ss.ss_family = AF_INET;
					memcpy(&((struct sockaddr_in *)&ss)->sin_addr,
					       ns_rr_rdata(rr), 4);
				} else if (types[t] == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
					ss.ss_family = AF_INET6;
					memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr,
					       ns_rr_rdata(rr), 16);
				} else {
					continue;
				}
				/* DNSSEC: this answer and the MX answer before it. */
				if (smtp_addr_add(l, host, pref, (struct sockaddr *)&ss, port))
					l->addr[l->count - 1].dnssec =
						secure && (ans[3] & 0x20) != 0;
				outcome = FOUND;
			}
		}
		free(ans);
	}
	return outcome;
}

/* native_addrs - getaddrinfo (files, then whatever nsswitch says) */
static int native_addrs(const char *host, int pref, unsigned port, int families,
			struct smtp_addr_list *l)
{
	struct addrinfo hints, *res, *ai;
	int err, outcome = NOT_FOUND;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = families == SMTP_FAMILY_IPV4 ? AF_INET
		: families == SMTP_FAMILY_IPV6 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((err = getaddrinfo(host, NULL, &hints, &res)) != 0)
		return err == EAI_NONAME || err == EAI_NODATA ? NOT_FOUND : TRY_LATER;
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
		    || !family_ok(families, ai->ai_family))
			continue;
		smtp_addr_add(l, host, pref, ai->ai_addr, port);
		outcome = FOUND;
	}
	freeaddrinfo(res);
	return outcome;
}

/* host_addrs - addresses of one host by the configured mechanisms */
static int host_addrs(const char *host, int pref, unsigned port, bool secure,
		      const struct smtp_lookup_conf *conf, struct smtp_addr_list *l)
{
	int outcome = NOT_FOUND, lookup = conf->lookup;
	size_t from = l->count;
	struct sockaddr_storage ss;

	/* An address needs no look-up. */
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (ss.ss_family) {
		if (!family_ok(conf->families, ss.ss_family))
			return NOT_FOUND;
		smtp_addr_add(l, host, pref, (struct sockaddr *)&ss, port);
		return FOUND;
	}
	if (conf->disable_dns || lookup == 0)
		lookup = SMTP_LOOKUP_NATIVE;
	if (lookup & SMTP_LOOKUP_DNS)
		outcome = dns_addrs(host, pref, port, conf->families, secure, l);
	if (outcome != FOUND && (lookup & SMTP_LOOKUP_NATIVE)) {
		int native = native_addrs(host, pref, port, conf->families, l);

		/* "dns, native": a resolver hiccup does not hide a hosts entry. */
		if (native == FOUND || outcome == NOT_FOUND)
			outcome = native;
	}
	smtp_addr_order(l, from, conf->pref);
	return outcome;
}

/* set_error - fill in the look-up error */
static void set_error(struct smtp_lookup_error *err, const char *status, const char *name,
		      const char *type, bool again)
{
	snprintf(err->status, sizeof(err->status), "%s", status);
	snprintf(err->reason, sizeof(err->reason),
		 "Host or domain name not found. Name service error for name=%s type=%s: %s",
		 name, type, again ? "Host not found, try again" : "Host not found");
}

/* addr_rr_name - the record type a failed address look-up names */
static const char *addr_rr_name(const struct smtp_lookup_conf *conf)
{
	return conf->families == SMTP_FAMILY_IPV6 ? "AAAA" : "A";
}

/* lib_random - the default random source */
static unsigned long lib_random(void *ctx, unsigned long bound)
{
	return bound ? (unsigned long)random() % bound : 0;
}

/* smtp_lookup - the ordered address list for a next hop */
int smtp_lookup(const struct smtp_nexthop *nh, const struct smtp_lookup_conf *conf,
		struct smtp_addr_list *l, struct smtp_lookup_error *err)
{
	struct smtp_mx *mx = NULL;
	const char *perr, *last_host = NULL;
	unsigned char *ans;
	int herr, len, outcome;
	long n;
	bool soft = false, mx_secure;

	memset(l, 0, sizeof(*l));
	memset(err, 0, sizeof(*err));

	/* No MX look-up: the host's own addresses. */
	if (nh->no_mx || conf->disable_dns) {
		outcome = host_addrs(nh->host, 0, nh->port, true, conf, l);
		if (outcome == FOUND)
			goto found;
		set_error(err, outcome == TRY_LATER ? "4.4.3" : "5.4.4", nh->host,
			  addr_rr_name(conf), outcome == TRY_LATER);
		return -1;
	}

	if ((len = dns_query(nh->host, ns_t_mx, &ans, &herr)) < 0) {
		if (herr == NO_DATA) {
			/* No MX records: the domain itself (RFC 5321 5.1). */
			outcome = host_addrs(nh->host, 0, nh->port, true, conf, l);
			if (outcome == FOUND)
				goto found;
			set_error(err, outcome == TRY_LATER ? "4.4.3" : "5.4.4", nh->host,
				  addr_rr_name(conf), outcome == TRY_LATER);
			return -1;
		}
		outcome = herr_outcome(herr);
		set_error(err, outcome == TRY_LATER ? "4.4.3" : "5.4.4", nh->host,
			  "MX", outcome == TRY_LATER);
		return -1;
	}
	n = smtp_mx_parse_answer(ans, (size_t)len, &mx, &perr);
	mx_secure = len >= 12 && (ans[3] & 0x20) != 0;
	free(ans);
	if (n < 0) {
		snprintf(err->status, sizeof(err->status), "4.4.3");
		snprintf(err->reason, sizeof(err->reason),
			 "Name service error for name=%s type=MX: %s", nh->host, perr);
		return -1;
	}
	if (n == 0) {
		/* Only a CNAME chain without MX at its end: as NO_DATA. */
		smtp_mx_free(&mx, 0);
		outcome = host_addrs(nh->host, 0, nh->port, true, conf, l);
		if (outcome == FOUND)
			goto found;
		set_error(err, outcome == TRY_LATER ? "4.4.3" : "5.4.4", nh->host,
			  addr_rr_name(conf), outcome == TRY_LATER);
		return -1;
	}
	if (smtp_mx_is_null(mx, (size_t)n)) {
		snprintf(err->status, sizeof(err->status), "5.1.10");
		snprintf(err->reason, sizeof(err->reason),
			 "Domain %s does not accept mail (nullMX)", nh->host);
		smtp_mx_free(&mx, (size_t)n);
		return -1;
	}
	smtp_mx_sort(mx, (size_t)n, conf->randomize ? (conf->rnd ? conf->rnd : lib_random) : NULL,
		     conf->rnd_ctx);
	for (long i = 0; i < n; i++) {
		if (mx[i].host[0] == 0)
			continue;
		outcome = host_addrs(mx[i].host, mx[i].pref, nh->port, mx_secure, conf, l);
		if (outcome == TRY_LATER)
			soft = true;
		last_host = mx[i].host;
		/* Enough addresses already: later MX hosts would be cut anyway. */
		if (conf->address_limit > 0 && l->count >= (size_t)conf->address_limit)
			break;
	}
	if (l->count == 0) {
		bool again = soft || conf->defer_if_no_mx_address;

		set_error(err, again ? (soft ? "4.4.3" : "4.4.4") : "5.4.4",
			  last_host ? last_host : nh->host, addr_rr_name(conf), soft);
		smtp_mx_free(&mx, (size_t)n);
		return -1;
	}
	smtp_mx_free(&mx, (size_t)n);

found:
	smtp_addr_limit(l, conf->address_limit);
	return 0;
}
