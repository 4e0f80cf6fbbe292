/*
 * bup's rolling checksum (FORMAT.md 3.1-3.2), derived from librsync's.
 * The only per-byte loop in the program lives in rollsum.c.
 *
 * All functions are pure and thread-safe.
 */
#ifndef CBUP_ROLLSUM_H
#define CBUP_ROLLSUM_H

#include <stddef.h>
#include <stdint.h>

#define ROLLSUM_WINDOW 64
#define ROLLSUM_CHAR_OFFSET 31
#define ROLLSUM_BLOBBITS 13

struct rollsum {
	uint32_t s1, s2;
	uint8_t window[ROLLSUM_WINDOW];
	unsigned wofs;
};

/*
 * The byte-at-a-time reference implementation (tests, small uses).  The
 * scanners below never use it: they keep the state in locals and read
 * the window straight out of the caller's contiguous buffer.
 */
void rollsum_init(struct rollsum *r);
void rollsum_roll(struct rollsum *r, uint8_t ch);
uint32_t rollsum_digest(const struct rollsum *r);

/* The "bits" of a digest that satisfies the split condition (3.2). */
int rollsum_digest_bits(uint32_t digest);

/*
 * Scan data[0..len) with a fresh rollsum; return the 1-based count n of
 * the first byte after which the split condition holds (and its bits in
 * *bits), or 0 if there is none (FORMAT.md 3.2 find_first_split).
 */
size_t rollsum_find_split(const void *data, size_t len, int *bits);

/*
 * The same scan, but only report split positions n with from < n <= len
 * (the rollsum is still "fresh at data[0]": bytes before data are zero).
 * Costs O(len - from) + 64 bytes whatever `from` is, because the state
 * at position n depends only on data[n-64 .. n).  Returns 0 if there is
 * no split in that range.  This lets a caller that already knows part of
 * a buffer is split-free resume where it stopped (hashsplit.c).
 */
size_t rollsum_scan(const void *data, size_t from, size_t len, int *bits);

/*
 * Two rollsum_scan()s of the same buffer at once, over (*a, alen] and
 * (*b, blen], both fresh at data[0] and both with *a, *b >= 64 (whole
 * windows): their dependency chains interleave, so this runs nearly
 * twice as fast as two calls.  Stops at the first split of either: 1
 * (split at the new *a) or 2 (at the new *b), with its bits; the other
 * range's *pos is moved only as far as it is known to hold no split.
 * Returns 0 when one of the ranges is done (its *pos == its len), both
 * positions advanced past what was scanned.  Call again to go on.
 */
int rollsum_scan2(const void *data, size_t *a, size_t alen, size_t *b,
		  size_t blen, int *bits);

/*
 * Every split position n with from < n <= len of a scan fresh at data[0]
 * (so from >= 64: whole windows only), reported in increasing order as
 * hit(ctx, n, bits).  Long ranges go through a 16-lane kernel (AVX2):
 * the range is cut into 16 stretches, one per lane, whose bytes are
 * transposed so that each lane runs the plain byte recurrence on its own
 * stretch.  That is a third of the work per byte of rollsum_scan()'s
 * prefix sums (16 lanes x 32 steps between two checks for a hit).
 */
typedef void (*rollsum_hit_fn)(void *ctx, size_t n, int bits);
void rollsum_scan_all(const void *data, size_t from, size_t len,
		      rollsum_hit_fn hit, void *ctx);

/*
 * Whether the scanners use the AVX2 path (chosen at first use from the
 * CPU); rollsum_set_simd(0) forces the portable one, for tests and
 * measurements.  Returns the previous setting.  Not thread-safe: call
 * before scanning starts.
 */
int rollsum_simd(void);
int rollsum_set_simd(int on);

#endif
