/*
 * qmgr_stats - deliveries and failures per destination over the last five
 * minutes (the "delivered_5m" and "failed_5m" of "sluice status --json").
 *
 * Pure: no I/O and no clock of its own; every call takes `now` (seconds).
 * Counts live in QMGR_STATS_SLOTS slots of QMGR_STATS_SLOT seconds each, so
 * a count leaves the window between QMGR_STATS_WINDOW - QMGR_STATS_SLOT and
 * QMGR_STATS_WINDOW seconds after it was made.  A destination with nothing
 * left in its window is forgotten by qmgr_stats_expire(), so memory follows
 * the destinations that were active in the last five minutes.
 *
 * Destinations are (transport, name) pairs, the scheduler's queues; they are
 * kept here and not in struct sched_queue because the scheduler frees a
 * queue as soon as it empties, while its recent history is still wanted.
 */
#ifndef SLUICE_QMGR_STATS_H
#define SLUICE_QMGR_STATS_H

#define QMGR_STATS_WINDOW	300	/* seconds counted */
#define QMGR_STATS_SLOT		10	/* seconds per slot */
#define QMGR_STATS_SLOTS	(QMGR_STATS_WINDOW / QMGR_STATS_SLOT)

struct qmgr_stats;

/* qmgr_stats_create - empty table.  Caller frees with qmgr_stats_free(). */
struct qmgr_stats *qmgr_stats_create(void);

/* qmgr_stats_free - free everything and clear *sp; NULL is fine. */
void qmgr_stats_free(struct qmgr_stats **sp);

/*
 * qmgr_stats_add - count delivered and failed recipients (each >= 0) of
 * one destination at now.  transport must not contain a space.
 */
void qmgr_stats_add(struct qmgr_stats *s, const char *transport, const char *name,
		    long delivered, long failed, double now);

/*
 * qmgr_stats_get - the destination's counts in the window ending at now;
 * both 0 for a destination never seen or forgotten.
 */
void qmgr_stats_get(const struct qmgr_stats *s, const char *transport, const char *name,
		    double now, long *delivered_r, long *failed_r);

/* qmgr_stats_expire - forget destinations with nothing in the window. */
void qmgr_stats_expire(struct qmgr_stats *s, double now);

/* qmgr_stats_count - destinations remembered. */
long qmgr_stats_count(const struct qmgr_stats *s);

/*
 * qmgr_stats_walk - call fn for every remembered destination with its
 * counts at now (names borrowed for the call), in no particular order.
 * fn must not change s.
 */
typedef void qmgr_stats_walk_fn(void *ctx, const char *transport, const char *name,
				long delivered, long failed);
void qmgr_stats_walk(const struct qmgr_stats *s, double now, qmgr_stats_walk_fn *fn,
		     void *ctx);

#endif
