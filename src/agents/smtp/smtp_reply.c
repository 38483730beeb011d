/*
 * smtp_reply - incremental SMTP reply parser (see smtp_reply.h).
 *
 * Contract: the parser owns no descriptor and allocates only while a line
 * or reply is within its limits, so a server cannot make it use more than
 * about line_keep + max_text bytes whatever it sends.  Bytes are examined
 * once: the code and separator of a line are checked as soon as its first
 * four bytes are in, so garbage is rejected at once instead of after a
 * megabyte without a line end.
 *
 * It does not interpret replies beyond code, enhanced status and text: what
 * a code means for a command is smtp_proto's business.
 *
 * Diagnostics: errors are returned as static text, never logged here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/smtp/smtp_reply.h"
#include "global/dsn.h"
#include "util/buf.h"
#include "util/mem.h"

struct smtp_reply_parser {
	struct smtp_reply_limits lim;
	struct smtp_reply reply;
	struct buf line;	/* kept bytes of the current line (+1 for a CR) */
	bool overflow;		/* current line is longer than what we keep */
	bool prefix_ok;		/* current line's code and separator checked */
	bool last_line;		/* current line is the last one */
	bool done;		/* reply complete; the next feed starts over */
	const char *error;	/* sticky error, or NULL */
	size_t raw;		/* bytes consumed for this reply */
};

static const struct smtp_reply_limits default_limits = {
	.line_keep = SMTP_REPLY_LINE_KEEP,
	.max_lines = SMTP_REPLY_MAX_LINES,
	.max_text = SMTP_REPLY_MAX_TEXT,
	.max_raw = SMTP_REPLY_MAX_RAW,
};

/* smtp_reply_parser_create - new parser */
struct smtp_reply_parser *smtp_reply_parser_create(const struct smtp_reply_limits *lim)
{
	struct smtp_reply_parser *p = xcalloc(1, sizeof(*p));

	p->lim = lim ? *lim : default_limits;
	if (p->lim.line_keep < 4)
		p->lim.line_keep = 4;
	buf_init(&p->reply.text, 256);
	buf_init(&p->line, 256);
	smtp_reply_parser_reset(p);
	return p;
}

/* smtp_reply_parser_free - release the parser */
void smtp_reply_parser_free(struct smtp_reply_parser **pp)
{
	struct smtp_reply_parser *p = *pp;

	if (p == NULL)
		return;
	buf_deinit(&p->reply.text);
	buf_deinit(&p->line);
	free(p);
	*pp = NULL;
}

/* start_line - forget the current line */
static void start_line(struct smtp_reply_parser *p)
{
	buf_reset(&p->line);
	p->overflow = false;
	p->prefix_ok = false;
	p->last_line = false;
}

/* smtp_reply_parser_reset - start a new reply */
void smtp_reply_parser_reset(struct smtp_reply_parser *p)
{
	buf_reset(&p->reply.text);
	p->reply.code = 0;
	p->reply.status[0] = 0;
	p->reply.enhanced = false;
	p->reply.truncated = false;
	p->reply.lines = 0;
	start_line(p);
	p->done = false;
	p->error = NULL;
	p->raw = 0;
}

/* is_digit - ASCII digit */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * check_prefix - validate "DDD" and the separator of the current line.
 * Called with at least four bytes, or with the whole line (at its end).
 * Returns NULL or an error.
 */
static const char *check_prefix(struct smtp_reply_parser *p)
{
	const char *s = p->line.data;
	size_t n = p->line.len;
	int code;

	if (n < 3 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]))
		return "malformed reply: no reply code";
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (code < 200 || code > 599)
		return "malformed reply: reply code out of range";
	if (n > 3 && s[3] != ' ' && s[3] != '-')
		return "malformed reply: bad separator after reply code";
	if (p->reply.lines == 0)
		p->reply.code = code;
	else if (code != p->reply.code)
		return "malformed reply: inconsistent reply codes in multi-line reply";
	p->last_line = n == 3 || s[3] == ' ';
	p->prefix_ok = true;
	return NULL;
}

/* set_status - enhanced status from the first line, or the class default */
static void set_status(struct smtp_reply *r)
{
	const char *text = r->text.data;
	char status[16];

	r->enhanced = false;
	if (r->text.len > 4 && dsn_status_from_text(text + 4, status) != NULL
	    && status[0] == text[0]) {
		memcpy(r->status, status, sizeof(r->status));
		r->enhanced = true;
		return;
	}
	/* X.0.0 from the class; "3.0.0" is not a status anyone reports. */
	snprintf(r->status, sizeof(r->status), "%d.0.0", r->code / 100);
}

