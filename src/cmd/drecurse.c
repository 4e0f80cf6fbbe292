/*
 * cbup drecurse: bup drecurse (lib/bup/cmd/drecurse.py in 0.33.7).
 * Prints every path the index walk would visit (FORMAT.md 8.2), in the
 * walk's order, one per line; errors are counted bup-style.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/drecurse.h"
#include "lib/err.h"

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

/* bup's parse_excludes / parse_rx_excludes, fatal on a bad option. */
static void drecurse_parse_excludes(struct opts *o, struct drecurse_opts *d)
{
	const struct opt_value *v;

	v = opt_get(o, "exclude");
	for (size_t i = 0; v && i < v->nr_values; i++)
		drecurse_add_exclude(d, v->values[i]);
	v = opt_get(o, "exclude-from");
	for (size_t i = 0; v && i < v->nr_values; i++)
		if (drecurse_add_exclude_from(d, v->values[i]))
			cli_usage_fatal(o, "couldn't read '%s'", v->values[i]);
	v = opt_get(o, "exclude-rx");
	for (size_t i = 0; v && i < v->nr_values; i++)
		if (drecurse_add_rx(d, v->values[i]))
			cli_usage_fatal(o, "invalid --exclude-rx pattern ('%s'): %s",
					v->values[i], err_last());
	v = opt_get(o, "exclude-rx-from");
	for (size_t i = 0; v && i < v->nr_values; i++) {
		int r = drecurse_add_rx_from(d, v->values[i]);
		if (r == ERR_IO)
			cli_usage_fatal(o, "couldn't read '%s'", v->values[i]);
		if (r)
			cli_usage_fatal(o, "%s", err_last());
	}
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
	drecurse_parse_excludes(&o, &d);
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
