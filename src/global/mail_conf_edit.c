/*
 * mail_conf_edit - "sluice config NAME=VALUE": check, then rewrite main.cf
 * (contract in mail_conf.h).
 *
 * Checking: the file is loaded tolerantly (lines that do not parse are kept
 * as text and ignored), the new values are laid over it as overrides, and
 * each assigned name is expanded and checked against its row.  When the
 * configuration checked out before the edit, it must still check out after
 * it: "foo = abc" is refused when some limit says "$foo".  When it was
 * already broken, the edit may be the repair, so only the assigned names
 * are judged.
 *
 * Rewriting keeps every byte of the other lines.  An assignment replaces
 * the first logical line that sets the name (and drops its continuation
 * lines, keeping comment lines between them), removes later settings of the
 * same name, or is appended.  The new file is written beside the old one,
 * fsync()ed, renamed over it and the folder fsync()ed, so a crash leaves the
 * old or the new file, never a mix.
 *
 * DIAGNOSTICS: errors are returned; an unknown name is a msg_warn() and is
 * written all the same (postconf -e does not refuse user-defined names).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/conf_line.h"
#include "global/mail_conf.h"
#include "global/mail_conf_private.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

enum line_kind { LINE_START, LINE_CONT, LINE_OTHER };

struct phys_line {
	char *text;		/* without the newline */
	enum line_kind kind;
	char *name;		/* LINE_START with a parseable name, else NULL */
	bool deleted;
};

struct lines {
	struct phys_line *v;
	size_t n, cap;
};

/* lines_add - append one physical line */
static void lines_add(struct lines *l, const char *s, size_t len)
{
	struct phys_line *pl;
	const char *cp, *eq;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	pl = &l->v[l->n++];
	memset(pl, 0, sizeof(*pl));
	pl->text = xstrndup(s, len);
	for (cp = pl->text; *cp == ' ' || *cp == '\t' || *cp == '\r'; cp++)
		;
	if (*cp == 0 || *cp == '#')
		pl->kind = LINE_OTHER;
	else if (cp != pl->text)
		pl->kind = LINE_CONT;
	else
		pl->kind = LINE_START;
	if (pl->kind == LINE_START && (eq = strchr(pl->text, '=')) != NULL) {
		char *name = xstrndup(pl->text, (size_t)(eq - pl->text));

		pl->name = xstrdup(str_trim(name));
		free(name);
	}
}

/* lines_split - physical lines of text */
static void lines_split(struct lines *l, const char *text)
{
	const char *nl;

	while (*text) {
		nl = strchr(text, '\n');
		lines_add(l, text, nl ? (size_t)(nl - text) : strlen(text));
		text = nl ? nl + 1 : text + strlen(text);
	}
}

/* lines_deinit - release */
static void lines_deinit(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].text);
		free(l->v[i].name);
	}
	free(l->v);
}

/* lines_set - replace, remove duplicates of, or append name = value */
static void lines_set(struct lines *l, const char *name, const char *value)
{
	bool found = false;
	char *text = *value ? xasprintf("%s = %s", name, value) : xasprintf("%s =", name);

	for (size_t i = 0; i < l->n; i++) {
		struct phys_line *pl = &l->v[i];

		if (pl->deleted || pl->kind != LINE_START || pl->name == NULL
		    || strcmp(pl->name, name) != 0)
			continue;
		if (!found) {
			free(pl->text);
			pl->text = xstrdup(text);
			found = true;
		} else {
			pl->deleted = true;
		}
		/* Its continuation lines go too; comments in between stay. */
		for (size_t j = i + 1; j < l->n && l->v[j].kind != LINE_START; j++)
			if (l->v[j].kind == LINE_CONT)
				l->v[j].deleted = true;
	}
	if (!found)
		lines_add(l, text, strlen(text));
	free(text);
}

