/*
 * queue_list - queue folder scanning and the queue listing (contract in
 * queue_list.h).
 *
 * Cost.  In deferred/ each message's defer log is opened by its ID (no
 * scan of defer/; "no such file" is no log); a bigger other folder reads
 * defer/ once instead (log_locate).  Per message the work is a statx and
 * one open of the queue file (its envelope and recipients come from the
 * first read when the file is small), one of its defer log, and formatting
 * linear in its recipients (plus a sort of its defer log).
 * Messages are read by up to LIST_THREADS_MAX threads (no more than the
 * CPUs) in batches of LIST_BATCH, each message formatted into its own
 * buffer; the calling thread writes the buffers out in queue order, so the
 * output is the same as one thread would make.  A message with more than
 * LIST_SMALL_RCPTS recipients is left to the writing thread, which lists
 * it straight into the output in OUT_FLUSH pieces: memory stays at one
 * batch of small messages plus the sorted names of one folder.
 *
 * Diagnostics: a damaged file is skipped with "QUEUE/ID: ...; skipped" as
 * a warning (on stderr for the command); an unreadable folder ends the
 * listing with an error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "global/addr.h"
#include "global/queue_file.h"
#include "global/queue_list.h"
#include "global/status_log.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define HASH_DEPTH_LIMIT	4	/* deepest hash folder level we descend into */
#define RCPT_BATCH		256	/* recipients read per qf_read_rcpts() */
#define OUT_FLUSH		65536	/* write the listing out in chunks this big */

/* postqueue's long-queue-ID columns. */
#define L_HEAD_FMT	"%-17s %8s %-19s %s\n"
#define L_RCPT_INDENT	47	/* 17 + 1 + 8 + 1 + 19 + 1 */
#define REASON_COLUMN	76	/* "(reason)" ends at column 78 */

/* The folders that hold messages. */
static const char *const queue_names[] = {
	"maildrop", "incoming", "active", "deferred", "hold", "corrupt", NULL
};

/* The listing order (Postfix showq). */
static const char *const listing_order[] = {
	"maildrop", "active", "incoming", "deferred", "hold", NULL
};

static _Thread_local char scan_err[512];	/* per thread: defer/ is scanned beside */

/* queue_list_name_valid - one of the message folders? */
bool queue_list_name_valid(const char *name)
{
	for (const char *const *n = queue_names; *n; n++)
		if (strcmp(*n, name) == 0)
			return true;
	return false;
}

/* ---- folder scanning ---- */

struct scan_list {
	struct queue_list_entry *v;
	long count;
	long cap;
};

/* is_dir - does this directory entry name a folder? */
static bool is_dir(const char *path, const struct dirent *d)
{
	struct stat st;

	if (d->d_type == DT_DIR)
		return true;
	if (d->d_type != DT_UNKNOWN)
		return false;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* join_path - "dir/name" (caller frees); no printf: once per file */
static char *join_path(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p = xmalloc(dl + nl + 2);

	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	return p;
}

/*
 * scan_folder - collect IDs in dir, descending into hash folders; with
 * subs, the hash folders of dir itself are put there instead, for the
 * caller to read (in parallel).
 */
static int scan_folder(const char *dir, int depth, struct scan_list *l, struct argv *subs)
{
	size_t dir_len = strlen(dir);
	struct dirent *d;
	DIR *dp;
	char *path;

	if ((dp = opendir(dir)) == NULL) {
		if (errno == ENOENT && depth > 0)
			return 0;	/* a hash folder removed under us */
		if (errno == ENOENT)
			return 0;	/* no such queue yet: empty */
		snprintf(scan_err, sizeof(scan_err), "open folder %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((errno = 0, d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (d->d_name[1] == 0) {
			/* A one-character name can only be a hash folder. */
			if (depth >= HASH_DEPTH_LIMIT)
				continue;
			path = xasprintf("%s/%s", dir, d->d_name);
			if (subs != NULL && is_dir(path, d)) {
				argv_add(subs, path, (char *)NULL);
			} else if (is_dir(path, d) && scan_folder(path, depth + 1, l, NULL) < 0) {
				free(path);
				closedir(dp);
				return -1;
			}
			free(path);
			continue;
		}
		if (!queue_id_valid(d->d_name))
			continue;	/* tmp.* files being written, strays */
		if (l->count == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 256;
			l->v = xreallocarray(l->v, (size_t)l->cap, sizeof(*l->v));
		}
		/* One allocation: the ID is the end of the path. */
		l->v[l->count].path = join_path(dir, d->d_name);
		l->v[l->count].id = l->v[l->count].path + dir_len + 1;
		l->count++;
	}
	if (errno != 0) {
		snprintf(scan_err, sizeof(scan_err), "read folder %s: %s", dir, strerror(errno));
		closedir(dp);
		return -1;
	}
	closedir(dp);
	return 0;
}

/* entry_cmp - order entries by queue ID */
static int entry_cmp(const void *a, const void *b)
{
	const struct queue_list_entry *x = a, *y = b;
	int rc = strcmp(x->id, y->id);

	return rc ? rc : strcmp(x->path, y->path);
}

/* One reader of the hash folders of a queue: every step-th from start. */
struct scan_part {
	struct argv *subs;
	size_t start, step;
	struct scan_list l;
	int rc;
	char err[sizeof(scan_err)];	/* its scan_err (thread-local) */
};

/* scan_part_run - read and sort one part's folders */
static void *scan_part_run(void *arg)
{
	struct scan_part *p = arg;

	p->rc = 0;
	for (size_t i = p->start; i < p->subs->argc && p->rc == 0; i += p->step)
		p->rc = scan_folder(p->subs->argv[i], 1, &p->l, NULL);
	if (p->rc < 0)
		snprintf(p->err, sizeof(p->err), "%s", scan_err);
	else if (p->l.count > 1)
		qsort(p->l.v, (size_t)p->l.count, sizeof(*p->l.v), entry_cmp);
	return NULL;
}

/* scan_merge - the two sorted lists as one (a and b are emptied) */
static struct scan_list scan_merge(struct scan_list *a, struct scan_list *b)
{
	struct scan_list m = {NULL, 0, a->count + b->count};
	long i = 0, j = 0;

	m.v = xreallocarray(NULL, (size_t)m.cap + 1, sizeof(*m.v));
	while (i < a->count || j < b->count) {
		if (j == b->count || (i < a->count && entry_cmp(&a->v[i], &b->v[j]) <= 0))
			m.v[m.count++] = a->v[i++];
		else
			m.v[m.count++] = b->v[j++];
	}
	free(a->v);
	free(b->v);
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	return m;
}

/*
 * queue_list_scan - the IDs in one queue folder, sorted.  The hash
 * folders of a hashed queue are read and sorted in two halves, one in a
 * thread when there is a second CPU, and the halves merged.
 */
long queue_list_scan(const char *queue_dir, const char *queue_name,
		    struct queue_list_entry **entries_r, const char **error_r)
{
	struct scan_list l = {NULL, 0, 0};
	struct scan_part parts[2];
	struct argv *subs = argv_create();
	char *top = xasprintf("%s/%s", queue_dir, queue_name);
	int rc = scan_folder(top, 0, &l, subs);
	pthread_t tid;
	bool thread = false;

	free(top);
	*entries_r = NULL;
	if (rc == 0 && subs->argc > 0) {
		memset(parts, 0, sizeof(parts));
		for (size_t i = 0; i < 2; i++) {
			parts[i].subs = subs;
			parts[i].start = i;
			parts[i].step = 2;
		}
		/* The files at the top (a queue hashed since) go with part 0. */
		parts[0].l = l;
		memset(&l, 0, sizeof(l));
		thread = subs->argc > 1 && sysconf(_SC_NPROCESSORS_ONLN) > 1
			&& pthread_create(&tid, NULL, scan_part_run, &parts[1]) == 0;
		scan_part_run(&parts[0]);
		if (thread)
			pthread_join(tid, NULL);
		else
			scan_part_run(&parts[1]);
		for (size_t i = 0; i < 2 && rc == 0; i++) {
			if ((rc = parts[i].rc) < 0)
				snprintf(scan_err, sizeof(scan_err), "%s", parts[i].err);
		}
		l = scan_merge(&parts[0].l, &parts[1].l);
	} else if (rc == 0 && l.count > 1) {
		qsort(l.v, (size_t)l.count, sizeof(*l.v), entry_cmp);
	}
	argv_free(&subs);
	if (rc < 0) {
		queue_list_scan_free(&l.v, l.count);
		*error_r = scan_err;
		return -1;
	}
	*entries_r = l.v;
	return l.count;
}

/* queue_list_scan_free - release a scan result */
void queue_list_scan_free(struct queue_list_entry **entries, long count)
{
	if (*entries == NULL)
		return;
	for (long i = 0; i < count; i++)
		free((*entries)[i].path);	/* the ID is in it */
	free(*entries);
	*entries = NULL;
}

/* ---- text helpers ---- */

/* utf8_len - length of a valid UTF-8 sequence at p (1..4), 0 if invalid */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range excludes overlongs, surrogates, > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* plain_run - how many bytes at p need no care: printable ASCII but stop */
static size_t plain_run(const unsigned char *p, unsigned char stop1, unsigned char stop2)
{
	size_t n = 0;

	while (p[n] >= 0x20 && p[n] < 0x7f && p[n] != stop1 && p[n] != stop2)
		n++;
	return n;
}

/* queue_list_printable - controls and invalid UTF-8 become '?' */
void queue_list_printable(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		/* Plain ASCII in one piece (nearly everything). */
		if ((n = plain_run(p, 0, 0)) > 0) {
			buf_append(out, p, n);
			p += n;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f || (n = utf8_len(p)) == 0) {
			buf_putc(out, '?');
			p++;
		} else {
			buf_append(out, p, n);
			p += n;
		}
	}
}

