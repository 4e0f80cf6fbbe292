/*
 * The pack writer (packwriter.h; FORMAT.md 2.2-2.4).
 *
 * Pipeline per object: hash (always inline, so the id is known when
 * packwriter_write() returns) -> dedup against this session's set and
 * the odb -> compress (zpool_compress() inline, or a zpool of
 * opts->threads workers) -> append in call order (pw_append()).  The
 * append step alone decides offsets and pack boundaries, so the output
 * is byte-identical whatever the thread count.
 *
 * With workers, appending runs on them too (ZPOOL_EMIT_WORKER): the
 * worker that finishes the oldest batch appends every finished batch in
 * order, so the caller (which reads, chunks and hashes) never copies
 * pack bytes or writes the pack.  Only that worker touches the pack
 * state; the caller touches it only after zpool_drain() (flush,
 * close).
 *
 * Appends go into a large in-memory buffer.  The pack header carries the
 * object count, which is only known when the pack ends, and the trailer
 * is the SHA-1 of everything before it including that header.  So:
 *  - a pack that ends while still in the buffer (the common case for an
 *    incremental save) gets its final header written first and is
 *    hashed as it is written: one pass, no re-read;
 *  - a pack that outgrows the buffer is spilled to disk with count 0 in
 *    its header (as bup writes it); at close the count is patched and
 *    the file is hashed from the page cache (bup and git's fast-import
 *    re-read the pack the same way: SHA-1 cannot be fixed up).
 *
 * Finishing a pack (FORMAT.md 2.4): trailer, fdatasync, idx v2 into the
 * same temporary directory (fdatasync), rename pack then idx into
 * objects/pack, fsync objects/pack, remove the temporary directory.
 * midx and bloom upkeep runs once at packwriter_close().
 *
 * The temporary directory is objects/pack-tmp-cbup@HOST-PID-XXXXXX
 * (bup's are objects/pack-tmp-XXXXXXXX), locked while this writer lives
 * (tmpfile_mkdir()), so that a writer killed mid-pack leaves nothing a
 * later one cannot remove: packwriter_new() sweeps the temporaries of
 * dead writers (tmpfile_sweep()).
 *
 * The durability order.  A ref may only become durable after every
 * object it reaches: otherwise a power cut can leave a branch naming a
 * commit whose pack is gone.  Every writer (save, split, get, rm, the
 * server) follows these steps, each finished before the next begins:
 *
 *   1. the pack's data, header count and trailer are written and
 *      fdatasynced under its temporary name;
 *   2. its idx is written and fdatasynced under its temporary name;
 *   3. the pack, then the idx, are renamed into objects/pack/;
 *   4. objects/pack/ itself is fsynced: a rename is durable only once
 *      the directory that gained the entry is (bup 0.33.7 syncs
 *      objects/, the directory the rename does not change);
 *   5. midx and bloom are written to temporary names, fsynced, renamed
 *      and objects/pack/ fsynced again (file_commit()), or the bloom is
 *      grown in place and fdatasynced: they are caches of what the idx
 *      files say, so nothing depends on them surviving;
 *   6. only then (packwriter_close() has returned) the ref is updated
 *      (refs_update()): "<ref>.lock" written and fsynced, renamed over
 *      the ref, and the ref's directory (refs/heads/) fsynced.
 *
 * A ref is never read before step 6, so a crash at any earlier point
 * loses the save, never the repository.  t/t1050-sync-order.sh checks
 * the order from an strace of each writer.
 */
#include "store/packwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/bloom.h"
#include "util/err.h"
#include "util/file.h"
#include "store/idx.h"
#include "store/midx.h"
#include "store/odb.h"
#include "util/oidset.h"
#include "store/pack.h"
#include "store/repo.h"
#include "util/tmpfile.h"
#include "util/util.h"
#include "store/zpool.h"

