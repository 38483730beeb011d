/*
 * test_cmd_queue - the queue listing: the formatter against golden text
 * (postqueue's layout: heading, marks, reasons, footer, empty queue), the
 * JSON escaper and printable filter, and "sluice queue" / "--json" run
 * in-process on a queue directory built with the queue_file library (no
 * daemon): folder order, done recipients, defer-log reasons, hashed
 * folders, skipped and damaged files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli_queue_testlib.h"
#include "cmd_queue.h"

/* ---- formatter ---- */

struct fmt_rcpt {
	const char *address;
	const char *reason;
};

struct fmt_msg {
	struct queue_list_msg m;
	struct fmt_rcpt rcpts[6];
};

static const struct fmt_case {
	const char *name;
	struct fmt_msg msgs[4];
	int count;
	const char *text;
	const char *json;
} fmt_cases[] = {
	{
		"empty queue", {{{0}, {{0}}}}, 0,
		"Mail queue is empty\n",
		"",
	},
	{
		"one active message", {
			{{"active", "4XbZ1q2w3eBC", 1606557600, 1234, false, "sender@example.test"},
			 {{"rcpt@example.test", ""}}},
		}, 1,
		"----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
		"4XbZ1q2w3eBC*         1234 Sat Nov 28 10:00:00 sender@example.test\n"
		"                                               rcpt@example.test\n"
		"\n"
		"-- 1 Kbytes in 1 Request.\n",
		"{\"queue_name\": \"active\", \"queue_id\": \"4XbZ1q2w3eBC\", \"arrival_time\": "
		"1606557600, \"message_size\": 1234, \"forced_expire\": false, \"sender\": "
		"\"sender@example.test\", \"recipients\": [{\"address\": \"rcpt@example.test\"}]}\n",
	},
	{
		"reasons, null sender, hold, expire, quoting", {
			{{"deferred", "4XbZ1q2w3fBC", 1609837387, 5678, false, "other@example.test"},
			 {{"r1@example.test", "connect to mx.example.test[127.0.0.1]:25: Connection refused"},
			  {"r2@example.test", "connect to mx.example.test[127.0.0.1]:25: Connection refused"},
			  {"r3@example.test", ""},
			  {"r4@example.test", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}},
			{{"hold", "4XbZ1q2w3gBC", 1606557600, 100, true, ""},
			 {{"john smith@example.test", ""}}},
			{{"incoming", "4XbZ1q2w3hBCDF", 1606557600, 0, false, "a\001b@example.test"},
			 {{0}}},
		}, 3,
		"----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
		"4XbZ1q2w3fBC          5678 Tue Jan  5 09:03:07 other@example.test\n"
		"                (connect to mx.example.test[127.0.0.1]:25: Connection refused)\n"
		"                                               r1@example.test\n"
		"                                               r2@example.test\n"
		"                                                          (reason unavailable)\n"
		"                                               r3@example.test\n"
		"(xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx)\n"
		"                                               r4@example.test\n"
		"\n"
		"4XbZ1q2w3gBC!#         100 Sat Nov 28 10:00:00 MAILER-DAEMON\n"
		"                                               \"john smith\"@example.test\n"
		"\n"
		"4XbZ1q2w3hBCDF           0 Sat Nov 28 10:00:00 \"a?b\"@example.test\n"
		"\n"
		"-- 5 Kbytes in 3 Requests.\n",
		"{\"queue_name\": \"deferred\", \"queue_id\": \"4XbZ1q2w3fBC\", \"arrival_time\": "
		"1609837387, \"message_size\": 5678, \"forced_expire\": false, \"sender\": "
		"\"other@example.test\", \"recipients\": ["
		"{\"address\": \"r1@example.test\", \"delay_reason\": \"connect to mx.example.test[127.0.0.1]:25: Connection refused\"}, "
		"{\"address\": \"r2@example.test\", \"delay_reason\": \"connect to mx.example.test[127.0.0.1]:25: Connection refused\"}, "
		"{\"address\": \"r3@example.test\"}, "
		"{\"address\": \"r4@example.test\", \"delay_reason\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}]}\n"
		"{\"queue_name\": \"hold\", \"queue_id\": \"4XbZ1q2w3gBC\", \"arrival_time\": 1606557600, "
		"\"message_size\": 100, \"forced_expire\": true, \"sender\": \"MAILER-DAEMON\", "
		"\"recipients\": [{\"address\": \"\\\"john smith\\\"@example.test\"}]}\n"
		"{\"queue_name\": \"incoming\", \"queue_id\": \"4XbZ1q2w3hBCDF\", \"arrival_time\": 1606557600, "
		"\"message_size\": 0, \"forced_expire\": false, \"sender\": \"\\\"a?b\\\"@example.test\", "
		"\"recipients\": []}\n",
	},
};

/* format - run the formatter over a case */
static char *format(const struct fmt_case *c, bool json)
{
	struct queue_listing l;
	struct buf *out = buf_create(1024);
	char *s;

	queue_listing_init(&l, json, "MAILER-DAEMON");
	for (int i = 0; i < c->count; i++) {
		const struct fmt_msg *fm = &c->msgs[i];

		queue_listing_msg_begin(&l, out, &fm->m);
		for (int r = 0; r < 6 && fm->rcpts[r].address; r++)
			queue_listing_msg_rcpt(&l, out, fm->rcpts[r].address, fm->rcpts[r].reason);
		queue_listing_msg_end(&l, out, &fm->m);
	}
	queue_listing_end(&l, out);
	queue_listing_deinit(&l);
	s = buf_steal(out);
	buf_free(&out);
	return s;
}

/* the formatter reproduces postqueue's text and JSON */
static void test_formatter(void **state)
{
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		char *text = format(&fmt_cases[i], false), *json = format(&fmt_cases[i], true);

		if (strcmp(text, fmt_cases[i].text) != 0 || strcmp(json, fmt_cases[i].json) != 0)
			print_error("case \"%s\":\n--- text\n%s--- json\n%s", fmt_cases[i].name,
				    text, json);
		assert_string_equal(text, fmt_cases[i].text);
		assert_string_equal(json, fmt_cases[i].json);
		free(text);
		free(json);
	}
}

