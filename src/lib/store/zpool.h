/*
 * Compressing objects into pack form on worker threads (FORMAT.md 2.2:
 * type/size header, one zlib stream, and the CRC-32 the idx keeps), with
 * the results handed back in the order the objects were added, so that
 * what is built from them (a pack, a receive-objects-v2 stream) has the
 * same bytes whatever the thread count.  Used by the local pack writer
 * and the remote one (packwriter.c, client.c).
 *
 * Objects are hashed and deduplicated by the caller before they get
 * here; zpool_add() copies each one into a batch.  A batch goes to the
 * workers when it holds ZPOOL_BATCH_BYTES of input or ZPOOL_BATCH_OBJS
 * objects, so a wake-up, a lock round trip and an allocation are paid
 * per batch, not per 8 KiB chunk.  At most threads + 2 batches exist
 * (one per worker being compressed, one finished or queued, one being
 * filled): zpool_add() waits for room, so memory stays flat however fast
 * the caller produces.  A batch holds ZPOOL_BATCH_BYTES plus at most one
 * object of input, and its compressed form.
 *
 * Finished objects go to the emit callback, one at a time, in order,
 * never two calls at once:
 *   ZPOOL_EMIT_WORKER  on a worker thread: the worker that finishes the
 *                      batch at the head of the ring emits every finished
 *                      batch in order (the local pack writer: the caller,
 *                      which reads and hashes, never copies pack bytes);
 *   ZPOOL_EMIT_CALLER  only on the caller's thread, inside zpool_add(),
 *                      zpool_poll() and zpool_drain() (the remote writer:
 *                      the connection and the idx cache it updates belong
 *                      to that thread, so they need no lock).
 * The emit callback must not call back into the pool.  Its first error
 * stops emission: the objects after it are dropped, and every later
 * zpool_add(), zpool_poll() and zpool_drain() returns that code, with
 * its message set in the caller's err_last().
 *
 * A pool is used by one caller thread; zpool_compress() is thread-safe
 * given its own deflater.
 */
#ifndef CBUP_ZPOOL_H
#define CBUP_ZPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/oid.h"
#include "util/zlib.h"

#define ZPOOL_BATCH_BYTES ((size_t)256 << 10)
#define ZPOOL_BATCH_OBJS 256

enum zpool_emit_mode {
	ZPOOL_EMIT_WORKER,
	ZPOOL_EMIT_CALLER,
};

/* One object in pack form; `packed` is valid only during the call. */
typedef int (*zpool_emit_fn)(void *ctx, const struct oid *oid,
			     const void *packed, size_t len, uint32_t crc);

struct zpool;

/*
 * Start `threads` (> 0) workers, each with its own deflater of the given
 * implementation and level.  Dies if a thread cannot be created.
 */
struct zpool *zpool_new(int threads, enum zlib_impl impl, int level,
			enum zpool_emit_mode mode, zpool_emit_fn emit,
			void *ctx);
/*
 * Queue one object (copied: data may be reused on return).  May wait
 * for room in the ring; with ZPOOL_EMIT_CALLER it emits what is
 * finished while it waits.  0, or the first emit error.
 */
int zpool_add(struct zpool *p, const struct oid *oid, enum obj_type type,
	      const void *data, size_t len);
/*
 * Queue an object already in pack form (header + zlib stream, and its
 * CRC-32; bup get copying packed bytes): copied, not compressed again,
 * and emitted in its turn, so such objects and ones to compress mix
 * without a drain between them.  Returns as zpool_add().
 */
int zpool_add_packed(struct zpool *p, const struct oid *oid,
		     const void *packed, size_t len, uint32_t crc);
/*
 * The same for an object from a sender that is not trusted: a worker
 * checks it with pack_verify_raw() (inflate and hash) before it is
 * emitted in its turn.  One that fails stops emission there, as an
 * emit error would, with pack_verify_raw()'s message.
 */
int zpool_add_verified(struct zpool *p, const struct oid *oid,
		       const void *packed, size_t len, uint32_t crc);
/*
 * ZPOOL_EMIT_CALLER: emit the batches already compressed, in order,
 * without waiting for a worker.  0, or the first emit error.
 */
int zpool_poll(struct zpool *p);
/*
 * Hand over the partial batch and wait until every object added so far
 * is emitted (or dropped after an error).  0, or the first emit error.
 */
int zpool_drain(struct zpool *p);
/*
 * Stop and join the workers and free the pool.  Objects not yet emitted
 * are dropped (the abort path; drain first to keep them).  NULL is ok.
 */
void zpool_free(struct zpool *p);

/*
 * Append the object's pack form (header + zlib stream) to out and
 * return the CRC-32 of the appended bytes.  Touches only out and z.
 */
uint32_t zpool_compress(struct zlib_deflater *z, struct buf *out,
			enum obj_type type, const void *data, size_t len);
/* At least the length of zpool_compress()'s output for len bytes. */
size_t zpool_compress_bound(struct zlib_deflater *z, size_t len);

#endif
