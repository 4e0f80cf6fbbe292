/* Tests for vint.c: FORMAT.md 5.1 and testvectors/metadata/vint-vectors.txt. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/vint.h"

static size_t unhex(unsigned char *out, size_t max, const char *hex)
{
	size_t n = 0;

	while (hex[0] && hex[1] && n < max) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return n;
}

/* Python bytes literal b'...' with plain ASCII content only. */
static size_t parse_pybytes(char *out, const char *s)
{
	size_t n = 0;

	if (s[0] != 'b' || s[1] != '\'')
		return (size_t)-1;
	for (s += 2; *s && *s != '\''; s++)
		out[n++] = *s;
	return n;
}

UNIT_TEST(vint, vectors_file)
{
	FILE *f = fopen(unit_vector("metadata/vint-vectors.txt"), "r");
	char line[1024];
	int nr_vuint = 0, nr_vint = 0, nr_bvec = 0;

	CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned char want[64], got[VINT_MAX];
		char *arrow = strstr(line, " -> ");
		size_t wn, gn;

		if (!arrow)
			continue;
		line[strcspn(line, "\n")] = '\0';
		wn = unhex(want, sizeof(want), arrow + 4);
		if (!strncmp(line, "vuint ", 6)) {
			uint64_t v = strtoull(line + 6, NULL, 10), back = 0;
			struct vint_reader r;

			gn = vint_encode_vuint(got, v);
			CHECK(gn == wn);
			CHECK_MEM(got, want, wn);
			vint_reader_init(&r, want, wn);
			CHECK(!vint_get_vuint(&r, &back));
			CHECK(back == v);
			CHECK(vint_reader_left(&r) == 0);
			nr_vuint++;
		} else if (!strncmp(line, "vint ", 5)) {
			int64_t v = strtoll(line + 5, NULL, 10), back = 0;
			struct vint_reader r;

			gn = vint_encode_vint(got, v);
			CHECK(gn == wn);
			CHECK_MEM(got, want, wn);
			vint_reader_init(&r, want, wn);
			CHECK(!vint_get_vint(&r, &back));
			CHECK(back == v);
			CHECK(vint_reader_left(&r) == 0);
			nr_vint++;
		} else if (!strncmp(line, "bvec ", 5)) {
			char data[256];
			size_t dn = parse_pybytes(data, line + 5);
			struct buf b = BUF_INIT;
			struct vint_reader r;
			const unsigned char *p;
			size_t n;

			CHECK(dn != (size_t)-1);
			vint_put_bvec(&b, data, dn);
			CHECK(b.len == wn);
			CHECK_MEM(b.data, want, wn);
			vint_reader_init(&r, want, wn);
			CHECK(!vint_get_bvec(&r, &p, &n));
			CHECK(n == dn);
			CHECK_MEM(p, data, dn);
			buf_release(&b);
			nr_bvec++;
		}
	}
	fclose(f);
	/* The file's current contents: 13 vuint, 14 vint, 3 bvec lines. */
	CHECK(nr_vuint >= 13);
	CHECK(nr_vint >= 14);
	CHECK(nr_bvec >= 3);
}

UNIT_TEST(vint, spec_examples)
{
	unsigned char b[VINT_MAX];

	CHECK(vint_encode_vuint(b, 0) == 1 && b[0] == 0);
	CHECK(vint_encode_vuint(b, 128) == 2 && !memcmp(b, "\x80\x01", 2));
	CHECK(vint_encode_vuint(b, 16877) == 3 &&
	      !memcmp(b, "\xed\x83\x01", 3));
	CHECK(vint_encode_vint(b, -1) == 1 && b[0] == 0x41);
	CHECK(vint_encode_vint(b, 64) == 2 && !memcmp(b, "\x80\x01", 2));
	CHECK(vint_encode_vint(b, -64) == 2 && !memcmp(b, "\xc0\x01", 2));
	CHECK(vint_encode_vint(b, 1700000000) == 5 &&
	      !memcmp(b, "\x80\xc4\x9f\xd5\x0c", 5));
}

