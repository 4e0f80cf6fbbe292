/*
 * sha1batch: the ids from the SHA-NI lanes equal OpenSSL's, one at a
 * time, for every way a message can fall into head, middle and tail
 * blocks, in batches of every shape, and for git's known ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sha1batch.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/util.h"

UNIT_TEST(sha1batch, known_ids)
{
	struct oid out[3];
	struct sha1batch_job jobs[3] = {
		{ "", 0, &out[0], OBJ_BLOB },
		{ "hello\n", 6, &out[1], OBJ_BLOB },
		{ "", 0, &out[2], OBJ_BLOB },
	};

	sha1batch_hash(OBJ_BLOB, jobs, 3);
	CHECK_OID(&out[0], "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	CHECK_OID(&out[1], "ce013625030ba8dba906f756967f9e9ca394464a");
	CHECK_OID(&out[2], "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	sha1batch_hash(OBJ_TREE, jobs, 1);
	CHECK_OID(&out[0], "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
}

/*
 * Lengths 0-300 cover every split of header + data into the head block,
 * whole middle blocks and a one- or two-block tail (the header is 7-9
 * bytes there); the larger ones cross 64 KiB and bup's 32 KiB chunks.
 */
static size_t test_len(size_t i)
{
	static const size_t big[] = {
		4095, 4096, 8191, 8192, 32767, 32768, 32769, 65535, 65536,
		100000, 1000000,
	};

	if (i <= 300)
		return i;
	return big[(i - 301) % ARRAY_SIZE(big)];
}

#define NR_LENS (301 + 11)

static void check_batches(enum obj_type type, const unsigned char *data,
			  size_t batch)
{
	struct sha1batch_job *jobs = calloc(NR_LENS, sizeof(*jobs));
	struct oid *got = calloc(NR_LENS, sizeof(*got));
	int bad = 0;

	/* data + i: every alignment of the input, jobs of mixed sizes */
	for (size_t i = 0; i < NR_LENS; i++)
		jobs[i] = (struct sha1batch_job){ data + i % 61, test_len(i),
						  &got[i], type };
	for (size_t i = 0; i < NR_LENS; i += batch)
		sha1batch_hash(type, jobs + i, MIN(batch, NR_LENS - i));
	for (size_t i = 0; i < NR_LENS; i++) {
		struct oid want;

		oid_hash_object(&want, type, jobs[i].data, jobs[i].len);
		if (!oid_eq(&want, &got[i]) && bad++ < 5)
			unit_fail(__FILE__, __LINE__,
				  "type %d, length %zu, batch %zu: %s, not %s",
				  (int)type, jobs[i].len, batch,
				  oid_hex(&got[i]), oid_hex(&want));
	}
	free(jobs);
	free(got);
}

UNIT_TEST(sha1batch, equals_one_at_a_time)
{
	unsigned char *data = malloc(1000000 + 64);
	static const size_t batches[] = { 1, 2, 3, 5, 64, NR_LENS };

	st_lcg_fill(data, 1000000 + 64, 9);
	if (!sha1batch_simd())
		printf("# no SHA-NI here: only the one-at-a-time path ran\n");
	for (int simd = 1; simd >= 0; simd--) {
		int was = sha1batch_set_simd(simd);

		for (size_t b = 0; b < ARRAY_SIZE(batches); b++) {
			check_batches(OBJ_BLOB, data, batches[b]);
			check_batches(OBJ_COMMIT, data, batches[b]);
		}
		sha1batch_set_simd(was);
	}
	free(data);
}

/*
 * Each job's own type (sha1batch_hash_typed): commits, trees and blobs
 * mixed in one batch, with the lanes and without.
 */
UNIT_TEST(sha1batch, typed_equals_one_at_a_time)
{
	static const enum obj_type types[] = { OBJ_COMMIT, OBJ_TREE,
					       OBJ_BLOB, OBJ_TAG };
	enum { N = 40 };
	unsigned char *data = malloc(100000);
	struct sha1batch_job jobs[N];
	struct oid got[N], want;

	st_lcg_fill(data, 100000, 4);
	for (int simd = 1; simd >= 0; simd--) {
		int was = sha1batch_set_simd(simd);

		for (int i = 0; i < N; i++)
			jobs[i] = (struct sha1batch_job){ data + i,
				(size_t)i * i * 61, &got[i],
				types[i % ARRAY_SIZE(types)] };
		sha1batch_hash_typed(jobs, N);
		for (int i = 0; i < N; i++) {
			oid_hash_object(&want, jobs[i].type, jobs[i].data,
					jobs[i].len);
			if (!oid_eq(&want, &got[i]))
				unit_fail(__FILE__, __LINE__, "job %d (%s, "
					  "lanes %d)", i,
					  obj_type_name(jobs[i].type), simd);
		}
		sha1batch_set_simd(was);
	}
	free(data);
}

