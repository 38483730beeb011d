/*
 * resolve - in-process address routing (see resolve.h).
 *
 * DIAGNOSTICS: a transport_maps table that cannot be opened is reported by
 * resolve_init(); the queue manager refuses to start rather than mis-route.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/addr_map.h"
#include "global/maps.h"
#include "global/params.h"
#include "global/resolve.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

static struct maps *transport_maps;
static struct maps *relocated_maps;
static struct maps *sender_relay_maps;		/* sender_dependent_relayhost_maps */
static struct maps *virtual_maps;		/* virtual_alias_maps (loop check) */
static struct maps *virtual_domain_maps;	/* the tables in virtual_alias_domains */
static struct argv *virtual_domains;		/* the domains in virtual_alias_domains */
static struct argv *local_domains;
static struct argv *relay_domains;
static struct argv *vmailbox_domains;		/* the domains in virtual_mailbox_domains */
static struct maps *vmailbox_domain_maps;	/* its tables */
static char resolve_err[300];

/* resolve_split_transport - "transport:nexthop" */
void resolve_split_transport(const char *value, char **transport_r, char **nexthop_r)
{
	const char *colon = strchr(value, ':');

	if (colon == NULL) {
		*transport_r = xstrdup(value);
		*nexthop_r = xstrdup("");
	} else {
		*transport_r = xstrndup(value, (size_t)(colon - value));
		*nexthop_r = xstrdup(colon + 1);
	}
}

/* open_optional - maps for a list value, NULL when empty; -1 on failure */
static int open_optional(const char *param, const char *value, struct maps **maps_r,
			 const char **error_r)
{
	*maps_r = NULL;
	if (value == NULL || *value == 0)
		return 0;
	if ((*maps_r = maps_open(value, error_r)) == NULL) {
		snprintf(resolve_err, sizeof(resolve_err), "%s: %.250s", param, *error_r);
		*error_r = resolve_err;
		return -1;
	}
	return 0;
}

/* open_rewrite_tables - relocated_maps, virtual_alias_maps/_domains */
static int open_rewrite_tables(const char **error_r)
{
	struct maps *reloc, *virt, *vdm;
	struct argv *list, *doms = argv_create(), *tabs = argv_create();
	char *spec;
	int rc;

	list = argv_split(var_virtual_alias_domains ? var_virtual_alias_domains : "",
			  ", \t\r\n");
	for (size_t i = 0; i < list->argc; i++)
		argv_add(strchr(list->argv[i], ':') ? tabs : doms,
			 strchr(list->argv[i], ':') ? list->argv[i]
			 : str_lower(list->argv[i]), (char *)NULL);
	{
		struct buf b;

		buf_init(&b, 64);
		for (size_t i = 0; i < tabs->argc; i++)
			buf_printf(&b, "%s%s", i ? ", " : "", tabs->argv[i]);
		spec = buf_steal(&b);
		buf_deinit(&b);
	}
	rc = open_optional("relocated_maps", var_relocated_maps, &reloc, error_r);
	if (rc == 0 && (rc = open_optional("virtual_alias_maps", var_virtual_alias_maps, &virt,
					   error_r)) < 0)
		maps_free(&reloc);
	if (rc == 0 && (rc = open_optional("virtual_alias_domains", spec, &vdm, error_r)) < 0) {
		maps_free(&reloc);
		maps_free(&virt);
	}
	free(spec);
	argv_free(&list);
	argv_free(&tabs);
	if (rc < 0) {
		argv_free(&doms);
		return -1;
	}
	maps_free(&relocated_maps);
	maps_free(&virtual_maps);
	maps_free(&virtual_domain_maps);
	argv_free(&virtual_domains);
	relocated_maps = reloc;
	virtual_maps = virt;
	virtual_domain_maps = vdm;
	virtual_domains = doms;
	return 0;
}

/*
 * virtual_domain - is domain a virtual alias domain?  MAPS_FOUND,
 * MAPS_NOTFOUND or MAPS_ERROR (a table in the list could not be read).
 */
static int virtual_domain(const char *domain)
{
	const char *v, *err;
	int rc;

	if (*domain == 0)
		return MAPS_NOTFOUND;
	for (size_t i = 0; virtual_domains && i < virtual_domains->argc; i++)
		if (str_casecmp_ascii(virtual_domains->argv[i], domain) == 0)
			return MAPS_FOUND;
	if (virtual_domain_maps == NULL)
		return MAPS_NOTFOUND;
	rc = maps_lookup(virtual_domain_maps, domain, MAPS_FLAG_PARTIAL, &v, &err);
	if (rc == MAPS_ERROR)
		msg_warn("virtual_alias_domains lookup of \"%s\": %s", domain, err);
	return rc;
}

