/*
 * mail_conf - read main.cf, expand and check every parameter, answer
 * look-ups (contract in mail_conf.h).
 *
 * Model: a loaded configuration (struct conf) keeps the raw text of every
 * main.cf line and -o override, and expands names on demand into a cache
 * (mail_conf_expand.c says where values come from and how $name works).
 * Values are checked against the table when the file is read (all of them,
 * including per-transport names and -o values), so later look-ups cannot
 * fail.
 *
 * Reading builds a new struct conf and installs it only when everything
 * checked out: a failed reload leaves the running configuration intact.
 *
 * DIAGNOSTICS: errors are returned (text borrowed until the next call).
 * Unknown parameters are logged as "FILE:LINE: warning: unknown parameter
 * "NAME"" through msg_info(), compiler style, so that the location leads.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/conf_line.h"
#include "global/mail_conf.h"
#include "global/mail_conf_private.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"

static struct conf *current;	/* the configuration in force */
static struct buf *err_buf;	/* text of the last error */

/* conf_error - format the module's error text */
const char *conf_error(const char *fmt, ...)
{
	va_list ap;

	if (err_buf == NULL)
		err_buf = buf_create(256);
	buf_reset(err_buf);
	va_start(ap, fmt);
	buf_vprintf(err_buf, fmt, ap);
	va_end(ap);
	return buf_str(err_buf);
}

/* entry_free - htable value destructor */
static void entry_free(void *p)
{
	struct conf_entry *e = p;

	free(e->raw);
	free(e);
}

/* conf_name_ok - parameter name syntax */
bool conf_name_ok(const char *name)
{
	if (*name == 0)
		return false;
	for (const char *cp = name; *cp; cp++)
		if (!((*cp >= 'a' && *cp <= 'z') || (*cp >= 'A' && *cp <= 'Z')
		      || (*cp >= '0' && *cp <= '9') || *cp == '_' || *cp == '-'))
			return false;
	return true;
}

/* conf_create - empty configuration */
struct conf *conf_create(const char *dir)
{
	struct conf *c = xcalloc(1, sizeof(*c));

	c->dir = dir ? xstrdup(dir) : NULL;
	c->main_path = dir ? xasprintf("%s/main.cf", dir) : xstrdup("main.cf");
	c->master_path = dir ? xasprintf("%s/master.cf", dir) : xstrdup("master.cf");
	c->main_cf = htable_create(64);
	c->overrides = htable_create(16);
	c->cache = htable_create(256);
	c->dcache = htable_create(256);
	c->texts = htable_create(16);
	return c;
}

/* cache_clear - forget expanded values (after any change of raw values) */
static void cache_clear(struct conf *c)
{
	htable_free(&c->cache, free);
	htable_free(&c->dcache, free);
	htable_free(&c->texts, free);
	c->cache = htable_create(256);
	c->dcache = htable_create(256);
	c->texts = htable_create(16);
}

/* conf_free - release everything */
void conf_free(struct conf **cp)
{
	struct conf *c = *cp;

	if (c == NULL)
		return;
	free(c->dir);
	free(c->main_path);
	free(c->master_path);
	htable_free(&c->main_cf, entry_free);
	htable_free(&c->overrides, entry_free);
	htable_free(&c->cache, free);
	htable_free(&c->dcache, free);
	htable_free(&c->texts, free);
	master_cf_free(&c->ents, c->nents);
	free(c);
	*cp = NULL;
}

/* keep_text - store a string handed out under key; returns the stored copy */
static const char *keep_text(struct conf *c, const char *key, char *owned)
{
	char *old = htable_delete(c->texts, key);

	free(old);
	htable_enter(c->texts, key, owned);
	return owned;
}

/* check_row - expand name and convert it with row */
static int check_row(struct conf *c, const struct param_def *row, const char *name,
		     union param_value *value_r, const char **text_r, const char **error_r)
{
	const char *v, *why, *file;
	int line;

	v = conf_get(c, false, name, error_r);
	if (*error_r)
		return -1;
	if (v == NULL)
		v = "";
	if (params_convert(row, v, value_r, &why) < 0) {
		conf_origin(c, name, &file, &line);
		*error_r = conf_located(file, line, name, why);
		return -1;
	}
	if (text_r)
		*text_r = v;
	return 0;
}

