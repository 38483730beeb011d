/*
 * cleanup - create queue files in incoming/ (see cleanup.h for the contract).
 *
 * This module is for every producer of new mail (pickup, bounce, smtpd
 * later): it turns an envelope plus message text into a complete, durable
 * queue file and tells the queue manager.  It is a library, not Postfix's
 * cleanup daemon: each producer links it and runs it in its own process,
 * which spares one IPC hop per message; the producer is trusted to have
 * validated its input (pickup treats maildrop files as hostile before they
 * get here).
 *
 * The pieces: cleanup_stream.c filters the text (line ends, header block,
 * Bcc, counting); this file owns the envelope, the recipients (kept in
 * memory until the content is written, because recipients follow the
 * content in a queue file), the headers cleanup adds, the limits and the
 * commit.
 *
 * Address rewriting (canonical, masquerade, virtual, bcc) is in
 * cleanup_rewrite.c, applied as the sender and recipients arrive.
 *
 * Header and body checks (cleanup_checks.c) see every header field and
 * body line as cleanup_stream.c passes them; what they decide for the
 * whole message (reject, hold, discard, redirect, filter) is carried out
 * by cleanup_close().
 *
 * Header addresses are rewritten (cleanup_rewrite_header) as each primary
 * header field passes, after the content checks.
 *
 * It does not: send bounces itself (a refused
 * message is the producer's to report: smtpd replies, sendmail says it on
 * stderr; with CLEANUP_FLAG_RETURN it is queued with its recipients done
 * and their bounce records written, and the queue manager has the bounce
 * service return it), or wait for the qmgr.
 *
 * DIAGNOSTICS: refusals and I/O errors are returned by cleanup_close() with
 * an RFC 3463 status in front; the only log lines are the two success lines
 * Postfix's pickup and cleanup write ("uid=N from=<...>",
 * "message-id=<...>"); a failed qmgr trigger is logged in verbose mode only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "global/addr.h"
#include "global/bounce_append.h"
#include "global/cleanup/cleanup.h"
#include "global/cleanup/cleanup_checks.h"
#include "global/counters.h"
#include "global/cleanup/cleanup_rewrite.h"
#include "global/cleanup/cleanup_stream.h"
#include "global/mail_flow.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/rfc822.h"
#include "global/status_log.h"
#include "global/trigger.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

struct cleanup_rcpt {
	char *address;
	char *orig_rcpt;
	char *dsn_orcpt;
	int notify;
};

struct cleanup {
	char *queue_dir;
	int flags;
	struct qf_writer *writer;
	struct cleanup_stream *stream;
	bool started;			/* envelope written, content begun */

	/* envelope */
	char *sender;			/* NULL until set */
	char *full_name;
	char *envid;
	int ret;
	int qflags;
	int smtputf8;			/* CLEANUP_SMTPUTF8_* */
	struct argv *attrs;		/* "name=value" */
	long uid;			/* -1: not given */
	double arrival;
	char *orig_id;			/* requeued message's old ID, for the log */
	char *queue_id;			/* commit under this ID (pickup) */
	char *received;			/* Received: text of the producer (smtpd) */
	struct argv *prepend;		/* header fields before Received: (smtpd) */
	char *origin, *proto, *helo;	/* the client, for content check logs */
	int rewrite_context;		/* CLEANUP_RWR_* */

	/* recipients */
	struct cleanup_rcpt *rcpts;
	size_t rcpt_count, rcpt_cap;
	struct htable *dups;		/* "address\norig" of recipients seen */
	bool bad_rcpt;
	long rcpt_bytes;		/* cleanup_envelope_bytes() of those stored */
	char *too_many;			/* the envelope cap was hit: why */
	char *rewrite_err;		/* address rewriting failed: why (first) */
	struct argv *bccs;		/* recipient_bcc_maps answers, added at close */

	/* text */
	char *msgid;			/* Message-ID for the log (added or found) */
	struct cleanup_verdict verdict;	/* what content checks decided */
};

/* qualify - addr with @myorigin when it has no domain, and .$mydomain
 * after a domain without a dot (append_dot_mydomain). Caller frees. */
static char *qualify(const char *addr)
{
	char *q = addr_qualify(addr, var_myorigin), *at, *dotted;

	if (var_append_dot_mydomain && var_mydomain && *var_mydomain
	    && (at = strrchr(q, '@')) != NULL && at[1] && strchr(at + 1, '.') == NULL) {
		dotted = xasprintf("%s.%s", q, var_mydomain);
		free(q);
		q = dotted;
	}
	return q;
}

/* rewrite_failed - remember the first rewriting failure */
static void rewrite_failed(struct cleanup *c, const char *why)
{
	if (c->rewrite_err == NULL)
		c->rewrite_err = xstrdup(why);
}

/* cleanup_open - start a message */
struct cleanup *cleanup_open(const char *queue_dir, int flags, const char **error_r)
{
	static char why[600];
	struct qf_writer *w;
	struct cleanup *c;
	const char *err;

