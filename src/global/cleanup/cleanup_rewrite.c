/*
 * cleanup_rewrite - envelope address rewriting (see cleanup_rewrite.h).
 *
 * DIAGNOSTICS: a table that cannot be opened or read is logged as a
 * warning naming the parameter and the table, and returned as
 * "4.3.0 lookup table not available"; an expansion over the limits is
 * logged as a warning and returned as "5.4.6 ...".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/addr.h"
#include "global/addr_map.h"
#include "global/cleanup/cleanup_rewrite.h"
#include "global/cleanup/cleanup_table.h"
#include "global/maps.h"
#include "global/params.h"
#include "global/rfc822.h"
#include "util/buf.h"
#include "util/argv.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define CANON_LIMIT	10		/* canonical results rewritten again, at most */

enum { T_SENDER_CANON, T_RCPT_CANON, T_CANON, T_VIRTUAL, T_SENDER_BCC, T_RCPT_BCC, T_COUNT };

/* One table list per parameter, opened on first use (cleanup_table.h). */
static struct cleanup_table tables[T_COUNT] = {
	[T_SENDER_CANON] = {"sender_canonical_maps", &var_sender_canonical_maps, NULL, NULL},
	[T_RCPT_CANON] = {"recipient_canonical_maps", &var_recipient_canonical_maps, NULL, NULL},
	[T_CANON] = {"canonical_maps", &var_canonical_maps, NULL, NULL},
	[T_VIRTUAL] = {"virtual_alias_maps", &var_virtual_alias_maps, NULL, NULL},
	[T_SENDER_BCC] = {"sender_bcc_maps", &var_sender_bcc_maps, NULL, NULL},
	[T_RCPT_BCC] = {"recipient_bcc_maps", &var_recipient_bcc_maps, NULL, NULL},
};

static const char not_available[] = "4.3.0 lookup table not available";

/* lookup - addr_map_lookup on one parameter's tables; warns on errors */
static int lookup(int which, const char *addr, int flags, char **result_r)
{
	struct maps *m;
	const char *err;
	int rc;

	if (cleanup_table_get(&tables[which], &m) < 0)
		return MAPS_ERROR;
	if (m == NULL)
		return MAPS_NOTFOUND;
	rc = addr_map_lookup(m, addr, flags, result_r, &err);
	if (rc == MAPS_ERROR)
		msg_warn("%s lookup of \"%s\": %s", tables[which].param, addr, err);
	return rc;
}

/* in_classes - does the class list name cls? */
static bool in_classes(const char *list, const char *cls)
{
	struct argv *a = argv_split(list ? list : "", ", \t\r\n");
	bool found = false;

	for (size_t i = 0; i < a->argc && !found; i++)
		found = strcmp(a->argv[i], cls) == 0;
	argv_free(&a);
	return found;
}

/*
 * split_result - the addresses of a table's answer (external form, as
 * Postfix reads canonical(5) and virtual(5) values: quoted local parts
 * may hold commas) in internal form.  Caller frees.
 */
static struct argv *split_result(const char *param, const char *result)
{
	struct argv *a = argv_create();
	const char *error;

	if (rfc822_addr_list(result, a, &error) < 0)
		msg_warn("%s: malformed address in table value \"%s\": %s", param, result, error);
	return a;
}

/* first_address - the first item of a result list (canonical is 1:1) */
static char *first_address(const char *param, const char *addr, char *result)
{
	struct argv *a = split_result(param, result);
	char *one;

	if (a->argc > 1)
		msg_warn("%s: multi-valued result for \"%s\": using the first address",
			 param, addr);
	one = xstrdup(a->argc ? a->argv[0] : addr);
	argv_free(&a);
	free(result);
	return one;
}

/* canonical - one table list, applied until the answer stops changing */
static int canonical(int which, char **addr_p)
{
	char *res;
	int rc;

	for (int n = 0; n < CANON_LIMIT; n++) {
		rc = lookup(which, *addr_p,
			    addr_map_propagates("canonical") ? ADDR_MAP_PROPAGATE : 0, &res);
		if (rc == MAPS_ERROR)
			return -1;
		if (rc == MAPS_NOTFOUND)
			return 0;
		res = first_address(tables[which].param, *addr_p, res);
		if (str_casecmp_ascii(res, *addr_p) == 0) {
			free(res);
			return 0;
		}
		free(*addr_p);
		*addr_p = res;
	}
	msg_warn("%s: unreasonable nesting for \"%s\"", tables[which].param, *addr_p);
	return 0;
}

