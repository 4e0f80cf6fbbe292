/*
 * The filesystem index `bupindex` version 7 (FORMAT.md 8.1-8.3): a
 * validated reader over a (possibly writable) mapping, iteration in bup's
 * order, in-place updates of the 130-byte entry struct, the bottom-up
 * writer, the merge of an old index with new entries, and the append-only
 * `.meta` store.  Metadata objects are opaque byte strings here (their
 * encoding is meta.h's business); this module only needs to know where
 * one ends (records are `vuint tag` + `bvec`, tag 0 ends, FORMAT.md 5.2).
 *
 * Nothing here prints or exits.  Functions return 0 or a negative
 * err_code with the message in err_last().  Not thread-safe per object.
 */
#ifndef CBUP_BINDEX_H
#define CBUP_BINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define BINDEX_HDR "BUPI\0\0\0\7"
#define BINDEX_HDRLEN 8
#define BINDEX_ENTLEN 130
#define BINDEX_FOOTLEN 8

#define BINDEX_EXISTS 0x8000      /* present on the filesystem */
#define BINDEX_HASHVALID 0x4000   /* sha matches the file */
#define BINDEX_SHAMISSING 0x2000  /* sha seems absent from the repo */

/* One entry's struct, unpacked (all fields as stored, big-endian). */
struct bindex_ent {
	uint64_t dev, ino, nlink;
	int64_t ctime_s;
	uint64_t ctime_ns;
	int64_t mtime_s;
	uint64_t mtime_ns;
	int64_t atime_s;
	uint64_t atime_ns;
	uint64_t size;
	uint32_t mode, gitmode;
	unsigned char sha[20];
	uint16_t flags;
	uint64_t children_ofs;
	uint32_t children_n;
	uint64_t meta_ofs;
};

void bindex_ent_unpack(struct bindex_ent *e, const unsigned char *p);
void bindex_ent_pack(unsigned char *p, const struct bindex_ent *e);

static inline int bindex_ent_is_valid(const struct bindex_ent *e)
{
	return (e->flags & (BINDEX_EXISTS | BINDEX_HASHVALID)) ==
	       (BINDEX_EXISTS | BINDEX_HASHVALID);
}
static inline int bindex_ent_is_deleted(const struct bindex_ent *e)
{
	return !(e->flags & BINDEX_EXISTS);
}
/* bup: "fake" iff ctime == 0 (blank parents). */
static inline int bindex_ent_is_fake(const struct bindex_ent *e)
{
	return e->ctime_s == 0 && e->ctime_ns == 0;
}
int bindex_ent_sha_is_empty(const struct bindex_ent *e);
/* bup's set_deleted(): clears EXISTS and HASHVALID if EXISTS was set. */
void bindex_ent_set_deleted(struct bindex_ent *e);

/*
 * Times: bup keeps integer nanoseconds in memory and stores
 * (floor(ns / 1e9), ns mod 1e9).  bindex_ts_ns() saturates garbage.
 */
int64_t bindex_ts_ns(int64_t s, uint64_t ns);
void bindex_ns_ts(int64_t t, int64_t *s, uint64_t *ns);

/*
 * Fill the stat fields of `e` from `st` the way bup's update_from_stat
 * does (dev, ino, nlink, times, size, mode, EXISTS, meta_ofs), clamping
 * mtime and ctime to `tmax` ns (FORMAT.md 8.2; pass INT64_MAX for none).
 */
struct stat;
void bindex_ent_from_stat(struct bindex_ent *e, const struct stat *st,
			  uint64_t meta_ofs, int64_t tmax);
/* bup's Entry.stale() (FORMAT.md 8.2). */
int bindex_ent_stale(const struct bindex_ent *e, const struct stat *st,
		     int check_device);

