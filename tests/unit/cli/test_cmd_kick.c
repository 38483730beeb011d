/*
 * test_cmd_kick - "sluice flush" and "sluice kick": which bytes are
 * allowed, that they arrive in one piece on public/qmgr, and that a
 * stopped system (nobody reading the FIFO) is exit 75 with "mail system is
 * down" while bad usage is 64 and writes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli_queue_testlib.h"
#include "cmd_kick.h"

static char fifo[400];

static int setup(void **state)
{
	if (tl_setup(NULL) < 0)
		return -1;
	snprintf(fifo, sizeof(fifo), "%s/public/qmgr", tl_queue);
	return mkfifo(fifo, 0622);
}

static int teardown(void **state)
{
	return tl_teardown();
}

/* the trigger bytes kick accepts */
static void test_chars(void **state)
{
	static const struct {
		const char *chars;
		bool ok;
	} cases[] = {
		{"FADI", true}, {"D", true}, {"I", true}, {"A", true}, {"F", true}, {"W", true},
		{"WWDD", true}, {"", false}, {"X", false}, {"fadi", false}, {"F A", false},
		{"FADI\n", false}, {"R", false},
	};
	char *many = xmalloc(5000);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(cmd_kick_chars_valid(cases[i].chars), cases[i].ok);
	memset(many, 'D', 4999);
	many[4999] = 0;
	assert_false(cmd_kick_chars_valid(many));	/* more than one atomic FIFO write */
	free(many);
}

/* drain - what the FIFO holds (static buffer) */
static const char *drain(int fd)
{
	static char got[64];
	ssize_t n = read(fd, got, sizeof(got) - 1);

	got[n > 0 ? n : 0] = 0;
	return got;
}

/* with a reader the bytes arrive; without one the system is down */
static void test_flush_kick(void **state)
{
	char *flush[] = {"flush", NULL}, *flush_bad[] = {"flush", "now", NULL};
	char *kick[] = {"kick", "FA", "DI", NULL}, *kick_w[] = {"kick", "W", NULL};
	char *kick_bad[] = {"kick", "FAX", NULL}, *kick_none[] = {"kick", NULL};
	struct tl_run r;
	int rfd;

	assert_true((rfd = open(fifo, O_RDONLY | O_NONBLOCK)) >= 0);
	r = tl_run_cmd(cmd_flush, NULL, flush);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_string_equal(drain(rfd), "FADI");
	tl_run_free(&r);

	r = tl_run_cmd(cmd_kick, NULL, kick);
	assert_int_equal(r.status, 0);
	assert_string_equal(drain(rfd), "FADI");
	tl_run_free(&r);
	r = tl_run_cmd(cmd_kick, NULL, kick_w);
	assert_int_equal(r.status, 0);
	assert_string_equal(drain(rfd), "W");
	tl_run_free(&r);

	/* Usage errors write nothing. */
	r = tl_run_cmd(cmd_kick, NULL, kick_bad);
	assert_int_equal(r.status, 64);
	assert_non_null(strstr(r.err, "usage"));
	tl_run_free(&r);
	r = tl_run_cmd(cmd_kick, NULL, kick_none);
	assert_int_equal(r.status, 64);
	tl_run_free(&r);
	r = tl_run_cmd(cmd_flush, NULL, flush_bad);
	assert_int_equal(r.status, 64);
	tl_run_free(&r);
	assert_string_equal(drain(rfd), "");
	close(rfd);

	/* Nobody reads: down, at once. */
	r = tl_run_cmd(cmd_flush, NULL, flush);
	assert_int_equal(r.status, 75);
	assert_string_equal(r.err, "sluice: flush: Cannot flush mail queue - mail system is down\n");
	tl_run_free(&r);
	r = tl_run_cmd(cmd_kick, NULL, kick);
	assert_int_equal(r.status, 75);
	assert_non_null(strstr(r.err, "mail system is down"));
	tl_run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chars),
		cmocka_unit_test(test_flush_kick),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
