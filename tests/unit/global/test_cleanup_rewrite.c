/*
 * test_cleanup_rewrite - cleanup's envelope rewriting: masquerading (with
 * ! exceptions and masquerade_exceptions), canonical mapping by class,
 * virtual alias expansion (recursion, duplicates, self-reference, loops,
 * both limits), header fields (which fields, by class, incomplete
 * addresses), and an unreadable table as an error, never "not found".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/cleanup/cleanup_rewrite.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"

/* set - replace a string parameter */
static void set(char **var, const char *value)
{
	free(*var);
	*var = xstrdup(value);
}

static void test_masquerade(void **state)
{
	static const struct {
		const char *domains, *exceptions, *addr, *want;
	} rows[] = {
		{"example.test", "", "u@host.example.test", "u@example.test"},
		{"example.test", "", "u@a.b.example.test", "u@example.test"},
		{"example.test", "", "u@example.test", "u@example.test"},
		{"example.test", "", "u@notexample.test", "u@notexample.test"},
		{"!keep.example.test, example.test", "", "u@h.keep.example.test",
		 "u@h.keep.example.test"},
		{"!keep.example.test, example.test", "", "u@keep.example.test",
		 "u@keep.example.test"},
		{"!keep.example.test, example.test", "", "u@h.other.example.test",
		 "u@example.test"},
		{"sub.example.test, example.test", "", "u@h.sub.example.test",
		 "u@sub.example.test"},
		{"example.test", "root", "root@h.example.test", "root@h.example.test"},
		{"example.test", "", "nodomain", "nodomain"},
		{"", "", "u@h.example.test", "u@h.example.test"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *got;

		set(&var_masquerade_domains, rows[i].domains);
		set(&var_masquerade_exceptions, rows[i].exceptions);
		got = cleanup_masquerade(rows[i].addr);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row %zu: %s -> %s, want %s", i, rows[i].addr, got, rows[i].want);
		free(got);
	}
	set(&var_masquerade_domains, "");
}

static void test_canonical_classes(void **state)
{
	static const struct {
		const char *classes, *own_classes, *addr;
		bool sender;
		const char *want;
	} rows[] = {
		{"envelope_sender, envelope_recipient", "envelope_sender, envelope_recipient",
		 "a@x.test", true, "sa@y.test"},
		{"envelope_sender, envelope_recipient", "envelope_sender, envelope_recipient",
		 "a@x.test", false, "ra@y.test"},
		/* the own table by its own classes (sender_/recipient_canonical_classes) */
		{"envelope_sender, envelope_recipient", "envelope_sender", "a@x.test", false,
		 "a@x.test"},
		{"envelope_sender, envelope_recipient", "envelope_recipient", "a@x.test", true,
		 "a@x.test"},
		/* own table first, then canonical_maps on its answer */
		{"envelope_sender", "envelope_sender", "b@x.test", true, "common-b2@y.test"},
		/* canonical_maps by canonical_classes only */
		{"envelope_recipient", "envelope_sender", "b@x.test", true, "b2@x.test"},
		{"envelope_sender", "header_sender", "b2@x.test", true, "common-b2@y.test"},
		/* null sender is never rewritten */
		{"envelope_sender", "envelope_sender", "", true, ""},
	};

	(void)state;
	set(&var_sender_canonical_maps, "inline:{a@x.test=sa@y.test, b@x.test=b2@x.test}");
	set(&var_recipient_canonical_maps, "inline:{a@x.test=ra@y.test}");
	set(&var_canonical_maps, "inline:{b2@x.test=common-b2@y.test}");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *err;
		char *got;

		set(&var_canonical_classes, rows[i].classes);
		set(&var_sender_canonical_classes, rows[i].own_classes);
		set(&var_recipient_canonical_classes, rows[i].own_classes);
		assert_int_equal(rows[i].sender ? cleanup_rewrite_sender(rows[i].addr, &got, &err)
				 : cleanup_rewrite_rcpt(rows[i].addr, &got, &err), 0);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row %zu: %s -> %s, want %s", i, rows[i].addr, got, rows[i].want);
		free(got);
	}
	set(&var_sender_canonical_maps, "");
	set(&var_recipient_canonical_maps, "");
	set(&var_canonical_maps, "");
}

