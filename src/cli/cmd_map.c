/*
 * cmd_map - "sluice map" and "sluice aliases": postmap(1) and postalias(1)
 * (contract in cmd_map.h).
 *
 *   sluice map [-f] [-i] [-N|-n] [-q KEY|-] [-s] [-d KEY|-] [TYPE:]FILE...
 *   sluice aliases [same flags] [[TYPE:]FILE...]
 *
 * Without -q, -s, -d or -i: build each FILE.db (.lmdb, .cdb) from FILE,
 * atomically (dict_build.h); for a type that reads its file directly
 * (regexp, pcre, texthash) check that the table opens.  A FILE without a
 * type is hash:FILE (Postfix's default_database_type on Debian).
 *
 *   -q KEY   print the value of KEY from the first table that has it;
 *            exit 0, or 1 when none has it
 *   -q -     keys from standard input, "key<TAB>value" for each one found;
 *            exit 0 when any was found, else 1
 *   -s       every entry: "key<TAB>value" ("key: value" for aliases)
 *   -d KEY   delete KEY (or each key from standard input with -d -): exit
 *            0 when something was deleted, else 1
 *   -i       add entries from standard input, keeping the table's others
 *   -f       keep the case of keys (postmap folds them to lower case)
 *   -N / -n  write keys and values with / without a trailing NUL
 *
 * The aliases form reads aliases(5) syntax and ends a build with postalias's
 * "@" -> "@" entry.  newaliases rebuilds each table of alias_database.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_error.h"
#include "cmd_map.h"
#include "cmd_queue.h"
#include "global/dict.h"
#include "global/dict_build.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "global/table_text.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/mem.h"

#define MAP_USAGE "map [-f] [-i] [-N|-n] [-q KEY|-] [-s] [-d KEY|-] [TYPE:]FILE..."
#define ALIASES_USAGE "aliases [-f] [-i] [-N|-n] [-q KEY|-] [-s] [-d KEY|-] " \
	"[[TYPE:]FILE...]"

struct map_opts {
	bool aliases;
	int dict_flags;
	const char *query;	/* -q */
	const char *delete;	/* -d */
	bool show;		/* -s */
	bool incremental;	/* -i */
};

/* with_type - "hash:FILE" for a bare FILE. Caller frees. */
static char *with_type(const char *arg)
{
	const char *colon = strchr(arg, ':');

	/* A colon after a slash belongs to the path ("./a:b"), not a type. */
	if (colon == NULL || (strchr(arg, '/') != NULL && strchr(arg, '/') < colon))
		return xasprintf("hash:%s", arg);
	return xstrdup(arg);
}

/* open_all - every table, read-only; NULL after a message */
static struct dict **open_all(char **specs, int n, int flags)
{
	struct dict **v = xcalloc((size_t)n, sizeof(*v));
	const char *error;

	for (int i = 0; i < n; i++) {
		char *spec = with_type(specs[i]);

		v[i] = dict_open(spec, DICT_READ, flags, &error);
		free(spec);
		if (v[i] == NULL) {
			cli_error(EX_TEMPFAIL, "%s", error);
			for (int j = 0; j < i; j++)
				dict_close(&v[j]);
			free(v);
			return NULL;
		}
	}
	return v;
}

/* close_all - close what open_all opened */
static void close_all(struct dict **v, int n)
{
	for (int i = 0; i < n; i++)
		dict_close(&v[i]);
	free(v);
}

/* query_one - first table with key: 1 found, 0 not, -1 error (reported) */
static int query_one(struct dict **v, int n, const char *key, const char **value_r)
{
	const char *error;

	for (int i = 0; i < n; i++) {
		switch (dict_get(v[i], key, value_r, &error)) {
		case DICT_FOUND:
			return 1;
		case DICT_ERROR:
			cli_error(EX_TEMPFAIL, "%s: %s", dict_spec(v[i]), error);
			return -1;
		default:
			break;
		}
	}
	return 0;
}

/* strip_newline - a line from stdin without its end */
static void strip_newline(char *line, ssize_t *len)
{
	while (*len > 0 && (line[*len - 1] == '\n' || line[*len - 1] == '\r'))
		line[--*len] = 0;
}

