/*
 * dict_build - atomic builds of indexed tables (contract in dict_build.h).
 *
 * Ownership: the new file gets the source file's permission bits (an
 * aliases file readable by root alone gives a table readable by root
 * alone) and, when we run as root, the source's owner and group, as
 * postmap does by running as the source file's owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/dict_build.h"
#include "global/dict_private.h"
#include "global/table_text.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* dict_load_text - entries of a text source into d */
int dict_load_text(struct dict *d, struct table_text *r, int build_flags, long *count_r,
		   const char **error_r)
{
	struct buf line, name, value;
	const char *why;
	char *key, *val;
	int lineno, rc, status = 0;

	*count_r = 0;
	buf_init(&line, 256);
	buf_init(&name, 64);
	buf_init(&value, 256);
	while ((rc = table_text_next(r, &line, &lineno, error_r)) != 0) {
		if (rc < 0) {
			status = -1;
			break;
		}
		if (build_flags & DICT_BUILD_ALIASES) {
			if (table_text_alias(buf_str(&line), &name, &value, &why) < 0) {
				status = dict_fail(error_r, "%s:%d: %s", r->name, lineno, why);
				break;
			}
			key = buf_str(&name);
			val = buf_str(&value);
		} else if (table_text_kv(buf_str(&line), &key, &val) < 0) {
			status = dict_fail(error_r, "%s:%d: expected format: key whitespace value",
					   r->name, lineno);
			break;
		}
		if ((rc = dict_put(d, key, val, error_r)) == DICT_ERROR) {
			status = -1;
			break;
		}
		if (rc == DICT_NOTFOUND)
			msg_warn("%s:%d: duplicate entry \"%s\" ignored; the first one is used",
				 r->name, lineno, key);
		else
			++*count_r;
	}
	buf_deinit(&line);
	buf_deinit(&name);
	buf_deinit(&value);
	return status;
}

/* fsync_parent - make the rename durable */
static void fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

/* dict_build - text source to indexed file */
int dict_build(const char *spec, int dict_flags, int build_flags, const char **error_r)
{
	const char *colon = strchr(spec, ':');
	char *type, *tmp_spec = NULL, *target = NULL, *tmp = NULL;
	const char *suffix, *source;
	struct table_text r;
	struct dict *d;
	struct stat st;
	long count;
	int status = -1;

	if (colon == NULL)
		return dict_fail(error_r, "%s: missing table type (need type:file, e.g. hash:%s)",
				 spec, spec);
	type = xstrndup(spec, (size_t)(colon - spec));
	suffix = dict_type_suffix(type);
	source = colon + 1;
	if (suffix == NULL || *suffix == 0) {
		/* Nothing to build: check that the table opens. */
		free(type);
		if ((d = dict_open(spec, DICT_READ, dict_flags, error_r)) == NULL)
			return -1;
		dict_close(&d);
		return 0;
	}
	if (table_text_open(&r, source, error_r) < 0) {
		free(type);
		return -1;
	}
	if (fstat(fileno(r.fp), &st) < 0) {
		dict_fail(error_r, "stat %s: %s", source, strerror(errno));
		goto out;
	}
	target = xasprintf("%s%s", source, suffix);
	tmp = xasprintf("%s.tmp.%ld", target, (long)getpid());
	tmp_spec = xasprintf("%s:%s", type, tmp);
	(void)unlink(tmp);	/* a leftover of a crashed build with our pid */
	if ((d = dict_open(tmp_spec, DICT_CREATE, dict_flags, error_r)) == NULL)
		goto out;
	if (dict_load_text(d, &r, build_flags, &count, error_r) == 0
	    && (!(build_flags & DICT_BUILD_ALIASES) || dict_put(d, "@", "@", error_r) != DICT_ERROR)
	    && dict_commit(d, error_r) == 0)
		status = 0;
	dict_close(&d);
	if (status == 0) {
		if (chmod(tmp, st.st_mode & 0666) < 0
		    || (geteuid() == 0 && chown(tmp, st.st_uid, st.st_gid) < 0)) {
			status = dict_fail(error_r, "set the owner of %s: %s", tmp, strerror(errno));
		} else if (rename(tmp, target) < 0) {
			status = dict_fail(error_r, "rename %s to %s: %s", tmp, target,
					   strerror(errno));
		} else {
			fsync_parent(target);
		}
	}
	if (status < 0)
		(void)unlink(tmp);
out:
	table_text_close(&r);
	free(type);
	free(target);
	free(tmp);
	free(tmp_spec);
	return status;
}
