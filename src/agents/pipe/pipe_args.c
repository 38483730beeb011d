/*
 * pipe_args - parse the pipe service's attributes and expand its command
 * vector (see pipe_args.h).
 *
 * Everything here is pure string work so that it is tested without a
 * running system.  Errors are returned with a static message naming the
 * attribute or macro; the agent turns them into a deferral with 4.3.5
 * ("mail system configuration error") and a warning, where Postfix's pipe
 * would end with a fatal error and let the queue manager back off.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/pipe/pipe_args.h"
#include "global/addr.h"
#include "global/split_addr.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

static char errbuf[160];

/* fail - format a static error */
__attribute__((format(printf, 2, 3)))
static int fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	*error_r = errbuf;
	return -1;
}

/* pipe_unescape - C-style escapes in eol= */
char *pipe_unescape(const char *text)
{
	struct buf b;

	buf_init(&b, strlen(text) + 1);
	for (const char *cp = text; *cp; cp++) {
		if (*cp != '\\' || cp[1] == 0) {
			buf_putc(&b, *cp);
			continue;
		}
		switch (*++cp) {
		case 'n':
			buf_putc(&b, '\n');
			break;
		case 'r':
			buf_putc(&b, '\r');
			break;
		case 't':
			buf_putc(&b, '\t');
			break;
		default:
			buf_putc(&b, *cp);
			break;
		}
	}
	char *s = buf_steal(&b);

	buf_deinit(&b);
	return s;
}

/* parse_flags - copy flags plus the command-line letters */
static int parse_flags(const char *text, int *flags_r, const char **error_r)
{
	const char *error;
	int flags;

	if (mail_copy_flags_parse(text, "hquX", &flags, &error) < 0)
		return fail(error_r, "flags=%s: %s", text, error);
	if (strchr(text, 'h'))
		flags |= PIPE_FLAG_FOLD_HOST;
	if (strchr(text, 'q'))
		flags |= PIPE_FLAG_QUOTE;
	if (strchr(text, 'u'))
		flags |= PIPE_FLAG_FOLD_USER;
	if (strchr(text, 'X'))
		flags |= PIPE_FLAG_FINAL;
	*flags_r = flags;
	return 0;
}

/* pipe_attr_deinit - release parsed attributes */
void pipe_attr_deinit(struct pipe_attr *attr)
{
	free(attr->user);
	free(attr->group);
	free(attr->eol);
	free(attr->directory);
	free(attr->null_sender);
	argv_free(&attr->argv);
	memset(attr, 0, sizeof(*attr));
}

/* pipe_attr_parse - the words after "pipe" on the master.cf line */
int pipe_attr_parse(char *const *words, size_t count, struct pipe_attr *attr,
		    const char **error_r)
{
	const char *word, *value;
	size_t i;
	long n;

	memset(attr, 0, sizeof(*attr));
	attr->eol = xstrdup("\n");
	attr->null_sender = xstrdup("MAILER-DAEMON");
	for (i = 0; i < count; i++) {
		word = words[i];
		/* master's own options are not ours. */
		if (strcmp(word, "-o") == 0) {
			i++;
			continue;
		}
		if ((value = strchr(word, '=')) == NULL) {
			fail(error_r, "bad attribute \"%s\" (expected name=value)", word);
			goto bad;
		}
		value++;
		if (str_has_prefix(word, "argv=")) {
			attr->argv = argv_create();
			if (*value)
				argv_add(attr->argv, value, (char *)NULL);
			for (i++; i < count; i++)
				argv_add(attr->argv, words[i], (char *)NULL);
			break;
		} else if (str_has_prefix(word, "flags=")) {
			if (parse_flags(value, &attr->flags, error_r) < 0)
				goto bad;
		} else if (str_has_prefix(word, "user=")) {
			const char *colon = strchr(value, ':');

			free(attr->user);
			free(attr->group);
			attr->group = NULL;
			attr->user = colon ? xstrndup(value, (size_t)(colon - value)) : xstrdup(value);
			if (colon)
				attr->group = xstrdup(colon + 1);
			if (*attr->user == 0 || (attr->group && *attr->group == 0)) {
				fail(error_r, "user=%s: empty user or group name", value);
				goto bad;
			}
		} else if (str_has_prefix(word, "eol=")) {
			free(attr->eol);
			attr->eol = pipe_unescape(value);
			if (*attr->eol == 0 || strlen(attr->eol) > 7) {
				fail(error_r, "eol=%s: must be 1 to 7 characters", value);
				goto bad;
			}
		} else if (str_has_prefix(word, "directory=")) {
			free(attr->directory);
			attr->directory = xstrdup(value);
		} else if (str_has_prefix(word, "null_sender=")) {
			free(attr->null_sender);
			attr->null_sender = xstrdup(value);
		} else if (str_has_prefix(word, "size=")) {
			if (str_to_long(value, 0, 1L << 40, &n) < 0) {
				fail(error_r, "size=%s: bad size", value);
				goto bad;
			}
			attr->size_limit = n;
		} else {
			fail(error_r, "unknown attribute \"%.*s\"", (int)(value - word - 1), word);
			goto bad;
		}
	}
	if (attr->user == NULL) {
		fail(error_r, "missing user= attribute");
		goto bad;
	}
	if (attr->argv == NULL || attr->argv->argc == 0) {
		fail(error_r, "missing argv= attribute");
		goto bad;
	}
	return 0;
bad:
	pipe_attr_deinit(attr);
	return -1;
}