/* route_error - the error transport with a reason */
static void route_error(struct resolve_reply *r, const char *reason)
{
	free(r->transport);
	free(r->nexthop);
	r->transport = xstrdup("error");
	r->nexthop = xstrdup(reason);
	r->flags |= RESOLVE_FLAG_ERROR;
}

/*
 * rewrite_classes - what Postfix's trivial-rewrite adds to routing: a
 * virtual alias domain has no mailboxes (cleanup expanded what
 * virtual_alias_maps knows; what is left is unknown, or a loop that
 * cleanup ended), and relocated_maps sends the new address back.  true when
 * r is decided (error route or a table failure).
 */
static bool rewrite_classes(struct resolve_reply *r, const char *domain)
{
	const char *err;
	char *v = NULL;
	int rc;

	if ((rc = virtual_domain(domain)) == MAPS_ERROR) {
		r->flags |= RESOLVE_FLAG_FAIL;
		return true;
	}
	if (rc == MAPS_FOUND) {
		rc = addr_map_lookup(virtual_maps, r->recipient, 0, &v, &err);
		if (rc == MAPS_ERROR) {
			msg_warn("virtual_alias_maps lookup of \"%s\": %s", r->recipient, err);
			r->flags |= RESOLVE_FLAG_FAIL;
			return true;
		}
		free(v);
		route_error(r, rc == MAPS_FOUND ? "5.4.6 mail forwarding loop in "
			    "virtual_alias_maps" : "5.1.1 User unknown in virtual alias table");
		return true;
	}
	rc = addr_map_lookup(relocated_maps, r->recipient, 0, &v, &err);
	if (rc == MAPS_ERROR) {
		msg_warn("relocated_maps lookup of \"%s\": %s", r->recipient, err);
		r->flags |= RESOLVE_FLAG_FAIL;
		return true;
	}
	if (rc == MAPS_FOUND) {
		char *why = xasprintf("5.1.6 User has moved to %s", v);

		route_error(r, why);
		free(why);
		free(v);
		return true;
	}
	return false;
}

/* open_vmailbox - virtual_mailbox_domains: names and tables; 0 or -1 */
static int open_vmailbox(const char **error_r)
{
	struct argv *list = argv_split(var_virtual_mailbox_domains
				       ? var_virtual_mailbox_domains : "", ", \t\r\n");
	struct argv *doms = argv_create();
	struct maps *m = NULL;
	struct buf tabs;
	int rc = 0;

	buf_init(&tabs, 64);
	for (size_t i = 0; i < list->argc; i++) {
		if (strchr(list->argv[i], ':'))
			buf_printf(&tabs, "%s%s", tabs.len ? ", " : "", list->argv[i]);
		else
			argv_add(doms, str_lower(list->argv[i]), (char *)NULL);
	}
	if ((rc = open_optional("virtual_mailbox_domains", tabs.data, &m, error_r)) == 0) {
		maps_free(&vmailbox_domain_maps);
		argv_free(&vmailbox_domains);
		vmailbox_domain_maps = m;
		vmailbox_domains = doms;
	} else {
		argv_free(&doms);
	}
	buf_deinit(&tabs);
	argv_free(&list);
	return rc;
}

/* resolve_virtual_mailbox_domain - virtual_mailbox_domains membership */
int resolve_virtual_mailbox_domain(const char *domain)
{
	const char *v, *err;
	int rc;

	if (*domain == 0)
		return MAPS_NOTFOUND;
	for (size_t i = 0; vmailbox_domains && i < vmailbox_domains->argc; i++)
		if (str_casecmp_ascii(vmailbox_domains->argv[i], domain) == 0)
			return MAPS_FOUND;
	if (vmailbox_domain_maps == NULL)
		return MAPS_NOTFOUND;
	rc = maps_lookup(vmailbox_domain_maps, domain, MAPS_FLAG_PARTIAL, &v, &err);
	if (rc == MAPS_ERROR)
		msg_warn("virtual_mailbox_domains lookup of \"%s\": %s", domain, err);
	return rc;
}

