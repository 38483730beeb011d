/*
 * attr - the one framed attribute protocol used between sluice processes
 * (qmgr and agents, the bounce service, the queue tools).
 *
 * A frame is a 4-byte big-endian payload length followed by the payload, a
 * sequence of attributes, each "name" NUL "value" NUL.  Names are 1..64
 * characters of [a-z0-9_]; values are any bytes but NUL.  Attribute order is
 * kept, and a name may repeat (repeated groups such as a request's recipients
 * are read in order with attr_cursor).
 *
 * Decoding is strict (OpenSMTPD m_end(): leftovers are an error): a frame
 * whose declared length exceeds the caller's limit, a payload without its
 * final NUL, an empty or badly formed name, or a value with no terminator is
 * an error returned to the caller with a reason, never a crash.
 */
#ifndef SLUICE_ATTR_H
#define SLUICE_ATTR_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

#define ATTR_NAME_MAX		64
#define ATTR_FRAME_LIMIT	(4 * 1024 * 1024)	/* default payload limit */

struct attr {
	const char *name;	/* points into the list's storage */
	const char *value;	/* NUL-terminated */
	size_t vlen;
};

struct attr_list {
	struct attr *items;
	size_t count;
	size_t cap;
	char *storage;		/* private copy of the payload */
};

/* Encoding: start a frame, add attributes, finish (writes the length). */
void attr_frame_begin(struct buf *out);
void attr_put_str(struct buf *out, const char *name, const char *value);
void attr_put_long(struct buf *out, const char *name, long value);
void attr_put_double(struct buf *out, const char *name, double value);
void attr_frame_end(struct buf *out);

/*
 * attr_frame_extract - if inbuf starts with a whole frame, decode it into
 * al (replacing its contents), remove it from inbuf and return 1; return 0
 * if more bytes are needed; -1 with *error_r (static text) if the bytes can
 * never form a valid frame (too long for limit, malformed payload).
 */
int attr_frame_extract(struct buf *inbuf, size_t limit, struct attr_list *al,
		       const char **error_r);

/* attr_parse_payload - decode a payload (without the length prefix). */
int attr_parse_payload(const char *data, size_t len, struct attr_list *al,
		       const char **error_r);

/*
 * attr_read_frame - blocking read of one frame from fd, each wait limited
 * to timeout_ms.  inbuf keeps bytes read beyond the frame for the next call.
 * Returns 1 with a frame, 0 at clean EOF before any byte of a frame, -1
 * with *error_r on timeout, I/O error, truncation or a malformed frame.
 */
int attr_read_frame(int fd, struct buf *inbuf, size_t limit, int timeout_ms,
		    struct attr_list *al, const char **error_r);
/* attr_write_frame - write a finished frame, time-limited. 0 or -1 (errno). */
int attr_write_frame(int fd, const struct buf *frame, int timeout_ms);

void attr_list_init(struct attr_list *al);
void attr_list_deinit(struct attr_list *al);

/* attr_get - value of the first attribute called name, or NULL. Borrowed. */
const char *attr_get(const struct attr_list *al, const char *name);
/* attr_get_long - first attribute as a long in [min,max]; 0 ok, -1 absent/bad. */
int attr_get_long(const struct attr_list *al, const char *name, long min,
		  long max, long *value_r);
/* attr_get_double - first attribute as a finite double; 0 ok, -1 absent/bad. */
int attr_get_double(const struct attr_list *al, const char *name, double *value_r);

/* Sequential reading of ordered groups. */
struct attr_cursor {
	const struct attr_list *al;
	size_t pos;
};
void attr_cursor_init(struct attr_cursor *c, const struct attr_list *al);
/* attr_cursor_find - advance to the next attribute called name; its value or NULL. */
const char *attr_cursor_find(struct attr_cursor *c, const char *name);
/* attr_cursor_expect - the attribute at the cursor must be called name;
 * returns its value and advances, or NULL (cursor unchanged). */
const char *attr_cursor_expect(struct attr_cursor *c, const char *name);

#endif
