/*
 * The virtual filesystem (vfs.h; FORMAT.md 5.7 and 6.2).  The shapes and
 * orders follow bup 0.33.7's vfs.py, because ls, restore and the server
 * protocol print or send exactly what it yields:
 *
 * - a tree read with metadata is listed in *demangled-name* order, since
 *   .bupm records follow that order (FORMAT.md 5.7); without metadata
 *   (no .bupm) in git order;
 * - one .bupm record is consumed per chunked file or non-tree entry;
 * - a branch lists its commits by author date, duplicates numbered so
 *   the oldest gets -0, plus "latest" (FORMAT.md 6.2).
 *
 * Every read goes through a struct vfs_source (vfs.h): this file knows
 * neither the odb nor the client.  A local repository's source is in
 * vfs_local.c; a server's (bup's RemoteRepo, FORMAT.md 7.3) is in
 * client_vfs.c, and provides the optional operations, which replace
 * the walks below: a branch's commits from one `rev-list`, whole files
 * and .bupm from `join`, and resolve() by the server, as bup's
 * vfs.resolve redirects for a remote repository.
 */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/commit.h"
#include "util/err.h"
#include "meta/metafmt.h"
#include "util/pypath.h"
#include "store/revwalk.h"
#include "store/tree.h"

/* A branch's commit list, computed once per vfs (bup caches it too). */
struct vfs_revlist {
	struct oid head;
	struct vfs_list entries;   /* sorted by name, without "." */
};

struct vfs {
	struct vfs_source *src;
	struct vfs_revlist *revlists;
	size_t nr_revlists, alloc_revlists;
	struct buf resolve_err;    /* vfs_resolve_error() */
};

void vfs_item_init(struct vfs_item *it)
{
	memset(it, 0, sizeof(*it));
	meta_init(&it->meta);
}

void vfs_item_release(struct vfs_item *it)
{
	meta_release(&it->meta);
	free(it->target);
	vfs_item_init(it);
}

void vfs_item_copy(struct vfs_item *dst, const struct vfs_item *src)
{
	struct meta m;

	*dst = *src;
	meta_init(&m);
	if (src->has_meta)
		meta_copy(&m, &src->meta);
	dst->meta = m;
	dst->target = src->target ? xstrdup(src->target) : NULL;
}

void vfs_list_init(struct vfs_list *l)
{
	memset(l, 0, sizeof(*l));
}

void vfs_list_release(struct vfs_list *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->e[i].name);
		vfs_item_release(&l->e[i].item);
	}
	free(l->e);
	vfs_list_init(l);
}

/* Appends an entry and returns its item (initialised) for filling in. */
static struct vfs_item *list_add(struct vfs_list *l, const char *name,
				 size_t len)
{
	struct vfs_entry *e;

	ALLOC_GROW(l->e, l->nr + 1, l->alloc);
	e = &l->e[l->nr++];
	e->name = xstrndup(name, len);
	vfs_item_init(&e->item);
	return &e->item;
}

void vfs_list_copy(struct vfs_list *dst, const struct vfs_list *src)
{
	for (size_t i = 0; i < src->nr; i++) {
		struct vfs_item *it = list_add(dst, src->e[i].name,
					       strlen(src->e[i].name));
		vfs_item_copy(it, &src->e[i].item);
	}
}

int vfs_new_source(struct vfs **out, struct vfs_source *src)
{
	struct vfs *v = xcalloc(1, sizeof(*v));

	v->src = src;
	buf_init(&v->resolve_err, 0);
	*out = v;
	return 0;
}

void vfs_free(struct vfs *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nr_revlists; i++)
		vfs_list_release(&v->revlists[i].entries);
	free(v->revlists);
	buf_release(&v->resolve_err);
	if (v->src->ops->free)
		v->src->ops->free(v->src);
	free(v);
}

void vfs_root(struct vfs_item *out)
{
	vfs_item_init(out);
	out->kind = VFS_ROOT;
	out->mode = VFS_DEFAULT_DIR_MODE;
}

/* ---- reads through the source ---------------------------------------- */

static int obj_read(struct vfs *v, const struct oid *oid, enum obj_type *type,
		    struct buf *out)
{
	return v->src->ops->cat(v->src, oid, type, out);
}

static int for_each_ref(struct vfs *v, const char *prefix, vfs_ref_fn fn,
			void *ctx)
{
	return v->src->ops->refs(v->src, prefix, fn, ctx);
}

struct find_ref {
	const char *refname;
	struct oid *oid;
	int found;
};

static int find_ref_each(void *ctx, const char *refname,
			 const struct oid *oid)
{
	struct find_ref *f = ctx;

	if (!f->found && !strcmp(refname, f->refname)) {
		*f->oid = *oid;
		f->found = 1;
	}
	return 0;
}

/* One ref: ERR_NOTFOUND if it does not exist. */
static int read_ref(struct vfs *v, const char *refname, struct oid *out)
{
	struct find_ref f = { refname, out, 0 };
	int ret;

	if (v->src->ops->read_ref)
		return v->src->ops->read_ref(v->src, refname, out);
	ret = for_each_ref(v, strncmp(refname, "refs/tags/", 10) ?
			   "refs/heads/" : "refs/tags/", find_ref_each, &f);
	if (ret < 0)
		return ret;
	return f.found ? 0 : err_set(ERR_NOTFOUND, "no ref '%s'", refname);
}

static int join_add(void *ctx, const void *data, size_t len)
{
	buf_add(ctx, data, len);
	return 0;
}

