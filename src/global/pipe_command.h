/*
 * pipe_command - run an external command for mail delivery: the message on
 * its standard input, its output captured for the delivery status, its
 * exit status judged as Postfix judges it, under a time limit.
 *
 * The command runs in its own session (process group), with a clean
 * environment (PATH=/usr/bin:/bin, the exported names, the caller's
 * additions), no descriptors but 0/1/2, and when this process is root with
 * the given uid/gid (never uid 0: refused).  A process that is not root
 * runs the command as itself.  When the time limit passes, the whole
 * process group is killed and the delivery deferred.
 *
 * Outcome (struct pipe_command_result):
 *   exit 0                         PIPE_STAT_OK       2.0.0
 *   killed by a signal             PIPE_STAT_DEFER    4.3.0
 *   time limit exceeded            PIPE_STAT_DEFER    4.3.0
 *   output starts "4.x.y text"     PIPE_STAT_DEFER    that status, text as reason
 *   output starts "5.x.y text"     PIPE_STAT_BOUNCE   that status, text as reason
 *   sysexits code (64..78)         DEFER or BOUNCE by sys_exits.h's table
 *   any other exit status          PIPE_STAT_BOUNCE   5.3.0
 *   exit 0 but writing its input failed (not EPIPE)   PIPE_STAT_DEFER 4.3.0
 * The reason text follows Postfix: "user unknown. Command output: ...",
 * "Command died with status 1: \"cmd\". Command output: ...".
 */
#ifndef SLUICE_PIPE_COMMAND_H
#define SLUICE_PIPE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

#define PIPE_STAT_OK		0
#define PIPE_STAT_DEFER		1
#define PIPE_STAT_BOUNCE	2

#define PIPE_COMMAND_OUTPUT_MAX	1024	/* output bytes kept for the reason */

struct pipe_command_io;

/* Write the message to the command: call pipe_command_write(); 0 or -1. */
typedef int pipe_command_feed_fn(struct pipe_command_io *io, void *ctx);

struct pipe_command_args {
	const char *command;		/* shown in reasons; run by /bin/sh -c when argv is NULL */
	char *const *argv;		/* executed directly (execvp) when not NULL */
	char *const *env;		/* "NAME=value" added to the clean environment, or NULL */
	const char *export_names;	/* names copied from our environment, or NAME=VALUE
					 * ("TZ LANG X=1", export_environment), or NULL */
	const char *cwd;		/* working directory; NULL = "/" */
	uid_t uid;			/* used only when running as root */
	gid_t gid;
	long time_limit;		/* seconds, > 0 */
	pipe_command_feed_fn *feed;	/* NULL: the command gets an empty input */
	void *ctx;
};

struct pipe_command_result {
	int stat;			/* PIPE_STAT_* */
	char status[16];		/* RFC 3463 */
	struct buf *reason;		/* caller frees with pipe_command_result_deinit() */
	char output[PIPE_COMMAND_OUTPUT_MAX + 1];	/* sanitised output */
};

/* pipe_command_run - run one command; always fills *res_r (returns its stat). */
int pipe_command_run(const struct pipe_command_args *args, struct pipe_command_result *res_r);
/* pipe_command_result_deinit - release the reason. */
void pipe_command_result_deinit(struct pipe_command_result *res);

/*
 * pipe_command_write - from a feed function: write n bytes to the command,
 * reading its output meanwhile, within the time limit.  0, or -1 when the
 * command stopped reading (EPIPE: not an error for the delivery), the time
 * ran out, or a write failed.
 */
int pipe_command_write(struct pipe_command_io *io, const void *data, size_t n);

/*
 * pipe_command_status - the pure judgement above: wait_status from
 * waitpid(), whether the time limit struck, the errno of a failed input
 * write (0 or EPIPE: none), the command text and its sanitised output.
 * Writes the status to status_r and the reason to reason (replacing it);
 * returns PIPE_STAT_*.
 */
int pipe_command_status(int wait_status, bool timed_out, int write_errno,
			const char *command, const char *output, char status_r[16],
			struct buf *reason);

/* pipe_command_sanitize - output as Postfix shows it: tabs and newlines
 * become spaces, other unprintable bytes '_', trailing space removed. */
void pipe_command_sanitize(char *text);

#endif
