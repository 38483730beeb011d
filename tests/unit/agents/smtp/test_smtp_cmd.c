/*
 * test_smtp_cmd - EHLO feature parsing and the MAIL FROM / RCPT TO
 * commands: parameters only when offered, xtext, address quoting, and no
 * way for an address to smuggle a line break into the command stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/smtp/smtp_cmd.h"
#include "agents/smtp/smtp_reply.h"
#include "global/deliver_request.h"
#include "global/dsn.h"
#include "util/buf.h"
#include "reply_of.h"

static const struct {
	const char *text;
	int features;
	long size;
} ehlo_cases[] = {
	{"250 mx.test", SMTP_FEAT_ESMTP, 0},
	{"250-mx.test hi\n250-PIPELINING\n250-SIZE 10240000\n250-8BITMIME\n250-DSN\n"
	 "250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250 SMTPUTF8",
	 SMTP_FEAT_ESMTP | SMTP_FEAT_PIPELINING | SMTP_FEAT_SIZE | SMTP_FEAT_8BITMIME |
		 SMTP_FEAT_DSN | SMTP_FEAT_STARTTLS | SMTP_FEAT_ENHANCEDSTATUSCODES |
		 SMTP_FEAT_SMTPUTF8,
	 10240000},
	{"250-mx.test\n250-pipelining\n250 size", SMTP_FEAT_ESMTP | SMTP_FEAT_PIPELINING |
	 SMTP_FEAT_SIZE, 0},
	/* Look-alikes are not the keyword; the greeting line is not a keyword. */
	{"250-PIPELINING is what I do\n250-PIPELININGX\n250-DSNX\n250 SIZEABLE 5",
	 SMTP_FEAT_ESMTP, 0},
	{"250-mx.test\n250-SIZE 1000 extra\n250 AUTH=LOGIN PLAIN",
	 SMTP_FEAT_ESMTP | SMTP_FEAT_SIZE, 1000},
	{"250-mx.test\n250-SIZE 99999999999999999999\n250 8BITMIME",
	 SMTP_FEAT_ESMTP | SMTP_FEAT_SIZE | SMTP_FEAT_8BITMIME, 1000000000000L},
};

/* EHLO replies into feature bits and the SIZE limit */
static void test_ehlo(void **state)
{
	for (size_t i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		struct smtp_reply r;
		long size = -1;
		int f;

		reply_of(&r, ehlo_cases[i].text);
		f = smtp_ehlo_features(&r, &size);
		if (f != ehlo_cases[i].features)
			fail_msg("case %zu: features %#x, want %#x", i, f, ehlo_cases[i].features);
		assert_int_equal(size, ehlo_cases[i].size);
		buf_deinit(&r.text);
	}
}

/* xtext: specials and non-printables as +XX */
static void test_xtext(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"simple@example.test", "simple@example.test"},
		{"a+b=c", "a+2Bb+3Dc"},
		{"sp ace", "sp+20ace"},
		{"caf\xc3\xa9", "caf+C3+A9"},
		{"", ""},
	};
	struct buf *b = buf_create(32);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(b);
		smtp_xtext(b, cases[i].in);
		assert_string_equal(buf_str(b), cases[i].want);
	}
	buf_free(&b);
}

/* addresses: dot-atoms as is, others quoted, null sender, no line breaks */
static void test_quote_addr(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"user@example.test", "<user@example.test>"},
		{"first.last@example.test", "<first.last@example.test>"},
		{"", "<>"},
		{"john doe@example.test", "<\"john doe\"@example.test>"},
		{"a..b@example.test", "<\"a..b\"@example.test>"},
		{".a@example.test", "<\".a\"@example.test>"},
		{"q\"uote@example.test", "<\"q\\\"uote\"@example.test>"},
		{"postmaster", "<postmaster>"},
		{"x@example.test>\r\nRCPT TO:<evil@x", "<\"x@example.test>??RCPT TO:<evil\"@x>"},
		{"evil\r\nDATA@example.test", "<\"evil??DATA\"@example.test>"},
	};
	struct buf *b = buf_create(32);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(b);
		smtp_quote_addr(b, cases[i].in);
		assert_string_equal(buf_str(b), cases[i].want);
		assert_null(strpbrk(buf_str(b), "\r\n"));
	}
	buf_free(&b);
}

