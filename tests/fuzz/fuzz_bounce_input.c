/*
 * fuzz_bounce_input - libFuzzer target for what the bounce service reads:
 * the request frame from the queue manager (bounce_request_decode), the
 * per-recipient status logs in bounce/, defer/, trace/ (status_log_parse;
 * agents write them from remote replies) and the original message that a
 * report attaches (bounce_notify_build).
 *
 * Input: two control bytes (report kind and role, RET, size limit, the
 * chunk size and failure of the content producer), then three parts
 * separated by "@@@\n": a request payload (attr encoding, without the
 * length prefix), a status log's text, the original message.  Checked:
 *   - a decoded request keeps its contract (known op, valid queue ID,
 *     flags 0..7, RET -1..2, times >= 0); a refusal has a reason;
 *   - a log that parses keeps its contract (non-empty recipient, valid
 *     status, notify 0..15, offset >= 0), and formatting its records and
 *     parsing that again is stable (format -> parse -> format is the same
 *     text);
 *   - the report: at most as many recipients as records, empty exactly
 *     when none is reported, lines of at most 998 octets ending in LF, the
 *     same bytes whether the original comes whole or in small chunks;
 *     a producer that fails still gives a report, with the reason.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce/bounce_notify.h"
#include "bounce/bounce_service.h"
#include "global/dsn.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "util/attr.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_bounce_input: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define SEP	"@@@\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("TZ", "UTC", 1);
	return 0;
}

/* The original message as the queue file would push it. */
struct producer {
	const char *data;
	size_t len, chunk;
	bool fail;
};

static int produce(void *ctx, bounce_content_sink *sink, void *sink_ctx, const char **error_r)
{
	struct producer *p = ctx;

	for (size_t pos = 0; pos < p->len;) {
		size_t n = p->len - pos < p->chunk ? p->len - pos : p->chunk;

		if (p->fail && pos > 0) {
			*error_r = "fuzz read error";
			return -1;
		}
		if (sink(p->data + pos, n, sink_ctx) < 0)
			return 0;
		pos += n;
	}
	return 0;
}

/* request - decode a request payload */
/* The request's strings point into its attribute list: copies outlive it. */
static char *req_sender, *req_envid;

static void request(const char *data, size_t len, struct bounce_request *req, bool *ok_r)
{
	struct attr_list al;
	const char *err = NULL;

	free(req_sender);
	free(req_envid);
	req_sender = req_envid = NULL;
	*ok_r = false;
	attr_list_init(&al);
	if (attr_parse_payload(data, len, &al, &err) == 0) {
		if (bounce_request_decode(&al, req, &err) == 0) {
			check(req->op >= BOUNCE_OP_BOUNCE_FLUSH && req->op <= BOUNCE_OP_TRACE_FLUSH);
			check(req->queue_name && req->queue_id && queue_id_valid(req->queue_id));
			check(req->flags >= 0 && req->flags <= 7);
			check(req->ret >= -1 && req->ret <= DSN_RET_HDRS);
			check(req->arrival_time >= 0 && req->next_attempt >= 0);
			req_sender = req->sender ? strdup(req->sender) : NULL;
			req_envid = req->envid ? strdup(req->envid) : NULL;
			req->sender = req_sender;
			req->envid = req_envid;
			req->queue_name = req->queue_id = NULL;
			*ok_r = true;
		} else {
			check(err != NULL && *err != 0);
		}
	}
	attr_list_deinit(&al);
}

/* to_status - a record read back, as a writer would give it */
static struct rcpt_status to_status(const struct rcpt_status_rec *r)
{
	struct rcpt_status st;

	memset(&st, 0, sizeof(st));
	st.recipient = r->recipient;
	st.orig_rcpt = r->orig_rcpt;
	st.offset = r->offset;
	st.dsn_orcpt = r->dsn_orcpt;
	st.notify = r->notify;
	memcpy(st.dsn.status, r->status, sizeof(st.dsn.status));
	st.dsn.action = r->action;
	st.dsn.reason = r->reason;
	st.dsn.mta = r->mta;
	st.dsn.diag_type = r->diag_type;
	st.dsn.diag_text = r->diag_text;
	st.time = r->time;
	return st;
}

/* format_all - the text of every record */
static struct buf *format_all(const struct rcpt_status_rec *recs, long n)
{
	struct buf *b = buf_create(256);

	for (long i = 0; i < n; i++) {
		struct rcpt_status st = to_status(&recs[i]);

		status_log_format(b, &st);
	}
	return b;
}

