/*
 * local_mbox - exclusive access to an mbox file for one delivery:
 * dot-lock (FILE.lock created with O_EXCL; a lock older than the stale
 * time is removed), then an fcntl() write lock, both retried a few times;
 * the file is opened for append without following symlinks and must be a
 * regular file with one link (and, when asked, owned by the mailbox
 * owner).  Closing with commit=false truncates the file back to its size
 * at open, so a failed delivery leaves no partial message; commit=true
 * fsyncs first (and truncates if that fails).
 *
 * Return convention: 0, or -1 with errno preserved and a reason in why.
 */
#ifndef SLUICE_LOCAL_MBOX_H
#define SLUICE_LOCAL_MBOX_H

#include <stdbool.h>
#include <sys/types.h>

struct buf;

struct mbox_conf {
	int lock_attempts;	/* tries for each lock (>= 1) */
	int lock_delay_ms;	/* between tries */
	long stale_lock_secs;	/* a dot-lock older than this is removed */
	bool dotlock;		/* use FILE.lock */
	bool dotlock_may_fail;	/* go on without it when the folder is not writable */
	bool create;		/* create a missing file (mode 0600) */
	bool check_owner;	/* the file must belong to uid */
	bool chown_new;		/* give a created file to uid/gid (root only) */
	uid_t uid;
	gid_t gid;
};

struct mbox {
	int fd;
	char *path;
	char *lock_path;	/* the dot-lock we hold, or NULL */
	off_t orig_size;
};

/* mbox_conf_default - Postfix's deliver_lock_attempts 20, delay 1 s, stale 500 s. */
void mbox_conf_default(struct mbox_conf *conf);

/* mbox_open - lock and open path; *mb_r is freed by mbox_close(). */
int mbox_open(const char *path, const struct mbox_conf *conf, struct mbox **mb_r,
	      struct buf *why);
/* mbox_close - commit or roll back, unlock, close, free and clear *mbp. */
int mbox_close(struct mbox **mbp, bool commit, struct buf *why);
/*
 * mbox_emergency_close - for a signal handler (async-signal-safe calls
 * only): truncate the mbox this process has open back to its size at
 * open and remove its dot-lock; the process must then _exit().
 */
void mbox_emergency_close(void);

#endif
