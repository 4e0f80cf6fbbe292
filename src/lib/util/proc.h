/*
 * Running another program and waiting for it: posix_spawnp (PATH
 * search, never a shell), with the child's descriptors wired as asked,
 * and what it writes to some of them captured.  Used where bup runs a
 * helper program (par2, rdiff-backup, duplicity) or a bup subcommand.
 */
#ifndef CBUP_PROC_H
#define CBUP_PROC_H

#include <stddef.h>

#include "util/buf.h"

/*
 * One descriptor of the child, set up in the order given: with
 * `capture`, a pipe whose bytes are appended there (entries naming the
 * same buffer share one pipe, so their bytes keep the order they were
 * written in); otherwise a copy of our descriptor `from` (dup2).
 */
struct proc_fd {
	int child;
	struct buf *capture;
	int from;
};

/*
 * Run argv in cwd (NULL: ours) with fds[0..nr) set up, wait for it, and
 * set *status to its exit code (128 + signal when a signal ended it).
 * Returns 0, ERR_NOTFOUND when argv[0] is not found, ERR_IO otherwise.
 */
int proc_run(const char *const *argv, const char *cwd,
	     const struct proc_fd *fds, size_t nr, int *status);

/* The running program's own path (/proc/self/exe), caller frees. */
char *proc_self_exe(void);

#endif
