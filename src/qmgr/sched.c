/*
 * sched - the queue manager's scheduling decisions, without I/O (sched.h).
 *
 * PURPOSE
 *	Postfix oqmgr's delivery scheduling as a data structure plus decision
 *	functions: transports in a round-robin ring, per-destination queues
 *	with concurrency windows driven by positive and negative feedback,
 *	failed pseudo-cohorts that declare a destination dead, the dead
 *	destination and dead transport caches with their revival timers,
 *	destination and transport rate delays, the clogging warning, the
 *	leaky-bucket/fairness choice of the next queue to import from, and the
 *	backoff and lifetime arithmetic.  docs/SCHEDULER.md describes each
 *	strategy and where sluice departs from Postfix.
 *
 * CONTRACT
 *	The clock is an argument.  Timed events live in a binary min-heap of
 *	struct sched_timer embedded in their owners (one per queue, two per
 *	transport), so cancelling is O(log n) and an owner can never leave a
 *	dangling event behind.  Per decision the cost is O(1) or O(log n)
 *	except where oqmgr itself scans: sched_select_transport() looks at
 *	each transport once (the per-transport "can absorb" sum is cached, not
 *	recomputed over the queues), sched_transport_throttle() and
 *	sched_flush_dead() visit the queues they revive or defer.
 *	Queue selection uses a ring holding only the queues that can take a
 *	delivery now, so a transport with thousands of full or empty queues
 *	costs nothing per delivery (oqmgr scans its whole queue list).
 *
 * NOT
 *	No I/O, no time(), no libevent, no logging except through the
 *	callbacks in struct sched_ops; nothing from src/global.
 *
 * DIAGNOSTICS
 *	Interface violations and broken invariants: msg_panic().  Everything
 *	else is reported through the callbacks.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sched.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

/* Delivery agent connections being set up per transport (oqmgr's pipeline). */
#define MAX_PENDING 2

/* Timer kinds. */
enum {
	T_QUEUE_REVIVE = 1,	/* throttled queue: try again */
	T_QUEUE_RESUME,		/* rate-delay suspension ends */
	T_QUEUE_FORGET,		/* empty queue: drop it (and its failure history) */
	T_XPORT_REVIVE,		/* dead transport: try again */
	T_XPORT_UNLOCK,		/* transport rate delay has passed */
};

/* Transport rate lock states (the flag SCHED_TRANSPORT_RATE_LOCK is set in all but NONE). */
enum { LOCK_NONE, LOCK_CONNECTING, LOCK_DELIVERING, LOCK_RELEASING };

#define Q_READY(q)	((q)->window > 0)
#define Q_THROTTLED(q)	((q)->window == SCHED_QUEUE_THROTTLED)
#define Q_SUSPENDED(q)	((q)->window == SCHED_QUEUE_SUSPENDED)

#define SUSPENDED_PREFIX "delivery temporarily suspended: "

static void queue_free(struct sched_queue *q);

/* ---------------------------------------------------------------- timers */

/* timer_init - an idle timer owned by owner */
static void timer_init(struct sched_timer *tm, void *owner)
{
	memset(tm, 0, sizeof(*tm));
	tm->heap_idx = SIZE_MAX;
	tm->owner = owner;
}

