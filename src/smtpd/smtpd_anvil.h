/*
 * smtpd_anvil - per-client limits (Postfix's smtpd_client_*_limit), with
 * the counters kept by the anvil service (src/anvil/anvil.c).
 *
 * One session at a time, as smtpd serves them: smtpd_anvil_connect() when
 * a client arrives, smtpd_anvil_mail() at MAIL, smtpd_anvil_rcpt() at
 * RCPT, smtpd_anvil_disconnect() when the session ends.  Each returns
 * NULL (go on) or the reply to send (static, valid until the next call),
 * after logging Postfix's warning ("Connection rate limit exceeded: N from
 * host[addr] for service smtp").
 *
 * A client in smtpd_client_event_limit_exceptions is never counted, and
 * with every limit 0 anvil is never asked.  When anvil cannot be reached
 * smtpd warns and serves the client without limits (as Postfix does):
 * a missing counter must not stop mail.
 */
#ifndef SLUICE_SMTPD_ANVIL_H
#define SLUICE_SMTPD_ANVIL_H

#include <stdbool.h>
#include <sys/socket.h>

/* smtpd_anvil_init - read the limits and exceptions; fatal on a bad
 * network in smtpd_client_event_limit_exceptions.  service is the
 * master.cf service name (counters are per service and address). */
void smtpd_anvil_init(const char *service);

/* smtpd_anvil_exempt - is the address in smtpd_client_event_limit_exceptions? */
bool smtpd_anvil_exempt(const struct sockaddr_storage *addr);

/* smtpd_anvil_connect - a client arrives; addr_text is its numeric
 * address, client its "name[addr]" for the log.  NULL or a 421 reply. */
const char *smtpd_anvil_connect(const struct sockaddr_storage *addr, const char *addr_text,
				const char *client);
/* smtpd_anvil_mail - a MAIL command; NULL or a 450 reply. */
const char *smtpd_anvil_mail(void);
/* smtpd_anvil_rcpt - a RCPT command; NULL or a 450 reply. */
const char *smtpd_anvil_rcpt(void);
/* smtpd_anvil_disconnect - the session is over (also after a refusal). */
void smtpd_anvil_disconnect(void);

#endif