/* resolve_init - (re)load tables and lists */
int resolve_init(const char **error_r)
{
	struct maps *m = NULL;
	struct argv *relay;

	/* Domain names only: refuse what would silently match nothing. */
	relay = argv_split(var_relay_domains ? var_relay_domains : "", ", \t\r\n");
	for (size_t i = 0; i < relay->argc; i++) {
		if (strchr(relay->argv[i], ':') != NULL || strchr(relay->argv[i], '/') != NULL) {
			snprintf(resolve_err, sizeof(resolve_err), "relay_domains: %.200s: lookup "
				 "tables and files are not supported; list the domains",
				 relay->argv[i]);
			*error_r = resolve_err;
			argv_free(&relay);
			return -1;
		}
		str_lower(relay->argv[i]);
	}
	if (var_transport_maps && *var_transport_maps) {
		if ((m = maps_open(var_transport_maps, error_r)) == NULL) {
			argv_free(&relay);
			return -1;
		}
	}
	if (open_rewrite_tables(error_r) < 0 || open_vmailbox(error_r) < 0) {
		maps_free(&m);
		argv_free(&relay);
		return -1;
	}
	{
		struct maps *snd;

		if (open_optional("sender_dependent_relayhost_maps",
				  var_sender_dependent_relayhost_maps, &snd, error_r) < 0) {
			maps_free(&m);
			argv_free(&relay);
			return -1;
		}
		maps_free(&sender_relay_maps);
		sender_relay_maps = snd;
	}
	argv_free(&relay_domains);
	relay_domains = relay;
	if (transport_maps)
		maps_free(&transport_maps);
	transport_maps = m;
	argv_free(&local_domains);
	local_domains = argv_split(var_mydestination, ", \t\r\n");
	for (size_t i = 0; i < local_domains->argc; i++)
		str_lower(local_domains->argv[i]);
	return 0;
}

/* resolve_local_domain - mydestination membership */
bool resolve_local_domain(const char *domain)
{
	if (local_domains == NULL)
		return false;
	for (size_t i = 0; i < local_domains->argc; i++)
		if (str_casecmp_ascii(local_domains->argv[i], domain) == 0)
			return true;
	return false;
}

/* resolve_relay_domain - relay_domains membership, subdomains included */
bool resolve_relay_domain(const char *domain)
{
	size_t dlen = strlen(domain), plen;
	const char *p;

	if (relay_domains == NULL || dlen == 0)
		return false;
	for (size_t i = 0; i < relay_domains->argc; i++) {
		p = relay_domains->argv[i];
		/* "example.test" itself; then as ".example.test" for subdomains. */
		if (*p != '.' && str_casecmp_ascii(p, domain) == 0)
			return true;
		plen = strlen(p) + (*p != '.');
		if (dlen > plen && str_casecmp_ascii(domain + dlen - strlen(p), p) == 0
		    && (*p == '.' || domain[dlen - plen] == '.'))
			return true;
	}
	return false;
}

/*
 * relayhost_for - relayhost, or what sender_dependent_relayhost_maps says
 * for this sender: the address, then "@domain" (the null sender as
 * empty_address_relayhost_maps_lookup_key); DUNNO ends the search with
 * relayhost.  NULL for a table that cannot be read (RESOLVE_FLAG_FAIL set).
 */
static const char *relayhost_for(struct resolve_reply *r, const char *sender)
{
	const char *value = NULL, *error, *at;
	char *key;
	int rc;

	if (sender_relay_maps == NULL || sender == NULL)
		return var_relayhost;
	if (*sender == 0) {
		rc = maps_lookup(sender_relay_maps, var_empty_address_relayhost_maps_lookup_key, 0,
				 &value, &error);
	} else {
		rc = maps_lookup(sender_relay_maps, sender, 0, &value, &error);
		if (rc == MAPS_NOTFOUND && (at = strrchr(sender, '@')) != NULL && at[1]) {
			key = str_lower(xstrdup(at));
			rc = maps_lookup(sender_relay_maps, key, MAPS_FLAG_PARTIAL, &value, &error);
			free(key);
		}
	}
	if (rc == MAPS_ERROR) {
		msg_warn("sender_dependent_relayhost_maps lookup of \"%s\": %s", sender, error);
		r->flags |= RESOLVE_FLAG_FAIL;
		return NULL;
	}
	if (rc == MAPS_FOUND && *value && strcasecmp(value, "DUNNO") != 0)
		return value;
	return var_relayhost;
}

/* default_nexthop - the next hop of a non-local class: relayhost, else the domain */
static void default_nexthop(struct resolve_reply *r, const char *domain, const char *sender)
{
	const char *relay;

	if (*r->nexthop == 0) {
		relay = relayhost_for(r, sender);
		free(r->nexthop);
		r->nexthop = xstrdup(relay && *relay ? relay : domain);
	}
}

/* transport_find - one key: MAPS_FOUND, MAPS_NOTFOUND or MAPS_ERROR (logged) */
static int transport_find(const char *key, int flags, const char **value_r)
{
	const char *error;
	int rc = maps_lookup(transport_maps, key, flags, value_r, &error);

	if (rc == MAPS_ERROR)
		msg_warn("transport_maps lookup of \"%s\": %s", key, error);
	return rc;
}

/*
 * transport_lookup - address, domain, .parents, *: MAPS_FOUND with *value_r,
 * MAPS_NOTFOUND, or MAPS_ERROR (a table could not be read: the caller
 * defers instead of routing by the defaults).  Only the full address is
 * asked of pattern tables (regexp, pcre), as in Postfix.
 */
