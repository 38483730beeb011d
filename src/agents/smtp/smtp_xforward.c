/*
 * smtp_xforward - XFORWARD announcement parsing and command building (see
 * smtp_xforward.h).
 *
 * Contract: pure functions; every line built ends in CRLF, holds only
 * printable ASCII (xtext leaves nothing else) and is at most
 * SMTP_XFORWARD_LINE_MAX octets long.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/smtp/smtp_cmd.h"
#include "agents/smtp/smtp_reply.h"
#include "agents/smtp/smtp_xforward.h"
#include "util/buf.h"
#include "util/mem.h"

/* The attributes in the order they are sent, and the command each goes in. */
static const struct xfwd_attr {
	int bit;
	const char *name;
	int group;		/* 0: client (name/address), 1: the rest (helo/protocol) */
} attrs[SMTP_XFWD_COUNT] = {
	{SMTP_XFWD_NAME, "NAME", 0},
	{SMTP_XFWD_ADDR, "ADDR", 0},
	{SMTP_XFWD_PORT, "PORT", 0},
	{SMTP_XFWD_PROTO, "PROTO", 1},
	{SMTP_XFWD_HELO, "HELO", 1},
	{SMTP_XFWD_IDENT, "IDENT", 1},
	{SMTP_XFWD_SOURCE, "SOURCE", 1},
};

/* Postfix's names for the two commands, in its "(in reply to ...)" texts. */
static const char *const group_what[2] = {
	"XFORWARD name/address",
	"XFORWARD helo/protocol",
};

#define CMD		"XFORWARD"
#define CMD_LEN		(sizeof(CMD) - 1)
#define CRLF_LEN	2

/* attr_bit - SMTP_XFWD_* of an attribute name (len bytes), 0 if unknown */
static int attr_bit(const char *name, size_t len)
{
	for (size_t i = 0; i < SMTP_XFWD_COUNT; i++)
		if (strlen(attrs[i].name) == len && strncasecmp(attrs[i].name, name, len) == 0)
			return attrs[i].bit;
	return 0;
}

/* smtp_ehlo_xforward - the attributes of the XFORWARD line */
int smtp_ehlo_xforward(const struct smtp_reply *reply)
{
	const char *text = reply->text.data, *end = text + reply->text.len, *line, *eol;
	int mask = 0;

	/* The first line is the server's name and greeting text. */
	line = memchr(text, '\n', reply->text.len);
	while (line != NULL && line < end) {
		line++;
		eol = memchr(line, '\n', (size_t)(end - line));
		const char *le = eol ? eol : end;

		/* "250-XFORWARD NAME ADDR ..." or "250 XFORWARD ..." */
		if (le - line >= 4 + (long)CMD_LEN && strncasecmp(line + 4, CMD, CMD_LEN) == 0
		    && (le - line == 4 + (long)CMD_LEN || line[4 + CMD_LEN] == ' '
			|| line[4 + CMD_LEN] == '\t')) {
			const char *cp = line + 4 + CMD_LEN;

			while (cp < le) {
				while (cp < le && (*cp == ' ' || *cp == '\t' || *cp == '\r'))
					cp++;
				const char *word = cp;

				while (cp < le && *cp != ' ' && *cp != '\t' && *cp != '\r')
					cp++;
				if (cp > word)
					mask |= attr_bit(word, (size_t)(cp - word));
			}
		}
		line = eol;
	}
	return mask;
}

/* value_of - attribute i's value in a, or NULL */
static const char *value_of(const struct smtp_xforward_attrs *a, int bit)
{
	switch (bit) {
	case SMTP_XFWD_NAME:
		return a->name;
	case SMTP_XFWD_ADDR:
		return a->addr;
	case SMTP_XFWD_PORT:
		return a->port;
	case SMTP_XFWD_PROTO:
		return a->proto;
	case SMTP_XFWD_HELO:
		return a->helo;
	case SMTP_XFWD_IDENT:
		return a->ident;
	default:
		return a->source;
	}
}

/* put_line - end the command in cur and add it to cmds */
static void put_line(struct smtp_xforward_cmds *cmds, struct buf *cur, int group)
{
	buf_puts(cur, "\r\n");
	cmds->line[cmds->count] = buf_steal(cur);
	cmds->what[cmds->count] = group_what[group];
	cmds->count++;
}

/* smtp_xforward_cmds_build - Postfix's two commands, split when too long */
void smtp_xforward_cmds_build(const struct smtp_xforward_attrs *a, int mask,
			      struct smtp_xforward_cmds *cmds_r)
{
	struct buf cur, one;

	memset(cmds_r, 0, sizeof(*cmds_r));
	buf_init(&cur, 128);
	buf_init(&one, 128);
	for (int group = 0; group < 2; group++) {
		for (size_t i = 0; i < SMTP_XFWD_COUNT; i++) {
			const struct xfwd_attr *at = &attrs[i];
			const char *v = value_of(a, at->bit);

			if (at->group != group || (mask & at->bit) == 0)
				continue;
			/* " NAME=value", the value xtext-encoded. */
			buf_reset(&one);
			buf_printf(&one, " %s=", at->name);
			smtp_xtext(&one, v && *v ? v : SMTP_XFORWARD_UNAVAILABLE);
			/* A value that cannot fit even alone is not known after all. */
			if (CMD_LEN + one.len + CRLF_LEN > SMTP_XFORWARD_LINE_MAX) {
				buf_reset(&one);
				buf_printf(&one, " %s=%s", at->name, SMTP_XFORWARD_UNAVAILABLE);
			}
			/* No room left on this line: it goes out, a new one starts. */
			if (cur.len > 0 && cur.len + one.len + CRLF_LEN > SMTP_XFORWARD_LINE_MAX)
				put_line(cmds_r, &cur, group);
			if (cur.len == 0)
				buf_puts(&cur, CMD);
			buf_append(&cur, one.data, one.len);
		}
		if (cur.len > 0)
			put_line(cmds_r, &cur, group);
	}
	buf_deinit(&cur);
	buf_deinit(&one);
}

/* smtp_xforward_cmds_deinit - release the lines */
void smtp_xforward_cmds_deinit(struct smtp_xforward_cmds *cmds)
{
	for (size_t i = 0; i < cmds->count; i++)
		XFREE(cmds->line[i]);
	cmds->count = 0;
}
