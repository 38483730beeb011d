/*
 * postdrop - the set-gid helper that writes maildrop files for users.
 *
 * No sluice program is set-uid.  maildrop/ (mode 1730, group
 * $setgid_group) is writable by its owner and by that group only, so a
 * user who is neither root nor the mail system's owner submits through
 * this program, installed set-gid $setgid_group (the install step does
 * "chgrp sluicedrop postdrop; chmod g+s postdrop").  sendmail runs it as
 *
 *   postdrop [-c CONFIG_DIR] [-v]
 *
 * with a submission stream (submission.h) on stdin.  postdrop checks the
 * stream strictly, writes the maildrop file (queue file writer: temporary
 * name, fsync, rename), wakes pickup, and exits 0 only once the file is
 * durable.  It prints nothing on success.
 *
 * Privilege rules (in force when the set-gid bit took effect, i.e. the
 * effective group differs from the real one, and the caller is not root):
 *   - the environment is discarded first (only a fixed PATH and TZ remain),
 *     so SLUICE_CONFIG_DIR is ignored;
 *   - "-c DIR" is accepted only when DIR is the default configuration
 *     directory /etc/sluice or one listed in alternate_config_directories
 *     of /etc/sluice/main.cf (by name, or the same folder by identity);
 *     another directory is refused with status 77, because its main.cf
 *     could point queue_directory at any folder the group may write.  The
 *     folder is opened once and main.cf and master.cf are read through
 *     that descriptor (/proc/self/fd/N), so what was checked is what is
 *     read, even if someone renames or replaces folders meanwhile;
 *   - a relative queue_directory (the embedded "./var/spool") is refused
 *     with status 78: it would be relative to the caller's working folder.
 * Without the set-gid bit in effect postdrop has no more rights than its
 * caller and accepts any configuration (a developer's build tree).
 *
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT are held except while waiting for
 * input; one arriving then makes postdrop remove its partial file and exit
 * 75 silently.  A fatal error removes it too (or, if postdrop dies
 * outright, pickup's sweep of "tmp." files older than temp_file_max_age
 * does).  The whole submission must arrive within daemon_timeout (a
 * watchdog, as Postfix daemons have for one request): after that postdrop
 * removes its partial file and exits 75.  daemon_timeout (default 5 h) is
 * below temp_file_max_age (default 1 d), so the sweep never takes the file
 * of a postdrop still running.
 *
 * Before anything is read, new mail is refused (75) while the queue file
 * system is short of space (queue_minfree, cleanup_space_check()); while
 * reading, an envelope over cleanup's cap is refused (65).
 *
 * Exit status (sysexits): 0 queued, 64 usage, 65 malformed or refused
 * submission, 75 temporary failure or interrupted, 77 permission, 78
 * configuration.  Diagnostics go to stderr as "postdrop: fatal: ...".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "global/cleanup/cleanup.h"
#include "global/cleanup/submission.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/trigger.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define DEFAULT_CONFIG_DIR	"/etc/sluice"

static volatile sig_atomic_t interrupted;
static sigset_t wait_mask;		/* the mask while waiting for input */
static double deadline;			/* wall time the submission must end by */
static bool timed_out;

/*
 * Sanitizer builds: LeakSanitizer cannot inspect a set-gid process (it is
 * not dumpable) and would turn every exit into a failure; the hook below
 * switches leak checks off only while the set-gid bit is in effect.  In
 * other builds nothing calls it.
 */
const char *__lsan_default_options(void);

/* __lsan_default_options - sanitizer runtime hook (see above) */
const char *__lsan_default_options(void)
{
	return getegid() != getgid() ? "detect_leaks=0" : "";
}

