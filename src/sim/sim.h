/*
 * sim - sluice-sim's private interface (one header for the program, as
 * qmgr/qmgr.h).
 *
 * sluice-sim runs src/qmgr/sched.c under a simulated clock, driven the way
 * the queue manager drives it (docs/SIMULATION.md).  Modules:
 *
 *   sim.c           main: arguments, read and run the scenario
 *   sim_scenario.c  the scenario language: settings, transports, sites,
 *                   injections, run/report/trace commands
 *   sim_event.c     the event heap (simulated clock), the seeded PRNG,
 *                   trace lines, time parsing and printing
 *   sim_qmgr.c      the queue manager's side around the drain policy
 *                   (src/qmgr/drain.c, the same module qmgr runs): the
 *                   event loop, scans (incoming FIFO, deferred due-time
 *                   index), feed, import and routing, message end
 *                   (backoff, expiry)
 *   sim_agent.c     the drain policy's I/O operations against simulated
 *                   agent processes (master's process limit and listen
 *                   queue, max_use, max_idle) and remote sites
 *   sim_report.c    per-destination statistics and the report
 *   sim_series.c    time series (CSV) and the gnuplot script (-o, -g)
 */
#ifndef SLUICE_SIM_SIM_H
#define SLUICE_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "drain.h"
#include "sched.h"

struct htable;

/* ---------------------------------------------------------------- events */

enum sim_event_kind {
	SIM_EV_INJECT = 1,	/* the next message of an inject line arrives */
	SIM_EV_HELLO,		/* an agent's greeting reaches the queue manager */
	SIM_EV_CONNECT_TIMEOUT,	/* no greeting within qmgr_ipc_timeout */
	SIM_EV_REPLY,		/* a delivery agent's reply */
	SIM_EV_DEFERRED_RUN,	/* the queue_run_delay timer */
	SIM_EV_TRIGGER,		/* trigger bytes written to public/qmgr */
	SIM_EV_SITE_RELEASE,	/* a site stops counting a finished session */
	SIM_EV_SESSION_EXPIRE,	/* an agent closes its cached session */
	SIM_EV_AGENT_IDLE,	/* an agent waited max_idle for a request: it hangs up */
	SIM_EV_AGENT_EOF,	/* the queue manager sees an agent's hang-up */
	SIM_EV_PROC_EXIT,	/* an agent process waited max_idle for a connection */
};

/* One scheduled happening; cancelled events stay in the heap, inert. */
struct sim_event {
	double when;
	unsigned long long seq;		/* ties run in scheduling order */
	enum sim_event_kind kind;
	bool cancelled;
	void *ptr;			/* what it is about (by kind) */
};

/* A place in the event heap: the keys beside the event, for cache's sake. */
struct sim_heap_slot {
	double when;
	unsigned long long seq;
	struct sim_event *ev;
};

/* ---------------------------------------------------------------- sites */

enum sim_fault_kind { SIM_FAULT_REFUSE, SIM_FAULT_TIMEOUT };

/* An interval during which a site fails every connection. */
struct sim_outage {
	enum sim_fault_kind kind;
	double from, until;
	long attempts;			/* connection attempts that fell into it */
};

/* A closed (or still open) period during which the site's queue was dead. */
struct sim_dead_span {
	double from, until;		/* until < 0: still dead */
};

#define SIM_RAMP_MAX	128		/* windows whose first time is recorded */

/* Counters for one destination (recipients unless said otherwise). */
struct sim_dest_stats {
	long injected, delivered, expired;
	long def_hop;			/* deferred by a hop failure of their attempt */
	long def_rcpt;			/* deferred by the site, per recipient (4xx) */
	long def_dead;			/* deferred without an attempt (dead site/transport) */
	long attempts;			/* deliveries started at the site (entries) */
	long hop_fail;			/* ... answered with a hop failure */
	long first_rcpt, first_fail;	/* recipients on their first attempt, failed */
	long attempts_while_dead;	/* must stay 0: sched never selects a dead queue */
	long reused;			/* deliveries over a cached session */
	long peak_window, peak_busy;
	long peak_sessions;		/* sessions open at the site, cached ones too */
	double busy_sum, busy_sum2;	/* concurrency at each delivery start */
	double win_sum, win_sum2;	/* window at each delivery start */
	double *ramp;			/* first time the window reached i; <0 never */
	long *win_hist;			/* deliveries started with window i */
	int nwin;			/* slots of both (window values < SIM_RAMP_MAX) */
	double first_done, last_done;	/* first and last delivered recipient */
	double delay_sum, delay_max;	/* injection to delivery */
	double last_start, gap_min, gap_sum;	/* between delivery starts */
	long gaps;
	struct sim_dead_span *dead;
	size_t ndead, dead_cap;
	long crashes;			/* deliveries whose agent crashed */
	bool is_dead;
	bool on_dead_list;
};

