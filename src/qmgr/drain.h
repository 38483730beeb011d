/*
 * drain - the queue manager's drain policy: which agent connection carries
 * which delivery, and the order of the steps of one loop turn.  No I/O:
 * connecting, writing a request, the clock and what happens to messages
 * are operations of the caller (struct drain_ops).  The queue manager
 * (qmgr_deliver.c, qmgr.c) and sluice-sim (src/sim) link the same module,
 * so the simulator runs the decisions qmgr makes, not a copy of them.
 *
 * A connection (struct drain_conn) is the policy's half: its transport,
 * state, the entry it carries, the next hop its agent holds a session to,
 * how often it was used.  Its I/O half (a socket and buffers in qmgr, a
 * simulated agent process in sluice-sim) hangs from ctx and is released
 * by ops->close.
 *
 * The decisions (docs/SIMULATION.md, "The queue manager"):
 *   - idle connections get work first (serve_idle), outside the
 *     scheduler's transport selection and its cap of two pending set-ups;
 *     a dead, rate-locked or rate-delayed transport is left to the
 *     scheduler;
 *   - then sched_select_transport: an idle connection of that transport is
 *     used, else a new one is opened, pending until the agent greets; a
 *     connect refused with "agents busy" (EAGAIN: master's listen queue is
 *     full) abandons the set-up and ends the drain for this turn;
 *   - the destination is chosen round robin (sched_select_entry with no
 *     preferred queue), then the idle connection whose agent holds a
 *     session to it, else one without a session, else any; a connection
 *     that has just greeted gives way only to one with that session;
 *   - a request written to an agent that has gone (EPIPE) on a connection
 *     that was idle before this turn puts the entry back; otherwise it is
 *     a crash;
 *   - a greeting late while every agent process of the transport is held
 *     by a greeted connection of ours is waited on; otherwise the
 *     transport is throttled;
 *   - entries the scheduler gives back (dead destination or transport) go
 *     to the retry transport, whose agent logs the deferral; the one entry
 *     whose agent died (a crash) is deferred through ops->defer_batch at
 *     once instead, so that its message can be tried again soon;
 *   - a reply that says "last" closes the connection, else it goes idle;
 *     connections idle for idle_time are closed.
 *
 * Errors: none returned; broken invariants are panics.
 */
#ifndef SLUICE_QMGR_DRAIN_H
#define SLUICE_QMGR_DRAIN_H

#include <stdbool.h>
#include <sys/queue.h>

#include "sched.h"

enum drain_conn_state { DRAIN_CONN_CONNECTING, DRAIN_CONN_IDLE, DRAIN_CONN_BUSY };

struct drain_conn {
	struct sched_transport *t;
	enum drain_conn_state state;
	struct sched_entry *entry;	/* BUSY: the delivery it carries */
	char *session;			/* queue name the agent holds a session to */
	double idle_since;
	long uses;			/* replies received on this connection */
	void *ctx;			/* the caller's I/O half */
	/* internal */
	unsigned long seq;		/* creation order */
	TAILQ_ENTRY(drain_conn) link;	/* drain->conns */
	TAILQ_ENTRY(drain_conn) idle_link;	/* drain->idle while idle */
};

TAILQ_HEAD(drain_conn_list, drain_conn);

/* What ops->connect did. */
enum drain_connect {
	DRAIN_CONNECTED,		/* pending until the agent greets */
	DRAIN_CONNECT_BUSY,		/* every agent busy (EAGAIN): next turn */
	DRAIN_CONNECT_FAILED,		/* no agent service: throttle the transport */
};

/* What ops->send did. */
enum drain_send {
	DRAIN_SENT,			/* written (or queued for writing) */
	DRAIN_SEND_GONE,		/* the agent had hung up (EPIPE, ECONNRESET) */
	DRAIN_SEND_FAILED,		/* any other failure */
};

/* Why the policy tells ops->note something (tracing; may be NULL). */
enum drain_note {
	DRAIN_NOTE_GIVES_WAY,		/* c gives way to other, holding q's session */
	DRAIN_NOTE_PUT_BACK,		/* c's agent had gone: the entry goes back */
	DRAIN_NOTE_CLOSE_IDLE,		/* c was idle for idle_time */
	DRAIN_NOTE_GIVE_BACK,		/* the scheduler gave an entry back (status, reason) */
};

