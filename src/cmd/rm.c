/*
 * bup rm --unsafe [-#] [-v] </BRANCH | /BRANCH/SAVE>...
 *
 * bup 0.33.7's lib/bup/rm.py: /BRANCH deletes the branch ref; /BRANCH/SAVE
 * rewrites the branch without the named saves.  Commits older than the
 * oldest removed one are kept as they are; every later commit that
 * survives is written again (same tree, author, committer, dates and
 * message, FORMAT.md 6.4) on top of the new parent, into a new pack.
 * Refs change only at the very end, each against its old value, so a
 * failure before leaves the repository as it was.  Nothing is deleted
 * from the packs: `bup gc` reclaims the space later.
 *
 * Every path is checked first; any error stops the run before anything
 * is written ("not proceeding with any removals").
 *
 * The history rewriting is the library's (rewrite.h); this file holds
 * the command line and bup's messages, and cli_rm_paths(), bup's
 * bup_rm(), which prune-older calls too.
 */
#include <string.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "store/repo.h"
#include "pipelines/rewrite.h"
#include "vfs/vfs.h"

static const char optspec[] =
	"bup rm <branch|save...>\n"
	"--\n"
	"#,compress=  set compression level to # (0-9, 9 is highest) [6]\n"
	"v,verbose    increase verbosity (can be specified multiple times)\n"
	"unsafe       use the command even though it may be DANGEROUS\n";

/* bup's add_error() wording of each rejected path (rm.py dead_items). */
static void report(const struct rewrite_error *e)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	switch (e->kind) {
	case REWRITE_ERR_RESOLVE:
		cli_add_error("%s", e->msg);
		break;
	case REWRITE_ERR_MISSING:
		cli_path_msg(&a, e->resolved);
		cli_path_msg(&b, e->path);
		cli_add_error("error: cannot access %s in %s", a.data, b.data);
		break;
	case REWRITE_ERR_LATEST:
		cli_add_error("error: cannot delete 'latest' symlink");
		break;
	case REWRITE_ERR_UNKNOWN:
		cli_path_msg(&a, e->path);
		cli_add_error("don't know how to remove %s yet", a.data);
		break;
	}
	buf_release(&a);
	buf_release(&b);
}

int cli_rm_paths(struct repo *r, int n, const char **paths, int level,
		 int verbose)
{
	struct rewrite_plan plan;
	struct rewrite_result res;
	struct vfs *vfs = NULL;
	int ret = 0;

	rewrite_plan_init(&plan);
	rewrite_result_init(&res);
	/*
	 * FORMAT.md 14: shared from before the first lookup until the
	 * last ref, so that a gc cannot drop what the new commits name.
	 */
	cli_lock_writer(r);
	if (vfs_new(&vfs, r) < 0)
		die("%s", err_last());
	for (int i = 0; i < n; i++)
		rewrite_plan_add(&plan, vfs, paths[i]);
	for (size_t i = 0; i < plan.nr_errors; i++)
		report(&plan.errors[i]);
	if (plan.nr_errors) {
		cli_log("not proceeding with any removals\n");
		ret = 1;
		goto out;
	}
	if (rewrite_write(&res, r, cli_odb(r), &plan, level) < 0)
		die("%s", err_last());

	/*
	 * Only now touch the refs, each against the value we started from,
	 * so anything above failing leaves them as they were; bup tries
	 * every one.
	 */
	for (size_t i = 0; i < res.nr; i++) {
		const struct rewrite_update *u = &res.u[i];
		char old[OID_HEXSZ + 1];
		struct buf m = BUF_INIT;

		oid_to_hex(&u->old, old);
		if (rewrite_apply(r, u) < 0) {
			if (u->delete) {
				cli_bytes_repr(&m, u->ref);
				cli_add_error("while trying to delete %s (%s): %s",
					      m.data, old, err_last());
			} else {
				cli_path_msg(&m, u->ref);
				cli_add_error("while trying to update %s (%s -> %s): %s",
					      m.data, old, oid_hex(&u->new),
					      err_last());
			}
		} else if (verbose && !u->delete) {
			cli_path_msg(&m, u->ref);
			cli_log("updated %s (%s -> %s)\n", m.data, old,
				oid_hex(&u->new));
		}
		buf_release(&m);
	}
out:
	rewrite_result_release(&res);
	rewrite_plan_release(&plan);
	vfs_free(vfs);
	return ret;
}

int cmd_rm(int argc, const char **argv);
int cmd_rm(int argc, const char **argv)
{
	struct repo *repo;
	struct opts o;
	long long level = 6;
	int ret;

	cli_parse_opts(&o, optspec, argc, argv);
	if (!opt_count(&o, "unsafe"))
		cli_usage_fatal(&o, "refusing to run dangerous, experimental "
				"command without --unsafe");
	if (!o.argc)
		cli_usage_fatal(&o, "no paths specified");
	if (opt_int(&o, "#", &level, 0) < 0 || level < 0 || level > 9)
		cli_usage_fatal(&o, "invalid compression level");
	repo = cli_open_repo();
	ret = cli_rm_paths(repo, o.argc, o.argv, (int)level,
			   opt_count(&o, "verbose"));
	if (!ret && cli_errors()) {
		cli_log("warning: %d errors encountered\n", cli_errors());
		ret = 1;
	}
	repo_free(repo);
	opt_release(&o);
	return ret;
}
