/*
 * cleanup_checks - header and body checks (see cleanup_checks.h).
 *
 * The tables are one list per parameter, opened on first use and kept
 * open (a rebuilt file or a changed parameter opens them again), as
 * cleanup_rewrite.c keeps its tables.  Looking a line up is the only cost
 * for mail that no rule matches.
 *
 * It does not carry out message-level actions (cleanup_close() does: it
 * knows the queue file) or parse MIME (cleanup_stream.c gives each line
 * its class).
 *
 * DIAGNOSTICS: the action lines Postfix's cleanup logs (msg_info, see the
 * header); a warning for a table that cannot be used and for an action it
 * does not know.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/cleanup/cleanup_checks.h"
#include "global/cleanup/cleanup_stream.h"
#include "global/cleanup/cleanup_table.h"
#include "global/dsn.h"
#include "global/log_envelope.h"
#include "global/maps.h"
#include "global/params.h"
#include "global/rfc822.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* One table list per parameter (cleanup_table.h). */
static struct cleanup_table tables[] = {
	[CLEANUP_HDR_PRIMARY] = {"header_checks", &var_header_checks, NULL, NULL},
	[CLEANUP_HDR_MIME] = {"mime_header_checks", &var_mime_header_checks, NULL, NULL},
	[CLEANUP_HDR_NESTED] = {"nested_header_checks", &var_nested_header_checks, NULL, NULL},
	[CLEANUP_BODY] = {"body_checks", &var_body_checks, NULL, NULL},
};

#define TABLE_COUNT	(sizeof(tables) / sizeof(tables[0]))
#define LOG_TEXT_MAX	200	/* bytes of the line in a log line, as Postfix */

static const char not_available[] = "4.3.0 lookup table not available";

/* cleanup_checks_configured - any checks at all? */
bool cleanup_checks_configured(void)
{
	for (size_t i = 0; i < TABLE_COUNT; i++)
		if (*tables[i].var && **tables[i].var)
			return true;
	return false;
}

/* log_action - "ID: action: header TEXT from ORIGIN; from=<s> to=<r>[: text]" */
static void log_action(const struct cleanup_checks_log *lg, const char *action, int cls,
		       const struct buf *line, const char *text)
{
	struct buf msg, one, esc;

	buf_init(&one, line->len + 1);
	if (cls == CLEANUP_BODY)
		buf_append(&one, line->data, line->len > LOG_TEXT_MAX ? LOG_TEXT_MAX : line->len);
	else
		rfc822_unfold(&one, line->data, line->len);
	if (one.len > LOG_TEXT_MAX)
		buf_truncate(&one, LOG_TEXT_MAX);
	buf_init(&msg, 256);
	buf_init(&esc, 256);
	buf_printf(&msg, "%s: %s: %s %s", lg->queue_id(lg->ctx), action,
		   cls == CLEANUP_BODY ? "body" : "header", log_escape(&esc, one.data ? one.data : ""));
	buf_reset(&esc);
	buf_printf(&msg, " from %s;", log_escape(&esc, lg->origin ? lg->origin : "local"));
	log_envelope(&msg, lg->sender ? lg->sender : "", lg->rcpt, lg->proto, lg->helo);
	if (text && *text) {
		buf_reset(&esc);
		buf_printf(&msg, ": %s", log_escape(&esc, text));
	}
	msg_info("%s", msg.data);
	buf_deinit(&msg);
	buf_deinit(&one);
	buf_deinit(&esc);
}

/*
 * status_text - "X.Y.Z text" for REJECT (cls '5') or DEFER ('4'): the
 * text's own status with its class digit made right, else dflt_status;
 * dflt_text when text is empty.  Caller frees.
 */
static char *status_text(const char *text, char cls, const char *dflt_status,
			 const char *dflt_text)
{
	char status[16];
	size_t n = strcspn(text, " \t");

	if (n > 0 && n < sizeof(status)) {
		memcpy(status, text, n);
		status[n] = 0;
		if (dsn_status_valid(status)) {
			status[0] = cls;
			text += n;
			text += strspn(text, " \t");
			return xasprintf("%s %s", status, *text ? text : dflt_text);
		}
	}
	return xasprintf("%s %s", dflt_status, *text ? text : dflt_text);
}

/* is_header_text - could text stand as one header field? */
static bool is_header_text(const char *text)
{
	return rfc822_header_name_len(text, strlen(text)) > 0 && strchr(text, '\n') == NULL;
}

