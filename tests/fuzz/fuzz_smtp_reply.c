/*
 * fuzz_smtp_reply - libFuzzer target for the SMTP reply parser
 * (src/agents/smtp/smtp_reply.c), which reads whatever a remote server
 * sends.
 *
 * The first two input bytes choose a chunk size and small or default
 * limits; the rest is server output.  It is parsed once in one piece and
 * once in chunks; both must give the same replies (code, status, text,
 * line count, truncation) and end the same way.  Every complete reply must
 * keep the contract: code 200..599, at least one line, no more than
 * max_lines lines or max_text bytes of text, an enhanced status whose class
 * digit is the code's first digit, a one-line rendering without newlines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/smtp/smtp_reply.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_smtp_reply: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

#define MAX_REPLIES 64

/* What one parse produced. */
struct result {
	size_t count;
	struct {
		int code;
		char status[16];
		bool enhanced, truncated;
		size_t lines;
		char *text;
	} r[MAX_REPLIES];
	int end;		/* SMTP_REPLY_MORE or SMTP_REPLY_ERROR */
};

/* check_reply - the contract of a complete reply */
static void check_reply(const struct smtp_reply *r, const struct smtp_reply_limits *lim)
{
	struct buf *one = buf_create(64);

	check(r->code >= 200 && r->code <= 599);
	check(r->lines >= 1);
	check(r->lines <= lim->max_lines);
	check(r->text.len <= lim->max_text);
	check(strlen(r->text.data) == r->text.len);
	check(memchr(r->status, 0, sizeof(r->status)) != NULL);
	check(r->status[0] == '0' + r->code / 100);
	check(r->status[1] == '.');
	smtp_reply_oneline(r, one);
	check(strchr(one->data, '\n') == NULL);
	for (size_t i = 0; i < one->len; i++)
		check((unsigned char)one->data[i] >= 0x20 && one->data[i] != 0x7f);
	buf_free(&one);
}

/* parse - feed data in chunks of chunk bytes, collect replies */
static void parse(const char *data, size_t size, size_t chunk,
		  const struct smtp_reply_limits *lim, struct result *res)
{
	struct smtp_reply_parser *p = smtp_reply_parser_create(lim);
	size_t pos = 0, used, n;
	const char *err;
	int r = SMTP_REPLY_MORE;

	res->count = 0;
	while (pos < size) {
		n = size - pos < chunk ? size - pos : chunk;
		used = (size_t)-1;
		err = NULL;
		r = smtp_reply_parse(p, data + pos, n, &used, &err);
		if (r == SMTP_REPLY_ERROR) {
			check(err != NULL && *err != 0);
			/* the error sticks */
			check(smtp_reply_parse(p, "250 ok\r\n", 8, &used, &err) == SMTP_REPLY_ERROR);
			break;
		}
		check(used <= n);
		if (r == SMTP_REPLY_MORE) {
			check(used == n);
		} else {
			const struct smtp_reply *rep = smtp_reply_parser_reply(p);

			check(r == SMTP_REPLY_DONE);
			check(used >= 1);
			check_reply(rep, lim);
			if (res->count < MAX_REPLIES) {
				res->r[res->count].code = rep->code;
				memcpy(res->r[res->count].status, rep->status, sizeof(rep->status));
				res->r[res->count].enhanced = rep->enhanced;
				res->r[res->count].truncated = rep->truncated;
				res->r[res->count].lines = rep->lines;
				res->r[res->count].text = strdup(rep->text.data);
			}
			res->count++;
			r = SMTP_REPLY_MORE;
		}
		pos += used;
	}
	res->end = r;
	smtp_reply_parser_free(&p);
	check(p == NULL);
}

/* result_free - release the texts */
static void result_free(struct result *res)
{
	for (size_t i = 0; i < res->count && i < MAX_REPLIES; i++)
		free(res->r[i].text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct smtp_reply_limits small = {
		.line_keep = 16, .max_lines = 4, .max_text = 40, .max_raw = 200,
	};
	static struct result whole, chunked;
	const struct smtp_reply_limits *lim;
	struct smtp_reply_limits deflim = {
		SMTP_REPLY_LINE_KEEP, SMTP_REPLY_MAX_LINES, SMTP_REPLY_MAX_TEXT,
		SMTP_REPLY_MAX_RAW,
	};
	size_t chunk;

	if (size < 2)
		return 0;
	chunk = 1 + data[0] % 32;
	lim = data[1] & 1 ? &small : &deflim;
	data += 2;
	size -= 2;

	parse((const char *)data, size, size ? size : 1, lim, &whole);
	parse((const char *)data, size, chunk, lim, &chunked);
	check(whole.count == chunked.count);
	check(whole.end == chunked.end);
	for (size_t i = 0; i < whole.count && i < MAX_REPLIES; i++) {
		check(whole.r[i].code == chunked.r[i].code);
		check(strcmp(whole.r[i].status, chunked.r[i].status) == 0);
		check(whole.r[i].enhanced == chunked.r[i].enhanced);
		check(whole.r[i].truncated == chunked.r[i].truncated);
		check(whole.r[i].lines == chunked.r[i].lines);
		check(strcmp(whole.r[i].text, chunked.r[i].text) == 0);
	}
	result_free(&whole);
	result_free(&chunked);
	return 0;
}
