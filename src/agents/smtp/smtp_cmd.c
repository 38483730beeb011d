/*
 * smtp_cmd - EHLO feature parsing and command formatting (see smtp_cmd.h).
 *
 * Contract: pure functions over strings; the output always ends in CRLF
 * and never contains a bare CR or LF taken from an address (such bytes are
 * replaced by "?" -- an envelope address with a line break would otherwise
 * inject a command).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agents/smtp/smtp_cmd.h"
#include "agents/smtp/smtp_reply.h"
#include "global/addr.h"
#include "global/deliver_request.h"
#include "global/dsn.h"
#include "util/buf.h"

/* A SIZE beyond this is as good as no limit (and cannot overflow). */
#define SIZE_CAP	1000000000000L

/* keyword_is - does the EHLO line (after "250-") start with keyword? */
static bool keyword_is(const char *line, size_t len, const char *kw, const char **args_r)
{
	size_t n = strlen(kw);

	if (len < n || strncasecmp(line, kw, n) != 0)
		return false;
	if (len > n && line[n] != ' ' && line[n] != '=')
		return false;
	*args_r = len > n ? line + n + 1 : line + n;
	return true;
}

/* smtp_ehlo_features - scan the keyword lines */
int smtp_ehlo_features(const struct smtp_reply *reply, long *size_r)
{
	const char *text = reply->text.data, *end = text + reply->text.len, *line, *eol, *args;
	int features = SMTP_FEAT_ESMTP;
	size_t len;

	*size_r = 0;
	/* The first line is the server's name and greeting text. */
	line = memchr(text, '\n', reply->text.len);
	while (line != NULL && line < end) {
		line++;
		eol = memchr(line, '\n', (size_t)(end - line));
		len = (size_t)((eol ? eol : end) - line);
		if (len > 4) {
			const char *kw = line + 4;
			size_t kwlen = len - 4;

			if (keyword_is(kw, kwlen, "PIPELINING", &args))
				features |= SMTP_FEAT_PIPELINING;
			else if (keyword_is(kw, kwlen, "8BITMIME", &args))
				features |= SMTP_FEAT_8BITMIME;
			else if (keyword_is(kw, kwlen, "DSN", &args))
				features |= SMTP_FEAT_DSN;
			else if (keyword_is(kw, kwlen, "STARTTLS", &args))
				features |= SMTP_FEAT_STARTTLS;
			else if (keyword_is(kw, kwlen, "ENHANCEDSTATUSCODES", &args))
				features |= SMTP_FEAT_ENHANCEDSTATUSCODES;
			else if (keyword_is(kw, kwlen, "SMTPUTF8", &args))
				features |= SMTP_FEAT_SMTPUTF8;
			else if (keyword_is(kw, kwlen, "SIZE", &args)) {
				long n = 0;

				features |= SMTP_FEAT_SIZE;
				/* A missing or silly number means "no fixed limit". */
				while (args < kw + kwlen && isdigit((unsigned char)*args)) {
					if (n < SIZE_CAP)
						n = n * 10 + (*args - '0');
					args++;
				}
				*size_r = n > SIZE_CAP ? SIZE_CAP : n;
			}
		}
		line = eol;
	}
	return features;
}

/* smtp_ehlo_auth - the mechanisms of the AUTH lines ("AUTH x y", "AUTH=x y") */
char *smtp_ehlo_auth(const struct smtp_reply *reply)
{
	const char *text = reply->text.data, *end = text + reply->text.len, *line, *eol, *args;
	struct buf mechs;
	char *result;

	buf_init(&mechs, 64);
	line = memchr(text, '\n', reply->text.len);
	while (line != NULL && line < end) {
		line++;
		eol = memchr(line, '\n', (size_t)(end - line));
		if ((size_t)((eol ? eol : end) - line) > 4) {
			const char *kw = line + 4;
			size_t kwlen = (size_t)((eol ? eol : end) - kw);

			if (keyword_is(kw, kwlen, "AUTH", &args)) {
				if (mechs.len)
					buf_putc(&mechs, ' ');
				buf_append(&mechs, args, (size_t)(kw + kwlen - args));
			}
		}
		line = eol;
	}
	result = mechs.len ? buf_steal(&mechs) : NULL;
	buf_deinit(&mechs);
	return result;
}

