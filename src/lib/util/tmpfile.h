/*
 * Temporaries a later writer may remove.  A process killed while it
 * writes leaves its temporary behind (a pack-tmp directory may hold a
 * pack with 64 MiB allocated ahead of its end, a bloom temporary is
 * allocated whole); the next writer removes it, but must never remove a
 * live writer's.  So:
 *
 *  - a temporary's name ends in "cbup@HOST-PID-XXXXXX" and an optional
 *    suffix (this host's name, the creator's pid, six random
 *    characters);
 *  - its creator holds an flock on it (on the file, or on the
 *    directory) from its creation until it is renamed or removed, and
 *    checks, once it holds the flock, that the name still refers to
 *    what it created (a sweeper may have removed it in between: then it
 *    starts again with a new name);
 *  - tmpfile_sweep() removes the temporaries named for this host whose
 *    flock it can take: their creator is dead.  Another host's are left
 *    alone (an flock may be local to its host on a network file system),
 *    and so are names without the tag: bup 0.33.7's
 *    (objects/pack-tmp-XXXXXXXX, bup.tmp.bloom, "<target>-XXXXXX/pending")
 *    come with no lock, so whether their writer still runs cannot be
 *    known, and the same holds for older cbup's ("pack-tmp-XX??????",
 *    "<file>.tmp-PID-N").  Those stay until someone removes them.
 *
 * Where flock does not work (some network file systems), the creator
 * goes on without the lock, and sweepers, whose flock fails too, leave
 * its temporaries alone.
 */
#ifndef CBUP_TMPFILE_H
#define CBUP_TMPFILE_H

#define TMPFILE_TAG "cbup@"

/*
 * "<prefix>cbup@HOST-PID-XXXXXX<suffix>" (caller frees); suffix may be
 * NULL.  HOST is gethostname() with characters other than letters,
 * digits, '.', '_' and '-' replaced by '_'.
 */
char *tmpfile_name(const char *prefix, const char *suffix);
/* 1 if a base name ends in this host's tag form followed by suffix. */
int tmpfile_is_ours(const char *name, const char *suffix);
/*
 * Create (O_RDWR, O_EXCL, mode & ~umask) and lock a file named by
 * tmpfile_name(prefix, suffix).  Returns the fd, which holds the lock
 * until it is closed, and the name in *path_out; or a negative error.
 */
int tmpfile_create(const char *prefix, const char *suffix, int mode,
		   char **path_out);
/*
 * tmpfile_create() of "<final>.cbup@HOST-PID-XXXXXX": the lock lasts
 * until the fd is closed (file_commit() closes it after the rename).
 * First sweeps the temporaries of final that dead writers left.
 */
int tmpfile_open(const char *final, int mode, char **tmp_out);
/*
 * The two ends of a file written through tmpfile_open(), for a writer
 * that keeps `fd` and `tmp` and releases them at one exit label:
 * tmpfile_commit() is file_commit() (fsync, rename over path, close,
 * fsync the directory); *fd is closed (-1) either way, and *tmp is
 * freed (NULL) once the rename is done, so that tmpfile_discard() then
 * leaves the new file alone.  tmpfile_discard() closes fd if >= 0 and
 * removes and frees tmp if not NULL: nothing half-written is left.
 */
int tmpfile_commit(int *fd, char **tmp, const char *path);
void tmpfile_discard(int fd, char *tmp);
/*
 * Create and lock the directory "<prefix>cbup@HOST-PID-XXXXXX" (mode
 * 0700).  Returns an fd on it that holds the lock (close it after the
 * directory is removed) and its name in *path_out, or a negative error.
 */
int tmpfile_mkdir(const char *prefix, char **path_out);
/*
 * Remove the temporaries in dir whose names start with prefix (NULL:
 * any) and end in this host's tag form and suffix (NULL: none), and
 * whose flock can be taken: a file is unlinked, a directory emptied of
 * its files and removed.  Errors are ignored (a leftover stays for the
 * next writer).  Returns the number of temporaries removed.
 */
int tmpfile_sweep(const char *dir, const char *prefix, const char *suffix);
/*
 * Try to take the flock of the file fd is open on without waiting:
 * 1 if taken (nobody else holds it), 0 if another holds it, -1 where
 * flock does not work.
 */
int tmpfile_try_lock(int fd);
/* Take the flock, waiting: 0, or -1 where flock does not work. */
int tmpfile_lock(int fd);
/* 1 if path still names the file fd is open on (lstat). */
int tmpfile_still_named(int fd, const char *path);

#endif
