/* Extended attributes without following symlinks (xattr.h). */
#include "xattr.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>

/*
 * Size query then read, retried on ERANGE: the list or value may grow
 * between the two calls (pyxattr fails there; retrying is kinder and
 * gives the same answer when nothing changes).
 */
int plat_xattr_list(const char *path, struct buf *names)
{
	for (;;) {
		ssize_t n = llistxattr(path, NULL, 0);

		buf_reset(names);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		buf_grow(names, (size_t)n);
		n = llistxattr(path, names->data, (size_t)n);
		if (n < 0) {
			if (errno == ERANGE)
				continue;
			return -1;
		}
		buf_setlen(names, (size_t)n);
		return 0;
	}
}

int plat_xattr_get(const char *path, const char *name, struct buf *value)
{
	for (;;) {
		ssize_t n;

		buf_reset(value);
		/* Try the current allocation first: most values are small. */
		if (value->alloc > 1) {
			n = lgetxattr(path, name, value->data,
				      value->alloc - 1);
			if (n >= 0) {
				buf_setlen(value, (size_t)n);
				return 0;
			}
			if (errno != ERANGE)
				return -1;
		}
		n = lgetxattr(path, name, NULL, 0);
		if (n < 0)
			return -1;
		buf_grow(value, (size_t)n + 1);
		n = lgetxattr(path, name, value->data, (size_t)n + 1);
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

int plat_xattr_set(const char *path, const char *name, const void *value,
		   size_t len)
{
	return lsetxattr(path, name, value, len, 0);
}

int plat_xattr_remove(const char *path, const char *name)
{
	return lremovexattr(path, name);
}
