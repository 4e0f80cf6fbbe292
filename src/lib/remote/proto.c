/*
 * bup's server protocol framing and command parsing (proto.h; FORMAT.md
 * 7.2-7.3).  Everything read from the peer is bounded before it is
 * trusted: lines by the caller's cap, frames by PROTO_MAX_FRAME, bvecs
 * by the caller's cap.
 */
#include "remote/proto.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/oid.h"
#include "util/util.h"

#define RBUF_SIZE 65536
#define WBUF_FLUSH 65536

void proto_conn_init(struct proto_conn *c, int in_fd, int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->rbuf = xmalloc(RBUF_SIZE);
	buf_init(&c->wbuf, WBUF_FLUSH + 1024);
}

void proto_conn_release(struct proto_conn *c)
{
	free(c->rbuf);
	c->rbuf = NULL;
	buf_release(&c->wbuf);
}

int proto_flush(struct proto_conn *c)
{
	if (!c->wbuf.len)
		return 0;
	if (write_full(c->out_fd, c->wbuf.data, c->wbuf.len) < 0) {
		buf_reset(&c->wbuf);
		return err_errno("cannot write to the connection");
	}
	c->bytes_out += c->wbuf.len;
	buf_reset(&c->wbuf);
	return 0;
}

int proto_write(struct proto_conn *c, const void *data, size_t len)
{
	if (len >= WBUF_FLUSH) {
		/* large payloads (idx files, object data) go straight out */
		if (proto_flush(c) < 0)
			return ERR_IO;
		if (write_full(c->out_fd, data, len) < 0)
			return err_errno("cannot write to the connection");
		c->bytes_out += len;
		return 0;
	}
	buf_add(&c->wbuf, data, len);
	if (c->wbuf.len >= WBUF_FLUSH)
		return proto_flush(c);
	return 0;
}

int proto_writef(struct proto_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&c->wbuf, fmt, ap);
	va_end(ap);
	if (c->wbuf.len >= WBUF_FLUSH)
		return proto_flush(c);
	return 0;
}

int proto_write_u32(struct proto_conn *c, uint32_t v)
{
	unsigned char b[4];

	put_be32(b, v);
	return proto_write(c, b, 4);
}

/*
 * A failed read of in_fd, errno set.  EAGAIN from a blocking descriptor
 * is its SO_RCVTIMEO expiring: nothing arrived for that long.
 */
static int read_error(struct proto_conn *c)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->timed_out = 1;
		return err_set(ERR_IO, "nothing received from the connection "
			       "within its receive timeout");
	}
	return err_errno("cannot read from the connection");
}

