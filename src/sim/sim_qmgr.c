/*
 * sim_qmgr - the queue manager's side of the simulation: the per-turn loop
 * hook, the incoming and deferred scans, the feed, import and routing,
 * entries given back by the scheduler, and the end of a message (backoff,
 * expiry).
 *
 * Contract.  The decisions of a turn (its steps and their order, given-back
 * entries, which connection carries which delivery) are the drain policy's,
 * src/qmgr/drain.c, the module qmgr runs.  Around it this file keeps what
 * the queue manager does with files, in the order src/qmgr does it:
 * qmgr_scan.c (a pass that restarts when asked during a pass; the deferred
 * due-time index, "due" meaning at most now + 1), qmgr.c's feed_one and
 * trigger and deferred-run events, qmgr_message.c (route_rcpt: dead
 * transport or destination -> the retry transport with the reason as its
 * queue name; batches of at most the recipient limit) and qmgr_active.c
 * (finish: sched_backoff_delay on the message's age, or expiry after
 * maximal_queue_lifetime).  What it leaves out, on purpose: files and
 * their failure modes, the resolver (a destination names its transport
 * and next hop), recipient chunking (all recipients are read at import),
 * bounce/trace/warning reports, and the full deferred pass every
 * deferred_rescan_time (nothing moves files behind the simulated queue
 * manager's back).  Simulated time passes only through events, the
 * scheduler's timers and the loop's own wake-ups (at most loop_max_wait
 * apart, as qmgr's QMGR_MAX_WAIT); a busy turn costs loop_cost (0 by
 * default: imports are instantaneous next to deliveries).
 *
 * Diagnostics: none; broken invariants are panics (in sched.c mostly).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util/log.h"
#include "util/mem.h"

/* ------------------------------------------------------ scheduler callbacks */

static double drain_now(void *ctx);
static struct sched_transport *retry_transport(void *ctx);
static void defer_batch(void *ctx, void *batch, const char *status, const char *reason);
static void *batch_retry(void *ctx, void *batch, long *count_r);
static bool feed(void *ctx);
static void timers_ran(void *ctx);
static void queue_free(void *ctx, struct sched_queue *q);

/* The drain policy's operations: the queue manager's here, the world's in sim_agent.c. */
static const struct drain_ops drain_ops = {
	.now = drain_now,
	.connect = sim_agent_connect,
	.send = sim_agent_send,
	.crash = sim_agent_crash,
	.idle = sim_agent_idle_op,
	.close = sim_agent_close,
	.process_limit = sim_agent_process_limit,
	.batch_done = sim_agent_batch_done,
	.retry_transport = retry_transport,
	.defer_batch = defer_batch,
	.batch_retry = batch_retry,
	.feed = feed,
	.timers_ran = timers_ran,
	.note = sim_agent_note,
};

/* entry_defer - sched_ops.entry_defer: the drain policy re-routes it */
static void entry_defer(void *ctx, struct sched_entry *e, const char *status,
			const char *reason)
{
	struct sim *sim = ctx;

	drain_entry_defer(sim->d, e, status, reason);
}

/* sim_wakeup - something the queue manager sees changed: a turn without sleep */
void sim_wakeup(struct sim *sim)
{
	drain_wakeup(sim->d);
}

/* clog_warning - count (and trace) a clogging warning line */
static void clog_warning(void *ctx, const struct sched_queue *q, const char *text)
{
	struct sim *sim = ctx;

	if (strncmp(text, "mail for ", 9) == 0)
		sim->clog_warnings++;
	sim_trace(sim, "warning: %s", text);
}

/* feedback_log - destination_concurrency_feedback_debug lines */
static void feedback_log(void *ctx, const char *text)
{
	sim_trace(ctx, "feedback: %s", text);
}

/* ----------------------------------------------------------------- set-up */