/* die - print a diagnostic and exit */
__attribute__((noreturn, format(printf, 2, 3)))
static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("postdrop: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* sanitize - standard descriptors open, nothing else; known environment */
static void sanitize(void)
{
	const char *tz = getenv("TZ");
	char *tz_copy = NULL;
	struct stat st;
	int fd;

	for (fd = 0; fd < 3; fd++) {
		if (fstat(fd, &st) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(EX_OSERR);
	}
	closefrom(3);
	umask(077);

	/* TZ only shapes the Date: header; keep it when it is sane. */
	if (tz && strlen(tz) < 64 && strchr(tz, '/') == NULL)
		tz_copy = strdup(tz);
	if (clearenv() != 0)
		_exit(EX_OSERR);
	setenv("PATH", "/usr/bin:/bin", 1);
	if (tz_copy) {
		setenv("TZ", tz_copy, 1);
		free(tz_copy);
	}
}

/* on_signal - remember; the read loop acts on it */
static void on_signal(int sig)
{
	interrupted = sig;
}

/* signals_hold - catch the terminating signals, hold them outside the wait */
static void signals_hold(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(&wait_mask, sigs[i]);
}

/* read_stdin - submission_read_fn: signals are let in only while waiting */
static ssize_t read_stdin(void *ctx, void *buf, size_t n)
{
	struct pollfd pfd = {.fd = 0, .events = POLLIN};
	struct timespec ts;
	double left;
	ssize_t got;
	int ready;

	for (;;) {
		if (interrupted)
			return -1;
		if ((left = deadline - wall_time()) <= 0) {
			timed_out = true;
			return -1;
		}
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		if ((ready = ppoll(&pfd, 1, &ts, &wait_mask)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (ready == 0)
			continue;	/* the deadline check above ends it */
		if ((got = read(0, buf, n)) < 0 && errno == EINTR)
			continue;
		return got;
	}
}

/* same_inode - do two stat results describe one folder? */
static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* fd_dir - the name through which a folder's descriptor is read again */
static const char *fd_dir(int fd)
{
	static char path[40];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return path;
}

/*
 * listed_alternate - is the folder open on fd (named name) in the
 * alternate_config_directories of the default main.cf (open on def_fd)?
 * A list entry matches by name or by folder identity.
 */
static bool listed_alternate(int def_fd, int fd, const char *name)
{
	struct stat st, est;
	const char *why;
	char *list, *entry, *save = NULL;
	bool found = false;

	if (def_fd < 0 || fstat(fd, &st) < 0)
		return false;
	if (mail_conf_read(fd_dir(def_fd), &why) < 0)
		die(EX_CONFIG, "%s/main.cf: %s", DEFAULT_CONFIG_DIR, why);
	list = xstrdup(var_alternate_config_directories);
	for (entry = strtok_r(list, ", \t\n", &save); entry && !found;
	     entry = strtok_r(NULL, ", \t\n", &save)) {
		if (*entry != '/')
			continue;	/* only absolute names mean one place */
		found = strcmp(entry, name) == 0
		    || (stat(entry, &est) == 0 && S_ISDIR(est.st_mode) && same_inode(&st, &est));
	}
	free(list);
	return found;
}

/*
 * privileged_config - the configuration folder a set-gid postdrop may use,
 * opened once; returns the name to read it through.  Exits 77 for a folder
 * that is neither the default nor listed.
 */
static const char *privileged_config(const char *config_dir)
{
	int def_fd, fd;
	struct stat ds, st;

	def_fd = open(DEFAULT_CONFIG_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (config_dir == NULL)
		return def_fd < 0 ? NULL : fd_dir(def_fd);
	if ((fd = open(config_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(EX_CONFIG, "configuration directory %s: %s", config_dir, strerror(errno));
	if (fstat(fd, &st) < 0)
		die(EX_OSERR, "fstat %s: %s", config_dir, strerror(errno));
	if (def_fd >= 0 && fstat(def_fd, &ds) == 0 && same_inode(&ds, &st)) {
		close(fd);
		return fd_dir(def_fd);
	}
	if (!listed_alternate(def_fd, fd, config_dir))
		die(EX_NOPERM, "%s: only the default configuration directory %s may be used "
		    "by users other than root, or one listed in its alternate_config_directories",
		    config_dir, DEFAULT_CONFIG_DIR);
	if (def_fd >= 0)
		close(def_fd);
	return fd_dir(fd);
}

/* main - sanitize, check the caller's rights, receive, wake pickup */
int main(int argc, char **argv)
{
	const char *config_dir = NULL, *why;
	char id[QUEUE_ID_SIZE];
	bool privileged;
	int ch, status;

	sanitize();
	log_init("postdrop", LOG_FLAG_STDERR);
	privileged = getegid() != getgid() && getuid() != 0;

	while ((ch = getopt(argc, argv, "c:v")) != -1) {
		switch (ch) {
		case 'c':
			config_dir = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			die(EX_USAGE, "usage: postdrop [-c config_dir] [-v]");
		}
	}
	if (optind != argc)
		die(EX_USAGE, "usage: postdrop [-c config_dir] [-v]");

	/* Privileges: the default configuration or a listed one, opened once. */
	if (privileged)
		config_dir = privileged_config(config_dir);
	if (mail_conf_read(config_dir, &why) < 0)
		die(EX_CONFIG, "%s", why);
	if (privileged && var_queue_directory[0] != '/')
		die(EX_CONFIG, "queue_directory \"%s\" is not an absolute path",
		    var_queue_directory);
	if (cleanup_space_check(var_queue_directory, &why) < 0)
		die(EX_TEMPFAIL, "%s", why + 6);

	deadline = wall_time() + (double)var_daemon_timeout;
	signals_hold();
	if (submission_receive(read_stdin, NULL, var_queue_directory, var_message_size_limit,
			       id, &status, &why) < 0) {
		if (interrupted)
			return EX_TEMPFAIL;
		if (timed_out)
			die(EX_TEMPFAIL, "timeout: the submission did not arrive within "
			    "daemon_timeout (%ld seconds)", var_daemon_timeout);
		die(status, "%s", why);
	}
	msg_debug("maildrop file %s", id);

	/* Wake pickup; a stopped system finds the file when it starts. */
	if (trigger_send(var_queue_directory, TRIGGER_PICKUP, TRIGGER_REQ_WAKEUP, 1, &why) < 0)
		msg_debug("pickup trigger: %s", why);
	return 0;
}
