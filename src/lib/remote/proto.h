/*
 * bup's client/server protocol, 0.33.7 (FORMAT.md 7.2-7.4): the pieces
 * both sides share.
 *
 *   - struct proto_conn: a buffered connection over two file
 *     descriptors (pipes to ssh or to a local server, or fds 3/4 in
 *     reverse mode).  Reads are length-capped: a line longer than the
 *     caller's limit is ERR_CORRUPT, never an unbounded allocation.
 *     Pending output is flushed before every read that would block, as
 *     bup's Conn does, so a request/reply exchange cannot deadlock.
 *   - replies: "\nok\n" and "\nerror <msg>\n" (whitespace runs collapsed
 *     to one space), and the client's check of them;
 *   - u32 frames (big-endian lengths) and bup's vint/bvec on the wire;
 *   - proto_parse_command(): the parser of one server command line,
 *     from (buf, len), fuzzable, rejecting malformed or oversized input;
 *   - proto_check_refname(), proto_valid_idx_name(): what the server
 *     accepts from a client before it touches a path.
 *
 * A struct proto_conn is used by one thread.  Functions return 0 or a
 * negative err.h code with err_last() set; a peer that closes the
 * connection early gives ERR_IO "unexpected EOF ...".
 */
#ifndef CBUP_PROTO_H
#define CBUP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/*
 * Longest command or argument line accepted (bytes, without the "\n").
 * Paths are at most PATH_MAX (4096) and ref names far shorter; 64 KiB
 * leaves room for anything legitimate while bounding a hostile peer.
 */
#define PROTO_MAX_LINE 65536
/*
 * Largest receive-objects-v2 frame (20-byte id + u32 crc + object in
 * pack form).  bup's chunks are at most a few MiB and its largest trees
 * a few tens of MiB compressed; 256 MiB bounds memory per frame.
 */
#define PROTO_MAX_FRAME (256U << 20)
/* u32 that suspends receive-objects-v2 (FORMAT.md 7.3). */
#define PROTO_SUSPEND 0xffffffffU
/* bup mux frames carry at most 128 KiB (helpers.py MAX_PACKET). */
#define PROTO_MUX_MAX_PACKET (128U * 1024)

/*
 * Read a "bup mux" stream from fd `in` (FORMAT.md 7.4; bup's DemuxConn):
 * bytes before the "BUPMUX" sync string go to `err_fd`, then channel 1
 * frames to `out_fd`, channel 2 to `err_fd`, until the end frame
 * (channel 3) or EOF.  0 at the end, or an error (err.h) for a truncated
 * or oversized frame or a failed write.
 */
int proto_demux(int in, int out_fd, int err_fd);

struct proto_conn {
	int in_fd, out_fd;
	unsigned char *rbuf;
	size_t rpos, rlen;
	struct buf wbuf;
	uint64_t bytes_in, bytes_out;
	/*
	 * Set when a read failed because in_fd's receive timeout expired
	 * (a socket with SO_RCVTIMEO, as the daemon's connections have):
	 * the peer sent nothing for that long.  The read returns ERR_IO.
	 */
	int timed_out;
};

/* Set up a connection over the two descriptors (not owned, not closed). */
void proto_conn_init(struct proto_conn *c, int in_fd, int out_fd);
void proto_conn_release(struct proto_conn *c);

/* Queue bytes for the peer (flushed when the buffer fills, or on read). */
int proto_write(struct proto_conn *c, const void *data, size_t len);
int proto_writef(struct proto_conn *c, const char *fmt, ...) PRINTF(2, 3);
int proto_write_u32(struct proto_conn *c, uint32_t v);
int proto_flush(struct proto_conn *c);

/* Exactly len bytes, else ERR_IO "unexpected EOF". */
int proto_read(struct proto_conn *c, void *out, size_t len);
int proto_read_u32(struct proto_conn *c, uint32_t *v);
/*
 * One line into `line` without its "\n".  Returns 1, 0 at a clean EOF
 * (nothing read), ERR_IO for an EOF inside a line, or ERR_CORRUPT when
 * the line exceeds `max` bytes.
 */
int proto_read_line(struct proto_conn *c, struct buf *line, size_t max);
/*
 * 1 if input is waiting (buffered or readable now, or the peer closed),
 * 0 if not, negative on error.  Does not block.
 */
int proto_has_input(struct proto_conn *c);

/* bup's vuint, vint and bvec (FORMAT.md 5.1) on the wire. */
int proto_read_vuint(struct proto_conn *c, uint64_t *v);
int proto_read_vint(struct proto_conn *c, int64_t *v);
/* A bvec of at most `max` bytes (ERR_CORRUPT beyond) into out. */
int proto_read_bvec(struct proto_conn *c, struct buf *out, size_t max);
int proto_write_vuint(struct proto_conn *c, uint64_t v);
int proto_write_bvec(struct proto_conn *c, const void *data, size_t len);

