/*
 * cbup index: bup 0.33.7's `bup index` (lib/bup/cmd/index.py): the
 * options, then the index updater (pipelines/indexer.h) for --check,
 * --clear, -u and the entries -p/-m/-s list, and bup's output: the
 * updater's lines as it reports them, the listing formatted here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "index/bindex.h"
#include "index/drecurse.h"
#include "pipelines/indexer.h"
#include "store/repo.h"
#include "util/err.h"
#include "util/pypath.h"

int cmd_index(int argc, const char **argv);

static const char index_optspec[] =
	"bup index <-p|-m|-s|-u|--clear|--check> [options...] <filenames...>\n"
	"--\n"
	" Modes:\n"
	"p,print    print the index entries for the given names (also works with -u)\n"
	"m,modified print only added/deleted/modified files (implies -p)\n"
	"s,status   print each filename with a status char (A/M/D) (implies -p)\n"
	"u,update   recursively update the index entries for the given file/dir names (default if no mode is specified)\n"
	"check      carefully check index file integrity\n"
	"clear      clear the default index\n"
	" Options:\n"
	"H,hash     print the hash for each object next to its name\n"
	"l,long     print more information about each file\n"
	"no-check-device don't invalidate an entry if the containing device changes\n"
	"fake-valid mark all index entries as up-to-date even if they aren't\n"
	"fake-invalid mark all index entries as invalid\n"
	"f,indexfile=  the name of the index file (normally BUP_DIR/bupindex)\n"
	"exclude= a path to exclude from the backup (may be repeated)\n"
	"exclude-from= skip --exclude paths in file (may be repeated)\n"
	"exclude-rx= skip paths matching the unanchored regex (may be repeated)\n"
	"exclude-rx-from= skip --exclude-rx patterns in file (may be repeated)\n"
	"v,verbose  increase log output (can be used more than once)\n"
	"x,xdev,one-file-system  don't cross filesystem boundaries\n";

/* ---- the updater's output ---------------------------------------------- */

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

static void on_progress(void *ctx, int done, const char *line)
{
	(void)ctx;
	if (done)
		cli_progress_done("%s", line);
	else
		cli_progress("%s", line);
}

static void on_path(void *ctx, const char *path, size_t len)
{
	(void)ctx;
	fwrite(path, 1, len, stdout);
	putchar('\n');
	fflush(stdout);
}

/* Temporary index files go away on SIGINT and die(). */
static void on_cleanup(void *ctx, int add, void (*fn)(void *), void *data)
{
	(void)ctx;
	if (add)
		cli_atexit(fn, data);
	else
		cli_atexit_remove(fn, data);
}

/* ---- printing ---------------------------------------------------------- */

struct print_opts {
	int modified, status, hash, longfmt;
};

static void print_entry(void *ctx, const char *prefix, const char *rest,
			const struct bindex_ent *e)
{
	static const char hex[] = "0123456789abcdef";
	const struct print_opts *po = ctx;

	if (po->status) {
		if (bindex_ent_is_deleted(e))
			fputs("D ", stdout);
		else if (!bindex_ent_is_valid(e))
			fputs(bindex_ent_sha_is_empty(e) ? "A " : "M ",
			      stdout);
		else
			fputs("  ", stdout);
	}
	if (po->hash) {
		char h[41];
		for (int i = 0; i < 20; i++) {
			h[2 * i] = hex[e->sha[i] >> 4];
			h[2 * i + 1] = hex[e->sha[i] & 15];
		}
		h[40] = ' ';
		fwrite(h, 1, 41, stdout);
	}
	if (po->longfmt)
		printf("%07o %07o ", (unsigned)e->mode, (unsigned)e->gitmode);
	/* bup: name or b'./' */
	if (!*prefix && !*rest)
		fputs("./", stdout);
	fputs(prefix, stdout);
	fputs(rest, stdout);
	putchar('\n');
}

