/*
 * drain - the queue manager's drain policy (drain.h), shared by qmgr and
 * sluice-sim.  Every call into the scheduler that decides which delivery
 * starts on which connection is made here, in one order, for both.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "util/log.h"
#include "util/mem.h"

/* An entry the scheduler gave back, for the next turn to re-route. */
struct drain_pending {
	void *batch;
	char *status, *reason;
	bool from_retry;
	bool crashed;			/* the entry whose agent died: record it here */
	struct drain_pending *next;
};

/* drain_create - the policy for scheduler s */
struct drain *drain_create(struct sched *s, const struct drain_ops *ops, void *ctx,
			   double idle_time)
{
	struct drain *d = xcalloc(1, sizeof(*d));

	d->s = s;
	d->ops = ops;
	d->ctx = ctx;
	d->idle_time = idle_time;
	d->idle_check_at = INFINITY;
	d->pending_tail = &d->pending;
	TAILQ_INIT(&d->conns);
	TAILQ_INIT(&d->idle);
	return d;
}

/* drain_free - close every connection and forget given-back entries */
void drain_free(struct drain **dp, void (*free_batch)(void *batch))
{
	struct drain *d = *dp;
	struct drain_pending *p;

	if (d == NULL)
		return;
	while (!TAILQ_EMPTY(&d->conns))
		drain_conn_free(d, TAILQ_FIRST(&d->conns));
	while ((p = d->pending) != NULL) {
		d->pending = p->next;
		if (free_batch)
			free_batch(p->batch);
		free(p->status);
		free(p->reason);
		free(p);
	}
	free(d);
	*dp = NULL;
}

/* drain_wakeup - the next turn runs without sleeping */
void drain_wakeup(struct drain *d)
{
	d->wakeup = true;
}

/* now - the time of this turn */
static double now(const struct drain *d)
{
	return d->ops->now(d->ctx);
}

/* note - tell the caller's trace, if it has one */
static void note(struct drain *d, enum drain_note what, struct drain_conn *c,
		 const struct drain_conn *other, const struct sched_entry *e)
{
	if (d->ops->note)
		d->ops->note(d->ctx, what, c, other, e, NULL, NULL);
}

/* ------------------------------------------------------------ connections */

/*
 * idle_add - c joins the idle list, which keeps the order of the list of
 * all connections (newest first), so that every choice among idle
 * connections is the one a walk over all connections would make.
 */
static void idle_add(struct drain *d, struct drain_conn *c)
{
	struct drain_conn *at;

	TAILQ_FOREACH(at, &d->idle, idle_link)
		if (at->seq < c->seq)
			break;
	if (at)
		TAILQ_INSERT_BEFORE(at, c, idle_link);
	else
		TAILQ_INSERT_TAIL(&d->idle, c, idle_link);
}

/* drain_conn_free - close c and forget it */
void drain_conn_free(struct drain *d, struct drain_conn *c)
{
	if (c->state == DRAIN_CONN_IDLE)
		TAILQ_REMOVE(&d->idle, c, idle_link);
	TAILQ_REMOVE(&d->conns, c, link);
	d->ops->close(d->ctx, c);
	free(c->session);
	free(c);
}

/* conn_idle - c waits for work (or for its agent to leave) */
static void conn_idle(struct drain *d, struct drain_conn *c)
{
	double t = now(d);

	if (c->state != DRAIN_CONN_IDLE)
		idle_add(d, c);
	c->state = DRAIN_CONN_IDLE;
	c->entry = NULL;
	c->idle_since = t;
	if (t + d->idle_time < d->idle_check_at)
		d->idle_check_at = t + d->idle_time;
	d->ops->idle(d->ctx, c);
}

/* drain_entry_finish - c's delivery ended with o */
void drain_entry_finish(struct drain *d, struct drain_conn *c, const struct sched_outcome *o)
{
	struct sched_entry *e = c->entry;
	void *batch = e->ctx;

	c->entry = NULL;
	d->busy--;
	if (o->kind == SCHED_OUTCOME_CRASH) {
		/* The scheduler hands the entry back through entry_defer. */
		d->crashed_entry = e;
		sched_entry_done(e, o, now(d));
		d->crashed_entry = NULL;
		return;
	}
	e->ctx = NULL;
	sched_entry_done(e, o, now(d));
	d->ops->batch_done(d->ctx, batch);
}

