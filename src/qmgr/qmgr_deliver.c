/*
 * qmgr_deliver - connections to delivery agents: requests and replies.
 *
 * A connection to private/<transport> carries many requests, one at a time
 * (docs/PROTOCOL.md).  When the scheduler grants a transport another
 * delivery, an idle connection of that transport is used at once; only
 * when there is none is a new one opened (asynchronously: the scheduler's
 * "pending" count covers it until the agent's hello arrives).  An idle
 * connection remembers the next hop its agent keeps an SMTP session to.
 * The destination is chosen round robin first; then, among the idle
 * connections, the one whose agent holds a session to it is preferred:
 * that is how a request reaches the agent that can reuse a session
 * without session reuse overriding fairness between destinations.
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
 * unknown mail transport error" and tried again after the message's
 * backoff), and an agent that hangs up after taking the connection but
 * before its hello is a set-up lost.  Other agents carry on; only a streak
 * of SCHED_CRASH_LIMIT lost agents without one valid reply throttles the
 * transport (sched.h; Postfix throttles on the first crash).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/deliver_request.h"
#include "global/mail_conf.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "qmgr.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define QMGR_AGENT_IDLE		10.0	/* seconds an unused connection is kept */

enum conn_state { CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

struct agent_conn {
	int fd;
	struct sched_transport *t;
	enum conn_state state;
	struct buf *in, *out;
	size_t written;
	struct sched_entry *entry;
	char *session;			/* queue name the agent holds a session to */
	double idle_since;
	long uses;			/* replies received on this connection */
	struct agent_conn *prev, *next;
};

static struct agent_conn *conns;
static long busy_count;

static void conn_read_event(int event, void *ctx);
static long maxproc(const struct sched_transport *t);
static long agents_held(const struct sched_transport *t);

/* qmgr_deliver_busy_count - deliveries in progress */
long qmgr_deliver_busy_count(void)
{
	return busy_count;
}

/* qmgr_deliver_agents - connections of t by state (for status reports) */
void qmgr_deliver_agents(const struct sched_transport *t, long *busy_r, long *idle_r,
			 long *starting_r, long *limit_r)
{
	*busy_r = *idle_r = *starting_r = 0;
	for (const struct agent_conn *c = conns; c; c = c->next) {
		if (c->t != t)
			continue;
		if (c->state == CONN_BUSY)
			++*busy_r;
		else if (c->state == CONN_IDLE)
			++*idle_r;
		else
			++*starting_r;
	}
	*limit_r = maxproc(t);
}

/* conn_free - close and forget a connection */
static void conn_free(struct agent_conn *c)
{
	ev_disable(c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->session);
	free(c);
}

/* conn_idle - the connection waits for work (or for the agent to leave) */
static void conn_idle(struct agent_conn *c)
{
	c->state = CONN_IDLE;
	c->entry = NULL;
	c->idle_since = qmgr_now;
	ev_read_enable(c->fd, conn_read_event, c, -1);
}

/* entry_finish - account for a finished entry, then let the message go on */
static void entry_finish(struct agent_conn *c, const struct sched_outcome *o)
{
	struct sched_entry *e = c->entry;
	struct qmgr_message *msg = e->msg;
	struct qmgr_batch *b = e->ctx;

	c->entry = NULL;
	busy_count--;
	if (o->kind == SCHED_OUTCOME_CRASH) {
		/* The scheduler hands the entry back through qmgr_entry_defer(). */
		sched_entry_done(e, o, qmgr_now);
		return;
	}
	msg->rcpt_mem -= (long)b->count;
	qmgr_batch_free(b);
	e->ctx = NULL;
	sched_entry_done(e, o, qmgr_now);
	if (--msg->refcount == 0)
		qmgr_active_continue(msg);
}

/* conn_crash - the agent broke while delivering */
static void conn_crash(struct agent_conn *c, const char *why)
{
	struct sched_outcome o = {.kind = SCHED_OUTCOME_CRASH};
	struct qmgr_message *msg = c->entry->msg;

	msg_warn("%s: private/%s: %s; delivery deferred", msg->id, c->t->name, why);
	msg->flags |= QMGR_MSG_DEFERRED | QMGR_MSG_LOGS;
	entry_finish(c, &o);
	conn_free(c);
}

/* handle_reply - one reply frame from a busy agent */
static void handle_reply(struct agent_conn *c, struct attr_list *al)
{
	struct deliver_reply rep;
	struct sched_outcome o;
	struct qmgr_message *msg = c->entry->msg;
	const char *error;

	if (deliver_reply_decode(al, &rep, &error) < 0) {
		conn_crash(c, error);
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
	free(c->session);
	c->session = rep.session && *rep.session ? xstrdup(rep.session) : NULL;
	{
		const struct qmgr_batch *b = c->entry->ctx;
		const char *rcpt = b && b->count ? b->rcpt[0].address : "";

		qmgr_metrics_outcome(c->t->name, rcpt, QMGR_OUTCOME_SENT, rep.sent);
		qmgr_metrics_outcome(c->t->name, rcpt, QMGR_OUTCOME_DEFERRED, rep.deferred);
		qmgr_metrics_outcome(c->t->name, rcpt, QMGR_OUTCOME_BOUNCED, rep.bounced);
		qmgr_metrics_delivered(c->t->name, qmgr_now - msg->env.arrival_time, rep.sent);
	}
	qmgr_state_count(c->entry->queue, rep.sent,
			 rep.hop_status[0] ? (long)c->entry->nrcpt : rep.bounced + rep.deferred);
	entry_finish(c, &o);
	c->uses++;
	/* An agent at the end of its max_use leaves: do not reuse it. */
	if (rep.last)
		conn_free(c);
	else
		conn_idle(c);
	deliver_reply_clear(&rep);
	qmgr_wakeup();
}

/* send_request - hand entry e to the agent on connection c */
static void send_request(struct agent_conn *c, struct sched_entry *e)
{
	struct deliver_request req;
	struct deliver_rcpt *rcpt;
	struct qmgr_message *msg = e->msg;
	struct qmgr_batch *b = e->ctx;
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
	req.transport = c->t->name;
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
	deliver_request_encode(&req, c->out);
	free(rcpt);

	c->entry = e;
	c->state = CONN_BUSY;
	c->written = 0;
	busy_count++;
	/* Small frames go out at once; ev covers a full socket buffer. */
	n = write(c->fd, c->out->data, c->out->len);
	if (n > 0)
		c->written = (size_t)n;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		bool was_idle = c->uses > 0 || c->idle_since < qmgr_now;

		if (was_idle && (errno == EPIPE || errno == ECONNRESET)) {
			/*
			 * A reused agent went away while idle (max_idle, reload):
			 * it never saw the request, so nothing was delivered.
			 * The entry waits for another agent; no crash, no blame.
			 */
			c->entry = NULL;
			busy_count--;
			sched_entry_unselect(e);
			conn_free(c);
			qmgr_wakeup();
			return;
		}
		conn_crash(c, strerror(errno));
		return;
	}
	if (c->written < c->out->len)
		ev_write_enable(c->fd, conn_read_event, c, (double)var_qmgr_ipc_timeout);
	else
		ev_read_enable(c->fd, conn_read_event, c, (double)var_daemon_timeout);
}

/*
 * pick_conn - the idle connection of t to carry a delivery to queue q: one
 * whose agent holds a session to q's next hop if there is one (reuse),
 * else preferably one without a session (keep sessions for their hops).
 * Destinations are chosen round robin first, so session reuse never
 * overrides fairness between destinations.
 */
static struct agent_conn *pick_conn(struct sched_transport *t, const struct sched_queue *q)
{
	struct agent_conn *c, *plain = NULL, *any = NULL;