/* cleanup_masquerade - strip subdomains per masquerade_domains */
char *cleanup_masquerade(const char *addr)
{
	const char *at = strrchr(addr, '@');
	struct argv *list;
	char *out = NULL, *user;
	size_t dlen;

	if (at == NULL || !var_masquerade_domains || !*var_masquerade_domains)
		return xstrdup(addr);
	user = xstrndup(addr, (size_t)(at - addr));
	if (var_masquerade_exceptions && *var_masquerade_exceptions) {
		struct argv *ex = argv_split(var_masquerade_exceptions, ", \t\r\n");
		bool skip = false;

		for (size_t i = 0; i < ex->argc && !skip; i++)
			skip = str_casecmp_ascii(ex->argv[i], user) == 0;
		argv_free(&ex);
		if (skip) {
			free(user);
			return xstrdup(addr);
		}
	}
	dlen = strlen(at + 1);
	list = argv_split(var_masquerade_domains, ", \t\r\n");
	for (size_t i = 0; i < list->argc; i++) {
		const char *m = list->argv[i];
		bool excluded = *m == '!';
		size_t mlen;

		m += excluded;
		mlen = strlen(m);
		if (mlen == 0)
			continue;
		/* The domain itself: nothing to strip, and the search ends. */
		if (mlen == dlen && str_casecmp_ascii(m, at + 1) == 0)
			break;
		if (mlen < dlen && at[1 + dlen - mlen - 1] == '.'
		    && str_casecmp_ascii(m, at + 1 + dlen - mlen) == 0) {
			if (!excluded)
				out = xasprintf("%s@%s", user, m);
			break;
		}
	}
	argv_free(&list);
	free(user);
	return out ? out : xstrdup(addr);
}

/*
 * rewrite - for one class of address: the own table (sender_ or
 * recipient_canonical_maps, when own_classes has the class), canonical_maps
 * (canonical_classes), then masquerading (masquerade_classes).
 */
static int rewrite(const char *addr, int own, const char *own_classes, const char *cls,
		   char **out_r, const char **error_r)
{
	char *a = xstrdup(addr);

	if (*a != 0 && ((in_classes(own_classes, cls) && canonical(own, &a) < 0)
			|| (in_classes(var_canonical_classes, cls) && canonical(T_CANON, &a) < 0))) {
		free(a);
		*error_r = not_available;
		return REWRITE_ERROR;
	}
	if (*a != 0 && in_classes(var_masquerade_classes, cls)) {
		char *m = cleanup_masquerade(a);

		free(a);
		a = m;
	}
	*out_r = a;
	return 0;
}

/* cleanup_rewrite_sender - envelope sender */
int cleanup_rewrite_sender(const char *sender, char **out_r, const char **error_r)
{
	return rewrite(sender, T_SENDER_CANON, var_sender_canonical_classes, "envelope_sender",
		       out_r, error_r);
}

/* cleanup_rewrite_rcpt - envelope recipient */
int cleanup_rewrite_rcpt(const char *rcpt, char **out_r, const char **error_r)
{
	return rewrite(rcpt, T_RCPT_CANON, var_recipient_canonical_classes, "envelope_recipient",
		       out_r, error_r);
}

/* ---- header addresses ---- */

/* Postfix's sender and recipient header fields (its header_opts table). */
static const char *const sender_headers[] = {
	"From", "Sender", "Reply-To", "Errors-To", "Return-Receipt-To",
	"Disposition-Notification-To", "Mail-Followup-To", "Return-Path",
	"Resent-From", "Resent-Sender", NULL
};
static const char *const rcpt_headers[] = {
	"To", "Cc", "Bcc", "Apparently-To", "Resent-To", "Resent-Cc", "Resent-Bcc",
	"Resent-Reply-To", NULL
};

