/*
 * vfs: the tree bup's vfs.py shows (FORMAT.md 6.2) over a repository
 * this test writes with packwriter, tree, commit and refs: the root,
 * branches, dated saves with -N suffixes and "latest", .tag, symlinks
 * inside saves, missing paths and objects, chunked files, metadata from
 * .bupm.  Then the same vfs over in-memory sources, which shows that it
 * reads only through struct vfs_source: a counting one, and damaged
 * objects that must come back as errors, and a merge in rev-list order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/commit.h"
#include "util/err.h"
#include "meta/meta.h"
#include "store/packwriter.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/tree.h"
#include "testrepo.h"
#include "unit.h"
#include "vfs/vfs.h"

#define T1 1700000000   /* 2023-11-14 22:13:20 UTC */
#define T2 1700003600   /* 2023-11-14 23:13:20 UTC */

/* ---- a repository written through the library ---------------------- */

struct fixture {
	struct repo *repo;
	struct oid c1, c2, c3;    /* c3 is the head of "main" */
	struct oid root1, hello, ghost;
};

static void file_meta(struct meta *m, unsigned mode, int64_t size,
		      const char *target)
{
	meta_init(m);
	m->mode = mode;
	m->uid = 1000;
	m->gid = 100;
	buf_addstr(&m->user, "alice");
	buf_addstr(&m->group, "users");
	m->mtime.sec = T1;
	m->atime.sec = T1;
	m->ctime.sec = T1;
	m->size = size;
	if (target)
		buf_addstr(&m->symlink_target, target);
}

/*
 * main: c1 (T1) <- c2 (T2) <- c3 (T2: same second, so -0 and -1).
 * c1 and c3 save root1: testrepo_put_files()'s files (testrepo.h),
 * the symlink dirlink -> sub, and a .bupm of
 *   dir 040700, then big, dirlink, ghost, hello 0100600, link
 * (none in sub: f gets the default modes).  c2 saves a tree with only
 * "hello" ("v2\n").
 * Tags: t1 -> c1, tb -> the hello blob.
 */
static void make_fixture(struct fixture *fx)
{
	static const char *const names[5] = {
		"big", "dirlink", "ghost", "hello", "link" };
	struct testrepo t;
	struct testrepo_files files;
	struct tree_builder tb;
	struct oid dlink, root2, h2;
	struct meta dm, mm[5];

	memset(fx, 0, sizeof(*fx));
	testrepo_open(&t);
	fx->repo = t.repo;
	tree_builder_init(&tb);

	testrepo_put_files(&t, &files);
	fx->hello = files.hello;
	fx->ghost = files.ghost;
	dlink = testrepo_put(&t, OBJ_BLOB, "sub", 3);

	file_meta(&dm, 040700, 0, NULL);
	file_meta(&mm[0], 0100644, 10, NULL);
	file_meta(&mm[1], 0120777, 3, "sub");
	file_meta(&mm[2], 0100644, 10, NULL);
	file_meta(&mm[3], 0100600, 6, NULL);
	file_meta(&mm[4], 0120777, 5, "hello");
	testrepo_add_bupm(&t, &tb, &dm, names, mm, 5);
	testrepo_add_files(&tb, &files);
	tree_builder_add(&tb, TREE_MODE_LINK, "dirlink", 7, &dlink);
	fx->root1 = testrepo_put_tree(&t, &tb);
	h2 = testrepo_put(&t, OBJ_BLOB, "v2\n", 3);
	tree_builder_add(&tb, TREE_MODE_BLOB, "hello", 5, &h2);
	root2 = testrepo_put_tree(&t, &tb);

	fx->c1 = testrepo_put_commit(&t, &fx->root1, NULL, T1);
	fx->c2 = testrepo_put_commit(&t, &root2, &fx->c1, T2);
	fx->c3 = testrepo_put_commit(&t, &fx->root1, &fx->c2, T2);
	testrepo_close(&t);
	testrepo_must(refs_update(fx->repo, "refs/heads/main", &fx->c3, NULL,
				  0, NULL), "ref");
	testrepo_must(refs_update(fx->repo, "refs/tags/t1", &fx->c1, NULL, 0,
				  NULL), "tag");
	testrepo_must(refs_update(fx->repo, "refs/tags/tb", &fx->hello, NULL,
				  0, NULL), "tag");

	tree_builder_release(&tb);
	meta_release(&dm);
	for (int i = 0; i < 5; i++)
		meta_release(&mm[i]);
}

