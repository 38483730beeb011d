/*
 * smtpd_parse - SMTP command arguments (see smtpd_parse.h).
 *
 * Strict where a lax reading could change meaning (unknown or repeated
 * parameters, malformed xtext, a SIZE that is not a number), tolerant
 * where clients commonly differ (case, white space after the colon).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "global/addr.h"
#include "global/dsn.h"
#include "smtpd_parse.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

#define ENVID_MAX	100	/* RFC 3461 */
#define ORCPT_MAX	500

/* smtpd_parse_path - split off the path */
int smtpd_parse_path(char *line, const char *prefix, char **path_r, char **rest_r)
{
	size_t plen = strlen(prefix);
	char *cp = line, *end;

	if (strncasecmp(cp, prefix, plen) != 0)
		return -1;
	cp += plen;
	cp += strspn(cp, " \t");
	if (*cp != '<') {
		/* Postfix accepts a bare address; so do we, up to white space. */
		if (*cp == 0)
			return -1;
		end = cp + strcspn(cp, " \t");
	} else {
		/* The path ends at the '>' outside a quoted string. */
		bool quoted = false;

		for (end = cp + 1; *end; end++) {
			if (*end == '\\' && end[1]) {
				end++;
			} else if (*end == '"') {
				quoted = !quoted;
			} else if (*end == '>' && !quoted) {
				break;
			}
		}
		if (*end != '>')
			return -1;
		end++;
	}
	*path_r = cp;
	*rest_r = end;
	if (*end) {
		if (*end != ' ' && *end != '\t')
			return -1;
		*end++ = 0;
	}
	*rest_r = end + strspn(end, " \t");
	return 0;
}

/* smtpd_xtext_decode - "+XX" escapes, printable ASCII otherwise */
char *smtpd_xtext_decode(const char *text)
{
	struct buf b;

	buf_init(&b, strlen(text) + 1);
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '+') {
			if (!isxdigit(p[1]) || !isxdigit(p[2])) {
				buf_deinit(&b);
				return NULL;
			}
			char hex[3] = {(char)p[1], (char)p[2], 0};
			int v = (int)strtol(hex, NULL, 16);

			if (v < 33 || v > 126) {
				buf_deinit(&b);
				return NULL;
			}
			buf_putc(&b, v);
			p += 2;
		} else if (*p < 33 || *p > 126 || *p == '=') {
			buf_deinit(&b);
			return NULL;
		} else {
			buf_putc(&b, *p);
		}
	}
	{
		char *text_r = buf_steal(&b);

		buf_deinit(&b);		/* buf_steal leaves a fresh buffer behind */
		return text_r;
	}
}

/* smtpd_params_deinit - release */
void smtpd_params_deinit(struct smtpd_params *p)
{
	free(p->envid);
	free(p->orcpt);
	p->envid = p->orcpt = NULL;
}

/* smtpd_parse_params - ESMTP parameters */
int smtpd_parse_params(char *text, bool rcpt, struct smtpd_params *p, const char **reply_r)
{
	char *cp = text, *word, *value;
	bool seen_size = false, seen_body = false, seen_ret = false;

	memset(p, 0, sizeof(*p));
	p->size = -1;
	while ((word = str_token(&cp, " \t")) != NULL) {
		if ((value = strchr(word, '=')) != NULL)
			*value++ = 0;
		if (!rcpt && strcasecmp(word, "SIZE") == 0 && value && !seen_size) {
			seen_size = true;
			if (!str_is_digits(value) || strlen(value) > 18) {
				*reply_r = "501 5.5.4 Bad message size syntax";
				goto bad;
			}
			p->size = strtol(value, NULL, 10);
		} else if (!rcpt && strcasecmp(word, "BODY") == 0 && value && !seen_body) {
			seen_body = true;
			if (strcasecmp(value, "8BITMIME") == 0)
				p->body = 8;
			else if (strcasecmp(value, "7BIT") == 0)
				p->body = 7;
			else {
				*reply_r = "501 5.5.4 Unsupported BODY parameter value";
				goto bad;
			}
		} else if (!rcpt && strcasecmp(word, "SMTPUTF8") == 0 && value == NULL) {
			p->smtputf8 = true;
		} else if (!rcpt && strcasecmp(word, "RET") == 0 && value && !seen_ret) {
			seen_ret = true;
			if ((p->ret = dsn_ret_parse(value)) <= 0) {
				*reply_r = "501 5.5.4 Bad RET parameter syntax";
				goto bad;
			}
		} else if (!rcpt && strcasecmp(word, "ENVID") == 0 && value && !p->envid) {
			if ((p->envid = smtpd_xtext_decode(value)) == NULL || !*p->envid
			    || strlen(p->envid) > ENVID_MAX) {
				*reply_r = "501 5.5.4 Bad ENVID parameter syntax";
				goto bad;
			}
		} else if (!rcpt && strcasecmp(word, "AUTH") == 0 && value) {
			/* RFC 4954 5: the submitter's identity, as xtext or "<>";
			 * accepted and not passed on (the message is not trusted
			 * to have been submitted by it). */
			char *who = strcmp(value, "<>") == 0 ? xstrdup("<>")
			    : smtpd_xtext_decode(value);

			if (who == NULL || !*who) {
				free(who);
				*reply_r = "501 5.5.4 Bad AUTH parameter syntax";
				goto bad;
			}
			free(who);
		} else if (rcpt && strcasecmp(word, "NOTIFY") == 0 && value && !p->notify) {
			if ((p->notify = dsn_notify_parse(value)) <= 0) {
				*reply_r = "501 5.5.4 Bad NOTIFY parameter syntax";
				goto bad;
			}
		} else if (rcpt && strcasecmp(word, "ORCPT") == 0 && value && !p->orcpt) {
			char *semi = strchr(value, ';'), *addr = NULL;

			if (semi == NULL || semi == value || strlen(value) > ORCPT_MAX
			    || (addr = smtpd_xtext_decode(semi + 1)) == NULL || !*addr) {
				free(addr);
				*reply_r = "501 5.5.4 Bad ORCPT parameter syntax";
				goto bad;
			}
			*semi = 0;
			p->orcpt = xasprintf("%s;%s", value, addr);
			free(addr);
		} else {
			*reply_r = "555 5.5.4 Unsupported option";
			goto bad;
		}
	}
	return 0;
bad:
	smtpd_params_deinit(p);
	return -1;
}

