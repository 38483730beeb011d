/*
 * deliver_request - encode and decode delivery requests and replies
 * (see deliver_request.h and docs/PROTOCOL.md).
 *
 * Decoding is strict: a missing or malformed attribute, or a recipient
 * count that disagrees with the recipient groups, is an error.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/deliver_request.h"
#include "global/dsn.h"
#include "global/queue_file.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

#define RCPT_LIMIT 100000	/* no request carries more */

/* deliver_request_encode - request frame */
void deliver_request_encode(const struct deliver_request *req, struct buf *frame)
{
	attr_frame_begin(frame);
	attr_put_str(frame, "queue_name", req->queue_name);
	attr_put_str(frame, "queue_id", req->queue_id);
	attr_put_str(frame, "transport", req->transport);
	attr_put_str(frame, "nexthop", req->nexthop);
	attr_put_str(frame, "sender", req->sender);
	attr_put_str(frame, "envid", req->envid ? req->envid : "");
	attr_put_long(frame, "ret", req->ret);
	attr_put_long(frame, "flags", req->flags);
	attr_put_long(frame, "offset", req->data_offset);
	attr_put_long(frame, "size", req->data_size);
	attr_put_double(frame, "arrival_time", req->arrival_time);
	attr_put_double(frame, "active_time", req->active_time);
	attr_put_double(frame, "request_time", req->request_time);
	attr_put_long(frame, "rcpt_count", (long)req->rcpt_count);
	for (size_t i = 0; i < req->rcpt_count; i++) {
		const struct deliver_rcpt *r = &req->rcpt[i];

		attr_put_str(frame, "rcpt", r->address);
		attr_put_str(frame, "orig_rcpt", r->orig_rcpt ? r->orig_rcpt : "");
		attr_put_str(frame, "dsn_orcpt", r->dsn_orcpt ? r->dsn_orcpt : "");
		attr_put_long(frame, "notify", r->notify);
		attr_put_long(frame, "rcpt_offset", r->offset);
	}
	attr_frame_end(frame);
}

/* need - fetch a required string attribute */
static int need(const struct attr_list *al, const char *name, char **value_r,
		const char **error_r)
{
	const char *v = attr_get(al, name);
	static char msg[96];

	if (v == NULL) {
		snprintf(msg, sizeof(msg), "missing attribute \"%s\"", name);
		*error_r = msg;
		return -1;
	}
	*value_r = xstrdup(v);
	return 0;
}

/* need_long - fetch a required numeric attribute */
static int need_long(const struct attr_list *al, const char *name, long min, long max,
		     long *value_r, const char **error_r)
{
	static char msg[96];

	if (attr_get_long(al, name, min, max, value_r) < 0) {
		snprintf(msg, sizeof(msg), "missing or bad attribute \"%s\"", name);
		*error_r = msg;
		return -1;
	}
	return 0;
}

/* need_double - fetch a required time attribute */
static int need_double(const struct attr_list *al, const char *name, double *value_r,
		       const char **error_r)
{
	static char msg[96];

	if (attr_get_double(al, name, value_r) < 0) {
		snprintf(msg, sizeof(msg), "missing or bad attribute \"%s\"", name);
		*error_r = msg;
		return -1;
	}
	return 0;
}

/* deliver_request_decode - strict request decoder */
int deliver_request_decode(const struct attr_list *al, struct deliver_request *req,
			   const char **error_r)
{
	struct attr_cursor c;
	long n, ret, flags;
	const char *v;

	memset(req, 0, sizeof(*req));
	if (need(al, "queue_name", &req->queue_name, error_r) < 0
	    || need(al, "queue_id", &req->queue_id, error_r) < 0
	    || need(al, "transport", &req->transport, error_r) < 0
	    || need(al, "nexthop", &req->nexthop, error_r) < 0
	    || need(al, "sender", &req->sender, error_r) < 0
	    || need(al, "envid", &req->envid, error_r) < 0
	    || need_long(al, "ret", 0, 2, &ret, error_r) < 0
	    || need_long(al, "flags", 0, 0xffff, &flags, error_r) < 0
	    || need_long(al, "offset", 0, LONG_MAX, &req->data_offset, error_r) < 0
	    || need_long(al, "size", 0, LONG_MAX, &req->data_size, error_r) < 0
	    || need_double(al, "arrival_time", &req->arrival_time, error_r) < 0
	    || need_double(al, "active_time", &req->active_time, error_r) < 0
	    || need_double(al, "request_time", &req->request_time, error_r) < 0
	    || need_long(al, "rcpt_count", 1, RCPT_LIMIT, &n, error_r) < 0)
		goto bad;
	req->ret = (int)ret;
	req->flags = (int)flags;
	req->rcpt = xcalloc((size_t)n, sizeof(*req->rcpt));
	attr_cursor_init(&c, al);
	if (attr_cursor_find(&c, "rcpt_count") == NULL)
		goto bad;
	for (req->rcpt_count = 0; req->rcpt_count < (size_t)n; req->rcpt_count++) {
		struct deliver_rcpt *r = &req->rcpt[req->rcpt_count];
		long notify, offset;

		if ((v = attr_cursor_expect(&c, "rcpt")) == NULL)
			goto short_group;
		r->address = xstrdup(v);
		if ((v = attr_cursor_expect(&c, "orig_rcpt")) == NULL)
			goto short_group;
		r->orig_rcpt = xstrdup(v);
		if ((v = attr_cursor_expect(&c, "dsn_orcpt")) == NULL)
			goto short_group;
		r->dsn_orcpt = xstrdup(v);
		if ((v = attr_cursor_expect(&c, "notify")) == NULL
		    || str_to_long(v, 0, 0xff, &notify) < 0)
			goto short_group;
		r->notify = (int)notify;
		if ((v = attr_cursor_expect(&c, "rcpt_offset")) == NULL
		    || str_to_long(v, 1, LONG_MAX, &offset) < 0)
			goto short_group;
		r->offset = offset;
	}
	if (c.pos != al->count) {
		*error_r = "unexpected attributes after the recipients";
		goto bad;
	}
	return 0;

short_group:
	req->rcpt_count++;		/* free the partial group too */
	*error_r = "malformed recipient group";
bad:
	deliver_request_deinit(req);
	return -1;
}

