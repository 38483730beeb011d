/*
 * test_sched - the pure scheduler under a fake clock.
 *
 * Every scenario drives sched.c the way qmgr does (create entries, select a
 * transport and an entry, report the outcome, run the timers at the time
 * sched_next_timer() names) with a clock that is just a double, and asserts
 * exact windows, times and callback traffic.  Expected values come from
 * oqmgr's rules as the oqmgr(8) manual and docs/SCHEDULER.md give them, worked out by
 * hand in the comments, not from running the code.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sched.h"

/* ------------------------------------------------------------- harness */

#define MAXREC 256

struct harness {
	struct sched *s;
	double now;
	long msgseq;
	/* entry_defer traffic */
	int ndefer;
	char defer_status[MAXREC][16];
	char defer_reason[MAXREC][160];
	/* clog_warning lines */
	int nclog;
	char clog[MAXREC][160];
	/* feedback debug lines */
	int nlog;
	char logl[MAXREC][200];
	int nqfree;
};

static struct harness H;

static void cb_defer(void *ctx, struct sched_entry *e, const char *status, const char *reason)
{
	struct harness *h = ctx;

	assert_int_equal(e->state, SCHED_ENTRY_GONE);
	if (h->ndefer < MAXREC) {
		snprintf(h->defer_status[h->ndefer], sizeof(h->defer_status[0]), "%s", status);
		snprintf(h->defer_reason[h->ndefer], sizeof(h->defer_reason[0]), "%s", reason);
	}
	h->ndefer++;
}

static void cb_clog(void *ctx, const struct sched_queue *q, const char *text)
{
	struct harness *h = ctx;

	if (h->nclog < MAXREC)
		snprintf(h->clog[h->nclog], sizeof(h->clog[0]), "%s", text);
	h->nclog++;
}

static void cb_log(void *ctx, const char *text)
{
	struct harness *h = ctx;

	if (h->nlog < MAXREC)
		snprintf(h->logl[h->nlog], sizeof(h->logl[0]), "%s", text);
	h->nlog++;
}

static void cb_qfree(void *ctx, struct sched_queue *q)
{
	((struct harness *)ctx)->nqfree++;
}

static const struct sched_ops ops = {
	.entry_defer = cb_defer,
	.clog_warning = cb_clog,
	.log = cb_log,
	.queue_free = cb_qfree,
};

/* start - fresh harness with conf (NULL: defaults) */
static void start(const struct sched_conf *conf)
{
	struct sched_conf def;

	memset(&H, 0, sizeof(H));
	if (conf == NULL) {
		sched_conf_defaults(&def);
		conf = &def;
	}
	H.s = sched_create(conf, &ops, &H);
}

static int teardown(void **state)
{
	sched_free(&H.s);
	assert_null(H.s);
	return 0;
}

/* xport - transport with the given limit, initial window and cohort limit */
static struct sched_transport *xport(const char *name, long limit, long init, long cohorts)
{
	struct sched_transport_conf tc;

	sched_transport_conf_defaults(&tc);
	tc.dest_concurrency_limit = limit;
	tc.init_dest_concurrency = init;
	tc.fail_cohort_limit = cohorts;
	return sched_transport_create(H.s, name, &tc);
}

/* getq - find or create a queue */
static struct sched_queue *getq(struct sched_transport *t, const char *name)
{
	struct sched_queue *q = sched_queue_find(t, name);

	return q ? q : sched_queue_create(t, name, NULL, H.now);
}

/* add - n single-recipient entries for queue name */
static void add(struct sched_transport *t, const char *name, int n)
{
	struct sched_queue *q = getq(t, name);

	for (int i = 0; i < n; i++)
		sched_entry_create(q, (void *)(intptr_t)++H.msgseq, 1, H.now);
}

static struct sched_entry *sel(struct sched_transport *t, const char *prefer)
{
	return sched_select_entry(t, prefer, H.now);
}

/* fill - select until the transport has nothing selectable; returns how many */
static int fill(struct sched_transport *t)
{
	int n = 0;

	while (sel(t, NULL))
		n++;
	return n;
}

static void done_ok(struct sched_entry *e)
{
	struct sched_outcome o = { SCHED_OUTCOME_OK, NULL, NULL };

	sched_entry_done(e, &o, H.now);
}

static void done_fail(struct sched_entry *e, const char *reason)
{
	struct sched_outcome o = { SCHED_OUTCOME_HOP_FAIL, "4.4.1", reason };

	sched_entry_done(e, &o, H.now);
}

/* advance - move the fake clock and run what is due */
static void advance(double to)
{
	H.now = to;
	sched_run_timers(H.s, H.now);
}

/* ------------------------------------------------------- parsing, rules */

/* feedback values: N, N/M, N/concurrency; [0,1]; sqrt_concurrency refused */
static void test_feedback_parse(void **state)
{
	static const struct {
		const char *text;
		int ret;
		double base;
		bool per_window;
	} rows[] = {
		{ "1", 0, 1, false },
		{ "0", 0, 0, false },
		{ "0.5", 0, 0.5, false },
		{ "1/8", 0, 0.125, false },
		{ " 1 / 4 ", 0, 0.25, false },
		{ "1/concurrency", 0, 1, true },
		{ "0.5 / concurrency", 0, 0.5, true },
		{ "2", -1, 0, false },
		{ "3/2", -1, 0, false },
		{ "-0.5", -1, 0, false },
		{ "1/0", -1, 0, false },
		{ "1/-2", -1, 0, false },
		{ "nan", -1, 0, false },
		{ "", -1, 0, false },
		{ "abc", -1, 0, false },
		{ "1 x", -1, 0, false },
		{ "1/concurrencyx", -1, 0, false },
		{ "2/concurrency", -1, 0, false },
		{ "1/sqrt_concurrency", -1, 0, false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sched_feedback fb = { 42, true };
		const char *err = NULL;
		int r = sched_feedback_parse(rows[i].text, &fb, &err);

		if (r != rows[i].ret)
			fail_msg("\"%s\": got %d want %d", rows[i].text, r, rows[i].ret);
		if (r == 0) {
			assert_true(fb.base == rows[i].base);
			assert_int_equal(fb.per_window, rows[i].per_window);
		} else {
			assert_non_null(err);
			assert_true(fb.base == 42);	/* untouched */
		}
	}

	/* oqmgr compiles sqrt_concurrency out; the message says so */
	{
		struct sched_feedback fb;
		const char *err = NULL;

		assert_int_equal(sched_feedback_parse("1/sqrt_concurrency", &fb, &err), -1);
		assert_non_null(strstr(err, "sqrt_concurrency"));
		assert_true(sched_feedback_parse("1/concurrency", &fb, &err) == 0);
		assert_true(sched_feedback_value(&fb, 4) == 0.25);
	}
}

/* transport creation rules: rate delay forces limit 1; initial clamped to limit */
static void test_transport_rules(void **state)
{
	static const struct {
		long limit, init;
		double rate;
		long want_limit, want_init;
	} rows[] = {
		{ 20, 5, 0, 20, 5 },
		{ 2, 5, 0, 2, 2 },
		{ 0, 5, 0, 0, 5 },
		{ 20, 5, 1, 1, 1 },
		{ 0, 5, 0.5, 1, 1 },
		{ 20, 0, 0, 20, 1 },
	};

	start(NULL);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sched_transport_conf tc;
		struct sched_transport *t;
		char name[16];

		sched_transport_conf_defaults(&tc);
		tc.dest_concurrency_limit = rows[i].limit;
		tc.init_dest_concurrency = rows[i].init;
		tc.dest_rate_delay = rows[i].rate;
		snprintf(name, sizeof(name), "t%zu", i);
		t = sched_transport_create(H.s, name, &tc);
		assert_int_equal(t->conf.dest_concurrency_limit, rows[i].want_limit);
		assert_int_equal(t->conf.init_dest_concurrency, rows[i].want_init);
		assert_ptr_equal(sched_transport_find(H.s, name), t);
		assert_int_equal(getq(t, "x")->window, rows[i].want_init);
	}
	assert_null(sched_transport_find(H.s, "nope"));
	assert_int_equal(H.s->transport_count, 6);
}

