/*
 * cbup get: copy branches, saves, commits, trees, blobs and tags from a
 * source repository (-s, default BUP_DIR) into a destination repository
 * (BUP_DIR, or -r HOST:PATH through the server protocol, FORMAT.md 7),
 * by the methods of bup 0.33.7's lib/bup/cmd/get.py: --ff, --append,
 * --pick, --force-pick, --new-tag, --replace and --unnamed.  Option
 * parsing, usage text, messages, output and exit codes are bup's.
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
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "remote/client.h"
#include "store/commit.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/packwriter.h"
#include "util/pypath.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/revwalk.h"
#include "store/tree.h"
#include "vfs/vfs.h"

int cmd_get(int argc, const char **argv);

/* ---- usage ------------------------------------------------------------ */

/*
 * bup get builds its usage text by hand (not from an optspec): each
 * piece goes through textwrap.fill at the terminal width.  The preamble
 * keeps the indentation of bup's source once its newlines become spaces.
 */
static const char usage_line[] =
	"usage: bup get [-s source] [-r remote] (<--ff|--append|...> REF "
	"[DEST])...";
static const char preamble[] =
	"Transfer data from a source repository to a destination repository\n"
	"    according to the methods specified (--ff, --ff:, --append, etc.).\n"
	"    Both repositories default to BUP_DIR.  A remote destination may be\n"
	"    specified with -r, and data may be pulled from a remote repository\n"
	"    with the related \"bup on HOST get ...\" command.";

static const char *const usage_groups[][2] = {
	{ NULL, "optional arguments:" },
	{ "-h, --help", "show this help message and exit" },
	{ "-v, --verbose",
	  "increase log output (can be specified more than once)" },
	{ "-q, --quiet", "don't show progress meter" },
	{ "-s SOURCE, --source SOURCE",
	  "path to the source repository (defaults to BUP_DIR)" },
	{ "-r REMOTE, --remote REMOTE",
	  "hostname:/path/to/repo of remote destination repository" },
	{ "-t --print-trees", "output a tree id for each ref set" },
	{ "-c, --print-commits", "output a commit id for each ref set" },
	{ "--print-tags", "output an id for each tag" },
	{ "--bwlimit BWLIMIT", "maximum bytes/sec to transmit to server" },
	{ "-0, -1, -2, -3, -4, -5, -6, -7, -8, -9, --compress LEVEL",
	  "set compression LEVEL (default: 1)" },
	{ NULL, "transfer methods:" },
	{ "--ff REF, --ff: REF DEST",
	  "fast-forward dest REF (or DEST) to match source REF" },
	{ "--append REF, --append: REF DEST",
	  "append REF (treeish or committish) to dest REF (or DEST)" },
	{ "--pick REF, --pick: REF DEST",
	  "append single source REF commit to dest REF (or DEST)" },
	{ "--force-pick REF, --force-pick: REF DEST",
	  "--pick, overwriting REF (or DEST)" },
	{ "--new-tag REF, --new-tag: REF DEST",
	  "tag source ref REF as REF (or DEST) in dest unless it already "
	  "exists" },
	{ "--replace, --replace: REF DEST",
	  "overwrite REF (or DEST) in dest with source REF" },
	{ "--unnamed REF",
	  "fetch REF anonymously (without destination ref)" },
};

static void usage_text(struct buf *out)
{
	long w = opt_tty_width();
	char *pre = xstrdup(preamble);

	for (char *p = pre; *p; p++)
		if (*p == '\n')
			*p = ' ';
	opt_textwrap(out, usage_line, w, "", "  ");
	buf_addstr(out, "\n\n");
	opt_textwrap(out, pre, w, "", "");
	buf_addch(out, '\n');
	for (size_t i = 0; i < ARRAY_SIZE(usage_groups); i++) {
		if (!usage_groups[i][0]) {
			buf_addf(out, "\n%s\n", usage_groups[i][1]);
			continue;
		}
		opt_textwrap(out, usage_groups[i][0], w, "  ", "    ");
		buf_addch(out, '\n');
		opt_textwrap(out, usage_groups[i][1], w, "      ", "      ");
		buf_addch(out, '\n');
	}
	free(pre);
}

/* bup's misuse(): usage and "error: MSG" on stderr, exit 1. */
static NORETURN void misuse_buf(const struct buf *msg)
{
	struct buf u = BUF_INIT;

	fflush(stdout);
	usage_text(&u);
	if (msg && msg->len) {
		buf_addstr(&u, "\nerror: ");
		buf_add(&u, msg->data, msg->len);
		buf_addch(&u, '\n');
	}
	write_full(2, u.data, u.len);
	buf_release(&u);
	cli_run_cleanups();
	exit(1);
}

static NORETURN PRINTF(1, 2) void misuse(const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	misuse_buf(&m);
}

/* Anything else fatal: "error: MSG", cleanups, exit 1. */
static NORETURN PRINTF(1, 2) void fail(const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	fflush(stdout);
	buf_addstr(&m, "error: ");
	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	buf_addch(&m, '\n');
	write_full(2, m.data, m.len);
	buf_release(&m);
	cli_run_cleanups();
	exit(1);
}

/* ---- specs and locations --------------------------------------------- */

enum method { M_FF, M_APPEND, M_PICK, M_FORCE_PICK, M_NEW_TAG, M_REPLACE,
	      M_UNNAMED };
static const char *const method_names[] = {
	"ff", "append", "pick", "force-pick", "new-tag", "replace", "unnamed"
};

struct spec {
	enum method method;
	const char *src;
	const char *dest;        /* NULL: none given (yet) */
};

/* find_vfs_item()'s classification of what a path names */
enum kind { K_NONE, K_ROOT, K_TAGS, K_BRANCH, K_SAVE, K_COMMIT, K_TREE,
	    K_BLOB };
static const char *const kind_names[] = {
	"None", "root", "tags", "branch", "save", "commit", "tree", "blob"
};

struct loc {
	enum kind type;          /* K_NONE: does not exist (default_loc) */
	int has_hash;
	struct oid hash;         /* a commit's id for saves and commits */
	char *path;              /* "/BRANCH/..." as resolved; NULL (git:) */
	int git;                 /* a "git:REF" source of --unnamed */
};

