/*
 * qmgr - the queue manager's private interface (one header for the
 * program, as Postfix's oqmgr/qmgr.h).
 *
 * Modules:
 *   qmgr.c          main, event handlers, the per-turn loop hook, reload
 *   qmgr_scan.c     incoming scans; the deferred queue's due-time index
 *   qmgr_active.c   import into active/, and what happens when a message
 *                   is done (remove, defer with backoff, expire, warn,
 *                   quarantine)
 *   qmgr_message.c  read envelope and recipients (in chunks), route them,
 *                   group them into entries of the scheduler
 *   qmgr_deliver.c  connections to delivery agents, requests and replies
 *   drain.c         the drain policy: which connection carries which
 *                   delivery, the order of a turn's steps (no I/O; shared
 *                   with sluice-sim)
 *   qmgr_bounce.c   asynchronous requests to the bounce service
 *   qmgr_defer.c    recipients the queue manager defers itself
 *   qmgr_control.c  requests from the queue tools (hold/delete/requeue of
 *                   messages in the active queue; the live state)
 *   qmgr_state.c    the live state report; five-minute counters
 *   qmgr_stats.c    the pure five-minute counters (qmgr_stats.h)
 *   qmgr_conf.c     the scheduler's settings from main.cf and master.cf
 *                   (qmgr_conf.h; shared with sluice-sim)
 *   qmgr_metrics.c  counters since start for the metrics service
 *   sched.c         the pure scheduler (sched.h)
 */
#ifndef SLUICE_QMGR_H
#define SLUICE_QMGR_H

#include <stdbool.h>
#include <stddef.h>

#include "global/queue_file.h"
#include "sched.h"

/* Scan and per-message flags (Postfix qflags). */
#define QMGR_SCAN_ALL		(1 << 0)	/* ignore deferred time stamps */
#define QMGR_FLUSH_ONCE		(1 << 1)	/* revive dead destinations now */
#define QMGR_FLUSH_DFXP		(1 << 2)	/* override defer_transports */
#define QMGR_FLUSH_EACH		(1 << 3)	/* this message: revive its destinations */
#define QMGR_FORCE_EXPIRE	(1 << 4)	/* this message: expire now */
#define QMGR_SCAN_START		(1 << 5)	/* start (or restart) the scan */

/* Message flags. */
#define QMGR_MSG_DEFERRED	(1 << 0)	/* some recipient was deferred */
#define QMGR_MSG_CORRUPT	(1 << 1)	/* an agent found the file damaged */
#define QMGR_MSG_HOLD		(1 << 2)	/* put on hold when done (tool request) */
#define QMGR_MSG_DELETE		(1 << 3)	/* delete when done (tool request) */
#define QMGR_MSG_REQUEUE	(1 << 4)	/* requeue when done (tool request) */
#define QMGR_MSG_DROPPED	(1 << 5)	/* waiting recipients were taken back */
#define QMGR_MSG_LOGS		(1 << 6)	/* bounce/ or trace/ may hold records */
#define QMGR_MSG_CRASHED	(1 << 7)	/* a delivery agent died while delivering it */

struct qmgr_rcpt {
	char *address;
	char *orig_rcpt;
	char *dsn_orcpt;
	int notify;
	long offset;
};

/* The recipients of one scheduler entry (sched_entry->ctx). */
struct qmgr_batch {
	struct qmgr_message *msg;
	struct qmgr_rcpt *rcpt;
	size_t count;
	size_t cap;
};

struct qmgr_message {
	char id[QUEUE_ID_SIZE];
	struct qf_envelope env;		/* sender, times, sizes, warn record */
	double active_time;		/* entered active/ */
	int flags;			/* QMGR_MSG_* */
	int qflags;			/* QMGR_SCAN_ALL ... QMGR_FORCE_EXPIRE */
	int tflags;			/* DEL_REQ_FLAG_* for every request */
	long refcount;			/* entries alive */
	long rcpt_offset;		/* where to read more recipients; 0: all read */
	long rcpts_read;		/* pending recipients read so far */
	long rcpt_mem;			/* recipients of this message in memory */
	int done_step;			/* progress of the end-of-message chain */
	char *filter;			/* content_filter "transport:nexthop", or NULL */
	bool in_done;			/* the chain runs (async bounce requests) */
	struct qmgr_message *prev, *next;
};

/* Global state (qmgr.c). */
extern struct sched *qmgr_sched;
extern struct qmgr_message *qmgr_messages;	/* active queue, in import order */
extern long qmgr_message_count;
extern long qmgr_vrfy_pend_count;
extern double qmgr_now;			/* wall clock at the start of this turn */
extern struct htable *qmgr_recovered;	/* IDs found in active/ at start-up */
extern struct drain *qmgr_drain;	/* the drain policy (drain.h) */

/* qmgr_scan.c */
struct qmgr_scan;
extern struct qmgr_scan *qmgr_incoming_scan;
extern struct qmgr_scan *qmgr_deferred_scan;
struct qmgr_scan *qmgr_scan_create(const char *queue, bool indexed);
void qmgr_scan_free(struct qmgr_scan **scanp);
void qmgr_scan_request(struct qmgr_scan *scan, int flags);
/* qmgr_scan_next - next queue ID to try, or NULL when this scan is done. */
const char *qmgr_scan_next(struct qmgr_scan *scan, int *flags_r);
bool qmgr_scan_running(const struct qmgr_scan *scan);
void qmgr_defer_index_add(const char *id, double due);
long qmgr_defer_index_size(void);

