/*
 * notice - postmaster notices (see notice.h for the contract).
 *
 * The message is built by notice_format() (pure, unit-tested) with the
 * line discipline of bounce_format: folded header fields, no line over
 * 998 octets, control characters of untrusted text shown as '?'.  It is
 * queued by notice_submit() through the cleanup library, as the bounce
 * service queues its reports.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "global/bounce_format.h"
#include "global/cleanup/cleanup.h"
#include "global/notice.h"
#include "global/params.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

static const struct {
	int bit;
	const char *name;
} class_names[] = {
	{NOTICE_BOUNCE, "bounce"},
	{NOTICE_2BOUNCE, "2bounce"},
	{NOTICE_DELAY, "delay"},
	{NOTICE_POLICY, "policy"},
	{NOTICE_PROTOCOL, "protocol"},
	{NOTICE_RESOURCE, "resource"},
	{NOTICE_SOFTWARE, "software"},
	{NOTICE_DATA, "data"},
};
#define CLASS_COUNT	(sizeof(class_names) / sizeof(class_names[0]))

static int submit(const char *env_sender, const char *recipient, const struct buf *message,
		  char id_r[QUEUE_ID_SIZE], const char **error_r);

#define TRANSCRIPT_WIDTH	78	/* Postfix wraps transcripts here ... */
#define TRANSCRIPT_INDENT	"    "	/* ... continuing with four spaces */

/* notice_class_mask - bits of a class list */
int notice_class_mask(const char *list)
{
	int mask = 0;

	for (size_t i = 0; list && i < CLASS_COUNT; i++)
		if (str_list_match(list, class_names[i].name))
			mask |= class_names[i].bit;
	return mask;
}

/* notice_enabled - which classes of mask notify_classes lists */
int notice_enabled(int mask)
{
	return mask & notice_class_mask(var_notify_classes);
}

/* notice_class_name - name of the lowest class bit */
const char *notice_class_name(int mask)
{
	for (size_t i = 0; i < CLASS_COUNT; i++)
		if (mask & class_names[i].bit)
			return class_names[i].name;
	return "";
}

/* notice_sender_is_ours - double_bounce_sender, bare or @myorigin */
bool notice_sender_is_ours(const char *sender)
{
	size_t n;

	if (sender == NULL || *sender == 0 || var_double_bounce_sender == NULL)
		return false;
	if (strcasecmp(sender, var_double_bounce_sender) == 0)
		return true;
	n = strlen(var_double_bounce_sender);
	return strchr(var_double_bounce_sender, '@') == NULL
		&& strncasecmp(sender, var_double_bounce_sender, n) == 0 && sender[n] == '@'
		&& var_myorigin && strcasecmp(sender + n + 1, var_myorigin) == 0;
}

/* recipient_for - who gets a notice of these classes */
static const char *recipient_for(int classes)
{
	/* The four "error" classes share one recipient; it wins when mixed. */
	if (classes & (NOTICE_POLICY | NOTICE_PROTOCOL | NOTICE_RESOURCE | NOTICE_SOFTWARE
		       | NOTICE_DATA))
		return var_error_notice_recipient;
	if (classes & NOTICE_BOUNCE)
		return var_bounce_notice_recipient;
	if (classes & NOTICE_2BOUNCE)
		return var_double_bounce_notice_recipient;
	return var_delay_notice_recipient;
}