struct target {
	struct spec spec;        /* with the implicit destination filled in */
	struct loc src, dest;
	int has_dest;
};

/* One pending object of the copy walk. */
struct frame {
	struct oid oid;
	enum obj_type want;      /* OBJ_NONE: any type */
	int expanded;            /* children pushed; write on the way back */
	enum obj_type type;
	struct buf data;         /* a tree or commit awaiting its write */
};

struct get_ctx {
	int verbose, print_commits, print_trees, print_tags;
	int ignore_missing, compress;
	const char *source, *remote;
	struct spec *specs;
	size_t nr_specs, alloc_specs;
	char **strs;             /* arguments made from "-xyz" */
	size_t nr_strs, alloc_strs;

	struct repo *repo;       /* BUP_DIR: the local destination */
	struct client *cli;      /* -r or reverse mode: the destination */
	struct vfs *dest_vfs;
	struct repo *src_repo;
	struct odb *src_odb;
	struct vfs *src_vfs;

	struct packwriter *pw;
	struct client_writer *cw;
	struct objsink *sink;

	struct frame *stack;
	size_t nr, alloc, inited;
	struct buf raw;
	int errors;              /* bup's saved_errors */
};

static void spec_msg(struct buf *out, const struct spec *s)
{
	if (!s->dest) {
		buf_addf(out, "--%s ", method_names[s->method]);
		cli_path_msg(out, s->src);
		return;
	}
	buf_addf(out, "--%s: ", method_names[s->method]);
	cli_path_msg(out, s->src);
	buf_addch(out, ' ');
	cli_path_msg(out, s->dest);
}

/* misuse(fmt) where fmt has one %s for spec_msg(spec) */
static NORETURN void misuse_spec(const char *before, const struct spec *s,
				 const char *after)
{
	struct buf m = BUF_INIT;

	buf_addstr(&m, before);
	spec_msg(&m, s);
	buf_addstr(&m, after);
	misuse_buf(&m);
}

/* bup's cleanup_vfs_path(): normpath, then absolute. */
static char *cleanup_vfs_path(const char *p)
{
	struct buf n = BUF_INIT;

	/* normpath() keeps a path relative exactly when it was */
	if (p[0] != '/')
		buf_addch(&n, '/');
	pypath_normpath(&n, p);
	return buf_detach(&n, NULL);
}

static int starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

static void loc_release(struct loc *l)
{
	free(l->path);
	memset(l, 0, sizeof(*l));
}

/*
 * repo.resolve(path, parent=..., follow=False, want_meta=False) on the
 * source or the destination.  A VFS error (ENOTDIR, ELOOP) is fatal, as
 * the exception is in bup.
 */
static void resolve(struct get_ctx *g, int on_dest, const char *path,
		    const struct vfs_list *parent, struct vfs_list *out)
{
	int err_no = 0, ret;

	if (on_dest && g->cli) {
		ret = client_resolve(g->cli, path, parent, 0, 0, out, &err_no);
		if (ret < 0)
			fail("%s", err_last());
		return;
	}
	ret = vfs_resolve(on_dest ? g->dest_vfs : g->src_vfs, path, parent, 0,
			  0, out, &err_no);
	if (ret < 0)
		fail("%s", err_no ? vfs_resolve_error(on_dest ? g->dest_vfs
							      : g->src_vfs)
				  : err_last());
}

static void join_names(struct buf *out, const struct vfs_list *res,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_addch(out, '/');
		buf_addstr(out, res->e[i].name);
	}
}

/* bup's find_vfs_item(): 0 with *loc filled, or 1 if nothing is there. */
static int find_vfs_item(struct get_ctx *g, int on_dest, const char *name,
			 struct loc *loc)
{
	struct vfs_list res, parent;
	const struct vfs_entry *leaf;
	struct buf path = BUF_INIT;
	enum kind kind;

	memset(loc, 0, sizeof(*loc));
	vfs_list_init(&res);
	resolve(g, on_dest, name, NULL, &res);
	leaf = &res.e[res.nr - 1];
	switch (leaf->item.kind) {
	case VFS_MISSING:
		vfs_list_release(&res);
		return 1;
	case VFS_ROOT:
		kind = K_ROOT;
		break;
	case VFS_TAGS:
		kind = K_TAGS;
		break;
	case VFS_REVLIST:
		kind = K_BRANCH;
		break;
	case VFS_COMMIT:
		kind = res.nr > 1 && res.e[res.nr - 2].item.kind ==
			VFS_REVLIST ? K_SAVE : K_COMMIT;
		break;
	case VFS_ITEM:
		kind = S_ISDIR(leaf->item.mode) ? K_TREE : K_BLOB;
		break;
	case VFS_CHUNKY:
		kind = K_TREE;
		break;
	case VFS_FAKELINK: {
		/* only "latest" is one: resolve its target beside it */
		struct vfs_list res2;
		vfs_list_init(&parent);
		vfs_list_init(&res2);
		for (size_t i = 0; i + 1 < res.nr; i++) {
			struct vfs_list one = { &res.e[i], 1, 1 };
			vfs_list_copy(&parent, &one);
		}
		resolve(g, on_dest, leaf->item.target, &parent, &res2);
		vfs_list_release(&parent);
		vfs_list_release(&res);
		res = res2;
		leaf = &res.e[res.nr - 1];
		if (leaf->item.kind != VFS_COMMIT)
			fail("unexpected resolution for %s", name);
		kind = K_SAVE;
		break;
	}
	default:
		fail("unexpected resolution for %s", name);
	}
	join_names(&path, &res, res.nr);
	loc->type = kind;
	loc->path = buf_detach(&path, NULL);
	if (leaf->item.kind == VFS_COMMIT) {
		loc->hash = leaf->item.coid;
		loc->has_hash = 1;
	} else if (kind != K_ROOT && kind != K_TAGS) {
		loc->hash = leaf->item.oid;
		loc->has_hash = 1;
	}
	vfs_list_release(&res);
	return 0;
}

