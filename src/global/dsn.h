/*
 * dsn - delivery status vocabulary shared by agents, qmgr and bounce.
 *
 * A delivery outcome is data, not log text (docs/STYLE.md): an RFC 3463
 * status ("5.1.1"), an RFC 3464 action ("failed", "delayed", "delivered",
 * "relayed", "expanded"), a human reason, and where a remote MTA spoke, its
 * name and its reply (diagnostic type "smtp").
 */
#ifndef SLUICE_DSN_H
#define SLUICE_DSN_H

#include <stdbool.h>

/* RFC 3461 NOTIFY, as bits; 0 means "not specified". */
#define DSN_NOTIFY_NEVER	(1 << 0)
#define DSN_NOTIFY_SUCCESS	(1 << 1)
#define DSN_NOTIFY_FAILURE	(1 << 2)
#define DSN_NOTIFY_DELAY	(1 << 3)
#define DSN_NOTIFY_ANY		(DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY)

/* RFC 3461 RET; 0 means "not specified". */
#define DSN_RET_FULL		1
#define DSN_RET_HDRS		2

struct dsn {
	char status[16];	/* "4.4.1"; always class.subject.detail */
	const char *action;	/* "failed" ... ; static string */
	const char *reason;	/* human text, borrowed */
	const char *mta;	/* remote MTA name or NULL, borrowed */
	const char *diag_type;	/* "smtp" or NULL */
	const char *diag_text;	/* the remote reply or NULL, borrowed */
};

/* dsn_notify_parse - "SUCCESS,DELAY" / "never" / "" into bits; -1 if bad. */
int dsn_notify_parse(const char *text);
/* dsn_notify_str - bits into "SUCCESS,FAILURE"; "" for 0. Static buffer. */
const char *dsn_notify_str(int bits);
/* dsn_ret_parse - "FULL"/"HDRS" (any case), "" -> 0; -1 if bad. */
int dsn_ret_parse(const char *text);
/* dsn_ret_str - "FULL", "HDRS" or "". */
const char *dsn_ret_str(int ret);
/* dsn_status_valid - is text an RFC 3463 status X.Y.Z with X in 2,4,5? */
bool dsn_status_valid(const char *text);
/*
 * dsn_status_from_text - find an enhanced status code at the start of text
 * (as in "550 5.1.1 no such user" after the reply code, or "5.1.1 text");
 * copies it to status_r and returns the text after it, or NULL when none.
 */
const char *dsn_status_from_text(const char *text, char status_r[16]);
/* dsn_status_default - "X.0.0" for a reply class (2, 4 or 5). */
void dsn_status_default(int cls, char status_r[16]);

#endif