/* timer_before - heap order: earlier time, then earlier arming */
static bool timer_before(const struct sched_timer *a, const struct sched_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

/* heap_set - place tm at slot i */
static void heap_set(struct sched *s, size_t i, struct sched_timer *tm)
{
	s->heap[i] = tm;
	tm->heap_idx = i;
}

/* heap_up - restore the heap from slot i towards the root */
static void heap_up(struct sched *s, size_t i)
{
	struct sched_timer *tm = s->heap[i];

	while (i > 0 && timer_before(tm, s->heap[(i - 1) / 2])) {
		heap_set(s, i, s->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(s, i, tm);
}

/* heap_down - restore the heap from slot i towards the leaves */
static void heap_down(struct sched *s, size_t i)
{
	struct sched_timer *tm = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->heap_len)
			break;
		if (c + 1 < s->heap_len && timer_before(s->heap[c + 1], s->heap[c]))
			c++;
		if (!timer_before(s->heap[c], tm))
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, tm);
}

/* timer_cancel - disarm (no-op when idle) */
static void timer_cancel(struct sched *s, struct sched_timer *tm)
{
	size_t i = tm->heap_idx;
	struct sched_timer *last;

	if (i == SIZE_MAX)
		return;
	if (i >= s->heap_len || s->heap[i] != tm)
		msg_panic("sched: timer heap corrupt");
	tm->heap_idx = SIZE_MAX;
	last = s->heap[--s->heap_len];
	if (last != tm) {
		heap_set(s, i, last);
		heap_up(s, i);
		heap_down(s, last->heap_idx);
	}
}

/* timer_arm - (re)arm tm as kind, due at when */
static void timer_arm(struct sched *s, struct sched_timer *tm, int kind, double when)
{
	timer_cancel(s, tm);
	if (s->heap_len == s->heap_cap) {
		s->heap_cap = s->heap_cap ? 2 * s->heap_cap : 64;
		s->heap = xreallocarray(s->heap, s->heap_cap, sizeof(*s->heap));
	}
	tm->when = when;
	tm->kind = kind;
	tm->seq = s->timer_seq++;
	heap_set(s, s->heap_len++, tm);
	heap_up(s, tm->heap_idx);
}

/* ------------------------------------------------------------ small lists */

/* elist_append - add e at the tail (newest) */
static void elist_append(struct sched_entry_list *l, struct sched_entry *e)
{
	e->next = NULL;
	e->prev = l->last;
	if (l->last)
		l->last->next = e;
	else
		l->first = e;
	l->last = e;
}

/* elist_prepend - add e at the head (oldest) */
static void elist_prepend(struct sched_entry_list *l, struct sched_entry *e)
{
	e->prev = NULL;
	e->next = l->first;
	if (l->first)
		l->first->prev = e;
	else
		l->last = e;
	l->first = e;
}

/* elist_del - unlink e */
static void elist_del(struct sched_entry_list *l, struct sched_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->last = e->prev;
	e->prev = e->next = NULL;
}

/* ring_add_tail - q becomes the last selectable queue of t */
static void ring_add_tail(struct sched_transport *t, struct sched_queue *q)
{
	struct sched_queue *h = t->rr_head;

	if (h == NULL) {
		q->rr_next = q->rr_prev = q;
		t->rr_head = q;
	} else {
		q->rr_next = h;
		q->rr_prev = h->rr_prev;
		h->rr_prev->rr_next = q;
		h->rr_prev = q;
	}
	q->in_ring = true;
}

/* ring_del - q is no longer selectable */
static void ring_del(struct sched_transport *t, struct sched_queue *q)
{
	if (q->rr_next == q) {
		t->rr_head = NULL;
	} else {
		q->rr_prev->rr_next = q->rr_next;
		q->rr_next->rr_prev = q->rr_prev;
		if (t->rr_head == q)
			t->rr_head = q->rr_next;
	}
	q->rr_next = q->rr_prev = NULL;
	q->in_ring = false;
}

/* ------------------------------------------------------------ diagnostics */

/* feedback_debug - one destination_concurrency_feedback_debug line */
__attribute__((format(printf, 2, 3)))
static void feedback_debug(const struct sched_queue *q, const char *fmt, ...)
{
	struct sched *s = q->transport->sched;
	const char *tname = q->transport->name;
	struct buf b;
	va_list ap;

	/* Postfix keeps the error and retry pseudo-transports out of this. */
	if (!s->conf.destination_concurrency_feedback_debug || s->ops.log == NULL
	    || strcmp(tname, "retry") == 0 || strcmp(tname, "error") == 0)
		return;
	buf_init(&b, 128);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	s->ops.log(s->ops_ctx, buf_str(&b));
	buf_deinit(&b);
}

/* log_window - the window state line after a feedback step */
static void log_window(const struct sched_queue *q, const char *myname)
{
	feedback_debug(q, "%s: queue %s: limit %ld window %ld success %g failure %g "
		       "fail_cohorts %g busy %ld", myname, q->name,
		       q->transport->conf.dest_concurrency_limit, q->window,
		       q->success, q->failure, q->fail_cohorts, q->busy_count);
}

/* ------------------------------------------------------------ queue state */

/*
 * queue_update - after any change of window, busy or todo: keep the ring of
 * selectable queues and the transport's cached "can absorb" sum right.
 * A queue is selectable when window > busy and it has todo entries; it can
 * absorb min(window - busy, todo) more deliveries.  (oqmgr lets a queue whose
 * window fell below its busy count subtract from the sum; such a queue
 * cannot take a delivery, so here it counts as 0.)
 */
static void queue_update(struct sched_queue *q)
{
	struct sched_transport *t = q->transport;
	bool selectable = q->window > q->busy_count && q->todo_count > 0;
	long absorb = 0;

	if (selectable) {
		absorb = q->window - q->busy_count;
		if (absorb > q->todo_count)
			absorb = q->todo_count;
	}
	t->absorb += absorb - q->absorb;
	q->absorb = absorb;
	if (selectable && !q->in_ring)
		ring_add_tail(t, q);
	else if (!selectable && q->in_ring)
		ring_del(t, q);
}

/* set_reason - replace a saved status/reason pair (NULL clears) */
static void set_reason(char **status_p, char **reason_p, const char *status,
		       const char *reason)
{
	XFREE(*status_p);
	XFREE(*reason_p);
	if (status) {
		*status_p = xstrdup(status);
		*reason_p = xstrdup(reason);
	}
}

/*
 * queue_unthrottle - positive feedback, or revival of a dead queue
 * (oqmgr qmgr_queue_unthrottle).  The caller runs queue_update().
 */
static void queue_unthrottle(struct sched_queue *q)
{
	static const char myname[] = "qmgr_queue_unthrottle";
	struct sched_transport *t = q->transport;
	struct sched *s = t->sched;
	long limit = t->conf.dest_concurrency_limit;
	double fb;

	if (!Q_THROTTLED(q) && !Q_READY(q))
		msg_panic("%s: queue %s: bad window %ld", myname, q->name, q->window);

	/*
	 * A good delivery ends any run of failed cohorts.  The negative
	 * hysteresis cycle restarts only when the window actually grows.
	 */
	q->fail_cohorts = 0;

	/*
	 * Back from the dead: nobody knows the right concurrency; use what is
	 * still in flight, or start over.
	 */
	if (Q_THROTTLED(q)) {
		if (q->timer.kind == T_QUEUE_REVIVE)
			timer_cancel(s, &q->timer);
		set_reason(&q->dead_status, &q->dead_reason, NULL, NULL);
		q->window = q->busy_count > 0 ? q->busy_count : t->conf.init_dest_concurrency;
		q->success = q->failure = 0;
		log_window(q, myname);
		return;
	}

	/*
	 * Grow toward the limit, but stay within init_dest_concurrency of the
	 * deliveries actually in flight, or negative feedback would have to
	 * undo a window nobody used.  The increment happens at the END of a
	 * run of 1/feedback good deliveries; g/2 absorbs rounding.
	 */
	if ((limit == 0 || limit > q->window)
	    && q->window < q->busy_count + t->conf.init_dest_concurrency) {
		fb = sched_feedback_value(&t->conf.pos, q->window);
		feedback_debug(q, "%s: feedback %g", myname, fb);
		q->success += fb;
		while (q->success + fb / 2 >= 1) {
			q->window += 1;
			q->success -= 1;
			q->failure = 0;
		}
		if (limit > 0 && q->window > limit)
			q->window = limit;
	}
	log_window(q, myname);
}

/*
 * queue_throttle - negative feedback after a hop failure; may declare the
 * queue dead (oqmgr qmgr_queue_throttle).  The caller runs queue_update().
 */
static void queue_throttle(struct sched_queue *q, const char *status, const char *reason,
			   double now)
{
	static const char myname[] = "qmgr_queue_throttle";
	struct sched_transport *t = q->transport;
	struct sched *s = t->sched;
	double fb;

	if (!Q_READY(q))
		msg_panic("%s: queue %s: bad window %ld", myname, q->name, q->window);

	/*
	 * Each failure is 1/window of a pseudo-cohort; enough failed cohorts in
	 * a row and the destination is dead.
	 */
	q->fail_cohorts += 1.0 / q->window;
	if (t->conf.fail_cohort_limit > 0 && q->fail_cohorts >= t->conf.fail_cohort_limit)
		q->window = SCHED_QUEUE_THROTTLED;

	/*
	 * Otherwise shrink.  The decrement happens at the START of a run of
	 * 1/feedback bad deliveries, so overshoot is corrected at once; the
	 * window never drops below 1 this way.
	 */
	if (Q_READY(q)) {
		fb = sched_feedback_value(&t->conf.neg, q->window);
		feedback_debug(q, "%s: feedback %g", myname, fb);
		q->failure -= fb;
		while (q->failure - fb / 2 < 0) {
			q->window -= 1;
			q->success = 0;
			q->failure += 1;
		}
		if (q->window < 1)
			q->window = 1;
	}

	/* Just died: remember why, and try again after minimal_backoff_time. */
	if (Q_THROTTLED(q)) {
		set_reason(&q->dead_status, &q->dead_reason, status, reason);
		timer_arm(s, &q->timer, T_QUEUE_REVIVE, now + s->conf.minimal_backoff_time);
		q->conn_flags = 0;
	}
	log_window(q, myname);
}

/* has_history - did this queue fail recently enough to be worth remembering? */
static bool has_history(const struct sched_queue *q)
{
	return q->fail_cohorts > 0 || q->failure != 0;
}

/*
 * queue_maybe_free - an empty queue goes away unless it is dead (the dead
 * destination cache), suspended, or - sluice's improvement - it has failure
 * history less than minimal_backoff_time old.  As in oqmgr, the dead cache
 * gives way when there are more than 2 x qmgr_message_recipient_limit queues.
 */
static void queue_maybe_free(struct sched_queue *q, double now)
{
	struct sched *s = q->transport->sched;
	bool crowded = s->queue_count > 2 * s->conf.qmgr_message_recipient_limit;

	if (q->todo_count > 0 || q->busy_count > 0)
		return;
	if (Q_THROTTLED(q)) {
		if (!crowded)
			return;
		queue_unthrottle(q);
		queue_update(q);
	}
	if (!Q_READY(q))
		return;

	/*
	 * oqmgr frees the queue here and forgets its failed cohorts, so a dead
	 * site that receives one message at a time costs a failed connection
	 * per message and is never declared dead.  Keep the history until
	 * minimal_backoff_time after the last failure instead.
	 */
	if (s->conf.keep_failure_history && !crowded && has_history(q)
	    && q->last_fail + s->conf.minimal_backoff_time > now) {
		timer_arm(s, &q->timer, T_QUEUE_FORGET, q->last_fail + s->conf.minimal_backoff_time);
		return;
	}
	queue_free(q);
}

/*
 * Connection caching needs deliveries "back to back" (sched_select_entry):
 * a destination whose mail arrives one message at a time empties its queue
 * after each delivery, and a new queue knew no last_done, so the agents
 * never kept the session and every message cost a new connection, EHLO
 * and QUIT.  A freed queue's last_done is kept here for RECENT_DONE_TIME
 * and given to the queue made for the same name.
 */
#define RECENT_DONE_TIME	1.0
#define RECENT_DONE_MAX		256

/* recent_done_keep - remember q's last delivery after q goes */
static void recent_done_keep(struct sched_transport *t, const struct sched_queue *q)
{
	struct htable_info **list;
	double *when;
	size_t n;

	if (!isfinite(q->last_done))
		return;
	if (t->recent_done == NULL)
		t->recent_done = htable_create(16);
	if ((when = htable_find(t->recent_done, q->name)) == NULL) {
		/* Full: drop what is too old to matter (all of it, at worst). */
		if (htable_count(t->recent_done) >= RECENT_DONE_MAX) {
			list = htable_list(t->recent_done, &n);
			for (size_t i = 0; i < n; i++)
				if (*(double *)list[i]->value + RECENT_DONE_TIME < q->last_done
				    || htable_count(t->recent_done) >= RECENT_DONE_MAX)
					free(htable_delete(t->recent_done, list[i]->key));
			free(list);
		}
		when = xmalloc(sizeof(*when));
		htable_enter(t->recent_done, q->name, when);
	}
	*when = q->last_done;
}

/* recent_done_take - the last delivery of a freed queue of that name, or -inf */
static double recent_done_take(struct sched_transport *t, const char *name, double now)
{
	double *when, done = -INFINITY;

	if (t->recent_done == NULL || (when = htable_delete(t->recent_done, name)) == NULL)
		return done;
	if (*when + RECENT_DONE_TIME >= now)
		done = *when;
	free(when);
	return done;
}

/* queue_free - release an empty queue */
static void queue_free(struct sched_queue *q)
{
	struct sched_transport *t = q->transport;
	struct sched *s = t->sched;

	if (q->todo_count || q->busy_count || q->todo.first || q->busy.first)
		msg_panic("sched: free queue %s: not empty", q->name);
	timer_cancel(s, &q->timer);
	if (q->in_ring)
		ring_del(t, q);
	t->absorb -= q->absorb;
	if (q->prev)
		q->prev->next = q->next;
	else
		t->queues = q->next;
	if (q->next)
		q->next->prev = q->prev;
	htable_delete(t->queue_byname, q->name);
	recent_done_keep(t, q);
	t->queue_count--;
	s->queue_count--;
	if (s->ops.queue_free)
		s->ops.queue_free(s->ops_ctx, q);
	set_reason(&q->dead_status, &q->dead_reason, NULL, NULL);
	free(q->name);
	free(q->nexthop);
	free(q);
}

/*
 * detach_todo - take q's todo entries off the queue (counts included) and
 * return them as a chain linked through ->next, oldest first.
 */
static struct sched_entry *detach_todo(struct sched_queue *q)
{
	struct sched *s = q->transport->sched;
	struct sched_entry *first = q->todo.first;

	for (struct sched_entry *e = first; e; e = e->next) {
		s->recipient_count -= e->nrcpt;
		e->state = SCHED_ENTRY_GONE;
	}
	q->todo.first = q->todo.last = NULL;
	q->todo_count = 0;
	queue_update(q);
	return first;
}

/* defer_chain - hand each entry of a detached chain to entry_defer, then free it */
static void defer_chain(struct sched *s, struct sched_entry *e, const char *status,
			const char *reason)
{
	struct sched_entry *next;

	for (; e; e = next) {
		next = e->next;
		e->prev = e->next = NULL;
		s->ops.entry_defer(s->ops_ctx, e, status, reason);
		free(e);
	}
}

/* ----------------------------------------------------------- transports */

/* transport_unthrottle - a dead transport is alive again */
static void transport_unthrottle(struct sched_transport *t)
{
	if (t->flags & SCHED_TRANSPORT_DEAD) {
		t->flags &= ~SCHED_TRANSPORT_DEAD;
		set_reason(&t->dead_status, &t->dead_reason, NULL, NULL);
		timer_cancel(t->sched, &t->revive_timer);
	}
}

/* rate_lock_clear - the transport may be selected again */
static void rate_lock_clear(struct sched_transport *t)
{
	timer_cancel(t->sched, &t->unlock_timer);
	t->flags &= ~SCHED_TRANSPORT_RATE_LOCK;
	t->lock_state = LOCK_NONE;
}

/* rate_lock_release - a delivery under the lock ended: unlock after the delay */
static void rate_lock_release(struct sched_entry *e, double now)
{
	struct sched_transport *t = e->queue->transport;

	if (!e->holds_rate_lock)
		return;
	e->holds_rate_lock = false;
	t->lock_state = LOCK_RELEASING;
	timer_arm(t->sched, &t->unlock_timer, T_XPORT_UNLOCK, now + t->conf.xport_rate_delay);
}

/* apply_conf - store tc in t with oqmgr's creation rules */
static void apply_conf(struct sched_transport *t, const struct sched_transport_conf *tc)
{
	struct sched_transport_conf *c = &t->conf;

	*c = *tc;
	if (c->dest_concurrency_limit < 0)
		c->dest_concurrency_limit = 0;
	if (c->init_dest_concurrency < 1)
		c->init_dest_concurrency = 1;
	if (c->fail_cohort_limit < 0)
		c->fail_cohort_limit = 0;
	if (c->dest_rate_delay > 0)
		c->dest_concurrency_limit = 1;
	if (c->dest_concurrency_limit != 0 && c->dest_concurrency_limit < c->init_dest_concurrency)
		c->init_dest_concurrency = c->dest_concurrency_limit;
}

/* ---------------------------------------------------------------- public */

static const char bad_feedback[] = "feedback must be a number N, a ratio N/M, or N/concurrency";

/* sched_feedback_parse - "N", "N/M", "N/concurrency" */
int sched_feedback_parse(const char *text, struct sched_feedback *fb_r, const char **error_r)
{
	struct sched_feedback fb = { 0, false };
	const char *p = text;
	char *end;
	double n, d;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strtod(p, &end);
	if (end == p) {
		*error_r = bad_feedback;
		return -1;
	}
	for (p = end; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == 0) {
		fb.base = n;
	} else if (*p == '/') {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (strncmp(p, "concurrency", 11) == 0) {
			fb.base = n;
			fb.per_window = true;
			end = (char *)p + 11;
		} else if (strncmp(p, "sqrt_concurrency", 16) == 0) {
			*error_r = "N/sqrt_concurrency feedback is not supported by this queue "
				   "manager (as with Postfix oqmgr); use N, N/M or N/concurrency";
			return -1;
		} else {
			d = strtod(p, &end);
			if (end == p || !(n >= 0 && n <= INT_MAX)
			    || !(d >= 1.0 / INT_MAX && d <= INT_MAX)) {
				*error_r = bad_feedback;
				return -1;
			}
			fb.base = n / d;
		}
		for (p = end; *p == ' ' || *p == '\t'; p++)
			;
		if (*p != 0) {
			*error_r = bad_feedback;
			return -1;
		}
	} else {
		*error_r = bad_feedback;
		return -1;
	}
	if (!(fb.base >= 0 && fb.base <= 1)) {
		*error_r = "feedback must lie between 0 and 1";
		return -1;
	}
	*fb_r = fb;
	return 0;
}

/* sched_feedback_value - base, or base / window */
double sched_feedback_value(const struct sched_feedback *fb, long window)
{
	if (fb->per_window)
		return window > 0 ? fb->base / window : fb->base;
	return fb->base;
}

/* sched_conf_defaults - Postfix defaults */
void sched_conf_defaults(struct sched_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->qmgr_message_active_limit = 20000;
	conf->qmgr_message_recipient_limit = 20000;
	conf->minimal_backoff_time = 300;
	conf->transport_retry_time = 60;
	conf->qmgr_clog_warn_time = 300;
	conf->helpful_warnings = true;
	conf->destination_concurrency_feedback_debug = false;
	conf->keep_failure_history = true;
}

/* sched_transport_conf_defaults - Postfix default_* values */
void sched_transport_conf_defaults(struct sched_transport_conf *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->dest_concurrency_limit = 20;
	tc->init_dest_concurrency = 5;
	tc->recipient_limit = 50;
	tc->fail_cohort_limit = 1;
	tc->pos.base = 1;
	tc->neg.base = 1;
}

/* sched_create - empty state */
struct sched *sched_create(const struct sched_conf *conf, const struct sched_ops *ops,
			   void *ops_ctx)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	if (ops == NULL || ops->entry_defer == NULL)
		msg_panic("sched_create: entry_defer callback is required");
	s->conf = *conf;
	s->ops = *ops;
	s->ops_ctx = ops_ctx;
	sched_feed_init(&s->feed, conf->qmgr_message_active_limit,
			conf->qmgr_message_recipient_limit);
	s->transport_byname = htable_create(16);
	return s;
}

