/*
 * A repository as a read-only FUSE filesystem, as bup 0.33.7's `bup
 * fuse` shows it (lib/bup/cmd/fuse.py over vfs.py, FORMAT.md 6.2): the
 * vfs tree (branches, saves, "latest", .tag), files with their saved
 * metadata when want_meta (bup's --meta), else bup's defaults: the mode
 * from the git mode, uid and gid 0, times 0, nlink 1, the size computed
 * from the objects.  A save directory shows its recorded metadata in
 * both cases, as bup's does once it has listed the branch.
 *
 * The refs are read once, in fusefs_new(): saves made later do not
 * appear (bup: "Right now we don't detect new saves"), and every file
 * is immutable, so the kernel may cache data and attributes.
 *
 * The operations return 0 (or a count) or a negative errno, as FUSE
 * wants them: ENOENT, ENOTDIR, ELOOP from resolution, EACCES for an
 * open for writing (bup's answer), EIO when the repository cannot be
 * read (a missing or corrupt object, a vanished repository); the
 * reason goes to the log hook.  They may be called from many threads
 * at once: each call borrows a worker context (its own odb and vfs,
 * since neither is thread-safe) from a pool that grows to the number
 * of concurrent calls; resolved paths live in one cache bounded in
 * bytes, and each open file reads through up to two seekable readers
 * (vfs_file_seek; two, so that the kernel's concurrent read-ahead
 * requests decode in parallel), of which at most max_readers are held
 * in all, those of the least recently used files being dropped (and
 * reopened on their next read).
 */
#ifndef CBUP_FUSEFS_H
#define CBUP_FUSEFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct repo;
struct vfs_item;
struct fusefs;
struct fusefs_file;

struct fusefs_opts {
	int want_meta;            /* bup's --meta */
	size_t cache_bytes;       /* path cache cap; 0: FUSEFS_CACHE_BYTES */
	size_t max_readers;       /* open readers held; 0: FUSEFS_MAX_READERS */
	/* Optional: each operation (bup's -v "--getattr(path)") */
	void (*log_op)(void *data, const char *op, const char *path);
	/* Optional: why an operation failed with EIO */
	void (*log_error)(void *data, const char *path, const char *msg);
	void *log_data;
};

#define FUSEFS_CACHE_BYTES (16u << 20)
#define FUSEFS_MAX_READERS 256

/*
 * A filesystem over repo (its refs are read now; objects are read
 * through odbs the workers open on repo->objdir, so repo need not
 * outlive this call).  ERR_IO or ERR_CORRUPT from the refs.
 */
int fusefs_new(struct fusefs **out, struct repo *repo,
	       const struct fusefs_opts *o);
void fusefs_free(struct fusefs *fs);

int fusefs_getattr(struct fusefs *fs, const char *path, struct stat *st);
/* fn for "..", then "." and every entry (a '/' in a name becomes '-'). */
typedef int (*fusefs_dir_fn)(void *ctx, const char *name);
int fusefs_readdir(struct fusefs *fs, const char *path, fusefs_dir_fn fn,
		   void *ctx);
/* The target, NUL-terminated and truncated to size - 1 bytes. */
int fusefs_readlink(struct fusefs *fs, const char *path, char *buf,
		    size_t size);
/* flags as open(2)'s: anything but O_RDONLY is EACCES. */
int fusefs_open(struct fusefs *fs, const char *path, int flags,
		struct fusefs_file **out);
/* Bytes read at off (fewer only at the end), or a negative errno. */
long long fusefs_read(struct fusefs *fs, struct fusefs_file *f, char *buf,
		      size_t size, uint64_t off);
void fusefs_release(struct fusefs *fs, struct fusefs_file *f);

/*
 * bup's getattr: st from a resolved item and its size (want_meta: the
 * recorded uid, gid and times, times before 1970 shown as 0).
 */
void fusefs_stat(struct stat *st, const struct vfs_item *it, uint64_t size,
		 int want_meta);

struct fusefs_stats {
	size_t cache_entries, cache_bytes, cache_cap;
	size_t readers, contexts;
};
void fusefs_get_stats(struct fusefs *fs, struct fusefs_stats *st);

struct fusefs_mount_opts {
	const char *mountpoint;
	int foreground;           /* else detach once mounted */
	int debug;                /* libfuse's request trace (foreground) */
	int allow_other;
	unsigned max_threads;     /* 0: 16 */
};

/*
 * Mount fs and serve requests with libfuse's multi-threaded loop until
 * it is unmounted (umount, fusermount -u) or SIGINT, SIGTERM or SIGHUP
 * arrives; then unmount.  0 on a clean end; ERR_GENERIC when the mount
 * fails (libfuse has printed why).
 */
int fusefs_mount(struct fusefs *fs, const struct fusefs_mount_opts *mo);

#endif
