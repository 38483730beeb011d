/*
 * cmd_shape - queue shape by domain and age (Postfix's qshape).
 *
 * Contract.  For every complete message in the chosen queue folders
 * (default incoming and active, as qshape; "sluice shape deferred" for the
 * backlog), each pending recipient counts once under its domain and under
 * the message's age bucket; with -s each message counts once under its
 * sender's domain.  Messages without pending recipients are left out, as
 * qshape does.  Age is now minus the arrival time in the queue file.  The
 * buckets are qshape's: the first holds messages younger than tick (5)
 * minutes, each next one twice the limit (10, 20, ... 1280), the last one
 * everything older ("1280+").
 *
 * Layout (qshape's): a heading row "T 5 10 20 ... 1280+", then TOTAL, then
 * the domains by descending count; every count column right-aligned,
 * width = max(its TOTAL's digits, its heading) + 1 (at least 3), and the
 * domain column takes what is left of the 80 columns (at least 18).
 *
 *                                    T  5 10 20 40 80 160 320 640 1280 1280+
 *                             TOTAL  5  2  0  0  0  0   0   0   0    0     3
 *                      example.test  4  2  0  0  0  0   0   0   0    0     2
 *
 * Departures from qshape, on purpose: TOTAL is always the first row (qshape
 * sorts it in and can put a short domain with the same count above it);
 * ties are broken by name so the output is reproducible; only the top 10
 * domains are shown unless -n says otherwise (qshape shows them all when
 * writing to a pipe, the top 20 on a terminal); -p (parent domains) is not
 * implemented.
 *
 * Diagnostics: damaged files are skipped with a warning; a missing queue
 * folder gets a warning and counts as empty.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_error.h"
#include "cmd_queue.h"
#include "cmd_shape.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define SHAPE_DOMAIN_MIN	18	/* narrowest domain column (qshape) */
#define SHAPE_BUCKETS_MAX	64
#define RCPT_BATCH		256

struct shape_row {
	const char *name;	/* borrowed from the table's hash */
	long *counts;		/* [0] total, [1..buckets] per bucket */
};

struct cmd_shape_table {
	struct cmd_shape_opts opts;
	struct htable *rows;	/* domain -> struct shape_row */
	struct shape_row total;
};

/* cmd_shape_bucket - qshape's age bucket */
int cmd_shape_bucket(long age_sec, const struct cmd_shape_opts *opts)
{
	long unit = 60 * opts->tick;
	long limit;
	int b;

	if (age_sec < unit)
		return 1;
	if (opts->linear) {
		long q = age_sec / unit + 1;

		return q < opts->buckets ? (int)q : opts->buckets;
	}
	/* 2 + floor(log2(age / unit)), without floating point. */
	for (b = 2, limit = 2 * unit; b < opts->buckets && age_sec >= limit; b++) {
		if (limit > __LONG_MAX__ / 2)
			return opts->buckets;
		limit *= 2;
	}
	return b < opts->buckets ? b : opts->buckets;
}

/* cmd_shape_domain - qshape's domain reduction */
const char *cmd_shape_domain(struct buf *out, const char *addr, const char *empty_addr)
{
	const char *at = strrchr(addr, '@');
	const char *p = at ? at + 1 : addr;
	size_t start, end;

	buf_reset(out);
	if (*addr == 0) {
		buf_puts(out, empty_addr);
		return buf_str(out);
	}
	/* Fold each ".." to "." (one pass, left to right, as s/\.\././g). */
	while (*p) {
		if (p[0] == '.' && p[1] == '.') {
			buf_putc(out, '.');
			p += 2;
		} else {
			buf_putc(out, *p++);
		}
	}
	str_lower(out->data);
	/* One leading and one trailing dot off, leaving at least one byte. */
	start = 0;
	end = out->len;
	if (end - start > 1 && out->data[start] == '.')
		start++;
	if (end - start > 1 && out->data[end - 1] == '.')
		end--;
	memmove(out->data, out->data + start, end - start);
	buf_truncate(out, end - start);
	return buf_str(out);
}

/* cmd_shape_table_create - empty table */
struct cmd_shape_table *cmd_shape_table_create(const struct cmd_shape_opts *opts)
{
	struct cmd_shape_table *t = xcalloc(1, sizeof(*t));

	t->opts = *opts;
	t->rows = htable_create(64);
	t->total.name = "TOTAL";
	t->total.counts = xcalloc((size_t)opts->buckets + 1, sizeof(long));
	return t;
}

/* row_free - htable value destructor */
static void row_free(void *p)
{
	struct shape_row *r = p;

	free(r->counts);
	free(r);
}

/* cmd_shape_table_free - release */
void cmd_shape_table_free(struct cmd_shape_table **tp)
{
	struct cmd_shape_table *t = *tp;

	if (t == NULL)
		return;
	htable_free(&t->rows, row_free);
	free(t->total.counts);
	free(t);
	*tp = NULL;
}

