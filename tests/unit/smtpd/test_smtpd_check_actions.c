/*
 * test_smtpd_check_actions - the access(5) actions that do not answer the
 * command, table-driven: what each value records for the transaction and
 * what it returns (none, dunno, permit), the malformed ones skipped, and
 * every one skipped without a transaction (no MAIL FROM yet).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd_check.h"
#include "smtpd_check_actions.h"
#include "util/argv.h"

static void test_actions(void **state)
{
	static const struct {
		const char *value;
		int rc;
		bool discard, hold;
		const char *redirect, *filter, *prepend;
	} cases[] = {
		{"DISCARD", SMTPD_ACTION_PERMIT, true, false, NULL, NULL, NULL},
		{"discard some text", SMTPD_ACTION_PERMIT, true, false, NULL, NULL, NULL},
		{"HOLD", SMTPD_ACTION_DUNNO, false, true, NULL, NULL, NULL},
		{"Hold for review", SMTPD_ACTION_DUNNO, false, true, NULL, NULL, NULL},
		{"REDIRECT x@y.test", SMTPD_ACTION_DUNNO, false, false, "x@y.test", NULL, NULL},
		{"REDIRECT nobody", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"BCC nobody", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"FILTER smtp:[127.0.0.1]:10025", SMTPD_ACTION_DUNNO, false, false, NULL,
		 "smtp:[127.0.0.1]:10025", NULL},
		{"FILTER nocolon", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"FILTER :x", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"PREPEND X-Tag: yes", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, "X-Tag: yes"},
		{"PREPEND no header", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"PREPEND : empty name", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"WARN odd", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"INFO", SMTPD_ACTION_DUNNO, false, false, NULL, NULL, NULL},
		{"REJECT", SMTPD_ACTION_NONE, false, false, NULL, NULL, NULL},
		{"OK", SMTPD_ACTION_NONE, false, false, NULL, NULL, NULL},
		{"permit_mynetworks, reject", SMTPD_ACTION_NONE, false, false, NULL, NULL, NULL},
		{"HOLDING", SMTPD_ACTION_NONE, false, false, NULL, NULL, NULL},
		{"", SMTPD_ACTION_NONE, false, false, NULL, NULL, NULL},
	};

	(void)state;
	for (int with_mail = 0; with_mail <= 1; with_mail++) {
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct smtpd_actions a = {0};
			struct smtpd_check_ctx ctx = {
				.client = "host.test[192.0.2.1]", .helo = "client.test",
				.sender = with_mail ? "s@a.test" : NULL, .rcpt = with_mail ? "r@b.test" : NULL,
				.where = with_mail ? "RCPT" : "CONNECT", .proto = "ESMTP",
				.actions = &a,
			};
			int rc = smtpd_check_action(&ctx, "texthash:/t", cases[i].value, "r@b.test",
						    "Recipient address");
			int want = cases[i].rc;

			/* Without a transaction the message-level ones are skipped. */
			if (!with_mail && want == SMTPD_ACTION_PERMIT)
				want = SMTPD_ACTION_DUNNO;
			if (rc != want)
				fail_msg("\"%s\" (mail %d): rc %d, want %d", cases[i].value, with_mail,
					 rc, want);
			if (!with_mail) {
				if (a.discard || a.hold || a.redirect || a.filter || a.prepend || a.bcc)
					fail_msg("\"%s\": recorded without a transaction", cases[i].value);
				smtpd_actions_reset(&a);
				continue;
			}
			if (a.discard != cases[i].discard || a.hold != cases[i].hold)
				fail_msg("\"%s\": discard %d hold %d", cases[i].value, a.discard, a.hold);
			if ((a.redirect == NULL) != (cases[i].redirect == NULL)
			    || (a.redirect && strcmp(a.redirect, cases[i].redirect) != 0))
				fail_msg("\"%s\": redirect %s", cases[i].value,
					 a.redirect ? a.redirect : "(none)");
			if ((a.filter == NULL) != (cases[i].filter == NULL)
			    || (a.filter && strcmp(a.filter, cases[i].filter) != 0))
				fail_msg("\"%s\": filter %s", cases[i].value,
					 a.filter ? a.filter : "(none)");
			if ((a.prepend == NULL) != (cases[i].prepend == NULL)
			    || (a.prepend && (a.prepend->argc != 1
					      || strcmp(a.prepend->argv[0], cases[i].prepend) != 0)))
				fail_msg("\"%s\": prepend wrong", cases[i].value);
			if (a.bcc != NULL)
				fail_msg("\"%s\": a BCC recorded", cases[i].value);
			smtpd_actions_reset(&a);
			if (a.discard || a.hold || a.redirect || a.filter || a.prepend || a.bcc)
				fail_msg("\"%s\": not reset", cases[i].value);
		}
	}
}

/* BCC adds up: every address once per answer, in order. */
static void test_bcc(void **state)
{
	struct smtpd_actions a = {0};
	struct smtpd_check_ctx ctx = {.client = "h[192.0.2.1]", .sender = "s@a.test",
				      .rcpt = "r@b.test", .where = "RCPT", .actions = &a};

	(void)state;
	assert_int_equal(smtpd_check_action(&ctx, "t", "BCC one@c.test", "r@b.test", "R"),
			 SMTPD_ACTION_DUNNO);
	assert_int_equal(smtpd_check_action(&ctx, "t", "bcc two@c.test", "r@b.test", "R"),
			 SMTPD_ACTION_DUNNO);
	assert_non_null(a.bcc);
	assert_int_equal(a.bcc->argc, 2);
	assert_string_equal(a.bcc->argv[0], "one@c.test");
	assert_string_equal(a.bcc->argv[1], "two@c.test");
	smtpd_actions_reset(&a);
	assert_null(a.bcc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_bcc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
