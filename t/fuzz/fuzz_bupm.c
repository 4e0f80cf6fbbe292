/*
 * Fuzz target for the metadata decoder (FORMAT.md 5.2): read arbitrary
 * bytes as a .bupm / bupindex.meta / bup meta stream, object by object,
 * and re-encode whatever decodes.  A decoded object must re-decode from
 * its own encoding to the same encoding (a fixed point).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "meta/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meta_reader r;
	struct meta m, m2;
	struct buf enc = BUF_INIT, enc2 = BUF_INIT;

	meta_init(&m);
	meta_init(&m2);
	meta_reader_init(&r, data, size);
	while (meta_reader_next(&r, &m) == 1) {
		size_t used;

		buf_reset(&enc);
		meta_encode(&enc, &m, 1);
		if (meta_decode(&m2, enc.data, enc.len, &used) ||
		    used != enc.len)
			abort();
		buf_reset(&enc2);
		meta_encode(&enc2, &m2, 1);
		if (enc2.len != enc.len || memcmp(enc.data, enc2.data, enc.len))
			abort();
	}
	meta_release(&m);
	meta_release(&m2);
	buf_release(&enc);
	buf_release(&enc2);
	return 0;
}
