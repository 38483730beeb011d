/*
 * local_alias - the destinations an alias value (or an :include: file)
 * lists, Postfix aliases(5) syntax:
 *
 *   name: other, user@example.test, |"/usr/bin/cmd arg", /var/log/mail.all,
 *         :include:/etc/sluice/list.members
 *
 * Destinations are separated by commas or newlines; a double-quoted
 * destination may contain commas and spaces ("|cmd a, b").  In an include
 * file, a line whose first non-blank character is '#' is a comment.
 */
#ifndef SLUICE_LOCAL_ALIAS_H
#define SLUICE_LOCAL_ALIAS_H

#include <stddef.h>

enum local_dest_kind {
	LOCAL_DEST_ADDRESS,	/* text: address in internal form ("\\user": no aliasing) */
	LOCAL_DEST_COMMAND,	/* text: the command after "|" */
	LOCAL_DEST_FILE,	/* text: absolute path */
	LOCAL_DEST_INCLUDE,	/* text: absolute path of the include file */
};

struct local_dest {
	enum local_dest_kind kind;
	char *text;
};

struct local_dest_list {
	struct local_dest *v;
	size_t count;
	size_t cap;
};

/*
 * local_alias_parse - append the destinations in text to list.  comments:
 * honour '#' comment lines (include files).  0, or -1 with *error_r
 * (static) for an unbalanced quote, an empty command, a relative
 * :include: path or a malformed address; nothing is appended then.
 */
int local_alias_parse(const char *text, int comments, struct local_dest_list *list,
		      const char **error_r);
/* local_dest_list_deinit - release the entries (the list itself may be reused). */
void local_dest_list_deinit(struct local_dest_list *list);
/* local_dest_kind_name - "address", "command", "file", "include". */
const char *local_dest_kind_name(enum local_dest_kind kind);

/*
 * local_loop_check - does the header block (headers up to the empty line,
 * LF line ends; extra text after it is ignored) hold a Delivered-To:
 * header equal to recipient (case-insensitively)?  That message has been
 * here before: delivering it again would loop.
 */
int local_loop_check(const char *headers, size_t len, const char *recipient);

#endif
