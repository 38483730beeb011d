/*
 * addr - mail addresses: RFC 5321 paths, quoting, domains, next hops.
 *
 * sluice keeps addresses in "internal" form everywhere (queue files, IPC,
 * logs): the local part without its quotes or backslashes, "@", the domain
 * in lower case.  The null sender is "".  "external" form is what goes on
 * the wire: the local part quoted when it is not a valid dot-string.
 * Postfix does the same (tok822 internalize/externalize); the split between
 * local part and domain is always at the LAST "@".
 *
 * Return convention: parsers of untrusted text return 0 with a result the
 * caller frees with free(), or -1 with *error_r (static text).
 */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <stdbool.h>

/* Length limits enforced by the parsers (generous: RFC 5321 says 64/255/256
 * but real mail exceeds the local-part limit). */
#define ADDR_LOCAL_MAX	256
#define ADDR_DOMAIN_MAX	255
#define ADDR_MAX	(ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX)

/* Flags for addr_parse_path(). */
#define ADDR_PATH_BARE		(1 << 0)	/* angle brackets are optional */
#define ADDR_PATH_NULL_OK	(1 << 1)	/* "<>" (or "" when bare) is the null address */
#define ADDR_PATH_UNQUALIFIED	(1 << 2)	/* a local part without "@domain" is fine */

/*
 * addr_parse_path - parse an RFC 5321 path ("<local@domain>", with an
 * optional source route "@a,@b:" that is dropped) into internal form in
 * *addr_r (caller frees with free()).  The local part is a dot-string or a
 * quoted string (UTF-8 octets allowed, RFC 6531); the domain is dotted
 * labels of letters, digits, "-" and "_" or an address literal "[...]"
 * (without "@", which would move the split in internal form), and
 * comes out in lower case.  Leading and trailing white space is ignored.
 * An address without a domain (ADDR_PATH_UNQUALIFIED) must not have "@" in
 * its (quoted) local part: in internal form that would read as a domain.
 * Returns 0, or -1 with *error_r.
 */
int addr_parse_path(const char *text, int flags, char **addr_r, const char **error_r);

/*
 * addr_unquote - external form (possibly quoted, no brackets required) to
 * internal form; the same as addr_parse_path() with every flag set.
 */
int addr_unquote(const char *text, char **addr_r, const char **error_r);

/*
 * addr_quote - internal form to external form: the local part is quoted
 * (with backslash before '"' and '\') when it is not a valid dot-string.
 * "" stays "".  Caller frees with free().
 */
char *addr_quote(const char *addr);
/* addr_dot_string_ok - s[0..len) is an RFC 5321 dot-string (a local part
 * that needs no quotes; UTF-8 octets allowed). */
bool addr_dot_string_ok(const char *s, size_t len);

/* addr_domain - the text after the last "@", or NULL. Borrowed from addr. */
const char *addr_domain(const char *addr);

/* addr_lower_domain - lower-case the part after the last "@" in place; returns addr. */
char *addr_lower_domain(char *addr);

/*
 * addr_qualify - addr with "@origin" appended when it has no "@" (Postfix
 * append_at_myorigin); "" (the null address) stays "".  Caller frees.
 */
char *addr_qualify(const char *addr, const char *origin);

/* addr_valid_domain - is text a syntactically valid domain or address literal? */
bool addr_valid_domain(const char *text);

/*
 * addr_parse_nexthop - parse a next hop: "[host]" or "[host]:port" (no MX
 * lookup; host may be an IPv4 or IPv6 address, "ipv6:" prefix allowed) or
 * "host" / "host:port" (MX lookup).  port is decimal or a service name
 * from /etc/services; 0 when absent.  *host_r (lower case, brackets and
 * "ipv6:" removed) is freed by the caller with free().  Returns 0, or -1
 * with *error_r.
 */
int addr_parse_nexthop(const char *text, char **host_r, int *port_r, bool *mx_r,
		       const char **error_r);

#endif
