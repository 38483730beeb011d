/*
 * table_text - the text formats lookup tables are written in.
 *
 * Logical lines as Postfix's postmap, texthash, regexp and pcre tables read
 * them: empty lines and lines whose first non-blank character is '#' are
 * skipped (also between a line and its continuation); a line that starts
 * with white space continues the logical line, joined as it stands (the
 * newline goes, the leading white space stays, so "a b\n  c" is "a b  c",
 * byte for byte what postmap stores); white space at the end of a logical
 * line goes, and so does a '\r' before each newline.
 *
 * Entries: table_text_kv() splits "key whitespace value" (postmap(1),
 * texthash); table_text_alias() splits aliases(5) "name: value, value"
 * and normalises the value list as postalias stores it.
 *
 * The reader streams (a million-line source never sits in memory whole).
 * Errors name the file and line: "/etc/x:7: ...".
 */
#ifndef SLUICE_TABLE_TEXT_H
#define SLUICE_TABLE_TEXT_H

#include <stdbool.h>
#include <stdio.h>

struct buf;

struct table_text {
	FILE *fp;
	char *name;		/* for messages */
	bool own_fp;
	int lineno;		/* physical lines read so far */
	char *pending;		/* a line read ahead (starts the next entry) */
	int pending_lineno;
	char *line;		/* getline() buffer */
	size_t cap;
};

/* table_text_open - read the file at path: 0, or -1 with *error_r
 * ("open PATH: reason"). */
int table_text_open(struct table_text *t, const char *path, const char **error_r);

/* table_text_open_fp - read fp (borrowed), calling it name in messages. */
void table_text_open_fp(struct table_text *t, FILE *fp, const char *name);

/*
 * table_text_next - the next logical line into out, its first physical
 * line's number in *lineno_r.  1, 0 at the end, or -1 with *error_r
 * ("NAME:LINE: line starts with white space, but there is no entry to
 * continue", or a read error).
 */
int table_text_next(struct table_text *t, struct buf *out, int *lineno_r, const char **error_r);

/* table_text_close - release the reader (and the file it opened). */
void table_text_close(struct table_text *t);

/*
 * table_text_kv - split line in place at its first white space into
 * *key_r and *value_r (leading white space of the value skipped).  0, or
 * -1 when there is no value.
 */
int table_text_kv(char *line, char **key_r, char **value_r);

/*
 * table_text_alias - parse one aliases(5) entry: name (possibly "quoted"),
 * ':', then a list of destinations separated by commas.  The name goes to
 * name (unquoted), the list to value, each destination trimmed, runs of
 * white space outside quotes made one space, a backslash outside quotes
 * dropped, and the destinations joined with ", ", which is how postalias
 * stores them.  0, or -1 with *why_r (a static text).
 */
int table_text_alias(const char *line, struct buf *name, struct buf *value, const char **why_r);

#endif
