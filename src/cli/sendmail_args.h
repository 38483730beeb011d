/*
 * sendmail_args - the sendmail command line: options, the -f sender and the
 * recipient arguments (pure parsing, no I/O but the diagnostics on stderr;
 * cmd_sendmail.c does the rest, tests/fuzz/fuzz_sendmail_argv.c fuzzes it).
 */
#ifndef SLUICE_SENDMAIL_ARGS_H
#define SLUICE_SENDMAIL_ARGS_H

#include <stdbool.h>

struct argv;
struct htable;

#define SM_USAGE "usage: sendmail [-f sender] [-F name] [-t] [-i] [-N dsn] [-R full|hdrs] " \
		 "[-V envid] [-SMTPUTF8] [-bm|-bv|-bp] [-v] [-q] [-C config_dir] [--] recipient..."

struct sm_opts {
	const char *config_dir;
	const char *sender;		/* -f / -r, NULL: the login name */
	const char *full_name;		/* -F */
	const char *envid;		/* -V */
	int ret;			/* -R */
	int notify;			/* -N */
	int qflags;			/* -v, -bv, -SMTPUTF8 */
	int verbose;			/* -v beyond the first */
	bool extract;			/* -t */
	bool dot_eof;			/* no -i / -oi */
	int mode;			/* 'm' deliver, 'v' verify, 'p' list, 'q' flush */
};

/*
 * sendmail_parse_options - the Sendmail flags of argv (getopt; Postfix's
 * set, the ones it ignores accepted and ignored).  EX_OK with *o filled
 * and the first recipient at argv[*optind_r], or EX_USAGE after a message
 * on stderr.  -SMTPUTF8 is taken out of argv (before "--") and *argcp
 * shrinks.
 */
int sendmail_parse_options(int *argcp, char **argv, struct sm_opts *o, int *optind_r);

/* sendmail_parse_sender - -f text to internal form, qualified with
 * myorigin ("" for "<>" or blank); NULL if it is no address.  Caller frees. */
char *sendmail_parse_sender(const char *text);

/* sendmail_add_unique - append addr, qualified with myorigin, to list
 * unless seen (keys: qualified addresses) holds it already. */
void sendmail_add_unique(struct argv *list, struct htable *seen, const char *addr);

/*
 * sendmail_parse_recipients - args[0..count), each an RFC 5322 address
 * list, into rcpts (qualified, without repeats; see sendmail_add_unique).
 * EX_OK, or EX_USAGE after a message naming the bad argument.
 */
int sendmail_parse_recipients(char **args, int count, struct argv *rcpts, struct htable *seen);

#endif
