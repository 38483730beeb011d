/*
 * smtpd - the SMTP server (docs/SMTPD.md).
 *
 * One process serves one client at a time, synchronously, as Postfix's
 * smtpd: master hands it the listening socket(s) of an inet service; it
 * accepts, serves the session, and goes back to accept until max_use
 * sessions or max_idle seconds without one.  Every message goes through
 * the cleanup library into incoming/; the reply to the end of data is
 * "250 2.0.0 Ok: queued as ID" only after cleanup_close() made the file
 * durable, and a transaction that ends any other way (RSET, QUIT, a lost
 * connection, a time-out, a refusal) aborts it, so nothing is queued
 * without its 250.
 *
 * Input is read through one buffer with smtpd_timeout per read; replies
 * are collected and written when no further pipelined command is waiting
 * (RFC 2920).  Log lines are Postfix's: "connect from", "ID: client=",
 * "NOQUEUE: reject: RCPT from ...", "disconnect from ... commands=N".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "global/addr.h"
#include "global/cleanup/cleanup.h"
#include "global/counters.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "global/rfc822.h"
#include "smtpd_anvil.h"
#include "smtpd_check.h"
#include "smtpd_check_actions.h"
#include "smtpd_parse.h"
#include "smtpd_sasl.h"
#include "smtpd_tls.h"
#include "smtpd_xforward.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define IN_SIZE		65536

/* Commands counted for the disconnect line, in Postfix's order. */
enum { C_HELO, C_EHLO, C_STARTTLS, C_XFORWARD, C_AUTH, C_MAIL, C_RCPT, C_DATA, C_BDAT,
       C_RSET, C_NOOP, C_VRFY, C_QUIT, C_UNKNOWN, C_COUNT };
static const char *const cmd_names[C_COUNT] = {"helo", "ehlo", "starttls", "xforward", "auth",
	"mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "quit", "unknown"};

static const char *const cmd_upper[C_COUNT] = {"HELO", "EHLO", "STARTTLS", "XFORWARD", "AUTH",
	"MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "VRFY", "QUIT", "UNKNOWN"};

enum { BARE_NORMALIZE, BARE_REJECT };

struct session {
	int fd;
	struct sockaddr_storage addr;
	char addr_text[INET6_ADDRSTRLEN];
	char name[NI_MAXHOST];
	char *client;			/* "name[addr]" */
	/* input (the buffer itself is the last member) */
	size_t in_start, in_end;
	bool eof, timed_out;
	bool write_failed;		/* no last word after a failed write */
	/* output */
	struct buf out;
	/* state */
	char *helo;
	bool ehlo;
	const char *proto;		/* SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA */
	char proto_buf[8];
	/* STARTTLS and AUTH (smtpd_tls.c, smtpd_sasl.c) */
	struct ssl_st *tls;		/* NULL in plain text */
	char tls_info[160];		/* "TLSv1.3 with cipher ..." */
	unsigned tls_bits;
	struct smtpd_sasl *sasl;	/* NULL without AUTH */
	char *sasl_username;		/* NULL until AUTH succeeded */
	char *sasl_method;
	bool xforward_ok;		/* smtpd_authorized_xforward_hosts */
	struct smtpd_xforward xf;	/* for the next transaction */
	char *sender;			/* NULL: no MAIL yet */
	struct smtpd_params mail;
	struct cleanup *cleanup;
	char id[QUEUE_ID_SIZE];
	struct smtpd_actions actions;	/* what access tables decided */
	long rcpt_count;
	char *first_rcpt;
	bool bdat_bad;			/* a BDAT chunk failed: the rest is discarded */
	char *bdat_reject;		/* ... because smtpd_data_restrictions said this */
	long bdat_size;
	/* accounting */
	int errors, junk;
	int ok[C_COUNT], total[C_COUNT];
	const char *where;		/* the command being served, for the log */
	bool quit;
	/* Last: session_new() zeroes everything before it, not its 64 KiB. */
	char in[IN_SIZE];
};

static int bare_mode;
static enum smtpd_tls_level tls_level;
static bool sasl_on;
static struct smtpd_nets *xforward_hosts;	/* smtpd_authorized_xforward_hosts */

/* ---- plain-text I/O ----
 *
 * Before STARTTLS the socket is blocking with smtpd_timeout as its
 * SO_RCVTIMEO and SO_SNDTIMEO (set once per session, plain_timeouts()), so
 * a read or a write is one system call instead of a poll() and the call:
 * with one session per message that is about a dozen calls per message.
 * A time-out shows as EAGAIN.  STARTTLS makes the socket non-blocking and
 * smtpd_tls.c waits with poll() as before.
 */

/* plain_timeouts - smtpd_timeout on every read and write of the socket */
static int plain_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = var_smtpd_timeout > 0 ? var_smtpd_timeout : 1};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0
	    || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

/* plain_read - one read; -1 with EAGAIN after smtpd_timeout */
static ssize_t plain_read(int fd, void *buf, size_t n)
{
	ssize_t r;

	while ((r = read(fd, buf, n)) < 0 && errno == EINTR)
		;
	return r;
}

/* plain_write - everything; -1 with EAGAIN after smtpd_timeout */
static int plain_write(int fd, const char *p, size_t n, int flags)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, flags)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- output ---- */

/*
 * flush_with - write what was collected, with send(2) flags in plain text;
 * false when the client is gone
 */
static bool flush_with(struct session *s, int flags)
{
	if (s->out.len == 0)
		return true;
	if ((s->tls ? smtpd_tls_write(s->tls, s->fd, s->out.data, s->out.len,
				      (int)(var_smtpd_timeout * 1000))
	     : plain_write(s->fd, s->out.data, s->out.len, flags)) < 0) {
		if (errno == ETIMEDOUT || errno == EAGAIN)
			s->timed_out = true;
		s->eof = true;
		s->write_failed = true;
		buf_reset(&s->out);
		return false;
	}
	buf_reset(&s->out);
	return true;
}

/* flush - write what was collected; false when the client is gone */
static bool flush(struct session *s)
{
	return flush_with(s, 0);
}

/* reply - one reply line (or lines joined with \n in text); counts errors */
static void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply(struct session *s, const char *fmt, ...)
{
	struct buf line;
	va_list ap;

	buf_init(&line, 256);
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (line.data[0] == '4' || line.data[0] == '5') {
		s->errors++;
		/* A client that keeps failing is slowed down. */
		if (s->errors > var_smtpd_soft_error_limit && var_smtpd_error_sleep_time > 0) {
			flush(s);
			sleep((unsigned)var_smtpd_error_sleep_time);
		}
	}
	buf_append(&s->out, line.data, line.len);
	buf_puts(&s->out, "\r\n");
	buf_deinit(&line);
}

