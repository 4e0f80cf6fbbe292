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
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ROLLSUM_HAVE_AVX2 1
#include <immintrin.h>
#endif

#include "chunk/rollsum.h"
#include "util/util.h"

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

#ifdef ROLLSUM_HAVE_AVX2
/*
 * Sixteen positions per step with AVX2.  The split test and the digest
 * only ever look at the low 16 bits of s1 and s2 (3.2: s2 & 0x1fff, and
 * digest = s1 << 16 | (s2 & 0xffff)), and the low 16 bits of a sum
 * depend only on the low 16 bits of its terms, so 16-bit lanes are
 * exact.  For bytes i..i+15 (drops d_k = data[i+k-64]):
 *
 *	S1_k = s1 + sum_{j<=k} (x_j - d_j)
 *	S2_k = s2 + sum_{j<=k} (S1_j - 64 * (d_j + 31))
 *
 * two prefix sums over 16 lanes: no serial chain per byte, so the scan
 * is bound by instruction throughput instead of add latency.
 */
__attribute__((target("avx2")))
static inline __m256i prefix16(__m256i v)
{
	/* bytes 14-15 of each 128-bit half: its last lane */
	const __m256i last = _mm256_set_epi8(
		15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14,
		15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14);
	__m256i t;

	v = _mm256_add_epi16(v, _mm256_slli_si256(v, 2));
	v = _mm256_add_epi16(v, _mm256_slli_si256(v, 4));
	v = _mm256_add_epi16(v, _mm256_slli_si256(v, 8));
	/* carry the low half's total into every lane of the high half */
	t = _mm256_shuffle_epi8(v, last);
	t = _mm256_permute2x128_si256(t, t, 0x08);
	return _mm256_add_epi16(v, t);
}

/* Every lane = lane 15 of v. */
__attribute__((target("avx2")))
static inline __m256i bcast15(__m256i v)
{
	const __m256i last = _mm256_set_epi8(
		15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14,
		15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14);

	v = _mm256_permute2x128_si256(v, v, 0x11);
	return _mm256_shuffle_epi8(v, last);
}

/*
 * Scan from position i (>= W) while 16 bytes remain.  Returns the split
 * count n (1-based, as rollsum_scan) or 0 with *pi, *ps1, *ps2 moved to
 * where it stopped (low 16 bits of the state exact).
 *
 * With A = prefix(x - d) and Q = prefix(A - 64 * (d + 31)), both free of
 * the running state, S1_k = s1 + A_k and S2_k = s2 + (k + 1) * s1 + Q_k:
 * the only chain from step to step is two adds.
 */
__attribute__((target("avx2")))
static size_t scan_avx2(const uint8_t *p, size_t *pi, size_t len,
			uint32_t *ps1, uint32_t *ps2, int *bits)
{
	const __m256i one = _mm256_set1_epi16(1);
	const __m256i mask = _mm256_set1_epi16(SPLIT_MASK);
	const __m256i c64 = _mm256_set1_epi16((short)(W * C));
	const __m256i k1 = _mm256_setr_epi16(1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					     11, 12, 13, 14, 15, 16);
	__m256i s1 = _mm256_set1_epi16((short)*ps1);
	__m256i s2 = _mm256_set1_epi16((short)*ps2);
	size_t i = *pi;

	while (len - i >= 16) {
		__m256i x = _mm256_cvtepu8_epi16(
			_mm_loadu_si128((const __m128i *)(p + i)));
		__m256i d = _mm256_cvtepu8_epi16(
			_mm_loadu_si128((const __m128i *)(p + i - W)));
		__m256i A, Q, S2, hit;
		unsigned m;

		A = prefix16(_mm256_sub_epi16(x, d));
		Q = prefix16(_mm256_sub_epi16(A, _mm256_add_epi16(
			_mm256_slli_epi16(d, 6), c64)));
		S2 = _mm256_add_epi16(_mm256_add_epi16(s2, Q),
				      _mm256_mullo_epi16(k1, s1));
		hit = _mm256_cmpeq_epi16(_mm256_and_si256(
			_mm256_add_epi16(S2, one), mask), _mm256_setzero_si256());
		m = (unsigned)_mm256_movemask_epi8(hit);
		if (UNLIKELY(m)) {
			uint16_t a1[16], a2[16];
			unsigned k = (unsigned)__builtin_ctz(m) / 2;

			_mm256_storeu_si256((__m256i *)a1,
					    _mm256_add_epi16(s1, A));
			_mm256_storeu_si256((__m256i *)a2, S2);
			return found(a1[k], a2[k], i + k + 1, bits);
		}
		s2 = _mm256_add_epi16(_mm256_add_epi16(s2, bcast15(Q)),
				      _mm256_slli_epi16(s1, 4));
		s1 = _mm256_add_epi16(s1, bcast15(A));
		i += 16;
	}
	*pi = i;
	*ps1 = (uint16_t)_mm256_extract_epi16(s1, 0);
	*ps2 = (uint16_t)_mm256_extract_epi16(s2, 0);
	return 0;
}

