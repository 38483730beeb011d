/*
 * test_ev - the event loop API (util/ev.h) on the real clock.
 *
 * Pins: timers fire once, in order of their deadlines, never early; a
 * timer is its (callback, context) pair, so requesting it again moves it
 * (earlier or later) and ev_timer_cancel forgets it, also when another
 * callback of the same loop turn does so after the deadline passed;
 * descriptor interest is persistent, with or without a time-out; a
 * descriptor has one interest at a time (enabling write drops read and
 * back); enabling the same interest again replaces callback and time-out,
 * and a time-out that was removed or moved does not fire; descriptors
 * beyond the first 64 work; signals arrive as callbacks.
 *
 * Timing margins are wide (the machine is shared): "not early" allows
 * 15 ms for libevent's coarse clock, "on time" allows a second.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/ev.h"
#include "util/iostuff.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define EARLY	0.015		/* how early a deadline may be seen */
#define LATE	1.0		/* how late it may be on a busy machine */

/* What the callbacks saw, in order. */
struct rec {
	int id;			/* the context's id */
	int event;		/* EV_E_* */
	double at;		/* seconds since t0 */
};

static struct rec recs[1024];
static size_t nrec;
static size_t dropped;		/* records beyond the array (busy write interest) */
static double t0;

/* A context: an id, and for descriptor callbacks the descriptor to drain. */
struct ctx {
	int id;
	int fd;
};

/* reset - forget what was recorded, restart the clock */
static void reset(void)
{
	nrec = 0;
	dropped = 0;
	t0 = mono_time();
}

/*
 * record - note one callback.  Callbacks never assert: a cmocka failure
 * would longjmp out of libevent's loop and leave it unusable for the tests
 * that follow; they record, and the test checks afterwards.
 */
static void record(int id, int event)
{
	if (nrec >= NROWS(recs)) {
		dropped++;
		return;
	}
	recs[nrec].id = id;
	recs[nrec].event = event;
	recs[nrec].at = mono_time() - t0;
	nrec++;
}

/* count - how many records have this id and include any bit of mask */
static size_t count(int id, int mask)
{
	size_t n = 0;

	for (size_t i = 0; i < nrec; i++)
		if (recs[i].id == id && (recs[i].event & mask))
			n++;
	return n;
}

/* first_at - time of the first record with this id and mask, or -1 */
static double first_at(int id, int mask)
{
	for (size_t i = 0; i < nrec; i++)
		if (recs[i].id == id && (recs[i].event & mask))
			return recs[i].at;
	return -1;
}

/* run_for - run the loop for about secs */
static void run_for(double secs)
{
	double end = mono_time() + secs, left;

	while ((left = end - mono_time()) > 0)
		ev_run_once(left);
}

/* run_until - run the loop until n records exist or secs pass */
static void run_until(size_t n, double secs)
{
	double end = mono_time() + secs, left;

	while (nrec < n && (left = end - mono_time()) > 0)
		ev_run_once(left);
}

/* nap - sleep without the loop */
static void nap(double secs)
{
	struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};

	nanosleep(&ts, NULL);
}

/* timer_fn - a timer callback that only records */
static void timer_fn(int event, void *context)
{
	record(((struct ctx *)context)->id, event);
}

/* timer_fn2 - a second callback, to tell (fn, ctx) pairs apart */
static void timer_fn2(int event, void *context)
{
	record(((struct ctx *)context)->id + 1000, event);
}

/* io_fn - a descriptor callback: record, drain what is readable */
static void io_fn(int event, void *context)
{
	struct ctx *c = context;
	char junk[256];

	record(c->id, event);
	if (event & EV_E_READ)
		(void)read(c->fd, junk, sizeof(junk));
}

/* ---- timers ---- */

