/*
 * local_recipient - local_recipient_maps (see local_recipient.h).
 *
 * DIAGNOSTICS: none; table errors are returned for the caller to log.
 */
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/local_recipient.h"
#include "global/maps.h"
#include "global/params.h"
#include "global/split_addr.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

#define PASSWD_TABLE	"unix:passwd.byname"

static char *open_spec;		/* the value the tables were opened with */
static struct maps *tables;	/* the other tables, NULL when none */
static bool use_passwd;		/* unix:passwd.byname is listed */
static bool opened;

/* open_tables - (re)open local_recipient_maps; 0 or -1 with *error_r */
static int open_tables(const char **error_r)
{
	const char *value = var_local_recipient_maps ? var_local_recipient_maps : "";
	struct argv *specs;
	struct buf rest;
	int rc = 0;

	if (opened && strcmp(open_spec, value) == 0 && !(tables && maps_changed(tables)))
		return 0;
	local_recipient_reset();
	specs = maps_split(value);
	buf_init(&rest, 128);
	for (size_t i = 0; i < specs->argc; i++) {
		const char *s = specs->argv[i];

		if (strncmp(s, "proxy:", 6) == 0)
			s += 6;
		if (strcmp(s, PASSWD_TABLE) == 0)
			use_passwd = true;
		else
			buf_printf(&rest, "%s%s", rest.len ? ", " : "", s);
	}
	if (rest.len > 0 && (tables = maps_open(rest.data, error_r)) == NULL)
		rc = -1;
	buf_deinit(&rest);
	argv_free(&specs);
	if (rc == 0) {
		open_spec = xstrdup(value);
		opened = true;
	}
	return rc;
}

/* passwd_known - unix:passwd.byname for a local part without extension */
static bool passwd_known(const char *user)
{
	/* Embedded Maildirs: every local part has one (the local agent judges
	 * whether it can name a folder: 5.1.3 invalid mailbox name). */
	if (var_local_mailbox_base && *var_local_mailbox_base)
		return true;
	return getpwnam(user) != NULL;
}

/* local_recipient_find - known local recipient? */
int local_recipient_find(const char *addr, const char **error_r)
{
	const char *at = strrchr(addr, '@'), *value;
	char *full, *local, *user;
	int rc = 0, r;
	size_t ext;

	if (var_local_recipient_maps == NULL || *var_local_recipient_maps == 0)
		return 1;
	if (open_tables(error_r) < 0)
		return -1;
	full = str_lower(xstrdup(addr));
	local = str_lower(at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr));
	ext = split_addr_ext(local, var_recipient_delimiter ? var_recipient_delimiter : "");
	user = xstrndup(local, ext);

	if (use_passwd && passwd_known(user))
		rc = 1;
	if (rc == 0 && tables) {
		const char *keys[] = {full, local, user};
		int flags[] = {0, MAPS_FLAG_PARTIAL, MAPS_FLAG_PARTIAL};

		for (size_t i = 0; i < 3 && rc == 0; i++) {
			if (i == 2 && strcmp(user, local) == 0)
				break;
			r = maps_lookup(tables, keys[i], flags[i], &value, error_r);
			if (r == MAPS_ERROR)
				rc = -1;
			else if (r == MAPS_FOUND)
				rc = 1;
		}
	}
	free(full);
	free(local);
	free(user);
	return rc;
}

/* local_recipient_reset - close */
void local_recipient_reset(void)
{
	maps_free(&tables);
	free(open_spec);
	open_spec = NULL;
	use_passwd = false;
	opened = false;
}
