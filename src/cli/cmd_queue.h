/*
 * cmd_queue - "sluice queue [--json]" (mailq, postqueue -p / -j, sendmail
 * -bp), and the queue-folder helpers the other queue tools share.
 *
 * The listing is global/queue_list.h's (the folder scanner and the
 * formatter live there too, shared with showq and the other tools).
 */
#ifndef SLUICE_CMD_QUEUE_H
#define SLUICE_CMD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "global/queue_list.h"

struct buf;

/* Exit statuses (sysexits) used by the queue tools. */
#define CMD_EX_OK	0
#define CMD_EX_FAIL	1
#define CMD_EX_USAGE	64
#define CMD_EX_SOFTWARE	70
#define CMD_EX_IOERR	74
#define CMD_EX_TEMPFAIL	75
#define CMD_EX_CONFIG	78

/*
 * cmd_queue - list the queue; argv[0] is the command name ("queue",
 * "mailq"), then optionally "--json" (or "-j").  Returns the exit status:
 * 0, 64 usage, 74 output error, 78 configuration error.
 */
int cmd_queue(const char *config_dir, int argc, char **argv);

/* ---- shared by the queue tools (cmd_super, cmd_shape, ...) ---- */

/*
 * cmd_queue_setup - read the configuration, set up queue hashing, and give
 * the queue directory (borrowed from the configuration).  Returns 0, or an
 * exit status after printing "sluice: fatal: ..." on stderr.
 */
int cmd_queue_setup(const char *config_dir, const char **queue_dir_r);

/* cmd_fail - print "sluice: fatal: TEXT" on stderr and return status. */
int cmd_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
