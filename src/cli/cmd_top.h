/*
 * cmd_top - the queue manager's live state: "sluice status --json" and
 * "sluice top".
 */
#ifndef SLUICE_CMD_TOP_H
#define SLUICE_CMD_TOP_H

/*
 * cmd_status_json - print the live state as one JSON object (docs/TOOLS.md,
 * docs/OBSERVABILITY.md).  master_pid is the running master (0: stopped:
 * prints {"running": false} and returns 1).  Exit status: 0, or 1 when the
 * queue manager cannot be asked.
 */
int cmd_status_json(const char *queue_dir, long master_pid);

/* cmd_top - "sluice top [-b] [-n N] [-d SECONDS]". */
int cmd_top(const char *config_dir, int argc, char **argv);

#endif
