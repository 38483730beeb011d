/*
 * conf_line - logical lines of Postfix-style configuration text.
 *
 * main.cf, master.cf and texthash tables share one layout (postconf(5)):
 * a logical line starts with non-white text; a line that starts with white
 * space continues it; empty lines, white-space-only lines and lines whose
 * first non-white character is '#' are ignored, also between a line and its
 * continuation.  A trailing '\r' is dropped (files edited on Windows).
 */
#ifndef SLUICE_CONF_LINE_H
#define SLUICE_CONF_LINE_H

struct buf;

struct conf_line_reader {
	const char *pos;	/* next unread byte of the text */
	int lineno;		/* physical lines consumed so far */
};

/* conf_line_init - start reading NUL-terminated text (borrowed). */
void conf_line_init(struct conf_line_reader *r, const char *text);

/*
 * conf_line_next - the next logical line, its pieces trimmed and joined with
 * one space, into out (reset first); its first physical line in *line_r.
 * Returns 1, 0 at the end, or -1 when a continuation line has nothing to
 * continue (*line_r is that line; reading may go on after it).
 */
int conf_line_next(struct conf_line_reader *r, struct buf *out, int *line_r);

/*
 * conf_file_read - the whole file as a NUL-terminated string in *text_r
 * (caller frees with free()).  Returns 0, or -1 with errno set (ENOENT when
 * the file does not exist).  A NUL byte inside the file is an error (EINVAL):
 * configuration is text.
 */
int conf_file_read(const char *path, char **text_r);

#endif
