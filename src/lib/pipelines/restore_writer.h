/*
 * The restore's writer thread: a bounded queue of jobs on files the
 * caller has made and opened, run in order on one thread.
 *
 * Restoring is reading objects (inflate: user time) and making files
 * (creat, write, close, times, owner: kernel time); on one thread the
 * two add up.  The walk (restore.c) stays on the caller's thread: it
 * makes every file and directory (so names, order and errors stay as
 * bup's) and reads the content; the writer gets the open fd with
 * gathered data (restore_writer_data), then a "finish"
 * (restore_writer_finish) that calls the caller's finish function
 * (metadata through the fd) and closes the fd.  Only calls on that fd
 * run on the writer thread.  Jobs of one file must be contiguous; the
 * queue holds RESTORE_WRITER_SLOTS jobs and the caller waits while it is
 * full, so memory stays bounded by the buffers handed over.
 *
 * A failed write (or close) is kept, with a message naming the file,
 * until the caller asks (restore_writer_failed), and the rest of that
 * file's jobs are skipped; restore_writer_free() waits for every job,
 * joins the thread and returns a failure not yet taken.  The finish
 * function runs on the writer thread: whatever it reports must be
 * thread-safe.  All other functions are for the one thread that made
 * the writer.
 */
#ifndef CBUP_RESTORE_WRITER_H
#define CBUP_RESTORE_WRITER_H

#include "util/buf.h"

struct meta;
struct restore_writer;

#define RESTORE_WRITER_SLOTS 4

/* Called on the writer thread before fd is closed, when apply was set. */
typedef void (*restore_writer_finish_fn)(void *data, int fd,
					 const struct meta *m,
					 const char *name);

/*
 * Start the thread.  ERR_GENERIC when it cannot be started: the caller
 * then does everything on its own thread.
 */
int restore_writer_new(struct restore_writer **out,
		       restore_writer_finish_fn finish, void *data);

/*
 * Queue data for fd (a buffer swap, no copy: *data comes back as an
 * empty buffer that the writer used before).  name is for messages.
 */
void restore_writer_data(struct restore_writer *w, int fd, struct buf *data,
			 const char *name);

/* Queue the end of fd: finish(m) when apply, then close(fd). */
void restore_writer_finish(struct restore_writer *w, int fd,
			   const struct meta *m, const char *name, int apply);

/* The first failure not yet taken, as this thread's error (ERR_IO), or 0. */
int restore_writer_failed(struct restore_writer *w);

/*
 * Wait for every job, join the thread and free w (NULL is a no-op);
 * returns a failure not yet taken, as restore_writer_failed().
 */
int restore_writer_free(struct restore_writer *w);

#endif
