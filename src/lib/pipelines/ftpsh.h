/*
 * bup ftp's shell over the VFS (bup 0.33.7's cmd/ftp.py, FORMAT.md
 * 6.2): ls, cd, pwd, cat, get, mget, help, quit on lines split as bup's
 * shquote, and bup's completion of repository paths.  Where the text
 * goes is the caller's (struct ftpsh_io); the terminal (readline) too.
 *
 * bup's own failures stay failures: what raises a Python exception in
 * bup (an unknown command, an empty line after quotes, a path through
 * a non-directory, cat or get of a directory, a local file that cannot
 * be written) ends the session: ftpsh_run_line() returns FTPSH_FATAL
 * with err_last() set, for the caller to print instead of bup's
 * traceback.  CommandError messages go to the output, as bup writes
 * them.
 */
#ifndef CBUP_FTPSH_H
#define CBUP_FTPSH_H

#include <stddef.h>

#include "util/buf.h"

struct vfs;
struct ftpsh;

struct ftpsh_io {
	/* bytes for stdout */
	void (*out)(void *ctx, const void *data, size_t len);
	/* text for stderr (bup's log(): "Saving ...", ls's usage) */
	void (*log)(void *ctx, const char *text);
	void *ctx;
	int tty;        /* stdout is a terminal: ls columnates */
	int width;      /* the terminal's width */
};

enum { FTPSH_OK = 0, FTPSH_QUIT = 1, FTPSH_FATAL = -1 };

/* A session at the VFS root over v (borrowed). 0 or an error. */
int ftpsh_new(struct ftpsh **out, struct vfs *v, const struct ftpsh_io *io);
void ftpsh_free(struct ftpsh *f);

/* Run one line: FTPSH_OK, FTPSH_QUIT, or FTPSH_FATAL (err_last()). */
int ftpsh_run_line(struct ftpsh *f, const char *line, size_t len);

/* The working directory as the prompt shows it ("/" at the root). */
void ftpsh_pwd(struct ftpsh *f, struct buf *out);

/*
 * bup's enter_completion(text, state) for the line up to the cursor:
 * with state 0 the candidates are computed again.  Returns 1 and sets
 * *add to what to append to the word being completed (its quoting
 * closed and a space added for a file; a '/' for a directory), or 0
 * when there is no candidate `state`.
 */
int ftpsh_complete(struct ftpsh *f, const char *line, int state,
		   struct buf *add);

#endif
