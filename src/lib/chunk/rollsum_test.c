/*
 * rollsum: the checkpoints bup gave (testvectors/split/rollsum-vectors.txt),
 * rolling == recomputing from the window at every offset (casync's
 * test-cachunker property), and the fast scanners against the reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/rollsum.h"
#include "unit.h"
#include "util/util.h"

static void lcg_fill(unsigned char *out, size_t n, uint32_t seed)
{
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		out[i] = (unsigned char)(x >> 16);
	}
}

UNIT_TEST(rollsum, checkpoints)
{
	FILE *f = fopen(unit_vector("split/rollsum-vectors.txt"), "r");
	unsigned char data[4096];
	struct rollsum r;
	char line[256];
	size_t rolled = 0;
	int nr = 0, bits = -1;

	CHECK(f != NULL);
	if (!f)
		return;
	lcg_fill(data, sizeof(data), 1);
	rollsum_init(&r);
	CHECK(r.s1 == 0x7c0 && r.s2 == 0x1e840);
	CHECK(rollsum_digest(&r) == 0x07c0e840);
	while (fgets(line, sizeof(line), f)) {
		unsigned long n, s1, s2, dg;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%lu %lx %lx %lx", &n, &s1, &s2, &dg) != 4)
			continue;
		while (rolled < n)
			rollsum_roll(&r, data[rolled++]);
		CHECK(r.s1 == s1);
		CHECK(r.s2 == s2);
		CHECK(rollsum_digest(&r) == dg);
		nr++;
	}
	fclose(f);
	CHECK(nr == 10);
	/* bup's _helpers.splitbuf(first 4096 bytes) -> (1149, 13) */
	CHECK(rollsum_find_split(data, sizeof(data), &bits) == 1149);
	CHECK(bits == 13);
	CHECK(rollsum_digest_bits(0x27ed1fff) == 13);
}

UNIT_TEST(rollsum, digest_bits)
{
	/* bit 13 is ignored; ones from bit 14 upwards are counted */
	CHECK(rollsum_digest_bits(0x00001fff) == 13);
	CHECK(rollsum_digest_bits(0x00003fff) == 13);
	CHECK(rollsum_digest_bits(0x00005fff) == 14);
	CHECK(rollsum_digest_bits(0x0000dfff) == 15);
	CHECK(rollsum_digest_bits(0x0001dfff) == 16);
	CHECK(rollsum_digest_bits(0xffffdfff) == 31);
	CHECK(rollsum_digest_bits(0xffffffff) == 31);
}

/* s1, s2 recomputed from scratch for the window ending at n. */
static void recompute(const unsigned char *d, size_t n, uint32_t *s1,
		      uint32_t *s2)
{
	uint32_t a = ROLLSUM_WINDOW * ROLLSUM_CHAR_OFFSET;
	uint32_t b = ROLLSUM_WINDOW * (ROLLSUM_WINDOW - 1) *
		     ROLLSUM_CHAR_OFFSET;
	for (int k = 0; k < ROLLSUM_WINDOW; k++) {
		/* x_0 is the oldest byte; bytes before d[0] are zero */
		long pos = (long)n - ROLLSUM_WINDOW + k;
		uint32_t x = pos >= 0 ? d[pos] : 0;
		a += x;
		b += (uint32_t)(ROLLSUM_WINDOW - k) * x;
	}
	*s1 = a;
	*s2 = b;
}

UNIT_TEST(rollsum, rolling_equals_recomputing)
{
	enum { N = 20000 };
	unsigned char *d = xmalloc(N);
	struct rollsum r;
	int bad = 0;

	/* random bytes, then a run of 0xff to stress the wrap-around */
	lcg_fill(d, N, 42);
	memset(d + N / 2, 0xff, 300);
	rollsum_init(&r);
	for (size_t n = 1; n <= N; n++) {
		uint32_t s1, s2;
		rollsum_roll(&r, d[n - 1]);
		recompute(d, n, &s1, &s2);
		if (r.s1 != s1 || r.s2 != s2)
			bad++;
	}
	CHECK(bad == 0);
	free(d);
}