/* ---- input ---- */

/* fill - read more input; false at EOF, error or time-out */
static bool fill(struct session *s)
{
	ssize_t n;

	if (s->eof)
		return false;
	if (s->in_start > 0) {
		memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
	}
	if (s->in_end == sizeof(s->in))
		return true;
	/* Replies go out before we wait for the client (pipelining). */
	if (!flush(s))
		return false;
	if (s->tls)
		n = smtpd_tls_read(s->tls, s->fd, s->in + s->in_end, sizeof(s->in) - s->in_end,
				   (int)(var_smtpd_timeout * 1000));
	else
		n = plain_read(s->fd, s->in + s->in_end, sizeof(s->in) - s->in_end);
	if (n <= 0) {
		if (n < 0 && (errno == ETIMEDOUT || errno == EAGAIN))
			s->timed_out = true;
		s->eof = true;
		return false;
	}
	s->in_end += (size_t)n;
	return true;
}

/* pending - is more input already here (pipelined)? */
static bool pending(const void *arg)
{
	const struct session *s = arg;
	struct pollfd p = {.fd = s->fd, .events = POLLIN};

	return s->in_end > s->in_start || (s->tls && smtpd_tls_pending(s->tls))
	    || poll(&p, 1, 0) > 0;
}

/*
 * get_line - one command line into line (no line end).  Returns 1, 0 at
 * EOF, -1 when the line was longer than line_length_limit (the rest of it
 * is read and dropped).  *bare_r tells a bare LF end.
 */
static int get_line(struct session *s, struct buf *line, bool *bare_r)
{
	bool too_long = false;

	buf_reset(line);
	for (;;) {
		char *nl = memchr(s->in + s->in_start, '\n', s->in_end - s->in_start);
		size_t n = nl ? (size_t)(nl - (s->in + s->in_start)) : s->in_end - s->in_start;

		if (!too_long) {
			buf_append(line, s->in + s->in_start, n);
			if ((long)line->len > var_line_length_limit + 1)
				too_long = true;
		}
		s->in_start += n;
		if (nl) {
			s->in_start++;
			*bare_r = line->len == 0 || line->data[line->len - 1] != '\r';
			if (!*bare_r)
				buf_truncate(line, line->len - 1);
			return too_long ? -1 : 1;
		}
		if (!fill(s))
			return 0;
	}
}

/* ---- transaction ---- */

/*
 * txn_reset - forget the envelope; an unfinished message is discarded.
 * XFORWARD attributes are for one transaction: they go with it.
 */
static void txn_reset(struct session *s)
{
	if (s->cleanup)
		cleanup_abort(&s->cleanup);
	smtpd_xforward_reset(&s->xf);
	free(s->sender);
	s->sender = NULL;
	smtpd_params_deinit(&s->mail);
	free(s->first_rcpt);
	s->first_rcpt = NULL;
	s->rcpt_count = 0;
	s->id[0] = 0;
	smtpd_actions_reset(&s->actions);
	s->bdat_bad = false;
	free(s->bdat_reject);
	s->bdat_reject = NULL;
	s->bdat_size = 0;
}

/*
 * count - add one to an smtpd event counter (global/counters.h: one atomic
 * add in shared memory, read by the metrics service).  stage is one of the
 * fixed command words; code the reply's three digits or "".
 */
static void count(const char *what, const char *stage, const char *text)
{
	char name[COUNTERS_NAME_MAX + 1], code[4] = "";

	if (text && isdigit((unsigned char)text[0]) && isdigit((unsigned char)text[1])
	    && isdigit((unsigned char)text[2]))
		memcpy(code, text, 3);
	if (stage == NULL)
		snprintf(name, sizeof(name), "sluice_smtpd_%s_total", what);
	else if (text == NULL)
		snprintf(name, sizeof(name), "sluice_smtpd_%s_total{stage=\"%s\"}", what, stage);
	else
		snprintf(name, sizeof(name), "sluice_smtpd_%s_total{stage=\"%s\",code=\"%s\"}",
			 what, stage, code);
	counters_add(name, 1);
}

/* log_reject - "NOQUEUE: reject: CMD from client: reply; from=<> to=<> proto= helo=<>" */
static void log_reject(struct session *s, const char *cmd, const char *text, const char *rcpt)
{
	struct buf e1, e2, e3, e4;

	buf_init(&e1, 128);
	buf_init(&e2, 64);
	buf_init(&e3, 64);
	buf_init(&e4, 64);
	count("rejects", cmd, text);
	log_escape(&e1, text);
	if (rcpt)
		log_escape(&e3, rcpt);
	msg_info("%s: reject: %s from %s: %s; from=<%s>%s%s%s proto=%s helo=<%s>",
		 s->id[0] ? s->id : "NOQUEUE", cmd, s->client, e1.data,
		 s->sender ? log_escape(&e2, s->sender) : "", rcpt ? " to=<" : "",
		 rcpt ? e3.data : "", rcpt ? ">" : "", s->proto,
		 s->helo ? log_escape(&e4, s->helo) : "");
	buf_deinit(&e1);
	buf_deinit(&e2);
	buf_deinit(&e3);
	buf_deinit(&e4);
}

/* check_ctx - what the restrictions see */
static void check_ctx(struct session *s, struct smtpd_check_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->addr = &s->addr;
	c->client = s->client;
	c->helo = s->helo;
	c->sender = s->sender;
	c->ehlo = s->ehlo;
	c->sasl_username = s->sasl_username;
	c->queue_id = s->id;
	c->rcpt_count = s->rcpt_count;
	c->where = s->where;
	c->proto = s->proto;
	c->actions = &s->actions;
}

/* set_proto - Postfix's protocol name: ESMTP, with S for TLS, A for AUTH */
static void set_proto(struct session *s)
{
	snprintf(s->proto_buf, sizeof(s->proto_buf), "%s%s%s", s->ehlo ? "ESMTP" : "SMTP",
		 s->ehlo && s->tls ? "S" : "", s->ehlo && s->sasl_username ? "A" : "");
	s->proto = s->proto_buf;
}

/* has_8bit - any byte above 127 */
static bool has_8bit(const char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t > 127)
			return true;
	return false;
}

