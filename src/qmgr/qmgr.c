/*
 * qmgr - the sluice queue manager (Postfix oqmgr(8)).
 *
 * One single-threaded, event-driven process owning active/.  It reads
 * one-byte triggers from the FIFO master passes on descriptor 3, scans
 * incoming and deferred, imports messages into the active queue (leaky
 * bucket, fairness), routes their recipients, and hands entries to delivery
 * agents as the scheduler (sched.c) decides: round robin, slow start,
 * concurrency feedback, dead destinations, rate delays.
 *
 * Event handlers are named after their event; what happens each turn lives
 * in exactly one hook, qmgr_loop() (Postfix's qmgr_loop, Redis's
 * beforeSleep).  A watchdog (qmgr_daemon_timeout) ends a stuck queue
 * manager so that master restarts it.
 *
 * Triggers (manual TRIGGERS): I and W start an incoming scan, D a deferred
 * scan, A makes the next (and a running) deferred scan ignore time stamps,
 * F revives every dead transport and destination and overrides
 * defer_transports for the next scans.  A whole buffer is read at once,
 * duplicates collapse, and A and F take effect before D and I.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/mail_conf.h"
#include "global/mail_flow.h"
#include "global/mail_server.h"
#include "global/maps.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "drain.h"
#include "global/resolve.h"
#include "global/trigger.h"
#include "qmgr.h"
#include "qmgr_conf.h"
#include "util/ev.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define TRIGGER_BUF_SIZE	1024	/* bytes read per trigger event (Postfix) */
#define QMGR_MAX_WAIT		5.0	/* longest sleep between turns */
#define BACKLOG_SLICE_MAX	256	/* messages re-deferred in place per turn */
#define BACKLOG_SLICE_TIME	0.005	/* seconds of that work per turn, at most */
#define QMGR_AGENT_IDLE		10.0	/* seconds an unused agent connection is kept */

struct sched *qmgr_sched;
struct qmgr_message *qmgr_messages;
long qmgr_message_count;
long qmgr_vrfy_pend_count;
double qmgr_now;
struct htable *qmgr_recovered;

struct drain *qmgr_drain;

static volatile sig_atomic_t reload_pending;

/* qmgr_wakeup - something changed: run the loop hook again without sleeping */
void qmgr_wakeup(void)
{
	drain_wakeup(qmgr_drain);
}

/* qmgr_entry_defer - scheduler callback: a todo entry's destination died */
void qmgr_entry_defer(void *ctx, struct sched_entry *e, const char *status,
		      const char *reason)
{
	drain_entry_defer(qmgr_drain, e, status, reason);
}

/* drain_now - drain_ops.now: the wall clock at the start of this turn */
static double drain_now(void *ctx)
{
	return qmgr_now;
}

/* retry_transport - drain_ops.retry_transport */
static struct sched_transport *retry_transport(void *ctx)
{
	struct sched_transport *retry;
	struct sched_transport_conf tc;

	if ((retry = sched_transport_find(qmgr_sched, "retry")) == NULL) {
		qmgr_conf_transport("retry", &tc);
		retry = sched_transport_create(qmgr_sched, "retry", &tc);
	}
	return retry;
}

/* defer_batch - drain_ops.defer_batch: nobody left to log it for us */
static void defer_batch(void *ctx, void *batch, const char *status, const char *reason)
{
	struct qmgr_batch *b = batch;
	struct qmgr_message *msg = b->msg;

	qmgr_defer_batch(b, status, reason);
	msg->rcpt_mem -= (long)b->count;
	qmgr_batch_free(b);
	if (--msg->refcount == 0)
		qmgr_active_continue(msg);
}

/* batch_retry - drain_ops.batch_retry: the batch goes to the retry agent */
static void *batch_retry(void *ctx, void *batch, long *count_r)
{
	struct qmgr_batch *b = batch;

	*count_r = (long)b->count;
	return b->msg;
}

