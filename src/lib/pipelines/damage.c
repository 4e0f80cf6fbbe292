/*
 * bup damage and the Python random generator it draws from (damage.h).
 * The generator is MT19937 as CPython's _randommodule.c initialises and
 * steps it; the draws are Lib/random.py's (3.11, Debian 12's python3).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pipelines/damage.h"
#include "util/err.h"
#include "util/opt.h"
#include "util/util.h"

#define MT_N 624
#define MT_M 397
/* random bytes are made and written this many at a time */
#define DAMAGE_PIECE ((size_t)1 << 20)

static void mt_init(struct damage_rng *r, uint32_t s)
{
	r->mt[0] = s;
	for (int i = 1; i < MT_N; i++)
		r->mt[i] = 1812433253U * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30))
			   + (uint32_t)i;
	r->mti = MT_N;
}

void damage_rng_seed_words(struct damage_rng *r, const uint32_t *key,
			   size_t nkey)
{
	size_t i = 1, j = 0, k;
	static const uint32_t zero;

	if (!nkey) {
		key = &zero;
		nkey = 1;
	}
	mt_init(r, 19650218U);
	for (k = MT_N > nkey ? MT_N : nkey; k; k--) {
		r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30))
					* 1664525U)) + key[j] + (uint32_t)j;
		i++;
		j++;
		if (i >= MT_N) {
			r->mt[0] = r->mt[MT_N - 1];
			i = 1;
		}
		if (j >= nkey)
			j = 0;
	}
	for (k = MT_N - 1; k; k--) {
		r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30))
					* 1566083941U)) - (uint32_t)i;
		i++;
		if (i >= MT_N) {
			r->mt[0] = r->mt[MT_N - 1];
			i = 1;
		}
	}
	r->mt[0] = 0x80000000U;
	r->mti = MT_N;
}

/* Python's int(s) is str(s) again: optional '-', no leading zeros. */
static int is_canonical_int(const char *s)
{
	int neg = *s == '-';

	s += neg;
	if (!*s || (*s == '0' && (s[1] || neg)))  /* "-0" prints as "0" */
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Strip high zero words: CPython keys on the number's bit length. */
static size_t key_used(const uint32_t *key, size_t n)
{
	while (n > 1 && !key[n - 1])
		n--;
	return n;
}

void damage_rng_seed_arg(struct damage_rng *r, const char *arg)
{
	size_t len = strlen(arg), nkey, n = 0;
	uint32_t *key;

	if (is_canonical_int(arg)) {
		/* decimal digits into little-endian 32-bit words */
		const char *p = arg + (*arg == '-');
		nkey = strlen(p) / 9 + 1;
		key = xcalloc(nkey, sizeof(*key));
		for (; *p; p++) {
			uint64_t carry = (uint64_t)(*p - '0');
			for (size_t i = 0; i < nkey; i++) {
				uint64_t v = (uint64_t)key[i] * 10 + carry;
				key[i] = (uint32_t)v;
				carry = v >> 32;
			}
		}
		n = key_used(key, nkey);
	} else {
		/* random.seed(str), version 2: int.from_bytes(a + sha512(a)) */
		size_t blen = len + 64;
		unsigned char *b = xmalloc(blen);
		unsigned int mdlen = 64;

		memcpy(b, arg, len);
		if (!EVP_Digest(arg, len, b + len, &mdlen, EVP_sha512(), NULL))
			BUG("SHA-512 failed");
		nkey = blen / 4 + 1;
		key = xcalloc(nkey, sizeof(*key));
		/* byte blen-1 is the least significant */
		for (size_t i = 0; i < blen; i++)
			key[i / 4] |= (uint32_t)b[blen - 1 - i] << (8 * (i % 4));
		n = key_used(key, nkey);
		free(b);
	}
	damage_rng_seed_words(r, key, n);
	free(key);
}

int damage_rng_seed_random(struct damage_rng *r)
{
	uint32_t key[MT_N];
	size_t got = 0;

	while (got < sizeof(key)) {
		ssize_t n = getrandom((char *)key + got, sizeof(key) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno("getrandom");
		}
		got += (size_t)n;
	}
	damage_rng_seed_words(r, key, MT_N);
	return 0;
}

uint32_t damage_rng_u32(struct damage_rng *r)
{
	static const uint32_t mag01[2] = { 0, 0x9908b0dfU };
	uint32_t y;

	if (r->mti >= MT_N) {
		int kk;
		for (kk = 0; kk < MT_N - MT_M; kk++) {
			y = (r->mt[kk] & 0x80000000U) |
			    (r->mt[kk + 1] & 0x7fffffffU);
			r->mt[kk] = r->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 1];
		}
		for (; kk < MT_N - 1; kk++) {
			y = (r->mt[kk] & 0x80000000U) |
			    (r->mt[kk + 1] & 0x7fffffffU);
			r->mt[kk] = r->mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^
				    mag01[y & 1];
		}
		y = (r->mt[MT_N - 1] & 0x80000000U) | (r->mt[0] & 0x7fffffffU);
		r->mt[MT_N - 1] = r->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1];
		r->mti = 0;
	}
	y = r->mt[r->mti++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680U;
	y ^= (y << 15) & 0xefc60000U;
	y ^= y >> 18;
	return y;
}

