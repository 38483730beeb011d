/*
 * mail_copy - write a queued message to a mailbox, file or command in the
 * shape the destination expects: optional "From " separator and envelope
 * headers (Return-Path:, X-Original-To:, Delivered-To:), then the content
 * with optional ">From " quoting and dot-stuffing, line ends as asked,
 * and an optional blank line at the end.
 *
 * The content arrives in chunks of any size (as qf_read_content() hands it
 * out: LF line ends); line-start decisions carry across chunk boundaries.
 * Output goes through a write function in blocks of up to 64 KiB.
 *
 * Flags use pipe(8)'s letters; mail_copy_flags_parse() reads them.
 * Return convention: 0 ok, -1 when the write function failed (its errno
 * is kept in the copy's err field; nothing more is written after that).
 */
#ifndef SLUICE_MAIL_COPY_H
#define SLUICE_MAIL_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define MAIL_COPY_FROM		(1 << 0)	/* F: "From sender date" first line */
#define MAIL_COPY_QUOTE		(1 << 1)	/* >: ">" before lines starting "From " */
#define MAIL_COPY_DOT		(1 << 2)	/* .: "." before lines starting "." */
#define MAIL_COPY_BLANK		(1 << 3)	/* B: blank line at the end */
#define MAIL_COPY_DELIVERED	(1 << 4)	/* D: Delivered-To: recipient */
#define MAIL_COPY_ORIG_RCPT	(1 << 5)	/* O: X-Original-To: original recipient */
#define MAIL_COPY_RETURN	(1 << 6)	/* R: Return-Path: <sender> */

/* What an mbox file gets (local mailbox and /file destinations). */
#define MAIL_COPY_MBOX	(MAIL_COPY_FROM | MAIL_COPY_QUOTE | MAIL_COPY_BLANK)
/* The envelope headers local(8) adds to every delivery. */
#define MAIL_COPY_ENVELOPE (MAIL_COPY_DELIVERED | MAIL_COPY_ORIG_RCPT | MAIL_COPY_RETURN)

/* Write n bytes (all of them) or return -1 with errno set. */
typedef int mail_copy_write_fn(const void *data, size_t n, void *ctx);

struct mail_copy {
	int flags;
	char eol[8];		/* line end written for each LF */
	mail_copy_write_fn *write_fn;
	void *ctx;
	struct buf out;		/* pending output */
	char hold[8];		/* start of the current line, undecided */
	size_t hold_len;
	bool bol;		/* at the start of a line */
	bool failed;
	int err;		/* errno of the failed write */
	long long written;	/* bytes handed to write_fn */
};

/* mail_copy_init - set up; eol NULL means "\n" (at most 7 bytes). */
void mail_copy_init(struct mail_copy *mc, int flags, const char *eol,
		    mail_copy_write_fn *write_fn, void *ctx);
/*
 * mail_copy_begin - the lines before the content, as flags ask: the From_
 * line (sender "" is written MAILER-DAEMON, date from when in local time),
 * Return-Path: <sender>, X-Original-To: orig_rcpt, Delivered-To: recipient
 * in lower case.  Addresses are in internal form and are quoted here.
 */
int mail_copy_begin(struct mail_copy *mc, const char *sender, const char *orig_rcpt,
		    const char *recipient, time_t when);
/* mail_copy_data - content bytes (LF line ends). */
int mail_copy_data(struct mail_copy *mc, const char *data, size_t len);
/* mail_copy_end - finish the last line, add the blank line, flush. */
int mail_copy_end(struct mail_copy *mc);
/* mail_copy_deinit - release the buffer. */
void mail_copy_deinit(struct mail_copy *mc);

/*
 * mail_copy_flags_parse - pipe(8) flag letters into MAIL_COPY_* bits; the
 * letters in pass_through (may be NULL) are accepted and ignored (the
 * caller handles them).  0, or -1 with *error_r (static) for an unknown
 * letter.
 */
int mail_copy_flags_parse(const char *text, const char *pass_through, int *flags_r,
			  const char **error_r);

#endif