/* The end of a reply: "\nok\n". */
int proto_ok(struct proto_conn *c);
/* "\nerror <msg>\n" with every whitespace run in msg collapsed to ' '. */
int proto_error(struct proto_conn *c, const char *msg);
/*
 * Client side: read to the end of a reply.  Empty lines are skipped;
 * "ok" gives 0; "error MSG" gives ERR_GENERIC with MSG as the message
 * (the caller decides whether that is fatal); any other line is
 * ERR_CORRUPT ("expected \"ok\", got ..."); EOF is ERR_IO ("server
 * exited unexpectedly").
 */
int proto_check_ok(struct proto_conn *c);

/* Server commands of 0.33.7 (FORMAT.md 7.3). */
enum proto_cmd {
	PROTO_CMD_NONE = 0,   /* an empty line: ignored */
	PROTO_CMD_QUIT,
	PROTO_CMD_HELP,
	PROTO_CMD_INIT_DIR,
	PROTO_CMD_SET_DIR,
	PROTO_CMD_LIST_INDEXES,
	PROTO_CMD_SEND_INDEX,
	PROTO_CMD_RECEIVE_OBJECTS_V2,
	PROTO_CMD_READ_REF,
	PROTO_CMD_UPDATE_REF,
	PROTO_CMD_JOIN,       /* also "cat" */
	PROTO_CMD_CAT_BATCH,
	PROTO_CMD_REFS,
	PROTO_CMD_REV_LIST,
	PROTO_CMD_RESOLVE,
};

/* resolve FLAGS bits */
#define PROTO_RESOLVE_WANT_META 1
#define PROTO_RESOLVE_FOLLOW 2
#define PROTO_RESOLVE_PARENT 4

struct proto_request {
	enum proto_cmd cmd;
	const char *name;   /* the command as bup spells it */
	char *arg;          /* NUL-terminated copy of the argument ("") */
	size_t arg_len;
	int heads, tags;    /* refs */
	unsigned flags;     /* resolve */
};

/*
 * Parse one command line (without its "\n", surrounding whitespace
 * allowed as bup strips it).  Returns 0 and fills req (release it with
 * proto_request_release), or ERR_CORRUPT naming the problem: unknown
 * command, a NUL byte, a line over PROTO_MAX_LINE, a missing or invalid
 * argument (send-index takes only "pack-<40 hex>.idx"; read-ref and
 * update-ref only a well-formed ref name, update-ref only under
 * refs/heads/ or refs/tags/ as bup asserts; refs "0|1 0|1"; resolve a
 * number 0-7).
 */
int proto_parse_command(struct proto_request *req, const void *buf,
			size_t len);
void proto_request_release(struct proto_request *req);
/* The names of every command, sorted, for `help`; NULL-terminated. */
extern const char *const proto_command_names[];

/*
 * A ref name git would accept (check-ref-format rules) under "refs/":
 * no empty, "." or ".."-containing or ".lock"-ending component, no
 * control character, space, ~ ^ : ? * [ \ or "@{".  So a valid name
 * never leaves the refs/ directory.  1 if valid.
 */
int proto_check_refname(const char *name);
/* 1 if name is exactly "pack-<40 lowercase hex>.idx". */
int proto_valid_idx_name(const char *name, size_t len);

/*
 * VFS resolutions on the wire (bup's vfs.py write_resolution /
 * read_resolution / write_ioerror, used by `resolve`): a vuint count,
 * then per element a bvec name and 00 (missing) or 01 + the item (bvec
 * kind name "Item", "Chunky", "RevList", "Root", "Tags", "Commit" or
 * "FakeLink", vuint has_meta, the kind's ids or target as bvecs, then
 * the metadata record stream or a vuint mode).  proto_vfs.c.
 */
struct vfs_list;
int proto_write_resolution(struct proto_conn *c, const struct vfs_list *res);
/* Appends to out; bounded (PROTO_MAX_RESOLUTION elements). */
int proto_read_resolution(struct proto_conn *c, struct vfs_list *out);
#define PROTO_MAX_RESOLUTION 4096
/* An IOError: errno (0: none), message (NULL: none), terminus (NULL). */
int proto_write_ioerror(struct proto_conn *c, int err_no, const char *msg,
			const struct vfs_list *terminus);
/* *has_terminus tells whether terminus was filled. */
int proto_read_ioerror(struct proto_conn *c, int *err_no, struct buf *msg,
		       struct vfs_list *terminus, int *has_terminus);

#endif