/* sched_free - release everything */
void sched_free(struct sched **sp)
{
	struct sched *s = *sp;
	struct sched_transport *t, *tnext;
	struct sched_entry *e, *enext;
	long n;

	if (s == NULL)
		return;
	t = s->xport_head;
	for (n = s->transport_count; n > 0; n--, t = tnext) {
		tnext = t->rr_next;
		while (t->queues) {
			struct sched_queue *q = t->queues;
			struct sched_entry_list *lists[2] = { &q->todo, &q->busy };

			for (int i = 0; i < 2; i++) {
				for (e = lists[i]->first; e; e = enext) {
					enext = e->next;
					s->recipient_count -= e->nrcpt;
					free(e);
				}
				lists[i]->first = lists[i]->last = NULL;
			}
			q->todo_count = q->busy_count = 0;
			queue_update(q);
			queue_free(q);
		}
		timer_cancel(s, &t->revive_timer);
		timer_cancel(s, &t->unlock_timer);
		if (s->ops.transport_free)
			s->ops.transport_free(s->ops_ctx, t);
		htable_free(&t->queue_byname, NULL);
		if (t->recent_done)
			htable_free(&t->recent_done, free);
		set_reason(&t->dead_status, &t->dead_reason, NULL, NULL);
		free(t->name);
		free(t);
	}
	htable_free(&s->transport_byname, NULL);
	free(s->heap);
	free(s);
	*sp = NULL;
}

