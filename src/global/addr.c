/*
 * addr - mail address syntax (see addr.h for the contract).
 *
 * This module is for turning address text that came from users or the
 * network into sluice's internal form and back, and for recognising next
 * hops such as "[mx.example]:2525".  It does not look anything up (no DNS;
 * /etc/services only for named ports) and knows nothing about header
 * syntax with display names or comments: that is rfc822.c, which calls in
 * here for each address it finds.
 *
 * Strictness: the local part must be a dot-string (atoms separated by
 * single dots) or a quoted string; control characters are refused
 * everywhere; octets >= 0x80 are accepted as UTF-8 (RFC 6531) without
 * further checks.  Domains accept "_" because real host names carry it.
 *
 * DIAGNOSTICS: parse functions return -1 and a static reason in *error_r;
 * nothing is logged here.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/addr.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

/* steal - take the string out of an embedded buffer and release the rest */
static char *steal(struct buf *b)
{
	char *s = buf_steal(b);

	buf_deinit(b);
	return s;
}

/* is_atext - RFC 5322 atext, plus UTF-8 octets */
static bool is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_label_char - characters allowed in a domain label */
static bool is_label_char(unsigned char c)
{
	return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * is_dcontent - characters allowed inside an address literal: RFC 5321's
 * dcontent but '@', which no address literal needs and which in internal
 * form would move the split between local part and domain (the last '@').
 */
static bool is_dcontent(unsigned char c)
{
	return ((c >= 33 && c <= 90) || (c >= 94 && c <= 126)) && c != '@';
}

/* addr_dot_string_ok - is s[0..len) a valid RFC 5321 dot-string? */
bool addr_dot_string_ok(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* scan_domain - length of the domain or literal at p (0 if malformed) */
static size_t scan_domain(const char *p, const char **error_r)
{
	size_t n = 0, label = 0;

	if (*p == '[') {
		for (n = 1; p[n] && p[n] != ']'; n++) {
			if (!is_dcontent((unsigned char)p[n])) {
				*error_r = "bad character in address literal";
				return 0;
			}
		}
		if (p[n] != ']' || n == 1) {
			*error_r = "malformed address literal";
			return 0;
		}
		n++;
	} else {
		for (n = 0; is_label_char((unsigned char)p[n]) || p[n] == '.'; n++) {
			if (p[n] == '.') {
				if (label == 0) {
					*error_r = "empty label in domain";
					return 0;
				}
				label = 0;
			} else if (++label > 63) {
				*error_r = "domain label too long";
				return 0;
			}
		}
		if (n == 0) {
			*error_r = "missing domain";
			return 0;
		}
		if (label == 0) {
			*error_r = "empty label in domain";
			return 0;
		}
	}
	if (n > ADDR_DOMAIN_MAX) {
		*error_r = "domain too long";
		return 0;
	}
	return n;
}

/* addr_valid_domain - whole-string domain check */
bool addr_valid_domain(const char *text)
{
	const char *err;
	size_t n = scan_domain(text, &err);

	return n > 0 && text[n] == 0;
}

/* parse_local - local part at *pp into out (unquoted); advances *pp */
static int parse_local(const char **pp, struct buf *out, const char **error_r)
{
	const char *p = *pp;
	size_t start = out->len;

	if (*p == '"') {
		for (p++;; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == '"')
				break;
			if (c == '\\') {
				c = (unsigned char)*++p;
				if (c == 0 || (c < 32 && c != '\t') || c == 127) {
					*error_r = "bad quoted pair in local part";
					return -1;
				}
			} else if (c == 0) {
				*error_r = "unterminated quoted string";
				return -1;
			} else if ((c < 32 && c != '\t') || c == 127) {
				*error_r = "control character in address";
				return -1;
			}
			buf_putc(out, c);
		}
		p++;
	} else {
		const char *s = p;

		while (is_atext((unsigned char)*p) || *p == '.')
			p++;
		if (!addr_dot_string_ok(s, (size_t)(p - s))) {
			*error_r = p == s ? "empty local part" : "malformed local part";
			return -1;
		}
		buf_append(out, s, (size_t)(p - s));
	}
	if (out->len - start > ADDR_LOCAL_MAX) {
		*error_r = "local part too long";
		return -1;
	}
	*pp = p;
	return 0;
}

/* skip_route - skip an RFC 5321 source route "@a,@b:" */
static int skip_route(const char **pp, const char **error_r)
{
	const char *p = *pp;
	size_t n;

	for (;;) {
		if (*p != '@') {
			*error_r = "malformed source route";
			return -1;
		}
		if ((n = scan_domain(p + 1, error_r)) == 0)
			return -1;
		p += 1 + n;
		if (*p == ':')
			break;
		if (*p != ',') {
			*error_r = "malformed source route";
			return -1;
		}
		p++;
	}
	*pp = p + 1;
	return 0;
}

/* addr_parse_path - RFC 5321 path to internal form */
int addr_parse_path(const char *text, int flags, char **addr_r, const char **error_r)
{
	const char *p = text;
	struct buf out;
	bool bracket = false;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '<') {
		bracket = true;
		p++;
	} else if (!(flags & ADDR_PATH_BARE)) {
		*error_r = "address must be enclosed in <>";
		return -1;
	}
	buf_init(&out, 64);

	/* The null address: "<>" or, bare, nothing at all. */
	if ((bracket && *p == '>') || (!bracket && (*p == 0 || *p == ' ' || *p == '\t'))) {
		if (!(flags & ADDR_PATH_NULL_OK)) {
			*error_r = "null address not allowed here";
			goto bad;
		}
		if (bracket)
			p++;
		goto end;
	}
	if (bracket && *p == '@' && skip_route(&p, error_r) < 0)
		goto bad;
	if (parse_local(&p, &out, error_r) < 0)
		goto bad;
	if (*p == '@') {
		buf_putc(&out, '@');
		p++;
		if ((n = scan_domain(p, error_r)) == 0)
			goto bad;
		buf_append(&out, p, n);
		p += n;
		addr_lower_domain(out.data);
	} else if (!(flags & ADDR_PATH_UNQUALIFIED)) {
		*error_r = "address has no domain";
		goto bad;
	} else if (out.len == 0) {
		/* <""> is no null address (that is <>, and only where allowed). */
		*error_r = "empty local part";
		goto bad;
	} else if (strchr(buf_str(&out), '@') != NULL) {
		/*
		 * "<\"a@b\">": in internal form the last "@" splits, so this
		 * would read as a at domain b once qualification passes it by.
		 */
		*error_r = "local part with \"@\" needs a domain";
		goto bad;
	}
	if (bracket) {
		if (*p != '>') {
			*error_r = "malformed address";
			goto bad;
		}
		p++;
	}
end:
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != 0) {
		*error_r = "garbage after address";
		goto bad;
	}
	*addr_r = steal(&out);
	return 0;
