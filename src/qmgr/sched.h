/*
 * sched - the queue manager's pure scheduler: state and a clock in,
 * decisions out (docs/SCHEDULER.md).
 *
 * This module holds oqmgr's in-memory delivery state - transports, one
 * queue per (transport, next hop), and the entries (batches of recipients of
 * one message) waiting in or travelling through those queues - and makes
 * every scheduling decision Postfix's oqmgr makes: which transport gets the
 * next delivery agent, which destination and entry that agent delivers,
 * how the concurrency window of a destination reacts to success and
 * failure, when a destination or transport is dead and when it revives, when
 * a rate-limited destination may go again, which queue the next message is
 * imported from, and the backoff and lifetime arithmetic.
 *
 * It does no I/O, reads no clock (every function that needs the time takes
 * `now`, in seconds, as a double), arms no libevent timer and logs nothing
 * itself: timed events sit in an internal heap that the caller drains with
 * sched_run_timers() at sched_next_timer(), and everything that must reach
 * the outside world (deferring an entry, a clogging warning, feedback debug
 * lines) goes through the callbacks in struct sched_ops.  The same code runs
 * under qmgr's event loop and under a fake clock in the unit tests.
 *
 * Ownership: every struct below is created and freed by sched.  Callers may
 * read the fields documented as such and own only the `ctx` pointers, which
 * sched never looks at.  A pointer to an entry is valid until the entry is
 * done (sched_entry_done, sched_entry_remove, or handed to ops->entry_defer);
 * a pointer to a queue is valid while it holds entries, and otherwise only
 * until the next call into sched that may free it (entry done, timers, flush).
 *
 * Interface violations (an entry for a dead queue, finishing an entry that is
 * not busy, a transport connecting that was never selected) are panics.
 */
#ifndef SLUICE_QMGR_SCHED_H
#define SLUICE_QMGR_SCHED_H

#include <stdbool.h>
#include <stddef.h>

struct htable;
struct sched;
struct sched_transport;
struct sched_queue;
struct sched_entry;

/*
 * Concurrency feedback: how much the window moves per delivery.  The value
 * is base (per_window false: "N" or "N/M") or base / window (per_window true:
 * "N/concurrency").  base lies in [0, 1].
 */
struct sched_feedback {
	double base;
	bool per_window;
};

/*
 * sched_feedback_parse - parse a *_destination_concurrency_{positive,negative}
 * _feedback value: "N", "N/M" or "N/concurrency" (blanks around the slash
 * allowed).  The result must lie in [0,1].  "N/sqrt_concurrency" is
 * rejected, as oqmgr compiles it out.  Returns 0, or -1 with *error_r
 * (static text) and *fb_r untouched.
 */
int sched_feedback_parse(const char *text, struct sched_feedback *fb_r, const char **error_r);

/* sched_feedback_value - the feedback amount at concurrency window. */
double sched_feedback_value(const struct sched_feedback *fb, long window);

/*
 * Global settings (main.cf names).  sched_conf_defaults() fills Postfix's
 * defaults.
 */
struct sched_conf {
	long qmgr_message_active_limit;		/* 20000 */
	long qmgr_message_recipient_limit;	/* 20000; also sizes the dead cache */
	double minimal_backoff_time;		/* 300 s: dead destination revival */
	double transport_retry_time;		/* 60 s: dead transport revival */
	double qmgr_clog_warn_time;		/* 300 s; 0 disables clog warnings */
	bool helpful_warnings;			/* yes */
	bool destination_concurrency_feedback_debug;	/* no */
	/*
	 * sluice improvement (docs/SCHEDULER.md): keep an emptied queue with
	 * failure history for minimal_backoff_time after its last failure.
	 * true by default; false behaves exactly as Postfix.
	 */
	bool keep_failure_history;
};

/* sched_conf_defaults - Postfix's defaults, keep_failure_history on. */
void sched_conf_defaults(struct sched_conf *conf);

