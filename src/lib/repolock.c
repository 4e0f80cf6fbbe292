/* The repository's gc lock (repolock.h, FORMAT.md 14). */
#include "repolock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "err.h"
#include "odb.h"
#include "repo.h"
#include "util.h"

/*
 * The lock is the repository's objects/ directory itself, opened
 * read-only: flock(2) works on directories, every repository has one,
 * nothing needs creating (a lock file would be a file that bup's
 * repositories lack, and one more thing to own and leave behind), and
 * any user who can read the repository can lock it.
 */
static int lock_fd(struct repo *r)
{
	int fd;

	if (r->lock_fd > 0)
		return r->lock_fd;
	fd = open(r->objdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_errno("cannot open '%s' to lock it", r->objdir);
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
		return err_errno("cannot lock '%s'", r->objdir);
	if (!wait)
		return err_set(ERR_LOCKED, "'%s' is locked by %s", r->objdir,
			       mode == REPOLOCK_GC ?
			       "a running save, get, split or server" :
			       "a running gc");
	if (waiting)
		waiting(ctx, mode);
	if (do_flock(fd, op) < 0)
		return err_errno("cannot lock '%s'", r->objdir);
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