static unsigned default_mode_for_gitmode(unsigned gitmode)
{
	if (S_ISDIR(gitmode))
		return VFS_DEFAULT_DIR_MODE;
	if (S_ISLNK(gitmode))
		return VFS_DEFAULT_SYMLINK_MODE;
	return VFS_DEFAULT_FILE_MODE;
}

/* Reads an object, insisting on its type. */
static int read_typed(struct vfs *v, const struct oid *oid,
		      enum obj_type want, struct buf *out)
{
	enum obj_type type;
	int ret = obj_read(v, oid, &type, out);

	if (ret < 0)
		return ret;
	if (want != OBJ_NONE && type != want)
		return err_set(ERR_CORRUPT, "object %s is a %s, not a %s",
			       oid_hex(oid), obj_type_name(type),
			       obj_type_name(want));
	return 0;
}

/* The tree of a commit or tree id. */
static int treeish_to_tree(struct vfs *v, const struct oid *oid,
			   struct buf *tree)
{
	enum obj_type type;
	int ret;

	buf_reset(tree);
	ret = obj_read(v, oid, &type, tree);
	if (ret < 0)
		return ret;
	if (type == OBJ_COMMIT) {
		struct commit_info ci;
		struct oid t;
		ret = commit_parse(&ci, tree->data, tree->len);
		if (ret < 0)
			return ret;
		t = ci.tree;
		commit_release(&ci);
		buf_reset(tree);
		return read_typed(v, &t, OBJ_TREE, tree);
	}
	if (type != OBJ_TREE)
		return err_set(ERR_CORRUPT, "%s is not a tree or commit",
			       oid_hex(oid));
	return 0;
}

/* Reads a whole (possibly chunked) file into out. */
static int read_whole(struct vfs *v, const struct oid *oid, struct buf *out)
{
	return vfs_file_stream(v, oid, join_add, out);
}

/* The .bupm id of a tree, if it has one (it sorts near the front). */
static int find_bupm(const struct buf *tree, struct oid *bupm)
{
	struct tree_iter it;
	struct tree_entry e;
	int ret;

	tree_iter_init(&it, tree->data, tree->len);
	while ((ret = tree_iter_next(&it, &e)) > 0) {
		int c = memcmp(e.name, ".bupm", MIN(e.namelen, 5));
		if (!c && e.namelen == 5) {
			*bupm = e.oid;
			return 1;
		}
		if (c > 0 || (!c && e.namelen > 5))
			break;
	}
	return ret < 0 ? ret : 0;
}

/*
 * bup's _read_dir_meta: the first record of a .bupm, or none when it
 * is empty metadata (synthetic directories); a missing size becomes 0.
 */
static void set_dir_meta(struct vfs_item *it, struct meta *m)
{
	if (meta_is_empty(m)) {
		it->has_meta = 0;
		it->mode = VFS_DEFAULT_DIR_MODE;
		return;
	}
	meta_copy(&it->meta, m);
	if (it->meta.size < 0)
		it->meta.size = 0;
	it->has_meta = 1;
	it->mode = (unsigned)it->meta.mode;
}

/* Metadata of the directory a tree or commit id stands for. */
static int treeish_dir_meta(struct vfs *v, const struct oid *oid,
			    struct vfs_item *it)
{
	struct buf tree = BUF_INIT, bupm = BUF_INIT;
	struct oid bupm_oid;
	struct meta_reader r;
	struct meta m;
	int ret;

	meta_init(&m);
	ret = treeish_to_tree(v, oid, &tree);
	if (ret < 0)
		goto out;
	ret = find_bupm(&tree, &bupm_oid);
	if (ret <= 0)
		goto out;
	ret = read_whole(v, &bupm_oid, &bupm);
	if (ret < 0)
		goto out;
	meta_reader_init(&r, bupm.data, bupm.len);
	ret = meta_reader_next(&r, &m);
	if (ret < 0)
		goto out;
	if (ret > 0)
		set_dir_meta(it, &m);
	ret = 0;
out:
	meta_release(&m);
	buf_release(&tree);
	buf_release(&bupm);
	return ret;
}

int vfs_fill_dir_meta(struct vfs *v, struct vfs_item *item)
{
	if (!S_ISDIR(item->mode) || item->has_meta)
		return 0;
	if (item->kind != VFS_ITEM && item->kind != VFS_COMMIT &&
	    item->kind != VFS_REVLIST)
		return 0;
	return treeish_dir_meta(v, &item->oid, item);
}

/* --- trees --- */

struct tree_ent {
	char *name;          /* demangled */
	size_t namelen;
	enum tree_bup_kind kind;
	unsigned gitmode;
	struct oid oid;
	int is_bupm;
	size_t order;        /* position in git order, for a stable sort */
};

