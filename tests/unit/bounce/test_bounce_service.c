/*
 * test_bounce_service - bounce, defer and trace requests against a real
 * queue directory: queue files made with the queue-file writer, status logs
 * appended with status_log_append(), reports submitted through the real
 * cleanup library into incoming/, and read back from there.
 *
 * Each scenario row says which request runs on which logged outcomes, and
 * what must follow: the reports queued (envelope sender, recipient,
 * subject, recipients named in the delivery-status part), which recipients
 * are marked done, whether the log is left, and the request status.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bounce_notify.h"
#include "bounce_service.h"
#include "global/dsn.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "testlib.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/mem.h"

#define NOW	1700000300.0
#define MAX_RCPT	4
#define MAX_REPORTS	3

static char *tmp_root;		/* configuration and queue live here */
static char *queue_dir;

/* ---- fixture ---- */

/* write_main_cf - a configuration whose queue is under tmp_root */
static void write_main_cf(const char *extra)
{
	char *path = xasprintf("%s/main.cf", tmp_root);
	FILE *fp = fopen(path, "w");
	const char *error;

	assert_non_null(fp);
	/* As root, reports are written as mail_owner (notice.h): let that be us. */
	fprintf(fp, "queue_directory = %s\nmyhostname = mail.example.com\n"
		"myorigin = example.com\nmaillog_file = -\n%s\n%s\n", queue_dir,
		geteuid() == 0 ? "mail_owner = root" : "", extra);
	assert_int_equal(fclose(fp), 0);
	free(path);
	if (mail_conf_read(tmp_root, &error) < 0)
		fail_msg("main.cf: %s", error);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
}

/* rm_rf - remove a tree (test clean-up) */
static void rm_rf(const char *path)
{
	assert_int_equal(testlib_rmtree(path), 0);
}

/* setup - a fresh queue for every test */
static int setup(void **state)
{
	const char *error;

	tmp_root = testlib_tmpdir("test_bounce_service");
	queue_dir = xasprintf("%s/spool", tmp_root);
	assert_int_equal(mkdir(queue_dir, 0700), 0);
	write_main_cf("");
	if (queue_dirs_create(queue_dir, &error) < 0)
		fail_msg("queue_dirs_create: %s", error);
	return 0;
}

/* teardown - remove the queue */
static int teardown(void **state)
{
	rm_rf(tmp_root);
	XFREE(tmp_root);
	XFREE(queue_dir);
	return 0;
}

/* ---- making a message and its log ---- */

struct outcome {
	const char *rcpt;
	int notify;
	const char *status;	/* NULL ends the list */
	const char *action;
	const char *reason;
};

/* make_message - a queue file in active/ with these recipients; offsets out */
static void make_message(const char *sender, const struct outcome *oc, char id_r[QUEUE_ID_SIZE],
			 long *offsets_r)
{
	struct qf_writer *w;
	struct qf_envelope env;
	struct qf *q;
	struct qf_rcpt rcpts[MAX_RCPT];
	const char *error;
	char *path;
	bool corrupt;
	long offset = 0, n;
	const char *content = "From: someone\nSubject: the original\nMessage-Id: <orig@x>\n\n"
			      "original body\n";

	w = qf_create(queue_dir, "active", &error);
	assert_non_null(w);
	memset(&env, 0, sizeof(env));
	env.arrival_time = 1700000000;
	env.sender = (char *)sender;
	env.envid = (char *)"ENV-7";
	env.ret = 0;
	qf_put_envelope(w, &env);
	qf_put_content(w, content, strlen(content));
	for (size_t i = 0; oc[i].status; i++)
		qf_add_rcpt(w, oc[i].rcpt, "", "", oc[i].notify);
	if (qf_commit(&w, id_r, &error) < 0)
		fail_msg("qf_commit: %s", error);

	path = queue_path(queue_dir, "active", id_r);
	q = qf_open(path, false, &corrupt, &error);
	assert_non_null(q);
	n = qf_read_rcpts(q, &offset, rcpts, MAX_RCPT, true, &error);
	for (long i = 0; i < n; i++) {
		offsets_r[i] = rcpts[i].offset;
		qf_rcpt_deinit(&rcpts[i]);
	}
	qf_close(&q);
	free(path);
}

