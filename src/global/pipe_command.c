/*
 * pipe_command - deliver a message to an external command (see
 * pipe_command.h for the contract and the outcome table).
 *
 * The parent feeds the command's input and reads its output at the same
 * time (poll on both pipes, non-blocking), so a command that writes a lot
 * before it reads cannot deadlock us, and every wait is bounded by the one
 * deadline.  Output beyond PIPE_COMMAND_OUTPUT_MAX is read and dropped.
 * When the deadline passes the command's process group is killed with
 * SIGKILL: its offspring go too.
 *
 * The child never runs as root when we are root: it takes the given
 * uid/gid (and only that group) before anything else, and checks that it
 * cannot get root back.  A failure between fork and exec is reported on
 * the output pipe and exits with EX_TEMPFAIL, so the delivery is deferred,
 * not bounced.
 *
 * DIAGNOSTICS: none logged here; the result carries the status and reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "global/dsn.h"
#include "global/pipe_command.h"
#include "global/sys_exits.h"
#include "util/argv.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define DEFAULT_PATH		"PATH=/usr/bin:/bin"
#define DEFAULT_EXPORT		"TZ LANG SLUICE_CONFIG_DIR"

extern char **environ;

struct pipe_command_io {
	int in_fd;		/* command's stdin, -1 once closed */
	int out_fd;		/* command's stdout+stderr, -1 at end of file */
	double deadline;	/* mono_time() */
	char out[PIPE_COMMAND_OUTPUT_MAX + 1];
	size_t out_len;
	bool timed_out;
	int write_errno;	/* first failed input write */
};

/* pipe_command_result_deinit - release the reason */
void pipe_command_result_deinit(struct pipe_command_result *res)
{
	buf_free(&res->reason);
}

/* pipe_command_sanitize - make output printable on one line */
void pipe_command_sanitize(char *text)
{
	size_t len;

	for (unsigned char *cp = (unsigned char *)text; *cp; cp++) {
		if (*cp == '\t' || *cp == '\n' || *cp == '\r')
			*cp = ' ';
		else if (*cp < 0x20 || *cp >= 0x7f)
			*cp = '_';
	}
	len = strlen(text);
	while (len > 0 && text[len - 1] == ' ')
		text[--len] = 0;
}

/* add_output - ". Command output: TEXT" when there is output */
static void add_output(struct buf *reason, const char *output)
{
	if (output && *output)
		buf_printf(reason, ". Command output: %s", output);
}

/* output_dsn - "4.x.y text" or "5.x.y text" at the start of the output */
static const char *output_dsn(const char *output, char dsn_r[16])
{
	const char *text = dsn_status_from_text(output, dsn_r);

	return text != NULL && dsn_r[0] != '2' ? text : NULL;
}

/* pipe_command_status - judge a finished command */
int pipe_command_status(int wait_status, bool timed_out, int write_errno,
			const char *command, const char *output, char status_r[16],
			struct buf *reason)
{
	const struct sys_exits_detail *sp;
	const char *text;
	char dsn[16];
	int code;

	buf_reset(reason);
	/*
	 * sluice defers on the time limit where Postfix bounces: a command that
	 * hangs is usually a local outage (a locked database, a stuck network
	 * call), and a retry costs less than a lost message.
	 */
	if (timed_out) {
		snprintf(status_r, 16, "4.3.0");
		buf_printf(reason, "Command time limit exceeded: \"%s\"", command);
		add_output(reason, output);
		return PIPE_STAT_DEFER;
	}
	if (WIFSIGNALED(wait_status)) {
		snprintf(status_r, 16, "4.3.0");
		buf_printf(reason, "Command died with signal %d: \"%s\"", WTERMSIG(wait_status),
			   command);
		add_output(reason, output);
		return PIPE_STAT_DEFER;
	}
	code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 255;
	if (code != 0) {
		/* A command that says "D.S.N text" is taken at its word. */
		if (output && (text = output_dsn(output, dsn)) != NULL) {
			snprintf(status_r, 16, "%s", dsn);
			buf_puts(reason, *text ? text : sys_exits_detail(70)->text);
			return dsn[0] == '4' ? PIPE_STAT_DEFER : PIPE_STAT_BOUNCE;
		}
		if ((sp = sys_exits_detail(code)) != NULL) {
			snprintf(status_r, 16, "%s", sp->dsn);
			buf_puts(reason, sp->text);
			add_output(reason, output);
			return sp->dsn[0] == '4' ? PIPE_STAT_DEFER : PIPE_STAT_BOUNCE;
		}
		snprintf(status_r, 16, "5.3.0");
		buf_printf(reason, "Command died with status %d: \"%s\"", code, command);
		add_output(reason, output);
		return PIPE_STAT_BOUNCE;
	}
	if (write_errno != 0 && write_errno != EPIPE) {
		snprintf(status_r, 16, "4.3.0");
		buf_printf(reason, "Command failed: %s: \"%s\"", strerror(write_errno), command);
		return PIPE_STAT_DEFER;
	}
	snprintf(status_r, 16, "2.0.0");
	buf_puts(reason, "delivered");
	return PIPE_STAT_OK;
}

