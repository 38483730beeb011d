/*
 * cmd_import_postfix - take over from a stopped Postfix (see
 * cmd_import_postfix.h and docs/IMPORT.md).
 *
 * The queue.  Each complete file of Postfix's maildrop, incoming, active,
 * deferred and hold folders (hash subfolders included) is read whole and
 * parsed (pf_queue.c); a file that does not parse is reported and left
 * alone.  It becomes one sluice queue file, written with the queue-file
 * writer (qf_create/qf_commit: temporary name, fsync, rename), so the
 * original headers, envelope, DSN data and arrival time are kept:
 *
 *   Postfix maildrop/  -> sluice maildrop/ (0744, owner kept): pickup runs
 *                         it through cleanup, as Postfix's pickup would
 *   incoming/, active/ -> incoming/
 *   deferred/          -> deferred/, with Postfix's time stamp (the next
 *                         attempt) and its defer log as sluice's defer/ log
 *   hold/              -> hold/, defer log too
 *
 * Only the recipients Postfix had not finished (R records) are written;
 * done (D) and cancelled ones are left out, so nothing is delivered twice,
 * and a file with none is skipped.  The force-expire mode bit is kept.
 *
 * Once only.  The sluice ID is made from the Postfix file's arrival time
 * (T record, seconds and microseconds) and inode number, so the same
 * message always maps to the same ID; qf_commit() refuses to replace a
 * file, the ID is looked for in every sluice folder first, and each import
 * is recorded in queue_directory/postfix-import.log ("SLUICE_ID
 * QUEUE/POSTFIX_ID"), so a message sluice already delivered is not
 * imported again either.  Postfix's files are only read: the user removes
 * them (or the whole Postfix queue) once satisfied.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_import_postfix.h"
#include "cmd_queue.h"
#include "cmd_start.h"
#include "global/conf_line.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/status_log.h"
#include "pf_queue.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define IMPORT_LOG	"postfix-import.log"
#define PF_FILE_MAX	(1L << 30)

struct import_ctx {
	const char *queue_dir;		/* sluice's */
	const char *pf_queue_dir;	/* Postfix's */
	bool dry_run;
	struct htable *done;		/* sluice IDs in the import log */
	struct htable *pf_defer;	/* Postfix defer log name -> path */
	struct htable *pf_bounce;	/* Postfix bounce log name -> path */
	uid_t owner_uid;		/* mail_owner, for the files written */
	gid_t owner_gid;
	bool have_owner;
	long imported, skipped, failed;
};

/* ---- helpers ---- */

/* read_whole - a file's bytes; 0 or -1 (errno) */
static int read_whole(const char *path, struct buf *out, struct stat *st_r)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, st_r) < 0 || !S_ISREG(st_r->st_mode) || st_r->st_size > PF_FILE_MAX) {
		if (errno == 0 || S_ISREG(st_r->st_mode) || !S_ISREG(st_r->st_mode))
			errno = EINVAL;
		close(fd);
		return -1;
	}
	buf_reset(out);
	buf_reserve(out, (size_t)st_r->st_size + 1);
	while ((n = read(fd, out->data + out->len, out->cap - out->len - 1)) > 0) {
		out->len += (size_t)n;
		out->data[out->len] = 0;
		if (out->len + 1 >= out->cap)
			buf_reserve(out, 65536);
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

/* walk - every file below dir (one-character hash folders included) into
 * names (base names) with their paths */
static void walk(const char *dir, int depth, struct argv *names, struct argv *paths)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *path;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode) && strlen(de->d_name) == 1 && depth < 4)
				walk(path, depth + 1, names, paths);
			else if (S_ISREG(st.st_mode))
				argv_add(names, de->d_name, (char *)NULL), argv_add(paths, path, (char *)NULL);
		}
		free(path);
	}
	closedir(d);
}

/* index_logs - name -> path of every Postfix status log of one kind */
static struct htable *index_logs(const char *pf_queue_dir, const char *kind)
{
	struct argv *names = argv_create(), *paths = argv_create();
	struct htable *t;
	char *dir = xasprintf("%s/%s", pf_queue_dir, kind);

