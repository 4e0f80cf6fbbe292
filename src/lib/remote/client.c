/*
 * bup's Client and PackWriter_Remote (client.h; FORMAT.md 7.1-7.4):
 * transport set-up, the index cache, and every request the server
 * understands.  Replies are read with the caps of proto.h, so a broken
 * or hostile server gives an error, never unbounded memory.
 */
#include "remote/client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/bloom.h"
#include "util/err.h"
#include "store/idx.h"
#include "store/midx.h"
#include "store/odb.h"
#include "store/pack.h"
#include "remote/proto.h"
#include "util/oidset.h"
#include "util/strv.h"
#include "util/util.h"
#include "vfs/vfs.h"
#include "util/zlib.h"
#include "store/zpool.h"

/* cat-batch objects and join pieces: what one reply may allocate. */
#define MAX_OBJECT (1U << 30)

/* What a reply cut short is reported as (bup's wording, by request). */
#define EXITED "server exited unexpectedly"
#define EOF_LINE "Hit EOF while reading line"

/* ---- parse_remote --------------------------------------------------- */

static int is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_hexcolon(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') ||
	       (ch >= 'A' && ch <= 'F') || ch == ':';
}

int client_parse_remote(const char *remote, char **protocol, char **host,
			char **port, char **path)
{
	const char *p = remote, *q, *colon;

	*protocol = *host = *port = *path = NULL;
	while (is_alpha(*p))
		p++;
	if (p > remote && !strncmp(p, "://", 3)) {
		/* bup's _url_rx: proto://[host or [v6]][:port][/path] */
		const char *h = p + 3, *he = NULL;

		*protocol = xstrndup(remote, (size_t)(p - remote));
		if (strcmp(*protocol, "ssh") && strcmp(*protocol, "bup") &&
		    strcmp(*protocol, "file")) {
			int ret = err_set(ERR_USAGE, "unexpected protocol: %s",
					  *protocol);
			free(*protocol);
			*protocol = NULL;
			return ret;
		}
		q = h;
		if (*q == '[') {
			const char *e = q + 1;
			while (is_hexcolon(*e))
				e++;
			if (e > q + 1 && *e == ']') {
				*host = xstrndup(q + 1, (size_t)(e - q - 1));
				he = e + 1;
			}
		} else {
			const char *e = q;
			while (*e && *e != ':' && *e != '/')
				e++;
			if (e > q) {
				*host = xstrndup(q, (size_t)(e - q));
				he = e;
			}
		}
		if (he) {
			q = he;
			if (*q == ':' && is_digit(q[1])) {
				const char *e = q + 1;
				while (is_digit(*e))
					e++;
				*port = xstrndup(q + 1, (size_t)(e - q - 1));
				q = e;
			}
		}
		if (*q == '/')
			*path = xstrdup(q);
		return 0;
	}
	colon = strchr(remote, ':');
	if (!colon || colon == remote ||
	    (colon == remote + 1 && remote[0] == '-')) {
		*protocol = xstrdup("file");
		*path = xstrdup(colon ? colon + 1 : remote);
	} else {
		*protocol = xstrdup("ssh");
		*host = xstrndup(remote, (size_t)(colon - remote));
		*path = xstrdup(colon + 1);
	}
	return 0;
}

/* ---- connection -------------------------------------------------------- */

static int spawn(struct client *c, const char *const *argv)
{
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	pid_t pid;

	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0) {
		int ret = err_errno("connect: pipe");
		if (to[0] >= 0) {
			close(to[0]);
			close(to[1]);
		}
		return ret;
	}
	pid = fork();
	if (pid < 0) {
		int ret = err_errno("connect: fork");
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return ret;
	}
	if (!pid) {
		/* bup: start_new_session=True, stderr inherited */
		setsid();
		dup2(to[0], 0);
		dup2(from[1], 1);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "connect: cannot run '%s': %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	c->pid = pid;
	c->out_fd = to[1];
	c->in_fd = from[0];
	return 0;
}

static int connect_ssh_or_file(struct client *c, const struct client_opts *o)
{
	const char *remote_bup = o->remote_bup;
	const char *argv[8];
	char *cmd = NULL;
	int ret, n = 0;

	if (!c->host || !strcmp(c->host, "-")) {
		/* bup runs path.exe() server: our own binary */
		argv[n++] = remote_bup && *remote_bup ? remote_bup
						      : "/proc/self/exe";
		argv[n++] = "server";
		argv[n] = NULL;
		return spawn(c, argv);
	} else {
		const char *ssh = o->ssh;
		char *w = o->has_tty_width ?
			xstrfmt("BUP_TTY_WIDTH=%d", o->tty_width) : xstrdup("");

		/* ssh.py's command line, spaces and all */
		cmd = xstrfmt("sh -c 'BUP_DEBUG=%d BUP_FORCE_TTY=%d %s %s "
			      "server'", o->debug, o->force_tty, w,
			      remote_bup && *remote_bup ? remote_bup : "bup");
		free(w);
		argv[n++] = ssh && *ssh ? ssh : "ssh";
		if (c->port) {
			argv[n++] = "-p";
			argv[n++] = c->port;
		}
		argv[n++] = c->host;
		argv[n++] = "--";
		argv[n++] = cmd;
		argv[n] = NULL;
	}
	ret = spawn(c, argv);
	free(cmd);
	return ret;
}

