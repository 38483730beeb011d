/*
 * master - the sluice supervisor (Postfix master(8)).
 *
 * Runs the services of master.cf within their process limits, restarts
 * children that die (with a growing pause), sends wakeups, re-reads the
 * configuration on SIGHUP and stops everything on SIGTERM/SIGINT.  One
 * master per queue directory: master.pid in process_id_directory (pid/ of
 * the queue directory by default) is locked for as long as it runs, which
 * is what "sluice status" and a second "start" look at.
 *
 * Usage: master [-c config_dir] [-f] [-v]
 *   -f  stay in the foreground (otherwise detach once ready; the parent
 *       exits 0 only when the master is up).
 *
 * DIAGNOSTICS: start-up problems are fatal with a message on stderr and
 * in the log; trouble with one service is logged and that service waits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/counters.h"
#include "global/daemon_path.h"
#include "global/mail_conf.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "master.h"
#include "util/argv.h"
#include "util/clean_env.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

char *master_config_dir;
static int pid_fd = -1;
static char *pid_path;
static volatile int stopping;

/*
 * Root gives the queue folders to mail_owner, and mail_owner may change
 * what is inside them: below queue_directory (root's), every step is an
 * open() that follows no link, and owners and modes are set with fchown()
 * and fchmod() on what was opened, never by name.
 */

