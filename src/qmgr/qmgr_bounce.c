/*
 * qmgr_bounce - asynchronous requests to the bounce service.
 *
 * The queue manager decides that a report is due; the bounce service
 * (private/bounce, private/defer, private/trace: one program) writes it.
 * One request per connection: connect, write the request frame, read the
 * reply frame "status=0|1".  The queue manager never blocks on it: the
 * message waits in the active queue while its request is out, and any
 * failure (no service, time-out, garbage) counts as "try again later".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/params.h"
#include "qmgr.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

struct bounce_call {
	struct qmgr_message *msg;
	qmgr_bounce_cb *cb;
	const char *request;
	int fd;
	struct buf *out;
	size_t written;
	struct buf *in;
};

/* call_end - report the result and clean up */
static void call_end(struct bounce_call *c, int status, const char *why)
{
	if (status != 0)
		msg_warn("%s: %s request to the bounce service failed: %s", c->msg->id,
			 c->request, why);
	if (c->fd >= 0) {
		ev_disable(c->fd);
		close(c->fd);
	}
	buf_free(&c->out);
	buf_free(&c->in);
	c->cb(c->msg, status);
	free(c);
}

/* read_event - the reply */
static void read_event(int event, void *ctx)
{
	struct bounce_call *c = ctx;
	struct attr_list al;
	const char *error;
	char tmp[4096];
	ssize_t n;
	long status;
	int r;

	if (event & EV_E_TIMEOUT) {
		call_end(c, 1, "timeout");
		return;
	}
	n = read(c->fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		call_end(c, 1, n == 0 ? "connection closed without a reply" : strerror(errno));
		return;
	}
	buf_append(c->in, tmp, (size_t)n);
	attr_list_init(&al);
	r = attr_frame_extract(c->in, 65536, &al, &error);
	if (r == 0) {
		attr_list_deinit(&al);
		return;
	}
	if (r < 0 || attr_get_long(&al, "status", 0, 1000, &status) < 0) {
		attr_list_deinit(&al);
		call_end(c, 1, r < 0 ? error : "malformed reply");
		return;
	}
	if (status != 0) {
		const char *reason = attr_get(&al, "reason");
		char *why = xstrdup(reason ? reason : "service reported failure");

		attr_list_deinit(&al);
		call_end(c, 1, why);
		free(why);
		return;
	}
	attr_list_deinit(&al);
	call_end(c, 0, NULL);
}

/* write_event - send the request (the connection may still be opening) */
static void write_event(int event, void *ctx)
{
	struct bounce_call *c = ctx;
	ssize_t n;

	if (event & EV_E_TIMEOUT) {
		call_end(c, 1, "timeout");
		return;
	}
	n = write(c->fd, c->out->data + c->written, c->out->len - c->written);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		call_end(c, 1, strerror(errno));
		return;
	}
	c->written += (size_t)n;
	if (c->written == c->out->len)
		ev_read_enable(c->fd, read_event, c, (double)var_qmgr_ipc_timeout);
}

/* service_for - which bounce service a request goes to (as Postfix) */
static const char *service_for(const char *request)
{
	if (strcmp(request, QMGR_BOUNCE_FLUSH) == 0)
		return "bounce";
	if (strcmp(request, QMGR_TRACE_FLUSH) == 0)
		return "trace";
	return "defer";
}

/* qmgr_bounce_request - start one request; cb runs when it is over */
void qmgr_bounce_request(struct qmgr_message *msg, const char *request, int flags,
			 qmgr_bounce_cb *cb)
{
	struct bounce_call *c = xcalloc(1, sizeof(*c));
	double age = qmgr_now - msg->env.arrival_time, next;
	char *path;

	c->msg = msg;
	c->cb = cb;
	c->request = request;
	c->out = buf_create(512);
	c->in = buf_create(256);
	next = age < (double)var_minimal_backoff_time ? (double)var_minimal_backoff_time
		: age > (double)var_maximal_backoff_time ? (double)var_maximal_backoff_time : age;

	attr_frame_begin(c->out);
	attr_put_str(c->out, "request", request);
	attr_put_str(c->out, "queue_name", "active");
	attr_put_str(c->out, "queue_id", msg->id);
	attr_put_str(c->out, "sender", msg->env.sender);
	attr_put_str(c->out, "envid", msg->env.envid ? msg->env.envid : "");
	attr_put_long(c->out, "ret", msg->env.ret);
	attr_put_long(c->out, "flags", flags);
	attr_put_double(c->out, "arrival_time", msg->env.arrival_time);
	attr_put_double(c->out, "next_attempt", qmgr_now + next);
	attr_frame_end(c->out);

	path = xasprintf("%s/private/%s", var_queue_directory, service_for(request));
	c->fd = unix_connect(path, true);
	if (c->fd < 0) {
		char why[512];

		snprintf(why, sizeof(why), "connect to %s: %s", path, strerror(errno));
		free(path);
		call_end(c, 1, why);
		return;
	}
	free(path);
	ev_write_enable(c->fd, write_event, c, (double)var_qmgr_ipc_timeout);
}
