/*
 * log - diagnostics with Postfix's severities and line shape.
 *
 * Lines look like "Nov 28 10:00:00 host sluice/qmgr[123]: text" when written
 * to maillog_file; syslog adds its own prefix from ident "sluice/qmgr".
 * Severity prefixes are Postfix's: "warning: ", "error: ", "fatal: ",
 * "panic: "; info lines carry none.  The caller adds the "QUEUEID: " prefix.
 *
 * Each line is written with a single write(2) on an O_APPEND descriptor, so
 * that several processes can share one maillog_file without tearing lines.
 * Data that came from a user or the network must go through log_escape()
 * before it is formatted into a line.
 *
 *   msg_info   normal events (the Postfix-compatible lines)
 *   msg_warn   unexpected but handled; carry on
 *   msg_error  counted; fatal after 13 (as Postfix)
 *   msg_fatal  the environment prevents going on: exit(1) (or the given status)
 *   msg_panic  a sluice bug: abort() for a core
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

struct buf;

extern int msg_verbose;

/* Output selection flags for log_init(). */
#define LOG_FLAG_STDERR  (1 << 0)	/* also print warnings and worse on stderr */

/*
 * log_init - name this process for logging ("qmgr", "sluice").  Until
 * log_configure() is called, lines go to stderr.  The environment variable
 * SLUICE_MAILLOG_FD (set by master) names an inherited maillog descriptor.
 */
void log_init(const char *progname, int flags);

/*
 * log_configure - apply the logging parameters.  maillog_file "" means
 * syslog, "-" stderr, anything else a file opened for append (or the
 * descriptor inherited from master).  Returns 0, or -1 with *error_r set
 * (borrowed until the next call) when the file cannot be opened; logging
 * then stays on stderr.
 */
int log_configure(const char *syslog_name, const char *facility,
		  const char *maillog_file, const char *hostname,
		  const char **error_r);

/* log_progname - the name given to log_init(). Borrowed. */
const char *log_progname(void);

/*
 * log_set_stderr_name - what stands before a line printed on the terminal
 * (LOG_FLAG_STDERR), e.g. "sluice: queue" so that a subcommand's messages
 * read "sluice: queue: warning: ..."; NULL returns to the program name.
 * Syslog and maillog lines keep the program name.  Copied.
 */
void log_set_stderr_name(const char *name);

/* log_fd - descriptor lines are written to, or -1 for syslog. */
int log_fd(void);
/* log_set_fd - write lines to fd from now on (it replaced the log file's). */
void log_set_fd(int fd);

/* log_set_cleanup - function run by msg_fatal/msg_panic before exiting. */
void log_set_cleanup(void (*fn)(void));

/*
 * log_escape - append s to out with control characters, backslash and
 * non-ASCII made visible (\ooo octal).  Returns buf_str(out).
 */
const char *log_escape(struct buf *out, const char *s);

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_fatal_status(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
void msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void msg_vlog(int severity, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Severities for msg_vlog(). */
enum msg_severity { MSG_INFO, MSG_WARN, MSG_ERROR, MSG_FATAL, MSG_PANIC };

/* msg_debug - verbose logging that does not evaluate its arguments when off. */
#define msg_debug(...) do { if (msg_verbose) msg_info(__VA_ARGS__); } while (0)

#endif