/* conf_check - one name, expanded and checked */
int conf_check(struct conf *c, const char *name, const char **error_r)
{
	const struct param_def *row = params_find(name);
	union param_value val;
	size_t tlen;

	if (row == NULL)
		row = params_split_transport(name, &tlen);
	if (row)
		return check_row(c, row, name, &val, NULL, error_r);
	conf_get(c, false, name, error_r);
	return *error_r ? -1 : 0;
}

/* check_override - one master.cf "-o name=value", expanded and checked */
static int check_override(struct conf *c, const struct master_ent *ent, const char *nv,
			  const char **error_r)
{
	const char *eq = strchr(nv, '=');
	char *name = xstrndup(nv, (size_t)(eq - nv));
	const struct param_def *row = params_find(name);
	struct buf *out = buf_create(64);
	union param_value val;
	const char *why;
	size_t tlen;
	int rc = 0;

	if (row == NULL)
		row = params_split_transport(name, &tlen);
	if (row && (row->flags & PARAM_F_READONLY)) {
		*error_r = conf_located(c->master_path, ent->line, name, "read-only parameter");
		rc = -1;
	} else if (conf_expand(c, name, c->master_path, ent->line, eq + 1, out, error_r) < 0) {
		rc = -1;
	} else if (row && params_convert(row, buf_str(out), &val, &why) < 0) {
		*error_r = conf_located(c->master_path, ent->line, name, why);
		rc = -1;
	}
	buf_free(&out);
	free(name);
	return rc;
}

/* add_ref - remember one $name */
static void add_ref(struct htable *refs, const char *s, size_t n)
{
	char *name = xstrndup(s, n);

	if (htable_find(refs, name) == NULL)
		htable_enter(refs, name, (void *)1);
	free(name);
}

/* scan_refs - every $name, ${name...}, $(name...) in text */
static void scan_refs(struct htable *refs, const char *text)
{
	const char *cp = text, *start;

	while ((cp = strchr(cp, '$')) != NULL) {
		cp++;
		if (*cp == '$') {
			cp++;
			continue;
		}
		if (*cp == '{' || *cp == '(')
			cp++;
		for (start = cp; conf_macro_char(*cp); cp++)
			;
		if (cp > start)
			add_ref(refs, start, (size_t)(cp - start));
	}
}

/* conf_collect_refs - names that some value refers to */
struct htable *conf_collect_refs(struct conf *c)
{
	struct htable *refs = htable_create(64);
	struct htable *tables[] = {c->main_cf, c->overrides};
	struct htable_info **list;
	size_t n;

	for (size_t t = 0; t < 2; t++) {
		list = htable_list(tables[t], &n);
		for (size_t i = 0; i < n; i++)
			scan_refs(refs, ((struct conf_entry *)list[i]->value)->raw);
		free(list);
	}
	for (size_t i = 0; i < c->nents; i++)
		for (size_t j = 0; j < c->ents[i].overrides->argc; j++)
			scan_refs(refs, c->ents[i].overrides->argv[j]);
	return refs;
}

/* conf_is_known - not worth an "unknown parameter" warning */
bool conf_is_known(struct conf *c, const char *name, struct htable *refs)
{
	size_t tlen;

	if (params_find(name))
		return true;
	if (params_split_transport(name, &tlen) && conf_service_exists(c, name, tlen))
		return true;
	return refs && htable_find(refs, name) != NULL;
}

/* by_line - order main.cf entries by line for stable warnings */
static int by_line(const void *a, const void *b)
{
	const struct htable_info *const *ia = a, *const *ib = b;
	const struct conf_entry *ea = (*ia)->value, *eb = (*ib)->value;

	return ea->line - eb->line;
}

/* param_row_of - the row of NAME, itself or as <transport>_<suffix> */
static const struct param_def *param_row_of(const char *name)
{
	const struct param_def *row = params_find(name);
	size_t tlen;

	return row ? row : params_split_transport(name, &tlen);
}

/*
 * warn_unacted - a setting that sluice accepts and does not act on says so
 * (params.h: PARAM_F_OBSOLETE, PARAM_F_UNSUPPORTED).
 */