/*
 * Per-transport settings, looked up by the caller as <transport>_<suffix>
 * with the default_... fallback.  At transport creation (and update) sched
 * applies oqmgr's rules: dest_rate_delay > 0 forces dest_concurrency_limit
 * to 1, and init_dest_concurrency is clamped to a non-zero limit.
 */
struct sched_transport_conf {
	long dest_concurrency_limit;	/* 20; 0 = no limit */
	long init_dest_concurrency;	/* 5 (at least 1) */
	long recipient_limit;		/* 50; kept for the caller; 1 = per-recipient queues */
	long fail_cohort_limit;		/* 1; 0 = never declare a destination dead */
	struct sched_feedback pos, neg;	/* 1 and 1 */
	double dest_rate_delay;		/* 0 s; > 0 spaces deliveries per destination */
	double xport_rate_delay;	/* 0 s; > 0 serialises the transport */
};

/* sched_transport_conf_defaults - Postfix's default_* values. */
void sched_transport_conf_defaults(struct sched_transport_conf *tc);

/*
 * Callbacks.  ctx is the ops_ctx given to sched_create().  Callbacks must not
 * free or finish entries other than the one they are given, and must not
 * call sched_free().
 */
struct sched_ops {
	/*
	 * entry_defer (required) - a todo entry is given up for this round
	 * because its queue or transport died: defer its recipients with
	 * status and reason (borrowed for the call) and release e->ctx.  The
	 * entry has already left its queue; sched frees it when the callback
	 * returns.
	 */
	void (*entry_defer)(void *ctx, struct sched_entry *e, const char *status,
			    const char *reason);
	/*
	 * clog_warning (optional) - one line of a clogging warning about q
	 * (log it with msg_warn).  Called several times in a row per warning.
	 */
	void (*clog_warning)(void *ctx, const struct sched_queue *q, const char *text);
	/* log (optional) - a feedback debug line (log it with msg_info). */
	void (*log)(void *ctx, const char *text);
	/* queue_free (optional) - q is about to be freed: release q->ctx. */
	void (*queue_free)(void *ctx, struct sched_queue *q);
	/* transport_free (optional) - t is about to be freed (sched_free). */
	void (*transport_free)(void *ctx, struct sched_transport *t);
	/*
	 * queue_init_window (optional) - the window a new queue of t called
	 * name starts with instead of init_dest_concurrency (a window
	 * remembered across a restart); <= 0 for none.  Clamped to the limit.
	 */
	long (*queue_init_window)(void *ctx, const struct sched_transport *t, const char *name);
};

/* One armed (or idle) timed event; internal, embedded in its owner. */
struct sched_timer {
	double when;
	unsigned long long seq;	/* ties run in arming order */
	size_t heap_idx;	/* SIZE_MAX when not armed */
	int kind;
	void *owner;
};

/* An intrusive list of entries, oldest first. */
struct sched_entry_list {
	struct sched_entry *first, *last;
};

enum sched_entry_state { SCHED_ENTRY_TODO = 1, SCHED_ENTRY_BUSY, SCHED_ENTRY_GONE };

/* struct sched_entry - a batch of recipients of one message for one queue. */
struct sched_entry {
	void *msg;			/* caller's message; opaque */
	void *ctx;			/* caller's data; opaque */
	long nrcpt;			/* recipients in this batch (read-only) */
	struct sched_queue *queue;	/* read-only */
	enum sched_entry_state state;	/* read-only */
	/* internal */
	struct sched_entry *prev, *next;
	bool holds_rate_lock;
};

/* Connection cache hints for the delivery request (Postfix dflags). */
#define SCHED_CONN_LOAD		(1 << 0)	/* may reuse a cached session */
#define SCHED_CONN_STORE	(1 << 1)	/* may save the session */

/* Queue states encoded in window, as oqmgr does. */
#define SCHED_QUEUE_THROTTLED	0
#define SCHED_QUEUE_SUSPENDED	(-1)