/* order: timers requested out of order fire in deadline order, once, on time */
static void test_timer_order(void **state)
{
	static struct {
		struct ctx c;
		double delay;
	} rows[] = {
		{{1, -1}, 0.20},
		{{2, -1}, 0.05},
		{{3, -1}, 0.30},
		{{4, -1}, 0.10},
		{{5, -1}, 0.0},
		{{6, -1}, 0.15},
		{{7, -1}, -1.0},	/* a negative delay means now */
	};

	reset();
	for (size_t i = 0; i < NROWS(rows); i++)
		ev_timer_request(timer_fn, &rows[i].c, rows[i].delay);
	run_until(NROWS(rows), 3.0);
	run_for(0.1);		/* anything extra would show now */
	assert_int_equal(nrec, NROWS(rows));
	for (size_t i = 0; i < nrec; i++) {
		assert_int_equal(recs[i].event, EV_E_TIMEOUT);
		if (i > 0)
			assert_true(recs[i].at >= recs[i - 1].at);
	}
	for (size_t i = 0; i < NROWS(rows); i++) {
		double at = first_at(rows[i].c.id, EV_E_TIMEOUT);
		double want = rows[i].delay > 0 ? rows[i].delay : 0;

		if (at < want - EARLY || at > want + LATE)
			fail_msg("timer %d: fired at %.3f, due %.3f", rows[i].c.id, at, want);
	}
	/* deadlines strictly apart fire in their order */
	for (size_t i = 0; i < NROWS(rows); i++)
		for (size_t k = 0; k < NROWS(rows); k++)
			if (rows[i].delay > 0.01 && rows[i].delay + 0.04 < rows[k].delay)
				assert_true(first_at(rows[i].c.id, EV_E_TIMEOUT)
					    < first_at(rows[k].c.id, EV_E_TIMEOUT));
	/* fired timers are forgotten */
	for (size_t i = 0; i < NROWS(rows); i++)
		assert_false(ev_timer_cancel(timer_fn, &rows[i].c));
}

/* move and cancel: a (fn, ctx) pair is one timer */
static void test_timer_move_cancel(void **state)
{
	enum then { MOVE, CANCEL, OTHER_FN, NOTHING };
	static struct {
		const char *label;
		struct ctx c;
		double first;
		enum then then;
		double second;
		int want_fires;		/* of timer_fn with this ctx */
		double want_at;		/* when (if it fires) */
		bool want_cancel;	/* CANCEL: return value */
	} rows[] = {
		{"move later", {1, -1}, 0.05, MOVE, 0.40, 1, 0.40, false},
		{"move earlier", {2, -1}, 5.00, MOVE, 0.10, 1, 0.10, false},
		{"same again", {3, -1}, 0.15, MOVE, 0.15, 1, 0.15, false},
		{"move to now", {4, -1}, 0.30, MOVE, 0.0, 1, 0.0, false},
		{"cancel", {5, -1}, 0.05, CANCEL, 0, 0, 0, true},
		{"cancel unknown", {6, -1}, -2, CANCEL, 0, 0, 0, false},
		{"other fn, same ctx", {7, -1}, 0.10, OTHER_FN, 0.20, 1, 0.10, false},
		{"untouched", {8, -1}, 0.25, NOTHING, 0, 1, 0.25, false},
	};

	reset();
	for (size_t i = 0; i < NROWS(rows); i++)
		if (rows[i].first > -2)
			ev_timer_request(timer_fn, &rows[i].c, rows[i].first);
	for (size_t i = 0; i < NROWS(rows); i++) {
		switch (rows[i].then) {
		case MOVE:
			ev_timer_request(timer_fn, &rows[i].c, rows[i].second);
			break;
		case CANCEL:
			assert_int_equal(ev_timer_cancel(timer_fn, &rows[i].c), rows[i].want_cancel);
			assert_false(ev_timer_cancel(timer_fn, &rows[i].c));
			break;
		case OTHER_FN:
			ev_timer_request(timer_fn2, &rows[i].c, rows[i].second);
			break;
		case NOTHING:
			break;
		}
	}
	run_for(0.7);
	for (size_t i = 0; i < NROWS(rows); i++) {
		int id = rows[i].c.id;
		double at = first_at(id, EV_E_TIMEOUT);

		if ((int)count(id, EV_E_TIMEOUT) != rows[i].want_fires)
			fail_msg("%s: fired %zu times, want %d", rows[i].label,
				 count(id, EV_E_TIMEOUT), rows[i].want_fires);
		if (rows[i].want_fires
		    && (at < rows[i].want_at - EARLY || at > rows[i].want_at + LATE))
			fail_msg("%s: fired at %.3f, want %.3f", rows[i].label, at,
				 rows[i].want_at);
		if (rows[i].then == OTHER_FN)
			assert_int_equal(count(id + 1000, EV_E_TIMEOUT), 1);
	}
	/* "move earlier" was due at 5 s before the move: nothing left pending */
	assert_false(ev_timer_cancel(timer_fn, &rows[1].c));
}