	/*
	 * in_flow_delay: when the queue manager falls behind, wait up to that
	 * long for a token before taking new mail (reports are not held up:
	 * they are the queue manager's own work).
	 */
	if (var_in_flow_delay > 0 && !(flags & CLEANUP_FLAG_BOUNCE))
		(void)mail_flow_get(queue_dir, (double)var_in_flow_delay);
	if ((w = qf_create(queue_dir, "incoming", &err)) == NULL) {
		snprintf(why, sizeof(why), "4.3.0 queue file write error: %s", err);
		*error_r = why;
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->queue_dir = xstrdup(queue_dir);
	c->flags = flags;
	c->writer = w;
	c->attrs = argv_create();
	c->uid = -1;
	c->arrival = wall_time();
	c->dups = htable_create(16);
	c->bccs = argv_create();
	return c;
}

/* check_envelope_open - setters are only legal before the first write */
static void check_envelope_open(const struct cleanup *c, const char *who)
{
	if (c->started)
		msg_panic("%s: called after cleanup_write()", who);
}

/* cleanup_set_sender - envelope sender */
void cleanup_set_sender(struct cleanup *c, const char *sender)
{
	const char *why;
	char *q, *out;

	check_envelope_open(c, "cleanup_set_sender");
	free(c->sender);
	q = qualify(sender);
	if (cleanup_rewrite_sender(q, &out, &why) < 0) {
		rewrite_failed(c, why);
		out = xstrdup(q);
	}
	free(q);
	c->sender = out;
}

/* cleanup_set_fullname - full name for an added From: */
void cleanup_set_fullname(struct cleanup *c, const char *name)
{
	check_envelope_open(c, "cleanup_set_fullname");
	free(c->full_name);
	c->full_name = name && *name ? xstrdup(name) : NULL;
}

/* cleanup_set_dsn - DSN envelope fields */
void cleanup_set_dsn(struct cleanup *c, const char *envid, int ret)
{
	check_envelope_open(c, "cleanup_set_dsn");
	free(c->envid);
	c->envid = envid && *envid ? xstrdup(envid) : NULL;
	c->ret = ret;
}

/* cleanup_set_qflags - trace flags */
void cleanup_set_qflags(struct cleanup *c, int qf_flags)
{
	check_envelope_open(c, "cleanup_set_qflags");
	c->qflags = qf_flags;
}

/* cleanup_smtputf8_class - is origin_class in smtputf8_autodetect_classes? */
bool cleanup_smtputf8_class(const char *origin_class)
{
	static const char *const known[] = {"sendmail", "smtpd", "qmqpd", "forward",
					    "bounce", "notify", "verify", NULL};
	char *copy = xstrdup(var_smtputf8_autodetect_classes ? var_smtputf8_autodetect_classes : "");
	char *cp = copy, *tok;
	bool found = false, ok;

	while ((tok = str_token(&cp, ", \t")) != NULL) {
		ok = strcasecmp(tok, "all") == 0 || strcasecmp(tok, "none") == 0;
		for (int i = 0; known[i] && !ok; i++)
			ok = strcasecmp(tok, known[i]) == 0;
		if (!ok)
			msg_warn("smtputf8_autodetect_classes: unknown class \"%s\" ignored", tok);
		else if (strcasecmp(tok, "all") == 0 || strcasecmp(tok, origin_class) == 0)
			found = true;
	}
	free(copy);
	return found;
}

/* cleanup_set_smtputf8 - SMTPUTF8 requested, or to be autodetected */
void cleanup_set_smtputf8(struct cleanup *c, int how)
{
	check_envelope_open(c, "cleanup_set_smtputf8");
	c->smtputf8 = how;
}

/* has_8bit - any byte above 127 */
static bool has_8bit(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s & 0x80)
			return true;
	return false;
}

/* smtputf8_flag - QF_FLAG_SMTPUTF8 when the message gets it (cleanup.h) */
static int smtputf8_flag(const struct cleanup *c, const struct cleanup_stream_info *info)
{
	if (!var_smtputf8_enable)
		return 0;
	if ((c->qflags & QF_FLAG_SMTPUTF8) || (c->smtputf8 & CLEANUP_SMTPUTF8_REQUESTED))
		return QF_FLAG_SMTPUTF8;
	if (!(c->smtputf8 & CLEANUP_SMTPUTF8_AUTODETECT))
		return 0;
	if (info->header_8bit || has_8bit(c->sender))
		return QF_FLAG_SMTPUTF8;
	for (size_t i = 0; i < c->rcpt_count; i++)
		if (has_8bit(c->rcpts[i].address))
			return QF_FLAG_SMTPUTF8;
	return 0;
}

/* cleanup_set_attr - name=value attribute */
void cleanup_set_attr(struct cleanup *c, const char *name, const char *value)
{
	char *pair;

	check_envelope_open(c, "cleanup_set_attr");
	pair = xasprintf("%s=%s", name, value);
	argv_add(c->attrs, pair, (char *)NULL);
	free(pair);
}

/* cleanup_set_uid - submitting user */
void cleanup_set_uid(struct cleanup *c, long uid)
{
	check_envelope_open(c, "cleanup_set_uid");
	c->uid = uid;
}