static int tree_ent_cmp(const void *a, const void *b)
{
	const struct tree_ent *x = a, *y = b;
	size_t n = MIN(x->namelen, y->namelen);
	int c = memcmp(x->name, y->name, n);

	if (c)
		return c;
	if (x->namelen != y->namelen)
		return x->namelen < y->namelen ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int tree_contents(struct vfs *v, const struct vfs_item *dir,
			 int want_meta, struct vfs_list *out)
{
	struct buf tree = BUF_INIT, bupm = BUF_INIT;
	struct tree_ent *ents = NULL;
	size_t nr = 0, alloc = 0;
	struct tree_iter iter;
	struct tree_entry e;
	struct meta_reader r;
	struct meta m;
	struct vfs_item *it;
	int have_bupm = 0, ret;

	meta_init(&m);
	ret = read_typed(v, &dir->oid, OBJ_TREE, &tree);
	if (ret < 0)
		goto out;
	tree_iter_init(&iter, tree.data, tree.len);
	while ((ret = tree_iter_next(&iter, &e)) > 0) {
		struct tree_ent *t;
		ALLOC_GROW(ents, nr + 1, alloc);
		t = &ents[nr];
		t->is_bupm = e.namelen == 5 && !memcmp(e.name, ".bupm", 5);
		t->namelen = tree_demangle_name(e.name, e.namelen, e.mode,
						&t->kind);
		t->name = (char *)e.name;
		t->gitmode = e.mode;
		t->oid = e.oid;
		t->order = nr++;
		if (t->is_bupm && want_meta && !have_bupm) {
			ret = read_whole(v, &e.oid, &bupm);
			if (ret < 0)
				goto out;
			have_bupm = 1;
		}
	}
	if (ret < 0)
		goto out;
	if (have_bupm)
		qsort(ents, nr, sizeof(*ents), tree_ent_cmp);
	meta_reader_init(&r, bupm.data, bupm.len);

	/* bup yields "." as a plain tree Item, even for a commit */
	it = list_add(out, ".", 1);
	it->kind = VFS_ITEM;
	it->oid = dir->oid;
	it->git_mode = TREE_MODE_TREE;
	it->mode = VFS_DEFAULT_DIR_MODE;
	if (have_bupm) {
		ret = meta_reader_next(&r, &m);
		if (ret < 0)
			goto out;
		if (ret > 0)
			set_dir_meta(it, &m);
	}
	for (size_t i = 0; i < nr; i++) {
		struct tree_ent *t = &ents[i];
		int record;

		if (t->is_bupm)
			continue;
		it = list_add(out, t->name, t->namelen);
		it->oid = t->oid;
		it->git_mode = t->gitmode;
		if (t->kind == TREE_BUP_CHUNKED) {
			it->kind = VFS_CHUNKY;
			it->mode = VFS_DEFAULT_FILE_MODE;
			record = 1;
		} else {
			it->kind = VFS_ITEM;
			it->mode = default_mode_for_gitmode(t->gitmode);
			record = !S_ISDIR(t->gitmode);
		}
		if (record && have_bupm) {
			ret = meta_reader_next(&r, &m);
			if (ret < 0)
				goto out;
			if (ret > 0 && !meta_is_empty(&m)) {
				meta_copy(&it->meta, &m);
				it->has_meta = 1;
				it->mode = (unsigned)m.mode;
			}
		}
	}
	ret = 0;
out:
	free(ents);
	meta_release(&m);
	buf_release(&tree);
	buf_release(&bupm);
	return ret;
}

/* --- branches and commits --- */

/* revwalk's reader through the source. */
static int read_commit(void *ctx, const struct oid *oid,
		       struct commit_info *out)
{
	struct buf b = BUF_INIT;
	int ret = read_typed(ctx, oid, OBJ_COMMIT, &b);

	if (ret >= 0)
		ret = commit_parse(out, b.data, b.len);
	buf_release(&b);
	return ret;
}

/*
 * A branch's commits in git rev-list order (bup's vfs asks git): the
 * source's own list if it has one, else revwalk over cat.
 */
static int rev_list(struct vfs *v, const struct oid *head,
		    struct vfs_rev **out, size_t *nr_out)
{
	struct revwalk_entry *ents;
	struct vfs_rev *revs;
	size_t nr;
	int ret;

	if (v->src->ops->rev_list)
		return v->src->ops->rev_list(v->src, head, out, nr_out);
	ret = revwalk_list(head, NULL, read_commit, v, &ents, &nr);
	if (ret < 0)
		return ret;
	revs = xcalloc(nr ? nr : 1, sizeof(*revs));
	for (size_t i = 0; i < nr; i++) {
		revs[i].coid = ents[i].oid;
		revs[i].tree = ents[i].tree;
		revs[i].author_time = ents[i].author_time;
	}
	free(ents);
	*out = revs;
	*nr_out = nr;
	return 0;
}

static int entry_name_cmp(const void *a, const void *b)
{
	const struct vfs_entry *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int revlist_entries(struct vfs *v, const struct oid *head,
			   const struct vfs_list **out)
{
	struct vfs_revlist *rl;
	struct vfs_rev *revs = NULL;
	size_t nr = 0, i = 0;
	char tip[64] = "";
	int ret;

	for (size_t k = 0; k < v->nr_revlists; k++)
		if (oid_eq(&v->revlists[k].head, head)) {
			*out = &v->revlists[k].entries;
			return 0;
		}
	ret = rev_list(v, head, &revs, &nr);
	if (ret < 0)
		return ret;
	ALLOC_GROW(v->revlists, v->nr_revlists + 1, v->alloc_revlists);
	rl = &v->revlists[v->nr_revlists++];
	rl->head = *head;
	vfs_list_init(&rl->entries);

	/* Runs of equal names get -N suffixes, the newest the highest N. */
	while (i < nr) {
		char name[64];
		struct tm tm;
		time_t t = (time_t)revs[i].author_time;
		size_t run = 1, width = 1;

		localtime_r(&t, &tm);
		strftime(name, sizeof(name), "%Y-%m-%d-%H%M%S", &tm);
		while (i + run < nr) {
			char other[64];
			time_t t2 = (time_t)revs[i + run].author_time;
			localtime_r(&t2, &tm);
			strftime(other, sizeof(other), "%Y-%m-%d-%H%M%S", &tm);
			if (strcmp(name, other))
				break;
			run++;
		}
		for (size_t n = run - 1; n >= 10; n /= 10)
			width++;
		for (size_t k = 0; k < run; k++) {
			char full[96];
			struct vfs_item *it;
			if (run == 1)
				snprintf(full, sizeof(full), "%s", name);
			else
				snprintf(full, sizeof(full), "%s-%0*zu", name,
					 (int)width, run - 1 - k);
			it = list_add(&rl->entries, full, strlen(full));
			it->kind = VFS_COMMIT;
			it->oid = revs[i + k].tree;
			it->coid = revs[i + k].coid;
			it->mode = VFS_DEFAULT_DIR_MODE;
			it->commit_time = revs[i + k].author_time;
			if (!tip[0])
				snprintf(tip, sizeof(tip), "%s", full);
		}
		i += run;
	}
	free(revs);
	if (tip[0]) {
		struct vfs_item *it = list_add(&rl->entries, "latest", 6);
		it->kind = VFS_FAKELINK;
		it->mode = VFS_DEFAULT_SYMLINK_MODE;
		it->target = xstrdup(tip);
	}
	QSORT(rl->entries.e, rl->entries.nr, entry_name_cmp);
	*out = &rl->entries;
	return 0;
}

/* A branch item: the head commit, with the root's metadata if wanted. */
static int revlist_item(struct vfs *v, const struct oid *head,
			int want_meta, struct vfs_item *it)
{
	it->kind = VFS_REVLIST;
	it->oid = *head;
	it->mode = VFS_DEFAULT_DIR_MODE;
	if (want_meta)
		return treeish_dir_meta(v, head, it);
	return 0;
}

struct root_ctx {
	struct vfs *v;
	struct vfs_list *out;
	int want_meta;
};

static int root_each(void *ctx, const char *refname, const struct oid *oid)
{
	struct root_ctx *c = ctx;
	const char *name = refname + strlen("refs/heads/");
	struct vfs_item *it = list_add(c->out, name, strlen(name));
	return revlist_item(c->v, oid, c->want_meta, it);
}

static int tag_item(struct vfs *v, const struct oid *oid,
		    struct vfs_item *it)
{
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret = obj_read(v, oid, &type, &b);

	if (ret < 0)
		goto out;
	it->oid = *oid;
	if (type == OBJ_COMMIT) {
		struct commit_info ci;
		ret = commit_parse(&ci, b.data, b.len);
		if (ret < 0)
			goto out;
		it->kind = VFS_COMMIT;
		it->oid = ci.tree;
		it->coid = *oid;
		it->commit_time = ci.author_time;
		it->mode = VFS_DEFAULT_DIR_MODE;
		commit_release(&ci);
	} else if (type == OBJ_BLOB) {
		it->kind = VFS_ITEM;
		it->git_mode = TREE_MODE_BLOB;
		it->mode = VFS_DEFAULT_FILE_MODE;
	} else if (type == OBJ_TREE) {
		it->kind = VFS_ITEM;
		it->git_mode = TREE_MODE_TREE;
		it->mode = VFS_DEFAULT_DIR_MODE;
	} else {
		ret = err_set(ERR_CORRUPT, "unexpected tag type %s for %s",
			      obj_type_name(type), oid_hex(oid));
	}
out:
	buf_release(&b);
	return ret;
}

static int tags_each(void *ctx, const char *refname, const struct oid *oid)
{
	struct root_ctx *c = ctx;
	const char *name = refname + strlen("refs/tags/");
	struct vfs_item *it = list_add(c->out, name, strlen(name));
	return tag_item(c->v, oid, it);
}

int vfs_contents(struct vfs *v, const struct vfs_item *dir, int want_meta,
		 struct vfs_list *out)
{
	struct root_ctx ctx = { v, out, want_meta };
	const struct vfs_list *revs;
	struct vfs_item *it;
	int ret;

	switch (dir->kind) {
	case VFS_ROOT:
		vfs_root(list_add(out, ".", 1));
		it = list_add(out, ".tag", 4);
		it->kind = VFS_TAGS;
		it->mode = VFS_DEFAULT_DIR_MODE;
		return for_each_ref(v, "refs/heads/", root_each, &ctx);
	case VFS_TAGS:
		it = list_add(out, ".", 1);
		it->kind = VFS_TAGS;
		it->mode = VFS_DEFAULT_DIR_MODE;
		return for_each_ref(v, "refs/tags/", tags_each, &ctx);
	case VFS_REVLIST:
		it = list_add(out, ".", 1);
		ret = revlist_item(v, &dir->oid, want_meta, it);
		if (ret < 0)
			return ret;
		ret = revlist_entries(v, &dir->oid, &revs);
		if (ret < 0)
			return ret;
		vfs_list_copy(out, revs);
		return 0;
	case VFS_COMMIT:
	case VFS_ITEM:
		if (!S_ISDIR(dir->mode))
			break;
		return tree_contents(v, dir, want_meta, out);
	default:
		break;
	}
	return err_set(ERR_USAGE, "not a directory");
}

/* --- path resolution (bup's _resolve_path) --- */

struct path_parts {
	int absolute, must_be_dir;
	char **parts;     /* in order */
	size_t nr, alloc;
};

static void parts_release(struct path_parts *p)
{
	for (size_t i = 0; i < p->nr; i++)
		free(p->parts[i]);
	free(p->parts);
	memset(p, 0, sizeof(*p));
}

/* bup's _decompose_path: collapse //, drop ".", note a trailing / or /. */
static void decompose(const char *path, struct path_parts *p)
{
	size_t len = strlen(path);
	const char *s = path, *end = path + len;

	memset(p, 0, sizeof(*p));
	if (*s == '/') {
		p->absolute = 1;
		while (*s == '/')
			s++;
	}
	if (s == end) {
		p->must_be_dir = 1;
		return;
	}
	/* Trailing "/" or "/." (after collapsing slashes). */
	{
		const char *e = end;
		while (e > s && e[-1] == '/')
			e--;
		if (e < end)
			p->must_be_dir = 1;
		else if (e - s >= 2 && e[-1] == '.' && e[-2] == '/')
			p->must_be_dir = 1;
	}
	while (s < end) {
		const char *slash = memchr(s, '/', (size_t)(end - s));
		size_t n = slash ? (size_t)(slash - s) : (size_t)(end - s);
		if (n && !(n == 1 && s[0] == '.')) {
			ALLOC_GROW(p->parts, p->nr + 1, p->alloc);
			p->parts[p->nr++] = xstrndup(s, n);
		}
		s += n;
		while (s < end && *s == '/')
			s++;
	}
	if (!p->nr)
		p->must_be_dir = 1;
}

/* Find `name` among a directory's contents (with "." first). */
static int lookup(struct vfs *v, const struct vfs_item *dir, const char *name,
		  int want_meta, struct vfs_item *found, int *exists)
{
	struct vfs_list l;
	int ret;

	*exists = 0;
	vfs_list_init(&l);
	if (dir->kind == VFS_REVLIST) {
		/* Avoid the root-metadata lookup per step: list only names. */
		const struct vfs_list *revs;
		ret = revlist_entries(v, &dir->oid, &revs);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < revs->nr; i++)
			if (!strcmp(revs->e[i].name, name)) {
				vfs_item_copy(found, &revs->e[i].item);
				*exists = 1;
				break;
			}
		return 0;
	}
	if (dir->kind == VFS_ROOT && strcmp(name, ".tag")) {
		/*
		 * One branch by name (bup's root_items with names): listing
		 * the root would read every branch's root metadata, so one
		 * damaged branch would break paths into all the others.
		 */
		struct oid head;
		char *refname;

		if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
		    !strcmp(name, ".."))
			return 0;
		refname = xstrfmt("refs/heads/%s", name);
		ret = read_ref(v, refname, &head);
		free(refname);
		if (ret == ERR_NOTFOUND)
			return 0;
		if (ret < 0)
			return ret;
		ret = revlist_item(v, &head, want_meta, found);
		if (ret < 0)
			return ret;
		*exists = 1;
		return 0;
	}
	ret = vfs_contents(v, dir, want_meta, &l);
	if (ret < 0)
		goto out;
	for (size_t i = 1; i < l.nr; i++)
		if (!strcmp(l.e[i].name, name)) {
			vfs_item_copy(found, &l.e[i].item);
			*exists = 1;
			break;
		}
out:
	vfs_list_release(&l);
	return ret;
}

