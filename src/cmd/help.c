/*
 * bup help [COMMAND]: without a command, bup's top-level usage (exit
 * 99); with one, its man page through `man bup-COMMAND` (or `man bup`),
 * as bup does.  cbup ships no man pages of its own; bup's describe the
 * same command line.  When man(1) is not installed, the command's
 * usage text is shown instead (exit 97).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char optspec[] = "bup help <command>\n";

int cmd_help(int argc, const char **argv);
int cmd_help(int argc, const char **argv)
{
	struct opts o;
	const struct cli_cmd *cmd;
	const char *man[3];
	char *doc;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc == 0)
		main_usage(NULL);
	if (o.argc > 1)
		cli_usage_fatal(&o, "exactly one command name expected");
	doc = !strcmp(o.argv[0], "bup") ? xstrdup("bup") :
					  xstrfmt("bup-%s", o.argv[0]);
	man[0] = "man";
	man[1] = doc;
	man[2] = NULL;
	fflush(stdout);
	execvp("man", (char *const *)man);
	if (errno != ENOENT) {
		/* Python's OSError text */
		fprintf(stderr, "Unable to run man command: [Errno %d] %s: "
			"'man'\n", errno, strerror(errno));
		return 1;
	}
	cmd = cli_find_cmd(o.argv[0]);
	if (cmd) {
		const char *usage[] = { cmd->name, "--usage", NULL };
		return cmd->fn(2, usage);   /* exits 97 */
	}
	fprintf(stderr, "No manual entry for %s\n", doc);
	return 16;  /* man's status for a missing page */
}
