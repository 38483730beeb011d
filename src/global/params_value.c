/*
 * params_value - typed values of parameter rows: conversion with range checks,
 * the extra syntax checks of string parameters, concurrency feedback values,
 * and the docs/PARAMETERS.md generator (contract in params.h).
 *
 * Every error text names the value as written and what would be legal, so
 * that mail_conf can prefix "FILE:LINE: NAME: " and the postmaster needs no
 * manual: `bad numerical value "-3" (must be >= 1)`, `bad time value "soon"`.
 * A bad value is an error, never replaced by the default (docs/CONTRACT.md).
 *
 * DIAGNOSTICS: none logged; texts are returned (borrowed until the next call).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/params.h"
#include "global/timefmt.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

static char why_buf[1024];

/* time_text - "300s" style text of a second count in a row's terms */
static void time_text(char *out, size_t len, long seconds)
{
	snprintf(out, len, "%lds", seconds);
}

/* range_why - the "(must be ...)" part for a numeric row */
static int range_fail(const struct param_def *p, const char *what, const char *value,
		      long v, const char **why_r)
{
	char bound[64];
	bool low = v < p->min;
	long b = low ? p->min : p->max;

	if (p->type == PARAM_TIME)
		time_text(bound, sizeof(bound), b);
	else
		snprintf(bound, sizeof(bound), "%ld", b);
	snprintf(why_buf, sizeof(why_buf), "bad %s value \"%s\" (must be %s %s)",
		 what, value, low ? ">=" : "<=", bound);
	*why_r = why_buf;
	return -1;
}

/* params_convert - text to typed value with checks */
int params_convert(const struct param_def *p, const char *value,
		   union param_value *value_r, const char **why_r)
{
	const char *what = NULL;
	const char *hint = NULL;
	long v = 0;
	bool ok;

	switch (p->type) {
	case PARAM_STR:
	case PARAM_LIST:
		if (p->check && p->check(value, &hint) < 0) {
			snprintf(why_buf, sizeof(why_buf), "bad value \"%s\" (%s)", value, hint);
			*why_r = why_buf;
			return -1;
		}
		return 0;
	case PARAM_BOOL:
		if (timefmt_parse_bool(value, &value_r->flag) < 0) {
			snprintf(why_buf, sizeof(why_buf),
				 "bad boolean value \"%s\" (must be yes or no)", value);
			*why_r = why_buf;
			return -1;
		}
		return 0;
	case PARAM_INT:
		what = "numerical";
		ok = timefmt_parse_long(value, &v) == 0;
		break;
	case PARAM_TIME:
		what = "time";
		ok = timefmt_parse_time(value, p->unit ? p->unit : 's', &v) == 0;
		break;
	case PARAM_SIZE:
		what = "size";
		ok = timefmt_parse_size(value, &v) == 0;
		break;
	default:
		msg_panic("params_convert: %s: unknown type %d", p->name, (int)p->type);
	}
	if (!ok) {
		snprintf(why_buf, sizeof(why_buf), "bad %s value \"%s\"", what, value);
		*why_r = why_buf;
		return -1;
	}
	if (v < p->min || (p->max != 0 && v > p->max))
		return range_fail(p, what, value, v, why_r);
	value_r->num = v;
	return 0;
}

/* params_assign - store into the row's C variable */
void params_assign(const struct param_def *p, const char *text, const union param_value *value)
{
	switch (p->type) {
	case PARAM_STR:
	case PARAM_LIST:
		*(const char **)p->var = text;
		break;
	case PARAM_BOOL:
		*(bool *)p->var = value->flag;
		break;
	default:
		*(long *)p->var = value->num;
		break;
	}
}

/* params_type_name - for docs */
const char *params_type_name(enum param_type type)
{
	static const char *names[] = {"string", "list", "integer", "time", "size", "boolean"};

	if ((unsigned)type >= sizeof(names) / sizeof(names[0]))
		msg_panic("params_type_name: bad type %d", (int)type);
	return names[type];
}

