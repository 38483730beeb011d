/*
 * bounce_notify - build RFC 3464 delivery status reports (see bounce_notify.h).
 *
 * PURPOSE: the one place that knows what a report looks like, so that the
 * bounce service (and anything else that must tell a sender or the
 * postmaster about a message) only gathers inputs and submits the result.
 *
 * CONTRACT: pure.  No file, socket or clock is touched; the original
 * message is pulled through the caller's callback, at most
 * bounce_size_limit bytes of it (plus one chunk to learn that there is
 * more), and only its header block when headers are all that is sent.
 *
 * The report is a multipart/report (RFC 6522) with three parts:
 *   1. text/plain: what happened, in words, then one paragraph per recipient;
 *   2. message/delivery-status (RFC 3464): per-message fields, then one
 *      block of per-recipient fields each;
 *   3. the original: message/rfc822 when the whole message is returned,
 *      text/rfc822-headers when only its headers are.
 *
 * What is returned (RFC 3461 section 4.3): the whole message only in a
 * non-delivery report to the sender when RET is not HDRS, and in a double
 * bounce (the postmaster's only chance to see the failed report); every
 * other report (delay, success, trace, verify, postmaster copies) carries
 * the headers.  A failure seen by a trace also reaches the sender through
 * its own non-delivery report.  A message
 * larger than bounce_size_limit is returned as headers only, as Postfix
 * does: cutting a message in the middle could break its MIME structure,
 * while the headers are what the reader needs to recognise it.  The header
 * block itself is cut at a line boundary if it alone exceeds the limit, and
 * the text part says what was attached and why.
 *
 * Line lengths: the fields this module writes are folded at white space
 * near 78 columns; nothing it writes is longer than 998 octets.  A longer
 * line in the original message is broken at 998 octets (the only change
 * ever made to the returned message).
 *
 * DIAGNOSTICS: none; nothing here logs.  A content read error is handed
 * back to the caller, who logs it; the report still goes out without the
 * attachment, as the sender deserves to hear about the failure anyway.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "global/bounce_format.h"
#include "bounce_notify.h"
#include "global/dsn.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- recipient selection, action and status ---- */

/* is_success_action - an action that means the message got there */
static bool is_success_action(const char *action)
{
	return action && (strcmp(action, "delivered") == 0 || strcmp(action, "relayed") == 0
			  || strcmp(action, "expanded") == 0);
}

/* bounce_notify_wanted - NOTIFY filter per kind and role */
bool bounce_notify_wanted(enum bounce_kind kind, enum bounce_role role,
			  const struct rcpt_status_rec *r)
{
	bool sender = role == BOUNCE_ROLE_SENDER;
	int n = r->notify;

	switch (kind) {
	case BOUNCE_KIND_FAILURE:
		return !sender || n == 0 || (n & DSN_NOTIFY_FAILURE);
	case BOUNCE_KIND_DELAY:
		return !sender || n == 0 || (n & DSN_NOTIFY_DELAY);
	case BOUNCE_KIND_SUCCESS:
		return is_success_action(r->action) && (!sender || (n & DSN_NOTIFY_SUCCESS));
	case BOUNCE_KIND_DELAY_CLEARED:
		return is_success_action(r->action)
			&& (!sender || n == 0 || (n & DSN_NOTIFY_DELAY));
	case BOUNCE_KIND_TRACE:
	case BOUNCE_KIND_VERIFY:
		return true;
	}
	return false;
}

/* bounce_notify_action - RFC 3464 action for one record */
const char *bounce_notify_action(enum bounce_kind kind, const struct rcpt_status_rec *r)
{
	/* Static spellings, so the caller never holds a pointer into r. */
	static const char *const known[] = {
		"failed", "delayed", "delivered", "relayed", "expanded",
		/* Postfix's address verification reports use these two. */
		"deliverable", "undeliverable",
	};
	const char *action = r->action ? r->action : "";

	switch (kind) {
	case BOUNCE_KIND_FAILURE:
		return "failed";
	case BOUNCE_KIND_DELAY:
		return "delayed";
	case BOUNCE_KIND_SUCCESS:
	case BOUNCE_KIND_DELAY_CLEARED:
		if (strcmp(action, "relayed") == 0)
			return "relayed";
		if (strcmp(action, "expanded") == 0)
			return "expanded";
		return "delivered";
	case BOUNCE_KIND_TRACE:
	case BOUNCE_KIND_VERIFY:
		break;
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(action, known[i]) == 0)
			return known[i];
	switch (r->status[0]) {
	case '2':
		return "delivered";
	case '5':
		return "failed";
	default:
		return "delayed";
	}
}

