/*
 * qmgr_scan - find queue files to import: incoming scans and the deferred
 * queue's due-time index.
 *
 * Incoming is scanned as Postfix does: a pass over the folder (and its hash
 * subfolders) yielding every name that looks like a queue ID; a request
 * that arrives during a pass makes the pass run again when it ends, so
 * every file gets its turn and requests collapse.
 *
 * Deferred is where sluice departs from Postfix (whose every deferred scan
 * lstat()s every file, so a queue of 100,000 messages of which 100 are due
 * costs 100,000 lstats each queue_run_delay).  The queue manager knows when
 * every message it deferred comes due - it set the time itself - so it keeps
 * an in-memory min-heap of (due time, queue ID).  A deferred scan (the D
 * trigger, the queue_run_delay timer) pops what is due and nothing else.
 * A full pass over the folder, with one lstat per file, builds the heap at
 * start-up and runs again on the A trigger (which also means "everything is
 * due", as in Postfix) and every deferred_rescan_time, to find files that
 * tools moved into deferred/ behind the queue manager's back.  A stale heap
 * entry (a file held or deleted meanwhile) costs one failed rename.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "global/params.h"
#include "global/queue_file.h"
#include "qmgr.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define SCAN_DEPTH_MAX	5

struct qmgr_scan {
	char *queue;			/* "incoming" or "deferred" */
	bool indexed;			/* deferred: use the due-time index */
	bool running;
	int flags;			/* of the pass in progress */
	int nflags;			/* requested for the next pass */
	bool full;			/* this pass lists the folder */
	double last_full;		/* when the last full pass started */
	DIR *dirs[SCAN_DEPTH_MAX];	/* folder walk */
	char *paths[SCAN_DEPTH_MAX];
	int depth;
	char name[QUEUE_ID_SIZE];
};

struct qmgr_scan *qmgr_incoming_scan;
struct qmgr_scan *qmgr_deferred_scan;

/* ---- the deferred index: a binary min-heap on due time ---- */

struct index_item {
	double due;
	unsigned gen;			/* index_gen when it was added */
	char id[QUEUE_ID_SIZE];
};

static struct index_item *heap;
static size_t heap_len, heap_cap;

/*
 * A pass takes each message at most once, as Postfix's walk of the folder
 * does: what is deferred again while the pass runs (index_gen is the pass's
 * number) waits for the next pass.  Otherwise a message that fails at once
 * (an unreadable file) with a backoff within the one-second slop, or any
 * message once a flush reaches a running index pass (every item is then
 * due), came straight back into the same pass: a busy loop.  Items held back during a pass go back into the
 * heap when it ends.
 */
static unsigned index_gen;
static struct index_item *held;
static size_t held_len, held_cap;

/* heap_swap - exchange two items */
static void heap_swap(size_t a, size_t b)
{
	struct index_item t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
}

/* qmgr_defer_index_add - remember that id comes due at due */
void qmgr_defer_index_add(const char *id, double due)
{
	size_t i, parent;

	if (strlen(id) >= QUEUE_ID_SIZE)
		return;
	if (heap_len == heap_cap) {
		heap_cap = heap_cap ? heap_cap * 2 : 1024;
		heap = xreallocarray(heap, heap_cap, sizeof(*heap));
	}
	i = heap_len++;
	heap[i].due = due;
	heap[i].gen = index_gen;
	strcpy(heap[i].id, id);
	while (i > 0 && heap[parent = (i - 1) / 2].due > heap[i].due) {
		heap_swap(i, parent);
		i = parent;
	}
}

/* index_pop - remove the earliest item into *out */
static void index_pop(struct index_item *out)
{
	size_t i = 0, l, r, m;

	*out = heap[0];
	heap[0] = heap[--heap_len];
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < heap_len && heap[l].due < heap[m].due)
			m = l;
		if (r < heap_len && heap[r].due < heap[m].due)
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
}

/* qmgr_defer_index_size - entries in the index */
long qmgr_defer_index_size(void)
{
	return (long)heap_len;
}

/* ---- folder walk ---- */

/* walk_close - end a folder walk */
static void walk_close(struct qmgr_scan *scan)
{
	while (scan->depth > 0) {
		scan->depth--;
		closedir(scan->dirs[scan->depth]);
		free(scan->paths[scan->depth]);
	}
}

