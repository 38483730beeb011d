/*
 * mail_copy - copy a message to a mailbox, file or command (see
 * mail_copy.h).
 *
 * The content is streamed: a line is examined only as far as the quoting
 * rules need ("From " is five bytes, a dot one), so memory stays bounded
 * whatever the line lengths.  Bytes are collected in a buffer and handed to
 * the write function in blocks; after a failed write the copy stops and
 * every later call returns -1.  No diagnostics are logged here: the caller
 * turns the saved errno into a delivery status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "global/addr.h"
#include "global/mail_copy.h"
#include "util/mem.h"
#include "util/strutil.h"

#define FLUSH_AT	(64 * 1024)

/* mail_copy_init - set up a copy */
void mail_copy_init(struct mail_copy *mc, int flags, const char *eol,
		    mail_copy_write_fn *write_fn, void *ctx)
{
	memset(mc, 0, sizeof(*mc));
	mc->flags = flags;
	snprintf(mc->eol, sizeof(mc->eol), "%s", eol && *eol ? eol : "\n");
	mc->write_fn = write_fn;
	mc->ctx = ctx;
	buf_init(&mc->out, FLUSH_AT + 1024);
	mc->bol = true;
}

/* mail_copy_deinit - release storage */
void mail_copy_deinit(struct mail_copy *mc)
{
	buf_deinit(&mc->out);
}

/* flush - hand pending output to the write function */
static int flush(struct mail_copy *mc)
{
	if (mc->failed)
		return -1;
	if (mc->out.len == 0)
		return 0;
	if (mc->write_fn(mc->out.data, mc->out.len, mc->ctx) < 0) {
		mc->failed = true;
		mc->err = errno;
		return -1;
	}
	mc->written += (long long)mc->out.len;
	buf_reset(&mc->out);
	return 0;
}

/* put_span - append bytes, each LF written as the chosen line end */
static void put_span(struct mail_copy *mc, const char *data, size_t len)
{
	const char *nl;

	if (strcmp(mc->eol, "\n") == 0) {
		buf_append(&mc->out, data, len);
		return;
	}
	while (len > 0 && (nl = memchr(data, '\n', len)) != NULL) {
		buf_append(&mc->out, data, (size_t)(nl - data));
		buf_puts(&mc->out, mc->eol);
		len -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	buf_append(&mc->out, data, len);
}

/* put_line - one header line of our own */
static void put_line(struct mail_copy *mc, const char *name, const char *value)
{
	buf_puts(&mc->out, name);
	buf_puts(&mc->out, value);
	buf_puts(&mc->out, mc->eol);
}

/* mail_copy_begin - separator and envelope headers */
int mail_copy_begin(struct mail_copy *mc, const char *sender, const char *orig_rcpt,
		    const char *recipient, time_t when)
{
	char *q, date[32];
	struct tm tm;

	if (mc->failed)
		return -1;
	if (mc->flags & MAIL_COPY_FROM) {
		/* The traditional mbox separator: two spaces, then asctime's 24 characters. */
		q = addr_quote(sender);
		if (localtime_r(&when, &tm) == NULL || asctime_r(&tm, date) == NULL)
			snprintf(date, sizeof(date), "Thu Jan  1 00:00:00 1970");
		buf_printf(&mc->out, "From %s  %.24s%s", *q ? q : "MAILER-DAEMON", date, mc->eol);
		free(q);
	}
	if (mc->flags & MAIL_COPY_RETURN) {
		q = addr_quote(sender);
		buf_printf(&mc->out, "Return-Path: <%s>%s", q, mc->eol);
		free(q);
	}
	if (mc->flags & MAIL_COPY_ORIG_RCPT) {
		q = addr_quote(orig_rcpt ? orig_rcpt : recipient);
		put_line(mc, "X-Original-To: ", q);
		free(q);
	}
	if (mc->flags & MAIL_COPY_DELIVERED) {
		q = addr_quote(recipient);
		put_line(mc, "Delivered-To: ", str_lower(q));
		free(q);
	}
	return 0;
}

/* decide_line_start - quote or stuff the held start of a line, then write it */
static void decide_line_start(struct mail_copy *mc)
{
	if ((mc->flags & MAIL_COPY_DOT) && mc->hold[0] == '.')
		buf_putc(&mc->out, '.');
	if ((mc->flags & MAIL_COPY_QUOTE) && mc->hold_len == 5
	    && memcmp(mc->hold, "From ", 5) == 0)
		buf_putc(&mc->out, '>');
	mc->bol = mc->hold[mc->hold_len - 1] == '\n';
	put_span(mc, mc->hold, mc->hold_len);
	mc->hold_len = 0;
}

/* mail_copy_data - stream content */
int mail_copy_data(struct mail_copy *mc, const char *data, size_t len)
{
	bool examine = (mc->flags & (MAIL_COPY_QUOTE | MAIL_COPY_DOT)) != 0;
	const char *nl;
	size_t n;

	if (mc->failed)
		return -1;
	while (len > 0) {
		if (mc->bol && examine) {
			/* Hold bytes while they could still be the start of "From ". */
			char c = *data++;

			len--;
			mc->hold[mc->hold_len++] = c;
			if (c != '\n' && (mc->flags & MAIL_COPY_QUOTE) && mc->hold_len < 5
			    && memcmp(mc->hold, "From ", mc->hold_len) == 0)
				continue;
			decide_line_start(mc);
			continue;
		}
		/* The rest of the line goes out unexamined. */
		nl = memchr(data, '\n', len);
		n = nl ? (size_t)(nl - data) + 1 : len;
		put_span(mc, data, n);
		data += n;
		len -= n;
		mc->bol = nl != NULL;
		if (mc->out.len >= FLUSH_AT && flush(mc) < 0)
			return -1;
	}
	return 0;
}

/* mail_copy_end - last line end, blank line, flush */
int mail_copy_end(struct mail_copy *mc)
{
	if (mc->failed)
		return -1;
	if (mc->hold_len > 0)
		decide_line_start(mc);
	if (!mc->bol) {
		buf_puts(&mc->out, mc->eol);
		mc->bol = true;
	}
	if (mc->flags & MAIL_COPY_BLANK)
		buf_puts(&mc->out, mc->eol);
	return flush(mc);
}

/* mail_copy_flags_parse - pipe(8) flag letters */
int mail_copy_flags_parse(const char *text, const char *pass_through, int *flags_r,
			  const char **error_r)
{
	static char msg[64];
	int flags = 0;

	for (const char *cp = text; *cp; cp++) {
		switch (*cp) {
		case 'F':
			flags |= MAIL_COPY_FROM;
			break;
		case '>':
			flags |= MAIL_COPY_QUOTE;
			break;
		case '.':
			flags |= MAIL_COPY_DOT;
			break;
		case 'B':
			flags |= MAIL_COPY_BLANK;
			break;
		case 'D':
			flags |= MAIL_COPY_DELIVERED;
			break;
		case 'O':
			flags |= MAIL_COPY_ORIG_RCPT;
			break;
		case 'R':
			flags |= MAIL_COPY_RETURN;
			break;
		default:
			if (pass_through && strchr(pass_through, *cp))
				break;
			snprintf(msg, sizeof(msg), "unknown flag \"%c\"", *cp);
			*error_r = msg;
			return -1;
		}
	}
	*flags_r = flags;
	return 0;
}
