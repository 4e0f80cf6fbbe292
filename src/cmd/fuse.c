/*
 * cbup fuse: mount the repository as a read-only filesystem, with bup
 * 0.33.7's options (lib/bup/cmd/fuse.py); the filesystem is
 * pipelines/fusefs.  bup runs python-fuse single-threaded; this serves
 * requests from several threads.  CBUP_FUSE_CACHE_MB sets the path
 * cache's cap (fusefs.h).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipelines/fusefs.h"
#include "store/repo.h"
#include "util/err.h"

int cmd_fuse(int argc, const char **argv);

static const char optspec[] =
	"bup fuse [-d] [-f] <mountpoint>\n"
	"--\n"
	"f,foreground  run in foreground\n"
	"d,debug       run in the foreground and display FUSE debug "
	"information\n"
	"o,allow-other allow other users to access the filesystem\n"
	"meta          report original metadata for paths when available\n"
	"v,verbose     increase log output (can be used more than once)\n";

/* bup -v: "--getattr(b'/path')" and friends, on stderr. */
static void log_op(void *data, const char *op, const char *path)
{
	struct buf m = BUF_INIT;

	(void)data;
	cli_bytes_repr(&m, path);
	cli_log("--%s(%s)\n", op, m.data);
	buf_release(&m);
}

static void log_error(void *data, const char *path, const char *msg)
{
	struct buf m = BUF_INIT;

	(void)data;
	cli_path_msg(&m, path);
	cli_log("error: %s: %s\n", m.data, msg);
	buf_release(&m);
}

int cmd_fuse(int argc, const char **argv)
{
	struct fusefs_opts fo = { 0 };
	struct fusefs_mount_opts mo = { 0 };
	struct fusefs *fs = NULL;
	struct repo *repo;
	struct opts o;
	const char *env;
	int ret;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc != 1)
		cli_usage_fatal(&o, "only one mount point argument expected");
	repo = cli_open_repo();
	fo.want_meta = opt_count(&o, "meta") > 0;
	fo.log_error = log_error;
	if (opt_count(&o, "verbose") > 0)
		fo.log_op = log_op;
	env = getenv("CBUP_FUSE_CACHE_MB");
	if (env && *env) {
		char *end;
		unsigned long long mb = strtoull(env, &end, 10);
		if (*end || !mb || mb > (1ull << 20))
			die("CBUP_FUSE_CACHE_MB: not a size in MiB: '%s'", env);
		fo.cache_bytes = (size_t)(mb << 20);
	}
	if (fusefs_new(&fs, repo, &fo) < 0)
		die("%s", err_last());
	repo_free(repo);
	mo.mountpoint = o.argv[0];
	mo.foreground = opt_count(&o, "foreground") > 0;
	mo.debug = opt_count(&o, "debug") > 0;
	mo.allow_other = opt_count(&o, "allow-other") > 0;
	/*
	 * libfuse ends its loop on SIGINT, SIGTERM and SIGHUP and then
	 * unmounts, but installs its handlers only over the default
	 * disposition: take back cli_init()'s (an ignored SIGINT, as in
	 * a shell's background job, stays ignored).
	 */
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (signal(SIGINT, SIG_DFL) == SIG_IGN)
		signal(SIGINT, SIG_IGN);
	/* bup's stderr is line buffered for the same reason */
	setvbuf(stderr, NULL, _IOLBF, 0);
	ret = fusefs_mount(fs, &mo);
	if (ret < 0)
		error("%s", err_last());
	fusefs_free(fs);
	opt_release(&o);
	return ret < 0 ? 1 : 0;
}
