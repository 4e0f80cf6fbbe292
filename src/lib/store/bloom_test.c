/*
 * bloom: bup's test vector (testvectors/midx-bloom/bup.bloom) parsed,
 * queried and rebuilt byte for byte, bup's update policy (in place vs
 * rebuild), --ruin, --check, and every reject branch of the parser.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/bloom.h"
#include "util/buf.h"
#include "util/err.h"
#include "store/idx.h"
#include "idxvec.h"
#include "unit.h"
#include "util/util.h"

#define V_BLOOM "midx-bloom/bup.bloom"
/* Each id of the vector: a hit; then, changed in three bytes, a probe. */
struct vec_probe {
	const struct bloom_file *b;
	uint32_t hits, fp;
};

static void probe_id(void *ctx, const struct idx_file *ix, struct oid *o)
{
	struct vec_probe *p = ctx;

	(void)ix;
	p->hits += bloom_may_contain(p->b, o);
	o->hash[0] ^= 0xff;
	o->hash[7] ^= 0xff;
	o->hash[13] ^= 0xff;
	p->fp += bloom_may_contain(p->b, o);
}

UNIT_TEST(bloom, parse_and_query_vector)
{
	struct vec_probe p = { NULL, 0, 0 };
	struct bloom_file *b;

	if (bloom_open(&b, unit_vector(V_BLOOM))) {
		CHECK(0);
		return;
	}
	CHECK(b->bits == 12 && b->k == 5 && b->entries == 1179);
	CHECK(b->nr_idxnames == 3);
	CHECK(!strcmp(b->idxnames[0], "pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx"));
	p.b = b;
	idxvec_each_id(probe_id, &p);
	CHECK(p.hits == 1179);
	/* 1179 ids in 32768 bits with k=5: ~1.6 % false positives. */
	CHECK(p.fp < 1179 / 10);
	CHECK(bloom_check(unit_vector(V_BLOOM), NULL) == 0);
	bloom_close(b);
}

UNIT_TEST(bloom, rebuild_vector_byte_identical)
{
	const char *dir = unit_tmpdir();
	char *out = xstrfmt("%s/bup.bloom", dir);
	char *p[3];
	const char *cp[3];
	struct buf want = BUF_INIT, got = BUF_INIT;

	/* The vector records its idx names in this (directory) order. */
	p[0] = xstrdup(unit_vector(V_IDX3));
	p[1] = xstrdup(unit_vector(V_IDX2));
	p[2] = xstrdup(unit_vector(V_IDX1));
	for (int i = 0; i < 3; i++)
		cp[i] = p[i];
	CHECK(bloom_write(out, cp, 3, 0) == 0);
	CHECK(buf_read_file(&want, unit_vector(V_BLOOM)) == 0);
	CHECK(buf_read_file(&got, out) == 0);
	CHECK(got.len == want.len && want.len == 4261);
	if (got.len == want.len)
		CHECK_MEM(got.data, want.data, want.len);
	for (int i = 0; i < 3; i++)
		free(p[i]);
	free(out);
	buf_release(&want);
	buf_release(&got);
}

static int copy_file(const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	int fd, ret = -1;

	if (buf_read_file(&b, from) < 0)
		return -1;
	fd = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0 && !write_full(fd, b.data, b.len))
		ret = 0;
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	return ret;
}

