/*
 * fuzz_smtpd_cmd - libFuzzer target for what smtpd parses of a client's
 * bytes (src/smtpd/smtpd_parse.c, smtpd_xforward.c): MAIL FROM / RCPT TO
 * paths, their ESMTP parameters and addresses, BDAT arguments, XFORWARD
 * attributes and the DATA decoder (end line, dot-stuffing, bare LF).
 *
 * The first input byte picks the chunk size for DATA; the rest is a client
 * session: command lines up to a DATA line, then message data.  Checked:
 *   - a refused path or parameter has a whole SMTP reply (5yz x.y.z text);
 *     accepted parameters keep their limits (ENVID 1..100 printable bytes,
 *     ORCPT "type;address", SIZE >= -1); an accepted address survives
 *     quote -> unquote unchanged; BDAT sizes are 0..2^40;
 *   - XFORWARD: a refusal is a 501 5.5.4 reply and leaves the attributes
 *     of the session's earlier XFORWARD lines as they were; what is kept is
 *     visible ASCII (no space, no control), NAME and ADDR never empty;
 *   - the DATA decoder gives the same content, bare-LF flag and end
 *     position whether the data comes whole or in chunks, never uses more
 *     than it was given, and its content, dot-stuffed again with the end
 *     line after it, decodes back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/addr.h"
#include "smtpd/smtpd_parse.h"
#include "smtpd/smtpd_xforward.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_smtpd_cmd: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

/* reply_ok - "5yz 5.y.z text" */
static void check_reply(const char *r)
{
	check(r != NULL);
	check(r[0] == '5' && r[1] >= '0' && r[1] <= '5' && r[2] >= '0' && r[2] <= '9');
	check(r[3] == ' ' && r[4] == '5' && r[5] == '.');
}

/* check_address - internal form survives quoting */
static void check_address(const char *addr)
{
	char *quoted, *again;
	const char *err;

	if (*addr == 0)
		return;
	quoted = addr_quote(addr);
	check(addr_unquote(quoted, &again, &err) == 0);
	check(strcmp(again, addr) == 0);
	free(again);
	free(quoted);
}

/* mail_rcpt - MAIL FROM: or RCPT TO: with its argument */
static void mail_rcpt(const char *arg, bool rcpt)
{
	char *copy = strdup(arg), *path, *rest, *addr;
	struct smtpd_params p;
	const char *r = NULL, *err = NULL;

	if (smtpd_parse_path(copy, rcpt ? "TO:" : "FROM:", &path, &rest) < 0) {
		free(copy);
		return;
	}
	check(*path != 0);
	(void)smtpd_path_routed(path);
	if (smtpd_parse_params(rest, rcpt, &p, &r) < 0) {
		check_reply(r);
		check(p.envid == NULL && p.orcpt == NULL);
	} else {
		check(p.size >= -1);
		check(p.body == 0 || p.body == 7 || p.body == 8);
		if (p.envid) {
			size_t n = strlen(p.envid);

			check(n >= 1 && n <= 100);
			for (size_t i = 0; i < n; i++)
				check(p.envid[i] >= 33 && p.envid[i] <= 126);
		}
		if (p.orcpt)
			check(strchr(p.orcpt, ';') > p.orcpt);
		smtpd_params_deinit(&p);
	}
	if (smtpd_parse_address(path, !rcpt, &addr, &err) == 0) {
		check(rcpt ? *addr != 0 : 1);
		check_address(addr);
		free(addr);
	} else {
		check(err != NULL && *err != 0);
	}
	free(copy);
}

/* visible - NULL, or 1..255 visible ASCII characters */
static void check_visible(const char *v)
{
	if (v == NULL)
		return;
	check(*v != 0 && strlen(v) <= 255);
	for (; *v; v++)
		check(*v > 0x20 && *v < 0x7f);
}

/* same_str - both NULL or equal */
static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* xforward - one XFORWARD argument onto the session's attributes */
static void xforward(struct smtpd_xforward *xf, const char *arg)
{
	struct smtpd_xforward before = *xf;
	char buf[256];
	const char *r;
	/* The strings of before are xf's own until apply replaces them: copy. */
	char *keep[6] = {
		xf->name ? strdup(xf->name) : NULL, xf->addr ? strdup(xf->addr) : NULL,
		xf->port ? strdup(xf->port) : NULL, xf->proto ? strdup(xf->proto) : NULL,
		xf->helo ? strdup(xf->helo) : NULL, xf->ident ? strdup(xf->ident) : NULL,
	};

	r = smtpd_xforward_apply(xf, arg, buf, sizeof(buf));
	if (r != NULL) {
		check(strncmp(r, "501 5.5.4 ", 10) == 0 && strchr(r, '\r') == NULL
		      && strchr(r, '\n') == NULL);
		check(same_str(xf->name, keep[0]) && same_str(xf->addr, keep[1])
		      && same_str(xf->port, keep[2]) && same_str(xf->proto, keep[3])
		      && same_str(xf->helo, keep[4]) && same_str(xf->ident, keep[5]));
		check(xf->source == before.source && xf->client == before.client);
	}
	check_visible(xf->name);
	check_visible(xf->addr);
	check_visible(xf->port);
	check_visible(xf->proto);
	check_visible(xf->helo);
	check_visible(xf->ident);
	check(xf->source >= 0 && xf->source <= SMTPD_XF_REMOTE);
	check(!(xf->name || xf->addr || xf->port || xf->proto || xf->helo) || xf->client);
	for (int i = 0; i < 6; i++)
		free(keep[i]);
}

