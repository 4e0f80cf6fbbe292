/*
 * Writing objects into packs (FORMAT.md 2.2-2.4): pack v2 + idx v2 in a
 * temporary directory objects/pack-tmp-cbup@HOST-PID-XXXXXX, renamed into
 * objects/pack pack first, then idx, after fsync; never a loose object.
 * Objects already in the repository (odb) or already written by this
 * writer are skipped.  Pack size and object-count limits as bup.
 *
 * The writer is the end of the save pipeline: ids are computed before
 * packwriter_write() returns, and the bytes are compressed and appended
 * in call order, so output is deterministic whatever the thread count.
 * A writer is used by one thread; it may use worker threads inside.
 */
#ifndef CBUP_PACKWRITER_H
#define CBUP_PACKWRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store/objsink.h"
#include "util/zlib.h"

struct odb;
struct packwriter;

#define PACKWRITER_DEFAULT_MAX_SIZE 1000000000ULL

/*
 * Where the midx and bloom upkeep of packwriter_close() reports the
 * lines bup's `bup midx --auto` and `bup bloom` children print on a
 * terminal (midx_opts.progress, bloom_update_ex()): rate_limited 1 for
 * bup's qprogress(), 0 for progress(); showing them is the caller's
 * business.
 */
typedef void (*packwriter_progress_fn)(int rate_limited, const char *line);

struct packwriter_opts {
	int level;              /* zlib level 0-9; bup's default is 1 */
	enum zlib_impl impl;
	uint64_t max_size;      /* pack.packSizeLimit, default 1e9 */
	uint64_t max_objects;   /* default max(1, max_size / 5000) */
	int threads;            /* compression workers; 0 = inline */
	int no_upkeep;          /* do not update midx/bloom on close */
	/* Called with each finished pack's idx path (for -vv, remote). */
	void (*on_pack)(void *ctx, const char *idx_path);
	void *on_pack_ctx;
	/* The upkeep's lines (above); NULL: none. */
	packwriter_progress_fn progress;
};

struct repo;

/*
 * The repository's settings of a writer, as bup's PackWriter takes
 * them: the compressor and level (repo_compression(); a cmdline_level
 * >= 0 wins), max_size from pack.packSizeLimit (else the default) and
 * max_objects max(1, max_size / 5000).  The other fields are left as
 * they are.
 */
void packwriter_opts_from_repo(struct packwriter_opts *po, struct repo *r,
			       int cmdline_level);

/*
 * objdir is the repository's objects/ directory.  Removes the
 * temporaries that writers killed earlier left there (tmpfile.h).
 */
int packwriter_new(struct packwriter **out, const char *objdir,
		   struct odb *odb, const struct packwriter_opts *opts);
/* The sink interface of this writer. */
struct objsink *packwriter_sink(struct packwriter *w);
int packwriter_write(struct packwriter *w, enum obj_type type,
		     const void *data, size_t len, struct oid *out);
/* packwriter_write() of an object whose id `out` the caller computed. */
int packwriter_write_known(struct packwriter *w, enum obj_type type,
			   const void *data, size_t len, const struct oid *out);
/* Append an object already in pack form (header + zlib stream). */
int packwriter_write_raw(struct packwriter *w, const struct oid *oid,
			 const void *packed, size_t len, uint32_t crc);
/*
 * The same for an object from a sender that is not trusted (the
 * server's receive-objects-v2): also inflated and hashed against oid
 * (pack_verify_raw), on a worker when the writer has threads.  A bad
 * object fails the writer: this or a later call, or the close, returns
 * ERR_CORRUPT naming it, and nothing of this writer may be kept
 * (packwriter_abort).
 */
int packwriter_write_received(struct packwriter *w, const struct oid *oid,
			      const void *packed, size_t len, uint32_t crc);
/* 1 if the object exists in the odb or was written by this writer. */
int packwriter_exists(struct packwriter *w, const struct oid *oid);
/*
 * Wait until every object handed over so far is in the pack file (the
 * workers are done with it).  0 or the writer's first error.
 */
int packwriter_drain(struct packwriter *w);
/* Finish the current pack (if any) now; later writes start a new one. */
int packwriter_flush(struct packwriter *w);
/* Flush, update midx/bloom, free.  Returns 0 or the first error. */
int packwriter_close(struct packwriter *w);
/* Remove any temporary pack and free; nothing becomes visible. */
void packwriter_abort(struct packwriter *w);

struct packwriter_stats {
	uint64_t objects, bytes_in, bytes_out, packs;
};
/* Objects appended so far: drain first for a count of all handed over. */
void packwriter_get_stats(const struct packwriter *w,
			  struct packwriter_stats *st);

#endif