/*
 * bup://host[:port]/path: a TCP connection to `bup daemon`, which runs
 * `bup mux -- bup server` on it, so what comes back is a mux stream
 * (bup's DemuxConn).  A thread demultiplexes it: the server's output
 * into a pipe that is this connection's in_fd, its stderr to ours.
 */
static void *demux_main(void *arg)
{
	struct client *c = arg;

	/* errors show as the protocol's EOF on the pipe */
	proto_demux(c->out_fd, c->demux_w, 2);
	close(c->demux_w);
	c->demux_w = -1;
	return NULL;
}

static int connect_bup(struct client *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *port = c->port ? c->port : "1982";
	int fd = -1, p[2], rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(c->host, port, &hints, &res);
	if (rc)
		return err_set(ERR_IO, "cannot resolve %s: %s", c->host,
			       gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = e;
		return err_errno("cannot connect to bup://%s:%s", c->host,
				 port);
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(fd);
		return err_errno("connect: pipe");
	}
	c->out_fd = fd;
	c->in_fd = p[0];
	c->demux_w = p[1];
	if (pthread_create(&c->demux, NULL, demux_main, c)) {
		close(p[1]);
		c->demux_w = -1;
		return err_set(ERR_IO, "connect: cannot start a thread");
	}
	c->has_demux = 1;
	return 0;
}

static void cache_name(struct buf *out, const char *host, const char *dir)
{
	struct buf raw = BUF_INIT;

	buf_addf(&raw, "%s:%s", host ? host : "None", dir ? dir : "None");
	/* bup: re.sub(br'[^@\w]', b'_', ...) */
	for (size_t i = 0; i < raw.len; i++) {
		char ch = raw.data[i];
		buf_addch(out, (is_alpha(ch) || is_digit(ch) || ch == '_' ||
				ch == '@') ? ch : '_');
	}
	buf_release(&raw);
}

static int mkdirs(const char *path)
{
	char *p = xstrdup(path);
	int ret = 0;

	for (char *s = p + 1; ; s++) {
		if (*s == '/' || !*s) {
			char save = *s;
			*s = '\0';
			if (mkdir(p, 0777) < 0 && errno != EEXIST) {
				ret = err_errno("cannot create '%s'", p);
				break;
			}
			*s = save;
			if (!save)
				break;
		}
	}
	free(p);
	return ret;
}

int client_has_command(const struct client *c, const char *name)
{
	for (size_t i = 0; i < c->nr_commands; i++)
		if (!strcmp(c->commands[i], name))
			return 1;
	return 0;
}

static int require(struct client *c, const char *name)
{
	if (c->broken)
		return err_set(ERR_IO, "connection to the server is broken");
	if (c->busy)
		return err_set(ERR_USAGE, "already busy with command '%s'",
			       c->busy);
	if (!client_has_command(c, name))
		return err_set(ERR_GENERIC, "server does not appear to "
			       "provide %s command", name);
	return 0;
}

/* Mark the connection unusable on transport/protocol errors. */
static int broke(struct client *c, int ret)
{
	if (ret < 0 && ret != ERR_GENERIC && ret != ERR_NOTFOUND)
		c->broken = 1;
	return ret;
}

/*
 * One line of a reply: 1 with the line, or a negative code; the
 * stream's end is ERR_IO with eof_msg (bup's wording differs by
 * request).  A reply that lists lines ends them with an empty one.
 */
static int reply_line(struct client *c, struct buf *line, const char *eof_msg)
{
	int ret = proto_read_line(&c->conn, line, PROTO_MAX_LINE);

	return ret ? ret : err_set(ERR_IO, "%s", eof_msg);
}

static int get_commands(struct client *c)
{
	struct buf line = BUF_INIT;
	int ret;

	if ((ret = proto_write(&c->conn, "help\n", 5)) < 0)
		goto out;
	ret = proto_read_line(&c->conn, &line, PROTO_MAX_LINE);
	if (ret <= 0 || strcmp(line.data, "Commands:")) {
		if (ret >= 0)
			ret = err_set(ERR_IO, ret ? "unexpected help header "
				      "'%.100s'" : EXITED "%.0s", line.data);
		goto out;
	}
	while ((ret = reply_line(c, &line, EXITED)) > 0 && line.len) {
		if (strncmp(line.data, "    ", 4) || line.len == 4 ||
		    c->nr_commands > 1000) {
			ret = err_set(ERR_CORRUPT, "unexpected help line "
				      "'%.100s'", line.data);
			goto out;
		}
		strv_push(&c->commands, &c->nr_commands, line.data + 4);
	}
	if (ret >= 0)
		ret = proto_check_ok(&c->conn);
out:
	buf_release(&line);
	return ret;
}

static int refresh_cache(struct client *c)
{
	int ret;

	/* bup: git.auto_midx(cachedir): midx --auto, then bloom */
	ret = midx_auto(c->cachedir, 0, 0, NULL, c->upkeep_progress);
	if (ret >= 0)
		ret = bloom_update_ex(c->cachedir, NULL, 0, 0, NULL, NULL,
				      c->upkeep_progress);
	if (ret < 0)
		return ret;
	if (c->cache)
		return odb_refresh(c->cache);
	return odb_open_idxdir(&c->cache, c->cachedir);
}

