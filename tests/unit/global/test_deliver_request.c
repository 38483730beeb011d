/*
 * test_deliver_request - the qmgr<->agent request and reply: round trips,
 * strict decoding of damaged frames, and the delay formatting of log lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/deliver_log.h"
#include "global/deliver_request.h"
#include "global/dsn.h"
#include "global/queue_file.h"
#include "util/attr.h"
#include "util/buf.h"

/* sample - a request with two recipients */
static void sample(struct deliver_request *req, struct deliver_rcpt rcpt[2])
{
	memset(req, 0, sizeof(*req));
	req->queue_name = "active";
	req->queue_id = "4XbZ1q2w3eB";
	req->transport = "smtp";
	req->nexthop = "[127.0.0.1]:2525";
	req->sender = "";
	req->envid = "env-1";
	req->ret = DSN_RET_HDRS;
	req->flags = DEL_REQ_FLAG_TRACE;
	req->data_offset = 120;
	req->data_size = 4567;
	req->arrival_time = 1000.25;
	req->active_time = 1001.5;
	req->request_time = 1002.75;
	rcpt[0] = (struct deliver_rcpt){"a@x.test", "A@X.test", "rfc822;A@X.test",
					DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE, 400};
	rcpt[1] = (struct deliver_rcpt){"b@x.test", "", "", 0, 480};
	req->rcpt = rcpt;
	req->rcpt_count = 2;
}

/* request round trip */
static void test_request_roundtrip(void **state)
{
	struct deliver_request req, got;
	struct deliver_rcpt rcpt[2];
	struct buf *b = buf_create(256);
	struct attr_list al;
	const char *err;

	sample(&req, rcpt);
	deliver_request_encode(&req, b);
	attr_list_init(&al);
	assert_int_equal(attr_frame_extract(b, ATTR_FRAME_LIMIT, &al, &err), 1);
	assert_int_equal(deliver_request_decode(&al, &got, &err), 0);
	assert_string_equal(got.queue_id, "4XbZ1q2w3eB");
	assert_string_equal(got.nexthop, "[127.0.0.1]:2525");
	assert_string_equal(got.sender, "");
	assert_int_equal(got.ret, DSN_RET_HDRS);
	assert_int_equal(got.flags, DEL_REQ_FLAG_TRACE);
	assert_int_equal(got.data_size, 4567);
	assert_true(got.request_time == 1002.75);
	assert_int_equal(got.rcpt_count, 2);
	assert_string_equal(got.rcpt[0].dsn_orcpt, "rfc822;A@X.test");
	assert_int_equal(got.rcpt[0].notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE);
	assert_int_equal(got.rcpt[1].offset, 480);
	deliver_request_deinit(&got);
	attr_list_deinit(&al);
	buf_free(&b);
}

/* every attribute dropped in turn makes the request invalid, without leaks */
static void test_request_damaged(void **state)
{
	struct deliver_request req, got;
	struct deliver_rcpt rcpt[2];
	struct buf *b = buf_create(256), *cut = buf_create(256);
	struct attr_list al, part;
	const char *err;

	sample(&req, rcpt);
	deliver_request_encode(&req, b);
	attr_list_init(&al);
	attr_list_init(&part);
	assert_int_equal(attr_frame_extract(b, ATTR_FRAME_LIMIT, &al, &err), 1);
	for (size_t skip = 0; skip < al.count; skip++) {
		buf_reset(cut);
		for (size_t i = 0; i < al.count; i++) {
			if (i == skip)
				continue;
			buf_append(cut, al.items[i].name, strlen(al.items[i].name) + 1);
			buf_append(cut, al.items[i].value, al.items[i].vlen + 1);
		}
		assert_int_equal(attr_parse_payload(cut->data, cut->len, &part, &err), 0);
		err = NULL;
		assert_int_equal(deliver_request_decode(&part, &got, &err), -1);
		assert_non_null(err);
	}
	attr_list_deinit(&al);
	attr_list_deinit(&part);
	buf_free(&b);
	buf_free(&cut);
}

