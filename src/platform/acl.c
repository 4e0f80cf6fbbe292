/* POSIX.1e ACL access through libacl (acl.h; FORMAT.md 5.4). */
#include "acl.h"
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <acl/libacl.h>

static int read_one(const char *path, acl_type_t type, char **txt,
		    char **num)
{
	acl_t acl = acl_get_file(path, type);
	char *t = NULL, *n = NULL;
	int e;

	*txt = *num = NULL;
	if (!acl)
		return -1;
	t = acl_to_any_text(acl, "", ',', TEXT_ABBREVIATE);
	if (t)
		n = acl_to_any_text(acl, "", ',',
				    TEXT_ABBREVIATE | TEXT_NUMERIC_IDS);
	e = errno;
	acl_free(acl);
	if (!t || !n) {
		if (t)
			acl_free(t);
		errno = e;
		return -1;
	}
	/* Hand out plain malloc'd copies so callers can free() them. */
	*txt = strdup(t);
	*num = strdup(n);
	acl_free(t);
	acl_free(n);
	if (!*txt || !*num) {
		free(*txt);
		free(*num);
		*txt = *num = NULL;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int plat_acl_read(const char *path, int isdir, char *out[4])
{
	int i;

	for (i = 0; i < 4; i++)
		out[i] = NULL;
	/* bup: "if (!acl_extended_file(name))" -- so -1 means "try". */
	if (!acl_extended_file(path))
		return 0;
	if (read_one(path, ACL_TYPE_ACCESS, &out[0], &out[1]) < 0)
		goto fail;
	if (isdir) {
		if (read_one(path, ACL_TYPE_DEFAULT, &out[2], &out[3]) < 0)
			goto fail;
	} else {
		out[2] = strdup("");
		out[3] = strdup("");
		if (!out[2] || !out[3]) {
			errno = ENOMEM;
			goto fail;
		}
	}
	return 1;
fail:
	{
		int e = errno;
		for (i = 0; i < 4; i++) {
			free(out[i]);
			out[i] = NULL;
		}
		errno = e;
		/* bup ignores "not supported" at this stage. */
		if (e == EOPNOTSUPP || e == ENOSYS)
			return 0;
		return -1;
	}
}

static int apply_one(const char *path, acl_type_t type, const char *s)
{
	acl_t acl = acl_from_text(s);
	int ret = 0, e;

	if (!acl)
		return -1;
	if (acl_set_file(path, type, acl))
		ret = -1;
	e = errno;
	acl_free(acl);
	errno = e;
	return ret;
}

int plat_acl_apply(const char *path, const char *access, const char *def)
{
	if (apply_one(path, ACL_TYPE_ACCESS, access) < 0)
		return -1;
	if (def && apply_one(path, ACL_TYPE_DEFAULT, def) < 0)
		return -1;
	return 0;
}

/*
 * acl_set_fd() has no default-ACL form and refuses O_PATH descriptors:
 * those go by the descriptor's /proc path, which names its inode.
 */
static int apply_one_fd(int fd, int opath, acl_type_t type, const char *s)
{
	struct buf p = BUF_INIT;
	acl_t acl = acl_from_text(s);
	int ret = 0, e;

	if (!acl)
		return -1;
	if (type == ACL_TYPE_ACCESS && !opath) {
		if (acl_set_fd(fd, acl))
			ret = -1;
	} else {
		plat_fs_proc_path(&p, fd, NULL);
		if (acl_set_file(p.data, type, acl))
			ret = -1;
	}
	e = errno;
	acl_free(acl);
	buf_release(&p);
	errno = e;
	return ret;
}

int plat_acl_apply_fd(int fd, const char *access, const char *def)
{
	int opath = plat_fs_is_opath(fd);

	if (apply_one_fd(fd, opath, ACL_TYPE_ACCESS, access) < 0)
		return -1;
	if (def && apply_one_fd(fd, opath, ACL_TYPE_DEFAULT, def) < 0)
		return -1;
	return 0;
}
