/*
 * sim_agent - delivery agent connections, the agent processes behind them
 * and the simulated remote sites.
 *
 * Contract.  The queue manager's half is the drain policy itself
 * (src/qmgr/drain.c, linked as qmgr links it): this file gives it its
 * operations (struct drain_ops: connect, send a request, crash, close,
 * the process limit, a finished batch) and feeds it what its agents do
 * (greeting, reply, late greeting, hang-up).
 *
 * This file stands in for master, the agents and the network.  A
 * transport has at most process_limit agent processes (master.cf maxproc);
 * a process serves one connection at a time and is spawned when a
 * connection finds none free.  A connection that finds none and no room
 * for another waits in master's listen queue, which holds listen_queue + 1
 * (Linux refuses a connect once more than the backlog wait); a connection
 * closed before any process took it stays in the queue until one does.
 * The greeting comes connect_time after a process takes the connection.
 * A process counts its requests over all its connections: the one that
 * reaches max_use is answered with "last", then the process exits.  An
 * agent that waits max_idle for a request hangs up (the queue manager
 * reads the hang-up at its next poll, so a turn at that instant may still
 * write to it); a process that waits max_idle for a connection exits.
 * These happenings in the world wake the queue manager only through what
 * it can see.  A site answers each delivery after its service time, or
 * refuses it (an outage: "refuse" after reject_time, "timeout" after
 * smtp_connect_timeout; or a 421 after reject_time when its
 * concurrency_cap sessions are busy), each refusal being a hop failure.
 * Accepted deliveries may defer recipients (defer_rate, positive feedback)
 * or crash the agent (crash_rate).  The smtp agent's session cache is per
 * process: with the REUSE flag (back-to-back deliveries) the agent keeps
 * the session for smtp_connection_cache_time_limit and says so; a reused
 * session skips the site's setup time and its 421 check.  The retry
 * transport's agent defers every recipient after retry_service_time.
 *
 * Diagnostics: none; broken invariants are panics.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util/log.h"
#include "util/mem.h"

static void serve_waiters(struct sim *sim, struct sim_xport *x);

/* max_use - requests per agent process */
static long max_use(const struct sim *sim, const struct sim_xport *x)
{
	return x->max_use > 0 ? x->max_use : sim->p.max_use;
}

/* max_idle - how long an agent waits for a request or a connection */
static double max_idle(const struct sim *sim, const struct sim_xport *x)
{
	return x->max_idle > 0 ? x->max_idle : sim->p.max_idle;
}

/* listen_queue - master's listen() backlog for the transport */
static long listen_queue(const struct sim *sim, const struct sim_xport *x)
{
	return x->listen_queue >= 0 ? x->listen_queue : sim->p.agent_listen_queue;
}

/* ---------------------------------------------------------- processes */

/* proc_take - a process to accept a connection: an idle one, or a new one */
static struct sim_proc *proc_take(struct sim *sim, struct sim_xport *x)
{
	struct sim_proc *p;

	if ((p = TAILQ_FIRST(&x->idle)) != NULL) {
		TAILQ_REMOVE(&x->idle, p, idle_link);
		sim_event_cancel(&p->exit_ev);
		return p;
	}
	if (x->procs >= sim_process_limit(sim, x))
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->x = x;
	if (++x->procs > x->peak_procs)
		x->peak_procs = x->procs;
	return p;
}

/* site_open - a new session to d */
static void site_open(struct sim_dest *d)
{
	if (++d->active > d->st.peak_sessions)
		d->st.peak_sessions = d->active;
}

/* session_close - the agent process drops the session it holds, if any */
static void session_close(struct sim *sim, struct sim_proc *p)
{
	sim_event_cancel(&p->session_ev);
	if (p->session) {
		sim_site_release(sim, p->session);
		p->session = NULL;
	}
}

/* proc_free - the process exits */
static void proc_free(struct sim *sim, struct sim_proc *p)
{
	session_close(sim, p);
	sim_event_cancel(&p->exit_ev);
	p->x->procs--;
	free(p);
}

