/*
 * slow_fsync - an LD_PRELOAD library that makes the disk slow to sync
 * (tests/fault/test_exhaustion.py).
 *
 * fsync(), fdatasync(), syncfs() and sync() first sleep for the number of
 * milliseconds written in the file named by $SLOW_FSYNC_CTL (read at every
 * call, so a test can turn the delay on and off while the daemons run; no
 * file or no number: no delay), then do the real call.
 * Test-only code: never linked into a program.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);
int syncfs(int fd);
void sync(void);

/* delay - sleep as the control file says */
static void delay(void)
{
	const char *ctl = getenv("SLOW_FSYNC_CTL");
	char buf[32];
	ssize_t n;
	long ms;
	int fd;

	if (ctl == NULL || (fd = open(ctl, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	ms = strtol(buf, NULL, 10);
	if (ms > 0) {
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	delay();
	return real(fd);
}

int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	delay();
	return real(fd);
}

int syncfs(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");

	delay();
	return real(fd);
}

void sync(void)
{
	void (*real)(void) = (void (*)(void))dlsym(RTLD_NEXT, "sync");

	delay();
	real();
}
