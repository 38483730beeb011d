/*
 * cmd_queue - the queue listing ("sluice queue", mailq, postqueue -p/-j)
 * and the queue-folder helpers shared by the other queue tools.
 *
 * Contract.  The listing reads queue_directory itself, with no daemon: the
 * folders maildrop, active, incoming, deferred and hold, in that order (as
 * Postfix's showq), each sorted by queue ID, which sorts by creation time.
 * A file is listed when its name is a queue ID and its mode says complete
 * (docs/QUEUE.md section 4); others are skipped silently, as are files that
 * vanish while the listing runs (the queue manager moves files all the
 * time).  Each file costs one open, a few preads and a close; the defer
 * logs are found with one scan of defer/ up front, so a message without a
 * log costs no failed open.  Nothing is O(n^2): per message the work is
 * linear in its recipients (plus a sort of its defer log).
 *
 * Text layout (postqueue's layout for long queue IDs; every sluice ID is a
 * long one):
 *
 *   ----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------
 *   SeCoNdUsECino*        1234 Sat Nov 28 10:00:00 sender@example.test
 *                                                  (the reason, right-aligned to column 78)
 *                                                  rcpt@example.test
 *
 *   -- 1 Kbytes in 1 Request.
 *
 * "*" marks active, "!" hold, a following "#" a forced expiry; the null
 * sender shows as $empty_address_recipient (MAILER-DAEMON).  Only pending
 * recipients are listed: first those with a record in the message's defer
 * log (the last record per recipient, in log order, each reason line shown
 * once per run of equal reasons), then the others.  The size is the
 * content size (header and body, LF line ends).  --json prints postqueue
 * -j's object per message, one per line.
 *
 * Diagnostics: a damaged file is skipped with "sluice: warning: QUEUE/ID:
 * ...; skipped" on stderr; an unreadable folder or an output error end the
 * command (74); a configuration error is 78.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd_queue.h"
#include "global/addr.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "util/argv.h"
#include "util/buf.h"
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

static char scan_err[512];

/* cmd_fail - "sluice: fatal: ..." on stderr, return status */
int cmd_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: fatal: ", log_progname() ? log_progname() : "sluice");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* cmd_queue_setup - configuration and queue hashing */
int cmd_queue_setup(const char *config_dir, const char **queue_dir_r)
{
	const char *error;

	if (mail_conf_read(config_dir, &error) < 0)
		return cmd_fail(CMD_EX_CONFIG, "%s", error);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
	*queue_dir_r = var_queue_directory;
	return 0;
}

/* cmd_queue_name_valid - one of the message folders? */
bool cmd_queue_name_valid(const char *name)
{
	for (const char *const *n = queue_names; *n; n++)
		if (strcmp(*n, name) == 0)
			return true;
	return false;
}

/* ---- folder scanning ---- */