/*
 * Reasons whose words say which status applies, for records that carry
 * none (Postfix's agents always set one; ours should too, this is the
 * safety net).  The first match wins, so the more specific come first.
 */
static const struct {
	const char *words;
	const char *status;
} status_words[] = {
	{"user unknown", "5.1.1"},
	{"unknown user", "5.1.1"},
	{"no such user", "5.1.1"},
	{"bad address syntax", "5.1.3"},
	{"mailbox full", "4.2.2"},
	{"too big", "5.3.4"},
	{"too large", "5.3.4"},
	{"size limit", "5.3.4"},
	{"too many hops", "5.4.6"},
	{"mail loop", "5.4.6"},
	{"loops back to myself", "5.4.6"},
	{"expired", "4.4.7"},
	{"too long in queue", "4.4.7"},
	{"no route", "5.4.4"},
	{"host not found", "5.4.4"},
	{"domain not found", "5.4.4"},
	{"name service error", "4.4.3"},
	{"lost connection", "4.4.2"},
	{"no answer", "4.4.1"},
	{"timed out", "4.4.1"},
	{"connection refused", "4.4.1"},
};

/* reply_class - 2, 4 or 5 when text starts with an SMTP reply code, else 0 */
static int reply_class(const char *text)
{
	if (text == NULL || !isdigit((unsigned char)text[0]) || !isdigit((unsigned char)text[1])
	    || !isdigit((unsigned char)text[2]) || (text[3] != 0 && text[3] != ' ' && text[3] != '-'))
		return 0;
	return text[0] == '2' || text[0] == '4' || text[0] == '5' ? text[0] - '0' : 0;
}

/* bounce_notify_status - recorded, else derived, RFC 3463 status */
void bounce_notify_status(enum bounce_kind kind, const struct rcpt_status_rec *r,
			  char status_r[16])
{
	const char *texts[2] = {r->reason, r->diag_text};
	const char *action = r->action ? r->action : "";
	int cls = reply_class(r->diag_text);

	if (dsn_status_valid(r->status)) {
		snprintf(status_r, 16, "%s", r->status);
		return;
	}
	/*
	 * A deferral reported in a failure report means the message expired:
	 * that, not the last transient reason, is why it failed.
	 */
	if (kind == BOUNCE_KIND_FAILURE && strcmp(action, "delayed") == 0) {
		snprintf(status_r, 16, "4.4.7");
		return;
	}
	/* An enhanced code in the remote reply is the remote's own verdict. */
	if (cls && dsn_status_from_text(r->diag_text + 3, status_r) != NULL)
		return;

	/* Words in the reason; the reply code, when there is one, sets the class. */
	for (size_t i = 0; i < sizeof(status_words) / sizeof(status_words[0]); i++) {
		for (size_t t = 0; t < 2; t++) {
			if (texts[t] && strcasestr(texts[t], status_words[i].words)) {
				snprintf(status_r, 16, "%s", status_words[i].status);
				if (cls)
					status_r[0] = (char)('0' + cls);
				return;
			}
		}
	}
	if (cls) {
		dsn_status_default(cls, status_r);
		return;
	}

	/* Nothing to go by but what happened. */
	if (strcmp(action, "failed") == 0 || strcmp(action, "undeliverable") == 0)
		snprintf(status_r, 16, "5.0.0");
	else if (strcmp(action, "delayed") == 0)
		snprintf(status_r, 16, "4.0.0");
	else if (is_success_action(action) || strcmp(action, "deliverable") == 0)
		snprintf(status_r, 16, "2.0.0");
	else if (kind == BOUNCE_KIND_FAILURE)
		snprintf(status_r, 16, "5.0.0");
	else if (kind == BOUNCE_KIND_SUCCESS || kind == BOUNCE_KIND_DELAY_CLEARED)
		snprintf(status_r, 16, "2.0.0");
	else
		snprintf(status_r, 16, "4.0.0");
}