UNIT_TEST(bloom, update_policy)
{
	const char *dir = unit_tmpdir();
	char *bl = xstrfmt("%s/bup.bloom", dir);
	char *i1 = xstrfmt("%s/pack-7e4a91524e0812dd797b74364b2bf316637f2801.idx", dir);
	char *i2 = xstrfmt("%s/pack-2681b75172e4ffeb28ec6e8978f4e9bc5f345897.idx", dir);
	char *i3 = xstrfmt("%s/pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx", dir);
	struct bloom_file *b;

	CHECK(copy_file(unit_vector(V_IDX1), i1) == 0);
	CHECK(bloom_update(dir, NULL, 0, 0, NULL) == 0);
	CHECK(bloom_open(&b, bl) == 0);
	if (b) {
		/* 5 ids: bits = floor(log2(20)) = 4 */
		CHECK(b->bits == 4 && b->k == 5 && b->entries == 5);
		CHECK(b->nr_idxnames == 1);
		bloom_close(b);
	}
	/* 7 more: 12 > 12? no: nmax(k5, bits 4) = 12, so in place. */
	CHECK(copy_file(unit_vector(V_IDX2), i2) == 0);
	CHECK(bloom_update(dir, NULL, 0, 0, NULL) == 0);
	CHECK(bloom_open(&b, bl) == 0);
	if (b) {
		CHECK(b->bits == 4 && b->entries == 12);
		CHECK(b->nr_idxnames == 2);
		CHECK(!strcmp(b->idxnames[1],
			      "pack-2681b75172e4ffeb28ec6e8978f4e9bc5f345897.idx"));
		bloom_close(b);
	}
	/* 1167 more: rebuilt at bits 12 with all 1179 ids. */
	CHECK(copy_file(unit_vector(V_IDX3), i3) == 0);
	CHECK(bloom_update(dir, NULL, 0, 0, NULL) == 0);
	CHECK(bloom_open(&b, bl) == 0);
	if (b) {
		CHECK(b->bits == 12 && b->entries == 1179);
		CHECK(b->nr_idxnames == 3);
		/* The new idx comes first when rebuilding. */
		CHECK(!strcmp(b->idxnames[0],
			      "pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx"));
		bloom_close(b);
	}
	CHECK(bloom_check(bl, NULL) == 0);
	/* Nothing new: unchanged.  k=4 forced: rebuilt with k=4. */
	CHECK(bloom_update(dir, NULL, 4, 1, NULL) == 0);
	CHECK(bloom_open(&b, bl) == 0);
	if (b) {
		CHECK(b->k == 4 && b->entries == 1179);
		bloom_close(b);
	}
	CHECK(bloom_check(bl, NULL) == 0);
	/* Ruin: the table is cleared, so the check fails. */
	CHECK(bloom_ruin(bl) == 0);
	CHECK(bloom_check(bl, NULL) == ERR_CORRUPT);
	/* A stale count is rebuilt on the next update. */
	CHECK(unlink(i2) == 0);
	CHECK(copy_file(unit_vector(V_IDX2), i2) == 0);
	CHECK(bloom_update(dir, NULL, 0, 1, NULL) == 0);
	CHECK(bloom_check(bl, NULL) == 0);
	free(bl);
	free(i1);
	free(i2);
	free(i3);
}

/*
 * bup do_bloom's terminal lines: a "counting" line per idx (progress()),
 * what it does, then a "writing" line (qprogress()) before each idx.
 */
UNIT_TEST(bloom, progress_lines)
{
	const char *dir = unit_tmpdir();
	char *i1 = xstrfmt("%s/pack-7e4a91524e0812dd797b74364b2bf316637f2801.idx", dir);
	char *i2 = xstrfmt("%s/pack-2681b75172e4ffeb28ec6e8978f4e9bc5f345897.idx", dir);
	char *i3 = xstrfmt("%s/pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx", dir);
	static const char rebuild[] =
		"0:bloom: counting: 0\r0:bloom: counting: 1\r"
		"0:bloom: counting: 2\r"
		"0:bloom: creating from 3 files (1179 objects).\r"
		"1:bloom: writing 0.00% (0/1179 objects)\r1:";

	CHECK(copy_file(unit_vector(V_IDX1), i1) == 0);
	buf_reset(&idxvec_progress_got);
	CHECK(bloom_update_ex(dir, NULL, 0, 0, NULL, NULL,
			      idxvec_progress_cb) == 0);
	CHECK(!strcmp(idxvec_progress_got.data, "0:bloom: counting: 0\r"
		      "0:bloom: creating from 1 file (5 objects).\r"
		      "1:bloom: writing 0.00% (0/5 objects)\r"));
	/* in place (see update_policy) */
	CHECK(copy_file(unit_vector(V_IDX2), i2) == 0);
	buf_reset(&idxvec_progress_got);
	CHECK(bloom_update_ex(dir, NULL, 0, 0, NULL, NULL,
			      idxvec_progress_cb) == 0);
	CHECK(!strcmp(idxvec_progress_got.data, "0:bloom: counting: 0\r"
		      "0:bloom: counting: 1\r"
		      "0:bloom: adding 1 file (7 objects).\r"
		      "1:bloom: writing 0.00% (0/7 objects)\r"));
	/* rebuilt: three "writing" lines, the later ones by directory order */
	CHECK(copy_file(unit_vector(V_IDX3), i3) == 0);
	buf_reset(&idxvec_progress_got);
	CHECK(bloom_update_ex(dir, NULL, 0, 0, NULL, NULL,
			      idxvec_progress_cb) == 0);
	CHECK(!strncmp(idxvec_progress_got.data, rebuild,
		       sizeof(rebuild) - 1));
	CHECK(strstr(idxvec_progress_got.data, "1:bloom: writing 98.98% "
		     "(1167/1179 objects)\r"));
	/* nothing to do: only the counting */
	buf_reset(&idxvec_progress_got);
	CHECK(bloom_update_ex(dir, NULL, 0, 0, NULL, NULL,
			      idxvec_progress_cb) == 0);
	CHECK(!strcmp(idxvec_progress_got.data, "0:bloom: counting: 0\r"
		      "0:bloom: counting: 1\r0:bloom: counting: 2\r"));
	buf_release(&idxvec_progress_got);
	free(i1);
	free(i2);
	free(i3);
}

