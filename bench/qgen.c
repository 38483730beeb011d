/*
 * qgen - benchmark tool: fill a sluice queue folder with N one-recipient
 * messages, fast (one process, no fork per message as with qfmake).
 *
 *   qgen [-q QUEUE] [-f SENDER] [-d DOMAINS] [-s SIZE] [-r RCPTS] QUEUE_DIR N
 *
 * Writes N queue files into QUEUE_DIR/QUEUE (default "incoming") through
 * the queue_file API, exactly as cleanup would (temporary name, fsync,
 * rename to the queue ID, folder fsync).  Message i goes to
 * u<i>@d<i mod DOMAINS>.test (DOMAINS default 10), so the recipients are
 * spread evenly over d0.test .. d<DOMAINS-1>.test.  With -r RCPTS (> 1)
 * message i has RCPTS recipients u<i>+<j>@d<i mod DOMAINS>.test, j = 0 ..
 * RCPTS-1: one local mailbox u<i> with recipient_delimiter = +.  Every message has the
 * same size: a few header lines padded with body text to SIZE bytes
 * (default 1000).  The queue folders are created when missing; hashing
 * follows the defaults (incoming is not hashed).
 *
 * Contract: prints the number of files written on standard output and
 * exits 0, or prints a message on stderr and exits 1 at the first error
 * (the files written so far stay).  It does not change ownership: the
 * caller chowns the files to mail_owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "global/queue_file.h"
#include "util/buf.h"
#include "util/mem.h"

/* usage - explain and exit */
static void usage(void)
{
	fprintf(stderr, "usage: qgen [-q QUEUE] [-f SENDER] [-d DOMAINS] [-s SIZE] "
		"[-r RCPTS] QUEUE_DIR N\n");
	exit(1);
}

/* make_body - headers plus filler lines, LF line ends, exactly size bytes */
static void make_body(struct buf *msg, const char *sender, long size)
{
	static const char line[] =
	    "The quick brown fox jumps over the lazy dog, again and again. 0123456789\n";

	buf_printf(msg, "From: <%s>\nTo: <bench@bench.test>\nSubject: drain benchmark\n"
		   "Message-ID: <bench@bench.test>\n\n", sender);
	while ((long) msg->len + (long) sizeof(line) - 1 <= size)
		buf_puts(msg, line);
	while ((long) msg->len < size - 1)
		buf_puts(msg, "x");
	if ((long) msg->len < size)
		buf_puts(msg, "\n");
}

int main(int argc, char **argv)
{
	const char *queue = "incoming", *sender = "s@bench.test", *error;
	long domains = 10, size = 1000, rcpts = 1, count;
	struct qf_envelope env;
	struct buf *msg, *rcpt;
	char id[QUEUE_ID_SIZE];
	char *end;
	int ch;

	while ((ch = getopt(argc, argv, "q:f:d:s:r:")) != -1) {
		switch (ch) {
		case 'q':
			queue = optarg;
			break;
		case 'f':
			sender = optarg;
			break;
		case 'd':
			domains = strtol(optarg, &end, 10);
			if (*end || domains < 1)
				usage();
			break;
		case 's':
			size = strtol(optarg, &end, 10);
			if (*end || size < 200)
				usage();
			break;
		case 'r':
			rcpts = strtol(optarg, &end, 10);
			if (*end || rcpts < 1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	count = strtol(argv[optind + 1], &end, 10);
	if (*end || count < 0)
		usage();

	queue_hash_init("deferred, defer", 1);
	if (queue_dirs_create(argv[optind], &error) < 0) {
		fprintf(stderr, "qgen: %s: %s\n", argv[optind], error);
		return 1;
	}
	msg = buf_create(size + 100);
	make_body(msg, sender, size);
	rcpt = buf_create(64);

	for (long i = 0; i < count; i++) {
		struct qf_writer *w;
		struct timeval tv;

		if ((w = qf_create(argv[optind], queue, &error)) == NULL) {
			fprintf(stderr, "qgen: create in %s/%s: %s\n", argv[optind], queue, error);
			return 1;
		}
		gettimeofday(&tv, NULL);
		memset(&env, 0, sizeof(env));
		env.arrival_time = tv.tv_sec + tv.tv_usec / 1e6;
		env.sender = (char *) sender;
		env.envid = "";
		qf_put_envelope(w, &env);
		qf_put_content(w, msg->data, msg->len);
		for (long j = 0; j < rcpts; j++) {
			buf_reset(rcpt);
			if (rcpts == 1)
				buf_printf(rcpt, "u%ld@d%ld.test", i, i % domains);
			else
				buf_printf(rcpt, "u%ld+%ld@d%ld.test", i, j, i % domains);
			qf_add_rcpt(w, buf_str(rcpt), "", "", 0);
		}
		if (qf_commit(&w, id, &error) < 0) {
			fprintf(stderr, "qgen: commit: %s\n", error);
			return 1;
		}
	}
	printf("%ld\n", count);
	buf_free(&msg);
	buf_free(&rcpt);
	return 0;
}
