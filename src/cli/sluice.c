/*
 * sluice - the one user-facing program: dispatches subcommands, and answers
 * as sendmail, mailq and newaliases when invoked under those names.
 *
 * Usage: sluice [-c config_dir] [-v] COMMAND [ARGS...]
 * The configuration directory comes from -c, else SLUICE_CONFIG_DIR, else
 * /etc/sluice when it exists, else the embedded default.
 *
 * Exit status: the command's; EX_USAGE (64) for a usage error.  Messages:
 * cli_error.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_check.h"
#include "cmd_config.h"
#include "cmd_import_postfix.h"
#include "cmd_kick.h"
#include "cmd_map.h"
#include "cmd_queue.h"
#include "cmd_shape.h"
#include "cmd_simulate.h"
#include "cmd_super.h"
#include "cmd_sendmail.h"
#include "cmd_start.h"
#include "cmd_top.h"
#include "util/log.h"

typedef int cmd_fn(const char *config_dir, int argc, char **argv);

static const struct {
	const char *name;
	cmd_fn *fn;
	const char *usage;
} commands[] = {
	{"start", cmd_start, "start [-f]"},
	{"stop", cmd_stop, "stop"},
	{"reload", cmd_reload, "reload"},
	{"status", cmd_status, "status [--json]"},
	{"top", cmd_top, "top [-b] [-n iterations] [-d seconds]"},
	{"sendmail", cmd_sendmail, "sendmail [-f sender] [-t] [-i] [-N notify] [-R ret] [-V envid] [-bv] [-v] [--] rcpt..."},
	{"queue", cmd_queue, "queue [--json]"},
	{"flush", cmd_flush, "flush"},
	{"kick", cmd_kick, "kick CHARS (D I A F W)"},
	{"hold", cmd_super, "hold ID...|ALL|- [QUEUE]"},
	{"release", cmd_super, "release ID...|ALL|- [QUEUE]"},
	{"requeue", cmd_super, "requeue ID...|ALL|- [QUEUE]"},
	{"delete", cmd_super, "delete ID...|ALL|- [QUEUE]"},
	{"expire", cmd_super, "expire ID...|ALL|- [QUEUE]"},
	{"shape", cmd_shape, "shape [-s] [-n N] [QUEUE...]"},
	{"import-postfix", cmd_import_postfix, "import-postfix [-c postfix_config_dir] [-n] [-q|-m]"},
	{"config", cmd_config, "config [-d|-n|-h|-M] [name...] | name=value..."},
	{"check", cmd_check, "check"},
	{"simulate", cmd_simulate, "simulate [-o DIR [-g]] SCENARIO"},
	{"map", cmd_map, "map [-f] [-i] [-N|-n] [-q KEY|-] [-s] [-d KEY|-] [TYPE:]FILE..."},
	{"aliases", cmd_aliases, "aliases [-f] [-i] [-N|-n] [-q KEY|-] [-s] [-d KEY|-] [[TYPE:]FILE...]"},
};

/* usage - list the commands */
static void usage(void)
{
	fprintf(stderr, "usage: sluice [-c config_dir] [-v] command [args...]\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %s\n", commands[i].usage);
	exit(EX_USAGE);
}

/* dispatch - run a subcommand by name */
static int dispatch(const char *config_dir, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) == 0) {
			cli_command_set(commands[i].name);
			return commands[i].fn(config_dir, argc, argv);
		}
	}
	cli_error(EX_USAGE, "unknown command \"%s\"", argv[0]);
	usage();
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	const char *config_dir = NULL;
	const char *base = strrchr(argv[0], '/');
	int i;

	base = base ? base + 1 : argv[0];
	log_init("sluice", LOG_FLAG_STDERR);

	/* Invoked as sendmail: everything is sendmail's (its -c would not be ours). */
	if (strcmp(base, "sendmail") == 0) {
		argv[0] = "sendmail";
		cli_command_set("sendmail");
		return cmd_sendmail(NULL, argc, argv);
	}
	/* Invoked as mailq: the queue listing. */
	if (strcmp(base, "mailq") == 0) {
		argv[0] = "queue";
		cli_command_set("mailq");
		return cmd_queue(NULL, argc, argv);
	}
	/* Global options, before the command. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config_dir = argv[++i];
		} else if (strcmp(argv[i], "-v") == 0) {
			msg_verbose++;
		} else if (strcmp(base, "newaliases") != 0) {
			usage();
		}
	}
	/* Invoked as newaliases: rebuild alias_database (-c and -v as above;
	 * other flags are ignored, as Postfix ignores them). */
	if (strcmp(base, "newaliases") == 0) {
		cli_command_set("newaliases");
		return cmd_newaliases(config_dir);
	}
	if (i >= argc)
		usage();
	return dispatch(config_dir, argc - i, argv + i);
}