static void warn_unacted(const char *path, int line, const char *name)
{
	const struct param_def *row = param_row_of(name);

	if (row == NULL)
		return;
	if (row->flags & PARAM_F_OBSOLETE)
		msg_info("%s:%d: warning: obsolete parameter \"%s\" is ignored", path, line, name);
	else if (row->flags & PARAM_F_UNSUPPORTED)
		msg_info("%s:%d: warning: parameter \"%s\" has no effect: %s", path, line, name,
			 row->unsupported ? row->unsupported : "not implemented by sluice");
}

/* warn_unknown - the "unknown parameter" and "has no effect" warnings */
static void warn_unknown(struct conf *c)
{
	struct htable *refs = conf_collect_refs(c);
	struct htable_info **list;
	size_t n;

	list = htable_list(c->main_cf, &n);
	qsort(list, n, sizeof(*list), by_line);
	for (size_t i = 0; i < n; i++)
		if (!conf_is_known(c, list[i]->key, refs))
			msg_info("%s:%d: warning: unknown parameter \"%s\"", c->main_path,
				 ((struct conf_entry *)list[i]->value)->line, list[i]->key);
		else
			warn_unacted(c->main_path, ((struct conf_entry *)list[i]->value)->line,
				     list[i]->key);
	free(list);
	for (size_t i = 0; i < c->nents; i++) {
		for (size_t j = 0; j < c->ents[i].overrides->argc; j++) {
			const char *nv = c->ents[i].overrides->argv[j];
			char *name = xstrndup(nv, strcspn(nv, "="));

			if (!conf_is_known(c, name, refs))
				msg_info("%s:%d: warning: unknown parameter \"%s\"",
					 c->master_path, c->ents[i].line, name);
			else
				warn_unacted(c->master_path, c->ents[i].line, name);
			free(name);
		}
	}
	htable_free(&refs, NULL);
}

/*
 * conf_evaluate - expand and check everything; with assign, set the var_*
 * variables from c.  Nothing is assigned unless every check passed.
 */
int conf_evaluate(struct conf *c, bool warn, bool assign, const char **error_r)
{
	const struct param_def *table;
	size_t count, n;
	union param_value *vals;
	const char **texts;
	struct htable_info **list;
	int rc = -1;

	table = params_table(&count);
	vals = xcalloc(count, sizeof(*vals));
	texts = xcalloc(count, sizeof(*texts));

	/* Every parameter of the table, including the ones main.cf leaves alone. */
	for (size_t i = 0; i < count; i++)
		if (check_row(c, &table[i], table[i].name, &vals[i], &texts[i], error_r) < 0)
			goto out;

	/* Every other main.cf line: per-transport values by type, others expand. */
	list = htable_list(c->main_cf, &n);
	qsort(list, n, sizeof(*list), by_line);
	for (size_t i = 0; i < n; i++) {
		if (params_find(list[i]->key) == NULL && conf_check(c, list[i]->key, error_r) < 0) {
			free(list);
			goto out;
		}
	}
	free(list);

	/* Every master.cf -o value, against its parameter's type. */
	for (size_t i = 0; i < c->nents; i++)
		for (size_t j = 0; j < c->ents[i].overrides->argc; j++)
			if (check_override(c, &c->ents[i], c->ents[i].overrides->argv[j], error_r) < 0)
				goto out;

	if (warn)
		warn_unknown(c);
	if (assign) {
		for (size_t i = 0; i < count; i++)
			params_assign(&table[i], texts[i], &vals[i]);
		for (size_t i = 0; i < c->nents; i++)
			if (strcmp(c->ents[i].fields[4], "-") == 0)
				c->ents[i].maxproc = var_default_process_limit;
	}
	rc = 0;
out:
	free(vals);
	free(texts);
	return rc;
}

/* conf_resolve_dir - which configuration directory */
int conf_resolve_dir(const char *config_dir, char **dir_r, const char **error_r)
{
	const char *env = getenv("SLUICE_CONFIG_DIR");
	struct stat st;
	char *dir;
	size_t len;

	if (config_dir == NULL && env && *env)
		config_dir = env;
	if (config_dir == NULL) {
		*dir_r = stat("/etc/sluice", &st) == 0 && S_ISDIR(st.st_mode) ?
			xstrdup("/etc/sluice") : NULL;
		return 0;
	}
	dir = xstrdup(config_dir);
	for (len = strlen(dir); len > 1 && dir[len - 1] == '/'; len--)
		dir[len - 1] = 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		*error_r = conf_error("configuration directory %s: %s", dir,
				     stat(dir, &st) < 0 ? strerror(errno) : "not a directory");
		free(dir);
		return -1;
	}
	*dir_r = dir;
	return 0;
}

