/*
 * cmd_super - the postmaster's queue administration: hold, release,
 * requeue, delete and force-expire messages by queue ID or ALL (Postfix's
 * postsuper -h, -H, -r, -d, -e).
 *
 * Contract.  Each message is counted at most once, and none is lost or
 * duplicated: every change is one rename(2) (with an fsync of the
 * destination folder) or, for delete, one unlink(2).  Safe while the
 * system runs:
 *
 *  - incoming/, deferred/, hold/, maildrop/, corrupt/ are changed directly;
 *    a file the queue manager takes away meanwhile is simply not there any
 *    more (ENOENT) and is looked for in the folders further down the flow
 *    (incoming, active, deferred, hold), so it is not missed.
 *  - active/ is the queue manager's: its messages are handed to it over
 *    private/qmgr-control (one attribute frame "request" = hold, delete or
 *    requeue plus one "queue_id" per message; the reply says how many it
 *    had), and it applies the request when the message's deliveries end.
 *    Only when nobody listens on that socket (the system is stopped) does
 *    the tool change active/ itself, and even then it leaves alone a file
 *    that an agent still holds locked.
 *
 * Semantics.  hold moves to hold/.  release moves hold/ to deferred/ with
 * the time stamp set to now (due now), then hands the released IDs to the
 * queue manager over private/qmgr-control (request=release), which enters
 * them into its deferred index and scans at once; as with Postfix's
 * postsuper -H, release is not a flush: defer_transports, dead
 * destinations and their back-off still apply.  expire sets the
 * force-expire mode bit (QF_MODE_EXPIRE) on a complete file in any folder
 * it may name, active/ included (the queue manager reads the bit at its
 * next import of the message, as Postfix's does): the next attempt returns
 * the message to its sender without delivering it; held mail keeps the bit
 * and is returned once released.
 * requeue (to run a message through cleanup again after a routing change,
 * as postsuper -r) moves the file to hold/ (out of the queue manager's
 * way), sets its mode to exactly 0700, removes its defer/ and trace/ logs
 * and moves it on to maildrop/ (docs/QUEUE.md state 12); pickup takes a
 * 0700 file owned by the mail system as a requeued queue file, keeps its
 * envelope (arrival time, sender, DSN data, attributes) and copies only the
 * pending recipients into a new queue file through cleanup, so recipients
 * already done are not sent again.  A message whose bounce/ log still
 * holds unreported failures is not requeued (the report would be lost),
 * nor one without pending recipients or one that cannot be read (pickup
 * would quarantine it).  A requeue interrupted half-way leaves the message
 * on hold.  delete removes the file, then its bounce/, defer/ and trace/
 * logs.
 *
 * Diagnostics.  One "ID: placed on hold" (released from hold, requeued,
 * removed, expired) info line per message, then on stderr Postfix's
 * summary "sluice: Placed on hold: N messages" (Released from hold,
 * Requeued, Deleted, Force-expired), printed also when N is 0.  Problems with one message are
 * warnings; see cmd_super.h for the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_queue.h"
#include "cmd_super.h"
#include "global/queue_file.h"
#include "global/trigger.h"
#include "global/status_log.h"
#include "util/argv.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define QMGR_CONTROL		"private/qmgr-control"
#define QMGR_IDS_PER_REQUEST	4096	/* keeps a request frame far below 1 MiB */
#define QMGR_TIMEOUT_MS		30000
#define RCPT_BATCH		256

/* The folders, in the order a message flows through them. */
static const char *const flow_order[] = {
	"maildrop", "incoming", "active", "deferred", "hold", "corrupt", NULL
};

static const struct op_info {
	const char *name;
	const char *request;		/* qmgr-control request; NULL: never active */
	const char *summary;		/* postsuper's summary wording */
	const char *logged;		/* postsuper's per-message wording */
	const char *defaults;		/* searched without queue names */
	const char *allowed;		/* may be named */
} ops[] = {
	[SUPER_HOLD] = {"hold", "hold", "Placed on hold", "placed on hold",
			"incoming active deferred", "incoming active deferred"},
	[SUPER_RELEASE] = {"release", NULL, "Released from hold", "released from hold",
			   "hold", "hold"},
	[SUPER_REQUEUE] = {"requeue", "requeue", "Requeued", "requeued",
			   "incoming active deferred hold",
			   "incoming active deferred hold corrupt"},
	[SUPER_DELETE] = {"delete", "delete", "Deleted", "removed",
			  "incoming active deferred hold",
			  "maildrop incoming active deferred hold corrupt"},
	/* A mode bit, harmless to the queue manager even in active/. */
	[SUPER_EXPIRE] = {"expire", NULL, "Force-expired", "expired",
			  "incoming active deferred hold", "incoming active deferred hold"},
};

