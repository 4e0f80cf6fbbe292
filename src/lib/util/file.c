/* Crash-safe file replacement (file.h). */
#include "util/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/util.h"

void file_start_writeback(int fd, uint64_t off, uint64_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
	(void)sync_file_range(fd, (off_t)off, (off_t)len,
			      SYNC_FILE_RANGE_WRITE);
#else
	(void)fd, (void)off, (void)len;
#endif
}

void file_preallocate(int fd, uint64_t off, uint64_t len)
{
#ifdef FALLOC_FL_KEEP_SIZE
	(void)fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
#else
	(void)fd, (void)off, (void)len;
#endif
}

int file_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0 || fsync(fd) < 0)
		ret = err_errno("cannot sync directory '%s'", dir);
	if (fd >= 0)
		close(fd);
	return ret;
}

int file_fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path) +
				     (slash == path)) : xstrdup(".");
	int ret = file_fsync_dir(dir);

	free(dir);
	return ret;
}

int file_commit(int fd, const char *tmp, const char *path)
{
	int ret = 0;

	if (fsync(fd) < 0)
		ret = err_errno("cannot sync '%s'", tmp);
	else if (rename(tmp, path) < 0)
		ret = err_errno("cannot rename '%s' to '%s'", tmp, path);
	if (close(fd) < 0 && !ret)
		ret = err_errno("cannot close '%s'", path);
	return ret ? ret : file_fsync_parent(path);
}

int file_glob_suffix(const char *dir, const char *suffix, char ***out,
		     size_t *nr)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t alloc = 0;

	*out = NULL;
	*nr = 0;
	if (!d)
		return errno == ENOENT ? 0 :
			err_errno("cannot open directory '%s'", dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !str_ends_with(de->d_name, suffix))
			continue;
		ALLOC_GROW(*out, *nr + 1, alloc);
		(*out)[(*nr)++] = xstrfmt("%s/%s", dir, de->d_name);
	}
	closedir(d);
	return 0;
}
