/*
 * resolve - address routing, the role of Postfix's trivial-rewrite(8), as a
 * module the queue manager calls in-process (no round trip per recipient).
 *
 * Given a recipient it answers (transport, next hop, recipient):
 *   1. transport_maps: the full address, then the domain, then each parent
 *      domain as ".parent", then "*"; a "transport:nexthop" result where
 *      either part may be empty (empty = keep what steps 2-3 give);
 *   2. a domain in mydestination (or no domain) goes to local_transport;
 *   2b. a domain in virtual_mailbox_domains goes to virtual_transport, with
 *      next hop from its ":nexthop", else the domain (Postfix's virtual
 *      mailbox class; a table that cannot be read defers);
 *   3. a domain in relay_domains (a listed domain or a subdomain of it;
 *      ".domain" matches subdomains only, as Postfix with relay_domains in
 *      parent_domain_matches_subdomains) goes to relay_transport, with next
 *      hop from relay_transport's own ":nexthop", else relayhost, else the
 *      domain (Postfix's relay address class);
 *   4. anything else goes to default_transport, with next hop from
 *      default_transport's own ":nexthop", else relayhost, else the domain.
 * Where relayhost applies, sender_dependent_relayhost_maps may name another
 * one for the message's sender (resolve_addr_sender()).
 * A next hop "[host]" or "[host]:port" is passed on as is (the smtp agent
 * skips MX lookups for it).  An address that does not parse resolves to the
 * error transport with "5.1.3 bad address syntax".
 */
#ifndef SLUICE_RESOLVE_H
#define SLUICE_RESOLVE_H

#include <stdbool.h>

#define RESOLVE_FLAG_LOCAL	(1 << 0)	/* domain is ours (mydestination) */
#define RESOLVE_FLAG_ERROR	(1 << 1)	/* routed to the error transport */
#define RESOLVE_FLAG_FAIL	(1 << 2)	/* a transport_maps table could not be
						 * read: defer ("4.3.0 lookup table not
						 * available"), the route is the default */
#define RESOLVE_FLAG_RELAY	(1 << 3)	/* domain in relay_domains */
#define RESOLVE_FLAG_VIRTUAL	(1 << 4)	/* domain in virtual_mailbox_domains */

struct resolve_reply {
	char *transport;	/* master.cf service name */
	char *nexthop;
	char *recipient;	/* as given, domain lower-cased */
	int flags;
};

/* resolve_init - open transport_maps and read the routing parameters
 * (again on reload). 0, or -1 with *error_r (a table that cannot be
 * opened; a lookup table in relay_domains, which is not supported). */
int resolve_init(const char **error_r);
/* resolve_addr - route one address; fields owned by *reply (resolve_reply_deinit). */
void resolve_addr(const char *addr, struct resolve_reply *reply);
/* resolve_addr_sender - the same for a message from sender (NULL: unknown),
 * which sender_dependent_relayhost_maps may route through another relayhost
 * (where relayhost would apply; a table that cannot be read sets
 * RESOLVE_FLAG_FAIL). */
void resolve_addr_sender(const char *addr, const char *sender, struct resolve_reply *reply);
void resolve_reply_deinit(struct resolve_reply *reply);
/* resolve_local_domain - is domain listed in mydestination? */
bool resolve_local_domain(const char *domain);
/* resolve_relay_domain - does domain match relay_domains? */
bool resolve_relay_domain(const char *domain);
/* resolve_virtual_mailbox_domain - virtual_mailbox_domains membership (a
 * listed domain, or a key of its tables): MAPS_FOUND, MAPS_NOTFOUND, or
 * MAPS_ERROR (logged) when a table could not be read. */
int resolve_virtual_mailbox_domain(const char *domain);
/* resolve_split_transport - "smtp:[h]:25" into transport and nexthop (copies). */
void resolve_split_transport(const char *value, char **transport_r, char **nexthop_r);

#endif
