/*
 * fuzz_queue_file - libFuzzer target for the queue file reader
 * (global/queue_file.h): the bytes of a file in a queue folder, which may be
 * damaged, truncated or planted.
 *
 * The input is written to a temporary file and read the way qmgr and the
 * delivery agents read one: qf_open(), qf_validate(), qf_read_envelope(),
 * qf_read_rcpts() in small batches across resume offsets (pending only,
 * then all), qf_read_content().  Properties:
 *   - every failure carries a message; a damaged file is QF_CORRUPT;
 *   - the readers agree with qf_validate(): when it says the file is good,
 *     the envelope, every recipient batch and the content read without
 *     error, the content is exactly content_size bytes, the recipients
 *     number rcpt_count, and each recipient has an address;
 *   - the writable path (qf_mark_done on each recipient read) works on a
 *     file that validated, and marking twice is harmless.
 * Most mutations change the file's length, which the size record catches at
 * once; so an input that starts like a size record is also run a second
 * time with its file-size field set to the real length, which lets the
 * fuzzer reach the record readers behind qf_open().
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/queue_file.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_queue_file: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define BATCH 3

static char path[128];

/* LLVMFuzzerInitialize - one file path (in memory when possible), quiet logs */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct stat st;
	char dir[64];

	snprintf(dir, sizeof(dir), "%s/fuzz_queue_file.XXXXXX",
		 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/4XbZ1q2w3e", dir);
	log_init("fuzz", 0);
	log_set_fd(open("/dev/null", O_WRONLY));
	return 0;
}

/* sum_content - count content bytes */
static int sum_content(const char *data, size_t len, void *ctx)
{
	*(size_t *)ctx += len;
	return 0;
}

/* read_all_rcpts - every batch from the start; count or a negative rc */
static long read_all_rcpts(struct qf *q, bool include_done, bool mark, bool good)
{
	struct qf_rcpt rcpts[BATCH];
	const char *err = NULL;
	long offset = 0, n, total = 0;
	int rounds = 0;

	do {
		n = qf_read_rcpts(q, &offset, rcpts, BATCH, include_done, &err);
		if (n < 0) {
			check(err != NULL && *err != 0);
			check(!good);
			return n;
		}
		check(n <= BATCH);
		for (long i = 0; i < n; i++) {
			check(rcpts[i].address != NULL);
			check(rcpts[i].offset > 0);
			if (good)
				check(*rcpts[i].address != 0);
			if (mark) {
				check(qf_mark_done(qf_fd(q), rcpts[i].offset) == 0);
				check(qf_mark_done(qf_fd(q), rcpts[i].offset) == 0);
			}
			qf_rcpt_deinit(&rcpts[i]);
		}
		total += n;
		check(++rounds < 1000000);
	} while (offset != 0);
	return total;
}

/* one - the whole read-and-check sequence on one file image */
static void one(const uint8_t *data, size_t size)
{
	struct qf_envelope env;
	const char *err = NULL;
	bool corrupt = false, good;
	struct qf *q;
	size_t content = 0;
	long all, pending;
	int fd, rc;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	check(fd >= 0);
	check(write(fd, data, size) == (ssize_t)size);
	close(fd);

	if ((q = qf_open(path, false, &corrupt, &err)) == NULL) {
		check(err != NULL && *err != 0);
		check(corrupt);		/* a regular, readable file: only damage stops it */
		return;
	}
	rc = qf_validate(q, &err);
	check(rc == 0 || rc == QF_CORRUPT);
	if (rc != 0)
		check(err != NULL && *err != 0);
	good = rc == 0;

	rc = qf_read_envelope(q, &env, &err);
	check(rc == 0 || rc == QF_CORRUPT);
	if (good)
		check(rc == 0);
	if (rc == 0) {
		check(env.sender != NULL && env.envid != NULL && env.attrs != NULL);
		check(env.content_offset > 0 && env.content_size >= 0);
		check(env.rcpt_offset >= env.content_offset);
		check(env.rcpt_count >= 0);
		rc = qf_read_content(q, sum_content, &content, &err);
		if (good) {
			check(rc == 0);
			check(content == (size_t)env.content_size);
		}
		pending = read_all_rcpts(q, false, false, good);
		all = read_all_rcpts(q, true, false, good);
		if (good) {
			check(all == env.rcpt_count);
			check(pending <= all);
		}
		qf_envelope_deinit(&env);
	}
	qf_close(&q);
	check(q == NULL);

	/* a good file can be worked on: every recipient marked done, then none pending */
	if (good) {
		q = qf_open(path, true, &corrupt, &err);
		check(q != NULL);
		check(read_all_rcpts(q, false, true, true) >= 0);
		check(read_all_rcpts(q, false, false, true) == 0);
		check(qf_validate(q, &err) == 0);
		qf_close(&q);
	}
}

#define SIZE_FIELD	(2 + 4 * 16)	/* field 5 of the size record (docs/QUEUE.md 3.2) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char field[32];
	uint8_t *copy;

	one(data, size);
	if (size < 97 || data[0] != 'C' || data[1] != 95)
		return 0;
	snprintf(field, sizeof(field), "%15zu", size);
	if (memcmp(data + SIZE_FIELD, field, 15) == 0)
		return 0;
	copy = malloc(size);
	memcpy(copy, data, size);
	memcpy(copy + SIZE_FIELD, field, 15);
	one(copy, size);
	free(copy);
	return 0;
}