/* the footer rounds down, counts requests, and says "Request" for one */
static void test_footer(void **state)
{
	static const struct {
		long sizes[4];
		int count;
		const char *footer;
	} cases[] = {
		{{1023}, 1, "\n-- 0 Kbytes in 1 Request.\n"},
		{{1024}, 1, "\n-- 1 Kbytes in 1 Request.\n"},
		{{1000, 1000}, 2, "\n-- 1 Kbytes in 2 Requests.\n"},
		{{3000000000L, 3000000000L}, 2, "\n-- 5859375 Kbytes in 2 Requests.\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct queue_listing l;
		struct buf *out = buf_create(256);
		const char *tail;

		queue_listing_init(&l, false, NULL);
		for (int m = 0; m < cases[i].count; m++) {
			struct queue_list_msg msg = {"incoming", "4XbZ1q2w3eBC", 0, cases[i].sizes[m],
						    false, "a@b.test"};

			queue_listing_msg_begin(&l, out, &msg);
			queue_listing_msg_end(&l, out, &msg);
		}
		buf_reset(out);
		queue_listing_end(&l, out);
		tail = buf_str(out);
		assert_string_equal(tail, cases[i].footer);
		queue_listing_deinit(&l);
		buf_free(&out);
	}
}

/* ---- escaping ---- */

static const struct {
	const char *in;
	const char *json;
	const char *printable;
} esc_cases[] = {
	{"plain text", "plain text", "plain text"},
	{"", "", ""},
	{"a\"b\\c/d", "a\\\"b\\\\c/d", "a\"b\\c/d"},
	{"\b\f\n\r\t", "\\b\\f\\n\\r\\t", "?????"},
	{"\001\037\177 ", "\\u0001\\u001F\\u007F ", "??? "},
	{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa8",
	 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa8"},
	{"\xc3", "?", "?"},			/* truncated sequence */
	{"\xc3(", "?(", "?("},			/* bad continuation */
	{"\xff\xfe", "??", "??"},		/* never valid */
	{"\xc0\xaf", "??", "??"},		/* overlong '/' */
	{"\xe0\x80\xaf", "???", "???"},		/* overlong, three bytes */
	{"\xed\xa0\x80", "???", "???"},		/* UTF-16 surrogate */
	{"\xf4\x90\x80\x80", "????", "????"},	/* above U+10FFFF */
	{"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},	/* U+10FFFF */
	{"x\x80y", "x?y", "x?y"},		/* lone continuation */
};

/* the JSON escaper and the printable filter, byte by byte */
static void test_escaping(void **state)
{
	for (size_t i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		struct buf *b = buf_create(64);

		queue_list_json_quote(b, esc_cases[i].in);
		assert_string_equal(buf_str(b), esc_cases[i].json);
		buf_reset(b);
		queue_list_printable(b, esc_cases[i].in);
		assert_string_equal(buf_str(b), esc_cases[i].printable);
		buf_free(&b);
	}
}

/* ---- on disk ---- */

static int setup(void **state)
{
	return tl_setup(NULL);
}

static int teardown(void **state)
{
	return tl_teardown();
}

/* sender_line - the expected first line of a message */
static void sender_line(struct buf *b, const char *id, const char *mark, long size,
			const char *when, const char *sender)
{
	char idm[64];

	snprintf(idm, sizeof(idm), "%s%s", id, mark);
	buf_printf(b, "%-17s %8ld %-19s %s\n", idm, size, when, sender);
}

/* rcpt_line - an expected recipient line */
static void rcpt_line(struct buf *b, const char *addr)
{
	buf_printf(b, "%47s%s\n", "", addr);
}

/* reason_line - an expected reason line */
static void reason_line(struct buf *b, const char *reason)
{
	buf_printf(b, "%*s(%s)\n", 76 - (int)strlen(reason), "", reason);
}

/* a queue with a message in every folder, reasons, done marks, strays */
static void test_listing(void **state)
{
	static const char *const r_abcd[] = {"a@x.test", "b@x.test", "c@y.test", "d@y.test", NULL};
	static const char *const r_one[] = {"one@x.test", NULL};
	static const char *const r_two[] = {"p@x.test", "q@x.test", NULL};
	char id_drop[QUEUE_ID_SIZE], id_act[QUEUE_ID_SIZE], id_in[QUEUE_ID_SIZE];
	char id_def[QUEUE_ID_SIZE], id_hold[QUEUE_ID_SIZE], id_bad[QUEUE_ID_SIZE];
	char id_def2[QUEUE_ID_SIZE], id_0600[QUEUE_ID_SIZE];
	char *argv_text[] = {"queue", NULL}, *argv_json[] = {"queue", "--json", NULL};
	struct buf *want = buf_create(4096);
	long off[8];
	struct tl_run r;
	char path[600];
	FILE *fp;

	tl_clear_queues();
	/* Made in this order, the IDs sort the same way within a folder. */
	snprintf(id_drop, sizeof(id_drop), "%s", tl_make("maildrop", 1606557600, "u@x.test", r_one, 0));
	snprintf(id_def, sizeof(id_def), "%s",
		 tl_make_full("deferred", 1609837387.5, "", r_abcd, 1u << 3, "0123456789", off));
	snprintf(id_act, sizeof(id_act), "%s", tl_make("active", 1606557600, "s@x.test", r_two, 1u << 0));
	snprintf(id_in, sizeof(id_in), "%s", tl_make("incoming", 1606557600, "s@x.test", r_one, 0));
	snprintf(id_hold, sizeof(id_hold), "%s", tl_make("hold", 1606557600, "h@x.test", r_one, 0));
	snprintf(id_def2, sizeof(id_def2), "%s", tl_make("deferred", 1606557600, "s@x.test", r_one, 0));
	snprintf(id_bad, sizeof(id_bad), "%s", tl_make("incoming", 1606557600, "s@x.test", r_one, 0));
	snprintf(id_0600, sizeof(id_0600), "%s", tl_make("incoming", 1606557600, "s@x.test", r_one, 0));

	/* The defer log: c, then a twice (the last one counts), d (done). */
	tl_defer(id_def, "c@y.test", off[2], "reason two");
	tl_defer(id_def, "a@x.test", off[0], "reason one");
	tl_defer(id_def, "a@x.test", off[0], "reason two");
	tl_defer(id_def, "d@y.test", off[3], "never shown");
	/* Damage one file, hide one as "being written", add strays. */
	assert_int_equal(truncate(tl_path("incoming", id_bad), 150), 0);
	assert_int_equal(chmod(tl_path("incoming", id_0600), 0600), 0);
	snprintf(path, sizeof(path), "%s/incoming/tmp.1.2.3", tl_queue);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	/* Forced expiry shows as "#". */
	assert_int_equal(chmod(tl_path("hold", id_hold), 0700 | QF_MODE_EXPIRE), 0);

	r = tl_run_cmd(cmd_queue, NULL, argv_text);
	assert_int_equal(r.status, 0);
	buf_printf(want, "%-17s %8s %-19s %s\n", "----Queue ID-----", "--Size--",
		   "---Arrival Time----", "--Sender/Recipient------");
	sender_line(want, id_drop, "", 17, "Sat Nov 28 10:00:00", "u@x.test");
	rcpt_line(want, "one@x.test");
	buf_puts(want, "\n");
	sender_line(want, id_act, "*", 17, "Sat Nov 28 10:00:00", "s@x.test");
	rcpt_line(want, "q@x.test");
	buf_puts(want, "\n");
	sender_line(want, id_in, "", 17, "Sat Nov 28 10:00:00", "s@x.test");
	rcpt_line(want, "one@x.test");
	buf_puts(want, "\n");
	sender_line(want, id_def, "", 10, "Tue Jan  5 09:03:07", "MAILER-DAEMON");
	reason_line(want, "reason two");
	rcpt_line(want, "c@y.test");
	rcpt_line(want, "a@x.test");
	reason_line(want, "reason unavailable");
	rcpt_line(want, "b@x.test");
	buf_puts(want, "\n");
	sender_line(want, id_def2, "", 17, "Sat Nov 28 10:00:00", "s@x.test");
	rcpt_line(want, "one@x.test");
	buf_puts(want, "\n");
	sender_line(want, id_hold, "!#", 17, "Sat Nov 28 10:00:00", "h@x.test");
	rcpt_line(want, "one@x.test");
	buf_puts(want, "\n-- 0 Kbytes in 6 Requests.\n");
	if (strcmp(r.out, buf_str(want)) != 0)
		print_error("got:\n%s\nwant:\n%s", r.out, buf_str(want));
	assert_string_equal(r.out, buf_str(want));
	/* One warning, for the damaged file only. */
	buf_reset(want);
	buf_printf(want, "incoming/%s: damaged queue file", id_bad);
	assert_non_null(strstr(r.err, buf_str(want)));
	assert_ptr_equal(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	tl_run_free(&r);

	/* The same as JSON: one object per line, in the same order. */
	r = tl_run_cmd(cmd_queue, NULL, argv_json);
	assert_int_equal(r.status, 0);
	buf_reset(want);
	buf_printf(want, "{\"queue_name\": \"deferred\", \"queue_id\": \"%s\", \"arrival_time\": "
		   "1609837387, \"message_size\": 10, \"forced_expire\": false, \"sender\": "
		   "\"MAILER-DAEMON\", \"recipients\": [{\"address\": \"c@y.test\", "
		   "\"delay_reason\": \"reason two\"}, {\"address\": \"a@x.test\", "
		   "\"delay_reason\": \"reason two\"}, {\"address\": \"b@x.test\"}]}\n", id_def);
	assert_non_null(strstr(r.out, buf_str(want)));
	{
		int lines = 0;

		for (const char *p = r.out; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 6);
	}
	assert_true(strncmp(r.out, "{\"queue_name\": \"maildrop\"", 25) == 0);
	assert_non_null(strstr(r.out, "\"queue_name\": \"hold\""));
	assert_non_null(strstr(r.out, "\"forced_expire\": true"));
	tl_run_free(&r);
	buf_free(&want);
}

/* an empty queue, a missing folder, and bad usage */
static void test_empty_and_usage(void **state)
{
	char *argv_text[] = {"queue", NULL}, *argv_json[] = {"queue", "-j", NULL};
	char *argv_bad[] = {"queue", "--bogus", NULL};
	char path[400];
	struct tl_run r;

	tl_clear_queues();
	snprintf(path, sizeof(path), "%s/hold", tl_queue);
	assert_int_equal(rmdir(path), 0);
	r = tl_run_cmd(cmd_queue, NULL, argv_text);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "Mail queue is empty\n");
	assert_string_equal(r.err, "");
	tl_run_free(&r);
	r = tl_run_cmd(cmd_queue, NULL, argv_json);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "");
	tl_run_free(&r);
	r = tl_run_cmd(cmd_queue, NULL, argv_bad);
	assert_int_equal(r.status, 64);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "usage"));
	tl_run_free(&r);
	assert_int_equal(mkdir(path, 0700), 0);
}

