/*
 * test_mail_conf - main.cf end to end through mail_conf_read(): comments,
 * continuation lines, later lines win, $name expansion in all its forms,
 * loops, every error message exactly, unknown-parameter warnings, typed
 * variables, per-transport look-ups with main.cf and master.cf -o,
 * process overrides, and "sluice config NAME=VALUE" rewriting.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/conf_line.h"
#include "global/mail_conf.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "testlib.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"

/* A scratch configuration directory per test. */
struct scratch {
	char *dir;
};

/* subst - tmpl with every "%s" replaced by dir. Caller frees. */
static char *subst(const char *tmpl, const char *dir)
{
	struct buf *b = buf_create(256);
	const char *cp;
	char *s;

	while ((cp = strstr(tmpl, "%s")) != NULL) {
		buf_append(b, tmpl, (size_t)(cp - tmpl));
		buf_puts(b, dir);
		tmpl = cp + 2;
	}
	buf_puts(b, tmpl);
	s = buf_steal(b);
	buf_free(&b);
	return s;
}

/* put - write (or with text NULL remove) DIR/name */
static void put(struct scratch *s, const char *name, const char *text)
{
	testlib_write_file(s->dir, name, text);
}

/* get - contents of DIR/name. Caller frees. */
static char *get(struct scratch *s, const char *name)
{
	char *path = xasprintf("%s/%s", s->dir, name), *text = NULL;

	if (conf_file_read(path, &text) < 0)
		fail_msg("read %s", path);
	free(path);
	return text;
}

static int setup(void **state)
{
	struct scratch *s = xcalloc(1, sizeof(*s));

	s->dir = testlib_tmpdir("test_mail_conf");
	unsetenv("SLUICE_CONFIG_DIR");
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;
	if (testlib_rmtree(s->dir) != 0)
		fprintf(stderr, "cannot remove %s\n", s->dir);
	free(s->dir);
	free(s);
	return 0;
}

/* load - main.cf and master.cf (NULL: absent), then mail_conf_read() */
static int load(struct scratch *s, const char *main_cf, const char *master_cf,
		const char **error_r)
{
	put(s, "main.cf", main_cf);
	put(s, "master.cf", master_cf);
	return mail_conf_read(s->dir, error_r);
}

/* load_ok - load or fail the test with the error */
static void load_ok(struct scratch *s, const char *main_cf, const char *master_cf)
{
	const char *error;

	if (load(s, main_cf, master_cf, &error) < 0)
		fail_msg("unexpected error: %s", error);
}

