/* Extended attributes without following symlinks (xattr.h). */
#include "xattr.h"
#include "fs.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>

/*
 * Where the calls go: a path, never followed (l*xattr); a descriptor
 * (f*xattr); or an O_PATH descriptor's /proc/self/fd path, followed
 * (*xattr): it names that inode, a symlink itself if it is one.
 */
struct xt {
	const char *path;
	int fd;
	struct buf proc;
};

static void xt_path(struct xt *t, const char *path)
{
	t->path = path;
	t->fd = -1;
	t->proc = (struct buf)BUF_INIT;
}

/* f*xattr() refuse an O_PATH fd: take its /proc path instead. */
static void xt_fd(struct xt *t, int fd)
{
	xt_path(t, NULL);
	if (plat_fs_is_opath(fd)) {
		plat_fs_proc_path(&t->proc, fd, NULL);
		t->path = t->proc.data;
	} else {
		t->fd = fd;
	}
}

static int xt_done(struct xt *t, int ret)
{
	int e = errno;

	buf_release(&t->proc);
	errno = e;
	return ret;
}

static ssize_t x_list(const struct xt *t, char *list, size_t size)
{
	if (t->fd >= 0)
		return flistxattr(t->fd, list, size);
	if (t->proc.len)
		return listxattr(t->path, list, size);
	return llistxattr(t->path, list, size);
}

static ssize_t x_get(const struct xt *t, const char *name, void *value,
		     size_t size)
{
	if (t->fd >= 0)
		return fgetxattr(t->fd, name, value, size);
	if (t->proc.len)
		return getxattr(t->path, name, value, size);
	return lgetxattr(t->path, name, value, size);
}

static int x_set(const struct xt *t, const char *name, const void *value,
		 size_t size)
{
	if (t->fd >= 0)
		return fsetxattr(t->fd, name, value, size, 0);
	if (t->proc.len)
		return setxattr(t->path, name, value, size, 0);
	return lsetxattr(t->path, name, value, size, 0);
}

static int x_remove(const struct xt *t, const char *name)
{
	if (t->fd >= 0)
		return fremovexattr(t->fd, name);
	if (t->proc.len)
		return removexattr(t->path, name);
	return lremovexattr(t->path, name);
}

/*
 * Size query then read, retried on ERANGE: the list or value may grow
 * between the two calls (pyxattr fails there; retrying is kinder and
 * gives the same answer when nothing changes).
 */
static int list_names(const struct xt *t, struct buf *names)
{
	for (;;) {
		ssize_t n = x_list(t, NULL, 0);

		buf_reset(names);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		buf_grow(names, (size_t)n);
		n = x_list(t, names->data, (size_t)n);
		if (n < 0) {
			if (errno == ERANGE)
				continue;
			return -1;
		}
		buf_setlen(names, (size_t)n);
		return 0;
	}
}

static int get_value(const struct xt *t, const char *name,
		     struct buf *value)
{
	for (;;) {
		ssize_t n;

		buf_reset(value);
		/* Try the current allocation first: most values are small. */
		if (value->alloc > 1) {
			n = x_get(t, name, value->data, value->alloc - 1);
			if (n >= 0) {
				buf_setlen(value, (size_t)n);
				return 0;
			}
			if (errno != ERANGE)
				return -1;
		}
		n = x_get(t, name, NULL, 0);
		if (n < 0)
			return -1;
		buf_grow(value, (size_t)n + 1);
		n = x_get(t, name, value->data, (size_t)n + 1);
		if (n < 0) {
			if (errno == ERANGE)
				continue;
			return -1;
		}
		buf_setlen(value, (size_t)n);
		return 0;
	}
}

int plat_xattr_get_all(const char *path, plat_xattr_fn fn, void *ctx)
{
	struct buf names = BUF_INIT, value = BUF_INIT;
	size_t off = 0;
	int ret = 0;

	if (plat_xattr_list(path, &names) < 0) {
		ret = -1;
		goto out;
	}
	buf_grow(&value, 256);
	while (off < names.len) {
		const char *name = names.data + off;
		size_t nlen = strnlen(name, names.len - off);

		off += nlen + 1;
		if (!nlen)
			continue;
		if (plat_xattr_get(path, name, &value) < 0) {
			/* Gone since the listing: skip, as pyxattr does. */
			if (errno == ENODATA)
				continue;
			ret = -1;
			goto out;
		}
		ret = fn(ctx, name, value.data, value.len);
		if (ret)
			goto out;
	}
out:
	{
		int e = errno;
		buf_release(&names);
		buf_release(&value);
		errno = e;
	}
	return ret;
}

int plat_xattr_list(const char *path, struct buf *names)
{
	struct xt t;

	xt_path(&t, path);
	return list_names(&t, names);
}

int plat_xattr_get(const char *path, const char *name, struct buf *value)
{
	struct xt t;

	xt_path(&t, path);
	return get_value(&t, name, value);
}

int plat_xattr_set(const char *path, const char *name, const void *value,
		   size_t len)
{
	return lsetxattr(path, name, value, len, 0);
}

int plat_xattr_remove(const char *path, const char *name)
{
	return lremovexattr(path, name);
}

int plat_xattr_list_fd(int fd, struct buf *names)
{
	struct xt t;

	xt_fd(&t, fd);
	return xt_done(&t, list_names(&t, names));
}

int plat_xattr_get_fd(int fd, const char *name, struct buf *value)
{
	struct xt t;

	xt_fd(&t, fd);
	return xt_done(&t, get_value(&t, name, value));
}

int plat_xattr_set_fd(int fd, const char *name, const void *value,
		      size_t len)
{
	struct xt t;

	xt_fd(&t, fd);
	return xt_done(&t, x_set(&t, name, value, len));
}

int plat_xattr_remove_fd(int fd, const char *name)
{
	struct xt t;

	xt_fd(&t, fd);
	return xt_done(&t, x_remove(&t, name));
}
