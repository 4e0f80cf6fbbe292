/*
 * bup split's pipeline (lib/bup/cmd/split.py): input read in 8 MiB
 * blocks straight into the chunker's buffer -> chunks -> blobs through
 * an object sink (a pack writer, a remote writer, or hash-only for
 * --noop) -> the fanout tree (FORMAT.md 3.3-3.5) -> for a named branch,
 * a tree holding it as "data" -> a commit (6.1).  The command keeps
 * what is about the command line and the refs.
 */
#ifndef CBUP_SPLITTER_H
#define CBUP_SPLITTER_H

#include <stddef.h>
#include <stdint.h>

#include "chunk/hashsplit.h"
#include "store/objsink.h"
#include "util/oid.h"

struct repo;

enum splitter_tree {
	SPLITTER_NO_TREE,       /* -b, --noop, --copy */
	SPLITTER_TREE,          /* -t, -c: the fanout tree itself */
	SPLITTER_DATA_TREE,     /* -n: a tree with the result as "data" */
};

struct splitter_opts {
	struct objsink *sink;   /* NULL: chunks are only cut (--copy) */
	enum splitter_tree tree;
	int fanout;             /* --fanout; 0: bup's default */
	int blobs;              /* -b: blob ids, fanout 0 */
	int keep_boundaries;
	int threads;            /* the chunker scans large reads on these */
	/* -b: each blob's id, in order */
	int (*on_blob)(void *ctx, const struct oid *oid);
	/* --copy: each chunk's bytes, in order */
	int (*on_copy)(void *ctx, const void *data, size_t len);
	/*
	 * Before each read, as bup's readfile_iter: the file's number (0
	 * for the first, or stdin) and the bytes read so far.
	 */
	void (*progress)(void *ctx, int nfile, uint64_t nread);
	void *ctx;
};

struct splitter {
	struct splitter_opts o;
	struct hsplit h;
	struct fantree fantree;
	int nfile;
	uint64_t total;         /* bytes of the chunks emitted */
	uint64_t nread;         /* bytes read, as bup's progress counts */
};

void splitter_init(struct splitter *s, const struct splitter_opts *o);
/* Split what fd holds up to its end, as file number nfile. */
int splitter_fd(struct splitter *s, int fd, int nfile);
/*
 * --git-ids: split the object a line of stdin names, as file number
 * nfile (a name that resolves to nothing is skipped, as bup's git
 * cat-file --batch answers "missing").
 */
int splitter_object(struct splitter *s, struct repo *repo, const char *name,
		    int nfile);
/*
 * The end of the input: the last chunk cut and, unless tree is
 * SPLITTER_NO_TREE, the tree written; *tree_oid gets its id.
 */
int splitter_finish(struct splitter *s, struct oid *tree_oid);
void splitter_release(struct splitter *s);

#endif
