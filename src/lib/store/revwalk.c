/* The revision walk (revwalk.h). */
#include "store/revwalk.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "store/commit.h"
#include "util/err.h"
#include "store/odb.h"
#include "util/oidset.h"
#include "util/util.h"

/* A commit read and queued: what it is and where it goes next. */
struct queued {
	struct revwalk_entry e;
	struct oid *parents;
	size_t nr_parents;
	uint64_t seq;          /* arrival: ties keep it */
};

/* newest committer date first, then the earlier arrival (git) */
static int before(const struct queued *a, const struct queued *b)
{
	if (a->e.committer_time != b->e.committer_time)
		return a->e.committer_time > b->e.committer_time;
	return a->seq < b->seq;
}

static void swap(struct queued *a, struct queued *b)
{
	struct queued t = *a;

	*a = *b;
	*b = t;
}

struct heap {
	struct queued *v;
	size_t nr, alloc;
	uint64_t seq;
};

static void heap_push(struct heap *h, struct queued *q)
{
	size_t i;

	q->seq = h->seq++;
	ALLOC_GROW(h->v, h->nr + 1, h->alloc);
	i = h->nr++;
	h->v[i] = *q;
	while (i && before(&h->v[i], &h->v[(i - 1) / 2])) {
		swap(&h->v[i], &h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static struct queued heap_pop(struct heap *h)
{
	struct queued top = h->v[0];
	size_t i = 0;

	h->v[0] = h->v[--h->nr];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->nr && before(&h->v[l], &h->v[m]))
			m = l;
		if (r < h->nr && before(&h->v[r], &h->v[m]))
			m = r;
		if (m == i)
			break;
		swap(&h->v[i], &h->v[m]);
		i = m;
	}
	return top;
}

/* Read oid into q, keeping what the walk needs of it. */
static int load(const struct oid *oid, revwalk_read_fn read, void *ctx,
		struct queued *q)
{
	struct commit_info ci;
	int ret;

	memset(&ci, 0, sizeof(ci));
	ret = read(ctx, oid, &ci);
	if (ret < 0) {
		commit_release(&ci);
		return ret;
	}
	memset(q, 0, sizeof(*q));
	q->e.oid = *oid;
	q->e.tree = ci.tree;
	q->e.author_time = ci.author_time;
	q->e.committer_time = ci.committer_time;
	q->parents = ci.parents;  /* taken over */
	q->nr_parents = ci.nr_parents;
	ci.parents = NULL;
	ci.nr_parents = 0;
	commit_release(&ci);
	return 0;
}

int revwalk_list(const struct oid *tip, const struct oid *until,
		 revwalk_read_fn read, void *ctx,
		 struct revwalk_entry **out, size_t *nr_out)
{
	struct heap h = { 0 };
	struct oidset queued = OIDSET_INIT;
	struct revwalk_entry *list = NULL;
	size_t nr = 0, alloc = 0;
	struct queued q;
	int ret;

	*out = NULL;
	*nr_out = 0;
	ret = load(tip, read, ctx, &q);
	if (ret < 0)
		goto out;
	oidset_add(&queued, tip);
	heap_push(&h, &q);
	while (h.nr) {
		q = heap_pop(&h);
		ALLOC_GROW(list, nr + 1, alloc);
		list[nr++] = q.e;
		if (until && oid_eq(&q.e.oid, until)) {
			free(q.parents);
			break;
		}
		for (size_t p = 0; !ret && p < q.nr_parents; p++) {
			struct queued pq;

			if (!oidset_add(&queued, &q.parents[p]))
				continue;
			ret = load(&q.parents[p], read, ctx, &pq);
			if (!ret)
				heap_push(&h, &pq);
		}
		free(q.parents);
		if (ret < 0)
			break;
	}
out:
	for (size_t i = 0; i < h.nr; i++)
		free(h.v[i].parents);
	free(h.v);
	oidset_clear(&queued);
	if (ret < 0) {
		free(list);
		return ret;
	}
	*out = list;
	*nr_out = nr;
	return 0;
}

int revwalk_read_odb(void *ctx, const struct oid *oid,
		     struct commit_info *out)
{
	struct odb *odb = ctx;
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret = odb_read(odb, oid, &type, &b);

	if (!ret && type != OBJ_COMMIT)
		ret = err_set(ERR_CORRUPT, "%s is a %s, not a commit",
			      oid_hex(oid), obj_type_name(type));
	if (!ret)
		ret = commit_parse(out, b.data, b.len);
	buf_release(&b);
	return ret;
}
