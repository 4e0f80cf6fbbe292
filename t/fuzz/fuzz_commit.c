/* Fuzz the commit parser (commit.h). */
#include <stddef.h>
#include <stdint.h>

#include "store/commit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct commit_info c;

	if (!commit_parse(&c, data, size))
		commit_release(&c);
	return 0;
}