/* cmd_shape_table_add - count one */
void cmd_shape_table_add(struct cmd_shape_table *t, const char *domain, int bucket)
{
	struct shape_row *r;

	if (bucket < 1 || bucket > t->opts.buckets)
		msg_panic("cmd_shape_table_add: bucket %d out of 1..%d", bucket, t->opts.buckets);
	if ((r = htable_find(t->rows, domain)) == NULL) {
		r = xcalloc(1, sizeof(*r));
		r->counts = xcalloc((size_t)t->opts.buckets + 1, sizeof(long));
		htable_enter(t->rows, domain, r);
		r->name = htable_locate(t->rows, domain)->key;
	}
	r->counts[0]++;
	r->counts[bucket]++;
	t->total.counts[0]++;
	t->total.counts[bucket]++;
}

/* row_cmp - by count, then shorter name, then name */
static int row_cmp(const void *a, const void *b)
{
	const struct shape_row *x = *(struct shape_row *const *)a;
	const struct shape_row *y = *(struct shape_row *const *)b;
	size_t lx = strlen(x->name), ly = strlen(y->name);

	if (x->counts[0] != y->counts[0])
		return x->counts[0] > y->counts[0] ? -1 : 1;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* put_row - one line: domain right-aligned (or "+tail"), then the counts */
static void put_row(struct buf *out, const char *name, int dw, const int *widths,
		    int ncol, const long *counts, char *const *heads)
{
	int len = (int)strlen(name);

	if (len > dw)
		buf_printf(out, "+%s", name + len - (dw - 1));
	else
		buf_printf(out, "%*s", dw, name);
	for (int i = 0; i < ncol; i++) {
		if (heads)
			buf_printf(out, "%*s", widths[i], heads[i]);
		else
			buf_printf(out, "%*ld", widths[i], counts[i]);
	}
	buf_putc(out, '\n');
}

/* cmd_shape_table_format - the qshape table */
void cmd_shape_table_format(const struct cmd_shape_table *t, struct buf *out)
{
	int ncol = t->opts.buckets + 1, dw = t->opts.width;
	int *widths = xcalloc((size_t)ncol, sizeof(int));
	char **heads = xcalloc((size_t)ncol, sizeof(char *));
	struct htable_info **list;
	struct shape_row **rows;
	size_t nrows, shown;
	long limit = 0;

	/* Headings: T, then each bucket's upper limit in minutes, the last "+". */
	for (int i = 0; i < ncol; i++) {
		char count[32];
		int l;

		if (i == 0)
			heads[i] = xstrdup("T");
		else if (i < ncol - 1) {
			limit = t->opts.linear || limit == 0 ? limit + t->opts.tick : 2 * limit;
			heads[i] = xasprintf("%ld", limit);
		} else {
			heads[i] = xasprintf("%ld+", limit);
		}
		l = snprintf(count, sizeof(count), "%ld", t->total.counts[i]);
		if ((int)strlen(heads[i]) > l)
			l = (int)strlen(heads[i]);
		widths[i] = l > 2 ? l + 1 : 3;
		dw -= widths[i];
	}
	if (dw < SHAPE_DOMAIN_MIN)
		dw = SHAPE_DOMAIN_MIN;

	put_row(out, "", dw, widths, ncol, NULL, heads);
	put_row(out, t->total.name, dw, widths, ncol, t->total.counts, NULL);
	list = htable_list(t->rows, &nrows);
	rows = xcalloc(nrows + 1, sizeof(*rows));
	for (size_t i = 0; i < nrows; i++)
		rows[i] = list[i]->value;
	qsort(rows, nrows, sizeof(*rows), row_cmp);
	shown = t->opts.top > 0 && (size_t)t->opts.top < nrows ? (size_t)t->opts.top : nrows;
	for (size_t i = 0; i < shown; i++)
		put_row(out, rows[i]->name, dw, widths, ncol, rows[i]->counts, NULL);
	free(rows);
	free(list);
	for (int i = 0; i < ncol; i++)
		free(heads[i]);
	free(heads);
	free(widths);
}

/* ---- reading the queue ---- */

struct shape_ctx {
	struct cmd_shape_table *table;
	bool sender;
	time_t now;
	struct buf *domain;
};

/* shape_file - count one queue file */
static void shape_file(struct shape_ctx *c, const char *queue, const struct queue_list_entry *e)
{
	struct qf_rcpt rcpts[RCPT_BATCH];
	struct qf_envelope env;
	const char *error;
	struct argv *domains = NULL;
	long offset = 0, n;
	struct stat st;
	struct qf *q;
	int bucket;

	if ((q = queue_list_open_entry(queue, e, &env, &st)) == NULL)
		return;
	bucket = cmd_shape_bucket((long)(c->now - (time_t)env.arrival_time), &c->table->opts);

	/*
	 * Collect the domains first and count them only once the whole
	 * recipient segment has been read, so that a file found damaged
	 * half-way counts not at all rather than in part.
	 */
	domains = argv_create();
	do {
		if ((n = qf_read_rcpts(q, &offset, rcpts, RCPT_BATCH, false, &error)) < 0) {
			msg_warn("%s/%s: %s: %s; skipped", queue, e->id,
				 n == QF_CORRUPT ? "damaged queue file" : "read error", error);
			goto out;
		}
		for (long i = 0; i < n; i++) {
			if (!c->sender || domains->argc == 0)
				argv_add(domains, cmd_shape_domain(c->domain, c->sender ? env.sender
								   : rcpts[i].address,
								   var_empty_address_recipient),
					 (char *)NULL);
			qf_rcpt_deinit(&rcpts[i]);
		}
	} while (offset != 0);
	for (size_t i = 0; i < domains->argc; i++)
		cmd_shape_table_add(c->table, domains->argv[i], bucket);
out:
	argv_free(&domains);
	qf_envelope_deinit(&env);
	qf_close(&q);
}

/* shape_queue - count every file of one folder; 0 or an exit status */
static int shape_queue(struct shape_ctx *c, const char *queue_dir, const char *queue)
{
	struct queue_list_entry *entries;
	const char *error;
	struct stat st;
	char *top;
	long count;

	/* Absolute folder names are used as they are, as qshape does. */
	top = queue[0] == '/' ? xstrdup(queue) : xasprintf("%s/%s", queue_dir, queue);
	if (stat(top, &st) < 0 || !S_ISDIR(st.st_mode)) {
		msg_warn("%s: no such queue folder", top);
		free(top);
		return 0;
	}
	free(top);
	count = queue[0] == '/' ? queue_list_scan("", queue + 1, &entries, &error)
		: queue_list_scan(queue_dir, queue, &entries, &error);
	if (count < 0)
		return cli_error(EX_IOERR, "%s", error);
	for (long i = 0; i < count; i++)
		shape_file(c, queue, &entries[i]);
	queue_list_scan_free(&entries, count);
	return 0;
}

/* opt_long - the value of an option taking a number; -1 when bad */
static long opt_long(int argc, char **argv, int *i, long min, long max)
{
	long v;

	if (*i + 1 >= argc || str_to_long(argv[*i + 1], min, max, &v) < 0)
		return -1;
	(*i)++;
	return v;
}

/* shape_usage - explain and fail */
static int shape_usage(void)
{
	return cli_usage("shape [-s] [-l] [-b buckets] [-t minutes] [-w width] [-n domains] "
			 "[queue...]", NULL);
}

/* cmd_shape - the command */
int cmd_shape(const char *config_dir, int argc, char **argv)
{
	static const char *const default_queues[] = {"incoming", "active", NULL};
	struct cmd_shape_opts opts = {.buckets = 10, .tick = 5, .width = 80, .top = 10};
	struct shape_ctx c = {0};
	const char *queue_dir;
	struct buf *out;
	long v;
	int i, rc;

	cli_command_set(argv[0]);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "-s") == 0) {
			c.sender = true;
		} else if (strcmp(argv[i], "-l") == 0) {
			opts.linear = true;
		} else if (strcmp(argv[i], "-b") == 0) {
			if ((v = opt_long(argc, argv, &i, 1, SHAPE_BUCKETS_MAX)) < 0)
				return shape_usage();
			opts.buckets = (int)v;
		} else if (strcmp(argv[i], "-t") == 0) {
			if ((v = opt_long(argc, argv, &i, 1, 1000000)) < 0)
				return shape_usage();
			opts.tick = v;
		} else if (strcmp(argv[i], "-w") == 0) {
			if ((v = opt_long(argc, argv, &i, 1, 10000)) < 0)
				return shape_usage();
			/* qshape only ever widens. */
			if (v > opts.width)
				opts.width = (int)v;
		} else if (strcmp(argv[i], "-n") == 0) {
			if ((v = opt_long(argc, argv, &i, 0, 1000000000)) < 0)
				return shape_usage();
			opts.top = v;
		} else {
			return shape_usage();
		}
	}
	if ((rc = cmd_queue_setup(config_dir, &queue_dir)) != 0)
		return rc;

	c.table = cmd_shape_table_create(&opts);
	c.now = time(NULL);
	c.domain = buf_create(256);
	if (i < argc) {
		for (; i < argc && rc == 0; i++)
			rc = shape_queue(&c, queue_dir, argv[i]);
	} else {
		for (const char *const *q = default_queues; *q && rc == 0; q++)
			rc = shape_queue(&c, queue_dir, *q);
	}
	if (rc == 0) {
		out = buf_create(4096);
		cmd_shape_table_format(c.table, out);
		if (fwrite(out->data, 1, out->len, stdout) != out->len || fflush(stdout) == EOF)
			rc = errno == EPIPE ? 0 : cli_error(EX_IOERR, "output write error: %s",
							   strerror(errno));
		buf_free(&out);
	}
	buf_free(&c.domain);
	cmd_shape_table_free(&c.table);
	return rc;
}