static void free_fixture(struct fixture *fx)
{
	repo_free(fx->repo);
}

/* Resolve and return the last element (in *l, which the caller owns). */
static const struct vfs_entry *resolve(struct vfs *v, const char *path,
				       int want_meta, int follow,
				       struct vfs_list *l, int *ret)
{
	int err_no;

	vfs_list_init(l);
	*ret = vfs_resolve(v, path, NULL, want_meta, follow, l, &err_no);
	if (*ret < 0 || !l->nr)
		return NULL;
	return &l->e[l->nr - 1];
}

static int names_are(const struct vfs_list *l, const char *const *want,
		     size_t nr)
{
	if (l->nr != nr)
		return 0;
	for (size_t i = 0; i < nr; i++)
		if (strcmp(l->e[i].name, want[i]))
			return 0;
	return 1;
}

UNIT_TEST(vfs, root_branches_and_saves)
{
	static const char *const root[] = { ".", ".tag", "main" };
	static const char *const saves[] = {
		".", "2023-11-14-221320", "2023-11-14-231320-0",
		"2023-11-14-231320-1", "latest" };
	static const char *const tags[] = { ".", "t1", "tb" };
	struct fixture fx;
	struct vfs *v;
	struct vfs_list l;
	struct vfs_item rootitem;
	const struct vfs_entry *e;
	int ret;

	testrepo_tz_utc();
	make_fixture(&fx);
	CHECK(vfs_new(&v, fx.repo) == 0);

	e = resolve(v, "/", 0, 0, &l, &ret);
	CHECK(ret == 0 && l.nr == 1 && e && e->item.kind == VFS_ROOT &&
	      !strcmp(e->name, ""));
	vfs_list_release(&l);

	vfs_root(&rootitem);
	vfs_list_init(&l);
	CHECK(vfs_contents(v, &rootitem, 0, &l) == 0);
	CHECK(names_are(&l, root, 3));
	vfs_list_release(&l);

	e = resolve(v, "/main", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_REVLIST &&
	      oid_eq(&e->item.oid, &fx.c3) && S_ISDIR(e->item.mode));
	if (e) {
		struct vfs_item branch;
		struct vfs_list s;

		vfs_item_copy(&branch, &e->item);
		vfs_list_init(&s);
		CHECK(vfs_contents(v, &branch, 0, &s) == 0);
		CHECK(names_are(&s, saves, 5));
		if (s.nr == 5) {
			CHECK(oid_eq(&s.e[1].item.coid, &fx.c1));
			CHECK(oid_eq(&s.e[1].item.oid, &fx.root1));
			CHECK(s.e[1].item.commit_time == T1);
			/* same second: the older gets -0 */
			CHECK(oid_eq(&s.e[2].item.coid, &fx.c2));
			CHECK(oid_eq(&s.e[3].item.coid, &fx.c3));
			CHECK(s.e[4].item.kind == VFS_FAKELINK &&
			      !strcmp(s.e[4].item.target,
				      "2023-11-14-231320-1"));
		}
		vfs_list_release(&s);
		vfs_item_release(&branch);
	}
	vfs_list_release(&l);

	/* a dated save, and "latest" as a link and followed */
	e = resolve(v, "/main/2023-11-14-221320", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_COMMIT &&
	      oid_eq(&e->item.coid, &fx.c1));
	vfs_list_release(&l);
	e = resolve(v, "/main/latest", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_FAKELINK &&
	      S_ISLNK(e->item.mode));
	vfs_list_release(&l);
	e = resolve(v, "/main/latest", 0, 1, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_COMMIT &&
	      oid_eq(&e->item.coid, &fx.c3) &&
	      !strcmp(e->name, "2023-11-14-231320-1"));
	vfs_list_release(&l);
	e = resolve(v, "/main/latest/hello", 0, 0, &l, &ret);
	CHECK(ret == 0 && l.nr == 4 && e && e->item.kind == VFS_ITEM &&
	      oid_eq(&e->item.oid, &fx.hello));
	vfs_list_release(&l);

	/* .tag: a commit is a save, a blob a file */
	vfs_list_init(&l);
	e = resolve(v, "/.tag", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_TAGS);
	if (e) {
		struct vfs_item t;
		struct vfs_list s;

		vfs_item_copy(&t, &e->item);
		vfs_list_init(&s);
		CHECK(vfs_contents(v, &t, 0, &s) == 0);
		CHECK(names_are(&s, tags, 3));
		vfs_list_release(&s);
		vfs_item_release(&t);
	}
	vfs_list_release(&l);
	e = resolve(v, "/.tag/t1/hello", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && oid_eq(&e->item.oid, &fx.hello) &&
	      l.nr == 4 && l.e[2].item.kind == VFS_COMMIT &&
	      oid_eq(&l.e[2].item.coid, &fx.c1));
	vfs_list_release(&l);
	e = resolve(v, "/.tag/tb", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_ITEM &&
	      S_ISREG(e->item.mode) && oid_eq(&e->item.oid, &fx.hello));
	vfs_list_release(&l);

	vfs_free(v);
	free_fixture(&fx);
	testrepo_tz_restore();
}