/* queue names and IDs that may (not) become a path in an agent */
static void test_request_check(void **state)
{
	static const struct {
		const char *queue_name, *queue_id;
		int want;
	} rows[] = {
		{"active", NULL, 0},			/* queue_id_format()'s */
		{"active", "4SVLCh0sf82R", 0},
		{"active", "../../etc/passwd", -1},
		{"active", "4XbZ1q2w3eB/../../x", -1},
		{"active", "..", -1},
		{"active", "", -1},
		{"active", "tmp.1700000000.123.45", -1},	/* a temporary name */
		{"active", "4SVLCh0sf82e", -1},		/* no vowels in the alphabet */
		{"active", "4SVLCh0sf802", -1},		/* leading 0 in the inode part */
		{"active", "4SVLCh0sf", -1},			/* too short */
		{"active", "4SVLCh0sf82R ", -1},
		{"deferred", "4SVLCh0sf82R", -1},		/* agents deliver from active/ only */
		{"incoming", "4SVLCh0sf82R", -1},
		{"../active", "4SVLCh0sf82R", -1},
		{"active/..", "4SVLCh0sf82R", -1},
		{"", "4SVLCh0sf82R", -1},
		{NULL, "4SVLCh0sf82R", -1},
		{"/etc", "passwd", -1},
	};
	struct deliver_request req;
	char made[QUEUE_ID_SIZE];
	const char *err;

	queue_id_format(made, 1700000000, 123456, 4242);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&req, 0, sizeof(req));
		req.queue_name = (char *)rows[i].queue_name;
		req.queue_id = rows[i].queue_id ? (char *)rows[i].queue_id : made;
		err = NULL;
		if (deliver_request_check(&req, &err) != rows[i].want)
			fail_msg("row %zu: %s/%s: want %d", i, rows[i].queue_name, rows[i].queue_id,
				 rows[i].want);
		if (rows[i].want < 0)
			assert_non_null(err);
	}
}

/* reply round trip and validation of hop_status */
static void test_reply(void **state)
{
	struct deliver_reply rep = {.status = DEL_STAT_DEFER, .hop_status = "4.4.1",
				    .hop_reason = "connect to x[127.0.0.1]:25: Connection refused",
				    .session = "", .deferred = 2};
	struct deliver_reply got;
	struct buf *b = buf_create(64);
	struct attr_list al;
	const char *err;

	deliver_reply_encode(&rep, b);
	attr_list_init(&al);
	assert_int_equal(attr_frame_extract(b, ATTR_FRAME_LIMIT, &al, &err), 1);
	assert_int_equal(deliver_reply_decode(&al, &got, &err), 0);
	assert_int_equal(got.status, DEL_STAT_DEFER);
	assert_string_equal(got.hop_status, "4.4.1");
	assert_string_equal(got.hop_reason, rep.hop_reason);
	assert_int_equal(got.deferred, 2);
	deliver_reply_deinit(&got);

	strcpy(rep.hop_status, "9.9");
	deliver_reply_encode(&rep, b);
	assert_int_equal(attr_frame_extract(b, ATTR_FRAME_LIMIT, &al, &err), 1);
	assert_int_equal(deliver_reply_decode(&al, &got, &err), -1);
	attr_list_deinit(&al);
	buf_free(&b);
}

/* delay values as Postfix prints them */
static void test_delay_format(void **state)
{
	static const struct {
		double secs;
		int res;
		const char *want;
	} rows[] = {
		{0, 2, "0"}, {0.001, 2, "0"}, {0.005, 2, "0.01"}, {0.12, 2, "0.12"},
		{0.5, 2, "0.5"}, {0.347, 2, "0.35"}, {1.06, 2, "1.1"}, {5.54, 2, "5.5"},
		{9.99, 2, "10"}, {12.4, 2, "12"}, {226.7, 2, "227"}, {0.347, 1, "0.3"},
		{0.347, 0, "0"}, {3.3, 0, "3"}, {-1, 2, "0"},
	};
	struct buf *b = buf_create(16);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_reset(b);
		deliver_log_format_delay(b, rows[i].secs, rows[i].res);
		assert_string_equal(buf_str(b), rows[i].want);
	}
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_damaged),
		cmocka_unit_test(test_request_check),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_delay_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
