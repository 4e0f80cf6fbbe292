/*
 * bup meta's archives (metaarchive.h): bup 0.33.7's metadata.py, its
 * _clean_up_path_for_archive, _clean_up_extract_path, _ArchiveIterator,
 * start_extract, finish_extract and extract.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/metaarchive.h"
#include "platform/fs.h"
#include "util/err.h"
#include "util/pypath.h"
#include "util/util.h"

/* ------------------------------------------------------------------ */
/* Path cleaning                                                       */

static int starts_with(const struct buf *b, const char *s)
{
	size_t n = strlen(s);
	return b->len >= n && !memcmp(b->data, s, n);
}

static int ends_with(const struct buf *b, const char *s)
{
	size_t n = strlen(s);
	return b->len >= n && !memcmp(b->data + b->len - n, s, n);
}

static void drop_front(struct buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	buf_setlen(b, b->len - n);
}

static void set_str(struct buf *b, const char *s, size_t n)
{
	buf_reset(b);
	buf_add(b, s, n);
}

/* Replace every `pat` by "/" (pat is "/./" or "//"), rescanning. */
static void collapse(struct buf *b, const char *pat)
{
	size_t n = strlen(pat);
	char *p;

	while ((p = memmem(b->data, b->len, pat, n))) {
		size_t pos = (size_t)(p - b->data);
		memmove(p + 1, p + n, b->len - pos - n);
		buf_setlen(b, b->len - (n - 1));
	}
}

void metaarchive_clean_path(struct buf *out, const char *p)
{
	const char *last = NULL, *s;

	set_str(out, p, strlen(p));
	/* everything after the last "/../" */
	for (s = out->data; (s = memmem(s, out->data + out->len - s,
					"/../", 4)); s++)
		last = s;
	if (last)
		drop_front(out, (size_t)(last - out->data) + 4);
	if (starts_with(out, "../"))
		drop_front(out, 3);
	collapse(out, "/./");
	{
		size_t n = 0;
		while (n < out->len && out->data[n] == '/')
			n++;
		drop_front(out, n);
	}
	collapse(out, "//");
	if (starts_with(out, "./"))
		drop_front(out, 2);
	if (ends_with(out, "/."))
		buf_setlen(out, out->len - 2);
	if (!out->len || ends_with(out, "/.."))
		set_str(out, ".", 1);
}

/*
 * _risky_path(), and beyond bup a path that is ".." itself: bup lets it
 * through, and would set the metadata of the directory above the
 * target.
 */
static int risky_path(const struct buf *p)
{
	return starts_with(p, "/") ||
	       memmem(p->data, p->len, "/../", 4) ||
	       starts_with(p, "../") || ends_with(p, "/..") ||
	       (p->len == 2 && !memcmp(p->data, "..", 2));
}

int metaarchive_clean_extract_path(struct buf *out, const struct buf *p)
{
	size_t n = 0;

	while (n < p->len && p->data[n] == '/')
		n++;
	set_str(out, p->data + n, p->len - n);
	if (!out->len) {
		set_str(out, ".", 1);
		return 0;
	}
	return risky_path(out) ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

int metaarchive_open(struct metaarchive_reader *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->b, 0);
	a->name = xstrdup(name ? name : "-");
	if (!name) {
		a->fd = 0;
		return 0;
	}
	a->fd = open(name, O_RDONLY | O_CLOEXEC);
	if (a->fd < 0) {
		int ret = err_errno("cannot open '%s'", name);

		metaarchive_close(a);
		return ret;
	}
	return 0;
}

void metaarchive_close(struct metaarchive_reader *a)
{
	if (a->fd > 0)
		close(a->fd);
	a->fd = -1;
	free(a->name);
	a->name = NULL;
	buf_release(&a->b);
}

/* Read at least `want` more bytes unless the input ends first. */
static int archive_fill(struct metaarchive_reader *a, size_t want)
{
	if (a->off && a->off >= a->b.len / 2) {
		drop_front(&a->b, a->off);
		a->off = 0;
	}
	while (!a->eof && want) {
		ssize_t n;
		size_t room;

		buf_grow(&a->b, want);
		room = a->b.alloc - a->b.len - 1;
		n = read(a->fd, a->b.data + a->b.len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno("cannot read '%s'", a->name);
		}
		if (!n) {
			a->eof = 1;
			break;
		}
		buf_setlen(&a->b, a->b.len + (size_t)n);
		want = (size_t)n >= want ? 0 : want - (size_t)n;
	}
	return 0;
}

/*
 * An object split across reads is decoded again once more input is
 * there; the read size doubles each time, so a large object costs
 * O(size) and not O(size^2).
 */
