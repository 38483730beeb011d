/*
 * fuzz_trigger - libFuzzer target for the trigger bytes (global/trigger.c):
 * what anyone on the host may write to public/qmgr (mode 0622), folded by
 * the queue manager with trigger_fold(), and the writer trigger_send().
 *
 * Checked: folding is order-free and a union (fold(a b) = fold(a) |
 * fold(b) = fold(b a)); a request bit is set exactly when one of its bytes
 * is there; bytes sent with trigger_send() to a FIFO (a private one under
 * /tmp, read by this process) arrive unchanged and in one piece, and a
 * length outside 1..PIPE_BUF is refused with a reason, without writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/trigger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_trigger: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static char queue_dir[64];
static int reader = -1;

/* LLVMFuzzerInitialize - a queue folder with public/qmgr, and its reader */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[128];

	(void)argc;
	(void)argv;
	snprintf(queue_dir, sizeof(queue_dir), "/tmp/fuzz_trigger.XXXXXX");
	if (mkdtemp(queue_dir) == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/public", queue_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s", queue_dir, TRIGGER_QMGR);
	if (mkfifo(path, 0600) == 0)
		reader = open(path, O_RDONLY | O_NONBLOCK);
	return 0;
}

/* expect - the bits the bytes ask for, the slow way */
static int expect(const char *b, size_t n)
{
	int req = 0;

	if (memchr(b, 'I', n) || memchr(b, 'W', n))
		req |= TRIGGER_SCAN_INCOMING;
	if (memchr(b, 'D', n))
		req |= TRIGGER_SCAN_DEFERRED;
	if (memchr(b, 'A', n))
		req |= TRIGGER_SCAN_ALL;
	if (memchr(b, 'F', n))
		req |= TRIGGER_FLUSH;
	return req;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	size_t cut = size ? data[0] % (size + 1) : 0;
	char *swapped = malloc(size + 1), got[PIPE_BUF + 1];
	const char *err = NULL;
	int all = trigger_fold(b, size);
	ssize_t n;

	check(all == expect(b, size));
	check(all == (trigger_fold(b, cut) | trigger_fold(b + cut, size - cut)));
	memcpy(swapped, b + cut, size - cut);
	memcpy(swapped + size - cut, b, cut);
	check(trigger_fold(swapped, size) == all);
	free(swapped);

	if (reader < 0)
		return 0;
	if (size == 0 || size > PIPE_BUF) {
		check(trigger_send(queue_dir, TRIGGER_QMGR, b, size, &err) < 0);
		check(err != NULL && *err != 0);
		/* Nothing was written: no writer (EOF) or an empty FIFO. */
		n = read(reader, got, sizeof(got));
		check(n == 0 || (n < 0 && errno == EAGAIN));
		return 0;
	}
	if (trigger_send(queue_dir, TRIGGER_QMGR, b, size, &err) < 0) {
		fprintf(stderr, "fuzz_trigger: trigger_send: %s\n", err);
		abort();
	}
	n = read(reader, got, sizeof(got));
	check(n == (ssize_t)size);
	check(memcmp(got, b, size) == 0);
	check(trigger_fold(got, (size_t)n) == all);
	return 0;
}
