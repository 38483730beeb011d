/*
 * cmd_sendmail - the Sendmail-compatible submission command (see
 * cmd_sendmail.h for the user's view).
 *
 * This module is for getting a user's message into maildrop/ safely and
 * saying clearly when that is not possible.  The steps: parse the Sendmail
 * options (ignoring the ones Postfix ignores), read main.cf, settle sender
 * and recipients, open a "sink" for the maildrop file (the queue-file
 * writer directly, or a pipe to postdrop), stream stdin through the same
 * text filter cleanup uses (line ends, "." end, -t extraction and Bcc
 * removal, size limit), add the recipients after the content, commit, and
 * wake pickup.
 *
 * It does not add headers, qualify addresses in headers or judge the
 * message beyond the size, hop count and recipients: pickup's cleanup does
 * that later.  Sender and recipients are qualified with @$myorigin here so
 * that -t duplicates of command-line recipients are recognised.
 *
 * DIAGNOSTICS: one line on stderr, "sluice: sendmail: ..." (cli_error.h),
 * and a sysexits status; warnings ("sluice: sendmail: warning: ...") do
 * not stop the submission.
 * postdrop prints its own diagnostics and its status is passed on.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_map.h"
#include "cmd_sendmail.h"
#include "sendmail_args.h"
#include "global/addr.h"
#include "global/cleanup/cleanup.h"
#include "global/cleanup/cleanup_stream.h"
#include "global/cleanup/submission.h"
#include "global/daemon_path.h"
#include "global/dsn.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/rfc822.h"
#include "global/trigger.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#include "cli_error.h"
#include "cmd_map.h"
#include "cmd_queue.h"


/* login_sender - the invoking user */
static char *login_sender(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? addr_qualify(pw->pw_name, var_myorigin) : NULL;
}

/* default_full_name - $NAME, else the first GECOS field; NULL if none */
static char *default_full_name(void)
{
	const char *env = getenv("NAME");
	struct passwd *pw;
	char *name;

	if (env && *env)
		return xstrdup(env);
	if ((pw = getpwuid(getuid())) == NULL || pw->pw_gecos == NULL)
		return NULL;
	name = xstrndup(pw->pw_gecos, strcspn(pw->pw_gecos, ","));
	if (*name == 0) {
		free(name);
		return NULL;
	}
	return name;
}

/* ---- the sink: maildrop file, directly or through postdrop ---- */

struct sink {
	struct qf_writer *w;		/* direct */
	pid_t pid;			/* postdrop */
	int fd;
	struct buf out;
	bool broken;			/* postdrop stopped reading */
};

/* sink_flush - send buffered records to postdrop */
static void sink_flush(struct sink *k)
{
	if (k->out.len == 0)
		return;
	if (!k->broken && write_all_timeout(k->fd, k->out.data, k->out.len, -1) < 0)
		k->broken = true;
	buf_reset(&k->out);
}

/* spawn_postdrop - run the set-gid helper with a pipe on its stdin */
static int spawn_postdrop(struct sink *k, int verbose)
{
	char *path = daemon_path(var_daemon_directory, "postdrop");
	const char *conf = mail_conf_dir();
	char resolved[PATH_MAX];
	struct argv *args = argv_create();
	int fds[2];

	argv_add(args, "postdrop", (char *)NULL);
	if (conf && realpath(conf, resolved) != NULL)
		argv_add(args, "-c", resolved, (char *)NULL);
	for (int i = 0; i < verbose; i++)
		argv_add(args, "-v", (char *)NULL);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		argv_free(&args);
		free(path);
		return cli_error(EX_TEMPFAIL, "pipe: %s", strerror(errno));
	}
	fflush(stderr);
	if ((k->pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		argv_free(&args);
		free(path);
		return cli_error(EX_TEMPFAIL, "fork: %s", strerror(errno));
	}
	if (k->pid == 0) {
		if (dup2(fds[0], 0) < 0)
			_exit(EX_OSERR);
		execv(path, args->argv);
		_exit(cli_error(EX_TEMPFAIL, "cannot run %s: %s", path, strerror(errno)));
	}
	close(fds[0]);
	k->fd = fds[1];
	signal(SIGPIPE, SIG_IGN);	/* a failing postdrop must not kill us */
	argv_free(&args);
	free(path);
	return EX_OK;
}

