/*
 * qmgr_message - messages in the active queue: read the envelope, read
 * recipients in chunks, route them and group them into scheduler entries.
 *
 * Recipients are read lazily: at most a chunk at a time, sized so that the
 * recipients in memory stay near qmgr_message_recipient_limit; the rest of
 * a big message is read when its entries have drained (Postfix oqmgr's
 * rcpt_offset).  Routing is an in-process call (resolve.c), so a recipient
 * costs no round trip to another process.
 *
 * Recipients whose destination or transport is known dead go to the retry
 * transport with the saved reason as next hop (the deferral is then logged
 * by the retry agent, as Postfix does); when retry itself is dead, or for
 * defer_transports and the verification limit, the queue manager defers
 * them itself (qmgr_defer.c).  Mail to the local double-bounce address is
 * logged and discarded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "global/deliver_log.h"
#include "global/deliver_request.h"
#include "global/dsn.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/resolve.h"
#include "qmgr.h"
#include "qmgr_conf.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define RCPT_CHUNK_MIN	10
#define RCPT_CHUNK_MAX	1000

/* qmgr_message_alloc - a new, empty message */
struct qmgr_message *qmgr_message_alloc(const char *id, int qflags)
{
	struct qmgr_message *msg = xcalloc(1, sizeof(*msg));

	snprintf(msg->id, sizeof(msg->id), "%s", id);
	msg->qflags = qflags;
	msg->active_time = qmgr_now;
	return msg;
}

/* qmgr_message_free - release a message that has no entries left */
void qmgr_message_free(struct qmgr_message **msgp)
{
	struct qmgr_message *msg = *msgp;

	*msgp = NULL;
	if (msg->refcount != 0)
		msg_panic("qmgr_message_free: %s has %ld entries", msg->id, msg->refcount);
	qf_envelope_deinit(&msg->env);
	free(msg->filter);
	free(msg);
}

/* qmgr_message_path - where the message lives now (active/) */
char *qmgr_message_path(const struct qmgr_message *msg)
{
	return queue_path(var_queue_directory, "active", msg->id);
}

/* qmgr_batch_free - release a batch and its recipients */
void qmgr_batch_free(struct qmgr_batch *b)
{
	for (size_t i = 0; i < b->count; i++) {
		free(b->rcpt[i].address);
		free(b->rcpt[i].orig_rcpt);
		free(b->rcpt[i].dsn_orcpt);
	}
	free(b->rcpt);
	free(b);
}

/* transport_get - the scheduler's transport, created on first use */
static struct sched_transport *transport_get(const char *name)
{
	struct sched_transport *t = sched_transport_find(qmgr_sched, name);
	struct sched_transport_conf tc;

	if (t == NULL) {
		qmgr_conf_transport(name, &tc);
		t = sched_transport_create(qmgr_sched, name, &tc);
	}
	return t;
}

/* qmgr_message_reconfigure - reload: refresh every known transport */
void qmgr_message_reconfigure(void)
{
	struct sched_transport_conf tc;
	struct sched_transport *t = qmgr_sched->xport_head;

	if (t == NULL)
		return;
	do {
		qmgr_conf_transport(t->name, &tc);
		sched_transport_update_conf(t, &tc);
		t = t->rr_next;
	} while (t != qmgr_sched->xport_head);
}

/* is_double_bounce - the local double-bounce address? */
static bool is_double_bounce(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t n = at ? (size_t)(at - addr) : strlen(addr);

	if (strlen(var_double_bounce_sender) != n
	    || strncasecmp(addr, var_double_bounce_sender, n) != 0)
		return false;
	return at == NULL || resolve_local_domain(at + 1);
}

struct grouping {
	struct htable *open;		/* "transport\0queue" -> batch in progress */
	struct qmgr_message *msg;
};

/* batch_close - hand a full or final batch to the scheduler */
static void batch_close(struct qmgr_message *msg, struct sched_queue *q, struct qmgr_batch *b)
{
	struct sched_entry *e;

	e = sched_entry_create(q, msg, (long)b->count, qmgr_now);
	e->ctx = b;
	msg->refcount++;
	msg->rcpt_mem += (long)b->count;
}

/* add_to_queue - put one recipient into the open batch for q */
static void add_to_queue(struct grouping *g, struct sched_queue *q, struct qmgr_rcpt *r)
{
	char key[512];
	struct qmgr_batch *b;
	long limit = q->transport->conf.recipient_limit;

	snprintf(key, sizeof(key), "%s %s", q->transport->name, q->name);
	if ((b = htable_find(g->open, key)) == NULL) {
		b = xcalloc(1, sizeof(*b));
		b->msg = g->msg;
		htable_enter(g->open, key, b);
	}
	if (b->count == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 4;
		b->rcpt = xreallocarray(b->rcpt, b->cap, sizeof(*b->rcpt));
	}
	b->rcpt[b->count++] = *r;
	if (limit > 0 && (long)b->count >= limit) {
		htable_delete(g->open, key);
		batch_close(g->msg, q, b);
	}
}