/* parse_address - path text to internal form, or reply and -1 */
static int parse_address(struct session *s, const char *path, bool sender, char **addr_r)
{
	const char *error;

	if (smtpd_parse_address(path, sender, addr_r, &error) < 0) {
		reply(s, "501 5.1.%d Bad %s address syntax", sender ? 7 : 3,
		      sender ? "sender" : "recipient");
		return -1;
	}
	if (has_8bit(*addr_r) && !s->mail.smtputf8) {
		free(*addr_r);
		reply(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode address");
		return -1;
	}
	return 0;
}

/* auth_offered - may this session use AUTH now? */
static bool auth_offered(const struct session *s)
{
	if (s->sasl == NULL || *smtpd_sasl_mechanisms(s->sasl) == 0)
		return false;
	/* No password in plain text where TLS is required or asked for. */
	if (s->tls == NULL && (tls_level == SMTPD_TLS_ENCRYPT
			       || (var_smtpd_tls_auth_only && tls_level != SMTPD_TLS_NONE)))
		return false;
	return true;
}

/* cmd_helo - HELO and EHLO */
static bool cmd_helo(struct session *s, char *arg, bool ehlo)
{
	const char *r;
	struct smtpd_check_ctx c;

	arg = str_trim(arg);
	if (*arg == 0) {
		reply(s, "501 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		return false;
	}
	txn_reset(s);
	free(s->helo);
	s->helo = xstrdup(arg);
	s->ehlo = ehlo;
	set_proto(s);
	if (!var_smtpd_delay_reject) {
		check_ctx(s, &c);
		if ((r = smtpd_check_stage(SMTPD_HELO, &c)) != NULL) {
			log_reject(s, ehlo ? "EHLO" : "HELO", r, NULL);
			reply(s, "%s", r);
			free(s->helo);
			s->helo = NULL;
			return false;
		}
	}
	if (!ehlo) {
		reply(s, "250 %s", var_myhostname);
		return true;
	}
	reply(s, "250-%s", var_myhostname);
	buf_puts(&s->out, "250-PIPELINING\r\n");
	if (var_message_size_limit > 0)
		buf_printf(&s->out, "250-SIZE %ld\r\n", var_message_size_limit);
	else
		buf_puts(&s->out, "250-SIZE\r\n");
	if (!var_disable_vrfy_command)
		buf_puts(&s->out, "250-VRFY\r\n");
	if (tls_level != SMTPD_TLS_NONE && s->tls == NULL)
		buf_puts(&s->out, "250-STARTTLS\r\n");
	if (auth_offered(s)) {
		buf_printf(&s->out, "250-AUTH %s\r\n", smtpd_sasl_mechanisms(s->sasl));
		if (var_broken_sasl_auth_clients)
			buf_printf(&s->out, "250-AUTH=%s\r\n", smtpd_sasl_mechanisms(s->sasl));
	}
	buf_puts(&s->out, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n");
	if (var_smtputf8_enable)
		buf_puts(&s->out, "250-SMTPUTF8\r\n");
	if (s->xforward_ok)
		buf_puts(&s->out, "250-XFORWARD " SMTPD_XFORWARD_ATTRS "\r\n");
	buf_puts(&s->out, "250 CHUNKING\r\n");
	return true;
}

/* cmd_mail - MAIL FROM */
static bool cmd_mail(struct session *s, char *arg)
{
	char *path, *rest, *addr;
	const char *r;
	struct smtpd_check_ctx c;

	if (s->sender) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return false;
	}
	if (smtpd_parse_path(arg, "FROM:", &path, &rest) < 0) {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return false;
	}
	if (smtpd_parse_params(rest, false, &s->mail, &r) < 0) {
		reply(s, "%s", r);
		return false;
	}
	if (s->mail.smtputf8 && !var_smtputf8_enable) {
		smtpd_params_deinit(&s->mail);
		reply(s, "555 5.5.4 Unsupported option: SMTPUTF8");
		return false;
	}
	if (parse_address(s, path, true, &addr) < 0) {
		smtpd_params_deinit(&s->mail);
		return false;
	}
	if (var_message_size_limit > 0 && s->mail.size > var_message_size_limit) {
		free(addr);
		smtpd_params_deinit(&s->mail);
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return false;
	}
	if (cleanup_space_check(var_queue_directory, &r) < 0) {
		free(addr);
		smtpd_params_deinit(&s->mail);
		msg_warn("%s: %s", s->client, r);
		reply(s, "452 4.3.1 Insufficient system storage");
		return false;
	}
	if ((r = smtpd_anvil_mail()) != NULL) {
		free(addr);
		smtpd_params_deinit(&s->mail);
		reply(s, "%s", r);
		return false;
	}
	s->sender = addr;
	if (!var_smtpd_delay_reject) {
		check_ctx(s, &c);
		if ((r = smtpd_check_stage(SMTPD_SENDER, &c)) != NULL) {
			log_reject(s, "MAIL", r, NULL);
			reply(s, "%s", r);
			txn_reset(s);
			return false;
		}
	}
	reply(s, "250 2.1.0 Ok");
	return true;
}

/*
 * set_client_attrs - who sent the message, in the queue file (Postfix's
 * attribute names): for the Received: header a requeue rebuilds nothing
 * from, for the smtp client's XFORWARD and the pipe macros, for whoever
 * reads the file.  The log_ copies name the client that first gave the
 * message to the mail system: the one XFORWARD named, else this one.
 */
static void set_client_attrs(struct session *s)
{
	const struct smtpd_xforward *xf = &s->xf;
	char type[16], port[8];
	int context;

	snprintf(type, sizeof(type), "%d", s->addr.ss_family);
	snprintf(port, sizeof(port), "%u", ntohs(s->addr.ss_family == AF_INET6
		 ? ((const struct sockaddr_in6 *)&s->addr)->sin6_port
		 : ((const struct sockaddr_in *)&s->addr)->sin_port));
	if (xf->client) {
		cleanup_set_attr(s->cleanup, "log_client_name", xf->name ? xf->name : "unknown");
		cleanup_set_attr(s->cleanup, "log_client_address", xf->addr ? xf->addr : "unknown");
		if (xf->port)
			cleanup_set_attr(s->cleanup, "log_client_port", xf->port);
		if (xf->helo)
			cleanup_set_attr(s->cleanup, "log_helo_name", xf->helo);
		if (xf->proto)
			cleanup_set_attr(s->cleanup, "log_protocol_name", xf->proto);
	} else {
		cleanup_set_attr(s->cleanup, "log_client_name", s->name);
		cleanup_set_attr(s->cleanup, "log_client_address", s->addr_text);
		cleanup_set_attr(s->cleanup, "log_client_port", port);
		if (s->helo)
			cleanup_set_attr(s->cleanup, "log_helo_name", s->helo);
		cleanup_set_attr(s->cleanup, "log_protocol_name", s->proto);
	}
	cleanup_set_attr(s->cleanup, "client_name", s->name);
	cleanup_set_attr(s->cleanup, "client_address", s->addr_text);
	cleanup_set_attr(s->cleanup, "client_address_type", type);
	cleanup_set_attr(s->cleanup, "client_port", port);
	if (s->helo)
		cleanup_set_attr(s->cleanup, "helo_name", s->helo);
	cleanup_set_attr(s->cleanup, "protocol_name", s->proto);
	/* XFORWARD SOURCE says where the message began; else the client decides. */
	if (xf->source == SMTPD_XF_LOCAL)
		context = CLEANUP_RWR_LOCAL;
	else if (xf->source == SMTPD_XF_REMOTE)
		context = CLEANUP_RWR_REMOTE;
	else
		context = smtpd_check_rewrite_local(&s->addr, s->addr_text, s->sasl_username)
		    ? CLEANUP_RWR_LOCAL : CLEANUP_RWR_REMOTE;
	cleanup_set_rewrite_context(s->cleanup, context);
}

/* forwarded - ", orig_queue_id=ID, orig_client=name[addr]" after XFORWARD, else "" */
static const char *forwarded(struct session *s, struct buf *b)
{
	const struct smtpd_xforward *xf = &s->xf;
	struct buf e;

	buf_reset(b);
	buf_init(&e, 64);
	if (xf->ident)
		buf_printf(b, ", orig_queue_id=%s", log_escape(&e, xf->ident));
	if (xf->client)
		buf_printf(b, ", orig_client=%s[%s]", xf->name ? xf->name : "unknown",
			   xf->addr ? xf->addr : "unknown");
	buf_deinit(&e);
	return b->data;
}

/* open_queue_file - the first accepted recipient opens the message */
static bool open_queue_file(struct session *s)
{
	const char *error;
	struct buf fw;

	if ((s->cleanup = cleanup_open(var_queue_directory, 0, &error)) == NULL) {
		msg_warn("%s: %s", s->client, error);
		return false;
	}
	if (cleanup_reserve_id(s->cleanup, s->id) < 0) {
		msg_warn("%s: queue file: %s", s->client, strerror(errno));
		cleanup_abort(&s->cleanup);
		return false;
	}
	cleanup_set_sender(s->cleanup, s->sender);
	cleanup_set_dsn(s->cleanup, s->mail.envid, s->mail.ret);
	set_client_attrs(s);
	cleanup_set_origin(s->cleanup, s->client, s->proto, s->helo);
	/* SMTPUTF8 and BODY=8BITMIME go into the queue file for the SMTP client. */
	cleanup_set_smtputf8(s->cleanup, (s->mail.smtputf8 ? CLEANUP_SMTPUTF8_REQUESTED : 0)
			     | (cleanup_smtputf8_class("smtpd") ? CLEANUP_SMTPUTF8_AUTODETECT : 0));
	if (s->mail.body == 8)
		cleanup_set_attr(s->cleanup, "encoding", "8bit");
	buf_init(&fw, 64);
	if (s->sasl_username) {
		struct buf e;

		buf_init(&e, 64);
		cleanup_set_attr(s->cleanup, "sasl_method", s->sasl_method);
		cleanup_set_attr(s->cleanup, "sasl_username", s->sasl_username);
		msg_info("%s: client=%s, sasl_method=%s, sasl_username=%s%s", s->id, s->client,
			 s->sasl_method, log_escape(&e, s->sasl_username), forwarded(s, &fw));
		buf_deinit(&e);
	} else {
		msg_info("%s: client=%s%s", s->id, s->client, forwarded(s, &fw));
	}
	buf_deinit(&fw);
	return true;
}

/* cmd_rcpt - RCPT TO */
static bool cmd_rcpt(struct session *s, char *arg)
{
	struct smtpd_params p;
	struct smtpd_check_ctx c;
	char *path, *rest, *addr;
	const char *r;
	int rc;

	if (s->sender == NULL) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return false;
	}
	if (smtpd_parse_path(arg, "TO:", &path, &rest) < 0) {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return false;
	}
	if (smtpd_parse_params(rest, true, &p, &r) < 0) {
		reply(s, "%s", r);
		return false;
	}
	if (parse_address(s, path, false, &addr) < 0) {
		smtpd_params_deinit(&p);
		return false;
	}
	if (*addr == 0) {
		free(addr);
		smtpd_params_deinit(&p);
		reply(s, "501 5.1.3 Bad recipient address syntax");
		return false;
	}
	if (s->rcpt_count >= var_smtpd_recipient_limit) {
		free(addr);
		smtpd_params_deinit(&p);
		reply(s, "452 4.5.3 Error: too many recipients");
		return false;
	}
	if ((r = smtpd_anvil_rcpt()) != NULL) {
		free(addr);
		smtpd_params_deinit(&p);
		reply(s, "%s", r);
		return false;
	}
	check_ctx(s, &c);
	c.rcpt = addr;
	c.rcpt_routed = smtpd_path_routed(path);
	/* Looked at only by reject_unauth_pipelining: no poll() per RCPT otherwise. */
	c.pipelined_fn = pending;
	c.pipelined_arg = s;
	if ((r = smtpd_check_rcpt(&c)) != NULL) {
		log_reject(s, "RCPT", r, addr);
		reply(s, "%s", r);
		free(addr);
		smtpd_params_deinit(&p);
		return false;
	}
	if (s->cleanup == NULL && !open_queue_file(s)) {
		free(addr);
		smtpd_params_deinit(&p);
		reply(s, "451 4.3.0 Error: queue file write error");
		return false;
	}
	rc = cleanup_add_rcpt(s->cleanup, addr, NULL, p.orcpt, p.notify);
	smtpd_params_deinit(&p);
	if (rc == CLEANUP_TOO_MANY) {
		free(addr);
		reply(s, "452 4.5.3 Error: too many recipients");
		return false;
	} else if (rc < 0) {
		free(addr);
		reply(s, "501 5.1.3 Bad recipient address syntax");
		return false;
	}
	if (s->first_rcpt == NULL)
		s->first_rcpt = xstrdup(addr);
	free(addr);
	s->rcpt_count++;
	reply(s, "250 2.1.5 Ok");
	return true;
}

/* start_message - the Received: header, before the first byte */
static void start_message(struct session *s)
{
	struct buf b;

	buf_init(&b, 256);
	buf_printf(&b, "Received: from %s (%s [%s])\n", s->helo ? s->helo : s->name, s->name,
		   s->addr_text);
	if (s->tls && var_smtpd_tls_received_header)
		buf_printf(&b, "\t(using %s)\n\t(No client certificate requested)\n", s->tls_info);
	if (s->sasl_username && var_smtpd_sasl_authenticated_header)
		buf_printf(&b, "\t(Authenticated sender: %s)\n", s->sasl_username);
	buf_printf(&b, "\tby %s (%s) with %s id %s", var_myhostname, var_mail_name, s->proto,
		   s->id);
	if (s->rcpt_count == 1) {
		char *q = addr_quote(s->first_rcpt);

		buf_printf(&b, "\n\tfor <%s>", q);
		free(q);
	}
	buf_puts(&b, "; ");
	rfc822_date(&b, time(NULL));
	/* Header text from the network: nothing that could end the header. */
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] < 32 && b.data[i] != '\n' && b.data[i] != '\t')
			b.data[i] = '?';
	cleanup_set_received(s->cleanup, b.data);
	smtpd_actions_apply(&s->actions, s->cleanup);
	buf_deinit(&b);
}

