/*
 * fuzz_master_cf - libFuzzer target for the master.cf parser
 * (global/master_cf.h).
 *
 * The input is master.cf text.  A parse either fails with a message that
 * names the file and a line, or gives entries that keep the contract
 * (known type, maxproc >= 0, wakeup >= 0, a command, args and overrides
 * present); printed back with master_cf_print() ("sluice config -M") the
 * entries must parse again into the same services, types, commands,
 * arguments and -o overrides.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "global/master_cf.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_master_cf: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define PATH "/fuzz/master.cf"

/* LLVMFuzzerInitialize - quiet logging */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init("fuzz", 0);
	log_set_fd(open("/dev/null", O_WRONLY));
	return 0;
}

/* same_argv - two argv arrays hold the same strings */
static int same_argv(const struct argv *a, const struct argv *b)
{
	if (a->argc != b->argc)
		return 0;
	for (size_t i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], b->argv[i]) != 0)
			return 0;
	return 1;
}

/* check_entry - the contract of one parsed entry */
static void check_entry(const struct master_ent *e)
{
	static const char *types[] = {"unix", "fifo", "inet", "pass", "unix-dgram"};
	int known = 0;

	check(e->service && *e->service);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		known |= strcmp(e->type, types[i]) == 0;
	check(known);
	check(e->wakeup >= 0);
	check(e->maxproc >= 0);
	check(e->command && *e->command);
	check(e->args && e->overrides);
	check(e->line >= 1);
	for (size_t i = 0; i < 5; i++)
		check(e->fields[i] != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct master_ent *ents = NULL, *again = NULL;
	size_t n = 0, n2 = 0;
	const char *err = NULL;
	struct buf *out;

	memcpy(text, data, size);
	text[size] = 0;
	if (master_cf_parse(PATH, text, &ents, &n, &err) < 0) {
		check(err != NULL);
		check(strncmp(err, PATH ":", strlen(PATH ":")) == 0);
		free(text);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		check_entry(&ents[i]);

	out = buf_create(256);
	master_cf_print(out, ents, n);
	if (master_cf_parse(PATH, buf_str(out), &again, &n2, &err) < 0) {
		fprintf(stderr, "fuzz_master_cf: printed entries do not parse: %s\n--\n%s--\n",
			err, buf_str(out));
		abort();
	}
	check(n2 == n);
	for (size_t i = 0; i < n; i++) {
		const char *what = NULL;

		if (strcmp(ents[i].service, again[i].service) != 0)
			what = "service";
		else if (strcmp(ents[i].type, again[i].type) != 0)
			what = "type";
		else if (strcmp(ents[i].command, again[i].command) != 0)
			what = "command";
		else if (ents[i].private_ != again[i].private_ || ents[i].unpriv != again[i].unpriv
			 || ents[i].chroot != again[i].chroot)
			what = "private/unpriv/chroot";
		else if (ents[i].wakeup != again[i].wakeup
			 || ents[i].wakeup_if_used != again[i].wakeup_if_used)
			what = "wakeup";
		else if (ents[i].maxproc != again[i].maxproc)
			what = "maxproc";
		else if (!same_argv(ents[i].args, again[i].args))
			what = "args";
		else if (!same_argv(ents[i].overrides, again[i].overrides))
			what = "overrides";
		if (what) {
			fprintf(stderr, "fuzz_master_cf: entry %zu (line %d): %s differ after "
				"master_cf_print; printed:\n%s", i, ents[i].line, what, buf_str(out));
			fprintf(stderr, "command \"%s\" -> \"%s\"\n", ents[i].command,
				again[i].command);
			for (size_t a = 0; a < ents[i].args->argc; a++)
				fprintf(stderr, "arg %zu \"%s\"\n", a, ents[i].args->argv[a]);
			for (size_t a = 0; a < again[i].args->argc; a++)
				fprintf(stderr, "reparsed arg %zu \"%s\"\n", a, again[i].args->argv[a]);
			abort();
		}
	}
	master_cf_free(&again, n2);
	master_cf_free(&ents, n);
	check(ents == NULL);
	buf_free(&out);
	free(text);
	return 0;
}