/* Reference scan with the byte-at-a-time struct. */
static size_t ref_scan(const unsigned char *d, size_t from, size_t len,
		       int *bits)
{
	struct rollsum r;
	rollsum_init(&r);
	for (size_t i = 0; i < len; i++) {
		rollsum_roll(&r, d[i]);
		if (i + 1 > from && (r.s2 & 0x1fff) == 0x1fff) {
			*bits = rollsum_digest_bits(rollsum_digest(&r));
			return i + 1;
		}
	}
	return 0;
}

/*
 * Every split of d[0..n) in turn, each scan resumed from the previous
 * split, against the reference; counts mismatches in *bad, marks in
 * *lanes the lane (position mod 16 past the first window) of each
 * split.  Returns the number of splits.
 */
static int walk_splits(const unsigned char *d, size_t n, int *bad,
		       unsigned *lanes)
{
	int nsplit = 0;

	for (size_t from = 0; from < n;) {
		int b1 = -1, b2 = -2;
		size_t a = rollsum_scan(d, from, n, &b1);
		size_t b = ref_scan(d, from, n, &b2);
		if (a != b || (a && b1 != b2))
			(*bad)++;
		if (!a)
			break;
		if (lanes && a > 64)
			*lanes |= 1u << ((a - 65) % 16);
		nsplit++;
		from = a;
	}
	return nsplit;
}

static void scan_vs_reference(void)
{
	enum { N = 300000 };
	unsigned char *d = xmalloc(N);
	size_t froms[] = { 0, 1, 2, 62, 63, 64, 65, 100, 1148, 1149, 1150,
			   5000, 70000, N - 1, N };
	int bad = 0, nsplit = 0;

	lcg_fill(d, N, 3);
	/* every split position of the stream, resumed from each one */
	nsplit = walk_splits(d, N, &bad, NULL);
	CHECK(nsplit > 20);
	for (size_t i = 0; i < ARRAY_SIZE(froms); i++) {
		for (size_t len = froms[i]; len <= N; len += 77777) {
			int b1 = -1, b2 = -2;
			size_t a = rollsum_scan(d, froms[i], len, &b1);
			size_t b = ref_scan(d, froms[i], len, &b2);
			if (a != b || (a && b1 != b2))
				bad++;
		}
	}
	/* fresh scans of every suffix start near a split */
	for (size_t s = 1100; s < 1200; s++) {
		int b1 = -1, b2 = -2;
		size_t a = rollsum_find_split(d + s, 5000, &b1);
		size_t b = ref_scan(d + s, 0, 5000, &b2);
		if (a != b || (a && b1 != b2))
			bad++;
	}
	CHECK(bad == 0);
	/* zeros never split */
	memset(d, 0, N);
	CHECK(rollsum_find_split(d, N, NULL) == 0);
	free(d);
}

UNIT_TEST(rollsum, scan_matches_reference)
{
	int was = rollsum_set_simd(0);

	scan_vs_reference();            /* the portable scanner */
	rollsum_set_simd(1);
	scan_vs_reference();            /* AVX2 where the CPU has it */
	rollsum_set_simd(was);
}

/*
 * The SIMD scanner works 16 positions at a time: a split in each lane
 * of a step, splits on consecutive bytes, runs that wrap the 16-bit
 * lanes (0xff), and every length tail, all against the reference.
 */
