/*
 * mail_flow - in_flow_delay: slow down new mail when the queue manager
 * falls behind (Postfix's mail_flow tokens, without master's pipe).
 *
 * Tokens are bytes in a FIFO, queue_directory/private/flow (mode 0600,
 * created by whichever side opens it first; the mail system's own user
 * only).  Every process that uses it keeps it open read-write, so the
 * tokens survive as long as pickup or qmgr runs and neither side ever
 * blocks on open or write.
 *
 *   producer (qmgr, once per loop turn): mail_flow_qmgr() keeps the FIFO
 *     topped up to default_process_limit tokens while the incoming queue
 *     is not being scanned, adds one for each message taken in from
 *     incoming/ while it is, and takes away any excess;
 *   consumer (cleanup_open, for each new message but delivery status
 *     reports): mail_flow_get() takes a token, waiting up to in_flow_delay
 *     seconds for one, and then proceeds anyway.
 *
 * So while the queue manager keeps up nobody waits; when it stops taking
 * mail in (stopped, stuck, or simply slower than the arrivals) the tokens
 * run out after default_process_limit messages and each further message
 * waits in_flow_delay.  in_flow_delay = 0 turns both sides off.
 *
 * DIAGNOSTICS: none; a FIFO that cannot be made or opened means no flow
 * control (mail_flow_get returns at once), which is logged once in
 * verbose mode only.
 */
#ifndef SLUICE_MAIL_FLOW_H
#define SLUICE_MAIL_FLOW_H

#include <stdbool.h>

#define MAIL_FLOW_NAME	"private/flow"

/* mail_flow_get - take one token, waiting up to timeout seconds; 0 got
 * one, -1 none (timed out, or no flow FIFO). */
int mail_flow_get(const char *queue_dir, double timeout);
/* mail_flow_put - add n tokens (as many as fit); how many were added. */
long mail_flow_put(const char *queue_dir, long n);
/* mail_flow_count - tokens now in the FIFO, or -1. */
long mail_flow_count(const char *queue_dir);
/*
 * mail_flow_qmgr - the queue manager's turn (Postfix qmgr_loop's policy):
 * fed_incoming says a message was just taken in from incoming/,
 * incoming_idle that no incoming scan is under way.  Does nothing when
 * in_flow_delay is 0.
 */
void mail_flow_qmgr(const char *queue_dir, bool fed_incoming, bool incoming_idle);

#endif
