/*
 * test_pipe_args - the pipe service's master.cf attributes (good and bad
 * rows) and the expansion of its command vector: every macro, the
 * per-recipient repetition, the h/q/u flags, the null sender, "$$", and
 * unknown or malformed macros.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/pipe/pipe_args.h"
#include "util/argv.h"
#include "util/buf.h"

struct attr_case {
	const char *line;	/* words separated by single spaces */
	const char *want_error;	/* substring, NULL when valid */
	int want_flags;
	const char *want_user, *want_group, *want_argv, *want_eol;
	long want_size;
};

static const struct attr_case attr_cases[] = {
	{"flags=FR user=nobody argv=/bin/cmd ${sender} ${recipient}", NULL,
	 MAIL_COPY_FROM | MAIL_COPY_RETURN, "nobody", NULL, "/bin/cmd|${sender}|${recipient}", "\n", 0},
	{"user=mail:daemon argv=/x", NULL, 0, "mail", "daemon", "/x", "\n", 0},
	{"-o smtpd_x=y flags=DO.>Bhqu user=u -o a=b eol=\\r\\n size=1000 argv=/x -o z", NULL,
	 MAIL_COPY_DELIVERED | MAIL_COPY_ORIG_RCPT | MAIL_COPY_DOT | MAIL_COPY_QUOTE
	 | MAIL_COPY_BLANK | PIPE_FLAG_FOLD_HOST | PIPE_FLAG_QUOTE | PIPE_FLAG_FOLD_USER,
	 "u", NULL, "/x|-o|z", "\r\n", 1000},
	{"flags=X user=u directory=/tmp null_sender= argv=/x", NULL, PIPE_FLAG_FINAL, "u", NULL,
	 "/x", "\n", 0},
	{"flags=F argv=/x", "missing user=", 0, NULL, NULL, NULL, NULL, 0},
	{"user=u", "missing argv=", 0, NULL, NULL, NULL, NULL, 0},
	{"user=u argv=", "missing argv=", 0, NULL, NULL, NULL, NULL, 0},
	{"flags=Fz user=u argv=/x", "unknown flag \"z\"", 0, NULL, NULL, NULL, NULL, 0},
	{"user=u colour=blue argv=/x", "unknown attribute \"colour\"", 0, NULL, NULL, NULL, NULL, 0},
	{"user=u bare argv=/x", "bad attribute \"bare\"", 0, NULL, NULL, NULL, NULL, 0},
	{"user=u: argv=/x", "empty user or group", 0, NULL, NULL, NULL, NULL, 0},
	{"user=u size=big argv=/x", "bad size", 0, NULL, NULL, NULL, NULL, 0},
};

/* join - argv as "a|b|c" */
static char *join(const struct argv *a)
{
	struct buf b;

	buf_init(&b, 64);
	for (size_t i = 0; i < a->argc; i++) {
		if (i)
			buf_putc(&b, '|');
		buf_puts(&b, a->argv[i]);
	}
	char *s = buf_steal(&b);

	buf_deinit(&b);
	return s;
}

/* attribute rows */
static void test_attr(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(attr_cases) / sizeof(attr_cases[0]); i++) {
		const struct attr_case *c = &attr_cases[i];
		struct argv *words = argv_split(c->line, " ");
		struct pipe_attr attr;
		const char *error = NULL;
		int r = pipe_attr_parse(words->argv, words->argc, &attr, &error);

		if (c->want_error) {
			if (r != -1 || strstr(error, c->want_error) == NULL)
				fail_msg("\"%s\": got %d \"%s\", want error \"%s\"", c->line, r,
					 r < 0 ? error : "", c->want_error);
		} else {
			char *got;

			if (r != 0)
				fail_msg("\"%s\": unexpected error \"%s\"", c->line, error);
			assert_int_equal(attr.flags, c->want_flags);
			assert_string_equal(attr.user, c->want_user);
			if (c->want_group)
				assert_string_equal(attr.group, c->want_group);
			else
				assert_null(attr.group);
			got = join(attr.argv);
			assert_string_equal(got, c->want_argv);
			free(got);
			assert_string_equal(attr.eol, c->want_eol);
			assert_int_equal(attr.size_limit, c->want_size);
			pipe_attr_deinit(&attr);
		}
		argv_free(&words);
	}
}

/* null_sender= and directory= values */
static void test_attr_values(void **state)
{
	char *words[] = {"user=u", "directory=/var/tmp", "null_sender=", "argv=/x"};
	struct pipe_attr attr;
	const char *error;

	(void)state;
	assert_int_equal(pipe_attr_parse(words, 4, &attr, &error), 0);
	assert_string_equal(attr.directory, "/var/tmp");
	assert_string_equal(attr.null_sender, "");
	pipe_attr_deinit(&attr);
	assert_int_equal(pipe_attr_parse(words, 1 + 0, &attr, &error), -1);
}