/* send_request - hand entry e to the agent on connection c */
static void send_request(struct drain *d, struct drain_conn *c, struct sched_entry *e)
{
	const char *why = "write failed";
	enum drain_send r;
	bool was_idle;

	if (c->state == DRAIN_CONN_IDLE)
		TAILQ_REMOVE(&d->idle, c, idle_link);
	c->entry = e;
	c->state = DRAIN_CONN_BUSY;
	d->busy++;
	if ((r = d->ops->send(d->ctx, c, e, &why)) == DRAIN_SENT)
		return;
	was_idle = c->uses > 0 || c->idle_since < now(d);
	if (r == DRAIN_SEND_GONE && was_idle) {
		/*
		 * A reused agent went away while idle (max_idle, reload): it
		 * never saw the request, so nothing was delivered.  The entry
		 * waits for another agent; no crash, no blame.
		 */
		note(d, DRAIN_NOTE_PUT_BACK, c, NULL, e);
		c->entry = NULL;
		d->busy--;
		sched_entry_unselect(e);
		drain_conn_free(d, c);
		d->wakeup = true;
		return;
	}
	d->ops->crash(d->ctx, c, why);
}

/* holds_session - does c's agent hold a session to queue q? */
static bool holds_session(const struct drain_conn *c, const struct sched_queue *q)
{
	return c->session && strcmp(c->session, q->name) == 0;
}

/*
 * pick_conn - the idle connection of t to carry a delivery to queue q: one
 * whose agent holds a session to q's next hop if there is one (reuse),
 * else preferably one without a session (keep sessions for their hops).
 * Destinations are chosen round robin first, so session reuse never
 * overrides fairness between destinations.
 */
static struct drain_conn *pick_conn(struct drain *d, struct sched_transport *t,
				    const struct sched_queue *q)
{
	struct drain_conn *c, *plain = NULL, *any = NULL;

	TAILQ_FOREACH(c, &d->idle, idle_link) {
		if (c->t != t)
			continue;
		if (holds_session(c, q))
			return c;
		if (c->session == NULL && plain == NULL)
			plain = c;
		if (any == NULL)
			any = c;
	}
	return plain ? plain : any;
}

/* has_idle - does t have an idle connection? */
static bool has_idle(const struct drain *d, const struct sched_transport *t)
{
	const struct drain_conn *c;

	TAILQ_FOREACH(c, &d->idle, idle_link)
		if (c->t == t)
			return true;
	return false;
}

/* deliver_next - a connection of t is ready: send the next entry, if any */
static bool deliver_next(struct drain *d, struct sched_transport *t, struct drain_conn *ready)
{
	struct sched_entry *e = sched_select_entry(t, NULL, now(d));
	struct drain_conn *c;

	if (e == NULL)
		return false;
	/* A newly connected agent may have to give way to one with a session. */
	c = pick_conn(d, t, e->queue);
	if (ready && (c == NULL || !holds_session(c, e->queue)))
		c = ready;
	if (c == NULL)
		msg_panic("deliver_next: no connection for transport %s", t->name);
	if (ready && c != ready)
		note(d, DRAIN_NOTE_GIVES_WAY, ready, c, e);
	send_request(d, c, e);
	return true;
}

/* drain_hello - c's agent greeted */
bool drain_hello(struct drain *d, struct drain_conn *c)
{
	sched_transport_connected(c->t);
	/*
	 * Ready for work: idle first, then offer it the next delivery (which
	 * may go to an agent holding a session instead, or fail and free c).
	 */
	conn_idle(d, c);
	return deliver_next(d, c->t, c);
}

/* agents_held - connections of t that hold an agent process */
static long agents_held(const struct drain *d, const struct sched_transport *t)
{
	const struct drain_conn *c;
	long n = 0;

	TAILQ_FOREACH(c, &d->conns, link)
		if (c->t == t && c->state != DRAIN_CONN_CONNECTING)
			n++;
	return n;
}

