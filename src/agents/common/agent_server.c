/*
 * agent_server - the delivery agent skeleton (see agent_server.h).
 *
 * Process life: accept a connection from the queue manager (idle status to
 * master while waiting, busy while connected), serve requests on it until
 * it closes or stays idle for max_idle, exit after max_use requests or
 * max_idle seconds without a connection.  Time limits: ipc_timeout for
 * every read and write on the connection.
 *
 * DIAGNOSTICS: protocol errors from the queue manager close the connection
 * with a warning; a queue file that cannot be opened defers the request
 * without touching recipients; a damaged queue file is marked with mode
 * 0400 and reported as corrupt, never half delivered.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agents/common/agent_server.h"
#include "global/bounce_append.h"
#include "global/deliver_log.h"
#include "global/mail_server.h"
#include "global/maps.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

static const struct agent_server_conf *server_conf;
static struct mail_server_opts server_opts;

/*
 * The queue file of the last delivery stays open (unlocked) until the next
 * request or the end of the connection.  When the queue manager removes a
 * delivered file right after our reply, its unlink is then not the last
 * reference, and freeing the file's blocks happens here, at our close, in
 * one of many agent processes rather than in the single queue manager
 * (Postfix agents also close the file after replying).
 */
static struct qf *last_qf;

/* release_last - close the previous delivery's queue file */
static void release_last(void)
{
	qf_close(&last_qf);
}

/* agent_dsn - build a dsn from parts */
struct dsn agent_dsn(const char *status, const char *action, const char *reason)
{
	struct dsn d;

	memset(&d, 0, sizeof(d));
	snprintf(d.status, sizeof(d.status), "%s", status);
	d.action = action;
	d.reason = reason;
	return d;
}

/* agent_connected - end of connection set-up */
void agent_connected(struct agent_delivery *d)
{
	if (d->t_connected == 0)
		d->t_connected = wall_time();
}

/* agent_hop_failed - negative feedback for the whole next hop */
void agent_hop_failed(struct agent_delivery *d, const char *status, const char *reason)
{
	snprintf(d->reply.hop_status, sizeof(d->reply.hop_status), "%s", status);
	free(d->reply.hop_reason);
	d->reply.hop_reason = xstrdup(reason);
}

/* outcome_times - delay and delays a/b/c/d of an outcome reached now */
static void outcome_times(const struct agent_delivery *d, double *delay_r, double delays[4])
{
	const struct deliver_request *req = d->req;
	double now = wall_time();

	delays[0] = req->active_time - req->arrival_time;
	delays[1] = d->t_start - req->active_time;
	if (d->t_connected) {
		delays[2] = d->t_connected - d->t_start;
		delays[3] = now - d->t_connected;
	} else {
		delays[2] = now - d->t_start;
		delays[3] = 0;
	}
	*delay_r = now - req->arrival_time;
}

/* log_outcome - the Postfix-shaped to=<...> line for recipient i */
static void log_outcome(struct agent_delivery *d, size_t i, const struct dsn *dsn,
			const char *relay, const char *word)
{
	const struct deliver_request *req = d->req;
	double delay, delays[4];

	outcome_times(d, &delay, delays);
	deliver_log_rcpt(req->queue_id, req->rcpt[i].address, req->rcpt[i].orig_rcpt,
			 relay, delay, delays, dsn, word, -1);
}

/* append_log - one status log record for recipient i */
static int append_log(struct agent_delivery *d, size_t i, const char *log,
		      const struct dsn *dsn, const char *action)
{
	const struct deliver_rcpt *r = &d->req->rcpt[i];
	struct rcpt_status st;
	const char *error;

	memset(&st, 0, sizeof(st));
	st.recipient = r->address;
	st.orig_rcpt = r->orig_rcpt;
	st.offset = r->offset;
	st.dsn_orcpt = r->dsn_orcpt;
	st.notify = r->notify;
	st.dsn = *dsn;
	if (action)
		st.dsn.action = action;
	st.time = wall_time();
	if (status_log_append(var_queue_directory, log, d->req->queue_id, &st, &error) < 0) {
		struct buf esc;

		buf_init(&esc, 64);
		msg_warn("%s: %s log append for <%s>: %s", d->req->queue_id, log,
			 log_escape(&esc, r->address), error);
		buf_deinit(&esc);
		return -1;
	}
	return 0;
}