/* values: comments, continuations, later-wins, expansion forms */
static void test_values(void **state)
{
	static const struct {
		const char *main_cf;
		const char *name;
		const char *want;	/* NULL: not set anywhere */
	} rows[] = {
		{"# comment\nrelayhost = [a.test]:25\n", "relayhost", "[a.test]:25"},
		{"relayhost = a\nrelayhost = b\n", "relayhost", "b"},
		{"mydestination = a,\n# inner comment\n\n   b,\n\tc\n", "mydestination", "a, b, c"},
		{"relayhost=x\n", "relayhost", "x"},
		{"relayhost =\n", "relayhost", ""},
		{"relayhost =   spaced value   \n", "relayhost", "spaced value"},
		{"relayhost = a # not a comment\n", "relayhost", "a # not a comment"},
		{"relayhost = x\r\n", "relayhost", "x"},
		{"myhostname = mail.example.com\n", "mydomain", "example.com"},
		{"myhostname = mail.example.com\n", "myorigin", "mail.example.com"},
		{"myhostname = mail.example.com\n", "mydestination",
		 "mail.example.com, localhost.example.com, localhost"},
		{"myhostname = mail.example.com\n", "local_transport", "local:mail.example.com"},
		{"myhostname = nodots\n", "mydomain", "localdomain"},
		/* lazy: a value may refer to a parameter defined later */
		{"myorigin = $later\nlater = x.test\n", "myorigin", "x.test"},
		{"myorigin = ${later}.$(later)\nlater = x\n", "myorigin", "x.x"},
		{"myorigin = a$$b\n", "myorigin", "a$b"},
		{"myorigin = $$later\nlater = x\n", "myorigin", "$later"},
		{"myorigin = [$undefined]\n", "myorigin", "[]"},
		{"x = 1\nmyorigin = ${x?set} ${y?set} ${x:unset} ${y:unset}\n", "myorigin",
		 "set   unset"},
		{"x = 1\nmyorigin = ${x?{$x yes}:{no}}/${y?{yes}:{no}}\n", "myorigin", "1 yes/no"},
		{"x =\nmyorigin = ${x?{yes}:{no}}${x:empty}\n", "myorigin", "noempty"},
		{"x = $y\ny = $z\nz = deep\nmyorigin = $x\n", "myorigin", "deep"},
		/* user-defined and per-transport names */
		{"foo = bar\nmyorigin = $foo\n", "foo", "bar"},
		{"", "foo", NULL},
		{"", "smtp_destination_concurrency_limit", "20"},
		{"default_destination_concurrency_limit = 9\n", "relay_destination_concurrency_limit",
		 "9"},
		{"", "nosuch_destination_concurrency_limit", NULL},
		{"", "pipe_time_limit", NULL},
		{"", "local_destination_recipient_limit", "1"},
		{"", "maximal_queue_lifetime", "5d"},
	};
	struct scratch *s = *state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *v;

		load_ok(s, rows[i].main_cf, NULL);
		v = mail_conf_lookup(rows[i].name);
		if (rows[i].want == NULL) {
			if (v != NULL)
				fail_msg("row %zu: %s = \"%s\", want unset", i, rows[i].name, v);
		} else {
			if (v == NULL || strcmp(v, rows[i].want) != 0)
				fail_msg("row %zu: %s = \"%s\", want \"%s\"", i, rows[i].name,
					 v ? v : "(null)", rows[i].want);
		}
	}
	assert_string_equal(mail_conf_dir(), s->dir);
	assert_string_equal(mail_conf_lookup("config_directory"), s->dir);
}