static int transport_lookup(const char *addr, const char *domain, const char **value_r)
{
	const char *dot;
	char *key;
	int rc;

	if (transport_maps == NULL)
		return MAPS_NOTFOUND;
	if ((rc = transport_find(addr, 0, value_r)) != MAPS_NOTFOUND)
		return rc;
	if (*domain) {
		if ((rc = transport_find(domain, MAPS_FLAG_PARTIAL, value_r)) != MAPS_NOTFOUND)
			return rc;
		for (dot = domain; (dot = strchr(dot, '.')) != NULL; dot++) {
			key = xstrdup(dot);
			rc = transport_find(key, MAPS_FLAG_PARTIAL, value_r);
			free(key);
			if (rc != MAPS_NOTFOUND)
				return rc;
		}
	}
	return transport_find("*", MAPS_FLAG_PARTIAL, value_r);
}

/* resolve_addr - route one recipient, sender unknown */
void resolve_addr(const char *addr, struct resolve_reply *r)
{
	resolve_addr_sender(addr, NULL, r);
}

/* resolve_addr_sender - route one recipient of a sender */
void resolve_addr_sender(const char *addr, const char *sender, struct resolve_reply *r)
{
	const char *at = strrchr(addr, '@');
	char *domain, *t = NULL, *n = NULL;
	const char *v;
	int rc;

	memset(r, 0, sizeof(*r));
	r->recipient = xstrdup(addr);
	if (at) {
		str_lower(r->recipient + (at - addr) + 1);
		domain = str_lower(xstrdup(at + 1));
	} else {
		domain = xstrdup("");
	}

	/* Obviously broken addresses never reach an agent. */
	if (at && (at == addr || at[1] == 0 || strpbrk(at + 1, " \t<>()\",;\\") != NULL)) {
		r->transport = xstrdup("error");
		r->nexthop = xstrdup("5.1.3 bad address syntax");
		r->flags |= RESOLVE_FLAG_ERROR;
		free(domain);
		return;
	}

	/* Steps 2 to 4: the defaults for this address class. */
	if (*domain == 0 || resolve_local_domain(domain)) {
		resolve_split_transport(var_local_transport, &r->transport, &r->nexthop);
		r->flags |= RESOLVE_FLAG_LOCAL;
	} else if ((rc = resolve_virtual_mailbox_domain(domain)) != MAPS_NOTFOUND) {
		/* The virtual mailbox class: virtual_transport, next hop the domain. */
		resolve_split_transport(var_virtual_transport, &r->transport, &r->nexthop);
		r->flags |= RESOLVE_FLAG_VIRTUAL | (rc == MAPS_ERROR ? RESOLVE_FLAG_FAIL : 0);
		if (*r->nexthop == 0) {
			free(r->nexthop);
			r->nexthop = xstrdup(domain);
		}
	} else if (resolve_relay_domain(domain)) {
		resolve_split_transport(var_relay_transport, &r->transport, &r->nexthop);
		r->flags |= RESOLVE_FLAG_RELAY;
		default_nexthop(r, domain, sender);
	} else {
		resolve_split_transport(var_default_transport, &r->transport, &r->nexthop);
		default_nexthop(r, domain, sender);
	}

	/* Virtual alias domains and relocated users end here. */
	if (rewrite_classes(r, domain)) {
		free(domain);
		return;
	}

	/* Step 1 overrides either part; a table that cannot be read defers. */
	rc = transport_lookup(r->recipient, domain, &v);
	if (rc == MAPS_ERROR) {
		r->flags |= RESOLVE_FLAG_FAIL;
	} else if (rc == MAPS_FOUND) {
		resolve_split_transport(v, &t, &n);
		if (*t) {
			free(r->transport);
			r->transport = t;
			t = NULL;
		}
		if (*n) {
			free(r->nexthop);
			r->nexthop = n;
			n = NULL;
		} else if (!(r->flags & RESOLVE_FLAG_LOCAL) && strcmp(r->transport, "error") != 0
			   && strcmp(r->transport, "local") != 0 && *domain) {
			/* "smtp:" in the table: deliver to the domain itself. */
			const char *relay = relayhost_for(r, sender);

			free(r->nexthop);
			r->nexthop = xstrdup(relay && *relay ? relay : domain);
		}
		free(t);
		free(n);
	}
	if (strcmp(r->transport, "error") == 0)
		r->flags |= RESOLVE_FLAG_ERROR;
	free(domain);
}

/* resolve_reply_deinit - free reply fields */
void resolve_reply_deinit(struct resolve_reply *r)
{
	free(r->transport);
	free(r->nexthop);
	free(r->recipient);
	memset(r, 0, sizeof(*r));
}
