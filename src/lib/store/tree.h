/*
 * Git trees (FORMAT.md 2.1) and bup's name mangling (4.3).
 */
#ifndef CBUP_TREE_H
#define CBUP_TREE_H

#include <stddef.h>

#include "util/buf.h"
#include "store/objsink.h"
#include "util/oid.h"

#define TREE_MODE_BLOB 0100644
#define TREE_MODE_EXEC 0100755
#define TREE_MODE_TREE 040000
#define TREE_MODE_LINK 0120000
#define TREE_MODE_GITLINK 0160000

struct tree_entry {
	unsigned mode;
	const char *name;    /* not NUL-terminated inside the tree buffer */
	size_t namelen;
	struct oid oid;
};

struct tree_iter {
	const unsigned char *p, *end;
};

void tree_iter_init(struct tree_iter *it, const void *buf, size_t len);
/*
 * 1 with the next entry, 0 at the end, ERR_CORRUPT for a malformed
 * entry (bad mode, empty name, missing NUL or id).
 */
int tree_iter_next(struct tree_iter *it, struct tree_entry *e);

/* Git's tree order: names compared bytewise with '/' after dir names. */
int tree_name_cmp(const char *a, size_t alen, unsigned amode,
		  const char *b, size_t blen, unsigned bmode);

struct tree_builder_entry {
	unsigned mode;
	char *name;
	size_t namelen;
	struct oid oid;
};

struct tree_builder {
	struct tree_builder_entry *entries;
	size_t nr, alloc;
	struct buf scratch;
};

void tree_builder_init(struct tree_builder *tb);
void tree_builder_release(struct tree_builder *tb);
void tree_builder_add(struct tree_builder *tb, unsigned mode,
		      const char *name, size_t namelen,
		      const struct oid *oid);
/* Sort in git order, serialise into out (entries stay). */
void tree_builder_serialize(struct tree_builder *tb, struct buf *out);
/* Serialise and write through the sink; then clear the entries. */
int tree_builder_write(struct tree_builder *tb, struct objsink *sink,
		       struct oid *out);

/* mangle_name (FORMAT.md 4.3): appends the tree entry name to out. */
void tree_mangle_name(struct buf *out, const char *name, size_t len,
		      unsigned fs_mode, unsigned git_mode);

enum tree_bup_kind {
	TREE_BUP_NORMAL,
	TREE_BUP_CHUNKED,   /* ".bup", or ".bupm" on a tree: chunked data */
};
/*
 * bup's demangle_name(name, git_mode) (FORMAT.md 4.3): the length of the
 * real name and its kind.  ".bupl" and ".bup" are stripped; so is
 * ".bupm", chunked when the entry is a tree (exactly ".bupm" gives
 * length 0: the directory's own metadata).
 */
size_t tree_demangle_name(const char *name, size_t len, unsigned git_mode,
			  enum tree_bup_kind *kind);

#endif
