/*
 * Python's posixpath and repr() for bytes paths (pypath.h).  The
 * algorithms are those of CPython 3.11's Lib/posixpath.py and
 * Objects/bytesobject.c / unicodeobject.c repr, which bup 0.33.7 runs
 * on; t/vectors/gen-pypath records what Python answers.
 */
#include "util/pypath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"

void pypath_normpath(struct buf *out, const char *path)
{
	size_t start = out->len, base, ncomp = 0;
	int slashes = 0;
	const char *s = path;

	if (!*path) {
		buf_addch(out, '.');
		return;
	}
	if (path[0] == '/')
		slashes = path[1] == '/' && path[2] != '/' ? 2 : 1;
	for (int i = 0; i < slashes; i++)
		buf_addch(out, '/');
	base = out->len;
	while (*s) {
		const char *e = strchrnul(s, '/');
		size_t n = (size_t)(e - s);
		int dotdot = n == 2 && s[0] == '.' && s[1] == '.';
		/* ncomp > 0 and the last kept component is ".." */
		int after_dotdot = ncomp && out->len - base >= 2 &&
			!memcmp(out->data + out->len - 2, "..", 2) &&
			(out->len - base == 2 ||
			 out->data[out->len - 3] == '/');

		if (!n || (n == 1 && s[0] == '.')) {
			/* "//" and "." vanish */
		} else if (!dotdot || (!slashes && !ncomp) || after_dotdot) {
			if (ncomp)
				buf_addch(out, '/');
			buf_add(out, s, n);
			ncomp++;
		} else if (ncomp) {
			/* ".." drops the last component */
			char *sl = memrchr(out->data + base, '/',
					   out->len - base);
			buf_setlen(out, sl ? (size_t)(sl - out->data) : base);
			ncomp--;
		}
		/* (a ".." at the root of an absolute path is dropped) */
		s = *e ? e + 1 : e;
	}
	if (out->len == start)
		buf_addch(out, '.');
}

/* posixpath.join(a, b) into a: b replaces a when absolute. */
static void join_into(struct buf *a, const char *b, size_t blen)
{
	if (blen && b[0] == '/')
		buf_reset(a);
	else if (a->len && a->data[a->len - 1] != '/')
		buf_addch(a, '/');
	buf_add(a, b, blen);
}

int pypath_abspath(struct buf *out, const char *path)
{
	struct buf tmp = BUF_INIT;
	int ret = 0;

	if (path[0] == '/') {
		pypath_normpath(out, path);
		return 0;
	}
	{
		char *cwd = getcwd(NULL, 0);
		if (!cwd) {
			ret = err_errno("cannot get the current directory");
			buf_addch(&tmp, '/');
		} else {
			buf_addstr(&tmp, cwd);
			free(cwd);
		}
	}
	join_into(&tmp, path, strlen(path));
	pypath_normpath(out, tmp.data);
	buf_release(&tmp);
	return ret;
}

void pypath_split(const char *path, size_t len, size_t *head_len,
		  size_t *tail_ofs)
{
	size_t i = len, h;

	while (i && path[i - 1] != '/')
		i--;
	*tail_ofs = i;
	h = i;
	while (h && path[h - 1] == '/')
		h--;
	/* a head of slashes only ("/", "//x") keeps them all */
	*head_len = h ? h : i;
}

/* The symlinks _joinrealpath() has met: target NULL while resolving. */
struct seen {
	struct seen_entry {
		char *link, *target;
	} *e;
	size_t nr, alloc;
};

static struct seen_entry *seen_find(struct seen *s, const char *link)
{
	for (size_t i = 0; i < s->nr; i++)
		if (!strcmp(s->e[i].link, link))
			return &s->e[i];
	return NULL;
}

/*
 * _joinrealpath(path, rest, strict=False, seen): path is resolved
 * already; returns 1 when all of rest was resolved, 0 when a loop left
 * it as is (path then holds the unresolved remainder joined).
 */
