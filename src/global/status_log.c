/*
 * status_log - per-message recipient status logs (bounce/, defer/, trace/).
 *
 * Contract: status_log.h and docs/QUEUE.md section 6.  A log is text:
 * records of "name=value" lines, each record ended by an empty line.
 * Values are escaped (backslash, LF, CR) so that any text without NUL
 * round-trips exactly and can never break the framing.  An append is one
 * write(2) under an exclusive flock followed by fsync; on any failure the
 * file is truncated back to its old length, so a failed append leaves the
 * log as it was.  A torn record left by a crash is skipped by readers and
 * cut off by the next append.
 *
 * It does not decide what goes in a log (agents, qmgr) or when a log is
 * turned into a notice (qmgr, bounce).
 *
 * DIAGNOSTICS: -1 with *error_r (static buffer, valid until the next call).
 */
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/queue_file.h"
#include "global/params.h"
#include "global/status_log.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define SL_READ_MAX	(1L << 30)	/* refuse logs larger than this */

static _Thread_local char sl_err[512];	/* per thread: the queue listing */

/* fail - format *error_r and return -1 */
static int fail(const char **error_r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sl_err, sizeof(sl_err), fmt, ap);
	va_end(ap);
	*error_r = sl_err;
	return -1;
}

/* put_field - append "name=escaped value\n" */
static void put_field(struct buf *b, const char *name, const char *value)
{
	buf_puts(b, name);
	buf_putc(b, '=');
	for (const char *p = value ? value : ""; *p; p++) {
		switch (*p) {
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		default:
			buf_putc(b, *p);
		}
	}
	buf_putc(b, '\n');
}

/* format_record - the text of one record */
static void format_record(struct buf *b, const struct rcpt_status *st)
{
	char num[400];		/* "%.6f" of any finite double (DBL_MAX: 316) */

	put_field(b, "recipient", st->recipient);
	put_field(b, "orig_rcpt", st->orig_rcpt);
	snprintf(num, sizeof(num), "%ld", st->offset);
	put_field(b, "offset", num);
	put_field(b, "dsn_orcpt", st->dsn_orcpt);
	snprintf(num, sizeof(num), "%d", st->notify);
	put_field(b, "notify", num);
	put_field(b, "status", st->dsn.status);
	put_field(b, "action", st->dsn.action);
	put_field(b, "reason", st->dsn.reason);
	put_field(b, "mta", st->dsn.mta);
	put_field(b, "diag_type", st->dsn.diag_type);
	put_field(b, "diag_text", st->dsn.diag_text);
	snprintf(num, sizeof(num), "%.6f", st->time);
	put_field(b, "time", num);
	buf_putc(b, '\n');
}

/* complete_end - length of the file up to its last complete record */
static int complete_end(int fd, off_t size, off_t *end_r)
{
	char chunk[4096];
	off_t pos = size;
	char next = 0, next2 = 0;	/* the bytes after chunk[i], scanning back */
	ssize_t n;

	/*
	 * A record ends with its last "name=value" line and an empty line: a
	 * byte other than LF, then LF LF.  Values are escaped, so that pattern
	 * occurs nowhere else, and what follows the last one is a torn record.
	 */
	while (pos > 0) {
		size_t want = pos > (off_t)sizeof(chunk) ? sizeof(chunk) : (size_t)pos;

		pos -= (off_t)want;
		if ((n = pread(fd, chunk, want, pos)) != (ssize_t)want)
			return -1;
		for (size_t i = want; i-- > 0;) {
			if (chunk[i] != '\n' && next == '\n' && next2 == '\n') {
				*end_r = pos + (off_t)i + 3;
				return 0;
			}
			next2 = next;
			next = chunk[i];
		}
	}
	*end_r = 0;
	return 0;
}

