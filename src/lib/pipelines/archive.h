/*
 * The archiver: bup 0.33.7's save pipeline (lib/bup/cmd/save.py) without
 * the command line.  It walks bupindex (FORMAT.md 8) for the given
 * sources, hashsplits what changed (3.3-3.4) into the objsink, builds
 * one git tree per archive directory with its `.bupm` (4, 5), names
 * paths by the rules of archpath.h, and writes the commit (6.1).
 *
 * The pipeline: bupindex entries (children before their directory) ->
 * a stack of open archive directories -> file data through the chunker
 * into blobs and fanout trees -> `.bupm` + tree when a directory closes
 * -> root tree -> commit.  Index entries are validated in place (the
 * index is synced before archive_run() returns, also on failure), so
 * the next save reads nothing it does not have to.
 *
 * The caller owns the sink (a packwriter, or the client's writer for -r
 * and reverse mode: "already saved" is then the sink's exists(), the
 * client's cache of the server's indexes), closes it after a successful
 * run, and only then moves the branch.  The parent is taken as given:
 * the caller reads and checks the branch before it starts the sink's
 * worker threads.
 *
 * Nothing here prints or exits.  bup's lines reach the caller through
 * the callbacks of struct archive_opts, formatted as bup prints them
 * (the progress line is left to the caller, from the counters);
 * problems bup records and carries on after (an unreadable or vanished
 * file, a duplicate name) go to `error` and the save goes on without
 * the file.  Fatal errors are returned as a negative enum err_code
 * with err_last() holding the message, after every thread this module
 * started has been joined.  Not thread-safe: one run per options struct.
 */
#ifndef CBUP_ARCHIVE_H
#define CBUP_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

struct objsink;
struct archpath_rules;

enum archive_phase {
	ARCHIVE_READING,     /* the pre-scan of the index, ftotal so far */
	ARCHIVE_READ,        /* the pre-scan is over */
	ARCHIVE_SAVING,      /* a file or chunk was saved */
	ARCHIVE_SAVED,       /* the walk is over */
};

/* save.py's progress counters, in bytes and index entries. */
struct archive_progress {
	enum archive_phase phase;
	uint64_t count;      /* bytes of the files done */
	uint64_t subcount;   /* bytes of the file at hand */
	uint64_t total;      /* bytes to save (the pre-scan's) */
	uint64_t fcount;     /* entries done */
	uint64_t ftotal;     /* entries (the pre-scan's) */
	double tstart;       /* when the walk started (util_now()) */
};

struct archive_opts {
	const char *const *sources;   /* the paths given */
	size_t nr_sources;
	const char *indexfile;        /* .meta and .hlink beside it */
	const struct archpath_rules *rules;   /* NULL: paths as they are */
	int verbose;                  /* bup's -v count */
	long long smaller;            /* skip files of this size and up */
	int threads;                  /* chunker scan threads (0: inline) */
	struct objsink *sink;

	int commit;                   /* write a commit of the tree */
	const struct oid *parent;     /* its parent, or NULL */
	double date;                  /* seconds since the epoch */
	const char *msg;              /* the commit message */
	size_t msglen;

	/* A whole line bup logs to stderr ("...\n"). */
	void (*log)(void *ctx, const char *line);
	/* bup's add_error(): recorded, the save goes on. */
	void (*error)(void *ctx, const char *msg);
	/* Progress; NULL: none, and no pre-scan of the index. */
	void (*progress)(void *ctx, const struct archive_progress *p);
	void *ctx;
};

struct archive_result {
	struct oid tree;
	struct oid commit;
	int have_tree;       /* the tree was written (also if the commit
				then failed) */
	int no_index;        /* ERR_NOTFOUND because INDEXFILE.meta is
				missing: bup's "have you run bup index?" */
};

/*
 * Save the sources: 0 with the tree (and commit) in *out, or a negative
 * error code: ERR_NOTFOUND "cannot access '...'; have you run bup
 * index?" (out->no_index), "cannot find b'PATH'" for a source the index
 * lacks, "nothing to save"; the sink's errors; ERR_CORRUPT for a bad
 * index or metadata file.
 */
int archive_run(struct archive_result *out, const struct archive_opts *o);

#endif
