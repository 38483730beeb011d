/*
 * sim_series - time series of a run (sluice-sim -o DIR) and the gnuplot
 * script that draws them (-g runs it).
 *
 * Contract.  Every sample_interval of simulated time a row goes to
 * DIR/queues.csv (messages in incoming, active and deferred; recipients
 * delivered and delivery attempts per second over the interval) and to
 * DIR/destinations.csv (for each site named by a "watch" line: deliveries
 * in progress, the window, whether its queue is dead, recipients delivered
 * per second).  A row at time T shows the state after every event at or
 * before T.  At the end DIR/dead.csv lists the dead periods of the watched
 * sites and DIR/plot.gp draws DIR/queues.svg and DIR/destinations.svg.
 * Sampling reads the state and changes nothing, so a run prints the same
 * report with or without -o.
 *
 * Diagnostics: a file that cannot be written is fatal (msg_fatal names it);
 * gnuplot that cannot be run or fails is an error returned to main.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim.h"
#include "util/log.h"
#include "util/mem.h"

struct sim_series {
	char *dir;
	FILE *queues, *dests;
	double next;			/* the next sample is due */
	long last_delivered, last_attempts;
	long *last_dest_delivered;	/* per watched site */
	bool started;
};

/* open_in - create DIR/name for writing */
static FILE *open_in(const struct sim_series *ser, const char *name)
{
	char *path = xasprintf("%s/%s", ser->dir, name);
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		msg_fatal("create %s: %s", path, strerror(errno));
	free(path);
	return fp;
}

/* sim_series_open - write time series into dir (which must exist) */
void sim_series_open(struct sim *sim, const char *dir)
{
	struct sim_series *ser = xcalloc(1, sizeof(*ser));

	ser->dir = xstrdup(dir);
	sim->series = ser;
}

/* sim_series_watch - site d gets columns of its own (before the first run) */
int sim_series_watch(struct sim *sim, struct sim_dest *d)
{
	if (sim->series && sim->series->started)
		return -1;
	for (size_t i = 0; i < sim->nwatch; i++)
		if (sim->watch[i] == d)
			return 0;
	sim->watch = xreallocarray(sim->watch, sim->nwatch + 1, sizeof(*sim->watch));
	sim->watch[sim->nwatch++] = d;
	return 0;
}

/* start - the files and their headers */
static void start(struct sim *sim)
{
	struct sim_series *ser = sim->series;

	ser->started = true;
	ser->queues = open_in(ser, "queues.csv");
	fprintf(ser->queues, "time,incoming,active,deferred,delivered_per_s,attempts_per_s\n");
	ser->dests = open_in(ser, "destinations.csv");
	fprintf(ser->dests, "time");
	for (size_t i = 0; i < sim->nwatch; i++)
		fprintf(ser->dests, ",%s busy,%s window,%s dead,%s delivered_per_s",
			sim->watch[i]->name, sim->watch[i]->name, sim->watch[i]->name,
			sim->watch[i]->name);
	fprintf(ser->dests, "\n");
	ser->last_dest_delivered = xcalloc(sim->nwatch + 1, sizeof(long));
	ser->next = sim->now;
}

/* sample - one row of each file, for time t */
static void sample(struct sim *sim, double t)
{
	struct sim_series *ser = sim->series;
	double dt = sim->p.sample_interval;
	long delivered = sim->rcpt_delivered, attempts = sim->site_deliveries;

	fprintf(ser->queues, "%.3f,%ld,%ld,%zu,%.3f,%.3f\n", t, sim->in_count,
		sim->s ? sim->s->message_count : 0, sim->due_len,
		(double)(delivered - ser->last_delivered) / dt,
		(double)(attempts - ser->last_attempts) / dt);
	ser->last_delivered = delivered;
	ser->last_attempts = attempts;
	fprintf(ser->dests, "%.3f", t);
	for (size_t i = 0; i < sim->nwatch; i++) {
		struct sim_dest *d = sim->watch[i];
		const struct sched_queue *q = d->xport->t ? d->q : NULL;

		fprintf(ser->dests, ",%ld,%ld,%d,%.3f", q ? q->busy_count : 0L,
			q && q->window > 0 ? q->window : 0L, d->st.is_dead ? 1 : 0,
			(double)(d->st.delivered - ser->last_dest_delivered[i]) / dt);
		ser->last_dest_delivered[i] = d->st.delivered;
	}
	fprintf(ser->dests, "\n");
}

/*
 * sim_series_until - the clock is about to move past t: rows for every
 * sample time before t (the state is constant until the events at t).
 */
void sim_series_until(struct sim *sim, double t, bool inclusive)
{
	struct sim_series *ser = sim->series;

	if (ser == NULL)
		return;
	if (!ser->started)
		start(sim);
	if (!isfinite(t)) {
		t = sim->now;
		inclusive = true;
	}
	while (ser->next < t || (inclusive && ser->next == t)) {
		sample(sim, ser->next);
		ser->next += sim->p.sample_interval;
	}
}