/*
 * deliver_request_check - may an agent build a path from this request?
 * Delivery agents read only active/ (docs/QUEUE.md, "Who may do what"),
 * and a queue ID has one canonical spelling in an alphabet without "/" or
 * ".", so neither part can lead anywhere else.
 */
int deliver_request_check(const struct deliver_request *req, const char **error_r)
{
	if (req->queue_name == NULL || strcmp(req->queue_name, DELIVER_QUEUE_NAME) != 0) {
		*error_r = "queue_name is not \"" DELIVER_QUEUE_NAME "\"";
		return -1;
	}
	if (req->queue_id == NULL || !queue_id_valid(req->queue_id)) {
		*error_r = "queue_id is not a valid queue ID";
		return -1;
	}
	return 0;
}

/* deliver_request_deinit - release decoded fields */
void deliver_request_deinit(struct deliver_request *req)
{
	free(req->queue_name);
	free(req->queue_id);
	free(req->transport);
	free(req->nexthop);
	free(req->sender);
	free(req->envid);
	for (size_t i = 0; i < req->rcpt_count; i++) {
		free(req->rcpt[i].address);
		free(req->rcpt[i].orig_rcpt);
		free(req->rcpt[i].dsn_orcpt);
	}
	free(req->rcpt);
	memset(req, 0, sizeof(*req));
}

/* deliver_reply_encode - reply frame */
void deliver_reply_encode(const struct deliver_reply *rep, struct buf *frame)
{
	attr_frame_begin(frame);
	attr_put_long(frame, "status", rep->status);
	attr_put_str(frame, "hop_status", rep->hop_status);
	attr_put_str(frame, "hop_reason", rep->hop_reason ? rep->hop_reason : "");
	attr_put_str(frame, "session", rep->session ? rep->session : "");
	attr_put_long(frame, "sent", rep->sent);
	attr_put_long(frame, "bounced", rep->bounced);
	attr_put_long(frame, "deferred", rep->deferred);
	attr_put_long(frame, "last", rep->last);
	attr_frame_end(frame);
}

/* deliver_reply_decode - strict reply decoder */
int deliver_reply_decode(const struct attr_list *al, struct deliver_reply *rep,
			 const char **error_r)
{
	long status;
	const char *hs;

	memset(rep, 0, sizeof(*rep));
	if (need_long(al, "status", 0, 2, &status, error_r) < 0)
		return -1;
	rep->status = (int)status;
	if ((hs = attr_get(al, "hop_status")) == NULL || strlen(hs) >= sizeof(rep->hop_status)
	    || (*hs && !dsn_status_valid(hs))) {
		*error_r = "missing or bad attribute \"hop_status\"";
		return -1;
	}
	strcpy(rep->hop_status, hs);
	if (need(al, "hop_reason", &rep->hop_reason, error_r) < 0
	    || need(al, "session", &rep->session, error_r) < 0
	    || need_long(al, "sent", 0, LONG_MAX, &rep->sent, error_r) < 0
	    || need_long(al, "bounced", 0, LONG_MAX, &rep->bounced, error_r) < 0
	    || need_long(al, "deferred", 0, LONG_MAX, &rep->deferred, error_r) < 0) {
		deliver_reply_deinit(rep);
		return -1;
	}
	/* Optional: an older agent does not say it is leaving. */
	if (attr_get(al, "last") != NULL) {
		long last;

		if (attr_get_long(al, "last", 0, 1, &last) < 0) {
			*error_r = "bad attribute \"last\"";
			deliver_reply_deinit(rep);
			return -1;
		}
		rep->last = (int)last;
	}
	return 0;
}

/* deliver_reply_deinit - release reply fields */
void deliver_reply_deinit(struct deliver_reply *rep)
{
	free(rep->hop_reason);
	free(rep->session);
	rep->hop_reason = rep->session = NULL;
}