/* proc_idle - the process waits for a connection, max_idle at most */
static void proc_idle(struct sim *sim, struct sim_proc *p)
{
	struct sim_xport *x = p->x;

	p->conn = NULL;
	p->exit_ev = sim_event_add(sim, sim->now + max_idle(sim, x), SIM_EV_PROC_EXIT, p);
	TAILQ_INSERT_TAIL(&x->idle, p, idle_link);
}

/* proc_release - the process is done with its connection: exit or accept again */
static void proc_release(struct sim *sim, struct sim_proc *p)
{
	struct sim_xport *x = p->x;

	if (p->dead || p->uses >= max_use(sim, x))
		proc_free(sim, p);
	else
		proc_idle(sim, p);
	serve_waiters(sim, x);
}

/* sim_proc_exit_idle - a process waited max_idle for a connection: it exits */
void sim_proc_exit_idle(struct sim *sim, struct sim_proc *p)
{
	struct sim_xport *x = p->x;

	if (p->conn)
		msg_panic("sim_proc_exit_idle: process not idle");
	TAILQ_REMOVE(&x->idle, p, idle_link);
	x->proc_exits++;
	proc_free(sim, p);
}

/* grant - process p takes connection c; the agent greets after connect_time */
static void grant(struct sim *sim, struct sim_conn *c, struct sim_proc *p)
{
	struct sim_xport *x = c->x;
	double delay = x->connect_time >= 0 ? x->connect_time : sim->p.agent_connect_time;

	c->proc = p;
	p->conn = c;
	c->ev = sim_event_add(sim, sim->now + delay, SIM_EV_HELLO, c);
}

/*
 * serve_waiters - free processes (or room for new ones) take the
 * connections in master's listen queue, oldest first; one closed before
 * it was accepted costs the process nothing.
 */
static void serve_waiters(struct sim *sim, struct sim_xport *x)
{
	struct sim_waiter *w;
	struct sim_proc *p;

	while (x->wait_head && (p = proc_take(sim, x)) != NULL) {
		while ((w = x->wait_head) != NULL) {
			if ((x->wait_head = w->next) == NULL)
				x->wait_tail = NULL;
			x->nwait--;
			if (w->conn)
				break;
			free(w);
		}
		if (w == NULL) {
			/* Only closed connections were waiting: the process idles. */
			proc_idle(sim, p);
			return;
		}
		w->conn->waiter = NULL;
		grant(sim, w->conn, p);
		free(w);
	}
}

/* ---------------------------------------------------------- connections */

/* sim_agent_connect - drain_ops.connect: connect to private/<transport> */
enum drain_connect sim_agent_connect(void *ctx, struct drain_conn *dc)
{
	struct sim *sim = ctx;
	struct sim_xport *x = dc->t->ctx;
	struct sim_conn *c;
	struct sim_waiter *w;
	struct sim_proc *p = NULL;

	if (x->wait_head == NULL)
		p = proc_take(sim, x);
	if (p == NULL && x->nwait > listen_queue(sim, x)) {
		/* EAGAIN: every agent is busy; not a failure.  Next turn. */
		x->listen_full++;
		sim_trace(sim, "connect %s: listen queue full (%ld waiting): agents busy",
			  x->name, x->nwait);
		return DRAIN_CONNECT_BUSY;
	}
	c = xcalloc(1, sizeof(*c));
	c->id = ++sim->next_conn_id;
	c->x = x;
	c->dc = dc;
	dc->ctx = c;
	x->connections++;
	c->timeout_ev = sim_event_add(sim, sim->now + sim->p.qmgr_ipc_timeout,
				      SIM_EV_CONNECT_TIMEOUT, c);
	if (p) {
		grant(sim, c, p);
		sim_trace(sim, "connect %s conn %ld", x->name, c->id);
	} else {
		/* master's listen queue: wait until a process is free */
		w = xcalloc(1, sizeof(*w));
		w->conn = c;
		c->waiter = w;
		if (x->wait_tail)
			x->wait_tail->next = w;
		else
			x->wait_head = w;
		x->wait_tail = w;
		x->nwait++;
		sim_trace(sim, "connect %s conn %ld (all %ld agents taken: waiting)", x->name, c->id,
			  x->procs);
	}
	return DRAIN_CONNECTED;
}

/* sim_site_release - a session to d is closed (the site notices release_time later) */
void sim_site_release(struct sim *sim, struct sim_dest *d)
{
	if (d->release_time > 0)
		sim_event_add(sim, sim->now + d->release_time, SIM_EV_SITE_RELEASE, d);
	else
		d->active--;
}

