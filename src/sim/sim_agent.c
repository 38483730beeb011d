/*
 * sim_agent - delivery agent connections and the simulated remote sites.
 *
 * Contract.  The queue manager's half mirrors qmgr_deliver.c call for
 * call: qmgr_deliver_drain (an idle connection of the selected transport is
 * used at once, preferring one whose agent holds a session to a queue with
 * mail; otherwise a new connection, pending until the agent's greeting),
 * start_delivery (sched_select_entry with the connection's session as the
 * preferred queue; nothing eligible = the connection goes idle),
 * handle_reply (message flags, hop status -> HOP_FAIL, the session the
 * agent reports, sched_entry_done, then the message may finish), the
 * greeting time limit (qmgr_ipc_timeout: sched_transport_connect_failed),
 * a crash (no feedback, the transport throttled) and closing connections
 * idle for agent_idle_time (QMGR_AGENT_IDLE).
 *
 * The other half stands in for master, the agents and the network: a
 * transport has process_limit agent processes, a connection holds one from
 * its greeting until it is closed and waits for one otherwise; the greeting
 * comes connect_time after a process takes the connection.  A site answers
 * each delivery after its service time, or refuses it (an outage:
 * "refuse" after reject_time, "timeout" after smtp_connect_timeout; or a
 * 421 after reject_time when its concurrency_cap sessions are busy), each
 * refusal being a hop failure.  Accepted deliveries may defer recipients
 * (defer_rate, positive feedback) or crash the agent (crash_rate).  The smtp
 * agent's session cache is modelled: with the REUSE flag (back-to-back
 * deliveries) the agent keeps the session for
 * smtp_connection_cache_time_limit and says so; a reused session skips the
 * site's setup time and its 421 check.  The retry transport's agent
 * defers every recipient after retry_service_time.
 *
 * Diagnostics: none.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util/mem.h"

/* process_limit - agent processes of the transport */
static long process_limit(const struct sim *sim, const struct sim_xport *x)
{
	return x->process_limit > 0 ? x->process_limit : sim->p.default_process_limit;
}

/* grant - an agent process takes the connection; it greets after connect_time */
static void grant(struct sim *sim, struct sim_conn *c)
{
	struct sim_xport *x = c->x;
	double delay = x->connect_time >= 0 ? x->connect_time : sim->p.agent_connect_time;

	c->has_proc = true;
	if (++x->procs > x->peak_procs)
		x->peak_procs = x->procs;
	c->ev = sim_event_add(sim, sim->now + delay, SIM_EV_HELLO, c);
}

/* conn_new - connect to private/<transport> */
static void conn_new(struct sim *sim, struct sim_xport *x)
{
	struct sim_conn *c = xcalloc(1, sizeof(*c));

	c->id = ++sim->next_conn_id;
	c->x = x;
	c->state = SIM_CONN_CONNECTING;
	c->next = x->conns;
	if (x->conns)
		x->conns->prev = c;
	x->conns = c;
	x->connections++;
	c->timeout_ev = sim_event_add(sim, sim->now + sim->p.qmgr_ipc_timeout,
				      SIM_EV_CONNECT_TIMEOUT, c);
	if (x->procs < process_limit(sim, x)) {
		grant(sim, c);
		sim_trace(sim, "connect %s conn %ld", x->name, c->id);
	} else {
		/* master's listen queue: wait until some connection closes */
		if (x->wait_tail)
			x->wait_tail->wait_next = c;
		else
			x->wait_head = c;
		x->wait_tail = c;
		sim_trace(sim, "connect %s conn %ld (all %ld agents taken: waiting)", x->name, c->id,
			  x->procs);
	}
}

/* sim_site_release - a session to d is closed (the site notices release_time later) */
void sim_site_release(struct sim *sim, struct sim_dest *d)
{
	if (d->release_time > 0)
		sim_event_add(sim, sim->now + d->release_time, SIM_EV_SITE_RELEASE, d);
	else
		d->active--;
}