/* sched_reconfigure - new global settings */
void sched_reconfigure(struct sched *s, const struct sched_conf *conf)
{
	s->conf = *conf;
	s->feed.active_limit = conf->qmgr_message_active_limit;
	s->feed.recipient_limit = conf->qmgr_message_recipient_limit;
}

/* sched_message_enter - active queue grows */
void sched_message_enter(struct sched *s)
{
	s->message_count++;
}

/* sched_message_leave - active queue shrinks */
void sched_message_leave(struct sched *s)
{
	if (s->message_count <= 0)
		msg_panic("sched_message_leave: message count %ld", s->message_count);
	s->message_count--;
}

/* sched_transport_find - by name */
struct sched_transport *sched_transport_find(struct sched *s, const char *name)
{
	return htable_find(s->transport_byname, name);
}

/* sched_transport_create - new transport at the end of the ring */
struct sched_transport *sched_transport_create(struct sched *s, const char *name,
					       const struct sched_transport_conf *tc)
{
	struct sched_transport *t;
	struct sched_transport *h = s->xport_head;

	if (htable_find(s->transport_byname, name))
		msg_panic("sched_transport_create: transport exists: %s", name);
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->sched = s;
	apply_conf(t, tc);
	t->queue_byname = htable_create(16);
	timer_init(&t->revive_timer, t);
	timer_init(&t->unlock_timer, t);
	if (h == NULL) {
		t->rr_next = t->rr_prev = t;
		s->xport_head = t;
	} else {
		t->rr_next = h;
		t->rr_prev = h->rr_prev;
		h->rr_prev->rr_next = t;
		h->rr_prev = t;
	}
	htable_enter(s->transport_byname, name, t);
	s->transport_count++;
	return t;
}

