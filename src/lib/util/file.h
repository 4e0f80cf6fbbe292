/*
 * Crash-safe replacement of a file (redis's rdbSave, git's lockfile
 * commit): the new contents are written to a temporary file in the same
 * directory, then file_commit() makes them durable and visible at once:
 * fsync the data, close, rename over the target, fsync the directory so
 * the rename itself survives a crash.  Readers see the old file or the
 * new one, never a mix.
 */
#ifndef CBUP_FILE_H
#define CBUP_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * fsync fd, rename tmp to path, close fd (always closed), fsync path's
 * directory.  Returns 0, or ERR_IO naming the file; on failure tmp is
 * left for the caller to remove.  The rename comes before the close so
 * that a temporary from tmpfile_open() stays locked until it has its
 * final name.
 */
int file_commit(int fd, const char *tmp, const char *path);
/* fsync the directory dir.  0 or ERR_IO naming it. */
int file_fsync_dir(const char *dir);
/* fsync the directory holding path.  0 or ERR_IO. */
int file_fsync_parent(const char *path);

/*
 * The entries of dir whose names end in suffix and do not start with
 * '.', as "dir/name", in directory order (bup's glob of DIR and "*" SUFFIX).
 * A missing dir gives none.  The caller frees each and *out.  Returns 0
 * or a negative error code.
 */
int file_glob_suffix(const char *dir, const char *suffix, char ***out,
		     size_t *nr);
/*
 * Ask the kernel to start writing [off, off + len) of fd to disk now,
 * without waiting (Linux sync_file_range; a no-op elsewhere), so that a
 * later fsync of a large file finds little left to write.  Advisory:
 * errors are ignored, the fsync reports them.
 */
void file_start_writeback(int fd, uint64_t off, uint64_t len);
/*
 * Allocate [off, off + len) of fd's disk space ahead of writes, without
 * changing its size (Linux fallocate FALLOC_FL_KEEP_SIZE; a no-op
 * elsewhere).  Writes into allocated space skip the filesystem's delayed
 * allocation work.  Advisory: errors (no support, no space) are ignored,
 * the writes report them.  Space beyond the end stays allocated until
 * the file is truncated to its size or removed.
 */
void file_preallocate(int fd, uint64_t off, uint64_t len);

#endif
