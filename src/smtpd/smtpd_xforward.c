/*
 * smtpd_xforward - the XFORWARD command (see smtpd_xforward.h).
 *
 * Each attribute is "NAME=value" with the value in xtext (RFC 3461), the
 * names in any case.  The values are checked before anything is kept, so
 * that what reaches the log and the queue file is what a client could have
 * been: a host name, an IP address, a port, a protocol word, a HELO
 * argument, a queue ID, LOCAL or REMOTE.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd_parse.h"
#include "smtpd_xforward.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

void smtpd_xforward_reset(struct smtpd_xforward *xf)
{
	free(xf->name);
	free(xf->addr);
	free(xf->port);
	free(xf->proto);
	free(xf->helo);
	free(xf->ident);
	memset(xf, 0, sizeof(*xf));
}

/* ---- value checks ---- */

/* chars_ok - 1..max characters, each accepted by ok() */
static bool chars_ok(const char *v, size_t max, int (*ok)(int))
{
	size_t n = strlen(v);

	if (n == 0 || n > max)
		return false;
	for (; *v; v++)
		if (!ok((unsigned char)*v))
			return false;
	return true;
}

static int host_char(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

static int word_char(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

static int visible_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

static bool valid_name(const char *v)
{
	return chars_ok(v, 255, host_char);
}

static bool valid_addr(const char *v)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, v, bin) == 1 || inet_pton(AF_INET6, v, bin) == 1;
}

static bool valid_port(const char *v)
{
	return chars_ok(v, 5, isdigit) && atol(v) <= 65535;
}

static bool valid_proto(const char *v)
{
	return chars_ok(v, 64, word_char);
}

static bool valid_visible(const char *v)
{
	return chars_ok(v, 255, visible_char);
}

/* ---- the command ---- */

enum attr { A_NAME, A_ADDR, A_PORT, A_PROTO, A_HELO, A_IDENT, A_SOURCE, A_COUNT };

static const struct {
	const char *name;
	bool (*valid)(const char *);	/* NULL: SOURCE, checked apart */
} attrs[A_COUNT] = {
	[A_NAME] = {"NAME", valid_name},
	[A_ADDR] = {"ADDR", valid_addr},
	[A_PORT] = {"PORT", valid_port},
	[A_PROTO] = {"PROTO", valid_proto},
	[A_HELO] = {"HELO", valid_visible},
	[A_IDENT] = {"IDENT", valid_visible},
	[A_SOURCE] = {"SOURCE", NULL},
};

/* shown - client text fit to quote in a reply: visible ASCII, at most 100 */
static const char *shown(char *buf, size_t size, const char *text)
{
	size_t i;

	for (i = 0; text[i] && i + 1 < size && i < 100; i++)
		buf[i] = visible_char((unsigned char)text[i]) ? text[i] : '?';
	buf[i] = 0;
	return buf;
}

/* slot - the string an attribute is kept in (not SOURCE) */
static char **slot(struct smtpd_xforward *xf, enum attr a)
{
	switch (a) {
	case A_NAME:
		return &xf->name;
	case A_ADDR:
		return &xf->addr;
	case A_PORT:
		return &xf->port;
	case A_PROTO:
		return &xf->proto;
	case A_HELO:
		return &xf->helo;
	case A_IDENT:
		return &xf->ident;
	default:
		return NULL;
	}
}

/* set_value - one checked attribute into xf; false when the value is bad */
static bool set_value(struct smtpd_xforward *xf, enum attr a, char *value)
{
	bool unavailable = strcasecmp(value, "[UNAVAILABLE]") == 0
	    || strcasecmp(value, "[TEMPUNAVAIL]") == 0;
	char *v = value, **dst;

	if (a == A_SOURCE) {
		if (unavailable)
			xf->source = 0;
		else if (strcasecmp(value, "LOCAL") == 0)
			xf->source = SMTPD_XF_LOCAL;
		else if (strcasecmp(value, "REMOTE") == 0)
			xf->source = SMTPD_XF_REMOTE;
		else
			return false;
		return true;
	}
	if (a == A_ADDR && strncasecmp(v, "IPv6:", 5) == 0)
		v += 5;
	if (!unavailable && !attrs[a].valid(v))
		return false;
	dst = slot(xf, a);
	free(*dst);
	*dst = NULL;
	if (!unavailable)
		*dst = xstrdup(v);
	else if (a == A_NAME || a == A_ADDR)
		*dst = xstrdup("unknown");
	if (a != A_IDENT)
		xf->client = true;
	return true;
}

/* copy - a deep copy of xf, to change and keep only when all is good */
static void copy(struct smtpd_xforward *to, const struct smtpd_xforward *from)
{
	*to = *from;
	for (enum attr a = 0; a < A_SOURCE; a++) {
		char **dst = slot(to, a);

		*dst = *dst ? xstrdup(*dst) : NULL;
	}
}

const char *smtpd_xforward_apply(struct smtpd_xforward *xf, const char *args,
				 char *reply_buf, size_t reply_size)
{
	char *text = xstrdup(args), *cp = text, *word, *eq, *value, quote[128];
	struct smtpd_xforward next;
	const char *reply = NULL;
	int seen = 0;
	enum attr a;

	copy(&next, xf);
	while (reply == NULL && (word = str_token(&cp, " \t")) != NULL) {
		seen++;
		if ((eq = strchr(word, '=')) == NULL || eq == word) {
			reply = "501 5.5.4 Syntax: XFORWARD attribute=value...";
			break;
		}
		*eq = 0;
		for (a = 0; a < A_COUNT && strcasecmp(word, attrs[a].name) != 0; a++)
			;
		if (a == A_COUNT) {
			snprintf(reply_buf, reply_size, "501 5.5.4 Bad XFORWARD attribute name: %s",
				 shown(quote, sizeof(quote), word));
			reply = reply_buf;
			break;
		}
		if ((value = smtpd_xtext_decode(eq + 1)) == NULL || !set_value(&next, a, value)) {
			snprintf(reply_buf, reply_size, "501 5.5.4 Bad XFORWARD %s syntax: %s",
				 attrs[a].name, shown(quote, sizeof(quote), value ? value : eq + 1));
			reply = reply_buf;
		}
		free(value);
	}
	if (reply == NULL && seen == 0)
		reply = "501 5.5.4 Syntax: XFORWARD attribute=value...";
	free(text);
	if (reply != NULL) {
		smtpd_xforward_reset(&next);
		return reply;
	}
	smtpd_xforward_reset(xf);
	*xf = next;
	return NULL;
}