/* sim_qmgr_init - the queue manager starts (qmgr main) */
void sim_qmgr_init(struct sim *sim)
{
	static const struct sched_ops ops = {
		.entry_defer = entry_defer,
		.clog_warning = clog_warning,
		.log = feedback_log,
		.queue_free = queue_free,
	};

	sim->s = sched_create(&sim->p.sc, &ops, sim);
	sched_feed_init(&sim->s->feed, sim->p.sc.qmgr_message_active_limit,
			sim->p.sc.qmgr_message_recipient_limit);
	sim->d = drain_create(sim->s, &drain_ops, sim, sim->p.agent_idle_time);

	/* The first scans, and the deferred queue run timer. */
	sim->in_scan = true;
	sim->def_scan = true;
	sim_event_add(sim, sim->now + sim->p.queue_run_delay, SIM_EV_DEFERRED_RUN, NULL);
	sim->loop_at = sim->now;
}

/* sim_reconfigure - new settings while running (qmgr_reload_event) */
void sim_reconfigure(struct sim *sim)
{
	struct sched_transport_conf tc;

	if (sim->s == NULL)
		return;
	sched_reconfigure(sim->s, &sim->p.sc);
	sched_feed_init(&sim->s->feed, sim->p.sc.qmgr_message_active_limit,
			sim->p.sc.qmgr_message_recipient_limit);
	for (struct sim_xport *x = sim->xports; x; x = x->next) {
		if (x->t == NULL)
			continue;
		sim_transport_conf(sim, x, &tc);
		sched_transport_update_conf(x->t, &tc);
	}
	sim_wakeup(sim);
}

/* msg_create - a message of injector inj (one site, pick, or all of them) */
static struct sim_msg *msg_create(struct sim *sim, long id, double injected,
				  struct sim_injector *inj, int pick)
{
	struct sim_msg *msg = xcalloc(1, sizeof(*msg));

	msg->id = id;
	msg->injected = injected;
	msg->arrival = inj->deferred ? injected - inj->age : injected;
	msg->ngroups = pick >= 0 ? 1 : inj->ndests;
	msg->groups = msg->ngroups == 1 ? &msg->one
		: xcalloc((size_t)msg->ngroups, sizeof(*msg->groups));
	for (int i = 0; i < msg->ngroups; i++) {
		msg->groups[i].dest = inj->dests[pick >= 0 ? pick : i];
		msg->groups[i].rcpt = msg->groups[i].remaining = inj->rcpt;
	}
	return msg;
}

/* msg_free - forget a message */
static void msg_free(struct sim_msg *msg)
{
	if (msg->groups != &msg->one)
		free(msg->groups);
	free(msg);
}

/* active_add - msg enters the active queue */
static void active_add(struct sim *sim, struct sim_msg *msg)
{
	if (sim->nactive == sim->active_cap) {
		sim->active_cap = sim->active_cap ? 2 * sim->active_cap : 1024;
		sim->active = xreallocarray(sim->active, sim->active_cap, sizeof(*sim->active));
	}
	msg->where = SIM_MSG_ACTIVE;
	msg->slot = sim->nactive;
	sim->active[sim->nactive++] = msg;
}

/* active_del - msg leaves the active queue (the last one takes its slot) */
static void active_del(struct sim *sim, struct sim_msg *msg)
{
	struct sim_msg *last = sim->active[--sim->nactive];

	sim->active[msg->slot] = last;
	last->slot = msg->slot;
}

/* sim_qmgr_free - release everything the queue manager holds */
void sim_qmgr_free(struct sim *sim)
{
	struct sched_transport *t;

	/* Entries still in the scheduler carry batches sched does not know. */
	if (sim->s && (t = sim->s->xport_head) != NULL) {
		do {
			for (struct sched_queue *q = t->queues; q; q = q->next) {
				for (struct sched_entry *e = q->todo.first; e; e = e->next)
					free(e->ctx);
				for (struct sched_entry *e = q->busy.first; e; e = e->next)
					free(e->ctx);
			}
			t = t->rr_next;
		} while (t != sim->s->xport_head);
	}
	sim->closing = true;
	drain_free(&sim->d, free);
	sched_free(&sim->s);
	for (size_t i = 0; i < sim->nactive; i++)
		msg_free(sim->active[i]);
	free(sim->active);
	sim->active = NULL;
	for (size_t i = 0; i < sim->due_len; i++)
		msg_free(sim->due[i].msg);
	free(sim->due);
	sim->due = NULL;
	free(sim->in);
	sim->in = NULL;
}

