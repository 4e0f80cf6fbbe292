/*
 * The remote end of bup's protocol (FORMAT.md 7): one session, read
 * from one descriptor and answered on another, until the client quits
 * or the connection ends.  `cbup server` runs it on stdin/stdout (under
 * ssh, a local pipe, `bup on`'s reverse tunnel or `cbup daemon`'s mux).
 *
 * Never exits and never prints: lines meant for the server's stderr
 * (bup's "bup server: ..." debug lines, errors, the wait for a gc)
 * reach the caller through log(), and a failure that ends the session
 * is told to the client ("\nerror ...\n") and returned.
 */
#ifndef CBUP_SERVER_H
#define CBUP_SERVER_H

struct packwriter;

struct server_opts {
	int in_fd, out_fd;
	/*
	 * The repository used when the client names none (bup's
	 * guess_repo: BUP_DIR, else ~/.bup), resolved by the caller.
	 */
	const char *default_repo;
	/*
	 * With a root (the daemon's CBUP_DAEMON_ROOT, already resolved by
	 * realpath), every repository the client names must resolve
	 * inside it; NULL: any path, as bup.
	 */
	const char *root;
	int debug;              /* BUP_DEBUG: 1 and 2 add bup's lines */
	int threads;            /* received objects are verified on these */
	/* one whole line for stderr, newline included */
	void (*log)(void *ctx, const char *line);
	/* the pack writer's midx/bloom upkeep progress (packwriter_opts) */
	void (*upkeep_progress)(int rate_limited, const char *line);
	/*
	 * The writer holding a transfer that has not been closed yet (NULL
	 * once there is none): a caller that may be stopped by a signal
	 * aborts it then, so that no pack of a half transfer remains.
	 */
	void (*pending)(void *ctx, struct packwriter *w);
	/* a repository was opened (children such as git run there) */
	void (*opened)(void *ctx, const char *path);
	void *ctx;
};

/* server_run()'s results besides 0 (the client quit or hung up) */
#define SERVER_FAILED 1 /* the session ended on an error (logged, told) */
#define SERVER_IDLE 2   /* nothing came for the input's receive timeout */

int server_run(const struct server_opts *o);

#endif