UNIT_TEST(vfs, symlinks_and_missing)
{
	struct fixture fx;
	struct vfs *v;
	struct vfs_list l;
	struct buf t = BUF_INIT;
	const struct vfs_entry *e;
	struct vfs_file *f;
	int ret, err_no;

	testrepo_tz_utc();
	make_fixture(&fx);
	CHECK(vfs_new(&v, fx.repo) == 0);

	/* a symlink at the end: kept, or followed */
	e = resolve(v, "/main/latest/link", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && S_ISLNK(e->item.mode) &&
	      !strcmp(e->name, "link"));
	if (e) {
		CHECK(vfs_readlink(v, &e->item, &t) == 0);
		CHECK(!strcmp(t.data, "hello"));
	}
	vfs_list_release(&l);
	e = resolve(v, "/main/latest/link", 0, 1, &l, &ret);
	CHECK(ret == 0 && e && !strcmp(e->name, "hello") &&
	      oid_eq(&e->item.oid, &fx.hello));
	vfs_list_release(&l);
	/* along the way: always followed */
	e = resolve(v, "/main/latest/dirlink/f", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && !strcmp(e->name, "f") && l.nr == 5 &&
	      !strcmp(l.e[3].name, "sub"));
	vfs_list_release(&l);
	/* ".." and a trailing "/" */
	e = resolve(v, "/main/latest/sub/../hello", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && oid_eq(&e->item.oid, &fx.hello));
	vfs_list_release(&l);

	/* missing paths: a VFS_MISSING last element, not an error */
	e = resolve(v, "/main/latest/nope", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_MISSING &&
	      !strcmp(e->name, "nope"));
	vfs_list_release(&l);
	e = resolve(v, "/nobranch/latest", 0, 0, &l, &ret);
	CHECK(ret == 0 && l.nr == 2 && e && e->item.kind == VFS_MISSING);
	vfs_list_release(&l);
	e = resolve(v, "/main/1999-01-01-000000", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_MISSING);
	vfs_list_release(&l);

	/* a file used as a directory: bup's ENOTDIR */
	vfs_list_init(&l);
	ret = vfs_resolve(v, "/main/latest/hello/x", NULL, 0, 0, &l, &err_no);
	CHECK(ret == ERR_GENERIC && err_no == ENOTDIR);
	CHECK(!strncmp(vfs_resolve_error(v), "[Errno 20] path b'/main/",
		       strlen("[Errno 20] path b'/main/")));
	vfs_list_release(&l);

	/* an object the repository lacks: ERR_NOTFOUND */
	e = resolve(v, "/main/latest/ghost", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && oid_eq(&e->item.oid, &fx.ghost));
	vfs_list_release(&l);
	CHECK(vfs_file_open(v, &fx.ghost, &f) == ERR_NOTFOUND);

	buf_release(&t);
	vfs_free(v);
	free_fixture(&fx);
	testrepo_tz_restore();
}

static int collect(void *ctx, const void *data, size_t len)
{
	buf_add(ctx, data, len);
	return 0;
}