/* parse_decimal - "1", "0.5", "10" strictly; returns the end or NULL */
static const char *parse_decimal(const char *s, double *value_r)
{
	const char *cp = s;
	char *end;

	if (!isdigit((unsigned char)*cp))
		return NULL;
	while (isdigit((unsigned char)*cp))
		cp++;
	if (*cp == '.') {
		cp++;
		if (!isdigit((unsigned char)*cp))
			return NULL;
		while (isdigit((unsigned char)*cp))
			cp++;
	}
	*value_r = strtod(s, &end);
	return end == cp ? cp : NULL;
}

/* params_feedback_parse - N, N/M, N/concurrency */
int params_feedback_parse(const char *value, struct param_feedback *fb_r, const char **why_r)
{
	struct param_feedback fb = {0, false};
	const char *cp;
	double den;

	if ((cp = parse_decimal(value, &fb.base)) == NULL)
		goto bad;
	if (*cp == '/') {
		cp++;
		if (strcmp(cp, "concurrency") == 0) {
			fb.per_concurrency = true;
			cp += strlen(cp);
		} else if (strcmp(cp, "sqrt_concurrency") == 0) {
			*why_r = "N/sqrt_concurrency is nqmgr only; use N, N/M or N/concurrency";
			return -1;
		} else {
			if ((cp = parse_decimal(cp, &den)) == NULL || den <= 0)
				goto bad;
			fb.base /= den;
		}
	}
	if (*cp != 0)
		goto bad;
	if (fb.base < 0 || fb.base > 1) {
		*why_r = "the value must be between 0 and 1";
		return -1;
	}
	*fb_r = fb;
	return 0;

bad:
	*why_r = "must be N, N/M or N/concurrency";
	return -1;
}

/* params_check_feedback - table check for feedback rows */
int params_check_feedback(const char *value, const char **hint_r)
{
	struct param_feedback fb;

	return params_feedback_parse(value, &fb, hint_r);
}

/* check_words - every list item is one of allowed (case-insensitive) */
static int check_words(const char *value, const char *const *allowed, bool empty_ok,
		       const char *hint, const char **hint_r)
{
	char *copy = xstrdup(value), *cp = copy, *word;
	int count = 0, r = 0;

	while (r == 0 && (word = str_token(&cp, ", \t")) != NULL) {
		const char *const *ap;

		count++;
		for (ap = allowed; *ap; ap++)
			if (str_casecmp_ascii(word, *ap) == 0)
				break;
		if (*ap == NULL)
			r = -1;
	}
	free(copy);
	if (r == 0 && count == 0 && !empty_ok)
		r = -1;
	if (r < 0)
		*hint_r = hint;
	return r;
}

/* check_one - the whole value is one of allowed (exact) */
static int check_one(const char *value, const char *const *allowed,
		     const char *hint, const char **hint_r)
{
	for (const char *const *ap = allowed; *ap; ap++)
		if (strcmp(value, *ap) == 0)
			return 0;
	*hint_r = hint;
	return -1;
}

/* params_check_dns_support_level - smtp_dns_support_level */
int params_check_dns_support_level(const char *value, const char **hint_r)
{
	static const char *const levels[] = {"", "disabled", "enabled", "dnssec", NULL};

	return check_one(value, levels, "must be empty, disabled, enabled or dnssec", hint_r);
}

/* params_check_tls_level - smtp_tls_security_level */
int params_check_tls_level(const char *value, const char **hint_r)
{
	static const char *const levels[] = {"",       "none",   "may",       "encrypt",
					     "verify", "secure", "dane",      "dane-only",
					     NULL};

	return check_one(value, levels,
			 "must be empty, none, may, encrypt, verify, secure, dane or dane-only",
			 hint_r);
}

/* params_check_smtpd_tls_level - smtpd_tls_security_level */
int params_check_smtpd_tls_level(const char *value, const char **hint_r)
{
	static const char *const levels[] = {"", "none", "may", "encrypt", NULL};

	return check_one(value, levels, "must be empty, none, may or encrypt", hint_r);
}

/* params_check_host_lookup - smtp_host_lookup */
int params_check_host_lookup(const char *value, const char **hint_r)
{
	static const char *const words[] = {"dns", "native", NULL};

	return check_words(value, words, false, "must be dns, native or both", hint_r);
}

