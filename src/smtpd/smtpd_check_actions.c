/*
 * smtpd_check_actions - DISCARD, HOLD, REDIRECT, BCC, FILTER, PREPEND, WARN
 * and INFO from access tables (see smtpd_check_actions.h).
 *
 * The message-level actions need a transaction: a client or HELO
 * restriction evaluated before MAIL FROM (smtpd_delay_reject = no) has
 * none, and there they are skipped with a warning, as Postfix does.  A
 * malformed argument (REDIRECT or BCC without "@", FILTER without ":", PREPEND
 * that is no header field) is a warning naming the table and the action
 * is skipped, as Postfix does; none of them can open anything a table did
 * not mean to open.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/cleanup/cleanup.h"
#include "global/log_envelope.h"
#include "smtpd_check.h"
#include "smtpd_check_actions.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* smtpd_actions_reset - a new transaction */
void smtpd_actions_reset(struct smtpd_actions *a)
{
	free(a->redirect);
	free(a->filter);
	argv_free(&a->prepend);
	argv_free(&a->bcc);
	a->redirect = a->filter = NULL;
	a->discard = a->hold = false;
}

/* smtpd_actions_apply - to cleanup, before the message */
void smtpd_actions_apply(const struct smtpd_actions *a, struct cleanup *c)
{
	int acts = (a->hold ? CLEANUP_ACT_HOLD : 0) | (a->discard ? CLEANUP_ACT_DISCARD : 0);

	for (size_t i = 0; a->prepend && i < a->prepend->argc; i++)
		cleanup_prepend_header(c, a->prepend->argv[i]);
	for (size_t i = 0; a->bcc && i < a->bcc->argc; i++)
		cleanup_add_bcc(c, a->bcc->argv[i]);
	if (acts || a->redirect || a->filter)
		cleanup_set_actions(c, acts, a->redirect, a->filter);
}

/* smtpd_log_whatsup - one action line in Postfix's shape */
void smtpd_log_whatsup(const struct smtpd_check_ctx *ctx, const char *action, const char *text)
{
	struct buf line, e;

	buf_init(&line, 256);
	buf_init(&e, 128);
	buf_printf(&line, "%s: %s: %s from %s: %s;", ctx->queue_id && *ctx->queue_id
		   ? ctx->queue_id : "NOQUEUE", action, ctx->where ? ctx->where : "CONNECT",
		   ctx->client, log_escape(&e, text));
	log_envelope(&line, ctx->sender, ctx->rcpt, ctx->proto, ctx->helo);
	msg_info("%s", line.data);
	buf_deinit(&e);
	buf_deinit(&line);
}

/* is_header - "name: text": printable name, no space, then a colon */
static bool is_header(const char *text)
{
	const char *p = text;

	while (*p && *p != ':' && isgraph((unsigned char)*p))
		p++;
	return p > text && *p == ':';
}

/* needs_transaction - warn and skip outside a mail transaction */
static bool needs_transaction(const struct smtpd_check_ctx *ctx, const char *table,
			      const char *action)
{
	if (ctx->sender != NULL && ctx->actions != NULL)
		return true;
	msg_warn("access table %s: with smtpd_delay_reject=no, action %s is always skipped "
		 "in client or helo restrictions", table, action);
	return false;
}

/* bad_argument - a malformed action: warn, skip */
static int bad_argument(const char *table, const char *value, const char *needs)
{
	struct buf e;

	buf_init(&e, 64);
	msg_warn("access table %s entry \"%s\" requires %s; action skipped", table,
		 log_escape(&e, value), needs);
	buf_deinit(&e);
	return SMTPD_ACTION_DUNNO;
}

/* smtpd_check_action - the actions that do not answer the command */
int smtpd_check_action(const struct smtpd_check_ctx *ctx, const char *table, const char *value,
		       const char *subject, const char *what)
{
	size_t n = strcspn(value, " \t");
	const char *arg = value + n + strspn(value + n, " \t");
	char word[16];
	struct buf text;
	int rc = SMTPD_ACTION_DUNNO;
	struct smtpd_actions *a = ctx->actions;

	if (n == 0 || n >= sizeof(word))
		return SMTPD_ACTION_NONE;
	memcpy(word, value, n);
	word[n] = 0;
	/* Log only: the text as it is. */
	if (strcasecmp(word, "WARN") == 0 || strcasecmp(word, "INFO") == 0) {
		smtpd_log_whatsup(ctx, strcasecmp(word, "WARN") == 0 ? "warn" : "info", arg);
		return SMTPD_ACTION_DUNNO;
	}
	if (strcasecmp(word, "DISCARD") != 0 && strcasecmp(word, "HOLD") != 0
	    && strcasecmp(word, "REDIRECT") != 0 && strcasecmp(word, "BCC") != 0
	    && strcasecmp(word, "FILTER") != 0
	    && strcasecmp(word, "PREPEND") != 0)
		return SMTPD_ACTION_NONE;
	for (char *p = word; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!needs_transaction(ctx, table, word))
		return SMTPD_ACTION_DUNNO;
	if (strcmp(word, "PREPEND") == 0) {
		if (ctx->where && strcmp(ctx->where, "END-OF-MESSAGE") == 0) {
			msg_warn("access table %s: PREPEND in smtpd_end_of_data_restrictions "
				 "ignored: the message header is already written", table);
			return SMTPD_ACTION_DUNNO;
		}
		/* Not logged, as Postfix: the header is the trace. */
		if (!is_header(arg))
			return bad_argument(table, value, "a header field (name: text)");
		if (a->prepend == NULL)
			a->prepend = argv_create();
		argv_add(a->prepend, arg, (char *)NULL);
		return SMTPD_ACTION_DUNNO;
	}
	if ((strcmp(word, "REDIRECT") == 0 || strcmp(word, "BCC") == 0) && strchr(arg, '@') == NULL)
		return bad_argument(table, value, "a user@domain target");
	if (strcmp(word, "FILTER") == 0 && (strchr(arg, ':') == NULL || *arg == ':'))
		return bad_argument(table, value, "transport:destination");

	/* HOLD once is enough (and logged once). */
	if (strcmp(word, "HOLD") == 0 && a->hold)
		return SMTPD_ACTION_DUNNO;
	buf_init(&text, 128);
	buf_printf(&text, "<%s>: %s ", subject, what);
	if (strcmp(word, "REDIRECT") == 0 || strcmp(word, "BCC") == 0
	    || strcmp(word, "FILTER") == 0)
		buf_printf(&text, "triggers %s %s", word, arg);
	else if (*arg)
		buf_puts(&text, arg);
	else
		buf_printf(&text, "triggers %s action", word);
	if (strcmp(word, "DISCARD") == 0) {
		a->discard = true;
		rc = SMTPD_ACTION_PERMIT;
	} else if (strcmp(word, "HOLD") == 0) {
		a->hold = true;
	} else if (strcmp(word, "REDIRECT") == 0) {
		free(a->redirect);
		a->redirect = xstrdup(arg);
	} else if (strcmp(word, "BCC") == 0) {
		if (a->bcc == NULL)
			a->bcc = argv_create();
		argv_add(a->bcc, arg, (char *)NULL);
	} else {
		free(a->filter);
		a->filter = xstrdup(arg);
	}
	for (char *p = word; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	smtpd_log_whatsup(ctx, word, text.data);
	buf_deinit(&text);
	return rc;
}