/* recipient-limit-1 queue names: extension stripped, lower case */
static void test_queue_name_rcpt(void **state)
{
	static const struct {
		const char *addr, *delim, *want;
	} rows[] = {
		{ "User+Ext@Example.COM", "+", "user@example.com" },
		{ "user@example.com", "+", "user@example.com" },
		{ "+user@x.test", "+", "+user@x.test" },	/* would leave it empty */
		{ "a+b-c@x.test", "+-", "a@x.test" },		/* first of the set */
		{ "a-b+c@x.test", "+-", "a@x.test" },
		{ "a-b@x.test", "-", "a@x.test" },
		{ "owner-list@x.test", "-", "owner-list@x.test" },
		{ "list-request@x.test", "-", "list-request@x.test" },
		{ "owner+list@x.test", "+", "owner@x.test" },	/* only special with '-' */
		{ "Postmaster+x@x.test", "+", "postmaster@x.test" },
		{ "Postmaster@x.test", "+", "postmaster@x.test" },
		{ "MAILER-DAEMON@x.test", "-", "mailer-daemon@x.test" },
		{ "double-bounce@x.test", "-", "double-bounce@x.test" },
		{ "User+x@X", "", "user+x@x" },
		{ "User+x", "+", "user" },
		{ "we\"ird+x@x.test", "+", "we\"ird@x.test" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(sched_queue_name_rcpt(rows[i].addr, rows[i].delim, out,
						       sizeof(out)), 0);
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("%s: got %s want %s", rows[i].addr, out, rows[i].want);
	}
	assert_int_equal(sched_queue_name_rcpt("abcdef@example.com", "+", out, 8), -1);
	assert_string_equal(out, "");
	assert_int_equal(sched_queue_name_rcpt("a+b@c.d", "+", out, 6), 0);
	assert_string_equal(out, "a@c.d");
}

/* ----------------------------------------------------------- feedback */

/*
 * Slow start with feedback 1: each success at window w (with w busy) adds 1,
 * because w < busy + init holds, so the window after k successes is
 * min(5 + k, 20).
 */
static void test_window_grows_feedback_one(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "example.com", 200);
	q = sched_queue_find(t, "example.com");
	assert_int_equal(q->window, 5);
	assert_int_equal(fill(t), 5);
	for (int k = 1; k <= 40; k++) {
		done_ok(q->busy.first);
		assert_int_equal(q->window, k + 5 < 20 ? k + 5 : 20);
		fill(t);
		assert_int_equal(q->busy_count, q->window);
		assert_true(q->fail_cohorts == 0 && q->failure == 0);
	}
}

/*
 * The window stays near real concurrency: with one delivery at a time (busy
 * 1 when it completes) it grows only while window < 1 + init, i.e. to 6.
 */
static void test_window_tracks_concurrency(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "example.com", 10);
	q = sched_queue_find(t, "example.com");
	for (int k = 1; k <= 8; k++) {
		done_ok(sel(t, NULL));
		assert_int_equal(q->window, 6);
	}
}

/*
 * Feedback 1/concurrency: at window w each success adds 1/w, so w successes
 * are needed per step: window 6 after 5 successes, 7 after 5+6=11, ...,
 * 20 after 5+6+...+19 = 180, and it stays there.
 */
static void test_window_grows_per_window(void **state)
{
	struct sched_transport_conf tc;
	struct sched_transport *t;
	struct sched_queue *q;
	long want = 5, needed = 5, since = 0;

	start(NULL);
	sched_transport_conf_defaults(&tc);
	assert_int_equal(sched_feedback_parse("1/concurrency", &tc.pos, &(const char *){ NULL }), 0);
	t = sched_transport_create(H.s, "smtp", &tc);
	add(t, "example.com", 400);
	q = sched_queue_find(t, "example.com");
	fill(t);
	for (int k = 1; k <= 200; k++) {
		done_ok(q->busy.first);
		if (want < 20 && ++since == needed) {
			want++;
			needed = want;
			since = 0;
		}
		if (q->window != want)
			fail_msg("after %d successes: window %ld want %ld", k, q->window, want);
		if (k == 180)
			assert_int_equal(q->window, 20);
		fill(t);
	}
}

/*
 * Negative feedback 1, no cohort limit: the cycle starts with a decrement,
 * and with failure starting at 0 the first failure takes two steps (the
 * loop runs while failure - 1/2 < 0: -1 -> 0 -> 1), later ones one each;
 * never below 1.  Window 20: 18, 17, ..., 1, 1.
 */
static void test_window_falls(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 20, 20, 0);
	add(t, "example.com", 30);
	q = sched_queue_find(t, "example.com");
	assert_int_equal(fill(t), 20);
	for (int k = 1; k <= 20; k++) {
		long want = k == 1 ? 18 : (19 - k > 1 ? 19 - k : 1);

		done_fail(q->busy.first, "connect refused");
		assert_int_equal(q->window, want);
		assert_false(sched_queue_dead(q));
		if (k == 1)
			assert_true(fabs(q->fail_cohorts - 1.0 / 20) < 1e-12);
	}
	assert_int_equal(H.ndefer, 0);
	assert_int_equal(q->todo_count, 10);
	assert_int_equal(q->busy_count, 0);
	/* a success after failures: positive feedback resets the cohorts */
	done_ok(sel(t, NULL));
	assert_true(q->fail_cohorts == 0);
	assert_int_equal(q->window, 2);
}

/*
 * Failed cohorts kill a destination.  Each failure adds 1/window:
 *   limit 1: 1/1 = 1                       -> dead at failure 1
 *   limit 2 (init 2): 1/2, then window 1: +1 -> dead at 2
 *   limit 20 (init 5): 1/5, window 3: +1/3, window 2: +1/2 = 1.03 -> dead at 3
 *   same, cohort limit 2: window 1 then: +1 = 2.03 -> dead at 4
 * The todo entries are deferred with the hop reason at that moment.
 */