/* finish_message - commit, and the reply to the end of data */
static bool finish_message(struct session *s, const char *cmd)
{
	char id[QUEUE_ID_SIZE];
	const char *error;

	if (cleanup_close(&s->cleanup, id, &error) < 0) {
		if (error[0] == '5') {
			reply(s, "%s %s", error[2] == '3' && error[4] == '4' ? "552" : "550", error);
		} else if (strncmp(error, "4.3.", 4) != 0) {
			/* A content check's DEFER: its text, as Postfix's 451. */
			reply(s, "451 %s", error);
		} else {
			msg_warn("%s: %s: %s", s->id, s->client, error);
			reply(s, "451 4.3.0 Error: queue file write error");
		}
		log_reject(s, cmd, s->out.len ? "queue file refused" : "", NULL);
		txn_reset(s);
		return false;
	}
	reply(s, "250 2.0.0 Ok: queued as %s", id);
	s->errors = 0;
	txn_reset(s);
	return true;
}

/* in_transaction - MAIL and a recipient were accepted; else the reply */
static bool in_transaction(struct session *s)
{
	if (s->sender == NULL)
		reply(s, "503 5.5.1 Error: need MAIL command");
	else if (s->rcpt_count == 0)
		reply(s, "554 5.5.1 Error: no valid recipients");
	else
		return true;
	return false;
}

