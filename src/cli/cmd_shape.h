/*
 * cmd_shape - "sluice shape [options] [QUEUE...]" (Postfix's qshape):
 * pending recipients (or, with -s, messages by sender) per domain and age.
 */
#ifndef SLUICE_CMD_SHAPE_H
#define SLUICE_CMD_SHAPE_H

#include <stdbool.h>

struct buf;

/*
 * cmd_shape - argv[0] is "shape"; options -s (sender domains), -b COUNT
 * (age buckets, default 10), -t MINUTES (first bucket, default 5), -l
 * (linear ages), -w WIDTH (terminal width, default 80), -n COUNT (domains
 * shown besides TOTAL, default 10, 0 = all); then queue names (default:
 * incoming active, as qshape), relative to queue_directory or absolute.
 * Exit status 0, 64 usage, 74 unreadable folder, 78 configuration error.
 */
int cmd_shape(const char *config_dir, int argc, char **argv);

/* Table options. */
struct cmd_shape_opts {
	int buckets;		/* age buckets (>= 1) */
	long tick;		/* minutes: age limit of the first bucket */
	bool linear;		/* bucket limits tick, 2 tick, 3 tick... */
	int width;		/* the last column ends here */
	long top;		/* domains shown besides TOTAL, 0 = all */
};

/*
 * cmd_shape_bucket - qshape's bucket for a message age_sec old: 1 below
 * tick minutes; then 2 + floor(log2(age / tick)) (or 1 + floor(age / tick)
 * with linear), at most opts->buckets.  A negative age (clock step) is 1.
 */
int cmd_shape_bucket(long age_sec, const struct cmd_shape_opts *opts);

/*
 * cmd_shape_domain - qshape's domain of an address into out (replacing its
 * contents): lower-cased, the null address as empty_addr, the text after
 * the last '@', ".." folded to ".", one leading and one trailing '.' off.
 * Returns buf_str(out).
 */
const char *cmd_shape_domain(struct buf *out, const char *addr, const char *empty_addr);

struct cmd_shape_table;

/* cmd_shape_table_create - an empty table. Caller frees with cmd_shape_table_free(). */
struct cmd_shape_table *cmd_shape_table_create(const struct cmd_shape_opts *opts);
void cmd_shape_table_free(struct cmd_shape_table **tp);
/* cmd_shape_table_add - count one address (or message) of domain in bucket. */
void cmd_shape_table_add(struct cmd_shape_table *t, const char *domain, int bucket);
/*
 * cmd_shape_table_format - qshape's layout into out: a heading row (T, the
 * bucket limits, the last one with "+"), TOTAL, then the domains by count
 * (then by name length, then name), each column right-aligned and wide
 * enough for its TOTAL and heading, the domain column filling the width
 * (at least 18; a longer name shows as "+" and its tail).
 */
void cmd_shape_table_format(const struct cmd_shape_table *t, struct buf *out);

#endif