	walk(dir, 0, names, paths);
	t = htable_create(names->argc + 1);
	for (size_t i = 0; i < names->argc; i++)
		if (htable_find(t, names->argv[i]) == NULL)
			htable_enter(t, names->argv[i], xstrdup(paths->argv[i]));
	argv_free(&names);
	argv_free(&paths);
	free(dir);
	return t;
}

/* load_import_log - the sluice IDs imported before */
static struct htable *load_import_log(const char *queue_dir)
{
	struct htable *t = htable_create(1024);
	char *path = xasprintf("%s/%s", queue_dir, IMPORT_LOG);
	FILE *fp = fopen(path, "r");
	char line[512];

	if (fp != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			char *sp = strchr(line, ' ');

			if (sp)
				*sp = 0;
			if (queue_id_valid(line) && htable_find(t, line) == NULL)
				htable_enter(t, line, (void *)1);
		}
		fclose(fp);
	}
	free(path);
	return t;
}

/* record_import - append "SLUICE_ID QUEUE/PFID" durably */
static int record_import(struct import_ctx *c, const char *id, const char *queue,
			 const char *pfid)
{
	char *path = xasprintf("%s/%s", c->queue_dir, IMPORT_LOG);
	char *line = xasprintf("%s %s/%s\n", id, queue, pfid);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc = -1;

	if (fd >= 0) {
		if (write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0)
			rc = 0;
		close(fd);
	}
	if (rc == 0 && htable_find(c->done, id) == NULL)
		htable_enter(c->done, id, (void *)1);
	free(path);
	free(line);
	return rc;
}

/* in_sluice_queue - does any sluice folder hold id? */
static bool in_sluice_queue(const char *queue_dir, const char *id)
{
	static const char *const queues[] = {
		"maildrop", "incoming", "active", "deferred", "hold", "corrupt", NULL
	};
	struct stat st;
	bool found = false;

	for (const char *const *q = queues; *q && !found; q++) {
		char *path = queue_path(queue_dir, *q, id);

		found = lstat(path, &st) == 0;
		free(path);
	}
	return found;
}

/* ---- one message ---- */

/* copy_defer_log - Postfix's delay reasons for the recipients written */
static long copy_defer_log(struct import_ctx *c, const char *pfid, const char *id,
			   const char *sluice_path, const struct pf_msg *m)
{
	const char *log_path = htable_find(c->pf_defer, pfid), *err;
	struct pf_defer *recs = NULL;
	struct qf_rcpt *rcpts = NULL;
	struct stat st;
	struct buf text;
	struct qf *q = NULL;
	bool corrupt;
	long copied = 0, off = 0, n = 0;
	size_t nrecs = 0, pending = 0;

	if (log_path == NULL)
		return 0;
	buf_init(&text, 4096);
	if (read_whole(log_path, &text, &st) < 0) {
		msg_warn("%s: read %s: %s; delay reasons not imported", pfid, log_path,
			 strerror(errno));
		goto out;
	}
	if ((nrecs = pf_defer_parse(text.data, text.len, &recs)) == 0)
		goto out;
	/* The offsets of the recipients as written, in the same order. */
	for (size_t i = 0; i < m->rcpt_count; i++)
		pending += !m->rcpts[i].done;
	rcpts = xcalloc(pending + 1, sizeof(*rcpts));
	if ((q = qf_open(sluice_path, false, &corrupt, &err)) == NULL
	    || (n = qf_read_rcpts(q, &off, rcpts, pending + 1, true, &err)) != (long)pending) {
		msg_warn("%s: read back %s: %s; delay reasons not imported", pfid, sluice_path,
			 q == NULL || n < 0 ? err : "recipient count differs");
		if (n > 0)
			for (long i = 0; i < n; i++)
				qf_rcpt_deinit(&rcpts[i]);
		n = 0;
		goto out;
	}
	for (size_t r = 0; r < nrecs; r++) {
		const struct pf_defer *d = &recs[r];
		long k = 0, at = -1;

		/* The same recipient record (offset), else the same address. */
		for (size_t i = 0; i < m->rcpt_count && at < 0; i++) {
			if (m->rcpts[i].done)
				continue;
			if (m->rcpts[i].offset == d->offset
			    && strcmp(m->rcpts[i].address, d->recipient) == 0)
				at = k;
			k++;
		}
		for (size_t i = 0, k2 = 0; i < m->rcpt_count && at < 0; i++) {
			if (m->rcpts[i].done)
				continue;
			if (strcmp(m->rcpts[i].address, d->recipient) == 0)
				at = (long)k2;
			k2++;
		}
		if (at < 0)
			continue;	/* a recipient that is done by now */

		struct rcpt_status s = {
			.recipient = rcpts[at].address,
			.orig_rcpt = rcpts[at].orig_rcpt,
			.offset = rcpts[at].offset,
			.dsn_orcpt = rcpts[at].dsn_orcpt,
			.notify = rcpts[at].notify,
			.time = (double)st.st_mtime,
		};
		snprintf(s.dsn.status, sizeof(s.dsn.status), "%s",
			 *d->status ? d->status : "4.0.0");
		s.dsn.action = *d->action ? d->action : "delayed";
		s.dsn.reason = d->reason;
		s.dsn.mta = d->mta_name;
		s.dsn.diag_type = d->diag_type;
		s.dsn.diag_text = d->diag_text;
		if (status_log_append(c->queue_dir, STATUS_LOG_DEFER, id, &s, &err) < 0)
			msg_warn("%s: %s; a delay reason not imported", pfid, err);
		else
			copied++;
	}
out:
	for (long i = 0; i < n; i++)
		qf_rcpt_deinit(&rcpts[i]);
	free(rcpts);
	qf_close(&q);
	pf_defer_free(&recs, nrecs);
	buf_deinit(&text);
	return copied;
}