/* bounce_kind_name - short name of a kind */
const char *bounce_kind_name(enum bounce_kind kind)
{
	switch (kind) {
	case BOUNCE_KIND_FAILURE:
		return "failure";
	case BOUNCE_KIND_DELAY:
		return "delay";
	case BOUNCE_KIND_SUCCESS:
		return "success";
	case BOUNCE_KIND_DELAY_CLEARED:
		return "delay-cleared";
	case BOUNCE_KIND_TRACE:
		return "trace";
	case BOUNCE_KIND_VERIFY:
		return "verify";
	}
	return "unknown";
}

/* ---- the original message ---- */

/* What was read of the original message. */
struct orig {
	struct buf data;	/* at most cap bytes */
	size_t cap;		/* size_limit, or SIZE_MAX */
	bool headers_only;	/* stop at the end of the header block */
	bool more;		/* the message is longer than cap */
};

/* header_end - length of the header block (through its last line end) */
static size_t header_end(const char *data, size_t len, bool *found_r)
{
	const char *blank;

	*found_r = true;
	if (len > 0 && data[0] == '\n')
		return 0;
	if ((blank = memmem(data, len, "\n\n", 2)) != NULL)
		return (size_t)(blank - data) + 1;
	*found_r = false;
	return len;
}

/* orig_sink - collect content up to the cap (or the end of the headers) */
static int orig_sink(const char *data, size_t len, void *ctx)
{
	struct orig *o = ctx;
	size_t room = o->cap - o->data.len;
	size_t old = o->data.len;

	if (len > room) {
		buf_append(&o->data, data, room);
		o->more = true;
	} else {
		buf_append(&o->data, data, len);
	}
	if (o->headers_only) {
		/* Search from one byte back: the blank line may straddle chunks. */
		size_t from = old > 0 ? old - 1 : 0;
		const char *blank;

		if (o->data.len > 0 && o->data.data[0] == '\n') {
			buf_truncate(&o->data, 0);
			return -1;
		}
		blank = memmem(o->data.data + from, o->data.len - from, "\n\n", 2);
		if (blank != NULL) {
			buf_truncate(&o->data, (size_t)(blank - o->data.data) + 1);
			return -1;
		}
	}
	return o->more ? -1 : 0;
}

/* Which attachment the report carries, and why. */
enum attach {
	ATTACH_NONE,		/* no content callback */
	ATTACH_FULL,		/* message/rfc822 */
	ATTACH_HEADERS,		/* text/rfc822-headers, by choice */
	ATTACH_HEADERS_BIG,	/* text/rfc822-headers, message over the limit */
	ATTACH_UNREADABLE,	/* the callback failed */
};

/*
 * read_original - pull the original through the callback into part and
 * say what it is.  part receives the attachment body (lines fixed up).
 */
static enum attach read_original(const struct bounce_notify_input *in, bool want_full,
				 struct buf *part, const char **content_error_r)
{
	struct orig o;
	const char *error = NULL;
	enum attach what = want_full ? ATTACH_FULL : ATTACH_HEADERS;
	size_t len;
	bool found;

	if (in->content == NULL)
		return ATTACH_NONE;
	buf_init(&o.data, 4096);
	o.cap = in->size_limit > 0 ? (size_t)in->size_limit : SIZE_MAX;
	o.headers_only = !want_full;
	o.more = false;
	if (in->content(in->content_ctx, orig_sink, &o, &error) < 0) {
		*content_error_r = error ? error : "unknown error";
		buf_deinit(&o.data);
		return ATTACH_UNREADABLE;
	}
	len = o.data.len;
	if (what == ATTACH_FULL && o.more)
		what = ATTACH_HEADERS_BIG;
	if (what != ATTACH_FULL) {
		len = header_end(o.data.data, o.data.len, &found);
		/* A header block cut by the limit ends at its last whole line. */
		if (!found && o.more) {
			while (len > 0 && o.data.data[len - 1] != '\n')
				len--;
		}
	}
	bounce_format_lines(part, o.data.data, len);
	buf_deinit(&o.data);
	/* A message without headers has nothing to show in headers-only form. */
	if (what != ATTACH_FULL && part->len == 0)
		return ATTACH_NONE;
	return what;
}

