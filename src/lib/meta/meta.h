/*
 * POSIX metadata as bup records it (FORMAT.md 5.2-5.7): the in-memory
 * struct, its byte encoding (one "metadata object" = tagged records
 * ending in tag 0), collection from the filesystem exactly as bup's
 * metadata.from_path() does, application to a restored path as bup's
 * create_path()/apply_to_path() do (relative to directory descriptors,
 * never following a symlink: struct meta_at), and .bupm streams (one object for
 * the directory, then one per non-directory entry in unmangled-name
 * order).
 *
 * Memory: a struct meta owns its buffers.  meta_reset() clears the
 * fields but keeps the allocations, so a loop that reuses one struct
 * (save, restore, the .bupm reader) allocates only while it warms up.
 * Not thread-safe per object; distinct objects may be used from
 * different threads (the uid/gid name cache is locked).
 */
#ifndef CBUP_META_H
#define CBUP_META_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/buf.h"

/* Record tags (FORMAT.md 5.2).  Never change these values. */
enum meta_tag {
	META_TAG_END = 0,
	META_TAG_PATH = 1,
	META_TAG_COMMON_V1 = 2,
	META_TAG_SYMLINK_TARGET = 3,
	META_TAG_POSIX1E_ACL_V1 = 4,
	META_TAG_NFSV4_ACL = 5,
	META_TAG_LINUX_ATTR = 6,
	META_TAG_LINUX_XATTR = 7,
	META_TAG_HARDLINK_TARGET = 8,
	META_TAG_COMMON_V2 = 9,
	META_TAG_COMMON_V3 = 10,
	META_TAG_POSIX1E_ACL_V2 = 11,
};

/* A time as (floor(ns / 1e9), ns mod 1e9): nsec is always 0..999999999. */
struct meta_time {
	int64_t sec;
	int32_t nsec;
};

struct meta_xattr {
	struct buf name;   /* with its namespace: "user.foo" */
	struct buf value;
};

/* Indexes into struct meta.acl[]. */
enum {
	META_ACL_TEXT = 0,       /* u::rw-,u:nobody:r--,... */
	META_ACL_NUM = 1,        /* u::rw-,u:65534:r--,... */
	META_ACL_DEF_TEXT = 2,   /* default ACL, "" for non-directories */
	META_ACL_DEF_NUM = 3,
};

struct meta {
	/*
	 * Common record (tag 10).  bup writes it iff mode != 0, so mode 0
	 * means "no common record".
	 */
	int64_t mode;            /* full st_mode: type and permission bits */
	int64_t uid, gid;
	struct buf user, group;  /* names, "" if unknown */
	int64_t rdev;            /* only for char/block devices, else 0 */
	struct meta_time atime, mtime, ctime;
	int64_t size;            /* -1: not recorded */

	struct buf path;             /* tag 1, bup meta archives only */
	struct buf symlink_target;   /* tag 3; len 0 = none */
	struct buf hardlink_target;  /* tag 8; len 0 = none */
	int has_acl;                 /* tag 11 */
	struct buf acl[4];           /* META_ACL_* */
	uint64_t linux_attr;         /* tag 6; 0 = none */
	struct meta_xattr *xattrs;   /* tag 7, in kernel listing order */
	size_t nr_xattrs, alloc_xattrs;
};

void meta_init(struct meta *m);
void meta_release(struct meta *m);
/* Clear every field (mode 0, size -1, ...) but keep the allocations. */
void meta_reset(struct meta *m);
void meta_copy(struct meta *dst, const struct meta *src);
/* True for bup's "empty metadata" (encodes as the single byte 00). */
int meta_is_empty(const struct meta *m);
/* Append an extended attribute. */
void meta_add_xattr(struct meta *m, const void *name, size_t name_len,
		    const void *value, size_t value_len);

/*
 * Append the encoding of m to out (FORMAT.md 5.2): records 1 (only if
 * include_path and the path is non-empty), 10, 3, 8, 11, 6, 7, each only
 * when it has content, then 0.
 */
void meta_encode(struct buf *out, const struct meta *m, int include_path);