/* unsent_bounces - recipients of Postfix's bounce log (their report was
 * not sent yet): counted and reported, not imported */
static size_t unsent_bounces(struct import_ctx *c, const char *pfid)
{
	const char *log_path = htable_find(c->pf_bounce, pfid);
	struct pf_defer *recs = NULL;
	struct buf text;
	struct stat st;
	size_t n = 0;

	if (log_path == NULL)
		return 0;
	buf_init(&text, 4096);
	if (read_whole(log_path, &text, &st) == 0)
		n = pf_defer_parse(text.data, text.len, &recs);
	pf_defer_free(&recs, n);
	buf_deinit(&text);
	return n;
}

/* write_message - the sluice queue file; 0, or -1 (reported), 1 when the
 * ID exists already */
static int write_message(struct import_ctx *c, const char *pfid, const struct pf_msg *m,
			 const char *target, const char *id, const struct stat *st)
{
	bool maildrop = strcmp(target, "maildrop") == 0;
	struct qf_envelope env = {0};
	struct argv *attrs = argv_create();
	struct qf_writer *w;
	char got[QUEUE_ID_SIZE];
	const char *err;

	env.arrival_time = (double)m->arrival_sec + (double)m->arrival_usec / 1e6;
	env.sender = m->sender;
	env.envid = m->envid;
	env.ret = m->ret;
	if (maildrop) {
		/* A submission: pickup allows the full name and nothing else. */
		if (*m->full_name) {
			char *a = xasprintf("full_name=%s", m->full_name);

			argv_add(attrs, a, (char *)NULL);
			free(a);
		}
	} else {
		char *a = xasprintf("postfix_queue_id=%s", pfid);

		env.warn_time = m->warn_time > 0 ? m->warn_time : 0;
		for (size_t i = 0; i < m->attrs->argc; i++)
			argv_add(attrs, m->attrs->argv[i], (char *)NULL);
		argv_add(attrs, a, (char *)NULL);
		free(a);
	}
	env.attrs = attrs->argv;
	if ((w = qf_create(c->queue_dir, target, &err)) == NULL) {
		argv_free(&attrs);
		printf("postfix %s: %s; not imported\n", pfid, err);
		return -1;
	}
	qf_put_envelope(w, &env);
	for (size_t at = 0; at < m->content.len; at += QF_CHUNK_SIZE) {
		size_t n = m->content.len - at < QF_CHUNK_SIZE ? m->content.len - at : QF_CHUNK_SIZE;

		qf_put_content(w, m->content.data + at, n);
	}
	if (m->content.len == 0)
		qf_put_content(w, "", 0);
	for (size_t i = 0; i < m->rcpt_count; i++)
		if (!m->rcpts[i].done)
			qf_add_rcpt(w, m->rcpts[i].address, m->rcpts[i].orig_rcpt,
				    m->rcpts[i].dsn_orcpt, m->rcpts[i].notify);
	qf_set_id(w, id);
	argv_free(&attrs);
	if (qf_commit(&w, got, &err) < 0) {
		if (errno == EEXIST || in_sluice_queue(c->queue_dir, id))
			return 1;
		printf("postfix %s: %s; not imported\n", pfid, err);
		return -1;
	}
	/* Owner: the submitter for maildrop (pickup logs uid=), else mail_owner. */
	{
		char *path = queue_path(c->queue_dir, target, id);

		if (maildrop) {
			if (chown(path, st->st_uid, (gid_t)-1) < 0)
				msg_warn("chown %s: %s", path, strerror(errno));
		} else if (c->have_owner && chown(path, c->owner_uid, c->owner_gid) < 0) {
			msg_warn("chown %s: %s", path, strerror(errno));
		}
		free(path);
	}
	return 0;
}