/* What JSON writes for the bytes below 0x20 that have a short form. */
static const char *const json_short[0x20] = {
	['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
};

/* queue_list_json_quote - the inside of a JSON string */
void queue_list_json_quote(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	char u[6] = {'\\', 'u', '0', '0'};
	size_t n;

	while (*p) {
		if ((n = plain_run(p, '"', '\\')) > 0) {
			buf_append(out, p, n);
			p += n;
		} else if (*p == '"' || *p == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, *p++);
		} else if (*p < 0x20 && json_short[*p] != NULL) {
			buf_append(out, json_short[*p++], 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			u[4] = hex[*p >> 4];
			u[5] = hex[*p++ & 15];
			buf_append(out, u, sizeof(u));
		} else if ((n = utf8_len(p)) == 0) {
			buf_putc(out, '?');
			p++;
		} else {
			buf_append(out, p, n);
			p += n;
		}
	}
}

/* put_addr - append an address as the listing shows it */
static void put_addr(struct queue_listing *l, struct buf *out, const char *addr)
{
	const char *at;
	char *quoted;

	if (*addr == 0) {
		queue_list_printable(out, l->empty_addr);
		return;
	}
	/* Most addresses need no quotes: no copy then. */
	at = strrchr(addr, '@');
	if (addr_dot_string_ok(addr, at ? (size_t)(at - addr) : strlen(addr))) {
		queue_list_printable(out, addr);
		return;
	}
	quoted = addr_quote(addr);
	queue_list_printable(out, quoted);
	free(quoted);
}

/* put_json_addr - the same as the inside of a JSON string */
static void put_json_addr(struct queue_listing *l, struct buf *out, const char *addr)
{
	buf_reset(l->tmp);
	put_addr(l, l->tmp, addr);
	queue_list_json_quote(out, buf_str(l->tmp));
}

/* put_padded - s, then spaces up to width (left-aligned), or right-aligned */
static void put_padded(struct buf *out, const char *s, size_t len, size_t width, bool right)
{
	static const char spaces[] = "                                                  "
		"                              ";
	size_t pad = len < width ? width - len : 0;

	if (!right)
		buf_append(out, s, len);
	while (pad > 0) {
		size_t n = pad < sizeof(spaces) - 1 ? pad : sizeof(spaces) - 1;

		buf_append(out, spaces, n);
		pad -= n;
	}
	if (right)
		buf_append(out, s, len);
}

/* put_long - a decimal number */
static void put_long(struct buf *out, long v, size_t width)
{
	char digits[24], *p = digits + sizeof(digits);
	unsigned long u = v < 0 ? 0 - (unsigned long)v : (unsigned long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	put_padded(out, p, (size_t)(digits + sizeof(digits) - p), width, true);
}

/* ---- the formatter ---- */

/* queue_listing_init - start a listing */
void queue_listing_init(struct queue_listing *l, bool json, const char *empty_addr)
{
	memset(l, 0, sizeof(*l));
	l->json = json;
	l->empty_addr = empty_addr && *empty_addr ? empty_addr : "MAILER-DAEMON";
	l->reason = buf_create(128);
	l->tmp = buf_create(128);
	l->when_time = -1;
}

/* queue_listing_deinit - release buffers */
void queue_listing_deinit(struct queue_listing *l)
{
	buf_free(&l->reason);
	buf_free(&l->tmp);
}

/* queue_listing_separator - the heading before the first message, else a blank line */
void queue_listing_separator(struct queue_listing *l, struct buf *out)
{
	if (l->json)
		return;
	if (l->count == 0)
		buf_printf(out, L_HEAD_FMT, "----Queue ID-----", "--Size--",
			   "---Arrival Time----", "--Sender/Recipient------");
	else
		buf_putc(out, '\n');
}

/*
 * arrival - asctime()'s "Sat Nov 28 10:00:00" without the year, 19
 * characters (or "??"), remembered for the last second asked: the
 * messages of a queue made in a burst share it, and localtime_r is dear.
 */
static const char *arrival(struct queue_listing *l, long when)
{
	time_t t = (time_t)when;
	struct tm tm;
	char text[32];

	if (when != l->when_time || l->when_time < 0) {
		if (localtime_r(&t, &tm) == NULL || asctime_r(&tm, text) == NULL)
			snprintf(l->when, sizeof(l->when), "??");
		else
			snprintf(l->when, sizeof(l->when), "%.19s", text);
		l->when_time = when;
	}
	return l->when;
}

/* queue_listing_msg_begin - heading, separator, first line */
void queue_listing_msg_begin(struct queue_listing *l, struct buf *out,
			 const struct queue_list_msg *m)
{
	const char *when, *mark;
	size_t id_len;

	l->rcpt_count = 0;
	buf_reset(l->reason);
	if (l->json) {
		buf_puts(out, "{\"queue_name\": \"");
		queue_list_json_quote(out, m->queue_name);
		buf_puts(out, "\", \"queue_id\": \"");
		queue_list_json_quote(out, m->queue_id);
		buf_puts(out, "\", \"arrival_time\": ");
		put_long(out, m->arrival_time, 0);
		buf_puts(out, ", \"message_size\": ");
		put_long(out, m->message_size, 0);
		buf_puts(out, m->forced_expire ? ", \"forced_expire\": true, \"sender\": \""
			 : ", \"forced_expire\": false, \"sender\": \"");
		put_json_addr(l, out, m->sender);
		buf_puts(out, "\", \"recipients\": [");
		return;
	}
	if (!l->fragment)
		queue_listing_separator(l, out);
	/* "%-17s %8ld %19s %s\n": ID with its marks, size, arrival, sender. */
	id_len = strlen(m->queue_id);
	buf_append(out, m->queue_id, id_len);
	mark = strcmp(m->queue_name, "active") == 0 ? "*"
		: strcmp(m->queue_name, "hold") == 0 ? "!" : "";
	buf_puts(out, mark);
	if (m->forced_expire)
		buf_putc(out, '#');
	id_len += strlen(mark) + m->forced_expire;
	put_padded(out, "", 0, id_len < 17 ? 17 - id_len : 0, false);
	buf_putc(out, ' ');
	put_long(out, m->message_size, 8);
	buf_putc(out, ' ');
	when = arrival(l, m->arrival_time);
	put_padded(out, when, strlen(when), 19, true);
	buf_putc(out, ' ');
	put_addr(l, out, m->sender);
	buf_putc(out, '\n');
}

/* queue_listing_msg_rcpt - one pending recipient */
void queue_listing_msg_rcpt(struct queue_listing *l, struct buf *out,
			const char *address, const char *reason)
{
	size_t len;

	if (reason == NULL)
		reason = "";
	if (l->json) {
		buf_puts(out, l->rcpt_count ? ", {\"address\": \"" : "{\"address\": \"");
		put_json_addr(l, out, address);
		buf_putc(out, '"');
		if (*reason) {
			buf_puts(out, ", \"delay_reason\": \"");
			queue_list_json_quote(out, reason);
			buf_putc(out, '"');
		}
		buf_putc(out, '}');
		l->rcpt_count++;
		return;
	}

	/*
	 * A reason line once per run of recipients with the same reason, and
	 * "(reason unavailable)" when a recipient without one follows one with
	 * one (the defer log may be incomplete after a stop), as postqueue.
	 */
	if (strcmp(buf_str(l->reason), reason) != 0) {
		buf_set(l->reason, reason);
		buf_reset(l->tmp);
		queue_list_printable(l->tmp, *reason ? reason : "reason unavailable");
		/* "(reason)" right-aligned to end at column 78. */
		len = l->tmp->len;
		put_padded(out, "", 0, len < REASON_COLUMN ? REASON_COLUMN - len : 0, false);
		buf_putc(out, '(');
		buf_append(out, l->tmp->data, len);
		buf_puts(out, ")\n");
	}
	put_padded(out, "", 0, L_RCPT_INDENT, false);
	put_addr(l, out, address);
	buf_putc(out, '\n');
	l->rcpt_count++;
}

/* queue_listing_msg_end - close the message, count it */
void queue_listing_msg_end(struct queue_listing *l, struct buf *out,
		       const struct queue_list_msg *m)
{
	if (l->json)
		buf_puts(out, "]}\n");
	l->count++;
	if (m->message_size > 0)
		l->total_size += (unsigned long long)m->message_size;
}

/* queue_listing_end - the footer */
void queue_listing_end(struct queue_listing *l, struct buf *out)
{
	if (l->json)
		return;
	if (l->count == 0)
		buf_puts(out, "Mail queue is empty\n");
	else
		buf_printf(out, "\n-- %llu Kbytes in %lu Request%s.\n", l->total_size / 1024,
			   l->count, l->count == 1 ? "" : "s");
}

/* ---- reading the queue ---- */

#define LIST_THREADS_MAX	4	/* readers at most (and at most the CPUs) */
#define LIST_BATCH		1024	/* messages read between two writes */
#define LIST_SMALL_RCPTS	64	/* bigger messages are streamed by the writer */

/* Warnings from reader threads go out one at a time. */
static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;

#define warn_locked(...) do { \
	pthread_mutex_lock(&warn_lock); \
	msg_warn(__VA_ARGS__); \
	pthread_mutex_unlock(&warn_lock); \
} while (0)

struct queue_list_io_stats queue_list_io_stats;

#define count_io(field) __atomic_fetch_add(&queue_list_io_stats.field, 1, __ATOMIC_RELAXED)

/* What the readers share: read-only while a batch runs. */
struct list_ctx {
	const char *queue_dir;
	const char *queue;		/* the folder being listed */
	bool json;
	const char *empty_addr;
	bool logs_scanned;		/* defer/ was read: logs, log_count, log_dirfd */
	struct queue_list_entry *logs;	/* IDs with a defer log, sorted */
	long log_count;
	int *log_dirfd;			/* each log's folder, or -1 */
	struct htable *dirs;		/* folder path -> fd + 2 (writer only) */
	long dir_count;
	struct htable *log_dirs;	/* the same for defer/ (writer only) */
	long log_dir_count;
	long *log_misses;		/* logs opened by name that were not there (atomic) */
};

/* One message of a batch: its text, made by whichever reader took it. */
struct list_job {
	const struct queue_list_entry *e;
	int dirfd;			/* its folder, or -1: use the path */
	int log_dirfd;			/* its defer log's folder (or AT_FDCWD) */
	const char *log_name;		/* the log's name there; NULL: it has none */
	char *log_owned;		/* log_name when it had to be made */
	struct buf *out;		/* the message's lines, no separator */
	long size;			/* content size, for the footer */
	bool listed;			/* false: skipped */
	bool big;			/* too many recipients to buffer: the writer lists it */
};

struct list_batch {
	const struct list_ctx *c;
	struct list_job *jobs;
	long count;
	long next;			/* next job to take (atomic) */
};

/* find_defer_log - the index of id's log in the scan of defer/, or -1 */
static long find_defer_log(const struct list_ctx *c, const char *id)
{
	long lo = 0, hi = c->log_count;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		int rc = strcmp(c->logs[mid].id, id);

		if (rc == 0)
			return mid;
		if (rc < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * folder_fd - a descriptor of the folder that holds path (a scanned
 * entry), so that files are opened by their name alone: the kernel then
 * looks up one name instead of the whole path, twice per message.  At
 * most DIRS_MAX folders (a deep hash has more); -1 means use the path.
 */
#define DIRS_MAX	512
static int dir_fd(struct htable *dirs, long *dir_count, const char *dir)
{
	void *v;
	int fd;

	/* Stored as fd + 2, so that a folder that cannot be opened (-1) is remembered too. */
	if ((v = htable_find(dirs, dir)) != NULL)
		return (int)(intptr_t)v - 2;
	if (*dir_count >= DIRS_MAX)
		return -1;
	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	htable_enter(dirs, dir, (void *)(intptr_t)(fd + 2));
	(*dir_count)++;
	return fd;
}

/* folder_fd - dir_fd of the folder that holds path */
static int folder_fd(struct htable *dirs, long *dir_count, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return -1;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	return dir_fd(dirs, dir_count, dir);
}

/* close_folder - htable_free callback */
static void close_folder(void *v)
{
	int fd = (int)(intptr_t)v - 2;

	if (fd >= 0)
		close(fd);
}

/* The defer log of one message, indexed by recipient offset. */
struct reasons {
	struct rcpt_status_rec *recs;
	long count;
	long *by_offset;	/* record indexes sorted by (offset, index) */
	char **address;		/* per record: the pending recipient it names, or NULL */
};

/* reason_cmp - qsort_r by offset, then log order */
static int reason_cmp(const void *a, const void *b, void *ctx)
{
	const struct rcpt_status_rec *recs = ctx;
	long x = *(const long *)a, y = *(const long *)b;

	if (recs[x].offset != recs[y].offset)
		return recs[x].offset < recs[y].offset ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* reasons_index - sort the records read into r by offset */
static void reasons_index(struct reasons *r)
{
	if (r->count == 0)
		return;
	r->by_offset = xcalloc((size_t)r->count, sizeof(long));
	r->address = xcalloc((size_t)r->count, sizeof(char *));
	for (long i = 0; i < r->count; i++)
		r->by_offset[i] = i;
	qsort_r(r->by_offset, (size_t)r->count, sizeof(long), reason_cmp, r->recs);
}

/* reasons_load - read (under its lock) and index job j's defer log; 0 or -1 (warned) */
static int reasons_load(const struct list_ctx *c, const struct list_job *j, struct reasons *r)
{
	const char *error;

	memset(r, 0, sizeof(*r));
	if (j->log_name == NULL)
		return 0;
	r->count = status_log_read_at(j->log_dirfd, j->log_name, &r->recs, &error);
	/* A log that is not there ("no such file": none) was not read. */
	if (r->count != 0)
		count_io(log_old_way);
	else
		__atomic_fetch_add(c->log_misses, 1, __ATOMIC_RELAXED);
	if (r->count < 0) {
		warn_locked("%s: defer log: %s; reasons not shown", j->e->id, error);
		r->count = 0;
		return -1;
	}
	reasons_index(r);
	return 0;
}

/* reasons_claim - note a pending recipient; true if the log has a reason for it */
static bool reasons_claim(struct reasons *r, long offset, const char *address)
{
	long lo = 0, hi = r->count, j;

	/* The last record for this offset: the upper bound, minus one. */
	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;

		if (r->recs[r->by_offset[mid]].offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || r->recs[j = r->by_offset[lo - 1]].offset != offset)
		return false;
	if (r->address[j] == NULL)
		r->address[j] = xstrdup(address);
	return true;
}

/* reasons_free - release the index */
static void reasons_free(struct reasons *r)
{
	for (long i = 0; r->address && i < r->count; i++)
		free(r->address[i]);
	free(r->address);
	free(r->by_offset);
	status_log_free(&r->recs, r->count);
	memset(r, 0, sizeof(*r));
}

/* ---- fetching files with io_uring ---- */

/*
 * A reader thread fetches IO_CHUNK messages with one io_uring submission:
 * per message a statx of the queue file (its mode says complete, expired;
 * io_uring has no fstat), then open, read and close of the queue file and
 * of its defer log, each open into a slot of the ring's file table (no
 * descriptor; the read and close are linked to it).  The defer log is read
 * without its lock (io_uring has no flock): a text that does not end with
 * a complete record, or does not parse, is read again the old way, under
 * the lock.  Anything unusual - a file bigger than its buffer, changed
 * between statx and read, any error but ENOENT, no ring at all (an old
 * kernel, io_uring disabled) - goes the old way too (qf_openat and
 * status_log_read_at, one file at a time), which also words the warning.
 */
#define IO_CHUNK	32		/* messages per submission */
#define IO_QF_MAX	65536		/* bigger queue files are read the old way */
#define IO_LOG_MAX	8192		/* a defer log this long or longer: the old way */
#define IO_OPS		7		/* statx, open/read/close twice */

/* What the ring fetched for one message. */
struct list_io {
	bool fetched;			/* submitted; else the old way */
	bool has_log;			/* the log was fetched too */
	int stx_res;			/* 0 or -errno */
	int open_res;			/* queue file: 0 or -errno */
	int read_res;			/* bytes or -errno */
	int log_open_res;		/* defer log: 0 or -errno */
	int log_read_res;		/* bytes or -errno */
	struct statx stx;
	char *qf;			/* IO_QF_MAX bytes */
	char *log;			/* IO_LOG_MAX bytes */
};

/* One reader thread's ring and buffers (made once per listing). */
struct list_reader {
	struct io_uring ring;
	bool ring_ok;
	struct list_io io[IO_CHUNK];
	char *space;
};

bool queue_list_io_uring = true;

/* reader_init - the ring, if the kernel has one for us */
static void reader_init(struct list_reader *rd)
{
	struct io_uring_params p;
	int rc;

	memset(rd, 0, sizeof(*rd));
	if (!queue_list_io_uring)
		return;
	/*
	 * Only this thread submits, and the work that completions bring (the
	 * read after an open) runs when it waits, not at every return from
	 * the kernel; older kernels refuse the flags: fewer, then none.
	 */
	static const unsigned flags[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		0,
	};

	rc = -EINVAL;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]) && rc == -EINVAL; i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flags[i];
		rc = io_uring_queue_init_params(IO_CHUNK * IO_OPS, &rd->ring, &p);
	}
	if (rc < 0)
		return;
	if (io_uring_register_files_sparse(&rd->ring, 2 * IO_CHUNK) < 0) {
		io_uring_queue_exit(&rd->ring);
		return;
	}
	rd->ring_ok = true;
	rd->space = xmalloc((size_t)IO_CHUNK * (IO_QF_MAX + IO_LOG_MAX));
	for (int i = 0; i < IO_CHUNK; i++) {
		rd->io[i].qf = rd->space + (size_t)i * (IO_QF_MAX + IO_LOG_MAX);
		rd->io[i].log = rd->io[i].qf + IO_QF_MAX;
	}
}

/* reader_deinit - release the ring */
static void reader_deinit(struct list_reader *rd)
{
	if (rd->ring_ok)
		io_uring_queue_exit(&rd->ring);
	free(rd->space);
	memset(rd, 0, sizeof(*rd));
}

/* fetch_file - queue the open, read and close of name in dirfd into slot */
static void fetch_file(struct io_uring *ring, int dirfd, const char *name, unsigned slot,
		       char *data, unsigned size, uint64_t ud)
{
	struct io_uring_sqe *sqe;

	/* No O_CLOEXEC: a slot is no descriptor (the kernel refuses the flag). */
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_openat_direct(sqe, dirfd, name, O_RDONLY | O_NOFOLLOW, 0, slot);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = ud;
	/* A short read "fails" a link: hard-linked, the close runs anyway. */
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_read(sqe, (int)slot, data, size, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
	sqe->user_data = ud + 1;
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_close_direct(sqe, slot);
	sqe->user_data = ud + 2;
}

/* fetch - read the files of jobs[0..n) through the ring; false: the old way */
static bool fetch(struct list_reader *rd, const struct list_ctx *c, struct list_job *jobs,
		  long n)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int want = 0, submitted = 0, rc;

	for (long i = 0; i < n; i++) {
		struct list_io *io = &rd->io[i];
		const struct list_job *j = &jobs[i];
		struct io_uring_sqe *sqe;
		uint64_t ud = (uint64_t)i * 8;

		io->fetched = j->dirfd >= 0;
		io->has_log = io->fetched && j->log_name != NULL;
		io->stx_res = io->open_res = io->read_res = -ECANCELED;
		io->log_open_res = io->log_read_res = -ECANCELED;
		if (!io->fetched)
			continue;
		sqe = io_uring_get_sqe(&rd->ring);
		io_uring_prep_statx(sqe, j->dirfd, j->e->id, AT_SYMLINK_NOFOLLOW,
				    STATX_BASIC_STATS, &io->stx);
		sqe->user_data = ud;
		fetch_file(&rd->ring, j->dirfd, j->e->id, 2 * (unsigned)i, io->qf, IO_QF_MAX, ud + 1);
		want += 4;
		if (io->has_log) {
			fetch_file(&rd->ring, j->log_dirfd, j->log_name, 2 * (unsigned)i + 1,
				   io->log, IO_LOG_MAX, ud + 4);
			want += 3;
		}
	}
	if (want == 0)
		return true;
	/* Normally all at once; a job whose operations were not all taken
	 * keeps -ECANCELED results and is read the old way. */
	while (submitted < want) {
		/* Submitted and, normally, all done in one system call. */
		if ((rc = io_uring_submit_and_wait(&rd->ring, (unsigned)(want - submitted))) == -EINTR)
			continue;
		if (rc <= 0)
			break;
		submitted += rc;
	}
	for (int got = 0; got < submitted; got += (int)seen) {
		if ((rc = io_uring_wait_cqe(&rd->ring, &cqe)) < 0) {
			if (rc == -EINTR || rc == -EAGAIN) {
				seen = 0;
				continue;
			}
			msg_fatal("queue listing: io_uring: %s", strerror(-rc));
		}
		seen = 0;
		io_uring_for_each_cqe(&rd->ring, head, cqe) {
			struct list_io *io = &rd->io[cqe->user_data / 8];

			switch (cqe->user_data % 8) {
			case 0:
				io->stx_res = cqe->res;
				break;
			case 1:
				io->open_res = cqe->res;
				break;
			case 2:
				io->read_res = cqe->res;
				break;
			case 4:
				io->log_open_res = cqe->res;
				break;
			case 5:
				io->log_read_res = cqe->res;
				break;
			}
			seen++;
		}
		io_uring_cq_advance(&rd->ring, seen);
	}
	if (submitted < want) {
		/* The kernel took no more (out of memory?): no ring from now on. */
		io_uring_queue_exit(&rd->ring);
		rd->ring_ok = false;
		return submitted > 0;
	}
	return true;
}

/* stat_of - the struct stat of a statx result */
static void stat_of(const struct statx *x, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = x->stx_mode;
	st->st_size = (off_t)x->stx_size;
	st->st_ino = x->stx_ino;
	st->st_nlink = x->stx_nlink;
	st->st_uid = x->stx_uid;
	st->st_gid = x->stx_gid;
	st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
}

/*
 * open_fetched - the queue file from what the ring fetched, as open_entry
 * would open it (the same checks in the same order, the same warnings);
 * NULL with *old_way_r when open_entry must look at it instead.
 */
static struct qf *open_fetched(const char *queue, const struct list_job *j,
			       const struct list_io *io, struct qf_envelope *env_r,
			       struct stat *st_r, bool *old_way_r)
{
	const char *error;
	struct qf *q;
	bool corrupt;
	int rc;

	*old_way_r = false;
	/* Moved or removed since the folder was read: not an error. */
	if (io->stx_res == -ENOENT || io->open_res == -ENOENT)
		return NULL;
	if (io->stx_res < 0 || io->open_res < 0 || io->read_res < 0)
		goto old_way;
	stat_of(&io->stx, st_r);
	/* Not a plain file, too big for the buffer, or changed since statx. */
	if (!S_ISREG(st_r->st_mode) || st_r->st_size > IO_QF_MAX
	    || io->read_res != st_r->st_size)
		goto old_way;
	if ((q = qf_open_image(st_r, io->qf, (size_t)io->read_res, &corrupt, &error)) == NULL) {
		if (!corrupt)
			goto old_way;
		warn_locked("%s/%s: damaged queue file: %s; skipped", queue, j->e->id, error);
		return NULL;
	}
	qf_snapshot(q);
	if (!qf_mode_ready(st_r->st_mode)) {
		qf_close(&q);
		return NULL;
	}
	if ((rc = qf_read_envelope(q, env_r, &error)) != 0) {
		warn_locked("%s/%s: %s: %s; skipped", queue, j->e->id,
			    rc == QF_CORRUPT ? "damaged queue file" : "read error", error);
		qf_close(&q);
		return NULL;
	}
	return q;
old_way:
	*old_way_r = true;
	return NULL;
}

/* reasons_fetched - job j's defer log from what the ring fetched, else read it */
static int reasons_fetched(const struct list_ctx *c, const struct list_job *j,
			   const struct list_io *io, struct reasons *r)
{
	const char *error;

	memset(r, 0, sizeof(*r));
	if (io == NULL || !io->has_log)
		return reasons_load(c, j, r);
	if (io->log_open_res == -ENOENT) {
		/* None (or removed since defer/ was read): no reasons. */
		__atomic_fetch_add(c->log_misses, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if (io->log_open_res < 0 || io->log_read_res < 0 || io->log_read_res >= IO_LOG_MAX)
		return reasons_load(c, j, r);
	/* Caught in a write, or damaged: again under the lock (which warns). */
	if ((r->count = status_log_parse(io->log, (size_t)io->log_read_res, j->e->id,
					 &r->recs, &error)) < 0)
		return reasons_load(c, j, r);
	count_io(log_ring);
	reasons_index(r);
	return 0;
}

/*
 * list_rcpts - the pending recipients, reasons first; 0 or -1 (warned).
 * With flush_fd >= 0, out is written there whenever it holds OUT_FLUSH
 * bytes, so that a message with many recipients does not sit in memory.
 */
static int list_rcpts(const struct list_ctx *c, struct queue_listing *l, struct buf *out,
		      const struct list_job *job, const struct list_io *io, struct qf *q,
		      int flush_fd)
{
	struct qf_rcpt rcpts[RCPT_BATCH];
	struct argv *plain = NULL;
	struct reasons r;
	const char *error, *id = job->e->id;
	long offset = 0, n;
	int rc = 0;

	reasons_fetched(c, job, io, &r);
	do {
		if ((n = qf_read_rcpts(q, &offset, rcpts, RCPT_BATCH, false, &error)) < 0) {
			warn_locked("%s/%s: %s: %s; skipped", c->queue, id,
				    n == QF_CORRUPT ? "damaged queue file" : "read error", error);
			rc = -1;
			break;
		}
		for (long i = 0; i < n; i++) {
			/* Without a defer log, stream; with one, reasons go first. */
			if (r.count == 0)
				queue_listing_msg_rcpt(l, out, rcpts[i].address, "");
			else if (!reasons_claim(&r, rcpts[i].offset, rcpts[i].address)) {
				if (plain == NULL)
					plain = argv_create();
				argv_add(plain, rcpts[i].address, (char *)NULL);
			}
			qf_rcpt_deinit(&rcpts[i]);
		}
		if (flush_fd >= 0 && out->len >= OUT_FLUSH
		    && write_all_timeout(flush_fd, out->data, out->len, -1) == 0)
			buf_reset(out);
	} while (offset != 0);
	if (rc == 0) {
		for (long j = 0; j < r.count; j++)
			if (r.address[j])
				queue_listing_msg_rcpt(l, out, r.address[j], r.recs[j].reason);
		for (size_t i = 0; plain && i < plain->argc; i++)
			queue_listing_msg_rcpt(l, out, plain->argv[i], "");
	}
	argv_free(&plain);
	reasons_free(&r);
	return rc;
}

/* open_entry - open a listed file (in folder dirfd, or by path when -1) */
static struct qf *open_entry(const char *queue, const struct queue_list_entry *e, int dirfd,
			     struct qf_envelope *env_r, struct stat *st_r)
{
	const char *error;
	struct qf *q;
	bool corrupt;
	int rc;

	q = dirfd >= 0 ? qf_openat(dirfd, e->id, false, &corrupt, &error)
		: qf_open(e->path, false, &corrupt, &error);
	if (q == NULL) {
		/* Moved or removed since the folder was read: not an error. */
		if (!corrupt && lstat(e->path, st_r) < 0 && errno == ENOENT)
			return NULL;
		warn_locked("%s/%s: %s%s; skipped", queue, e->id,
			    corrupt ? "damaged queue file: " : "", error);
		return NULL;
	}
	/* A listing shows the file as it was when opened: read it once. */
	qf_snapshot(q);
	/* Only complete files (a 0400 file is one an agent found damaged). */
	*st_r = *qf_stat(q);
	if (!qf_mode_ready(st_r->st_mode)) {
		qf_close(&q);
		return NULL;
	}
	if ((rc = qf_read_envelope(q, env_r, &error)) != 0) {
		warn_locked("%s/%s: %s: %s; skipped", queue, e->id,
			    rc == QF_CORRUPT ? "damaged queue file" : "read error", error);
		qf_close(&q);
		return NULL;
	}
	return q;
}

/* queue_list_open_entry - open a listed file and read its envelope */
struct qf *queue_list_open_entry(const char *queue, const struct queue_list_entry *e,
				 struct qf_envelope *env_r, struct stat *st_r)
{
	return open_entry(queue, e, -1, env_r, st_r);
}

/*
 * list_file - one queue file into its job's buffer (or skipped), from what
 * the ring fetched (io) or read here (io NULL).  A message with more than
 * LIST_SMALL_RCPTS recipients is left to the writer (big): its text could
 * be large.  With flush_fd >= 0 (the writer), the text goes out as it is
 * made.
 */
static void list_file(const struct list_ctx *c, struct queue_listing *l, struct list_job *j,
		      const struct list_io *io, int flush_fd)
{
	struct qf_envelope env;
	struct queue_list_msg m;
	struct stat st;
	struct qf *q = NULL;
	bool old_way = true;

	j->listed = j->big = false;
	if (flush_fd < 0)
		buf_reset(j->out);
	if (io != NULL && io->fetched)
		q = open_fetched(c->queue, j, io, &env, &st, &old_way);
	if (old_way) {
		io = NULL;
		count_io(qf_old_way);
		q = open_entry(c->queue, j->e, j->dirfd, &env, &st);
	} else {
		count_io(qf_ring);
	}
	if (q == NULL)
		return;
	if (flush_fd < 0 && env.rcpt_count > LIST_SMALL_RCPTS) {
		j->big = true;
		goto out;
	}
	m.queue_name = c->queue;
	m.queue_id = j->e->id;
	m.arrival_time = (long)env.arrival_time;
	m.message_size = env.content_size;
	m.forced_expire = (st.st_mode & QF_MODE_EXPIRE) != 0;
	m.sender = env.sender;
	queue_listing_msg_begin(l, j->out, &m);
	if (list_rcpts(c, l, j->out, j, io, q, flush_fd) == 0) {
		queue_listing_msg_end(l, j->out, &m);
		j->listed = true;
		j->size = m.message_size;
	}
out:
	qf_envelope_deinit(&env);
	qf_close(&q);
}

/* reader - take chunks of the batch until none is left */
static void reader_run(struct list_batch *b, struct list_reader *rd)
{
	struct queue_listing l;
	long first, n;

	/* A fragment listing: no heading or separator (the writer adds them). */
	queue_listing_init(&l, b->c->json, b->c->empty_addr);
	l.fragment = true;
	while ((first = __atomic_fetch_add(&b->next, IO_CHUNK, __ATOMIC_RELAXED)) < b->count) {
		struct list_job *jobs = &b->jobs[first];
		bool fetched;

		n = b->count - first < IO_CHUNK ? b->count - first : IO_CHUNK;
		fetched = rd->ring_ok && fetch(rd, b->c, jobs, n);
		for (long i = 0; i < n; i++)
			list_file(b->c, &l, &jobs[i], fetched ? &rd->io[i] : NULL, -1);
	}
	queue_listing_deinit(&l);
}

/*
 * The reader threads live as long as the listing: each makes its own ring
 * (a ring that one thread alone submits to can run its completions' work
 * when that thread waits, IORING_SETUP_DEFER_TASKRUN) and reads its share
 * of every batch the writer hands out.
 */
struct reader_pool {
	pthread_mutex_t lock;
	pthread_cond_t go, done;
	struct list_batch *b;		/* the batch to read */
	unsigned long gen;		/* bumped for each batch */
	int busy;			/* threads still reading it */
	bool quit;
	int started;			/* threads running */
	pthread_t tid[LIST_THREADS_MAX];
	struct list_reader *rd;		/* rd[0] is the writer's */
};

/* The arguments of one reader thread. */
struct reader_arg {
	struct reader_pool *pool;
	struct list_reader *rd;
};

/* reader - a thread's loop: a batch when told, until told to quit */
static void *reader(void *arg)
{
	struct reader_arg *a = arg;
	struct reader_pool *p = a->pool;
	struct list_reader *rd = a->rd;
	unsigned long seen = 0;
	struct list_batch *b;

	free(a);
	reader_init(rd);
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->gen == seen && !p->quit)
			pthread_cond_wait(&p->go, &p->lock);
		if (p->quit) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		seen = p->gen;
		b = p->b;
		pthread_mutex_unlock(&p->lock);
		reader_run(b, rd);
		pthread_mutex_lock(&p->lock);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->lock);
	}
	reader_deinit(rd);
	return NULL;
}

