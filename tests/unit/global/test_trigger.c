/*
 * test_trigger - trigger_send: bytes arrive in one piece, a FIFO without a
 * reader means "mail system is down", a regular file is refused, a FIFO
 * that stays full (its reader never reads) fails with "timed out" after
 * trigger_timeout and not before, a FIFO that gets room within the time
 * limit takes the bytes.  The descriptor stays open for the next trigger to
 * the same FIFO (no new descriptor, nothing lost in between); when its
 * FIFO loses its reader and is made anew, the new one gets the bytes; a
 * full FIFO reached through the kept descriptor times out once, not twice.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/params.h"
#include "global/trigger.h"
#include "testlib.h"

/* now - monotonic seconds */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* set_blocking - clear O_NONBLOCK */
static void set_blocking(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
}

/* fill - write into wfd until the FIFO is full; bytes written */
static ssize_t fill(int wfd)
{
	char junk[4096];
	ssize_t n, total = 0;

	memset(junk, 'W', sizeof(junk));
	while ((n = write(wfd, junk, sizeof(junk))) > 0)
		total += n;
	assert_int_equal(errno, EAGAIN);
	/* Also the last partial page: one byte at a time. */
	while ((n = write(wfd, junk, 1)) > 0)
		total += n;
	assert_int_equal(errno, EAGAIN);
	return total;
}

static char *dir;

/* setup - a queue directory with public/qmgr as a FIFO */
static int setup(void **state)
{
	char path[256];

	dir = testlib_tmpdir("test_trigger");
	snprintf(path, sizeof(path), "%s/public", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/public/qmgr", dir);
	return mkfifo(path, 0622);
}

/* teardown - remove the queue directory */
static int teardown(void **state)
{
	int rc = testlib_rmtree(dir);

	free(dir);
	return rc;
}

/* reader - the qmgr FIFO opened for reading; its path into path */
static int reader(char *path, size_t size)
{
	int rfd;

	snprintf(path, size, "%s/%s", dir, TRIGGER_QMGR);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	return rfd;
}

/* with a reader, the bytes arrive */
static void test_delivered(void **state)
{
	char path[256], got[16];
	const char *err = NULL;
	int rfd;

	rfd = reader(path, sizeof(path));
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "FADI", 4, &err), 0);
	assert_int_equal(read(rfd, got, sizeof(got)), 4);
	assert_memory_equal(got, "FADI", 4);
	close(rfd);
}

/* without a reader: mail system is down, at once */
static void test_no_reader(void **state)
{
	const char *err = NULL;

	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), -1);
	assert_non_null(strstr(err, "mail system is down"));
	assert_int_equal(trigger_send(dir, "public/missing", "I", 1, &err), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "", 0, &err), -1);
}

/* a regular file in the FIFO's place is not written to */
static void test_not_fifo(void **state)
{
	char path[256];
	const char *err = NULL;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/public/plain", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(trigger_send(dir, "public/plain", "I", 1, &err), -1);
	assert_non_null(strstr(err, "not a FIFO"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
}

/* a FIFO nobody reads: "timed out" after trigger_timeout, not before */
static void test_full_times_out(void **state)
{
	char path[256];
	const char *err = NULL;
	double t0, took;
	int rfd, wfd;

	snprintf(path, sizeof(path), "%s/%s", dir, TRIGGER_QMGR);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	wfd = open(path, O_WRONLY | O_NONBLOCK);
	assert_true(rfd >= 0 && wfd >= 0);
	fill(wfd);
	var_trigger_timeout = 1;
	t0 = now();
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), -1);
	took = now() - t0;
	assert_non_null(strstr(err, "timed out after 1s"));
	if (took < 0.95 || took > 3.0)
		fail_msg("gave up after %.2f s, want about 1 s", took);
	close(wfd);
	close(rfd);
}

/* a full FIFO whose reader drains it within the time limit takes the bytes */
static void test_full_then_read(void **state)
{
	char path[256], buf[65536];
	const char *err = NULL;
	int rfd, wfd, status;
	ssize_t n, junk, total = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", dir, TRIGGER_QMGR);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	wfd = open(path, O_WRONLY | O_NONBLOCK);
	assert_true(rfd >= 0 && wfd >= 0);
	junk = fill(wfd);
	close(wfd);
	if ((pid = fork()) == 0) {
		/* The reader wakes up after 300 ms and takes exactly the junk. */
		usleep(300000);
		set_blocking(rfd);
		while (junk > 0 && (n = read(rfd, buf, junk < (ssize_t)sizeof(buf) ? (size_t)junk
					     : sizeof(buf))) > 0)
			junk -= n;
		_exit(junk == 0 ? 0 : 1);
	}
	assert_true(pid > 0);
	var_trigger_timeout = 5;
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "F", 1, &err), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The child drained the junk; what is left is our byte.  (The child
	 * made the shared description blocking; trigger_send keeps a writer
	 * open, so there is no end of file to stop at.) */
	fcntl(rfd, F_SETFL, fcntl(rfd, F_GETFL) | O_NONBLOCK);
	while ((n = read(rfd, buf, sizeof(buf))) > 0)
		total += n;
	assert_int_equal(total, 1);
	assert_int_equal(buf[0], 'F');
	close(rfd);
}

/* open_fds - how many descriptors this process has open */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* opendir's own */
}

/* one descriptor for many triggers; every byte arrives, in order */
static void test_kept_open(void **state)
{
	char path[256], got[16];
	const char *err = NULL;
	int rfd, before, after_first;

	rfd = reader(path, sizeof(path));
	before = open_fds();
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), 0);
	after_first = open_fds();
	assert_true(after_first <= before + 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(trigger_send(dir, TRIGGER_QMGR, i % 2 ? "D" : "I", 1, &err), 0);
	assert_int_equal(open_fds(), after_first);
	assert_int_equal(read(rfd, got, sizeof(got)), 6);
	assert_memory_equal(got, "IIDIDI", 6);
	close(rfd);
}

/* the FIFO lost its reader and was made anew (master restarted): the new one gets it */
static void test_kept_fifo_made_anew(void **state)
{
	char path[256], got[16];
	const char *err = NULL;
	int rfd;

	rfd = reader(path, sizeof(path));
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), 0);
	close(rfd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0622), 0);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "W", 1, &err), 0);
	assert_int_equal(read(rfd, got, sizeof(got)), 1);
	assert_int_equal(got[0], 'W');
	/* No reader at all now: "mail system is down", at once. */
	close(rfd);
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), -1);
	assert_non_null(strstr(err, "mail system is down"));
}

/* a full FIFO through the kept descriptor: one time-out, not two */
static void test_kept_full_times_out_once(void **state)
{
	char path[256];
	const char *err = NULL;
	double t0, took;
	int rfd, wfd;

	rfd = reader(path, sizeof(path));
	var_trigger_timeout = 1;
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), 0);
	wfd = open(path, O_WRONLY | O_NONBLOCK);
	assert_true(wfd >= 0);
	fill(wfd);
	t0 = now();
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), -1);
	took = now() - t0;
	assert_non_null(strstr(err, "timed out after 1s"));
	if (took < 0.95 || took > 1.9)
		fail_msg("gave up after %.2f s, want about 1 s", took);
	close(wfd);
	close(rfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivered),
		cmocka_unit_test(test_no_reader),
		cmocka_unit_test(test_not_fifo),
		cmocka_unit_test(test_full_times_out),
		cmocka_unit_test(test_full_then_read),
		cmocka_unit_test(test_kept_open),
		cmocka_unit_test(test_kept_fifo_made_anew),
		cmocka_unit_test(test_kept_full_times_out_once),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
