/*
 * Hashsplitting exactly as bup 0.33.7 (FORMAT.md 3.3-3.4): the chunker
 * with both buffer quirks, and the fanout tree built from its chunks.
 *
 * The chunker consumes "reads" (blocks, normally 8 MiB each, the last one
 * of a file short), emitting chunks through a callback.  It does no I/O.
 * hsplit_buffer() lets the reader read straight into the chunker's own
 * buffer so that file data is never copied before it is chunked.
 */
#ifndef CBUP_HASHSPLIT_H
#define CBUP_HASHSPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"
#include "util/buf.h"
#include "store/objsink.h"

#define HSPLIT_BLOB_MAX 32768
#define HSPLIT_READ_SIZE (8u << 20)
#define HSPLIT_MAX_PER_TREE 256

/*
 * Called per chunk in order; a non-zero return aborts and is passed up.
 * `id` is the chunk's blob id when the chunker computed it (it hashes
 * the chunks of every read of cand_min bytes or more, in batches, and
 * on two threads with hsplit_set_threads), else NULL.
 */
typedef int (*hsplit_emit_fn)(void *ctx, const unsigned char *data,
			      size_t len, int level, const struct oid *id);

struct hsplit_piece {
	size_t off, len;      /* in buf */
	int level;
	struct oid oid;
};

struct hsplit {
	unsigned char *buf;   /* leftover bytes + room for one read */
	size_t start, end;    /* unconsumed bytes are buf[start..end) */
	size_t alloc;
	int fanbits;
	hsplit_emit_fn emit;
	void *emit_ctx;
	/*
	 * What earlier scans proved about this buffer (offsets into buf),
	 * so bup's "rescan from the chunk start" costs 64 bytes instead of
	 * the whole buffer: no split at any position in
	 * (start + 63, clean_end] except `next` (0: none), whose bits are
	 * next_bits.  See hashsplit.c.
	 */
	size_t clean_end, next;
	int next_bits;
	uint64_t total;       /* bytes emitted so far */
	/*
	 * Each read of cand_min bytes or more is scanned up front for every
	 * position whose full 64-byte window meets the split condition
	 * ("candidates", in stream offsets: buf[start] is stream offset
	 * `total`), in two interleaved halves, and on two threads in
	 * parallel mode (hsplit_set_threads).  All candidates in
	 * (cov_lo, cov_hi] are listed, sorted.  The cut points stay bup's
	 * sequential ones: see first_split() in hashsplit.c.
	 */
	struct hsplit_cand *cand;
	size_t cand_nr, cand_alloc;
	uint64_t cov_lo, cov_hi;
	struct hsplit_cand *tmp;   /* second half's list while scanning */
	size_t tmp_nr, tmp_alloc;
	struct hsplit_helper *helper;
	int threads;
	size_t cand_min;      /* smallest read listed up front */
	size_t par_min;       /* smallest read listed on two threads */
	/* the chunks of one read, hashed before they are emitted */
	struct hsplit_piece *pieces;
	size_t pieces_nr, pieces_alloc;
};

struct hsplit_cand {
	uint64_t pos;         /* 1-based end of the window */
	int bits;
};

/* fanbits = log2(fanout), 4 for bup's default fanout 16; 0 = no levels. */
void hsplit_init(struct hsplit *h, int fanbits, hsplit_emit_fn emit,
		 void *ctx);
void hsplit_release(struct hsplit *h);
/*
 * Scan reads of HSPLIT_PAR_MIN bytes or more on `threads` (1 or 2)
 * threads; the chunks are identical to the sequential ones.  Kept by
 * hsplit_reset(), freed by hsplit_release().
 */
#define HSPLIT_PAR_MIN ((size_t)1 << 20)
#define HSPLIT_CAND_MIN ((size_t)16 << 10)
void hsplit_set_threads(struct hsplit *h, int threads);
/*
 * Start a new input with the same buffer (no 8 MiB allocation per file):
 * like hsplit_init() on a chunker whose buffer is kept.
 */
void hsplit_reset(struct hsplit *h, hsplit_emit_fn emit, void *ctx);
/*
 * Room for the next read of up to `want` bytes: the caller fills
 * (*ptr, n) and then calls hsplit_feed_buffer(h, n).  This is the
 * zero-copy path; hsplit_feed() copies an external block instead.
 */
unsigned char *hsplit_buffer(struct hsplit *h, size_t want);
int hsplit_feed_buffer(struct hsplit *h, size_t n);
int hsplit_feed(struct hsplit *h, const void *block, size_t len);
/* End of input: emit the final piece (level 0). */
int hsplit_finish(struct hsplit *h);

/*
 * fanbits for a fanout as bup computes it: int(log2(fanout or 128)) for
 * -b (fanout 0), int(log2(fanout)) otherwise, so 16 -> 4, 2 -> 1.
 */
int hsplit_fanbits(unsigned long long fanout);

/*
 * Fanout tree (FORMAT.md 3.4).  Chunks are added with their level; trees
 * are written through the sink as they close.
 */
struct fantree_item {
	unsigned mode;        /* 0100644 or 040000 */
	struct oid oid;
	uint64_t size;
};

struct fantree_level {
	struct fantree_item *items;
	size_t nr, alloc;
};

struct fantree {
	struct fantree_level *levels;
	size_t nlevels, alloc;
	struct objsink *sink;
	struct buf scratch;   /* tree object being serialised */
};

void fantree_init(struct fantree *t, struct objsink *sink);
void fantree_release(struct fantree *t);
/* Record one chunk already written as a blob. */
int fantree_add(struct fantree *t, const struct oid *blob, uint64_t len,
		int level);
/*
 * Finish as split_to_blob_or_tree: empty -> empty blob (100644); one
 * entry -> that entry; else a tree (040000).
 */
int fantree_finish(struct fantree *t, struct oid *out, unsigned *mode);
/* Finish as `bup split -t`: always a tree of the top list. */
int fantree_finish_tree(struct fantree *t, struct oid *out);

/*
 * Convenience: hashsplit a whole fd into the sink, as bup save does for
 * one regular file.  *size_out receives the bytes read.
 */
int hsplit_fd(struct objsink *sink, int fd, int fanbits, struct oid *out,
	      unsigned *mode, uint64_t *size_out);
/* The same for an in-memory buffer (e.g. a .bupm stream). */
int hsplit_mem(struct objsink *sink, const void *data, size_t len,
	       int fanbits, struct oid *out, unsigned *mode);

#endif
