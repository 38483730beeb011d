/*
 * rfc822 - message header helpers (RFC 5322, with the obsolete syntax that
 * real mail still carries): recognising header fields, unfolding, pulling
 * the addresses out of To/Cc/Bcc-style address lists, dates and display
 * names for the headers cleanup adds.
 *
 * Addresses come out in sluice's internal form (see addr.h): local part
 * unquoted, domain in lower case.  An address without "@domain" is
 * returned as it is (cleanup qualifies it with myorigin).
 */
#ifndef SLUICE_RFC822_H
#define SLUICE_RFC822_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct argv;
struct buf;

/*
 * rfc822_header_name_len - when line[0..len) starts a header field
 * ("Name:" where Name is printable ASCII without ':', optionally followed
 * by white space before the colon as the obsolete syntax allows), return
 * the length of Name; otherwise 0.
 */
size_t rfc822_header_name_len(const char *line, size_t len);

/* rfc822_header_is - is hdr ("Name: value...") a field called name (any case)? */
bool rfc822_header_is(const char *hdr, const char *name);

/* rfc822_header_value - the value of hdr after the colon and leading white
 * space. Borrowed from hdr; hdr must be a header field. */
const char *rfc822_header_value(const char *hdr);

/*
 * rfc822_unfold - append hdr[0..len) to out with each line break (LF or
 * CRLF) that is followed by a space or tab removed (RFC 5322 2.2.3).
 */
void rfc822_unfold(struct buf *out, const char *hdr, size_t len);

/*
 * rfc822_addr_list - parse an address-list header value (mailboxes with or
 * without display names, comments, quoted strings, groups, source routes)
 * and append each address, in internal form, to addrs.  "<>" and empty
 * groups add nothing.  An address without "@domain" whose quoted local
 * part holds "@" is malformed (internal form could not tell it apart from
 * an address at the text after that "@").  Returns the number of addresses appended, or -1
 * with *error_r (static) when some element was malformed; the well-formed
 * elements are appended all the same (Postfix extracts what it can).
 */
int rfc822_addr_list(const char *value, struct argv *addrs, const char **error_r);

/*
 * rfc822_rewrite_fn - given one address of a list (internal form), return
 * its replacement (internal form; caller frees, i.e. the rewriter frees
 * it) or NULL to leave it alone.
 */
typedef char *rfc822_rewrite_fn(void *ctx, const char *addr);

/*
 * rfc822_addr_list_rewrite - append value to out with the addr-spec of
 * every well-formed address that fn changes replaced by the new address in
 * external form (addr_quote()); everything else - display names, comments,
 * route prefixes, group names, white space and line folds, malformed
 * elements - is copied byte for byte.  value is an address-list header
 * value, folded or not.  Returns how many addresses were replaced.
 */
int rfc822_addr_list_rewrite(const char *value, rfc822_rewrite_fn *fn, void *ctx,
			     struct buf *out);

/* rfc822_date - append when as an RFC 5322 date in local time, Postfix's
 * shape ("Tue, 28 Nov 2023 10:00:00 +0100 (CET)"); returns buf_str(out). */
const char *rfc822_date(struct buf *out, time_t when);

/*
 * rfc822_append_phrase - append a display name, as atoms when it is made
 * of atext and spaces, otherwise as a quoted string.  Control characters
 * (CR, LF...) become spaces so that the text can never start a new header.
 */
void rfc822_append_phrase(struct buf *out, const char *phrase);

#endif