/* drain_output - read what the command wrote; keep the first part */
static void drain_output(struct pipe_command_io *io)
{
	char junk[4096];
	ssize_t n;

	while (io->out_fd >= 0) {
		size_t room = PIPE_COMMAND_OUTPUT_MAX - io->out_len;

		if (room > 0)
			n = read(io->out_fd, io->out + io->out_len, room);
		else
			n = read(io->out_fd, junk, sizeof(junk));
		if (n > 0) {
			if (room > 0)
				io->out_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* End of file, or an error that ends the output just the same. */
		close(io->out_fd);
		io->out_fd = -1;
	}
}

/* io_wait - wait for input room (want_write) or output, within the deadline */
static int io_wait(struct pipe_command_io *io, bool want_write)
{
	struct pollfd p[2];
	nfds_t n = 0;
	double left;
	int r;

	for (;;) {
		left = io->deadline - mono_time();
		if (left <= 0) {
			io->timed_out = true;
			return -1;
		}
		n = 0;
		if (want_write && io->in_fd >= 0)
			p[n++] = (struct pollfd){.fd = io->in_fd, .events = POLLOUT};
		if (io->out_fd >= 0)
			p[n++] = (struct pollfd){.fd = io->out_fd, .events = POLLIN};
		if (n == 0)
			return 0;
		r = poll(p, n, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		if (io->out_fd >= 0)
			drain_output(io);
		return 0;
	}
}

/* pipe_command_write - message bytes to the command */
int pipe_command_write(struct pipe_command_io *io, const void *data, size_t n)
{
	const char *cp = data;
	ssize_t w;

	if (io->in_fd < 0 || io->timed_out || io->write_errno)
		return -1;
	while (n > 0) {
		if (mono_time() >= io->deadline) {
			io->timed_out = true;
			return -1;
		}
		w = write(io->in_fd, cp, n);
		if (w > 0) {
			cp += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (io_wait(io, true) < 0)
				return -1;
			continue;
		}
		io->write_errno = w < 0 ? errno : EIO;
		return -1;
	}
	return 0;
}

/* env_set - add or replace NAME=value in env */
static void env_set(struct argv *env, const char *entry)
{
	size_t len = strcspn(entry, "=");

	if (entry[len] != '=' || len == 0)
		return;
	for (size_t i = 0; i < env->argc; i++) {
		if (strncmp(env->argv[i], entry, len + 1) == 0) {
			free(env->argv[i]);
			env->argv[i] = xstrdup(entry);
			return;
		}
	}
	argv_add(env, entry, (char *)NULL);
}

/* build_env - the clean environment for the command */
static struct argv *build_env(const struct pipe_command_args *args)
{
	struct argv *env = argv_create(), *names;
	const char *value;
	char *entry;

	argv_add(env, DEFAULT_PATH, (char *)NULL);
	names = argv_split(args->export_names ? args->export_names : DEFAULT_EXPORT, " \t,");
	for (size_t i = 0; i < names->argc; i++) {
		/* export_environment may also say NAME=VALUE. */
		if (strchr(names->argv[i], '=') != NULL) {
			env_set(env, names->argv[i]);
		} else if ((value = getenv(names->argv[i])) != NULL) {
			entry = xasprintf("%s=%s", names->argv[i], value);
			env_set(env, entry);
			free(entry);
		}
	}
	argv_free(&names);
	for (char *const *cpp = args->env; cpp && *cpp; cpp++)
		env_set(env, *cpp);
	return env;
}

/* child_fail - report a set-up failure on the output pipe and give up softly */
__attribute__((noreturn, format(printf, 1, 2)))
static void child_fail(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, strnlen(line, sizeof(line)));
	_exit(EX_TEMPFAIL);
}

/* child_exec - in the child: privileges, plumbing, exec */
__attribute__((noreturn))
static void child_exec(const struct pipe_command_args *args, int in_fd, int out_fd,
		       struct argv *env)
{
	const char *prog = log_progname() ? log_progname() : "sluice";
	sigset_t none;
	char *shell_argv[4];
	int sig;

	/* Plumbing first, so that every later failure reaches the output. */
	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0
	    || dup2(out_fd, STDERR_FILENO) < 0)
		_exit(EX_TEMPFAIL);
	if (close_range(3, ~0U, 0) < 0)
		for (int fd = 3; fd < 1024; fd++)
			(void)close(fd);
	if (setsid() < 0)
		child_fail("%s: fatal: setsid: %s\n", prog, strerror(errno));

	/* Irrevocably become the command's user. */
	if (geteuid() == 0) {
		if (args->uid == 0)
			child_fail("%s: fatal: refusing to run a command as root\n", prog);
		if (setgroups(1, &args->gid) < 0 || setgid(args->gid) < 0
		    || setuid(args->uid) < 0)
			child_fail("%s: fatal: cannot set uid=%lu gid=%lu: %s\n", prog,
				   (unsigned long)args->uid, (unsigned long)args->gid,
				   strerror(errno));
		if (setuid(0) == 0 || geteuid() == 0)
			child_fail("%s: fatal: privileges were not dropped\n", prog);
	}

	/* Signals as a fresh program expects them. */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	umask(077);

	if (chdir(args->cwd ? args->cwd : "/") < 0)
		child_fail("%s: fatal: cannot change directory to \"%s\": %s\n", prog,
			   args->cwd ? args->cwd : "/", strerror(errno));
	environ = env->argv;
	if (args->argv) {
		execvp(args->argv[0], args->argv);
		child_fail("%s: fatal: execvp %s: %s\n", prog, args->argv[0], strerror(errno));
	}
	shell_argv[0] = (char *)"sh";
	shell_argv[1] = (char *)"-c";
	shell_argv[2] = (char *)args->command;
	shell_argv[3] = NULL;
	execv("/bin/sh", shell_argv);
	child_fail("%s: fatal: execv /bin/sh: %s\n", prog, strerror(errno));
}