/* conf_load_main - settings from main.cf text */
int conf_load_main(struct conf *c, const char *text, bool tolerant, const char **error_r)
{
	struct conf_line_reader r;
	struct buf *line = buf_create(256);
	const struct param_def *row;
	struct conf_entry *e;
	char *eq, *name, *value;
	int lineno, rc, status = 0;

	conf_line_init(&r, text);
	while ((rc = conf_line_next(&r, line, &lineno)) != 0) {
		const char *why = NULL;

		name = buf_str(line);
		if (rc < 0) {
			why = "line starts with white space, but there is no parameter to continue";
		} else if ((eq = strchr(name, '=')) == NULL) {
			why = "missing '=' after parameter name";
		} else {
			*eq = 0;
			value = eq + 1 + strspn(eq + 1, " \t");
			while (eq > name && (eq[-1] == ' ' || eq[-1] == '\t'))
				*--eq = 0;
			if (*name == 0)
				why = "missing parameter name before '='";
			else if (!conf_name_ok(name))
				why = "bad parameter name";
		}
		if (why) {
			if (tolerant)
				continue;
			if (strcmp(why, "bad parameter name") == 0)
				*error_r = conf_error("%s:%d: bad parameter name \"%s\"", c->main_path,
						     lineno, name);
			else
				*error_r = conf_error("%s:%d: %s", c->main_path, lineno, why);
			status = -1;
			break;
		}
		row = params_find(name);
		if (row && (row->flags & PARAM_F_READONLY)) {
			if (tolerant)
				continue;
			*error_r = conf_located(c->main_path, lineno, name,
					   "read-only parameter, it cannot be set in main.cf");
			status = -1;
			break;
		}

		/* Later lines win. */
		if ((e = htable_delete(c->main_cf, name)) != NULL)
			entry_free(e);
		e = xmalloc(sizeof(*e));
		e->raw = xstrdup(value);
		e->line = lineno;
		htable_enter(c->main_cf, name, e);
	}
	buf_free(&line);
	return status;
}

/* conf_load_files - main.cf and master.cf of c->dir (or the defaults) */
int conf_load_files(struct conf *c, bool tolerant, const char **error_r)
{
	char *text = NULL;
	int rc = 0;

	if (c->dir != NULL) {
		if (conf_file_read(c->main_path, &text) == 0) {
			rc = conf_load_main(c, text, tolerant, error_r);
			free(text);
		} else if (errno != ENOENT && !tolerant) {
			*error_r = conf_error("open %s: %s", c->main_path, strerror(errno));
			rc = -1;
		}
		if (rc < 0)
			return -1;
	}
	if (master_cf_read(c->dir, &c->ents, &c->nents, error_r) < 0) {
		if (!tolerant)
			return -1;
		/* Editing main.cf must work even while master.cf is broken. */
		if (master_cf_read(NULL, &c->ents, &c->nents, error_r) < 0)
			msg_panic("built-in master.cf does not parse: %s", *error_r);
	}
	return 0;
}

/* current_conf - the configuration in force, embedded defaults if none */
static struct conf *current_conf(void)
{
	const char *error;

	if (current == NULL) {
		current = conf_create(NULL);
		if (conf_load_files(current, false, &error) < 0 || conf_evaluate(current, false, true, &error) < 0)
			msg_panic("embedded defaults do not load: %s", error);
	}
	return current;
}

/* mail_conf_read - load and install a configuration */
int mail_conf_read(const char *config_dir, const char **error_r)
{
	struct conf *c;
	char *dir;

	if (conf_resolve_dir(config_dir, &dir, error_r) < 0)
		return -1;
	c = conf_create(dir);
	free(dir);
	if (conf_load_files(c, false, error_r) < 0 || conf_evaluate(c, true, true, error_r) < 0) {
		conf_free(&c);
		/* The old variables still point into the old configuration. */
		return -1;
	}
	conf_free(&current);
	current = c;
	return 0;
}

/* mail_conf_read_or_die - read or exit */
void mail_conf_read_or_die(const char *config_dir)
{
	const char *error;

	if (mail_conf_read(config_dir, &error) < 0)
		msg_fatal("%s", error);
}

