/*
 * mail_server - start-up shared by every daemon master runs.
 *
 * master starts a daemon as "PROG -n SERVICE -t TYPE [-u] [-v] [-o
 * name=value]..." with:
 *   fd 3  the service's endpoint: a listening UNIX socket (type unix) or
 *         the read end of its FIFO (type fifo);
 *   fd 4  the write end of master's status pipe for this service;
 *   SLUICE_CONFIG_DIR   the configuration directory;
 *   SLUICE_MAILLOG_FD   the maillog descriptor master opened (when set).
 * An inet service bound to several addresses gets "-s N": its first
 * socket on fd 3, the others on fds 5, 6, ... (MAIL_SERVER_MORE_FD).
 * -u means "unprivileged" (master.cf's unpriv column): when started as root
 * the daemon becomes mail_owner after initialisation.
 *
 * Status messages tell master whether this process can take a new client
 * (Postfix's master status protocol): a process is "idle" while it waits
 * in accept() and "busy" while it serves a connection; master starts
 * another process only when none is idle and maxproc allows.  The first
 * message of a process, whatever it says, also tells master that its
 * start-up went well: only a process that exits abnormally before it has
 * sent any throttles its service (master_service.c).
 */
#ifndef SLUICE_MAIL_SERVER_H
#define SLUICE_MAIL_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#define MAIL_SERVER_LISTEN_FD	3
#define MAIL_SERVER_STATUS_FD	4
#define MAIL_SERVER_MORE_FD	5	/* inet: sockets 2..N of "-s N" */

struct mail_server_opts {
	const char *service;	/* -n, defaults to the program name */
	const char *type;	/* -t, "unix" or "fifo" */
	bool unpriv;		/* -u */
	bool has_listen_fd;	/* fd 3 is open */
	int listen_count;	/* -s N: fd 3, then fds 5 .. 5+N-2 (inet) */
};

/* Status message written to fd 4 (fixed size, one write). */
struct mail_server_status {
	pid_t pid;
	int avail;		/* 1 idle, 0 busy */
};

/*
 * mail_server_init - parse the standard options, read main.cf (from
 * SLUICE_CONFIG_DIR), apply -o overrides, name the process for logging and
 * set up logging. Fatal on any error.
 */
void mail_server_init(int argc, char **argv, const char *progname,
		      struct mail_server_opts *opts_r);
/* mail_server_drop_privileges - become mail_owner if root and -u was given
 * (or force is true). Fatal when the account is unknown.  Daemons call it
 * once their start-up is over; it also sends the first status message,
 * which master takes as "started" (a process that dies before any status
 * message throttles its service for service_throttle_time). */
void mail_server_drop_privileges(const struct mail_server_opts *opts, bool force);
/* mail_server_status - tell master we are idle (1) or busy (0). */
void mail_server_status(int avail);
/*
 * mail_server_wait_listen - wait up to timeout_ms for a client on one of
 * the count listening sockets in fds (the same set at every call).  Of a
 * service's idle processes the kernel wakes one per client
 * (EPOLLEXCLUSIVE), not every one.  The ready descriptor (the accept may
 * still find no client); -1 with errno ETIMEDOUT, EINTR or another.  A
 * process that wakes and does not accept leaves the client waiting for the
 * next wake-up of some process.
 */
int mail_server_wait_listen(const int *fds, int count, int timeout_ms);
/* mail_owner_ids - uid/gid of mail_owner; 0 ok, -1 unknown. */
int mail_owner_ids(uid_t *uid_r, gid_t *gid_r);

#endif