/* queue_name - the scheduler's queue name for a resolved recipient */
static void queue_name(const struct sched_transport *t, const char *nexthop, const char *addr,
		       char *name, size_t size)
{
	if (t->conf.recipient_limit == 1) {
		/* Per-recipient queues: concurrency per mailbox (local). */
		const char *at = strrchr(addr, '@');
		size_t n = at ? (size_t)(at - addr) : strlen(addr);
		char full[600];

		snprintf(full, sizeof(full), "%.*s@%s", (int)n, addr, nexthop);
		if (sched_queue_name_rcpt(full, var_recipient_delimiter, name, size) < 0)
			snprintf(name, size, "%s", nexthop);
	} else {
		snprintf(name, size, "%s", nexthop);
	}
}

/* queue_get - the scheduler's queue for a resolved recipient */
static struct sched_queue *queue_get(struct sched_transport *t, const char *nexthop,
				     const char *addr)
{
	char name[512];
	struct sched_queue *q;

	queue_name(t, nexthop, addr, name, sizeof(name));
	if ((q = sched_queue_find(t, name)) == NULL)
		q = sched_queue_create(t, name, nexthop, qmgr_now);
	return q;
}

/*
 * filter_route - content_filter: the whole message goes to the filter's
 * transport; its next hop is the filter's own, else default_filter_nexthop,
 * else the recipient's domain (oqmgr(8) default_filter_nexthop).
 */
static void filter_route(const char *filter, struct resolve_reply *rr)
{
	char *transport, *nexthop;
	const char *at;

	resolve_split_transport(filter, &transport, &nexthop);
	if (*nexthop == 0) {
		free(nexthop);
		if (*var_default_filter_nexthop)
			nexthop = xstrdup(var_default_filter_nexthop);
		else
			nexthop = xstrdup((at = strrchr(rr->recipient, '@')) ? at + 1
					  : var_myhostname);
	}
	free(rr->transport);
	free(rr->nexthop);
	rr->transport = transport;
	rr->nexthop = nexthop;
	rr->flags &= ~RESOLVE_FLAG_LOCAL;
}

/* route_rcpt - decide where one recipient goes */
static void route_rcpt(struct grouping *g, struct qmgr_rcpt *r)
{
	struct qmgr_message *msg = g->msg;
	struct resolve_reply rr;
	struct sched_transport *t, *retry;
	struct sched_queue *q;
	char *why;

	/*
	 * Force-expired (sluice expire, Postfix's postsuper -e): no delivery;
	 * every recipient is deferred with the administrative reason, and the
	 * end of this attempt returns the message to its sender as expired.
	 */
	if (msg->qflags & QMGR_FORCE_EXPIRE) {
		qmgr_defer_rcpt(msg, r, "4.7.0", "message is administratively expired");
		goto drop;
	}
	/* A leading '-' could pass for an option to a command (allow_min_user). */
	if (!var_allow_min_user && r->address[0] == '-') {
		qmgr_bounce_rcpt(msg, r, "5.1.3", "bad address syntax");
		goto drop;
	}
	if (is_double_bounce(r->address)) {
		qmgr_discard_rcpt(msg, r, "undeliverable postmaster notification discarded");
		goto drop;
	}
	if ((msg->tflags & DEL_REQ_FLAG_VERIFY)
	    && qmgr_vrfy_pend_count > var_address_verify_pending_request_limit) {
		qmgr_defer_rcpt(msg, r, "4.3.2", "Too many address verification requests");
		goto drop;
	}
	resolve_addr_sender(r->address, msg->env.sender, &rr);
	if (rr.flags & RESOLVE_FLAG_FAIL) {
		/* Not "not found": the defaults might send the mail elsewhere. */
		qmgr_defer_rcpt(msg, r, "4.3.0", "lookup table not available");
		resolve_reply_deinit(&rr);
		goto drop;
	}
	if (msg->filter && !(rr.flags & RESOLVE_FLAG_ERROR))
		filter_route(msg->filter, &rr);
	if (!(msg->qflags & QMGR_FLUSH_DFXP) && *var_defer_transports
	    && str_list_match(var_defer_transports, rr.transport)) {
		qmgr_defer_rcpt(msg, r, "4.3.2", "deferred transport");
		resolve_reply_deinit(&rr);
		goto drop;
	}
	t = transport_get(rr.transport);
	if ((msg->qflags & QMGR_FLUSH_EACH) && sched_transport_dead(t))
		sched_transport_revive(t);
	q = NULL;
	why = NULL;
	if (sched_transport_dead(t)) {
		why = xasprintf("%s %s", t->dead_status, t->dead_reason);
	} else {
		q = queue_get(t, rr.nexthop, rr.recipient);
		if (sched_queue_dead(q)) {
			if (msg->qflags & QMGR_FLUSH_EACH) {
				sched_queue_revive(q, qmgr_now);
			} else {
				/* The scheduler's reason already says "suspended". */
				why = xasprintf("%s %s", q->dead_status, q->dead_reason);
				q = NULL;
			}
		}
	}
	if (why) {
		/* Known dead: the retry agent logs the deferral with that reason. */
		retry = transport_get("retry");
		if (strcmp(t->name, "retry") == 0 || sched_transport_dead(retry)) {
			char status[16];
			const char *reason = dsn_status_from_text(why, status);

			qmgr_defer_rcpt(msg, r, reason ? status : "4.0.0", reason ? reason : why);
			free(why);
			resolve_reply_deinit(&rr);
			goto drop;
		}
		q = queue_get(retry, why, rr.recipient);
		free(why);
	}
	resolve_reply_deinit(&rr);
	add_to_queue(g, q, r);
	return;

drop:
	free(r->address);
	free(r->orig_rcpt);
	free(r->dsn_orcpt);
}