/* name_in - is the field name name[0..len) in list (any case)? */
static bool name_in(const char *name, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == len && strncasecmp(*list, name, len) == 0)
			return true;
	return false;
}

/* cleanup_header_class - which address class a header field is */
int cleanup_header_class(const char *field, size_t len)
{
	size_t n = rfc822_header_name_len(field, len);

	if (n == 0)
		return CLEANUP_HDR_CLASS_NONE;
	if (name_in(field, n, sender_headers))
		return CLEANUP_HDR_CLASS_SENDER;
	if (name_in(field, n, rcpt_headers))
		return CLEANUP_HDR_CLASS_RCPT;
	return CLEANUP_HDR_CLASS_NONE;
}

/* One header field being rewritten. */
struct header_walk {
	int cls;
	const char *domain;		/* for incomplete addresses; NULL: $myorigin */
	const char *error;		/* a table failed */
};

/* header_qualify - an incomplete address completed as Postfix's trivial-rewrite
 * does in the header's context. Caller frees. */
static char *header_qualify(const struct header_walk *w, const char *addr)
{
	char *q = addr_qualify(addr, w->domain ? w->domain : var_myorigin), *at, *dotted;

	/* append_dot_mydomain: local context only. */
	if (w->domain == NULL && var_append_dot_mydomain && var_mydomain && *var_mydomain
	    && (at = strrchr(q, '@')) != NULL && at[1] && at[1] != '['
	    && strchr(at + 1, '.') == NULL) {
		dotted = xasprintf("%s.%s", q, var_mydomain);
		free(q);
		q = dotted;
	}
	return q;
}

/* header_addr - rfc822_rewrite_fn: one address of a sender or recipient field */
static char *header_addr(void *ctx, const char *addr)
{
	struct header_walk *w = ctx;
	char *q, *out;
	const char *err;
	int rc;

	if (w->error)
		return NULL;
	q = header_qualify(w, addr);
	if (w->cls == CLEANUP_HDR_CLASS_SENDER)
		rc = rewrite(q, T_SENDER_CANON, var_sender_canonical_classes, "header_sender",
			     &out, &err);
	else
		rc = rewrite(q, T_RCPT_CANON, var_recipient_canonical_classes, "header_recipient",
			     &out, &err);
	free(q);
	if (rc < 0) {
		w->error = err;
		return NULL;
	}
	return out;
}

/* cleanup_rewrite_header - the addresses of one sender or recipient field */
int cleanup_rewrite_header(struct buf *field, const char *domain, const char **error_r)
{
	struct header_walk w = {.cls = cleanup_header_class(field->data, field->len),
				.domain = domain};
	const char *colon;
	struct buf out;
	size_t head;
	int changed;

	if (w.cls == CLEANUP_HDR_CLASS_NONE || memchr(field->data, 0, field->len) != NULL)
		return 0;
	colon = memchr(field->data, ':', field->len);
	head = (size_t)(colon + 1 - field->data);
	buf_init(&out, field->len + 64);
	buf_append(&out, field->data, head);
	changed = rfc822_addr_list_rewrite(buf_str(field) + head, header_addr, &w, &out);
	if (w.error) {
		buf_deinit(&out);
		*error_r = w.error;
		return REWRITE_ERROR;
	}
	if (changed > 0) {
		buf_reset(field);
		buf_append(field, out.data, out.len);
	}
	buf_deinit(&out);
	return changed;
}

/* The state of one expansion. */
struct expansion {
	const char *rcpt;		/* the recipient being expanded, for messages */
	struct argv *out;
	struct argv *path;		/* lower-cased addresses being expanded now */
	struct htable *done;		/* lower-cased addresses expanded or kept */
	const char **error_r;
};

/* keep - a final address (once) */
static void keep(struct expansion *x, const char *addr, const char *key)
{
	if (htable_find(x->done, key) == NULL) {
		htable_enter(x->done, key, x);
		argv_add(x->out, addr, (char *)NULL);
	}
}

