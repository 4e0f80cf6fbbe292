/*
 * zlib: both compressors round-trip through both decompressors; real
 * zlib at level 1 gives the bytes bup wrote (testvectors/pack); every
 * reject branch of the sized and streaming inflaters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "util/err.h"
#include "util/oid.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/zlib.h"

static const size_t sizes[] = { 0, 1, 3, 100, 65536, 300000 };

UNIT_TEST(zlib, round_trip_both_impls)
{
	unsigned char *data = malloc(300000);

	st_lcg_fill(data, 300000, 5);
	memset(data + 1000, 'a', 50000); /* something compressible */
	for (int impl = 0; impl < 2; impl++) {
		for (int level = 0; level <= 9; level += 3) {
			struct zlib_deflater *z = zlib_deflater_new(impl,
								    level);
			for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
				struct buf c = BUF_INIT, d = BUF_INIT;
				size_t used = 0;

				zlib_deflate(z, &c, data, sizes[i]);
				buf_add(&c, "trailing", 8);
				CHECK(zlib_inflate_sized(&d, c.data, c.len,
							 sizes[i], &used) == 0);
				CHECK(used == c.len - 8);
				CHECK(d.len == sizes[i]);
				CHECK(!memcmp(d.data, data, sizes[i]));
				buf_reset(&d);
				CHECK(zlib_inflate_all(&d, c.data, c.len,
						       &used) == 0);
				CHECK(used == c.len - 8);
				CHECK(d.len == sizes[i] &&
				      !memcmp(d.data, data, sizes[i]));
				buf_release(&c);
				buf_release(&d);
			}
			zlib_deflater_free(z);
		}
	}
	free(data);
}

UNIT_TEST(zlib, level1_matches_bup)
{
	/* The blob "abc" in the test-vector pack: 78 01 ... at offset 13. */
	static const unsigned char want[] = {
		0x78, 0x01, 0x4b, 0x4c, 0x4a, 0x06, 0x00, 0x02, 0x4d, 0x01,
		0x27 };
	struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_ZLIB, 1);
	struct buf c = BUF_INIT;

	zlib_deflate(z, &c, "abc", 3);
	CHECK(c.len == sizeof(want));
	CHECK_MEM(c.data, want, sizeof(want));
	/* The deflater is reused: a second stream is identical. */
	buf_reset(&c);
	zlib_deflate(z, &c, "abc", 3);
	CHECK(c.len == sizeof(want) && !memcmp(c.data, want, sizeof(want)));
	buf_release(&c);
	zlib_deflater_free(z);
}

UNIT_TEST(zlib, rejects)
{
	struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_LIBDEFLATE, 6);
	struct buf c = BUF_INIT, d = BUF_INIT;
	size_t used;

	zlib_deflate(z, &c, "hello, world\n", 13);
	/* Wrong sizes either way. */
	CHECK(zlib_inflate_sized(&d, c.data, c.len, 12, &used) ==
	      ERR_CORRUPT);
	CHECK(zlib_inflate_sized(&d, c.data, c.len, 14, &used) ==
	      ERR_CORRUPT);
	CHECK(d.len == 0);
	/* Truncated. */
	CHECK(zlib_inflate_sized(&d, c.data, c.len - 1, 13, &used) ==
	      ERR_CORRUPT);
	CHECK(zlib_inflate_all(&d, c.data, c.len - 1, &used) == ERR_CORRUPT);
	CHECK(d.len == 0);
	/* Bad adler32. */
	c.data[c.len - 1] ^= 1;
	CHECK(zlib_inflate_sized(&d, c.data, c.len, 13, &used) ==
	      ERR_CORRUPT);
	CHECK(zlib_inflate_all(&d, c.data, c.len, &used) == ERR_CORRUPT);
	/* Garbage and empty input. */
	CHECK(zlib_inflate_sized(&d, "garbage!", 8, 3, &used) == ERR_CORRUPT);
	CHECK(zlib_inflate_all(&d, "garbage!", 8, &used) == ERR_CORRUPT);
	CHECK(zlib_inflate_all(&d, "", 0, &used) == ERR_CORRUPT);
	buf_release(&c);
	buf_release(&d);
	zlib_deflater_free(z);
}

