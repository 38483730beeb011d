/*
 * metrics - the Prometheus metrics service: answers "GET /metrics" over
 * HTTP on a master.cf inet service, for example
 *
 *   127.0.0.1:9732 inet n - n - 1 metrics
 *
 * (not in the built-in master.cf: docs/OBSERVABILITY.md).
 *
 * CONTRACT.  One request per connection, HTTP/1.0 or 1.1, "Connection:
 * close".  GET or HEAD of /metrics answers 200 with the text exposition
 * format (version 0.0.4): first what the queue manager counted since it
 * started (request=metrics on private/qmgr-control: deliveries by transport
 * and destination domain, delivery delays, messages entering the active
 * queue, queue sizes; qmgr_metrics.c), then the event counters other
 * processes keep in process_id_directory/counters (smtpd connections and
 * rejects, messages received by program, process starts and failures;
 * global/counters.h), then sluice_qmgr_up and sluice_counters_up (1 when
 * that part could be read).  Nothing scans the queue folders.  Any other
 * path is 404, any other method 405, a request that is not HTTP 400.
 *
 * NOT.  No TLS, no authentication: bind it to loopback or a management
 * network, as one does with node_exporter.
 *
 * DIAGNOSTICS.  A queue manager that does not answer in 5 seconds makes
 * sluice_qmgr_up 0 (the rest is still served), with a warning.  A client
 * that does not send its request, or does not read the answer, within 10
 * seconds is dropped.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "global/counters.h"
#include "global/mail_conf.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define CLIENT_TIMEOUT_MS	10000
#define QMGR_TIMEOUT_MS		5000
#define REQUEST_MAX		8192
#define QMGR_FRAME_LIMIT	(16 * 1024 * 1024)
#define LISTEN_MAX		16

/* HELP text of the families the counters file may hold. */
static const struct {
	const char *family;
	const char *help;
} counter_help[] = {
	{"sluice_smtpd_connects_total", "SMTP connections accepted by smtpd."},
	{"sluice_smtpd_disconnects_total", "SMTP connections that smtpd ended."},
	{"sluice_smtpd_rejects_total", "Commands smtpd rejected, by stage and reply code."},
	{"sluice_smtpd_connections_lost_total", "Connections the client dropped, by stage."},
	{"sluice_received_messages_total", "Messages accepted into the queue, by program."},
	{"sluice_master_process_starts_total", "Processes master started, by service."},
	{"sluice_master_process_failures_total",
	 "Processes that exited abnormally, by service."},
	{NULL, NULL},
};

/* Families shown as 0 before anything was counted. */
static const char *const always_shown[] = {
	"sluice_smtpd_connects_total", "sluice_smtpd_disconnects_total", NULL
};

/* ---- the queue manager's part ---- */

/* qmgr_text - ask the queue manager; 0 with the text appended, or -1 */
static int qmgr_text(struct buf *body)
{
	char *path = xasprintf("%s/private/qmgr-control", var_queue_directory);
	struct buf *out = buf_create(64), *in = buf_create(16384);
	struct attr_list al;
	const char *why = NULL, *text;
	int fd, rc = -1;

	attr_list_init(&al);
	if ((fd = unix_connect(path, false)) < 0) {
		msg_warn("cannot reach the queue manager on %s: %s", path, strerror(errno));
		goto out;
	}
	attr_frame_begin(out);
	attr_put_str(out, "request", "metrics");
	attr_frame_end(out);
	if (attr_write_frame(fd, out, QMGR_TIMEOUT_MS) < 0)
		msg_warn("send to %s: %s", path, strerror(errno));
	else if (attr_read_frame(fd, in, QMGR_FRAME_LIMIT, QMGR_TIMEOUT_MS, &al, &why) != 1)
		msg_warn("no metrics from %s: %s", path, why ? why : "connection closed");
	else if ((text = attr_get(&al, "text")) == NULL)
		msg_warn("bad metrics reply from %s", path);
	else {
		buf_puts(body, text);
		rc = 0;
	}
	close(fd);
out:
	attr_list_deinit(&al);
	buf_free(&out);
	buf_free(&in);
	free(path);
	return rc;
}

/* ---- the counters file's part ---- */

struct series {
	char *name;
	unsigned long long value;
};

struct series_list {
	struct series *v;
	size_t n, cap;
};

/* series_valid - "family" or "family{...}" in printable ASCII */
static bool series_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] && s[i] != '{'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'
		      || s[i] == ':' || (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return false;
	if (i == 0)
		return false;
	if (s[i] == 0)
		return true;
	for (; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return s[i - 1] == '}';
}

/* collect - counters_read callback */
static void collect(void *ctx, const char *name, uint64_t value)
{
	struct series_list *l = ctx;

	if (!series_valid(name))
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].name = xstrdup(name);
	l->v[l->n].value = value;
	l->n++;
}

static int series_cmp(const void *a, const void *b)
{
	return strcmp(((const struct series *)a)->name, ((const struct series *)b)->name);
}

/* family_len - length of the metric name part */
static size_t family_len(const char *s)
{
	return strcspn(s, "{");
}

/* help_of - the HELP text of a family */
static const char *help_of(const char *family, size_t len)
{
	for (int i = 0; counter_help[i].family; i++)
		if (strlen(counter_help[i].family) == len
		    && strncmp(counter_help[i].family, family, len) == 0)
			return counter_help[i].help;
	return "A sluice event counter.";
}

