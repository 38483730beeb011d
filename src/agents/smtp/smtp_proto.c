/*
 * smtp_proto - SMTP client state machine (see smtp_proto.h).
 *
 * Contract: every state change goes through smtp_enter_state(), which
 * logs it at verbose level, so "smtp -v" shows the conversation's shape.
 * A session is either in sync with the server (READY between
 * transactions) or BROKEN; nothing is ever sent on a BROKEN session, and a
 * transaction that ends BROKEN has given every recipient an outcome.
 *
 * Reply decisions (Postfix's, RFC 5321):
 *   greeting   2xx go on; 4xx, or 5xx with smtp_skip_5xx_greeting, try the
 *              next server; 5xx otherwise bounces
 *   EHLO       not 2xx: HELO; HELO not 2xx: try the next server
 *   STARTTLS   see smtp_tls.h for the security levels
 *   XFORWARD   not 2xx: a warning with the reply, and the transaction goes
 *              on without it (Postfix: the attributes are for logging, no
 *              reason to hold up the mail); 421 ends it as at MAIL
 *   MAIL       not 2xx: every recipient gets that reply (no hop failure)
 *   RCPT       per recipient: 2xx accepted, 4xx deferred, 5xx bounced
 *   DATA       only when a recipient was accepted; not 354: the accepted
 *              recipients get that reply
 *   "."        the accepted recipients get that reply
 *   421        any time: that reply for whatever is undecided, then close
 * Under PIPELINING, XFORWARD, MAIL, every RCPT and DATA go out in one write and the
 * replies are read in order (RFC 2920); when nobody was accepted but the
 * server still answers DATA with 354, an empty message is ended with ".".
 *
 * AUTH (RFC 4954) after STARTTLS when a login is given: the mechanism is
 * chosen by Cyrus SASL among those offered (smtp_sasl.h); a refused login
 * is a set-up failure ("SASL authentication failed; server X said: ..."),
 * deferred, and the next server is tried.  What the client sends during
 * AUTH is never put in the transcript (only "AUTH PLAIN" and "(hidden)").
 *
 * LMTP (conf->lmtp, RFC 2033): LHLO instead of EHLO (no HELO fallback,
 * refused LHLO is a set-up failure) and, after ".", one reply per accepted
 * recipient in RCPT order, each that recipient's outcome.
 *
 * Content (smtp.c decides, smtp_txn says): SMTPUTF8 on MAIL FROM when
 * asked (the server offers it); txn->downgrade sends the content through
 * the 8-bit to quoted-printable converter (smtp_mime.h) before the wire
 * encoding (smtp_body.h).
 *
 * What it does not do: BDAT/CHUNKING.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/socket.h>

#include "agents/smtp/smtp_body.h"
#include "agents/smtp/smtp_cmd.h"
#include "agents/smtp/smtp_conn.h"
#include "agents/smtp/smtp_mime.h"
#include "agents/smtp/smtp_dane.h"
#include "agents/smtp/smtp_proto.h"
#include "agents/smtp/smtp_reply.h"
#include "agents/smtp/smtp_sasl.h"
#include "agents/smtp/smtp_tls.h"
#include "agents/smtp/smtp_xforward.h"
#include "global/deliver_request.h"
#include "global/notice.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

/* Pipelined commands go out in groups of at most this many bytes. */
#define PIPELINE_BYTES	(32 * 1024)
/* Content is flushed in chunks of this size. */
#define BODY_CHUNK	(64 * 1024)

static const char *const state_names[] = {
	[SMTP_STATE_NONE] = "NONE",
	[SMTP_STATE_GREETING] = "GREETING",
	[SMTP_STATE_EHLO] = "EHLO",
	[SMTP_STATE_HELO] = "HELO",
	[SMTP_STATE_STARTTLS] = "STARTTLS",
	[SMTP_STATE_TLS] = "TLS",
	[SMTP_STATE_AUTH] = "AUTH",
	[SMTP_STATE_READY] = "READY",
	[SMTP_STATE_RSET] = "RSET",
	[SMTP_STATE_XFORWARD] = "XFORWARD",
	[SMTP_STATE_MAIL] = "MAIL",
	[SMTP_STATE_RCPT] = "RCPT",
	[SMTP_STATE_DATA] = "DATA",
	[SMTP_STATE_BODY] = "BODY",
	[SMTP_STATE_DOT] = "DOT",
	[SMTP_STATE_QUIT] = "QUIT",
	[SMTP_STATE_BROKEN] = "BROKEN",
};

/* What the client is doing in each state, for "timed out while ..." texts. */
static const char *const state_doing[] = {
	[SMTP_STATE_NONE] = "connecting",
	[SMTP_STATE_GREETING] = "receiving the initial server greeting",
	[SMTP_STATE_EHLO] = "performing the EHLO handshake",
	[SMTP_STATE_HELO] = "performing the HELO handshake",
	[SMTP_STATE_STARTTLS] = "sending STARTTLS",
	[SMTP_STATE_TLS] = "performing the TLS handshake",
	[SMTP_STATE_AUTH] = "performing the SASL authentication",
	[SMTP_STATE_READY] = "idle",
	[SMTP_STATE_RSET] = "sending RSET",
	[SMTP_STATE_XFORWARD] = "sending XFORWARD",
	[SMTP_STATE_MAIL] = "sending MAIL FROM",
	[SMTP_STATE_RCPT] = "sending RCPT TO",
	[SMTP_STATE_DATA] = "sending DATA command",
	[SMTP_STATE_BODY] = "sending message body",
	[SMTP_STATE_DOT] = "sending end of data -- message may be sent more than once",
	[SMTP_STATE_QUIT] = "sending QUIT",
	[SMTP_STATE_BROKEN] = "closing",
};

/* smtp_state_name - state for logs */
const char *smtp_state_name(enum smtp_state state)
{
	return state <= SMTP_STATE_BROKEN ? state_names[state] : "?";
}

/* smtp_enter_state - the one place where a session changes state */
static void smtp_enter_state(struct smtp_session *s, enum smtp_state state)
{
	if (s->state != state)
		msg_debug("%s: %s -> %s", s->namaddr, state_names[s->state], state_names[state]);
	s->state = state;
}

/* smtp_proto_outcome - class of a reply code */
int smtp_proto_outcome(int code)
{
	if (code >= 200 && code < 300)
		return SMTP_RCPT_SENT;
	if (code >= 500 && code < 600)
		return SMTP_RCPT_BOUNCE;
	return SMTP_RCPT_DEFER;
}