/* do_query - -q KEY or -q - */
static int do_query(const struct map_opts *o, char **specs, int n)
{
	struct dict **v = open_all(specs, n, o->dict_flags);
	const char *value;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc, status = CLI_EX_FAIL;

	if (v == NULL)
		return EX_TEMPFAIL;
	if (strcmp(o->query, "-") != 0) {
		rc = query_one(v, n, o->query, &value);
		if (rc > 0)
			printf("%s\n", value);
		status = rc > 0 ? EX_OK : rc == 0 ? CLI_EX_FAIL : EX_TEMPFAIL;
	} else {
		/* To a pipe or a terminal each answer goes out at once (a program
		 * that asks and waits must get it); to a file, buffered. */
		struct stat st;
		bool each = isatty(STDOUT_FILENO)
			|| (fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode));

		while ((len = getline(&line, &cap, stdin)) >= 0) {
			strip_newline(line, &len);
			if (len == 0)
				continue;
			if ((rc = query_one(v, n, line, &value)) < 0) {
				status = EX_TEMPFAIL;
				break;
			}
			if (rc > 0) {
				printf("%s\t%s\n", line, value);
				status = EX_OK;
				if (each)
					fflush(stdout);
			}
		}
		free(line);
	}
	close_all(v, n);
	if (fflush(stdout) != 0)
		return cli_error(EX_IOERR, "write error on standard output");
	return status;
}

/* do_show - -s */
static int do_show(const struct map_opts *o, char **specs, int n)
{
	struct dict **v = open_all(specs, n, o->dict_flags);
	const char *key, *value, *error;
	int status = EX_OK, rc;

	if (v == NULL)
		return EX_TEMPFAIL;
	for (int i = 0; i < n && status == EX_OK; i++) {
		for (bool first = true; (rc = dict_seq(v[i], first, &key, &value, &error)) == DICT_FOUND;
		     first = false)
			printf(o->aliases ? "%s:\t%s\n" : "%s\t%s\n", key, value);
		if (rc == DICT_ERROR)
			status = cli_error(EX_TEMPFAIL, "%s", error);
	}
	close_all(v, n);
	if (fflush(stdout) != 0)
		return cli_error(EX_IOERR, "write error on standard output");
	return status;
}

/* open_write - one table for in-place updates, made empty when missing */
static struct dict *open_write(const struct map_opts *o, const char *spec_arg, bool create)
{
	char *spec = with_type(spec_arg), *colon = strchr(spec, ':'), *path, *cspec;
	const char *error, *suffix;
	struct dict *d;

	*colon = 0;
	suffix = dict_type_suffix(spec);
	*colon = ':';
	if (create && suffix != NULL && *suffix != 0) {
		/* postmap -i on a table that does not exist yet creates it. */
		path = xasprintf("%s%s", colon + 1, suffix);
		if (access(path, F_OK) != 0) {
			cspec = xasprintf("%.*s:%s", (int)(colon - spec), spec, path);
			bool ok;

			d = dict_open(cspec, DICT_CREATE, o->dict_flags, &error);
			ok = d != NULL && dict_commit(d, &error) == 0;
			dict_close(&d);
			free(cspec);
			if (!ok) {
				free(path);
				free(spec);
				cli_error(EX_TEMPFAIL, "%s", error);
				return NULL;
			}
		}
		free(path);
	}
	d = dict_open(spec, DICT_WRITE, o->dict_flags, &error);
	if (d == NULL)
		cli_error(EX_TEMPFAIL, "%s", error);
	free(spec);
	return d;
}

/* do_delete - -d KEY or -d - */
static int do_delete(const struct map_opts *o, char **specs, int n)
{
	struct argv *keys = argv_create();
	const char *error;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int status = CLI_EX_FAIL, rc;

	if (strcmp(o->delete, "-") == 0) {
		while ((len = getline(&line, &cap, stdin)) >= 0) {
			strip_newline(line, &len);
			if (len > 0)
				argv_add(keys, line, (char *)NULL);
		}
		free(line);
	} else {
		argv_add(keys, o->delete, (char *)NULL);
	}
	for (int i = 0; i < n && status != EX_TEMPFAIL; i++) {
		struct dict *d = open_write(o, specs[i], false);

		if (d == NULL) {
			status = EX_TEMPFAIL;
			break;
		}
		for (size_t k = 0; k < keys->argc; k++) {
			if ((rc = dict_del(d, keys->argv[k], &error)) == DICT_ERROR) {
				status = cli_error(EX_TEMPFAIL, "%s", error);
				break;
			}
			if (rc == DICT_FOUND)
				status = EX_OK;
		}
		if (status != EX_TEMPFAIL && dict_commit(d, &error) < 0)
			status = cli_error(EX_TEMPFAIL, "%s", error);
		dict_close(&d);
	}
	argv_free(&keys);
	return status;
}