/* qmgr_active.c */
int qmgr_active_feed(const char *queue, const char *id, int scan_flags);
void qmgr_active_recover(void);
void qmgr_active_done(struct qmgr_message *msg);
void qmgr_active_continue(struct qmgr_message *msg);

/* qmgr_message.c */
struct qmgr_message *qmgr_message_alloc(const char *id, int qflags);
void qmgr_message_free(struct qmgr_message **msgp);
/* qmgr_message_read - read envelope and the first recipients: 0, -1
 * transient trouble, QMGR_READ_LOCKED (an agent still delivers it), or
 * QF_CORRUPT. */
#define QMGR_READ_LOCKED	(-3)
int qmgr_message_read(struct qmgr_message *msg);
/* qmgr_message_more - read the next chunk of recipients (refcount 0). */
int qmgr_message_more(struct qmgr_message *msg);
void qmgr_batch_free(struct qmgr_batch *b);
char *qmgr_message_path(const struct qmgr_message *msg);
void qmgr_message_reconfigure(void);
bool qmgr_rcpt_dead(const char *addr, char **why_r);

/* qmgr_backlog.c */
/* qmgr_backlog_defer - re-defer a due deferred message whose every pending
 * recipient waits for a dead destination, without importing it: 1 done, 0
 * not such a message (import it as usual). */
int qmgr_backlog_defer(const char *id, int scan_flags);
void qmgr_backlog_sync(void);

/* qmgr_deliver.c */
struct drain_ops;
/* qmgr_deliver_ops - fill in the I/O operations of the drain policy. */
void qmgr_deliver_ops(struct drain_ops *ops);
long qmgr_deliver_busy_count(void);
/* qmgr_deliver_agents - agent connections of t: delivering, idle, being
 * set up; and the master.cf process limit of its service (0: none). */
void qmgr_deliver_agents(const struct sched_transport *t, long *busy_r, long *idle_r,
			 long *starting_r, long *limit_r);

/* qmgr_bounce.c */
#define QMGR_BOUNCE_FLUSH	"bounce_flush"
#define QMGR_DEFER_FLUSH	"defer_flush"
#define QMGR_DEFER_WARN		"defer_warn"
#define QMGR_TRACE_FLUSH	"trace_flush"
typedef void qmgr_bounce_cb(struct qmgr_message *msg, int status);
void qmgr_bounce_request(struct qmgr_message *msg, const char *request, int flags,
			 qmgr_bounce_cb *cb);

/* qmgr_defer.c */
void qmgr_defer_rcpt(struct qmgr_message *msg, const struct qmgr_rcpt *rcpt,
		     const char *status, const char *reason);
void qmgr_defer_batch(struct qmgr_batch *b, const char *status, const char *reason);
void qmgr_discard_rcpt(struct qmgr_message *msg, const struct qmgr_rcpt *rcpt,
		       const char *reason);
void qmgr_bounce_rcpt(struct qmgr_message *msg, const struct qmgr_rcpt *rcpt,
		      const char *status, const char *reason);

/* qmgr_control.c */
void qmgr_control_init(void);

/* qmgr_state.c - live state for "sluice status --json" and "sluice top" */
struct buf;
void qmgr_state_init(void);
/* qmgr_state_count - recipients delivered/failed by one delivery to q */
void qmgr_state_count(const struct sched_queue *q, long delivered, long failed);
/* qmgr_state_encode - the state as attributes appended to an open frame */
void qmgr_state_encode(struct buf *out);
/* qmgr_state_load - destination health saved by the last run (at start,
 * after the scheduler exists); starts the periodic save. */
void qmgr_state_load(void);
/* qmgr_state_save - write it to data_directory (stop, and periodically) */
void qmgr_state_save(void);
/* qmgr_state_init_window - sched_ops.queue_init_window */
long qmgr_state_init_window(void *ctx, const struct sched_transport *t, const char *name);

/* qmgr_metrics.c - counters since start, as Prometheus text */
#define QMGR_OUTCOME_SENT	0
#define QMGR_OUTCOME_DEFERRED	1
#define QMGR_OUTCOME_BOUNCED	2
#define QMGR_OUTCOMES		3
/* qmgr_metrics_outcome - n recipients of transport (rcpt: one of them, for
 * its domain) had outcome QMGR_OUTCOME_*; transport "qmgr" when the queue
 * manager logged the outcome itself. */
void qmgr_metrics_outcome(const char *transport, const char *rcpt, int outcome, long n);
/* qmgr_metrics_delivered - n recipients delivered, delay s after arrival */
void qmgr_metrics_delivered(const char *transport, double delay, long n);
void qmgr_metrics_inserted(long nrcpt, long size);
void qmgr_metrics_removed(void);
void qmgr_metrics_expired(void);
/* qmgr_metrics_text - append the text format of all series to out */
void qmgr_metrics_text(struct buf *out);

/* qmgr.c */
void qmgr_entry_defer(void *ctx, struct sched_entry *e, const char *status,
		      const char *reason);
void qmgr_wakeup(void);

#endif
