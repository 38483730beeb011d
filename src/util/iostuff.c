/*
 * iostuff - descriptor helpers (see iostuff.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/iostuff.h"

/* fd_wait - poll one descriptor */
int fd_wait(int fd, bool write, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = write ? POLLOUT : POLLIN};
	double deadline = mono_time() + timeout_ms / 1000.0;
	int left = timeout_ms, r;

	for (;;) {
		r = poll(&p, 1, left);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
		if (timeout_ms >= 0) {
			left = (int)((deadline - mono_time()) * 1000);
			if (left < 0)
				left = 0;
		}
	}
}

/* read_timeout - wait, then read */
ssize_t read_timeout(int fd, void *buf, size_t n, int timeout_ms)
{
	ssize_t r;

	for (;;) {
		if (fd_wait(fd, false, timeout_ms) < 0)
			return -1;
		r = read(fd, buf, n);
		if (r >= 0)
			return r;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

/* write_all_timeout - write everything */
int write_all_timeout(int fd, const void *buf, size_t n, int timeout_ms)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		if (fd_wait(fd, true, timeout_ms) < 0)
			return -1;
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* set_nonblock - O_NONBLOCK */
int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* set_cloexec - FD_CLOEXEC */
int set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

/* fill_sun - build a sockaddr_un, refusing paths that do not fit */
static int fill_sun(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

/* unix_listen - listening UNIX socket */
int unix_listen(const char *path, int backlog, mode_t mode)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, rc, saved;

	if (fill_sun(&sun, path) < 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	(void)unlink(path);
	/*
	 * The mode comes from the umask at bind() time, not from a chmod() by
	 * name afterwards: between the two, whoever may write the folder could
	 * put a link in the socket's place, and chmod would follow it.
	 */
	old_mask = umask(~mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	umask(old_mask);
	errno = saved;
	if (rc < 0 || listen(fd, backlog) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* unix_connect - client UNIX socket */
int unix_connect(const char *path, bool nonblocking)
{
	struct sockaddr_un sun;
	int fd, saved;

	if (fill_sun(&sun, path) < 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC
			 | (nonblocking ? SOCK_NONBLOCK : 0), 0)) < 0)
		return -1;
	/*
	 * For a UNIX socket, EAGAIN means the listen queue is full and the
	 * connection was NOT made (unlike TCP's EINPROGRESS): a failure the
	 * caller must see.
	 */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0
	    && !(nonblocking && errno == EINPROGRESS)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* fsync_dir - make directory entries durable */
int fsync_dir(const char *dir)
{
	int fd, r, saved;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* fsync_parent - fsync the folder of path */
int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return fsync_dir(".");
	if ((size_t)(slash - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (slash == path)
		return fsync_dir("/");
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	return fsync_dir(dir);
}

/* mkdir_p - folder and parents */
int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX], *cp;
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = n ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (cp = tmp + 1; *cp; cp++) {
		if (*cp != '/')
			continue;
		*cp = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*cp = '/';
	}
	if (mkdir(tmp, mode) < 0) {
		struct stat st;

		if (errno != EEXIST)
			return -1;
		/* Something is there: it must be a folder. */
		if (stat(tmp, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	return 0;
}

/* wait_pid_until - poll for the child's exit, naps growing to 50 ms */
int wait_pid_until(pid_t pid, int *status, double deadline)
{
	int nap_ms = 1;
	pid_t r;

	for (;;) {
		if ((r = waitpid(pid, status, WNOHANG)) == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (mono_time() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		(void)poll(NULL, 0, nap_ms);
		if (nap_ms < 50)
			nap_ms *= 2;
	}
}

/* mono_time - monotonic seconds */
double mono_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* wall_time - real seconds */
double wall_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
