/*
 * log - diagnostics with Postfix's severities and line shape (see log.h).
 *
 * Where lines go: syslog (ident "syslog_name/progname"), a maillog file or
 * stderr.  A maillog file normally comes as a descriptor inherited from
 * master, which opened it before anyone dropped privileges (docs/CONTRACT.md:
 * "written through a descriptor opened before privileges are dropped"), so
 * the file may sit in a folder only root can write.
 *
 * DIAGNOSTICS: a failed write to the log is ignored; there is nowhere else
 * to report it.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"

int msg_verbose;

#define LOG_LINE_MAX	8192	/* longer lines are cut; syslog does the same */
#define ERROR_LIMIT	13	/* as Postfix's msg_error() */

static char progname[64] = "sluice";
static char stderr_name[128];		/* "" = progname */
static char ident[128] = "sluice";
static char hostname[256] = "localhost";
static int log_flags;
static int out_fd = 2;		/* -1: syslog */
static bool out_is_stderr = true;
static int error_count;
static void (*cleanup_fn)(void);
static long cached_pid;		/* getpid() is a system call; lines are many */

/* refresh_pid - a forked child logs under its own pid */
static void refresh_pid(void)
{
	cached_pid = (long)getpid();
}

static const char *severity_prefix[] = {"", "warning: ", "error: ", "fatal: ", "panic: "};

/* log_init - set process name, default to stderr */
void log_init(const char *name, int flags)
{
	const char *env;
	char *end;
	long fd;

	static bool atfork_done;

	if (!atfork_done) {
		pthread_atfork(NULL, NULL, refresh_pid);
		atfork_done = true;
	}
	refresh_pid();
	snprintf(progname, sizeof(progname), "%s", name);
	stderr_name[0] = 0;
	snprintf(ident, sizeof(ident), "sluice/%s", name);
	if (gethostname(hostname, sizeof(hostname) - 1) < 0)
		snprintf(hostname, sizeof(hostname), "localhost");
	log_flags = flags;
	out_fd = 2;
	out_is_stderr = true;

	/* A maillog descriptor inherited from master wins over everything. */
	if ((env = getenv("SLUICE_MAILLOG_FD")) != NULL) {
		errno = 0;
		fd = strtol(env, &end, 10);
		if (errno == 0 && *end == 0 && fd > 2 && fd < 1024
		    && fcntl((int)fd, F_GETFD) >= 0) {
			out_fd = (int)fd;
			out_is_stderr = false;
		}
	}
}

/* log_progname - name of this process */
const char *log_progname(void)
{
	return progname;
}

/* log_set_stderr_name - the prefix of terminal lines */
void log_set_stderr_name(const char *name)
{
	snprintf(stderr_name, sizeof(stderr_name), "%s", name ? name : "");
}

/* log_fd - current output descriptor */
int log_fd(void)
{
	return out_fd;
}

