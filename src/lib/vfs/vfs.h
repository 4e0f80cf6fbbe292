/*
 * The virtual filesystem over a repository (FORMAT.md 6.2), as bup's
 * lib/bup/vfs.py presents it to ls, restore, cat-file and the server:
 *
 *   /                    .tag and one directory per branch
 *   /BRANCH/             one entry per commit, named by author date
 *                        (YYYY-MM-DD-HHMMSS[-N]), plus "latest"
 *   /BRANCH/DATE/...     the saved tree: demangled names, metadata from
 *                        .bupm, chunked files read as one
 *   /.tag/TAG            what refs/tags/TAG names
 *
 * Items carry their st_mode; with want_meta they carry the full
 * metadata record when the repository has one.  A struct vfs caches
 * nothing across calls except the commit lists of branches, so memory
 * is bounded by the largest directory listed.  Not thread-safe.
 */
#ifndef CBUP_VFS_H
#define CBUP_VFS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "meta/meta.h"
#include "util/oid.h"

struct repo;
struct vfs;

enum vfs_kind {
	VFS_MISSING = 0,  /* a path element that does not exist */
	VFS_ROOT,
	VFS_TAGS,
	VFS_REVLIST,      /* a branch: oid is the head commit */
	VFS_COMMIT,       /* a save: oid is its tree, coid the commit */
	VFS_ITEM,         /* a tree entry: dir, file, symlink, special */
	VFS_CHUNKY,       /* a chunked file: oid is its fanout tree */
	VFS_FAKELINK,     /* "latest": target is a sibling name */
};

struct vfs_item {
	enum vfs_kind kind;
	struct oid oid;
	struct oid coid;      /* VFS_COMMIT only */
	unsigned git_mode;    /* VFS_ITEM / VFS_CHUNKY: the tree entry mode */
	unsigned mode;        /* st_mode (from meta if has_meta, else default) */
	int has_meta;
	struct meta meta;     /* valid if has_meta */
	char *target;         /* VFS_FAKELINK */
	int64_t commit_time;  /* VFS_COMMIT: author time */
};

struct vfs_entry {
	char *name;           /* NUL-terminated; names never contain NUL */
	struct vfs_item item;
};

struct vfs_list {
	struct vfs_entry *e;
	size_t nr, alloc;
};

void vfs_list_init(struct vfs_list *l);
void vfs_list_release(struct vfs_list *l);
/* Deep copy of src appended to dst. */
void vfs_list_copy(struct vfs_list *dst, const struct vfs_list *src);

void vfs_item_init(struct vfs_item *it);
void vfs_item_release(struct vfs_item *it);
void vfs_item_copy(struct vfs_item *dst, const struct vfs_item *src);

/*
 * Where a vfs reads from: a table of operations, as struct objsink is
 * where writes go.  A local repository (vfs_source_local_new) and a
 * server (client_vfs_new in client.h) are the two real sources; the
 * vfs code knows only this table.
 *
 * cat and refs are required.  The optional ones are bup's RemoteRepo
 * short cuts, which a source provides when it can do the work in one
 * request; NULL means the vfs does it itself through cat and refs.
 * Every operation returns 0 or a negative enum err_code with the
 * message set (err.h); a source never prints or exits.  A callback
 * given to an operation may call other operations of the same source.
 */
struct vfs_source;

/* One commit of a branch, as rev_list yields it. */
struct vfs_rev {
	struct oid coid, tree;
	int64_t author_time;
};

typedef int (*vfs_ref_fn)(void *ctx, const char *refname,
			  const struct oid *oid);
typedef int (*vfs_data_fn)(void *ctx, const void *data, size_t len);

struct vfs_source_ops {
	/*
	 * Append the object named oid to out and set *type; on error out
	 * is left as it was.  ERR_NOTFOUND if it is missing, ERR_CORRUPT
	 * if what the store holds is not that object: the bytes given
	 * must be the object's (checked by its id, or as odb.h's
	 * ODB_READ_CRC_BLOBS checks blobs).
	 */
	int (*cat)(struct vfs_source *s, const struct oid *oid,
		   enum obj_type *type, struct buf *out);
	/*
	 * fn for each ref whose name starts with prefix ("refs/heads/" or
	 * "refs/tags/"), full name and id, in refname order.  A negative
	 * return from fn stops the walk and is returned.
	 */
	int (*refs)(struct vfs_source *s, const char *prefix, vfs_ref_fn fn,
		    void *ctx);
	/* Optional: one ref's id, ERR_NOTFOUND if it does not exist. */
	int (*read_ref)(struct vfs_source *s, const char *refname,
			struct oid *out);
	/*
	 * Optional: the commits reachable from head in git rev-list
	 * order (newest committer date first), in a malloc'd array the
	 * caller frees.  NULL: the vfs walks the parents through cat.
	 */
	int (*rev_list)(struct vfs_source *s, const struct oid *head,
			struct vfs_rev **out, size_t *nr);
	/*
	 * Optional: a whole file (blob or chunked fanout tree) streamed
	 * to fn, as vfs_file_stream() documents.  NULL: the vfs reads
	 * the fanout through cat.
	 */
	int (*join)(struct vfs_source *s, const struct oid *oid,
		    vfs_data_fn fn, void *ctx);
	/*
	 * Optional: vfs_resolve() done by the source.  An ENOTDIR/ELOOP
	 * error sets *err_no and puts bup's message (without "[Errno
	 * N] ") in msg.  NULL: the vfs resolves through the others.
	 */
	int (*resolve)(struct vfs_source *s, const char *path,
		       const struct vfs_list *parent, int want_meta,
		       int follow, struct vfs_list *out, int *err_no,
		       struct buf *msg);
	/* Optional: free the source (called by vfs_free). */
	void (*free)(struct vfs_source *s);
};

