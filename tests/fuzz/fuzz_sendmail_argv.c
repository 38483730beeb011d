/*
 * fuzz_sendmail_argv - libFuzzer target for the sendmail command line
 * (src/cli/sendmail_args.c): what any local user (or a web application
 * passing a visitor's text) puts on sendmail's command line.
 *
 * The input is split into arguments at NUL bytes (argv[0] is "sendmail").
 * Checked:
 *   - options parse to EX_OK or EX_USAGE; on EX_OK the first recipient
 *     index is within argv, argv stays NULL-terminated, "-SMTPUTF8" is
 *     gone from before "--" and the mode is a known one;
 *   - a -f sender that parses is in internal form, qualified (or ""), and
 *     parses to itself again when given as -f once more;
 *   - recipients: EX_OK or EX_USAGE; each one qualified, unique, and
 *     accepted by the queue-file checks; parsing the list of them again
 *     gives the same list.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli/sendmail_args.h"
#include "global/addr.h"
#include "global/cleanup/submission.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/htable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_sendmail_argv: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	var_myorigin = strdup("example.org");
	return 0;
}

/* recipients - parse, check, parse the result again */
static void recipients(char **args, int count)
{
	struct argv *r = argv_create(), *again;
	struct htable *seen = htable_create(16), *seen2;
	const char *why;
	char **quoted;

	if (sendmail_parse_recipients(args, count, r, seen) != EX_OK) {
		argv_free(&r);
		htable_free(&seen, NULL);
		return;
	}
	quoted = calloc(r->argc + 1, sizeof(*quoted));
	for (size_t i = 0; i < r->argc; i++) {
		check(strchr(r->argv[i], '@') != NULL);
		if (submission_check_address(r->argv[i], false, &why) < 0) {
			fprintf(stderr, "fuzz_sendmail_argv: recipient \"%s\": %s\n", r->argv[i], why);
			abort();
		}
		for (size_t j = 0; j < i; j++)
			check(strcmp(r->argv[i], r->argv[j]) != 0);
		quoted[i] = addr_quote(r->argv[i]);
	}
	again = argv_create();
	seen2 = htable_create(16);
	check(sendmail_parse_recipients(quoted, (int)r->argc, again, seen2) == EX_OK);
	check(again->argc == r->argc);
	for (size_t i = 0; i < r->argc; i++) {
		check(strcmp(again->argv[i], r->argv[i]) == 0);
		free(quoted[i]);
	}
	free(quoted);
	argv_free(&again);
	htable_free(&seen2, NULL);
	argv_free(&r);
	htable_free(&seen, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2];
	int argc = 0, first = 0, rc;
	struct sm_opts o;

	memcpy(copy, data, size);
	copy[size] = 0;
	argv[argc++] = "sendmail";
	for (size_t pos = 0; pos <= size && argc <= MAX_ARGS; pos += strlen(copy + pos) + 1)
		argv[argc++] = copy + pos;
	argv[argc] = NULL;

	rc = sendmail_parse_options(&argc, argv, &o, &first);
	check(rc == EX_OK || rc == EX_USAGE);
	check(argv[argc] == NULL);
	if (rc == EX_OK) {
		check(first >= 1 && first <= argc);
		check(strchr("mvpqxi", o.mode) != NULL);
		for (int i = 1; i < first && strcmp(argv[i], "--") != 0; i++)
			check(strcmp(argv[i], "-SMTPUTF8") != 0);
		if (o.sender) {
			char *s = sendmail_parse_sender(o.sender), *s2;

			if (s && *s) {
				char *q = addr_quote(s);

				check(strchr(s, '@') != NULL);
				s2 = sendmail_parse_sender(q);
				check(s2 != NULL && strcmp(s, s2) == 0);
				free(s2);
				free(q);
			}
			free(s);
		}
		recipients(argv + first, argc - first);
	}
	free(copy);
	return 0;
}
