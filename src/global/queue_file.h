/*
 * queue_file - the on-disk message: create, open, read, mark, move, judge.
 *
 * The record format and the legal on-disk states are documented in
 * docs/QUEUE.md (write that first).  In short: a file is a sequence of
 * records "type byte, length (7-bit groups, low first), data".  Layout:
 *
 *   C  size record, fixed width, first in the file, rewritten at commit
 *   envelope records, in this order: W warn time (fixed width, always at
 *      offset QF_WARN_OFFSET), T arrival, S sender, [i envid], [< ret],
 *      A name=value attributes (any number)
 *   M  end of envelope
 *   B  content chunks (raw message bytes, LF line ends), any number
 *   X  end of content
 *   recipient groups: optional O (original recipient), o (DSN ORCPT),
 *      n (DSN NOTIFY) records, then R (to do) / D (done); the offset of the
 *      R/D record is the recipient's identity for every process
 *   E  end marker; nothing may follow it
 *
 * Recipients come after the content so that a writer can stream content of
 * any size and still add recipients found in its headers (sendmail -t).
 * The size record holds the content offset and size, the recipient segment
 * offset, the recipient count and the total file size, so that a truncated
 * or extended file is detected with one fstat().
 *
 * A file is being written while its mode is 0600 and its name is not a
 * queue ID; it is complete when its mode is 0700 (Postfix's convention;
 * 0744 in maildrop/, so that pickup, another user, can read it).  Mode 0400
 * marks a file a delivery agent found damaged.  See docs/QUEUE.md for the
 * legal on-disk states and who may move a file where.
 *
 * Return convention: 0 ok, -1 failure with *error_r (borrowed, valid until
 * the next call on the same object, or static for NULL objects).  A corrupt
 * file is reported by QF_CORRUPT (-2) so callers can quarantine it.
 */
#ifndef SLUICE_QUEUE_FILE_H
#define SLUICE_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define QF_CORRUPT	(-2)
#define QUEUE_ID_SIZE	32	/* room for any queue ID plus NUL */

/* Mode bits with meaning (Postfix convention). */
#define QF_MODE_WRITING	0600
#define QF_MODE_READY	0700
#define QF_MODE_CORRUPT	0400
#define QF_MODE_MAILDROP	0744	/* complete maildrop file (pickup reads it) */
#define QF_MODE_UNTHROTTLE	0040	/* + ready: flush this message (group read) */
#define QF_MODE_EXPIRE		0010	/* + ready: force-expire it (group exec) */

#define QF_WARN_OFFSET	97	/* the W record follows the 97-byte C record */
#define QF_CHUNK_SIZE	65536	/* content bytes per B record */

/* Envelope flags (the "flags" field of the size record). */
#define QF_FLAG_TRACE_VERBOSE	(1 << 0)	/* sendmail -v: report every outcome */
#define QF_FLAG_TRACE_VERIFY	(1 << 1)	/* sendmail -bv: verify only */
#define QF_FLAG_BOUNCE		(1 << 2)	/* this is a delivery status report */
#define QF_FLAG_SMTPUTF8	(1 << 3)	/* SMTPUTF8 requested (RFC 6531): MAIL FROM
						 * said so, sendmail -SMTPUTF8, or autodetected */
#define QF_FLAG_MASK		(QF_FLAG_TRACE_VERBOSE | QF_FLAG_TRACE_VERIFY | QF_FLAG_BOUNCE \
				 | QF_FLAG_SMTPUTF8)

struct qf_envelope {
	double arrival_time;	/* seconds.microseconds */
	char *sender;		/* "" is the null sender */
	char *envid;		/* DSN ENVID or "" */
	int ret;		/* DSN_RET_* or 0 */
	long warn_time;		/* delay warning due (epoch s), 0 none, -1 sent */
	int flags;		/* QF_FLAG_* */
	long content_offset;	/* offset of the first B record */
	long content_size;	/* message bytes */
	long rcpt_offset;	/* offset of the recipient segment */
	long rcpt_count;	/* recipients (done or not) */
	char **attrs;		/* NULL-terminated "name=value" list, may be empty */
	long warn_offset;	/* where the W record is (read only; for qf_set_warn) */
};

struct qf_rcpt {
	long offset;		/* offset of the R/D record: the identity */
	char *address;
	char *orig_rcpt;	/* original recipient or "" */
	char *dsn_orcpt;	/* DSN ORCPT ("rfc822;a@b") or "" */
	int notify;		/* DSN_NOTIFY_* bits or 0 */
	bool done;
};

