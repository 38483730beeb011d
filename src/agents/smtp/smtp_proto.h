/*
 * smtp_proto - the SMTP client protocol as an explicit state machine
 * (docs/STYLE.md; OpenSMTPD mta_session.c): session set-up (greeting,
 * EHLO/HELO, STARTTLS, EHLO again), transactions (XFORWARD when asked
 * and announced, MAIL, RCPT..., DATA, content, "."), RSET between reused
 * transactions, QUIT.
 *
 * It decides what every reply means (smtp_proto_outcome()): 2xx accepted,
 * 5xx permanent, anything else temporary; a 421 also ends the session.  It
 * does not record outcomes itself: a transaction fills one struct
 * smtp_rcpt_result per recipient and the caller (smtp.c) records them,
 * which keeps this module free of queue files and status logs.
 *
 * Time limits: each phase's limit is a deadline for sending the command
 * and receiving its whole reply (smtp_helo_timeout for the greeting and
 * EHLO/HELO, smtp_starttls_timeout for the handshake, smtp_mail_timeout,
 * smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_done_timeout,
 * smtp_rset_timeout, smtp_quit_timeout, smtp_xforward_timeout); for the content,
 * smtp_data_xfer_timeout bounds each 64 KiB chunk (no progress for that
 * long ends the transfer, as in Postfix).
 */
#ifndef SLUICE_SMTP_PROTO_H
#define SLUICE_SMTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "agents/smtp/smtp_chat.h"
#include "agents/smtp/smtp_mx.h"

struct deliver_rcpt;
struct smtp_auth;
struct smtp_reply;
struct smtp_stream;
struct smtp_xforward_attrs;

enum smtp_state {
	SMTP_STATE_NONE,	/* not connected */
	SMTP_STATE_GREETING,	/* connected, waiting for the greeting */
	SMTP_STATE_EHLO,
	SMTP_STATE_HELO,
	SMTP_STATE_STARTTLS,
	SMTP_STATE_TLS,		/* TLS handshake */
	SMTP_STATE_AUTH,	/* SMTP AUTH exchange */
	SMTP_STATE_READY,	/* between transactions */
	SMTP_STATE_RSET,
	SMTP_STATE_XFORWARD,	/* XFORWARD ahead of MAIL (smtp_xforward.h) */
	SMTP_STATE_MAIL,
	SMTP_STATE_RCPT,
	SMTP_STATE_DATA,
	SMTP_STATE_BODY,
	SMTP_STATE_DOT,
	SMTP_STATE_QUIT,
	SMTP_STATE_BROKEN,	/* out of sync or closed: only good for closing */
};

struct smtp_tlsa;

/* Everything a session needs from the configuration. */
struct smtp_session_conf {
	const char *helo_name;
	const char *bind_address;	/* for IPv4 connections */
	const char *bind_address6;	/* for IPv6 connections */
	double connect_timeout, helo_timeout, starttls_timeout;
	double mail_timeout, rcpt_timeout, data_init_timeout, data_xfer_timeout;
	double data_done_timeout, rset_timeout, quit_timeout, xforward_timeout;
	int tls_level;			/* SMTP_TLS_* */
	const char *tls_verify_match;	/* smtp_tls_verify_cert_match */
	const char *tls_secure_match;	/* smtp_tls_secure_cert_match */
	const char *tls_protocols;	/* per session (policy), NULL: the context's */
	const char *tls_ciphers;	/* per session (policy), NULL: OpenSSL's */
	long tls_loglevel;
	const struct smtp_tlsa *tlsa;	/* tls_level SMTP_TLS_DANE: the server's TLSA records */
	bool skip_5xx_greeting;
	bool always_send_ehlo;
	bool skip_quit_response;
	long line_length_limit;
	bool lmtp;			/* LMTP (RFC 2033): LHLO, one reply per recipient after "." */
	/* SMTP AUTH (smtp_sasl.h): used when a login is given to smtp_session_open(). */
	const char *sasl_secopts;	/* smtp_sasl_security_options */
	const char *sasl_tls_secopts;	/* smtp_sasl_tls_security_options */
	const char *sasl_filter;	/* smtp_sasl_mechanism_filter */
};

struct smtp_session {
	const struct smtp_session_conf *conf;
	struct smtp_stream *stream;
	enum smtp_state state;
	char *host;		/* server name: the MX host or next-hop host */
	char ip[108];		/* address, or UNIX socket path */
	unsigned port;
	char *namaddr;		/* "host[ip]" for messages */
	char *relay;		/* "host[ip]:port" for relay= */
	char *nexthop;		/* the request next hop this session serves */
	int features;		/* SMTP_FEAT_* of the last EHLO */
	int xforward;		/* SMTP_XFWD_* the last EHLO/LHLO announced */
	long size_limit;	/* SIZE from EHLO, 0 none */
	bool tls;		/* the session runs over TLS */
	char *auth_mechs;	/* SASL mechanisms of the last EHLO, or NULL */
	char *auth_user;	/* who logged in, or NULL */
	long uses;		/* transactions started */
	bool rset_pending;	/* RSET goes out ahead of the next MAIL (pipelined) */
	double idle_since;	/* mono_time() when it last went idle */
	struct smtp_chat chat;	/* transcript and troubles since the last notice */
};