uint64_t damage_rng_bits(struct damage_rng *r, int k)
{
	uint64_t v = 0;

	if (k < 1 || k > 64)
		BUG("getrandbits(%d)", k);
	if (k <= 32)
		return damage_rng_u32(r) >> (32 - k);
	/* CPython fills 32-bit words from the least significant up */
	for (int shift = 0; k > 0; shift += 32, k -= 32) {
		uint64_t w = damage_rng_u32(r);
		if (k < 32)
			w >>= 32 - k;
		v |= w << shift;
	}
	return v;
}

uint64_t damage_rng_below(struct damage_rng *r, uint64_t n)
{
	int k = 0;
	uint64_t v;

	if (!n)
		BUG("randrange(0)");
	for (uint64_t t = n; t; t >>= 1)
		k++;
	do
		v = damage_rng_bits(r, k);
	while (v >= n);
	return v;
}

int damage_file(struct damage_rng *r, const char *path,
		const struct damage_opts *o, damage_block_fn fn, void *ctx)
{
	struct stat st;
	uint64_t size, maxsize, chunksize;
	long long chunks;
	unsigned char *block = NULL;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_errno("cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		ret = err_errno("cannot stat '%s'", path);
		goto out;
	}
	size = (uint64_t)st.st_size;
	if ((o->percent && strcmp(o->percent, "0")) || o->size) {
		uint64_t ms1 = 0, ms2;
		if (o->percent) {
			double p;
			/* bup: float(percent); int() of inf or nan fails */
			if (opt_parse_float(o->percent, &p) || !isfinite(p)) {
				ret = err_set(ERR_USAGE, "invalid --percent "
					      "'%s'", o->percent);
				goto out;
			}
			/* bup: int(float(percent) / 100.0 * size) */
			p = p / 100.0 * (double)size;
			if (p >= 1.0)
				ms1 = p >= 18446744073709551615.0 ?
					UINT64_MAX : (uint64_t)p;
			else if (p <= -1.0) {
				ret = err_set(ERR_USAGE, "empty range for "
					      "the block size");
				goto out;
			}
		}
		if (!ms1)
			ms1 = size;
		if (o->size < 0) {
			ret = err_set(ERR_USAGE, "empty range for the block "
				      "size");
			goto out;
		}
		ms2 = o->size ? (uint64_t)o->size : size;
		maxsize = ms1 < ms2 ? ms1 : ms2;
	} else {
		maxsize = 1;
	}
	chunks = o->num ? o->num : 10;
	if (chunks <= 0)
		goto out;
	chunksize = size / (uint64_t)chunks;
	if (!chunksize)
		chunksize = 1;
	for (long long i = 0; i < chunks; i++) {
		uint64_t sz, ofs;
		if (!maxsize) {
			ret = err_set(ERR_USAGE, "empty range for the block "
				      "size of '%s'", path);
			goto out;
		}
		sz = 1 + damage_rng_below(r, maxsize);
		if (sz > size)
			sz = size;
		if (o->equal) {
			if (!size) {
				ret = err_set(ERR_USAGE, "cannot spread damage "
					      "over the empty file '%s'", path);
				goto out;
			}
			/* bup: (r * chunksize) % size, in Python's integers */
			ofs = (uint64_t)(((unsigned __int128)i * chunksize)
					 % size);
		} else {
			ofs = damage_rng_below(r, size - sz + 1);
		}
		if (fn)
			fn(ctx, sz, ofs);
		/* in pieces: memory stays bounded however large the block */
		for (uint64_t done = 0; done < sz;) {
			size_t piece = sz - done < DAMAGE_PIECE ?
				(size_t)(sz - done) : DAMAGE_PIECE;
			if (!block)
				block = xmalloc(DAMAGE_PIECE);
			for (size_t b = 0; b < piece; b++)
				block[b] = (unsigned char)damage_rng_below(r, 256);
			if (util_pwrite_full(fd, block, piece, ofs + done)) {
				ret = err_errno("cannot write '%s'", path);
				goto out;
			}
			done += piece;
		}
	}
out:
	free(block);
	if (close(fd) < 0 && !ret)
		ret = err_errno("cannot close '%s'", path);
	return ret;
}
