/*
 * fuzz_attr - libFuzzer target for the attribute protocol decoder
 * (util/attr.h), the first thing that reads bytes from another process.
 *
 * Each input is decoded three ways and the results must agree:
 *   1. as a bare payload with attr_parse_payload();
 *   2. as a stream of frames with attr_frame_extract() on the whole input;
 *   3. the same stream fed in chunks (the first byte picks the chunk size),
 *      as a socket delivers it.
 * A decoded list must keep the contract (names 1..64 of [a-z0-9_], values
 * NUL-terminated with vlen == strlen) and survive a re-encode/decode round
 * trip unchanged.  Any disagreement aborts, which libFuzzer reports.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/attr.h"
#include "util/buf.h"

#define FRAME_LIMIT	4096	/* small, so that the limit path is reached */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when a property does not hold */
#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_attr: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

/* name_ok - the documented shape of an attribute name */
static int name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > ATTR_NAME_MAX)
		return 0;
	for (const char *cp = name; *cp; cp++)
		if (!((*cp >= 'a' && *cp <= 'z') || (*cp >= '0' && *cp <= '9') || *cp == '_'))
			return 0;
	return 1;
}

/* check_list - contract of a decoded list, and a round trip through the encoder */
static void check_list(const struct attr_list *al)
{
	struct attr_list again;
	struct buf *frame = buf_create(64);
	struct attr_cursor c;
	const char *err;
	long lv;
	double dv;

	for (size_t i = 0; i < al->count; i++) {
		check(name_ok(al->items[i].name));
		check(strlen(al->items[i].value) == al->items[i].vlen);
		/* the getters find the first of a name; they must not misbehave */
		check(attr_get(al, al->items[i].name) != NULL);
		(void)attr_get_long(al, al->items[i].name, -1000, 1000, &lv);
		(void)attr_get_double(al, al->items[i].name, &dv);
	}
	attr_cursor_init(&c, al);
	for (size_t i = 0; i < al->count; i++)
		check(attr_cursor_expect(&c, al->items[i].name) == al->items[i].value);
	check(attr_cursor_expect(&c, "x") == NULL);

	attr_frame_begin(frame);
	for (size_t i = 0; i < al->count; i++)
		attr_put_str(frame, al->items[i].name, al->items[i].value);
	attr_frame_end(frame);
	attr_list_init(&again);
	check(attr_frame_extract(frame, ATTR_FRAME_LIMIT, &again, &err) == 1);
	check(frame->len == 0);
	check(again.count == al->count);
	for (size_t i = 0; i < al->count; i++) {
		check(strcmp(again.items[i].name, al->items[i].name) == 0);
		check(again.items[i].vlen == al->items[i].vlen);
		check(memcmp(again.items[i].value, al->items[i].value, al->items[i].vlen) == 0);
	}
	attr_list_deinit(&again);
	buf_free(&frame);
}

/* Result of decoding a stream: how many frames, their total attribute count, the end. */
struct outcome {
	size_t frames;
	size_t attrs;
	int last;		/* 0 more needed, -1 error */
	size_t left;		/* bytes left in the input buffer */
};

/* decode_stream - frames from data fed chunk bytes at a time (0: all at once) */
static struct outcome decode_stream(const uint8_t *data, size_t size, size_t chunk)
{
	struct outcome o = {0, 0, 0, 0};
	struct buf *in = buf_create(64);
	struct attr_list al;
	const char *err;
	size_t pos = 0;
	int r = 0;

	attr_list_init(&al);
	if (chunk == 0)
		chunk = size ? size : 1;
	while (pos < size && r >= 0) {
		size_t n = size - pos < chunk ? size - pos : chunk;

		buf_append(in, data + pos, n);
		pos += n;
		while ((r = attr_frame_extract(in, FRAME_LIMIT, &al, &err)) == 1) {
			check_list(&al);
			o.frames++;
			o.attrs += al.count;
		}
		if (r < 0)
			check(err != NULL && *err != 0);
	}
	o.last = r;
	o.left = in->len;
	attr_list_deinit(&al);
	buf_free(&in);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attr_list al;
	const char *err = NULL;
	struct outcome whole, chunked;

	/* 1: a bare payload */
	attr_list_init(&al);
	if (attr_parse_payload((const char *)data, size, &al, &err) == 0)
		check_list(&al);
	else
		check(err != NULL && *err != 0);
	attr_list_deinit(&al);

	/* 2 and 3: a stream of frames, whole and in chunks, agree */
	whole = decode_stream(data, size, 0);
	chunked = decode_stream(data, size, size ? 1 + data[0] % 16 : 1);
	check(whole.frames == chunked.frames);
	check(whole.attrs == chunked.attrs);
	check(whole.last == chunked.last);
	if (whole.last == 0)
		check(whole.left == chunked.left);
	return 0;
}
