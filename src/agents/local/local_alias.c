/*
 * local_alias - parse alias values and include files into destinations,
 * and recognise a message that was already delivered to a recipient (see
 * local_alias.h).
 *
 * The parser is strict about what it cannot interpret (an unbalanced quote,
 * a command with no text, a relative include path) so that a typo in an
 * alias file defers mail with a warning instead of sending it somewhere
 * unintended.  It does not check permissions: the agent decides whether a
 * command or file destination is allowed in its context.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/local/local_alias.h"
#include "global/addr.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

/* local_dest_kind_name - for logs */
const char *local_dest_kind_name(enum local_dest_kind kind)
{
	switch (kind) {
	case LOCAL_DEST_ADDRESS:
		return "address";
	case LOCAL_DEST_COMMAND:
		return "command";
	case LOCAL_DEST_FILE:
		return "file";
	case LOCAL_DEST_INCLUDE:
		return "include";
	}
	return "?";
}

/* local_dest_list_deinit - release entries */
void local_dest_list_deinit(struct local_dest_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->v[i].text);
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* add - append one destination (takes ownership of text) */
static void add(struct local_dest_list *list, enum local_dest_kind kind, char *text)
{
	if (list->count == list->cap) {
		list->cap = list->cap ? 2 * list->cap : 8;
		list->v = xreallocarray(list->v, list->cap, sizeof(*list->v));
	}
	list->v[list->count].kind = kind;
	list->v[list->count].text = text;
	list->count++;
}

/* trim - strip white space at both ends, moving the text to the start */
static char *trim(char *s)
{
	char *t = str_trim(s);

	if (t != s)
		memmove(s, t, strlen(t) + 1);
	return s;
}

/* unquote_whole - "text" with backslash escapes; NULL unless quotes enclose all */
static char *unquote_whole(const char *token)
{
	size_t len = strlen(token);
	struct buf b;
	char *s;

	if (len < 2 || token[0] != '"' || token[len - 1] != '"')
		return NULL;
	buf_init(&b, len);
	for (size_t i = 1; i < len - 1; i++) {
		if (token[i] == '\\' && i + 1 < len - 1)
			i++;
		else if (token[i] == '"') {
			/* A quote inside: "john doe"@x is an address, not a quoted destination. */
			buf_deinit(&b);
			return NULL;
		}
		buf_putc(&b, token[i]);
	}
	s = buf_steal(&b);
	buf_deinit(&b);
	return s;
}

/* classify - one token into a destination; 0 or -1 */
static int classify(const char *token, struct local_dest_list *out, const char **error_r)
{
	char *inner = unquote_whole(token), *text, *addr;

	const char *t = inner ? inner : token, *err;

	if (*t == '|') {
		text = trim(xstrdup(t + 1));
		/* |"cmd args" is the same as "|cmd args". */
		char *unq = unquote_whole(text);

		if (unq) {
			free(text);
			text = unq;
		}
		if (*text == 0) {
			free(text);
			free(inner);
			*error_r = "empty command after \"|\"";
			return -1;
		}
		add(out, LOCAL_DEST_COMMAND, text);
	} else if (*t == '/') {
		add(out, LOCAL_DEST_FILE, xstrdup(t));
	} else if (strncasecmp(t, ":include:", 9) == 0) {
		text = trim(xstrdup(t + 9));
		if (*text != '/') {
			free(text);
			free(inner);
			*error_r = ":include: needs an absolute path";
			return -1;
		}
		add(out, LOCAL_DEST_INCLUDE, text);
	} else {
		/*
		 * An address, quoted or not; a quoted one keeps its quotes for the
		 * parser.  "\\user" (no further aliasing: the user's mailbox) keeps
		 * its backslash in the destination.
		 */
		bool noalias = *token == '\\';

		addr = NULL;
		if (noalias)
			token++;
		if (addr_unquote(token, &addr, &err) < 0 || *addr == 0) {
			*error_r = addr ? "empty address" : err;
			free(addr);
			free(inner);
			return -1;
		}
		if (noalias) {
			char *marked = xasprintf("\\%s", addr);

			free(addr);
			addr = marked;
		}
		add(out, LOCAL_DEST_ADDRESS, addr);
	}
	free(inner);
	return 0;
}

/* local_alias_parse - split and classify */
int local_alias_parse(const char *text, int comments, struct local_dest_list *list,
		      const char **error_r)
{
	struct local_dest_list tmp = {0};
	struct buf token;
	bool quoted = false, line_start = true, in_comment = false;
	int rc = 0;

	buf_init(&token, 64);
	for (const char *cp = text;; cp++) {
		char c = *cp;

		if (in_comment) {
			if (c == 0)
				break;
			if (c == '\n') {
				in_comment = false;
				line_start = true;
			}
			continue;
		}
		if (comments && line_start && !quoted) {
			if (c == ' ' || c == '\t')
				continue;
			line_start = false;
			if (c == '#') {
				in_comment = true;
				continue;
			}
		}
		if (c == 0 || (!quoted && (c == ',' || c == '\n'))) {
			char *t = str_trim(buf_str(&token));

			if (quoted) {
				*error_r = "unbalanced double quote";
				rc = -1;
				break;
			}
			if (*t && classify(t, &tmp, error_r) < 0) {
				rc = -1;
				break;
			}
			buf_reset(&token);
			if (c == '\n')
				line_start = true;
			if (c == 0)
				break;
			continue;
		}
		if (c == '"' && !(cp > text && cp[-1] == '\\'))
			quoted = !quoted;
		buf_putc(&token, c);
	}
	buf_deinit(&token);
	if (rc < 0) {
		local_dest_list_deinit(&tmp);
		return -1;
	}
	for (size_t i = 0; i < tmp.count; i++)
		add(list, tmp.v[i].kind, tmp.v[i].text);
	free(tmp.v);
	return 0;
}

/* header_matches - "Delivered-To:" line value equals recipient? */
static bool header_matches(const char *line, size_t len, const char *recipient)
{
	static const char name[] = "delivered-to:";
	size_t n = sizeof(name) - 1, rlen = strlen(recipient);

	if (len < n || strncasecmp(line, name, n) != 0)
		return false;
	line += n;
	len -= n;
	while (len > 0 && isspace((unsigned char)*line)) {
		line++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	return len == rlen && strncasecmp(line, recipient, len) == 0;
}

/* local_loop_check - Delivered-To: recipient present? */
int local_loop_check(const char *headers, size_t len, const char *recipient)
{
	struct buf line;
	const char *end = headers + len, *cp = headers, *nl;
	int found = 0;

	/* Unfold: a line that starts with white space continues the previous one. */
	buf_init(&line, 256);
	while (cp < end && !found) {
		nl = memchr(cp, '\n', (size_t)(end - cp));
		size_t n = nl ? (size_t)(nl - cp) : (size_t)(end - cp);

		if (n == 0)
			break;		/* the empty line ends the header block */
		if (*cp == ' ' || *cp == '\t') {
			buf_append(&line, cp, n);
		} else {
			if (line.len && header_matches(line.data, line.len, recipient))
				found = 1;
			buf_reset(&line);
			buf_append(&line, cp, n);
		}
		cp += n + (nl ? 1 : 0);
	}
	if (!found && line.len && header_matches(line.data, line.len, recipient))
		found = 1;
	buf_deinit(&line);
	return found;
}
