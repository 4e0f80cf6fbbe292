/* Descriptor-relative file system calls (fs.h). */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

/* Set once openat2() said ENOSYS (kernels before 5.6, some sandboxes). */
static int no_openat2;

/* ".." anywhere, or an absolute path: not beneath dirfd. */
static int leaves_dir(const char *path)
{
	const char *p = path;

	if (*p == '/')
		return 1;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

static int open_flags(unsigned flags)
{
	return (flags & PLAT_FS_PATH ? O_PATH : O_RDONLY) | O_DIRECTORY |
	       O_CLOEXEC;
}

/*
 * openat(O_NOFOLLOW | O_DIRECTORY) of a symlink says ENOTDIR; callers
 * want to tell a symlink (ELOOP, as openat2 says) from a file.
 */
int plat_fs_open_dir_nofollow(int dirfd, const char *name, unsigned flags)
{
	struct stat st;
	int fd = openat(dirfd, name, open_flags(flags) | O_NOFOLLOW);

	if (fd < 0 && errno == EACCES && (flags & PLAT_FS_PATH_IF_UNREADABLE))
		fd = openat(dirfd, name, open_flags(PLAT_FS_PATH) | O_NOFOLLOW);
	if (fd < 0 && errno == ENOTDIR &&
	    !fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP;
	return fd;
}

/* The walk of kernels without openat2: one component at a time. */
static int walk(int dirfd, const char *path, unsigned flags)
{
	struct buf name = BUF_INIT;
	const char *p = path;
	int cur = dirfd, fd = -1, e;

	for (;;) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 1 && *p == '.') {
			p++;
			continue;
		}
		buf_reset(&name);
		buf_add(&name, p, n);
		p += n;
		while (*p == '/')
			p++;
		if (!*p) {
			/* the last one ("." when there were none) */
			fd = plat_fs_open_dir_nofollow(cur, name.len ? name.data : ".", flags);
			break;
		}
		fd = plat_fs_open_dir_nofollow(cur, name.data, PLAT_FS_PATH);
		if (fd < 0)
			break;
		if (cur != dirfd)
			close(cur);
		cur = fd;
		fd = -1;
	}
	e = errno;
	if (cur != dirfd)
		close(cur);
	buf_release(&name);
	errno = e;
	return fd;
}

int plat_fs_open_dir(int dirfd, const char *path, unsigned flags)
{
	if (!*path) {
		errno = ENOENT;
		return -1;
	}
	if (leaves_dir(path)) {
		errno = EXDEV;
		return -1;
	}
#ifdef SYS_openat2
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		struct open_how how;
		long fd;

		memset(&how, 0, sizeof(how));
		how.flags = (unsigned long long)open_flags(flags);
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd < 0 && errno == EACCES &&
		    (flags & PLAT_FS_PATH_IF_UNREADABLE)) {
			how.flags = (unsigned long long)open_flags(PLAT_FS_PATH);
			fd = syscall(SYS_openat2, dirfd, path, &how,
				     sizeof(how));
		}
		if (fd >= 0 || errno != ENOSYS)
			return (int)fd;
		__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
	}
#endif
	return walk(dirfd, path, flags);
}

int plat_fs_is_opath(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_PATH);
}

void plat_fs_proc_path(struct buf *out, int fd, const char *name)
{
	buf_reset(out);
	buf_addf(out, "/proc/self/fd/%d", fd);
	if (name)
		buf_addf(out, "/%s", name);
}

int plat_fs_utimens(int fd, const struct timespec ts[2])
{
	struct buf p = BUF_INIT;
	int ret, e;

	if (!futimens(fd, ts))
		return 0;
	if (errno != EBADF || !plat_fs_is_opath(fd))
		return -1;
	plat_fs_proc_path(&p, fd, NULL);
	ret = utimensat(AT_FDCWD, p.data, ts, 0);
	e = errno;
	buf_release(&p);
	errno = e;
	return ret;
}

int plat_fs_chown(int fd, uid_t uid, gid_t gid)
{
	return fchownat(fd, "", uid, gid, AT_EMPTY_PATH);
}

int plat_fs_chmod(int fd, mode_t mode)
{
	struct buf p = BUF_INIT;
	int ret, e;

	if (!fchmod(fd, mode))
		return 0;
	if (errno != EBADF || !plat_fs_is_opath(fd))
		return -1;
	plat_fs_proc_path(&p, fd, NULL);
	ret = chmod(p.data, mode);
	e = errno;
	buf_release(&p);
	errno = e;
	return ret;
}

int plat_fs_open_nofollow(int dirfd, const char *name)
{
	return openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}