/* Pack bytes buffered before the first write to disk. */
#define PW_BUF_SIZE ((size_t)4 << 20)
/* Pack bytes buffered between writes once a pack has spilled. */
#define PW_SPILL_CHUNK ((size_t)1 << 20)
/*
 * Writeback of a spilled pack is started every this many bytes: the
 * fdatasync that finishes a pack then waits for the last few MiB, not
 * for up to 1 GB of dirty pages, while every other thread of the save
 * waits for the pack to be finished.
 */
#define PW_WRITEBACK_STEP ((uint64_t)16 << 20)
/*
 * A spilled pack's disk space is allocated this far ahead of its writes
 * (file_preallocate): writes into allocated space skip ext4's delayed
 * allocation, and the writeback started every PW_WRITEBACK_STEP no longer
 * allocates blocks on the writing thread.  800 MB written in 1 MiB
 * writes: 0.13 s of kernel time against 0.18-0.49 s.  The pack is
 * truncated to its size when it is finished.
 */
#define PW_PREALLOC_STEP ((uint64_t)64 << 20)
/* Window of the read-back for the pack checksum (a multiple of pages). */
#define PW_HASH_WINDOW ((size_t)4 << 20)

struct packwriter {
	char *objdir, *packdir;
	struct odb *odb;
	struct packwriter_opts opts;
	struct objsink sink;
	struct sha1_ctx oid_ctx;      /* object ids */
	struct zlib_deflater *z;      /* inline compression */
	struct buf scratch;           /* inline: a received object, inflated */
	struct oidset set;            /* ids written in this session */
	struct zpool *pool;           /* opts.threads > 0 */
	int err;                      /* sticky first error */
	/*
	 * Set while a pool worker appends: finished packs are then queued
	 * (under report_lock) and reported to opts.on_pack by the caller,
	 * which alone may call it.
	 */
	int on_worker;
	pthread_mutex_t report_lock;
	char **on_pack;
	size_t on_pack_nr, on_pack_alloc;

	/*
	 * The pack being written (tmpdir == NULL: none), in a temporary
	 * directory locked through tmpdir_fd while it exists (tmpfile.h).
	 */
	char *tmpdir;
	int tmpdir_fd;
	int fd, packdir_fd;           /* packdir_fd: fsynced after renames */
	int spilled;
	struct buf wb;                /* pack bytes not yet written */
	uint64_t offset;              /* pack bytes so far, header included */
	uint64_t written, wb_from;    /* bytes in the file; writeback asked to */
	uint64_t prealloc_to;         /* space allocated up to here */
	struct idx_entry *entries;
	size_t nr, alloc;
	struct sha1_ctx pack_ctx;

	struct packwriter_stats stats;
	int wrote_any;
};

/* ---- the pack file ---------------------------------------------------- */

static int pw_start_pack(struct packwriter *w)
{
	char *prefix = xstrfmt("%s/pack-tmp-", w->objdir);

	w->tmpdir_fd = tmpfile_mkdir(prefix, &w->tmpdir);
	free(prefix);
	if (w->tmpdir_fd < 0) {
		int ret = w->tmpdir_fd;
		w->tmpdir_fd = -1;
		return ret;
	}
	{
		char *path = xstrfmt("%s/pack", w->tmpdir);
		w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (w->fd < 0) {
			int ret = err_errno("cannot create '%s'", path);
			free(path);
			return ret;
		}
		free(path);
	}
	if (w->packdir_fd < 0) {
		w->packdir_fd = open(w->packdir, O_RDONLY | O_DIRECTORY |
						 O_CLOEXEC);
		if (w->packdir_fd < 0)
			return err_errno("cannot open '%s'", w->packdir);
	}
	buf_reset(&w->wb);
	buf_grow(&w->wb, PW_BUF_SIZE);
	/* Room for the header; its count is filled in at the end. */
	buf_add(&w->wb, "PACK\0\0\0\2\0\0\0\0", 12);
	w->offset = 12;
	w->written = w->wb_from = w->prealloc_to = 0;
	w->spilled = 0;
	w->nr = 0;
	sha1_init(&w->pack_ctx);
	w->stats.packs++;
	return 0;
}

/*
 * Count bytes written to the file, starting writeback every step and,
 * once the pack has spilled (a pack finished in the buffer is written
 * at once), keeping the allocated space at least half a step ahead.
 */
