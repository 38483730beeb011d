/*
 * conf_line - logical line reader for main.cf, master.cf and texthash files.
 *
 * Contract in conf_line.h.  Pieces of a logical line are trimmed and joined
 * with a single space, as "postconf -n" shows them.  The reader never
 * modifies or copies the input; each call scans forward from where the last
 * one stopped, so a whole file costs one pass.
 *
 * DIAGNOSTICS: none; the -1 result lets each caller word its own message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/conf_line.h"
#include "util/buf.h"
#include "util/mem.h"

/* conf_line_init - reader over text */
void conf_line_init(struct conf_line_reader *r, const char *text)
{
	r->pos = text;
	r->lineno = 0;
}

/* is_space - the white space of configuration files */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* take_physical - next physical line [start, end) without its newline */
static bool take_physical(struct conf_line_reader *r, const char **start, const char **end)
{
	const char *nl;

	if (*r->pos == 0)
		return false;
	*start = r->pos;
	nl = strchr(r->pos, '\n');
	*end = nl ? nl : r->pos + strlen(r->pos);
	r->pos = nl ? nl + 1 : *end;
	r->lineno++;
	return true;
}

/* append_trimmed - add [s, e) without surrounding white space, space-separated */
static void append_trimmed(struct buf *out, const char *s, const char *e)
{
	while (s < e && is_space(*s))
		s++;
	while (e > s && is_space(e[-1]))
		e--;
	if (s == e)
		return;
	if (buf_len(out) > 0)
		buf_putc(out, ' ');
	buf_append(out, s, (size_t)(e - s));
}

/* ignorable - blank or comment line */
static bool ignorable(const char *s, const char *e)
{
	while (s < e && is_space(*s))
		s++;
	return s == e || *s == '#';
}

/* conf_line_next - read one logical line */
int conf_line_next(struct conf_line_reader *r, struct buf *out, int *line_r)
{
	const char *s, *e, *save_pos;
	int save_line;

	buf_reset(out);

	/* Find the start of a logical line. */
	for (;;) {
		if (!take_physical(r, &s, &e))
			return 0;
		if (ignorable(s, e))
			continue;
		if (is_space(*s)) {
			*line_r = r->lineno;
			return -1;
		}
		break;
	}
	*line_r = r->lineno;
	append_trimmed(out, s, e);

	/* Absorb continuation lines; comments and blank lines in between are skipped. */
	for (;;) {
		save_pos = r->pos;
		save_line = r->lineno;
		if (!take_physical(r, &s, &e))
			return 1;
		if (ignorable(s, e))
			continue;
		if (!is_space(*s)) {
			r->pos = save_pos;
			r->lineno = save_line;
			return 1;
		}
		append_trimmed(out, s, e);
	}
}

/* conf_file_read - slurp a text file */
int conf_file_read(const char *path, char **text_r)
{
	struct buf *b;
	char chunk[8192];
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	b = buf_create(sizeof(chunk));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_append(b, chunk, (size_t)n);
	}
	saved = errno;
	close(fd);
	if (n < 0) {
		buf_free(&b);
		errno = saved;
		return -1;
	}
	if (memchr(buf_str(b), 0, buf_len(b)) != NULL) {
		buf_free(&b);
		errno = EINVAL;
		return -1;
	}
	*text_r = buf_steal(b);
	buf_free(&b);
	return 0;
}
