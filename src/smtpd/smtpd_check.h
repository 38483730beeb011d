/*
 * smtpd_check - mynetworks and the smtpd_*_restrictions (Postfix names and
 * evaluation order; docs/SMTPD.md).
 */
#ifndef SLUICE_SMTPD_CHECK_H
#define SLUICE_SMTPD_CHECK_H

#include <stdbool.h>
#include <sys/socket.h>

/* What the restrictions look at. */
struct smtpd_check_ctx {
	const struct sockaddr_storage *addr;	/* the client */
	const char *client;			/* "host[addr]" for replies */
	const char *helo;			/* NULL before HELO/EHLO */
	const char *sender;			/* NULL before MAIL, "" null sender */
	const char *rcpt;			/* NULL outside RCPT */
	bool rcpt_routed;			/* the RCPT path had a source route */
	long rcpt_count;			/* recipients accepted before this command */
	bool pipelined;				/* unread input after this command */
	/* or, when set, asked only where reject_unauth_pipelining needs it */
	bool (*pipelined_fn)(const void *arg);
	const void *pipelined_arg;
	bool ehlo;				/* EHLO (PIPELINING announced) */
	const char *sasl_username;		/* NULL: not logged in */
	/* For the action log lines and the actions themselves: */
	const char *queue_id;			/* NULL or "" before the queue file */
	const char *where;			/* "RCPT", "MAIL", "CONNECT" ... */
	const char *proto;			/* "ESMTP" ... */
	struct smtpd_actions *actions;		/* the transaction's; NULL: none */
};

/* smtpd_check_init - parse mynetworks and every restriction list; fatal
 * with the parameter and the word on an error. */
void smtpd_check_init(void);

/* smtpd_check_deinit - close the tables smtpd_check_init opened. */
void smtpd_check_deinit(void);

/* smtpd_check_mynetworks - is the address in mynetworks? */
bool smtpd_check_mynetworks(const struct sockaddr_storage *addr);

/*
 * smtpd_check_rewrite_local - does local_header_rewrite_clients match the
 * client (permit_inet_interfaces: the client has one of $inet_interfaces'
 * addresses; permit_mynetworks; permit_sasl_authenticated: sasl_username
 * not NULL; check_address_map type:table: the address is a key)?  Its
 * header addresses are then rewritten as local mail's (cleanup.h).
 */
bool smtpd_check_rewrite_local(const struct sockaddr_storage *addr, const char *addr_text,
			       const char *sasl_username);

/* Stages (the restriction lists). */
enum smtpd_stage {
	SMTPD_CLIENT, SMTPD_HELO, SMTPD_SENDER, SMTPD_RELAY, SMTPD_RCPT,
	SMTPD_DATA,			/* smtpd_data_restrictions: DATA, the first BDAT */
	SMTPD_EOD,			/* smtpd_end_of_data_restrictions */
	SMTPD_STAGES
};

/*
 * smtpd_check_stage - evaluate one list.  Returns NULL (permitted or no
 * decision) or a rejection reply (static, "554 5.7.1 <x>: Relay access
 * denied"), valid until the next call.
 */
const char *smtpd_check_stage(enum smtpd_stage stage, const struct smtpd_check_ctx *ctx);

/*
 * smtpd_check_data - SMTPD_DATA or SMTPD_EOD, as smtpd_check_stage.  The
 * context has the recipient only when there is one (Postfix), and
 * rcpt_count the number accepted.
 */
const char *smtpd_check_data(enum smtpd_stage stage, const struct smtpd_check_ctx *ctx);

/* smtpd_check_rcpt - every list that applies at RCPT TO, in Postfix's
 * order (client, helo, sender when smtpd_delay_reject, relay, recipient). */
const char *smtpd_check_rcpt(const struct smtpd_check_ctx *ctx);

/* smtpd_check_auth_destination - is the recipient ours or a relay domain
 * (and free of routing tricks)? */
bool smtpd_check_auth_destination(const char *rcpt, bool routed);

/*
 * smtpd_tables_changed - has a table file this process opened (access
 * maps, local_recipient_maps, virtual and relay tables, content checks)
 * changed since?  Logs "table X has changed -- restarting" when so: the
 * caller ends after the session it serves, so that the next client gets
 * a new process that reads the new table (Postfix's behaviour).
 */
bool smtpd_tables_changed(void);

/*
 * smtpd_nets_parse - a parameter's list of "net/bits", "[ipv6]/bits" or
 * addresses (as mynetworks; fatal, naming param, when one is malformed);
 * smtpd_nets_match - is addr in one of them?  An empty list matches nothing.
 * smtpd_nets_free - forget a list.
 */
struct smtpd_nets;
struct smtpd_nets *smtpd_nets_parse(const char *param, const char *value);
bool smtpd_nets_match(const struct smtpd_nets *list, const struct sockaddr_storage *addr);
void smtpd_nets_free(struct smtpd_nets *list);

/* smtpd_cidr_match - is addr in the "net/bits" or "addr" pattern? (testing) */
int smtpd_cidr_parse(const char *pattern, struct sockaddr_storage *net_r, int *bits_r);
bool smtpd_cidr_match(const struct sockaddr_storage *net, int bits,
		      const struct sockaddr_storage *addr);

#endif
