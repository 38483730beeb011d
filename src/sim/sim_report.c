/*
 * sim_report - per-destination statistics and the report.
 *
 * Contract.  The counters are updated by the queue manager and agent
 * halves at the moments named in sim.h; the report prints them in a fixed,
 * deterministic layout (times with three decimals, means with two, rates
 * with one), one block per destination in declaration order, one line per
 * transport, then the summary.  Nothing here reads a clock: two runs of a
 * scenario print the same bytes.
 *
 * Diagnostics: none.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util/log.h"
#include "util/mem.h"

#define DEAD_SHOWN	6	/* dead periods listed one by one */

/* sim_stats_init - empty counters */
void sim_stats_init(struct sim_dest_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->first_done = st->last_done = -1;
	st->last_start = -1;
	st->gap_min = INFINITY;
}

/* win_grow - room in ramp[] and win_hist[] for window values up to v */
static void win_grow(struct sim_dest_stats *st, long v)
{
	int n = st->nwin;

	if (v < n || v >= SIM_RAMP_MAX)
		return;
	st->nwin = (int)(v + 1 > 2 * n ? v + 1 : 2 * n);
	if (st->nwin > SIM_RAMP_MAX)
		st->nwin = SIM_RAMP_MAX;
	st->ramp = xreallocarray(st->ramp, (size_t)st->nwin, sizeof(*st->ramp));
	st->win_hist = xreallocarray(st->win_hist, (size_t)st->nwin, sizeof(*st->win_hist));
	for (int i = n; i < st->nwin; i++) {
		st->ramp[i] = -1;
		st->win_hist[i] = 0;
	}
}

/* sim_stats_free - release what the counters hold */
void sim_stats_free(struct sim_dest_stats *st)
{
	free(st->ramp);
	free(st->win_hist);
	free(st->dead);
}

/* sim_stats_window - the window of d's queue is window now */
void sim_stats_window(struct sim *sim, struct sim_dest *d, long window)
{
	struct sim_dest_stats *st = &d->st;

	if (window <= st->peak_window)
		return;
	win_grow(st, window);
	for (long v = st->peak_window ? st->peak_window + 1 : window; v <= window; v++)
		if (v < st->nwin && st->ramp[v] < 0)
			st->ramp[v] = sim->now;
	st->peak_window = window;
}

/* sim_stats_dead - d's queue died (dead) or came back */
void sim_stats_dead(struct sim *sim, struct sim_dest *d, bool dead)
{
	struct sim_dest_stats *st = &d->st;

	if (dead) {
		if (st->ndead == st->dead_cap) {
			st->dead_cap = st->dead_cap ? st->dead_cap * 2 : 8;
			st->dead = xreallocarray(st->dead, st->dead_cap, sizeof(*st->dead));
		}
		st->dead[st->ndead].from = sim->now;
		st->dead[st->ndead].until = -1;
		st->ndead++;
	} else if (st->ndead > 0) {
		st->dead[st->ndead - 1].until = sim->now;
	}
	st->is_dead = dead;
}

/* sim_stats_start - a delivery to d starts with this window and busy count */
void sim_stats_start(struct sim *sim, struct sim_dest *d, long window, long busy)
{
	struct sim_dest_stats *st = &d->st;

	st->attempts++;
	if (st->is_dead)
		st->attempts_while_dead++;
	for (size_t i = 0; i < d->noutages; i++)
		if (d->outages[i].from <= sim->now && sim->now < d->outages[i].until)
			d->outages[i].attempts++;
	st->busy_sum += (double)busy;
	st->busy_sum2 += (double)busy * (double)busy;
	st->win_sum += (double)window;
	st->win_sum2 += (double)window * (double)window;
	if (busy > st->peak_busy)
		st->peak_busy = busy;
	sim_stats_window(sim, d, window);
	win_grow(st, window);
	if (window > 0 && window < st->nwin)
		st->win_hist[window]++;
	if (st->last_start >= 0) {
		double gap = sim->now - st->last_start;

		if (gap < st->gap_min)
			st->gap_min = gap;
		st->gap_sum += gap;
		st->gaps++;
	}
	st->last_start = sim->now;
}

/* sim_stats_delivered - n recipients of msg delivered at d now */
void sim_stats_delivered(struct sim *sim, struct sim_dest *d, struct sim_msg *msg, long n)
{
	struct sim_dest_stats *st = &d->st;
	double delay = sim->now - msg->injected;

	if (n <= 0)
		return;
	st->delivered += n;
	sim->rcpt_delivered += n;
	st->delay_sum += delay * (double)n;
	if (delay > st->delay_max)
		st->delay_max = delay;
	if (st->first_done < 0)
		st->first_done = sim->now;
	st->last_done = sim->now;
}

/* pct - part of whole in percent (0 for an empty whole) */
static double pct(long part, long whole)
{
	return whole > 0 ? 100.0 * (double)part / (double)whole : 0;
}

/* sd - standard deviation from a count, sum and sum of squares */
static double sd(long n, double sum, double sum2)
{
	double mean, var;

	if (n <= 0)
		return 0;
	mean = sum / (double)n;
	var = sum2 / (double)n - mean * mean;
	return var > 0 ? sqrt(var) : 0;
}