/* bup's find_git_item(): a "git:REF" source, read as git cat-file would. */
static int find_git_item(struct get_ctx *g, const char *ref, struct loc *loc)
{
	struct buf b = BUF_INIT;
	enum obj_type type;

	memset(loc, 0, sizeof(*loc));
	if (refs_resolve(g->src_repo, ref, &loc->hash) < 0)
		return 1;
	if (odb_read(g->src_odb, &loc->hash, &type, &b) < 0) {
		buf_release(&b);
		return 1;
	}
	buf_release(&b);
	loc->has_hash = 1;
	loc->git = 1;
	loc->type = type == OBJ_COMMIT ? K_COMMIT : type == OBJ_TREE ? K_TREE
		    : K_BLOB;
	return 0;
}

/* ---- resolving the targets (bup's resolve_*) -------------------------- */

static int resolve_src(struct get_ctx *g, const struct spec *s,
		       struct loc *src, int allow_git, int ignore_missing)
{
	int missing;

	if (starts_with(s->src, "git:")) {
		if (!allow_git)
			misuse_spec("git references not (yet) allowed here ",
				    s, "");
		missing = find_git_item(g, s->src + 4, src);
	} else {
		missing = find_vfs_item(g, 0, s->src, src);
		if (!missing && src->type == K_ROOT)
			misuse_spec("cannot fetch entire repository for ", s,
				    "");
		if (!missing && src->type == K_TAGS)
			misuse_spec("cannot fetch entire /.tag directory for ",
				    s, "");
	}
	if (missing && !ignore_missing)
		misuse_spec("cannot find source for ", s, "");
	return missing;
}

static char *get_save_branch(struct get_ctx *g, const char *path)
{
	struct vfs_list res;
	struct buf b = BUF_INIT;

	vfs_list_init(&res);
	resolve(g, 0, path, NULL, &res);
	if (res.e[res.nr - 1].item.kind == VFS_MISSING) {
		struct buf m = BUF_INIT;
		buf_addstr(&m, "error: cannot access ");
		cli_bytes_repr(&m, res.e[res.nr - 1].name);
		buf_addstr(&m, " in ");
		cli_bytes_repr(&m, path);
		misuse_buf(&m);
	}
	if (res.nr != 3)
		BUG("a save resolves to root, branch, save");
	join_names(&b, &res, res.nr - 1);
	vfs_list_release(&res);
	return buf_detach(&b, NULL);
}

/* Destination strings made here live as long as the command. */
static const char *keep_str(struct get_ctx *g, char *s)
{
	ALLOC_GROW(g->strs, g->nr_strs + 1, g->alloc_strs);
	g->strs[g->nr_strs++] = s;
	return s;
}

static void resolve_branch_dest(struct get_ctx *g, struct target *t)
{
	struct spec *s = &t->spec;
	struct buf m = BUF_INIT;

	if (!s->dest) {
		if (t->src.type == K_BRANCH)
			s->dest = s->src;
		else if (t->src.type == K_SAVE)
			s->dest = keep_str(g, get_save_branch(g, s->src));
		else if (starts_with(t->src.path, "/.tag/"))
			s->dest = s->src;
	}
	if (!s->dest)
		misuse_spec("no destination (implicit or explicit) for ", s,
			    "");
	if (!find_vfs_item(g, 1, s->dest, &t->dest)) {
		if (t->dest.type == K_COMMIT)
			misuse_spec("destination for ", s,
				    " is a tagged commit, not a branch");
		if (t->dest.type != K_BRANCH) {
			buf_addstr(&m, "destination for ");
			spec_msg(&m, s);
			buf_addf(&m, " is a %s, not a branch",
				 kind_names[t->dest.type]);
			misuse_buf(&m);
		}
	} else {
		t->dest.path = cleanup_vfs_path(s->dest);
	}
	if (starts_with(t->dest.path, "/."))
		misuse_spec("destination for ", s,
			    " must be a valid branch name");
	t->has_dest = 1;
}

static void resolve_ff(struct get_ctx *g, struct target *t)
{
	struct buf m = BUF_INIT;

	resolve_src(g, &t->spec, &t->src, 0, 0);
	if (t->src.type == K_TREE)
		misuse_spec("", &t->spec, " is impossible; can only --append "
			    "a tree to a branch");
	if (t->src.type != K_BRANCH && t->src.type != K_SAVE &&
	    t->src.type != K_COMMIT) {
		buf_addstr(&m, "source for ");
		spec_msg(&m, &t->spec);
		buf_addf(&m, " must be a branch, save, or commit, not %s",
			 kind_names[t->src.type]);
		misuse_buf(&m);
	}
	resolve_branch_dest(g, t);
}

static void resolve_append(struct get_ctx *g, struct target *t)
{
	struct buf m = BUF_INIT;

	resolve_src(g, &t->spec, &t->src, 0, 0);
	if (t->src.type != K_BRANCH && t->src.type != K_SAVE &&
	    t->src.type != K_COMMIT && t->src.type != K_TREE) {
		buf_addstr(&m, "source for ");
		spec_msg(&m, &t->spec);
		buf_addf(&m, " must be a branch, save, commit, or tree, not %s",
			 kind_names[t->src.type]);
		misuse_buf(&m);
	}
	resolve_branch_dest(g, t);
}

/* bup's validate_vfs_path(): only /.tag/ of the dot names */
static void validate_vfs_path(const char *p, const struct spec *s)
{
	struct buf m = BUF_INIT;

	if (starts_with(p, "/.") && !starts_with(p, "/.tag/")) {
		buf_addstr(&m, "unsupported destination path ");
		cli_path_msg(&m, p);
		buf_addstr(&m, " in ");
		spec_msg(&m, s);
		misuse_buf(&m);
	}
}

static void resolve_pick(struct get_ctx *g, struct target *t)
{
	struct spec orig = t->spec;
	struct buf m = BUF_INIT;

	resolve_src(g, &t->spec, &t->src, 0, 0);
	if (t->src.type == K_TREE)
		misuse_spec("", &orig, " is impossible; can only --append a "
			    "tree");
	if (t->src.type != K_COMMIT && t->src.type != K_SAVE) {
		spec_msg(&m, &orig);
		buf_addf(&m, " impossible; can only pick a commit or save, "
			 "not %s", kind_names[t->src.type]);
		misuse_buf(&m);
	}
	if (!t->spec.dest) {
		if (starts_with(t->src.path, "/.tag/"))
			t->spec.dest = t->spec.src;
		else if (t->src.type == K_SAVE)
			t->spec.dest = keep_str(g, get_save_branch(g,
								   t->spec.src));
	}
	if (!t->spec.dest)
		misuse_spec("no destination provided for ", &orig, "");
	if (find_vfs_item(g, 1, t->spec.dest, &t->dest)) {
		t->dest.path = cleanup_vfs_path(t->spec.dest);
		validate_vfs_path(t->dest.path, &t->spec);
	} else {
		if (t->dest.type != K_BRANCH &&
		    !starts_with(t->dest.path, "/.tag/"))
			misuse_spec("", &orig, " destination is not a tag or "
				    "branch");
		if (t->spec.method == M_PICK && t->dest.has_hash &&
		    starts_with(t->dest.path, "/.tag/"))
			misuse_spec("cannot overwrite existing tag for ", &orig,
				    " (requires --force-pick)");
	}
	t->has_dest = 1;
}

