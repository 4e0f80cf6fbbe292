/*
 * The transfer behind `bup get` (bup 0.33.7's lib/bup/cmd/get.py):
 * branches, saves, commits, trees, blobs and tags copied from a source
 * repository into a destination, by the methods --ff, --append, --pick,
 * --force-pick, --new-tag, --replace and --unnamed.
 *
 * Every source and destination is resolved (through the VFS, FORMAT.md
 * 6.2) before anything is written, so obvious mistakes fail early.  Then
 * each item's objects are copied by a walk from its root that skips
 * every object the destination already has together with everything
 * below it (bup's walk_object with stop_at=writer.exists): a
 * destination holding an object is assumed to hold all it refers to,
 * which the post-order of the walk (children before parents, FORMAT.md
 * 2.3) keeps true even for a transfer cut short.  Blobs are copied as
 * their packed bytes (odb_read_raw) when the source stores them whole,
 * without inflating and deflating them again.  --append and --pick make
 * new commits (6.1): the source's author, date and message, our ident
 * as committer at the current time, and the destination as parent.
 * Refs change only at the end, after the pack is complete, each with a
 * compare-and-swap against the value it had when resolved.
 *
 * The destination is a local repository (repo, its vfs and a
 * packwriter) or a server (client and its client_writer); the caller
 * opens both, transfer_run() closes the writer (and sets the pointer to
 * NULL) before it updates any ref, and the caller aborts a writer still
 * set after a failure.  Histories are walked in `git rev-list` order
 * (revwalk.h).  Nothing is printed: the lines bup prints come through
 * the callbacks, in bup's order.  Not thread-safe.
 */
#ifndef CBUP_TRANSFER_H
#define CBUP_TRANSFER_H

#include <stddef.h>

#include "util/oid.h"

struct client;
struct client_writer;
struct odb;
struct packwriter;
struct repo;
struct vfs;

enum transfer_method {
	TRANSFER_FF,
	TRANSFER_APPEND,
	TRANSFER_PICK,
	TRANSFER_FORCE_PICK,
	TRANSFER_NEW_TAG,
	TRANSFER_REPLACE,
	TRANSFER_UNNAMED,
	TRANSFER_NR
};

/* "ff", "append", ... as the options spell them, without "--" */
extern const char *const transfer_method_name[TRANSFER_NR];

/* One --METHOD REF or --METHOD: REF DEST. */
struct transfer_spec {
	enum transfer_method method;
	const char *src;
	const char *dest;          /* NULL: none given */
};

/* What bup logs for each item done (log_item). */
struct transfer_item {
	const char *src;           /* the source as given */
	int dirlike;               /* -v shows it with a '/' appended */
	const struct oid *tag;     /* set for --print-tags */
	const struct oid *tree;    /* set for --print-trees */
	const struct oid *commit;  /* set for --print-commits */
};

struct transfer_opts {
	const struct transfer_spec *specs;
	size_t nr_specs;
	int ignore_missing;        /* --ignore-missing (--unnamed only) */
	/* --append of a tree: the new commit's message */
	const char *tree_message;

	/* a message bup log()s, without newline (a skipped object) */
	void (*note)(void *data, const char *msg);
	/* an item is done (before any ref changes) */
	void (*item)(void *data, const struct transfer_item *it);
	/* a ref update failed (bup carries on): its name and message */
	void (*ref_error)(void *data, const char *ref, const char *msg);
	/* a ref was updated; old is NULL for a new ref */
	void (*ref_updated)(void *data, const char *ref,
			    const struct oid *old, const struct oid *new);
	void *data;
};

struct transfer_src {
	struct repo *repo;
	struct odb *odb;
	struct vfs *vfs;
};

/*
 * The odb and vfs of s->repo, which the caller opened (repo_open), as
 * it words the failure to open a repository itself.  0 or an error.
 */
int transfer_src_init(struct transfer_src *s);
/* Frees the vfs and the repository, and empties s. */
void transfer_src_release(struct transfer_src *s);

struct transfer_dest {
	struct repo *repo;         /* local: the repository, its vfs */
	struct vfs *vfs;
	struct packwriter *pw;     /* and its writer */
	struct client *cli;        /* remote: the server */
	struct client_writer *cw;  /* and its writer */
};

/*
 * Abort what is still open in d (the writer's pack, the connection):
 * after a failure, or from an exit path (d->vfs stays: the caller
 * frees it).
 */
void transfer_dest_abort(struct transfer_dest *d);

/*
 * Run every spec.  Returns the number of errors bup records and carries
 * on after (skipped missing objects, refs not updated), or a negative
 * enum err_code with the message in err_last().  *misuse is set when the
 * failure is a misuse of the command (bup's misuse(): the caller shows
 * the usage before the message), cleared otherwise.
 */
int transfer_run(struct transfer_dest *d, const struct transfer_src *s,
		 const struct transfer_opts *o, int *misuse);

#endif