UNIT_TEST(vfs, chunked_contents_and_bupm_meta)
{
	struct fixture fx;
	struct vfs *v;
	struct vfs_list l;
	struct vfs_file *f;
	struct buf got = BUF_INIT;
	const struct vfs_entry *e;
	char small[3];
	uint64_t size;
	long long n;
	int ret;

	testrepo_tz_utc();
	make_fixture(&fx);
	CHECK(vfs_new(&v, fx.repo) == 0);

	/* without metadata: default modes, sizes from the objects */
	e = resolve(v, "/main/latest/big", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.kind == VFS_CHUNKY &&
	      !e->item.has_meta && e->item.mode == VFS_DEFAULT_FILE_MODE);
	if (e) {
		CHECK(vfs_item_size(v, &e->item, &size) == 0 && size == 10);
		/* read in pieces smaller than the chunks */
		CHECK(vfs_file_open(v, &e->item.oid, &f) == 0);
		while ((n = vfs_file_read(f, small, sizeof(small))) > 0)
			buf_add(&got, small, (size_t)n);
		CHECK(n == 0);
		CHECK(got.len == 10 && !memcmp(got.data, "abcdefghij", 10));
		vfs_file_close(f);
		buf_reset(&got);
		CHECK(vfs_file_stream(v, &e->item.oid, collect, &got) == 0);
		CHECK(got.len == 10 && !memcmp(got.data, "abcdefghij", 10));
	}
	vfs_list_release(&l);
	e = resolve(v, "/main/latest/link", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.mode == VFS_DEFAULT_SYMLINK_MODE);
	vfs_list_release(&l);

	/* with metadata: each non-directory entry takes its .bupm record */
	e = resolve(v, "/main/latest/hello", 1, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.has_meta &&
	      e->item.mode == 0100600 && e->item.meta.uid == 1000 &&
	      !strcmp(e->item.meta.user.data, "alice") &&
	      e->item.meta.mtime.sec == T1);
	/* the save itself carries the directory's record */
	CHECK(l.nr == 4 && l.e[2].item.has_meta &&
	      l.e[2].item.mode == 040700);
	vfs_list_release(&l);
	e = resolve(v, "/main/latest/link", 1, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.has_meta && e->item.mode == 0120777 &&
	      !strcmp(e->item.meta.symlink_target.data, "hello"));
	vfs_list_release(&l);
	e = resolve(v, "/main/latest/big", 1, 0, &l, &ret);
	CHECK(ret == 0 && e && e->item.has_meta &&
	      e->item.meta.size == 10);
	vfs_list_release(&l);
	/* a directory without .bupm: the default mode, no metadata */
	e = resolve(v, "/main/latest/sub", 1, 0, &l, &ret);
	CHECK(ret == 0 && e && !e->item.has_meta &&
	      e->item.mode == VFS_DEFAULT_DIR_MODE);
	vfs_list_release(&l);

	/* a listing with metadata: "." first, in demangled-name order */
	e = resolve(v, "/main/latest", 0, 1, &l, &ret);
	if (e) {
		static const char *const want[] = {
			".", "big", "dirlink", "ghost", "hello", "link", "sub" };
		struct vfs_item save;
		struct vfs_list c;

		vfs_item_copy(&save, &e->item);
		vfs_list_init(&c);
		CHECK(vfs_contents(v, &save, 1, &c) == 0);
		CHECK(names_are(&c, want, 7));
		if (c.nr == 7) {
			CHECK(c.e[0].item.has_meta &&
			      c.e[0].item.mode == 040700);
			CHECK(c.e[1].item.kind == VFS_CHUNKY &&
			      c.e[1].item.mode == 0100644);
			CHECK(c.e[6].item.mode == VFS_DEFAULT_DIR_MODE);
		}
		vfs_list_release(&c);
		vfs_item_release(&save);
		CHECK(vfs_fill_dir_meta(v, &l.e[l.nr - 1].item) == 0);
		CHECK(l.e[l.nr - 1].item.mode == 040700);
	}
	vfs_list_release(&l);

	buf_release(&got);
	vfs_free(v);
	free_fixture(&fx);
	testrepo_tz_restore();
}

/* ---- in-memory sources: the vfs reads only through the interface ----- */

struct mem_obj {
	struct oid oid;
	enum obj_type type;
	struct buf data;
};