/* clog_warning - scheduler callback */
static void clog_warning(void *ctx, const struct sched_queue *q, const char *text)
{
	msg_warn("%s", text);
}

/* feedback_log - scheduler callback */
static void feedback_log(void *ctx, const char *text)
{
	msg_info("%s", text);
}

/* qmgr_trigger_event - one-byte requests on the FIFO */
static void qmgr_trigger_event(int event, void *ctx)
{
	char buf[TRIGGER_BUF_SIZE];
	int incoming = 0, deferred = 0, req;
	bool flush = false;
	ssize_t n;

	n = read(MAIL_SERVER_LISTEN_FD, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			msg_fatal("read trigger FIFO: %s", strerror(errno));
		return;
	}
	/* Fold the whole buffer first: modifiers precede scan starts. */
	req = trigger_fold(buf, (size_t)n);
	if (req & TRIGGER_SCAN_INCOMING)
		incoming |= QMGR_SCAN_START;
	if (req & TRIGGER_SCAN_DEFERRED)
		deferred |= QMGR_SCAN_START;
	if (req & TRIGGER_SCAN_ALL) {
		deferred |= QMGR_SCAN_ALL;
		incoming |= QMGR_SCAN_ALL;
	}
	if (req & TRIGGER_FLUSH) {
		flush = true;
		deferred |= QMGR_FLUSH_DFXP;
		incoming |= QMGR_FLUSH_DFXP;
	}
	qmgr_now = wall_time();
	if (flush)
		sched_flush_dead(qmgr_sched, qmgr_now);
	if (incoming)
		qmgr_scan_request(qmgr_incoming_scan, incoming);
	if (deferred)
		qmgr_scan_request(qmgr_deferred_scan, deferred);
	qmgr_wakeup();
}

/* qmgr_deferred_run_event - the queue_run_delay timer */
static void qmgr_deferred_run_event(int event, void *ctx)
{
	qmgr_scan_request(qmgr_deferred_scan, QMGR_SCAN_START);
	ev_timer_request(qmgr_deferred_run_event, NULL, (double)var_queue_run_delay);
}

/*
 * check_relay_service - relay_domains routes mail to relay_transport: say
 * so at once when master.cf has no such service (the mail would otherwise
 * only be deferred with "mail transport unavailable").
 */
static void check_relay_service(void)
{
	const struct master_ent *ents;
	char *transport, *nexthop;
	size_t n;

	if (var_relay_domains == NULL || *var_relay_domains == 0)
		return;
	resolve_split_transport(var_relay_transport, &transport, &nexthop);
	ents = mail_conf_master(&n);
	if (*transport && strcmp(transport, "error") != 0
	    && master_cf_find(ents, n, transport, "unix") == NULL)
		msg_warn("relay_domains is set but relay_transport names \"%s\", which is not a "
			 "service in master.cf: mail to those domains will be deferred", transport);
	free(transport);
	free(nexthop);
}

/* qmgr_reload_event - SIGHUP from master: new settings, nothing dropped */
static void qmgr_reload_event(int event, void *ctx)
{
	struct sched_conf conf;
	const char *error;

	if (mail_conf_read(NULL, &error) < 0) {
		msg_warn("reload: %s; keeping the running configuration", error);
		return;
	}
	mail_conf_set_process("qmgr", "qmgr");
	if (resolve_init(&error) < 0)
		msg_warn("reload: %s", error);
	else
		check_relay_service();
	qmgr_conf_sched(&conf);
	sched_reconfigure(qmgr_sched, &conf);
	sched_feed_init(&qmgr_sched->feed, var_qmgr_message_active_limit,
			var_qmgr_message_recipient_limit);
	qmgr_message_reconfigure();
	msg_info("reload -- configuration %s",
		 mail_conf_dir() ? mail_conf_dir() : "(embedded default)");
	qmgr_wakeup();
}

/* qmgr_stop_event - SIGTERM: active mail stays in active/ for the next start */
static void qmgr_stop_event(int event, void *ctx)
{
	msg_info("terminating on signal %d", (int)(long)ctx);
	qmgr_now = wall_time();
	qmgr_state_save();
	exit(0);
}