/*
 * Same turn: several timers are due when the loop wakes up; the first
 * callback cancels one and moves another.  Neither may run in that turn:
 * the cancelled one never, the moved one at its new time.
 */
static struct ctx st_a = {1, -1}, st_cancelled = {2, -1}, st_moved = {3, -1},
	st_self = {4, -1};
static bool st_cancel_rc;

/* same_turn_fn - the first timer of the turn: cancel, move, re-arm self */
static void same_turn_fn(int event, void *context)
{
	record(((struct ctx *)context)->id, event);
	st_cancel_rc = ev_timer_cancel(timer_fn, &st_cancelled);
	ev_timer_request(timer_fn, &st_moved, 0.3);
	/* a callback may request its own timer again: it is a new one */
	ev_timer_request(timer_fn, &st_self, 0.2);
}

/* same turn: cancel and move from a callback after the deadlines passed */
static void test_timer_same_turn(void **state)
{
	double moved_at;

	reset();
	ev_timer_request(same_turn_fn, &st_a, 0.01);
	ev_timer_request(timer_fn, &st_cancelled, 0.02);
	ev_timer_request(timer_fn, &st_moved, 0.03);
	nap(0.1);		/* all three are overdue now */
	ev_run_once(0);
	assert_true(st_cancel_rc);
	assert_int_equal(count(1, EV_E_TIMEOUT), 1);
	assert_int_equal(count(2, EV_E_TIMEOUT), 0);
	assert_int_equal(count(3, EV_E_TIMEOUT), 0);
	run_for(0.6);
	assert_int_equal(count(2, EV_E_TIMEOUT), 0);
	assert_int_equal(count(3, EV_E_TIMEOUT), 1);
	assert_int_equal(count(4, EV_E_TIMEOUT), 1);
	moved_at = first_at(3, EV_E_TIMEOUT);
	assert_true(moved_at >= 0.1 + 0.3 - EARLY);
	assert_true(first_at(4, EV_E_TIMEOUT) < moved_at);
}

static int periodic_left;

/* periodic_fn - re-arms itself until periodic_left runs out */
static void periodic_fn(int event, void *context)
{
	record(((struct ctx *)context)->id, event);
	if (--periodic_left > 0)
		ev_timer_request(periodic_fn, context, 0.03);
}

/* periodic: a timer re-requested from its own callback keeps going */
static void test_timer_periodic(void **state)
{
	static struct ctx c = {9, -1};

	reset();
	periodic_left = 5;
	ev_timer_request(periodic_fn, &c, 0.03);
	run_until(5, 5.0);
	run_for(0.1);
	assert_int_equal(count(9, EV_E_TIMEOUT), 5);
	for (size_t i = 1; i < nrec; i++)
		assert_true(recs[i].at - recs[i - 1].at >= 0.03 - EARLY);
	assert_false(ev_timer_cancel(periodic_fn, &c));
}

/* run_once: waits at most max_wait when nothing happens; 0 polls */
static void test_run_once_limit(void **state)
{
	static const struct {
		double max_wait, min_s, max_s;
	} rows[] = {
		{0.0, 0.0, 0.5},
		{0.15, 0.15 - EARLY, 0.15 + LATE},
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		double start = mono_time(), took;

		ev_run_once(rows[i].max_wait);
		took = mono_time() - start;
		if (took < rows[i].min_s || took > rows[i].max_s)
			fail_msg("run_once(%.2f) took %.3f", rows[i].max_wait, took);
	}
}

