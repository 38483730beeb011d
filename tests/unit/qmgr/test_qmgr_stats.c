/*
 * test_qmgr_stats - five-minute counters per destination under a fake clock.
 *
 * Each row is a script of steps: add counts at a time, or check the counts
 * (and how many destinations are remembered after an expiry) at a time.
 * Slots are 10 s wide and the window 300 s, so a count made at t leaves the
 * window at the first slot boundary at or after t + 290 .. t + 300.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "qmgr_stats.h"

enum op { END, ADD, CHECK, EXPIRE };

struct step {
	enum op op;
	double t;
	const char *transport, *name;
	long ok, fail;		/* ADD: counts; CHECK: expected */
	long remembered;	/* EXPIRE: destinations left */
};

struct script {
	const char *what;
	struct step steps[12];
};

static const struct script scripts[] = {
	{"counts add up within a slot and across slots", {
		{ADD, 1000, "smtp", "a.example", 1, 0, 0},
		{ADD, 1005, "smtp", "a.example", 2, 1, 0},
		{ADD, 1150, "smtp", "a.example", 0, 3, 0},
		{CHECK, 1150, "smtp", "a.example", 3, 4, 0},
		{END}}},
	{"a count leaves the window five minutes later", {
		{ADD, 1000, "smtp", "a.example", 5, 0, 0},	/* slot 100 */
		{ADD, 1200, "smtp", "a.example", 0, 2, 0},	/* slot 120 */
		{CHECK, 1299.9, "smtp", "a.example", 5, 2, 0},	/* slot 129: 100..129 */
		{CHECK, 1300, "smtp", "a.example", 0, 2, 0},	/* slot 130: 101..130 */
		{CHECK, 1499.9, "smtp", "a.example", 0, 2, 0},
		{CHECK, 1500, "smtp", "a.example", 0, 0, 0},
		{END}}},
	{"a reused slot starts from zero", {
		{ADD, 1000, "smtp", "a.example", 7, 7, 0},	/* slot 100, index 10 */
		{ADD, 1300, "smtp", "a.example", 1, 0, 0},	/* slot 130, index 10 again */
		{CHECK, 1300, "smtp", "a.example", 1, 0, 0},
		{END}}},
	{"destinations and transports are counted apart", {
		{ADD, 50, "smtp", "a.example", 1, 0, 0},
		{ADD, 50, "relay", "a.example", 0, 1, 0},
		{ADD, 50, "smtp", "b.example", 4, 0, 0},
		{CHECK, 60, "smtp", "a.example", 1, 0, 0},
		{CHECK, 60, "relay", "a.example", 0, 1, 0},
		{CHECK, 60, "smtp", "b.example", 4, 0, 0},
		{CHECK, 60, "smtp", "c.example", 0, 0, 0},
		{END}}},
	{"expiry forgets only destinations with nothing left", {
		{ADD, 1000, "smtp", "old.example", 1, 0, 0},
		{ADD, 1200, "smtp", "new.example", 1, 0, 0},
		{EXPIRE, 1250, NULL, NULL, 0, 0, 2},
		{EXPIRE, 1300, NULL, NULL, 0, 0, 1},
		{CHECK, 1300, "smtp", "new.example", 1, 0, 0},
		{EXPIRE, 1500, NULL, NULL, 0, 0, 0},
		{ADD, 1500, "smtp", "old.example", 0, 1, 0},
		{CHECK, 1500, "smtp", "old.example", 0, 1, 0},
		{END}}},
	{"names with odd bytes and spaces stay apart", {
		{ADD, 0, "smtp", "a b", 1, 0, 0},
		{ADD, 0, "smtp", "a", 0, 1, 0},
		{ADD, 0, "smtp", "\"\\\x01\xff", 2, 0, 0},
		{CHECK, 0, "smtp", "a b", 1, 0, 0},
		{CHECK, 0, "smtp", "a", 0, 1, 0},
		{CHECK, 0, "smtp", "\"\\\x01\xff", 2, 0, 0},
		{END}}},
};

struct walk_sum {
	long n, ok, fail;
};

static void walk_fn(void *ctx, const char *transport, const char *name, long ok, long fail)
{
	struct walk_sum *w = ctx;

	assert_non_null(transport);
	assert_non_null(name);
	w->n++;
	w->ok += ok;
	w->fail += fail;
}

static void test_scripts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		struct qmgr_stats *s = qmgr_stats_create();

		for (const struct step *st = scripts[i].steps; st->op != END; st++) {
			long ok, fail;

			switch (st->op) {
			case ADD:
				qmgr_stats_add(s, st->transport, st->name, st->ok, st->fail, st->t);
				break;
			case CHECK:
				qmgr_stats_get(s, st->transport, st->name, st->t, &ok, &fail);
				if (ok != st->ok || fail != st->fail)
					fail_msg("%s: %s %s at %g: got %ld/%ld, want %ld/%ld",
						 scripts[i].what, st->transport, st->name, st->t,
						 ok, fail, st->ok, st->fail);
				break;
			case EXPIRE:
				qmgr_stats_expire(s, st->t);
				if (qmgr_stats_count(s) != st->remembered)
					fail_msg("%s: expire at %g: %ld remembered, want %ld",
						 scripts[i].what, st->t, qmgr_stats_count(s),
						 st->remembered);
				break;
			case END:
				break;
			}
		}
		qmgr_stats_free(&s);
		assert_null(s);
	}
}

/* The walk sees every destination once, with the counts get() gives. */
static void test_walk(void **state)
{
	struct qmgr_stats *s = qmgr_stats_create();
	struct walk_sum w = {0};

	(void)state;
	qmgr_stats_add(s, "smtp", "a", 3, 1, 100);
	qmgr_stats_add(s, "smtp", "b", 2, 0, 110);
	qmgr_stats_add(s, "local", "b", 0, 5, 120);
	qmgr_stats_walk(s, 130, walk_fn, &w);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.ok, 5);
	assert_int_equal(w.fail, 6);
	qmgr_stats_free(&s);
	qmgr_stats_free(&s);	/* NULL is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
