/*
 * local_mbox - lock, append, roll back (see local_mbox.h).
 *
 * Both lock kinds are taken because mail readers differ: traditional ones
 * use dot-locks, others fcntl() locks; taking both keeps all of them out
 * while we append.  The dot-lock is only advisory for the folder's other
 * writers, so when it cannot be created in a folder we may not write to
 * (a /file destination in someone else's folder) the caller may choose to
 * go on with the fcntl() lock alone.  Stale dot-locks (a crashed writer)
 * are recognised by age, as Postfix does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agents/local/local_mbox.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/mem.h"

/* The mbox this process is changing, for mbox_emergency_close(). */
static struct mbox *volatile active_mbox;

/* mbox_emergency_close - from a signal handler: roll back, unlock */
void mbox_emergency_close(void)
{
	struct mbox *mb = active_mbox;

	if (mb == NULL)
		return;
	if (mb->fd >= 0 && mb->orig_size >= 0)
		(void)ftruncate(mb->fd, mb->orig_size);
	if (mb->lock_path)
		(void)unlink(mb->lock_path);
}

/* mbox_conf_default - Postfix's defaults */
void mbox_conf_default(struct mbox_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->lock_attempts = 20;
	conf->lock_delay_ms = 1000;
	conf->stale_lock_secs = 500;
	conf->dotlock = true;
	conf->create = true;
}

/* nap - sleep ms milliseconds */
static void nap(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* dot_lock - create lock_path exclusively; 0, or -1 with errno */
static int dot_lock(const char *lock_path, const struct mbox_conf *conf)
{
	struct stat st;
	int fd;

	for (int i = 0; i < conf->lock_attempts; i++) {
		if (i > 0)
			nap(conf->lock_delay_ms);
		fd = open(lock_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
		/* Someone holds it; a lock nobody touched for long is left over. */
		if (lstat(lock_path, &st) == 0
		    && time(NULL) - st.st_mtime > conf->stale_lock_secs
		    && unlink(lock_path) == 0)
			i--;
	}
	errno = EAGAIN;
	return -1;
}

/* fcntl_lock - exclusive write lock on fd; 0, or -1 with errno */
static int fcntl_lock(int fd, const struct mbox_conf *conf)
{
	struct flock fl;

	for (int i = 0; i < conf->lock_attempts; i++) {
		if (i > 0)
			nap(conf->lock_delay_ms);
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * open_file - open for append, creating when allowed; fd or -1.  The open
 * does not block (O_NONBLOCK: a FIFO without a reader fails with ENXIO
 * instead of waiting for one); the caller checks the file type and then
 * clears O_NONBLOCK.
 */
static int open_file(const char *path, const struct mbox_conf *conf, bool *created_r)
{
	int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, fd;

	*created_r = false;
	if ((fd = open(path, flags)) >= 0 || errno != ENOENT || !conf->create)
		return fd;
	if ((fd = open(path, flags | O_CREAT | O_EXCL, 0600)) >= 0) {
		*created_r = true;
		return fd;
	}
	/* Lost a race with another creator: open theirs. */
	if (errno == EEXIST)
		return open(path, flags);
	return -1;
}

/* mbox_open - dot-lock, open, check, fcntl-lock */
int mbox_open(const char *path, const struct mbox_conf *conf, struct mbox **mb_r,
	      struct buf *why)
{
	struct mbox *mb = xcalloc(1, sizeof(*mb));
	struct stat st;
	bool created;
	int saved;

	mb->fd = -1;
	mb->orig_size = -1;	/* nothing to roll back until we hold the locks */
	mb->path = xstrdup(path);
	active_mbox = mb;
	if (conf->dotlock) {
		char *lock_path = xasprintf("%s.lock", path);

		if (dot_lock(lock_path, conf) == 0) {
			mb->lock_path = lock_path;
		} else if (conf->dotlock_may_fail && (errno == EACCES || errno == EPERM
						      || errno == EROFS)) {
			free(lock_path);
		} else {
			saved = errno;
			buf_printf(why, "unable to create lock file %s: %s", lock_path,
				   saved == EAGAIN ? "file is locked" : strerror(saved));
			free(lock_path);
			goto fail;
		}
	}
	if ((mb->fd = open_file(path, conf, &created)) < 0) {
		saved = errno;
		/* ENXIO: a FIFO nobody reads, or a device; say what it is. */
		if (saved == ENXIO && lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			saved = EPERM;
			buf_printf(why, "file %s is not a regular file", path);
		} else {
			buf_printf(why, "cannot open file %s: %s", path, strerror(saved));
		}
		goto fail;
	}
	if (created && conf->chown_new && geteuid() == 0
	    && fchown(mb->fd, conf->uid, conf->gid) < 0) {
		saved = errno;
		buf_printf(why, "cannot change ownership of %s: %s", path, strerror(saved));
		(void)unlink(path);
		goto fail;
	}
	if (fstat(mb->fd, &st) < 0) {
		saved = errno;
		buf_printf(why, "cannot examine file %s: %s", path, strerror(saved));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EPERM;
		buf_printf(why, "file %s is not a regular file", path);
		goto fail;
	}
	if (set_nonblock(mb->fd, false) < 0) {
		saved = errno;
		buf_printf(why, "cannot set up file %s: %s", path, strerror(saved));
		goto fail;
	}
	if (st.st_nlink != 1) {
		saved = EPERM;
		buf_printf(why, "file %s has too many hard links", path);
		goto fail;
	}
	if (conf->check_owner && st.st_uid != conf->uid) {
		saved = EPERM;
		buf_printf(why, "file %s is owned by uid %lu, not by the recipient (uid %lu)", path,
			   (unsigned long)st.st_uid, (unsigned long)conf->uid);
		goto fail;
	}
	if (fcntl_lock(mb->fd, conf) < 0) {
		saved = errno;
		buf_printf(why, "unable to lock %s for exclusive access: %s", path,
			   saved == EAGAIN ? "file is locked" : strerror(saved));
		goto fail;
	}
	mb->orig_size = st.st_size;
	*mb_r = mb;
	return 0;

fail:
	(void)mbox_close(&mb, false, NULL);
	errno = saved;
	return -1;
}

/* mbox_close - fsync or truncate, then release everything */
int mbox_close(struct mbox **mbp, bool commit, struct buf *why)
{
	struct mbox *mb = *mbp;
	int rc = 0, saved = 0;

	if (mb == NULL)
		return 0;
	if (mb->fd >= 0) {
		if (commit && fsync(mb->fd) < 0) {
			saved = errno;
			rc = -1;
			if (why)
				buf_printf(why, "cannot fsync %s: %s", mb->path, strerror(saved));
		}
		/* A message that did not make it must not leave a fragment behind. */
		if ((!commit || rc < 0) && mb->orig_size >= 0 && ftruncate(mb->fd, mb->orig_size) < 0
		    && why)
			buf_printf(why, "%scannot truncate %s: %s", buf_len(why) ? "; " : "",
				   mb->path, strerror(errno));
		close(mb->fd);		/* releases the fcntl lock */
	}
	if (mb->lock_path)
		(void)unlink(mb->lock_path);
	if (active_mbox == mb)
		active_mbox = NULL;
	free(mb->lock_path);
	free(mb->path);
	free(mb);
	*mbp = NULL;
	if (rc < 0)
		errno = saved;
	return rc;
}
