/*
 * pipe_args - the pipe agent's master.cf attributes and the expansion of
 * its command vector.
 *
 * A pipe service is configured on its master.cf line, after the command
 * name (Postfix pipe(8) syntax):
 *
 *   mycmd unix - n n - - pipe flags=FR user=nobody:nogroup
 *       argv=/usr/local/bin/cmd -f ${sender} -- ${recipient}
 *
 * Attributes: flags= (pipe(8) letters: B D F O R . > for the copy, h q u X
 * below), user=name[:group] (required), argv= (required, always last: the
 * words after it are the command), eol= (with \n \r \t \\ escapes; default
 * "\n"), directory= (working directory), null_sender= (what ${sender} is
 * for the null sender; default MAILER-DAEMON), size= (message size limit
 * in bytes; larger messages bounce with 5.2.3).  "-o name=value" pairs
 * among the arguments belong to master and are skipped.
 *
 * Macros in the command vector: $name, ${name} or $(name); "$$" is "$".
 * ${sender} ${nexthop} ${size} ${queue_id} (and the client/SASL names,
 * always empty here) have one value per request; an argument containing
 * ${recipient} ${original_recipient} ${user} ${extension} ${mailbox} or
 * ${domain} becomes one argument per recipient, as in Postfix.
 */
#ifndef SLUICE_PIPE_ARGS_H
#define SLUICE_PIPE_ARGS_H

#include <stddef.h>

#include "global/mail_copy.h"

struct argv;

/* Flags that shape the command line rather than the copy. */
#define PIPE_FLAG_FOLD_HOST	(1 << 16)	/* h: lower-case domains and ${nexthop} */
#define PIPE_FLAG_QUOTE		(1 << 17)	/* q: quote address local parts */
#define PIPE_FLAG_FOLD_USER	(1 << 18)	/* u: lower-case recipient local parts */
#define PIPE_FLAG_FINAL		(1 << 19)	/* X: final delivery ("delivered", not "relayed") */
#define PIPE_FLAGS_NOT_COPY	(PIPE_FLAG_FOLD_HOST | PIPE_FLAG_QUOTE | PIPE_FLAG_FOLD_USER \
				 | PIPE_FLAG_FINAL)

struct pipe_attr {
	int flags;		/* MAIL_COPY_* | PIPE_FLAG_* */
	char *user;		/* user= account name */
	char *group;		/* user=...:group, or NULL */
	char *eol;		/* line end, escapes resolved */
	char *directory;	/* working directory, or NULL */
	char *null_sender;	/* ${sender} for the null sender */
	long size_limit;	/* 0 = none */
	struct argv *argv;	/* the command vector, macros unexpanded */
};

/*
 * pipe_attr_parse - parse the words after the command name.  0, or -1 with
 * *error_r (static) naming the bad attribute.  On success free the result
 * with pipe_attr_deinit().
 */
int pipe_attr_parse(char *const *words, size_t count, struct pipe_attr *attr_r,
		    const char **error_r);
void pipe_attr_deinit(struct pipe_attr *attr);

/* Values for the macros of one request. */
struct pipe_macros {
	const char *sender;		/* internal form, "" = null sender */
	const char *nexthop;
	const char *queue_id;
	long size;
	char *const *rcpt;		/* recipient addresses, internal form */
	char *const *orig_rcpt;		/* original recipients ("" = same as rcpt) */
	size_t rcpt_count;
	const char *delimiters;		/* recipient_delimiter */
	const char *null_sender;
	int flags;			/* PIPE_FLAG_* that apply */
};

/*
 * pipe_argv_expand - expand the command vector into out (appended).  0, or
 * -1 with *error_r (static) for an unknown macro or bad syntax.
 */
int pipe_argv_expand(const struct argv *tmpl, const struct pipe_macros *m, struct argv *out,
		     const char **error_r);

/* pipe_unescape - resolve \n \r \t \\ in text. Caller frees with free(). */
char *pipe_unescape(const char *text);

#endif
