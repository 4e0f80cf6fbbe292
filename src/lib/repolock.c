/* The repository's gc lock (repolock.h, FORMAT.md 14). */
#include "repolock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "err.h"
#include "odb.h"
#include "repo.h"
#include "util.h"

#define REPOLOCK_NAME "cbup-gc.lock"

/*
 * Open the lock file: read-write (created if missing), else read-only:
 * flock needs no write access, so users sharing a repository lock the
 * same file whoever created it.  ERR_NOTFOUND when there is none and it
 * cannot be created (a read-only repository).
 */
static int lock_fd(struct repo *r)
{
	char *path;
	int fd;

	if (r->lock_fd > 0)
		return r->lock_fd;
	path = xstrfmt("%s/" REPOLOCK_NAME, r->path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int ret = errno == ENOENT || errno == EACCES ||
			  errno == EROFS || errno == EPERM ?
			err_set(ERR_NOTFOUND, "cannot create lock file '%s': "
				"%s", path, strerror(errno)) :
			err_errno("cannot open lock file '%s'", path);

		free(path);
		return ret;
	}
	free(path);
	/* keep it off the descriptors commands treat as stdio */
	if (fd <= 2) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		close(fd);
		if (hi < 0)
			return err_errno("cannot duplicate lock descriptor");
		fd = hi;
	}
	r->lock_fd = fd;
	return fd;
}

static int do_flock(int fd, int op)
{
	int rc;

	while ((rc = flock(fd, op)) < 0 && errno == EINTR)
		;
	return rc;
}

int repolock_take(struct repo *r, enum repolock_mode mode, int wait,
		  void (*waiting)(void *ctx, enum repolock_mode mode),
		  void *ctx)
{
	int op = mode == REPOLOCK_GC ? LOCK_EX : LOCK_SH;
	int fd, e;

	if (mode == REPOLOCK_NONE) {
		repolock_drop(r);
		return 0;
	}
	if (r->lock_mode == (int)mode)
		return 0;
	fd = lock_fd(r);
	if (fd == ERR_NOTFOUND && mode == REPOLOCK_WRITER) {
		/* nothing can be written here: nothing to protect */
		r->lock_mode = (int)mode;
		return 0;
	}
	if (fd < 0)
		return fd;
	if (!do_flock(fd, op | LOCK_NB))
		goto held;
	e = errno;
	if (e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS) {
		/* no locks here: nothing to hold, nothing to wait for */
		r->lock_mode = (int)mode;
		return 0;
	}
	if (e != EWOULDBLOCK)
		return err_errno("cannot lock '%s/" REPOLOCK_NAME "'",
				 r->path);
	if (!wait)
		return err_set(ERR_LOCKED, "'%s/" REPOLOCK_NAME "' is locked "
			       "by %s", r->path, mode == REPOLOCK_GC ?
			       "a running save, get, split or server" :
			       "a running gc");
	if (waiting)
		waiting(ctx, mode);
	if (do_flock(fd, op) < 0)
		return err_errno("cannot lock '%s/" REPOLOCK_NAME "'",
				 r->path);
held:
	r->lock_mode = (int)mode;
	/* what an earlier listing saw may be gone now */
	if (mode == REPOLOCK_WRITER && r->odb)
		return odb_refresh(r->odb);
	return 0;
}

void repolock_drop(struct repo *r)
{
	if (r->lock_fd > 0) {
		close(r->lock_fd);  /* drops the flock with it */
		r->lock_fd = 0;
	}
	r->lock_mode = REPOLOCK_NONE;
}

enum repolock_mode repolock_held(const struct repo *r)
{
	return (enum repolock_mode)r->lock_mode;
}
