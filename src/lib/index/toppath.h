/*
 * The top paths of an index run: bup 0.33.7's index.reduce_paths() and
 * helpers.unique_resolved_paths() (lib/bup/index.py, lib/bup/helpers.py),
 * shared by the index updater and the archiver (and the index's print
 * modes), which all walk bupindex from these tops.
 *
 * A path is resolved as bup's resolve_parent() (symlinks of the parent
 * followed, a final symlink kept) and gets a '/' when it is a directory.
 * A path that cannot be lstat()ed is reported through `error` with bup's
 * add_error text ("CALLER: [Errno N] ...: b'PATH'") and left out; the
 * run carries on, as bup's.  Nothing here prints or exits.
 */
#ifndef CBUP_TOPPATH_H
#define CBUP_TOPPATH_H

#include <stddef.h>

struct toppath {
	char *rp;     /* resolved, '/' appended for a directory */
	char *path;   /* as given, '/' appended when rp has one */
};

/* Receives bup's add_error() text of a path left out; may be NULL. */
typedef void (*toppath_error_fn)(void *ctx, const char *msg);

/*
 * bup's _slashappend_or_add_error(resolve_parent(p), caller): the
 * resolved path (caller frees), or NULL after reporting the error.
 */
char *toppath_resolve(const char *p, const char *caller,
		      toppath_error_fn error, void *ctx);

/*
 * bup's reduce_paths(): each of paths[0..n) resolved, those equal to or
 * inside an earlier directory dropped, the rest in reverse byte order
 * of rp.  Returns how many are in *out (toppath_free() them).
 */
size_t toppath_reduce(struct toppath **out, const char *const *paths,
		      size_t n, toppath_error_fn error, void *ctx);

void toppath_free(struct toppath *t, size_t n);

#endif