static void pop_last(struct vfs_list *l)
{
	l->nr--;
	free(l->e[l->nr].name);
	vfs_item_release(&l->e[l->nr].item);
}

/*
 * bup's IOError texts name the resolution so far as Python prints it:
 * a list (or, for a parent, a tuple) of (name, item) pairs, each item a
 * namedtuple whose meta is a Metadata repr or the integer mode.
 */
static void item_repr(struct buf *out, const struct vfs_item *it)
{
	static const char *const kinds[] = {
		[VFS_ROOT] = "Root", [VFS_TAGS] = "Tags",
		[VFS_REVLIST] = "RevList", [VFS_COMMIT] = "Commit",
		[VFS_ITEM] = "Item", [VFS_CHUNKY] = "Chunky",
		[VFS_FAKELINK] = "FakeLink",
	};

	if (it->kind == VFS_MISSING) {
		buf_addstr(out, "None");
		return;
	}
	buf_addf(out, "%s(meta=", kinds[it->kind]);
	if (it->has_meta)
		metafmt_meta_repr(out, &it->meta);
	else
		buf_addf(out, "%u", it->mode);
	switch (it->kind) {
	case VFS_REVLIST:
	case VFS_ITEM:
	case VFS_CHUNKY:
	case VFS_COMMIT:
		buf_addstr(out, ", oid=");
		pypath_bytes_repr(out, it->oid.hash, sizeof(it->oid.hash));
		if (it->kind == VFS_COMMIT) {
			buf_addstr(out, ", coid=");
			pypath_bytes_repr(out, it->coid.hash,
					   sizeof(it->coid.hash));
		}
		break;
	case VFS_FAKELINK:
		buf_addstr(out, ", target=");
		pypath_bytes_repr(out, it->target, strlen(it->target));
		break;
	default:
		break;
	}
	buf_addch(out, ')');
}