static int join_realpath(struct buf *path, const char *rest,
			 struct seen *seen)
{
	struct buf newpath = BUF_INIT, target = BUF_INIT;
	int ok = 1;

	if (rest[0] == '/') {
		rest++;
		buf_reset(path);
		buf_addch(path, '/');
	}
	while (*rest) {
		const char *e = strchrnul(rest, '/'), *name = rest;
		size_t n = (size_t)(e - rest);
		struct seen_entry *se;
		struct stat st;
		ssize_t tn;

		rest = *e ? e + 1 : e;
		if (!n || (n == 1 && name[0] == '.'))
			continue;
		if (n == 2 && name[0] == '.' && name[1] == '.') {
			if (path->len) {
				size_t hl, to;
				int up;

				pypath_split(path->data, path->len, &hl, &to);
				up = path->len - to == 2 &&
				     !memcmp(path->data + to, "..", 2);
				buf_setlen(path, hl);
				if (up) {
					join_into(path, "..", 2);
					join_into(path, "..", 2);
				}
			} else {
				buf_addstr(path, "..");
			}
			continue;
		}
		buf_reset(&newpath);
		buf_add(&newpath, path->data, path->len);
		join_into(&newpath, name, n);
		if (lstat(newpath.data, &st) || !S_ISLNK(st.st_mode)) {
			/* missing components are kept as written */
			buf_reset(path);
			buf_add(path, newpath.data, newpath.len);
			continue;
		}
		if ((se = seen_find(seen, newpath.data))) {
			if (se->target) {
				buf_reset(path);
				buf_addstr(path, se->target);
				continue;
			}
			/* a loop: the rest stays as written */
			buf_reset(path);
			buf_add(path, newpath.data, newpath.len);
			join_into(path, rest, strlen(rest));
			ok = 0;
			goto out;
		}
		buf_reset(&target);
		buf_grow(&target, st.st_size > 0 ? (size_t)st.st_size + 1 :
				  256);
		for (;;) {
			tn = readlink(newpath.data, target.data,
				      target.alloc - 1);
			if (tn < 0 || (size_t)tn < target.alloc - 1)
				break;
			buf_grow(&target, target.alloc);
		}
		if (tn < 0) {
			/* (Python raises here; what lstat saw is kept) */
			buf_reset(path);
			buf_add(path, newpath.data, newpath.len);
			continue;
		}
		buf_setlen(&target, (size_t)tn);
		ALLOC_GROW(seen->e, seen->nr + 1, seen->alloc);
		seen->e[seen->nr].link = xstrdup(newpath.data);
		seen->e[seen->nr].target = NULL;
		seen->nr++;
		if (!join_realpath(path, target.data, seen)) {
			join_into(path, rest, strlen(rest));
			ok = 0;
			goto out;
		}
		se = seen_find(seen, newpath.data);
		se->target = xstrdup(path->data);
	}
out:
	buf_release(&newpath);
	buf_release(&target);
	return ok;
}

int pypath_realpath(struct buf *out, const char *path)
{
	struct buf p = BUF_INIT;
	struct seen seen = { 0 };
	int ret;

	join_realpath(&p, path, &seen);
	ret = pypath_abspath(out, p.data);
	for (size_t i = 0; i < seen.nr; i++) {
		free(seen.e[i].link);
		free(seen.e[i].target);
	}
	free(seen.e);
	buf_release(&p);
	return ret;
}

int pypath_resolve_parent(struct buf *out, const char *path)
{
	struct stat st;
	struct buf head = BUF_INIT;
	size_t hl, to, start = out->len;
	int ret;

	if (lstat(path, &st) || !S_ISLNK(st.st_mode))
		return pypath_realpath(out, path);
	pypath_split(path, strlen(path), &hl, &to);
	buf_add(&head, path, hl);
	/* realpath("") is the working directory */
	ret = pypath_realpath(out, head.data);
	buf_release(&head);
	/* join(): the tail is never absolute, the head is */
	if (out->len > start && out->data[out->len - 1] != '/')
		buf_addch(out, '/');
	buf_addstr(out, path + to);
	return ret;
}