/* errors: the exact text; "%s" stands for the scratch directory */
static void test_errors(void **state)
{
	static const struct {
		const char *main_cf;
		const char *master_cf;
		const char *error;
	} rows[] = {
		{"a = 1\n\nqmgr_message_active_limit = -3\n", NULL,
		 "%s/main.cf:3: qmgr_message_active_limit: bad numerical value \"-3\" "
		 "(must be >= 1)"},
		{"minimal_backoff_time = soon\n", NULL,
		 "%s/main.cf:1: minimal_backoff_time: bad time value \"soon\""},
		{"a = 1\n\n\n\n\n\nfoo\n", NULL, "%s/main.cf:7: missing '=' after parameter name"},
		{"= x\n", NULL, "%s/main.cf:1: missing parameter name before '='"},
		{"foo bar = x\n", NULL, "%s/main.cf:1: bad parameter name \"foo bar\""},
		{"  relayhost = x\n", NULL,
		 "%s/main.cf:1: line starts with white space, but there is no parameter to continue"},
		{"# x\n\n\nmyhostname = $mydomain\n", NULL,
		 "%s/main.cf:4: myhostname: recursive expansion of $myhostname"},
		{"myhostname = $myhostname.x\n", NULL,
		 "%s/main.cf:1: myhostname: recursive expansion of $myhostname"},
		{"a = $b\nb = x$a\n", NULL, "%s/main.cf:2: b: recursive expansion of $a"},
		{"myorigin = $a\na = $b\nb = ${c?$a}\nc = 1\n", NULL,
		 "%s/main.cf:3: b: recursive expansion of $a"},
		{"process_id = 5\n", NULL,
		 "%s/main.cf:1: process_id: read-only parameter, it cannot be set in main.cf"},
		{"relayhost = x$\n", NULL, "%s/main.cf:1: relayhost: empty macro name"},
		{"relayhost = ${\n", NULL, "%s/main.cf:1: relayhost: truncated macro reference"},
		{"relayhost = ${}\n", NULL, "%s/main.cf:1: relayhost: empty macro name"},
		{"relayhost = ${a!b}\n", NULL,
		 "%s/main.cf:1: relayhost: bad macro syntax after the parameter name"},
		{"x = abc\nqmgr_message_active_limit = $x\n", NULL,
		 "%s/main.cf:2: qmgr_message_active_limit: bad numerical value \"abc\""},
		{"soft_bounce = maybe\n", NULL,
		 "%s/main.cf:1: soft_bounce: bad boolean value \"maybe\" (must be yes or no)"},
		{"hash_queue_depth = 5\n", NULL,
		 "%s/main.cf:1: hash_queue_depth: bad numerical value \"5\" (must be <= 4)"},
		{"smtp_destination_concurrency_limit = many\n", NULL,
		 "%s/main.cf:1: smtp_destination_concurrency_limit: bad numerical value \"many\""},
		{"nosuch_destination_rate_delay = soon\n", NULL,
		 "%s/main.cf:1: nosuch_destination_rate_delay: bad time value \"soon\""},
		{"default_destination_concurrency_positive_feedback = 3\n", NULL,
		 "%s/main.cf:1: default_destination_concurrency_positive_feedback: bad value \"3\" "
		 "(the value must be between 0 and 1)"},
		{"", "smtp unix - - n - - smtp\n  -o smtp_destination_concurrency_limit=x\n",
		 "%s/master.cf:1: smtp_destination_concurrency_limit: bad numerical value \"x\""},
		{"", "# c\nsmtp unix - - n - - smtp -o smtp_helo_timeout=${x\n",
		 "%s/master.cf:2: smtp_helo_timeout: truncated macro reference"},
		{"", "smtp unix - - n - - smtp -o process_name=x\n",
		 "%s/master.cf:1: process_name: read-only parameter"},
		{"", "smtp unix - - n - - smtp -o\n", "%s/master.cf:1: -o option without name=value"},
	};
	struct scratch *s = *state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *error = NULL;
		char *want = subst(rows[i].error, s->dir);

		if (load(s, rows[i].main_cf, rows[i].master_cf, &error) == 0)
			fail_msg("row %zu: no error, want %s", i, want);
		if (strcmp(error, want) != 0)
			fail_msg("row %zu:\n got: %s\nwant: %s", i, error, want);
		free(want);
	}
}

/* expansion depth is bounded, both through names and through ${x?...} nesting */
static void test_deep_expansion(void **state)
{
	struct scratch *s = *state;
	struct buf *b = buf_create(4096);
	const char *error;

	/* 90 names deep is fine */
	for (int i = 1; i < 90; i++)
		buf_printf(b, "a%d = $a%d\n", i, i + 1);
	buf_puts(b, "a90 = end\nmyorigin = $a1\n");
	load_ok(s, buf_str(b), NULL);
	assert_string_equal(var_myorigin, "end");

	/* 200 names deep is not */
	buf_reset(b);
	for (int i = 1; i < 200; i++)
		buf_printf(b, "a%d = $a%d\n", i, i + 1);
	buf_puts(b, "a200 = end\n");
	assert_int_equal(load(s, buf_str(b), NULL, &error), -1);
	assert_non_null(strstr(error, ": parameter expansion nested too deeply"));

	/* nor is a value that nests conditionals 1000 deep */
	buf_reset(b);
	buf_puts(b, "x = 1\nmyorigin = ");
	for (int i = 0; i < 1000; i++)
		buf_puts(b, "${x?");
	for (int i = 0; i < 1000; i++)
		buf_puts(b, "}");
	buf_puts(b, "\n");
	assert_int_equal(load(s, buf_str(b), NULL, &error), -1);
	assert_non_null(strstr(error, "main.cf:2: myorigin: parameter expansion nested too deeply"));
	buf_free(&b);
}