/* chown_tree_fd - give folder fd and its hash subfolders (depth levels) to uid:gid */
static void chown_tree_fd(int fd, const char *path, uid_t uid, gid_t gid, int depth)
{
	DIR *dir;
	struct dirent *dp;
	int sub, dup_fd;

	if (fchown(fd, uid, gid) < 0)
		msg_fatal("set owner of %s: %s", path, strerror(errno));
	if (depth <= 0 || (dup_fd = dup(fd)) < 0)
		return;
	if ((dir = fdopendir(dup_fd)) == NULL) {
		close(dup_fd);
		return;
	}
	while ((dp = readdir(dir)) != NULL) {
		char sub_path[4096];

		/* Hash levels are one-character folders; files keep their owner. */
		if (dp->d_name[0] == '.' || dp->d_name[1] != 0)
			continue;
		/* A link or a file in a folder's place is left alone. */
		sub = openat(dirfd(dir), dp->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (sub < 0)
			continue;
		snprintf(sub_path, sizeof(sub_path), "%s/%s", path, dp->d_name);
		chown_tree_fd(sub, sub_path, uid, gid, depth - 1);
		close(sub);
	}
	closedir(dir);
}

/* folder_open - a queue folder under queue_directory, not through a link */
static int folder_open(const char *name, char *path, size_t size)
{
	int fd;

	snprintf(path, size, "%s/%s", var_queue_directory, name);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		msg_fatal("open %s: %s", path, strerror(errno));
	return fd;
}

/* folder_set - owner and mode of a queue folder */
static void folder_set(const char *name, uid_t uid, gid_t gid, mode_t mode, int depth)
{
	char path[4096];
	int fd = folder_open(name, path, sizeof(path));

	chown_tree_fd(fd, path, uid, gid, depth);
	if (fchmod(fd, mode) < 0)
		msg_fatal("set mode of %s: %s", path, strerror(errno));
	close(fd);
}

/* master_owner_setup - folders and modes, as Postfix's post-install would */
static void master_owner_setup(void)
{
	static const char *private_dirs[] = {"incoming", "active", "deferred", "hold",
		"corrupt", "bounce", "defer", "trace", "private", NULL};
	uid_t uid = geteuid();
	gid_t gid = getegid(), drop_gid;
	struct group *gr;
	const char *error;

	if (queue_dirs_create(var_queue_directory, &error) < 0)
		msg_fatal("queue_directory %s: %s", var_queue_directory, error);
	if (geteuid() != 0) {
		/* An unprivileged instance: everything belongs to the invoking user. */
		char path[4096];
		int fd = folder_open("maildrop", path, sizeof(path));

		(void)fchmod(fd, 01730);
		close(fd);
		return;
	}
	if (mail_owner_ids(&uid, &gid) < 0)
		msg_fatal("mail_owner: unknown user \"%s\" (scripts/setup creates it)",
			  var_mail_owner);
	drop_gid = (gr = getgrnam(var_setgid_group)) ? gr->gr_gid : gid;
	for (const char **d = private_dirs; *d; d++)
		folder_set(*d, uid, gid, 0700, 4);
	/* Submitters write through set-gid postdrop; sticky: only owners remove. */
	folder_set("maildrop", uid, drop_gid, 01730, 0);
	/*
	 * public/ holds what any local user may reach: the trigger FIFOs (mode
	 * 0622) and the showq socket.  Search permission only, no listing.
	 */
	folder_set("public", uid, drop_gid, 0711, 0);
	folder_set("pid", 0, 0, 0755, 0);
}

/*
 * master_counters_create - a new, zeroed event counters file for this run
 * (global/counters.h), which every process may add to and the metrics
 * service reads; without it nothing is counted, and nothing else fails.
 */
static void master_counters_create(void)
{
	char *path = counters_path();
	const char *error;
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (uid == 0 && mail_owner_ids(&uid, &gid) < 0)
		uid = 0, gid = 0;
	if (counters_create(path, uid, gid, &error) < 0)
		msg_warn("event counters: %s; the metrics service will lack them", error);
	free(path);
}

/* master_lock_pid - one master per queue directory */
static void master_lock_pid(void)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char buf[32], *dir, *slash;

	pid_path = master_pid_path(var_queue_directory, var_process_id_directory);
	dir = xstrdup(pid_path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = 0;
		if (mkdir_p(dir, 0755) < 0)
			msg_fatal("process_id_directory: create %s: %s", dir, strerror(errno));
	}
	free(dir);
	if ((pid_fd = open(pid_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
		msg_fatal("open %s: %s", pid_path, strerror(errno));
	if (fcntl(pid_fd, F_SETLK, &fl) < 0) {
		if (errno == EACCES || errno == EAGAIN) {
			fl.l_type = F_WRLCK;
			if (fcntl(pid_fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
				msg_fatal("the sluice mail system is already running (pid %ld)",
					  (long)fl.l_pid);
			msg_fatal("the sluice mail system is already running");
		}
		msg_fatal("lock %s: %s", pid_path, strerror(errno));
	}
	snprintf(buf, sizeof(buf), "%10ld\n", (long)getpid());
	if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, buf, strlen(buf), 0) < 0)
		msg_fatal("write %s: %s", pid_path, strerror(errno));
}

/* master_sigchld - reap children */
static void master_sigchld(int event, void *ctx)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		master_child_exited(pid, status);
}

/* master_stop - end every child, then ourselves */
static void master_stop(int event, void *ctx)
{
	int sig = (int)(long)ctx;
	double deadline;
	pid_t pid;
	int status;

	if (stopping++)
		return;
	msg_info("terminating on signal %d", sig);
	master_notify_stopping();
	master_services_stop();
	master_children_signal(SIGTERM, true);
	deadline = mono_time() + 10;
	while (master_children_count() > 0 && mono_time() < deadline) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0)
			master_child_exited(pid, status);
		else
			usleep(20000);
	}
	if (master_children_count() > 0) {
		msg_warn("%ld processes did not stop in time; killing them",
			 master_children_count());
		master_children_signal(SIGKILL, true);
		while ((pid = waitpid(-1, &status, 0)) > 0)
			master_child_exited(pid, status);
	}
	(void)unlink(pid_path);
	exit(0);
}

/* master_reload - SIGHUP */
static void master_reload(int event, void *ctx)
{
	const char *error;

	if (mail_conf_read(master_config_dir, &error) < 0) {
		msg_warn("reload: %s; keeping the running configuration", error);
		return;
	}
	msg_info("reload -- configuration %s",
		 mail_conf_dir() ? mail_conf_dir() : "(embedded default)");
	master_notify_reloading();
	master_services_config(true);
	master_notify_ready();
}

/*
 * master_clean_env - import_environment: what daemons may see of ours
 *
 * Everything else goes before any daemon starts.  The variables sluice
 * itself passes to daemons (SLUICE_CONFIG_DIR, SLUICE_MAILLOG_FD) are set
 * again by master afterwards, whatever the list says.  A sanitizer build
 * keeps the sanitizers' options, so a test's settings reach every process.
 */
