/*
 * test_sasl_options - Postfix's SASL security option words as SASL_SEC_*
 * bits, and the first unknown word named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <sasl/sasl.h>

#include "global/sasl_options.h"

static void test_words(void **state)
{
	static const struct {
		const char *list;
		int want;		/* -1: refused */
		const char *bad;
	} cases[] = {
		{"", 0, NULL},
		{"noanonymous", SASL_SEC_NOANONYMOUS, NULL},
		{"noplaintext, noanonymous", SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS, NULL},
		{"NoActive\tnodictionary", SASL_SEC_NOACTIVE | SASL_SEC_NODICTIONARY, NULL},
		{"forward_secrecy mutual_auth", SASL_SEC_FORWARD_SECRECY | SASL_SEC_MUTUAL_AUTH,
		 NULL},
		{" , noanonymous ,, ", SASL_SEC_NOANONYMOUS, NULL},
		{"noanonymous, nosuch, alsobad", -1, "nosuch"},
		{"plaintext", -1, "plaintext"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *bad = NULL;
		int got = sasl_security_flags(cases[i].list, &bad);

		if (got != cases[i].want)
			fail_msg("\"%s\": got %d, want %d", cases[i].list, got, cases[i].want);
		if (cases[i].bad && (bad == NULL || strcmp(bad, cases[i].bad) != 0))
			fail_msg("\"%s\": bad word \"%s\", want \"%s\"", cases[i].list,
				 bad ? bad : "(null)", cases[i].bad);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
