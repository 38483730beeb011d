/*
 * mail_conf_private - what mail_conf.c shares with mail_conf_edit.c.
 *
 * Not for use outside those two files: the public interface is mail_conf.h.
 */
#ifndef SLUICE_MAIL_CONF_PRIVATE_H
#define SLUICE_MAIL_CONF_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct htable;
struct master_ent;

/* One main.cf setting or -o override. */
struct conf_entry {
	char *raw;		/* as written, continuation lines joined */
	int line;		/* main.cf line, 0 for an override */
};

/* One loaded configuration. */
struct conf {
	char *dir;		/* configuration directory, NULL = embedded defaults */
	char *main_path;	/* for messages: DIR/main.cf or "main.cf" */
	char *master_path;	/* for messages: DIR/master.cf or "master.cf" */
	struct htable *main_cf;	/* name -> struct conf_entry *, later lines win */
	struct htable *overrides;	/* name -> struct conf_entry *, over main.cf */
	struct htable *cache;	/* name -> char *, expanded effective values */
	struct htable *dcache;	/* name -> char *, expanded defaults */
	struct htable *texts;	/* name -> char *, other strings handed out */
	struct master_ent *ents;	/* master.cf */
	size_t nents;
};

/* conf_create - empty configuration for dir (copied; NULL = embedded). */
struct conf *conf_create(const char *dir);

/* conf_free - release and clear *cp. */
void conf_free(struct conf **cp);

/* conf_resolve_dir - config_dir, $SLUICE_CONFIG_DIR, /etc/sluice or NULL. */
int conf_resolve_dir(const char *config_dir, char **dir_r, const char **error_r);

/*
 * conf_load_main - add the settings of main.cf text.  tolerant: skip lines
 * that do not parse instead of failing (used when editing a broken file).
 */
int conf_load_main(struct conf *c, const char *text, bool tolerant, const char **error_r);

/* conf_load_files - read dir's main.cf and master.cf (or the defaults). */
int conf_load_files(struct conf *c, bool tolerant, const char **error_r);

/*
 * conf_get - the expanded value of name (defaults_only: ignoring main.cf,
 * overrides and -o).  NULL when undefined (*error_r NULL) or on error
 * (*error_r set, borrowed until the next call).
 */
const char *conf_get(struct conf *c, bool defaults_only, const char *name,
		     const char **error_r);

/*
 * conf_evaluate - expand and check every parameter, main.cf line and -o
 * value; warn: log unknown parameters; assign: then set the var_* variables.
 */
int conf_evaluate(struct conf *c, bool warn, bool assign, const char **error_r);

/* conf_check - expand name and check it against its row (if any). */
int conf_check(struct conf *c, const char *name, const char **error_r);

/* conf_is_known - a table row, <service>_<suffix>, or referenced as $name. */
bool conf_is_known(struct conf *c, const char *name, struct htable *refs);

/* conf_collect_refs - every $name used by main.cf, overrides and -o values. */
struct htable *conf_collect_refs(struct conf *c);

/* conf_error - format an error text (borrowed until the next call). */
const char *conf_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* conf_located - "FILE:LINE: NAME: text", or "NAME: text" when file is NULL. */
const char *conf_located(const char *file, int line, const char *name, const char *text);

/* conf_origin - file and line of name's effective value (NULL, 0: none). */
void conf_origin(struct conf *c, const char *name, const char **file_r, int *line_r);

/*
 * conf_expand - expand text as if it were the value of name at file:line
 * (file NULL: no location), appending to out.  0, or -1 with *error_r.
 */
int conf_expand(struct conf *c, const char *name, const char *file, int line,
		const char *text, struct buf *out, const char **error_r);

/* conf_service_exists - the first len bytes of name are a master.cf service. */
bool conf_service_exists(struct conf *c, const char *name, size_t len);

/* conf_macro_char - a character of a $name reference. */
bool conf_macro_char(char c);

/* conf_set_identity - process_name and service_name (NULL: unchanged). */
void conf_set_identity(const char *process_name, const char *service_name);

/* conf_name_ok - a legal parameter name (letters, digits, "_", "-"). */
bool conf_name_ok(const char *name);

#endif
