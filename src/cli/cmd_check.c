/*
 * cmd_check - "sluice check" (postfix check): ownership and modes of the
 * queue folders and programs, and configuration sanity.
 *
 * Each problem is one line on standard error, "sluice: check: ..." for what
 * stops the mail system from working and "sluice: check: warning: ..." for
 * the rest, and says how to fix it.  Exit status: 0 when there are no errors
 * (warnings allowed), 1 when there is at least one error, 78 when the
 * configuration cannot be read at all.  The systemd unit runs it before
 * every start.
 *
 * The expected folder modes are the ones master gives the folders when it
 * starts as root (src/master/master.c, master_owner_setup); folders that do
 * not exist yet are fine, master creates them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_check.h"
#include "global/daemon_path.h"
#include "global/mail_conf.h"
#include "global/maps.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "util/log.h"
#include "util/mem.h"

static int errors;

/* problem - one line: what is wrong; how to fix it */
static void __attribute__((format(printf, 2, 3))) problem(bool fatal, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (fatal) {
		cli_error(CLI_EX_FAIL, "%s", text);
		errors++;
	} else {
		cli_warn("%s", text);
	}
}

/* The queue folders: who owns them and with which mode, when root runs. */
static const struct {
	const char *name;
	bool drop_group;		/* group setgid_group rather than mail_owner's */
	mode_t mode;
	bool owner_root;		/* root's, not mail_owner's */
} folders[] = {
	{"maildrop", true, 01730, false},
	{"public", true, 0711, false},
	{"incoming", false, 0700, false},
	{"active", false, 0700, false},
	{"deferred", false, 0700, false},
	{"hold", false, 0700, false},
	{"corrupt", false, 0700, false},
	{"bounce", false, 0700, false},
	{"defer", false, 0700, false},
	{"trace", false, 0700, false},
	{"private", false, 0700, false},
	{"pid", false, 0755, true},
};

/*
 * check_files - no links below dir, and (with owned) every file is uid's;
 * *bad_r counts the files that are not, the first ten are named.
 */
static void check_files(const char *dir, bool owned, uid_t uid, int depth, long *bad_r)
{
	DIR *d;
	struct dirent *e;
	struct stat st;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *path;

		if (e->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode) && depth > 0) {
				check_files(path, owned, uid, depth - 1, bad_r);
			} else if (S_ISLNK(st.st_mode)) {
				problem(false, "%s is a symbolic link; remove it (nothing in a "
					"queue folder is a link)", path);
			} else if (owned && !S_ISDIR(st.st_mode) && st.st_uid != uid
				   && (*bad_r)++ < 10) {
				problem(false, "%s is not owned by %s; chown %s %s", path,
					var_mail_owner, var_mail_owner, path);
			}
		}
		free(path);
	}
	closedir(d);
}