/*
 * data_check - smtpd_data_restrictions (at DATA or the first BDAT) or
 * smtpd_end_of_data_restrictions: NULL, or the reply (logged).  They see
 * the recipient only when there is one, as Postfix's.  acts, when not
 * NULL, takes the actions decided (end of data: the message is written).
 */
static const char *data_check(struct session *s, enum smtpd_stage stage,
			      struct smtpd_actions *acts)
{
	struct smtpd_check_ctx c;
	const char *r;

	check_ctx(s, &c);
	c.rcpt = s->rcpt_count == 1 ? s->first_rcpt : NULL;
	c.where = stage == SMTPD_DATA ? "DATA" : "END-OF-MESSAGE";
	c.pipelined_fn = pending;
	c.pipelined_arg = s;
	if (acts)
		c.actions = acts;
	if ((r = smtpd_check_data(stage, &c)) != NULL)
		log_reject(s, c.where, r, c.rcpt);
	return r;
}

/* end_of_data - smtpd_end_of_data_restrictions, then commit */
static bool end_of_data(struct session *s)
{
	struct smtpd_actions acts = {0};
	const char *r = data_check(s, SMTPD_EOD, &acts);

	if (r != NULL) {
		/* Nothing is queued: the file goes with the transaction. */
		reply(s, "%s", r);
		smtpd_actions_reset(&acts);
		txn_reset(s);
		return false;
	}
	smtpd_actions_apply(&acts, s->cleanup);
	smtpd_actions_reset(&acts);
	return finish_message(s, "END-OF-MESSAGE");
}

/*
 * cmd_data - DATA: read up to <CR><LF>.<CR><LF>, unstuff dots.  Only a
 * "." line that follows a CR LF and ends in CR LF ends the message; with
 * smtpd_forbid_bare_newline = reject a bare LF refuses the message.
 */
static bool cmd_data(struct session *s, char *arg)
{
	struct smtpd_data d;
	bool too_big = false;
	long size = 0;

	if (*str_trim(arg)) {
		reply(s, "501 5.5.4 Syntax: DATA");
		return false;
	}
	const char *refused;

	if (!in_transaction(s))
		return false;
	if ((refused = data_check(s, SMTPD_DATA, NULL)) != NULL) {
		reply(s, "%s", refused);
		return false;
	}
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	start_message(s);
	smtpd_data_init(&d);
	for (;;) {
		const char *p;
		size_t len, used;
		int r = smtpd_data_step(&d, s->in + s->in_start, s->in_end - s->in_start, &p, &len,
					&used);

		if (r == SMTPD_DATA_MORE) {
			if (!fill(s))
				break;
			continue;
		}
		if (r == SMTPD_DATA_END) {
			s->in_start += used;
			goto end;
		}
		size += (long)len;
		if (var_message_size_limit > 0 && size > var_message_size_limit)
			too_big = true;
		if (!too_big && !(d.bare_seen && bare_mode == BARE_REJECT))
			cleanup_write(s->cleanup, p, len);
		s->in_start += used;
	}
	/* The client went away or timed out: nothing is queued. */
	txn_reset(s);
	return false;
end:
	if (d.bare_seen && bare_mode == BARE_REJECT) {
		reply(s, "521 5.5.2 %s Error: bare <LF> received", var_myhostname);
		log_reject(s, "END-OF-MESSAGE", "521 5.5.2 Error: bare <LF> received", NULL);
		txn_reset(s);
		s->quit = true;
		return false;
	}
	if (too_big) {
		reply(s, "552 5.3.4 Error: message file too big");
		txn_reset(s);
		return false;
	}
	return end_of_data(s);
}

/* cmd_bdat - BDAT size [LAST] (RFC 3030) */
static bool cmd_bdat(struct session *s, char *arg)
{
	long n, chunk;
	bool is_last;

	if (smtpd_parse_bdat(arg, &chunk, &is_last) < 0) {
		/* The chunk size is unknown: the session cannot go on. */
		reply(s, "501 5.5.4 Syntax: BDAT count [LAST]");
		s->quit = true;
		return false;
	}
	n = chunk;
	if (s->sender == NULL || s->rcpt_count == 0)
		s->bdat_bad = true;
	if (!s->bdat_bad && s->bdat_size == 0 && s->cleanup) {
		const char *r = data_check(s, SMTPD_DATA, NULL);

		if (r != NULL) {
			s->bdat_reject = xstrdup(r);
			s->bdat_bad = true;
		} else {
			start_message(s);
		}
	}
	s->bdat_size += n;
	if (var_message_size_limit > 0 && s->bdat_size > var_message_size_limit)
		s->bdat_bad = true;
	while (n > 0) {
		size_t take;

		if (s->in_start == s->in_end && !fill(s)) {
			txn_reset(s);
			return false;
		}
		take = s->in_end - s->in_start;
		if ((long)take > n)
			take = (size_t)n;
		if (!s->bdat_bad && s->cleanup)
			cleanup_write(s->cleanup, s->in + s->in_start, take);
		s->in_start += take;
		n -= (long)take;
	}
	if (!in_transaction(s))
		return false;
	if (s->bdat_bad) {
		if (s->bdat_reject)
			reply(s, "%s", s->bdat_reject);
		else
			reply(s, "552 5.3.4 Error: message file too big");
		if (is_last)
			txn_reset(s);
		return false;
	}
	if (!is_last) {
		reply(s, "250 2.0.0 Ok: %ld bytes", chunk);
		return true;
	}
	return end_of_data(s);
}

