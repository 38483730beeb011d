/*
 * cmd_import_postfix - "sluice import-postfix [-c POSTFIX_CONFIG_DIR] [-n]
 * [-q | -m]": take over from a stopped Postfix (docs/IMPORT.md).
 *
 * Reads Postfix's main.cf and master.cf (default /etc/postfix) and writes
 * the settings sluice supports into sluice's, printing one line for every
 * setting it does not import; then converts the messages of Postfix's
 * queue (maildrop, incoming, active, deferred, hold, with their defer
 * logs, arrival times, time stamps and done recipients) into sluice queue
 * files.  Postfix's files are only read; an import may be repeated and
 * never creates a message twice.  -n: report only, write nothing; -q: the
 * queue only; -m: the configuration only.
 *
 * Exit status: 0 (settings left out are reported, not an error); 1 some
 * message could not be imported (each one reported) or sluice's main.cf
 * or master.cf could not be written; 64 usage; 75 Postfix or sluice is
 * running; 78 a configuration error.
 */
#ifndef SLUICE_CMD_IMPORT_POSTFIX_H
#define SLUICE_CMD_IMPORT_POSTFIX_H

#include <stdbool.h>
#include <stddef.h>

int cmd_import_postfix(const char *config_dir, int argc, char **argv);

/* ---- the configuration part (cmd_import_pfconf.c) ---- */

/* One main.cf setting of Postfix's. */
struct pf_setting {
	char *name;
	char *value;
	int line;
};

/*
 * pf_main_cf_parse - "name = value" logical lines of a main.cf text; a
 * later setting of a name replaces an earlier one (as in Postfix).  Lines
 * without "=" are reported on stdout and skipped.  Returns the count with
 * *settings_r (caller frees with pf_settings_free).
 */
size_t pf_main_cf_parse(const char *path, const char *text, struct pf_setting **settings_r);
void pf_settings_free(struct pf_setting **settings, size_t count);

/* pf_setting_value - the value of name with $name / ${name} expanded from
 * the same settings (defaults for the few Postfix needs); caller frees. */
char *pf_setting_value(const struct pf_setting *s, size_t count, const char *name,
		       const char *def);

/*
 * pf_import_main_cf - the supported settings into sluice's main.cf (in
 * sluice_conf_dir) through mail_conf_edit, one line on stdout for each
 * setting left out.  Returns how many were left out because sluice does not
 * support them or refused their value, or -1 when main.cf could not be
 * written (message on stderr).  dry_run: report only.
 */
long pf_import_main_cf(const char *pf_path, const struct pf_setting *s, size_t count,
		       const char *sluice_conf_dir, bool dry_run);

/*
 * pf_import_master_cf - Postfix's services whose program sluice has into
 * sluice's master.cf (sluice's own entries kept, Postfix's process limit,
 * wakeup and -o settings taken for the services both have), one line for
 * every service or -o setting left out.  Returns the count left out, or -1
 * (message on stderr).
 */
long pf_import_master_cf(const char *pf_conf_dir, const char *sluice_conf_dir, bool dry_run);

#endif
