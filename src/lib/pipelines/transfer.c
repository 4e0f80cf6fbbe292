/*
 * The transfer of `bup get` (transfer.h): resolving the specs as bup's
 * resolve_* do, the copy walk, the new commits of --append and --pick,
 * and the ref updates.  Messages are bup's; a misuse is returned with
 * *misuse set, for the command to show the usage first.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "pipelines/transfer.h"
#include "remote/client.h"
#include "store/commit.h"
#include "store/objsink.h"
#include "store/odb.h"
#include "store/packwriter.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/revwalk.h"
#include "store/tree.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/pypath.h"
#include "util/util.h"
#include "vfs/vfs.h"

const char *const transfer_method_name[TRANSFER_NR] = {
	"ff", "append", "pick", "force-pick", "new-tag", "replace", "unnamed"
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
	struct transfer_spec spec;  /* with the implicit destination */
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
	const struct transfer_opts *o;
	const struct transfer_src *src;
	struct transfer_dest *dst;
	struct objsink *sink;
	int ignore_missing;
	char **strs;             /* destinations made here */
	size_t nr_strs, alloc_strs;

	struct frame *stack;
	size_t nr, alloc, inited;
	struct buf raw;
	int errors;              /* bup's saved_errors */
	int *misuse;
};

/* bup's misuse(msg): returned, for the command to show the usage */
static int misuse_buf(struct get_ctx *g, struct buf *msg)
{
	*g->misuse = 1;
	err_set(ERR_USAGE, "%s", msg->data);
	buf_release(msg);
	return ERR_USAGE;
}

static void spec_msg(struct buf *out, const struct transfer_spec *s)
{
	if (!s->dest) {
		buf_addf(out, "--%s ", transfer_method_name[s->method]);
		pypath_path_msg(out, s->src);
		return;
	}
	buf_addf(out, "--%s: ", transfer_method_name[s->method]);
	pypath_path_msg(out, s->src);
	buf_addch(out, ' ');
	pypath_path_msg(out, s->dest);
}