/* typed variables, and a bad value never replaces the running one */
static void test_variables(void **state)
{
	struct scratch *s = *state;
	const char *error;

	load_ok(s, "", NULL);
	assert_int_equal(var_qmgr_message_active_limit, 20000);
	assert_int_equal(var_minimal_backoff_time, 300);
	assert_int_equal(var_maximal_queue_lifetime, 5 * 86400);
	assert_int_equal(var_delay_warning_time, 0);
	assert_int_equal(var_message_size_limit, 10240000);
	assert_true(var_helpful_warnings);
	assert_false(var_soft_bounce);
	assert_string_equal(var_queue_directory, "./var/spool");
	assert_string_equal(var_notify_classes, "resource, software");
	assert_string_equal(var_myorigin, var_myhostname);
	assert_non_null(strchr(var_myhostname, '.'));
	assert_string_equal(var_double_bounce_notice_recipient, "postmaster");
	assert_string_equal(var_process_name, mail_conf_lookup("process_name"));

	load_ok(s, "qmgr_message_active_limit = 100\nmaximal_queue_lifetime = 2\n"
		"delay_warning_time = 4\nsoft_bounce = YES\nminimal_backoff_time = 1m\n"
		"queue_directory = /q\n", NULL);
	assert_int_equal(var_qmgr_message_active_limit, 100);
	assert_int_equal(var_maximal_queue_lifetime, 2 * 86400);
	assert_int_equal(var_delay_warning_time, 4 * 3600);
	assert_true(var_soft_bounce);
	assert_int_equal(var_minimal_backoff_time, 60);
	assert_string_equal(var_queue_directory, "/q");

	/* A failed reload keeps every variable of the configuration in force. */
	assert_int_equal(load(s, "qmgr_message_active_limit = 0\nqueue_directory = /other\n",
			      NULL, &error), -1);
	assert_int_equal(var_qmgr_message_active_limit, 100);
	assert_string_equal(var_queue_directory, "/q");
	assert_string_equal(mail_conf_lookup("queue_directory"), "/q");
}

/* no main.cf, no master.cf: embedded defaults and the built-in master.cf */
static void test_missing_files(void **state)
{
	struct scratch *s = *state;
	const struct master_ent *ents;
	const char *error;
	char *missing;
	size_t count;

	load_ok(s, NULL, NULL);
	assert_int_equal(var_qmgr_message_active_limit, 20000);
	ents = mail_conf_master(&count);
	assert_int_equal(count, 15);
	assert_non_null(master_cf_find(ents, count, "retry", "unix"));
	assert_int_equal(master_cf_find(ents, count, "smtp", NULL)->maxproc, 100);

	load_ok(s, "default_process_limit = 7\n", NULL);
	ents = mail_conf_master(&count);
	assert_int_equal(master_cf_find(ents, count, "smtp", NULL)->maxproc, 7);
	assert_int_equal(master_cf_find(ents, count, "pickup", NULL)->maxproc, 1);

	missing = xasprintf("%s/nonexistent", s->dir);
	assert_int_equal(mail_conf_read(missing, &error), -1);
	assert_non_null(strstr(error, "nonexistent: No such file or directory"));
	free(missing);

	/* NULL directory: $SLUICE_CONFIG_DIR */
	put(s, "main.cf", "relayhost = from-env\n");
	setenv("SLUICE_CONFIG_DIR", s->dir, 1);
	assert_int_equal(mail_conf_read(NULL, &error), 0);
	assert_string_equal(var_relayhost, "from-env");
	unsetenv("SLUICE_CONFIG_DIR");
}

