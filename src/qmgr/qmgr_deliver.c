/*
 * qmgr_deliver - connections to delivery agents: requests and replies.
 *
 * A connection to private/<transport> carries many requests, one at a time
 * (docs/PROTOCOL.md).  When the scheduler grants a transport another
 * delivery, an idle connection of that transport is used at once; only
 * when there is none is a new one opened (asynchronously: the scheduler's
 * "pending" count covers it until the agent's hello arrives).  An idle
 * connection remembers the next hop its agent keeps an SMTP session to.
 * Which connection carries which delivery, and when one is opened or
 * closed, is the drain policy's decision (drain.c, shared with
 * sluice-sim); this file is its I/O: sockets, frames, time limits, logs.
 *
 * Time limits: qmgr_ipc_timeout for the hello and for writing a request (an
 * agent that does not answer costs that delivery, not the queue manager);
 * daemon_timeout for the reply, since a delivery itself may legitimately
 * take many minutes (Postfix waits as long).  Idle connections are closed
 * after QMGR_AGENT_IDLE seconds so that agents return to master's pool.
 *
 * Failures: no agent (connect fails) or no hello in time or a bad hello =
 * the transport is throttled (dead for transport_retry_time, "mail
 * transport unavailable").  An agent that vanishes is not the transport's
 * death: a lost connection or garbage while busy is a crash, which costs
 * that one delivery (no feedback; its recipients are deferred with "4.3.0
 * unknown mail transport error" and tried again about a second later, the
 * first time: qmgr_active.c), and an agent that hangs up after taking the connection but
 * before its hello is a set-up lost.  Other agents carry on; only a streak
 * of SCHED_CRASH_LIMIT lost agents without one valid reply throttles the
 * transport (sched.h; Postfix throttles on the first crash).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drain.h"
#include "global/deliver_request.h"
#include "global/params.h"
#include "qmgr.h"
#include "qmgr_conf.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

/* The I/O half of a connection (drain_conn->ctx). */
struct agent_io {
	int fd;
	struct buf *in, *out;
	size_t written;
	struct drain_conn *dc;
};

static void conn_read_event(int event, void *ctx);

/* qmgr_deliver_busy_count - deliveries in progress */
long qmgr_deliver_busy_count(void)
{
	return qmgr_drain->busy;
}

/* maxproc - master.cf process limit of a transport's service (0: none) */
static long maxproc(void *ctx, const struct sched_transport *t)
{
	long limit = qmgr_conf_process_limit(t->name);

	return limit > 0 ? limit : 0;
}

/* qmgr_deliver_agents - connections of t by state (for status reports) */
void qmgr_deliver_agents(const struct sched_transport *t, long *busy_r, long *idle_r,
			 long *starting_r, long *limit_r)
{
	drain_agents(qmgr_drain, t, busy_r, idle_r, starting_r);
	*limit_r = maxproc(NULL, t);
}

/* conn_close - drain_ops.close: release the socket and buffers */
static void conn_close(void *ctx, struct drain_conn *dc)
{
	struct agent_io *io = dc->ctx;

	ev_disable(io->fd);
	close(io->fd);
	buf_free(&io->in);
	buf_free(&io->out);
	free(io);
}

/* conn_idle - drain_ops.idle: wait for work, or for the agent to leave */
static void conn_idle(void *ctx, struct drain_conn *dc)
{
	struct agent_io *io = dc->ctx;

	ev_read_enable(io->fd, conn_read_event, io, -1);
}

/* batch_done - drain_ops.batch_done: the recipients are accounted for */
static void batch_done(void *ctx, void *batch)
{
	struct qmgr_batch *b = batch;
	struct qmgr_message *msg = b->msg;

	msg->rcpt_mem -= (long)b->count;
	qmgr_batch_free(b);
	if (--msg->refcount == 0)
		qmgr_active_continue(msg);
}

/* conn_crash - drain_ops.crash: the agent broke while delivering */
static void conn_crash(void *ctx, struct drain_conn *dc, const char *why)
{
	struct sched_outcome o = {.kind = SCHED_OUTCOME_CRASH};
	struct qmgr_batch *b = dc->entry->ctx;
	struct qmgr_message *msg = b->msg;

	msg_warn("%s: private/%s: %s; delivery deferred", msg->id, dc->t->name, why);
	msg->flags |= QMGR_MSG_DEFERRED | QMGR_MSG_LOGS | QMGR_MSG_CRASHED;
	drain_entry_finish(qmgr_drain, dc, &o);
	drain_conn_free(qmgr_drain, dc);
}