/* reevaluate - after a change of raw values; panic if the old state fails */
static int reevaluate(struct conf *c, const char **error_r)
{
	cache_clear(c);
	return conf_evaluate(c, false, true, error_r);
}

/* mail_conf_override - this process's -o setting */
int mail_conf_override(const char *name, const char *value, const char **error_r)
{
	struct conf *c = current_conf();
	const struct param_def *row = params_find(name);
	struct conf_entry *old, *e;
	const char *error;
	char *saved;

	if (!conf_name_ok(name)) {
		*error_r = conf_error("bad parameter name \"%s\"", name);
		return -1;
	}
	if (row && (row->flags & PARAM_F_READONLY)) {
		*error_r = conf_located(NULL, 0, name, "read-only parameter");
		return -1;
	}
	old = htable_delete(c->overrides, name);
	e = xmalloc(sizeof(*e));
	e->raw = xstrdup(value);
	e->line = 0;
	htable_enter(c->overrides, name, e);
	if (reevaluate(c, error_r) == 0) {
		if (old)
			entry_free(old);
		return 0;
	}

	/* Put things back as they were; that state passed before. */
	saved = xstrdup(*error_r);
	entry_free(htable_delete(c->overrides, name));
	if (old)
		htable_enter(c->overrides, name, old);
	if (reevaluate(c, &error) < 0)
		msg_panic("mail_conf_override: cannot restore configuration: %s", error);
	*error_r = conf_error("%s", saved);
	free(saved);
	return -1;
}

/* mail_conf_apply_service - a service's -o options */
int mail_conf_apply_service(const char *service, const char **error_r)
{
	struct conf *c = current_conf();
	const struct master_ent *ent;
	struct argv *pairs;
	const char *error;
	int rc = 0;

	ent = master_cf_find(c->ents, c->nents, service, "unix");
	if (ent == NULL)
		ent = master_cf_find(c->ents, c->nents, service, NULL);
	if (ent == NULL) {
		*error_r = conf_error("%s: no service \"%s\"", c->master_path, service);
		return -1;
	}

	/* Overrides re-read the configuration; copy what we iterate over. */
	pairs = argv_create();
	for (size_t i = 0; i < ent->overrides->argc; i++)
		argv_add(pairs, ent->overrides->argv[i], (char *)NULL);
	for (size_t i = 0; rc == 0 && i < pairs->argc; i++) {
		char *name = xstrndup(pairs->argv[i], strcspn(pairs->argv[i], "="));

		if (mail_conf_override(name, pairs->argv[i] + strlen(name) + 1, &error) < 0) {
			*error_r = conf_error("%s:%d: %s", c->master_path, ent->line,
					     error);
			rc = -1;
		}
		free(name);
	}
	argv_free(&pairs);
	if (rc == 0)
		mail_conf_set_process(NULL, service);
	return rc;
}

/* mail_conf_lookup - effective value of any name */
const char *mail_conf_lookup(const char *name)
{
	const char *error, *v;

	v = conf_get(current_conf(), false, name, &error);
	if (error)
		msg_fatal("%s", error);
	return v;
}

/* mail_conf_raw - main.cf text of name */
const char *mail_conf_raw(const char *name)
{
	struct conf_entry *e = htable_find(current_conf()->main_cf, name);

	return e ? e->raw : NULL;
}

/* mail_conf_default - default text of name */
const char *mail_conf_default(const char *name)
{
	struct conf *c = current_conf();
	const struct param_def *row = params_find(name), *split;
	const char *error, *v;
	size_t tlen;

	if (row) {
		if (row->def_fn || (row->flags & PARAM_F_READONLY)) {
			v = conf_get(c, true, name, &error);
			if (error)
				msg_fatal("%s", error);
			return v;
		}
		return row->def ? row->def : "";
	}
	if ((split = params_split_transport(name, &tlen)) != NULL && conf_service_exists(c, name, tlen))
		return keep_text(c, name, xasprintf("$%s", split->name));
	return NULL;
}

/* by_string - qsort order of strings */
static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* is_delivery_agent - a service that qmgr can hand mail to */
static bool is_delivery_agent(const struct master_ent *e)
{
	static const char *const agents[] = {"smtp", "lmtp", "local", "virtual", "pipe",
					     "discard", "error", NULL};

	if (strcmp(e->type, "unix") != 0)
		return false;
	for (const char *const *ap = agents; *ap; ap++)
		if (strcmp(e->command, *ap) == 0)
			return true;
	return false;
}