/* sink_open - start the maildrop file and write the envelope */
static int sink_open(struct sink *k, const struct sm_opts *o, const char *sender,
		     const char *full_name)
{
	struct qf_envelope env;
	char *maildrop = xasprintf("%s/maildrop", var_queue_directory);
	char *attr = NULL, *attrs[2] = {NULL, NULL};
	const char *err;
	char num[16];
	bool direct = getuid() == 0 || access(maildrop, W_OK | X_OK) == 0;
	int rc;

	free(maildrop);
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	buf_init(&k->out, SUBMISSION_CHUNK + 64);
	if (direct) {
		/*
		 * Root may submit before the system ever ran: make the queue
		 * folders (master fixes owners and modes when it starts).
		 */
		if (getuid() == 0 && access(var_queue_directory, F_OK) < 0
		    && queue_dirs_create(var_queue_directory, &err) < 0) {
			buf_deinit(&k->out);
			return cli_error(EX_TEMPFAIL, "queue_directory %s: %s", var_queue_directory, err);
		}
		if ((k->w = qf_create(var_queue_directory, "maildrop", &err)) == NULL) {
			buf_deinit(&k->out);
			return cli_error(EX_TEMPFAIL, "%s", err);
		}
		memset(&env, 0, sizeof(env));
		env.arrival_time = wall_time();
		env.sender = (char *)sender;
		env.envid = (char *)(o->envid ? o->envid : "");
		env.ret = o->ret;
		env.flags = o->qflags;
		if (full_name) {
			attr = xasprintf("%s=%s", SUBMISSION_ATTR_FULL_NAME, full_name);
			attrs[0] = attr;
			env.attrs = attrs;
		}
		qf_put_envelope(k->w, &env);
		free(attr);
		return EX_OK;
	}
	if ((rc = spawn_postdrop(k, o->verbose)) != EX_OK) {
		buf_deinit(&k->out);
		return rc;
	}
	submission_put_str(&k->out, 'V', SUBMISSION_VERSION);
	submission_put_str(&k->out, 'S', sender);
	if (full_name)
		submission_put_str(&k->out, 'F', full_name);
	if (o->envid)
		submission_put_str(&k->out, 'I', o->envid);
	if (o->ret) {
		snprintf(num, sizeof(num), "%d", o->ret);
		submission_put_str(&k->out, 'r', num);
	}
	if (o->qflags) {
		snprintf(num, sizeof(num), "%d", o->qflags);
		submission_put_str(&k->out, 'f', num);
	}
	submission_put(&k->out, 'M', "", 0);
	return EX_OK;
}

/* sink_content - cleanup_stream output callback */
static void sink_content(const char *data, size_t len, void *ctx)
{
	struct sink *k = ctx;
	size_t take;

	if (k->w) {
		qf_put_content(k->w, data, len);
		return;
	}
	while (len > 0) {
		take = len < SUBMISSION_CHUNK ? len : SUBMISSION_CHUNK;
		submission_put(&k->out, 'B', data, take);
		data += take;
		len -= take;
		if (k->out.len >= SUBMISSION_CHUNK)
			sink_flush(k);
	}
}

/* sink_rcpts - the end of the content, then the recipients */
static void sink_rcpts(struct sink *k, const struct argv *rcpts, int notify)
{
	char num[16];

	if (!k->w)
		submission_put(&k->out, 'X', "", 0);
	for (size_t i = 0; i < rcpts->argc; i++) {
		if (k->w) {
			qf_add_rcpt(k->w, rcpts->argv[i], NULL, NULL, notify);
			continue;
		}
		if (notify) {
			snprintf(num, sizeof(num), "%d", notify);
			submission_put_str(&k->out, 'n', num);
		}
		submission_put_str(&k->out, 'R', rcpts->argv[i]);
		if (k->out.len >= SUBMISSION_CHUNK)
			sink_flush(k);
	}
}