/* cleanup_set_arrival - arrival time */
void cleanup_set_arrival(struct cleanup *c, double when)
{
	check_envelope_open(c, "cleanup_set_arrival");
	c->arrival = when;
}

/* cleanup_set_queue_id - commit the message under this queue ID */
void cleanup_set_queue_id(struct cleanup *c, const char *id)
{
	free(c->queue_id);
	c->queue_id = xstrdup(id);
}

/* cleanup_reserve_id - the queue ID, fixed now */
int cleanup_reserve_id(struct cleanup *c, char id_r[QUEUE_ID_SIZE])
{
	if (c->queue_id) {
		snprintf(id_r, QUEUE_ID_SIZE, "%s", c->queue_id);
		return 0;
	}
	if (qf_reserve_id(c->writer, id_r) < 0)
		return -1;
	c->queue_id = xstrdup(id_r);
	return 0;
}

/* cleanup_set_received - the producer's own Received: header */
void cleanup_set_received(struct cleanup *c, const char *header)
{
	check_envelope_open(c, "cleanup_set_received");
	free(c->received);
	c->received = xstrdup(header);
}

/* cleanup_set_actions - HOLD, DISCARD, REDIRECT, FILTER decided before the content */
void cleanup_set_actions(struct cleanup *c, int acts, const char *redirect, const char *filter)
{
	if (acts & CLEANUP_ACT_HOLD)
		c->verdict.hold = true;
	if (acts & CLEANUP_ACT_DISCARD)
		c->verdict.discard = true;
	if (redirect) {
		free(c->verdict.redirect);
		c->verdict.redirect = xstrdup(redirect);
	}
	if (filter) {
		free(c->verdict.filter);
		c->verdict.filter = xstrdup(filter);
	}
}

/* cleanup_add_bcc - one more recipient of a copy, added at close */
void cleanup_add_bcc(struct cleanup *c, const char *addr)
{
	argv_add(c->bccs, addr, (char *)NULL);
}

/* cleanup_prepend_header - a header field before the Received: header */
void cleanup_prepend_header(struct cleanup *c, const char *field)
{
	char *copy = xstrdup(field);

	check_envelope_open(c, "cleanup_prepend_header");
	/* One line: nothing in it may end the header or start another. */
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p < 32 && *p != '\t')
			*p = ' ';
	if (c->prepend == NULL)
		c->prepend = argv_create();
	argv_add(c->prepend, copy, (char *)NULL);
	free(copy);
}

/* cleanup_set_origin - the client, for content check log lines */
void cleanup_set_origin(struct cleanup *c, const char *origin, const char *proto,
			const char *helo)
{
	check_envelope_open(c, "cleanup_set_origin");
	free(c->origin);
	free(c->proto);
	free(c->helo);
	c->origin = origin && *origin ? xstrdup(origin) : NULL;
	c->proto = proto && *proto ? xstrdup(proto) : NULL;
	c->helo = helo && *helo ? xstrdup(helo) : NULL;
}

/* cleanup_set_rewrite_context - local or remote header rewriting */
void cleanup_set_rewrite_context(struct cleanup *c, int context)
{
	check_envelope_open(c, "cleanup_set_rewrite_context");
	c->rewrite_context = context;
	cleanup_set_attr(c, "rewrite_context", context == CLEANUP_RWR_REMOTE ? "remote" : "local");
}

/* cleanup_set_orig_id - old queue ID of requeued mail */
void cleanup_set_orig_id(struct cleanup *c, const char *id)
{
	check_envelope_open(c, "cleanup_set_orig_id");
	free(c->orig_id);
	c->orig_id = id && *id ? xstrdup(id) : NULL;
}

/* rcpt_text_ok - non-empty, bounded, no control characters */
static bool rcpt_text_ok(const char *s, bool empty_ok)
{
	size_t n = strlen(s);

	if ((n == 0 && !empty_ok) || n > ADDR_MAX + 64)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 32 || *p == 127)
			return false;
	return true;
}

/* cleanup_envelope_bytes - one recipient's weight against the byte cap */
long cleanup_envelope_bytes(const char *addr, const char *orig_rcpt, const char *dsn_orcpt)
{
	return (long)(strlen(addr) + (orig_rcpt ? strlen(orig_rcpt) : 0)
		      + (dsn_orcpt ? strlen(dsn_orcpt) : 0));
}

/* cleanup_envelope_limit - the envelope cap */
int cleanup_envelope_limit(long count, long bytes, const char **why_r)
{
	static char why[200];

	if (var_cleanup_recipient_limit > 0 && count > var_cleanup_recipient_limit) {
		snprintf(why, sizeof(why), "5.5.3 too many recipients (cleanup_recipient_limit "
			 "is %ld)", var_cleanup_recipient_limit);
		*why_r = why;
		return -1;
	}
	if (var_cleanup_envelope_size_limit > 0 && bytes > var_cleanup_envelope_size_limit) {
		snprintf(why, sizeof(why), "5.3.4 envelope size exceeds cleanup_envelope_size_limit "
			 "(%ld bytes of recipients)", var_cleanup_envelope_size_limit);
		*why_r = why;
		return -1;
	}
	return 0;
}

