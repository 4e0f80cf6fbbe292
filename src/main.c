/*
 * cbup's entry point: bup's global options (-d/--bup-dir, -D/--debug,
 * --profile, -?/-h/--help, -V/--version), then dispatch through the
 * command table in cmd/cmds.h.  Answers to argv[0] "bup", "cbup",
 * "bup-CMD" and "cbup-CMD" alike, so cbup can stand in for bup under a
 * symlink.  Does nothing eagerly: no repository or config is opened
 * before a command asks for it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD(name, ident, summary) int cmd_##ident(int argc, const char **argv);
#include "cmd/cmds.h"
#undef CMD

static const struct cli_cmd commands[] = {
#define CMD(name, ident, summary) { name, cmd_##ident },
#include "cmd/cmds.h"
#undef CMD
};

const char *cli_argv0 = "bup";
int cli_debug;
int cli_full_argc;
const char **cli_full_argv;

/* bup's top-level usage text, exit 99 (FORMAT.md 11). */
void main_usage(const char *msg);

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void set_bup_dir(const char *dir)
{
	char *abs = NULL;

	if (dir[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			die("cannot get the current directory");
		abs = xstrfmt("%s/%s", cwd, dir);
	} else {
		abs = xstrdup(dir);
	}
	setenv("BUP_DIR", abs, 1);
	free(abs);
}

int main(int argc, const char **argv)
{
	const char *base = strrchr(argv[0], '/');
	const struct cli_cmd *cmd;
	int i = 1;

	base = base ? base + 1 : argv[0];
	cli_full_argc = argc;
	cli_full_argv = argv;
	if (!strncmp(base, "cbup", 4))
		cli_argv0 = "cbup";

	/* "bup-split ARGS" / "cbup-split ARGS" run the command directly. */
	if (!strncmp(base, "bup-", 4) || !strncmp(base, "cbup-", 5)) {
		const char *name = strchr(base, '-') + 1;
		cmd = find_cmd(name);
		if (!cmd)
			main_usage(NULL);
		argv[0] = name;
		return cli_finish_stdout(cmd->fn(argc, argv));
	}

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		if (!strcmp(a, "-?") || !strcmp(a, "-h") ||
		    !strcmp(a, "--help")) {
			main_usage(NULL);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			const char *v[] = { "version", NULL };
			return cli_finish_stdout(cmd_version(1, v));
		} else if (!strcmp(a, "-D") || !strcmp(a, "--debug")) {
			cli_debug++;
			i++;
		} else if (!strcmp(a, "--profile")) {
			i++;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--bup-dir")) {
			if (i + 1 >= argc) {
				char *m = xstrfmt(
					"error: no value provided for %s option",
					a);
				main_usage(m);
			}
			set_bup_dir(argv[i + 1]);
			i += 2;
		} else if (!strncmp(a, "--bup-dir=", 10)) {
			set_bup_dir(a + 10);
			i++;
		} else if (!strncmp(a, "-d", 2)) {
			set_bup_dir(a + 2);
			i++;
		} else {
			char *m = xstrfmt("error: unexpected option \"%s\"", a);
			main_usage(m);
		}
	}
	if (cli_debug) {
		char n[16];
		snprintf(n, sizeof(n), "%d", cli_debug);
		setenv("BUP_DEBUG", n, 1);
	} else if (getenv("BUP_DEBUG")) {
		cli_debug = (int)strtol(getenv("BUP_DEBUG"), NULL, 10);
	}
	if (i >= argc)
		main_usage(NULL);
	cmd = find_cmd(argv[i]);
	if (!cmd) {
		char *m = xstrfmt("error: unknown command \"%s\"", argv[i]);
		main_usage(m);
	}
	return cli_finish_stdout(cmd->fn(argc - i, argv + i));
}
