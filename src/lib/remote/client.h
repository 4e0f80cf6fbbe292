/*
 * The client side of bup's server protocol (FORMAT.md 7): connecting to
 * a repository named by -r (ssh, a local server, or bup on's reverse
 * tunnel), keeping the cache of the server's idx files, writing objects
 * through an objsink that streams receive-objects-v2, and reading refs,
 * objects and VFS resolutions back.
 *
 * Connections (the environment named here reaches the library through
 * struct client_opts, filled by the command layer: cli_client_open):
 *   "host:path", "ssh://host[:port]/path"
 *       `ssh [-p PORT] HOST -- sh -c 'BUP_DEBUG=n BUP_FORCE_TTY=n bup
 *       server'`, as bup.  CBUP_SSH replaces "ssh" (one program name);
 *       CBUP_REMOTE_BUP replaces the remote "bup".
 *   ":path", "-:path", "path", "file://..."
 *       our own binary's `server` subcommand locally, or the program
 *       named by CBUP_REMOTE_BUP (e.g. "bup", to talk to real bup).
 *   remote == NULL with BUP_SERVER_REVERSE set
 *       reverse mode: fds 3 (from the server) and 4 (to it).
 *   "bup://..." (bup daemon) is not supported: ERR_USAGE.
 *
 * The index cache is BUP_DIR/index-cache/<host:path with [^A-Za-z0-9_@]
 * replaced by '_'>/ (7.1).  A struct client is used by one thread.
 * Errors: negative codes with err_last(); a message the server sent
 * with "\nerror ...\n" comes back as ERR_GENERIC with that text.
 */
#ifndef CBUP_CLIENT_H
#define CBUP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include "util/buf.h"
#include "store/objsink.h"
#include "util/zlib.h"
#include "util/oid.h"
#include "store/packwriter.h"
#include "remote/proto.h"
#include "store/refs.h"

struct odb;
struct vfs_list;

struct client {
	struct proto_conn conn;
	pid_t pid;              /* the ssh or server process, or -1 */
	int in_fd, out_fd;
	/* bup://: the socket is out_fd; in_fd a pipe fed by this thread */
	pthread_t demux;
	int has_demux, demux_w;
	char *protocol, *host, *port, *dir;
	char *cachedir;
	char **commands;        /* from `help` */
	size_t nr_commands;
	struct odb *cache;      /* existence over cachedir (NULL: empty) */
	const char *busy;       /* command in progress, bup's _busy */
	int broken;             /* the connection is out of sync */
	struct buf resolve_err; /* client_resolve_error() */
	/* struct client_opts' hooks */
	void (*progress)(int rate_limited, const char *line);
	void (*upkeep_progress)(int rate_limited, const char *line);
};

/*
 * bup's parse_remote(): protocol ("ssh", "file" or "bup"), host, port
 * and path, each NULL when absent (caller frees).  ERR_USAGE for an
 * unknown protocol ("unexpected protocol: X").
 */
int client_parse_remote(const char *remote, char **protocol, char **host,
			char **port, char **path);

/*
 * Where bup's client prints "Receiving index from server: %d/%d\r"
 * while it fetches an idx (sync_index): the hook gets each line, with
 * rate_limited 1 where bup calls qprogress() (at most one line per
 * 0.1 s) and 0 where it calls progress(); printing, and only when
 * stderr is a terminal, is the caller's business.
 */
typedef void (*client_progress_fn)(int rate_limited, const char *line);

struct client_opts {
	/* The index-transfer lines above; NULL: none. */
	client_progress_fn progress;
	/*
	 * The same kind of hook for the lines of the midx and bloom
	 * upkeep on the index cache after idx files arrived (bup's
	 * git.auto_midx, which runs `bup midx --auto` and `bup bloom` as
	 * child processes): see midx_opts.progress and
	 * bloom_update_ex().  NULL: none.
	 */
	client_progress_fn upkeep_progress;
	/*
	 * What bup's client takes from its environment, read by the
	 * caller (the library reads none): CBUP_SSH and CBUP_REMOTE_BUP
	 * (NULL or "": "ssh" and "bup"); BUP_SERVER_REVERSE (the host
	 * name, NULL outside reverse mode); BUP_DEBUG, BUP_FORCE_TTY and
	 * BUP_TTY_WIDTH as numbers, passed on to an ssh server's command
	 * line (BUP_TTY_WIDTH only if has_tty_width).  The strings need
	 * to live only as long as the client_open() call.
	 */
	const char *ssh, *remote_bup, *reverse;
	int debug, force_tty, has_tty_width, tty_width;
};

/*
 * Connect.  bupdir is the local repository (for the index cache);
 * create sends init-dir instead of set-dir.  remote NULL means reverse
 * mode (opts->reverse must be set).  opts NULL: all defaults.  On
 * success the server's indexes are synchronised into the cache.
 */
int client_open(struct client **out, const char *remote, const char *bupdir,
		int create, const struct client_opts *opts);
/*
 * Send quit, wait for the server; ERR_GENERIC ("server tunnel returned
 * exit code N") if it failed.  Frees the client.
 */