/* plain_file - fd is a regular file with one name (not a link to another file) */
static int plain_file(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * open_log - open (creating) a log for append
 *
 * The log folders belong to mail_owner, and agents that keep root (local,
 * pipe) write logs too: every step is taken on a folder descriptor without
 * following links (queue_folder_open), and an existing log must be a plain
 * file with a single name, so neither a link nor a hard link planted in a
 * log folder makes root write to a file elsewhere.
 */
static int open_log(const char *queue_dir, const char *log, const char *id,
		    bool *created_r)
{
	int dir_fd, fd = -1, saved;

	/*
	 * A process without root privileges gains nothing from a link that
	 * mail_owner planted: it opens an existing log by its path (the usual
	 * case, a log that is appended to or rewritten), which saves the walk.
	 */
	if (geteuid() != 0) {
		char *path = queue_path(queue_dir, log, id);

		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		free(path);
		if (fd >= 0) {
			*created_r = false;
			if (plain_file(fd) < 0) {
				saved = errno;
				close(fd);
				errno = saved;
				return -1;
			}
			return fd;
		}
		if (errno != ENOENT)
			return -1;
	}
	if ((dir_fd = queue_folder_open(queue_dir, log, id, true)) < 0)
		return -1;
	for (int tries = 0; tries < 5; tries++) {
		fd = openat(dir_fd, id,
			    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			/*
			 * An agent that keeps root (local, pipe) must not leave a log
			 * the queue manager and the bounce service cannot read.
			 */
			if (geteuid() == 0 && var_mail_owner && *var_mail_owner) {
				struct passwd *pw = getpwnam(var_mail_owner);

				if (pw && pw->pw_uid != 0 && fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
					msg_warn("fchown %s/%s: %s", log, id, strerror(errno));
			}
			*created_r = true;
			break;
		}
		if (errno != EEXIST)
			break;
		fd = openat(dir_fd, id, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd >= 0) {
			*created_r = false;
			if (plain_file(fd) < 0) {
				saved = errno;
				close(fd);
				fd = -1;
				errno = saved;
			}
			break;
		}
		if (errno != ENOENT)
			break;
		/* removed meanwhile: create it */
	}
	saved = errno;
	close(dir_fd);
	errno = saved;
	return fd;
}

/* check_record - the fields every record needs */
static int check_record(const struct rcpt_status *st, const char **error_r)
{
	if (st->recipient == NULL || *st->recipient == 0)
		return fail(error_r, "status record without a recipient");
	if (!dsn_status_valid(st->dsn.status))
		return fail(error_r, "bad status \"%.15s\" for %s", st->dsn.status, st->recipient);
	if (st->dsn.action == NULL || *st->dsn.action == 0)
		return fail(error_r, "status record without an action for %s", st->recipient);
	if (!isfinite(st->time))
		return fail(error_r, "bad time for %s", st->recipient);
	return 0;
}

/*
 * open_locked - open (creating) a log and lock it exclusively; the fd, or
 * -1 with *error_r.  If the log was removed while we waited for the lock
 * (bounce flushed it, or a failed first append undid itself), a record
 * written now would vanish with the old inode: open it again.
 */
static int open_locked(const char *queue_dir, const char *log, const char *id,
		       const char *path, struct stat *sb, bool *created_r, const char **error_r)
{
	int fd, rc;

	for (int tries = 0;; tries++) {
		if ((fd = open_log(queue_dir, log, id, created_r)) < 0)
			return fail(error_r, "open %s: %s", path, strerror(errno));
		while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
			;
		if (rc < 0) {
			fail(error_r, "lock %s: %s", path, strerror(errno));
			break;
		}
		if (fstat(fd, sb) < 0) {
			fail(error_r, "fstat %s: %s", path, strerror(errno));
			break;
		}
		if (sb->st_nlink > 0)
			return fd;
		close(fd);
		if (tries >= 10)
			return fail(error_r, "%s keeps disappearing", path);
	}
	/* A log we created and could not lock is removed: as it was, absent. */
	if (*created_r && fstat(fd, sb) == 0 && sb->st_size == 0)
		(void)unlink(path);
	close(fd);
	return -1;
}

/* status_log_append - one record, durably, or nothing */
int status_log_append(const char *queue_dir, const char *log, const char *id,
		      const struct rcpt_status *st, const char **error_r)
{
	char *path;
	struct buf rec;
	struct stat sb;
	off_t old, end;
	bool created = false;
	ssize_t n;
	int fd, rc = -1, err;

	*error_r = sl_err;
	if (check_record(st, error_r) < 0)
		return -1;

	path = queue_path(queue_dir, log, id);
	buf_init(&rec, 512);
	format_record(&rec, st);

	if ((fd = open_locked(queue_dir, log, id, path, &sb, &created, error_r)) < 0) {
		buf_deinit(&rec);
		free(path);
		return -1;
	}

	/* A torn record from a crash would swallow ours: cut it off first. */
	old = sb.st_size;
	if (old > 0) {
		if (complete_end(fd, old, &end) < 0) {
			fail(error_r, "read %s: %s", path, strerror(errno ? errno : EIO));
			goto out;
		}
		if (end != old && ftruncate(fd, end) < 0) {
			fail(error_r, "truncate torn record in %s: %s", path, strerror(errno));
			goto out;
		}
		old = end;
	}

	/* One write, then fsync; anything less is undone. */
	n = write(fd, rec.data, rec.len);
	if (n < 0)
		err = errno;
	else if ((size_t)n != rec.len)
		err = ENOSPC;	/* short write: file size limit or full disk */
	else if (fsync(fd) < 0)
		err = errno;
	else
		err = 0;
	if (err) {
		fail(error_r, "append to %s: %s", path, strerror(err));
		if (ftruncate(fd, old) < 0 || fsync(fd) < 0)
			fail(error_r, "append to %s: %s; and cannot undo it: %s", path,
			     strerror(err), strerror(errno));
		goto out;
	}
	if (created && fsync_parent(path) < 0) {
		err = errno;
		fail(error_r, "fsync folder of %s: %s", path, strerror(err));
		if (ftruncate(fd, 0) < 0)
			(void)unlink(path);
		goto out;
	}
	rc = 0;
out:
	/* A log we created and could not fill is removed: as it was, absent. */
	if (rc < 0 && created && fstat(fd, &sb) == 0 && sb.st_size == 0)
		(void)unlink(path);
	close(fd);
	buf_deinit(&rec);
	free(path);
	return rc;
}

/* same_but_time - do two log texts differ in nothing but their time lines? */
static bool same_but_time(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	/* Values are escaped, so every line is one "name=value". */
	while (i < alen && j < blen) {
		const char *ea = memchr(a + i, '\n', alen - i), *eb = memchr(b + j, '\n', blen - j);
		size_t la, lb;
		bool ta, tb;

		if (ea == NULL || eb == NULL)
			return false;
		la = (size_t)(ea - (a + i));
		lb = (size_t)(eb - (b + j));
		ta = la >= 5 && memcmp(a + i, "time=", 5) == 0;
		tb = lb >= 5 && memcmp(b + j, "time=", 5) == 0;
		if (ta != tb || (!ta && (la != lb || memcmp(a + i, b + j, la) != 0)))
			return false;
		i += la + 1;
		j += lb + 1;
	}
	return i == alen && j == blen;
}

/* status_log_rewrite - the log's whole content, written over the old one */
int status_log_rewrite(const char *queue_dir, const char *log, const char *id,
		       const struct rcpt_status *recs, size_t count, bool *unsynced_r,
		       const char **error_r)
{
	char *path, *old_text = NULL;
	struct buf text;
	struct stat sb;
	bool created = false, same = false;
	ssize_t n;
	int fd, rc = -1;

	*error_r = sl_err;
	if (count == 0)
		return fail(error_r, "no records to write");
	for (size_t i = 0; i < count; i++)
		if (check_record(&recs[i], error_r) < 0)
			return -1;
	path = queue_path(queue_dir, log, id);
	buf_init(&text, 512 * count);
	for (size_t i = 0; i < count; i++)
		format_record(&text, &recs[i]);
	if ((fd = open_locked(queue_dir, log, id, path, &sb, &created, error_r)) < 0) {
		buf_deinit(&text);
		free(path);
		return -1;
	}

	/*
	 * The usual case (a destination dead for hours) rewrites what the log
	 * already says with new times: then a lost write loses nothing but
	 * the times, and no sync is needed.
	 */
	/* Linux's pwrite() appends on an O_APPEND descriptor, whatever the offset. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_APPEND) < 0) {
		fail(error_r, "fcntl %s: %s", path, strerror(errno));
		goto out;
	}
	if (sb.st_size > 0 && (size_t)sb.st_size == text.len) {
		old_text = xmalloc(text.len);
		if (pread(fd, old_text, text.len, 0) == (ssize_t)text.len)
			same = same_but_time(old_text, text.len, text.data, text.len);
	}
	if ((n = pwrite(fd, text.data, text.len, 0)) != (ssize_t)text.len) {
		fail(error_r, "write %s: %s", path, n < 0 ? strerror(errno) : "short write");
		goto out;
	}
	if ((off_t)text.len < sb.st_size && ftruncate(fd, (off_t)text.len) < 0) {
		fail(error_r, "truncate %s: %s", path, strerror(errno));
		goto out;
	}
	if (!same && unsynced_r) {
		*unsynced_r = true;
	} else if (!same && fsync(fd) < 0) {
		fail(error_r, "fsync %s: %s", path, strerror(errno));
		goto out;
	}
	if (created && !unsynced_r && fsync_parent(path) < 0) {
		fail(error_r, "fsync folder of %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	free(old_text);
	buf_deinit(&text);
	free(path);
	return rc;
}

/* read_all - the whole file under a shared lock */
static int read_all(int fd, struct buf *b, const char *path, const char **error_r)
{
	char chunk[8192];
	ssize_t n;

	while (flock(fd, LOCK_SH) < 0)
		if (errno != EINTR)
			return fail(error_r, "lock %s: %s", path, strerror(errno));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(error_r, "read %s: %s", path, strerror(errno));
		if (n == 0)
			return 0;
		if ((long)(b->len + (size_t)n) > SL_READ_MAX)
			return fail(error_r, "%s: larger than %ld bytes", path, SL_READ_MAX);
		buf_append(b, chunk, (size_t)n);
		/*
		 * A short read of a regular file is its end, and nobody can
		 * append while we hold the shared lock (appends and rewrites
		 * take it exclusively): no second read to see the end.
		 */
		if ((size_t)n < sizeof(chunk))
			return 0;
	}
}

/* unescape - decode a value; NULL if malformed.  Caller frees. */
static char *unescape(const char *p, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == 0)
			goto bad;
		if (p[i] != '\\') {
			*o++ = p[i];
			continue;
		}
		if (++i == len)
			goto bad;
		switch (p[i]) {
		case '\\':
			*o++ = '\\';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		default:
			goto bad;
		}
	}
	*o = 0;
	return out;
bad:
	free(out);
	return NULL;
}

