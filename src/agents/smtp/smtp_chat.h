/*
 * smtp_chat - the transcript of an SMTP session and the postmaster notice
 * made of it (Postfix smtp_chat.c: "Transcript of session follows.").
 *
 * The session keeps what the client sent ("Out: MAIL FROM:<...>") and
 * what the server answered ("In:  250 2.1.0 Ok"), one line each, never the
 * message content, and the notify_classes troubles it met (NOTICE_*):
 *   protocol  the server sent something that is no SMTP reply, or failed a
 *             command with a code that says we broke the protocol (not
 *             4xx/5xx, 500-509, 555: Postfix smtp_check_code());
 *   data      the message could not be read from the queue file while
 *             talking to the server.
 * After a delivery the agent calls smtp_chat_notify(): when notify_classes
 * lists one of the troubles, the postmaster gets one notice with the
 * transcript (Subject "$mail_name SMTP client: errors from host[addr]",
 * as Postfix's); the transcript starts anew either way.
 *
 * Limits: at most SMTP_CHAT_LIMIT bytes of transcript (a note says where
 * it was cut); each line at most SMTP_CHAT_LINE bytes.
 */
#ifndef SLUICE_SMTP_CHAT_H
#define SLUICE_SMTP_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define SMTP_CHAT_LIMIT	(32 * 1024)
#define SMTP_CHAT_LINE	512

struct smtp_reply;

struct smtp_chat {
	struct buf text;	/* lines, each ending in LF */
	bool cut;		/* SMTP_CHAT_LIMIT reached */
	int troubles;		/* NOTICE_* bits */
};

/* smtp_chat_init / smtp_chat_deinit - an empty transcript; release it. */
void smtp_chat_init(struct smtp_chat *c);
void smtp_chat_deinit(struct smtp_chat *c);
/* smtp_chat_reset - forget lines and troubles. */
void smtp_chat_reset(struct smtp_chat *c);

/* smtp_chat_out - what the client sent: data holds one or more commands
 * ending in CRLF; each becomes an "Out: " line. */
void smtp_chat_out(struct smtp_chat *c, const char *data, size_t len);
/* smtp_chat_in - a reply: each of its lines becomes an "In:  " line. */
void smtp_chat_in(struct smtp_chat *c, const struct smtp_reply *r);
/* smtp_chat_garbage - input that is no reply (first line of raw, else
 * why), noted as an "In:  " line; a protocol trouble. */
void smtp_chat_garbage(struct smtp_chat *c, const char *raw, size_t len, const char *why);

/* smtp_chat_code_trouble - does failing a command with this code say that
 * a side broke the protocol (Postfix smtp_check_code())? */
bool smtp_chat_code_trouble(int code);

/*
 * smtp_chat_notify - send the postmaster a notice about the troubles of
 * the session with namaddr ("host[addr]") during the delivery of queue_id
 * from sender, when notify_classes lists one of them; then reset c.
 * Returns 1 sent, 0 nothing to send, -1 failed (warned).
 */
int smtp_chat_notify(struct smtp_chat *c, const char *namaddr, const char *queue_id,
		     const char *sender);

#endif