/* Why a session could not be set up. */
struct smtp_failure {
	char status[16];
	char *reason;		/* human text */
	char *diag;		/* the server's reply, or NULL */
	char *mta;		/* the server's name when it spoke, or NULL */
	bool hard;		/* permanent: bounce rather than defer */
	bool hop;		/* the next hop failed (queue manager feedback) */
	bool retry_plain;	/* opportunistic TLS failed: connect again without */
	/* The session's transcript when it met a notify_classes trouble (see
	 * smtp_chat.h), and the server's "host[addr]"; else NULL. */
	struct smtp_chat *chat;
	char *chat_peer;
};

/* Recipient outcomes. */
#define SMTP_RCPT_TODO		0
#define SMTP_RCPT_SENT		1
#define SMTP_RCPT_BOUNCE	2
#define SMTP_RCPT_DEFER		3

struct smtp_rcpt_result {
	int outcome;		/* SMTP_RCPT_* */
	char status[16];
	char *reason;		/* log/status text */
	char *diag;		/* the server's reply, or NULL */
};

/* The content source: call sink for successive chunks (LF line ends). */
typedef int smtp_sink_fn(const char *data, size_t len, void *sink_ctx);
typedef int smtp_content_fn(smtp_sink_fn *sink, void *sink_ctx, void *ctx, const char **error_r);

struct smtp_txn {
	const char *sender;
	const char *envid;
	int ret;			/* DSN_RET_* */
	long size;			/* content bytes */
	bool eightbit;			/* content has 8-bit bytes (or was declared 8BITMIME) */
	bool smtputf8;			/* send SMTPUTF8 with MAIL FROM (the server offers it) */
	bool downgrade;			/* convert 8-bit parts to quoted-printable (smtp_mime.h) */
	long mime_nesting_limit;	/* for the conversion */
	bool verify_only;		/* address probe: MAIL and RCPT, no DATA */
	size_t rcpt_count;
	const struct deliver_rcpt *rcpt;
	smtp_content_fn *content;
	void *content_ctx;
	/* XFORWARD ahead of MAIL when the server announces it, or NULL. */
	const struct smtp_xforward_attrs *xforward;
};

/* Transaction results beyond the recipients. */
#define SMTP_TXN_OK		0	/* the session is in sync: reusable */
#define SMTP_TXN_BROKEN		(-1)	/* the session must be closed */
#define SMTP_TXN_LOCAL		(-2)	/* as BROKEN, because the content could not be read */
#define SMTP_TXN_STALE		(-3)	/* the pipelined RSET failed: nothing decided, the
					 * session must be closed and the mail sent over a new one */

/* smtp_state_name - "MAIL", "RCPT" ... for logs. */
const char *smtp_state_name(enum smtp_state state);

/*
 * smtp_proto_outcome - what a reply code means for a command:
 * SMTP_RCPT_SENT (2xx), SMTP_RCPT_BOUNCE (5xx) or SMTP_RCPT_DEFER.
 */
int smtp_proto_outcome(int code);

/*
 * smtp_session_open - connect to a and set up the session (greeting, EHLO
 * or HELO, STARTTLS per the security level unless no_tls, EHLO again,
 * AUTH with the login auth when it is not NULL and the server offers AUTH;
 * a server that does not offer AUTH gets the mail without a login, as
 * Postfix does).
 * nexthop is the request's next hop (kept for the session cache),
 * nexthop_host its host part (for smtp_tls_secure_cert_match).  Returns 0
 * with *sess_r ready for a transaction, or -1 with *fail filled in (free
 * with smtp_failure_deinit()).
 */
int smtp_session_open(const struct smtp_session_conf *conf, const struct smtp_addr *a,
		      const char *nexthop, const char *nexthop_host, bool no_tls,
		      const struct smtp_auth *auth, struct smtp_session **sess_r, struct smtp_failure *fail);

/*
 * smtp_session_deliver - one mail transaction.  res has txn->rcpt_count
 * entries, all SMTP_RCPT_TODO on entry; on return every one has an outcome
 * (free the texts with smtp_results_deinit()).  Returns SMTP_TXN_OK,
 * SMTP_TXN_BROKEN or SMTP_TXN_LOCAL; or SMTP_TXN_STALE, with every result
 * still SMTP_RCPT_TODO, when the RSET sent ahead of a reused session's
 * MAIL failed (no reply, or not 2xx): nothing was delivered (no "." was
 * sent), and the session is broken.
 */
int smtp_session_deliver(struct smtp_session *s, const struct smtp_txn *txn,
			 struct smtp_rcpt_result *res);

/*
 * smtp_session_rset - RSET before reusing the session: 0, or -1 (broken).
 * To a server that offers PIPELINING nothing is sent yet: the RSET goes
 * out with the next transaction's MAIL, RCPT and DATA, and its failure is
 * that transaction's SMTP_TXN_STALE.  To any other server it is a round
 * trip of its own.
 */
int smtp_session_rset(struct smtp_session *s);

/* smtp_session_close - QUIT when the session is in sync, then close and
 * free; clears *sp.  NULL is fine. */
void smtp_session_close(struct smtp_session **sp);

/* smtp_failure_deinit - free a failure's texts. */
void smtp_failure_deinit(struct smtp_failure *f);
/* smtp_results_deinit - free n results' texts. */
void smtp_results_deinit(struct smtp_rcpt_result *res, size_t n);

#endif