int client_close(struct client *c);
/*
 * Drop the connection without quit (the server then discards any
 * unfinished pack) and free.  For error paths.
 */
void client_abort(struct client *c);

int client_has_command(const struct client *c, const char *name);

/* 0 with the id, or ERR_NOTFOUND (the server's read-ref, heads only). */
int client_read_ref(struct client *c, const char *refname, struct oid *out);
/* old NULL: the ref must not exist yet. */
int client_update_ref(struct client *c, const char *refname,
		      const struct oid *new_oid, const struct oid *old_oid);

/*
 * The joined content of a ref or id (cat/join): fn is called for each
 * piece.  ERR_NOTFOUND with the server's message when it is missing.
 * An error returned by fn stops the transfer and breaks the connection.
 */
typedef int (*client_data_fn)(void *ctx, const void *data, size_t len);
int client_join(struct client *c, const char *ref, client_data_fn fn,
		void *ctx);
/* One object through cat-batch: ERR_NOTFOUND if missing. */
int client_cat(struct client *c, const char *ref, struct oid *oid,
	       enum obj_type *type, struct buf *out);
/* `refs`: every ref matching the patterns (none: all), heads/tags only. */
int client_refs(struct client *c, const char *const *patterns, size_t nr,
		int heads, int tags, refs_each_fn fn, void *ctx);
/* git rev-list output (with --pretty=format:FORMAT if non-NULL). */
int client_rev_list(struct client *c, const char *const *refs, size_t nr,
		    const char *format, struct buf *out);
/*
 * vfs_resolve() on the server: same arguments and results (out gets
 * the resolution, or the terminus of an ENOTDIR/ELOOP error, which is
 * returned as ERR_GENERIC with *err_no set and the server's message).
 */
int client_resolve(struct client *c, const char *path,
		   const struct vfs_list *parent, int want_meta, int follow,
		   struct vfs_list *out, int *err_no);
/*
 * The whole message of the last client_resolve() VFS error as the server
 * sent it (bup's IOError.strerror, without "[Errno N] "; err_last() may
 * be truncated); "" if the last call had none.
 */
const char *client_resolve_error(const struct client *c);

/*
 * A vfs over the server's repository (bup's RemoteRepo; vfs.h): every
 * read goes to the server (cat-batch, refs, rev-list, join, resolve),
 * so c must stay open, and idle between calls, until vfs_free().  The
 * same calls, items and errors as a local vfs.  client_vfs.c.
 */
struct vfs;
int client_vfs_new(struct vfs **out, struct client *c);

/* Fetch one idx from the server into the cache (send-index). */
int client_sync_index(struct client *c, const char *name);

/*
 * The remote pack writer: an objsink that compresses each new object
 * (zlib level as packwriter) and sends it in receive-objects-v2,
 * skipping objects the cache or this session already has, following
 * the server's "index" suggestions, and ending the command at the pack
 * limits so the server finishes a pack (bup's PackWriter_Remote).
 */
struct client_writer;
struct client_writer_opts {
	int level;              /* zlib level; bup's default 1 */
	enum zlib_impl impl;    /* as the repository's cbup.compressor */
	uint64_t max_size;      /* 0: pack.packSizeLimit default 1e9 */
	uint64_t max_objects;   /* 0: max(1, max_size / 5000) */
	/*
	 * Bytes per second on the wire, 0 for no limit (bup's --bwlimit):
	 * object frames go out in 4 KiB pieces, each after the time the
	 * previous piece is worth at this rate (bup's _raw_write_bwlimit).
	 */
	uint64_t bwlimit;
	/*
	 * Compression workers (zpool.h), 0 for none: objects are then
	 * compressed and sent on the calling thread.  Either way frames go
	 * out in write order, from the calling thread only.
	 */
	int threads;
};
/*
 * The remote writer with the local one's choices (level, compressor,
 * pack limits, workers): what save, split and get send is what they
 * would have written locally.  No bandwidth limit.
 */
void client_writer_opts_from(struct client_writer_opts *co,
			     const struct packwriter_opts *po);
int client_writer_new(struct client_writer **out, struct client *c,
		      const struct client_writer_opts *opts);
struct objsink *client_writer_sink(struct client_writer *w);
/*
 * Send an object already in pack form (header + zlib stream, as
 * odb_read_raw gives it) without compressing it again; skipped like
 * the sink's writes when the server has it.  The CRC is checked.
 */
int client_writer_write_raw(struct client_writer *w, const struct oid *oid,
			    const void *packed, size_t len, uint32_t crc);
/* End the current pack (if any) on the server and fetch its idx. */
int client_writer_flush(struct client_writer *w);
/* Flush and free.  Returns 0 or the first error. */
int client_writer_close(struct client_writer *w);
/* Free without finishing; the caller must then client_abort(). */
void client_writer_abort(struct client_writer *w);
struct client_writer_stats {
	uint64_t objects, bytes_out, packs;
};
void client_writer_get_stats(const struct client_writer *w,
			     struct client_writer_stats *st);

#endif
