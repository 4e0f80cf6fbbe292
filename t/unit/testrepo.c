/*
 * The unit tests' repository fixtures (testrepo.h).
 */
#include "testrepo.h"

#include <stdlib.h>
#include <time.h>

#include "store/commit.h"
#include "store/packwriter.h"
#include "store/repo.h"
#include "unit.h"
#include "util/err.h"
#include "util/util.h"

void testrepo_must(int ret, const char *what)
{
	if (ret < 0)
		unit_fail(__FILE__, __LINE__, "%s: %s", what, err_last());
}

void testrepo_open(struct testrepo *t)
{
	const char *dir = unit_tmpdir();
	/* level 1, zlib, no midx or bloom: small and quick */
	struct packwriter_opts o = { .level = 1, .impl = ZLIB_IMPL_ZLIB,
				     .no_upkeep = 1 };

	t->repo = NULL;
	t->w = NULL;
	testrepo_must(repo_init(dir), "init");
	testrepo_must(repo_open(&t->repo, dir), "open");
	testrepo_must(packwriter_new(&t->w, t->repo->objdir, NULL, &o),
		      "packwriter");
	t->sink = packwriter_sink(t->w);
}

void testrepo_close(struct testrepo *t)
{
	testrepo_must(packwriter_close(t->w), "close");
	t->w = NULL;
	t->sink = NULL;
}

struct oid testrepo_put(struct testrepo *t, enum obj_type type,
			const void *data, size_t len)
{
	struct oid oid;

	testrepo_must(objsink_write(t->sink, type, data, len, &oid), "write");
	return oid;
}

struct oid testrepo_put_tree(struct testrepo *t, struct tree_builder *tb)
{
	struct oid oid;

	testrepo_must(tree_builder_write(tb, t->sink, &oid), "tree");
	return oid;
}

struct oid testrepo_put_commit(struct testrepo *t, const struct oid *tree,
			       const struct oid *parent, int64_t time)
{
	struct buf c = BUF_INIT;
	struct oid oid;

	commit_format(&c, tree, parent, "T <t@example.com>", time, 0,
		      "save\n", 5);
	oid = testrepo_put(t, OBJ_COMMIT, c.data, c.len);
	buf_release(&c);
	return oid;
}

void testrepo_put_files(struct testrepo *t, struct testrepo_files *f)
{
	struct tree_builder tb;
	struct oid a, b, c, l1, in_sub;

	tree_builder_init(&tb);
	a = testrepo_put(t, OBJ_BLOB, "abc", 3);
	b = testrepo_put(t, OBJ_BLOB, "defg", 4);
	c = testrepo_put(t, OBJ_BLOB, "hij", 3);
	tree_builder_add(&tb, TREE_MODE_BLOB, "0000000000000000", 16, &a);
	tree_builder_add(&tb, TREE_MODE_BLOB, "0000000000000003", 16, &b);
	l1 = testrepo_put_tree(t, &tb);
	tree_builder_add(&tb, TREE_MODE_TREE, "0000000000000000", 16, &l1);
	tree_builder_add(&tb, TREE_MODE_BLOB, "0000000000000007", 16, &c);
	f->big = testrepo_put_tree(t, &tb);
	in_sub = testrepo_put(t, OBJ_BLOB, "in sub\n", 7);
	tree_builder_add(&tb, TREE_MODE_BLOB, "f", 1, &in_sub);
	f->sub = testrepo_put_tree(t, &tb);
	f->hello = testrepo_put(t, OBJ_BLOB, "hello\n", 6);
	f->link = testrepo_put(t, OBJ_BLOB, "hello", 5);
	oid_hash_object(&f->ghost, OBJ_BLOB, "not stored", 10);
	tree_builder_release(&tb);
}

void testrepo_add_files(struct tree_builder *tb,
			const struct testrepo_files *f)
{
	tree_builder_add(tb, TREE_MODE_TREE, "big.bup", 7, &f->big);
	tree_builder_add(tb, TREE_MODE_BLOB, "ghost", 5, &f->ghost);
	tree_builder_add(tb, TREE_MODE_BLOB, "hello", 5, &f->hello);
	tree_builder_add(tb, TREE_MODE_LINK, "link", 4, &f->link);
	tree_builder_add(tb, TREE_MODE_TREE, "sub", 3, &f->sub);
}

void testrepo_add_bupm(struct testrepo *t, struct tree_builder *tb,
		       const struct meta *dir, const char *const *names,
		       const struct meta *metas, size_t nr)
{
	struct meta_bupm_entry *ents = xcalloc(nr ? nr : 1, sizeof(*ents));
	struct buf b = BUF_INIT;
	struct oid bupm;

	for (size_t i = 0; i < nr; i++) {
		ents[i].name = names[i];
		ents[i].meta = &metas[i];
	}
	meta_bupm_build(&b, dir, ents, nr);
	bupm = testrepo_put(t, OBJ_BLOB, b.data, b.len);
	tree_builder_add(tb, TREE_MODE_BLOB, ".bupm", 5, &bupm);
	buf_release(&b);
	free(ents);
}

static char *saved_tz;

void testrepo_tz_utc(void)
{
	const char *tz = getenv("TZ");

	saved_tz = tz ? xstrdup(tz) : NULL;
	setenv("TZ", "UTC", 1);
	tzset();
}

void testrepo_tz_restore(void)
{
	if (saved_tz)
		setenv("TZ", saved_tz, 1);
	else
		unsetenv("TZ");
	free(saved_tz);
	saved_tz = NULL;
	tzset();
}