static void test_cohorts_kill(void **state)
{
	static const struct {
		long limit, cohorts;
		int failures;
	} rows[] = {
		{ 1, 1, 1 },
		{ 2, 1, 2 },
		{ 20, 1, 3 },
		{ 20, 2, 4 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sched_transport *t;
		struct sched_queue *q;
		int k, todo;

		start(NULL);
		t = xport("smtp", rows[i].limit, 5, rows[i].cohorts);
		add(t, "dead.test", 10);
		q = sched_queue_find(t, "dead.test");
		for (k = 1; k <= rows[i].failures; k++) {
			struct sched_entry *e = q->busy.first ? q->busy.first : sel(t, NULL);

			if (e == NULL)
				fail_msg("row %zu: nothing to fail at %d", i, k);
			fill(t);
			assert_false(sched_queue_dead(q));
			todo = (int)q->todo_count;
			done_fail(e, "connect to dead.test[192.0.2.1]:25: Connection refused");
		}
		assert_true(sched_queue_dead(q));
		assert_int_equal(q->window, 0);
		assert_int_equal(H.ndefer, todo);
		assert_int_equal(q->todo_count, 0);
		assert_string_equal(H.defer_status[0], "4.4.1");
		assert_string_equal(H.defer_reason[0], "delivery temporarily suspended: "
				    "connect to dead.test[192.0.2.1]:25: Connection refused");
		assert_string_equal(q->dead_reason, H.defer_reason[0]);
		assert_string_equal(q->dead_status, "4.4.1");
		assert_true(sched_next_timer(H.s) == 300);
		teardown(NULL);
	}
}

/* a dead queue stays (empty) and revives after minimal_backoff_time */
static void test_dead_queue_revives_after_backoff(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 1, 5, 1);
	add(t, "dead.test", 3);
	q = sched_queue_find(t, "dead.test");
	H.now = 100;
	done_fail(sel(t, NULL), "");
	/* bad or empty hop status gets oqmgr's substitutes */
	assert_string_equal(q->dead_reason, "delivery temporarily suspended: unknown error");
	assert_int_equal(H.ndefer, 2);
	assert_null(sel(t, NULL));
	assert_ptr_equal(sched_queue_find(t, "dead.test"), q);	/* the dead cache */
	assert_int_equal(H.s->queue_count, 1);
	assert_true(sched_next_timer(H.s) == 400);
	advance(399.9);
	assert_true(sched_queue_dead(q));
	advance(400);
	/* revived, empty, so gone */
	assert_null(sched_queue_find(t, "dead.test"));
	assert_int_equal(H.s->queue_count, 0);
	assert_int_equal(H.nqfree, 1);
	assert_true(sched_next_timer(H.s) < 0);
	assert_int_equal(H.s->recipient_count, 0);
}

/* revival of a queue that still has deliveries in flight: window = busy */
static void test_dead_queue_revives_with_busy(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "dead.test", 8);
	q = sched_queue_find(t, "dead.test");
	assert_int_equal(fill(t), 5);
	for (int k = 0; k < 3; k++)
		done_fail(q->busy.first, "refused");
	assert_true(sched_queue_dead(q));
	assert_int_equal(H.ndefer, 3);
	assert_int_equal(q->busy_count, 2);
	advance(300);
	assert_false(sched_queue_dead(q));
	assert_int_equal(q->window, 2);
	assert_null(q->dead_reason);
	assert_ptr_equal(sched_queue_find(t, "dead.test"), q);
}

/* a success on a dead queue revives it at once (window = busy incl. itself) */
static void test_success_revives_dead_queue(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "flaky.test", 5);
	q = sched_queue_find(t, "flaky.test");
	fill(t);
	H.now = 10;
	for (int k = 0; k < 3; k++)
		done_fail(q->busy.first, "refused");
	assert_true(sched_queue_dead(q));
	assert_true(sched_next_timer(H.s) == 310);
	H.now = 11;
	done_ok(q->busy.first);
	assert_false(sched_queue_dead(q));
	assert_int_equal(q->window, 2);
	assert_true(q->success == 0 && q->failure == 0 && q->fail_cohorts == 0);
	/* the revive timer is gone; new mail is welcome again */
	assert_true(sched_next_timer(H.s) < 0);
	add(t, "flaky.test", 1);
	assert_non_null(sel(t, NULL));
}

/* F trigger: every dead queue and transport revived, empty queues freed */
static void test_flush_dead(void **state)
{
	struct sched_transport *t, *u;
	struct sched_queue *a, *b;
	struct sched_conf conf;

	sched_conf_defaults(&conf);
	start(&conf);
	t = xport("smtp", 1, 5, 1);
	u = xport("local", 20, 5, 1);
	add(t, "a.test", 2);
	add(t, "b.test", 1);
	add(t, "c.test", 1);
	add(u, "user", 1);
	a = sched_queue_find(t, "a.test");
	b = sched_queue_find(t, "b.test");
	done_fail(sel(t, "a.test"), "refused");		/* a dead, empty */
	sel(t, "b.test");
	assert_true(sched_queue_dead(a));
	sched_transport_throttle(u, "4.3.0", "mail transport unavailable", H.now);
	assert_true(sched_transport_dead(u));
	assert_int_equal(H.ndefer, 2);			/* a's todo, u's entry */
	assert_null(sched_queue_find(u, "user"));
	/* c.test gets a failure with history but limit 1: dead too */
	done_fail(sel(t, "c.test"), "refused");
	assert_int_equal(H.s->queue_count, 3);

	sched_flush_dead(H.s, H.now);
	assert_false(sched_transport_dead(u));
	assert_null(sched_queue_find(t, "a.test"));
	assert_null(sched_queue_find(t, "c.test"));
	assert_ptr_equal(sched_queue_find(t, "b.test"), b);	/* busy: stays */
	assert_int_equal(H.s->queue_count, 1);
	assert_true(sched_next_timer(H.s) < 0);
}

/* per-message flush: sched_queue_revive / sched_transport_revive */
static void test_revive_one(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 1, 5, 1);
	add(t, "a.test", 1);
	q = sched_queue_find(t, "a.test");
	done_fail(sel(t, NULL), "refused");
	assert_true(sched_queue_dead(q));
	sched_queue_revive(q, H.now);
	assert_false(sched_queue_dead(q));
	assert_int_equal(q->window, 1);
	add(t, "a.test", 1);				/* allowed again */
	assert_int_equal(q->todo_count, 1);
	sched_transport_throttle(t, "4.3.0", "gone", H.now);
	assert_true(sched_transport_dead(t));
	assert_string_equal(t->dead_reason, "gone");
	sched_transport_revive(t);
	assert_false(sched_transport_dead(t));
	assert_null(t->dead_reason);
	/* an unused empty queue is collected at the next timer run */
	q = getq(t, "idle.test");
	advance(H.now);
	assert_null(sched_queue_find(t, "idle.test"));
}

/* dead transport: all todo deferred, revives after transport_retry_time */
static void test_dead_transport(void **state)
{
	struct sched_transport *t;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "a.test", 2);
	add(t, "b.test", 3);
	H.now = 50;
	assert_ptr_equal(sched_select_transport(H.s, H.now), t);
	assert_int_equal(t->pending, 1);
	sched_transport_connect_failed(t, NULL, NULL, H.now);
	assert_int_equal(t->pending, 0);
	assert_true(sched_transport_dead(t));
	assert_int_equal(H.ndefer, 5);
	assert_string_equal(H.defer_status[4], "4.3.0");
	assert_string_equal(H.defer_reason[4], "mail transport unavailable");
	assert_int_equal(H.s->queue_count, 0);
	assert_int_equal(H.s->recipient_count, 0);
	/* entries may still be created; the transport is not selected */
	add(t, "c.test", 1);
	assert_null(sched_select_transport(H.s, H.now));
	assert_true(sched_next_timer(H.s) == 110);
	advance(109);
	assert_true(sched_transport_dead(t));
	advance(110);
	assert_false(sched_transport_dead(t));
	assert_ptr_equal(sched_select_transport(H.s, H.now), t);
	/* the caller may say why */
	sched_transport_connect_failed(t, "4.3.5", "bad greeting from agent", H.now);
	assert_string_equal(t->dead_status, "4.3.5");
	assert_string_equal(H.defer_reason[5], "bad greeting from agent");
}

/*
 * agent crash: no feedback, only the crashed entry is deferred, the
 * transport and the queue carry on
 */
