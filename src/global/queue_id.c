/*
 * queue_id - queue IDs, hashed queue paths, moving files between queues,
 * creating the queue folders, sweeping stale temporary files.
 *
 * Contract (queue_file.h, docs/QUEUE.md sections 1-2): an ID is 6 base-52
 * characters of the creation second, 4 of its microseconds and the inode
 * number, in an alphabet sorted in ASCII order, so IDs sort by time with
 * strcmp and two live files never share one.  queue_path() is the only
 * place that knows where a file of a given queue lives; the hashing set by
 * queue_hash_init() (Postfix defaults until then: "deferred, defer", depth
 * 1) must be the same in every process.
 *
 * This module does not create or read queue files (queue_file.c does).
 *
 * DIAGNOSTICS: functions return -1 with errno or a static *error_r;
 * queue_hash_init() is fatal for a depth outside 1..4;
 * queue_rename_noreplace() warns when its link+unlink fallback cannot
 * remove the old name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/queue_file.h"
#include "util/argv.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define ID_ALPHABET	"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
#define ID_BASE		52
#define ID_SEC_LEN	6
#define ID_USEC_LEN	4
#define ID_TIME_LEN	(ID_SEC_LEN + ID_USEC_LEN)
#define ID_INODE_MAX	12	/* 52^12 > 2^64 */
#define HASH_DEPTH_MAX	ID_USEC_LEN
#define DEFAULT_HASH_NAMES "deferred, defer"

static struct argv *hash_names;	/* NULL: the defaults */
static long hash_depth = 1;
static char queue_err[512];

/* digit - value of an ID character, or -1 */
static int digit(int c)
{
	const char *p;

	if (c == 0 || (p = strchr(ID_ALPHABET, c)) == NULL)
		return -1;
	return (int)(p - ID_ALPHABET);
}

/* put_fixed - v in base 52, exactly width characters */
static void put_fixed(char *out, unsigned long v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		out[i] = ID_ALPHABET[v % ID_BASE];
		v /= ID_BASE;
	}
}

/* queue_id_format - build the ID for (sec, usec, inode) */
void queue_id_format(char id_r[QUEUE_ID_SIZE], long sec, long usec, unsigned long inode)
{
	char tmp[ID_INODE_MAX + 1];
	int n = 0;

	if (sec < 0 || usec < 0 || usec >= 1000000 || inode == 0)
		msg_panic("queue_id_format: bad arguments %ld %ld %lu", sec, usec, inode);
	put_fixed(id_r, (unsigned long)sec, ID_SEC_LEN);
	put_fixed(id_r + ID_SEC_LEN, (unsigned long)usec, ID_USEC_LEN);
	while (inode) {
		tmp[n++] = ID_ALPHABET[inode % ID_BASE];
		inode /= ID_BASE;
	}
	for (int i = 0; i < n; i++)
		id_r[ID_TIME_LEN + i] = tmp[n - 1 - i];
	id_r[ID_TIME_LEN + n] = 0;
}

/* decode - base-52 value of s[0..len), or -1 on a bad digit or overflow */
static int decode(const char *s, size_t len, unsigned long *v_r)
{
	unsigned long v = 0;
	int d;

	for (size_t i = 0; i < len; i++) {
		if ((d = digit((unsigned char)s[i])) < 0)
			return -1;
		if (v > (ULONG_MAX - (unsigned long)d) / ID_BASE)
			return -1;
		v = v * ID_BASE + (unsigned long)d;
	}
	*v_r = v;
	return 0;
}

/* queue_id_valid - canonical queue ID? */
bool queue_id_valid(const char *name)
{
	unsigned long v;
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len <= ID_TIME_LEN || len > ID_TIME_LEN + ID_INODE_MAX)
		return false;
	if (decode(name, ID_SEC_LEN, &v) < 0)
		return false;
	if (decode(name + ID_SEC_LEN, ID_USEC_LEN, &v) < 0 || v >= 1000000)
		return false;
	/* One file, one name: the inode part has no leading zero. */
	if (name[ID_TIME_LEN] == '0')
		return false;
	return decode(name + ID_TIME_LEN, len - ID_TIME_LEN, &v) == 0;
}

/* queue_id_time - creation second of an ID */
long queue_id_time(const char *id)
{
	unsigned long v;

	if (!queue_id_valid(id) || decode(id, ID_SEC_LEN, &v) < 0)
		return -1;
	return (long)v;
}