/* cmd_vrfy - VRFY */
static bool cmd_vrfy(struct session *s, char *arg)
{
	char *addr;

	if (var_disable_vrfy_command) {
		reply(s, "502 5.5.1 VRFY command is disabled");
		return false;
	}
	arg = str_trim(arg);
	if (*arg == 0) {
		reply(s, "501 5.5.4 Syntax: VRFY address");
		return false;
	}
	if (parse_address(s, arg, false, &addr) < 0)
		return false;
	reply(s, "252 2.0.0 %s", addr);
	free(addr);
	return true;
}

/* ---- STARTTLS and AUTH ---- */

/* forget_login - drop the AUTH state; a new SASL session for tls_bits */
static void forget_login(struct session *s)
{
	free(s->sasl_username);
	free(s->sasl_method);
	s->sasl_username = s->sasl_method = NULL;
	smtpd_sasl_free(&s->sasl);
	if (sasl_on)
		s->sasl = smtpd_sasl_new(s->fd, s->tls_bits);
}

/*
 * cmd_starttls - STARTTLS (RFC 3207).  Plaintext that the client sent
 * after the command, before the handshake, is discarded unread: an
 * attacker in the path could have put it there, and executing it inside
 * the TLS session would give it the session's protection (CVE-2011-0411).
 * After the handshake the session starts over: no HELO, no transaction,
 * no login.
 */
static bool cmd_starttls(struct session *s, char *arg)
{
	char info[sizeof(s->tls_info)];

	if (*str_trim(arg)) {
		reply(s, "501 5.5.4 Syntax: STARTTLS");
		return false;
	}
	if (tls_level == SMTPD_TLS_NONE) {
		reply(s, "502 5.5.1 Error: command not implemented");
		return false;
	}
	if (s->tls) {
		reply(s, "554 5.5.1 Error: TLS already active");
		return false;
	}
	if (s->in_end > s->in_start) {
		msg_warn("%s: discarding %zu bytes of plaintext sent after STARTTLS", s->client,
			 s->in_end - s->in_start);
		s->in_start = s->in_end = 0;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	if (!flush(s))
		return false;
	if ((s->tls = smtpd_tls_accept(s->fd, (int)(var_smtpd_timeout * 1000), s->client, info,
				       sizeof(info), &s->tls_bits)) == NULL) {
		s->eof = true;
		return false;
	}
	snprintf(s->tls_info, sizeof(s->tls_info), "%s", info);
	txn_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->ehlo = false;
	forget_login(s);
	set_proto(s);
	return true;
}

/* auth_line - one line of the AUTH dialogue; NULL at EOF (s->eof set) */
static const char *auth_line(struct session *s, struct buf *line)
{
	bool bare;
	int rc;

	if ((rc = get_line(s, line, &bare)) == 0)
		return NULL;
	if (rc < 0)
		return "";		/* too long: not base64 we could use */
	return line->data;
}

/* cmd_auth - AUTH mechanism [initial-response] (RFC 4954) */
static bool cmd_auth(struct session *s, char *arg)
{
	const char *challenge = NULL, *rep = NULL, *reason = NULL, *resp;
	char *cp = arg, *mech = str_token(&cp, " \t"), *initial = str_token(&cp, " \t");
	struct buf line;
	int rc;

	if (!auth_offered(s)) {
		reply(s, "503 5.5.1 Error: authentication not enabled");
		return false;
	}
	if (!s->ehlo) {
		reply(s, "503 5.5.1 Error: send EHLO first");
		return false;
	}
	if (s->sasl_username) {
		reply(s, "503 5.5.1 Error: already authenticated");
		return false;
	}
	if (s->sender) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return false;
	}
	if (mech == NULL || str_token(&cp, " \t") != NULL) {
		reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return false;
	}
	buf_init(&line, 512);
	rc = smtpd_sasl_start(s->sasl, mech, initial, &challenge, &rep, &reason);
	while (rc == SMTPD_SASL_CONTINUE) {
		reply(s, "334 %s", challenge);
		if ((resp = auth_line(s, &line)) == NULL) {
			buf_deinit(&line);
			return false;
		}
		if (strcmp(resp, "*") == 0) {
			reply(s, "501 5.7.0 Authentication aborted");
			explicit_bzero(line.data, line.len);
			buf_deinit(&line);
			forget_login(s);
			return false;
		}
		rc = smtpd_sasl_step(s->sasl, resp, &challenge, &rep, &reason);
		explicit_bzero(line.data, line.len);
	}
	buf_deinit(&line);
	if (rc == SMTPD_SASL_DONE && smtpd_sasl_username(s->sasl) != NULL) {
		s->sasl_username = xstrdup(smtpd_sasl_username(s->sasl));
		s->sasl_method = xstrdup(smtpd_sasl_method(s->sasl));
		set_proto(s);
		reply(s, "235 2.7.0 Authentication successful");
		return true;
	}
	msg_warn("%s: SASL %s authentication failed: %s", s->client,
		 smtpd_sasl_method(s->sasl), reason ? reason : "no user name");
	reply(s, "%s", rep ? rep : "535 5.7.8 Error: authentication failed: no user name");
	/* A failed exchange leaves the library's session spent. */
	forget_login(s);
	return false;
}

/* tls_required - under encrypt, what may be said in plain text */
static bool tls_required(const struct session *s, int c)
{
	return tls_level == SMTPD_TLS_ENCRYPT && s->tls == NULL && c != C_HELO && c != C_EHLO
	    && c != C_STARTTLS && c != C_NOOP && c != C_RSET && c != C_QUIT;
}

/* ---- session ---- */

/*
 * The last client's confirmed name, for PEER_CACHE_TIME seconds: a client
 * that opens one session per message (smtp-source, application servers)
 * would otherwise cost a reverse and a forward lookup per message (with
 * files in nsswitch.conf, two reads of /etc/hosts and ~17 system calls).
 * Far shorter than any DNS TTL worth the name.
 */