/* mail_conf_names - sorted name list */
struct argv *mail_conf_names(int flags)
{
	struct conf *c = current_conf();
	struct htable *seen = htable_create(256);
	struct htable_info **list;
	const struct param_def *table;
	struct argv *names = argv_create();
	size_t count, n;

	table = params_table(&count);
	if (flags & MAIL_CONF_NAMES_TABLE)
		for (size_t i = 0; i < count; i++)
			if (htable_find(seen, table[i].name) == NULL)
				htable_enter(seen, table[i].name, (void *)1);
	if (flags & MAIL_CONF_NAMES_MAIN_CF) {
		list = htable_list(c->main_cf, &n);
		for (size_t i = 0; i < n; i++)
			if (htable_find(seen, list[i]->key) == NULL)
				htable_enter(seen, list[i]->key, (void *)1);
		free(list);
	}
	if (flags & MAIL_CONF_NAMES_SERVICE) {
		for (size_t e = 0; e < c->nents; e++) {
			/* As postconf: only services that are delivery agents. */
			if (!is_delivery_agent(&c->ents[e]))
				continue;
			for (size_t i = 0; i < count; i++) {
				char *name;

				if ((table[i].flags & PARAM_F_PER_TRANSPORT) == 0)
					continue;
				name = params_transport_name(&table[i], c->ents[e].service);
				if (conf_name_ok(name) && htable_find(seen, name) == NULL)
					htable_enter(seen, name, (void *)1);
				free(name);
			}
		}
	}
	list = htable_list(seen, &n);
	for (size_t i = 0; i < n; i++)
		argv_add(names, list[i]->key, (char *)NULL);
	free(list);
	htable_free(&seen, NULL);
	qsort(names->argv, names->argc, sizeof(*names->argv), by_string);
	return names;
}

/* mail_conf_dir - directory in use */
const char *mail_conf_dir(void)
{
	return current_conf()->dir;
}

/* mail_conf_master - master.cf entries */
const struct master_ent *mail_conf_master(size_t *count_r)
{
	struct conf *c = current_conf();

	*count_r = c->nents;
	return c->ents;
}

/* transport_row - the global row behind a per-transport look-up */
static const struct param_def *transport_row(const char *global_name)
{
	const struct param_def *row = params_find(global_name);

	if (row == NULL || (row->flags & PARAM_F_PER_TRANSPORT) == 0)
		msg_panic("transport_param: %s is not a per-transport parameter", global_name);
	return row;
}

/* transport_param_long - numeric per-transport value */
long transport_param_long(const char *transport, const char *global_name)
{
	const struct param_def *row = transport_row(global_name), *vrow;
	struct conf *c = current_conf();
	char *name = params_transport_name(row, transport);
	union param_value val;
	const char *v, *error;

	if (row->type != PARAM_INT && row->type != PARAM_TIME && row->type != PARAM_SIZE)
		msg_panic("transport_param_long: %s is not numeric", global_name);
	v = conf_get(c, false, name, &error);
	if (error)
		msg_fatal("%s", error);
	if (v == NULL) {
		val.num = *(long *)row->var;
	} else {
		vrow = params_find(name) ? params_find(name) : row;
		if (check_row(c, vrow, name, &val, NULL, &error) < 0)
			msg_fatal("%s", error);
	}
	free(name);
	return val.num;
}

/* transport_param_str - per-transport value as text */
const char *transport_param_str(const char *transport, const char *global_name)
{
	const struct param_def *row = transport_row(global_name);
	struct conf *c = current_conf();
	char *name = params_transport_name(row, transport);
	const char *v, *error;

	v = conf_get(c, false, name, &error);
	if (error == NULL && v == NULL)
		v = conf_get(c, false, global_name, &error);
	if (error)
		msg_fatal("%s", error);
	free(name);
	return v ? v : "";
}

/* mail_conf_set_process - the read-only identity parameters */
void mail_conf_set_process(const char *pname, const char *sname)
{
	const char *error;

	conf_set_identity(pname, sname);
	if (current && reevaluate(current, &error) < 0)
		msg_fatal("%s", error);
}