/* mark_done - flag recipient i done in the queue file */
static void mark_done(struct agent_delivery *d, size_t i)
{
	int r = qf_mark_done(qf_fd(d->qf), d->req->rcpt[i].offset);

	if (r < 0) {
		int err = errno;
		struct buf esc;

		buf_init(&esc, 64);
		msg_warn("%s: cannot mark recipient <%s> done at offset %ld: %s",
			 d->req->queue_id, log_escape(&esc, d->req->rcpt[i].address),
			 d->req->rcpt[i].offset,
			 r == QF_CORRUPT ? "no recipient record there" : strerror(err));
		buf_deinit(&esc);
	}
}

/* check_index - an agent bug if out of range or already decided */
static void check_index(struct agent_delivery *d, size_t i)
{
	if (i >= d->req->rcpt_count)
		msg_panic("recipient index %zu out of range", i);
	if (d->rcpt_state[i] != AGENT_RCPT_TODO)
		msg_panic("%s: recipient <%s> reported twice", d->req->queue_id,
			  d->req->rcpt[i].address);
}

/* agent_rcpt_defer - temporary failure */
int agent_rcpt_defer(struct agent_delivery *d, size_t i, const struct dsn *dsn,
		     const char *relay)
{
	int flags = d->req->flags;

	check_index(d, i);
	if (flags & DEL_REQ_FLAG_VERIFY) {
		/* Address verification reports a temporary failure at once. */
		if (append_log(d, i, STATUS_LOG_TRACE, dsn, "undeliverable") < 0)
			goto defer;
		log_outcome(d, i, dsn, relay, "undeliverable");
		mark_done(d, i);
		d->rcpt_state[i] = AGENT_RCPT_BOUNCED;
		d->reply.bounced++;
		return 0;
	}
	if (flags & DEL_REQ_FLAG_TRACE)
		(void)append_log(d, i, STATUS_LOG_TRACE, dsn, "delayed");
	(void)append_log(d, i, STATUS_LOG_DEFER, dsn, "delayed");
defer:
	log_outcome(d, i, dsn, relay, "deferred");
	d->rcpt_state[i] = AGENT_RCPT_DEFERRED;
	d->reply.deferred++;
	d->reply.status = DEL_STAT_DEFER;
	return 0;
}

/* agent_rcpt_sent - delivered */
int agent_rcpt_sent(struct agent_delivery *d, size_t i, const struct dsn *dsn,
		    const char *relay)
{
	const struct deliver_rcpt *r = &d->req->rcpt[i];
	int flags = d->req->flags;
	const char *action = dsn->action ? dsn->action : "delivered";

	check_index(d, i);
	if (flags & DEL_REQ_FLAG_VERIFY) {
		if (append_log(d, i, STATUS_LOG_TRACE, dsn, "deliverable") < 0) {
			struct dsn t = agent_dsn("4.3.0", "delayed", "cannot record verification result");
			return agent_rcpt_defer(d, i, &t, relay), -1;
		}
		log_outcome(d, i, dsn, relay, "deliverable");
	} else {
		/* A success someone asked to hear about must be recorded first. */
		if ((flags & (DEL_REQ_FLAG_TRACE | DEL_REQ_FLAG_RECORD))
		    || (r->notify & DSN_NOTIFY_SUCCESS)) {
			if (append_log(d, i, STATUS_LOG_TRACE, dsn, action) < 0) {
				struct dsn t = agent_dsn("4.3.0", "delayed",
							 "cannot record delivery status");
				return agent_rcpt_defer(d, i, &t, relay), -1;
			}
		}
		log_outcome(d, i, dsn, relay, "sent");
	}
	mark_done(d, i);
	d->rcpt_state[i] = AGENT_RCPT_SENT;
	d->reply.sent++;
	return 0;
}

