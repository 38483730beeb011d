/*
 * pf_queue - read a Postfix queue file and defer log (see pf_queue.h).
 *
 * Written from the record types Postfix documents in its rec_type.h and
 * from queue files and defer logs that Postfix 3.7 wrote; no Postfix code.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_queue.h"
#include "util/argv.h"
#include "util/mem.h"
#include "util/strutil.h"

#define PF_LEN_MAX	(1L << 30)	/* a sane bound for one record */

static char pf_err[256];

enum seg { SEG_ENV, SEG_CONTENT, SEG_EXTRACT, SEG_END };

/* Per-recipient data seen before its R/D record. */
struct pending {
	char *orig_rcpt;
	char *dsn_orcpt;
	int notify;
};

/* pf_rec_next - one record */
int pf_rec_next(const char *data, size_t len, size_t *pos, int *type_r,
		const char **val_r, size_t *vlen_r)
{
	size_t p = *pos;
	unsigned long n = 0;
	unsigned shift = 0;
	unsigned char c;

	if (p >= len)
		return 0;
	*type_r = (unsigned char)data[p++];
	do {
		if (p >= len || shift > 28)
			return -1;
		c = (unsigned char)data[p++];
		n |= (unsigned long)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	if (n > PF_LEN_MAX || n > len - p)
		return -1;
	*val_r = data + p;
	*vlen_r = n;
	*pos = p + n;
	return 1;
}

/* fail - set the reason */
__attribute__((format(printf, 2, 3)))
static int fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pf_err, sizeof(pf_err), fmt, ap);
	va_end(ap);
	*error_r = pf_err;
	return -1;
}

/* parse_long - a decimal number with optional leading blanks */
static bool parse_long(const char *s, long *v_r)
{
	while (*s == ' ')
		s++;
	return str_to_long(s, 0, 0x7fffffffffffffffL, v_r) == 0;
}

/* add_rcpt - a recipient record with the data that preceded it */
static void add_rcpt(struct pf_msg *m, struct pending *pd, long offset, const char *addr,
		     bool done)
{
	struct pf_rcpt *r;

	m->rcpts = xreallocarray(m->rcpts, m->rcpt_count + 1, sizeof(*m->rcpts));
	r = &m->rcpts[m->rcpt_count++];
	r->offset = offset;
	r->address = xstrdup(addr);
	r->orig_rcpt = pd->orig_rcpt ? pd->orig_rcpt : xstrdup("");
	r->dsn_orcpt = pd->dsn_orcpt ? pd->dsn_orcpt : xstrdup("");
	r->notify = pd->notify;
	r->done = done;
	memset(pd, 0, sizeof(*pd));
}

/* set_str - replace *dst with a copy of val */
static void set_str(char **dst, const char *val)
{
	free(*dst);
	*dst = xstrdup(val);
}

/* envelope_attr - an A record; 0 or -1 (bad value) */
static int envelope_attr(struct pf_msg *m, struct pending *pd, const char *val,
			 const char **error_r)
{
	const char *eq = strchr(val, '=');
	const char *v;
	size_t nlen;
	long num;

	if (eq == NULL || eq == val)
		return fail(error_r, "attribute record without a name: \"%.60s\"", val);
	nlen = (size_t)(eq - val);
	v = eq + 1;
#define IS(name) (nlen == strlen(name) && strncmp(val, name, nlen) == 0)
	if (IS("notify_flags")) {
		if (!parse_long(v, &num) || num > 15)
			return fail(error_r, "bad notify_flags \"%.30s\"", v);
		pd->notify = (int)num;
	} else if (IS("dsn_orig_rcpt")) {
		set_str(&pd->dsn_orcpt, v);
	} else if (IS("envelope_id")) {
		set_str(&m->envid, v);
	} else if (IS("ret_flags")) {
		if (!parse_long(v, &num) || num > 2)
			return fail(error_r, "bad ret_flags \"%.30s\"", v);
		m->ret = (int)num;
	} else if (IS("rewrite_context") || (nlen > 4 && strncmp(val, "log_", 4) == 0)) {
		argv_add(m->attrs, val, (char *)NULL);
	} else if (IS("trace_flags")) {
		if (!(parse_long(v, &num) && num == 0))
			argv_add(m->dropped, "trace/verify request flags", (char *)NULL);
	} else if (IS("create_time") || IS("encoding") || IS("smtputf8")
		   || IS("dsn_envid") || IS("sasl_method") || IS("sasl_username")
		   || IS("sasl_sender") || IS("forced_expire")) {
		/* Postfix bookkeeping that sluice does not keep. */
	} else {
		char *what = xasprintf("attribute %.*s", (int)nlen, val);

		argv_add(m->dropped, what, (char *)NULL);
		free(what);
	}
#undef IS
	return 0;
}

