/*
 * smtpd_parse - pure parsing of SMTP commands (no I/O; unit-tested).
 */
#ifndef SLUICE_SMTPD_PARSE_H
#define SLUICE_SMTPD_PARSE_H

#include <stdbool.h>

/* The envelope parameters of MAIL FROM and RCPT TO. */
struct smtpd_params {
	long size;		/* SIZE=, -1 absent */
	int body;		/* 0, 7 (7BIT) or 8 (8BITMIME) */
	bool smtputf8;
	int ret;		/* DSN_RET_* or 0 */
	char *envid;		/* decoded xtext or NULL */
	int notify;		/* DSN_NOTIFY_* or 0 */
	char *orcpt;		/* "rfc822;decoded" or NULL */
};

/*
 * smtpd_parse_path - split "FROM:<path> params" (after the verb) into the
 * path text (with its brackets) and the parameter text.  prefix is "FROM:"
 * or "TO:" (any case; white space after the colon is tolerated as Postfix
 * does).  Returns 0 with *path_r and *rest_r pointing into line (path
 * NUL-terminated in place), or -1.
 */
int smtpd_parse_path(char *line, const char *prefix, char **path_r, char **rest_r);

/*
 * smtpd_parse_params - "NAME=VALUE ..." of MAIL (rcpt false) or RCPT (rcpt
 * true).  0, or -1 with *reply_r: a whole SMTP reply ("555 5.5.4 ...").
 * The caller frees p with smtpd_params_deinit().
 */
int smtpd_parse_params(char *text, bool rcpt, struct smtpd_params *p, const char **reply_r);
void smtpd_params_deinit(struct smtpd_params *p);

/* smtpd_xtext_decode - RFC 3461 xtext; NULL when malformed. Caller frees. */
char *smtpd_xtext_decode(const char *text);

/* smtpd_path_routed - does an SMTP path use source routing ("<@a:b@c>")? */
bool smtpd_path_routed(const char *path);

/*
 * smtpd_parse_address - the path text of MAIL (sender) or RCPT to internal
 * form (global/addr.h): a trailing dot of the domain dropped, angle
 * brackets optional, no domain needed, "<>" only for the sender.  0 with
 * *addr_r (caller frees), or -1 with *error_r (static).
 */
int smtpd_parse_address(const char *path, bool sender, char **addr_r, const char **error_r);

/*
 * smtpd_parse_bdat - "count [LAST]" of BDAT (RFC 3030): 0 with *size_r and
 * *last_r, or -1 (the count is unknown: the session cannot go on).  arg is
 * changed in place.
 */
int smtpd_parse_bdat(char *arg, long *size_r, bool *last_r);

/*
 * The DATA decoder (RFC 5321 4.1.1.4, 4.5.2): message lines up to the end
 * line, with the leading dot of a dot-stuffed line dropped.  Only a "."
 * line that follows a CR LF and ends in CR LF ends the message; any other
 * line end is content, and a line ending in a bare LF is noted.  The
 * decoder keeps state across calls so that input may come in pieces of any
 * size.
 */
struct smtpd_data {
	bool line_start;	/* the next byte starts a line */
	bool prev_crlf;		/* the line before ended in CR LF */
	bool bare_seen;		/* some line ended in a bare LF */
};

#define SMTPD_DATA_MORE	0	/* nothing can be decided without more input */
#define SMTPD_DATA_TEXT	1	/* content in *text_r, *len_r */
#define SMTPD_DATA_END	2	/* the end line was read */

/* smtpd_data_init - before the first byte of the message */
void smtpd_data_init(struct smtpd_data *d);

/*
 * smtpd_data_step - look at the unread input in[0..n).  Returns
 * SMTPD_DATA_MORE (nothing used: read more, then call again with the same
 * bytes and the new ones), SMTPD_DATA_TEXT (*text_r points into in at
 * *len_r >= 1 bytes of content), or SMTPD_DATA_END.  With TEXT and END,
 * *used_r is how many input bytes were used (the caller drops them).
 * At the end of input, bytes left undecided are not content.
 */
int smtpd_data_step(struct smtpd_data *d, const char *in, size_t n, const char **text_r,
		    size_t *len_r, size_t *used_r);

#endif