/* capture - run mail_conf_read with fd 2 redirected; returns what was logged */
static char *capture(struct scratch *s, const char *main_cf, const char *master_cf)
{
	char path[] = "/tmp/test_mail_conf_log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	const char *error;
	char *text = NULL;

	assert_true(fd >= 0 && saved >= 0);
	put(s, "main.cf", main_cf);
	put(s, "master.cf", master_cf);
	dup2(fd, 2);
	if (mail_conf_read(s->dir, &error) < 0) {
		dup2(saved, 2);
		fail_msg("%s", error);
	}
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(conf_file_read(path, &text), 0);
	unlink(path);
	return text;
}

/* unknown parameters warn, with the exceptions postconf makes */
static void test_unknown_warnings(void **state)
{
	struct scratch *s = *state;
	char *log, *want;

	log = capture(s, "# c\nrelayhost = x\nfoo_bar = 1\n"
		      "smtp_destination_concurrency_limit = 2\n"
		      "mailman_destination_recipient_limit = 1\n"
		      "nosuch_destination_recipient_limit = 1\n"
		      "used_elsewhere = 3\nmyorigin = ${used_elsewhere}\n"
		      "from_master = 4\n",
		      "smtp unix - - n - - smtp\nmailman unix - n n - - pipe\n"
		      "relay unix - - n - - smtp -o smtp_helo_name=$from_master -o bogus_option=1\n");
	want = xasprintf("%s/main.cf:3: warning: unknown parameter \"foo_bar\"", s->dir);
	assert_non_null(strstr(log, want));
	free(want);
	want = xasprintf("%s/main.cf:6: warning: unknown parameter "
			 "\"nosuch_destination_recipient_limit\"", s->dir);
	assert_non_null(strstr(log, want));
	free(want);
	want = xasprintf("%s/master.cf:3: warning: unknown parameter \"bogus_option\"", s->dir);
	assert_non_null(strstr(log, want));
	free(want);
	assert_null(strstr(log, "\"relayhost\""));
	assert_null(strstr(log, "\"smtp_destination_concurrency_limit\""));
	assert_null(strstr(log, "\"mailman_destination_recipient_limit\""));
	assert_null(strstr(log, "\"used_elsewhere\""));
	assert_null(strstr(log, "\"from_master\""));
	assert_null(strstr(log, "\"smtp_helo_name\""));
	free(log);

	log = capture(s, "relayhost = x\n", NULL);
	assert_null(strstr(log, "warning"));
	free(log);
}

/* obsolete and not-implemented settings warn where they are set */
static void test_unacted_warnings(void **state)
{
	struct scratch *s = *state;
	char *log, *want;

	log = capture(s, "# c\nqmgr_fudge_factor = 50\n",
		      "smtp unix - - n - - smtp -o qmgr_fudge_factor=20\n");
	want = xasprintf("%s/main.cf:2: warning: obsolete parameter \"qmgr_fudge_factor\" "
			 "is ignored", s->dir);
	assert_non_null(strstr(log, want));
	free(want);
	want = xasprintf("%s/master.cf:1: warning: obsolete parameter \"qmgr_fudge_factor\" "
			 "is ignored", s->dir);
	assert_non_null(strstr(log, want));
	free(want);
	free(log);
}