/* ---- the three parts ---- */

/* what_was_sent - how the postmaster texts name the report they copy */
static const char *what_was_sent(enum bounce_kind kind)
{
	switch (kind) {
	case BOUNCE_KIND_FAILURE:
		return "a non-delivery report";
	case BOUNCE_KIND_DELAY:
		return "a delay warning";
	default:
		return "a delivery status report";
	}
}

/* put_intro - the explanation at the top of the text part */
static void put_intro(struct buf *out, const struct bounce_notify_input *in)
{
	char date[64], dur[64];
	struct buf para;

	bounce_format_paraf(out, "This is the mail system at host %s.", in->myhostname);
	if (in->role == BOUNCE_ROLE_POSTMASTER) {
		bounce_format_paraf(out, "This is the postmaster's copy of %s sent to <%s> about "
				    "the message with queue ID %s. The recipients concerned are "
				    "listed below; the message's headers are attached.",
				    what_was_sent(in->kind), in->sender, in->queue_id);
		return;
	}
	if (in->role == BOUNCE_ROLE_DOUBLE) {
		bounce_format_paraf(out, "The message with queue ID %s has the null sender, so it "
				    "is most likely a delivery status report itself. It could not "
				    "be delivered to the recipients listed below, and there is no "
				    "sender to tell, so it is reported to you, the postmaster.",
				    in->queue_id);
		return;
	}
	switch (in->kind) {
	case BOUNCE_KIND_FAILURE:
		bounce_format_para(out, "Your message could not be delivered to one or more "
				   "of its recipients, and the mail system has stopped "
				   "trying. Each of them is listed below with the reason.");
		break;
	case BOUNCE_KIND_DELAY:
		bounce_format_para(out, "THIS IS A WARNING ONLY: you do not need to send your "
				   "message again.");
		buf_init(&para, 256);
		buf_puts(&para, "Your message has not yet been delivered to the recipients "
			 "listed below");
		if (in->arrival_time > 0) {
			bounce_format_duration(dur, in->now - in->arrival_time);
			buf_printf(&para, ": it has been delayed for %s", dur);
		}
		buf_puts(&para, ". The mail system will keep trying");
		if (in->retry_until > 0) {
			bounce_format_date(date, in->retry_until);
			buf_printf(&para, " until %s", date);
		}
		buf_puts(&para, ".");
		if (in->next_attempt > 0) {
			bounce_format_date(date, in->next_attempt);
			buf_printf(&para, " The next attempt is planned for %s.", date);
		}
		bounce_format_para(out, buf_str(&para));
		buf_deinit(&para);
		break;
	case BOUNCE_KIND_SUCCESS:
		bounce_format_para(out, "As you asked, here is the news that your message was "
				   "delivered to the destinations listed below. Where it was put "
				   "into a mailbox, you will hear nothing more about it; where it "
				   "was relayed to another system, that system may still send you "
				   "reports of its own.");
		break;
	case BOUNCE_KIND_DELAY_CLEARED:
		bounce_format_para(out, "You were warned earlier that your message was "
				   "delayed. The delay has cleared: your message has now "
				   "been delivered to the recipients listed below, and "
				   "nothing more needs to be done.");
		break;
	case BOUNCE_KIND_TRACE:
		bounce_format_para(out, "Here is the delivery report you asked for: what became "
				   "of each recipient of your message.");
		break;
	case BOUNCE_KIND_VERIFY:
		bounce_format_para(out, "Here is the address verification report you asked for. "
				   "Your message was not delivered; the report tells what would "
				   "happen to each recipient.");
		break;
	}
}

