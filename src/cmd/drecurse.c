/*
 * cbup drecurse: bup drecurse (lib/bup/cmd/drecurse.py in 0.33.7).
 * Prints every path the index walk would visit (FORMAT.md 8.2), in the
 * walk's order, one per line; errors are counted bup-style.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "index/drecurse.h"
#include "util/err.h"

static const char drecurse_optspec[] =
	"bup drecurse <path>\n"
	"--\n"
	"x,xdev,one-file-system   don't cross filesystem boundaries\n"
	"exclude= a path to exclude from the backup (can be used more than once)\n"
	"exclude-from= a file that contains exclude paths (can be used more than once)\n"
	"exclude-rx= skip paths matching the unanchored regex (may be repeated)\n"
	"exclude-rx-from= skip --exclude-rx patterns in file (may be repeated)\n"
	"q,quiet  don't actually print filenames\n"
	"profile  run under the python profiler\n";

int cmd_drecurse(int argc, const char **argv);

static void drecurse_error(void *data, const char *msg)
{
	(void)data;
	cli_add_error("%s", msg);
}

static int drecurse_print(void *data, const char *path, size_t len,
			  const struct stat *st)
{
	(void)st;
	if (!*(int *)data) {
		fwrite(path, 1, len, stdout);
		putchar('\n');
	}
	return 0;
}

int cmd_drecurse(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct drecurse_opts d = DRECURSE_OPTS_INIT;
	const char *top;
	int quiet, r = 0;

	cli_parse_opts(&o, drecurse_optspec, argc, argv);
	if (o.argc != 1)
		cli_usage_fatal(&o, "exactly one filename expected");
	top = o.argv[0];
	cli_parse_excludes(&o, &d);
	if (top[0] != '/')
		drecurse_relativize_excludes(&d);
	d.xdev = opt_count(&o, "x") > 0;
	d.error = drecurse_error;
	quiet = opt_count(&o, "q") > 0;
	drecurse_walk(&d, &top, 1, drecurse_print, &quiet);
	if (cli_errors()) {
		fflush(stdout);
		cli_log("WARNING: %d errors encountered.\n", cli_errors());
		r = 1;
	}
	drecurse_opts_release(&d);
	opt_release(&o);
	return r;
}