struct vfs_source {
	const struct vfs_source_ops *ops;
};

/*
 * A vfs reading through src, which it owns from then on: vfs_free()
 * calls src->ops->free.  Never fails; returns 0.
 */
int vfs_new_source(struct vfs **out, struct vfs_source *src);

/*
 * The source over a local repository: objects from its odb (blobs
 * checked by CRC, as restore and join read them), refs from refs.c.
 * r must outlive the source.  Fails as repo_odb() does.
 */
int vfs_source_local_new(struct vfs_source **out, struct repo *repo);
/* vfs_new_source() over vfs_source_local_new(repo). */
int vfs_new(struct vfs **out, struct repo *repo);
void vfs_free(struct vfs *v);

/* The root item ("/"). */
void vfs_root(struct vfs_item *out);

/*
 * List a directory item: "." first (with the directory's own metadata
 * when want_meta and available), then every entry in bup's order.
 * Subdirectories carry the default directory mode, not their metadata
 * (that is the first record of their own .bupm; see vfs_fill_dir_meta).
 */
int vfs_contents(struct vfs *v, const struct vfs_item *dir, int want_meta,
		 struct vfs_list *out);

/*
 * Resolve path (absolute, or relative to parent, a previous resolution
 * whose first element is the root) into out: one (name, item) per path
 * element, the root first with name "".  A missing final element is
 * returned as VFS_MISSING with 0.  Symlinks along the way are followed;
 * at the end only if `follow`.  Errors: ERR_GENERIC with errno-like
 * *err_no set to ENOTDIR or ELOOP and bup's message; ERR_CORRUPT or
 * ERR_NOTFOUND from the object store.
 */
int vfs_resolve(struct vfs *v, const char *path,
		const struct vfs_list *parent, int want_meta, int follow,
		struct vfs_list *out, int *err_no);

/*
 * The whole text of the last vfs_resolve() ENOTDIR/ELOOP error, which is
 * bup's str(vfs.IOError) (err_last() may be truncated, since bup puts
 * the resolution so far into it); "" if the last call had none.
 */
const char *vfs_resolve_error(struct vfs *v);

/* If a directory item lacks its metadata, fetch it (from its .bupm). */
int vfs_fill_dir_meta(struct vfs *v, struct vfs_item *item);

/* The symlink target of a symlink item. */
int vfs_readlink(struct vfs *v, const struct vfs_item *item,
		 struct buf *out);
/* The size: from metadata if recorded, else computed from the objects. */
int vfs_item_size(struct vfs *v, const struct vfs_item *item,
		  uint64_t *size);

/*
 * Streaming reader of a file's contents (a blob, or a chunked file's
 * fanout tree walked depth-first); memory is one blob plus one tree per
 * level.
 */
struct vfs_file;
int vfs_file_open(struct vfs *v, const struct oid *oid, struct vfs_file **out);
/* Bytes read (0 at the end), or a negative error. */
long long vfs_file_read(struct vfs_file *f, void *buf, size_t len);
/*
 * Zero-copy variant: *data points at the next piece (valid until the
 * next call); returns its length, 0 at the end, or a negative error.
 */
long long vfs_file_next(struct vfs_file *f, const unsigned char **data);
/*
 * Position the reader at byte ofs of the file (at the end if ofs is past
 * it): one tree per fanout level and one blob are read, found by the
 * offsets the entry names encode (FORMAT.md 3.4), never the data before
 * ofs.  Any piece vfs_file_read() held is dropped.  After an error the
 * reader may only be sought again or closed.
 */
int vfs_file_seek(struct vfs_file *f, uint64_t ofs);
/*
 * Read through v from now on: another vfs over the same source data,
 * for callers that hand a reader between threads that each have their
 * own vfs (a vfs, and so a reader, is used by one thread at a time).
 */
void vfs_file_rebind(struct vfs_file *f, struct vfs *v);
void vfs_file_close(struct vfs_file *f);

/*
 * The whole contents of a file (blob or chunked fanout tree), passed to
 * fn piece by piece: the source's join if it has one (a server's one
 * streamed `join` request, no round trip per chunk), else the
 * vfs_file_next() loop.  An error returned by fn stops the stream and
 * is returned; on a remote vfs the connection is then unusable.
 */
int vfs_file_stream(struct vfs *v, const struct oid *oid, vfs_data_fn fn,
		    void *ctx);

/* Default modes for items without metadata (bup's vfs.py). */
#define VFS_DEFAULT_FILE_MODE 0100644
#define VFS_DEFAULT_DIR_MODE 040755
#define VFS_DEFAULT_SYMLINK_MODE 0120755

#endif
