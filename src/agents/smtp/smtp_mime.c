/*
 * smtp_mime - 8-bit to quoted-printable conversion (see smtp_mime.h).
 *
 * Contract: lines are taken one at a time (a line longer than LINE_CAP in
 * pieces: such a line cannot be a boundary and is never a header field we
 * interpret); an entity's header is held until it ends, then written with
 * its Content-Transfer-Encoding settled; bodies are copied or encoded as
 * they arrive, so memory does not grow with the message.  Every byte of
 * the input reaches the output, encoded or not, except the replaced
 * Content-Transfer-Encoding fields.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/smtp/smtp_mime.h"
#include "util/buf.h"
#include "util/mem.h"

#define LINE_CAP	4096		/* longer lines are handled in pieces */
#define HEADER_CAP	(256 * 1024)	/* a bigger part header is not interpreted */
#define QP_LINE		76		/* RFC 2045 6.7 (5), with the soft-break "=" */

enum body_mode { BODY_COPY, BODY_QP };

/* How a part header ended. */
enum header_end { END_BLANK, END_OTHER, END_NONE };

struct bound {
	char *text;		/* the boundary parameter */
	size_t len;
	long depth;		/* depth of the multipart it belongs to */
	bool digest;		/* multipart/digest: parts default to message/rfc822 */
};

struct smtp_mime {
	long nesting_limit;
	struct buf line;	/* the line being collected */
	bool line_started;	/* part of this line has been handled already */
	bool line_in_header;	/* the line being handled belongs to a header */
	bool in_header;		/* reading a part header */
	bool header_copy;	/* that header grew too big: copied as it is */
	bool top;		/* the part is the message itself */
	bool digest;		/* its parent is multipart/digest */
	long depth;		/* containers around the part */
	struct buf header;	/* the part header so far */
	enum body_mode body;
	long col;		/* quoted-printable: bytes on the output line */
	int pending;		/* quoted-printable: a held blank, or -1 */
	struct bound *bounds;
	size_t nbounds, bounds_cap;
};

/* What a part header says. */
struct part_info {
	char type[64];		/* "text/plain", lower case */
	char *boundary;		/* or NULL */
	char cte[32];		/* "8bit", lower case, "" when absent */
	bool mime_version;
};

/* smtp_mime_create - fresh state: the top-level header comes first */
struct smtp_mime *smtp_mime_create(long nesting_limit)
{
	struct smtp_mime *m = xcalloc(1, sizeof(*m));

	m->nesting_limit = nesting_limit > 0 ? nesting_limit : 1;
	buf_init(&m->line, 256);
	buf_init(&m->header, 1024);
	m->in_header = true;
	m->top = true;
	m->pending = -1;
	return m;
}

/* smtp_mime_free - release */
void smtp_mime_free(struct smtp_mime **mp)
{
	struct smtp_mime *m = *mp;

	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nbounds; i++)
		free(m->bounds[i].text);
	free(m->bounds);
	buf_deinit(&m->line);
	buf_deinit(&m->header);
	free(m);
	*mp = NULL;
}

/* ---- quoted-printable ---- */

/* qp_byte - one byte, literal or "=XX", with a soft break before it when
 * the line would grow past QP_LINE with its "=" */
static void qp_byte(struct smtp_mime *m, struct buf *out, unsigned char c, bool literal)
{
	static const char hex[] = "0123456789ABCDEF";
	long width = literal ? 1 : 3;

	if (m->col + width > QP_LINE - 1) {
		buf_append(out, "=\n", 2);
		m->col = 0;
	}
	if (literal) {
		buf_putc(out, c);
	} else {
		buf_putc(out, '=');
		buf_putc(out, hex[c >> 4]);
		buf_putc(out, hex[c & 15]);
	}
	m->col += width;
}

/* qp_put - encode bytes of a line; a blank is held until we know it is
 * not the last on the line */
static void qp_put(struct smtp_mime *m, struct buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (m->pending >= 0) {
			qp_byte(m, out, (unsigned char)m->pending, true);
			m->pending = -1;
		}
		if (c == ' ' || c == '\t')
			m->pending = c;
		else
			qp_byte(m, out, c, c >= 33 && c <= 126 && c != '=');
	}
}

