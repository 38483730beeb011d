/*
 * cmd_sendmail - "sluice sendmail ..." and the program answering as
 * "sendmail": the Sendmail-compatible submission command (Postfix
 * sendmail(1)).
 *
 *   sendmail [-f sender] [-F full_name] [-t] [-i|-oi] [-N dsn] [-R full|hdrs]
 *            [-V envid] [-SMTPUTF8] [-bm|-bv|-bp] [-v] [-q] [-C config_dir]
 *            [--] rcpt...
 *
 * Reads the message from stdin (up to message_size_limit; LF or CRLF; a
 * line with only "." ends it unless -i), and exits 0 only once the message
 * is durably in maildrop/, where pickup takes it (also while the mail
 * system is stopped).  root, and the account that owns maildrop/, write
 * the maildrop file directly; other users go through the set-gid postdrop
 * helper (src/postdrop/postdrop.c).  -t adds the To/Cc/Bcc recipients to
 * those on the command line (Postfix 2.1+ behaviour) and removes Bcc:.
 * -bp lists the queue (cmd_queue), -q flushes it ("FADI" to qmgr).
 * -SMTPUTF8 flags the message as needing SMTPUTF8 (QF_FLAG_SMTPUTF8;
 * pickup's cleanup also flags one with non-ASCII envelope addresses or
 * headers, smtputf8_autodetect_classes "sendmail").
 *
 * Exit status (sysexits): 0 queued, 64 usage (bad option, bad address, no
 * recipients), 65 data (message too big, too many hops, input error), 71
 * no login name, 75 temporary (queue write error, mail system down for
 * -q), 77 permission, 78 configuration.  Prints nothing on success unless
 * -v or -bv ask for a report.
 */
#ifndef SLUICE_CMD_SENDMAIL_H
#define SLUICE_CMD_SENDMAIL_H

/* cmd_sendmail - argv[0] is "sendmail"; config_dir may be NULL. Returns the exit status. */
int cmd_sendmail(const char *config_dir, int argc, char **argv);

#endif
