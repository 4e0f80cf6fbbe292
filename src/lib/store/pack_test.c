/*
 * pack: the bup-written test-vector pack reads back; object header
 * codec; git delta application and every reject branch; corrupt packs
 * (bad signature, version, offsets, forward OFS_DELTA, REF_DELTA loops,
 * lying sizes) fail cleanly.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "store/pack.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/zlib.h"

#define TV_PACK "pack/pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31.pack"

UNIT_TEST(pack, read_test_vector)
{
	struct pack_file *p;
	struct buf out = BUF_INIT;
	enum obj_type type;
	struct oid o;

	CHECK(pack_open(&p, unit_vector(TV_PACK)) == 0);
	if (!p)
		return;
	CHECK(p->nr == 2 && p->size == 84);
	CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) == 0);
	CHECK(type == OBJ_BLOB && out.len == 3 && !memcmp(out.data, "abc", 3));
	buf_reset(&out);
	CHECK(pack_read_object(p, 24, &type, &out, NULL, NULL) == 0);
	CHECK(type == OBJ_TREE && out.len == 29);
	oid_hash_object(&o, type, out.data, out.len);
	CHECK_OID(o.hash, "edfc968da748a002e63935ec54ff5706f3c35d82");
	/* Offsets inside the header, inside an object, in the trailer. */
	CHECK(pack_read_object(p, 0, &type, &out, NULL, NULL) == ERR_CORRUPT);
	CHECK(pack_read_object(p, 13, &type, &out, NULL, NULL) ==
	      ERR_CORRUPT);
	CHECK(pack_read_object(p, 70, &type, &out, NULL, NULL) ==
	      ERR_CORRUPT);
	CHECK(pack_read_object(p, 1000, &type, &out, NULL, NULL) ==
	      ERR_CORRUPT);
	CHECK(strstr(err_last(), TV_PACK) != NULL);
	buf_release(&out);
	pack_close(p);
}

UNIT_TEST(pack, header_codec)
{
	static const uint64_t sizes[] = { 0, 3, 15, 16, 29, 127, 128, 2047,
					  2048, 1u << 20, 0xffffffffull,
					  1ull << 40, UINT64_MAX };
	unsigned char b[16];
	enum obj_type t;
	uint64_t sz;
	size_t n;

	/* FORMAT.md 2.2 examples. */
	CHECK(pack_encode_header(b, OBJ_TREE, 29) == 2);
	CHECK(b[0] == 0xad && b[1] == 0x01);
	CHECK(pack_encode_header(b, OBJ_BLOB, 3) == 1 && b[0] == 0x33);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (int ty = OBJ_COMMIT; ty <= OBJ_REF_DELTA; ty++) {
			if (ty == 5)
				continue;
			n = pack_encode_header(b, ty, sizes[i]);
			CHECK(n <= 10);
			CHECK(pack_decode_header(b, n, &t, &sz) == n);
			CHECK(t == (enum obj_type)ty && sz == sizes[i]);
			/* Any truncation is rejected. */
			for (size_t k = 0; k < n; k++)
				CHECK(pack_decode_header(b, k, &t, &sz) == 0);
		}
	}
	/* Types 0 and 5 are invalid. */
	b[0] = 0x03;
	CHECK(pack_decode_header(b, 1, &t, &sz) == 0);
	b[0] = 0x53;
	CHECK(pack_decode_header(b, 1, &t, &sz) == 0);
	/* More than 64 bits of size. */
	memset(b, 0xff, sizeof(b));
	b[10] = 0x01;
	CHECK(pack_decode_header(b, 11, &t, &sz) == 0);
	b[0] = 0xbf;
	b[9] = 0x10; /* 4 + 56 bits, then 5 more: one too many */
	CHECK(pack_decode_header(b, 10, &t, &sz) == 0);
}

/* A delta header: varint base size, varint result size. */
static void delta_hdr(struct buf *d, uint64_t base, uint64_t res)
{
	uint64_t v[2] = { base, res };
	for (int i = 0; i < 2; i++) {
		do {
			unsigned char c = v[i] & 0x7f;
			v[i] >>= 7;
			if (v[i])
				c |= 0x80;
			buf_addch(d, c);
		} while (v[i]);
	}
}