/* queue_hash_init - set which queues are hashed and how deep */
void queue_hash_init(const char *names, long depth)
{
	if (depth < 1 || depth > HASH_DEPTH_MAX)
		msg_fatal("hash_queue_depth: bad value %ld (allowed: 1..%d)", depth, HASH_DEPTH_MAX);
	argv_free(&hash_names);
	hash_names = argv_split(names ? names : "", ", \t\r\n");
	hash_depth = depth;
}

/* queue_hashed - is this folder hashed? */
bool queue_hashed(const char *queue_name)
{
	if (hash_names == NULL)
		hash_names = argv_split(DEFAULT_HASH_NAMES, ", \t\r\n");
	return argv_find(hash_names, queue_name) >= 0;
}

/* hash_levels - how many hash levels a path for id in queue_name has */
static long hash_levels(const char *queue_name, const char *id)
{
	if (strlen(id) < ID_TIME_LEN || !queue_hashed(queue_name))
		return 0;
	return hash_depth;
}

/* queue_hash_folder - the hash subfolders of id in queue_name: "8/f", or "" */
size_t queue_hash_folder(const char *queue_name, const char *id,
			 char folder_r[QUEUE_HASH_FOLDER_SIZE])
{
	long levels = hash_levels(queue_name, id);
	size_t n = 0;

	/* Most-varying microsecond character first. */
	for (long i = 0; i < levels; i++) {
		if (i)
			folder_r[n++] = '/';
		folder_r[n++] = id[ID_TIME_LEN - 1 - i];
	}
	folder_r[n] = 0;
	return n;
}

/* queue_path - where id lives in queue_name */
char *queue_path(const char *queue_dir, const char *queue_name, const char *id)
{
	char hash[QUEUE_HASH_FOLDER_SIZE];

	if (queue_hash_folder(queue_name, id, hash) == 0)
		return xasprintf("%s/%s/%s", queue_dir, queue_name, id);
	return xasprintf("%s/%s/%s/%s", queue_dir, queue_name, hash, id);
}

/* mkdir_ok - mkdir that accepts an existing folder */
static int mkdir_ok(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* queue_hash_mkdirs - create missing hash levels for id */
int queue_hash_mkdirs(const char *queue_dir, const char *queue_name, const char *id)
{
	char hash[QUEUE_HASH_FOLDER_SIZE];
	size_t len = queue_hash_folder(queue_name, id, hash);
	char *path;
	int rc = 0;

	/* "8", then "8/f": each level is a prefix of the whole. */
	for (size_t end = 1; end <= len && rc == 0; end += 2) {
		path = xasprintf("%s/%s/%.*s", queue_dir, queue_name, (int)end, hash);
		rc = mkdir_ok(path, 0700);
		free(path);
	}
	return rc;
}

/* queue_folder_open - the folder of id in queue_name, following no link */
int queue_folder_open(const char *queue_dir, const char *queue_name, const char *id,
		      bool create)
{
	long levels = hash_levels(queue_name, id);
	char *path = xasprintf("%s/%s", queue_dir, queue_name);
	struct stat top;
	int fd, sub, saved;

	/*
	 * queue_dir itself belongs to root; everything below queue_name may be
	 * changed by mail_owner, so each step is one openat() that refuses a
	 * link, from the descriptor of the step before.
	 */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd < 0 || fstat(fd, &top) < 0)
		goto fail;
	for (long i = 0; i < levels; i++) {
		char name[2] = {id[ID_TIME_LEN - 1 - i], 0};
		bool made = false;

		sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, 0700) == 0)
				made = true;
			else if (errno != EEXIST)
				goto fail;
			sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (sub < 0)
			goto fail;
		close(fd);
		fd = sub;
		/* A root process makes a folder the mail system can use. */
		if (made && (fchmod(fd, 0700) < 0
			     || (geteuid() == 0 && fchown(fd, top.st_uid, top.st_gid) < 0)))
			goto fail;
	}
	return fd;

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

/* queue_rename_noreplace - rename without ever replacing */
int queue_rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;

	/*
	 * The file system cannot rename without replacing: link() fails with
	 * EEXIST just the same.  A crash between link and unlink leaves two
	 * names; callers only use this for a temporary old name, or accept it.
	 */
	if (link(from, to) < 0)
		return -1;
	if (unlink(from) < 0)
		msg_warn("rename %s to %s: remove old name: %s", from, to, strerror(errno));
	return 0;
}

/* queue_move - rename id from one queue to another, durably */
int queue_move(const char *queue_dir, const char *from, const char *to, const char *id)
{
	return queue_move_flags(queue_dir, from, to, id, 0);
}

