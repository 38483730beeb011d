/*
 * smtp_cmd - what the SMTP client says and what the server's EHLO reply
 * offers: pure text functions, no I/O.
 *
 * EHLO keywords are matched without regard to case; "SIZE n" gives the
 * server's fixed message size limit (0: none announced).  Commands are
 * built with DSN parameters only when the server offers DSN (RFC 3461),
 * SIZE only when it offers SIZE, BODY=8BITMIME only for 8-bit content when
 * it offers 8BITMIME, SMTPUTF8 when asked and offered (RFC 6531).  ENVID
 * and ORCPT are xtext-encoded.  Local parts that
 * are not a dot-atom are sent quoted (RFC 5321 4.1.2).
 */
#ifndef SLUICE_SMTP_CMD_H
#define SLUICE_SMTP_CMD_H

#include <stdbool.h>

struct buf;
struct deliver_rcpt;
struct smtp_reply;

/* Server features (EHLO keywords). */
#define SMTP_FEAT_ESMTP		(1 << 0)	/* EHLO was accepted */
#define SMTP_FEAT_PIPELINING	(1 << 1)
#define SMTP_FEAT_SIZE		(1 << 2)
#define SMTP_FEAT_8BITMIME	(1 << 3)
#define SMTP_FEAT_DSN		(1 << 4)
#define SMTP_FEAT_STARTTLS	(1 << 5)
#define SMTP_FEAT_ENHANCEDSTATUSCODES (1 << 6)
#define SMTP_FEAT_SMTPUTF8	(1 << 7)

/*
 * smtp_ehlo_features - features of a 250 EHLO reply (the first line is the
 * greeting and is skipped); *size_r gets the SIZE limit or 0.
 */
int smtp_ehlo_features(const struct smtp_reply *reply, long *size_r);

/* smtp_ehlo_auth - the SASL mechanisms the AUTH lines of a 250 EHLO reply
 * offer, space separated, or NULL when there are none.  Caller frees. */
char *smtp_ehlo_auth(const struct smtp_reply *reply);

/* smtp_xtext - append s xtext-encoded (RFC 3461 4): "+" "=" and bytes
 * outside "!".."~" become "+XX". */
void smtp_xtext(struct buf *out, const char *s);

/* smtp_quote_addr - append "<addr>" with its local part quoted when it is
 * not a dot-atom; "" becomes "<>". */
void smtp_quote_addr(struct buf *out, const char *addr);

/* What goes into MAIL FROM. */
struct smtp_mail_args {
	const char *sender;
	long size;		/* content bytes; sent as SIZE= when offered */
	bool eightbit;		/* content has 8-bit bytes */
	int ret;		/* DSN_RET_* or 0 */
	const char *envid;	/* "" or NULL when none */
	bool smtputf8;		/* SMTPUTF8 (only when the server offers it) */
};

/* smtp_mail_command - append "MAIL FROM:<s> [params]\r\n". */
void smtp_mail_command(struct buf *out, const struct smtp_mail_args *m, int features);
/* smtp_rcpt_command - append "RCPT TO:<r> [NOTIFY= ORCPT=]\r\n". */
void smtp_rcpt_command(struct buf *out, const struct deliver_rcpt *r, int features);

#endif
