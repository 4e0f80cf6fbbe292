/*
 * Fuzz target for the idx parser (idx.c): any bytes either parse or are
 * rejected; after a successful parse every lookup and accessor must stay
 * inside the buffer (ASan checks that).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_file idx;
	/* A private copy, so reads past the end are caught exactly. */
	unsigned char *b = malloc(size ? size : 1);

	memcpy(b, data, size);
	if (idx_parse(&idx, "fuzz.idx", b, size) == 0) {
		struct oid o;
		for (uint32_t i = 0; i < idx.nr && i < 4096; i++) {
			idx_nth_oid(&idx, i, &o);
			(void)idx_find(&idx, &o);
			(void)idx_nth_offset(&idx, i);
			(void)idx_nth_crc(&idx, i);
		}
		memset(o.hash, size ? b[0] : 0, sizeof(o.hash));
		(void)idx_find(&idx, &o);
	}
	free(b);
	return 0;
}