/* cleanup_space_check - room for new mail? */
int cleanup_space_check(const char *queue_dir, const char **why_r)
{
	static char why[300];
	struct statvfs sv;
	double avail, need = (double)var_queue_minfree;

	if (var_message_size_limit > 0 && 1.5 * (double)var_message_size_limit > need)
		need = 1.5 * (double)var_message_size_limit;
	if (need <= 0 || statvfs(queue_dir, &sv) < 0)
		return 0;
	avail = (double)sv.f_bavail * (double)sv.f_frsize;
	if (avail >= need)
		return 0;
	snprintf(why, sizeof(why), "4.3.1 insufficient system storage: %.0f bytes free in the "
		 "queue file system, %.0f needed (queue_minfree, 1.5 x message_size_limit)",
		 avail, need);
	*why_r = why;
	return -1;
}

/* add_rcpt - store a recipient unless it is a duplicate; CLEANUP_TOO_MANY */
static int add_rcpt(struct cleanup *c, const char *addr, const char *orig,
		    const char *dsn_orcpt, int notify)
{
	struct cleanup_rcpt *r;
	const char *why;
	long bytes;
	char *key;

	if (c->too_many)
		return CLEANUP_TOO_MANY;
	key = xasprintf("%s\n%s", addr, orig ? orig : "");

	/* Postfix's duplicate filter: same address and original recipient. */
	if (htable_find(c->dups, key) != NULL) {
		free(key);
		return 0;
	}
	bytes = cleanup_envelope_bytes(addr, orig, dsn_orcpt);
	if (cleanup_envelope_limit((long)c->rcpt_count + 1, c->rcpt_bytes + bytes, &why) < 0) {
		c->too_many = xstrdup(why);
		free(key);
		return CLEANUP_TOO_MANY;
	}
	c->rcpt_bytes += bytes;
	if ((long)htable_count(c->dups) < var_duplicate_filter_limit
	    || var_duplicate_filter_limit == 0)
		htable_enter(c->dups, key, c);
	free(key);
	if (c->rcpt_count == c->rcpt_cap) {
		c->rcpt_cap = c->rcpt_cap ? 2 * c->rcpt_cap : 8;
		c->rcpts = xreallocarray(c->rcpts, c->rcpt_cap, sizeof(*c->rcpts));
	}
	r = &c->rcpts[c->rcpt_count++];
	r->address = xstrdup(addr);
	r->orig_rcpt = orig && *orig ? xstrdup(orig) : NULL;
	r->dsn_orcpt = dsn_orcpt && *dsn_orcpt ? xstrdup(dsn_orcpt) : NULL;
	r->notify = notify;
	return 0;
}

/*
 * process_rcpt - one qualified recipient through rewriting: canonical
 * mapping and masquerading (not for BCC copies), recipient_bcc_maps, then
 * virtual alias expansion; each final address is stored with the original
 * recipient (the given one, else the address before rewriting when that
 * differs) for DSN and the log's orig_to=.
 */
static int process_rcpt(struct cleanup *c, const char *q, const char *orig,
			const char *dsn_orcpt, int notify, bool is_bcc)
{
	struct argv *final = argv_create();
	const char *why;
	char *canon;
	int rc = 0;

	if (is_bcc) {
		canon = xstrdup(q);
	} else if (cleanup_rewrite_rcpt(q, &canon, &why) < 0) {
		rewrite_failed(c, why);
		canon = xstrdup(q);
	}
	if (!is_bcc && !(c->flags & CLEANUP_FLAG_BOUNCE)
	    && cleanup_bcc_rcpt(canon, c->bccs, &why) < 0)
		rewrite_failed(c, why);
	if (cleanup_virtual_expand(canon, final, &why) < 0) {
		rewrite_failed(c, why);
		argv_add(final, canon, (char *)NULL);
	}
	for (size_t i = 0; i < final->argc && rc == 0; i++) {
		const char *o = orig && *orig ? orig
		    : strcmp(final->argv[i], q) != 0 ? q : NULL;

		rc = add_rcpt(c, final->argv[i], o, dsn_orcpt, notify);
	}
	argv_free(&final);
	free(canon);
	return rc;
}

/* cleanup_add_rcpt - add one envelope recipient */
int cleanup_add_rcpt(struct cleanup *c, const char *addr, const char *orig_rcpt,
		     const char *dsn_orcpt, int notify)
{
	char *q;
	int rc;

	if (addr == NULL || !rcpt_text_ok(addr, false)
	    || (orig_rcpt && !rcpt_text_ok(orig_rcpt, true))
	    || (dsn_orcpt && !rcpt_text_ok(dsn_orcpt, true))) {
		c->bad_rcpt = true;
		return -1;
	}
	q = qualify(addr);
	rc = process_rcpt(c, q, orig_rcpt, dsn_orcpt, notify, false);
	free(q);
	return rc;
}

/* stream_out - filtered text goes into the queue file */
static void stream_out(const char *data, size_t len, void *ctx)
{
	struct cleanup *c = ctx;

	qf_put_content(c->writer, data, len);
}

