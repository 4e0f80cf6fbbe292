/*
 * Git pack index files, v1 and v2 (FORMAT.md 2.4.1): a read-only mmap
 * reader validated before use, and the v2 writer the pack writer uses.
 * A struct idx_file is immutable after idx_open() and may be shared by
 * threads.
 */
#ifndef CBUP_IDX_H
#define CBUP_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

struct idx_file {
	char *path;              /* as opened */
	char *name;              /* basename, "pack-<hex>.idx" */
	const unsigned char *map;
	size_t map_len;
	int version;             /* 1 or 2 */
	uint32_t nr;             /* object count */
	const unsigned char *fanout;   /* 256 x u32be */
	const unsigned char *shas;     /* v2: nr x 20; v1: entries of 24 */
	const unsigned char *crcs;     /* v2 only */
	const unsigned char *offsets;  /* v2: nr x u32be */
	const unsigned char *offsets64;
	size_t nr_offsets64;
	struct oid pack_checksum;
};

/*
 * Parse an idx from memory (no I/O: fuzzable).  `name` is used in error
 * messages.  The struct points into buf, which must outlive it.
 * Returns 0 or ERR_CORRUPT naming the file and the problem.
 */
int idx_parse(struct idx_file *idx, const char *name, const void *buf,
	      size_t len);
/* mmap + idx_parse.  Returns 0, ERR_IO or ERR_CORRUPT. */
int idx_open(struct idx_file **out, const char *path);
void idx_close(struct idx_file *idx);

/* Position of oid (0..nr-1), or -1. */
int64_t idx_find(const struct idx_file *idx, const struct oid *oid);
void idx_nth_oid(const struct idx_file *idx, uint32_t n, struct oid *out);
const unsigned char *idx_nth_sha(const struct idx_file *idx, uint32_t n);
/*
 * Pack offset of entry n.  A 64-bit offset slot out of the table's
 * bounds gives IDX_BAD_OFFSET with an ERR_CORRUPT message (err_last()).
 */
#define IDX_BAD_OFFSET UINT64_MAX
uint64_t idx_nth_offset(const struct idx_file *idx, uint32_t n);
/* An entry and where its object starts in the pack. */
struct idx_pos {
	uint64_t offset;
	uint32_t n;
};
/*
 * The entries in pack order (by offset), for one pass over the pack:
 * 0 with *out a new array of idx->nr (free() it), or ERR_CORRUPT from
 * idx_nth_offset() with *out NULL.
 */
int idx_pack_order(const struct idx_file *idx, struct idx_pos **out);
/* CRC-32 of entry n (v2; 0 for v1, which has none). */
uint32_t idx_nth_crc(const struct idx_file *idx, uint32_t n);

/*
 * The idx names that close a midx or bloom file (FORMAT.md 2.5, 2.6):
 * basenames joined by single NULs, no trailing NUL.  Returns 0 with
 * *list (one allocation holding the pointers and the names: free(*list))
 * and *nr (0 for len 0), or -1 with *bad the index of the first name
 * that is empty, holds a '/' or is "." or "..": readers join the names
 * with the file's directory; *bad is SIZE_MAX when the list is too
 * large to hold.  The caller reports either as its own corruption.
 */
int idx_parse_names(char ***list, size_t *nr, size_t *bad, const void *buf,
		    size_t len);

/* One object for the writer. */
struct idx_entry {
	struct oid oid;
	uint32_t crc;
	uint64_t offset;
};

/*
 * Write an idx v2 for `entries` (sorted in place) and the pack checksum
 * to fd; fdatasync it.  Returns 0 or ERR_IO.
 */
int idx_write_v2(int fd, const char *path, struct idx_entry *entries,
		 size_t nr, const struct oid *pack_checksum);

#endif