static char super_err[512];

/* Outcomes of one operation on one file. */
#define ACT_DONE	1	/* touched and counted */
#define ACT_GONE	0	/* not in this folder (any more) */
#define ACT_FAILED	(-1)	/* warned; not counted */

/* ---- parsing ---- */

/* cmd_super_parse - check the command line */
int cmd_super_parse(int argc, char **argv, struct cmd_super_req *req, const char **error_r)
{
	const struct op_info *op = NULL;
	bool named = false;
	int end;

	memset(req, 0, sizeof(*req));
	*error_r = super_err;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (argc > 0 && strcmp(argv[0], ops[i].name) == 0)
			op = &ops[(req->op = (enum cmd_super_op)i)];
	if (op == NULL) {
		snprintf(super_err, sizeof(super_err), "unknown operation \"%s\"",
			 argc > 0 ? argv[0] : "");
		return EX_USAGE;
	}

	/* Queue names from the end: never valid IDs (queue IDs have no vowels). */
	req->queues = argv_create();
	for (end = argc; end > 1 && queue_list_name_valid(argv[end - 1]); end--) {
		if (!str_list_match(op->allowed, argv[end - 1])) {
			snprintf(super_err, sizeof(super_err), "%s: not possible in the %s queue "
				 "(possible: %s)", op->name, argv[end - 1], op->allowed);
			cmd_super_req_deinit(req);
			return EX_USAGE;
		}
		named = true;
	}
	for (const char *const *q = flow_order; *q; q++) {
		bool given = false;

		for (int i = end; i < argc; i++)
			given = given || strcmp(argv[i], *q) == 0;
		if (named ? given : str_list_match(op->defaults, *q))
			argv_add(req->queues, *q, (char *)NULL);
	}

	req->ids = argv_create();
	for (int i = 1; i < end; i++) {
		if (strcmp(argv[i], "ALL") == 0) {
			req->all = true;
		} else if (strcmp(argv[i], "-") == 0) {
			req->from_stdin = true;
		} else if (queue_id_valid(argv[i])) {
			argv_add(req->ids, argv[i], (char *)NULL);
		} else {
			snprintf(super_err, sizeof(super_err), "invalid mail queue id: %.100s",
				 argv[i]);
			cmd_super_req_deinit(req);
			return CLI_EX_FAIL;
		}
	}
	if (end == 1) {
		snprintf(super_err, sizeof(super_err), "%s: no queue ID given", op->name);
		cmd_super_req_deinit(req);
		return EX_USAGE;
	}
	if (req->all && (end > 2 || req->from_stdin)) {
		snprintf(super_err, sizeof(super_err), "%s: ALL goes alone, without queue IDs",
			 op->name);
		cmd_super_req_deinit(req);
		return EX_USAGE;
	}
	return 0;
}

/* cmd_super_req_deinit - release a parsed command line */
void cmd_super_req_deinit(struct cmd_super_req *req)
{
	argv_free(&req->ids);
	argv_free(&req->queues);
}

/* cmd_super_summary - postsuper's summary line */
const char *cmd_super_summary(enum cmd_super_op op, long count)
{
	static char text[128];

	snprintf(text, sizeof(text), "%s: %ld message%s", ops[op].summary, count,
		 count == 1 ? "" : "s");
	return text;
}

/* read_stdin_ids - "-": one queue ID per line; 0 or CLI_EX_FAIL */
static int read_stdin_ids(struct argv *ids)
{
	char *line = NULL, *id;
	size_t cap = 0;
	int rc = 0;

	while (getline(&line, &cap, stdin) >= 0) {
		id = str_trim(line);
		if (*id == 0)
			continue;
		if (!queue_id_valid(id)) {
			rc = cli_error(CLI_EX_FAIL, "invalid mail queue id: %.100s", id);
			break;
		}
		argv_add(ids, id, (char *)NULL);
	}
	free(line);
	return rc;
}

