/*
 * cleanup_rewrite - Postfix's address rewriting for new mail, as cleanup(8)
 * does it: canonical mapping, masquerading, virtual alias expansion and
 * automatic BCC, for the envelope; canonical mapping and masquerading
 * also for the addresses in sender and recipient header fields
 * (docs/REWRITE.md).
 *
 * Tables are looked up with addr_map (canonical(5)/virtual(5) query
 * order).  The process's tables are opened on first use and kept; when a
 * table file changed (maps_changed()) they are opened again before the next
 * message.  A table that cannot be opened or read is reported as -1 with
 * "4.3.0 lookup table not available" in *error_r: the producer must not
 * queue the message (cleanup_close() refuses it, temporarily).
 */
#ifndef SLUICE_CLEANUP_REWRITE_H
#define SLUICE_CLEANUP_REWRITE_H

#include <stddef.h>

#include "util/argv.h"

struct buf;

#define REWRITE_ERROR	(-1)		/* a table failed: "4.3.0 ..." */
#define REWRITE_LIMIT	(-2)		/* expansion limits: "5.4.6 ..." */

/* cleanup_rewrite_sender - envelope sender: sender_canonical_maps,
 * canonical_maps (envelope_sender in canonical_classes), masquerading
 * (in masquerade_classes).  "" stays "".  0 with *out_r (caller frees). */
int cleanup_rewrite_sender(const char *sender, char **out_r, const char **error_r);

/* cleanup_rewrite_rcpt - envelope recipient: recipient_canonical_maps,
 * canonical_maps, masquerading when the classes say so. */
int cleanup_rewrite_rcpt(const char *rcpt, char **out_r, const char **error_r);

/*
 * cleanup_virtual_expand - virtual_alias_maps, recursively: out gets the
 * final addresses (duplicates dropped; rcpt itself when it has no entry).
 * An address that leads back to one already expanded ends the expansion
 * there (it is kept as it is; resolve then bounces it with 5.4.6 when it is
 * in a virtual alias domain).  REWRITE_LIMIT past
 * virtual_alias_recursion_limit / virtual_alias_expansion_limit.
 */
int cleanup_virtual_expand(const char *rcpt, struct argv *out, const char **error_r);

/* cleanup_bcc_sender / cleanup_bcc_rcpt - the sender_bcc_maps /
 * recipient_bcc_maps addresses for addr, appended to out. */
int cleanup_bcc_sender(const char *sender, struct argv *out, const char **error_r);
int cleanup_bcc_rcpt(const char *rcpt, struct argv *out, const char **error_r);

/* Address classes of header fields (Postfix's header_opts). */
#define CLEANUP_HDR_CLASS_NONE		0
#define CLEANUP_HDR_CLASS_SENDER	1	/* From, Sender, Reply-To, Errors-To,
						 * Return-Receipt-To, Resent-From ... */
#define CLEANUP_HDR_CLASS_RCPT		2	/* To, Cc, Bcc, Resent-To ... */

/* cleanup_header_class - the class of header field field[0..len). */
int cleanup_header_class(const char *field, size_t len);

/*
 * cleanup_rewrite_header - rewrite the addresses of field (a complete,
 * possibly folded header field) when it is a sender or recipient field:
 * an incomplete address gets "@domain" (NULL: @$myorigin, and
 * append_dot_mydomain), then sender_/recipient_canonical_maps and
 * canonical_maps as sender_/recipient_canonical_classes and
 * canonical_classes list header_sender / header_recipient, then
 * masquerading as masquerade_classes does.  Only the changed addr-specs
 * are replaced; the rest of the field stays byte for byte.  Returns how
 * many addresses changed, or REWRITE_ERROR with *error_r (field unchanged).
 */
int cleanup_rewrite_header(struct buf *field, const char *domain, const char **error_r);

/* cleanup_masquerade - addr with masquerade_domains applied (caller frees). */
char *cleanup_masquerade(const char *addr);

/* cleanup_rewrite_reset - close the tables (tests, and before exit). */
void cleanup_rewrite_reset(void);

#endif
