/*
 * Small helpers every module uses: allocation that dies on OOM (git's
 * xmalloc), overflow-checked size arithmetic for sizes read from disk or
 * the network (git's st_add/st_mult), BUG() for programming errors, and
 * big-endian load/store for the on-disk formats (FORMAT.md: everything is
 * network order).
 */
#ifndef CBUP_UTIL_H
#define CBUP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__)
#define NORETURN __attribute__((noreturn))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define UNUSED __attribute__((unused))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define NORETURN
#define PRINTF(f, a)
#define UNUSED
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xmalloc() at an alignment (a power of two, a multiple of a pointer). */
void *xmalloc_aligned(size_t align, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
/* Returns a newly allocated printf-formatted string. */
char *xstrfmt(const char *fmt, ...) PRINTF(1, 2);

NORETURN void util_bug(const char *file, int line, const char *fmt, ...)
	PRINTF(3, 4);
#define BUG(...) util_bug(__FILE__, __LINE__, __VA_ARGS__)

/*
 * Die with "fatal: size overflow" rather than wrap: for sizes the
 * program computed itself, where an overflow is a bug.
 */
size_t st_add(size_t a, size_t b);
size_t st_mult(size_t a, size_t b);

/*
 * The checked forms, for sizes taken from a file or the network, where
 * an overflow is hostile or damaged input that the caller reports as
 * such (ERR_CORRUPT naming the file): 0 with the result in *out, or -1
 * on overflow (*out is then unspecified).
 */
static inline int st_add_checked(size_t *out, size_t a, size_t b)
{
	return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

static inline int st_mult_checked(size_t *out, size_t a, size_t b)
{
	return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

/*
 * qsort that accepts an empty (possibly NULL) array: qsort(NULL, 0, ...)
 * is undefined behaviour, which UBSan reports (git's QSORT).
 */
#define QSORT(base, n, cmp)                                              \
	do {                                                             \
		if ((n) > 0)                                             \
			qsort((base), (n), sizeof(*(base)), (cmp));      \
	} while (0)

/* Grow a typed array: ALLOC_GROW(items, nr + 1, alloc). */
#define ALLOC_GROW(x, nr, alloc)                                         \
	do {                                                             \
		if ((nr) > (alloc)) {                                    \
			size_t alloc_grow_n_ = (alloc) < 16 ? 16 : (alloc); \
			while (alloc_grow_n_ < (size_t)(nr))             \
				alloc_grow_n_ = st_mult(alloc_grow_n_, 2); \
			(x) = xrealloc((x), st_mult(sizeof(*(x)),        \
						    alloc_grow_n_));     \
			(alloc) = alloc_grow_n_;                         \
		}                                                        \
	} while (0)

static inline uint32_t get_be32(const void *p)
{
	const unsigned char *b = p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static inline uint16_t get_be16(const void *p)
{
	const unsigned char *b = p;
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint64_t get_be64(const void *p)
{
	const unsigned char *b = p;
	return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}

static inline void put_be32(void *p, uint32_t v)
{
	unsigned char *b = p;
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

static inline void put_be16(void *p, uint16_t v)
{
	unsigned char *b = p;
	b[0] = v >> 8;
	b[1] = v;
}

static inline void put_be64(void *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32((unsigned char *)p + 4, (uint32_t)v);
}

/* The value of a hexadecimal digit (either case), or -1. */
static inline int util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Monotonic time in seconds, for progress and benchmarks. */
double util_now(void);

/* 1 if the string s ends in suffix. */
static inline int str_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !memcmp(s + a - b, suffix, b);
}

/*
 * Full-length I/O: retry on EINTR and short transfers.  Return 0 on
 * success, -1 with errno set on failure (read_full: returns bytes read,
 * which is short only at EOF, or -1).
 */
int write_full(int fd, const void *buf, size_t len);
long long read_full(int fd, void *buf, size_t len);
int pread_full(int fd, void *buf, size_t len, uint64_t off);
/* (pwrite's: the prefix that later names take, historic ones lack) */
int util_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* Unsafe libc calls are compile errors everywhere (git's banned.h). */
#include "util/banned.h"

#endif
