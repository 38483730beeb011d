/*
 * smtp_conn - connection set-up and deadline-bound stream I/O for the
 * SMTP client (see smtp_conn.h).
 *
 * Contract: the descriptor is non-blocking from the start; every wait goes
 * through smtp_wait() with the caller's deadline, and every byte read goes
 * through the reply parser, whose limits bound memory.  Under TLS the same
 * calls go through smtp_tls, which maps OpenSSL's want-read/want-write onto
 * smtp_wait().
 *
 * Diagnostics: none logged here; reasons are returned for the caller's
 * Postfix-style messages ("connect to host[ip]:port: Connection refused").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agents/smtp/smtp_conn.h"
#include "agents/smtp/smtp_tls.h"
#include "util/iostuff.h"
#include "util/mem.h"

#define READ_CHUNK	4096

/* smtp_wait - poll one descriptor against a deadline */
int smtp_wait(int fd, bool write, double deadline)
{
	struct pollfd p = {.fd = fd, .events = write ? POLLOUT : POLLIN};
	double left;
	int ms, r;

	for (;;) {
		if (deadline < 0) {
			ms = -1;
		} else {
			left = deadline - mono_time();
			if (left <= 0)
				return 0;
			/* Round up so that we never wake just before the deadline. */
			ms = left > 86400 ? 86400000 : (int)(left * 1000) + 1;
		}
		r = poll(&p, 1, ms);
		if (r > 0)
			return 1;	/* readable, writable, or an error to be read */
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* bind_source - bind to the configured source address of fd's family */
static int bind_source(int fd, int family, const char *bind_addr, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET
	    && inet_pton(AF_INET, bind_addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (family == AF_INET6
		   && inet_pton(AF_INET6, bind_addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else {
		return 0;	/* an address of the other family: not for this socket */
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		snprintf(why, whylen, "bind %s: %s", bind_addr, strerror(errno));
		return -1;
	}
	return 0;
}

/* smtp_conn_open - non-blocking connect with a time limit */
int smtp_conn_open(const struct smtp_addr *a, const char *bind_addr, double timeout,
		   char *why, size_t whylen)
{
	int fd, err = 0, r;
	socklen_t errlen = sizeof(err);

	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind_addr && *bind_addr && bind_source(fd, a->sa.ss_family, bind_addr, why, whylen) < 0)
		goto fail;
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto fail;
	}
	r = smtp_wait(fd, true, timeout > 0 ? mono_time() + timeout : -1);
	if (r == 0) {
		snprintf(why, whylen, "%s", strerror(ETIMEDOUT));
		goto fail;
	}
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto fail;
	}
	if (err != 0) {
		snprintf(why, whylen, "%s", strerror(err));
		goto fail;
	}
	return fd;

fail:
	close(fd);
	return -1;
}

/* smtp_stream_create - wrap a descriptor */
struct smtp_stream *smtp_stream_create(int fd)
{
	struct smtp_stream *s = xcalloc(1, sizeof(*s));

	s->fd = fd;
	buf_init(&s->in, READ_CHUNK);
	buf_init(&s->out, 4096);
	s->parser = smtp_reply_parser_create(NULL);
	return s;
}

/* smtp_stream_free - close and release */
void smtp_stream_free(struct smtp_stream **sp)
{
	struct smtp_stream *s = *sp;

	if (s == NULL)
		return;
	smtp_tls_free(&s->ssl);
	if (s->fd >= 0)
		close(s->fd);
	buf_deinit(&s->in);
	buf_deinit(&s->out);
	smtp_reply_parser_free(&s->parser);
	free(s);
	*sp = NULL;
}

/* plain_write - one non-blocking write; bytes, or -1 with errno (EAGAIN: wait) */
static ssize_t plain_write(int fd, const char *p, size_t n)
{
	/* MSG_NOSIGNAL: a closed peer is an error to report, not a SIGPIPE. */
	return send(fd, p, n, MSG_NOSIGNAL);
}

/* smtp_stream_flush - write everything before the deadline */
int smtp_stream_flush(struct smtp_stream *s, double deadline, const char **error_r)
{
	static char why[256];
	size_t off = 0;
	ssize_t n;
	int r;

	while (off < s->out.len) {
		if (s->ssl) {
			r = smtp_tls_write(s->ssl, s->fd, s->out.data + off, s->out.len - off,
					   deadline, &n, error_r);
			if (r != SMTP_IO_OK)
				return r;
			off += (size_t)n;
			continue;
		}
		n = plain_write(s->fd, s->out.data + off, s->out.len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			if (errno == EPIPE || errno == ECONNRESET)
				return SMTP_IO_EOF;
			snprintf(why, sizeof(why), "write: %s", strerror(errno));
			*error_r = why;
			return SMTP_IO_ERROR;
		}
		if ((r = smtp_wait(s->fd, true, deadline)) == 0)
			return SMTP_IO_TIMEOUT;
		if (r < 0) {
			snprintf(why, sizeof(why), "poll: %s", strerror(errno));
			*error_r = why;
			return SMTP_IO_ERROR;
		}
	}
	buf_reset(&s->out);
	return SMTP_IO_OK;
}

/* fill - read more input before the deadline */
static int fill(struct smtp_stream *s, double deadline, const char **error_r)
{
	static char why[256];
	char chunk[READ_CHUNK];
	ssize_t n;
	int r;

	if (s->ssl) {
		r = smtp_tls_read(s->ssl, s->fd, chunk, sizeof(chunk), deadline, &n, error_r);
		if (r == SMTP_IO_OK)
			buf_append(&s->in, chunk, (size_t)n);
		return r;
	}
	for (;;) {
		n = recv(s->fd, chunk, sizeof(chunk), 0);
		if (n > 0) {
			buf_append(&s->in, chunk, (size_t)n);
			return SMTP_IO_OK;
		}
		if (n == 0)
			return SMTP_IO_EOF;
		if (errno == ECONNRESET)
			return SMTP_IO_EOF;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(why, sizeof(why), "read: %s", strerror(errno));
			*error_r = why;
			return SMTP_IO_ERROR;
		}
		if ((r = smtp_wait(s->fd, false, deadline)) == 0)
			return SMTP_IO_TIMEOUT;
		if (r < 0) {
			snprintf(why, sizeof(why), "poll: %s", strerror(errno));
			*error_r = why;
			return SMTP_IO_ERROR;
		}
	}
}

/* smtp_stream_reply - parse buffered input, reading more until a reply is whole */
int smtp_stream_reply(struct smtp_stream *s, double deadline, const struct smtp_reply **reply_r,
		      const char **error_r)
{
	size_t used;
	int r;

	for (;;) {
		if (s->in.len > 0) {
			r = smtp_reply_parse(s->parser, s->in.data, s->in.len, &used, error_r);
			/* Garbage stays buffered, for the session transcript. */
			if (r == SMTP_REPLY_ERROR)
				return SMTP_IO_PROTO;
			buf_consume(&s->in, used);
			if (r == SMTP_REPLY_DONE) {
				*reply_r = smtp_reply_parser_reply(s->parser);
				return SMTP_IO_OK;
			}
		}
		/* The deadline covers the whole reply, however it trickles in. */
		if (deadline >= 0 && mono_time() >= deadline)
			return SMTP_IO_TIMEOUT;
		if ((r = fill(s, deadline, error_r)) != SMTP_IO_OK)
			return r;
	}
}

/* smtp_stream_discard_input - forget unread bytes */
size_t smtp_stream_discard_input(struct smtp_stream *s)
{
	size_t n = s->in.len;

	buf_reset(&s->in);
	smtp_reply_parser_reset(s->parser);
	return n;
}
