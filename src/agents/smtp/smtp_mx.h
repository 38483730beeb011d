/*
 * smtp_mx - from a next hop to an ordered list of addresses to try.
 *
 * A next hop is "domain" (MX lookup; no MX records: the domain's own
 * addresses), "[host]" or "[host]:port" (no MX lookup, as in Postfix), or
 * "host:port" (no MX lookup either: the brief asks for it, Postfix would
 * look up MX records of host).  An address literal never gets an MX lookup.
 * The port defaults to the "smtp" service.
 *
 * MX records are ordered by preference; records of equal preference are
 * shuffled (randomize) so that load spreads over equal servers.  Each MX
 * host's addresses follow in the order smtp_address_preference asks for.
 * The list is cut at smtp_mx_address_limit addresses, duplicates removed.
 *
 * Each address says whether DNSSEC vouched for it (the MX answer, when
 * there was one, and the address answer both came with the AD bit), for
 * DANE (smtp_dane.h).
 *
 * The ordering and answer parsing are pure functions (unit-tested with an
 * injected random source and hand-made DNS packets); smtp_lookup() is the
 * part that talks to the system resolver.
 */
#ifndef SLUICE_SMTP_MX_H
#define SLUICE_SMTP_MX_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* smtp_host_lookup mechanisms. */
#define SMTP_LOOKUP_DNS		(1 << 0)
#define SMTP_LOOKUP_NATIVE	(1 << 1)

/* inet_protocols: the address families the client may use (0 = both). */
#define SMTP_FAMILY_IPV4	(1 << 0)
#define SMTP_FAMILY_IPV6	(1 << 1)

/* smtp_address_preference. */
enum smtp_addr_pref {
	SMTP_PREF_ANY,
	SMTP_PREF_IPV4,
	SMTP_PREF_IPV6,
};

/* A random source: a uniform value in [0, bound). */
typedef unsigned long smtp_rand_fn(void *ctx, unsigned long bound);

struct smtp_nexthop {
	char *host;		/* domain, host name or address, without brackets */
	unsigned port;		/* host byte order */
	bool no_mx;		/* skip the MX lookup */
};

struct smtp_mx {
	int pref;		/* MX preference */
	char *host;		/* exchange name, no trailing dot */
};

struct smtp_addr {
	char *host;			/* the name that was looked up (MX host) */
	int pref;			/* its MX preference (0 when no MX) */
	struct sockaddr_storage sa;	/* address and port */
	socklen_t salen;
	char ip[108];			/* printable address, or a UNIX socket path */
	unsigned port;
	bool dnssec;			/* DNS answers with the AD bit all the way */
};

struct smtp_addr_list {
	struct smtp_addr *addr;
	size_t count;
	size_t cap;
};

/* What the look-up policy is (from the smtp_* parameters). */
struct smtp_lookup_conf {
	int lookup;			/* SMTP_LOOKUP_* bits; DNS first */
	bool disable_dns;		/* disable_dns_lookups */
	int families;			/* SMTP_FAMILY_* bits, 0 = both */
	long address_limit;		/* smtp_mx_address_limit, 0 = none */
	enum smtp_addr_pref pref;	/* smtp_address_preference */
	bool randomize;			/* smtp_randomize_addresses */
	bool defer_if_no_mx_address;	/* smtp_defer_if_no_mx_address_found */
	smtp_rand_fn *rnd;		/* NULL: random() */
	void *rnd_ctx;
};

/* Why a look-up found nothing to connect to. */
struct smtp_lookup_error {
	char status[16];	/* "4.4.3" try again, "5.4.4" not found, "5.1.10" null MX */
	char reason[512];
};

/*
 * smtp_nexthop_parse - split a next hop.  default_port is used when none is
 * given.  Returns 0, or -1 with *error_r (static text).  Free the fields
 * with smtp_nexthop_deinit().
 */
int smtp_nexthop_parse(const char *nexthop, unsigned default_port, struct smtp_nexthop *nh_r,
		       const char **error_r);
void smtp_nexthop_deinit(struct smtp_nexthop *nh);

/* smtp_addr_is_literal - is host a numeric IPv4 or IPv6 address? */
bool smtp_addr_is_literal(const char *host);

/* smtp_mx_sort - by preference, equal ones shuffled with rnd (NULL: kept in
 * the given order). */
void smtp_mx_sort(struct smtp_mx *mx, size_t n, smtp_rand_fn *rnd, void *ctx);

/*
 * smtp_mx_parse_answer - the MX records in the answer section of a DNS
 * reply.  Returns the count with the records in *mx_r (caller frees with
 * smtp_mx_free), or -1 with *error_r (static) for a malformed packet.
 */
long smtp_mx_parse_answer(const unsigned char *answer, size_t len, struct smtp_mx **mx_r,
			  const char **error_r);
/* smtp_mx_free - free n records and clear *mxp. */
void smtp_mx_free(struct smtp_mx **mxp, size_t n);
/* smtp_mx_is_null - RFC 7505 null MX: one record, exchange ".". */
bool smtp_mx_is_null(const struct smtp_mx *mx, size_t n);

/*
 * smtp_addr_add - append an address (sa of family AF_INET or AF_INET6,
 * port taken from port) unless the same address and port is already
 * there.  Returns true when added.
 */
bool smtp_addr_add(struct smtp_addr_list *l, const char *host, int pref,
		   const struct sockaddr *sa, unsigned port);
/*
 * smtp_inet_protocols - inet_protocols ("all", or ipv4 and/or ipv6) as
 * SMTP_FAMILY_* bits; "all" leaves out IPv6 when this host cannot make an
 * IPv6 socket.  -1 for an unknown word.
 */
int smtp_inet_protocols(const char *value);

/* smtp_addr_order - within entries [from, count), put the preferred family first
 * (stable). */
void smtp_addr_order(struct smtp_addr_list *l, size_t from, enum smtp_addr_pref pref);
/* smtp_addr_limit - keep at most limit entries (0: all). */
void smtp_addr_limit(struct smtp_addr_list *l, long limit);
/* smtp_addr_list_deinit - free the entries. */
void smtp_addr_list_deinit(struct smtp_addr_list *l);

/*
 * smtp_lookup - the addresses to try for a next hop, in order.  Returns 0
 * with a non-empty list, or -1 with *err_r filled in (status class 4: try
 * again later; 5: the destination cannot be reached at all).
 */
int smtp_lookup(const struct smtp_nexthop *nh, const struct smtp_lookup_conf *conf,
		struct smtp_addr_list *list_r, struct smtp_lookup_error *err_r);

#endif
