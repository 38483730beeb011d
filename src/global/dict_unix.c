/*
 * dict_unix - the system's account tables as lookup tables (Postfix's
 * unix: type): unix:passwd.byname answers a login name with its passwd(5)
 * line, unix:group.byname a group name with its group(5) line.  Used
 * where Postfix uses them, chiefly local_recipient_maps.
 *
 * Keys are taken as given (account names are case-sensitive); a name
 * that is not there is "not found", and a failing name service is an
 * error (the caller defers), never "not found".
 *
 * NOT: enumeration (dict_seq), updates.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "global/dict_private.h"

enum { UNIX_PASSWD, UNIX_GROUP };

/* unix_open - which table */
static int unix_open(struct dict *d, const char **error_r)
{
	static int which[2] = {UNIX_PASSWD, UNIX_GROUP};

	if (strcmp(d->name, "passwd.byname") == 0)
		d->ctx = &which[0];
	else if (strcmp(d->name, "group.byname") == 0)
		d->ctx = &which[1];
	else
		return dict_fail(error_r, "%s: unknown unix table (sluice has passwd.byname and "
				 "group.byname)", d->spec);
	return 0;
}

/* unix_get - one account line */
static int unix_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		    size_t *vlen_r, const char **error_r)
{
	char text[1024];

	(void)klen;
	errno = 0;
	if (*(int *)d->ctx == UNIX_PASSWD) {
		struct passwd *pw = getpwnam(key);

		if (pw == NULL)
			goto none;
		snprintf(text, sizeof(text), "%s:%s:%ld:%ld:%s:%s:%s", pw->pw_name, pw->pw_passwd,
			 (long)pw->pw_uid, (long)pw->pw_gid, pw->pw_gecos, pw->pw_dir,
			 pw->pw_shell);
	} else {
		struct group *gr = getgrnam(key);

		if (gr == NULL)
			goto none;
		snprintf(text, sizeof(text), "%s:%s:%ld:", gr->gr_name, gr->gr_passwd,
			 (long)gr->gr_gid);
		for (char **m = gr->gr_mem; *m; m++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s",
				 m == gr->gr_mem ? "" : ",", *m);
	}
	buf_reset(&d->value);
	buf_puts(&d->value, text);
	*value_r = d->value.data;
	*vlen_r = d->value.len;
	return DICT_FOUND;

none:
	/* "No such entry" leaves errno alone or sets one of these (getpwnam(3)). */
	if (errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF || errno == EPERM)
		return DICT_NOTFOUND;
	return dict_fail(error_r, "%s: look-up of \"%s\": %s", d->spec, key, strerror(errno));
}

/* unix_close - nothing held */
static void unix_close(struct dict *d)
{
	d->ctx = NULL;
}

const struct dict_ops dict_unix_ops = {
	.type = "unix", .props = 0, .open = unix_open, .get = unix_get, .close = unix_close,
};
