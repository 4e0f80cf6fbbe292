/*
 * bup damage (lib/bup/cmd/damage.py in 0.33.7): overwrite random blocks
 * of a file with random bytes, to test fsck and recovery.  With a seed
 * the damage is exactly bup's, because the generator is Python's: the
 * Mersenne Twister MT19937 seeded as random.seed() seeds it (an int by
 * init_by_array over its 32-bit words; any other string by its bytes
 * followed by their SHA-512, read as one big-endian int), and integers
 * drawn as random.randrange() draws them (getrandbits of the bound's bit
 * length, rejecting values out of range).
 *
 * The module never prints: damage_file() reports each block through a
 * callback before writing it.  Not thread-safe (one struct per user).
 */
#ifndef CBUP_DAMAGE_H
#define CBUP_DAMAGE_H

#include <stddef.h>
#include <stdint.h>

struct damage_rng {
	uint32_t mt[624];
	int mti;
};

/* Python's random.seed(n) for the integer n (the sign is dropped). */
void damage_rng_seed_words(struct damage_rng *r, const uint32_t *key,
			   size_t nkey);
/*
 * Python's random.seed(arg) for the option value arg as bup passes it:
 * an int when arg is exactly what str(int(arg)) prints, else the string.
 */
void damage_rng_seed_arg(struct damage_rng *r, const char *arg);
/* Seed from the system's random source (no --seed). */
int damage_rng_seed_random(struct damage_rng *r);
uint32_t damage_rng_u32(struct damage_rng *r);
/* random.getrandbits(k) for 1 <= k <= 64. */
uint64_t damage_rng_bits(struct damage_rng *r, int k);
/* random.randrange(n) = _randbelow(n) for n >= 1. */
uint64_t damage_rng_below(struct damage_rng *r, uint64_t n);

struct damage_opts {
	long long num;        /* 0: 10 blocks; negative: none */
	long long size;       /* 0: not given */
	const char *percent;  /* NULL or "0": not given */
	int equal;
};

/* Called before each block is written: its size and offset. */
typedef void (*damage_block_fn)(void *ctx, uint64_t size, uint64_t ofs);

/*
 * Damage the file at path as bup does.  Returns 0, ERR_IO naming the
 * file, or ERR_USAGE when bup would fail on the values (an empty range
 * for the block size, --equal on an empty file).
 */
int damage_file(struct damage_rng *r, const char *path,
		const struct damage_opts *o, damage_block_fn fn, void *ctx);

#endif