bad:
	buf_deinit(&out);
	return -1;
}

/* addr_unquote - external to internal form */
int addr_unquote(const char *text, char **addr_r, const char **error_r)
{
	return addr_parse_path(text, ADDR_PATH_BARE | ADDR_PATH_NULL_OK | ADDR_PATH_UNQUALIFIED,
			       addr_r, error_r);
}

/* addr_quote - internal to external form */
char *addr_quote(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t llen = at ? (size_t)(at - addr) : strlen(addr);
	struct buf out;

	if (*addr == 0 || addr_dot_string_ok(addr, llen))
		return xstrdup(addr);
	buf_init(&out, strlen(addr) + 8);
	buf_putc(&out, '"');
	for (size_t i = 0; i < llen; i++) {
		if (addr[i] == '"' || addr[i] == '\\')
			buf_putc(&out, '\\');
		buf_putc(&out, addr[i]);
	}
	buf_putc(&out, '"');
	if (at)
		buf_puts(&out, at);
	return steal(&out);
}

/* addr_domain - part after the last @ */
const char *addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : NULL;
}

/* addr_lower_domain - lower-case the domain in place */
char *addr_lower_domain(char *addr)
{
	char *at = strrchr(addr, '@');

	if (at)
		str_lower(at + 1);
	return addr;
}

/* addr_qualify - append @origin to a bare local part */
char *addr_qualify(const char *addr, const char *origin)
{
	if (*addr == 0 || strchr(addr, '@') != NULL || origin == NULL || *origin == 0)
		return xstrdup(addr);
	return xasprintf("%s@%s", addr, origin);
}

/* parse_port - decimal port or /etc/services name */
static int parse_port(const char *text, int *port_r, const char **error_r)
{
	long n;
	struct servent *se;

	if (str_is_digits(text)) {
		if (str_to_long(text, 1, 65535, &n) < 0) {
			*error_r = "port out of range";
			return -1;
		}
		*port_r = (int)n;
		return 0;
	}
	for (const char *p = text; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		      || (*p >= '0' && *p <= '9') || *p == '-')) {
			*error_r = "malformed port";
			return -1;
		}
	}
	if (*text == 0 || (se = getservbyname(text, "tcp")) == NULL) {
		*error_r = "unknown service name for port";
		return -1;
	}
	*port_r = ntohs((unsigned short)se->s_port);
	return 0;
}

/* addr_parse_nexthop - [host]:port, host:port, [host], host */
int addr_parse_nexthop(const char *text, char **host_r, int *port_r, bool *mx_r,
		       const char **error_r)
{
	const char *close, *colon, *port = NULL;
	char *host;
	unsigned char in6[16];
	bool mx;

	if (*text == '[') {
		if ((close = strchr(text, ']')) == NULL) {
			*error_r = "missing ']' in next hop";
			return -1;
		}
		host = xstrndup(text + 1, (size_t)(close - text - 1));
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != 0) {
			*error_r = "garbage after ']' in next hop";
			free(host);
			return -1;
		}
		if (strncasecmp(host, "ipv6:", 5) == 0)
			memmove(host, host + 5, strlen(host + 5) + 1);
		mx = false;
	} else {
		colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':')) {
			*error_r = "an IPv6 next hop must be written in []";
			return -1;
		}
		host = colon ? xstrndup(text, (size_t)(colon - text)) : xstrdup(text);
		if (colon)
			port = colon + 1;
		mx = true;
	}
	str_lower(host);
	if (*host == 0) {
		*error_r = "empty host in next hop";
		goto bad;
	}
	if (!addr_valid_domain(host) && !(!mx && inet_pton(AF_INET6, host, in6) == 1)) {
		*error_r = "malformed host in next hop";
		goto bad;
	}
	*port_r = 0;
	if (port && parse_port(port, port_r, error_r) < 0)
		goto bad;
	*host_r = host;
	*mx_r = mx;
	return 0;
bad:
	free(host);
	return -1;
}