/* log_outcomes - one status log record per outcome with an action */
static void log_outcomes(const char *log, const char *id, const struct outcome *oc,
			 const long *offsets)
{
	for (size_t i = 0; oc[i].status; i++) {
		struct rcpt_status st;
		const char *error;

		if (*oc[i].action == 0)
			continue;
		memset(&st, 0, sizeof(st));
		st.recipient = oc[i].rcpt;
		st.orig_rcpt = st.dsn_orcpt = "";
		st.offset = offsets[i];
		st.notify = oc[i].notify;
		snprintf(st.dsn.status, sizeof(st.dsn.status), "%s", oc[i].status);
		st.dsn.action = oc[i].action;
		st.dsn.reason = oc[i].reason;
		st.time = 1700000200;
		if (status_log_append(queue_dir, log, id, &st, &error) < 0)
			fail_msg("status_log_append: %s", error);
	}
}

/* ---- reading back what was queued ---- */

struct report {
	char *sender;
	char *rcpt;
	int flags;
	struct buf text;
};

/* content_to_buf - qf_read_content callback */
static int content_to_buf(const char *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
	return 0;
}

/* read_incoming - every queue file in incoming/, in no particular order */
static size_t read_incoming(struct report *out, size_t max)
{
	char *dir = xasprintf("%s/incoming", queue_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct qf_envelope env;
		struct qf_rcpt rcpt;
		struct qf *q;
		const char *error;
		char *path;
		bool corrupt;
		long offset = 0;

		if (!queue_id_valid(de->d_name))
			continue;
		assert_true(n < max);
		path = xasprintf("%s/%s", dir, de->d_name);
		q = qf_open(path, false, &corrupt, &error);
		assert_non_null(q);
		assert_int_equal(qf_read_envelope(q, &env, &error), 0);
		assert_int_equal(qf_read_rcpts(q, &offset, &rcpt, 1, true, &error), 1);
		out[n].sender = xstrdup(env.sender);
		out[n].rcpt = xstrdup(rcpt.address);
		out[n].flags = env.flags;
		buf_init(&out[n].text, 4096);
		assert_int_equal(qf_read_content(q, content_to_buf, &out[n].text, &error), 0);
		qf_rcpt_deinit(&rcpt);
		qf_envelope_deinit(&env);
		qf_close(&q);
		free(path);
		n++;
	}
	closedir(d);
	free(dir);
	return n;
}

/* reports_free - release what read_incoming returned */
static void reports_free(struct report *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].sender);
		free(r[i].rcpt);
		buf_deinit(&r[i].text);
	}
}

/* done_marks - which recipients of the message are marked done */
static void done_marks(const char *id, bool *done_r, size_t count)
{
	char *path = queue_path(queue_dir, "active", id);
	struct qf_rcpt rcpts[MAX_RCPT];
	struct qf *q;
	const char *error;
	bool corrupt;
	long offset = 0, n;

	q = qf_open(path, false, &corrupt, &error);
	assert_non_null(q);
	n = qf_read_rcpts(q, &offset, rcpts, MAX_RCPT, true, &error);
	assert_int_equal(n, (long)count);
	for (long i = 0; i < n; i++) {
		done_r[i] = rcpts[i].done;
		qf_rcpt_deinit(&rcpts[i]);
	}
	qf_close(&q);
	free(path);
}

/* ---- the scenarios ---- */

struct want_report {
	const char *sender;	/* envelope sender; NULL ends the list */
	const char *rcpt;
	const char *subject;
	const char *finals;	/* "a,b": Final-Recipient addresses in order */
};