/* ---- the command ------------------------------------------------------- */

/* bup: bup_dir = os.path.abspath(git.repo()). */
static char *abs_repo_dir(const char *path)
{
	struct buf b = BUF_INIT;

	pypath_abspath(&b, path);
	return buf_detach(&b, NULL);
}

int cmd_index(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct drecurse_opts walk = DRECURSE_OPTS_INIT;
	struct indexer_opts io;
	struct print_opts po;
	struct repo *repo = NULL;
	char *indexfile = NULL;
	int update, print, clear, r = 0;

	memset(&io, 0, sizeof(io));
	io.walk = &walk;
	io.log = on_log;
	io.error = on_error;
	io.progress = on_progress;
	io.path = on_path;
	io.cleanup = on_cleanup;
	cli_parse_opts(&o, index_optspec, argc, argv);
	po.modified = opt_count(&o, "m") > 0;
	po.status = opt_count(&o, "s") > 0;
	po.hash = opt_count(&o, "H") > 0;
	po.longfmt = opt_count(&o, "l") > 0;
	print = opt_count(&o, "p") > 0;
	update = opt_count(&o, "u") > 0;
	clear = opt_count(&o, "clear") > 0;
	io.check = opt_count(&o, "check") > 0;
	io.check_device = opt_count(&o, "check-device") > 0;
	io.fake_valid = opt_count(&o, "fake-valid") > 0;
	io.fake_invalid = opt_count(&o, "fake-invalid") > 0;
	io.verbose = opt_count(&o, "v");
	walk.xdev = opt_count(&o, "x") > 0;

	if (!(po.modified || print || po.status || update || io.check ||
	      clear))
		update = 1;
	if ((io.fake_valid || io.fake_invalid) && !update)
		cli_usage_fatal(&o, "--fake-{in,}valid are meaningless without -u");
	if (io.fake_valid && io.fake_invalid)
		cli_usage_fatal(&o, "--fake-valid is incompatible with --fake-invalid");
	if (clear && opt_str(&o, "f"))
		cli_usage_fatal(&o, "cannot clear an external index (via -f)");

	/*
	 * No sleep to the next whole second as bup does before anything
	 * else: an update sleeps only when a path it records changed in
	 * the second it started in, or for a few ms when it starts at the
	 * very beginning of a second (bindex_settle).
	 */

	repo = cli_open_repo();
	if (opt_str(&o, "f"))
		indexfile = xstrdup(opt_str(&o, "f"));
	else
		indexfile = xstrfmt("%s/bupindex", repo->path);

	if (io.check) {
		cli_log("check: starting initial check.\n");
		if (indexer_check(&io, indexfile))
			goto fail;
	}
	if (clear) {
		cli_log("clear: clearing index.\n");
		if (indexer_clear(&io, indexfile))
			goto fail;
	}
	fflush(stdout);

	if (update) {
		if (!o.argc)
			cli_usage_fatal(&o, "update mode (-u) requested but no paths given");
		cli_parse_excludes(&o, &walk);
		walk.bup_dir = abs_repo_dir(repo->path);
		if (indexer_update(&io, indexfile, o.argv, (size_t)o.argc))
			goto fail;
	}

	if ((print || po.status || po.modified) &&
	    indexer_list(&io, indexfile, o.argv, (size_t)o.argc, po.modified,
			 print_entry, &po))
		goto fail;

	if (io.check && (print || po.status || po.modified || update)) {
		cli_log("check: starting final check.\n");
		if (indexer_check(&io, indexfile))
			goto fail;
	}

	if (cli_errors()) {
		cli_log("WARNING: %d errors encountered.\n", cli_errors());
		r = 1;
	}
	goto out;
fail:
	error("%s", err_last());
	r = 1;
out:
	free(indexfile);
	repo_free(repo);
	drecurse_opts_release(&walk);
	opt_release(&o);
	return cli_finish_stdout(r);
}
