/*
 * cmd_import_pfconf - the configuration half of "sluice import-postfix":
 * Postfix's main.cf and master.cf into sluice's (cmd_import_postfix.h).
 *
 * main.cf.  Every setting of Postfix's is judged against sluice's one
 * parameter table: a name sluice does not know, one it knows but does not
 * implement (PARAM_F_UNSUPPORTED) or ignores (PARAM_F_OBSOLETE), and the
 * install-specific ones (Postfix's own folders, programs and accounts,
 * which would point sluice at Postfix's files) are left out with one line
 * "PATH:LINE: NAME: not supported by sluice, not imported" (or the reason
 * that applies).  A value equal to sluice's default is not written.  The
 * rest go into sluice's main.cf one by one through mail_conf_edit(), which
 * checks each value in the context of the file; a refused value is
 * reported with sluice's reason and left out.
 *
 * master.cf.  Services whose program sluice has (pickup, qmgr or oqmgr,
 * bounce, smtp, smtpd, local, pipe, discard, error, showq) are imported: for a
 * service sluice's master.cf already has, sluice's line is kept and
 * Postfix's wakeup, process limit and arguments are taken; others are
 * added as Postfix wrote them.  Services of programs sluice does not have
 * (cleanup, trivial-rewrite, tlsmgr, postscreen, ...) are reported, as is each
 * "-o name=value" whose name main.cf would not accept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_import_postfix.h"
#include "global/conf_line.h"
#include "global/mail_conf.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/mem.h"
#include "util/strutil.h"

/* Postfix settings that name Postfix's own installation, never sluice's. */
static const char *const install_specific[] = {
	"queue_directory", "command_directory", "daemon_directory", "data_directory",
	"meta_directory", "shlib_directory", "config_directory", "sendmail_path",
	"newaliases_path", "mailq_path", "manpage_directory", "sample_directory",
	"readme_directory", "html_directory", "setgid_group", "mail_owner",
	"maillog_file", "maillog_file_prefixes",
	"multi_instance_directories", "multi_instance_enable", "multi_instance_name",
	"multi_instance_group", "multi_instance_wrapper",
	"mail_spool_directory_mode", NULL
};

/* The programs of sluice's master.cf (oqmgr is Postfix's other qmgr). */
static const char *const sluice_programs[] = {
	"pickup", "qmgr", "bounce", "smtp", "lmtp", "smtpd", "local", "pipe", "discard",
	"error", "showq", NULL
};

static bool in_list(const char *const *list, const char *word)
{
	for (; *list; list++)
		if (strcmp(*list, word) == 0)
			return true;
	return false;
}

/* ---- main.cf ---- */

/* pf_main_cf_parse - the settings of a main.cf text */
size_t pf_main_cf_parse(const char *path, const char *text, struct pf_setting **settings_r)
{
	struct conf_line_reader r;
	struct pf_setting *s = NULL;
	struct buf line;
	size_t count = 0;
	int lineno, rc;

	buf_init(&line, 256);
	conf_line_init(&r, text);
	while ((rc = conf_line_next(&r, &line, &lineno)) != 0) {
		char *eq, *name, *value;
		size_t i;

		if (rc < 0) {
			printf("%s:%d: continuation line without a setting, ignored\n", path, lineno);
			continue;
		}
		if ((eq = strchr(line.data, '=')) == NULL) {
			printf("%s:%d: not a \"name = value\" line, ignored\n", path, lineno);
			continue;
		}
		*eq = 0;
		name = str_trim(line.data);
		value = str_trim(eq + 1);
		for (i = 0; i < count && strcmp(s[i].name, name) != 0; i++)
			;
		if (i == count) {
			s = xreallocarray(s, count + 1, sizeof(*s));
			s[count].name = xstrdup(name);
			s[count++].value = NULL;
		}
		free(s[i].value);
		s[i].value = xstrdup(value);
		s[i].line = lineno;
	}
	buf_deinit(&line);
	*settings_r = s;
	return count;
}

void pf_settings_free(struct pf_setting **settings, size_t count)
{
	for (size_t i = 0; *settings && i < count; i++) {
		free((*settings)[i].name);
		free((*settings)[i].value);
	}
	free(*settings);
	*settings = NULL;
}