/* qp_flush - a held blank ends its line: encode it */
static void qp_flush(struct smtp_mime *m, struct buf *out)
{
	if (m->pending >= 0) {
		qp_byte(m, out, (unsigned char)m->pending, false);
		m->pending = -1;
	}
}

/* qp_eol - a hard line break */
static void qp_eol(struct smtp_mime *m, struct buf *out)
{
	qp_flush(m, out);
	buf_putc(out, '\n');
	m->col = 0;
}

/* ---- header parsing ---- */

/* field_name_is - does the field (at p, n bytes) have this name? */
static bool field_name_is(const char *p, size_t n, const char *name)
{
	size_t len = strlen(name), i = len;

	if (n <= len || strncasecmp(p, name, len) != 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

/* field_end - where the field starting at p ends (after its last line's LF) */
static size_t field_end(const char *p, size_t n)
{
	size_t i = 0;

	for (;;) {
		const char *nl = memchr(p + i, '\n', n - i);

		if (nl == NULL)
			return n;
		i = (size_t)(nl - p) + 1;
		if (i >= n || (p[i] != ' ' && p[i] != '\t'))
			return i;
	}
}

/* unfold_value - the field's value with line breaks made spaces; caller frees */
static char *unfold_value(const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	char *v, *q;

	if (colon == NULL)
		return xstrdup("");
	v = xstrndup(colon + 1, n - (size_t)(colon + 1 - p));
	for (q = v; *q; q++)
		if (*q == '\n' || *q == '\r')
			*q = ' ';
	return v;
}

/* token_lower - copy the token at *pp (up to a delimiter) in lower case */
static void token_lower(const char **pp, const char *delims, char *dst, size_t size)
{
	const char *p = *pp;
	size_t k = 0;

	p += strspn(p, " \t");
	while (*p && !strchr(delims, *p)) {
		if (k + 1 < size)
			dst[k++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
		p++;
	}
	dst[k] = 0;
	*pp = p;
}

/* param_boundary - the boundary parameter of a Content-Type value, or NULL;
 * caller frees */
static char *param_boundary(const char *p)
{
	char name[32], *value;

	while ((p = strchr(p, ';')) != NULL) {
		p++;
		token_lower(&p, "=; \t", name, sizeof(name));
		p += strspn(p, " \t");
		if (*p != '=')
			continue;
		p++;
		p += strspn(p, " \t");
		if (strcmp(name, "boundary") != 0)
			continue;
		if (*p == '"') {
			struct buf b;

			buf_init(&b, 80);
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				buf_putc(&b, *p);
			}
			value = buf_steal(&b);
			buf_deinit(&b);
			return value;
		}
		return xstrndup(p, strcspn(p, "; \t"));
	}
	return NULL;
}

/* parse_header - what the held header says */
static void parse_header(const struct smtp_mime *m, struct part_info *pi)
{
	const char *p = m->header.data;
	size_t n = m->header.len, i = 0, e;
	bool have_type = false;

	memset(pi, 0, sizeof(*pi));
	while (i < n) {
		e = i + field_end(p + i, n - i);
		if (!have_type && field_name_is(p + i, e - i, "Content-Type")) {
			char *v = unfold_value(p + i, e - i);
			const char *cp = v;

			token_lower(&cp, "; \t(", pi->type, sizeof(pi->type));
			pi->boundary = param_boundary(cp);
			have_type = pi->type[0] != 0;
			free(v);
		} else if (!pi->cte[0] && field_name_is(p + i, e - i, "Content-Transfer-Encoding")) {
			char *v = unfold_value(p + i, e - i);
			const char *cp = v;

			token_lower(&cp, "; \t(", pi->cte, sizeof(pi->cte));
			free(v);
		} else if (field_name_is(p + i, e - i, "MIME-Version")) {
			pi->mime_version = true;
		}
		i = e;
	}
	if (!have_type)
		snprintf(pi->type, sizeof(pi->type), "%s", m->digest ? "message/rfc822" : "text/plain");
}

/* emit_header - the held header, with the Content-Transfer-Encoding field
 * replaced by cte (NULL: kept) and MIME-Version added when asked */
static void emit_header(struct smtp_mime *m, struct buf *out, const char *cte, bool add_version)
{
	const char *p = m->header.data;
	size_t n = m->header.len, i = 0, e;
	bool done = false;

	while (i < n) {
		e = i + field_end(p + i, n - i);
		if (cte && field_name_is(p + i, e - i, "Content-Transfer-Encoding")) {
			if (!done)
				buf_printf(out, "Content-Transfer-Encoding: %s\n", cte);
			done = true;
		} else {
			buf_append(out, p + i, e - i);
			/* A last field without its line end (input ended). */
			if (e == n && p[e - 1] != '\n')
				buf_putc(out, '\n');
		}
		i = e;
	}
	if (add_version)
		buf_puts(out, "MIME-Version: 1.0\n");
	if (cte && !done)
		buf_printf(out, "Content-Transfer-Encoding: %s\n", cte);
}

/* is_8bit_cte - an encoding that may carry 8-bit bytes (or none given) */
static bool is_8bit_cte(const char *cte)
{
	return cte[0] == 0 || strcmp(cte, "8bit") == 0 || strcmp(cte, "binary") == 0;
}

/* push_bound - a multipart's boundary */
static void push_bound(struct smtp_mime *m, char *text, bool digest)
{
	struct bound *b;

	if (m->nbounds == m->bounds_cap) {
		m->bounds_cap = m->bounds_cap ? 2 * m->bounds_cap : 4;
		m->bounds = xreallocarray(m->bounds, m->bounds_cap, sizeof(*m->bounds));
	}
	b = &m->bounds[m->nbounds++];
	b->text = text;
	b->len = strlen(text);
	b->depth = m->depth;
	b->digest = digest;
}

/*
 * end_header - the part header is complete: write it out as it must be
 * and decide how the body goes.  how says whether an empty line ended it
 * (written again), another line (an empty line is put in, so that added
 * fields stay in the header) or a boundary or the end of the input
 * (nothing follows).
 */
static void end_header(struct smtp_mime *m, struct buf *out, enum header_end how)
{
	struct part_info pi;
	bool multipart, message, nested_ok = m->depth < m->nesting_limit;
	const char *eightbit_to = NULL;

	m->in_header = false;
	m->line_in_header = false;
	m->body = BODY_COPY;
	if (m->header_copy) {
		/* Too big to interpret; it went out as it came. */
		m->header_copy = false;
		if (how != END_NONE)
			buf_putc(out, '\n');
		return;
	}
	parse_header(m, &pi);
	multipart = strncmp(pi.type, "multipart/", 10) == 0 && pi.boundary && *pi.boundary;
	message = strcmp(pi.type, "message/rfc822") == 0;
	if ((multipart || message) && !nested_ok) {
		emit_header(m, out, NULL, false);	/* too deep: as it is */
	} else if (multipart || message) {
		if (strcmp(pi.cte, "8bit") == 0 || strcmp(pi.cte, "binary") == 0)
			eightbit_to = "7bit";
		emit_header(m, out, eightbit_to, false);
		if (multipart) {
			push_bound(m, pi.boundary, strcmp(pi.type, "multipart/digest") == 0);
			pi.boundary = NULL;
		}
	} else if (is_8bit_cte(pi.cte)) {
		emit_header(m, out, "quoted-printable", m->top && !pi.mime_version);
		m->body = BODY_QP;
		m->col = 0;
		m->pending = -1;
	} else {
		emit_header(m, out, NULL, false);
	}
	free(pi.boundary);
	buf_reset(&m->header);
	if (how != END_NONE)
		buf_putc(out, '\n');
	if (message && nested_ok) {
		/* The enclosed message's header is next. */
		m->in_header = true;
		m->top = false;
		m->digest = false;
		m->depth++;
	}
}

/* header_add - part of a header line */
static void header_add(struct smtp_mime *m, struct buf *out, const char *p, size_t n, bool eol)
{
	if (m->header_copy) {
		buf_append(out, p, n);
		if (eol)
			buf_putc(out, '\n');
		return;
	}
	buf_append(&m->header, p, n);
	if (eol)
		buf_putc(&m->header, '\n');
	if (m->header.len > HEADER_CAP) {
		/* Not interpreted: out as it is, and so is this part's body. */
		buf_append(out, m->header.data, m->header.len);
		buf_reset(&m->header);
		m->header_copy = true;
	}
}

/* header_line - could this line be part of a header field? */
static bool header_line(const char *p, size_t n)
{
	size_t i = 0;

	if (n > 0 && (p[0] == ' ' || p[0] == '\t'))
		return true;
	while (i < n && (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 && p[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

/* match_bound - the boundary level this line is a delimiter of (innermost
 * first), or -1; *close_r for a close delimiter "--b--" */
static long match_bound(const struct smtp_mime *m, const char *p, size_t n, bool *close_r)
{
	for (size_t k = m->nbounds; k-- > 0;) {
		const struct bound *b = &m->bounds[k];
		size_t i = 2 + b->len;

		if (n < i || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b->text, b->len) != 0)
			continue;
		*close_r = n >= i + 2 && p[i] == '-' && p[i + 1] == '-';
		if (*close_r)
			i += 2;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n)
			return (long)k;
	}
	return -1;
}

/* on_bound - a delimiter of level k: the part before it is over */
static void on_bound(struct smtp_mime *m, struct buf *out, size_t k, bool close)
{
	if (m->in_header)
		end_header(m, out, END_NONE);
	qp_flush(m, out);
	while (m->nbounds > k + 1)
		free(m->bounds[--m->nbounds].text);
	m->depth = m->bounds[k].depth;
	m->body = BODY_COPY;
	if (close) {
		/* The epilogue: as it is, up to the parent's next delimiter. */
		free(m->bounds[--m->nbounds].text);
		return;
	}
	m->in_header = true;
	m->top = false;
	m->digest = m->bounds[k].digest;
	m->depth++;
}

/* body_add - part of a body line */
static void body_add(struct smtp_mime *m, struct buf *out, const char *p, size_t n, bool eol)
{
	if (m->body == BODY_QP) {
		qp_put(m, out, p, n);
		if (eol)
			qp_eol(m, out);
	} else {
		buf_append(out, p, n);
		if (eol)
			buf_putc(out, '\n');
	}
}

/* handle - a line, or a piece of one (bol: its start; eol: its end) */
static void handle(struct smtp_mime *m, struct buf *out, const char *p, size_t n, bool bol,
		   bool eol)
{
	bool close;
	long k;

	if (!bol) {
		if (m->line_in_header)
			header_add(m, out, p, n, eol);
		else
			body_add(m, out, p, n, eol);
		return;
	}
	if (eol && m->nbounds > 0 && (k = match_bound(m, p, n, &close)) >= 0) {
		on_bound(m, out, (size_t)k, close);
		buf_append(out, p, n);
		buf_putc(out, '\n');
		return;
	}
	while (m->in_header) {
		if (n == 0 && eol) {
			end_header(m, out, END_BLANK);
			return;
		}
		if (header_line(p, n)) {
			m->line_in_header = true;
			header_add(m, out, p, n, eol);
			return;
		}
		/* Not a header line: the header is over and this is body (or,
		 * after message/rfc822, the next header). */
		end_header(m, out, END_OTHER);
	}
	m->line_in_header = false;
	body_add(m, out, p, n, eol);
}

/* smtp_mime_put - collect lines and handle them */
void smtp_mime_put(struct smtp_mime *m, const char *data, size_t len, struct buf *out)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t run = nl ? (size_t)(nl - data) : len;
		size_t room = LINE_CAP - m->line.len;

		if (run > room)
			run = room;
		buf_append(&m->line, data, run);
		data += run;
		len -= run;
		if (len > 0 && *data == '\n') {
			handle(m, out, m->line.data, m->line.len, !m->line_started, true);
			buf_reset(&m->line);
			m->line_started = false;
			data++;
			len--;
		} else if (m->line.len >= LINE_CAP) {
			handle(m, out, m->line.data, m->line.len, !m->line_started, false);
			buf_reset(&m->line);
			m->line_started = true;
		}
	}
}

/* smtp_mime_end - a last line without its line end, a header never ended */
void smtp_mime_end(struct smtp_mime *m, struct buf *out)
{
	if (m->line.len > 0)
		handle(m, out, m->line.data, m->line.len, !m->line_started, false);
	buf_reset(&m->line);
	m->line_started = false;
	if (m->in_header)
		end_header(m, out, END_NONE);
	qp_flush(m, out);
}