static void resolve_new_tag(struct get_ctx *g, struct target *t)
{
	struct spec orig = t->spec;

	resolve_src(g, &t->spec, &t->src, 0, 0);
	if (!t->spec.dest && starts_with(t->src.path, "/.tag/"))
		t->spec.dest = t->src.path;
	if (!t->spec.dest)
		misuse_spec("no destination (implicit or explicit) for ", &orig,
			    "");
	if (find_vfs_item(g, 1, t->spec.dest, &t->dest))
		t->dest.path = cleanup_vfs_path(t->spec.dest);
	if (!starts_with(t->dest.path, "/.tag/"))
		misuse_spec("destination for ", &orig, " must be a VFS tag");
	if (t->dest.has_hash)
		misuse_spec("cannot overwrite existing tag for ", &orig,
			    " (requires --replace)");
	t->has_dest = 1;
}

static void resolve_replace(struct get_ctx *g, struct target *t)
{
	struct spec orig = t->spec;
	struct buf m = BUF_INIT;

	resolve_src(g, &t->spec, &t->src, 0, 0);
	if (!t->spec.dest && (starts_with(t->src.path, "/.tag/") ||
			      t->src.type == K_BRANCH))
		t->spec.dest = t->spec.src;
	if (!t->spec.dest)
		misuse_spec("no destination provided for ", &orig, "");
	if (!find_vfs_item(g, 1, t->spec.dest, &t->dest)) {
		if (t->dest.type != K_BRANCH &&
		    !starts_with(t->dest.path, "/.tag/"))
			misuse_spec("", &orig, " impossible; can only "
				    "overwrite branch or tag");
	} else {
		t->dest.path = cleanup_vfs_path(t->spec.dest);
		validate_vfs_path(t->dest.path, &t->spec);
	}
	if (!starts_with(t->dest.path, "/.tag/") &&
	    t->src.type != K_BRANCH && t->src.type != K_SAVE &&
	    t->src.type != K_COMMIT) {
		buf_addf(&m, "cannot overwrite branch with %s for ",
			 kind_names[t->src.type]);
		spec_msg(&m, &orig);
		misuse_buf(&m);
	}
	t->has_dest = 1;
}

/* 0 with the target, 1 if a missing source is skipped (--ignore-missing) */
static int resolve_unnamed(struct get_ctx *g, struct target *t)
{
	if (t->spec.dest)
		misuse_spec("destination name given for ", &t->spec, "");
	return resolve_src(g, &t->spec, &t->src, 1, g->ignore_missing);
}

static struct target *resolve_targets(struct get_ctx *g, size_t *nr_out)
{
	struct target *t = xcalloc(g->nr_specs ? g->nr_specs : 1, sizeof(*t));
	size_t nr = 0;

	for (size_t i = 0; i < g->nr_specs; i++) {
		struct target *cur = &t[nr];

		cur->spec = g->specs[i];
		switch (cur->spec.method) {
		case M_FF:
			resolve_ff(g, cur);
			break;
		case M_APPEND:
			resolve_append(g, cur);
			break;
		case M_PICK:
		case M_FORCE_PICK:
			resolve_pick(g, cur);
			break;
		case M_NEW_TAG:
			resolve_new_tag(g, cur);
			break;
		case M_REPLACE:
			resolve_replace(g, cur);
			break;
		case M_UNNAMED:
			if (resolve_unnamed(g, cur)) {
				loc_release(&cur->src);
				continue;
			}
			break;
		}
		nr++;
	}
	/* the same tag twice needs --replace or --force-pick */
	for (size_t i = 0; i < nr; i++) {
		const char *p = t[i].has_dest ? t[i].dest.path : NULL;
		int seen = 0;

		if (!starts_with(p, "/.tag/"))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = t[j].has_dest && !strcmp(t[j].dest.path, p);
		if (seen && t[i].spec.method != M_REPLACE &&
		    t[i].spec.method != M_FORCE_PICK) {
			struct buf m = BUF_INIT;
			buf_addstr(&m, "cannot overwrite tag ");
			cli_path_msg(&m, p);
			buf_addstr(&m, " via ");
			spec_msg(&m, &t[i].spec);
			misuse_buf(&m);
		}
	}
	*nr_out = nr;
	return t;
}

/* ---- copying objects -------------------------------------------------- */

static int dest_exists(struct get_ctx *g, const struct oid *oid)
{
	if (g->pw)
		return packwriter_exists(g->pw, oid);
	return g->sink->exists && g->sink->exists(g->sink, oid);
}

static int write_obj(struct get_ctx *g, enum obj_type type, const void *data,
		     size_t len, const struct oid *expect)
{
	struct oid got;
	int ret = objsink_write(g->sink, type, data, len, &got);

	if (!ret && expect && !oid_eq(&got, expect))
		BUG("object %s hashed to %s", oid_hex(expect), oid_hex(&got));
	return ret;
}

static struct frame *push(struct get_ctx *g, const struct oid *oid,
			  enum obj_type want)
{
	struct frame *f;

	ALLOC_GROW(g->stack, g->nr + 1, g->alloc);
	if (g->nr == g->inited)
		buf_init(&g->stack[g->inited++].data, 0);
	f = &g->stack[g->nr++];
	f->oid = *oid;
	f->want = want;
	f->expanded = 0;
	f->type = OBJ_NONE;
	buf_reset(&f->data);
	return f;
}

