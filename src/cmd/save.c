/*
 * cbup save: bup 0.33.7's `bup save` (lib/bup/cmd/save.py): the options,
 * the destination (the repository's pack writer, or with -r or in
 * reverse mode under `bup on` (FORMAT.md 7.4) the client's, 7.3), the
 * archiver (pipelines/archive.h) that walks the index, splits, builds
 * the trees and writes the commit, and bup's output: the archiver's
 * lines and the progress line formatted from its counters.  The branch
 * is updated (compare-and-swap, locally or on the server) after the
 * pack is closed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pipelines/archive.h"
#include "pipelines/archpath.h"
#include "remote/client.h"
#include "store/commit.h"
#include "store/packwriter.h"
#include "store/refs.h"
#include "store/repo.h"
#include "util/err.h"

int cmd_save(int argc, const char **argv);

static const char optspec[] =
	"bup save [-tc] [-n name] <filenames...>\n"
	"--\n"
	"r,remote=  hostname:/path/to/repo of remote repository\n"
	"t,tree     output a tree id\n"
	"c,commit   output a commit id\n"
	"n,name=    name of backup set to update (if any)\n"
	"d,date=    date for the commit (seconds since the epoch)\n"
	"v,verbose  increase log output (can be used more than once)\n"
	"q,quiet    don't show progress meter\n"
	"smaller=   only back up files smaller than n bytes\n"
	"bwlimit=   maximum bytes/sec to transmit to server\n"
	"f,indexfile=  the name of the index file (normally "
	"BUP_DIR/bupindex)\n"
	"strip      strips the path to every filename given\n"
	"strip-path= path-prefix to be stripped when saving\n"
	"graft=     a graft point *old_path*=*new_path* (can be used more "
	"than once)\n"
	"#,compress=  set compression level to # (0-9, 9 is highest) [1]\n";

/* ---- the archiver's output --------------------------------------------- */

struct out {
	double lastremain;   /* save.py's _nonlocal['lastremain'] */
};

static void on_log(void *ctx, const char *line)
{
	(void)ctx;
	cli_log("%s", line);
}

static void on_error(void *ctx, const char *msg)
{
	(void)ctx;
	cli_add_error("%s", msg);
}

/* save.py's progress_report() and its closing lines. */
static void on_progress(void *ctx, const struct archive_progress *p)
{
	struct out *o = ctx;
	uint64_t cc;
	double pct, elapsed, remain, kpsf, frac;
	long long kps, hours, mins, secs;
	char remainstr[64] = "", kpsstr[64] = "";

	switch (p->phase) {
	case ARCHIVE_READING:
		cli_progress("Reading index: %llu\r",
			     (unsigned long long)p->ftotal);
		return;
	case ARCHIVE_READ:
		cli_progress_done("Reading index: %llu, done.\n",
				  (unsigned long long)p->ftotal);
		return;
	case ARCHIVE_SAVED:
		pct = p->total ? p->count * 100.0 / (double)p->total : 0;
		/* `total and x or 100`: a 0.0 percentage shows as 100 */
		if (pct == 0)
			pct = 100;
		cli_progress_done("Saving: %.2f%% (%llu/%lluk, %llu/%llu "
				  "files), done.    \n", pct,
				  (unsigned long long)(p->count / 1024),
				  (unsigned long long)(p->total / 1024),
				  (unsigned long long)p->fcount,
				  (unsigned long long)p->ftotal);
		return;
	case ARCHIVE_SAVING:
		break;
	}
	cc = p->count + p->subcount;
	pct = p->total ? cc * 100.0 / (double)p->total : 0;
	elapsed = util_now() - p->tstart;
	kps = elapsed != 0 ? (long long)(cc / 1024. / elapsed) : 0;
	/* kps_frac = 10 ** int(math.log(kps+1, 10) - 1) */
	frac = pow(10, (double)(long long)(log((double)kps + 1) / log(10.0)
					   - 1));
	kpsf = (double)(long long)((double)kps / frac) * frac;
	remain = cc ? elapsed / (double)cc * (double)(p->total - cc) : 0.0;
	if (o->lastremain != 0 && remain > o->lastremain &&
	    (remain - o->lastremain) / o->lastremain < 0.05)
		remain = o->lastremain;
	else
		o->lastremain = remain;
	hours = (long long)(remain / 60 / 60);
	mins = (long long)(remain / 60 - (double)hours * 60);
	secs = (long long)(remain - (double)hours * 60 * 60 -
			   (double)mins * 60);
	if (elapsed >= 30) {
		snprintf(kpsstr, sizeof(kpsstr), "%lldk/s", (long long)kpsf);
		if (hours)
			snprintf(remainstr, sizeof(remainstr), "%lldh%lldm",
				 hours, mins);
		else if (mins)
			snprintf(remainstr, sizeof(remainstr), "%lldm%lld",
				 mins, secs);
		else
			snprintf(remainstr, sizeof(remainstr), "%llds", secs);
	}
	cli_progress("Saving: %.2f%% (%llu/%lluk, %llu/%llu files) %s %s\r",
		     pct, (unsigned long long)(cc / 1024),
		     (unsigned long long)(p->total / 1024),
		     (unsigned long long)p->fcount,
		     (unsigned long long)p->ftotal, remainstr, kpsstr);
}