/* header fields: which are sender / recipient fields, classes, qualification */
static void test_header(void **state)
{
	static const struct {
		const char *canon_classes, *masq_classes, *domain, *in, *want;
	} rows[] = {
		{"header_sender, header_recipient", "header_sender", NULL,
		 "From: Ann <a@x.test>", "From: Ann <sa@y.test>"},
		{"header_sender, header_recipient", "header_sender", NULL,
		 "To: a@x.test, Bob <b@h.mq.test>", "To: ra@y.test, Bob <b@h.mq.test>"},
		{"header_sender, header_recipient", "header_sender, header_recipient", NULL,
		 "Cc: a@x.test,\n\tBob <b@h.mq.test> (b)", "Cc: ra@y.test,\n\tBob <b@mq.test> (b)"},
		{"header_recipient", "", NULL, "Reply-To: a@x.test", "Reply-To: a@x.test"},
		{"header_sender", "", NULL, "Resent-Sender: a@x.test", "Resent-Sender: sa@y.test"},
		{"header_sender", "", NULL, "Errors-To: a@x.test", "Errors-To: sa@y.test"},
		{"header_sender", "", NULL, "Return-Receipt-To: a@x.test",
		 "Return-Receipt-To: sa@y.test"},
		{"header_recipient", "", NULL, "Resent-To: a@x.test", "Resent-To: ra@y.test"},
		{"header_recipient", "", NULL, "bcc: a@x.test", "bcc: ra@y.test"},
		/* not an address field */
		{"header_sender, header_recipient", "header_sender", NULL,
		 "Subject: a@x.test", "Subject: a@x.test"},
		{"header_sender, header_recipient", "header_sender", NULL,
		 "X-Original-To: a@x.test", "X-Original-To: a@x.test"},
		/* incomplete addresses: @myorigin, or the remote domain */
		{"", "", NULL, "To: bob, \"Al\" <al>", "To: bob@origin.test, \"Al\" <al@origin.test>"},
		{"", "", "remote.invalid", "From: bob", "From: bob@remote.invalid"},
		/* the envelope classes leave headers alone */
		{"envelope_sender, envelope_recipient", "envelope_sender", NULL,
		 "From: a@h.mq.test", "From: a@h.mq.test"},
	};
	struct buf b;

	(void)state;
	set(&var_myorigin, "origin.test");
	set(&var_sender_canonical_maps, "inline:{a@x.test=sa@y.test}");
	set(&var_recipient_canonical_maps, "inline:{a@x.test=ra@y.test}");
	set(&var_masquerade_domains, "mq.test");
	buf_init(&b, 128);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *err;

		set(&var_canonical_classes, "");
		set(&var_sender_canonical_classes, rows[i].canon_classes);
		set(&var_recipient_canonical_classes, rows[i].canon_classes);
		set(&var_masquerade_classes, rows[i].masq_classes);
		buf_reset(&b);
		buf_puts(&b, rows[i].in);
		assert_true(cleanup_rewrite_header(&b, rows[i].domain, &err) >= 0);
		if (strcmp(buf_str(&b), rows[i].want) != 0)
			fail_msg("row %zu: %s -> %s, want %s", i, rows[i].in, buf_str(&b), rows[i].want);
	}
	/* a table that fails: an error, the field unchanged */
	set(&var_sender_canonical_maps, "hash:/nonexistent/canonical");
	set(&var_sender_canonical_classes, "header_sender");
	buf_reset(&b);
	buf_puts(&b, "From: a@x.test");
	{
		const char *err = NULL;

		assert_int_equal(cleanup_rewrite_header(&b, NULL, &err), REWRITE_ERROR);
		assert_non_null(err);
		assert_string_equal(buf_str(&b), "From: a@x.test");
	}
	buf_deinit(&b);
	set(&var_sender_canonical_maps, "");
	set(&var_recipient_canonical_maps, "");
	set(&var_masquerade_domains, "");
	set(&var_masquerade_classes, "");
}