UNIT_TEST(zlib, streaming_byte_by_byte)
{
	struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_ZLIB, 6);
	struct zlib_inflater *in = zlib_inflater_new();
	unsigned char data[70000];
	struct buf c = BUF_INIT, d = BUF_INIT;
	size_t pos = 0, used;
	int ret = 0;

	st_lcg_fill(data, sizeof(data), 9);
	memset(data, 0, 20000);
	zlib_deflate(z, &c, data, sizeof(data));
	buf_add(&c, "xyz", 3);
	zlib_inflater_reset(in, sizeof(data));
	while (pos < c.len && ret == 0) {
		ret = zlib_inflater_feed(in, &d, c.data + pos, 1, &used);
		pos += used;
	}
	CHECK(ret == 1);
	CHECK(pos == c.len - 3);
	CHECK(d.len == sizeof(data) && !memcmp(d.data, data, sizeof(data)));

	/* An output bound below the real size is corruption. */
	buf_reset(&d);
	zlib_inflater_reset(in, sizeof(data) - 1);
	CHECK(zlib_inflater_feed(in, &d, c.data, c.len, &used) ==
	      ERR_CORRUPT);
	CHECK(d.len <= sizeof(data) - 1);
	/* Truncated input asks for more. */
	buf_reset(&d);
	zlib_inflater_reset(in, 0);
	CHECK(zlib_inflater_feed(in, &d, c.data, c.len - 10, &used) == 0);
	CHECK(used == c.len - 10);

	buf_release(&c);
	buf_release(&d);
	zlib_inflater_free(in);
	zlib_deflater_free(z);
}

UNIT_TEST(zlib, crc32_matches_zlib)
{
	/* crc32("123456789") = 0xcbf43926, the standard check value. */
	CHECK(zlib_crc32(0, "123456789", 9) == 0xcbf43926u);
	CHECK(zlib_crc32(zlib_crc32(0, "1234", 4), "56789", 5) ==
	      0xcbf43926u);
}

/* "0\n1\n2\n..." with every 7th line twice, cut to n bytes. */
static void py_lines(struct buf *b, size_t n)
{
	buf_reset(b);
	for (unsigned i = 0; b->len < n; i++) {
		char s[16];
		int k = snprintf(s, sizeof(s), "%u\n", i);
		buf_add(b, s, (size_t)k);
		if (!(i % 7))
			buf_add(b, s, (size_t)k);
	}
	buf_setlen(b, n);
}

/*
 * The streams bup writes (Python 3.11's zlib.compressobj(level),
 * compress() then flush(), on zlib 1.2.13): the first 8 bytes of their
 * SHA-1 and their length.  Level 0 depends on how Python calls deflate().
 */
UNIT_TEST(zlib, levels_0_1_9_match_python)
{
	static const struct {
		size_t n;
		int level;
		const char *sha;
		size_t len;
	} want[] = {
		{ 0, 0, "52870f3d0de4121a", 11 },
		{ 0, 1, "1f1bd25b2b81dd5a", 8 },
		{ 1, 0, "1ae764ea9504cd12", 12 },
		{ 32767, 0, "29acd395a603a5c3", 32778 },
		{ 32768, 0, "3e2d5ad6bb47ce88", 32784 },
		{ 32768, 1, "226f4e90a0a48082", 11219 },
		{ 32769, 0, "4668d63e1e348939", 32785 },
		{ 65536, 0, "1c06e826134f6ec5", 65552 },
		{ 65541, 0, "4ea84bab42bbf36b", 65557 },
		{ 65541, 9, "9628ca482c07b652", 24401 },
		{ 200000, 0, "d212d7afb6133839", 200031 },
		{ 200000, 1, "004b086c23e73202", 66264 },
		{ 1100000, 0, "2b8078f8a150a667", 1100096 },
		{ 1100000, 1, "f442a1ed4f682ab9", 353234 },
		{ 1100000, 9, "db26acb412786177", 302544 },
	};
	struct buf in = BUF_INIT, c = BUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_ZLIB,
							    want[i].level);
		unsigned char sha[20];
		char hex[17];

		py_lines(&in, want[i].n);
		buf_reset(&c);
		zlib_deflate(z, &c, in.data, in.len);
		sha1_buf(sha, c.data, c.len);
		for (int k = 0; k < 8; k++)
			snprintf(hex + 2 * k, 3, "%02x", sha[k]);
		if (c.len != want[i].len || strcmp(hex, want[i].sha))
			unit_fail(__FILE__, __LINE__,
				  "%zu bytes, level %d: %zu bytes, sha %s",
				  want[i].n, want[i].level, c.len, hex);
		zlib_deflater_free(z);
	}
	buf_release(&in);
	buf_release(&c);
}