/* Field names, in the order written; the bit says which were seen. */
enum {
	SLF_RECIPIENT, SLF_ORIG_RCPT, SLF_OFFSET, SLF_DSN_ORCPT, SLF_NOTIFY, SLF_STATUS, SLF_ACTION,
	SLF_REASON, SLF_MTA, SLF_DIAG_TYPE, SLF_DIAG_TEXT, SLF_TIME, SLF_COUNT
};
static const char *const field_names[SLF_COUNT] = {
	"recipient", "orig_rcpt", "offset", "dsn_orcpt", "notify", "status", "action",
	"reason", "mta", "diag_type", "diag_text", "time",
};
#define SLF_REQUIRED ((1 << SLF_RECIPIENT) | (1 << SLF_OFFSET) | (1 << SLF_STATUS) \
		    | (1 << SLF_ACTION) | (1 << SLF_TIME))

/* rec_free_strings - release one record's strings */
static void rec_free_strings(struct rcpt_status_rec *r)
{
	free(r->recipient);
	free(r->orig_rcpt);
	free(r->dsn_orcpt);
	free(r->action);
	free(r->reason);
	free(r->mta);
	free(r->diag_type);
	free(r->diag_text);
	memset(r, 0, sizeof(*r));
}

/* string_slot - where a string field is stored, or NULL for other fields */
static char **string_slot(struct rcpt_status_rec *r, int f)
{
	switch (f) {
	case SLF_RECIPIENT: return &r->recipient;
	case SLF_ORIG_RCPT: return &r->orig_rcpt;
	case SLF_DSN_ORCPT: return &r->dsn_orcpt;
	case SLF_ACTION: return &r->action;
	case SLF_REASON: return &r->reason;
	case SLF_MTA: return &r->mta;
	case SLF_DIAG_TYPE: return &r->diag_type;
	case SLF_DIAG_TEXT: return &r->diag_text;
	}
	return NULL;
}