	for (c = conns; c; c = c->next) {
		if (c->t != t || c->state != CONN_IDLE)
			continue;
		if (c->session && strcmp(c->session, q->name) == 0)
			return c;
		if (c->session == NULL && plain == NULL)
			plain = c;
		if (any == NULL)
			any = c;
	}
	return plain ? plain : any;
}

/* has_idle - does t have an idle connection? */
static bool has_idle(const struct sched_transport *t)
{
	for (struct agent_conn *c = conns; c; c = c->next)
		if (c->t == t && c->state == CONN_IDLE)
			return true;
	return false;
}

/* deliver_next - a connection of t is ready: send the next entry, if any */
static bool deliver_next(struct sched_transport *t, struct agent_conn *ready)
{
	struct sched_entry *e = sched_select_entry(t, NULL, qmgr_now);
	struct agent_conn *c;

	if (e == NULL)
		return false;
	/* A newly connected agent may have to give way to one with a session. */
	c = pick_conn(t, e->queue);
	if (ready && (c == NULL || c->session == NULL || strcmp(c->session, e->queue->name) != 0))
		c = ready;
	if (c == NULL)
		msg_panic("deliver_next: no connection for transport %s", t->name);
	send_request(c, e);
	return true;
}

/* conn_hello - check the agent's greeting */
static void conn_hello(struct agent_conn *c, struct attr_list *al)
{
	const char *proto = attr_get(al, "protocol");

	if (proto == NULL || strcmp(proto, DELIVER_PROTOCOL) != 0) {
		msg_warn("private/%s: unexpected greeting from the delivery agent", c->t->name);
		sched_transport_connect_failed(c->t, NULL, NULL, qmgr_now);
		conn_free(c);
		return;
	}
	sched_transport_connected(c->t);
	/*
	 * Ready for work: idle first, then offer it the next delivery (which
	 * may go to an agent holding a session instead, or fail and free c:
	 * nothing below may touch c).
	 */
	conn_idle(c);
	(void)deliver_next(c->t, c);
}

/* conn_read_event - readable, writable or timed out */
static void conn_read_event(int event, void *ctx)
{
	struct agent_conn *c = ctx;
	struct attr_list al;
	const char *error;
	char tmp[8192];
	ssize_t n;
	int r;

	if (event & EV_E_TIMEOUT) {
		long limit = c->state == CONN_CONNECTING ? maxproc(c->t) : 0;

		if (limit > 0 && agents_held(c->t) >= limit) {
			/* Every agent process is ours and busy: waiting, not failing. */
			ev_read_enable(c->fd, conn_read_event, c, (double)var_qmgr_ipc_timeout);
			return;
		}
		if (c->state == CONN_CONNECTING) {
			msg_warn("private/%s: no greeting from the delivery agent within %lds",
				 c->t->name, var_qmgr_ipc_timeout);
			sched_transport_connect_failed(c->t, NULL, NULL, qmgr_now);
			conn_free(c);
		} else if (c->state == CONN_BUSY) {
			conn_crash(c, "delivery agent did not answer in time");
		}
		qmgr_wakeup();
		return;
	}
	if (event & EV_E_WRITE) {
		n = write(c->fd, c->out->data + c->written, c->out->len - c->written);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_crash(c, strerror(errno));
			qmgr_wakeup();
			return;
		}
		if (n > 0)
			c->written += (size_t)n;
		if (c->written == c->out->len)
			ev_read_enable(c->fd, conn_read_event, c, (double)var_daemon_timeout);
		return;
	}
	n = read(c->fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->state == CONN_BUSY) {
			conn_crash(c, "lost connection with the delivery agent");
		} else if (c->state == CONN_CONNECTING) {
			/* It was reached and went away (killed): not a dead transport. */
			msg_warn("private/%s: the delivery agent closed the connection before its greeting",
				 c->t->name);
			sched_transport_connect_lost(c->t, qmgr_now);
			conn_free(c);
		} else {
			conn_free(c);	/* an idle agent left: normal */
		}
		qmgr_wakeup();
		return;
	}
	buf_append(c->in, tmp, (size_t)n);
	attr_list_init(&al);
	while ((r = attr_frame_extract(c->in, 65536, &al, &error)) == 1) {
		if (c->state == CONN_CONNECTING) {
			conn_hello(c, &al);
		} else if (c->state == CONN_BUSY) {
			handle_reply(c, &al);
		} else {
			msg_warn("private/%s: unexpected message from an idle delivery agent",
				 c->t->name);
			conn_free(c);
		}
		attr_list_deinit(&al);
		return;
	}
	attr_list_deinit(&al);
	if (r < 0) {
		if (c->state == CONN_BUSY) {
			conn_crash(c, error);
		} else {
			if (c->state == CONN_CONNECTING)
				sched_transport_connect_failed(c->t, NULL, NULL, qmgr_now);
			msg_warn("private/%s: %s", c->t->name, error);
			conn_free(c);
		}
		qmgr_wakeup();
	}
}

