/*
 * test_queue_list_io - the queue listing reads files through io_uring in
 * batches, and one system call at a time where it cannot (a big file, a
 * defer log caught in a write, an error, no io_uring): both ways must
 * print the same bytes and the same warnings.  One queue holds every kind
 * of file the listing meets (small and big messages, with and without
 * defer logs, long and torn and malformed logs, damaged, incomplete,
 * quarantined and expired files, a symlink, a folder with a queue ID's
 * name, a message with many recipients) and enough messages for several
 * batches and threads; it is listed as text and JSON both ways and the
 * runs compared, and the counters show which way each file went.  A last
 * test lists a queue while another process removes its files: a file
 * that vanishes is skipped without a word.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

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

/* append_to - add text at the end of a file */
static void append_to(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* One listing, both ways. */
struct both {
	struct tl_run ring, old_way;
	struct queue_list_io_stats ring_stats, old_stats;
};

/* list_both - run argv with io_uring, then without */
static struct both list_both(char **argv)
{
	struct both b;

	queue_list_io_uring = true;
	b.ring = tl_run_cmd(cmd_queue, NULL, argv);
	b.ring_stats = queue_list_io_stats;
	queue_list_io_uring = false;
	b.old_way = tl_run_cmd(cmd_queue, NULL, argv);
	b.old_stats = queue_list_io_stats;
	queue_list_io_uring = true;
	return b;
}

/* both_free - release the runs */
static void both_free(struct both *b)
{
	tl_run_free(&b->ring);
	tl_run_free(&b->old_way);
}

/* assert_same - the two runs printed the same */
static void assert_same(const struct both *b)
{
	assert_int_equal(b->ring.status, 0);
	assert_int_equal(b->old_way.status, 0);
	if (strcmp(b->ring.out, b->old_way.out) != 0)
		print_error("io_uring:\n%s\none at a time:\n%s", b->ring.out, b->old_way.out);
	assert_string_equal(b->ring.out, b->old_way.out);
	/* The warnings, in any order (reader threads race to print them). */
	{
		long lines_ring = 0, lines_old = 0;

		for (const char *p = b->ring.err; *p; p++)
			lines_ring += *p == '\n';
		for (const char *p = b->old_way.err; *p; p++)
			lines_old += *p == '\n';
		assert_int_equal(lines_ring, lines_old);
		for (const char *line = b->old_way.err; *line;) {
			const char *nl = strchr(line, '\n');
			char *one = strndup(line, (size_t)(nl - line + 1));

			if (strstr(b->ring.err, one) == NULL)
				print_error("warning missing with io_uring: %s", one);
			assert_non_null(strstr(b->ring.err, one));
			free(one);
			line = nl + 1;
		}
	}
}

/* every kind of file, many messages: both ways print the same */
static void test_same_both_ways(void **state)
{
	enum { SMALL = 200 };
	static const char *const one[] = {"r@x.test", NULL};
	static const char *const three[] = {"a@x.test", "b@x.test", "c@x.test", NULL};
	static const char *many[80];
	char *argv_text[] = {"queue", NULL}, *argv_json[] = {"queue", "--json", NULL};
	char id_big[QUEUE_ID_SIZE], id_longlog[QUEUE_ID_SIZE], id_torn[QUEUE_ID_SIZE];
	char id_badlog[QUEUE_ID_SIZE], id_damaged[QUEUE_ID_SIZE], id_many[QUEUE_ID_SIZE];
	char path[700], target[700], reason[300], *big;
	long off[80];
	struct both b;

	tl_clear_queues();
	/* Small messages, every other one with a defer log of two records. */
	for (int i = 0; i < SMALL; i++) {
		const char *id = tl_make_full(i % 7 ? "deferred" : "incoming", 1606557600 + i,
					      i % 5 ? "s@x.test" : "", three, i % 3 ? 0 : 2u,
					      NULL, off);

		if (i % 2 == 0) {
			snprintf(reason, sizeof(reason), "connect to mx%d.example.test: refused", i % 4);
			tl_defer(id, three[0], off[0], reason);
			tl_defer(id, three[2], off[2], "4.2.2 mailbox full");
		}
	}
	/* Bigger than the io_uring buffer (64 KiB): read the old way. */
	big = xmalloc(100001);
	memset(big, 'x', 100000);
	for (int i = 0; i < 100000; i += 80)
		big[i] = '\n';
	big[100000] = 0;
	snprintf(id_big, sizeof(id_big), "%s",
		 tl_make_full("deferred", 1606557600, "big@x.test", one, 0, big, off));
	free(big);
	tl_defer(id_big, one[0], off[0], "big message's reason");
	/* A defer log longer than its buffer (8 KiB). */
	snprintf(id_longlog, sizeof(id_longlog), "%s",
		 tl_make_full("deferred", 1606557600, "s@x.test", one, 0, NULL, off));
	for (int i = 0; i < 60; i++) {
		snprintf(reason, sizeof(reason), "attempt %d: %0200d", i, i);
		tl_defer(id_longlog, one[0], off[0], reason);
	}
	/* A torn last record (a writer caught in its write, or a crash). */
	snprintf(id_torn, sizeof(id_torn), "%s",
		 tl_make_full("deferred", 1606557600, "s@x.test", three, 0, NULL, off));
	tl_defer(id_torn, three[1], off[1], "the complete record");
	append_to(tl_path("defer", id_torn), "recipient=c@x.test\noffset=");
	/* A malformed defer log: warned, the message listed without reasons. */
	snprintf(id_badlog, sizeof(id_badlog), "%s",
		 tl_make_full("deferred", 1606557600, "s@x.test", one, 0, NULL, off));
	tl_defer(id_badlog, one[0], off[0], "fine");
	append_to(tl_path("defer", id_badlog), "no equals sign here\n\n");
	/* Damaged, incomplete, quarantined, expired. */
	snprintf(id_damaged, sizeof(id_damaged), "%s", tl_make("deferred", 1606557600, "s@x.test", one, 0));
	assert_int_equal(truncate(tl_path("deferred", id_damaged), 150), 0);
	assert_int_equal(chmod(tl_path("deferred", tl_make("deferred", 1606557600, "s@x.test", one, 0)),
			       0600), 0);
	assert_int_equal(chmod(tl_path("deferred", tl_make("deferred", 1606557600, "s@x.test", one, 0)),
			       QF_MODE_CORRUPT), 0);
	assert_int_equal(chmod(tl_path("hold", tl_make("hold", 1606557600, "s@x.test", one, 0)),
			       0700 | QF_MODE_EXPIRE), 0);
	/* A symlink and a folder with queue IDs' names. */
	snprintf(target, sizeof(target), "%s", tl_path("deferred", tl_make("deferred", 1606557600,
									   "s@x.test", one, 0)));
	snprintf(path, sizeof(path), "%s/incoming/4ZZZZZ00001", tl_queue);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/incoming/4ZZZZZ00002", tl_queue);
	assert_int_equal(mkdir(path, 0700), 0);
	/* More recipients than a reader buffers: the writer lists it. */
	for (int i = 0; i < 79; i++) {
		char *a = xmalloc(32);

		snprintf(a, 32, "m%02d@x.test", i);
		many[i] = a;
	}
	many[79] = NULL;
	snprintf(id_many, sizeof(id_many), "%s",
		 tl_make_full("deferred", 1606557600, "s@x.test", many, 0, NULL, off));
	tl_defer(id_many, many[3], off[3], "one of many");
	for (int i = 0; i < 79; i++)
		free((char *)many[i]);

	b = list_both(argv_text);
	assert_same(&b);
	/* What the special files show, in either run. */
	assert_non_null(strstr(b.ring.out, "(big message's reason)"));
	assert_non_null(strstr(b.ring.out, "attempt 59: "));
	assert_non_null(strstr(b.ring.out, "(the complete record)"));
	assert_non_null(strstr(b.ring.out, "(one of many)"));
	assert_null(strstr(b.ring.out, "(fine)"));
	snprintf(reason, sizeof(reason), "%s: defer log: ", id_badlog);
	assert_non_null(strstr(b.ring.err, reason));
	snprintf(reason, sizeof(reason), "deferred/%s: damaged queue file", id_damaged);
	assert_non_null(strstr(b.ring.err, reason));
	assert_non_null(strstr(b.ring.err, "incoming/4ZZZZZ00001: "));
	assert_non_null(strstr(b.ring.err, "incoming/4ZZZZZ00002: "));
	/* SMALL + big, long log, torn, bad log, expired hold, symlink target, many. */
	snprintf(reason, sizeof(reason), " in %d Requests.\n", SMALL + 7);
	assert_non_null(strstr(b.ring.out, reason));
	/*
	 * The ring read nearly all; the big file, the symlink and the folder
	 * went the old way, and so did the long, torn and malformed logs;
	 * without io_uring everything did.
	 */
	if (b.ring_stats.qf_ring == 0)
		skip();	/* no io_uring here (old kernel, disabled): nothing to compare */
	assert_true(b.ring_stats.qf_ring >= SMALL);
	assert_true(b.ring_stats.qf_old_way >= 3 && b.ring_stats.qf_old_way <= 4);
	assert_true(b.ring_stats.log_ring >= SMALL / 2);
	assert_true(b.ring_stats.log_old_way >= 3 && b.ring_stats.log_old_way <= 5);
	assert_int_equal(b.old_stats.qf_ring, 0);
	assert_int_equal(b.old_stats.log_ring, 0);
	assert_true(b.old_stats.qf_old_way >= SMALL + 10);
	both_free(&b);

	b = list_both(argv_json);
	assert_same(&b);
	assert_non_null(strstr(b.ring.out, "\"delay_reason\": \"one of many\""));
	both_free(&b);
	snprintf(path, sizeof(path), "%s/incoming/4ZZZZZ00002", tl_queue);
	assert_int_equal(rmdir(path), 0);
}

/* files removed while the listing runs are skipped silently */
static void test_vanishing(void **state)
{
	enum { N = 600 };
	static char ids[N][QUEUE_ID_SIZE];
	static const char *const one[] = {"r@x.test", NULL};
	char *argv_text[] = {"queue", NULL};
	struct tl_run r;
	long off[1];
	pid_t pid;
	int status, pipefd[2];
	char go;

	tl_clear_queues();
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], QUEUE_ID_SIZE, "%s",
			 tl_make_full("deferred", 1606557600 + i, "s@x.test", one, 0, NULL, off));
		tl_defer(ids[i], one[0], off[0], "reason");
	}
	assert_int_equal(pipe(pipefd), 0);
	if ((pid = fork()) == 0) {
		/* Remove messages and logs, from the end (which the listing reaches last). */
		close(pipefd[1]);
		if (read(pipefd[0], &go, 1) != 1)
			_exit(1);
		for (int i = N - 1; i >= 0; i -= 2) {
			unlink(tl_path("defer", ids[i]));
			unlink(tl_path("deferred", ids[i]));
			if (i > 0)
				unlink(tl_path("deferred", ids[i - 1]));
		}
		_exit(0);
	}
	assert_true(pid > 0);
	close(pipefd[0]);
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	r = tl_run_cmd(cmd_queue, NULL, argv_text);
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	/* Whatever was listed is whole: a sender line, a recipient, a blank line. */
	{
		long msgs = 0, rcpts = 0;

		for (const char *p = r.out; (p = strstr(p, "s@x.test\n")) != NULL; p++)
			msgs++;
		for (const char *p = r.out; (p = strstr(p, " r@x.test\n")) != NULL; p++)
			rcpts++;
		assert_int_equal(msgs, rcpts);
		assert_true(msgs <= N);
		if (msgs > 0) {
			char footer[64];

			snprintf(footer, sizeof(footer), " in %ld Request%s.\n", msgs, msgs == 1 ? "" : "s");
			assert_non_null(strstr(r.out, footer));
		}
	}
	tl_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_both_ways),
		cmocka_unit_test(test_vanishing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