/* qmgr_watchdog - the loop is stuck: let master restart us */
static void qmgr_watchdog(int sig)
{
	msg_fatal("watchdog timeout: no progress for %ld seconds", var_qmgr_daemon_timeout);
}

/*
 * backlog_slice - re-defer due messages of dead destinations in place
 * (qmgr_backlog.c), starting with *id, for at most BACKLOG_SLICE_MAX
 * messages or BACKLOG_SLICE_TIME seconds: one slice per turn, so the
 * event loop (replies, new mail, triggers) is never held for long.
 * Returns 1 with *id (and *flags) set to a message that needs the normal
 * import, or 0 when the slice ended without one.
 */
static int backlog_slice(const char **id, int *flags)
{
	double start = wall_time();
	int n = 0;

	while (qmgr_backlog_defer(*id, *flags)) {
		if (++n >= BACKLOG_SLICE_MAX || wall_time() - start >= BACKLOG_SLICE_TIME
		    || (*id = qmgr_scan_next(qmgr_deferred_scan, flags)) == NULL) {
			qmgr_backlog_sync();
			return 0;
		}
	}
	qmgr_backlog_sync();
	return 1;
}

/* feed_one - leaky bucket + fairness: import at most one message
 * (*incoming_r: it came from incoming/) */
static bool feed_one(bool *incoming_r)
{
	enum sched_feed_queue which;
	struct qmgr_scan *scan;
	const char *id;
	int flags;

	for (int tries = 0; tries < 2; tries++) {
		which = sched_feed_choose(&qmgr_sched->feed, qmgr_scan_running(qmgr_incoming_scan),
					  qmgr_scan_running(qmgr_deferred_scan),
					  qmgr_message_count, qmgr_sched->recipient_count);
		if (which == SCHED_FEED_NONE)
			return false;
		scan = which == SCHED_FEED_INCOMING ? qmgr_incoming_scan : qmgr_deferred_scan;
		if ((id = qmgr_scan_next(scan, &flags)) == NULL)
			continue;
		if (which == SCHED_FEED_DEFERRED && backlog_slice(&id, &flags) == 0) {
			/* The slice re-deferred what it could; nothing to import. */
			*incoming_r = false;
			sched_feed_imported(&qmgr_sched->feed, qmgr_message_count,
					    qmgr_sched->recipient_count);
			return true;
		}
		(void)qmgr_active_feed(which == SCHED_FEED_INCOMING ? "incoming" : "deferred",
				       id, flags);
		*incoming_r = which == SCHED_FEED_INCOMING;
		sched_feed_imported(&qmgr_sched->feed, qmgr_message_count,
				    qmgr_sched->recipient_count);
		return true;
	}
	return false;
}

/*
 * table_change_check - a routing table (transport_maps, relocated_maps,
 * virtual_*_domains ...) was rebuilt: take no new messages, and exit once
 * the active queue is empty, so that master starts a queue manager that
 * reads the new table (Postfix's qmgr does the same).  Looked at once a
 * second at most: it costs a stat() per table file.
 */
static bool table_changed;

static void table_change_check(void)
{
	static double last;
	const char *spec;

	if (!table_changed && qmgr_now - last >= 1.0) {
		last = qmgr_now;
		if ((spec = maps_any_changed()) != NULL) {
			msg_info("table %s has changed -- restarting", spec);
			table_changed = true;
		}
	}
	if (table_changed && qmgr_message_count == 0)
		exit(0);
}

/* feed - drain_ops.feed: one import, and cleanup's in_flow_delay tokens */
static bool feed(void *ctx)
{
	bool fed, fed_incoming = false;

	table_change_check();
	fed = table_changed ? false : feed_one(&fed_incoming);
	/* in_flow_delay tokens for cleanup (global/mail_flow.h) */
	mail_flow_qmgr(var_queue_directory, fed && fed_incoming,
		       !qmgr_scan_running(qmgr_incoming_scan));
	return fed;
}

