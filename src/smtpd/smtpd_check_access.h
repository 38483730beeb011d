/*
 * smtpd_check_access - the look-ups behind check_client_access,
 * check_helo_access, check_sender_access and check_recipient_access
 * (access(5) query order), and the DNS probe of
 * reject_unknown_sender_domain.
 *
 * Each look-up tries its keys in order and stops at the first one a table
 * has; a value of DUNNO also stops it (no shorter key is tried), as
 * Postfix does.  Derived keys are asked with MAPS_FLAG_PARTIAL, so
 * regexp/pcre tables see only the full name, address or hostname.
 */
#ifndef SLUICE_SMTPD_CHECK_ACCESS_H
#define SLUICE_SMTPD_CHECK_ACCESS_H

struct maps;

/*
 * Results: MAPS_FOUND with *value_r (borrowed until the next look-up in
 * maps), MAPS_NOTFOUND, MAPS_ERROR with *error_r.
 *
 * smtpd_access_domain - a host name: the name, then each parent domain
 *   ("sub.example.com", "example.com", "com").
 * smtpd_access_client - the client: its host name as a domain (unless
 *   "unknown"), then its address and the shorter network prefixes
 *   ("192.0.2.9", "192.0.2", "192.0", "192"; IPv6 by ':' groups).
 * smtpd_access_address - an email address: "user@domain", then the domain
 *   and its parents, then "user@".  The null address is looked up as
 *   null_key (smtpd_null_access_lookup_key) only.
 */
int smtpd_access_domain(struct maps *maps, const char *name, const char **value_r,
			const char **error_r);
int smtpd_access_client(struct maps *maps, const char *name, const char *addr,
			const char **value_r, const char **error_r);
int smtpd_access_address(struct maps *maps, const char *address, const char *null_key,
			 const char **value_r, const char **error_r);

/* smtpd_dns_domain_exists - has domain an MX, A or AAAA record?  1 yes,
 * 0 no (no such domain, or none of them), -1 the answer was not known
 * (DNS trouble: the caller defers). */
int smtpd_dns_domain_exists(const char *domain);

#endif