/* do_incremental - -i: entries from stdin */
static int do_incremental(const struct map_opts *o, char **specs, int n)
{
	struct table_text r;
	struct dict *d;
	const char *error;
	long count;
	int status = EX_OK;

	if (n != 1)
		return cli_error(EX_USAGE, "-i takes one table");
	if ((d = open_write(o, specs[0], true)) == NULL)
		return EX_TEMPFAIL;
	table_text_open_fp(&r, stdin, "standard input");
	if (dict_load_text(d, &r, o->aliases ? DICT_BUILD_ALIASES : 0, &count, &error) < 0
	    || dict_commit(d, &error) < 0)
		status = cli_error(EX_TEMPFAIL, "%s", error);
	table_text_close(&r);
	dict_close(&d);
	return status;
}

/* do_build - rebuild each table */
static int do_build(const struct map_opts *o, char **specs, int n)
{
	const char *error;

	for (int i = 0; i < n; i++) {
		char *spec = with_type(specs[i]);
		int rc = dict_build(spec, o->dict_flags, o->aliases ? DICT_BUILD_ALIASES : 0, &error);

		free(spec);
		if (rc < 0)
			return cli_error(EX_TEMPFAIL, "%s", error);
	}
	return EX_OK;
}

/* parse - the flags; an exit status, or -1 to go on */
static int parse(int argc, char **argv, struct map_opts *o, const char *usage)
{
	int ch, modes = 0;

	optind = 0;
	opterr = 0;
	while ((ch = getopt(argc, argv, "+d:fiNnq:sv")) != -1) {
		switch (ch) {
		case 'd':
			o->delete = optarg;
			modes++;
			break;
		case 'f':
			o->dict_flags |= DICT_FLAG_NOFOLD;
			break;
		case 'i':
			o->incremental = true;
			modes++;
			break;
		case 'N':
			o->dict_flags = (o->dict_flags & ~DICT_FLAG_NO_NUL) | DICT_FLAG_NUL;
			break;
		case 'n':
			o->dict_flags = (o->dict_flags & ~DICT_FLAG_NUL) | DICT_FLAG_NO_NUL;
			break;
		case 'q':
			o->query = optarg;
			modes++;
			break;
		case 's':
			o->show = true;
			modes++;
			break;
		case 'v':
			break;
		default:
			return cli_usage(usage, "%s -%c", optopt && strchr("dq", optopt)
					 ? "option needs a value:" : "unknown option", optopt);
		}
	}
	if (modes > 1) {
		return cli_usage(usage, "-q, -s, -d and -i do not go together");
	}
	return -1;
}

/* run - dispatch on the mode */
static int run(const struct map_opts *o, char **specs, int n)
{
	if (o->query)
		return do_query(o, specs, n);
	if (o->show)
		return do_show(o, specs, n);
	if (o->delete)
		return do_delete(o, specs, n);
	if (o->incremental)
		return do_incremental(o, specs, n);
	return do_build(o, specs, n);
}

/* cmd_map - postmap */
int cmd_map(const char *config_dir, int argc, char **argv)
{
	struct map_opts o = {0};
	int rc;

	cli_command_set(argv[0]);
	if ((rc = parse(argc, argv, &o, MAP_USAGE)) >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage(MAP_USAGE, NULL);
	return run(&o, argv + optind, argc - optind);
}

/* alias_database_tables - the tables of alias_database; NULL after a message */
static struct argv *alias_database_tables(const char *config_dir)
{
	const char *error;

	if (mail_conf_read(config_dir, &error) < 0) {
		cli_error(EX_CONFIG, "%s", error);
		return NULL;
	}
	return argv_split(var_alias_database, ", \t\r\n");
}

/* cmd_aliases - postalias */
int cmd_aliases(const char *config_dir, int argc, char **argv)
{
	struct map_opts o = {.aliases = true};
	struct argv *tables;
	int rc;

	cli_command_set(argv[0]);
	if ((rc = parse(argc, argv, &o, ALIASES_USAGE)) >= 0)
		return rc;
	if (optind < argc)
		return run(&o, argv + optind, argc - optind);
	if ((tables = alias_database_tables(config_dir)) == NULL)
		return EX_CONFIG;
	rc = tables->argc ? run(&o, tables->argv, (int)tables->argc) : EX_OK;
	argv_free(&tables);
	return rc;
}

/* cmd_newaliases - rebuild alias_database */
int cmd_newaliases(const char *config_dir)
{
	struct map_opts o = {.aliases = true};
	struct argv *tables = alias_database_tables(config_dir);
	int rc;

	if (tables == NULL)
		return EX_CONFIG;
	rc = tables->argc ? do_build(&o, tables->argv, (int)tables->argc) : EX_OK;
	argv_free(&tables);
	return rc;
}
