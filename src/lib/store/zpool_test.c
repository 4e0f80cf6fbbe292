/*
 * zpool: an object's pack form round-trips; with 1, 2 and 4 workers and
 * either emit mode the objects come back in the order they were added,
 * byte for byte as zpool_compress() gives them inline, objects added
 * already packed among them; caller-mode
 * emission runs on the caller's thread only and keeps the objects in
 * flight within the ring; the first emit error stops emission and is
 * returned with its message; freeing a busy pool neither hangs nor
 * leaks.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "store/pack.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "store/zpool.h"

/* What the emit callback saw: id, CRC and pack form of each object. */
struct sink {
	struct buf stream;
	size_t nr;
	size_t fail_at;          /* fail the call for this object (1-based) */
	int slow;                /* sleep a little in each call */
	int wrong_thread;        /* caller mode: emitted off the caller */
	pthread_t caller;
	enum zpool_emit_mode mode;
};

static int collect(void *ctx, const struct oid *oid, const void *packed,
		   size_t len, uint32_t crc)
{
	struct sink *s = ctx;

	if (s->mode == ZPOOL_EMIT_CALLER &&
	    !pthread_equal(pthread_self(), s->caller))
		s->wrong_thread = 1;
	if (s->slow)
		usleep(200);
	s->nr++;
	if (s->nr == s->fail_at)
		return err_set(ERR_IO, "emit failed at %zu", s->nr);
	buf_add(&s->stream, oid->hash, OID_RAWSZ);
	buf_add(&s->stream, &crc, sizeof(crc));
	buf_add(&s->stream, packed, len);
	return 0;
}

/* Object i of the test input: sizes from empty to past a batch. */
static size_t obj_size(size_t i)
{
	static const size_t sizes[] = { 0, 1, 40, 900, 8192, 30000, 70000 };

	if (i % 997 == 5)
		return 600000;   /* more than ZPOOL_BATCH_BYTES alone */
	return sizes[(i * 7 + i / 3) % ARRAY_SIZE(sizes)];
}

#define NR_OBJS 2500
#define MAX_OBJ 600000

static void make_obj(unsigned char *buf, size_t i, struct oid *oid,
		     enum obj_type *type, size_t *len)
{
	*len = obj_size(i);
	*type = i % 3 ? OBJ_BLOB : OBJ_TREE;
	st_lcg_fill(buf, *len, (uint32_t)i + 1);
	if (i % 2)       /* something compressible */
		memset(buf, 'x', *len / 2);
	oid_hash_object(oid, *type, buf, *len);
}

/* Add object i of the test input to p (data: its buffer): zpool_add()'s
 * result. */
static int add_obj(struct zpool *p, unsigned char *data, size_t i)
{
	struct oid oid;
	enum obj_type type;
	size_t len;

	make_obj(data, i, &oid, &type, &len);
	return zpool_add(p, &oid, type, data, len);
}

/* The stream collect() builds when everything is compressed inline. */
static void inline_stream(struct buf *out, size_t nr)
{
	struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_LIBDEFLATE, 1);
	unsigned char *data = malloc(MAX_OBJ);
	struct buf packed = BUF_INIT;

	for (size_t i = 0; i < nr; i++) {
		struct oid oid;
		enum obj_type type;
		size_t len;
		uint32_t crc;

		make_obj(data, i, &oid, &type, &len);
		buf_reset(&packed);
		crc = zpool_compress(z, &packed, type, data, len);
		buf_add(out, oid.hash, OID_RAWSZ);
		buf_add(out, &crc, sizeof(crc));
		buf_add(out, packed.data, packed.len);
	}
	buf_release(&packed);
	free(data);
	zlib_deflater_free(z);
}

UNIT_TEST(zpool, compress_round_trip)
{
	struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_LIBDEFLATE, 1);
	unsigned char data[5000];
	struct buf out = BUF_INIT, back = BUF_INIT;
	enum obj_type type;
	uint64_t size;
	size_t hl, used = 0;
	uint32_t crc;

	st_lcg_fill(data, sizeof(data), 9);
	buf_add(&out, "pre", 3);  /* appends, and the CRC covers only that */
	crc = zpool_compress(z, &out, OBJ_COMMIT, data, sizeof(data));
	CHECK(crc == zlib_crc32(0, out.data + 3, out.len - 3));
	hl = pack_decode_header((unsigned char *)out.data + 3, out.len - 3,
				&type, &size);
	CHECK(hl > 0);
	CHECK(type == OBJ_COMMIT);
	CHECK(size == sizeof(data));
	CHECK(zlib_inflate_sized(&back, out.data + 3 + hl, out.len - 3 - hl,
				 sizeof(data), &used) == 0);
	CHECK(used == out.len - 3 - hl);
	CHECK(back.len == sizeof(data) && !memcmp(back.data, data,
						  sizeof(data)));
	buf_release(&out);
	buf_release(&back);
	zlib_deflater_free(z);
}

