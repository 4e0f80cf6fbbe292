/*
 * Fuzz target for the .midx parser (FORMAT.md 2.5): parse, verify, and
 * look up a few ids (including ones taken from the table itself).
 */
#include <stdint.h>
#include <string.h>

#include "store/midx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct midx_file m;
	struct oid o;
	const char *name;

	if (midx_parse(&m, "fuzz.midx", data, size) < 0)
		return 0;
	midx_verify(&m);
	memset(o.hash, 0, sizeof(o.hash));
	midx_find(&m, &o, &name);
	memset(o.hash, 0xff, sizeof(o.hash));
	midx_find(&m, &o, &name);
	for (uint32_t i = 0; i < m.nr && i < 64; i++) {
		memcpy(o.hash, m.shas + (size_t)i * 20, 20);
		midx_find(&m, &o, &name);
	}
	midx_release(&m);
	return 0;
}