int metaarchive_next(struct metaarchive_reader *a, struct meta *m)
{
	size_t want = 65536;

	for (;;) {
		size_t used, left = a->b.len - a->off;
		int ret;

		if (!left) {
			if (a->eof)
				return 0;
			if ((ret = archive_fill(a, want)) < 0)
				return ret;
			continue;
		}
		if (!a->b.data[a->off]) {
			a->off++;
			return 2;
		}
		ret = meta_decode(m, a->b.data + a->off, left, &used);
		if (!ret) {
			a->off += used;
			return 1;
		}
		if (a->eof)
			return err_set(ERR_CORRUPT, "EOF while reading "
				       "Metadata from '%s' (%s)", a->name,
				       err_last());
		if ((ret = archive_fill(a, want)) < 0)
			return ret;
		if (want < ((size_t)1 << 30))
			want = left * 2 > want ? left * 2 : want;
	}
}

/* ------------------------------------------------------------------ */
/* Extraction                                                          */

/*
 * The directory made of the first len bytes of path, beneath the
 * current directory: opened one component at a time (O_PATH, enough to
 * work in it) without following a symlink, each component made first
 * when `create` is set (helpers.mkdirp(): os.makedirs(), an existing
 * directory is fine).  Returns its descriptor, AT_FDCWD when len is 0,
 * or -1 with errno kept; err_last() says why for a symlink in the way
 * and for a directory that could not be made.
 */
static int open_dir_path(const char *path, size_t len, int create)
{
	struct buf name = BUF_INIT;
	int cur = AT_FDCWD, fd, e;
	size_t i = 0;

	for (;;) {
		size_t start;
		while (i < len && path[i] == '/')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && path[i] != '/')
			i++;
		buf_reset(&name);
		buf_add(&name, path + start, i - start);
		if (create && mkdirat(cur, name.data, 0777) < 0 &&
		    errno != EEXIST) {
			e = errno;
			err_set(ERR_IO, "cannot create directory '%.*s': %s",
				(int)i, path, strerror(e));
			goto fail;
		}
		fd = plat_fs_open_dir(cur, name.data, PLAT_FS_PATH);
		if (fd < 0) {
			e = errno;
			if (e == ELOOP)
				err_set(ERR_IO, "'%.*s' is a symlink: not "
					"following it", (int)i, path);
			else if (create)
				err_set(ERR_IO, "cannot create directory "
					"'%.*s': %s", (int)i, path,
					strerror(e));
			goto fail;
		}
		if (cur != AT_FDCWD)
			close(cur);
		cur = fd;
	}
	buf_release(&name);
	return cur;
fail:
	if (cur != AT_FDCWD)
		close(cur);
	buf_release(&name);
	errno = e;
	return -1;
}

static void close_dir(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* os.path.dirname() */
static void dirname_of(struct buf *out, const struct buf *p)
{
	size_t head, tail;

	pypath_split(p->data, p->len, &head, &tail);
	set_str(out, p->data, head);
}

/* _set_up_path() */
static int set_up_path(const struct metaarchive_extract_opts *o,
		       const struct meta *m)
{
	const char *base = memrchr(m->path.data, '/', m->path.len);
	struct buf parent = BUF_INIT;
	struct meta_at at = { AT_FDCWD, NULL, m->path.data, -1 };
	int ret = 0;

	if (S_ISDIR(m->mode)) {
		at.dirfd = open_dir_path(m->path.data, m->path.len, 1);
		if (at.dirfd == -1)
			return ERR_IO;
		close_dir(at.dirfd);
		return 0;
	}
	dirname_of(&parent, &m->path);
	at.dirfd = open_dir_path(parent.data, parent.len, 1);
	buf_release(&parent);
	if (at.dirfd == -1)
		return ERR_IO;
	at.name = base ? base + 1 : m->path.data;
	ret = meta_create_at(m, &at, o->symlinks ? 0 : META_NO_CREATE_SYMLINKS,
			     o->warn, o->ctx, NULL);
	close_dir(at.dirfd);
	return ret;
}

/*
 * Apply m to path (a clean one: no "..", not absolute; "." or a
 * directory's with a trailing slash): its parent opened without
 * following a symlink, then meta_apply_at() on the last name.
 */
static int apply(const struct metaarchive_extract_opts *o,
		 const struct meta *m, const char *path)
{
	size_t n = strlen(path);
	const char *slash;
	struct meta_at at = { AT_FDCWD, NULL, path, -1 };
	char *name;
	int ret = 0;

	while (n > 1 && path[n - 1] == '/')
		n--;
	slash = memrchr(path, '/', n);
	at.dirfd = open_dir_path(path, slash ? (size_t)(slash - path) : 0, 0);
	if (at.dirfd == -1) {
		/* (as the first step, setting the times, would report it) */
		if (errno != ELOOP)
			return err_errno("cannot set times of '%s'", path);
		return ERR_IO;
	}
	name = slash ? xstrndup(slash + 1, n - (size_t)(slash + 1 - path)) :
		       xstrndup(path, n);
	at.name = name;
	ret = meta_apply_at(m, &at, o->numeric_ids ? META_NUMERIC_IDS : 0,
			    o->warn, o->ctx);
	free(name);
	close_dir(at.dirfd);
	return ret;
}

/* os.path.isdir(): follows symlinks. */
static int is_dir(const char *path)
{
	struct stat st;
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* Directories whose metadata is applied at the end. */
struct dir_list {
	struct meta *m;
	size_t nr, alloc;
};

static void dirs_add(struct dir_list *d, const struct meta *m)
{
	ALLOC_GROW(d->m, d->nr + 1, d->alloc);
	meta_init(&d->m[d->nr]);
	meta_copy(&d->m[d->nr], m);
	d->nr++;
}

static void dirs_release(struct dir_list *d)
{
	for (size_t i = 0; i < d->nr; i++)
		meta_release(&d->m[i]);
	free(d->m);
}

/*
 * all_dirs.sort(key=len(path), reverse=True): Python's sort is stable,
 * so dirs of equal length keep their archive order.  An insertion-free
 * merge sort over indexes keeps that without a comparator tiebreak.
 */
static void sort_dirs(struct dir_list *d)
{
	struct meta *tmp;
	size_t n = d->nr;

	if (n < 2)
		return;
	tmp = xmalloc(st_mult(n, sizeof(*tmp)));
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = MIN(lo + width, n);
			size_t hi = MIN(lo + 2 * width, n);
			size_t i = lo, j = mid, k = lo;

			while (i < mid && j < hi) {
				if (d->m[j].path.len > d->m[i].path.len)
					tmp[k++] = d->m[j++];
				else
					tmp[k++] = d->m[i++];
			}
			while (i < mid)
				tmp[k++] = d->m[i++];
			while (j < hi)
				tmp[k++] = d->m[j++];
		}
		memcpy(d->m, tmp, n * sizeof(*tmp));
	}
	free(tmp);
}

