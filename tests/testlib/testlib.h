/*
 * testlib - helpers shared by the unit tests (library sluice_testlib, which
 * every test under tests/unit links): scratch directories, queue
 * directories, configuration files and removing a tree without a shell.
 *
 * CONTRACT: these are for tests only.  A helper that cannot do its job
 * prints what failed on stderr and aborts (the test fails at that spot);
 * the ones that return int report -1 with errno for the test to assert on.
 * Paths returned are the caller's to free with free().
 *
 * NOT: no cmocka here (the library links without it), no fork/exec.
 */
#ifndef SLUICE_TESTLIB_H
#define SLUICE_TESTLIB_H

/* testlib_tmpdir - a new empty directory /tmp/NAME.XXXXXX (mkdtemp).
 * Caller frees with free() after testlib_rmtree(). */
char *testlib_tmpdir(const char *name);

/* testlib_queue_tmp - a new scratch directory that is a queue directory:
 * every queue and log folder made by queue_dirs_create(), after
 * queue_hash_init("deferred, defer", 1) (the defaults).  Caller frees with
 * free() after testlib_rmtree(). */
char *testlib_queue_tmp(const char *name);

/* testlib_tmpdir_mem, testlib_queue_tmp_mem - the same in memory:
 * /dev/shm/NAME.XXXXXX where /dev/shm is a writable tmpfs, else under /tmp.
 * For tests of what is written, not of how durably: an fsync there costs
 * nothing, so a busy disk cannot stretch the test past its time limit. */
char *testlib_tmpdir_mem(const char *name);
char *testlib_queue_tmp_mem(const char *name);

/* testlib_queue_dirs - make the queue folders under queue_dir (and the
 * missing parents) with the hashing already set by queue_hash_init(). */
void testlib_queue_dirs(const char *queue_dir);

/* testlib_rmtree - remove path and everything below it, never following a
 * symbolic link (nftw depth first).  0 (also when path does not exist), or
 * -1 with errno of the first failure. */
int testlib_rmtree(const char *path);

/* testlib_empty_tree - remove every file below path, keeping the
 * directories (a queue emptied between tests).  0 or -1 with errno. */
int testlib_empty_tree(const char *path);

/* testlib_count_files - the files (not directories) below path, at any
 * depth; -1 when path cannot be read. */
long testlib_count_files(const char *path);

/* testlib_write_file - dir/name holds exactly text (mode 0644); text NULL
 * removes the file (absent is fine). */
void testlib_write_file(const char *dir, const char *name, const char *text);

/* testlib_main_cf - dir/main.cf holds the printf-formatted text. */
void testlib_main_cf(const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* testlib_master_cf - dir/master.cf holds text (NULL: removed). */
void testlib_master_cf(const char *dir, const char *text);

#endif
