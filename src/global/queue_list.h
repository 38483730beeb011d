/*
 * queue_list - the queue folders as the queue tools see them: finding the
 * files in a folder, opening one, and the listing of "sluice queue"
 * (mailq, postqueue -p / -j, sendmail -bp), which showq serves to users
 * who cannot read the folders.  One module for all of them (the tools,
 * showq), so they can never disagree.
 *
 * The listing reads queue_directory itself, with no daemon: the folders
 * maildrop, active, incoming, deferred and hold, in that order (Postfix's
 * showq order), each sorted by queue ID (= creation time).  A file is
 * listed when its name is a queue ID and its mode says complete
 * (docs/QUEUE.md section 4); others are skipped silently, as are files
 * that vanish while the listing runs.  The text layout is postqueue's
 * long-queue-ID layout; JSON is one postqueue -j object per line.
 */
#ifndef SLUICE_QUEUE_LIST_H
#define SLUICE_QUEUE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct qf;
struct qf_envelope;
struct stat;

/* One file found in a queue folder. */
struct queue_list_entry {
	char *id;	/* a valid queue ID (the end of path) */
	char *path;	/* where it was found (hash folders included) */
};

/*
 * queue_list_scan - every file in queue_dir/queue_name whose name is a
 * valid queue ID, descending into one-character hash folders whatever the
 * hashing configuration says (a file left at a non-canonical place is
 * found too), sorted by ID.  A missing folder is an empty queue.  Returns
 * the count with *entries_r (caller frees with queue_list_scan_free), or -1
 * with *error_r (static, valid until the next call) when a folder cannot
 * be read.
 */
long queue_list_scan(const char *queue_dir, const char *queue_name,
		     struct queue_list_entry **entries_r, const char **error_r);
void queue_list_scan_free(struct queue_list_entry **entries, long count);

/*
 * queue_list_open_entry - open a file queue_list_scan() found and read its
 * envelope into *env_r (caller frees with qf_envelope_deinit, closes with
 * qf_close); NULL, after a warning where one is due, for a file that
 * vanished, is incomplete or damaged.  *st_r is the file's status.
 */
struct qf *queue_list_open_entry(const char *queue, const struct queue_list_entry *e,
				 struct qf_envelope *env_r, struct stat *st_r);

/* queue_list_name_valid - is name one of the folders that hold messages? */
bool queue_list_name_valid(const char *name);

/*
 * queue_list_write - write the whole listing (text, or JSON lines) of
 * queue_dir to fd; empty_addr is shown for the null sender.  Memory does
 * not grow with the queue beyond the sorted names of one folder: output
 * goes out in chunks as it is made.  0, or -1 with errno set by the
 * failing write (EPIPE: the reader went away), or -1 with *error_r when a
 * folder cannot be read (errno 0 then).  Damaged files are skipped with a
 * warning; a defer log that cannot be read costs its reasons only.
 */
int queue_list_write(const char *queue_dir, bool json, const char *empty_addr, int fd,
		     const char **error_r);

/*
 * queue_list_io_uring - read the files through io_uring when the kernel
 * allows it (true, the default); false reads them one system call at a
 * time, as where io_uring is missing (tests compare the two).
 */
extern bool queue_list_io_uring;

/* How the last queue_list_write() read the files (tests count on it). */
struct queue_list_io_stats {
	unsigned long qf_ring;		/* queue files taken from what io_uring read */
	unsigned long qf_old_way;	/* queue files opened and read one call at a time */
	unsigned long log_ring;		/* defer logs taken from what io_uring read */
	unsigned long log_old_way;	/* defer logs read under their lock */
};
extern struct queue_list_io_stats queue_list_io_stats;

/* ---- the listing formatter (pure; unit-tested) ---- */

/* One message as the listing shows it. */
struct queue_list_msg {
	const char *queue_name;
	const char *queue_id;
	long arrival_time;	/* epoch seconds */
	long message_size;	/* content bytes */
	bool forced_expire;	/* QF_MODE_EXPIRE set on the file */
	const char *sender;	/* internal form; "" is the null sender */
};

/* Listing state: output kind, counters, and the reason grouping. */
struct queue_listing {
	bool json;
	const char *empty_addr;		/* shown for the null sender: MAILER-DAEMON */
	unsigned long count;		/* messages so far */
	unsigned long long total_size;	/* sum of message sizes */
	unsigned long rcpt_count;	/* recipients of the current message */
	struct buf *reason;		/* the current message's last reason */
	struct buf *tmp;
	bool fragment;			/* no heading or separator in msg_begin */
	long when_time;			/* the arrival second last shown (-1: none) */
	char when[24];			/* and how it was shown */
};

/* queue_listing_init - start a listing (text unless json). */
void queue_listing_init(struct queue_listing *l, bool json, const char *empty_addr);
/* queue_listing_deinit - release the listing's buffers. */
void queue_listing_deinit(struct queue_listing *l);
/*
 * queue_listing_msg_begin - append the message's first line(s) to out (the
 * heading before the first message, a blank line between messages; not
 * in a fragment listing, whose user calls queue_listing_separator).
 */
void queue_listing_msg_begin(struct queue_listing *l, struct buf *out,
			     const struct queue_list_msg *m);
/*
 * queue_listing_msg_rcpt - append one pending recipient with its delay
 * reason ("" when none).  In text, a "(reason)" line, right-aligned to
 * column 78, precedes a recipient whose reason differs from the previous
 * one's ("(reason unavailable)" when it has none after one that had one).
 */
void queue_listing_msg_rcpt(struct queue_listing *l, struct buf *out,
			    const char *address, const char *reason);
/* queue_listing_separator - the heading (first message) or a blank line
 * (the others) that msg_begin puts before a message; nothing in JSON. */
void queue_listing_separator(struct queue_listing *l, struct buf *out);
/* queue_listing_msg_end - finish the message. */
void queue_listing_msg_end(struct queue_listing *l, struct buf *out,
			   const struct queue_list_msg *m);
/* queue_listing_end - the footer ("-- N Kbytes in M Requests." or
 * "Mail queue is empty"); nothing in JSON. */
void queue_listing_end(struct queue_listing *l, struct buf *out);

/*
 * queue_list_json_quote - append s as the inside of a JSON string: '"' and
 * '\' escaped, \b \f \n \r \t, other controls (and DEL) as \u00XX; valid
 * UTF-8 passes, every byte of an invalid sequence becomes '?'.
 */
void queue_list_json_quote(struct buf *out, const char *s);
/* queue_list_printable - append s with controls and invalid UTF-8 as '?'. */
void queue_list_printable(struct buf *out, const char *s);

#endif