/* counters_text - the counters file as text; 0, or -1 when unreadable */
static int counters_text(struct buf *body)
{
	struct series_list l = {NULL, 0, 0};
	char *path = counters_path();
	const char *error;
	size_t i, j;
	int rc;

	if ((rc = counters_read(path, collect, &l, &error)) < 0)
		msg_warn("event counters: %s", error);
	for (const char *const *a = always_shown; rc == 0 && *a; a++) {
		for (i = 0; i < l.n && strcmp(l.v[i].name, *a) != 0; i++)
			;
		if (i == l.n)
			collect(&l, *a, 0);
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), series_cmp);
	for (i = 0; i < l.n; i = j) {
		unsigned long long sum = l.v[i].value;
		size_t flen = family_len(l.v[i].name);

		/* A family's first series: its HELP and TYPE. */
		if (i == 0 || family_len(l.v[i - 1].name) != flen
		    || strncmp(l.v[i - 1].name, l.v[i].name, flen) != 0)
			buf_printf(body, "# HELP %.*s %s\n# TYPE %.*s counter\n", (int)flen,
				   l.v[i].name, help_of(l.v[i].name, flen), (int)flen, l.v[i].name);
		/* The same name twice (a slot left half-named): one sum. */
		for (j = i + 1; j < l.n && strcmp(l.v[j].name, l.v[i].name) == 0; j++)
			sum += l.v[j].value;
		buf_printf(body, "%s %llu\n", l.v[i].name, sum);
	}
	for (i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	free(path);
	return rc;
}

/* ---- HTTP ---- */

/* respond - status line, headers, body; errors end the connection quietly */
static void respond(int fd, const char *status, const char *type, const struct buf *body,
		    bool head_only)
{
	struct buf *out = buf_create(256 + (head_only ? 0 : body->len));

	buf_printf(out, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Connection: close\r\n\r\n", status, type, body->len);
	if (!head_only)
		buf_append(out, body->data, body->len);
	(void)write_all_timeout(fd, out->data, out->len, CLIENT_TIMEOUT_MS);
	buf_free(&out);
}

/* read_request - the request head up to the blank line; 0 or -1 */
static int read_request(int fd, struct buf *req)
{
	char chunk[1024];
	ssize_t n;

	while (strstr(buf_str(req), "\r\n\r\n") == NULL && strstr(buf_str(req), "\n\n") == NULL) {
		if (req->len >= REQUEST_MAX)
			return -1;
		if ((n = read_timeout(fd, chunk, sizeof(chunk), CLIENT_TIMEOUT_MS)) <= 0)
			return -1;
		if (memchr(chunk, 0, (size_t)n))
			return -1;
		buf_append(req, chunk, (size_t)n);
	}
	return 0;
}

/* serve - one request */
static void serve(int fd)
{
	struct buf *req = buf_create(1024), *body = buf_create(32768);
	char method[16], target[256], version[16];
	bool head_only;
	int qmgr_ok, counters_ok;

	if (read_request(fd, req) < 0
	    || sscanf(buf_str(req), "%15s %255s %15s", method, target, version) != 3
	    || strncmp(version, "HTTP/1.", 7) != 0) {
		buf_puts(body, "bad request\n");
		respond(fd, "400 Bad Request", "text/plain", body, false);
		goto out;
	}
	head_only = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head_only) {
		buf_puts(body, "only GET and HEAD\n");
		respond(fd, "405 Method Not Allowed", "text/plain", body, false);
		goto out;
	}
	if (strcmp(target, "/metrics") != 0 && strncmp(target, "/metrics?", 9) != 0) {
		buf_puts(body, "not found: try /metrics\n");
		respond(fd, "404 Not Found", "text/plain", body, head_only);
		goto out;
	}
	qmgr_ok = qmgr_text(body) == 0;
	counters_ok = counters_text(body) == 0;
	buf_printf(body, "# HELP sluice_qmgr_up Whether the queue manager answered this scrape.\n"
		   "# TYPE sluice_qmgr_up gauge\nsluice_qmgr_up %d\n", qmgr_ok);
	buf_printf(body, "# HELP sluice_counters_up Whether the event counters file was read.\n"
		   "# TYPE sluice_counters_up gauge\nsluice_counters_up %d\n", counters_ok);
	respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, head_only);
out:
	buf_free(&req);
	buf_free(&body);
}

int main(int argc, char **argv)
{
	struct mail_server_opts opts;
	struct pollfd pfd[LISTEN_MAX];
	long uses = 0;
	int nfd, fd;

	mail_server_init(argc, argv, "metrics", &opts);
	if (!opts.has_listen_fd)
		msg_fatal("no listening socket on descriptor %d: metrics is started by master",
			  MAIL_SERVER_LISTEN_FD);
	nfd = opts.listen_count > 0 ? opts.listen_count : 1;
	if (nfd > LISTEN_MAX)
		msg_fatal("too many listening sockets (%d; at most %d)", nfd, LISTEN_MAX);
	for (int i = 0; i < nfd; i++) {
		pfd[i].fd = i == 0 ? MAIL_SERVER_LISTEN_FD : MAIL_SERVER_MORE_FD + i - 1;
		pfd[i].events = POLLIN;
		set_nonblock(pfd[i].fd, true);
	}
	mail_server_drop_privileges(&opts, true);
	signal(SIGPIPE, SIG_IGN);
	while (uses < var_max_use) {
		mail_server_status(1);
		if (poll(pfd, (nfds_t)nfd, (int)(var_max_idle * 1000)) <= 0)
			break;
		for (int i = 0; i < nfd; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if ((fd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
				continue;
			mail_server_status(0);
			set_nonblock(fd, false);
			serve(fd);
			close(fd);
			uses++;
		}
	}
	return 0;
}
