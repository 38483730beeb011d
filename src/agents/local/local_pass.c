/*
 * local_pass - hand one recipient to another delivery service, as Postfix's
 * deliver_pass() does for mailbox_transport and fallback_transport.
 *
 * The local agent plays the queue manager's part for one request: it
 * connects to queue_directory/private/<transport> (master starts an agent
 * there as for the queue manager), waits for the hello, sends a request
 * for the same queue file with this one recipient, and reads the reply.
 * That agent records the recipient's outcome itself (log line, status log,
 * done mark), so the local agent only counts it.  When nothing was handed
 * over (no such service, a failed connection, a refused request) the local
 * agent defers the recipient itself: 4.3.0 mail transport unavailable.
 *
 * DIAGNOSTICS: a warning for each failure to hand over, naming the
 * parameter and the service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/local/local.h"
#include "global/deliver_request.h"
#include "global/params.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

/* valid_service - a master.cf service name that can be a socket file name */
static bool valid_service(const char *name, size_t len)
{
	if (len == 0 || len > 64 || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || (unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 127)
			return false;
	return true;
}

/* converse - hello, request, reply over fd; 0 with *rep, or -1 with *why_r */
static int converse(int fd, const struct deliver_request *req, struct deliver_reply *rep,
		    const char **why_r)
{
	struct attr_list al;
	struct buf in, out;
	const char *proto;
	int rc = -1;

	attr_list_init(&al);
	buf_init(&in, 256);
	buf_init(&out, 1024);
	if (attr_read_frame(fd, &in, ATTR_FRAME_LIMIT, (int)(var_ipc_timeout * 1000), &al,
			    why_r) != 1) {
		if (*why_r == NULL)
			*why_r = "no greeting";
		goto done;
	}
	if ((proto = attr_get(&al, "protocol")) == NULL || strcmp(proto, DELIVER_PROTOCOL) != 0) {
		*why_r = "unexpected greeting";
		goto done;
	}
	deliver_request_encode(req, &out);
	if (attr_write_frame(fd, &out, (int)(var_ipc_timeout * 1000)) < 0) {
		*why_r = strerror(errno);
		goto done;
	}
	/* The delivery may take as long as the other agent's own time limits. */
	if (attr_read_frame(fd, &in, ATTR_FRAME_LIMIT, (int)(var_daemon_timeout * 1000), &al,
			    why_r) != 1) {
		if (*why_r == NULL)
			*why_r = "connection closed before the reply";
		goto done;
	}
	if (deliver_reply_decode(&al, rep, why_r) < 0)
		goto done;
	rc = 0;
done:
	attr_list_deinit(&al);
	buf_deinit(&in);
	buf_deinit(&out);
	return rc;
}

/* local_pass - see local.h */
int local_pass(struct agent_delivery *d, size_t i, const char *param, const char *spec,
	       struct local_result *res)
{
	const char *colon = strchr(spec, ':'), *why = NULL;
	size_t tlen = colon ? (size_t)(colon - spec) : strlen(spec);
	struct deliver_request req = *d->req;
	struct deliver_reply rep;
	char *transport, *path;
	int fd, state = 0;

	if (!valid_service(spec, tlen)) {
		msg_warn("%s = %s: bad transport name", param, spec);
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.5", "mail system configuration error");
		return 0;
	}
	transport = xstrndup(spec, tlen);
	path = xasprintf("%s/private/%s", var_queue_directory, transport);
	req.transport = transport;
	req.nexthop = colon && colon[1] ? (char *)colon + 1 : d->req->nexthop;
	req.flags &= ~DEL_REQ_FLAG_REUSE;
	req.request_time = wall_time();
	req.rcpt_count = 1;
	req.rcpt = &d->req->rcpt[i];
	memset(&rep, 0, sizeof(rep));

	if ((fd = unix_connect(path, false)) < 0) {
		msg_warn("%s: %s: connect to transport %s: %s", d->req->queue_id, param, transport,
			 strerror(errno));
	} else {
		if (converse(fd, &req, &rep, &why) < 0)
			msg_warn("%s: %s: transport %s: %s", d->req->queue_id, param, transport, why);
		else if (rep.status == DEL_STAT_CORRUPT)
			state = -1;
		else if (rep.sent > 0)
			state = AGENT_RCPT_SENT;
		else if (rep.bounced > 0)
			state = AGENT_RCPT_BOUNCED;
		else if (rep.deferred > 0)
			state = AGENT_RCPT_DEFERRED;
		else
			msg_warn("%s: %s: transport %s did not take the recipient", d->req->queue_id,
				 param, transport);
		deliver_reply_deinit(&rep);
		close(fd);
	}
	if (state == 0)
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "mail transport unavailable");
	free(transport);
	free(path);
	return state;
}