static const struct outcome bounced[] = {
	{"bob@example.net", 0, "5.1.1", "failed", "host mx said: 550 5.1.1 no such user"},
	{"carol@example.net", DSN_NOTIFY_NEVER, "5.1.1", "failed", "no such user"},
	{"dave@example.net", 0, "", "", NULL},	/* not logged: stays to do */
	{NULL, 0, NULL, NULL, NULL},
};
static const struct outcome all_never[] = {
	{"bob@example.net", DSN_NOTIFY_NEVER, "5.1.1", "failed", "no such user"},
	{NULL, 0, NULL, NULL, NULL},
};
static const struct outcome deferred[] = {
	{"erin@slow.example", 0, "4.4.1", "delayed", "connect to mx: Connection timed out"},
	{"gina@slow.example", DSN_NOTIFY_FAILURE, "4.4.1", "delayed", "connect to mx: timed out"},
	{NULL, 0, NULL, NULL, NULL},
};
static const struct outcome traced[] = {
	{"henry@example.com", DSN_NOTIFY_SUCCESS, "2.0.0", "delivered", "delivered to maildir"},
	{"ivan@remote.example", 0, "2.0.0", "relayed", "250 2.0.0 Ok"},
	{NULL, 0, NULL, NULL, NULL},
};

static const struct scenario {
	const char *name;
	const char *main_cf;		/* extra main.cf lines */
	const char *request;
	const char *log;
	const char *sender;
	int flags;
	const struct outcome *outcomes;
	struct want_report reports[MAX_REPORTS + 1];
	const char *marks;		/* "D" done / "R" to do, per recipient */
	bool log_left;
} scenarios[] = {
	{"bounce to the sender; NEVER left out; all logged marked", "", "bounce_flush",
	 STATUS_LOG_BOUNCE, "alice@example.org", 0, bounced,
	 {{"", "alice@example.org", "Undelivered Mail Returned to Sender", "bob@example.net"}},
	 "DDR", false},
	{"postmaster copy when notify_classes has bounce", "notify_classes = bounce",
	 "bounce_flush", STATUS_LOG_BOUNCE, "alice@example.org", 0, bounced,
	 {{"", "alice@example.org", "Undelivered Mail Returned to Sender", "bob@example.net"},
	  {"double-bounce@example.com", "postmaster@example.com",
	   "Postmaster Copy: Undelivered Mail", "bob@example.net,carol@example.net"}},
	 "DDR", false},
	{"null sender, no bounce class: discarded", "", "bounce_flush", STATUS_LOG_BOUNCE, "",
	 0, bounced, {{NULL}}, "DDR", false},
	{"null sender with 2bounce: double bounce", "notify_classes = 2bounce", "bounce_flush",
	 STATUS_LOG_BOUNCE, "", 0, bounced,
	 {{"double-bounce@example.com", "postmaster@example.com",
	   "Postmaster Copy: Undelivered Mail", "bob@example.net,carol@example.net"}},
	 "DDR", false},
	{"double-bounce sender: never a triple bounce", "notify_classes = bounce, 2bounce",
	 "bounce_flush", STATUS_LOG_BOUNCE, "double-bounce@example.com", 0, bounced,
	 {{NULL}}, "DDR", false},
	{"NOTIFY=NEVER only: no report, still done", "", "bounce_flush", STATUS_LOG_BOUNCE,
	 "alice@example.org", 0, all_never, {{NULL}}, "D", false},
	{"expired: defer log as failure", "", "defer_flush", STATUS_LOG_DEFER,
	 "alice@example.org", 0, deferred,
	 {{"", "alice@example.org", "Undelivered Mail Returned to Sender",
	   "erin@slow.example,gina@slow.example"}},
	 "DD", false},
	{"delay warning: NOTIFY filter, no marks, log kept", "", "defer_warn",
	 STATUS_LOG_DEFER, "alice@example.org", 0, deferred,
	 {{"", "alice@example.org", "Delayed Mail (still being retried)", "erin@slow.example"}},
	 "RR", true},
	{"delay warning and postmaster copy", "notify_classes = delay", "defer_warn",
	 STATUS_LOG_DEFER, "alice@example.org", 0, deferred,
	 {{"", "alice@example.org", "Delayed Mail (still being retried)", "erin@slow.example"},
	  {"double-bounce@example.com", "postmaster@example.com",
	   "Postmaster Warning: Delayed Mail", "erin@slow.example,gina@slow.example"}},
	 "RR", true},
	{"no delay warning to the null sender", "", "defer_warn", STATUS_LOG_DEFER, "", 0,
	 deferred, {{NULL}}, "RR", true},
	{"success notice for NOTIFY=SUCCESS only", "", "trace_flush", STATUS_LOG_TRACE,
	 "alice@example.org", 0, traced,
	 {{"", "alice@example.org", "Successful Mail Delivery Report", "henry@example.com"}},
	 "RR", false},
	{"success and delay cleared, nobody told twice", "", "trace_flush", STATUS_LOG_TRACE,
	 "alice@example.org", BOUNCE_FLAG_DELAY_CLEARED, traced,
	 {{"", "alice@example.org", "Successful Mail Delivery Report", "henry@example.com"},
	  {"", "alice@example.org", "Delay cleared", "ivan@remote.example"}},
	 "RR", false},
	{"sendmail -v: full trace", "", "trace_flush", STATUS_LOG_TRACE, "alice@example.org",
	 BOUNCE_FLAG_VERBOSE, traced,
	 {{"", "alice@example.org", "Mail Delivery Status Report",
	   "henry@example.com,ivan@remote.example"}},
	 "RR", false},
	{"sendmail -bv: verify report", "", "trace_flush", STATUS_LOG_TRACE,
	 "alice@example.org", BOUNCE_FLAG_VERIFY | BOUNCE_FLAG_VERBOSE, traced,
	 {{"", "alice@example.org", "Mail Delivery Status Report",
	   "henry@example.com,ivan@remote.example"}},
	 "RR", false},
};

