/*
 * Fixtures shared by the midx and bloom unit tests: the idx files of
 * bup's test vector (t/vectors/midx-bloom: three idx files, 1179 ids,
 * and the midx and the bloom bup made of them), a walk over their ids,
 * and a capture of what a writer's progress callback got.  Test-only:
 * included by *_test.c files, never by the core.  The harness's
 * unit_vector() comes in as an argument (unit.h is not a library
 * header).
 */
#ifndef CBUP_IDXSUM_TEST_UTIL_H
#define CBUP_IDXSUM_TEST_UTIL_H

#include <stdint.h>

#include "store/idx.h"
#include "util/buf.h"

#define V_IDX1 "midx-bloom/pack-7e4a91524e0812dd797b74364b2bf316637f2801.idx"
#define V_IDX2 "midx-bloom/pack-2681b75172e4ffeb28ec6e8978f4e9bc5f345897.idx"
#define V_IDX3 "midx-bloom/pack-58bed316a1e0d94dd416b28fd6e5067923ec83a1.idx"

/*
 * fn(ctx, ix, id) for every id of V_IDX1, V_IDX2 and V_IDX3 in turn
 * (`id` is a copy the callback may change), their paths found with
 * vector() (unit_vector()).  Returns how many of the three did not
 * open: the caller CHECKs that it is 0.
 */
static inline int vec_each_id(const char *(*vector)(const char *rel),
			      void (*fn)(void *ctx, const struct idx_file *ix,
					 struct oid *id),
			      void *ctx)
{
	static const char *const v[3] = { V_IDX1, V_IDX2, V_IDX3 };
	int bad = 0;

	for (int i = 0; i < 3; i++) {
		struct idx_file *ix;

		if (idx_open(&ix, vector(v[i]))) {
			bad++;
			continue;
		}
		for (uint32_t n = 0; n < ix->nr; n++) {
			struct oid o;

			idx_nth_oid(ix, n, &o);
			fn(ctx, ix, &o);
		}
		idx_close(ix);
	}
	return bad;
}

/* What a midx or bloom writer's progress callback got, as
 * "<rate_limited>:line" for each line. */
static struct buf progress_got = BUF_INIT;

static inline void progress_cb(int rate_limited, const char *line)
{
	buf_addf(&progress_got, "%d:%s", rate_limited, line);
}

#endif