static void test_agent_crash(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;
	struct sched_outcome crash = { SCHED_OUTCOME_CRASH, NULL, NULL };
	struct sched_entry *e;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "a.test", 3);
	q = sched_queue_find(t, "a.test");
	e = sel(t, NULL);
	assert_int_equal(H.s->recipient_count, 3);
	sched_entry_done(e, &crash, H.now);
	assert_false(sched_transport_dead(t));
	assert_null(t->dead_reason);
	assert_int_equal(H.ndefer, 1);
	assert_string_equal(H.defer_status[0], "4.3.0");
	assert_string_equal(H.defer_reason[0], "unknown mail transport error");
	assert_int_equal(H.s->recipient_count, 2);
	/* no feedback: the window is as it was, the rest still goes out */
	assert_ptr_equal(sched_queue_find(t, "a.test"), q);
	assert_int_equal(q->window, 5);
	assert_int_equal(q->busy_count, 0);
	assert_int_equal(q->todo_count, 2);
	assert_ptr_equal(sched_select_transport(H.s, H.now), t);
	sched_transport_connected(t);
	done_ok(sel(t, NULL));
	done_ok(sel(t, NULL));
	assert_int_equal(H.ndefer, 1);
	/* the emptied queue goes away as after any delivery */
	assert_null(sched_queue_find(t, "a.test"));
	assert_int_equal(H.s->recipient_count, 0);
}

/*
 * the streak of lost agents: C = crash mid-request, L = agent gone before
 * its greeting, O = a good reply, H = a hop failure (a valid reply too).
 * SCHED_CRASH_LIMIT (10) lost in a row throttle the transport, deferring
 * what waits; a valid reply in between starts the count again.
 */
static void test_agent_crash_streak(void **state)
{
	static const struct {
		const char *events;
		bool dead;
		const char *reason;	/* dead reason */
		int ndefer;
	} rows[] = {
		{"C", false, NULL, 1},
		{"CCCCCCCCC", false, NULL, 9},
		{"CCCCCCCCCC", true, "unknown mail transport error", 30},
		{"CCCCCOCCCCC", false, NULL, 10},
		{"CCCCHCCCCCC", false, NULL, 10},
		{"LLLLLLLLL", false, NULL, 0},
		{"LLLLLLLLLL", true, "mail transport unavailable", 30},
		{"LLLLLCCCCC", true, "unknown mail transport error", 30},
		{"CCCCCLLLLL", true, "mail transport unavailable", 30},
		{"CCCCCCCCCOCCCCCCCCC", false, NULL, 18},
	};
	struct sched_outcome crash = { SCHED_OUTCOME_CRASH, NULL, NULL };

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sched_transport *t;
		long used = 0;

		start(NULL);
		t = xport("smtp", 20, 5, 0);
		add(t, "a.test", 30);
		for (const char *ev = rows[i].events; *ev; ev++) {
			if (*ev == 'L') {
				assert_ptr_equal(sched_select_transport(H.s, H.now), t);
				sched_transport_connect_lost(t, H.now);
				continue;
			}
			used++;
			if (*ev == 'C')
				sched_entry_done(sel(t, NULL), &crash, H.now);
			else if (*ev == 'O')
				done_ok(sel(t, NULL));
			else
				done_fail(sel(t, NULL), "refused");
		}
		if (sched_transport_dead(t) != rows[i].dead)
			fail_msg("row %zu (%s): dead %d", i, rows[i].events, !rows[i].dead);
		if (rows[i].dead)
			assert_string_equal(t->dead_reason, rows[i].reason);
		else
			assert_int_equal(H.s->recipient_count, 30 - used);
		if (H.ndefer != rows[i].ndefer)
			fail_msg("row %zu (%s): %d deferred, want %d", i, rows[i].events,
				 H.ndefer, rows[i].ndefer);
		assert_int_equal(t->pending, 0);
		sched_free(&H.s);
	}
}

/* ------------------------------------------------------ round robin etc. */

/* destinations interleave: A B C A B C ..., then the longer one alone */
static void test_round_robin_destinations(void **state)
{
	static const char *want = "ABCABCABCAA";
	struct sched_transport *t;
	char got[16] = "";

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "A", 5);
	add(t, "B", 3);
	add(t, "C", 3);
	for (size_t i = 0; i < strlen(want); i++) {
		struct sched_entry *e = sel(t, NULL);

		assert_non_null(e);
		strncat(got, e->queue->name, 1);
	}
	assert_string_equal(got, want);
	assert_null(sel(t, NULL));		/* A: window 5 busy 5 */
	assert_int_equal(t->absorb, 0);
}

/* FIFO within a destination: the oldest todo entry goes first */
static void test_fifo_and_unselect(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;
	struct sched_entry *e1, *e2;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "A", 3);
	q = sched_queue_find(t, "A");
	e1 = sel(t, NULL);
	assert_true(e1->msg == (void *)1);
	e2 = sel(t, NULL);
	assert_true(e2->msg == (void *)2);
	sched_entry_unselect(e2);		/* request could not be sent */
	assert_int_equal(e2->state, SCHED_ENTRY_TODO);
	assert_ptr_equal(q->todo.first, e2);
	assert_ptr_equal(sel(t, NULL), e2);
	/* the caller may dispose of a todo entry itself */
	sched_entry_remove(q->todo.first, H.now);
	assert_int_equal(q->todo_count, 0);
	assert_int_equal(H.s->recipient_count, 2);
	done_ok(e1);
	done_ok(e2);
	assert_int_equal(H.s->recipient_count, 0);
	assert_null(sched_queue_find(t, "A"));	/* no history: freed at once */
}

/* connection reuse: prefer_queue wins when it can take a delivery */
static void test_prefer_queue(void **state)
{
	struct sched_transport *t;
	struct sched_entry *e;

	start(NULL);
	t = xport("smtp", 1, 1, 1);
	add(t, "A", 1);
	add(t, "B", 2);
	add(t, "C", 1);
	e = sel(t, "B");
	assert_string_equal(e->queue->name, "B");
	e = sel(t, "B");			/* B is full (window 1): round robin */
	assert_string_equal(e->queue->name, "A");
	e = sel(t, "nowhere");
	assert_string_equal(e->queue->name, "C");
	assert_null(sel(t, "B"));
}

/* transports interleave; pending capped at 2 and by what queues can absorb */
static void test_round_robin_transports(void **state)
{
	struct sched_transport *a, *b, *t;
	char got[16] = "";

	start(NULL);
	a = xport("smtp", 20, 5, 1);
	b = xport("relay", 20, 5, 1);
	add(a, "x.test", 10);
	add(b, "y.test", 10);
	for (int i = 0; i < 6; i++) {
		t = sched_select_transport(H.s, H.now);
		assert_non_null(t);
		strncat(got, t->name, 1);
		sched_transport_connected(t);
		assert_non_null(sel(t, NULL));
	}
	assert_string_equal(got, "srsrsr");
	teardown(NULL);

	/* pipeline: at most two connections pending per transport */
	start(NULL);
	a = xport("smtp", 20, 5, 1);
	add(a, "x.test", 10);
	assert_ptr_equal(sched_select_transport(H.s, 0), a);
	assert_ptr_equal(sched_select_transport(H.s, 0), a);
	assert_null(sched_select_transport(H.s, 0));
	sched_transport_connected(a);
	assert_ptr_equal(sched_select_transport(H.s, 0), a);
	teardown(NULL);

	/* a single todo entry absorbs one pending connection, not two */
	start(NULL);
	a = xport("smtp", 20, 5, 1);
	add(a, "x.test", 1);
	assert_ptr_equal(sched_select_transport(H.s, 0), a);
	assert_null(sched_select_transport(H.s, 0));
	sched_transport_connected(a);
	assert_non_null(sel(a, NULL));
	assert_null(sched_select_transport(H.s, 0));
	/* nothing left: the agent is sent away */
	assert_null(sel(a, NULL));
}

