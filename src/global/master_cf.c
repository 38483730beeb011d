/*
 * master_cf - parse and print master.cf (contract in master_cf.h).
 *
 * Parsing is strict: a field with a bad value, a short line, an unbalanced
 * "{", an "-o" without name=value or a service defined twice (same name and
 * type) is an error "FILE:LINE: what is wrong", and nothing is returned.
 * master would otherwise run a service table other than the one written.
 *
 * The fields private..maxproc are kept as written next to their meaning, so
 * that "sluice config -M" prints "-" where the file says "-" (as postconf -M
 * does) and the built-in default prints exactly as it is written here.
 *
 * DIAGNOSTICS: errors are returned (borrowed until the next call); nothing is
 * logged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/conf_line.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

/* Field order as Postfix: service type private unpriv chroot wakeup maxproc command. */
const char master_cf_default[] =
	"pickup    fifo  n       -       n       60      1       pickup\n"
	"qmgr      fifo  n       -       n       300     1       qmgr\n"
	"bounce    unix  -       -       n       -       0       bounce\n"
	"defer     unix  -       -       n       -       0       bounce\n"
	"trace     unix  -       -       n       -       0       bounce\n"
	"smtp      unix  -       -       n       -       -       smtp\n"
	"relay     unix  -       -       n       -       -       smtp\n"
	"lmtp      unix  -       -       n       -       -       lmtp\n"
	"local     unix  -       n       n       -       -       local\n"
	"discard   unix  -       -       n       -       -       discard\n"
	"error     unix  -       -       n       -       -       error\n"
	"retry     unix  -       -       n       -       -       error\n"
	"showq     unix  n       -       n       -       -       showq\n"
	"anvil     unix  -       -       n       -       1       anvil\n"
	/* SMTP to try at once, on loopback only (docs/SMTPD.md). */
	"127.0.0.1:2525 inet n   -       n       -       -       smtpd\n";

/* Services that are off unless written into master.cf ("sluice config -M"
 * prints them after the built-in ones, commented out). */
const char master_cf_default_examples[] =
	"# Prometheus metrics over HTTP (docs/OBSERVABILITY.md):\n"
	"#127.0.0.1:9732 inet n   -       n       -       1       metrics\n";

#define FIELD_COUNT 8		/* service .. command */

/* One word of a logical line; "grouped" when it was written as { ... }. */
struct token {
	char *text;
	bool grouped;
};

struct tokens {
	struct token *v;
	size_t n, cap;
};

static char err_buf[1024];

/* fail - format the error text for the caller */
static int fail(const char **error_r, const char *path, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(const char **error_r, const char *path, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err_buf, sizeof(err_buf), "%s:%d: ", path, line);
	va_start(ap, fmt);
	vsnprintf(err_buf + n, sizeof(err_buf) - (size_t)n, fmt, ap);
	va_end(ap);
	*error_r = err_buf;
	return -1;
}

/* tokens_add - append one word */
static void tokens_add(struct tokens *t, const char *s, size_t len, bool grouped)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n].text = xstrndup(s, len);
	t->v[t->n].grouped = grouped;
	t->n++;
}

/* tokens_deinit - release words */
static void tokens_deinit(struct tokens *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].text);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

/* tokenize - split a logical line into words and { grouped text } */
static int tokenize(const char *cp, struct tokens *t, const char **why_r)
{
	const char *start, *end;
	int depth;

	for (;;) {
		cp += strspn(cp, " \t");
		if (*cp == 0)
			return 0;
		if (*cp != '{') {
			start = cp;
			cp += strcspn(cp, " \t");
			tokens_add(t, start, (size_t)(cp - start), false);
			continue;
		}

		/* A group runs to the matching "}" and loses its outer white space. */
		for (depth = 0, end = cp; *end; end++) {
			if (*end == '{')
				depth++;
			else if (*end == '}' && --depth == 0)
				break;
		}
		if (*end == 0) {
			*why_r = "missing '}'";
			return -1;
		}
		if (end[1] != 0 && end[1] != ' ' && end[1] != '\t') {
			*why_r = "text after '}' without white space";
			return -1;
		}
		start = cp + 1;
		cp = end + 1;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		tokens_add(t, start, (size_t)(end - start), true);
	}
}