UNIT_TEST(pack, apply_delta)
{
	const char *base = "the quick brown fox jumps over the lazy dog";
	size_t bl = strlen(base);
	struct buf d = BUF_INIT, out = BUF_INIT;

	/* copy "quick" (off 4, len 5), insert " cat", copy " jumps" */
	delta_hdr(&d, bl, 5 + 4 + 6);
	buf_add(&d, "\x91\x04\x05", 3);
	buf_add(&d, "\x04 cat", 5);
	buf_add(&d, "\x91\x13\x06", 3);
	CHECK(pack_apply_delta(&out, (const unsigned char *)base, bl,
			       (unsigned char *)d.data, d.len) == 0);
	CHECK(out.len == 15 && !memcmp(out.data, "quick cat jumps", 15));

	/* Size 0 means 0x10000. */
	{
		unsigned char *big = calloc(1, 0x10000);
		buf_reset(&d);
		buf_reset(&out);
		delta_hdr(&d, 0x10000, 0x10000);
		buf_addch(&d, 0x80);
		CHECK(pack_apply_delta(&out, big, 0x10000,
				       (unsigned char *)d.data, d.len) == 0);
		CHECK(out.len == 0x10000);
		free(big);
	}
	buf_release(&d);
	buf_release(&out);
}

static int bad_delta(const char *base, size_t bl, const void *ops,
		     size_t ol, uint64_t hb, uint64_t hr)
{
	struct buf d = BUF_INIT, out = BUF_INIT;
	int ret;

	delta_hdr(&d, hb, hr);
	buf_add(&d, ops, ol);
	buf_add(&out, "keep", 4);
	ret = pack_apply_delta(&out, (const unsigned char *)base, bl,
			       (unsigned char *)d.data, d.len);
	/* A failed delta leaves the output as it was. */
	if (out.len != 4 || memcmp(out.data, "keep", 4))
		ret = 1;
	buf_release(&d);
	buf_release(&out);
	return ret;
}

UNIT_TEST(pack, apply_delta_rejects)
{
	const char *b = "0123456789";
	struct buf out = BUF_INIT;

	/* Base size mismatch. */
	CHECK(bad_delta(b, 10, "\x01x", 2, 9, 1) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "base size") != NULL);
	/* Copy outside the base: offset past end, length past end. */
	CHECK(bad_delta(b, 10, "\x91\x0b\x01", 3, 10, 1) == ERR_CORRUPT);
	CHECK(bad_delta(b, 10, "\x91\x05\x06", 3, 10, 6) == ERR_CORRUPT);
	CHECK(bad_delta(b, 10, "\x9f\xff\xff\xff\xff\x01", 6, 10, 1) ==
	      ERR_CORRUPT);
	/* Copy or insert beyond the declared result. */
	CHECK(bad_delta(b, 10, "\x91\x00\x05", 3, 10, 4) == ERR_CORRUPT);
	CHECK(bad_delta(b, 10, "\x03xyz", 4, 10, 2) == ERR_CORRUPT);
	/* Result shorter than declared. */
	CHECK(bad_delta(b, 10, "\x01x", 2, 10, 2) == ERR_CORRUPT);
	/* Reserved opcode. */
	CHECK(bad_delta(b, 10, "\x00", 1, 10, 0) == ERR_CORRUPT);
	/* Truncated copy arguments and insert data. */
	CHECK(bad_delta(b, 10, "\x91\x00", 2, 10, 1) == ERR_CORRUPT);
	CHECK(bad_delta(b, 10, "\x05xy", 3, 10, 5) == ERR_CORRUPT);
	/* A result size the delta cannot possibly produce. */
	CHECK(bad_delta(b, 10, "\x01x", 2, 10, 1ull << 40) == ERR_CORRUPT);
	/* Truncated header and over-long varints. */
	CHECK(pack_apply_delta(&out, (const unsigned char *)b, 10,
			       (const unsigned char *)"\x0a", 1) ==
	      ERR_CORRUPT);
	CHECK(pack_apply_delta(&out, (const unsigned char *)b, 10,
			       (const unsigned char *)
			       "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
			       11) == ERR_CORRUPT);
	buf_release(&out);
}

/* Build a pack file from raw object bytes; returns its path. */
static const char *write_pack(const char *name, const struct buf *objs,
			      uint32_t nr)
{
	static char path[4096];
	unsigned char hdr[12] = "PACK\0\0\0\2";
	unsigned char sum[20];
	struct buf all = BUF_INIT;
	FILE *f;

	put_be32(hdr + 8, nr);
	buf_add(&all, hdr, 12);
	buf_add(&all, objs->data, objs->len);
	sha1_buf(sum, all.data, all.len);
	buf_add(&all, sum, 20);
	snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), name);
	f = fopen(path, "w");
	fwrite(all.data, 1, all.len, f);
	fclose(f);
	buf_release(&all);
	return path;
}

