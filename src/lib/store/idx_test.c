/*
 * idx: the bup-written test-vector idx files parse and look up; the v2
 * writer reproduces them byte for byte; v1 parses; every reject branch
 * of idx_parse on hand-made corrupt buffers.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "store/idx.h"
#include "store/store_test_util.h"
#include "unit.h"

#define TV_IDX "pack/pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31.idx"

static int read_vector(struct buf *b, const char *rel)
{
	buf_reset(b);
	return buf_read_file(b, unit_vector(rel));
}

UNIT_TEST(idx, parse_test_vector)
{
	struct idx_file *idx;
	struct oid blob, tree, missing;

	CHECK(idx_open(&idx, unit_vector(TV_IDX)) == 0);
	if (!idx)
		return;
	CHECK(idx->version == 2);
	CHECK(idx->nr == 2);
	CHECK(!strcmp(idx->name,
		      "pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31.idx"));
	CHECK_OID(idx->pack_checksum.hash,
		  "ec8b2ed0a19056f16e7c0b19ea9023574778ee31");
	oid_from_hex(&blob, "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f");
	oid_from_hex(&tree, "edfc968da748a002e63935ec54ff5706f3c35d82");
	oid_from_hex(&missing, "f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7e");
	CHECK(idx_find(idx, &blob) == 1);
	CHECK(idx_find(idx, &tree) == 0);
	CHECK(idx_find(idx, &missing) == -1);
	CHECK(idx_nth_offset(idx, 1) == 12);
	CHECK(idx_nth_offset(idx, 0) == 24);
	idx_close(idx);
}

UNIT_TEST(idx, midx_bloom_vectors)
{
	static const char *const names[] = {
		"midx-bloom/pack-2681b75172e4ffeb28ec6e8978f4e9bc5f345897.idx",
		"midx-bloom/pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx",
		"midx-bloom/pack-7e4a91524e0812dd797b74364b2bf316637f2801.idx",
	};
	uint32_t total = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct idx_file *idx;
		struct buf orig = BUF_INIT;
		struct idx_entry *e;
		char path[4096];
		int fd;

		CHECK(idx_open(&idx, unit_vector(names[i])) == 0);
		if (!idx)
			continue;
		total += idx->nr;
		e = calloc(idx->nr, sizeof(*e));
		for (uint32_t n = 0; n < idx->nr; n++) {
			struct oid o;
			idx_nth_oid(idx, n, &o);
			if (n) {
				struct oid prev;
				idx_nth_oid(idx, n - 1, &prev);
				CHECK(oid_cmp(&prev, &o) < 0);
			}
			CHECK(idx_find(idx, &o) == n);
			/* Rebuild the entries in reverse to test sorting. */
			e[idx->nr - 1 - n].oid = o;
			e[idx->nr - 1 - n].crc = idx_nth_crc(idx, n);
			e[idx->nr - 1 - n].offset = idx_nth_offset(idx, n);
		}
		/* The writer reproduces bup's file byte for byte. */
		snprintf(path, sizeof(path), "%s/out.idx", unit_tmpdir());
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0);
		CHECK(idx_write_v2(fd, path, e, idx->nr,
				   &idx->pack_checksum) == 0);
		close(fd);
		{
			struct buf got = BUF_INIT;
			CHECK(buf_read_file(&got, path) == 0);
			CHECK(read_vector(&orig, names[i]) == 0);
			CHECK(got.len == orig.len);
			CHECK(got.len == orig.len &&
			      CHECK_MEM(got.data, orig.data, got.len));
			buf_release(&got);
		}
		buf_release(&orig);
		free(e);
		idx_close(idx);
	}
	CHECK(total == 1179);
}

