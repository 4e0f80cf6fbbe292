/*
 * struct buf: a growable byte buffer (git's strbuf invariants).
 *
 * - data is never NULL: BUF_INIT points it at a shared empty string, so
 *   a fresh buffer can be printed or compared without a check;
 * - data[len] is always '\0', so text can be used as a C string (binary
 *   content may still contain NULs);
 * - alloc == 0 means nothing is owned yet.
 */
#ifndef CBUP_BUF_H
#define CBUP_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/util.h"

struct buf {
	size_t alloc;
	size_t len;
	char *data;
};

extern char buf_empty[];
#define BUF_INIT { 0, 0, buf_empty }

void buf_init(struct buf *b, size_t hint);
/* Frees the contents; the buffer is BUF_INIT afterwards. */
void buf_release(struct buf *b);
/* Make room for at least `extra` more bytes beyond len. */
void buf_grow(struct buf *b, size_t extra);
/* Set len (must be <= alloc - 1 after a grow) and terminate. */
void buf_setlen(struct buf *b, size_t len);
static inline void buf_reset(struct buf *b) { buf_setlen(b, 0); }
/* Hand the data to the caller (who frees it); the buffer is reset. */
char *buf_detach(struct buf *b, size_t *len);

void buf_add(struct buf *b, const void *data, size_t len);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, int c);
void buf_addf(struct buf *b, const char *fmt, ...) PRINTF(2, 3);
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/*
 * Format into a buffer of its own and hand the text to fn(ctx, text);
 * nothing when fn is NULL.  How a module passes a message to its
 * caller's callback.
 */
void buf_sendf(void (*fn)(void *ctx, const char *text), void *ctx,
	       const char *fmt, ...) PRINTF(3, 4);
void buf_vsendf(void (*fn)(void *ctx, const char *text), void *ctx,
		const char *fmt, va_list ap);
/*
 * The same for the callbacks without a context that the store's
 * writers take: a message, fn(text), or a progress line, fn(rate_limited,
 * line) (rate_limited: 1 where bup calls qprogress(), 0 for progress()).
 */
void buf_callf(void (*fn)(const char *text), const char *fmt, ...)
	PRINTF(2, 3);
void buf_progressf(void (*fn)(int rate_limited, const char *line),
		   int rate_limited, const char *fmt, ...) PRINTF(3, 4);
/* Remove `len` bytes starting at `pos`. */
void buf_remove(struct buf *b, size_t pos, size_t len);

/*
 * Append a whole file.  Returns 0, or -1 with errno set (and the buffer
 * unchanged in length).
 */
int buf_read_file(struct buf *b, const char *path);
int buf_read_fd(struct buf *b, int fd);

#endif