/* Outputs land where their job says, whatever order lanes finish in. */
UNIT_TEST(sha1batch, outputs_in_place)
{
	unsigned char *data = malloc(200000);
	struct sha1batch_job jobs[4];
	struct oid got[4], want;
	/* a long message first: the other lane runs through three */
	static const size_t lens[4] = { 200000, 10, 5000, 70 };

	st_lcg_fill(data, 200000, 3);
	for (int i = 0; i < 4; i++)
		jobs[i] = (struct sha1batch_job){ data, lens[i], &got[3 - i],
						  OBJ_BLOB };
	sha1batch_hash(OBJ_BLOB, jobs, 4);
	for (int i = 0; i < 4; i++) {
		oid_hash_object(&want, OBJ_BLOB, data, lens[i]);
		CHECK(oid_eq(&want, &got[3 - i]));
	}
	free(data);
}

/*
 * Streams: three messages of different lengths fed side by side in
 * pieces of whole blocks, each finished with every possible tail
 * length, equal OpenSSL's digest of the whole; with the lanes and
 * without, and with streams of both kinds in one call.
 */
static void check_streams(const unsigned char *data, int simd_a, int simd_b)
{
	for (size_t tail = 0; tail < 140; tail += 1 + tail / 8) {
		struct sha1batch_stream s[3], *sp[3] = { NULL };
		const unsigned char *p[3] = { NULL };
		size_t len[3] = { 64 * 300, 64 * 17, 64 * 1000 };
		size_t off[3] = { 0, 0, 0 };
		int was = sha1batch_set_simd(simd_a);

		for (int i = 0; i < 3; i++) {
			if (i == 2)
				sha1batch_set_simd(simd_b);
			sha1batch_stream_init(&s[i]);
			len[i] += tail;
		}
		sha1batch_set_simd(was);
		for (;;) {
			size_t k = 7;   /* blocks per call: not a divisor */
			int n = 0;

			for (int i = 0; i < 3; i++)
				if ((len[i] - off[i]) / 64)
					k = MIN(k, (len[i] - off[i]) / 64);
			for (int i = 0; i < 3; i++)
				if ((len[i] - off[i]) / 64) {
					sp[n] = &s[i];
					p[n++] = data + i * 99 + off[i];
				}
			if (!n)
				break;
			sha1batch_stream_blocks(sp, p, n, k);
			for (int i = 0; i < 3; i++)
				if ((len[i] - off[i]) / 64)
					off[i] += k * 64;
		}
		for (int i = 0; i < 3; i++) {
			unsigned char got[OID_RAWSZ], want[OID_RAWSZ];

			sha1batch_stream_final(&s[i], data + i * 99 + off[i],
					       len[i] - off[i], got);
			sha1batch_stream_release(&s[i]);
			sha1_buf(want, data + i * 99, len[i]);
			if (memcmp(got, want, OID_RAWSZ))
				unit_fail(__FILE__, __LINE__,
					  "stream %d of %zu bytes (lanes %d/%d)",
					  i, len[i], simd_a, simd_b);
		}
	}
}

UNIT_TEST(sha1batch, streams_equal_one_at_a_time)
{
	unsigned char *data = malloc(64 * 1100 + 400);
	struct sha1batch_stream s;
	unsigned char got[OID_RAWSZ];

	st_lcg_fill(data, 64 * 1100 + 400, 5);
	check_streams(data, 1, 1);
	check_streams(data, 0, 0);
	check_streams(data, 1, 0);
	/* the empty message: SHA-1("") */
	sha1batch_stream_init(&s);
	sha1batch_stream_final(&s, NULL, 0, got);
	sha1batch_stream_release(&s);
	CHECK(!memcmp(got, "\xda\x39\xa3\xee\x5e\x6b\x4b\x0d\x32\x55"
			   "\xbf\xef\x95\x60\x18\x90\xaf\xd8\x07\x09", 20));
	free(data);
}