/* reader_count - threads worth starting here */
static int reader_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus < 1 ? 1 : cpus > LIST_THREADS_MAX ? LIST_THREADS_MAX : (int)cpus;
}

/* pool_start - the writer's reader and up to nthreads - 1 threads */
static void pool_start(struct reader_pool *p, int nthreads)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->rd = xcalloc((size_t)nthreads, sizeof(*p->rd));
	reader_init(&p->rd[0]);
	for (int t = 1; t < nthreads; t++) {
		struct reader_arg *a = xmalloc(sizeof(*a));

		a->pool = p;
		a->rd = &p->rd[p->started + 1];
		if (pthread_create(&p->tid[p->started], NULL, reader, a) != 0) {
			free(a);
			break;
		}
		p->started++;
	}
}

/* pool_stop - end the threads, release the readers */
static void pool_stop(struct reader_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->lock);
	for (int t = 0; t < p->started; t++)
		pthread_join(p->tid[t], NULL);
	reader_deinit(&p->rd[0]);
	free(p->rd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
}

/* run_batch - read the batch's messages with the pool's readers */
static void run_batch(struct list_batch *b, struct reader_pool *p)
{
	b->next = 0;
	/* Small batches are not worth waking a thread. */
	if (p->started == 0 || b->count <= IO_CHUNK) {
		reader_run(b, &p->rd[0]);
		return;
	}
	pthread_mutex_lock(&p->lock);
	p->b = b;
	p->gen++;
	p->busy = p->started;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->lock);
	reader_run(b, &p->rd[0]);
	pthread_mutex_lock(&p->lock);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

