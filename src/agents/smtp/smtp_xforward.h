/*
 * smtp_xforward - the XFORWARD commands of the SMTP/LMTP client
 * (smtp_send_xforward_command; Postfix's XFORWARD_README): pure text
 * functions, no I/O.
 *
 * PURPOSE: after a content filter, the server that takes the mail back
 * (the re-injection port) sees the filter as its client.  XFORWARD tells it
 * who the original client was, so its log lines and policies name that
 * client: NAME, ADDR, PORT, PROTO and HELO of the original session, IDENT
 * (the queue ID the message had here) and SOURCE (LOCAL or REMOTE: the
 * header rewriting context).
 *
 * CONTRACT: a server announces "XFORWARD attr attr ..." in its EHLO (or
 * LHLO) reply; smtp_ehlo_xforward() turns that into a mask and only
 * announced attributes are ever sent.  Values are xtext-encoded (RFC 3461:
 * "+", "=" and bytes outside "!".."~" as "+XX"); a value that is missing
 * or empty is sent as "[UNAVAILABLE]".  The attributes go out in Postfix's
 * two commands -- NAME ADDR PORT, then PROTO HELO IDENT SOURCE -- each
 * line at most SMTP_XFORWARD_LINE_MAX octets with its CRLF; a group that
 * does not fit is split into more commands, and a value whose encoding
 * alone cannot fit in a line is sent as "[UNAVAILABLE]" (never cut: a
 * truncated name would be a wrong name).
 *
 * NOT: the commands are not sent here (smtp_proto.c pipelines them ahead
 * of MAIL FROM); where the values come from is smtp.c's business (the
 * queue file's log_* and rewrite_context attributes).
 */
#ifndef SLUICE_SMTP_XFORWARD_H
#define SLUICE_SMTP_XFORWARD_H

#include <stddef.h>

struct smtp_reply;

/* XFORWARD attributes, as EHLO announces them. */
#define SMTP_XFWD_NAME		(1 << 0)
#define SMTP_XFWD_ADDR		(1 << 1)
#define SMTP_XFWD_PORT		(1 << 2)
#define SMTP_XFWD_PROTO		(1 << 3)
#define SMTP_XFWD_HELO		(1 << 4)
#define SMTP_XFWD_IDENT		(1 << 5)
#define SMTP_XFWD_SOURCE	(1 << 6)
#define SMTP_XFWD_COUNT		7

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with its CRLF. */
#define SMTP_XFORWARD_LINE_MAX	512

/* The value that means "not known" (XFORWARD_README). */
#define SMTP_XFORWARD_UNAVAILABLE "[UNAVAILABLE]"

/* What is forwarded; NULL or "" is sent as [UNAVAILABLE].  Borrowed. */
struct smtp_xforward_attrs {
	const char *name;	/* client host name (log_client_name) */
	const char *addr;	/* client address (log_client_address) */
	const char *port;	/* client port (log_client_port) */
	const char *proto;	/* SMTP, ESMTP ... (log_protocol_name) */
	const char *helo;	/* HELO/EHLO name (log_helo_name) */
	const char *ident;	/* queue ID (log_ident, else this queue's ID) */
	const char *source;	/* "LOCAL" or "REMOTE" */
};

/* The command lines, in the order they are sent. */
struct smtp_xforward_cmds {
	size_t count;
	/* "XFORWARD NAME=..." with CRLF; caller frees with smtp_xforward_cmds_deinit(). */
	char *line[SMTP_XFWD_COUNT];
	/* For "(in reply to ... command)": "XFORWARD name/address" or
	 * "XFORWARD helo/protocol" (Postfix's words).  Static. */
	const char *what[SMTP_XFWD_COUNT];
};

/*
 * smtp_ehlo_xforward - the SMTP_XFWD_* attributes a 250 EHLO/LHLO reply
 * announces on its XFORWARD line (names matched without regard to case;
 * names it does not know are ignored); 0 when there is no XFORWARD line.
 */
int smtp_ehlo_xforward(const struct smtp_reply *reply);

/*
 * smtp_xforward_cmds_build - the commands that send the attributes in
 * mask (an smtp_ehlo_xforward() result) with the values of a.  cmds_r is
 * filled in (count 0 when mask is 0).
 */
void smtp_xforward_cmds_build(const struct smtp_xforward_attrs *a, int mask,
			      struct smtp_xforward_cmds *cmds_r);

/* smtp_xforward_cmds_deinit - free the lines; count becomes 0. */
void smtp_xforward_cmds_deinit(struct smtp_xforward_cmds *cmds);

#endif
