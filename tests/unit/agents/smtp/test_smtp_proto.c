/*
 * test_smtp_proto - the SMTP client state machine against scripted servers.
 *
 * Each row is a conversation: what the server says ("<reply", "|" for line
 * breaks inside a multi-line reply), what it expects the client to send
 * next (">PREFIX"; ">." reads the message content up to the lone dot),
 * "!" to hang up, "~MS" to pause.  The server runs in a child process on a
 * loopback socket and exits non-zero when the client says anything but the
 * next expected line, or does not hang up after the last step -- so every
 * row checks the exact command sequence (no DATA when nobody was accepted,
 * no QUIT on a broken session, RSET before reuse) as well as the outcome
 * per recipient, the transaction result and the session state.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agents/smtp/smtp_cmd.h"
#include "agents/smtp/smtp_mx.h"
#include "agents/smtp/smtp_proto.h"
#include "agents/smtp/smtp_tls.h"
#include "global/deliver_request.h"
#include "util/log.h"

#define MAXSTEPS 40
#define MAXRCPT 4

struct proto_case {
	const char *name;
	const char *steps[MAXSTEPS];	/* NULL-terminated script */
	const char *rcpts[MAXRCPT];	/* NULL-terminated */
	bool verify_only;
	long size;			/* 0: the content's size */
	int open;			/* 0 or -1 from smtp_session_open */
	const char *open_status;	/* when open fails */
	bool open_hop;
	int txn;			/* SMTP_TXN_* */
	const char *outcomes;		/* "S"ent "B"ounce "D"efer per recipient */
	const char *statuses;		/* space separated, per recipient */
	const char *reason;		/* substring of the first recipient's reason */
	bool reuse;			/* RSET and a second one-recipient transaction */
};

#define EHLO_PIPE "<250-peer.test|250-PIPELINING|250-SIZE 1000000|250 ENHANCEDSTATUSCODES"
#define EHLO_PLAIN "<250-peer.test|250 SIZE 1000000"