/* sim_agent_session_expire - smtp_connection_cache_time_limit passed */
void sim_agent_session_expire(struct sim *sim, struct sim_proc *p)
{
	if (p->conn)
		sim_trace(sim, "agent of conn %ld closes its session to %s", p->conn->id,
			  p->session->name);
	else
		sim_trace(sim, "idle %s agent closes its session to %s", p->x->name,
			  p->session->name);
	session_close(sim, p);
}

/* sim_agent_close - drain_ops.close: its agent process accepts again or exits */
void sim_agent_close(void *ctx, struct drain_conn *dc)
{
	struct sim *sim = ctx;
	struct sim_conn *c = dc->ctx;
	struct sim_proc *p = c->proc;

	sim_event_cancel(&c->ev);
	sim_event_cancel(&c->timeout_ev);
	sim_event_cancel(&c->agent_idle_ev);
	sim_event_cancel(&c->eof_ev);
	if (c->waiter)
		c->waiter->conn = NULL;		/* stays in the listen queue */
	free(c);
	if (p && sim->closing) {
		/* The end of the run: no world left to go back to. */
		sim_event_cancel(&p->session_ev);
		sim_event_cancel(&p->exit_ev);
		free(p);
	} else if (p) {
		proc_release(sim, p);
	}
}

/* sim_agent_idle_op - drain_ops.idle: nothing to do (the agent's timer runs apart) */
void sim_agent_idle_op(void *ctx, struct drain_conn *dc)
{
}

/* agent_wait - the agent waits for a request, max_idle at most */
static void agent_wait(struct sim *sim, struct sim_conn *c)
{
	sim_event_cancel(&c->agent_idle_ev);
	c->agent_idle_ev = sim_event_add(sim, sim->now + max_idle(sim, c->x), SIM_EV_AGENT_IDLE,
					 c);
}

/* outage_at - the fault in force at d now, or NULL */
static struct sim_outage *outage_at(struct sim *sim, struct sim_dest *d)
{
	for (size_t i = 0; i < d->noutages; i++)
		if (d->outages[i].from <= sim->now && sim->now < d->outages[i].until)
			return &d->outages[i];
	return NULL;
}

/*
 * site_answer - what the agent will report for entry e, and when: the
 * remote site's behaviour at this moment.
 */
static double site_answer(struct sim *sim, struct sim_conn *c, struct sched_entry *e,
			  bool reuse_flag)
{
	struct sim_batch *b = e->ctx;
	struct sim_dest *d = b->group->dest;
	struct sim_result *r = &c->res;
	struct sim_proc *p = c->proc;
	struct sim_outage *o;
	bool reused;
	double t;

	memset(r, 0, sizeof(*r));
	if (b->retry) {
		/* The retry agent logs each recipient as deferred, nothing more. */
		sim->retry_deliveries++;
		r->kind = SCHED_OUTCOME_OK;
		r->deferred = b->count;
		return sim->p.retry_service_time;
	}
	sim->site_deliveries++;
	sim_stats_start(sim, d, e->queue->window, e->queue->busy_count);

	/*
	 * The agent takes the session it holds if it is for this site (it is
	 * fresh: an expired one is gone already), or closes it.
	 */
	reused = p->session == d;
	if (reused) {
		sim_event_cancel(&p->session_ev);
		p->session = NULL;
	} else {
		session_close(sim, p);
	}

	if ((o = outage_at(sim, d)) != NULL) {
		if (reused)
			sim_site_release(sim, d);
		r->kind = SCHED_OUTCOME_HOP_FAIL;
		r->status = "4.4.1";
		if (o->kind == SIM_FAULT_REFUSE) {
			snprintf(r->reason, sizeof(r->reason), "connect to %s: Connection refused",
				 d->name);
			return d->reject_time;
		}
		snprintf(r->reason, sizeof(r->reason), "connect to %s: Connection timed out",
			 d->name);
		return sim->p.smtp_connect_timeout;
	}
	if (!reused && d->cap > 0 && d->active >= d->cap) {
		r->kind = SCHED_OUTCOME_HOP_FAIL;
		r->status = "4.7.0";
		snprintf(r->reason, sizeof(r->reason),
			 "host %s refused to talk to me: 421 4.7.0 Too many connections", d->name);
		return d->reject_time;
	}
	/* A reused session is open already: the site counted it. */
	if (!reused)
		site_open(d);
	r->site_slot = true;
	if (reused)
		d->st.reused++;
	t = d->service;
	if (d->jitter > 0)
		t *= 1 + d->jitter * (2 * sim_random(sim) - 1);
	t += d->per_rcpt * (double)b->count + (reused ? 0 : d->setup);
	if (d->crash_rate > 0 && sim_random(sim) < d->crash_rate) {
		r->kind = SCHED_OUTCOME_CRASH;
		return t;
	}
	r->kind = SCHED_OUTCOME_OK;
	for (long i = 0; i < b->count; i++) {
		if (d->defer_rate > 0 && sim_random(sim) < d->defer_rate)
			r->deferred++;
		else
			r->delivered++;
	}
	r->keep_session = reuse_flag && sim->p.smtp_connection_cache_on_demand;
	return t;
}

