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
 *
 * Destination health across restarts: data_directory/qmgr.state holds, for
 * each destination in memory (and each window remembered but not used yet),
 * its window, whether it is dead with its reason and retry time, and its
 * failure history, as one attribute payload (util/attr.h encoding, so any
 * name bytes survive).  It is written atomically (temporary file, fsync,
 * rename) on SIGTERM and every QMGR_STATE_SAVE_INTERVAL seconds, and read
 * once at start:
 *   - a destination that was dead stays dead until its saved retry time
 *     (never later than minimal_backoff_time from now): no new connection
 *     before then;
 *   - failure history is kept as keep_failure_history would have kept it;
 *   - a window at most QMGR_STATE_WINDOW_AGE old is where the destination
 *     starts when mail for it next arrives (once); older, it starts slow.
 * A missing data_directory or an unreadable file means no memory, with a
 * warning for a damaged file; nothing else depends on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_conf.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "qmgr.h"
#include "qmgr_conf.h"
#include "qmgr_stats.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define QMGR_STATE_FILE		"qmgr.state"
#define QMGR_STATE_FORMAT	"sluice-qmgr-state-1"
#define QMGR_STATE_SAVE_INTERVAL 60.0	/* seconds between saves */
#define QMGR_STATE_WINDOW_AGE	3600.0	/* older windows start slow again */
#define QMGR_STATE_FILE_LIMIT	(64 * 1024 * 1024)

/* A window from the last run, not used yet: "transport name" -> hint */
struct window_hint {
	char *transport, *name;
	long window;
	double when;			/* when it was that */
};

static struct htable *hints;

static struct qmgr_stats *stats;
static double last_expire;

/* qmgr_state_init - empty counters */
void qmgr_state_init(void)
{
	stats = qmgr_stats_create();
}

/* ---- destination health across restarts ---- */

static void hint_free(void *p)
{
	struct window_hint *h = p;

	free(h->transport);
	free(h->name);
	free(h);
}

/* qmgr_state_init_window - sched's queue_init_window: a remembered window, once */
long qmgr_state_init_window(void *ctx, const struct sched_transport *t, const char *name)
{
	struct window_hint *h;
	char *key;
	long w = 0;

	(void)ctx;
	if (hints == NULL)
		return 0;
	key = xasprintf("%s %s", t->name, name);
	if ((h = htable_delete(hints, key)) != NULL) {
		if (qmgr_now - h->when <= QMGR_STATE_WINDOW_AGE)
			w = h->window;
		hint_free(h);
	}
	free(key);
	return w;
}

/* state_path - data_directory/qmgr.state; caller frees */
static char *state_path(const char *suffix)
{
	return xasprintf("%s/%s%s", var_data_directory, QMGR_STATE_FILE, suffix);
}

/* save_queue - one destination's health */
static void save_queue(struct buf *out, const struct sched_queue *q)
{
	bool dead = sched_queue_dead(q);

	attr_put_str(out, "dest", q->name);
	attr_put_str(out, "transport", q->transport->name);
	attr_put_str(out, "nexthop", q->nexthop);
	attr_put_long(out, "window", q->window > 0 ? q->window : 0);
	attr_put_double(out, "window_time", qmgr_now);
	if (dead && q->dead_status && q->dead_reason) {
		attr_put_str(out, "dead_status", q->dead_status);
		attr_put_str(out, "dead_reason", q->dead_reason);
		attr_put_double(out, "retry_at", sched_queue_retry_time(q));
	}
	attr_put_double(out, "fail_cohorts", q->fail_cohorts);
	attr_put_double(out, "failure", q->failure);
	attr_put_double(out, "last_fail", isfinite(q->last_fail) ? q->last_fail : -1);
}

/* qmgr_state_save - write data_directory/qmgr.state atomically */
void qmgr_state_save(void)
{
	struct buf *out;
	const struct sched_transport *t;
	const struct sched_queue *q;
	struct htable_info **list;
	char *path, *tmp;
	size_t n;
	int fd;

	if (access(var_data_directory, W_OK) < 0)
		return;				/* no memory wanted, or possible */
	out = buf_create(4096);
	attr_put_str(out, "format", QMGR_STATE_FORMAT);
	attr_put_double(out, "saved", qmgr_now);
	for (t = sched_transport_next(qmgr_sched, NULL); t; t = sched_transport_next(qmgr_sched, t)) {
		if (strcmp(t->name, "retry") == 0)
			continue;		/* named after reasons, not destinations */
		for (q = sched_queue_next(t, NULL); q; q = sched_queue_next(t, q))
			save_queue(out, q);
	}
	/* Windows not used yet keep their own age. */
	if (hints) {
		list = htable_list(hints, &n);
		for (size_t i = 0; i < n; i++) {
			const struct window_hint *h = list[i]->value;

			attr_put_str(out, "dest", h->name);
			attr_put_str(out, "transport", h->transport);
			attr_put_str(out, "nexthop", h->name);
			attr_put_long(out, "window", h->window);
			attr_put_double(out, "window_time", h->when);
		}
		free(list);
	}
	path = state_path("");
	tmp = state_path(".tmp");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_all_timeout(fd, buf_str(out), buf_len(out), 5000) < 0
	    || fsync(fd) < 0 || close(fd) < 0 || (fd = -1, rename(tmp, path) < 0)) {
		msg_warn("cannot save destination state to %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp);
	} else {
		(void)fsync_parent(path);
	}
	free(path);
	free(tmp);
	buf_free(&out);
}

/* save_event - the periodic save */
static void save_event(int event, void *ctx)
{
	(void)event;
	qmgr_now = wall_time();
	qmgr_state_save();
	ev_timer_request(save_event, ctx, QMGR_STATE_SAVE_INTERVAL);
}

