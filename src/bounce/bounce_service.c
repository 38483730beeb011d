/*
 * bounce_service - carry out bounce, defer and trace requests (see
 * bounce_service.h).
 *
 * PURPOSE: turn a message's status log into the reports it calls for, and
 * leave the queue in the state the queue manager expects afterwards.
 *
 * CONTRACT, per request:
 *   bounce_flush, defer_flush  mark every logged recipient done in the
 *       queue file (fsync'd), send the non-delivery report (or the double
 *       bounce), optionally the postmaster's copy, then remove the log.
 *       The marks come first, deliberately: a failure before the report
 *       went out leaves the log, so the request is repeated and the marks
 *       (idempotent) cost nothing; a report sent before a failed mark
 *       would be sent twice.  Postfix's bounce daemon marks last.
 *   defer_warn     the delay warning and optionally the postmaster's copy;
 *       nothing marked, the log kept (the queue manager rewrites the
 *       warning time).
 *   trace_flush    the verify report (sendmail -bv), else the full trace
 *       (sendmail -v), else success notices for NOTIFY=SUCCESS recipients
 *       and, when asked, "delay cleared" notices; then remove the log.
 * A log that holds the same recipient (offset and address) more than once
 * is reported with its last record: retries may repeat a record.
 * Reports never go to the null sender: a non-delivery report about a
 * message from <> is a double bounce to 2bounce_notice_recipient (when
 * notify_classes has bounce or 2bounce), and one about a message from
 * double_bounce_sender is discarded, so that failures cannot loop.
 * A postmaster copy that fails is a warning, never a reason to repeat the
 * sender's report.
 *
 * DIAGNOSTICS: Postfix's lines "ID: sender non-delivery notification:
 * NEWID" (also "sender delay", "sender delivery status", "postmaster
 * non-delivery", "postmaster delay"); warnings for an unreadable original
 * message (the report goes out without it) and for failed postmaster
 * copies.  Failures that make the request fail are returned, not logged:
 * bounce.c logs them once with the reply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce_notify.h"
#include "bounce_service.h"
#include "global/cleanup/cleanup.h"
#include "global/dsn.h"
#include "global/notice.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

/* The folders a message can be in while the queue manager asks for a report. */
static const char *const queue_names[] = {
	"incoming", "active", "deferred", "hold", "corrupt",
};

static const struct {
	const char *name;
	enum bounce_op op;
} ops[] = {
	{"bounce_flush", BOUNCE_OP_BOUNCE_FLUSH},
	{"defer_flush", BOUNCE_OP_DEFER_FLUSH},
	{"defer_warn", BOUNCE_OP_DEFER_WARN},
	{"trace_flush", BOUNCE_OP_TRACE_FLUSH},
};