/* wait_postdrop - its exit status as ours */
static int wait_postdrop(struct sink *k)
{
	int status;

	while (waitpid(k->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return cli_error(EX_TEMPFAIL, "waitpid: %s", strerror(errno));
	}
	k->pid = 0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return cli_error(EX_TEMPFAIL, "postdrop was killed by signal %d", WTERMSIG(status));
}

/* sink_commit - make the maildrop file durable; exit status */
static int sink_commit(struct sink *k)
{
	char id[QUEUE_ID_SIZE];
	const char *err;
	int rc;

	if (k->w) {
		if (qf_commit(&k->w, id, &err) < 0)
			rc = cli_error(EX_TEMPFAIL, "cannot write the maildrop file: %s", err);
		else {
			rc = EX_OK;
			msg_debug("maildrop file %s", id);
			if (trigger_send(var_queue_directory, TRIGGER_PICKUP, TRIGGER_REQ_WAKEUP, 1,
					 &err) < 0)
				msg_debug("pickup trigger: %s", err);
		}
	} else {
		submission_put(&k->out, 'E', "", 0);
		sink_flush(k);
		close(k->fd);
		k->fd = -1;
		rc = wait_postdrop(k);
	}
	buf_deinit(&k->out);
	return rc;
}

/* sink_abort - throw the maildrop file away */
static void sink_abort(struct sink *k)
{
	if (k->w)
		qf_abort(&k->w);
	if (k->pid > 0) {
		kill(k->pid, SIGTERM);
		close(k->fd);
		(void)wait_postdrop(k);
	}
	buf_deinit(&k->out);
}

/* ---- the message ---- */

/* write_probe - -bv content (Postfix: From, Subject: probe, To) */
static void write_probe(struct cleanup_stream *s, const char *sender, const struct argv *rcpts)
{
	struct buf b;
	char *q;

	buf_init(&b, 256);
	if (*sender) {
		q = addr_quote(sender);
		buf_printf(&b, "From: %s\n", q);
		free(q);
	}
	buf_puts(&b, "Subject: probe\n");
	for (size_t i = 0; i < rcpts->argc; i++) {
		q = addr_quote(rcpts->argv[i]);
		buf_printf(&b, "%s%s%s", i == 0 ? "To: " : ",\n\t", q, i + 1 == rcpts->argc ? "\n" : "");
		free(q);
	}
	cleanup_stream_write(s, b.data, b.len);
	buf_deinit(&b);
}

/* copy_stdin - stdin through the filter; 0, or an exit status */
static int copy_stdin(struct cleanup_stream *s)
{
	const struct cleanup_stream_info *info = cleanup_stream_info(s);
	char *buf = xmalloc(65536);
	ssize_t n;

	while (!info->ended && !info->too_big) {
		if ((n = read(0, buf, 65536)) < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return cli_error(EX_DATAERR, "error reading input: %s", strerror(errno));
		}
		if (n == 0)
			break;
		cleanup_stream_write(s, buf, (size_t)n);
	}
	free(buf);
	return EX_OK;
}

/* envelope_check - cleanup's envelope cap, refused while the user is here */
static int envelope_check(const struct argv *rcpts, const char **why_r)
{
	long bytes = 0;

	for (size_t i = 0; i < rcpts->argc; i++)
		bytes += cleanup_envelope_bytes(rcpts->argv[i], NULL, NULL);
	return cleanup_envelope_limit((long)rcpts->argc, bytes, why_r);
}

/* submit - the deliver and verify modes */
static int submit(const struct sm_opts *o, char **args, int nargs)
{
	const struct cleanup_stream_info *info;
	struct cleanup_stream *s = NULL;
	struct argv *rcpts = argv_create();
	struct htable *seen = htable_create(64);
	char *sender = NULL, *full_name = NULL;
	const char *err;
	struct sink k;
	bool opened = false;
	int rc, flags;

	/* The envelope: sender, full name, DSN, recipients. */
	sender = o->sender ? sendmail_parse_sender(o->sender) : login_sender();
	if (sender == NULL) {
		rc = o->sender ? cli_error(EX_USAGE, "bad sender address syntax: %s", o->sender)
		    : cli_error(EX_OSERR, "no login name found for user ID %ld", (long)getuid());
		goto out;
	}
	if (submission_check_address(sender, true, &err) < 0) {
		rc = cli_error(EX_USAGE, "bad sender address \"%s\": %s", sender, err);
		goto out;
	}
	full_name = o->full_name ? xstrdup(o->full_name) : default_full_name();
	if (full_name && submission_check_text(full_name, SUBMISSION_NAME_MAX, &err) < 0) {
		if (o->full_name) {
			rc = cli_error(EX_USAGE, "-F: %s", err);
			goto out;
		}
		XFREE(full_name);
	}
	if (o->envid && submission_check_envid(o->envid, &err) < 0) {
		rc = cli_error(EX_USAGE, "-V: %s", err);
		goto out;
	}
	if (o->extract && o->mode == 'v') {
		rc = cli_error(EX_USAGE, "-t option cannot be used with -bv");
		goto out;
	}
	if ((rc = sendmail_parse_recipients(args, nargs, rcpts, seen)) != EX_OK)
		goto out;
	if (rcpts->argc == 0 && !o->extract) {
		rc = cli_error(EX_USAGE, "Recipient addresses must be specified on the command line "
			   "or via the -t option");
		goto out;
	}

	/* No room for new mail: say so now (postdrop checks again). */
	if (cleanup_space_check(var_queue_directory, &err) < 0) {
		rc = cli_error(EX_TEMPFAIL, "%s", err + 6);
		goto out;
	}

	/* The text, streamed into the maildrop file as it arrives. */
	if ((rc = sink_open(&k, o, sender, full_name)) != EX_OK)
		goto out;
	opened = true;
	flags = CLEANUP_STREAM_SKIP_FROM | (o->dot_eof ? CLEANUP_STREAM_DOT_EOF : 0)
	    | (o->extract ? CLEANUP_STREAM_EXTRACT : 0);
	s = cleanup_stream_create(flags, var_header_size_limit, var_message_size_limit,
				  sink_content, NULL, &k);
	info = cleanup_stream_info(s);
	if (o->mode == 'v')
		write_probe(s, sender, rcpts);
	else if ((rc = copy_stdin(s)) != EX_OK)
		goto out;
	cleanup_stream_finish(s);

	/* What cleanup would refuse later, refused now while the user is here. */
	if (info->too_big) {
		rc = cli_error(EX_DATAERR, "message size exceeds message_size_limit");
		goto out;
	}
	if (var_hopcount_limit > 0 && info->received >= var_hopcount_limit) {
		rc = cli_error(EX_DATAERR, "too many hops: %ld Received: headers (hopcount_limit %ld)",
			   info->received, var_hopcount_limit);
		goto out;
	}
	if (o->extract) {
		if (info->bad_addr_headers)
			cli_warn("%s in a To/Cc/Bcc header; that address was skipped",
			     info->bad_addr_error);
		for (size_t i = 0; i < info->rcpts->argc; i++) {
			if (submission_check_address(info->rcpts->argv[i], false, &err) < 0)
				cli_warn("skipping header recipient \"%s\": %s", info->rcpts->argv[i], err);
			else
				sendmail_add_unique(rcpts, seen, info->rcpts->argv[i]);
		}
		if (rcpts->argc == 0) {
			rc = cli_error(EX_USAGE, "No recipient addresses found in message header");
			goto out;
		}
	}
	if (envelope_check(rcpts, &err) < 0) {
		rc = cli_error(EX_DATAERR, "%s", err + 6);
		goto out;
	}
	sink_rcpts(&k, rcpts, o->notify);
	opened = false;
	if ((rc = sink_commit(&k)) != EX_OK)
		goto out;
	if (o->qflags) {
		printf("Mail Delivery Status Report will be mailed to <%s>.\n", sender);
		fflush(stdout);
	}
out:
	if (opened)
		sink_abort(&k);
	cleanup_stream_free(&s);
	argv_free(&rcpts);
	htable_free(&seen, NULL);
	free(sender);
	free(full_name);
	return rc;
}

/* cmd_sendmail - the sendmail command */
int cmd_sendmail(const char *config_dir, int argc, char **argv)
{
	struct sm_opts o;
	const char *err;
	char *queue_argv[] = {(char *)"queue", NULL};
	int rc, first = 0;

	cli_command_set(argv[0]);
	if ((rc = sendmail_parse_options(&argc, argv, &o, &first)) != EX_OK)
		return rc;
	if (o.mode == 'x')
		return EX_OK;
	msg_verbose += o.verbose;
	if (mail_conf_read(o.config_dir ? o.config_dir : config_dir, &err) < 0)
		return cli_error(EX_CONFIG, "%s", err);

	switch (o.mode) {
	case 'i':
		return cmd_newaliases(o.config_dir ? o.config_dir : config_dir);
	case 'p':
		return cmd_queue(o.config_dir ? o.config_dir : config_dir, 1, queue_argv);
	case 'q':
		if (trigger_send(var_queue_directory, TRIGGER_QMGR, TRIGGER_REQ_FLUSH_ALL,
				 strlen(TRIGGER_REQ_FLUSH_ALL), &err) < 0)
			return cli_error(EX_TEMPFAIL, "Cannot flush mail queue - %s", err);
		return EX_OK;
	default:
		return submit(&o, argv + first, argc - first);
	}
}
