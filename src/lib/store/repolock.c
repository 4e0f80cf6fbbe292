/* The repository's gc lock (repolock.h, FORMAT.md 14). */
#include "store/repolock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/err.h"
#include "store/odb.h"
#include "store/repo.h"
#include "util/util.h"

/* A directory opened read-only to flock it, off the stdio numbers. */
static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_errno("cannot open '%s' to lock it", path);
	if (fd <= 2) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		close(fd);
		if (hi < 0)
			return err_errno("cannot duplicate a descriptor");
		fd = hi;
	}
	return fd;
}

static int do_flock(int fd, int op)
{
	int rc;

	while ((rc = flock(fd, op)) < 0 && errno == EINTR)
		;
	return rc;
}

struct waiter {
	int wait, waited;
	enum repolock_mode mode;
	void (*fn)(void *ctx, enum repolock_mode mode);
	void *ctx;
};

/*
 * flock(fd, op), waiting (and saying so once) if asked to.  0, 1 when
 * the file system has no locks (nothing is held), ERR_LOCKED, ERR_IO.
 */
static int lock_one(int fd, int op, const char *path, struct waiter *w)
{
	int e;

	if (!do_flock(fd, op | LOCK_NB))
		return 0;
	e = errno;
	if (e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS)
		return 1;
	if (e != EWOULDBLOCK)
		return err_errno("cannot lock '%s'", path);
	if (!w->wait)
		return err_set(ERR_LOCKED, "'%s' is locked by %s", path,
			       w->mode == REPOLOCK_GC ?
			       "a running save, get, split or server" :
			       "a running gc");
	if (w->fn && !w->waited++)
		w->fn(w->ctx, w->mode);
	if (do_flock(fd, op) < 0)
		return err_errno("cannot lock '%s'", path);
	return 0;
}

/*
 * Two locks (FORMAT.md 14): objects/ is the lock itself, objects/pack
 * the turnstile in front of it.  A writer passes the turnstile shared
 * and keeps only objects/ shared; gc holds the turnstile exclusive
 * while it waits for objects/ exclusive and until it is done.  So once
 * a gc waits, new writers queue behind it instead of keeping it out for
 * ever (flock alone has no fairness).
 */
int repolock_take(struct repo *r, enum repolock_mode mode, int wait,
		  void (*waiting)(void *ctx, enum repolock_mode mode),
		  void *ctx)
{
	struct waiter w = { wait, 0, mode, waiting, ctx };
	int gate, ret;

	if (mode == REPOLOCK_NONE) {
		repolock_drop(r);
		return 0;
	}
	if (r->lock_mode == (int)mode)
		return 0;
	if (r->lock_fd <= 0) {
		r->lock_fd = open_dir(r->objdir);
		if (r->lock_fd < 0) {
			ret = r->lock_fd;
			r->lock_fd = 0;
			return ret;
		}
	}
	gate = r->gate_fd > 0 ? r->gate_fd : open_dir(r->packdir);
	if (gate < 0)
		return gate;
	ret = lock_one(gate, mode == REPOLOCK_GC ? LOCK_EX : LOCK_SH,
		       r->packdir, &w);
	if (ret >= 0) {
		int main_ret = lock_one(r->lock_fd, mode == REPOLOCK_GC ?
					LOCK_EX : LOCK_SH, r->objdir, &w);

		ret = main_ret < 0 ? main_ret : 0;
	}
	if (mode == REPOLOCK_GC && ret >= 0) {
		r->gate_fd = gate;      /* kept until the gc is done */
	} else {
		close(gate);            /* a writer only passes through */
		if (r->gate_fd == gate)
			r->gate_fd = 0;
	}
	if (ret < 0)
		return ret;
	r->lock_mode = (int)mode;
	/* what an earlier listing saw may be gone now */
	if (mode == REPOLOCK_WRITER && r->odb)
		return odb_refresh(r->odb);
	return 0;
}

void repolock_drop(struct repo *r)
{
	if (r->gate_fd > 0) {
		close(r->gate_fd);
		r->gate_fd = 0;
	}
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