/* struct sched_queue - one per (transport, next hop); fields read-only. */
struct sched_queue {
	char *name;			/* next hop, or localpart@nexthop */
	char *nexthop;			/* for the delivery request and warnings */
	struct sched_transport *transport;
	void *ctx;			/* caller's data (writable) */
	struct sched_entry_list todo, busy;
	long todo_count, busy_count;
	long window;			/* > 0 ready, 0 throttled (dead), -1 suspended */
	double success, failure, fail_cohorts;	/* feedback accumulators */
	char *dead_status, *dead_reason;	/* set while throttled */
	double last_done;		/* last busy entry done; -inf before */
	double last_fail;		/* last hop failure; -inf before */
	double clog_time_to_warn;
	int conn_flags;			/* SCHED_CONN_* for the next request */
	/* internal */
	struct sched_queue *prev, *next;	/* all queues of the transport */
	struct sched_queue *rr_prev, *rr_next;	/* selectable ring */
	bool in_ring;
	long absorb;			/* contribution to transport->absorb */
	struct sched_timer timer;	/* revive, resume or forget */
};

#define SCHED_TRANSPORT_DEAD		(1 << 0)
#define SCHED_TRANSPORT_RATE_LOCK	(1 << 1)

/* struct sched_transport - one per master.cf service; fields read-only. */
struct sched_transport {
	char *name;
	struct sched *sched;
	void *ctx;			/* caller's data (writable) */
	struct sched_transport_conf conf;	/* effective values after the rules */
	int flags;			/* SCHED_TRANSPORT_* */
	int pending;			/* agent connections being set up (<= 2) */
	char *dead_status, *dead_reason;	/* set while DEAD */
	long queue_count;
	/* internal */
	struct htable *queue_byname;
	struct htable *recent_done;	/* freed queue name -> its last_done (double *) */
	struct sched_queue *queues;	/* all queues, any order */
	struct sched_queue *rr_head;	/* ring of selectable queues */
	long absorb;			/* sum over queues of min(window-busy, todo) */
	int lock_state;			/* who holds SCHED_TRANSPORT_RATE_LOCK */
	long crash_streak;		/* agents lost since the last valid reply */
	struct sched_transport *rr_prev, *rr_next;	/* transport ring */
	struct sched_timer revive_timer, unlock_timer;
};

/*
 * The leaky bucket and fairness of the active queue feed (qmgr_loop).
 */
enum sched_feed_queue {
	SCHED_FEED_NONE = -1,
	SCHED_FEED_INCOMING = 0,
	SCHED_FEED_DEFERRED = 1,
};

struct sched_feed {
	long active_limit;	/* qmgr_message_active_limit */
	long recipient_limit;	/* qmgr_message_recipient_limit */
	int first;		/* scan to try first next time */
};

/* sched_feed_init - limits, incoming first. */
void sched_feed_init(struct sched_feed *f, long active_limit, long recipient_limit);

/*
 * sched_feed_choose - which queue to import ONE message from now:
 * SCHED_FEED_NONE when the active queue is full (message_count >=
 * active_limit or recipient_count >= recipient_limit; incoming is then
 * preferred next time) or neither queue has a file ready; otherwise the
 * first ready queue starting from the one after the last import.  *_ready
 * mean "that scan has a file name to give".
 */
enum sched_feed_queue sched_feed_choose(struct sched_feed *f, bool incoming_ready,
					bool deferred_ready, long message_count,
					long recipient_count);

/*
 * sched_feed_imported - optional, after the import with the new counts: if
 * the active queue is now full, the next import starts with incoming (as
 * qmgr_loop decides right after importing).
 */
void sched_feed_imported(struct sched_feed *f, long message_count, long recipient_count);