static int missing_object(struct get_ctx *g, const struct oid *oid)
{
	if (!g->ignore_missing)
		return err_set(ERR_NOTFOUND, "object '%s' is missing",
			       oid_hex(oid));
	cli_log("skipping missing source object %s\n", oid_hex(oid));
	g->errors++;
	return 0;
}

/*
 * A blob the destination lacks: its packed bytes as they are when the
 * source has it whole in a pack, else read and written again.
 */
static int copy_blob(struct get_ctx *g, const struct oid *oid)
{
	enum obj_type type;
	uint32_t crc;
	int ret;

	buf_reset(&g->raw);
	ret = odb_read_raw(g->src_odb, oid, &type, &g->raw, &crc);
	if (ret < 0)
		return ret;
	if (!ret && type == OBJ_BLOB) {
		if (g->pw)
			return packwriter_write_raw(g->pw, oid, g->raw.data,
						    g->raw.len, crc);
		return client_writer_write_raw(g->cw, oid, g->raw.data,
					       g->raw.len, crc);
	}
	buf_reset(&g->raw);
	ret = odb_read(g->src_odb, oid, &type, &g->raw);
	if (ret == ERR_NOTFOUND)
		return missing_object(g, oid);
	if (ret < 0)
		return ret;
	if (type != OBJ_BLOB)
		return err_set(ERR_CORRUPT, "%s object type %s != blob",
			       oid_hex(oid), obj_type_name(type));
	return write_obj(g, type, g->raw.data, g->raw.len, oid);
}

/* Read a frame's object and push what it refers to. */
static int expand(struct get_ctx *g, size_t i)
{
	struct frame *f = &g->stack[i];
	struct oid oid = f->oid;
	enum obj_type want = f->want, type;
	int ret;

	ret = odb_read(g->src_odb, &oid, &type, &f->data);
	if (ret == ERR_NOTFOUND) {
		g->nr--;
		return missing_object(g, &oid);
	}
	if (ret < 0)
		return ret;
	if (type != OBJ_BLOB && type != OBJ_TREE && type != OBJ_COMMIT)
		return err_set(ERR_CORRUPT, "unexpected repository object "
			       "type %s", obj_type_name(type));
	if (want != OBJ_NONE && type != want)
		return err_set(ERR_CORRUPT, "%s object type %s != %s",
			       oid_hex(&oid), obj_type_name(type),
			       obj_type_name(want));
	f->type = type;
	f->expanded = 1;
	if (type == OBJ_BLOB) {
		ret = write_obj(g, type, f->data.data, f->data.len, &oid);
		g->nr--;
		return ret;
	}
	if (type == OBJ_COMMIT) {
		struct commit_info ci;
		struct oid tree;
		if ((ret = commit_parse(&ci, f->data.data, f->data.len)) < 0)
			return ret;
		for (size_t p = 0; p < ci.nr_parents; p++)
			push(g, &ci.parents[p], OBJ_COMMIT);
		tree = ci.tree;
		commit_release(&ci);
		push(g, &tree, OBJ_TREE);
		return 0;
	}
	{
		/* the tree's bytes stay put while the stack may move */
		const char *data = g->stack[i].data.data;
		size_t len = g->stack[i].data.len;
		struct tree_iter it;
		struct tree_entry e;

		tree_iter_init(&it, data, len);
		while ((ret = tree_iter_next(&it, &e)) > 0)
			push(g, &e.oid, S_ISDIR(e.mode) ? OBJ_TREE : OBJ_BLOB);
		if (ret < 0)
			return err_set(ERR_CORRUPT, "tree %s: %s",
				       oid_hex(&oid), err_last());
	}
	return 0;
}

/*
 * bup's get_random_item(): everything reachable from root that the
 * destination lacks, children before parents.
 */
static int copy_reachable(struct get_ctx *g, const struct oid *root)
{
	int ret = 0;

	g->nr = 0;
	push(g, root, OBJ_NONE);
	while (g->nr && !ret) {
		size_t i = g->nr - 1;
		struct frame *f = &g->stack[i];

		if (f->expanded) {
			ret = write_obj(g, f->type, f->data.data, f->data.len,
					&f->oid);
			g->nr--;
			continue;
		}
		if (dest_exists(g, &f->oid)) {
			g->nr--;
			continue;
		}
		if (f->want == OBJ_BLOB) {
			struct oid oid = f->oid;
			g->nr--;
			ret = copy_blob(g, &oid);
			continue;
		}
		ret = expand(g, i);
	}
	return ret;
}

/* ---- commits ---------------------------------------------------------- */

static int read_commit(struct get_ctx *g, const struct oid *oid,
		       struct commit_info *ci)
{
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret = odb_read(g->src_odb, oid, &type, &b);

	if (!ret && type != OBJ_COMMIT)
		ret = err_set(ERR_CORRUPT, "%s is a %s, not a commit",
			      oid_hex(oid), obj_type_name(type));
	if (!ret)
		ret = commit_parse(ci, b.data, b.len);
	buf_release(&b);
	return ret;
}

/*
 * `git rev-list TIP` in the source (revwalk.h: newest committer date
 * first), stopping once `until` has been listed.
 */
static int rev_list(struct get_ctx *g, const struct oid *tip,
		    const struct oid *until, struct oid **out, size_t *nr_out)
{
	struct revwalk_entry *e;
	size_t nr;
	int ret = revwalk_list(tip, until, revwalk_read_odb, g->src_odb, &e,
			       &nr);

	*out = NULL;
	*nr_out = 0;
	if (ret < 0)
		return ret;
	*out = xcalloc(nr ? nr : 1, sizeof(**out));
	for (size_t i = 0; i < nr; i++)
		(*out)[i] = e[i].oid;
	*nr_out = nr;
	free(e);
	return 0;
}

static int64_t now_secs(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec;
}

/*
 * bup's append_commit(): the source commit's tree (copied), author and
 * message, our ident as committer now, and `parent` (or none).
 */
static int append_commit(struct get_ctx *g, const struct oid *commit,
			 const struct oid *parent, struct oid *new_commit,
			 struct oid *tree)
{
	struct commit_info ci;
	struct commit_sig author, committer;
	struct buf text = BUF_INIT, ident = BUF_INIT;
	int64_t now = now_secs();
	int ret;