struct mem_source {
	struct vfs_source src;       /* first */
	struct mem_obj obj[16];
	size_t nr;
	const char *refname[8];
	struct oid ref[8];
	size_t nr_refs;
	int cats, refs_calls;
	struct vfs_source *inner;    /* counting wrapper: forward here */
};

static struct oid mem_add(struct mem_source *m, enum obj_type type,
			  const void *data, size_t len)
{
	struct mem_obj *o;

	if (m->nr == ARRAY_SIZE(m->obj))
		BUG("mem_source: too many objects");
	o = &m->obj[m->nr++];
	o->type = type;
	buf_init(&o->data, 0);
	buf_add(&o->data, data, len);
	oid_hash_object(&o->oid, type, data, len);
	return o->oid;
}

static void mem_ref(struct mem_source *m, const char *name,
		    const struct oid *oid)
{
	if (m->nr_refs == ARRAY_SIZE(m->ref))
		BUG("mem_source: too many refs");
	m->refname[m->nr_refs] = name;
	m->ref[m->nr_refs++] = *oid;
}

static int mem_cat(struct vfs_source *s, const struct oid *oid,
		   enum obj_type *type, struct buf *out)
{
	struct mem_source *m = (struct mem_source *)s;

	m->cats++;
	if (m->inner)
		return m->inner->ops->cat(m->inner, oid, type, out);
	for (size_t i = 0; i < m->nr; i++)
		if (oid_eq(&m->obj[i].oid, oid)) {
			*type = m->obj[i].type;
			buf_add(out, m->obj[i].data.data, m->obj[i].data.len);
			return 0;
		}
	return err_set(ERR_NOTFOUND, "no object %s", oid_hex(oid));
}

static int mem_refs(struct vfs_source *s, const char *prefix,
		    vfs_ref_fn fn, void *ctx)
{
	struct mem_source *m = (struct mem_source *)s;
	int ret = 0;

	m->refs_calls++;
	if (m->inner)
		return m->inner->ops->refs(m->inner, prefix, fn, ctx);
	for (size_t i = 0; !ret && i < m->nr_refs; i++)
		if (!strncmp(m->refname[i], prefix, strlen(prefix)))
			ret = fn(ctx, m->refname[i], &m->ref[i]);
	return ret;
}

/* No read_ref, rev_list, join, resolve or free: the vfs does those. */
static const struct vfs_source_ops mem_ops = {
	.cat = mem_cat,
	.refs = mem_refs,
};

static void mem_release(struct mem_source *m)
{
	for (size_t i = 0; i < m->nr; i++)
		buf_release(&m->obj[i].data);
}

/* A one-commit branch `name` whose tree holds "f" -> data. */
static struct oid mem_branch(struct mem_source *m, const char *name,
			     const char *data)
{
	struct tree_builder tb;
	struct buf b = BUF_INIT;
	struct oid blob, tree, commit;

	blob = mem_add(m, OBJ_BLOB, data, strlen(data));
	tree_builder_init(&tb);
	tree_builder_add(&tb, TREE_MODE_BLOB, "f", 1, &blob);
	tree_builder_serialize(&tb, &b);
	tree = mem_add(m, OBJ_TREE, b.data, b.len);
	buf_reset(&b);
	commit_format(&b, &tree, NULL, "T <t@example.com>", T1, 0, "m\n", 2);
	commit = mem_add(m, OBJ_COMMIT, b.data, b.len);
	mem_ref(m, name, &commit);
	tree_builder_release(&tb);
	buf_release(&b);
	return blob;
}