/* ---- the queue manager's control socket ---- */

/* cmd_super_qmgr_request - hand active messages to the queue manager */
int cmd_super_qmgr_request(const char *queue_dir, const char *request, char *const *ids,
			   size_t n, long *count_r, const char **error_r)
{
	char *path = xasprintf("%s/%s", queue_dir, QMGR_CONTROL);
	struct buf *out = buf_create(256 + 32 * n), *in = buf_create(256);
	struct attr_list al;
	const char *why = NULL;
	long status, count;
	int fd, rc = -1;

	*error_r = super_err;
	attr_list_init(&al);
	if ((fd = unix_connect(path, false)) < 0) {
		if (errno == ENOENT || errno == ECONNREFUSED) {
			rc = 0;		/* nobody listens: the system is stopped */
		} else {
			snprintf(super_err, sizeof(super_err), "connect to %s: %s", path,
				 strerror(errno));
		}
		goto out;
	}
	attr_frame_begin(out);
	attr_put_str(out, "request", request);
	for (size_t i = 0; i < n; i++)
		attr_put_str(out, "queue_id", ids[i]);
	attr_frame_end(out);
	if (attr_write_frame(fd, out, QMGR_TIMEOUT_MS) < 0) {
		snprintf(super_err, sizeof(super_err), "send to %s: %s", path, strerror(errno));
	} else if (attr_read_frame(fd, in, 65536, QMGR_TIMEOUT_MS, &al, &why) != 1) {
		snprintf(super_err, sizeof(super_err), "no reply from %s: %s", path,
			 why ? why : "connection closed");
	} else if (attr_get_long(&al, "status", 0, 0, &status) < 0
		   || attr_get_long(&al, "count", 0, (long)n, &count) < 0) {
		snprintf(super_err, sizeof(super_err), "bad reply from %s", path);
	} else {
		*count_r = count;
		rc = 1;
	}
out:
	if (fd >= 0)
		close(fd);
	attr_list_deinit(&al);
	buf_free(&out);
	buf_free(&in);
	free(path);
	return rc;
}

/* ---- operations on files ---- */

struct super_ctx {
	const char *queue_dir;
	enum cmd_super_op op;
	struct htable *done;	/* IDs counted, or handed to the queue manager */
	long count;
	int status;		/* exit status so far */
	int qmgr;		/* -1 not asked yet, 0 stopped, 1 running */
	struct argv *released;	/* IDs moved to deferred/ by release */
};

/* set_status - remember a failure: a hard one (1) over a temporary one (75) */
static void set_status(struct super_ctx *c, int status)
{
	if (c->status == 0 || status == CLI_EX_FAIL)
		c->status = status;
}

