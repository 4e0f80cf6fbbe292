/*
 * rewrite: on a repository made with git's plumbing (six saves on
 * "main" a day apart with a -0130 offset, "other" forked from the
 * third), the walk is `git rev-list`'s (also across a merge), the
 * plan classifies and rejects paths as bup's dead_items, and a rewrite
 * drops the named saves, writes the survivors again with the same
 * tree, idents, dates and message, leaves older commits alone, deletes
 * a branch left with nothing, passes `git fsck --strict`, and refuses
 * to move a ref that changed after the plan.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/revwalk.h"
#include "pipelines/rewrite.h"
#include "store/store_test_util.h"
#include "unit.h"
#include "util/util.h"
#include "vfs/vfs.h"

#define ENV "GIT_DIR=r GIT_AUTHOR_NAME='A U' GIT_AUTHOR_EMAIL=a@b " \
	"GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@d"
#define DAY 86400
#define T0 1600000000   /* 2020-09-13 12:26:40 UTC */

struct fixture {
	const char *dir;
	struct repo *repo;
	struct vfs *vfs;
	struct odb *odb;
	char *tz;            /* TZ before, put back by fixture_close */
};

/* Save i (1..6) on main at T0 + i days; "other" has main~3 + one save. */
static int fixture_open(struct fixture *f)
{
	const char *tz = getenv("TZ");

	memset(f, 0, sizeof(*f));
	f->tz = tz ? xstrdup(tz) : NULL;
	/* the vfs names saves in local time */
	setenv("TZ", "UTC", 1);
	tzset();
	f->dir = unit_tmpdir();
	if (st_sh("cd '%s' && git init -q --bare r && export " ENV " && "
		  "c= && for i in 1 2 3 4 5 6; do "
		  "  b=$(echo $i | git hash-object -w --stdin) && "
		  "  t=$(printf '100644 blob %%s\\tf\\n' $b | git mktree) && "
		  "  d=\"$((%d + i * %d)) -0130\" && "
		  "  c=$(GIT_AUTHOR_DATE=\"$d\" GIT_COMMITTER_DATE=\"$d\" "
		  "    git commit-tree $t ${c:+-p $c} -m \"save $i\") || exit 1; "
		  "done && git update-ref refs/heads/main $c && "
		  "d=\"$((%d + 10 * %d)) +0000\" && "
		  "o=$(GIT_AUTHOR_DATE=\"$d\" GIT_COMMITTER_DATE=\"$d\" "
		  "  git commit-tree $t -p main~3 -m other) && "
		  "git update-ref refs/heads/other $o && git repack -adq",
		  f->dir, T0, DAY, T0, DAY)) {
		unit_fail(__FILE__, __LINE__, "making the repository failed");
		return -1;
	}
	{
		char *r = xstrfmt("%s/r", f->dir);
		int ret = repo_open(&f->repo, r);
		free(r);
		CHECK(ret == 0);
		if (ret)
			return -1;
	}
	f->odb = repo_odb(f->repo);
	CHECK(f->odb != NULL);
	CHECK(vfs_new(&f->vfs, f->repo) == 0);
	return f->odb && f->vfs ? 0 : -1;
}