UNIT_TEST(vfs, memory_source_counts_reads)
{
	struct mem_source m = { .src.ops = &mem_ops };
	struct vfs *v;
	struct vfs_list l;
	struct buf got = BUF_INIT;
	const struct vfs_entry *e;
	struct oid blob;
	int ret, before;

	testrepo_tz_utc();
	blob = mem_branch(&m, "refs/heads/b", "data\n");
	CHECK(vfs_new_source(&v, &m.src) == 0);

	/* the commit (walked by the vfs), then the tree */
	e = resolve(v, "/b/latest/f", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && oid_eq(&e->item.oid, &blob));
	CHECK(m.cats == 2 && m.refs_calls == 1);
	vfs_list_release(&l);
	/* the branch's commits are cached: only the tree again */
	before = m.cats;
	e = resolve(v, "/b/latest/f", 0, 0, &l, &ret);
	CHECK(ret == 0 && e && m.cats == before + 1);
	/* file contents through cat, as no join is offered */
	before = m.cats;
	if (e)
		CHECK(vfs_file_stream(v, &e->item.oid, collect, &got) == 0);
	CHECK(m.cats == before + 1 && !strcmp(got.data, "data\n"));
	vfs_list_release(&l);

	vfs_free(v);   /* no free op: the source stays the caller's */
	mem_release(&m);
	buf_release(&got);
	testrepo_tz_restore();
}

UNIT_TEST(vfs, counting_wrapper_over_local_source)
{
	struct fixture fx;
	struct mem_source m = { .src.ops = &mem_ops };
	struct vfs *v;
	struct vfs_list l;
	const struct vfs_entry *e;
	int ret;

	testrepo_tz_utc();
	make_fixture(&fx);
	CHECK(vfs_source_local_new(&m.inner, fx.repo) == 0);
	CHECK(vfs_new_source(&v, &m.src) == 0);
	e = resolve(v, "/main/latest/dirlink/f", 1, 0, &l, &ret);
	CHECK(ret == 0 && e && !strcmp(e->name, "f"));
	CHECK(m.cats > 0 && m.refs_calls == 1);
	vfs_list_release(&l);
	vfs_free(v);
	m.inner->ops->free(m.inner);
	free_fixture(&fx);
	testrepo_tz_restore();
}

UNIT_TEST(vfs, damaged_objects_are_errors)
{
	struct mem_source m = { .src.ops = &mem_ops };
	struct vfs *v;
	struct vfs_list l;
	struct vfs_file *f = NULL;
	struct buf b = BUF_INIT;
	struct tree_builder tb;
	struct oid tree, commit, blob, missing, fan;
	char buf[16];
	int ret;

	testrepo_tz_utc();
	/* a tree that does not parse (no NUL, no id) */
	tree = mem_add(&m, OBJ_TREE, "100644 f", 8);
	commit_format(&b, &tree, NULL, "T <t@example.com>", T1, 0, "m\n", 2);
	commit = mem_add(&m, OBJ_COMMIT, b.data, b.len);
	mem_ref(&m, "refs/heads/badtree", &commit);
	/* a branch naming a blob */
	blob = mem_add(&m, OBJ_BLOB, "x", 1);
	mem_ref(&m, "refs/heads/blob", &blob);
	/* a commit that does not parse */
	commit = mem_add(&m, OBJ_COMMIT, "garbage\n", 8);
	mem_ref(&m, "refs/heads/badcommit", &commit);
	/* a branch whose commit is missing */
	oid_hash_object(&missing, OBJ_COMMIT, "gone", 4);
	mem_ref(&m, "refs/heads/gone", &missing);
	CHECK(vfs_new_source(&v, &m.src) == 0);

	resolve(v, "/badtree/latest/f", 0, 0, &l, &ret);
	CHECK(ret == ERR_CORRUPT);
	vfs_list_release(&l);
	resolve(v, "/blob/latest", 0, 0, &l, &ret);
	CHECK(ret == ERR_CORRUPT && strstr(err_last(), "not a commit"));
	vfs_list_release(&l);
	resolve(v, "/badcommit/latest", 0, 0, &l, &ret);
	CHECK(ret == ERR_CORRUPT);
	vfs_list_release(&l);
	resolve(v, "/gone/latest", 0, 0, &l, &ret);
	CHECK(ret == ERR_NOTFOUND);
	vfs_list_release(&l);
	/* one damaged branch does not hide the others */
	mem_branch(&m, "refs/heads/good", "ok\n");
	resolve(v, "/good/latest/f", 0, 0, &l, &ret);
	CHECK(ret == 0);
	vfs_list_release(&l);

	/* a fanout naming a missing chunk, and one with a commit in it */
	tree_builder_init(&tb);
	tree_builder_add(&tb, TREE_MODE_BLOB, "0000000000000000", 16, &blob);
	tree_builder_add(&tb, TREE_MODE_BLOB, "0000000000000001", 16,
			 &missing);
	buf_reset(&b);
	tree_builder_serialize(&tb, &b);
	fan = mem_add(&m, OBJ_TREE, b.data, b.len);
	CHECK(vfs_file_open(v, &fan, &f) == 0);
	if (f) {
		CHECK(vfs_file_read(f, buf, sizeof(buf)) == ERR_NOTFOUND);
		vfs_file_close(f);
	}
	tree_builder_release(&tb);
	tree_builder_init(&tb);
	tree_builder_add(&tb, TREE_MODE_BLOB, "0000000000000000", 16,
			 &commit);
	buf_reset(&b);
	tree_builder_serialize(&tb, &b);
	fan = mem_add(&m, OBJ_TREE, b.data, b.len);
	CHECK(vfs_file_stream(v, &fan, collect, &b) == ERR_CORRUPT);
	CHECK(vfs_file_open(v, &commit, &f) == ERR_CORRUPT);

	tree_builder_release(&tb);
	buf_release(&b);
	vfs_free(v);
	mem_release(&m);
	testrepo_tz_restore();
}