/* parse_yn - y/n/- field */
static int parse_yn(const char *text, bool def, bool *value_r)
{
	if (strcmp(text, "-") == 0)
		*value_r = def;
	else if (strcmp(text, "y") == 0)
		*value_r = true;
	else if (strcmp(text, "n") == 0)
		*value_r = false;
	else
		return -1;
	return 0;
}

/* default_maxproc - what maxproc "-" means right now */
static long default_maxproc(void)
{
	return var_default_process_limit > 0 ? var_default_process_limit : 100;
}

/* ent_deinit - release one entry's storage */
static void ent_deinit(struct master_ent *e)
{
	free(e->service);
	free(e->type);
	free(e->command);
	argv_free(&e->args);
	argv_free(&e->overrides);
	for (size_t i = 0; i < 5; i++)
		free(e->fields[i]);
}

/* add_override - normalise "name = value" and record it */
static int add_override(struct master_ent *e, const char *nv, const char **why_r)
{
	const char *eq = strchr(nv, '=');
	char *name_copy, *value_copy, *name, *pair;

	if (eq == NULL) {
		*why_r = "-o option without name=value";
		return -1;
	}
	/* str_trim() returns a pointer into its argument; free the copies. */
	name_copy = xstrndup(nv, (size_t)(eq - nv));
	value_copy = xstrdup(eq + 1);
	name = str_trim(name_copy);
	pair = *name ? xasprintf("%s=%s", name, str_trim(value_copy)) : NULL;
	free(name_copy);
	free(value_copy);
	if (pair == NULL) {
		*why_r = "-o option without parameter name";
		return -1;
	}
	argv_add(e->overrides, pair, (char *)NULL);
	argv_add(e->args, "-o", pair, (char *)NULL);
	free(pair);
	return 0;
}

/* parse_entry - one logical line into *e */
static int parse_entry(const char *path, int line, struct tokens *t, struct master_ent *e,
		       const char **error_r)
{
	static const char *const types[] = {"unix", "fifo", "inet", "pass", "unix-dgram", NULL};
	static const char *const yn_names[] = {"private", "unpriv", "chroot"};
	static const bool yn_defaults[] = {true, true, false};
	bool *yn_vars[] = {&e->private_, &e->unpriv, &e->chroot};
	const char *why = NULL;
	const char *const *tp;
	char *text, *end;
	size_t i;

	memset(e, 0, sizeof(*e));
	e->line = line;
	e->args = argv_create();
	e->overrides = argv_create();
	if (t->n < FIELD_COUNT)
		return fail(error_r, path, line, "missing fields (need service, type, private, "
			    "unpriv, chroot, wakeup, maxproc and command)");
	e->service = xstrdup(t->v[0].text);
	e->type = xstrdup(t->v[1].text);
	for (i = 0; i < 5; i++)
		e->fields[i] = xstrdup(t->v[2 + i].text);
	e->command = xstrdup(t->v[7].text);
	if (*e->service == 0)
		return fail(error_r, path, line, "empty service name");
	/* Only the command's arguments are grouped (fuzz finding F21). */
	for (i = 0; i < 7; i++)
		if (t->v[i].grouped)
			return fail(error_r, path, line, "field %zu \"{%s}\": only command "
				    "arguments may be grouped with { }", i + 1, t->v[i].text);
	/* The command is a program name: one plain word. */
	if (t->v[7].grouped || *e->command == 0 || strpbrk(e->command, " \t\r\n{}") != NULL)
		return fail(error_r, path, line, "command \"%s\" is not a program name",
			    e->command);

	for (tp = types; *tp && strcmp(*tp, e->type) != 0; tp++)
		;
	if (*tp == NULL)
		return fail(error_r, path, line, "bad service type \"%s\" "
			    "(must be unix, fifo, inet, pass or unix-dgram)", e->type);
	for (i = 0; i < 3; i++)
		if (parse_yn(e->fields[i], yn_defaults[i], yn_vars[i]) < 0)
			return fail(error_r, path, line, "bad %s field \"%s\" (must be y, n or -)",
				    yn_names[i], e->fields[i]);

	/* wakeup: "-", N or N? */
	text = e->fields[3];
	if (strcmp(text, "-") != 0) {
		long n;
		size_t len = strlen(text);

		if (len > 1 && text[len - 1] == '?') {
			e->wakeup_if_used = true;
			len--;
		}
		errno = 0;
		n = strtol(text, &end, 10);
		if (len == 0 || text[0] < '0' || text[0] > '9' || end != text + len
		    || errno != 0 || n > 1000000000L)
			return fail(error_r, path, line, "bad wakeup time \"%s\" "
				    "(must be N, N? or -)", text);
		e->wakeup = (int)n;
	}

	/* maxproc: "-" or a count, 0 = unlimited */
	text = e->fields[4];
	if (strcmp(text, "-") == 0)
		e->maxproc = default_maxproc();
	else if (!str_is_digits(text) || str_to_long(text, 0, 1000000000L, &e->maxproc) < 0)
		return fail(error_r, path, line, "bad process limit \"%s\" (must be a number or -)",
			    text);

	/* Arguments, with -o options normalised and recorded. */
	for (i = FIELD_COUNT; i < t->n; i++) {
		const struct token *tok = &t->v[i];

		if (!tok->grouped && strcmp(tok->text, "-o") == 0) {
			if (i + 1 >= t->n)
				return fail(error_r, path, line, "-o option without name=value");
			if (add_override(e, t->v[++i].text, &why) < 0)
				return fail(error_r, path, line, "%s", why);
		} else if (!tok->grouped && strncmp(tok->text, "-o", 2) == 0) {
			if (add_override(e, tok->text + 2, &why) < 0)
				return fail(error_r, path, line, "%s", why);
		} else {
			argv_add(e->args, tok->text, (char *)NULL);
		}
	}
	return 0;
}