/* sched_transport_update_conf - reload */
void sched_transport_update_conf(struct sched_transport *t,
				 const struct sched_transport_conf *tc)
{
	long limit;

	apply_conf(t, tc);
	limit = t->conf.dest_concurrency_limit;
	for (struct sched_queue *q = t->queues; q; q = q->next) {
		if (Q_READY(q) && limit > 0 && q->window > limit)
			q->window = limit;
		queue_update(q);
	}
}

/* transport_eligible - can t use one more delivery agent now? */
static bool transport_eligible(const struct sched_transport *t)
{
	return (t->flags & (SCHED_TRANSPORT_DEAD | SCHED_TRANSPORT_RATE_LOCK)) == 0
	    && t->pending < MAX_PENDING && t->absorb >= t->pending + 1;
}

/* sched_select_transport - round robin over eligible transports */
struct sched_transport *sched_select_transport(struct sched *s, double now)
{
	struct sched_transport *t = s->xport_head;

	(void)now;
	for (long n = s->transport_count; n > 0; n--, t = t->rr_next) {
		if (!transport_eligible(t))
			continue;
		/* Rotate: the transport after this one is first next time. */
		s->xport_head = t->rr_next;
		t->pending++;
		if (t->conf.xport_rate_delay > 0) {
			t->flags |= SCHED_TRANSPORT_RATE_LOCK;
			t->lock_state = LOCK_CONNECTING;
		}
		return t;
	}
	return NULL;
}

/* sched_transport_connected - one pending connection is up */
void sched_transport_connected(struct sched_transport *t)
{
	if (t->pending <= 0)
		msg_panic("sched_transport_connected: %s: nothing pending", t->name);
	t->pending--;
}

/* sched_transport_connect_abandoned - a set-up given up without blame */
void sched_transport_connect_abandoned(struct sched_transport *t)
{
	sched_transport_connected(t);
	if (t->lock_state == LOCK_CONNECTING)
		rate_lock_clear(t);
}

/* sched_transport_connect_lost - the agent went away before its greeting */
void sched_transport_connect_lost(struct sched_transport *t, double now)
{
	sched_transport_connect_abandoned(t);
	if (++t->crash_streak >= SCHED_CRASH_LIMIT)
		sched_transport_throttle(t, "4.3.0", "mail transport unavailable", now);
}

/* sched_transport_connect_failed - the agent could not be reached */
void sched_transport_connect_failed(struct sched_transport *t, const char *status,
				    const char *reason, double now)
{
	sched_transport_connected(t);
	if (t->lock_state == LOCK_CONNECTING)
		rate_lock_clear(t);
	sched_transport_throttle(t, status ? status : "4.3.0",
				 reason ? reason : "mail transport unavailable", now);
}

/* sched_transport_throttle - dead transport; defer all its todo entries */
void sched_transport_throttle(struct sched_transport *t, const char *status,
			      const char *reason, double now)
{
	struct sched *s = t->sched;
	struct sched_entry *chain = NULL, *tail = NULL, *first;
	struct sched_queue *q, *qnext;
	char *st = xstrdup(status), *rs = xstrdup(reason);

	if ((t->flags & SCHED_TRANSPORT_DEAD) == 0) {
		t->flags |= SCHED_TRANSPORT_DEAD;
		set_reason(&t->dead_status, &t->dead_reason, status, reason);
		timer_arm(s, &t->revive_timer, T_XPORT_REVIVE, now + s->conf.transport_retry_time);
	}

	/*
	 * Take every todo entry off its queue first, then call out: the
	 * callbacks then see consistent counts, and nothing they do can pull a
	 * queue from under this loop.
	 */
	for (q = t->queues; q; q = q->next) {
		if ((first = detach_todo(q)) == NULL)
			continue;
		if (tail)
			tail->next = first;
		else
			chain = first;
		for (tail = first; tail->next; tail = tail->next)
			;
	}
	defer_chain(s, chain, st, rs);
	for (q = t->queues; q; q = qnext) {
		qnext = q->next;
		queue_maybe_free(q, now);
	}
	free(st);
	free(rs);
}

/* sched_transport_dead - DEAD flag */
bool sched_transport_dead(const struct sched_transport *t)
{
	return (t->flags & SCHED_TRANSPORT_DEAD) != 0;
}

/* sched_transport_revive - un-dead now */
void sched_transport_revive(struct sched_transport *t)
{
	transport_unthrottle(t);
}

/* sched_queue_find - by name */
struct sched_queue *sched_queue_find(struct sched_transport *t, const char *name)
{
	return htable_find(t->queue_byname, name);
}

/* sched_queue_create - new empty queue */
struct sched_queue *sched_queue_create(struct sched_transport *t, const char *name,
				       const char *nexthop, double now)
{
	struct sched *s = t->sched;
	struct sched_queue *q;

	if (htable_find(t->queue_byname, name))
		msg_panic("sched_queue_create: %s: queue exists: %s", t->name, name);
	q = xcalloc(1, sizeof(*q));
	q->name = xstrdup(name);
	q->nexthop = xstrdup(nexthop ? nexthop : name);
	q->transport = t;
	q->window = t->conf.init_dest_concurrency;
	q->last_done = recent_done_take(t, name, now);
	q->last_fail = -INFINITY;
	timer_init(&q->timer, q);
	q->next = t->queues;
	if (t->queues)
		t->queues->prev = q;
	t->queues = q;
	htable_enter(t->queue_byname, name, q);
	t->queue_count++;
	s->queue_count++;
	/* A window remembered across a restart (qmgr_state.c), if any. */
	if (s->ops.queue_init_window) {
		long w = s->ops.queue_init_window(s->ops_ctx, t, name);
		long limit = t->conf.dest_concurrency_limit;

		if (w > 0)
			q->window = limit > 0 && w > limit ? limit : w;
	}
	/* Collected at the next timer run unless an entry arrives first. */
	timer_arm(s, &q->timer, T_QUEUE_FORGET, now);
	return q;
}

/* sched_queue_dead - throttled? */
bool sched_queue_dead(const struct sched_queue *q)
{
	return Q_THROTTLED(q);
}

