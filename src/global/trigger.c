/*
 * trigger - one-byte wakeups to daemon FIFOs (see trigger.h).
 *
 * The descriptor of the last FIFO written to stays open (close-on-exec) for
 * the next trigger.
 *
 * This module is for the writers of triggers: cleanup after each committed
 * file ("I" to public/qmgr), sendmail -q and the queue tools ("FADI"),
 * sendmail/postdrop after a maildrop file ("W" to public/pickup), and for
 * the queue manager, which folds what it reads with trigger_fold().  It
 * does not read the FIFOs (the daemons do) and does not retry: a trigger that
 * cannot be delivered only delays work until the reader's next periodic
 * wakeup, so callers usually ignore the error or print it.
 *
 * Safety: the path is opened O_NONBLOCK (no hang without a reader) and
 * must be a FIFO (a regular file in its place is not appended to).  A FIFO
 * that is full (its reader is alive but not reading) is waited on for at
 * most trigger_timeout; then the trigger fails with "timed out", as
 * Postfix's fifo_trigger does, instead of blocking the writer forever or
 * losing the bytes without a word.
 *
 * DIAGNOSTICS: -1 and a reason in *error_r; nothing is logged here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/params.h"
#include "global/trigger.h"
#include "util/iostuff.h"
#include "util/mem.h"

/* Before the configuration is read, the parameter's default (10s). */
#define TRIGGER_TIMEOUT_DEFAULT	10

/* write_nosigpipe - one write() with SIGPIPE held and discarded */
static ssize_t write_nosigpipe(int fd, const char *bytes, size_t len)
{
	sigset_t pipe_set, old_set, pending;
	struct timespec zero = {0, 0};
	struct sigaction sa;
	bool was_pending;
	ssize_t n;
	int saved;

	/* A process that ignores SIGPIPE (every daemon) just gets EPIPE. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
		return write(fd, bytes, len);
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	n = write(fd, bytes, len);
	saved = errno;

	/* Swallow the SIGPIPE this write raised, but not one raised before. */
	if (n < 0 && saved == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	errno = saved;
	return n;
}

/* write_deadline - one atomic write, waiting for room until timeout_ms */
static ssize_t write_deadline(int fd, const char *bytes, size_t len, int timeout_ms)
{
	double deadline = mono_time() + timeout_ms / 1000.0;
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	double left;
	ssize_t n;

	for (;;) {
		if ((n = write_nosigpipe(fd, bytes, len)) >= 0 || (errno != EAGAIN && errno != EINTR))
			return n;
		if ((left = deadline - mono_time()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		/*
		 * POLLOUT means "some room"; a write of up to PIPE_BUF bytes
		 * needs room for all of them, so a ready FIFO may still say
		 * EAGAIN: then pause briefly instead of spinning.
		 */
		if (poll(&pfd, 1, (int)(left * 1000) + 1) > 0 && (pfd.revents & POLLOUT))
			(void)poll(NULL, 0, 10);
	}
}

/*
 * The descriptor of the last FIFO written to, kept open: a process that
 * triggers the queue manager after every message (smtpd, pickup) then
 * spends one write on it instead of open, fstat, write and close.  A kept
 * descriptor that fails (its FIFO has no reader any more: master went
 * away, or made the FIFO anew) is closed and the FIFO opened by name again.
 */
static char *kept_path;
static int kept_fd = -1;

/* trigger_write - write with the deadline of trigger_timeout; -1 with errno */
static ssize_t trigger_write(int fd, const char *bytes, size_t len)
{
	long timeout = var_trigger_timeout > 0 ? var_trigger_timeout : TRIGGER_TIMEOUT_DEFAULT;

	return write_deadline(fd, bytes, len, (int)(timeout * 1000));
}

/* write_error - why a trigger write failed (errno), in why[] */
static const char *write_error(char *why, size_t size, const char *path, long timeout)
{
	if (errno == ETIMEDOUT)
		snprintf(why, size, "write %s: timed out after %lds "
			 "(the FIFO is full: its reader does not read)", path, timeout);
	else
		snprintf(why, size, "write %s: %s", path,
			 errno == EPIPE ? "mail system is down" : strerror(errno));
	return why;
}

/* trigger_send - write to the FIFO (kept open, or opened non-blocking), with a deadline */
int trigger_send(const char *queue_dir, const char *service_path, const char *bytes,
		 size_t len, const char **error_r)
{
	static char why[256];
	struct stat st;
	char *path;
	long timeout = var_trigger_timeout > 0 ? var_trigger_timeout : TRIGGER_TIMEOUT_DEFAULT;
	int fd;

	if (len == 0 || len > PIPE_BUF) {
		*error_r = "trigger length must be 1..PIPE_BUF bytes";
		return -1;
	}
	path = xasprintf("%s/%s", queue_dir, service_path);
	if (kept_fd >= 0 && strcmp(kept_path, path) == 0) {
		if (trigger_write(kept_fd, bytes, len) >= 0) {
			free(path);
			return 0;
		}
		if (errno != EPIPE) {
			*error_r = write_error(why, sizeof(why), path, timeout);
			free(path);
			return -1;
		}
		/* No reader on that FIFO any more: try the one of that name. */
		close(kept_fd);
		kept_fd = -1;
	}
	if ((fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0) {
		if (errno == ENXIO)
			snprintf(why, sizeof(why), "%s: mail system is down", path);
		else
			snprintf(why, sizeof(why), "open %s: %s", path, strerror(errno));
		free(path);
		*error_r = why;
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		snprintf(why, sizeof(why), "%s: not a FIFO", path);
		close(fd);
		free(path);
		*error_r = why;
		return -1;
	}
	if (trigger_write(fd, bytes, len) < 0) {
		*error_r = write_error(why, sizeof(why), path, timeout);
		close(fd);
		free(path);
		return -1;
	}
	if (kept_fd >= 0)
		close(kept_fd);
	free(kept_path);
	kept_fd = fd;
	kept_path = path;
	return 0;
}

/* trigger_fold - the requests in one read of the FIFO */
int trigger_fold(const char *bytes, size_t len)
{
	int req = 0;

	for (size_t i = 0; i < len; i++) {
		switch (bytes[i]) {
		case 'I':
		case 'W':
			req |= TRIGGER_SCAN_INCOMING;
			break;
		case 'D':
			req |= TRIGGER_SCAN_DEFERRED;
			break;
		case 'A':
			req |= TRIGGER_SCAN_ALL;
			break;
		case 'F':
			req |= TRIGGER_FLUSH;
			break;
		default:
			break;		/* unknown bytes are ignored */
		}
	}
	return req;
}
