/*
 * smtpd_check - relay control and the smtpd_*_restrictions.
 *
 * Postfix's model: five lists, evaluated at RCPT TO in the order client,
 * helo, sender, relay, recipient (with smtpd_delay_reject = no the first
 * three run at connect, HELO and MAIL instead).  Within a list the first
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
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/addr.h"
#include "global/params.h"
#include "global/resolve.h"
#include "smtpd_check.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

struct net {
	struct sockaddr_storage addr;
	int bits;
};

static struct net *nets;
static size_t net_count;

enum restr {
	R_PERMIT, R_REJECT, R_DEFER, R_PERMIT_MYNETWORKS, R_PERMIT_SASL,
	R_REJECT_UNAUTH_DEST, R_DEFER_UNAUTH_DEST, R_REJECT_NON_FQDN_SENDER,
	R_REJECT_NON_FQDN_RCPT, R_REJECT_NON_FQDN_HELO, R_REJECT_UNAUTH_PIPELINING,
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
};

static const char *const stage_params[] = {
	"smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
	"smtpd_relay_restrictions", "smtpd_recipient_restrictions",
};

static enum restr *lists[5];
static size_t list_len[5];
static char reply[1200];

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

/* parse_list - one restriction list */
static void parse_list(int stage, const char *text)
{
	char *copy = xstrdup(text), *cp = copy, *word;

	while ((word = str_token(&cp, ", \t\r\n")) != NULL) {
		size_t i;

		for (i = 0; i < sizeof(restr_names) / sizeof(restr_names[0]); i++)
			if (strcasecmp(word, restr_names[i].name) == 0)
				break;
		if (i == sizeof(restr_names) / sizeof(restr_names[0]))
			msg_fatal("parameter %s: unknown or unsupported restriction \"%s\" "
				  "(docs/SMTPD.md lists those sluice implements)",
				  stage_params[stage], word);
		lists[stage] = xreallocarray(lists[stage], list_len[stage] + 1,
					     sizeof(enum restr));
		lists[stage][list_len[stage]++] = restr_names[i].r;
	}
	free(copy);
}

/* smtpd_check_init - configuration */
void smtpd_check_init(void)
{
	const char *texts[5] = {var_smtpd_client_restrictions, var_smtpd_helo_restrictions,
				var_smtpd_sender_restrictions, var_smtpd_relay_restrictions,
				var_smtpd_recipient_restrictions};
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
	for (int s = 0; s < 5; s++)
		parse_list(s, texts[s]);
	/* Postfix's safety rule: something must stop relaying. */
	for (int s = SMTPD_RELAY; s <= SMTPD_RCPT; s++)
		for (size_t i = 0; i < list_len[s]; i++)
			if (lists[s][i] == R_REJECT_UNAUTH_DEST || lists[s][i] == R_DEFER_UNAUTH_DEST
			    || lists[s][i] == R_REJECT || lists[s][i] == R_DEFER)
				guarded = true;
	if (!guarded)
		msg_fatal("parameters smtpd_relay_restrictions and smtpd_recipient_restrictions: "
			  "specify at least one of reject_unauth_destination, "
			  "defer_unauth_destination, reject or defer (an open relay otherwise)");
	if (resolve_init(&error) < 0)
		msg_fatal("%s", error);
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

/* evaluate - one restriction; NULL = no decision, "" = permit, else reply */
static const char *evaluate(enum restr r, int stage, const struct smtpd_check_ctx *ctx)
{
	static const char *const what[] = {"Client host", "Helo command", "Sender address",
					   "Recipient address", "Recipient address"};
	struct buf b;
	const char *subject;
	const char *domain;

	buf_init(&b, 128);
	subject = stage == SMTPD_CLIENT ? ctx->client : stage == SMTPD_HELO
	    ? (ctx->helo ? ctx->helo : "") : stage == SMTPD_SENDER
	    ? (ctx->sender ? ctx->sender : "") : (ctx->rcpt ? ctx->rcpt : "");
	reply[0] = 0;
	switch (r) {
	case R_PERMIT:
		break;
	case R_REJECT:
	case R_DEFER:
		snprintf(reply, sizeof(reply), "%s <%s>: %s rejected: Access denied",
			 r == R_REJECT ? "554 5.7.1" : "450 4.7.1", quoted(&b, subject),
			 what[stage]);
		break;
	case R_PERMIT_MYNETWORKS:
		if (!smtpd_check_mynetworks(ctx->addr))
			goto none;
		break;
	case R_PERMIT_SASL:
		goto none;			/* no AUTH yet: nobody is authenticated */
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
		if (!ctx->pipelined || ctx->ehlo)
			goto none;
		snprintf(reply, sizeof(reply), "503 5.5.0 <%s>: Client host rejected: "
			 "Improper use of SMTP command pipelining", quoted(&b, ctx->client));
		break;
	}
	buf_deinit(&b);
	return reply;
none:
	buf_deinit(&b);
	return NULL;
}

/* smtpd_check_stage - one list */
const char *smtpd_check_stage(enum smtpd_stage stage, const struct smtpd_check_ctx *ctx)
{
	const char *r;

	for (size_t i = 0; i < list_len[stage]; i++)
		if ((r = evaluate(lists[stage][i], (int)stage, ctx)) != NULL)
			return *r ? r : NULL;
	return NULL;
}

/* smtpd_check_rcpt - the lists that apply at RCPT TO */
const char *smtpd_check_rcpt(const struct smtpd_check_ctx *ctx)
{
	const char *r;
	int first = var_smtpd_delay_reject ? SMTPD_CLIENT : SMTPD_RELAY;

	for (int s = first; s <= SMTPD_RCPT; s++)
		if ((r = smtpd_check_stage((enum smtpd_stage)s, ctx)) != NULL)
			return r;
	return NULL;
}
