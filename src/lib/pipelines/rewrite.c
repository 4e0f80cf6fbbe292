/*
 * Rewriting branch history without some saves (rewrite.h), bup 0.33.7's
 * lib/bup/rm.py: dead_items, filter_branch, append_commit and the ref
 * updates of bup_rm; FORMAT.md 6.4.
 */
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "store/commit.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/packwriter.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/revwalk.h"
#include "pipelines/rewrite.h"
#include "util/util.h"
#include "vfs/vfs.h"

/* ---- the plan (bup's dead_items) ------------------------------------ */

void rewrite_plan_init(struct rewrite_plan *p)
{
	memset(p, 0, sizeof(*p));
}

static void branch_release(struct rewrite_branch *b)
{
	free(b->name);
	free(b->drop);
}

void rewrite_plan_release(struct rewrite_plan *p)
{
	for (size_t i = 0; i < p->nr_dead; i++)
		branch_release(&p->dead[i]);
	for (size_t i = 0; i < p->nr_saves; i++)
		branch_release(&p->saves[i]);
	for (size_t i = 0; i < p->nr_errors; i++) {
		free(p->errors[i].path);
		free(p->errors[i].resolved);
		free(p->errors[i].msg);
	}
	free(p->dead);
	free(p->saves);
	free(p->errors);
	memset(p, 0, sizeof(*p));
}

static struct rewrite_branch *branch_find(struct rewrite_branch *b,
					  size_t nr, const char *name)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(b[i].name, name))
			return &b[i];
	return NULL;
}

/*
 * bup keeps both in dicts: adding a name already there keeps its place
 * (and, for dead branches, bup's re-assignment changes nothing we use).
 */
static struct rewrite_branch *branch_add(struct rewrite_branch **b,
					 size_t *nr, size_t *alloc,
					 const char *name,
					 const struct oid *head)
{
	struct rewrite_branch *d = branch_find(*b, *nr, name);

	if (d)
		return d;
	ALLOC_GROW(*b, *nr + 1, *alloc);
	d = &(*b)[(*nr)++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name);
	d->head = *head;
	return d;
}

static void branch_remove(struct rewrite_branch *b, size_t *nr,
			  const char *name)
{
	struct rewrite_branch *d = branch_find(b, *nr, name);
	size_t i;

	if (!d)
		return;
	i = (size_t)(d - b);
	branch_release(d);
	memmove(&b[i], &b[i + 1], (*nr - i - 1) * sizeof(*b));
	(*nr)--;
}

static int plan_error(struct rewrite_plan *p, enum rewrite_error_kind kind,
		      const char *path, char *resolved, const char *msg)
{
	struct rewrite_error *e;

	ALLOC_GROW(p->errors, p->nr_errors + 1, p->alloc_errors);
	e = &p->errors[p->nr_errors++];
	e->kind = kind;
	e->path = xstrdup(path);
	e->resolved = resolved;
	e->msg = msg ? xstrdup(msg) : NULL;
	return 1;
}

int rewrite_plan_add(struct rewrite_plan *p, struct vfs *v, const char *path)
{
	struct vfs_list res;
	const struct vfs_entry *leaf, *br;
	int err_no = 0, ret;

	vfs_list_init(&res);
	ret = vfs_resolve(v, path, NULL, 1, 0, &res, &err_no);
	if (ret < 0) {
		/* bup's str(vfs.IOError) is the whole text, with the path */
		ret = plan_error(p, REWRITE_ERR_RESOLVE, path, NULL,
				 err_no ? vfs_resolve_error(v) : err_last());
		goto out;
	}
	ret = 0;
	leaf = &res.e[res.nr - 1];
	br = res.nr >= 2 ? &res.e[res.nr - 2] : NULL;
	if (leaf->item.kind == VFS_MISSING) {
		struct buf j = BUF_INIT;
		for (size_t k = 0; k < res.nr; k++) {
			if (k)
				buf_addch(&j, '/');
			buf_addstr(&j, res.e[k].name);
		}
		ret = plan_error(p, REWRITE_ERR_MISSING, path, buf_detach(&j,
				 NULL), NULL);
	} else if (leaf->item.kind == VFS_REVLIST) {
		/* rm /foo: deleting the branch obviates rm /foo/bar */
		branch_add(&p->dead, &p->nr_dead, &p->alloc_dead, leaf->name,
			   &leaf->item.oid);
		branch_remove(p->saves, &p->nr_saves, leaf->name);
	} else if (leaf->item.kind == VFS_COMMIT && br &&
		   br->item.kind == VFS_REVLIST) {
		struct rewrite_branch *d;
		if (!strcmp(leaf->name, "latest")) {
			ret = plan_error(p, REWRITE_ERR_LATEST, path, NULL,
					 NULL);
		} else if (!branch_find(p->dead, p->nr_dead, br->name)) {
			d = branch_add(&p->saves, &p->nr_saves,
				       &p->alloc_saves, br->name,
				       &br->item.oid);
			ALLOC_GROW(d->drop, d->nr_drop + 1, d->alloc_drop);
			d->drop[d->nr_drop++] = leaf->item.coid;
		}
	} else {
		/* also /.tag/COMMIT, where bup 0.33.7 fails an assertion */
		ret = plan_error(p, REWRITE_ERR_UNKNOWN, path, NULL, NULL);
	}
out:
	vfs_list_release(&res);
	return ret;
}

