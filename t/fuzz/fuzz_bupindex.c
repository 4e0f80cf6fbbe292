/*
 * Fuzz target for the bupindex parser (FORMAT.md 8.1): validate, then
 * iterate everything, a filtered subtree and a find, re-writing what was
 * read; anything bindex_parse() accepts must iterate cleanly and re-write
 * to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/bindex.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bindex ix;
	struct bindex_iter it;
	struct bindex_writer *w;
	struct buf out = BUF_INIT;
	uint64_t n = 0, blank = 0;
	int r, have_blank = 0;

	if (bindex_parse(&ix, data, size))
		return 0;
	bindex_iter_init(&it, &ix, NULL);
	if (bindex_writer_new_buf(&w, &out, 0))
		abort();
	while ((r = bindex_iter_next(&it)) > 0) {
		n++;
		if (bindex_ent_is_fake(&it.e) && !have_blank) {
			blank = it.e.meta_ofs;
			have_blank = 1;
		}
		/* the writer rejects nothing a valid index yields */
		if (bindex_writer_add(w, it.name.data, it.name.len, &it.e))
			abort();
	}
	if (r < 0)
		abort();
	if (n != (ix.count ? ix.count : n))
		abort();
	if (bindex_writer_commit(w))
		abort();
	/* what the writer makes of it is a valid index again */
	{
		struct bindex again;
		if (bindex_parse(&again, out.data, out.len))
			abort();
	}
	(void)blank;
	bindex_writer_free(w);
	buf_release(&out);
	bindex_iter_release(&it);

	if (ix.map) {
		bindex_iter_init(&it, &ix, "/a");
		while (bindex_iter_next(&it) > 0)
			;
		bindex_iter_release(&it);
		bindex_find(&it, &ix, "/a/b");
		bindex_iter_release(&it);
	}
	return 0;
}
