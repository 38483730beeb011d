/*
 * test_smtpd_parse - the SMTP server's argument parsing, table-driven:
 * paths after MAIL FROM: / RCPT TO:, ESMTP parameters (SIZE, BODY,
 * SMTPUTF8, RET, ENVID, NOTIFY, ORCPT) with their refusals, xtext, and
 * source-route detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/dsn.h"
#include "smtpd_parse.h"

static void test_paths(void **state)
{
	static const struct {
		const char *line, *prefix, *path, *rest;	/* path NULL: refused */
	} cases[] = {
		{"FROM:<a@b.test>", "FROM:", "<a@b.test>", ""},
		{"from: <a@b.test> SIZE=10", "FROM:", "<a@b.test>", "SIZE=10"},
		{"FROM:<>", "FROM:", "<>", ""},
		{"TO:<\"x y>\"@b.test> NOTIFY=NEVER", "TO:", "<\"x y>\"@b.test>", "NOTIFY=NEVER"},
		{"TO:a@b.test", "TO:", "a@b.test", ""},
		{"TO:<a@b.test", "TO:", NULL, NULL},
		{"TO:<a@b.test>junk", "TO:", NULL, NULL},
		{"FROM:", "FROM:", NULL, NULL},
		{"TO:<a@b.test>", "FROM:", NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *line = strdup(cases[i].line), *path, *rest;
		int rc = smtpd_parse_path(line, cases[i].prefix, &path, &rest);

		if (cases[i].path == NULL) {
			assert_int_equal(rc, -1);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(path, cases[i].path);
			assert_string_equal(rest, cases[i].rest);
		}
		free(line);
	}
}

static void test_params(void **state)
{
	static const struct {
		const char *text;
		bool rcpt;
		const char *reply;	/* NULL: accepted */
		long size;
		int ret, notify;
		const char *envid, *orcpt;
	} cases[] = {
		{"", false, NULL, -1, 0, 0, NULL, NULL},
		{"SIZE=1000 BODY=8BITMIME", false, NULL, 1000, 0, 0, NULL, NULL},
		{"RET=hdrs ENVID=A+2BB", false, NULL, -1, DSN_RET_HDRS, 0, "A+B", NULL},
		{"SMTPUTF8", false, NULL, -1, 0, 0, NULL, NULL},
		{"SIZE=x", false, "501 5.5.4 Bad message size syntax", 0, 0, 0, NULL, NULL},
		{"SIZE=1 SIZE=2", false, "555 5.5.4 Unsupported option", 0, 0, 0, NULL, NULL},
		{"BODY=BINARYMIME", false, "501 5.5.4 Unsupported BODY parameter value", 0, 0, 0,
		 NULL, NULL},
		{"RET=ALL", false, "501 5.5.4 Bad RET parameter syntax", 0, 0, 0, NULL, NULL},
		{"ENVID=a+zz", false, "501 5.5.4 Bad ENVID parameter syntax", 0, 0, 0, NULL, NULL},
		{"AUTH=u+40c.example SIZE=5", false, NULL, 5, 0, 0, NULL, NULL},
		{"AUTH=<>", false, NULL, -1, 0, 0, NULL, NULL},
		{"AUTH=a+zz", false, "501 5.5.4 Bad AUTH parameter syntax", 0, 0, 0, NULL, NULL},
		{"AUTH=", false, "501 5.5.4 Bad AUTH parameter syntax", 0, 0, 0, NULL, NULL},
		{"AUTH=u@x", true, "555 5.5.4 Unsupported option", 0, 0, 0, NULL, NULL},
		{"NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b.test", true, NULL, -1, 0,
		 DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE, NULL, "rfc822;a@b.test"},
		{"NOTIFY=SOMETIMES", true, "501 5.5.4 Bad NOTIFY parameter syntax", 0, 0, 0, NULL,
		 NULL},
		{"ORCPT=noaddrtype", true, "501 5.5.4 Bad ORCPT parameter syntax", 0, 0, 0, NULL,
		 NULL},
		{"SIZE=10", true, "555 5.5.4 Unsupported option", 0, 0, 0, NULL, NULL},
		{"NOTIFY=NEVER", false, "555 5.5.4 Unsupported option", 0, 0, 0, NULL, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = strdup(cases[i].text);
		struct smtpd_params p;
		const char *reply = NULL;
		int rc = smtpd_parse_params(text, cases[i].rcpt, &p, &reply);

		if (cases[i].reply) {
			assert_int_equal(rc, -1);
			assert_string_equal(reply, cases[i].reply);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(p.size, cases[i].size);
			assert_int_equal(p.ret, cases[i].ret);
			assert_int_equal(p.notify, cases[i].notify);
			if (cases[i].envid)
				assert_string_equal(p.envid, cases[i].envid);
			else
				assert_null(p.envid);
			if (cases[i].orcpt)
				assert_string_equal(p.orcpt, cases[i].orcpt);
			else
				assert_null(p.orcpt);
			smtpd_params_deinit(&p);
		}
		free(text);
	}
}

static void test_routes(void **state)
{
	(void)state;
	assert_true(smtpd_path_routed("<@a.test:b@c.test>"));
	assert_true(smtpd_path_routed("@a.test,@b.test:b@c.test"));
	assert_false(smtpd_path_routed("<b@c.test>"));
	assert_false(smtpd_path_routed("<>"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
