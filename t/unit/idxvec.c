/*
 * The midx and bloom unit tests' vector fixtures (idxvec.h).
 */
#include "idxvec.h"

#include <stdint.h>

#include "unit.h"

void idxvec_each_id(void (*fn)(void *ctx, const struct idx_file *ix,
			       struct oid *id),
		    void *ctx)
{
	static const char *const v[3] = { V_IDX1, V_IDX2, V_IDX3 };

	for (int i = 0; i < 3; i++) {
		struct idx_file *ix;

		if (idx_open(&ix, unit_vector(v[i]))) {
			unit_fail(__FILE__, __LINE__, "cannot open %s", v[i]);
			continue;
		}
		for (uint32_t n = 0; n < ix->nr; n++) {
			struct oid o;

			idx_nth_oid(ix, n, &o);
			fn(ctx, ix, &o);
		}
		idx_close(ix);
	}
}

struct buf idxvec_progress_got = BUF_INIT;

void idxvec_progress_cb(int rate_limited, const char *line)
{
	buf_addf(&idxvec_progress_got, "%d:%s", rate_limited, line);
}
