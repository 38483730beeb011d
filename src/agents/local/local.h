/*
 * local.h - the local delivery agent's private interface, shared by
 * local.c (requests, recipients, alias expansion) and local_deliver.c
 * (the delivery primitives: mailbox, Maildir, file, command, forward).
 */
#ifndef SLUICE_LOCAL_H
#define SLUICE_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agents/common/agent_server.h"

struct argv;
struct buf;

/* Outcome of one delivery attempt, ordered by precedence when combined. */
#define LOCAL_STAT_OK		0
#define LOCAL_STAT_BOUNCE	1
#define LOCAL_STAT_DEFER	2
#define LOCAL_STAT_CORRUPT	3	/* the queue file is damaged */

#define LOCAL_REASON_MAX	1024

struct local_result {
	int stat;
	char status[16];		/* RFC 3463 */
	char reason[LOCAL_REASON_MAX];
};

/* The account a delivery runs as. */
struct local_privs {
	uid_t uid;
	gid_t gid;
	char name[64];			/* for messages and $USER */
	char home[256];			/* for $HOME and home_mailbox */
	char shell[64];
};

/* The message being delivered for one request recipient. */
struct local_msg {
	struct agent_delivery *d;
	size_t index;			/* the request recipient */
	const char *recipient;		/* its address (Delivered-To:) */
	const char *orig_rcpt;		/* original recipient, never "" */
	const char *user;		/* local part, lower case, no extension */
	const char *localpart;		/* local part, lower case, with extension */
	const char *extension;		/* "" when none */
	const char *domain;		/* "" when none */
	const char *sender;		/* forwarded copies' sender; NULL: the request's
					 * (owner-listname for a list with an owner) */
};

/* local_result_set - fill a result (reason printf-style). */
void local_result_set(struct local_result *res, int stat, const char *status,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* local_privs_from_name - look up an account; 0, or -1 when unknown. */
int local_privs_from_name(const char *name, struct local_privs *p);
/* local_privs_self - the account this process runs as. */
void local_privs_self(struct local_privs *p);

/* The delivery primitives; each fills *res. */
void local_deliver_mbox(const struct local_msg *m, const char *path,
			const struct local_privs *p, bool spool, struct local_result *res);
void local_deliver_maildir(const struct local_msg *m, const char *dir,
			   const struct local_privs *p, struct local_result *res);
void local_deliver_file(const struct local_msg *m, const char *path,
			const struct local_privs *p, struct local_result *res);
void local_deliver_command(const struct local_msg *m, const char *command,
			   const struct local_privs *p, struct local_result *res);
/*
 * local_read_include - read an :include: file as p (at most 1 MiB) into
 * out; *owner_r gets the file's owner.  0, LOCAL_INCLUDE_MISSING when the
 * file does not exist (*res says so, as a bounce), or -1 with *res filled in.
 */
#define LOCAL_INCLUDE_MISSING	1	/* local_read_include: no such file */
int local_read_include(const struct local_msg *m, const char *path,
		       const struct local_privs *p, struct buf *out,
		       uid_t *owner_r, struct local_result *res);
/*
 * local_pass - hand request recipient i to the delivery service spec
 * ("transport[:nexthop]", the value of parameter param) as the queue
 * manager would, and wait for its reply (local_pass.c).  That agent records
 * the outcome: the result is the AGENT_RCPT_* state it reported, for
 * agent_rcpt_passed(); 0 when nothing was handed over (*res then holds a
 * deferral to record); -1 when it found the queue file damaged.
 */
int local_pass(struct agent_delivery *d, size_t i, const char *param, const char *spec,
	       struct local_result *res);
/* local_forward - resubmit the message to addresses (one new queue file,
 * written as mail_owner); on success the reason is "forwarded as ID". */
void local_forward(const struct local_msg *m, const struct argv *addresses,
		   struct local_result *res);

#endif
