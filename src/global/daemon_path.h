/*
 * daemon_path - where the daemons and agents are.
 *
 * An installed sluice keeps them under daemon_directory; a build tree keeps
 * them next to build/sluice.  The build tree wins when the running program
 * has a sibling of that name, so "build/sluice start" needs no set-up.
 */
#ifndef SLUICE_DAEMON_PATH_H
#define SLUICE_DAEMON_PATH_H

/* daemon_path - full path of program prog. Caller frees with free(). */
char *daemon_path(const char *daemon_directory, const char *prog);
/* self_dir - directory of the running executable. Borrowed, static. */
const char *self_dir(void);

#endif