/* Macros whose value depends on the recipient. */
static const char *const rcpt_macros[] = {
	"recipient", "original_recipient", "user", "extension", "mailbox", "domain", NULL,
};

/* Macros that exist but have no value in a local agent. */
static const char *const empty_macros[] = {
	"client_address", "client_hostname", "client_port", "client_protocol", "client_helo",
	"sasl_method", "sasl_username", "sasl_sender", NULL,
};

/* in_list - name is in a NULL-terminated list */
static bool in_list(const char *const *list, const char *name, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && strncmp(*list, name, len) == 0)
			return true;
	return false;
}

/* macro_name - the macro at cp ("$name", "${name}", "$(name)"); 0 or -1 */
static int macro_name(const char *cp, const char **name_r, size_t *name_len_r,
		      size_t *total_r, const char **error_r)
{
	const char *start;
	char close;

	/* cp points at '$'. */
	if (cp[1] == '{' || cp[1] == '(') {
		close = cp[1] == '{' ? '}' : ')';
		start = cp + 2;
		const char *end = strchr(start, close);

		if (end == NULL)
			return fail(error_r, "unbalanced \"%c\" in \"%s\"", cp[1], cp);
		*name_r = start;
		*name_len_r = (size_t)(end - start);
		*total_r = (size_t)(end - cp) + 1;
	} else {
		start = cp + 1;
		size_t n = 0;

		while (isalnum((unsigned char)start[n]) || start[n] == '_')
			n++;
		*name_r = start;
		*name_len_r = n;
		*total_r = n + 1;
	}
	if (*name_len_r == 0)
		return fail(error_r, "empty macro name in \"%s\"", cp);
	return 0;
}

/* needs_rcpt - does the argument use a per-recipient macro? */
static int needs_rcpt(const char *arg, bool *yes_r, const char **error_r)
{
	const char *name;
	size_t len, total;

	*yes_r = false;
	for (const char *cp = arg; (cp = strchr(cp, '$')) != NULL; cp += total) {
		if (cp[1] == '$') {
			total = 2;
			continue;
		}
		if (macro_name(cp, &name, &len, &total, error_r) < 0)
			return -1;
		if (in_list(rcpt_macros, name, len))
			*yes_r = true;
		else if (!in_list(empty_macros, name, len)
			 && !(len == 6 && strncmp(name, "sender", 6) == 0)
			 && !(len == 7 && strncmp(name, "nexthop", 7) == 0)
			 && !(len == 4 && strncmp(name, "size", 4) == 0)
			 && !(len == 8 && strncmp(name, "queue_id", 8) == 0))
			return fail(error_r, "unknown macro \"$%.*s\" in \"%s\"", (int)len, name, arg);
	}
	return 0;
}

/* Per-recipient values, computed once per recipient. */
struct rcpt_values {
	char *recipient, *original_recipient, *user, *extension, *mailbox, *domain;
};

/* fold_address - apply u/h folding to an internal-form address; caller frees */
static char *fold_address(const char *addr, int flags)
{
	char *copy = xstrdup(addr), *at = strrchr(copy, '@');

	if (flags & PIPE_FLAG_FOLD_USER) {
		if (at)
			*at = 0;
		str_lower(copy);
		if (at)
			*at = '@';
	}
	if ((flags & PIPE_FLAG_FOLD_HOST) && at)
		str_lower(at + 1);
	return copy;
}

/* shown_address - folded, then quoted when q is on; caller frees */
static char *shown_address(const char *addr, int flags)
{
	char *folded = fold_address(addr, flags), *quoted;

	if (!(flags & PIPE_FLAG_QUOTE))
		return folded;
	quoted = addr_quote(folded);
	free(folded);
	return quoted;
}

