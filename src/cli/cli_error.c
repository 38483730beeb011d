/*
 * cli_error - one printer for the subcommands' errors, warnings, verbose
 * lines and usage messages (contract in cli_error.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli_error.h"
#include "util/log.h"

static char command[64];		/* "" until cli_command_set() */

/* cli_command_set - name the running subcommand in every message */
void cli_command_set(const char *name)
{
	char prefix[sizeof(command) + 16];

	snprintf(command, sizeof(command), "%s", name ? name : "");
	snprintf(prefix, sizeof(prefix), "sluice%s%s", command[0] ? ": " : "", command);
	log_set_stderr_name(prefix);
}

/* cli_command - the running subcommand */
const char *cli_command(void)
{
	return command;
}

/* vprint - one line: "sluice: COMMAND: " what text */
static void vprint(const char *what, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "sluice: %s%s%s", command, command[0] ? ": " : "", what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* cli_error - print the problem, return the status */
int cli_error(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("", fmt, ap);
	va_end(ap);
	return status;
}

/* cli_warn - print a warning */
void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("warning: ", fmt, ap);
	va_end(ap);
}

/* cli_verbose - print with -v only */
void cli_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!msg_verbose)
		return;
	va_start(ap, fmt);
	vprint("", fmt, ap);
	va_end(ap);
}

/* cli_usage - the problem and the synopsis; EX_USAGE */
int cli_usage(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vprint("", fmt, ap);
		va_end(ap);
	}
	fflush(stdout);
	fprintf(stderr, "usage: sluice %s\n", synopsis);
	return EX_USAGE;
}
