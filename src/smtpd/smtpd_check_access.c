/*
 * smtpd_check_access - access(5) look-up order and the sender domain DNS
 * probe (see smtpd_check_access.h).
 *
 * NOT: recipient_delimiter extensions in access keys; the ".parent" key
 * form (sluice matches parents as Postfix does with smtpd_access_maps in
 * parent_domain_matches_subdomains, its default).
 */
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/maps.h"
#include "smtpd_check_access.h"
#include "util/mem.h"
#include "util/strutil.h"

/* ask - one key; DUNNO reads as "stop here, nothing found" (*stop_r) */
static int ask(struct maps *maps, const char *key, int flags, const char **value_r,
	       const char **error_r, bool *stop_r)
{
	int rc = maps_lookup(maps, key, flags, value_r, error_r);

	if (rc == MAPS_FOUND && strcasecmp(*value_r, "DUNNO") == 0) {
		*stop_r = true;
		return MAPS_NOTFOUND;
	}
	if (rc != MAPS_NOTFOUND)
		*stop_r = true;
	return rc;
}

/* domain_keys - name and its parents; the first key is full unless partial */
static int domain_keys(struct maps *maps, const char *name, bool partial, const char **value_r,
		       const char **error_r, bool *stop_r)
{
	char *copy = str_lower(xstrdup(name));
	const char *key = copy;
	int rc = MAPS_NOTFOUND;

	/* One trailing dot names the same domain. */
	if (*copy && copy[strlen(copy) - 1] == '.')
		copy[strlen(copy) - 1] = 0;
	while (*key && !*stop_r) {
		rc = ask(maps, key, key == copy && !partial ? 0 : MAPS_FLAG_PARTIAL, value_r,
			 error_r, stop_r);
		if ((key = strchr(key, '.')) == NULL)
			break;
		key++;
	}
	free(copy);
	return rc;
}

/* smtpd_access_domain - name, then parents */
int smtpd_access_domain(struct maps *maps, const char *name, const char **value_r,
			const char **error_r)
{
	bool stop = false;

	return domain_keys(maps, name, false, value_r, error_r, &stop);
}

/* smtpd_access_client - host name and parents, address and prefixes */
int smtpd_access_client(struct maps *maps, const char *name, const char *addr,
			const char **value_r, const char **error_r)
{
	bool stop = false, v6 = strchr(addr, ':') != NULL;
	char *copy, *cut;
	int rc = MAPS_NOTFOUND, flags = 0;

	if (strcasecmp(name, "unknown") != 0
	    && (rc = domain_keys(maps, name, false, value_r, error_r, &stop)) != MAPS_NOTFOUND)
		return rc;
	if (stop)
		return MAPS_NOTFOUND;
	copy = str_lower(xstrdup(addr));
	for (;;) {
		if ((rc = ask(maps, copy, flags, value_r, error_r, &stop)) != MAPS_NOTFOUND || stop)
			break;
		flags = MAPS_FLAG_PARTIAL;
		if ((cut = strrchr(copy, v6 ? ':' : '.')) == NULL)
			break;
		*cut = 0;
		/* "2001:db8::" shortens to "2001:db8:" then "2001:db8". */
		if (v6 && cut > copy && cut[-1] == ':')
			cut[-1] = 0;
		if (*copy == 0)
			break;
	}
	free(copy);
	return rc;
}

/* smtpd_access_address - address, domain and parents, user@ */
int smtpd_access_address(struct maps *maps, const char *address, const char *null_key,
			 const char **value_r, const char **error_r)
{
	const char *at = strrchr(address, '@');
	bool stop = false;
	char *copy, *user;
	int rc;

	if (*address == 0)
		return ask(maps, null_key, 0, value_r, error_r, &stop);
	copy = str_lower(xstrdup(address));
	rc = ask(maps, copy, 0, value_r, error_r, &stop);
	if (rc == MAPS_NOTFOUND && !stop && at && at[1])
		rc = domain_keys(maps, at + 1, true, value_r, error_r, &stop);
	if (rc == MAPS_NOTFOUND && !stop && at) {
		user = xstrndup(copy, (size_t)(at - address) + 1);
		rc = ask(maps, user, MAPS_FLAG_PARTIAL, value_r, error_r, &stop);
		free(user);
	}
	free(copy);
	return rc;
}

/* probe - one record type: 1 found, 0 none or no such domain, -1 trouble */
static int probe(const char *domain, int type, bool *nxdomain_r)
{
	unsigned char answer[NS_PACKETSZ];

	if (res_query(domain, ns_c_in, type, answer, sizeof(answer)) >= 0)
		return 1;
	switch (h_errno) {
	case HOST_NOT_FOUND:
		*nxdomain_r = true;
		return 0;
	case NO_DATA:
		return 0;
	default:
		return -1;
	}
}

/* smtpd_dns_domain_exists - MX, A or AAAA */
int smtpd_dns_domain_exists(const char *domain)
{
	static const int types[] = {ns_t_mx, ns_t_a, ns_t_aaaa};
	bool nxdomain = false, trouble = false;

	if (!(_res.options & RES_INIT) && res_init() < 0)
		return -1;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !nxdomain; i++) {
		int r = probe(domain, types[i], &nxdomain);

		if (r > 0)
			return 1;
		if (r < 0)
			trouble = true;
	}
	return trouble && !nxdomain ? -1 : 0;
}