/* ----------------------------------------------------------------- scans */

/* due_before - earlier due time, then earlier deferral */
static bool due_before(const struct sim_due *a, const struct sim_due *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* due_add - remember that msg comes due at due (qmgr_defer_index_add) */
static void due_add(struct sim *sim, struct sim_msg *msg, double due)
{
	size_t i, parent;
	struct sim_due tmp;

	if (sim->due_len == sim->due_cap) {
		sim->due_cap = sim->due_cap ? sim->due_cap * 2 : 1024;
		sim->due = xreallocarray(sim->due, sim->due_cap, sizeof(*sim->due));
	}
	i = sim->due_len++;
	sim->due[i].due = due;
	sim->due[i].seq = sim->seq++;
	sim->due[i].msg = msg;
	while (i > 0 && due_before(&sim->due[i], &sim->due[parent = (i - 1) / 2])) {
		tmp = sim->due[i];
		sim->due[i] = sim->due[parent];
		sim->due[parent] = tmp;
		i = parent;
	}
}

/* due_pop - take the earliest deferred message */
static struct sim_msg *due_pop(struct sim *sim)
{
	struct sim_msg *msg = sim->due[0].msg;
	struct sim_due tmp;
	size_t i = 0, l, r, m;

	sim->due[0] = sim->due[--sim->due_len];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < sim->due_len && due_before(&sim->due[l], &sim->due[m]))
			m = l;
		if (r < sim->due_len && due_before(&sim->due[r], &sim->due[m]))
			m = r;
		if (m == i)
			break;
		tmp = sim->due[i];
		sim->due[i] = sim->due[m];
		sim->due[m] = tmp;
		i = m;
	}
	return msg;
}

/* incoming_request - start an incoming pass now, or again after this one */
static void incoming_request(struct sim *sim)
{
	if (sim->in_scan)
		sim->in_scan_again = true;
	else
		sim->in_scan = true;
}

/* incoming_add - a message arrives in incoming */
static void incoming_add(struct sim *sim, const struct sim_arrival *a)
{
	struct sim_arrival *ring;
	size_t n = (size_t)sim->in_count, cap;

	if (n == sim->in_cap) {
		cap = sim->in_cap ? 2 * sim->in_cap : 1024;
		ring = xreallocarray(NULL, cap, sizeof(*ring));
		for (size_t i = 0; i < n; i++)
			ring[i] = sim->in[(sim->in_head + i) % sim->in_cap];
		free(sim->in);
		sim->in = ring;
		sim->in_cap = cap;
		sim->in_head = 0;
	}
	sim->in[(sim->in_head + n) % sim->in_cap] = *a;
	sim->in_count++;
}

/* sim_incoming_at - the i-th message in incoming, oldest first */
const struct sim_arrival *sim_incoming_at(const struct sim *sim, long i)
{
	return &sim->in[(sim->in_head + (size_t)i) % sim->in_cap];
}

/* incoming_next - next incoming message, or NULL when the pass is over */
static struct sim_msg *incoming_next(struct sim *sim)
{
	struct sim_arrival a;

	/*
	 * A pass sees every file present; a pass restarted after it sees the
	 * ones that came meanwhile, which this FIFO already holds.
	 */
	if (!sim->in_scan || sim->in_count == 0) {
		sim->in_scan = sim->in_scan_again = false;
		return NULL;
	}
	a = sim->in[sim->in_head];
	sim->in_head = (sim->in_head + 1) % sim->in_cap;
	sim->in_count--;
	return msg_create(sim, a.id, a.when, sim->injectors[a.inj], a.pick);
}

