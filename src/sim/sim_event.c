/*
 * sim_event - the simulated clock's machinery: an event heap, a seeded
 * random number generator, trace lines and time values.
 *
 * Contract.  Events are ordered by time, ties by the order in which they
 * were scheduled, so a run is a pure function of the scenario and the seed.
 * An event is cancelled by flagging it (sim_event_cancel clears the
 * owner's pointer); the heap frees it when it comes up.  Random numbers
 * come from one splitmix64 stream seeded by the scenario ("seed N"), never
 * from the system.
 *
 * Diagnostics: none; misuse is a panic.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* before - does a come before b? (keys in the heap: no event is touched) */
static bool before(const struct sim_heap_slot *a, const struct sim_heap_slot *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

/* swap - exchange two heap slots */
static void swap(struct sim *sim, size_t a, size_t b)
{
	struct sim_heap_slot t = sim->heap[a];

	sim->heap[a] = sim->heap[b];
	sim->heap[b] = t;
}

/* sim_event_add - schedule an event; the pointer stays valid until it runs */
struct sim_event *sim_event_add(struct sim *sim, double when, enum sim_event_kind kind,
				void *ptr)
{
	struct sim_event *ev;
	size_t i, parent;

	/* Events come and go by the million: reuse them. */
	if ((ev = sim->ev_free) != NULL) {
		sim->ev_free = ev->ptr;
		memset(ev, 0, sizeof(*ev));
	} else {
		ev = xcalloc(1, sizeof(*ev));
	}
	if (!(when >= sim->now))
		msg_panic("sim_event_add: event %d at %g, now %g", kind, when, sim->now);
	ev->when = when;
	ev->seq = sim->seq++;
	ev->kind = kind;
	ev->ptr = ptr;
	if (sim->heap_len == sim->heap_cap) {
		sim->heap_cap = sim->heap_cap ? sim->heap_cap * 2 : 256;
		sim->heap = xreallocarray(sim->heap, sim->heap_cap, sizeof(*sim->heap));
	}
	i = sim->heap_len++;
	sim->heap[i].when = when;
	sim->heap[i].seq = ev->seq;
	sim->heap[i].ev = ev;
	while (i > 0 && before(&sim->heap[i], &sim->heap[parent = (i - 1) / 2])) {
		swap(sim, i, parent);
		i = parent;
	}
	return ev;
}

/* sim_event_cancel - make a scheduled event inert and clear the owner's pointer */
void sim_event_cancel(struct sim_event **evp)
{
	if (*evp) {
		(*evp)->cancelled = true;
		*evp = NULL;
	}
}

/* sim_event_release - an event that ran (or was dropped) goes back to the pool */
void sim_event_release(struct sim *sim, struct sim_event *ev)
{
	ev->ptr = sim->ev_free;
	sim->ev_free = ev;
}

/* pop - remove the earliest event */
static struct sim_event *pop(struct sim *sim)
{
	struct sim_event *top = sim->heap[0].ev;
	size_t i = 0, l, r, m;

	sim->heap[0] = sim->heap[--sim->heap_len];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < sim->heap_len && before(&sim->heap[l], &sim->heap[m]))
			m = l;
		if (r < sim->heap_len && before(&sim->heap[r], &sim->heap[m]))
			m = r;
		if (m == i)
			break;
		swap(sim, i, m);
		i = m;
	}
	return top;
}

/*
 * sim_event_pop_due - the earliest live event due at or before until, or
 * NULL.  The caller releases it (sim_event_release).  Cancelled events are dropped on the way.
 */
struct sim_event *sim_event_pop_due(struct sim *sim, double until)
{
	struct sim_event *ev;

	while (sim->heap_len > 0 && sim->heap[0].when <= until) {
		ev = pop(sim);
		if (!ev->cancelled)
			return ev;
		sim_event_release(sim, ev);
	}
	return NULL;
}

/*
 * sim_event_next - when the earliest live event is due; INFINITY for none.
 * Cancelled events at the top are dropped: like a disabled timer in the
 * real event loop, they must not wake the queue manager for a turn.
 */
double sim_event_next(struct sim *sim)
{
	while (sim->heap_len > 0 && sim->heap[0].ev->cancelled)
		sim_event_release(sim, pop(sim));
	return sim->heap_len > 0 ? sim->heap[0].when : INFINITY;
}

/* sim_events_free - drop every pending event */
void sim_events_free(struct sim *sim)
{
	struct sim_event *ev;

	for (size_t i = 0; i < sim->heap_len; i++) {
		if (sim->heap[i].ev->kind == SIM_EV_TRIGGER)
			free(sim->heap[i].ev->ptr);
		free(sim->heap[i].ev);
	}
	free(sim->heap);
	sim->heap = NULL;
	while ((ev = sim->ev_free) != NULL) {
		sim->ev_free = ev->ptr;
		free(ev);
	}
	sim->heap_len = sim->heap_cap = 0;
}

/* sim_seed - restart the random stream */
void sim_seed(struct sim *sim, uint64_t seed)
{
	sim->rng = seed;
}

/* sim_random - next number in [0,1) (splitmix64, top 53 bits) */
double sim_random(struct sim *sim)
{
	uint64_t z = (sim->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

/* sim_trace - one decision line, prefixed with the simulated time, when tracing */
void sim_trace(struct sim *sim, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (!sim->trace)
		return;
	buf_init(&b, 128);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	printf("%11.3f %s\n", sim->now, buf_str(&b));
	buf_deinit(&b);
}

/*
 * sim_parse_time - "600", "0.05", "10m", "1.5h", "5d", "1w", or "forever":
 * seconds (INFINITY for forever).  Negative or junk: -1.
 */
int sim_parse_time(const char *text, double *value_r)
{
	static const struct {
		char unit;
		double seconds;
	} units[] = { {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800} };
	char *end;
	double v;

	if (strcmp(text, "forever") == 0) {
		*value_r = INFINITY;
		return 0;
	}
	if (*text == 0 || *text == '-' || *text == '+')
		return -1;
	v = strtod(text, &end);
	if (end == text || !isfinite(v) || v < 0)
		return -1;
	if (*end) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (units[i].unit == *end)
				break;
		if (i == sizeof(units) / sizeof(units[0]) || end[1])
			return -1;
		v *= units[i].seconds;
	}
	*value_r = v;
	return 0;
}
