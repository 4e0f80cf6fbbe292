/*
 * Linux extended attributes without following symlinks (llistxattr,
 * lgetxattr, lsetxattr, lremovexattr), with the semantics of pyxattr's
 * get_all(nofollow=True) that bup 0.33.7 uses (FORMAT.md 5.4): every
 * name in the order the kernel lists it, namespace prefix included;
 * a name that vanishes between listing and reading (ENODATA) is
 * skipped.  System-call convention: 0 on success, -1 with errno set.
 */
#ifndef CBUP_PLATFORM_XATTR_H
#define CBUP_PLATFORM_XATTR_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Fill `names` with the NUL-separated name list (each name followed by
 * its NUL); names->len is 0 when there are none.
 */
int plat_xattr_list(const char *path, struct buf *names);

/* Replace `value` with the value of `name`. */
int plat_xattr_get(const char *path, const char *name, struct buf *value);

/*
 * Call fn for each attribute in kernel order.  A non-zero return from
 * fn stops the walk and is returned.  The pointers are valid only
 * during the call.
 */
typedef int (*plat_xattr_fn)(void *ctx, const char *name,
			     const void *value, size_t len);
int plat_xattr_get_all(const char *path, plat_xattr_fn fn, void *ctx);

int plat_xattr_set(const char *path, const char *name, const void *value,
		   size_t len);
int plat_xattr_remove(const char *path, const char *name);

/*
 * The same on the file open as fd (flistxattr ...); an O_PATH fd goes
 * by its /proc/self/fd path, which names its inode, a symlink itself if
 * that is what it was opened on.
 */
int plat_xattr_list_fd(int fd, struct buf *names);
int plat_xattr_get_fd(int fd, const char *name, struct buf *value);
int plat_xattr_set_fd(int fd, const char *name, const void *value,
		      size_t len);
int plat_xattr_remove_fd(int fd, const char *name);

#endif