/* header_value - the value of a top-level header of a report, or NULL */
static char *header_value(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *cp = text; cp && *cp && *cp != '\n'; cp = strchr(cp, '\n') + 1) {
		if (strncmp(cp, name, n) == 0 && cp[n] == ':' && cp[n + 1] == ' ')
			return xstrndup(cp + n + 2, strcspn(cp + n + 2, "\n"));
		if (strchr(cp, '\n') == NULL)
			break;
	}
	return NULL;
}

/* finals - the Final-Recipient addresses of a report, comma separated */
static char *finals(const char *text)
{
	struct buf out;
	const char *cp = text;
	char *names;

	buf_init(&out, 128);
	while ((cp = strstr(cp, "\nFinal-Recipient: rfc822; ")) != NULL) {
		cp += strlen("\nFinal-Recipient: rfc822; ");
		if (out.len)
			buf_putc(&out, ',');
		buf_append(&out, cp, strcspn(cp, "\n"));
	}
	names = buf_steal(&out);
	buf_deinit(&out);
	return names;
}

/* run_request - send one request through decode and run */
static int run_request(const char *request, const char *id, const char *sender, int flags,
		       const char **reason_r)
{
	struct buf frame;
	struct attr_list al;
	struct bounce_request req;
	const char *error;
	int rc;

	buf_init(&frame, 256);
	attr_list_init(&al);
	attr_frame_begin(&frame);
	attr_put_str(&frame, "request", request);
	attr_put_str(&frame, "queue_name", "active");
	attr_put_str(&frame, "queue_id", id);
	if (sender)
		attr_put_str(&frame, "sender", sender);
	attr_put_long(&frame, "flags", flags);
	attr_put_double(&frame, "next_attempt", NOW + 1800);
	attr_frame_end(&frame);
	assert_int_equal(attr_frame_extract(&frame, ATTR_FRAME_LIMIT, &al, &error), 1);
	if (bounce_request_decode(&al, &req, &error) < 0)
		fail_msg("decode: %s", error);
	rc = bounce_service_run(&req, NOW, reason_r);
	attr_list_deinit(&al);
	buf_deinit(&frame);
	return rc;
}