/* flush_out - write what is buffered; 0 or -1 */
static int flush_out(int fd, struct buf *out)
{
	if (out->len && write_all_timeout(fd, out->data, out->len, -1) < 0)
		return -1;
	buf_reset(out);
	return 0;
}

/* scan_logs - the defer logs there are, and their folders */
static void scan_logs(struct list_ctx *c)
{
	const char *error;

	c->logs_scanned = true;
	if ((c->log_count = queue_list_scan(c->queue_dir, STATUS_LOG_DEFER, &c->logs, &error)) < 0) {
		warn_locked("%s; delay reasons not shown", error);
		c->log_count = 0;
	}
	c->log_dirfd = xcalloc((size_t)c->log_count + 1, sizeof(int));
	for (long i = 0; i < c->log_count; i++)
		c->log_dirfd[i] = folder_fd(c->log_dirs, &c->log_dir_count, c->logs[i].path);
}

/*
 * Where a message's defer log is.  A message in deferred/ nearly always
 * has one: its log is opened by its name, and "no such file" means none
 * (no scan of defer/; but when more than half of a batch had none, defer/
 * is read for the rest of the listing).  In the other folders few messages have one: when
 * such a folder holds more than LOG_GUESS_MAX messages, defer/ is read
 * once (queue_list_scan) and only the logs found there are opened, so
 * that a big incoming/ costs no failed open per message.
 */