/* maxproc - master.cf process limit of a transport's service (0: none) */
static long maxproc(const struct sched_transport *t)
{
	const struct master_ent *ents, *e;
	size_t n;

	ents = mail_conf_master(&n);
	e = master_cf_find(ents, n, t->name, "unix");
	return e ? e->maxproc : 0;
}

/* agents_held - connections of t that hold an agent process */
static long agents_held(const struct sched_transport *t)
{
	long n = 0;

	for (struct agent_conn *c = conns; c; c = c->next)
		if (c->t == t && c->state != CONN_CONNECTING)
			n++;
	return n;
}

/*
 * serve_idle - give idle connections work before anything else.  The
 * scheduler's transport selection caps connection set-ups at two per
 * transport; while those wait for an agent process (every process busy or
 * held idle by us), idle connections would otherwise sit unused.  A dead
 * or rate-locked transport gets nothing here: those limits stay the
 * scheduler's.
 */
static void serve_idle(void)
{
	struct agent_conn *c;
	struct sched_transport *t;
	bool progress = true;

	while (progress) {
		progress = false;
		for (c = conns; c; c = c->next) {
			if (c->state != CONN_IDLE)
				continue;
			t = c->t;
			/* Dead, or paced by a transport rate delay: the scheduler decides. */
			if ((t->flags & (SCHED_TRANSPORT_DEAD | SCHED_TRANSPORT_RATE_LOCK))
			    || t->conf.xport_rate_delay > 0)
				continue;
			if (deliver_next(t, NULL)) {
				progress = true;
				break;		/* the list changed: start over */
			}
		}
	}
}

