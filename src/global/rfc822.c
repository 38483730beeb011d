/*
 * rfc822 - message header helpers (see rfc822.h for the contract).
 *
 * This module is for reading what users put in their headers: cleanup and
 * sendmail -t use it to find recipients in To/Cc/Bcc, cleanup to decide
 * which headers are present.  It is a small recursive-descent parser over
 * RFC 5322's address-list with the obsolete forms (phrases with dots, CFWS
 * between tokens, source routes, empty list elements) accepted, because
 * mail user agents produce them.  It does not do MIME or encoded words
 * (an encoded word in a display name is an atom like any other).
 *
 * Header rewriting (rfc822_addr_list_rewrite) uses the same parser and
 * remembers where each addr-spec stands in the text, so that only the
 * addresses that change are replaced and everything else (display names,
 * comments, folding, group syntax) stays byte for byte.
 *
 * An element it cannot parse is skipped up to the next top-level comma and
 * reported through the return value; the rest of the list still counts.
 *
 * DIAGNOSTICS: -1 and a static reason; nothing is logged here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "global/addr.h"
#include "global/rfc822.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"

/* rfc822_header_name_len - length of the field name, 0 if not a header */
size_t rfc822_header_name_len(const char *line, size_t len)
{
	size_t n = 0, i;

	while (n < len && (unsigned char)line[n] > 32 && (unsigned char)line[n] < 127
	       && line[n] != ':')
		n++;
	if (n == 0)
		return 0;
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':' ? n : 0;
}

/* rfc822_header_is - compare the field name */
bool rfc822_header_is(const char *hdr, const char *name)
{
	size_t n = rfc822_header_name_len(hdr, strlen(hdr));

	return n > 0 && n == strlen(name) && strncasecmp(hdr, name, n) == 0;
}

/* rfc822_header_value - text after the colon */
const char *rfc822_header_value(const char *hdr)
{
	const char *p = strchr(hdr, ':');

	if (p == NULL)
		return hdr + strlen(hdr);
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	return p;
}

/* rfc822_unfold - drop line breaks that precede white space */
void rfc822_unfold(struct buf *out, const char *hdr, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (hdr[i] == '\r' && i + 2 < len && hdr[i + 1] == '\n'
		    && (hdr[i + 2] == ' ' || hdr[i + 2] == '\t')) {
			i++;
			continue;
		}
		if (hdr[i] == '\n' && i + 1 < len && (hdr[i + 1] == ' ' || hdr[i + 1] == '\t'))
			continue;
		buf_putc(out, hdr[i]);
	}
}

/* ---- address lists ---- */

struct parser {
	const char *p;
	const char *error;	/* first error seen */
	const char *spec_start;	/* the last addr-spec parsed: its first byte */
	const char *spec_end;	/* and the end of its last token (CFWS after it excluded) */
};

/* is_atext - RFC 5322 atext plus UTF-8 octets */
static bool is_atext(unsigned char c)
{
	if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* skip_cfws - skip white space, line breaks and (nested) comments */
static int skip_cfws(struct parser *ps)
{
	const char *p = ps->p;
	int depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			break;
		for (depth = 0; *p; p++) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0)
				break;
		}
		if (*p == 0) {
			ps->p = p;
			return -1;	/* unterminated comment */
		}
		p++;
	}
	ps->p = p;
	return 0;
}

/* parse_quoted - a quoted string at ps->p, unescaped into out (may be NULL) */
static int parse_quoted(struct parser *ps, struct buf *out)
{
	const char *p = ps->p + 1;

	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		/* A folded quoted string loses its line break, as unfolding would. */
		if (*p == '\r' || *p == '\n')
			continue;
		if (out)
			buf_putc(out, *p);
	}
	if (*p != '"')
		return -1;
	ps->p = p + 1;
	return 0;
}

/* parse_word - an atom or quoted string; dots_ok lets atoms hold '.' (obs-phrase) */
static int parse_word(struct parser *ps, struct buf *out, bool dots_ok)
{
	const char *s = ps->p;

	if (*s == '"')
		return parse_quoted(ps, out);
	while (is_atext((unsigned char)*ps->p) || (dots_ok && *ps->p == '.'))
		ps->p++;
	if (ps->p == s)
		return -1;
	if (out)
		buf_append(out, s, (size_t)(ps->p - s));
	return 0;
}

