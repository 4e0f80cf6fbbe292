/*
 * The filesystem walk of `bup index` / `bup drecurse` (FORMAT.md 8.2,
 * bup's drecurse.py): for each top path, lstat it; a symlink or a file is
 * reported as is; a directory is listed, each name lstat'ed, directory
 * names get a trailing '/', names are sorted in descending byte order and
 * directories are recursed into before they are reported (post-order), so
 * paths come out in strictly descending order.  BUP_DIR, --exclude paths
 * and --exclude-rx matches are skipped entirely; with -x the walk does not
 * descend into directories on another device (they are still reported).
 *
 * Unlike bup it never chdir()s: directories are opened relative to their
 * parent's fd (O_NOFOLLOW), which gives the same race protection.
 *
 * Regular expressions: bup uses Python's re.search; we use POSIX ERE
 * (regcomp REG_EXTENDED) after translating \d \D \w \W \s \S outside
 * bracket expressions.  Differences: no non-greedy quantifiers, lookaround,
 * named groups or (?flags); '.' also matches '\n' (Python's does not);
 * a pattern Python rejects may be accepted and vice versa.
 *
 * Errors (unreadable directory, vanished file) go to opts->error with
 * bup's message text and never stop the walk.
 */
#ifndef CBUP_DRECURSE_H
#define CBUP_DRECURSE_H

#include <regex.h>
#include <stddef.h>
#include <sys/stat.h>

#include "util/buf.h"

struct drecurse_opts {
	int xdev;                   /* -x: stay on each top's filesystem */
	char *bup_dir;              /* skip this directory (normalised) */
	char **excluded;            /* normalised absolute paths */
	size_t nr_excluded, alloc_excluded;
	regex_t *rxs;
	size_t nr_rxs, alloc_rxs;
	char **xdev_exceptions;     /* paths (with '/') -x may enter */
	size_t nr_xdev_exceptions, alloc_xdev_exceptions;
	char *exclude_if_present;   /* skip contents of dirs holding this */
	/* Called for each non-fatal error with bup's text. */
	void (*error)(void *data, const char *msg);
	void *error_data;
	/* private */
	int sorted;
};

#define DRECURSE_OPTS_INIT { 0 }

void drecurse_opts_release(struct drecurse_opts *o);

/*
 * bup's parse_excludes: --exclude PATH (resolved with resolve_parent),
 * --exclude-from FILE (one path per line, stripped, empty lines skipped).
 * Return 0, or ERR_IO when the file cannot be read ("couldn't read").
 */
void drecurse_add_exclude(struct drecurse_opts *o, const char *path);
int drecurse_add_exclude_from(struct drecurse_opts *o, const char *file);
/* bup drecurse with a relative top makes excludes relative (relpath). */
void drecurse_relativize_excludes(struct drecurse_opts *o);
/* --exclude-rx / --exclude-rx-from; ERR_USAGE with the regerror text. */
int drecurse_add_rx(struct drecurse_opts *o, const char *pattern);
int drecurse_add_rx_from(struct drecurse_opts *o, const char *file);
void drecurse_add_xdev_exception(struct drecurse_opts *o, const char *path);

/*
 * Walk `paths`; fn() gets each path (directories with a trailing '/')
 * and its lstat (fstat for top directories).  A non-zero return from fn
 * stops the walk and is returned.
 */
typedef int (*drecurse_fn)(void *data, const char *path, size_t len,
			   const struct stat *st);
int drecurse_walk(struct drecurse_opts *o, const char *const *paths,
		  size_t nr, drecurse_fn fn, void *data);

#endif
