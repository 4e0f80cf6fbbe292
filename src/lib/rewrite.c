/*
 * Rewriting branch history without some saves (rewrite.h), bup 0.33.7's
 * lib/bup/rm.py: dead_items, filter_branch, append_commit and the ref
 * updates of bup_rm.  Commits are written as FORMAT.md 6.1 describes.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "commit.h"
#include "err.h"
#include "odb.h"
#include "oidset.h"
#include "packwriter.h"
#include "refs.h"
#include "repo.h"
#include "rewrite.h"
#include "util.h"
#include "vfs.h"

/* ---- reading commits ------------------------------------------------ */

static int read_commit(struct odb *odb, const struct oid *oid,
		       struct commit_info *ci)
{
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret = odb_read(odb, oid, &type, &b);

	if (!ret && type != OBJ_COMMIT)
		ret = err_set(ERR_CORRUPT, "expected 'commit', saw '%s' for %s",
			      obj_type_name(type), oid_hex(oid));
	if (!ret)
		ret = commit_parse(ci, b.data, b.len);
	buf_release(&b);
	return ret;
}

/* ---- rev-list ------------------------------------------------------- */

/* A commit waiting in the rev-list queue, with what we read of it. */
struct pending {
	struct rewrite_rev rev;
	uint64_t seq;         /* insertion order breaks date ties, as git's
				 prio_queue does */
	struct oid *parents;
	size_t nr_parents;
};

/* Max-heap on (committer date, then earliest insertion). */
static int pending_before(const struct pending *a, const struct pending *b)
{
	if (a->rev.committer_time != b->rev.committer_time)
		return a->rev.committer_time > b->rev.committer_time;
	return a->seq < b->seq;
}

static void heap_push(struct pending *h, size_t *nr, const struct pending *p)
{
	size_t i = (*nr)++;

	h[i] = *p;
	while (i) {
		size_t up = (i - 1) / 2;
		struct pending t;
		if (!pending_before(&h[i], &h[up]))
			break;
		t = h[i];
		h[i] = h[up];
		h[up] = t;
		i = up;
	}
}

static struct pending heap_pop(struct pending *h, size_t *nr)
{
	struct pending top = h[0];
	size_t i = 0, n = --(*nr);

	h[0] = h[n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		struct pending t;
		if (l < n && pending_before(&h[l], &h[best]))
			best = l;
		if (r < n && pending_before(&h[r], &h[best]))
			best = r;
		if (best == i)
			break;
		t = h[i];
		h[i] = h[best];
		h[best] = t;
		i = best;
	}
	return top;
}

static int pending_read(struct odb *odb, const struct oid *oid, uint64_t seq,
			struct pending *p)
{
	struct commit_info ci;
	int ret = read_commit(odb, oid, &ci);

	if (ret)
		return ret;
	p->rev.oid = *oid;
	p->rev.author_time = ci.author_time;
	p->rev.committer_time = ci.committer_time;
	p->seq = seq;
	p->parents = ci.parents;
	p->nr_parents = ci.nr_parents;
	ci.parents = NULL;
	ci.nr_parents = 0;
	commit_release(&ci);
	return 0;
}

int rewrite_rev_list(struct odb *odb, const struct oid *tip,
		     struct rewrite_rev **out, size_t *nr_out)
{
	struct pending *heap = NULL, p;
	struct rewrite_rev *list = NULL;
	struct oidset seen = OIDSET_INIT;
	size_t hnr = 0, halloc = 0, nr = 0, alloc = 0;
	uint64_t seq = 0;
	int ret;

	if ((ret = pending_read(odb, tip, seq++, &p)))
		return ret;
	oidset_add(&seen, tip);
	ALLOC_GROW(heap, hnr + 1, halloc);
	heap_push(heap, &hnr, &p);
	while (hnr) {
		p = heap_pop(heap, &hnr);
		ALLOC_GROW(list, nr + 1, alloc);
		list[nr++] = p.rev;
		for (size_t i = 0; i < p.nr_parents && !ret; i++) {
			struct pending q;
			if (!oidset_add(&seen, &p.parents[i]))
				continue;
			ret = pending_read(odb, &p.parents[i], seq++, &q);
			if (ret)
				break;
			ALLOC_GROW(heap, hnr + 1, halloc);
			heap_push(heap, &hnr, &q);
		}
		free(p.parents);
		if (ret)
			break;
	}
	for (size_t i = 0; i < hnr; i++)
		free(heap[i].parents);
	free(heap);
	oidset_clear(&seen);
	if (ret) {
		free(list);
		return ret;
	}
	*out = list;
	*nr_out = nr;
	return 0;
}

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
	struct buf b = BUF_INIT;
	int ret = read_commit(odb, oid, &ci);

	if (ret)
		return ret;
	/* bup keeps one parent: the new one (rm.py append_commit) */
	commit_format_idents(&b, &ci.tree, parent, ci.author, ci.author_time,
			     ci.author_tz, ci.committer, ci.committer_time,
			     ci.committer_tz, ci.message, ci.message_len);
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
	struct rewrite_rev *revs = NULL;
	struct oid *drop, last;
	size_t nr = 0, first = 0;
	int have_last = 0, ret;

	if ((ret = rewrite_rev_list(odb, &b->head, &revs, &nr)))
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
