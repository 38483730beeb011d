/*
 * sendmail_args - the sendmail command line (see sendmail_args.h).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli_error.h"
#include "global/addr.h"
#include "global/cleanup/submission.h"
#include "global/dsn.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/rfc822.h"
#include "sendmail_args.h"
#include "util/argv.h"
#include "util/htable.h"
#include "util/mem.h"

/* sendmail_parse_options - Sendmail flags; 0, or an exit status after a message.
 * *argcp shrinks when -SMTPUTF8 is taken out of argv. */
int sendmail_parse_options(int *argcp, char **argv, struct sm_opts *o, int *optind_r)
{
	int argc = *argcp;
	int ch;

	memset(o, 0, sizeof(*o));
	o->dot_eof = true;
	o->mode = 'm';
	/*
	 * -SMTPUTF8 (Postfix): the message needs SMTPUTF8.  Not a getopt
	 * option (it would read as -S -M -T ...): taken out of argv first,
	 * anywhere before "--".
	 */
	for (int i = 1, j; i < argc && strcmp(argv[i], "--") != 0;) {
		if (strcmp(argv[i], "-SMTPUTF8") != 0) {
			i++;
			continue;
		}
		o->qflags |= QF_FLAG_SMTPUTF8;
		for (j = i; j + 1 < argc; j++)
			argv[j] = argv[j + 1];
		argv[--argc] = NULL;
	}
	*argcp = argc;
	optind = 0;		/* GNU getopt: start over (the dispatcher may have used it) */
	opterr = 0;
	while ((ch = getopt(argc, argv, ":A:B:b:C:F:f:Gh:IiL:mN:nO:o:p:q::R:r:tUV:vX:")) != -1) {
		switch (ch) {
		case 'b':
			switch (optarg[0]) {
			case 'm':
			case 'v':
			case 'p':
				o->mode = optarg[0];
				break;
			case 'h':
			case 'H':
				o->mode = 'x';	/* ignored, as Postfix does */
				break;
			case 'i':
				o->mode = 'i';	/* newaliases */
				break;
			default:
				return cli_error(EX_USAGE, "-b%s is not supported", optarg);
			}
			break;
		case 'C':
			o->config_dir = optarg;
			break;
		case 'F':
			o->full_name = optarg;
			break;
		case 'f':
		case 'r':
			o->sender = optarg;
			break;
		case 'I':
			o->mode = 'i';	/* the same as -bi */
			break;
		case 'i':
			o->dot_eof = false;
			break;
		case 'N':
			if ((o->notify = dsn_notify_parse(optarg)) < 0)
				return cli_error(EX_USAGE, "-N: bad DSN notification \"%s\" (use never "
					     "or a list of success, delay, failure)", optarg);
			break;
		case 'o':
			if (optarg[0] == 'i')
				o->dot_eof = false;
			break;
		case 'q':
			if (optarg == NULL)
				o->mode = 'q';
			else if (strchr("RSI", optarg[0]) != NULL)
				return cli_error(EX_USAGE, "-q%c is not supported", optarg[0]);
			else
				o->mode = 'x';	/* -q<interval>: ignored */
			break;
		case 'R':
			if ((o->ret = dsn_ret_parse(optarg)) < 0)
				return cli_error(EX_USAGE, "-R: bad DSN return \"%s\" (use full or hdrs)",
					     optarg);
			break;
		case 't':
			o->extract = true;
			break;
		case 'V':
			o->envid = optarg;
			break;
		case 'v':
			if (o->qflags & QF_FLAG_TRACE_VERBOSE)
				o->verbose++;
			o->qflags |= QF_FLAG_TRACE_VERBOSE;
			break;
		case 'A':
		case 'B':
		case 'G':
		case 'h':
		case 'L':
		case 'm':
		case 'n':
		case 'O':
		case 'p':
		case 'U':
		case 'X':
			break;		/* accepted and ignored, as Postfix does */
		case ':':
			return cli_error(EX_USAGE, "option -%c needs a value\n%s", optopt, SM_USAGE);
		default:
			return cli_error(EX_USAGE, "unknown option -%c\n%s", optopt, SM_USAGE);
		}
	}
	if (o->mode == 'v')
		o->qflags |= QF_FLAG_TRACE_VERIFY;
	*optind_r = optind;
	return EX_OK;
}

/* sendmail_parse_sender - -f text to internal form ("" for "<>"); NULL if bad */
char *sendmail_parse_sender(const char *text)
{
	struct argv *a = argv_create();
	const char *err;
	char *trimmed = xstrdup(text), *s, *out = NULL;
	size_t n;

	s = trimmed + strspn(trimmed, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	if (n == 0 || strcmp(s, "<>") == 0) {
		out = xstrdup("");
	} else if (rfc822_addr_list(s, a, &err) >= 1 && a->argc >= 1) {
		if (a->argc > 1)
			cli_warn("-f option specified more than one address: %s", text);
		out = addr_qualify(a->argv[0], var_myorigin);
	}
	argv_free(&a);
	free(trimmed);
	return out;
}


/* sendmail_add_unique - append a qualified address unless seen holds it (hashed:
 * a -t header may name very many) */
void sendmail_add_unique(struct argv *list, struct htable *seen, const char *addr)
{
	char *q = addr_qualify(addr, var_myorigin);

	if (htable_find(seen, q) == NULL) {
		htable_enter(seen, q, list);
		argv_add(list, q, (char *)NULL);
	}
	free(q);
}

/* sendmail_parse_recipients - command-line arguments, each an address list */
int sendmail_parse_recipients(char **args, int count, struct argv *rcpts, struct htable *seen)
{
	struct argv *a;
	const char *err;

	for (int i = 0; i < count; i++) {
		a = argv_create();
		if (rfc822_addr_list(args[i], a, &err) < 1) {
			argv_free(&a);
			return cli_error(EX_USAGE, "bad recipient address syntax: %s", args[i]);
		}
		for (size_t j = 0; j < a->argc; j++) {
			if (submission_check_address(a->argv[j], false, &err) < 0) {
				argv_free(&a);
				return cli_error(EX_USAGE, "bad recipient address \"%s\": %s", args[i], err);
			}
			sendmail_add_unique(rcpts, seen, a->argv[j]);
		}
		argv_free(&a);
	}
	return EX_OK;
}