struct sim_xport;

/* A remote site (one next hop of one transport). */
struct sim_dest {
	char *name;
	struct sim_xport *xport;
	double service;			/* seconds per delivery */
	double per_rcpt;		/* plus this per recipient */
	double setup;			/* plus this unless a cached session is reused */
	double jitter;			/* service scaled by 1 +- jitter (uniform) */
	double reject_time;		/* how long a refusal or a 421 takes */
	struct sched_queue *q;		/* its queue in the scheduler, or NULL */
	double defer_rate;		/* per-recipient 4xx probability */
	double crash_rate;		/* per-delivery agent crash probability */
	long cap;			/* sessions above this get 421; 0 = none */
	double release_time;		/* a session still counts this long after it ends */
	struct sim_outage *outages;
	size_t noutages;
	long active;			/* sessions open now (cached ones too) */
	struct sim_dest_stats st;
	struct sim_dest *next_dead;	/* on sim->dead_list */
};

/* ----------------------------------------------------------- transports */

struct sim_conn;
struct sim_xport;

/*
 * One agent process of a transport.  It serves one connection at a time
 * and counts its requests over all of them (agent_server.c): at max_use it
 * says "last" in its reply and exits; without a connection it waits
 * max_idle for one, then exits.  Its SMTP session cache is its own, not
 * the connection's.
 */
struct sim_proc {
	struct sim_xport *x;
	long uses;			/* requests served */
	bool dead;			/* crashed: exits when its connection closes */
	struct sim_conn *conn;		/* the connection it serves, or NULL */
	struct sim_event *exit_ev;	/* max_idle without a connection */
	struct sim_dest *session;	/* the site it holds a session to */
	struct sim_event *session_ev;	/* smtp_connection_cache_time_limit */
	TAILQ_ENTRY(sim_proc) idle_link;	/* on x->idle while it waits */
};

/* A connection in master's listen queue; conn NULL: closed before accept. */
struct sim_waiter {
	struct sim_conn *conn;
	struct sim_waiter *next;
};

/* A master.cf service: the scheduler's transport plus its agent pool. */
struct sim_xport {
	char *name;
	char **overrides;		/* suffix, value, suffix, value, ... NULL */
	size_t noverrides;
	long process_limit;		/* -1: default_process_limit */
	double connect_time;		/* -1: the global agent_connect_time */
	long max_use;			/* -1: the global max_use */
	double max_idle;		/* -1: the global max_idle */
	long listen_queue;		/* -1: the global agent_listen_queue */
	struct sched_transport *t;	/* NULL until mail is routed to it */
	struct sim_waiter *wait_head, *wait_tail;	/* master's listen queue */
	long nwait;
	TAILQ_HEAD(, sim_proc) idle;	/* processes waiting to accept, oldest first */
	long procs;			/* live agent processes (busy or not) */
	long peak_procs;
	long connections;		/* opened so far */
	long throttles;			/* transport declared dead */
	long listen_full;		/* connects refused: listen queue full (EAGAIN) */
	long greeting_waits;		/* greeting time-outs re-armed (every agent ours) */
	long last_replies;		/* connections ended by the agent's "last" */
	long idle_hangups;		/* agents that hung up after max_idle */
	long write_fails;		/* requests put back: the reused agent had left */
	long proc_exits;		/* processes that exited after max_idle unused */
	long deliveries;
	double last_start, gap_min, gap_sum;	/* between delivery starts */
	long gaps;
	struct sim_xport *next;
};

/* ---------------------------------------------------------- connections */

/* What the agent will answer for the delivery in progress. */
struct sim_result {
	enum sched_outcome_kind kind;
	const char *status;
	char reason[160];
	long delivered, deferred;
	bool site_slot;			/* a session to the site is open */
	bool keep_session;		/* the agent keeps the session for reuse */
};

/*
 * The world's half of one connection from the queue manager to a delivery
 * agent; the queue manager's half (state, entry, session, uses) is the
 * drain policy's struct drain_conn (src/qmgr/drain.h).
 */
struct sim_conn {
	long id;
	struct sim_xport *x;
	struct drain_conn *dc;		/* the queue manager's half */
	struct sim_proc *proc;		/* the agent process serving it, or NULL */
	struct sim_waiter *waiter;	/* its place in master's listen queue */
	bool agent_gone;		/* the agent hung up; qmgr has not seen it yet */
	struct sim_event *ev;		/* hello or reply */
	struct sim_event *timeout_ev;	/* greeting time limit */
	struct sim_event *agent_idle_ev;	/* the agent's max_idle for a request */
	struct sim_event *eof_ev;	/* qmgr reads the agent's hang-up */
	struct sim_result res;
};

