/*
 * cbup mux COMMAND...: run a command and multiplex its stdout and
 * stderr onto our stdout (FORMAT.md 7.4): "BUPMUX", then frames of
 * u32 length, u8 channel (1 stdout, 2 stderr) and data, at most
 * 128 KiB each, and a final u32 0, u8 3.  `bup on--server` runs the
 * remote command under it so `bup on` can separate the two streams
 * arriving through ssh's stderr.  Exits with the command's status.
 *
 * Unlike bup's loop (which stops polling when the child exits), both
 * pipes are drained to EOF, so no late output is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "remote/proto.h"

int cmd_mux(int argc, const char **argv);

static const char optspec[] =
	"bup mux command [arguments...]\n"
	"--\n";

static int frame(int chan, const void *data, size_t len)
{
	unsigned char h[5];

	put_be32(h, (uint32_t)len);
	h[4] = (unsigned char)chan;
	if (write_full(1, h, 5) < 0 || (len && write_full(1, data, len) < 0))
		return -1;
	return 0;
}

int cmd_mux(int argc, const char **argv)
{
	struct opts o;
	int k = 1, orig_stdin, devnull, outp[2], errp[2], status = 0;
	pid_t pid;
	struct pollfd pfd[2];
	static unsigned char buf[PROTO_MUX_MAX_PACKET];

	/* options only before the command (its own options follow) */
	while (k < argc && argv[k][0] == '-' && strcmp(argv[k], "--"))
		k++;
	if (k < argc && !strcmp(argv[k], "--"))
		k++;
	cli_parse_opts(&o, optspec, k, argv);
	if (k >= argc)
		cli_usage_fatal(&o, "command is required");

	/* give the subcommand exclusive access to stdin */
	orig_stdin = dup(0);
	devnull = open("/dev/null", O_RDONLY);
	if (orig_stdin < 0 || devnull < 0)
		die("cannot set up stdin: %s", strerror(errno));
	dup2(devnull, 0);
	close(devnull);
	if (pipe(outp) < 0 || pipe(errp) < 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		dup2(orig_stdin, 0);
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		close(orig_stdin);
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		execvp(argv[k], (char *const *)(argv + k));
		fprintf(stderr, "bup mux: cannot run '%s': %s\n", argv[k],
			strerror(errno));
		_exit(127);
	}
	close(orig_stdin);
	close(outp[1]);
	close(errp[1]);
	if (write_full(1, "BUPMUX", 6) < 0)
		goto out;
	pfd[0].fd = outp[0];
	pfd[1].fd = errp[0];
	pfd[0].events = pfd[1].events = POLLIN;
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			/* bup reads 128 KiB of stdout, 1 KiB of stderr */
			n = read(pfd[i].fd, buf, i ? 1024 : sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				continue;
			}
			if (frame(i + 1, buf, (size_t)n) < 0)
				goto out;
		}
	}
out:
	frame(3, NULL, 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	opt_release(&o);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