/* struct sched - the whole scheduler state. */
struct sched {
	struct sched_conf conf;		/* read-only; see sched_reconfigure() */
	struct sched_ops ops;
	void *ops_ctx;
	struct sched_feed feed;		/* for the caller's sched_feed_choose() */
	long message_count;		/* messages in the active queue (caller-kept) */
	long recipient_count;		/* recipients in all entries */
	long queue_count;		/* queues in memory */
	long transport_count;
	/* internal */
	struct htable *transport_byname;
	struct sched_transport *xport_head;	/* transport ring */
	struct sched_timer **heap;
	size_t heap_len, heap_cap;
	unsigned long long timer_seq;
};

/* sched_create - empty scheduler.  Caller frees with sched_free(). */
struct sched *sched_create(const struct sched_conf *conf, const struct sched_ops *ops,
			   void *ops_ctx);

/*
 * sched_free - free everything and clear *sp.  Entries still in memory are
 * freed without callbacks; queue_free/transport_free run for each queue and
 * transport.  NULL is fine.
 */
void sched_free(struct sched **sp);

/*
 * sched_reconfigure - new global settings (reload); transports, queues,
 * entries and armed timers are kept.
 */
void sched_reconfigure(struct sched *s, const struct sched_conf *conf);

/* sched_message_enter/leave - a message entered/left the active queue. */
void sched_message_enter(struct sched *s);
void sched_message_leave(struct sched *s);

/* sched_transport_find - transport by name, or NULL. */
struct sched_transport *sched_transport_find(struct sched *s, const char *name);

/*
 * sched_transport_create - new transport (name must be new: panic), at the
 * end of the round-robin order, with tc after oqmgr's rules.
 */
struct sched_transport *sched_transport_create(struct sched *s, const char *name,
					       const struct sched_transport_conf *tc);

/*
 * sched_transport_update_conf - new settings for t (reload).  Windows of
 * ready queues above a lower limit are clamped to it.
 */
void sched_transport_update_conf(struct sched_transport *t,
				 const struct sched_transport_conf *tc);

/*
 * sched_select_transport - round-robin pick of a transport that can use one
 * more delivery agent: not DEAD, not RATE_LOCKed, fewer than 2 connections
 * pending, and its selectable queues can absorb pending + 1 deliveries.  The
 * chosen transport goes to the back of the order, its pending count goes up
 * (and with a transport rate delay it is RATE_LOCKed).  The caller then
 * connects to the agent and reports with sched_transport_connected() or
 * sched_transport_connect_failed().  NULL when nothing is eligible.
 */
struct sched_transport *sched_select_transport(struct sched *s, double now);

/* sched_transport_connected - the agent announced itself: pending--. */
void sched_transport_connected(struct sched_transport *t);

/*
 * sched_transport_connect_abandoned - the caller gives up a set-up it was
 * granted, for reasons that are not the transport's fault (every agent
 * busy): pending--, and a transport rate lock taken for it is dropped.
 */
void sched_transport_connect_abandoned(struct sched_transport *t);

/*
 * sched_transport_connect_lost - the agent took the connection but went
 * away before its greeting (killed, crashed): pending--, a rate lock taken
 * for it is dropped, and it counts towards the streak of lost agents like
 * a crash (SCHED_CRASH_LIMIT in a row throttle the transport with "4.3.0
 * mail transport unavailable").
 */
void sched_transport_connect_lost(struct sched_transport *t, double now);

/*
 * sched_transport_connect_failed - the agent could not be reached or its
 * greeting was bad: pending--, and the transport is throttled as with
 * sched_transport_throttle().  status/reason NULL mean oqmgr's "4.3.0" and
 * "mail transport unavailable".
 */
void sched_transport_connect_failed(struct sched_transport *t, const char *status,
				    const char *reason, double now);

/*
 * sched_transport_throttle - mark t DEAD for transport_retry_time with
 * status/reason (copied; ignored when already dead), then defer every todo
 * entry of every queue of t through ops->entry_defer with that reason and
 * free the queues left empty.  Busy entries are untouched.
 */
void sched_transport_throttle(struct sched_transport *t, const char *status,
			      const char *reason, double now);

