/*
 * [BUP_DIR=...] bup init [-r host:path]: create the repository layout
 * of FORMAT.md 1.2 (repo_init_ex), with git's messages on stderr as
 * bup shows them (bup runs `git init` with stdout sent to stderr).
 */
#include <stdlib.h>

#include "cli.h"
#include "remote/client.h"
#include "util/err.h"
#include "store/repo.h"

static const char optspec[] =
	"[BUP_DIR=...] bup init [-r host:path]\n"
	"--\n"
	"r,remote=  remote repository path\n";

/* git 2.39's advice when init.defaultBranch is not configured */
static const char branch_hint[] =
	"hint: Using 'master' as the name for the initial branch. This "
	"default branch name\n"
	"hint: is subject to change. To configure the initial branch name "
	"to use in all\n"
	"hint: of your new repositories, which will suppress this warning, "
	"call:\n"
	"hint: \n"
	"hint: \tgit config --global init.defaultBranch <name>\n"
	"hint: \n"
	"hint: Names commonly chosen instead of 'master' are 'main', "
	"'trunk' and\n"
	"hint: 'development'. The just-created branch can be renamed via "
	"this command:\n"
	"hint: \n"
	"hint: \tgit branch -m <name>\n";

int cmd_init(int argc, const char **argv);
int cmd_init(int argc, const char **argv)
{
	struct repo_init_info info;
	struct opts o;
	char *dir;
	int ret;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no arguments expected");
	dir = repo_default_path();
	ret = repo_init_ex(dir, &info);
	free(dir);
	if (ret) {
		cli_log("bup: error: could not init repository: %s\n",
			err_last());
		opt_release(&o);
		return 1;
	}
	if (info.advise_branch)
		cli_log("%s", branch_hint);
	cli_log("%s Git repository in %s\n",
		info.reinit ? "Reinitialized existing" : "Initialized empty",
		info.git_dir);
	free(info.git_dir);
	if (opt_str(&o, "remote") && *opt_str(&o, "remote")) {
		/* bup: check the local repository, then init-dir remotely */
		struct repo *repo = cli_open_repo();
		struct client *cli;

		ret = cli_client_open(&cli, opt_str(&o, "remote"), repo->path,
				      1);
		if (!ret)
			ret = client_close(cli);
		repo_free(repo);
		if (ret) {
			opt_release(&o);
			return error("%s", err_last());
		}
	}
	opt_release(&o);
	return 0;
}