/* destination rate delay: one in flight, window 1, starts spaced by the delay */
static void test_dest_rate_delay(void **state)
{
	struct sched_transport_conf tc;
	struct sched_transport *t;
	struct sched_queue *q;
	double starts[4];
	int n = 0;

	start(NULL);
	sched_transport_conf_defaults(&tc);
	tc.dest_rate_delay = 10;
	t = sched_transport_create(H.s, "smtp", &tc);
	add(t, "slow.test", 4);
	q = sched_queue_find(t, "slow.test");
	while (n < 4) {
		struct sched_entry *e = sel(t, NULL);

		assert_non_null(e);
		starts[n++] = H.now;
		assert_int_equal(q->window, 1);
		assert_null(sel(t, NULL));		/* one in flight */
		H.now += 2;				/* delivery takes 2 s */
		done_ok(e);
		if (n < 4) {
			assert_int_equal(q->window, SCHED_QUEUE_SUSPENDED);
			assert_null(sel(t, NULL));
			assert_true(sched_next_timer(H.s) == H.now + 10);
			advance(H.now + 5);
			assert_null(sel(t, NULL));
			advance(sched_next_timer(H.s));
		}
	}
	for (int i = 1; i < 4; i++)
		assert_true(starts[i] - starts[i - 1] == 12);
	/* suspended after the last one too; then the empty queue goes */
	assert_int_equal(q->window, SCHED_QUEUE_SUSPENDED);
	advance(sched_next_timer(H.s));
	assert_null(sched_queue_find(t, "slow.test"));
}

/* transport rate delay: the transport is serialised and spaced */
static void test_xport_rate_delay(void **state)
{
	struct sched_transport_conf tc;
	struct sched_transport *t;
	struct sched_entry *e;
	char got[8] = "";

	start(NULL);
	sched_transport_conf_defaults(&tc);
	tc.xport_rate_delay = 5;
	t = sched_transport_create(H.s, "smtp", &tc);
	add(t, "A", 2);
	add(t, "B", 2);
	for (int i = 0; i < 4; i++) {
		double t0 = H.now;

		assert_ptr_equal(sched_select_transport(H.s, H.now), t);
		assert_true(t->flags & SCHED_TRANSPORT_RATE_LOCK);
		assert_null(sched_select_transport(H.s, H.now));	/* serialised */
		sched_transport_connected(t);
		e = sel(t, NULL);
		strncat(got, e->queue->name, 1);
		H.now += 1;
		done_ok(e);
		assert_null(sched_select_transport(H.s, H.now));
		if (i < 3) {
			assert_true(sched_next_timer(H.s) == t0 + 6);
			advance(t0 + 5.5);
			assert_null(sched_select_transport(H.s, H.now));
			advance(t0 + 6);
		}
	}
	assert_string_equal(got, "ABAB");
	/* a connection that finds nothing to do releases the lock at once */
	advance(H.now + 5);
	add(t, "C", 1);
	assert_ptr_equal(sched_select_transport(H.s, H.now), t);
	sched_transport_connected(t);
	sched_entry_remove(sched_queue_find(t, "C")->todo.first, H.now);
	assert_null(sel(t, NULL));
	assert_false(t->flags & SCHED_TRANSPORT_RATE_LOCK);
}

/* session caching hints turn on for back-to-back deliveries */
static void test_conn_cache_flags(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;
	struct sched_entry *e;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "A", 4);
	q = sched_queue_find(t, "A");
	e = sel(t, NULL);
	assert_int_equal(q->conn_flags, 0);
	H.now = 1;
	done_ok(e);
	H.now = 2.5;					/* 1.5 s later: not back to back */
	e = sel(t, NULL);
	assert_int_equal(q->conn_flags, 0);
	done_ok(e);
	H.now = 3.5;					/* last_done + 1 >= now */
	e = sel(t, NULL);
	assert_int_equal(q->conn_flags, SCHED_CONN_LOAD | SCHED_CONN_STORE);
	done_ok(e);
	H.now = 100;					/* not back to back, alone */
	e = sel(t, NULL);
	assert_int_equal(q->conn_flags, SCHED_CONN_LOAD);
	done_ok(e);
}

/* ------------------------------------------------ improvement: trickle */

/*
 * One message at a time to a site that refuses connections, a minute
 * apart.  Postfix frees the queue after each failure (fail_cohorts 0.2 is
 * forgotten), so every message costs a connection attempt.  sluice keeps
 * the history: 1/5 + 1/3 + 1/2 >= 1 kills it at the third message, and the
 * fourth and fifth are routed to retry without touching the site.
 */
