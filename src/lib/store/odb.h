/*
 * The object database of a repository: existence checks through
 * bup.bloom, midx and idx files (FORMAT.md 2.5-2.6, 9), and object
 * reading from packs (with deltas) and from loose objects written by git.
 *
 * Existence (odb_exists) follows bup: only objects in packs count, so a
 * loose object is written again into a pack.  Reading (odb_read) sees
 * both.  Not thread-safe; give each thread its own odb.
 */
#ifndef CBUP_ODB_H
#define CBUP_ODB_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/oid.h"

struct odb;

/* objdir: the repository's objects/ directory. */
int odb_open(struct odb **out, const char *objdir);
/*
 * An odb over a directory holding idx (and midx, bloom) files directly,
 * without packs: existence only (the client's index cache, FORMAT.md
 * 7.1).  odb_read fails with ERR_NOTFOUND or ERR_IO there.
 */
int odb_open_idxdir(struct odb **out, const char *idxdir);
void odb_free(struct odb *odb);
/* Pick up packs, midx and bloom files written since opening. */
int odb_refresh(struct odb *odb);

/* 1 if the object is in a pack of this repository, else 0. */
int odb_exists(struct odb *odb, const struct oid *oid);
/*
 * Like odb_exists, and *idxname gets the basename of an idx holding the
 * object ("pack-<hex>.idx", valid until the next refresh): bup's
 * exists(want_source=True), for the server's "index" suggestions.
 */
int odb_exists_where(struct odb *odb, const struct oid *oid,
		     const char **idxname);
/*
 * Read an object.  Returns 0, ERR_NOTFOUND (message names the id) or
 * ERR_CORRUPT / ERR_IO (message names the pack or file).  The content's
 * id is verified against `oid`.
 */
int odb_read(struct odb *odb, const struct oid *oid, enum obj_type *type,
	     struct buf *out);

enum odb_read_flags {
	/*
	 * A blob stored whole in a pack with an idx v2 is checked by the
	 * CRC-32 of its packed bytes (and zlib's adler32 and its size)
	 * instead of its id, as git trusts reused pack data: for readers
	 * of file contents (restore, join).  Trees, commits, tags,
	 * deltas and loose objects are still checked by id.
	 */
	ODB_READ_CRC_BLOBS = 1 << 0,
};
/* odb_read() with enum odb_read_flags. */
int odb_read_flags(struct odb *odb, const struct oid *oid,
		   enum obj_type *type, struct buf *out, unsigned flags);
/*
 * The packed form of an object (pack header + zlib stream, FORMAT.md
 * 2.2) as stored, for copying into another pack without inflating and
 * deflating it again (bup get).  Appends the bytes to `out` and gives
 * their CRC-32, checked against the idx.  Returns 0; 1 when the object
 * has no standalone packed form here (loose, a delta, an idx v1 without
 * CRCs: use odb_read); ERR_CORRUPT or ERR_IO.  The content's id is not
 * verified (the CRC is, as git does when it reuses pack data).
 */
int odb_read_raw(struct odb *odb, const struct oid *oid, enum obj_type *type,
		 struct buf *out, uint32_t *crc);
/* Number of objects in all packs (for bloom sizing, statistics). */
uint64_t odb_count(struct odb *odb);

#endif