/* set_field - store one decoded field; -1 if its value is bad */
static int set_field(struct rcpt_status_rec *r, int f, char *value)
{
	char **slot = string_slot(r, f);
	char *end;
	long v;

	if (slot) {
		*slot = value;
		return 0;
	}
	switch (f) {
	case SLF_OFFSET:
		if (str_to_long(value, 0, 0x7fffffffffffffffL, &v) < 0)
			goto bad;
		r->offset = v;
		break;
	case SLF_NOTIFY:
		if (str_to_long(value, 0, 15, &v) < 0)
			goto bad;
		r->notify = (int)v;
		break;
	case SLF_STATUS:
		if (strlen(value) >= sizeof(r->status) || !dsn_status_valid(value))
			goto bad;
		strcpy(r->status, value);
		break;
	case SLF_TIME:
		errno = 0;
		r->time = strtod(value, &end);
		if (end == value || *end || errno || !isfinite(r->time))
			goto bad;
		break;
	}
	free(value);
	return 0;
bad:
	free(value);
	return -1;
}

/* parse_record - one complete record in text[0..len); 0 or -1 */
static int parse_record(const char *text, size_t len, struct rcpt_status_rec *r)
{
	const char *line = text, *end = text + len, *nl, *eq;
	unsigned seen = 0;
	char *value;
	int f;

	memset(r, 0, sizeof(*r));
	for (; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			goto bad;
		if ((eq = memchr(line, '=', (size_t)(nl - line))) == NULL || eq == line)
			goto bad;
		for (f = 0; f < SLF_COUNT; f++)
			if (strlen(field_names[f]) == (size_t)(eq - line)
			    && memcmp(field_names[f], line, (size_t)(eq - line)) == 0)
				break;
		if (f == SLF_COUNT)
			continue;	/* a newer field: skip */
		if ((seen & (1u << f)) || (value = unescape(eq + 1, (size_t)(nl - eq - 1))) == NULL
		    || set_field(r, f, value) < 0)
			goto bad;
		seen |= 1u << f;
	}
	if ((seen & SLF_REQUIRED) != SLF_REQUIRED || *r->recipient == 0)
		goto bad;
	for (f = 0; f < SLF_COUNT; f++) {
		char **slot = string_slot(r, f);

		if (slot && *slot == NULL)
			*slot = xstrdup("");
	}
	return 0;
bad:
	rec_free_strings(r);
	return -1;
}