/* xport_started - a delivery over x starts now (spacing figures) */
static void xport_started(struct sim *sim, struct sim_xport *x)
{
	double gap;

	if (x->deliveries++ > 0) {
		gap = sim->now - x->last_start;
		if (x->gaps++ == 0 || gap < x->gap_min)
			x->gap_min = gap;
		x->gap_sum += gap;
	}
	x->last_start = sim->now;
}

/*
 * sim_agent_crash - drain_ops.crash: the agent broke while delivering (why
 * NULL), or was gone before its first request: no feedback, the delivery
 * deferred; the scheduler throttles the transport only at the end of a
 * streak of lost agents (SCHED_CRASH_LIMIT).
 */
void sim_agent_crash(void *ctx, struct drain_conn *dc, const char *why)
{
	struct sim *sim = ctx;
	struct sim_conn *c = dc->ctx;
	struct sched_entry *e = dc->entry;
	struct sim_batch *b = e->ctx;
	struct sim_dest *d = b->group->dest;
	struct sched_outcome o = {.kind = SCHED_OUTCOME_CRASH};
	struct sched_transport *t = dc->t;
	bool was_dead = sched_transport_dead(t);

	if (why)
		sim_trace(sim, "crash conn %ld msg %ld %s (%s): delivery deferred", c->id,
			  b->msg->id, e->queue->name, why);
	else
		sim_trace(sim, "crash conn %ld msg %ld %s: delivery deferred", c->id,
			  b->msg->id, e->queue->name);
	b->msg->deferred = true;
	d->st.crashes++;
	if (c->proc)
		c->proc->dead = true;
	drain_entry_finish(sim->d, dc, &o);
	if (!was_dead && sched_transport_dead(t)) {
		sim_trace(sim, "transport %s throttled: %d agents lost in a row", c->x->name,
			  SCHED_CRASH_LIMIT);
		c->x->throttles++;
	}
	sim_dest_observe(sim, d);
	drain_conn_free(sim->d, dc);
	sim_wakeup(sim);
}

/* sim_agent_send - drain_ops.send: hand entry e to the agent on connection c */
enum drain_send sim_agent_send(void *ctx, struct drain_conn *dc, struct sched_entry *e,
				    const char **why_r)
{
	struct sim *sim = ctx;
	struct sim_conn *c = dc->ctx;
	struct sim_batch *b = e->ctx;
	bool reuse_flag = (e->queue->conn_flags & SCHED_CONN_STORE) != 0;
	double t;

	if (c->agent_gone) {
		/* The write fails: the agent hung up; qmgr has not read it yet. */
		*why_r = "write: broken pipe";
		return DRAIN_SEND_GONE;
	}
	sim_event_cancel(&c->agent_idle_ev);
	xport_started(sim, c->x);
	t = site_answer(sim, c, e, reuse_flag);
	c->ev = sim_event_add(sim, sim->now + t, SIM_EV_REPLY, c);
	sim_trace(sim, "deliver conn %ld msg %ld -> %s %s rcpt %ld (window %ld busy %ld%s)",
		  c->id, b->msg->id, c->x->name, e->queue->name, b->count, e->queue->window,
		  e->queue->busy_count, reuse_flag ? " reuse" : "");
	return DRAIN_SENT;
}