/* per-transport: main.cf, else that service's -o, else the global value */
static void test_transport_params(void **state)
{
	struct scratch *s = *state;
	const char *master =
		"smtp unix - - n - - smtp -o smtp_destination_concurrency_limit=4\n"
		"  -o smtp_destination_rate_delay=2m -o relay_destination_recipient_limit=99\n"
		"relay unix - - n - - smtp\n"
		"local unix - n n - - local\n"
		"slow unix - - n - - smtp -o slow_initial_destination_concurrency=$fast\n";
	const char *error;
	char *want;

	load_ok(s, "", NULL);
	assert_int_equal(transport_param_long("smtp", "default_destination_concurrency_limit"), 20);
	assert_int_equal(transport_param_long("local", "default_destination_recipient_limit"), 1);
	assert_int_equal(transport_param_long("local", "default_destination_concurrency_limit"), 2);
	assert_int_equal(transport_param_long("nosuch", "initial_destination_concurrency"), 5);
	assert_int_equal(transport_param_long("pipe", "command_time_limit"), 1000);
	assert_string_equal(transport_param_str("smtp",
		"default_destination_concurrency_positive_feedback"), "1");

	load_ok(s, "default_destination_concurrency_limit = 7\n"
		"relay_destination_concurrency_limit = 3\nfast = 11\n"
		"smtp_destination_concurrency_negative_feedback = 1/concurrency\n"
		"default_destination_rate_delay = 5s\n", master);
	/* main.cf beats -o; -o beats the global value */
	assert_int_equal(transport_param_long("smtp", "default_destination_concurrency_limit"), 4);
	assert_int_equal(transport_param_long("relay", "default_destination_concurrency_limit"), 3);
	assert_int_equal(transport_param_long("local", "default_destination_concurrency_limit"), 2);
	assert_int_equal(transport_param_long("error", "default_destination_concurrency_limit"), 7);
	assert_int_equal(transport_param_long("smtp", "default_destination_rate_delay"), 120);
	assert_int_equal(transport_param_long("relay", "default_destination_rate_delay"), 5);
	/* the -o of another service does not count */
	assert_int_equal(transport_param_long("relay", "default_destination_recipient_limit"), 50);
	/* -o values expand in the main.cf context */
	assert_int_equal(transport_param_long("slow", "initial_destination_concurrency"), 11);
	assert_string_equal(transport_param_str("smtp",
		"default_destination_concurrency_negative_feedback"), "1/concurrency");
	assert_string_equal(transport_param_str("relay",
		"default_destination_concurrency_negative_feedback"), "1");
	assert_string_equal(mail_conf_lookup("smtp_destination_concurrency_limit"), "4");
	assert_string_equal(mail_conf_default("relay_destination_concurrency_limit"),
			    "$default_destination_concurrency_limit");

	load_ok(s, "smtp_destination_concurrency_limit = 5\nfast = 1\n", master);
	assert_int_equal(transport_param_long("smtp", "default_destination_concurrency_limit"), 5);
	assert_int_equal(transport_param_long("slow", "initial_destination_concurrency"), 1);

	/* -o values are checked at load time: $fast is gone, so the value is empty. */
	assert_int_equal(load(s, "smtp_destination_concurrency_limit = 5\n", master, &error), -1);
	want = xasprintf("%s/master.cf:5: slow_initial_destination_concurrency: bad numerical "
			 "value \"\"", s->dir);
	assert_string_equal(error, want);
	free(want);
}

/* process overrides (-o), service -o options, read-only identity */
static void test_overrides(void **state)
{
	struct scratch *s = *state;
	const char *error;

	load_ok(s, "myhostname = a.example\nqmgr_message_active_limit = 50\n",
		"smtp unix - - n - - smtp -o smtp_helo_timeout=5 -o myhostname=b.example\n"
		"bad unix - - n - - smtp -o relayhost=x\n");
	assert_int_equal(mail_conf_override("qmgr_message_active_limit", "10", &error), 0);
	assert_int_equal(var_qmgr_message_active_limit, 10);
	assert_int_equal(mail_conf_override("qmgr_message_active_limit", "0", &error), -1);
	assert_string_equal(error, "qmgr_message_active_limit: bad numerical value \"0\" "
			    "(must be >= 1)");
	assert_int_equal(var_qmgr_message_active_limit, 10);
	assert_int_equal(mail_conf_override("process_id", "1", &error), -1);
	assert_string_equal(error, "process_id: read-only parameter");
	assert_int_equal(mail_conf_override("bad name", "1", &error), -1);

	/* An override reaches everything that refers to it. */
	assert_int_equal(mail_conf_override("myhostname", "c.example", &error), 0);
	assert_string_equal(var_myorigin, "c.example");
	assert_string_equal(var_mydomain, "example");

	assert_int_equal(mail_conf_apply_service("smtp", &error), 0);
	assert_int_equal(var_smtp_helo_timeout, 5);
	assert_string_equal(var_myhostname, "b.example");
	assert_string_equal(var_service_name, "smtp");
	assert_int_equal(mail_conf_apply_service("nosuch", &error), -1);

	mail_conf_set_process("qmgr", "qmgr");
	assert_string_equal(var_process_name, "qmgr");
	assert_string_equal(mail_conf_lookup("service_name"), "qmgr");
	assert_int_equal(var_process_id, (long)getpid());
	/* Reading again starts from main.cf; the identity stays. */
	load_ok(s, "qmgr_message_active_limit = 50\n", NULL);
	assert_int_equal(var_qmgr_message_active_limit, 50);
	assert_string_equal(var_process_name, "qmgr");
}