/*
 * -1 unknown, 0 off, 1 AVX2.  Scanner threads may race to store the same
 * answer: relaxed atomics keep that defined.
 */
static int simd_state = -1;

static int use_avx2(void)
{
	int v = __atomic_load_n(&simd_state, __ATOMIC_RELAXED);

	if (UNLIKELY(v < 0)) {
		v = __builtin_cpu_supports("avx2") ? 1 : 0;
		__atomic_store_n(&simd_state, v, __ATOMIC_RELAXED);
	}
	return v;
}

int rollsum_set_simd(int on)
{
	int was = use_avx2();

	__atomic_store_n(&simd_state, on && __builtin_cpu_supports("avx2"),
			 __ATOMIC_RELAXED);
	return was;
}
#else
static int use_avx2(void)
{
	return 0;
}

int rollsum_set_simd(int on)
{
	(void)on;
	return 0;
}
#endif

int rollsum_simd(void)
{
	return use_avx2();
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
#ifdef ROLLSUM_HAVE_AVX2
	if (use_avx2() && i < len) {
		size_t n = scan_avx2(p, &i, len, &s1, &s2, bits);
		if (n)
			return n;
	}
#endif
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

#ifdef ROLLSUM_HAVE_AVX2
struct hits {
	struct rollsum_hit_rec {
		size_t n;
		int bits;
	} *v;
	size_t nr, alloc;
};

static void hits_add(struct hits *h, size_t n, uint32_t s1, uint32_t s2)
{
	ALLOC_GROW(h->v, h->nr + 1, h->alloc);
	h->v[h->nr].n = n;
	found(s1, s2, n, &h->v[h->nr].bits);
	h->nr++;
}

#define LANES 16
#define LSTEP 32    /* steps per block: one 32-byte load per lane */
#define RING 128    /* transposed rows kept: the block and the 64 before */
/* 16 streams are more than the hardware prefetchers follow */
#define PREFETCH_AHEAD 512

static const uint8_t bitrev4[16] = {
	0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15,
};

/*
 * Rows ring[slot + k] (k < 32) = byte k at `at` of every lane's stretch:
 * a 16x16 byte transpose in each 128-bit half.  Four rounds of
 * unpacking pairs, in place, leave column c in register bitrev4[c].
 */
__attribute__((target("avx2")))
static void transpose_block(const uint8_t *const *lane, ptrdiff_t at,
			    uint8_t (*ring)[LANES], size_t slot)
{
	__m256i x[LANES];

#pragma GCC unroll 16
	for (int j = 0; j < LANES; j++) {
		x[j] = _mm256_loadu_si256((const __m256i *)(lane[j] + at));
		_mm_prefetch((const char *)(lane[j] + at + PREFETCH_AHEAD),
			     _MM_HINT_T0);
	}
	/* in place: round r pairs registers i and i + 2^r */
#define ROUND(lo, hi, s) \
	do { \
		_Pragma("GCC unroll 16") \
		for (int i = 0; i < LANES; i++) { \
			if (i & (s)) \
				continue; \
			__m256i t = lo(x[i], x[i + (s)]); \
			x[i + (s)] = hi(x[i], x[i + (s)]); \
			x[i] = t; \
		} \
	} while (0)
	ROUND(_mm256_unpacklo_epi8, _mm256_unpackhi_epi8, 1);
	ROUND(_mm256_unpacklo_epi16, _mm256_unpackhi_epi16, 2);
	ROUND(_mm256_unpacklo_epi32, _mm256_unpackhi_epi32, 4);
	ROUND(_mm256_unpacklo_epi64, _mm256_unpackhi_epi64, 8);
#undef ROUND
#pragma GCC unroll 16
	for (int c = 0; c < 16; c++) {
		__m256i v = x[bitrev4[c]];

		_mm_store_si128((__m128i *)ring[slot + c],
				_mm256_castsi256_si128(v));
		_mm_store_si128((__m128i *)ring[slot + 16 + c],
				_mm256_extracti128_si256(v, 1));
	}
}

/*
 * Lane j scans positions [from + j*len, from + (j+1)*len) with the byte
 * recurrence, in 16-bit lanes (exact: see scan_avx2).  The state is kept
 * offset so that each step is five adds: s1' = s1 - 64*31 and
 * s2' = s2 + 1, so that
 *
 *	s1' += x - d;  s2' += s1' - 64*d;  split <=> (s2' & 0x1fff) == 0.
 *
 * A block of 32 steps only folds min(s2' & mask) over its steps; a block
 * whose minimum is 0 in some lane is run again step by step to list its
 * hits (about 6% of blocks).
 */
__attribute__((target("avx2")))
static void scan_lanes(const uint8_t *p, size_t from, size_t len,
		       struct hits *out)
{
	_Alignas(32) uint8_t ring[RING][LANES];
	_Alignas(32) uint16_t v1[LANES], v2[LANES];
	const uint8_t *lane[LANES];
	const __m256i mask = _mm256_set1_epi16(SPLIT_MASK);
	const __m256i zero = _mm256_setzero_si256();
	__m256i s1, s2;

	for (int j = 0; j < LANES; j++) {
		uint32_t a, b;

		lane[j] = p + from + (size_t)j * len;
		prime(p, from + (size_t)j * len, &a, &b);
		v1[j] = (uint16_t)(a - W * C);
		v2[j] = (uint16_t)(b + 1);
	}
	/* the dropped bytes of the first 64 steps: slots -64..-1 */
	transpose_block(lane, -64, ring, RING - 64);
	transpose_block(lane, -32, ring, RING - 32);
	s1 = _mm256_load_si256((const __m256i *)v1);
	s2 = _mm256_load_si256((const __m256i *)v2);
	for (size_t t = 0; t < len; t += LSTEP) {
		const uint8_t (*xr)[LANES] = ring + (t % RING);
		const uint8_t (*dr)[LANES] = ring + ((t + RING - W) % RING);
		__m256i s1_in = s1, s2_in = s2, lo = _mm256_set1_epi16(-1);

		transpose_block(lane, (ptrdiff_t)t, ring, t % RING);
#pragma GCC unroll 32
		for (int k = 0; k < LSTEP; k++) {
			__m256i x = _mm256_cvtepu8_epi16(
				_mm_load_si128((const __m128i *)xr[k]));
			__m256i d = _mm256_cvtepu8_epi16(
				_mm_load_si128((const __m128i *)dr[k]));

			s1 = _mm256_add_epi16(s1, _mm256_sub_epi16(x, d));
			s2 = _mm256_add_epi16(s2, _mm256_sub_epi16(
				s1, _mm256_slli_epi16(d, 6)));
			lo = _mm256_min_epu16(lo, _mm256_and_si256(s2, mask));
		}
		if (LIKELY(!_mm256_movemask_epi8(_mm256_cmpeq_epi16(lo,
								    zero))))
			continue;
		s1 = s1_in;
		s2 = s2_in;
		for (int k = 0; k < LSTEP; k++) {
			__m256i x = _mm256_cvtepu8_epi16(
				_mm_load_si128((const __m128i *)xr[k]));
			__m256i d = _mm256_cvtepu8_epi16(
				_mm_load_si128((const __m128i *)dr[k]));
			unsigned m;

			s1 = _mm256_add_epi16(s1, _mm256_sub_epi16(x, d));
			s2 = _mm256_add_epi16(s2, _mm256_sub_epi16(
				s1, _mm256_slli_epi16(d, 6)));
			m = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi16(
				_mm256_and_si256(s2, mask), zero));
			if (!m)
				continue;
			_mm256_store_si256((__m256i *)v1, s1);
			_mm256_store_si256((__m256i *)v2, s2);
			for (m &= 0x55555555u; m; m &= m - 1) {
				int j = __builtin_ctz(m) / 2;

				hits_add(out, from + (size_t)j * len + t + k + 1,
					 (uint16_t)(v1[j] + W * C),
					 (uint16_t)(v2[j] - 1));
			}
		}
	}
}