/* One commit with any number of parents, at time t. */
static struct oid mem_commit(struct mem_source *m, const struct oid *tree,
			     const struct oid *parents, size_t np, int64_t t)
{
	struct buf b = BUF_INIT;
	struct oid oid;

	buf_addf(&b, "tree %s\n", oid_hex(tree));
	for (size_t i = 0; i < np; i++)
		buf_addf(&b, "parent %s\n", oid_hex(&parents[i]));
	buf_addf(&b, "author T <t@example.com> %lld +0000\n"
		 "committer T <t@example.com> %lld +0000\n\nm\n",
		 (long long)t, (long long)t);
	oid = mem_add(m, OBJ_COMMIT, b.data, b.len);
	buf_release(&b);
	return oid;
}

/*
 * A merge of two commits of the same second, the second a child of the
 * first: git rev-list order (newest committer date first, arrival among
 * equals), as a server's rev-list lists them, so the first parent is
 * the newer of the two same-second saves.
 */
UNIT_TEST(vfs, merge_history_in_rev_list_order)
{
	static const char *const want[] = {
		".", "2023-11-14-221320", "2023-11-14-231320-0",
		"2023-11-14-231320-1", "2023-11-15-001320", "latest" };
	struct mem_source m = { .src.ops = &mem_ops };
	struct vfs *v;
	struct vfs_list l, c;
	struct tree_builder tb;
	struct buf b = BUF_INIT;
	struct oid tree, root, ab[2], merge;
	const struct vfs_entry *e;
	int ret;

	testrepo_tz_utc();
	tree_builder_init(&tb);
	tree_builder_serialize(&tb, &b);
	tree = mem_add(&m, OBJ_TREE, b.data, b.len);
	root = mem_commit(&m, &tree, NULL, 0, T1);
	ab[0] = mem_commit(&m, &tree, &root, 1, T2);
	ab[1] = mem_commit(&m, &tree, &ab[0], 1, T2);
	merge = mem_commit(&m, &tree, ab, 2, T2 + 3600);
	mem_ref(&m, "refs/heads/m", &merge);
	CHECK(vfs_new_source(&v, &m.src) == 0);

	e = resolve(v, "/m", 0, 0, &l, &ret);
	CHECK(ret == 0 && e);
	if (e) {
		struct vfs_item it;

		vfs_item_copy(&it, &e->item);
		vfs_list_init(&c);
		CHECK(vfs_contents(v, &it, 0, &c) == 0);
		CHECK(names_are(&c, want, 6));
		if (c.nr == 6) {
			/* rev-list: merge, ab[0], ab[1], root */
			CHECK(oid_eq(&c.e[3].item.coid, &ab[0]));
			CHECK(oid_eq(&c.e[2].item.coid, &ab[1]));
			CHECK(oid_eq(&c.e[1].item.coid, &root));
			CHECK(oid_eq(&c.e[4].item.coid, &merge));
		}
		vfs_list_release(&c);
		vfs_item_release(&it);
	}
	vfs_list_release(&l);
	tree_builder_release(&tb);
	buf_release(&b);
	vfs_free(v);
	mem_release(&m);
	testrepo_tz_restore();
}