static void test_virtual(void **state)
{
	static const struct {
		const char *rcpt;
		int rc;
		const char *want;	/* the addresses, joined with " " */
	} rows[] = {
		{"plain@v.test", 0, "plain@v.test"},
		{"list@v.test", 0, "a@r.test b@r.test c@r.test"},
		/* duplicates through two paths: once */
		{"dup@v.test", 0, "a@r.test b@r.test c@r.test"},
		/* a -> a, b keeps a */
		{"self@v.test", 0, "self@v.test x@r.test"},
		/* a loop ends where it closes: the address is kept */
		{"l1@v.test", 0, "l1@v.test"},
		{"unq@v.test", 0, "person@origin.test"},
		{"deep0@v.test", REWRITE_LIMIT, NULL},
		{"wide@v.test", REWRITE_LIMIT, NULL},
	};

	(void)state;
	set(&var_virtual_alias_maps,
	    "inline:{{list@v.test = a@r.test, team@v.test}, {team@v.test = b@r.test, c@r.test},"
	    " {dup@v.test = list@v.test, team@v.test, a@r.test},"
	    " {self@v.test = self@v.test, x@r.test}, l1@v.test=l2@v.test, l2@v.test=l1@v.test,"
	    " unq@v.test=person, deep0@v.test=deep1@v.test, deep1@v.test=deep2@v.test,"
	    " deep2@v.test=deep3@v.test, deep3@v.test=deep4@v.test, {wide@v.test = w1, w2, w3, w4}}");
	var_virtual_alias_recursion_limit = 3;
	var_virtual_alias_expansion_limit = 3;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct argv *out = argv_create();
		const char *err = NULL;
		char joined[500] = "";
		int rc = cleanup_virtual_expand(rows[i].rcpt, out, &err);

		if (rc != rows[i].rc)
			fail_msg("row %zu: %s: rc %d want %d", i, rows[i].rcpt, rc, rows[i].rc);
		if (rc == REWRITE_LIMIT) {
			assert_non_null(strstr(err, "5.4.6"));
		} else {
			for (size_t j = 0; j < out->argc; j++)
				snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined),
					 "%s%s", j ? " " : "", out->argv[j]);
			if (strcmp(joined, rows[i].want) != 0)
				fail_msg("row %zu: %s -> %s, want %s", i, rows[i].rcpt, joined,
					 rows[i].want);
		}
		argv_free(&out);
	}
	var_virtual_alias_recursion_limit = 1000;
	var_virtual_alias_expansion_limit = 1000;
}

static void test_unreadable(void **state)
{
	struct argv *out = argv_create();
	const char *err = NULL;
	char *got = NULL;

	(void)state;
	set(&var_virtual_alias_maps, "hash:/nonexistent/virtual");
	assert_int_equal(cleanup_virtual_expand("a@v.test", out, &err), REWRITE_ERROR);
	assert_string_equal(err, "4.3.0 lookup table not available");
	set(&var_canonical_classes, "envelope_recipient");
	set(&var_canonical_maps, "hash:/nonexistent/canonical");
	assert_int_equal(cleanup_rewrite_rcpt("a@v.test", &got, &err), REWRITE_ERROR);
	assert_null(got);
	set(&var_recipient_bcc_maps, "hash:/nonexistent/bcc");
	assert_int_equal(cleanup_bcc_rcpt("a@v.test", out, &err), REWRITE_ERROR);
	set(&var_canonical_maps, "");
	set(&var_virtual_alias_maps, "");
	set(&var_recipient_bcc_maps, "");
	argv_free(&out);
}

static int setup(void **state)
{
	(void)state;
	var_myorigin = xstrdup("origin.test");
	var_mydestination = xstrdup("origin.test");
	var_recipient_delimiter = xstrdup("+");
	var_propagate_unmatched_extensions = xstrdup("canonical, virtual");
	var_canonical_classes = xstrdup("");
	var_masquerade_classes = xstrdup("");
	var_masquerade_domains = xstrdup("");
	var_masquerade_exceptions = xstrdup("");
	var_sender_canonical_maps = xstrdup("");
	var_recipient_canonical_maps = xstrdup("");
	var_canonical_maps = xstrdup("");
	var_virtual_alias_maps = xstrdup("");
	var_sender_bcc_maps = xstrdup("");
	var_recipient_bcc_maps = xstrdup("");
	var_virtual_alias_recursion_limit = 1000;
	var_virtual_alias_expansion_limit = 1000;
	return 0;
}

static int teardown(void **state)
{
	char **vars[] = {&var_myorigin, &var_mydestination, &var_recipient_delimiter,
			 &var_propagate_unmatched_extensions, &var_canonical_classes,
			 &var_masquerade_classes, &var_masquerade_domains,
			 &var_masquerade_exceptions, &var_sender_canonical_maps,
			 &var_recipient_canonical_maps, &var_canonical_maps,
			 &var_virtual_alias_maps, &var_sender_bcc_maps, &var_recipient_bcc_maps};

	(void)state;
	cleanup_rewrite_reset();
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		free(*vars[i]);
		*vars[i] = NULL;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_masquerade),
		cmocka_unit_test(test_canonical_classes),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_virtual),
		cmocka_unit_test(test_unreadable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