UNIT_TEST(rollsum, simd_lanes_and_tails)
{
	enum { N = 1 << 16 };
	unsigned char *d = xmalloc(N);
	int was = rollsum_set_simd(1), bad = 0, lanes = 0;
	unsigned seen = 0;

	for (uint32_t seed = 1; seed <= 40; seed++) {
		lcg_fill(d, N, seed);
		if (seed % 4 == 0)
			memset(d + 1000, 0xff, 5000);
		if (seed % 4 == 1)      /* low-entropy: many near splits */
			for (size_t i = 0; i < N; i++)
				d[i] &= 3;
		walk_splits(d, N, &bad, &seen);
	}
	for (unsigned k = 0; k < 16; k++)
		lanes += (seen >> k) & 1;
	CHECK(lanes == 16);
	/* every tail length after the 16-byte steps */
	lcg_fill(d, N, 99);
	for (size_t len = 64; len < 64 + 40; len++)
		for (size_t from = 0; from < 70; from += 7) {
			int b1 = -1, b2 = -2;
			size_t a = rollsum_scan(d + 5000, from, len, &b1);
			size_t b = ref_scan(d + 5000, from, len, &b2);
			if (a != b || (a && b1 != b2))
				bad++;
		}
	CHECK(bad == 0);
	rollsum_set_simd(was);
	free(d);
}

struct hit_list {
	size_t n[4096];
	int bits[4096];
	size_t nr;
};

static void record_hit(void *ctx, size_t n, int bits)
{
	struct hit_list *l = ctx;

	if (l->nr < ARRAY_SIZE(l->n)) {
		l->n[l->nr] = n;
		l->bits[l->nr] = bits;
	}
	l->nr++;
}

/*
 * rollsum_scan_all() lists exactly the splits of a walk with the
 * reference scan, in order: through the 16-lane kernel (stretches whose
 * boundaries and 32-byte blocks fall anywhere), its tail, and the
 * portable path; low-entropy data puts several splits in one block.
 * Returns mismatches; *lanes marks the lanes (of 16 equal stretches)
 * that had a split.
 */
static int scan_all_vs_reference(const unsigned char *d, size_t from,
				 size_t n, unsigned *lanes)
{
	static struct hit_list l;
	size_t at = from, i = 0, stretch = (n - from) / 16;
	int bad = 0;

	l.nr = 0;
	rollsum_scan_all(d, from, n, record_hit, &l);
	for (;;) {
		int b = -1;
		size_t r = ref_scan(d, at, n, &b);

		if (!r)
			break;
		if (i >= l.nr || i >= ARRAY_SIZE(l.n) || l.n[i] != r ||
		    l.bits[i] != b)
			bad++;
		if (lanes && stretch && (r - 1 - from) / stretch < 16)
			*lanes |= 1u << ((r - 1 - from) / stretch);
		i++;
		at = r;
	}
	return bad + (i != l.nr);
}

UNIT_TEST(rollsum, scan_all_matches_reference)
{
	enum { N = 600000 };
	unsigned char *d = xmalloc(N);
	static const size_t lens[] = { 64, 65, 100, 4096, 65535, 65536,
				       65536 + 64 + 31, 200001, N };
	int was = rollsum_set_simd(1), bad = 0, lanes = 0;
	unsigned seen = 0;

	for (uint32_t seed = 1; seed <= 6; seed++) {
		lcg_fill(d, N, seed);
		if (seed % 3 == 0)      /* low-entropy: many splits a block */
			for (size_t i = 0; i < N; i++)
				d[i] &= 3;
		if (seed % 3 == 1)
			memset(d + 70000, 0xff, 9000);
		for (size_t i = 0; i < ARRAY_SIZE(lens); i++)
			for (size_t from = 64; from < 64 + 3 * 37;
			     from += 37)
				if (from <= lens[i])
					bad += scan_all_vs_reference(
						d, from, lens[i], &seen);
	}
	for (unsigned k = 0; k < 16; k++)
		lanes += (seen >> k) & 1;
	CHECK(lanes == 16);
	CHECK(bad == 0);
	/* the portable path gives the same list */
	rollsum_set_simd(0);
	lcg_fill(d, N, 7);
	CHECK(scan_all_vs_reference(d, 64, N, NULL) == 0);
	rollsum_set_simd(was);
	free(d);
}
