/*
 * table_text - logical lines and entries of lookup-table source text
 * (contract in table_text.h).
 *
 * NOT: main.cf, master.cf (conf_line.c joins their pieces with one space,
 * which is right for parameter values but not for table values, whose
 * bytes postmap keeps).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/dict_private.h"
#include "global/table_text.h"
#include "util/buf.h"
#include "util/mem.h"

/* table_text_open - open a file */
int table_text_open(struct table_text *t, const char *path, const char **error_r)
{
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return dict_fail(error_r, "open %s: %s", path, strerror(errno));
	table_text_open_fp(t, fp, path);
	t->own_fp = true;
	return 0;
}

/* table_text_open_fp - read a stream */
void table_text_open_fp(struct table_text *t, FILE *fp, const char *name)
{
	memset(t, 0, sizeof(*t));
	t->fp = fp;
	t->name = xstrdup(name);
}

/* skippable - an empty, blank or comment line */
static bool skippable(const char *s)
{
	s += strspn(s, " \t\r\f\v");
	return *s == 0 || *s == '#';
}

/* read_physical - the next line without its newline (and '\r'); NULL at end */
static char *read_physical(struct table_text *t, int *err)
{
	ssize_t n;

	errno = 0;
	if ((n = getline(&t->line, &t->cap, t->fp)) < 0) {
		*err = ferror(t->fp) ? errno ? errno : EIO : 0;
		return NULL;
	}
	if (n > 0 && t->line[n - 1] == '\n')
		t->line[--n] = 0;
	if (n > 0 && t->line[n - 1] == '\r')
		t->line[--n] = 0;
	t->lineno++;
	return t->line;
}

/* table_text_next - one logical line */
int table_text_next(struct table_text *t, struct buf *out, int *lineno_r, const char **error_r)
{
	char *line;
	int err = 0;
	bool have = false;

	buf_reset(out);
	if (t->pending != NULL) {
		buf_puts(out, t->pending);
		*lineno_r = t->pending_lineno;
		free(t->pending);
		t->pending = NULL;
		have = true;
	}
	while ((line = read_physical(t, &err)) != NULL) {
		if (skippable(line))
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (!have)
				return dict_fail(error_r, "%s:%d: line starts with white space, but "
						 "there is no entry to continue", t->name, t->lineno);
			buf_puts(out, line);
			continue;
		}
		if (have) {
			t->pending = xstrdup(line);
			t->pending_lineno = t->lineno;
			break;
		}
		buf_puts(out, line);
		*lineno_r = t->lineno;
		have = true;
	}
	if (err)
		return dict_fail(error_r, "read %s: %s", t->name, strerror(err));
	if (!have)
		return 0;
	while (out->len > 0 && strchr(" \t\r\f\v", out->data[out->len - 1]))
		out->data[--out->len] = 0;
	return 1;
}

/* table_text_close - release */
void table_text_close(struct table_text *t)
{
	if (t->own_fp && t->fp)
		fclose(t->fp);
	free(t->pending);
	free(t->line);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

/* table_text_kv - "key value" */
int table_text_kv(char *line, char **key_r, char **value_r)
{
	size_t klen = strcspn(line, " \t");

	if (line[klen] == 0)
		return -1;
	line[klen] = 0;
	*key_r = line;
	*value_r = line + klen + 1 + strspn(line + klen + 1, " \t");
	return 0;
}

/* add_item - one destination, trimmed, to the value list */
static void add_item(struct buf *value, struct buf *item)
{
	while (item->len > 0 && item->data[item->len - 1] == ' ')
		item->data[--item->len] = 0;
	if (item->len == 0)
		return;
	if (value->len > 0)
		buf_puts(value, ", ");
	buf_append(value, item->data, item->len);
	buf_reset(item);
}

/* table_text_alias - "name: a, b" */
int table_text_alias(const char *line, struct buf *name, struct buf *value, const char **why_r)
{
	const char *cp = line;
	struct buf item;
	int depth_angle = 0, depth_paren = 0;

	/* The name: quoted, or up to the colon. */
	buf_reset(name);
	buf_reset(value);
	if (*cp == '"') {
		for (cp++; *cp && *cp != '"'; cp++) {
			if (*cp == '\\' && cp[1])
				cp++;
			buf_putc(name, *cp);
		}
		if (*cp != '"') {
			*why_r = "missing '\"' after the quoted name";
			return -1;
		}
		cp++;
		cp += strspn(cp, " \t");
		if (*cp != ':') {
			*why_r = "need name:value pair";
			return -1;
		}
	} else {
		const char *colon = strchr(cp, ':');

		if (colon == NULL) {
			*why_r = "need name:value pair";
			return -1;
		}
		buf_append(name, cp, (size_t)(colon - cp));
		while (name->len > 0 && strchr(" \t", name->data[name->len - 1]))
			name->data[--name->len] = 0;
		cp = colon;
	}
	if (name->len == 0) {
		*why_r = "missing name before ':'";
		return -1;
	}

	/* The destinations, split at commas outside quotes, <> and (). */
	buf_init(&item, 64);
	for (cp++; *cp; cp++) {
		if (*cp == '"') {
			const char *start = cp;

			for (cp++; *cp && *cp != '"'; cp++)
				if (*cp == '\\' && cp[1])
					cp++;
			if (*cp == 0) {
				buf_deinit(&item);
				*why_r = "missing closing '\"' in the value";
				return -1;
			}
			buf_append(&item, start, (size_t)(cp - start + 1));
		} else if (*cp == '\\' && cp[1]) {
			buf_putc(&item, *++cp);
		} else if (*cp == ' ' || *cp == '\t') {
			if (item.len > 0 && item.data[item.len - 1] != ' ')
				buf_putc(&item, ' ');
		} else if (*cp == ',' && depth_angle == 0 && depth_paren == 0) {
			add_item(value, &item);
		} else {
			if (*cp == '<')
				depth_angle++;
			else if (*cp == '>' && depth_angle > 0)
				depth_angle--;
			else if (*cp == '(')
				depth_paren++;
			else if (*cp == ')' && depth_paren > 0)
				depth_paren--;
			buf_putc(&item, *cp);
		}
	}
	add_item(value, &item);
	buf_deinit(&item);
	if (value->len == 0) {
		*why_r = "need name:value pair";
		return -1;
	}
	return 0;
}