struct scan_list {
	struct cmd_queue_entry *v;
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

/* scan_folder - collect IDs in dir, descending into hash folders */
static int scan_folder(const char *dir, int depth, struct scan_list *l)
{
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
			if (is_dir(path, d) && scan_folder(path, depth + 1, l) < 0) {
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
		l->v[l->count].id = xstrdup(d->d_name);
		l->v[l->count].path = xasprintf("%s/%s", dir, d->d_name);
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
	const struct cmd_queue_entry *x = a, *y = b;
	int rc = strcmp(x->id, y->id);

	return rc ? rc : strcmp(x->path, y->path);
}

/* cmd_queue_scan - the IDs in one queue folder, sorted */
long cmd_queue_scan(const char *queue_dir, const char *queue_name,
		    struct cmd_queue_entry **entries_r, const char **error_r)
{
	struct scan_list l = {NULL, 0, 0};
	char *top = xasprintf("%s/%s", queue_dir, queue_name);
	int rc = scan_folder(top, 0, &l);

	free(top);
	*entries_r = NULL;
	if (rc < 0) {
		cmd_queue_scan_free(&l.v, l.count);
		*error_r = scan_err;
		return -1;
	}
	if (l.count > 1)
		qsort(l.v, (size_t)l.count, sizeof(*l.v), entry_cmp);
	*entries_r = l.v;
	return l.count;
}

/* cmd_queue_scan_free - release a scan result */
void cmd_queue_scan_free(struct cmd_queue_entry **entries, long count)
{
	if (*entries == NULL)
		return;
	for (long i = 0; i < count; i++) {
		free((*entries)[i].id);
		free((*entries)[i].path);
	}
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

/* cmd_queue_printable - controls and invalid UTF-8 become '?' */
void cmd_queue_printable(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		if (*p < 0x20 || *p == 0x7f) {
			buf_putc(out, '?');
			p++;
		} else if ((n = utf8_len(p)) == 0) {
			buf_putc(out, '?');
			p++;
		} else {
			buf_append(out, p, n);
			p += n;
		}
	}
}

/* cmd_queue_json_quote - the inside of a JSON string */
void cmd_queue_json_quote(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		switch (*p) {
		case '"':
			buf_puts(out, "\\\"");
			break;
		case '\\':
			buf_puts(out, "\\\\");
			break;
		case '\b':
			buf_puts(out, "\\b");
			break;
		case '\f':
			buf_puts(out, "\\f");
			break;
		case '\n':
			buf_puts(out, "\\n");
			break;
		case '\r':
			buf_puts(out, "\\r");
			break;
		case '\t':
			buf_puts(out, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				buf_printf(out, "\\u%04X", *p);
			} else if ((n = utf8_len(p)) == 0) {
				buf_putc(out, '?');
			} else {
				buf_append(out, p, n);
				p += n;
				continue;
			}
			break;
		}
		p++;
	}
}

/* show_addr - an address as the listing shows it (borrowed from l->tmp) */
static const char *show_addr(struct cmd_queue_listing *l, const char *addr)
{
	char *quoted;

	buf_reset(l->tmp);
	if (*addr == 0) {
		cmd_queue_printable(l->tmp, l->empty_addr);
	} else {
		quoted = addr_quote(addr);
		cmd_queue_printable(l->tmp, quoted);
		free(quoted);
	}
	return buf_str(l->tmp);
}

/* ---- the formatter ---- */

/* cmd_queue_listing_init - start a listing */
void cmd_queue_listing_init(struct cmd_queue_listing *l, bool json, const char *empty_addr)
{
	memset(l, 0, sizeof(*l));
	l->json = json;
	l->empty_addr = empty_addr && *empty_addr ? empty_addr : "MAILER-DAEMON";
	l->reason = buf_create(128);
	l->tmp = buf_create(128);
}

/* cmd_queue_listing_deinit - release buffers */
void cmd_queue_listing_deinit(struct cmd_queue_listing *l)
{
	buf_free(&l->reason);
	buf_free(&l->tmp);
}

/* cmd_queue_msg_begin - heading, separator, first line */
void cmd_queue_msg_begin(struct cmd_queue_listing *l, struct buf *out,
			 const struct cmd_queue_msg *m)
{
	char when[32], id[QUEUE_ID_SIZE + 8];
	time_t t = (time_t)m->arrival_time;
	struct tm tm;

	l->rcpt_count = 0;
	buf_reset(l->reason);
	if (l->json) {
		buf_puts(out, "{\"queue_name\": \"");
		cmd_queue_json_quote(out, m->queue_name);
		buf_puts(out, "\", \"queue_id\": \"");
		cmd_queue_json_quote(out, m->queue_id);
		buf_printf(out, "\", \"arrival_time\": %ld, \"message_size\": %ld, "
			   "\"forced_expire\": %s, \"sender\": \"",
			   m->arrival_time, m->message_size, m->forced_expire ? "true" : "false");
		cmd_queue_json_quote(out, show_addr(l, m->sender));
		buf_puts(out, "\", \"recipients\": [");
		return;
	}
	if (l->count == 0)
		buf_printf(out, L_HEAD_FMT, "----Queue ID-----", "--Size--",
			   "---Arrival Time----", "--Sender/Recipient------");
	else
		buf_putc(out, '\n');
	snprintf(id, sizeof(id), "%s%s%s", m->queue_id,
		 strcmp(m->queue_name, "active") == 0 ? "*"
		 : strcmp(m->queue_name, "hold") == 0 ? "!" : "",
		 m->forced_expire ? "#" : "");
	/* asctime()'s "Sat Nov 28 10:00:00" without the year. */
	if (localtime_r(&t, &tm) == NULL || asctime_r(&tm, when) == NULL)
		snprintf(when, sizeof(when), "??");
	buf_printf(out, "%-17s %8ld %19.19s %s\n", id, m->message_size, when,
		   show_addr(l, m->sender));
}

/* cmd_queue_msg_rcpt - one pending recipient */
void cmd_queue_msg_rcpt(struct cmd_queue_listing *l, struct buf *out,
			const char *address, const char *reason)
{
	const char *shown;
	int padding;

	if (reason == NULL)
		reason = "";
	if (l->json) {
		buf_puts(out, l->rcpt_count ? ", {\"address\": \"" : "{\"address\": \"");
		cmd_queue_json_quote(out, show_addr(l, address));
		buf_putc(out, '"');
		if (*reason) {
			buf_puts(out, ", \"delay_reason\": \"");
			cmd_queue_json_quote(out, reason);
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
		cmd_queue_printable(l->tmp, *reason ? reason : "reason unavailable");
		if ((padding = REASON_COLUMN - (int)l->tmp->len) < 0)
			padding = 0;
		buf_printf(out, "%*s(%s)\n", padding, "", buf_str(l->tmp));
	}
	shown = show_addr(l, address);
	buf_printf(out, "%*s%s\n", L_RCPT_INDENT, "", shown);
	l->rcpt_count++;
}

/* cmd_queue_msg_end - close the message, count it */
void cmd_queue_msg_end(struct cmd_queue_listing *l, struct buf *out,
		       const struct cmd_queue_msg *m)
{
	if (l->json)
		buf_puts(out, "]}\n");
	l->count++;
	if (m->message_size > 0)
		l->total_size += (unsigned long long)m->message_size;
}

/* cmd_queue_listing_end - the footer */
void cmd_queue_listing_end(struct cmd_queue_listing *l, struct buf *out)
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

struct list_ctx {
	const char *queue_dir;
	struct cmd_queue_listing listing;
	struct buf *out;
	struct cmd_queue_entry *logs;	/* IDs with a defer log, sorted */
	long log_count;
};

/* has_defer_log - did the scan of defer/ see a log for id? */
static bool has_defer_log(const struct list_ctx *c, const char *id)
{
	long lo = 0, hi = c->log_count;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		int rc = strcmp(c->logs[mid].id, id);

		if (rc == 0)
			return true;
		if (rc < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The defer log of one message, indexed by recipient offset. */
struct reasons {
	struct rcpt_status_rec *recs;
	long count;
	long *by_offset;	/* record indexes sorted by (offset, index) */
	char **address;		/* per record: the pending recipient it names, or NULL */
};

/* reason_cmp - qsort by offset, then log order */
static const struct rcpt_status_rec *sort_recs;
static int reason_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	if (sort_recs[x].offset != sort_recs[y].offset)
		return sort_recs[x].offset < sort_recs[y].offset ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* reasons_load - read and index the defer log; 0 or -1 (warned) */
static int reasons_load(struct list_ctx *c, const char *id, struct reasons *r)
{
	const char *error;

	memset(r, 0, sizeof(*r));
	if (!has_defer_log(c, id))
		return 0;
	if ((r->count = status_log_read(c->queue_dir, STATUS_LOG_DEFER, id, &r->recs, &error)) < 0) {
		msg_warn("%s: defer log: %s; reasons not shown", id, error);
		r->count = 0;
		return -1;
	}
	if (r->count == 0)
		return 0;
	r->by_offset = xcalloc((size_t)r->count, sizeof(long));
	r->address = xcalloc((size_t)r->count, sizeof(char *));
	for (long i = 0; i < r->count; i++)
		r->by_offset[i] = i;
	sort_recs = r->recs;
	qsort(r->by_offset, (size_t)r->count, sizeof(long), reason_cmp);
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

/* list_rcpts - the pending recipients, reasons first; 0 or -1 (warned) */
static int list_rcpts(struct list_ctx *c, const char *queue, const char *id, struct qf *q)
{
	struct qf_rcpt rcpts[RCPT_BATCH];
	struct argv *plain = NULL;
	struct reasons r;
	const char *error;
	long offset = 0, n;
	int rc = 0;

	reasons_load(c, id, &r);
	do {
		if ((n = qf_read_rcpts(q, &offset, rcpts, RCPT_BATCH, false, &error)) < 0) {
			msg_warn("%s/%s: %s: %s; skipped", queue, id,
				 n == QF_CORRUPT ? "damaged queue file" : "read error", error);
			rc = -1;
			break;
		}
		for (long i = 0; i < n; i++) {
			/* Without a defer log, stream; with one, reasons go first. */
			if (r.count == 0)
				cmd_queue_msg_rcpt(&c->listing, c->out, rcpts[i].address, "");
			else if (!reasons_claim(&r, rcpts[i].offset, rcpts[i].address)) {
				if (plain == NULL)
					plain = argv_create();
				argv_add(plain, rcpts[i].address, (char *)NULL);
			}
			qf_rcpt_free(&rcpts[i]);
		}
	} while (offset != 0);
	if (rc == 0) {
		for (long j = 0; j < r.count; j++)
			if (r.address[j])
				cmd_queue_msg_rcpt(&c->listing, c->out, r.address[j], r.recs[j].reason);
		for (size_t i = 0; plain && i < plain->argc; i++)
			cmd_queue_msg_rcpt(&c->listing, c->out, plain->argv[i], "");
	}
	argv_free(&plain);
	reasons_free(&r);
	return rc;
}

/* cmd_queue_open_entry - open a listed file and read its envelope */
struct qf *cmd_queue_open_entry(const char *queue, const struct cmd_queue_entry *e,
				struct qf_envelope *env_r, struct stat *st_r)
{
	const char *error;
	struct qf *q;
	bool corrupt;
	int rc;

	if ((q = qf_open(e->path, false, &corrupt, &error)) == NULL) {
		/* Moved or removed since the folder was read: not an error. */
		if (!corrupt && lstat(e->path, st_r) < 0 && errno == ENOENT)
			return NULL;
		msg_warn("%s/%s: %s%s; skipped", queue, e->id,
			 corrupt ? "damaged queue file: " : "", error);
		return NULL;
	}
	/* Only complete files (a 0400 file is one an agent found damaged). */
	if (fstat(qf_fd(q), st_r) < 0 || !qf_mode_ready(st_r->st_mode)) {
		qf_close(&q);
		return NULL;
	}
	if ((rc = qf_read_envelope(q, env_r, &error)) != 0) {
		msg_warn("%s/%s: %s: %s; skipped", queue, e->id,
			 rc == QF_CORRUPT ? "damaged queue file" : "read error", error);
		qf_close(&q);
		return NULL;
	}
	return q;
}

/* list_file - list one queue file (or skip it) */
static void list_file(struct list_ctx *c, const char *queue, const struct cmd_queue_entry *e)
{
	struct cmd_queue_listing saved = c->listing;
	size_t out_len = c->out->len;
	struct qf_envelope env;
	struct cmd_queue_msg m;
	struct stat st;
	struct qf *q;

	if ((q = cmd_queue_open_entry(queue, e, &env, &st)) == NULL)
		return;
	m.queue_name = queue;
	m.queue_id = e->id;
	m.arrival_time = (long)env.arrival_time;
	m.message_size = env.content_size;
	m.forced_expire = (st.st_mode & QF_MODE_EXPIRE) != 0;
	m.sender = env.sender;
	cmd_queue_msg_begin(&c->listing, c->out, &m);
	if (list_rcpts(c, queue, e->id, q) < 0) {
		/* Take back what was formatted for this message. */
		buf_truncate(c->out, out_len);
		c->listing.count = saved.count;
		c->listing.total_size = saved.total_size;
	} else {
		cmd_queue_msg_end(&c->listing, c->out, &m);
	}
	qf_envelope_free(&env);
	qf_close(&q);
}

/* flush_out - write what is buffered; 0 or -1 */
static int flush_out(struct buf *out)
{
	if (out->len && fwrite(out->data, 1, out->len, stdout) != out->len)
		return -1;
	buf_reset(out);
	return 0;
}

/* showq_client - the listing through the showq service */
static int showq_client(const char *queue_dir, bool json)
{
	char *path = xasprintf("%s/public/showq", queue_dir);
	char buf[16384];
	ssize_t n;
	int fd;

	if ((fd = unix_connect(path, false)) < 0) {
		int rc = cmd_fail(CMD_EX_TEMPFAIL, "cannot read the queue and %s: %s "
				  "(is the mail system running?)", path, strerror(errno));
		free(path);
		return rc;
	}
	free(path);
	if (write_all_timeout(fd, json ? "j\n" : "p\n", 2, 10000) < 0) {
		close(fd);
		return cmd_fail(CMD_EX_TEMPFAIL, "showq: %s", strerror(errno));
	}
	/* A big queue takes a while to list: no time limit on the answer. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	close(fd);
	return fflush(stdout) == EOF ? CMD_EX_IOERR : CMD_EX_OK;
}

/* cmd_queue - the listing command */
int cmd_queue(const char *config_dir, int argc, char **argv)
{
	struct cmd_queue_entry *entries;
	struct list_ctx c;
	const char *queue_dir, *error;
	bool json = false;
	long count;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json = true;
		else if (strcmp(argv[i], "-p") == 0)
			json = false;
		else {
			fprintf(stderr, "usage: sluice queue [--json]\n");
			return CMD_EX_USAGE;
		}
	}
	if ((rc = cmd_queue_setup(config_dir, &queue_dir)) != 0)
		return rc;

	/*
	 * An ordinary user cannot read the queue folders (mode 0700, owned by
	 * mail_owner): ask the showq service, which lists them for us.
	 */
	if (geteuid() != 0 && access(queue_dir, R_OK | X_OK) == 0) {
		char *incoming = xasprintf("%s/incoming", queue_dir);
		bool denied = access(incoming, R_OK | X_OK) < 0 && errno == EACCES;

		free(incoming);
		if (denied)
			return showq_client(queue_dir, json);
	}

	memset(&c, 0, sizeof(c));
	c.queue_dir = queue_dir;
	c.out = buf_create(OUT_FLUSH + 4096);
	cmd_queue_listing_init(&c.listing, json, var_empty_address_recipient);
	if ((c.log_count = cmd_queue_scan(queue_dir, STATUS_LOG_DEFER, &c.logs, &error)) < 0) {
		msg_warn("%s; delay reasons not shown", error);
		c.log_count = 0;
	}
	for (const char *const *qn = listing_order; *qn && rc == 0; qn++) {
		if ((count = cmd_queue_scan(queue_dir, *qn, &entries, &error)) < 0) {
			rc = cmd_fail(CMD_EX_IOERR, "%s", error);
			break;
		}
		for (long i = 0; i < count && rc == 0; i++) {
			list_file(&c, *qn, &entries[i]);
			if (c.out->len >= OUT_FLUSH && flush_out(c.out) < 0)
				rc = -1;
		}
		cmd_queue_scan_free(&entries, count);
	}
	if (rc == 0) {
		cmd_queue_listing_end(&c.listing, c.out);
		if (flush_out(c.out) < 0)
			rc = -1;
	}
	if (rc == 0 && fflush(stdout) == EOF)
		rc = -1;
	/* A reader that went away (mailq | head) is not an error. */
	if (rc == -1)
		rc = errno == EPIPE ? 0 : cmd_fail(CMD_EX_IOERR, "output write error: %s",
						   strerror(errno));
	cmd_queue_scan_free(&c.logs, c.log_count);
	cmd_queue_listing_deinit(&c.listing);
	buf_free(&c.out);
	return rc;
}