/* ---- descriptors ---- */

/* read: persistent interest on a pipe, with and without a time-out */
static void test_read_pipe(void **state)
{
	static const struct {
		const char *label;
		double timeout;
		bool data_first;	/* a byte is there before the loop runs */
		double write_at;	/* another byte written after this, or -1 */
		double run;
		size_t want_reads;
		size_t min_timeouts, max_timeouts;
		double first_timeout;	/* when the first time-out is due */
	} rows[] = {
		{"idle, no time-out", -1, false, -1, 0.3, 0, 0, 0, 0},
		{"data, no time-out", -1, true, -1, 0.2, 1, 0, 0, 0},
		{"data twice", -1, true, 0.1, 0.3, 2, 0, 0, 0},
		{"idle, time-out", 0.1, false, -1, 0.45, 0, 2, 4, 0.1},
		{"data before time-out", 0.5, true, -1, 0.3, 1, 0, 0, 0},
		{"time-out then data", 0.1, false, 0.25, 0.3, 1, 1, 3, 0.1},
		{"zero time-out", 0.0, false, -1, 0.05, 0, 1, NROWS(recs), 0.0},
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		struct ctx c = {(int)i + 1, -1};
		int p[2];
		double ft;

		assert_int_equal(pipe(p), 0);
		c.fd = p[0];
		reset();
		if (rows[i].data_first)
			assert_int_equal(write(p[1], "x", 1), 1);
		ev_read_enable(p[0], io_fn, &c, rows[i].timeout);
		if (rows[i].write_at >= 0) {
			run_for(rows[i].write_at);
			assert_int_equal(write(p[1], "y", 1), 1);
			run_for(rows[i].run - rows[i].write_at);
		} else {
			run_for(rows[i].run);
		}
		ev_disable(p[0]);
		if (count(c.id, EV_E_READ) != rows[i].want_reads)
			fail_msg("%s: %zu reads, want %zu", rows[i].label,
				 count(c.id, EV_E_READ), rows[i].want_reads);
		if (count(c.id, EV_E_TIMEOUT) < rows[i].min_timeouts
		    || count(c.id, EV_E_TIMEOUT) > rows[i].max_timeouts)
			fail_msg("%s: %zu time-outs, want %zu..%zu", rows[i].label,
				 count(c.id, EV_E_TIMEOUT), rows[i].min_timeouts,
				 rows[i].max_timeouts);
		for (size_t k = 0; k < nrec; k++)	/* never both at once, never write */
			assert_true(recs[k].event == EV_E_READ || recs[k].event == EV_E_TIMEOUT);
		ft = first_at(c.id, EV_E_TIMEOUT);
		if (rows[i].min_timeouts && ft < rows[i].first_timeout - EARLY)
			fail_msg("%s: time-out at %.3f, due %.3f", rows[i].label, ft,
				 rows[i].first_timeout);
		/* disabled: nothing more, even with data waiting */
		assert_int_equal(write(p[1], "z", 1), 1);
		reset();
		run_for(0.05);
		assert_int_equal(nrec, 0);
		close(p[0]);
		close(p[1]);
	}
}