/* sched_transport_dead - is t DEAD?  Its reason is t->dead_status/_reason. */
bool sched_transport_dead(const struct sched_transport *t);

/* sched_transport_revive - un-dead t now (per-message flush). */
void sched_transport_revive(struct sched_transport *t);

/* sched_queue_find - queue of t by name, or NULL. */
struct sched_queue *sched_queue_find(struct sched_transport *t, const char *name);

/*
 * sched_queue_create - new empty queue (name must be new: panic) with
 * window init_dest_concurrency.  nexthop NULL means name.  An empty queue
 * that gets no entry is collected at the next sched_run_timers().
 */
struct sched_queue *sched_queue_create(struct sched_transport *t, const char *name,
				       const char *nexthop, double now);

/* sched_queue_dead - is q throttled?  Its reason is q->dead_status/_reason. */
bool sched_queue_dead(const struct sched_queue *q);

/*
 * sched_queue_revive - un-throttle q now (per-message flush); its window
 * restarts as after the revive timer.  q is not freed by this call.
 */
void sched_queue_revive(struct sched_queue *q, double now);

/*
 * sched_queue_name_rcpt - queue name for a transport with recipient limit 1:
 * addr with its address extension removed (the local part is cut at the
 * first character of the delim set, unless that would leave it empty, or
 * it is postmaster, mailer-daemon or double-bounce, or, when delim has '-',
 * it is owner-* or *-request), lower-cased.  Returns 0, or -1 when the
 * name does not fit in out (out then holds "").
 */
int sched_queue_name_rcpt(const char *addr, const char *delim, char *out, size_t outsize);

/*
 * sched_entry_create - new todo entry of nrcpt recipients of msg at the end
 * of q's todo list; q must not be dead (panic).  Runs the clogging check.
 */
struct sched_entry *sched_entry_create(struct sched_queue *q, void *msg, long nrcpt,
				       double now);

/*
 * sched_select_entry - for an agent connected for t: pick a queue
 * round-robin among those with window > busy and todo entries (the one
 * named prefer_queue when it is such a queue: connection reuse), move its
 * oldest todo entry to busy and return it.  NULL when nothing is eligible
 * any more (close the agent connection).
 */
struct sched_entry *sched_select_entry(struct sched_transport *t, const char *prefer_queue,
				       double now);

/* sched_entry_unselect - the request could not be sent: busy entry back to todo. */
void sched_entry_unselect(struct sched_entry *e);

enum sched_outcome_kind {
	SCHED_OUTCOME_OK,	/* reply without hop status: delivered, bounced, or
				 * deferred per recipient; positive feedback */
	SCHED_OUTCOME_HOP_FAIL,	/* reply with hop status: the site failed
				 * (connection/handshake); negative feedback */
	SCHED_OUTCOME_CRASH,	/* no valid reply: no feedback; this entry deferred */
};

struct sched_outcome {
	enum sched_outcome_kind kind;
	const char *status;	/* HOP_FAIL: DSN status ("4.4.1"); bad -> "4.0.0" */
	const char *reason;	/* HOP_FAIL: agent's text; empty -> "unknown error" */
};

/*
 * A delivery agent that vanishes mid-request (killed, crashed) costs that
 * one delivery; the transport is declared dead only when agents cannot be
 * reached at all, or after this many agents in a row were lost with no
 * valid reply between them (an agent that dies on every request would
 * otherwise cost one process per message).
 */
#define SCHED_CRASH_LIMIT	10

/*
 * sched_entry_done - a busy entry's delivery finished.  Applies feedback
 * (a HOP_FAIL may kill the queue: its todo entries then go through
 * ops->entry_defer with "delivery temporarily suspended: REASON"), revives
 * on success, suspends a rate-delayed queue, then frees e (release e->ctx
 * first) and perhaps its queue.  CRASH: no feedback; e alone goes through
 * ops->entry_defer with "4.3.0 unknown mail transport error" (do not
 * release e->ctx), and the transport stays alive unless this is the
 * SCHED_CRASH_LIMIT-th agent lost in a row: then it is throttled with that
 * reason, deferring its todo entries too.  OK and HOP_FAIL end a streak.
 */