static void resolution_repr(struct buf *out, const struct vfs_list *l,
			    int tuple)
{
	buf_addch(out, tuple ? '(' : '[');
	for (size_t i = 0; i < l->nr; i++) {
		if (i)
			buf_addstr(out, ", ");
		buf_addch(out, '(');
		pypath_bytes_repr(out, l->e[i].name, strlen(l->e[i].name));
		buf_addstr(out, ", ");
		item_repr(out, &l->e[i].item);
		buf_addch(out, ')');
	}
	if (tuple && l->nr == 1)
		buf_addch(out, ',');
	buf_addch(out, tuple ? ')' : ']');
}

/* str(vfs.IOError(errno, msg)) for the three errors resolution raises. */
static int resolve_error(struct vfs *v, int *err_no, int eno, const char *what,
			 const char *path, const struct vfs_list *parent,
			 const struct vfs_list *past)
{
	struct buf m = BUF_INIT;
	int ret;

	*err_no = eno;
	buf_addf(&m, "[Errno %d] ", eno);
	if (eno == ELOOP)
		buf_addstr(&m, "too many symlinks encountered while resolving ");
	else
		buf_addstr(&m, "path ");
	pypath_bytes_repr(&m, path, strlen(path));
	if (parent && parent->nr) {
		buf_addstr(&m, eno == ELOOP ? " relative to " :
			   " (relative to ");
		resolution_repr(&m, parent, 1);
		if (eno != ELOOP)
			buf_addch(&m, ')');
	}
	if (eno != ELOOP) {
		buf_addf(&m, " %s ", what);
		resolution_repr(&m, past, 0);
	}
	ret = err_set(ERR_GENERIC, "%s", m.data);
	buf_release(&v->resolve_err);
	v->resolve_err = m;
	return ret;
}

