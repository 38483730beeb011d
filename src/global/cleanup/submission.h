/*
 * submission - what a local submission may contain, and the stream that
 * carries it from sendmail to the set-gid postdrop helper.
 *
 * A submission is: sender (internal form, "" = null sender), optional full
 * name, DSN ENVID and RET, flags (QF_FLAG_TRACE_*, QF_FLAG_SMTPUTF8), the message, and
 * one or more recipients each with optional original recipient, DSN ORCPT
 * and NOTIFY bits.  The same rules judge it three times: sendmail before
 * sending, postdrop before writing maildrop/, pickup before cleanup
 * (maildrop files are hostile input, docs/ARCHITECTURE.md).
 *
 * The stream (sendmail -> postdrop, on postdrop's stdin) is a sequence of
 * records "type byte, 4-byte big-endian length, data":
 *
 *   V "sluice-submission-1"          first, once
 *   S sender                         once
 *   F full name, I envid, r RET, f flags   each at most once, this order
 *   M                                end of envelope
 *   B content                        any number, at most 64 KiB each
 *   X                                end of content
 *   [O orig_rcpt] [o dsn_orcpt] [n notify] R address    per recipient
 *   E                                end; nothing may follow
 *
 * A maildrop file is an ordinary queue file (queue_file.h) in maildrop/,
 * written with qf_create(queue_dir, "maildrop"), with the full name as the
 * envelope attribute "full_name=...".
 */
#ifndef SLUICE_SUBMISSION_H
#define SLUICE_SUBMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "global/queue_file.h"

struct buf;

#define SUBMISSION_VERSION	"sluice-submission-1"
#define SUBMISSION_CHUNK	65536		/* content bytes per B record */
#define SUBMISSION_STR_MAX	4096		/* any other record */
#define SUBMISSION_NAME_MAX	256		/* full name */
#define SUBMISSION_ENVID_MAX	100		/* RFC 3461 */
#define SUBMISSION_ATTR_FULL_NAME "full_name"
#define SUBMISSION_QFLAGS	(QF_FLAG_TRACE_VERBOSE | QF_FLAG_TRACE_VERIFY | QF_FLAG_SMTPUTF8)

/* ---- field checks (0 ok, -1 with a static reason in *why_r) ---- */

/* submission_check_address - internal form: bounded, no control
 * characters, a valid domain after the last "@" if there is one; "" only
 * when null_ok. */
int submission_check_address(const char *addr, bool null_ok, const char **why_r);
/* submission_check_text - optional free text (full name, original
 * recipient, ORCPT): at most max bytes, no control characters. */
int submission_check_text(const char *text, size_t max, const char **why_r);
/* submission_check_envid - printable ASCII, at most 100 characters. */
int submission_check_envid(const char *envid, const char **why_r);

/* ---- the stream: writing (sendmail) ---- */

/* submission_put - append one record to out. */
void submission_put(struct buf *out, int type, const void *data, size_t len);
/* submission_put_str - append a string record. */
void submission_put_str(struct buf *out, int type, const char *s);

/* ---- the stream: reading (postdrop) ---- */

/* submission_read_fn - read up to n bytes; >0 count, 0 EOF, -1 error
 * (the function may stop the transfer, e.g. on a signal). */
typedef ssize_t submission_read_fn(void *ctx, void *buf, size_t n);

/*
 * submission_receive - read a whole stream and write it as a maildrop file
 * in queue_dir/maildrop; content over size_limit bytes (when > 0) is
 * refused.  Returns 0 with the maildrop file's ID in id_r once the file is
 * committed; otherwise -1 with *why_r (static) and *status_r, a sysexits
 * code: 65 (EX_DATAERR) for a malformed stream or a refused message, 75
 * (EX_TEMPFAIL) for I/O errors or an interrupted read.  Nothing is left
 * behind on failure.
 */
int submission_receive(submission_read_fn *read_fn, void *ctx, const char *queue_dir,
		       long size_limit, char id_r[QUEUE_ID_SIZE], int *status_r,
		       const char **why_r);

#endif