static void test_trickle_improvement(void **state)
{
	static const struct {
		bool keep;
		int attempts;
		bool dead;
	} rows[] = {
		{ true, 3, true },
		{ false, 5, false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sched_conf conf;
		struct sched_transport *t;
		struct sched_queue *q;
		int attempts = 0, skipped = 0;

		sched_conf_defaults(&conf);
		conf.keep_failure_history = rows[i].keep;
		start(&conf);
		t = xport("smtp", 20, 5, 1);
		for (int m = 0; m < 5; m++) {
			advance(60.0 * m);
			q = sched_queue_find(t, "down.test");
			if (q && sched_queue_dead(q)) {
				skipped++;		/* qmgr: to retry, with q->dead_reason */
				continue;
			}
			add(t, "down.test", 1);
			done_fail(sel(t, NULL), "connect to down.test: Connection refused");
			attempts++;
		}
		assert_int_equal(attempts, rows[i].attempts);
		assert_int_equal(skipped, 5 - rows[i].attempts);
		q = sched_queue_find(t, "down.test");
		assert_int_equal(q != NULL && sched_queue_dead(q), rows[i].dead);
		if (!rows[i].keep)
			assert_int_equal(H.s->queue_count, 0);	/* Postfix: forgotten */
		teardown(NULL);
	}
}

/* the kept history is forgotten minimal_backoff_time after the last failure */
static void test_history_forgotten(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	H.now = 1000;
	add(t, "flaky.test", 1);
	done_fail(sel(t, NULL), "refused");
	q = sched_queue_find(t, "flaky.test");
	assert_non_null(q);
	assert_int_equal(q->window, 3);
	assert_true(fabs(q->fail_cohorts - 0.2) < 1e-12);
	assert_true(sched_next_timer(H.s) == 1300);
	advance(1299);
	assert_ptr_equal(sched_queue_find(t, "flaky.test"), q);
	advance(1300);
	assert_null(sched_queue_find(t, "flaky.test"));
	assert_int_equal(H.s->queue_count, 0);

	/*
	 * A success wipes the history (fail_cohorts reset, the window grows
	 * and clears failure): the emptied queue goes at once.
	 */
	H.now = 2000;
	add(t, "flaky.test", 1);
	q = sched_queue_find(t, "flaky.test");
	done_fail(sel(t, NULL), "refused");
	H.now = 2100;
	add(t, "flaky.test", 1);
	assert_true(sched_next_timer(H.s) < 0);	/* queue in use: no forget timer */
	done_ok(sel(t, NULL));
	assert_null(sched_queue_find(t, "flaky.test"));
	assert_int_equal(H.s->queue_count, 0);
}

/* the dead cache gives way beyond 2 x qmgr_message_recipient_limit queues */
static void test_dead_cache_bounded(void **state)
{
	struct sched_conf conf;
	struct sched_transport *t;

	sched_conf_defaults(&conf);
	conf.qmgr_message_recipient_limit = 1;
	start(&conf);
	t = xport("smtp", 1, 5, 1);
	add(t, "a.test", 1);
	add(t, "b.test", 1);
	done_fail(sel(t, "a.test"), "refused");
	assert_true(sched_queue_dead(sched_queue_find(t, "a.test")));	/* 2 queues: kept */
	add(t, "c.test", 1);
	add(t, "d.test", 1);
	done_fail(sel(t, "c.test"), "refused");	/* 4 > 2: freed */
	assert_null(sched_queue_find(t, "c.test"));
	assert_int_equal(H.s->queue_count, 3);
}

/* ------------------------------------------------------ clog, debug log */

/* clogging warning: above active_limit/5 entries, once per clog_warn_time */
static void test_clog_warning(void **state)
{
	struct sched_conf conf;
	struct sched_transport *t;

	sched_conf_defaults(&conf);
	conf.qmgr_message_active_limit = 100;		/* threshold: > 20 entries */
	start(&conf);
	for (int i = 0; i < 25; i++)
		sched_message_enter(H.s);
	t = xport("smtp", 20, 5, 1);
	add(t, "busy.test", 20);
	assert_int_equal(H.nclog, 0);
	add(t, "busy.test", 1);
	assert_int_equal(H.nclog, 10);
	assert_string_equal(H.clog[0], "mail for busy.test is using up 21 of 25 active queue entries");
	assert_string_equal(H.clog[1], "this may slow down other mail deliveries");
	assert_string_equal(H.clog[2], "you may need to reduce smtp connect and helo timeouts");
	assert_string_equal(H.clog[9], "to turn off these warnings specify: qmgr_clog_warn_time = 0");
	H.now = 299;
	add(t, "busy.test", 5);
	assert_int_equal(H.nclog, 10);
	H.now = 300;
	add(t, "busy.test", 1);
	/* 27 of 25 (share above 0.9): no "slow down" line this time */
	assert_int_equal(H.nclog, 19);
	assert_string_equal(H.clog[10], "mail for busy.test is using up 27 of 25 active queue entries");
	assert_string_equal(H.clog[11], "you may need to reduce smtp connect and helo timeouts");
	H.now = 400;
	add(t, "busy.test", 1);
	assert_int_equal(H.nclog, 19);
	teardown(NULL);

	/* the advice follows the cause: a concurrency limit already reached */
	start(&conf);
	for (int i = 0; i < 21; i++)
		sched_message_enter(H.s);
	t = xport("smtp", 1, 1, 1);
	add(t, "one.test", 21);
	assert_int_equal(H.nclog, 5);
	assert_string_equal(H.clog[1], "you may need to increase the main.cf "
			    "smtp_destination_concurrency_limit from 1");
	teardown(NULL);

	/* several destinations: a separate transport */
	start(&conf);
	for (int i = 0; i < 30; i++)
		sched_message_enter(H.s);
	t = xport("smtp", 20, 5, 1);
	add(t, "other.test", 1);
	add(t, "big.test", 21);
	assert_string_equal(H.clog[2], "you may need a separate master.cf transport for big.test");
	teardown(NULL);

	/* qmgr_clog_warn_time = 0 turns it off */
	conf.qmgr_clog_warn_time = 0;
	start(&conf);
	t = xport("smtp", 20, 5, 1);
	add(t, "busy.test", 50);
	assert_int_equal(H.nclog, 0);
}

/* destination_concurrency_feedback_debug lines */
static void test_feedback_debug(void **state)
{
	struct sched_conf conf;
	struct sched_transport *t, *r;

	sched_conf_defaults(&conf);
	conf.destination_concurrency_feedback_debug = true;
	start(&conf);
	t = xport("smtp", 20, 5, 1);
	add(t, "example.com", 10);
	fill(t);
	done_ok(sched_queue_find(t, "example.com")->busy.first);
	assert_int_equal(H.nlog, 2);
	assert_string_equal(H.logl[0], "qmgr_queue_unthrottle: feedback 1");
	assert_string_equal(H.logl[1], "qmgr_queue_unthrottle: queue example.com: limit 20 "
			    "window 6 success 0 failure 0 fail_cohorts 0 busy 5");
	done_fail(sched_queue_find(t, "example.com")->busy.first, "refused");
	assert_string_equal(H.logl[3], "qmgr_queue_throttle: queue example.com: limit 20 "
			    "window 4 success 0 failure 1 fail_cohorts 0.166667 busy 4");
	/* not for the retry and error pseudo-transports */
	r = xport("retry", 20, 5, 1);
	add(r, "x", 1);
	done_ok(sel(r, NULL));
	assert_int_equal(H.nlog, 4);
	teardown(NULL);

	/* off by default */
	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "example.com", 1);
	done_ok(sel(t, NULL));
	assert_int_equal(H.nlog, 0);
}

/* reload: limits shrink existing windows; global settings replaced */
static void test_reconfigure(void **state)
{
	struct sched_transport_conf tc;
	struct sched_conf conf;
	struct sched_transport *t;
	struct sched_queue *q;

	start(NULL);
	t = xport("smtp", 20, 5, 1);
	add(t, "A", 10);
	q = sched_queue_find(t, "A");
	assert_int_equal(t->absorb, 5);
	sched_transport_conf_defaults(&tc);
	tc.dest_concurrency_limit = 3;
	sched_transport_update_conf(t, &tc);
	assert_int_equal(q->window, 3);
	assert_int_equal(t->conf.init_dest_concurrency, 3);
	assert_int_equal(t->absorb, 3);
	assert_int_equal(fill(t), 3);
	sched_conf_defaults(&conf);
	conf.qmgr_message_active_limit = 7;
	sched_reconfigure(H.s, &conf);
	assert_int_equal(H.s->feed.active_limit, 7);
	assert_int_equal(H.s->conf.qmgr_message_active_limit, 7);
	assert_int_equal(q->todo_count, 7);		/* nothing dropped */
}

/* ----------------------------------------------------- feed, time policy */

/* leaky bucket and fairness of the active queue feed */
static void test_feed(void **state)
{
	static const struct {
		bool in, def;
		long msgs, rcpts;
		enum sched_feed_queue want;
	} steps[] = {
		{ true, true, 0, 0, SCHED_FEED_INCOMING },
		{ true, true, 1, 1, SCHED_FEED_DEFERRED },	/* alternate */
		{ true, true, 2, 2, SCHED_FEED_INCOMING },
		{ true, true, 3, 3, SCHED_FEED_NONE },		/* full: 3 >= 3 */
		{ true, true, 2, 2, SCHED_FEED_INCOMING },	/* room again: new mail first */
		{ true, true, 2, 2, SCHED_FEED_DEFERRED },
		{ false, true, 2, 2, SCHED_FEED_DEFERRED },	/* only deferred has files */
		{ false, true, 2, 2, SCHED_FEED_DEFERRED },
		{ true, false, 2, 2, SCHED_FEED_INCOMING },
		{ false, false, 2, 2, SCHED_FEED_NONE },	/* nothing to take */
		{ true, true, 2, 2, SCHED_FEED_DEFERRED },	/* unchanged by the idle turn */
		{ true, true, 0, 100, SCHED_FEED_NONE },	/* recipient limit */
		{ true, true, 0, 99, SCHED_FEED_INCOMING },
	};
	struct sched_feed f;

	sched_feed_init(&f, 3, 100);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		enum sched_feed_queue got = sched_feed_choose(&f, steps[i].in, steps[i].def,
							      steps[i].msgs, steps[i].rcpts);

		if (got != steps[i].want)
			fail_msg("step %zu: got %d want %d", i, got, steps[i].want);
	}

	/* sched_feed_imported: full right after an import -> incoming next */
	sched_feed_init(&f, 3, 100);
	assert_int_equal(sched_feed_choose(&f, true, true, 2, 0), SCHED_FEED_INCOMING);
	sched_feed_imported(&f, 3, 1);
	assert_int_equal(sched_feed_choose(&f, true, true, 2, 0), SCHED_FEED_INCOMING);
	sched_feed_imported(&f, 2, 1);
	assert_int_equal(sched_feed_choose(&f, true, true, 2, 0), SCHED_FEED_DEFERRED);
}

