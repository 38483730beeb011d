/*
 * done_mark_sync - what an fdatasync after each done mark would cost.
 *
 * A delivery agent marks a recipient done with a one-byte pwrite into the
 * queue file (qf_mark_done, docs/QUEUE.md section 5).  This measures that
 * write alone and followed by fdatasync(), on a 64 KB file in the folder
 * given (put it on the file system that holds the queue):
 *
 *	cc -O2 -o /tmp/done_mark_sync bench/done_mark_sync.c
 *	/tmp/done_mark_sync ./var/done_mark_sync.dat 2000 0
 *	/tmp/done_mark_sync ./var/done_mark_sync.dat 2000 1
 *
 * Arguments: file, number of marks, 1 to sync each mark.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: done_mark_sync FILE COUNT SYNC\n");
		return 64;
	}
	int n = atoi(argv[2]), sync = atoi(argv[3]);
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	char buf[4096] = {0};
	struct timespec a, b;
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < 16; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return 1;
	fsync(fd);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		if (pwrite(fd, "D", 1, (i * 97) % 60000) != 1)
			return 1;
		if (sync)
			fdatasync(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	unlink(argv[1]);
	printf("%s n=%d sync=%d: %.1f us per mark\n", argv[1], n, sync,
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
	return 0;
}