/* drain_greeting_wait - every agent process ours and busy: wait, not fail */
bool drain_greeting_wait(const struct drain *d, const struct drain_conn *c)
{
	long limit;

	if (c->state != DRAIN_CONN_CONNECTING)
		return false;
	limit = d->ops->process_limit(d->ctx, c->t);
	return limit > 0 && agents_held(d, c->t) >= limit;
}

/* drain_connect_failed - no agent, no greeting or a bad one: throttle */
void drain_connect_failed(struct drain *d, struct drain_conn *c)
{
	sched_transport_connect_failed(c->t, NULL, NULL, now(d));
	drain_conn_free(d, c);
	d->wakeup = true;
}

/* drain_connect_lost - reached, then gone before the greeting (killed) */
void drain_connect_lost(struct drain *d, struct drain_conn *c)
{
	sched_transport_connect_lost(c->t, now(d));
	drain_conn_free(d, c);
	d->wakeup = true;
}

/* drain_reply - c's agent answered the delivery in progress */
bool drain_reply(struct drain *d, struct drain_conn *c, const struct sched_outcome *o,
		 const char *session, bool last)
{
	free(c->session);
	c->session = session && *session ? xstrdup(session) : NULL;
	drain_entry_finish(d, c, o);
	c->uses++;
	d->wakeup = true;
	/* An agent at the end of its max_use leaves: do not reuse it. */
	if (last) {
		drain_conn_free(d, c);
		return false;
	}
	conn_idle(d, c);
	return true;
}

/* drain_agents - connections of t by state */
void drain_agents(const struct drain *d, const struct sched_transport *t, long *busy_r,
		  long *idle_r, long *starting_r)
{
	const struct drain_conn *c;

	*busy_r = *idle_r = *starting_r = 0;
	TAILQ_FOREACH(c, &d->conns, link) {
		if (c->t != t)
			continue;
		if (c->state == DRAIN_CONN_BUSY)
			++*busy_r;
		else if (c->state == DRAIN_CONN_IDLE)
			++*idle_r;
		else
			++*starting_r;
	}
}

/* ------------------------------------------------------------------ drain */

/*
 * serve_idle - give idle connections work before anything else.  The
 * scheduler's transport selection caps connection set-ups at two per
 * transport; while those wait for an agent process (every process busy or
 * held idle by us), idle connections would otherwise sit unused.  A dead,
 * rate-locked or rate-delayed transport gets nothing here: those limits
 * stay the scheduler's.
 */
static void serve_idle(struct drain *d)
{
	struct drain_conn *c;
	struct sched_transport *t;
	bool progress = true;

	while (progress) {
		progress = false;
		TAILQ_FOREACH(c, &d->idle, idle_link) {
			t = c->t;
			if ((t->flags & (SCHED_TRANSPORT_DEAD | SCHED_TRANSPORT_RATE_LOCK))
			    || t->conf.xport_rate_delay > 0)
				continue;
			if (deliver_next(d, t, NULL)) {
				progress = true;
				break;		/* the list changed: start over */
			}
		}
	}
}