/* A v2 idx for nr ids 0x01.., 0x02.., ... with the given offsets. */
static void make_v2(struct buf *b, uint32_t nr, const uint64_t *offs)
{
	struct idx_entry *e = calloc(nr ? nr : 1, sizeof(*e));
	struct oid sum = { { 0 } };
	char path[4096];
	int fd;

	for (uint32_t i = 0; i < nr; i++) {
		memset(e[i].oid.hash, (int)(i * 7 + 1), OID_RAWSZ);
		e[i].crc = i;
		e[i].offset = offs[i];
	}
	snprintf(path, sizeof(path), "%s/t.idx", unit_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (idx_write_v2(fd, path, e, nr, &sum) < 0)
		unit_fail(__FILE__, __LINE__, "idx_write_v2: %s", err_last());
	close(fd);
	buf_reset(b);
	if (buf_read_file(b, path) < 0)
		unit_fail(__FILE__, __LINE__, "cannot read %s", path);
	free(e);
}

UNIT_TEST(idx, large_offsets)
{
	uint64_t offs[4] = { 12, 0x80000000ull, 0x7fffffffull,
			     0x123456789aull };
	/* entries by offset: 12, 0x7fffffff, 0x80000000, 0x123456789a */
	static const uint32_t order[4] = { 0, 2, 1, 3 };
	struct idx_file idx;
	struct idx_pos *pos = NULL;
	struct buf b = BUF_INIT;

	make_v2(&b, 4, offs);
	CHECK(idx_parse(&idx, "t", b.data, b.len) == 0);
	CHECK(idx.nr_offsets64 == 2);
	for (uint32_t i = 0; i < 4; i++) {
		struct oid o;
		memset(o.hash, (int)(i * 7 + 1), OID_RAWSZ);
		CHECK(idx_find(&idx, &o) == i);
		CHECK(idx_nth_offset(&idx, i) == offs[i]);
		CHECK(idx_nth_crc(&idx, i) == i);
	}
	CHECK(idx_pack_order(&idx, &pos) == 0 && pos);
	for (uint32_t i = 0; pos && i < 4; i++)
		CHECK(pos[i].n == order[i] && pos[i].offset == offs[order[i]]);
	free(pos);
	/* A 64-bit slot number beyond the table. */
	put_be32(b.data + 8 + 1024 + 4 * 20 + 4 * 4 + 4, 0x80000002u);
	CHECK(idx_parse(&idx, "t", b.data, b.len) == 0);
	CHECK(idx_nth_offset(&idx, 1) == IDX_BAD_OFFSET);
	CHECK(err_last_code() == ERR_CORRUPT);
	CHECK(idx_pack_order(&idx, &pos) == ERR_CORRUPT && !pos);
	buf_release(&b);
}

UNIT_TEST(idx, v1)
{
	/* fanout, (offset, sha) x 2, pack sha, idx sha. */
	size_t len = 1024 + 2 * 24 + 40;
	unsigned char *b = calloc(1, len);
	struct idx_file idx;
	struct oid a, c;

	memset(a.hash, 0x10, OID_RAWSZ);
	memset(c.hash, 0xa0, OID_RAWSZ);
	for (int i = 0; i < 256; i++)
		put_be32(b + 4 * i, (i >= 0x10) + (i >= 0xa0));
	put_be32(b + 1024, 12);
	memcpy(b + 1024 + 4, a.hash, OID_RAWSZ);
	put_be32(b + 1024 + 24, 99);
	memcpy(b + 1024 + 28, c.hash, OID_RAWSZ);
	CHECK(idx_parse(&idx, "v1", b, len) == 0);
	CHECK(idx.version == 1 && idx.nr == 2);
	CHECK(idx_find(&idx, &a) == 0);
	CHECK(idx_find(&idx, &c) == 1);
	CHECK(idx_nth_offset(&idx, 1) == 99);
	CHECK(idx_nth_crc(&idx, 1) == 0);
	/* Size must match exactly. */
	CHECK(idx_parse(&idx, "v1", b, len - 1) == ERR_CORRUPT);
	free(b);
}

UNIT_TEST(idx, rejects)
{
	uint64_t offs[3] = { 12, 40, 99 };
	struct idx_file idx;
	struct buf b = BUF_INIT, t = BUF_INIT;

	make_v2(&b, 3, offs);
	CHECK(idx_parse(&idx, "t", b.data, b.len) == 0);

	/* Truncated: every length below the real one is rejected. */
	for (size_t n = 0; n < b.len; n += (n < 1100 ? 1 : 7))
		if (idx_parse(&idx, "t", b.data, n) != ERR_CORRUPT) {
			unit_fail(__FILE__, __LINE__, "accepted %zu bytes", n);
			break;
		}
	/* Bad magic (sorts above the v2 magic, so not v1 either). */
	buf_reset(&t);
	buf_add(&t, b.data, b.len);
	t.data[1] = (char)0x75;
	CHECK(idx_parse(&idx, "t", t.data, t.len) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "unrecognized header") != NULL);
	/* Version 3. */
	buf_reset(&t);
	buf_add(&t, b.data, b.len);
	put_be32(t.data + 4, 3);
	CHECK(idx_parse(&idx, "t", t.data, t.len) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "version 2, got 3") != NULL);
	/* Non-monotonic fanout. */
	buf_reset(&t);
	buf_add(&t, b.data, b.len);
	put_be32(t.data + 8 + 4 * 100, 0);
	CHECK(idx_parse(&idx, "t", t.data, t.len) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "non-monotonic") != NULL);
	/* Count larger than the file (fanout[255] raised). */
	buf_reset(&t);
	buf_add(&t, b.data, b.len);
	put_be32(t.data + 8 + 4 * 255, 4);
	CHECK(idx_parse(&idx, "t", t.data, t.len) == ERR_CORRUPT);
	/* Too many 64-bit offsets for the count (nr - 1 at most). */
	buf_reset(&t);
	buf_add(&t, b.data, b.len);
	buf_grow(&t, 24);
	memset(t.data + t.len, 0, 24);
	buf_setlen(&t, t.len + 24);
	CHECK(idx_parse(&idx, "t", t.data, t.len) == ERR_CORRUPT);
	/* Half a 64-bit entry. */
	buf_setlen(&t, b.len + 4);
	CHECK(idx_parse(&idx, "t", t.data, t.len) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "partial") != NULL);
	/* Exactly nr - 1 extra entries are fine. */
	buf_setlen(&t, b.len + 16);
	CHECK(idx_parse(&idx, "t", t.data, t.len) == 0);
	/* Empty idx is valid. */
	make_v2(&t, 0, offs);
	CHECK(idx_parse(&idx, "t", t.data, t.len) == 0 && idx.nr == 0);
	buf_release(&b);
	buf_release(&t);
}

