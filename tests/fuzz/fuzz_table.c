/*
 * fuzz_table - libFuzzer target for the table source files that operators
 * (and the tools that write them for users: aliases, virtual, access lists)
 * hand to sluice: the text reader shared by postmap-style sources and
 * texthash: (global/table_text.c), aliases(5) entries, regexp: and pcre:
 * tables (global/dict_regexp.c) and inline: specs (global/dict_mem.c).
 *
 * The first input byte picks the table type and is part of the look-up
 * key; the rest is the file (or the inline spec).  Checked:
 *   - a table that does not open says why, naming the file and line;
 *   - texthash: each key the reader shows is found with the value of its
 *     first entry; the logical lines, written back one per line, read back
 *     the same;
 *   - aliases: a parsed entry without backslashes, written back as
 *     "name: value", parses to the same name and value (the value is
 *     stored normalised);
 *   - regexp/pcre/inline: look-ups answer found (with a value), not found
 *     or an error with a reason, for keys taken from the input.
 * A regexp: table that is not plainly cheap is compiled first in a child
 * under CPU and memory limits (dict_regexp.c), so this target forks: it
 * runs some hundreds of inputs a second where the others run thousands.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "global/dict.h"
#include "global/table_text.h"
#include "util/buf.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_table: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

static char path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[96];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz_table.XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/table", dir);
	/* Duplicate-key warnings are expected: no log noise. */
	log_init("fuzz", 0);
	log_set_fd(open("/dev/null", O_WRONLY));
	return 0;
}

/* write_file - the table source */
static void write_file(const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	check(fp != NULL);
	check(fwrite(text, 1, len, fp) == len);
	check(fclose(fp) == 0);
}