/* The quote repr() picks: " when the text has a ' and no ". */
static char repr_quote(const void *data, size_t len)
{
	return memchr(data, '\'', len) && !memchr(data, '"', len) ? '"' : '\'';
}

/* One ASCII character as both reprs write it. */
static void add_ascii(struct buf *out, unsigned c, char q)
{
	if (c == '\\' || c == (unsigned char)q) {
		buf_addch(out, '\\');
		buf_addch(out, (int)c);
	} else if (c == '\t') {
		buf_addstr(out, "\\t");
	} else if (c == '\n') {
		buf_addstr(out, "\\n");
	} else if (c == '\r') {
		buf_addstr(out, "\\r");
	} else if (c < 0x20 || c == 0x7f) {
		buf_addf(out, "\\x%02x", c);
	} else {
		buf_addch(out, (int)c);
	}
}

void pypath_bytes_repr(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	char q = repr_quote(data, len);

	buf_addch(out, 'b');
	buf_addch(out, q);
	for (size_t i = 0; i < len; i++) {
		if (p[i] >= 0x80)
			buf_addf(out, "\\x%02x", p[i]);
		else
			add_ascii(out, p[i], q);
	}
	buf_addch(out, q);
}

size_t pypath_utf8_decode(const void *data, size_t avail, uint32_t *cp)
{
	const unsigned char *p = data;
	unsigned lo = 0x80, hi = 0xbf;
	uint32_t c;
	size_t n;

	if (!avail)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	/* the second byte's range excludes overlongs, surrogates, >10FFFF */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	*cp = c;
	return n;
}

void pypath_str_repr(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);
	char q = repr_quote(s, left);

	buf_addch(out, q);
	while (left) {
		uint32_t cp;
		size_t n = pypath_utf8_decode(p, left, &cp);

		if (!n) {
			/* os.fsdecode()'s surrogateescape */
			buf_addf(out, "\\udc%02x", *p);
			n = 1;
		} else if (cp < 0x80) {
			add_ascii(out, cp, q);
		} else if (cp <= 0xa0 || cp == 0xad) {
			/* U+0080..U+00A0 and U+00AD are not printable */
			buf_addf(out, "\\x%02x", (unsigned)cp);
		} else {
			buf_add(out, p, n);
		}
		p += n;
		left -= n;
	}
	buf_addch(out, q);
}

void pypath_path_msg(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);

	while (left) {
		uint32_t cp;
		size_t n = pypath_utf8_decode(p, left, &cp);

		if (n)
			buf_add(out, p, n);
		else
			buf_addf(out, "\\x%02x", *p);
		n += !n;
		p += n;
		left -= n;
	}
}

void pypath_oserror(struct buf *out, int err, const char *path, int bytes)
{
	buf_addf(out, "[Errno %d] %s", err, strerror(err));
	if (!path)
		return;
	buf_addstr(out, ": ");
	if (bytes)
		pypath_bytes_repr(out, path, strlen(path));
	else
		pypath_str_repr(out, path);
}

int pypath_parse_int(const char *s, int64_t *out)
{
	static const char ws[] = " \t\n\v\f\r";
	const char *p = s + strspn(s, ws), *e;
	size_t n;
	int neg = 0, digits = 0;
	uint64_t v = 0, lim;

	e = s + strlen(s);
	while (e > p && strchr(ws, e[-1]))
		e--;
	if (p < e && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	n = (size_t)(e - p);
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '_') {
			/* only single underscores between digits */
			if (!digits || i + 1 >= n || p[i + 1] < '0' ||
			    p[i + 1] > '9')
				return ERR_USAGE;
			continue;
		}
		if (ch < '0' || ch > '9')
			return ERR_USAGE;
		if (v > (lim - (uint64_t)(ch - '0')) / 10)
			return ERR_USAGE;   /* beyond what a vint can hold here */
		v = v * 10 + (uint64_t)(ch - '0');
		digits++;
	}
	if (!digits)
		return ERR_USAGE;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}
