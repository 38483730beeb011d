/*
 * deferred_scan_watch - benchmark tool: what one queue scan costs the queue
 * manager, and when the mail it found has been delivered.
 *
 *   deferred_scan_watch [-t TIMEOUT] [-i IDLE_MS] [-u IDLE_US] [-p POLL_MS]
 *                       [-m MAILLOG -n SENT [-w WORD]] [-M MASTER] PID [COMMAND ARG...]
 *   deferred_scan_watch -s [options] PID
 *
 * PID is the queue manager.  The first form reads its CPU time, runs
 * COMMAND (the trigger: "sluice -c DIR kick D", "postkick -c DIR public
 * qmgr D") and waits.  With -s there is no command and the baseline is the
 * process's own start: what it has spent since it started (start-up).
 *
 * The wait ends when both
 *   - MAILLOG (with -m) holds SENT lines containing "status=sent" (or WORD,
 *     -w) in all (an absolute count: the caller knows how many were there
 *     before), and
 *   - the process is idle: it used less than IDLE_US (default 200) micro-
 *     seconds of CPU during the last IDLE_MS (default 1000) milliseconds,
 * or TIMEOUT seconds (default 120) after the watch began.  CPU time is the scheduler's
 * nanosecond count (/proc/PID/schedstat, first field); utime and stime
 * (clock ticks, /proc/PID/stat) are reported beside it.  The end of the
 * busy period is the last poll (every POLL_MS, default 5) at which the CPU
 * count had grown by IDLE_US or more since the previous such poll (so a
 * piece of work smaller than IDLE_US has a busy period of 0).  The CPU time
 * reported is all of it up to the end of the wait, so it may include up to
 * IDLE_US of idle housekeeping.  The maillog is read incrementally (whole
 * lines only).
 *
 * Output: one line of name=value fields on standard output: pid,
 * wall_sent (s from the start to the moment the SENT-th line was seen; -1
 * without -m or on timeout), wall_busy (s from the start to the end of the
 * busy period), cpu_ms (scheduler CPU time over the wait), utime_ms,
 * stime_ms (ticks over the whole wait, in ms), runs (times the process was
 * scheduled), sent (lines counted), timeout (0 or 1); with -M MASTER also
 * tree_ms: the CPU time (utime+stime, ticks in ms) of the mail system's
 * processes over the wait: MASTER with the children it has reaped
 * (cutime+cstime) plus every live child of MASTER (the queue manager,
 * agents, the logging daemon), read at the start and at the end.  The start is the
 * moment just before COMMAND is started, or the process's start time (-s,
 * 10 ms resolution).  Exit 0 when the wait ended normally, 2 on timeout
 * (the line is still printed), 1 on errors (message on stderr).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One sample of the process's counters. */
struct sample {
	unsigned long long cpu_ns;	/* schedstat: time on CPU */
	unsigned long long runs;	/* schedstat: timeslices */
	unsigned long long utime, stime;	/* ticks */
	unsigned long long start;	/* ticks after boot */
};

/* usage - explain and exit */
static void usage(void)
{
	fprintf(stderr, "usage: deferred_scan_watch [-s] [-t TIMEOUT] [-i IDLE_MS] [-u IDLE_US] "
		"[-p POLL_MS] [-m MAILLOG -n SENT [-w WORD]] [-M MASTER] PID [COMMAND ARG...]\n");
	exit(1);
}

/* now_boot - seconds since boot (the clock of /proc start times) */
static double now_boot(void)
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

/* read_sample - the counters of pid; 0 ok, -1 the process is gone */
static int read_sample(long pid, struct sample *s)
{
	char path[64], line[2048], *p;
	unsigned long long v[20];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(fp, "%llu %*u %llu", &s->cpu_ns, &s->runs) != 2) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = 0;
	/* Fields after the parenthesised command name: state, then v[0] = ppid. */
	if ((p = strrchr(line, ')')) == NULL || p[1] == 0)
		return -1;
	p += 2;
	while (*p && *p != ' ')
		p++;
	for (int i = 0; i < 20; i++)
		v[i] = strtoull(p, &p, 10);
	s->utime = v[10];		/* field 14 */
	s->stime = v[11];		/* field 15 */
	s->start = v[18];		/* field 22 */
	return 0;
}

/* stat_ticks - utime+stime+cutime+cstime of pid (ticks), and its ppid */
static int stat_ticks(long pid, unsigned long long *ticks_r, long *ppid_r)
{
	char path[64], line[2048], *p;
	unsigned long long v[14];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = 0;
	if ((p = strrchr(line, ')')) == NULL || p[1] == 0)
		return -1;
	p += 2;
	while (*p && *p != ' ')
		p++;
	for (int i = 0; i < 14; i++)
		v[i] = strtoull(p, &p, 10);
	*ppid_r = (long)v[0];
	*ticks_r = v[10] + v[11] + v[12] + v[13];
	return 0;
}

/* tree_ticks - CPU of master, the children it reaped, and its live children */
static unsigned long long tree_ticks(long master)
{
	unsigned long long sum = 0, t;
	struct dirent *d;
	long ppid;
	DIR *dir;

	if (stat_ticks(master, &t, &ppid) == 0)
		sum += t;
	if ((dir = opendir("/proc")) == NULL)
		return sum;
	while ((d = readdir(dir)) != NULL) {
		long pid = atol(d->d_name);

		if (pid > 0 && stat_ticks(pid, &t, &ppid) == 0 && ppid == master)
			sum += t;
	}
	closedir(dir);
	return sum;
}