/* sim_agent_hello - the agent greeted: the pending connection is up */
void sim_agent_hello(struct sim *sim, struct sim_conn *c)
{
	sim_event_cancel(&c->timeout_ev);
	sim_trace(sim, "hello %s conn %ld", c->x->name, c->id);
	agent_wait(sim, c);		/* the agent now waits for a request */
	if (!drain_hello(sim->d, c->dc))
		sim_trace(sim, "idle conn %ld (nothing eligible)", c->id);
}

/* sim_agent_process_limit - drain_ops.process_limit */
long sim_agent_process_limit(void *ctx, const struct sched_transport *t)
{
	return sim_process_limit(ctx, t->ctx);
}

/*
 * sim_agent_timeout - no greeting in time: waiting on while every agent
 * process is ours, else the transport is throttled
 */
void sim_agent_timeout(struct sim *sim, struct sim_conn *c)
{
	struct sim_xport *x = c->x;

	if (c->dc->state != DRAIN_CONN_CONNECTING)
		return;
	if (drain_greeting_wait(sim->d, c->dc)) {
		/* Every agent process is ours and busy: waiting, not failing. */
		x->greeting_waits++;
		sim_trace(sim, "no greeting from %s conn %ld yet: all %ld agents are ours, waiting on",
			  x->name, c->id, sim_process_limit(sim, x));
		c->timeout_ev = sim_event_add(sim, sim->now + sim->p.qmgr_ipc_timeout,
					      SIM_EV_CONNECT_TIMEOUT, c);
		return;
	}
	sim_trace(sim, "no greeting from %s conn %ld: transport throttled", x->name, c->id);
	x->throttles++;
	drain_connect_failed(sim->d, c->dc);
}

/* sim_agent_idle - the agent waited max_idle for a request: it hangs up */
void sim_agent_idle(struct sim *sim, struct sim_conn *c)
{
	struct sim_proc *p = c->proc;

	sim_trace(sim, "agent of conn %ld hangs up after max_idle", c->id);
	c->x->idle_hangups++;
	c->agent_gone = true;
	c->proc = NULL;
	/*
	 * The queue manager reads the end of file at its next poll: a turn
	 * running at this very instant may still write a request (EPIPE).
	 */
	c->eof_ev = sim_event_add(sim, nextafter(sim->now, INFINITY), SIM_EV_AGENT_EOF, c);
	proc_release(sim, p);
}

/* sim_agent_eof - the queue manager reads an agent's hang-up */
void sim_agent_eof(struct sim *sim, struct sim_conn *c)
{
	if (c->dc->state != DRAIN_CONN_IDLE)
		msg_panic("sim_agent_eof: conn %ld is not idle", c->id);
	sim_trace(sim, "idle agent left conn %ld", c->id);
	drain_conn_free(sim->d, c->dc);	/* an idle agent left: normal */
	sim_wakeup(sim);
}