/* switch: one interest per descriptor; write replaces read and back */
static void test_switch_interest(void **state)
{
	enum op { READ, WRITE, DISABLE };
	static struct ctx ca = {1, -1}, cb = {2, -1}, cc = {3, -1}, cd = {4, -1};
	static const struct {
		const char *label;
		enum op op;
		struct ctx *c;
		bool peer_writes;	/* the peer sends a byte first */
		int want_seen;		/* events this ctx must get */
		int want_never;		/* events no ctx may get */
	} rows[] = {
		{"read, idle", READ, &ca, false, 0, EV_E_READ | EV_E_WRITE | EV_E_TIMEOUT},
		{"write replaces read", WRITE, &cb, true, EV_E_WRITE, EV_E_READ | EV_E_TIMEOUT},
		{"read replaces write", READ, &cc, false, EV_E_READ, EV_E_WRITE | EV_E_TIMEOUT},
		{"write again", WRITE, &cd, true, EV_E_WRITE, EV_E_READ | EV_E_TIMEOUT},
		{"disabled", DISABLE, NULL, true, 0, EV_E_READ | EV_E_WRITE | EV_E_TIMEOUT},
		{"read after disable", READ, &ca, false, EV_E_READ, EV_E_WRITE | EV_E_TIMEOUT},
	};
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ca.fd = cb.fd = cc.fd = cd.fd = sv[0];
	for (size_t i = 0; i < NROWS(rows); i++) {
		int seen = 0;

		if (rows[i].peer_writes)
			assert_int_equal(write(sv[1], "d", 1), 1);
		switch (rows[i].op) {
		case READ:
			ev_read_enable(sv[0], io_fn, rows[i].c, -1);
			break;
		case WRITE:
			ev_write_enable(sv[0], io_fn, rows[i].c, -1);
			break;
		case DISABLE:
			ev_disable(sv[0]);
			break;
		}
		reset();
		run_for(0.1);
		for (size_t k = 0; k < nrec; k++) {
			if (rows[i].c && recs[k].id == rows[i].c->id)
				seen |= recs[k].event;
			else
				fail_msg("%s: event 0x%x for ctx %d", rows[i].label,
					 recs[k].event, recs[k].id);
			if (recs[k].event & rows[i].want_never)
				fail_msg("%s: unexpected event 0x%x", rows[i].label,
					 recs[k].event);
		}
		if ((seen & rows[i].want_seen) != rows[i].want_seen)
			fail_msg("%s: saw 0x%x, want 0x%x", rows[i].label, seen,
				 rows[i].want_seen);
	}
	ev_disable(sv[0]);
	close(sv[0]);
	close(sv[1]);
}

/* re-enable: the same interest again replaces callback and time-out */
static void test_reenable_timeout(void **state)
{
	static const struct {
		const char *label;
		double first, second;	/* time-outs of the two enables */
		bool new_ctx;		/* the second enable names another ctx */
		double run;
		size_t want_timeouts;	/* for the ctx of the second enable */
		double want_at;		/* first time-out due */
	} rows[] = {
		{"time-out removed", 0.1, -1, false, 0.4, 0, 0},
		{"time-out moved later", 0.1, 0.3, false, 0.25, 0, 0},
		{"time-out moved later, fires", 0.1, 0.3, false, 0.45, 1, 0.3},
		{"time-out moved earlier", 1.0, 0.1, false, 0.15, 1, 0.1},
		{"time-out added", -1, 0.1, false, 0.15, 1, 0.1},
		{"new callback context", 0.1, 0.15, true, 0.2, 1, 0.15},
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		struct ctx c1 = {1, -1}, c2 = {2, -1};
		struct ctx *second = rows[i].new_ctx ? &c2 : &c1;
		int p[2];
		double at;

		assert_int_equal(pipe(p), 0);
		c1.fd = c2.fd = p[0];
		reset();
		ev_read_enable(p[0], io_fn, &c1, rows[i].first);
		ev_read_enable(p[0], io_fn, second, rows[i].second);
		run_for(rows[i].run);
		ev_disable(p[0]);
		if (count(second->id, EV_E_TIMEOUT) != rows[i].want_timeouts)
			fail_msg("%s: %zu time-outs, want %zu", rows[i].label,
				 count(second->id, EV_E_TIMEOUT), rows[i].want_timeouts);
		at = first_at(second->id, EV_E_TIMEOUT);
		if (rows[i].want_timeouts
		    && (at < rows[i].want_at - EARLY || at > rows[i].want_at + LATE))
			fail_msg("%s: time-out at %.3f, want %.3f", rows[i].label, at,
				 rows[i].want_at);
		if (rows[i].new_ctx)
			assert_int_equal(count(c1.id, ~0), 0);
		/* the new callback also gets the data */
		assert_int_equal(write(p[1], "x", 1), 1);
		ev_read_enable(p[0], io_fn, second, -1);
		reset();
		run_until(1, 1.0);
		assert_int_equal(count(second->id, EV_E_READ), 1);
		ev_disable(p[0]);
		close(p[0]);
		close(p[1]);
	}
}

