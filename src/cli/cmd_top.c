/*
 * cmd_top - the queue manager's live state, asked on private/qmgr-control
 * (request=state; the report's attributes are listed in qmgr/qmgr_state.c).
 * Nothing here reads the queue folders: what is shown is what the queue
 * manager holds in memory.
 *
 * "sluice status --json" prints it as one JSON object; "sluice top" shows
 * it refreshing in the terminal, as top(1) does, destinations sorted by
 * what is stuck: dead first, then by recipients waiting, then in flight.
 *
 * Exit status: 0; 1 when the system or its queue manager does not answer;
 * 64 usage; 78 configuration error.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_queue.h"
#include "cmd_start.h"
#include "cmd_top.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define STATE_TIMEOUT_MS	10000
#define STATE_FRAME_LIMIT	(256 * 1024 * 1024)

/* One group of the report: the attributes after "transport" or "dest". */
struct group {
	size_t first, end;	/* attribute indexes [first, end) */
};

struct state {
	struct attr_list al;
	struct group top;	/* the leading attributes */
	struct group *xports, *dests;
	size_t nxport, ndest;
};

static char state_err[512];

/* up - d rounded up to a whole second (d >= 0; no libm here) */
static long long up(double d)
{
	long long n = (long long)d;

	return (double)n < d ? n + 1 : n;
}

/* get - value of name within a group, or "" */
static const char *get(const struct state *st, const struct group *g, const char *name)
{
	for (size_t i = g->first; i < g->end; i++)
		if (strcmp(st->al.items[i].name, name) == 0)
			return st->al.items[i].value;
	return "";
}

static long get_long(const struct state *st, const struct group *g, const char *name)
{
	return strtol(get(st, g, name), NULL, 10);
}

static double get_double(const struct state *st, const struct group *g, const char *name)
{
	return strtod(get(st, g, name), NULL);
}

/* state_split - cut the attribute list into its groups */
static void state_split(struct state *st)
{
	struct group *cur = &st->top;
	size_t i;

	st->top.first = 0;
	for (i = 0; i < st->al.count; i++) {
		const char *name = st->al.items[i].name;

		if (strcmp(name, "transport") == 0) {
			cur->end = i;
			st->xports = xreallocarray(st->xports, st->nxport + 1, sizeof(*st->xports));
			cur = &st->xports[st->nxport++];
			cur->first = i;
		} else if (strcmp(name, "dest") == 0) {
			cur->end = i;
			st->dests = xreallocarray(st->dests, st->ndest + 1, sizeof(*st->dests));
			cur = &st->dests[st->ndest++];
			cur->first = i;
		}
	}
	cur->end = i;
}

static void state_deinit(struct state *st)
{
	attr_list_deinit(&st->al);
	free(st->xports);
	free(st->dests);
	memset(st, 0, sizeof(*st));
}

