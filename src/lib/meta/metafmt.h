/*
 * Displaying metadata the way bup 0.33.7's listing commands do: the
 * "ls -l" line of metadata.summary_bytes(), xstat.classification_str()
 * and helpers.format_filesize().  Pure formatting into a struct buf; no
 * I/O except the local-time conversion of the mtime (localtime_r, so
 * TZ applies as in bup).
 */
#ifndef CBUP_METAFMT_H
#define CBUP_METAFMT_H

#include <stdint.h>

#include "util/buf.h"
#include "meta/meta.h"

enum metafmt_class {
	METAFMT_CLASS_NONE = 0,
	METAFMT_CLASS_TYPE,     /* --file-type: dir/ sym@ fifo| sock= */
	METAFMT_CLASS_ALL,      /* -F: the same plus exec* */
};

/* bup's xstat.classification_str(): "", "*", "/", "@", "|" or "=". */
const char *metafmt_classification(int64_t mode, int include_exec);

/*
 * bup's helpers.format_filesize(): "%d" below 1024, else "%.1f" and a
 * K/M/G/T/P/E suffix, computed with the same float operations.
 */
void metafmt_filesize(struct buf *out, uint64_t size);

enum metafmt_flags {
	METAFMT_NUMERIC_IDS = 1 << 0,     /* -n */
	METAFMT_HUMAN_READABLE = 1 << 1,  /* --human-readable */
};

/*
 * Append bup's summary_bytes() line (without a newline) for m, shown
 * under `name`:
 *
 *   "%-10s %-11s %11s %16s %s" % (mode, user/group, size, mtime, name)
 *
 * A negative uid or gid stands for Python's None (a synthesized record,
 * bup's augment_item_meta) and prints "?"; a negative size prints "-";
 * devices print "major,minor" (or "?" when rdev is 0).  With
 * classification the indicator follows the name, then " -> target" for
 * a symlink.  m == NULL prints bup's all-"?" line.
 */
void metafmt_summary(struct buf *out, const struct meta *m, const char *name,
		     enum metafmt_class classification, unsigned flags);

/*
 * bup's Metadata.__repr__() ("<<class 'bup.metadata.Metadata'> instance
 * at 0x... mode: ... >"), used inside bup's VFS error texts.  The
 * address is the record's own, as Python prints id(); callers that
 * compare output must mask it.
 */
void metafmt_meta_repr(struct buf *out, const struct meta *m);

#endif