/* write_plot - the gnuplot script for the two pictures */
static void write_plot(struct sim *sim, FILE *fp)
{
	double end = sim->now, div = end > 3 * 3600 ? 3600 : 60;
	const char *unit = div == 3600 ? "hours" : "minutes";
	size_t n = sim->nwatch;

	fprintf(fp, "# Made by sluice-sim for %s: gnuplot plot.gp\n", sim->scenario);
	fprintf(fp, "set datafile separator \",\"\n");
	fprintf(fp, "set terminal svg size 960,%d dynamic font \"sans,12\" background rgb \"white\"\n",
		560);
	fprintf(fp, "set key outside right top\nset grid\nset xrange [0:%g]\n", end / div);
	fprintf(fp, "set xlabel \"%s\"\n", unit);
	fprintf(fp, "set output \"queues.svg\"\n");
	fprintf(fp, "set multiplot layout 2,1 title \"%s: queues and deliveries\"\n",
		sim->scenario);
	fprintf(fp, "set ylabel \"messages\"\n");
	fprintf(fp, "plot \"queues.csv\" using ($1/%g):2 with lines lw 2 title \"incoming\", \\\n"
		"     \"\" using ($1/%g):3 with lines lw 2 title \"active\", \\\n"
		"     \"\" using ($1/%g):4 with lines lw 2 title \"deferred\"\n", div, div, div);
	fprintf(fp, "set ylabel \"per second\"\n");
	fprintf(fp, "plot \"queues.csv\" using ($1/%g):5 with lines lw 2 title \"recipients delivered\", \\\n"
		"     \"\" using ($1/%g):6 with lines title \"delivery attempts\"\n", div, div);
	fprintf(fp, "unset multiplot\n");
	if (n == 0)
		return;
	fprintf(fp, "set terminal svg size 960,%zu dynamic font \"sans,12\" background rgb \"white\"\n",
		220 * n + 60);
	fprintf(fp, "set output \"destinations.svg\"\n");
	fprintf(fp, "set multiplot layout %zu,1 title \"%s: concurrency per destination"
		" (shaded: its queue is dead)\"\n", n, sim->scenario);
	fprintf(fp, "set ylabel \"deliveries\"\n");
	for (size_t i = 0; i < n; i++) {
		struct sim_dest_stats *st = &sim->watch[i]->st;

		fprintf(fp, "unset object\n");
		for (size_t k = 0; k < st->ndead; k++)
			fprintf(fp, "set object %zu rect from %g, graph 0 to %g, graph 1 behind"
				" fillcolor rgb \"#f4b0b0\" fillstyle solid 0.6 noborder\n", k + 1,
				st->dead[k].from / div,
				(st->dead[k].until < 0 ? end : st->dead[k].until) / div);
		fprintf(fp, "set title \"%s\"\n", sim->watch[i]->name);
		fprintf(fp, "plot \"destinations.csv\" using ($1/%g):%zu with steps lw 2"
			" title \"in progress\", \\\n"
			"     \"\" using ($1/%g):%zu with steps dashtype 2 title \"window\"\n",
			div, 2 + 4 * i, div, 3 + 4 * i);
	}
	fprintf(fp, "unset multiplot\n");
}

/* sim_series_close - dead periods, the plot script; -g: run gnuplot */
int sim_series_close(struct sim *sim, bool render, const char **error_r)
{
	static char errbuf[256];
	struct sim_series *ser = sim->series;
	FILE *fp;
	pid_t pid;
	int status;

	if (ser == NULL)
		return 0;
	sim_series_until(sim, sim->now, true);
	fclose(ser->queues);
	fclose(ser->dests);
	fp = open_in(ser, "dead.csv");
	fprintf(fp, "destination,from,until\n");
	for (size_t i = 0; i < sim->nwatch; i++)
		for (size_t k = 0; k < sim->watch[i]->st.ndead; k++)
			fprintf(fp, "%s,%.3f,%.3f\n", sim->watch[i]->name,
				sim->watch[i]->st.dead[k].from,
				sim->watch[i]->st.dead[k].until < 0 ? sim->now
				: sim->watch[i]->st.dead[k].until);
	fclose(fp);
	fp = open_in(ser, "plot.gp");
	write_plot(sim, fp);
	fclose(fp);
	*error_r = NULL;
	if (render) {
		fflush(stdout);
		if ((pid = fork()) < 0)
			msg_fatal("fork: %s", strerror(errno));
		if (pid == 0) {
			if (chdir(ser->dir) < 0)
				_exit(126);
			execlp("gnuplot", "gnuplot", "plot.gp", (char *)NULL);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			snprintf(errbuf, sizeof(errbuf), WIFEXITED(status) && WEXITSTATUS(status) == 127
				 ? "cannot run gnuplot (install gnuplot-nox)"
				 : "gnuplot %s/plot.gp failed", ser->dir);
			*error_r = errbuf;
		}
	}
	free(ser->last_dest_delivered);
	free(ser->dir);
	free(ser);
	sim->series = NULL;
	return *error_r ? -1 : 0;
}
