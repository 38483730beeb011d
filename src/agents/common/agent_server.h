/*
 * agent_server - the skeleton every delivery agent runs in.
 *
 * It accepts connections from the queue manager on the listening socket
 * master passed (fd 3), says hello, and serves delivery requests one at a
 * time, many per connection and per process (max_use).  For each request it
 * opens the queue file read-write under a shared lock (so that a restarted
 * queue manager does not import a file still being delivered), calls the
 * agent's deliver function, and replies.
 *
 * The agent records every recipient's outcome through agent_rcpt_*() below
 * before the reply goes out: log line, status log, done mark.  Those
 * functions implement docs/CONTRACT.md's rule "marked done inside the queue file
 * before the outcome is reported".
 */
#ifndef SLUICE_AGENT_SERVER_H
#define SLUICE_AGENT_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "global/deliver_request.h"
#include "global/dsn.h"

struct qf;

/* Per-recipient state inside one delivery. */
#define AGENT_RCPT_TODO		0
#define AGENT_RCPT_SENT		1
#define AGENT_RCPT_BOUNCED	2
#define AGENT_RCPT_DEFERRED	3

struct agent_delivery {
	struct deliver_request *req;
	struct qf *qf;		/* the queue file, open read-write, shared lock */
	const char *service;	/* master.cf service name */
	double t_start;		/* request received */
	double t_connected;	/* connection set-up done (0: not yet) */
	int *rcpt_state;	/* AGENT_RCPT_* per request recipient */
	struct deliver_reply reply;
	void *ctx;		/* the agent's own per-delivery data */
};

/*
 * agent_deliver_fn - deliver one request.  Must give every recipient an
 * outcome (anything left TODO is deferred by the skeleton with
 * "4.3.0 delivery agent did not report").  Returns 0, or -1 when the queue
 * file turned out to be damaged (the skeleton then marks it corrupt).
 */
typedef int agent_deliver_fn(struct agent_delivery *d);

struct agent_server_conf {
	const char *progname;
	agent_deliver_fn *deliver;
	void (*pre_init)(void);		/* after config, before privileges drop */
	void (*post_init)(void);	/* after privileges drop */
	/* While idle between requests: seconds until idle_fn wants to run
	 * (<0: never), and the function (e.g. close a cached SMTP session). */
	double (*idle_wait)(void);
	void (*idle_fn)(void);
	/* Next hop this agent keeps a session open to, or NULL. */
	const char *(*session_nexthop)(void);
	/* Called when the connection to qmgr ends. */
	void (*disconnect_fn)(void);
	bool keep_root;			/* local, pipe: switch per delivery instead */
};

/* agent_server_main - run the skeleton; never returns. */
__attribute__((noreturn))
void agent_server_main(int argc, char **argv, const struct agent_server_conf *conf);

/*
 * Outcome recording.  relay is the "relay=" text (e.g. "mx.test[127.0.0.1]:25",
 * "local", "none").  Each returns 0, or -1 when the record could not be
 * made durable (then the recipient is deferred instead and the request
 * status becomes DEFER).  agent_rcpt_bounce() records through
 * bounce_append() (global/bounce_append.h): under soft_bounce the
 * recipient is deferred (logged status=SOFTBOUNCE) and it returns 0.
 */
int agent_rcpt_sent(struct agent_delivery *d, size_t i, const struct dsn *dsn,
		    const char *relay);
int agent_rcpt_bounce(struct agent_delivery *d, size_t i, const struct dsn *dsn,
		      const char *relay);
int agent_rcpt_defer(struct agent_delivery *d, size_t i, const struct dsn *dsn,
		     const char *relay);
/*
 * agent_validate - before anything is delivered: the message (envelope and
 * content) must be intact and every request recipient must name its own
 * R/D record (qf_validate_message, qf_check_rcpt).  Returns 0 when good;
 * QF_CORRUPT when the file is damaged (logged; the deliver function then
 * returns -1 so the file is marked corrupt); -1 on an I/O error (logged,
 * every recipient deferred: the deliver function returns 0).  Its cost
 * does not grow with the recipients the request does not name.
 */
int agent_validate(struct agent_delivery *d);
/*
 * agent_rcpt_passed - recipient i was handed to another delivery agent
 * (local's mailbox_transport and fallback_transport, Postfix's
 * deliver_pass), which recorded its outcome itself: state (AGENT_RCPT_SENT,
 * _BOUNCED or _DEFERRED) only counts it in this agent's reply.
 */
void agent_rcpt_passed(struct agent_delivery *d, size_t i, int state);
/* agent_defer_pending - defer every recipient still TODO with dsn. */
void agent_defer_pending(struct agent_delivery *d, const struct dsn *dsn, const char *relay);
/* agent_bounce_pending - bounce every recipient still TODO with dsn. */
void agent_bounce_pending(struct agent_delivery *d, const struct dsn *dsn, const char *relay);
/* agent_hop_failed - the whole next hop failed (connection or handshake):
 * negative feedback for the queue manager.  Text is copied. */
void agent_hop_failed(struct agent_delivery *d, const char *status, const char *reason);
/* agent_connected - connection set-up is over (splits delays c/d). */
void agent_connected(struct agent_delivery *d);
/* agent_dsn - fill a struct dsn (status copied; strings borrowed). */
struct dsn agent_dsn(const char *status, const char *action, const char *reason);

#endif