/* bounce_request_decode - strict decoding of a request frame */
int bounce_request_decode(const struct attr_list *al, struct bounce_request *req, const char **error_r)
{
	const char *request = attr_get(al, "request");
	const char *ret;
	long flags;
	size_t i;

	memset(req, 0, sizeof(*req));
	req->ret = -1;
	if (request == NULL) {
		*error_r = "missing request attribute";
		return -1;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(request, ops[i].name) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		*error_r = "unknown request";
		return -1;
	}
	req->op = ops[i].op;

	/* The queue name and ID become a path: only known folders, valid IDs. */
	req->queue_name = attr_get(al, "queue_name");
	for (i = 0; req->queue_name && i < sizeof(queue_names) / sizeof(queue_names[0]); i++)
		if (strcmp(req->queue_name, queue_names[i]) == 0)
			break;
	if (req->queue_name == NULL || i == sizeof(queue_names) / sizeof(queue_names[0])) {
		*error_r = "missing or bad queue_name";
		return -1;
	}
	req->queue_id = attr_get(al, "queue_id");
	if (req->queue_id == NULL || !queue_id_valid(req->queue_id)) {
		*error_r = "missing or bad queue_id";
		return -1;
	}

	/* Optional fields: absent means "take it from the queue file". */
	req->sender = attr_get(al, "sender");
	req->envid = attr_get(al, "envid");
	if ((ret = attr_get(al, "ret")) != NULL) {
		long n;

		/* Either the number (DSN_RET_*) or the keyword. */
		if (str_to_long(ret, 0, DSN_RET_HDRS, &n) == 0)
			req->ret = (int)n;
		else if ((req->ret = dsn_ret_parse(ret)) < 0) {
			*error_r = "bad ret";
			return -1;
		}
	}
	if (attr_get(al, "flags") != NULL) {
		if (attr_get_long(al, "flags", 0, 7, &flags) < 0) {
			*error_r = "bad flags";
			return -1;
		}
		req->flags = (int)flags;
	}
	if (attr_get(al, "arrival_time") != NULL
	    && (attr_get_double(al, "arrival_time", &req->arrival_time) < 0
		|| req->arrival_time < 0)) {
		*error_r = "bad arrival_time";
		return -1;
	}
	if (attr_get(al, "next_attempt") != NULL
	    && (attr_get_double(al, "next_attempt", &req->next_attempt) < 0
		|| req->next_attempt < 0)) {
		*error_r = "bad next_attempt";
		return -1;
	}
	return 0;
}

/* bounce_notify_class - is cls among notify_classes? */
bool bounce_notify_class(const char *cls)
{
	return var_notify_classes && str_list_match(var_notify_classes, cls);
}

/* bounce_submit - one report into the queue through cleanup */
int bounce_submit(const char *env_sender, const char *recipient, const struct buf *report,
		  char id_r[QUEUE_ID_SIZE], const char **error_r)
{
	return notice_submit(env_sender, recipient, report, id_r, error_r);
}

/* ---- one request ---- */

/* Everything one request works with. */
struct job {
	const struct bounce_request *req;
	double now;
	const char *log;		/* STATUS_LOG_* */
	struct rcpt_status_rec *recs;	/* as read */
	long nrecs;
	struct rcpt_status_rec *uniq;	/* last record per recipient (shallow) */
	size_t nuniq;
	struct qf *qf;			/* NULL when it could not be opened */
	const char *qf_error;		/* why not */
	struct qf_envelope env;
	bool have_env;
	const char *sender;
	const char *envid;
	int ret;
	double arrival;
	struct buf reason;		/* what went wrong, for the reply */
};

/* dedupe - keep the last record of each (offset, recipient), in first order */
static void dedupe(struct job *job)
{
	struct htable *seen = htable_create((size_t)job->nrecs + 1);
	struct buf key;

	buf_init(&key, 128);
	job->uniq = xcalloc((size_t)job->nrecs + 1, sizeof(*job->uniq));
	job->nuniq = 0;
	for (long i = 0; i < job->nrecs; i++) {
		struct rcpt_status_rec *r = &job->recs[i];
		size_t *slot;

		buf_reset(&key);
		buf_printf(&key, "%ld %s", r->offset, r->recipient);
		if ((slot = htable_find(seen, buf_str(&key))) != NULL) {
			job->uniq[*slot] = *r;
			continue;
		}
		slot = xmalloc(sizeof(*slot));
		*slot = job->nuniq;
		htable_enter(seen, buf_str(&key), slot);
		job->uniq[job->nuniq++] = *r;
	}
	buf_deinit(&key);
	htable_free(&seen, free);
}

/*
 * The folders a message can be moved to while its request waits: a queue
 * manager that started after the one that asked moves active/ back to
 * incoming/ and on to active/ or deferred/ (fault finding F18: the file was
 * taken for gone and the report went without the original, unmarked).
 */
static const char *const moved_to[] = {"incoming", "active", "deferred", "hold"};

