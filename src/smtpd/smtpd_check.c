/*
 * smtpd_check - relay control and the smtpd_*_restrictions.
 *
 * Postfix's model: five lists, evaluated at RCPT TO in the order client,
 * helo, sender, relay, recipient (with smtpd_delay_reject = no the first
 * three run at connect, HELO and MAIL instead); two more at DATA (and the
 * first BDAT) and after the message content.  Within a list the first
 * restriction that decides ends the list: permit goes on to the next
 * list, a reject or defer answers the command.  A restriction name sluice
 * does not implement is a fatal configuration error naming it, never
 * ignored: an ignored reject_* would open what the postmaster closed.
 *
 * A recipient is an authorized destination when its domain is in
 * mydestination or relay_domains and its local part carries no routing
 * (no "@", "%" or "!" in it, no source route in the path), as Postfix's
 * resolver flags such addresses routed: none of the address tricks of
 * old relays (percent hack, bang paths, quoted "@", source routes) can
 * make a foreign destination look like ours.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/addr.h"
#include "global/addr_map.h"
#include "global/maps.h"
#include "global/params.h"
#include "global/resolve.h"
#include "smtpd_check.h"
#include "smtpd_check_access.h"
#include "smtpd_check_actions.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

struct net {
	struct sockaddr_storage addr;
	int bits;
};

static void rwr_init(void);

static struct net *nets;
static size_t net_count;

enum restr {
	R_PERMIT, R_REJECT, R_DEFER, R_PERMIT_MYNETWORKS, R_PERMIT_SASL,
	R_REJECT_UNAUTH_DEST, R_DEFER_UNAUTH_DEST, R_REJECT_NON_FQDN_SENDER,
	R_REJECT_NON_FQDN_RCPT, R_REJECT_NON_FQDN_HELO, R_REJECT_UNAUTH_PIPELINING,
	R_CHECK_CLIENT_ACCESS, R_CHECK_HELO_ACCESS, R_CHECK_SENDER_ACCESS, R_CHECK_RCPT_ACCESS,
	R_REJECT_UNKNOWN_SENDER_DOMAIN, R_REJECT_UNLISTED_RCPT, R_REJECT_MULTI_RCPT_BOUNCE,
};

/* Restrictions that take a table ("check_sender_access hash:/etc/x"). */
#define TAKES_TABLE(r)	((r) >= R_CHECK_CLIENT_ACCESS && (r) <= R_CHECK_RCPT_ACCESS)

/* One entry of a restriction list. */
struct restriction {
	enum restr r;
	struct maps *maps;		/* check_*_access: the table */
};

static const struct {
	const char *name;
	enum restr r;
} restr_names[] = {
	{"permit", R_PERMIT},
	{"reject", R_REJECT},
	{"defer", R_DEFER},
	{"permit_mynetworks", R_PERMIT_MYNETWORKS},
	{"permit_sasl_authenticated", R_PERMIT_SASL},
	{"reject_unauth_destination", R_REJECT_UNAUTH_DEST},
	{"defer_unauth_destination", R_DEFER_UNAUTH_DEST},
	{"reject_non_fqdn_sender", R_REJECT_NON_FQDN_SENDER},
	{"reject_non_fqdn_recipient", R_REJECT_NON_FQDN_RCPT},
	{"reject_non_fqdn_helo_hostname", R_REJECT_NON_FQDN_HELO},
	{"reject_non_fqdn_hostname", R_REJECT_NON_FQDN_HELO},
	{"reject_unauth_pipelining", R_REJECT_UNAUTH_PIPELINING},
	{"check_client_access", R_CHECK_CLIENT_ACCESS},
	{"check_helo_access", R_CHECK_HELO_ACCESS},
	{"check_sender_access", R_CHECK_SENDER_ACCESS},
	{"check_recipient_access", R_CHECK_RCPT_ACCESS},
	{"reject_unknown_sender_domain", R_REJECT_UNKNOWN_SENDER_DOMAIN},
	{"reject_unlisted_recipient", R_REJECT_UNLISTED_RCPT},
	{"check_recipient_maps", R_REJECT_UNLISTED_RCPT},
	{"reject_multi_recipient_bounce", R_REJECT_MULTI_RCPT_BOUNCE},
};

static const char *const stage_params[] = {
	"smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
	"smtpd_relay_restrictions", "smtpd_recipient_restrictions", "smtpd_data_restrictions",
	"smtpd_end_of_data_restrictions",
};

static struct restriction *lists[SMTPD_STAGES];
static size_t list_len[SMTPD_STAGES];
static char reply[1200];

static void unlisted_init(void);
static const char *unlisted_recipient(const struct smtpd_check_ctx *ctx);