/* ---- the command ---------------------------------------------------- */

/* The wall clock (util_now() is monotonic), for the commit's date. */
static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long num_opt(struct opts *o, const char *flag)
{
	long long v = 0;
	const char *str = opt_str(o, flag);

	if (!opt_count(o, flag) || !str || !*str)
		return 0;
	if (opt_parse_num(str, &v) < 0)
		cli_usage_fatal(o, "invalid number for --%s: '%s'", flag, str);
	return v;
}

/* --strip, --strip-path and --graft into rules; usage errors exit. */
static void parse_rules(struct opts *o, struct archpath_rules *rules)
{
	const char *str, *strip_path = NULL;
	int strip = opt_count(o, "strip") > 0;

	if (opt_count(o, "strip-path") && (str = opt_str(o, "strip-path")) &&
	    *str)
		strip_path = str;
	if (strip && strip_path)
		cli_usage_fatal(o, "--strip is incompatible with --strip-path");
	if (opt_count(o, "graft") && (str = opt_str(o, "graft")) && *str) {
		if (strip)
			cli_usage_fatal(o, "--strip is incompatible with "
					"--graft");
		if (strip_path)
			cli_usage_fatal(o, "--strip-path is incompatible "
					"with --graft");
		for (size_t i = 0; i < o->nr_flags; i++)
			if (!strcmp(o->flags[i].flag, "graft") &&
			    archpath_add_graft(rules, o->flags[i].value))
				cli_usage_fatal(o, "%s", err_last());
	}
	/* --strip: the sources as given */
	if (strip)
		for (int i = 0; i < o->argc; i++)
			archpath_add_strip(rules, o->argv[i]);
	else if (strip_path)
		archpath_add_strip(rules, strip_path);
}

