/*
 * test_pipe_command - external commands for delivery: the judgement of
 * exit statuses (sysexits table, "D.S.N text" output, signals, the time
 * limit, input write errors) as a table, output sanitising, and real runs
 * of /bin/sh commands: input arrives, output is captured and bounded, a
 * command that ignores its input is fine, a hanging command and its
 * offspring are killed at the time limit, the environment is clean.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/pipe_command.h"
#include "global/sys_exits.h"
#include "util/buf.h"
#include "util/iostuff.h"

#define EXITED(code)	((code) << 8)	/* a wait status for exit(code) */
#define KILLED(sig)	(sig)		/* a wait status for death by sig */

struct status_case {
	int wait_status;
	bool timed_out;
	int write_errno;
	const char *output;
	int want_stat;
	const char *want_status;
	const char *want_reason;
};

static const struct status_case status_cases[] = {
	{EXITED(0), false, 0, "", PIPE_STAT_OK, "2.0.0", "delivered"},
	{EXITED(0), false, EPIPE, "", PIPE_STAT_OK, "2.0.0", "delivered"},
	{EXITED(0), false, EIO, "", PIPE_STAT_DEFER, "4.3.0",
	 "Command failed: Input/output error: \"cmd x\""},
	{EXITED(75), false, 0, "", PIPE_STAT_DEFER, "4.3.0", "temporary failure"},
	{EXITED(75), false, 0, "try later", PIPE_STAT_DEFER, "4.3.0",
	 "temporary failure. Command output: try later"},
	{EXITED(71), false, 0, "", PIPE_STAT_DEFER, "4.3.0", "system resource problem"},
	{EXITED(67), false, 0, "no such user", PIPE_STAT_BOUNCE, "5.1.1",
	 "user unknown. Command output: no such user"},
	{EXITED(68), false, 0, "", PIPE_STAT_BOUNCE, "5.1.2", "host name unknown"},
	{EXITED(69), false, 0, "", PIPE_STAT_BOUNCE, "5.3.0", "service unavailable"},
	{EXITED(70), false, 0, "", PIPE_STAT_BOUNCE, "5.3.0", "internal software error"},
	{EXITED(73), false, 0, "", PIPE_STAT_BOUNCE, "5.2.0", "can't create user output file"},
	{EXITED(77), false, 0, "", PIPE_STAT_BOUNCE, "5.7.0", "permission denied"},
	{EXITED(78), false, 0, "", PIPE_STAT_BOUNCE, "5.3.5", "local configuration error"},
	{EXITED(1), false, 0, "", PIPE_STAT_BOUNCE, "5.3.0",
	 "Command died with status 1: \"cmd x\""},
	{EXITED(127), false, 0, "sh: 1: nope: not found", PIPE_STAT_BOUNCE, "5.3.0",
	 "Command died with status 127: \"cmd x\". Command output: sh: 1: nope: not found"},
	/* The command's own enhanced status wins over its exit status. */
	{EXITED(1), false, 0, "5.2.2 mailbox full", PIPE_STAT_BOUNCE, "5.2.2", "mailbox full"},
	{EXITED(67), false, 0, "4.2.1 come back later", PIPE_STAT_DEFER, "4.2.1",
	 "come back later"},
	{EXITED(1), false, 0, "2.0.0 fine?", PIPE_STAT_BOUNCE, "5.3.0",
	 "Command died with status 1: \"cmd x\". Command output: 2.0.0 fine?"},
	{KILLED(SIGSEGV), false, 0, "", PIPE_STAT_DEFER, "4.3.0",
	 "Command died with signal 11: \"cmd x\""},
	{KILLED(SIGKILL), true, 0, "partial", PIPE_STAT_DEFER, "4.3.0",
	 "Command time limit exceeded: \"cmd x\". Command output: partial"},
};

/* the outcome table */
static void test_status(void **state)
{
	struct buf *reason = buf_create(64);
	char status[16];

	(void)state;
	for (size_t i = 0; i < sizeof(status_cases) / sizeof(status_cases[0]); i++) {
		const struct status_case *c = &status_cases[i];
		int stat = pipe_command_status(c->wait_status, c->timed_out, c->write_errno,
					       "cmd x", c->output, status, reason);

		if (stat != c->want_stat || strcmp(status, c->want_status) != 0
		    || strcmp(buf_str(reason), c->want_reason) != 0)
			fail_msg("case %zu: got %d %s \"%s\", want %d %s \"%s\"", i, stat, status,
				 buf_str(reason), c->want_stat, c->want_status, c->want_reason);
	}
	buf_free(&reason);
}