/* fmt_time - a time value, "never"-proof */
static const char *fmt_time(char *buf, size_t len, double t)
{
	if (isinf(t))
		snprintf(buf, len, "forever");
	else
		snprintf(buf, len, "%.3f", t);
	return buf;
}

/* report_dest - one destination's block */
static void report_dest(struct sim *sim, struct sim_dest *d)
{
	struct sim_dest_stats *st = &d->st;
	long pending = st->injected - st->delivered - st->expired;
	long win_limit = 0;
	char a[32], b[32];
	int shown;
	double dead_time = 0;

	if (d->xport->t)
		win_limit = d->xport->t->conf.dest_concurrency_limit;
	printf("destination %s (transport %s)\n", d->name, d->xport->name);
	printf("  recipients: injected %ld, delivered %ld, expired %ld, pending %ld\n",
	       st->injected, st->delivered, st->expired, pending);
	printf("  deferred: %ld by hop failures, %ld by the site (4xx), %ld without an attempt"
	       " (dead site or transport)\n", st->def_hop, st->def_rcpt, st->def_dead);
	printf("  attempts: %ld, hop failures %ld (%.1f%%), crashes %ld, while dead %ld,"
	       " over a reused session %ld\n", st->attempts, st->hop_fail,
	       pct(st->hop_fail, st->attempts), st->crashes, st->attempts_while_dead, st->reused);
	printf("  first attempts: %ld recipients, %ld deferred (%.1f%%)\n", st->first_rcpt,
	       st->first_fail, pct(st->first_fail, st->first_rcpt));
	if (st->attempts > 0) {
		printf("  window: limit %ld, peak %ld, at delivery start mean %.2f sd %.2f\n",
		       win_limit, st->peak_window, st->win_sum / (double)st->attempts,
		       sd(st->attempts, st->win_sum, st->win_sum2));
		shown = 0;
		printf("  deliveries by window:");
		for (int v = 1; v < st->nwin; v++) {
			if (st->win_hist[v] == 0)
				continue;
			if (shown > 0 && shown % 8 == 0)
				printf("\n                      ");
			printf(" %d:%ld", v, st->win_hist[v]);
			shown++;
		}
		printf("\n");
		printf("  concurrency: peak %ld, at delivery start mean %.2f sd %.2f;"
		       " sessions open at the site: peak %ld\n",
		       st->peak_busy, st->busy_sum / (double)st->attempts,
		       sd(st->attempts, st->busy_sum, st->busy_sum2), st->peak_sessions);
	}
	if (st->peak_window > 0) {
		shown = 0;
		printf("  ramp:");
		for (int v = 1; v < st->nwin; v++) {
			if (st->ramp[v] < 0)
				continue;
			if (shown > 0 && shown % 8 == 0)
				printf("\n       ");
			printf(" %d@%.3f", v, st->ramp[v]);
			shown++;
		}
		printf("\n");
	}
	if (st->delivered > 0)
		printf("  delivered: first %.3f, last %.3f; delay mean %.3f max %.3f\n",
		       st->first_done, st->last_done, st->delay_sum / (double)st->delivered,
		       st->delay_max);
	if (st->gaps > 0)
		printf("  between delivery starts: min %.3f mean %.3f\n", st->gap_min,
		       st->gap_sum / (double)st->gaps);
	for (size_t i = 0; i < d->noutages; i++)
		printf("  outage %s %s-%s: %ld attempts\n",
		       d->outages[i].kind == SIM_FAULT_REFUSE ? "refuse" : "timeout",
		       fmt_time(a, sizeof(a), d->outages[i].from),
		       fmt_time(b, sizeof(b), d->outages[i].until), d->outages[i].attempts);
	if (st->ndead == 0) {
		printf("  dead: never\n");
		return;
	}
	for (size_t i = 0; i < st->ndead; i++)
		dead_time += (st->dead[i].until < 0 ? sim->now : st->dead[i].until)
		    - st->dead[i].from;
	printf("  dead: %zu time%s, %.3f s in all:", st->ndead, st->ndead == 1 ? "" : "s",
	       dead_time);
	for (size_t i = 0; i < st->ndead && i < DEAD_SHOWN; i++) {
		if (st->dead[i].until < 0)
			printf(" %.3f-(still dead)", st->dead[i].from);
		else
			printf(" %.3f-%.3f", st->dead[i].from, st->dead[i].until);
	}
	if (st->ndead > DEAD_SHOWN)
		printf(" ... (%zu more)", st->ndead - DEAD_SHOWN);
	printf("\n");
}

/*
 * check_books - every injected recipient is delivered, expired or pending
 * in a message that is somewhere; the queue counts agree.  A mismatch is a
 * simulator (or scheduler) bug: panic rather than print a wrong report.
 */
