/*
 * validate: on a repository made with git's plumbing (a chunked file, a
 * .bupm, a parent commit), with a file's blob, a chunk and the parent
 * dropped from the pack, the ref walk reports each missing object with
 * bup's path and in bup's order, the pack scan reports each broken
 * link, and the history check finds the missing parent.
 */
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/util.h"
#include "pipelines/validate.h"
#include "util/strv.h"

#define ENV "GIT_DIR=r GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b " \
	"GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@b " \
	"GIT_AUTHOR_DATE='1600000000 +0000' " \
	"GIT_COMMITTER_DATE='1600000000 +0000'"

/* The repository, with ids: c (head), p (parent), b1, c2, sub, ft. */
static const char *make_repo(struct buf *ids)
{
	const char *dir = unit_tmpdir();
	int rc = st_sh(
		"cd '%s' && git init -q --bare r && export " ENV " && "
		"b1=$(echo one | git hash-object -w --stdin) && "
		"b2=$(echo two | git hash-object -w --stdin) && "
		"m=$(echo meta | git hash-object -w --stdin) && "
		"c1=$(echo chunk1 | git hash-object -w --stdin) && "
		"c2=$(echo chunk2 | git hash-object -w --stdin) && "
		"ft=$(printf '100644 blob %%s\\t0000\\n100644 blob %%s\\t0100\\n'"
		"  $c1 $c2 | git mktree) && "
		"sub=$(printf '100644 blob %%s\\t.bupm\\n100644 blob %%s\\t1\\n'"
		"  $m $b1 | git mktree) && "
		"top=$(printf '040000 tree %%s\\ta\\n040000 tree %%s\\tbig.bup\\n"
		"100644 blob %%s\\tf\\n' $sub $ft $b2 | git mktree) && "
		"p=$(git commit-tree -m p $top) && "
		"c=$(git commit-tree -m c -p $p $top) && "
		"git update-ref refs/heads/x $c && "
		"echo $c $p $b1 $c2 $sub $ft >ids && "
		"git repack -adq && "
		"git cat-file --batch-all-objects --batch-check='%%(objectname)' |"
		"  grep -v -e $b1 -e $c2 -e $p >keep && "
		"git pack-objects -q --window=0 new <keep >/dev/null && "
		"rm -f r/objects/pack/* && mv new-* r/objects/pack/", dir);
	if (rc)
		unit_fail(__FILE__, __LINE__, "making the repository failed");
	CHECK(st_sh_out(ids, "cat '%s/ids'", dir) == 0);
	return dir;
}

struct seen {
	struct buf out;
	int items;
};

static int note_item(void *ctx, const struct validate_item *it,
		     uint64_t live)
{
	struct seen *s = ctx;

	(void)live;
	s->items++;
	if (!it->missing)
		return 0;
	buf_addstr(&s->out, "missing ");
	validate_item_path(&s->out, it, 1);
	buf_addstr(&s->out, it->type == OBJ_TREE ? "/\n" : "\n");
	return 0;
}

static int note_link(void *ctx, const struct oid *missing,
		     const struct oid *from)
{
	struct buf *b = ctx;
	buf_addf(b, "%s<%s\n", oid_hex(missing), oid_hex(from));
	return 0;
}

UNIT_TEST(validate, walk_links_and_history)
{
	struct buf ids = BUF_INIT, want = BUF_INIT, links = BUF_INIT;
	struct seen s = { BUF_INIT, 0 };
	struct validate_links_cb cb = { note_link, NULL, NULL };
	char c[41], p[41], b1[41], c2[41], sub[41], ft[41];
	char *objdir, *packdir, *lines[3], *save = NULL;
	struct validate_walk *w;
	struct odb *odb;
	struct oid head, gone;
	uint64_t count;
	const char *dir = make_repo(&ids);

	CHECK(sscanf(ids.data, "%40s %40s %40s %40s %40s %40s", c, p, b1, c2,
		     sub, ft) == 6);
	objdir = xstrfmt("%s/r/objects", dir);
	packdir = xstrfmt("%s/r/objects/pack", dir);
	CHECK(odb_open(&odb, objdir) == 0);
	CHECK(validate_count_objects(&count, packdir, NULL, NULL) == 0);
	CHECK(count == 7);  /* 10 objects less the 3 dropped */

	CHECK(oid_from_hex(&head, c) == 0);
	w = validate_walk_new(odb, count, 1);
	CHECK(validate_walk_ref(w, &head, note_item, &s) == 0);
	/* bup: a tree's last entry first; a chunk under "name.bup/" */
	buf_addf(&want, "missing %s/big.bup//0100\nmissing %s/a/1\n"
		 "missing \n", c, c);
	CHECK(!strcmp(s.out.data, want.data));
	/* walking again finds every tree and commit already walked */
	s.items = 0;
	CHECK(validate_walk_ref(w, &head, note_item, &s) == 0);
	CHECK(s.items == 0);
	validate_walk_free(w);

	CHECK(validate_object_links(odb, packdir, &cb, &links) == 3);
	lines[0] = strtok_r(links.data, "\n", &save);
	lines[1] = strtok_r(NULL, "\n", &save);
	lines[2] = strtok_r(NULL, "\n", &save);
	CHECK(lines[0] && lines[1] && lines[2]);
	if (lines[0] && lines[1] && lines[2]) {
		char *w0 = xstrfmt("%s<%s", b1, sub);
		char *w1 = xstrfmt("%s<%s", c2, ft);
		char *w2 = xstrfmt("%s<%s", p, c);
		char *wl[3] = { w0, w1, w2 };
		qsort(lines, 3, sizeof(*lines), strv_cmp);
		qsort(wl, 3, sizeof(*wl), strv_cmp);
		for (int i = 0; i < 3; i++)
			CHECK(!strcmp(lines[i], wl[i]));
		free(w0);
		free(w1);
		free(w2);
	}

	CHECK(validate_history_complete(odb, &head, &gone) == 0);
	CHECK_OID(&gone, p);
	odb_free(odb);
	free(objdir);
	free(packdir);
	buf_release(&ids);
	buf_release(&want);
	buf_release(&links);
	buf_release(&s.out);
}

UNIT_TEST(validate, item_paths)
{
	struct validate_item it;
	struct buf b = BUF_INIT;

	memset(&it, 0, sizeof(it));
	it.path = "c/dir/file.bupl";
	it.npath = 3;
	it.last_off = 6;
	it.chunk = "";
	it.mode = 0100644;
	validate_item_path(&b, &it, 1);
	CHECK(!strcmp(b.data, "c/dir/file"));
	buf_reset(&b);
	validate_item_path(&b, &it, 0);
	CHECK(!strcmp(b.data, "c/dir/file.bupl"));
	buf_reset(&b);
	/* exactly ".bupm" demangles to "" */
	it.path = "c/dir/.bupm";
	validate_item_path(&b, &it, 1);
	CHECK(!strcmp(b.data, "c/dir/"));
	CHECK(validate_item_demangled_len(&it) == 0);
	buf_reset(&b);
	it.path = "c/big.bup";
	it.last_off = 2;
	it.npath = 2;
	it.chunk = "/00/11";
	it.nchunk = 3;
	validate_item_path(&b, &it, 1);
	CHECK(!strcmp(b.data, "c/big.bup//00/11"));
	buf_release(&b);
}
