/*
 * qfmake - test tool: make a queue file, or show one's recipients.
 *
 *   qfmake [-q QUEUE] [-f SENDER] [-V ENVID] [-R FULL|HDRS] [-t ARRIVAL]
 *          QUEUE_DIR RCPT...        < message
 *   qfmake -s QUEUE_DIR QUEUE ID
 *   qfmake -l QUEUE_DIR QUEUE ID
 *
 * The first form writes a queue file into QUEUE_DIR/QUEUE (default
 * "active") with the message read from standard input (CR LF line ends
 * become LF, as cleanup stores them) and prints its queue ID.  Each RCPT is
 * an address, optionally followed by "|name=value" fields: notify=SUCCESS,
 * FAILURE (DSN NOTIFY), orcpt=rfc822;x@y (DSN ORCPT), orig=x@y (original
 * recipient).  The queue folders are created when missing; hashing follows
 * the defaults (hash_queue_names = deferred, defer; depth 1) unless
 * QFMAKE_HASH_NAMES / QFMAKE_HASH_DEPTH say otherwise.
 *
 * The second form prints one line per recipient, "done ADDRESS" or
 * "todo ADDRESS", so that tests can check done marks.  The third prints
 * "OFFSET done|todo ADDRESS": the offsets a delivery request names.
 *
 * It is a test tool: errors end it with a message on stderr and status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "global/dsn.h"
#include "global/queue_file.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* usage - explain and exit */
static void usage(void)
{
	fprintf(stderr, "usage: qfmake [-q QUEUE] [-f SENDER] [-V ENVID] [-R FULL|HDRS] "
		"[-t ARRIVAL] QUEUE_DIR RCPT... < message\n"
		"       qfmake -s|-l QUEUE_DIR QUEUE ID\n");
	exit(1);
}

/* hash_init - queue hashing as the daemons do it by default */
static void hash_init(void)
{
	const char *names = getenv("QFMAKE_HASH_NAMES");
	const char *depth = getenv("QFMAKE_HASH_DEPTH");

	queue_hash_init(names ? names : "deferred, defer", depth ? atol(depth) : 1);
}

/* add_rcpt - parse "addr|name=value|..." and add it */
static void add_rcpt(struct qf_writer *w, const char *spec)
{
	char *copy = xstrdup(spec), *field, *next;
	const char *orig = "", *orcpt = "";
	int notify = 0;

	if ((next = strchr(copy, '|')) != NULL)
		*next++ = 0;
	while ((field = next) != NULL) {
		if ((next = strchr(field, '|')) != NULL)
			*next++ = 0;
		if (strncmp(field, "notify=", 7) == 0) {
			if ((notify = dsn_notify_parse(field + 7)) < 0) {
				fprintf(stderr, "qfmake: bad notify \"%s\"\n", field + 7);
				exit(1);
			}
		} else if (strncmp(field, "orcpt=", 6) == 0) {
			orcpt = field + 6;
		} else if (strncmp(field, "orig=", 5) == 0) {
			orig = field + 5;
		} else {
			fprintf(stderr, "qfmake: unknown recipient field \"%s\"\n", field);
			exit(1);
		}
	}
	qf_add_rcpt(w, copy, orig, orcpt, notify);
	free(copy);
}

/* read_message - stdin with CR LF turned into LF */
static void read_message(struct buf *msg)
{
	char chunk[8192];
	size_t n, out;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_append(msg, chunk, n);
	for (size_t i = out = 0; i < msg->len; i++) {
		if (msg->data[i] == '\r' && i + 1 < msg->len && msg->data[i + 1] == '\n')
			continue;
		msg->data[out++] = msg->data[i];
	}
	buf_truncate(msg, out);
}

/* make - the first form */
static int make(const char *queue, struct qf_envelope *env, int argc, char **argv)
{
	struct buf *msg = buf_create(8192);
	struct qf_writer *w;
	const char *error;
	char id[QUEUE_ID_SIZE];

	if (argc < 2)
		usage();
	if (queue_dirs_create(argv[0], &error) < 0) {
		fprintf(stderr, "qfmake: %s: %s\n", argv[0], error);
		return 1;
	}
	if ((w = qf_create(argv[0], queue, &error)) == NULL) {
		fprintf(stderr, "qfmake: create in %s/%s: %s\n", argv[0], queue, error);
		return 1;
	}
	read_message(msg);
	qf_put_envelope(w, env);
	qf_put_content(w, msg->data, msg->len);
	for (int i = 1; i < argc; i++)
		add_rcpt(w, argv[i]);
	if (qf_commit(&w, id, &error) < 0) {
		fprintf(stderr, "qfmake: commit: %s\n", error);
		return 1;
	}
	printf("%s\n", id);
	buf_free(&msg);
	return 0;
}

/* show - the second and third forms */
static int show(int argc, char **argv, bool offsets)
{
	struct qf_rcpt rcpts[64];
	const char *error;
	bool corrupt;
	long offset = 0, n;
	char *path;
	struct qf *q;

	if (argc != 3)
		usage();
	path = queue_path(argv[0], argv[1], argv[2]);
	if ((q = qf_open(path, false, &corrupt, &error)) == NULL) {
		fprintf(stderr, "qfmake: open %s: %s\n", path, error);
		return 1;
	}
	do {
		n = qf_read_rcpts(q, &offset, rcpts, 64, true, &error);
		if (n < 0) {
			fprintf(stderr, "qfmake: read %s: %s\n", path, error);
			return 1;
		}
		for (long i = 0; i < n; i++) {
			if (offsets)
				printf("%ld ", rcpts[i].offset);
			printf("%s %s\n", rcpts[i].done ? "done" : "todo", rcpts[i].address);
			qf_rcpt_deinit(&rcpts[i]);
		}
	} while (offset != 0);
	qf_close(&q);
	free(path);
	return 0;
}

int main(int argc, char **argv)
{
	static char *no_attrs[] = {NULL};
	struct qf_envelope env;
	const char *queue = "active";
	bool show_mode = false, offsets = false;
	int ch;

	log_init("qfmake", LOG_FLAG_STDERR);
	memset(&env, 0, sizeof(env));
	env.sender = "";
	env.envid = "";
	env.attrs = no_attrs;
	while ((ch = getopt(argc, argv, "q:f:V:R:t:sl")) != -1) {
		switch (ch) {
		case 'q':
			queue = optarg;
			break;
		case 'f':
			env.sender = optarg;
			break;
		case 'V':
			env.envid = optarg;
			break;
		case 'R':
			if ((env.ret = dsn_ret_parse(optarg)) < 0)
				usage();
			break;
		case 't':
			env.arrival_time = atof(optarg);
			break;
		case 's':
			show_mode = true;
			break;
		case 'l':
			show_mode = offsets = true;
			break;
		default:
			usage();
		}
	}
	hash_init();
	if (show_mode)
		return show(argc - optind, argv + optind, offsets);
	if (env.arrival_time == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		env.arrival_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	}
	return make(queue, &env, argc - optind, argv + optind);
}