/* xvasprintf - format into a new string */
static char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *xvasprintf(const char *fmt, va_list ap)
{
	struct buf b;
	char *s;

	buf_init(&b, 128);
	buf_vprintf(&b, fmt, ap);
	s = buf_steal(&b);
	buf_deinit(&b);		/* buf_steal leaves a fresh empty buffer */
	return s;
}

/* reply_text - a reply on one line. Caller frees. */
static char *reply_text(const struct smtp_reply *r)
{
	struct buf b;
	char *s;

	buf_init(&b, r->text.len + 1);
	smtp_reply_oneline(r, &b);
	s = buf_steal(&b);
	buf_deinit(&b);
	return s;
}

/* as_soft - a status made temporary ("5.7.1" -> "4.7.1") for a deferral */
static const char *as_soft(const char *status, char buf[16])
{
	if (status[0] == '4')
		return status;
	snprintf(buf, 16, "4%s", status[0] && status[1] == '.' ? status + 1 : ".0.0");
	return buf;
}

/* ---- failures of the session set-up ---- */

/* fail_set - describe a set-up failure */
static void fail_set(struct smtp_failure *f, const char *status, bool hard, bool hop,
		     const struct smtp_reply *r, const char *mta, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static void fail_set(struct smtp_failure *f, const char *status, bool hard, bool hop,
		     const struct smtp_reply *r, const char *mta, const char *fmt, ...)
{
	va_list ap;

	smtp_failure_deinit(f);
	snprintf(f->status, sizeof(f->status), "%s", status);
	va_start(ap, fmt);
	f->reason = xvasprintf(fmt, ap);
	va_end(ap);
	f->diag = r ? reply_text(r) : NULL;
	f->mta = r && mta ? xstrdup(mta) : NULL;
	f->hard = hard;
	f->hop = hop;
}

/* smtp_failure_deinit - release texts */
void smtp_failure_deinit(struct smtp_failure *f)
{
	XFREE(f->reason);
	XFREE(f->diag);
	XFREE(f->mta);
	if (f->chat) {
		smtp_chat_deinit(f->chat);
		XFREE(f->chat);
	}
	XFREE(f->chat_peer);
	f->status[0] = 0;
	f->hard = f->hop = f->retry_plain = false;
}

/* io_text - the reason for a failed read or write in the current state */
static char *io_text(struct smtp_session *s, int io, const char *error)
{
	const char *doing = state_doing[s->state];

	switch (io) {
	case SMTP_IO_TIMEOUT:
		return xasprintf("conversation with %s timed out while %s", s->namaddr, doing);
	case SMTP_IO_EOF:
		return xasprintf("lost connection with %s while %s", s->namaddr, doing);
	case SMTP_IO_PROTO:
		return xasprintf("conversation with %s failed while %s: %s", s->namaddr, doing,
				 error);
	default:
		return xasprintf("conversation with %s failed while %s: %s", s->namaddr, doing,
				 error ? error : "I/O error");
	}
}

/* io_status - enhanced status for an I/O failure */
static const char *io_status(int io)
{
	return io == SMTP_IO_PROTO ? "4.5.0" : "4.4.2";
}

/* fail_io - a set-up failure because of I/O */
static void fail_io(struct smtp_session *s, struct smtp_failure *f, int io, const char *error)
{
	char *text = io_text(s, io, error);

	fail_set(f, io_status(io), false, true, NULL, NULL, "%s", text);
	free(text);
}

/* get_reply - the next reply, noted in the session transcript */
static int get_reply(struct smtp_session *s, double deadline, const struct smtp_reply **r,
		     const char **error_r)
{
	int io = smtp_stream_reply(s->stream, deadline, r, error_r);

	if (io == SMTP_IO_OK)
		smtp_chat_in(&s->chat, *r);
	else if (io == SMTP_IO_PROTO)
		smtp_chat_garbage(&s->chat, s->stream->in.data, s->stream->in.len, *error_r);
	return io;
}

/* chat_failure - a command failed with reply r: note a protocol trouble */
static void chat_failure(struct smtp_session *s, const struct smtp_reply *r)
{
	if (smtp_chat_code_trouble(r->code))
		s->chat.troubles |= NOTICE_PROTOCOL;
}

/* command - send one command and read its reply before the deadline */
static int command(struct smtp_session *s, double timeout, const struct smtp_reply **r,
		   const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int command(struct smtp_session *s, double timeout, const struct smtp_reply **r,
		   const char **error_r, const char *fmt, ...)
{
	double deadline = mono_time() + timeout;
	va_list ap;
	int io;

	size_t start = s->stream->out.len;

	va_start(ap, fmt);
	buf_vprintf(&s->stream->out, fmt, ap);
	va_end(ap);
	smtp_chat_out(&s->chat, s->stream->out.data + start, s->stream->out.len - start);
	if ((io = smtp_stream_flush(s->stream, deadline, error_r)) != SMTP_IO_OK)
		return io;
	return get_reply(s, deadline, r, error_r);
}

/* session_new - a session object for a connected descriptor */
static struct smtp_session *session_new(const struct smtp_session_conf *conf,
					const struct smtp_addr *a, const char *nexthop, int fd)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->conf = conf;
	s->stream = smtp_stream_create(fd);
	s->state = SMTP_STATE_NONE;
	s->host = xstrdup(a->host);
	snprintf(s->ip, sizeof(s->ip), "%s", a->ip);
	s->port = a->port;
	s->namaddr = xasprintf("%s[%s]", a->host, a->ip);
	/* A UNIX-domain socket (LMTP) has no port. */
	s->relay = a->sa.ss_family == AF_UNIX ? xasprintf("%s[%s]", a->host, a->ip)
					     : xasprintf("%s[%s]:%u", a->host, a->ip, a->port);
	s->nexthop = xstrdup(nexthop);
	smtp_chat_init(&s->chat);
	return s;
}

/* session_free - close without a word */
static void session_free(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;

	if (s == NULL)
		return;
	smtp_stream_free(&s->stream);
	free(s->host);
	free(s->namaddr);
	free(s->relay);
	free(s->nexthop);
	free(s->auth_mechs);
	free(s->auth_user);
	smtp_chat_deinit(&s->chat);
	free(s);
	*sp = NULL;
}

/* refused - the server refused the session set-up at command cmd (NULL:
 * the greeting): deferred as a hop failure, whatever the reply class */
static void refused(struct smtp_session *s, struct smtp_failure *f, const struct smtp_reply *r,
		    const char *cmd)
{
	char *text = reply_text(r), sbuf[16];

	chat_failure(s, r);
	if (cmd)
		fail_set(f, as_soft(r->status, sbuf), false, true, r, s->host,
			 "host %s refused to talk to me: %s (in reply to %s command)", s->namaddr,
			 text, cmd);
	else
		fail_set(f, as_soft(r->status, sbuf), false, true, r, s->host,
			 "host %s refused to talk to me: %s", s->namaddr, text);
	free(text);
}

/* ehlo_features - what an accepted EHLO offers */
static void ehlo_features(struct smtp_session *s, const struct smtp_reply *r)
{
	s->features = smtp_ehlo_features(r, &s->size_limit);
	s->xforward = smtp_ehlo_xforward(r);
	free(s->auth_mechs);
	s->auth_mechs = smtp_ehlo_auth(r);
}

/* ehlo - EHLO, or HELO when EHLO is refused; 0 or -1 with *fail */
static int ehlo(struct smtp_session *s, bool helo_only, struct smtp_failure *f)
{
	const struct smtp_reply *r;
	const char *error = NULL;
	int io;

	if (s->conf->lmtp) {
		/* LMTP knows LHLO only: no HELO to fall back to. */
		smtp_enter_state(s, SMTP_STATE_EHLO);
		io = command(s, s->conf->helo_timeout, &r, &error, "LHLO %s\r\n",
			     s->conf->helo_name);
		if (io != SMTP_IO_OK) {
			fail_io(s, f, io, error);
			return -1;
		}
		if (r->code / 100 != 2) {
			refused(s, f, r, "LHLO");
			return -1;
		}
		ehlo_features(s, r);
		return 0;
	}
	if (!helo_only) {
		smtp_enter_state(s, SMTP_STATE_EHLO);
		io = command(s, s->conf->helo_timeout, &r, &error, "EHLO %s\r\n",
			     s->conf->helo_name);
		if (io != SMTP_IO_OK) {
			fail_io(s, f, io, error);
			return -1;
		}
		if (r->code / 100 == 2) {
			ehlo_features(s, r);
			return 0;
		}
		/* 421 means "closing": no point in trying HELO. */
		if (r->code == 421) {
			refused(s, f, r, "EHLO");
			return -1;
		}
	}
	smtp_enter_state(s, SMTP_STATE_HELO);
	io = command(s, s->conf->helo_timeout, &r, &error, "HELO %s\r\n", s->conf->helo_name);
	if (io != SMTP_IO_OK) {
		fail_io(s, f, io, error);
		return -1;
	}
	if (r->code / 100 != 2) {
		/* The server will not talk to us: a hop failure, deferred. */
		refused(s, f, r, "HELO");
		return -1;
	}
	s->features = 0;
	s->xforward = 0;
	s->size_limit = 0;
	XFREE(s->auth_mechs);
	return 0;
}

/* tls_names - the names a certificate must match, per the security level.
 * Caller frees with argv_free(). */
static struct argv *tls_names(const struct smtp_session *s, const char *nexthop_host)
{
	/* DANE: the TLSA base domain (the MX host), then the next-hop domain. */
	if (s->conf->tls_level == SMTP_TLS_DANE) {
		struct argv *dane = argv_create();

		argv_add(dane, s->host, (char *)NULL);
		if (nexthop_host && strcasecmp(nexthop_host, s->host) != 0)
			argv_add(dane, nexthop_host, (char *)NULL);
		return dane;
	}

	const char *list = s->conf->tls_level == SMTP_TLS_SECURE ? s->conf->tls_secure_match
								 : s->conf->tls_verify_match;
	struct argv *words = argv_split(list && *list ? list : "hostname", ", \t");
	struct argv *names = argv_create();
	char *dotted;

	for (size_t i = 0; i < words->argc; i++) {
		const char *w = words->argv[i];

		if (strcasecmp(w, "hostname") == 0) {
			argv_add(names, s->host, (char *)NULL);
		} else if (strcasecmp(w, "nexthop") == 0) {
			argv_add(names, nexthop_host, (char *)NULL);
		} else if (strcasecmp(w, "dot-nexthop") == 0) {
			dotted = xasprintf(".%s", nexthop_host);
			argv_add(names, dotted, (char *)NULL);
			free(dotted);
		} else {
			argv_add(names, w, (char *)NULL);
		}
	}
	argv_free(&words);
	return names;
}

/* starttls - STARTTLS, handshake, EHLO again; 0, 1 (went on in plain text) or -1 */
static int starttls(struct smtp_session *s, const char *nexthop_host, struct smtp_failure *f)
{
	bool required = s->conf->tls_level >= SMTP_TLS_ENCRYPT;
	bool verify = s->conf->tls_level >= SMTP_TLS_VERIFY;
	const struct smtp_reply *r;
	const char *error = NULL, *trust = "";
	char why[512], info[256];
	struct argv *names;
	struct buf *key;
	size_t dropped;
	struct ssl_st *ssl;
	bool reused = false;
	int io;

	smtp_enter_state(s, SMTP_STATE_STARTTLS);
	io = command(s, s->conf->helo_timeout, &r, &error, "STARTTLS\r\n");
	if (io != SMTP_IO_OK) {
		fail_io(s, f, io, error);
		return -1;
	}
	if (r->code / 100 != 2) {
		char *text;

		if (r->code == 421) {
			refused(s, f, r, "STARTTLS");
			return -1;
		}
		if (!required)
			return 1;	/* opportunistic: go on without TLS */
		text = reply_text(r);
		fail_set(f, "4.7.5", false, true, r, s->host,
			 "TLS is required, but host %s refused to start TLS: %s", s->namaddr, text);
		free(text);
		return -1;
	}
	/* Nothing sent before the handshake may count as sent inside it. */
	if ((dropped = smtp_stream_discard_input(s->stream)) > 0) {
		struct buf esc;

		buf_init(&esc, 64);
		msg_warn("%s: discarding %zu bytes of plaintext sent after the STARTTLS reply",
			 log_escape(&esc, s->namaddr), dropped);
		buf_deinit(&esc);
	}

	smtp_enter_state(s, SMTP_STATE_TLS);
	names = tls_names(s, nexthop_host);
	/*
	 * Session resumption: the same next hop and server under the same
	 * policy (a resumed session keeps the first handshake's verdict).
	 */
	key = buf_create(128);
	buf_printf(key, "%s&%s&%s&%u&%d&%s&%s", s->nexthop ? s->nexthop : "", s->host, s->ip,
		   s->port, s->conf->tls_level,
		   s->conf->tls_protocols ? s->conf->tls_protocols : "",
		   s->conf->tls_ciphers ? s->conf->tls_ciphers : "");
	for (size_t i = 0; verify && i < names->argc; i++)
		buf_printf(key, "&%s", names->argv[i]);
	/* DANE: the records are the policy too. */
	for (size_t i = 0; s->conf->tls_level == SMTP_TLS_DANE && s->conf->tlsa
	     && i < s->conf->tlsa->count; i++) {
		const struct smtp_tlsa_rr *rr = &s->conf->tlsa->rr[i];

		buf_printf(key, "&%u %u %u ", rr->usage, rr->selector, rr->mtype);
		for (size_t j = 0; j < rr->len; j++)
			buf_printf(key, "%02x", rr->data[j]);
	}
	ssl = smtp_tls_connect(s->stream->fd, smtp_addr_is_literal(s->host) ? NULL : s->host,
			       verify, (const char *const *)names->argv, s->conf->tls_protocols,
			       s->conf->tls_ciphers, buf_str(key),
			       s->conf->tls_level == SMTP_TLS_DANE ? s->conf->tlsa : NULL,
			       mono_time() + s->conf->starttls_timeout, why, sizeof(why), info,
			       sizeof(info), &trust, &reused);
	buf_free(&key);
	argv_free(&names);
	if (ssl == NULL) {
		fail_set(f, "4.7.5", false, true, NULL, NULL, "Cannot start TLS with %s: %s",
			 s->namaddr, why);
		/* Opportunistic TLS: the caller connects again without it. */
		f->retry_plain = !required;
		return -1;
	}
	s->stream->ssl = ssl;
	s->tls = true;
	if (reused && s->conf->tls_loglevel >= 2) {
		/* Postfix's line, at its level (TLS session cache activity). */
		struct buf er;

		buf_init(&er, 64);
		msg_info("%s: Reusing old session", log_escape(&er, s->relay));
		buf_deinit(&er);
	}
	if (s->conf->tls_loglevel >= 1) {
		/* The peer's certificate names are the peer's to choose. */
		struct buf er, ei;

		buf_init(&er, 64);
		buf_init(&ei, 128);
		msg_info("%s TLS connection established to %s: %s", trust, log_escape(&er, s->relay),
			 log_escape(&ei, info));
		buf_deinit(&er);
		buf_deinit(&ei);
	}

	/* RFC 3207: forget what the server said before; ask again. */
	smtp_enter_state(s, SMTP_STATE_EHLO);
	io = command(s, s->conf->helo_timeout, &r, &error, "EHLO %s\r\n", s->conf->helo_name);
	if (io != SMTP_IO_OK) {
		fail_io(s, f, io, error);
		return -1;
	}
	if (r->code / 100 != 2) {
		refused(s, f, r, "EHLO");
		return -1;
	}
	ehlo_features(s, r);
	return 0;
}

/* secret_command - send a command that carries credentials: the transcript
 * gets shown instead; the copy is wiped */
static int secret_command(struct smtp_session *s, double deadline, struct buf *line,
			  const char *shown, const struct smtp_reply **r, const char **error_r)
{
	char note[128];
	int io;

	buf_append(&s->stream->out, line->data, line->len);
	snprintf(note, sizeof(note), "%s\r\n", shown);
	smtp_chat_out(&s->chat, note, strlen(note));
	memset(line->data, 0, line->len);
	buf_reset(line);
	io = smtp_stream_flush(s->stream, deadline, error_r);
	/* The output buffer held the secret too. */
	memset(s->stream->out.data, 0, s->stream->out.cap);
	if (io != SMTP_IO_OK)
		return io;
	return get_reply(s, deadline, r, error_r);
}

/* authenticate - SMTP AUTH with the login; 0 or -1 with *fail */
static int authenticate(struct smtp_session *s, const struct smtp_auth *auth,
			struct smtp_failure *f)
{
	const char *opts = s->tls ? s->conf->sasl_tls_secopts : s->conf->sasl_secopts;
	double deadline = mono_time() + s->conf->helo_timeout;
	struct smtp_sasl_client *c;
	const struct smtp_reply *r;
	const char *error = NULL, *mech;
	struct buf mechs, resp, line;
	char shown[96], sbuf[16];
	int io, rounds, ret = -1;

	buf_init(&mechs, 64);
	buf_init(&resp, 128);
	buf_init(&line, 128);
	smtp_sasl_filter(s->auth_mechs, s->conf->sasl_filter ? s->conf->sasl_filter : "", &mechs);
	if (mechs.len == 0) {
		fail_set(f, "4.7.0", false, false, NULL, NULL,
			 "SASL authentication failed: server %s offered no supported "
			 "authentication mechanisms", s->namaddr);
		goto out;
	}
	c = smtp_sasl_client_new(s->host, auth, opts ? opts : "", s->tls ? 1 : 0, &error);
	if (c == NULL || smtp_sasl_client_start(c, mechs.data, &mech, &resp, &error) < 0) {
		fail_set(f, "4.7.0", false, false, NULL, NULL,
			 "SASL authentication failed; cannot authenticate to server %s: %s",
			 s->namaddr, error ? error : "unknown error");
		smtp_sasl_client_free(&c);
		goto out;
	}
	smtp_enter_state(s, SMTP_STATE_AUTH);
	buf_printf(&line, "AUTH %s%s%s\r\n", mech, resp.len ? " " : "", resp.data);
	snprintf(shown, sizeof(shown), "AUTH %s%s", mech, resp.len ? " (hidden)" : "");
	io = secret_command(s, deadline, &line, shown, &r, &error);
	/* Each 334 is a challenge; a handful is plenty for any mechanism. */
	for (rounds = 0; io == SMTP_IO_OK && r->code == 334 && rounds < 8; rounds++) {
		const char *challenge = r->text.len > 4 ? r->text.data + 4 : "";

		memset(resp.data, 0, resp.len);
		if (smtp_sasl_client_step(c, challenge, &resp, &error) < 0) {
			/* RFC 4954 4: "*" cancels the exchange. */
			buf_puts(&line, "*\r\n");
			io = secret_command(s, deadline, &line, "*", &r, &error);
			fail_set(f, "4.7.0", false, false, NULL, NULL,
				 "SASL authentication failed; cannot authenticate to server %s: %s",
				 s->namaddr, error);
			if (io != SMTP_IO_OK)
				smtp_enter_state(s, SMTP_STATE_BROKEN);
			smtp_sasl_client_free(&c);
			goto out;
		}
		buf_printf(&line, "%s\r\n", resp.data);
		io = secret_command(s, deadline, &line, "(hidden)", &r, &error);
	}
	memset(resp.data, 0, resp.len);
	smtp_sasl_client_free(&c);
	if (io != SMTP_IO_OK) {
		fail_io(s, f, io, error);
		goto out;
	}
	if (r->code / 100 != 2) {
		char *text = reply_text(r);

		chat_failure(s, r);
		/* Refused logins are retried later, and elsewhere: never bounced. */
		fail_set(f, as_soft(r->status, sbuf), false, false, r, s->host,
			 "SASL authentication failed; server %s said: %s", s->namaddr, text);
		free(text);
		goto out;
	}
	s->auth_user = xstrdup(auth->user);
	ret = 0;
out:
	buf_deinit(&mechs);
	buf_deinit(&resp);
	buf_deinit(&line);
	return ret;
}

/* smtp_session_open - connect and handshake */
int smtp_session_open(const struct smtp_session_conf *conf, const struct smtp_addr *a,
		      const char *nexthop, const char *nexthop_host, bool no_tls,
		      const struct smtp_auth *auth, struct smtp_session **sess_r,
		      struct smtp_failure *f)
{
	const struct smtp_reply *r;
	const char *error = NULL;
	struct smtp_session *s;
	char why[256];
	bool helo_only = false;
	int fd, io, tls = no_tls ? SMTP_TLS_NONE : conf->tls_level;

	*sess_r = NULL;
	memset(f, 0, sizeof(*f));
	fd = smtp_conn_open(a, a->sa.ss_family == AF_INET6 ? conf->bind_address6
			    : a->sa.ss_family == AF_INET ? conf->bind_address : NULL,
			    conf->connect_timeout, why, sizeof(why));
	if (fd < 0) {
		if (a->sa.ss_family == AF_UNIX)
			fail_set(f, "4.4.1", false, true, NULL, NULL, "connect to %s[%s]: %s",
				 a->host, a->ip, why);
		else
			fail_set(f, "4.4.1", false, true, NULL, NULL, "connect to %s[%s]:%u: %s",
				 a->host, a->ip, a->port, why);
		return -1;
	}
	s = session_new(conf, a, nexthop, fd);

	/* The greeting. */
	smtp_enter_state(s, SMTP_STATE_GREETING);
	io = get_reply(s, mono_time() + conf->helo_timeout, &r, &error);
	if (io != SMTP_IO_OK) {
		fail_io(s, f, io, error);
		goto fail;
	}
	if (r->code / 100 != 2) {
		refused(s, f, r, NULL);
		/* smtp_skip_5xx_greeting = no: a 5xx greeting is final. */
		if (r->code / 100 == 5 && !conf->skip_5xx_greeting) {
			snprintf(f->status, sizeof(f->status), "%s", r->status);
			f->hard = true;
			f->hop = false;
		}
		goto fail;
	}
	/* smtp_always_send_ehlo = no: EHLO only for a server that says ESMTP. */
	if (!conf->lmtp && !conf->always_send_ehlo && strstr(r->text.data, "ESMTP") == NULL)
		helo_only = true;

	if (ehlo(s, helo_only, f) < 0)
		goto fail;

	/* STARTTLS per the security level. */
	if (tls != SMTP_TLS_NONE) {
		if (!(s->features & SMTP_FEAT_STARTTLS)) {
			if (tls >= SMTP_TLS_ENCRYPT) {
				fail_set(f, "4.7.5", false, true, NULL, NULL,
					 "TLS is required, but was not offered by host %s",
					 s->namaddr);
				goto fail;
			}
		} else if (starttls(s, nexthop_host, f) < 0) {
			goto fail;
		}
	}
	if (auth && s->auth_mechs && authenticate(s, auth, f) < 0)
		goto fail;
	smtp_enter_state(s, SMTP_STATE_READY);
	s->idle_since = mono_time();
	*sess_r = s;
	return 0;

fail:
	smtp_enter_state(s, SMTP_STATE_BROKEN);
	/* The transcript goes with the failure when the postmaster may want it. */
	if (s->chat.troubles) {
		f->chat = xmalloc(sizeof(*f->chat));
		*f->chat = s->chat;
		smtp_chat_init(&s->chat);
		f->chat_peer = xstrdup(s->namaddr);
	}
	session_free(&s);
	return -1;
}

/* smtp_session_rset - reset before a new transaction */
int smtp_session_rset(struct smtp_session *s)
{
	const struct smtp_reply *r;
	const char *error = NULL;
	int io;

	if (s->state != SMTP_STATE_READY)
		return -1;
	/* RFC 2920 3.1: RSET may be pipelined; it saves a round trip per reuse. */
	if (s->features & SMTP_FEAT_PIPELINING) {
		s->rset_pending = true;
		return 0;
	}
	smtp_enter_state(s, SMTP_STATE_RSET);
	io = command(s, s->conf->rset_timeout, &r, &error, "RSET\r\n");
	if (io != SMTP_IO_OK || r->code / 100 != 2) {
		if (msg_verbose) {
			struct buf n, t;

			buf_init(&n, 64);
			buf_init(&t, 128);
			msg_info("%s: RSET failed: %s", log_escape(&n, s->namaddr),
				 log_escape(&t, io == SMTP_IO_OK ? r->text.data : "no reply"));
			buf_deinit(&n);
			buf_deinit(&t);
		}
		smtp_enter_state(s, SMTP_STATE_BROKEN);
		return -1;
	}
	smtp_enter_state(s, SMTP_STATE_READY);
	return 0;
}

/* smtp_session_close - polite goodbye when in sync */
void smtp_session_close(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;
	const struct smtp_reply *r;
	const char *error;
	double deadline;

	if (s == NULL)
		return;
	if (s->state == SMTP_STATE_READY) {
		smtp_enter_state(s, SMTP_STATE_QUIT);
		deadline = mono_time() + s->conf->quit_timeout;
		buf_puts(&s->stream->out, "QUIT\r\n");
		smtp_chat_out(&s->chat, "QUIT\r\n", 6);
		if (smtp_stream_flush(s->stream, deadline, &error) == SMTP_IO_OK
		    && !s->conf->skip_quit_response)
			(void)get_reply(s, deadline, &r, &error);
	}
	session_free(sp);
}

/* ---- transactions ---- */

/* result_set - give recipient i an outcome (first outcome wins) */
static void result_set(struct smtp_rcpt_result *res, int outcome, const char *status,
		       const char *diag, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void result_set(struct smtp_rcpt_result *res, int outcome, const char *status,
		       const char *diag, const char *fmt, ...)
{
	va_list ap;

	if (res->outcome != SMTP_RCPT_TODO)
		return;
	res->outcome = outcome;
	snprintf(res->status, sizeof(res->status), "%s", status);
	va_start(ap, fmt);
	res->reason = xvasprintf(fmt, ap);
	va_end(ap);
	res->diag = diag ? xstrdup(diag) : NULL;
}

/* reply_status - the reply's status, made to agree with the outcome */
static const char *reply_status(const struct smtp_reply *r, int outcome, char buf[16])
{
	char want = outcome == SMTP_RCPT_SENT ? '2' : outcome == SMTP_RCPT_BOUNCE ? '5' : '4';

	if (r->status[0] == want)
		return r->status;
	snprintf(buf, 16, "%c.0.0", want);
	return buf;
}

/* result_reply - outcome from a server reply to a command */
static void result_reply(struct smtp_session *s, struct smtp_rcpt_result *res,
			 const struct smtp_reply *r, const char *cmd)
{
	int outcome = smtp_proto_outcome(r->code);
	char *text = reply_text(r), sbuf[16];

	if (outcome == SMTP_RCPT_SENT)
		result_set(res, outcome, reply_status(r, outcome, sbuf), text, "%s", text);
	else {
		chat_failure(s, r);
		result_set(res, outcome, reply_status(r, outcome, sbuf), text,
			   "host %s said: %s (in reply to %s command)", s->namaddr, text, cmd);
	}
	free(text);
}

/* fail_pending - every undecided recipient gets the same temporary failure */
static void fail_pending(const struct smtp_txn *t, struct smtp_rcpt_result *res,
			 const char *status, const char *text)
{
	for (size_t i = 0; i < t->rcpt_count; i++)
		result_set(&res[i], SMTP_RCPT_DEFER, status, NULL, "%s", text);
}

/* Per-transaction bookkeeping. */
struct txn_state {
	struct smtp_session *s;
	const struct smtp_txn *t;
	struct smtp_rcpt_result *res;
	bool *accepted;
	size_t naccepted;
	bool mail_ok;
	bool closing;		/* the server said 421 */
	struct smtp_body body;
	struct smtp_mime *mime;	/* 8-bit downgrade, or NULL */
	struct buf mime_out;	/* its output, before the wire encoding */
	int io;			/* last I/O failure */
	const char *io_error;
	struct smtp_xforward_cmds xf;	/* XFORWARD lines ahead of MAIL (maybe none) */
};

/* broken - the session failed mid-transaction: defer what is undecided */
static int broken(struct txn_state *x)
{
	char *text = io_text(x->s, x->io, x->io_error);

	/* Accepted recipients are undecided too: their data never completed. */
	fail_pending(x->t, x->res, io_status(x->io), text);
	free(text);
	smtp_enter_state(x->s, SMTP_STATE_BROKEN);
	return SMTP_TXN_BROKEN;
}

/* body_sink - encode one content chunk, flushing full chunks */
static int body_sink(const char *data, size_t len, void *ctx)
{
	struct txn_state *x = ctx;
	struct smtp_stream *st = x->s->stream;

	if (x->mime) {
		buf_reset(&x->mime_out);
		smtp_mime_put(x->mime, data, len, &x->mime_out);
		data = x->mime_out.data;
		len = x->mime_out.len;
	}
	smtp_body_put(&x->body, data, len, &st->out);
	if (st->out.len >= BODY_CHUNK) {
		x->io = smtp_stream_flush(st, mono_time() + x->s->conf->data_xfer_timeout,
					  &x->io_error);
		if (x->io != SMTP_IO_OK)
			return -1;
	}
	return 0;
}

/* send_body - content and ".", then the final reply */
static int send_body(struct txn_state *x)
{
	struct smtp_session *s = x->s;
	const struct smtp_reply *r;
	const char *error = NULL;
	char *text;
	int rc;

	smtp_enter_state(s, SMTP_STATE_BODY);
	smtp_body_init(&x->body, s->conf->line_length_limit);
	if (x->t->downgrade) {
		x->mime = smtp_mime_create(x->t->mime_nesting_limit);
		buf_init(&x->mime_out, BODY_CHUNK);
	}
	x->io = SMTP_IO_OK;
	rc = x->t->content(body_sink, x, x->t->content_ctx, &error);
	if (rc == 0 && x->mime) {
		buf_reset(&x->mime_out);
		smtp_mime_end(x->mime, &x->mime_out);
		smtp_body_put(&x->body, x->mime_out.data, x->mime_out.len, &s->stream->out);
	}
	if (x->mime) {
		smtp_mime_free(&x->mime);
		buf_deinit(&x->mime_out);
	}
	if (rc < 0) {
		if (x->io != SMTP_IO_OK)
			return broken(x);
		/* The queue file failed us: never end the data with ".". */
		text = xasprintf("local data error while talking to %s: %s", s->namaddr,
				 error ? error : "cannot read message content");
		fail_pending(x->t, x->res, "4.3.0", text);
		free(text);
		s->chat.troubles |= NOTICE_DATA;
		smtp_enter_state(s, SMTP_STATE_BROKEN);
		return SMTP_TXN_LOCAL;
	}
	smtp_body_end(&x->body, &s->stream->out);
	x->io = smtp_stream_flush(s->stream, mono_time() + s->conf->data_xfer_timeout,
				  &x->io_error);
	if (x->io != SMTP_IO_OK)
		return broken(x);

	smtp_enter_state(s, SMTP_STATE_DOT);
	if (s->conf->lmtp) {
		/*
		 * RFC 2033 4.2: one reply per accepted recipient, in RCPT order.
		 * Each recipient gets its own; a connection lost half-way defers
		 * those still waiting (broken() leaves decided ones alone).
		 */
		double deadline = mono_time() + s->conf->data_done_timeout;
		bool closing = false;

		for (size_t i = 0; i < x->t->rcpt_count; i++) {
			if (!x->accepted[i])
				continue;
			x->io = get_reply(s, deadline, &r, &x->io_error);
			if (x->io != SMTP_IO_OK)
				return broken(x);
			result_reply(s, &x->res[i], r, "end of DATA");
			if (r->code == 421)
				closing = true;
		}
		if (closing) {
			fail_pending(x->t, x->res, "4.4.2", "server closed the session (421)");
			smtp_enter_state(s, SMTP_STATE_BROKEN);
			return SMTP_TXN_BROKEN;
		}
		smtp_enter_state(s, SMTP_STATE_READY);
		return SMTP_TXN_OK;
	}
	x->io = get_reply(s, mono_time() + s->conf->data_done_timeout, &r, &x->io_error);
	if (x->io != SMTP_IO_OK)
		return broken(x);
	for (size_t i = 0; i < x->t->rcpt_count; i++)
		if (x->accepted[i])
			result_reply(s, &x->res[i], r, "end of DATA");
	if (r->code == 421) {
		smtp_enter_state(s, SMTP_STATE_BROKEN);
		return SMTP_TXN_BROKEN;
	}
	smtp_enter_state(s, SMTP_STATE_READY);
	return SMTP_TXN_OK;
}

/* put_command - append command k: the XFORWARD lines 0..nx-1, then MAIL
 * (nx), RCPT (nx+1..nx+n), DATA (nx+n+1) */
static void put_command(struct txn_state *x, size_t k)
{
	const struct smtp_txn *t = x->t;
	struct buf *out = &x->s->stream->out;
	size_t start = out->len;

	if (k < x->xf.count) {
		buf_puts(out, x->xf.line[k]);
		smtp_chat_out(&x->s->chat, out->data + start, out->len - start);
		return;
	}
	k -= x->xf.count;
	if (k == 0) {
		struct smtp_mail_args m = {.sender = t->sender, .size = t->size,
					   .eightbit = t->eightbit, .ret = t->ret,
					   .envid = t->envid, .smtputf8 = t->smtputf8};

		smtp_mail_command(out, &m, x->s->features);
	} else if (k <= t->rcpt_count) {
		smtp_rcpt_command(out, &t->rcpt[k - 1], x->s->features);
	} else {
		buf_puts(out, "DATA\r\n");
	}
	smtp_chat_out(&x->s->chat, out->data + start, out->len - start);
}

/* command_state - the state whose reply command k awaits, and its time limit */
static enum smtp_state command_state(const struct txn_state *x, size_t k, double *timeout_r)
{
	const struct smtp_session_conf *c = x->s->conf;

	if (k < x->xf.count) {
		*timeout_r = c->xforward_timeout;
		return SMTP_STATE_XFORWARD;
	}
	k -= x->xf.count;
	if (k == 0) {
		*timeout_r = c->mail_timeout;
		return SMTP_STATE_MAIL;
	}
	if (k <= x->t->rcpt_count) {
		*timeout_r = c->rcpt_timeout;
		return SMTP_STATE_RCPT;
	}
	*timeout_r = c->data_init_timeout;
	return SMTP_STATE_DATA;
}

/*
 * xforward_refused - a reply other than 2xx to XFORWARD line k.  As Postfix:
 * a warning, and the mail goes on without the attributes (they are for the
 * server's logs; holding up the mail for them would help nobody).  A 421
 * means the server is leaving: every recipient gets that reply, as at MAIL.
 */
static void xforward_refused(struct txn_state *x, size_t k, const struct smtp_reply *r)
{
	if (r->code == 421) {
		for (size_t i = 0; i < x->t->rcpt_count; i++)
			result_reply(x->s, &x->res[i], r, x->xf.what[k]);
		return;
	}

	char *text = reply_text(r);
	struct buf n, e;

	buf_init(&n, 64);
	buf_init(&e, 128);
	msg_warn("host %s said: %s (in reply to %s command)", log_escape(&n, x->s->relay),
		 log_escape(&e, text), x->xf.what[k]);
	buf_deinit(&n);
	buf_deinit(&e);
	free(text);
}

/* handle_reply - what the reply to command k means */
static void handle_reply(struct txn_state *x, size_t k, const struct smtp_reply *r)
{
	const struct smtp_txn *t = x->t;
	bool was_closing = x->closing;

	if (r->code == 421)
		x->closing = true;
	if (k < x->xf.count) {
		if (r->code / 100 != 2 && !was_closing)
			xforward_refused(x, k, r);
		return;
	}
	/* After a 421 nothing counts, whatever a server that stays says. */
	if (was_closing)
		return;
	k -= x->xf.count;
	if (k == 0) {
		x->mail_ok = r->code / 100 == 2;
		if (!x->mail_ok)
			for (size_t i = 0; i < t->rcpt_count; i++)
				result_reply(x->s, &x->res[i], r, "MAIL FROM");
	} else if (k <= t->rcpt_count) {
		if (!x->mail_ok)
			return;
		if (r->code / 100 == 2) {
			x->accepted[k - 1] = true;
			x->naccepted++;
			if (t->verify_only)
				result_reply(x->s, &x->res[k - 1], r, "RCPT TO");
		} else {
			result_reply(x->s, &x->res[k - 1], r, "RCPT TO");
		}
	}
	/* DATA replies are handled by the caller. */
}

/* rset_failed - the RSET ahead of a reused session's transaction failed */
static int rset_failed(struct smtp_session *s, const char *why)
{
	if (msg_verbose) {
		struct buf n, t;

		buf_init(&n, 64);
		buf_init(&t, 128);
		msg_info("%s: RSET failed: %s", log_escape(&n, s->namaddr), log_escape(&t, why));
		buf_deinit(&n);
		buf_deinit(&t);
	}
	smtp_enter_state(s, SMTP_STATE_BROKEN);
	return SMTP_TXN_STALE;
}

/* smtp_session_deliver - one transaction */
int smtp_session_deliver(struct smtp_session *s, const struct smtp_txn *t,
			 struct smtp_rcpt_result *res)
{
	struct txn_state x;
	const struct smtp_reply *r;
	size_t ncmd, nx, sent = 0, got = 0;
	bool pipelining = (s->features & SMTP_FEAT_PIPELINING) != 0, rset;
	double timeout;
	int ret;

	if (s->state != SMTP_STATE_READY)
		msg_panic("smtp_session_deliver: session %s in state %s", s->namaddr,
			  state_names[s->state]);
	s->uses++;

	/* A message the server has said it will not take is not offered. */
	if ((s->features & SMTP_FEAT_SIZE) && s->size_limit > 0 && t->size > s->size_limit) {
		for (size_t i = 0; i < t->rcpt_count; i++)
			result_set(&res[i], SMTP_RCPT_BOUNCE, "5.3.4", NULL,
				   "message size %ld exceeds size limit %ld of server %s",
				   t->size, s->size_limit, s->namaddr);
		return SMTP_TXN_OK;
	}

	memset(&x, 0, sizeof(x));
	x.s = s;
	x.t = t;
	x.res = res;
	x.accepted = xcalloc(t->rcpt_count ? t->rcpt_count : 1, sizeof(bool));
	/* XFORWARD first, in the same group as MAIL under PIPELINING (Postfix). */
	if (t->xforward && s->xforward)
		smtp_xforward_cmds_build(t->xforward, s->xforward, &x.xf);
	nx = x.xf.count;
	ncmd = nx + 1 + t->rcpt_count + (t->verify_only ? 0 : 1);
	/* A reused session's RSET goes out with the first group of commands. */
	rset = s->rset_pending;
	if (rset) {
		s->rset_pending = false;
		buf_puts(&s->stream->out, "RSET\r\n");
		smtp_chat_out(&s->chat, "RSET\r\n", 6);
	}

	while (got < ncmd) {
		/* Send: one command, or under PIPELINING a group of them. */
		if (sent == got) {
			/* Nothing outstanding: stop early when the rest is pointless. */
			if ((sent > nx && !x.mail_ok) || x.closing)
				break;	/* MAIL refused, or the server is leaving */
			if (sent == ncmd - 1 && !t->verify_only && x.naccepted == 0)
				break;	/* nobody accepted: no DATA */
			do {
				put_command(&x, sent++);
			} while (pipelining && sent < ncmd
				 && s->stream->out.len < PIPELINE_BYTES);
			smtp_enter_state(s, command_state(&x, got, &timeout));
			x.io = smtp_stream_flush(s->stream, mono_time() + timeout, &x.io_error);
			if (x.io != SMTP_IO_OK) {
				ret = rset ? rset_failed(s, "no reply") : broken(&x);
				goto done;
			}
		}
		/*
		 * The RSET's reply comes first.  Unless it is 2xx nothing else
		 * counts: the replies after it are not read, no "." is sent (a
		 * 354 to the pipelined DATA ends with the closed connection, so
		 * nothing is delivered), and the caller connects afresh.
		 */
		if (rset) {
			rset = false;
			smtp_enter_state(s, SMTP_STATE_RSET);
			x.io = get_reply(s, mono_time() + s->conf->rset_timeout, &r, &x.io_error);
			if (x.io != SMTP_IO_OK || r->code / 100 != 2) {
				ret = rset_failed(s, x.io == SMTP_IO_OK ? r->text.data : "no reply");
				goto done;
			}
		}
		/* Receive the reply to command number got. */
		smtp_enter_state(s, command_state(&x, got, &timeout));
		x.io = get_reply(s, mono_time() + timeout, &r, &x.io_error);
		if (x.io != SMTP_IO_OK) {
			ret = broken(&x);
			goto done;
		}
		if (got == nx + 1 + t->rcpt_count) {
			/* The DATA reply.  After a 421 a 354 gets no "." (the content
			 * would go to a server that said it was leaving): the
			 * connection is dropped below, which ends the transaction. */
			if (x.closing) {
				got++;
				break;
			}
			if (!x.mail_ok || x.naccepted == 0) {
				/* Pipelined DATA nobody needs; end an unwanted 354 at once. */
				if (r->code == 354) {
					buf_puts(&s->stream->out, ".\r\n");
					smtp_chat_out(&s->chat, ".\r\n", 3);
					smtp_enter_state(s, SMTP_STATE_DOT);
					x.io = smtp_stream_flush(s->stream,
								 mono_time() + s->conf->data_done_timeout,
								 &x.io_error);
					if (x.io == SMTP_IO_OK)
						x.io = get_reply(s, mono_time() + s->conf->data_done_timeout,
								 &r, &x.io_error);
					if (x.io != SMTP_IO_OK) {
						ret = broken(&x);
						goto done;
					}
				}
			} else if (r->code == 354) {
				ret = send_body(&x);
				goto done;
			} else if (r->code / 100 == 2 || r->code / 100 == 3) {
				/*
				 * Success without the content is no success: a protocol
				 * error (Postfix says so too), deferred here like every
				 * reply that is neither 2xx nor 5xx.
				 */
				char *text = reply_text(r);

				s->chat.troubles |= NOTICE_PROTOCOL;
				for (size_t i = 0; i < t->rcpt_count; i++)
					if (x.accepted[i])
						result_set(&res[i], SMTP_RCPT_DEFER, "4.5.0", text,
							   "Protocol error: host %s said: %s (in reply "
							   "to DATA command)", s->namaddr, text);
				free(text);
			} else {
				for (size_t i = 0; i < t->rcpt_count; i++)
					if (x.accepted[i])
						result_reply(s, &res[i], r, "DATA");
			}
			if (r->code == 421)
				x.closing = true;
			got++;
			break;
		}
		handle_reply(&x, got, r);
		got++;
	}

	/* The transaction ended without content (refused, or a probe). */
	if (x.closing) {
		/* Whatever is still undecided gets the server's goodbye. */
		fail_pending(t, res, "4.4.2", "server closed the session (421)");
		smtp_enter_state(s, SMTP_STATE_BROKEN);
		ret = SMTP_TXN_BROKEN;
		goto done;
	}
	/* Accepted recipients of a refused DATA already have its reply. */
	fail_pending(t, res, "4.3.0", "transaction ended without an outcome");
	smtp_enter_state(s, SMTP_STATE_READY);
	ret = SMTP_TXN_OK;

done:
	smtp_xforward_cmds_deinit(&x.xf);
	free(x.accepted);
	s->idle_since = mono_time();
	return ret;
}

/* smtp_results_deinit - free result texts */
void smtp_results_deinit(struct smtp_rcpt_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		XFREE(res[i].reason);
		XFREE(res[i].diag);
		res[i].outcome = SMTP_RCPT_TODO;
	}
}