/* misuse: before, spec_msg(spec), after */
static int misuse_spec(struct get_ctx *g, const char *before,
		       const struct transfer_spec *s, const char *after)
{
	struct buf m = BUF_INIT;

	buf_addstr(&m, before);
	spec_msg(&m, s);
	buf_addstr(&m, after);
	return misuse_buf(g, &m);
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
static int resolve(struct get_ctx *g, int on_dest, const char *path,
		   const struct vfs_list *parent, struct vfs_list *out)
{
	struct vfs *v = on_dest ? g->dst->vfs : g->src->vfs;
	int err_no = 0, ret;

	if (on_dest && g->dst->cli)
		return client_resolve(g->dst->cli, path, parent, 0, 0, out,
				      &err_no);
	ret = vfs_resolve(v, path, parent, 0, 0, out, &err_no);
	if (ret < 0 && err_no)
		return err_set(ret, "%s", vfs_resolve_error(v));
	return ret;
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

/*
 * bup's find_vfs_item(): 0 with *loc filled, 1 if nothing is there, or
 * an error.
 */
static int find_vfs_item(struct get_ctx *g, int on_dest, const char *name,
			 struct loc *loc)
{
	struct vfs_list res, parent;
	const struct vfs_entry *leaf;
	struct buf path = BUF_INIT;
	enum kind kind;
	int ret;

	memset(loc, 0, sizeof(*loc));
	vfs_list_init(&res);
	if ((ret = resolve(g, on_dest, name, NULL, &res)) < 0)
		goto out;
	leaf = &res.e[res.nr - 1];
	switch (leaf->item.kind) {
	case VFS_MISSING:
		ret = 1;
		goto out;
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
		ret = resolve(g, on_dest, leaf->item.target, &parent, &res2);
		vfs_list_release(&parent);
		vfs_list_release(&res);
		res = res2;
		if (ret < 0)
			goto out;
		leaf = &res.e[res.nr - 1];
		if (leaf->item.kind != VFS_COMMIT) {
			ret = err_set(ERR_GENERIC, "unexpected resolution "
				      "for %s", name);
			goto out;
		}
		kind = K_SAVE;
		break;
	}
	default:
		ret = err_set(ERR_GENERIC, "unexpected resolution for %s",
			      name);
		goto out;
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
	ret = 0;
out:
	vfs_list_release(&res);
	return ret;
}

/* bup's find_git_item(): a "git:REF" source, read as git cat-file would. */
static int find_git_item(struct get_ctx *g, const char *ref, struct loc *loc)
{
	struct buf b = BUF_INIT;
	enum obj_type type;

	memset(loc, 0, sizeof(*loc));
	if (refs_resolve(g->src->repo, ref, &loc->hash) < 0)
		return 1;
	if (odb_read(g->src->odb, &loc->hash, &type, &b) < 0) {
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

/* 0, 1 when missing and ignore_missing, or an error (a misuse) */
static int resolve_src(struct get_ctx *g, const struct transfer_spec *s,
		       struct loc *src, int allow_git, int ignore_missing)
{
	int missing;

	if (starts_with(s->src, "git:")) {
		if (!allow_git)
			return misuse_spec(g, "git references not (yet) "
					   "allowed here ", s, "");
		missing = find_git_item(g, s->src + 4, src);
	} else {
		missing = find_vfs_item(g, 0, s->src, src);
		if (missing < 0)
			return missing;
		if (!missing && src->type == K_ROOT)
			return misuse_spec(g, "cannot fetch entire repository "
					   "for ", s, "");
		if (!missing && src->type == K_TAGS)
			return misuse_spec(g, "cannot fetch entire /.tag "
					   "directory for ", s, "");
	}
	if (missing && !ignore_missing)
		return misuse_spec(g, "cannot find source for ", s, "");
	return missing;
}

/* The branch of a save, as a destination string kept in g. */
static int get_save_branch(struct get_ctx *g, const char *path,
			   const char **out)
{
	struct vfs_list res;
	struct buf b = BUF_INIT;
	int ret;

	vfs_list_init(&res);
	if ((ret = resolve(g, 0, path, NULL, &res)) < 0)
		goto out;
	if (res.e[res.nr - 1].item.kind == VFS_MISSING) {
		const char *name = res.e[res.nr - 1].name;
		struct buf m = BUF_INIT;
		buf_addstr(&m, "error: cannot access ");
		pypath_bytes_repr(&m, name, strlen(name));
		buf_addstr(&m, " in ");
		pypath_bytes_repr(&m, path, strlen(path));
		ret = misuse_buf(g, &m);
		goto out;
	}
	if (res.nr != 3)
		BUG("a save resolves to root, branch, save");
	join_names(&b, &res, res.nr - 1);
	ALLOC_GROW(g->strs, g->nr_strs + 1, g->alloc_strs);
	*out = g->strs[g->nr_strs++] = buf_detach(&b, NULL);
out:
	vfs_list_release(&res);
	return ret;
}

static int resolve_branch_dest(struct get_ctx *g, struct target *t)
{
	struct transfer_spec *s = &t->spec;
	struct buf m = BUF_INIT;
	int ret;

	if (!s->dest) {
		if (t->src.type == K_BRANCH)
			s->dest = s->src;
		else if (t->src.type == K_SAVE &&
			 (ret = get_save_branch(g, s->src, &s->dest)) < 0)
			return ret;
		else if (starts_with(t->src.path, "/.tag/"))
			s->dest = s->src;
	}
	if (!s->dest)
		return misuse_spec(g, "no destination (implicit or explicit) "
				   "for ", s, "");
	if ((ret = find_vfs_item(g, 1, s->dest, &t->dest)) < 0)
		return ret;
	if (!ret) {
		if (t->dest.type == K_COMMIT)
			return misuse_spec(g, "destination for ", s,
					   " is a tagged commit, not a branch");
		if (t->dest.type != K_BRANCH) {
			buf_addstr(&m, "destination for ");
			spec_msg(&m, s);
			buf_addf(&m, " is a %s, not a branch",
				 kind_names[t->dest.type]);
			return misuse_buf(g, &m);
		}
	} else {
		t->dest.path = cleanup_vfs_path(s->dest);
	}
	if (starts_with(t->dest.path, "/."))
		return misuse_spec(g, "destination for ", s,
				   " must be a valid branch name");
	t->has_dest = 1;
	return 0;
}

static int resolve_ff(struct get_ctx *g, struct target *t)
{
	struct buf m = BUF_INIT;
	int ret;

	if ((ret = resolve_src(g, &t->spec, &t->src, 0, 0)) < 0)
		return ret;
	if (t->src.type == K_TREE)
		return misuse_spec(g, "", &t->spec, " is impossible; can only "
				   "--append a tree to a branch");
	if (t->src.type != K_BRANCH && t->src.type != K_SAVE &&
	    t->src.type != K_COMMIT) {
		buf_addstr(&m, "source for ");
		spec_msg(&m, &t->spec);
		buf_addf(&m, " must be a branch, save, or commit, not %s",
			 kind_names[t->src.type]);
		return misuse_buf(g, &m);
	}
	return resolve_branch_dest(g, t);
}

static int resolve_append(struct get_ctx *g, struct target *t)
{
	struct buf m = BUF_INIT;
	int ret;

	if ((ret = resolve_src(g, &t->spec, &t->src, 0, 0)) < 0)
		return ret;
	if (t->src.type != K_BRANCH && t->src.type != K_SAVE &&
	    t->src.type != K_COMMIT && t->src.type != K_TREE) {
		buf_addstr(&m, "source for ");
		spec_msg(&m, &t->spec);
		buf_addf(&m, " must be a branch, save, commit, or tree, not %s",
			 kind_names[t->src.type]);
		return misuse_buf(g, &m);
	}
	return resolve_branch_dest(g, t);
}

/* bup's validate_vfs_path(): only /.tag/ of the dot names */
static int validate_vfs_path(struct get_ctx *g, const char *p,
			     const struct transfer_spec *s)
{
	struct buf m = BUF_INIT;

	if (starts_with(p, "/.") && !starts_with(p, "/.tag/")) {
		buf_addstr(&m, "unsupported destination path ");
		pypath_path_msg(&m, p);
		buf_addstr(&m, " in ");
		spec_msg(&m, s);
		return misuse_buf(g, &m);
	}
	return 0;
}

static int resolve_pick(struct get_ctx *g, struct target *t)
{
	struct transfer_spec orig = t->spec;
	struct buf m = BUF_INIT;
	int ret;

	if ((ret = resolve_src(g, &t->spec, &t->src, 0, 0)) < 0)
		return ret;
	if (t->src.type == K_TREE)
		return misuse_spec(g, "", &orig, " is impossible; can only "
				   "--append a tree");
	if (t->src.type != K_COMMIT && t->src.type != K_SAVE) {
		spec_msg(&m, &orig);
		buf_addf(&m, " impossible; can only pick a commit or save, "
			 "not %s", kind_names[t->src.type]);
		return misuse_buf(g, &m);
	}
	if (!t->spec.dest) {
		if (starts_with(t->src.path, "/.tag/"))
			t->spec.dest = t->spec.src;
		else if (t->src.type == K_SAVE &&
			 (ret = get_save_branch(g, t->spec.src,
						&t->spec.dest)) < 0)
			return ret;
	}
	if (!t->spec.dest)
		return misuse_spec(g, "no destination provided for ", &orig,
				   "");
	if ((ret = find_vfs_item(g, 1, t->spec.dest, &t->dest)) < 0)
		return ret;
	if (ret) {
		t->dest.path = cleanup_vfs_path(t->spec.dest);
		if ((ret = validate_vfs_path(g, t->dest.path, &t->spec)) < 0)
			return ret;
	} else {
		if (t->dest.type != K_BRANCH &&
		    !starts_with(t->dest.path, "/.tag/"))
			return misuse_spec(g, "", &orig, " destination is not "
					   "a tag or branch");
		if (t->spec.method == TRANSFER_PICK && t->dest.has_hash &&
		    starts_with(t->dest.path, "/.tag/"))
			return misuse_spec(g, "cannot overwrite existing tag "
					   "for ", &orig,
					   " (requires --force-pick)");
	}
	t->has_dest = 1;
	return 0;
}

static int resolve_new_tag(struct get_ctx *g, struct target *t)
{
	struct transfer_spec orig = t->spec;
	int ret;

	if ((ret = resolve_src(g, &t->spec, &t->src, 0, 0)) < 0)
		return ret;
	if (!t->spec.dest && starts_with(t->src.path, "/.tag/"))
		t->spec.dest = t->src.path;
	if (!t->spec.dest)
		return misuse_spec(g, "no destination (implicit or explicit) "
				   "for ", &orig, "");
	if ((ret = find_vfs_item(g, 1, t->spec.dest, &t->dest)) < 0)
		return ret;
	if (ret)
		t->dest.path = cleanup_vfs_path(t->spec.dest);
	if (!starts_with(t->dest.path, "/.tag/"))
		return misuse_spec(g, "destination for ", &orig,
				   " must be a VFS tag");
	if (t->dest.has_hash)
		return misuse_spec(g, "cannot overwrite existing tag for ",
				   &orig, " (requires --replace)");
	t->has_dest = 1;
	return 0;
}

static int resolve_replace(struct get_ctx *g, struct target *t)
{
	struct transfer_spec orig = t->spec;
	struct buf m = BUF_INIT;
	int ret;

	if ((ret = resolve_src(g, &t->spec, &t->src, 0, 0)) < 0)
		return ret;
	if (!t->spec.dest && (starts_with(t->src.path, "/.tag/") ||
			      t->src.type == K_BRANCH))
		t->spec.dest = t->spec.src;
	if (!t->spec.dest)
		return misuse_spec(g, "no destination provided for ", &orig,
				   "");
	if ((ret = find_vfs_item(g, 1, t->spec.dest, &t->dest)) < 0)
		return ret;
	if (!ret) {
		if (t->dest.type != K_BRANCH &&
		    !starts_with(t->dest.path, "/.tag/"))
			return misuse_spec(g, "", &orig, " impossible; can "
					   "only overwrite branch or tag");
	} else {
		t->dest.path = cleanup_vfs_path(t->spec.dest);
		if ((ret = validate_vfs_path(g, t->dest.path, &t->spec)) < 0)
			return ret;
	}
	if (!starts_with(t->dest.path, "/.tag/") &&
	    t->src.type != K_BRANCH && t->src.type != K_SAVE &&
	    t->src.type != K_COMMIT) {
		buf_addf(&m, "cannot overwrite branch with %s for ",
			 kind_names[t->src.type]);
		spec_msg(&m, &orig);
		return misuse_buf(g, &m);
	}
	t->has_dest = 1;
	return 0;
}

/* 0 with the target, 1 if a missing source is skipped (--ignore-missing) */
static int resolve_unnamed(struct get_ctx *g, struct target *t)
{
	if (t->spec.dest)
		return misuse_spec(g, "destination name given for ", &t->spec,
				   "");
	return resolve_src(g, &t->spec, &t->src, 1, g->ignore_missing);
}

static int resolve_one(struct get_ctx *g, struct target *t)
{
	switch (t->spec.method) {
	case TRANSFER_FF:
		return resolve_ff(g, t);
	case TRANSFER_APPEND:
		return resolve_append(g, t);
	case TRANSFER_PICK:
	case TRANSFER_FORCE_PICK:
		return resolve_pick(g, t);
	case TRANSFER_NEW_TAG:
		return resolve_new_tag(g, t);
	case TRANSFER_REPLACE:
		return resolve_replace(g, t);
	case TRANSFER_UNNAMED:
		return resolve_unnamed(g, t);
	case TRANSFER_NR:
		break;
	}
	BUG("unknown transfer method %d", (int)t->spec.method);
}

/* The targets of every spec (t[0..*nr)), or an error (t freed by caller) */
static int resolve_targets(struct get_ctx *g, struct target *t, size_t *nr)
{
	int ret;

	*nr = 0;
	for (size_t i = 0; i < g->o->nr_specs; i++) {
		struct target *cur = &t[*nr];

		memset(cur, 0, sizeof(*cur));
		cur->spec = g->o->specs[i];
		ret = resolve_one(g, cur);
		if (ret == 1) {         /* --unnamed, missing, ignored */
			loc_release(&cur->src);
			continue;
		}
		++*nr;
		if (ret < 0)
			return ret;
	}
	/* the same tag twice needs --replace or --force-pick */
	for (size_t i = 0; i < *nr; i++) {
		const char *p = t[i].has_dest ? t[i].dest.path : NULL;
		int seen = 0;

		if (!starts_with(p, "/.tag/"))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = t[j].has_dest && !strcmp(t[j].dest.path, p);
		if (seen && t[i].spec.method != TRANSFER_REPLACE &&
		    t[i].spec.method != TRANSFER_FORCE_PICK) {
			struct buf m = BUF_INIT;
			buf_addstr(&m, "cannot overwrite tag ");
			pypath_path_msg(&m, p);
			buf_addstr(&m, " via ");
			spec_msg(&m, &t[i].spec);
			return misuse_buf(g, &m);
		}
	}
	return 0;
}

/* ---- copying objects -------------------------------------------------- */

static int dest_exists(struct get_ctx *g, const struct oid *oid)
{
	if (g->dst->pw)
		return packwriter_exists(g->dst->pw, oid);
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
	if (g->o->note) {
		char *msg = xstrfmt("skipping missing source object %s",
				    oid_hex(oid));
		g->o->note(g->o->data, msg);
		free(msg);
	}
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
	ret = odb_read_raw(g->src->odb, oid, &type, &g->raw, &crc);
	if (ret < 0)
		return ret;
	if (!ret && type == OBJ_BLOB) {
		if (g->dst->pw)
			return packwriter_write_raw(g->dst->pw, oid, g->raw.data,
						    g->raw.len, crc);
		return client_writer_write_raw(g->dst->cw, oid, g->raw.data,
					       g->raw.len, crc);
	}
	buf_reset(&g->raw);
	ret = odb_read(g->src->odb, oid, &type, &g->raw);
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

	ret = odb_read(g->src->odb, &oid, &type, &f->data);
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
	int ret = odb_read(g->src->odb, oid, &type, &b);

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
	int ret = revwalk_list(tip, until, revwalk_read_odb, g->src->odb, &e,
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
			return misuse_spec(g, "destination is not an ancestor "
					   "of source for ", &t->spec, "");
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
		buf_addstr(&msg, g->o->tree_message ? g->o->tree_message : "");
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


/* ---- the run ----------------------------------------------------------- */

/* bup's log_item(): through the caller's callback */
static void log_item(struct get_ctx *g, const struct target *t,
		     const struct oid *tag, const struct oid *tree,
		     const struct oid *commit)
{
	struct transfer_item it = { t->spec.src, 0, tag, tree, commit };
	enum kind k = t->src.type;
	size_t n = strlen(t->spec.src);

	if (!g->o->item)
		return;
	/* a git: source's type is git's, never one of these */
	it.dirlike = !t->src.git && (k == K_ROOT || k == K_BRANCH ||
				     k == K_SAVE || k == K_COMMIT ||
				     k == K_TREE) &&
		     (!n || t->spec.src[n - 1] != '/');
	g->o->item(g->o->data, &it);
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

static int run_method(struct get_ctx *g, const struct target *t,
		      struct result *r)
{
	switch (t->spec.method) {
	case TRANSFER_FF:
		return handle_ff(g, t, r);
	case TRANSFER_APPEND:
		return handle_append(g, t, r);
	case TRANSFER_PICK:
	case TRANSFER_FORCE_PICK:
		return handle_pick(g, t, r);
	case TRANSFER_NEW_TAG:
	case TRANSFER_UNNAMED:
		return handle_copy(g, t, r);
	case TRANSFER_REPLACE:
		return handle_replace(g, t, r);
	case TRANSFER_NR:
		break;
	}
	BUG("unknown transfer method %d", (int)t->spec.method);
}

/* The pack must be complete before a ref may point into it. */
static int close_writer(struct transfer_dest *d)
{
	int ret = 0;

	if (d->pw) {
		ret = packwriter_close(d->pw);
		d->pw = NULL;
	} else if (d->cw) {
		ret = client_writer_close(d->cw);
		d->cw = NULL;
	}
	return ret;
}

/* Each ref against the first value it had; bup carries on past errors. */
static void update_refs(struct get_ctx *g, const struct ref_update *up,
			size_t nr_up)
{
	struct transfer_dest *d = g->dst;

	for (size_t k = 0; k < nr_up; k++) {
		const struct ref_update *u = &up[k];
		const struct oid *old = u->has_orig ? &u->orig : NULL;
		int ret = d->cli ? client_update_ref(d->cli, u->name,
						     &u->new_oid, old)
				 : refs_update(d->repo, u->name, &u->new_oid,
					       old, 0, NULL);

		if (ret < 0) {
			if (g->o->ref_error)
				g->o->ref_error(g->o->data, u->name,
						err_last());
			g->errors++;
			if (d->cli && d->cli->broken)
				break;
			continue;
		}
		if (g->o->ref_updated)
			g->o->ref_updated(g->o->data, u->name, old,
					  &u->new_oid);
	}
}

int transfer_run(struct transfer_dest *d, const struct transfer_src *s,
		 const struct transfer_opts *o, int *misuse)
{
	struct get_ctx g = { 0 };
	struct target *t;
	struct ref_update *up = NULL;
	size_t nr_t = 0, nr_up = 0, alloc_up = 0;
	struct buf refname = BUF_INIT;
	int ret;

	*misuse = 0;
	g.o = o;
	g.src = s;
	g.dst = d;
	g.misuse = misuse;
	g.ignore_missing = o->ignore_missing;
	if (d->pw)
		g.sink = packwriter_sink(d->pw);
	else if (d->cw)
		g.sink = client_writer_sink(d->cw);
	else
		BUG("transfer_run without a writer");
	buf_init(&g.raw, 0);
	t = xcalloc(o->nr_specs ? o->nr_specs : 1, sizeof(*t));
	if ((ret = resolve_targets(&g, t, &nr_t)) < 0)
		goto out;

	for (size_t i = 0; i < nr_t; i++) {
		struct result r = { 0 };
		const char *ref = dest_refname(&t[i], &refname);
		struct ref_update *u = NULL;

		if ((ret = run_method(&g, &t[i], &r)) < 0)
			goto out;
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
	if ((ret = close_writer(d)) < 0)
		goto out;
	update_refs(&g, up, nr_up);
	ret = g.errors;
out:
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
	for (size_t i = 0; i < g.nr_strs; i++)
		free(g.strs[i]);
	free(g.strs);
	return ret;
}

int transfer_src_init(struct transfer_src *s)
{
	if (!(s->odb = repo_odb(s->repo)))
		return err_last_code();
	return vfs_new(&s->vfs, s->repo);
}

void transfer_src_release(struct transfer_src *s)
{
	vfs_free(s->vfs);
	repo_free(s->repo);
	memset(s, 0, sizeof(*s));
}

void transfer_dest_abort(struct transfer_dest *d)
{
	if (d->pw)
		packwriter_abort(d->pw);
	d->pw = NULL;
	client_writer_abort(d->cw);
	d->cw = NULL;
	client_abort(d->cli);
	d->cli = NULL;
}