/* write_atomically - replace path with text, keeping its mode */
static int write_atomically(const char *path, const char *text, const char **error_r)
{
	struct stat st;
	mode_t mode = stat(path, &st) == 0 ? st.st_mode & 07777 : 0644;
	char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	int fd, saved;
	const char *step;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		step = "create";
		goto fail_open;
	}
	step = "write";
	if (fchmod(fd, mode) < 0 || write_all_timeout(fd, text, strlen(text), -1) < 0)
		goto fail;
	step = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	step = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path) < 0)
		goto fail;
	if (fsync_parent(path) < 0) {
		*error_r = conf_error("fsync folder of %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
fail_open:
	*error_r = conf_error("%s %s: %s", step, tmp, strerror(errno));
	free(tmp);
	return -1;
}

/* split_assignment - "NAME=VALUE" into trimmed copies */
static int split_assignment(const char *arg, char **name_r, char **value_r, const char **error_r)
{
	const char *eq = strchr(arg, '=');
	char *name, *value;

	if (eq == NULL) {
		*error_r = conf_error("\"%s\": missing '=' after parameter name", arg);
		return -1;
	}
	name = xstrndup(arg, (size_t)(eq - arg));
	value = xstrdup(eq + 1);
	*name_r = xstrdup(str_trim(name));
	*value_r = xstrdup(str_trim(value));
	free(name);
	free(value);
	if (!conf_name_ok(*name_r)) {
		*error_r = conf_error("bad parameter name \"%s\"", *name_r);
		goto bad;
	}
	if (strpbrk(*value_r, "\r\n") != NULL) {
		*error_r = conf_error("%s: the value must be one line", *name_r);
		goto bad;
	}
	return 0;
bad:
	free(*name_r);
	free(*value_r);
	return -1;
}

/* mail_conf_edit - check and rewrite main.cf */
int mail_conf_edit(const char *config_dir, char *const *assignments, size_t count,
		   const char **error_r)
{
	struct conf *c = NULL;
	struct argv *names = argv_create(), *values = argv_create();
	struct lines lines = {NULL, 0, 0};
	struct htable *refs;
	struct buf *out = NULL;
	char *dir = NULL, *text = NULL, *name, *value;
	bool was_ok;
	int rc = -1;

	if (conf_resolve_dir(config_dir, &dir, error_r) < 0)
		goto out;
	if (dir == NULL) {
		*error_r = conf_error("no configuration directory to edit: use -c DIR "
				      "or SLUICE_CONFIG_DIR");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		const struct param_def *row;

		if (split_assignment(assignments[i], &name, &value, error_r) < 0)
			goto out;
		argv_add(names, name, (char *)NULL);
		argv_add(values, value, (char *)NULL);
		row = params_find(name);
		free(name);
		free(value);
		if (row && (row->flags & PARAM_F_READONLY)) {
			*error_r = conf_error("%s: read-only parameter", row->name);
			goto out;
		}
	}

	/* Judge the new values in the context of the file as it is. */
	c = conf_create(dir);
	if (conf_load_files(c, true, error_r) < 0)
		goto out;
	was_ok = conf_evaluate(c, false, false, error_r) == 0;
	for (size_t i = 0; i < names->argc; i++) {
		struct conf_entry *e = htable_delete(c->overrides, names->argv[i]);

		if (e) {
			free(e->raw);
			free(e);
		}
		e = xmalloc(sizeof(*e));
		e->raw = xstrdup(values->argv[i]);
		e->line = 0;
		htable_enter(c->overrides, names->argv[i], e);
	}
	/* Expanded values cached above may depend on the old values. */
	htable_free(&c->cache, free);
	c->cache = htable_create(256);
	for (size_t i = 0; i < names->argc; i++)
		if (conf_check(c, names->argv[i], error_r) < 0)
			goto out;
	if (was_ok && conf_evaluate(c, false, false, error_r) < 0)
		goto out;
	refs = conf_collect_refs(c);
	for (size_t i = 0; i < names->argc; i++)
		if (!conf_is_known(c, names->argv[i], refs))
			msg_warn("%s: unknown parameter", names->argv[i]);
	htable_free(&refs, NULL);

	/* Rewrite the text. */
	if (conf_file_read(c->main_path, &text) < 0) {
		if (errno != ENOENT) {
			*error_r = conf_error("open %s: %s", c->main_path, strerror(errno));
			goto out;
		}
		text = xstrdup("");
	}
	lines_split(&lines, text);
	for (size_t i = 0; i < names->argc; i++)
		lines_set(&lines, names->argv[i], values->argv[i]);
	out = buf_create(strlen(text) + 256);
	for (size_t i = 0; i < lines.n; i++) {
		if (lines.v[i].deleted)
			continue;
		buf_puts(out, lines.v[i].text);
		buf_putc(out, '\n');
	}
	rc = write_atomically(c->main_path, buf_str(out), error_r);

out:
	buf_free(&out);
	lines_deinit(&lines);
	free(text);
	free(dir);
	argv_free(&names);
	argv_free(&values);
	conf_free(&c);
	return rc;
}