/* put_attach_note - say what is attached, when that needs saying */
static void put_attach_note(struct buf *out, const struct bounce_notify_input *in,
			    enum attach what)
{
	switch (what) {
	case ATTACH_FULL:
		if (in->role == BOUNCE_ROLE_SENDER)
			bounce_format_para(out, "Your message is attached at the end of this "
					   "report.");
		break;
	case ATTACH_HEADERS:
		if (in->role == BOUNCE_ROLE_SENDER)
			bounce_format_para(out, "The headers of your message are attached at the end "
					   "of this report.");
		break;
	case ATTACH_HEADERS_BIG:
		bounce_format_paraf(out, "The message is larger than the %ld-byte limit "
				    "for returned mail, so only its headers are attached.",
				    in->size_limit);
		break;
	case ATTACH_UNREADABLE:
		bounce_format_para(out, "The original message could not be read, so it is not "
				   "attached.");
		break;
	case ATTACH_NONE:
		break;
	}
}

/* build_text - the human-readable part */
static void build_text(struct buf *out, const struct bounce_notify_input *in,
		       const bool *chosen, enum attach what)
{
	put_intro(out, in);
	put_attach_note(out, in, what);
	if (in->role == BOUNCE_ROLE_SENDER
	    && (in->kind == BOUNCE_KIND_FAILURE || in->kind == BOUNCE_KIND_DELAY))
		bounce_format_paraf(out, "If you need help, write to <%s> and include this report.",
				    in->postmaster);
	buf_printf(out, "%20s-- The %s mail system\n\n", "", in->mail_name);

	for (size_t i = 0; i < in->rcpt_count; i++) {
		const struct rcpt_status_rec *r = &in->rcpts[i];
		struct buf line;

		if (!chosen[i])
			continue;
		buf_init(&line, 256);
		buf_printf(&line, "<%s>", r->recipient);
		if (r->orig_rcpt && *r->orig_rcpt && strcmp(r->orig_rcpt, r->recipient) != 0)
			buf_printf(&line, " (expanded from <%s>)", r->orig_rcpt);
		buf_printf(&line, ": %s", r->reason && *r->reason ? r->reason : "no reason given");
		bounce_format_wrap(out, buf_str(&line), 0, BOUNCE_FOLD_WIDTH - 2, "\n    ");
		buf_puts(out, "\n\n");
		buf_deinit(&line);
	}
	/* One line end before the delimiter's is enough. */
	buf_truncate(out, out->len - 1);
}

/* remote_mta_name - the MTA's host name without a "[address]:port" tail */
static char *remote_mta_name(const char *mta)
{
	const char *bracket = strchr(mta, '[');

	if (bracket != NULL && bracket > mta)
		return xstrndup(mta, (size_t)(bracket - mta));
	return xstrdup(mta);
}

/* put_orcpt - Original-Recipient from DSN ORCPT, else the pre-alias address */
static void put_orcpt(struct buf *out, const struct rcpt_status_rec *r)
{
	const char *orcpt = r->dsn_orcpt ? r->dsn_orcpt : "";
	const char *semi = strchr(orcpt, ';');

	if (*orcpt && semi) {
		const char *addr = semi + 1;

		while (*addr == ' ')
			addr++;
		bounce_format_fieldf(out, "Original-Recipient", "%.*s; %s", (int)(semi - orcpt),
				     orcpt, addr);
	} else if (*orcpt) {
		bounce_format_fieldf(out, "Original-Recipient", "rfc822; %s", orcpt);
	} else if (r->orig_rcpt && *r->orig_rcpt && strcmp(r->orig_rcpt, r->recipient) != 0) {
		bounce_format_fieldf(out, "Original-Recipient", "rfc822; %s", r->orig_rcpt);
	}
}

