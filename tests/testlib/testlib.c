/*
 * testlib - scratch directories, queue directories, configuration files and
 * tree removal for the unit tests (contract in testlib.h).  Tree walks use
 * nftw() with FTW_PHYS, so a symbolic link in a test tree is removed, never
 * followed; nothing here runs a shell.
 */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "testlib.h"
#include "global/queue_file.h"
#include "util/mem.h"

/* die - report a failed helper and abort the test */
static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "testlib: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* tmpdir_in - a new directory PARENT/NAME.XXXXXX */
static char *tmpdir_in(const char *parent, const char *name)
{
	char *path = xasprintf("%s/%s.XXXXXX", parent, name);

	if (mkdtemp(path) == NULL)
		die("mkdtemp %s: %s", path, strerror(errno));
	return path;
}

/* testlib_tmpdir - a new directory under /tmp */
char *testlib_tmpdir(const char *name)
{
	return tmpdir_in("/tmp", name);
}

/* testlib_tmpdir_mem - a new directory on the tmpfs /dev/shm, else under /tmp */
char *testlib_tmpdir_mem(const char *name)
{
	struct statfs fs;

	if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC && access("/dev/shm", W_OK) == 0)
		return tmpdir_in("/dev/shm", name);
	return tmpdir_in("/tmp", name);
}

/* testlib_queue_dirs - the queue folders under queue_dir */
void testlib_queue_dirs(const char *queue_dir)
{
	const char *error;

	if (queue_dirs_create(queue_dir, &error) < 0)
		die("queue_dirs_create %s: %s", queue_dir, error);
}

/* queue_tmp - dir made a queue directory with the default hashing */
static char *queue_tmp(char *dir)
{
	queue_hash_init("deferred, defer", 1);
	testlib_queue_dirs(dir);
	return dir;
}

/* testlib_queue_tmp - a scratch queue directory with the default hashing */
char *testlib_queue_tmp(const char *name)
{
	return queue_tmp(testlib_tmpdir(name));
}

/* testlib_queue_tmp_mem - the same in memory where there is a tmpfs */
char *testlib_queue_tmp_mem(const char *name)
{
	return queue_tmp(testlib_tmpdir_mem(name));
}

static int walk_errno;		/* first failure of a walk */
static long walk_count;		/* files seen by count_one */

/* remove_one - nftw callback: unlink a file or remove an emptied folder */
static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT && walk_errno == 0)
		walk_errno = errno;
	return 0;
}

/* unlink_one - nftw callback: unlink everything but directories */
static int unlink_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag != FTW_DP && flag != FTW_D && unlink(path) < 0 && walk_errno == 0)
		walk_errno = errno;
	return 0;
}

/* count_one - nftw callback: count what is not a directory */
static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_F || flag == FTW_SL)
		walk_count++;
	return 0;
}

/* walk - run fn over the tree depth first; 0 or -1 with errno */
static int walk(const char *path, int (*fn)(const char *, const struct stat *, int, struct FTW *))
{
	walk_errno = 0;
	if (nftw(path, fn, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -1;
	if (walk_errno != 0) {
		errno = walk_errno;
		return -1;
	}
	return 0;
}

/* testlib_rmtree - remove a tree without a shell */
int testlib_rmtree(const char *path)
{
	return walk(path, remove_one);
}

/* testlib_empty_tree - remove the files of a tree, keep its folders */
int testlib_empty_tree(const char *path)
{
	return walk(path, unlink_one);
}

/* testlib_count_files - files below path */
long testlib_count_files(const char *path)
{
	walk_count = 0;
	if (nftw(path, count_one, 16, FTW_PHYS) < 0)
		return -1;
	return walk_count;
}

/* testlib_write_file - replace dir/name with text, or remove it */
void testlib_write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp;

	if (text == NULL) {
		if (unlink(path) < 0 && errno != ENOENT)
			die("unlink %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	if ((fp = fopen(path, "w")) == NULL)
		die("open %s: %s", path, strerror(errno));
	if (fputs(text, fp) == EOF || fclose(fp) == EOF)
		die("write %s: %s", path, strerror(errno));
	free(path);
}

/* testlib_main_cf - write dir/main.cf */
void testlib_main_cf(const char *dir, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		die("vasprintf: out of memory");
	va_end(ap);
	testlib_write_file(dir, "main.cf", text);
	free(text);
}

/* testlib_master_cf - write or remove dir/master.cf */
void testlib_master_cf(const char *dir, const char *text)
{
	testlib_write_file(dir, "master.cf", text);
}
