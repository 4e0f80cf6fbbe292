/*
 * Rewriting branch history without some saves, as bup 0.33.7's
 * lib/bup/rm.py does for `bup rm` and `bup prune-older`:
 *
 *  - a plan (bup's dead_items): each path is resolved through the vfs;
 *    /BRANCH marks the branch for deletion, /BRANCH/SAVE marks that
 *    commit to be dropped from its branch.  Rejected paths become
 *    records in plan->errors, which the caller reports as bup does;
 *    bup proceeds with nothing when there is any;
 *  - rewrite_write() (bup's filter_branch per branch): commits older
 *    than the oldest dropped one stay as they are; every later commit
 *    that survives is written again (same tree, idents, dates and
 *    message, FORMAT.md 6.4; commit_format_sigs()) on top of the new
 *    parent, all into one new pack.  A branch left with no commit is
 *    deleted.  No ref is touched: the result lists the ref updates;
 *  - rewrite_apply() makes one update, against the value the plan
 *    started from, so that a failure before the refs change leaves the
 *    repository as it was, and a ref moved meanwhile is not clobbered.
 *
 * Nothing is deleted from the packs: gc (gc.h) reclaims the space.
 *
 * Histories are walked in `git rev-list` order (revwalk.h).  Functions
 * return 0 or a negative enum err_code with the message in err_last().
 * Not thread-safe (a vfs is not).
 */
#ifndef CBUP_REWRITE_H
#define CBUP_REWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

struct odb;
struct repo;
struct vfs;

/* A branch to delete (nr_drop == 0) or to rewrite without drop[]. */
struct rewrite_branch {
	char *name;          /* without "refs/heads/" */
	struct oid head;     /* the tip the plan saw */
	struct oid *drop;
	size_t nr_drop, alloc_drop;
};

/* Why a path was rejected; the caller words the message as bup. */
enum rewrite_error_kind {
	REWRITE_ERR_RESOLVE,  /* the vfs failed: msg (bup's str(IOError)) */
	REWRITE_ERR_MISSING,  /* resolved (the elements found, joined by
				 '/') ends in one that does not exist */
	REWRITE_ERR_LATEST,   /* BRANCH/latest */
	REWRITE_ERR_UNKNOWN,  /* neither a branch nor a save */
};

struct rewrite_error {
	enum rewrite_error_kind kind;
	char *path;          /* as given */
	char *resolved;      /* REWRITE_ERR_MISSING */
	char *msg;           /* REWRITE_ERR_RESOLVE */
};

struct rewrite_plan {
	struct rewrite_branch *dead;    /* branches to delete */
	size_t nr_dead, alloc_dead;
	struct rewrite_branch *saves;   /* branches losing saves */
	size_t nr_saves, alloc_saves;
	struct rewrite_error *errors;
	size_t nr_errors, alloc_errors;
};

void rewrite_plan_init(struct rewrite_plan *p);
void rewrite_plan_release(struct rewrite_plan *p);

/*
 * bup's dead_items() for one path (absolute, or relative to the root).
 * Removing a branch cancels the save removals planned on it, and later
 * saves of a branch already being removed are ignored, as bup.  Returns
 * 0, or 1 when the path was rejected (a record added to p->errors).
 */
int rewrite_plan_add(struct rewrite_plan *p, struct vfs *v,
		     const char *path);

/* One ref change: delete, or move from old to new. */
struct rewrite_update {
	char *ref;           /* "refs/heads/NAME" */
	struct oid old, new;
	int delete;
};

struct rewrite_result {
	struct rewrite_update *u;
	size_t nr, alloc;
};

void rewrite_result_init(struct rewrite_result *res);
void rewrite_result_release(struct rewrite_result *res);

/*
 * Write the new histories of p's branches into a new pack (zlib level
 * `level`, or the repository's setting when < 0; see
 * repo_compression()) and fill res with the updates in bup's order:
 * deletions first, then the rewritten branches.  The pack is written
 * only when some branch loses saves.  On failure the pack is aborted
 * and no ref has changed (release res without applying it).
 */
int rewrite_write(struct rewrite_result *res, struct repo *r,
		  struct odb *odb, const struct rewrite_plan *p, int level);

/* Make one update against its old value (refs_update/refs_delete). */
int rewrite_apply(struct repo *r, const struct rewrite_update *u);

#endif
