/*
 * mail_server - common daemon start-up (see mail_server.h).
 *
 * Each daemon's privileges are settled here in one place (OpenSMTPD
 * queue()): after configuration and logging are up, an unprivileged
 * service started by root switches to mail_owner for good.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "global/deliver_log.h"
#include "global/mail_conf.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "util/log.h"

static int status_fd = -1;
static pid_t master_pid;	/* our parent when master started us */

/* usage - complain about the command line */
static void usage(const char *progname)
{
	msg_fatal("usage: %s [-n service] [-t type] [-s count] [-u] [-v] [-o name=value]...", progname);
}

/* mail_server_init - options, configuration, logging */
void mail_server_init(int argc, char **argv, const char *progname,
		      struct mail_server_opts *opts)
{
	const char *error;
	char *eq;
	int ch, overrides_start;
	bool opts_has_listen, opts_has_status;

	log_init(progname, 0);
	signal(SIGPIPE, SIG_IGN);
	/* What master passed, before any log file can take descriptor 3 or 4. */
	opts_has_listen = fcntl(MAIL_SERVER_LISTEN_FD, F_GETFD) >= 0;
	opts_has_status = fcntl(MAIL_SERVER_STATUS_FD, F_GETFD) >= 0;
	memset(opts, 0, sizeof(*opts));
	opts->service = progname;
	opts->type = "unix";

	/* First pass: everything but -o, which needs the configuration. */
	opterr = 0;
	overrides_start = optind;
	while ((ch = getopt(argc, argv, "n:t:s:uvo:")) != -1) {
		switch (ch) {
		case 'n':
			opts->service = optarg;
			break;
		case 't':
			opts->type = optarg;
			break;
		case 's':
			opts->listen_count = atoi(optarg);
			if (opts->listen_count < 1 || opts->listen_count > 1000)
				usage(progname);
			break;
		case 'u':
			opts->unpriv = true;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'o':
			break;
		default:
			usage(progname);
		}
	}
	if (optind != argc)
		usage(progname);

	mail_conf_read_or_die(NULL);
	optind = overrides_start;
	while ((ch = getopt(argc, argv, "n:t:s:uvo:")) != -1) {
		if (ch != 'o')
			continue;
		if ((eq = strchr(optarg, '=')) == NULL)
			msg_fatal("-o %s: expected name=value", optarg);
		*eq = 0;
		if (mail_conf_override(optarg, eq + 1, &error) < 0)
			msg_fatal("-o %s: %s", optarg, error);
		*eq = '=';
	}
	mail_conf_set_process(progname, opts->service);
	if (log_configure(var_syslog_name, var_syslog_facility, var_maillog_file,
			  var_myhostname, &error) < 0)
		msg_warn("%s", error);
	deliver_log_set_resolution((int)var_delay_logging_resolution_limit);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);

	opts->has_listen_fd = opts_has_listen;
	if (opts->listen_count == 0)
		opts->listen_count = opts_has_listen ? 1 : 0;
	for (int i = 1; i < opts->listen_count; i++)
		fcntl(MAIL_SERVER_MORE_FD + i - 1, F_SETFD, FD_CLOEXEC);
	if (opts_has_status) {
		master_pid = getppid();
		status_fd = MAIL_SERVER_STATUS_FD;
		fcntl(status_fd, F_SETFD, FD_CLOEXEC);
	}
	if (opts->has_listen_fd)
		fcntl(MAIL_SERVER_LISTEN_FD, F_SETFD, FD_CLOEXEC);
}

/*
 * watch_master - end with master, as "sluice stop" would end us
 *
 * A daemon that outlived a killed master would go on beside the daemons of
 * the next "sluice start": two queue managers moving the same files, an
 * smtpd still accepting on the old socket.  The kernel sends SIGTERM when
 * master exits, which is what master's own stop sends (qmgr saves its state
 * and leaves active mail in place; the others stop where they are, as with
 * kill).  Set after the last credential change, which clears it; if master
 * is already gone (we were reparented, or it died before we could even ask:
 * then no one holds the read end of the status pipe) we stop now.
 */
static void watch_master(void)
{
	if (status_fd < 0)
		return;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		msg_warn("prctl PR_SET_PDEATHSIG: %s", strerror(errno));
	/* Gone before we looked at our parent: nobody reads the status pipe. */
	struct pollfd p = {.fd = status_fd, .events = 0};
	if (getppid() != master_pid || (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))) {
		msg_info("master went away; exiting");
		exit(0);
	}
}

/* mail_owner_ids - look up mail_owner */
int mail_owner_ids(uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw = getpwnam(var_mail_owner);

	if (pw == NULL)
		return -1;
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

/* mail_server_drop_privileges - become mail_owner; start-up is over */
void mail_server_drop_privileges(const struct mail_server_opts *opts, bool force)
{
	uid_t uid;
	gid_t gid;

	/*
	 * Configuration read, logging up: the first status message tells master
	 * this process started well, so losing it later is no reason to throttle
	 * the service.  "Idle" changes nothing master counts (a new process is
	 * idle until it says otherwise); a daemon that has no accept loop of its
	 * own (qmgr) sends no other message.
	 */
	mail_server_status(1);
	if (geteuid() != 0 || !(opts->unpriv || force)) {
		watch_master();
		return;
	}
	if (mail_owner_ids(&uid, &gid) < 0)
		msg_fatal("mail_owner: unknown user \"%s\"", var_mail_owner);
	if (uid == 0)
		msg_fatal("mail_owner \"%s\" must not be root", var_mail_owner);
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		msg_fatal("cannot become %s: %s", var_mail_owner, strerror(errno));
	if (setuid(0) == 0)
		msg_panic("privileges were not dropped");
	watch_master();
}

/* mail_server_wait_listen - one wake-up per client among the idle processes */
int mail_server_wait_listen(const int *fds, int count, int timeout_ms)
{
	static int ep = -1;
	struct epoll_event ev;
	int n;

	if (ep < 0) {
		if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
			return -1;
		for (int i = 0; i < count; i++) {
			ev.events = EPOLLIN | EPOLLEXCLUSIVE;
			ev.data.fd = fds[i];
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
				int err = errno;

				close(ep);
				ep = -1;
				errno = err;
				return -1;
			}
		}
	}
	if ((n = epoll_wait(ep, &ev, 1, timeout_ms)) == 0)
		errno = ETIMEDOUT;
	return n > 0 ? ev.data.fd : -1;
}

/*
 * mail_server_status - notify master of a change: a process that lost the
 * race for a client to another one waits again without a word (master
 * counts changes only).
 */
void mail_server_status(int avail)
{
	static int last = -1;
	struct mail_server_status st;

	if (status_fd < 0 || avail == last)
		return;
	last = avail;
	memset(&st, 0, sizeof(st));
	st.pid = getpid();
	st.avail = avail;
	if (write(status_fd, &st, sizeof(st)) != (ssize_t)sizeof(st))
		msg_warn("status message to master: %s", strerror(errno));
}
