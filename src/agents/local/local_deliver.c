/*
 * local_deliver - the local agent's delivery primitives: an mbox (the mail
 * spool or a home mailbox), a Maildir, a /file destination, a |command,
 * and forwarding to other addresses through cleanup.
 *
 * Every write to a user's files happens in a forked child that has become
 * that user (Postfix set_eugid, done per delivery): the agent may run as
 * root, and a bug or a hostile symlink must never turn into a root-owned
 * write.  The one exception is the mail spool, whose folder usually only
 * root may write: there the child stays root just long enough to take the
 * dot-lock and open (or create and chown) the mailbox, writes the message
 * as the user (effective ids), and returns to root to remove the lock.
 * Commands are run by pipe_command(), which switches to the user itself.
 * Forwarded copies are written as mail_owner so that the queue manager
 * owns them like any other queue file.
 *
 * The child reports a struct local_result over a pipe; a child that dies
 * without reporting defers the delivery.  mailbox_size_limit is enforced
 * with RLIMIT_FSIZE in the child (a write past it fails with EFBIG).
 *
 * DIAGNOSTICS: failures become results (deferred unless the problem is
 * permanent); the caller logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agents/local/local.h"
#include "agents/local/local_maildir.h"
#include "agents/local/local_mbox.h"
#include "global/cleanup/cleanup.h"
#include "global/dsn.h"
#include "global/mail_conf.h"
#include "global/mail_copy.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "global/pipe_command.h"
#include "global/queue_file.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define INCLUDE_SIZE_MAX	(1024 * 1024)

/* local_result_set - fill a result */
void local_result_set(struct local_result *res, int stat, const char *status,
		      const char *fmt, ...)
{
	va_list ap;

	res->stat = stat;
	snprintf(res->status, sizeof(res->status), "%s", status);
	va_start(ap, fmt);
	vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	va_end(ap);
}

/* fill_privs - copy a passwd entry */
static void fill_privs(const struct passwd *pw, struct local_privs *p)
{
	memset(p, 0, sizeof(*p));
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->name, sizeof(p->name), "%s", pw->pw_name);
	snprintf(p->home, sizeof(p->home), "%s", pw->pw_dir ? pw->pw_dir : "/");
	snprintf(p->shell, sizeof(p->shell), "%s", pw->pw_shell ? pw->pw_shell : "/bin/sh");
}

/* local_privs_from_name - account by name */
int local_privs_from_name(const char *name, struct local_privs *p)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL)
		return -1;
	fill_privs(pw, p);
	return 0;
}

/* local_privs_self - our own account */
void local_privs_self(struct local_privs *p)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw) {
		fill_privs(pw, p);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->uid = geteuid();
	p->gid = getegid();
	snprintf(p->name, sizeof(p->name), "%lu", (unsigned long)p->uid);
	snprintf(p->home, sizeof(p->home), "/");
	snprintf(p->shell, sizeof(p->shell), "/bin/sh");
}

/* ---- running a delivery in a child as another user ---- */

#define RUN_DROP	0	/* become the user for good */
#define RUN_KEEP	1	/* stay as we are; the function switches itself */

/* A child function fills res, and may put more data for the parent in extra. */
typedef void child_fn(void *ctx, struct local_result *res, struct buf *extra);

/* become - irrevocably take p's ids (root only) */
static int become(const struct local_privs *p)
{
	if (geteuid() != 0)
		return 0;
	if (p->uid == 0)
		return -1;
	if (setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0)
		return -1;
	return setuid(0) == 0 ? -1 : 0;
}

/* limit_file_size - mailbox_size_limit for everything this child writes */
static void limit_file_size(void)
{
	struct rlimit rl;

	signal(SIGXFSZ, SIG_IGN);
	if (var_mailbox_size_limit <= 0)
		return;
	rl.rlim_cur = rl.rlim_max = (rlim_t)var_mailbox_size_limit;
	(void)setrlimit(RLIMIT_FSIZE, &rl);
}

/* read_until - read up to n bytes from fd before deadline (mono_time);
 * bytes read, or -1 when the deadline passed first */