/* deferred_request - qmgr_scan_request for the deferred scan */
static void deferred_request(struct sim *sim, bool start, bool all)
{
	if (sim->def_scan) {
		/* SCAN_ALL also applies to the pass in progress (Postfix). */
		sim->def_scan_all |= all;
		sim->def_scan_all_next |= all;
		sim->def_scan_again |= start;
		return;
	}
	if (start) {
		sim->def_scan = true;
		sim->def_scan_all = all || sim->def_scan_all_next;
		sim->def_scan_all_next = false;
	} else {
		sim->def_scan_all_next |= all;
	}
}

/* deferred_next - the next due message of the index pass, or NULL at its end */
static struct sim_msg *deferred_next(struct sim *sim)
{
	bool again, all_next;

	while (sim->def_scan) {
		if (sim->due_len > 0 && (sim->def_scan_all || sim->due[0].due <= sim->now + 1))
			return due_pop(sim);

		/* End of the pass; perhaps the requested next one. */
		again = sim->def_scan_again;
		all_next = sim->def_scan_all_next;
		sim->def_scan = sim->def_scan_again = sim->def_scan_all = false;
		sim->def_scan_all_next = false;
		if (again) {
			sim->def_scan = true;
			sim->def_scan_all = all_next;
		} else {
			sim->def_scan_all_next = all_next;
		}
	}
	return NULL;
}

/* sim_deferred_run - the queue_run_delay timer (qmgr_deferred_run_event) */
void sim_deferred_run(struct sim *sim)
{
	sim->deferred_runs++;
	sim_trace(sim, "deferred-run (%zu in the deferred queue)", sim->due_len);
	deferred_request(sim, true, false);
	sim_event_add(sim, sim->now + sim->p.queue_run_delay, SIM_EV_DEFERRED_RUN, NULL);
}

/* sim_trigger - trigger bytes on public/qmgr (qmgr_trigger_event) */
void sim_trigger(struct sim *sim, const char *bytes)
{
	bool incoming = false, deferred = false, all = false, flush = false;

	/* The whole buffer is folded first: A and F precede D and I. */
	for (const char *cp = bytes; *cp; cp++) {
		switch (*cp) {
		case 'I':
		case 'W':
			incoming = true;
			break;
		case 'D':
			deferred = true;
			break;
		case 'A':
			all = true;
			break;
		case 'F':
			flush = true;
			break;
		default:
			break;
		}
	}
	sim_trace(sim, "trigger %s", bytes);
	if (flush) {
		sched_flush_dead(sim->s, sim->now);
		sim_dead_sweep(sim);
	}
	if (incoming || all)
		incoming_request(sim);
	if (deferred || all)
		deferred_request(sim, deferred, all);
	sim_wakeup(sim);
}

/* ----------------------------------------------------------------- import */

/* transport_get - the scheduler's transport, created on first use */
static struct sched_transport *transport_get(struct sim *sim, struct sim_xport *x)
{
	struct sched_transport_conf tc;

	if (x->t == NULL) {
		sim_transport_conf(sim, x, &tc);
		x->t = sched_transport_create(sim->s, x->name, &tc);
		x->t->ctx = x;
	}
	return x->t;
}

/* queue_get - the scheduler's queue for a next hop */
static struct sched_queue *queue_get(struct sim *sim, struct sched_transport *t,
				     const char *name)
{
	struct sched_queue *q = sched_queue_find(t, name);

	return q ? q : sched_queue_create(t, name, name, sim->now);
}

