/*
 * The midx's and the bloom's common ground (idxsum.h): one way to open
 * and map them and one reader and writer of their idx name lists, so
 * that the two formats differ only where their bytes do.
 */
#include "store/idxsum.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/idx.h"
#include "util/err.h"
#include "util/util.h"

int idxsum_open(const char *path, const char *kind, int writable,
		uint64_t *size)
{
	struct stat st;
	int fd, ret;

	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ?
			err_set(ERR_NOTFOUND, "%s '%s' does not exist", kind,
				path) :
			err_errno("cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		ret = err_errno("cannot stat '%s'", path);
		close(fd);
		return ret;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int idxsum_map(void **map, int fd, size_t len, int writable,
	       const char *path)
{
	/* shared when writable: the changes are the file's, not a copy's */
	void *p = mmap(NULL, len,
		       writable ? PROT_READ | PROT_WRITE : PROT_READ,
		       writable ? MAP_SHARED : MAP_PRIVATE, fd, 0);

	close(fd);
	if (p == MAP_FAILED)
		return err_errno("cannot map '%s'", path);
	*map = p;
	return 0;
}

int idxsum_parse_names(char ***list, size_t *nr, const void *buf,
		       size_t len, const char *name, const char *kind)
{
	char **l;
	size_t n, bad;

	if (idx_parse_names(&l, &n, &bad, buf, len))
		return bad == SIZE_MAX ?
			err_corrupt(name, kind, "idx name list too large") :
			err_corrupt(name, kind, "invalid idx name #%zu", bad);
	*list = l;
	*nr = n;
	return 0;
}

void idxsum_add_name(struct buf *names, const char *path)
{
	const char *slash = strrchr(path, '/');

	/* names are never empty: a separator only between two */
	if (names->len)
		buf_addch(names, '\0');
	buf_addstr(names, slash ? slash + 1 : path);
}

char *idxsum_idx_path(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');

	return slash ? xstrfmt("%.*s/%s", (int)(slash - path), path, name) :
		       xstrdup(name);
}