/* A tree of entries named by hex offsets (FORMAT.md 3.4). */
static struct oid mem_fanout(struct mem_source *m, const char *const *names,
			     const struct oid *oids, const unsigned *modes,
			     size_t n)
{
	struct tree_builder tb;
	struct buf b = BUF_INIT;
	struct oid t;

	tree_builder_init(&tb);
	for (size_t i = 0; i < n; i++)
		tree_builder_add(&tb, modes[i], names[i], strlen(names[i]),
				 &oids[i]);
	tree_builder_serialize(&tb, &b);
	t = mem_add(m, OBJ_TREE, b.data, b.len);
	tree_builder_release(&tb);
	buf_release(&b);
	return t;
}

UNIT_TEST(vfs, seek_goes_down_the_fanout_by_offsets)
{
	static const char data[] = "abcdefghijklmnopqrstuvwxyz";
	static const size_t len[] = { 3, 5, 1, 7, 4, 6 };
	static const char *const na[] = { "0", "3", "8" };
	static const char *const nb[] = { "00", "07", "0b" };
	static const char *const ntop[] = { "00", "09" };
	static const char *const nbad[] = { "00", "0x" };
	static const unsigned blobs[] = { TREE_MODE_BLOB, TREE_MODE_BLOB,
					  TREE_MODE_BLOB };
	static const unsigned trees[] = { TREE_MODE_TREE, TREE_MODE_TREE };
	struct mem_source m = { .src.ops = &mem_ops };
	struct oid blob[6], sub[2], top, bad;
	struct vfs *v;
	struct vfs_file *f;
	char got[64];
	size_t at = 0;
	long long n;
	int before;

	for (size_t i = 0; i < 6; i++) {
		blob[i] = mem_add(&m, OBJ_BLOB, data + at, len[i]);
		at += len[i];
	}
	sub[0] = mem_fanout(&m, na, blob, blobs, 3);
	sub[1] = mem_fanout(&m, nb, blob + 3, blobs, 3);
	top = mem_fanout(&m, ntop, sub, trees, 2);
	bad = mem_fanout(&m, nbad, sub, trees, 2);
	CHECK(vfs_new_source(&v, &m.src) == 0);

	/* every offset, on one reader, forwards and then backwards */
	CHECK(vfs_file_open(v, &top, &f) == 0);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k <= 27; k++) {
			size_t o = pass ? 27 - k : k;
			size_t want = o < 26 ? 26 - o : 0;
			CHECK(vfs_file_seek(f, o) == 0);
			n = vfs_file_read(f, got, sizeof(got));
			CHECK(n == (long long)want);
			if (n == (long long)want)
				CHECK(!memcmp(got, data + o, want));
		}
	}
	/* a seek reads one tree per level and one blob: not the start */
	before = m.cats;
	CHECK(vfs_file_seek(f, 20) == 0);
	CHECK(m.cats == before + 3);
	n = vfs_file_read(f, got, 2);
	CHECK(n == 2 && !memcmp(got, "uv", 2) && m.cats == before + 3);
	/* reading on after a seek crosses into the next blob */
	n = vfs_file_read(f, got, 3);
	CHECK(n == 3 && !memcmp(got, "wxy", 3));
	/* a nearby seek keeps the trees it holds: one blob read */
	before = m.cats;
	CHECK(vfs_file_seek(f, 12) == 0);
	CHECK(m.cats == before + 1);
	n = vfs_file_read(f, got, 3);
	CHECK(n == 3 && !memcmp(got, "mno", 3));
	vfs_file_close(f);

	/* a plain blob seeks within itself */
	CHECK(vfs_file_open(v, &blob[3], &f) == 0);
	CHECK(vfs_file_seek(f, 5) == 0);
	n = vfs_file_read(f, got, sizeof(got));
	CHECK(n == 2 && !memcmp(got, "op", 2));
	vfs_file_close(f);

	/* an entry name that is not an offset is corrupt data */
	CHECK(vfs_file_open(v, &bad, &f) == 0);
	CHECK(vfs_file_seek(f, 12) == ERR_CORRUPT);
	CHECK(strstr(err_last(), "non-offset entry name") != NULL);
	vfs_file_close(f);
	vfs_free(v);
	mem_release(&m);
}