/*
 * Report the hits of scan_lanes() in stream order.  They were found
 * block by block, so lanes interleave, but each lane's own hits are in
 * order and lane j's stretch precedes lane j+1's: a stable counting
 * sort by lane orders them all.
 */
static void report_hits(const struct hits *h, size_t from, size_t stretch,
			rollsum_hit_fn hit, void *ctx)
{
	size_t start[LANES + 1] = { 0 };
	struct rollsum_hit_rec *sorted;

	for (size_t i = 0; i < h->nr; i++)
		start[(h->v[i].n - 1 - from) / stretch + 1]++;
	for (int j = 0; j < LANES; j++)
		start[j + 1] += start[j];
	sorted = xmalloc(st_mult(h->nr, sizeof(*sorted)) + 1);
	for (size_t i = 0; i < h->nr; i++)
		sorted[start[(h->v[i].n - 1 - from) / stretch]++] = h->v[i];
	for (size_t i = 0; i < h->nr; i++)
		hit(ctx, sorted[i].n, sorted[i].bits);
	free(sorted);
}
#endif

/* Shortest range worth the lanes: 16 stretches of 4 KiB. */
#define LANES_MIN ((size_t)64 << 10)

void rollsum_scan_all(const void *data, size_t from, size_t len,
		      rollsum_hit_fn hit, void *ctx)
{
	size_t r;
	int bits;

	if (from >= len)
		return;
	if (from < W)
		BUG("rollsum_scan_all: range starts inside the first window");
#ifdef ROLLSUM_HAVE_AVX2
	if (use_avx2() && len > from && len - from >= LANES_MIN) {
		size_t stretch = (len - from) / LANES / LSTEP * LSTEP;
		struct hits h = { NULL, 0, 0 };

		scan_lanes(data, from, stretch, &h);
		report_hits(&h, from, stretch, hit, ctx);
		free(h.v);
		from += LANES * stretch;
	}
#endif
	while ((r = rollsum_scan(data, from, len, &bits))) {
		hit(ctx, r, bits);
		from = r;
	}
}

size_t rollsum_find_split(const void *data, size_t len, int *bits)
{
	return rollsum_scan(data, 0, len, bits);
}
