/*
 * bup ls [-r host:path] [-l] [-d] [-F] [-a] [-A] [-s] [-n] [path...]
 *
 * Lists VFS paths (FORMAT.md 6.2) as bup 0.33.7's lib/bup/ls.py does;
 * the listing is lsfmt's (shared with ftp's ls), this is its command
 * line: the repository, local or remote (-r), and stdout.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "remote/client.h"
#include "util/err.h"
#include "vfs/lsfmt.h"
#include "store/repo.h"
#include "vfs/vfs.h"

static void out_stdout(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	fwrite(data, 1, len, stdout);
}

static void out_log(void *ctx, const char *line)
{
	(void)ctx;
	cli_log("%s", line);
}

int cmd_ls(int argc, const char **argv);
int cmd_ls(int argc, const char **argv)
{
	struct lsfmt_opts lo;
	struct lsfmt_output out = { out_stdout, out_log, NULL, 0, 0 };
	struct opts o;
	struct repo *repo;
	struct client *cli = NULL;
	struct vfs *vfs = NULL;
	struct lsfmt *l;
	const char *remote;
	int ret;

	repo = cli_open_repo();   /* bup checks the repository first */
	ret = lsfmt_parse(&lo, &o, argc, argv, "/");
	if (ret != OPT_OK) {
		cli_write_usage(&o, ret);
		opt_release(&o);
		repo_free(repo);
		return 97;
	}
	remote = opt_str(&o, "remote");
	out.tty = cli_stdout_is_tty();
	out.width = opt_tty_width();
	/* bup: RemoteRepo(opt.remote), the same listing over the server */
	if (remote && *remote) {
		if (cli_client_open(&cli, remote, repo->path, 0) < 0) {
			error("%s", err_last());
			repo_free(repo);
			opt_release(&o);
			return 1;
		}
		if (client_vfs_new(&vfs, cli) < 0)
			die("%s", err_last());
	} else if (vfs_new(&vfs, repo) < 0) {
		die("%s", err_last());
	}

	l = lsfmt_new(vfs);
	ret = lsfmt_run(l, &lo, "", &out);
	lsfmt_free(l);
	vfs_free(vfs);
	if (cli && client_close(cli) < 0) {
		fflush(stdout);
		error("%s", err_last());
		ret = 1;
	}
	repo_free(repo);
	opt_release(&o);
	return ret;
}