#define PEER_CACHE_TIME	10.0
static char peer_cache_addr[INET6_ADDRSTRLEN];
static char peer_cache_name[NI_MAXHOST];
static double peer_cache_time;

/* peer_names - address text and (confirmed) host name */
static void peer_names(struct session *s)
{
	struct addrinfo hints, *res, *ai;
	char host[NI_MAXHOST], back[INET6_ADDRSTRLEN];
	socklen_t len = s->addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	    : sizeof(struct sockaddr_in);
	double now;

	if (getnameinfo((struct sockaddr *)&s->addr, len, s->addr_text, sizeof(s->addr_text),
			NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(s->addr_text, sizeof(s->addr_text), "unknown");
	snprintf(s->name, sizeof(s->name), "unknown");
	if (!var_smtpd_peername_lookup)
		goto out;
	now = mono_time();
	if (peer_cache_addr[0] && strcmp(peer_cache_addr, s->addr_text) == 0
	    && now - peer_cache_time < PEER_CACHE_TIME) {
		snprintf(s->name, sizeof(s->name), "%s", peer_cache_name);
		goto out;
	}
	if (getnameinfo((struct sockaddr *)&s->addr, len, host, sizeof(host), NULL, 0,
			NI_NAMEREQD) == 0) {
		/* Forward-confirmed, or it stays "unknown" (Postfix). */
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, NULL, &hints, &res) == 0) {
			for (ai = res; ai; ai = ai->ai_next)
				if (getnameinfo(ai->ai_addr, ai->ai_addrlen, back, sizeof(back), NULL,
						0, NI_NUMERICHOST) == 0
				    && strcmp(back, s->addr_text) == 0) {
					snprintf(s->name, sizeof(s->name), "%s", host);
					break;
				}
			freeaddrinfo(res);
		}
	}
	snprintf(peer_cache_addr, sizeof(peer_cache_addr), "%s", s->addr_text);
	snprintf(peer_cache_name, sizeof(peer_cache_name), "%s", s->name);
	peer_cache_time = now;
out:
	s->client = xasprintf("%s[%s]", s->name, s->addr_text);
}

/* log_disconnect - "disconnect from client ehlo=1 mail=1 ... commands=N" */
static void log_disconnect(struct session *s)
{
	struct buf b;
	int ok = 0, total = 0;

	buf_init(&b, 128);
	for (int i = 0; i < C_COUNT; i++) {
		if (s->total[i] == 0)
			continue;
		ok += s->ok[i];
		total += s->total[i];
		if (s->ok[i] == s->total[i])
			buf_printf(&b, " %s=%d", cmd_names[i], s->total[i]);
		else
			buf_printf(&b, " %s=%d/%d", cmd_names[i], s->ok[i], s->total[i]);
	}
	if (ok == total)
		buf_printf(&b, " commands=%d", total);
	else
		buf_printf(&b, " commands=%d/%d", ok, total);
	msg_info("disconnect from %s%s", s->client, b.data);
	count("disconnects", NULL, NULL);
	buf_deinit(&b);
}

/* The commands without a function of their own above. */
static bool cmd_helo_only(struct session *s, char *arg)
{
	return cmd_helo(s, arg, false);
}

static bool cmd_ehlo(struct session *s, char *arg)
{
	return cmd_helo(s, arg, true);
}

static bool cmd_rset(struct session *s, char *arg)
{
	(void)arg;
	txn_reset(s);
	reply(s, "250 2.0.0 Ok");
	return true;
}

static bool cmd_noop(struct session *s, char *arg)
{
	(void)arg;
	reply(s, "250 2.0.0 Ok");
	return true;
}

static bool cmd_quit(struct session *s, char *arg)
{
	(void)arg;
	reply(s, "221 2.0.0 Bye");
	s->quit = true;
	return true;
}

/* cmd_xforward - XFORWARD attr=value ... from smtpd_authorized_xforward_hosts */
static bool cmd_xforward(struct session *s, char *arg)
{
	char buf[256];
	const char *r;

	if (!s->xforward_ok) {
		reply(s, "550 5.7.0 Error: insufficient authorization");
		return false;
	}
	if (s->sender) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return false;
	}
	if ((r = smtpd_xforward_apply(&s->xf, arg, buf, sizeof(buf))) != NULL) {
		reply(s, "%s", r);
		return false;
	}
	reply(s, "250 2.0.0 Ok");
	return true;
}

static bool cmd_unknown(struct session *s, char *arg)
{
	(void)arg;
	reply(s, "502 5.5.2 Error: command not recognized");
	return false;
}

/* What serves each command, in the order of cmd_upper[]. */
static bool (*const cmd_fn[C_COUNT])(struct session *, char *) = {
	cmd_helo_only, cmd_ehlo, cmd_starttls, cmd_xforward, cmd_auth, cmd_mail, cmd_rcpt,
	cmd_data, cmd_bdat, cmd_rset, cmd_noop, cmd_vrfy, cmd_quit, cmd_unknown,
};