/*
 * qmgr_rcpt_dead - would route_rcpt() send this recipient of an ordinary
 * message (no filter, no flush, no expiry, no verification) to the retry
 * transport because its transport or destination is held as dead?  Then
 * *why_r is the saved "status reason" (the caller frees it).  Nothing is
 * created: a transport or queue the scheduler does not hold is not dead.
 * Any other fate (double bounce, bad syntax, defer_transports) is "no".
 */
bool qmgr_rcpt_dead(const char *addr, char **why_r)
{
	struct resolve_reply rr;
	struct sched_transport *t;
	struct sched_queue *q;
	char name[512];

	*why_r = NULL;
	if (!var_allow_min_user && addr[0] == '-')
		return false;
	if (is_double_bounce(addr))
		return false;
	resolve_addr(addr, &rr);
	if (*var_defer_transports && str_list_match(var_defer_transports, rr.transport)) {
		resolve_reply_deinit(&rr);
		return false;
	}
	if ((t = sched_transport_find(qmgr_sched, rr.transport)) != NULL) {
		if (sched_transport_dead(t)) {
			*why_r = xasprintf("%s %s", t->dead_status, t->dead_reason);
		} else {
			queue_name(t, rr.nexthop, rr.recipient, name, sizeof(name));
			if ((q = sched_queue_find(t, name)) != NULL && sched_queue_dead(q))
				*why_r = xasprintf("%s %s", q->dead_status, q->dead_reason);
		}
	}
	resolve_reply_deinit(&rr);
	return *why_r != NULL;
}

