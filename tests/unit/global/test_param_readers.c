/*
 * test_param_readers - every row of the parameter table is read by some
 * program, or says that it is not (PARAM_F_OBSOLETE, PARAM_F_UNSUPPORTED),
 * so that no setting is accepted and then silently ignored.
 *
 * "Read" means: a program source file (src/ outside src/global/params.c and
 * the simulator src/sim/) names the row's variable (var_NAME followed by a
 * non-identifier byte) or its name as a string ("NAME", as
 * transport_param_long() and mail_conf lookups take it), or another row's
 * default refers to it ($NAME, ${NAME}: mydomain is read through myorigin),
 * or it is the <transport>_<suffix> form of a per-transport row that is read
 * (local_destination_recipient_limit, through transport_param_long()).
 * Rows the program sets itself (PARAM_F_READONLY) are exempt.
 *
 * The source tree is found from SLUICE_TEST_DATA (tests/unit/data).
 */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "global/params.h"
#include "util/buf.h"
#include "util/mem.h"

/* The program sources, concatenated with NUL between files. */
static struct buf *sources;

/* slurp_tree - append every .c file under dir, but the excluded ones */
static void slurp_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char *path;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		assert_int_equal(stat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			if (strcmp(e->d_name, "sim") != 0)
				slurp_tree(path);
		} else if (strlen(e->d_name) > 2
			   && strcmp(e->d_name + strlen(e->d_name) - 2, ".c") == 0
			   && strcmp(e->d_name, "params.c") != 0) {
			FILE *fp = fopen(path, "r");
			char chunk[8192];
			size_t n;

			assert_non_null(fp);
			while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
				buf_append(sources, chunk, n);
			fclose(fp);
			buf_putc(sources, '\n');
		}
		free(path);
	}
	closedir(d);
}

static int setup(void **state)
{
	const char *data = getenv("SLUICE_TEST_DATA");
	char *src;

	(void)state;
	if (data == NULL)
		return -1;
	src = xasprintf("%s/../../../src", data);
	sources = buf_create(1 << 20);
	slurp_tree(src);
	free(src);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	buf_free(&sources);
	return 0;
}

/* mentions - text contains word, not as part of a longer identifier */
static bool mentions(const char *text, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
		char after = p[len];
		char before = p == text ? ' ' : p[-1];

		if ((isalnum((unsigned char)after) || after == '_')
		    || (word[0] != '"' && word[0] != '$' && (isalnum((unsigned char)before) || before == '_')))
			continue;
		return true;
	}
	return false;
}

/* row_is_read - some program reads row p */
static bool row_is_read(const struct param_def *p, const struct param_def *table, size_t count)
{
	const char *text = buf_str(sources);
	char *var, *quoted, *dollar, *braced;
	bool read;

	var = xasprintf("var_%s", strcmp(p->name, "2bounce_notice_recipient") == 0
			? "double_bounce_notice_recipient" : p->name);
	quoted = xasprintf("\"%s\"", p->name);
	dollar = xasprintf("$%s", p->name);
	braced = xasprintf("${%s}", p->name);
	read = mentions(text, var) || strstr(text, quoted) != NULL;
	/* local_destination_concurrency_limit: transport_param_long("local", ...) */
	if (!read) {
		size_t tlen;
		const struct param_def *base = params_split_transport(p->name, &tlen);

		read = base && base != p && row_is_read(base, table, count);
	}
	for (size_t i = 0; !read && i < count; i++)
		read = table[i].def && (mentions(table[i].def, dollar) || strstr(table[i].def, braced));
	free(var);
	free(quoted);
	free(dollar);
	free(braced);
	return read;
}

/* every row is read, or marked; a marked row is not also read */
static void test_every_row_is_read_or_marked(void **state)
{
	const struct param_def *table;
	size_t count, unread = 0;

	(void)state;
	table = params_table(&count);
	assert_true(count > 100);
	for (size_t i = 0; i < count; i++) {
		const struct param_def *p = &table[i];
		bool marked = p->flags & (PARAM_F_OBSOLETE | PARAM_F_UNSUPPORTED);
		bool read = row_is_read(p, table, count);

		if (p->flags & PARAM_F_READONLY)
			continue;
		if (!read && !marked) {
			print_error("parameter %s: no program reads it, and it is not marked "
				    "PARAM_F_OBSOLETE or PARAM_F_UNSUPPORTED\n", p->name);
			unread++;
		}
		if ((p->flags & PARAM_F_UNSUPPORTED) && read) {
			print_error("parameter %s: marked PARAM_F_UNSUPPORTED, but a program "
				    "reads it (drop the mark)\n", p->name);
			unread++;
		}
		if ((p->flags & PARAM_F_UNSUPPORTED) && (p->unsupported == NULL || !*p->unsupported)) {
			print_error("parameter %s: PARAM_F_UNSUPPORTED without a reason\n", p->name);
			unread++;
		}
	}
	assert_int_equal(unread, 0);
}

/* Postfix marks qmgr_fudge_factor obsolete; so does sluice */
static void test_obsolete_rows(void **state)
{
	const struct param_def *p = params_find("qmgr_fudge_factor");

	(void)state;
	assert_non_null(p);
	assert_true(p->flags & PARAM_F_OBSOLETE);
}

/* the checker itself: a made-up unread row is caught, a read one is not */
static void test_checker_catches_unread(void **state)
{
	const struct param_def *table;
	size_t count;
	static const struct param_def fake = {.name = "no_program_reads_this_parameter"};
	static const struct param_def real = {.name = "minimal_backoff_time"};

	(void)state;
	table = params_table(&count);
	assert_false(row_is_read(&fake, table, count));
	assert_true(row_is_read(&real, table, count));
	assert_false(mentions("var_foo_bar;", "var_foo"));
	assert_true(mentions("x = var_foo;", "var_foo"));
	assert_true(mentions("$mydomain", "$mydomain"));
	assert_false(mentions("$mydomainx", "$mydomain"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row_is_read_or_marked),
		cmocka_unit_test(test_obsolete_rows),
		cmocka_unit_test(test_checker_catches_unread),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