static void pw_wrote(struct packwriter *w, size_t len)
{
	w->written += len;
	if (w->written - w->wb_from >= PW_WRITEBACK_STEP) {
		file_start_writeback(w->fd, w->wb_from,
				     w->written - w->wb_from);
		w->wb_from = w->written;
	}
	if (w->spilled &&
	    w->written + PW_PREALLOC_STEP / 2 > w->prealloc_to) {
		uint64_t from = MAX(w->prealloc_to, w->written);

		file_preallocate(w->fd, from, PW_PREALLOC_STEP);
		w->prealloc_to = from + PW_PREALLOC_STEP;
	}
}

/* Write the buffered bytes; once spilled, hashing waits for the end. */
static int pw_spill(struct packwriter *w)
{
	if (!w->wb.len)
		return 0;
	if (write_full(w->fd, w->wb.data, w->wb.len) < 0)
		return err_errno("cannot write '%s/pack'", w->tmpdir);
	pw_wrote(w, w->wb.len);
	w->spilled = 1;
	buf_reset(&w->wb);
	/* one large object inlined: do not keep its room */
	if (w->wb.alloc > 4 * PW_BUF_SIZE) {
		buf_release(&w->wb);
		buf_grow(&w->wb, PW_BUF_SIZE);
	}
	return 0;
}

static int pw_add_bytes(struct packwriter *w, const void *data, size_t len)
{
	size_t cap = w->spilled ? PW_SPILL_CHUNK : PW_BUF_SIZE;
	int ret;

	if (w->wb.len + len > cap) {
		ret = pw_spill(w);
		if (ret < 0)
			return ret;
		if (len >= PW_SPILL_CHUNK) {
			if (write_full(w->fd, data, len) < 0)
				return err_errno("cannot write '%s/pack'",
						 w->tmpdir);
			pw_wrote(w, len);
			return 0;
		}
	}
	buf_add(&w->wb, data, len);
	return 0;
}

/*
 * SHA-1 of the spilled pack file.  It is read back through 4 MiB
 * mappings (the pages are still cached: no copy, and a bounded RSS), or
 * with pread where a mapping fails.  The file is private to this writer
 * until it is renamed, so nothing truncates it under the mapping.
 */
static int pw_hash_file(struct packwriter *w, unsigned char *out)
{
	const size_t win = PW_HASH_WINDOW;
	unsigned char *b = NULL;
	uint64_t pos = 0;
	int ret = 0;

	sha1_init(&w->pack_ctx);
	while (pos < w->offset) {
		size_t n = (size_t)MIN((uint64_t)win, w->offset - pos);
		void *m = b ? MAP_FAILED
			    : mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE,
				   w->fd, (off_t)pos);

		if (m != MAP_FAILED) {
			sha1_update(&w->pack_ctx, m, n);
			munmap(m, n);
		} else {
			if (!b)
				b = xmalloc(win);
			if (pread_full(w->fd, b, n, pos) < 0) {
				ret = err_errno("cannot read '%s/pack'",
						w->tmpdir);
				break;
			}
			sha1_update(&w->pack_ctx, b, n);
		}
		pos += n;
	}
	free(b);
	if (!ret)
		sha1_final(&w->pack_ctx, out);
	return ret;
}

/* Remove the temporary directory, then give up its lock. */
static void pw_remove_tmp(struct packwriter *w)
{
	if (!w->tmpdir)
		return;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	{
		char *p = xstrfmt("%s/pack", w->tmpdir);
		unlink(p);
		free(p);
		p = xstrfmt("%s/idx", w->tmpdir);
		unlink(p);
		free(p);
	}
	rmdir(w->tmpdir);
	close(w->tmpdir_fd);
	w->tmpdir_fd = -1;
	free(w->tmpdir);
	w->tmpdir = NULL;
}

