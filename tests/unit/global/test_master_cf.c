/*
 * test_master_cf - master.cf rows: fields and their defaults, wakeup and
 * maxproc forms, -o options in every spelling, grouped arguments, each error
 * message, the built-in default and the printer that reproduces it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/master_cf.h"
#include "global/params.h"
#include "testlib.h"
#include "util/argv.h"
#include "util/buf.h"

/* join - argv as one string, "|" separated, for compact expectations */
static char *join(const struct argv *a)
{
	struct buf *b = buf_create(64);
	char *s;

	for (size_t i = 0; i < a->argc; i++) {
		if (i)
			buf_putc(b, '|');
		buf_puts(b, a->argv[i]);
	}
	s = buf_steal(b);
	buf_free(&b);
	return s;
}

/* good rows: one entry each, every field checked */
static void test_entries(void **state)
{
	static const struct {
		const char *text;
		const char *service, *type;
		bool private_, unpriv, chroot;
		int wakeup;
		bool if_used;
		long maxproc;
		const char *command, *args, *overrides;
	} rows[] = {
		{"smtp unix - - n - - smtp\n", "smtp", "unix", true, true, false, 0, false, 100,
		 "smtp", "", ""},
		{"pickup fifo n - n 60 1 pickup\n", "pickup", "fifo", false, true, false, 60,
		 false, 1, "pickup", "", ""},
		{"qmgr fifo n - n 300? 1 qmgr -v\n", "qmgr", "fifo", false, true, false, 300, true,
		 1, "qmgr", "-v", ""},
		{"local unix - n y 0 0 local\n", "local", "unix", true, false, true, 0, false, 0,
		 "local", "", ""},
		{"127.0.0.1:2525 inet n - - - 10 smtpd\n", "127.0.0.1:2525", "inet", false, true,
		 false, 0, false, 10, "smtpd", "", ""},
		{"x pass y y n - - x\n", "x", "pass", true, true, false, 0, false, 100, "x", "", ""},
		{"relay unix - - n - - smtp -o smtp_helo_timeout=5 -o { smtp_bind_address = 1.2.3.4 }\n",
		 "relay", "unix", true, true, false, 0, false, 100, "smtp",
		 "-o|smtp_helo_timeout=5|-o|smtp_bind_address=1.2.3.4",
		 "smtp_helo_timeout=5|smtp_bind_address=1.2.3.4"},
		{"relay unix - - n - - smtp\n  -o a=b\n# comment\n\n  -ohelo=x -o {c= d e }\n",
		 "relay", "unix", true, true, false, 0, false, 100, "smtp",
		 "-o|a=b|-o|helo=x|-o|c=d e", "a=b|helo=x|c=d e"},
		{"mailman unix - n n - - pipe flags=FR user=list argv=/usr/bin/x ${nexthop} "
		 "{ two words }\n", "mailman", "unix", true, false, false, 0, false, 100, "pipe",
		 "flags=FR|user=list|argv=/usr/bin/x|${nexthop}|two words", ""},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct master_ent *ents = NULL;
		size_t count = 0;
		const char *error = NULL;
		char *s;

		if (master_cf_parse("master.cf", rows[i].text, &ents, &count, &error) < 0)
			fail_msg("row %zu: %s", i, error);
		assert_int_equal(count, 1);
		assert_string_equal(ents[0].service, rows[i].service);
		assert_string_equal(ents[0].type, rows[i].type);
		assert_int_equal(ents[0].private_, rows[i].private_);
		assert_int_equal(ents[0].unpriv, rows[i].unpriv);
		assert_int_equal(ents[0].chroot, rows[i].chroot);
		assert_int_equal(ents[0].wakeup, rows[i].wakeup);
		assert_int_equal(ents[0].wakeup_if_used, rows[i].if_used);
		assert_int_equal(ents[0].maxproc, rows[i].maxproc);
		assert_string_equal(ents[0].command, rows[i].command);
		assert_int_equal(ents[0].line, 1);
		s = join(ents[0].args);
		assert_string_equal(s, rows[i].args);
		free(s);
		s = join(ents[0].overrides);
		assert_string_equal(s, rows[i].overrides);
		free(s);
		master_cf_free(&ents, count);
		assert_null(ents);
	}
}

