/*
 * sys_exits - what a sendmail-style exit status (<sysexits.h>, 64..78)
 * means for mail delivery: an RFC 3463 status and a short text.
 *
 * The pipe and local delivery agents judge external commands by their exit
 * status with this table, as Postfix does: a status whose DSN class is 4
 * is a temporary failure (EX_TEMPFAIL, EX_OSERR), any other code in the
 * table is permanent.  Codes outside the table are not sysexits codes.
 */
#ifndef SLUICE_SYS_EXITS_H
#define SLUICE_SYS_EXITS_H

#include <stdbool.h>

#define SYS_EXITS_BASE	64	/* EX__BASE */
#define SYS_EXITS_MAX	78	/* EX__MAX */

struct sys_exits_detail {
	int status;		/* the exit status */
	const char *dsn;	/* RFC 3463 "5.1.1" */
	const char *text;	/* "user unknown" */
};

/* sys_exits_detail - table row for code, or NULL when code is not 64..78. */
const struct sys_exits_detail *sys_exits_detail(int code);
/* sys_exits_soft - is code a sysexits code meaning "try again later"? */
bool sys_exits_soft(int code);

#endif
