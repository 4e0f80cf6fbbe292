/*
 * cbup midx: bup midx's options and messages (lib/bup/cmd/midx.py in
 * 0.33.7): merge given .idx/.midx files, -a/-f over a pack directory
 * (FORMAT.md 2.5), --check.  Unlike bup, a midx that fails validation
 * is an error for --check (bup skips some with a warning and crashes on
 * others).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "store/idx.h"
#include "store/midx.h"
#include "store/repo.h"

static const char midx_optspec[] =
	"bup midx [options...] <idxnames...>\n"
	"--\n"
	"o,output=  output midx filename (default: auto-generated)\n"
	"a,auto     automatically use all existing .midx/.idx files as input\n"
	"f,force    merge produce exactly one .midx containing all objects\n"
	"p,print    print names of generated midx files\n"
	"check      validate contents of the given midx files (with -a, all midx files)\n"
	"max-files= maximum number of idx files to open at once [-1]\n"
	"d,dir=     directory containing idx/midx files\n";

int cmd_midx(int argc, const char **argv);

static void midx_log_cb(const char *msg)
{
	cli_log("%s", msg);
}

static void midx_debug_cb(const char *msg)
{
	if (cli_debug >= 1)
		cli_log("%s", msg);
}

static void midx_check_one(const struct repo *r, const char *name)
{
	struct midx_file *m = NULL;
	char *nice = cli_repo_rel(r, name);
	const char *slash = strrchr(name, '/');
	int before = cli_errors();
	struct buf msg = BUF_INIT;

	cli_path_msg(&msg, nice);
	cli_log("Checking %s.\n", msg.data);
	buf_release(&msg);
	if (midx_open(&m, name) < 0) {
		cli_add_error("%s", err_last());
		goto out;
	}
	for (size_t i = 0; i < m->nr_idxnames; i++) {
		char *sub = slash ? xstrfmt("%.*s/%s", (int)(slash - name),
					    name, m->idxnames[i]) :
				    xstrdup(m->idxnames[i]);
		struct idx_file *ix;
		struct buf sn = BUF_INIT;

		cli_shorten_hash(&sn, m->idxnames[i]);
		if (idx_open(&ix, sub) < 0) {
			cli_add_error("%s: %s", nice, err_last());
			free(sub);
			buf_release(&sn);
			continue;
		}
		for (uint32_t e = 0; e < ix->nr; e++) {
			struct oid o;
			if (!(e % 1234))
				cli_progress("  %zu/%zu: %s %u/%u\r", i,
					     m->nr_idxnames, sn.data, e,
					     ix->nr);
			idx_nth_oid(ix, e, &o);
			if (idx_find(ix, &o) < 0)
				cli_add_error("%s: %s: %s missing from idx",
					      nice, sn.data, oid_hex(&o));
			if (midx_find(m, &o, NULL) < 0)
				cli_add_error("%s: %s: %s missing from midx",
					      nice, sn.data, oid_hex(&o));
		}
		idx_close(ix);
		free(sub);
		buf_release(&sn);
	}
	for (uint32_t e = 1; e < m->nr; e++) {
		const unsigned char *s = m->shas + (size_t)e * 20;
		if (!(e % 1234))
			cli_progress("  Ordering: %u/%u\r", e, m->nr);
		if (memcmp(s - 20, s, 20) > 0) {
			struct oid a, b;
			memcpy(a.hash, s, 20);
			memcpy(b.hash, s - 20, 20);
			/* bup formats the bytes name: b'...' */
			cli_add_error("b'%s': ordering error: %s < %s", nice,
				      oid_hex(&a), oid_hex(&b));
		}
	}
	/* What bup does not check: fanout buckets and which indices. */
	if (cli_errors() == before && midx_verify(m) < 0)
		cli_add_error("%s", err_last());
out:
	midx_close(m);
	free(nice);
}

static int midx_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

int cmd_midx(int argc, const char **argv)
{
	struct opts o;
	struct repo *r = NULL;
	struct midx_opts mo;
	long long max_files = -1;
	const char *path;
	int auto_mode, force, ret = 0;

	memset(&o, 0, sizeof(o));
	cli_parse_opts(&o, midx_optspec, argc, argv);
	auto_mode = opt_count(&o, "auto") > 0;
	force = opt_count(&o, "force") > 0;
	if (o.argc && (auto_mode || force))
		cli_usage_fatal(&o, "you can't use -f/-a and also provide "
				"filenames");
	if (opt_count(&o, "check") && !o.argc && !auto_mode)
		cli_usage_fatal(&o, "if using --check, you must provide "
				"filenames or -a");
	r = cli_open_repo();
	if (opt_str(&o, "max-files") &&
	    opt_int(&o, "max-files", &max_files, 0) < 0)
		cli_usage_fatal(&o, "invalid --max-files");
	if (max_files < 0)
		max_files = midx_max_files();
	if (max_files < 5 || max_files > INT_MAX) {
		ret = error("--max-files must be at least 5");
		goto out;
	}
	path = opt_str(&o, "dir") ? opt_str(&o, "dir") : r->packdir;

	memset(&mo, 0, sizeof(mo));
	mo.outfile = opt_str(&o, "output");
	mo.auto_mode = auto_mode;
	mo.force = force;
	mo.max_files = (int)max_files;
	mo.log = midx_log_cb;
	mo.debug = midx_debug_cb;
	mo.progress = cli_upkeep_progress;

	if (opt_count(&o, "check")) {
		if (o.argc) {
			for (int i = 0; i < o.argc; i++)
				midx_check_one(r, o.argv[i]);
		} else {
			DIR *d = opendir(path);
			struct dirent *de;
			if (cli_debug >= 1)
				cli_log("midx: scanning %s\n", path);
			while (d && (de = readdir(d))) {
				char *p;
				if (!midx_ends_with(de->d_name, ".midx"))
					continue;
				p = xstrfmt("%s/%s", path, de->d_name);
				midx_check_one(r, p);
				free(p);
			}
			if (d)
				closedir(d);
		}
		if (!cli_errors())
			cli_log("All tests passed.\n");
	} else if (o.argc) {
		char *made = NULL;
		fflush(stdout);
		ret = midx_write_opts(path, o.argv, (size_t)o.argc, &mo,
				      &made);
		if (ret < 0) {
			ret = error("%s", err_last());
			goto out;
		}
		if (ret > 0 && opt_count(&o, "print"))
			printf("%s\n", made);
		free(made);
		ret = 0;
	} else if (auto_mode || force) {
		fflush(stdout);
		if (cli_debug >= 1)
			cli_log("midx: scanning %s\n", path);
		if (midx_dir(path, &mo) < 0) {
			ret = error("%s", err_last());
			goto out;
		}
	} else {
		cli_usage_fatal(&o, "you must use -f or -a or provide input "
				"filenames");
	}
	if (cli_errors()) {
		cli_log("WARNING: %d errors encountered.\n", cli_errors());
		ret = 1;
	}
out:
	repo_free(r);
	opt_release(&o);
	return cli_finish_stdout(ret ? 1 : 0);
}