/*
 * Decode one metadata object from the start of buf into m (reset
 * first).  Accepts the legacy tags 2, 9 and 4, skips unknown tags.
 * Returns 0 and sets *used to the bytes consumed, or ERR_CORRUPT when
 * the object is truncated or malformed (including len == 0).  Never
 * reads outside buf.
 */
int meta_decode(struct meta *m, const void *buf, size_t len, size_t *used);

/*
 * Called for problems bup reports with add_error() and survives: the
 * message is bup's, without a trailing newline.
 */
typedef void (*meta_warn_fn)(void *ctx, const char *msg);

enum meta_from_flags {
	/* bup save (normalized=True): size only for files and symlinks */
	META_NORMALIZE = 1 << 0,
	/* bup index: atime, mtime and ctime recorded as 0 */
	META_ZERO_TIMES = 1 << 1,
	/* bup meta --no-symlinks: do not read symlink targets */
	META_NO_SYMLINKS = 1 << 2,
};

/*
 * bup's metadata.from_path(): lstat (unless st is given), user and
 * group names, rdev for devices, symlink target, POSIX ACLs (not for
 * symlinks), Linux attr flags (files and directories only), and every
 * xattr in kernel order (FORMAT.md 5.4).  The hardlink target and, for
 * saved regular files, the size actually read are the caller's to set.
 * Returns 0 (problems bup only reports go to warn, which may be NULL),
 * or ERR_IO with errno preserved when bup would raise (lstat fails,
 * xattrs or ACLs cannot be read).
 */
int meta_from_path(struct meta *m, const char *path, const struct stat *st,
		   unsigned flags, meta_warn_fn warn, void *warn_ctx);
/*
 * meta_from_path(), with fd (>= 0) open for reading on the file at path
 * (bup save opens it anyway for its content): the Linux attr flags of a
 * regular file are then read through it.  The caller closes fd.
 */
int meta_from_path_fd(struct meta *m, const char *path, int fd,
		      const struct stat *st, unsigned flags,
		      meta_warn_fn warn, void *warn_ctx);

enum meta_apply_flags {
	/* --numeric-ids: ignore the recorded user and group names */
	META_NUMERIC_IDS = 1 << 0,
	/* create_path(): do not create symlinks (bup meta --no-symlinks) */
	META_NO_CREATE_SYMLINKS = 1 << 1,
};

/*
 * Where meta_create_at() and meta_apply_at() act: `name` in the
 * directory open as `dirfd`.  Whoever writes into a directory that
 * others may write (restore, meta -x) passes a directory it opened
 * itself (beneath its target, never through a symlink) and one file
 * name: then nothing is done through a symlink someone swapped in
 * meanwhile, and no name but the last is looked up again.  With
 * AT_FDCWD, `name` may be a path, its directories walked as the kernel
 * walks them (meta_create() and meta_apply()).  `path` names the object
 * in messages (NULL: name).  `fd`, if >= 0, is open on the object
 * itself: the regular file meta_create_at() made, or the directory,
 * held open from its creation to its metadata; meta_apply_at() then
 * does everything through it and never looks at the name.
 */
struct meta_at {
	int dirfd;
	const char *name;
	const char *path;
	int fd;
};

/*
 * bup's create_path(): remove what is at the name (rmdir for a
 * directory, refusing a non-empty one; unlink otherwise; a symlink is
 * removed, not followed) and create an object of m's type: an empty
 * 0600 regular file (O_EXCL | O_NOFOLLOW; the caller writes the
 * content), a 0700 directory, a device node, a fifo, a socket (mknod,
 * or bind() where mknod is refused), or the symlink.  For a regular
 * file, *fdp (if fdp is not NULL) gets its O_WRONLY descriptor for the
 * caller to write and close; it is -1 for every other type and on
 * failure.  Returns 0 or a negative code with err_last() set.
 */
int meta_create_at(const struct meta *m, const struct meta_at *at,
		   unsigned flags, meta_warn_fn warn, void *warn_ctx,
		   int *fdp);
/* meta_create_at() of path in the current directory. */
int meta_create(const struct meta *m, const char *path, unsigned flags,
		meta_warn_fn warn, void *warn_ctx);

