/*
 * sim_agent - delivery agent connections, the agent processes behind them
 * and the simulated remote sites.
 *
 * Contract.  The queue manager's half mirrors qmgr_deliver.c call for
 * call.  qmgr_deliver_drain: serve_idle first (every idle connection of a
 * transport that is neither dead nor rate-locked gets work, outside the
 * scheduler's transport selection and its cap of two set-ups), then
 * sched_select_transport: an idle connection of the chosen transport is
 * used at once, else a new connection is opened, pending until the agent's
 * greeting; a connect refused because master's listen queue is full
 * (EAGAIN) is "agents busy, next turn" (sched_transport_connect_abandoned, stop).
 * deliver_next: the scheduler chooses the destination round robin
 * (sched_select_entry with no preferred queue), then pick_conn the idle
 * connection whose agent holds a session to it, else one without a
 * session; a newly greeted connection gives way only to one with that
 * session.  send_request: a request to an agent that has hung up (EPIPE)
 * puts the entry back (sched_entry_unselect) when the connection was used
 * before, else it is a crash.  handle_reply: message flags, hop status ->
 * HOP_FAIL, the session the agent reports, sched_entry_done, then the
 * message may finish; the agent's "last" reply closes the connection.
 * The greeting time limit (qmgr_ipc_timeout) is re-armed while every agent
 * process of the transport is held by a greeted connection of ours, else
 * it throttles the transport (sched_transport_connect_failed).  A crash:
 * no feedback, that delivery deferred, the transport throttled only by a
 * streak of SCHED_CRASH_LIMIT crashes without a valid reply.  Connections idle for
 * agent_idle_time (QMGR_AGENT_IDLE) are closed.
 *
 * The other half stands in for master, the agents and the network.  A
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

/* process_limit - agent processes of the transport */
static long process_limit(const struct sim *sim, const struct sim_xport *x)
{
	return x->process_limit > 0 ? x->process_limit : sim->p.default_process_limit;
}

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

	if ((p = x->idle_head) != NULL) {
		if ((x->idle_head = p->next) == NULL)
			x->idle_tail = NULL;
		p->next = NULL;
		sim_event_cancel(&p->exit_ev);
		return p;
	}
	if (x->procs >= process_limit(sim, x))
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
	if (x->idle_tail)
		x->idle_tail->next = p;
	else
		x->idle_head = p;
	x->idle_tail = p;
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
	struct sim_proc **pp, *prev = NULL;

	for (pp = &x->idle_head; *pp != p; prev = *pp, pp = &(*pp)->next)
		if (*pp == NULL)
			msg_panic("sim_proc_exit_idle: process not idle");
	*pp = p->next;
	if (x->idle_tail == p)
		x->idle_tail = prev;
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

/* conn_new - connect to private/<transport>; NULL when the listen queue is full */
static struct sim_conn *conn_new(struct sim *sim, struct sim_xport *x)
{
	struct sim_conn *c;
	struct sim_waiter *w;
	struct sim_proc *p = NULL;