/* test_scenarios - every row from a fresh queue */
static void test_scenarios(void **state)
{
	for (size_t s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		const struct scenario *sc = &scenarios[s];
		struct report got[MAX_REPORTS + 2];
		char id[QUEUE_ID_SIZE];
		long offsets[MAX_RCPT];
		bool done[MAX_RCPT];
		const char *reason;
		size_t nrcpt = 0, nwant = 0, ngot;

		teardown(state);
		setup(state);
		write_main_cf(sc->main_cf);
		make_message(sc->sender, sc->outcomes, id, offsets);
		while (sc->outcomes[nrcpt].status)
			nrcpt++;
		log_outcomes(sc->log, id, sc->outcomes, offsets);

		if (run_request(sc->request, id, NULL, sc->flags, &reason) != 0)
			fail_msg("%s: failed: %s", sc->name, reason);

		/* The reports, matched by recipient and subject. */
		ngot = read_incoming(got, MAX_REPORTS + 2);
		while (sc->reports[nwant].sender)
			nwant++;
		if (ngot != nwant)
			fail_msg("%s: %zu reports queued, want %zu", sc->name, ngot, nwant);
		for (size_t w = 0; w < nwant; w++) {
			const struct want_report *want = &sc->reports[w];
			bool found = false;

			for (size_t g = 0; g < ngot && !found; g++) {
				char *subject = header_value(buf_str(&got[g].text), "Subject");
				char *names = finals(buf_str(&got[g].text));

				if (subject && strcmp(subject, want->subject) == 0
				    && strcmp(got[g].rcpt, want->rcpt) == 0) {
					found = true;
					assert_string_equal(got[g].sender, want->sender);
					assert_true(got[g].flags & QF_FLAG_BOUNCE);
					assert_string_equal(names, want->finals);
				}
				free(subject);
				free(names);
			}
			if (!found)
				fail_msg("%s: no report \"%s\" to %s", sc->name, want->subject,
					 want->rcpt);
		}
		reports_free(got, ngot);

		/* Marks and the log. */
		done_marks(id, done, nrcpt);
		for (size_t i = 0; i < nrcpt; i++)
			if (done[i] != (sc->marks[i] == 'D'))
				fail_msg("%s: recipient %zu done=%d", sc->name, i, done[i]);
		assert_int_equal(status_log_exists(queue_dir, sc->log, id), sc->log_left);
	}
}

/* test_missing_log - nothing logged, nothing to do, success */
static void test_missing_log(void **state)
{
	struct report got[2];
	char id[QUEUE_ID_SIZE];
	long offsets[MAX_RCPT];
	const char *reason;

	make_message("alice@example.org", bounced, id, offsets);
	assert_int_equal(run_request("bounce_flush", id, NULL, 0, &reason), 0);
	assert_int_equal(run_request("defer_warn", id, NULL, 0, &reason), 0);
	assert_int_equal(read_incoming(got, 2), 0);
}

/* test_duplicates - a recipient logged twice is reported once, last reason */
static void test_duplicates(void **state)
{
	static const struct outcome twice[] = {
		{"bob@example.net", 0, "4.4.1", "delayed", "first reason"},
		{NULL, 0, NULL, NULL, NULL},
	};
	static const struct outcome again[] = {
		{"bob@example.net", 0, "4.4.2", "delayed", "second reason"},
		{NULL, 0, NULL, NULL, NULL},
	};
	struct report got[2];
	char id[QUEUE_ID_SIZE];
	long offsets[MAX_RCPT];
	const char *reason;

	make_message("alice@example.org", twice, id, offsets);
	log_outcomes(STATUS_LOG_DEFER, id, twice, offsets);
	log_outcomes(STATUS_LOG_DEFER, id, again, offsets);
	assert_int_equal(run_request("defer_flush", id, NULL, 0, &reason), 0);
	assert_int_equal(read_incoming(got, 2), 1);
	assert_null(strstr(buf_str(&got[0].text), "first reason"));
	assert_non_null(strstr(buf_str(&got[0].text), "Status: 4.4.2"));
	assert_non_null(strstr(buf_str(&got[0].text), "Diagnostic-Code: X-Sluice; second reason"));
	assert_string_equal(got[0].rcpt, "alice@example.org");
	reports_free(got, 1);
}