/* site_open - a new session to d */
static void site_open(struct sim_dest *d)
{
	if (++d->active > d->st.peak_sessions)
		d->st.peak_sessions = d->active;
}

/* session_close - the agent drops the session it holds, if any */
static void session_close(struct sim *sim, struct sim_conn *c)
{
	sim_event_cancel(&c->session_ev);
	if (c->agent_session) {
		sim_site_release(sim, c->agent_session);
		c->agent_session = NULL;
	}
}

/* sim_agent_session_expire - smtp_connection_cache_time_limit passed */
void sim_agent_session_expire(struct sim *sim, struct sim_conn *c)
{
	sim_trace(sim, "agent of conn %ld closes its session to %s", c->id, c->agent_session->name);
	session_close(sim, c);
}

/* conn_free - close a connection; its agent process serves the next waiter */
static void conn_free(struct sim *sim, struct sim_conn *c)
{
	struct sim_xport *x = c->x;
	struct sim_conn **cp, *w;

	sim_event_cancel(&c->ev);
	sim_event_cancel(&c->timeout_ev);
	session_close(sim, c);
	if (!c->has_proc) {
		for (cp = &x->wait_head, w = NULL; *cp; w = *cp, cp = &(*cp)->wait_next) {
			if (*cp == c) {
				*cp = c->wait_next;
				if (x->wait_tail == c)
					x->wait_tail = w;
				break;
			}
		}
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		x->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->session);
	if (c->has_proc) {
		x->procs--;
		if ((w = x->wait_head) != NULL) {
			if ((x->wait_head = w->wait_next) == NULL)
				x->wait_tail = NULL;
			w->wait_next = NULL;
			grant(sim, w);
		}
	}
	free(c);
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
	reused = c->agent_session == d;
	if (reused) {
		sim_event_cancel(&c->session_ev);
		c->agent_session = NULL;
	} else {
		session_close(sim, c);
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

/* start_delivery - give a connected agent its next entry; false if none */
static bool start_delivery(struct sim *sim, struct sim_conn *c)
{
	struct sched_entry *e = sched_select_entry(c->x->t, c->session, sim->now);
	struct sim_batch *b;
	bool reuse_flag;
	double t;

	if (e == NULL) {
		conn_idle(sim, c);
		sim_trace(sim, "idle conn %ld (nothing eligible)", c->id);
		return false;
	}
	b = e->ctx;
	reuse_flag = (e->queue->conn_flags & SCHED_CONN_STORE) != 0;
	c->entry = e;
	c->state = SIM_CONN_BUSY;
	xport_started(sim, c->x);
	t = site_answer(sim, c, e, reuse_flag);
	c->ev = sim_event_add(sim, sim->now + t, SIM_EV_REPLY, c);
	sim_trace(sim, "deliver conn %ld msg %ld -> %s %s rcpt %ld (window %ld busy %ld%s)",
		  c->id, b->msg->id, c->x->name, e->queue->name, b->count, e->queue->window,
		  e->queue->busy_count, reuse_flag ? " reuse" : "");
	return true;
}

/* sim_agent_hello - the agent greeted: the pending connection is up */
void sim_agent_hello(struct sim *sim, struct sim_conn *c)
{
	sim_event_cancel(&c->timeout_ev);
	sim_trace(sim, "hello %s conn %ld", c->x->name, c->id);
	sched_transport_connected(c->x->t);
	(void)start_delivery(sim, c);
}

/* sim_agent_timeout - no greeting in time: the transport is throttled */
void sim_agent_timeout(struct sim *sim, struct sim_conn *c)
{
	struct sim_xport *x = c->x;

	if (c->state != SIM_CONN_CONNECTING)
		return;
	sim_trace(sim, "no greeting from %s conn %ld: transport throttled", x->name, c->id);
	sched_transport_connect_failed(x->t, NULL, NULL, sim->now);
	x->throttles++;
	conn_free(sim, c);
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
	struct sched_outcome o = {.kind = r->kind, .status = r->status, .reason = r->reason};
	char *qname = xstrdup(e->queue->name);
	bool retry;

	/* The session ends, or the agent keeps it open for the next request. */
	if (r->site_slot && !r->keep_session)
		sim_site_release(sim, d);

	/* No valid reply: no feedback; the transport is throttled (conn_crash). */
	if (r->kind == SCHED_OUTCOME_CRASH) {
		sim_trace(sim, "crash conn %ld msg %ld %s: transport %s throttled", c->id, msg->id,
			  qname, c->x->name);
		msg->deferred = true;
		d->st.crashes++;
		c->x->throttles++;
		c->entry = NULL;
		sched_entry_done(e, &o, sim->now);
		sim_dest_observe(sim, d);
		conn_free(sim, c);
		sim->wakeup = true;
		free(qname);
		return;
	}

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
		sim_trace(sim, "reply conn %ld msg %ld %s: hop failure %s %s", c->id, msg->id, qname,
			  r->status, r->reason);
	else
		sim_trace(sim, "reply conn %ld msg %ld %s: delivered %ld deferred %ld%s", c->id,
			  msg->id, qname, r->delivered, r->deferred,
			  r->keep_session ? " (session kept)" : "");

	/* The session the agent holds now, as its reply says. */
	XFREE(c->session);
	if (r->keep_session) {
		c->session = xstrdup(qname);
		c->agent_session = d;
		c->session_ev = sim_event_add(sim, sim->now
					      + sim->p.smtp_connection_cache_time_limit,
					      SIM_EV_SESSION_EXPIRE, c);
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
	conn_idle(sim, c);
	sim->wakeup = true;
}

/* find_idle - an idle connection of x, preferring one with a useful session */
static struct sim_conn *find_idle(struct sim_xport *x)
{
	struct sim_conn *c, *any = NULL;
	struct sched_queue *q;

	for (c = x->conns; c; c = c->next) {
		if (c->state != SIM_CONN_IDLE)
			continue;
		if (c->session && (q = sched_queue_find(x->t, c->session)) != NULL
		    && q->todo_count > 0)
			return c;
		if (any == NULL)
			any = c;
	}
	return any;
}

/* sim_deliver_drain - give every transport that can use it a delivery */
void sim_deliver_drain(struct sim *sim)
{
	struct sched_transport *t;
	struct sim_conn *c;
	struct sim_xport *x;

	while ((t = sched_select_transport(sim->s, sim->now)) != NULL) {
		x = t->ctx;
		if ((c = find_idle(x)) != NULL) {
			sched_transport_connected(t);
			/* The scheduler said yes; if it changes its mind, stop here. */
			if (!start_delivery(sim, c))
				break;
			continue;
		}
		conn_new(sim, x);
	}
}

/* sim_deliver_close_idle - let agents go that were not needed for a while */
void sim_deliver_close_idle(struct sim *sim)
{
	struct sim_conn *c, *next;
	double check = INFINITY;

	if (sim->now < sim->idle_check_at)
		return;
	for (struct sim_xport *x = sim->xports; x; x = x->next) {
		for (c = x->conns; c; c = next) {
			next = c->next;
			if (c->state != SIM_CONN_IDLE)
				continue;
			if (sim->now - c->idle_since >= sim->p.agent_idle_time) {
				sim_trace(sim, "close idle %s conn %ld", x->name, c->id);
				conn_free(sim, c);
			} else if (c->idle_since + sim->p.agent_idle_time < check) {
				check = c->idle_since + sim->p.agent_idle_time;
			}
		}
	}
	sim->idle_check_at = check;
}

/* sim_agents_free - close every connection (end of the run) */
void sim_agents_free(struct sim *sim)
{
	for (struct sim_xport *x = sim->xports; x; x = x->next) {
		while (x->conns)
			conn_free(sim, x->conns);
	}
}