/* qmgr_deliver_drain - give every transport that can use it a delivery */
void qmgr_deliver_drain(void)
{
	struct sched_transport *t;
	struct agent_conn *c;
	char *path;
	int fd;

	serve_idle();
	while ((t = sched_select_transport(qmgr_sched, qmgr_now)) != NULL) {
		if (has_idle(t)) {
			sched_transport_connected(t);
			/* The scheduler said yes; if it changes its mind, stop here. */
			if (!deliver_next(t, NULL))
				break;
			continue;
		}
		path = xasprintf("%s/private/%s", var_queue_directory, t->name);
		fd = unix_connect(path, true);
		if (fd < 0 && errno == EAGAIN) {
			/*
			 * The agents' listen queue is full: every agent is busy.
			 * Not a failure of the transport; try again next turn.
			 */
			free(path);
			sched_transport_connect_abandoned(t);
			break;
		}
		if (fd < 0) {
			msg_warn("connect to transport %s: %s", path, strerror(errno));
			free(path);
			sched_transport_connect_failed(t, NULL, NULL, qmgr_now);
			continue;
		}
		free(path);
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->t = t;
		c->state = CONN_CONNECTING;
		c->in = buf_create(1024);
		c->out = buf_create(1024);
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		ev_read_enable(fd, conn_read_event, c, (double)var_qmgr_ipc_timeout);
	}
}

/* qmgr_deliver_close_idle - let agents go that were not needed for a while */
void qmgr_deliver_close_idle(void)
{
	struct agent_conn *c, *next;

	for (c = conns; c; c = next) {
		next = c->next;
		if (c->state == CONN_IDLE && qmgr_now - c->idle_since >= QMGR_AGENT_IDLE)
			conn_free(c);
	}
}
