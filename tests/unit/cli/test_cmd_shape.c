/*
 * test_cmd_shape - qshape's age buckets, domain reduction and table layout
 * (golden text checked against /usr/sbin/qshape's layout and a replica of
 * its Perl), then "sluice shape" in-process on a queue directory: default
 * queues, named queues, -s, done recipients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli_queue_testlib.h"
#include "cmd_shape.h"

#define OPTS_DEFAULT {.buckets = 10, .tick = 5, .width = 80, .top = 10}

/* the bucket of an age, as qshape computes it */
static void test_bucket(void **state)
{
	static const struct {
		struct cmd_shape_opts opts;
		long age;
		int bucket;
	} cases[] = {
		{OPTS_DEFAULT, -10, 1}, {OPTS_DEFAULT, 0, 1}, {OPTS_DEFAULT, 299, 1},
		{OPTS_DEFAULT, 300, 2}, {OPTS_DEFAULT, 599, 2}, {OPTS_DEFAULT, 600, 3},
		{OPTS_DEFAULT, 1199, 3}, {OPTS_DEFAULT, 1200, 4}, {OPTS_DEFAULT, 2400, 5},
		{OPTS_DEFAULT, 4800, 6}, {OPTS_DEFAULT, 9600, 7}, {OPTS_DEFAULT, 19200, 8},
		{OPTS_DEFAULT, 38400, 9}, {OPTS_DEFAULT, 76799, 9}, {OPTS_DEFAULT, 76800, 10},
		{OPTS_DEFAULT, 1000000000L, 10}, {OPTS_DEFAULT, __LONG_MAX__, 10},
		/* linear */
		{{.buckets = 10, .tick = 5, .linear = true}, 0, 1},
		{{.buckets = 10, .tick = 5, .linear = true}, 299, 1},
		{{.buckets = 10, .tick = 5, .linear = true}, 300, 2},
		{{.buckets = 10, .tick = 5, .linear = true}, 599, 2},
		{{.buckets = 10, .tick = 5, .linear = true}, 600, 3},
		{{.buckets = 10, .tick = 5, .linear = true}, 2699, 9},
		{{.buckets = 10, .tick = 5, .linear = true}, 2700, 10},
		{{.buckets = 10, .tick = 5, .linear = true}, 1000000, 10},
		/* one bucket; a one-minute tick */
		{{.buckets = 1, .tick = 5}, 0, 1},
		{{.buckets = 1, .tick = 5}, 100000, 1},
		{{.buckets = 10, .tick = 1}, 59, 1},
		{{.buckets = 10, .tick = 1}, 60, 2},
		{{.buckets = 10, .tick = 1}, 119, 2},
		{{.buckets = 10, .tick = 1}, 120, 3},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = cmd_shape_bucket(cases[i].age, &cases[i].opts);

		if (got != cases[i].bucket)
			print_error("case %zu: age %ld: bucket %d, want %d\n", i, cases[i].age,
				    got, cases[i].bucket);
		assert_int_equal(got, cases[i].bucket);
	}
}

