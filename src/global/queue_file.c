/*
 * queue_file - write, read, validate and update queue files in place.
 *
 * Contract: queue_file.h; the format and the on-disk states are in
 * docs/QUEUE.md.  The writer streams records through a buffer and makes the
 * file visible under its queue ID only in qf_commit(), after the size
 * record and the ready mode, and returns only once the file and its name
 * are durable; nothing else ever creates a queue file.  The reader is
 * strict: every record has one place, every number in the size record is
 * checked against what it describes, and a damaged file
 * is reported as QF_CORRUPT with a reason naming the offset, never as good
 * data.  Readers never trust a length before checking it against the file
 * size, so random bytes cannot make them allocate or read beyond the file.
 *
 * It does not: decide where a file goes next (qmgr, tools), lock files for
 * the caller (qf_lock is a helper), or log anything.
 *
 * DIAGNOSTICS: errors are returned with *error_r: for the writer and for
 * qf_open() a static buffer, valid until the next such call; for an open
 * struct qf a buffer inside it, valid until the next call on it.  Calling
 * the writer out of order panics.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "global/counters.h"
#include "global/dsn.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/rec.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define QF_SIZE_FIELDS	6
#define QF_NUM_WIDTH	15
#define QF_SIZE_LEN	(QF_SIZE_FIELDS * (QF_NUM_WIDTH + 1) - 1)	/* 95 */
#define QF_FLUSH_AT	65536
#define QF_NUM_MAX	999999999999999L	/* widest value in 15 columns */
#define QF_NUM_MIN	(-99999999999999L)
#define QF_MIN_RCPT_REC	3	/* "R", length 1, one byte of address */
#define QF_END_LEN	2	/* "E", length 0 */

/* Per thread: the queue listing reads files in several threads. */
static _Thread_local char qf_static_err[512];

/* ---- writer ---- */

enum qf_wstate { W_ENVELOPE, W_CONTENT, W_RCPTS };

struct qf_writer {
	int fd;
	char *queue_dir;
	char *queue_name;
	char *tmp_path;
	long born_sec, born_usec;	/* time for the queue ID */
	struct buf out;		/* bytes not yet written */
	off_t flushed;		/* bytes already written */
	enum qf_wstate state;
	bool have_env;
	struct buf chunk;	/* content not yet in a B record */
	long content_offset, content_size, rcpt_offset, rcpt_count;
	int flags;
	int err;		/* first write errno */
	char *bad;		/* first unusable-data complaint */
	char *fixed_id;		/* commit under this ID (qf_set_id) */
	bool id_given;		/* ... given by the caller, not reserved */
};

/* w_offset - offset of the next byte the writer produces */
static off_t w_offset(const struct qf_writer *w)
{
	return w->flushed + (off_t)w->out.len;
}

/* w_flush - write buffered bytes; latch the first error */
static void w_flush(struct qf_writer *w)
{
	size_t done = 0;
	ssize_t n;

	while (w->err == 0 && done < w->out.len) {
		n = write(w->fd, w->out.data + done, w->out.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			w->err = n < 0 ? errno : EIO;
			break;
		}
		done += (size_t)n;
	}
	w->flushed += (off_t)done;
	buf_reset(&w->out);
}

