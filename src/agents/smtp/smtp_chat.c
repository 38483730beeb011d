/*
 * smtp_chat - session transcript and postmaster notice (see smtp_chat.h).
 *
 * DIAGNOSTICS: a warning when a wanted notice cannot be queued; the notice
 * module logs the notice it queued or discarded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/smtp/smtp_chat.h"
#include "agents/smtp/smtp_reply.h"
#include "global/notice.h"
#include "global/params.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

/* smtp_chat_init - empty */
void smtp_chat_init(struct smtp_chat *c)
{
	buf_init(&c->text, 1024);
	c->cut = false;
	c->troubles = 0;
}

/* smtp_chat_deinit - release */
void smtp_chat_deinit(struct smtp_chat *c)
{
	buf_deinit(&c->text);
}

/* smtp_chat_reset - start anew */
void smtp_chat_reset(struct smtp_chat *c)
{
	buf_reset(&c->text);
	c->cut = false;
	c->troubles = 0;
}

/* add_line - "prefix" + one line, bounded */
static void add_line(struct smtp_chat *c, const char *prefix, const char *line, size_t len)
{
	if (c->cut)
		return;
	if (c->text.len + len + 16 > SMTP_CHAT_LIMIT) {
		buf_puts(&c->text, "(transcript cut here: too long)\n");
		c->cut = true;
		return;
	}
	buf_puts(&c->text, prefix);
	buf_append(&c->text, line, len > SMTP_CHAT_LINE ? SMTP_CHAT_LINE : len);
	if (len > SMTP_CHAT_LINE)
		buf_puts(&c->text, "...");
	buf_putc(&c->text, '\n');
}

/* add_lines - each LF-separated line of text (a CR before the LF dropped) */
static void add_lines(struct smtp_chat *c, const char *prefix, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	size_t n;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl ? nl : end) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		add_line(c, prefix, p, n);
		p = nl ? nl + 1 : end;
	}
}

/* smtp_chat_out - commands sent */
void smtp_chat_out(struct smtp_chat *c, const char *data, size_t len)
{
	add_lines(c, "Out: ", data, len);
}

/* smtp_chat_in - a reply received */
void smtp_chat_in(struct smtp_chat *c, const struct smtp_reply *r)
{
	add_lines(c, "In:  ", r->text.data ? r->text.data : "", r->text.len);
}

/* smtp_chat_garbage - input that is no reply */
void smtp_chat_garbage(struct smtp_chat *c, const char *raw, size_t len, const char *why)
{
	const char *nl = raw ? memchr(raw, '\n', len) : NULL;
	size_t n = nl ? (size_t)(nl - raw) : len;

	if (n > 0 && raw[n - 1] == '\r')
		n--;
	if (raw && n > 0)
		add_line(c, "In:  ", raw, n);
	else if (why) {
		char *text = xasprintf("(%s)", why);

		add_line(c, "In:  ", text, strlen(text));
		free(text);
	}
	c->troubles |= NOTICE_PROTOCOL;
}

/* smtp_chat_code_trouble - Postfix's reading of a failure code */
bool smtp_chat_code_trouble(int code)
{
	/*
	 * A failure that is no 4xx/5xx, a syntax error (500-509, RFC 5321
	 * 4.2.1 "x0z"), or 555 (MAIL/RCPT parameters not recognised, RFC
	 * 5321/1869): someone broke the protocol, maybe we.
	 */
	return code < 400 || code > 599 || code == 555 || (code >= 500 && code < 510);
}

/* smtp_chat_notify - a notice with the transcript, when wanted */
int smtp_chat_notify(struct smtp_chat *c, const char *namaddr, const char *queue_id,
		     const char *sender)
{
	struct notice n;
	char *subject, *text;
	const char *error;
	int rc = 0;

	if (c->troubles && notice_enabled(c->troubles)) {
		subject = xasprintf("%s SMTP client: errors from %s", var_mail_name, namaddr);
		text = xasprintf("Unexpected response from %s.", namaddr);
		memset(&n, 0, sizeof(n));
		n.classes = c->troubles;
		n.queue_id = queue_id;
		n.sender = sender;
		n.subject = subject;
		n.text = text;
		n.transcript = buf_str(&c->text);
		if ((rc = notice_send(&n, wall_time(), &error)) < 0)
			msg_warn("%s: postmaster notice about %s: %s", queue_id, namaddr, error);
		free(subject);
		free(text);
	}
	smtp_chat_reset(c);
	return rc;
}
