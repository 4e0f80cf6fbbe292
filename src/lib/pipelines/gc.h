/*
 * Garbage collection: remove what no ref reaches, as bup 0.33.7's gc
 * (lib/bup/gc.py) does, and safe beside cbup's writers (the rule is
 * FORMAT.md 14).
 *
 *  - mark: walk every ref (validate_walk, bup's walk_object order);
 *    blobs go into a Bloom filter sized for the repository's object
 *    count (bup's probabilistic liveness: some garbage may stay),
 *    trees and commits into an exact set;
 *  - clear the midx files, bup.bloom and the reflogs;
 *  - sweep: each pack holding a dead tree or commit, or more than
 *    `threshold` percent dead objects, has its live objects copied into
 *    new packs; an old pack is removed only after the new pack holding
 *    its live objects is in objects/pack with its idx and synced;
 *  - midx and bloom are rebuilt.
 *
 * gc_run() takes the repository's gc lock (repolock.h) exclusively for
 * its whole run: no cbup writer can be between "this object exists,
 * skip it" and "the ref naming it is written" while objects are judged
 * dead.  Killed at any point, the repository is whole: every object a
 * ref reaches is in some pack that has its idx.
 *
 * Nothing here prints: verbose lines and progress go to the callbacks.
 */
#ifndef CBUP_GC_H
#define CBUP_GC_H

#include <stdint.h>

#include "util/oid.h"

struct repo;
struct validate_item;

enum gc_pack_event {
	GC_DELETING,     /* no live object: the pack will go */
	GC_KEEPING,      /* live enough, no dead tree: left as it is */
	GC_REWRITING,    /* its live objects are being copied */
	GC_CREATED,      /* a new pack is in place */
	GC_REMOVING,     /* an old pack's file is being removed */
};

struct gc_opts {
	int threshold;       /* percent of dead objects that makes a
				pack worth rewriting, 0-100 (bup: 10) */
	int level;           /* -1: copy live objects' compressed bytes as
				they are; 0-9: recompress at that level */
	int verbose;         /* bup's -v count */
	int ignore_missing;  /* report missing objects, do not stop */
	int threads;         /* compression workers when recompressing */
	int wait;            /* wait for writers holding the lock (else
				fail with ERR_LOCKED) */
	/* a whole line ("...\n") that bup logs at this verbosity */
	void (*log)(void *ctx, const char *line);
	/* a progress line ending in '\r'; final ones end in '\n' */
	void (*progress)(void *ctx, const char *line);
	/*
	 * Each object of the mark phase (bup's report_live_item and, with
	 * ignore_missing, report_missing): refname, the item, the live
	 * objects counted before it (when verbose) and the repository's
	 * object count.  May be NULL.
	 */
	void (*item)(void *ctx, const char *refname,
		     const struct validate_item *it, uint64_t live,
		     uint64_t existing);
	/*
	 * What happens to each pack, for bup's verbose lines: `path` is the
	 * idx (GC_DELETING, GC_KEEPING, GC_REWRITING), the new pack's
	 * "DIR/pack-HEX" (GC_CREATED) or the file removed (GC_REMOVING);
	 * live is the live fraction (0-1) where there is one.
	 */
	void (*pack)(void *ctx, enum gc_pack_event ev, const char *path,
		     double live);
	/* called once if the lock is held by writers and gc waits */
	void (*waiting)(void *ctx);
	void *ctx;
};

#define GC_OPTS_INIT { .threshold = 10, .level = -1, .wait = 1 }

struct gc_stats {
	uint64_t existing;       /* objects before */
	uint64_t remaining;      /* objects after */
	uint64_t missing;        /* with ignore_missing: missing objects */
	uint64_t packs_removed, packs_rewritten, packs_kept;
	struct oid missing_oid;  /* the missing object that stopped gc */
	int cleared;             /* midx, bloom and reflogs were cleared */
};

/*
 * Collect garbage in r.  0, or a negative error code with the message
 * in err_last(): ERR_NOTFOUND "missing object HEX" when a ref reaches
 * an object that is not there (and !ignore_missing; nothing is changed
 * then), ERR_LOCKED when !wait and a writer holds the lock, ERR_IO or
 * ERR_CORRUPT naming the file.
 */
int gc_run(struct repo *r, const struct gc_opts *o, struct gc_stats *st);

#endif
