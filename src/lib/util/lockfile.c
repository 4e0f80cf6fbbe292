/* Lock files held by flock (lockfile.h). */
#include "util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/util.h"

/*
 * 1 if path names the file open on fd, 0 if not (or if there is none),
 * -1 with errno on an error.  Sets no message: release uses it too.
 */
static int names_fd(int fd, const char *path)
{
	struct stat held, now;

	if (fstat(fd, &held) < 0)
		return -1;
	if (stat(path, &now) < 0)
		return errno == ENOENT ? 0 : -1;
	return now.st_dev == held.st_dev && now.st_ino == held.st_ino;
}

int lockfile_acquire(struct lockfile *l, const char *path, int block)
{
	l->fd = -1;
	l->path = NULL;
	for (;;) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666), r;

		if (fd < 0)
			return err_errno("cannot open lock file '%s'", path);
		while (flock(fd, block ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			errno = e;
			if (e == EWOULDBLOCK)
				return err_set(ERR_LOCKED, "'%s' is locked by "
					       "another process", path);
			if (e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS) {
				err_errno("cannot lock '%s'", path);
				return 1;
			}
			return err_errno("cannot lock '%s'", path);
		}
		/*
		 * The holder before us may have removed the file we waited
		 * on (lockfile_release): ours then locks a file nobody else
		 * will open.  Start again on the one at path.
		 */
		r = names_fd(fd, path);
		if (r > 0) {
			l->fd = fd;
			l->path = xstrdup(path);
			return 0;
		}
		if (r < 0) {
			r = err_errno("cannot stat '%s'", path);
			close(fd);
			return r;
		}
		close(fd);
	}
}

void lockfile_release(struct lockfile *l)
{
	if (l->fd < 0)
		return;
	/* only our own file: someone may have replaced it under us */
	if (names_fd(l->fd, l->path) > 0)
		unlink(l->path);
	close(l->fd);   /* releases the lock */
	l->fd = -1;
	free(l->path);
	l->path = NULL;
}
