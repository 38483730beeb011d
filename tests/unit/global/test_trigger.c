/*
 * test_trigger - trigger_send: bytes arrive in one piece, a FIFO without a
 * reader means "mail system is down", a regular file is refused, a full
 * FIFO counts as triggered.
 */
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
#include <unistd.h>

#include <cmocka.h>

#include "global/trigger.h"

static char dir[] = "/tmp/test_trigger.XXXXXX";

/* setup - a queue directory with public/qmgr as a FIFO */
static int setup(void **state)
{
	char path[256];

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/public", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/public/qmgr", dir);
	return mkfifo(path, 0622);
}

/* teardown - remove the queue directory */
static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* with a reader, the bytes arrive */
static void test_delivered(void **state)
{
	char path[256], got[16];
	const char *err = NULL;
	int rfd;

	snprintf(path, sizeof(path), "%s/%s", dir, TRIGGER_QMGR);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
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

/* a full FIFO still counts as triggered */
static void test_full(void **state)
{
	char path[256], junk[4096];
	const char *err = NULL;
	int rfd, wfd;

	snprintf(path, sizeof(path), "%s/%s", dir, TRIGGER_QMGR);
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	wfd = open(path, O_WRONLY | O_NONBLOCK);
	assert_true(rfd >= 0 && wfd >= 0);
	memset(junk, 'W', sizeof(junk));
	while (write(wfd, junk, sizeof(junk)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(trigger_send(dir, TRIGGER_QMGR, "I", 1, &err), 0);
	close(wfd);
	close(rfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivered),
		cmocka_unit_test(test_no_reader),
		cmocka_unit_test(test_not_fifo),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