static void add_obj(struct buf *b, enum obj_type t, const void *extra,
		    size_t el, const void *data, size_t len, uint64_t hsize)
{
	struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_ZLIB, 6);
	unsigned char h[16];

	buf_add(b, h, pack_encode_header(h, t, hsize));
	buf_add(b, extra, el);
	zlib_deflate(z, b, data, len);
	zlib_deflater_free(z);
}

struct loop_ctx {
	struct pack_file *p;
	int calls;
};

/* A REF_DELTA base lookup that resolves every id to offset 12 again. */
static int loop_base(void *ctx, const struct oid *oid, enum obj_type *type,
		     struct buf *out)
{
	struct loop_ctx *c = ctx;
	(void)oid;
	c->calls++;
	return pack_read_object(c->p, 12, type, out, loop_base, c);
}

static int ref_base(void *ctx, const struct oid *oid, enum obj_type *type,
		    struct buf *out)
{
	(void)ctx;
	(void)oid;
	*type = OBJ_BLOB;
	buf_add(out, "0123456789", 10);
	return 0;
}

UNIT_TEST(pack, deltas_and_corruption)
{
	struct buf objs = BUF_INIT, d = BUF_INIT, out = BUF_INIT;
	struct pack_file *p;
	enum obj_type type;
	struct loop_ctx lc;
	unsigned char zero[20] = { 0 };

	/* blob at 12, OFS_DELTA on it, REF_DELTA resolved by callback. */
	add_obj(&objs, OBJ_BLOB, NULL, 0, "0123456789", 10, 10);
	{
		uint64_t at = 12 + objs.len;
		unsigned char ofs = (unsigned char)(at - 12);
		delta_hdr(&d, 10, 4);
		buf_add(&d, "\x91\x02\x03\x01!", 5);
		add_obj(&objs, OBJ_OFS_DELTA, &ofs, 1, d.data, d.len, d.len);
	}
	{
		size_t at2 = 12 + objs.len;
		add_obj(&objs, OBJ_REF_DELTA, zero, 20, d.data, d.len, d.len);
		CHECK(pack_open(&p, write_pack("a.pack", &objs, 3)) == 0);
		CHECK(pack_read_object(p, 12 + 0, &type, &out, NULL, NULL) ==
		      0);
		buf_reset(&out);
		CHECK(pack_read_object(p, at2, &type, &out, ref_base, NULL) ==
		      0);
		CHECK(type == OBJ_BLOB && out.len == 4 &&
		      !memcmp(out.data, "234!", 4));
		/* No lookup function: REF_DELTA cannot be resolved. */
		CHECK(pack_read_object(p, at2, &type, &out, NULL, NULL) ==
		      ERR_CORRUPT);
		pack_close(p);
	}
	/* The OFS_DELTA one. */
	CHECK(pack_open(&p, write_pack("a.pack", &objs, 3)) == 0);
	buf_reset(&out);
	{
		/* find it: it follows the first object */
		struct buf first = BUF_INIT;
		size_t used;
		CHECK(zlib_inflate_sized(&first, objs.data + 1,
					 objs.len - 1, 10, &used) == 0);
		CHECK(pack_read_object(p, 12 + 1 + used, &type, &out, NULL,
				       NULL) == 0);
		CHECK(type == OBJ_BLOB && out.len == 4 &&
		      !memcmp(out.data, "234!", 4));
		buf_release(&first);
	}
	pack_close(p);

	/* OFS_DELTA pointing at itself or forward: rejected. */
	buf_reset(&objs);
	{
		unsigned char ofs = 0;
		add_obj(&objs, OBJ_OFS_DELTA, &ofs, 1, d.data, d.len, d.len);
		CHECK(pack_open(&p, write_pack("b.pack", &objs, 1)) == 0);
		CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) ==
		      ERR_CORRUPT);
		CHECK(strstr(err_last(), "out of range") != NULL);
		pack_close(p);
	}
	buf_reset(&objs);
	{
		unsigned char ofs = 20; /* before the pack header */
		add_obj(&objs, OBJ_OFS_DELTA, &ofs, 1, d.data, d.len, d.len);
		CHECK(pack_open(&p, write_pack("b.pack", &objs, 1)) == 0);
		CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) ==
		      ERR_CORRUPT);
		pack_close(p);
	}

	/* REF_DELTA whose base resolves to itself: the loop guard. */
	buf_reset(&objs);
	add_obj(&objs, OBJ_REF_DELTA, zero, 20, d.data, d.len, d.len);
	CHECK(pack_open(&p, write_pack("c.pack", &objs, 1)) == 0);
	lc.p = p;
	lc.calls = 0;
	CHECK(pack_read_object(p, 12, &type, &out, loop_base, &lc) ==
	      ERR_CORRUPT);
	CHECK(lc.calls > 0 && lc.calls < 1000);
	pack_close(p);

	/* Header size lies: bigger and smaller than the stream. */
	buf_reset(&objs);
	add_obj(&objs, OBJ_BLOB, NULL, 0, "0123456789", 10, 11);
	CHECK(pack_open(&p, write_pack("d.pack", &objs, 1)) == 0);
	CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) == ERR_CORRUPT);
	pack_close(p);
	buf_reset(&objs);
	add_obj(&objs, OBJ_BLOB, NULL, 0, "0123456789", 10, 9);
	CHECK(pack_open(&p, write_pack("d.pack", &objs, 1)) == 0);
	CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) == ERR_CORRUPT);
	pack_close(p);
	/* An impossible size (1 TB from a few bytes). */
	buf_reset(&objs);
	add_obj(&objs, OBJ_BLOB, NULL, 0, "0123456789", 10, 1ull << 40);
	CHECK(pack_open(&p, write_pack("d.pack", &objs, 1)) == 0);
	CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "impossibly") != NULL);
	pack_close(p);
	/* Type 5 and a truncated stream. */
	buf_reset(&objs);
	add_obj(&objs, OBJ_BLOB, NULL, 0, "0123456789", 10, 10);
	objs.data[0] = (char)((objs.data[0] & 0x8f) | 0x50);
	CHECK(pack_open(&p, write_pack("e.pack", &objs, 1)) == 0);
	CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) == ERR_CORRUPT);
	pack_close(p);
	buf_reset(&objs);
	add_obj(&objs, OBJ_BLOB, NULL, 0, "0123456789", 10, 10);
	buf_setlen(&objs, objs.len - 3);
	CHECK(pack_open(&p, write_pack("e.pack", &objs, 1)) == 0);
	CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) == ERR_CORRUPT);
	pack_close(p);

	buf_release(&objs);
	buf_release(&d);
	buf_release(&out);
}