/* the domain of an address, as qshape reduces it */
static void test_domain(void **state)
{
	static const struct {
		const char *addr;
		const char *domain;
	} cases[] = {
		{"User@Example.COM", "example.com"},
		{"", "MAILER-DAEMON"},
		{"noat", "noat"},
		{"NoAt", "noat"},
		{"a@b..c", "b.c"},
		{"a@.b.", "b"},
		{"a@b...c", "b..c"},
		{"x@y@z.test", "z.test"},
		{"a@", ""},
		{"a@.", "."},
		{"a@..", "."},
		{"a@b.c.", "b.c"},
		{"a@[127.0.0.1]", "[127.0.0.1]"},
	};
	struct buf *b = buf_create(64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(cmd_shape_domain(b, cases[i].addr, "MAILER-DAEMON"),
				    cases[i].domain);
	buf_free(&b);
}

/* count - add n of domain in bucket */
static void count(struct cmd_shape_table *t, const char *domain, int bucket, int n)
{
	while (n-- > 0)
		cmd_shape_table_add(t, domain, bucket);
}

/* the table layout (golden text) */
static void test_format(void **state)
{
	struct cmd_shape_opts opts = OPTS_DEFAULT;
	struct cmd_shape_table *t;
	struct buf *out = buf_create(1024);

	/* Empty: the same text /usr/sbin/qshape prints for an empty folder. */
	t = cmd_shape_table_create(&opts);
	cmd_shape_table_format(t, out);
	assert_string_equal(buf_str(out),
		"                                         T  5 10 20 40 80 160 320 640 1280 1280+\n"
		"                                  TOTAL  0  0  0  0  0  0   0   0   0    0     0\n");
	cmd_shape_table_free(&t);
	assert_null(t);

	/* Ties: by count, then shorter name, then name; long names cut. */
	buf_reset(out);
	t = cmd_shape_table_create(&opts);
	count(t, "example.com", 1, 3);
	count(t, "example.com", 10, 1);
	count(t, "other.test", 2, 1);
	count(t, "b.test", 1, 1);
	count(t, "a.test", 1, 1);
	count(t, "a-very-long-domain-name-that-does-not-fit.example.org", 5, 1);
	cmd_shape_table_format(t, out);
	assert_string_equal(buf_str(out),
		"                                         T  5 10 20 40 80 160 320 640 1280 1280+\n"
		"                                  TOTAL  8  5  1  0  0  1   0   0   0    0     1\n"
		"                            example.com  4  3  0  0  0  0   0   0   0    0     1\n"
		"                                 a.test  1  1  0  0  0  0   0   0   0    0     0\n"
		"                                 b.test  1  1  0  0  0  0   0   0   0    0     0\n"
		"                             other.test  1  0  1  0  0  0   0   0   0    0     0\n"
		"+ain-name-that-does-not-fit.example.org  1  0  0  0  0  1   0   0   0    0     0\n");
	cmd_shape_table_free(&t);

	/* Wide counts widen their columns; -n 1 shows one domain. */
	buf_reset(out);
	opts.top = 1;
	t = cmd_shape_table_create(&opts);
	count(t, "example.com", 1, 1234);
	count(t, "example.com", 9, 5);
	count(t, "x.test", 10, 100000);
	cmd_shape_table_format(t, out);
	assert_string_equal(buf_str(out),
		"                                      T    5 10 20 40 80 160 320 640 1280  1280+\n"
		"                           TOTAL 101239 1234  0  0  0  0   0   0   0    5 100000\n"
		"                          x.test 100000    0  0  0  0  0   0   0   0    0 100000\n");
	cmd_shape_table_free(&t);

	/* Linear, three one-minute buckets (qshape -b 3 -t 1 -l). */
	buf_reset(out);
	opts = (struct cmd_shape_opts){.buckets = 3, .tick = 1, .linear = true, .width = 80};
	t = cmd_shape_table_create(&opts);
	count(t, "e.test", 1, 1);
	count(t, "e.test", 2, 1);
	cmd_shape_table_format(t, out);
	assert_string_equal(buf_str(out),
		"                                                                      T  1  2 2+\n"
		"                                                               TOTAL  2  1  1  0\n"
		"                                                              e.test  2  1  1  0\n");
	cmd_shape_table_free(&t);

	/* Twelve buckets on 100 columns (qshape -w 100 -b 12). */
	buf_reset(out);
	opts = (struct cmd_shape_opts){.buckets = 12, .tick = 5, .width = 100};
	t = cmd_shape_table_create(&opts);
	cmd_shape_table_format(t, out);
	assert_string_equal(buf_str(out),
		"                                                   T  5 10 20 40 80 160 320 640 1280 2560 5120 5120+\n"
		"                                            TOTAL  0  0  0  0  0  0   0   0   0    0    0    0     0\n");
	cmd_shape_table_free(&t);
	buf_free(&out);
}

/* ---- on disk ---- */

static int setup(void **state)
{
	return tl_setup(NULL);
}

static int teardown(void **state)
{
	return tl_teardown();
}

/* row - the line of domain in a table (static buffer), or "" */
static const char *row(const char *table, const char *domain)
{
	static char line[256];
	const char *p = table;
	size_t n = strlen(domain);

	while (*p) {
		const char *end = strchr(p, '\n');
		const char *q = p;

		while (*q == ' ')
			q++;
		if (strncmp(q, domain, n) == 0 && q[n] == ' ') {
			snprintf(line, sizeof(line), "%.*s", (int)(end - p), p);
			return line;
		}
		p = end + 1;
	}
	return "";
}

/* counts - the numbers of a table line after the name */
static const char *counts(const char *table, const char *domain)
{
	const char *l = row(table, domain);
	const char *q = l;

	while (*q == ' ')
		q++;
	return *q ? q + strlen(domain) : "";
}

/* shape of a queue directory: defaults, named queues, -s, done marks */
static void test_shape_queue(void **state)
{
	static const char *const r_mixed[] = {"a@x.test", "b@x.test", "c@y.test", NULL};
	static const char *const r_x[] = {"z@x.test", NULL};
	static const char *const r_y[] = {"w@Y.test", NULL};
	char *argv_def[] = {"shape", NULL};
	char *argv_deferred[] = {"shape", "deferred", NULL};
	char *argv_sender[] = {"shape", "-s", "incoming", "active", "deferred", NULL};
	char *argv_bad[] = {"shape", "-p", NULL};
	char *argv_missing[] = {"shape", "nosuch", NULL};
	double now = (double)time(NULL);
	struct tl_run r;

	tl_clear_queues();
	/* incoming: 3 recipients, one done, just arrived. */
	tl_make("incoming", now - 10, "s@snd.test", r_mixed, 1u << 1);
	/* active: 7 minutes old; 25 minutes old. */
	tl_make("active", now - 7 * 60, "s@snd.test", r_x, 0);
	tl_make("active", now - 25 * 60, "", r_y, 0);
	/* deferred: two days old; and one with nothing left to do. */
	tl_make("deferred", now - 2 * 86400, "t@other.test", r_x, 0);
	tl_make("deferred", now - 2 * 86400, "t@other.test", r_x, 1u << 0);

	r = tl_run_cmd(cmd_shape, NULL, argv_def);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_string_equal(counts(r.out, "TOTAL"), "  4  2  1  0  1  0   0   0   0    0     0");
	assert_string_equal(counts(r.out, "x.test"), "  2  1  1  0  0  0   0   0   0    0     0");
	assert_string_equal(counts(r.out, "y.test"), "  2  1  0  0  1  0   0   0   0    0     0");
	assert_string_equal(row(r.out, "other.test"), "");
	assert_true(strncmp(r.out, "                                         T  5 10", 48) == 0);
	tl_run_free(&r);

	r = tl_run_cmd(cmd_shape, NULL, argv_deferred);
	assert_int_equal(r.status, 0);
	assert_string_equal(counts(r.out, "TOTAL"), "  1  0  0  0  0  0   0   0   0    0     1");
	assert_string_equal(counts(r.out, "x.test"), "  1  0  0  0  0  0   0   0   0    0     1");
	tl_run_free(&r);

	/* By sender: one count per message with something left to do. */
	r = tl_run_cmd(cmd_shape, NULL, argv_sender);
	assert_int_equal(r.status, 0);
	assert_string_equal(counts(r.out, "TOTAL"), "  4  1  1  0  1  0   0   0   0    0     1");
	assert_string_equal(counts(r.out, "snd.test"), "  2  1  1  0  0  0   0   0   0    0     0");
	assert_string_equal(counts(r.out, "MAILER-DAEMON"), "  1  0  0  0  1  0   0   0   0    0     0");
	assert_string_equal(counts(r.out, "other.test"), "  1  0  0  0  0  0   0   0   0    0     1");
	tl_run_free(&r);

	r = tl_run_cmd(cmd_shape, NULL, argv_bad);
	assert_int_equal(r.status, 64);
	assert_string_equal(r.out, "");
	tl_run_free(&r);

	r = tl_run_cmd(cmd_shape, NULL, argv_missing);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.err, "nosuch: no such queue folder"));
	assert_string_equal(counts(r.out, "TOTAL"), "  0  0  0  0  0  0   0   0   0    0     0");
	tl_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_shape_queue),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
