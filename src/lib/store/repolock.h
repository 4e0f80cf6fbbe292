/*
 * The repository's gc lock (FORMAT.md 14): flock(2) on the repository's
 * objects/ directory.  Every cbup command that writes objects or refs
 * holds it shared from before it first asks "does this object exist?"
 * (dedup) until its last ref is written; gc holds it exclusively from
 * the moment it starts judging objects dead until the last old pack is
 * gone.  So no writer can name an object that gc has decided to drop.
 *
 * A waiting gc is not starved by a stream of writers: objects/pack is
 * a turnstile that writers pass shared and gc holds exclusive from
 * before it waits for objects/ until it is done, so writers that come
 * after a waiting gc queue behind it.
 *
 * The kernel releases an flock when its holder dies, however it dies:
 * there is no stale lock to recover, and no lock file to create, own or
 * leave behind (the directory is opened read-only, so anyone who can
 * read the repository can take it).  A file system without locks
 * (ENOLCK, EOPNOTSUPP) gives success with nothing held: there gc is as
 * unsafe as bup's.
 *
 * The lock lives as long as the struct repo (repo_free() drops it).
 */
#ifndef CBUP_REPOLOCK_H
#define CBUP_REPOLOCK_H

struct repo;

enum repolock_mode {
	REPOLOCK_NONE = 0,
	REPOLOCK_WRITER,   /* shared: save, split, get, tag, rm, server */
	REPOLOCK_GC,       /* exclusive: gc */
};

/*
 * Take the lock in `mode` (a holder may move between modes; flock does
 * not convert atomically, so the lock may be briefly free).  With
 * `wait`, block until it is granted, after calling waiting(ctx) once if
 * it is not free at once (for a message); without, fail with
 * ERR_LOCKED.  Taking the writer lock refreshes the repository's odb if
 * it is open: packs it listed before the wait may be gone.  0 or a
 * negative error (ERR_IO naming the lock file).
 */
int repolock_take(struct repo *r, enum repolock_mode mode, int wait,
		  void (*waiting)(void *ctx, enum repolock_mode mode),
		  void *ctx);
/* Drop the lock (a no-op if none is held). */
void repolock_drop(struct repo *r);
/* The mode held by r. */
enum repolock_mode repolock_held(const struct repo *r);

#endif