#define LOG_GUESS_MAX	256

/* log_locate - set job j's log_dirfd and log_name */
static void log_locate(struct list_ctx *c, struct list_job *j)
{
	char hash[QUEUE_HASH_FOLDER_SIZE], dir[4096];
	size_t ql = strlen(c->queue_dir), hl;
	long k;
	int fd;

	j->log_dirfd = AT_FDCWD;
	j->log_name = j->log_owned = NULL;
	if (c->logs_scanned) {
		if ((k = find_defer_log(c, j->e->id)) < 0)
			return;
		if ((j->log_dirfd = c->log_dirfd[k]) >= 0) {
			j->log_name = j->e->id;
		} else {
			j->log_dirfd = AT_FDCWD;
			j->log_name = c->logs[k].path;
		}
		return;
	}
	hl = queue_hash_folder(STATUS_LOG_DEFER, j->e->id, hash);
	if (ql + sizeof(STATUS_LOG_DEFER) + hl + 2 > sizeof(dir))
		return;
	memcpy(dir, c->queue_dir, ql);
	dir[ql] = '/';
	memcpy(dir + ql + 1, STATUS_LOG_DEFER, sizeof(STATUS_LOG_DEFER));
	if (hl) {
		dir[ql + sizeof(STATUS_LOG_DEFER)] = '/';
		memcpy(dir + ql + sizeof(STATUS_LOG_DEFER) + 1, hash, hl + 1);
	}
	if ((fd = dir_fd(c->log_dirs, &c->log_dir_count, dir)) >= 0) {
		j->log_dirfd = fd;
		j->log_name = j->e->id;
	} else if (c->log_dir_count >= DIRS_MAX) {
		/* Too many folders to hold open: by its path. */
		j->log_name = j->log_owned = join_path(dir, j->e->id);
	}
	/* Else the folder is not there (or not readable): no log. */
}

