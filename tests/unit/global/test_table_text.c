/*
 * test_table_text - logical lines of table sources (Postfix's joining: the
 * continuation's white space kept), "key value" splitting, and aliases(5)
 * entries as postalias stores them.  Table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/table_text.h"
#include "util/buf.h"

/* lines: input text -> logical lines joined with '|' (or the error) */
static void test_lines(void **state)
{
	static const struct {
		const char *in;
		const char *want;
	} rows[] = {
		{"a b\n", "1:a b"},
		{"a b\n  c\n", "1:a b  c"},
		{"a b  \n  c  \n", "1:a b    c"},
		{"a b\n# comment\n\tc\n", "1:a b\tc"},
		{"a b\n\n   \n  c\nd e\n", "1:a b  c|5:d e"},
		{"a b\r\nc d\r\n", "1:a b|2:c d"},
		{"  # indented comment\na b", "2:a b"},
		{"x # not a comment\n", "1:x # not a comment"},
		{"", ""},
		{"  lead\n", "error: t:1: line starts with white space, but there is no entry to "
		 "continue"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		/* fmemopen() refuses a zero size: an empty text is one newline. */
		FILE *fp = *rows[i].in ? fmemopen((void *)rows[i].in, strlen(rows[i].in), "r")
			: fmemopen((void *)"\n", 1, "r");
		struct table_text t;
		struct buf *line = buf_create(16), *got = buf_create(16);
		const char *error;
		int lineno, rc;

		table_text_open_fp(&t, fp, "t");
		while ((rc = table_text_next(&t, line, &lineno, &error)) != 0) {
			if (rc < 0) {
				buf_printf(got, "error: %s", error);
				break;
			}
			buf_printf(got, "%s%d:%s", got->len ? "|" : "", lineno, buf_str(line));
		}
		if (strcmp(buf_str(got), rows[i].want) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, buf_str(got), rows[i].want);
		table_text_close(&t);
		fclose(fp);
		buf_free(&line);
		buf_free(&got);
	}
}

/* kv: key and value, or no value */
static void test_kv(void **state)
{
	static const struct {
		const char *in, *key, *value;
	} rows[] = {
		{"a b", "a", "b"},
		{"a \t b c", "a", "b c"},
		{"a:b\tc:d", "a:b", "c:d"},
		{"novalue", NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char copy[64], *k, *v;

		snprintf(copy, sizeof(copy), "%s", rows[i].in);
		if (rows[i].key == NULL) {
			assert_int_equal(table_text_kv(copy, &k, &v), -1);
			continue;
		}
		assert_int_equal(table_text_kv(copy, &k, &v), 0);
		assert_string_equal(k, rows[i].key);
		assert_string_equal(v, rows[i].value);
	}
}

/* alias: name and normalised value, or the reason */
static void test_alias(void **state)
{
	static const struct {
		const char *in, *name, *value;
	} rows[] = {
		{"postmaster:    root", "postmaster", "root"},
		{"a1: x,y", "a1", "x, y"},
		{"a2: x   y", "a2", "x y"},
		{"a3: \"|/usr/bin/cmd  arg\", :include:/etc/list", "a3",
		 "\"|/usr/bin/cmd  arg\", :include:/etc/list"},
		{"a4: /var/mail/file , x (a, comment)", "a4", "/var/mail/file, x (a, comment)"},
		{"a6:x", "a6", "x"},
		{"\"Q Name\" : t", "Q Name", "t"},
		{"Upper.Case: u", "Upper.Case", "u"},
		{"a7: <x@y>, Name <z,w@v>", "a7", "<x@y>, Name <z,w@v>"},
		{"a8: \\root", "a8", "root"},
		{"multi: one,  two", "multi", "one, two"},
		{"x : y,,z,", "x", "y, z"},
		{"bad line", NULL, "need name:value pair"},
		{"u:", NULL, "need name:value pair"},
		{": v", NULL, "missing name before ':'"},
		{"\"open: v", NULL, "missing '\"' after the quoted name"},
		{"q: \"open", NULL, "missing closing '\"' in the value"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf *name = buf_create(16), *value = buf_create(16);
		const char *why = NULL;
		int rc = table_text_alias(rows[i].in, name, value, &why);

		if (rows[i].name == NULL) {
			if (rc != -1 || strcmp(why, rows[i].value) != 0)
				fail_msg("row %zu: rc %d, why \"%s\"", i, rc, why ? why : "");
		} else {
			if (rc != 0)
				fail_msg("row %zu: %s", i, why);
			assert_string_equal(buf_str(name), rows[i].name);
			assert_string_equal(buf_str(value), rows[i].value);
		}
		buf_free(&name);
		buf_free(&value);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_alias),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