int cmd_save(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct archive_opts ao = { 0 };
	struct archive_result res;
	struct archpath_rules rules = ARCHPATH_RULES_INIT;
	struct packwriter_opts po = { 0 };
	struct out out = { 0 };
	struct packwriter *pw = NULL;
	struct client *cli = NULL;
	struct client_writer *cw = NULL;
	struct buf msg = BUF_INIT;
	const char *name = NULL, *str, *remote = NULL;
	struct repo *repo = NULL;
	char *refname = NULL, *indexfile = NULL;
	struct oid oldref;
	int have_old = 0, code = 0, ret = 0, cmd_level = -1, tree_out,
	    commit_out, reverse;

	cli_parse_opts(&o, optspec, argc, argv);
	tree_out = opt_count(&o, "t") > 0;
	commit_out = opt_count(&o, "c") > 0;
	if (opt_count(&o, "n") && (str = opt_str(&o, "n")) && *str)
		name = str;
	if (!(tree_out || commit_out || name))
		cli_usage_fatal(&o, "use one or more of -t, -c, -n");
	if (!o.argc)
		cli_usage_fatal(&o, "no filenames given");
	if (opt_count(&o, "d") && (str = opt_str(&o, "d")) && *str)
		ao.date = cli_parse_date(&o, str);
	else
		ao.date = now_secs();
	ao.verbose = opt_count(&o, "v");
	if (cli_stderr_is_tty() && !opt_count(&o, "q"))
		ao.progress = on_progress;
	ao.smaller = num_opt(&o, "smaller");
	(void)num_opt(&o, "bwlimit");   /* only matters for -r */
	parse_rules(&o, &rules);
	ao.rules = &rules;
	ao.sources = o.argv;
	ao.nr_sources = (size_t)o.argc;
	reverse = getenv("BUP_SERVER_REVERSE") &&
		  *getenv("BUP_SERVER_REVERSE");
	if (opt_count(&o, "r") && (str = opt_str(&o, "r")) && *str)
		remote = str;
	if (reverse && opt_count(&o, "r"))
		cli_usage_fatal(&o, "don't use -r in reverse mode; it's "
				"automatic");
	if (name && !refs_valid_save_name(name)) {
		struct buf m = BUF_INIT;
		cli_path_msg(&m, name);
		cli_usage_fatal(&o, "'%s' is not a valid branch name", m.data);
	}

	repo = cli_open_repo();
	if (!remote && !reverse)
		cli_lock_writer(repo);
	/* a usage error exits: before any connection or thread exists */
	/* given at all: -0 is level 0 (opt_count() is its truth) */
	if (opt_get(&o, "#")->count) {
		long long lvl;
		if (opt_int(&o, "#", &lvl, 0) < 0)
			cli_usage_fatal(&o, "invalid compression level");
		cmd_level = (int)lvl;
	}
	/* bup: Client(opt.remote); a ClientError is "error: %s", exit 1 */
	if ((remote || reverse) &&
	    (ret = cli_client_open(&cli, remote, repo->path, 0)) < 0)
		goto fail;
	/*
	 * The branch is read and checked before any writer starts its
	 * worker threads: nothing may exit() while they run, and a ref
	 * that cannot get a commit on top is refused before any work.
	 */
	if (name) {
		refname = xstrfmt("refs/heads/%s", name);
		if ((ret = cli_read_branch(repo, cli, refname, &oldref,
					   &have_old)))
			goto fail;
	}
	packwriter_opts_from_repo(&po, repo, cmd_level);
	if ((ret = cli_open_writer(&pw, &cw, &ao.sink, repo, cli, &po, 0)))
		goto fail;

	str = opt_str(&o, "f");
	indexfile = (opt_count(&o, "f") && str && *str)
		? xstrdup(str) : xstrfmt("%s/bupindex", repo->path);
	ao.indexfile = indexfile;
	ao.threads = cli_threads();
	ao.commit = commit_out || name;
	ao.parent = have_old ? &oldref : NULL;
	buf_addstr(&msg, "bup save\n\nGenerated by command:\n");
	commit_argv_repr(&msg, argc, argv, 0);
	buf_addch(&msg, '\n');
	ao.msg = msg.data;
	ao.msglen = msg.len;
	ao.log = on_log;
	ao.error = on_error;
	ao.ctx = &out;

	ret = archive_run(&res, &ao);
	if (res.have_tree && tree_out)
		printf("%s\n", oid_hex(&res.tree));
	if (res.no_index) {
		/* bup's log() of this message has no newline */
		cli_log("error: %s", err_last());
		code = 1;
		/* bup's `with` blocks close the writer and the client */
		if (cw) {
			client_writer_close(cw);
			cw = NULL;
		}
		if (cli) {
			client_close(cli);
			cli = NULL;
		}
		goto out;
	}
	if (ret)
		goto fail;
	if (commit_out)
		printf("%s\n", oid_hex(&res.commit));

	if ((ret = cli_finish_writer(&pw, &cw, &cli, repo, refname,
				     &res.commit, have_old ? &oldref : NULL)))
		goto fail;
	code = cli_saving_errors(cli_errors());
	goto out;

fail:
	code = cli_error_last();
out:
	cli_abort_writer(pw, cw, cli);
	archpath_rules_release(&rules);
	buf_release(&msg);
	free(refname);
	free(indexfile);
	if (repo)
		repo_free(repo);
	opt_release(&o);
	return code;
}
