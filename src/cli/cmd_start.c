/*
 * cmd_start - start, stop, reload and status of the whole system.
 *
 * The running master is the process holding the lock on master.pid in
 * process_id_directory (pid/ of queue_directory by default); that lock, not the file's contents, is
 * the truth (a stale file from a crash does not count).
 *
 * Exit status: 0 done; 1 not done (already running, not running, master
 * failed to start); 64 usage; 78 configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_start.h"
#include "cmd_top.h"
#include "global/daemon_path.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/log.h"
#include "util/mem.h"

/* master_running - who holds the pid file lock */
long master_running(const char *queue_dir)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char *path = master_pid_path(queue_dir, var_process_id_directory);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	long pid = 0;

	free(path);
	if (fd < 0)
		return 0;
	/* F_GETLK needs a descriptor open for the lock type it tests. */
	fl.l_type = F_RDLCK;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = (long)fl.l_pid;
	close(fd);
	return pid;
}

/* read_config - configuration for a control command; 0 or EX_CONFIG */
static int read_config(const char *config_dir)
{
	const char *error;

	if (mail_conf_read(config_dir, &error) < 0)
		return cli_error(EX_CONFIG, "%s", error);
	return EX_OK;
}

/* cmd_start - exec master (it detaches unless -f) */
int cmd_start(const char *config_dir, int argc, char **argv)
{
	struct argv *a = argv_create();
	bool foreground = false;
	char *path;
	long pid;
	int rc;

	cli_command_set(argv[0]);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0)
			foreground = true;
		else
			return cli_usage("[-c dir] start [-f]", NULL);
	}
	if ((rc = read_config(config_dir)) != EX_OK)
		return rc;
	if ((pid = master_running(var_queue_directory)) != 0)
		return cli_error(CLI_EX_FAIL, "the sluice mail system is already running (pid %ld)",
				 pid);
	path = daemon_path(var_daemon_directory, "master");
	argv_add(a, "master", NULL);
	if (mail_conf_dir())
		argv_add(a, "-c", mail_conf_dir(), NULL);
	if (foreground)
		argv_add(a, "-f", NULL);
	if (msg_verbose)
		argv_add(a, "-v", NULL);
	if (!foreground)
		msg_info("starting the sluice mail system");
	execv(path, a->argv);
	return cli_error(CLI_EX_FAIL, "exec %s: %s", path, strerror(errno));
}

/* wait_gone - wait until the master has let go of its lock */
static int wait_gone(const char *queue_dir, double seconds)
{
	for (int i = 0; i < (int)(seconds * 20); i++) {
		if (master_running(queue_dir) == 0)
			return 0;
		usleep(50000);
	}
	return -1;
}

/* process_gone - has pid exited (a zombie counts as gone)? */
static bool process_gone(long pid)
{
	char path[64], buf[256], *cp;
	FILE *fp;
	bool gone = true;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
	if (fgets(buf, sizeof(buf), fp) && (cp = strrchr(buf, ')')) != NULL)
		gone = cp[1] == ' ' && cp[2] == 'Z';
	fclose(fp);
	return gone;
}

/* cmd_stop - SIGTERM the master and wait for it */
int cmd_stop(const char *config_dir, int argc, char **argv)
{
	long pid;
	int rc;

	cli_command_set(argv[0]);
	if (argc != 1)
		return cli_usage("[-c dir] stop", NULL);
	if ((rc = read_config(config_dir)) != EX_OK)
		return rc;
	if ((pid = master_running(var_queue_directory)) == 0)
		return cli_error(CLI_EX_FAIL, "the sluice mail system is not running");
	msg_info("stopping the sluice mail system");
	if (kill((pid_t)pid, SIGTERM) < 0)
		return cli_error(CLI_EX_FAIL, "signal master (pid %ld): %s", pid, strerror(errno));
	if (wait_gone(var_queue_directory, 60) < 0)
		return cli_error(CLI_EX_FAIL, "the sluice mail system did not stop within 60 seconds");
	/* The lock goes first; wait for the process itself too. */
	for (int i = 0; i < 200 && !process_gone(pid); i++)
		usleep(50000);
	return 0;
}

/* cmd_reload - SIGHUP the master */
int cmd_reload(const char *config_dir, int argc, char **argv)
{
	long pid;
	int rc;

	cli_command_set(argv[0]);
	if (argc != 1)
		return cli_usage("[-c dir] reload", NULL);
	if ((rc = read_config(config_dir)) != EX_OK)
		return rc;
	if ((pid = master_running(var_queue_directory)) == 0)
		return cli_error(CLI_EX_FAIL, "the sluice mail system is not running");
	msg_info("refreshing the sluice mail system");
	if (kill((pid_t)pid, SIGHUP) < 0)
		return cli_error(CLI_EX_FAIL, "signal master (pid %ld): %s", pid, strerror(errno));
	return 0;
}

/* cmd_status - is it running?  --json: the live state (cmd_top.c) */
int cmd_status(const char *config_dir, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	long pid;
	int rc;

	cli_command_set(argv[0]);
	if (argc != 1 && !json)
		return cli_usage("[-c dir] status [--json]", NULL);
	if ((rc = read_config(config_dir)) != EX_OK)
		return rc;
	pid = master_running(var_queue_directory);
	if (json)
		return cmd_status_json(var_queue_directory, pid);
	if (pid == 0) {
		printf("sluice: the sluice mail system is not running\n");
		return CLI_EX_FAIL;
	}
	printf("sluice: the sluice mail system is running: PID: %ld\n", pid);
	return EX_OK;
}