/* envelope_rec - a record of the envelope or extracted segment */
static int envelope_rec(struct pf_msg *m, struct pending *pd, enum seg seg, int type,
			const char *val, long offset, bool *have_time, const char **error_r)
{
	long num;
	char *end;

	switch (type) {
	case 'C':
		if (seg != SEG_ENV || offset != 0)
			return fail(error_r, "size record at offset %ld", offset);
		m->is_queue_file = true;
		return 0;
	case 'T':
		m->arrival_sec = strtol(val, &end, 10);
		m->arrival_usec = 0;
		if (end == val || m->arrival_sec <= 0)
			return fail(error_r, "bad time record \"%.40s\"", val);
		if (*end == ' ') {
			m->arrival_usec = strtol(end + 1, &end, 10);
			if (m->arrival_usec < 0 || m->arrival_usec > 999999)
				return fail(error_r, "bad time record \"%.40s\"", val);
		}
		*have_time = true;
		return 0;
	case 'F':
		set_str(&m->full_name, val);
		return 0;
	case 'S':
		if (m->sender == NULL)
			m->sender = xstrdup(val);
		return 0;
	case 'W':
		/* Postfix clears it after sending the warning; any other
		 * value than a time ahead means "no warning due". */
		m->warn_time = parse_long(val, &num) ? num : 0;
		return 0;
	case 'A':
		return envelope_attr(m, pd, val, error_r);
	case 'O':
		set_str(&pd->orig_rcpt, val);
		return 0;
	case 'o':
		set_str(&pd->dsn_orcpt, val);
		return 0;
	case 'n':
		if (!parse_long(val, &num) || num > 15)
			return fail(error_r, "bad notify record \"%.30s\"", val);
		pd->notify = (int)num;
		return 0;
	case 'i':
		set_str(&m->envid, val);
		return 0;
	case '<':
		if (!parse_long(val, &num) || num > 2)
			return fail(error_r, "bad DSN RET record \"%.30s\"", val);
		m->ret = (int)num;
		return 0;
	case 'R':
	case 'D':
	case '/':
		if (*val == 0 && type == 'R')
			return fail(error_r, "empty recipient at offset %ld", offset);
		add_rcpt(m, pd, offset, val, type != 'R');
		return 0;
	case 'I':
	case 'L':
		if (*val)
			argv_add(m->dropped, type == 'I' ? "inspector transport"
				 : "content filter", (char *)NULL);
		return 0;
	case '>':
		argv_add(m->dropped, "redirect target", (char *)NULL);
		return 0;
	case 'V':
		argv_add(m->dropped, "VERP delimiters", (char *)NULL);
		return 0;
	case 'c': case 'f': case 'd': case 'P': case 'r': case 'e': case 'K': case 'm':
		/* create time, cleanup flags, delay, priority, return-receipt,
		 * errors-to, killed record, milter count: not needed. */
		return 0;
	default:
		return fail(error_r, "unexpected record type %d at offset %ld", type, offset);
	}
}

/* pf_msg_parse - a whole file */
int pf_msg_parse(const char *data, size_t len, struct pf_msg *m, const char **error_r)
{
	struct pending pd = {0};
	enum seg seg = SEG_ENV;
	bool have_time = false;
	size_t pos = 0, jumps = 0;
	int type, rc;
	const char *val;
	size_t vlen;
	char *text = NULL;

	memset(m, 0, sizeof(*m));
	m->attrs = argv_create();
	m->dropped = argv_create();
	buf_init(&m->content, 4096);
	while (seg != SEG_END) {
		long offset = (long)pos;

		if ((rc = pf_rec_next(data, len, &pos, &type, &val, &vlen)) <= 0) {
			fail(error_r, rc == 0 ? "no end record" : "malformed record at offset %ld",
			     offset);
			goto bad;
		}
		if (type == 'p') {
			long to;

			free(text);
			text = xmemdup(val, vlen);
			if (!parse_long(text, &to) || (to != 0 && (size_t)to >= len)) {
				fail(error_r, "bad pointer record at offset %ld", offset);
				goto bad;
			}
			if (to != 0) {
				if (++jumps > len) {
					fail(error_r, "pointer loop at offset %ld", offset);
					goto bad;
				}
				pos = (size_t)to;
			}
			continue;
		}
		if (type == 'w')	/* padding, anywhere */
			continue;
		if (seg == SEG_CONTENT) {
			if (type == 'N' || type == 'L') {
				buf_append(&m->content, val, vlen);
				if (type == 'N')
					buf_putc(&m->content, '\n');
			} else if (type == 'X') {
				seg = SEG_EXTRACT;
			} else {
				fail(error_r, "unexpected record type %d in the content at offset %ld",
				     type, offset);
				goto bad;
			}
			continue;
		}
		if (type == 'M' && seg == SEG_ENV) {
			seg = SEG_CONTENT;
			continue;
		}
		if (type == 'E' && seg == SEG_EXTRACT) {
			seg = SEG_END;
			continue;
		}
		free(text);
		text = xmemdup(val, vlen);
		if (memchr(val, 0, vlen) != NULL) {
			fail(error_r, "NUL in a record at offset %ld", offset);
			goto bad;
		}
		if (envelope_rec(m, &pd, seg, type, text, offset, &have_time, error_r) < 0)
			goto bad;
	}
	free(text);
	text = NULL;
	free(pd.orig_rcpt);
	free(pd.dsn_orcpt);
	memset(&pd, 0, sizeof(pd));
	if (!have_time) {
		fail(error_r, "no time record");
		goto bad;
	}
	if (m->sender == NULL) {
		fail(error_r, "no sender record");
		goto bad;
	}
	if (m->rcpt_count == 0) {
		fail(error_r, "no recipients");
		goto bad;
	}
	if (m->full_name == NULL)
		m->full_name = xstrdup("");
	if (m->envid == NULL)
		m->envid = xstrdup("");
	return 0;
bad:
	free(text);
	free(pd.orig_rcpt);
	free(pd.dsn_orcpt);
	pf_msg_deinit(m);
	return -1;
}