UNIT_TEST(pack, open_rejects)
{
	struct buf objs = BUF_INIT;
	struct pack_file *p = NULL;
	const char *path;
	char name[4096];
	FILE *f;

	path = write_pack("ok.pack", &objs, 0);
	CHECK(pack_open(&p, path) == 0);
	pack_close(p);
	/* Bad signature, version 4, too small, missing. */
	snprintf(name, sizeof(name), "%s", path);
	f = fopen(name, "r+");
	fwrite("PACX", 1, 4, f);
	fclose(f);
	CHECK(pack_open(&p, name) == ERR_CORRUPT);
	f = fopen(name, "r+");
	fwrite("PACK\0\0\0\4", 1, 8, f);
	fclose(f);
	CHECK(pack_open(&p, name) == ERR_CORRUPT);
	CHECK(truncate(name, 20) == 0);
	CHECK(pack_open(&p, name) == ERR_CORRUPT);
	unlink(name);
	CHECK(pack_open(&p, name) == ERR_NOTFOUND);
	CHECK(p == NULL);
}

/*
 * A stream longer than deflate's worst case (many empty stored blocks
 * before the data): legal zlib, read through the streaming fallback.
 */
UNIT_TEST(pack, long_stream_fallback)
{
	struct buf objs = BUF_INIT, out = BUF_INIT;
	struct pack_file *p;
	enum obj_type type;
	unsigned char h[16];
	{
		/* zlib header 78 01, 200 empty stored blocks, then "abc". */
		unsigned char adler[4];
		uint32_t a = 1, b = 0;
		const char *s = "abc";
		buf_add(&objs, h, pack_encode_header(h, OBJ_BLOB, 3));
		buf_add(&objs, "\x78\x01", 2);
		for (int i = 0; i < 200; i++)
			buf_add(&objs, "\x00\x00\x00\xff\xff", 5);
		buf_add(&objs, "\x01\x03\x00\xfc\xff" "abc", 8);
		for (int i = 0; i < 3; i++) {
			a = (a + (unsigned char)s[i]) % 65521;
			b = (b + a) % 65521;
		}
		put_be32(adler, b << 16 | a);
		buf_add(&objs, adler, 4);
	}
	CHECK(pack_open(&p, write_pack("long.pack", &objs, 1)) == 0);
	CHECK(pack_read_object(p, 12, &type, &out, NULL, NULL) == 0);
	CHECK(type == OBJ_BLOB && out.len == 3 && !memcmp(out.data, "abc", 3));
	pack_close(p);
	buf_release(&objs);
	buf_release(&out);
}
