/*
 * cbup daemon [-l ADDRESS] [-p PORT] [-- SERVER-OPTIONS]: bup's daemon.
 * Listens on TCP (every address getaddrinfo gives, port 1982 unless
 * told) and runs `mux -- server` on each accepted connection, so a
 * client can use -r bup://HOST[:PORT]/PATH without ssh (FORMAT.md 7.4:
 * the server's output arrives as mux frames).  As bup's, it has no
 * authentication and no encryption: whoever can connect can do what
 * this user can with any repository.
 *
 * bup's optspec declares -l and -p without a value (bup 0.33.7 then
 * listens on port int(True) = 1 when given -p); cbup prints the same
 * usage but takes the value that follows, as the help text promises.
 * Unlike bup, finished connections are reaped (no zombies).
 *
 * Limits bup lacks, set by environment variables so that the command
 * line and its usage text stay bup's (FORMAT.md 10):
 *
 *   CBUP_DAEMON_MAX_CONNECTIONS=N (default 32, 1 to 4096): at most N
 *     connections are served at once.  One more is accepted, told why
 *     in a line before the mux stream (which bup's and cbup's clients
 *     print, as they print anything before "BUPMUX"), closed and
 *     logged.  Accepting beats leaving it in the listen backlog: there
 *     the client would wait without a word, its TCP handshake done,
 *     for as long as every slot stays busy, and once the backlog filled
 *     new clients would hang in connect.
 *   CBUP_DAEMON_IDLE_TIMEOUT=SECONDS (default 900, 0 for none): a
 *     receive timeout (SO_RCVTIMEO) on each accepted socket.  A server
 *     read that waits that long for the client fails; the server ends
 *     the session as after any error (a pack in progress is aborted),
 *     and exits CLI_EXIT_IDLE, which the daemon logs.  Only silence
 *     counts: a client that keeps sending, or a server that is
 *     writing (a restore), is never cut.  A client that computes for
 *     that long between two writes (hashing a large file the server
 *     already has, say) is silent too: raise the timeout for those.
 *   CBUP_DAEMON_ROOT=DIR: clients may name only repositories inside
 *     DIR (init-dir, set-dir and the default repository; resolved with
 *     realpath, so ".." and symlinks cannot lead out; server.c
 *     enforces it).  The daemon resolves DIR at start and passes the
 *     result to its children in the same variable.
 *
 * Listening on an address that is not loopback (127.0.0.0/8, ::1)
 * prints one "WARNING:" line per such address, since anyone who can
 * reach it can read and write the repositories.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
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

/*
 * One slot per connection being served.  SIGCHLD is blocked except
 * while the accept loop waits in ppoll, so the handler (on_child) runs
 * only there: it reaps with waitpid and marks the slot, both
 * async-signal-safe, and the loop frees marked slots, logs and counts,
 * never racing the handler.
 */
struct conn {
	pid_t pid;                      /* 0: a free slot */
	volatile sig_atomic_t ended;    /* reaped; status is valid */
	int status;
	char *addr;                     /* the peer, as logged */
};
static struct conn *conns;
static int max_conns;

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

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 */
static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		const struct in6_addr *a = &s6->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

static void warn_exposed(const struct addrinfo *ai, const char *root)
{
	char h[NI_MAXHOST], s[NI_MAXSERV];

	if (is_loopback(ai->ai_addr))
		return;
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, h, sizeof(h), s,
			sizeof(s), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(h, sizeof(h), "?");
		snprintf(s, sizeof(s), "?");
	}
	if (root)
		cli_log("WARNING: bup daemon: %s%s%s:%s is not a loopback "
			"address and there is no authentication or "
			"encryption: anyone who can connect can read and "
			"write every repository under %s "
			"(CBUP_DAEMON_ROOT)\n",
			ai->ai_family == AF_INET6 ? "[" : "", h,
			ai->ai_family == AF_INET6 ? "]" : "", s, root);
	else
		cli_log("WARNING: bup daemon: %s%s%s:%s is not a loopback "
			"address and there is no authentication or "
			"encryption: anyone who can connect can read and "
			"write every repository this user can "
			"(CBUP_DAEMON_ROOT=DIR confines them to DIR)\n",
			ai->ai_family == AF_INET6 ? "[" : "", h,
			ai->ai_family == AF_INET6 ? "]" : "", s);
}

static int listen_all(const char *host, const char *port, int *socks,
		      const char *root)
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
		warn_exposed(ai, root);
	}
	freeaddrinfo(res);
	if (!n) {
		cli_log("bup daemon: listen socket: %s\n", strerror(e));
		exit(1);
	}
	return n;
}

/*
 * One connection: `cbup mux -- cbup server EXTRA...` on the socket.
 * Returns the child's pid, or -1.  The child gets the signal mask the
 * daemon started with (SIGCHLD unblocked) and default handlers.
 */
static pid_t serve(int fd, const char *exe, int nextra, const char **extra,
		   const sigset_t *mask)
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
		sigprocmask(SIG_SETMASK, mask, NULL);
		execv(exe, (char *const *)av);
		fprintf(stderr, "bup daemon: cannot run '%s': %s\n", exe,
			strerror(errno));
		_exit(127);
	}
	free(av);
	return pid;
}

/*
 * Past the connection limit: say why where a client prints it (bup's
 * DemuxConn and proto_demux copy what precedes "BUPMUX" to stderr),
 * then close.  Nothing here may block the accept loop: the write is
 * non-blocking, and what the client already sent is drained so that the
 * close does not turn into a reset that could discard the message.
 */