/* cleanup_checks_apply - one line through its class's tables */
bool cleanup_checks_apply(struct cleanup_verdict *v, int cls, struct buf *text,
			  struct cleanup_stream *s, const struct cleanup_checks_log *lg)
{
	struct cleanup_table *t = &tables[cls];
	const char *value, *err, *arg;
	struct maps *maps;
	char action[16];
	size_t n;
	int rc;

	if (v->error || v->discard)
		return true;
	if (cleanup_table_get(t, &maps) < 0) {
		v->error = xstrdup(not_available);
		return true;
	}
	if (maps == NULL)
		return true;
	rc = maps_lookup(maps, text->data, 0, &value, &err);
	if (rc == MAPS_NOTFOUND)
		return true;
	if (rc == MAPS_ERROR) {
		msg_warn("%s: %s", t->param, err);
		v->error = xstrdup(not_available);
		return true;
	}

	/* "ACTION [argument]" */
	value += strspn(value, " \t");
	n = strcspn(value, " \t");
	arg = value + n + strspn(value + n, " \t");
	if (n >= sizeof(action))
		n = sizeof(action) - 1;
	memcpy(action, value, n);
	action[n] = 0;

	if (strcasecmp(action, "REJECT") == 0) {
		v->error = status_text(arg, '5', "5.7.1", "Message content rejected");
		log_action(lg, "reject", cls, text, v->error);
	} else if (strcasecmp(action, "DEFER") == 0) {
		v->error = status_text(arg, '4', "4.7.1", "Message content deferred");
		log_action(lg, "defer", cls, text, v->error);
	} else if (strcasecmp(action, "DISCARD") == 0) {
		v->discard = true;
		log_action(lg, "discard", cls, text, arg);
	} else if (strcasecmp(action, "HOLD") == 0) {
		v->hold = true;
		log_action(lg, "hold", cls, text, arg);
	} else if (strcasecmp(action, "REDIRECT") == 0 || strcasecmp(action, "BCC") == 0) {
		bool redirect = strcasecmp(action, "REDIRECT") == 0;

		if (*arg == 0 || arg[strcspn(arg, " \t")] != 0) {
			msg_warn("%s: %s needs one address: \"%s\"; ignored", t->param, action, value);
			return true;
		}
		if (redirect) {
			free(v->redirect);
			v->redirect = xstrdup(arg);
		} else {
			if (v->bcc == NULL)
				v->bcc = argv_create();
			argv_add(v->bcc, arg, (char *)NULL);
		}
		log_action(lg, redirect ? "redirect" : "bcc", cls, text, arg);
	} else if (strcasecmp(action, "FILTER") == 0) {
		if (strchr(arg, ':') == NULL || *arg == ':' || arg[strcspn(arg, " \t")] != 0) {
			msg_warn("%s: FILTER needs transport:destination: \"%s\"; ignored", t->param,
				 value);
			return true;
		}
		free(v->filter);
		v->filter = xstrdup(arg);
		log_action(lg, "filter", cls, text, arg);
	} else if (strcasecmp(action, "WARN") == 0) {
		log_action(lg, "warning", cls, text, arg);
	} else if (strcasecmp(action, "INFO") == 0) {
		log_action(lg, "info", cls, text, arg);
	} else if (strcasecmp(action, "PREPEND") == 0 || strcasecmp(action, "REPLACE") == 0) {
		bool prepend = toupper((unsigned char)action[0]) == 'P';

		if (cls != CLEANUP_BODY && !is_header_text(arg)) {
			msg_warn("%s: %s needs a header field: \"%s\"; ignored", t->param, action,
				 value);
			return true;
		}
		if (prepend) {
			cleanup_stream_emit(s, arg, strlen(arg));
			cleanup_stream_emit(s, "\n", 1);
		} else {
			buf_set(text, arg);
		}
	} else if (strcasecmp(action, "IGNORE") == 0) {
		return false;
	} else if (strcasecmp(action, "DUNNO") != 0 && strcasecmp(action, "OK") != 0) {
		msg_warn("%s: unknown action \"%s\"; ignored", t->param, value);
	}
	return true;
}

/* cleanup_verdict_free - release a verdict */
void cleanup_verdict_free(struct cleanup_verdict *v)
{
	free(v->error);
	free(v->filter);
	free(v->redirect);
	argv_free(&v->bcc);
	memset(v, 0, sizeof(*v));
}

/* cleanup_checks_reset - close every table */
void cleanup_checks_reset(void)
{
	for (size_t i = 0; i < TABLE_COUNT; i++)
		cleanup_table_close(&tables[i]);
}
