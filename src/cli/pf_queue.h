/*
 * pf_queue - read a Postfix queue file and a Postfix defer log, for
 * "sluice import-postfix".
 *
 * PURPOSE.  Turn the bytes of one file of a stopped Postfix's queue into
 * the pieces sluice's queue file holds: arrival time, sender, DSN envelope
 * data, the message content as raw bytes with LF line ends, and the
 * recipients with their original recipient, DSN ORCPT and NOTIFY and
 * whether Postfix had already finished them.  Pure: no I/O, the caller
 * reads the file.
 *
 * CONTRACT.  A Postfix record is a type byte, a length in 7-bit groups
 * (low-order group first, the high bit says another group follows) and the
 * data.  A queue file is an envelope segment (ended by M), the content (N
 * a line, L part of a line, up to X) and the extracted segment (up to E);
 * recipients (R to do, D done, '/' cancelled, each after its optional O, o,
 * n records or A notify_flags / A dsn_orig_rcpt) may be in the envelope or
 * the extracted segment; p records point elsewhere in the file and are
 * followed.  A maildrop file (postdrop's format) is the same without the
 * size record C.  Anything else - an unknown record type, a record that
 * runs past the end, no sender, no time, no end marker, a pointer loop -
 * makes pf_msg_parse() fail with a reason, so a damaged file is reported
 * and left alone, never half imported.
 *
 * NOT.  Postfix's header/body rewriting state, VERP, content filters, the
 * inspector transport, redirect targets: these do not become part of the
 * message; they are listed in pf_msg.dropped so the caller can report them.
 *
 * A defer log is Postfix's attribute text: per recipient, an optional
 * "<rcpt>: text" line, then "name=value" lines, then an empty line.
 */
#ifndef SLUICE_PF_QUEUE_H
#define SLUICE_PF_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct argv;

/* One recipient of a Postfix queue file. */
struct pf_rcpt {
	long offset;		/* of its R/D record in the Postfix file */
	char *address;
	char *orig_rcpt;	/* "" when none */
	char *dsn_orcpt;	/* "" when none */
	int notify;		/* DSN_NOTIFY_* bits (Postfix uses the same), 0 none */
	bool done;		/* D (delivered/bounced) or cancelled */
};

struct pf_msg {
	bool is_queue_file;	/* had a size record (not a maildrop file) */
	long arrival_sec, arrival_usec;
	long warn_time;		/* W: when a delay warning is due, 0 none */
	char *sender;		/* "" is the null sender */
	char *full_name;	/* F, "" when none */
	char *envid;		/* DSN ENVID, "" when none */
	int ret;		/* DSN_RET_*, 0 when none */
	struct argv *attrs;	/* "name=value" worth keeping (log_*, rewrite_context) */
	struct argv *dropped;	/* what was not imported, one phrase each */
	struct buf content;	/* the message, LF line ends */
	struct pf_rcpt *rcpts;
	size_t rcpt_count;
};

/*
 * pf_rec_next - the record at *pos of data[0..len-1]: its type, data and
 * length; *pos moves past it.  Returns 1, 0 at the end of the data, -1
 * when the header is malformed or the record runs past the end.
 */
int pf_rec_next(const char *data, size_t len, size_t *pos, int *type_r,
		const char **val_r, size_t *vlen_r);

/*
 * pf_msg_parse - a whole queue or maildrop file.  Returns 0 with *msg
 * filled in (free with pf_msg_deinit), or -1 with *error_r (static text,
 * valid until the next call) and nothing to free.
 */
int pf_msg_parse(const char *data, size_t len, struct pf_msg *msg, const char **error_r);
void pf_msg_deinit(struct pf_msg *msg);

/* One record of a Postfix defer (or bounce) log. */
struct pf_defer {
	char *recipient;
	char *orig_rcpt;
	char *dsn_orcpt;
	long offset;		/* the recipient's record in the Postfix file, -1 none */
	int notify;
	char *status;		/* "4.4.1", "" when none */
	char *action;
	char *reason;
	char *diag_type, *diag_text, *mta_type, *mta_name;
};

/*
 * pf_defer_parse - every complete record of a log (a record needs a
 * recipient); a torn last record is skipped.  Returns the count with
 * *recs_r (caller frees with pf_defer_free).
 */
size_t pf_defer_parse(const char *data, size_t len, struct pf_defer **recs_r);
void pf_defer_free(struct pf_defer **recs, size_t count);

#endif