/* facility_code - syslog facility by name */
static int facility_code(const char *name)
{
	static const struct { const char *name; int code; } tab[] = {
		{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
		{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
		{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
		{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcasecmp(tab[i].name, name) == 0)
			return tab[i].code;
	return -1;
}

/* log_configure - choose where lines go */
int log_configure(const char *syslog_name, const char *facility,
		  const char *maillog_file, const char *host, const char **error_r)
{
	static char errbuf[512];
	int fd, code;

	if (host && *host)
		snprintf(hostname, sizeof(hostname), "%s", host);
	if (syslog_name && *syslog_name)
		snprintf(ident, sizeof(ident), "%s/%s", syslog_name, progname);

	/* Inherited from master: keep it. */
	if (!out_is_stderr && out_fd > 2)
		return 0;

	if (maillog_file == NULL || *maillog_file == 0) {
		code = facility_code(facility ? facility : "mail");
		if (code < 0) {
			snprintf(errbuf, sizeof(errbuf), "unknown syslog_facility \"%s\"", facility);
			*error_r = errbuf;
			return -1;
		}
		openlog(ident, LOG_PID | LOG_NDELAY, code);
		out_fd = -1;
		out_is_stderr = false;
		return 0;
	}
	if (strcmp(maillog_file, "-") == 0) {
		out_fd = 2;
		out_is_stderr = true;
		return 0;
	}
	fd = open(maillog_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		snprintf(errbuf, sizeof(errbuf), "open maillog_file %s: %s",
			 maillog_file, strerror(errno));
		*error_r = errbuf;
		return -1;
	}
	out_fd = fd;
	out_is_stderr = false;
	return 0;
}

/* log_set_fd - switch descriptors */
void log_set_fd(int fd)
{
	out_fd = fd;
	out_is_stderr = fd == 2;
}

/* log_set_cleanup - run before fatal exit */
void log_set_cleanup(void (*fn)(void))
{
	cleanup_fn = fn;
}

/* log_escape - make untrusted text safe for one log line */
const char *log_escape(struct buf *out, const char *s)
{
	const unsigned char *cp;

	for (cp = (const unsigned char *)s; *cp; cp++) {
		if (*cp < 0x20 || *cp >= 0x7f || *cp == '\\')
			buf_printf(out, "\\%03o", *cp);
		else
			buf_putc(out, *cp);
	}
	return buf_str(out);
}

/* write_all - write a line, retrying on EINTR and short writes */
static void write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* msg_vlog - format and emit one line */
void msg_vlog(int severity, const char *fmt, va_list ap)
{
	static const int prio[] = {LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT};
	char text[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 512];
	int saved_errno = errno;
	size_t n;
	int len;

	len = snprintf(text, sizeof(text), "%s", severity_prefix[severity]);
	vsnprintf(text + len, sizeof(text) - (size_t)len, fmt, ap);
	/* One event, one line: a stray newline would forge a second entry. */
	for (char *cp = text; *cp; cp++)
		if (*cp == '\n' || *cp == '\r')
			*cp = ' ';

	if (out_fd < 0) {
		syslog(prio[severity], "%s", text);
	} else if (out_is_stderr && (log_flags & LOG_FLAG_STDERR)) {
		/* An interactive command: "sluice: fatal: ..." as Postfix tools do. */
		n = (size_t)snprintf(line, sizeof(line), "%s: %s\n",
				     stderr_name[0] ? stderr_name : progname, text);
		write_all(2, line, n < sizeof(line) ? n : sizeof(line) - 1);
	} else {
		/* The time stamp changes once a second; lines come far more often. */
		static _Thread_local char when[32];
		static _Thread_local time_t when_sec = -1;
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		if (ts.tv_sec != when_sec) {
			localtime_r(&ts.tv_sec, &tm);
			strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
			when_sec = ts.tv_sec;
		}
		n = (size_t)snprintf(line, sizeof(line), "%s %s %s[%ld]: %s\n",
				     when, hostname, ident, cached_pid ? cached_pid : (long)getpid(), text);
		if (n >= sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		write_all(out_fd, line, n);
	}

	/* Interactive commands also show problems on the terminal. */
	if (severity > MSG_INFO && (log_flags & LOG_FLAG_STDERR) && !out_is_stderr) {
		n = (size_t)snprintf(line, sizeof(line), "%s: %s\n",
				     stderr_name[0] ? stderr_name : progname, text);
		write_all(2, line, n < sizeof(line) ? n : sizeof(line) - 1);
	}
	errno = saved_errno;
}

#define VLOG(sev) do { va_list ap; va_start(ap, fmt); msg_vlog(sev, fmt, ap); va_end(ap); } while (0)

/* msg_info - normal event */
void msg_info(const char *fmt, ...)
{
	VLOG(MSG_INFO);
}

/* msg_warn - handled trouble */
void msg_warn(const char *fmt, ...)
{
	VLOG(MSG_WARN);
}

/* msg_error - counted trouble */
void msg_error(const char *fmt, ...)
{
	VLOG(MSG_ERROR);
	if (++error_count >= ERROR_LIMIT)
		msg_fatal("too many errors - program terminated");
}

/* msg_fatal_status - environment trouble, exit with status */
void msg_fatal_status(int status, const char *fmt, ...)
{
	static int reentered;

	VLOG(MSG_FATAL);
	if (cleanup_fn && !reentered++)
		cleanup_fn();
	_exit(status);
}

/* msg_fatal - environment trouble, exit 1 */
void msg_fatal(const char *fmt, ...)
{
	static int reentered;

	VLOG(MSG_FATAL);
	if (cleanup_fn && !reentered++)
		cleanup_fn();
	exit(1);
}

/* msg_panic - software bug */
void msg_panic(const char *fmt, ...)
{
	VLOG(MSG_PANIC);
	if (cleanup_fn)
		cleanup_fn();
	abort();
}