/* smtpd_path_routed - "<@host,@host:user@domain>" */
bool smtpd_path_routed(const char *path)
{
	path += strspn(path, " \t");
	if (*path == '<')
		path++;
	return *path == '@';
}

/* smtpd_parse_address - MAIL/RCPT path to internal form */
int smtpd_parse_address(const char *path, bool sender, char **addr_r, const char **error_r)
{
	char *copy = xstrdup(path);
	size_t n = strlen(copy);
	int rc;

	/* A domain with a trailing dot is the same domain (and no trick). */
	if (n > 2 && copy[n - 1] == '>' && copy[n - 2] == '.' && strchr(copy, '@'))
		memmove(copy + n - 2, copy + n - 1, 2);
	rc = addr_parse_path(copy, ADDR_PATH_UNQUALIFIED | (sender ? ADDR_PATH_NULL_OK : 0)
			     | (copy[0] == '<' ? 0 : ADDR_PATH_BARE), addr_r, error_r);
	free(copy);
	return rc;
}

/* smtpd_parse_bdat - "count [LAST]" */
int smtpd_parse_bdat(char *arg, long *size_r, bool *last_r)
{
	char *cp = arg, *num = str_token(&cp, " \t"), *last = str_token(&cp, " \t");

	if (num == NULL || !str_is_digits(num) || str_to_long(num, 0, 1L << 40, size_r) < 0
	    || (last && strcasecmp(last, "LAST") != 0) || str_token(&cp, " \t"))
		return -1;
	*last_r = last != NULL;
	return 0;
}

/* smtpd_data_init - a message starts */
void smtpd_data_init(struct smtpd_data *d)
{
	d->line_start = true;
	d->prev_crlf = true;
	d->bare_seen = false;
}

/* smtpd_data_step - the next piece of content, or the end */
int smtpd_data_step(struct smtpd_data *d, const char *in, size_t n, const char **text_r,
		    size_t *len_r, size_t *used_r)
{
	const char *p = in, *nl = memchr(in, '\n', n);
	size_t len, skip = 0;
	bool crlf;

	if (nl == NULL) {
		/* A "." line is decided on whole; a CR may pair with a later LF. */
		if ((d->line_start && n < 3) || (n == 1 && p[0] == '\r') || n == 0)
			return SMTPD_DATA_MORE;
		len = p[n - 1] == '\r' ? n - 1 : n;
		if (d->line_start && p[0] == '.') {
			skip = 1;
			p++;
			len--;
		}
		d->line_start = false;
	} else {
		len = (size_t)(nl - p) + 1;
		crlf = len >= 2 && p[len - 2] == '\r';
		if (d->line_start && p[0] == '.') {
			if (len == 3 && crlf && d->prev_crlf) {
				*used_r = 3;
				return SMTPD_DATA_END;
			}
			/* Dot-stuffing: drop the first dot. */
			skip = 1;
			p++;
			len--;
		}
		if (!crlf)
			d->bare_seen = true;
		d->prev_crlf = crlf;
		d->line_start = true;
	}
	*text_r = p;
	*len_r = len;
	*used_r = skip + len;
	return SMTPD_DATA_TEXT;
}
