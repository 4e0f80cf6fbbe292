/*
 * transfer: between two repositories made with git's plumbing (the
 * source's "main" has two commits, the second with a subdirectory;
 * "hole" has a tree naming a blob the source lacks), --ff copies every
 * object and sets the ref to the source's commit, --append writes new
 * commits with the source's trees, authors and messages in order,
 * --pick one commit without a parent, all passing `git fsck --strict`
 * in the destination; a bad source is a misuse returned (nothing
 * printed, no ref), a missing object an error returned, or with
 * --unnamed and ignore_missing a note and a count.
 */
#include <stdlib.h>
#include <string.h>

#include "pipelines/transfer.h"
#include "store/odb.h"
#include "store/packwriter.h"
#include "store/repo.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/util.h"
#include "vfs/vfs.h"

#define ENV "GIT_AUTHOR_NAME='A U' GIT_AUTHOR_EMAIL=a@b " \
	"GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@d"

struct fixture {
	const char *dir;
	struct transfer_src src;
	struct transfer_dest dst;
	struct buf notes, items, refs;
};

static void on_note(void *data, const char *msg)
{
	buf_addf(&((struct fixture *)data)->notes, "%s\n", msg);
}

static void on_item(void *data, const struct transfer_item *it)
{
	struct fixture *f = data;

	buf_addf(&f->items, "%s%s\n", it->src, it->dirlike ? "/" : "");
}

static void on_ref_updated(void *data, const char *ref,
			   const struct oid *old, const struct oid *new)
{
	struct fixture *f = data;

	(void)old;
	buf_addf(&f->refs, "%s %s\n", ref, oid_hex(new));
}

static int fixture_open(struct fixture *f)
{
	struct packwriter_opts po = { 0 };
	char *p;
	int ret;

	memset(f, 0, sizeof(*f));
	buf_init(&f->notes, 0);
	buf_init(&f->items, 0);
	buf_init(&f->refs, 0);
	f->dir = unit_tmpdir();
	if (st_sh("cd '%s' && git init -q --bare s && git init -q --bare d && "
		  "export GIT_DIR=s " ENV " && "
		  "a=$(echo one | git hash-object -w --stdin) && "
		  "b=$(echo two | git hash-object -w --stdin) && "
		  "t1=$(printf '100644 blob %%s\\tf\\n' $a | git mktree) && "
		  "t2=$(printf '100644 blob %%s\\tf\\n040000 tree %%s\\tsub\\n'"
		  "  $b $t1 | git mktree) && "
		  "export GIT_AUTHOR_DATE='1600000000 +0000' "
		  "  GIT_COMMITTER_DATE='1600000000 +0000' && "
		  "c1=$(git commit-tree $t1 -m first) && "
		  "c2=$(git commit-tree $t2 -p $c1 -m second) && "
		  "git update-ref refs/heads/main $c2 && "
		  "h=$(printf '100644 blob %%s\\tgone\\n' "
		  "  1111111111111111111111111111111111111111 | "
		  "  git mktree --missing) && "
		  "git update-ref refs/heads/hole $(git commit-tree $h -m h)",
		  f->dir)) {
		unit_fail(__FILE__, __LINE__, "making the repositories failed");
		return -1;
	}
	p = xstrfmt("%s/s", f->dir);
	ret = repo_open(&f->src.repo, p);
	free(p);
	CHECK(ret == 0);
	if (ret || transfer_src_init(&f->src) < 0)
		return -1;
	p = xstrfmt("%s/d", f->dir);
	ret = repo_open(&f->dst.repo, p);
	free(p);
	CHECK(ret == 0);
	if (ret)
		return -1;
	CHECK(vfs_new(&f->dst.vfs, f->dst.repo) == 0);
	po.level = 1;
	po.max_size = PACKWRITER_DEFAULT_MAX_SIZE;
	po.max_objects = po.max_size / 5000;
	CHECK(packwriter_new(&f->dst.pw, f->dst.repo->objdir,
			     repo_odb(f->dst.repo), &po) == 0);
	return f->dst.pw && f->dst.vfs ? 0 : -1;
}

static void fixture_close(struct fixture *f)
{
	transfer_dest_abort(&f->dst);
	vfs_free(f->dst.vfs);
	repo_free(f->dst.repo);
	transfer_src_release(&f->src);
	buf_release(&f->notes);
	buf_release(&f->items);
	buf_release(&f->refs);
}

static int run(struct fixture *f, const struct transfer_spec *specs,
	       size_t nr, int ignore_missing, int *misuse)
{
	struct transfer_opts o = { 0 };

	o.specs = specs;
	o.nr_specs = nr;
	o.ignore_missing = ignore_missing;
	o.tree_message = "tree\n";
	o.note = on_note;
	o.item = on_item;
	o.ref_updated = on_ref_updated;
	o.data = f;
	return transfer_run(&f->dst, &f->src, &o, misuse);
}