/* handle_reply - one reply frame from a busy agent */
static void handle_reply(struct drain_conn *dc, struct attr_list *al)
{
	struct deliver_reply rep;
	struct sched_outcome o;
	struct qmgr_batch *b = dc->entry->ctx;
	struct qmgr_message *msg = b->msg;
	const char *error;

	if (deliver_reply_decode(al, &rep, &error) < 0) {
		conn_crash(NULL, dc, error);
		return;
	}
	if (rep.bounced > 0 || rep.status != DEL_STAT_FINAL)
		msg->flags |= QMGR_MSG_LOGS;
	if (rep.status == DEL_STAT_CORRUPT)
		msg->flags |= QMGR_MSG_CORRUPT;
	else if (rep.status != DEL_STAT_FINAL)
		msg->flags |= QMGR_MSG_DEFERRED;
	memset(&o, 0, sizeof(o));
	if (rep.hop_status[0]) {
		o.kind = SCHED_OUTCOME_HOP_FAIL;
		o.status = rep.hop_status;
		o.reason = rep.hop_reason;
	} else {
		o.kind = SCHED_OUTCOME_OK;
	}
	{
		const char *rcpt = b->count ? b->rcpt[0].address : "";

		qmgr_metrics_outcome(dc->t->name, rcpt, QMGR_OUTCOME_SENT, rep.sent);
		qmgr_metrics_outcome(dc->t->name, rcpt, QMGR_OUTCOME_DEFERRED, rep.deferred);
		qmgr_metrics_outcome(dc->t->name, rcpt, QMGR_OUTCOME_BOUNCED, rep.bounced);
		qmgr_metrics_delivered(dc->t->name, qmgr_now - msg->env.arrival_time, rep.sent);
	}
	qmgr_state_count(dc->entry->queue, rep.sent,
			 rep.hop_status[0] ? (long)dc->entry->nrcpt : rep.bounced + rep.deferred);
	(void)drain_reply(qmgr_drain, dc, &o, rep.session, rep.last);
	deliver_reply_deinit(&rep);
}

/* send_request - drain_ops.send: hand entry e to the agent */
static enum drain_send send_request(void *ctx, struct drain_conn *dc, struct sched_entry *e,
				    const char **why_r)
{
	struct agent_io *io = dc->ctx;
	struct deliver_request req;
	struct deliver_rcpt *rcpt;
	struct qmgr_batch *b = e->ctx;
	struct qmgr_message *msg = b->msg;
	ssize_t n;

	rcpt = xcalloc(b->count, sizeof(*rcpt));
	for (size_t i = 0; i < b->count; i++) {
		rcpt[i].address = b->rcpt[i].address;
		rcpt[i].orig_rcpt = b->rcpt[i].orig_rcpt;
		rcpt[i].dsn_orcpt = b->rcpt[i].dsn_orcpt;
		rcpt[i].notify = b->rcpt[i].notify;
		rcpt[i].offset = b->rcpt[i].offset;
	}
	memset(&req, 0, sizeof(req));
	req.queue_name = "active";
	req.queue_id = msg->id;
	req.transport = dc->t->name;
	req.nexthop = e->queue->nexthop;
	req.sender = msg->env.sender;
	req.envid = msg->env.envid ? msg->env.envid : "";
	req.ret = msg->env.ret;
	req.flags = msg->tflags | ((e->queue->conn_flags & SCHED_CONN_STORE) ? DEL_REQ_FLAG_REUSE : 0);
	req.data_offset = msg->env.content_offset;
	req.data_size = msg->env.content_size;
	req.arrival_time = msg->env.arrival_time;
	req.active_time = msg->active_time;
	req.request_time = qmgr_now;
	req.rcpt_count = b->count;
	req.rcpt = rcpt;
	deliver_request_encode(&req, io->out);
	free(rcpt);

	io->written = 0;
	/* Small frames go out at once; ev covers a full socket buffer. */
	n = write(io->fd, io->out->data, io->out->len);
	if (n > 0)
		io->written = (size_t)n;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		*why_r = strerror(errno);
		return errno == EPIPE || errno == ECONNRESET ? DRAIN_SEND_GONE : DRAIN_SEND_FAILED;
	}
	if (io->written < io->out->len)
		ev_write_enable(io->fd, conn_read_event, io, (double)var_qmgr_ipc_timeout);
	else
		ev_read_enable(io->fd, conn_read_event, io, (double)var_daemon_timeout);
	return DRAIN_SENT;
}

/* conn_hello - check the agent's greeting */
static void conn_hello(struct drain_conn *dc, struct attr_list *al)
{
	const char *proto = attr_get(al, "protocol");

	if (proto == NULL || strcmp(proto, DELIVER_PROTOCOL) != 0) {
		msg_warn("private/%s: unexpected greeting from the delivery agent", dc->t->name);
		drain_connect_failed(qmgr_drain, dc);
		return;
	}
	/* The policy may free dc: nothing below may touch it. */
	(void)drain_hello(qmgr_drain, dc);
}