/* pf_msg_deinit - release a parsed message */
void pf_msg_deinit(struct pf_msg *m)
{
	for (size_t i = 0; i < m->rcpt_count; i++) {
		free(m->rcpts[i].address);
		free(m->rcpts[i].orig_rcpt);
		free(m->rcpts[i].dsn_orcpt);
	}
	free(m->rcpts);
	free(m->sender);
	free(m->full_name);
	free(m->envid);
	argv_free(&m->attrs);
	argv_free(&m->dropped);
	buf_deinit(&m->content);
	memset(m, 0, sizeof(*m));
}

/* ---- defer logs ---- */

/* defer_field - store one name=value line in rec */
static void defer_field(struct pf_defer *d, const char *name, size_t nlen, const char *v)
{
#define IS(s) (nlen == strlen(s) && strncmp(name, s, nlen) == 0)
	long num;

	if (IS("recipient"))
		set_str(&d->recipient, v);
	else if (IS("original_recipient") || IS("orig_rcpt"))
		set_str(&d->orig_rcpt, v);
	else if (IS("dsn_orig_rcpt"))
		set_str(&d->dsn_orcpt, v);
	else if (IS("offset") || IS("recipient_offset"))
		d->offset = parse_long(v, &num) ? num : -1;
	else if (IS("notify_flags"))
		d->notify = parse_long(v, &num) && num <= 15 ? (int)num : 0;
	else if (IS("status"))
		set_str(&d->status, v);
	else if (IS("action"))
		set_str(&d->action, v);
	else if (IS("reason"))
		set_str(&d->reason, v);
	else if (IS("diag_type"))
		set_str(&d->diag_type, v);
	else if (IS("diag_text"))
		set_str(&d->diag_text, v);
	else if (IS("mta_type"))
		set_str(&d->mta_type, v);
	else if (IS("mta_mname") || IS("mta_name"))
		set_str(&d->mta_name, v);
#undef IS
}

/* defer_clear - free one record's strings */
static void defer_clear(struct pf_defer *d)
{
	char **s[] = {&d->recipient, &d->orig_rcpt, &d->dsn_orcpt, &d->status, &d->action,
		      &d->reason, &d->diag_type, &d->diag_text, &d->mta_type, &d->mta_name};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
}

/* defer_fill - "" for absent strings */
static void defer_fill(struct pf_defer *d)
{
	char **s[] = {&d->orig_rcpt, &d->dsn_orcpt, &d->status, &d->action,
		      &d->reason, &d->diag_type, &d->diag_text, &d->mta_type, &d->mta_name};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (*s[i] == NULL)
			*s[i] = xstrdup("");
}

/* pf_defer_parse - every complete record */
size_t pf_defer_parse(const char *data, size_t len, struct pf_defer **recs_r)
{
	struct pf_defer *recs = NULL, cur = {.offset = -1};
	size_t count = 0, pos = 0;
	bool any = false;

	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		const char *line = data + pos, *eq;
		size_t llen;
		char *v;

		if (nl == NULL)
			break;		/* a torn last line: the record is incomplete */
		llen = (size_t)(nl - line);
		pos += llen + 1;
		if (llen == 0) {
			if (any && cur.recipient != NULL) {
				defer_fill(&cur);
				recs = xreallocarray(recs, count + 1, sizeof(*recs));
				recs[count++] = cur;
				memset(&cur, 0, sizeof(cur));
			} else {
				defer_clear(&cur);
			}
			cur.offset = -1;
			any = false;
			continue;
		}
		if (line[0] == '<')	/* the human-readable "<rcpt>: text" line */
			continue;
		if ((eq = memchr(line, '=', llen)) == NULL || eq == line)
			continue;
		v = xstrndup(eq + 1, (size_t)(line + llen - eq - 1));
		defer_field(&cur, line, (size_t)(eq - line), v);
		free(v);
		any = true;
	}
	defer_clear(&cur);
	*recs_r = recs;
	return count;
}

/* pf_defer_free - release records */
void pf_defer_free(struct pf_defer **recs, size_t count)
{
	if (*recs == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		defer_clear(&(*recs)[i]);
	free(*recs);
	*recs = NULL;
}
