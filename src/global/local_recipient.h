/*
 * local_recipient - is an address a known local recipient?  The one
 * answer to local_recipient_maps, for the local agent (unknown users
 * bounce 5.1.1 or go to luser_relay) and for smtpd (reject_unlisted_recipient
 * refuses them at RCPT).
 *
 * local_recipient_maps lists tables as usual (docs/TABLES.md) plus
 * Postfix's unix:passwd.byname (the system accounts; "proxy:" in front is
 * accepted and ignored).  With local_mailbox_base set (sluice's embedded
 * mailboxes) unix:passwd.byname knows every local part, since there every
 * local part has a mailbox (the local agent refuses one that cannot name a
 * folder, 5.1.3).  Keys asked,
 * for "user+ext@domain": the address, "user+ext", "user" (pattern tables:
 * the address only).  An empty local_recipient_maps knows everyone.
 *
 * The tables are opened on first use and again when local_recipient_maps
 * changes or a table file does.
 */
#ifndef SLUICE_LOCAL_RECIPIENT_H
#define SLUICE_LOCAL_RECIPIENT_H

/*
 * local_recipient_find - 1 when addr (internal form, the domain one of
 * ours) is known, 0 when not, -1 with *error_r (borrowed until the next
 * call; "4.3.0 lookup table not available" in spirit: the caller defers)
 * when a table cannot be opened or read.
 */
int local_recipient_find(const char *addr, const char **error_r);

/* local_recipient_reset - close the tables. */
void local_recipient_reset(void);

#endif