/* status_log_read - every complete record */
long status_log_read(const char *queue_dir, const char *log, const char *id,
		     struct rcpt_status_rec **recs_r, const char **error_r)
{
	char *path = queue_path(queue_dir, log, id);
	long count = status_log_read_at(AT_FDCWD, path, recs_r, error_r);

	free(path);
	return count;
}

/* parse_text - the records of a log's text; count, or -1 (*error_r) */
static long parse_text(const char *data, size_t len, const char *name,
		       struct rcpt_status_rec **recs_r, bool *torn_r, const char **error_r)
{
	struct rcpt_status_rec *recs = NULL;
	size_t pos = 0, start;
	long count = 0;

	*recs_r = NULL;
	*torn_r = false;
	/*
	 * A record is the lines up to an empty line.  What is left at the end
	 * without its empty line is a torn append: skipped.
	 */
	while (pos < len) {
		const char *sep;

		start = pos;
		if (data[start] == '\n') {
			fail(error_r, "%s: empty record at byte %zu", name, start);
			goto bad;
		}
		if ((sep = memmem(data + start, len - start, "\n\n", 2)) == NULL) {
			*torn_r = true;
			break;
		}
		pos = (size_t)(sep - data) + 2;
		recs = xreallocarray(recs, (size_t)count + 1, sizeof(*recs));
		if (parse_record(data + start, pos - 1 - start, &recs[count]) < 0) {
			fail(error_r, "%s: malformed record at byte %zu", name, start);
			goto bad;
		}
		count++;
	}
	*recs_r = recs;
	return count;
bad:
	status_log_free(&recs, count);
	return -1;
}

