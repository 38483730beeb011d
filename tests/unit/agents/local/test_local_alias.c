/*
 * test_local_alias - alias values and include files into destinations
 * (addresses, commands, files, includes; quoting; comments; errors), and
 * the Delivered-To: loop check on folded and unfolded header blocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/local/local_alias.h"
#include "util/buf.h"

struct parse_case {
	const char *text;
	int comments;
	const char *want;	/* "kind:text|kind:text", or NULL for an error */
	const char *want_error;	/* substring of the error */
};

static const struct parse_case parse_cases[] = {
	{"other", 0, "address:other", NULL},
	{"a, b@x.test ,c", 0, "address:a|address:b@x.test|address:c", NULL},
	{"Joe@Example.TEST", 0, "address:Joe@example.test", NULL},
	{"\"john doe\"@x.test", 0, "address:john doe@x.test", NULL},
	{"|/usr/bin/cmd -x", 0, "command:/usr/bin/cmd -x", NULL},
	{"\"|/usr/bin/cmd a, b\", joe", 0, "command:/usr/bin/cmd a, b|address:joe", NULL},
	{"|\"/usr/bin/cmd a, b\"", 0, "command:/usr/bin/cmd a, b", NULL},
	{"| cmd", 0, "command:cmd", NULL},
	{"/var/mail/archive, \"/tmp/with space\"", 0,
	 "file:/var/mail/archive|file:/tmp/with space", NULL},
	{":include:/etc/list, :INCLUDE: /etc/other", 0,
	 "include:/etc/list|include:/etc/other", NULL},
	{"a\nb\n\n  c  \n", 0, "address:a|address:b|address:c", NULL},
	{"", 0, "", NULL},
	{" , ,", 0, "", NULL},
	{"# members\nann\n  # bob\ncarl, dan # not a comment here\n", 1, NULL, NULL},
	{"# members\nann\n  # bob\ncarl, dan\n|cmd\n", 1,
	 "address:ann|address:carl|address:dan|command:cmd", NULL},
	{"#x\n", 0, "address:#x", NULL},
	{"\"|cmd", 0, NULL, "unbalanced"},
	{"|", 0, NULL, "empty command"},
	{"|\"\"", 0, NULL, "empty command"},
	{":include:relative/path", 0, NULL, "absolute"},
	{"a@b@", 0, NULL, ""},
};

/* join - the list as "kind:text|..." */
static char *join(const struct local_dest_list *l)
{
	struct buf b;
	char *s;

	buf_init(&b, 64);
	for (size_t i = 0; i < l->count; i++)
		buf_printf(&b, "%s%s:%s", i ? "|" : "", local_dest_kind_name(l->v[i].kind),
			   l->v[i].text);
	s = buf_steal(&b);
	buf_deinit(&b);
	return s;
}

/* the parse table */
static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct local_dest_list l = {0};
		const char *error = NULL;
		int r = local_alias_parse(c->text, c->comments, &l, &error);

		if (c->want_error) {
			if (r != -1 || l.count != 0 || strstr(error, c->want_error) == NULL)
				fail_msg("case %zu \"%s\": want error \"%s\", got %d \"%s\"", i, c->text,
					 c->want_error, r, r < 0 ? error : "");
		} else if (c->want) {
			char *got;

			if (r != 0)
				fail_msg("case %zu \"%s\": unexpected error %s", i, c->text, error);
			got = join(&l);
			if (strcmp(got, c->want) != 0)
				fail_msg("case %zu \"%s\": got \"%s\", want \"%s\"", i, c->text, got,
					 c->want);
			free(got);
		} else {
			/* "dan # not a comment" is one (bad) token: '#' only starts a line comment. */
			assert_int_equal(r, -1);
		}
		local_dest_list_deinit(&l);
	}
}

/* a failed parse leaves earlier entries alone */
static void test_parse_append(void **state)
{
	struct local_dest_list l = {0};
	const char *error;

	(void)state;
	assert_int_equal(local_alias_parse("a, b", 0, &l, &error), 0);
	assert_int_equal(local_alias_parse("c, \"|x", 0, &l, &error), -1);
	assert_int_equal(l.count, 2);
	assert_int_equal(local_alias_parse("|y", 0, &l, &error), 0);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.v[2].kind, LOCAL_DEST_COMMAND);
	local_dest_list_deinit(&l);
}

struct loop_case {
	const char *headers;
	const char *rcpt;
	int want;
};

static const struct loop_case loop_cases[] = {
	{"Subject: x\nDelivered-To: joe@x.test\n\nbody\n", "joe@x.test", 1},
	{"delivered-to:Joe@X.Test  \n\n", "joe@x.test", 1},
	{"Delivered-To:\n joe@x.test\nSubject: y\n\n", "joe@x.test", 1},
	{"Delivered-To: ann@x.test\n\n", "joe@x.test", 0},
	{"Delivered-To: joe@x.test.evil\n\n", "joe@x.test", 0},
	{"X-Delivered-To: joe@x.test\n\n", "joe@x.test", 0},
	{"Subject: x\n\nDelivered-To: joe@x.test\n", "joe@x.test", 0},
	{"Delivered-To: joe@x.test", "joe@x.test", 1},
	{"", "joe@x.test", 0},
};

/* the loop table */
static void test_loop(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(loop_cases) / sizeof(loop_cases[0]); i++) {
		const struct loop_case *c = &loop_cases[i];

		if (local_loop_check(c->headers, strlen(c->headers), c->rcpt) != c->want)
			fail_msg("loop case %zu: want %d", i, c->want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_append),
		cmocka_unit_test(test_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
