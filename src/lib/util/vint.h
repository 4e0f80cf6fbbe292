/*
 * bup's variable-length integer encodings (FORMAT.md 5.1), used by the
 * metadata records of .bupm files, bupindex.meta and `bup meta` archives:
 *
 *   vuint  7 bits per byte, least significant group first, 0x80 on every
 *          byte but the last;
 *   vint   first byte 0x80 (more follows) | 0x40 (negative) | the low 6
 *          bits of |x|, then the vuint of |x| >> 6 if that is non-zero;
 *   bvec   vuint length, then the bytes.
 *
 * Encoders append to a struct buf (or write into a caller's scratch of
 * VINT_MAX bytes).  Decoders work on a bounded cursor and never read past
 * its end; they accept the non-canonical forms bup's reader accepts
 * (e.g. "80 00" for 0) but reject truncated input and values that do not
 * fit in 64 bits, returning ERR_CORRUPT with a message.  Thread-safe: no
 * shared state.
 */
#ifndef CBUP_VINT_H
#define CBUP_VINT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Longest encoding of a 64-bit value: ceil(64 / 7) = 10 bytes. */
#define VINT_MAX 10

/* Encode into out (at least VINT_MAX bytes); returns the length. */
size_t vint_encode_vuint(unsigned char *out, uint64_t v);
size_t vint_encode_vint(unsigned char *out, int64_t v);

void vint_put_vuint(struct buf *b, uint64_t v);
void vint_put_vint(struct buf *b, int64_t v);
void vint_put_bvec(struct buf *b, const void *data, size_t len);

/* A read cursor over [p, end). */
struct vint_reader {
	const unsigned char *p, *end;
};

static inline void vint_reader_init(struct vint_reader *r, const void *buf,
				    size_t len)
{
	r->p = buf;
	r->end = r->p + len;
}

static inline size_t vint_reader_left(const struct vint_reader *r)
{
	return (size_t)(r->end - r->p);
}

/*
 * Each returns 0 and advances the cursor, or ERR_CORRUPT (cursor
 * position unspecified) on truncation or overflow.  A vint magnitude
 * must fit in 63 bits.  vint_get_bvec points *data into the input.
 */
int vint_get_vuint(struct vint_reader *r, uint64_t *out);
int vint_get_vint(struct vint_reader *r, int64_t *out);
int vint_get_bvec(struct vint_reader *r, const unsigned char **data,
		  size_t *len);

#endif
