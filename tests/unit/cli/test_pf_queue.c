/*
 * test_pf_queue - reading Postfix queue files and defer logs: a table of
 * files written as record lists ("type:data" items), each with what the
 * reader must make of it or the error it must give; record framing fed
 * whole and cut at every byte; defer logs with the human-readable line and
 * a torn last record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pf_queue.h"
#include "util/argv.h"
#include "util/buf.h"

/* put - one record: type, 7-bit length groups low first, data */
static void put(struct buf *b, int type, const char *data, size_t len)
{
	size_t n = len;

	buf_putc(b, type);
	do {
		int c = n & 0x7f;

		n >>= 7;
		buf_putc(b, n ? c | 0x80 : c);
	} while (n);
	buf_append(b, data, len);
}

/* build - records from "T:data" items ('p' data "@N" = pointer to the
 * offset of item N, computed in a second pass) */
static void build(struct buf *b, const char *const *items)
{
	size_t offsets[64] = {0};

	for (int pass = 0; pass < 2; pass++) {
		buf_reset(b);
		for (size_t i = 0; items[i]; i++) {
			const char *d = items[i] + 2;
			char ptr[32];

			offsets[i] = b->len;
			if (items[i][0] == 'p' && d[0] == '@') {
				snprintf(ptr, sizeof(ptr), "%15ld", (long)offsets[atoi(d + 1)]);
				d = ptr;
			}
			put(b, items[i][0], d, strlen(d));
		}
	}
}

struct want_rcpt {
	const char *address, *orig, *orcpt;
	int notify;
	bool done;
};

