/*
 * local_maildir - Maildir delivery (see local_maildir.h).
 *
 * The file is written under tmp/ with O_EXCL, so two deliveries never share
 * a file even if names collided; the move into new/ is a link() (which,
 * unlike rename(), never replaces an existing message) with rename() as
 * the fallback for file systems without hard links.  On any failure the
 * temporary file is removed.  Runs with whatever privileges the caller has
 * chosen: the agent calls it in a child that already is the mailbox owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agents/local/local_maildir.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/mem.h"

/* maildir_unique_name - SECONDS.MusecPpidQcount.HOST */
char *maildir_unique_name(double now, long pid, unsigned long count, const char *host)
{
	struct buf b;
	long sec = (long)now, usec = (long)((now - (double)sec) * 1e6 + 0.5);
	char *s;

	if (usec < 0)
		usec = 0;
	if (usec > 999999)
		usec = 999999;
	buf_init(&b, 64);
	buf_printf(&b, "%ld.M%06ldP%ldQ%lu.", sec, usec, pid, count);
	for (const char *cp = host && *host ? host : "localhost"; *cp; cp++) {
		if (*cp == '/')
			buf_puts(&b, "\\057");
		else if (*cp == ':')
			buf_puts(&b, "\\072");
		else
			buf_putc(&b, *cp);
	}
	s = buf_steal(&b);
	buf_deinit(&b);
	return s;
}

/* make_dir - mkdir that accepts an existing folder */
static int make_dir(const char *path, struct buf *why)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		errno = ENOTDIR;
	buf_printf(why, "create maildir folder %s: %s", path, strerror(errno));
	return -1;
}

/* maildir_create - folders as needed */
int maildir_create(const char *dir, bool parents, struct buf *why)
{
	static const char *const subs[] = {"tmp", "new", "cur"};
	char *path = xstrdup(dir);
	int rc = 0;

	if (parents) {
		/* Each missing ancestor, top down. */
		for (char *cp = path + 1; *cp; cp++) {
			if (*cp != '/')
				continue;
			*cp = 0;
			rc = make_dir(path, why);
			*cp = '/';
			if (rc < 0)
				goto out;
		}
	}
	if ((rc = make_dir(path, why)) < 0)
		goto out;
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		char *sub = xasprintf("%s/%s", path, subs[i]);

		rc = make_dir(sub, why);
		free(sub);
	}
out:
	free(path);
	return rc;
}

/* maildir_deliver - tmp, fsync, link to new, fsync new */
int maildir_deliver(const char *dir, bool create, const char *host, maildir_write_fn *fn,
		    void *ctx, char **path_r, struct buf *why)
{
	static unsigned long count;
	char *name, *tmp_path, *new_path, *new_dir;
	int fd, saved = 0, rc = -1;

	if (create && maildir_create(dir, true, why) < 0)
		return -1;
	name = maildir_unique_name(wall_time(), (long)getpid(), ++count, host);
	tmp_path = xasprintf("%s/tmp/%s", dir, name);
	new_path = xasprintf("%s/new/%s", dir, name);
	new_dir = xasprintf("%s/new", dir);

	fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		saved = errno;
		buf_printf(why, "create maildir file %s: %s", tmp_path, strerror(errno));
		goto out;
	}
	if (fn(fd, ctx) < 0) {
		saved = errno;
		buf_printf(why, "write maildir file %s: %s", tmp_path, strerror(errno));
		goto fail;
	}
	if (fsync(fd) < 0) {
		saved = errno;
		buf_printf(why, "fsync maildir file %s: %s", tmp_path, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		saved = errno;
		buf_printf(why, "close maildir file %s: %s", tmp_path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (link(tmp_path, new_path) < 0) {
		if (errno == EEXIST || rename(tmp_path, new_path) < 0) {
			saved = errno;
			buf_printf(why, "move maildir file %s to new/: %s", tmp_path,
				   strerror(errno));
			goto fail;
		}
	} else if (unlink(tmp_path) < 0) {
		/* Delivered all the same; a stale tmp/ file is harmless. */
	}
	if (fsync_dir(new_dir) < 0) {
		saved = errno;
		buf_printf(why, "fsync maildir folder %s: %s", new_dir, strerror(errno));
		/* The message is in new/ but not durable: take it back. */
		(void)unlink(new_path);
		goto out;
	}
	if (path_r)
		*path_r = xstrdup(new_path);
	rc = 0;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp_path);
out:
	free(name);
	free(tmp_path);
	free(new_path);
	free(new_dir);
	if (rc < 0)
		errno = saved;
	return rc;
}
