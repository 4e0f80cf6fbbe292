/*
 * cbup bloom: bup bloom's options and messages (lib/bup/cmd/bloom.py in
 * 0.33.7): bring objects/pack/bup.bloom up to date (FORMAT.md 2.6),
 * --ruin it, or --check an idx against it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store/bloom.h"
#include "util/buf.h"
#include "util/err.h"
#include "store/repo.h"

static const char bloom_optspec[] =
	"bup bloom [options...]\n"
	"--\n"
	"ruin       ruin the specified bloom file (clearing the bitfield)\n"
	"f,force    ignore existing bloom file and regenerate it from scratch\n"
	"o,output=  output bloom filename (default: auto)\n"
	"d,dir=     input directory to look for idx files (default: auto)\n"
	"k,hashes=  number of hash functions to use (4 or 5) (default: auto)\n"
	"c,check=   check given *.idx or *.midx file against the bloom filter\n";

int cmd_bloom(int argc, const char **argv);

static void bloom_log_cb(const char *msg)
{
	cli_log("%s", msg);
}

static void bloom_debug_cb(const char *msg)
{
	if (cli_debug >= 1)
		cli_log("%s", msg);
}

static void bloom_error_cb(const char *msg)
{
	cli_add_error("%s", msg);
}

static void bloom_check_cmd(const struct repo *r, const char *dir,
			    const char *bloomfile, const char *idx)
{
	char *rb = cli_repo_rel(r, bloomfile), *ri = cli_repo_rel(r, idx);
	struct bloom_file *b = NULL;
	const char *base = strrchr(idx, '/');
	char *idxpath = NULL;
	long long missing;

	base = base ? base + 1 : idx;
	if (access(bloomfile, F_OK) < 0) {
		cli_log("bloom: %s: does not exist.\n", rb);
		goto out;
	}
	if (bloom_open_mapped(&b, bloomfile) < 0) {
		/* bup: add_error('bloom: %r is invalid.\n' % path) */
		cli_log("%s\n", err_last());
		cli_add_error("bloom: '%s' is invalid.\n", rb);
		goto out;
	}
	if (!bloom_has_idxname(b, base)) {
		cli_log("bloom: %s does not contain the idx.\n", rb);
		goto out;
	}
	idxpath = !strcmp(base, idx) ? xstrfmt("%s/%s", dir, idx) :
				       xstrdup(idx);
	cli_log("bloom: bloom file: %s\n", rb);
	cli_log("bloom:   checking %s\n", ri);
	missing = bloom_check_idx(b, idxpath, bloom_error_cb);
	if (missing < 0) {
		struct buf pm = BUF_INIT;
		cli_path_msg(&pm, idxpath);
		/* bup's note_error: counted, printed as is */
		cli_log("%s\n", err_last());
		cli_add_error("bloom: ERROR: invalid index %s", pm.data);
		buf_release(&pm);
	}
out:
	bloom_close(b);
	free(idxpath);
	free(rb);
	free(ri);
}

int cmd_bloom(int argc, const char **argv)
{
	struct opts o;
	struct repo *r = NULL;
	long long k = 0;
	const char *path, *check;
	char *outfile = NULL;
	int ret = 0;

	memset(&o, 0, sizeof(o));
	cli_parse_opts(&o, bloom_optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no positional parameters expected");
	check = opt_str(&o, "check");
	if (opt_str(&o, "k") && opt_int(&o, "k", &k, 0) < 0)
		cli_usage_fatal(&o, "invalid -k");
	if (!check && k && k != 4 && k != 5)
		cli_usage_fatal(&o, "only k values of 4 and 5 are supported");
	r = cli_open_repo();
	path = opt_str(&o, "dir") ? opt_str(&o, "dir") : r->packdir;
	if (cli_debug >= 1)
		cli_log("bloom: scanning %s\n", path);
	outfile = opt_str(&o, "output") ? xstrdup(opt_str(&o, "output")) :
					  xstrfmt("%s/bup.bloom", path);
	if (check) {
		bloom_check_cmd(r, path, outfile, check);
	} else if (opt_count(&o, "ruin")) {
		if (access(outfile, F_OK) < 0) {
			char *rb = cli_repo_rel(r, outfile);
			struct buf pm = BUF_INIT;
			cli_path_msg(&pm, outfile);
			cli_log("%s\n", pm.data);
			cli_add_error("bloom: %s not found to ruin\n", rb);
			buf_release(&pm);
			free(rb);
		} else if (bloom_ruin(outfile) < 0) {
			ret = error("%s", err_last());
		}
	} else if (bloom_update_ex(path, opt_str(&o, "output"), (int)k,
				   opt_count(&o, "force") > 0, bloom_log_cb,
				   bloom_debug_cb, cli_upkeep_progress) < 0) {
		ret = error("%s", err_last());
	}
	if (!ret && cli_errors()) {
		cli_log("WARNING: %d errors encountered during bloom.\n",
			cli_errors());
		ret = 1;
	} else if (!ret && check) {
		cli_log("All tests passed.\n");
	}
	free(outfile);
	repo_free(r);
	opt_release(&o);
	return cli_finish_stdout(ret ? 1 : 0);
}