/* the sysexits rows the agents rely on */
static void test_sys_exits(void **state)
{
	(void)state;
	assert_null(sys_exits_detail(63));
	assert_null(sys_exits_detail(79));
	assert_null(sys_exits_detail(0));
	for (int code = 64; code <= 78; code++) {
		const struct sys_exits_detail *d = sys_exits_detail(code);

		assert_non_null(d);
		assert_int_equal(d->status, code);
		assert_int_equal(sys_exits_soft(code), code == 71 || code == 75);
	}
	assert_false(sys_exits_soft(1));
}

/* output on one printable line */
static void test_sanitize(void **state)
{
	char text[] = "line 1\nline\t2\r\n\x01\x7f\xc3\xa9  \n";

	(void)state;
	pipe_command_sanitize(text);
	assert_string_equal(text, "line 1 line 2  ____");
}

struct feed_ctx {
	const char *data;
	size_t repeat;
	int result;
};

/* feed - write the data repeat times */
static int feed(struct pipe_command_io *io, void *ctx)
{
	struct feed_ctx *f = ctx;

	for (size_t i = 0; i < f->repeat; i++)
		if ((f->result = pipe_command_write(io, f->data, strlen(f->data))) < 0)
			return -1;
	return 0;
}

/* run - run a shell command with input */
static int run(const char *command, const char *input, size_t repeat, long limit,
	       struct pipe_command_result *res)
{
	struct feed_ctx f = {.data = input, .repeat = repeat};
	struct pipe_command_args a;

	memset(&a, 0, sizeof(a));
	a.command = command;
	a.time_limit = limit;
	a.uid = 65534;		/* nobody, used only when the test runs as root */
	a.gid = 65534;
	a.feed = input ? feed : NULL;
	a.ctx = &f;
	return pipe_command_run(&a, res);
}

/* the message reaches the command; exit statuses are judged */
static void test_run_basic(void **state)
{
	struct pipe_command_result res;

	(void)state;
	assert_int_equal(run("read a; read b; test \"$a/$b\" = one/two", "one\ntwo\n", 1, 10,
			     &res), PIPE_STAT_OK);
	assert_string_equal(res.status, "2.0.0");
	pipe_command_result_deinit(&res);

	assert_int_equal(run("echo nobody here; exit 67", "x\n", 1, 10, &res), PIPE_STAT_BOUNCE);
	assert_string_equal(res.status, "5.1.1");
	assert_string_equal(buf_str(res.reason), "user unknown. Command output: nobody here");
	pipe_command_result_deinit(&res);

	assert_int_equal(run("echo later >&2; exit 75", "x\n", 1, 10, &res), PIPE_STAT_DEFER);
	assert_string_equal(res.status, "4.3.0");
	assert_string_equal(buf_str(res.reason), "temporary failure. Command output: later");
	pipe_command_result_deinit(&res);

	assert_int_equal(run("exit 1", NULL, 0, 10, &res), PIPE_STAT_BOUNCE);
	assert_string_equal(buf_str(res.reason), "Command died with status 1: \"exit 1\"");
	pipe_command_result_deinit(&res);

	assert_int_equal(run("kill -TERM $$", NULL, 0, 10, &res), PIPE_STAT_DEFER);
	assert_string_equal(buf_str(res.reason), "Command died with signal 15: \"kill -TERM $$\"");
	pipe_command_result_deinit(&res);
}

/* a command that ignores a large input is not an error; output is bounded */
static void test_run_big(void **state)
{
	struct pipe_command_result res;

	(void)state;
	assert_int_equal(run("exit 0", "0123456789012345678901234567890123456789\n", 100000, 10,
			     &res), PIPE_STAT_OK);
	pipe_command_result_deinit(&res);

	/* Lots of output before reading the input must not deadlock. */
	assert_int_equal(run("head -c 300000 /dev/zero | tr '\\0' a; cat >/dev/null; exit 69",
			     "abcdefghij\n", 50000, 20, &res), PIPE_STAT_BOUNCE);
	assert_int_equal(strlen(res.output), PIPE_COMMAND_OUTPUT_MAX);
	assert_true(strncmp(buf_str(res.reason), "service unavailable. Command output: aaaa", 41)
		    == 0);
	pipe_command_result_deinit(&res);
}

