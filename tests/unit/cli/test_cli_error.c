/*
 * test_cli_error - the subcommands' one printer: every line starts with
 * "sluice: COMMAND: ", warnings add "warning: ", a usage error adds the
 * synopsis and yields EX_USAGE, -v lines appear only with -v, and what
 * library code logs while a command runs starts the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli_error.h"
#include "cli_queue_testlib.h"

/* emit - print through the printer the way row argv[1] asks */
static int emit(const char *config_dir, int argc, char **argv)
{
	const char *how = argv[1];

	cli_command_set(argv[0]);
	if (strcmp(how, "error") == 0)
		return cli_error(EX_TEMPFAIL, "queue %s is down", "x");
	if (strcmp(how, "warn") == 0) {
		cli_warn("odd %d", 7);
		return EX_OK;
	}
	if (strcmp(how, "usage") == 0)
		return cli_usage("flush", NULL);
	if (strcmp(how, "usage2") == 0)
		return cli_usage("kick CHARS", "bad char %c", 'Z');
	if (strcmp(how, "verbose") == 0) {
		cli_verbose("quiet");
		msg_verbose = 1;
		cli_verbose("loud");
		msg_verbose = 0;
		return EX_OK;
	}
	if (strcmp(how, "library") == 0) {
		msg_warn("from a library");
		return EX_OK;
	}
	return -1;
}

static void test_lines(void **state)
{
	static const struct {
		const char *command, *how;
		int status;
		const char *err;
	} rows[] = {
		{"flush", "error", EX_TEMPFAIL, "sluice: flush: queue x is down\n"},
		{"hold", "warn", EX_OK, "sluice: hold: warning: odd 7\n"},
		{"flush", "usage", EX_USAGE, "usage: sluice flush\n"},
		{"kick", "usage2", EX_USAGE, "sluice: kick: bad char Z\nusage: sluice kick CHARS\n"},
		{"top", "verbose", EX_OK, "sluice: top: loud\n"},
		{"config", "library", EX_OK, "sluice: config: warning: from a library\n"},
		{"", "error", EX_TEMPFAIL, "sluice: queue x is down\n"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *argv[] = {(char *)rows[i].command, (char *)rows[i].how, NULL};
		struct tl_run r = tl_run_cmd(emit, NULL, argv);

		if (r.status != rows[i].status || strcmp(r.err, rows[i].err) != 0)
			fail_msg("row %zu: status %d, stderr \"%s\"", i, r.status, r.err);
		assert_string_equal(r.out, "");
		tl_run_free(&r);
	}
	cli_command_set(NULL);
}

static int setup(void **state)
{
	return tl_setup(NULL);
}

static int teardown(void **state)
{
	return tl_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
