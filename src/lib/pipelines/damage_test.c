/*
 * damage: the generator draws what Python 3.11's random module draws for
 * the same seed (values printed by python3), and damage_file() changes a
 * file exactly as bup damage does.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipelines/damage.h"
#include "util/err.h"
#include "unit.h"
#include "util/util.h"

UNIT_TEST(damage, int_seeds_match_python)
{
	struct damage_rng r;

	/* random.seed(5); [random.getrandbits(32) for i in range(3)] */
	damage_rng_seed_arg(&r, "5");
	CHECK(damage_rng_u32(&r) == 2675342405U);
	CHECK(damage_rng_u32(&r) == 1097127993U);
	CHECK(damage_rng_u32(&r) == 3185950873U);
	/* random.seed(-2**70 - 3): the sign is dropped, three words */
	damage_rng_seed_arg(&r, "-1180591620717411303427");
	CHECK(damage_rng_u32(&r) == 701776502U);
	CHECK(damage_rng_u32(&r) == 1422058157U);
}

UNIT_TEST(damage, string_seed_is_hashed)
{
	struct damage_rng r;

	/* "007" is not what str(int("007")) prints: seeded as a string */
	damage_rng_seed_arg(&r, "007");
	CHECK(damage_rng_u32(&r) == 4210703562U);
	CHECK(damage_rng_u32(&r) == 1683505336U);
	/* nor is "-0"; "0" is an int */
	damage_rng_seed_arg(&r, "-0");
	CHECK(damage_rng_u32(&r) == 2589748641U);
	damage_rng_seed_arg(&r, "0");
	CHECK(damage_rng_u32(&r) == 3626764237U);
}

UNIT_TEST(damage, randrange_and_getrandbits)
{
	static const unsigned want[5] = { 197, 215, 20, 132, 248 };
	struct damage_rng r;

	damage_rng_seed_arg(&r, "0");
	for (int i = 0; i < 5; i++)
		CHECK(damage_rng_below(&r, 256) == want[i]);
	CHECK(damage_rng_below(&r, 1000000000000ULL) == 913899456057ULL);
	damage_rng_seed_arg(&r, "7");
	CHECK(damage_rng_bits(&r, 40) == 1040772936760ULL);
	CHECK(damage_rng_bits(&r, 64) == 7283207964119141687ULL);
}

struct blocks {
	uint64_t size[4], ofs[4];
	int n;
};

static void note_block(void *ctx, uint64_t size, uint64_t ofs)
{
	struct blocks *b = ctx;
	if (b->n < 4) {
		b->size[b->n] = size;
		b->ofs[b->n] = ofs;
	}
	b->n++;
}

UNIT_TEST(damage, file_damaged_as_bup)
{
	static const unsigned char patch1[] = { 0x20, 0x82 };
	static const unsigned char patch2[] = { 0xc2, 0x6b, 0x30, 0xf9 };
	unsigned char zero[64] = { 0 }, got[64], want[64];
	struct damage_opts o = { 3, 4, NULL, 0 };
	struct blocks b = { { 0 }, { 0 }, 0 };
	struct damage_rng r;
	char *path = xstrfmt("%s/f", unit_tmpdir());
	int fd;

	/* bup damage -S 1 -n 3 -s 4 on 64 zero bytes */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, zero, sizeof(zero)) == (ssize_t)sizeof(zero));
	close(fd);
	damage_rng_seed_arg(&r, "1");
	CHECK(damage_file(&r, path, &o, note_block, &b) == 0);
	CHECK(b.n == 3);
	CHECK(b.size[0] == 2 && b.ofs[0] == 36);
	CHECK(b.size[1] == 1 && b.ofs[1] == 63);
	CHECK(b.size[2] == 4 && b.ofs[2] == 41);
	memset(want, 0, sizeof(want));
	memcpy(want + 36, patch1, sizeof(patch1));
	want[63] = 0xe6;
	memcpy(want + 41, patch2, sizeof(patch2));
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, got, sizeof(got)) == (ssize_t)sizeof(got));
	close(fd);
	CHECK_MEM(got, want, sizeof(want));
	free(path);
}

UNIT_TEST(damage, refusals)
{
	struct damage_opts o = { 0, 0, NULL, 1 };
	struct damage_rng r;
	char *path = xstrfmt("%s/empty", unit_tmpdir());
	int fd;

	damage_rng_seed_arg(&r, "1");
	CHECK(damage_file(&r, path, &o, NULL, NULL) == ERR_IO);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	close(fd);
	/* --equal on an empty file: bup divides by zero */
	CHECK(damage_file(&r, path, &o, NULL, NULL) == ERR_USAGE);
	o.equal = 0;
	o.size = -1;
	CHECK(damage_file(&r, path, &o, NULL, NULL) == ERR_USAGE);
	o.size = 0;
	o.percent = "x";
	CHECK(damage_file(&r, path, &o, NULL, NULL) == ERR_USAGE);
	free(path);
}
