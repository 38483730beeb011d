/*
 * reply_of.h - what the smtp client's unit tests share: a struct
 * smtp_reply holding a text, as the reply parser leaves it.
 */
#ifndef SLUICE_TEST_REPLY_OF_H
#define SLUICE_TEST_REPLY_OF_H

#include <string.h>

#include "agents/smtp/smtp_reply.h"
#include "util/buf.h"

/* reply_of - a 250 reply with text (the caller frees r->text) */
static inline void reply_of(struct smtp_reply *r, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->code = 250;
	buf_init(&r->text, 64);
	buf_puts(&r->text, text);
}

#endif