/* check_queue - the queue folders */
static void check_queue(bool root, uid_t uid, gid_t gid, gid_t drop_gid)
{
	struct stat st;
	long bad = 0;

	if (stat(var_queue_directory, &st) < 0) {
		if (errno != ENOENT)
			problem(true, "queue_directory %s: %s", var_queue_directory,
				strerror(errno));
		/* Not there yet: master makes it at the first start. */
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		problem(true, "queue_directory %s is not a folder; remove it or set "
			"queue_directory", var_queue_directory);
		return;
	}
	if (root && st.st_uid != 0)
		problem(false, "queue_directory %s is not owned by root; chown root %s",
			var_queue_directory, var_queue_directory);
	if (st.st_mode & 022)
		problem(true, "queue_directory %s is writable by group or others; "
			"chmod go-w %s", var_queue_directory, var_queue_directory);
	for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
		char *path = xasprintf("%s/%s", var_queue_directory, folders[i].name);
		uid_t want_uid = folders[i].owner_root ? 0 : uid;
		gid_t want_gid = folders[i].drop_group ? drop_gid : gid;

		if (lstat(path, &st) < 0) {
			if (errno != ENOENT)
				problem(true, "%s: %s", path, strerror(errno));
		} else if (!S_ISDIR(st.st_mode)) {
			problem(true, "%s is not a folder (%s); remove it, master makes the "
				"folder at start", path, S_ISLNK(st.st_mode) ? "a symbolic link"
				: "a file");
		} else if (root) {
			if (st.st_uid != want_uid || (!folders[i].owner_root && st.st_gid != want_gid))
				problem(false, "%s is owned by %ld:%ld, want %s:%s; sluice start "
					"sets it (or chown)", path, (long)st.st_uid,
					(long)st.st_gid, folders[i].owner_root ? "root"
					: var_mail_owner, folders[i].drop_group ? var_setgid_group
					: var_mail_owner);
			if ((st.st_mode & 07777) != folders[i].mode)
				problem(false, "%s has mode %04o, want %04o; chmod %04o %s", path,
					(unsigned)(st.st_mode & 07777), (unsigned)folders[i].mode,
					(unsigned)folders[i].mode, path);
		}
		free(path);
	}
	if (root) {
		static const char *const queues[] = {"incoming", "active", "deferred", "hold",
			"maildrop", NULL};

		for (const char *const *q = queues; *q; q++) {
			char *path = xasprintf("%s/%s", var_queue_directory, *q);

			/* maildrop files are their submitters'; only links matter there. */
			check_files(path, strcmp(*q, "maildrop") != 0, uid, 4, &bad);
			free(path);
		}
		if (bad > 10)
			problem(false, "%ld more files not owned by %s in the queue", bad - 10,
				var_mail_owner);
	}
}