/* MAIL FROM parameters follow the features (SMTPUTF8 only when asked and offered) */
static void test_mail_command(void **state)
{
	static const struct {
		int features;
		bool eightbit;
		int ret;
		const char *envid;
		const char *want;
		bool smtputf8;
	} cases[] = {
		{SMTP_FEAT_ESMTP, true, DSN_RET_FULL, "id1", "MAIL FROM:<s@example.test>\r\n", false},
		{SMTP_FEAT_ESMTP, false, 0, "", "MAIL FROM:<s@example.test>\r\n", true},
		{SMTP_FEAT_SMTPUTF8, false, 0, "", "MAIL FROM:<s@example.test>\r\n", false},
		{SMTP_FEAT_SMTPUTF8 | SMTP_FEAT_8BITMIME, true, 0, "",
		 "MAIL FROM:<s@example.test> BODY=8BITMIME SMTPUTF8\r\n", true},
		{SMTP_FEAT_SIZE, false, 0, "", "MAIL FROM:<s@example.test> SIZE=1234\r\n", false},
		{SMTP_FEAT_8BITMIME, false, 0, "", "MAIL FROM:<s@example.test>\r\n", false},
		{SMTP_FEAT_8BITMIME, true, 0, "", "MAIL FROM:<s@example.test> BODY=8BITMIME\r\n", false},
		{SMTP_FEAT_DSN, false, DSN_RET_HDRS, "a+b c",
		 "MAIL FROM:<s@example.test> RET=HDRS ENVID=a+2Bb+20c\r\n", false},
		{SMTP_FEAT_DSN, false, 0, NULL, "MAIL FROM:<s@example.test>\r\n", false},
		{SMTP_FEAT_SIZE | SMTP_FEAT_8BITMIME | SMTP_FEAT_DSN, true, DSN_RET_FULL, "e",
		 "MAIL FROM:<s@example.test> SIZE=1234 BODY=8BITMIME RET=FULL ENVID=e\r\n", false},
	};
	struct buf *b = buf_create(64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_mail_args m = {.sender = "s@example.test", .size = 1234,
					   .eightbit = cases[i].eightbit, .ret = cases[i].ret,
					   .envid = cases[i].envid, .smtputf8 = cases[i].smtputf8};

		buf_reset(b);
		smtp_mail_command(b, &m, cases[i].features);
		assert_string_equal(buf_str(b), cases[i].want);
	}
	buf_free(&b);
}

/* RCPT TO: NOTIFY and ORCPT only with DSN; ORCPT from dsn_orcpt or orig_rcpt */
static void test_rcpt_command(void **state)
{
	static const struct {
		int features;
		int notify;
		const char *orcpt, *orig;
		const char *want;
	} cases[] = {
		{SMTP_FEAT_ESMTP, DSN_NOTIFY_SUCCESS, "rfc822;o@x", "", "RCPT TO:<r@example.test>\r\n"},
		{SMTP_FEAT_DSN, 0, "", "", "RCPT TO:<r@example.test>\r\n"},
		{SMTP_FEAT_DSN, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY, "", "",
		 "RCPT TO:<r@example.test> NOTIFY=SUCCESS,DELAY\r\n"},
		{SMTP_FEAT_DSN, DSN_NOTIFY_NEVER, "rfc822;o+1@x", "",
		 "RCPT TO:<r@example.test> NOTIFY=NEVER ORCPT=rfc822;o+2B1@x\r\n"},
		{SMTP_FEAT_DSN, 0, "", "orig@example.test",
		 "RCPT TO:<r@example.test> ORCPT=rfc822;orig@example.test\r\n"},
		{SMTP_FEAT_DSN, 0, "noType@x", "", "RCPT TO:<r@example.test> ORCPT=rfc822;noType@x\r\n"},
		{SMTP_FEAT_DSN, 0, "bad type;a@x", "",
		 "RCPT TO:<r@example.test> ORCPT=rfc822;bad+20type;a@x\r\n"},
	};
	struct buf *b = buf_create(64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct deliver_rcpt r = {.address = (char *)"r@example.test",
					 .orig_rcpt = (char *)cases[i].orig,
					 .dsn_orcpt = (char *)cases[i].orcpt,
					 .notify = cases[i].notify, .offset = 1};

		buf_reset(b);
		smtp_rcpt_command(b, &r, cases[i].features);
		assert_string_equal(buf_str(b), cases[i].want);
	}
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_quote_addr),
		cmocka_unit_test(test_mail_command),
		cmocka_unit_test(test_rcpt_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