/*
 * The clock of an update (FORMAT.md 8.2).  A recorded time can be trusted
 * when it is older than the second the stat was taken in: whatever changes
 * the file later gets a time of that second or later, also where the file
 * system keeps whole seconds.  bup sleeps into the next second before it
 * starts to make this so; cbup sleeps only when a path proves recent.
 * bindex_settle(after) returns at least BINDEX_SETTLE_NS into a second
 * later than `after` (sleeping if need be) and returns that second; the
 * margin covers the kernel's file times, which come from a clock that
 * may lag the real one by a tick.  bindex_stat_newest_ns() is the later
 * of mtime and ctime.
 */
#define BINDEX_SETTLE_NS 20000000
int64_t bindex_settle(int64_t after);
int64_t bindex_stat_newest_ns(const struct stat *st);

/*
 * A parsed index.  `map` is NULL for an empty index (missing file or
 * header + zero footer).  bindex_parse() validates a buffer the caller
 * owns: header, length, footer count, and a full traversal proving that
 * every children block lies inside the file, before its parent, and that
 * the blocks tile the file in bup's bottom-up order (so no entry is
 * reachable twice and no cycle exists).  Returns ERR_CORRUPT on any
 * violation.
 */
struct bindex {
	unsigned char *map;
	size_t len;
	uint64_t count;       /* footer */
	size_t root_ofs;      /* offset of the root entry's struct */
	/* private */
	int fd;
	int mapped;
	int writable;
};

int bindex_parse(struct bindex *ix, const void *buf, size_t len);

/*
 * Open `path` (flags: BINDEX_RDWR maps it MAP_SHARED writable, for
 * in-place updates).  A missing file gives an empty index (0).  A bad
 * header gives ERR_CORRUPT with bup's "header: expected ..." text: bup
 * itself warns and treats the index as empty, which the caller may do.
 */
#define BINDEX_RDWR 1
int bindex_open(struct bindex *ix, const char *path, int flags);
/* msync a writable mapping. */
int bindex_sync(struct bindex *ix);
void bindex_close(struct bindex *ix);

/*
 * Iteration in bup's order: children (deepest first, descending) before
 * their parent, full names built from basenames (root "/", directories
 * ending in '/').  With `name` set only entries under that name (and the
 * name itself) are yielded, as bup's Reader.iter(name=...).  `wantrecurse`
 * (optional) is asked before descending into each child; it sees
 * it->name and it->e of that child.
 *
 *	struct bindex_iter it;
 *	bindex_iter_init(&it, &ix, NULL);
 *	while ((r = bindex_iter_next(&it)) > 0)
 *		use(it.name.data, &it.e);
 *	bindex_iter_release(&it);
 *
 * it->e may be modified and written back with bindex_iter_repack().
 */
struct bindex_iter_frame;
struct bindex_iter {
	struct buf name;          /* full name of the current entry */
	struct bindex_ent e;      /* current entry */
	size_t ent_ofs;           /* offset of its 130-byte struct */
	int (*wantrecurse)(struct bindex_iter *it, void *data);
	void *wantrecurse_data;
	/* private */
	struct bindex *ix;
	struct bindex_iter_frame *stack;
	size_t nr, alloc;
	char *dname;              /* filter name with trailing '/' */
	size_t dnamelen;
	char *fname;              /* filter name as given */
	size_t fnamelen;
	int state;
	int strict;
	size_t expect_block;
	uint64_t seen;
	unsigned since_drop;      /* entries since the pages were dropped */
};

void bindex_iter_init(struct bindex_iter *it, struct bindex *ix,
		      const char *name);
/* 1: an entry is in it->name / it->e; 0: done; <0: corrupt. */
int bindex_iter_next(struct bindex_iter *it);
void bindex_iter_release(struct bindex_iter *it);
/*
 * Write it->e back into the (writable) mapping; if the entry is not
 * valid, clear HASHVALID on every ancestor and write them back too
 * (bup's repack()).  children_ofs/children_n are never changed.
 */
int bindex_iter_repack(struct bindex_iter *it);