	if (x->wait_head == NULL)
		p = proc_take(sim, x);
	if (p == NULL && x->nwait > listen_queue(sim, x)) {
		x->listen_full++;
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->id = ++sim->next_conn_id;
	c->x = x;
	c->state = SIM_CONN_CONNECTING;
	c->next = sim->conns;
	if (sim->conns)
		sim->conns->prev = c;
	sim->conns = c;
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
	return c;
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

/* conn_free - close a connection; its agent process accepts again or exits */
static void conn_free(struct sim *sim, struct sim_conn *c)
{
	struct sim_proc *p = c->proc;

	sim_event_cancel(&c->ev);
	sim_event_cancel(&c->timeout_ev);
	sim_event_cancel(&c->agent_idle_ev);
	sim_event_cancel(&c->eof_ev);
	if (c->waiter)
		c->waiter->conn = NULL;		/* stays in the listen queue */
	if (c->prev)
		c->prev->next = c->next;
	else
		sim->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->session);
	free(c);
	if (p)
		proc_release(sim, p);
}

/* agent_wait - the agent waits for a request, max_idle at most */
static void agent_wait(struct sim *sim, struct sim_conn *c)
{
	sim_event_cancel(&c->agent_idle_ev);
	c->agent_idle_ev = sim_event_add(sim, sim->now + max_idle(sim, c->x), SIM_EV_AGENT_IDLE,
					 c);
}

/* conn_idle - the connection waits for work */
static void conn_idle(struct sim *sim, struct sim_conn *c)
{
	c->state = SIM_CONN_IDLE;
	c->entry = NULL;
	c->idle_since = sim->now;
	if (sim->now + sim->p.agent_idle_time < sim->idle_check_at)
		sim->idle_check_at = sim->now + sim->p.agent_idle_time;
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
 * conn_crash - the agent broke while delivering (why NULL), or was gone
 * before its first request: no feedback, the delivery deferred; the
 * scheduler throttles the transport only at the end of a streak of lost
 * agents (SCHED_CRASH_LIMIT).
 */
static void conn_crash(struct sim *sim, struct sim_conn *c, const char *why)
{
	struct sched_entry *e = c->entry;
	struct sim_batch *b = e->ctx;
	struct sim_dest *d = b->group->dest;
	struct sched_outcome o = {.kind = SCHED_OUTCOME_CRASH};
	struct sched_transport *t = c->x->t;
	bool was_dead = sched_transport_dead(t);

	if (why)
		sim_trace(sim, "crash conn %ld msg %ld %s (%s): delivery deferred", c->id,
			  b->msg->id, e->queue->name, why);
	else
		sim_trace(sim, "crash conn %ld msg %ld %s: delivery deferred", c->id,
			  b->msg->id, e->queue->name);
	b->msg->deferred = true;
	d->st.crashes++;
	c->entry = NULL;
	if (c->proc)
		c->proc->dead = true;
	sched_entry_done(e, &o, sim->now);
	if (!was_dead && sched_transport_dead(t)) {
		sim_trace(sim, "transport %s throttled: %d agents lost in a row", c->x->name,
			  SCHED_CRASH_LIMIT);
		c->x->throttles++;
	}
	sim_dest_observe(sim, d);
	conn_free(sim, c);
	sim->wakeup = true;
}

/* send_request - hand entry e to the agent on connection c */
static void send_request(struct sim *sim, struct sim_conn *c, struct sched_entry *e)
{
	struct sim_batch *b = e->ctx;
	bool reuse_flag = (e->queue->conn_flags & SCHED_CONN_STORE) != 0;
	double t;

	c->entry = e;
	c->state = SIM_CONN_BUSY;
	if (c->agent_gone) {
		/* The write fails: EPIPE (the agent hung up; qmgr has not read it yet). */
		if (c->uses > 0 || c->idle_since < sim->now) {
			/* A reused agent left while idle: nothing was delivered. */
			sim_trace(sim, "write conn %ld: the agent left: msg %ld back to %s", c->id,
				  b->msg->id, e->queue->name);
			c->x->write_fails++;
			c->entry = NULL;
			sched_entry_unselect(e);
			conn_free(sim, c);
			sim->wakeup = true;
			return;
		}
		conn_crash(sim, c, "write: broken pipe");
		return;
	}
	sim_event_cancel(&c->agent_idle_ev);
	xport_started(sim, c->x);
	t = site_answer(sim, c, e, reuse_flag);
	c->ev = sim_event_add(sim, sim->now + t, SIM_EV_REPLY, c);
	sim_trace(sim, "deliver conn %ld msg %ld -> %s %s rcpt %ld (window %ld busy %ld%s)",
		  c->id, b->msg->id, c->x->name, e->queue->name, b->count, e->queue->window,
		  e->queue->busy_count, reuse_flag ? " reuse" : "");
}

/*
 * pick_conn - the idle connection of x to carry a delivery to queue q: one
 * whose agent holds a session to q if there is one, else preferably one
 * without a session.
 */
static struct sim_conn *pick_conn(struct sim *sim, struct sim_xport *x,
				  const struct sched_queue *q)
{
	struct sim_conn *c, *plain = NULL, *any = NULL;

	for (c = sim->conns; c; c = c->next) {
		if (c->x != x || c->state != SIM_CONN_IDLE)
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

/* has_idle - does x have an idle connection? */
static bool has_idle(struct sim *sim, const struct sim_xport *x)
{
	for (struct sim_conn *c = sim->conns; c; c = c->next)
		if (c->x == x && c->state == SIM_CONN_IDLE)
			return true;
	return false;
}

/* deliver_next - a connection of t is ready: send the next entry, if any */
static bool deliver_next(struct sim *sim, struct sched_transport *t, struct sim_conn *ready)
{
	struct sched_entry *e = sched_select_entry(t, NULL, sim->now);
	struct sim_conn *c;

	if (e == NULL)
		return false;
	/* A newly connected agent may have to give way to one with a session. */
	c = pick_conn(sim, t->ctx, e->queue);
	if (ready && (c == NULL || c->session == NULL || strcmp(c->session, e->queue->name) != 0))
		c = ready;
	if (c == NULL)
		msg_panic("deliver_next: no connection for transport %s", t->name);
	if (ready && c != ready)
		sim_trace(sim, "conn %ld gives way: conn %ld holds a session to %s", ready->id,
			  c->id, e->queue->name);
	send_request(sim, c, e);
	return true;
}

/* sim_agent_hello - the agent greeted: the pending connection is up */
void sim_agent_hello(struct sim *sim, struct sim_conn *c)
{
	struct sched_transport *t = c->x->t;

	sim_event_cancel(&c->timeout_ev);
	sim_trace(sim, "hello %s conn %ld", c->x->name, c->id);
	sched_transport_connected(t);
	agent_wait(sim, c);		/* the agent now waits for a request */
	c->state = SIM_CONN_IDLE;	/* ready for work */
	c->idle_since = sim->now;
	if (!deliver_next(sim, t, c)) {
		conn_idle(sim, c);
		sim_trace(sim, "idle conn %ld (nothing eligible)", c->id);
	} else if (c->state == SIM_CONN_IDLE) {
		conn_idle(sim, c);	/* another agent took it: this one waits */
	}
}

/* agents_held - connections of x that hold an agent process (qmgr's view) */
static long agents_held(struct sim *sim, const struct sim_xport *x)
{
	long n = 0;

	for (struct sim_conn *c = sim->conns; c; c = c->next)
		if (c->x == x && c->state != SIM_CONN_CONNECTING)
			n++;
	return n;
}

/*
 * sim_agent_timeout - no greeting in time: waiting on while every agent
 * process is ours, else the transport is throttled
 */
void sim_agent_timeout(struct sim *sim, struct sim_conn *c)
{
	struct sim_xport *x = c->x;

	if (c->state != SIM_CONN_CONNECTING)
		return;
	if (agents_held(sim, x) >= process_limit(sim, x)) {
		/* Every agent process is ours and busy: waiting, not failing. */
		x->greeting_waits++;
		sim_trace(sim, "no greeting from %s conn %ld yet: all %ld agents are ours, waiting on",
			  x->name, c->id, process_limit(sim, x));
		c->timeout_ev = sim_event_add(sim, sim->now + sim->p.qmgr_ipc_timeout,
					      SIM_EV_CONNECT_TIMEOUT, c);
		return;
	}
	sim_trace(sim, "no greeting from %s conn %ld: transport throttled", x->name, c->id);
	sched_transport_connect_failed(x->t, NULL, NULL, sim->now);
	x->throttles++;
	conn_free(sim, c);
	sim->wakeup = true;
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
	if (c->state != SIM_CONN_IDLE)
		msg_panic("sim_agent_eof: conn %ld is not idle", c->id);
	sim_trace(sim, "idle agent left conn %ld", c->id);
	conn_free(sim, c);		/* an idle agent left: normal */
	sim->wakeup = true;
}

/* sim_agent_reply - the agent's reply to the delivery in progress */
void sim_agent_reply(struct sim *sim, struct sim_conn *c)
{
	struct sched_entry *e = c->entry;
	struct sim_batch *b = e->ctx;
	struct sim_msg *msg = b->msg;
	struct sim_group *g = b->group;
	struct sim_dest *d = g->dest;
	struct sim_result *r = &c->res;
	struct sim_proc *p = c->proc;
	struct sched_outcome o = {.kind = r->kind, .status = r->status, .reason = r->reason};
	char *qname;
	bool retry, last;

	/* The session ends, or the agent keeps it open for the next request. */
	if (r->site_slot && !r->keep_session)
		sim_site_release(sim, d);

	/* No valid reply: the agent process died (conn_crash). */
	if (r->kind == SCHED_OUTCOME_CRASH) {
		conn_crash(sim, c, NULL);
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
	XFREE(c->session);
	if (r->keep_session) {
		c->session = xstrdup(qname);
		p->session = d;
		p->session_ev = sim_event_add(sim, sim->now
					      + sim->p.smtp_connection_cache_time_limit,
					      SIM_EV_SESSION_EXPIRE, p);
	}

	/* entry_finish */
	retry = b->retry;
	c->entry = NULL;
	free(b);
	e->ctx = NULL;
	sched_entry_done(e, &o, sim->now);
	if (!retry)
		sim_dest_observe(sim, d);
	free(qname);
	if (--msg->refcount == 0)
		sim_message_continue(sim, msg);
	c->uses++;
	/* An agent at the end of its max_use leaves: do not reuse it. */
	if (last) {
		c->x->last_replies++;
		conn_free(sim, c);
	} else {
		conn_idle(sim, c);
		agent_wait(sim, c);
	}
	sim->wakeup = true;
}

/*
 * serve_idle - give idle connections work before anything else, outside
 * the scheduler's transport selection; not for a dead or rate-locked
 * transport.
 */
static void serve_idle(struct sim *sim)
{
	struct sched_transport *t;
	struct sim_conn *c;
	bool progress = true;

	while (progress) {
		progress = false;
		for (c = sim->conns; c; c = c->next) {
			if (c->state != SIM_CONN_IDLE)
				continue;
			t = c->x->t;
			if ((t->flags & (SCHED_TRANSPORT_DEAD | SCHED_TRANSPORT_RATE_LOCK))
			    || t->conf.xport_rate_delay > 0)
				continue;
			if (deliver_next(sim, t, NULL)) {
				progress = true;
				break;		/* the list changed: start over */
			}
		}
	}
}

/* sim_deliver_drain - give every transport that can use it a delivery */
void sim_deliver_drain(struct sim *sim)
{
	struct sched_transport *t;
	struct sim_xport *x;

	serve_idle(sim);
	while ((t = sched_select_transport(sim->s, sim->now)) != NULL) {
		x = t->ctx;
		if (has_idle(sim, x)) {
			sched_transport_connected(t);
			/* The scheduler said yes; if it changes its mind, stop here. */
			if (!deliver_next(sim, t, NULL))
				break;
			continue;
		}
		if (conn_new(sim, x) == NULL) {
			/* EAGAIN: every agent is busy; not a failure.  Next turn. */
			sim_trace(sim, "connect %s: listen queue full (%ld waiting): agents busy",
				  x->name, x->nwait);
			sched_transport_connect_abandoned(t);
			break;
		}
	}
}

/* sim_deliver_close_idle - let agents go that were not needed for a while */
void sim_deliver_close_idle(struct sim *sim)
{
	struct sim_conn *c, *next;
	double check = INFINITY;

	if (sim->now < sim->idle_check_at)
		return;
	for (c = sim->conns; c; c = next) {
		next = c->next;
		if (c->state != SIM_CONN_IDLE)
			continue;
		if (sim->now - c->idle_since >= sim->p.agent_idle_time) {
			sim_trace(sim, "close idle %s conn %ld", c->x->name, c->id);
			conn_free(sim, c);
			/* Freeing may not touch other connections, so next is safe. */
		} else if (c->idle_since + sim->p.agent_idle_time < check) {
			check = c->idle_since + sim->p.agent_idle_time;
		}
	}
	sim->idle_check_at = check;
}

/* sim_agents_free - forget every connection, process and waiter (end of the run) */
void sim_agents_free(struct sim *sim)
{
	struct sim_conn *c;
	struct sim_waiter *w;
	struct sim_proc *p;

	while ((c = sim->conns) != NULL) {
		sim->conns = c->next;
		if (c->proc) {
			sim_event_cancel(&c->proc->session_ev);
			free(c->proc);
		}
		free(c->session);
		free(c);
	}
	for (struct sim_xport *x = sim->xports; x; x = x->next) {
		while ((w = x->wait_head) != NULL) {
			x->wait_head = w->next;
			free(w);
		}
		while ((p = x->idle_head) != NULL) {
			x->idle_head = p->next;
			sim_event_cancel(&p->exit_ev);
			sim_event_cancel(&p->session_ev);
			free(p);
		}
		x->wait_tail = NULL;
		x->idle_tail = NULL;
	}
}