/* ---- writing (cleanup is the only user) ---- */

struct qf_writer;

/*
 * qf_create - start a new file in queue_dir/queue_name under a temporary
 * name, mode 0600.  Returns NULL with *error_r (static) on failure.
 *
 * The put/add functions below return nothing: a write error or unusable
 * data (an empty recipient, a string over 1 MiB) is remembered and reported
 * by qf_commit(), which then fails.  Calling them out of order (content
 * before the envelope, a second envelope, content after a recipient) is a
 * programming error and panics.
 */
struct qf_writer *qf_create(const char *queue_dir, const char *queue_name,
			    const char **error_r);
/* qf_put_envelope - write the envelope (once, before any content). */
void qf_put_envelope(struct qf_writer *w, const struct qf_envelope *env);
/* qf_put_content - append message bytes (any number of calls). */
void qf_put_content(struct qf_writer *w, const void *data, size_t len);
/* qf_add_rcpt - append a recipient (after the content). */
void qf_add_rcpt(struct qf_writer *w, const char *address, const char *orig_rcpt,
		 const char *dsn_orcpt, int notify);
/*
 * qf_commit - finish: end marker, size record, fchmod 0700, rename to its
 * queue ID (hashed path per queue_path), durable: one fsync of the file
 * after the rename where the file system commits names with it and the ID
 * is not one given with qf_set_id(), else fsync before the rename and of
 * the folder after it (queue_folder_fsync, docs/QUEUE.md "Commit order").  Only after this returns 0 may anyone be
 * told "accepted".  Copies the ID to id_r and frees the writer.  On failure
 * the file is removed.
 */
int qf_commit(struct qf_writer **wp, char id_r[QUEUE_ID_SIZE], const char **error_r);
/*
 * qf_set_id - make qf_commit use this queue ID (which must be unused in the
 * target folder: the commit fails with EEXIST, "rename queue file: File
 * exists", rather than replace anything).  pickup uses it to give a message
 * the ID of its maildrop file, which makes a repeated pickup detectable.
 */
void qf_set_id(struct qf_writer *w, const char *id);
/*
 * qf_reserve_id - the ID the file will have, known before commit (for a
 * server that logs it while the message arrives): creation time and inode,
 * fixed as with qf_set_id().  0, or -1 with errno (fstat).
 */
int qf_reserve_id(struct qf_writer *w, char id_r[QUEUE_ID_SIZE]);
/*
 * qf_add_done_rcpt - qf_add_rcpt() for a recipient that is done already
 * (a message returned to its sender at once: its bounce log names the
 * recipient by this offset).  The offset of the D record, or -1 when the
 * recipient is unusable (qf_commit() then fails).
 */
long qf_add_done_rcpt(struct qf_writer *w, const char *address, const char *orig_rcpt,
		      const char *dsn_orcpt, int notify);
/* qf_set_queue - commit into "hold" (or "incoming") instead of the folder
 * the file was created in (the same file system). */
void qf_set_queue(struct qf_writer *w, const char *queue_name);
/*
 * qf_rewrite_envelope - replace the envelope of a file whose content is
 * being written (a content check chose a filter after the envelope went
 * out): the content written so far moves to follow the new envelope, in
 * place (the inode, hence a reserved queue ID, stays).  0, or -1 with
 * errno (the writer then fails at commit).
 */
int qf_rewrite_envelope(struct qf_writer *w, const struct qf_envelope *env);
/*
 * qf_set_flags - replace the envelope flags (QF_FLAG_*) written by
 * qf_put_envelope(): they live in the size record, written at commit, so a
 * writer may settle them after the content (cleanup's SMTPUTF8
 * autodetection looks at the headers).  Unknown bits panic.
 */
void qf_set_flags(struct qf_writer *w, int flags);
/* qf_abort - remove the temporary file and free the writer. */
void qf_abort(struct qf_writer **wp);

/* ---- reading ---- */

struct qf;
struct stat;

/*
 * qf_open - open a queue file by path (read-only or read-write) and check
 * its frame: size record first, recorded size equals the file size, an end
 * marker last.  Returns NULL with *error_r; *corrupt_r says whether the
 * file itself is bad (true) or the open failed for another reason (I/O
 * error, missing, a symlink or other non-regular file: false).  The caller
 * frees the result with qf_close().
 */
struct qf *qf_open(const char *path, bool writable, bool *corrupt_r,
		   const char **error_r);