/* Find one entry by full name; 1 found (it->e, it->ent_ofs), 0 not. */
int bindex_find(struct bindex_iter *it, struct bindex *ix, const char *name);

/*
 * The writer: entries must come in strictly descending full-name order
 * (directories named with a trailing '/'); missing ancestors become
 * blank entries (flags EXISTS, everything else 0, meta `blank_meta_ofs`).
 * Writes to a temporary file beside `path`; bindex_writer_commit()
 * finishes (footer), fsyncs and renames it over `path`;
 * bindex_writer_finish() finishes without renaming (the temp file is then
 * at w->tmp_path, for the merge); bindex_writer_free() removes an
 * uncommitted temp file.
 */
struct bindex_writer;
int bindex_writer_new(struct bindex_writer **out, const char *path,
		      uint64_t blank_meta_ofs);
int bindex_writer_add(struct bindex_writer *w, const char *name,
		      size_t namelen, const struct bindex_ent *e);
int bindex_writer_finish(struct bindex_writer *w);
int bindex_writer_commit(struct bindex_writer *w);
const char *bindex_writer_tmp_path(const struct bindex_writer *w);
uint64_t bindex_writer_count(const struct bindex_writer *w);
void bindex_writer_free(struct bindex_writer *w);
/* Write a finished index into a memory buffer instead (tests, fuzzing). */
int bindex_writer_new_buf(struct bindex_writer **out, struct buf *dst,
			  uint64_t blank_meta_ofs);

/*
 * Merge two indexes into `w` the way bup index does after an update
 * (descending full names; for equal names the invalid entry wins, then
 * the real one; bup's heap tie-breaking reproduced).  `merged` gets the
 * number of entries read (bup's progress "total").
 */
int bindex_merge(struct bindex_writer *w, struct bindex *old_ix,
		 struct bindex *new_ix, uint64_t *merged);

/*
 * The `.meta` store (FORMAT.md 8.3).  Opening reads the existing
 * objects to dedup against, exactly as bup 0.33.7 does: it stops at EOF,
 * at a truncated object and at the first empty object ("00"), and an
 * identical encoding stored at offset 0 is not reused (bup tests the
 * offset for truth).  Appends are buffered until close.
 */
struct bindex_metastore;
int bindex_metastore_open(struct bindex_metastore **out, const char *path);
/* In-memory store over `existing` bytes (tests); writes go to `out`. */
struct bindex_metastore *bindex_metastore_new_mem(const void *existing,
						   size_t len);
int bindex_metastore_store(struct bindex_metastore *ms, uint64_t *ofs,
			   const void *enc, size_t len);
/* The empty metadata object (single byte 00), as bup's Metadata(). */
int bindex_metastore_store_empty(struct bindex_metastore *ms, uint64_t *ofs);
/* Bytes appended so far (for the in-memory store). */
const struct buf *bindex_metastore_appended(const struct bindex_metastore *ms);
int bindex_metastore_close(struct bindex_metastore *ms);

/*
 * Length of the metadata object at `ofs` in a `.meta` image: 0 and
 * *objlen set, or ERR_CORRUPT if ofs is out of bounds or the object is
 * truncated or malformed.
 */
int bindex_meta_at(size_t *objlen, const void *buf, size_t len,
		   uint64_t ofs);

/*
 * Create a temporary file beside `path` (same directory, mode 0666 &
 * ~umask as bup's open()): tmpfile_open()'s "<path>.cbup@HOST-PID-XXXXXX",
 * locked until its fd is closed, so that the next writer of `path`
 * removes it if this process dies.  Returns the fd, or <0; *tmp is
 * malloc'ed.  bindex_replace_commit() fsyncs, renames, closes and fsyncs
 * the dir.
 */
int bindex_replace_open(char **tmp, const char *path);
int bindex_replace_commit(int fd, const char *tmp, const char *path);

#endif