/*
 * Backoff by doubling: a message created at 0 and deferred at every
 * attempt waits its age clamped to [300, 4000]: attempts at 0, 300, 600,
 * 1200, 2400, 4800, 8800, 12800.
 */
static void test_backoff_doubling(void **state)
{
	static const struct {
		double attempt, delay;
	} rows[] = {
		{ 0, 300 }, { 300, 300 }, { 600, 600 }, { 1200, 1200 }, { 2400, 2400 },
		{ 4800, 4000 }, { 8800, 4000 }, { 12800, 4000 },
	};
	double when = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		double d = sched_backoff_delay(when - 0, 300, 4000, 0, 0.7);

		assert_true(when == rows[i].attempt);
		assert_true(d == rows[i].delay);
		when += d;
	}
}

/* spread: within [d, d * (1 + p/100)], exact for a given random value */
static void test_backoff_spread(void **state)
{
	static const double randoms[] = { 0, 0.25, 0.5, 0.999, 1, -1, 2, NAN };
	static const double ages[] = { 0, 299, 300, 1000, 4000, 1e9 };

	for (size_t a = 0; a < sizeof(ages) / sizeof(ages[0]); a++) {
		double d = sched_backoff_delay(ages[a], 300, 4000, 0, 0);

		assert_true(d >= 300 && d <= 4000);
		for (size_t r = 0; r < sizeof(randoms) / sizeof(randoms[0]); r++) {
			double s = sched_backoff_delay(ages[a], 300, 4000, 10, randoms[r]);

			assert_true(s >= d && s <= d * 1.1 + 1e-9);
		}
	}
	assert_true(fabs(sched_backoff_delay(1000, 300, 4000, 10, 0.5) - 1050) < 1e-9);
	assert_true(fabs(sched_backoff_delay(1000, 300, 4000, 20, 0.25) - 1050) < 1e-9);
	assert_true(sched_backoff_delay(1000, 300, 4000, -5, 0.5) == 1000);
	/* a thousand messages deferred together spread over the whole range */
	{
		double lo = 1e18, hi = 0;
		unsigned x = 12345;

		for (int i = 0; i < 1000; i++) {
			double s;

			x = x * 1103515245u + 12345u;
			s = sched_backoff_delay(4000, 300, 4000, 10, (x >> 8) / 16777216.0);
			lo = s < lo ? s : lo;
			hi = s > hi ? s : hi;
		}
		assert_true(lo >= 4000 && lo < 4010);
		assert_true(hi <= 4400 && hi > 4390);
	}
}