/* qf_openat - qf_open() of path relative to the folder dirfd (AT_FDCWD:
 * the current folder); messages name path as given. */
struct qf *qf_openat(int dirfd, const char *path, bool writable, bool *corrupt_r,
		     const char **error_r);
/*
 * qf_open_image - qf_open() of a file the caller has read whole (len bytes
 * at data, which must stay as it is until qf_close: not copied) and whose
 * status is *st (st_size must be len): no system call; every read comes
 * from data, and qf_fd() is -1 (no
 * locks, no in-place updates).  For readers that fetch many files at once,
 * such as the queue listing.
 */
struct qf *qf_open_image(const struct stat *st, const void *data, size_t len, bool *corrupt_r,
			 const char **error_r);
void qf_close(struct qf **qp);
int qf_fd(const struct qf *q);
/*
 * qf_snapshot - let the readers of q use bytes already read instead of
 * reading again (each qf_read_* call otherwise starts from the file, as
 * agents may mark recipients done meanwhile).  For a reader that takes
 * the file as it was at open, such as the queue listing: a small file is
 * then read once.
 */
void qf_snapshot(struct qf *q);
/* qf_stat - the file's status as qf_open() found it (borrowed). */
const struct stat *qf_stat(const struct qf *q);
/* qf_read_envelope - parse the envelope strictly. 0, -1 or QF_CORRUPT.
 * On success the caller frees *env_r with qf_envelope_deinit(). */
int qf_read_envelope(struct qf *q, struct qf_envelope *env_r, const char **error_r);
void qf_envelope_deinit(struct qf_envelope *env);
/*
 * qf_read_rcpts - read up to max pending (not done) recipients starting at
 * *offset_r (0 = the start of the recipient segment); on return *offset_r is
 * where to resume, or 0 when the segment is exhausted.  Returns the count
 * (into rcpts[0..count-1], caller frees each with qf_rcpt_deinit), or
 * QF_CORRUPT / -1 (then nothing is left to free).  include_done also
 * returns done recipients.  When the batch is read from the start and
 * resumed with the offsets returned, the recipient count of the size record
 * is checked at the end marker.  max must be at least 1.
 */
long qf_read_rcpts(struct qf *q, long *offset_r, struct qf_rcpt *rcpts,
		   size_t max, bool include_done, const char **error_r);
void qf_rcpt_deinit(struct qf_rcpt *r);
/*
 * qf_read_content - call fn for successive chunks of the message content
 * (raw bytes, LF line ends), at most size bytes from content offset.  fn
 * returns 0 to go on, -1 to stop (then qf_read_content returns -1).
 */
int qf_read_content(struct qf *q, int (*fn)(const char *data, size_t len, void *ctx),
		    void *ctx, const char **error_r);
/* qf_validate - walk every record to the end marker. 0, QF_CORRUPT, or -1
 * on an I/O error. */
int qf_validate(struct qf *q, const char **error_r);
/*
 * qf_validate_message - walk the envelope and the content (what a delivery
 * copies), not the recipient records: its cost does not grow with the
 * number of recipients.  0, QF_CORRUPT, or -1 on an I/O error.
 */
int qf_validate_message(struct qf *q, const char **error_r);
/*
 * qf_check_rcpt - the record at offset (inside the recipient segment) must
 * be R or D and hold exactly address.  0, QF_CORRUPT, or -1 on an I/O
 * error.  One record read: how a delivery agent checks the recipients of a
 * request without walking all the others.
 */
int qf_check_rcpt(struct qf *q, long offset, const char *address, const char **error_r);
/* qf_records_read - how many records were decoded through q (verbose logs
 * and tests measure the cost of a delivery with it). */
unsigned long qf_records_read(const struct qf *q);

/* ---- in-place updates (one small write each) ---- */

/* qf_mark_done - turn the R record at offset into D (fd open read-write).
 * 0 ok (also when already done), -1 I/O error, QF_CORRUPT if no R/D there. */
int qf_mark_done(int fd, long offset);
/* qf_set_warn - rewrite the fixed-width warn time (e.g. -1 after a warning).
 * env may be NULL (the W record is always at QF_WARN_OFFSET).  0 ok, -1 I/O
 * error or a value wider than 15 characters, QF_CORRUPT if no W record. */
int qf_set_warn(int fd, const struct qf_envelope *env, long value);
/* qf_mark_corrupt - set mode 0400 so qmgr quarantines the file. 0 or -1. */
int qf_mark_corrupt(int fd);
/* qf_mode_ready - does a file mode say "complete" ((mode & 0700) == 0700)? */
bool qf_mode_ready(mode_t mode);
/*
 * qf_lock - non-blocking flock(2): shared for delivery agents, exclusive for
 * qmgr's import check.  0, or -1 with errno (EWOULDBLOCK when held).
 */
