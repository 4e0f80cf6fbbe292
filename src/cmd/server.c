/*
 * cbup server: bup's protocol server (remote/server.h) on stdin and
 * stdout, for a client that reached it through ssh, a local pipe,
 * `bup on`'s reverse tunnel or `cbup daemon`'s mux.  What the command
 * line and the environment decide is read here: the default repository
 * (BUP_DIR), the daemon's root (CBUP_DAEMON_ROOT, fail closed when it
 * does not resolve), BUP_DEBUG; a signal aborts a transfer in progress
 * so that no pack of it remains.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "remote/server.h"
#include "store/packwriter.h"
#include "store/repo.h"
#include "util/util.h"

int cmd_server(int argc, const char **argv);

static const char optspec[] =
	"bup server\n";

/* the writer of a transfer not yet closed: a signal aborts it */
static struct packwriter *volatile pending;

static void on_pending(void *ctx, struct packwriter *w)
{
	(void)ctx;
	pending = w;
}

static void abort_pending(void *ctx)
{
	struct packwriter *w = pending;

	(void)ctx;
	pending = NULL;
	if (w)
		packwriter_abort(w);
}

static void on_log(void *ctx, const char *line)
{
	(void)ctx;
	cli_log("%s", line);
}

static void on_opened(void *ctx, const char *path)
{
	(void)ctx;
	/* exported so that children (git rev-list) operate there too */
	setenv("BUP_DIR", path, 1);
}

int cmd_server(int argc, const char **argv)
{
	struct server_opts so = { 0 };
	struct opts o;
	const char *root;
	char *real_root = NULL, *def;
	int code;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no arguments expected");
	/* set (resolved) by the daemon; fail closed if unusable */
	root = getenv("CBUP_DAEMON_ROOT");
	if (root && *root && !(real_root = realpath(root, NULL)))
		die("CBUP_DAEMON_ROOT '%s': %s", root, strerror(errno));
	def = repo_default_path();
	so.in_fd = 0;
	so.out_fd = 1;
	so.default_repo = def;
	so.root = real_root;
	so.debug = cli_debug;
	so.threads = cli_threads();
	so.log = on_log;
	so.upkeep_progress = cli_upkeep_progress;
	so.pending = on_pending;
	so.opened = on_opened;
	cli_atexit(abort_pending, NULL);
	code = server_run(&so);
	cli_atexit_remove(abort_pending, NULL);
	if (code == SERVER_IDLE)
		code = CLI_EXIT_IDLE;
	else if (code)
		code = 1;
	free(def);
	free(real_root);
	opt_release(&o);
	return code;
}