/* the scanner descends into hash folders and sorts by ID */
static void test_scan(void **state)
{
	static const char *const one[] = {"x@y.test", NULL};
	struct queue_list_entry *e;
	const char *error;
	char ids[5][QUEUE_ID_SIZE];
	long n;

	tl_clear_queues();
	for (int i = 0; i < 5; i++)
		snprintf(ids[i], QUEUE_ID_SIZE, "%s", tl_make("deferred", 1606557600, "", one, 0));
	n = queue_list_scan(tl_queue, "deferred", &e, &error);
	assert_int_equal(n, 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(e[i].id, ids[i]);
		assert_string_equal(e[i].path, tl_path("deferred", ids[i]));
		assert_non_null(strstr(e[i].path, "/deferred/"));
	}
	queue_list_scan_free(&e, n);
	assert_null(e);
	n = queue_list_scan(tl_queue, "no-such-folder", &e, &error);
	assert_int_equal(n, 0);
}

/*
 * Many messages: several batches read by several threads come out exactly
 * as one message at a time would make them (queue order, each message's
 * own reason, the footer counting all); the expected text is built with
 * the formatter alone.
 */
static void test_many_in_order(void **state)
{
	enum { MANY = 1300 };	/* more than two batches of 512 */
	static char ids[MANY][QUEUE_ID_SIZE];
	static const char *const one[2] = {"r@x.test", NULL};
	char *argv_text[] = {"queue", NULL};
	struct queue_listing l;
	struct buf *want = buf_create(MANY * 200);
	struct tl_run r;
	char reason[64];
	long off[1];

	tl_clear_queues();
	for (int i = 0; i < MANY; i++) {
		snprintf(ids[i], QUEUE_ID_SIZE, "%s",
			 tl_make_full("deferred", 1606557600 + i, "s@x.test", one, 0, NULL, off));
		/* Every third message has a reason of its own. */
		if (i % 3 == 0) {
			snprintf(reason, sizeof(reason), "reason %d", i);
			tl_defer(ids[i], one[0], off[0], reason);
		}
	}
	queue_listing_init(&l, false, "MAILER-DAEMON");
	for (int i = 0; i < MANY; i++) {
		struct queue_list_msg m = {"deferred", ids[i], 1606557600 + i,
					   (long)strlen("Subject: x\n\nbody\n"), false, "s@x.test"};

		snprintf(reason, sizeof(reason), "reason %d", i);
		queue_listing_msg_begin(&l, want, &m);
		queue_listing_msg_rcpt(&l, want, one[0], i % 3 == 0 ? reason : "");
		queue_listing_msg_end(&l, want, &m);
	}
	queue_listing_end(&l, want);
	queue_listing_deinit(&l);
	r = tl_run_cmd(cmd_queue, NULL, argv_text);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, buf_str(want));
	tl_run_free(&r);
	buf_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formatter),
		cmocka_unit_test(test_footer),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_empty_and_usage),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_many_in_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