/*
 * end_line - the current line is complete: check it, add it to the reply.
 * Returns NULL or an error.
 */
static const char *end_line(struct smtp_reply_parser *p)
{
	struct smtp_reply *r = &p->reply;
	const char *error;
	size_t n;

	/* A CR just before the LF is the line end, unless the tail was cut. */
	if (!p->overflow && p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
		buf_truncate(&p->line, p->line.len - 1);
	if (p->line.len > p->lim.line_keep) {
		buf_truncate(&p->line, p->lim.line_keep);
		p->overflow = true;
	}
	if (!p->prefix_ok && (error = check_prefix(p)) != NULL)
		return error;
	if (p->overflow)
		r->truncated = true;
	if (r->lines >= p->lim.max_lines)
		return "malformed reply: too many lines";
	n = p->line.len + (r->lines ? 1 : 0);
	if (r->text.len + n > p->lim.max_text)
		return "malformed reply: reply text too long";
	if (r->lines)
		buf_putc(&r->text, '\n');
	buf_append(&r->text, p->line.data, p->line.len);
	r->lines++;
	if (p->last_line) {
		set_status(r);
		p->done = true;
	}
	start_line(p);
	return NULL;
}

/* smtp_reply_parse - consume bytes until a reply is complete */
int smtp_reply_parse(struct smtp_reply_parser *p, const char *data, size_t len,
		     size_t *used_r, const char **error_r)
{
	size_t i = 0, room, chunk;
	const char *nl, *error;

	*used_r = 0;
	if (p->error) {
		*error_r = p->error;
		return SMTP_REPLY_ERROR;
	}
	if (p->done)
		smtp_reply_parser_reset(p);

	while (i < len) {
		/* Take bytes up to the end of the line (or of the data). */
		nl = memchr(data + i, '\n', len - i);
		chunk = (nl ? (size_t)(nl - (data + i)) : len - i);
		if (memchr(data + i, '\0', chunk) != NULL) {
			error = "malformed reply: NUL byte";
			goto fail;
		}
		if (chunk > p->lim.max_raw - p->raw) {
			error = "malformed reply: reply too long";
			goto fail;
		}
		/* Keep line_keep bytes plus one for a CR before the LF. */
		room = p->lim.line_keep + 1 > p->line.len ? p->lim.line_keep + 1 - p->line.len : 0;
		if (chunk > room) {
			buf_append(&p->line, data + i, room);
			p->overflow = true;
		} else {
			buf_append(&p->line, data + i, chunk);
		}
		p->raw += chunk;
		i += chunk;
		/* Check early, unless a CR in column 4 may still be the line end. */
		if (!p->prefix_ok && p->line.len >= 4 && p->line.data[3] != '\r'
		    && (error = check_prefix(p)) != NULL)
			goto fail;
		if (nl == NULL)
			break;
		/* The LF itself. */
		i++;
		p->raw++;
		if ((error = end_line(p)) != NULL)
			goto fail;
		if (p->done) {
			*used_r = i;
			return SMTP_REPLY_DONE;
		}
		if (p->raw >= p->lim.max_raw) {
			error = "malformed reply: reply too long";
			goto fail;
		}
	}
	*used_r = i;
	return SMTP_REPLY_MORE;

fail:
	p->error = error;
	*error_r = error;
	*used_r = i;
	return SMTP_REPLY_ERROR;
}

/* smtp_reply_parser_reply - the completed reply */
const struct smtp_reply *smtp_reply_parser_reply(const struct smtp_reply_parser *p)
{
	return &p->reply;
}

/* utf8_len - length of the valid UTF-8 sequence at p (n bytes left), or 0 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* smtp_reply_oneline - reply text on one line, control bytes made '?' */
const char *smtp_reply_oneline(const struct smtp_reply *r, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)r->text.data;
	size_t n = r->text.len, i = 0, len;

	while (i < n) {
		if (p[i] == '\n') {
			buf_putc(out, ' ');
			i++;
		} else if (p[i] >= 0x20 && p[i] < 0x7f) {
			buf_putc(out, (char)p[i]);
			i++;
		} else if (p[i] >= 0x80 && (len = utf8_len(p + i, n - i)) > 0) {
			buf_append(out, p + i, len);
			i += len;
		} else {
			buf_putc(out, '?');
			i++;
		}
	}
	return buf_str(out);
}