/* emit_header - one header line of our own, after the ones read so far */
static void emit_header(struct cleanup_stream *s, struct buf *b)
{
	buf_putc(b, '\n');
	cleanup_stream_emit(s, b->data, b->len);
	buf_reset(b);
}

/* new_msgid - "<YYYYMMDDhhmmss.RANDOM@myhostname>" */
static char *new_msgid(double when)
{
	time_t t = (time_t)when;
	unsigned char rnd[6];
	char stamp[32];
	struct tm tm;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		unsigned long x = (unsigned long)getpid() * 2654435761UL
		    ^ (unsigned long)(when * 1e6);

		for (size_t i = 0; i < sizeof(rnd); i++, x >>= 8)
			rnd[i] = (unsigned char)x;
	}
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	return xasprintf("<%s.%02X%02X%02X%02X%02X%02X@%s>", stamp, rnd[0], rnd[1], rnd[2],
			 rnd[3], rnd[4], rnd[5], var_myhostname);
}

/* add_missing_headers - hdr_end callback: From, Date, Message-ID */
static void add_missing_headers(struct cleanup_stream *s, void *ctx)
{
	struct cleanup *c = ctx;
	const struct cleanup_stream_info *info = cleanup_stream_info(s);
	struct buf b;
	char *q;

	buf_init(&b, 256);
	if (!info->has_from) {
		buf_puts(&b, "From: ");
		if (*c->sender == 0) {
			buf_printf(&b, "MAILER-DAEMON@%s", var_myhostname);
		} else {
			q = addr_quote(c->sender);
			if (c->full_name) {
				rfc822_append_phrase(&b, c->full_name);
				buf_printf(&b, " <%s>", q);
			} else {
				buf_puts(&b, q);
			}
			free(q);
		}
		emit_header(s, &b);
	}
	if (!info->has_date) {
		buf_puts(&b, "Date: ");
		rfc822_date(&b, (time_t)c->arrival);
		emit_header(s, &b);
	}
	if (!info->has_msgid) {
		c->msgid = new_msgid(c->arrival);
		buf_printf(&b, "Message-ID: %s", c->msgid);
		emit_header(s, &b);
	}
	buf_deinit(&b);
}

/* rewrite_header - a primary header field's addresses (sender and recipient fields) */
static void rewrite_header(struct cleanup_stream *s, struct buf *text, void *ctx)
{
	struct cleanup *c = ctx;
	const char *why;

	(void)s;
	if (c->rewrite_err == NULL && cleanup_rewrite_header(text, c->rewrite_context
							     == CLEANUP_RWR_REMOTE
							     ? var_remote_header_rewrite_domain
							     : NULL, &why) < 0)
		rewrite_failed(c, why);
}

/* check_queue_id - the queue ID for a content check log line */
static const char *check_queue_id(void *ctx)
{
	static char id[QUEUE_ID_SIZE];
	struct cleanup *c = ctx;

	if (cleanup_reserve_id(c, id) < 0)
		snprintf(id, sizeof(id), "NOQUEUE");
	return id;
}

/* check_line - a header field or body line through the content checks */
static bool check_line(struct cleanup_stream *s, int cls, struct buf *text, void *ctx)
{
	struct cleanup *c = ctx;
	struct cleanup_checks_log lg = {
		.queue_id = check_queue_id, .ctx = c, .origin = c->origin, .sender = c->sender,
		.rcpt = c->rcpt_count ? c->rcpts[0].address : NULL, .proto = c->proto,
		.helo = c->helo,
	};

	return cleanup_checks_apply(&c->verdict, cls, text, s, &lg);
}

/* fill_envelope - the envelope of the queue file from what was set */
static void fill_envelope(struct cleanup *c, struct qf_envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->arrival_time = c->arrival;
	env->sender = c->sender;
	env->envid = c->envid ? c->envid : "";
	env->ret = c->ret;
	env->flags = c->qflags | ((c->flags & CLEANUP_FLAG_BOUNCE) ? QF_FLAG_BOUNCE : 0);
	if (var_delay_warning_time > 0 && *c->sender != 0)
		env->warn_time = (long)c->arrival + var_delay_warning_time;
	env->attrs = c->attrs->argv;
}

/* set_filter - the filter= attribute (replacing any) */
static void set_filter(struct cleanup *c, const char *filter)
{
	char *pair = xasprintf("filter=%s", filter);

	for (size_t i = 0; i < c->attrs->argc; i++) {
		if (strncmp(c->attrs->argv[i], "filter=", 7) == 0) {
			free(c->attrs->argv[i]);
			c->attrs->argv[i] = pair;
			return;
		}
	}
	argv_add(c->attrs, pair, (char *)NULL);
	free(pair);
}