/* expand - depth first; a loop ends where it closes (the address is kept) */
static int expand(struct expansion *x, const char *addr, long depth)
{
	static char why[300];
	char *key = str_lower(xstrdup(addr)), *res;
	int rc = 0, lr;

	if (depth > var_virtual_alias_recursion_limit) {
		msg_warn("unreasonable virtual_alias_maps map nesting for %s", x->rcpt);
		snprintf(why, sizeof(why), "5.4.6 virtual alias expansion of %.200s nests deeper "
			 "than virtual_alias_recursion_limit", x->rcpt);
		*x->error_r = why;
		free(key);
		return REWRITE_LIMIT;
	}
	for (size_t i = 0; i < x->path->argc; i++) {
		if (strcmp(x->path->argv[i], key) == 0) {
			msg_info("virtual_alias_maps: loop at %s in the expansion of %s", addr,
				 x->rcpt);
			keep(x, addr, key);
			free(key);
			return 0;
		}
	}
	if (htable_find(x->done, key) != NULL) {	/* a duplicate */
		free(key);
		return 0;
	}
	lr = lookup(T_VIRTUAL, addr, addr_map_propagates("virtual") ? ADDR_MAP_PROPAGATE : 0,
		    &res);
	if (lr == MAPS_ERROR) {
		*x->error_r = not_available;
		rc = REWRITE_ERROR;
	} else if (lr == MAPS_NOTFOUND) {
		keep(x, addr, key);
	} else {
		struct argv *r = split_result(tables[T_VIRTUAL].param, res);

		free(res);
		argv_add(x->path, key, (char *)NULL);
		for (size_t j = 0; j < r->argc && rc == 0; j++) {
			/* Results without a domain are in $myorigin, as Postfix. */
			char *q = addr_qualify(r->argv[j], var_myorigin);

			/* A self-reference ("a -> a, b") is a final address. */
			if (str_casecmp_ascii(q, addr) == 0)
				keep(x, q, key);
			else
				rc = expand(x, q, depth + 1);
			free(q);
			if (rc == 0 && (long)x->out->argc > var_virtual_alias_expansion_limit) {
				msg_warn("unreasonable virtual_alias_maps map expansion size for %s",
					 x->rcpt);
				snprintf(why, sizeof(why), "5.4.6 virtual alias expansion of %.200s "
					 "exceeds virtual_alias_expansion_limit", x->rcpt);
				*x->error_r = why;
				rc = REWRITE_LIMIT;
			}
		}
		argv_free(&r);
		free(x->path->argv[--x->path->argc]);
		x->path->argv[x->path->argc] = NULL;
		if (htable_find(x->done, key) == NULL)
			htable_enter(x->done, key, x);
	}
	free(key);
	return rc;
}

/* cleanup_virtual_expand - virtual_alias_maps, recursively */
int cleanup_virtual_expand(const char *rcpt, struct argv *out, const char **error_r)
{
	struct expansion x = {rcpt, out, argv_create(), htable_create(16), error_r};
	int rc = expand(&x, rcpt, 0);

	argv_free(&x.path);
	htable_free(&x.done, NULL);
	return rc;
}

/* bcc - one BCC table list */
static int bcc(int which, const char *addr, struct argv *out, const char **error_r)
{
	char *res;
	int rc;

	if (*addr == 0)
		return 0;
	rc = lookup(which, addr, 0, &res);
	if (rc == MAPS_ERROR) {
		*error_r = not_available;
		return REWRITE_ERROR;
	}
	if (rc == MAPS_FOUND) {
		struct argv *r = split_result(tables[which].param, res);

		for (size_t j = 0; j < r->argc; j++)
			argv_add(out, r->argv[j], (char *)NULL);
		argv_free(&r);
		free(res);
	}
	return 0;
}

int cleanup_bcc_sender(const char *sender, struct argv *out, const char **error_r)
{
	return bcc(T_SENDER_BCC, sender, out, error_r);
}

int cleanup_bcc_rcpt(const char *rcpt, struct argv *out, const char **error_r)
{
	return bcc(T_RCPT_BCC, rcpt, out, error_r);
}

/* cleanup_rewrite_reset - close every table */
void cleanup_rewrite_reset(void)
{
	for (int i = 0; i < T_COUNT; i++)
		cleanup_table_close(&tables[i]);
}
