/*
 * mail_flow - flow-control tokens in a FIFO (see mail_flow.h).
 *
 * This module is for the one thing Postfix's master does with its flow
 * pipe, done without master: a FIFO in private/ that the producer (qmgr)
 * and the consumers (cleanup in pickup and bounce) open themselves.  Each
 * process opens it once, read-write and non-blocking, and keeps it.
 *
 * It does not decide when to wait (cleanup does) or how many tokens the
 * queue manager owes (mail_flow_qmgr holds Postfix's rule; qmgr calls it).
 *
 * DIAGNOSTICS: none but a verbose note; flow control is advisory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_flow.h"
#include "global/params.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

static int flow_fd = -1;
static char *flow_dir;		/* the queue_directory flow_fd belongs to */

/* flow_open - the FIFO of queue_dir, made and opened once; -1 if not */
static int flow_open(const char *queue_dir)
{
	char *path;
	struct stat st;

	if (flow_fd >= 0 && flow_dir && strcmp(flow_dir, queue_dir) == 0)
		return flow_fd;
	if (flow_fd >= 0)
		close(flow_fd);
	free(flow_dir);
	flow_dir = xstrdup(queue_dir);
	path = xasprintf("%s/%s", queue_dir, MAIL_FLOW_NAME);
	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		msg_debug("mkfifo %s: %s", path, strerror(errno));
	/* O_RDWR: never blocks on open, and the tokens outlive a lone reader. */
	flow_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (flow_fd >= 0 && (fstat(flow_fd, &st) < 0 || !S_ISFIFO(st.st_mode))) {
		close(flow_fd);
		flow_fd = -1;
		errno = EINVAL;
	}
	if (flow_fd < 0)
		msg_debug("open %s: %s; no flow control", path, strerror(errno));
	free(path);
	return flow_fd;
}

/* mail_flow_get - one token, waiting up to timeout */
int mail_flow_get(const char *queue_dir, double timeout)
{
	double deadline = wall_time() + timeout, left;
	struct pollfd pfd;
	char token;
	int fd;

	if ((fd = flow_open(queue_dir)) < 0)
		return -1;
	for (;;) {
		if (read(fd, &token, 1) == 1)
			return 0;
		if ((left = deadline - wall_time()) <= 0)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			return -1;
	}
}

/* mail_flow_put - add tokens */
long mail_flow_put(const char *queue_dir, long n)
{
	char tokens[512];
	long done = 0;
	ssize_t w;
	int fd;

	if ((fd = flow_open(queue_dir)) < 0)
		return 0;
	memset(tokens, 'T', sizeof(tokens));
	while (done < n) {
		size_t chunk = n - done < (long)sizeof(tokens) ? (size_t)(n - done) : sizeof(tokens);

		if ((w = write(fd, tokens, chunk)) <= 0)
			break;		/* full (EAGAIN): enough tokens anyway */
		done += w;
	}
	return done;
}

/* mail_flow_count - tokens waiting */
long mail_flow_count(const char *queue_dir)
{
	int fd, n;

	if ((fd = flow_open(queue_dir)) < 0 || ioctl(fd, FIONREAD, &n) < 0)
		return -1;
	return n;
}

/* mail_flow_qmgr - keep default_process_limit tokens while keeping up */
void mail_flow_qmgr(const char *queue_dir, bool fed_incoming, bool incoming_idle)
{
	long have, want = var_default_process_limit;
	char sink[512];

	if (var_in_flow_delay <= 0 || (have = mail_flow_count(queue_dir)) < 0)
		return;
	if (have < want) {
		if (fed_incoming)
			mail_flow_put(queue_dir, 1);
		else if (incoming_idle)
			mail_flow_put(queue_dir, want - have);
	} else if (have > want) {
		long extra = have - want;

		while (extra > 0) {
			ssize_t r = read(flow_fd, sink, extra < (long)sizeof(sink)
					 ? (size_t)extra : sizeof(sink));

			if (r <= 0)
				break;
			extra -= r;
		}
	}
}