UNIT_TEST(bloom, fp_rule)
{
	/* Boundaries from bup's pfalse_positive() evaluated in Python. */
	CHECK(bloom_fp_ok(12, 5, 0, 3327));
	CHECK(!bloom_fp_ok(12, 5, 0, 3328));
	CHECK(bloom_fp_ok(12, 5, 1179, 3327 - 1179));
	CHECK(bloom_fp_ok(20, 4, 797191, 0));
	CHECK(!bloom_fp_ok(20, 4, 797191, 1));
	CHECK(bloom_fp_ok(29, 5, 436090254, 0));
	CHECK(!bloom_fp_ok(29, 5, 436090255, 0));
}

static int parse_code(const struct buf *b)
{
	struct bloom_file f;
	int ret = bloom_parse(&f, "test.bloom", b->data, b->len);
	if (!ret)
		bloom_release(&f);
	return ret;
}

UNIT_TEST(bloom, rejects_corrupt)
{
	struct buf v = BUF_INIT, c = BUF_INIT;

	CHECK(buf_read_file(&v, unit_vector(V_BLOOM)) == 0);
	CHECK(parse_code(&v) == 0);
	for (size_t n = 0; n < 16 + 4096; n++) {
		buf_reset(&c);
		buf_add(&c, v.data, n);
		CHECK(parse_code(&c) == ERR_CORRUPT);
	}
#define MUT(off, val) do { buf_reset(&c); buf_add(&c, v.data, v.len); \
		c.data[off] = (char)(val); } while (0)
	MUT(0, 'X');
	CHECK(parse_code(&c) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "test.bloom") != NULL);
	MUT(7, 3);
	CHECK(parse_code(&c) == ERR_CORRUPT);
	MUT(9, 0);   /* bits 0 */
	CHECK(parse_code(&c) == ERR_CORRUPT);
	MUT(9, 30);  /* bits 30 > 29 for k=5 */
	CHECK(parse_code(&c) == ERR_CORRUPT);
	MUT(9, 13);  /* table beyond the end */
	CHECK(parse_code(&c) == ERR_CORRUPT);
	MUT(11, 6);  /* k 6 */
	CHECK(parse_code(&c) == ERR_CORRUPT);
	MUT(11, 4);  /* k 4 is fine with these bits */
	CHECK(parse_code(&c) == 0);
	MUT(16 + 4096 + 5, '/');
	CHECK(parse_code(&c) == ERR_CORRUPT);
	MUT(16 + 4096, 0);  /* empty first name */
	CHECK(parse_code(&c) == ERR_CORRUPT);
