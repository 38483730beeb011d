/*
 * clean_env - reduce the environment to a list of names (see clean_env.h).
 *
 * Used by master before it starts any daemon: a daemon, and the commands the
 * delivery agents run, must not depend on what happened to be in the
 * environment of whoever typed "sluice start" (LD_PRELOAD, IFS, a stray
 * PATH).  The values to keep are copied before the environment is cleared,
 * because clearenv() may free the strings getenv() returned.
 *
 * DIAGNOSTICS: none; malformed entries are skipped, out of memory is fatal.
 */
#include <stdlib.h>
#include <string.h>

#include "util/argv.h"
#include "util/clean_env.h"
#include "util/log.h"
#include "util/mem.h"

/* name_len - length of the NAME part of "NAME" or "NAME=VALUE"; 0 if none */
static size_t name_len(const char *entry)
{
	return strcspn(entry, "=");
}

/* clean_env - keep the listed variables, drop the rest */
void clean_env(char *const *keep)
{
	struct argv *saved = argv_create();
	const char *value;

	/* First the NAME=VALUE strings to install, taken while values still exist. */
	for (char *const *cpp = keep; cpp && *cpp; cpp++) {
		size_t n = name_len(*cpp);
		char *name;

		if (n == 0)
			continue;
		if ((*cpp)[n] == '=') {
			argv_add(saved, *cpp, (char *)NULL);
			continue;
		}
		name = xstrdup(*cpp);
		if ((value = getenv(name)) != NULL) {
			char *entry = xasprintf("%s=%s", name, value);

			argv_add(saved, entry, (char *)NULL);
			free(entry);
		}
		free(name);
	}
	if (clearenv() != 0)
		msg_fatal("clearenv failed");
	for (size_t i = 0; i < saved->argc; i++) {
		char *entry = saved->argv[i];
		size_t n = name_len(entry);

		entry[n] = 0;
		if (setenv(entry, entry + n + 1, 1) < 0)
			msg_fatal("setenv %s: out of memory", entry);
		entry[n] = '=';
	}
	argv_free(&saved);
}