/* smtpd_cidr_parse - "a.b.c.d/n", "[v6]/n", an address alone */
int smtpd_cidr_parse(const char *pattern, struct sockaddr_storage *net_r, int *bits_r)
{
	char text[128], *slash, *host;
	long bits = -1;
	int max;

	if (strlen(pattern) >= sizeof(text))
		return -1;
	snprintf(text, sizeof(text), "%s", pattern);
	if ((slash = strrchr(text, '/')) != NULL) {
		if (!str_is_digits(slash + 1) || str_to_long(slash + 1, 0, 128, &bits) < 0)
			return -1;
		*slash = 0;
	}
	host = text;
	if (*host == '[') {
		size_t n = strlen(host);

		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = 0;
		host++;
	}
	memset(net_r, 0, sizeof(*net_r));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)net_r)->sin_addr) == 1) {
		net_r->ss_family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)net_r)->sin6_addr) == 1) {
		net_r->ss_family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	if (bits > max)
		return -1;
	*bits_r = bits < 0 ? max : (int)bits;
	return 0;
}

/* bytes_of - the address bytes and their count */
static const unsigned char *bytes_of(const struct sockaddr_storage *a, int *len_r)
{
	if (a->ss_family == AF_INET) {
		*len_r = 4;
		return (const unsigned char *)&((const struct sockaddr_in *)a)->sin_addr;
	}
	*len_r = 16;
	return (const unsigned char *)&((const struct sockaddr_in6 *)a)->sin6_addr;
}

/* smtpd_cidr_match - prefix comparison (IPv4-mapped IPv6 counts as IPv4) */
bool smtpd_cidr_match(const struct sockaddr_storage *net, int bits,
		      const struct sockaddr_storage *addr)
{
	struct sockaddr_storage v4;
	const unsigned char *a, *n;
	int alen, nlen;

	if (addr->ss_family == AF_INET6 && net->ss_family == AF_INET
	    && IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)addr)->sin6_addr)) {
		memset(&v4, 0, sizeof(v4));
		v4.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&v4)->sin_addr,
		       ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr + 12, 4);
		addr = &v4;
	}
	if (addr->ss_family != net->ss_family)
		return false;
	a = bytes_of(addr, &alen);
	n = bytes_of(net, &nlen);
	for (int i = 0; i < bits / 8; i++)
		if (a[i] != n[i])
			return false;
	if (bits % 8) {
		unsigned char mask = (unsigned char)(0xff << (8 - bits % 8));

		if ((a[bits / 8] & mask) != (n[bits / 8] & mask))
			return false;
	}
	return true;
}

/* add_net - append one network */
static void add_net(const struct sockaddr_storage *addr, int bits)
{
	nets = xreallocarray(nets, net_count + 1, sizeof(*nets));
	nets[net_count].addr = *addr;
	nets[net_count].bits = bits;
	net_count++;
}

/* mask_bits - prefix length of a netmask */
static int mask_bits(const struct sockaddr *mask)
{
	struct sockaddr_storage ss;
	const unsigned char *b;
	int len, bits = 0;

	if (mask == NULL)
		return -1;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, mask, mask->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	       : sizeof(struct sockaddr_in));
	ss.ss_family = mask->sa_family;
	b = bytes_of(&ss, &len);
	for (int i = 0; i < len; i++)
		for (int j = 7; j >= 0 && (b[i] >> j) & 1; j--)
			bits++;
	return bits;
}

/* style_networks - mynetworks from mynetworks_style */
static void style_networks(void)
{
	struct ifaddrs *ifa, *i;
	bool host = strcasecmp(var_mynetworks_style, "host") == 0;

	if (!host && strcasecmp(var_mynetworks_style, "subnet") != 0
	    && strcasecmp(var_mynetworks_style, "class") != 0)
		msg_fatal("parameter mynetworks_style: unknown style \"%s\" "
			  "(must be host, subnet or class)", var_mynetworks_style);
	if (getifaddrs(&ifa) < 0)
		msg_fatal("mynetworks_style: getifaddrs: %m");
	for (i = ifa; i; i = i->ifa_next) {
		struct sockaddr_storage ss;
		int bits;

		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET
					    && i->ifa_addr->sa_family != AF_INET6))
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, i->ifa_addr, i->ifa_addr->sa_family == AF_INET6
		       ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		bits = ss.ss_family == AF_INET ? 32 : 128;
		if (!host && (bits = mask_bits(i->ifa_netmask)) < 0)
			bits = ss.ss_family == AF_INET ? 32 : 128;
		add_net(&ss, bits);
	}
	freeifaddrs(ifa);
}

/* restr_lookup - the restriction of a name, or -1 */
static int restr_lookup(const char *word)
{
	for (size_t i = 0; i < sizeof(restr_names) / sizeof(restr_names[0]); i++)
		if (strcasecmp(word, restr_names[i].name) == 0)
			return (int)restr_names[i].r;
	return -1;
}

/* parse_list - one restriction list; a check_*_access takes the next word */
static void parse_list(int stage, const char *text)
{
	char *copy = xstrdup(text), *cp = copy, *word, *table;
	const char *error;

	while ((word = str_token(&cp, ", \t\r\n")) != NULL) {
		struct restriction entry = {0};
		int r = restr_lookup(word);

		if (r < 0)
			msg_fatal("parameter %s: unknown or unsupported restriction \"%s\" "
				  "(docs/SMTPD.md lists those sluice implements)",
				  stage_params[stage], word);
		entry.r = (enum restr)r;
		if (TAKES_TABLE(entry.r)) {
			if ((table = str_token(&cp, ", \t\r\n")) == NULL || strchr(table, ':') == NULL)
				msg_fatal("parameter %s: %s needs a table (type:name) after it",
					  stage_params[stage], word);
			if ((entry.maps = maps_open(table, &error)) == NULL)
				msg_fatal("parameter %s: %s %s: %s", stage_params[stage], word, table,
					  error);
		}
		lists[stage] = xreallocarray(lists[stage], list_len[stage] + 1,
					     sizeof(struct restriction));
		lists[stage][list_len[stage]++] = entry;
	}
	free(copy);
}

