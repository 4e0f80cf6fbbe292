/*
 * Refs (FORMAT.md 1.4): loose refs and packed-refs for reading; updates
 * with git's lock protocol (refs/X.lock O_CREAT|O_EXCL, compare the old
 * value, write, fsync, rename) and a reflog line, as `git update-ref`.
 * A lock left by a cbup that was killed holding it is removed by the
 * next update (refs.c); one left by git or bup is reported (ERR_LOCKED)
 * with what to do.
 */
#ifndef CBUP_REFS_H
#define CBUP_REFS_H

#include "util/oid.h"

struct repo;

/* 0 with the id, or ERR_NOTFOUND.  refname is "refs/heads/x" etc. */
int refs_read(struct repo *r, const char *refname, struct oid *out);

/*
 * Set refname to new_oid if it currently has old_oid (NULL: must not
 * exist; pass `oid_zero` address via `any` = 1 to skip the check).
 * Returns 0, ERR_LOCKED, ERR_EXISTS (value changed under us) or ERR_IO.
 */
int refs_update(struct repo *r, const char *refname,
		const struct oid *new_oid, const struct oid *old_oid,
		int any, const char *msg);
int refs_delete(struct repo *r, const char *refname,
		const struct oid *old_oid);

/* Calls fn for every ref under prefix ("refs/heads/"), sorted by name. */
typedef int (*refs_each_fn)(void *ctx, const char *refname,
			    const struct oid *oid);
int refs_for_each(struct repo *r, const char *prefix, refs_each_fn fn,
		  void *ctx);

/*
 * Refs held in memory, in the order they came: refs_collect() is a
 * refs_each_fn that appends a copy of each to the struct refs_list
 * passed as its ctx; refs_list_release() frees them (the list is then
 * empty again).
 */
struct refs_item {
	char *name;
	struct oid oid;
};

struct refs_list {
	struct refs_item *items;
	size_t nr, alloc;
};
#define REFS_LIST_INIT { NULL, 0, 0 }

int refs_collect(void *ctx, const char *refname, const struct oid *oid);
void refs_list_release(struct refs_list *l);

/*
 * Resolve what a user typed: a full hex id, a full refname, a branch or
 * tag name, or one of those followed by git's ^{tree}, ^{commit}, ^N, ~N
 * suffixes.  0 or ERR_NOTFOUND.
 */
int refs_resolve(struct repo *r, const char *spec, struct oid *out);

/* bup's valid_save_name (FORMAT.md 1.4): 1 if valid. */
int refs_valid_save_name(const char *name);

#endif