/* dest_queue - the scheduler's queue for site d (remembered until freed) */
static struct sched_queue *dest_queue(struct sim *sim, struct sched_transport *t,
				      struct sim_dest *d)
{
	/*
	 * None remembered means none exists: queue_free forgets it, and a
	 * site with mail keeps its transport (sim_scenario.c).
	 */
	if (d->q == NULL) {
		d->q = sched_queue_create(t, d->name, d->name, sim->now);
		d->q->ctx = d;
	}
	return d->q;
}

/* queue_free - sched_ops.queue_free: a site's queue is gone */
static void queue_free(void *ctx, struct sched_queue *q)
{
	struct sim_dest *d = q->ctx;

	if (d && d->q == q)
		d->q = NULL;
}

/* batch_close - hand count recipients of g to the scheduler as one entry */
static void batch_close(struct sim *sim, struct sim_msg *msg, struct sim_group *g,
			struct sched_queue *q, long count, bool retry)
{
	struct sim_batch *b = xcalloc(1, sizeof(*b));
	struct sched_entry *e;

	b->msg = msg;
	b->group = g;
	b->count = count;
	b->retry = retry;
	b->first = !retry && g->tries == 0;
	e = sched_entry_create(q, msg, count, sim->now);
	e->ctx = b;
	msg->refcount++;
}

/* defer_here - the queue manager defers recipients itself (no agent left) */
static void defer_here(struct sim *sim, struct sim_msg *msg, struct sim_group *g, long count,
		       const char *why)
{
	g->dest->st.def_dead += count;
	msg->deferred = true;
	sim_trace(sim, "defer msg %ld %s rcpt %ld: %s", msg->id, g->dest->name, count, why);
}

/* route_group - place the pending recipients of one site (route_rcpt) */
static void route_group(struct sim *sim, struct sim_msg *msg, struct sim_group *g)
{
	struct sched_transport *t = transport_get(sim, g->dest->xport), *retry;
	struct sched_queue *q = NULL;
	char *why = NULL;
	long n, k, limit;
	bool to_retry = false;

	if (sched_transport_dead(t)) {
		why = xasprintf("%s %s", t->dead_status, t->dead_reason);
	} else {
		q = dest_queue(sim, t, g->dest);
		if (sched_queue_dead(q)) {
			/* The scheduler's reason already says "suspended". */
			why = xasprintf("%s %s", q->dead_status, q->dead_reason);
			q = NULL;
		}
	}
	if (why) {
		/* Known dead: the retry agent defers them with that reason. */
		retry = transport_get(sim, sim_xport_get(sim, "retry"));
		if (t == retry || sched_transport_dead(retry)) {
			defer_here(sim, msg, g, g->remaining, why);
			free(why);
			return;
		}
		q = queue_get(sim, retry, why);
		to_retry = true;
		free(why);
	}
	limit = q->transport->conf.recipient_limit;
	for (n = g->remaining; n > 0; n -= k) {
		k = limit > 0 && n > limit ? limit : n;
		batch_close(sim, msg, g, q, k, to_retry);
	}
}

/* import - a message enters the active queue (qmgr_active_feed) */
static void import(struct sim *sim, struct sim_msg *msg, bool from_incoming)
{
	active_add(sim, msg);
	msg->deferred = false;
	msg->refcount = 0;
	sched_message_enter(sim->s);
	if (sim->s->message_count > sim->peak_active)
		sim->peak_active = sim->s->message_count;
	if (from_incoming)
		sim->imports_incoming++;
	else
		sim->imports_deferred++;
	sim_trace(sim, "import %s msg %ld (active %ld)", from_incoming ? "incoming" : "deferred",
		  msg->id, sim->s->message_count);
	for (int i = 0; i < msg->ngroups; i++)
		if (msg->groups[i].remaining > 0)
			route_group(sim, msg, &msg->groups[i]);
	if (sim->s->recipient_count > sim->peak_recipients)
		sim->peak_recipients = sim->s->recipient_count;
	sim_message_continue(sim, msg);
}

/* feed_choose - which scan to import from (the policy under study) */
static enum sched_feed_queue feed_choose(struct sim *sim)
{
	struct sched *s = sim->s;