/* expand - $name and ${name} from the settings, depth-limited */
static void expand(struct buf *out, const struct pf_setting *s, size_t count, const char *v,
		   int depth)
{
	while (*v) {
		const char *start, *end;
		size_t n;

		if (*v != '$' || depth > 10) {
			buf_putc(out, *v++);
			continue;
		}
		start = v + 1;
		if (*start == '{' || *start == '(') {
			end = strchr(start, *start == '{' ? '}' : ')');
			if (end == NULL) {
				buf_puts(out, v);
				return;
			}
			start++;
			n = (size_t)(end - start);
			v = end + 1;
		} else {
			for (end = start; *end == '_' || (*end >= 'a' && *end <= 'z')
			     || (*end >= 'A' && *end <= 'Z') || (*end >= '0' && *end <= '9'); end++)
				;
			n = (size_t)(end - start);
			v = end;
		}
		for (size_t i = 0; i < count; i++)
			if (strlen(s[i].name) == n && strncmp(s[i].name, start, n) == 0)
				expand(out, s, count, s[i].value, depth + 1);
	}
}

/* pf_setting_value - a setting, expanded, or def */
char *pf_setting_value(const struct pf_setting *s, size_t count, const char *name,
		       const char *def)
{
	struct buf out;
	char *value;

	for (size_t i = 0; i < count; i++) {
		if (strcmp(s[i].name, name) == 0) {
			buf_init(&out, 128);
			expand(&out, s, count, s[i].value, 0);
			value = buf_steal(&out);
			buf_deinit(&out);
			return value;
		}
	}
	return xstrdup(def);
}

/* supported - may sluice's main.cf take name? NULL yes, else why not */
static const char *supported(const char *name)
{
	const struct param_def *row = params_find(name);
	size_t tlen;

	if (in_list(install_specific, name))
		return "install-specific (sluice keeps its own)";
	if (row == NULL)
		row = params_split_transport(name, &tlen);
	if (row == NULL)
		return "not supported by sluice";
	if (row->flags & PARAM_F_UNSUPPORTED)
		return "not supported by sluice";
	if (row->flags & PARAM_F_OBSOLETE)
		return "ignored by sluice";
	return NULL;
}

/* pf_import_main_cf - settings into sluice's main.cf */
long pf_import_main_cf(const char *pf_path, const struct pf_setting *s, size_t count,
		       const char *sluice_conf_dir, bool dry_run)
{
	long left_out = 0, imported = 0;

	for (size_t i = 0; i < count; i++) {
		const struct param_def *row = params_find(s[i].name);
		const char *why = supported(s[i].name), *err;
		char *assign;

		if (why != NULL) {
			printf("%s:%d: %s: %s, not imported\n", pf_path, s[i].line, s[i].name, why);
			left_out++;
			continue;
		}
		if (row && row->def && strcmp(row->def, s[i].value) == 0)
			continue;	/* sluice's default already */
		if (dry_run) {
			printf("%s:%d: %s: would be imported\n", pf_path, s[i].line, s[i].name);
			imported++;
			continue;
		}
		assign = xasprintf("%s=%s", s[i].name, s[i].value);
		if (mail_conf_edit(sluice_conf_dir, &assign, 1, &err) < 0) {
			printf("%s:%d: %s: value not accepted by sluice (%s), not imported\n",
			       pf_path, s[i].line, s[i].name, err);
			left_out++;
		} else {
			imported++;
		}
		free(assign);
	}
	printf("main.cf: %ld setting%s imported, %ld not imported\n", imported,
	       imported == 1 ? "" : "s", left_out);
	return left_out;
}

/* ---- master.cf ---- */

/* filter_args - ent's arguments with the -o settings sluice would refuse
 * dropped (each reported); the kept ones appended to out */
static long filter_args(const char *path, const struct master_ent *e, struct argv *out)
{
	long left_out = 0;

	for (size_t a = 0; a < e->args->argc; a++) {
		const char *arg = e->args->argv[a];

		if (strcmp(arg, "-o") == 0 && a + 1 < e->args->argc
		    && strchr(e->args->argv[a + 1], '=') != NULL) {
			const char *nv = e->args->argv[++a];
			char *name = xstrndup(nv, (size_t)(strchr(nv, '=') - nv));
			const char *why = supported(str_trim(name));

			if (why != NULL) {
				printf("%s:%d: %s: -o %s: %s, not imported\n", path, e->line,
				       e->service, name, why);
				left_out++;
			} else {
				argv_add(out, "-o", nv, (char *)NULL);
			}
			free(name);
			continue;
		}
		argv_add(out, arg, (char *)NULL);
	}
	return left_out;
}

/* print_ent - one entry with replaced fields and arguments */
static void print_ent(struct buf *out, const struct master_ent *base, const char *wakeup,
		      const char *maxproc, struct argv *args)
{
	struct master_ent e = *base;
	struct argv *overrides = argv_create();

	/* The options are the -o pairs filter_args kept, in their order. */
	for (size_t a = 0; a + 1 < args->argc; a++)
		if (strcmp(args->argv[a], "-o") == 0 && strchr(args->argv[a + 1], '=') != NULL)
			argv_add(overrides, args->argv[++a], (char *)NULL);
	e.fields[3] = (char *)wakeup;
	e.fields[4] = (char *)maxproc;
	e.args = args;
	e.overrides = overrides;
	master_cf_print(out, &e, 1);
	argv_free(&overrides);
}