/* What a DATA decode produced. */
struct decoded {
	struct buf *text;
	bool ended, bare;
	size_t used;		/* input bytes used */
};

/* decode - run the decoder over in[0..n), chunk bytes made available at a time */
static void decode(const char *in, size_t n, size_t chunk, struct decoded *out)
{
	struct smtpd_data d;
	size_t start = 0, avail = chunk < n ? chunk : n;

	out->text = buf_create(n + 1);
	out->ended = false;
	smtpd_data_init(&d);
	for (;;) {
		const char *p = NULL;
		size_t len = 0, used = 0;
		int r = smtpd_data_step(&d, in + start, avail - start, &p, &len, &used);

		if (r == SMTPD_DATA_MORE) {
			if (avail == n)
				break;
			avail = avail + chunk < n ? avail + chunk : n;
			continue;
		}
		check(used >= 1 && used <= avail - start);
		if (r == SMTPD_DATA_END) {
			check(used == 3 && memcmp(in + start, ".\r\n", 3) == 0);
			start += used;
			out->ended = true;
			break;
		}
		check(r == SMTPD_DATA_TEXT);
		check(len >= 1 && len <= used && used - len <= 1);
		check(p >= in + start && p + len <= in + start + used);
		buf_append(out->text, p, len);
		start += used;
	}
	out->bare = d.bare_seen;
	out->used = start;
}

/* stuff - content dot-stuffed, then the end line */
static struct buf *stuff(const struct buf *text)
{
	struct buf *b = buf_create(text->len + 8);
	bool line_start = true;

	for (size_t i = 0; i < text->len; i++) {
		if (line_start && text->data[i] == '.')
			buf_putc(b, '.');
		buf_putc(b, text->data[i]);
		line_start = text->data[i] == '\n';
	}
	buf_puts(b, ".\r\n");
	return b;
}

/* data - the DATA decoder properties */
static void data(const char *in, size_t n, size_t chunk)
{
	struct decoded whole, pieces, again;
	struct buf *stuffed;

	decode(in, n, n, &whole);
	decode(in, n, chunk, &pieces);
	check(whole.ended == pieces.ended);
	check(whole.bare == pieces.bare);
	check(whole.used == pieces.used);
	check(whole.text->len == pieces.text->len);
	check(memcmp(whole.text->data, pieces.text->data, whole.text->len) == 0);
	check(whole.text->len <= whole.used);

	if (whole.ended) {
		/* The content ended in CR LF (or was empty): the round trip holds. */
		check(whole.text->len == 0 || (whole.text->len >= 2
			&& memcmp(whole.text->data + whole.text->len - 2, "\r\n", 2) == 0));
		stuffed = stuff(whole.text);
		decode(stuffed->data, stuffed->len, 1 + chunk % 7, &again);
		check(again.ended);
		check(again.used == stuffed->len);
		check(again.bare == whole.bare);
		check(again.text->len == whole.text->len);
		check(memcmp(again.text->data, whole.text->data, whole.text->len) == 0);
		buf_free(&again.text);
		buf_free(&stuffed);
	}
	buf_free(&whole.text);
	buf_free(&pieces.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	const char *in = (const char *)bytes;
	struct smtpd_xforward xf = {0};
	size_t chunk, pos;

	if (size < 1)
		return 0;
	chunk = 1 + bytes[0] % 16;
	pos = 1;
	/* Command lines (CR LF or LF ends, as smtpd reads them) up to DATA. */
	while (pos < size) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - in) : size, n = end - pos;
		char *line = strndup(in + pos, n), *arg;

		pos = nl ? end + 1 : size;
		/* An embedded NUL ends the line for the string parsers, as in smtpd. */
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = 0;
		arg = line + strcspn(line, " \t");
		if (*arg)
			*arg++ = 0;
		if (strcasecmp(line, "MAIL") == 0) {
			mail_rcpt(arg, false);
		} else if (strcasecmp(line, "RCPT") == 0) {
			mail_rcpt(arg, true);
		} else if (strcasecmp(line, "BDAT") == 0) {
			long sz = -1;
			bool last = false;

			if (smtpd_parse_bdat(arg, &sz, &last) == 0)
				check(sz >= 0 && sz <= 1L << 40);
		} else if (strcasecmp(line, "XFORWARD") == 0) {
			xforward(&xf, arg);
		} else if (strcasecmp(line, "DATA") == 0) {
			free(line);
			smtpd_xforward_reset(&xf);
			data(in + pos, size - pos, chunk);
			return 0;
		}
		free(line);
	}
	smtpd_xforward_reset(&xf);
	return 0;
}