/* walk_open - start a folder walk at the queue folder */
static void walk_open(struct qmgr_scan *scan)
{
	char *path = xasprintf("%s/%s", var_queue_directory, scan->queue);

	walk_close(scan);
	if ((scan->dirs[0] = opendir(path)) == NULL) {
		msg_warn("open queue folder %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	scan->paths[0] = path;
	scan->depth = 1;
}

/* walk_next - next queue ID in the folder or its hash subfolders */
static const char *walk_next(struct qmgr_scan *scan)
{
	struct dirent *dp;
	DIR *sub;

	while (scan->depth > 0) {
		if ((dp = readdir(scan->dirs[scan->depth - 1])) == NULL) {
			scan->depth--;
			closedir(scan->dirs[scan->depth]);
			free(scan->paths[scan->depth]);
			continue;
		}
		/* One-character names are hash subfolders. */
		if (dp->d_name[0] != '.' && dp->d_name[1] == 0
		    && (dp->d_type == DT_DIR || dp->d_type == DT_UNKNOWN)
		    && scan->depth < SCAN_DEPTH_MAX) {
			char *path = xasprintf("%s/%s", scan->paths[scan->depth - 1], dp->d_name);

			if ((sub = opendir(path)) != NULL) {
				scan->dirs[scan->depth] = sub;
				scan->paths[scan->depth] = path;
				scan->depth++;
			} else {
				free(path);
			}
			continue;
		}
		if (queue_id_valid(dp->d_name) && strlen(dp->d_name) < QUEUE_ID_SIZE) {
			strcpy(scan->name, dp->d_name);
			return scan->name;
		}
	}
	return NULL;
}

/* ---- scans ---- */

/* qmgr_scan_create - a scan of one queue folder */
struct qmgr_scan *qmgr_scan_create(const char *queue, bool indexed)
{
	struct qmgr_scan *scan = xcalloc(1, sizeof(*scan));

	scan->queue = xstrdup(queue);
	scan->indexed = indexed;
	scan->last_full = -1e300;	/* the first deferred pass is a full one */
	return scan;
}

/* qmgr_scan_free - release a scan (its walk is closed) */
void qmgr_scan_free(struct qmgr_scan **scanp)
{
	struct qmgr_scan *scan = *scanp;

	if (scan == NULL)
		return;
	walk_close(scan);
	free(scan->queue);
	free(scan);
	*scanp = NULL;
}

/* scan_start - begin a pass with the accumulated flags */
static void scan_start(struct qmgr_scan *scan, int flags)
{
	scan->running = true;
	scan->flags = flags & ~QMGR_SCAN_START;
	if (scan->indexed)
		index_gen++;
	scan->full = !scan->indexed || (flags & QMGR_SCAN_ALL)
		|| qmgr_now - scan->last_full >= (double)var_deferred_rescan_time;
	if (scan->full) {
		walk_open(scan);
		if (scan->indexed) {
			/* The pass rebuilds the index from what it finds. */
			heap_len = 0;
			scan->last_full = qmgr_now;
		}
	}
	msg_debug("%s scan start (%s%s)", scan->queue, scan->full ? "full" : "index",
		  flags & QMGR_SCAN_ALL ? ", all" : "");
}

/* qmgr_scan_request - start a pass now, or again after the running one */
void qmgr_scan_request(struct qmgr_scan *scan, int flags)
{
	/* SCAN_ALL and flush bits also apply to a pass in progress (Postfix). */
	if (scan->running) {
		scan->flags |= flags & (QMGR_SCAN_ALL | QMGR_FLUSH_DFXP);
		if (flags & QMGR_SCAN_START)
			scan->nflags |= flags;
		else
			scan->nflags |= flags & (QMGR_SCAN_ALL | QMGR_FLUSH_DFXP);
		return;
	}
	if (flags & QMGR_SCAN_START)
		scan_start(scan, flags | scan->nflags);
	else
		scan->nflags |= flags;
}

/* qmgr_scan_running - is a pass in progress? */
bool qmgr_scan_running(const struct qmgr_scan *scan)
{
	return scan->running;
}

/* scan_end - the pass is over; maybe start the requested one */
static void scan_end(struct qmgr_scan *scan)
{
	int next = scan->nflags;

	walk_close(scan);
	scan->running = false;
	scan->nflags = 0;
	if (scan->indexed) {
		/* Back with this pass's number: the next pass may take them. */
		for (size_t i = 0; i < held_len; i++)
			qmgr_defer_index_add(held[i].id, held[i].due);
		held_len = 0;
	}
	if (next & QMGR_SCAN_START)
		scan_start(scan, next);
	else
		scan->nflags = next;
}

/* qmgr_scan_next - the next file to try */
const char *qmgr_scan_next(struct qmgr_scan *scan, int *flags_r)
{
	struct index_item item;
	struct stat st;
	const char *id;
	char *path;

	while (scan->running) {
		*flags_r = scan->flags;
		if (!scan->full) {
			/* Index pass: only what is due. */
			if (heap_len > 0 && ((scan->flags & QMGR_SCAN_ALL)
					     || heap[0].due <= qmgr_now + 1)) {
				index_pop(&item);
				if (item.gen == index_gen) {
					if (held_len == held_cap) {
						held_cap = held_cap ? held_cap * 2 : 64;
						held = xreallocarray(held, held_cap, sizeof(*held));
					}
					held[held_len++] = item;
					continue;
				}
				strcpy(scan->name, item.id);
				return scan->name;
			}
			scan_end(scan);
			continue;
		}
		if ((id = walk_next(scan)) == NULL) {
			scan_end(scan);
			continue;
		}
		if (!scan->indexed || (scan->flags & QMGR_SCAN_ALL))
			return id;
		/* Full pass over deferred: due now, or into the index. */
		path = queue_path(var_queue_directory, scan->queue, id);
		if (lstat(path, &st) < 0) {
			free(path);
			continue;
		}
		free(path);
		if ((double)st.st_mtime <= qmgr_now + 1)
			return id;
		qmgr_defer_index_add(id, (double)st.st_mtime);
	}
	return NULL;
}
