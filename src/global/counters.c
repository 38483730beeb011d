/*
 * counters - named event counters in one shared, memory-mapped file (see
 * counters.h for the contract).
 *
 * Layout: a header (magic, slot count) and COUNTERS_SLOTS slots of 128
 * bytes: state (0 free, 1 being named, 2 named), value, name.  A name's
 * slot is found by open addressing from its hash, so looking one up reads
 * one or two slots.  The state word orders the naming: a slot's name is
 * written between the claim (0 -> 1) and the release store of 2, and
 * readers look at names of state-2 slots only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/counters.h"
#include "global/daemon_path.h"
#include "global/params.h"
#include "util/log.h"
#include "util/mem.h"

#define COUNTERS_MAGIC	"sluice-counters1"	/* 16 bytes, no NUL kept */
#define SLOT_FREE	0u
#define SLOT_NAMING	1u
#define SLOT_NAMED	2u
#define NAMING_SPINS	1000			/* wait this long for a namer */

struct counters_slot {
	uint32_t state;
	uint32_t pad;
	uint64_t value;
	char name[COUNTERS_NAME_MAX + 1];
};

struct counters_head {
	char magic[16];
	uint32_t slots;
	uint32_t pad;
	uint64_t commit_seq[2];	/* counters_commit_seq() */
};

struct counters_file {
	struct counters_head h;
	struct counters_slot slot[COUNTERS_SLOTS];
};

_Static_assert(sizeof(struct counters_slot) == 128, "counter slots are 128 bytes");

static struct counters_file *mapped;	/* this process's mapping */
static bool given_up;			/* warned; count nothing */
static char err_buf[512];

/* counters_path - next to master.pid */
char *counters_path(void)
{
	char *pid = master_pid_path(var_queue_directory, var_process_id_directory);
	char *slash = strrchr(pid, '/'), *path;

	if (slash)
		*slash = 0;
	path = xasprintf("%s/counters", slash ? pid : ".");
	free(pid);
	return path;
}

/* fail - format the error text */
static int fail(const char **error_r, const char *what, const char *path)
{
	int saved = errno;

	snprintf(err_buf, sizeof(err_buf), "%s %s: %s", what, path, strerror(saved));
	*error_r = err_buf;
	errno = saved;
	return -1;
}

/* counters_create - a new zeroed file, renamed into place */
int counters_create(const char *path, uid_t uid, gid_t gid, const char **error_r)
{
	char *tmp = xasprintf("%s.%ld", path, (long)getpid());
	struct counters_head head;
	int fd, rc = -1;

	(void)unlink(tmp);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		rc = fail(error_r, "create", tmp);
		goto out;
	}
	memset(&head, 0, sizeof(head));
	memcpy(head.magic, COUNTERS_MAGIC, sizeof(head.magic));
	head.slots = COUNTERS_SLOTS;
	/*
	 * The blocks are allocated now (zeroes): a store into a mapped hole on
	 * a full file system is a SIGBUS, which would kill whichever process
	 * counts first -- master included -- when the queue's disk fills.
	 */
	if ((errno = posix_fallocate(fd, 0, (off_t)sizeof(struct counters_file))) != 0
	    || pwrite(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head)
	    || (geteuid() == 0 && fchown(fd, uid, gid) < 0)) {
		rc = fail(error_r, "write", tmp);
	} else if (rename(tmp, path) < 0) {
		rc = fail(error_r, "rename to", path);
	} else {
		rc = 0;
	}
	close(fd);
	if (rc < 0)
		(void)unlink(tmp);
out:
	free(tmp);
	return rc;
}

/* map_file - map path; NULL with *error_r */
static struct counters_file *map_file(const char *path, bool writable, const char **error_r)
{
	struct counters_file *f;
	struct stat st;
	int fd;

	if ((fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		fail(error_r, "open", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || st.st_size != (off_t)sizeof(*f)) {
		errno = EINVAL;
		fail(error_r, "size of", path);
		close(fd);
		return NULL;
	}
	f = mmap(NULL, sizeof(*f), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	close(fd);
	if (f == MAP_FAILED) {
		fail(error_r, "map", path);
		return NULL;
	}
	if (memcmp(f->h.magic, COUNTERS_MAGIC, sizeof(f->h.magic)) != 0
	    || f->h.slots != COUNTERS_SLOTS) {
		munmap(f, sizeof(*f));
		errno = EINVAL;
		fail(error_r, "not a counters file:", path);
		return NULL;
	}
	return f;
}

/* hash - FNV-1a of the name */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* find_slot - the named slot, claiming a free one; NULL when the table is full */
static struct counters_slot *find_slot(struct counters_file *f, const char *name)
{
	uint32_t start = hash(name) % COUNTERS_SLOTS, st, expect;

	for (uint32_t i = 0; i < COUNTERS_SLOTS; i++) {
		struct counters_slot *s = &f->slot[(start + i) % COUNTERS_SLOTS];

		st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st == SLOT_FREE) {
			expect = SLOT_FREE;
			if (__atomic_compare_exchange_n(&s->state, &expect, SLOT_NAMING, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				snprintf(s->name, sizeof(s->name), "%s", name);
				__atomic_store_n(&s->state, SLOT_NAMED, __ATOMIC_RELEASE);
				return s;
			}
			st = expect;		/* someone else is naming it */
		}
		/* Another process names this slot now: it may be our name. */
		for (int spin = 0; st == SLOT_NAMING && spin < NAMING_SPINS; spin++)
			st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if (st == SLOT_NAMED && strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

/* map_once - this process's mapping, made at the first use; false without */
static bool map_once(void)
{
	const char *error;
	char *path;

	if (given_up)
		return false;
	if (mapped == NULL) {
		path = counters_path();
		mapped = map_file(path, true, &error);
		free(path);
		if (mapped == NULL) {
			/* No file: no master made one (a tool run without the system). */
			if (errno != ENOENT && errno != EACCES)
				msg_warn("event counters: %s; this process counts nothing", error);
			given_up = true;
			return false;
		}
	}
	return true;
}

/* counters_add - one atomic add */
void counters_add(const char *name, uint64_t n)
{
	struct counters_slot *s;

	if (strlen(name) > COUNTERS_NAME_MAX || !map_once())
		return;
	if ((s = find_slot(mapped, name)) != NULL)
		__atomic_add_fetch(&s->value, n, __ATOMIC_RELAXED);
}

/* counters_commit_seq - the header's two commit words (see counters.h) */
uint64_t *counters_commit_seq(void)
{
	return map_once() ? mapped->h.commit_seq : NULL;
}

/* counters_read - every named counter */
int counters_read(const char *path, counters_read_fn *fn, void *ctx, const char **error_r)
{
	struct counters_file *f = map_file(path, false, error_r);

	if (f == NULL)
		return -1;
	for (int i = 0; i < COUNTERS_SLOTS; i++) {
		const struct counters_slot *s = &f->slot[i];
		char name[sizeof(s->name)];

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != SLOT_NAMED)
			continue;
		/* Copy first: a writer we do not trust could change it under us. */
		memcpy(name, s->name, sizeof(name));
		if (memchr(name, 0, sizeof(name)) == NULL || name[0] == 0)
			continue;
		fn(ctx, name, __atomic_load_n(&s->value, __ATOMIC_RELAXED));
	}
	munmap(f, sizeof(*f));
	return 0;
}

/* counters_reset_for_test - drop the mapping */
void counters_reset_for_test(void)
{
	if (mapped)
		munmap(mapped, sizeof(*mapped));
	mapped = NULL;
	given_up = false;
}