struct drain_ops {
	/* The clock: the time of this turn. */
	double (*now)(void *ctx);
	/* Open a connection to c->t's agent service; set c->ctx. */
	enum drain_connect (*connect)(void *ctx, struct drain_conn *c);
	/* Write the request for e (c->entry) to c's agent; *why_r on failure. */
	enum drain_send (*send)(void *ctx, struct drain_conn *c, struct sched_entry *e,
				const char **why_r);
	/* c's agent broke while c carried a delivery: the caller's conn_crash
	 * (it calls drain_entry_finish with a CRASH outcome and drain_conn_free). */
	void (*crash)(void *ctx, struct drain_conn *c, const char *why);
	/* c went idle (waiting for work or for the agent to leave). */
	void (*idle)(void *ctx, struct drain_conn *c);
	/* Release c's I/O half; c itself is freed by the policy. */
	void (*close)(void *ctx, struct drain_conn *c);
	/* The master.cf process limit of t's service (0: none). */
	long (*process_limit)(void *ctx, const struct sched_transport *t);
	/* An entry's batch is done (OK or HOP_FAIL): free it, let the message go on. */
	void (*batch_done)(void *ctx, void *batch);
	/* The retry transport (created on first use). */
	struct sched_transport *(*retry_transport)(void *ctx);
	/* Nobody can defer a given-back batch for us: record it, free it. */
	void (*defer_batch)(void *ctx, void *batch, const char *status, const char *reason);
	/* A given-back batch goes to the retry transport: its message and size. */
	void *(*batch_retry)(void *ctx, void *batch, long *count_r);
	/* One step of a turn: import at most one message; true if it did. */
	bool (*feed)(void *ctx);
	/* Optional: after the scheduler's timers ran (sluice-sim's dead sweep). */
	void (*timers_ran)(void *ctx);
	/* Optional: tracing. */
	void (*note)(void *ctx, enum drain_note what, struct drain_conn *c,
		     const struct drain_conn *other, const struct sched_entry *e,
		     const char *status, const char *reason);
};

struct drain_pending;

struct drain {
	struct sched *s;
	const struct drain_ops *ops;
	void *ctx;
	double idle_time;		/* close connections idle this long */
	double idle_check_at;		/* no idle connection is due before */
	struct drain_conn_list conns;	/* every connection, newest first */
	struct drain_conn_list idle;	/* the idle ones, in the same order */
	unsigned long seq;
	long busy;			/* deliveries in progress */
	bool wakeup;			/* run the next turn without sleeping */
	struct drain_pending *pending, **pending_tail;
	struct sched_entry *crashed_entry;	/* being handed back after a crash */
};

/* drain_create - the policy for scheduler s; caller frees with drain_free(). */
struct drain *drain_create(struct sched *s, const struct drain_ops *ops, void *ctx,
			   double idle_time);
/* drain_free - close every connection (ops->close) and forget given-back
 * entries (their batches go to free_batch, which may be NULL). */
void drain_free(struct drain **dp, void (*free_batch)(void *batch));

/*
 * drain_turn - one turn of the queue manager's loop: the scheduler's
 * timers, given-back entries to the retry transport, drain, feed one
 * message, given-back entries again, drain again, close idle connections.
 * Returns how long to sleep: 0 when there is more to do, else until the
 * next scheduler timer, at most max_wait.
 */
double drain_turn(struct drain *d, double max_wait);

/* drain_run - give every transport that can use it a delivery. */
void drain_run(struct drain *d);
/* drain_close_idle - close connections idle for idle_time. */
void drain_close_idle(struct drain *d);
/* drain_wakeup - something changed: the next turn runs without sleeping. */
void drain_wakeup(struct drain *d);

/* sched_ops.entry_defer: a todo entry's destination died; re-routed next turn. */
void drain_entry_defer(void *drain, struct sched_entry *e, const char *status,
		       const char *reason);
/* drain_pending_defers - are given-back entries waiting? */
bool drain_pending_defers(const struct drain *d);
/* drain_process_defers - send given-back entries to the retry agent (a
 * crashed delivery, or any when retry is dead: ops->defer_batch). */
void drain_process_defers(struct drain *d);

/* drain_hello - c's agent greeted: connected, idle, offered the next
 * delivery.  True when a delivery was sent (c may be gone then). */
bool drain_hello(struct drain *d, struct drain_conn *c);
/* drain_greeting_wait - no greeting in time: true when every agent process
 * of c's transport is held by a greeted connection of ours (wait on). */
bool drain_greeting_wait(const struct drain *d, const struct drain_conn *c);
/* drain_connect_failed - the set-up of c failed: throttle, free c. */
void drain_connect_failed(struct drain *d, struct drain_conn *c);
/* drain_connect_lost - c's agent left before its greeting: free c. */
void drain_connect_lost(struct drain *d, struct drain_conn *c);
/* drain_reply - c's agent answered: outcome o, the session it holds now
 * (NULL or "" for none), last when it reached max_use.  True when c stays
 * (idle), false when it was closed. */
bool drain_reply(struct drain *d, struct drain_conn *c, const struct sched_outcome *o,
		 const char *session, bool last);
/* drain_entry_finish - c's delivery ended with o: the entry is done (a
 * CRASH hands it back through entry_defer; else its batch goes to
 * ops->batch_done). */
void drain_entry_finish(struct drain *d, struct drain_conn *c, const struct sched_outcome *o);
/* drain_conn_free - close c (ops->close) and forget it. */
void drain_conn_free(struct drain *d, struct drain_conn *c);

/* drain_agents - connections of t by state; held = greeted ones. */
void drain_agents(const struct drain *d, const struct sched_transport *t, long *busy_r,
		  long *idle_r, long *starting_r);

#endif
