/*
 * mail_conf_expand - where a parameter's value comes from, and $name
 * expansion (part of mail_conf; shared declarations in mail_conf_private.h).
 *
 * Where a name's raw value comes from, first match wins:
 *
 *   1. mail_conf_override() (this process's master.cf -o options)
 *   2. main.cf
 *   3. read-only parameters (process_id, process_name, service_name), and
 *      config_directory, which names the directory actually in use
 *   4. for <service>_<suffix>: the -o options of that master.cf service
 *   5. the table row's default (or computed default: myhostname, mydomain)
 *   6. for <service>_<suffix> of a master.cf service: "$<global name>"
 *
 * Expansion keeps a stack of the names being expanded; meeting one again is
 * a loop, reported at the innermost of them that has a file line, which is
 * the line whose $name closes the loop:
 * "main.cf:4: myhostname: recursive expansion of $myhostname".  Expanded
 * values are cached per configuration (effective and defaults-only apart).
 *
 * A $name substitutes the expanded value of name once; the result is not
 * scanned again, so "$$" in a value stays a literal "$" wherever it goes
 * (Postfix re-scans, which makes a "$$" that was substituted expand later).
 *
 * DIAGNOSTICS: errors are returned as text, never logged.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/mail_conf_private.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"

#define EXPAND_DEPTH	100	/* nesting of $name references */

/* Where a raw value came from. */
struct raw {
	const char *text;	/* the value to expand */
	char *owned;		/* text, when it had to be made */
	const char *file;	/* NULL: not from a file */
	int line;
};

struct frame {
	const char *name;
	const char *file;
	int line;
};

/* One expansion in progress. */
struct expander {
	struct conf *conf;
	bool defaults_only;
	struct frame stack[EXPAND_DEPTH];
	int depth;
	int nesting;		/* expand_text() calls in progress */
	const char *error;	/* first error (conf_error() text) */
};

static char *process_name;	/* mail_conf_set_process() */
static char *service_name;
static char *pid_text;

static const char *expand_get(void *ctx, const char *name);

/* conf_located - "FILE:LINE: NAME: text", or "NAME: text" without a file */
const char *conf_located(const char *file, int line, const char *name, const char *text)
{
	if (file)
		return conf_error("%s:%d: %s: %s", file, line, name, text);
	return conf_error("%s: %s", name, text);
}

/* conf_macro_char - characters of a $name reference (Postfix: letters, digits, _) */
bool conf_macro_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		|| c == '_';
}

/* conf_set_identity - process_name and service_name (NULL: unchanged) */
void conf_set_identity(const char *pname, const char *sname)
{
	if (pname) {
		free(process_name);
		process_name = xstrdup(pname);
	}
	if (sname) {
		free(service_name);
		service_name = xstrdup(sname);
	}
}

/* conf_service_exists - name is a master.cf service */
bool conf_service_exists(struct conf *c, const char *name, size_t len)
{
	for (size_t i = 0; i < c->nents; i++)
		if (strlen(c->ents[i].service) == len && strncmp(c->ents[i].service, name, len) == 0)
			return true;
	return false;
}

/* service_override - "-o name=value" of the service that name's prefix names */
static const char *service_override(struct conf *c, const char *name, size_t len, int *line_r)
{
	const char *v;

	for (size_t i = 0; i < c->nents; i++) {
		if (strlen(c->ents[i].service) != len || strncmp(c->ents[i].service, name, len) != 0)
			continue;
		if ((v = master_ent_override(&c->ents[i], name)) != NULL) {
			*line_r = c->ents[i].line;
			return v;
		}
	}
	return NULL;
}

/* raw_lookup - where name's value comes from (see the module comment) */
static bool raw_lookup(struct expander *x, const char *name, struct raw *r)
{
	struct conf *c = x->conf;
	const struct param_def *row = params_find(name), *split;
	struct conf_entry *e;
	size_t tlen = 0;

	memset(r, 0, sizeof(*r));
	split = params_split_transport(name, &tlen);
	if (split == row)
		split = NULL;	/* default_destination_... is itself, not a "default" transport */

	if (!x->defaults_only) {
		if ((e = htable_find(c->overrides, name)) != NULL) {
			r->text = e->raw;
			return true;
		}
		if ((e = htable_find(c->main_cf, name)) != NULL) {
			r->text = e->raw;
			r->file = c->main_path;
			r->line = e->line;
			return true;
		}
	}
	if (row && (row->flags & PARAM_F_READONLY)) {
		if (strcmp(name, "process_id") == 0) {
			if (pid_text == NULL)
				pid_text = xasprintf("%ld", (long)getpid());
			r->text = pid_text;
		} else if (strcmp(name, "process_name") == 0) {
			r->text = process_name ? process_name : log_progname();
		} else {
			r->text = service_name ? service_name : "";
		}
		return true;
	}
	if (row && strcmp(name, "config_directory") == 0 && !x->defaults_only && c->dir) {
		r->text = c->dir;
		return true;
	}
	if (split && !x->defaults_only
	    && (r->text = service_override(c, name, tlen, &r->line)) != NULL) {
		r->file = c->master_path;
		return true;
	}
	if (row) {
		if (row->def_fn) {
			r->owned = row->def_fn(expand_get, x);
			if (r->owned == NULL)
				return false;	/* x->error says why */
			r->text = r->owned;
		} else {
			r->text = row->def ? row->def : "";
		}
		return true;
	}
	if (split && conf_service_exists(c, name, tlen)) {
		r->owned = xasprintf("$%s", split->name);
		r->text = r->owned;
		return true;
	}
	return false;
}