/*
 * A source that resolves (bup's RemoteRepo.resolve: the server): its
 * IOError arrives as errno and message and reads "[Errno N] message"
 * like a local one.
 */
static int resolve_by_source(struct vfs *v, const char *path,
			     const struct vfs_list *parent, int want_meta,
			     int follow, struct vfs_list *out, int *err_no)
{
	struct buf msg = BUF_INIT;
	int ret = v->src->ops->resolve(v->src, path, parent, want_meta,
				       follow, out, err_no, &msg);

	if (ret < 0 && *err_no) {
		buf_addf(&v->resolve_err, "[Errno %d] %s", *err_no, msg.data);
		ret = err_set(ERR_GENERIC, "%s", v->resolve_err.data);
	}
	buf_release(&msg);
	return ret;
}

int vfs_resolve(struct vfs *v, const char *path,
		const struct vfs_list *parent, int want_meta, int follow,
		struct vfs_list *out, int *err_no)
{
	struct path_parts p;
	char **future = NULL;     /* a stack: next segment on top */
	size_t nf = 0, af = 0;
	int hops = 0, ret = 0;
	struct buf target = BUF_INIT;

	*err_no = 0;
	buf_reset(&v->resolve_err);
	if (v->src->ops->resolve)
		return resolve_by_source(v, path, parent, want_meta, follow,
					 out, err_no);
	decompose(path, &p);
	if (p.must_be_dir)
		follow = 1;
	if (!p.absolute && parent && parent->nr)
		vfs_list_copy(out, parent);
	else
		vfs_root(list_add(out, "", 0));
	for (size_t i = p.nr; i-- > 0;) {
		ALLOC_GROW(future, nf + 1, af);
		future[nf++] = p.parts[i];
		p.parts[i] = NULL;
	}
	for (;;) {
		struct vfs_item item;
		char *segment;
		int exists;
		struct vfs_item *dir;

		if (!nf) {
			if (p.must_be_dir &&
			    !S_ISDIR(out->e[out->nr - 1].item.mode)) {
				ret = resolve_error(v, err_no, ENOTDIR,
						    "resolves to non-directory",
						    path, parent, out);
			}
			break;
		}
		segment = future[--nf];
		if (!strcmp(segment, "..")) {
			if (out->nr > 1)
				pop_last(out);
			free(segment);
			continue;
		}
		dir = &out->e[out->nr - 1].item;
		vfs_item_init(&item);
		ret = lookup(v, dir, segment, want_meta, &item, &exists);
		if (ret < 0) {
			free(segment);
			break;
		}
		if (!exists) {
			list_add(out, segment, strlen(segment))->kind =
				VFS_MISSING;
			free(segment);
			break;
		}
		if (!S_ISLNK(item.mode)) {
			struct vfs_item *it;
			if (!S_ISDIR(item.mode)) {
				it = list_add(out, segment, strlen(segment));
				*it = item;
				free(segment);
				if (nf) {
					ret = resolve_error(v, err_no, ENOTDIR,
							    "ends internally in non-directory here:",
							    path, parent, out);
				} else if (p.must_be_dir) {
					ret = resolve_error(v, err_no, ENOTDIR,
							    "resolves to non-directory",
							    path, parent, out);
				}
				break;
			}
			if (want_meta &&
			    (item.kind == VFS_ITEM || item.kind == VFS_COMMIT)) {
				ret = treeish_dir_meta(v, &item.oid, &item);
				if (ret < 0) {
					vfs_item_release(&item);
					free(segment);
					break;
				}
			}
			it = list_add(out, segment, strlen(segment));
			*it = item;
			free(segment);
			continue;
		}
		/* A symlink. */
		if (!nf && !follow) {
			struct vfs_item *it = list_add(out, segment,
						       strlen(segment));
			*it = item;
			free(segment);
			continue;
		}
		if (hops > 100) {
			vfs_item_release(&item);
			free(segment);
			ret = resolve_error(v, err_no, ELOOP, NULL, path, parent,
					    out);
			break;
		}
		buf_reset(&target);
		ret = vfs_readlink(v, &item, &target);
		vfs_item_release(&item);
		free(segment);
		if (ret < 0)
			break;
		{
			struct path_parts tp;
			decompose(target.data, &tp);
			if (tp.absolute) {
				while (out->nr > 1)
					pop_last(out);
			}
			for (size_t i = tp.nr; i-- > 0;) {
				ALLOC_GROW(future, nf + 1, af);
				future[nf++] = tp.parts[i];
				tp.parts[i] = NULL;
			}
			parts_release(&tp);
		}
		hops++;
	}
	for (size_t i = 0; i < nf; i++)
		free(future[i]);
	free(future);
	parts_release(&p);
	buf_release(&target);
	return ret;
}

/* --- symlinks, sizes, file contents --- */

int vfs_readlink(struct vfs *v, const struct vfs_item *item, struct buf *out)
{
	if (item->kind == VFS_FAKELINK) {
		buf_addstr(out, item->target);
		return 0;
	}
	if (item->has_meta && item->meta.symlink_target.len) {
		buf_add(out, item->meta.symlink_target.data,
			item->meta.symlink_target.len);
		return 0;
	}
	return read_whole(v, &item->oid, out);
}

