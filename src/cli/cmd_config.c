/*
 * cmd_config - "sluice config", the postconf of sluice (contract in
 * cmd_config.h).
 *
 * Listings come from the parameter table (params.c) and the loaded
 * configuration (mail_conf.c), so they show exactly what the daemons use.
 * Like postconf, a plain listing shows values unexpanded ("$myhostname");
 * -x expands them; naming a parameter shows its effective, expanded value.
 *
 * "config -d" and "config -M" do not need a valid main.cf: a postmaster
 * must be able to look at defaults and services while repairing it.  Editing
 * (NAME=VALUE) does not need one either (see mail_conf_edit()).
 *
 * DIAGNOSTICS: unknown names are warnings ("sluice: warning: NAME: unknown
 * parameter") with exit status 1; configuration errors are fatal.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_error.h"
#include "cmd_config.h"
#include "global/mail_conf.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

struct config_opts {
	bool defaults;		/* -d */
	bool main_only;		/* -n */
	bool value_only;	/* -h */
	bool expand;		/* -x */
	bool master;		/* -M */
	bool doc;		/* --doc */
};

/* usage - the synopsis */
static int usage(void)
{
	return cli_usage("config [-n | -d [--doc]] [-h] [-x] [NAME...]\n"
			 "       sluice config -M\n"
			 "       sluice config NAME=VALUE...", NULL);
}

/* print_pair - "name = value" or the value alone */
static void print_pair(const struct config_opts *o, const char *name, const char *value)
{
	if (o->value_only)
		printf("%s\n", value);
	else if (*value)
		printf("%s = %s\n", name, value);
	else
		printf("%s =\n", name);
}

/* list_all - the listings without names */
static void list_all(const struct config_opts *o)
{
	int flags = o->main_only ? MAIL_CONF_NAMES_MAIN_CF :
		o->defaults ? MAIL_CONF_NAMES_TABLE | MAIL_CONF_NAMES_SERVICE :
		MAIL_CONF_NAMES_TABLE | MAIL_CONF_NAMES_SERVICE | MAIL_CONF_NAMES_MAIN_CF;
	struct argv *names = mail_conf_names(flags);

	for (size_t i = 0; i < names->argc; i++) {
		const char *name = names->argv[i], *value;

		if (o->defaults)
			value = mail_conf_default(name);
		else if (o->expand)
			value = mail_conf_lookup(name);
		else if ((value = mail_conf_raw(name)) == NULL)
			value = mail_conf_default(name);
		print_pair(o, name, value ? value : "");
	}
	argv_free(&names);
}

/* show_names - the named parameters; 1 if any is unknown */
static int show_names(const struct config_opts *o, int count, char **names)
{
	int status = 0;

	for (int i = 0; i < count; i++) {
		const char *value = o->defaults ? mail_conf_default(names[i])
			: o->main_only ? mail_conf_raw(names[i]) : mail_conf_lookup(names[i]);

		if (value == NULL) {
			msg_warn("%s: unknown parameter", names[i]);
			status = 1;
			continue;
		}
		print_pair(o, names[i], value);
	}
	return status;
}

/* master_cf_exists - does config_dir/master.cf exist? */
static bool master_cf_exists(const char *config_dir)
{
	char *path = xasprintf("%s/master.cf", config_dir);
	struct stat st;
	bool yes = stat(path, &st) == 0;

	free(path);
	return yes;
}

/* show_master - print master.cf as master would run it */
static int show_master(const char *config_dir)
{
	const char *env = getenv("SLUICE_CONFIG_DIR"), *error;
	struct master_ent *ents;
	struct buf *out;
	struct stat st;
	size_t count;

	/* The same directory choice as mail_conf_read(), without needing main.cf. */
	if (config_dir == NULL && env && *env)
		config_dir = env;
	if (config_dir == NULL && stat("/etc/sluice", &st) == 0 && S_ISDIR(st.st_mode))
		config_dir = "/etc/sluice";
	if (master_cf_read(config_dir, &ents, &count, &error) < 0)
		msg_fatal("%s", error);
	out = buf_create(1024);
	master_cf_print(out, ents, count);
	/* The built-in table: with the services that are off, commented out. */
	if (config_dir == NULL || !master_cf_exists(config_dir))
		buf_puts(out, master_cf_default_examples);
	fputs(buf_str(out), stdout);
	buf_free(&out);
	master_cf_free(&ents, count);
	return 0;
}

/* cmd_config - entry point */
int cmd_config(const char *config_dir, int argc, char **argv)
{
	struct config_opts o = {0};
	const char *error;
	int i, assignments = 0;

	cli_command_set(argv[0]);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "--doc") == 0) {
			o.doc = true;
			continue;
		}
		for (const char *cp = argv[i] + 1; *cp; cp++) {
			switch (*cp) {
			case 'd':
				o.defaults = true;
				break;
			case 'n':
				o.main_only = true;
				break;
			case 'h':
				o.value_only = true;
				break;
			case 'x':
				o.expand = true;
				break;
			case 'M':
				o.master = true;
				break;
			case 'e':	/* postconf -e: NAME=VALUE follows anyway */
				break;
			default:
				return usage();
			}
		}
	}
	for (int j = i; j < argc; j++)
		if (strchr(argv[j], '=') != NULL)
			assignments++;
	if ((o.defaults && o.main_only) || (o.doc && (!o.defaults || i < argc))
	    || (assignments && (assignments != argc - i || o.defaults || o.main_only || o.master))
	    || (o.master && i < argc))
		return usage();

	if (o.doc) {
		struct buf *out = buf_create(65536);

		params_doc_markdown(out);
		fputs(buf_str(out), stdout);
		buf_free(&out);
		return 0;
	}
	if (o.master)
		return show_master(config_dir);
	if (assignments) {
		if (mail_conf_edit(config_dir, argv + i, (size_t)(argc - i), &error) < 0)
			msg_fatal("%s", error);
		return 0;
	}

	/* Defaults are shown even when main.cf does not load. */
	if (mail_conf_read(config_dir, &error) < 0) {
		if (!o.defaults)
			msg_fatal("%s", error);
		msg_warn("%s", error);
	}
	if (i < argc)
		return show_names(&o, argc - i, argv + i);
	list_all(&o);
	return 0;
}
