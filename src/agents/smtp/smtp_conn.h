/*
 * smtp_conn - the SMTP client's connection: connect with a time limit,
 * buffered output, replies read against a deadline, plain or TLS.
 *
 * Every time limit here is a deadline (an absolute mono_time()), not a
 * limit per read: a server that trickles one byte per second cannot stretch
 * a reply past the phase's limit.  Replies are parsed by smtp_reply with its
 * limits, so a server cannot make the client use unbounded memory either.
 */
#ifndef SLUICE_SMTP_CONN_H
#define SLUICE_SMTP_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "agents/smtp/smtp_mx.h"
#include "agents/smtp/smtp_reply.h"
#include "util/buf.h"

struct ssl_st;

/* Outcomes of stream operations. */
#define SMTP_IO_OK	0
#define SMTP_IO_TIMEOUT	(-1)	/* the deadline passed */
#define SMTP_IO_EOF	(-2)	/* the server closed the connection */
#define SMTP_IO_ERROR	(-3)	/* a system or TLS error; *error_r says which */
#define SMTP_IO_PROTO	(-4)	/* the server sent something that is no reply */

struct smtp_stream {
	int fd;
	struct ssl_st *ssl;		/* SSL *, or NULL while plain */
	struct buf in;			/* received, not yet parsed */
	struct buf out;			/* to be sent */
	struct smtp_reply_parser *parser;
};

/*
 * smtp_wait - wait until fd is ready for reading (write=false) or writing,
 * at most until deadline (mono_time() seconds; < 0 means none).  Returns 1
 * ready, 0 deadline passed, -1 error (errno).
 */
int smtp_wait(int fd, bool write, double deadline);

/*
 * smtp_conn_open - connect to address a, binding bind_addr first when it
 * is an address of a's family ("" or NULL: none); timeout 0 leaves the
 * limit to the kernel.  Returns a non-blocking descriptor, or -1 with the
 * reason ("Connection refused", "Connection timed out") in why.
 */
int smtp_conn_open(const struct smtp_addr *a, const char *bind_addr, double timeout,
		   char *why, size_t whylen);

/* smtp_stream_create - wrap a connected descriptor (takes ownership).
 * Caller frees with smtp_stream_free(). */
struct smtp_stream *smtp_stream_create(int fd);
/* smtp_stream_free - close (TLS without a shutdown handshake), free, clear *sp. */
void smtp_stream_free(struct smtp_stream **sp);

/* smtp_stream_flush - send s->out before deadline. SMTP_IO_OK or an error
 * with *error_r (static or borrowed until the next call). */
int smtp_stream_flush(struct smtp_stream *s, double deadline, const char **error_r);

/*
 * smtp_stream_reply - the next reply, complete before deadline.  On
 * SMTP_IO_OK *reply_r is borrowed until the next call.  Bytes that follow
 * the reply stay buffered for the next call (pipelining).  On SMTP_IO_PROTO
 * the input that is no reply stays in s->in (for the session transcript).
 */
int smtp_stream_reply(struct smtp_stream *s, double deadline, const struct smtp_reply **reply_r,
		      const char **error_r);

/* smtp_stream_discard_input - drop buffered input (before a TLS handshake:
 * plaintext that followed the STARTTLS reply must never be taken as coming
 * from inside the TLS session). Returns how many bytes were dropped. */
size_t smtp_stream_discard_input(struct smtp_stream *s);

#endif