/* params_check_notify_classes - notify_classes */
int params_check_notify_classes(const char *value, const char **hint_r)
{
	static const char *const words[] = {"bounce", "2bounce", "data", "delay", "policy",
					    "protocol", "resource", "software", NULL};

	return check_words(value, words, true,
			   "items must be bounce, 2bounce, data, delay, policy, protocol, "
			   "resource or software", hint_r);
}

/* params_check_queue_names - hash_queue_names */
int params_check_queue_names(const char *value, const char **hint_r)
{
	static const char *const words[] = {"incoming", "active", "deferred", "hold", "corrupt",
					    "bounce", "defer", "trace", "maildrop", NULL};

	return check_words(value, words, true, "items must be queue folder names such as "
			   "deferred, defer, bounce, trace, active, incoming, hold", hint_r);
}

/* params_check_mail_to - allow_mail_to_commands/files */
int params_check_mail_to(const char *value, const char **hint_r)
{
	static const char *const words[] = {"alias", "forward", "include", NULL};

	return check_words(value, words, true, "items must be alias, forward or include", hint_r);
}

/* params_check_rewrite_clients - local_header_rewrite_clients */
int params_check_rewrite_clients(const char *value, const char **hint_r)
{
	static const char hint[] = "items must be permit_inet_interfaces, permit_mynetworks, "
		"permit_sasl_authenticated or check_address_map type:table";
	char *copy = xstrdup(value), *cp = copy, *word;
	int r = 0;

	while (r == 0 && (word = str_token(&cp, ", \t\r\n")) != NULL) {
		if (str_casecmp_ascii(word, "permit_inet_interfaces") == 0
		    || str_casecmp_ascii(word, "permit_mynetworks") == 0
		    || str_casecmp_ascii(word, "permit_sasl_authenticated") == 0)
			continue;
		if (str_casecmp_ascii(word, "check_address_map") == 0
		    && (word = str_token(&cp, ", \t\r\n")) != NULL && strchr(word, ':') != NULL)
			continue;
		r = -1;
	}
	free(copy);
	if (r < 0)
		*hint_r = hint;
	return r;
}

/* params_check_addr_classes - canonical_classes, masquerade_classes */
int params_check_addr_classes(const char *value, const char **hint_r)
{
	static const char *const words[] = {"envelope_sender", "envelope_recipient",
					    "header_sender", "header_recipient", NULL};

	return check_words(value, words, true, "items must be envelope_sender, "
			   "envelope_recipient, header_sender or header_recipient", hint_r);
}

/* params_check_propagate - propagate_unmatched_extensions */
int params_check_propagate(const char *value, const char **hint_r)
{
	static const char *const words[] = {"canonical", "virtual", "alias", "forward",
					    "include", "generic", NULL};

	return check_words(value, words, true, "items must be canonical, virtual, alias, "
			   "forward, include or generic", hint_r);
}

/* params_check_syslog_facility - the facility names syslog knows */
int params_check_syslog_facility(const char *value, const char **hint_r)
{
	static const char *const names[] = {
		"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news",
		"syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4",
		"local5", "local6", "local7", NULL};

	return check_one(value, names, "must be a syslog facility such as mail, daemon, "
			 "local0 .. local7", hint_r);
}

/* params_check_address_format - info_log_address_format */
int params_check_address_format(const char *value, const char **hint_r)
{
	static const char *const names[] = {"external", "internal", NULL};

	return check_one(value, names, "must be external or internal", hint_r);
}

/* params_check_inet_protocols - inet_protocols */
int params_check_inet_protocols(const char *value, const char **hint_r)
{
	static const char *const words[] = {"all", "ipv4", "ipv6", NULL};

	return check_words(value, words, false, "must be all, ipv4, ipv6 or both", hint_r);
}

/* params_check_address_preference - smtp_address_preference */
int params_check_address_preference(const char *value, const char **hint_r)
{
	static const char *const names[] = {"any", "ipv4", "ipv6", NULL};

	return check_one(value, names, "must be any, ipv4 or ipv6", hint_r);
}

/* md_text - append text with the characters markdown tables care about escaped */
static void md_text(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '*' || *s == '_' || *s == '<' || *s == '>' || *s == '\\'
		    || *s == '`' || *s == '[' || *s == ']')
			buf_putc(out, '\\');
		buf_putc(out, *s);
	}
}

