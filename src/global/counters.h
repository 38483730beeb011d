/*
 * counters - event counters that many processes add to and the metrics
 * service reads (smtpd connections and rejects, messages received by
 * source, master's process starts and failures).
 *
 * PURPOSE.  smtpd, pickup, the bounce service and master see events the
 * queue manager never sees.  Each adds to a named counter in one shared
 * file, process_id_directory/counters, mapped into memory: an addition is
 * one atomic add in shared memory, no system call and no message, so
 * counting costs smtpd nothing it would notice and survives any process's
 * exit (the counts live in the file, not in the process).
 *
 * CONTRACT.  master makes a new, zeroed file at start (counters_create: a
 * temporary file renamed into place, so a process of an earlier run that
 * still maps the old file never faults) owned by mail_owner, mode 0600.
 * Other processes open it on their first counters_add().  A counter's name
 * is its whole Prometheus series, "name{label=\"value\",...}", at most
 * COUNTERS_NAME_MAX bytes; callers use fixed label values (no escaping is
 * done here).  A slot is claimed by compare-and-swap, so two processes
 * adding the same new name race safely; the table holds COUNTERS_SLOTS
 * names, and additions to names that find no slot are dropped.
 *
 * NOT.  Counters are not persistent across master restarts (Prometheus
 * takes a reset counter as a reset); they are not exact under a process
 * killed between claiming a slot and naming it (that slot is skipped).
 *
 * DIAGNOSTICS.  counters_add() never fails its caller: a file that cannot
 * be opened or mapped stops counting for that process, with one warning
 * unless the file is missing or not ours (a tool run without master).
 */
#ifndef SLUICE_COUNTERS_H
#define SLUICE_COUNTERS_H

#include <stdint.h>
#include <sys/types.h>

#define COUNTERS_SLOTS		1024
#define COUNTERS_NAME_MAX	111	/* bytes, without the NUL */

/* counters_path - process_id_directory/counters; caller frees. */
char *counters_path(void);

/*
 * counters_create - make a new zeroed counters file at path, owned by
 * uid:gid (ignored when not root), replacing any old one.  0, or -1 with
 * *error_r (static, valid until the next call).
 */
int counters_create(const char *path, uid_t uid, gid_t gid, const char **error_r);

/* counters_add - add n to the named counter (see CONTRACT). */
void counters_add(const char *name, uint64_t n);

/*
 * counters_read - call fn for every named counter of the file at path
 * (name borrowed for the call).  0, or -1 with *error_r when the file
 * cannot be read.  Names that are not a NUL-terminated series are skipped.
 */
/*
 * counters_commit_seq - two words of shared memory in the same file for
 * the group commit of incoming/ (queue_file.c): [0] counts the queue files
 * renamed into incoming/, [1] the highest of those counts known durable (a
 * folder fsync that began after that rename finished).  Zero at each
 * master start.  NULL when the file cannot be mapped: sync alone then.
 */
uint64_t *counters_commit_seq(void);

typedef void counters_read_fn(void *ctx, const char *name, uint64_t value);
int counters_read(const char *path, counters_read_fn *fn, void *ctx, const char **error_r);

/* counters_reset_for_test - forget the mapping (the next add reopens). */
void counters_reset_for_test(void);

#endif