UNIT_TEST(vint, round_trip_extremes)
{
	static const uint64_t u[] = {
		0, 1, 127, 128, 255, 256, 16383, 16384, (1ULL << 32) - 1,
		1ULL << 32, (1ULL << 55) - 1, 1ULL << 55, 1ULL << 56,
		(1ULL << 63) - 1, 1ULL << 63, UINT64_MAX,
	};
	static const int64_t s[] = {
		0, 1, -1, 63, -63, 64, -64, 65, -65, 8191, -8192,
		INT32_MAX, INT32_MIN, (INT64_C(1) << 55), -(INT64_C(1) << 55),
		INT64_MAX, -INT64_MAX,
	};
	unsigned char b[VINT_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(u); i++) {
		struct vint_reader r;
		uint64_t back = 1;
		size_t n = vint_encode_vuint(b, u[i]);

		CHECK(n <= VINT_MAX);
		vint_reader_init(&r, b, n);
		CHECK(!vint_get_vuint(&r, &back));
		CHECK(back == u[i]);
		CHECK(vint_reader_left(&r) == 0);
		/* Every proper prefix is truncated. */
		for (size_t k = 0; k < n; k++) {
			vint_reader_init(&r, b, k);
			CHECK(vint_get_vuint(&r, &back) == ERR_CORRUPT);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
		struct vint_reader r;
		int64_t back = 1;
		size_t n = vint_encode_vint(b, s[i]);

		CHECK(n <= VINT_MAX);
		vint_reader_init(&r, b, n);
		CHECK(!vint_get_vint(&r, &back));
		CHECK(back == s[i]);
		CHECK(vint_reader_left(&r) == 0);
		for (size_t k = 0; k < n; k++) {
			vint_reader_init(&r, b, k);
			CHECK(vint_get_vint(&r, &back) == ERR_CORRUPT);
		}
	}
}

UNIT_TEST(vint, rejects_overflow_and_truncation)
{
	struct vint_reader r;
	uint64_t u;
	int64_t s;
	const unsigned char *p;
	size_t n;

	/* 2^64: ten bytes with a 0x02 in the 64th bit position. */
	static const unsigned char over64[] = {
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02 };
	/* UINT64_MAX is fine; one more bit in the last group is not. */
	static const unsigned char max64[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const unsigned char endless[40] = {
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
		0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	/* vint magnitude 2^63: does not fit int64. */
	static const unsigned char vint63[] = {
		0xc0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02 };
	/* bup's reader accepts zero padding: 80 00 is 0, 81 80 00 is 1. */
	static const unsigned char padded[] = { 0x81, 0x80, 0x00 };
	static const unsigned char bvec_short[] = { 0x05, 'a', 'b' };

	vint_reader_init(&r, over64, sizeof(over64));
	CHECK(vint_get_vuint(&r, &u) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "64") != NULL);
	vint_reader_init(&r, max64, sizeof(max64));
	CHECK(!vint_get_vuint(&r, &u) && u == UINT64_MAX);
	vint_reader_init(&r, endless, sizeof(endless));
	CHECK(vint_get_vuint(&r, &u) == ERR_CORRUPT);
	vint_reader_init(&r, endless, sizeof(endless));
	CHECK(vint_get_vint(&r, &s) == ERR_CORRUPT);
	vint_reader_init(&r, vint63, sizeof(vint63));
	CHECK(vint_get_vint(&r, &s) == ERR_CORRUPT);
	vint_reader_init(&r, padded, sizeof(padded));
	CHECK(!vint_get_vuint(&r, &u) && u == 1);
	vint_reader_init(&r, bvec_short, sizeof(bvec_short));
	CHECK(vint_get_bvec(&r, &p, &n) == ERR_CORRUPT);
	vint_reader_init(&r, bvec_short, 0);
	CHECK(vint_get_bvec(&r, &p, &n) == ERR_CORRUPT);
	vint_reader_init(&r, bvec_short, 0);
	CHECK(vint_get_vint(&r, &s) == ERR_CORRUPT);
}
