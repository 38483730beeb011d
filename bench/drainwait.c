/*
 * drainwait - benchmark tool: wait until a mail queue has drained and
 * report what the queue manager spent doing it.
 *
 *   drainwait [-t TIMEOUT] [-n NAME] MASTER_PID QUEUE_DIR
 *
 * Finds the queue manager (the child of MASTER_PID whose command name is
 * NAME, default "qmgr"; Postfix's is "oqmgr" or "qmgr"), then polls
 * QUEUE_DIR/incoming and QUEUE_DIR/active (both flat, unhashed folders,
 * the default in Postfix and sluice) until neither holds a file.  At that
 * moment it reads the queue manager's utime+stime from /proc/PID/stat and
 * its VmHWM/VmRSS from /proc/PID/status.
 *
 * Polling is cheap on purpose (the machine it measures has two cores): one
 * readdir() of each folder per poll, every 100 ms while more than 1000
 * files remain, every 5 ms near the end, so the end is seen within a few
 * milliseconds without stealing measurable CPU from the system under test.
 *
 * The start of the run is the queue manager's start time (field 22 of
 * /proc/PID/stat, CLOCK_BOOTTIME ticks), so that Postfix's start-up script
 * and sluice's start command are not part of the drain time.
 *
 * Output: one line of "name=value" fields on standard output: qmgr_pid,
 * elapsed (s, qmgr start to empty queue), left (files still queued in
 * incoming+active; non-zero only on timeout), cpu (qmgr utime+stime, s),
 * utime, stime, hwm_kb, rss_kb, sys_busy (CPU-seconds of the whole machine
 * over the run, from /proc/stat: all processes, colleagues' included),
 * sys_cpus.  Exit 0 when the queue drained, 2 on timeout (the line is still
 * printed), 1 on errors (message on stderr).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One sample of the queue manager's /proc counters. */
struct proc_sample {
	unsigned long long utime, stime;	/* clock ticks */
	unsigned long long start;		/* ticks after boot */
	long hwm_kb, rss_kb;
};

/* usage - explain and exit */
static void usage(void)
{
	fprintf(stderr, "usage: drainwait [-t TIMEOUT] [-n NAME] MASTER_PID QUEUE_DIR\n");
	exit(1);
}

/* boot_time - seconds since boot, the clock /proc start times use */
static double boot_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* sleep_ms - sleep that many milliseconds */
static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		continue;
}

/* read_stat - parse /proc/PID/stat: ppid, comm, times; 0 ok, -1 gone */
static int read_stat(long pid, long *ppid_r, char *comm_r, size_t comm_size,
		     struct proc_sample *s)
{
	char path[64], line[2048], *open, *close, *p;
	unsigned long long v[20];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = 0;
	/* The command name is in parentheses and may itself hold ") ". */
	if ((open = strchr(line, '(')) == NULL || (close = strrchr(line, ')')) == NULL)
		return -1;
	if (comm_r) {
		size_t len = (size_t) (close - open - 1);

		if (len >= comm_size)
			len = comm_size - 1;
		memcpy(comm_r, open + 1, len);
		comm_r[len] = 0;
	}
	/* Fields from 3 (state) on; v[0] is field 4 (ppid). */
	p = close + 2;
	while (*p && !isspace((unsigned char) *p))
		p++;
	for (int i = 0; i < 20; i++)
		v[i] = strtoull(p, &p, 10);
	if (ppid_r)
		*ppid_r = (long) v[0];
	if (s) {
		s->utime = v[10];	/* field 14 */
		s->stime = v[11];	/* field 15 */
		s->start = v[18];	/* field 22 */
	}
	return 0;
}

/* read_mem - VmHWM and VmRSS from /proc/PID/status */
static void read_mem(long pid, struct proc_sample *s)
{
	char path[64], line[256];
	FILE *fp;

	s->hwm_kb = s->rss_kb = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			s->hwm_kb = atol(line + 6);
		else if (strncmp(line, "VmRSS:", 6) == 0)
			s->rss_kb = atol(line + 6);
	}
	fclose(fp);
}