/*
 * Noise is stored, not deflated, with libdeflate (zlib.c says why): at
 * level 6 a stored stream is told by its header (78 01, a level-0
 * stream) and its size.  Compressible data is deflated, also when its
 * bytes are spread as evenly as noise's (769 bytes of noise repeated:
 * the byte counts alone call it noise); real zlib never stores (its
 * bytes are bup's).
 */
static size_t deflated(struct zlib_deflater *z, const unsigned char *data,
		       size_t len, unsigned char hdr[2])
{
	struct buf c = BUF_INIT, d = BUF_INIT;
	size_t n;

	zlib_deflate(z, &c, data, len);
	CHECK(zlib_inflate_sized(&d, c.data, c.len, len, NULL) == 0 &&
	      d.len == len && !memcmp(d.data, data, len));
	memcpy(hdr, c.data, 2);
	n = c.len;
	buf_release(&c);
	buf_release(&d);
	return n;
}

UNIT_TEST(zlib, noise_stored_the_rest_deflated)
{
	enum { N = 65536 };
	unsigned char *noise = malloc(N), *rep = malloc(N), *text = malloc(N);
	struct zlib_deflater *ld = zlib_deflater_new(ZLIB_IMPL_LIBDEFLATE, 6);
	struct zlib_deflater *zl = zlib_deflater_new(ZLIB_IMPL_ZLIB, 6);
	unsigned char h[2];
	unsigned counts[256] = { 0 };
	uint64_t sq = 0;
	size_t n;

	st_lcg_fill(noise, N, 7);
	for (size_t i = 0; i < N; i++)
		rep[i] = noise[i % 769];
	/* zlib.c's first step, as it samples 64 KiB: rep passes for noise */
	for (size_t i = 0; i < 1024; i++)
		counts[rep[i * 64]]++;
	for (int i = 0; i < 256; i++)
		sq += (uint64_t)counts[i] * counts[i];
	CHECK(sq < 5760);
	for (size_t i = 0; i < N; i++)
		text[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
	/* noise, and noise of 1 KiB (the least that is tested) */
	n = deflated(ld, noise, N, h);
	CHECK(h[0] == 0x78 && h[1] == 0x01 && n >= N + 11 && n <= N + 16);
	n = deflated(ld, noise, 1024, h);
	CHECK(h[0] == 0x78 && h[1] == 0x01 && n == 1024 + 11);
	/* below that: deflated as it comes */
	deflated(ld, noise, 1023, h);
	CHECK(h[0] == 0x78 && h[1] == 0x9c);
	/* evenly spread bytes that repeat; text */
	n = deflated(ld, rep, N, h);
	CHECK(h[0] == 0x78 && h[1] == 0x9c && n < N / 20);
	n = deflated(ld, text, N, h);
	CHECK(h[0] == 0x78 && h[1] == 0x9c && n < N / 20);
	/* real zlib deflates noise too */
	deflated(zl, noise, N, h);
	CHECK(h[0] == 0x78 && h[1] == 0x9c);
	/* level 0 stores everything, with both */
	zlib_deflater_free(ld);
	ld = zlib_deflater_new(ZLIB_IMPL_LIBDEFLATE, 0);
	deflated(ld, text, N, h);
	CHECK(h[0] == 0x78 && h[1] == 0x01);
	zlib_deflater_free(ld);
	zlib_deflater_free(zl);
	free(noise);
	free(rep);
	free(text);
}