/* read_chunk - read and route the next chunk of recipients */
static int read_chunk(struct qmgr_message *msg, struct qf *qf)
{
	long room = (long)var_qmgr_message_recipient_limit - qmgr_sched->recipient_count;
	long want = room < RCPT_CHUNK_MIN ? RCPT_CHUNK_MIN : room > RCPT_CHUNK_MAX
		? RCPT_CHUNK_MAX : room;
	struct qf_rcpt *rcpts = xcalloc((size_t)want, sizeof(*rcpts));
	struct grouping g = {.open = htable_create(16), .msg = msg};
	struct htable_info **open;
	const char *error;
	size_t nopen;
	long n;

	n = qf_read_rcpts(qf, &msg->rcpt_offset, rcpts, (size_t)want, false, &error);
	if (n < 0) {
		msg_warn("%s: read recipients: %s", msg->id, error);
		free(rcpts);
		htable_free(&g.open, NULL);
		return (int)n;
	}
	/*
	 * Recipients that were done before this import: an earlier attempt
	 * dealt with them and may have left bounce/ or trace/ records to
	 * report, even for a file found in incoming/ (a queue manager that died
	 * twice: once before its end-of-message flush, once before it took the
	 * recovered file in again).
	 */
	msg->rcpts_read += n;
	if (msg->rcpt_offset == 0 && msg->rcpts_read < msg->env.rcpt_count)
		msg->flags |= QMGR_MSG_LOGS;
	for (long i = 0; i < n; i++) {
		if (rcpts[i].notify & DSN_NOTIFY_SUCCESS)
			msg->flags |= QMGR_MSG_LOGS;	/* success notices via trace/ */
		struct qmgr_rcpt r = {
			.address = rcpts[i].address,
			.orig_rcpt = rcpts[i].orig_rcpt,
			.dsn_orcpt = rcpts[i].dsn_orcpt,
			.notify = rcpts[i].notify,
			.offset = rcpts[i].offset,
		};
		route_rcpt(&g, &r);
	}
	free(rcpts);

	/* What is left open becomes the last entry of each queue. */
	open = htable_list(g.open, &nopen);
	for (size_t i = 0; i < nopen; i++) {
		struct qmgr_batch *b = open[i]->value;
		char *key = xstrdup(open[i]->key), *space = strchr(key, ' ');
		struct sched_transport *t;
		struct sched_queue *q;

		*space = 0;
		t = sched_transport_find(qmgr_sched, key);
		q = t ? sched_queue_find(t, space + 1) : NULL;
		if (q == NULL || sched_queue_dead(q) || sched_transport_dead(t)) {
			/* It died while we were reading (cannot happen in one turn). */
			qmgr_defer_batch(b, "4.3.0", "destination unavailable");
			qmgr_batch_free(b);
		} else {
			batch_close(msg, q, b);
		}
		free(key);
	}
	free(open);
	htable_free(&g.open, NULL);
	return 0;
}

/* open_message - open the active file read-write */
static struct qf *open_message(struct qmgr_message *msg, int *result_r)
{
	char *path = qmgr_message_path(msg);
	const char *error;
	bool corrupt;
	struct qf *qf;

	qf = qf_open(path, true, &corrupt, &error);
	if (qf == NULL) {
		msg_warn("%s: %s", msg->id, error);
		*result_r = corrupt ? QF_CORRUPT : -1;
	}
	free(path);
	return qf;
}

/* qmgr_message_read - envelope and first recipients */
int qmgr_message_read(struct qmgr_message *msg)
{
	const char *error;
	struct qf *qf;
	int r = 0;

	if ((qf = open_message(msg, &r)) == NULL)
		return r;
	/*
	 * An agent of an earlier queue manager may still be delivering it;
	 * only files found in active/ at start-up can be in that state.
	 */
	if (htable_find(qmgr_recovered, msg->id)) {
		if (flock(qf_fd(qf), LOCK_EX | LOCK_NB) < 0) {
			qf_close(&qf);
			return QMGR_READ_LOCKED;
		}
		(void)flock(qf_fd(qf), LOCK_UN);
		htable_delete(qmgr_recovered, msg->id);
	}
	if ((r = qf_read_envelope(qf, &msg->env, &error)) < 0) {
		msg_warn("%s: %s", msg->id, error);
		qf_close(&qf);
		return r == QF_CORRUPT ? QF_CORRUPT : -1;
	}
	{
		struct buf esc;

		buf_init(&esc, 64);
		msg_info("%s: from=<%s>, size=%ld, nrcpt=%ld (queue active)", msg->id,
			 deliver_log_address(&esc, msg->env.sender), msg->env.content_size,
			 msg->env.rcpt_count);
		buf_deinit(&esc);
		qmgr_metrics_inserted(msg->env.rcpt_count, msg->env.content_size);
	}
	for (char **a = msg->env.attrs; a && *a; a++)
		if (strncmp(*a, "filter=", 7) == 0 && (*a)[7] != 0) {
			free(msg->filter);
			msg->filter = xstrdup(*a + 7);
		}
	if (msg->env.flags & QF_FLAG_TRACE_VERBOSE)
		msg->tflags |= DEL_REQ_FLAG_TRACE;
	if (msg->env.flags & QF_FLAG_TRACE_VERIFY) {
		msg->tflags |= DEL_REQ_FLAG_VERIFY;
		qmgr_vrfy_pend_count++;		/* message_leave() gives it back */
	}
	if (var_confirm_delay_cleared && msg->env.warn_time == -1)
		msg->tflags |= DEL_REQ_FLAG_RECORD;
	msg->rcpt_offset = 0;
	r = read_chunk(msg, qf);
	qf_close(&qf);
	return r;
}

/* qmgr_message_more - next chunk of a big message */
int qmgr_message_more(struct qmgr_message *msg)
{
	struct qf *qf;
	int r = 0;

	if ((qf = open_message(msg, &r)) == NULL)
		return r;
	r = read_chunk(msg, qf);
	qf_close(&qf);
	return r;
}