/* find_child - pid of MASTER's child named name, or -1 */
static long find_child(long master, const char *name)
{
	struct dirent *d;
	char comm[64];
	long ppid, found = -1;
	DIR *dp;

	if ((dp = opendir("/proc")) == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		if (!isdigit((unsigned char) d->d_name[0]))
			continue;
		long pid = atol(d->d_name);

		if (read_stat(pid, &ppid, comm, sizeof(comm), NULL) == 0
		    && ppid == master && strcmp(comm, name) == 0) {
			found = pid;
			break;
		}
	}
	closedir(dp);
	return found;
}

/* count_files - entries in a folder other than . and .. (-1: unreadable) */
static long count_files(const char *dir)
{
	struct dirent *d;
	long n = 0;
	DIR *dp;

	if ((dp = opendir(dir)) == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

/* sys_busy_ticks - non-idle CPU ticks of the whole machine, and CPU count */
static unsigned long long sys_busy_ticks(int *cpus_r)
{
	unsigned long long v[10] = {0}, busy = 0;
	char line[512];
	FILE *fp;

	*cpus_r = 0;
	if ((fp = fopen("/proc/stat", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "cpu ", 4) == 0) {
			char *p = line + 4;

			for (int i = 0; i < 10; i++)
				v[i] = strtoull(p, &p, 10);
			/* user nice system idle iowait irq softirq steal: not idle/iowait */
			busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		} else if (strncmp(line, "cpu", 3) == 0) {
			(*cpus_r)++;
		}
	}
	fclose(fp);
	return busy;
}

int main(int argc, char **argv)
{
	const char *name = "qmgr";
	double timeout = 600, deadline, t_start, t_end, hz = (double) sysconf(_SC_CLK_TCK);
	unsigned long long busy0, busy1;
	struct proc_sample s;
	char *in_dir, *act_dir, *end;
	long master, qmgr = -1, left = 0, n_in, n_act;
	int ch, cpus, rc = 0;

	while ((ch = getopt(argc, argv, "t:n:")) != -1) {
		switch (ch) {
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || timeout <= 0)
				usage();
			break;
		case 'n':
			name = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	master = strtol(argv[optind], &end, 10);
	if (*end || master <= 1)
		usage();
	if (asprintf(&in_dir, "%s/incoming", argv[optind + 1]) < 0
	    || asprintf(&act_dir, "%s/active", argv[optind + 1]) < 0)
		return 1;

	deadline = boot_time() + timeout;
	busy0 = sys_busy_ticks(&cpus);
	while ((qmgr = find_child(master, name)) < 0) {
		if (boot_time() > deadline) {
			fprintf(stderr, "drainwait: no %s process under master %ld\n", name, master);
			return 1;
		}
		sleep_ms(5);
	}
	if (read_stat(qmgr, NULL, NULL, 0, &s) < 0) {
		fprintf(stderr, "drainwait: %s %ld vanished\n", name, qmgr);
		return 1;
	}
	t_start = s.start / hz;

	for (;;) {
		n_in = count_files(in_dir);
		n_act = count_files(act_dir);
		if (n_in < 0 || n_act < 0) {
			fprintf(stderr, "drainwait: cannot read %s or %s\n", in_dir, act_dir);
			return 1;
		}
		left = n_in + n_act;
		if (left == 0)
			break;
		if (boot_time() > deadline) {
			rc = 2;
			break;
		}
		sleep_ms(left > 1000 ? 100 : 5);
	}
	t_end = boot_time();
	if (read_stat(qmgr, NULL, NULL, 0, &s) < 0) {
		fprintf(stderr, "drainwait: %s %ld exited before the queue drained\n", name, qmgr);
		return 1;
	}
	read_mem(qmgr, &s);
	busy1 = sys_busy_ticks(&cpus);
	printf("qmgr_pid=%ld elapsed=%.3f left=%ld cpu=%.2f utime=%.2f stime=%.2f "
	       "hwm_kb=%ld rss_kb=%ld sys_busy=%.2f sys_cpus=%d\n",
	       qmgr, t_end - t_start, left, (s.utime + s.stime) / hz, s.utime / hz,
	       s.stime / hz, s.hwm_kb, s.rss_kb, (busy1 - busy0) / hz, cpus);
	free(in_dir);
	free(act_dir);
	return rc;
}