/* master_cf_parse - text to entries */
int master_cf_parse(const char *path, const char *text, struct master_ent **ents_r,
		    size_t *count_r, const char **error_r)
{
	struct conf_line_reader r;
	struct buf *line = buf_create(256);
	struct master_ent *ents = NULL;
	struct tokens t = {NULL, 0, 0};
	size_t count = 0, cap = 0;
	const char *why;
	int lineno, rc, status = 0;

	conf_line_init(&r, text);
	while ((rc = conf_line_next(&r, line, &lineno)) != 0) {
		if (rc < 0) {
			status = fail(error_r, path, lineno, "line starts with white space, "
				      "but there is no entry to continue");
			break;
		}
		tokens_deinit(&t);
		if (tokenize(buf_str(line), &t, &why) < 0) {
			status = fail(error_r, path, lineno, "%s", why);
			break;
		}
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			ents = xreallocarray(ents, cap, sizeof(*ents));
		}
		if (parse_entry(path, lineno, &t, &ents[count], error_r) < 0) {
			ent_deinit(&ents[count]);
			status = -1;
			break;
		}
		count++;
		for (size_t i = 0; i + 1 < count; i++) {
			if (strcmp(ents[i].service, ents[count - 1].service) == 0
			    && strcmp(ents[i].type, ents[count - 1].type) == 0) {
				status = fail(error_r, path, lineno, "duplicate service \"%s\" type "
					      "%s (also at line %d)", ents[i].service,
					      ents[i].type, ents[i].line);
				break;
			}
		}
		if (status < 0)
			break;
	}
	tokens_deinit(&t);
	buf_free(&line);
	if (status < 0) {
		master_cf_free(&ents, count);
		return -1;
	}
	*ents_r = ents;
	*count_r = count;
	return 0;
}

/* master_cf_read - file or built-in default */
int master_cf_read(const char *config_dir, struct master_ent **ents_r, size_t *count_r,
		   const char **error_r)
{
	char *path, *text = NULL;
	int rc;

	if (config_dir == NULL)
		return master_cf_parse("master.cf", master_cf_default, ents_r, count_r, error_r);
	path = xasprintf("%s/master.cf", config_dir);
	if (conf_file_read(path, &text) < 0) {
		if (errno == ENOENT) {
			rc = master_cf_parse(path, master_cf_default, ents_r, count_r, error_r);
		} else {
			snprintf(err_buf, sizeof(err_buf), "open %s: %s", path, strerror(errno));
			*error_r = err_buf;
			rc = -1;
		}
	} else {
		rc = master_cf_parse(path, text, ents_r, count_r, error_r);
	}
	free(text);
	free(path);
	return rc;
}

/* master_cf_free - release entries */
void master_cf_free(struct master_ent **ents_p, size_t count)
{
	if (*ents_p == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		ent_deinit(&(*ents_p)[i]);
	free(*ents_p);
	*ents_p = NULL;
}

/* master_cf_find - lookup by service name (and type) */
const struct master_ent *master_cf_find(const struct master_ent *ents, size_t count,
					const char *service, const char *type)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(ents[i].service, service) == 0
		    && (type == NULL || strcmp(ents[i].type, type) == 0))
			return &ents[i];
	return NULL;
}

