/*
 * zlib streams for pack object bodies (zlib.h, FORMAT.md 2.2).
 *
 * Compression: libdeflate by default; real zlib (window 15, memLevel 8,
 * default strategy, exactly what Python's zlib.compressobj(level) uses)
 * when byte-identical packs with bup are wanted.
 *
 * Decompression: when the output size is known (every pack object header
 * carries it) libdeflate decompresses in one call straight into the
 * destination; when it is not (loose objects), or the input arrives in
 * pieces, zlib's streaming inflate does the work.
 */
#include "util/zlib.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>  /* the system's: ours is util/zlib.h */

#include "util/err.h"
#include "util/util.h"

struct zlib_deflater {
	enum zlib_impl impl;
	int level;
	struct libdeflate_compressor *ld;
	struct libdeflate_compressor *ld_store;  /* level 0, for noise */
	z_stream zs;
	int zs_ready;
};

struct zlib_deflater *zlib_deflater_new(enum zlib_impl impl, int level)
{
	struct zlib_deflater *z = xcalloc(1, sizeof(*z));

	if (level < 0 || level > 9)
		BUG("zlib level %d out of range", level);
	z->impl = impl;
	z->level = level;
	if (impl == ZLIB_IMPL_LIBDEFLATE) {
		z->ld = libdeflate_alloc_compressor(level);
		z->ld_store = libdeflate_alloc_compressor(0);
		if (!z->ld || !z->ld_store)
			BUG("libdeflate_alloc_compressor(%d) failed", level);
	} else {
		/* bup: zlib.compressobj(level): wbits 15, memLevel 8. */
		if (deflateInit2(&z->zs, level, Z_DEFLATED, 15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			BUG("deflateInit2 failed");
		z->zs_ready = 1;
	}
	return z;
}

void zlib_deflater_free(struct zlib_deflater *z)
{
	if (!z)
		return;
	if (z->ld)
		libdeflate_free_compressor(z->ld);
	if (z->ld_store)
		libdeflate_free_compressor(z->ld_store);
	if (z->zs_ready)
		deflateEnd(&z->zs);
	free(z);
}

/*
 * bup deflates an object with Python's zlib: compressobj(level), then
 * compress(content) (deflate with Z_NO_FLUSH) and flush() (Z_FINISH),
 * each call writing into an output buffer that CPython 3.11 grows in
 * blocks of these sizes, calling deflate() again only when a block is
 * full.  At level 0 the bytes depend on that: the stored blocks follow
 * the room deflate() is given, and when compress() has written every
 * block (32 KiB of content, say) flush() adds an empty final one, which
 * a single Z_FINISH call would not.  So the calls are made the same way
 * (FORMAT.md 2.2).
 */
static const size_t py_out_blocks[] = {
	32 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20,
	16 << 20, 32 << 20, 32 << 20, 32 << 20, 32 << 20, 64 << 20,
	64 << 20, 128 << 20, 128 << 20, 256 << 20,
};

/* zlib's avail_in is 32-bit: CPython feeds at most this much per call. */
#define ZLIB_STEP ((size_t)UINT32_MAX)

struct py_outbuf {
	size_t nblocks;  /* blocks allocated so far */
	size_t left;     /* room left in the last one */
};

/* One deflate(flush) call into the room CPython would give it. */
static int py_deflate(z_stream *zs, struct py_outbuf *ob, struct buf *out,
		      int flush)
{
	size_t made;
	int ret;

	if (!ob->left) {
		size_t i = MIN(ob->nblocks, ARRAY_SIZE(py_out_blocks) - 1);
		ob->left = py_out_blocks[i];
		ob->nblocks++;
	}
	buf_grow(out, ob->left);
	zs->next_out = (Bytef *)out->data + out->len;
	zs->avail_out = (uInt)ob->left;
	ret = deflate(zs, flush);
	if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
		BUG("deflate failed: %d", ret);
	made = ob->left - zs->avail_out;
	buf_setlen(out, out->len + made);
	ob->left -= made;
	return ret;
}

static void deflate_zlib(struct zlib_deflater *z, struct buf *out,
			 const void *data, size_t len)
{
	z_stream *zs = &z->zs;
	struct py_outbuf ob = { 0, 0 };
	size_t left = len;
	int ret;

	if (deflateReset(zs) != Z_OK)
		BUG("deflateReset failed");
	/* compress(content) */
	zs->next_in = (Bytef *)data;
	do {
		size_t in_now = MIN(left, ZLIB_STEP);

		zs->avail_in = (uInt)in_now;
		left -= in_now;
		do
			py_deflate(zs, &ob, out, Z_NO_FLUSH);
		while (!ob.left);
	} while (left);
	/* flush(): a new output buffer */
	ob.nblocks = 0;
	ob.left = 0;
	zs->avail_in = 0;
	do
		ret = py_deflate(zs, &ob, out, Z_FINISH);
	while (!ob.left);
	if (ret != Z_STREAM_END)
		BUG("deflate did not finish: %d", ret);
}

/*
 * Does (data, len) look like noise (already compressed or encrypted)?
 * Deflating such data costs as much as text and saves nothing, so it is
 * stored (deflate level 0: stored blocks, still a valid zlib stream that
 * git and bup read).  Two steps, the cheap one first:
 *
 *  1. 1024 bytes sampled over the object: the sum of their squared byte
 *     counts against what uniform bytes give (n + n^2/256 = 5120 for
 *     n = 1024).  Text, code and executables are far above 8192, and are
 *     deflated without more ado.
 *  2. Bytes spread that evenly can still repeat (message catalogues in
 *     non-Latin scripts, tables of multi-byte codes), and repeats are
 *     what deflate finds.  So the object's first 1 KiB is searched for
 *     4-byte sequences seen before, through a table of the last one per
 *     hash: noise repeats one by chance about once in 8,000 such
 *     searches, anything deflate can shrink by a few percent many times.
 *
 * Measured against deflating everything: saves of /usr/share/locale,
 * doc and icons gave packs 0.68 %, 0.11 % and 0.08 % larger with step 1
 * alone (5760 as its bound, 4 KiB as the least object it tested), and
 * 0.00 %, 0.09 % and 0.20 % with both (more gzip files and small PNGs
 * stored).  Split of bench/run's 1 GiB (half noise): 2.77 s wall, 3.71 s
 * user against 2.96 s and 4.01 s with step 1 alone, since noise under
 * 4 KiB is now stored too (medians of 5).
 */
#define NOISE_SAMPLE 1024
#define NOISE_REPEATS 8

static int looks_incompressible(const unsigned char *data, size_t len)
{
	uint32_t last[1024] = { 0 };
	unsigned counts[256] = { 0 };
	uint64_t sq = 0;
	size_t step;
	int repeats = 0;

	if (len < NOISE_SAMPLE)
		return 0;
	step = len / NOISE_SAMPLE;
	for (size_t i = 0; i < NOISE_SAMPLE; i++)
		counts[data[i * step]]++;
	for (int i = 0; i < 256; i++)
		sq += (uint64_t)counts[i] * counts[i];
	if (sq >= 8192)
		return 0;
	for (size_t i = 0; i + 4 <= NOISE_SAMPLE; i++) {
		uint32_t v = get_be32(data + i), h = (v * 2654435761u) >> 22;

		repeats += last[h] == v;
		last[h] = v;
	}
	return repeats < NOISE_REPEATS;
}

size_t zlib_deflate_bound(struct zlib_deflater *z, size_t len)
{
	if (z->impl != ZLIB_IMPL_LIBDEFLATE)
		return (size_t)deflateBound(&z->zs, (uLong)len) + 64;
	return MAX(libdeflate_zlib_compress_bound(z->ld, len),
		   libdeflate_zlib_compress_bound(z->ld_store, len));
}

void zlib_deflate(struct zlib_deflater *z, struct buf *out,
		  const void *data, size_t len)
{
	struct libdeflate_compressor *ld;
	size_t bound, n;

	if (z->impl != ZLIB_IMPL_LIBDEFLATE) {
		deflate_zlib(z, out, data, len);
		return;
	}
	ld = z->ld;
	if (z->level && looks_incompressible(data, len))
		ld = z->ld_store;
	bound = libdeflate_zlib_compress_bound(ld, len);
	buf_grow(out, bound);
	n = libdeflate_zlib_compress(ld, data, len, out->data + out->len,
				     bound);
	if (!n)
		BUG("libdeflate_zlib_compress exceeded its own bound");
	buf_setlen(out, out->len + n);
}

/*
 * One libdeflate decompressor per thread, made on first use and freed
 * when the thread exits (its allocation is ~10 kB; making one per call
 * would dominate small objects).
 */
static pthread_key_t dec_key;
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;

static void dec_free(void *p)
{
	libdeflate_free_decompressor(p);
}

static void dec_key_init(void)
{
	if (pthread_key_create(&dec_key, dec_free))
		BUG("pthread_key_create failed");
}

static struct libdeflate_decompressor *thread_decompressor(void)
{
	struct libdeflate_decompressor *d;

	pthread_once(&dec_once, dec_key_init);
	d = pthread_getspecific(dec_key);
	if (!d) {
		d = libdeflate_alloc_decompressor();
		if (!d)
			BUG("libdeflate_alloc_decompressor failed");
		if (pthread_setspecific(dec_key, d))
			BUG("pthread_setspecific failed");
	}
	return d;
}

int zlib_inflate_sized(struct buf *out, const void *in, size_t inlen,
		       size_t size, size_t *consumed)
{
	struct libdeflate_decompressor *d = thread_decompressor();
	size_t in_used = 0, got = 0;
	enum libdeflate_result r;

	buf_grow(out, size);
	r = libdeflate_zlib_decompress_ex(d, in, inlen, out->data + out->len,
					  size, &in_used, &got);
	if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
		return err_set(ERR_CORRUPT,
			       "zlib stream inflates to more than %zu bytes",
			       size);
	if (r != LIBDEFLATE_SUCCESS)
		return err_set(ERR_CORRUPT, "bad or truncated zlib stream");
	if (got != size)
		return err_set(ERR_CORRUPT,
			       "zlib stream inflates to %zu bytes, not %zu",
			       got, size);
	buf_setlen(out, out->len + size);
	if (consumed)
		*consumed = in_used;
	return 0;
}

struct zlib_inflater {
	z_stream zs;
	size_t max_out, produced;
	int done;
};

struct zlib_inflater *zlib_inflater_new(void)
{
	struct zlib_inflater *z = xcalloc(1, sizeof(*z));

	if (inflateInit(&z->zs) != Z_OK)
		BUG("inflateInit failed");
	return z;
}

void zlib_inflater_free(struct zlib_inflater *z)
{
	if (!z)
		return;
	inflateEnd(&z->zs);
	free(z);
}

void zlib_inflater_reset(struct zlib_inflater *z, size_t max_out)
{
	if (inflateReset(&z->zs) != Z_OK)
		BUG("inflateReset failed");
	z->max_out = max_out ? max_out : SIZE_MAX;
	z->produced = 0;
	z->done = 0;
}

int zlib_inflater_feed(struct zlib_inflater *z, struct buf *out,
		       const void *in, size_t inlen, size_t *consumed)
{
	z_stream *zs = &z->zs;
	const unsigned char *p = in;
	size_t used = 0;
	int ret = Z_OK;

	*consumed = 0;
	if (z->done)
		return 1;
	while (used < inlen || ret == Z_OK) {
		size_t in_now = MIN(inlen - used, ZLIB_STEP);
		size_t room = MIN(z->max_out - z->produced, (size_t)65536);
		size_t before_in;

		/*
		 * Always offer at least one byte of room so that a stream
		 * that wants to produce more than max_out is caught.
		 */
		buf_grow(out, room + 1);
		zs->next_in = (Bytef *)p + used;
		zs->avail_in = (uInt)in_now;
		zs->next_out = (Bytef *)out->data + out->len;
		zs->avail_out = (uInt)(room + 1);
		before_in = in_now;
		ret = inflate(zs, Z_NO_FLUSH);
		used += before_in - zs->avail_in;
		{
			size_t made = room + 1 - zs->avail_out;
			if (made > z->max_out - z->produced) {
				*consumed = used;
				return err_set(ERR_CORRUPT,
					       "zlib stream inflates to more "
					       "than %zu bytes", z->max_out);
			}
			z->produced += made;
			buf_setlen(out, out->len + made);
		}
		if (ret == Z_STREAM_END) {
			z->done = 1;
			*consumed = used;
			return 1;
		}
		if (ret == Z_BUF_ERROR) {
			/* No progress possible: input exhausted. */
			if (used == inlen)
				break;
			continue;
		}
		if (ret != Z_OK) {
			*consumed = used;
			return err_set(ERR_CORRUPT, "bad zlib stream: %s",
				       zs->msg ? zs->msg : "inflate error");
		}
		if (used == inlen && zs->avail_out != 0)
			break;
	}
	*consumed = used;
	return 0;
}

int zlib_inflate_all(struct buf *out, const void *in, size_t inlen,
		     size_t *consumed)
{
	struct zlib_inflater *z = zlib_inflater_new();
	size_t used = 0, start = out->len;
	int ret;

	zlib_inflater_reset(z, 0);
	ret = zlib_inflater_feed(z, out, in, inlen, &used);
	zlib_inflater_free(z);
	if (ret == 0)
		ret = err_set(ERR_CORRUPT, "truncated zlib stream");
	if (ret < 0) {
		buf_setlen(out, start);
		return ret;
	}
	if (consumed)
		*consumed = used;
	return 0;
}

uint32_t zlib_crc32(uint32_t crc, const void *data, size_t len)
{
	return libdeflate_crc32(crc, data, len);
}
