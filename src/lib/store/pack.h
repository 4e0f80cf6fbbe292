/*
 * Reading git pack files (FORMAT.md 2.2; also git's own packs): object
 * headers, zlib bodies, and OFS_DELTA / REF_DELTA resolution so that
 * repositories repacked by `git gc` are readable.  Packs are read with
 * pread in bounded windows, never mapped whole.
 */
#ifndef CBUP_PACK_H
#define CBUP_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/oid.h"

struct pack_file {
	char *path;
	int fd;
	uint64_t size;
	uint32_t nr;           /* object count from the header */
};

/* Opens and validates the header ("PACK", version 2 or 3). */
int pack_open(struct pack_file **out, const char *path);
void pack_close(struct pack_file *p);

/*
 * Encode a pack object header (type, size) into out (at most
 * PACK_HDR_MAX bytes); returns its length.
 */
#define PACK_HDR_MAX 16
size_t pack_encode_header(unsigned char *out, enum obj_type type,
			  uint64_t size);
/*
 * Decode an object header from (buf, len).  Returns the header length,
 * or 0 if it is malformed or does not fit.
 */
size_t pack_decode_header(const unsigned char *buf, size_t len,
			  enum obj_type *type, uint64_t *size);

/*
 * Looks up a REF_DELTA base by id; supplied by the caller (the odb), so
 * the pack module needs no knowledge of other packs.
 */
typedef int (*pack_base_fn)(void *ctx, const struct oid *oid,
			    enum obj_type *type, struct buf *out);

/*
 * Read the object at `offset`, resolving deltas: the final type and the
 * inflated content.  Returns 0, ERR_CORRUPT (naming the pack and offset)
 * or ERR_IO.
 */
int pack_read_object(struct pack_file *p, uint64_t offset,
		     enum obj_type *type, struct buf *out,
		     pack_base_fn base, void *base_ctx);

/*
 * The final type of the object at `offset` from headers alone: an
 * OFS_DELTA's chain is followed inside the pack, a REF_DELTA's base is
 * read through base_fn (its type is the answer).  For scans that need
 * every object's type but not its content (gc).  0, ERR_CORRUPT naming
 * the pack and offset, or ERR_IO.
 */
int pack_read_type(struct pack_file *p, uint64_t offset, enum obj_type *type,
		   pack_base_fn base_fn, void *base_ctx);
/*
 * Check an object given in pack form (header + zlib stream) before it is
 * copied verbatim into a pack: a whole (non-delta) commit, tree or blob
 * header, and the CRC-32 the idx records.  0 or ERR_CORRUPT naming oid.
 */
int pack_check_raw(const struct oid *oid, const void *packed, size_t len,
		   uint32_t crc);

/* The largest object pack_verify_raw() inflates (1 GiB). */
#define PACK_MAX_VERIFY_SIZE ((uint64_t)1 << 30)

/*
 * pack_check_raw(), and then that the object is what its id says: one
 * zlib stream of exactly the declared size (at most
 * PACK_MAX_VERIFY_SIZE) and nothing after it, whose content hashes to
 * oid.  For objects from a sender that is not trusted (a client of the
 * server): a wrong one would otherwise poison dedup for every later
 * save.  scratch and sha are the caller's (reused across calls; one per
 * thread).  0 or ERR_CORRUPT naming oid.
 */
int pack_verify_raw(const struct oid *oid, const void *packed, size_t len,
		    uint32_t crc, struct buf *scratch, struct sha1_ctx *sha);
/*
 * pack_verify_raw() without its CRC-32 check (the caller made it) and
 * without the id: the whole-object header, the size bound, and the one
 * zlib stream, inflated onto the end of out; *type is the object's.  For
 * callers that hash many objects at once (store/sha1batch.h).  0 or
 * ERR_CORRUPT naming oid, with pack_verify_raw()'s messages.
 */
int pack_inflate_raw(const struct oid *oid, const void *packed, size_t len,
		     struct buf *out, enum obj_type *type);

/* Apply a git delta to base; ERR_CORRUPT on malformed delta. */
int pack_apply_delta(struct buf *out, const unsigned char *base,
		     size_t base_len, const unsigned char *delta,
		     size_t delta_len);

#endif
