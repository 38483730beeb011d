/*
 * sim_scenario - the scenario language of sluice-sim (docs/SIMULATION.md).
 *
 * Contract.  A scenario is read line by line and each line is executed at
 * once, so settings, sites and injections declared before a "run" line take
 * part in that run, and a "report" line prints the state at the time the
 * simulation has reached.  "#" starts a comment; tokens are separated by
 * blanks.  Commands:
 *
 *   seed N
 *   set NAME VALUE                    (main.cf names; see the table below)
 *   transport NAME [KEY VALUE]...     (<transport>_KEY overrides)
 *   destination NAME [transport T] [KEY VALUE]...
 *                    [refuse|timeout [from T] until T]...
 *   inject N to|among NAME[,NAME]... [at T] [spread T] [rcpt K]
 *                                    [deferred [age T]]
 *   trigger BYTES [at T]
 *   trace on|off
 *   watch NAME...                     (columns of their own in the time series)
 *   run until T | run for T
 *   report [summary | NAME...]
 *   echo TEXT
 *
 * A NAME may hold one numeric range, "d{0..49}.test", standing for the 50
 * names d0.test ... d49.test.  Times are seconds with an optional unit
 * (s m h d w) or "forever".  A setting changed after the first "run" line
 * takes effect as after a reload (sched_reconfigure,
 * sched_transport_update_conf).
 *
 * Diagnostics: the first bad line ends the run with "FILE:LINE: what is
 * wrong" (returned through error_r, static text).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/mail_conf.h"
#include "global/params.h"
#include "global/timefmt.h"
#include "qmgr_conf.h"
#include "sim.h"
#include "util/argv.h"
#include "util/htable.h"
#include "util/mem.h"
#include "util/strutil.h"

#define MAX_EXPAND	100000	/* names one range may stand for */

enum vtype { V_LONG, V_TIME, V_POSTIME, V_BOOL, V_FEEDBACK, V_POLICY };

struct setting {
	const char *name;
	enum vtype type;
	size_t offset;
	long min;
};

#define P(field)	offsetof(struct sim_params, field)
#define TC(field)	offsetof(struct sched_transport_conf, field)

/* Global settings: offsets into struct sim_params. */
static const struct setting globals[] = {
	{"qmgr_message_active_limit", V_LONG, P(sc.qmgr_message_active_limit), 1},
	{"qmgr_message_recipient_limit", V_LONG, P(sc.qmgr_message_recipient_limit), 1},
	{"minimal_backoff_time", V_TIME, P(sc.minimal_backoff_time), 0},
	{"transport_retry_time", V_TIME, P(sc.transport_retry_time), 0},
	{"qmgr_clog_warn_time", V_TIME, P(sc.qmgr_clog_warn_time), 0},
	{"helpful_warnings", V_BOOL, P(sc.helpful_warnings), 0},
	{"destination_concurrency_feedback_debug", V_BOOL,
	 P(sc.destination_concurrency_feedback_debug), 0},
	{"keep_failure_history", V_BOOL, P(sc.keep_failure_history), 0},
	{"default_process_limit", V_LONG, P(default_process_limit), 1},
	{"queue_run_delay", V_POSTIME, P(queue_run_delay), 0},
	{"maximal_backoff_time", V_TIME, P(maximal_backoff_time), 0},
	{"backoff_spread_percent", V_LONG, P(backoff_spread_percent), 0},
	{"maximal_queue_lifetime", V_TIME, P(maximal_queue_lifetime), 0},
	{"qmgr_ipc_timeout", V_POSTIME, P(qmgr_ipc_timeout), 0},
	{"smtp_connect_timeout", V_TIME, P(smtp_connect_timeout), 0},
	{"smtp_connection_cache_time_limit", V_TIME, P(smtp_connection_cache_time_limit), 0},
	{"smtp_connection_cache_on_demand", V_BOOL, P(smtp_connection_cache_on_demand), 0},
	{"max_use", V_LONG, P(max_use), 1},
	{"max_idle", V_POSTIME, P(max_idle), 0},
	{"agent_listen_queue", V_LONG, P(agent_listen_queue), 0},
	{"agent_connect_time", V_TIME, P(agent_connect_time), 0},
	{"agent_idle_time", V_TIME, P(agent_idle_time), 0},
	{"retry_service_time", V_TIME, P(retry_service_time), 0},
	{"loop_cost", V_TIME, P(loop_cost), 0},
	{"loop_max_wait", V_POSTIME, P(loop_max_wait), 0},
	{"feed_policy", V_POLICY, P(feed_policy), 0},
	{"sample_interval", V_POSTIME, P(sample_interval), 0},
};

