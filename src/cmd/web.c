/*
 * cbup web: browse the repository over HTTP (pipelines/web.h).  Options,
 * messages and exit codes are bup 0.33.7's (lib/bup/cmd/web.py); the
 * extras (?tar=1, ?json=1, Range) are in README.md, so that -h stays
 * bup's.
 */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pipelines/web.h"
#include "store/repo.h"
#include "util/err.h"
#include "util/pypath.h"

extern char **environ;

int cmd_web(int argc, const char **argv);

static const char optspec[] =
	"bup web [[hostname]:port]\n"
	"bup web unix://path\n"
	"--\n"
	"human-readable    display human readable file sizes (i.e. 3.9K, "
	"4.7M)\n"
	"browser           show repository in default browser (incompatible "
	"with unix://)\n";

static void out_line(void *ctx, const char *line)
{
	(void)ctx;
	/* bup's stdout is line-buffered: each line is seen at once */
	fputs(line, stdout);
	fflush(stdout);
}

static void err_line(void *ctx, const char *line)
{
	(void)ctx;
	fputs(line, stderr);
}

/* bup's webbrowser.open(): best effort, its failure is not an error. */
static void open_browser(const char *url)
{
	const char *args[] = { "xdg-open", url, NULL };
	pid_t pid;

	posix_spawnp(&pid, "xdg-open", NULL, NULL, (char *const *)args,
		     environ);
}

int cmd_web(int argc, const char **argv)
{
	struct opts o;
	struct repo *repo;
	struct web_opts wo;
	struct web_server *srv = NULL;
	struct buf shown = BUF_INIT, host = BUF_INIT, url = BUF_INIT;
	sigset_t sigs;
	int fd = -1, sig = 0, ret;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc > 1)
		cli_usage_fatal(&o, "at most one argument expected");
	if (o.argc && !strncmp(o.argv[0], "unix://", 7)) {
		repo = cli_open_repo();
		if (web_listen_unix(&fd, o.argv[0] + 7) < 0)
			die("%s", err_last());
		buf_addstr(&shown, "filesystem socket ");
		pypath_str_repr(&shown, o.argv[0] + 7);
	} else {
		const char *spec = o.argc ? o.argv[0] : "127.0.0.1:8080";
		const char *colon = strchr(spec, ':'), *port = spec;
		int64_t n;

		if (colon) {
			buf_add(&host, spec, colon - spec);
			port = colon + 1;
		} else {
			buf_addstr(&host, "127.0.0.1");
		}
		if (pypath_parse_int(port, &n) < 0) {
			struct buf r = BUF_INIT;

			pypath_str_repr(&r, port);
			cli_usage_fatal(&o, "port must be an integer, not %s",
					r.data);
		}
		repo = cli_open_repo();
		if (n < 0 || n > 65535)
			die("port must be 0-65535");
		if (web_listen_inet(&fd, &shown, host.data, (int)n) < 0)
			die("%s", err_last());
		buf_addstr(&shown, "...");
		if (opt_count(&o, "browser"))
			buf_addf(&url, "http://%s:%d", host.data, (int)n);
	}

	/*
	 * The signals are taken by sigwait() below: blocked before the
	 * server's threads start, so they inherit the mask.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&wo, 0, sizeof(wo));
	wo.repo_path = repo->path;
	wo.listen_fd = fd;
	wo.human_readable = opt_count(&o, "human-readable") > 0;
	wo.threads = cli_threads() < 2 ? 2 : (unsigned)cli_threads();
	wo.libname = getenv("CBUP_WEB_LIBMICROHTTPD");
	wo.out = out_line;
	wo.err = err_line;
	if (web_start(&srv, &wo) < 0) {
		/* bup exits 1 when tornado is missing */
		error("%s", err_last());
		ret = 1;
		goto out;
	}
	printf("Serving HTTP on %s\n", shown.data);
	fflush(stdout);
	if (url.len)
		open_browser(url.data);

	sigwait(&sigs, &sig);
	/* bup: SIGTERM's handler logs this and stops the loop */
	fputs("Shutdown requested\n", stderr);
	web_stop(srv);
	ret = 0;
out:
	buf_release(&shown);
	buf_release(&host);
	buf_release(&url);
	repo_free(repo);
	opt_release(&o);
	return cli_finish_stdout(ret);
}
