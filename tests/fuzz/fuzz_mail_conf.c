/*
 * fuzz_mail_conf - libFuzzer target for the main.cf reader: line syntax,
 * $name expansion (recursion, ${name?text}, ${name:text}, $$), value
 * checks against the parameter table, and master.cf -o values.
 *
 * The input is main.cf; if it contains a line "%%master.cf%%", what follows
 * is master.cf.  Both are written into a private configuration folder and
 * read with mail_conf_read().  A failure must come with a message.  After
 * a success the contract says every value has been checked, "so later
 * look-ups cannot fail": every name mail_conf_names() lists is looked up,
 * and every numeric per-transport parameter is asked for every master.cf
 * service (transport_param_long would msg_fatal on a value that slipped
 * through, which libFuzzer reports as a crash).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_conf.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_mail_conf: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define SPLIT "%%master.cf%%\n"

static char dir[64];
static char main_path[128], master_path[128];

/* LLVMFuzzerInitialize - a private folder (in memory when possible), quiet logs */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/fuzz_mail_conf.XXXXXX",
		 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(main_path, sizeof(main_path), "%s/main.cf", dir);
	snprintf(master_path, sizeof(master_path), "%s/master.cf", dir);
	unsetenv("SLUICE_CONFIG_DIR");
	log_init("fuzz", 0);
	log_set_fd(open("/dev/null", O_WRONLY));
	return 0;
}

/* put - write (or remove, when data is NULL) one file */
static void put(const char *path, const uint8_t *data, size_t size)
{
	int fd;

	unlink(path);
	if (data == NULL)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	check(fd >= 0);
	check(write(fd, data, size) == (ssize_t)size);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *split = memmem(data, size, SPLIT, strlen(SPLIT));
	const char *err = NULL;
	const struct param_def *table;
	const struct master_ent *ents;
	size_t ntable, nents;
	struct argv *names;

	if (split) {
		put(main_path, data, (size_t)(split - data));
		split += strlen(SPLIT);
		put(master_path, split, size - (size_t)(split - data));
	} else {
		put(main_path, data, size);
		put(master_path, NULL, 0);
	}
	if (mail_conf_read(dir, &err) < 0) {
		check(err != NULL && *err != 0);
		return 0;
	}

	/* everything that was read can be looked up */
	names = mail_conf_names(MAIL_CONF_NAMES_MAIN_CF | MAIL_CONF_NAMES_TABLE
				| MAIL_CONF_NAMES_SERVICE);
	for (size_t i = 0; i < names->argc; i++) {
		(void)mail_conf_lookup(names->argv[i]);
		(void)mail_conf_raw(names->argv[i]);
		(void)mail_conf_default(names->argv[i]);
	}
	argv_free(&names);

	/* per-transport numbers for every service: checked at read time */
	table = params_table(&ntable);
	ents = mail_conf_master(&nents);
	for (size_t k = 0; k < nents; k++) {
		for (size_t i = 0; i < ntable; i++) {
			if ((table[i].flags & PARAM_F_PER_TRANSPORT) == 0)
				continue;
			if (table[i].type == PARAM_INT || table[i].type == PARAM_TIME
			    || table[i].type == PARAM_SIZE)
				(void)transport_param_long(ents[k].service, table[i].name);
			else
				(void)transport_param_str(ents[k].service, table[i].name);
		}
	}
	return 0;
}