/* sched_queue_revive - un-throttle now, keep the queue */
void sched_queue_revive(struct sched_queue *q, double now)
{
	if (!Q_THROTTLED(q))
		return;
	queue_unthrottle(q);
	queue_update(q);
	if (q->todo_count == 0 && q->busy_count == 0)
		timer_arm(q->transport->sched, &q->timer, T_QUEUE_FORGET, now);
}

/* unsplittable - local parts that keep their delimiter (Postfix split_addr) */
static bool unsplittable(const char *local, const char *delim)
{
	size_t len = strlen(local);

	if (str_casecmp_ascii(local, "postmaster") == 0
	    || str_casecmp_ascii(local, "mailer-daemon") == 0
	    || str_casecmp_ascii(local, "double-bounce") == 0)
		return true;
	if (strchr(delim, '-') != NULL) {
		if (strncasecmp(local, "owner-", 6) == 0)
			return true;
		if (len > 8 && str_casecmp_ascii(local + len - 8, "-request") == 0)
			return true;
	}
	return false;
}

/* sched_queue_name_rcpt - localpart(no extension)@domain, lower case */
int sched_queue_name_rcpt(const char *addr, const char *delim, char *out, size_t outsize)
{
	const char *at = strrchr(addr, '@');
	char *local = at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
	size_t cut;
	int n;

	if (delim && *delim && !unsplittable(local, delim)) {
		cut = strcspn(local, delim);
		if (cut > 0 && local[cut] != 0)
			local[cut] = 0;
	}
	n = snprintf(out, outsize, "%s%s", local, at ? at : "");
	free(local);
	if (n < 0 || (size_t)n >= outsize) {
		if (outsize > 0)
			out[0] = 0;
		return -1;
	}
	str_lower(out);
	return 0;
}

/* clog_line - one line of a clogging warning */
__attribute__((format(printf, 3, 4)))
static void clog_line(struct sched *s, const struct sched_queue *q, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 128);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	s->ops.clog_warning(s->ops_ctx, q, buf_str(&b));
	buf_deinit(&b);
}

/*
 * clog_check - warn when one destination holds more than a fifth of the
 * active queue, at most once per qmgr_clog_warn_time per queue, and say
 * which knob is most likely to help.
 */
static void clog_check(struct sched_queue *q, double now)
{
	struct sched *s = q->transport->sched;
	struct sched_transport *t = q->transport;
	long len = q->todo_count + q->busy_count;
	long active_limit = s->conf.qmgr_message_active_limit;
	double share;

	if (!s->conf.helpful_warnings || s->conf.qmgr_clog_warn_time <= 0
	    || s->ops.clog_warning == NULL || len <= active_limit / 5
	    || now < q->clog_time_to_warn)
		return;
	share = s->message_count > 0 ? (double)len / s->message_count : 1.0;
	clog_line(s, q, "mail for %s is using up %ld of %ld active queue entries",
		  q->nexthop, len, s->message_count);
	if (share < 0.9)
		clog_line(s, q, "this may slow down other mail deliveries");
	if (t->conf.dest_concurrency_limit > 0
	    && t->conf.dest_concurrency_limit <= q->busy_count + 1) {
		clog_line(s, q, "you may need to increase the main.cf "
			  "%s_destination_concurrency_limit from %ld",
			  t->name, t->conf.dest_concurrency_limit);
	} else if (q->window > active_limit * share) {
		clog_line(s, q, "you may need to increase the main.cf "
			  "qmgr_message_active_limit from %ld", active_limit);
	} else if (t->queue_count > 1) {
		clog_line(s, q, "you may need a separate master.cf transport for %s",
			  q->nexthop);
	} else {
		clog_line(s, q, "you may need to reduce %s connect and helo timeouts", t->name);
		clog_line(s, q, "so that unavailable hosts are skipped quickly");
		clog_line(s, q, "you may need to increase the main.cf minimal_backoff_time "
			  "and maximal_backoff_time");
		clog_line(s, q, "so that less time goes to undeliverable mail");
		clog_line(s, q, "you may need to increase the master.cf %s process limit",
			  t->name);
	}
	clog_line(s, q, "please avoid flushing the whole queue when you have");
	clog_line(s, q, "lots of deferred mail, that is bad for performance");
	clog_line(s, q, "to turn off these warnings specify: qmgr_clog_warn_time = 0");
	q->clog_time_to_warn = now + s->conf.qmgr_clog_warn_time;
}

/* sched_entry_create - new todo entry */
struct sched_entry *sched_entry_create(struct sched_queue *q, void *msg, long nrcpt,
				       double now)
{
	struct sched *s = q->transport->sched;
	struct sched_entry *e;

	if (Q_THROTTLED(q))
		msg_panic("sched_entry_create: dead queue: %s", q->name);
	if (nrcpt < 0)
		msg_panic("sched_entry_create: queue %s: %ld recipients", q->name, nrcpt);
	e = xcalloc(1, sizeof(*e));
	e->msg = msg;
	e->nrcpt = nrcpt;
	e->queue = q;
	e->state = SCHED_ENTRY_TODO;
	elist_append(&q->todo, e);
	q->todo_count++;
	s->recipient_count += nrcpt;
	if (q->timer.kind == T_QUEUE_FORGET)
		timer_cancel(s, &q->timer);
	queue_update(q);
	clog_check(q, now);
	return e;
}

/* sched_select_entry - next delivery for an agent of t */
struct sched_entry *sched_select_entry(struct sched_transport *t, const char *prefer_queue,
				       double now)
{
	struct sched_queue *q = NULL, *pq;
	struct sched_entry *e;
	bool back_to_back;

	if (prefer_queue && (pq = htable_find(t->queue_byname, prefer_queue)) && pq->in_ring)
		q = pq;
	else
		q = t->rr_head;
	if (q == NULL) {
		if (t->lock_state == LOCK_CONNECTING)
			rate_lock_clear(t);
		return NULL;
	}

	/* Round robin: the chosen queue goes to the back. */
	ring_del(t, q);
	ring_add_tail(t, q);

	/* FIFO per destination: the oldest todo entry goes on the wire. */
	e = q->todo.first;
	elist_del(&q->todo, e);
	q->todo_count--;
	elist_append(&q->busy, e);
	q->busy_count++;
	e->state = SCHED_ENTRY_BUSY;

	/*
	 * Connection caching hints: once deliveries run back to back, the
	 * agent may load and store sessions; storing stops again when neither
	 * concurrency nor back-to-back deliveries justify it.
	 */
	back_to_back = q->last_done + 1 >= now;
	if ((q->conn_flags & SCHED_CONN_STORE) == 0) {
		if (back_to_back)
			q->conn_flags |= SCHED_CONN_LOAD | SCHED_CONN_STORE;
	} else if (!(q->busy_count > 1 || back_to_back)) {
		q->conn_flags &= ~SCHED_CONN_STORE;
	}

	if (t->lock_state == LOCK_CONNECTING) {
		t->lock_state = LOCK_DELIVERING;
		e->holds_rate_lock = true;
	}
	queue_update(q);
	return e;
}