/* ---- writing (bup's filter_branch and append_commit) ---------------- */

void rewrite_result_init(struct rewrite_result *res)
{
	memset(res, 0, sizeof(*res));
}

void rewrite_result_release(struct rewrite_result *res)
{
	for (size_t i = 0; i < res->nr; i++)
		free(res->u[i].ref);
	free(res->u);
	memset(res, 0, sizeof(*res));
}

static struct rewrite_update *result_add(struct rewrite_result *res,
					 const struct rewrite_branch *b)
{
	struct rewrite_update *u;

	ALLOC_GROW(res->u, res->nr + 1, res->alloc);
	u = &res->u[res->nr++];
	memset(u, 0, sizeof(*u));
	u->ref = xstrfmt("refs/heads/%s", b->name);
	u->old = b->head;
	return u;
}

static int append_commit(struct odb *odb, struct packwriter *w,
			 const struct oid *oid, const struct oid *parent,
			 struct oid *out)
{
	struct commit_info ci;
	struct commit_sig author, committer;
	struct buf b = BUF_INIT;
	int ret = revwalk_read_odb(odb, oid, &ci);

	if (ret)
		return ret;
	/*
	 * bup keeps one parent: the new one (rm.py append_commit); the
	 * zones are the commit's, written as git does (tz_local = 0)
	 */
	author = (struct commit_sig){ ci.author, ci.author_time,
				      ci.author_tz, 0 };
	committer = (struct commit_sig){ ci.committer, ci.committer_time,
					 ci.committer_tz, 0 };
	commit_format_sigs(&b, &ci.tree, parent, &author, &committer,
			   ci.message, ci.message_len);
	ret = packwriter_write(w, OBJ_COMMIT, b.data, b.len, out);
	buf_release(&b);
	commit_release(&ci);
	return ret;
}

static int oid_order(const void *a, const void *b)
{
	return oid_cmp(a, b);
}

/* bup's filter_branch(): the new tip in *u (delete when none is left). */
static int filter_branch(struct odb *odb, struct packwriter *w,
			 const struct rewrite_branch *b,
			 struct rewrite_update *u)
{
	struct revwalk_entry *revs = NULL;
	struct oid *drop, last;
	size_t nr = 0, first = 0;
	int have_last = 0, ret;

	/* `git rev-list TIP`, as bup's filter_branch */
	ret = revwalk_list(&b->head, NULL, revwalk_read_odb, odb, &revs, &nr);
	if (ret)
		return ret;
	drop = xmalloc(st_mult(b->nr_drop, sizeof(*drop)));
	memcpy(drop, b->drop, b->nr_drop * sizeof(*drop));
	qsort(drop, b->nr_drop, sizeof(*drop), oid_order);
#define DROPPED(o) bsearch((o), drop, b->nr_drop, sizeof(*drop), oid_order)
	/* revs[] is newest first; bup walks it oldest first */
	while (first < nr && !DROPPED(&revs[nr - 1 - first].oid))
		first++;
	if (first == nr) {
		/* bup lets StopIteration escape; the vfs only gives saves */
		ret = err_set(ERR_GENERIC, "no save to remove on %s", b->name);
		goto out;
	}
	if (first) {
		last = revs[nr - first].oid;
		have_last = 1;
	}
	for (size_t i = first; i < nr; i++) {
		const struct oid *c = &revs[nr - 1 - i].oid;
		if (DROPPED(c))
			continue;
		ret = append_commit(odb, w, c, have_last ? &last : NULL, &last);
		if (ret)
			goto out;
		have_last = 1;
	}
#undef DROPPED
	if (have_last)
		u->new = last;
	u->delete = !have_last;
out:
	free(drop);
	free(revs);
	return ret;
}

int rewrite_write(struct rewrite_result *res, struct repo *r,
		  struct odb *odb, const struct rewrite_plan *p, int level)
{
	struct packwriter_opts po = { 0 };
	struct packwriter *w = NULL;
	int ret;

	for (size_t i = 0; i < p->nr_dead; i++)
		result_add(res, &p->dead[i])->delete = 1;
	if (!p->nr_saves)
		return 0;
	repo_compression(r, level, &po.impl, &po.level);
	po.max_size = PACKWRITER_DEFAULT_MAX_SIZE;
	po.max_objects = MAX(1, po.max_size / 5000);
	if ((ret = packwriter_new(&w, r->objdir, odb, &po)))
		return ret;
	for (size_t i = 0; i < p->nr_saves; i++) {
		ret = filter_branch(odb, w, &p->saves[i],
				    result_add(res, &p->saves[i]));
		if (ret) {
			packwriter_abort(w);
			return ret;
		}
	}
	ret = packwriter_close(w);
	return ret < 0 ? ret : 0;
}

int rewrite_apply(struct repo *r, const struct rewrite_update *u)
{
	if (u->delete)
		return refs_delete(r, u->ref, &u->old);
	return refs_update(r, u->ref, &u->new, &u->old, 0, NULL);
}