/* write_file - replace path atomically with text */
static int write_file(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.import.%ld", path, (long)getpid());
	size_t len = strlen(text);
	int fd, rc = -1;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		goto out;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		goto out;
	}
	rc = fsync_parent(path);
out:
	free(tmp);
	return rc;
}

/* pf_import_master_cf - services into sluice's master.cf */
long pf_import_master_cf(const char *pf_conf_dir, const char *sluice_conf_dir, bool dry_run)
{
	struct master_ent *pf = NULL, *sl = NULL;
	size_t pf_n = 0, sl_n = 0;
	char *pf_path = xasprintf("%s/master.cf", pf_conf_dir), *text = NULL, *path = NULL;
	const char *err;
	bool *taken = NULL;
	struct buf out;
	long left_out = 0, imported = 0, rc = -1;

	buf_init(&out, 4096);
	if (conf_file_read(pf_path, &text) < 0) {
		cli_error(EX_NOINPUT, "read %s: %s", pf_path, strerror(errno));
		goto out;
	}
	if (master_cf_parse(pf_path, text, &pf, &pf_n, &err) < 0) {
		cli_error(EX_DATAERR, "%s", err);
		goto out;
	}
	if (master_cf_read(sluice_conf_dir, &sl, &sl_n, &err) < 0) {
		cli_error(EX_CONFIG, "%s", err);
		goto out;
	}
	taken = xcalloc(pf_n + 1, sizeof(*taken));

	/* Sluice's services, with Postfix's settings for those both have. */
	for (size_t i = 0; i < sl_n; i++) {
		const struct master_ent *p = NULL;
		size_t j;

		/* The same service running the same program (the type may
		 * differ: sluice's pickup and qmgr listen on FIFOs). */
		for (j = 0; j < pf_n && p == NULL; j++)
			if (strcmp(pf[j].service, sl[i].service) == 0
			    && (strcmp(pf[j].command, sl[i].command) == 0
				|| (strcmp(pf[j].command, "oqmgr") == 0
				    && strcmp(sl[i].command, "qmgr") == 0)))
				p = &pf[j];
		if (p == NULL) {
			master_cf_print(&out, &sl[i], 1);
			continue;
		}
		taken[j - 1] = true;
		struct argv *args = argv_create();

		left_out += filter_args(pf_path, p, args);
		print_ent(&out, &sl[i], p->fields[3], p->fields[4], args);
		argv_free(&args);
		imported++;
	}
	/* Postfix's other services, when sluice has their program. */
	for (size_t j = 0; j < pf_n; j++) {
		const char *cmd = strcmp(pf[j].command, "oqmgr") == 0 ? "qmgr" : pf[j].command;

		if (taken[j])
			continue;
		if (!in_list(sluice_programs, cmd)) {
			printf("%s:%d: %s/%s: program \"%s\" not supported by sluice, not imported\n",
			       pf_path, pf[j].line, pf[j].service, pf[j].type, pf[j].command);
			left_out++;
			continue;
		}
		if (master_cf_find(sl, sl_n, pf[j].service, NULL) != NULL) {
			printf("%s:%d: %s/%s: sluice's %s service runs another program; "
			       "sluice's kept, not imported\n", pf_path, pf[j].line,
			       pf[j].service, pf[j].type, pf[j].service);
			left_out++;
			continue;
		}
		struct argv *args = argv_create();
		struct master_ent e = pf[j];

		left_out += filter_args(pf_path, &pf[j], args);
		e.command = (char *)cmd;
		print_ent(&out, &e, pf[j].fields[3], pf[j].fields[4], args);
		argv_free(&args);
		imported++;
	}

	/* What is written must read back. */
	{
		struct master_ent *check = NULL;
		size_t check_n = 0;

		path = xasprintf("%s/master.cf", sluice_conf_dir);
		if (master_cf_parse(path, out.data, &check, &check_n, &err) < 0) {
			cli_error(EX_SOFTWARE, "the new master.cf would not read back: %s", err);
			goto out;
		}
		master_cf_free(&check, check_n);
	}
	if (!dry_run && write_file(path, out.data) < 0) {
		cli_error(EX_IOERR, "write %s: %s", path, strerror(errno));
		goto out;
	}
	printf("master.cf: %ld service%s imported, %ld setting%s not imported\n", imported,
	       imported == 1 ? "" : "s", left_out, left_out == 1 ? "" : "s");
	rc = left_out;
out:
	master_cf_free(&pf, pf_n);
	master_cf_free(&sl, sl_n);
	free(taken);
	free(text);
	free(path);
	free(pf_path);
	buf_deinit(&out);
	return rc;
}
