/*
 * rec - queue file records: encode, decode, and read at file offsets.
 *
 * A record is "type byte, length, data" where the length is 7-bit groups,
 * low-order first, high bit = another byte follows (docs/QUEUE.md section 3).
 * Lengths are limited to REC_MAX_LEN, which fits in three bytes; a longer,
 * over-long or non-canonical length field is malformed.
 *
 * The reader (struct rec_in) serves records at arbitrary offsets of a file
 * through a window buffer filled with pread(2), so walking a file costs one
 * system call per window rather than per record, and the file offset of the
 * descriptor is never used (in-place pwrite updates by others are safe).
 *
 * Return convention: 0 ok, -1 I/O error (errno kept), REC_CORRUPT (-2) when
 * the bytes are not a well-formed record inside the file; *error_r is then a
 * message borrowed from the reader, valid until its next call.
 */
#ifndef SLUICE_REC_H
#define SLUICE_REC_H

#include <stddef.h>
#include <sys/types.h>

struct buf;

#define REC_CORRUPT	(-2)
#define REC_MAX_LEN	(1 << 20)	/* data bytes per record */
#define REC_HDR_MAX	4		/* type byte + up to 3 length bytes */

/* rec_hdr_size - bytes taken by the type and length of a record of len. */
size_t rec_hdr_size(size_t len);
/*
 * rec_put - append one record to b.  len must not exceed REC_MAX_LEN (a
 * panic: callers check lengths of data that came from outside first).
 */
void rec_put(struct buf *b, int type, const void *data, size_t len);
/*
 * rec_decode_hdr - parse a record header from p[0..avail).  Returns the
 * header size with *type_r and *len_r set, 0 when more bytes are needed,
 * REC_CORRUPT with *error_r (static) when malformed.
 */
int rec_decode_hdr(const unsigned char *p, size_t avail, int *type_r,
		   size_t *len_r, const char **error_r);

/* One record as served by the reader. */
struct rec {
	int type;
	const char *data;	/* borrowed; valid until the next rec_in call */
	size_t len;
	off_t off;		/* offset of the type byte */
	off_t next;		/* offset just after the data */
};

struct rec_in;

/* rec_in_create - reader over fd, whose records must end by size. Caller frees with rec_in_free(). */
struct rec_in *rec_in_create(int fd, off_t size);
/*
 * rec_in_create_image - reader over a whole file of len bytes that the
 * caller has read into data: no copy, no descriptor (fd -1); data must
 * stay as it is until rec_in_free().
 */
struct rec_in *rec_in_create_image(const void *data, size_t len);
/*
 * rec_in_preload - put the len bytes of the file at offset 0, read by the
 * caller, in the window (copied), so that records there come from memory;
 * a reader over a file held whole in data may have fd -1.
 */
void rec_in_preload(struct rec_in *in, const void *data, size_t len);
/* rec_in_free - release the reader (not the descriptor) and clear *inp. */
void rec_in_free(struct rec_in **inp);
/* rec_in_forget - drop buffered bytes (after the file may have changed). */
void rec_in_forget(struct rec_in *in);
/* rec_in_peek - the n bytes at off when the window already holds them
 * (borrowed until the next rec_in call), else NULL: no read is made. */
const char *rec_in_peek(const struct rec_in *in, off_t off, size_t n);
/* rec_in_get - the record at off. 0, -1 or REC_CORRUPT (see above). */
int rec_in_get(struct rec_in *in, off_t off, struct rec *r, const char **error_r);
/* rec_in_served - how many rec_in_get() calls this reader has served (a
 * cost measure for tests and verbose logs). */
unsigned long rec_in_served(const struct rec_in *in);

#endif