	if (sim->p.feed_policy == SIM_FEED_FAIR)
		return sched_feed_choose(&s->feed, sim->in_scan, sim->def_scan, s->message_count,
					 s->recipient_count);

	/* Counterfactual (not Postfix): the deferred queue always goes first. */
	if (s->message_count >= sim->p.sc.qmgr_message_active_limit
	    || s->recipient_count >= sim->p.sc.qmgr_message_recipient_limit)
		return SCHED_FEED_NONE;
	if (sim->def_scan)
		return SCHED_FEED_DEFERRED;
	return sim->in_scan ? SCHED_FEED_INCOMING : SCHED_FEED_NONE;
}

/* feed_one - leaky bucket + fairness: import at most one message */
static bool feed_one(struct sim *sim)
{
	enum sched_feed_queue which;
	struct sim_msg *msg;

	for (int tries = 0; tries < 2; tries++) {
		if ((which = feed_choose(sim)) == SCHED_FEED_NONE)
			return false;
		msg = which == SCHED_FEED_INCOMING ? incoming_next(sim) : deferred_next(sim);
		if (msg == NULL)
			continue;
		import(sim, msg, which == SCHED_FEED_INCOMING);
		sched_feed_imported(&sim->s->feed, sim->s->message_count,
				    sim->s->recipient_count);
		return true;
	}
	return false;
}

/* ------------------------------------------------------------ message end */

/* message_leave - out of the active queue (room for another import) */
static void message_leave(struct sim *sim)
{
	sched_message_leave(sim->s);
	sim_wakeup(sim);
}

/* message_done - every entry is done: remove, expire or defer (finish) */
static void message_done(struct sim *sim, struct sim_msg *msg)
{
	double delay, due;
	long pending = 0;

	if (!msg->deferred) {
		sim->msgs_removed++;
		sim_trace(sim, "remove msg %ld", msg->id);
		message_leave(sim);
		active_del(sim, msg);
		msg_free(msg);
		return;
	}
	if (sched_expired(msg->arrival, sim->now, sim->p.maximal_queue_lifetime)) {
		for (int i = 0; i < msg->ngroups; i++) {
			msg->groups[i].dest->st.expired += msg->groups[i].remaining;
			pending += msg->groups[i].remaining;
			msg->groups[i].remaining = 0;
		}
		sim->msgs_expired++;
		sim_trace(sim, "expire msg %ld (%ld recipients returned)", msg->id, pending);
		message_leave(sim);
		active_del(sim, msg);
		msg_free(msg);
		return;
	}
	delay = sched_backoff_delay(sim->now - msg->arrival, sim->p.sc.minimal_backoff_time,
				    sim->p.maximal_backoff_time,
				    (int)sim->p.backoff_spread_percent, sim_random(sim));
	due = sim->now + delay;
	active_del(sim, msg);
	msg->where = SIM_MSG_DEFERRED;
	msg->defer_count++;
	sim->msgs_deferred++;
	due_add(sim, msg, due);
	sim_trace(sim, "defer msg %ld until %.3f (visit %ld)", msg->id, due, msg->defer_count);
	message_leave(sim);
}

/* sim_message_continue - a message may have lost its last entry (qmgr_active_continue) */
void sim_message_continue(struct sim *sim, struct sim_msg *msg)
{
	if (msg->refcount == 0)
		message_done(sim, msg);
}

/* retry_transport - drain_ops.retry_transport */
static struct sched_transport *retry_transport(void *ctx)
{
	struct sim *sim = ctx;

	return transport_get(sim, sim_xport_get(sim, "retry"));
}

/* defer_batch - drain_ops.defer_batch: nobody left to log it for us */
static void defer_batch(void *ctx, void *batch, const char *status, const char *reason)
{
	struct sim *sim = ctx;
	struct sim_batch *b = batch;
	struct sim_msg *msg = b->msg;
	char *why = xasprintf("%s %s", status, reason);

	defer_here(sim, msg, b->group, b->count, why);
	free(why);
	free(b);
	if (--msg->refcount == 0)
		sim_message_continue(sim, msg);
}

