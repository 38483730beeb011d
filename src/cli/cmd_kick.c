/*
 * cmd_kick - trigger bytes for the queue manager: "sluice flush" writes
 * F A D I (postqueue -f: flush the dead-destination and backoff state, scan
 * the deferred and incoming queues), "sluice kick CHARS" writes what it is
 * given (postkick), limited to the bytes qmgr understands: D (scan
 * deferred), I (scan incoming), A (ignore deferred queue time stamps), F
 * (forget dead destinations), W (wakeup).
 *
 * Both are one non-blocking write to queue_directory/public/qmgr through
 * trigger_send(), so nobody waits on a stopped system: when no process
 * reads the FIFO the command says "mail system is down" and exits 75
 * (EX_TEMPFAIL), as postqueue does.  The bytes carry no reply; that they
 * were written is all the command knows.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli_error.h"
#include "cmd_kick.h"
#include "cmd_queue.h"
#include "global/trigger.h"
#include "util/buf.h"

/* cmd_kick_chars_valid - only the trigger bytes qmgr knows */
bool cmd_kick_chars_valid(const char *chars)
{
	size_t len = strlen(chars);

	return len > 0 && len <= PIPE_BUF && strspn(chars, KICK_CHARS) == len;
}

/* send_trigger - write bytes to public/qmgr; exit status */
static int send_trigger(const char *config_dir, const char *bytes, const char *what)
{
	const char *queue_dir, *error;
	int rc;

	if ((rc = cmd_queue_setup(config_dir, &queue_dir)) != 0)
		return rc;
	if (trigger_send(queue_dir, TRIGGER_QMGR, bytes, strlen(bytes), &error) < 0) {
		/* Postfix's words when nobody reads the FIFO; the details otherwise. */
		if (strstr(error, "mail system is down") != NULL)
			error = "mail system is down";
		return cli_error(EX_TEMPFAIL, "%s - %s", what, error);
	}
	return EX_OK;
}

/* cmd_flush - deliver the deferred queue now */
int cmd_flush(const char *config_dir, int argc, char **argv)
{
	cli_command_set(argv[0]);
	if (argc != 1)
		return cli_usage("flush", NULL);
	return send_trigger(config_dir, TRIGGER_REQ_FLUSH_ALL, "Cannot flush mail queue");
}

/* cmd_kick - write the given trigger bytes */
int cmd_kick(const char *config_dir, int argc, char **argv)
{
	struct buf *bytes = buf_create(16);
	int rc;

	cli_command_set(argv[0]);
	for (int i = 1; i < argc; i++)
		buf_puts(bytes, argv[i]);
	if (argc < 2 || !cmd_kick_chars_valid(buf_str(bytes))) {
		buf_free(&bytes);
		return cli_usage("kick CHARS (one or more of " KICK_CHARS ")", NULL);
	}
	rc = send_trigger(config_dir, buf_str(bytes), "Cannot kick the queue manager");
	buf_free(&bytes);
	return rc;
}
