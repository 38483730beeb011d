/*
 * pickup_file - take one maildrop file: judge it, copy it into incoming/
 * through cleanup, remove it.
 *
 * Two kinds of file are legal in maildrop/ (docs/QUEUE.md states 2, 12):
 *   - a submission: mode 0744, written by sendmail or postdrop for any
 *     user; hostile input.  Only what a submission may hold is copied
 *     (submission.h): sender, full name, DSN ENVID/RET, trace flags,
 *     recipients with original recipient, ORCPT and NOTIFY, the content.
 *     Every field is checked again; anything else makes the file corrupt.
 *   - a requeued queue file: mode 0700, owned by the mail system (pickup's
 *     own user, or root), put there by "sluice requeue".  Its envelope is
 *     kept (arrival time, flags, attributes) and only its pending
 *     recipients are copied; with none left it is simply removed.
 * The identity (uid) always comes from the file's owner, never from its
 * contents.  The file must be a regular file with exactly one link; it is
 * opened without following symbolic links and re-checked after opening.
 */
#ifndef SLUICE_PICKUP_FILE_H
#define SLUICE_PICKUP_FILE_H

#include "global/queue_file.h"

enum pickup_status {
	PICKUP_DONE,		/* copied (or nothing left to copy); maildrop file gone */
	PICKUP_SKIP,		/* not to be taken now (vanished, not complete, changed) */
	PICKUP_CORRUPT,		/* not a legal maildrop file: quarantine it */
	PICKUP_REJECTED,	/* cleanup refused the message for good (5.x.x) */
	PICKUP_RETRY,		/* trouble with this file; leave it for the next scan */
	PICKUP_STOP,		/* trouble writing incoming/; end this scan */
};

struct pickup_result {
	enum pickup_status status;
	char queue_id[QUEUE_ID_SIZE];	/* DONE: the new queue ID ("" if none) */
	char reason[512];		/* why, for every status but DONE/SKIP
					 * (DONE may carry a warning) */
};

/*
 * pickup_file - process queue_dir/maildrop/id.  Returns the status (also in
 * res->status).  Logs nothing itself except cleanup's success lines.
 */
enum pickup_status pickup_file(const char *queue_dir, const char *id,
			       struct pickup_result *res);

/*
 * pickup_quarantine - move maildrop/id to corrupt/ and log, after a line
 * with the reason, "warning: ID: WHAT maildrop file moved to corrupt/"
 * (what: "corrupt", or "rejected" for a message cleanup refused).  0, or
 * -1 when the move failed (logged).
 */
int pickup_quarantine(const char *queue_dir, const char *id, const char *what,
		      const char *reason);

#endif