/* batch_retry - drain_ops.batch_retry: the batch goes to the retry agent */
static void *batch_retry(void *ctx, void *batch, long *count_r)
{
	struct sim_batch *b = batch;

	b->retry = true;
	b->first = false;
	*count_r = b->count;
	return b->msg;
}

/* feed - drain_ops.feed */
static bool feed(void *ctx)
{
	return feed_one(ctx);
}

/* drain_now - drain_ops.now: the simulated clock */
static double drain_now(void *ctx)
{
	return ((struct sim *)ctx)->now;
}

/* timers_ran - drain_ops.timers_ran: which dead sites came back? */
static void timers_ran(void *ctx)
{
	struct sim *sim = ctx;

	if (sim->dead_list)
		sim_dead_sweep(sim);
}

/* ------------------------------------------------------------ arrivals */

/* sim_inject_arrive - the next message of an inject line arrives */
void sim_inject_arrive(struct sim *sim, struct sim_injector *inj)
{
	struct sim_arrival a = {.when = sim->now, .id = ++sim->next_msg_id, .inj = inj->index,
				.pick = -1};
	struct sim_msg *msg;
	const char *more;

	if (inj->among)
		a.pick = (int)(sim_random(sim) * inj->ndests);
	for (int i = 0; i < (a.pick >= 0 ? 1 : inj->ndests); i++)
		inj->dests[a.pick >= 0 ? a.pick : i]->st.injected += inj->rcpt;
	sim->rcpt_injected += inj->rcpt * (a.pick >= 0 ? 1 : inj->ndests);
	sim->msgs_injected++;
	more = a.pick < 0 && inj->ndests > 1 ? ",..." : "";

	if (inj->deferred) {
		/* In deferred/ already, due now: the next deferred pass takes it. */
		msg = msg_create(sim, a.id, a.when, inj, a.pick);
		msg->where = SIM_MSG_DEFERRED;
		due_add(sim, msg, sim->now);
		sim_trace(sim, "arrive msg %ld -> %s%s (deferred)", msg->id,
			  msg->groups[0].dest->name, more);
	} else {
		/* cleanup committed it and sent "I"; it is read when scanned. */
		incoming_add(sim, &a);
		sim_trace(sim, "arrive msg %ld -> %s%s", a.id,
			  inj->dests[a.pick >= 0 ? a.pick : 0]->name, more);
		incoming_request(sim);
		sim_wakeup(sim);
	}
	if (++inj->done < inj->count)
		sim_event_add(sim, inj->at + inj->spread * (double)inj->done / (double)inj->count,
			      SIM_EV_INJECT, inj);
}

/* --------------------------------------------------------- dead tracking */

/* sim_dest_observe - note window, death and revival of d's queue */
void sim_dest_observe(struct sim *sim, struct sim_dest *d)
{
	struct sched_transport *t = d->xport->t;
	struct sched_queue *q = t ? d->q : NULL;
	bool dead = q != NULL && sched_queue_dead(q);

	if (q && q->window > 0)
		sim_stats_window(sim, d, q->window);
	if (dead && !d->st.is_dead) {
		sim_stats_dead(sim, d, true);
		sim_trace(sim, "throttle %s: %s %s", d->name, q->dead_status, q->dead_reason);
		if (!d->st.on_dead_list) {
			d->st.on_dead_list = true;
			d->next_dead = sim->dead_list;
			sim->dead_list = d;
		}
	} else if (!dead && d->st.is_dead) {
		sim_stats_dead(sim, d, false);
		sim_trace(sim, "revive %s%s", d->name, q ? "" : " (queue freed)");
	}
}

