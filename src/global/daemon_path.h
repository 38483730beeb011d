/*
 * daemon_path - where the daemons and agents are.
 *
 * An installed sluice keeps them under daemon_directory; a build tree keeps
 * them next to build/sluice.  The build tree wins when the running program
 * has a sibling of that name, so "build/sluice start" needs no set-up.
 * master's pid file is found here too, for master and the commands that
 * look for it (start, stop, status).
 */
#ifndef SLUICE_DAEMON_PATH_H
#define SLUICE_DAEMON_PATH_H

/* daemon_path - full path of program prog. Caller frees with free(). */
char *daemon_path(const char *daemon_directory, const char *prog);
/*
 * master_pid_path - where master's pid file is: pid_dir/master.pid, with
 * pid_dir (process_id_directory) relative to queue_dir unless it is an
 * absolute path.  Caller frees with free().
 */
char *master_pid_path(const char *queue_dir, const char *pid_dir);
/* self_dir - directory of the running executable. Borrowed, static. */
const char *self_dir(void);

#endif
