/*
 * status_log - per-message delivery status logs in bounce/, defer/, trace/.
 *
 * Each log is named like the queue file (hashed like the queue named by
 * log, per hash_queue_names) and holds one record per recipient outcome:
 * text lines "name=value" ending with an empty line.  Names: recipient,
 * orig_rcpt, offset, dsn_orcpt, notify, status, action, reason, mta,
 * diag_type, diag_text, time.  Values are escaped (backslash as "\\", LF
 * as "\n", CR as "\r"), so any text without NUL round-trips exactly.
 * docs/QUEUE.md section 6 has the details.
 *
 * Appends are durable: the record is written with one write(2) under an
 * exclusive flock, then fsync'd; if either fails the file is truncated back
 * to its old length, so a failed append leaves the log as it was.  A torn
 * record left by a crash is cut off by the next append.
 *
 * A process that appends should ignore SIGXFSZ (as Postfix daemons do), so
 * that a file size limit fails the write instead of killing the process.
 *
 * Return convention: 0 ok, -1 with *error_r (static buffer, valid until the
 * next call).
 */
#ifndef SLUICE_STATUS_LOG_H
#define SLUICE_STATUS_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "global/dsn.h"

#define STATUS_LOG_BOUNCE	"bounce"
#define STATUS_LOG_DEFER	"defer"
#define STATUS_LOG_TRACE	"trace"

struct rcpt_status {
	const char *recipient;
	const char *orig_rcpt;	/* "" when none */
	long offset;		/* the recipient's record offset in the queue file */
	const char *dsn_orcpt;	/* "" when none */
	int notify;		/* DSN_NOTIFY_* */
	struct dsn dsn;		/* status, action, reason, mta, diag_type, diag_text */
	double time;		/* when it happened */
};

/* A record read back: every string owned by the record, never NULL ("" for
 * an empty or absent optional field). */
struct rcpt_status_rec {
	char *recipient, *orig_rcpt, *dsn_orcpt;
	long offset;
	int notify;
	char status[16];
	char *action, *reason, *mta, *diag_type, *diag_text;
	double time;
};

/* status_log_append - add one record durably.  recipient, a valid
 * dsn.status and dsn.action are required; NULL optional strings are "". */
int status_log_append(const char *queue_dir, const char *log, const char *id,
		      const struct rcpt_status *st, const char **error_r);
/*
 * status_log_rewrite - make the log hold exactly these count records (a
 * new attempt's outcomes replacing the last attempt's), under the same
 * exclusive lock as appends.  The text is written over the old one in
 * place (no truncation to zero, no unlink: freeing a file's blocks is
 * what costs on a file system that discards).  When the old log already
 * says the same thing - the same records but for their time fields - the
 * write is never synced (a crash can only leave the old times).  Otherwise
 * it is fsync'd like an append, or, when unsynced_r is not NULL, left for
 * the caller to sync in bulk (syncfs) and *unsynced_r is set to true.
 * count must be at least 1; each record follows the rules of
 * status_log_append.  0, or -1 with *error_r (the log may then hold
 * anything a reader rejects: remove it).
 */
int status_log_rewrite(const char *queue_dir, const char *log, const char *id,
		       const struct rcpt_status *recs, size_t count, bool *unsynced_r,
		       const char **error_r);
/*
 * status_log_read - read every record; returns the count and an array in
 * *recs_r (caller frees with status_log_free), 0 and NULL when the log does
 * not exist, -1 on I/O error.  A malformed trailing record (torn write) is
 * skipped.
 */
long status_log_read(const char *queue_dir, const char *log, const char *id,
		     struct rcpt_status_rec **recs_r, const char **error_r);
/* status_log_read_at - the same for the log at path relative to the folder
 * dirfd (AT_FDCWD: the current folder). */
long status_log_read_at(int dirfd, const char *path, struct rcpt_status_rec **recs_r,
			const char **error_r);
/*
 * status_log_parse - the records of a log's text (len bytes at data) that
 * the caller read without the lock (name is for messages).  -1 with
 * *error_r when a record is malformed or the text does not end with a
 * complete record (a write was under way: read it again under the lock
 * with status_log_read_at).
 */
long status_log_parse(const char *data, size_t len, const char *name,
		      struct rcpt_status_rec **recs_r, const char **error_r);
void status_log_free(struct rcpt_status_rec **recs, long count);
/* status_log_format - append the text of one record as an append writes
 * it (a record read back formats to the same text). */
struct buf;
void status_log_format(struct buf *out, const struct rcpt_status *st);
/* status_log_remove - delete the log (missing is fine). 0 or -1 (errno). */
int status_log_remove(const char *queue_dir, const char *log, const char *id);
/* status_log_exists - does a non-empty log exist? 1 yes, 0 no, -1 error. */
int status_log_exists(const char *queue_dir, const char *log, const char *id);

#endif
