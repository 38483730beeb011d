/*
 * deliver_request - the contract between the queue manager and delivery
 * agents (docs/PROTOCOL.md), both sides of it.
 *
 * Conversation over a UNIX stream connection to private/<transport>:
 *
 *   agent -> qmgr   hello     protocol=delivery_request
 *   qmgr  -> agent  request   (below)
 *   agent -> qmgr   reply     status, hop_status, hop_reason, session, counts
 *   qmgr  -> agent  request   ... (the connection stays open for the next
 *                             request; either side may close it when idle)
 *
 * Unlike Postfix (one request per connection), a connection carries many
 * requests: that is how the queue manager sends a request for next hop X to
 * the agent that already holds an SMTP session to X (reply attribute
 * "session").  The agent records every recipient's outcome itself (log line,
 * status log, done mark) before it replies; the reply says only whether
 * everything is final and whether the next hop as a whole failed.
 */
#ifndef SLUICE_DELIVER_REQUEST_H
#define SLUICE_DELIVER_REQUEST_H

#include <stddef.h>

struct attr_list;
struct buf;

#define DELIVER_PROTOCOL	"delivery_request"
#define DELIVER_QUEUE_NAME	"active"	/* the only queue agents deliver from */

/* Request flags. */
#define DEL_REQ_FLAG_TRACE	(1 << 0)	/* sendmail -v: record every outcome in trace/ */
#define DEL_REQ_FLAG_VERIFY	(1 << 1)	/* sendmail -bv: probe only, record in trace/ */
#define DEL_REQ_FLAG_RECORD	(1 << 2)	/* record successes in trace/ (delay cleared) */
#define DEL_REQ_FLAG_REUSE	(1 << 3)	/* back-to-back: keep the session for reuse */

/* Reply status. */
#define DEL_STAT_FINAL		0	/* every recipient delivered or bounced */
#define DEL_STAT_DEFER		1	/* some recipient deferred, or trouble */
#define DEL_STAT_CORRUPT	2	/* the queue file is damaged: quarantine it */

struct deliver_rcpt {
	char *address;
	char *orig_rcpt;	/* "" when none */
	char *dsn_orcpt;	/* "" when none */
	int notify;		/* DSN_NOTIFY_* */
	long offset;		/* record offset: the identity in the queue file */
};

struct deliver_request {
	char *queue_name;	/* "active" */
	char *queue_id;
	char *transport;	/* master.cf service name */
	char *nexthop;
	char *sender;
	char *envid;
	int ret;		/* DSN_RET_* */
	int flags;		/* DEL_REQ_FLAG_* */
	long data_offset;	/* where the content starts (informational) */
	long data_size;		/* content bytes */
	double arrival_time;	/* message arrival */
	double active_time;	/* entered the active queue */
	double request_time;	/* handed to this agent */
	size_t rcpt_count;
	struct deliver_rcpt *rcpt;
};

struct deliver_reply {
	int status;		/* DEL_STAT_* */
	char hop_status[16];	/* "" unless the whole next hop failed */
	char *hop_reason;	/* "" unless the whole next hop failed */
	char *session;		/* next hop the agent keeps a session open to, or "" */
	long sent, bounced, deferred;	/* recipient counts (informational) */
	int last;		/* the agent closes the connection after this reply */
};

/* deliver_request_encode - request as a frame (replaces frame contents). */
void deliver_request_encode(const struct deliver_request *req, struct buf *frame);
/* deliver_request_decode - strict decode; 0, or -1 with *error_r (static). */
int deliver_request_decode(const struct attr_list *al, struct deliver_request *req_r,
			   const char **error_r);
/*
 * deliver_request_check - the parts an agent turns into a path: queue_name
 * must be "active", queue_id a valid queue ID (so no "/" and no "..").
 * 0, or -1 with *error_r (static).  Agents call it before they open
 * anything: the decoder only checks the form of the frame.
 */
int deliver_request_check(const struct deliver_request *req, const char **error_r);
/* deliver_request_deinit - free the fields of a decoded request. */
void deliver_request_deinit(struct deliver_request *req);

/* deliver_reply_encode - reply as a frame. */
void deliver_reply_encode(const struct deliver_reply *rep, struct buf *frame);
/* deliver_reply_decode - strict decode; fields owned by *rep_r. */
int deliver_reply_decode(const struct attr_list *al, struct deliver_reply *rep_r,
			 const char **error_r);
/* deliver_reply_deinit - free the fields of a reply. */
void deliver_reply_deinit(struct deliver_reply *rep);

#endif