/* build_dsn - the message/delivery-status part */
static void build_dsn(struct buf *out, const struct bounce_notify_input *in, const bool *chosen)
{
	char date[64], status[16];

	bounce_format_fieldf(out, "Reporting-MTA", "dns; %s", in->myhostname);
	bounce_format_field(out, "X-Sluice-Queue-ID", in->queue_id);
	if (in->envid && *in->envid)
		bounce_format_field(out, "Original-Envelope-Id", in->envid);
	if (in->arrival_time > 0) {
		bounce_format_date(date, in->arrival_time);
		bounce_format_field(out, "Arrival-Date", date);
	}
	bounce_format_fieldf(out, "X-Sluice-Sender", "rfc822; %s", in->sender);

	for (size_t i = 0; i < in->rcpt_count; i++) {
		const struct rcpt_status_rec *r = &in->rcpts[i];
		const char *diag_type = r->diag_type ? r->diag_type : "";

		if (!chosen[i])
			continue;
		buf_putc(out, '\n');
		bounce_format_fieldf(out, "Final-Recipient", "rfc822; %s", r->recipient);
		put_orcpt(out, r);
		bounce_format_field(out, "Action", bounce_notify_action(in->kind, r));
		bounce_notify_status(in->kind, r, status);
		bounce_format_field(out, "Status", status);
		if (r->mta && *r->mta) {
			char *name = remote_mta_name(r->mta);

			bounce_format_fieldf(out, "Remote-MTA", "dns; %s", name);
			free(name);
		}
		if (*diag_type && r->diag_text && *r->diag_text)
			bounce_format_fieldf(out, "Diagnostic-Code", "%s; %s",
					     strcasecmp(diag_type, "smtp") == 0
					     ? "smtp" : diag_type, r->diag_text);
		else if (r->reason && *r->reason)
			bounce_format_fieldf(out, "Diagnostic-Code", "X-Sluice; %s", r->reason);
		if (r->time > 0) {
			bounce_format_date(date, r->time);
			bounce_format_field(out, "Last-Attempt-Date", date);
		}
		if (in->kind == BOUNCE_KIND_DELAY && in->retry_until > 0) {
			bounce_format_date(date, in->retry_until);
			bounce_format_field(out, "Will-Retry-Until", date);
		}
	}
}

/* subject - the report's Subject: */
static const char *subject(const struct bounce_notify_input *in)
{
	if (in->role != BOUNCE_ROLE_SENDER) {
		switch (in->kind) {
		case BOUNCE_KIND_FAILURE:
			return "Postmaster Copy: Undelivered Mail";
		case BOUNCE_KIND_DELAY:
			return "Postmaster Warning: Delayed Mail";
		default:
			return "Postmaster Copy: Mail Delivery Status Report";
		}
	}
	switch (in->kind) {
	case BOUNCE_KIND_FAILURE:
		return "Undelivered Mail Returned to Sender";
	case BOUNCE_KIND_DELAY:
		return "Delayed Mail (still being retried)";
	case BOUNCE_KIND_SUCCESS:
		return "Successful Mail Delivery Report";
	case BOUNCE_KIND_DELAY_CLEARED:
		return "Delay cleared";
	case BOUNCE_KIND_TRACE:
	case BOUNCE_KIND_VERIFY:
		break;
	}
	return "Mail Delivery Status Report";
}

/* report_tag - distinguishes reports about one message made in one second */
static void report_tag(const struct bounce_notify_input *in, char tag[32])
{
	static const char *const role_prefix[] = {"", "pm-", "2b-"};

	snprintf(tag, 32, "%s%s", role_prefix[in->role % 3], bounce_kind_name(in->kind));
}

/* choose_boundary - deterministic, and absent from every part */
static void choose_boundary(struct buf *boundary, const struct bounce_notify_input *in,
			    const char *tag, struct buf *const *parts, size_t nparts)
{
	for (unsigned attempt = 0;; attempt++) {
		bool clash = false;

		buf_reset(boundary);
		buf_printf(boundary, "%s.%ld.%s/%s", in->queue_id, (long)in->now, tag,
			   in->myhostname);
		if (attempt > 0)
			buf_printf(boundary, ".%u", attempt);
		for (size_t i = 0; i < nparts && !clash; i++)
			clash = memmem(parts[i]->data, parts[i]->len, boundary->data,
				       boundary->len) != NULL;
		if (!clash)
			return;
	}
}

/* put_part_head - the boundary line and a part's headers */
static void put_part_head(struct buf *out, const char *boundary, const char *description,
			  const char *type, const struct buf *body)
{
	buf_printf(out, "\n--%s\n", boundary);
	bounce_format_field(out, "Content-Description", description);
	bounce_format_field(out, "Content-Type", type);
	if (bounce_format_8bit(body))
		bounce_format_field(out, "Content-Transfer-Encoding", "8bit");
	buf_putc(out, '\n');
}