/* wait_exit - reap the command before the deadline; 0, or -1 on time-out */
static int wait_exit(pid_t pid, struct pipe_command_io *io, int *status_r)
{
	if (wait_pid_until(pid, status_r, io->deadline) == 0)
		return 0;
	if (errno != ETIMEDOUT)
		msg_fatal("waitpid %ld: %s", (long)pid, strerror(errno));
	io->timed_out = true;
	return -1;
}

/* fail_early - the command could not even be started */
static int fail_early(struct pipe_command_result *res, const char *what)
{
	snprintf(res->status, sizeof(res->status), "4.3.0");
	buf_printf(res->reason, "Delivery failed: %s: %s", what, strerror(errno));
	res->stat = PIPE_STAT_DEFER;
	return res->stat;
}

/* pipe_command_run - run, feed, judge */
int pipe_command_run(const struct pipe_command_args *args, struct pipe_command_result *res)
{
	struct pipe_command_io io;
	int in_pipe[2], out_pipe[2], wait_status = 0;
	struct argv *env;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->reason = buf_create(128);
	if (geteuid() == 0 && args->uid == 0) {
		/* Never: the callers check this too. */
		snprintf(res->status, sizeof(res->status), "4.3.0");
		buf_puts(res->reason, "refusing to run a command as root");
		return res->stat = PIPE_STAT_DEFER;
	}
	if (pipe2(in_pipe, O_CLOEXEC) < 0)
		return fail_early(res, "pipe");
	if (pipe2(out_pipe, O_CLOEXEC) < 0) {
		close(in_pipe[0]);
		close(in_pipe[1]);
		return fail_early(res, "pipe");
	}
	env = build_env(args);
	pid = fork();
	if (pid < 0) {
		int saved = errno;

		close(in_pipe[0]);
		close(in_pipe[1]);
		close(out_pipe[0]);
		close(out_pipe[1]);
		argv_free(&env);
		errno = saved;
		return fail_early(res, "fork");
	}
	if (pid == 0)
		child_exec(args, in_pipe[0], out_pipe[1], env);

	close(in_pipe[0]);
	close(out_pipe[1]);
	argv_free(&env);
	memset(&io, 0, sizeof(io));
	io.in_fd = in_pipe[1];
	io.out_fd = out_pipe[0];
	io.deadline = mono_time() + (double)(args->time_limit > 0 ? args->time_limit : 1);
	set_nonblock(io.in_fd, true);
	set_nonblock(io.out_fd, true);

	/* Feed the message, then let the command see end of file. */
	if (args->feed)
		(void)args->feed(&io, args->ctx);
	close(io.in_fd);
	io.in_fd = -1;

	/* Its output ends when it (and its offspring) are done with it. */
	while (io.out_fd >= 0 && !io.timed_out)
		if (io_wait(&io, false) < 0 && !io.timed_out)
			break;
	if (!io.timed_out)
		(void)wait_exit(pid, &io, &wait_status);
	if (io.timed_out) {
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR)
			;
	}
	if (io.out_fd >= 0) {
		drain_output(&io);
		if (io.out_fd >= 0)
			close(io.out_fd);
	}
	for (size_t i = 0; i < io.out_len; i++)
		if (io.out[i] == 0)
			io.out[i] = '_';
	io.out[io.out_len] = 0;
	memcpy(res->output, io.out, io.out_len + 1);
	pipe_command_sanitize(res->output);
	res->stat = pipe_command_status(wait_status, io.timed_out, io.write_errno,
					args->command, res->output, res->status, res->reason);
	return res->stat;
}
