/*
 * The revision walk: `git rev-list TIP`, the order bup's VFS, rm, get
 * and prune-older see a branch's history in (FORMAT.md 6.3): every
 * commit reachable from the tip through all parents, each once, newest
 * committer date first, commits of equal date in the order the walk
 * reached them (git's date-ordered queue, commit_list_insert_by_date).
 * A binary heap keyed by (date, arrival), an oidset of the commits
 * queued: O(n log n) time, memory linear in the history.
 */
#ifndef CBUP_REVWALK_H
#define CBUP_REVWALK_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

struct commit_info;
struct odb;

struct revwalk_entry {
	struct oid oid;
	struct oid tree;
	int64_t author_time;
	int64_t committer_time;
};

/* Read and parse the commit oid; 0 or a negative error. */
typedef int (*revwalk_read_fn)(void *ctx, const struct oid *oid,
			       struct commit_info *out);

/*
 * The history of tip, in rev-list order, into *out (caller frees);
 * with `until`, the walk stops once that commit has been listed (it is
 * the last entry).  0, or the reader's error (nothing in *out then).
 */
int revwalk_list(const struct oid *tip, const struct oid *until,
		 revwalk_read_fn read, void *ctx,
		 struct revwalk_entry **out, size_t *nr_out);

/*
 * A reader over an object store (ctx: struct odb *): ERR_NOTFOUND for
 * a missing commit, ERR_CORRUPT naming it when it is not a commit.
 */
int revwalk_read_odb(void *odb, const struct oid *oid,
		     struct commit_info *out);

#endif
