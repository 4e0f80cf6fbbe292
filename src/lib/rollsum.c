/*
 * bup's rolling checksum and split condition (FORMAT.md 3.1-3.2).
 *
 * State: s1 = 64*31 + sum of the window, s2 = 64*63*31 + sum over the
 * window of (64-k)*x_k, x_0 the oldest byte; bytes before the start of a
 * scan count as zero.  Rolling byte `in` out of window byte `drop`:
 *
 *	s1 += in - drop;  s2 += s1 - 64*(drop + 31);	(mod 2^32)
 *
 * A split happens after a byte when the low 13 bits of s2 are all ones.
 *
 * The scanners keep s1/s2 in registers and take `drop` from the caller's
 * buffer (data[i-64]) instead of a window array: the data being scanned
 * is contiguous, so the window is just the 64 bytes behind the cursor.
 * This is the program's only per-byte loop; nothing in it calls out.
 */
#include <string.h>

#include "rollsum.h"
#include "util.h"

#define W ROLLSUM_WINDOW
#define C ROLLSUM_CHAR_OFFSET
#define SPLIT_MASK ((1u << ROLLSUM_BLOBBITS) - 1)
#define UNLIKELY_SPLIT(s2) UNLIKELY(((s2) & SPLIT_MASK) == SPLIT_MASK)

void rollsum_init(struct rollsum *r)
{
	r->s1 = W * C;
	r->s2 = W * (W - 1) * C;
	memset(r->window, 0, sizeof(r->window));
	r->wofs = 0;
}

void rollsum_roll(struct rollsum *r, uint8_t ch)
{
	uint8_t drop = r->window[r->wofs];

	r->s1 += (uint32_t)ch - drop;
	r->s2 += r->s1 - (uint32_t)W * (drop + C);
	r->window[r->wofs] = ch;
	r->wofs = (r->wofs + 1) % W;
}

uint32_t rollsum_digest(const struct rollsum *r)
{
	return r->s1 << 16 | (r->s2 & 0xffff);
}

int rollsum_digest_bits(uint32_t digest)
{
	/*
	 * bup: bits = 13, then skip bit 13 (a historic off-by-one kept for
	 * compatibility) and count the consecutive ones from bit 14 up.
	 * digest >> 14 has at most 18 significant bits, so its complement
	 * always has a zero bit and ctz is defined.
	 */
	uint32_t r = ~(digest >> (ROLLSUM_BLOBBITS + 1));
	return ROLLSUM_BLOBBITS + __builtin_ctz(r);
}

static inline size_t found(uint32_t s1, uint32_t s2, size_t n, int *bits)
{
	if (bits)
		*bits = rollsum_digest_bits(s1 << 16 | (s2 & 0xffff));
	return n;
}

size_t rollsum_scan(const void *data, size_t from, size_t len, int *bits)
{
	const uint8_t *p = data;
	uint32_t s1 = W * C, s2 = W * (W - 1) * C;
	size_t i;

	if (from >= len)
		return 0;
	/*
	 * Prime the state for position `from` from the (at most) 64 bytes
	 * before it; rolling them into a fresh state yields exactly the
	 * state a scan from data[0] would have there.
	 */
	i = from > W ? from - W : 0;
	for (; i < from; i++) {
		s1 += p[i];
		s2 += s1 - (uint32_t)W * C;
	}
	/* Still inside the first window: the dropped bytes are zero. */
	for (; i < len && i < W; i++) {
		s1 += p[i];
		s2 += s1 - (uint32_t)W * C;
		if (UNLIKELY_SPLIT(s2))
			return found(s1, s2, i + 1, bits);
	}
	/*
	 * Steady state, four bytes per round: the s1/s2 updates form one
	 * dependency chain, but the split tests of the four positions are
	 * merged into a single well-predicted branch; on a hit the exact
	 * position is found by the byte loop below.
	 */
	while (len - i >= 4) {
		uint32_t a1, a2, a3, a4, b1, b2, b3, b4;
		uint32_t d0 = p[i - W], d1 = p[i + 1 - W];
		uint32_t d2 = p[i + 2 - W], d3 = p[i + 3 - W];

		a1 = s1 + p[i] - d0;
		a2 = a1 + p[i + 1] - d1;
		a3 = a2 + p[i + 2] - d2;
		a4 = a3 + p[i + 3] - d3;
		b1 = s2 + a1 - (uint32_t)W * (d0 + C);
		b2 = b1 + a2 - (uint32_t)W * (d1 + C);
		b3 = b2 + a3 - (uint32_t)W * (d2 + C);
		b4 = b3 + a4 - (uint32_t)W * (d3 + C);
		/* (x + 1) & mask == 0  <=>  the low 13 bits are all ones */
		if (UNLIKELY((((b1 + 1) & SPLIT_MASK) == 0) |
			     (((b2 + 1) & SPLIT_MASK) == 0) |
			     (((b3 + 1) & SPLIT_MASK) == 0) |
			     (((b4 + 1) & SPLIT_MASK) == 0)))
			break;
		s1 = a4;
		s2 = b4;
		i += 4;
	}
	for (; i < len; i++) {
		uint32_t drop = p[i - W];

		s1 += (uint32_t)p[i] - drop;
		s2 += s1 - (uint32_t)W * (drop + C);
		if (UNLIKELY_SPLIT(s2))
			return found(s1, s2, i + 1, bits);
	}
	return 0;
}

/* The state for position `at` (>= W): the window data[at-W .. at). */
static inline void prime(const uint8_t *p, size_t at, uint32_t *s1,
			 uint32_t *s2)
{
	uint32_t a = W * C, b = W * (W - 1) * C;

	for (size_t i = at - W; i < at; i++) {
		a += p[i];
		b += a - (uint32_t)W * C;
	}
	*s1 = a;
	*s2 = b;
}

int rollsum_scan2(const void *data, size_t *a, size_t alen, size_t *b,
		  size_t blen, int *bits)
{
	const uint8_t *p = data;
	size_t i = *a, j = *b;
	uint32_t s1a, s2a, s1b, s2b;

	if (i < W || j < W)
		BUG("rollsum_scan2: range starts inside the first window");
	prime(p, i, &s1a, &s2a);
	prime(p, j, &s1b, &s2b);
	while (i < alen && j < blen) {
		uint32_t da = p[i - W], db = p[j - W];

		s1a += (uint32_t)p[i] - da;
		s1b += (uint32_t)p[j] - db;
		s2a += s1a - (uint32_t)W * (da + C);
		s2b += s1b - (uint32_t)W * (db + C);
		i++;
		j++;
		if (UNLIKELY((((s2a + 1) & SPLIT_MASK) == 0) |
			     (((s2b + 1) & SPLIT_MASK) == 0))) {
			if (((s2a + 1) & SPLIT_MASK) == 0) {
				/* b's byte of this step is redone next time */
				*a = i;
				*b = j - 1;
				found(s1a, s2a, i, bits);
				return 1;
			}
			*a = i;
			*b = j;
			found(s1b, s2b, j, bits);
			return 2;
		}
	}
	*a = i;
	*b = j;
	return 0;
}

size_t rollsum_find_split(const void *data, size_t len, int *bits)
{
	return rollsum_scan(data, 0, len, bits);
}