static void fixture_close(struct fixture *f)
{
	vfs_free(f->vfs);
	repo_free(f->repo);
	if (f->tz)
		setenv("TZ", f->tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(f->tz);
}

static void rtrim(struct buf *b)
{
	size_t n = b->len;

	while (n && (b->data[n - 1] == '\n' || b->data[n - 1] == ' '))
		n--;
	buf_setlen(b, n);
}

/* `git CMD` in the fixture's repository, stdout trimmed. */
static void git_out(struct fixture *f, struct buf *out, const char *cmd)
{
	CHECK(st_sh_out(out, "cd '%s' && export GIT_DIR=r && git %s",
			 f->dir, cmd) == 0);
	rtrim(out);
}

static void rev_list_text(struct buf *out, struct odb *odb,
			  const struct oid *tip)
{
	struct revwalk_entry *revs = NULL;
	size_t nr = 0;

	CHECK(revwalk_list(tip, NULL, revwalk_read_odb, odb, &revs, &nr) == 0);
	for (size_t i = 0; i < nr; i++)
		buf_addf(out, "%s%s", i ? "\n" : "", oid_hex(&revs[i].oid));
	free(revs);
}

/*
 * The walk the rewrite relies on (revwalk.h), against git itself on a
 * real repository: bup's filter_branch runs `git rev-list`.
 */
UNIT_TEST(rewrite, history_is_git_rev_list)
{
	struct fixture f;
	struct buf want = BUF_INIT, got = BUF_INIT;
	struct revwalk_entry *revs = NULL;
	struct oid tip;
	size_t nr = 0;

	if (fixture_open(&f))
		return;
	CHECK(refs_read(f.repo, "refs/heads/main", &tip) == 0);
	CHECK(revwalk_list(&tip, NULL, revwalk_read_odb, f.odb, &revs, &nr)
	      == 0);
	CHECK(nr == 6);
	/* newest first; %at of each */
	for (size_t i = 0; i < nr; i++)
		CHECK(revs[i].author_time == T0 + (int64_t)(6 - i) * DAY &&
		      revs[i].committer_time == revs[i].author_time);
	free(revs);
	git_out(&f, &want, "rev-list main");
	rev_list_text(&got, f.odb, &tip);
	CHECK(!strcmp(want.data, got.data));

	/* a merge of main and other, committed later: both sides, by date */
	CHECK(st_sh("cd '%s' && export " ENV " GIT_AUTHOR_DATE='%d +0000' "
		    "GIT_COMMITTER_DATE='%d +0000' && "
		    "m=$(git commit-tree main^{tree} -p main -p other -m m) && "
		    "git update-ref refs/heads/merge $m", f.dir,
		    T0 + 20 * DAY, T0 + 20 * DAY) == 0);
	CHECK(refs_read(f.repo, "refs/heads/merge", &tip) == 0);
	CHECK(odb_refresh(f.odb) >= 0);
	git_out(&f, &want, "rev-list merge");
	buf_reset(&got);
	rev_list_text(&got, f.odb, &tip);
	CHECK(!strcmp(want.data, got.data));

	/* a missing commit is an error, not a short list */
	CHECK(oid_from_hex(&tip, "0123456789012345678901234567890123456789")
	      == 0);
	CHECK(revwalk_list(&tip, NULL, revwalk_read_odb, f.odb, &revs, &nr)
	      == ERR_NOTFOUND);
	buf_release(&want);
	buf_release(&got);
	fixture_close(&f);
}

UNIT_TEST(rewrite, plan_paths_as_dead_items)
{
	struct fixture f;
	struct rewrite_plan p;

	if (fixture_open(&f))
		return;
	rewrite_plan_init(&p);
	/* save 2 is at T0 + 2 days, named in local time (UTC here) */
	CHECK(rewrite_plan_add(&p, f.vfs, "/main/2020-09-15-122640") == 0);
	CHECK(rewrite_plan_add(&p, f.vfs, "main/2020-09-17-122640") == 0);
	CHECK(p.nr_saves == 1 && p.nr_dead == 0);
	CHECK(!strcmp(p.saves[0].name, "main") && p.saves[0].nr_drop == 2);
	/* "other" goes whole: its save removals are obviated, later ones
	   ignored */
	CHECK(rewrite_plan_add(&p, f.vfs, "/other/2020-09-23-122640") == 0);
	CHECK(p.nr_saves == 2);
	CHECK(rewrite_plan_add(&p, f.vfs, "/other") == 0);
	CHECK(rewrite_plan_add(&p, f.vfs, "/other/2020-09-23-122640") == 0);
	CHECK(p.nr_saves == 1 && p.nr_dead == 1);
	CHECK(!strcmp(p.dead[0].name, "other"));
	CHECK(p.nr_errors == 0);

	CHECK(rewrite_plan_add(&p, f.vfs, "/main/latest") == 1);
	CHECK(rewrite_plan_add(&p, f.vfs, "/main/1999-01-01-000000") == 1);
	CHECK(rewrite_plan_add(&p, f.vfs, "/main/2020-09-15-122640/f") == 1);
	CHECK(rewrite_plan_add(&p, f.vfs,
			       "/main/2020-09-15-122640/f/x") == 1);
	CHECK(rewrite_plan_add(&p, f.vfs, "/nosuch") == 1);
	CHECK(p.nr_errors == 5);
	/* unfollowed, latest is a link, not a save: bup's "don't know" */
	CHECK(p.errors[0].kind == REWRITE_ERR_UNKNOWN);
	CHECK(p.errors[1].kind == REWRITE_ERR_MISSING);
	CHECK(!strcmp(p.errors[1].resolved, "/main/1999-01-01-000000"));
	CHECK(!strcmp(p.errors[1].path, "/main/1999-01-01-000000"));
	CHECK(p.errors[2].kind == REWRITE_ERR_UNKNOWN);
	CHECK(p.errors[3].kind == REWRITE_ERR_RESOLVE &&
	      strstr(p.errors[3].msg, "[Errno 20] path b'/main/") &&
	      strstr(p.errors[3].msg, "ends internally in non-directory"));
	CHECK(p.errors[4].kind == REWRITE_ERR_MISSING &&
	      !strcmp(p.errors[4].resolved, "/nosuch"));
	rewrite_plan_release(&p);
	fixture_close(&f);
}

UNIT_TEST(rewrite, write_and_apply)
{
	struct fixture f;
	struct rewrite_plan p;
	struct rewrite_result res;
	struct buf before = BUF_INIT, after = BUF_INIT, b = BUF_INIT;
	struct oid main_tip, other_tip;

	if (fixture_open(&f))
		return;
	CHECK(refs_read(f.repo, "refs/heads/main", &main_tip) == 0);
	CHECK(refs_read(f.repo, "refs/heads/other", &other_tip) == 0);
	/* everything git shows of the saves that stay (all but 2 and 4) */
	git_out(&f, &before, "log --format='%T %an <%ae> %ad %cn <%ce> %cd "
		"%B' --date=raw main | grep -v -e '^$' -e 'save [24]'");
	rewrite_plan_init(&p);
	rewrite_result_init(&res);
	CHECK(rewrite_plan_add(&p, f.vfs, "/main/2020-09-15-122640") == 0);
	CHECK(rewrite_plan_add(&p, f.vfs, "/main/2020-09-17-122640") == 0);
	CHECK(rewrite_plan_add(&p, f.vfs, "/other/2020-09-23-122640") == 0);
	CHECK(rewrite_write(&res, f.repo, f.odb, &p, 1) == 0);
	CHECK(res.nr == 2);
	CHECK(!strcmp(res.u[0].ref, "refs/heads/main") && !res.u[0].delete);
	CHECK(oid_eq(&res.u[0].old, &main_tip));
	/* other loses its one save of its own: back to main's save 3 */
	CHECK(!strcmp(res.u[1].ref, "refs/heads/other") && !res.u[1].delete);
	CHECK(oid_eq(&res.u[1].old, &other_tip));
	/* nothing moved yet */
	git_out(&f, &b, "rev-parse main");
	CHECK(!strcmp(b.data, oid_hex(&main_tip)));
	for (size_t i = 0; i < res.nr; i++)
		CHECK(rewrite_apply(f.repo, &res.u[i]) == 0);

	git_out(&f, &after, "log --format='%T %an <%ae> %ad %cn <%ce> %cd "
		"%B' --date=raw main | grep -v '^$'");
	CHECK(!strcmp(before.data, after.data));
	/* save 1 is the old commit itself; 3, 5, 6 are new */
	git_out(&f, &b, "rev-list --count main");
	CHECK(!strcmp(b.data, "4"));
	git_out(&f, &b, "rev-parse main~3");
	{
		struct buf old1 = BUF_INIT;
		CHECK(st_sh_out(&old1, "cd '%s' && GIT_DIR=r git rev-parse "
				"%s~5", f.dir, oid_hex(&main_tip)) == 0);
		rtrim(&old1);
		CHECK(!strcmp(b.data, old1.data));
		buf_release(&old1);
	}
	/* the offsets survive as written (_git_date_str) */
	git_out(&f, &b, "cat-file commit main");
	CHECK(strstr(b.data, " -0130\ncommitter C <c@d> ") != NULL);
	git_out(&f, &b, "rev-parse other");
	{
		struct buf old3 = BUF_INIT;
		CHECK(st_sh_out(&old3, "cd '%s' && GIT_DIR=r git rev-parse "
				"%s~3", f.dir, oid_hex(&main_tip)) == 0);
		rtrim(&old3);
		CHECK(!strcmp(b.data, old3.data));
		buf_release(&old3);
	}
	CHECK(st_sh("cd '%s' && GIT_DIR=r git fsck --strict 2>&1 | "
		    "grep -v -e dangling -e '^Checking' -e '^notice' | grep .",
		    f.dir) == 1);

	/* a second apply finds the refs moved: refused, nothing changed */
	CHECK(rewrite_apply(f.repo, &res.u[0]) == ERR_EXISTS);
	CHECK(rewrite_apply(f.repo, &res.u[1]) < 0);
	git_out(&f, &b, "rev-list --count main");
	CHECK(!strcmp(b.data, "4"));

	rewrite_result_release(&res);
	rewrite_plan_release(&p);
	buf_release(&before);
	buf_release(&after);
	buf_release(&b);
	fixture_close(&f);
}

UNIT_TEST(rewrite, drop_oldest_and_all)
{
	struct fixture f;
	struct rewrite_plan p;
	struct rewrite_result res;
	struct buf b = BUF_INIT;
	static const char *const saves[] = {
		"2020-09-14-122640", "2020-09-15-122640", "2020-09-16-122640",
		"2020-09-17-122640", "2020-09-18-122640", "2020-09-19-122640",
	};

	if (fixture_open(&f))
		return;
	/* dropping the root: the next save becomes a root commit */
	rewrite_plan_init(&p);
	rewrite_result_init(&res);
	CHECK(rewrite_plan_add(&p, f.vfs, "/main/2020-09-14-122640") == 0);
	CHECK(rewrite_write(&res, f.repo, f.odb, &p, 6) == 0);
	CHECK(res.nr == 1 && rewrite_apply(f.repo, &res.u[0]) == 0);
	git_out(&f, &b, "rev-list --max-parents=0 main | xargs git log -1 "
		"--format=%s");
	CHECK(!strcmp(b.data, "save 2"));
	rewrite_result_release(&res);
	rewrite_plan_release(&p);

	/* dropping every save of a branch deletes it */
	vfs_free(f.vfs);
	CHECK(vfs_new(&f.vfs, f.repo) == 0);
	CHECK(odb_refresh(f.odb) >= 0);
	rewrite_plan_init(&p);
	rewrite_result_init(&res);
	for (size_t i = 1; i < ARRAY_SIZE(saves); i++) {
		char *path = xstrfmt("/main/%s", saves[i]);
		CHECK(rewrite_plan_add(&p, f.vfs, path) == 0);
		free(path);
	}
	CHECK(rewrite_write(&res, f.repo, f.odb, &p, 6) == 0);
	CHECK(res.nr == 1 && res.u[0].delete);
	CHECK(rewrite_apply(f.repo, &res.u[0]) == 0);
	CHECK(st_sh("cd '%s' && GIT_DIR=r git show-ref -q refs/heads/main",
		    f.dir) == 1);
	rewrite_result_release(&res);
	rewrite_plan_release(&p);
	buf_release(&b);
	fixture_close(&f);
}