/* bup's chunkyreader() pieces: one progress line each, at most */
#define IDX_PIECE 65536U

int client_sync_index(struct client *c, const char *name)
{
	char *path = NULL, *tmp = NULL;
	struct buf b = BUF_INIT;
	struct idx_file idx;
	uint32_t n;
	int ret, fd = -1;

	if ((ret = require(c, "send-index")) < 0)
		return ret;
	if (!proto_valid_idx_name(name, strlen(name)))
		return err_set(ERR_CORRUPT, "server named a bad index '%.100s'",
			       name);
	path = xstrfmt("%s/%s", c->cachedir, name);
	if (!access(path, F_OK))
		goto out;   /* already cached (bup would refuse to ask) */
	if ((ret = proto_writef(&c->conn, "send-index %s\n", name)) < 0 ||
	    (ret = proto_read_u32(&c->conn, &n)) < 0)
		goto out;
	if (!n) {
		ret = err_set(ERR_CORRUPT, "server sent an empty '%s'", name);
		goto out;
	}
	/* one idx in memory: bounded by u32, and parsed before use */
	buf_grow(&b, n);
	buf_progressf(c->progress, 0, "Receiving index from server: %d/%u\r",
		      0, n);
	for (uint32_t got = 0; got < n; ) {
		uint32_t k = MIN(n - got, IDX_PIECE);

		if ((ret = proto_read(&c->conn, b.data + got, k)) < 0)
			goto out;
		got += k;
		buf_progressf(c->progress, 1,
			      "Receiving index from server: %u/%u\r", got, n);
	}
	buf_setlen(&b, n);
	buf_progressf(c->progress, 0,
		      "Receiving index from server: %u/%u, done.\n", n, n);
	if ((ret = proto_check_ok(&c->conn)) < 0)
		goto out;
	if ((ret = idx_parse(&idx, name, b.data, b.len)) < 0)
		goto out;
	tmp = xstrfmt("%s/.%s.tmp-%d", c->cachedir, name, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		ret = err_errno("cannot create '%s'", tmp);
		goto out;
	}
	if (write_full(fd, b.data, b.len) < 0 || close(fd) < 0) {
		fd = -1;
		ret = err_errno("cannot write '%s'", tmp);
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		ret = err_errno("cannot rename '%s'", tmp);
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(path);
	buf_release(&b);
	return broke(c, ret);
}

static int sync_indexes(struct client *c)
{
	struct buf line = BUF_INIT;
	char **extra = NULL, **needed = NULL;
	size_t nr_extra = 0, nr_needed = 0;
	DIR *d;
	struct dirent *de;
	int ret;

	if ((ret = require(c, "list-indexes")) < 0)
		return ret;
	if ((ret = mkdirs(c->cachedir)) < 0)
		return ret;
	if (!(d = opendir(c->cachedir)))
		return err_errno("cannot open '%s'", c->cachedir);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && str_ends_with(de->d_name, ".idx"))
			strv_push(&extra, &nr_extra, de->d_name);
	closedir(d);
	if ((ret = proto_write(&c->conn, "list-indexes\n", 13)) < 0)
		goto out;
	while ((ret = reply_line(c, &line, EXITED)) > 0 && line.len) {
		char *sp;
		int load = 0;

		if ((sp = strchr(line.data, ' '))) {
			load = !strcmp(sp, " load");
			*sp = '\0';
		}
		if (strchr(line.data, '/')) {
			ret = err_set(ERR_CORRUPT, "server listed a bad index "
				      "'%.100s'", line.data);
			goto out;
		}
		{
			int known = 0;
			for (size_t i = 0; i < nr_extra; i++)
				if (extra[i] && !strcmp(extra[i], line.data)) {
					/* proven not extra */
					free(extra[i]);
					extra[i] = NULL;
					known = 1;
				}
			if (load && !known)
				strv_push(&needed, &nr_needed, line.data);
		}
	}
	if (ret < 0 || (ret = proto_check_ok(&c->conn)) < 0)
		goto out;
	for (size_t i = 0; i < nr_extra; i++)
		if (extra[i]) {
			char *p = xstrfmt("%s/%s", c->cachedir, extra[i]);
			unlink(p);
			free(p);
		}
	for (size_t i = 0; ret >= 0 && i < nr_needed; i++)
		ret = client_sync_index(c, needed[i]);
	if (ret >= 0)
		ret = refresh_cache(c);
out:
	strv_free(extra, nr_extra);
	strv_free(needed, nr_needed);
	buf_release(&line);
	return broke(c, ret);
}

static void client_free(struct client *c)
{
	strv_free(c->commands, c->nr_commands);
	odb_free(c->cache);
	proto_conn_release(&c->conn);
	free(c->protocol);
	free(c->host);
	free(c->port);
	free(c->dir);
	free(c->cachedir);
	buf_release(&c->resolve_err);
	free(c);
}