/*
 * Same turn, descriptors: a timer and a descriptor's time-out are both due
 * when the loop wakes up; the timer's callback (first, its deadline is
 * earlier) changes the descriptor's interest.  What it removed must not
 * fire in that turn, nor later.  The descriptor's own callback removing
 * its time-out is the other way the change can come.
 */
enum st_action { ST_NO_TIMEOUT, ST_LATER, ST_DISABLE, ST_TO_WRITE, ST_SELF_NO_TIMEOUT };
static enum st_action st_action;
static struct ctx st_io = {20, -1}, st_timer = {21, -1};
static int st_fd;

/* st_change - change the descriptor's interest as the row says */
static void st_change(void)
{
	switch (st_action) {
	case ST_NO_TIMEOUT:
	case ST_SELF_NO_TIMEOUT:
		ev_read_enable(st_fd, io_fn, &st_io, -1);
		break;
	case ST_LATER:
		ev_read_enable(st_fd, io_fn, &st_io, 0.3);
		break;
	case ST_DISABLE:
		ev_disable(st_fd);
		break;
	case ST_TO_WRITE:
		ev_write_enable(st_fd, io_fn, &st_io, -1);
		break;
	}
}

/* st_timer_fn - the timer due first: makes the change (not for SELF rows) */
static void st_timer_fn(int event, void *context)
{
	record(((struct ctx *)context)->id, event);
	if (st_action != ST_SELF_NO_TIMEOUT)
		st_change();
}

/* st_io_fn - the descriptor's callback: makes the change itself for SELF rows */
static void st_io_fn(int event, void *context)
{
	record(((struct ctx *)context)->id, event);
	if (st_action == ST_SELF_NO_TIMEOUT && (event & EV_E_TIMEOUT))
		st_change();
}

/*
 * Once a bug: when another callback of the same loop turn re-enabled a
 * descriptor's interest with no time-out after its time-out expired,
 * event_remove_timer() found no pending timer (libevent had already queued
 * the event as active), so the time-out fired anyway and kept firing every
 * period.  ev.c now starts such an event over; test_reenable_other_callback
 * holds it to that.
 */
struct st_row {
	const char *label;
	enum st_action action;
	size_t want_timeouts;	/* of the descriptor, after the change */
	double want_at;		/* when, if any */
};

/* st_run - run one row; 0 if it behaved, else 1 with the reason in why */
static int st_run(const struct st_row *r, char *why, size_t whysize)
{
	int p[2], bad = 0;
	size_t timeouts, self = r->action == ST_SELF_NO_TIMEOUT;
	double at;

	assert_int_equal(pipe(p), 0);
	st_fd = st_io.fd = p[0];
	st_action = r->action;
	reset();
	ev_read_enable(p[0], st_io_fn, &st_io, 0.05);
	ev_timer_request(st_timer_fn, &st_timer, 0.01);
	nap(0.15);	/* both overdue */
	run_for(0.55);
	ev_disable(p[0]);
	assert_int_equal(count(st_timer.id, EV_E_TIMEOUT), 1);
	/* a SELF row's change happens in the first time-out's callback */
	timeouts = count(st_io.id, EV_E_TIMEOUT) - self;
	at = first_at(st_io.id, EV_E_TIMEOUT);
	if (self && nrec > 2)
		at = recs[2].at;
	if (timeouts != r->want_timeouts) {
		snprintf(why, whysize, "%s: %zu descriptor time-outs (first at %.3f), want %zu",
			 r->label, timeouts, at, r->want_timeouts);
		bad = 1;
	} else if (timeouts > 0 && at < r->want_at - EARLY) {
		snprintf(why, whysize, "%s: descriptor time-out at %.3f, due %.3f",
			 r->label, at, r->want_at);
		bad = 1;
	}
	close(p[0]);
	close(p[1]);
	return bad;
}