	if ((ret = read_commit(g, commit, &ci)) < 0)
		return ret;
	*tree = ci.tree;
	if ((ret = copy_reachable(g, &ci.tree)) < 0)
		goto out;
	commit_default_ident(&ident);
	author = (struct commit_sig){ ci.author, ci.author_time,
				      ci.author_tz, 0 };
	committer = (struct commit_sig){ ident.data, now,
					 commit_local_tz(now), 1 };
	commit_format_sigs(&text, &ci.tree, parent, &author, &committer,
			   ci.message, ci.message_len);
	ret = objsink_write(g->sink, OBJ_COMMIT, text.data, text.len,
			    new_commit);
out:
	commit_release(&ci);
	buf_release(&text);
	buf_release(&ident);
	return ret;
}

/* ---- the methods (bup's handle_*) ------------------------------------ */

struct result {
	struct oid id, tree;
	int has_id, has_tree;
};

static int commit_tree(struct get_ctx *g, const struct oid *commit,
		       struct oid *tree)
{
	struct commit_info ci;
	int ret = read_commit(g, commit, &ci);

	if (!ret) {
		*tree = ci.tree;
		commit_release(&ci);
	}
	return ret;
}

static int handle_ff(struct get_ctx *g, const struct target *t,
		     struct result *r)
{
	int ret;

	if (t->dest.has_hash) {
		struct oid *list;
		size_t nr;
		int found;

		if ((ret = rev_list(g, &t->src.hash, &t->dest.hash, &list,
				    &nr)) < 0)
			return ret;
		found = nr && oid_eq(&list[nr - 1], &t->dest.hash);
		free(list);
		if (!found)
			misuse_spec("destination is not an ancestor of source "
				    "for ", &t->spec, "");
	}
	if ((ret = copy_reachable(g, &t->src.hash)) < 0)
		return ret;
	r->id = t->src.hash;
	r->has_id = r->has_tree = 1;
	return commit_tree(g, &t->src.hash, &r->tree);
}

static int handle_append(struct get_ctx *g, const struct target *t,
			 struct result *r)
{
	const struct oid *parent = t->dest.has_hash ? &t->dest.hash : NULL;
	struct oid *list, last;
	size_t nr;
	int ret;

	r->has_id = r->has_tree = 1;
	if (t->src.type == K_TREE) {
		struct buf msg = BUF_INIT, ident = BUF_INIT, text = BUF_INIT;
		int64_t now = now_secs();

		if ((ret = copy_reachable(g, &t->src.hash)) < 0)
			return ret;
		buf_addstr(&msg, "bup save\n\nGenerated by command:\n");
		cli_full_argv_repr(&msg);
		buf_addch(&msg, '\n');
		commit_default_ident(&ident);
		commit_format(&text, &t->src.hash, parent, ident.data, now,
			      commit_local_tz(now), msg.data, msg.len);
		ret = objsink_write(g->sink, OBJ_COMMIT, text.data, text.len,
				    &r->id);
		r->tree = t->src.hash;
		buf_release(&msg);
		buf_release(&ident);
		buf_release(&text);
		return ret;
	}
	if ((ret = rev_list(g, &t->src.hash, NULL, &list, &nr)) < 0)
		return ret;
	/* oldest first, each on top of the previous new one */
	for (size_t i = nr; i-- > 0 && !ret;) {
		ret = append_commit(g, &list[i], parent, &r->id, &r->tree);
		last = r->id;
		parent = &last;
	}
	free(list);
	return ret;
}

static int handle_pick(struct get_ctx *g, const struct target *t,
		       struct result *r)
{
	r->has_id = r->has_tree = 1;
	return append_commit(g, &t->src.hash,
			     t->dest.has_hash ? &t->dest.hash : NULL, &r->id,
			     &r->tree);
}

/* --new-tag, --unnamed, --replace of a tag: the object as it is */
static int handle_copy(struct get_ctx *g, const struct target *t,
		       struct result *r)
{
	r->id = t->src.hash;
	r->has_id = 1;
	return copy_reachable(g, &t->src.hash);
}

static int handle_replace(struct get_ctx *g, const struct target *t,
			  struct result *r)
{
	int ret;

	if (starts_with(t->dest.path, "/.tag/"))
		return handle_copy(g, t, r);
	if ((ret = copy_reachable(g, &t->src.hash)) < 0)
		return ret;
	r->id = t->src.hash;
	r->has_id = r->has_tree = 1;
	return commit_tree(g, &t->src.hash, &r->tree);
}

/* ---- main ------------------------------------------------------------- */

static void log_item(struct get_ctx *g, const struct target *t,
		     const struct oid *tag, const struct oid *tree,
		     const struct oid *commit)
{
	if (tag && g->print_tags)
		printf("%s\n", oid_hex(tag));
	if (tree && g->print_trees)
		printf("%s\n", oid_hex(tree));
	if (commit && g->print_commits)
		printf("%s\n", oid_hex(commit));
	if (g->verbose) {
		struct buf m = BUF_INIT;
		enum kind k = t->src.type;
		size_t n = strlen(t->spec.src);

		cli_path_msg(&m, t->spec.src);
		/* a git: source's type is git's, never one of these */
		if (!t->src.git && (k == K_ROOT || k == K_BRANCH ||
				    k == K_SAVE || k == K_COMMIT ||
				    k == K_TREE) &&
		    (!n || t->spec.src[n - 1] != '/'))
			buf_addch(&m, '/');
		fflush(stdout);
		cli_log("%s\n", m.data);
		buf_release(&m);
	}
}