/* status_log_parse - the records of a log read without its lock */
long status_log_parse(const char *data, size_t len, const char *name,
		      struct rcpt_status_rec **recs_r, const char **error_r)
{
	bool torn;
	long count;

	*error_r = sl_err;
	count = parse_text(data, len, name, recs_r, &torn, error_r);
	if (count >= 0 && torn) {
		/* Caught in the middle of a write: not to be trusted. */
		status_log_free(recs_r, count);
		fail(error_r, "%s: incomplete record at its end", name);
		return -1;
	}
	return count;
}

/* status_log_read_at - every complete record of dirfd/path */
long status_log_read_at(int dirfd, const char *path, struct rcpt_status_rec **recs_r,
			const char **error_r)
{
	struct buf text;
	bool torn;
	long count;
	int fd;

	*recs_r = NULL;
	*error_r = sl_err;
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return 0;
		fail(error_r, "open %s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&text, 4096);
	if (read_all(fd, &text, path, error_r) < 0)
		count = -1;
	else
		count = parse_text(text.data, text.len, path, recs_r, &torn, error_r);
	close(fd);
	buf_deinit(&text);
	return count;
}

/* status_log_format - the text of one record */
void status_log_format(struct buf *out, const struct rcpt_status *st)
{
	format_record(out, st);
}

/* status_log_free - release what status_log_read returned */
void status_log_free(struct rcpt_status_rec **recs, long count)
{
	if (*recs == NULL)
		return;
	for (long i = 0; i < count; i++)
		rec_free_strings(&(*recs)[i]);
	free(*recs);
	*recs = NULL;
}

/* status_log_remove - delete a log (the CLI does this as root: no links) */
int status_log_remove(const char *queue_dir, const char *log, const char *id)
{
	int dir_fd, rc, saved;

	if ((dir_fd = queue_folder_open(queue_dir, log, id, false)) < 0)
		return errno == ENOENT ? 0 : -1;
	if ((rc = unlinkat(dir_fd, id, 0)) < 0 && errno == ENOENT)
		rc = 0;
	saved = errno;
	close(dir_fd);
	errno = saved;
	return rc;
}

/* status_log_exists - 1 if a non-empty log exists, 0 if not, -1 on error */
int status_log_exists(const char *queue_dir, const char *log, const char *id)
{
	char *path = queue_path(queue_dir, log, id);
	struct stat st;
	int rc;

	if (stat(path, &st) < 0)
		rc = errno == ENOENT ? 0 : -1;
	else
		rc = S_ISREG(st.st_mode) && st.st_size > 0;
	free(path);
	return rc;
}