static ssize_t read_until(int fd, void *data, size_t n, double deadline)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	double left;
	ssize_t got;
	int r;

	for (;;) {
		if ((left = deadline - mono_time()) <= 0)
			return -1;
		r = poll(&pfd, 1, left > 3600 ? 3600 * 1000 : (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return 0;
		if (r <= 0)
			continue;
		if ((got = read(fd, data, n)) < 0 && errno == EINTR)
			continue;
		return got < 0 ? 0 : got;
	}
}

/* stop_child - the time is up: ask the child to clean up and leave, then
 * make it; returns its wait status */
static int stop_child(pid_t pid)
{
	int status;

	/* SIGTERM lets an mbox writer truncate and unlock (mbox_child). */
	(void)kill(pid, SIGTERM);
	for (int i = 0; i < 40; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return status;
		poll(NULL, 0, 50);
	}
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/*
 * run_child - fork, switch, run fn, hand back its result (and extra data).
 * The child has <service>_time_limit (default command_time_limit) seconds
 * for all of it; then it is stopped and the delivery deferred, with what
 * (e.g. "mailbox /var/mail/joe") in the reason.
 */
static void run_child(const struct local_msg *m, const struct local_privs *p, int mode,
		      child_fn *fn, void *ctx, const char *what, struct local_result *res,
		      struct buf *extra)
{
	char block[8192];
	struct local_result child_res;
	long limit = transport_param_long(m->d->service, "command_time_limit");
	double deadline = mono_time() + (double)limit;
	bool timed_out = false;
	size_t got = 0;
	ssize_t n;
	int fds[2], status;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "cannot create pipe: %s",
				 strerror(errno));
		return;
	}
	if ((pid = fork()) < 0) {
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "cannot fork: %s",
				 strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		struct buf child_extra;

		close(fds[0]);
		signal(SIGTERM, SIG_DFL);
		/* The parent holds SIGTERM back while it delivers; the child not. */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		buf_init(&child_extra, 64);
		memset(&child_res, 0, sizeof(child_res));
		if (mode == RUN_DROP && become(p) < 0)
			local_result_set(&child_res, LOCAL_STAT_DEFER, "4.3.0",
					 "cannot switch to uid %lu gid %lu: %s",
					 (unsigned long)p->uid, (unsigned long)p->gid,
					 p->uid == 0 ? "refusing root" : strerror(errno));
		else
			fn(ctx, &child_res, &child_extra);
		/* The result first, then any extra data; the parent reads both. */
		if (write(fds[1], &child_res, sizeof(child_res)) != (ssize_t)sizeof(child_res)
		    || write_all_timeout(fds[1], child_extra.data, child_extra.len, -1) < 0)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	while (got < sizeof(*res)) {
		n = read_until(fds[0], (char *)res + got, sizeof(*res) - got, deadline);
		if (n < 0)
			timed_out = true;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	while (!timed_out && got == sizeof(*res) && extra
	       && (n = read_until(fds[0], block, sizeof(block), deadline)) != 0) {
		if (n < 0) {
			timed_out = true;
			break;
		}
		buf_append(extra, block, (size_t)n);
	}
	close(fds[0]);
	if (timed_out) {
		(void)stop_child(pid);
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0",
				 "time limit of %ld s exceeded delivering to %s", limit, what);
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* No whole result, or trouble after it (say, while sending extra data). */
	if (got != sizeof(*res) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			local_result_set(res, LOCAL_STAT_DEFER, "4.3.0",
					 "delivery process killed by signal %d", WTERMSIG(status));
		else
			local_result_set(res, LOCAL_STAT_DEFER, "4.3.0",
					 "delivery process failed with exit status %d",
					 WEXITSTATUS(status));
	}
	res->reason[sizeof(res->reason) - 1] = 0;
	res->status[sizeof(res->status) - 1] = 0;
}

/* ---- copying the message ---- */

struct copy_ctx {
	const struct local_msg *m;
	struct mail_copy mc;
	int fd;
	bool corrupt;		/* the queue file is damaged */
	const char *qf_error;
};

/* copy_write - mail_copy output to the file */
static int copy_write(const void *data, size_t n, void *ctx)
{
	struct copy_ctx *c = ctx;
	const char *cp = data;
	ssize_t w;

	while (n > 0) {
		if ((w = write(c->fd, cp, n)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		cp += w;
		n -= (size_t)w;
	}
	return 0;
}

/* copy_chunk - queue file content into the copy */
static int copy_chunk(const char *data, size_t len, void *ctx)
{
	struct copy_ctx *c = ctx;

	return mail_copy_data(&c->mc, data, len);
}

/* copy_message - write the message to fd with flags; 0, or -1 with errno */
static int copy_message(struct copy_ctx *c, int flags)
{
	const struct local_msg *m = c->m;
	int rc = -1, r, saved = EIO;

	mail_copy_init(&c->mc, flags, "\n", copy_write, c);
	if (mail_copy_begin(&c->mc, m->d->req->sender, m->orig_rcpt, m->recipient,
			    time(NULL)) == 0) {
		r = qf_read_content(m->d->qf, copy_chunk, c, &c->qf_error);
		if (r == 0)
			rc = mail_copy_end(&c->mc);
		else if (r == QF_CORRUPT)
			c->corrupt = true;
	}
	if (rc < 0)
		saved = c->mc.failed ? c->mc.err : EIO;
	mail_copy_deinit(&c->mc);
	errno = saved;
	return rc;
}

/* mailbox_dsn - errno to a status for a mailbox problem (always deferred) */
static const char *mailbox_dsn(int err)
{
	switch (err) {
	case EDQUOT:
	case EFBIG:
		return "4.2.2";		/* mailbox full */
	case ENOSPC:
	case EIO:
		return "4.3.0";		/* the system, not the mailbox */
	default:
		return "4.2.0";		/* locked, permissions, ... */
	}
}

/* ---- mbox ---- */

struct mbox_job {
	const struct local_msg *m;
	const char *path;
	const struct local_privs *p;
	bool spool;
	bool file;		/* a /file destination, not a mailbox */
};

/* set_effective - write as p, keeping the way back to root */
static int set_effective(const struct local_privs *p)
{
	if (geteuid() != 0)
		return 0;
	if (setgroups(1, &p->gid) < 0 || setegid(p->gid) < 0 || seteuid(p->uid) < 0)
		return -1;
	return 0;
}

/* restore_root - back to root after set_effective */
static void restore_root(void)
{
	if (getuid() == 0 && (seteuid(0) < 0 || setegid(0) < 0))
		_exit(1);
}

/* mbox_term - SIGTERM at the time limit: no half message, no lock left */
static void mbox_term(int sig)
{
	/* Back to root (the spool's lock file is root's to remove). */
	if (getuid() == 0)
		(void)seteuid(0);
	mbox_emergency_close();
	_exit(2);
}

/* mbox_child - lock, append, unlock */
static void mbox_child(void *ctx, struct local_result *res, struct buf *extra)
{
	struct mbox_job *j = ctx;
	struct mbox_conf conf;
	struct mbox *mb;
	struct copy_ctx c;
	struct buf *why = buf_create(128);
	bool as_root = geteuid() == 0;
	int err;

	mbox_conf_default(&conf);
	conf.uid = j->p->uid;
	conf.gid = j->p->gid;
	conf.check_owner = as_root && !j->file;
	conf.chown_new = as_root && !j->file;
	conf.dotlock_may_fail = j->file;
	limit_file_size();
	signal(SIGTERM, mbox_term);

	if (mbox_open(j->path, &conf, &mb, why) < 0) {
		err = errno;
		if (j->file)
			local_result_set(res, LOCAL_STAT_DEFER, mailbox_dsn(err),
					 "cannot append message to file %s: %s", j->path, buf_str(why));
		else
			local_result_set(res, LOCAL_STAT_DEFER, mailbox_dsn(err),
					 "cannot update mailbox %s for user %s. %s", j->path,
					 j->p->name, buf_str(why));
		buf_free(&why);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.m = j->m;
	c.fd = mb->fd;
	/* In the spool we still are root: write as the user. */
	if (j->spool && set_effective(j->p) < 0) {
		err = errno;
		(void)mbox_close(&mb, false, why);
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "cannot switch to user %s: %s",
				 j->p->name, strerror(err));
		buf_free(&why);
		return;
	}
	if (copy_message(&c, MAIL_COPY_MBOX | MAIL_COPY_ENVELOPE) < 0) {
		err = errno;
		if (j->spool)
			restore_root();
		(void)mbox_close(&mb, false, why);
		if (c.corrupt)
			local_result_set(res, LOCAL_STAT_CORRUPT, "4.3.0", "%s", c.qf_error);
		else
			local_result_set(res, LOCAL_STAT_DEFER, mailbox_dsn(err),
					 "cannot %s %s: %s", j->file ? "append message to file"
					 : "update mailbox", j->path, strerror(err));
		buf_free(&why);
		return;
	}
	if (j->spool)
		restore_root();
	if (mbox_close(&mb, true, why) < 0) {
		err = errno;
		local_result_set(res, LOCAL_STAT_DEFER, mailbox_dsn(err), "%s", buf_str(why));
	} else if (j->file) {
		local_result_set(res, LOCAL_STAT_OK, "2.0.0", "delivered to file: %s", j->path);
	} else {
		local_result_set(res, LOCAL_STAT_OK, "2.0.0", "delivered to mailbox");
	}
	buf_free(&why);
}

/* local_deliver_mbox - a mailbox in the spool (spool) or in a home */
void local_deliver_mbox(const struct local_msg *m, const char *path,
			const struct local_privs *p, bool spool, struct local_result *res)
{
	struct mbox_job j = {.m = m, .path = path, .p = p, .spool = spool};
	char *what = xasprintf("mailbox %s", path);

	run_child(m, p, spool ? RUN_KEEP : RUN_DROP, mbox_child, &j, what, res, NULL);
	free(what);
}

/* local_deliver_file - a /file destination, mbox style */
void local_deliver_file(const struct local_msg *m, const char *path,
			const struct local_privs *p, struct local_result *res)
{
	struct mbox_job j = {.m = m, .path = path, .p = p, .file = true};
	char *what = xasprintf("file %s", path);

	run_child(m, p, RUN_DROP, mbox_child, &j, what, res, NULL);
	free(what);
}

/* ---- Maildir ---- */

struct maildir_job {
	const struct local_msg *m;
	const char *dir;
	struct copy_ctx c;
};

/* maildir_write - the maildir_write_fn */
static int maildir_write(int fd, void *ctx)
{
	struct maildir_job *j = ctx;

	j->c.fd = fd;
	return copy_message(&j->c, MAIL_COPY_ENVELOPE);
}

/* maildir_child - deliver as the (already switched) user */
static void maildir_child(void *ctx, struct local_result *res, struct buf *extra)
{
	struct maildir_job *j = ctx;
	struct buf *why = buf_create(128);
	int err;

	limit_file_size();
	j->c.m = j->m;
	if (maildir_deliver(j->dir, true, var_myhostname, maildir_write, j, NULL, why) < 0) {
		err = errno;
		if (j->c.corrupt)
			local_result_set(res, LOCAL_STAT_CORRUPT, "4.3.0", "%s", j->c.qf_error);
		else
			local_result_set(res, LOCAL_STAT_DEFER, mailbox_dsn(err),
					 "maildir delivery failed: %s", buf_str(why));
	} else {
		local_result_set(res, LOCAL_STAT_OK, "2.0.0", "delivered to maildir");
	}
	buf_free(&why);
}

/* local_deliver_maildir - a Maildir (created as needed) */
void local_deliver_maildir(const struct local_msg *m, const char *dir,
			   const struct local_privs *p, struct local_result *res)
{
	struct maildir_job j;
	char *what = xasprintf("maildir %s", dir);

	memset(&j, 0, sizeof(j));
	j.m = m;
	j.dir = dir;
	run_child(m, p, RUN_DROP, maildir_child, &j, what, res, NULL);
	free(what);
}

/* ---- commands ---- */

struct command_feed {
	const struct local_msg *m;
	struct pipe_command_io *io;
	struct mail_copy mc;
	bool corrupt;
	const char *qf_error;
};

/* command_write - mail_copy output into the command */
static int command_write(const void *data, size_t n, void *ctx)
{
	struct command_feed *f = ctx;

	return pipe_command_write(f->io, data, n);
}

/* command_chunk - content into the copy */
static int command_chunk(const char *data, size_t len, void *ctx)
{
	struct command_feed *f = ctx;

	return mail_copy_data(&f->mc, data, len);
}

/* command_feed - the message on the command's input */
static int command_feed(struct pipe_command_io *io, void *ctx)
{
	struct command_feed *f = ctx;
	const struct local_msg *m = f->m;
	int rc = -1, r;

	f->io = io;
	mail_copy_init(&f->mc, MAIL_COPY_FROM | MAIL_COPY_ENVELOPE, "\n", command_write, f);
	if (mail_copy_begin(&f->mc, m->d->req->sender, m->orig_rcpt, m->recipient,
			    time(NULL)) == 0) {
		r = qf_read_content(m->d->qf, command_chunk, f, &f->qf_error);
		if (r == 0)
			rc = mail_copy_end(&f->mc);
		else if (r == QF_CORRUPT)
			f->corrupt = true;
	}
	mail_copy_deinit(&f->mc);
	return rc;
}

/* local_deliver_command - |command, through /bin/sh -c, as p */
void local_deliver_command(const struct local_msg *m, const char *command,
			   const struct local_privs *p, struct local_result *res)
{
	struct pipe_command_args a;
	struct pipe_command_result pr;
	struct command_feed f;
	struct argv *env = argv_create();
	char *e;

	/* What local(8) tells a command about the delivery. */
#define SETENV(name, value) do { \
		e = xasprintf("%s=%s", name, value); \
		argv_add(env, e, (char *)NULL); \
		free(e); \
	} while (0)
	SETENV("HOME", p->home);
	SETENV("LOGNAME", p->name);
	SETENV("USER", p->name);
	SETENV("SHELL", p->shell);
	SETENV("SENDER", m->d->req->sender);
	SETENV("RECIPIENT", m->recipient);
	SETENV("ORIGINAL_RECIPIENT", m->orig_rcpt);
	SETENV("LOCAL", m->localpart ? m->localpart : m->user);
	SETENV("EXTENSION", m->extension);
	SETENV("DOMAIN", m->domain);
	SETENV("ENVID", m->d->req->envid ? m->d->req->envid : "");
	SETENV("QUEUE_ID", m->d->req->queue_id);
#undef SETENV

	memset(&f, 0, sizeof(f));
	f.m = m;
	memset(&a, 0, sizeof(a));
	a.command = command;
	a.env = env->argv;
	a.export_names = var_export_environment;
	a.cwd = "/";
	a.uid = p->uid;
	a.gid = p->gid;
	a.time_limit = transport_param_long(m->d->service, "command_time_limit");
	a.feed = command_feed;
	a.ctx = &f;
	pipe_command_run(&a, &pr);
	argv_free(&env);

	if (f.corrupt) {
		local_result_set(res, LOCAL_STAT_CORRUPT, "4.3.0", "%s", f.qf_error);
	} else if (pr.stat == PIPE_STAT_OK) {
		local_result_set(res, LOCAL_STAT_OK, "2.0.0", "delivered to command: %s", command);
	} else {
		local_result_set(res, pr.stat == PIPE_STAT_BOUNCE ? LOCAL_STAT_BOUNCE
				 : LOCAL_STAT_DEFER, pr.status, "%s", buf_str(pr.reason));
	}
	pipe_command_result_deinit(&pr);
}

/* ---- :include: files ---- */

/* include_child - open, check and read the file as the user */
static void include_child(void *ctx, struct local_result *res, struct buf *extra)
{
	const char *path = ctx;
	char block[8192];
	struct stat st;
	ssize_t n;
	int fd;

	/*
	 * O_NONBLOCK: a FIFO (or a device) in the file's place must not make
	 * the open wait for a writer.  Only a regular file is read, and a
	 * wrong file type is the postmaster's or the user's to fix, so the
	 * mail waits for it (4.3.5) rather than bounce.
	 */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
		local_result_set(res, errno == ENOENT ? LOCAL_STAT_BOUNCE : LOCAL_STAT_DEFER,
				 errno == ENOENT ? "5.3.0" : "4.3.0",
				 "cannot open include file %s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.5",
				 "include file %s is not a regular file", path);
		close(fd);
		return;
	}
	if (set_nonblock(fd, false) < 0) {
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "cannot read include file %s: %s",
				 path, strerror(errno));
		close(fd);
		return;
	}
	while ((n = read(fd, block, sizeof(block))) > 0) {
		if (extra->len + (size_t)n > INCLUDE_SIZE_MAX) {
			local_result_set(res, LOCAL_STAT_BOUNCE, "5.3.0",
					 "include file %s is larger than %d bytes", path,
					 INCLUDE_SIZE_MAX);
			buf_reset(extra);
			close(fd);
			return;
		}
		buf_append(extra, block, (size_t)n);
	}
	if (n < 0) {
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "cannot read include file %s: %s",
				 path, strerror(errno));
		buf_reset(extra);
		close(fd);
		return;
	}
	close(fd);
	/* The owner decides the rights of what the file lists. */
	local_result_set(res, LOCAL_STAT_OK, "2.0.0", "%lu", (unsigned long)st.st_uid);
}