static void log_path(const struct metaarchive_extract_opts *o,
		     const char *prefix, const char *path)
{
	if (o->verbose && o->log)
		o->log(o->ctx, prefix, path);
}

/* The skipped path is reported as bup's add_error() does, going on. */
static void warn_risky(const struct metaarchive_extract_opts *o,
		       const struct buf *path)
{
	struct buf pm = BUF_INIT, msg = BUF_INIT;

	if (o->warn) {
		pypath_path_msg(&pm, path->data);
		buf_addf(&msg, "skipping risky path \"%s\"", pm.data);
		o->warn(o->ctx, msg.data);
	}
	buf_release(&pm);
	buf_release(&msg);
}

int metaarchive_extract(struct metaarchive_reader *in,
			const struct metaarchive_extract_opts *o)
{
	enum metaarchive_mode mode = o->mode;
	struct dir_list dirs = { 0 };
	struct buf xpath = BUF_INIT;
	struct meta m;
	int r, ret = 0;

	meta_init(&m);
	while ((r = metaarchive_next(in, &m)) == 1) {
		if (!m.path.len) {
			/* bup: _clean_up_extract_path(None) raises. */
			ret = err_set(ERR_CORRUPT, "metadata object without "
				      "a path");
			goto out;
		}
		if (mode == METAARCHIVE_START)
			log_path(o, "", m.path.data);
		if (metaarchive_clean_extract_path(&xpath, &m.path) < 0) {
			warn_risky(o, &m.path);
			continue;
		}
		if (mode == METAARCHIVE_FINISH) {
			/* bup tests the path as recorded, not xpath. */
			if (is_dir(m.path.data)) {
				dirs_add(&dirs, &m);
				continue;
			}
			log_path(o, "", m.path.data);
			if ((ret = apply(o, &m, xpath.data)))
				goto out;
			continue;
		}
		set_str(&m.path, xpath.data, xpath.len);
		if (mode == METAARCHIVE_BOTH)
			log_path(o, "+ ", m.path.data);
		if ((ret = set_up_path(o, &m)))
			goto out;
		if (mode == METAARCHIVE_START)
			continue;
		if (is_dir(m.path.data)) {
			dirs_add(&dirs, &m);
			continue;
		}
		log_path(o, "= ", m.path.data);
		if ((ret = apply(o, &m, m.path.data)))
			goto out;
	}
	if (r < 0) {
		ret = r;
		goto out;
	}
	sort_dirs(&dirs);
	for (size_t i = 0; i < dirs.nr; i++) {
		const struct meta *d = &dirs.m[i];

		/* Only safe paths were queued. */
		metaarchive_clean_extract_path(&xpath, &d->path);
		log_path(o, mode == METAARCHIVE_BOTH ? "= " : "",
			 mode == METAARCHIVE_BOTH ? xpath.data : d->path.data);
		if ((ret = apply(o, d, xpath.data)))
			goto out;
	}
out:
	meta_release(&m);
	dirs_release(&dirs);
	buf_release(&xpath);
	return ret;
}