static const struct proto_case cases[] = {
	{"pipelined mix", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL FROM:<s@x.test> SIZE=",
	  ">RCPT TO:<a@x.test>", ">RCPT TO:<b@x.test>", ">RCPT TO:<c@x.test>", ">DATA",
	  "<250 2.1.0 ok", "<250 2.1.5 ok", "<451 4.2.0 busy", "<550 5.1.1 unknown",
	  "<354 go", ">.", "<250 2.0.0 queued as X", ">QUIT", "<221 bye", NULL},
	 {"a@x.test", "b@x.test", "c@x.test", NULL}, false, 0, 0, NULL, false,
	 SMTP_TXN_OK, "SDB", "2.0.0 4.2.0 5.1.1", "250 2.0.0 queued as X", false},
	{"one at a time", {"<220 hi", ">EHLO", EHLO_PLAIN, ">MAIL", "<250 ok", ">RCPT TO:<a@",
	  "<250 ok", ">RCPT TO:<b@", "<452 4.5.3 too many", ">DATA", "<354 go", ">.",
	  "<250 ok", ">QUIT", "<221 bye", NULL},
	 {"a@x.test", "b@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "SD",
	 "2.0.0 4.5.3", "250 ok", false},
	{"MAIL refused: no RCPT", {"<220 hi", ">EHLO", EHLO_PLAIN, ">MAIL",
	  "<553 5.7.1 sender rejected", ">QUIT", "<221 bye", NULL},
	 {"a@x.test", "b@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "BB",
	 "5.7.1 5.7.1", "said: 553 5.7.1 sender rejected (in reply to MAIL FROM command)", false},
	{"MAIL refused, pipelined", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL", ">RCPT", ">DATA",
	  "<451 4.3.0 later", "<503 5.5.1 need MAIL", "<503 5.5.1 need RCPT", ">QUIT", "<221",
	  NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "D", "4.3.0",
	 "(in reply to MAIL FROM command)", false},
	{"nobody accepted: no DATA", {"<220 hi", ">EHLO", EHLO_PLAIN, ">MAIL", "<250 ok", ">RCPT",
	  "<550 5.1.1 no", ">RCPT", "<550 5.1.1 no", ">QUIT", "<221", NULL},
	 {"a@x.test", "b@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "BB",
	 "5.1.1 5.1.1", NULL, false},
	{"nobody accepted, pipelined, 354 anyway", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL",
	  ">RCPT", ">DATA", "<250 ok", "<550 5.1.1 no", "<354 go", ">.", "<554 no valid rcpt",
	  ">QUIT", "<221", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "B", "5.1.1", NULL, false},
	{"DATA refused", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL", ">RCPT", ">DATA", "<250 ok",
	  "<250 ok", "<554 5.3.0 no", ">QUIT", "<221", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "B", "5.3.0",
	 "(in reply to DATA command)", false},
	{"end of data deferred, no enhanced code", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL",
	  ">RCPT", ">DATA", "<250 ok", "<250 ok", "<354 go", ">.", "<452 out of space", ">QUIT",
	  "<221", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "D", "4.0.0",
	 "(in reply to end of DATA command)", false},
	{"421 in RCPT ends the session", {"<220 hi", ">EHLO", EHLO_PLAIN, ">MAIL", "<250 ok",
	  ">RCPT", "<421 4.3.2 closing", NULL},
	 {"a@x.test", "b@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_BROKEN, "DD",
	 "4.3.2 4.4.2", "421 4.3.2 closing", false},
	{"lost connection in the body", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL", ">RCPT",
	  ">DATA", "<250 ok", "<250 ok", "<354 go", "!", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_BROKEN, "D", "4.4.2",
	 "lost connection with 127.0.0.1[127.0.0.1] while ", false},
	{"time-out waiting for the final reply", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL",
	  ">RCPT", ">DATA", "<250 ok", "<250 ok", "<354 go", ">.", "~1500", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_BROKEN, "D", "4.4.2",
	 "timed out while sending end of data -- message may be sent more than once", false},
	{"garbage instead of a reply", {"<220 hi", ">EHLO", EHLO_PLAIN, ">MAIL", "<what?", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_BROKEN, "D", "4.5.0",
	 "failed while sending MAIL FROM: malformed reply", false},
	{"SIZE too small: nothing sent", {"<220 hi", ">EHLO", "<250-peer|250 SIZE 10", ">QUIT",
	  "<221", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "B", "5.3.4",
	 "exceeds size limit 10 of server 127.0.0.1[127.0.0.1]", false},
	{"address probe", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL", ">RCPT TO:<a", ">RCPT TO:<b",
	  "<250 ok", "<250 2.1.5 ok", "<550 5.1.1 no", ">QUIT", "<221", NULL},
	 {"a@x.test", "b@x.test", NULL}, true, 0, 0, NULL, false, SMTP_TXN_OK, "SB",
	 "2.1.5 5.1.1", "250 2.1.5 ok", false},
	{"EHLO refused: HELO", {"<220 hi", ">EHLO", "<502 5.5.2 what", ">HELO client.test",
	  "<250 hi", ">MAIL FROM:<s@x.test>", "<250 ok", ">RCPT", "<250 ok", ">DATA", "<354",
	  ">.", "<250 ok", ">QUIT", "<221", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "S", "2.0.0", NULL, false},
	{"reuse: RSET then a second transaction", {"<220 hi", ">EHLO", EHLO_PIPE, ">MAIL",
	  ">RCPT", ">DATA", "<250 ok", "<250 ok", "<354", ">.", "<250 one", ">RSET", "<250 ok",
	  ">MAIL", ">RCPT", ">DATA", "<250 ok", "<250 ok", "<354", ">.", "<250 two", ">QUIT",
	  "<221", NULL},
	 {"a@x.test", NULL}, false, 0, 0, NULL, false, SMTP_TXN_OK, "S", "2.0.0", "250 one",
	 true},
	{"greeting refused", {"<554 5.7.1 go away", NULL}, {"a@x.test", NULL}, false, 0, -1,
	 "4.7.1", true, 0, NULL, NULL, NULL, false},
	{"EHLO and HELO refused", {"<220 hi", ">EHLO", "<500 no", ">HELO", "<550 5.7.1 no",
	  NULL}, {"a@x.test", NULL}, false, 0, -1, "4.7.1", true, 0, NULL, NULL, NULL, false},
	{"silent server", {"~2500", NULL}, {"a@x.test", NULL}, false, 0, -1, "4.4.2", true, 0,
	 NULL, NULL, NULL, false},
	{"TLS required, not offered", {"<220 hi", ">EHLO", EHLO_PIPE, NULL}, {"a@x.test", NULL},
	 false, 0, -1, "4.7.5", true, 0, NULL, NULL, NULL, false},
};

static const char content_text[] = "Subject: t\n\n.dot\nbody\n";

/* content - the test message */
static int content(smtp_sink_fn *sink, void *sink_ctx, void *ctx, const char **error_r)
{
	return sink(content_text, sizeof(content_text) - 1, sink_ctx);
}

/* read_line - one CRLF line from fd into line (without CRLF); false at EOF */
static bool read_line(int fd, char *line, size_t size)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r <= 0)
			return false;
		if (c == '\n')
			break;
		if (n + 1 < size)
			line[n++] = c;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = 0;
	return true;
}

/* put - write a reply, "|" meaning a line break */
static void put(int fd, const char *reply)
{
	char buf[1024];
	size_t n = 0;

	for (const char *p = reply; *p && n + 3 < sizeof(buf); p++) {
		if (*p == '|') {
			buf[n++] = '\r';
			buf[n++] = '\n';
		} else {
			buf[n++] = *p;
		}
	}
	buf[n++] = '\r';
	buf[n++] = '\n';
	if (write(fd, buf, n) != (ssize_t)n)
		_exit(10);
}

/* serve - play the script on one connection; exit status 0 if all went as written */
static void serve(int lfd, const struct proto_case *c)
{
	char line[4096];
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		_exit(11);
	for (size_t i = 0; c->steps[i]; i++) {
		const char *st = c->steps[i];

		switch (st[0]) {
		case '<':
			put(fd, st + 1);
			break;
		case '~':
			usleep((useconds_t)atoi(st + 1) * 1000);
			break;
		case '!':
			close(fd);
			_exit(0);
		case '>':
			if (strcmp(st, ">.") == 0) {
				/* The content, up to the lone dot (its encoding has its
				 * own tests). */
				do {
					if (!read_line(fd, line, sizeof(line)))
						_exit(12);
				} while (strcmp(line, ".") != 0);
				break;
			}
			if (!read_line(fd, line, sizeof(line))) {
				fprintf(stderr, "%s: EOF, expected \"%s\"\n", c->name, st + 1);
				_exit(14);
			}
			if (strncmp(line, st + 1, strlen(st + 1)) != 0) {
				fprintf(stderr, "%s: got \"%s\", expected \"%s\"\n", c->name, line, st + 1);
				_exit(15);
			}
			break;
		}
	}
	/* After the script the client must go away without another word. */
	if (read_line(fd, line, sizeof(line))) {
		fprintf(stderr, "%s: unexpected \"%s\" after the script\n", c->name, line);
		_exit(16);
	}
	_exit(0);
}

/* run_case - one conversation */
static void run_case(const struct proto_case *c)
{
	struct smtp_session_conf conf = {
		.helo_name = "client.test", .bind_address = "",
		.connect_timeout = 2, .helo_timeout = 1, .starttls_timeout = 2, .mail_timeout = 1,
		.rcpt_timeout = 1, .data_init_timeout = 1, .data_xfer_timeout = 1,
		.data_done_timeout = 1, .rset_timeout = 1, .quit_timeout = 1,
		.tls_level = strstr(c->name, "TLS required") ? SMTP_TLS_ENCRYPT : SMTP_TLS_NONE,
		.skip_5xx_greeting = true, .always_send_ehlo = true, .skip_quit_response = true,
		.line_length_limit = 998,
	};
	struct deliver_rcpt rcpt[MAXRCPT];
	struct smtp_rcpt_result res[MAXRCPT];
	struct smtp_addr_list l = {0};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	struct smtp_failure fail;
	struct smtp_session *s = NULL;
	struct smtp_txn txn;
	size_t n = 0;
	int lfd, status, r;
	pid_t pid;

	/* The server. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	if ((pid = fork()) == 0)
		serve(lfd, c);
	close(lfd);
	smtp_addr_add(&l, "127.0.0.1", 0, (struct sockaddr *)&sin, ntohs(sin.sin_port));

	/* The client. */
	r = smtp_session_open(&conf, &l.addr[0], "[127.0.0.1]", "127.0.0.1", false, NULL, &s,
			      &fail);
	if (r != c->open)
		fail_msg("%s: open %d (%s)", c->name, r, fail.reason ? fail.reason : "");
	if (r < 0) {
		assert_string_equal(fail.status, c->open_status);
		assert_int_equal(fail.hop, c->open_hop);
		assert_false(fail.hard);
		smtp_failure_deinit(&fail);
	} else {
		for (; c->rcpts[n]; n++)
			rcpt[n] = (struct deliver_rcpt) {.address = (char *)c->rcpts[n],
							 .orig_rcpt = (char *)"",
							 .dsn_orcpt = (char *)"", .offset = 1};
		memset(&txn, 0, sizeof(txn));
		txn.sender = "s@x.test";
		txn.envid = "";
		txn.size = c->size ? c->size : (long)sizeof(content_text) - 1;
		txn.verify_only = c->verify_only;
		txn.rcpt_count = n;
		txn.rcpt = rcpt;
		txn.content = content;
		memset(res, 0, sizeof(res));
		r = smtp_session_deliver(s, &txn, res);
		if (r != c->txn)
			fail_msg("%s: transaction %d, want %d", c->name, r, c->txn);
		assert_int_equal(s->state, r == SMTP_TXN_OK ? SMTP_STATE_READY : SMTP_STATE_BROKEN);
		for (size_t i = 0; i < n; i++) {
			char want[16];
			const char *sp = c->statuses;

			for (size_t k = 0; k < i; k++)
				sp = strchr(sp, ' ') + 1;
			snprintf(want, sizeof(want), "%.*s", (int)strcspn(sp, " "), sp);
			if ("?SBD"[res[i].outcome] != c->outcomes[i] || strcmp(res[i].status, want))
				fail_msg("%s: recipient %zu: %c %s (%s), want %c %s", c->name, i,
					 "?SBD"[res[i].outcome], res[i].status, res[i].reason,
					 c->outcomes[i], want);
		}
		if (c->reason && strstr(res[0].reason, c->reason) == NULL)
			fail_msg("%s: reason \"%s\"", c->name, res[0].reason);
		smtp_results_deinit(res, n);
		if (c->reuse) {
			assert_int_equal(smtp_session_rset(s), 0);
			txn.rcpt_count = 1;
			assert_int_equal(smtp_session_deliver(s, &txn, res), SMTP_TXN_OK);
			assert_string_equal(res[0].reason, "250 two");
			assert_int_equal(s->uses, 2);
			smtp_results_deinit(res, 1);
		}
		smtp_session_close(&s);
		assert_null(s);
	}
	smtp_addr_list_deinit(&l);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s: the server saw a different conversation (status %d)", c->name,
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* every row of the table */
static void test_conversations(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* reply classes */
static void test_outcome(void **state)
{
	assert_int_equal(smtp_proto_outcome(250), SMTP_RCPT_SENT);
	assert_int_equal(smtp_proto_outcome(251), SMTP_RCPT_SENT);
	assert_int_equal(smtp_proto_outcome(354), SMTP_RCPT_DEFER);
	assert_int_equal(smtp_proto_outcome(421), SMTP_RCPT_DEFER);
	assert_int_equal(smtp_proto_outcome(452), SMTP_RCPT_DEFER);
	assert_int_equal(smtp_proto_outcome(550), SMTP_RCPT_BOUNCE);
	assert_string_equal(smtp_state_name(SMTP_STATE_RCPT), "RCPT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome),
		cmocka_unit_test(test_conversations),
	};

	signal(SIGPIPE, SIG_IGN);
	log_init("test_smtp_proto", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
