/* Growable byte buffer (buf.h). */
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char buf_empty[1];

void buf_init(struct buf *b, size_t hint)
{
	b->alloc = 0;
	b->len = 0;
	b->data = buf_empty;
	if (hint)
		buf_grow(b, hint);
}

void buf_release(struct buf *b)
{
	if (b->alloc)
		free(b->data);
	buf_init(b, 0);
}

void buf_grow(struct buf *b, size_t extra)
{
	size_t want = st_add(st_add(b->len, extra), 1);
	int fresh = b->alloc == 0;

	if (want <= b->alloc)
		return;
	if (fresh)
		b->data = NULL;
	if (want < b->alloc + b->alloc / 2)
		want = b->alloc + b->alloc / 2;
	if (want < 64)
		want = 64;
	b->data = xrealloc(b->data, want);
	b->alloc = want;
	if (fresh)
		b->data[0] = '\0';
}

void buf_setlen(struct buf *b, size_t len)
{
	if (len > (b->alloc ? b->alloc - 1 : 0))
		BUG("buf_setlen beyond allocation");
	b->len = len;
	if (b->alloc)
		b->data[len] = '\0';
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (len)
		*len = b->len;
	if (!b->alloc)
		buf_grow(b, 0);
	p = b->data;
	buf_init(b, 0);
	return p;
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	if (!len)
		return;
	buf_grow(b, len);
	memcpy(b->data + b->len, data, len);
	buf_setlen(b, b->len + len);
}

void buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addch(struct buf *b, int c)
{
	buf_grow(b, 1);
	b->data[b->len] = (char)c;
	buf_setlen(b, b->len + 1);
}

void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(b->data + b->len, b->alloc ? b->alloc - b->len : 0,
		      fmt, cp);
	va_end(cp);
	if (n < 0)
		BUG("vsnprintf failed");
	if ((size_t)n >= (b->alloc ? b->alloc - b->len : 0)) {
		buf_grow(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->alloc - b->len, fmt, ap);
	}
	buf_setlen(b, b->len + (size_t)n);
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void buf_remove(struct buf *b, size_t pos, size_t len)
{
	if (pos > b->len || len > b->len - pos)
		BUG("buf_remove out of range");
	memmove(b->data + pos, b->data + pos + len, b->len - pos - len);
	buf_setlen(b, b->len - len);
}

int buf_read_fd(struct buf *b, int fd)
{
	size_t old = b->len;
	for (;;) {
		ssize_t n;
		buf_grow(b, 65536);
		n = read(fd, b->data + b->len, b->alloc - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			buf_setlen(b, old);
			return -1;
		}
		if (n == 0)
			return 0;
		buf_setlen(b, b->len + (size_t)n);
	}
}

int buf_read_file(struct buf *b, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret, saved;

	if (fd < 0)
		return -1;
	ret = buf_read_fd(b, fd);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

void buf_vsendf(void (*fn)(void *ctx, const char *text), void *ctx,
		const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	if (!fn)
		return;
	buf_vaddf(&b, fmt, ap);
	fn(ctx, b.data);
	buf_release(&b);
}

void buf_sendf(void (*fn)(void *ctx, const char *text), void *ctx,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(fn, ctx, fmt, ap);
	va_end(ap);
}

/* buf_callf() and buf_progressf(): their callbacks as buf_vsendf()'s */
struct buf_call {
	void (*text_fn)(const char *text);
	void (*progress_fn)(int rate_limited, const char *line);
	int rate_limited;
};

static void buf_call(void *ctx, const char *text)
{
	const struct buf_call *c = ctx;

	if (c->text_fn)
		c->text_fn(text);
	else
		c->progress_fn(c->rate_limited, text);
}

void buf_callf(void (*fn)(const char *text), const char *fmt, ...)
{
	struct buf_call c = { fn, NULL, 0 };
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(fn ? buf_call : NULL, &c, fmt, ap);
	va_end(ap);
}

void buf_progressf(void (*fn)(int rate_limited, const char *line),
		   int rate_limited, const char *fmt, ...)
{
	struct buf_call c = { NULL, fn, rate_limited };
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(fn ? buf_call : NULL, &c, fmt, ap);
	va_end(ap);
}