void sched_entry_done(struct sched_entry *e, const struct sched_outcome *o, double now);

/*
 * sched_entry_remove - the caller disposes of a todo entry itself (moved
 * elsewhere, message removed); frees e and perhaps its queue.
 */
void sched_entry_remove(struct sched_entry *e, double now);

/*
 * sched_flush_dead - the F trigger: revive every dead transport and every
 * throttled queue, and free every queue left empty (including the failure
 * history kept by keep_failure_history).
 */
void sched_flush_dead(struct sched *s, double now);

/* sched_next_timer - when the earliest timed event is due; < 0 for none. */
double sched_next_timer(const struct sched *s);

/* sched_run_timers - run every timed event due at or before now. */
void sched_run_timers(struct sched *s, double now);

/*
 * sched_backoff_delay - how long a deferred message waits: its age clamped
 * to [min, max], plus a spread of random01 (in [0,1), clamped) times
 * spread_percent percent of that (0 = Postfix, no spread).  The result lies
 * in [d, d * (1 + spread_percent / 100)] for the clamped d.
 */
double sched_backoff_delay(double age, double min, double max, int spread_percent,
			   double random01);

/*
 * sched_expired - has a message created at create_time outlived lifetime at
 * now?  (lifetime 0: yes, at the end of the first failed attempt).
 */
bool sched_expired(double create_time, double now, double lifetime);

/*
 * sched_lifetime - maximal_queue_lifetime, or for the null sender
 * bounce_queue_lifetime capped at maximal_queue_lifetime.
 */
double sched_lifetime(bool null_sender, double maximal_queue_lifetime,
		      double bounce_queue_lifetime);

/*
 * Read-only views for status reports (qmgr_state.c); none of them changes
 * anything.
 *
 * sched_transport_next - the transport after t in round-robin order (t NULL:
 * the first); NULL after the last.  sched_queue_next - likewise for the
 * queues of a transport, in no particular order.  Borrowed; the walk is
 * valid until the next call that may free a queue or transport.
 */
struct sched_transport *sched_transport_next(const struct sched *s,
					     const struct sched_transport *t);
struct sched_queue *sched_queue_next(const struct sched_transport *t,
				     const struct sched_queue *q);

/* sched_queue_waiting - recipients in q's todo entries (O(entries)). */
long sched_queue_waiting(const struct sched_queue *q);

/*
 * sched_queue_retry_time - when throttled q revives (its timer), or -1 when
 * q is not dead.  sched_queue_resume_time - when a queue suspended by its
 * rate delay may deliver again, or -1.  sched_transport_retry_time - when a
 * DEAD transport revives, or -1.
 */
double sched_queue_retry_time(const struct sched_queue *q);
double sched_queue_resume_time(const struct sched_queue *q);
double sched_transport_retry_time(const struct sched_transport *t);

/*
 * A destination's health as the previous run of the queue manager left it
 * (qmgr_state.c saves and reads it).  dead_status/dead_reason NULL: alive.
 */
struct sched_queue_saved {
	const char *dead_status, *dead_reason;	/* borrowed for the call */
	double retry_at;		/* when a dead queue revives */
	double fail_cohorts, failure;	/* feedback accumulators */
	double last_fail;		/* -inf: never */
};

/*
 * sched_queue_restore - create queue name of t from sv: dead until
 * sv->retry_at when it was dead and that time is still ahead (new entries
 * are then refused as for any dead queue), otherwise alive with its failure
 * history when keep_failure_history would still keep it.  A queue with
 * neither is collected at the next sched_run_timers().  NULL when the queue
 * already exists (nothing changes).
 */
struct sched_queue *sched_queue_restore(struct sched_transport *t, const char *name,
					const char *nexthop,
					const struct sched_queue_saved *sv, double now);

#endif