/* queue_move_flags - queue_move(), optionally without the folder fsync */
int queue_move_flags(const char *queue_dir, const char *from, const char *to,
		     const char *id, int flags)
{
	char *src = queue_path(queue_dir, from, id);
	char *dst = queue_path(queue_dir, to, id);
	struct stat st;
	int rc = 0, saved;

	if (strcmp(src, dst) == 0)
		goto out;
	if ((rc = queue_rename_noreplace(src, dst)) < 0 && errno == ENOENT) {
		/* Missing source, or a hash folder of the destination? */
		if (lstat(src, &st) < 0) {
			errno = ENOENT;
			goto out;
		}
		if (queue_hash_mkdirs(queue_dir, to, id) == 0)
			rc = queue_rename_noreplace(src, dst);
	}
	if (rc == 0 && !(flags & QUEUE_MOVE_NOSYNC))
		rc = fsync_parent(dst);
out:
	saved = errno;
	free(src);
	free(dst);
	errno = saved;
	return rc;
}

static const struct {
	const char *name;
	mode_t mode;
} queue_folders[] = {
	{"maildrop", 01730},
	{"incoming", 0700},
	{"active", 0700},
	{"deferred", 0700},
	{"hold", 0700},
	{"corrupt", 0700},
	{"bounce", 0700},
	{"defer", 0700},
	{"trace", 0700},
	{"public", 0710},
	{"private", 0700},
	{"pid", 0755},
};

/* make_dir - create path with exactly mode when it is missing */
static int make_dir(const char *path, mode_t mode)
{
	int fd;

	if (mkdir(path, 0700) < 0) {
		if (errno == EEXIST)
			return 0;
		snprintf(queue_err, sizeof(queue_err), "create %s: %s", path, strerror(errno));
		return -1;
	}
	/*
	 * mkdir's mode is subject to the umask; ours must be exact.  Set it on
	 * the folder just made, never through a link put in its place (a hash
	 * level lives in a folder mail_owner may change; this may run as root).
	 */
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0
	    || fchmod(fd, mode) < 0) {
		snprintf(queue_err, sizeof(queue_err), "chmod %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* make_parents - mkdir -p for the queue directory itself */
static int make_parents(const char *dir)
{
	char *copy = xstrdup(dir);
	int rc = 0;

	for (char *p = copy + 1; *p && rc == 0; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir_ok(copy, 0755) < 0) {
			snprintf(queue_err, sizeof(queue_err), "create %s: %s", copy, strerror(errno));
			rc = -1;
		}
		*p = '/';
	}
	if (rc == 0 && mkdir_ok(copy, 0755) < 0) {
		snprintf(queue_err, sizeof(queue_err), "create %s: %s", copy, strerror(errno));
		rc = -1;
	}
	free(copy);
	return rc;
}

/* make_hash_dirs - hash levels 1 and 2 of one folder */
static int make_hash_dirs(const char *folder)
{
	long levels = hash_depth < 2 ? hash_depth : 2;
	char *path;
	int rc = 0;

	for (int a = 0; a < ID_BASE && rc == 0; a++) {
		path = xasprintf("%s/%c", folder, ID_ALPHABET[a]);
		rc = make_dir(path, 0700);
		free(path);
		for (int b = 0; levels > 1 && b < ID_BASE && rc == 0; b++) {
			path = xasprintf("%s/%c/%c", folder, ID_ALPHABET[a], ID_ALPHABET[b]);
			rc = make_dir(path, 0700);
			free(path);
		}
	}
	return rc;
}

/* queue_dirs_create - create every queue folder */
int queue_dirs_create(const char *queue_dir, const char **error_r)
{
	char *path;
	int rc;

	*error_r = queue_err;
	if (make_parents(queue_dir) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(queue_folders) / sizeof(queue_folders[0]); i++) {
		path = xasprintf("%s/%s", queue_dir, queue_folders[i].name);
		rc = make_dir(path, queue_folders[i].mode);
		if (rc == 0 && queue_hashed(queue_folders[i].name))
			rc = make_hash_dirs(path);
		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* queue_sweep_temp - remove stale temporary files of one queue folder */
long queue_sweep_temp(const char *queue_dir, const char *queue_name,
		      double max_age, double now, const char **error_r)
{
	char *dir = xasprintf("%s/%s", queue_dir, queue_name);
	struct dirent *de;
	struct stat st;
	long removed = 0;
	DIR *d;

	*error_r = queue_err;
	if ((d = opendir(dir)) == NULL) {
		snprintf(queue_err, sizeof(queue_err), "open %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "tmp.", 4) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
		    || !S_ISREG(st.st_mode) || now - (double)st.st_mtime <= max_age)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
		else if (errno != ENOENT)
			msg_warn("remove %s/%s: %s", dir, de->d_name, strerror(errno));
	}
	closedir(d);
	free(dir);
	return removed;
}