/* bad rows: the exact "FILE:LINE: what is wrong" */
static void test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *error;
	} rows[] = {
		{"smtp unix - - n - -\n",
		 "/x/master.cf:1: missing fields (need service, type, private, unpriv, chroot, "
		 "wakeup, maxproc and command)"},
		{"# c\n\nsmtp tcp - - n - - smtp\n",
		 "/x/master.cf:3: bad service type \"tcp\" (must be unix, fifo, inet, pass or "
		 "unix-dgram)"},
		{"smtp unix yes - n - - smtp\n",
		 "/x/master.cf:1: bad private field \"yes\" (must be y, n or -)"},
		{"smtp unix - x n - - smtp\n",
		 "/x/master.cf:1: bad unpriv field \"x\" (must be y, n or -)"},
		{"smtp unix - - maybe - - smtp\n",
		 "/x/master.cf:1: bad chroot field \"maybe\" (must be y, n or -)"},
		{"smtp unix - - n soon - smtp\n",
		 "/x/master.cf:1: bad wakeup time \"soon\" (must be N, N? or -)"},
		{"smtp unix - - n 5?x - smtp\n",
		 "/x/master.cf:1: bad wakeup time \"5?x\" (must be N, N? or -)"},
		{"smtp unix - - n ? - smtp\n",
		 "/x/master.cf:1: bad wakeup time \"?\" (must be N, N? or -)"},
		{"smtp unix - - n -1 - smtp\n",
		 "/x/master.cf:1: bad wakeup time \"-1\" (must be N, N? or -)"},
		{"smtp unix - - n - -1 smtp\n",
		 "/x/master.cf:1: bad process limit \"-1\" (must be a number or -)"},
		{"smtp unix - - n - many smtp\n",
		 "/x/master.cf:1: bad process limit \"many\" (must be a number or -)"},
		{"smtp unix - - n - - smtp -o\n", "/x/master.cf:1: -o option without name=value"},
		/* -o takes one word: "x" has no '=' (braces are needed around spaces) */
		{"relay unix - - n - - smtp\n  -o x = y\n",
		 "/x/master.cf:1: -o option without name=value"},
		{"smtp unix - - n - - smtp -o { = x }\n",
		 "/x/master.cf:1: -o option without parameter name"},
		{"smtp unix - - n - - smtp -o { a = b\n", "/x/master.cf:1: missing '}'"},
		{"smtp unix - - n - - smtp {a}b\n",
		 "/x/master.cf:1: text after '}' without white space"},
		{"  -o a=b\nsmtp unix - - n - - smtp\n",
		 "/x/master.cf:1: line starts with white space, but there is no entry to continue"},
		{"smtp unix - - n - - smtp\nrelay unix - - n - - smtp\nsmtp unix - - n - - smtp\n",
		 "/x/master.cf:3: duplicate service \"smtp\" type unix (also at line 1)"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct master_ent *ents = (struct master_ent *)1;
		size_t count = 99;
		const char *error = NULL;

		assert_int_equal(master_cf_parse("/x/master.cf", rows[i].text, &ents, &count,
						 &error), -1);
		assert_string_equal(error, rows[i].error);
		assert_ptr_equal(ents, (struct master_ent *)1);
	}
}

