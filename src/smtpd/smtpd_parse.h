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

#endif