/* failed - warn about one message ("ID: text"); ACT_FAILED */
static int failed(struct super_ctx *c, int status, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int failed(struct super_ctx *c, int status, const char *id, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	msg_warn("%s: %s", id, text);
	set_status(c, status);
	return ACT_FAILED;
}

/* move_file - rename src to queue to/ under id; ACT_* */
static int move_file(struct super_ctx *c, const char *src, const char *to, const char *id)
{
	char *dst = queue_path(c->queue_dir, to, id);
	struct stat st;
	int rc;

	if ((rc = queue_rename_noreplace(src, dst)) < 0 && errno == ENOENT) {
		/* The file is gone, or the destination's hash folder is missing. */
		if (lstat(src, &st) < 0 && errno == ENOENT) {
			free(dst);
			return ACT_GONE;
		}
		if (queue_hash_mkdirs(c->queue_dir, to, id) == 0)
			rc = queue_rename_noreplace(src, dst);
	}
	if (rc < 0) {
		rc = errno == ENOENT ? ACT_GONE
			: failed(c, CLI_EX_FAIL, id, "move to %s: %s", dst, strerror(errno));
		free(dst);
		return rc;
	}
	if (fsync_parent(dst) < 0)
		msg_warn("%s: fsync folder of %s: %s", id, dst, strerror(errno));
	free(dst);
	return ACT_DONE;
}

/* remove_logs - the status logs named in logs (space separated) */
static void remove_logs(struct super_ctx *c, const char *id, const char *logs)
{
	struct argv *names = argv_split(logs, " ");

	for (size_t i = 0; i < names->argc; i++)
		if (status_log_remove(c->queue_dir, names->argv[i], id) < 0)
			msg_warn("%s: remove %s log: %s", id, names->argv[i], strerror(errno));
	argv_free(&names);
}

/* delete_file - unlink the file, then its logs; ACT_* */
static int delete_file(struct super_ctx *c, const char *path, const char *id)
{
	if (unlink(path) < 0)
		return errno == ENOENT ? ACT_GONE
			: failed(c, CLI_EX_FAIL, id, "remove %s: %s", path, strerror(errno));
	remove_logs(c, id, STATUS_LOG_BOUNCE " " STATUS_LOG_DEFER " " STATUS_LOG_TRACE);
	return ACT_DONE;
}

/*
 * open_plain - id in queue, opened through no link; ACT_* when it is not
 *
 * The queue folders belong to mail_owner and this may run as root: modes
 * and times are set through a descriptor of the file itself, found without
 * following any link (queue_folder_open, O_NOFOLLOW), and only on a plain
 * file with one name, so nothing planted in a queue folder makes root
 * change another file.  Returns the descriptor and its stat, or -1 with
 * the ACT_* result in *rc_r.
 */
static int open_plain(struct super_ctx *c, const char *queue, const char *path,
		      const char *id, const char *not_done, struct stat *st, int *rc_r)
{
	int dir_fd, fd, saved;

	if ((dir_fd = queue_folder_open(c->queue_dir, queue, id, false)) < 0) {
		fd = -1;
	} else {
		fd = openat(dir_fd, id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		saved = errno;
		close(dir_fd);
		errno = saved;
	}
	if (fd < 0) {
		*rc_r = errno == ENOENT ? ACT_GONE
			: failed(c, CLI_EX_FAIL, id, "open %s: %s; %s", path,
				 errno == ELOOP ? "a symbolic link, not a queue file"
				 : strerror(errno), not_done);
		return -1;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_nlink != 1) {
		close(fd);
		*rc_r = failed(c, CLI_EX_FAIL, id, "%s is not a plain queue file; %s", path,
			       not_done);
		return -1;
	}
	return fd;
}

/* release_file - hold/ -> deferred/, due now; ACT_* */
static int release_file(struct super_ctx *c, const char *queue, const char *path,
			const char *id)
{
	struct stat st;
	mode_t mode;
	int fd, rc, saved;

	if ((fd = open_plain(c, queue, path, id, "not released", &st, &rc)) < 0)
		return rc;
	/* The time stamp of a deferred file is when it is due: now. */
	if (futimens(fd, NULL) < 0) {
		saved = errno;
		close(fd);
		return failed(c, CLI_EX_FAIL, id, "set time of %s: %s", path, strerror(saved));
	}
	/*
	 * A release is not a flush: no group-read (unthrottle) bit.  A
	 * force-expire bit set while the message was held stays.
	 */
	mode = QF_MODE_READY | (st.st_mode & QF_MODE_EXPIRE);
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0) {
		saved = errno;
		close(fd);
		return failed(c, CLI_EX_FAIL, id, "chmod %s: %s", path, strerror(saved));
	}
	close(fd);
	if ((rc = move_file(c, path, "deferred", id)) == ACT_DONE)
		argv_add(c->released, id, (char *)NULL);
	return rc;
}

/* expire_file - set the force-expire bit on a complete file; ACT_* */
static int expire_file(struct super_ctx *c, const char *queue, const char *path,
		       const char *id)
{
	struct stat st;
	int fd, rc, saved;

	if ((fd = open_plain(c, queue, path, id, "not expired", &st, &rc)) < 0)
		return rc;
	if (!qf_mode_ready(st.st_mode)) {
		close(fd);
		return failed(c, CLI_EX_FAIL, id, "not a complete queue file; not expired");
	}
	if ((st.st_mode & QF_MODE_EXPIRE) == 0
	    && fchmod(fd, (st.st_mode & 07777) | QF_MODE_EXPIRE) < 0) {
		saved = errno;
		close(fd);
		return failed(c, CLI_EX_FAIL, id, "chmod %s: %s", path, strerror(saved));
	}
	close(fd);
	return ACT_DONE;
}

/*
 * tell_released - the queue manager enters the released IDs into its
 * deferred index as due now.  When it is not running, its start-up pass
 * over deferred/ finds them; when it does not answer, its next full pass
 * (deferred_rescan_time) does.
 */
static void tell_released(struct super_ctx *c)
{
	const char *error;
	size_t at, n;
	long count;

	for (at = 0; at < c->released->argc; at += n) {
		n = c->released->argc - at < QMGR_IDS_PER_REQUEST ? c->released->argc - at
			: QMGR_IDS_PER_REQUEST;
		if (cmd_super_qmgr_request(c->queue_dir, "release", c->released->argv + at, n,
					   &count, &error) < 0) {
			msg_warn("%s; released mail waits for the queue manager's next full "
				 "deferred scan", error);
			return;
		}
	}
}

/* count_pending - recipients not yet done; -1 on error (*error_r) */
static long count_pending(struct qf *q, const char **error_r)
{
	struct qf_rcpt rcpts[RCPT_BATCH];
	long offset = 0, n, total = 0;

	do {
		if ((n = qf_read_rcpts(q, &offset, rcpts, RCPT_BATCH, false, error_r)) < 0)
			return -1;
		for (long i = 0; i < n; i++)
			qf_rcpt_deinit(&rcpts[i]);
		total += n;
	} while (offset != 0);
	return total;
}

/* requeue_file - through maildrop/, pickup and cleanup again; ACT_* */
static int requeue_file(struct super_ctx *c, const char *queue, const char *path,
			const char *id)
{
	struct qf_envelope env;
	const char *error;
	char *held = NULL;
	struct stat st;
	struct qf *q;
	bool corrupt;
	long pending;
	int rc;

	/*
	 * Check the file before moving anything: pickup would quarantine a
	 * file it cannot read, and a message with nothing left to deliver has
	 * nothing to requeue.  The descriptor stays on the file through the
	 * renames below.
	 */
	if ((q = qf_open(path, false, &corrupt, &error)) == NULL) {
		if (!corrupt && lstat(path, &st) < 0 && errno == ENOENT)
			return ACT_GONE;
		return failed(c, CLI_EX_FAIL, id, "cannot requeue: %s", error);
	}
	if (fstat(qf_fd(q), &st) < 0 || !qf_mode_ready(st.st_mode)) {
		qf_close(&q);
		return failed(c, CLI_EX_FAIL, id, "cannot requeue: not a complete queue file");
	}
	if ((rc = qf_read_envelope(q, &env, &error)) != 0) {
		qf_close(&q);
		return failed(c, CLI_EX_FAIL, id, "cannot requeue: %s", error);
	}
	if ((pending = count_pending(q, &error)) < 0) {
		rc = failed(c, CLI_EX_FAIL, id, "cannot requeue: %s", error);
		goto out;
	}
	if (pending == 0) {
		msg_warn("%s: no recipients left to deliver; not requeued", id);
		rc = ACT_FAILED;
		goto out;
	}
	if (status_log_exists(c->queue_dir, STATUS_LOG_BOUNCE, id) != 0) {
		rc = failed(c, EX_TEMPFAIL, id,
			    "its bounce log holds failures not yet reported; not requeued");
		goto out;
	}

	/*
	 * Out of everyone's way first: nobody delivers from hold/.  There the
	 * mode becomes exactly 0700 (pickup takes a 0700 file owned by the mail
	 * system as a requeued queue file, keeps its envelope and copies only
	 * the pending recipients; a force-expire bit would make it refuse the
	 * file), and the logs that belong to this ID go, before the file
	 * reaches pickup, which gives it a new ID.
	 */
	if (strcmp(queue, "hold") != 0 && (rc = move_file(c, path, "hold", id)) != ACT_DONE)
		goto out;
	held = queue_path(c->queue_dir, "hold", id);
	if (fchmod(qf_fd(q), QF_MODE_READY) < 0) {
		rc = failed(c, CLI_EX_FAIL, id, "cannot requeue: chmod %s: %s; the message is "
			    "on hold", held, strerror(errno));
		goto out;
	}
	remove_logs(c, id, STATUS_LOG_DEFER " " STATUS_LOG_TRACE);
	if ((rc = move_file(c, held, "maildrop", id)) != ACT_DONE) {
		msg_warn("%s: not requeued; the message is on hold", id);
		rc = ACT_FAILED;
		set_status(c, CLI_EX_FAIL);
	}
out:
	free(held);
	qf_envelope_deinit(&env);
	qf_close(&q);
	return rc;
}

/* act_direct - apply the operation to one file here; ACT_* */
static int act_direct(struct super_ctx *c, const char *queue, const char *path, const char *id)
{
	int lock_fd = -1, rc;

	/*
	 * In active/ (the system is stopped) an agent of the last queue manager
	 * may still be delivering: it holds a shared lock, so try an exclusive
	 * one and keep it while the file is changed.
	 */
	if (strcmp(queue, "active") == 0 && c->op != SUPER_EXPIRE) {
		if ((lock_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
			return errno == ENOENT ? ACT_GONE
				: failed(c, CLI_EX_FAIL, id, "open %s: %s", path, strerror(errno));
		if (qf_lock(lock_fd, true) < 0) {
			close(lock_fd);
			return failed(c, EX_TEMPFAIL, id,
				      "still being delivered (locked); not touched");
		}
	}
	switch (c->op) {
	case SUPER_HOLD:
		rc = move_file(c, path, "hold", id);
		break;
	case SUPER_RELEASE:
		rc = release_file(c, queue, path, id);
		break;
	case SUPER_REQUEUE:
		rc = requeue_file(c, queue, path, id);
		break;
	case SUPER_DELETE:
		rc = delete_file(c, path, id);
		break;
	case SUPER_EXPIRE:
		rc = expire_file(c, queue, path, id);
		break;
	default:
		msg_panic("act_direct: operation %d", c->op);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	if (rc == ACT_DONE) {
		msg_info("%s: %s", id, ops[c->op].logged);
		c->count++;
	}
	return rc;
}

/* mark_done - never count id again */
static void mark_done(struct super_ctx *c, const char *id)
{
	if (htable_find(c->done, id) == NULL)
		htable_enter(c->done, id, (void *)1);
}

/* in_active - is id's file (still) in active/? */
static bool in_active(struct super_ctx *c, const char *id)
{
	char *path = queue_path(c->queue_dir, "active", id);
	struct stat st;
	bool rc = lstat(path, &st) == 0;

	free(path);
	return rc;
}

/*
 * act_active - the messages ids (found in active/) go to the queue manager,
 * or, when it is not running, are handled here.  IDs settled (counted,
 * handed over, failed) are marked done; an ID the queue manager did not
 * have and whose file has left active/ meanwhile stays open for the
 * folders further down.
 */
static void act_active(struct super_ctx *c, struct argv *ids)
{
	const char *error;
	long count;
	size_t at, n;
	int rc;

	for (at = 0; at < ids->argc; at += n) {
		n = ids->argc - at < QMGR_IDS_PER_REQUEST ? ids->argc - at : QMGR_IDS_PER_REQUEST;
		rc = c->qmgr == 0 ? 0
			: cmd_super_qmgr_request(c->queue_dir, ops[c->op].request,
						 ids->argv + at, n, &count, &error);
		if (rc < 0) {
			msg_warn("%s; %zu active message%s not touched", error, n, n == 1 ? "" : "s");
			set_status(c, EX_TEMPFAIL);
			for (size_t i = at; i < at + n; i++)
				mark_done(c, ids->argv[i]);
			continue;
		}
		if ((c->qmgr = rc) == 0) {
			/* Stopped: nobody else owns active/ now. */
			for (size_t i = at; i < at + n; i++) {
				char *path = queue_path(c->queue_dir, "active", ids->argv[i]);

				if (act_direct(c, "active", path, ids->argv[i]) != ACT_GONE)
					mark_done(c, ids->argv[i]);
				free(path);
			}
			continue;
		}
		c->count += count;
		if (count > 0)
			msg_info("%ld active message%s handed to the queue manager: %s when "
				 "its deliveries end", count, count == 1 ? "" : "s",
				 ops[c->op].logged);
		for (size_t i = at; i < at + n; i++)
			if ((size_t)count == n || in_active(c, ids->argv[i]))
				mark_done(c, ids->argv[i]);
	}
}

/* run_all - every message of every chosen folder */
static void run_all(struct super_ctx *c, const struct cmd_super_req *req)
{
	struct queue_list_entry *entries;
	const char *error;
	long count;

	for (size_t qi = 0; qi < req->queues->argc; qi++) {
		const char *queue = req->queues->argv[qi];

		if ((count = queue_list_scan(c->queue_dir, queue, &entries, &error)) < 0) {
			msg_warn("%s", error);
			set_status(c, CLI_EX_FAIL);
			continue;
		}
		if (strcmp(queue, "active") == 0 && ops[c->op].request != NULL) {
			struct argv *ids = argv_create();

			for (long i = 0; i < count; i++)
				if (htable_find(c->done, entries[i].id) == NULL)
					argv_add(ids, entries[i].id, (char *)NULL);
			act_active(c, ids);
			argv_free(&ids);
		} else {
			for (long i = 0; i < count; i++) {
				if (htable_find(c->done, entries[i].id) != NULL)
					continue;
				if (act_direct(c, queue, entries[i].path, entries[i].id) != ACT_GONE)
					mark_done(c, entries[i].id);
			}
		}
		queue_list_scan_free(&entries, count);
	}
}

/* run_ids - the named messages, looked for folder by folder */
static void run_ids(struct super_ctx *c, const struct cmd_super_req *req, struct argv *ids)
{
	for (size_t qi = 0; qi < req->queues->argc; qi++) {
		const char *queue = req->queues->argv[qi];

		if (strcmp(queue, "active") == 0 && ops[c->op].request != NULL) {
			struct argv *here = argv_create();

			for (size_t i = 0; i < ids->argc; i++)
				if (htable_find(c->done, ids->argv[i]) == NULL
				    && argv_find(here, ids->argv[i]) < 0 && in_active(c, ids->argv[i]))
					argv_add(here, ids->argv[i], (char *)NULL);
			act_active(c, here);
			argv_free(&here);
			continue;
		}
		for (size_t i = 0; i < ids->argc; i++) {
			char *path;

			if (htable_find(c->done, ids->argv[i]) != NULL)
				continue;
			path = queue_path(c->queue_dir, queue, ids->argv[i]);
			if (act_direct(c, queue, path, ids->argv[i]) != ACT_GONE)
				mark_done(c, ids->argv[i]);
			free(path);
		}
	}
}

/* cmd_super - the command */
int cmd_super(const char *config_dir, int argc, char **argv)
{
	struct cmd_super_req req;
	struct super_ctx c;
	const char *error;
	int rc;

	cli_command_set(argv[0]);
	if ((rc = cmd_super_parse(argc, argv, &req, &error)) != 0) {
		if (rc == EX_USAGE)
			cli_usage("hold|release|requeue|delete|expire ID...|-|ALL [queue...]", "%s",
				  error);
		else
			cli_error(rc, "%s", error);
		return rc;
	}
	if (req.from_stdin && (rc = read_stdin_ids(req.ids)) != 0) {
		cmd_super_req_deinit(&req);
		return rc;
	}
	memset(&c, 0, sizeof(c));
	if ((rc = cmd_queue_setup(config_dir, &c.queue_dir)) != 0) {
		cmd_super_req_deinit(&req);
		return rc;
	}
	c.op = req.op;
	c.done = htable_create(req.all ? 1024 : req.ids->argc + 1);
	c.qmgr = -1;
	c.released = argv_create();
	if (req.all)
		run_all(&c, &req);
	else
		run_ids(&c, &req, req.ids);
	/*
	 * Tell the daemons that files are waiting (a stopped system finds them
	 * when it starts): released mail is in deferred/, due now, requeued
	 * mail in maildrop/.  Not being able to is no error.
	 */
	if (c.released->argc > 0)
		tell_released(&c);
	if (c.count > 0 && c.op == SUPER_REQUEUE) {
		const char *terr;

		(void)trigger_send(c.queue_dir, "public/pickup", "W", 1, &terr);
	}
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", log_progname() ? log_progname() : "sluice",
		cmd_super_summary(c.op, c.count));
	htable_free(&c.done, NULL);
	argv_free(&c.released);
	cmd_super_req_deinit(&req);
	return c.status;
}