/* FORMAT.md 2.4 steps 2-5. */
static int pw_finish_pack(struct packwriter *w)
{
	unsigned char sum[OID_RAWSZ];
	struct oid csum;
	char hex[OID_HEXSZ + 1];
	char *tmp_pack = NULL, *tmp_idx = NULL, *dst_pack = NULL,
	     *dst_idx = NULL;
	int idx_fd = -1, ret = 0;

	if (!w->tmpdir)
		return 0;
	if (w->nr > UINT32_MAX)
		BUG("pack object count overflow");
	if (!w->spilled) {
		put_be32(w->wb.data + 8, (uint32_t)w->nr);
		sha1_update(&w->pack_ctx, w->wb.data, w->wb.len);
		sha1_final(&w->pack_ctx, sum);
		buf_add(&w->wb, sum, OID_RAWSZ);
		ret = pw_spill(w);
	} else {
		unsigned char cnt[4];
		ret = pw_spill(w);
		put_be32(cnt, (uint32_t)w->nr);
		if (!ret && pwrite(w->fd, cnt, 4, 8) != 4)
			ret = err_errno("cannot write '%s/pack'", w->tmpdir);
		if (!ret)
			ret = pw_hash_file(w, sum);
		if (!ret && write_full(w->fd, sum, OID_RAWSZ) < 0)
			ret = err_errno("cannot write '%s/pack'", w->tmpdir);
		/* give back the space allocated beyond the end */
		if (!ret && w->prealloc_to &&
		    ftruncate(w->fd, (off_t)(w->offset + OID_RAWSZ)) < 0)
			ret = err_errno("cannot truncate '%s/pack'", w->tmpdir);
	}
	if (ret)
		goto out;
	if (fdatasync(w->fd) < 0) {
		ret = err_errno("cannot sync '%s/pack'", w->tmpdir);
		goto out;
	}
	close(w->fd);
	w->fd = -1;
	w->stats.bytes_out += w->offset + OID_RAWSZ;

	memcpy(csum.hash, sum, OID_RAWSZ);
	oid_to_hex(&csum, hex);
	tmp_pack = xstrfmt("%s/pack", w->tmpdir);
	tmp_idx = xstrfmt("%s/idx", w->tmpdir);
	dst_pack = xstrfmt("%s/pack-%s.pack", w->packdir, hex);
	dst_idx = xstrfmt("%s/pack-%s.idx", w->packdir, hex);
	idx_fd = open(tmp_idx, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (idx_fd < 0) {
		ret = err_errno("cannot create '%s'", tmp_idx);
		goto out;
	}
	ret = idx_write_v2(idx_fd, tmp_idx, w->entries, w->nr, &csum);
	if (ret)
		goto out;
	if (close(idx_fd) < 0) {
		idx_fd = -1;
		ret = err_errno("cannot close '%s'", tmp_idx);
		goto out;
	}
	idx_fd = -1;
	/* Pack first, then idx: an idx never names a missing pack. */
	if (rename(tmp_pack, dst_pack) < 0) {
		ret = err_errno("cannot rename '%s' to '%s'", tmp_pack,
				dst_pack);
		goto out;
	}
	if (rename(tmp_idx, dst_idx) < 0) {
		ret = err_errno("cannot rename '%s' to '%s'", tmp_idx,
				dst_idx);
		goto out;
	}
	/* step 4 of the durability order: the directory of the new names */
	if (fsync(w->packdir_fd) < 0) {
		ret = err_errno("cannot sync directory '%s'", w->packdir);
		goto out;
	}
	w->wrote_any = 1;
	if (w->opts.on_pack && w->on_worker) {
		pthread_mutex_lock(&w->report_lock);
		ALLOC_GROW(w->on_pack, w->on_pack_nr + 1, w->on_pack_alloc);
		w->on_pack[w->on_pack_nr++] = xstrdup(dst_idx);
		pthread_mutex_unlock(&w->report_lock);
	} else if (w->opts.on_pack) {
		w->opts.on_pack(w->opts.on_pack_ctx, dst_idx);
	}
out:
	if (idx_fd >= 0)
		close(idx_fd);
	pw_remove_tmp(w);
	w->nr = 0;
	buf_reset(&w->wb);
	free(tmp_pack);
	free(tmp_idx);
	free(dst_pack);
	free(dst_idx);
	return ret;
}

/*
 * Record the object of `len` pack bytes just added at w->offset, then
 * apply the limits of FORMAT.md 2.3 after it, as bup does: a pack may
 * exceed them by one object.
 */
static int pw_added(struct packwriter *w, const struct oid *oid, size_t len,
		    uint32_t crc)
{
	struct idx_entry *e;

	ALLOC_GROW(w->entries, w->nr + 1, w->alloc);
	e = &w->entries[w->nr++];
	e->oid = *oid;
	e->crc = crc;
	e->offset = w->offset;
	w->offset += len;
	w->stats.objects++;
	if (w->offset >= w->opts.max_size || w->nr >= w->opts.max_objects)
		return pw_finish_pack(w);
	return 0;
}

/* Append one compressed object in sequence (FORMAT.md 2.2). */
static int pw_append(struct packwriter *w, const struct oid *oid,
		     const void *packed, size_t len, uint32_t crc)
{
	int ret = w->tmpdir ? 0 : pw_start_pack(w);

	if (ret < 0)
		return ret;
	ret = pw_add_bytes(w, packed, len);
	if (ret < 0)
		return ret;
	return pw_added(w, oid, len, crc);
}

/*
 * Without workers: compress the object straight into the write buffer,
 * after writing out what is there if the object may not fit.  Every
 * byte of the pack is then copied once in user space, not twice.
 */
static int pw_compress_append(struct packwriter *w, const struct oid *oid,
			      enum obj_type type, const void *data,
			      size_t len)
{
	size_t cap, start;
	uint32_t crc;
	int ret = w->tmpdir ? 0 : pw_start_pack(w);

	if (ret < 0)
		return ret;
	cap = w->spilled ? PW_SPILL_CHUNK : PW_BUF_SIZE;
	if (w->wb.len + zpool_compress_bound(w->z, len) > cap) {
		ret = pw_spill(w);
		if (ret < 0)
			return ret;
	}
	start = w->wb.len;
	crc = zpool_compress(w->z, &w->wb, type, data, len);
	return pw_added(w, oid, w->wb.len - start, crc);
}

/* ---- worker pool -------------------------------------------------------- */

/* The pool's emit callback: on a worker, one object at a time, in order. */
static int pw_emit(void *ctx, const struct oid *oid, const void *packed,
		   size_t len, uint32_t crc)
{
	struct packwriter *w = ctx;
	int ret;

	w->on_worker = 1;
	ret = pw_append(w, oid, packed, len, crc);
	w->on_worker = 0;
	return ret;
}

/*
 * On the caller: report the packs workers finished (on_pack runs on the
 * caller's thread, never a worker's), and keep the pool's error.
 */
static int pw_pool_sync(struct packwriter *w, int ret)
{
	char **names;
	size_t nr;

	if (w->opts.on_pack) {
		pthread_mutex_lock(&w->report_lock);
		names = w->on_pack;
		nr = w->on_pack_nr;
		w->on_pack = NULL;
		w->on_pack_nr = w->on_pack_alloc = 0;
		pthread_mutex_unlock(&w->report_lock);
		for (size_t i = 0; i < nr; i++) {
			w->opts.on_pack(w->opts.on_pack_ctx, names[i]);
			free(names[i]);
		}
		free(names);
	}
	if (ret < 0 && !w->err)
		w->err = ret;
	return ret;
}

/* ---- public interface --------------------------------------------------- */

static int sink_write(struct objsink *s, enum obj_type type,
		      const void *data, size_t len, struct oid *out)
{
	struct packwriter *w = (struct packwriter *)((char *)s -
		offsetof(struct packwriter, sink));
	return packwriter_write(w, type, data, len, out);
}

static int sink_write_known(struct objsink *s, enum obj_type type,
			    const void *data, size_t len, const struct oid *id)
{
	struct packwriter *w = (struct packwriter *)((char *)s -
		offsetof(struct packwriter, sink));
	return packwriter_write_known(w, type, data, len, id);
}

static int sink_exists(struct objsink *s, const struct oid *oid)
{
	struct packwriter *w = (struct packwriter *)((char *)s -
		offsetof(struct packwriter, sink));
	return packwriter_exists(w, oid);
}

void packwriter_opts_from_repo(struct packwriter_opts *po, struct repo *r,
			       int cmdline_level)
{
	int64_t limit;

	repo_compression(r, cmdline_level, &po->impl, &po->level);
	po->max_size = PACKWRITER_DEFAULT_MAX_SIZE;
	if (!repo_config_get_int(r, "pack.packSizeLimit", &limit) &&
	    limit > 0)
		po->max_size = (uint64_t)limit;
	err_clear();
	po->max_objects = MAX(1, po->max_size / 5000);
}

int packwriter_new(struct packwriter **out, const char *objdir,
		   struct odb *odb, const struct packwriter_opts *opts)
{
	struct packwriter *w = xcalloc(1, sizeof(*w));

	if (opts)
		w->opts = *opts;
	else
		w->opts.level = 1;
	if (w->opts.level < 0 || w->opts.level > 9)
		w->opts.level = 1;
	if (!w->opts.max_size)
		w->opts.max_size = PACKWRITER_DEFAULT_MAX_SIZE;
	if (!w->opts.max_objects)
		w->opts.max_objects = MAX(1, w->opts.max_size / 5000);
	w->objdir = xstrdup(objdir);
	w->packdir = xstrfmt("%s/pack", objdir);
	/*
	 * What writers killed earlier left: pack-tmp directories in
	 * objects/, midx and bloom temporaries in objects/pack (tmpfile.h:
	 * only those whose creator is gone; bup's are left alone).
	 */
	tmpfile_sweep(w->objdir, "pack-tmp-", NULL);
	tmpfile_sweep(w->packdir, NULL, NULL);
	w->odb = odb;
	w->fd = -1;
	w->tmpdir_fd = -1;
	w->packdir_fd = -1;
	buf_init(&w->wb, 0);
	buf_init(&w->scratch, 0);
	w->sink.write = sink_write;
	w->sink.exists = sink_exists;
	w->sink.write_known = sink_write_known;
	pthread_mutex_init(&w->report_lock, NULL);
	if (w->opts.threads > 0)
		w->pool = zpool_new(w->opts.threads, w->opts.impl,
				    w->opts.level, ZPOOL_EMIT_WORKER, pw_emit,
				    w);
	else
		w->z = zlib_deflater_new(w->opts.impl, w->opts.level);
	*out = w;
	return 0;
}

struct objsink *packwriter_sink(struct packwriter *w)
{
	return &w->sink;
}

int packwriter_exists(struct packwriter *w, const struct oid *oid)
{
	if (oidset_has(&w->set, oid))
		return 1;
	return w->odb && odb_exists(w->odb, oid);
}

int packwriter_write(struct packwriter *w, enum obj_type type,
		     const void *data, size_t len, struct oid *out)
{
	oid_hash_object_ctx(&w->oid_ctx, out, type, data, len);
	return packwriter_write_known(w, type, data, len, out);
}

int packwriter_write_known(struct packwriter *w, enum obj_type type,
			   const void *data, size_t len, const struct oid *out)
{
	int ret;

	if (w->err)
		return w->err;
	if (packwriter_exists(w, out))
		return 0;
	oidset_add(&w->set, out);
	w->stats.bytes_in += len;

	if (!w->pool) {
		ret = pw_compress_append(w, out, type, data, len);
		if (ret < 0)
			w->err = ret;
		return ret;
	}
	return pw_pool_sync(w, zpool_add(w->pool, out, type, data, len));
}

/*
 * An object in pack form, checked by the caller: skipped if known,
 * else appended in its turn (after what the pool holds); `verify` has a
 * worker check it first (zpool_add_verified).
 */
static int pw_write_packed(struct packwriter *w, const struct oid *oid,
			   const void *packed, size_t len, uint32_t crc,
			   uint64_t size, int verify)
{
	int ret;

	if (packwriter_exists(w, oid))
		return 0;
	oidset_add(&w->set, oid);
	w->stats.bytes_in += size;
	if (w->pool)
		return pw_pool_sync(w, verify ?
			zpool_add_verified(w->pool, oid, packed, len, crc) :
			zpool_add_packed(w->pool, oid, packed, len, crc));
	ret = pw_append(w, oid, packed, len, crc);
	if (ret < 0)
		w->err = ret;
	return ret;
}

int packwriter_write_raw(struct packwriter *w, const struct oid *oid,
			 const void *packed, size_t len, uint32_t crc)
{
	enum obj_type type;
	uint64_t size;
	int ret;

	if (w->err)
		return w->err;
	if ((ret = pack_check_raw(oid, packed, len, crc)) < 0)
		return ret;
	pack_decode_header(packed, len, &type, &size);  /* checked above */
	return pw_write_packed(w, oid, packed, len, crc, size, 0);
}

int packwriter_write_received(struct packwriter *w, const struct oid *oid,
			      const void *packed, size_t len, uint32_t crc)
{
	enum obj_type type;
	uint64_t size;
	int ret;

	if (w->err)
		return w->err;
	/* inline, the caller's tools: its SHA-1 context, its pack buffer */
	if (!w->pool &&
	    (ret = pack_verify_raw(oid, packed, len, crc, &w->scratch,
				   &w->oid_ctx)) < 0)
		return ret;
	/* with a pool: the header now (for the stats), the rest on a worker */
	if (!pack_decode_header(packed, len, &type, &size) ||
	    type < OBJ_COMMIT || type > OBJ_BLOB)
		return err_set(ERR_CORRUPT, "object %s: bad pack header",
			       oid_hex(oid));
	return pw_write_packed(w, oid, packed, len, crc, size, w->pool != NULL);
}

int packwriter_drain(struct packwriter *w)
{
	if (w->pool)
		pw_pool_sync(w, zpool_drain(w->pool));
	return w->err;
}

int packwriter_flush(struct packwriter *w)
{
	int ret;

	if (w->pool)
		pw_pool_sync(w, zpool_drain(w->pool));
	if (w->err)
		return w->err;
	ret = pw_finish_pack(w);
	if (ret < 0)
		w->err = ret;
	return ret;
}

static void pw_free(struct packwriter *w)
{
	zpool_free(w->pool);   /* joins the workers: no append runs now */
	for (size_t i = 0; i < w->on_pack_nr; i++)
		free(w->on_pack[i]);
	free(w->on_pack);
	pthread_mutex_destroy(&w->report_lock);
	pw_remove_tmp(w);
	if (w->packdir_fd >= 0)
		close(w->packdir_fd);
	zlib_deflater_free(w->z);
	buf_release(&w->scratch);
	sha1_release(&w->oid_ctx);
	sha1_release(&w->pack_ctx);
	oidset_clear(&w->set);
	free(w->entries);
	buf_release(&w->wb);
	free(w->objdir);
	free(w->packdir);
	free(w);
}

int packwriter_close(struct packwriter *w)
{
	int ret;

	if (!w)
		return 0;
	ret = packwriter_flush(w);
	if (!ret && w->wrote_any && !w->opts.no_upkeep) {
		/*
		 * bup: `bup midx --auto` then `bup bloom` (FORMAT.md 2.4).
		 * NEEDSWORK: bup does this after every pack it finishes, so
		 * a run that ends several packs prints its lines (and adds
		 * to its bloom) once per pack, where we do it once.
		 */
		ret = midx_auto(w->packdir, 0, 0, NULL, w->opts.progress);
		if (ret >= 0)
			ret = bloom_update_ex(w->packdir, NULL, 0, 0, NULL,
					      NULL, w->opts.progress);
		if (ret > 0)
			ret = 0;
	}
	pw_free(w);
	return ret;
}

void packwriter_abort(struct packwriter *w)
{
	if (!w)
		return;
	pw_free(w);
}

void packwriter_get_stats(const struct packwriter *w,
			  struct packwriter_stats *st)
{
	*st = w->stats;
}