UNIT_TEST(idx, open_errors)
{
	struct idx_file *idx = (void *)1;
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/none.idx", unit_tmpdir());
	CHECK(idx_open(&idx, path) == ERR_NOTFOUND);
	CHECK(idx == NULL);
	f = fopen(path, "w");
	fputs("junkjunkjunk\n", f);
	fclose(f);
	CHECK(idx_open(&idx, path) == ERR_CORRUPT);
	CHECK(strstr(err_last(), path) != NULL);
}

/* The name list closing midx and bloom files: what is refused. */
UNIT_TEST(idx, parse_names)
{
	static const char ok[] = "pack-a.idx\0pack-b.idx";
	static const struct {
		const char *buf;
		size_t len, bad;
	} rejects[] = {
		{ "a\0", 2, 1 },          /* a trailing NUL: an empty name */
		{ "\0a", 2, 0 },
		{ "a\0b/c", 5, 1 },
		{ "a\0b\0..", 7, 2 },
		{ ".", 1, 0 },
		{ "x\0\0y", 4, 1 },
	};
	char **list = NULL;
	size_t nr = 9, bad = 9;

	CHECK(idx_parse_names(&list, &nr, &bad, ok, sizeof(ok) - 1) == 0);
	CHECK(nr == 2 && list && !strcmp(list[0], "pack-a.idx") &&
	      !strcmp(list[1], "pack-b.idx"));
	free(list);
	CHECK(idx_parse_names(&list, &nr, &bad, "", 0) == 0 && nr == 0);
	free(list);
	for (size_t i = 0; i < ARRAY_SIZE(rejects); i++) {
		bad = 99;
		CHECK(idx_parse_names(&list, &nr, &bad, rejects[i].buf,
				      rejects[i].len) == -1);
		CHECK(bad == rejects[i].bad && !list && !nr);
	}
}