/* state_fetch - ask the queue manager; 0, or -1 with state_err */
static int state_fetch(const char *queue_dir, struct state *st)
{
	char *path = xasprintf("%s/private/qmgr-control", queue_dir);
	struct buf *out = buf_create(64), *in = buf_create(4096);
	const char *why = NULL;
	long status;
	int fd, rc = -1;

	memset(st, 0, sizeof(*st));
	attr_list_init(&st->al);
	if ((fd = unix_connect(path, false)) < 0) {
		snprintf(state_err, sizeof(state_err), "the queue manager does not answer on %s: %s",
			 path, strerror(errno));
		goto out;
	}
	attr_frame_begin(out);
	attr_put_str(out, "request", "state");
	attr_frame_end(out);
	if (attr_write_frame(fd, out, STATE_TIMEOUT_MS) < 0) {
		snprintf(state_err, sizeof(state_err), "send to %s: %s", path, strerror(errno));
	} else if (attr_read_frame(fd, in, STATE_FRAME_LIMIT, STATE_TIMEOUT_MS, &st->al, &why) != 1) {
		snprintf(state_err, sizeof(state_err), "no state from %s: %s", path,
			 why ? why : "connection closed (a queue manager without state reports?)");
	} else if (attr_get_long(&st->al, "status", 0, 0, &status) < 0
		   || attr_get(&st->al, "messages") == NULL) {
		snprintf(state_err, sizeof(state_err), "bad state reply from %s", path);
	} else {
		state_split(st);
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
out:
	free(path);
	buf_free(&out);
	buf_free(&in);
	return rc;
}

/* ---- JSON ---- */

enum ftype { F_STR, F_LONG, F_BOOL, F_TIME, F_NUM };

struct field {
	const char *attr, *json;
	enum ftype type;
};

static const struct field xport_fields[] = {
	{"transport", "name", F_STR},
	{"t_dead", "dead", F_BOOL},
	{"t_status", "status", F_STR},
	{"t_reason", "reason", F_STR},
	{"t_retry_at", "retry_at", F_TIME},
	{"agents_busy", "agents_busy", F_LONG},
	{"agents_idle", "agents_idle", F_LONG},
	{"agents_starting", "agents_starting", F_LONG},
	{"agents_limit", "agents_limit", F_LONG},
	{"t_rate_delay", "rate_delay", F_NUM},
	{"t_window_limit", "window_limit", F_LONG},
	{NULL, NULL, F_STR},
};

static const struct field dest_fields[] = {
	{"d_transport", "transport", F_STR},
	{"dest", "name", F_STR},
	{"d_nexthop", "nexthop", F_STR},
	{"d_state", "state", F_STR},
	{"d_window", "window", F_LONG},
	{"d_window_limit", "window_limit", F_LONG},
	{"d_in_flight", "in_flight", F_LONG},
	{"d_waiting", "waiting", F_LONG},
	{"d_waiting_entries", "waiting_entries", F_LONG},
	{"d_state", "dead", F_BOOL},	/* from the state name, below */
	{"d_status", "status", F_STR},
	{"d_reason", "reason", F_STR},
	{"d_retry_at", "retry_at", F_TIME},
	{"d_rate_delay", "rate_delay", F_NUM},
	{"d_resume_at", "resume_at", F_TIME},
	{"d_fail_cohorts", "fail_cohorts", F_NUM},
	{"d_delivered_5m", "delivered_5m", F_LONG},
	{"d_failed_5m", "failed_5m", F_LONG},
	{NULL, NULL, F_STR},
};

/* put_fields - one object's members */
static void put_fields(struct buf *out, const struct state *st, const struct group *g,
		       const struct field *f)
{
	for (int i = 0; f[i].attr; i++) {
		const char *v = get(st, g, f[i].attr);
		double d;

		buf_printf(out, "%s\"%s\": ", i ? ", " : "", f[i].json);
		switch (f[i].type) {
		case F_STR:
			buf_putc(out, '"');
			queue_list_json_quote(out, v);
			buf_putc(out, '"');
			break;
		case F_LONG:
			buf_printf(out, "%ld", strtol(v, NULL, 10));
			break;
		case F_BOOL:
			if (strcmp(f[i].attr, "d_state") == 0)
				buf_puts(out, strcmp(v, "dead") == 0 ? "true" : "false");
			else
				buf_puts(out, strtol(v, NULL, 10) ? "true" : "false");
			break;
		case F_TIME:
			d = strtod(v, NULL);
			if (d < 0 || !isfinite(d))
				buf_puts(out, "null");
			else
				buf_printf(out, "%lld", up(d));
			break;
		case F_NUM:
			d = strtod(v, NULL);
			buf_printf(out, "%g", isfinite(d) ? d : 0.0);
			break;
		}
	}
}

/* state_json - the report as one JSON object */
static void state_json(struct buf *out, const struct state *st, long master_pid)
{
	const struct group *g = &st->top;

	buf_printf(out, "{\"running\": true, \"master_pid\": %ld, \"time\": %lld,\n", master_pid,
		   (long long)get_double(st, g, "now"));
	buf_printf(out, " \"active\": {\"messages\": %ld, \"recipients\": %ld, "
		   "\"message_limit\": %ld, \"recipient_limit\": %ld},\n",
		   get_long(st, g, "messages"), get_long(st, g, "recipients"),
		   get_long(st, g, "message_limit"), get_long(st, g, "recipient_limit"));
	buf_printf(out, " \"queues_in_memory\": %ld, \"deferred_indexed\": %ld,\n",
		   get_long(st, g, "queues"), get_long(st, g, "deferred_indexed"));
	buf_puts(out, " \"transports\": [");
	for (size_t i = 0; i < st->nxport; i++) {
		buf_puts(out, i ? ",\n  {" : "\n  {");
		put_fields(out, st, &st->xports[i], xport_fields);
		buf_putc(out, '}');
	}
	buf_puts(out, "],\n \"destinations\": [");
	for (size_t i = 0; i < st->ndest; i++) {
		buf_puts(out, i ? ",\n  {" : "\n  {");
		put_fields(out, st, &st->dests[i], dest_fields);
		buf_putc(out, '}');
	}
	buf_puts(out, "]}\n");
}

int cmd_status_json(const char *queue_dir, long master_pid)
{
	struct state st;
	struct buf *out;

	if (master_pid == 0) {
		printf("{\"running\": false}\n");
		return CLI_EX_FAIL;
	}
	if (state_fetch(queue_dir, &st) < 0)
		return cli_error(CLI_EX_FAIL, "%s", state_err);
	out = buf_create(4096);
	state_json(out, &st, master_pid);
	fwrite(buf_str(out), 1, buf_len(out), stdout);
	buf_free(&out);
	state_deinit(&st);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- top ---- */

static const struct state *sort_state;

/* stuck_cmp - dead first, then most waiting, most in flight, then by name */
static int stuck_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	const struct state *st = sort_state;
	int dx = strcmp(get(st, x, "d_state"), "dead") == 0;
	int dy = strcmp(get(st, y, "d_state"), "dead") == 0;
	long wx = get_long(st, x, "d_waiting"), wy = get_long(st, y, "d_waiting");
	long fx = get_long(st, x, "d_in_flight"), fy = get_long(st, y, "d_in_flight");
	int c;

	if (dx != dy)
		return dy - dx;
	if (wx != wy)
		return wx > wy ? -1 : 1;
	if (fx != fy)
		return fx > fy ? -1 : 1;
	if ((c = strcmp(get(st, x, "d_transport"), get(st, y, "d_transport"))) != 0)
		return c;
	return strcmp(get(st, x, "dest"), get(st, y, "dest"));
}

/* cell - s printable, cut to width (borrowed from tmp) */
static const char *cell(struct buf *tmp, const char *s, size_t width)
{
	buf_reset(tmp);
	queue_list_printable(tmp, s);
	if (buf_len(tmp) > width)
		buf_truncate(tmp, width);
	return buf_str(tmp);
}

/* retry_in - "in 4m12s" style time until t (empty when none) */
static void retry_in(char *out, size_t size, double t, double now)
{
	long s;

	if (t < 0) {
		snprintf(out, size, "-");
		return;
	}
	s = t > now ? (long)up(t - now) : 0;
	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(out, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
}

/* top_screen - one screen, at most rows lines (0: all) */
static void top_screen(struct buf *out, struct state *st, long master_pid, int rows)
{
	const struct group *g = &st->top;
	double now = get_double(st, g, "now");
	time_t tt = (time_t)now;
	struct tm tm;
	char when[32], retry[32];
	struct buf *tmp = buf_create(128), *tmp2 = buf_create(128);
	int lines = 0;
	long dead = 0, waiting = 0, inflight = 0;

	sort_state = st;
	if (st->ndest)
		qsort(st->dests, st->ndest, sizeof(*st->dests), stuck_cmp);
	for (size_t i = 0; i < st->ndest; i++) {
		dead += strcmp(get(st, &st->dests[i], "d_state"), "dead") == 0;
		waiting += get_long(st, &st->dests[i], "d_waiting");
		inflight += get_long(st, &st->dests[i], "d_in_flight");
	}
	localtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	buf_printf(out, "sluice top - %s  master pid %ld  active: %ld/%ld messages, "
		   "%ld/%ld recipients\n", when, master_pid, get_long(st, g, "messages"),
		   get_long(st, g, "message_limit"), get_long(st, g, "recipients"),
		   get_long(st, g, "recipient_limit"));
	buf_printf(out, "destinations: %zu (%ld dead), %ld recipients waiting, "
		   "%ld deliveries in flight\n\n", st->ndest, dead, waiting, inflight);
	buf_printf(out, "%-12s %4s %4s %5s %5s %7s  %s\n", "TRANSPORT", "BUSY", "IDLE", "START",
		   "LIMIT", "RETRY", "STATE");
	lines += 4;
	for (size_t i = 0; i < st->nxport; i++) {
		const struct group *x = &st->xports[i];
		bool xdead = get_long(st, x, "t_dead") != 0;

		retry_in(retry, sizeof(retry), get_double(st, x, "t_retry_at"), now);
		buf_printf(out, "%-12s %4ld %4ld %5ld %5ld %7s  %s%s\n",
			   cell(tmp, get(st, x, "transport"), 12), get_long(st, x, "agents_busy"),
			   get_long(st, x, "agents_idle"), get_long(st, x, "agents_starting"),
			   get_long(st, x, "agents_limit"), retry, xdead ? "dead: " : "alive",
			   xdead ? cell(tmp2, get(st, x, "t_reason"), 80) : "");
		lines++;
	}
	buf_printf(out, "\n%-28s %-9s %-9s %7s %5s %6s %6s %6s %7s  %s\n", "DESTINATION",
		   "TRANSPORT", "STATE", "WIN/LIM", "BUSY", "WAIT", "DLV5M", "FAIL5M", "RETRY",
		   "REASON");
	lines += 2;
	for (size_t i = 0; i < st->ndest; i++) {
		const struct group *d = &st->dests[i];
		char win[32];
		const char *state = get(st, d, "d_state");
		double at = strcmp(state, "suspended") == 0 ? get_double(st, d, "d_resume_at")
			: get_double(st, d, "d_retry_at");

		if (rows > 0 && lines >= rows - 1) {
			buf_printf(out, "... %zu more\n", st->ndest - i);
			break;
		}
		snprintf(win, sizeof(win), "%ld/%ld", get_long(st, d, "d_window"),
			 get_long(st, d, "d_window_limit"));
		retry_in(retry, sizeof(retry), at, now);
		buf_printf(out, "%-28s ", cell(tmp, get(st, d, "dest"), 28));
		buf_printf(out, "%-9s %-9s %7s %5ld %6ld %6ld %6ld %7s  %s\n",
			   cell(tmp, get(st, d, "d_transport"), 9), state, win,
			   get_long(st, d, "d_in_flight"), get_long(st, d, "d_waiting"),
			   get_long(st, d, "d_delivered_5m"), get_long(st, d, "d_failed_5m"), retry,
			   cell(tmp2, get(st, d, "d_reason"), 200));
		lines++;
	}
	buf_free(&tmp);
	buf_free(&tmp2);
}

/* read_config - configuration for a status command; 0 or EX_CONFIG */
static int read_config(const char *config_dir)
{
	const char *error;

	if (mail_conf_read(config_dir, &error) < 0)
		return cli_error(EX_CONFIG, "%s", error);
	return EX_OK;
}

int cmd_top(const char *config_dir, int argc, char **argv)
{
	static const char usage[] = "[-c dir] top [-b] [-n iterations] [-d seconds]";
	long iterations = -1, pid;
	double delay = 2;
	bool batch = false;
	char *end;
	int ch, rc, rows = 0;
	struct winsize ws;
	struct buf *out;

	cli_command_set(argv[0]);
	optind = 1;
	while ((ch = getopt(argc, argv, "bn:d:")) != -1) {
		switch (ch) {
		case 'b':
			batch = true;
			break;
		case 'n':
			errno = 0;
			iterations = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || iterations < 1)
				return cli_usage(usage, "-n %s: not a number of iterations (1 or more)",
						 optarg);
			break;
		case 'd':
			errno = 0;
			delay = strtod(optarg, &end);
			if (errno || *end || end == optarg || !isfinite(delay) || delay < 0.1
			    || delay > 86400)
				return cli_usage(usage, "-d %s: not a delay in seconds (0.1 to 86400)",
						 optarg);
			break;
		default:
			return cli_usage(usage, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(usage, NULL);
	if ((rc = read_config(config_dir)) != EX_OK)
		return rc;
	out = buf_create(8192);
	for (long n = 0; iterations < 0 || n < iterations; n++) {
		struct state st;

		if (n > 0) {
			struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};

			nanosleep(&ts, NULL);
		}
		if ((pid = master_running(var_queue_directory)) == 0) {
			buf_free(&out);
			return cli_error(CLI_EX_FAIL, "the sluice mail system is not running");
		}
		if (state_fetch(var_queue_directory, &st) < 0) {
			buf_free(&out);
			return cli_error(CLI_EX_FAIL, "%s", state_err);
		}
		rows = 0;
		if (!batch && isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
			rows = ws.ws_row;
		buf_reset(out);
		if (!batch)
			buf_puts(out, "\033[H\033[2J");	/* home, clear screen */
		top_screen(out, &st, pid, rows);
		if (batch && iterations != 1)
			buf_putc(out, '\n');
		fwrite(buf_str(out), 1, buf_len(out), stdout);
		fflush(stdout);
		state_deinit(&st);
	}
	buf_free(&out);
	return 0;
}