/* parse_domain - dot-atom or domain literal into out, lower-cased */
static int parse_domain(struct parser *ps, struct buf *out)
{
	size_t start = out->len;
	const char *s;

	if (skip_cfws(ps) < 0)
		return -1;
	if (*ps->p == '[') {
		for (s = ps->p; *ps->p && *ps->p != ']'; ps->p++)
			if (*ps->p == '\\' || (*ps->p == '[' && ps->p != s))
				return -1;
		if (*ps->p != ']')
			return -1;
		ps->p++;
		ps->spec_end = ps->p;
		buf_append(out, s, (size_t)(ps->p - s));
	} else {
		for (;;) {
			s = ps->p;
			while (is_atext((unsigned char)*ps->p))
				ps->p++;
			if (ps->p == s)
				return -1;
			ps->spec_end = ps->p;
			buf_append(out, s, (size_t)(ps->p - s));
			if (skip_cfws(ps) < 0)
				return -1;
			if (*ps->p != '.')
				break;
			buf_putc(out, '.');
			ps->p++;
			if (skip_cfws(ps) < 0)
				return -1;
		}
	}
	if (!addr_valid_domain(out->data + start))
		return -1;
	addr_lower_domain(out->data);
	return 0;
}

/* parse_addr_spec - local-part ["@" domain] into out (internal form) */
static int parse_addr_spec(struct parser *ps, struct buf *out)
{
	size_t start = out->len;

	if (skip_cfws(ps) < 0)
		return -1;
	ps->spec_start = ps->p;
	for (;;) {
		if (skip_cfws(ps) < 0 || parse_word(ps, out, false) < 0)
			return -1;
		ps->spec_end = ps->p;
		if (skip_cfws(ps) < 0)
			return -1;
		if (*ps->p != '.')
			break;
		buf_putc(out, '.');
		ps->p++;
	}
	if (out->len - start > ADDR_LOCAL_MAX || out->len == start)
		return -1;
	if (*ps->p == '@') {
		ps->p++;
		buf_putc(out, '@');
		if (parse_domain(ps, out) < 0)
			return -1;
	} else if (memchr(out->data + start, '@', out->len - start) != NULL) {
		/*
		 * A quoted local part holding "@" and no domain: in internal form
		 * it would read as an address at the text after its "@" (and
		 * qualification would pass it by).  Malformed.
		 */
		return -1;
	}
	return 0;
}

/* parse_angle - "<" [route ":"] addr-spec ">"; empty "<>" yields nothing */
static int parse_angle(struct parser *ps, struct buf *out)
{
	struct buf scratch;

	ps->p++;
	if (skip_cfws(ps) < 0)
		return -1;
	if (*ps->p == '>') {
		ps->p++;
		return 0;
	}
	if (*ps->p == '@') {
		/* Source route: "@a,@b:" is parsed and thrown away (RFC 5321 4.1.2). */
		buf_init(&scratch, 64);
		for (;;) {
			if (*ps->p != '@') {
				buf_deinit(&scratch);
				return -1;
			}
			ps->p++;
			buf_reset(&scratch);
			if (parse_domain(ps, &scratch) < 0) {
				buf_deinit(&scratch);
				return -1;
			}
			if (*ps->p == ':')
				break;
			if (*ps->p != ',') {
				buf_deinit(&scratch);
				return -1;
			}
			ps->p++;
			if (skip_cfws(ps) < 0) {
				buf_deinit(&scratch);
				return -1;
			}
		}
		buf_deinit(&scratch);
		ps->p++;
	}
	if (parse_addr_spec(ps, out) < 0 || skip_cfws(ps) < 0 || *ps->p != '>')
		return -1;
	ps->p++;
	return 0;
}

/* parse_mailbox - name-addr or addr-spec; the address (maybe empty) into out */
static int parse_mailbox(struct parser *ps, bool group_ok, bool *group_r, struct buf *out)
{
	const char *start;

	*group_r = false;
	if (skip_cfws(ps) < 0)
		return -1;
	start = ps->p;

	/* A display name (any words, dots allowed) decides by what follows it. */
	while (*ps->p == '"' || is_atext((unsigned char)*ps->p) || *ps->p == '.') {
		if (parse_word(ps, NULL, true) < 0 || skip_cfws(ps) < 0)
			return -1;
	}
	if (*ps->p == '<')
		return parse_angle(ps, out);
	if (*ps->p == ':' && ps->p != start && group_ok) {
		ps->p++;
		*group_r = true;
		return 0;
	}
	ps->p = start;
	return parse_addr_spec(ps, out);
}

/* skip_element - error recovery: move to the next top-level separator */
static void skip_element(struct parser *ps, bool in_group)
{
	const char *p = ps->p;
	int angle = 0;

	while (*p) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (*p)
				p++;
			continue;
		}
		if (*p == '(') {
			ps->p = p;
			if (skip_cfws(ps) < 0) {
				p = ps->p;
				break;
			}
			p = ps->p;
			continue;
		}
		if (*p == '\\' && p[1]) {
			p += 2;
			continue;
		}
		if (*p == '<')
			angle++;
		else if (*p == '>' && angle > 0)
			angle--;
		else if (angle == 0 && (*p == ',' || (in_group && *p == ';')))
			break;
		p++;
	}
	ps->p = p;
}