static void check_books(struct sim *sim, long delivered, long expired)
{
	long pending = 0, in_active = 0, in_incoming = 0, in_deferred = 0;

	for (size_t k = 0; k < sim->nactive + sim->due_len; k++) {
		const struct sim_msg *m = k < sim->nactive ? sim->active[k]
			: sim->due[k - sim->nactive].msg;

		for (int i = 0; i < m->ngroups; i++)
			pending += m->groups[i].remaining;
		in_active += m->where == SIM_MSG_ACTIVE;
		in_deferred += m->where == SIM_MSG_DEFERRED;
	}
	for (long k = 0; k < sim->in_count; k++) {
		const struct sim_arrival *a = sim_incoming_at(sim, k);
		const struct sim_injector *inj = sim->injectors[a->inj];

		pending += inj->rcpt * (a->pick >= 0 ? 1 : inj->ndests);
		in_incoming++;
	}
	if (pending != sim->rcpt_injected - delivered - expired)
		msg_panic("sim: %ld recipients pending in messages, %ld by the counters", pending,
			  sim->rcpt_injected - delivered - expired);
	if (in_active != (sim->s ? sim->s->message_count : 0) || in_incoming != sim->in_count
	    || in_deferred != (long)sim->due_len)
		msg_panic("sim: messages active/incoming/deferred %ld/%ld/%ld, counted %ld/%ld/%zu",
			  in_active, in_incoming, in_deferred, sim->s ? sim->s->message_count : 0,
			  sim->in_count, sim->due_len);
	if (sim->msgs_injected != sim->msgs_removed + sim->msgs_expired + in_active + in_incoming
	    + in_deferred)
		msg_panic("sim: %ld messages injected, %ld accounted for", sim->msgs_injected,
			  sim->msgs_removed + sim->msgs_expired + in_active + in_incoming + in_deferred);
}

/* report_summary - transports and totals */
static void report_summary(struct sim *sim)
{
	long delivered = 0, expired = 0;
	long active = sim->s ? sim->s->message_count : 0;

	for (struct sim_xport *x = sim->xports; x; x = x->next) {
		if (x->t == NULL)
			continue;
		printf("transport %s: %ld deliveries, %ld agent connections, peak %ld agent"
		       " processes, declared dead %ld time%s\n", x->name, x->deliveries,
		       x->connections, x->peak_procs, x->throttles, x->throttles == 1 ? "" : "s");
		if (x->gaps > 0)
			printf("  between delivery starts: min %.3f mean %.3f\n", x->gap_min,
			       x->gap_sum / (double)x->gaps);
		if (x->last_replies || x->idle_hangups)
			printf("  agents: %ld connections ended by \"last\" (max_use), %ld processes"
			       " exited unused (max_idle), %ld hung up idle (max_idle)\n",
			       x->last_replies, x->proc_exits, x->idle_hangups);
		if (x->listen_full || x->greeting_waits || x->write_fails)
			printf("  waits: %ld connects refused by a full listen queue, %ld greeting"
			       " time-outs waited on, %ld requests put back (agent gone)\n",
			       x->listen_full, x->greeting_waits, x->write_fails);
	}
	for (size_t i = 0; i < sim->ndests; i++) {
		delivered += sim->dests[i]->st.delivered;
		expired += sim->dests[i]->st.expired;
	}
	check_books(sim, delivered, expired);
	printf("summary at %.3f\n", sim->now);
	printf("  messages: injected %ld, delivered %ld, expired %ld;"
	       " now incoming %ld, active %ld, deferred %zu\n", sim->msgs_injected,
	       sim->msgs_removed, sim->msgs_expired, sim->in_count, active, sim->due_len);
	printf("  recipients: injected %ld, delivered %ld, expired %ld, pending %ld\n",
	       sim->rcpt_injected, delivered, expired, sim->rcpt_injected - delivered - expired);
	printf("  deliveries: %ld at sites, %ld by the retry agent; %ld trips to the deferred"
	       " queue\n", sim->site_deliveries, sim->retry_deliveries, sim->msgs_deferred);
	printf("  active queue: peak %ld messages, %ld recipients; imports %ld from incoming,"
	       " %ld from deferred\n", sim->peak_active, sim->peak_recipients,
	       sim->imports_incoming, sim->imports_deferred);
	printf("  queue manager: %ld loop turns, %ld events, %ld deferred runs,"
	       " %ld clog warnings\n", sim->loop_turns, sim->events, sim->deferred_runs,
	       sim->clog_warnings);
}

/*
 * sim_report - print the report: destinations (all, or those named in
 * only[]), unless summary_only; then transports and totals.
 */
void sim_report(struct sim *sim, const char *const *only, int nonly, bool summary_only)
{
	printf("=== report at %.3f (%s) ===\n", sim->now, sim->scenario);
	if (summary_only) {
		/* nothing per destination */
	} else if (nonly == 0) {
		for (size_t i = 0; i < sim->ndests; i++)
			report_dest(sim, sim->dests[i]);
	} else {
		for (int k = 0; k < nonly; k++)
			for (size_t i = 0; i < sim->ndests; i++)
				if (strcmp(only[k], sim->dests[i]->name) == 0)
					report_dest(sim, sim->dests[i]);
	}
	report_summary(sim);
	fflush(stdout);
}