/* drain_run - give every transport that can use it a delivery */
void drain_run(struct drain *d)
{
	struct sched_transport *t;
	struct drain_conn *c;

	serve_idle(d);
	while ((t = sched_select_transport(d->s, now(d))) != NULL) {
		if (has_idle(d, t)) {
			sched_transport_connected(t);
			/* The scheduler said yes; if it changes its mind, stop here. */
			if (!deliver_next(d, t, NULL))
				break;
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->t = t;
		c->state = DRAIN_CONN_CONNECTING;
		c->seq = ++d->seq;
		switch (d->ops->connect(d->ctx, c)) {
		case DRAIN_CONNECTED:
			TAILQ_INSERT_HEAD(&d->conns, c, link);
			continue;
		case DRAIN_CONNECT_BUSY:
			/* Every agent is busy: not a failure of the transport. */
			free(c);
			sched_transport_connect_abandoned(t);
			return;
		case DRAIN_CONNECT_FAILED:
			free(c);
			sched_transport_connect_failed(t, NULL, NULL, now(d));
			continue;
		}
	}
}

/* drain_close_idle - let agents go that were not needed for a while */
void drain_close_idle(struct drain *d)
{
	struct drain_conn *c, *next;
	double t = now(d), check = INFINITY;

	if (t < d->idle_check_at)
		return;
	for (c = TAILQ_FIRST(&d->idle); c; c = next) {
		next = TAILQ_NEXT(c, idle_link);
		if (t - c->idle_since >= d->idle_time) {
			note(d, DRAIN_NOTE_CLOSE_IDLE, c, NULL, NULL);
			drain_conn_free(d, c);	/* touches no other connection */
		} else if (c->idle_since + d->idle_time < check) {
			check = c->idle_since + d->idle_time;
		}
	}
	d->idle_check_at = check;
}

/* ----------------------------------------------------------- given back */

/* drain_entry_defer - sched_ops.entry_defer */
void drain_entry_defer(void *drain, struct sched_entry *e, const char *status,
		       const char *reason)
{
	struct drain *d = drain;
	struct drain_pending *p = xcalloc(1, sizeof(*p));

	/*
	 * This runs inside the scheduler: no new entries may be made here.
	 * The batch is re-routed to the retry transport by the next turn.
	 */
	p->batch = e->ctx;
	p->status = xstrdup(status);
	p->reason = xstrdup(reason);
	p->from_retry = strcmp(e->queue->transport->name, "retry") == 0;
	p->crashed = e == d->crashed_entry;
	e->ctx = NULL;
	*d->pending_tail = p;
	d->pending_tail = &p->next;
	d->wakeup = true;
	if (d->ops->note)
		d->ops->note(d->ctx, DRAIN_NOTE_GIVE_BACK, NULL, NULL, e, status, reason);
}

/* drain_pending_defers - are given-back entries waiting? */
bool drain_pending_defers(const struct drain *d)
{
	return d->pending != NULL;
}

/* drain_process_defers - send given-back entries to the retry agent */
void drain_process_defers(struct drain *d)
{
	struct drain_pending *p;
	struct sched_transport *retry;
	struct sched_queue *q;
	struct sched_entry *e;
	long count;
	void *msg;
	char *why;

	while ((p = d->pending) != NULL) {
		if ((d->pending = p->next) == NULL)
			d->pending_tail = &d->pending;
		retry = d->ops->retry_transport(d->ctx);
		q = NULL;
		/*
		 * One delivery whose agent died is recorded here at once: the
		 * retry agent would cost a process start and a round trip before
		 * the message can be tried again (qmgr_active.c retries it soon).
		 */
		if (!p->from_retry && !p->crashed && !sched_transport_dead(retry)) {
			why = xasprintf("%s %s", p->status, p->reason);
			if ((q = sched_queue_find(retry, why)) == NULL)
				q = sched_queue_create(retry, why, why, now(d));
			if (sched_queue_dead(q))
				q = NULL;
			free(why);
		}
		if (q == NULL) {
			/* Nobody left to log it for us: record it here. */
			d->ops->defer_batch(d->ctx, p->batch, p->status, p->reason);
		} else {
			msg = d->ops->batch_retry(d->ctx, p->batch, &count);
			e = sched_entry_create(q, msg, count, now(d));
			e->ctx = p->batch;
		}
		free(p->status);
		free(p->reason);
		free(p);
	}
}

/* ------------------------------------------------------------- the turn */

/* drain_turn - what happens each turn; returns how long to sleep */
double drain_turn(struct drain *d, double max_wait)
{
	double next, wait = max_wait;
	bool fed;

	d->wakeup = false;
	sched_run_timers(d->s, now(d));
	if (d->ops->timers_ran)
		d->ops->timers_ran(d->ctx);
	drain_process_defers(d);
	drain_run(d);
	fed = d->ops->feed(d->ctx);
	drain_process_defers(d);
	drain_run(d);
	drain_close_idle(d);

	if (fed || d->wakeup || d->pending)
		return 0;
	if ((next = sched_next_timer(d->s)) >= 0) {
		next -= now(d);
		if (next < wait)
			wait = next < 0 ? 0 : next;
	}
	return wait;
}
