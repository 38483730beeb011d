/*
 * anvil - per-client connection and rate counters for smtpd (Postfix
 * anvil(8)).
 *
 * Every smtpd process has its own view of one client at a time; limits
 * such as "at most 50 simultaneous connections from one address" need one
 * view of all of them.  This one process (master.cf maxproc 1) keeps it.
 * smtpd processes connect to private/anvil and keep the connection for
 * their lifetime; each request is one attribute frame (util/attr.h):
 *
 *   request=connect    ident=SERVICE:ADDR  -> status=0 count=N rate=R
 *   request=disconnect ident=SERVICE:ADDR  -> status=0
 *   request=message    ident=SERVICE:ADDR  -> status=0 rate=R
 *   request=rcpt       ident=SERVICE:ADDR  -> status=0 rate=R
 *   request=lookup     ident=SERVICE:ADDR  -> status=0 count=N rate=R
 *                                             message=M rcpt=P
 *
 * count is the number of connections open now (this one included), a rate
 * the events counted since the current time unit (anvil_rate_time_unit)
 * started for that client: the first event after a unit ended starts the
 * next one (Postfix's fixed window).  A connection an smtpd reported but
 * did not report closed is taken back when that smtpd's stream to anvil
 * closes, so a crashed smtpd cannot leave a client locked out.
 *
 * Why a separate process and not shared memory or master: the counters
 * must outlive any one smtpd, and a process that crashes while holding a
 * lock on shared state would block every other; master never sees client
 * addresses (smtpd accepts the connections) and must stay small.  The
 * cost is one round trip per connection, MAIL and RCPT of a client that
 * is subject to limits; clients in smtpd_client_event_limit_exceptions
 * (default mynetworks) never talk to anvil.
 *
 * anvil never decides anything: smtpd compares the numbers with its own
 * limits, so services with different -o limits share one anvil.  Entries
 * with no open connection and an expired time unit are dropped every time
 * unit; the table is otherwise unbounded, as Postfix's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "global/mail_server.h"
#include "global/params.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/ev.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define ANVIL_FRAME_LIMIT	4096	/* requests are tiny */
#define ANVIL_IDENT_MAX		300

/* The counters of one SERVICE:ADDR. */
struct client {
	long count;			/* connections open now */
	double start;			/* when the current time unit began */
	long conn_rate, mail_rate, rcpt_rate;
};

/* One smtpd process's stream. */
struct peer {
	int fd;
	struct buf in;
	struct htable *held;		/* ident -> (long) connections it holds */
};

static struct htable *clients;

/* client_get - the entry for ident, created when absent; the time unit
 * is renewed when it ended */
static struct client *client_get(const char *ident, double now)
{
	struct client *c = htable_find(clients, ident);

	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->start = now;
		htable_enter(clients, ident, c);
	} else if (now - c->start >= (double)var_anvil_rate_time_unit) {
		c->start = now;
		c->conn_rate = c->mail_rate = c->rcpt_rate = 0;
	}
	return c;
}

/* held_add - the connections peer p holds for ident change by delta */
static void held_add(struct peer *p, const char *ident, long delta)
{
	struct htable_info *h = htable_locate(p->held, ident);
	long n = (h ? (long)(intptr_t)h->value : 0) + delta;

	if (h && n <= 0)
		htable_delete(p->held, ident);
	else if (h)
		h->value = (void *)(intptr_t)n;
	else if (n > 0)
		htable_enter(p->held, ident, (void *)(intptr_t)n);
}

/* client_release - take back n connections of ident */
static void client_release(const char *ident, long n)
{
	struct client *c = htable_find(clients, ident);

	if (c == NULL)
		return;
	c->count -= n;
	if (c->count < 0)
		c->count = 0;
}

/* peer_close - the smtpd went away: its connections are over */
static void peer_close(struct peer *p)
{
	struct htable_info **list;
	size_t n;

	list = htable_list(p->held, &n);
	for (size_t i = 0; i < n; i++)
		client_release(list[i]->key, (long)(intptr_t)list[i]->value);
	free(list);
	htable_free(&p->held, NULL);
	ev_disable(p->fd);
	close(p->fd);
	buf_deinit(&p->in);
	free(p);
}

