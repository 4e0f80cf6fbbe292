/*
 * revwalk: git rev-list's order on made-up histories (newest committer
 * date first, equal dates in arrival order, shared ancestors once), the
 * `until` stop, and a reader's error passed through.
 */
#include <stdlib.h>
#include <string.h>

#include "store/commit.h"
#include "util/err.h"
#include "store/revwalk.h"
#include "unit.h"
#include "util/util.h"

struct fake {
	int id;
	int64_t date;
	int parents[3];     /* 0-terminated */
};

struct store {
	const struct fake *c;
	size_t nr;
	int reads;
};

static void id_oid(struct oid *o, int id)
{
	memset(o, 0, sizeof(*o));
	o->hash[0] = (unsigned char)id;
	o->hash[19] = 0x5a;
}

static int fake_read(void *ctx, const struct oid *oid,
		     struct commit_info *out)
{
	struct store *s = ctx;

	s->reads++;
	for (size_t i = 0; i < s->nr; i++) {
		const struct fake *f = &s->c[i];
		size_t np = 0;

		if (oid->hash[0] != f->id)
			continue;
		memset(out, 0, sizeof(*out));
		id_oid(&out->tree, 100 + f->id);
		out->author_time = f->date - 1;
		out->committer_time = f->date;
		while (np < 3 && f->parents[np])
			np++;
		out->parents = xcalloc(np ? np : 1, sizeof(struct oid));
		for (size_t p = 0; p < np; p++)
			id_oid(&out->parents[p], f->parents[p]);
		out->nr_parents = np;
		return 0;
	}
	return err_set(ERR_NOTFOUND, "no commit %d", oid->hash[0]);
}

/* The walk from tip as a string of ids ("4,2,3,1"). */
static char *walk(struct store *s, int tip, int until, int *ret)
{
	struct revwalk_entry *e;
	struct oid t, u;
	size_t nr;
	struct buf b = BUF_INIT;

	id_oid(&t, tip);
	id_oid(&u, until);
	*ret = revwalk_list(&t, until ? &u : NULL, fake_read, s, &e, &nr);
	for (size_t i = 0; !*ret && i < nr; i++) {
		buf_addf(&b, "%s%d", i ? "," : "", e[i].oid.hash[0]);
		CHECK(e[i].tree.hash[0] == 100 + e[i].oid.hash[0]);
		CHECK(e[i].author_time == e[i].committer_time - 1);
	}
	free(e);
	return buf_detach(&b, NULL);
}

UNIT_TEST(revwalk, linear_newest_first)
{
	static const struct fake c[] = {
		{ 1, 10, { 0 } }, { 2, 20, { 1 } }, { 3, 30, { 2 } },
	};
	struct store s = { c, ARRAY_SIZE(c), 0 };
	int ret;
	char *got = walk(&s, 3, 0, &ret);

	CHECK(!ret);
	CHECK(!strcmp(got, "3,2,1"));
	CHECK(s.reads == 3);   /* each commit read once */
	free(got);
}

UNIT_TEST(revwalk, equal_dates_in_arrival_order)
{
	/* 4 merges 2 and 3 (same date); both descend from 1 */
	static const struct fake c[] = {
		{ 1, 10, { 0 } }, { 2, 20, { 1 } }, { 3, 20, { 1 } },
		{ 4, 30, { 2, 3 } },
	};
	static const struct fake swapped[] = {
		{ 1, 10, { 0 } }, { 2, 20, { 1 } }, { 3, 20, { 1 } },
		{ 4, 30, { 3, 2 } },
	};
	struct store s = { c, ARRAY_SIZE(c), 0 };
	struct store t = { swapped, ARRAY_SIZE(swapped), 0 };
	int ret;
	char *got = walk(&s, 4, 0, &ret);

	CHECK(!ret);
	CHECK(!strcmp(got, "4,2,3,1"));
	free(got);
	got = walk(&t, 4, 0, &ret);
	CHECK(!ret);
	CHECK(!strcmp(got, "4,3,2,1"));
	free(got);
}

UNIT_TEST(revwalk, date_beats_topology)
{
	/* a parent dated after its child comes first, as in git */
	static const struct fake c[] = {
		{ 1, 50, { 0 } }, { 2, 20, { 1 } }, { 3, 40, { 0 } },
		{ 4, 30, { 2, 3 } },
	};
	struct store s = { c, ARRAY_SIZE(c), 0 };
	int ret;
	char *got = walk(&s, 4, 0, &ret);

	CHECK(!ret);
	CHECK(!strcmp(got, "4,3,2,1"));
	free(got);
}

UNIT_TEST(revwalk, until_stops_after_it)
{
	static const struct fake c[] = {
		{ 1, 10, { 0 } }, { 2, 20, { 1 } }, { 3, 30, { 2 } },
	};
	struct store s = { c, ARRAY_SIZE(c), 0 };
	int ret;
	char *got = walk(&s, 3, 2, &ret);

	CHECK(!ret);
	CHECK(!strcmp(got, "3,2"));
	free(got);
}

UNIT_TEST(revwalk, missing_parent_is_an_error)
{
	static const struct fake c[] = {
		{ 2, 20, { 1 } }, { 3, 30, { 2 } },
	};
	struct store s = { c, ARRAY_SIZE(c), 0 };
	int ret;
	char *got = walk(&s, 3, 0, &ret);

	CHECK(ret == ERR_NOTFOUND);
	CHECK(strstr(err_last(), "no commit 1") != NULL);
	free(got);
}