/* bup's "-xyz": "-x -y -z" in place of the argument */
static void expand_short(struct get_ctx *g, const char ***rem, size_t *nr,
			 size_t *alloc, size_t at)
{
	const char *arg = (*rem)[at];
	size_t n = strlen(arg) - 1;

	ALLOC_GROW(*rem, *nr + n - 1, *alloc);
	memmove(*rem + at + n, *rem + at + 1,
		(*nr - at - 1) * sizeof(**rem));
	for (size_t k = 0; k < n; k++)
		(*rem)[at + k] = keep_str(g, xstrfmt("-%c", arg[1 + k]));
	*nr += n - 1;
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v;

	/* Python's int(): surrounding whitespace, a sign, digits */
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	v = strtol(s, &end, 10);
	if (end == s)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end || v < INT32_MIN || v > INT32_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

static void parse_args(struct get_ctx *g, int argc, const char **argv)
{
	static const char *const one[] = { "--ff", "--append", "--pick",
		"--force-pick", "--new-tag", "--replace", "--unnamed" };
	size_t nr = 0, alloc = 0, i = 0;
	const char **rem = NULL;

	for (int k = 1; k < argc; k++) {
		ALLOC_GROW(rem, nr + 1, alloc);
		rem[nr++] = argv[k];
	}
	g->compress = 1;
	while (i < nr) {
		const char *arg = rem[i];
		size_t need = 0, m;
		const char **vals = rem + i + 1;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			struct buf u = BUF_INIT;
			usage_text(&u);
			fwrite(u.data, 1, u.len, stdout);
			buf_release(&u);
			exit(cli_finish_stdout(0));
		}
		for (m = 0; m < ARRAY_SIZE(one); m++) {
			size_t l = strlen(one[m]);
			if (!strncmp(arg, one[m], l) &&
			    (!arg[l] || (!strcmp(arg + l, ":") &&
					 m != M_UNNAMED)))
				break;
		}
		if (m < ARRAY_SIZE(one))
			need = arg[strlen(one[m])] ? 2 : 1;
		else if (!strcmp(arg, "-s") || !strcmp(arg, "--source") ||
			 !strcmp(arg, "-r") || !strcmp(arg, "--remote") ||
			 !strcmp(arg, "--compress") ||
			 !strcmp(arg, "--bwlimit"))
			need = 1;
		if (need && nr - i - 1 < need)
			misuse("%s argument requires %zu value%s", arg, need,
			       need == 1 ? "" : "s");

		if (m < ARRAY_SIZE(one)) {
			/* bup tests the destination's truth: "" is none */
			struct spec s = { (enum method)m, vals[0],
					  need == 2 && *vals[1] ? vals[1]
								: NULL };
			ALLOC_GROW(g->specs, g->nr_specs + 1, g->alloc_specs);
			g->specs[g->nr_specs++] = s;
		} else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
			g->verbose++;
		} else if (!strcmp(arg, "--ignore-missing")) {
			g->ignore_missing = 1;
		} else if (!strcmp(arg, "--no-ignore-missing")) {
			g->ignore_missing = 0;
		} else if (!strcmp(arg, "-s") || !strcmp(arg, "--source")) {
			g->source = vals[0];
		} else if (!strcmp(arg, "-r") || !strcmp(arg, "--remote")) {
			g->remote = vals[0];
		} else if (!strcmp(arg, "-c") ||
			   !strcmp(arg, "--print-commits")) {
			g->print_commits = 1;
		} else if (!strcmp(arg, "-t") ||
			   !strcmp(arg, "--print-trees")) {
			g->print_trees = 1;
		} else if (!strcmp(arg, "--print-tags")) {
			g->print_tags = 1;
		} else if (arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9' &&
			   !arg[2]) {
			g->compress = arg[1] - '0';
		} else if (!strcmp(arg, "--compress")) {
			if (parse_int(vals[0], &g->compress) < 0)
				fail("invalid literal for int() with base 10: "
				     "'%s'", vals[0]);
		} else if (!strcmp(arg, "--bwlimit")) {
			int bw;
			/* the client has no bandwidth limit; checked only */
			if (parse_int(vals[0], &bw) < 0)
				fail("invalid literal for int() with base 10: "
				     "'%s'", vals[0]);
		} else if (arg[0] == '-' && strlen(arg) > 2) {
			/*
			 * bup tries "-xyz" as "-x -y -z" last, so that a
			 * value may start with '-'.  (In bup even "--foo"
			 * goes this way, and ends as "--": a misuse.)
			 */
			expand_short(g, &rem, &nr, &alloc, i);
			continue;
		} else {
			misuse_buf(NULL);
		}
		i += 1 + need;
	}
	free(rem);
	if (g->ignore_missing)
		for (size_t k = 0; k < g->nr_specs; k++)
			if (g->specs[k].method != M_UNNAMED)
				misuse("currently only --unnamed allows "
				       "--ignore-missing");
}

/* Run by die()/misuse() while a pack or a connection is open. */
static void abort_transfer(void *ctx)
{
	struct get_ctx *g = ctx;

	if (g->pw)
		packwriter_abort(g->pw);
	g->pw = NULL;
	client_writer_abort(g->cw);
	g->cw = NULL;
	client_abort(g->cli);
	g->cli = NULL;
}

static int open_writer(struct get_ctx *g)
{
	struct packwriter_opts po = { 0 };
	int64_t limit;
	int ret;

	repo_compression(g->repo, g->compress, &po.impl, &po.level);
	po.max_size = PACKWRITER_DEFAULT_MAX_SIZE;
	if (!repo_config_get_int(g->repo, "pack.packSizeLimit", &limit) &&
	    limit > 0)
		po.max_size = (uint64_t)limit;
	po.max_objects = MAX(1, po.max_size / 5000);
	po.threads = cli_threads();
	po.progress = cli_upkeep_progress;
	if (g->cli) {
		struct client_writer_opts co;
		client_writer_opts_from(&co, &po);
		if ((ret = client_writer_new(&g->cw, g->cli, &co)) < 0)
			return ret;
		g->sink = client_writer_sink(g->cw);
		return 0;
	}
	if ((ret = packwriter_new(&g->pw, g->repo->objdir, cli_odb(g->repo),
				  &po)) < 0)
		return ret;
	g->sink = packwriter_sink(g->pw);
	return 0;
}

static const char *dest_refname(const struct target *t, struct buf *b)
{
	buf_reset(b);
	if (!t->has_dest || !t->dest.path)
		return NULL;
	if (starts_with(t->dest.path, "/.tag/"))
		buf_addf(b, "refs/tags/%s", t->dest.path + 6);
	else
		buf_addf(b, "refs/heads/%s", t->dest.path + 1);
	return b->data;
}

struct ref_update {
	char *name;
	struct oid orig, new_oid;
	int has_orig;
};