/* sim_dead_sweep - after timers or a flush: which dead sites came back? */
void sim_dead_sweep(struct sim *sim)
{
	struct sim_dest **dp = &sim->dead_list, *d;

	while ((d = *dp) != NULL) {
		sim_dest_observe(sim, d);
		if (!d->st.is_dead) {
			*dp = d->next_dead;
			d->next_dead = NULL;
			d->st.on_dead_list = false;
		} else {
			dp = &d->next_dead;
		}
	}
}

/* ---------------------------------------------------------------- the loop */

/*
 * handle - one event; true when the queue manager sees it (I/O or its own
 * timer), false for what happens only in the world around it (a deferred
 * file appearing, a site or an agent process changing state): those do not
 * wake the queue manager for a turn.
 */
static bool handle(struct sim *sim, struct sim_event *ev)
{
	struct sim_conn *c = ev->ptr;
	bool seen = true;

	switch (ev->kind) {
	case SIM_EV_INJECT:
		seen = !((struct sim_injector *)ev->ptr)->deferred;
		sim_inject_arrive(sim, ev->ptr);
		break;
	case SIM_EV_HELLO:
		c->ev = NULL;
		sim_agent_hello(sim, c);
		break;
	case SIM_EV_CONNECT_TIMEOUT:
		c->timeout_ev = NULL;
		sim_agent_timeout(sim, c);
		break;
	case SIM_EV_REPLY:
		c->ev = NULL;
		sim_agent_reply(sim, c);
		break;
	case SIM_EV_DEFERRED_RUN:
		sim_deferred_run(sim);
		break;
	case SIM_EV_TRIGGER:
		sim_trigger(sim, ev->ptr);
		free(ev->ptr);
		break;
	case SIM_EV_SITE_RELEASE:
		((struct sim_dest *)ev->ptr)->active--;
		seen = false;
		break;
	case SIM_EV_SESSION_EXPIRE:
		((struct sim_proc *)ev->ptr)->session_ev = NULL;
		sim_agent_session_expire(sim, ev->ptr);
		seen = false;
		break;
	case SIM_EV_AGENT_IDLE:
		c->agent_idle_ev = NULL;
		sim_agent_idle(sim, c);
		seen = false;		/* qmgr reads the hang-up: SIM_EV_AGENT_EOF */
		break;
	case SIM_EV_AGENT_EOF:
		c->eof_ev = NULL;
		sim_agent_eof(sim, c);
		break;
	case SIM_EV_PROC_EXIT:
		((struct sim_proc *)ev->ptr)->exit_ev = NULL;
		sim_proc_exit_idle(sim, ev->ptr);
		seen = false;
		break;
	}
	if (seen)
		sim->events++;
	return seen;
}

/*
 * sim_run_until - advance the simulated clock to until: each round
 * handles every event due by then (ev_run_once) and runs the loop hook once
 * if the queue manager saw one of them or its sleep is over.
 */
void sim_run_until(struct sim *sim, double until)
{
	struct sim_event *ev;
	double next, wait;
	bool seen;

	if (sim->s == NULL)
		sim_qmgr_init(sim);
	for (;;) {
		next = sim->loop_at;
		if (sim_event_next(sim) < next)
			next = sim_event_next(sim);
		if (next > until)
			break;
		sim_series_until(sim, next, false);
		if (next > sim->now)
			sim->now = next;
		seen = sim->now >= sim->loop_at;
		while ((ev = sim_event_pop_due(sim, sim->now)) != NULL) {
			seen |= handle(sim, ev);
			sim_event_release(sim, ev);
		}
		if (!seen)
			continue;	/* the queue manager sleeps on */
		sim->loop_turns++;
		wait = drain_turn(sim->d, sim->p.loop_max_wait);
		if (wait == 0)
			wait = sim->p.loop_cost;
		sim->loop_at = sim->now + wait;
	}
	sim_series_until(sim, until, true);
	if (until > sim->now)
		sim->now = until;
}