/* smtpd_check_init - configuration */
void smtpd_check_init(void)
{
	const char *texts[SMTPD_STAGES] = {
		var_smtpd_client_restrictions, var_smtpd_helo_restrictions,
		var_smtpd_sender_restrictions, var_smtpd_relay_restrictions,
		var_smtpd_recipient_restrictions, var_smtpd_data_restrictions,
		var_smtpd_end_of_data_restrictions,
	};
	const char *error;
	bool guarded = false;

	if (var_mynetworks && *var_mynetworks) {
		char *copy = xstrdup(var_mynetworks), *cp = copy, *word;

		while ((word = str_token(&cp, ", \t\r\n")) != NULL) {
			struct sockaddr_storage ss;
			int bits;

			if (smtpd_cidr_parse(word, &ss, &bits) < 0)
				msg_fatal("parameter mynetworks: bad network \"%s\" (expected "
					  "address/bits, [ipv6]/bits or an address)", word);
			add_net(&ss, bits);
		}
		free(copy);
	} else {
		style_networks();
	}
	for (int s = 0; s < SMTPD_STAGES; s++)
		parse_list(s, texts[s]);
	/* Postfix's safety rule: something must stop relaying. */
	for (int s = SMTPD_RELAY; s <= SMTPD_RCPT; s++)
		for (size_t i = 0; i < list_len[s]; i++)
			if (lists[s][i].r == R_REJECT_UNAUTH_DEST || lists[s][i].r == R_DEFER_UNAUTH_DEST
			    || lists[s][i].r == R_REJECT || lists[s][i].r == R_DEFER)
				guarded = true;
	if (!guarded)
		msg_fatal("parameters smtpd_relay_restrictions and smtpd_recipient_restrictions: "
			  "specify at least one of reject_unauth_destination, "
			  "defer_unauth_destination, reject or defer (an open relay otherwise)");
	if (resolve_init(&error) < 0)
		msg_fatal("%s", error);
	unlisted_init();
	rwr_init();
}

/* ---- local_header_rewrite_clients ---- */

enum rwr { RWR_INET_INTERFACES, RWR_MYNETWORKS, RWR_SASL, RWR_ADDRESS_MAP };

struct rwr_entry {
	enum rwr kind;
	struct maps *maps;		/* check_address_map */
};

static struct rwr_entry *rwr_list;
static size_t rwr_len;
static struct net *ifaces;		/* $inet_interfaces addresses */
static size_t iface_count;

/* add_iface - one address of ours */
static void add_iface(const struct sockaddr *sa)
{
	struct sockaddr_storage ss;

	if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	       : sizeof(struct sockaddr_in));
	ifaces = xreallocarray(ifaces, iface_count + 1, sizeof(*ifaces));
	ifaces[iface_count].addr = ss;
	ifaces[iface_count++].bits = ss.ss_family == AF_INET ? 32 : 128;
}

/* inet_interface_addrs - the addresses inet_interfaces names ("all": every
 * interface's; "loopback-only"; addresses; host names) */
static void inet_interface_addrs(void)
{
	char *copy = xstrdup(var_inet_interfaces ? var_inet_interfaces : "all"), *cp = copy;
	char *word;

	while ((word = str_token(&cp, ", \t\r\n")) != NULL) {
		if (strcasecmp(word, "all") == 0) {
			struct ifaddrs *ifa;

			if (getifaddrs(&ifa) < 0)
				msg_fatal("inet_interfaces: getifaddrs: %m");
			for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
				add_iface(i->ifa_addr);
			freeifaddrs(ifa);
		} else {
			struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
			const char *host = word;

			if (strcasecmp(word, "loopback-only") == 0)
				host = "localhost";
			if (*word == '[') {	/* [ipv6] */
				word[strcspn(word, "]")] = 0;
				host = word + 1;
			}
			if (getaddrinfo(host, NULL, &hints, &res) != 0) {
				msg_warn("inet_interfaces: cannot find the address of \"%s\"", host);
				continue;
			}
			for (struct addrinfo *r = res; r; r = r->ai_next)
				add_iface(r->ai_addr);
			freeaddrinfo(res);
		}
	}
	free(copy);
}