/* Per-transport settings: main.cf suffixes, offsets into sched_transport_conf. */
static const struct setting xport_settings[] = {
	{"destination_concurrency_limit", V_LONG, TC(dest_concurrency_limit), 0},
	{"initial_destination_concurrency", V_LONG, TC(init_dest_concurrency), 1},
	{"destination_recipient_limit", V_LONG, TC(recipient_limit), 0},
	{"destination_concurrency_failed_cohort_limit", V_LONG, TC(fail_cohort_limit), 0},
	{"destination_concurrency_positive_feedback", V_FEEDBACK, TC(pos), 0},
	{"destination_concurrency_negative_feedback", V_FEEDBACK, TC(neg), 0},
	{"destination_rate_delay", V_TIME, TC(dest_rate_delay), 0},
	{"transport_rate_delay", V_TIME, TC(xport_rate_delay), 0},
};

static char errbuf[512];

/* fail - format the diagnostic for error_r; returns -1 */
static int fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(const char *file, int line, const char *fmt, ...)
{
	char text[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(errbuf, sizeof(errbuf), "%s:%d: %s", file, line, text);
	return -1;
}

/* find_setting - a table row by name, or NULL */
static const struct setting *find_setting(const struct setting *tab, size_t n,
					  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

/* apply - store value into base + row->offset; -1 with *why_r on a bad value */
static int apply(const struct setting *row, void *base, const char *value, const char **why_r)
{
	char *field = (char *)base + row->offset;
	long l;
	double d;
	bool b;

	switch (row->type) {
	case V_LONG:
		if (str_to_long(value, row->min, LONG_MAX, &l) < 0) {
			*why_r = row->min > 0 ? "want a whole number >= 1" : "want a whole number >= 0";
			return -1;
		}
		*(long *)field = l;
		return 0;
	case V_TIME:
	case V_POSTIME:
		if (sim_parse_time(value, &d) < 0 || (row->type == V_POSTIME && !(d > 0))) {
			*why_r = row->type == V_POSTIME ? "want a time > 0 (600, 0.5, 10m, 5d)"
			    : "want a time (600, 0.5, 10m, 5d, forever)";
			return -1;
		}
		*(double *)field = d;
		return 0;
	case V_BOOL:
		if (timefmt_parse_bool(value, &b) < 0) {
			*why_r = "want yes or no";
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case V_FEEDBACK:
		return sched_feedback_parse(value, (struct sched_feedback *)field, why_r);
	case V_POLICY:
		if (strcmp(value, "fair") == 0)
			*(enum sim_feed_policy *)field = SIM_FEED_FAIR;
		else if (strcmp(value, "deferred_first") == 0)
			*(enum sim_feed_policy *)field = SIM_FEED_DEFERRED_FIRST;
		else {
			*why_r = "want fair or deferred_first";
			return -1;
		}
		return 0;
	}
	*why_r = "bad setting type";
	return -1;
}

/* sim_params_defaults - Postfix's (and sluice's) defaults, plus the simulator's */
void sim_params_defaults(struct sim_params *p)
{
	*p = (struct sim_params){
		.default_process_limit = 100,
		.agent_connect_time = 0.001,
		.agent_idle_time = 10,
		.queue_run_delay = 300,
		.maximal_backoff_time = 4000,
		.backoff_spread_percent = 5,
		.maximal_queue_lifetime = 5 * 86400,
		.qmgr_ipc_timeout = 60,
		.smtp_connect_timeout = 30,
		.smtp_connection_cache_time_limit = 2,
		.smtp_connection_cache_on_demand = true,
		.max_use = 100,
		.max_idle = 100,
		.agent_listen_queue = 4096,
		.retry_service_time = 0.001,
		.loop_cost = 0,
		.loop_max_wait = 5,
		.feed_policy = SIM_FEED_FAIR,
		.sample_interval = 60,
	};
	sched_conf_defaults(&p->sc);
	sched_transport_conf_defaults(&p->deflt);
}

/*
 * sim_params_from_conf - the settings of the configuration in use (read
 * with mail_conf_read() already): the scheduler's (qmgr_conf.c, as qmgr
 * derives them), the queue manager's and the agents'.  The simulator's own
 * settings and keep_failure_history stay as they are.
 */
int sim_params_from_conf(struct sim *sim, const char **error_r)
{
	struct sim_params *p = &sim->p;
	bool keep = p->sc.keep_failure_history;

	qmgr_conf_sched(&p->sc);
	p->sc.keep_failure_history = keep;
	p->default_process_limit = var_default_process_limit;
	p->queue_run_delay = (double)var_queue_run_delay;
	p->maximal_backoff_time = (double)var_maximal_backoff_time;
	p->backoff_spread_percent = var_backoff_spread_percent;
	p->maximal_queue_lifetime = (double)var_maximal_queue_lifetime;
	p->qmgr_ipc_timeout = (double)var_qmgr_ipc_timeout;
	p->smtp_connect_timeout = (double)var_smtp_connect_timeout;
	p->smtp_connection_cache_time_limit = (double)var_smtp_connection_cache_time_limit;
	p->smtp_connection_cache_on_demand = var_smtp_connection_cache_on_demand;
	p->max_use = var_max_use;
	p->max_idle = (double)var_max_idle;
	sim->conf_mode = true;
	return 0;
}

/* sim_process_limit - agent processes of transport x */
long sim_process_limit(const struct sim *sim, const struct sim_xport *x)
{
	long limit;

	if (x->process_limit > 0)
		return x->process_limit;
	if (sim->conf_mode && (limit = qmgr_conf_process_limit(x->name)) >= 0)
		return limit > 0 ? limit : LONG_MAX;	/* 0: no limit */
	return sim->p.default_process_limit;
}

/* sim_xport_get - the transport of that name, declared now if new */
struct sim_xport *sim_xport_get(struct sim *sim, const char *name)
{
	struct sim_xport *x, **xp;

	for (xp = &sim->xports; (x = *xp) != NULL; xp = &x->next)
		if (strcmp(x->name, name) == 0)
			return x;
	x = xcalloc(1, sizeof(*x));
	x->name = xstrdup(name);
	TAILQ_INIT(&x->idle);
	x->process_limit = -1;
	x->connect_time = -1;
	x->max_use = -1;
	x->max_idle = -1;
	x->listen_queue = -1;
	*xp = x;
	return x;
}

/* sim_transport_conf - the settings a transport gets: defaults, then its overrides */
void sim_transport_conf(struct sim *sim, struct sim_xport *x, struct sched_transport_conf *tc)
{
	const char *why;

	if (sim->conf_mode)
		qmgr_conf_transport(x->name, tc);	/* as qmgr has it */
	else
		*tc = sim->p.deflt;
	for (size_t i = 0; i + 1 < x->noverrides; i += 2) {
		const struct setting *row = find_setting(xport_settings,
			sizeof(xport_settings) / sizeof(xport_settings[0]), x->overrides[i]);

		/* Checked when the line was read. */
		(void)apply(row, tc, x->overrides[i + 1], &why);
	}
}

/* expand - the names a token stands for ("d{0..9}.test": ten) */
static struct argv *expand(const char *token, const char **why_r)
{
	struct argv *names = argv_create();
	const char *open = strchr(token, '{'), *dots, *close;
	char *end;
	long lo, hi;

	if (open == NULL) {
		argv_add(names, token, (char *)NULL);
		return names;
	}
	dots = strstr(open, "..");
	close = dots ? strchr(dots, '}') : NULL;
	if (close == NULL || strchr(close + 1, '{')) {
		*why_r = "bad name range (want one {FIRST..LAST})";
		argv_free(&names);
		return NULL;
	}
	errno = 0;
	lo = strtol(open + 1, &end, 10);
	if (end != dots || open[1] == '-' || open[1] == '+' || errno)
		lo = -1;
	hi = strtol(dots + 2, &end, 10);
	if (end != close || dots[2] == '-' || dots[2] == '+' || errno)
		hi = -1;
	if (lo < 0 || hi < lo || hi - lo >= MAX_EXPAND) {
		*why_r = "bad name range (want {FIRST..LAST}, 0 <= FIRST <= LAST)";
		argv_free(&names);
		return NULL;
	}
	for (long i = lo; i <= hi; i++) {
		char *name = xasprintf("%.*s%ld%s", (int)(open - token), token, i, close + 1);

		argv_add(names, name, (char *)NULL);
		free(name);
	}
	return names;
}

/* dest_get - the destination of that name; created with defaults when create */
static struct sim_dest *dest_get(struct sim *sim, const char *name, bool create)
{
	struct sim_dest *d = htable_find(sim->dest_byname, name);

	if (d || !create)
		return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	d->xport = sim_xport_get(sim, "smtp");
	d->service = 1;
	d->reject_time = 0.05;
	sim_stats_init(&d->st);
	htable_enter(sim->dest_byname, name, d);
	if (sim->ndests == sim->dests_cap) {
		sim->dests_cap = sim->dests_cap ? sim->dests_cap * 2 : 16;
		sim->dests = xreallocarray(sim->dests, sim->dests_cap, sizeof(*sim->dests));
	}
	sim->dests[sim->ndests++] = d;
	return d;
}

/* time_arg - a time value, or -1 with the diagnostic */
static int time_arg(const char *file, int line, const char *what, const char *value,
		    double *t_r)
{
	if (value == NULL)
		return fail(file, line, "%s: missing value", what);
	if (sim_parse_time(value, t_r) < 0)
		return fail(file, line, "%s: bad time \"%s\"", what, value);
	return 0;
}

/* fraction_arg - a number in [0,1] */
static int fraction_arg(const char *file, int line, const char *what, const char *value,
			double *v_r)
{
	char *end;
	double v;

	if (value == NULL)
		return fail(file, line, "%s: missing value", what);
	v = strtod(value, &end);
	if (end == value || *end || !(v >= 0 && v <= 1))
		return fail(file, line, "%s: want a number from 0 to 1, not \"%s\"", what, value);
	*v_r = v;
	return 0;
}

/* cmd_set - set NAME VALUE */
static int cmd_set(struct sim *sim, const char *file, int line, char **av, size_t ac)
{
	const struct setting *row;
	const char *why, *suffix;

	if (ac != 3)
		return fail(file, line, "usage: set NAME VALUE");
	if (sim->conf_mode && mail_conf_default(av[1]) != NULL) {
		/* As a main.cf line would have it, over the configuration. */
		if (mail_conf_override(av[1], av[2], &why) < 0
		    || sim_params_from_conf(sim, &why) < 0)
			return fail(file, line, "%s", why);
		sim_reconfigure(sim);
		return 0;
	}
	if ((row = find_setting(globals, sizeof(globals) / sizeof(globals[0]), av[1])) != NULL) {
		if (apply(row, &sim->p, av[2], &why) < 0)
			return fail(file, line, "%s: %s: \"%s\"", av[1], why, av[2]);
	} else {
		suffix = strncmp(av[1], "default_", 8) == 0 ? av[1] + 8 : av[1];
		row = find_setting(xport_settings, sizeof(xport_settings) / sizeof(xport_settings[0]),
				   suffix);
		if (row == NULL || (suffix == av[1] && strcmp(suffix, "initial_destination_concurrency")))
			return fail(file, line, "unknown setting \"%s\"", av[1]);
		if (apply(row, &sim->p.deflt, av[2], &why) < 0)
			return fail(file, line, "%s: %s: \"%s\"", av[1], why, av[2]);
	}
	sim_reconfigure(sim);
	return 0;
}

/* cmd_transport - transport NAME [KEY VALUE]... */
static int cmd_transport(struct sim *sim, const char *file, int line, char **av, size_t ac)
{
	struct sched_transport_conf scratch;
	struct sim_xport *x;
	const struct setting *row;
	const char *why;
	double t;
	long l;

	if (ac < 2 || ac % 2 != 0)
		return fail(file, line, "usage: transport NAME [KEY VALUE]...");
	x = sim_xport_get(sim, av[1]);
	for (size_t i = 2; i < ac; i += 2) {
		if (strcmp(av[i], "process_limit") == 0) {
			if (str_to_long(av[i + 1], 1, LONG_MAX, &l) < 0)
				return fail(file, line, "process_limit: want a whole number >= 1");
			x->process_limit = l;
			continue;
		}
		if (strcmp(av[i], "connect_time") == 0) {
			if (time_arg(file, line, av[i], av[i + 1], &t) < 0)
				return -1;
			x->connect_time = t;
			continue;
		}
		if (strcmp(av[i], "max_use") == 0) {
			if (str_to_long(av[i + 1], 1, LONG_MAX, &l) < 0)
				return fail(file, line, "max_use: want a whole number >= 1");
			x->max_use = l;
			continue;
		}
		if (strcmp(av[i], "max_idle") == 0) {
			if (time_arg(file, line, av[i], av[i + 1], &t) < 0)
				return -1;
			if (!(t > 0))
				return fail(file, line, "max_idle: want a time > 0");
			x->max_idle = t;
			continue;
		}
		if (strcmp(av[i], "listen_queue") == 0) {
			if (str_to_long(av[i + 1], 0, LONG_MAX, &l) < 0)
				return fail(file, line, "listen_queue: want a whole number >= 0");
			x->listen_queue = l;
			continue;
		}
		row = find_setting(xport_settings, sizeof(xport_settings) / sizeof(xport_settings[0]),
				   av[i]);
		if (row == NULL)
			return fail(file, line, "unknown transport setting \"%s\"", av[i]);
		scratch = sim->p.deflt;
		if (apply(row, &scratch, av[i + 1], &why) < 0)
			return fail(file, line, "%s: %s: \"%s\"", av[i], why, av[i + 1]);
		x->overrides = xreallocarray(x->overrides, x->noverrides + 2, sizeof(char *));
		x->overrides[x->noverrides++] = xstrdup(av[i]);
		x->overrides[x->noverrides++] = xstrdup(av[i + 1]);
	}
	sim_reconfigure(sim);
	return 0;
}

/* dest_option - one option of a destination line; returns tokens used or -1 */
static int dest_option(struct sim *sim, struct sim_dest *d, const char *file, int line,
		       char **av, size_t ac, size_t i)
{
	struct sim_outage o = {0};
	struct sim_xport *x;
	size_t used;
	long l;

	if (strcmp(av[i], "refuse") == 0 || strcmp(av[i], "timeout") == 0) {
		o.kind = av[i][0] == 'r' ? SIM_FAULT_REFUSE : SIM_FAULT_TIMEOUT;
		o.from = sim->now;
		used = 1;
		if (i + 1 < ac && strcmp(av[i + 1], "from") == 0) {
			if (time_arg(file, line, "from", i + 2 < ac ? av[i + 2] : NULL, &o.from) < 0)
				return -1;
			used += 2;
		}
		if (i + used >= ac || strcmp(av[i + used], "until") != 0)
			return fail(file, line, "%s: want [from T] until T", av[i]);
		if (time_arg(file, line, "until", i + used + 1 < ac ? av[i + used + 1] : NULL,
			     &o.until) < 0)
			return -1;
		if (!(o.until > o.from))
			return fail(file, line, "%s: until must come after from", av[i]);
		d->outages = xreallocarray(d->outages, d->noutages + 1, sizeof(*d->outages));
		d->outages[d->noutages++] = o;
		return (int)used + 2;
	}
	if (i + 1 >= ac)
		return fail(file, line, "%s: missing value", av[i]);
	if (strcmp(av[i], "transport") == 0) {
		x = sim_xport_get(sim, av[i + 1]);
		if (x != d->xport && d->st.injected > 0)
			return fail(file, line, "%s: has mail already; cannot change its transport",
				    d->name);
		d->xport = x;
	} else if (strcmp(av[i], "concurrency_cap") == 0) {
		if (str_to_long(av[i + 1], 0, LONG_MAX, &l) < 0)
			return fail(file, line, "concurrency_cap: want a whole number >= 0");
		d->cap = l;
	} else if (strcmp(av[i], "service") == 0) {
		if (time_arg(file, line, av[i], av[i + 1], &d->service) < 0)
			return -1;
	} else if (strcmp(av[i], "per_rcpt") == 0) {
		if (time_arg(file, line, av[i], av[i + 1], &d->per_rcpt) < 0)
			return -1;
	} else if (strcmp(av[i], "setup") == 0) {
		if (time_arg(file, line, av[i], av[i + 1], &d->setup) < 0)
			return -1;
	} else if (strcmp(av[i], "release_time") == 0) {
		if (time_arg(file, line, av[i], av[i + 1], &d->release_time) < 0)
			return -1;
	} else if (strcmp(av[i], "reject_time") == 0) {
		if (time_arg(file, line, av[i], av[i + 1], &d->reject_time) < 0)
			return -1;
	} else if (strcmp(av[i], "jitter") == 0) {
		if (fraction_arg(file, line, av[i], av[i + 1], &d->jitter) < 0)
			return -1;
	} else if (strcmp(av[i], "defer_rate") == 0) {
		if (fraction_arg(file, line, av[i], av[i + 1], &d->defer_rate) < 0)
			return -1;
	} else if (strcmp(av[i], "crash_rate") == 0) {
		if (fraction_arg(file, line, av[i], av[i + 1], &d->crash_rate) < 0)
			return -1;
	} else {
		return fail(file, line, "unknown destination setting \"%s\"", av[i]);
	}
	if (isinf(d->service) || isinf(d->per_rcpt) || isinf(d->setup) || isinf(d->reject_time)
	    || isinf(d->release_time))
		return fail(file, line, "%s: a delivery cannot take forever", av[i]);
	return 2;
}

/* cmd_destination - destination NAME [options] */
static int cmd_destination(struct sim *sim, const char *file, int line, char **av, size_t ac)
{
	struct argv *names;
	const char *why;
	int used;

	if (ac < 2)
		return fail(file, line, "usage: destination NAME [KEY VALUE]...");
	if ((names = expand(av[1], &why)) == NULL)
		return fail(file, line, "%s: %s", av[1], why);
	for (size_t n = 0; n < names->argc; n++) {
		struct sim_dest *d = dest_get(sim, names->argv[n], true);

		for (size_t i = 2; i < ac; i += (size_t)used) {
			if ((used = dest_option(sim, d, file, line, av, ac, i)) < 0) {
				argv_free(&names);
				return -1;
			}
		}
	}
	argv_free(&names);
	return 0;
}

/* cmd_inject - inject N to|among LIST [at T] [spread T] [rcpt K] [deferred [age T]] */
static int cmd_inject(struct sim *sim, const char *file, int line, char **av, size_t ac)
{
	struct sim_injector *inj;
	struct argv *list, *names;
	const char *why;
	long count, rcpt = 1;
	double at = sim->now, spread = 0, age = 0;
	bool deferred = false;
	size_t i;

	if (ac < 4 || (strcmp(av[2], "to") != 0 && strcmp(av[2], "among") != 0))
		return fail(file, line, "usage: inject N to|among NAME[,NAME]... [at T] [spread T]"
			    " [rcpt K] [deferred [age T]]");
	if (str_to_long(av[1], 1, LONG_MAX, &count) < 0)
		return fail(file, line, "inject: bad message count \"%s\"", av[1]);
	for (i = 4; i < ac; i++) {
		if (strcmp(av[i], "deferred") == 0) {
			deferred = true;
		} else if (i + 1 >= ac) {
			return fail(file, line, "inject: %s: missing value", av[i]);
		} else if (strcmp(av[i], "at") == 0) {
			if (time_arg(file, line, "at", av[++i], &at) < 0)
				return -1;
		} else if (strcmp(av[i], "spread") == 0) {
			if (time_arg(file, line, "spread", av[++i], &spread) < 0)
				return -1;
		} else if (strcmp(av[i], "age") == 0) {
			if (time_arg(file, line, "age", av[++i], &age) < 0)
				return -1;
		} else if (strcmp(av[i], "rcpt") == 0) {
			if (str_to_long(av[++i], 1, 1000000, &rcpt) < 0)
				return fail(file, line, "inject: bad recipient count \"%s\"", av[i]);
		} else {
			return fail(file, line, "inject: unknown option \"%s\"", av[i]);
		}
	}
	if (at < sim->now || isinf(at) || isinf(spread) || isinf(age))
		return fail(file, line, "inject: at %.3f is in the past (the simulation is at %.3f)"
			    " or a time is not finite", at, sim->now);
	if (age > 0 && !deferred)
		return fail(file, line, "inject: age is for deferred mail");

	inj = xcalloc(1, sizeof(*inj));
	inj->index = (int)sim->ninjectors;
	inj->count = count;
	inj->at = at;
	inj->spread = spread;
	inj->rcpt = rcpt;
	inj->among = av[2][0] == 'a';
	inj->deferred = deferred;
	inj->age = age;
	if (sim->ninjectors == sim->injectors_cap) {
		sim->injectors_cap = sim->injectors_cap ? sim->injectors_cap * 2 : 8;
		sim->injectors = xreallocarray(sim->injectors, sim->injectors_cap,
					       sizeof(*sim->injectors));
	}
	sim->injectors[sim->ninjectors++] = inj;

	list = argv_split(av[3], ",");
	for (i = 0; i < list->argc; i++) {
		if ((names = expand(list->argv[i], &why)) == NULL) {
			fail(file, line, "%s: %s", list->argv[i], why);
			argv_free(&list);
			return -1;
		}
		for (size_t n = 0; n < names->argc; n++) {
			struct sim_dest *d = dest_get(sim, names->argv[n], false);

			if (d == NULL) {
				fail(file, line, "inject: unknown destination \"%s\" (declare it with"
				     " a destination line)", names->argv[n]);
				argv_free(&names);
				argv_free(&list);
				return -1;
			}
			inj->dests = xreallocarray(inj->dests, (size_t)inj->ndests + 1,
						   sizeof(*inj->dests));
			inj->dests[inj->ndests++] = d;
		}
		argv_free(&names);
	}
	argv_free(&list);
	if (inj->ndests == 0)
		return fail(file, line, "inject: no destination");
	sim_event_add(sim, at, SIM_EV_INJECT, inj);
	return 0;
}

/* cmd_run - run until T | run for T */
static int cmd_run(struct sim *sim, const char *file, int line, char **av, size_t ac)
{
	double t;

	if (ac != 3 || (strcmp(av[1], "until") != 0 && strcmp(av[1], "for") != 0))
		return fail(file, line, "usage: run until T | run for T");
	if (time_arg(file, line, av[1], av[2], &t) < 0)
		return -1;
	if (av[1][0] == 'f')
		t += sim->now;
	if (isinf(t) || t < sim->now)
		return fail(file, line, "run: %s is in the past (the simulation is at %.3f)"
			    " or not finite", av[2], sim->now);
	sim_run_until(sim, t);
	return 0;
}

/* cmd_trigger - trigger BYTES [at T] */
static int cmd_trigger(struct sim *sim, const char *file, int line, char **av, size_t ac)
{
	double at = sim->now;

	if (ac != 2 && !(ac == 4 && strcmp(av[2], "at") == 0))
		return fail(file, line, "usage: trigger BYTES [at T]");
	if (ac == 4 && time_arg(file, line, "at", av[3], &at) < 0)
		return -1;
	if (at < sim->now || isinf(at))
		return fail(file, line, "trigger: at %s is in the past or not finite", av[3]);
	sim_event_add(sim, at, SIM_EV_TRIGGER, xstrdup(av[1]));
	return 0;
}

/* execute - one scenario line, split into tokens */
static int execute(struct sim *sim, const char *file, int line, char **av, size_t ac)
{
	unsigned long long seed;
	char *end;

	if (strcmp(av[0], "seed") == 0) {
		errno = 0;
		if (ac != 2 || av[1][0] == '-' || (seed = strtoull(av[1], &end, 10), *end || errno))
			return fail(file, line, "usage: seed N");
		sim_seed(sim, seed);
		return 0;
	}
	if (strcmp(av[0], "set") == 0)
		return cmd_set(sim, file, line, av, ac);
	if (strcmp(av[0], "transport") == 0)
		return cmd_transport(sim, file, line, av, ac);
	if (strcmp(av[0], "destination") == 0)
		return cmd_destination(sim, file, line, av, ac);
	if (strcmp(av[0], "inject") == 0)
		return cmd_inject(sim, file, line, av, ac);
	if (strcmp(av[0], "trigger") == 0)
		return cmd_trigger(sim, file, line, av, ac);
	if (strcmp(av[0], "run") == 0)
		return cmd_run(sim, file, line, av, ac);
	if (strcmp(av[0], "trace") == 0) {
		if (ac != 2 || (strcmp(av[1], "on") != 0 && strcmp(av[1], "off") != 0))
			return fail(file, line, "usage: trace on|off");
		sim->trace = strcmp(av[1], "on") == 0;
		return 0;
	}
	if (strcmp(av[0], "report") == 0) {
		bool summary = ac == 2 && strcmp(av[1], "summary") == 0;

		for (size_t i = 1; i < ac && !summary; i++)
			if (!dest_get(sim, av[i], false))
				return fail(file, line, "report: unknown destination \"%s\"", av[i]);
		sim_report(sim, (const char *const *)av + 1, summary ? 0 : (int)ac - 1, summary);
		return 0;
	}
	if (strcmp(av[0], "watch") == 0) {
		struct argv *names;
		const char *why;

		if (ac < 2)
			return fail(file, line, "usage: watch NAME...");
		for (size_t i = 1; i < ac; i++) {
			if ((names = expand(av[i], &why)) == NULL)
				return fail(file, line, "%s: %s", av[i], why);
			for (size_t n = 0; n < names->argc; n++) {
				struct sim_dest *d = dest_get(sim, names->argv[n], false);

				if (d == NULL || sim_series_watch(sim, d) < 0) {
					fail(file, line, d ? "watch: before the first run line"
					     : "watch: unknown destination \"%s\"", names->argv[n]);
					argv_free(&names);
					return -1;
				}
			}
			argv_free(&names);
		}
		return 0;
	}
	if (strcmp(av[0], "echo") == 0) {
		for (size_t i = 1; i < ac; i++)
			printf("%s%s", av[i], i + 1 < ac ? " " : "");
		printf("\n");
		return 0;
	}
	return fail(file, line, "unknown command \"%s\"", av[0]);
}

/* sim_scenario_run - read and execute a scenario file */
int sim_scenario_run(struct sim *sim, const char *path, const char **error_r)
{
	FILE *fp = fopen(path, "r");
	char *text = NULL, *hash;
	size_t cap = 0;
	int line = 0, rc = 0;
	struct argv *av;

	if (fp == NULL) {
		snprintf(errbuf, sizeof(errbuf), "open %s: %s", path, strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	while (rc == 0 && getline(&text, &cap, fp) >= 0) {
		line++;
		if ((hash = strchr(text, '#')) != NULL)
			*hash = 0;
		av = argv_split(text, " \t\r\n");
		if (av->argc > 0)
			rc = execute(sim, sim->scenario, line, av->argv, av->argc);
		argv_free(&av);
	}
	free(text);
	fclose(fp);
	if (rc < 0)
		*error_r = errbuf;
	return rc;
}

/* sim_scenario_free - release sites, transports and injectors */
void sim_scenario_free(struct sim *sim)
{
	struct sim_xport *x;

	for (size_t i = 0; i < sim->ndests; i++) {
		free(sim->dests[i]->name);
		free(sim->dests[i]->outages);
		sim_stats_free(&sim->dests[i]->st);
		free(sim->dests[i]);
	}
	free(sim->dests);
	htable_free(&sim->dest_byname, NULL);
	while ((x = sim->xports) != NULL) {
		sim->xports = x->next;
		for (size_t i = 0; i < x->noverrides; i++)
			free(x->overrides[i]);
		free(x->overrides);
		free(x->name);
		free(x);
	}
	for (size_t i = 0; i < sim->ninjectors; i++) {
		free(sim->injectors[i]->dests);
		free(sim->injectors[i]);
	}
	free(sim->injectors);
}