/* Refill the read buffer: 1 if bytes arrived, 0 at EOF, or an error. */
static int fill(struct proto_conn *c)
{
	ssize_t n;

	if (proto_flush(c) < 0)
		return ERR_IO;
	c->rpos = c->rlen = 0;
	do {
		n = read(c->in_fd, c->rbuf, RBUF_SIZE);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return read_error(c);
	c->rlen = (size_t)n;
	c->bytes_in += (size_t)n;
	return n > 0;
}

int proto_read(struct proto_conn *c, void *out, size_t len)
{
	unsigned char *o = out;

	while (len) {
		size_t avail = c->rlen - c->rpos;
		int r;

		if (avail) {
			size_t n = MIN(avail, len);
			memcpy(o, c->rbuf + c->rpos, n);
			c->rpos += n;
			o += n;
			len -= n;
			continue;
		}
		if (len >= RBUF_SIZE) {
			/* big reads bypass the buffer */
			long long n;
			if (proto_flush(c) < 0)
				return ERR_IO;
			n = read_full(c->in_fd, o, len);
			if (n < 0)
				return read_error(c);
			c->bytes_in += (uint64_t)n;
			if ((size_t)n < len)
				return err_set(ERR_IO, "unexpected EOF on the "
					       "connection (%zu bytes missing)",
					       len - (size_t)n);
			return 0;
		}
		r = fill(c);
		if (r < 0)
			return r;
		if (!r)
			return err_set(ERR_IO, "unexpected EOF on the "
				       "connection (%zu bytes missing)", len);
	}
	return 0;
}

int proto_read_u32(struct proto_conn *c, uint32_t *v)
{
	unsigned char b[4];
	int ret = proto_read(c, b, 4);

	if (ret < 0)
		return ret;
	*v = get_be32(b);
	return 0;
}

int proto_read_line(struct proto_conn *c, struct buf *line, size_t max)
{
	buf_reset(line);
	for (;;) {
		size_t avail = c->rlen - c->rpos;
		const unsigned char *p = c->rbuf + c->rpos;
		const unsigned char *nl = avail ? memchr(p, '\n', avail) : NULL;
		size_t take = nl ? (size_t)(nl - p) : avail;
		int r;

		if (line->len + take > max)
			return err_set(ERR_CORRUPT, "line longer than %zu "
				       "bytes on the connection", max);
		buf_add(line, p, take);
		if (nl) {
			c->rpos += take + 1;
			return 1;
		}
		c->rpos += take;
		r = fill(c);
		if (r < 0)
			return r;
		if (!r) {
			if (!line->len)
				return 0;
			return err_set(ERR_IO, "unexpected EOF inside a line "
				       "on the connection");
		}
	}
}

int proto_has_input(struct proto_conn *c)
{
	struct pollfd pfd;
	int r;

	if (c->rpos < c->rlen)
		return 1;
	/*
	 * No flush: what the peer could send now answers bytes it already
	 * has, and a writer that checks after every object keeps its
	 * output batched.
	 */
	pfd.fd = c->in_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	do {
		r = poll(&pfd, 1, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return err_errno("poll");
	return r > 0;
}

int proto_read_vuint(struct proto_conn *c, uint64_t *v)
{
	uint64_t res = 0;
	unsigned shift = 0;

	for (;;) {
		unsigned char b;
		int ret = proto_read(c, &b, 1);

		if (ret < 0)
			return ret;
		if (shift > 63 || (shift && (uint64_t)(b & 0x7f) >> (64 - shift)))
			return err_set(ERR_CORRUPT, "vuint overflow on the "
				       "connection");
		res |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
	}
	*v = res;
	return 0;
}

int proto_read_vint(struct proto_conn *c, int64_t *v)
{
	unsigned char b;
	uint64_t rest = 0, mag;
	int neg, ret = proto_read(c, &b, 1);

	if (ret < 0)
		return ret;
	neg = !!(b & 0x40);
	mag = b & 0x3f;
	if (b & 0x80) {
		if ((ret = proto_read_vuint(c, &rest)) < 0)
			return ret;
		if (rest >> 57)
			return err_set(ERR_CORRUPT, "vint overflow on the "
				       "connection");
		mag |= rest << 6;
	}
	if (mag > (uint64_t)INT64_MAX)
		return err_set(ERR_CORRUPT, "vint overflow on the connection");
	*v = neg ? -(int64_t)mag : (int64_t)mag;
	return 0;
}

int proto_read_bvec(struct proto_conn *c, struct buf *out, size_t max)
{
	uint64_t n;
	int ret = proto_read_vuint(c, &n);

	if (ret < 0)
		return ret;
	if (n > max)
		return err_set(ERR_CORRUPT, "%llu-byte string on the "
			       "connection exceeds %zu", (unsigned long long)n,
			       max);
	buf_reset(out);
	buf_grow(out, (size_t)n);
	if ((ret = proto_read(c, out->data, (size_t)n)) < 0)
		return ret;
	buf_setlen(out, (size_t)n);
	return 0;
}

int proto_write_vuint(struct proto_conn *c, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;

	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return proto_write(c, b, n);
}

int proto_write_bvec(struct proto_conn *c, const void *data, size_t len)
{
	int ret = proto_write_vuint(c, len);

	return ret < 0 ? ret : proto_write(c, data, len);
}

int proto_ok(struct proto_conn *c)
{
	return proto_write(c, "\nok\n", 4);
}

int proto_error(struct proto_conn *c, const char *msg)
{
	struct buf b = BUF_INIT;
	int ret, in_ws = 0;

	buf_addstr(&b, "\nerror ");
	/* bup: re.sub(br'\s+', b' ', s) */
	for (const char *p = msg; *p; p++) {
		int ws = *p == ' ' || *p == '\t' || *p == '\n' ||
			 *p == '\r' || *p == '\v' || *p == '\f';
		if (ws) {
			if (!in_ws)
				buf_addch(&b, ' ');
		} else {
			buf_addch(&b, *p);
		}
		in_ws = ws;
	}
	buf_addch(&b, '\n');
	ret = proto_write(c, b.data, b.len);
	buf_release(&b);
	return ret;
}

int proto_check_ok(struct proto_conn *c)
{
	struct buf line = BUF_INIT;
	int ret;

	for (;;) {
		ret = proto_read_line(c, &line, PROTO_MAX_LINE);
		if (ret == 0) {
			ret = err_set(ERR_IO, "server exited unexpectedly");
			break;
		}
		if (ret < 0)
			break;
		if (!line.len)
			continue;
		if (!strcmp(line.data, "ok")) {
			ret = 0;
			break;
		}
		if (!strncmp(line.data, "error ", 6)) {
			ret = err_set(ERR_GENERIC, "%s", line.data + 6);
			break;
		}
		ret = err_set(ERR_CORRUPT, "expected \"ok\", got '%.200s'",
			      line.data);
		break;
	}
	buf_release(&line);
	return ret;
}

/* ---- command lines ---- */

static const struct {
	const char *name;
	enum proto_cmd cmd;
} cmd_table[] = {
	{ "cat", PROTO_CMD_JOIN },   /* bup: "apocryphal alias" of join */
	{ "cat-batch", PROTO_CMD_CAT_BATCH },
	{ "help", PROTO_CMD_HELP },
	{ "init-dir", PROTO_CMD_INIT_DIR },
	{ "join", PROTO_CMD_JOIN },
	{ "list-indexes", PROTO_CMD_LIST_INDEXES },
	{ "quit", PROTO_CMD_QUIT },
	{ "read-ref", PROTO_CMD_READ_REF },
	{ "receive-objects-v2", PROTO_CMD_RECEIVE_OBJECTS_V2 },
	{ "refs", PROTO_CMD_REFS },
	{ "resolve", PROTO_CMD_RESOLVE },
	{ "rev-list", PROTO_CMD_REV_LIST },
	{ "send-index", PROTO_CMD_SEND_INDEX },
	{ "set-dir", PROTO_CMD_SET_DIR },
	{ "update-ref", PROTO_CMD_UPDATE_REF },
};

/* bup's `help` lists sorted(commands): the same names, byte order. */
const char *const proto_command_names[] = {
	"cat", "cat-batch", "help", "init-dir", "join", "list-indexes",
	"quit", "read-ref", "receive-objects-v2", "refs", "resolve",
	"rev-list", "send-index", "set-dir", "update-ref", NULL,
};

/* Python's bytes.strip() whitespace */
static int is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\v' || ch == '\f';
}

int proto_valid_idx_name(const char *name, size_t len)
{
	if (len != 5 + OID_HEXSZ + 4 || memcmp(name, "pack-", 5) ||
	    memcmp(name + 5 + OID_HEXSZ, ".idx", 4))
		return 0;
	for (size_t i = 5; i < 5 + OID_HEXSZ; i++) {
		char ch = name[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return 0;
	}
	return 1;
}

int proto_check_refname(const char *name)
{
	const char *comp;

	if (strncmp(name, "refs/", 5))
		return 0;
	comp = name + 5;
	for (;;) {
		const char *end = strchrnul(comp, '/');
		size_t n = (size_t)(end - comp);

		/* empty, hidden ("." and ".." included) or a lock file */
		if (!n || comp[0] == '.' ||
		    (n >= 5 && !memcmp(end - 5, ".lock", 5)))
			return 0;
		for (const char *p = comp; p < end; p++) {
			unsigned char ch = (unsigned char)*p;
			if (ch < 0x20 || ch == 0x7f || ch == ' ' ||
			    ch == '~' || ch == '^' || ch == ':' || ch == '?' ||
			    ch == '*' || ch == '[' || ch == '\\')
				return 0;
			if (ch == '.' && p[1] == '.')
				return 0;
			if (ch == '@' && p[1] == '{')
				return 0;
		}
		if (end[-1] == '.')
			return 0;
		if (!*end)
			return 1;
		comp = end + 1;
	}
}

static int bad(const char *what, const char *name)
{
	return err_set(ERR_CORRUPT, "invalid %s for server command '%s'",
		       what, name);
}

int proto_parse_command(struct proto_request *req, const void *buf,
			size_t len)
{
	const char *p = buf, *e = p + len, *sp;
	size_t nlen;

	memset(req, 0, sizeof(*req));
	req->cmd = PROTO_CMD_NONE;
	if (len > PROTO_MAX_LINE)
		return err_set(ERR_CORRUPT, "server command line longer than "
			       "%d bytes", PROTO_MAX_LINE);
	if (memchr(p, '\0', len))
		return err_set(ERR_CORRUPT, "NUL byte in server command");
	while (p < e && is_space((unsigned char)*p))
		p++;
	while (e > p && is_space((unsigned char)e[-1]))
		e--;
	if (p == e)
		return 0;
	/* bup: line.split(b' ', 1) */
	sp = memchr(p, ' ', (size_t)(e - p));
	nlen = sp ? (size_t)(sp - p) : (size_t)(e - p);
	for (size_t i = 0; i < ARRAY_SIZE(cmd_table); i++)
		if (strlen(cmd_table[i].name) == nlen &&
		    !memcmp(cmd_table[i].name, p, nlen)) {
			req->cmd = cmd_table[i].cmd;
			req->name = cmd_table[i].name;
			break;
		}
	if (req->cmd == PROTO_CMD_NONE)
		return err_set(ERR_CORRUPT, "unknown server command: '%.*s'",
			       (int)MIN(nlen, (size_t)100), p);
	if (sp) {
		req->arg_len = (size_t)(e - sp - 1);
		req->arg = xstrndup(sp + 1, req->arg_len);
	} else {
		req->arg = xstrdup("");
	}

	switch (req->cmd) {
	case PROTO_CMD_INIT_DIR:
	case PROTO_CMD_SET_DIR:
		if (!req->arg_len)
			goto fail_arg;
		break;
	case PROTO_CMD_SEND_INDEX:
		if (!proto_valid_idx_name(req->arg, req->arg_len))
			goto fail_arg;
		break;
	case PROTO_CMD_READ_REF:
		if (!req->arg_len || strchr(req->arg, ' '))
			goto fail_arg;
		break;
	case PROTO_CMD_UPDATE_REF:
		/* bup asserts refs/heads/ or refs/tags/ (git.update_ref) */
		if (!proto_check_refname(req->arg) ||
		    (strncmp(req->arg, "refs/heads/", 11) &&
		     strncmp(req->arg, "refs/tags/", 10)))
			goto fail_arg;
		break;
	case PROTO_CMD_JOIN:
		if (!req->arg_len)
			goto fail_arg;
		break;
	case PROTO_CMD_REFS:
		/* bup: args.split() must give exactly two of 0/1 */
		if (req->arg_len != 3 ||
		    (req->arg[0] != '0' && req->arg[0] != '1') ||
		    req->arg[1] != ' ' ||
		    (req->arg[2] != '0' && req->arg[2] != '1'))
			goto fail_arg;
		req->heads = req->arg[0] == '1';
		req->tags = req->arg[2] == '1';
		break;
	case PROTO_CMD_RESOLVE:
		if (req->arg_len != 1 || req->arg[0] < '0' ||
		    req->arg[0] > '7')
			goto fail_arg;
		req->flags = (unsigned)(req->arg[0] - '0');
		break;
	default:
		/* help, list-indexes, ...: bup ignores any argument */
		break;
	}
	return 0;
fail_arg:
	{
		int ret = bad("argument", req->name);
		proto_request_release(req);
		return ret;
	}
}

void proto_request_release(struct proto_request *req)
{
	free(req->arg);
	req->arg = NULL;
	req->arg_len = 0;
}

int proto_demux(int in, int out_fd, int err_fd)
{
	unsigned char tail[6], h[5], *buf;
	size_t have = 0;
	int ret = 0;

	/* anything before the sync string is log output */
	for (;;) {
		if (read_full(in, tail + have, 1) != 1) {
			/* bup writes what it holds (a daemon's refusal) */
			if (have && write_full(err_fd, tail, have) < 0)
				return err_errno("demux: write error");
			return err_set(ERR_IO, "demux: unexpected EOF during "
				       "initialization");
		}
		have++;
		if (have == 6) {
			if (!memcmp(tail, "BUPMUX", 6))
				break;
			if (write_full(err_fd, tail, 1) < 0)
				return err_errno("demux: write error");
			memmove(tail, tail + 1, 5);
			have = 5;
		}
	}
	buf = xmalloc(PROTO_MUX_MAX_PACKET);
	for (;;) {
		uint32_t n;
		long long got = read_full(in, h, 5);

		if (got != 5) {
			if (got > 0)
				ret = err_set(ERR_IO, "demux: unexpected EOF");
			break;      /* EOF between frames: the peer went away */
		}
		n = get_be32(h);
		if (n > PROTO_MUX_MAX_PACKET) {
			ret = err_set(ERR_CORRUPT, "Connection broken");
			break;
		}
		if (h[4] == 3)
			break;
		if (read_full(in, buf, n) != (long long)n) {
			ret = err_set(ERR_IO, "demux: unexpected EOF");
			break;
		}
		if ((h[4] == 1 && write_full(out_fd, buf, n) < 0) ||
		    (h[4] == 2 && write_full(err_fd, buf, n) < 0)) {
			ret = err_errno("demux: write error");
			break;
		}
	}
	free(buf);
	return ret;
}