/* names and defaults for "sluice config" */
static void test_names_defaults(void **state)
{
	struct scratch *s = *state;
	struct argv *names;

	load_ok(s, "zeta = 1\nrelayhost = $zeta\nalpha = 2\n",
		"smtp unix - - n - - smtp\nmailman unix - n n - - pipe\npickup fifo n - n 60 1 pickup\n");
	names = mail_conf_names(MAIL_CONF_NAMES_MAIN_CF);
	assert_int_equal(names->argc, 3);
	assert_string_equal(names->argv[0], "alpha");
	assert_string_equal(names->argv[1], "relayhost");
	assert_string_equal(names->argv[2], "zeta");
	argv_free(&names);
	names = mail_conf_names(MAIL_CONF_NAMES_TABLE | MAIL_CONF_NAMES_SERVICE);
	assert_true(argv_find(names, "mailman_destination_recipient_limit") >= 0);
	assert_true(argv_find(names, "smtp_transport_rate_delay") >= 0);
	assert_true(argv_find(names, "smtp_time_limit") >= 0);
	assert_true(argv_find(names, "pickup_destination_recipient_limit") < 0);
	assert_true(argv_find(names, "zeta") < 0);
	for (size_t i = 1; i < names->argc; i++)
		assert_true(strcmp(names->argv[i - 1], names->argv[i]) < 0);
	argv_free(&names);
	/* main.cf names that are also table names appear once */
	names = mail_conf_names(MAIL_CONF_NAMES_TABLE | MAIL_CONF_NAMES_SERVICE
				| MAIL_CONF_NAMES_MAIN_CF);
	assert_true(argv_find(names, "zeta") >= 0);
	for (size_t i = 1; i < names->argc; i++)
		assert_true(strcmp(names->argv[i - 1], names->argv[i]) < 0);
	argv_free(&names);

	assert_string_equal(mail_conf_raw("relayhost"), "$zeta");
	assert_null(mail_conf_raw("myorigin"));
	assert_string_equal(mail_conf_default("myorigin"), "$myhostname");
	assert_string_equal(mail_conf_default("relayhost"), "");
	assert_string_equal(mail_conf_default("minimal_backoff_time"), "300s");
	assert_non_null(strchr(mail_conf_default("myhostname"), '.'));
	assert_null(mail_conf_default("zeta"));
	assert_string_equal(mail_conf_default("mailman_destination_rate_delay"),
			    "$default_destination_rate_delay");
}

/* edit - run mail_conf_edit on the scratch directory */
static int edit(struct scratch *s, const char *a1, const char *a2, const char **error_r)
{
	char *args[2] = {(char *)a1, (char *)a2};

	return mail_conf_edit(s->dir, args, a2 ? 2 : 1, error_r);
}