#undef MUT
	/* No names at all is valid (an empty bloom names nothing). */
	buf_reset(&c);
	buf_add(&c, v.data, 16 + 4096);
	CHECK(parse_code(&c) == 0);
	buf_release(&v);
	buf_release(&c);
}

/*
 * The k=5 address of probe i, written out independently of bloom.c as
 * FORMAT.md 2.6 gives it: word i of the id, its top `bits` bits the
 * byte, the next 3 the bit.
 */
static void ref_set(unsigned char *table, uint32_t bits, const struct oid *o)
{
	for (int i = 0; i < 5; i++) {
		uint32_t w = get_be32(o->hash + 4 * i);
		table[w >> (32 - bits)] |= (unsigned char)(1u << ((w >> (29 - bits)) & 7));
	}
}

static void fill_oid(struct oid *o, uint64_t *state)
{
	for (int i = 0; i < OID_RAWSZ; i++) {
		*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
		o->hash[i] = (unsigned char)(*state >> 56);
	}
}

UNIT_TEST(bloom, large_table_probed_like_mapped)
{
	const uint32_t bits = 24;   /* 16 MiB: above the mapping limit */
	const size_t tlen = (size_t)1 << bits;
	const char *dir = unit_tmpdir();
	char *path = xstrfmt("%s/big.bloom", dir);
	unsigned char *file = xcalloc(1, 16 + tlen + 10);
	struct bloom_file *probed, *mapped;
	uint64_t st = 42;
	struct oid o;
	int fd, agree = 1, hits = 0, fp = 0;

	memcpy(file, "BLOM", 4);
	put_be32(file + 4, 2);
	put_be16(file + 8, (uint16_t)bits);
	put_be16(file + 10, 5);
	put_be32(file + 12, 2000);
	memcpy(file + 16 + tlen, "pack-a.idx", 10);
	for (int i = 0; i < 2000; i++) {
		fill_oid(&o, &st);
		ref_set(file + 16, bits, &o);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write_full(fd, file, 16 + tlen + 10) == 0);
	close(fd);

	CHECK(bloom_open(&probed, path) == 0);
	CHECK(bloom_open_mapped(&mapped, path) == 0);
	CHECK(probed->table == NULL && probed->fd >= 0);
	CHECK(mapped->table != NULL);
	CHECK(probed->nr_idxnames == 1 &&
	      !strcmp(probed->idxnames[0], "pack-a.idx"));
	CHECK(probed->entries == 2000 && probed->bits == bits);
	st = 42;
	for (int i = 0; i < 2000; i++) {
		fill_oid(&o, &st);
		hits += bloom_may_contain(probed, &o);
		agree &= bloom_may_contain(mapped, &o) == 1;
	}
	CHECK(hits == 2000);
	for (int i = 0; i < 20000; i++) {
		unsigned s1, s2;
		int a, b2;

		fill_oid(&o, &st);
		a = bloom_may_contain_steps(probed, &o, &s1);
		b2 = bloom_may_contain_steps(mapped, &o, &s2);
		agree &= a == b2 && s1 == s2;
		fp += a;
	}
	CHECK(agree);
	CHECK(fp < 20);     /* 10,000 of 2^27 bits set: almost none */
	bloom_close(probed);
	bloom_close(mapped);

	/* a table beyond the end of the file: refused in both modes */
	CHECK(truncate(path, 16 + tlen / 2) == 0);
	CHECK(bloom_open(&probed, path) == ERR_CORRUPT);
	CHECK(bloom_open_mapped(&mapped, path) == ERR_CORRUPT);
	free(file);
	free(path);
}

UNIT_TEST(bloom, mem_filter_sized_as_bup_create)
{
	struct bloom_file *b = bloom_mem_new(214);
	struct oid a, c;

	/* bup: bits = floor(log2(214 * 32 // 8)) = 9, k = 5 */
	CHECK(b->bits == 9 && b->k == 5);
	memset(&a, 0x11, sizeof(a));
	memset(&c, 0x22, sizeof(c));
	CHECK(!bloom_may_contain(b, &a));
	bloom_mem_add(b, &a);
	CHECK(bloom_may_contain(b, &a));
	CHECK(!bloom_may_contain(b, &c));
	bloom_mem_free(b);
}