/*
 * bup's apply_to_path(): times (nanoseconds), ownership (as root:
 * recorded names unless META_NUMERIC_IDS, else numeric ids; otherwise
 * only a group of ours), mode, POSIX ACLs, xattrs, then Linux attr
 * flags (after the xattrs, so an immutable file still gets them).  A
 * step bup treats as an ApplyError is reported through warn and the
 * next step runs; failures bup lets escape return a negative code with
 * err_last() set.
 *
 * Never through a symlink: at->fd is used for a regular file or a
 * directory (futimens, fchown, fchmod, acl_set_fd, fsetxattr ...); a
 * directory without one is opened O_NOFOLLOW first, and refused with
 * an error if a symlink is in its place; everything else goes by name
 * with AT_SYMLINK_NOFOLLOW calls or an O_PATH | O_NOFOLLOW descriptor
 * (whose /proc/self/fd path stands for the calls Linux lacks).
 */
int meta_apply_at(const struct meta *m, const struct meta_at *at,
		  unsigned flags, meta_warn_fn warn, void *warn_ctx);
/* meta_apply_at() of path in the current directory. */
int meta_apply(const struct meta *m, const char *path, unsigned flags,
	       meta_warn_fn warn, void *warn_ctx);

/*
 * bup's Metadata.same_file(): could the two describe one inode (the
 * hardlink test of restore)?
 */
int meta_same_file(const struct meta *a, const struct meta *b);

/* --- .bupm streams (FORMAT.md 5.7) --- */

struct meta_bupm_entry {
	const char *name;        /* unmangled name (a file name: no NUL) */
	const struct meta *meta;
};

/*
 * Append a .bupm stream to out: dir's object (the empty object 00 when
 * dir is NULL), then one object per entry in plain byte order of the
 * names.  The entries must be the directory's non-directory entries;
 * the array is sorted in place.
 */
void meta_bupm_build(struct buf *out, const struct meta *dir,
		     struct meta_bupm_entry *entries, size_t nr);

/* Reads the objects of a .bupm (or bupindex.meta, bup meta) stream. */
struct meta_reader {
	const unsigned char *buf;
	size_t len, off;
};

void meta_reader_init(struct meta_reader *r, const void *buf, size_t len);
/*
 * Decode the next object into m: 1 when one was read (its offset was
 * r->off before the call), 0 at the end of the stream, ERR_CORRUPT.
 */
int meta_reader_next(struct meta_reader *r, struct meta *m);

/* --- Display helpers shared by xstat and meta --- */

/* bup's xstat.mode_str(): "-rw-r--r--". out must hold 11 bytes. */
void meta_mode_str(char *out, int64_t mode);
/*
 * bup's fstime_to_sec_bytes(): "S" or "S.NNNNNNNNN"; note bup adds 1 to
 * negative seconds before printing (kept for byte compatibility).
 */
void meta_time_str(struct buf *out, const struct meta_time *t);

/* Field selection for meta_detailed() (bup's metadata.all_fields). */
enum meta_field {
	META_F_PATH = 1 << 0,
	META_F_MODE = 1 << 1,
	META_F_LINK_TARGET = 1 << 2,
	META_F_RDEV = 1 << 3,
	META_F_SIZE = 1 << 4,
	META_F_UID = 1 << 5,
	META_F_GID = 1 << 6,
	META_F_USER = 1 << 7,
	META_F_GROUP = 1 << 8,
	META_F_ATIME = 1 << 9,
	META_F_MTIME = 1 << 10,
	META_F_CTIME = 1 << 11,
	META_F_LINUX_ATTR = 1 << 12,
	META_F_LINUX_XATTR = 1 << 13,
	META_F_POSIX1E_ACL = 1 << 14,
	META_F_ALL = (1 << 15) - 1,
};

/*
 * bup's metadata.detailed_bytes(): one "name: value" line per selected
 * field, joined by '\n', appended to out without a final newline (the
 * ACL lines carry their own, as bup's do).  xstat and meta -tvv; the
 * "ls -l" line of meta -tv is metafmt_summary().
 */
void meta_detailed(struct buf *out, const struct meta *m, unsigned fields);

#endif