/* lifetimes: normal, null sender (capped), 0 = after the first failure */
static void test_lifetimes(void **state)
{
	static const struct {
		double create, now, lifetime;
		bool expired;
	} rows[] = {
		{ 0, 431999, 432000, false },
		{ 0, 432000, 432000, true },
		{ 1000, 1000, 0, true },
		{ 1000, 999, 0, false },
		{ 1000, 87400, 86400, true },
	};
	static const struct {
		bool null_sender;
		double maxq, bounceq, want;
	} lt[] = {
		{ false, 432000, 86400, 432000 },
		{ true, 432000, 86400, 86400 },
		{ true, 86400, 432000, 86400 },		/* capped at the maximal one */
		{ true, 432000, 0, 0 },
		{ false, 0, 86400, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(sched_expired(rows[i].create, rows[i].now, rows[i].lifetime),
				 rows[i].expired);
	for (size_t i = 0; i < sizeof(lt) / sizeof(lt[0]); i++)
		assert_true(sched_lifetime(lt[i].null_sender, lt[i].maxq, lt[i].bounceq)
			    == lt[i].want);
}

/* ------------------------------------------------------------ simulation */

struct flight {
	struct sched_entry *e;
	double done_at;
	bool fails;
};

static unsigned rng = 1;

static unsigned rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/*
 * Several thousand deliveries to 10 destinations over two transports, with
 * random latencies and one destination that refuses every connection: all
 * mail is accounted for (delivered or deferred), windows stay within their
 * limits, the dead site is tried a handful of times and not per message,
 * and the whole run takes milliseconds.
 */
static void test_simulation(void **state)
{
	enum { MSGS = 6000, DESTS = 10, MAXF = 64 };
	struct sched_transport *tr[2];
	struct flight fl[MAXF];
	int nfl = 0, delivered = 0, dead_tries = 0;
	struct timespec t0, t1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	start(NULL);
	tr[0] = xport("smtp", 20, 5, 1);
	tr[1] = xport("relay", 10, 5, 1);
	for (int m = 0; m < MSGS; m++) {
		char name[16];
		int d = (int)(rnd() % DESTS);
		struct sched_transport *t = tr[d % 2];
		struct sched_queue *q;

		snprintf(name, sizeof(name), "d%d.test", d);
		q = sched_queue_find(t, name);
		if (q && sched_queue_dead(q)) {
			H.ndefer++;			/* qmgr would route it to retry */
			continue;
		}
		add(t, name, 1);
	}
	while (H.s->recipient_count > 0) {
		struct sched_transport *t;
		double next;

		/* hand out agents while anything is eligible */
		while (nfl < MAXF && (t = sched_select_transport(H.s, H.now)) != NULL) {
			struct sched_entry *e;

			sched_transport_connected(t);
			if ((e = sel(t, NULL)) == NULL)
				continue;
			assert_true(e->queue->busy_count <= e->queue->window
				    || e->queue->window <= 0);
			fl[nfl].e = e;
			fl[nfl].done_at = H.now + 0.01 + (rnd() % 100) / 1000.0;
			fl[nfl].fails = strcmp(e->queue->name, "d7.test") == 0;
			dead_tries += fl[nfl].fails;
			nfl++;
		}

		/* the next event: a delivery finishing or a timer */
		next = sched_next_timer(H.s);
		if (nfl > 0) {
			int k = 0;

			for (int i = 1; i < nfl; i++)
				if (fl[i].done_at < fl[k].done_at)
					k = i;
			if (next < 0 || fl[k].done_at <= next) {
				struct flight f = fl[k];

				fl[k] = fl[--nfl];
				H.now = f.done_at;
				if (f.fails) {
					done_fail(f.e, "connection refused");
				} else {
					done_ok(f.e);
					delivered++;
				}
				sched_run_timers(H.s, H.now);
				continue;
			}
		}
		assert_true(next >= 0);			/* otherwise: stuck */
		advance(next > H.now ? next : H.now);
	}
	advance(H.now + 10000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("simulation: %d delivered, %d deferred, %d tries at the dead "
		      "site, %.1f ms\n", delivered, H.ndefer, dead_tries, ms);
	assert_int_equal(delivered + H.ndefer + dead_tries, MSGS);
	assert_true(delivered > MSGS * 8 / 10);
	assert_true(dead_tries >= 3 && dead_tries < 20);
	assert_int_equal(H.s->recipient_count, 0);
	assert_int_equal(H.s->queue_count, 0);
	assert_true(sched_next_timer(H.s) < 0);
	assert_true(ms < 1000);
}

/*
 * Many timers at once: 300 destinations die at scrambled times; each one
 * revives exactly minimal_backoff_time later, sched_next_timer() always
 * names the earliest, and cancelling (a success on a dead queue) removes
 * the right one from the heap.
 */
static void test_many_timers(void **state)
{
	enum { N = 300 };
	struct sched_transport *t;
	struct sched_queue *qs[N];
	double died[N];
	char name[16];

	start(NULL);
	t = xport("smtp", 1, 1, 1);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		add(t, name, 1);
		qs[i] = sched_queue_find(t, name);
	}
	/* kill them in a scrambled order of time: i*7 mod N */
	for (int i = 0; i < N; i++) {
		int k = (i * 7) % N;

		snprintf(name, sizeof(name), "q%d", k);
		H.now = k;
		died[k] = k;
		add(t, name, 1);			/* keeps the dead queue around */
		done_fail(sel(t, name), "refused");
		assert_true(sched_queue_dead(qs[k]));
	}
	/* queue q150 gets revived early by hand: its timer must go */
	sched_queue_revive(qs[150], H.now);
	assert_true(sched_next_timer(H.s) == H.now);	/* empty: collected next run */
	advance(H.now);
	assert_null(sched_queue_find(t, "q150"));
	for (double now = 300; now < 300 + N; now += 1) {
		double next = sched_next_timer(H.s);

		assert_true(next >= now);
		advance(now);
		for (int k = 0; k < N; k++) {
			bool gone = died[k] + 300 <= now || k == 150;

			snprintf(name, sizeof(name), "q%d", k);
			if (gone != (sched_queue_find(t, name) == NULL))
				fail_msg("now %g: q%d gone=%d", now, k, gone);
		}
	}
	assert_int_equal(H.s->queue_count, 0);
	assert_true(sched_next_timer(H.s) < 0);
}

/* freeing with entries, queues and timers still around is clean */
static void test_free_busy_state(void **state)
{
	struct sched_transport *t;

	start(NULL);
	t = xport("smtp", 1, 5, 1);
	add(t, "a.test", 3);
	add(t, "b.test", 3);
	sel(t, NULL);
	done_fail(sel(t, NULL), "refused");
	sched_transport_throttle(xport("local", 20, 5, 1), "4.3.0", "x", 0);
	assert_true(sched_next_timer(H.s) >= 0);
}

/*
 * Restart memory: a restored dead queue refuses entries until its saved
 * retry time and then revives; restored failure history is forgotten
 * minimal_backoff_time (300 s) after the last failure; a queue with
 * neither is collected at the next timer run.  The read-only views report
 * the retry times.
 */
static void test_queue_restore(void **state)
{
	struct sched_transport *t;
	struct sched_queue *q;
	struct sched_queue_saved dead = {"4.4.1", "connect to x: refused", 1120, 1, 0, 990};
	struct sched_queue_saved hist = {NULL, NULL, -1, 0.5, 0, 950};
	struct sched_queue_saved none = {NULL, NULL, -1, 0, 0, -INFINITY};

	start(NULL);
	H.now = 1000;
	t = xport("smtp", 20, 5, 1);
	q = sched_queue_restore(t, "dead.example", NULL, &dead, H.now);
	assert_non_null(q);
	assert_true(sched_queue_dead(q));
	assert_string_equal(q->dead_reason, "connect to x: refused");
	assert_true(sched_queue_retry_time(q) == 1120);
	assert_true(sched_queue_resume_time(q) == -1);
	assert_null(sched_queue_restore(t, "dead.example", NULL, &dead, H.now));
	q = sched_queue_restore(t, "hist.example", NULL, &hist, H.now);
	assert_false(sched_queue_dead(q));
	assert_true(sched_queue_retry_time(q) == -1);
	assert_non_null(sched_queue_restore(t, "none.example", NULL, &none, H.now));
	assert_int_equal(t->queue_count, 3);
	sched_run_timers(H.s, H.now);
	assert_int_equal(t->queue_count, 2);		/* none.example collected */
	assert_true(sched_next_timer(H.s) == 1120);
	H.now = 1120;
	sched_run_timers(H.s, H.now);
	assert_null(sched_queue_find(t, "dead.example"));	/* revived, empty: freed */
	assert_non_null(q = sched_queue_find(t, "hist.example"));
	assert_true(q->fail_cohorts == 0.5);
	assert_true(sched_next_timer(H.s) == 1250);
	H.now = 1250;
	sched_run_timers(H.s, H.now);
	assert_int_equal(t->queue_count, 0);
	/* A dead saved queue whose retry time has passed comes back alive. */
	dead.retry_at = 1200;
	q = sched_queue_restore(t, "late.example", NULL, &dead, H.now);
	assert_false(sched_queue_dead(q));
}

static long hint_window;

static long cb_init_window(void *ctx, const struct sched_transport *t, const char *name)
{
	return strcmp(name, "wide.example") == 0 ? hint_window : 0;
}

/* queue_init_window: a remembered window, clamped to the limit. */
static void test_queue_init_window(void **state)
{
	static const struct {
		long hint, limit, want;
	} rows[] = {
		{8, 20, 8}, {30, 20, 20}, {0, 20, 5}, {-3, 20, 5}, {30, 0, 30},
	};
	struct sched_ops o = ops;
	struct sched_conf conf;
	struct sched_transport *t;

	o.queue_init_window = cb_init_window;
	sched_conf_defaults(&conf);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&H, 0, sizeof(H));
		H.s = sched_create(&conf, &o, &H);
		hint_window = rows[i].hint;
		t = xport("smtp", rows[i].limit, 5, 1);
		assert_int_equal(sched_queue_create(t, "wide.example", NULL, 0)->window, rows[i].want);
		assert_int_equal(sched_queue_create(t, "other.example", NULL, 0)->window, 5);
		sched_free(&H.s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feedback_parse),
		cmocka_unit_test_teardown(test_transport_rules, teardown),
		cmocka_unit_test(test_queue_name_rcpt),
		cmocka_unit_test_teardown(test_window_grows_feedback_one, teardown),
		cmocka_unit_test_teardown(test_window_grows_per_window, teardown),
		cmocka_unit_test_teardown(test_window_tracks_concurrency, teardown),
		cmocka_unit_test_teardown(test_window_falls, teardown),
		cmocka_unit_test(test_cohorts_kill),
		cmocka_unit_test_teardown(test_dead_queue_revives_after_backoff, teardown),
		cmocka_unit_test_teardown(test_dead_queue_revives_with_busy, teardown),
		cmocka_unit_test_teardown(test_success_revives_dead_queue, teardown),
		cmocka_unit_test_teardown(test_flush_dead, teardown),
		cmocka_unit_test_teardown(test_revive_one, teardown),
		cmocka_unit_test_teardown(test_dead_transport, teardown),
		cmocka_unit_test_teardown(test_agent_crash, teardown),
		cmocka_unit_test_teardown(test_agent_crash_streak, teardown),
		cmocka_unit_test_teardown(test_round_robin_destinations, teardown),
		cmocka_unit_test_teardown(test_fifo_and_unselect, teardown),
		cmocka_unit_test_teardown(test_prefer_queue, teardown),
		cmocka_unit_test_teardown(test_round_robin_transports, teardown),
		cmocka_unit_test_teardown(test_dest_rate_delay, teardown),
		cmocka_unit_test_teardown(test_xport_rate_delay, teardown),
		cmocka_unit_test_teardown(test_conn_cache_flags, teardown),
		cmocka_unit_test(test_trickle_improvement),
		cmocka_unit_test_teardown(test_history_forgotten, teardown),
		cmocka_unit_test_teardown(test_dead_cache_bounded, teardown),
		cmocka_unit_test_teardown(test_clog_warning, teardown),
		cmocka_unit_test_teardown(test_feedback_debug, teardown),
		cmocka_unit_test_teardown(test_reconfigure, teardown),
		cmocka_unit_test(test_feed),
		cmocka_unit_test(test_backoff_doubling),
		cmocka_unit_test(test_backoff_spread),
		cmocka_unit_test(test_lifetimes),
		cmocka_unit_test_teardown(test_simulation, teardown),
		cmocka_unit_test_teardown(test_many_timers, teardown),
		cmocka_unit_test_teardown(test_free_busy_state, teardown),
		cmocka_unit_test_teardown(test_queue_restore, teardown),
		cmocka_unit_test_teardown(test_queue_init_window, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
