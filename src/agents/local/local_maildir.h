/*
 * local_maildir - deliver one message into a Maildir (maildir(5), as
 * D. J. Bernstein specified it): write tmp/NAME, fsync it, link it to
 * new/NAME, remove tmp/NAME, fsync new/.  A reader never sees a partial
 * message, and once this returns 0 the message survives a crash.
 *
 * Unique names are "SECONDS.MmicrosecondsPpidQcount.HOST" with '/' and
 * ':' in HOST written as \057 and \072 (so the name stays one path
 * component and ":2,flags" stays unambiguous).
 *
 * Return convention: 0, or -1 with errno preserved and a reason in why.
 */
#ifndef SLUICE_LOCAL_MAILDIR_H
#define SLUICE_LOCAL_MAILDIR_H

#include <stdbool.h>

struct buf;

/* Write the message to fd: 0, or -1 with errno set. */
typedef int maildir_write_fn(int fd, void *ctx);

/* maildir_unique_name - a new file name. Caller frees with free(). */
char *maildir_unique_name(double now, long pid, unsigned long count, const char *host);

/*
 * maildir_create - make dir and its tmp/, new/ and cur/ (mode 0700) as
 * needed; parents: also missing parent folders of dir.
 */
int maildir_create(const char *dir, bool parents, struct buf *why);

/*
 * maildir_deliver - deliver into dir (which must end without '/' or with
 * one, either works).  create: make the folders first (maildir_create with
 * parents).  On success *path_r (may be NULL) gets the new file's path;
 * caller frees.
 */
int maildir_deliver(const char *dir, bool create, const char *host, maildir_write_fn *fn,
		    void *ctx, char **path_r, struct buf *why);

#endif
