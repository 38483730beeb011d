/*
 * test_local_mbox - mbox access: append and commit, roll back to the old
 * size, dot-locks held by others (fresh: give up; stale: removed), fcntl
 * locks held by another process, and the file checks (symlink, hard
 * links, owner, missing file without create).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agents/local/local_mbox.h"
#include "testlib.h"
#include "util/buf.h"

static char *base;

/* setup - a fresh folder */
static int setup(void **state)
{
	(void)state;
	base = testlib_tmpdir("sluice-test-mbox");
	return 0;
}

/* teardown - remove it */
static int teardown(void **state)
{
	int rc = testlib_rmtree(base);

	(void)state;
	free(base);
	return rc;
}

/* fast - quick lock retries for tests */
static void fast(struct mbox_conf *c)
{
	mbox_conf_default(c);
	c->lock_attempts = 2;
	c->lock_delay_ms = 10;
}

/* file_size - size or -1 */
static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* append, commit, append, roll back */
static void test_append(void **state)
{
	struct mbox_conf c;
	struct mbox *mb;
	struct buf *why = buf_create(64);
	char path[128], lock[140];

	(void)state;
	fast(&c);
	snprintf(path, sizeof(path), "%s/joe", base);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	assert_int_equal(mbox_open(path, &c, &mb, why), 0);
	assert_int_equal(access(lock, F_OK), 0);
	assert_int_equal(write(mb->fd, "From a\n\n", 8), 8);
	assert_int_equal(mbox_close(&mb, true, why), 0);
	assert_null(mb);
	assert_int_equal(access(lock, F_OK), -1);
	assert_int_equal(file_size(path), 8);

	assert_int_equal(mbox_open(path, &c, &mb, why), 0);
	assert_int_equal(mb->orig_size, 8);
	assert_int_equal(write(mb->fd, "From b\npartial", 14), 14);
	assert_int_equal(mbox_close(&mb, false, why), 0);
	assert_int_equal(file_size(path), 8);
	assert_int_equal(access(lock, F_OK), -1);
	buf_free(&why);
}

/* dot-locks: a fresh one wins, a stale one is removed */
static void test_dotlock(void **state)
{
	struct mbox_conf c;
	struct mbox *mb = NULL;
	struct buf *why = buf_create(64);
	char path[128], lock[140];
	struct timeval old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};

	(void)state;
	fast(&c);
	snprintf(path, sizeof(path), "%s/ann", base);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	close(open(lock, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_int_equal(errno, EAGAIN);
	assert_non_null(strstr(buf_str(why), "unable to create lock file"));
	assert_null(mb);
	/* Our failure must not remove somebody else's lock. */
	assert_int_equal(access(lock, F_OK), 0);

	assert_int_equal(utimes(lock, old), 0);
	buf_reset(why);
	assert_int_equal(mbox_open(path, &c, &mb, why), 0);
	assert_int_equal(mbox_close(&mb, true, why), 0);
	assert_int_equal(access(lock, F_OK), -1);

	/* Without dot-locking no lock file appears. */
	c.dotlock = false;
	assert_int_equal(mbox_open(path, &c, &mb, why), 0);
	assert_int_equal(access(lock, F_OK), -1);
	assert_int_equal(mbox_close(&mb, true, why), 0);
	buf_free(&why);
}

/* another process holding the fcntl lock keeps us out */
static void test_fcntl_lock(void **state)
{
	struct mbox_conf c;
	struct mbox *mb = NULL;
	struct buf *why = buf_create(64);
	char path[128], lock[140], ready;
	int fds[2], status;
	pid_t pid;

	(void)state;
	fast(&c);
	snprintf(path, sizeof(path), "%s/bob", base);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int fd = open(path, O_WRONLY);

		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
			_exit(1);
		(void)!write(fds[1], "x", 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &ready, 1), 1);
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_int_equal(errno, EAGAIN);
	assert_non_null(strstr(buf_str(why), "unable to lock"));
	/* The failed attempt left no dot-lock behind. */
	assert_int_equal(access(lock, F_OK), -1);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(fds[1]);
	buf_reset(why);
	assert_int_equal(mbox_open(path, &c, &mb, why), 0);
	assert_int_equal(mbox_close(&mb, true, why), 0);
	buf_free(&why);
}

/* refuse what is not a plain, single, owned file */
static void test_checks(void **state)
{
	struct mbox_conf c;
	struct mbox *mb = NULL;
	struct buf *why = buf_create(64);
	char path[128], other[128];

	(void)state;
	fast(&c);
	snprintf(other, sizeof(other), "%s/target", base);
	close(open(other, O_WRONLY | O_CREAT, 0600));

	snprintf(path, sizeof(path), "%s/symlink", base);
	assert_int_equal(symlink(other, path), 0);
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_int_equal(errno, ELOOP);

	snprintf(path, sizeof(path), "%s/hardlink", base);
	assert_int_equal(link(other, path), 0);
	buf_reset(why);
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_non_null(strstr(buf_str(why), "too many hard links"));
	assert_int_equal(file_size(other), 0);

	snprintf(path, sizeof(path), "%s/owned", base);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	c.check_owner = true;
	c.uid = getuid() + 1;
	buf_reset(why);
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(buf_str(why), "is owned by uid"));
	c.uid = getuid();
	assert_int_equal(mbox_open(path, &c, &mb, why), 0);
	assert_int_equal(mbox_close(&mb, true, why), 0);

	c.check_owner = false;
	c.create = false;
	snprintf(path, sizeof(path), "%s/missing", base);
	buf_reset(why);
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_int_equal(errno, ENOENT);

	snprintf(path, sizeof(path), "%s", base);
	c.dotlock = false;
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_int_equal(errno, EISDIR);

	/* A FIFO nobody reads: no wait for a reader, a clear reason. */
	snprintf(path, sizeof(path), "%s/fifo", base);
	assert_int_equal(mkfifo(path, 0600), 0);
	buf_reset(why);
	assert_int_equal(mbox_open(path, &c, &mb, why), -1);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(buf_str(why), "is not a regular file"));
	buf_free(&why);
}

/* as root: a created mailbox is given to its owner */
static void test_chown(void **state)
{
	struct mbox_conf c;
	struct mbox *mb = NULL;
	struct buf *why = buf_create(64);
	struct stat st;
	char path[128];

	(void)state;
	if (geteuid() != 0)
		skip();
	fast(&c);
	c.chown_new = true;
	c.check_owner = true;
	c.uid = 65534;
	c.gid = 65534;
	snprintf(path, sizeof(path), "%s/nobody", base);
	assert_int_equal(mbox_open(path, &c, &mb, why), 0);
	assert_int_equal(mbox_close(&mb, true, why), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(st.st_mode & 0777, 0600);
	buf_free(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotlock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcntl_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chown, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