/* agent_rcpt_bounce - permanent failure */
int agent_rcpt_bounce(struct agent_delivery *d, size_t i, const struct dsn *dsn,
		      const char *relay)
{
	int flags = d->req->flags;

	check_index(d, i);
	if (flags & DEL_REQ_FLAG_VERIFY) {
		if (append_log(d, i, STATUS_LOG_TRACE, dsn, "undeliverable") < 0) {
			struct dsn t = agent_dsn("4.3.0", "delayed", "cannot record verification result");
			return agent_rcpt_defer(d, i, &t, relay), -1;
		}
		log_outcome(d, i, dsn, relay, "undeliverable");
	} else {
		/* bounce_append: the bounce log first, or a deferral under soft_bounce. */
		const struct deliver_rcpt *r = &d->req->rcpt[i];
		struct rcpt_status st = {
			.recipient = r->address, .orig_rcpt = r->orig_rcpt, .offset = r->offset,
			.dsn_orcpt = r->dsn_orcpt, .notify = r->notify, .dsn = *dsn,
			.time = wall_time(),
		};
		struct bounce_append_log lg = {.relay = relay};
		const char *error;
		int rc;

		outcome_times(d, &lg.delay, lg.delays);
		rc = bounce_append(d->req->queue_id, &st, (flags & DEL_REQ_FLAG_TRACE) != 0, &lg,
				   &error);
		if (rc < 0) {
			struct dsn t = agent_dsn("4.3.0", "delayed", "cannot record bounce status");

			msg_warn("%s: bounce log append for <%s>: %s", d->req->queue_id, r->address,
				 error);
			return agent_rcpt_defer(d, i, &t, relay), -1;
		}
		if (rc == BOUNCE_APPEND_DEFERRED) {
			/* soft_bounce: kept in the queue, as if deferred (already logged). */
			d->rcpt_state[i] = AGENT_RCPT_DEFERRED;
			d->reply.deferred++;
			d->reply.status = DEL_STAT_DEFER;
			return 0;
		}
	}
	mark_done(d, i);
	d->rcpt_state[i] = AGENT_RCPT_BOUNCED;
	d->reply.bounced++;
	return 0;
}

/* agent_validate - check what this request delivers, before delivering */
int agent_validate(struct agent_delivery *d)
{
	const struct deliver_request *req = d->req;
	const char *error;
	int rc;

	/*
	 * The message and the request's own recipient records: not the whole
	 * recipient segment, whose walk made a message to N recipients, sent
	 * one recipient per request, cost N * N record reads.  The queue
	 * manager reads every recipient record with the same checks before it
	 * can name it in a request, and the queue file is never rewritten
	 * but for R -> D marks and the fixed-width W record.
	 */
	rc = qf_validate_message(d->qf, &error);
	for (size_t i = 0; rc == 0 && i < req->rcpt_count; i++)
		rc = qf_check_rcpt(d->qf, req->rcpt[i].offset, req->rcpt[i].address, &error);
	if (rc == QF_CORRUPT) {
		msg_warn("%s: damaged queue file: %s", req->queue_id, error);
		return QF_CORRUPT;
	}
	if (rc < 0) {
		struct dsn dsn = agent_dsn("4.3.0", "delayed", "error reading the queued message");

		msg_warn("%s: reading the queue file: %s", req->queue_id, error);
		agent_defer_pending(d, &dsn, d->service);
		return -1;
	}
	return 0;
}

/* agent_rcpt_passed - another agent recorded the outcome */
void agent_rcpt_passed(struct agent_delivery *d, size_t i, int state)
{
	check_index(d, i);
	d->rcpt_state[i] = state;
	switch (state) {
	case AGENT_RCPT_SENT:
		d->reply.sent++;
		break;
	case AGENT_RCPT_BOUNCED:
		d->reply.bounced++;
		break;
	case AGENT_RCPT_DEFERRED:
		d->reply.deferred++;
		d->reply.status = DEL_STAT_DEFER;
		break;
	default:
		msg_panic("agent_rcpt_passed: bad state %d", state);
	}
}

/* agent_defer_pending - defer what has no outcome yet */
void agent_defer_pending(struct agent_delivery *d, const struct dsn *dsn, const char *relay)
{
	for (size_t i = 0; i < d->req->rcpt_count; i++)
		if (d->rcpt_state[i] == AGENT_RCPT_TODO)
			agent_rcpt_defer(d, i, dsn, relay);
}