/* import_one - one Postfix file */
static void import_one(struct import_ctx *c, const char *pf_queue, const char *pfid,
		       const char *pf_path)
{
	const char *target = strcmp(pf_queue, "maildrop") == 0 ? "maildrop"
		: strcmp(pf_queue, "deferred") == 0 ? "deferred"
		: strcmp(pf_queue, "hold") == 0 ? "hold" : "incoming";
	char id[QUEUE_ID_SIZE];
	struct pf_msg m;
	struct stat st;
	struct buf data;
	const char *err;
	size_t pending = 0, done = 0, bounced;
	long reasons = 0;
	int rc;

	buf_init(&data, 8192);
	if (read_whole(pf_path, &data, &st) < 0) {
		printf("postfix %s/%s: read %s: %s; not imported\n", pf_queue, pfid, pf_path,
		       strerror(errno));
		c->failed++;
		buf_deinit(&data);
		return;
	}
	if ((st.st_mode & 0700) != 0700) {
		/* Still being written when Postfix stopped: never accepted. */
		printf("postfix %s/%s: incomplete file (mode 0%o), not imported\n", pf_queue,
		       pfid, (unsigned)(st.st_mode & 07777));
		c->skipped++;
		buf_deinit(&data);
		return;
	}
	if (pf_msg_parse(data.data, data.len, &m, &err) < 0) {
		printf("postfix %s/%s: %s; not imported\n", pf_queue, pfid, err);
		c->failed++;
		buf_deinit(&data);
		return;
	}
	buf_deinit(&data);
	for (size_t i = 0; i < m.rcpt_count; i++) {
		pending += !m.rcpts[i].done;
		done += m.rcpts[i].done;
	}
	queue_id_format(id, m.arrival_sec, m.arrival_usec, (unsigned long)st.st_ino);
	if (pending == 0) {
		printf("postfix %s/%s: every recipient done, nothing to import\n", pf_queue, pfid);
		c->skipped++;
		goto out;
	}
	if (htable_find(c->done, id) != NULL || in_sluice_queue(c->queue_dir, id)) {
		printf("postfix %s/%s: already imported as %s\n", pf_queue, pfid, id);
		c->skipped++;
		goto out;
	}
	for (size_t i = 0; i < m.dropped->argc; i++)
		printf("postfix %s/%s: %s: not supported by sluice, not imported\n", pf_queue,
		       pfid, m.dropped->argv[i]);
	if ((bounced = unsent_bounces(c, pfid)) > 0)
		printf("postfix %s/%s: %zu bounced recipient%s whose report Postfix had not "
		       "sent: report not imported\n", pf_queue, pfid, bounced,
		       bounced == 1 ? "" : "s");
	if (c->dry_run) {
		printf("postfix %s/%s: would be imported as %s into %s/ (%zu recipient%s)\n",
		       pf_queue, pfid, id, target, pending, pending == 1 ? "" : "s");
		c->imported++;
		goto out;
	}
	if ((rc = write_message(c, pfid, &m, target, id, &st)) < 0) {
		c->failed++;
		goto out;
	}
	if (rc > 0) {
		printf("postfix %s/%s: already imported as %s\n", pf_queue, pfid, id);
		c->skipped++;
		goto out;
	}
	if (strcmp(target, "maildrop") != 0) {
		char *path = queue_path(c->queue_dir, target, id);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};

		reasons = copy_defer_log(c, pfid, id, path, &m);
		/* Postfix's time stamp: when a deferred message is due. */
		if (strcmp(target, "deferred") == 0 && utimensat(AT_FDCWD, path, ts, 0) < 0)
			msg_warn("set time of %s: %s", path, strerror(errno));
		if ((st.st_mode & QF_MODE_EXPIRE)
		    && chmod(path, QF_MODE_READY | QF_MODE_EXPIRE) < 0)
			msg_warn("chmod %s: %s", path, strerror(errno));
		free(path);
	}
	if (record_import(c, id, pf_queue, pfid) < 0)
		msg_warn("%s/%s: cannot record the import: %s", c->queue_dir, IMPORT_LOG,
			 strerror(errno));
	printf("postfix %s/%s: imported as %s into %s/ (%zu recipient%s", pf_queue, pfid, id,
	       target, pending, pending == 1 ? "" : "s");
	if (done)
		printf(", %zu done left out", done);
	if (reasons)
		printf(", %ld delay reason%s", reasons, reasons == 1 ? "" : "s");
	if (st.st_mode & QF_MODE_EXPIRE)
		printf(", force-expired");
	printf(")\n");
	c->imported++;