/* bup's _normal_or_chunked_file_size: follow the last entries down. */
static int chunked_size(struct vfs *v, const struct oid *oid, uint64_t *size)
{
	struct buf b = BUF_INIT;
	struct oid cur = *oid;
	uint64_t ofs = 0;
	int ret;

	for (;;) {
		enum obj_type type;
		struct tree_iter it;
		struct tree_entry e, last;
		int have = 0;

		buf_reset(&b);
		ret = obj_read(v, &cur, &type, &b);
		if (ret < 0)
			break;
		if (type != OBJ_TREE) {
			*size = ofs + b.len;
			break;
		}
		tree_iter_init(&it, b.data, b.len);
		while ((ret = tree_iter_next(&it, &e)) > 0) {
			last = e;
			have = 1;
		}
		if (ret < 0)
			break;
		if (!have) {
			*size = ofs;
			break;
		}
		{
			char hex[32];
			char *end;
			size_t n = MIN(last.namelen, sizeof(hex) - 1);
			memcpy(hex, last.name, n);
			hex[n] = '\0';
			ofs += strtoull(hex, &end, 16);
			if (*end) {
				ret = err_set(ERR_CORRUPT,
					      "chunked file tree %s has a non-offset entry name",
					      oid_hex(&cur));
				break;
			}
		}
		cur = last.oid;
	}
	buf_release(&b);
	return ret < 0 ? ret : 0;
}

int vfs_item_size(struct vfs *v, const struct vfs_item *item, uint64_t *size)
{
	if (item->has_meta && item->meta.size >= 0) {
		*size = (uint64_t)item->meta.size;
		return 0;
	}
	if (S_ISREG(item->mode))
		return chunked_size(v, &item->oid, size);
	if (S_ISLNK(item->mode)) {
		struct buf t = BUF_INIT;
		int ret = vfs_readlink(v, item, &t);
		*size = t.len;
		buf_release(&t);
		return ret;
	}
	*size = 0;
	return 0;
}

struct vfs_file_level {
	struct oid oid;      /* of tree, so that a seek can keep it */
	struct buf tree;
	struct tree_iter it;
};

struct vfs_file {
	struct vfs *v;
	struct oid oid;             /* the file: a blob or a fanout tree */
	struct vfs_file_level *lv;
	size_t depth, alloc;
	struct buf blob;
	int blob_pending;
	size_t skip;                /* bytes of the pending blob to pass */
	const unsigned char *cur;   /* vfs_file_read's unread piece */
	size_t cur_len;
};

static struct vfs_file_level *push_level(struct vfs_file *f)
{
	struct vfs_file_level *l;

	if (f->depth >= 64) /* fanout trees are a few levels deep at most */
		return NULL;
	ALLOC_GROW(f->lv, f->depth + 1, f->alloc);
	l = &f->lv[f->depth++];
	buf_init(&l->tree, 0);
	return l;
}

int vfs_file_open(struct vfs *v, const struct oid *oid, struct vfs_file **out)
{
	struct vfs_file *f = xcalloc(1, sizeof(*f));
	enum obj_type type;
	struct buf b = BUF_INIT;
	int ret;

	f->v = v;
	f->oid = *oid;
	buf_init(&f->blob, 0);
	ret = obj_read(v, oid, &type, &b);
	if (ret < 0)
		goto fail;
	if (type == OBJ_BLOB) {
		f->blob = b;
		f->blob_pending = 1;
	} else if (type == OBJ_TREE) {
		struct vfs_file_level *l = push_level(f);
		l->oid = *oid;
		l->tree = b;
		tree_iter_init(&l->it, l->tree.data, l->tree.len);
	} else {
		buf_release(&b);
		ret = err_set(ERR_CORRUPT, "%s is a %s, not file data",
			      oid_hex(oid), obj_type_name(type));
		goto fail;
	}
	*out = f;
	return 0;
fail:
	vfs_file_close(f);
	return ret;
}

long long vfs_file_next(struct vfs_file *f, const unsigned char **data)
{
	for (;;) {
		struct vfs_file_level *l;
		struct tree_entry e;
		enum obj_type type;
		int ret;

		if (f->blob_pending) {
			size_t skip = f->skip;
			f->blob_pending = 0;
			f->skip = 0;
			if (f->blob.len > skip) {
				*data = (const unsigned char *)f->blob.data +
					skip;
				return (long long)(f->blob.len - skip);
			}
		}
		if (!f->depth)
			return 0;
		l = &f->lv[f->depth - 1];
		ret = tree_iter_next(&l->it, &e);
		if (ret < 0)
			return ret;
		if (!ret) {
			buf_release(&l->tree);
			f->depth--;
			continue;
		}
		buf_reset(&f->blob);
		if (S_ISDIR(e.mode)) {
			struct vfs_file_level *n = push_level(f);
			if (!n)
				return err_set(ERR_CORRUPT,
					       "chunked file tree too deep at %s",
					       oid_hex(&e.oid));
			n->oid = e.oid;
			ret = obj_read(f->v, &e.oid, &type, &n->tree);
			if (ret < 0)
				return ret;
			if (type != OBJ_TREE)
				return err_set(ERR_CORRUPT,
					       "%s should be a tree",
					       oid_hex(&e.oid));
			tree_iter_init(&n->it, n->tree.data, n->tree.len);
			continue;
		}
		ret = obj_read(f->v, &e.oid, &type, &f->blob);
		if (ret < 0)
			return ret;
		if (type != OBJ_BLOB)
			return err_set(ERR_CORRUPT, "%s should be a blob",
				       oid_hex(&e.oid));
		f->blob_pending = 1;
	}
}

