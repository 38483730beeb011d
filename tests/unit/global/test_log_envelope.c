/*
 * test_log_envelope - the " from=<> to=<> proto= helo=<>" tail of policy
 * log lines: parts left out when unknown, values escaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "global/log_envelope.h"
#include "util/buf.h"

static void test_tail(void **state)
{
	static const struct {
		const char *sender, *rcpt, *proto, *helo, *want;
	} cases[] = {
		{NULL, NULL, NULL, NULL, ""},
		{"", NULL, NULL, NULL, " from=<>"},
		{"a@b.test", "c@d.test", "ESMTP", "client.example",
		 " from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<client.example>"},
		{"a@b.test", NULL, "SMTP", NULL, " from=<a@b.test> proto=SMTP"},
		{NULL, "x\ny@d.test", NULL, "h\001", " to=<x\\012y@d.test> helo=<h\\001>"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;

		buf_init(&b, 16);
		log_envelope(&b, cases[i].sender, cases[i].rcpt, cases[i].proto, cases[i].helo);
		if (strcmp(b.data, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, b.data, cases[i].want);
		buf_deinit(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
