/*
 * sys_exits - meaning of sendmail-compatible exit status codes.
 *
 * Contract: see sys_exits.h.  The codes and their RFC 3463 details follow
 * <sysexits.h> and Postfix's interpretation of them (for example
 * EX_NOUSER is 5.1.1, EX_TEMPFAIL and EX_OSERR are the only temporary
 * ones).  No diagnostics: a pure table.
 */
#include <stddef.h>

#include "global/sys_exits.h"

/* One row per code, in code order, starting at SYS_EXITS_BASE. */
static const struct sys_exits_detail sys_exits_table[] = {
	{64, "5.3.0", "command line usage error"},	/* EX_USAGE */
	{65, "5.6.0", "data format error"},		/* EX_DATAERR */
	{66, "5.3.0", "cannot open input"},		/* EX_NOINPUT */
	{67, "5.1.1", "user unknown"},			/* EX_NOUSER */
	{68, "5.1.2", "host name unknown"},		/* EX_NOHOST */
	{69, "5.3.0", "service unavailable"},		/* EX_UNAVAILABLE */
	{70, "5.3.0", "internal software error"},	/* EX_SOFTWARE */
	{71, "4.3.0", "system resource problem"},	/* EX_OSERR */
	{72, "5.3.0", "critical OS file missing"},	/* EX_OSFILE */
	{73, "5.2.0", "can't create user output file"},	/* EX_CANTCREAT */
	{74, "5.3.0", "input/output error"},		/* EX_IOERR */
	{75, "4.3.0", "temporary failure"},		/* EX_TEMPFAIL */
	{76, "5.5.0", "remote error in protocol"},	/* EX_PROTOCOL */
	{77, "5.7.0", "permission denied"},		/* EX_NOPERM */
	{78, "5.3.5", "local configuration error"},	/* EX_CONFIG */
};

/* sys_exits_detail - look up a code */
const struct sys_exits_detail *sys_exits_detail(int code)
{
	if (code < SYS_EXITS_BASE || code > SYS_EXITS_MAX)
		return NULL;
	return &sys_exits_table[code - SYS_EXITS_BASE];
}

/* sys_exits_soft - temporary failure? */
bool sys_exits_soft(int code)
{
	const struct sys_exits_detail *d = sys_exits_detail(code);

	return d != NULL && d->dsn[0] == '4';
}
