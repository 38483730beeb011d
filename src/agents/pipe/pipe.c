/*
 * pipe - the pipe delivery agent (Postfix pipe(8)): deliver a message to
 * an external command named in master.cf.
 *
 * The service's attributes (flags=, user=, argv=, ...; see pipe_args.h)
 * come from its own master.cf entry: the agent reads master.cf at start-up
 * and finds the entry by its service name, because master passes only the
 * standard options on the command line.
 *
 * One command runs per request with every recipient on its command line
 * (${recipient} repeats), and its outcome applies to all of them; with the
 * D or O flag (Delivered-To:, X-Original-To: name one recipient) one
 * command runs per recipient.  The message goes to the command's standard
 * input shaped by the flags; the exit status decides (pipe_command.h):
 * 0 sent, EX_TEMPFAIL and signals deferred, other sysexits codes bounced
 * with their status, the time limit (<service>_time_limit, default
 * command_time_limit) kills the command's process group and defers.
 *
 * Address verification (sendmail -bv) runs nothing: it reports the command
 * that would run.
 *
 * Privileges: the agent keeps root (when started as root) only to start
 * each command as the user= account; it refuses root and mail_owner as
 * that account.  An agent that is not root runs commands as itself.
 *
 * DIAGNOSTICS: a bad or missing service definition, an unknown user= or a
 * forbidden one are logged as warnings and defer the mail with 4.3.5 (or
 * 4.3.0 for root) until the configuration is fixed.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agents/common/agent_server.h"
#include "agents/pipe/pipe_args.h"
#include "global/mail_conf.h"
#include "global/mail_copy.h"
#include "global/mail_server.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "global/pipe_command.h"
#include "global/queue_file.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* The service definition, read once per process (master restarts us on reload). */
static struct pipe_attr service_attr;
static char *service_error;	/* why the definition is unusable, or NULL */
static bool service_loaded;

/* load_service - find and parse this service's master.cf entry */
static void load_service(const char *service)
{
	const struct master_ent *ents, *ent;
	const char *error;
	size_t count = 0;

	service_loaded = true;
	/* master.cf was read with main.cf (or is the built-in one). */
	ents = mail_conf_master(&count);
	if ((ent = master_cf_find(ents, count, service, "unix")) == NULL
	    && (ent = master_cf_find(ents, count, service, NULL)) == NULL)
		service_error = xasprintf("no master.cf entry for service \"%s\"", service);
	else if (pipe_attr_parse(ent->args->argv, ent->args->argc, &service_attr, &error) < 0)
		service_error = xasprintf("master.cf line %d, service %s: %s", ent->line,
					  service, error);
}

/* The user= account as resolved for one delivery. */
struct pipe_user {
	uid_t uid;
	gid_t gid;
};

