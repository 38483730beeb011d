/*
 * bounce - the bounce, defer and trace service (one program, three
 * master.cf services).
 *
 * PURPOSE: build and send delivery status reports when the queue manager
 * asks for them (see bounce_service.c for what each request does).
 *
 * CONTRACT: started by master as "bounce -n SERVICE -t unix [-u] [-o
 * name=value]..." with the listening UNIX socket on fd 3 (mail_server.h).
 * It serves one request per connection: it accepts, reads ONE request frame
 * (attr.h; each read limited by ipc_timeout), does the work, answers with
 * one frame "status" 0 (done) or 1 (failed, try later) and "reason", and
 * closes.  It exits after max_use requests or max_idle seconds without a
 * connection, so that master starts a fresh one with fresh configuration.
 *
 * Request attributes: request (bounce_flush, defer_flush, defer_warn,
 * trace_flush), queue_name, queue_id, and optionally sender, envid, ret,
 * flags (1 verbose trace, 2 verify, 4 delay cleared), arrival_time,
 * next_attempt.
 *
 * DIAGNOSTICS: a malformed request is answered with status 1 and logged as
 * a warning; a failed request is logged as a warning with its reason.
 * Fatal: no listening socket, accept() failing for another reason than a
 * lost race or an aborted connection.
 */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bounce_service.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"

/* reply - one answer frame; a client that went away is only a warning */
static void reply(int fd, const char *queue_id, int status, const char *reason)
{
	struct buf frame;

	buf_init(&frame, 256);
	attr_frame_begin(&frame);
	attr_put_long(&frame, "status", status);
	attr_put_str(&frame, "reason", reason);
	attr_frame_end(&frame);
	if (attr_write_frame(fd, &frame, (int)(var_ipc_timeout * 1000)) < 0)
		msg_warn("%s: cannot send reply: %m", queue_id ? queue_id : "request");
	buf_deinit(&frame);
}

/* bounce_serve_one - read one request, do it, answer */
static void bounce_serve_one(int fd)
{
	struct buf inbuf;
	struct attr_list al;
	struct bounce_request req;
	const char *error, *reason;
	int rc;

	buf_init(&inbuf, 1024);
	attr_list_init(&al);
	rc = attr_read_frame(fd, &inbuf, ATTR_FRAME_LIMIT, (int)(var_ipc_timeout * 1000), &al,
			     &error);
	if (rc < 0) {
		msg_warn("cannot read request: %s", error);
	} else if (rc > 0 && bounce_request_decode(&al, &req, &error) < 0) {
		msg_warn("bad request: %s", error);
		reply(fd, NULL, 1, error);
	} else if (rc > 0) {
		if (bounce_service_run(&req, wall_time(), &reason) < 0) {
			msg_warn("%s: %s failed: %s", req.queue_id, attr_get(&al, "request"), reason);
			reply(fd, req.queue_id, 1, reason);
		} else {
			reply(fd, req.queue_id, 0, "");
		}
	}
	attr_list_deinit(&al);
	buf_deinit(&inbuf);
}

/* bounce_serve - the accept loop: one request per connection */
static void bounce_serve(int listen_fd)
{
	long served = 0;

	/* Several bounce processes may share the socket: a lost accept()
	 * race must not block. */
	if (set_nonblock(listen_fd, true) < 0)
		msg_fatal("listening socket: %m");
	while (var_max_use <= 0 || served < var_max_use) {
		int fd;

		mail_server_status(1);
		if (fd_wait(listen_fd, false, (int)(var_max_idle * 1000)) < 0) {
			if (errno == ETIMEDOUT)
				break;
			if (errno == EINTR)
				continue;
			msg_fatal("wait for a connection: %m");
		}
		if ((fd = accept(listen_fd, NULL, NULL)) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			    || errno == ECONNABORTED)
				continue;
			msg_fatal("accept: %m");
		}
		mail_server_status(0);
		(void)set_nonblock(fd, false);
		bounce_serve_one(fd);
		close(fd);
		served++;
	}
	msg_debug("exiting after %ld requests", served);
}

int main(int argc, char **argv)
{
	struct mail_server_opts opts;

	mail_server_init(argc, argv, "bounce", &opts);
	if (!opts.has_listen_fd)
		msg_fatal("no listening socket on file descriptor %d: run bounce from master",
			  MAIL_SERVER_LISTEN_FD);
	/* A status log or report over a file size limit must fail the write,
	 * not end the process (mail_server_init already ignores SIGPIPE). */
	signal(SIGXFSZ, SIG_IGN);
	mail_server_drop_privileges(&opts, false);
	bounce_serve(MAIL_SERVER_LISTEN_FD);
	return 0;
}
