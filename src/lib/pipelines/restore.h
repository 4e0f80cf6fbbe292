/*
 * The restorer: saved paths from the VFS (FORMAT.md 6.2) back into
 * files, as bup 0.33.7's `bup restore` makes them.  The vfs may be a
 * local repository's or a server's (client_vfs, FORMAT.md 7.3): the
 * walk is the same, file contents come through vfs_file_stream().
 *
 * Directories are created first and get their metadata after their
 * contents (so times and read-only modes stick), files are streamed
 * blob by blob (handed to the writer thread, restore_writer.h, unless
 * --sparse or threads == 0), hard links are re-created from the
 * recorded targets (FORMAT.md 5.6).
 *
 * Safety: names come from trees, which are untrusted input.  A name
 * that is empty, "." or "..", or contains a slash is refused, and
 * everything is made relative to directory descriptors opened without
 * following a symlink (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
 * or O_NOFOLLOW), so nothing is ever written outside the target
 * directory, nor any metadata applied there, even if symlinks are
 * planted on the way or swapped in while the restore runs.
 *
 * Errors: bup records most problems and carries on (add_error); those
 * go to opts->error, worded as bup's, and the restore goes on.
 * restore_run() returns a negative enum err_code only when it cannot
 * start (the target cannot be opened); the writer thread is joined
 * before it returns.  Nothing is printed: the lines bup prints come
 * through the callbacks.  opts->error may be called from the writer
 * thread (metadata warnings of the files it finishes): it must be
 * thread-safe.  Not otherwise thread-safe (a vfs is not).
 */
#ifndef CBUP_RESTORE_H
#define CBUP_RESTORE_H

#include <regex.h>
#include <stddef.h>

struct vfs;

/* --map-user, --map-group, --map-uid, --map-gid: OLD=NEW pairs. */
enum restore_map_kind {
	RESTORE_MAP_USER,
	RESTORE_MAP_GROUP,
	RESTORE_MAP_UID,
	RESTORE_MAP_GID,
	RESTORE_MAP_NR
};

struct restore_map {
	char **old, **new;
	size_t nr, alloc;
};

struct restore_opts {
	/*
	 * The target, opened once (its last component never followed);
	 * target_msg names it in messages (an absolute path, as bup's
	 * links name their source).
	 */
	const char *target;
	const char *target_msg;
	int verbosity;             /* -1 quiet, 0, 1 dirs, 2 everything */
	int sparse;                /* zero runs of 512 bytes become holes */
	int numeric_ids;
	int threads;               /* 0: no writer thread */
	const regex_t *exclude;    /* --exclude-rx, matched unanchored */
	size_t nr_exclude;
	struct restore_map maps[RESTORE_MAP_NR];

	/* bup's add_error(msg) */
	void (*error)(void *data, const char *msg);
	/* a line of -v output, without its newline */
	void (*output)(void *data, const char *line);
	/* the count of items restored so far (unless verbosity < 0) */
	void (*progress)(void *data, unsigned long total);
	void *data;
};

void restore_opts_init(struct restore_opts *o);
/* Frees the maps (not the exclude patterns, which the caller owns). */
void restore_opts_release(struct restore_opts *o);
/* Add OLD=NEW (already checked by the caller) to a map. */
void restore_map_add(struct restore_map *m, const char *old,
		     const char *new);

/*
 * bup's valid_restore_path: the path names at least /BRANCH/REVISION.
 * restore_run() reports the others through opts->error.
 */
int restore_valid_path(const char *path);

/*
 * Restore each of paths[0..nr) into opts->target, as bup restores its
 * arguments one after the other; *total is the number of items made.
 * 0 (whatever was reported through opts->error), or a negative enum
 * err_code when the target cannot be opened.
 */
int restore_run(struct vfs *v, const struct restore_opts *opts,
		const char *const *paths, size_t nr, unsigned long *total);

#endif