/* resolve_user - user=name[:group]; 0, or -1 with a dsn status and reason */
static int resolve_user(const struct pipe_attr *attr, struct pipe_user *u,
			char status_r[16], struct buf *why)
{
	struct passwd *pw;
	struct group *gr;
	uid_t owner_uid;
	gid_t owner_gid;

	if ((pw = getpwnam(attr->user)) == NULL) {
		snprintf(status_r, 16, "4.3.5");
		buf_printf(why, "user= names an unknown account \"%s\"", attr->user);
		return -1;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (attr->group) {
		if ((gr = getgrnam(attr->group)) == NULL) {
			snprintf(status_r, 16, "4.3.5");
			buf_printf(why, "user= names an unknown group \"%s\"", attr->group);
			return -1;
		}
		u->gid = gr->gr_gid;
	}
	if (u->uid == 0) {
		snprintf(status_r, 16, "4.3.0");
		buf_puts(why, "user= must not be root");
		return -1;
	}
	if (u->gid == 0) {
		snprintf(status_r, 16, "4.3.0");
		buf_puts(why, "user= must not have the root group");
		return -1;
	}
	if (mail_owner_ids(&owner_uid, &owner_gid) == 0 && u->uid == owner_uid) {
		snprintf(status_r, 16, "4.3.5");
		buf_printf(why, "user= must not be the mail system owner \"%s\"", var_mail_owner);
		return -1;
	}
	return 0;
}

/* time_limit - <service>_time_limit, else command_time_limit */
static long time_limit(const char *service)
{
	return transport_param_long(service, "command_time_limit");
}

/* What the feed function needs. */
struct feed_ctx {
	struct agent_delivery *d;
	const struct pipe_attr *attr;
	size_t rcpt;			/* recipient for D/O headers */
	struct pipe_command_io *io;
	struct mail_copy mc;
	bool read_error;		/* the queue file, not the command, failed */
	bool corrupt;			/* ... because it is damaged */
	const char *error;
};

/* copy_write - mail_copy output into the command */
static int copy_write(const void *data, size_t n, void *ctx)
{
	struct feed_ctx *f = ctx;

	return pipe_command_write(f->io, data, n);
}

/* copy_chunk - queue file content into the copy */
static int copy_chunk(const char *data, size_t len, void *ctx)
{
	struct feed_ctx *f = ctx;

	return mail_copy_data(&f->mc, data, len);
}

/* feed - write the message to the command */
static int feed(struct pipe_command_io *io, void *ctx)
{
	struct feed_ctx *f = ctx;
	const struct deliver_rcpt *r = &f->d->req->rcpt[f->rcpt];
	int ret = -1;

	f->io = io;
	mail_copy_init(&f->mc, f->attr->flags & ~PIPE_FLAGS_NOT_COPY, f->attr->eol, copy_write, f);
	if (mail_copy_begin(&f->mc, f->d->req->sender, *r->orig_rcpt ? r->orig_rcpt : r->address,
			    r->address, time(NULL)) == 0) {
		int rd = qf_read_content(f->d->qf, copy_chunk, f, &f->error);

		if (rd < 0) {
			/* Stopped by the copy (the command) or by the file itself? */
			if (!f->mc.failed)
				f->read_error = true;
			if (rd == QF_CORRUPT)
				f->corrupt = true;
		} else if (mail_copy_end(&f->mc) == 0) {
			ret = 0;
		}
	}
	mail_copy_deinit(&f->mc);
	return ret;
}

/* report - one outcome for recipients [from, to) */
static void report(struct agent_delivery *d, size_t from, size_t to, int stat,
		   const char *status, const char *action, const char *reason)
{
	struct dsn dsn = agent_dsn(status, action, reason);

	for (size_t i = from; i < to; i++) {
		if (stat == PIPE_STAT_OK)
			agent_rcpt_sent(d, i, &dsn, d->service);
		else if (stat == PIPE_STAT_BOUNCE)
			agent_rcpt_bounce(d, i, &dsn, d->service);
		else
			agent_rcpt_defer(d, i, &dsn, d->service);
	}
}

/* deliver_group - run the command once for recipients [from, to); 0, or -1
 * when the queue file turned out to be damaged (nothing reported then) */
static int deliver_group(struct agent_delivery *d, const struct pipe_user *u,
			  size_t from, size_t to)
{
	const struct deliver_request *req = d->req;
	struct pipe_macros m;
	struct pipe_command_args a;
	struct pipe_command_result res;
	struct feed_ctx f;
	struct argv *cmd = argv_create();
	char **rcpts, **origs, *shown;
	const char *error;
	struct buf *why;
	int rc = 0;

	rcpts = xcalloc(to - from, sizeof(*rcpts));
	origs = xcalloc(to - from, sizeof(*origs));
	for (size_t i = from; i < to; i++) {
		rcpts[i - from] = req->rcpt[i].address;
		origs[i - from] = req->rcpt[i].orig_rcpt;
	}
	memset(&m, 0, sizeof(m));
	m.sender = req->sender;
	m.nexthop = req->nexthop;
	m.queue_id = req->queue_id;
	m.size = req->data_size;
	m.rcpt = rcpts;
	m.orig_rcpt = origs;
	m.rcpt_count = to - from;
	m.delimiters = var_recipient_delimiter;
	m.null_sender = service_attr.null_sender;
	m.flags = service_attr.flags;
	if (pipe_argv_expand(service_attr.argv, &m, cmd, &error) < 0) {
		msg_warn("service %s: argv=: %s", d->service, error);
		report(d, from, to, PIPE_STAT_DEFER, "4.3.5", "delayed",
		       "mail system configuration error");
		goto out;
	}

	/* The command as Postfix shows it in reasons: its words joined by spaces. */
	why = buf_create(128);
	for (size_t i = 0; i < cmd->argc; i++)
		buf_printf(why, "%s%s", i ? " " : "", cmd->argv[i]);
	shown = buf_steal(why);
	buf_free(&why);

	memset(&f, 0, sizeof(f));
	f.d = d;
	f.attr = &service_attr;
	f.rcpt = from;
	memset(&a, 0, sizeof(a));
	a.command = shown;
	a.argv = cmd->argv;
	a.export_names = var_export_environment;
	a.cwd = service_attr.directory;
	a.uid = u->uid;
	a.gid = u->gid;
	a.time_limit = time_limit(d->service);
	a.feed = feed;
	a.ctx = &f;
	agent_connected(d);
	pipe_command_run(&a, &res);

	if (f.corrupt) {
		msg_warn("%s: damaged queue file: %s", req->queue_id, f.error);
		rc = -1;
	} else if (f.read_error) {
		msg_warn("%s: reading the queue file: %s", req->queue_id,
			 f.error ? f.error : "unknown error");
		report(d, from, to, PIPE_STAT_DEFER, "4.3.0", "delayed",
		       "error reading the queued message");
	} else if (res.stat == PIPE_STAT_OK) {
		char *text = xasprintf("delivered via %s service", d->service);

		report(d, from, to, PIPE_STAT_OK, "2.0.0",
		       (service_attr.flags & PIPE_FLAG_FINAL) ? "delivered" : "relayed", text);
		free(text);
	} else {
		report(d, from, to, res.stat, res.status,
		       res.stat == PIPE_STAT_BOUNCE ? "failed" : "delayed", buf_str(res.reason));
	}
	pipe_command_result_deinit(&res);
	free(shown);
out:
	argv_free(&cmd);
	free(rcpts);
	free(origs);
	return rc;
}

/* pipe_deliver - one request */
static int pipe_deliver(struct agent_delivery *d)
{
	const struct deliver_request *req = d->req;
	struct pipe_user u;
	struct buf *why;
	char status[16];
	size_t step;
	int r;

	/* A damaged message is found before any command sees part of it. */
	if ((r = agent_validate(d)) < 0)
		return r == QF_CORRUPT ? -1 : 0;
	if (!service_loaded)
		load_service(d->service);
	if (service_error) {
		msg_warn("%s", service_error);
		struct dsn dsn = agent_dsn("4.3.5", "delayed", "mail system configuration error");

		agent_defer_pending(d, &dsn, d->service);
		return 0;
	}
	why = buf_create(64);
	if (resolve_user(&service_attr, &u, status, why) < 0) {
		msg_warn("service %s: %s", d->service, buf_str(why));
		struct dsn dsn = agent_dsn(status, "delayed", buf_str(why));

		agent_defer_pending(d, &dsn, d->service);
		buf_free(&why);
		return 0;
	}
	buf_free(&why);
	if (service_attr.size_limit > 0 && req->data_size > service_attr.size_limit) {
		struct dsn dsn = agent_dsn("5.2.3", "failed", "message too large");

		agent_bounce_pending(d, &dsn, d->service);
		return 0;
	}

	/* Address verification (sendmail -bv): say what would run, run nothing. */
	if (req->flags & DEL_REQ_FLAG_VERIFY) {
		char *text = xasprintf("delivers to command: %s", service_attr.argv->argv[0]);
		struct dsn dsn = agent_dsn("2.0.0", "deliverable", text);

		for (size_t i = 0; i < req->rcpt_count; i++)
			agent_rcpt_sent(d, i, &dsn, d->service);
		free(text);
		return 0;
	}

	/* Headers that name one recipient need one command per recipient. */
	step = (service_attr.flags & (MAIL_COPY_DELIVERED | MAIL_COPY_ORIG_RCPT))
		? 1 : req->rcpt_count;
	for (size_t from = 0; from < req->rcpt_count; from += step)
		if (deliver_group(d, &u, from, from + step < req->rcpt_count
				  ? from + step : req->rcpt_count) < 0)
			return -1;
	return 0;
}

/* main - the pipe agent */
int main(int argc, char **argv)
{
	static const struct agent_server_conf conf = {
		.progname = "pipe",
		.deliver = pipe_deliver,
		.keep_root = true,
	};

	agent_server_main(argc, argv, &conf);
}