/* local_read_include - read an include file with p's rights */
int local_read_include(const struct local_msg *m, const char *path,
		       const struct local_privs *p, struct buf *out,
		       uid_t *owner_r, struct local_result *res)
{
	char *what = xasprintf("include file %s", path);

	run_child(m, p, RUN_DROP, include_child, (void *)path, what, res, out);
	free(what);
	if (res->stat == LOCAL_STAT_BOUNCE && strcmp(res->status, "5.3.0") == 0
	    && str_has_suffix(res->reason, strerror(ENOENT)))
		return LOCAL_INCLUDE_MISSING;
	if (res->stat != LOCAL_STAT_OK)
		return -1;
	*owner_r = (uid_t)strtoul(res->reason, NULL, 10);
	return 0;
}

/* ---- forwarding ---- */

struct forward_job {
	const struct local_msg *m;
	const struct argv *addresses;
	struct cleanup *c;
};

/* forward_chunk - content into cleanup */
static int forward_chunk(const char *data, size_t len, void *ctx)
{
	struct forward_job *j = ctx;

	cleanup_write(j->c, data, len);
	return 0;
}

/* forward_child - write the new queue file as mail_owner */
static void forward_child(void *ctx, struct local_result *res, struct buf *extra)
{
	struct forward_job *j = ctx;
	const struct local_msg *m = j->m;
	const struct deliver_request *req = m->d->req;
	const struct deliver_rcpt *r = &req->rcpt[m->index];
	char id[QUEUE_ID_SIZE], status[16], *line, *lower;
	const char *error, *text;
	struct qf_envelope env;
	int rc;

	if ((j->c = cleanup_open(var_queue_directory, 0, &error)) == NULL) {
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "cannot forward: %s", error);
		return;
	}
	cleanup_set_sender(j->c, m->sender ? m->sender : req->sender);
	cleanup_set_dsn(j->c, req->envid, req->ret);
	/* Headers of mail from a remote client stay as remote ones (Postfix). */
	if (qf_read_envelope(m->d->qf, &env, &error) == 0) {
		for (char **a = env.attrs; a && *a; a++)
			if (strcmp(*a, "rewrite_context=remote") == 0)
				cleanup_set_rewrite_context(j->c, CLEANUP_RWR_REMOTE);
		qf_envelope_deinit(&env);
	}
	if (req->flags & DEL_REQ_FLAG_TRACE)
		cleanup_set_qflags(j->c, QF_FLAG_TRACE_VERBOSE);
	for (size_t i = 0; i < j->addresses->argc; i++)
		(void)cleanup_add_rcpt(j->c, j->addresses->argv[i], m->orig_rcpt, r->dsn_orcpt,
				       r->notify);
	/* Delivered-To: lets the next hop see that the message has been here. */
	lower = str_lower(xstrdup(m->recipient));
	line = xasprintf("Delivered-To: %s\n", lower);
	free(lower);
	cleanup_write(j->c, line, strlen(line));
	free(line);
	rc = qf_read_content(m->d->qf, forward_chunk, j, &error);
	if (rc < 0) {
		cleanup_abort(&j->c);
		local_result_set(res, rc == QF_CORRUPT ? LOCAL_STAT_CORRUPT : LOCAL_STAT_DEFER,
				 "4.3.0", "%s", error);
		return;
	}
	if (cleanup_close(&j->c, id, &error) < 0) {
		/* cleanup's errors start with a status: 5.x.x is final. */
		if ((text = dsn_status_from_text(error, status)) != NULL && status[0] != '2')
			local_result_set(res, status[0] == '5' ? LOCAL_STAT_BOUNCE
					 : LOCAL_STAT_DEFER, status, "cannot forward: %s", text);
		else
			local_result_set(res, LOCAL_STAT_DEFER, "4.3.0", "cannot forward: %s", error);
		return;
	}
	local_result_set(res, LOCAL_STAT_OK, "2.0.0", "forwarded as %s", id);
}

/* local_forward - resubmit to addresses through cleanup */
void local_forward(const struct local_msg *m, const struct argv *addresses,
		   struct local_result *res)
{
	struct forward_job j = {.m = m, .addresses = addresses};
	struct local_privs p;

	/* The queue manager must own the new file like any other: mail_owner. */
	if (geteuid() == 0) {
		if (local_privs_from_name(var_mail_owner, &p) < 0) {
			msg_warn("mail_owner: unknown user \"%s\"", var_mail_owner);
			local_result_set(res, LOCAL_STAT_DEFER, "4.3.5",
					 "mail system configuration error");
			return;
		}
	} else {
		local_privs_self(&p);
	}
	run_child(m, &p, RUN_DROP, forward_child, &j, "forwarded addresses", res, NULL);
}