/* see st_timer_fn */
static void test_reenable_same_turn(void **state)
{
	static const struct st_row rows[] = {
		{"time-out removed by its own callback", ST_SELF_NO_TIMEOUT, 0, 0},
		{"time-out moved in the same turn", ST_LATER, 1, 0.15 + 0.3},
		{"disabled in the same turn", ST_DISABLE, 0, 0},
		{"switched to write in the same turn", ST_TO_WRITE, 0, 0},
	};
	char why[256];
	int bad = 0;

	for (size_t i = 0; i < NROWS(rows); i++)
		if (st_run(&rows[i], why, sizeof(why))) {
			print_error("%s\n", why);
			bad++;
		}
	assert_int_equal(bad, 0);
}

/* a time-out removed by another callback in the same turn does not fire (was a bug) */
static void test_reenable_other_callback(void **state)
{
	static const struct st_row row =
		{"time-out removed by another callback in the same turn", ST_NO_TIMEOUT, 0, 0};
	char why[256];

	if (st_run(&row, why, sizeof(why)))
		fail_msg("%s", why);
}

/* disable_self_fn - a callback that drops its own interest */
static void disable_self_fn(int event, void *context)
{
	struct ctx *c = context;

	record(c->id, event);
	ev_disable(c->fd);
}

/* descriptors: high numbers, disable from the callback, harmless disables */
static void test_high_fds(void **state)
{
	static const int fds[] = {63, 64, 100, 300, 1000};
	struct ctx cs[NROWS(fds)];
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	reset();
	for (size_t i = 0; i < NROWS(fds); i++) {
		assert_int_equal(dup2(p[0], fds[i]), fds[i]);
		cs[i].id = (int)i + 1;
		cs[i].fd = fds[i];
		ev_read_enable(fds[i], disable_self_fn, &cs[i], -1);
	}
	ev_disable(5000);	/* never enabled: nothing happens */
	ev_disable(p[1]);
	run_for(0.2);
	/* each readable once: the callback disabled itself */
	for (size_t i = 0; i < NROWS(fds); i++) {
		assert_int_equal(count(cs[i].id, EV_E_READ), 1);
		assert_int_equal(count(cs[i].id, ~EV_E_READ), 0);
		close(fds[i]);
	}
	close(p[0]);
	close(p[1]);
}

/* signal_fn - records the signal */
static void signal_fn(int event, void *context)
{
	record(((struct ctx *)context)->id, event);
}

/* signals: delivered from the loop as EV_E_SIGNAL, every time */
static void test_signal(void **state)
{
	static struct ctx cu1 = {1, -1}, cu2 = {2, -1};
	static const struct {
		int sig;
		int id;
	} rows[] = {
		{SIGUSR1, 1}, {SIGUSR2, 2}, {SIGUSR1, 1},
	};

	ev_signal(SIGUSR1, signal_fn, &cu1);
	ev_signal(SIGUSR2, signal_fn, &cu2);
	for (size_t i = 0; i < NROWS(rows); i++) {
		reset();
		assert_int_equal(raise(rows[i].sig), 0);
		assert_int_equal(nrec, 0);	/* not from the handler */
		run_until(1, 2.0);
		run_for(0.02);
		assert_int_equal(nrec, 1);
		assert_int_equal(recs[0].id, rows[i].id);
		assert_int_equal(recs[0].event, EV_E_SIGNAL);
	}
}

/* setup - one loop for the whole program, as a daemon has */
static int setup(void **state)
{
	ev_init();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_move_cancel),
		cmocka_unit_test(test_timer_same_turn),
		cmocka_unit_test(test_timer_periodic),
		cmocka_unit_test(test_run_once_limit),
		cmocka_unit_test(test_read_pipe),
		cmocka_unit_test(test_switch_interest),
		cmocka_unit_test(test_reenable_timeout),
		cmocka_unit_test(test_reenable_same_turn),
		cmocka_unit_test(test_reenable_other_callback),
		cmocka_unit_test(test_high_fds),
		cmocka_unit_test(test_signal),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
