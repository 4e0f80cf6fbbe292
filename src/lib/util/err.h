/*
 * Error reporting inside the core (libgit2's model): functions return 0
 * on success or a negative code; the message lives in a thread-local
 * slot set by err_set() and read back with err_last().  The core never
 * prints and never exits; cmd/ decides what to tell the user.
 */
#ifndef CBUP_ERR_H
#define CBUP_ERR_H

#include "util/util.h"

enum err_code {
	ERR_OK = 0,
	ERR_GENERIC = -1,
	ERR_NOTFOUND = -2,  /* object, ref, file or entry does not exist */
	ERR_CORRUPT = -3,   /* bytes on disk or on the wire are malformed */
	ERR_EXISTS = -4,
	ERR_LOCKED = -5,    /* a lock file is held by someone else */
	ERR_IO = -6,        /* a system call failed; message has strerror */
	ERR_USAGE = -7,     /* caller passed something invalid */
};

/* Set the message and return `code`, so callers can `return err_set(..)`. */
int err_set(int code, const char *fmt, ...) PRINTF(2, 3);
/* Like err_set with ERR_IO, appending ": strerror(errno)". */
int err_errno(const char *fmt, ...) PRINTF(1, 2);
/*
 * ERR_CORRUPT with the message "NAME: corrupt KIND: DETAIL", DETAIL
 * formatted from fmt: damaged input named by its file and what it is
 * meant to be ("midx", "bloom").  A format's corruption helper is this
 * with its KIND (midx_corrupt(), bloom_corrupt()).
 */
int err_corrupt(const char *name, const char *kind, const char *fmt, ...)
	PRINTF(3, 4);
/* The last message of this thread ("" if none). */
const char *err_last(void);
int err_last_code(void);
void err_clear(void);

#endif