/* open_queue_file - the message, read-write when marks are due */
static int open_queue_file(struct job *job, bool writable)
{
	char *path = queue_path(var_queue_directory, job->req->queue_name, job->req->queue_id);
	bool corrupt = false;
	const char *error;
	struct stat st;

	job->qf = qf_open(path, writable, &corrupt, &error);
	for (size_t i = 0; job->qf == NULL && !corrupt && stat(path, &st) < 0 && errno == ENOENT
	     && i < sizeof(moved_to) / sizeof(moved_to[0]); i++) {
		char *other;

		if (strcmp(moved_to[i], job->req->queue_name) == 0)
			continue;
		other = queue_path(var_queue_directory, moved_to[i], job->req->queue_id);
		if (stat(other, &st) < 0) {
			free(other);
			continue;
		}
		free(path);
		path = other;
		job->qf = qf_open(path, writable, &corrupt, &error);
	}
	if (job->qf == NULL) {
		/*
		 * A message that is gone needs no marks, and its report goes out
		 * without the original (Postfix's "best notification effort"); so
		 * does one that is damaged (the queue manager quarantines it).
		 * Any other failure is worth another try.
		 */
		if (corrupt)
			job->qf_error = "the queue file is damaged";
		else if (stat(path, &st) < 0 && errno == ENOENT)
			job->qf_error = "the queue file no longer exists";
		else
			buf_printf(&job->reason, "cannot open queue file: %s", error);
		free(path);
		return job->qf_error ? 0 : -1;
	}
	free(path);
	/* Like a delivery agent: a shared lock keeps the queue manager's
	 * import check from moving the file while we write to it. */
	if (writable && qf_lock(qf_fd(job->qf), false) < 0) {
		buf_printf(&job->reason, "queue file is locked: %s", strerror(errno));
		return -1;
	}
	if (qf_read_envelope(job->qf, &job->env, &error) == 0) {
		job->have_env = true;
	} else {
		job->qf_error = "the queue file envelope cannot be read";
		msg_warn("%s: %s", job->req->queue_id, error);
	}
	return 0;
}

/* resolve_envelope - the request's envelope facts, else the queue file's */
static void resolve_envelope(struct job *job)
{
	const struct bounce_request *req = job->req;

	job->sender = req->sender ? req->sender : job->have_env ? job->env.sender : NULL;
	job->envid = req->envid ? req->envid : job->have_env ? job->env.envid : "";
	job->ret = req->ret >= 0 ? req->ret : job->have_env ? job->env.ret : 0;
	job->arrival = req->arrival_time > 0 ? req->arrival_time
		: job->have_env ? job->env.arrival_time : 0;
	/* Without a sender there is nobody to tell; do not guess. */
	if (job->sender == NULL)
		msg_warn("%s: sender unknown (%s): no report sent", req->queue_id,
			 job->qf_error ? job->qf_error : "not in the request");
}

