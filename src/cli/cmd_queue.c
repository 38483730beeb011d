/*
 * cmd_queue - "sluice queue [--json]" (mailq, postqueue -p / -j, sendmail
 * -bp), and the configuration helper the other queue tools share.
 *
 * The listing itself is global/queue_list.c (showq serves the same to
 * users who cannot read the queue folders; this command asks showq when
 * the folders are closed to it).  The layout, for the record (postqueue's
 * layout for long queue IDs; every sluice ID is a long one):
 *
 *   ----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------
 *   SeCoNdUsECino*        1234 Sat Nov 28 10:00:00 sender@example.test
 *                                                  (the reason, right-aligned to column 78)
 *                                                  rcpt@example.test
 *
 *   -- 1 Kbytes in 1 Request.
 *
 * "*" marks active, "!" hold, a following "#" a forced expiry; the null
 * sender shows as $empty_address_recipient (MAILER-DAEMON).  Only pending
 * recipients are listed: first those with a record in the message's defer
 * log (the last record per recipient, in log order, each reason line shown
 * once per run of equal reasons), then the others.  The size is the
 * content size (header and body, LF line ends).  --json prints postqueue
 * -j's object per message, one per line.
 *
 * Diagnostics: a damaged file is skipped with "sluice: warning: QUEUE/ID:
 * ...; skipped" on stderr; an unreadable folder or an output error end the
 * command (74); a configuration error is 78.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_queue.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

/* cmd_fail - "sluice: fatal: ..." on stderr, return status */
int cmd_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: fatal: ", log_progname() ? log_progname() : "sluice");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* cmd_queue_setup - configuration and queue hashing */
int cmd_queue_setup(const char *config_dir, const char **queue_dir_r)
{
	const char *error;

	if (mail_conf_read(config_dir, &error) < 0)
		return cmd_fail(CMD_EX_CONFIG, "%s", error);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
	*queue_dir_r = var_queue_directory;
	return 0;
}

/* showq_client - the listing through the showq service */
static int showq_client(const char *queue_dir, bool json)
{
	char *path = xasprintf("%s/public/showq", queue_dir);
	char buf[16384];
	ssize_t n;
	int fd;

	if ((fd = unix_connect(path, false)) < 0) {
		int rc = cmd_fail(CMD_EX_TEMPFAIL, "cannot read the queue and %s: %s "
				  "(is the mail system running?)", path, strerror(errno));
		free(path);
		return rc;
	}
	free(path);
	if (write_all_timeout(fd, json ? "j\n" : "p\n", 2, 10000) < 0) {
		close(fd);
		return cmd_fail(CMD_EX_TEMPFAIL, "showq: %s", strerror(errno));
	}
	/* A big queue takes a while to list: no time limit on the answer. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	close(fd);
	return fflush(stdout) == EOF ? CMD_EX_IOERR : CMD_EX_OK;
}

/* cmd_queue - the listing command */
int cmd_queue(const char *config_dir, int argc, char **argv)
{
	const char *queue_dir, *error = NULL;
	bool json = false;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json = true;
		else if (strcmp(argv[i], "-p") == 0)
			json = false;
		else {
			fprintf(stderr, "usage: sluice queue [--json]\n");
			return CMD_EX_USAGE;
		}
	}
	if ((rc = cmd_queue_setup(config_dir, &queue_dir)) != 0)
		return rc;

	/*
	 * An ordinary user cannot read the queue folders (mode 0700, owned by
	 * mail_owner): ask the showq service, which lists them for us.
	 */
	if (geteuid() != 0 && access(queue_dir, R_OK | X_OK) == 0) {
		char *incoming = xasprintf("%s/incoming", queue_dir);
		bool denied = access(incoming, R_OK | X_OK) < 0 && errno == EACCES;

		free(incoming);
		if (denied)
			return showq_client(queue_dir, json);
	}
	if (fflush(stdout) == EOF)
		return cmd_fail(CMD_EX_IOERR, "output write error: %s", strerror(errno));
	errno = 0;
	if (queue_list_write(queue_dir, json, var_empty_address_recipient, STDOUT_FILENO,
			     &error) == 0)
		return CMD_EX_OK;
	if (error != NULL && errno == 0)
		return cmd_fail(CMD_EX_IOERR, "%s", error);
	/* A reader that went away (mailq | head) is not an error. */
	return errno == EPIPE ? CMD_EX_OK
		: cmd_fail(CMD_EX_IOERR, "output write error: %s", strerror(errno));
}
