/* Fuzz the tree parser (tree.h): iterate every entry of arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "store/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree_iter it;
	struct tree_entry e;
	enum tree_bup_kind k;

	tree_iter_init(&it, data, size);
	while (tree_iter_next(&it, &e) == 1)
		(void)tree_demangle_name(e.name, e.namelen, e.mode, &k);
	return 0;
}