/* ------------------------------------------------------------- messages */

/* The recipients of one message at one site. */
struct sim_group {
	struct sim_dest *dest;
	long rcpt;			/* injected */
	long remaining;			/* not yet delivered or expired */
	long tries;			/* finished delivery attempts */
};

enum sim_msg_where { SIM_MSG_INCOMING, SIM_MSG_ACTIVE, SIM_MSG_DEFERRED };

/*
 * A message in the active or deferred queue.  Messages in incoming are
 * struct sim_arrival until the incoming scan takes them: a backlog of
 * millions costs 24 bytes a message.
 */
struct sim_msg {
	long id;
	double arrival;			/* arrival_time: backoff age and lifetime */
	double injected;		/* entered this simulation (delay figures) */
	enum sim_msg_where where;
	bool deferred;			/* QMGR_MSG_DEFERRED for this visit */
	int ngroups;
	long refcount;			/* live entries */
	long defer_count;		/* visits to the deferred queue */
	size_t slot;			/* index in sim->active while active */
	struct sim_group *groups;	/* &one, or an array of ngroups */
	struct sim_group one;
};

/* A message in incoming, not yet read by the queue manager. */
struct sim_arrival {
	double when;
	long id;
	int inj;			/* index in sim->injectors */
	int pick;			/* the one site of an "among" line; -1: all */
};

/* The recipients of one scheduler entry (sched_entry->ctx). */
struct sim_batch {
	struct sim_msg *msg;
	struct sim_group *group;
	long count;
	bool retry;			/* in the retry transport */
	bool first;			/* the group's first attempt */
};

/* A deferred message and when it is due. */
struct sim_due {
	double due;
	unsigned long long seq;
	struct sim_msg *msg;
};

/* One inject line, arriving message by message. */
struct sim_injector {
	int index;			/* in sim->injectors */
	long count, done;
	double at, spread;
	struct sim_dest **dests;
	int ndests;
	long rcpt;
	bool among;			/* one random site per message, not all */
	bool deferred;
	double age;
};

/* ------------------------------------------------------------- settings */

enum sim_feed_policy { SIM_FEED_FAIR, SIM_FEED_DEFERRED_FIRST };

struct sim_params {
	struct sched_conf sc;			/* scheduler globals */
	struct sched_transport_conf deflt;	/* default_* transport values */
	long default_process_limit;
	double agent_connect_time;
	double agent_idle_time;			/* qmgr closes idle agents after */
	double queue_run_delay;
	double maximal_backoff_time;
	long backoff_spread_percent;
	double maximal_queue_lifetime;
	double qmgr_ipc_timeout;
	double smtp_connect_timeout;
	double smtp_connection_cache_time_limit;
	bool smtp_connection_cache_on_demand;
	long max_use;				/* requests per agent process */
	double max_idle;			/* agent wait for a request/connection */
	long agent_listen_queue;		/* master's listen() backlog */
	double retry_service_time;		/* the retry agent's work per request */
	double loop_cost;			/* simulated time per busy loop turn */
	double loop_max_wait;			/* the loop runs at least this often */
	enum sim_feed_policy feed_policy;
	double sample_interval;			/* time series (-o): a row this often */
};

/* ------------------------------------------------------------ the whole */

struct sim_series;

struct sim {
	const char *scenario;		/* base name, for messages */
	bool conf_mode;			/* settings from main.cf/master.cf (-c, -C) */
	struct sim_series *series;	/* -o: time series, or NULL */
	struct sim_dest **watch;	/* sites with columns of their own */
	size_t nwatch;
	struct sim_params p;
	struct sched *s;
	struct drain *d;		/* the queue manager's drain policy */
	double now;
	double loop_at;			/* when the loop hook runs next */
	bool closing;			/* the end: connections close without a world */
	bool trace;
	uint64_t rng;

	struct sim_heap_slot *heap;
	size_t heap_len, heap_cap;
	struct sim_event *ev_free;	/* released events, linked through ptr */
	unsigned long long seq;

	struct htable *dest_byname;
	struct sim_dest **dests;		/* in declaration order */
	size_t ndests, dests_cap;
	struct sim_dest *dead_list;
	struct sim_xport *xports;		/* in declaration order */
	struct sim_injector **injectors;
	size_t ninjectors, injectors_cap;

	/* queues on "disk" */
	struct sim_arrival *in;		/* incoming, a ring of in_cap */
	size_t in_head, in_cap;
	long in_count;
	struct sim_msg **active;	/* the active queue, in no order */
	size_t nactive, active_cap;
	struct sim_due *due;
	size_t due_len, due_cap;
	bool in_scan, in_scan_again;
	bool def_scan, def_scan_again;
	bool def_scan_all, def_scan_all_next;

