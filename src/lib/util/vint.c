/*
 * vuint / vint / bvec encoding and decoding (FORMAT.md 5.1; bup's
 * lib/bup/vint.py).  The decoders are the first thing untrusted .bupm
 * bytes meet, so every read is bounded by the cursor's end and every
 * shift is checked against 64 bits.
 */
#include "util/vint.h"

#include "util/err.h"

size_t vint_encode_vuint(unsigned char *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (unsigned char)(0x80 | (v & 0x7f));
		v >>= 7;
	}
	out[n++] = (unsigned char)v;
	return n;
}

size_t vint_encode_vint(unsigned char *out, int64_t v)
{
	/* Magnitude as unsigned, so INT64_MIN does not overflow. */
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	unsigned char first = (unsigned char)(mag & 0x3f);

	if (v < 0)
		first |= 0x40;
	mag >>= 6;
	if (!mag) {
		out[0] = first;
		return 1;
	}
	out[0] = first | 0x80;
	return 1 + vint_encode_vuint(out + 1, mag);
}

void vint_put_vuint(struct buf *b, uint64_t v)
{
	buf_grow(b, VINT_MAX);
	buf_setlen(b, b->len + vint_encode_vuint((unsigned char *)b->data +
						 b->len, v));
}

void vint_put_vint(struct buf *b, int64_t v)
{
	buf_grow(b, VINT_MAX);
	buf_setlen(b, b->len + vint_encode_vint((unsigned char *)b->data +
						b->len, v));
}

void vint_put_bvec(struct buf *b, const void *data, size_t len)
{
	vint_put_vuint(b, len);
	buf_add(b, data, len);
}

/*
 * Shared tail of both decoders: accumulate 7-bit groups starting at bit
 * `shift`.  Bits that would land at or beyond bit 64 must be zero
 * (non-canonical zero padding such as "80 80 00" is accepted, as bup's
 * reader does); the input must end with a byte without 0x80.
 */
static int get_groups(struct vint_reader *r, uint64_t *acc, unsigned shift)
{
	uint64_t v = *acc;

	for (;;) {
		unsigned char c;

		if (r->p >= r->end)
			return err_set(ERR_CORRUPT, "truncated vuint");
		c = *r->p++;
		if (shift < 64) {
			uint64_t g = c & 0x7f;
			if (shift > 57 && (g >> (64 - shift)))
				return err_set(ERR_CORRUPT,
					       "vuint exceeds 64 bits");
			v |= g << shift;
		} else if (c & 0x7f) {
			return err_set(ERR_CORRUPT, "vuint exceeds 64 bits");
		}
		if (!(c & 0x80))
			break;
		/* Bound the loop on hostile padding: 64 bits + slack. */
		if (shift >= 63 + 7 * 4)
			return err_set(ERR_CORRUPT, "overlong vuint");
		shift += 7;
	}
	*acc = v;
	return 0;
}

int vint_get_vuint(struct vint_reader *r, uint64_t *out)
{
	uint64_t v = 0;
	int ret = get_groups(r, &v, 0);

	if (ret)
		return ret;
	*out = v;
	return 0;
}

int vint_get_vint(struct vint_reader *r, int64_t *out)
{
	uint64_t mag;
	unsigned char c;
	int ret;

	if (r->p >= r->end)
		return err_set(ERR_CORRUPT, "truncated vint");
	c = *r->p++;
	mag = c & 0x3f;
	if (c & 0x80) {
		ret = get_groups(r, &mag, 6);
		if (ret)
			return ret;
	}
	if (mag > (uint64_t)INT64_MAX)
		return err_set(ERR_CORRUPT, "vint exceeds 63 bits");
	*out = (c & 0x40) ? -(int64_t)mag : (int64_t)mag;
	return 0;
}

int vint_get_bvec(struct vint_reader *r, const unsigned char **data,
		  size_t *len)
{
	uint64_t n;
	int ret = vint_get_vuint(r, &n);

	if (ret)
		return ret;
	if (n > vint_reader_left(r))
		return err_set(ERR_CORRUPT, "truncated bvec (%llu bytes, %zu left)",
			       (unsigned long long)n, vint_reader_left(r));
	*data = r->p;
	*len = (size_t)n;
	r->p += n;
	return 0;
}