static void refuse(int fd, const char *addr)
{
	char msg[160], junk[4096];
	int len = snprintf(msg, sizeof(msg), "bup daemon: too many "
			   "connections (%d, CBUP_DAEMON_MAX_CONNECTIONS), "
			   "try again later\n", max_conns);

	cli_log("bup daemon: refused connection from %s: %d connections "
		"open (CBUP_DAEMON_MAX_CONNECTIONS)\n", addr, max_conns);
	/* (a failure means the client is gone: nothing to tell) */
	(void)send(fd, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16; i++)
		if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
			break;
	close(fd);
}

/*
 * Reap finished connections as they end (the accept loop may wait in
 * ppoll for long).  Runs only inside ppoll (see struct conn); waitpid
 * is async-signal-safe.
 */
static void on_child(int sig)
{
	int e = errno, status;
	pid_t pid;

	(void)sig;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < max_conns; i++) {
			if (conns[i].pid == pid && !conns[i].ended) {
				conns[i].status = status;
				conns[i].ended = 1;
				break;
			}
		}
	}
	errno = e;
}

/* Free the slots of finished connections; returns how many are busy. */
static int collect(long idle)
{
	int busy = 0;

	for (int i = 0; i < max_conns; i++) {
		struct conn *c = &conns[i];

		if (!c->pid)
			continue;
		if (!c->ended) {
			busy++;
			continue;
		}
		if (WIFEXITED(c->status) &&
		    WEXITSTATUS(c->status) == CLI_EXIT_IDLE)
			cli_log("bup daemon: closed the connection from %s: "
				"nothing received for %ld second%s "
				"(CBUP_DAEMON_IDLE_TIMEOUT)\n", c->addr, idle,
				idle == 1 ? "" : "s");
		free(c->addr);
		c->addr = NULL;
		c->ended = 0;
		c->pid = 0;
	}
	return busy;
}

/* A whole number from the environment in [min, max], or def if unset. */
static long env_number(const char *name, long def, long min, long max)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < min || n > max)
		die("%s must be a whole number from %ld to %ld, not '%s'",
		    name, min, max, v);
	return n;
}

int cmd_daemon(int argc, const char **argv)
{
	const char *host = NULL, *port = "1982";
	const char **rest = xcalloc((size_t)argc + 1, sizeof(*rest));
	int nrest = 0, k, socks[MAX_SOCKS], nsocks, busy = 0;
	char exe[4096], *root = NULL;
	long idle;
	ssize_t l;
	struct opts o;
	struct pollfd pfd[MAX_SOCKS];
	sigset_t chld, orig, waiting;

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

	/* two processes per connection (mux and server): keep it sane */
	max_conns = (int)env_number("CBUP_DAEMON_MAX_CONNECTIONS", 32, 1,
				    4096);
	idle = env_number("CBUP_DAEMON_IDLE_TIMEOUT", 900, 0, INT_MAX);
	if (getenv("CBUP_DAEMON_ROOT") && *getenv("CBUP_DAEMON_ROOT")) {
		const char *r = getenv("CBUP_DAEMON_ROOT");
		struct stat st;

		if (!(root = realpath(r, NULL)) || stat(root, &st))
			die("CBUP_DAEMON_ROOT '%s': %s", r, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			die("CBUP_DAEMON_ROOT '%s' is not a directory", r);
		/* the servers check paths against the resolved root */
		setenv("CBUP_DAEMON_ROOT", root, 1);
	}
	conns = xcalloc((size_t)max_conns, sizeof(*conns));

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &orig);
	/* (even if we were started with SIGCHLD blocked) */
	waiting = orig;
	sigdelset(&waiting, SIGCHLD);
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_child;
		sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGCHLD, &sa, NULL);
	}
	nsocks = listen_all(host, port, socks, root);
	for (int i = 0; i < nsocks; i++) {
		pfd[i].fd = socks[i];
		pfd[i].events = POLLIN;
	}
	for (;;) {
		/* SIGCHLD is delivered only while waiting here */
		int r = ppoll(pfd, (nfds_t)nsocks, NULL, &waiting);

		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		busy = collect(idle);
		for (int i = 0; r > 0 && i < nsocks; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			struct buf m = BUF_INIT;
			int fd, slot;
			pid_t pid;

			if (!(pfd[i].revents & POLLIN))
				continue;
			fd = accept4(socks[i], (struct sockaddr *)&ss, &len,
				     SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			addr_repr(&m, (struct sockaddr *)&ss, len);
			if (busy >= max_conns) {
				refuse(fd, m.data);
				buf_release(&m);
				continue;
			}
			cli_log("Socket accepted connection from %s\n", m.data);
			if (idle) {
				struct timeval tv = { .tv_sec = idle };
				if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO,
					       &tv, sizeof(tv)))
					cli_log("bup daemon: cannot set the "
						"idle timeout: %s\n",
						strerror(errno));
			}
			pid = serve(fd, exe, argc - k, argv + k, &orig);
			close(fd);
			if (pid < 0) {
				buf_release(&m);
				continue;
			}
			for (slot = 0; conns[slot].pid; slot++)
				;
			conns[slot].pid = pid;
			conns[slot].addr = buf_detach(&m, NULL);
			busy++;
		}
	}
}