	long next_msg_id, next_conn_id;

	/* summary counters */
	long msgs_injected, msgs_removed, msgs_expired, msgs_deferred;
	long rcpt_injected, rcpt_delivered;
	long imports_incoming, imports_deferred;
	long deferred_runs, loop_turns, events;
	long site_deliveries, retry_deliveries;
	long clog_warnings, peak_active, peak_recipients;
};

/* sim_event.c */
struct sim_event *sim_event_add(struct sim *sim, double when, enum sim_event_kind kind,
				void *ptr);
void sim_event_cancel(struct sim_event **evp);
void sim_event_release(struct sim *sim, struct sim_event *ev);
struct sim_event *sim_event_pop_due(struct sim *sim, double until);
double sim_event_next(struct sim *sim);
void sim_events_free(struct sim *sim);
double sim_random(struct sim *sim);
void sim_seed(struct sim *sim, uint64_t seed);
void sim_trace(struct sim *sim, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sim_parse_time(const char *text, double *value_r);

/* sim_qmgr.c */
void sim_qmgr_init(struct sim *sim);
void sim_qmgr_free(struct sim *sim);
void sim_run_until(struct sim *sim, double until);
void sim_inject_arrive(struct sim *sim, struct sim_injector *inj);
const struct sim_arrival *sim_incoming_at(const struct sim *sim, long i);
void sim_trigger(struct sim *sim, const char *bytes);
void sim_deferred_run(struct sim *sim);
void sim_message_continue(struct sim *sim, struct sim_msg *msg);
void sim_dest_observe(struct sim *sim, struct sim_dest *d);
void sim_dead_sweep(struct sim *sim);
void sim_reconfigure(struct sim *sim);
void sim_wakeup(struct sim *sim);

/* sim_agent.c: the drain policy's I/O operations (struct drain_ops) */
enum drain_connect sim_agent_connect(void *ctx, struct drain_conn *dc);
enum drain_send sim_agent_send(void *ctx, struct drain_conn *dc, struct sched_entry *e,
			       const char **why_r);
void sim_agent_crash(void *ctx, struct drain_conn *dc, const char *why);
void sim_agent_idle_op(void *ctx, struct drain_conn *dc);
void sim_agent_close(void *ctx, struct drain_conn *dc);
long sim_agent_process_limit(void *ctx, const struct sched_transport *t);
void sim_agent_batch_done(void *ctx, void *batch);
void sim_agent_note(void *ctx, enum drain_note what, struct drain_conn *dc,
		    const struct drain_conn *other, const struct sched_entry *e,
		    const char *status, const char *reason);
/* sim_agent.c: the world */
void sim_agent_hello(struct sim *sim, struct sim_conn *c);
void sim_agent_timeout(struct sim *sim, struct sim_conn *c);
void sim_agent_reply(struct sim *sim, struct sim_conn *c);
void sim_agent_session_expire(struct sim *sim, struct sim_proc *p);
void sim_agent_idle(struct sim *sim, struct sim_conn *c);
void sim_agent_eof(struct sim *sim, struct sim_conn *c);
void sim_proc_exit_idle(struct sim *sim, struct sim_proc *p);
void sim_site_release(struct sim *sim, struct sim_dest *d);
void sim_agents_free(struct sim *sim);

/* sim_scenario.c */
void sim_params_defaults(struct sim_params *p);
int sim_scenario_run(struct sim *sim, const char *path, const char **error_r);
struct sim_xport *sim_xport_get(struct sim *sim, const char *name);
void sim_transport_conf(struct sim *sim, struct sim_xport *x, struct sched_transport_conf *tc);
void sim_scenario_free(struct sim *sim);

/* sim_series.c */
void sim_series_open(struct sim *sim, const char *dir);
int sim_series_watch(struct sim *sim, struct sim_dest *d);
void sim_series_until(struct sim *sim, double t, bool inclusive);
int sim_series_close(struct sim *sim, bool render, const char **error_r);

/* sim_scenario.c: the configuration in use (sluice simulate) */
int sim_params_from_conf(struct sim *sim, const char **error_r);
long sim_process_limit(const struct sim *sim, const struct sim_xport *x);

/* sim_report.c */
void sim_stats_init(struct sim_dest_stats *st);
void sim_stats_free(struct sim_dest_stats *st);
void sim_stats_window(struct sim *sim, struct sim_dest *d, long window);
void sim_stats_dead(struct sim *sim, struct sim_dest *d, bool dead);
void sim_stats_start(struct sim *sim, struct sim_dest *d, long window, long busy);
void sim_stats_delivered(struct sim *sim, struct sim_dest *d, struct sim_msg *msg, long n);
void sim_report(struct sim *sim, const char *const *only, int nonly, bool summary_only);

#endif