/* mark_done - every logged recipient done, durably */
static int mark_done(struct job *job)
{
	int fd;

	if (job->qf == NULL)
		return 0;
	fd = qf_fd(job->qf);
	for (size_t i = 0; i < job->nuniq; i++) {
		long offset = job->uniq[i].offset;
		int rc;

		if (offset <= 0)
			continue;
		if ((rc = qf_mark_done(fd, offset)) == QF_CORRUPT) {
			/* Not a recipient record: a log that does not belong to this
			 * file.  Marking elsewhere would damage it; report anyway. */
			msg_warn("%s: recipient <%s> offset %ld: no recipient record there",
				 job->req->queue_id, job->uniq[i].recipient, offset);
		} else if (rc < 0) {
			buf_printf(&job->reason, "cannot update queue file: %s", strerror(errno));
			return -1;
		}
	}
	if (fsync(fd) < 0) {
		buf_printf(&job->reason, "cannot fsync queue file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* State for reading the original message through qf_read_content. */
struct content_pipe {
	bounce_content_sink *sink;
	void *sink_ctx;
	bool stopped;
};

/* content_chunk - hand one chunk to the builder's sink */
static int content_chunk(const char *data, size_t len, void *ctx)
{
	struct content_pipe *p = ctx;

	if (p->sink(data, len, p->sink_ctx) < 0) {
		p->stopped = true;
		return -1;
	}
	return 0;
}

/* content_produce - the builder's content callback over the queue file */
static int content_produce(void *ctx, bounce_content_sink *sink, void *sink_ctx,
			   const char **error_r)
{
	struct job *job = ctx;
	struct content_pipe p = {sink, sink_ctx, false};

	if (job->qf == NULL || !job->have_env) {
		*error_r = job->qf_error;
		return -1;
	}
	/* A stop asked for by the sink is not a read error. */
	if (qf_read_content(job->qf, content_chunk, &p, error_r) < 0 && !p.stopped)
		return -1;
	return 0;
}

/*
 * send_report - build one report and submit it.  Returns 1 sent, 0 nobody
 * to report (nothing sent), -1 failure (job->reason set).
 */
static int send_report(struct job *job, enum bounce_kind kind, enum bounce_role role,
		       const char *env_sender, const char *to, const char *what,
		       const struct rcpt_status_rec *recs, size_t nrecs)
{
	struct bounce_notify_input in;
	struct buf *report = buf_create(8192);
	char postmaster[512], new_id[QUEUE_ID_SIZE];
	const char *content_error = NULL, *error = NULL;
	size_t count;
	int rc = 1;

	snprintf(postmaster, sizeof(postmaster), "postmaster@%s", var_myhostname);
	memset(&in, 0, sizeof(in));
	in.kind = kind;
	in.role = role;
	in.queue_id = job->req->queue_id;
	in.myhostname = var_myhostname;
	in.mail_name = var_mail_name;
	in.sender = job->sender;
	in.recipient = to;
	in.postmaster = postmaster;
	in.arrival_time = job->arrival;
	in.now = job->now;
	in.envid = job->envid;
	in.ret = job->ret;
	in.size_limit = var_bounce_size_limit;
	if (kind == BOUNCE_KIND_DELAY && job->arrival > 0)
		in.retry_until = job->arrival + (double)var_maximal_queue_lifetime;
	in.next_attempt = job->req->next_attempt;
	in.rcpts = recs;
	in.rcpt_count = nrecs;
	in.content = content_produce;
	in.content_ctx = job;

	count = bounce_notify_build(&in, report, &content_error);
	if (count == 0) {
		rc = 0;
	} else {
		if (content_error != NULL)
			msg_warn("%s: original message not attached to %s notification: %s",
				 job->req->queue_id, what, content_error);
		if (bounce_submit(env_sender, to, report, new_id, &error) < 0) {
			buf_printf(&job->reason, "cannot queue %s notification: %s", what,
				   error ? error : "unknown error");
			/* cleanup's 4.x.x: the queue file could not be written. */
			if (error && error[0] == '4')
				notice_warn(NOTICE_RESOURCE, job->req->queue_id, job->sender,
					    "cannot queue a delivery status report",
					    "The %s notification could not be queued: %s. "
					    "It is tried again later.", what, error);
			rc = -1;
		} else {
			msg_info("%s: %s notification: %s", job->req->queue_id, what, new_id);
		}
	}
	buf_free(&report);
	return rc;
}

/* is_double_bounce_sender - the sender of our own postmaster notices? */
static bool is_double_bounce_sender(const char *sender)
{
	size_t n = strlen(var_double_bounce_sender);

	if (strcasecmp(sender, var_double_bounce_sender) == 0)
		return true;
	/* Also its qualified form, as cleanup may have written it. */
	return strchr(var_double_bounce_sender, '@') == NULL
		&& strncasecmp(sender, var_double_bounce_sender, n) == 0 && sender[n] == '@'
		&& strcasecmp(sender + n + 1, var_myorigin) == 0;
}

/* postmaster_copy - a copy for the postmaster; failure only warns */
static void postmaster_copy(struct job *job, enum bounce_kind kind, const char *to,
			    const char *what)
{
	size_t old = job->reason.len;

	if (send_report(job, kind, BOUNCE_ROLE_POSTMASTER, var_double_bounce_sender, to, what,
			job->uniq, job->nuniq) < 0) {
		msg_warn("%s: %s", job->req->queue_id, buf_str(&job->reason) + old);
		buf_truncate(&job->reason, old);
	}
}

/* do_failure - bounce_flush and defer_flush */
static int do_failure(struct job *job)
{
	if (open_queue_file(job, true) < 0 || mark_done(job) < 0)
		return -1;
	resolve_envelope(job);

	if (job->sender == NULL) {
		/* Warned about in resolve_envelope(). */
	} else if (is_double_bounce_sender(job->sender)) {
		/* Our own postmaster notice failed: never a triple bounce. */
		msg_warn("%s: undeliverable postmaster notification discarded",
			 job->req->queue_id);
	} else if (*job->sender == 0) {
		/* A report (or other mail from <>) failed: a double bounce. */
		if (bounce_notify_class("bounce") || bounce_notify_class("2bounce")) {
			if (send_report(job, BOUNCE_KIND_FAILURE, BOUNCE_ROLE_DOUBLE,
					var_double_bounce_sender,
					var_double_bounce_notice_recipient,
					"postmaster non-delivery", job->uniq, job->nuniq) < 0)
				return -1;
		} else {
			msg_info("%s: undeliverable postmaster notification discarded",
				 job->req->queue_id);
		}
	} else {
		int rc = send_report(job, BOUNCE_KIND_FAILURE, BOUNCE_ROLE_SENDER, "", job->sender,
				     "sender non-delivery", job->uniq, job->nuniq);

		if (rc < 0)
			return -1;
		if (bounce_notify_class("bounce"))
			postmaster_copy(job, BOUNCE_KIND_FAILURE, var_bounce_notice_recipient,
					"postmaster non-delivery");
	}
	if (status_log_remove(var_queue_directory, job->log, job->req->queue_id) < 0) {
		buf_printf(&job->reason, "cannot remove %s log: %s", job->log, strerror(errno));
		return -1;
	}
	return 0;
}

/* do_delay - defer_warn */
static int do_delay(struct job *job)
{
	if (open_queue_file(job, false) < 0)
		return -1;
	resolve_envelope(job);

	/* Nobody to warn about mail from <> or from our own notices. */
	if (job->sender && *job->sender && !is_double_bounce_sender(job->sender)
	    && send_report(job, BOUNCE_KIND_DELAY, BOUNCE_ROLE_SENDER, "", job->sender,
			   "sender delay", job->uniq, job->nuniq) < 0)
		return -1;
	if (bounce_notify_class("delay"))
		postmaster_copy(job, BOUNCE_KIND_DELAY, var_delay_notice_recipient,
				"postmaster delay");
	return 0;
}

/* do_trace - trace_flush */
static int do_trace(struct job *job)
{
	int flags = job->req->flags;

	if (open_queue_file(job, false) < 0)
		return -1;
	resolve_envelope(job);

	if (job->sender && *job->sender && !is_double_bounce_sender(job->sender)) {
		if (flags & BOUNCE_FLAG_VERIFY) {
			if (send_report(job, BOUNCE_KIND_VERIFY, BOUNCE_ROLE_SENDER, "", job->sender,
					"sender delivery status", job->uniq, job->nuniq) < 0)
				return -1;
		} else if (flags & BOUNCE_FLAG_VERBOSE) {
			if (send_report(job, BOUNCE_KIND_TRACE, BOUNCE_ROLE_SENDER, "", job->sender,
					"sender delivery status", job->uniq, job->nuniq) < 0)
				return -1;
		} else {
			/* A recipient told of success needs no "delay cleared" too. */
			struct rcpt_status_rec *rest = xcalloc(job->nuniq + 1, sizeof(*rest));
			size_t nrest = 0;
			int rc;

			for (size_t i = 0; i < job->nuniq; i++)
				if (!bounce_notify_wanted(BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER,
							  &job->uniq[i]))
					rest[nrest++] = job->uniq[i];
			rc = send_report(job, BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, "",
					 job->sender, "sender delivery status", job->uniq,
					 job->nuniq);
			if (rc >= 0 && (flags & BOUNCE_FLAG_DELAY_CLEARED))
				rc = send_report(job, BOUNCE_KIND_DELAY_CLEARED, BOUNCE_ROLE_SENDER,
						 "", job->sender, "sender delivery status", rest,
						 nrest);
			free(rest);
			if (rc < 0)
				return -1;
		}
	}
	if (status_log_remove(var_queue_directory, job->log, job->req->queue_id) < 0) {
		buf_printf(&job->reason, "cannot remove %s log: %s", job->log, strerror(errno));
		return -1;
	}
	return 0;
}

/* bounce_service_run - read the log, do the request's work */
int bounce_service_run(const struct bounce_request *req, double now, const char **reason_r)
{
	static struct buf reason;
	struct job job;
	const char *error;
	int rc;

	memset(&job, 0, sizeof(job));
	job.req = req;
	job.now = now;
	job.log = req->op == BOUNCE_OP_BOUNCE_FLUSH ? STATUS_LOG_BOUNCE
		: req->op == BOUNCE_OP_TRACE_FLUSH ? STATUS_LOG_TRACE : STATUS_LOG_DEFER;
	buf_init(&job.reason, 256);

	job.nrecs = status_log_read(var_queue_directory, job.log, req->queue_id, &job.recs, &error);
	if (job.nrecs < 0) {
		buf_printf(&job.reason, "cannot read %s log: %s", job.log, error);
		rc = -1;
		goto out;
	}
	if (job.nrecs == 0) {
		/* Nothing logged (or an empty leftover): nothing to report. */
		rc = req->op == BOUNCE_OP_DEFER_WARN ? 0
			: status_log_remove(var_queue_directory, job.log, req->queue_id);
		if (rc < 0)
			buf_printf(&job.reason, "cannot remove %s log: %s", job.log, strerror(errno));
		goto out;
	}
	dedupe(&job);

	switch (req->op) {
	case BOUNCE_OP_BOUNCE_FLUSH:
		/* soft_bounce: nothing is returned; the log waits (Postfix). */
		if (var_soft_bounce) {
			buf_puts(&job.reason, "soft_bounce is set: mail is not returned");
			rc = -1;
			break;
		}
		/* FALLTHROUGH */
	case BOUNCE_OP_DEFER_FLUSH:
		rc = do_failure(&job);
		break;
	case BOUNCE_OP_DEFER_WARN:
		rc = do_delay(&job);
		break;
	case BOUNCE_OP_TRACE_FLUSH:
		rc = do_trace(&job);
		break;
	default:
		msg_panic("bounce_service_run: bad op %d", (int)req->op);
	}

out:
	if (reason.data == NULL)
		buf_init(&reason, 256);
	buf_set(&reason, buf_str(&job.reason));
	*reason_r = buf_str(&reason);
	if (job.have_env)
		qf_envelope_deinit(&job.env);
	qf_close(&job.qf);
	free(job.uniq);
	if (job.recs)
		status_log_free(&job.recs, job.nrecs);
	buf_deinit(&job.reason);
	return rc;
}

/* bounce_postmaster_notice - a plain alert to the postmaster, per class */
int bounce_postmaster_notice(const char *cls, const char *queue_id, const char *subject,
			     const char *text, double now, const char **error_r)
{
	char *full = xasprintf("Postmaster Warning: %s", subject);
	struct notice n = {.classes = notice_class_mask(cls), .queue_id = queue_id,
			   .subject = full, .text = text};
	int rc = notice_send(&n, now, error_r);

	free(full);
	return rc;
}