/* restore_one - one saved destination */
static void restore_one(const struct attr_list *al, size_t first, size_t end, double saved,
			long *dead_r, long *windows_r)
{
	const char *name = NULL, *transport = NULL, *nexthop = NULL;
	struct sched_queue_saved sv = {.retry_at = -1, .last_fail = -INFINITY};
	double window_time = saved;
	long window = 0;
	struct sched_transport *t;
	struct sched_transport_conf tc;
	const struct master_ent *ents;
	size_t nents;

	for (size_t i = first; i < end; i++) {
		const char *k = al->items[i].name, *v = al->items[i].value;

		if (strcmp(k, "dest") == 0)
			name = v;
		else if (strcmp(k, "transport") == 0)
			transport = v;
		else if (strcmp(k, "nexthop") == 0)
			nexthop = v;
		else if (strcmp(k, "window") == 0)
			window = strtol(v, NULL, 10);
		else if (strcmp(k, "window_time") == 0)
			window_time = strtod(v, NULL);
		else if (strcmp(k, "dead_status") == 0)
			sv.dead_status = v;
		else if (strcmp(k, "dead_reason") == 0)
			sv.dead_reason = v;
		else if (strcmp(k, "retry_at") == 0)
			sv.retry_at = strtod(v, NULL);
		else if (strcmp(k, "fail_cohorts") == 0)
			sv.fail_cohorts = strtod(v, NULL);
		else if (strcmp(k, "failure") == 0)
			sv.failure = strtod(v, NULL);
		else if (strcmp(k, "last_fail") == 0 && strtod(v, NULL) >= 0)
			sv.last_fail = strtod(v, NULL);
	}
	if (name == NULL || transport == NULL || *name == 0)
		return;
	/* Only transports that still exist. */
	ents = mail_conf_master(&nents);
	if (master_cf_find(ents, nents, transport, "unix") == NULL)
		return;
	if (!isfinite(sv.fail_cohorts) || !isfinite(sv.failure))
		sv.fail_cohorts = sv.failure = 0;
	/* A clock set back, or a damaged file, never makes a longer wait. */
	if (sv.retry_at > qmgr_now + qmgr_sched->conf.minimal_backoff_time)
		sv.retry_at = qmgr_now + qmgr_sched->conf.minimal_backoff_time;
	if (sv.last_fail > qmgr_now)
		sv.last_fail = qmgr_now;
	if ((sv.dead_status && sv.retry_at > qmgr_now) || sv.fail_cohorts > 0 || sv.failure != 0) {
		if ((t = sched_transport_find(qmgr_sched, transport)) == NULL) {
			qmgr_conf_transport(transport, &tc);
			t = sched_transport_create(qmgr_sched, transport, &tc);
		}
		if (!(sv.dead_status && sv.retry_at > qmgr_now))
			sv.dead_status = sv.dead_reason = NULL;
		if (sched_queue_restore(t, name, nexthop, &sv, qmgr_now) && sv.dead_status)
			++*dead_r;
		if (sv.dead_status)
			return;
	}
	if (window > 0 && qmgr_now - window_time <= QMGR_STATE_WINDOW_AGE
	    && window_time <= qmgr_now + 1) {
		struct window_hint *h = xcalloc(1, sizeof(*h));
		char *key = xasprintf("%s %s", transport, name);

		h->transport = xstrdup(transport);
		h->name = xstrdup(name);
		h->window = window;
		h->when = window_time;
		if (htable_find(hints, key))
			hint_free(h);
		else {
			htable_enter(hints, key, h);
			++*windows_r;
		}
		free(key);
	}
}

/* qmgr_state_load - read what the last run saved; then save periodically */
void qmgr_state_load(void)
{
	char *path = state_path("");
	struct attr_list al;
	struct buf *in = buf_create(4096);
	const char *error, *format;
	double saved = 0;
	long dead = 0, windows = 0;
	char chunk[65536];
	ssize_t n;
	size_t i, first;
	int fd;

	hints = htable_create(64);
	attr_list_init(&al);
	ev_timer_request(save_event, NULL, QMGR_STATE_SAVE_INTERVAL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) {
		if (errno != ENOENT)
			msg_warn("cannot read destination state %s: %s", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && buf_len(in) < QMGR_STATE_FILE_LIMIT)
		buf_append(in, chunk, (size_t)n);
	close(fd);
	if (n < 0 || buf_len(in) >= QMGR_STATE_FILE_LIMIT) {
		msg_warn("cannot read destination state %s: %s", path,
			 n < 0 ? strerror(errno) : "file too large");
		goto out;
	}
	if (buf_len(in) == 0)
		goto out;
	if (attr_parse_payload(buf_str(in), buf_len(in), &al, &error) < 0
	    || (format = attr_get(&al, "format")) == NULL || strcmp(format, QMGR_STATE_FORMAT) != 0
	    || attr_get_double(&al, "saved", &saved) < 0) {
		msg_warn("ignoring damaged destination state %s", path);
		goto out;
	}
	for (i = 0; i < al.count && strcmp(al.items[i].name, "dest") != 0; i++)
		;
	while (i < al.count) {
		first = i++;
		while (i < al.count && strcmp(al.items[i].name, "dest") != 0)
			i++;
		restore_one(&al, first, i, saved, &dead, &windows);
	}
	msg_info("destination state from %s: %ld dead, %ld windows, saved %.0f s ago", path,
		 dead, windows, qmgr_now - saved);
out:
	attr_list_deinit(&al);
	buf_free(&in);
	free(path);
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