/* the same service name with another type is not a duplicate */
static void test_same_name_other_type(void **state)
{
	struct master_ent *ents;
	size_t count;
	const char *error;

	assert_int_equal(master_cf_parse("m", "qmgr fifo n - n 300 1 qmgr\n"
					 "qmgr unix n - n 300 1 qmgr\n", &ents, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_ptr_equal(master_cf_find(ents, count, "qmgr", "unix"), &ents[1]);
	assert_ptr_equal(master_cf_find(ents, count, "qmgr", NULL), &ents[0]);
	assert_null(master_cf_find(ents, count, "qmgr", "inet"));
	assert_null(master_cf_find(ents, count, "smtp", NULL));
	master_cf_free(&ents, count);
}

/* the built-in default: its meaning, and -M prints it back exactly */
static void test_builtin_default(void **state)
{
	struct master_ent *ents;
	size_t count;
	const char *error;
	const struct master_ent *e;
	struct buf *out = buf_create(1024);

	assert_int_equal(master_cf_read(NULL, &ents, &count, &error), 0);
	assert_int_equal(count, 15);
	/* SMTP on loopback only, at a port above 1024. */
	e = master_cf_find(ents, count, "127.0.0.1:2525", "inet");
	assert_non_null(e);
	assert_string_equal(e->command, "smtpd");
	/* lmtp: the smtp program under the name that makes it speak LMTP. */
	e = master_cf_find(ents, count, "lmtp", "unix");
	assert_non_null(e);
	assert_string_equal(e->command, "lmtp");
	e = master_cf_find(ents, count, "pickup", "fifo");
	assert_non_null(e);
	assert_false(e->private_);
	assert_int_equal(e->wakeup, 60);
	assert_int_equal(e->maxproc, 1);
	e = master_cf_find(ents, count, "qmgr", "fifo");
	assert_int_equal(e->wakeup, 300);
	e = master_cf_find(ents, count, "defer", "unix");
	assert_string_equal(e->command, "bounce");
	assert_int_equal(e->maxproc, 0);
	e = master_cf_find(ents, count, "local", "unix");
	assert_false(e->unpriv);
	assert_true(e->private_);
	e = master_cf_find(ents, count, "retry", "unix");
	assert_string_equal(e->command, "error");
	assert_int_equal(e->maxproc, var_default_process_limit > 0 ? var_default_process_limit
			 : 100);
	for (size_t i = 0; i < count; i++)
		assert_false(ents[i].chroot);

	master_cf_print(out, ents, count);
	assert_string_equal(buf_str(out), master_cf_default);
	master_cf_free(&ents, count);
	buf_free(&out);
}

/* printing: long names push columns, -o values with spaces get braces */
static void test_print(void **state)
{
	struct master_ent *ents;
	size_t count;
	const char *error;
	struct buf *out = buf_create(256);

	assert_int_equal(master_cf_parse("m", "averyveryverylongname unix - - n 10? - smtp\n"
					 "relay unix - - n - - smtp -o { x = a b } -v\n",
					 &ents, &count, &error), 0);
	master_cf_print(out, ents, count);
	assert_string_equal(buf_str(out),
			    "averyveryverylongname unix - -  n       10?     -       smtp\n"
			    "relay     unix  -       -       n       -       -       smtp -o {x=a b} -v\n");
	master_cf_free(&ents, count);
	buf_free(&out);
}

/* master_ent_override: later -o options win */
static void test_override_lookup(void **state)
{
	struct master_ent *ents;
	size_t count;
	const char *error;

	assert_int_equal(master_cf_parse("m", "smtp unix - - n - - smtp -o a=1 -o ab=2 -o a=3 "
					 "-o e=\n", &ents, &count, &error), 0);
	assert_string_equal(master_ent_override(&ents[0], "a"), "3");
	assert_string_equal(master_ent_override(&ents[0], "ab"), "2");
	assert_string_equal(master_ent_override(&ents[0], "e"), "");
	assert_null(master_ent_override(&ents[0], "b"));
	master_cf_free(&ents, count);
}

/* master_cf_read: a directory without master.cf gets the default; files name themselves */
static void test_read_files(void **state)
{
	char *dir = testlib_tmpdir("test_master_cf");
	struct master_ent *ents;
	size_t count;
	const char *error;
	char *path, *expect;

	assert_int_equal(master_cf_read(dir, &ents, &count, &error), 0);
	assert_int_equal(count, 15);
	master_cf_free(&ents, count);

	if (asprintf(&path, "%s/master.cf", dir) < 0)
		fail();
	testlib_master_cf(dir, "# only one\nsmtp unix - - n - 7 smtp\n");
	assert_int_equal(master_cf_read(dir, &ents, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(ents[0].line, 2);
	assert_int_equal(ents[0].maxproc, 7);
	master_cf_free(&ents, count);

	testlib_master_cf(dir, "smtp unix - - n - 7\n");
	assert_int_equal(master_cf_read(dir, &ents, &count, &error), -1);
	if (asprintf(&expect, "%s:1: missing fields (need service, type, private, unpriv, "
		     "chroot, wakeup, maxproc and command)", path) < 0)
		fail();
	assert_string_equal(error, expect);
	free(expect);
	free(path);
	assert_int_equal(testlib_rmtree(dir), 0);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_same_name_other_type),
		cmocka_unit_test(test_builtin_default),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_override_lookup),
		cmocka_unit_test(test_read_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