/* by_name - qsort order of rows */
static int by_name(const void *a, const void *b)
{
	const struct param_def *const *pa = a, *const *pb = b;

	return strcmp((*pa)->name, (*pb)->name);
}

/* params_doc_markdown - generate docs/PARAMETERS.md */
void params_doc_markdown(struct buf *out)
{
	const struct param_def *table, **rows;
	size_t count;

	table = params_table(&count);
	rows = xcalloc(count, sizeof(*rows));
	for (size_t i = 0; i < count; i++)
		rows[i] = &table[i];
	qsort(rows, count, sizeof(*rows), by_name);

	buf_puts(out,
		 "# sluice configuration parameters\n"
		 "\n"
		 "<!-- Generated by \"sluice config -d --doc\" from src/global/params.c; "
		 "do not edit by hand. -->\n"
		 "\n"
		 "sluice reads `main.cf` from its configuration directory (`sluice -c DIR`, "
		 "`$SLUICE_CONFIG_DIR`, else `/etc/sluice`), with Postfix's syntax: "
		 "`name = value`, `#` comments, continuation lines that start with white space, "
		 "later lines win, and `$name`, `${name}`, `${name?value}`, `${name:value}` "
		 "expansion. A bad value is an error that names the file, line and parameter; "
		 "it never falls back to the default.\n"
		 "\n"
		 "Value types: *time* values take one unit letter (`s`, `m`, `h`, `d`, `w`; a bare "
		 "number is in the unit of the default, usually seconds); *size* values are bytes; "
		 "*boolean* values are `yes` or `no`; *list* values are separated by commas or "
		 "white space.\n"
		 "\n"
		 "Per-transport parameters can be overridden for one master.cf service as "
		 "`<transport>_<suffix>` (for example `smtp_destination_concurrency_limit`); "
		 "the override is looked up in main.cf, then in that service's `-o` options, "
		 "then the global value applies.\n"
		 "\n"
		 "| Parameter | Type | Default | Description |\n"
		 "|---|---|---|---|\n");
	for (size_t i = 0; i < count; i++) {
		const struct param_def *p = rows[i];

		buf_puts(out, "| `");
		buf_puts(out, p->name);
		buf_puts(out, "` | ");
		buf_puts(out, params_type_name(p->type));
		buf_puts(out, " | ");
		if (p->def_doc) {
			buf_putc(out, '*');
			md_text(out, p->def_doc);
			buf_putc(out, '*');
		} else if (p->def == NULL || *p->def == 0) {
			buf_puts(out, "*(empty)*");
		} else {
			buf_putc(out, '`');
			buf_puts(out, p->def);
			buf_putc(out, '`');
		}
		buf_puts(out, " | ");
		if (p->flags & PARAM_F_OBSOLETE)
			buf_puts(out, "**Obsolete: ignored, with a warning when set.** ");
		if (p->flags & PARAM_F_UNSUPPORTED) {
			buf_puts(out, "**Not acted on by sluice (a warning when set): ");
			md_text(out, p->unsupported ? p->unsupported : "not implemented");
			buf_puts(out, ".** ");
		}
		md_text(out, p->doc);
		if (p->type == PARAM_INT || p->type == PARAM_TIME || p->type == PARAM_SIZE) {
			char lo[64], hi[64];

			if (p->type == PARAM_TIME) {
				time_text(lo, sizeof(lo), p->min);
				time_text(hi, sizeof(hi), p->max);
			} else {
				snprintf(lo, sizeof(lo), "%ld", p->min);
				snprintf(hi, sizeof(hi), "%ld", p->max);
			}
			if (p->max)
				buf_printf(out, " Range: %s to %s.", lo, hi);
			else if (p->min)
				buf_printf(out, " Minimum: %s.", lo);
		}
		if (p->flags & PARAM_F_PER_TRANSPORT) {
			buf_puts(out, " Per transport: `<transport>_");
			buf_puts(out, params_transport_suffix(p));
			buf_puts(out, "`.");
		}
		buf_puts(out, " |\n");
	}
	free(rows);
}