/* `git CMD` in repository R of the fixture, stdout trimmed. */
static void git_out(struct fixture *f, struct buf *out, const char *r,
		    const char *cmd)
{
	CHECK(st_sh_out(out, "cd '%s' && GIT_DIR=%s git %s", f->dir, r,
			cmd) == 0);
	while (out->len && out->data[out->len - 1] == '\n')
		buf_setlen(out, out->len - 1);
}

static void check_same(struct fixture *f, const char *src_cmd,
		       const char *dst_cmd)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	git_out(f, &a, "s", src_cmd);
	git_out(f, &b, "d", dst_cmd);
	CHECK(a.len && !strcmp(a.data, b.data));
	if (strcmp(a.data, b.data))
		unit_fail(__FILE__, __LINE__, "'%s' vs '%s'", a.data, b.data);
	buf_release(&a);
	buf_release(&b);
}

static void fsck_dest(struct fixture *f)
{
	CHECK(st_sh("cd '%s' && GIT_DIR=d git fsck --strict --no-dangling "
		    "--no-progress", f->dir) == 0);
}

UNIT_TEST(transfer, ff_copies_everything_and_sets_the_ref)
{
	struct transfer_spec spec = { TRANSFER_FF, "main", NULL };
	struct fixture f;
	int misuse = -1;

	if (fixture_open(&f) < 0)
		goto out;
	CHECK(run(&f, &spec, 1, 0, &misuse) == 0);
	CHECK(misuse == 0);
	CHECK(f.dst.pw == NULL);     /* closed before the ref moved */
	check_same(&f, "rev-parse main", "rev-parse main");
	check_same(&f, "ls-tree -r main", "ls-tree -r main");
	CHECK(!strcmp(f.items.data, "main/\n"));
	fsck_dest(&f);
out:
	fixture_close(&f);
}

UNIT_TEST(transfer, append_writes_new_commits_in_order)
{
	struct transfer_spec spec = { TRANSFER_APPEND, "main", "other" };
	struct fixture f;
	int misuse = -1;

	if (fixture_open(&f) < 0)
		goto out;
	CHECK(run(&f, &spec, 1, 0, &misuse) == 0);
	check_same(&f, "log --format='%T %an %at %s' main",
		   "log --format='%T %an %at %s' other");
	/* new commits: our committer, so not the source's ids */
	CHECK(st_sh("cd '%s' && test $(GIT_DIR=d git rev-parse other) != "
		    "$(GIT_DIR=s git rev-parse main)", f.dir) == 0);
	CHECK(strstr(f.refs.data, "refs/heads/other ") == f.refs.data);
	fsck_dest(&f);
out:
	fixture_close(&f);
}

UNIT_TEST(transfer, pick_one_commit_without_parent)
{
	struct transfer_spec spec = { TRANSFER_PICK, "/main/latest",
				      "picked" };
	struct fixture f;
	int misuse = -1;

	if (fixture_open(&f) < 0)
		goto out;
	CHECK(run(&f, &spec, 1, 0, &misuse) == 0);
	check_same(&f, "log -1 --format='%T %an %s' main",
		   "log --format='%T %an %s' picked");
	check_same(&f, "rev-list --count main~1", "rev-list --count picked");
	fsck_dest(&f);
out:
	fixture_close(&f);
}

UNIT_TEST(transfer, errors_are_returned)
{
	struct transfer_spec bad = { TRANSFER_FF, "nosuch", NULL };
	struct transfer_spec hole = { TRANSFER_FF, "hole", NULL };
	struct transfer_spec unnamed = { TRANSFER_UNNAMED, "hole", NULL };
	struct fixture f;
	int misuse = -1;

	if (fixture_open(&f) < 0)
		goto out;
	CHECK(run(&f, &bad, 1, 0, &misuse) == ERR_USAGE);
	CHECK(misuse == 1);
	CHECK(!strcmp(err_last(), "cannot find source for --ff nosuch"));
	if (strcmp(err_last(), "cannot find source for --ff nosuch"))
		unit_fail(__FILE__, __LINE__, "message: %s", err_last());
	CHECK(f.refs.len == 0);
	CHECK(f.dst.pw != NULL);     /* the caller aborts it */

	CHECK(run(&f, &hole, 1, 0, &misuse) == ERR_NOTFOUND);
	CHECK(misuse == 0);
	CHECK(strstr(err_last(), "1111111111111111111111111111111111111111")
	      != NULL);
	CHECK(f.refs.len == 0);

	CHECK(run(&f, &unnamed, 1, 1, &misuse) == 1);
	CHECK(!strcmp(f.notes.data, "skipping missing source object "
		      "1111111111111111111111111111111111111111\n"));
	CHECK(f.refs.len == 0);
out:
	fixture_close(&f);
}
