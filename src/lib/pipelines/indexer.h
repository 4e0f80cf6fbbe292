/*
 * The index updater: bup 0.33.7's `bup index` (lib/bup/cmd/index.py and
 * lib/bup/index.py) on the formats of FORMAT.md 8.1-8.4, without the
 * command line: update, check, clear, and the entries the print modes
 * list.
 *
 * Update, for each top path of toppath_reduce(): walk the file system
 * (drecurse, strictly descending names) beside the old index iterated
 * over the same subtree, also descending.  Old entries named above the
 * current path no longer exist: they are marked deleted in place.  An
 * entry found in both is refreshed in place when stale (stat data, a new
 * metadata object, HASHVALID cleared up to the root).  A path only the
 * walk knows goes into a second index written beside the first; at the
 * end the two are merged into a fresh file that replaces `bupindex`
 * atomically.  Only stale and new paths have their metadata read, so an
 * unchanged tree costs one lstat per path.
 *
 * An update and a clear hold INDEXFILE.lock (lockfile.h) from before
 * they read the old index until the new one is in place: two runs at
 * once would each rename their own merge over it and lose the other's
 * entries (bup 0.33.7 loses them).  A second run waits for the first.
 *
 * Nothing here prints or exits.  bup's lines reach the caller through
 * the callbacks of struct indexer_opts, formatted as bup prints them;
 * errors bup records and carries on after (add_error) go to `error`,
 * fatal ones are returned as a negative enum err_code with err_last()
 * holding bup's message.  Not thread-safe (one run at a time per
 * options struct).
 */
#ifndef CBUP_INDEXER_H
#define CBUP_INDEXER_H

#include <stddef.h>

struct bindex;
struct bindex_ent;
struct drecurse_opts;

struct indexer_opts {
	int verbose;         /* bup's -v count */
	int check;           /* --check: check both files before merging */
	int check_device;    /* an entry is stale when its device changed */
	int fake_valid;      /* --fake-valid */
	int fake_invalid;    /* --fake-invalid */
	/*
	 * The walk's excludes, -x and the repository to skip; its error
	 * hook is set to `error` by indexer_update().
	 */
	struct drecurse_opts *walk;

	/* A whole line bup logs to stderr ("...\n"). */
	void (*log)(void *ctx, const char *line);
	/* bup's add_error(): recorded, the run goes on. */
	void (*error)(void *ctx, const char *msg);
	/* A progress line: '\r'-ended unless done ('\n'). */
	void (*progress)(void *ctx, int done, const char *line);
	/* -v: a path as it is indexed (bup prints it to stdout). */
	void (*path)(void *ctx, const char *path, size_t len);
	/*
	 * Temporary files exist from add (1) to remove (0): fn(data)
	 * removes them, for a caller that may be interrupted (SIGINT).
	 */
	void (*cleanup)(void *ctx, int add, void (*fn)(void *), void *data);
	void *ctx;
};

/*
 * bup's index.Reader(): open `path` read-only (or with BINDEX_RDWR in
 * flags).  A missing file is an empty index, and so (after bup's
 * warning through log) is a file that does not start with the v7
 * header; *exists says whether the header matched.  Anything else
 * wrong is an error (ERR_IO, ERR_CORRUPT naming the file).  On every
 * return ix can be given to bindex_close().
 */
int indexer_open(struct bindex *ix, int *exists, const char *path,
		 int flags, const struct indexer_opts *o);

/* bup's update_index() of paths[0..n) into indexfile. */
int indexer_update(const struct indexer_opts *o, const char *indexfile,
		   const char *const *paths, size_t n);

/*
 * bup's check_index(): its log lines ("check: ..."; with -v the
 * directories), then ERR_CORRUPT "index check failed: WHAT" after bup's
 * "index error! at NAME" line when an assertion fails.
 */
int indexer_check(const struct indexer_opts *o, const char *indexfile);

/* bup's clear_index(): bupindex, .meta and .hlink removed. */
int indexer_clear(const struct indexer_opts *o, const char *indexfile);

/*
 * bup's Reader.filter() loop of the print modes: for each top path of
 * paths[0..n) (none: the working directory), every entry under it (with
 * modified, only added, modified or deleted ones: bup's -m) as
 * fn(fnctx, prefix, rest, ent), prefix being the path as given and rest
 * the entry's name past the top.  A top with no entry is ERR_NOTFOUND
 * "cannot find b'PATH'".
 */
typedef void (*indexer_list_fn)(void *fnctx, const char *prefix,
				const char *rest,
				const struct bindex_ent *e);
int indexer_list(const struct indexer_opts *o, const char *indexfile,
		 const char *const *paths, size_t n, int modified,
		 indexer_list_fn fn, void *fnctx);

#endif
