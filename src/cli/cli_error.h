/*
 * cli_error - the one way the sluice subcommands talk to the user about
 * trouble, and their exit statuses.
 *
 * Every message is one line on stderr that starts with "sluice: COMMAND: "
 * (COMMAND is the subcommand, or the name sluice was invoked as:
 * "sendmail", "mailq", "newaliases"); warnings add "warning: ".  Messages
 * that library code logs while a command runs (msg_warn, msg_fatal...) get
 * the same start through log_set_stderr_name().  A usage error prints the
 * command's synopsis as "usage: sluice SYNOPSIS" and yields EX_USAGE.
 *
 * Exit statuses are <sysexits.h>'s where the meaning matches (EX_USAGE,
 * EX_DATAERR, EX_NOINPUT, EX_UNAVAILABLE, EX_SOFTWARE, EX_OSERR,
 * EX_IOERR, EX_TEMPFAIL, EX_NOPERM, EX_CONFIG); CLI_EX_FAIL (1) is
 * Postfix's "some of it failed" / "not running", which sysexits lacks.
 * sendmail's statuses are a contract (75: try again later).
 */
#ifndef SLUICE_CLI_ERROR_H
#define SLUICE_CLI_ERROR_H

#include <sysexits.h>

#define CLI_EX_FAIL	1	/* partly failed, or "no" (status: not running) */

/* cli_command_set - the subcommand named in messages from now on (copied). */
void cli_command_set(const char *name);

/* cli_command - the subcommand set last ("" before any). Borrowed. */
const char *cli_command(void);

/* cli_error - "sluice: COMMAND: TEXT" on stderr (stdout flushed first);
 * returns status, so that "return cli_error(EX_CONFIG, ...)" reads well. */
int cli_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_warn - "sluice: COMMAND: warning: TEXT" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_verbose - "sluice: COMMAND: TEXT" on stderr, only with -v. */
void cli_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_usage - the problem (fmt may be NULL: none), then "usage: sluice
 * SYNOPSIS"; returns EX_USAGE. */
int cli_usage(const char *synopsis, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