/* lines - the logical lines of text (caller frees each and the array) */
static int lines(const char *text, size_t len, struct buf *out, char ***v_r, size_t *n_r)
{
	FILE *fp = fmemopen((void *)text, len ? len : 1, "r");
	struct table_text r;
	struct buf line;
	const char *err = NULL;
	int lineno, rc, last = 0;

	*v_r = NULL;
	*n_r = 0;
	if (len == 0) {
		fclose(fp);
		return 0;
	}
	table_text_open_fp(&r, fp, "fuzz");
	buf_init(&line, 64);
	while ((rc = table_text_next(&r, &line, &lineno, &err)) == 1) {
		check(lineno > last);
		last = lineno;
		check(line.len > 0 && line.data[0] != ' ' && line.data[0] != '\t');
		check(line.data[line.len - 1] != ' ' && line.data[line.len - 1] != '\t');
		*v_r = realloc(*v_r, (*n_r + 1) * sizeof(**v_r));
		(*v_r)[(*n_r)++] = strdup(buf_str(&line));
		if (out)
			buf_printf(out, "%s\n", buf_str(&line));
	}
	if (rc < 0)
		check(err != NULL && strncmp(err, "fuzz:", 5) == 0);
	buf_deinit(&line);
	table_text_close(&r);
	fclose(fp);
	return rc;
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* texthash - reader round trip, and every key found with its first value */
static void texthash(const char *text, size_t len)
{
	struct buf *again = buf_create(len + 1);
	char **v, **v2, spec[160];
	size_t n, n2;
	struct dict *d;
	const char *err = NULL, *value;
	int rc = lines(text, len, again, &v, &n);

	if (rc == 0) {
		check(lines(again->data, again->len, NULL, &v2, &n2) == 0);
		check(n2 == n);
		for (size_t i = 0; i < n; i++)
			check(strcmp(v[i], v2[i]) == 0);
		free_lines(v2, n2);
	}
	write_file(text, len);
	snprintf(spec, sizeof(spec), "texthash:%s", path);
	if ((d = dict_open(spec, DICT_READ, 0, &err)) == NULL) {
		check(err != NULL && strstr(err, path) != NULL);
	} else {
		check(rc == 0);
		for (size_t i = 0; i < n; i++) {
			char *key, *val, *first = NULL, *copy = strdup(v[i]);

			if (table_text_kv(copy, &key, &val) < 0) {
				free(copy);
				continue;
			}
			for (char *cp = key; *cp; cp++)
				if (*cp >= 'A' && *cp <= 'Z')
					*cp += 'a' - 'A';
			/* The first entry of a folded key wins. */
			for (size_t j = 0; j < i && first == NULL; j++) {
				char *k2, *v2s, *dup = strdup(v[j]);

				if (table_text_kv(dup, &k2, &v2s) == 0 && strcasecmp(k2, key) == 0)
					first = strdup(v2s);
				free(dup);
			}
			check(dict_get(d, key, &value, &err) == DICT_FOUND);
			check(strcmp(value, first ? first : val) == 0);
			free(first);
			free(copy);
		}
		dict_close(&d);
	}
	free_lines(v, n);
	buf_free(&again);
}

/* aliases - each logical line as an aliases(5) entry, and its round trip */
static void aliases(const char *text, size_t len)
{
	struct buf *name = buf_create(64), *value = buf_create(64);
	struct buf *name2 = buf_create(64), *value2 = buf_create(64), *line = buf_create(64);
	const char *why = NULL;
	char **v;
	size_t n;

	(void)lines(text, len, NULL, &v, &n);
	for (size_t i = 0; i < n; i++) {
		if (table_text_alias(v[i], name, value, &why) < 0) {
			check(why != NULL && *why != 0);
			continue;
		}
		check(name->len > 0 && value->len > 0);
		/* A backslash outside quotes is dropped when stored (as postalias
		 * does), so the stored form of such a line may read differently. */
		if (strchr(v[i], '\\') != NULL)
			continue;
		buf_reset(line);
		if (strchr(buf_str(name), ':') == NULL && name->data[0] != '"'
		    && strchr(" \t", name->data[name->len - 1]) == NULL) {
			buf_puts(line, buf_str(name));
		} else {
			buf_putc(line, '"');
			for (const char *cp = buf_str(name); *cp; cp++) {
				if (*cp == '"' || *cp == '\\')
					buf_putc(line, '\\');
				buf_putc(line, *cp);
			}
			buf_putc(line, '"');
		}
		buf_printf(line, ": %s", buf_str(value));
		if (table_text_alias(buf_str(line), name2, value2, &why) < 0) {
			fprintf(stderr, "fuzz_table: alias \"%s\" written as \"%s\" does not parse: %s\n",
				v[i], buf_str(line), why);
			abort();
		}
		check(strcmp(buf_str(name), buf_str(name2)) == 0);
		check(strcmp(buf_str(value), buf_str(value2)) == 0);
	}
	free_lines(v, n);
	buf_free(&name);
	buf_free(&value);
	buf_free(&name2);
	buf_free(&value2);
	buf_free(&line);
}

/* lookups - a few keys from the input */
static void lookups(struct dict *d, const char *text, size_t len, unsigned char sel)
{
	const char *keys[4] = {"user@example.com", "", "MAILER-DAEMON", NULL};
	char key[65];
	size_t kl = len < 64 ? len : 64;

	memcpy(key, text + len - kl, kl);
	key[kl] = 0;
	key[strcspn(key, "\n")] = 0;
	keys[3] = key;
	for (size_t i = 0; i < 4; i++) {
		const char *value = NULL, *err = NULL;
		int rc = dict_get(d, keys[(i + sel) % 4], &value, &err);

		check(rc == DICT_FOUND || rc == DICT_NOTFOUND || rc == DICT_ERROR);
		if (rc == DICT_FOUND)
			check(value != NULL);
		if (rc == DICT_ERROR)
			check(err != NULL && *err != 0);
	}
}

/* pattern - regexp: or pcre: */
static void pattern(const char *type, const char *text, size_t len, unsigned char sel)
{
	char spec[160];
	struct dict *d;
	const char *err = NULL;

	write_file(text, len);
	snprintf(spec, sizeof(spec), "%s:%s", type, path);
	if ((d = dict_open(spec, DICT_READ, 0, &err)) == NULL) {
		check(err != NULL && strstr(err, path) != NULL);
		return;
	}
	lookups(d, text, len, sel);
	dict_close(&d);
}

/* inline_spec - inline:{...} */
static void inline_spec(const char *text, size_t len, unsigned char sel)
{
	char *spec = malloc(len + 10);
	struct dict *d;
	const char *err = NULL;

	snprintf(spec, len + 10, "inline:{%.*s}", (int)len, text);
	if ((d = dict_open(spec, DICT_READ, 0, &err)) == NULL) {
		check(err != NULL && *err != 0);
	} else {
		lookups(d, text, len, sel);
		dict_close(&d);
	}
	free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	size_t len;

	if (size < 1)
		return 0;
	len = size - 1;
	/* Table files are text: a NUL ends what the readers see anyway. */
	if (memchr(text, 0, len) != NULL)
		len = (size_t)((const char *)memchr(text, 0, len) - text);
	switch (data[0] % 5) {
	case 0:
		texthash(text, len);
		break;
	case 1:
		aliases(text, len);
		break;
	case 2:
		pattern("regexp", text, len, data[0] >> 4);
		break;
	case 3:
		pattern("pcre", text, len, data[0] >> 4);
		break;
	case 4:
		inline_spec(text, len, data[0] >> 4);
		break;
	}
	return 0;
}