out:
	pf_msg_deinit(&m);
}

/* import_queue - every file of one Postfix folder */
static void import_queue(struct import_ctx *c, const char *pf_queue)
{
	struct argv *names = argv_create(), *paths = argv_create();
	char *dir = xasprintf("%s/%s", c->pf_queue_dir, pf_queue);

	walk(dir, 0, names, paths);
	for (size_t i = 0; i < names->argc; i++) {
		const char *n = names->argv[i];

		/* Postfix IDs are letters and digits; anything else is not mail. */
		if (n[strspn(n, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")])
			continue;
		import_one(c, pf_queue, n, paths->argv[i]);
	}
	argv_free(&names);
	argv_free(&paths);
	free(dir);
}

/* ---- the command ---- */

/* postfix_running - does a Postfix master run for that queue? */
static long postfix_running(const char *pf_queue_dir)
{
	char *path = xasprintf("%s/pid/master.pid", pf_queue_dir);
	FILE *fp = fopen(path, "r");
	long pid = 0;

	free(path);
	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1 || pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		pid = 0;
	fclose(fp);
	if (pid > 0) {
		/* A stale pid file whose number another program now has. */
		char comm[64] = "";
		char *cpath = xasprintf("/proc/%ld/comm", pid);
		FILE *cf = fopen(cpath, "r");

		if (cf) {
			if (fgets(comm, sizeof(comm), cf) == NULL)
				comm[0] = 0;
			fclose(cf);
			if (strncmp(comm, "master", 6) != 0)
				pid = 0;
		}
		free(cpath);
	}
	return pid;
}

static int usage(void)
{
	return cli_usage("import-postfix [-c postfix_config_dir] [-n] [-q | -m]", NULL);
}

/* cmd_import_postfix - the command */
int cmd_import_postfix(const char *config_dir, int argc, char **argv)
{
	const char *pf_conf = "/etc/postfix", *queue_dir, *conf_dir;
	bool dry_run = false, queue_only = false, config_only = false;
	struct pf_setting *settings = NULL;
	size_t nsettings = 0;
	char *text = NULL, *main_path, *pf_queue_dir = NULL;
	struct import_ctx c;
	long pid, rc;
	int status = EX_OK;

	cli_command_set(argv[0]);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			pf_conf = argv[++i];
		else if (strcmp(argv[i], "-n") == 0)
			dry_run = true;
		else if (strcmp(argv[i], "-q") == 0)
			queue_only = true;
		else if (strcmp(argv[i], "-m") == 0)
			config_only = true;
		else
			return usage();
	}
	if (queue_only && config_only)
		return usage();
	if ((rc = cmd_queue_setup(config_dir, &queue_dir)) != 0)
		return (int)rc;
	if ((conf_dir = mail_conf_dir()) == NULL)
		return cli_error(EX_CONFIG, "no sluice configuration directory: use "
				"sluice -c DIR import-postfix");
	if ((pid = master_running(queue_dir)) != 0)
		return cli_error(EX_TEMPFAIL, "sluice is running (master pid %ld): stop it "
				"with \"sluice stop\" before importing", pid);

	main_path = xasprintf("%s/main.cf", pf_conf);
	if (conf_file_read(main_path, &text) < 0) {
		rc = cli_error(EX_CONFIG, "read %s: %s", main_path, strerror(errno));
		free(main_path);
		return (int)rc;
	}
	nsettings = pf_main_cf_parse(main_path, text, &settings);
	free(text);
	pf_queue_dir = pf_setting_value(settings, nsettings, "queue_directory",
					"/var/spool/postfix");
	if ((pid = postfix_running(pf_queue_dir)) != 0) {
		status = cli_error(EX_TEMPFAIL, "Postfix is running (master pid %ld, queue %s): "
				  "stop it with \"postfix -c %s stop\" before importing", pid,
				  pf_queue_dir, pf_conf);
		goto out;
	}

	/* The configuration, so that the queue import sees sluice's new one. */
	if (!queue_only) {
		if ((rc = pf_import_main_cf(main_path, settings, nsettings, conf_dir, dry_run)) < 0)
			status = CLI_EX_FAIL;
		if (pf_import_master_cf(pf_conf, conf_dir, dry_run) < 0)
			status = CLI_EX_FAIL;
	}
	if (config_only)
		goto out;
	if (!dry_run && (rc = cmd_queue_setup(config_dir, &queue_dir)) != 0) {
		status = (int)rc;
		goto out;
	}
	{
		const char *err;

		if (!dry_run && queue_dirs_create(queue_dir, &err) < 0) {
			status = cli_error(EX_IOERR, "queue_directory %s: %s", queue_dir, err);
			goto out;
		}
	}
	memset(&c, 0, sizeof(c));
	c.queue_dir = queue_dir;
	c.pf_queue_dir = pf_queue_dir;
	c.dry_run = dry_run;
	c.done = load_import_log(queue_dir);
	c.pf_defer = index_logs(pf_queue_dir, "defer");
	c.pf_bounce = index_logs(pf_queue_dir, "bounce");
	if (geteuid() == 0 && var_mail_owner && *var_mail_owner) {
		struct passwd *pw = getpwnam(var_mail_owner);

		if (pw && pw->pw_uid != 0) {
			c.owner_uid = pw->pw_uid;
			c.owner_gid = pw->pw_gid;
			c.have_owner = true;
		}
	}
	signal(SIGXFSZ, SIG_IGN);
	{
		static const char *const pf_queues[] = {
			"maildrop", "incoming", "active", "deferred", "hold", NULL
		};

		for (const char *const *q = pf_queues; *q; q++)
			import_queue(&c, *q);
	}
	printf("queue: %ld message%s %simported, %ld skipped, %ld not imported\n",
	       c.imported, c.imported == 1 ? "" : "s", dry_run ? "would be " : "", c.skipped,
	       c.failed);
	if (c.failed > 0)
		status = CLI_EX_FAIL;
	htable_free(&c.done, NULL);
	htable_free(&c.pf_defer, free);
	htable_free(&c.pf_bounce, free);
out:
	fflush(stdout);
	pf_settings_free(&settings, nsettings);
	free(pf_queue_dir);
	free(main_path);
	return status;
}
