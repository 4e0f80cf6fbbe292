/*
 * Fuzz target for the bup.bloom parser (FORMAT.md 2.6): parse, then
 * query ids built from the input.
 */
#include <stdint.h>
#include <string.h>

#include "store/bloom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bloom_file b;
	struct oid o;

	if (bloom_parse(&b, "fuzz.bloom", data, size) < 0)
		return 0;
	for (size_t i = 0; i + 20 <= size && i < 20 * 64; i += 20) {
		memcpy(o.hash, data + i, 20);
		bloom_may_contain(&b, &o);
	}
	memset(o.hash, 0xff, sizeof(o.hash));
	bloom_may_contain(&b, &o);
	bloom_release(&b);
	return 0;
}