/* NAME=VALUE rewriting keeps comments, order and other lines */
static void test_edit(void **state)
{
	static const struct {
		const char *before;	/* NULL: no main.cf */
		const char *a1, *a2;
		const char *after;	/* NULL: refused, file unchanged */
		const char *error;
	} rows[] = {
		{"# top\nrelayhost = a\n\n# keep\nmyorigin = x\n", "relayhost=[b]:25", NULL,
		 "# top\nrelayhost = [b]:25\n\n# keep\nmyorigin = x\n", NULL},
		{"mydestination = a,\n# inner\n   b\nrelayhost = r\n", "mydestination = c", NULL,
		 "mydestination = c\n# inner\nrelayhost = r\n", NULL},
		{"relayhost = a\nmyorigin = o\nrelayhost = b\n  cont\n", "relayhost=z", NULL,
		 "relayhost = z\nmyorigin = o\n", NULL},
		{"# only a comment", "qmgr_message_active_limit=5", "relayhost=",
		 "# only a comment\nqmgr_message_active_limit = 5\nrelayhost =\n", NULL},
		{NULL, "minimal_backoff_time=10m", NULL, "minimal_backoff_time = 10m\n", NULL},
		{"relayhost = a\n", "relayhost=b", "relayhost=c", "relayhost = c\n", NULL},
		{"x = 1\n", "myorigin=$x.test", NULL, "x = 1\nmyorigin = $x.test\n", NULL},
		{"relayhost = a\n", "qmgr_message_active_limit=0", NULL, NULL,
		 "qmgr_message_active_limit: bad numerical value \"0\" (must be >= 1)"},
		{"relayhost = a\n", "maximal_backoff_time=later", NULL, NULL,
		 "maximal_backoff_time: bad time value \"later\""},
		{"relayhost = a\n", "myorigin=$myorigin", NULL, NULL,
		 "myorigin: recursive expansion of $myorigin"},
		{"relayhost = a\n", "process_name=x", NULL, NULL, "process_name: read-only parameter"},
		{"relayhost = a\n", "bad name=x", NULL, NULL, "bad parameter name \"bad name\""},
		{"relayhost = a\n", "relayhost", NULL, NULL,
		 "\"relayhost\": missing '=' after parameter name"},
		/* the edit would break a value that refers to it */
		{"x = 1\nqmgr_message_active_limit = $x\n", "x=abc", NULL, NULL,
		 "%s/main.cf:2: qmgr_message_active_limit: bad numerical value \"abc\""},
		/* a broken file can be repaired, and edited elsewhere */
		{"qmgr_message_active_limit = -3\n", "qmgr_message_active_limit=5", NULL,
		 "qmgr_message_active_limit = 5\n", NULL},
		{"minimal_backoff_time = soon\nfoo\n", "relayhost=x", NULL,
		 "minimal_backoff_time = soon\nfoo\nrelayhost = x\n", NULL},
	};
	struct scratch *s = *state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *error = NULL;
		char *text;
		int rc;

		put(s, "main.cf", rows[i].before);
		rc = edit(s, rows[i].a1, rows[i].a2, &error);
		if (rows[i].after) {
			if (rc < 0)
				fail_msg("row %zu: %s", i, error);
			text = get(s, "main.cf");
			assert_string_equal(text, rows[i].after);
			free(text);
		} else {
			char *want = subst(rows[i].error, s->dir);

			assert_int_equal(rc, -1);
			assert_string_equal(error, want);
			free(want);
			text = get(s, "main.cf");
			assert_string_equal(text, rows[i].before);
			free(text);
		}
	}
}

/* editing keeps the file's mode and leaves no temporary file */
static void test_edit_mode(void **state)
{
	struct scratch *s = *state;
	char *path = xasprintf("%s/main.cf", s->dir);
	const char *error;
	struct stat st;

	put(s, "main.cf", "relayhost = a\n");
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(edit(s, "relayhost=b", NULL, &error), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(testlib_count_files(s->dir), 1);
	free(path);
	assert_int_equal(mail_conf_edit("/nonexistent/dir", (char *[]){"a=b"}, 1, &error), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_expansion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_variables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unacted_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edit_mode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