static const char *word = "status=sent";

/* count_sent - add the lines with word completed since the last call */
static long count_sent(FILE *fp, char **line, size_t *cap)
{
	ssize_t len;
	long n = 0;

	clearerr(fp);
	while ((len = getline(line, cap, fp)) > 0) {
		if ((*line)[len - 1] != '\n') {
			/* A line still being written: read it again next time. */
			fseeko(fp, -(off_t) len, SEEK_CUR);
			break;
		}
		if (strstr(*line, word) != NULL)
			n++;
	}
	return n;
}

/* run_command - run argv, wait for it; its exit status, or -1 */
static int run_command(char **argv)
{
	int status;
	pid_t pid;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		/*
		 * postkick writes its request to the qmgr socket in two pieces; the
		 * queue manager reads the first and closes, and the second write
		 * would kill postkick with SIGPIPE (exit 141) about one time in
		 * two, the trigger being delivered all the same.
		 */
		signal(SIGPIPE, SIG_IGN);
		execvp(argv[0], argv);
		fprintf(stderr, "deferred_scan_watch: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
	double timeout = 120, t0, t, t_begin, t_sent = -1, t_busy, t_mark;
	long idle_ms = 1000, idle_us = 200, poll_ms = 5, want = -1, sent = 0, pid, master = 0;
	unsigned long long tree0 = 0;
	const char *maillog = NULL;
	int startup = 0, ch, timed_out = 0;
	struct sample s0, s, mark;
	long hz = sysconf(_SC_CLK_TCK);
	char *line = NULL;
	size_t cap = 0;
	FILE *log = NULL;

	while ((ch = getopt(argc, argv, "+st:i:u:p:m:n:w:M:")) != -1) {
		switch (ch) {
		case 'w':
			word = optarg;
			break;
		case 'M':
			master = atol(optarg);
			break;
		case 's':
			startup = 1;
			break;
		case 't':
			timeout = atof(optarg);
			break;
		case 'i':
			idle_ms = atol(optarg);
			break;
		case 'u':
			idle_us = atol(optarg);
			break;
		case 'p':
			poll_ms = atol(optarg);
			break;
		case 'm':
			maillog = optarg;
			break;
		case 'n':
			want = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || (maillog == NULL) != (want < 0) || poll_ms < 1 || idle_ms < poll_ms)
		usage();
	pid = atol(argv[optind++]);
	if (startup && optind < argc)
		usage();
	if (maillog && (log = fopen(maillog, "r")) == NULL) {
		fprintf(stderr, "deferred_scan_watch: open %s: %s\n", maillog, strerror(errno));
		return 1;
	}
	if (read_sample(pid, &s0) < 0) {
		fprintf(stderr, "deferred_scan_watch: no process %ld\n", pid);
		return 1;
	}
	if (master > 0)
		tree0 = tree_ticks(master);
	t_begin = t_mark = t_busy = now_boot();
	mark = s0;
	if (startup) {
		/* Busy until now at least; everything since the start counts. */
		t0 = (double)s0.start / hz;
		s0.cpu_ns = s0.runs = s0.utime = s0.stime = 0;
	} else {
		t0 = t_begin;
		if (optind < argc && run_command(argv + optind) != 0) {
			fprintf(stderr, "deferred_scan_watch: %s failed\n", argv[optind]);
			return 1;
		}
	}
	for (;;) {
		if (read_sample(pid, &s) < 0) {
			fprintf(stderr, "deferred_scan_watch: process %ld is gone\n", pid);
			return 1;
		}
		t = now_boot();
		if (log) {
			sent += count_sent(log, &line, &cap);
			if (t_sent < 0 && sent >= want)
				t_sent = t;
		}
		if (s.cpu_ns - mark.cpu_ns >= (unsigned long long)idle_us * 1000) {
			mark = s;
			t_mark = t_busy = t;
		}
		if ((log == NULL || sent >= want) && t - t_mark >= idle_ms / 1e3)
			break;
		if (t - t_begin >= timeout) {
			timed_out = 1;
			break;
		}
		sleep_ms(poll_ms);
	}
	printf("pid=%ld wall_sent=%.3f wall_busy=%.3f cpu_ms=%.3f utime_ms=%llu stime_ms=%llu "
	       "runs=%llu sent=%ld timeout=%d%s", pid, t_sent < 0 ? -1.0 : t_sent - t0,
	       t_busy - t0, (s.cpu_ns - s0.cpu_ns) / 1e6,
	       (s.utime - s0.utime) * 1000 / (unsigned long long)hz,
	       (s.stime - s0.stime) * 1000 / (unsigned long long)hz,
	       s.runs - s0.runs, sent, timed_out, master > 0 ? " " : "\n");
	if (master > 0)
		printf("tree_ms=%llu\n", (tree_ticks(master) - tree0) * 1000 / (unsigned long long)hz);
	free(line);
	if (log)
		fclose(log);
	return timed_out ? 2 : 0;
}
