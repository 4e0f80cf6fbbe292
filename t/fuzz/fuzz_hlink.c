/*
 * Fuzz target for the bupindex.hlink pickle reader (FORMAT.md 8.4):
 * anything accepted must re-encode and parse again to the same count.
 */
#include <stdint.h>
#include <stdlib.h>

#include "util/buf.h"
#include "index/hlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hlink_db *db = NULL, *back = NULL;
	struct buf out = BUF_INIT;

	if (hlink_parse(&db, data, size))
		return 0;
	hlink_encode(db, &out);
	if (hlink_count(db) && hlink_parse(&back, out.data, out.len))
		abort();
	if (back && hlink_count(back) != hlink_count(db))
		abort();
	hlink_free(back);
	hlink_free(db);
	buf_release(&out);
	return 0;
}
