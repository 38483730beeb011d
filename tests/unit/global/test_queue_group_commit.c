/*
 * test_queue_group_commit - the group commit of incoming/ (qf_commit,
 * sync_incoming in queue_file.c): several processes commit files at once;
 * every rename takes a number from the shared counter and, when the last
 * commit has returned, every number is published durable (a commit that
 * returned before its number was published would leave the second word
 * behind the first).  Files committed to another folder, or under another
 * queue directory than the system's, take no number (the plain folder
 * fsync); nor do files committed with one fsync after the rename
 * (queue_folder_fsync = no on ext4, XFS or btrfs), except those under an
 * ID the caller gave (pickup's copies), which always take the folder
 * order.  Every file is there under its queue ID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/counters.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "testlib.h"
#include "util/mem.h"

static char *qdir;

static int setup(void **state)
{
	char path[512];
	const char *error;

	qdir = testlib_queue_tmp("sluice-gc");
	assert_non_null(qdir);
	snprintf(path, sizeof(path), "%s/pid", qdir);
	mkdir(path, 0700);
	var_queue_directory = qdir;
	var_process_id_directory = "pid";
	snprintf(path, sizeof(path), "%s/pid/counters", qdir);
	assert_int_equal(counters_create(path, getuid(), getgid(), &error), 0);
	counters_reset_for_test();
	return 0;
}

static int teardown(void **state)
{
	counters_reset_for_test();
	assert_int_equal(testlib_rmtree(qdir), 0);
	free(qdir);
	return 0;
}

/*
 * commit_one - a minimal message into queue_dir/queue, under an ID given as
 * pickup gives it (given) or its own; 0 or -1
 */
static int commit_one(const char *queue_dir, const char *queue, bool given)
{
	struct qf_envelope env = {.sender = "s@example.test"};
	char id[QUEUE_ID_SIZE];
	const char *err;
	struct qf_writer *w = qf_create(queue_dir, queue, &err);

	if (w == NULL)
		return -1;
	if (given) {
		if (qf_reserve_id(w, id) < 0)
			return -1;
		qf_set_id(w, id);
	}
	qf_put_envelope(w, &env);
	qf_put_content(w, "Subject: x\n\nbody\n", 17);
	qf_add_rcpt(w, "r@example.test", NULL, NULL, 0);
	return qf_commit(&w, id, &err);
}

/* count_ids - queue files (not temporary names) directly in dir */
static int count_ids(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strncmp(de->d_name, "tmp.", 4) != 0)
			n++;
	closedir(d);
	return n;
}

/* names_follow_fsync - is dir on ext4, XFS or btrfs? */
static bool names_follow_fsync(const char *dir)
{
	struct statfs sfs;

	assert_int_equal(statfs(dir, &sfs), 0);
	return sfs.f_type == 0xEF53 || sfs.f_type == 0x58465342 || sfs.f_type == 0x9123683E;
}

/*
 * Rows: processes, files each, folder, other queue directory?,
 * queue_folder_fsync, numbers taken (ONE_SYNC: none where the file system
 * commits names with the file's fsync, else one per file).
 */
#define ONE_SYNC	UINT64_MAX
static const struct {
	const char *name;
	int procs, each;
	const char *queue;
	bool other_dir;
	bool folder_fsync;
	bool given_id;
	uint64_t want_seq;
} rows[] = {
	{"one process alone", 1, 10, "incoming", false, true, false, 10},
	{"six processes at once", 6, 20, "incoming", false, true, false, 120},
	{"hold/ syncs alone", 3, 5, "hold", false, true, false, 0},
	{"another queue directory", 2, 5, "incoming", true, true, false, 0},
	{"queue_folder_fsync = no", 4, 10, "incoming", false, false, false, ONE_SYNC},
	{"queue_folder_fsync = no, IDs given", 3, 10, "incoming", false, false, true, 30},
};

static void test_group_commit(void **state)
{
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		char *other = rows[r].other_dir ? testlib_queue_tmp("sluice-gc-other") : NULL;
		const char *dir = other ? other : qdir;
		char *folder = xasprintf("%s/%s", dir, rows[r].queue);
		uint64_t *seq, before0, want = rows[r].want_seq;
		int status, before_files = count_ids(folder);

		print_message("row: %s\n", rows[r].name);
		var_queue_folder_fsync = rows[r].folder_fsync;
		if (want == ONE_SYNC)
			want = names_follow_fsync(folder) ? 0 : (uint64_t)(rows[r].procs * rows[r].each);
		assert_non_null(seq = counters_commit_seq());
		before0 = seq[0];
		for (int p = 0; p < rows[r].procs; p++) {
			pid_t pid = fork();

			assert_true(pid >= 0);
			if (pid == 0) {
				for (int i = 0; i < rows[r].each; i++)
					if (commit_one(dir, rows[r].queue, rows[r].given_id) < 0)
						_exit(1);
				_exit(0);
			}
		}
		for (int p = 0; p < rows[r].procs; p++) {
			assert_true(wait(&status) > 0);
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		}
		assert_int_equal(seq[0] - before0, want);
		/* Nothing returned before its own rename was published durable. */
		assert_int_equal(seq[1], seq[0]);
		assert_int_equal(count_ids(folder) - before_files, rows[r].procs * rows[r].each);
		free(folder);
		if (other) {
			assert_int_equal(testlib_rmtree(other), 0);
			free(other);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