/* bounce_notify_build - render the whole report */
size_t bounce_notify_build(const struct bounce_notify_input *in, struct buf *out,
			   const char **content_error_r)
{
	struct buf text, dsn, orig, boundary;
	struct buf *parts[3] = {&text, &dsn, &orig};
	bool *chosen = xcalloc(in->rcpt_count ? in->rcpt_count : 1, sizeof(*chosen));
	size_t count = 0;
	enum attach what;
	bool any8;
	char date[64], tag[32];
	struct tm tm;
	time_t now = (time_t)in->now;
	const char *ignored;

	buf_reset(out);
	if (content_error_r == NULL)
		content_error_r = &ignored;
	*content_error_r = NULL;

	/* Who is in the report; nobody means no report at all. */
	for (size_t i = 0; i < in->rcpt_count; i++)
		if ((chosen[i] = bounce_notify_wanted(in->kind, in->role, &in->rcpts[i])))
			count++;
	if (count == 0) {
		free(chosen);
		return 0;
	}

	/* The parts first, so that the boundary can avoid their text. */
	buf_init(&text, 2048);
	buf_init(&dsn, 1024);
	buf_init(&orig, 4096);
	buf_init(&boundary, 128);
	what = read_original(in, in->role == BOUNCE_ROLE_DOUBLE
			     || (in->role == BOUNCE_ROLE_SENDER && in->kind == BOUNCE_KIND_FAILURE
				 && in->ret != DSN_RET_HDRS),
			     &orig, content_error_r);
	build_text(&text, in, chosen, what);
	build_dsn(&dsn, in, chosen);
	report_tag(in, tag);
	choose_boundary(&boundary, in, tag, parts, 3);
	any8 = bounce_format_8bit(&text) || bounce_format_8bit(&dsn) || bounce_format_8bit(&orig);

	/* The report's own header. */
	bounce_format_fieldf(out, "From", "MAILER-DAEMON@%s (Mail Delivery System)",
			     in->myhostname);
	bounce_format_field(out, "To", in->recipient);
	bounce_format_field(out, "Subject", subject(in));
	bounce_format_field(out, "Auto-Submitted", "auto-replied");
	bounce_format_date(date, in->now);
	bounce_format_field(out, "Date", date);
	gmtime_r(&now, &tm);
	bounce_format_fieldf(out, "Message-Id", "<%04d%02d%02d%02d%02d%02d.%s.%s@%s>",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			     tm.tm_min, tm.tm_sec, in->queue_id, tag, in->myhostname);
	bounce_format_field(out, "MIME-Version", "1.0");
	bounce_format_fieldf(out, "Content-Type", "multipart/report; report-type=delivery-status; "
			     "boundary=\"%s\"", buf_str(&boundary));
	bounce_format_field(out, "Content-Transfer-Encoding", any8 ? "8bit" : "7bit");
	buf_puts(out, "\nThis is a delivery status report in MIME format.\n");

	put_part_head(out, buf_str(&boundary), "Notification",
		      bounce_format_8bit(&text) ? "text/plain; charset=utf-8"
		      : "text/plain; charset=us-ascii", &text);
	buf_append(out, text.data, text.len);
	put_part_head(out, buf_str(&boundary), "Delivery report", "message/delivery-status", &dsn);
	buf_append(out, dsn.data, dsn.len);
	if (what == ATTACH_FULL) {
		put_part_head(out, buf_str(&boundary), "Undelivered Message", "message/rfc822",
			      &orig);
		buf_append(out, orig.data, orig.len);
	} else if (what == ATTACH_HEADERS || what == ATTACH_HEADERS_BIG) {
		put_part_head(out, buf_str(&boundary),
			      in->kind == BOUNCE_KIND_FAILURE
			      ? "Undelivered Message Headers" : "Message Headers",
			      "text/rfc822-headers", &orig);
		buf_append(out, orig.data, orig.len);
	}
	buf_printf(out, "\n--%s--\n", buf_str(&boundary));

	buf_deinit(&text);
	buf_deinit(&dsn);
	buf_deinit(&orig);
	buf_deinit(&boundary);
	free(chosen);
	return count;
}
