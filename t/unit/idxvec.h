/*
 * What the midx and bloom unit tests share: the idx files of bup's test
 * vector (t/vectors/midx-bloom: three idx files, 1179 ids, and the midx
 * and the bloom bup made of them), a walk over their ids, and a capture
 * of what a writer's progress callback got.
 *
 *	CHECK(...) in fn(ctx, ix, id) for each id:
 *	idxvec_each_id(fn, &ctx);
 *
 *	buf_reset(&idxvec_progress_got);
 *	... a writer called with idxvec_progress_cb ...
 *	CHECK(!strcmp(idxvec_progress_got.data, "0:...\r1:...\r"));
 */
#ifndef CBUP_IDXVEC_H
#define CBUP_IDXVEC_H

#include "store/idx.h"
#include "util/buf.h"

#define V_IDX1 "midx-bloom/pack-7e4a91524e0812dd797b74364b2bf316637f2801.idx"
#define V_IDX2 "midx-bloom/pack-2681b75172e4ffeb28ec6e8978f4e9bc5f345897.idx"
#define V_IDX3 "midx-bloom/pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx"

/*
 * fn(ctx, ix, id) for every id of V_IDX1, V_IDX2 and V_IDX3 in turn
 * (`id` is a copy the callback may change); a file that does not open
 * is a failed check.
 */
void idxvec_each_id(void (*fn)(void *ctx, const struct idx_file *ix,
			       struct oid *id),
		    void *ctx);

/* What idxvec_progress_cb() got, "<rate_limited>:line" for each line. */
extern struct buf idxvec_progress_got;
void idxvec_progress_cb(int rate_limited, const char *line);

#endif
