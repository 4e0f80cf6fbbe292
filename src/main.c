/*
 * cbup's entry point: bup 0.33.7's main.py global options
 * (-d/--bup-dir, -D/--debug, --profile, -?/--help, -V/--version), then
 * dispatch through the command table in cmd/cmds.h.  Answers to argv[0]
 * "bup", "cbup", "bup-CMD" and "cbup-CMD" alike, so cbup can stand in
 * for bup under a symlink.  Does nothing eagerly: no repository or
 * config is opened before a command asks for it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/err.h"
#include "util/pypath.h"

#define CMD(name, ident, summary) int cmd_##ident(int argc, const char **argv);
#include "cmd/cmds.h"
#undef CMD

static const struct cli_cmd commands[] = {
#define CMD(name, ident, summary) { name, cmd_##ident, summary },
#include "cmd/cmds.h"
#undef CMD
};

const char *cli_argv0 = "bup";
int cli_debug;
int cli_full_argc;
const char **cli_full_argv;

const struct cli_cmd *cli_commands(size_t *n)
{
	*n = ARRAY_SIZE(commands);
	return commands;
}

const struct cli_cmd *cli_find_cmd(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* main.py's extract_argval(): the value of -d/--bup-dir[=] (caller frees). */
static char *extract_argval(int argc, const char **argv, int *i)
{
	const char *arg = argv[*i];
	const char *eq = strchr(arg, '=');
	char *m;

	if (eq) {
		/* bup takes arg.split('=')[1]: up to the next '=' */
		const char *end = strchrnul(eq + 1, '=');
		if (end == eq + 1)
			goto missing;
		(*i)++;
		return xstrndup(eq + 1, (size_t)(end - eq - 1));
	}
	if (*i + 1 >= argc)
		goto missing;
	*i += 2;
	return xstrdup(argv[*i - 1]);
missing:
	{
		struct buf b = BUF_INIT;
		buf_addstr(&b, "error: no value provided for ");
		cli_bytes_repr(&b, arg);
		buf_addstr(&b, " option");
		m = buf_detach(&b, NULL);
	}
	main_usage(m);
}

static void set_tty_env(const char *name)
{
	const char *f = getenv("BUP_FORCE_TTY");
	int already = f ? (int)strtol(f, NULL, 10) : 0;
	int fix_out, fix_err;
	char n[32];

	/* main.py: these commands handle the terminal themselves. */
	if (!strcmp(name, "mux") || !strcmp(name, "ftp") ||
	    !strcmp(name, "help") || !strcmp(name, "fuse"))
		return;
	fix_out = !(already & 1) && isatty(1);
	fix_err = !(already & 2) && isatty(2);
	if (!fix_out && !fix_err)
		return;
	/*
	 * NEEDSWORK: bup also pipes the command's output through a filter
	 * that pads each line to the terminal width; cbup writes directly.
	 */
	snprintf(n, sizeof(n), "%d", (fix_out ? 1 : 0) + (fix_err ? 2 : 0));
	setenv("BUP_FORCE_TTY", n, 1);
	snprintf(n, sizeof(n), "%d", opt_tty_width());
	setenv("BUP_TTY_WIDTH", n, 1);
}

static int run(const struct cli_cmd *cmd, int argc, const char **argv)
{
	set_tty_env(cmd->name);
	return cli_finish_stdout(cmd->fn(argc, argv));
}

int main(int argc, const char **argv)
{
	const char *base = strrchr(argv[0], '/');
	char *bup_dir = NULL;
	const char **sub;
	const struct cli_cmd *cmd;
	int help_requested = 0, want_version = 0;
	int nsub, i = 1;

	base = base ? base + 1 : argv[0];
	cli_full_argc = argc;
	cli_full_argv = argv;
	if (!strncmp(base, "cbup", 4))
		cli_argv0 = "cbup";
	if (getenv("BUP_DEBUG"))
		cli_debug = (int)strtol(getenv("BUP_DEBUG"), NULL, 10);
	cli_init();

	/* "bup-split ARGS" / "cbup-split ARGS" run the command directly. */
	if (!strncmp(base, "bup-", 4) || !strncmp(base, "cbup-", 5)) {
		const char *name = strchr(base, '-') + 1;
		cmd = cli_find_cmd(name);
		if (!cmd) {
			char *m = xstrfmt("error: unknown command \"%s\"",
					  name);
			main_usage(m);
		}
		argv[0] = name;
		return run(cmd, argc, argv);
	}

	if (argc < 2)
		main_usage(NULL);
	while (i < argc) {
		const char *a = argv[i];
		if (!strcmp(a, "-?") || !strcmp(a, "--help")) {
			help_requested = 1;
			i++;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			want_version = 1;
			i++;
		} else if (!strcmp(a, "-D") || !strcmp(a, "--debug")) {
			char n[16];
			cli_debug++;
			snprintf(n, sizeof(n), "%d", cli_debug);
			setenv("BUP_DEBUG", n, 1);
			i++;
		} else if (!strcmp(a, "--profile")) {
			i++;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--bup-dir") ||
			   !strncmp(a, "--bup-dir=", 10)) {
			free(bup_dir);
			bup_dir = extract_argval(argc, argv, &i);
		} else if (!strcmp(a, "--import-py-module") ||
			   !strncmp(a, "--import-py-module=", 19)) {
			free(extract_argval(argc, argv, &i));
		} else if (a[0] == '-') {
			struct buf b = BUF_INIT;
			buf_addstr(&b, "error: unexpected option \"");
			/* decode('ascii', 'backslashescape') is an unknown
			 * handler in Python: non-ASCII gives a traceback.
			 * We print it as is. */
			buf_addstr(&b, a);
			buf_addch(&b, '"');
			main_usage(b.data);
		} else {
			break;
		}
	}

	/* Make BUP_DIR absolute, so a later chdir does not matter. */
	if (bup_dir && *bup_dir) {
		struct buf abs = BUF_INIT;
		if (pypath_abspath(&abs, bup_dir))
			die("%s", err_last());
		setenv("BUP_DIR", abs.data, 1);
		buf_release(&abs);
	}
	free(bup_dir);

	/* subcmd = ['version'] or the rest of the arguments */
	sub = xcalloc((size_t)argc + 3, sizeof(*sub));
	nsub = 0;
	if (want_version) {
		sub[nsub++] = "version";
	} else {
		for (; i < argc; i++)
			sub[nsub++] = argv[i];
	}
	if (!nsub) {
		if (!help_requested)
			main_usage(NULL);
		sub[nsub++] = "help";
	}
	if (help_requested && strcmp(sub[0], "help")) {
		memmove(sub + 1, sub, (size_t)nsub * sizeof(*sub));
		sub[0] = "help";
		nsub++;
	} else if (nsub > 1 && !strcmp(sub[1], "--help") &&
		   strcmp(sub[0], "help")) {
		/* "bup CMD --help ..." is "bup help CMD ..." */
		sub[1] = sub[0];
		sub[0] = "help";
	}
	if (!*sub[0])
		main_usage(NULL);
	cmd = cli_find_cmd(sub[0]);
	if (!cmd) {
		struct buf b = BUF_INIT;
		buf_addstr(&b, "error: unknown command \"");
		cli_path_msg(&b, sub[0]);
		buf_addch(&b, '"');
		main_usage(b.data);
	}
	sub[nsub] = NULL;
	{
		int code = run(cmd, nsub, sub);
		free(sub);
		return code;
	}
}
