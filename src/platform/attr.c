/* Linux inode flags via ioctl (attr.h). */
#include "attr.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef O_LARGEFILE
#define O_LARGEFILE 0
#endif

/*
 * The kernel's FS_IOC_GETFLAGS argument is an int, but FUSE once used
 * a long (linux/fs.h declares long); read into a zeroed long so a
 * filesystem writing 8 bytes cannot corrupt the stack, exactly as bup.
 */
int plat_attr_get(const char *path, unsigned int *flags)
{
	int base = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_LARGEFILE;
	unsigned long v = 0;
	int fd, e;

	fd = open(path, base | O_NOATIME);
	/* Old kernels refuse O_NOATIME on files we do not own. */
	if (fd < 0 && errno == EPERM)
		fd = open(path, base);
	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &v) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	*flags = (unsigned int)v;
	return 0;
}

int plat_attr_get_fd(int fd, unsigned int *flags)
{
	unsigned long v = 0;

	if (ioctl(fd, FS_IOC_GETFLAGS, &v) < 0)
		return -1;
	*flags = (unsigned int)v;
	return 0;
}

int plat_attr_set(const char *path, unsigned int flags)
{
	int fd, e, ret;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_LARGEFILE | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ret = plat_attr_set_fd(fd, flags);
	e = errno;
	close(fd);
	errno = e;
	return ret;
}

/* chattr's modifiable set: see chattr(1) and e2fsprogs' pf.c. */
#define MODIFIABLE (FS_APPEND_FL | FS_COMPR_FL | FS_NODUMP_FL | \
		    FS_EXTENT_FL | FS_IMMUTABLE_FL | FS_JOURNAL_DATA_FL | \
		    FS_SECRM_FL | FS_NOTAIL_FL | FS_UNRM_FL | FS_NOATIME_FL | \
		    FS_DIRSYNC_FL | FS_SYNC_FL | FS_TOPDIR_FL | FS_NOCOW_FL)

/*
 * An O_PATH descriptor takes no ioctl: open its inode through its /proc
 * path as plat_attr_set() opens a path, but without O_NOFOLLOW, which
 * would refuse the magic link itself (the kernel does not follow a
 * symlink met behind it: ELOOP, as O_NOFOLLOW gives).
 */
static int set_through_proc(int fd, unsigned int flags)
{
	struct buf p = BUF_INIT;
	int e, ret = -1, rfd;

	plat_fs_proc_path(&p, fd, NULL);
	rfd = open(p.data, O_RDONLY | O_NONBLOCK | O_LARGEFILE | O_CLOEXEC);
	if (rfd >= 0) {
		ret = plat_attr_set_fd(rfd, flags);
		e = errno;
		close(rfd);
		errno = e;
	}
	e = errno;
	buf_release(&p);
	errno = e;
	return ret;
}

int plat_attr_set_fd(int fd, unsigned int flags)
{
	unsigned long orig = 0;
	unsigned int v;

	v = flags & MODIFIABLE;
	if (ioctl(fd, FS_IOC_GETFLAGS, &orig) < 0) {
		if (errno == EBADF && plat_fs_is_opath(fd))
			return set_through_proc(fd, flags);
		return -1;
	}
	v |= (unsigned int)orig & FS_EXTENT_FL;
	/*
	 * Nothing to change (a restored file usually carries just the
	 * extents flag its new inode already has): skip the SETFLAGS.
	 */
	if (((unsigned int)orig & (MODIFIABLE | FS_EXTENT_FL)) == v)
		return 0;
	if (ioctl(fd, FS_IOC_SETFLAGS, &v) < 0)
		return -1;
	return 0;
}
