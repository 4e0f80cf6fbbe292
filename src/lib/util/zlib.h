/*
 * The zlib stream format for pack object bodies (FORMAT.md 2.2).
 *
 * Two compressors produce valid zlib streams that git and bup read:
 * libdeflate (default, several times faster) and zlib itself at the same
 * settings bup uses (window 15, memLevel 8, default strategy), which gives
 * packs byte-identical to bup's.  The repository setting
 * `cbup.compressor = zlib` selects the latter (see repo.h).
 *
 * A struct zlib_deflater is owned by one thread at a time.
 */
#ifndef CBUP_ZLIB_H
#define CBUP_ZLIB_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum zlib_impl {
	ZLIB_IMPL_LIBDEFLATE = 0,
	ZLIB_IMPL_ZLIB = 1,
};

struct zlib_deflater;

struct zlib_deflater *zlib_deflater_new(enum zlib_impl impl, int level);
void zlib_deflater_free(struct zlib_deflater *z);
/* At least the length of the zlib stream of any len bytes. */
size_t zlib_deflate_bound(struct zlib_deflater *z, size_t len);
/* Appends the zlib stream of (data, len) to out. */
void zlib_deflate(struct zlib_deflater *z, struct buf *out,
		  const void *data, size_t len);

/*
 * Inflate one zlib stream from `in` (which may continue past the stream)
 * whose uncompressed size is known to be `size`; appends to out.
 * *consumed receives the length of the stream in `in`.
 * Returns 0, or ERR_CORRUPT if the stream is malformed, truncated or has
 * a different size.
 */
int zlib_inflate_sized(struct buf *out, const void *in, size_t inlen,
		       size_t size, size_t *consumed);
/* Inflate a stream of unknown output size (loose objects).  Same returns. */
int zlib_inflate_all(struct buf *out, const void *in, size_t inlen,
		     size_t *consumed);

/*
 * Streaming inflate, for input that arrives in pieces (a pack object
 * read through pread windows when its stream is longer than expected).
 * zlib_inflater_feed() appends to out, never beyond `max_out` bytes in
 * total for this stream, and returns 1 at the end of the stream, 0 when
 * it needs more input (all of `in` was consumed), or ERR_CORRUPT.
 * *consumed receives the bytes of `in` used.  One thread at a time.
 */
struct zlib_inflater;
struct zlib_inflater *zlib_inflater_new(void);
void zlib_inflater_free(struct zlib_inflater *z);
void zlib_inflater_reset(struct zlib_inflater *z, size_t max_out);
int zlib_inflater_feed(struct zlib_inflater *z, struct buf *out,
		       const void *in, size_t inlen, size_t *consumed);

/* CRC-32 as zlib's crc32() (idx v2 CRCs), through libdeflate. */
uint32_t zlib_crc32(uint32_t crc, const void *data, size_t len);

#endif