/* start - write the envelope and our Received: line; set up the filter */
static void start(struct cleanup *c)
{
	struct qf_envelope env;
	struct buf b;
	bool checks;

	if (c->sender == NULL)
		msg_panic("cleanup: message without cleanup_set_sender()");
	c->started = true;

	/* content_filter: the queue manager sends the whole message there. */
	if (var_content_filter && *var_content_filter) {
		bool have = false;

		for (size_t i = 0; i < c->attrs->argc; i++)
			if (strncmp(c->attrs->argv[i], "filter=", 7) == 0)
				have = true;
		if (!have)
			set_filter(c, var_content_filter);
	}
	fill_envelope(c, &env);
	qf_put_envelope(c->writer, &env);

	/*
	 * Received: goes first.  Postfix writes "id QUEUEID" in it; our ID is
	 * the inode number, known only once the file is renamed at commit, so
	 * the line has no id (see cleanup.h).
	 */
	buf_init(&b, 256);
	for (size_t i = 0; c->prepend && i < c->prepend->argc; i++)
		buf_printf(&b, "%s\n", c->prepend->argv[i]);
	if (c->received) {
		buf_printf(&b, "%s\n", c->received);
	} else {
		buf_printf(&b, "Received: by %s (%s", var_myhostname, var_mail_name);
		if (c->uid >= 0)
			buf_printf(&b, ", from userid %ld", c->uid);
		buf_puts(&b, ");\n\t");
		rfc822_date(&b, (time_t)c->arrival);
		buf_putc(&b, '\n');
	}
	qf_put_content(c->writer, b.data, b.len);
	buf_deinit(&b);

	/* Content checks: not for delivery status reports (as Postfix). */
	checks = !(c->flags & CLEANUP_FLAG_BOUNCE) && cleanup_checks_configured();
	c->stream = cleanup_stream_create(((c->flags & CLEANUP_FLAG_EXTRACT)
					   ? CLEANUP_STREAM_EXTRACT : 0)
					  | (var_cleanup_replace_stray_cr_lf
					     ? CLEANUP_STREAM_STRAY_CR : 0)
					  | (checks ? CLEANUP_STREAM_CHECKS : 0),
					  var_header_size_limit, var_message_size_limit,
					  stream_out, add_missing_headers, c);
	if (checks)
		cleanup_stream_set_checks(c->stream, check_line, var_line_length_limit,
					  var_body_checks_size_limit);
	/* Header addresses: always for local mail; for remote clients only
	 * with remote_header_rewrite_domain (Postfix's rule). */
	if (c->rewrite_context == CLEANUP_RWR_LOCAL
	    || (var_remote_header_rewrite_domain && *var_remote_header_rewrite_domain))
		cleanup_stream_set_rewrite(c->stream, rewrite_header);
}

/* cleanup_write - message text */
void cleanup_write(struct cleanup *c, const char *data, size_t len)
{
	if (!c->started)
		start(c);
	cleanup_stream_write(c->stream, data, len);
}

/* cleanup_free - release everything; the writer must be gone */
static void cleanup_free(struct cleanup **cp)
{
	struct cleanup *c = *cp;

	for (size_t i = 0; i < c->rcpt_count; i++) {
		free(c->rcpts[i].address);
		free(c->rcpts[i].orig_rcpt);
		free(c->rcpts[i].dsn_orcpt);
	}
	free(c->rcpts);
	htable_free(&c->dups, NULL);
	cleanup_stream_free(&c->stream);
	argv_free(&c->attrs);
	free(c->queue_dir);
	free(c->sender);
	free(c->full_name);
	free(c->envid);
	free(c->msgid);
	free(c->orig_id);
	free(c->queue_id);
	free(c->received);
	argv_free(&c->prepend);
	free(c->origin);
	free(c->proto);
	free(c->helo);
	cleanup_verdict_free(&c->verdict);
	free(c->too_many);
	free(c->rewrite_err);
	argv_free(&c->bccs);
	free(c);
	*cp = NULL;
}

/* cleanup_abort - discard */
void cleanup_abort(struct cleanup **cp)
{
	if (*cp == NULL)
		return;
	qf_abort(&(*cp)->writer);
	cleanup_free(cp);
}

/* refuse - abort with a reason */
static int refuse(struct cleanup **cp, const char *why, const char **error_r)
{
	*error_r = why;
	cleanup_abort(cp);
	return -1;
}

/*
 * return_to_sender - CLEANUP_FLAG_RETURN: a permanent refusal becomes a
 * bounce.  The message is queued with every recipient done and a bounce/
 * record for each (written before the commit, so the queue manager, which
 * sees a message with nothing left to deliver, finds them and has the
 * bounce service send the report).  Under soft_bounce the refusal stays a
 * temporary one (the producer tries again).
 */