struct expand_case {
	const char *tmpl;	/* words separated by single spaces */
	int flags;
	const char *sender;
	const char *want;	/* "|"-joined, or NULL for an error */
};

static char *const rcpts[] = {"Joe+Ext@Example.TEST", "ann@b.test", "john doe@c.test"};
static char *const origs[] = {"joe-orig@example.test", "", ""};

static const struct expand_case expand_cases[] = {
	{"/bin/cmd -f ${sender} -- ${recipient}", 0, "s@x.test",
	 "/bin/cmd|-f|s@x.test|--|Joe+Ext@Example.TEST|ann@b.test|john doe@c.test"},
	{"cmd $sender $(nexthop) ${size} ${queue_id}", 0, "s@x.test",
	 "cmd|s@x.test|Relay.Test|1234|4AbC"},
	{"cmd ${sender}", 0, "", "cmd|MAILER-DAEMON"},
	{"cmd --user=${user} ${extension}", 0, "s",
	 "cmd|--user=Joe|--user=ann|--user=john doe|Ext||"},
	{"cmd ${mailbox}@${domain}", 0, "s",
	 "cmd|Joe+Ext@Example.TEST|ann@b.test|john doe@c.test"},
	{"cmd ${original_recipient}", 0, "s",
	 "cmd|joe-orig@example.test|ann@b.test|john doe@c.test"},
	{"cmd ${recipient} ${nexthop}", PIPE_FLAG_FOLD_USER, "s",
	 "cmd|joe+ext@Example.TEST|ann@b.test|john doe@c.test|Relay.Test"},
	{"cmd ${recipient} ${nexthop} ${domain}", PIPE_FLAG_FOLD_HOST, "s",
	 "cmd|Joe+Ext@example.test|ann@b.test|john doe@c.test|relay.test|example.test|b.test|c.test"},
	{"cmd ${recipient} ${sender}", PIPE_FLAG_QUOTE, "a b@x",
	 "cmd|Joe+Ext@Example.TEST|ann@b.test|\"john doe\"@c.test|\"a b\"@x"},
	{"cmd ${user}", PIPE_FLAG_FOLD_USER, "s", "cmd|joe|ann|john doe"},
	{"cost=$$5 ${size}$$", 0, "s", "cost=$5|1234$"},
	{"<${recipient}>", 0, "s", "<Joe+Ext@Example.TEST>|<ann@b.test>|<john doe@c.test>"},
	{"cmd ${client_address}x", 0, "s", "cmd|x"},
	{"cmd ${bogus}", 0, "s", NULL},
	{"cmd ${recipient", 0, "s", NULL},
	{"cmd $", 0, "s", NULL},
	{"cmd ${}", 0, "s", NULL},
};

/* command vector expansion rows */
static void test_expand(void **state)
{
	struct pipe_macros m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.nexthop = "Relay.Test";
	m.queue_id = "4AbC";
	m.size = 1234;
	m.rcpt = rcpts;
	m.orig_rcpt = origs;
	m.rcpt_count = 3;
	m.delimiters = "+";
	m.null_sender = "MAILER-DAEMON";
	for (size_t i = 0; i < sizeof(expand_cases) / sizeof(expand_cases[0]); i++) {
		const struct expand_case *c = &expand_cases[i];
		struct argv *tmpl = argv_split(c->tmpl, " "), *out = argv_create();
		const char *error = NULL;
		int r;

		m.sender = c->sender;
		m.flags = c->flags;
		r = pipe_argv_expand(tmpl, &m, out, &error);
		if (c->want == NULL) {
			if (r != -1 || out->argc != 0)
				fail_msg("\"%s\": expected an error", c->tmpl);
			assert_non_null(error);
		} else {
			char *got;

			if (r != 0)
				fail_msg("\"%s\": unexpected error %s", c->tmpl, error);
			got = join(out);
			if (strcmp(got, c->want) != 0)
				fail_msg("\"%s\": got \"%s\", want \"%s\"", c->tmpl, got, c->want);
			free(got);
		}
		argv_free(&tmpl);
		argv_free(&out);
	}
}

/* eol escapes */
static void test_unescape(void **state)
{
	char *s;

	(void)state;
	s = pipe_unescape("\\r\\n");
	assert_string_equal(s, "\r\n");
	free(s);
	s = pipe_unescape("a\\tb\\\\c\\");
	assert_string_equal(s, "a\tb\\c\\");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attr),
		cmocka_unit_test(test_attr_values),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_unescape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
