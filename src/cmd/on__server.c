/*
 * cbup on--server: the remote half of `bup on` (FORMAT.md 7.4).  Reads
 * the command as u32 length + NUL-separated argv from stdin (safer than
 * a command line through ssh's shell), moves the connection to the
 * local `bup server` out of the way (stdin to fd 3, stdout to fd 4,
 * stdout then points at stderr, stdin at /dev/null), sets
 * BUP_SERVER_REVERSE to this host's name and runs
 * `cbup mux -- cbup CMD...`, whose client finds the server on fds 3/4.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_on__server(int argc, const char **argv);

static const char optspec[] =
	"bup on--server\n"
	"--\n"
	"    This command is run automatically by 'bup on'\n";

/* bup asserts 0 < size < 1000000 */
#define MAX_ARGV_BYTES 1000000

int cmd_on__server(int argc, const char **argv)
{
	struct opts o;
	unsigned char h[4];
	uint32_t sz;
	char *buf, exe[PATH_MAX], host[256];
	const char **av;
	size_t n = 0;
	ssize_t l;
	int fd;

	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no arguments expected");
	if (read_full(0, h, 4) != 4)
		die("on--server: expected the command length");
	sz = get_be32(h);
	if (!sz || sz >= MAX_ARGV_BYTES)
		die("on--server: bad command length %u", sz);
	buf = xmalloc(sz + 1);
	if (read_full(0, buf, sz) != (long long)sz)
		die("on--server: short command");
	buf[sz] = '\0';
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l < 0)
		die("cannot find own executable: %s", strerror(errno));
	exe[l] = '\0';
	av = xcalloc(sz + 5, sizeof(*av));
	av[n++] = exe;
	av[n++] = "mux";
	av[n++] = "--";
	/* argv[0] ("bup") is replaced by our own path, as bup does */
	av[n++] = exe;
	for (size_t i = strlen(buf) + 1; i < sz; i += strlen(buf + i) + 1)
		av[n++] = buf + i;
	av[n] = NULL;

	if (dup2(0, 3) < 0 || dup2(1, 4) < 0 || dup2(2, 1) < 0)
		die("cannot move descriptors: %s", strerror(errno));
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	setenv("BUP_SERVER_REVERSE", host, 1);
	execv(exe, (char *const *)av);
	die("cannot run '%s': %s", exe, strerror(errno));
}
