/*
 * bup 0.33.7's listing of VFS paths (lib/bup/ls.py, FORMAT.md 6.2),
 * shared by `ls` and ftp's `ls`: the options as opts_from_cmdline()
 * parses them and the listing as within_repo() writes it.  A directory's
 * contents come sorted by name, anything else (or any path with -d) as
 * one line under its normalized path; "-l" lines are summary_bytes()
 * (metafmt.h); without -l on a terminal each path's lines are
 * columnated.
 *
 * bup quirks kept for byte compatibility:
 * - with -l, a listed commit that has no metadata yet is replaced by its
 *   tree's "." item, so --commit-hash shows the tree id for it; commits
 *   bup already holds with metadata in its VFS cache (branch heads seen
 *   while resolving or listing with metadata) keep the commit id.  A
 *   struct lsfmt remembers those heads across listings, as bup's cache
 *   lives as long as its repository (one ftp session);
 * - the hash of items without an id (/, /.tag, latest) is 40 zeros;
 * - "..", with -a, is the previous element of the path's resolution.
 *
 * Never prints: listing lines go to the caller's out callback, bup's
 * log() lines (errors about a path) to its log callback.  Not
 * thread-safe (a vfs is not).
 */
#ifndef CBUP_LSFMT_H
#define CBUP_LSFMT_H

#include "util/buf.h"
#include "meta/metafmt.h"
#include "util/opt.h"
#include "vfs/vfs.h"

/* ls's optspec (bup's ls.optspec). */
extern const char lsfmt_optspec[];

enum lsfmt_hidden { LSFMT_HIDDEN_NONE, LSFMT_HIDDEN_ALMOST, LSFMT_HIDDEN_ALL };

struct lsfmt_opts {
	int show_hash, commit_hash, long_fmt, directory;
	enum lsfmt_hidden show_hidden;
	enum metafmt_class classification;
	unsigned fmt_flags;             /* enum metafmt_flags */
	const char *const *paths;       /* the arguments, or { pwd } */
	int npaths;
	const char *default_path[1];
};

/*
 * bup's opts_from_cmdline(argv, pwd=pwd): parse argv (argv[0] is the
 * command's name) with lsfmt_optspec into o (release it with
 * opt_release() in every case; out->paths points into it) and fill
 * out.  Returns opt_parse()'s result: on OPT_USAGE or OPT_ERROR the
 * caller prints o->usage (and o->error) as bup's Options.usage does.
 */
int lsfmt_parse(struct lsfmt_opts *out, struct opts *o, int argc,
		const char **argv, const char *pwd);

struct lsfmt_output {
	/* bytes for stdout */
	void (*out)(void *ctx, const char *data, size_t len);
	/* one whole line (with its newline) for bup's log(), stderr */
	void (*log)(void *ctx, const char *line);
	void *ctx;
	int tty;          /* bup's istty1: columnate lines without -l */
	int width;        /* for columnating: opt_tty_width() */
};

struct lsfmt;

/* A lister over v (borrowed: it must outlive the lister). */
struct lsfmt *lsfmt_new(struct vfs *v);
void lsfmt_free(struct lsfmt *l);

/*
 * bup's within_repo(repo, opt, out, pwd): each path of o, joined to pwd
 * as posixpath.join does ("" for none).  Returns 0, or 1 when a path
 * was missing or failed (its message went to log).
 */
int lsfmt_run(struct lsfmt *l, const struct lsfmt_opts *o, const char *pwd,
	      const struct lsfmt_output *out);

/*
 * bup's vfs.try_resolve(): vfs_resolve() without following a final
 * symlink, then following it only if its target exists.  Arguments
 * and errors as vfs_resolve().
 */
int lsfmt_try_resolve(struct vfs *v, const char *path,
		      const struct vfs_list *parent, int want_meta,
		      struct vfs_list *res, int *err_no);

/* Python's posixpath.join(a, b) on bytes. */
void lsfmt_join(struct buf *out, const char *a, const char *b);

#endif