/* sim_agent_reply - the agent's reply to the delivery in progress */
void sim_agent_reply(struct sim *sim, struct sim_conn *c)
{
	struct drain_conn *dc = c->dc;
	struct sched_entry *e = dc->entry;
	struct sim_xport *x = c->x;
	struct sim_batch *b = e->ctx;
	struct sim_msg *msg = b->msg;
	struct sim_group *g = b->group;
	struct sim_dest *d = g->dest;
	struct sim_result *r = &c->res;
	struct sim_proc *p = c->proc;
	struct sched_outcome o = {.kind = r->kind, .status = r->status, .reason = r->reason};
	char *qname;
	bool last;

	/* The session ends, or the agent keeps it open for the next request. */
	if (r->site_slot && !r->keep_session)
		sim_site_release(sim, d);

	/* No valid reply: the agent process died (conn_crash). */
	if (r->kind == SCHED_OUTCOME_CRASH) {
		sim_agent_crash(sim, dc, NULL);
		return;
	}

	/* agent_server: the request counts, and the last one says so. */
	p->uses++;
	last = p->uses >= max_use(sim, c->x);
	qname = xstrdup(e->queue->name);
	if (r->deferred > 0 || r->kind == SCHED_OUTCOME_HOP_FAIL)
		msg->deferred = true;
	if (b->retry) {
		d->st.def_dead += b->count;
	} else {
		if (r->kind == SCHED_OUTCOME_HOP_FAIL) {
			d->st.def_hop += b->count;
			d->st.hop_fail++;
		} else {
			d->st.def_rcpt += r->deferred;
			g->remaining -= r->delivered;
			sim_stats_delivered(sim, d, msg, r->delivered);
		}
		if (b->first) {
			d->st.first_rcpt += b->count;
			if (r->kind == SCHED_OUTCOME_HOP_FAIL)
				d->st.first_fail += b->count;
		}
		g->tries++;
	}
	if (r->kind == SCHED_OUTCOME_HOP_FAIL)
		sim_trace(sim, "reply conn %ld msg %ld %s: hop failure %s %s%s", c->id, msg->id,
			  qname, r->status, r->reason, last ? " (last)" : "");
	else
		sim_trace(sim, "reply conn %ld msg %ld %s: delivered %ld deferred %ld%s%s", c->id,
			  msg->id, qname, r->delivered, r->deferred,
			  r->keep_session ? " (session kept)" : "", last ? " (last)" : "");

	/* The session the agent holds now, as its reply says. */
	if (r->keep_session) {
		p->session = d;
		p->session_ev = sim_event_add(sim, sim->now
					      + sim->p.smtp_connection_cache_time_limit,
					      SIM_EV_SESSION_EXPIRE, p);
	}
	if (drain_reply(sim->d, dc, &o, r->keep_session ? qname : NULL, last))
		agent_wait(sim, c);
	else
		x->last_replies++;	/* max_use: the connection is closed */
	free(qname);
}

/* sim_agent_batch_done - drain_ops.batch_done: a delivery's recipients are accounted for */
void sim_agent_batch_done(void *ctx, void *batch)
{
	struct sim *sim = ctx;
	struct sim_batch *b = batch;
	struct sim_msg *msg = b->msg;
	struct sim_dest *d = b->group->dest;
	bool retry = b->retry;

	free(b);
	if (!retry)
		sim_dest_observe(sim, d);
	if (--msg->refcount == 0)
		sim_message_continue(sim, msg);
}

/* sim_agent_note - drain_ops.note: trace lines of the policy's decisions */
void sim_agent_note(void *ctx, enum drain_note what, struct drain_conn *dc,
		 const struct drain_conn *other, const struct sched_entry *e,
		 const char *status, const char *reason)
{
	struct sim *sim = ctx;
	struct sim_conn *c = dc ? dc->ctx : NULL;

	switch (what) {
	case DRAIN_NOTE_GIVES_WAY:
		sim_trace(sim, "conn %ld gives way: conn %ld holds a session to %s", c->id,
			  ((struct sim_conn *)other->ctx)->id, e->queue->name);
		break;
	case DRAIN_NOTE_PUT_BACK:
		sim_trace(sim, "write conn %ld: the agent left: msg %ld back to %s", c->id,
			  ((struct sim_msg *)e->msg)->id, e->queue->name);
		c->x->write_fails++;
		break;
	case DRAIN_NOTE_CLOSE_IDLE:
		sim_trace(sim, "close idle %s conn %ld", c->x->name, c->id);
		break;
	case DRAIN_NOTE_GIVE_BACK:
		sim_trace(sim, "give-back msg %ld %s: %s %s", ((struct sim_msg *)e->msg)->id,
			  e->queue->name, status, reason);
		break;
	}
}

/* sim_agents_free - forget every idle process and waiter (end of the run, after
 * the drain policy closed the connections) */
void sim_agents_free(struct sim *sim)
{
	struct sim_waiter *w;
	struct sim_proc *p;

	for (struct sim_xport *x = sim->xports; x; x = x->next) {
		while ((w = x->wait_head) != NULL) {
			x->wait_head = w->next;
			free(w);
		}
		while ((p = TAILQ_FIRST(&x->idle)) != NULL) {
			TAILQ_REMOVE(&x->idle, p, idle_link);
			sim_event_cancel(&p->exit_ev);
			sim_event_cancel(&p->session_ev);
			free(p);
		}
		x->wait_tail = NULL;
	}
}
