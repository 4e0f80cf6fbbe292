/*
 * Fuzz target for the pack object parsers (pack.c): the object header
 * decoder, the git delta applier on arbitrary base/delta splits, and a
 * whole pack file read at every plausible offset with deltas.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/buf.h"
#include "store/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int no_base(void *ctx, const struct oid *oid, enum obj_type *type,
		   struct buf *out)
{
	(void)ctx;
	(void)oid;
	*type = OBJ_BLOB;
	buf_add(out, "0123456789abcdef", 16);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum obj_type t;
	uint64_t sz;
	struct buf out = BUF_INIT;
	size_t split;

	(void)pack_decode_header(data, size, &t, &sz);

	/* First byte chooses how much of the rest is the delta base. */
	if (size > 1) {
		unsigned char *b = malloc(size - 1);
		memcpy(b, data + 1, size - 1);
		split = data[0] % size;
		if (split > size - 1)
			split = size - 1;
		(void)pack_apply_delta(&out, b, split, b + split,
				       size - 1 - split);
		free(b);
	}

	/*
	 * As a pack body: header + data + trailer in a memory file (a file
	 * on disk per input made this target 40 times slower than the
	 * others), opened by its /proc path as pack_open() wants a path.
	 */
	if (size < 1 << 20) {
		char path[64];
		int fd = memfd_create("fuzz-pack", MFD_CLOEXEC);
		struct pack_file *p;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

		if (fd >= 0) {
			static const unsigned char hdr[12] =
				"PACK\0\0\0\2\0\0\0\1";
			unsigned char trailer[20] = { 0 };
			if (write(fd, hdr, 12) == 12 &&
			    write(fd, data, size) == (ssize_t)size &&
			    write(fd, trailer, 20) == 20 &&
			    pack_open(&p, path) == 0) {
				for (uint64_t off = 12; off < 12 + size &&
				     off < 12 + 64; off++) {
					buf_reset(&out);
					(void)pack_read_object(p, off, &t,
							       &out, no_base,
							       NULL);
				}
				pack_close(p);
			}
			close(fd);
		}
	}
	buf_release(&out);
	return 0;
}