/* agent_bounce_pending - bounce what has no outcome yet */
void agent_bounce_pending(struct agent_delivery *d, const struct dsn *dsn, const char *relay)
{
	for (size_t i = 0; i < d->req->rcpt_count; i++)
		if (d->rcpt_state[i] == AGENT_RCPT_TODO)
			agent_rcpt_bounce(d, i, dsn, relay);
}

/* deliver_one - open the queue file, run the agent, fill the reply */
static void deliver_one(struct deliver_request *req, struct deliver_reply *reply)
{
	struct agent_delivery d;
	const char *error;
	bool corrupt = false;
	char *path;

	memset(&d, 0, sizeof(d));
	d.req = req;
	d.service = server_opts.service;
	d.t_start = wall_time();
	d.reply.status = DEL_STAT_FINAL;

	/*
	 * The queue name and ID become a path that this process (root, for
	 * local and pipe) opens read-write: a request naming anything but a
	 * queue file in active/ is refused before anything is opened.
	 */
	if (deliver_request_check(req, &error) < 0) {
		struct buf n, i;

		buf_init(&n, 32);
		buf_init(&i, 32);
		msg_warn("refusing delivery request for queue_name \"%s\", queue_id \"%s\": %s",
			 log_escape(&n, req->queue_name), log_escape(&i, req->queue_id), error);
		buf_deinit(&n);
		buf_deinit(&i);
		memset(reply, 0, sizeof(*reply));
		reply->status = DEL_STAT_DEFER;
		return;
	}
	path = queue_path(var_queue_directory, req->queue_name, req->queue_id);
	d.qf = qf_open(path, true, &corrupt, &error);
	if (d.qf == NULL) {
		msg_warn("%s: open %s: %s", req->queue_id, path, error);
		free(path);
		memset(reply, 0, sizeof(*reply));
		reply->status = corrupt ? DEL_STAT_CORRUPT : DEL_STAT_DEFER;
		return;
	}
	/* A shared lock: a restarted queue manager sees that we still work on it. */
	if (flock(qf_fd(d.qf), LOCK_SH | LOCK_NB) < 0) {
		msg_warn("%s: lock %s: %s", req->queue_id, path, strerror(errno));
		qf_close(&d.qf);
		free(path);
		memset(reply, 0, sizeof(*reply));
		reply->status = DEL_STAT_DEFER;
		return;
	}
	d.rcpt_state = xcalloc(req->rcpt_count, sizeof(int));

	if (server_conf->deliver(&d) < 0) {
		msg_warn("%s: queue file %s is damaged; marked corrupt", req->queue_id, path);
		if (fchmod(qf_fd(d.qf), QF_MODE_CORRUPT) < 0)
			msg_warn("%s: fchmod: %s", path, strerror(errno));
		d.reply.status = DEL_STAT_CORRUPT;
	} else {
		struct dsn dsn = agent_dsn("4.3.0", "delayed", "delivery agent did not report");
		agent_defer_pending(&d, &dsn, "none");
	}
	if (server_conf->session_nexthop) {
		const char *s = server_conf->session_nexthop();
		d.reply.session = xstrdup(s ? s : "");
	}
	msg_debug("%s: %lu queue file records read", req->queue_id, qf_records_read(d.qf));
	/* Unlock now; close later (see last_qf). */
	(void)flock(qf_fd(d.qf), LOCK_UN);
	release_last();
	last_qf = d.qf;
	d.qf = NULL;
	free(d.rcpt_state);
	free(path);
	*reply = d.reply;
}

/* wait_request - wait for the next request, running the idle hook */
static bool wait_request(int fd)
{
	double deadline = mono_time() + (double)var_max_idle, wait, idle;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	for (;;) {
		wait = deadline - mono_time();
		if (wait <= 0)
			return false;
		idle = server_conf->idle_wait ? server_conf->idle_wait() : -1;
		if (idle >= 0 && idle < wait)
			wait = idle;
		r = poll(&p, 1, (int)(wait * 1000) + 1);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return false;
		if (r == 0 && server_conf->idle_fn && idle >= 0
		    && server_conf->idle_wait && server_conf->idle_wait() <= 0)
			server_conf->idle_fn();
	}
}

