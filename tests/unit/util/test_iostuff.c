/*
 * test_iostuff - descriptor helpers (util/iostuff.h).
 *
 * Pins: read_timeout and write_all_timeout give up with ETIMEDOUT after
 * about their limit and not before, and otherwise read/write what there is;
 * fsync_dir/fsync_parent succeed on folders and fail with errno on
 * anything else; mkdir_p makes missing parents, accepts an existing
 * folder, and refuses a path through (or onto) a regular file;
 * unix_listen/unix_connect talk to each other, set the socket mode, replace
 * a stale socket and report missing listeners.  Every test works below its
 * own temporary folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testlib.h"
#include "util/iostuff.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

static char *tmpdir;

/* path_in - tmpdir/rel into a static buffer (one at a time) */
static const char *path_in(const char *rel)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

/* touch - create an empty regular file */
static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	close(fd);
}

/* fill_pipe - make the write end of p nonblocking and fill it up */
static void fill_pipe(int wfd)
{
	char junk[4096] = {0};

	assert_int_equal(set_nonblock(wfd, true), 0);
	while (write(wfd, junk, sizeof(junk)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	/* the last bytes: a pipe takes less than 4096 once nearly full */
	while (write(wfd, junk, 1) > 0)
		;
}

/* read_timeout: data, EOF, nothing (time-out), each with a limit */
static void test_read_timeout(void **state)
{
	enum setup { EMPTY, DATA, EOF_ };
	static const struct {
		enum setup setup;
		int timeout_ms;
		ssize_t want;		/* return value */
		int want_errno;		/* when want < 0 */
		double min_s, max_s;	/* time taken */
	} rows[] = {
		{EMPTY, 150, -1, ETIMEDOUT, 0.14, 2.0},
		{EMPTY, 0, -1, ETIMEDOUT, 0.0, 0.5},
		{DATA, 150, 3, 0, 0.0, 0.5},
		{DATA, -1, 3, 0, 0.0, 0.5},	/* no limit, data waiting */
		{DATA, 0, 3, 0, 0.0, 0.5},	/* a poll is enough */
		{EOF_, 150, 0, 0, 0.0, 0.5},
		{EOF_, -1, 0, 0, 0.0, 0.5},
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		int p[2];
		char buf[16];
		double t0, took;
		ssize_t r;

		assert_int_equal(pipe(p), 0);
		if (rows[i].setup == DATA)
			assert_int_equal(write(p[1], "abc", 3), 3);
		if (rows[i].setup == EOF_) {
			close(p[1]);
			p[1] = -1;
		}
		t0 = mono_time();
		errno = 0;
		r = read_timeout(p[0], buf, sizeof(buf), rows[i].timeout_ms);
		took = mono_time() - t0;
		if (r != rows[i].want)
			fail_msg("row %zu: %zd, want %zd (%s)", i, r, rows[i].want, strerror(errno));
		if (r < 0)
			assert_int_equal(errno, rows[i].want_errno);
		if (r == 3)
			assert_memory_equal(buf, "abc", 3);
		if (took < rows[i].min_s || took > rows[i].max_s)
			fail_msg("row %zu: took %.3fs, want [%.2f, %.2f]", i, took,
				 rows[i].min_s, rows[i].max_s);
		close(p[0]);
		if (p[1] >= 0)
			close(p[1]);
	}
}

/* write_all_timeout: room, no room (time-out), closed reader, big writes */
static void test_write_timeout(void **state)
{
	enum setup { ROOM, FULL_BLOCKING, FULL_NONBLOCKING, NO_READER, DRAINED };
	static const struct {
		enum setup setup;
		size_t len;
		int timeout_ms;
		int want;
		int want_errno;
		double min_s, max_s;
	} rows[] = {
		{ROOM, 1000, 150, 0, 0, 0.0, 0.5},
		{ROOM, 0, 150, 0, 0, 0.0, 0.5},
		{FULL_BLOCKING, 1, 150, -1, ETIMEDOUT, 0.14, 2.0},
		{FULL_NONBLOCKING, 1, 150, -1, ETIMEDOUT, 0.14, 2.0},
		{FULL_NONBLOCKING, 100000, 0, -1, ETIMEDOUT, 0.0, 0.5},
		{NO_READER, 10, 150, -1, EPIPE, 0.0, 0.5},
		/* more than a pipe holds, a reader taking it all: every byte goes */
		{DRAINED, 1 << 20, 2000, 0, 0, 0.0, 10.0},
	};
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);

	for (size_t i = 0; i < NROWS(rows); i++) {
		char *data = malloc(rows[i].len + 1);
		int p[2], rc, status;
		double t0, took;
		pid_t reader = -1;

		for (size_t k = 0; k < rows[i].len; k++)
			data[k] = (char)('a' + k % 23);
		assert_int_equal(pipe(p), 0);
		switch (rows[i].setup) {
		case ROOM:
			break;
		case FULL_BLOCKING:
			fill_pipe(p[1]);
			assert_int_equal(set_nonblock(p[1], false), 0);
			break;
		case FULL_NONBLOCKING:
			fill_pipe(p[1]);
			break;
		case NO_READER:
			close(p[0]);
			p[0] = -1;
			break;
		case DRAINED:
			/* The child checks every byte and exits 0 if all are right. */
			assert_int_equal(set_nonblock(p[1], true), 0);
			if ((reader = fork()) == 0) {
				char in[8192];
				size_t got = 0;
				ssize_t n;

				close(p[1]);
				while ((n = read(p[0], in, sizeof(in))) > 0)
					for (ssize_t k = 0; k < n; k++, got++)
						if (in[k] != (char)('a' + got % 23))
							_exit(2);
				_exit(got == rows[i].len ? 0 : 3);
			}
			close(p[0]);
			p[0] = -1;
			break;
		}
		t0 = mono_time();
		errno = 0;
		rc = write_all_timeout(p[1], data, rows[i].len, rows[i].timeout_ms);
		took = mono_time() - t0;
		if (rc != rows[i].want)
			fail_msg("row %zu: %d, want %d (%s)", i, rc, rows[i].want, strerror(errno));
		if (rc < 0)
			assert_int_equal(errno, rows[i].want_errno);
		if (took < rows[i].min_s || took > rows[i].max_s)
			fail_msg("row %zu: took %.3fs, want [%.2f, %.2f]", i, took,
				 rows[i].min_s, rows[i].max_s);
		close(p[1]);
		if (rows[i].setup == ROOM && rows[i].len) {
			char *back = malloc(rows[i].len);

			assert_int_equal(read(p[0], back, rows[i].len), (ssize_t)rows[i].len);
			assert_memory_equal(back, data, rows[i].len);
			free(back);
		}
		if (reader > 0) {
			assert_int_equal(waitpid(reader, &status, 0), reader);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		if (p[0] >= 0)
			close(p[0]);
		free(data);
	}
	signal(SIGPIPE, old);
}

/* flags: set_nonblock and set_cloexec turn their bit on and off */
static void test_flags(void **state)
{
	static const struct {
		int (*set)(int, bool);
		int get_cmd;
		int bit;
	} rows[] = {
		{set_nonblock, F_GETFL, O_NONBLOCK},
		{set_cloexec, F_GETFD, FD_CLOEXEC},
	};
	int p[2];

	assert_int_equal(pipe(p), 0);
	for (size_t i = 0; i < NROWS(rows); i++) {
		assert_int_equal(rows[i].set(p[0], true), 0);
		assert_true(fcntl(p[0], rows[i].get_cmd) & rows[i].bit);
		assert_int_equal(rows[i].set(p[0], true), 0);	/* idempotent */
		assert_true(fcntl(p[0], rows[i].get_cmd) & rows[i].bit);
		assert_int_equal(rows[i].set(p[0], false), 0);
		assert_false(fcntl(p[0], rows[i].get_cmd) & rows[i].bit);
		/* a closed descriptor is an error, not a crash */
		errno = 0;
		assert_int_equal(rows[i].set(999, true), -1);
		assert_int_equal(errno, EBADF);
	}
	close(p[0]);
	close(p[1]);
}

/* fsync_dir and fsync_parent: folders yes, anything else an errno */
static void test_fsync_dir(void **state)
{
	static const struct {
		bool parent;		/* fsync_parent rather than fsync_dir */
		const char *path;	/* "@" prefix: below tmpdir */
		int want;
		int want_errno;
	} rows[] = {
		{false, "@", 0, 0},
		{false, "@sub", 0, 0},
		{false, "@sub/", 0, 0},
		{false, ".", 0, 0},
		{false, "/", 0, 0},
		{false, "@missing", -1, ENOENT},
		{false, "@file", -1, ENOTDIR},
		{false, "", -1, ENOENT},
		{true, "@file", 0, 0},
		{true, "@sub/inner", 0, 0},		/* the file need not exist */
		{true, "@missing/x", -1, ENOENT},
		{true, "@file/x", -1, ENOTDIR},
		{true, "relative-name", 0, 0},		/* "." */
		{true, "/etc", 0, 0},			/* "/" */
	};

	assert_int_equal(mkdir(path_in("sub"), 0700), 0);
	touch(path_in("file"));
	for (size_t i = 0; i < NROWS(rows); i++) {
		char path[PATH_MAX];
		int rc;

		if (rows[i].path[0] == '@')
			snprintf(path, sizeof(path), "%s/%s", tmpdir, rows[i].path + 1);
		else
			snprintf(path, sizeof(path), "%s", rows[i].path);
		errno = 0;
		rc = rows[i].parent ? fsync_parent(path) : fsync_dir(path);
		if (rc != rows[i].want || (rc < 0 && errno != rows[i].want_errno))
			fail_msg("row %zu (%s): %d errno %d, want %d errno %d", i, path, rc,
				 errno, rows[i].want, rows[i].want_errno);
	}
	unlink(path_in("file"));
	rmdir(path_in("sub"));
}

/* mkdir_p: parents, existing folders, files in the way, modes */
static void test_mkdir_p(void **state)
{
	static const struct {
		const char *rel;	/* below tmpdir ("" = tmpdir itself) */
		mode_t mode;
		int want;
		int want_errno;
		const char *want_dir;	/* must be a folder afterwards */
	} rows[] = {
		{"a/b/c", 0755, 0, 0, "a/b/c"},
		{"a/b/c", 0755, 0, 0, "a/b/c"},		/* again: fine */
		{"a/b", 0755, 0, 0, "a/b"},
		{"", 0755, 0, 0, ""},			/* tmpdir exists */
		{"d//e///f", 0755, 0, 0, "d/e/f"},	/* doubled slashes */
		{"g/h/", 0755, 0, 0, "g/h"},		/* trailing slash */
		{"m/n", 0750, 0, 0, "m/n"},
		{"file/x", 0755, -1, ENOTDIR, NULL},	/* a file in the way */
		{"file/x/y", 0755, -1, ENOTDIR, NULL},
	};
	mode_t old = umask(022);
	struct stat st;

	touch(path_in("file"));
	for (size_t i = 0; i < NROWS(rows); i++) {
		char path[PATH_MAX];
		int rc;

		snprintf(path, sizeof(path), "%s/%s", tmpdir, rows[i].rel);
		errno = 0;
		rc = mkdir_p(path, rows[i].mode);
		if (rc != rows[i].want || (rc < 0 && errno != rows[i].want_errno))
			fail_msg("row %zu (%s): %d errno %d, want %d errno %d", i, path, rc,
				 errno, rows[i].want, rows[i].want_errno);
		if (rows[i].want_dir) {
			assert_int_equal(stat(path_in(rows[i].want_dir), &st), 0);
			assert_true(S_ISDIR(st.st_mode));
		}
	}
	/* modes: what was asked for, less the umask; parents alike */
	assert_int_equal(stat(path_in("m"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(stat(path_in("m/n"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	umask(077);
	assert_int_equal(mkdir_p(path_in("u/v"), 0777), 0);
	assert_int_equal(stat(path_in("u/v"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	umask(old);

	/* no path, and a path longer than PATH_MAX */
	errno = 0;
	assert_int_equal(mkdir_p("", 0755), -1);
	assert_int_equal(errno, ENOENT);
	char *longp = malloc(PATH_MAX + 10);

	memset(longp, 'x', PATH_MAX + 9);
	longp[PATH_MAX + 9] = 0;
	errno = 0;
	assert_int_equal(mkdir_p(longp, 0755), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	free(longp);
}

/*
 * Once a bug: mkdir_p() of a path that exists as a regular file returned 0
 * (the final mkdir's EEXIST was taken to mean "the folder is there"); the
 * contract ("create a folder") wants -1 ENOTDIR, so that master's "create
 * queue_directory" check catches a queue_directory that is a file.
 */
static void test_mkdir_p_onto_file(void **state)
{
	int rc;

	touch(path_in("plainfile"));
	errno = 0;
	rc = mkdir_p(path_in("plainfile"), 0755);
	unlink(path_in("plainfile"));
	assert_int_equal(rc, -1);
	assert_int_equal(errno, ENOTDIR);
}

/* unix sockets: round trip, mode, stale socket, no listener, long path */
static void test_unix_sockets(void **state)
{
	static const struct {
		mode_t mode;
		bool nonblocking;
	} rows[] = {
		{0666, false},
		{0660, true},
		{0600, false},
		{0622, true},
	};
	const char *spath = path_in("sock");
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s", spath);
	for (size_t i = 0; i < NROWS(rows); i++) {
		int lfd, cfd, afd;
		char buf[16];

		/* rows after the first replace the previous (stale) socket */
		lfd = unix_listen(path, 16, rows[i].mode);
		assert_true(lfd >= 0);
		assert_true(fcntl(lfd, F_GETFD) & FD_CLOEXEC);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 0777, rows[i].mode);

		cfd = unix_connect(path, rows[i].nonblocking);
		assert_true(cfd >= 0);
		assert_true(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
		assert_int_equal(!!(fcntl(cfd, F_GETFL) & O_NONBLOCK), rows[i].nonblocking);
		afd = accept(lfd, NULL, NULL);
		assert_true(afd >= 0);
		assert_int_equal(write_all_timeout(cfd, "ping", 4, 1000), 0);
		assert_int_equal(read_timeout(afd, buf, sizeof(buf), 1000), 4);
		assert_memory_equal(buf, "ping", 4);
		assert_int_equal(write_all_timeout(afd, "pong!", 5, 1000), 0);
		assert_int_equal(read_timeout(cfd, buf, sizeof(buf), 1000), 5);
		assert_memory_equal(buf, "pong!", 5);
		close(afd);
		assert_int_equal(read_timeout(cfd, buf, sizeof(buf), 1000), 0);	/* EOF */
		close(cfd);
		close(lfd);
	}

	/* the socket file is left behind with nobody listening */
	errno = 0;
	assert_int_equal(unix_connect(path, false), -1);
	assert_int_equal(errno, ECONNREFUSED);
	unlink(path);
	errno = 0;
	assert_int_equal(unix_connect(path, false), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(unix_connect(path, true), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(unix_listen(path_in("no/such/dir/sock"), 1, 0600), -1);
	assert_int_equal(errno, ENOENT);

	/* sun_path holds 107 characters and a NUL */
	char longp[200];

	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	errno = 0;
	assert_int_equal(unix_listen(longp, 1, 0600), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	errno = 0;
	assert_int_equal(unix_connect(longp, false), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

/* clocks: monotonic moves forward, wall time is the real time */
static void test_clocks(void **state)
{
	double m0 = mono_time(), w0 = wall_time(), m1, w1;
	struct timespec nap = {0, 50 * 1000 * 1000};

	assert_true(w0 - (double)time(NULL) > -2.0 && w0 - (double)time(NULL) < 2.0);
	nanosleep(&nap, NULL);
	m1 = mono_time();
	w1 = wall_time();
	assert_true(m1 - m0 >= 0.049);
	assert_true(m1 - m0 < 5.0);
	assert_true(w1 - w0 > 0.0);
	/* sub-second resolution */
	assert_true(m1 != (double)(long)m1 || m0 != (double)(long)m0);
}

/* test_wait_pid_until - reaped, still running at the deadline, no such child */
static void test_wait_pid_until(void **state)
{
	static const struct {
		int child_sleep_ms;	/* -1: no child (a pid that is not ours) */
		double limit_s;
		int rc, err, exit_code;
	} rows[] = {
		{0, 5.0, 0, 0, 7},	/* exits at once */
		{100, 5.0, 0, 0, 7},	/* exits while we wait */
		{5000, 0.2, -1, ETIMEDOUT, 0},	/* still running at the deadline */
		{-1, 0.2, -1, ECHILD, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		pid_t pid = 1;	/* init: never our child */
		double t0 = mono_time();
		int status = -1, rc;

		if (rows[i].child_sleep_ms >= 0 && (pid = fork()) == 0) {
			struct timespec nap = {rows[i].child_sleep_ms / 1000,
					       (rows[i].child_sleep_ms % 1000) * 1000000L};

			nanosleep(&nap, NULL);
			_exit(7);
		}
		assert_true(pid > 0);
		errno = 0;
		rc = wait_pid_until(pid, &status, t0 + rows[i].limit_s);
		if (rc != rows[i].rc || (rc < 0 && errno != rows[i].err))
			fail_msg("row %zu: rc %d errno %d", i, rc, errno);
		if (rc == 0) {
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), rows[i].exit_code);
		}
		if (rows[i].err == ETIMEDOUT) {
			assert_true(mono_time() - t0 >= rows[i].limit_s);
			kill(pid, SIGKILL);
			assert_int_equal(waitpid(pid, &status, 0), pid);
		}
	}
}

/* setup - a private temporary folder */
static int setup(void **state)
{
	tmpdir = testlib_tmpdir("test_iostuff");
	return 0;
}

/* teardown - remove the temporary folder */
static int teardown(void **state)
{
	int rc = testlib_rmtree(tmpdir);

	free(tmpdir);
	return rc;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_timeout),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_fsync_dir),
		cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_mkdir_p_onto_file),
		cmocka_unit_test(test_unix_sockets),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_wait_pid_until),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