UNIT_TEST(zpool, in_order_as_inline)
{
	struct buf want = BUF_INIT, pre = BUF_INIT;
	unsigned char *data = malloc(MAX_OBJ);
	static const int threads[] = { 1, 2, 4 };
	struct zlib_deflater *z = zlib_deflater_new(ZLIB_IMPL_LIBDEFLATE, 1);

	inline_stream(&want, NR_OBJS);
	for (int mode = 0; mode < 2; mode++) {
		for (size_t t = 0; t < ARRAY_SIZE(threads); t++) {
			struct sink s = { BUF_INIT, 0, 0, 0, 0,
					  pthread_self(), mode };
			struct zpool *p = zpool_new(threads[t],
						    ZLIB_IMPL_LIBDEFLATE, 1,
						    mode, collect, &s);

			for (size_t i = 0; i < NR_OBJS; i++) {
				struct oid oid;
				enum obj_type type;
				size_t len;

				make_obj(data, i, &oid, &type, &len);
				if (i % 5 == 4) {
					/* already packed: in its turn */
					uint32_t crc;

					buf_reset(&pre);
					crc = zpool_compress(z, &pre, type,
							     data, len);
					CHECK(zpool_add_packed(p, &oid,
						pre.data, pre.len, crc) == 0);
					memset(pre.data, 0xa5, pre.len);
				} else {
					CHECK(zpool_add(p, &oid, type, data,
							len) == 0);
				}
				/* the caller's buffer is reused at once */
				memset(data, 0xa5, len);
				if (i % 10 == 0)
					CHECK(zpool_poll(p) == 0);
			}
			CHECK(zpool_drain(p) == 0);
			CHECK(s.nr == NR_OBJS);
			CHECK(!s.wrong_thread);
			CHECK(s.stream.len == want.len);
			CHECK(!memcmp(s.stream.data, want.data,
				      MIN(want.len, s.stream.len)));
			/* drain leaves the pool usable */
			buf_reset(&s.stream);
			CHECK(zpool_add(p, &(struct oid){ { 0 } }, OBJ_BLOB,
					"", 0) == 0);
			CHECK(zpool_drain(p) == 0);
			CHECK(s.nr == NR_OBJS + 1);
			zpool_free(p);
			buf_release(&s.stream);
		}
	}
	free(data);
	buf_release(&want);
	buf_release(&pre);
	zlib_deflater_free(z);
}

/*
 * Caller mode: emission happens only inside the pool's calls, so the
 * objects added but not yet emitted are bounded by the ring: threads + 2
 * batches of at most ZPOOL_BATCH_OBJS, however fast the caller adds.
 */
UNIT_TEST(zpool, caller_mode_is_bounded)
{
	struct sink s = { BUF_INIT, 0, 0, 0, 0, pthread_self(),
			  ZPOOL_EMIT_CALLER };
	struct zpool *p = zpool_new(2, ZLIB_IMPL_LIBDEFLATE, 1,
				    ZPOOL_EMIT_CALLER, collect, &s);
	size_t most = 0;

	for (size_t i = 0; i < 20000; i++) {
		struct oid oid = { { 0 } };

		memcpy(oid.hash, &i, sizeof(i));
		CHECK(zpool_add(p, &oid, OBJ_BLOB, "x", 1) == 0);
		most = MAX(most, i + 1 - s.nr);
	}
	CHECK(most <= 4 * ZPOOL_BATCH_OBJS);
	CHECK(zpool_drain(p) == 0);
	CHECK(s.nr == 20000);
	zpool_free(p);
	buf_release(&s.stream);
}

UNIT_TEST(zpool, first_error_stops_emission)
{
	unsigned char *data = malloc(MAX_OBJ);

	for (int mode = 0; mode < 2; mode++) {
		struct sink s = { BUF_INIT, 0, 700, 0, 0, pthread_self(),
				  mode };
		struct zpool *p = zpool_new(2, ZLIB_IMPL_LIBDEFLATE, 1, mode,
					    collect, &s);
		int ret = 0;
		size_t i;

		for (i = 0; i < NR_OBJS && !ret; i++)
			ret = add_obj(p, data, i);
		CHECK(ret == 0 || ret == ERR_IO);
		/* the error comes back, message included, on every call */
		err_set(ERR_GENERIC, "something else");
		CHECK(zpool_drain(p) == ERR_IO);
		CHECK(!strcmp(err_last(), "emit failed at 700"));
		CHECK(zpool_poll(p) == ERR_IO);
		CHECK(zpool_add(p, &(struct oid){ { 0 } }, OBJ_BLOB, "",
				0) == ERR_IO);
		/* nothing after the failing object was emitted */
		CHECK(s.nr == 700);
		zpool_free(p);
		buf_release(&s.stream);
	}
	free(data);
}

/* The abort path: free with batches queued, compressing and emitting. */
UNIT_TEST(zpool, free_while_busy)
{
	unsigned char *data = malloc(MAX_OBJ);

	for (int mode = 0; mode < 2; mode++) {
		struct sink s = { BUF_INIT, 0, 0, 1, 0, pthread_self(),
				  mode };
		struct zpool *p = zpool_new(2, ZLIB_IMPL_LIBDEFLATE, 1, mode,
					    collect, &s);

		for (size_t i = 0; i < 600; i++)
			CHECK(add_obj(p, data, i) == 0);
		/* stays in the batch being filled: never emitted */
		CHECK(zpool_add(p, &(struct oid){ { 0 } }, OBJ_BLOB, "",
				0) == 0);
		zpool_free(p);
		CHECK(s.nr <= 600);
		buf_release(&s.stream);
	}
	free(data);
	zpool_free(NULL);
}
