/*
 * smtpd_xforward - the XFORWARD command (Postfix's extension): a trusted
 * client, typically the content filter that gives mail back after
 * inspection, names the client the message first came from, so that the
 * log and the queue file name it rather than the filter (docs/SMTPD.md
 * "XFORWARD").  Parsing only, no I/O; unit-tested and fuzzed (fuzz_smtpd_cmd).
 */
#ifndef SLUICE_SMTPD_XFORWARD_H
#define SLUICE_SMTPD_XFORWARD_H

#include <stdbool.h>
#include <stddef.h>

/* What the EHLO reply lists after the keyword. */
#define SMTPD_XFORWARD_ATTRS	"NAME ADDR PORT PROTO HELO IDENT SOURCE"

/*
 * The forwarded attributes: NULL when not given.  "[UNAVAILABLE]" from the
 * client is kept as "unknown" for NAME and ADDR (as an unknown client is
 * named in the log) and as NULL for the others.  client is true once any of
 * NAME, ADDR, PORT, PROTO, HELO was given, even as unavailable: the
 * message then has a forwarded client.
 */
struct smtpd_xforward {
	char *name;
	char *addr;			/* without "IPv6:" */
	char *port;
	char *proto;
	char *helo;
	char *ident;			/* the queue ID upstream */
	int source;			/* 0 unknown, SMTPD_XF_LOCAL, SMTPD_XF_REMOTE */
	bool client;
};

#define SMTPD_XF_LOCAL	1
#define SMTPD_XF_REMOTE	2

/*
 * smtpd_xforward_apply - "NAME=value ..." (the command's argument) onto
 * xf.  All or nothing: NULL when every attribute was good (xf updated), or
 * a whole SMTP reply ("501 5.5.4 ...", in reply_buf) and xf unchanged.
 */
const char *smtpd_xforward_apply(struct smtpd_xforward *xf, const char *args,
				 char *reply_buf, size_t reply_size);

/* smtpd_xforward_reset - forget every attribute */
void smtpd_xforward_reset(struct smtpd_xforward *xf);

#endif
