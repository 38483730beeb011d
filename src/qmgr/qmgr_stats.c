/*
 * qmgr_stats - five-minute delivery counters per destination (see
 * qmgr_stats.h).  A ring of time slots per destination; a slot is reused
 * when its epoch (slot number since 1970) is stale.
 */
#include <stdlib.h>
#include <string.h>

#include "qmgr_stats.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"

struct dest_stats {
	char *transport;
	char *name;
	long epoch[QMGR_STATS_SLOTS];	/* slot number the counts belong to */
	long ok[QMGR_STATS_SLOTS];
	long fail[QMGR_STATS_SLOTS];
};

struct qmgr_stats {
	struct htable *byname;		/* "transport name" -> struct dest_stats */
};

/* slot_of - slot number of a time (clock times are never negative) */
static long slot_of(double now)
{
	return now > 0 ? (long)(now / QMGR_STATS_SLOT) : 0;
}

/* key - "transport name" (transport names have no space); caller frees */
static char *key(const char *transport, const char *name)
{
	return xasprintf("%s %s", transport, name);
}

/* sum - counts still in the window at slot cur */
static void sum(const struct dest_stats *d, long cur, long *ok_r, long *fail_r)
{
	long ok = 0, fail = 0;

	for (int i = 0; i < QMGR_STATS_SLOTS; i++) {
		if (d->epoch[i] > cur - QMGR_STATS_SLOTS && d->epoch[i] <= cur) {
			ok += d->ok[i];
			fail += d->fail[i];
		}
	}
	*ok_r = ok;
	*fail_r = fail;
}

static void dest_free(void *p)
{
	struct dest_stats *d = p;

	free(d->transport);
	free(d->name);
	free(d);
}

struct qmgr_stats *qmgr_stats_create(void)
{
	struct qmgr_stats *s = xcalloc(1, sizeof(*s));

	s->byname = htable_create(64);
	return s;
}

void qmgr_stats_free(struct qmgr_stats **sp)
{
	if (*sp == NULL)
		return;
	htable_free(&(*sp)->byname, dest_free);
	free(*sp);
	*sp = NULL;
}

void qmgr_stats_add(struct qmgr_stats *s, const char *transport, const char *name,
		    long delivered, long failed, double now)
{
	char *k = key(transport, name);
	struct dest_stats *d = htable_find(s->byname, k);
	long cur = slot_of(now);
	int i;

	if (delivered < 0 || failed < 0)
		msg_panic("qmgr_stats_add: %s %s: negative count", transport, name);
	if (d == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->transport = xstrdup(transport);
		d->name = xstrdup(name);
		for (i = 0; i < QMGR_STATS_SLOTS; i++)
			d->epoch[i] = -1;
		htable_enter(s->byname, k, d);
	}
	free(k);
	i = (int)(((cur % QMGR_STATS_SLOTS) + QMGR_STATS_SLOTS) % QMGR_STATS_SLOTS);
	if (d->epoch[i] != cur) {
		d->epoch[i] = cur;
		d->ok[i] = d->fail[i] = 0;
	}
	d->ok[i] += delivered;
	d->fail[i] += failed;
}

void qmgr_stats_get(const struct qmgr_stats *s, const char *transport, const char *name,
		    double now, long *delivered_r, long *failed_r)
{
	char *k = key(transport, name);
	const struct dest_stats *d = htable_find(s->byname, k);

	free(k);
	*delivered_r = *failed_r = 0;
	if (d)
		sum(d, slot_of(now), delivered_r, failed_r);
}

void qmgr_stats_expire(struct qmgr_stats *s, double now)
{
	struct htable_info **list;
	size_t n;
	long ok, fail, cur = slot_of(now);

	list = htable_list(s->byname, &n);
	for (size_t i = 0; i < n; i++) {
		sum(list[i]->value, cur, &ok, &fail);
		if (ok == 0 && fail == 0)
			dest_free(htable_delete(s->byname, list[i]->key));
	}
	free(list);
}

long qmgr_stats_count(const struct qmgr_stats *s)
{
	return (long)htable_count(s->byname);
}

void qmgr_stats_walk(const struct qmgr_stats *s, double now, qmgr_stats_walk_fn *fn,
		     void *ctx)
{
	struct htable_info **list;
	size_t n;
	long ok, fail, cur = slot_of(now);

	list = htable_list(s->byname, &n);
	for (size_t i = 0; i < n; i++) {
		const struct dest_stats *d = list[i]->value;

		sum(d, cur, &ok, &fail);
		fn(ctx, d->transport, d->name, ok, fail);
	}
	free(list);
}
