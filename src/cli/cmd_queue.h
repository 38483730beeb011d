/*
 * cmd_queue - "sluice queue [--json]" (mailq, postqueue -p / -j, sendmail
 * -bp), and the queue-folder helpers the other queue tools share.
 *
 * The listing reads the queue folders directly (no daemon needed) in
 * Postfix's order: maildrop, active, incoming, deferred, hold; within a
 * folder by queue ID (= creation time).  The text layout is postqueue's
 * long-queue-ID layout (sluice IDs are long IDs); --json prints one object
 * per line with postqueue -j's members.
 */
#ifndef SLUICE_CMD_QUEUE_H
#define SLUICE_CMD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Exit statuses (sysexits) used by the queue tools. */
#define CMD_EX_OK	0
#define CMD_EX_FAIL	1
#define CMD_EX_USAGE	64
#define CMD_EX_SOFTWARE	70
#define CMD_EX_IOERR	74
#define CMD_EX_TEMPFAIL	75
#define CMD_EX_CONFIG	78

/*
 * cmd_queue - list the queue; argv[0] is the command name ("queue",
 * "mailq"), then optionally "--json" (or "-j").  Returns the exit status:
 * 0, 64 usage, 74 output error, 78 configuration error.
 */
int cmd_queue(const char *config_dir, int argc, char **argv);

/* ---- shared by the queue tools (cmd_super, cmd_shape) ---- */

/*
 * cmd_queue_setup - read the configuration, set up queue hashing, and give
 * the queue directory (borrowed from the configuration).  Returns 0, or an
 * exit status after printing "sluice: fatal: ..." on stderr.
 */
int cmd_queue_setup(const char *config_dir, const char **queue_dir_r);

/* cmd_fail - print "sluice: fatal: TEXT" on stderr and return status. */
int cmd_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One file found in a queue folder. */
struct cmd_queue_entry {
	char *id;	/* a valid queue ID */
	char *path;	/* where it was found (hash folders included) */
};

/*
 * cmd_queue_scan - every file in queue_dir/queue_name whose name is a valid
 * queue ID, descending into one-character hash folders whatever the hashing
 * configuration says (a file left at a non-canonical place is found too),
 * sorted by ID.  A missing folder is an empty queue.  Returns the count with
 * *entries_r (caller frees with cmd_queue_scan_free), or -1 with *error_r
 * (static, valid until the next call) when a folder cannot be read.
 */
long cmd_queue_scan(const char *queue_dir, const char *queue_name,
		    struct cmd_queue_entry **entries_r, const char **error_r);
void cmd_queue_scan_free(struct cmd_queue_entry **entries, long count);

/*
 * cmd_queue_open_entry - open a file cmd_queue_scan() found and read its
 * envelope into *env_r (caller frees with qf_envelope_free, closes with
 * qf_close); NULL, after a warning where one is due, for a file that
 * vanished, is incomplete or damaged.  *st_r is the file's status.
 */
struct qf;
struct qf_envelope;
struct stat;
struct qf *cmd_queue_open_entry(const char *queue, const struct cmd_queue_entry *e,
				struct qf_envelope *env_r, struct stat *st_r);

/* cmd_queue_name_valid - is name one of the queue folders that hold messages? */
bool cmd_queue_name_valid(const char *name);

/* ---- the listing formatter (pure; unit-tested) ---- */

/* One message as the listing shows it. */
struct cmd_queue_msg {
	const char *queue_name;
	const char *queue_id;
	long arrival_time;	/* epoch seconds */
	long message_size;	/* content bytes */
	bool forced_expire;	/* QF_MODE_EXPIRE set on the file */
	const char *sender;	/* internal form; "" is the null sender */
};

/* Listing state: output kind, counters, and the reason grouping. */
struct cmd_queue_listing {
	bool json;
	const char *empty_addr;		/* shown for the null sender: MAILER-DAEMON */
	unsigned long count;		/* messages so far */
	unsigned long long total_size;	/* sum of message sizes */
	unsigned long rcpt_count;	/* recipients of the current message */
	struct buf *reason;		/* the current message's last reason */
	struct buf *tmp;
};

/* cmd_queue_listing_init - start a listing (text unless json). */
void cmd_queue_listing_init(struct cmd_queue_listing *l, bool json, const char *empty_addr);
/* cmd_queue_listing_deinit - release the listing's buffers. */
void cmd_queue_listing_deinit(struct cmd_queue_listing *l);
/*
 * cmd_queue_msg_begin - append the message's first line(s) to out (the
 * heading before the first message, a blank line between messages).
 */
void cmd_queue_msg_begin(struct cmd_queue_listing *l, struct buf *out,
			 const struct cmd_queue_msg *m);
/*
 * cmd_queue_msg_rcpt - append one pending recipient with its delay reason
 * ("" when none).  In text, a "(reason)" line, right-aligned to column 78,
 * precedes a recipient whose reason differs from the previous one's
 * ("(reason unavailable)" when it has none after one that had one).
 */
void cmd_queue_msg_rcpt(struct cmd_queue_listing *l, struct buf *out,
			const char *address, const char *reason);
/* cmd_queue_msg_end - finish the message. */
void cmd_queue_msg_end(struct cmd_queue_listing *l, struct buf *out,
		       const struct cmd_queue_msg *m);
/* cmd_queue_listing_end - the footer ("-- N Kbytes in M Requests." or
 * "Mail queue is empty"); nothing in JSON. */
void cmd_queue_listing_end(struct cmd_queue_listing *l, struct buf *out);

/*
 * cmd_queue_json_quote - append s as the inside of a JSON string: '"' and
 * '\' escaped, \b \f \n \r \t, other controls (and DEL) as \u00XX; valid
 * UTF-8 passes, every byte of an invalid sequence becomes '?'.
 */
void cmd_queue_json_quote(struct buf *out, const char *s);
/* cmd_queue_printable - append s with controls and invalid UTF-8 as '?'. */
void cmd_queue_printable(struct buf *out, const char *s);

#endif
