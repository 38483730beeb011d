/*
 * qmgr_state - the queue manager's live state, as the queue tools see it
 * ("sluice status --json", "sluice top"), made from what is in memory: the
 * scheduler's transports and queues, the agent connections, and five-minute
 * counters per destination (qmgr_stats.c).  No file is read.
 *
 * The report is one attribute frame (util/attr.h) sent on
 * private/qmgr-control in answer to request=state:
 *
 *   status=0 now=T messages=N recipients=N message_limit=N recipient_limit=N
 *   queues=N deferred_due=N
 *   then per transport, starting with transport=NAME:
 *     t_dead=0|1 t_status t_reason t_retry_at(-1: none) agents_busy agents_idle
 *     agents_starting agents_limit(0: none) t_rate_delay t_window_limit
 *   then per destination, starting with dest=NAME:
 *     d_transport d_nexthop d_state=ready|dead|suspended|idle d_window
 *     d_window_limit d_in_flight d_waiting d_waiting_entries d_status d_reason
 *     d_retry_at(-1) d_rate_delay d_resume_at(-1) d_fail_cohorts
 *     d_delivered_5m d_failed_5m
 *
 * Destinations are the scheduler's queues, then those that are no longer in
 * memory but delivered or failed in the last five minutes (state "idle").
 * Names and reasons are passed as they are (any bytes but NUL); the tools
 * escape them for display.
 */
#include <string.h>

#include "global/params.h"
#include "qmgr.h"
#include "qmgr_stats.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/mem.h"

static struct qmgr_stats *stats;
static double last_expire;

/* qmgr_state_init - empty counters */
void qmgr_state_init(void)
{
	stats = qmgr_stats_create();
}

/* qmgr_state_count - one delivery's outcome for its destination */
void qmgr_state_count(const struct sched_queue *q, long delivered, long failed)
{
	if (stats == NULL)
		return;
	if (delivered < 0)
		delivered = 0;
	if (failed < 0)
		failed = 0;
	qmgr_stats_add(stats, q->transport->name, q->name, delivered, failed, qmgr_now);
	/* Keep memory to the destinations of the last five minutes. */
	if (qmgr_now - last_expire >= QMGR_STATS_SLOT) {
		qmgr_stats_expire(stats, qmgr_now);
		last_expire = qmgr_now;
	}
}

/* put_transport - one transport's attributes */
static void put_transport(struct buf *out, const struct sched_transport *t)
{
	long busy, idle, starting, limit;
	bool dead = sched_transport_dead(t);

	qmgr_deliver_agents(t, &busy, &idle, &starting, &limit);
	attr_put_str(out, "transport", t->name);
	attr_put_long(out, "t_dead", dead);
	attr_put_str(out, "t_status", dead && t->dead_status ? t->dead_status : "");
	attr_put_str(out, "t_reason", dead && t->dead_reason ? t->dead_reason : "");
	attr_put_double(out, "t_retry_at", sched_transport_retry_time(t));
	attr_put_long(out, "agents_busy", busy);
	attr_put_long(out, "agents_idle", idle);
	attr_put_long(out, "agents_starting", starting);
	attr_put_long(out, "agents_limit", limit);
	attr_put_double(out, "t_rate_delay", t->conf.xport_rate_delay);
	attr_put_long(out, "t_window_limit", t->conf.dest_concurrency_limit);
}

/* put_queue - one destination in memory */
static void put_queue(struct buf *out, const struct sched_queue *q)
{
	const struct sched_transport *t = q->transport;
	bool dead = sched_queue_dead(q);
	long ok = 0, fail = 0;
	const char *state;

	if (dead)
		state = "dead";
	else if (q->window == SCHED_QUEUE_SUSPENDED)
		state = "suspended";
	else
		state = "ready";
	if (stats)
		qmgr_stats_get(stats, t->name, q->name, qmgr_now, &ok, &fail);
	attr_put_str(out, "dest", q->name);
	attr_put_str(out, "d_transport", t->name);
	attr_put_str(out, "d_nexthop", q->nexthop);
	attr_put_str(out, "d_state", state);
	attr_put_long(out, "d_window", q->window > 0 ? q->window : 0);
	attr_put_long(out, "d_window_limit", t->conf.dest_concurrency_limit);
	attr_put_long(out, "d_in_flight", q->busy_count);
	attr_put_long(out, "d_waiting", sched_queue_waiting(q));
	attr_put_long(out, "d_waiting_entries", q->todo_count);
	attr_put_str(out, "d_status", dead && q->dead_status ? q->dead_status : "");
	attr_put_str(out, "d_reason", dead && q->dead_reason ? q->dead_reason : "");
	attr_put_double(out, "d_retry_at", sched_queue_retry_time(q));
	attr_put_double(out, "d_rate_delay", t->conf.dest_rate_delay);
	attr_put_double(out, "d_resume_at", sched_queue_resume_time(q));
	attr_put_double(out, "d_fail_cohorts", q->fail_cohorts);
	attr_put_long(out, "d_delivered_5m", ok);
	attr_put_long(out, "d_failed_5m", fail);
}

/* put_gone - a destination only the counters remember */
static void put_gone(void *ctx, const char *transport, const char *name, long ok, long fail)
{
	struct buf *out = ctx;
	struct sched_transport *t = sched_transport_find(qmgr_sched, transport);

	if (t && sched_queue_find(t, name))
		return;				/* reported with the queues */
	if (ok == 0 && fail == 0)
		return;
	attr_put_str(out, "dest", name);
	attr_put_str(out, "d_transport", transport);
	attr_put_str(out, "d_nexthop", name);
	attr_put_str(out, "d_state", "idle");
	attr_put_long(out, "d_window", 0);
	attr_put_long(out, "d_window_limit", t ? t->conf.dest_concurrency_limit : 0);
	attr_put_long(out, "d_in_flight", 0);
	attr_put_long(out, "d_waiting", 0);
	attr_put_long(out, "d_waiting_entries", 0);
	attr_put_str(out, "d_status", "");
	attr_put_str(out, "d_reason", "");
	attr_put_double(out, "d_retry_at", -1);
	attr_put_double(out, "d_rate_delay", t ? t->conf.dest_rate_delay : 0);
	attr_put_double(out, "d_resume_at", -1);
	attr_put_double(out, "d_fail_cohorts", 0);
	attr_put_long(out, "d_delivered_5m", ok);
	attr_put_long(out, "d_failed_5m", fail);
}

/* qmgr_state_encode - the whole report */
void qmgr_state_encode(struct buf *out)
{
	const struct sched_transport *t;
	const struct sched_queue *q;

	attr_put_long(out, "status", 0);
	attr_put_double(out, "now", qmgr_now);
	attr_put_long(out, "messages", qmgr_message_count);
	attr_put_long(out, "recipients", qmgr_sched->recipient_count);
	attr_put_long(out, "message_limit", var_qmgr_message_active_limit);
	attr_put_long(out, "recipient_limit", var_qmgr_message_recipient_limit);
	attr_put_long(out, "queues", qmgr_sched->queue_count);
	attr_put_long(out, "deferred_indexed", qmgr_defer_index_size());
	for (t = sched_transport_next(qmgr_sched, NULL); t; t = sched_transport_next(qmgr_sched, t))
		put_transport(out, t);
	for (t = sched_transport_next(qmgr_sched, NULL); t; t = sched_transport_next(qmgr_sched, t))
		for (q = sched_queue_next(t, NULL); q; q = sched_queue_next(t, q))
			put_queue(out, q);
	if (stats)
		qmgr_stats_walk(stats, qmgr_now, put_gone, out);
}