/* master_ent_override - value of one -o option */
const char *master_ent_override(const struct master_ent *ent, const char *name)
{
	size_t len = strlen(name);
	const char *found = NULL;

	/* Later -o options win, as they would on a command line. */
	for (size_t i = 0; i < ent->overrides->argc; i++) {
		const char *nv = ent->overrides->argv[i];

		if (strncmp(nv, name, len) == 0 && nv[len] == '=')
			found = nv + len + 1;
	}
	return found;
}

/* pad_to - white space up to column col, at least one space */
static void pad_to(struct buf *out, size_t line_start, size_t col)
{
	size_t at = buf_len(out) - line_start;

	do {
		buf_putc(out, ' ');
		at++;
	} while (at < col);
}

/*
 * group_ok - would "{text}" read back as text?  Inside a group braces
 * nest, so a '}' without its '{' would end the group early.
 */
static bool group_ok(const char *text)
{
	long depth = 0;

	for (; *text; text++) {
		if (*text == '{')
			depth++;
		else if (*text == '}' && --depth < 0)
			return false;
	}
	return depth == 0;
}

/*
 * put_word - one argument so that the tokenizer reads it back: in braces
 * when a bare word would read differently (empty, white space inside, a
 * leading '{', configuration white space at the end that the line reader
 * would trim, or forced), bare otherwise.  A bare word may hold braces
 * that do not balance; such a word never needs the braces (it was itself
 * read as a bare word, so it has no white space and does not end a line
 * with white space).
 */
static void put_word(struct buf *out, const char *arg, bool force)
{
	size_t n = strlen(arg);
	bool need = force || n == 0 || strpbrk(arg, " \t\n") != NULL || arg[0] == '{'
		    || strchr("\r\f\v", arg[n - 1]) != NULL;

	if (need && group_ok(arg))
		buf_printf(out, "{%s}", arg);
	else
		buf_puts(out, arg);
}

/* master_cf_print - one line per entry, Postfix layout */
void master_cf_print(struct buf *out, const struct master_ent *ents, size_t count)
{
	/* Columns of type, private, unpriv, chroot, wakeup, maxproc, command. */
	static const size_t cols[] = {10, 16, 24, 32, 40, 48, 56};

	for (size_t i = 0; i < count; i++) {
		const struct master_ent *e = &ents[i];
		size_t start = buf_len(out);
		const char *fields[7] = {e->type, e->fields[0], e->fields[1], e->fields[2],
					 e->fields[3], e->fields[4], e->command};

		buf_puts(out, e->service);
		for (size_t f = 0; f < 7; f++) {
			pad_to(out, start, cols[f]);
			buf_puts(out, fields[f]);
		}
		size_t ov = 0;		/* the next option in e->overrides */

		for (size_t a = 0; a < e->args->argc; a++) {
			const char *arg = e->args->argv[a];
			/*
			 * "-o" starts an option when the next override is what
			 * follows it; any other "-o" was written grouped.  (Of
			 * equal "-o X" pairs it does not matter which one was.)
			 */
			bool dash_o_plain = strcmp(arg, "-o") == 0 && !(a + 1 < e->args->argc
				&& ov < e->overrides->argc
				&& strcmp(e->args->argv[a + 1], e->overrides->argv[ov]) == 0);
			/* So was a plain "-oX...": bare, it would be the option -o X... */
			bool dash_o_joined = strncmp(arg, "-o", 2) == 0 && arg[2] != 0;

			buf_putc(out, ' ');
			put_word(out, arg, dash_o_plain || dash_o_joined);
			/* An option's value goes with it. */
			if (strcmp(arg, "-o") == 0 && !dash_o_plain) {
				const char *value = e->args->argv[++a];

				ov++;
				/*
				 * A value starting with an unbalanced '{' reads back
				 * only joined, "-o{x", as it was written (fuzz
				 * finding F20): bare it opens a group, and no group
				 * holds it.
				 */
				if (value[0] != '{' || group_ok(value))
					buf_putc(out, ' ');
				if (value[0] == '{' && !group_ok(value))
					buf_puts(out, value);
				else
					put_word(out, value, false);
			}
		}
		buf_putc(out, '\n');
	}
}
