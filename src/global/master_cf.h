/*
 * master_cf - master.cf, the table of services that master runs.
 *
 * Postfix syntax (master(5)), one service per logical line:
 *
 *   service type private unpriv chroot wakeup maxproc command [args...]
 *
 * "-" selects a field's default; continuation lines start with white space;
 * '#' starts a comment line.  type is unix, fifo, inet, pass or unix-dgram;
 * private/unpriv/chroot are y or n (defaults y, y, n); wakeup is N or N?
 * (N seconds; "?" = only once the service was used; 0 or "-" = none);
 * maxproc "-" is $default_process_limit and 0 means no limit.  Arguments may
 * be grouped as "{ text with spaces }"; "-o name=value" and
 * "-o { name = value }" set main.cf parameters for that service.
 *
 * When the configuration directory has no master.cf, the built-in default
 * (master_cf_default) is used.
 */
#ifndef SLUICE_MASTER_CF_H
#define SLUICE_MASTER_CF_H

#include <stdbool.h>
#include <stddef.h>

struct argv;
struct buf;

struct master_ent {
	char *service;		/* first field */
	char *type;		/* unix fifo inet pass unix-dgram */
	bool private_;		/* only reachable below queue_directory/private */
	bool unpriv;		/* runs as mail_owner rather than root */
	bool chroot;		/* chroot(queue_directory) */
	int wakeup;		/* seconds between W triggers, 0 = none */
	bool wakeup_if_used;	/* "N?": wake up only once the service was used */
	long maxproc;		/* process limit, 0 = unlimited */
	char *command;		/* program name (daemon_directory/command) */
	struct argv *args;	/* everything after the command, braces removed;
				 * -o options appear as "-o" "name=value" */
	struct argv *overrides;	/* "name=value" from each -o, in order */
	int line;		/* first line of the entry in its file */
	char *fields[5];	/* private unpriv chroot wakeup maxproc as written */
};

/* The built-in master.cf, used when the configuration has none. */
extern const char master_cf_default[];
/* Commented-out example services printed after the built-in master.cf. */
extern const char master_cf_default_examples[];

/*
 * master_cf_read - read config_dir/master.cf, or master_cf_default when the
 * file does not exist (config_dir NULL: always the default).  maxproc "-"
 * takes var_default_process_limit (100 before main.cf was read).  Returns 0
 * with *ents_r (caller frees with master_cf_free()) and *count_r, or -1 with
 * *error_r such as `/etc/sluice/master.cf:7: bad service type "tcp" (must be
 * unix, fifo, inet, pass or unix-dgram)` (borrowed until the next call).
 */
int master_cf_read(const char *config_dir, struct master_ent **ents_r, size_t *count_r,
		   const char **error_r);

/* master_cf_parse - the same, from text; path is used in messages only. */
int master_cf_parse(const char *path, const char *text, struct master_ent **ents_r,
		    size_t *count_r, const char **error_r);

/* master_cf_free - free an entry array and clear *ents_p; NULL is fine. */
void master_cf_free(struct master_ent **ents_p, size_t count);

/*
 * master_cf_find - the entry for service (and type, when type is not NULL),
 * or NULL.  Borrowed from the array.
 */
const struct master_ent *master_cf_find(const struct master_ent *ents, size_t count,
					const char *service, const char *type);

/* master_ent_override - value of "-o name=value" in ent, or NULL. Borrowed. */
const char *master_ent_override(const struct master_ent *ent, const char *name);

/*
 * master_cf_print - append entries in master.cf syntax, one per line, with
 * the fields as written and Postfix's column layout (sluice config -M).
 */
void master_cf_print(struct buf *out, const struct master_ent *ents, size_t count);

#endif