/* log_roundtrip - format -> parse -> format gives the same text */
static void log_roundtrip(const struct rcpt_status_rec *recs, long n)
{
	struct rcpt_status_rec *again = NULL;
	struct buf *t1 = format_all(recs, n), *t2;
	const char *err = NULL;
	long m = status_log_parse(t1->data, t1->len, "fuzz", &again, &err);

	if (m != n) {
		fprintf(stderr, "fuzz_bounce_input: formatted log reads back as %ld of %ld: %s\n"
			"--\n%s--\n", m, n, m < 0 ? err : "", t1->data);
		abort();
	}
	t2 = format_all(again, m);
	check(t1->len == t2->len && memcmp(t1->data, t2->data, t1->len) == 0);
	status_log_free(&again, m);
	buf_free(&t1);
	buf_free(&t2);
}

/* check_report - the shape of a built report */
static void check_report(const struct buf *out, size_t reported, size_t records)
{
	size_t start = 0;

	check(reported <= records);
	check((reported == 0) == (out->len == 0));
	if (out->len == 0)
		return;
	check(out->data[out->len - 1] == '\n');
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\n') {
			check(i - start <= 998);
			start = i + 1;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long limits[] = {0, 50, 1000, 50000};
	const char *in = (const char *)data + 2, *p2, *p3, *err = NULL;
	size_t len, l1, l2, l3;
	struct bounce_request req;
	struct rcpt_status_rec *recs = NULL;
	struct bounce_notify_input ni;
	struct producer whole, pieces;
	struct buf *o1, *o2;
	const char *cerr1 = NULL, *cerr2 = NULL;
	size_t n1, n2;
	bool req_ok;
	long n;

	if (size < 2)
		return 0;
	len = size - 2;
	p2 = memmem(in, len, SEP, 4);
	l1 = p2 ? (size_t)(p2 - in) : len;
	p2 = p2 ? p2 + 4 : in + len;
	p3 = memmem(p2, (size_t)(in + len - p2), SEP, 4);
	l2 = p3 ? (size_t)(p3 - p2) : (size_t)(in + len - p2);
	p3 = p3 ? p3 + 4 : in + len;
	l3 = (size_t)(in + len - p3);

	request(in, l1, &req, &req_ok);

	n = status_log_parse(p2, l2, "fuzz", &recs, &err);
	if (n < 0) {
		check(err != NULL && *err != 0);
		return 0;
	}
	for (long i = 0; i < n; i++) {
		check(*recs[i].recipient != 0);
		check(dsn_status_valid(recs[i].status));
		check(recs[i].notify >= 0 && recs[i].notify <= 15);
		check(recs[i].offset >= 0 && isfinite(recs[i].time));
	}
	log_roundtrip(recs, n);

	memset(&ni, 0, sizeof(ni));
	ni.kind = (enum bounce_kind)(data[0] % 6);
	ni.role = (enum bounce_role)((data[0] / 6) % 3);
	ni.queue_id = "4Zx9QG1fSVz3k";
	ni.myhostname = "mx.example.org";
	ni.mail_name = "sluice";
	ni.sender = req_ok && req.sender ? req.sender : "sender@example.org";
	ni.recipient = ni.role == BOUNCE_ROLE_SENDER ? ni.sender : "postmaster";
	ni.postmaster = "postmaster";
	ni.arrival_time = 1700000000;
	ni.now = 1700003600;
	ni.envid = req_ok ? req.envid : NULL;
	ni.ret = data[1] & 3;
	if (ni.ret > DSN_RET_HDRS)
		ni.ret = 0;
	ni.size_limit = limits[(data[1] >> 2) & 3];
	ni.retry_until = 1700400000;
	ni.next_attempt = 1700004000;
	ni.rcpts = recs;
	ni.rcpt_count = (size_t)n;
	whole = (struct producer) {p3, l3, l3 ? l3 : 1, false};
	pieces = (struct producer) {p3, l3, 1 + (data[1] >> 4) % 8, (data[1] & 0x80) != 0};
	ni.content = produce;

	o1 = buf_create(1024);
	o2 = buf_create(1024);
	ni.content_ctx = &whole;
	n1 = bounce_notify_build(&ni, o1, &cerr1);
	check_report(o1, n1, (size_t)n);
	check(cerr1 == NULL);
	ni.content_ctx = &pieces;
	n2 = bounce_notify_build(&ni, o2, &cerr2);
	check_report(o2, n2, (size_t)n);
	check(n1 == n2);
	if (pieces.fail) {
		/* When the producer failed, the report says why (and may differ). */
		if (cerr2 != NULL)
			check(strcmp(cerr2, "fuzz read error") == 0);
		else
			check(o1->len == o2->len && memcmp(o1->data, o2->data, o1->len) == 0);
	} else {
		check(cerr2 == NULL);
		check(o1->len == o2->len && memcmp(o1->data, o2->data, o1->len) == 0);
	}
	buf_free(&o1);
	buf_free(&o2);
	status_log_free(&recs, n);
	return 0;
}