/* w_bad - remember the first piece of unusable data */
static void w_bad(struct qf_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void w_bad(struct qf_writer *w, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (w->bad != NULL)
		return;
	buf_init(&b, 64);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	w->bad = buf_steal(&b);
	buf_deinit(&b);
}

/* w_put - append one record, refusing oversize data */
static void w_put(struct qf_writer *w, int type, const void *data, size_t len)
{
	if (len > REC_MAX_LEN) {
		char what[2] = {(char)type, 0};

		w_bad(w, "record '%s' longer than 1 MiB", what);
		return;
	}
	rec_put(&w->out, type, data, len);
	if (w->out.len >= QF_FLUSH_AT)
		w_flush(w);
}

/* w_put_str - append a string record */
static void w_put_str(struct qf_writer *w, int type, const char *s)
{
	w_put(w, type, s, strlen(s));
}

/* format_size - the 95 bytes of a size record */
static void format_size(char out[QF_SIZE_LEN + 1], long content_offset, long content_size,
			long rcpt_offset, long rcpt_count, long file_size, int flags)
{
	snprintf(out, QF_SIZE_LEN + 1, "%15ld %15ld %15ld %15ld %15ld %15ld",
		 content_offset, content_size, rcpt_offset, rcpt_count, file_size,
		 (long)flags);
}

/* qf_create - new temporary file in a queue folder */
struct qf_writer *qf_create(const char *queue_dir, const char *queue_name,
			    const char **error_r)
{
	struct qf_writer *w;
	struct timespec ts;
	char size[QF_SIZE_LEN + 1];
	char *path = NULL;
	int fd = -1;

	*error_r = qf_static_err;
	clock_gettime(CLOCK_REALTIME, &ts);

	/*
	 * The temporary name is never a queue ID ('.' is not in the ID
	 * alphabet), so a crash leaves a file everybody ignores until master's
	 * sweep.  O_EXCL: never open somebody else's file.
	 */
	for (int n = 0; fd < 0 && n < 100; n++) {
		free(path);
		path = n == 0 ? xasprintf("%s/%s/tmp.%ld.%06ld.%ld", queue_dir, queue_name,
					  (long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid())
			: xasprintf("%s/%s/tmp.%ld.%06ld.%ld.%d", queue_dir, queue_name,
				    (long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(), n);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			  QF_MODE_WRITING);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		snprintf(qf_static_err, sizeof(qf_static_err), "create %s: %s", path,
			 strerror(errno));
		free(path);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->queue_dir = xstrdup(queue_dir);
	w->queue_name = xstrdup(queue_name);
	w->tmp_path = path;
	w->born_sec = (long)ts.tv_sec;
	w->born_usec = ts.tv_nsec / 1000;
	buf_init(&w->out, QF_FLUSH_AT + 1024);
	buf_init(&w->chunk, 0);
	w->state = W_ENVELOPE;

	/* A placeholder size record; qf_commit() writes the real one. */
	format_size(size, 0, 0, 0, 0, 0, 0);
	rec_put(&w->out, 'C', size, QF_SIZE_LEN);
	return w;
}

/* qf_set_flags - envelope flags, kept for the size record at commit */
void qf_set_flags(struct qf_writer *w, int flags)
{
	if (flags & ~QF_FLAG_MASK)
		msg_panic("qf_set_flags: unknown flags 0x%x", flags);
	w->flags = flags;
}

/* qf_put_envelope - write the envelope segment */
void qf_put_envelope(struct qf_writer *w, const struct qf_envelope *env)
{
	char num[64];
	double sec;
	long usec;

	if (w->have_env || w->state != W_ENVELOPE)
		msg_panic("qf_put_envelope: envelope written twice");
	if (env->sender == NULL)
		msg_panic("qf_put_envelope: no sender");
	if (env->flags & ~QF_FLAG_MASK)
		msg_panic("qf_put_envelope: unknown flags 0x%x", env->flags);
	if (env->ret != 0 && env->ret != DSN_RET_FULL && env->ret != DSN_RET_HDRS)
		msg_panic("qf_put_envelope: bad DSN RET %d", env->ret);
	w->have_env = true;
	w->flags = env->flags;

	/* W first: its fixed place lets qf_set_warn() work without parsing. */
	if (w_offset(w) != QF_WARN_OFFSET)
		msg_panic("qf_put_envelope: warn record at %lld", (long long)w_offset(w));
	if (env->warn_time > QF_NUM_MAX || env->warn_time < QF_NUM_MIN) {
		w_bad(w, "%s does not fit the warn record", "warn time");
		snprintf(num, sizeof(num), "%15ld", 0L);
	} else {
		snprintf(num, sizeof(num), "%15ld", env->warn_time);
	}
	w_put(w, 'W', num, QF_NUM_WIDTH);

	if (!isfinite(env->arrival_time) || env->arrival_time < 0
	    || env->arrival_time > 1e15) {
		w_bad(w, "bad %s", "arrival time");
		sec = 0;
		usec = 0;
	} else {
		/* Non-negative, so truncation is floor (and libm stays out). */
		sec = (double)(long long)env->arrival_time;
		usec = (long)((env->arrival_time - sec) * 1e6 + 0.5);
		if (usec >= 1000000) {
			sec += 1;
			usec -= 1000000;
		}
	}
	snprintf(num, sizeof(num), "%.0f %ld", sec, usec);
	w_put_str(w, 'T', num);
	w_put_str(w, 'S', env->sender);
	if (env->envid && *env->envid)
		w_put_str(w, 'i', env->envid);
	if (env->ret) {
		snprintf(num, sizeof(num), "%d", env->ret);
		w_put_str(w, '<', num);
	}
	for (char **a = env->attrs; a && *a; a++) {
		if (**a == '=' || strchr(*a, '=') == NULL)
			w_bad(w, "malformed attribute \"%s\"", *a);
		else
			w_put_str(w, 'A', *a);
	}
	w_put(w, 'M', NULL, 0);
	w->content_offset = (long)w_offset(w);
	w->state = W_CONTENT;
}

/* emit_chunk - turn buffered content into one B record */
static void emit_chunk(struct qf_writer *w)
{
	if (w->chunk.len == 0)
		return;
	w_put(w, 'B', w->chunk.data, w->chunk.len);
	buf_reset(&w->chunk);
}

/* qf_put_content - append message bytes */
void qf_put_content(struct qf_writer *w, const void *data, size_t len)
{
	const char *p = data;
	size_t take;

	if (!w->have_env || w->state != W_CONTENT)
		msg_panic("qf_put_content: %s", w->have_env ? "content after recipients"
			  : "content before envelope");
	while (len > 0) {
		take = QF_CHUNK_SIZE - w->chunk.len;
		if (take > len)
			take = len;
		buf_append(&w->chunk, p, take);
		w->content_size += (long)take;
		p += take;
		len -= take;
		if (w->chunk.len == QF_CHUNK_SIZE)
			emit_chunk(w);
	}
}

/* end_content - close the content segment */
static void end_content(struct qf_writer *w)
{
	emit_chunk(w);
	w_put(w, 'X', NULL, 0);
	w->rcpt_offset = (long)w_offset(w);
	w->state = W_RCPTS;
}

/* add_rcpt - append one recipient group; the offset of its R/D record, or -1 */
static long add_rcpt(struct qf_writer *w, const char *address, const char *orig_rcpt,
		     const char *dsn_orcpt, int notify, bool done)
{
	char num[16];
	long offset;

	if (!w->have_env)
		msg_panic("qf_add_rcpt: recipient before envelope");
	if (w->state == W_CONTENT)
		end_content(w);
	if (address == NULL || *address == 0) {
		w_bad(w, "%s", "empty recipient address");
		return -1;
	}
	if ((notify & ~(DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY))
	    || ((notify & DSN_NOTIFY_NEVER) && (notify & DSN_NOTIFY_ANY))) {
		w_bad(w, "bad DSN NOTIFY bits for %s", address);
		return -1;
	}
	if (orig_rcpt && *orig_rcpt)
		w_put_str(w, 'O', orig_rcpt);
	if (dsn_orcpt && *dsn_orcpt)
		w_put_str(w, 'o', dsn_orcpt);
	if (notify) {
		snprintf(num, sizeof(num), "%d", notify);
		w_put_str(w, 'n', num);
	}
	offset = (long)w_offset(w);
	w_put_str(w, done ? 'D' : 'R', address);
	w->rcpt_count++;
	return offset;
}

/* qf_add_rcpt - append one recipient group */
void qf_add_rcpt(struct qf_writer *w, const char *address, const char *orig_rcpt,
		 const char *dsn_orcpt, int notify)
{
	(void)add_rcpt(w, address, orig_rcpt, dsn_orcpt, notify, false);
}

/* qf_add_done_rcpt - a recipient that is done already */
long qf_add_done_rcpt(struct qf_writer *w, const char *address, const char *orig_rcpt,
		      const char *dsn_orcpt, int notify)
{
	return add_rcpt(w, address, orig_rcpt, dsn_orcpt, notify, true);
}

/* qf_set_queue - commit into another folder */
void qf_set_queue(struct qf_writer *w, const char *queue_name)
{
	if (strcmp(queue_name, "incoming") != 0 && strcmp(queue_name, "hold") != 0)
		msg_panic("qf_set_queue: queue \"%s\"", queue_name);
	free(w->queue_name);
	w->queue_name = xstrdup(queue_name);
}

static int pwrite_all(int fd, const void *data, size_t n, off_t off);

/* move_bytes - copy n bytes within fd from src to dst (overlap-safe) */
static int move_bytes(int fd, off_t src, off_t dst, off_t n)
{
	char block[QF_CHUNK_SIZE];
	off_t done = 0, take;
	ssize_t k;

	while (done < n) {
		take = n - done > (off_t)sizeof(block) ? (off_t)sizeof(block) : n - done;
		/* Moving up: from the end backwards, so nothing is overwritten unread. */
		off_t at = dst > src ? n - done - take : done;

		if ((k = pread(fd, block, (size_t)take, src + at)) != (ssize_t)take)
			return k < 0 ? -1 : (errno = EIO, -1);
		if (pwrite_all(fd, block, (size_t)take, dst + at) < 0)
			return -1;
		done += take;
	}
	return 0;
}

/* qf_rewrite_envelope - a new envelope for the content written so far */
int qf_rewrite_envelope(struct qf_writer *w, const struct qf_envelope *env)
{
	struct buf saved;
	off_t old_len, new_len, data_len;
	size_t need = 200 + strlen(env->sender) + (env->envid ? strlen(env->envid) : 0);

	if (!w->have_env || w->state != W_CONTENT)
		msg_panic("qf_rewrite_envelope: not writing content");
	for (char **a = env->attrs; a && *a; a++)
		need += strlen(*a) + 8;
	if (need >= QF_FLUSH_AT) {
		errno = EFBIG;
		return -1;
	}
	w_flush(w);
	saved = w->out;
	if (w->err)
		return -1;

	/*
	 * Produce the new envelope records into a buffer of their own (the
	 * writer's buffer is empty after the flush), then shift the content
	 * written so far to follow them, in place: the file keeps its inode,
	 * so a queue ID reserved from it stays right.
	 */
	old_len = (off_t)w->content_offset - QF_WARN_OFFSET;
	buf_init(&w->out, 256);
	w->flushed = QF_WARN_OFFSET;
	w->have_env = false;
	w->state = W_ENVELOPE;
	qf_put_envelope(w, env);
	new_len = (off_t)w->out.len;
	errno = 0;
	data_len = lseek(w->fd, 0, SEEK_END) - (QF_WARN_OFFSET + old_len);
	if (data_len < 0 || move_bytes(w->fd, QF_WARN_OFFSET + old_len, QF_WARN_OFFSET + new_len,
				       data_len) < 0
	    || pwrite_all(w->fd, w->out.data, w->out.len, QF_WARN_OFFSET) < 0
	    || (new_len < old_len && ftruncate(w->fd, QF_WARN_OFFSET + new_len + data_len) < 0)
	    || lseek(w->fd, QF_WARN_OFFSET + new_len + data_len, SEEK_SET) < 0) {
		w->err = errno ? errno : EIO;
		buf_deinit(&w->out);
		w->out = saved;
		return -1;
	}
	buf_deinit(&w->out);
	w->out = saved;
	buf_reset(&w->out);
	w->flushed = QF_WARN_OFFSET + new_len + data_len;
	return 0;
}

/* w_free - release the writer (the descriptor must be closed) */
static void w_free(struct qf_writer **wp)
{
	struct qf_writer *w = *wp;

	buf_deinit(&w->out);
	buf_deinit(&w->chunk);
	free(w->queue_dir);
	free(w->queue_name);
	free(w->tmp_path);
	free(w->bad);
	free(w->fixed_id);
	free(w);
	*wp = NULL;
}

/* w_fail - remove the file, free the writer, report why */
static int w_fail(struct qf_writer **wp, const char *path, const char *what, int err,
		  const char **error_r)
{
	struct qf_writer *w = *wp;

	if (err)
		snprintf(qf_static_err, sizeof(qf_static_err), "%s: %s", what, strerror(err));
	else
		snprintf(qf_static_err, sizeof(qf_static_err), "%s", what);
	*error_r = qf_static_err;
	if (w->fd >= 0)
		close(w->fd);
	if (unlink(path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %s", path, strerror(errno));
	w_free(wp);
	return -1;
}

/* pwrite_all - write n bytes at off */
static int pwrite_all(int fd, const void *data, size_t n, off_t off)
{
	const char *p = data;
	ssize_t k;

	while (n > 0) {
		if ((k = pwrite(fd, p, n, off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0) {
			errno = EIO;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/*
 * sync_incoming - make a rename into incoming/ durable, in groups.
 *
 * Each smtpd session (and pickup, and bounce) commits its own file, and a
 * folder fsync costs a device write and cache flush.  Files renamed at the
 * same moment by different processes share one folder fsync, as databases
 * commit: every rename takes a number from a counter in shared memory
 * (counters_commit_seq) after it is done; the process that holds the
 * folder's lock (flock on the folder) reads the counter, fsyncs, and
 * publishes that number as durable.  A process whose number is already
 * published when it gets the lock is done without a sync of its own: a
 * folder fsync that began after its rename finished has completed.  So
 * each caller returns only once its own entry is durable; with ten
 * sessions committing together, one or two fsyncs serve them all.
 *
 * Anything unusual (another queue directory than the system's, a hashed
 * incoming/, no shared counters file, a failed lock) falls back to the
 * plain folder fsync.
 */
static int sync_incoming(const char *queue_dir, const char *queue_name, const char *path)
{
	static int dir_fd = -1;
	static pid_t dir_pid;
	static char *dir_path;
	const char *slash = strrchr(path, '/');
	uint64_t *seq, mine, target;
	int rc;

	if (strcmp(queue_name, "incoming") != 0 || var_queue_directory == NULL
	    || strcmp(queue_dir, var_queue_directory) != 0 || slash == NULL
	    || (size_t)(slash - path) != strlen(queue_dir) + 1 + strlen(queue_name)
	    || (seq = counters_commit_seq()) == NULL)
		return fsync_parent(path);
	/* One descriptor per process (a forked child must not share its lock). */
	if (dir_fd < 0 || dir_pid != getpid() || strncmp(dir_path, path, (size_t)(slash - path)) != 0
	    || dir_path[slash - path] != 0) {
		if (dir_fd >= 0)
			close(dir_fd);
		free(dir_path);
		dir_path = xstrndup(path, (size_t)(slash - path));
		dir_pid = getpid();
		if ((dir_fd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return -1;
	}
	mine = __atomic_add_fetch(&seq[0], 1, __ATOMIC_SEQ_CST);
	while ((rc = flock(dir_fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return fsync(dir_fd);
	if (__atomic_load_n(&seq[1], __ATOMIC_SEQ_CST) >= mine) {
		(void)flock(dir_fd, LOCK_UN);
		return 0;
	}
	/* Every rename numbered up to target finished before this fsync begins. */
	target = __atomic_load_n(&seq[0], __ATOMIC_SEQ_CST);
	if ((rc = fsync(dir_fd)) == 0 && __atomic_load_n(&seq[1], __ATOMIC_SEQ_CST) < target)
		__atomic_store_n(&seq[1], target, __ATOMIC_SEQ_CST);
	(void)flock(dir_fd, LOCK_UN);
	return rc;
}

/*
 * names_follow_fsync - does an fsync of this file also make the names that
 * link to it durable?  ext4 (with or without a journal: without one, the
 * fsync of a newly named inode writes its folder too), XFS and btrfs
 * commit the rename that named the file with the file's own fsync, so one
 * fsync after the rename is enough, as Postfix's queue does.  POSIX alone
 * promises that only after an fsync of the folder: queue_folder_fsync = yes,
 * or any other file system, takes that order.  Asked once per process
 * and file system.
 */
static bool names_follow_fsync(int fd, const struct stat *st)
{
	static dev_t dev;
	static int known = -1;
	struct statfs sfs;

	if (var_queue_folder_fsync)
		return false;
	if (known >= 0 && st->st_dev == dev)
		return known;
	if (fstatfs(fd, &sfs) < 0)
		return false;
	dev = st->st_dev;
	known = sfs.f_type == 0xEF53		/* ext2/3/4 (the ext4 driver) */
	    || sfs.f_type == 0x58465342	/* XFS */
	    || sfs.f_type == 0x9123683E;	/* btrfs */
	return known;
}

/* qf_commit - finish, make durable, name the file by its queue ID */
int qf_commit(struct qf_writer **wp, char id_r[QUEUE_ID_SIZE], const char **error_r)
{
	struct qf_writer *w = *wp;
	char size[QF_SIZE_LEN + 1];
	char hdr[2];
	char id[QUEUE_ID_SIZE];
	char *path = NULL;
	struct stat st;
	bool maildrop, pristine, one_sync;
	long sec, usec;
	int rc, err;

	if (!w->have_env)
		msg_panic("qf_commit: no envelope");
	if (w->state == W_CONTENT)
		end_content(w);
	if (w->bad)
		return w_fail(wp, w->tmp_path, w->bad, 0, error_r);
	if (w->rcpt_count == 0)
		return w_fail(wp, w->tmp_path, "message has no recipients", 0, error_r);

	/*
	 * End marker, then the real size record over the placeholder: in the
	 * buffer when the whole file is still there (a small message: one
	 * write), else written over the start of the file.
	 */
	w_put(w, 'E', NULL, 0);
	pristine = w->flushed == 0 && w->out.len >= 2 + QF_SIZE_LEN;
	if (pristine) {
		format_size(size, w->content_offset, w->content_size, w->rcpt_offset,
			    w->rcpt_count, (long)w->out.len, w->flags);
		w->out.data[0] = 'C';
		w->out.data[1] = QF_SIZE_LEN;
		memcpy(w->out.data + 2, size, QF_SIZE_LEN);
	}
	w_flush(w);
	if (w->err)
		return w_fail(wp, w->tmp_path, "write queue file", w->err, error_r);
	if (!pristine) {
		format_size(size, w->content_offset, w->content_size, w->rcpt_offset,
			    w->rcpt_count, (long)w->flushed, w->flags);
		hdr[0] = 'C';
		hdr[1] = QF_SIZE_LEN;
		if (pwrite_all(w->fd, hdr, 2, 0) < 0
		    || pwrite_all(w->fd, size, QF_SIZE_LEN, 2) < 0)
			return w_fail(wp, w->tmp_path, "write size record", errno, error_r);
	}

	/*
	 * Complete: the ready mode, then the name, durable in one of two
	 * orders (see names_follow_fsync): rename, then one fsync that commits
	 * the file and its name; or fsync, rename, and an fsync of the folder.
	 * A crash before the rename leaves a temporary name that nobody takes.
	 */
	maildrop = strcmp(w->queue_name, "maildrop") == 0;
	if (fchmod(w->fd, maildrop ? QF_MODE_MAILDROP : QF_MODE_READY) < 0)
		return w_fail(wp, w->tmp_path, "chmod queue file", errno, error_r);
	/* The inode names the file, unless its ID is fixed already. */
	if (fstat(w->fd, &st) < 0)
		return w_fail(wp, w->tmp_path, "fstat queue file", errno, error_r);
	/*
	 * A given ID (pickup's copy of a maildrop file, an import) says, by
	 * being in the queue, that the copy is complete: a restarted pickup
	 * then only removes the original.  So its name never comes before
	 * its contents are durable: the folder order.
	 */
	one_sync = !w->id_given && names_follow_fsync(w->fd, &st);
	if (!one_sync && fsync(w->fd) < 0)
		return w_fail(wp, w->tmp_path, "fsync queue file", errno, error_r);

	/*
	 * Name it.  The inode makes the ID unique among live files; should an
	 * old file with a reused inode and the same microsecond still exist,
	 * RENAME_NOREPLACE refuses and we move one microsecond on.
	 */
	sec = w->born_sec;
	usec = w->born_usec;
	for (int tries = 0;; tries++) {
		if (w->fixed_id)
			snprintf(id, sizeof(id), "%s", w->fixed_id);
		else
			queue_id_format(id, sec, usec, (unsigned long)st.st_ino);
		free(path);
		path = queue_path(w->queue_dir, w->queue_name, id);
		rc = queue_rename_noreplace(w->tmp_path, path);
		if (rc < 0 && errno == ENOENT
		    && queue_hash_mkdirs(w->queue_dir, w->queue_name, id) == 0)
			rc = queue_rename_noreplace(w->tmp_path, path);
		if (rc == 0)
			break;
		if (errno != EEXIST || tries >= 20 || w->fixed_id) {
			err = errno;
			free(path);
			return w_fail(wp, w->tmp_path, "rename queue file", err, error_r);
		}
		if (++usec == 1000000) {
			usec = 0;
			sec++;
		}
	}

	/*
	 * Make the file and its name durable before anyone is told "accepted".
	 * Once renamed, a ready file may be taken by the queue manager before
	 * this fsync: it is complete, and if the fsync fails or the system
	 * crashes first, the submitter was not told "accepted" (at worst a
	 * copy is delivered twice, never one lost).  In the folder order, a
	 * submitter in maildrop/ (mode 1730) may not open the folder for
	 * reading, so cannot fsync it: syncfs() on the file's own descriptor
	 * flushes the file system the rename happened on, the entry included.
	 */
	if (one_sync) {
		if (fsync(w->fd) < 0) {
			rc = w_fail(wp, path, "fsync queue file", errno, error_r);
			free(path);
			return rc;
		}
	} else if (sync_incoming(w->queue_dir, w->queue_name, path) < 0) {
		const char *what = "fsync queue folder";

		err = errno;
		if (err == EACCES) {
			what = "syncfs queue file system";
			err = syncfs(w->fd) < 0 ? errno : 0;
		}
		if (err) {
			rc = w_fail(wp, path, what, err, error_r);
			free(path);
			return rc;
		}
	}
	close(w->fd);
	w->fd = -1;
	free(path);
	memcpy(id_r, id, QUEUE_ID_SIZE);
	w_free(wp);
	return 0;
}

/* qf_set_id - commit under a given queue ID instead of a new one */
void qf_set_id(struct qf_writer *w, const char *id)
{
	if (!queue_id_valid(id))
		msg_panic("qf_set_id: bad queue ID \"%s\"", id);
	free(w->fixed_id);
	w->fixed_id = xstrdup(id);
	w->id_given = true;
}

/* qf_reserve_id - fix the queue ID now (its inode is known at creation) */
int qf_reserve_id(struct qf_writer *w, char id_r[QUEUE_ID_SIZE])
{
	struct stat st;

	if (w->fixed_id == NULL) {
		if (fstat(w->fd, &st) < 0)
			return -1;
		queue_id_format(id_r, w->born_sec, w->born_usec, (unsigned long)st.st_ino);
		w->fixed_id = xstrdup(id_r);
	}
	snprintf(id_r, QUEUE_ID_SIZE, "%s", w->fixed_id);
	return 0;
}

/* qf_abort - discard the file being written */
void qf_abort(struct qf_writer **wp)
{
	struct qf_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (unlink(w->tmp_path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %s", w->tmp_path, strerror(errno));
	w_free(wp);
}

/* ---- reader ---- */

struct qf {
	int fd;
	struct rec_in *in;
	off_t size;
	struct stat st;		/* from the open */
	bool snapshot;		/* keep what was read (qf_snapshot) */
	long content_offset, content_size, rcpt_offset, rcpt_count;
	int flags;
	long count_next;	/* where counting recipients goes on, or -1 */
	long count_seen;	/* recipients counted up to count_next */
	char err[512];
};

/* set_err - format a reason into q's buffer */
static int set_err(struct qf *q, const char **error_r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(struct qf *q, const char **error_r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	*error_r = q->err;
	return rc;
}

/* rec_err - pass on a reader failure */
static int rec_err(struct qf *q, const char **error_r, int rc, const char *why)
{
	return set_err(q, error_r, rc == REC_CORRUPT ? QF_CORRUPT : -1, "%s", why);
}

/* show - a record type for messages */
static int show(int type)
{
	return type > 0x20 && type < 0x7f ? type : '?';
}

/* parse_num - exactly len bytes of "%*ld" (space padded, optional '-') */
static int parse_num(const char *p, size_t len, bool allow_neg, long *v_r)
{
	size_t i = 0;
	bool neg = false;
	long v = 0;

	while (i < len && p[i] == ' ')
		i++;
	if (i < len && p[i] == '-' && allow_neg) {
		neg = true;
		i++;
	}
	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (QF_NUM_MAX - (p[i] - '0')) / 10)
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*v_r = neg ? -v : v;
	return 0;
}

/* parse_size - decode and sanity-check the size record */
static int parse_size(struct qf *q, const struct rec *r, const char **error_r)
{
	long f[QF_SIZE_FIELDS];

	if (r->type != 'C')
		return set_err(q, error_r, QF_CORRUPT, "first record is '%c', not a size record",
			       show(r->type));
	if (r->len != QF_SIZE_LEN)
		return set_err(q, error_r, QF_CORRUPT, "size record has length %zu", r->len);
	for (int i = 0; i < QF_SIZE_FIELDS; i++) {
		const char *p = r->data + i * (QF_NUM_WIDTH + 1);

		if ((i > 0 && p[-1] != ' ') || parse_num(p, QF_NUM_WIDTH, false, &f[i]) < 0)
			return set_err(q, error_r, QF_CORRUPT, "size record field %d is malformed",
				       i + 1);
	}
	q->content_offset = f[0];
	q->content_size = f[1];
	q->rcpt_offset = f[2];
	q->rcpt_count = f[3];
	q->flags = (int)(f[5] & 0x7fffffff);
	if (f[4] != (long)q->size)
		return set_err(q, error_r, QF_CORRUPT,
			       "file size %lld differs from the size record's %ld",
			       (long long)q->size, f[4]);
	if (f[5] & ~(long)QF_FLAG_MASK)
		return set_err(q, error_r, QF_CORRUPT, "unknown flags %ld in size record", f[5]);

	/*
	 * Sanity only (the envelope parser says what exactly is missing): the
	 * envelope holds at least M; the smallest content is X; the recipient
	 * segment holds rcpt_count records of at least three bytes and the end
	 * marker.
	 */
	if (q->content_offset < QF_WARN_OFFSET + 2
	    || q->rcpt_offset < q->content_offset + 2
	    || q->content_size > q->rcpt_offset - 2 - q->content_offset
	    || q->rcpt_count < 1
	    || q->rcpt_count > (f[4] - QF_END_LEN - q->rcpt_offset) / QF_MIN_RCPT_REC)
		return set_err(q, error_r, QF_CORRUPT,
			       "inconsistent size record (content %ld+%ld, recipients %ld x %ld, size %ld)",
			       q->content_offset, q->content_size, q->rcpt_offset,
			       q->rcpt_count, f[4]);
	return 0;
}

/* qf_open - open and check the frame */
struct qf *qf_open(const char *path, bool writable, bool *corrupt_r, const char **error_r)
{
	return qf_openat(AT_FDCWD, path, writable, corrupt_r, error_r);
}

/*
 * qf_frame - a reader over fd (whose status is st), with the file's first
 * image_len bytes already in image (none when NULL), and the frame check;
 * NULL with *corrupt_r and qf_static_err, fd closed, on failure.
 */
static struct qf *qf_frame(int fd, const struct stat *st, const void *image, size_t image_len,
			   bool *corrupt_r, const char **error_r)
{
	struct qf *q;
	struct rec r;
	const char *why;
	char tail[QF_END_LEN];
	ssize_t n;
	int rc;

	q = xcalloc(1, sizeof(*q));
	q->fd = fd;
	q->st = *st;
	q->size = st->st_size;
	q->count_next = -1;
	if (image != NULL && fd < 0 && (off_t)image_len == q->size) {
		q->in = rec_in_create_image(image, image_len);
	} else {
		q->in = rec_in_create(fd, q->size);
		if (image != NULL)
			rec_in_preload(q->in, image, image_len);
	}
	if (!S_ISREG(st->st_mode)) {
		/* Not a damaged queue file but no queue file at all: callers skip it. */
		rc = set_err(q, &why, -1, "not a regular file");
	} else if (q->size < QF_WARN_OFFSET) {
		rc = set_err(q, &why, QF_CORRUPT, "file of %lld bytes is too short for a size record",
			     (long long)q->size);
	} else if ((rc = rec_in_get(q->in, 0, &r, &why)) != 0) {
		rc = rec_err(q, &why, rc, why);
	} else if ((rc = parse_size(q, &r, &why)) == 0) {
		/* The last record must be the end marker: from the first read
		 * when the file is small, else one small read. */
		const char *seen = rec_in_peek(q->in, q->size - QF_END_LEN, QF_END_LEN);

		if (seen != NULL) {
			memcpy(tail, seen, QF_END_LEN);
			n = QF_END_LEN;
		} else {
			n = pread(fd, tail, sizeof(tail), q->size - QF_END_LEN);
		}
		if (n < 0)
			rc = set_err(q, &why, -1, "read: %s", strerror(errno));
		else if (n != QF_END_LEN || tail[0] != 'E' || tail[1] != 0)
			rc = set_err(q, &why, QF_CORRUPT, "no end marker at the end of the file");
	}
	if (rc == 0)
		return q;
	*corrupt_r = rc == QF_CORRUPT;
	*error_r = qf_static_err;
	snprintf(qf_static_err, sizeof(qf_static_err), "%s", why);
	qf_close(&q);
	return NULL;
}

/* qf_openat - the same, relative to a folder */
struct qf *qf_openat(int dirfd, const char *path, bool writable, bool *corrupt_r,
		     const char **error_r)
{
	struct stat st;
	int fd;

	*corrupt_r = false;
	*error_r = qf_static_err;
	if ((fd = openat(dirfd, path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(qf_static_err, sizeof(qf_static_err), "open %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(qf_static_err, sizeof(qf_static_err), "fstat %s: %s", path,
			 strerror(errno));
		close(fd);
		return NULL;
	}
	return qf_frame(fd, &st, NULL, 0, corrupt_r, error_r);
}

/* qf_open_image - a read-only reader over a whole file read by the caller */
struct qf *qf_open_image(const struct stat *st, const void *data, size_t len, bool *corrupt_r,
			 const char **error_r)
{
	*corrupt_r = false;
	*error_r = qf_static_err;
	if ((off_t)len != st->st_size) {
		snprintf(qf_static_err, sizeof(qf_static_err),
			 "image of %zu bytes for a file of %lld", len, (long long)st->st_size);
		return NULL;
	}
	return qf_frame(-1, st, data, len, corrupt_r, error_r);
}

/* qf_snapshot - reads may come from bytes read before */
void qf_snapshot(struct qf *q)
{
	q->snapshot = true;
}

/* qf_stat - the file's status at open */
const struct stat *qf_stat(const struct qf *q)
{
	return &q->st;
}

/* qf_close - close and free */
void qf_close(struct qf **qp)
{
	struct qf *q = *qp;

	if (q == NULL)
		return;
	if (q->fd >= 0)
		close(q->fd);
	rec_in_free(&q->in);
	free(q);
	*qp = NULL;
}

/* qf_fd - the descriptor, for locks and in-place updates */
int qf_fd(const struct qf *q)
{
	return q->fd;
}

/* dup_str - copy a string record, refusing NUL bytes */
static int dup_str(struct qf *q, const struct rec *r, bool nonempty, char **out,
		   const char **error_r)
{
	if (memchr(r->data, 0, r->len) != NULL)
		return set_err(q, error_r, QF_CORRUPT, "NUL byte in record '%c' at offset %lld",
			       show(r->type), (long long)r->off);
	if (nonempty && r->len == 0)
		return set_err(q, error_r, QF_CORRUPT, "empty record '%c' at offset %lld",
			       show(r->type), (long long)r->off);
	*out = xmemdup(r->data, r->len);
	return 0;
}

/* Envelope record ranks: each appears once and in this order (A repeats). */
static const struct {
	int type;
	bool required;
	const char *what;
} env_order[] = {
	{'W', true, "warn time"},
	{'T', true, "arrival time"},
	{'S', true, "sender"},
	{'i', false, "envelope id"},
	{'<', false, "DSN RET"},
	{'A', false, "attribute"},
	{'M', true, "end of envelope"},
};
#define ENV_RANKS (int)(sizeof(env_order) / sizeof(env_order[0]))

/* env_rank - position of a type in env_order, or -1 */
static int env_rank(int type)
{
	for (int i = 0; i < ENV_RANKS; i++)
		if (env_order[i].type == type)
			return i;
	return -1;
}

/* parse_arrival - "sec usec" */
static int parse_arrival(const struct rec *r, double *t_r)
{
	const char *sp = memchr(r->data, ' ', r->len);
	size_t rest;
	long sec, usec;

	/* Exactly "digits SP digits": parse_num alone would allow padding. */
	if (sp == NULL || sp == r->data)
		return -1;
	rest = r->len - (size_t)(sp + 1 - r->data);
	if (rest == 0 || sp[1] == ' ')
		return -1;
	if (parse_num(r->data, (size_t)(sp - r->data), false, &sec) < 0
	    || parse_num(sp + 1, rest, false, &usec) < 0 || usec > 999999)
		return -1;
	*t_r = (double)sec + (double)usec / 1e6;
	return 0;
}

/* envelope_record - store one envelope record into env */
static int envelope_record(struct qf *q, const struct rec *r, struct qf_envelope *env,
			   size_t *nattrs, const char **error_r)
{
	long v;
	char *s;

	switch (r->type) {
	case 'W':
		if (r->len != QF_NUM_WIDTH || parse_num(r->data, r->len, true, &v) < 0)
			return set_err(q, error_r, QF_CORRUPT, "malformed warn record");
		if (r->off != QF_WARN_OFFSET)
			return set_err(q, error_r, QF_CORRUPT, "warn record at offset %lld",
				       (long long)r->off);
		env->warn_time = v;
		env->warn_offset = (long)r->off;
		return 0;
	case 'T':
		if (parse_arrival(r, &env->arrival_time) < 0)
			return set_err(q, error_r, QF_CORRUPT, "malformed arrival time at offset %lld",
				       (long long)r->off);
		return 0;
	case 'S':
		return dup_str(q, r, false, &env->sender, error_r);
	case 'i':
		return dup_str(q, r, true, &env->envid, error_r);
	case '<':
		if (r->len != 1 || (r->data[0] != '1' && r->data[0] != '2'))
			return set_err(q, error_r, QF_CORRUPT, "malformed DSN RET at offset %lld",
				       (long long)r->off);
		env->ret = r->data[0] - '0';
		return 0;
	case 'A':
		if (r->len == 0 || r->data[0] == '=' || memchr(r->data, '=', r->len) == NULL)
			return set_err(q, error_r, QF_CORRUPT, "malformed attribute at offset %lld",
				       (long long)r->off);
		if (dup_str(q, r, true, &s, error_r) < 0)
			return QF_CORRUPT;
		env->attrs = xreallocarray(env->attrs, *nattrs + 2, sizeof(char *));
		env->attrs[(*nattrs)++] = s;
		env->attrs[*nattrs] = NULL;
		return 0;
	case 'M':
		if (r->len != 0)
			return set_err(q, error_r, QF_CORRUPT, "non-empty end of envelope");
		return 0;
	}
	msg_panic("envelope_record: type %d", r->type);
}

/* qf_read_envelope - parse the envelope strictly */
int qf_read_envelope(struct qf *q, struct qf_envelope *env_r, const char **error_r)
{
	struct qf_envelope env;
	struct rec r;
	const char *why;
	size_t nattrs = 0;
	off_t off = QF_WARN_OFFSET;
	int last = -1, rank, rc;

	memset(&env, 0, sizeof(env));
	if (!q->snapshot)
		rec_in_forget(q->in);
	for (;;) {
		if ((rc = rec_in_get(q->in, off, &r, &why)) != 0) {
			rc = rec_err(q, error_r, rc, why);
			goto bad;
		}
		if (off >= q->content_offset) {
			rc = set_err(q, error_r, QF_CORRUPT,
				     "envelope runs into the content at offset %ld",
				     q->content_offset);
			goto bad;
		}
		if ((rank = env_rank(r.type)) < 0) {
			rc = set_err(q, error_r, QF_CORRUPT,
				     "unexpected record '%c' in envelope at offset %lld",
				     show(r.type), (long long)r.off);
			goto bad;
		}
		if (rank < last || (rank == last && r.type != 'A')) {
			rc = set_err(q, error_r, QF_CORRUPT,
				     "record '%c' out of order at offset %lld",
				     show(r.type), (long long)r.off);
			goto bad;
		}
		/* Every required record before this one must have been seen. */
		for (int i = last + 1; i < rank; i++) {
			if (env_order[i].required) {
				rc = set_err(q, error_r, QF_CORRUPT, "missing %s record",
					     env_order[i].what);
				goto bad;
			}
		}
		last = rank;
		if ((rc = envelope_record(q, &r, &env, &nattrs, error_r)) != 0)
			goto bad;
		off = r.next;
		if (r.type == 'M')
			break;
	}
	if (off != q->content_offset) {
		rc = set_err(q, error_r, QF_CORRUPT,
			     "envelope ends at %lld but the size record says %ld",
			     (long long)off, q->content_offset);
		goto bad;
	}
	if (env.envid == NULL)
		env.envid = xstrdup("");
	if (env.attrs == NULL)
		env.attrs = xcalloc(1, sizeof(char *));
	env.flags = q->flags;
	env.content_offset = q->content_offset;
	env.content_size = q->content_size;
	env.rcpt_offset = q->rcpt_offset;
	env.rcpt_count = q->rcpt_count;
	*env_r = env;
	return 0;
bad:
	qf_envelope_deinit(&env);
	return rc;
}

/* qf_envelope_deinit - release what qf_read_envelope allocated */
void qf_envelope_deinit(struct qf_envelope *env)
{
	free(env->sender);
	free(env->envid);
	for (char **a = env->attrs; a && *a; a++)
		free(*a);
	free(env->attrs);
	memset(env, 0, sizeof(*env));
}

/* qf_rcpt_deinit - release one recipient's strings */
void qf_rcpt_deinit(struct qf_rcpt *r)
{
	free(r->address);
	free(r->orig_rcpt);
	free(r->dsn_orcpt);
	memset(r, 0, sizeof(*r));
}

/* at_end - check the end marker at off: 1 yes, 0 not E, <0 error */
static int at_end(struct qf *q, const struct rec *r, bool counting, long seen,
		  const char **error_r)
{
	if (r->type != 'E')
		return 0;
	if (r->len != 0)
		return set_err(q, error_r, QF_CORRUPT, "non-empty end marker at offset %lld",
			       (long long)r->off);
	if (r->next != q->size)
		return set_err(q, error_r, QF_CORRUPT, "data after the end marker at offset %lld",
			       (long long)r->off);
	if (counting && seen != q->rcpt_count)
		return set_err(q, error_r, QF_CORRUPT,
			       "%ld recipients but the size record says %ld", seen, q->rcpt_count);
	return 1;
}

/* parse_notify - DSN NOTIFY bits of an n record */
static int parse_notify(const struct rec *r, int *notify_r)
{
	long v;

	if (r->len == 0 || r->len > 2 || parse_num(r->data, r->len, false, &v) < 0
	    || r->data[0] == ' ' || v < 1 || (v & ~(long)(DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY))
	    || ((v & DSN_NOTIFY_NEVER) && (v & DSN_NOTIFY_ANY)))
		return -1;
	*notify_r = (int)v;
	return 0;
}

/* qf_read_rcpts - the next batch of recipients */
long qf_read_rcpts(struct qf *q, long *offset_r, struct qf_rcpt *rcpts, size_t max,
		   bool include_done, const char **error_r)
{
	struct qf_rcpt cur;
	struct rec r;
	const char *why;
	off_t off = *offset_r ? *offset_r : q->rcpt_offset;
	bool counting;
	long seen, rc;
	size_t n = 0;
	int stage = 0;	/* 0 group start, 1 after O, 2 after o, 3 after n */

	if (off < q->rcpt_offset || off >= q->size)
		return set_err(q, error_r, -1, "recipient resume offset %lld out of range",
			       (long long)off);
	if (max == 0)
		return set_err(q, error_r, -1, "no room for recipients");
	counting = off == q->rcpt_offset || off == q->count_next;
	seen = off == q->rcpt_offset ? 0 : q->count_seen;
	q->count_next = -1;
	memset(&cur, 0, sizeof(cur));
	if (!q->snapshot)
		rec_in_forget(q->in);
	for (;;) {
		if ((rc = rec_in_get(q->in, off, &r, &why)) != 0) {
			rc = rec_err(q, error_r, (int)rc, why);
			goto bad;
		}
		if (stage == 0 && (rc = at_end(q, &r, counting, seen, error_r)) != 0) {
			if (rc < 0)
				goto bad;
			*offset_r = 0;
			return (long)n;
		}
		if (n == max) {
			/* Full; the peek above showed the segment goes on. */
			*offset_r = (long)off;
			q->count_next = counting ? (long)off : -1;
			q->count_seen = seen;
			return (long)n;
		}
		switch (r.type) {
		case 'O':
		case 'o':
		case 'n':
			if ((r.type == 'O' && stage >= 1) || (r.type == 'o' && stage >= 2)
			    || (r.type == 'n' && stage >= 3)) {
				rc = set_err(q, error_r, QF_CORRUPT,
					     "record '%c' out of order at offset %lld",
					     r.type, (long long)r.off);
				goto bad;
			}
			if (r.type == 'O') {
				stage = 1;
				rc = dup_str(q, &r, true, &cur.orig_rcpt, error_r);
			} else if (r.type == 'o') {
				stage = 2;
				rc = dup_str(q, &r, true, &cur.dsn_orcpt, error_r);
			} else {
				stage = 3;
				rc = parse_notify(&r, &cur.notify) < 0
					? set_err(q, error_r, QF_CORRUPT,
						  "malformed DSN NOTIFY at offset %lld",
						  (long long)r.off)
					: 0;
			}
			if (rc)
				goto bad;
			break;
		case 'R':
		case 'D':
			if (++seen > q->rcpt_count && counting) {
				rc = set_err(q, error_r, QF_CORRUPT,
					     "more recipients than the size record's %ld",
					     q->rcpt_count);
				goto bad;
			}
			if ((rc = dup_str(q, &r, true, &cur.address, error_r)) != 0)
				goto bad;
			cur.offset = (long)r.off;
			cur.done = r.type == 'D';
			if (cur.orig_rcpt == NULL)
				cur.orig_rcpt = xstrdup("");
			if (cur.dsn_orcpt == NULL)
				cur.dsn_orcpt = xstrdup("");
			if (include_done || !cur.done)
				rcpts[n++] = cur;
			else
				qf_rcpt_deinit(&cur);
			memset(&cur, 0, sizeof(cur));
			stage = 0;
			break;
		default:
			rc = set_err(q, error_r, QF_CORRUPT,
				     stage ? "recipient group at offset %lld has no R/D record"
				     : "unexpected record in recipients at offset %lld",
				     (long long)r.off);
			goto bad;
		}
		off = r.next;
	}
bad:
	qf_rcpt_deinit(&cur);
	while (n > 0)
		qf_rcpt_deinit(&rcpts[--n]);
	return rc;
}

/* walk_content - check the content segment, passing chunks to fn if any */
static int walk_content(struct qf *q, int (*fn)(const char *, size_t, void *), void *ctx,
			const char **error_r)
{
	struct rec r;
	const char *why;
	off_t off = q->content_offset;
	long total = 0;
	int rc;

	if (!q->snapshot)
		rec_in_forget(q->in);
	for (;;) {
		if ((rc = rec_in_get(q->in, off, &r, &why)) != 0)
			return rec_err(q, error_r, rc, why);
		if (r.type == 'X') {
			if (r.len != 0)
				return set_err(q, error_r, QF_CORRUPT, "non-empty end of content");
			if (r.next != q->rcpt_offset || total != q->content_size)
				return set_err(q, error_r, QF_CORRUPT,
					       "content of %ld bytes ending at %lld, size record says %ld ending at %ld",
					       total, (long long)r.next, q->content_size,
					       q->rcpt_offset);
			return 0;
		}
		if (r.type != 'B')
			return set_err(q, error_r, QF_CORRUPT,
				       "unexpected record '%c' in content at offset %lld",
				       show(r.type), (long long)r.off);
		if (r.len == 0 || r.len > QF_CHUNK_SIZE)
			return set_err(q, error_r, QF_CORRUPT,
				       "content record of %zu bytes at offset %lld", r.len,
				       (long long)r.off);
		total += (long)r.len;
		if (total > q->content_size)
			return set_err(q, error_r, QF_CORRUPT,
				       "content exceeds the size record's %ld bytes", q->content_size);
		if (fn && fn(r.data, r.len, ctx) != 0)
			return set_err(q, error_r, -1, "content reader stopped");
		off = r.next;
	}
}

/* qf_read_content - pass the message content to fn in chunks */
int qf_read_content(struct qf *q, int (*fn)(const char *data, size_t len, void *ctx),
		    void *ctx, const char **error_r)
{
	return walk_content(q, fn, ctx, error_r);
}

/* qf_validate - walk every record */
int qf_validate(struct qf *q, const char **error_r)
{
	struct qf_envelope env;
	struct qf_rcpt batch[64];
	long offset = 0, n;
	int rc;

	if ((rc = qf_read_envelope(q, &env, error_r)) != 0)
		return rc;
	qf_envelope_deinit(&env);
	if ((rc = walk_content(q, NULL, NULL, error_r)) != 0)
		return rc;
	do {
		n = qf_read_rcpts(q, &offset, batch, 64, true, error_r);
		if (n < 0)
			return (int)n;
		for (long i = 0; i < n; i++)
			qf_rcpt_deinit(&batch[i]);
	} while (offset != 0);
	return 0;
}

/*
 * qf_validate_message - what a delivery copies: the envelope and the
 * content.  The recipient segment is not walked: its cost grows with the
 * number of recipients, and a delivery agent that walked it for every
 * request made a message to N recipients cost N * N record reads.
 */
int qf_validate_message(struct qf *q, const char **error_r)
{
	struct qf_envelope env;
	int rc;

	if ((rc = qf_read_envelope(q, &env, error_r)) != 0)
		return rc;
	qf_envelope_deinit(&env);
	return walk_content(q, NULL, NULL, error_r);
}

/*
 * qf_check_rcpt - is there an R or D record for address at offset, inside
 * the recipient segment?  Only the record's type byte changes after commit
 * (R to D), and either is accepted, so a window read earlier is still good.
 */
int qf_check_rcpt(struct qf *q, long offset, const char *address, const char **error_r)
{
	struct rec r;
	const char *why;
	int rc;

	if (offset < q->rcpt_offset || offset >= (long)q->size - QF_END_LEN)
		return set_err(q, error_r, QF_CORRUPT,
			       "recipient offset %ld is outside the recipient records", offset);
	if ((rc = rec_in_get(q->in, offset, &r, &why)) != 0)
		return rec_err(q, error_r, rc, why);
	if (r.type != 'R' && r.type != 'D')
		return set_err(q, error_r, QF_CORRUPT, "no recipient record at offset %ld", offset);
	if (r.len != strlen(address) || memcmp(r.data, address, r.len) != 0)
		return set_err(q, error_r, QF_CORRUPT,
			       "the recipient record at offset %ld names another address", offset);
	return 0;
}

/* qf_records_read - records decoded through q so far */
unsigned long qf_records_read(const struct qf *q)
{
	return rec_in_served(q->in);
}

/* ---- in-place updates ---- */

/* qf_mark_done - R becomes D, one byte */
int qf_mark_done(int fd, long offset)
{
	char c;
	ssize_t n;

	if (offset <= QF_WARN_OFFSET)
		return QF_CORRUPT;
	while ((n = pread(fd, &c, 1, offset)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	if (n == 0 || (c != 'R' && c != 'D'))
		return QF_CORRUPT;
	if (c == 'D')
		return 0;
	return pwrite_all(fd, "D", 1, offset);
}

/* qf_set_warn - rewrite the warn time */
int qf_set_warn(int fd, const struct qf_envelope *env, long value)
{
	long off = env && env->warn_offset > 0 ? env->warn_offset : QF_WARN_OFFSET;
	char hdr[2], num[QF_NUM_WIDTH + 1];
	ssize_t n;

	if (value > QF_NUM_MAX || value < QF_NUM_MIN) {
		errno = ERANGE;
		return -1;
	}
	while ((n = pread(fd, hdr, 2, off)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	if (n != 2 || hdr[0] != 'W' || hdr[1] != QF_NUM_WIDTH)
		return QF_CORRUPT;
	snprintf(num, sizeof(num), "%15ld", value);
	return pwrite_all(fd, num, QF_NUM_WIDTH, off + 2);
}

/* qf_mark_corrupt - mode 0400 */
int qf_mark_corrupt(int fd)
{
	return fchmod(fd, QF_MODE_CORRUPT);
}

/* qf_mode_ready - complete? */
bool qf_mode_ready(mode_t mode)
{
	return (mode & 0700) == QF_MODE_READY;
}

/* qf_lock - non-blocking flock */
int qf_lock(int fd, bool exclusive)
{
	int rc;

	while ((rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB)) < 0 && errno == EINTR)
		;
	return rc;
}