/* test_request_sender - the request's sender, envelope from the file */
static void test_request_sender(void **state)
{
	struct report got[2];
	char id[QUEUE_ID_SIZE];
	long offsets[MAX_RCPT];
	const char *reason;

	make_message("alice@example.org", bounced, id, offsets);
	log_outcomes(STATUS_LOG_BOUNCE, id, bounced, offsets);
	assert_int_equal(run_request("bounce_flush", id, "zed@example.org", 0, &reason), 0);
	assert_int_equal(read_incoming(got, 2), 1);
	assert_string_equal(got[0].rcpt, "zed@example.org");
	/* ENVID and arrival come from the queue file. */
	assert_non_null(strstr(buf_str(&got[0].text), "Original-Envelope-Id: ENV-7\n"));
	assert_non_null(strstr(buf_str(&got[0].text), "Arrival-Date: Tue, 14 Nov 2023"));
	assert_non_null(strstr(buf_str(&got[0].text), "Subject: the original"));
	reports_free(got, 1);
}

/* test_cleanup_fails - no report queued: status -1, log kept, marks made */
static void test_cleanup_fails(void **state)
{
	char id[QUEUE_ID_SIZE];
	long offsets[MAX_RCPT];
	bool done[3];
	const char *reason;
	char *incoming = xasprintf("%s/incoming", queue_dir);

	make_message("alice@example.org", bounced, id, offsets);
	log_outcomes(STATUS_LOG_BOUNCE, id, bounced, offsets);
	assert_int_equal(rmdir(incoming), 0);
	assert_int_equal(run_request("bounce_flush", id, NULL, 0, &reason), -1);
	assert_non_null(strstr(reason, "cannot queue sender non-delivery notification"));
	assert_int_equal(status_log_exists(queue_dir, STATUS_LOG_BOUNCE, id), 1);
	done_marks(id, done, 3);
	assert_true(done[0] && done[1] && !done[2]);

	/* Once cleanup works again, the retry finishes the job. */
	assert_int_equal(mkdir(incoming, 0700), 0);
	assert_int_equal(run_request("bounce_flush", id, NULL, 0, &reason), 0);
	assert_int_equal(status_log_exists(queue_dir, STATUS_LOG_BOUNCE, id), 0);
	free(incoming);
}

/* test_queue_file_gone - the report still goes out, without the original */
static void test_queue_file_gone(void **state)
{
	struct report got[2];
	char id[QUEUE_ID_SIZE];
	long offsets[MAX_RCPT];
	const char *reason;
	char *path;

	make_message("alice@example.org", bounced, id, offsets);
	log_outcomes(STATUS_LOG_BOUNCE, id, bounced, offsets);
	path = queue_path(queue_dir, "active", id);
	assert_int_equal(unlink(path), 0);
	free(path);
	assert_int_equal(run_request("bounce_flush", id, "alice@example.org", 0, &reason), 0);
	assert_int_equal(read_incoming(got, 2), 1);
	assert_non_null(strstr(buf_str(&got[0].text), "could not be read"));
	assert_null(strstr(buf_str(&got[0].text), "message/rfc822"));
	reports_free(got, 1);
	assert_int_equal(status_log_exists(queue_dir, STATUS_LOG_BOUNCE, id), 0);

	/* And without the file and a sender in the request: nobody to tell. */
	log_outcomes(STATUS_LOG_BOUNCE, id, bounced, offsets);
	assert_int_equal(run_request("bounce_flush", id, NULL, 0, &reason), 0);
	assert_int_equal(status_log_exists(queue_dir, STATUS_LOG_BOUNCE, id), 0);
}

/*
 * test_queue_file_moved - a queue manager that started after the one that
 * asked moved the message (active/ -> incoming/ -> deferred/): the report
 * still carries the original and the recipients are marked done where the
 * file is now (fault finding F18; kill -9 of master and qmgr found it).
 */
static void test_queue_file_moved(void **state)
{
	struct report got[3];
	char id[QUEUE_ID_SIZE];
	long offsets[MAX_RCPT];
	bool done[MAX_RCPT];
	const char *reason;

	make_message("alice@example.org", bounced, id, offsets);
	log_outcomes(STATUS_LOG_BOUNCE, id, bounced, offsets);
	assert_int_equal(queue_move(queue_dir, "active", "deferred", id), 0);
	assert_int_equal(run_request("bounce_flush", id, NULL, 0, &reason), 0);
	assert_int_equal(read_incoming(got, 3), 1);
	assert_non_null(strstr(buf_str(&got[0].text), "message/rfc822"));
	assert_non_null(strstr(buf_str(&got[0].text), "original body"));
	reports_free(got, 1);
	assert_int_equal(status_log_exists(queue_dir, STATUS_LOG_BOUNCE, id), 0);
	/* Marked in deferred/, where it is: back in active/ to be read. */
	assert_int_equal(queue_move(queue_dir, "deferred", "active", id), 0);
	done_marks(id, done, 3);
	assert_true(done[0] && done[1] && !done[2]);
}