/* rwr_init - parse local_header_rewrite_clients; fatal on a bad word */
static void rwr_init(void)
{
	char *copy = xstrdup(var_local_header_rewrite_clients
			     ? var_local_header_rewrite_clients : ""), *cp = copy, *word, *table;
	const char *error;

	while ((word = str_token(&cp, ", \t\r\n")) != NULL) {
		struct rwr_entry e = {0};

		if (strcasecmp(word, "permit_inet_interfaces") == 0) {
			e.kind = RWR_INET_INTERFACES;
			if (ifaces == NULL)
				inet_interface_addrs();
		} else if (strcasecmp(word, "permit_mynetworks") == 0) {
			e.kind = RWR_MYNETWORKS;
		} else if (strcasecmp(word, "permit_sasl_authenticated") == 0) {
			e.kind = RWR_SASL;
		} else if (strcasecmp(word, "check_address_map") == 0) {
			e.kind = RWR_ADDRESS_MAP;
			if ((table = str_token(&cp, ", \t\r\n")) == NULL || strchr(table, ':') == NULL)
				msg_fatal("parameter local_header_rewrite_clients: check_address_map "
					  "needs a table (type:name) after it");
			if ((e.maps = maps_open(table, &error)) == NULL)
				msg_fatal("parameter local_header_rewrite_clients: %s", error);
		} else {
			msg_fatal("parameter local_header_rewrite_clients: unknown or unsupported "
				  "item \"%s\" (permit_inet_interfaces, permit_mynetworks, "
				  "permit_sasl_authenticated, check_address_map type:table)", word);
		}
		rwr_list = xreallocarray(rwr_list, rwr_len + 1, sizeof(*rwr_list));
		rwr_list[rwr_len++] = e;
	}
	free(copy);
}

/* smtpd_check_rewrite_local - does the client get local header rewriting? */
bool smtpd_check_rewrite_local(const struct sockaddr_storage *addr, const char *addr_text,
			       const char *sasl_username)
{
	const char *value, *error;

	for (size_t i = 0; i < rwr_len; i++) {
		switch (rwr_list[i].kind) {
		case RWR_INET_INTERFACES:
			for (size_t j = 0; j < iface_count; j++)
				if (smtpd_cidr_match(&ifaces[j].addr, ifaces[j].bits, addr))
					return true;
			break;
		case RWR_MYNETWORKS:
			if (smtpd_check_mynetworks(addr))
				return true;
			break;
		case RWR_SASL:
			if (sasl_username != NULL)
				return true;
			break;
		case RWR_ADDRESS_MAP:
			/* The address only, no subnets; the value is not used (Postfix). */
			switch (maps_lookup(rwr_list[i].maps, addr_text, 0, &value, &error)) {
			case MAPS_FOUND:
				return true;
			case MAPS_ERROR:
				msg_warn("local_header_rewrite_clients: %s", error);
				break;
			default:
				break;
			}
			break;
		}
	}
	return false;
}

struct smtpd_nets {
	struct net *v;
	size_t n;
};

struct smtpd_nets *smtpd_nets_parse(const char *param, const char *value)
{
	struct smtpd_nets *list = xcalloc(1, sizeof(*list));
	char *copy = xstrdup(value ? value : ""), *cp = copy, *word;

	while ((word = str_token(&cp, ", \t\r\n")) != NULL) {
		list->v = xreallocarray(list->v, list->n + 1, sizeof(*list->v));
		if (smtpd_cidr_parse(word, &list->v[list->n].addr, &list->v[list->n].bits) < 0)
			msg_fatal("parameter %s: bad network \"%s\" (expected address/bits, "
				  "[ipv6]/bits or an address)", param, word);
		list->n++;
	}
	free(copy);
	return list;
}

bool smtpd_nets_match(const struct smtpd_nets *list, const struct sockaddr_storage *addr)
{
	for (size_t i = 0; list && i < list->n; i++)
		if (smtpd_cidr_match(&list->v[i].addr, list->v[i].bits, addr))
			return true;
	return false;
}

void smtpd_nets_free(struct smtpd_nets *list)
{
	if (list) {
		free(list->v);
		free(list);
	}
}

/* smtpd_check_mynetworks - address in mynetworks */
bool smtpd_check_mynetworks(const struct sockaddr_storage *addr)
{
	for (size_t i = 0; i < net_count; i++)
		if (smtpd_cidr_match(&nets[i].addr, nets[i].bits, addr))
			return true;
	return false;
}

/* smtpd_check_auth_destination - ours, and no routing in it */
bool smtpd_check_auth_destination(const char *rcpt, bool routed)
{
	const char *at = strrchr(rcpt, '@');
	size_t local_len = at ? (size_t)(at - rcpt) : strlen(rcpt);
	char *domain;
	bool ok;

	if (routed || memchr(rcpt, '%', local_len) || memchr(rcpt, '!', local_len)
	    || memchr(rcpt, '@', local_len))
		return false;
	if (at == NULL)
		return true;			/* unqualified: @myorigin, ours */
	domain = str_lower(xstrdup(at + 1));
	ok = *domain && domain[strlen(domain) - 1] != '.'
	    && (resolve_local_domain(domain) || resolve_relay_domain(domain)
		|| resolve_virtual_mailbox_domain(domain) == 1);
	free(domain);
	return ok;
}

/* fqdn - a domain with a dot, or an address literal */
static bool fqdn(const char *name)
{
	if (*name == '[')
		return true;
	return strchr(name, '.') != NULL && addr_valid_domain(name);
}

/* quoted - "<addr>" for replies, escaped */
static const char *quoted(struct buf *b, const char *addr)
{
	buf_reset(b);
	return log_escape(b, addr);
}