/* handle - one request; false when the peer broke the protocol */
static bool handle(struct peer *p, const struct attr_list *req)
{
	const char *what = attr_get(req, "request"), *ident = attr_get(req, "ident");
	double now = mono_time();
	struct client *c;
	struct buf out;
	bool ok;

	if (what == NULL || ident == NULL || *ident == 0 || strlen(ident) > ANVIL_IDENT_MAX)
		return false;
	buf_init(&out, 128);
	attr_frame_begin(&out);
	attr_put_long(&out, "status", 0);
	if (strcmp(what, "connect") == 0) {
		c = client_get(ident, now);
		c->count++;
		c->conn_rate++;
		held_add(p, ident, 1);
		attr_put_long(&out, "count", c->count);
		attr_put_long(&out, "rate", c->conn_rate);
	} else if (strcmp(what, "disconnect") == 0) {
		struct htable_info *h = htable_locate(p->held, ident);

		/* Only what this peer reported connected can be taken back. */
		if (h) {
			client_release(ident, 1);
			held_add(p, ident, -1);
		}
	} else if (strcmp(what, "message") == 0) {
		c = client_get(ident, now);
		attr_put_long(&out, "rate", ++c->mail_rate);
	} else if (strcmp(what, "rcpt") == 0) {
		c = client_get(ident, now);
		attr_put_long(&out, "rate", ++c->rcpt_rate);
	} else if (strcmp(what, "lookup") == 0) {
		c = htable_find(clients, ident);
		bool live = c && now - c->start < (double)var_anvil_rate_time_unit;

		attr_put_long(&out, "count", c ? c->count : 0);
		attr_put_long(&out, "rate", live ? c->conn_rate : 0);
		attr_put_long(&out, "message", live ? c->mail_rate : 0);
		attr_put_long(&out, "rcpt", live ? c->rcpt_rate : 0);
	} else {
		buf_deinit(&out);
		return false;
	}
	attr_frame_end(&out);
	/* The peer waits for this answer; a peer that does not read is dropped. */
	ok = attr_write_frame(p->fd, &out, 1000) == 0;
	buf_deinit(&out);
	return ok;
}

/* peer_event - requests from one smtpd */
static void peer_event(int event, void *ctx)
{
	struct peer *p = ctx;
	struct attr_list req;
	const char *error;
	char data[1024];
	ssize_t n;
	int rc;

	(void)event;
	n = read(p->fd, data, sizeof(data));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		peer_close(p);
		return;
	}
	buf_append(&p->in, data, (size_t)n);
	attr_list_init(&req);
	while ((rc = attr_frame_extract(&p->in, ANVIL_FRAME_LIMIT, &req, &error)) == 1) {
		if (!handle(p, &req)) {
			msg_warn("private/anvil: bad request from a client; connection closed");
			attr_list_deinit(&req);
			peer_close(p);
			return;
		}
	}
	attr_list_deinit(&req);
	if (rc < 0) {
		msg_warn("private/anvil: %s; connection closed", error);
		peer_close(p);
	}
}

/* accept_event - a new smtpd */
static void accept_event(int event, void *ctx)
{
	struct peer *p;
	int fd;

	(void)event;
	(void)ctx;
	if ((fd = accept4(MAIL_SERVER_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return;
	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	buf_init(&p->in, 256);
	p->held = htable_create(4);
	ev_read_enable(fd, peer_event, p, -1);
}

/* sweep_event - forget clients with nothing open and nothing to count */
static void sweep_event(int event, void *ctx)
{
	struct htable_info **list;
	double now = mono_time();
	size_t n;

	(void)event;
	list = htable_list(clients, &n);
	for (size_t i = 0; i < n; i++) {
		struct client *c = list[i]->value;

		if (c->count == 0 && now - c->start >= (double)var_anvil_rate_time_unit)
			free(htable_delete(clients, list[i]->key));
	}
	free(list);
	ev_timer_request(sweep_event, ctx, (double)var_anvil_rate_time_unit);
}

int main(int argc, char **argv)
{
	struct mail_server_opts opts;

	mail_server_init(argc, argv, "anvil", &opts);
	if (!opts.has_listen_fd)
		msg_fatal("no listening socket on descriptor %d: anvil is started by master",
			  MAIL_SERVER_LISTEN_FD);
	mail_server_drop_privileges(&opts, true);
	set_nonblock(MAIL_SERVER_LISTEN_FD, true);
	clients = htable_create(256);
	ev_init();
	ev_read_enable(MAIL_SERVER_LISTEN_FD, accept_event, NULL, -1);
	ev_timer_request(sweep_event, NULL, (double)var_anvil_rate_time_unit);
	/* One process serves every smtpd; it is always ready for another. */
	mail_server_status(1);
	/* The counters are the state: anvil runs until master stops it. */
	for (;;)
		ev_run_once(-1);
}
