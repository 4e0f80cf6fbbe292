/*
 * Linux inode flags (chattr/lsattr) through FS_IOC_GETFLAGS and
 * FS_IOC_SETFLAGS, opened the way bup 0.33.7's _helpers.c does
 * (FORMAT.md 5.4).  System-call convention: 0, or -1 with errno set.
 */
#ifndef CBUP_PLATFORM_ATTR_H
#define CBUP_PLATFORM_ATTR_H

/*
 * Open with O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_LARGEFILE|O_NOATIME (again
 * without O_NOATIME on EPERM) and read the flags into *flags.
 */
int plat_attr_get(const char *path, unsigned int *flags);
/* plat_attr_get() through a descriptor already open on the file. */
int plat_attr_get_fd(int fd, unsigned int *flags);

/*
 * bup's set_linux_file_attr: keep only the flags chattr can change
 * (acdeijstuADST and nocow), keep the file's extents flag (it cannot be
 * removed), and FS_IOC_SETFLAGS.
 */
int plat_attr_set(const char *path, unsigned int flags);
/*
 * plat_attr_set() through a descriptor already open on the file (an
 * O_PATH one is opened again through its /proc/self/fd path).
 */
int plat_attr_set_fd(int fd, unsigned int flags);

#endif