/* conn_read_event - readable, writable or timed out */
static void conn_read_event(int event, void *ctx)
{
	struct agent_io *io = ctx;
	struct drain_conn *dc = io->dc;
	struct attr_list al;
	const char *error;
	char tmp[8192];
	ssize_t n;
	int r;

	if (event & EV_E_TIMEOUT) {
		if (drain_greeting_wait(qmgr_drain, dc)) {
			/* Every agent process is ours and busy: waiting, not failing. */
			ev_read_enable(io->fd, conn_read_event, io, (double)var_qmgr_ipc_timeout);
			return;
		}
		if (dc->state == DRAIN_CONN_CONNECTING) {
			msg_warn("private/%s: no greeting from the delivery agent within %lds",
				 dc->t->name, var_qmgr_ipc_timeout);
			drain_connect_failed(qmgr_drain, dc);
		} else if (dc->state == DRAIN_CONN_BUSY) {
			conn_crash(NULL, dc, "delivery agent did not answer in time");
		}
		qmgr_wakeup();
		return;
	}
	if (event & EV_E_WRITE) {
		n = write(io->fd, io->out->data + io->written, io->out->len - io->written);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_crash(NULL, dc, strerror(errno));
			qmgr_wakeup();
			return;
		}
		if (n > 0)
			io->written += (size_t)n;
		if (io->written == io->out->len)
			ev_read_enable(io->fd, conn_read_event, io, (double)var_daemon_timeout);
		return;
	}
	n = read(io->fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (dc->state == DRAIN_CONN_BUSY) {
			conn_crash(NULL, dc, "lost connection with the delivery agent");
		} else if (dc->state == DRAIN_CONN_CONNECTING) {
			/* It was reached and went away (killed): not a dead transport. */
			msg_warn("private/%s: the delivery agent closed the connection before its greeting",
				 dc->t->name);
			drain_connect_lost(qmgr_drain, dc);
		} else {
			drain_conn_free(qmgr_drain, dc);	/* an idle agent left: normal */
		}
		qmgr_wakeup();
		return;
	}
	buf_append(io->in, tmp, (size_t)n);
	attr_list_init(&al);
	while ((r = attr_frame_extract(io->in, 65536, &al, &error)) == 1) {
		if (dc->state == DRAIN_CONN_CONNECTING) {
			conn_hello(dc, &al);
		} else if (dc->state == DRAIN_CONN_BUSY) {
			handle_reply(dc, &al);
		} else {
			msg_warn("private/%s: unexpected message from an idle delivery agent",
				 dc->t->name);
			drain_conn_free(qmgr_drain, dc);
		}
		attr_list_deinit(&al);
		return;
	}
	attr_list_deinit(&al);
	if (r < 0) {
		if (dc->state == DRAIN_CONN_BUSY) {
			conn_crash(NULL, dc, error);
		} else {
			msg_warn("private/%s: %s", dc->t->name, error);
			if (dc->state == DRAIN_CONN_CONNECTING)
				drain_connect_failed(qmgr_drain, dc);
			else
				drain_conn_free(qmgr_drain, dc);
		}
		qmgr_wakeup();
	}
}

/* conn_connect - drain_ops.connect: open private/<transport> */
static enum drain_connect conn_connect(void *ctx, struct drain_conn *dc)
{
	struct agent_io *io;
	char *path;
	int fd;

	path = xasprintf("%s/private/%s", var_queue_directory, dc->t->name);
	fd = unix_connect(path, true);
	if (fd < 0 && errno == EAGAIN) {
		/* The agents' listen queue is full: every agent is busy. */
		free(path);
		return DRAIN_CONNECT_BUSY;
	}
	if (fd < 0) {
		msg_warn("connect to transport %s: %s", path, strerror(errno));
		free(path);
		return DRAIN_CONNECT_FAILED;
	}
	free(path);
	io = xcalloc(1, sizeof(*io));
	io->fd = fd;
	io->in = buf_create(1024);
	io->out = buf_create(1024);
	io->dc = dc;
	dc->ctx = io;
	ev_read_enable(fd, conn_read_event, io, (double)var_qmgr_ipc_timeout);
	return DRAIN_CONNECTED;
}

/* qmgr_deliver_ops - the I/O half of the drain policy's operations */
void qmgr_deliver_ops(struct drain_ops *ops)
{
	ops->connect = conn_connect;
	ops->send = send_request;
	ops->crash = conn_crash;
	ops->idle = conn_idle;
	ops->close = conn_close;
	ops->process_limit = maxproc;
	ops->batch_done = batch_done;
}
