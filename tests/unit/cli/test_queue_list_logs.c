/*
 * test_queue_list_logs - how the queue listing finds the defer logs.  In
 * deferred/ it opens each message's log by its name ("no such file": no
 * log) until a batch finds more than half of them missing; in another
 * folder with more than 256 messages, and after such a batch, it reads
 * defer/ once and opens only the logs it found there; in a small folder
 * it opens by name too.  Whichever way, every log is shown once, a message without
 * one shows no reason and costs no warning, and the io_uring and the
 * one-call-at-a-time readers print the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli_queue_testlib.h"
#include "cmd_queue.h"
#include "global/queue_list.h"

static int setup(void **state)
{
	return tl_setup(NULL);
}

static int teardown(void **state)
{
	queue_list_io_uring = true;
	return tl_teardown();
}

/* count_of - occurrences of needle in hay */
static long count_of(const char *hay, const char *needle)
{
	long n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* One folder of the queue: how many messages, every how many with a log. */
struct folder_row {
	const char *queue;
	int count;
	int log_every;
};

/* each log shown once, whichever way the listing found it */
static void test_logs_found_every_way(void **state)
{
	static const struct folder_row rows[] = {
		/* Opened by name; few have one: after the first batch (1024) defer/ is read. */
		{"deferred", 1100, 10},
		{"hold", 300, 3},	/* more than 256: defer/ read once */
		{"incoming", 5, 5},	/* few: opened by name */
		{"active", 3, 1},
	};
	static const char *const one[] = {"r@x.test", NULL};
	char *argv_text[] = {"queue", NULL}, *argv_json[] = {"queue", "--json", NULL};
	struct queue_list_io_stats ring_stats;
	char reason[100], line[120];
	long logs = 0, off[1];
	struct tl_run ring, old_way;

	tl_clear_queues();
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		for (int i = 0; i < rows[r].count; i++) {
			const char *id = tl_make_full(rows[r].queue, 1606557600 + i, "s@x.test", one,
						      0, NULL, off);

			if (i % rows[r].log_every == 0) {
				snprintf(reason, sizeof(reason), "why %s %d", rows[r].queue, i);
				tl_defer(id, one[0], off[0], reason);
				logs++;
			}
		}
	}
	for (int json = 0; json < 2; json++) {
		char **argv = json ? argv_json : argv_text;

		queue_list_io_uring = true;
		ring = tl_run_cmd(cmd_queue, NULL, argv);
		ring_stats = queue_list_io_stats;
		queue_list_io_uring = false;
		old_way = tl_run_cmd(cmd_queue, NULL, argv);
		queue_list_io_uring = true;
		assert_int_equal(ring.status, 0);
		assert_int_equal(old_way.status, 0);
		assert_string_equal(ring.err, "");
		assert_string_equal(old_way.err, "");
		assert_string_equal(ring.out, old_way.out);
		/* Every log once, and no reason where there is none. */
		for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
			for (int i = 0; i < rows[r].count; i += rows[r].log_every) {
				snprintf(line, sizeof(line), json ? "\"delay_reason\": \"why %s %d\""
					 : "(why %s %d)\n", rows[r].queue, i);
				if (count_of(ring.out, line) != 1)
					print_error("%s: %ld times\n", line, count_of(ring.out, line));
				assert_int_equal(count_of(ring.out, line), 1);
			}
		}
		assert_int_equal(count_of(ring.out, json ? "\"delay_reason\"" : "(why "), logs);
		assert_int_equal(count_of(ring.out, "(reason unavailable)"), 0);
		/* With io_uring every log came from the ring, none read twice. */
		if (ring_stats.qf_ring > 0) {
			assert_int_equal(ring_stats.log_ring, logs);
			assert_int_equal(ring_stats.log_old_way, 0);
		}
		assert_int_equal(queue_list_io_stats.log_old_way, logs);
		tl_run_free(&ring);
		tl_run_free(&old_way);
	}
}

/* a deferred message whose defer/ hash folder is gone: listed, no reason, no word */
static void test_log_folder_missing(void **state)
{
	static const char *const one[] = {"r@x.test", NULL};
	char *argv_text[] = {"queue", NULL};
	char id[QUEUE_ID_SIZE], hash[QUEUE_HASH_FOLDER_SIZE], folder[700];
	struct tl_run r;
	long off[1];

	tl_clear_queues();
	snprintf(id, sizeof(id), "%s", tl_make_full("deferred", 1606557600, "s@x.test", one, 0,
						    NULL, off));
	assert_true(queue_hash_folder(STATUS_LOG_DEFER, id, hash) > 0);
	snprintf(folder, sizeof(folder), "%s/%s/%s", tl_queue, STATUS_LOG_DEFER, hash);
	assert_int_equal(rmdir(folder), 0);
	for (int io_uring = 1; io_uring >= 0; io_uring--) {
		queue_list_io_uring = io_uring;
		r = tl_run_cmd(cmd_queue, NULL, argv_text);
		assert_int_equal(r.status, 0);
		assert_string_equal(r.err, "");
		assert_non_null(strstr(r.out, id));
		assert_non_null(strstr(r.out, " r@x.test\n"));
		assert_null(strstr(r.out, "("));
		assert_non_null(strstr(r.out, " in 1 Request.\n"));
		tl_run_free(&r);
	}
	queue_list_io_uring = true;
	/* With the folder back and a log in it, the reason shows. */
	assert_int_equal(mkdir(folder, 0700), 0);
	tl_defer(id, one[0], off[0], "back again");
	r = tl_run_cmd(cmd_queue, NULL, argv_text);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "(back again)\n"));
	tl_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logs_found_every_way),
		cmocka_unit_test(test_log_folder_missing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