/* expand_fail - record an error at the innermost frame */
static int expand_fail(struct expander *x, const char *text)
{
	struct frame *f = &x->stack[x->depth - 1];

	if (x->error == NULL)
		x->error = conf_located(f->file, f->line, f->name, text);
	return -1;
}

static const char *lookup(struct expander *x, const char *name);
static int expand_text(struct expander *x, const char *text, struct buf *out);
static int expand_text_body(struct expander *x, const char *text, struct buf *out);

/* expand_copy - expand n bytes of text (a substring) into out */
static int expand_copy(struct expander *x, const char *text, size_t n, struct buf *out)
{
	char *copy = xstrndup(text, n);
	int rc = expand_text(x, copy, out);

	free(copy);
	return rc;
}

/* group_end - end of a { ... } group starting at s, or NULL */
static const char *group_end(const char *s)
{
	int depth = 0;

	for (; *s; s++) {
		if (*s == '{')
			depth++;
		else if (*s == '}' && --depth == 0)
			return s;
	}
	return NULL;
}

/* expand_group - expand "{text}" trimmed */
static int expand_group(struct expander *x, const char *open, const char *close,
			struct buf *out)
{
	const char *s = open + 1, *e = close;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return expand_copy(x, s, (size_t)(e - s), out);
}

/* expand_conditional - ${name?text}, ${name:text}, ${name?{t}:{f}} */
static int expand_conditional(struct expander *x, const char *value, char op,
			      const char *body, struct buf *out)
{
	bool set = value != NULL && *value != 0;
	const char *t_end, *f_open, *f_end;

	if (op == ':')
		return set ? 0 : expand_text(x, body, out);
	if (*body != '{')
		return set ? expand_text(x, body, out) : 0;

	/* Postfix 3.0 form: ${name?{when set}:{when not set}} */
	if ((t_end = group_end(body)) == NULL)
		return expand_fail(x, "missing '}' in ${name?{text}:{text}}");
	f_open = t_end + 1;
	while (*f_open == ' ' || *f_open == '\t')
		f_open++;
	if (*f_open == 0)
		return set ? expand_group(x, body, t_end, out) : 0;
	if (*f_open != ':')
		return expand_fail(x, "bad ${name?{text}:{text}} syntax");
	f_open++;
	while (*f_open == ' ' || *f_open == '\t')
		f_open++;
	if (*f_open != '{' || (f_end = group_end(f_open)) == NULL || f_end[1 + strspn(f_end + 1, " \t")])
		return expand_fail(x, "bad ${name?{text}:{text}} syntax");
	return set ? expand_group(x, body, t_end, out) : expand_group(x, f_open, f_end, out);
}

/* expand_text - expand text into out, with a bound on nesting */
static int expand_text(struct expander *x, const char *text, struct buf *out)
{
	int rc;

	/* ${a?${b?...}} nests without naming new parameters; bound it too. */
	if (x->nesting >= 2 * EXPAND_DEPTH)
		return expand_fail(x, "parameter expansion nested too deeply");
	x->nesting++;
	rc = expand_text_body(x, text, out);
	x->nesting--;
	return rc;
}