/* rcpt_values_make - the per-recipient macro values of recipient i */
static void rcpt_values_make(const struct pipe_macros *m, size_t i, struct rcpt_values *v)
{
	const char *rcpt = m->rcpt[i];
	const char *orig = m->orig_rcpt && m->orig_rcpt[i] && *m->orig_rcpt[i]
		? m->orig_rcpt[i] : rcpt;
	char *folded = fold_address(rcpt, m->flags), *at = strrchr(folded, '@');
	size_t ext;

	v->recipient = shown_address(rcpt, m->flags);
	v->original_recipient = shown_address(orig, m->flags);
	v->domain = xstrdup(at ? at + 1 : "");
	if (at)
		*at = 0;
	v->mailbox = xstrdup(folded);
	ext = split_addr_ext(folded, m->delimiters);
	v->user = xstrndup(folded, ext);
	v->extension = xstrdup(folded[ext] ? folded + ext + 1 : "");
	free(folded);
}

/* rcpt_values_deinit - release */
static void rcpt_values_deinit(struct rcpt_values *v)
{
	free(v->recipient);
	free(v->original_recipient);
	free(v->user);
	free(v->extension);
	free(v->mailbox);
	free(v->domain);
	memset(v, 0, sizeof(*v));
}

/* macro_value - value of a macro; per-recipient values from v (may be NULL) */
static void macro_value(struct buf *out, const char *name, size_t len,
			const struct pipe_macros *m, const struct rcpt_values *v)
{
	char *tmp;

#define IS(s) (len == sizeof(s) - 1 && strncmp(name, s, len) == 0)
	if (IS("sender")) {
		if (*m->sender == 0) {
			buf_puts(out, m->null_sender ? m->null_sender : "MAILER-DAEMON");
		} else {
			tmp = (m->flags & PIPE_FLAG_QUOTE) ? addr_quote(m->sender) : xstrdup(m->sender);
			buf_puts(out, tmp);
			free(tmp);
		}
	} else if (IS("nexthop")) {
		tmp = xstrdup(m->nexthop ? m->nexthop : "");
		if (m->flags & PIPE_FLAG_FOLD_HOST)
			str_lower(tmp);
		buf_puts(out, tmp);
		free(tmp);
	} else if (IS("size")) {
		buf_printf(out, "%ld", m->size);
	} else if (IS("queue_id")) {
		buf_puts(out, m->queue_id ? m->queue_id : "");
	} else if (v && IS("recipient")) {
		buf_puts(out, v->recipient);
	} else if (v && IS("original_recipient")) {
		buf_puts(out, v->original_recipient);
	} else if (v && IS("user")) {
		buf_puts(out, v->user);
	} else if (v && IS("extension")) {
		buf_puts(out, v->extension);
	} else if (v && IS("mailbox")) {
		buf_puts(out, v->mailbox);
	} else if (v && IS("domain")) {
		buf_puts(out, v->domain);
	}
	/* The client and SASL names expand to nothing. */
#undef IS
}

/* expand_one - one argument with the values of one recipient (or none) */
static void expand_one(const char *arg, const struct pipe_macros *m,
		       const struct rcpt_values *v, struct argv *out)
{
	struct buf b;
	const char *name, *error;
	size_t len, total;

	buf_init(&b, strlen(arg) + 32);
	for (const char *cp = arg; *cp; cp += total) {
		if (*cp != '$') {
			total = strcspn(cp, "$");
			buf_append(&b, cp, total);
			continue;
		}
		if (cp[1] == '$') {
			buf_putc(&b, '$');
			total = 2;
			continue;
		}
		/* Syntax was checked by needs_rcpt(). */
		if (macro_name(cp, &name, &len, &total, &error) < 0)
			break;
		macro_value(&b, name, len, m, v);
	}
	argv_add(out, buf_str(&b), (char *)NULL);
	buf_deinit(&b);
}

/* pipe_argv_expand - the command vector for one request */
int pipe_argv_expand(const struct argv *tmpl, const struct pipe_macros *m, struct argv *out,
		     const char **error_r)
{
	struct rcpt_values *values;
	bool per_rcpt;

	/* Check every argument first: nothing is produced from a bad vector. */
	for (size_t i = 0; i < tmpl->argc; i++)
		if (needs_rcpt(tmpl->argv[i], &per_rcpt, error_r) < 0)
			return -1;

	values = xcalloc(m->rcpt_count ? m->rcpt_count : 1, sizeof(*values));
	for (size_t r = 0; r < m->rcpt_count; r++)
		rcpt_values_make(m, r, &values[r]);
	for (size_t i = 0; i < tmpl->argc; i++) {
		(void)needs_rcpt(tmpl->argv[i], &per_rcpt, error_r);
		if (!per_rcpt) {
			expand_one(tmpl->argv[i], m, NULL, out);
			continue;
		}
		for (size_t r = 0; r < m->rcpt_count; r++)
			expand_one(tmpl->argv[i], m, &values[r], out);
	}
	for (size_t r = 0; r < m->rcpt_count; r++)
		rcpt_values_deinit(&values[r]);
	free(values);
	return 0;
}