/* check_program - a daemon: present, root's, not writable by others */
static void check_program(const char *name, bool setgid, gid_t drop_gid, bool root)
{
	char *path = daemon_path(var_daemon_directory, name);
	struct stat st;

	if (stat(path, &st) < 0) {
		problem(true, "program %s: %s; install sluice again or set daemon_directory",
			path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
		problem(true, "program %s is not an executable file; install sluice again", path);
	} else {
		if (st.st_mode & S_ISUID)
			problem(true, "program %s is set-uid; chmod u-s %s (no sluice program is "
				"set-uid)", path, path);
		if (st.st_mode & 022)
			problem(true, "program %s is writable by group or others; chmod go-w %s",
				path, path);
		if (root && st.st_uid != 0 && st.st_uid != getuid())
			problem(false, "program %s is not owned by root; chown root %s", path,
				path);
		if (setgid && root && (!(st.st_mode & S_ISGID) || st.st_gid != drop_gid))
			problem(false, "program %s is not set-gid %s: ordinary users cannot "
				"submit mail; chgrp %s %s && chmod 2755 %s", path,
				var_setgid_group, var_setgid_group, path, path);
	}
	free(path);
}

/* transport_of - the transport part of "transport:nexthop" (caller frees) */
static char *transport_of(const char *value)
{
	return xstrndup(value, strcspn(value, ":"));
}

/* check_transport - a transport parameter names a master.cf service */
static void check_transport(const char *param, const char *value,
			    const struct master_ent *ents, size_t n)
{
	char *t = transport_of(value);

	if (*t && master_cf_find(ents, n, t, "unix") == NULL)
		problem(true, "%s = %s: master.cf has no \"%s unix\" service; add one "
			"(sluice config -M shows master.cf) or change %s", param, value, t,
			param);
	free(t);
}

/* check_tables - every table a parameter names can be opened */
static void check_tables(void)
{
	static const char *const params[] = {"transport_maps", "alias_maps", NULL};

	for (const char *const *p = params; *p; p++) {
		const char *value = mail_conf_lookup(*p), *error;
		struct maps *m;

		if (value == NULL || *value == 0)
			continue;
		if ((m = maps_open(value, &error)) == NULL)
			problem(true, "%s: %s; fix the table or the parameter", *p, error);
		maps_free(&m);
	}
}

/* check_config - configuration sanity */
static void check_config(void)
{
	const struct master_ent *ents;
	size_t n;
	const char *dir = mail_conf_dir();
	struct stat st;
	char *path;

	ents = mail_conf_master(&n);
	check_transport("default_transport", var_default_transport, ents, n);
	check_transport("local_transport", var_local_transport, ents, n);
	if (*var_mydestination && master_cf_find(ents, n, "local", "unix") == NULL) {
		char *t = transport_of(var_local_transport);

		if (strcmp(t, "local") == 0 || master_cf_find(ents, n, t, "unix") == NULL)
			problem(true, "mydestination = %s, but master.cf has no local delivery "
				"service; add \"local unix - n n - - local\" or empty "
				"mydestination", var_mydestination);
		free(t);
	}
	check_tables();
	if (dir) {
		path = xasprintf("%s/main.cf", dir);
		if (stat(path, &st) == 0 && (st.st_mode & 022))
			problem(true, "%s is writable by group or others; chmod go-w %s", path,
				path);
		if (stat(path, &st) == 0 && getuid() == 0 && st.st_uid != 0)
			problem(false, "%s is not owned by root; chown root %s", path, path);
		free(path);
	}
	if (*var_maillog_file && strcmp(var_maillog_file, "-") != 0) {
		char *copy = xstrdup(var_maillog_file), *slash = strrchr(copy, '/');

		if (slash && slash != copy) {
			*slash = 0;
			if (stat(copy, &st) < 0)
				problem(false, "maillog_file %s: folder %s: %s; master creates it "
					"at start", var_maillog_file, copy, strerror(errno));
		}
		free(copy);
	}
}

/* cmd_check - see the header */
int cmd_check(const char *config_dir, int argc, char **argv)
{
	static const char *const daemons[] = {"master", "qmgr", "pickup", "bounce", "showq",
		"smtp", "local", "pipe", "discard", "error", "smtpd", "anvil", "metrics", NULL};
	const char *error;
	struct passwd *pw;
	struct group *gr;
	bool root = geteuid() == 0;
	uid_t uid = geteuid();
	gid_t gid = getegid(), drop_gid = getegid();

	cli_command_set(argv[0]);
	if (argc != 1)
		return cli_usage("[-c dir] check", NULL);
	/* main.cf and master.cf warnings (unknown parameters...) print here too. */
	if (mail_conf_read(config_dir, &error) < 0)
		return cli_error(EX_CONFIG, "%s", error);
	if (root) {
		if ((pw = getpwnam(var_mail_owner)) == NULL) {
			problem(true, "mail_owner \"%s\" does not exist; create it: useradd --system "
				"--home-dir /nonexistent --shell /usr/sbin/nologin %s",
				var_mail_owner, var_mail_owner);
		} else if (pw->pw_uid == 0) {
			problem(true, "mail_owner \"%s\" is root; give sluice an account of its own",
				var_mail_owner);
		} else {
			uid = pw->pw_uid;
			gid = pw->pw_gid;
		}
		if ((gr = getgrnam(var_setgid_group)) == NULL)
			problem(true, "setgid_group \"%s\" does not exist; create it: groupadd "
				"--system %s", var_setgid_group, var_setgid_group);
		else
			drop_gid = gr->gr_gid;
		if (pw && gr && pw->pw_gid == gr->gr_gid)
			problem(true, "mail_owner's group is setgid_group \"%s\"; they must differ",
				var_setgid_group);
	}
	check_queue(root, uid, gid, drop_gid);
	for (const char *const *d = daemons; *d; d++)
		check_program(*d, false, drop_gid, root);
	check_program("postdrop", true, drop_gid, root);
	check_config();
	return errors ? CLI_EX_FAIL : EX_OK;
}
