/*
 * qmgr_control - requests from the queue tools about messages in the
 * active queue ("sluice hold|delete|requeue" on active mail goes through
 * the queue manager, not behind its back).
 *
 * Endpoint: the UNIX socket private/qmgr-control, created by the queue
 * manager (so only mail_owner and root reach it).  One request per
 * connection: request=hold|delete|requeue, then queue_id=ID (repeated).
 * Reply: status=0, count=N (how many of the IDs were in the active queue).
 * A message found in memory loses its waiting entries at once; deliveries
 * already under way finish, and when the message is done it is put on
 * hold, deleted or requeued instead of being deferred or removed.
 *
 * request=release is the other direction: "sluice release" has moved the
 * files from hold/ to deferred/ with their time stamps set to now, and the
 * queue manager enters each ID into its deferred index as due now and
 * starts a deferred scan, so released mail is tried at once without a
 * full pass over deferred/ (count = IDs entered).  As for any deferred
 * message, defer_transports, dead destinations and transports still
 * apply: a release is not a flush (Postfix's postsuper -H).
 *
 * request=state asks for the live state (qmgr_state.c): the reply is the
 * report, and nothing changes ("sluice status --json", "sluice top").
 * request=metrics asks for the counters since start as Prometheus text
 * (qmgr_metrics.c), reply status=0 text=...; nothing changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "global/params.h"
#include "qmgr.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

static int control_fd = -1;

/* drop_todo - take msg's waiting entries out of the scheduler */
static void drop_todo(struct qmgr_message *msg)
{
	struct sched_transport *t = qmgr_sched->xport_head;
	struct sched_queue *q, *qnext;
	struct sched_entry *e, *enext;
	struct qmgr_batch *b;

	if (t == NULL)
		return;
	do {
		for (q = t->queues; q; q = qnext) {
			qnext = q->next;
			for (e = q->todo.first; e; e = enext) {
				enext = e->next;
				if (e->msg != msg)
					continue;
				b = e->ctx;
				msg->flags |= QMGR_MSG_DROPPED;
				msg->rcpt_mem -= (long)b->count;
				qmgr_batch_free(b);
				e->ctx = NULL;
				msg->refcount--;
				/* May free q when it empties: stop walking it then. */
				if (q->todo_count == 1 && q->busy_count == 0) {
					sched_entry_remove(e, qmgr_now);
					break;
				}
				sched_entry_remove(e, qmgr_now);
			}
		}
		t = t->rr_next;
	} while (t != qmgr_sched->xport_head);
}

/* control_one - apply a request to one queue ID; true if it was active */
static bool control_one(const char *request, const char *id)
{
	struct qmgr_message *msg;
	int flag;

	if (strcmp(request, "hold") == 0)
		flag = QMGR_MSG_HOLD;
	else if (strcmp(request, "delete") == 0)
		flag = QMGR_MSG_DELETE;
	else if (strcmp(request, "requeue") == 0)
		flag = QMGR_MSG_REQUEUE;
	else
		return false;
	for (msg = qmgr_messages; msg; msg = msg->next)
		if (strcmp(msg->id, id) == 0)
			break;
	if (msg == NULL || msg->in_done)
		return false;
	msg->flags |= flag;
	if (msg->rcpt_offset != 0)
		msg->flags |= QMGR_MSG_DROPPED;	/* unread recipients remain */
	msg->rcpt_offset = 0;		/* read no more recipients */
	drop_todo(msg);
	if (msg->refcount == 0)
		qmgr_active_continue(msg);
	return true;
}

/* control_release - a released message waits in deferred/, due now */
static bool control_release(const char *id)
{
	if (!queue_id_valid(id) || strlen(id) >= QUEUE_ID_SIZE)
		return false;
	qmgr_defer_index_add(id, qmgr_now);
	return true;
}

/* control_accept_event - serve one tool */
static void control_accept_event(int event, void *ctx)
{
	struct buf *in = buf_create(1024), *out = buf_create(128);
	struct attr_list al;
	struct attr_cursor c;
	const char *request, *id, *error;
	long count = 0;
	int fd;

	if ((fd = accept4(control_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		goto done;
	attr_list_init(&al);
	/* Tools are local and quick; a short, bounded wait is fine here. */
	if (attr_read_frame(fd, in, 1024 * 1024, 5000, &al, &error) == 1
	    && (request = attr_get(&al, "request")) != NULL) {
		qmgr_now = wall_time();
		if (strcmp(request, "metrics") == 0) {
			/* Read-only: counters as Prometheus text, for the metrics service. */
			struct buf *text = buf_create(16384);

			qmgr_metrics_text(text);
			attr_frame_begin(out);
			attr_put_long(out, "status", 0);
			attr_put_str(out, "text", buf_str(text));
			attr_frame_end(out);
			(void)attr_write_frame(fd, out, 5000);
			buf_free(&text);
			attr_list_deinit(&al);
			close(fd);
			goto done;
		}
		if (strcmp(request, "state") == 0) {
			/* Read-only: the report, and nothing changes. */
			attr_frame_begin(out);
			qmgr_state_encode(out);
			attr_frame_end(out);
			(void)attr_write_frame(fd, out, 5000);
			attr_list_deinit(&al);
			close(fd);
			goto done;
		}
		attr_cursor_init(&c, &al);
		while ((id = attr_cursor_find(&c, "queue_id")) != NULL)
			if (strcmp(request, "release") == 0 ? control_release(id)
			    : control_one(request, id))
				count++;
		if (strcmp(request, "release") == 0 && count > 0)
			qmgr_scan_request(qmgr_deferred_scan, QMGR_SCAN_START);
		attr_frame_begin(out);
		attr_put_long(out, "status", 0);
		attr_put_long(out, "count", count);
		attr_frame_end(out);
		(void)attr_write_frame(fd, out, 5000);
		if (count)
			msg_info("%s request from the queue tools: %ld %s message%s", request,
				 count, strcmp(request, "release") == 0 ? "released" : "active",
				 count == 1 ? "" : "s");
	}
	attr_list_deinit(&al);
	close(fd);
	qmgr_wakeup();
done:
	buf_free(&in);
	buf_free(&out);
}

/* qmgr_control_init - listen for the queue tools */
void qmgr_control_init(void)
{
	char *path = xasprintf("%s/private/qmgr-control", var_queue_directory);

	if ((control_fd = unix_listen(path, 16, 0600)) < 0) {
		msg_warn("cannot listen on %s: %s; queue tools will not reach active mail",
			 path, strerror(errno));
		free(path);
		return;
	}
	set_nonblock(control_fd, true);
	ev_read_enable(control_fd, control_accept_event, NULL, -1);
	free(path);
}
