/*
 * Repositories for unit tests, written through the library (packwriter,
 * tree, commit, refs) in the test's temporary directory: the vfs and
 * fusefs tests read the same kind of save.
 *
 *	struct testrepo t;
 *
 *	testrepo_open(&t);             a new repository, a pack being written
 *	... testrepo_put*(&t, ...) ...
 *	testrepo_close(&t);            the pack closed: the objects readable
 *	... refs_update(t.repo, ...), tests over t.repo ...
 *	repo_free(t.repo);
 *
 * A step that fails is a failed check naming it (the test goes on with
 * whatever id it got, and fails on).  Save names are local times: tests
 * that read them pin the zone with testrepo_tz_utc() and put it back
 * with testrepo_tz_restore().
 */
#ifndef CBUP_TESTREPO_H
#define CBUP_TESTREPO_H

#include <stddef.h>
#include <stdint.h>

#include "meta/meta.h"
#include "store/objsink.h"
#include "store/tree.h"

struct testrepo {
	struct repo *repo;
	struct packwriter *w;
	struct objsink *sink;
};

/* A failed check naming what and the library's message if ret < 0. */
void testrepo_must(int ret, const char *what);

void testrepo_open(struct testrepo *t);
void testrepo_close(struct testrepo *t);

struct oid testrepo_put(struct testrepo *t, enum obj_type type,
			const void *data, size_t len);
/* Writes tb's entries (and clears them, as tree_builder_write does). */
struct oid testrepo_put_tree(struct testrepo *t, struct tree_builder *tb);
/* A save's commit, by "T <t@example.com>" at time (UTC), message "save". */
struct oid testrepo_put_commit(struct testrepo *t, const struct oid *tree,
			       const struct oid *parent, int64_t time);

/*
 * The files a test save holds, put by testrepo_put_files():
 *   big.bup/  chunked "abcdefghij" with bup's 16-digit offset names:
 *             a subtree with "abc" and "defg", then "hij"
 *   ghost     a blob the repository lacks (only its id)
 *   hello     "hello\n"
 *   link      a symlink to "hello"
 *   sub/f     "in sub\n", in a directory without .bupm
 */
struct testrepo_files {
	struct oid big, ghost, hello, link, sub;
};

void testrepo_put_files(struct testrepo *t, struct testrepo_files *f);
/* Adds the five to tb under their tree names (big as "big.bup"). */
void testrepo_add_files(struct tree_builder *tb,
			const struct testrepo_files *f);
/*
 * Puts a .bupm of dir's record then the nr records metas[i] of names[i]
 * (the tree's non-directories in its order) and adds it to tb.
 */
void testrepo_add_bupm(struct testrepo *t, struct tree_builder *tb,
		       const struct meta *dir, const char *const *names,
		       const struct meta *metas, size_t nr);

void testrepo_tz_utc(void);
void testrepo_tz_restore(void);

#endif