/* sched_entry_unselect - back to todo, first in line */
void sched_entry_unselect(struct sched_entry *e)
{
	struct sched_queue *q = e->queue;

	if (e->state != SCHED_ENTRY_BUSY)
		msg_panic("sched_entry_unselect: queue %s: entry not busy", q->name);
	elist_del(&q->busy, e);
	q->busy_count--;
	elist_prepend(&q->todo, e);
	q->todo_count++;
	e->state = SCHED_ENTRY_TODO;
	if (e->holds_rate_lock) {
		e->holds_rate_lock = false;
		rate_lock_clear(q->transport);
	}
	queue_update(q);
}

/* status_ok - does s look like a DSN status d.d.d with class 2, 4 or 5? */
static bool status_ok(const char *s)
{
	int n;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return false;
	s += 2;
	for (int part = 0; part < 2; part++) {
		for (n = 0; *s >= '0' && *s <= '9'; s++)
			n++;
		if (n < 1 || n > 3)
			return false;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == 0;
}

/* sched_entry_done - a delivery finished */
void sched_entry_done(struct sched_entry *e, const struct sched_outcome *o, double now)
{
	struct sched_queue *q = e->queue;
	struct sched_transport *t = q->transport;
	struct sched *s = t->sched;

	if (e->state != SCHED_ENTRY_BUSY)
		msg_panic("sched_entry_done: queue %s: entry not busy", q->name);

	/*
	 * No valid reply: the agent, not the site, is suspect, so there is no
	 * feedback.  The agent may have been killed from outside (a restart,
	 * an administrator, the OOM killer): that costs this one delivery,
	 * which is deferred alone, and the transport carries on with other
	 * agents.  Postfix's qmgr throttles the whole transport for
	 * transport_retry_time on any crash, so one killed agent stops all
	 * mail of that transport; sluice throttles only after
	 * SCHED_CRASH_LIMIT agents in a row were lost without one valid reply
	 * (agents that die on every request).
	 */
	if (o->kind == SCHED_OUTCOME_CRASH) {
		rate_lock_release(e, now);
		elist_del(&q->busy, e);
		q->busy_count--;
		s->recipient_count -= e->nrcpt;
		e->state = SCHED_ENTRY_GONE;
		queue_update(q);
		e->prev = e->next = NULL;
		s->ops.entry_defer(s->ops_ctx, e, "4.3.0", "unknown mail transport error");
		free(e);
		/* The throttle frees the queues it empties, q among them. */
		if (++t->crash_streak >= SCHED_CRASH_LIMIT)
			sched_transport_throttle(t, "4.3.0", "unknown mail transport error", now);
		else
			queue_maybe_free(q, now);
		return;
	}
	t->crash_streak = 0;

	/*
	 * The site failed (connection or handshake): negative feedback, which
	 * may kill the destination; a dead destination's waiting entries are
	 * deferred now with the reason.  Failures reported for a queue that is
	 * already dead change nothing.
	 */
	if (o->kind == SCHED_OUTCOME_HOP_FAIL) {
		const char *status = status_ok(o->status) ? o->status : "4.0.0";
		char *reason = xasprintf(SUSPENDED_PREFIX "%s",
					 o->reason && *o->reason ? o->reason : "unknown error");

		q->last_fail = now;
		if (Q_READY(q)) {
			queue_throttle(q, status, reason, now);
			queue_update(q);
			if (Q_THROTTLED(q))
				defer_chain(s, detach_todo(q), status, reason);
		}
		free(reason);
	}

	/* No trouble with the site: the transport and queue are alive. */
	else {
		transport_unthrottle(t);
		if (Q_READY(q) || Q_THROTTLED(q))
			queue_unthrottle(q);
	}

	/* Take the entry off the wire. */
	rate_lock_release(e, now);
	elist_del(&q->busy, e);
	q->busy_count--;
	s->recipient_count -= e->nrcpt;
	q->last_done = now;
	e->state = SCHED_ENTRY_GONE;
	free(e);

	/*
	 * A rate-limited destination pauses after each delivery so that mail
	 * trickles out; as in oqmgr, that first revives a dead one.
	 */
	if (t->conf.dest_rate_delay > 0) {
		if (Q_THROTTLED(q))
			queue_unthrottle(q);
		if (Q_READY(q) && q->busy_count == 0) {
			q->window = SCHED_QUEUE_SUSPENDED;
			timer_arm(s, &q->timer, T_QUEUE_RESUME, now + t->conf.dest_rate_delay);
		}
	}
	queue_update(q);
	queue_maybe_free(q, now);
}

/* sched_entry_remove - the caller disposes of a todo entry */
void sched_entry_remove(struct sched_entry *e, double now)
{
	struct sched_queue *q = e->queue;

	if (e->state != SCHED_ENTRY_TODO)
		msg_panic("sched_entry_remove: queue %s: entry not in todo", q->name);
	elist_del(&q->todo, e);
	q->todo_count--;
	q->transport->sched->recipient_count -= e->nrcpt;
	e->state = SCHED_ENTRY_GONE;
	free(e);
	queue_update(q);
	queue_maybe_free(q, now);
}

/* sched_flush_dead - the F trigger */
void sched_flush_dead(struct sched *s, double now)
{
	struct sched_transport *t = s->xport_head;
	struct sched_queue *q, *qnext;

	(void)now;
	for (long n = s->transport_count; n > 0; n--, t = t->rr_next) {
		transport_unthrottle(t);
		for (q = t->queues; q; q = qnext) {
			qnext = q->next;
			if (Q_THROTTLED(q)) {
				queue_unthrottle(q);
				queue_update(q);
			}
			if (Q_READY(q) && q->todo_count == 0 && q->busy_count == 0)
				queue_free(q);
		}
	}
}

/* sched_next_timer - earliest due time */
double sched_next_timer(const struct sched *s)
{
	return s->heap_len ? s->heap[0]->when : -1;
}

/* run_timer - one due event */
static void run_timer(struct sched_timer *tm, double now)
{
	struct sched_queue *q;
	struct sched_transport *t;

	switch (tm->kind) {
	case T_QUEUE_REVIVE:
		q = tm->owner;
		queue_unthrottle(q);
		queue_update(q);
		queue_maybe_free(q, now);
		break;
	case T_QUEUE_RESUME:
		q = tm->owner;
		if (!Q_SUSPENDED(q))
			msg_panic("sched: resume queue %s: window %ld", q->name, q->window);
		q->window = 1;
		queue_update(q);
		queue_maybe_free(q, now);
		break;
	case T_QUEUE_FORGET:
		queue_maybe_free(tm->owner, now);
		break;
	case T_XPORT_REVIVE:
		transport_unthrottle(tm->owner);
		break;
	case T_XPORT_UNLOCK:
		t = tm->owner;
		t->flags &= ~SCHED_TRANSPORT_RATE_LOCK;
		t->lock_state = LOCK_NONE;
		break;
	default:
		msg_panic("sched: timer kind %d", tm->kind);
	}
}

/* sched_run_timers - run what is due */
void sched_run_timers(struct sched *s, double now)
{
	while (s->heap_len > 0 && s->heap[0]->when <= now) {
		struct sched_timer *tm = s->heap[0];

		timer_cancel(s, tm);
		run_timer(tm, now);
	}
}

/* sched_feed_init - limits; incoming first */
void sched_feed_init(struct sched_feed *f, long active_limit, long recipient_limit)
{
	f->active_limit = active_limit;
	f->recipient_limit = recipient_limit;
	f->first = SCHED_FEED_INCOMING;
}

/* sched_feed_choose - leaky bucket plus alternation */
enum sched_feed_queue sched_feed_choose(struct sched_feed *f, bool incoming_ready,
					bool deferred_ready, long message_count,
					long recipient_count)
{
	bool ready[2] = { incoming_ready, deferred_ready };

	/* Full: nothing comes in, and new mail goes first when room returns. */
	if (message_count >= f->active_limit || recipient_count >= f->recipient_limit) {
		f->first = SCHED_FEED_INCOMING;
		return SCHED_FEED_NONE;
	}
	for (int i = 0; i < 2; i++) {
		int idx = (f->first + i) % 2;

		if (ready[idx]) {
			/* Fairness: the other queue goes first next time. */
			f->first = (idx + 1) % 2;
			return (enum sched_feed_queue)idx;
		}
	}
	return SCHED_FEED_NONE;
}

/* sched_feed_imported - post-import fullness check */
void sched_feed_imported(struct sched_feed *f, long message_count, long recipient_count)
{
	if (message_count >= f->active_limit || recipient_count >= f->recipient_limit)
		f->first = SCHED_FEED_INCOMING;
}

/* sched_backoff_delay - age clamped to [min,max] plus a spread */
double sched_backoff_delay(double age, double min, double max, int spread_percent,
			   double random01)
{
	double d = age;

	if (d > max)
		d = max;
	if (d < min)
		d = min;
	if (spread_percent <= 0)
		return d;
	if (!(random01 >= 0))
		random01 = 0;
	if (random01 > 1)
		random01 = 1;
	return d + d * (spread_percent / 100.0) * random01;
}

/* sched_expired - lifetime used up? */
bool sched_expired(double create_time, double now, double lifetime)
{
	return now >= create_time + lifetime;
}

/* sched_lifetime - which lifetime applies */
double sched_lifetime(bool null_sender, double maximal_queue_lifetime,
		      double bounce_queue_lifetime)
{
	if (null_sender && bounce_queue_lifetime < maximal_queue_lifetime)
		return bounce_queue_lifetime;
	return maximal_queue_lifetime;
}

/* ------------------------------------------------ read-only accessors */

/* sched_transport_next - walk the transports in round-robin order */
struct sched_transport *sched_transport_next(const struct sched *s,
					     const struct sched_transport *t)
{
	if (t == NULL)
		return s->xport_head;
	return t->rr_next == s->xport_head ? NULL : t->rr_next;
}

/* sched_queue_next - walk a transport's queues */
struct sched_queue *sched_queue_next(const struct sched_transport *t,
				     const struct sched_queue *q)
{
	return q == NULL ? t->queues : q->next;
}

/* sched_queue_waiting - recipients in the todo entries */
long sched_queue_waiting(const struct sched_queue *q)
{
	long n = 0;

	for (const struct sched_entry *e = q->todo.first; e; e = e->next)
		n += e->nrcpt;
	return n;
}

/* sched_queue_retry_time - when a throttled queue is tried again */
double sched_queue_retry_time(const struct sched_queue *q)
{
	if (!Q_THROTTLED(q) || q->timer.heap_idx == SIZE_MAX || q->timer.kind != T_QUEUE_REVIVE)
		return -1;
	return q->timer.when;
}

/* sched_queue_resume_time - when a rate-suspended queue may go again */
double sched_queue_resume_time(const struct sched_queue *q)
{
	if (!Q_SUSPENDED(q) || q->timer.heap_idx == SIZE_MAX || q->timer.kind != T_QUEUE_RESUME)
		return -1;
	return q->timer.when;
}

/* sched_transport_retry_time - when a dead transport is tried again */
double sched_transport_retry_time(const struct sched_transport *t)
{
	if (!(t->flags & SCHED_TRANSPORT_DEAD) || t->revive_timer.heap_idx == SIZE_MAX)
		return -1;
	return t->revive_timer.when;
}

/* --------------------------------------------- restore after a restart */

/* sched_queue_restore - a destination's health saved by the last run */
struct sched_queue *sched_queue_restore(struct sched_transport *t, const char *name,
					const char *nexthop,
					const struct sched_queue_saved *sv, double now)
{
	struct sched *s = t->sched;
	struct sched_queue *q;

	if (htable_find(t->queue_byname, name))
		return NULL;
	q = sched_queue_create(t, name, nexthop, now);
	if (sv->dead_status && sv->dead_reason && sv->retry_at > now) {
		/* Still dead: wait out the retry time the last run set. */
		q->window = SCHED_QUEUE_THROTTLED;
		set_reason(&q->dead_status, &q->dead_reason, sv->dead_status, sv->dead_reason);
		q->fail_cohorts = sv->fail_cohorts;
		q->last_fail = sv->last_fail;
		q->conn_flags = 0;
		queue_update(q);
		timer_arm(s, &q->timer, T_QUEUE_REVIVE, sv->retry_at);
		return q;
	}
	q->fail_cohorts = sv->fail_cohorts > 0 ? sv->fail_cohorts : 0;
	q->failure = sv->failure;
	q->last_fail = sv->last_fail;
	if (s->conf.keep_failure_history && has_history(q)
	    && q->last_fail + s->conf.minimal_backoff_time > now) {
		timer_arm(s, &q->timer, T_QUEUE_FORGET, q->last_fail + s->conf.minimal_backoff_time);
		return q;
	}
	/* Nothing worth keeping: collected at the next timer run. */
	q->fail_cohorts = q->failure = 0;
	q->last_fail = -INFINITY;
	return q;
}
