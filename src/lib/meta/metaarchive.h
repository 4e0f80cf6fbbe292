/*
 * bup meta's archives (the archive half of bup 0.33.7's metadata.py):
 * a plain concatenation of metadata objects (FORMAT.md 5.2), each one
 * normally led by a path record; a lone end tag is bup's "empty"
 * object.  Reading them, the path rules of writing and extracting, and
 * extraction itself: every directory opened one component at a time
 * beneath the current one without following a symlink, so that neither
 * an archive nor whoever writes the target meanwhile makes it write or
 * change anything outside.
 */
#ifndef CBUP_METAARCHIVE_H
#define CBUP_METAARCHIVE_H

#include <stddef.h>

#include "meta/meta.h"
#include "util/buf.h"

/* _clean_up_path_for_archive(): the path an object is archived as. */
void metaarchive_clean_path(struct buf *out, const char *p);
/*
 * _clean_up_extract_path(): p without its leading slashes ("." when
 * nothing is left); 0, or -1 for a risky path (absolute, or with a
 * ".." component; bup lets ".." alone through), which is not to be
 * extracted.
 */
int metaarchive_clean_extract_path(struct buf *out, const struct buf *p);

/* Objects read from a descriptor in large pieces. */
struct metaarchive_reader {
	int fd;
	char *name;             /* for messages */
	struct buf b;
	size_t off;
	int eof;
};

/* name NULL: standard input (named "-"). 0, or an error naming it. */
int metaarchive_open(struct metaarchive_reader *a, const char *name);
void metaarchive_close(struct metaarchive_reader *a);
/*
 * bup's _ArchiveIterator over Metadata.read(): 1 with an object in m,
 * 2 for an empty object (bup's None), 0 at the end of the input, or a
 * negative error (a read error, a truncated or malformed object).
 */
int metaarchive_next(struct metaarchive_reader *a, struct meta *m);

enum metaarchive_mode {
	METAARCHIVE_START,      /* --start-extract: make the tree */
	METAARCHIVE_FINISH,     /* --finish-extract: apply the metadata */
	METAARCHIVE_BOTH,       /* --extract */
};

struct metaarchive_extract_opts {
	enum metaarchive_mode mode;
	int verbose;            /* bup's metadata.verbose */
	int symlinks;           /* create symlinks (--symlinks) */
	int numeric_ids;
	/* a -v line: prefix ("", "+ ", "= ") and the path as recorded */
	void (*log)(void *ctx, const char *prefix, const char *path);
	/* a problem bup reports with add_error() and goes on */
	meta_warn_fn warn;
	void *ctx;
};

/*
 * bup's start_extract(), finish_extract() and extract() over the rest
 * of in, relative to the current directory: directories' metadata is
 * applied last, longest path first.  0, or a negative error that
 * stopped it.
 */
int metaarchive_extract(struct metaarchive_reader *in,
			const struct metaarchive_extract_opts *o);

#endif
