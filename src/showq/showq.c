/*
 * showq - the queue listing for users who may not read the queue folders
 * (Postfix showq(8)).
 *
 * The queue folders are mode 0700, owned by mail_owner, so "sluice queue"
 * (mailq) run by an ordinary user cannot read them.  It then connects to
 * public/showq instead; this service, running as mail_owner, writes the
 * listing into the connection.  The request is one line: "p" for the
 * mailq layout, "j" for JSON lines.  One listing per connection.
 *
 * It prints exactly what "sluice queue" prints (the same code:
 * global/queue_list.c), so the two can never disagree.
 *
 * A client that asks and then does not read must not pin the process: the
 * whole listing has ipc_timeout to go out (Postfix's limit for showq).
 * When it runs out, a SIGALRM handler shuts the connection down, so the
 * blocked write and every later one fail at once; the listing is abandoned
 * with a warning and the process takes the next client.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "global/mail_conf.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/queue_list.h"
#include "util/iostuff.h"
#include "util/log.h"

/* The connection being written to, for the time-out handler. */
static volatile sig_atomic_t client_fd = -1;
static volatile sig_atomic_t timed_out;

/* write_timeout - ipc_timeout is over: end the connection (async-signal-safe) */
static void write_timeout(int sig)
{
	if (client_fd >= 0)
		(void)shutdown(client_fd, SHUT_RDWR);
	timed_out = 1;
}

/* serve - one listing into one connection */
static void serve(int fd)
{
	struct sigaction sa;
	char req[8] = "";
	const char *error = NULL;
	ssize_t n;
	bool json;

	/* The request is tiny and comes at once; do not wait long for it. */
	if ((n = read_timeout(fd, req, sizeof(req) - 1, 5000)) <= 0)
		return;
	req[n] = 0;
	if (req[0] != 'j' && req[0] != 'p')
		return;
	json = req[0] == 'j';
	/* No SA_RESTART: a write blocked when the time is up returns. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = write_timeout;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	timed_out = 0;
	client_fd = fd;
	alarm((unsigned)var_ipc_timeout);
	errno = 0;
	if (queue_list_write(var_queue_directory, json, var_empty_address_recipient, fd,
			     &error) < 0 && error != NULL && errno == 0)
		msg_warn("%s", error);
	alarm(0);
	client_fd = -1;
	if (timed_out)
		msg_warn("timeout sending the queue listing to a client that does not read "
			 "(ipc_timeout %lds); connection closed", var_ipc_timeout);
}

int main(int argc, char **argv)
{
	struct mail_server_opts opts;
	long uses = 0;
	int fd;

	mail_server_init(argc, argv, "showq", &opts);
	if (!opts.has_listen_fd)
		msg_fatal("no listening socket on descriptor %d: showq is started by master",
			  MAIL_SERVER_LISTEN_FD);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
	mail_server_drop_privileges(&opts, true);
	set_nonblock(MAIL_SERVER_LISTEN_FD, true);
	while (uses < var_max_use) {
		mail_server_status(1);
		if (fd_wait(MAIL_SERVER_LISTEN_FD, false, (int)(var_max_idle * 1000)) < 0)
			break;
		if ((fd = accept4(MAIL_SERVER_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		mail_server_status(0);
		set_nonblock(fd, false);
		serve(fd);
		close(fd);
		uses++;
	}
	return 0;
}
