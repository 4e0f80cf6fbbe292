/*
 * cbup daemon [-l ADDRESS] [-p PORT] [-- SERVER-OPTIONS]: bup's daemon.
 * Listens on TCP (every address getaddrinfo gives, port 1982 unless
 * told) and runs `mux -- server` on each accepted connection, so a
 * client can use -r bup://HOST[:PORT]/PATH without ssh (FORMAT.md 7.4:
 * the server's output arrives as mux frames).
 *
 * bup's optspec declares -l and -p without a value (bup 0.33.7 then
 * listens on port int(True) = 1 when given -p); cbup prints the same
 * usage but takes the value that follows, as the help text promises.
 * Unlike bup, finished connections are reaped (no zombies).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

int cmd_daemon(int argc, const char **argv);

static const char optspec[] =
	"bup daemon [options...] -- [bup-server options...]\n"
	"--\n"
	"l,listen  ip address to listen on, defaults to *\n"
	"p,port    port to listen on, defaults to 1982\n";

#define MAX_SOCKS 16

/* Python's repr of a socket address tuple, as bup logs it. */
static void addr_repr(struct buf *out, const struct sockaddr *sa,
		      socklen_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		buf_addstr(out, "(?)");
		return;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		buf_addf(out, "('%s', %s, %u, %u)", host, serv,
			 (unsigned)ntohl(s6->sin6_flowinfo),
			 (unsigned)s6->sin6_scope_id);
	} else {
		buf_addf(out, "('%s', %s)", host, serv);
	}
}

static int listen_all(const char *host, const char *port, int *socks)
{
	struct addrinfo hints, *res = NULL, *ai;
	int n = 0, rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		cli_log("bup daemon: listen socket: %s\n", gai_strerror(rc));
		exit(1);
	}
	for (ai = res; ai && n < MAX_SOCKS; ai = ai->ai_next) {
		char h[NI_MAXHOST], s[NI_MAXSERV];
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
				ai->ai_protocol), one = 1;

		if (fd < 0) {
			e = errno;
			continue;
		}
		if (!getnameinfo(ai->ai_addr, ai->ai_addrlen, h, sizeof(h), s,
				 sizeof(s), NI_NUMERICHOST | NI_NUMERICSERV))
			cli_log(ai->ai_family == AF_INET6 ?
				"bup daemon: listening on [%s]:%s\n" :
				"bup daemon: listening on %s:%s\n", h, s);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* [::] beside 0.0.0.0 on the same port: each its own family */
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    listen(fd, 16) < 0) {
			e = errno;
			close(fd);
			continue;
		}
		socks[n++] = fd;
	}
	freeaddrinfo(res);
	if (!n) {
		cli_log("bup daemon: listen socket: %s\n", strerror(e));
		exit(1);
	}
	return n;
}

/* One connection: `cbup mux -- cbup server EXTRA...` on the socket. */
static void serve(int fd, const char *exe, int nextra, const char **extra)
{
	const char **av = xcalloc((size_t)nextra + 6, sizeof(*av));
	pid_t pid;
	int n = 0;

	av[n++] = exe;
	av[n++] = "mux";
	av[n++] = "--";
	av[n++] = exe;
	av[n++] = "server";
	for (int i = 0; i < nextra; i++)
		av[n++] = extra[i];
	av[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_log("bup daemon: fork: %s\n", strerror(errno));
	} else if (!pid) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 1)
			close(fd);
		signal(SIGCHLD, SIG_DFL);
		execv(exe, (char *const *)av);
		fprintf(stderr, "bup daemon: cannot run '%s': %s\n", exe,
			strerror(errno));
		_exit(127);
	}
	free(av);
}

/*
 * Reap finished connections as they end (the accept loop may sleep in
 * poll for a minute); waitpid is async-signal-safe.
 */
static void on_child(int sig)
{
	int e = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = e;
}

int cmd_daemon(int argc, const char **argv)
{
	const char *host = NULL, *port = "1982";
	const char **rest = xcalloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0, k, socks[MAX_SOCKS], nsocks;
	char exe[4096];
	ssize_t l;
	struct opts o;
	struct pollfd pfd[MAX_SOCKS];

	/* options up to the first non-option or "--" (bup: getopt) */
	rest[nrest++] = argv[0];
	for (k = 1; k < argc; k++) {
		const char *a = argv[k];
		if (!strcmp(a, "--")) {
			k++;
			break;
		}
		if (a[0] != '-')
			break;
		if ((!strcmp(a, "-l") || !strcmp(a, "--listen")) &&
		    k + 1 < argc)
			host = argv[++k];
		else if (!strncmp(a, "--listen=", 9))
			host = a + 9;
		else if ((!strcmp(a, "-p") || !strcmp(a, "--port")) &&
			 k + 1 < argc)
			port = argv[++k];
		else if (!strncmp(a, "--port=", 7))
			port = a + 7;
		else
			rest[nrest++] = a;      /* -h, unknown: bup's usage */
	}
	rest[nrest] = NULL;
	cli_parse_opts(&o, optspec, nrest, rest);
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5 || strtol(port, NULL, 10) < 1 ||
	    strtol(port, NULL, 10) > 65535)
		cli_usage_fatal(&o, "bad port");
	if (host && (!*host || !strcmp(host, "*")))
		host = NULL;
	l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (l < 0)
		die("cannot find own executable: %s", strerror(errno));
	exe[l] = '\0';

	{
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_child;
		sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGCHLD, &sa, NULL);
	}
	nsocks = listen_all(host, port, socks);
	for (int i = 0; i < nsocks; i++) {
		pfd[i].fd = socks[i];
		pfd[i].events = POLLIN;
	}
	for (;;) {
		int r = poll(pfd, (nfds_t)nsocks, 60000);

		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (int i = 0; r > 0 && i < nsocks; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			struct buf m = BUF_INIT;
			int fd;

			if (!(pfd[i].revents & POLLIN))
				continue;
			fd = accept4(socks[i], (struct sockaddr *)&ss, &len,
				     SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			addr_repr(&m, (struct sockaddr *)&ss, len);
			cli_log("Socket accepted connection from %s\n", m.data);
			buf_release(&m);
			serve(fd, exe, argc - k, argv + k);
			close(fd);
		}
	}
}