/* queue_list_write - the whole listing to fd */
int queue_list_write(const char *queue_dir, bool json, const char *empty_addr, int fd,
		     const char **error_r)
{
	struct queue_list_entry *entries;
	struct queue_listing l, fmt;
	struct list_job jobs[LIST_BATCH];
	struct list_batch b;
	struct list_ctx c;
	struct reader_pool pool;
	struct buf *out = buf_create(OUT_FLUSH + 4096);
	int rc = 0;
	long count, log_misses = 0;

	memset(&c, 0, sizeof(c));
	c.log_misses = &log_misses;
	c.queue_dir = queue_dir;
	c.json = json;
	c.empty_addr = empty_addr;
	queue_listing_init(&l, json, empty_addr);
	queue_listing_init(&fmt, json, empty_addr);
	fmt.fragment = true;
	for (int i = 0; i < LIST_BATCH; i++)
		jobs[i].out = buf_create(256);
	memset(&queue_list_io_stats, 0, sizeof(queue_list_io_stats));
	pool_start(&pool, reader_count());
	c.dirs = htable_create(64);
	c.log_dirs = htable_create(64);
	for (const char *const *qn = listing_order; *qn && rc == 0; qn++) {
		count = queue_list_scan(queue_dir, *qn, &entries, error_r);
		if (count < 0) {
			errno = 0;
			rc = -1;
			break;
		}
		if (count > LOG_GUESS_MAX && !c.logs_scanned
		    && strcmp(*qn, "deferred") != 0)
			scan_logs(&c);
		c.queue = *qn;
		b.c = &c;
		b.jobs = jobs;
		for (long first = 0; first < count && rc == 0; first += LIST_BATCH) {
			b.count = count - first < LIST_BATCH ? count - first : LIST_BATCH;
			for (long i = 0; i < b.count; i++) {
				jobs[i].e = &entries[first + i];
				jobs[i].dirfd = folder_fd(c.dirs, &c.dir_count, jobs[i].e->path);
				log_locate(&c, &jobs[i]);
			}
			run_batch(&b, &pool);
			/* In queue order: heading or separator, the text, the count. */
			for (long i = 0; i < b.count && rc == 0; i++) {
				if (jobs[i].big) {
					/* Streamed here, straight into out. */
					struct list_job big = jobs[i];
					size_t before = out->len;

					big.out = out;
					queue_listing_separator(&l, out);
					list_file(&c, &fmt, &big, NULL, fd);
					jobs[i].listed = big.listed;
					jobs[i].size = big.size;
					if (!jobs[i].listed) {
						/* Skipped: take back what is still here
						 * (a damaged file's partial text may be out). */
						if (out->len >= before)
							buf_truncate(out, before);
						continue;
					}
				} else if (jobs[i].listed) {
					queue_listing_separator(&l, out);
				} else {
					continue;
				}
				if (!jobs[i].big)
					buf_append(out, jobs[i].out->data, jobs[i].out->len);
				l.count++;
				if (jobs[i].size > 0)
					l.total_size += (unsigned long long)jobs[i].size;
				if (out->len >= OUT_FLUSH && flush_out(fd, out) < 0)
					rc = -1;
			}
			for (long i = 0; i < b.count; i++)
				free(jobs[i].log_owned);
			/* Most messages here have no log after all: read defer/. */
			if (!c.logs_scanned && log_misses > b.count / 2)
				scan_logs(&c);
			log_misses = 0;
		}
		queue_list_scan_free(&entries, count);
	}
	if (rc == 0) {
		queue_listing_end(&l, out);
		rc = flush_out(fd, out);
	}
	queue_list_scan_free(&c.logs, c.log_count);
	free(c.log_dirfd);
	htable_free(&c.dirs, close_folder);
	htable_free(&c.log_dirs, close_folder);
	for (int i = 0; i < LIST_BATCH; i++)
		buf_free(&jobs[i].out);
	pool_stop(&pool);
	queue_listing_deinit(&l);
	queue_listing_deinit(&fmt);
	buf_free(&out);
	return rc;
}