/* test_decode - good and bad request frames */
static void test_decode(void **state)
{
	static const struct {
		const char *attrs;	/* "name=value;..." */
		int want;
	} rows[] = {
		{"request=bounce_flush;queue_name=active;queue_id=ID", 0},
		{"request=trace_flush;queue_name=deferred;queue_id=ID;flags=7;ret=2", 0},
		{"request=defer_warn;queue_name=active;queue_id=ID;ret=HDRS;"
		 "arrival_time=1700000000.5;next_attempt=1700001000;sender=;envid=x", 0},
		{"queue_name=active;queue_id=ID", -1},
		{"request=flush_everything;queue_name=active;queue_id=ID", -1},
		{"request=bounce_flush;queue_name=../../etc;queue_id=ID", -1},
		{"request=bounce_flush;queue_name=active;queue_id=../x", -1},
		{"request=bounce_flush;queue_name=active", -1},
		{"request=bounce_flush;queue_name=active;queue_id=ID;flags=8", -1},
		{"request=bounce_flush;queue_name=active;queue_id=ID;ret=maybe", -1},
		{"request=bounce_flush;queue_name=active;queue_id=ID;arrival_time=-5", -1},
		{"request=bounce_flush;queue_name=active;queue_id=ID;next_attempt=soon", -1},
	};
	char id[QUEUE_ID_SIZE];
	long offsets[MAX_RCPT];

	make_message("alice@example.org", bounced, id, offsets);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf frame;
		struct attr_list al;
		struct bounce_request req;
		const char *error = NULL;
		char *copy = xstrdup(rows[i].attrs), *cp = copy, *item;

		buf_init(&frame, 256);
		attr_list_init(&al);
		attr_frame_begin(&frame);
		while ((item = strsep(&cp, ";")) != NULL) {
			char *eq = strchr(item, '=');

			*eq = 0;
			attr_put_str(&frame, item, strcmp(eq + 1, "ID") == 0 ? id : eq + 1);
		}
		attr_frame_end(&frame);
		assert_int_equal(attr_frame_extract(&frame, ATTR_FRAME_LIMIT, &al, &error), 1);
		if (bounce_request_decode(&al, &req, &error) != rows[i].want)
			fail_msg("row %zu (%s): want %d (%s)", i, rows[i].attrs, rows[i].want,
				 error ? error : "");
		if (rows[i].want < 0)
			assert_non_null(error);
		attr_list_deinit(&al);
		buf_deinit(&frame);
		free(copy);
	}
}

/* test_postmaster_notice - only for listed classes, to the class's recipient */
static void test_postmaster_notice(void **state)
{
	struct report got[2];
	const char *error;
	char *subject;

	assert_int_equal(bounce_postmaster_notice("software", "4XbZ1q2w3e", "software error",
						  "the queue manager crashed", NOW, &error), 1);
	assert_int_equal(bounce_postmaster_notice("policy", NULL, "policy", "x", NOW, &error), 0);
	assert_int_equal(read_incoming(got, 2), 1);
	assert_string_equal(got[0].sender, "double-bounce@example.com");
	assert_string_equal(got[0].rcpt, "postmaster@example.com");
	subject = header_value(buf_str(&got[0].text), "Subject");
	assert_string_equal(subject, "Postmaster Warning: software error");
	assert_non_null(strstr(buf_str(&got[0].text), "\n\nthe queue manager crashed\n"));
	free(subject);
	reports_free(got, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scenarios, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_sender, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cleanup_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_file_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_file_moved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_postmaster_notice, setup, teardown),
	};

	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