static int return_to_sender(struct cleanup **cp, const char *why, char id_r[QUEUE_ID_SIZE],
			    const char **error_r)
{
	static char out[600];
	struct cleanup *c = *cp;
	struct rcpt_status st;
	struct bounce_append_log lg = {0};
	const char *text = why + strcspn(why, " "), *err;
	char id[QUEUE_ID_SIZE];
	long *offsets;
	int rc = 0;

	if (var_soft_bounce) {
		snprintf(out, sizeof(out), "4%s", why + 1);
		return refuse(cp, out, error_r);
	}
	if (cleanup_reserve_id(c, id) < 0)
		return refuse(cp, "4.3.0 queue file write error: cannot reserve a queue ID",
			      error_r);
	memset(&st, 0, sizeof(st));
	memcpy(st.dsn.status, why, (size_t)(text - why) < 15 ? (size_t)(text - why) : 15);
	if (!dsn_status_valid(st.dsn.status))
		snprintf(st.dsn.status, sizeof(st.dsn.status), "5.0.0");
	st.dsn.reason = *text ? text + 1 : why;
	st.dsn.action = "failed";
	st.time = wall_time();
	lg.delay = st.time - c->arrival;

	offsets = xcalloc(c->rcpt_count, sizeof(*offsets));
	for (size_t i = 0; i < c->rcpt_count; i++)
		offsets[i] = qf_add_done_rcpt(c->writer, c->rcpts[i].address, c->rcpts[i].orig_rcpt,
					      c->rcpts[i].dsn_orcpt, c->rcpts[i].notify);
	for (size_t i = 0; i < c->rcpt_count && rc == 0; i++) {
		st.recipient = c->rcpts[i].address;
		st.orig_rcpt = c->rcpts[i].orig_rcpt ? c->rcpts[i].orig_rcpt : "";
		st.dsn_orcpt = c->rcpts[i].dsn_orcpt ? c->rcpts[i].dsn_orcpt : "";
		st.notify = c->rcpts[i].notify;
		st.offset = offsets[i];
		if (st.offset < 0 || bounce_append(id, &st, (c->qflags & QF_FLAG_TRACE_VERBOSE) != 0,
						   &lg, &err) < 0)
			rc = -1;
	}
	free(offsets);
	if (c->queue_id)
		qf_set_id(c->writer, c->queue_id);
	if (rc < 0 || qf_commit(&c->writer, id, &err) < 0) {
		(void)status_log_remove(c->queue_dir, STATUS_LOG_BOUNCE, id);
		(void)status_log_remove(c->queue_dir, STATUS_LOG_TRACE, id);
		snprintf(out, sizeof(out), "4.3.0 cannot return the message to its sender: %s",
			 rc < 0 ? "bounce log write error" : err);
		*error_r = out;
		if (c->writer)
			qf_abort(&c->writer);
		cleanup_free(cp);
		return -1;
	}
	return 0;
}

/* refuse_or_return - a refusal; permanent ones bounce with CLEANUP_FLAG_RETURN */
static int refuse_or_return(struct cleanup **cp, const char *why, char id_r[QUEUE_ID_SIZE],
			    const char **error_r, bool *returned_r)
{
	struct cleanup *c = *cp;

	if ((c->flags & CLEANUP_FLAG_RETURN) && why[0] == '5' && c->rcpt_count > 0) {
		*returned_r = true;
		return return_to_sender(cp, why, id_r, error_r);
	}
	return refuse(cp, why, error_r);
}

/* apply_verdict - REDIRECT and BCC of the content checks */
static void apply_verdict(struct cleanup *c)
{
	struct cleanup_verdict *v = &c->verdict;

	/* REDIRECT: one address for every recipient, each keeping its original. */
	if (v->redirect) {
		struct cleanup_rcpt *old = c->rcpts;
		size_t n = c->rcpt_count;
		char *q = qualify(v->redirect);

		c->rcpts = NULL;
		c->rcpt_count = c->rcpt_cap = 0;
		c->rcpt_bytes = 0;
		htable_free(&c->dups, NULL);
		c->dups = htable_create(16);
		for (size_t i = 0; i < n; i++) {
			(void)add_rcpt(c, q, old[i].orig_rcpt ? old[i].orig_rcpt : old[i].address,
				       old[i].dsn_orcpt, old[i].notify);
			free(old[i].address);
			free(old[i].orig_rcpt);
			free(old[i].dsn_orcpt);
		}
		free(old);
		free(q);
	}
	for (size_t i = 0; v->bcc && i < v->bcc->argc && !c->too_many; i++) {
		char *q = qualify(v->bcc->argv[i]);

		(void)process_rcpt(c, q, NULL, NULL, 0, true);
		free(q);
	}
}

/* count_received - one message accepted, counted by the program that took it */
static void count_received(void)
{
	char name[COUNTERS_NAME_MAX + 1];
	const char *prog = log_progname() ? log_progname() : "unknown";

	/* Program names are [a-z0-9-] words: no escaping needed. */
	snprintf(name, sizeof(name), "sluice_received_messages_total{source=\"%s\"}", prog);
	counters_add(name, 1);
}