long long vfs_file_read(struct vfs_file *f, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		size_t n;
		if (!f->cur_len) {
			long long r = vfs_file_next(f, &f->cur);
			if (r < 0)
				return r;
			if (r == 0)
				break;
			f->cur_len = (size_t)r;
		}
		n = MIN(f->cur_len, len - got);
		memcpy((char *)buf + got, f->cur, n);
		f->cur += n;
		f->cur_len -= n;
		got += n;
	}
	return (long long)got;
}

/* A fanout entry's name: its offset within its tree, in hex (FORMAT.md 3.4). */
static int entry_offset(const struct tree_entry *e, const struct oid *tree,
			uint64_t *ofs)
{
	uint64_t v = 0;

	if (!e->namelen || e->namelen > 16)
		goto bad;
	for (size_t i = 0; i < e->namelen; i++) {
		unsigned char c = (unsigned char)e->name[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			goto bad;
		v = v << 4 | d;
	}
	*ofs = v;
	return 0;
bad:
	return err_set(ERR_CORRUPT,
		       "chunked file tree %s has a non-offset entry name",
		       oid_hex(tree));
}

/*
 * Go down the fanout tree by the offsets in the entry names: at each
 * level the last entry starting at or before the target, so that a
 * seek reads one tree per level and one blob, never the chunks before.
 * Each level's iterator is left just after the entry taken, where
 * vfs_file_next() carries on.
 */
int vfs_file_seek(struct vfs_file *f, uint64_t ofs)
{
	struct oid cur = f->oid;
	uint64_t base = 0;
	enum obj_type type;
	int ret;

	f->blob_pending = 0;
	f->skip = 0;
	f->cur = NULL;
	f->cur_len = 0;
	for (size_t d = 0;; d++) {
		struct vfs_file_level *l;
		struct tree_entry e, take = { 0 };
		struct tree_iter it;
		uint64_t eofs = 0, take_ofs = 0;
		size_t n = 0, k = 0;

		/*
		 * A tree this reader holds at this depth already (a nearby
		 * seek, as readers interleaving on one file make them) is
		 * kept; below the first that differs, all are dropped.
		 */
		if (d < f->depth && oid_eq(&f->lv[d].oid, &cur)) {
			l = &f->lv[d];
		} else {
			while (f->depth > d)
				buf_release(&f->lv[--f->depth].tree);
			buf_reset(&f->blob);
			if (!(l = push_level(f)))
				return err_set(ERR_CORRUPT,
					       "chunked file tree too deep at %s",
					       oid_hex(&cur));
			l->oid = cur;
			ret = obj_read(f->v, &cur, &type, &l->tree);
			if (ret < 0) {
				buf_release(&l->tree);
				f->depth--;
				return ret;
			}
			if (type == OBJ_BLOB) {
				/* the leaf: keep it as the pending piece */
				struct buf t = l->tree;
				f->depth--;
				buf_release(&f->blob);
				f->blob = t;
				f->blob_pending = 1;
				f->skip = ofs - base < t.len ?
					(size_t)(ofs - base) : t.len;
				return 0;
			}
			if (type != OBJ_TREE)
				return err_set(ERR_CORRUPT,
					       "%s is a %s, not file data",
					       oid_hex(&cur),
					       obj_type_name(type));
		}
		tree_iter_init(&it, l->tree.data, l->tree.len);
		while ((ret = tree_iter_next(&it, &e)) > 0) {
			if ((ret = entry_offset(&e, &cur, &eofs)) < 0)
				return ret;
			if (n && eofs > ofs - base)
				break;
			take = e;
			take_ofs = eofs;
			k = n++;
		}
		if (ret < 0)
			return ret;
		/* past the iterator of this level: entry k consumed */
		tree_iter_init(&l->it, l->tree.data, l->tree.len);
		for (size_t j = 0; j <= k && n; j++)
			if ((ret = tree_iter_next(&l->it, &e)) < 0)
				return ret;
		if (!n) {
			/* an empty tree: at the end */
			while (f->depth > d + 1)
				buf_release(&f->lv[--f->depth].tree);
			return 0;
		}
		base += take_ofs;
		if (base > ofs)     /* the first entry starts after 0 */
			return err_set(ERR_CORRUPT,
				       "chunked file tree %s does not start at 0",
				       oid_hex(&cur));
		if (!S_ISDIR(take.mode) && take.mode != TREE_MODE_BLOB &&
		    !S_ISREG(take.mode))
			return err_set(ERR_CORRUPT,
				       "unexpected mode %o in chunked file tree %s",
				       take.mode, oid_hex(&cur));
		cur = take.oid;
	}
}

void vfs_file_rebind(struct vfs_file *f, struct vfs *v)
{
	f->v = v;
}

int vfs_file_stream(struct vfs *v, const struct oid *oid, vfs_data_fn fn,
		    void *ctx)
{
	struct vfs_file *f;
	const unsigned char *p;
	long long n;
	int ret;

	if (v->src->ops->join)
		return v->src->ops->join(v->src, oid, fn, ctx);
	if ((ret = vfs_file_open(v, oid, &f)) < 0)
		return ret;
	while ((n = vfs_file_next(f, &p)) > 0)
		if ((ret = fn(ctx, p, (size_t)n)) < 0)
			break;
	vfs_file_close(f);
	if (ret < 0)
		return ret;
	return n < 0 ? (int)n : 0;
}

void vfs_file_close(struct vfs_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->depth; i++)
		buf_release(&f->lv[i].tree);
	free(f->lv);
	buf_release(&f->blob);
	free(f);
}

const char *vfs_resolve_error(struct vfs *v)
{
	return v->resolve_err.data ? v->resolve_err.data : "";
}