static const struct {
	const char *name;
	const char *items[40];
	const char *error;		/* NULL: parses */
	const char *sender, *envid, *content;
	int ret;
	bool queue_file;
	long sec, usec;
	size_t nrcpt;
	struct want_rcpt rcpts[4];
	size_t ndropped;
} cases[] = {
	{"queue file, half delivered",
	 {"C:            100             300               2               0             100               0",
	  "T:1700000000 123456", "A:create_time=1700000000", "A:envelope_id=env1",
	  "A:ret_flags=2", "A:rewrite_context=local", "F:Full Name", "S:s@a.test",
	  "A:notify_flags=10", "A:dsn_orig_rcpt=rfc822;x@b.test", "O:x@b.test", "D:x@b.test",
	  "A:notify_flags=4", "O:alias@b.test", "R:y@b.test",
	  "M:", "N:Subject: s", "N:", "L:long ", "N:line", "X:", "E:", NULL},
	 NULL, "s@a.test", "env1", "Subject: s\n\nlong line\n", 2, true, 1700000000, 123456, 2,
	 {{"x@b.test", "x@b.test", "rfc822;x@b.test", 10, true},
	  {"y@b.test", "alias@b.test", "", 4, false}}, 0},
	{"maildrop file, recipients after the content, null sender",
	 {"T:1700000001 5", "A:rewrite_context=local", "F:root", "S:", "M:", "N:To: a@b.test",
	  "N:", "N:hi", "X:", "R:a@b.test", "R:c@b.test", "E:", NULL},
	 NULL, "", "", "To: a@b.test\n\nhi\n", 0, false, 1700000001, 5, 2,
	 {{"a@b.test", "", "", 0, false}, {"c@b.test", "", "", 0, false}}, 0},
	{"old DSN record types, cancelled recipient, padding, killed record",
	 {"T:1700000002 0", "S:s@a.test", "i:envX", "<:1", "o:rfc822;r@b.test", "n:2",
	  "R:r@b.test", "/:gone@b.test", "K:", "M:", "N:x", "w:padding", "X:", "E:", NULL},
	 NULL, "s@a.test", "envX", "x\n", 1, false, 1700000002, 0, 2,
	 {{"r@b.test", "", "rfc822;r@b.test", 2, false}, {"gone@b.test", "", "", 0, true}}, 0},
	{"pointer records: an appended header and recipient",
	 /* 0 T, 1 S, 2 R, 3 p->10, 4 M, 5 N, 6 p->13, 7 N, 8 X, 9 E,
	  * 10 R (appended), 11 p->4, 12 (unused), 13 N (added header), 14 p->7 */
	 {"T:1700000003 0", "S:s@a.test", "R:one@b.test", "p:@10", "M:", "N:Subject: a",
	  "p:@13", "N:body", "X:", "E:", "R:two@b.test", "p:@4", "w:", "N:X-Added: yes",
	  "p:@7", NULL},
	 NULL, "s@a.test", "", "Subject: a\nX-Added: yes\nbody\n", 0, false, 1700000003, 0, 2,
	 {{"one@b.test", "", "", 0, false}, {"two@b.test", "", "", 0, false}}, 0},
	{"content filter and VERP are reported as dropped",
	 {"T:1700000004 0", "S:s@a.test", "L:smtp:[127.0.0.1]:10025", "V:+=", "R:a@b.test",
	  "M:", "N:x", "X:", "E:", NULL},
	 NULL, "s@a.test", "", "x\n", 0, false, 1700000004, 0, 1,
	 {{"a@b.test", "", "", 0, false}}, 2},
	{.name = "no end record", .items = {"T:1700000005 0", "S:s@a.test", "R:a@b.test", "M:", "N:x", "X:", NULL},
	 .error = "no end record"},
	{.name = "no sender", .items = {"T:1700000005 0", "R:a@b.test", "M:", "X:", "E:", NULL},
	 .error = "no sender record"},
	{.name = "no time", .items = {"S:s@a.test", "R:a@b.test", "M:", "X:", "E:", NULL},
	 .error = "no time record"},
	{.name = "no recipients", .items = {"T:1700000005 0", "S:s@a.test", "M:", "X:", "E:", NULL},
	 .error = "no recipients"},
	{.name = "unknown record type", .items = {"T:1700000005 0", "S:s@a.test", "Z:what", "M:", "X:", "E:", NULL},
	 .error = "unexpected record type 90 at offset"},
	{.name = "a size record not first", .items = {"T:1700000005 0", "C:1", "S:s@a.test", NULL},
	 .error = "size record at offset"},
	{.name = "content record in the envelope", .items = {"T:1700000005 0", "S:s@a.test", "N:x", NULL},
	 .error = "unexpected record type 78"},
	{.name = "pointer loop", .items = {"T:1700000005 0", "S:s@a.test", "R:a@b.test", "p:@3", NULL},
	 .error = "pointer loop"},
	{.name = "pointer past the end", .items = {"T:1700000005 0", "S:s@a.test", "p:      999999", NULL},
	 .error = "bad pointer record"},
	{.name = "bad time", .items = {"T:yesterday", "S:s@a.test", NULL},
	 .error = "bad time record"},
	{.name = "bad notify", .items = {"T:1700000005 0", "S:s@a.test", "A:notify_flags=99", NULL},
	 .error = "bad notify_flags"},
};