static const char *evaluate(const struct restriction *rs, int stage,
			    const struct smtpd_check_ctx *ctx, int depth);

/* Tables of the unlisted-recipient check. */
static struct maps *local_rcpt_maps, *virtual_maps;

/* unlisted_init - local_recipient_maps, virtual_alias_maps */
static void unlisted_init(void)
{
	const char *error;

	if (*var_local_mailbox_base == 0 && *var_local_recipient_maps
	    && (local_rcpt_maps = maps_open(var_local_recipient_maps, &error)) == NULL)
		msg_fatal("parameter local_recipient_maps: %s", error);
	if (*var_virtual_alias_maps
	    && (virtual_maps = maps_open(var_virtual_alias_maps, &error)) == NULL)
		msg_fatal("parameter virtual_alias_maps: %s", error);
}

/* enhanced - "X.Y.Z " (X 2, 4 or 5) at the start of text: its length, else 0 */
static size_t enhanced(const char *text)
{
	size_t n = 0;

	if ((text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
		return 0;
	n = 2 + strspn(text + 2, "0123456789");
	if (n == 2 || n > 5 || text[n] != '.')
		return 0;
	n += 1 + strspn(text + n + 1, "0123456789");
	if (text[n - 1] == '.' || (text[n] != ' ' && text[n] != 0))
		return 0;
	return n;
}

/*
 * access_reply - "CODE X.Y.Z <subject>: What rejected: text" into buf.
 * An enhanced status in front of text is used with its class made the
 * reply code's (Postfix: "REJECT 4.7.0 x" answers 554 5.7.0).
 */
static const char *access_reply_buf(char *buf, size_t size, long code, const char *subject,
				    const char *what, const char *text, const char *deftext)
{
	char cls = (char)('0' + code / 100);
	size_t n;
	const char *rest;
	struct buf b;

	buf_init(&b, 128);
	text += strspn(text, " \t");
	n = enhanced(text);
	rest = text + n + strspn(text + n, " ");
	snprintf(buf, size, "%ld %c%.*s%s <%s>: %s rejected: %s", code, cls,
		 n ? (int)n - 1 : 0, text + 1, n ? "" : ".7.1", log_escape(&b, subject), what,
		 *rest ? rest : deftext);
	buf_deinit(&b);
	return buf;
}

/* access_reply - the same into the reply buffer, "Access denied" by default */
static const char *access_reply(long code, const char *subject, const char *what,
				const char *text)
{
	return access_reply_buf(reply, sizeof(reply), code, subject, what, text, "Access denied");
}

/*
 * DEFER_IF_REJECT and DEFER_IF_PERMIT: the first of each, for the command
 * being checked (smtpd_check_stage, smtpd_check_rcpt).
 */
static struct defer_if {
	bool active;
	char reply[sizeof(reply)];
} defer_if_reject, defer_if_permit;

/* defer_if - remember the first reason of its kind */
static void defer_if(struct defer_if *d, const char *subject, const char *what,
		     const char *text)
{
	if (d->active)
		return;
	d->active = true;
	access_reply_buf(d->reply, sizeof(d->reply), var_access_map_defer_code, subject, what,
			 text, "Service unavailable");
}

/* defer_if_reset - a new command */
static void defer_if_reset(void)
{
	defer_if_reject.active = defer_if_permit.active = false;
}

/* defer_if_result - the final answer: a 5xx becomes DEFER_IF_REJECT's,
 * a permit DEFER_IF_PERMIT's */
static const char *defer_if_result(const char *r)
{
	if (r && r[0] == '5' && defer_if_reject.active) {
		snprintf(reply, sizeof(reply), "%s", defer_if_reject.reply);
		return reply;
	}
	if (r == NULL && defer_if_permit.active) {
		snprintf(reply, sizeof(reply), "%s", defer_if_permit.reply);
		return reply;
	}
	return r;
}

/* config_error - a table answer sluice cannot act on: never ignored */
static const char *config_error(const struct restriction *rs, const char *value)
{
	struct buf b;

	buf_init(&b, 64);
	msg_warn("access table %s: unknown or unsupported action \"%s\": deferring mail "
		 "until the table is fixed", maps_spec(rs->maps), log_escape(&b, value));
	buf_deinit(&b);
	snprintf(reply, sizeof(reply), "451 4.3.5 Server configuration error");
	return reply;
}

/*
 * access_result - what an access(5) value means: NULL no decision, ""
 * permit, else the reply.  A value that is a list of restriction names
 * is evaluated in place (one level deep).
 */
static const char *access_result(const struct restriction *rs, int stage, const char *value,
				 const char *subject, const char *what,
				 const struct smtpd_check_ctx *ctx, int depth)
{
	char *copy, *cp, *word;
	const char *r = NULL;
	size_t n = strcspn(value, " \t");
	const char *rest = value + n + strspn(value + n, " \t");
	long code;

#define IS(w)	(n == sizeof(w) - 1 && strncasecmp(value, (w), n) == 0)
	/* OK and RELAY ignore a text; all digits is OK too (Postfix). */
	if (IS("OK") || IS("RELAY") || str_is_digits(value) || (IS("PERMIT") && *rest == 0))
		return "";
	if (IS("DUNNO"))
		return NULL;
	if (IS("REJECT"))
		return access_reply(var_access_map_reject_code, subject, what, rest);
	if (IS("DEFER"))
		return access_reply(var_access_map_defer_code, subject, what, rest);
	if (IS("DEFER_IF_REJECT") || IS("DEFER_IF_PERMIT")) {
		defer_if(IS("DEFER_IF_REJECT") ? &defer_if_reject : &defer_if_permit, subject, what,
			 rest);
		return NULL;
	}
#undef IS
	if (n == 3 && *rest && (value[0] == '4' || value[0] == '5')
	    && isdigit((unsigned char)value[1]) && isdigit((unsigned char)value[2])) {
		code = strtol(value, NULL, 10);
		return access_reply(code, subject, what, rest);
	}
	switch (smtpd_check_action(ctx, maps_spec(rs->maps), value, subject, what)) {
	case SMTPD_ACTION_DUNNO:
		return NULL;
	case SMTPD_ACTION_PERMIT:
		return "";
	default:
		break;
	}
	/* Restriction names, e.g. "permit_mynetworks, reject". */
	if (depth > 0)
		return config_error(rs, value);
	copy = xstrdup(value);
	cp = copy;
	while ((word = str_token(&cp, ", \t")) != NULL) {
		struct restriction inner = {0};
		int ir = restr_lookup(word);

		if (ir < 0 || TAKES_TABLE((enum restr)ir)) {
			r = config_error(rs, value);
			break;
		}
		inner.r = (enum restr)ir;
		if ((r = evaluate(&inner, stage, ctx, depth + 1)) != NULL)
			break;
	}
	free(copy);
	return r;
}

/* split_client - "name[addr]" into its parts (caller frees *name_r) */
static void split_client(const char *client, char **name_r, char **addr_r)
{
	const char *lb = strrchr(client, '[');

	if (lb == NULL) {
		*name_r = xstrdup(client);
		*addr_r = xstrdup("");
		return;
	}
	*name_r = xstrndup(client, (size_t)(lb - client));
	*addr_r = xstrndup(lb + 1, strcspn(lb + 1, "]"));
}

/* check_access - check_{client,helo,sender,recipient}_access */
static const char *check_access(const struct restriction *rs, int stage,
				const struct smtpd_check_ctx *ctx, int depth)
{
	const char *value = NULL, *error = NULL, *subject, *what, *r;
	char *name = NULL, *addr = NULL;
	int rc;

	switch (rs->r) {
	case R_CHECK_CLIENT_ACCESS:
		split_client(ctx->client, &name, &addr);
		rc = smtpd_access_client(rs->maps, name, addr, &value, &error);
		subject = ctx->client;
		what = "Client host";
		break;
	case R_CHECK_HELO_ACCESS:
		if (ctx->helo == NULL)
			return NULL;
		rc = smtpd_access_domain(rs->maps, ctx->helo, &value, &error);
		subject = ctx->helo;
		what = "Helo command";
		break;
	case R_CHECK_SENDER_ACCESS:
		if (ctx->sender == NULL)
			return NULL;
		rc = smtpd_access_address(rs->maps, ctx->sender, var_smtpd_null_access_lookup_key,
					  &value, &error);
		subject = ctx->sender;
		what = "Sender address";
		break;
	default:
		if (ctx->rcpt == NULL)
			return NULL;
		rc = smtpd_access_address(rs->maps, ctx->rcpt, var_smtpd_null_access_lookup_key,
					  &value, &error);
		subject = ctx->rcpt;
		what = "Recipient address";
		break;
	}
	if (rc == MAPS_ERROR) {
		msg_warn("%s lookup error for \"%s\": %s", maps_spec(rs->maps), subject, error);
		snprintf(reply, sizeof(reply), "451 4.3.0 <%s>: Temporary lookup failure",
			 subject);
		r = reply;
	} else if (rc == MAPS_FOUND) {
		/* The value is borrowed from the table: copy before anything else looks up. */
		char *v = xstrdup(value), *s2 = xstrdup(subject);

		r = access_result(rs, stage, v, s2, what, ctx, depth);
		free(v);
		free(s2);
	} else {
		r = NULL;
	}
	free(name);
	free(addr);
	return r;
}

/* unknown_sender_domain - no A, AAAA or MX for the sender's domain */
static const char *unknown_sender_domain(const struct smtpd_check_ctx *ctx)
{
	const char *domain;
	struct buf b;
	int found;
	long code = var_unknown_address_reject_code;

	if (ctx->sender == NULL || *ctx->sender == 0
	    || (domain = addr_domain(ctx->sender)) == NULL || *domain == 0 || *domain == '['
	    || resolve_local_domain(domain))
		return NULL;
	if ((found = smtpd_dns_domain_exists(domain)) > 0)
		return NULL;
	/* Not knowing is no reason to refuse for good. */
	if (found < 0)
		code = 450;
	buf_init(&b, 64);
	snprintf(reply, sizeof(reply), "%ld %c.1.8 <%s>: Sender address rejected: Domain not "
		 "found", code, (char)('0' + code / 100), log_escape(&b, ctx->sender));
	buf_deinit(&b);
	return reply;
}

/*
 * unlisted_recipient - a recipient of a local domain that
 * local_recipient_maps does not list (with virtual_alias_maps also
 * asked: an alias is a recipient), or of a virtual alias domain that
 * virtual_alias_maps does not list.  NULL when known or not ours.
 */
static const char *unlisted_recipient(const struct smtpd_check_ctx *ctx)
{
	struct resolve_reply rr = {0};
	const char *error, *what = NULL;
	char *v = NULL;
	long code = 550;
	int rc;
	struct buf b;

	if (ctx->rcpt == NULL)
		return NULL;
	resolve_addr(ctx->rcpt, &rr);
	if (rr.flags & RESOLVE_FLAG_FAIL) {
		what = "";
	} else if ((rr.flags & RESOLVE_FLAG_ERROR) && rr.nexthop
		   && strstr(rr.nexthop, "User unknown in virtual alias table")) {
		what = "User unknown in virtual alias table";
		code = var_unknown_virtual_alias_reject_code;
	} else if ((rr.flags & RESOLVE_FLAG_LOCAL) && local_rcpt_maps) {
		rc = addr_map_lookup(virtual_maps, ctx->rcpt, 0, &v, &error);
		if (rc == MAPS_NOTFOUND)
			rc = addr_map_lookup(local_rcpt_maps, ctx->rcpt, 0, &v, &error);
		free(v);
		if (rc == MAPS_ERROR) {
			msg_warn("local_recipient_maps lookup of \"%s\": %s", ctx->rcpt, error);
			what = "";
		} else if (rc == MAPS_NOTFOUND) {
			what = "User unknown in local recipient table";
			code = var_unknown_local_recipient_reject_code;
		}
	}
	resolve_reply_deinit(&rr);
	if (what == NULL)
		return NULL;
	buf_init(&b, 64);
	if (*what == 0)
		snprintf(reply, sizeof(reply), "451 4.3.0 <%s>: Temporary lookup failure",
			 log_escape(&b, ctx->rcpt));
	else
		snprintf(reply, sizeof(reply), "%ld %c.1.1 <%s>: Recipient address rejected: %s",
			 code, (char)('0' + code / 100), log_escape(&b, ctx->rcpt), what);
	buf_deinit(&b);
	return reply;
}

/* evaluate - one restriction; NULL = no decision, "" = permit, else reply */
static const char *evaluate(const struct restriction *rs, int stage,
			    const struct smtpd_check_ctx *ctx, int depth)
{
	enum restr r = rs->r;
	static const char *const what[] = {"Client host", "Helo command", "Sender address",
					   "Recipient address", "Recipient address",
					   "Data command", "End-of-data"};
	struct buf b;
	const char *subject;
	const char *domain;

	buf_init(&b, 128);
	subject = stage == SMTPD_CLIENT ? ctx->client : stage == SMTPD_HELO
	    ? (ctx->helo ? ctx->helo : "") : stage == SMTPD_SENDER
	    ? (ctx->sender ? ctx->sender : "") : stage == SMTPD_DATA ? "DATA"
	    : stage == SMTPD_EOD ? "END-OF-MESSAGE" : (ctx->rcpt ? ctx->rcpt : "");
	reply[0] = 0;
	switch (r) {
	case R_PERMIT:
		break;
	case R_REJECT:
	case R_DEFER:
		snprintf(reply, sizeof(reply), "%ld %c.7.1 <%s>: %s rejected: Access denied",
			 r == R_REJECT ? var_access_map_reject_code : var_access_map_defer_code,
			 r == R_REJECT ? (char)('0' + var_access_map_reject_code / 100) : '4',
			 quoted(&b, subject), what[stage]);
		break;
	case R_PERMIT_MYNETWORKS:
		if (!smtpd_check_mynetworks(ctx->addr))
			goto none;
		break;
	case R_PERMIT_SASL:
		if (ctx->sasl_username == NULL)
			goto none;
		break;
	case R_REJECT_UNAUTH_DEST:
	case R_DEFER_UNAUTH_DEST:
		if (ctx->rcpt == NULL || smtpd_check_auth_destination(ctx->rcpt, ctx->rcpt_routed))
			goto none;
		snprintf(reply, sizeof(reply), "%s <%s>: Relay access denied",
			 r == R_REJECT_UNAUTH_DEST ? "554 5.7.1" : "454 4.7.1",
			 quoted(&b, ctx->rcpt));
		break;
	case R_REJECT_NON_FQDN_SENDER:
		if (ctx->sender == NULL || *ctx->sender == 0
		    || ((domain = addr_domain(ctx->sender)) != NULL && fqdn(domain)))
			goto none;
		snprintf(reply, sizeof(reply), "504 5.5.2 <%s>: Sender address rejected: "
			 "need fully-qualified address", quoted(&b, ctx->sender));
		break;
	case R_REJECT_NON_FQDN_RCPT:
		if (ctx->rcpt == NULL || ((domain = addr_domain(ctx->rcpt)) != NULL && fqdn(domain)))
			goto none;
		snprintf(reply, sizeof(reply), "504 5.5.2 <%s>: Recipient address rejected: "
			 "need fully-qualified address", quoted(&b, ctx->rcpt));
		break;
	case R_REJECT_NON_FQDN_HELO:
		if (ctx->helo == NULL || fqdn(ctx->helo))
			goto none;
		snprintf(reply, sizeof(reply), "504 5.5.2 <%s>: Helo command rejected: "
			 "need fully-qualified hostname", quoted(&b, ctx->helo));
		break;
	case R_REJECT_UNAUTH_PIPELINING:
		if (ctx->ehlo || !(ctx->pipelined
				   || (ctx->pipelined_fn && ctx->pipelined_fn(ctx->pipelined_arg))))
			goto none;
		if (stage >= SMTPD_DATA)
			snprintf(reply, sizeof(reply), "503 5.5.0 <%s>: %s rejected: Improper use "
				 "of SMTP command pipelining", subject, what[stage]);
		else
			snprintf(reply, sizeof(reply), "503 5.5.0 <%s>: Client host rejected: "
				 "Improper use of SMTP command pipelining", quoted(&b, ctx->client));
		break;
	case R_REJECT_MULTI_RCPT_BOUNCE:
		/* A bounce has one recipient: more is someone's abuse (Postfix). */
		if (ctx->sender == NULL || *ctx->sender != 0
		    || ctx->rcpt_count + (stage < SMTPD_DATA && ctx->rcpt != NULL) < 2)
			goto none;
		snprintf(reply, sizeof(reply), "%ld %c.5.3 <%s>: %s rejected: Multi-recipient "
			 "bounce", var_multi_recipient_bounce_reject_code,
			 (char)('0' + var_multi_recipient_bounce_reject_code / 100),
			 quoted(&b, subject), what[stage]);
		break;
	case R_CHECK_CLIENT_ACCESS:
	case R_CHECK_HELO_ACCESS:
	case R_CHECK_SENDER_ACCESS:
	case R_CHECK_RCPT_ACCESS:
		buf_deinit(&b);
		return check_access(rs, stage, ctx, depth);
	case R_REJECT_UNKNOWN_SENDER_DOMAIN:
		buf_deinit(&b);
		return unknown_sender_domain(ctx);
	case R_REJECT_UNLISTED_RCPT:
		buf_deinit(&b);
		return unlisted_recipient(ctx);
	}
	buf_deinit(&b);
	return reply;
none:
	buf_deinit(&b);
	return NULL;
}

/* smtpd_check_deinit - close every table (a clean exit) */
void smtpd_check_deinit(void)
{
	for (int s = 0; s < SMTPD_STAGES; s++) {
		for (size_t i = 0; i < list_len[s]; i++)
			maps_free(&lists[s][i].maps);
		free(lists[s]);
		lists[s] = NULL;
		list_len[s] = 0;
	}
	maps_free(&local_rcpt_maps);
	maps_free(&virtual_maps);
	free(nets);
	nets = NULL;
	net_count = 0;
}

/* smtpd_tables_changed - a table file changed since it was opened */
bool smtpd_tables_changed(void)
{
	const char *spec = maps_any_changed();

	if (spec == NULL)
		return false;
	msg_info("table %s has changed -- restarting", spec);
	return true;
}

/* run_stage - one list: NULL permitted or no decision, else the reply */
static const char *run_stage(enum smtpd_stage stage, const struct smtpd_check_ctx *ctx)
{
	const char *r;

	for (size_t i = 0; i < list_len[stage]; i++)
		if ((r = evaluate(&lists[stage][i], (int)stage, ctx, 0)) != NULL)
			return *r ? r : NULL;
	return NULL;
}

/* smtpd_check_stage - one list, as one command's checks */
const char *smtpd_check_stage(enum smtpd_stage stage, const struct smtpd_check_ctx *ctx)
{
	defer_if_reset();
	return defer_if_result(run_stage(stage, ctx));
}

/* smtpd_check_data - smtpd_data_restrictions or smtpd_end_of_data_restrictions */
const char *smtpd_check_data(enum smtpd_stage stage, const struct smtpd_check_ctx *ctx)
{
	if (list_len[stage] == 0)
		return NULL;
	return smtpd_check_stage(stage, ctx);
}

/* smtpd_check_rcpt - the lists that apply at RCPT TO */
const char *smtpd_check_rcpt(const struct smtpd_check_ctx *ctx)
{
	const char *r;
	int first = var_smtpd_delay_reject ? SMTPD_CLIENT : SMTPD_RELAY;

	defer_if_reset();
	for (int s = first; s <= SMTPD_RCPT; s++)
		if ((r = run_stage((enum smtpd_stage)s, ctx)) != NULL)
			return defer_if_result(r);
	if ((r = defer_if_result(NULL)) != NULL)
		return r;
	/* Unknown local and virtual recipients are refused whatever the lists
	 * permitted, as Postfix's smtpd_reject_unlisted_recipient. */
	if (var_smtpd_reject_unlisted_recipient && (r = unlisted_recipient(ctx)) != NULL && *r)
		return defer_if_result(r);
	return NULL;
}