/* cleanup_close - finish, commit, log, trigger */
int cleanup_close(struct cleanup **cp, char id_r[QUEUE_ID_SIZE], const char **error_r)
{
	static char why[600];
	struct cleanup *c = *cp;
	const struct cleanup_stream_info *info;
	const char *refusal = NULL;
	bool returned = false;
	struct buf esc;
	const char *err;
	char id[QUEUE_ID_SIZE];

	if (!c->started)
		start(c);
	cleanup_stream_finish(c->stream);
	info = cleanup_stream_info(c->stream);

	if (c->flags & CLEANUP_FLAG_EXTRACT) {
		for (size_t i = 0; i < info->rcpts->argc && !c->too_many; i++) {
			char *q = qualify(info->rcpts->argv[i]);

			(void)process_rcpt(c, q, NULL, NULL, 0, false);
			free(q);
		}
	}

	/* Refusals, in Postfix's order of precedence. */
	if (info->too_big)
		refusal = "5.3.4 message size exceeds fixed limit";
	else if (var_hopcount_limit > 0 && info->received >= var_hopcount_limit)
		refusal = "5.4.6 too many hops";
	else if (c->bad_rcpt)
		refusal = "5.1.3 malformed recipient address";
	else if (c->verdict.error)
		refusal = snprintf(why, sizeof(why), "%s", c->verdict.error) > 0 ? why : "";
	if (refusal) {
		if (refuse_or_return(cp, refusal, id_r, error_r, &returned) < 0)
			return -1;
		goto accepted;
	}
	apply_verdict(c);

	/* Automatic BCC: sender_bcc_maps, recipient_bcc_maps, always_bcc (not
	 * for delivery status reports, as Postfix). */
	if (!(c->flags & CLEANUP_FLAG_BOUNCE) && c->rcpt_count > 0 && !c->too_many) {
		struct argv *bcc = argv_create();
		const char *bwhy;

		if (cleanup_bcc_sender(c->sender, bcc, &bwhy) < 0)
			rewrite_failed(c, bwhy);
		for (size_t i = 0; i < c->bccs->argc; i++)
			argv_add(bcc, c->bccs->argv[i], (char *)NULL);
		if (var_always_bcc && *var_always_bcc)
			argv_add(bcc, var_always_bcc, (char *)NULL);
		for (size_t i = 0; i < bcc->argc && !c->too_many; i++) {
			char *q = qualify(bcc->argv[i]);

			(void)process_rcpt(c, q, NULL, NULL, 0, true);
			free(q);
		}
		argv_free(&bcc);
	}
	/* A table that could not be read: not now, the producer retries. */
	if (c->rewrite_err) {
		snprintf(why, sizeof(why), "%s", c->rewrite_err);
		return refuse(cp, why, error_r);
	}
	/* Over the envelope caps: refused, never returned (a bounce listing
	 * the first cleanup_recipient_limit recipients helps nobody). */
	if (c->too_many) {
		snprintf(why, sizeof(why), "%s", c->too_many);
		return refuse(cp, why, error_r);
	}
	if (c->rcpt_count == 0)
		return refuse(cp, "5.1.3 no recipients specified", error_r);

	/* DISCARD: the producer is told "accepted"; nothing is queued. */
	if (c->verdict.discard) {
		if (cleanup_reserve_id(c, id) < 0)
			snprintf(id, sizeof(id), "NOQUEUE");
		memcpy(id_r, id, QUEUE_ID_SIZE);
		cleanup_abort(cp);
		return 0;
	}
	/* FILTER chosen after the envelope was written: write it again. */
	if (c->verdict.filter) {
		struct qf_envelope env;

		set_filter(c, c->verdict.filter);
		fill_envelope(c, &env);
		if (qf_rewrite_envelope(c->writer, &env) < 0) {
			snprintf(why, sizeof(why), "4.3.0 queue file write error: %s",
				 strerror(errno));
			return refuse(cp, why, error_r);
		}
	}
	if (c->verdict.hold)
		qf_set_queue(c->writer, "hold");

	qf_set_flags(c->writer, ((c->qflags | ((c->flags & CLEANUP_FLAG_BOUNCE) ? QF_FLAG_BOUNCE : 0))
				 & ~QF_FLAG_SMTPUTF8) | smtputf8_flag(c, info));
	for (size_t i = 0; i < c->rcpt_count; i++)
		qf_add_rcpt(c->writer, c->rcpts[i].address, c->rcpts[i].orig_rcpt,
			    c->rcpts[i].dsn_orcpt, c->rcpts[i].notify);
	if (c->queue_id)
		qf_set_id(c->writer, c->queue_id);
	if (qf_commit(&c->writer, id, &err) < 0) {
		snprintf(why, sizeof(why), "4.3.0 queue file write error: %s", err);
		*error_r = why;
		cleanup_free(cp);
		return -1;
	}
accepted:
	c = *cp;
	if (returned)
		snprintf(id, sizeof(id), "%s", c->queue_id);
	memcpy(id_r, id, QUEUE_ID_SIZE);

	/* The accepted message, in Postfix's words. */
	buf_init(&esc, 128);
	if (c->uid >= 0 && c->orig_id)
		msg_info("%s: uid=%ld from=<%s> orig_id=%s", id, c->uid,
			 log_escape(&esc, c->sender), c->orig_id);
	else if (c->uid >= 0)
		msg_info("%s: uid=%ld from=<%s>", id, c->uid, log_escape(&esc, c->sender));
	buf_reset(&esc);
	msg_info("%s: message-id=%s", id,
		 log_escape(&esc, c->msgid ? c->msgid : info->msgid ? info->msgid : ""));
	buf_deinit(&esc);
	count_received();

	if (!c->verdict.hold
	    && trigger_send(c->queue_dir, TRIGGER_QMGR, TRIGGER_REQ_SCAN_INCOMING, 1, &err) < 0)
		msg_debug("%s: qmgr trigger: %s", id, err);
	cleanup_free(cp);
	return 0;
}
