/*
 * bup version [--date|--commit]
 *
 * cbup prints bup's version, 0.33.7, and the date and (empty) commit
 * the Debian bup 0.33.7 package reports: cbup implements that
 * version's formats and command line, and scripts (bup's own tests,
 * wrappers that check `bup version`) must see the same answer when
 * cbup stands in for bup.  cbup's own build is not a separate version.
 */
#include "cli.h"

/* bup 0.33.7: bup/source_info.py as packaged */
#define CBUP_BUP_VERSION "0.33.7"
#define CBUP_BUP_DATE "2025-02-02"
#define CBUP_BUP_COMMIT ""

static const char optspec[] =
	"bup version [--date|--commit]\n"
	"--\n"
	"date    display the date this version of bup was created\n"
	"commit  display the git commit id of this version of bup\n";

int cmd_version(int argc, const char **argv);
int cmd_version(int argc, const char **argv)
{
	struct opts o;
	int date, commit;

	cli_parse_opts(&o, optspec, argc, argv);
	date = opt_count(&o, "date") > 0;
	commit = opt_count(&o, "commit") > 0;
	if (date + commit > 1)
		cli_usage_fatal(&o, "at most one option expected");
	/* extra arguments are ignored, as bup does */
	if (date)
		puts(CBUP_BUP_DATE);
	else if (commit)
		puts(CBUP_BUP_COMMIT);
	else
		puts(CBUP_BUP_VERSION);
	opt_release(&o);
	return 0;
}