/* serve_connection - requests on one connection from the queue manager */
static void serve_connection(int fd, long *uses)
{
	struct buf *in = buf_create(4096), *out = buf_create(4096);
	struct attr_list al;
	struct deliver_request req;
	struct deliver_reply reply;
	const char *error;
	int timeout_ms = (int)(var_ipc_timeout * 1000);

	const char *changed;

	attr_list_init(&al);
	attr_frame_begin(out);
	attr_put_str(out, "protocol", DELIVER_PROTOCOL);
	attr_frame_end(out);
	if (attr_write_frame(fd, out, timeout_ms) < 0)
		goto done;

	while (*uses < var_max_use) {
		if (in->len == 0 && !wait_request(fd))
			break;
		int r = attr_read_frame(fd, in, ATTR_FRAME_LIMIT, timeout_ms, &al, &error);
		if (r == 0)
			break;
		if (r < 0) {
			msg_warn("reading request from queue manager: %s", error);
			break;
		}
		release_last();
		if (deliver_request_decode(&al, &req, &error) < 0) {
			msg_warn("malformed request from queue manager: %s", error);
			break;
		}
		/*
		 * An orderly stop (master's SIGTERM) waits until this delivery's
		 * outcome is recorded in the queue file: a server that already has
		 * the message is not sent it again after the next start.  master
		 * kills with SIGKILL what has not ended after its grace period.
		 */
		sigset_t term, old;
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigprocmask(SIG_BLOCK, &term, &old);
		deliver_one(&req, &reply);
		sigprocmask(SIG_SETMASK, &old, NULL);
		(*uses)++;
		/* A table we read was rebuilt: this was our last request (Postfix). */
		if (*uses < var_max_use && (changed = maps_any_changed()) != NULL) {
			msg_info("table %s has changed -- restarting", changed);
			*uses = var_max_use;
		}
		/* Say so when this is our last request, so nobody sends another. */
		reply.last = *uses >= var_max_use;
		deliver_reply_encode(&reply, out);
		deliver_reply_deinit(&reply);
		deliver_request_deinit(&req);
		if (attr_write_frame(fd, out, timeout_ms) < 0) {
			msg_warn("sending reply to queue manager: %s", strerror(errno));
			break;
		}
	}
done:
	release_last();
	attr_list_deinit(&al);
	buf_free(&in);
	buf_free(&out);
}

/* agent_server_main - accept loop */
void agent_server_main(int argc, char **argv, const struct agent_server_conf *conf)
{
	long uses = 0;
	int fd;

	server_conf = conf;
	mail_server_init(argc, argv, conf->progname, &server_opts);
	if (!server_opts.has_listen_fd)
		msg_fatal("no listening socket on descriptor %d: %s is started by master",
			  MAIL_SERVER_LISTEN_FD, conf->progname);
	set_nonblock(MAIL_SERVER_LISTEN_FD, true);
	if (conf->pre_init)
		conf->pre_init();
	if (!conf->keep_root)
		mail_server_drop_privileges(&server_opts, true);
	if (conf->post_init)
		conf->post_init();

	while (uses < var_max_use) {
		const int listen_fd = MAIL_SERVER_LISTEN_FD;

		mail_server_status(1);
		if (mail_server_wait_listen(&listen_fd, 1, (int)(var_max_idle * 1000)) < 0) {
			if (errno == ETIMEDOUT)
				break;
			if (errno == EINTR)
				continue;
			msg_fatal("wait for connection: %s", strerror(errno));
		}
		fd = accept4(MAIL_SERVER_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* Another process of this service took it. */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			    || errno == ECONNABORTED)
				continue;
			msg_fatal("accept: %s", strerror(errno));
		}
		mail_server_status(0);
		set_nonblock(fd, false);
		serve_connection(fd, &uses);
		close(fd);
		if (conf->disconnect_fn)
			conf->disconnect_fn();
	}
	exit(0);
}
