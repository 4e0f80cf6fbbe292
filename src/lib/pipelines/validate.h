/*
 * Link checks of a repository, as bup 0.33.7's validate-ref-links
 * (lib/bup/gc.py find_live_objects over git.walk_object) and
 * validate-object-links (lib/bup/cmd/validate_object_links.py) make
 * them.
 *
 * validate_walk_ref() walks everything a ref reaches, depth first and
 * post-order in bup's order (a commit's tree, then its parents last
 * first; a tree's entries last first), and hands every item to a
 * callback, flagged when its object is missing.  Trees and commits are
 * read (from packs or loose objects); blobs named by a tree are only
 * looked up in the packs' indexes, never read.  Each tree and commit is
 * walked once per struct validate_walk, however many refs reach it: the
 * walk keeps their ids in a hash set (bup's live_trees: 20 bytes and a
 * little per tree or commit; blobs are not kept).  With `count_live`
 * set (bup's verbose runs) it also counts the distinct objects seen,
 * blobs through bup's Bloom filter for the repository's object count
 * (bloom_mem_new(), about 4 bytes per object), false positives and all.
 *
 * validate_object_links() reads every tree and commit of every pack,
 * pack by pack in object offset order, and reports each id they name
 * that no pack holds; memory is one pack's offsets at a time.
 *
 * Errors: ERR_CORRUPT or ERR_IO from the object store, ERR_CORRUPT for
 * an object of an unexpected type, with the message naming the object
 * or file.  Not thread-safe.
 */
#ifndef CBUP_VALIDATE_H
#define CBUP_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/oid.h"

struct odb;

/* One object of a ref walk (bup's WalkItem). */
struct validate_item {
	struct oid oid;
	enum obj_type type;   /* OBJ_NONE: a missing ref target */
	int missing;
	unsigned mode;        /* the tree entry's mode, 0 if none */
	/* the path elements, mangled, joined by '/'; npath of them */
	const char *path;
	size_t npath;
	size_t last_off;      /* where the last element starts */
	/* inside a chunked file: its chunk path (first element "") */
	const char *chunk;
	size_t nchunk;
};

typedef int (*validate_item_fn)(void *ctx, const struct validate_item *it,
				uint64_t live_count);

struct validate_walk;

/*
 * A walk over odb.  existing: the repository's object count (sizes the
 * live-object counter); count_live: count distinct objects (the count
 * passed to fn is the number seen before this item).
 */
struct validate_walk *validate_walk_new(struct odb *odb, uint64_t existing,
					int count_live);
void validate_walk_free(struct validate_walk *w);
/*
 * Walk what oid reaches, calling fn for each item; fn's non-zero return
 * stops the walk and is returned.  0 or a negative error code.
 */
int validate_walk_ref(struct validate_walk *w, const struct oid *oid,
		      validate_item_fn fn, void *ctx);

/* 1 if the walk has visited oid as a tree or commit (bup's live_trees). */
int validate_walk_seen(const struct validate_walk *w, const struct oid *oid);

/*
 * bup's path for an item in messages: the path and the chunk path
 * joined by '/'; without a chunk path and with `demangle`, the last
 * element demangled (bup's demangle_name).  Appends to out.
 */
void validate_item_path(struct buf *out, const struct validate_item *it,
			int demangle);
/* The demangled length of the item's last path element (0 if none). */
size_t validate_item_demangled_len(const struct validate_item *it);

/*
 * 1 if every commit reachable from head (through all parents) can be
 * read, 0 with *missing set to the first that cannot (what stops `git
 * rev-list`, and so bup's VFS, inside a branch), or a negative error.
 */
int validate_history_complete(struct odb *odb, const struct oid *head,
			      struct oid *missing);

/*
 * Objects in the idx files of packdir (bup's count_objects), in glob
 * order; before each idx, each(ctx, idx path, i, nr, objects so far) if
 * each is not NULL (bup's verbose "found N objects (i/nr NAME)").
 */
typedef void (*validate_count_fn)(void *ctx, const char *idx, size_t i,
				  size_t nr, uint64_t so_far);
int validate_count_objects(uint64_t *out, const char *packdir,
			   validate_count_fn each, void *ctx);

struct validate_links_cb {
	/* a link from `from` to `missing`, which no pack holds */
	int (*missing)(void *ctx, const struct oid *missing,
		       const struct oid *from);
	/* a tag object, skipped */
	int (*tag)(void *ctx, const struct oid *oid);
	/* after each idx: objects scanned so far of total */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
};

/*
 * Check the links of every tree and commit in the packs of packdir
 * (idx files in directory order, as bup's glob).  Returns the number of
 * broken links, or a negative error code.
 */
long long validate_object_links(struct odb *odb, const char *packdir,
				const struct validate_links_cb *cb,
				void *ctx);

#endif
