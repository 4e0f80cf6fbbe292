/*
 * cbup on HOST[:PORT] CMD...: run a bup command on another machine that
 * stores into the local repository (FORMAT.md 7.4).  ssh runs
 * `bup on--server` there; we send it the argv (u32 length + NUL-joined
 * "bup\0CMD\0..."), start our own `server` with its stdin and stdout
 * on ssh's stdout and stdin, and demultiplex the remote command's
 * output ("BUPMUX" frames from `bup mux`) arriving on ssh's stderr to
 * our stdout and stderr.  HOST "-" runs on--server locally (no ssh),
 * as bup's ssh.connect does.  Exits with ssh's (the remote) status.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "util/err.h"
#include "remote/proto.h"

int cmd_on(int argc, const char **argv);

static const char optspec[] =
	"bup on <hostname> index ...\n"
	"bup on <hostname> save ...\n"
	"bup on <hostname> split ...\n"
	"bup on <hostname> get ...\n";

static pid_t run(const char *const *av, int in, int out, int err,
		 int close1, int close2)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		setsid();
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0)
			dup2(out, 1);
		if (err >= 0)
			dup2(err, 2);
		if (close1 >= 0)
			close(close1);
		if (close2 >= 0)
			close(close2);
		execvp(av[0], (char *const *)av);
		fprintf(stderr, "bup on: cannot run '%s': %s\n", av[0],
			strerror(errno));
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int cmd_on(int argc, const char **argv)
{
	struct opts o;
	int k = 1, to[2], from[2], errp[2], ret;
	const char *av[10], *srv[3];
	const char *remote_bup = getenv("CBUP_REMOTE_BUP");
	char *host, *port, *cmd = NULL, exe[4096];
	struct buf a = BUF_INIT;
	pid_t p, sp;
	ssize_t l;
	size_t n = 0;

	/* getopt: options only before the host */
	while (k < argc && argv[k][0] == '-' && argv[k][1] &&
	       strcmp(argv[k], "--"))
		k++;
	cli_parse_opts(&o, optspec, k, argv);
	if (k < argc && !strcmp(argv[k], "--"))
		k++;
	if (argc - k < 2)
		cli_usage_fatal(&o, "arguments expected");
	host = xstrdup(argv[k]);
	port = strchr(host, ':');
	if (port)
		*port++ = '\0';
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l < 0)
		die("cannot find own executable: %s", strerror(errno));
	exe[l] = '\0';

	if (!strcmp(host, "-")) {
		av[n++] = remote_bup && *remote_bup ? remote_bup : exe;
		av[n++] = "on--server";
	} else {
		const char *ssh = getenv("CBUP_SSH");
		const char *dbg = getenv("BUP_DEBUG");
		const char *tty = getenv("BUP_FORCE_TTY");

		cmd = xstrfmt("sh -c 'BUP_DEBUG=%d BUP_FORCE_TTY=%d  %s "
			      "on--server'",
			      dbg ? (int)strtol(dbg, NULL, 10) : 0,
			      tty ? (int)strtol(tty, NULL, 10) : 0,
			      remote_bup && *remote_bup ? remote_bup : "bup");
		av[n++] = ssh && *ssh ? ssh : "ssh";
		if (port) {
			av[n++] = "-p";
			av[n++] = port;
		}
		av[n++] = host;
		av[n++] = "--";
		av[n++] = cmd;
	}
	av[n] = NULL;
	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	p = run(av, to[0], from[1], errp[1], -1, -1);
	close(to[0]);
	close(from[1]);
	close(errp[1]);

	/* the command line, NUL-joined after "bup" */
	buf_addstr(&a, "bup");
	for (int i = k + 1; i < argc; i++) {
		buf_addch(&a, '\0');
		buf_addstr(&a, argv[i]);
	}
	{
		unsigned char h[4];
		put_be32(h, (uint32_t)a.len);
		if (write_full(to[1], h, 4) < 0 ||
		    write_full(to[1], a.data, a.len) < 0)
			error("cannot send the command: %s", strerror(errno));
	}
	srv[0] = exe;
	srv[1] = "server";
	srv[2] = NULL;
	sp = run(srv, from[0], to[1], -1, -1, -1);
	close(to[1]);
	close(from[0]);

	/* the "BUPMUX" frames on ssh's stderr: to our stdout and stderr */
	if (proto_demux(errp[0], 1, 2) < 0)
		error("%s", err_last());
	close(errp[0]);
	ret = wait_status(p);
	wait_status(sp);
	free(cmd);
	free(host);
	buf_release(&a);
	opt_release(&o);
	return ret;
}