/* expand_text_body - expand every $ reference of text into out */
static int expand_text_body(struct expander *x, const char *text, struct buf *out)
{
	const char *cp = text, *v;

	while (*cp) {
		if (*cp != '$') {
			size_t n = strcspn(cp, "$");

			buf_append(out, cp, n);
			cp += n;
			continue;
		}
		cp++;
		if (*cp == '$') {
			buf_putc(out, '$');
			cp++;
		} else if (*cp == '{' || *cp == '(') {
			char open = *cp, close = open == '{' ? '}' : ')';
			const char *start = cp + 1, *end = start, *after;
			int depth = 1;
			char *name;
			int rc = 0;

			for (; *end; end++) {
				if (*end == open)
					depth++;
				else if (*end == close && --depth == 0)
					break;
			}
			if (*end == 0)
				return expand_fail(x, "truncated macro reference");
			for (after = start; after < end && conf_macro_char(*after); after++)
				;
			if (after == start)
				return expand_fail(x, "empty macro name");
			name = xstrndup(start, (size_t)(after - start));
			v = lookup(x, name);
			if (x->error) {
				rc = -1;
			} else if (after == end) {
				if (v)
					buf_puts(out, v);
			} else if (*after == '?' || *after == ':') {
				char *body = xstrndup(after + 1, (size_t)(end - after - 1));

				rc = expand_conditional(x, v, *after, body, out);
				free(body);
			} else {
				rc = expand_fail(x, "bad macro syntax after the parameter name");
			}
			free(name);
			if (rc < 0)
				return -1;
			cp = end + 1;
		} else if (conf_macro_char(*cp)) {
			const char *start = cp;
			char *name;

			while (conf_macro_char(*cp))
				cp++;
			name = xstrndup(start, (size_t)(cp - start));
			v = lookup(x, name);
			free(name);
			if (x->error)
				return -1;
			if (v)
				buf_puts(out, v);
		} else {
			return expand_fail(x, "empty macro name");
		}
	}
	return 0;
}

/* lookup - expanded value of name (cached), NULL if undefined or error */
static const char *lookup(struct expander *x, const char *name)
{
	struct htable *cache = x->defaults_only ? x->conf->dcache : x->conf->cache;
	struct raw r;
	struct buf *out;
	char *value;
	int i;

	if ((value = htable_find(cache, name)) != NULL)
		return value;

	/* A name that is being expanded already closes a loop. */
	for (i = 0; i < x->depth; i++) {
		if (strcmp(x->stack[i].name, name) == 0) {
			char *text = xasprintf("recursive expansion of $%s", name);
			int j;

			for (j = x->depth - 1; j > 0 && x->stack[j].file == NULL; j--)
				;
			if (x->error == NULL)
				x->error = conf_located(x->stack[j].file, x->stack[j].line,
						   x->stack[j].name, text);
			free(text);
			return NULL;
		}
	}
	if (x->depth >= EXPAND_DEPTH) {
		expand_fail(x, "parameter expansion nested too deeply");
		return NULL;
	}

	/* Push before raw_lookup: a computed default may look up others. */
	x->stack[x->depth].name = name;
	x->stack[x->depth].file = NULL;
	x->stack[x->depth].line = 0;
	x->depth++;
	if (!raw_lookup(x, name, &r)) {
		x->depth--;
		return NULL;
	}
	x->stack[x->depth - 1].file = r.file;
	x->stack[x->depth - 1].line = r.line;
	out = buf_create(64);
	i = expand_text(x, r.text, out);
	x->depth--;
	free(r.owned);
	if (i < 0) {
		buf_free(&out);
		return NULL;
	}
	value = buf_steal(out);
	buf_free(&out);
	htable_enter(cache, name, value);
	return value;
}

/* expand_get - param_get_fn for computed defaults */
static const char *expand_get(void *ctx, const char *name)
{
	return lookup((struct expander *)ctx, name);
}

/* conf_get - expanded value of name */
const char *conf_get(struct conf *c, bool defaults_only, const char *name, const char **error_r)
{
	struct expander x;
	const char *v;

	memset(&x, 0, sizeof(x));
	x.conf = c;
	x.defaults_only = defaults_only;
	v = lookup(&x, name);
	*error_r = x.error;
	return x.error ? NULL : v;
}

/* conf_origin - file and line where name's effective value comes from */
void conf_origin(struct conf *c, const char *name, const char **file_r, int *line_r)
{
	struct expander x;
	struct raw r;
	const struct param_def *row = params_find(name);

	memset(&x, 0, sizeof(x));
	x.conf = c;
	*file_r = NULL;
	*line_r = 0;
	/* Computed defaults have no location; do not compute them again. */
	if (row && row->def_fn && htable_find(c->main_cf, name) == NULL
	    && htable_find(c->overrides, name) == NULL)
		return;
	if (raw_lookup(&x, name, &r)) {
		*file_r = r.file;
		*line_r = r.line;
		free(r.owned);
	}
}

/* conf_expand - expand text as the value of name from file:line */
int conf_expand(struct conf *c, const char *name, const char *file, int line,
		const char *text, struct buf *out, const char **error_r)
{
	struct expander x;

	memset(&x, 0, sizeof(x));
	x.conf = c;
	x.stack[0].name = name;
	x.stack[0].file = file;
	x.stack[0].line = line;
	x.depth = 1;
	if (expand_text(&x, text, out) < 0) {
		*error_r = x.error;
		return -1;
	}
	return 0;
}
