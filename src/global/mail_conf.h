/*
 * mail_conf - main.cf: reading, $name expansion, validation, per-transport
 * look-ups and editing.
 *
 * main.cf syntax is Postfix's: "name = value" lines, '#' comment lines,
 * continuation lines that start with white space, later lines win.  Values
 * expand $name, ${name}, $(name), ${name?text} (text when $name is
 * non-empty), ${name:text} (text when $name is empty or undefined),
 * ${name?{text}:{other}}, and "$$" for a literal "$".  Expansion is lazy, so
 * a value may refer to a parameter defined further down.  An undefined
 * $name expands to nothing.
 *
 * mail_conf_read() reads main.cf and master.cf (or the built-in master.cf),
 * expands and checks every parameter of the table (params.h), every other
 * main.cf line and every master.cf -o value, and only then sets the var_*
 * variables.  Errors come back as "FILE:LINE: NAME: what is wrong", for
 * example
 *
 *   /etc/sluice/main.cf:3: qmgr_message_active_limit: bad numerical value "-3" (must be >= 1)
 *   /etc/sluice/main.cf:7: missing '=' after parameter name
 *   /etc/sluice/main.cf:4: myhostname: recursive expansion of $myhostname
 *
 * A bad value is never replaced by the default.  An unknown parameter is a
 * warning, logged with msg_info() in compiler style so that the location
 * comes first: `/etc/sluice/main.cf:9: warning: unknown parameter "foo_bar"`.
 * Not unknown: <service>_<suffix> for a master.cf service and a per-transport
 * suffix, and user-defined names that some other value refers to as $name.
 *
 * Strings returned here and the string var_* variables are borrowed: they
 * stay valid until the next successful mail_conf_read(), mail_conf_override()
 * or mail_conf_set_process().  Any look-up before mail_conf_read() first
 * loads the embedded defaults.
 */
#ifndef SLUICE_MAIL_CONF_H
#define SLUICE_MAIL_CONF_H

#include <stdbool.h>
#include <stddef.h>

struct argv;
struct master_ent;

/*
 * mail_conf_read - read config_dir/main.cf (absent: all defaults) and
 * config_dir/master.cf (absent: the built-in one).  config_dir NULL means
 * $SLUICE_CONFIG_DIR, else /etc/sluice if it exists, else the embedded
 * defaults (no files at all).  Returns 0, or -1 with *error_r (borrowed
 * until the next call); on failure the previous configuration stays in force.
 */
int mail_conf_read(const char *config_dir, const char **error_r);

/* mail_conf_read_or_die - mail_conf_read(), msg_fatal() with the error text. */
void mail_conf_read_or_die(const char *config_dir);

/*
 * mail_conf_override - set name for this process only, over main.cf (what a
 * master.cf "-o name=value" does).  value is expanded like a main.cf value.
 * Every parameter is checked again; on error nothing changes and *error_r is
 * "NAME: what is wrong" without a location (the caller knows it).
 */
int mail_conf_override(const char *name, const char *value, const char **error_r);

/*
 * mail_conf_apply_service - apply the -o options of master.cf service
 * (preferring its unix entry) with mail_conf_override(), and set service_name.
 * Errors are "MASTER.CF:LINE: NAME: what is wrong".
 */
int mail_conf_apply_service(const char *service, const char **error_r);

/*
 * mail_conf_lookup - the expanded value of any name: a table parameter,
 * a user-defined main.cf parameter, or <service>_<suffix> for a master.cf
 * service.  NULL when the name is not set anywhere.
 */
const char *mail_conf_lookup(const char *name);

/*
 * mail_conf_raw - the value as main.cf writes it (continuations joined,
 * unexpanded), or NULL when main.cf does not set name.
 */
const char *mail_conf_raw(const char *name);

/*
 * mail_conf_default - the default of name, unexpanded ("$myhostname"), as
 * "config -d" shows it: computed for myhostname/mydomain and read-only
 * parameters, "$default_..." for <service>_<suffix>; NULL when unknown.
 */
const char *mail_conf_default(const char *name);

/* Flags for mail_conf_names(). */
#define MAIL_CONF_NAMES_MAIN_CF	(1 << 0)	/* names main.cf sets */
#define MAIL_CONF_NAMES_TABLE	(1 << 1)	/* every table parameter */
#define MAIL_CONF_NAMES_SERVICE	(1 << 2)	/* <service>_<suffix> for delivery agents */

/* mail_conf_names - sorted, unique names. Caller frees with argv_free(). */
struct argv *mail_conf_names(int flags);

/* mail_conf_dir - the configuration directory in use; NULL on embedded defaults. */
const char *mail_conf_dir(void);

/* mail_conf_master - the master.cf entries read with main.cf. Borrowed. */
const struct master_ent *mail_conf_master(size_t *count_r);

/*
 * transport_param_long - a numeric per-transport parameter for transport:
 * <transport>_<suffix> from main.cf, else from the -o options of that
 * master.cf service, else the global value (a TIME in seconds).  global_name
 * names a PARAM_F_PER_TRANSPORT row of type INT, TIME or SIZE, else panic:
 * transport_param_long("smtp", "default_destination_concurrency_limit").
 */
long transport_param_long(const char *transport, const char *global_name);

/* transport_param_str - the same, as expanded text. Borrowed. */
const char *transport_param_str(const char *transport, const char *global_name);

/*
 * mail_conf_set_process - fill in the read-only process_name and
 * service_name (NULL: leave as is); process_id is always getpid().
 */
void mail_conf_set_process(const char *process_name, const char *service_name);

/*
 * mail_conf_edit - "sluice config NAME=VALUE ...": check each assignment in
 * the context of the current main.cf (type, range, expansion), then rewrite
 * config_dir/main.cf, keeping comments, order and all other lines: an
 * existing setting (with its continuation lines) is replaced in place, later
 * duplicates of it are dropped, a new one is appended.  The file is replaced
 * atomically (temporary file, fsync, rename, fsync of the folder) and keeps
 * its mode.  config_dir NULL as for mail_conf_read(), but a directory is
 * required.  Errors: "NAME: what is wrong", or a file error.  An unknown
 * name is written with a warning.
 */
int mail_conf_edit(const char *config_dir, char *const *assignments, size_t count,
		   const char **error_r);

#endif
