/*
 * fsync_group - what a group commit of queue files would gain over one
 * fsync per file, on the file system that holds the queue.
 *
 *   cc -O2 -pthread -o /tmp/fsync_group bench/fsync_group.c
 *   /tmp/fsync_group DIR [WRITERS [FILES [SIZE [GAP_US]]]]
 *
 * WRITERS threads (default 10: the ten sessions of the smtpd benchmark) each
 * create FILES files (default 300) of SIZE bytes (default 1,650: a queue file
 * of the benchmark's 1 kB message) in DIR, one after another, and count a
 * file as committed when it is durable, each writer pausing GAP_US
 * microseconds (default 0) between its files (a session's other work: with
 * a gap the writers no longer sync in lock step, as smtpd's sessions do not),
 * in four ways:
 *
 *   none    no sync at all: the ceiling that no way of syncing can pass;
 *   fsync   each writer fsyncs its own file (what smtpd does);
 *   syncfs  each writer calls syncfs() instead (flushes everything on the
 *           file system, other programs' dirty data included);
 *   group   a group commit as databases do it: a writer hands its written
 *           file to one committer thread and waits; the committer takes
 *           every file handed in since its last round and makes them
 *           durable with one syncfs(), then wakes their writers.  Every
 *           writer still waits for its own file.
 *
 * Printed per way: files committed per second, the latency from the end
 * of the write() to "durable" (mean, 99th percentile), the CPU time of the
 * whole machine per file (from /proc/stat: every process and kernel thread,
 * the block layer's and the flusher's work included, so run it on an
 * otherwise idle machine), and for group the mean number of files per
 * syncfs.  The files are removed as they are
 * made (after their commit), so that DIR does not grow.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum way { NONE, FSYNC, SYNCFS, GROUP };
static const char *way_name[] = { "none", "fsync", "syncfs", "group" };

static const char *dir;
static int writers = 10, files = 300;
static size_t size = 1650;
static long gap_us;
static enum way way;
static int dir_fd;
static double *lat;		/* writers * files latencies, seconds */

/* The committer's state (GROUP). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t handed = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static unsigned long handed_in, committed;	/* files handed in / made durable */
static unsigned long rounds;
static int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* busy_us - CPU time the whole machine has been busy (not idle, not
 * waiting for I/O), in microseconds */
static double busy_us(void)
{
	unsigned long long v[10] = { 0 }, total = 0;
	FILE *fp = fopen("/proc/stat", "r");

	if (!fp || fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			  &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 8) {
		perror("/proc/stat");
		exit(1);
	}
	fclose(fp);
	for (int i = 0; i < 8; i++)	/* guest time is inside user time */
		total += v[i];
	return (double)(total - v[3] - v[4]) * 1e6 / sysconf(_SC_CLK_TCK);
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void *committer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (handed_in == committed && !stop)
			pthread_cond_wait(&handed, &mu);
		if (handed_in == committed && stop)
			break;
		unsigned long batch = handed_in;	/* every file written before now */

		pthread_mutex_unlock(&mu);
		if (syncfs(dir_fd) < 0)
			die("syncfs");
		pthread_mutex_lock(&mu);
		committed = batch;
		rounds++;
		pthread_cond_broadcast(&done);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void commit(int fd)
{
	switch (way) {
	case NONE:
		break;
	case FSYNC:
		if (fsync(fd) < 0)
			die("fsync");
		break;
	case SYNCFS:
		if (syncfs(fd) < 0)
			die("syncfs");
		break;
	case GROUP:
		pthread_mutex_lock(&mu);
		unsigned long mine = ++handed_in;

		pthread_cond_signal(&handed);
		while (committed < mine)
			pthread_cond_wait(&done, &mu);
		pthread_mutex_unlock(&mu);
		break;
	}
}

static void *writer(void *arg)
{
	long id = (long)arg;
	char *buf = malloc(size);
	char path[4096];

	if (!buf)
		die("malloc");
	memset(buf, 'x', size);
	for (int i = 0; i < files; i++) {
		snprintf(path, sizeof path, "%s/fsync_group.%ld.%d", dir, id, i);
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

		if (fd < 0)
			die(path);
		if (write(fd, buf, size) != (ssize_t)size)
			die("write");
		double t0 = now();

		commit(fd);
		lat[id * files + i] = now() - t0;
		close(fd);
		if (unlink(path) < 0)
			die("unlink");
		if (gap_us > 0)
			nanosleep(&(struct timespec) { gap_us / 1000000, gap_us % 1000000 * 1000 }, NULL);
	}
	free(buf);
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void run(enum way w)
{
	pthread_t t[256], c;
	int n = writers * files;

	way = w;
	handed_in = committed = rounds = 0;
	stop = 0;
	if (w == GROUP && pthread_create(&c, NULL, committer, NULL) != 0)
		die("pthread_create");
	double t0 = now(), cpu0 = busy_us();

	for (long i = 0; i < writers; i++)
		if (pthread_create(&t[i], NULL, writer, (void *)i) != 0)
			die("pthread_create");
	for (int i = 0; i < writers; i++)
		pthread_join(t[i], NULL);
	double wall = now() - t0, cpu = busy_us() - cpu0;

	if (w == GROUP) {
		pthread_mutex_lock(&mu);
		stop = 1;
		pthread_cond_signal(&handed);
		pthread_mutex_unlock(&mu);
		pthread_join(c, NULL);
	}
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof *lat, by_value);
	printf("%-7s %7.0f files/s  latency mean %6.3f ms  p99 %6.3f ms  CPU %5.0f us/file",
	       way_name[w], n / wall, sum / n * 1e3, lat[n * 99 / 100] * 1e3, cpu / n);
	if (w == GROUP)
		printf("  %.1f files per syncfs", rounds ? (double)n / rounds : 0.0);
	printf("\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 6) {
		fprintf(stderr, "usage: %s DIR [WRITERS [FILES [SIZE [GAP_US]]]]\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	if (argc > 2)
		writers = atoi(argv[2]);
	if (argc > 3)
		files = atoi(argv[3]);
	if (argc > 4)
		size = strtoul(argv[4], NULL, 10);
	if (argc > 5)
		gap_us = atol(argv[5]);
	if (writers < 1 || writers > 256 || files < 1 || size < 1 || gap_us < 0) {
		fprintf(stderr, "%s: WRITERS 1..256, FILES and SIZE at least 1, GAP_US not negative\n", argv[0]);
		return 2;
	}
	if ((dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(dir);
	if (!(lat = calloc((size_t)writers * files, sizeof *lat)))
		die("calloc");
	printf("%d writers x %d files of %zu bytes in %s, %ld us between files\n", writers, files, size, dir, gap_us);
	for (enum way w = NONE; w <= GROUP; w++)
		run(w);
	return 0;
}
