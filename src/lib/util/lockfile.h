/*
 * An exclusive advisory lock held through a lock file (flock(2) on a
 * path next to what it protects), for a read-modify-replace of a file
 * that is swapped by rename (bupindex): two writers that each read the
 * old file and rename their own new one over it lose one's work.
 *
 * The kernel drops an flock when the last descriptor of its holder goes
 * away, however the holder dies, so a killed process leaves no stale
 * lock: a lock file left behind is just a file, taken by the next run.
 * lockfile_release() removes the file while it still holds the lock;
 * lockfile_acquire() therefore checks, once it holds the lock, that the
 * file it locked is the one at the path, and starts again if not.
 */
#ifndef CBUP_LOCKFILE_H
#define CBUP_LOCKFILE_H

struct lockfile {
	int fd;          /* -1: not held */
	char *path;
};

#define LOCKFILE_INIT { -1, NULL }

/*
 * Take the lock on path (created if missing).  With block, wait for its
 * holder; without, return ERR_LOCKED at once if it is held.  Returns 1
 * if the file system has no locks (ENOLCK, EOPNOTSUPP): nothing is
 * held, err_last() says why.  Other errors: ERR_IO naming the file.
 */
int lockfile_acquire(struct lockfile *l, const char *path, int block);
/* Remove the lock file and release the lock; a no-op if not held. */
void lockfile_release(struct lockfile *l);

#endif