static void master_clean_env(void)
{
	struct argv *keep = argv_split(var_import_environment, ", \t\r\n");

#if defined(__SANITIZE_ADDRESS__)
	argv_add(keep, "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", (char *)NULL);
#endif
	clean_env(keep->argv);
	argv_free(&keep);
}

/* export_log_fd - let children write to the maillog master opened */
static void export_log_fd(void)
{
	char buf[16];
	int fd = log_fd();

	if (fd > 2) {
		/* Out of the way of the descriptors children get (3 and 4). */
		int high = fcntl(fd, F_DUPFD, 20);

		if (high < 0)
			msg_fatal("dup maillog descriptor: %s", strerror(errno));
		log_set_fd(high);
		close(fd);
		fd = high;
		set_cloexec(fd, false);
		snprintf(buf, sizeof(buf), "%d", fd);
		setenv("SLUICE_MAILLOG_FD", buf, 1);
	} else {
		unsetenv("SLUICE_MAILLOG_FD");
	}
}

/* detach - background the master; the parent reports how start-up went */
static int detach(void)
{
	int p[2];
	pid_t pid;
	char ok;

	if (pipe(p) < 0)
		msg_fatal("pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		msg_fatal("fork: %s", strerror(errno));
	if (pid > 0) {
		close(p[1]);
		/* The child writes one byte once it is up; EOF means it died. */
		if (read(p[0], &ok, 1) == 1)
			_exit(0);
		_exit(1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

int main(int argc, char **argv)
{
	bool foreground = false;
	const char *error;
	int ch, ready_fd = -1, null_fd;

	log_init("master", LOG_FLAG_STDERR);
	master_notify_init();
	while ((ch = getopt(argc, argv, "c:fv")) != -1) {
		switch (ch) {
		case 'c':
			master_config_dir = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			msg_fatal("usage: master [-c config_dir] [-f] [-v]");
		}
	}
	if (mail_conf_read(master_config_dir, &error) < 0)
		msg_fatal("%s", error);
	master_clean_env();
	/* Children read the same configuration (none: the embedded default). */
	if (mail_conf_dir()) {
		master_config_dir = xstrdup(mail_conf_dir());
		setenv("SLUICE_CONFIG_DIR", master_config_dir, 1);
	} else {
		unsetenv("SLUICE_CONFIG_DIR");
	}
	mail_conf_set_process("master", "master");
	/* The embedded default keeps its maillog under ./var/log: make the folder. */
	if (*var_maillog_file && strcmp(var_maillog_file, "-") != 0) {
		char *dir = xstrdup(var_maillog_file), *slash = strrchr(dir, '/');

		if (slash && slash != dir) {
			*slash = 0;
			if (mkdir_p(dir, 0755) < 0)
				msg_warn("create %s: %s", dir, strerror(errno));
		}
		free(dir);
	}
	if (mkdir_p(var_queue_directory, 0755) < 0)
		msg_fatal("create queue_directory %s: %s", var_queue_directory, strerror(errno));
	if (log_configure(var_syslog_name, var_syslog_facility, var_maillog_file,
			  var_myhostname, &error) < 0)
		msg_fatal("%s", error);
	export_log_fd();
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
	umask(022);
	master_owner_setup();

	if (!foreground)
		ready_fd = detach();
	master_lock_pid();
	master_counters_create();
	ev_init();
	ev_signal(SIGCHLD, master_sigchld, NULL);
	ev_signal(SIGTERM, master_stop, (void *)(long)SIGTERM);
	ev_signal(SIGINT, master_stop, (void *)(long)SIGINT);
	ev_signal(SIGHUP, master_reload, NULL);
	signal(SIGPIPE, SIG_IGN);
	master_services_config(false);
	msg_info("daemon started -- configuration %s",
		 master_config_dir ? master_config_dir : "(embedded default)");
	master_notify_ready();

	if (ready_fd >= 0) {
		/* Up: release the parent, and stop using the terminal. */
		if (write(ready_fd, "", 1) != 1)
			msg_warn("cannot notify the starting process");
		close(ready_fd);
		if ((null_fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(null_fd, 0);
			dup2(null_fd, 1);
			if (log_fd() != 2)
				dup2(null_fd, 2);
			if (null_fd > 2)
				close(null_fd);
		}
	}
	for (;;)
		ev_run_once(-1);
}