/*
 * walk_list - every element of an address list: each well-formed address
 * (internal form, with its addr-spec's place in value) goes to fn; returns
 * the first error, or NULL.
 */
typedef void walk_fn(void *ctx, const char *addr, const char *start, const char *end);

static const char *walk_list(const char *value, walk_fn *fn, void *ctx)
{
	struct parser ps = {.p = value, .error = NULL};
	struct buf out;
	bool in_group = false, group;
	int r;

	buf_init(&out, 64);
	for (;;) {
		if (skip_cfws(&ps) < 0) {
			ps.error = "unterminated comment";
			break;
		}
		if (*ps.p == 0)
			break;
		if (*ps.p == ',') {
			ps.p++;
			continue;
		}
		if (in_group && *ps.p == ';') {
			ps.p++;
			in_group = false;
			continue;
		}
		buf_reset(&out);
		ps.spec_start = ps.spec_end = NULL;
		r = parse_mailbox(&ps, !in_group, &group, &out);
		if (r == 0 && group) {
			in_group = true;
			continue;
		}
		if (r < 0 || skip_cfws(&ps) < 0
		    || !(*ps.p == 0 || *ps.p == ',' || (in_group && *ps.p == ';'))) {
			if (ps.error == NULL)
				ps.error = "malformed address in list";
			skip_element(&ps, in_group);
			continue;
		}
		if (out.len > 0)
			fn(ctx, out.data, ps.spec_start, ps.spec_end);
	}
	buf_deinit(&out);
	return ps.error;
}

/* collect - walk_fn of rfc822_addr_list */
static void collect(void *ctx, const char *addr, const char *start, const char *end)
{
	(void)start;
	(void)end;
	argv_add(ctx, addr, (char *)NULL);
}

/* rfc822_addr_list - all addresses of an address-list value */
int rfc822_addr_list(const char *value, struct argv *addrs, const char **error_r)
{
	size_t before = addrs->argc;
	const char *error = walk_list(value, collect, addrs);

	if (error) {
		*error_r = error;
		return -1;
	}
	return (int)(addrs->argc - before);
}

/* The state of one rfc822_addr_list_rewrite(). */
struct rewrite_walk {
	const char *copied;		/* value up to here is in out */
	struct buf *out;
	rfc822_rewrite_fn *fn;
	void *ctx;
	int changed;
};

/* splice - one address: its addr-spec replaced when fn changes it */
static void splice(void *ctx, const char *addr, const char *start, const char *end)
{
	struct rewrite_walk *w = ctx;
	char *repl, *ext;

	if (start == NULL || end == NULL || end < start || start < w->copied)
		return;
	if ((repl = w->fn(w->ctx, addr)) == NULL)
		return;
	if (strcmp(repl, addr) != 0) {
		ext = addr_quote(repl);
		buf_append(w->out, w->copied, (size_t)(start - w->copied));
		buf_puts(w->out, ext);
		w->copied = end;
		w->changed++;
		free(ext);
	}
	free(repl);
}

/* rfc822_addr_list_rewrite - replace the addr-specs fn changes */
int rfc822_addr_list_rewrite(const char *value, rfc822_rewrite_fn *fn, void *ctx,
			     struct buf *out)
{
	struct rewrite_walk w = {.copied = value, .out = out, .fn = fn, .ctx = ctx};

	(void)walk_list(value, splice, &w);
	buf_puts(out, w.copied);
	return w.changed;
}

/* ---- headers cleanup adds ---- */

/* rfc822_date - RFC 5322 date in local time */
const char *rfc822_date(struct buf *out, time_t when)
{
	struct tm tm;
	char text[128];

	localtime_r(&when, &tm);
	if (strftime(text, sizeof(text), "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm) == 0)
		text[0] = 0;
	buf_puts(out, text);
	return buf_str(out);
}

/* rfc822_append_phrase - display name, quoted when needed */
void rfc822_append_phrase(struct buf *out, const char *phrase)
{
	bool plain = *phrase != 0 && phrase[0] != ' ' && phrase[strlen(phrase) - 1] != ' ';

	for (const char *p = phrase; plain && *p; p++)
		if (!is_atext((unsigned char)*p) && *p != ' ')
			plain = false;
	if (plain) {
		buf_puts(out, phrase);
		return;
	}
	buf_putc(out, '"');
	for (const unsigned char *p = (const unsigned char *)phrase; *p; p++) {
		if (*p < 32 || *p == 127) {
			buf_putc(out, ' ');
			continue;
		}
		if (*p == '"' || *p == '\\')
			buf_putc(out, '\\');
		buf_putc(out, *p);
	}
	buf_putc(out, '"');
}