/* dispatch - one command */
static void dispatch(struct session *s, char *line)
{
	char *verb = line, *arg;
	int c;

	arg = line + strcspn(line, " \t");
	if (*arg)
		*arg++ = 0;
	for (c = 0; c < C_UNKNOWN && strcasecmp(verb, cmd_upper[c]) != 0; c++)
		continue;
	s->where = cmd_upper[c];
	s->total[c]++;
	/* Junk commands beyond the limit count as errors. */
	if ((c == C_NOOP || c == C_RSET || c == C_VRFY) && ++s->junk > var_smtpd_junk_command_limit)
		s->errors++;
	if (tls_required(s, c)) {
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (cmd_fn[c](s, arg))
		s->ok[c]++;
}

/* session_new - a zeroed session but for its input buffer */
static struct session *session_new(void)
{
	struct session *s = xmalloc(sizeof(*s));

	memset(s, 0, offsetof(struct session, in));
	return s;
}

/* serve - one SMTP session */
static void serve(int fd, const struct sockaddr_storage *addr)
{
	struct session *s = session_new();
	struct buf line;
	bool bare, timeouts_set;
	int rc;

	s->fd = fd;
	s->addr = *addr;
	s->proto = "SMTP";
	buf_init(&s->out, 1024);
	buf_init(&line, 512);
	peer_names(s);
	s->xforward_ok = smtpd_nets_match(xforward_hosts, &s->addr);
	timeouts_set = plain_timeouts(fd) == 0;
	if (sasl_on)
		s->sasl = smtpd_sasl_new(fd, 0);
	msg_info("connect from %s", s->client);
	count("connects", NULL, NULL);
	s->where = "CONNECT";
	/* Per-client limits first, as Postfix: a refused client is still counted. */
	{
		const char *r = smtpd_anvil_connect(&s->addr, s->addr_text, s->client);

		if (r != NULL) {
			reply(s, "%s", r);
			flush(s);
			goto done;
		}
	}

	if (!timeouts_set) {
		msg_warn("%s: set the smtpd_timeout of the socket: %s", s->client, strerror(errno));
		goto done;
	}

	/* A client that talks before the greeting is no honest client. */
	if (fd_wait(fd, false, (int)(var_smtpd_greet_wait * 1000)) == 0) {
		char junk[512];
		ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n > 0) {
			msg_info("reject: CONNECT from %s: talked before the greeting (%zd bytes)",
				 s->client, n);
			count("rejects", "CONNECT", "554");
			reply(s, "554 5.5.1 Error: SMTP protocol violation (talked before the greeting)");
			flush(s);
			goto done;
		}
	}
	if (!var_smtpd_delay_reject) {
		struct smtpd_check_ctx c;
		const char *r;

		check_ctx(s, &c);
		if ((r = smtpd_check_stage(SMTPD_CLIENT, &c)) != NULL) {
			log_reject(s, "CONNECT", r, NULL);
			reply(s, "%s", r);
			flush(s);
			goto done;
		}
	}
	reply(s, "220 %s", var_smtpd_banner);
	while (!s->quit) {
		if ((rc = get_line(s, &line, &bare)) == 0)
			break;
		if (rc < 0) {
			s->total[C_UNKNOWN]++;
			reply(s, "500 5.5.2 Error: command line too long");
		} else if (bare && bare_mode == BARE_REJECT) {
			reply(s, "521 5.5.2 %s Error: bare <LF> received", var_myhostname);
			msg_info("reject: %s from %s: bare <LF> received", s->where, s->client);
			count("rejects", s->where, "521");
			s->quit = true;
		} else if (memchr(line.data, 0, line.len) != NULL) {
			s->total[C_UNKNOWN]++;
			reply(s, "500 5.5.2 Error: bad syntax");
		} else {
			dispatch(s, line.data);
		}
		if (s->errors >= var_smtpd_hard_error_limit && !s->quit) {
			reply(s, "421 4.7.0 %s Error: too many errors", var_myhostname);
			msg_info("too many errors after %s from %s", s->where, s->client);
			s->quit = true;
		}
	}
	/*
	 * The last reply waits in the socket for close(), which sends it with
	 * the FIN in one segment: one wake-up of the client fewer per session.
	 */
	flush_with(s, s->quit ? MSG_MORE : 0);
	if (s->timed_out) {
		/* Postfix's last word to a client that went silent. */
		if (!s->write_failed) {
			buf_printf(&s->out, "421 4.4.2 %s Error: timeout exceeded\r\n", var_myhostname);
			flush(s);
		}
		msg_info("timeout after %s from %s", s->where, s->client);
	} else if (!s->quit) {
		msg_info("lost connection after %s from %s", s->where, s->client);
		count("connections_lost", s->where, NULL);
	}
done:
	txn_reset(s);
	smtpd_anvil_disconnect();
	log_disconnect(s);
	buf_deinit(&line);
	buf_deinit(&s->out);
	free(s->helo);
	free(s->client);
	smtpd_tls_free(&s->tls);
	smtpd_sasl_free(&s->sasl);
	free(s->sasl_username);
	free(s->sasl_method);
	free(s);
}

/* How often (seconds) an idle smtpd looks whether a table was rebuilt. */
#define SMTPD_TABLE_LOOK	1

int main(int argc, char **argv)
{
	struct mail_server_opts opts;
	double idle_until;
	long uses = 0;
	int count, *fds;

	mail_server_init(argc, argv, "smtpd", &opts);
	if (!opts.has_listen_fd)
		msg_fatal("no listening socket on descriptor %d: smtpd is started by master",
			  MAIL_SERVER_LISTEN_FD);
	if (strcasecmp(var_smtpd_forbid_bare_newline, "reject") == 0)
		bare_mode = BARE_REJECT;
	else if (strcasecmp(var_smtpd_forbid_bare_newline, "normalize") == 0
		 || strcasecmp(var_smtpd_forbid_bare_newline, "yes") == 0
		 || strcasecmp(var_smtpd_forbid_bare_newline, "no") == 0)
		bare_mode = BARE_NORMALIZE;
	else
		msg_fatal("parameter smtpd_forbid_bare_newline: bad value \"%s\" "
			  "(must be normalize, yes, reject or no)", var_smtpd_forbid_bare_newline);
	smtpd_check_init();
	xforward_hosts = smtpd_nets_parse("smtpd_authorized_xforward_hosts",
					   var_smtpd_authorized_xforward_hosts);
	/* Keys and SASL plugins are read while the process can still read them. */
	tls_level = smtpd_tls_init();
	sasl_on = smtpd_sasl_init();
	smtpd_anvil_init(opts.service);
	count = opts.listen_count;
	fds = xcalloc((size_t)count, sizeof(*fds));
	for (int i = 0; i < count; i++) {
		fds[i] = i == 0 ? MAIL_SERVER_LISTEN_FD : MAIL_SERVER_MORE_FD + i - 1;
		set_nonblock(fds[i], true);
	}
	mail_server_drop_privileges(&opts, false);
	idle_until = mono_time() + var_max_idle;
	while (uses < var_max_use) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		double now = mono_time();
		int fd = -1, ready, wait_ms;

		mail_server_status(1);
		if (now >= idle_until)
			break;
		/*
		 * One idle process is woken per client.  One that wakes to find a
		 * rebuilt table leaves without the client; so that the client is
		 * not left waiting for the next one, every idle process looks at
		 * its tables each second and leaves too, and master starts fresh
		 * processes for a client that waits with no process idle.
		 */
		wait_ms = idle_until - now < SMTPD_TABLE_LOOK ? (int)((idle_until - now) * 1000) + 1
		    : SMTPD_TABLE_LOOK * 1000;
		ready = mail_server_wait_listen(fds, count, wait_ms);
		if (ready < 0 && errno != ETIMEDOUT) {
			if (errno == EINTR)
				continue;
			msg_fatal("wait for a client: %s", strerror(errno));
		}
		if (smtpd_tables_changed())
			break;
		if (ready < 0)
			continue;
		/* Another process took the client first. */
		if ((fd = accept4(ready, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC)) < 0)
			continue;
		mail_server_status(0);
		/* Linux: an accepted socket does not inherit the listener's O_NONBLOCK. */
		serve(fd, &ss);
		close(fd);
		uses++;
		idle_until = mono_time() + var_max_idle;
		if (smtpd_tables_changed())
			break;
	}
	free(fds);
	smtpd_check_deinit();
	return 0;
}
