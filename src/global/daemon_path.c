/*
 * daemon_path - locate daemons and agents (see daemon_path.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/daemon_path.h"
#include "util/mem.h"

/* self_dir - folder of /proc/self/exe */
const char *self_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0) {
		strcpy(dir, ".");
		return dir;
	}
	dir[n] = 0;
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = 0;
	return dir;
}

/* daemon_path - build tree sibling first, then daemon_directory */
char *daemon_path(const char *daemon_directory, const char *prog)
{
	const char *env = getenv("SLUICE_DAEMON_DIR");
	char *path;

	if (env && *env) {
		path = xasprintf("%s/%s", env, prog);
		if (access(path, X_OK) == 0)
			return path;
		free(path);
	}
	path = xasprintf("%s/%s", self_dir(), prog);
	if (access(path, X_OK) == 0)
		return path;
	free(path);
	return xasprintf("%s/%s", daemon_directory && *daemon_directory ?
			 daemon_directory : self_dir(), prog);
}

/* master_pid_path - process_id_directory/master.pid */
char *master_pid_path(const char *queue_dir, const char *pid_dir)
{
	if (pid_dir == NULL || *pid_dir == 0)
		pid_dir = "pid";
	if (*pid_dir == '/')
		return xasprintf("%s/master.pid", pid_dir);
	return xasprintf("%s/%s/master.pid", queue_dir, pid_dir);
}