/* smtp_xtext - RFC 3461 xtext */
void smtp_xtext(struct buf *out, const char *s)
{
	for (const unsigned char *cp = (const unsigned char *)s; *cp; cp++) {
		if (*cp < '!' || *cp > '~' || *cp == '+' || *cp == '=')
			buf_printf(out, "+%02X", *cp);
		else
			buf_putc(out, *cp);
	}
}

/* put_safe - append n bytes, line breaks and NULs made harmless */
static void put_safe(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_putc(out, s[i] == '\r' || s[i] == '\n' ? '?' : s[i]);
}

/* smtp_quote_addr - "<local@domain>" with the local part quoted if needed */
void smtp_quote_addr(struct buf *out, const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t local = at ? (size_t)(at - addr) : strlen(addr);

	buf_putc(out, '<');
	if (addr_dot_string_ok(addr, local) || local == 0) {
		put_safe(out, addr, local);
	} else {
		buf_putc(out, '"');
		for (size_t i = 0; i < local; i++) {
			if (addr[i] == '"' || addr[i] == '\\')
				buf_putc(out, '\\');
			put_safe(out, addr + i, 1);
		}
		buf_putc(out, '"');
	}
	if (at)
		put_safe(out, at, strlen(at));
	buf_putc(out, '>');
}

/* smtp_mail_command - MAIL FROM with the parameters the server takes */
void smtp_mail_command(struct buf *out, const struct smtp_mail_args *m, int features)
{
	buf_puts(out, "MAIL FROM:");
	smtp_quote_addr(out, m->sender);
	if (features & SMTP_FEAT_SIZE)
		buf_printf(out, " SIZE=%ld", m->size);
	if (m->eightbit && (features & SMTP_FEAT_8BITMIME))
		buf_puts(out, " BODY=8BITMIME");
	if (m->smtputf8 && (features & SMTP_FEAT_SMTPUTF8))
		buf_puts(out, " SMTPUTF8");
	if (features & SMTP_FEAT_DSN) {
		if (m->ret)
			buf_printf(out, " RET=%s", dsn_ret_str(m->ret));
		if (m->envid && *m->envid) {
			buf_puts(out, " ENVID=");
			smtp_xtext(out, m->envid);
		}
	}
	buf_puts(out, "\r\n");
}

/* smtp_rcpt_command - RCPT TO with DSN parameters when offered */
void smtp_rcpt_command(struct buf *out, const struct deliver_rcpt *r, int features)
{
	const char *semi;

	buf_puts(out, "RCPT TO:");
	smtp_quote_addr(out, r->address);
	if (features & SMTP_FEAT_DSN) {
		if (r->notify)
			buf_printf(out, " NOTIFY=%s", dsn_notify_str(r->notify));
		if (r->dsn_orcpt && *r->dsn_orcpt) {
			/* Stored as "type;address" (decoded); xtext the address. */
			semi = strchr(r->dsn_orcpt, ';');
			if (semi && semi > r->dsn_orcpt
			    && strspn(r->dsn_orcpt, "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
			       == (size_t)(semi - r->dsn_orcpt)) {
				buf_puts(out, " ORCPT=");
				put_safe(out, r->dsn_orcpt, (size_t)(semi - r->dsn_orcpt + 1));
				smtp_xtext(out, semi + 1);
			} else {
				buf_puts(out, " ORCPT=rfc822;");
				smtp_xtext(out, r->dsn_orcpt);
			}
		} else if (r->orig_rcpt && *r->orig_rcpt) {
			buf_puts(out, " ORCPT=rfc822;");
			smtp_xtext(out, r->orig_rcpt);
		}
	}
	buf_puts(out, "\r\n");
}
