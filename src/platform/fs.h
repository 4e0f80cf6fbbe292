/*
 * Descriptor-relative file system calls for writing into a directory
 * that others may write (restore, meta -x): a directory is opened
 * beneath a directory already open, never through a symlink, and what
 * has no descriptor form of its own (chmod of an O_PATH descriptor, of a
 * fifo or a device node) goes through /proc/self/fd/N.  That name is a
 * "magic link" to the open inode itself: the kernel never resolves it
 * any further, not even when the inode is a symlink, so whoever renames
 * or replaces the name meanwhile changes nothing.
 *
 * Descriptors may be O_PATH ones (a directory we may search but not
 * read): the calls below then take the /proc path themselves.
 * System-call convention: 0 (or a descriptor), or -1 with errno set.
 * Thread-safe.
 */
#ifndef CBUP_PLATFORM_FS_H
#define CBUP_PLATFORM_FS_H

#include <sys/types.h>
#include <time.h>

#include "util/buf.h"

enum plat_fs_open_flags {
	/* O_PATH instead of O_RDONLY: enough to be a dirfd, or to fchown */
	PLAT_FS_PATH = 1 << 0,
	/* O_PATH instead of O_RDONLY when O_RDONLY is refused (EACCES) */
	PLAT_FS_PATH_IF_UNREADABLE = 1 << 1,
};

/*
 * Open the directory `path` beneath dirfd (AT_FDCWD: the current
 * directory), O_DIRECTORY | O_CLOEXEC, never following a symlink in any
 * of its components: openat2() with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS where the kernel has it, else one
 * openat(O_NOFOLLOW) per component.  "a/b" walks down; "." is dirfd
 * itself.  A symlink on the way fails with ELOOP, an absolute path or a
 * ".." component with EXDEV, a component that is no directory with
 * ENOTDIR.
 */
int plat_fs_open_dir(int dirfd, const char *path, unsigned flags);

/*
 * openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC):
 * the last component is never followed (a symlink fails with ELOOP),
 * the others are walked as the kernel walks them; with
 * PLAT_FS_PATH_IF_UNREADABLE an unreadable directory is opened O_PATH.
 */
int plat_fs_open_dir_nofollow(int dirfd, const char *name, unsigned flags);

/* True when fd was opened O_PATH. */
int plat_fs_is_opath(int fd);

/* "/proc/self/fd/N", then "/NAME" when name is not NULL, into out. */
void plat_fs_proc_path(struct buf *out, int fd, const char *name);

/* futimens(fd, ts), for an O_PATH fd through its /proc path. */
int plat_fs_utimens(int fd, const struct timespec ts[2]);
/* fchown(fd, uid, gid), for any fd (fchownat AT_EMPTY_PATH). */
int plat_fs_chown(int fd, uid_t uid, gid_t gid);
/* fchmod(fd, mode), for an O_PATH fd through its /proc path. */
int plat_fs_chmod(int fd, mode_t mode);
/*
 * openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC): the object
 * itself, whatever its type, a symlink included.  plat_fs_chmod() of
 * such a descriptor fails with EOPNOTSUPP on a symlink (Linux has no
 * lchmod) instead of following it.
 */
int plat_fs_open_nofollow(int dirfd, const char *name);

#endif