int qf_lock(int fd, bool exclusive);

/* ---- queue IDs and paths ---- */

/* queue_id_valid - is name a well-formed queue ID? */
bool queue_id_valid(const char *name);
/* queue_id_time - arrival second encoded in an ID, or -1.  (The second the
 * file was created: the arrival time for new mail, later for a requeue.) */
long queue_id_time(const char *id);
/* queue_id_format - the ID for (sec, usec, inode) into id_r. */
void queue_id_format(char id_r[QUEUE_ID_SIZE], long sec, long usec,
		     unsigned long inode);
/* queue_hash_init - which queues are hashed and how deep (hash_queue_names,
 * hash_queue_depth). Call once after reading the configuration. */
void queue_hash_init(const char *hash_queue_names, long hash_queue_depth);
/* queue_path - "queue_dir/queue_name/[h/[h/]]id". Caller frees with free(). */
char *queue_path(const char *queue_dir, const char *queue_name, const char *id);
/*
 * queue_hash_folder - the hash subfolders that hold id in queue_name, as
 * queue_path() puts them ("8/f" at depth 2; "" when queue_name is not
 * hashed) into folder_r; returns its length.  No allocation: the queue
 * listing asks once per message.
 */
#define QUEUE_HASH_FOLDER_SIZE	16	/* room for 4 levels plus NUL */
size_t queue_hash_folder(const char *queue_name, const char *id,
			 char folder_r[QUEUE_HASH_FOLDER_SIZE]);
/* queue_hashed - is queue_name (a queue or log folder) hashed? */
bool queue_hashed(const char *queue_name);
/* queue_hash_mkdirs - create the hash subfolders that id needs in queue_name
 * (missing ones only). 0 or -1 (errno). */
int queue_hash_mkdirs(const char *queue_dir, const char *queue_name, const char *id);
/*
 * queue_folder_open - a descriptor (O_RDONLY | O_DIRECTORY, close-on-exec)
 * of the folder that holds id in queue_name: queue_dir/queue_name or its
 * hash subfolder.  No symbolic link is followed from queue_name down, so a
 * process that owns the queue folders (mail_owner) cannot send a root
 * process elsewhere by replacing a hash subfolder with a link; act on the
 * file with openat()/fchmodat() and the like on this descriptor, with
 * O_NOFOLLOW.  With create, missing hash levels are made (mode 0700; as
 * root, owned like queue_name itself).  Returns the descriptor (caller
 * closes), or -1 with errno (ELOOP or ENOTDIR for a link or a file in a
 * folder's place).
 */
int queue_folder_open(const char *queue_dir, const char *queue_name, const char *id,
		      bool create);
/* queue_rename_noreplace - rename that fails with EEXIST instead of
 * replacing (renameat2 RENAME_NOREPLACE, or link+unlink). 0 or -1 (errno). */
int queue_rename_noreplace(const char *from, const char *to);
/* queue_move - rename id from one queue folder to another (creating hash
 * subfolders as needed) and fsync the destination folder. 0 or -1 (errno). */
int queue_move(const char *queue_dir, const char *from, const char *to, const char *id);
/*
 * queue_move_flags - the same; QUEUE_MOVE_NOSYNC skips the folder fsync.
 * The queue manager's own moves use it: a rename is atomic, and after a
 * crash the file is in one folder or the other, either of which recovery
 * handles (Postfix does not fsync these moves either).  Anything that
 * tells a user "done" after a move must not use it.
 */
#define QUEUE_MOVE_NOSYNC	(1 << 0)
int queue_move_flags(const char *queue_dir, const char *from, const char *to,
		     const char *id, int flags);
/* queue_dirs_create - create the queue folders (and hash levels 1-2) if
 * missing. 0, or -1 with *error_r (static). */
int queue_dirs_create(const char *queue_dir, const char **error_r);
/*
 * queue_sweep_temp - remove temporary files (names starting "tmp.", never
 * queue IDs) older than max_age seconds at time now from the top folder of
 * queue_name (master's start-up clean-up).  Returns how many were removed,
 * or -1 with *error_r (static) when the folder cannot be read.
 */
long queue_sweep_temp(const char *queue_dir, const char *queue_name,
		      double max_age, double now, const char **error_r);

#endif