/* Close the descriptors and reap the child: its exit status or -1. */
static int hang_up(struct client *c)
{
	int status = 0;

	if (c->has_demux) {
		/* ends the demux thread's read of the socket */
		shutdown(c->out_fd, SHUT_RDWR);
		pthread_join(c->demux, NULL);
		c->has_demux = 0;
	}
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->in_fd >= 0 && c->in_fd != c->out_fd)
		close(c->in_fd);
	c->in_fd = c->out_fd = -1;
	if (c->pid > 0) {
		while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	return 0;
}

int client_open(struct client **out, const char *remote, const char *bupdir,
		int create, const struct client_opts *opts)
{
	static const struct client_opts defaults;
	struct client *c = xcalloc(1, sizeof(*c));
	const struct client_opts *o = opts ? opts : &defaults;
	const char *reverse = o->reverse;
	struct buf name = BUF_INIT;
	char *rev_remote = NULL;
	int ret;

	*out = NULL;
	c->pid = -1;
	c->in_fd = c->out_fd = c->demux_w = -1;
	c->progress = o->progress;
	c->upkeep_progress = o->upkeep_progress;
	buf_init(&c->resolve_err, 0);
	if (!remote) {
		if (!reverse)
			BUG("client_open without a remote outside reverse mode");
		rev_remote = xstrfmt("%s:", reverse);
		remote = rev_remote;
	}
	ret = client_parse_remote(remote, &c->protocol, &c->host, &c->port,
				  &c->dir);
	free(rev_remote);
	if (ret < 0)
		goto fail;
	cache_name(&name, c->host, c->dir);
	c->cachedir = xstrfmt("%s/index-cache/%s", bupdir, name.data);
	buf_release(&name);

	if (reverse) {
		c->in_fd = 3;
		c->out_fd = 4;
	} else if (!strcmp(c->protocol, "bup")) {
		if ((ret = connect_bup(c)) < 0)
			goto fail;
	} else if ((ret = connect_ssh_or_file(c, o)) < 0) {
		goto fail;
	}
	proto_conn_init(&c->conn, c->in_fd, c->out_fd);
	if ((ret = get_commands(c)) < 0)
		goto fail;
	if ((ret = require(c, "init-dir")) < 0 ||
	    (ret = require(c, "set-dir")) < 0)
		goto fail;
	if (c->dir && *c->dir) {
		/* bup: re.sub(br'[\r\n]', b' ', dir) */
		for (char *p = c->dir; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
		if ((ret = proto_writef(&c->conn, "%s %s\n",
					create ? "init-dir" : "set-dir",
					c->dir)) < 0 ||
		    (ret = proto_check_ok(&c->conn)) < 0)
			goto fail;
	}
	if ((ret = sync_indexes(c)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c->in_fd >= 0) {
		/* keep the message: hang_up may not touch err_last */
		char *msg = xstrdup(err_last());
		int rv = hang_up(c);
		if (ret == ERR_IO && rv)
			err_set(ret, "server exited unexpectedly with code "
				"%d", rv);
		else
			err_set(ret, "%s", msg);
		free(msg);
	}
	if (c->conn.rbuf)
		proto_conn_release(&c->conn);
	c->conn.rbuf = NULL;
	client_free(c);
	return ret;
}

int client_close(struct client *c)
{
	int ret = 0, rv;

	if (!c)
		return 0;
	if (!c->broken && !c->busy) {
		if (proto_write(&c->conn, "quit\n", 5) < 0 ||
		    proto_flush(&c->conn) < 0)
			ret = ERR_IO;
	}
	rv = hang_up(c);
	if (!ret && rv)
		ret = err_set(ERR_GENERIC, "server tunnel returned exit code "
			      "%d", rv);
	client_free(c);
	return ret;
}

void client_abort(struct client *c)
{
	if (!c)
		return;
	hang_up(c);
	client_free(c);
}

/* ---- requests ---------------------------------------------------------- */

int client_read_ref(struct client *c, const char *refname, struct oid *out)
{
	struct buf line = BUF_INIT;
	int ret, have = 0;

	if ((ret = require(c, "read-ref")) < 0)
		return ret;
	if (strchr(refname, '\n'))
		return err_set(ERR_USAGE, "bad ref name");
	if ((ret = proto_writef(&c->conn, "read-ref %s\n", refname)) < 0 ||
	    (ret = reply_line(c, &line, EXITED)) < 0)
		goto out;
	if (line.len) {
		char *s = line.data;
		while (*s == ' ')
			s++;
		if (strlen(s) != OID_HEXSZ || oid_from_hex(out, s) < 0) {
			ret = err_set(ERR_CORRUPT, "read-ref: bad reply "
				      "'%.100s'", line.data);
			goto out;
		}
		have = 1;
	}
	if ((ret = proto_check_ok(&c->conn)) < 0)
		goto out;
	if (!have)
		ret = ERR_NOTFOUND;
out:
	buf_release(&line);
	return broke(c, ret);
}

int client_update_ref(struct client *c, const char *refname,
		      const struct oid *new_oid, const struct oid *old_oid)
{
	int ret;

	if ((ret = require(c, "update-ref")) < 0)
		return ret;
	if (strchr(refname, '\n'))
		return err_set(ERR_USAGE, "bad ref name");
	ret = proto_writef(&c->conn, "update-ref %s\n%s\n%s\n", refname,
			   oid_hex(new_oid), old_oid ? oid_hex(old_oid) : "");
	if (ret >= 0)
		ret = proto_check_ok(&c->conn);
	return broke(c, ret);
}

int client_join(struct client *c, const char *ref, client_data_fn fn,
		void *ctx)
{
	struct buf b = BUF_INIT;
	char *id;
	int ret;

	if ((ret = require(c, "join")) < 0)
		return ret;
	id = xstrdup(ref);
	for (char *p = id; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = '_';
	/* bup sends 'cat' so older servers work too */
	ret = proto_writef(&c->conn, "cat %s\n", id);
	free(id);
	c->busy = "join";
	while (ret >= 0) {
		uint32_t n;

		if ((ret = proto_read_u32(&c->conn, &n)) < 0)
			break;
		if (!n)
			break;
		if (n > PROTO_MAX_FRAME) {
			ret = err_set(ERR_CORRUPT, "join: %u-byte piece", n);
			break;
		}
		buf_grow(&b, n);
		if ((ret = proto_read(&c->conn, b.data, n)) < 0)
			break;
		if ((ret = fn(ctx, b.data, n)) < 0) {
			c->broken = 1;
			break;
		}
	}
	c->busy = NULL;
	if (ret >= 0) {
		ret = proto_check_ok(&c->conn);
		if (ret == ERR_GENERIC) {
			/* err_set must not format from its own buffer */
			char *msg = xstrdup(err_last());
			ret = err_set(ERR_NOTFOUND, "%s", msg);
			free(msg);
		}
	}
	buf_release(&b);
	return broke(c, ret);
}

int client_cat(struct client *c, const char *ref, struct oid *oid,
	       enum obj_type *type, struct buf *out)
{
	struct buf line = BUF_INIT;
	int ret, missing = 0;

	if ((ret = require(c, "cat-batch")) < 0)
		return ret;
	if (!*ref || strchr(ref, '\n'))
		return err_set(ERR_USAGE, "bad object name");
	if ((ret = proto_writef(&c->conn, "cat-batch\n%s\n\n", ref)) < 0 ||
	    (ret = reply_line(c, &line,
			      "Hit EOF while looking for object info")) < 0)
		goto out;
	if (!strcmp(line.data, "missing")) {
		missing = 1;
	} else {
		char *sp1 = strchr(line.data, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		char *end;
		unsigned long long size;

		if (!sp2 || sp1 - line.data != OID_HEXSZ)
			goto bad;
		*sp1 = *sp2 = '\0';
		errno = 0;
		size = strtoull(sp2 + 1, &end, 10);
		if (oid_from_hex(oid, line.data) < 0 || *end || errno ||
		    !is_digit(sp2[1]) || size > MAX_OBJECT)
			goto bad;
		*type = obj_type_from_name(sp1 + 1, strlen(sp1 + 1));
		if (*type == OBJ_NONE)
			goto bad;
		buf_reset(out);
		buf_grow(out, (size_t)size);
		if ((ret = proto_read(&c->conn, out->data, (size_t)size)) < 0)
			goto out;
		buf_setlen(out, (size_t)size);
	}
	if ((ret = proto_check_ok(&c->conn)) < 0)
		goto out;
	if (missing)
		ret = err_set(ERR_NOTFOUND, "object '%s' is missing", ref);
	goto out;
bad:
	ret = err_set(ERR_CORRUPT, "cat-batch: bad object info '%.100s'",
		      line.data);
out:
	buf_release(&line);
	return broke(c, ret);
}

/* Write "line\n" per item, then the empty line. */
static int write_lines(struct client *c, const char *const *l, size_t nr)
{
	int ret = 0;

	for (size_t i = 0; ret >= 0 && i < nr; i++) {
		if (!*l[i] || strchr(l[i], '\n'))
			return err_set(ERR_USAGE, "bad request line");
		ret = proto_writef(&c->conn, "%s\n", l[i]);
	}
	return ret < 0 ? ret : proto_write(&c->conn, "\n", 1);
}

int client_refs(struct client *c, const char *const *patterns, size_t nr,
		int heads, int tags, refs_each_fn fn, void *ctx)
{
	struct buf line = BUF_INIT;
	int ret;

	if ((ret = require(c, "refs")) < 0)
		return ret;
	if ((ret = proto_writef(&c->conn, "refs %d %d\n", heads ? 1 : 0,
				tags ? 1 : 0)) < 0 ||
	    (ret = write_lines(c, patterns, nr)) < 0)
		goto out;
	while ((ret = reply_line(c, &line, EOF_LINE)) > 0 && line.len) {
		struct oid oid;
		char *sp;

		sp = strchr(line.data, ' ');
		if (!sp || sp - line.data != OID_HEXSZ || !sp[1]) {
			ret = err_set(ERR_CORRUPT, "Invalid reference line "
				      "'%.100s'", line.data);
			goto out;
		}
		*sp = '\0';
		if (oid_from_hex(&oid, line.data) < 0) {
			ret = err_set(ERR_CORRUPT, "Invalid object fingerprint");
			goto out;
		}
		if (fn && (ret = fn(ctx, sp + 1, &oid)) < 0) {
			c->broken = 1;
			goto out;
		}
	}
	if (ret >= 0)
		ret = proto_check_ok(&c->conn);
out:
	buf_release(&line);
	return broke(c, ret);
}

int client_rev_list(struct client *c, const char *const *refs, size_t nr,
		    const char *format, struct buf *out)
{
	struct buf line = BUF_INIT;
	int ret;

	if ((ret = require(c, "rev-list")) < 0)
		return ret;
	if (format && strchr(format, '\n'))
		return err_set(ERR_USAGE, "bad rev-list format");
	if ((ret = proto_writef(&c->conn, "rev-list\n\n%s\n",
				format ? format : "")) < 0 ||
	    (ret = write_lines(c, refs, nr)) < 0)
		goto out;
	while ((ret = reply_line(c, &line, EOF_LINE)) > 0 && line.len) {
		buf_add(out, line.data, line.len);
		buf_addch(out, '\n');
	}
	if (ret >= 0)
		ret = proto_check_ok(&c->conn);
out:
	buf_release(&line);
	return broke(c, ret);
}

int client_resolve(struct client *c, const char *path,
		   const struct vfs_list *parent, int want_meta, int follow,
		   struct vfs_list *out, int *err_no)
{
	unsigned char ok;
	unsigned flags = (want_meta ? PROTO_RESOLVE_WANT_META : 0) |
			 (follow ? PROTO_RESOLVE_FOLLOW : 0) |
			 (parent ? PROTO_RESOLVE_PARENT : 0);
	int ret;

	*err_no = 0;
	buf_reset(&c->resolve_err);
	if ((ret = require(c, "resolve")) < 0)
		return ret;
	if (!*path)
		return err_set(ERR_USAGE, "Empty resolve path");
	if ((ret = proto_writef(&c->conn, "resolve %u\n", flags)) < 0 ||
	    (parent && (ret = proto_write_resolution(&c->conn, parent)) < 0) ||
	    (ret = proto_write_bvec(&c->conn, path, strlen(path))) < 0 ||
	    (ret = proto_read(&c->conn, &ok, 1)) < 0)
		goto out;
	if (ok == 1) {
		ret = proto_read_resolution(&c->conn, out);
	} else if (ok == 0) {
		struct buf msg = BUF_INIT;
		int has_term, no;
		ret = proto_read_ioerror(&c->conn, &no, &msg, out, &has_term);
		if (ret >= 0 && (ret = proto_check_ok(&c->conn)) >= 0) {
			*err_no = no;
			ret = err_set(ERR_GENERIC, "%s", msg.data);
			buf_release(&c->resolve_err);
			c->resolve_err = msg;
			/* a VFS error leaves the connection in sync */
			return ret;
		}
		buf_release(&msg);
		goto out;
	} else {
		ret = err_set(ERR_CORRUPT, "resolve: bad status byte %u", ok);
	}
	if (ret >= 0)
		ret = proto_check_ok(&c->conn);
out:
	return broke(c, ret);
}

const char *client_resolve_error(const struct client *c)
{
	return c->resolve_err.data;
}

/* ---- the remote pack writer ------------------------------------------ */

struct client_writer {
	struct objsink sink;
	struct client *c;
	struct client_writer_opts o;
	struct zlib_deflater *z;        /* inline (o.threads == 0) */
	struct buf packed;
	struct zpool *pool;             /* o.threads > 0 */
	struct sha1_ctx sha;
	struct oidset set;
	int open;
	uint64_t count, bytes;
	struct client_writer_stats st;
	/* --bwlimit: the last piece's size and the time it went out */
	size_t bwcount;
	double bwtime;
	int err;
};

/* bup's --bwlimit pieces: small enough not to flood a router's queue */
#define BWLIMIT_PIECE 4096

static void sleep_until(double when)
{
	double d = when - util_now();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Send one receive-objects-v2 frame: its header, then its data.  With a
 * bandwidth limit the frame goes out in 4 KiB pieces (counted across
 * header and data, as bup slices the joined buffer), each written and
 * flushed no sooner than the previous piece's time plus its size at the
 * limit.  Falling behind is not made up for later (bup's
 * _raw_write_bwlimit: catching up would flood the queue it protects).
 */
static int cw_send(struct client_writer *w, const void *hdr, size_t hl,
		   const void *data, size_t len)
{
	struct proto_conn *conn = &w->c->conn;
	const unsigned char *seg[2] = { hdr, data };
	size_t seglen[2] = { hl, len };
	int ret;

	if (!w->o.bwlimit) {
		if ((ret = proto_write(conn, hdr, hl)) < 0 ||
		    (ret = proto_write(conn, data, len)) < 0)
			return ret;
		return 0;
	}
	for (size_t i = 0, off = 0; i < 2; ) {
		size_t piece = 0;
		double next = MAX(util_now(), w->bwtime +
				  (double)w->bwcount / (double)w->o.bwlimit);

		sleep_until(next);
		while (i < 2 && piece < BWLIMIT_PIECE) {
			size_t n = MIN(seglen[i] - off, BWLIMIT_PIECE - piece);

			if (n && (ret = proto_write(conn, seg[i] + off, n)) < 0)
				return ret;
			piece += n;
			off += n;
			if (off == seglen[i]) {
				i++;
				off = 0;
			}
		}
		if ((ret = proto_flush(conn)) < 0)
			return ret;
		w->bwcount = piece;
		w->bwtime = next;
	}
	return 0;
}

/*
 * Read the server's suggestions ("index NAME" lines, and the finished
 * "pack-X.idx" names) up to the reply's end, fetch those idx files and
 * refresh the cache (bup's _suggest_packs).  With `suspend` the
 * running receive-objects-v2 is paused first and resumed after.
 */
static int suggest_packs(struct client_writer *w, int suspend)
{
	struct client *c = w->c;
	struct buf line = BUF_INIT;
	char **names = NULL;
	size_t nr = 0;
	int ret = 0;

	if (suspend && (ret = proto_write_u32(&c->conn, PROTO_SUSPEND)) < 0)
		goto out;
	while ((ret = reply_line(c, &line, EXITED)) > 0 && line.len) {
		const char *name;

		name = !strncmp(line.data, "index ", 6) ? line.data + 6
							 : line.data;
		if (!proto_valid_idx_name(name, strlen(name))) {
			ret = err_set(ERR_CORRUPT, "unexpected reply to "
				      "receive-objects-v2: '%.100s'",
				      line.data);
			goto out;
		}
		strv_push(&names, &nr, name);
	}
	if (ret < 0 || (ret = proto_check_ok(&c->conn)) < 0)
		goto out;
	c->busy = NULL;
	for (size_t i = 0; ret >= 0 && i < nr; i++)
		ret = client_sync_index(c, names[i]);
	/* bup runs its upkeep (and prints its lines) even for no names */
	if (ret >= 0)
		ret = refresh_cache(c);
	if (ret >= 0 && suspend) {
		c->busy = "receive-objects-v2";
		ret = proto_write(&c->conn, "receive-objects-v2\n", 19);
	}
out:
	strv_free(names, nr);
	buf_release(&line);
	return broke(c, ret);
}

/*
 * Start receive-objects-v2 unless it is running (bup's onopen): from
 * then on the client is busy with it.
 */
static int cw_open(struct client_writer *w)
{
	int ret;

	if (w->open)
		return 0;
	if ((ret = require(w->c, "receive-objects-v2")) < 0)
		return w->err = ret;
	w->c->busy = "receive-objects-v2";
	w->open = 1;
	if ((ret = proto_write(&w->c->conn, "receive-objects-v2\n", 19)) < 0)
		return w->err = broke(w->c, ret);
	return 0;
}

/* End the running receive-objects-v2: the server finishes its pack. */
static int cw_end_pack(struct client_writer *w)
{
	int ret;

	if (!w->open)
		return 0;
	w->open = 0;
	if ((ret = proto_write_u32(&w->c->conn, 0)) >= 0)
		ret = suggest_packs(w, 0);
	w->count = w->bytes = 0;
	w->st.packs++;
	if (ret < 0)
		w->err = ret;
	return ret;
}

/*
 * Send one object in pack form as a receive-objects-v2 frame, take the
 * server's suggestions if it has sent any, and end the pack at the
 * limits.  Always on the writer's thread (inline, or the pool's emit
 * callback in ZPOOL_EMIT_CALLER mode), in the order objects were
 * written: the connection and w->c->cache need no lock, and the bytes
 * on the wire do not depend on the thread count.
 */
static int cw_frame(struct client_writer *w, const struct oid *oid,
		    const void *packed, size_t len, uint32_t crc)
{
	struct proto_conn *conn = &w->c->conn;
	unsigned char hdr[4 + OID_RAWSZ + 4];
	int ret;

	if (len + 24 > PROTO_MAX_FRAME)
		return w->err = err_set(ERR_USAGE, "object %s too large to "
					"send", oid_hex(oid));
	if ((ret = cw_open(w)) < 0)
		return ret;
	put_be32(hdr, (uint32_t)(len + 24));
	memcpy(hdr + 4, oid->hash, OID_RAWSZ);
	put_be32(hdr + 4 + OID_RAWSZ, crc);
	if ((ret = cw_send(w, hdr, sizeof(hdr), packed, len)) < 0)
		return w->err = broke(w->c, ret);
	w->count++;
	w->bytes += len;
	w->st.objects++;
	w->st.bytes_out += len;
	if ((ret = proto_has_input(conn)) < 0)
		return w->err = broke(w->c, ret);
	if (ret && (ret = suggest_packs(w, 1)) < 0)
		return w->err = ret;
	/* FORMAT.md 2.3: limits checked after the object, as bup */
	if (w->bytes >= w->o.max_size || w->count >= w->o.max_objects)
		return cw_end_pack(w);
	return 0;
}

static int cw_emit(void *ctx, const struct oid *oid, const void *packed,
		   size_t len, uint32_t crc)
{
	return cw_frame(ctx, oid, packed, len, crc);
}

int client_writer_flush(struct client_writer *w)
{
	int ret;

	if (w->err)
		return w->err;
	/* every object written so far goes out before the pack ends */
	if (w->pool && (ret = zpool_drain(w->pool)) < 0)
		return w->err = ret;
	return cw_end_pack(w);
}

static int cw_exists(struct objsink *s, const struct oid *oid)
{
	struct client_writer *w = (struct client_writer *)s;

	return oidset_has(&w->set, oid) ||
	       (w->c->cache && odb_exists(w->c->cache, oid));
}

/*
 * 1 if oid is still to be sent, and from now on it counts as sent; 0 if
 * the server has it or this session sent it.  With the pool, objects
 * already queued were checked against the cache as it was then; an
 * index the server suggests meanwhile only spares later objects (the
 * server skips what it has).
 */
static int cw_claim(struct client_writer *w, const struct oid *oid)
{
	if (cw_exists(&w->sink, oid))
		return 0;
	oidset_add(&w->set, oid);
	return 1;
}

/*
 * An object went into the pool (ret: zpool_add()'s or
 * zpool_add_packed()'s result, after cw_open()): send what the workers
 * have finished, without waiting for them.  The client was busy from
 * the first object on, as inline, even though its frame goes out
 * later: no other request may come in between.
 */
static int cw_queued(struct client_writer *w, int ret)
{
	if (ret >= 0)
		ret = zpool_poll(w->pool);
	return ret < 0 ? (w->err = ret) : 0;
}

static int cw_write_known(struct objsink *s, enum obj_type type,
			  const void *data, size_t len, const struct oid *out)
{
	struct client_writer *w = (struct client_writer *)s;
	uint32_t crc;
	int ret;

	if (w->err)
		return w->err;
	if (!cw_claim(w, out))
		return 0;
	if (!w->pool) {
		buf_reset(&w->packed);
		crc = zpool_compress(w->z, &w->packed, type, data, len);
		return cw_frame(w, out, w->packed.data, w->packed.len, crc);
	}
	if ((ret = cw_open(w)) < 0)
		return ret;
	return cw_queued(w, zpool_add(w->pool, out, type, data, len));
}

static int cw_write(struct objsink *s, enum obj_type type, const void *data,
		    size_t len, struct oid *out)
{
	struct client_writer *w = (struct client_writer *)s;

	oid_hash_object_ctx(&w->sha, out, type, data, len);
	return cw_write_known(s, type, data, len, out);
}

void client_writer_opts_from(struct client_writer_opts *co,
			     const struct packwriter_opts *po)
{
	memset(co, 0, sizeof(*co));
	co->level = po->level;
	co->impl = po->impl;
	co->max_size = po->max_size;
	co->max_objects = po->max_objects;
	co->threads = po->threads;
}

int client_writer_new(struct client_writer **out, struct client *c,
		      const struct client_writer_opts *opts)
{
	struct client_writer *w = xcalloc(1, sizeof(*w));

	if (opts)
		w->o = *opts;
	else
		w->o.level = 1;
	if (w->o.level < 0 || w->o.level > 9)
		w->o.level = 1;
	if (!w->o.max_size)
		w->o.max_size = 1000000000ULL;
	if (!w->o.max_objects)
		w->o.max_objects = MAX(1, w->o.max_size / 5000);
	w->c = c;
	/*
	 * The local repository's choice: libdeflate by default (any valid
	 * zlib stream is accepted by bup's and our server), zlib itself
	 * for the bytes bup's client would send (cbup.compressor = zlib).
	 */
	if (w->o.threads > 0)
		w->pool = zpool_new(w->o.threads, w->o.impl, w->o.level,
				    ZPOOL_EMIT_CALLER, cw_emit, w);
	else
		w->z = zlib_deflater_new(w->o.impl, w->o.level);
	w->bwtime = util_now();   /* bup: the writer's creation */
	sha1_init(&w->sha);
	w->sink.write = cw_write;
	w->sink.exists = cw_exists;
	w->sink.write_known = cw_write_known;
	*out = w;
	return 0;
}

struct objsink *client_writer_sink(struct client_writer *w)
{
	return &w->sink;
}

static void cw_free(struct client_writer *w)
{
	zpool_free(w->pool);   /* joins the workers; drops unsent objects */
	zlib_deflater_free(w->z);
	sha1_release(&w->sha);
	buf_release(&w->packed);
	oidset_clear(&w->set);
	free(w);
}

int client_writer_close(struct client_writer *w)
{
	int ret;

	if (!w)
		return 0;
	ret = client_writer_flush(w);
	cw_free(w);
	return ret;
}

void client_writer_abort(struct client_writer *w)
{
	if (!w)
		return;
	if (w->open)
		w->c->broken = 1;   /* mid-command: only hanging up is left */
	cw_free(w);
}

void client_writer_get_stats(const struct client_writer *w,
			     struct client_writer_stats *st)
{
	*st = w->st;
}

/*
 * An object already in pack form (bup get copying packed bytes): the
 * same receive-objects-v2 frame cw_write() sends after compressing.
 */
int client_writer_write_raw(struct client_writer *w, const struct oid *oid,
			    const void *packed, size_t len, uint32_t crc)
{
	int ret;

	if (w->err)
		return w->err;
	if ((ret = pack_check_raw(oid, packed, len, crc)) < 0)
		return ret;
	if (!cw_claim(w, oid))
		return 0;
	if (!w->pool)
		return cw_frame(w, oid, packed, len, crc);
	/* in its turn after the objects queued before it, as cw_write() */
	if ((ret = cw_open(w)) < 0)
		return ret;
	return cw_queued(w, zpool_add_packed(w->pool, oid, packed, len, crc));
}