/* put_transcript_line - one transcript line, wrapped, as text for people */
static void put_transcript_line(struct buf *body, const char *line, size_t len)
{
	size_t col = 1, room, cut;

	/*
	 * A leading space on every line (Postfix does the same with text from
	 * the network): a line of the peer's that reads "From " or "." cannot
	 * be taken for anything but transcript.  Spacing is kept as it was
	 * ("In:  250 ..."); long lines break at the last space that fits, or
	 * mid-word when none does.
	 */
	buf_putc(body, ' ');
	while (len > 0) {
		room = TRANSCRIPT_WIDTH - col;
		cut = len;
		if (len > room) {
			for (cut = room; cut > 0 && line[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = room;
		}
		for (size_t i = 0; i < cut; i++) {
			unsigned char ch = (unsigned char)line[i];

			buf_putc(body, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
		}
		line += cut;
		len -= cut;
		if (len == 0)
			break;
		if (*line == ' ') {
			line++;
			len--;
		}
		buf_puts(body, "\n" TRANSCRIPT_INDENT);
		col = sizeof(TRANSCRIPT_INDENT) - 1;
	}
	buf_putc(body, '\n');
}

/* notice_format - the whole message */
void notice_format(struct buf *out, const struct notice *n, const char *to, double now)
{
	struct buf body;
	char date[64];
	struct tm tm;
	time_t t = (time_t)now;
	const char *p, *nl;

	buf_reset(out);
	buf_init(&body, 1024);

	/* The text: each line a paragraph, wrapped for reading. */
	for (p = n->text ? n->text : ""; *p; p = nl + 1) {
		char *para;

		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		para = xstrndup(p, (size_t)(nl - p));
		if (*para)
			bounce_format_para(&body, para);
		free(para);
		if (*nl == 0)
			break;
	}
	if (n->transcript && *n->transcript) {
		bounce_format_para(&body, "Transcript of session follows.");
		for (p = n->transcript; *p; p = nl + 1) {
			nl = strchr(p, '\n');
			if (nl == NULL)
				nl = p + strlen(p);
			put_transcript_line(&body, p, (size_t)(nl - p));
			if (*nl == 0)
				break;
		}
		buf_putc(&body, '\n');
	}
	bounce_format_para(&body, "For other details, see the local mail logfile.");

	bounce_format_fieldf(out, "From", "MAILER-DAEMON@%s (Mail Delivery System)",
			     var_myhostname);
	bounce_format_fieldf(out, "To", "%s (Postmaster)", to);
	bounce_format_field(out, "Subject", n->subject);
	bounce_format_field(out, "Auto-Submitted", "auto-generated");
	bounce_format_date(date, now);
	bounce_format_field(out, "Date", date);
	gmtime_r(&t, &tm);
	bounce_format_fieldf(out, "Message-Id", "<%04d%02d%02d%02d%02d%02d.%s.%s.notice@%s>",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, n->queue_id ? n->queue_id : "0",
			     notice_class_name(n->classes), var_myhostname);
	bounce_format_field(out, "MIME-Version", "1.0");
	if (bounce_format_8bit(&body)) {
		bounce_format_field(out, "Content-Type", "text/plain; charset=utf-8");
		bounce_format_field(out, "Content-Transfer-Encoding", "8bit");
	} else {
		bounce_format_field(out, "Content-Type", "text/plain; charset=us-ascii");
		bounce_format_field(out, "Content-Transfer-Encoding", "7bit");
	}
	buf_putc(out, '\n');
	bounce_format_lines(out, body.data, body.len);
	buf_deinit(&body);
}

/* as_mail_owner - a process that runs as root (local, pipe) writes the
 * queue file as mail_owner, or the queue manager could not read it.
 * Returns true when it switched (undo with as_root()). */
static bool as_mail_owner(void)
{
	struct passwd *pw;

	if (geteuid() != 0 || var_mail_owner == NULL
	    || (pw = getpwnam(var_mail_owner)) == NULL || pw->pw_uid == 0)
		return false;
	if (setegid(pw->pw_gid) < 0 || seteuid(pw->pw_uid) < 0)
		msg_fatal("cannot switch to mail_owner %s: %s", var_mail_owner, strerror(errno));
	return true;
}

/* as_root - back to root after as_mail_owner() */
static void as_root(void)
{
	if (seteuid(0) < 0 || setegid(getgid()) < 0)
		msg_fatal("cannot switch back to root: %s", strerror(errno));
}

/* notice_submit - one finished message into the queue */
int notice_submit(const char *env_sender, const char *recipient, const struct buf *message,
		  char id_r[QUEUE_ID_SIZE], const char **error_r)
{
	bool switched = as_mail_owner();
	int rc = submit(env_sender, recipient, message, id_r, error_r);

	if (switched)
		as_root();
	return rc;
}

/* submit - cleanup's part of notice_submit() */
static int submit(const char *env_sender, const char *recipient, const struct buf *message,
		  char id_r[QUEUE_ID_SIZE], const char **error_r)
{
	struct cleanup *c;

	if ((c = cleanup_open(var_queue_directory, CLEANUP_FLAG_BOUNCE, error_r)) == NULL)
		return -1;
	cleanup_set_sender(c, env_sender);
	cleanup_set_qflags(c, QF_FLAG_BOUNCE);
	cleanup_set_dsn(c, "", 0);
	/* Default NOTIFY: a failure comes back, to be discarded (never looped). */
	if (cleanup_add_rcpt(c, recipient, "", "", 0) != 0) {
		cleanup_abort(&c);
		*error_r = "cleanup refused the notice's recipient";
		return -1;
	}
	cleanup_write(c, message->data, message->len);
	return cleanup_close(&c, id_r, error_r);
}

/* Subjects this process sent lately (a small ring is plenty). */
#define REPEAT_SLOTS	16
static struct {
	char *subject;
	double when;
} repeats[REPEAT_SLOTS];
static size_t repeat_next;

/* repeated - was this Subject sent within NOTICE_REPEAT_SECS? */
static bool repeated(const char *subject, double now)
{
	for (size_t i = 0; i < REPEAT_SLOTS; i++)
		if (repeats[i].subject && strcmp(repeats[i].subject, subject) == 0
		    && now - repeats[i].when < NOTICE_REPEAT_SECS && now >= repeats[i].when)
			return true;
	return false;
}

/* remember - note a Subject as sent */
static void remember(const char *subject, double now)
{
	free(repeats[repeat_next].subject);
	repeats[repeat_next].subject = xstrdup(subject);
	repeats[repeat_next].when = now;
	repeat_next = (repeat_next + 1) % REPEAT_SLOTS;
}

/* notice_reset_repeats - forget what was sent */
void notice_reset_repeats(void)
{
	for (size_t i = 0; i < REPEAT_SLOTS; i++)
		XFREE(repeats[i].subject);
	repeat_next = 0;
}

/* notice_send - format and queue when the class is wanted */
int notice_send(const struct notice *n, double now, const char **error_r)
{
	int classes = notice_enabled(n->classes);
	const char *to, *cls, *id = n->queue_id;
	char new_id[QUEUE_ID_SIZE];
	struct buf *msg;
	int rc;

	if (classes == 0)
		return 0;
	cls = notice_class_name(classes);
	if (notice_sender_is_ours(n->sender)) {
		msg_info("%s%spostmaster %s notification discarded: the message is itself a "
			 "postmaster notice", id ? id : "", id ? ": " : "", cls);
		return 0;
	}
	if (repeated(n->subject, now)) {
		msg_debug("%s%spostmaster %s notification not repeated: %s", id ? id : "",
			  id ? ": " : "", cls, n->subject);
		return 0;
	}
	to = recipient_for(classes);
	msg = buf_create(2048);
	notice_format(msg, &(struct notice){.classes = classes, .queue_id = id,
					     .sender = n->sender, .subject = n->subject,
					     .text = n->text, .transcript = n->transcript},
		      to, now);
	rc = notice_submit(var_double_bounce_sender, to, msg, new_id, error_r);
	buf_free(&msg);
	if (rc < 0)
		return -1;
	remember(n->subject, now);
	msg_info("%s%spostmaster %s notification: %s", id ? id : "", id ? ": " : "", cls,
		 new_id);
	return 1;
}

/* notice_warn - a plain "Postmaster Warning" notice, failures warned */
void notice_warn(int cls, const char *queue_id, const char *sender, const char *subject,
		 const char *fmt, ...)
{
	struct buf text;
	const char *error;
	char *full;
	va_list ap;

	if (notice_enabled(cls) == 0)
		return;
	buf_init(&text, 256);
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	full = xasprintf("Postmaster Warning: %s", subject);
	if (notice_send(&(struct notice){.classes = cls, .queue_id = queue_id, .sender = sender,
					 .subject = full, .text = buf_str(&text)},
			wall_time(), &error) < 0)
		msg_warn("%s%spostmaster %s notification: %s", queue_id ? queue_id : "",
			 queue_id ? ": " : "", notice_class_name(cls), error);
	free(full);
	buf_deinit(&text);
}