/* the time limit kills the command and what it started */
static void test_run_time_limit(void **state)
{
	struct pipe_command_result res;
	char marker[64], command[256];
	double t0 = mono_time();

	(void)state;
	snprintf(marker, sizeof(marker), "/tmp/sluice-test-pc-%ld", (long)getpid());
	unlink(marker);
	/* The background child would create the marker after 3 s unless killed. */
	snprintf(command, sizeof(command),
		 "(sleep 3; touch %s) & echo started; sleep 30", marker);
	assert_int_equal(run(command, NULL, 0, 1, &res), PIPE_STAT_DEFER);
	assert_true(mono_time() - t0 < 5);
	assert_string_equal(res.status, "4.3.0");
	assert_non_null(strstr(buf_str(res.reason), "Command time limit exceeded"));
	assert_non_null(strstr(buf_str(res.reason), "Command output: started"));
	pipe_command_result_deinit(&res);
	sleep(4);
	assert_int_equal(access(marker, F_OK), -1);

	/* A command that never reads its input times out while we write. */
	t0 = mono_time();
	assert_int_equal(run("sleep 30", "0123456789012345678901234567890123456789\n", 100000,
			     1, &res), PIPE_STAT_DEFER);
	assert_true(mono_time() - t0 < 5);
	assert_non_null(strstr(buf_str(res.reason), "Command time limit exceeded"));
	pipe_command_result_deinit(&res);
}

/* clean environment, no inherited descriptors, working directory, argv */
static void test_run_env(void **state)
{
	struct pipe_command_result res;
	struct pipe_command_args a;
	char *env[] = {"SENDER=a@b.test", "PATH=/bin", NULL};
	char *argv[] = {"/bin/sh", "-c", "echo \"$SENDER|$PATH|$SECRET|$(pwd)|$X_SET\"; "
			"ls /proc/self/fd | wc -l; exit 64", NULL};

	(void)state;
	setenv("SECRET", "leak", 1);
	memset(&a, 0, sizeof(a));
	a.command = "argv form";
	a.argv = argv;
	a.env = env;
	a.cwd = "/tmp";
	a.export_names = "TZ X_SET=on LANG";
	a.uid = a.gid = 65534;
	a.time_limit = 10;
	assert_int_equal(pipe_command_run(&a, &res), PIPE_STAT_BOUNCE);
	/* 0, 1, 2 and the one ls itself opens. */
	assert_string_equal(res.output, "a@b.test|/bin||/tmp|on 4");
	pipe_command_result_deinit(&res);

	/* A command that cannot be executed is deferred, with the reason. */
	argv[0] = "/nonexistent/program";
	assert_int_equal(pipe_command_run(&a, &res), PIPE_STAT_DEFER);
	assert_non_null(strstr(res.output, "execvp /nonexistent/program"));
	pipe_command_result_deinit(&res);

	/* An inaccessible directory defers too. */
	argv[0] = "/bin/sh";
	a.cwd = "/nonexistent";
	assert_int_equal(pipe_command_run(&a, &res), PIPE_STAT_DEFER);
	assert_non_null(strstr(res.output, "cannot change directory"));
	pipe_command_result_deinit(&res);
}

/* as root: the command runs as the given account, never as root */
static void test_run_privileges(void **state)
{
	struct pipe_command_result res;
	struct pipe_command_args a;

	(void)state;
	if (geteuid() != 0)
		skip();
	memset(&a, 0, sizeof(a));
	a.command = "echo $(id -u):$(id -g):$(id -G); exit 64";
	a.uid = 65534;
	a.gid = 65534;
	a.time_limit = 10;
	assert_int_equal(pipe_command_run(&a, &res), PIPE_STAT_BOUNCE);
	assert_string_equal(res.output, "65534:65534:65534");
	pipe_command_result_deinit(&res);

	a.uid = 0;
	assert_int_equal(pipe_command_run(&a, &res), PIPE_STAT_DEFER);
	assert_non_null(strstr(buf_str(res.reason), "root"));
	pipe_command_result_deinit(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_sys_exits),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_run_basic),
		cmocka_unit_test(test_run_big),
		cmocka_unit_test(test_run_time_limit),
		cmocka_unit_test(test_run_env),
		cmocka_unit_test(test_run_privileges),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