/* qmgr_loop - what happens each turn (drain.c); returns how long to sleep */
static double qmgr_loop(void)
{
	double wait = QMGR_MAX_WAIT;

	/* Never sleep past our own watchdog. */
	if (wait > (double)var_qmgr_daemon_timeout / 2)
		wait = (double)var_qmgr_daemon_timeout / 2;
	qmgr_now = wall_time();
	return drain_turn(qmgr_drain, wait);
}

int main(int argc, char **argv)
{
	static const struct sched_ops ops = {
		.entry_defer = qmgr_entry_defer,
		.clog_warning = clog_warning,
		.log = feedback_log,
		.queue_init_window = qmgr_state_init_window,
	};
	static struct drain_ops dops = {
		.now = drain_now,
		.retry_transport = retry_transport,
		.defer_batch = defer_batch,
		.batch_retry = batch_retry,
		.feed = feed,
	};
	struct mail_server_opts opts;
	struct sched_conf conf;
	const char *error;
	double rearm;

	mail_server_init(argc, argv, "qmgr", &opts);
	if (!opts.has_listen_fd)
		msg_fatal("no trigger FIFO on descriptor %d: qmgr is started by master",
			  MAIL_SERVER_LISTEN_FD);
	mail_server_drop_privileges(&opts, false);
	srand48((long)getpid() ^ (long)wall_time());
	if (resolve_init(&error) < 0)
		msg_fatal("%s", error);
	check_relay_service();

	qmgr_conf_sched(&conf);
	qmgr_sched = sched_create(&conf, &ops, NULL);
	sched_feed_init(&qmgr_sched->feed, var_qmgr_message_active_limit,
			var_qmgr_message_recipient_limit);
	qmgr_now = wall_time();
	qmgr_deliver_ops(&dops);
	qmgr_drain = drain_create(qmgr_sched, &dops, NULL, QMGR_AGENT_IDLE);

	ev_init();
	qmgr_state_init();
	qmgr_state_load();
	set_nonblock(MAIL_SERVER_LISTEN_FD, true);
	ev_read_enable(MAIL_SERVER_LISTEN_FD, qmgr_trigger_event, NULL, -1);
	ev_signal(SIGHUP, qmgr_reload_event, NULL);
	ev_signal(SIGTERM, qmgr_stop_event, (void *)(long)SIGTERM);
	signal(SIGALRM, qmgr_watchdog);
	alarm((unsigned)var_qmgr_daemon_timeout);	/* a stuck start-up too */

	/* Crash recovery (oqmgr-notes 1g), then the first scans. */
	qmgr_recovered = htable_create(64);
	qmgr_active_recover();
	qmgr_incoming_scan = qmgr_scan_create("incoming", false);
	qmgr_deferred_scan = qmgr_scan_create("deferred", true);
	qmgr_scan_request(qmgr_incoming_scan, QMGR_SCAN_START);
	qmgr_scan_request(qmgr_deferred_scan, QMGR_SCAN_START);
	ev_timer_request(qmgr_deferred_run_event, NULL, (double)var_queue_run_delay);
	qmgr_control_init();

	rearm = var_qmgr_daemon_timeout >= 4 ? 1.0 : (double)var_qmgr_daemon_timeout / 4;
	for (double armed = -1e9;;) {
		double wait, now = mono_time();

		/*
		 * The watchdog: re-armed at most once a second, or a quarter of
		 * its time-out when that is shorter (a system call per turn of
		 * the loop was several per message).  The loop turns at least
		 * every half time-out (qmgr_loop), so a working queue manager is
		 * always re-armed in time; a stuck one is ended at most that
		 * much earlier than qmgr_daemon_timeout after its last turn.
		 */
		if (now - armed >= rearm) {
			alarm((unsigned)var_qmgr_daemon_timeout);
			armed = now;
		}
		wait = qmgr_loop();
		ev_run_once(wait);
	}
}