static void test_parse_table(void **state)
{
	struct buf b;

	buf_init(&b, 1024);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pf_msg m;
		const char *err = NULL;
		int rc;

		build(&b, cases[i].items);
		rc = pf_msg_parse(b.data, b.len, &m, &err);
		if (cases[i].error) {
			if (rc != -1 || strstr(err, cases[i].error) == NULL)
				fail_msg("%s: want error \"%s\", got %d \"%s\"", cases[i].name,
					 cases[i].error, rc, rc < 0 ? err : "");
			continue;
		}
		if (rc != 0)
			fail_msg("%s: %s", cases[i].name, err);
		assert_string_equal(m.sender, cases[i].sender);
		assert_string_equal(m.envid, cases[i].envid);
		assert_int_equal(m.ret, cases[i].ret);
		assert_int_equal(m.is_queue_file, cases[i].queue_file);
		assert_int_equal(m.arrival_sec, cases[i].sec);
		assert_int_equal(m.arrival_usec, cases[i].usec);
		assert_string_equal(m.content.data, cases[i].content);
		assert_int_equal(m.rcpt_count, cases[i].nrcpt);
		assert_int_equal(m.dropped->argc, cases[i].ndropped);
		for (size_t r = 0; r < m.rcpt_count; r++) {
			const struct want_rcpt *w = &cases[i].rcpts[r];

			assert_string_equal(m.rcpts[r].address, w->address);
			assert_string_equal(m.rcpts[r].orig_rcpt, w->orig);
			assert_string_equal(m.rcpts[r].dsn_orcpt, w->orcpt);
			assert_int_equal(m.rcpts[r].notify, w->notify);
			assert_int_equal(m.rcpts[r].done, w->done);
		}
		pf_msg_deinit(&m);
	}
	buf_deinit(&b);
}

/* every truncation of a good file is an error, never a crash or a parse */
static void test_truncated(void **state)
{
	struct buf b;

	buf_init(&b, 1024);
	build(&b, cases[0].items);
	for (size_t len = 0; len < b.len; len++) {
		struct pf_msg m;
		const char *err;

		assert_int_equal(pf_msg_parse(b.data, len, &m, &err), -1);
	}
	buf_deinit(&b);
}

/* record framing: multi-byte lengths, overlong and truncated headers */
static void test_rec_next(void **state)
{
	struct buf b;
	char big[300];
	const char *val;
	size_t pos = 0, vlen;
	int type;

	memset(big, 'x', sizeof(big));
	buf_init(&b, 512);
	put(&b, 'N', big, sizeof(big));
	assert_int_equal(pf_rec_next(b.data, b.len, &pos, &type, &val, &vlen), 1);
	assert_int_equal(type, 'N');
	assert_int_equal(vlen, sizeof(big));
	assert_int_equal(pos, b.len);
	assert_int_equal(pf_rec_next(b.data, b.len, &pos, &type, &val, &vlen), 0);
	pos = 0;
	assert_int_equal(pf_rec_next(b.data, b.len - 1, &pos, &type, &val, &vlen), -1);
	pos = 0;
	assert_int_equal(pf_rec_next("N\xff\xff\xff\xff\xff\x01", 7, &pos, &type, &val, &vlen), -1);
	buf_deinit(&b);
}

static void test_defer_log(void **state)
{
	static const char log[] =
		"\n<a@b.test>: connect to x: Connection refused\n"
		"recipient=a@b.test\noffset=279\ndsn_orig_rcpt=rfc822;a@b.test\n"
		"notify_flags=10\nstatus=4.4.1\naction=delayed\n"
		"reason=connect to x: Connection refused\n\n"
		"\n<c@b.test>: 450 try later\n"
		"recipient=c@b.test\noffset=368\nstatus=4.2.0\naction=delayed\n"
		"reason=host said: 450 4.2.0 a=b\n\n"
		"recipient=torn@b.test\nstatus=4.";
	struct pf_defer *recs;
	size_t n = pf_defer_parse(log, strlen(log), &recs);

	assert_int_equal(n, 2);
	assert_string_equal(recs[0].recipient, "a@b.test");
	assert_int_equal(recs[0].offset, 279);
	assert_string_equal(recs[0].dsn_orcpt, "rfc822;a@b.test");
	assert_int_equal(recs[0].notify, 10);
	assert_string_equal(recs[0].status, "4.4.1");
	assert_string_equal(recs[0].reason, "connect to x: Connection refused");
	assert_string_equal(recs[1].recipient, "c@b.test");
	assert_string_equal(recs[1].orig_rcpt, "");
	assert_string_equal(recs[1].reason, "host said: 450 4.2.0 a=b");
	pf_defer_free(&recs, n);
	assert_null(recs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_rec_next),
		cmocka_unit_test(test_defer_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