int cmd_get(int argc, const char **argv)
{
	struct get_ctx g = { 0 };
	struct target *t = NULL;
	struct ref_update *up = NULL;
	size_t nr_t = 0, nr_up = 0, alloc_up = 0;
	struct buf refname = BUF_INIT;
	int reverse = getenv("BUP_SERVER_REVERSE") != NULL;
	int ret = 0, code = 0;
	char *src_path;

	buf_init(&g.raw, 0);
	parse_args(&g, argc, argv);
	g.repo = cli_open_repo();
	if (reverse && g.remote)
		misuse("don't use -r in reverse mode; it's automatic");
	if (g.compress < 0 || g.compress > 9)
		fail("bad compression level %d", g.compress);
	if (!g.remote && !reverse)
		cli_lock_writer(g.repo);

	cli_atexit(abort_transfer, &g);
	if ((g.remote || reverse) &&
	    (ret = cli_client_open(&g.cli, g.remote, g.repo->path, 0)) < 0)
		goto fail;
	if (!g.cli && (ret = vfs_new(&g.dest_vfs, g.repo)) < 0)
		goto fail;

	src_path = g.source ? xstrdup(g.source) : repo_default_path();
	ret = repo_open(&g.src_repo, src_path);
	if (ret < 0) {
		/* bup fails at the first look into the source, as git does */
		if (g.nr_specs) {
			fflush(stdout);
			fprintf(stderr, "fatal: not a git repository: '%s'\n",
				src_path);
			free(src_path);
			code = 1;
			goto out;
		}
		free(src_path);
		ret = 0;
		goto done;
	}
	free(src_path);
	if (!(g.src_odb = repo_odb(g.src_repo))) {
		ret = err_last_code();
		goto fail;
	}
	if ((ret = vfs_new(&g.src_vfs, g.src_repo)) < 0)
		goto fail;
	if ((ret = open_writer(&g)) < 0)
		goto fail;

	t = resolve_targets(&g, &nr_t);

	for (size_t i = 0; i < nr_t; i++) {
		struct result r = { 0 };
		const char *ref = dest_refname(&t[i], &refname);
		struct ref_update *u = NULL;

		switch (t[i].spec.method) {
		case M_FF:
			ret = handle_ff(&g, &t[i], &r);
			break;
		case M_APPEND:
			ret = handle_append(&g, &t[i], &r);
			break;
		case M_PICK:
		case M_FORCE_PICK:
			ret = handle_pick(&g, &t[i], &r);
			break;
		case M_NEW_TAG:
		case M_UNNAMED:
			ret = handle_copy(&g, &t[i], &r);
			break;
		case M_REPLACE:
			ret = handle_replace(&g, &t[i], &r);
			break;
		}
		if (ret < 0)
			goto fail;
		if (!ref) {
			log_item(&g, &t[i], NULL, NULL, NULL);
			continue;
		}
		/* the first value a ref had is what it must still have */
		for (size_t k = 0; k < nr_up && !u; k++)
			if (!strcmp(up[k].name, ref))
				u = &up[k];
		if (!u) {
			ALLOC_GROW(up, nr_up + 1, alloc_up);
			u = &up[nr_up++];
			memset(u, 0, sizeof(*u));
			u->name = xstrdup(ref);
			u->has_orig = t[i].dest.has_hash;
			u->orig = t[i].dest.hash;
		} else if (!u->has_orig && t[i].dest.has_hash) {
			u->has_orig = 1;
			u->orig = t[i].dest.hash;
		}
		u->new_oid = r.id;
		if (starts_with(ref, "refs/tags/"))
			log_item(&g, &t[i], &r.id, NULL, NULL);
		else
			log_item(&g, &t[i], NULL, r.has_tree ? &r.tree : NULL,
				 &r.id);
	}

	/* the pack must be complete before a ref may point into it */
	if (g.pw) {
		ret = packwriter_close(g.pw);
		g.pw = NULL;
		if (ret < 0)
			goto fail;
	}
	if (g.cw) {
		ret = client_writer_close(g.cw);
		g.cw = NULL;
		if (ret < 0)
			goto fail;
	}
	for (size_t k = 0; k < nr_up; k++) {
		struct ref_update *u = &up[k];
		const struct oid *old = u->has_orig ? &u->orig : NULL;
		struct buf m = BUF_INIT;

		ret = g.cli ? client_update_ref(g.cli, u->name, &u->new_oid,
						old)
			    : refs_update(g.repo, u->name, &u->new_oid, old,
					  0, NULL);
		if (ret < 0) {
			/* bup: note_error, carry on with the other refs */
			buf_addstr(&m, "unable to update ref ");
			cli_bytes_repr(&m, u->name);
			buf_addf(&m, ": %s\n", err_last());
			fflush(stdout);
			write_full(2, m.data, m.len);
			buf_release(&m);
			g.errors++;
			if (g.cli && g.cli->broken)
				break;
			continue;
		}
		if (g.verbose) {
			buf_addstr(&m, "updated ");
			cli_bytes_repr(&m, u->name);
			buf_addf(&m, " (");
			if (old)
				buf_addf(&m, "b'%s' -> ", oid_hex(old));
			buf_addf(&m, "b'%s')\n", oid_hex(&u->new_oid));
			fflush(stdout);
			write_full(2, m.data, m.len);
			buf_release(&m);
		}
	}
	ret = 0;
done:
	if (g.cli) {
		ret = client_close(g.cli);
		g.cli = NULL;
		if (ret < 0)
			goto fail;
	}
	if (g.errors) {
		fflush(stdout);
		cli_log("WARNING: %d errors encountered while saving.\n",
			g.errors);
		code = 1;
	}
	goto out;

fail:
	fflush(stdout);
	error("%s", err_last());
	code = 1;
out:
	abort_transfer(&g);
	cli_atexit_remove(abort_transfer, &g);
	for (size_t i = 0; i < nr_t; i++) {
		loc_release(&t[i].src);
		loc_release(&t[i].dest);
	}
	free(t);
	for (size_t k = 0; k < nr_up; k++)
		free(up[k].name);
	free(up);
	for (size_t i = 0; i < g.inited; i++)
		buf_release(&g.stack[i].data);
	free(g.stack);
	buf_release(&g.raw);
	buf_release(&refname);
	vfs_free(g.src_vfs);
	vfs_free(g.dest_vfs);
	if (g.src_repo)
		repo_free(g.src_repo);
	if (g.repo)
		repo_free(g.repo);
	for (size_t i = 0; i < g.nr_strs; i++)
		free(g.strs[i]);
	free(g.strs);
	free(g.specs);
	return code;
}
