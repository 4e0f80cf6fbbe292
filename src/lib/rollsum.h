/*
 * bup's rolling checksum (FORMAT.md 3.1-3.2), derived from librsync's.
 * The only per-byte loop in the program lives in rollsum.c.
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

void rollsum_init(struct rollsum *r);
void rollsum_roll(struct rollsum *r, uint8_t ch);
uint32_t rollsum_digest(const struct rollsum *r);

/*
 * Scan data[0..len) with a fresh rollsum; return the 1-based count n of
 * the first byte after which the split condition holds (and its bits in
 * *bits), or 0 if there is none (FORMAT.md 3.2 find_first_split).
 */
size_t rollsum_find_split(const void *data, size_t len, int *bits);

#endif
