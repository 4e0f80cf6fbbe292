/*
 * cbup meta: bup 0.33.7's `bup meta` (cmd/meta.py and the archive half
 * of metadata.py).  An archive is a plain concatenation of metadata
 * objects (FORMAT.md 5.2), each one normally led by a path record
 * (tag 1); a lone end tag is bup's "empty" object, which stops an
 * extraction.
 *
 *   -c   save_tree(): one object per path (walked with drecurse unless
 *        --no-recurse), paths cleaned by _clean_up_path_for_archive
 *   -t   display_archive(): paths, summary lines (-v) or the detailed
 *        layout of xstat (-vv)
 *   -x, --start-extract, --finish-extract
 *        create the tree (directories first, metadata applied to
 *        directories last, longest path first) with meta_create_at()
 *        and meta_apply_at(), each path's directories opened one by one
 *        from the current directory without following a symlink: an
 *        archive, or whoever writes the target meanwhile, cannot make
 *        the extraction write or change anything outside it
 *   --edit  rewrite uid/gid/user/group of every object
 *
 * Messages, their order and exit codes are bup's.  Where bup dies with
 * a Python traceback (unreadable input, a truncated archive, an empty
 * object where it expects one with a path) cbup prints one "error:"
 * line instead and exits 1, as bup does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "index/drecurse.h"
#include "util/err.h"
#include "meta/meta.h"
#include "meta/metafmt.h"
#include "util/pypath.h"
#include "platform/fs.h"

int cmd_meta(int argc, const char **argv);

static const char meta_optspec[] =
	"bup meta --create [OPTION ...] <PATH ...>\n"
	"bup meta --list [OPTION ...]\n"
	"bup meta --extract [OPTION ...]\n"
	"bup meta --start-extract [OPTION ...]\n"
	"bup meta --finish-extract [OPTION ...]\n"
	"bup meta --edit [OPTION ...] <PATH ...>\n"
	"--\n"
	"c,create       write metadata for PATHs to stdout (or --file)\n"
	"t,list         display metadata\n"
	"x,extract      perform --start-extract followed by --finish-extract\n"
	"start-extract  build tree matching metadata provided on standard "
	"input (or --file)\n"
	"finish-extract finish applying standard input (or --file) metadata "
	"to filesystem\n"
	"edit           alter metadata; write to stdout (or --file)\n"
	"f,file=        specify source or destination file\n"
	"R,recurse      recurse into subdirectories\n"
	"xdev,one-file-system  don't cross filesystem boundaries\n"
	"numeric-ids    apply numeric IDs (user, group, etc.) rather than "
	"names\n"
	"symlinks       handle symbolic links (default is true)\n"
	"paths          include paths in metadata (default is true)\n"
	"set-uid=       set metadata uid (via --edit)\n"
	"set-gid=       set metadata gid (via --edit)\n"
	"set-user=      set metadata user (via --edit)\n"
	"unset-user     remove metadata user (via --edit)\n"
	"set-group=     set metadata group (via --edit)\n"
	"unset-group    remove metadata group (via --edit)\n"
	"v,verbose      increase log output (can be used more than once)\n"
	"q,quiet        don't show progress meter\n";

struct meta_cmd {
	struct opts *o;
	int verbose;          /* metadata.verbose: -v count minus -q count */
	int recurse, paths, symlinks, xdev, numeric_ids;
	FILE *out;            /* --create / --edit */
	const char *out_name; /* NULL: stdout */
	struct buf enc;       /* one encoded object, reused */
};

/* ------------------------------------------------------------------ */
/* Path cleaning (metadata.py)                                         */

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

/* _clean_up_path_for_archive() */
static void clean_archive_path(struct buf *out, const char *p)
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

/* _risky_path() */
static int risky_path(const struct buf *p)
{
	return starts_with(p, "/") ||
	       memmem(p->data, p->len, "/../", 4) ||
	       starts_with(p, "../") || ends_with(p, "/..");
}

/* _clean_up_extract_path(): 0, or -1 for a risky path. */
static int clean_extract_path(struct buf *out, const struct buf *p)
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
/* Messages                                                            */

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	cli_add_error("%s", msg);
}

/* print(path_msg(p), file=sys.stderr), with an optional prefix. */
static void log_path(const char *prefix, const char *p)
{
	struct buf b = BUF_INIT;

	cli_path_msg(&b, p);
	cli_log("%s%s\n", prefix, b.data);
	buf_release(&b);
}

static void add_risky_error(const struct buf *path)
{
	struct buf b = BUF_INIT;

	cli_path_msg(&b, path->data);
	cli_add_error("skipping risky path \"%s\"", b.data);
	buf_release(&b);
}

/* ------------------------------------------------------------------ */
/* Archive input: objects read from a file descriptor in large pieces  */

struct archive_in {
	int fd;
	const char *name;      /* for messages */
	struct buf b;
	size_t off;
	int eof;
};

static int archive_open(struct archive_in *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->b, 0);
	a->name = name ? name : "-";
	if (!name) {
		a->fd = 0;
		return 0;
	}
	a->fd = open(name, O_RDONLY | O_CLOEXEC);
	if (a->fd < 0)
		return error("cannot open '%s': %s", name, strerror(errno));
	return 0;
}

static void archive_close(struct archive_in *a)
{
	if (a->fd > 0)
		close(a->fd);
	buf_release(&a->b);
}

/* Read at least `want` more bytes unless the input ends first. */
static int archive_fill(struct archive_in *a, size_t want)
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
			return error("cannot read '%s': %s", a->name,
				     strerror(errno));
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
 * bup's _ArchiveIterator over Metadata.read(): 1 with an object in m,
 * 2 for an empty object (bup's None), 0 at the end of the input, -1
 * after printing an error.  An object split across reads is decoded
 * again once more input is there; the read size doubles each time, so
 * a large object costs O(size) and not O(size^2).
 */
static int archive_next(struct archive_in *a, struct meta *m)
{
	size_t want = 65536;

	for (;;) {
		size_t used, left = a->b.len - a->off;
		int ret;

		if (!left) {
			if (a->eof)
				return 0;
			if (archive_fill(a, want) < 0)
				return -1;
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
			return error("EOF while reading Metadata from '%s' "
				     "(%s)", a->name, err_last());
		if (archive_fill(a, want) < 0)
			return -1;
		if (want < ((size_t)1 << 30))
			want = left * 2 > want ? left * 2 : want;
	}
}

/* ------------------------------------------------------------------ */
/* --create                                                            */

static int write_obj(struct meta_cmd *c, const struct meta *m)
{
	buf_reset(&c->enc);
	meta_encode(&c->enc, m, c->paths);
	if (fwrite(c->enc.data, 1, c->enc.len, c->out) != c->enc.len)
		return error("cannot write '%s': %s",
			     c->out_name ? c->out_name : "-", strerror(errno));
	return 0;
}

struct create_ctx {
	struct meta_cmd *c;
	struct meta m;
	struct buf safe, repr;
};

static int create_one(struct create_ctx *x, const char *p,
		      const struct stat *st, int dir_slash)
{
	struct meta_cmd *c = x->c;
	unsigned flags = c->symlinks ? 0 : META_NO_SYMLINKS;

	clean_archive_path(&x->safe, p);
	if (dir_slash && S_ISDIR(st->st_mode))
		buf_addch(&x->safe, '/');
	if (meta_from_path(&x->m, p, st, flags, warn_cb, NULL) < 0)
		return error("%s", err_last());
	set_str(&x->m.path, x->safe.data, x->safe.len);
	if (c->verbose) {
		/* print(m.path): the repr of a bytes object */
		buf_reset(&x->repr);
		cli_bytes_repr(&x->repr, x->m.path.data);
		cli_log("%s\n", x->repr.data);
	}
	return write_obj(c, &x->m);
}

static int create_walk_fn(void *data, const char *path, size_t len,
			  const struct stat *st)
{
	(void)len;
	return create_one(data, path, st, 0) < 0 ? -1 : 0;
}

static void walk_error(void *data, const char *msg)
{
	(void)data;
	cli_add_error("%s", msg);
}

/* save_tree() */
static int do_create(struct meta_cmd *c)
{
	struct create_ctx x;
	struct buf pm1 = BUF_INIT, pm2 = BUF_INIT;
	int ret = 0;

	memset(&x, 0, sizeof(x));
	x.c = c;
	meta_init(&x.m);
	buf_init(&x.safe, 0);
	buf_init(&x.repr, 0);

	/* Top-level rewrite warnings come first, for every path. */
	for (int i = 0; i < c->o->argc; i++) {
		const char *p = c->o->argv[i];
		clean_archive_path(&x.safe, p);
		if (!strcmp(x.safe.data, p))
			continue;
		buf_reset(&pm1);
		buf_reset(&pm2);
		cli_path_msg(&pm1, p);
		cli_path_msg(&pm2, x.safe.data);
		cli_log("archiving \"%s\" as \"%s\"\n", pm1.data, pm2.data);
	}

	if (!c->recurse) {
		for (int i = 0; i < c->o->argc && !ret; i++) {
			const char *p = c->o->argv[i];
			struct stat st;

			if (lstat(p, &st) < 0) {
				ret = error("cannot stat '%s': %s", p,
					    strerror(errno));
				break;
			}
			ret = create_one(&x, p, &st, 1);
		}
	} else {
		struct drecurse_opts dopts = DRECURSE_OPTS_INIT;

		dopts.xdev = c->xdev;
		dopts.error = walk_error;
		ret = drecurse_walk(&dopts, c->o->argv, (size_t)c->o->argc,
				    create_walk_fn, &x);
		drecurse_opts_release(&dopts);
	}
	meta_release(&x.m);
	buf_release(&x.safe);
	buf_release(&x.repr);
	buf_release(&pm1);
	buf_release(&pm2);
	return ret < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* --list                                                              */

/* display_archive() */
static int do_list(struct meta_cmd *c, struct archive_in *in)
{
	struct meta m;
	struct buf b = BUF_INIT;
	int first = 1, r, ret = 0;

	/* bup has no branch for verbose < 0: nothing is even read. */
	if (c->verbose < 0)
		return 0;
	meta_init(&m);
	while ((r = archive_next(in, &m)) > 0) {
		buf_reset(&b);
		if (r == 2) {
			/* bup dies on None here (AttributeError). */
			ret = error("empty metadata object in archive");
			break;
		}
		if (c->verbose > 1) {
			if (!first)
				buf_addch(&b, '\n');
			meta_detailed(&b, &m, META_F_ALL);
			buf_addch(&b, '\n');
			first = 0;
		} else if (c->verbose > 0) {
			metafmt_summary(&b, &m, m.path.data,
					METAFMT_CLASS_NONE, 0);
			buf_addch(&b, '\n');
		} else {
			if (!m.path.len) {
				fflush(stdout);
				cli_log("bup: no metadata path, but asked to "
					"only display path (increase "
					"verbosity?)");
				ret = -1;
				break;
			}
			buf_add(&b, m.path.data, m.path.len);
			buf_addch(&b, '\n');
		}
		fwrite(b.data, 1, b.len, stdout);
	}
	if (r < 0)
		ret = -1;
	meta_release(&m);
	buf_release(&b);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Extraction                                                          */

/*
 * The directory made of the first len bytes of path, beneath the
 * current directory: opened one component at a time (O_PATH, enough to
 * work in it) without following a symlink, each component made first
 * when `create` is set (helpers.mkdirp(): os.makedirs(), an existing
 * directory is fine).  Returns its descriptor, AT_FDCWD when len is 0,
 * or -1 after error() (errno kept).
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
			error("cannot create directory '%.*s': %s", (int)i,
			      path, strerror(e));
			goto fail;
		}
		fd = plat_fs_open_dir(cur, name.data, PLAT_FS_PATH);
		if (fd < 0) {
			e = errno;
			if (e == ELOOP)
				error("'%.*s' is a symlink: not following it",
				      (int)i, path);
			else if (create)
				error("cannot create directory '%.*s': %s",
				      (int)i, path, strerror(e));
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
static int set_up_path(struct meta_cmd *c, const struct meta *m)
{
	const char *base = memrchr(m->path.data, '/', m->path.len);
	struct buf parent = BUF_INIT;
	struct meta_at at = { AT_FDCWD, NULL, m->path.data, -1 };
	int ret = 0;

	if (S_ISDIR(m->mode)) {
		at.dirfd = open_dir_path(m->path.data, m->path.len, 1);
		if (at.dirfd == -1)
			return -1;
		close_dir(at.dirfd);
		return 0;
	}
	dirname_of(&parent, &m->path);
	at.dirfd = open_dir_path(parent.data, parent.len, 1);
	buf_release(&parent);
	if (at.dirfd == -1)
		return -1;
	at.name = base ? base + 1 : m->path.data;
	if (meta_create_at(m, &at, c->symlinks ? 0 : META_NO_CREATE_SYMLINKS,
			   warn_cb, NULL, NULL) < 0)
		ret = error("%s", err_last());
	close_dir(at.dirfd);
	return ret;
}

/*
 * Apply m to path (a clean one: no "..", not absolute; "." or a
 * directory's with a trailing slash): its parent opened without
 * following a symlink, then meta_apply_at() on the last name.
 */
static int apply(struct meta_cmd *c, const struct meta *m, const char *path)
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
			return error("cannot set times of '%s': %s", path,
				     strerror(errno));
		return -1;
	}
	name = slash ? xstrndup(slash + 1, n - (size_t)(slash + 1 - path)) :
		       xstrndup(path, n);
	at.name = name;
	if (meta_apply_at(m, &at, c->numeric_ids ? META_NUMERIC_IDS : 0,
			  warn_cb, NULL) < 0)
		ret = error("%s", err_last());
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

enum extract_mode { EX_START, EX_FINISH, EX_BOTH };

/* start_extract(), finish_extract() and extract() */
static int do_extract(struct meta_cmd *c, struct archive_in *in,
		      enum extract_mode mode)
{
	struct dir_list dirs = { 0 };
	struct buf xpath = BUF_INIT;
	struct meta m;
	int r, ret = 0;

	meta_init(&m);
	while ((r = archive_next(in, &m)) == 1) {
		if (!m.path.len) {
			/* bup: _clean_up_extract_path(None) raises. */
			ret = error("metadata object without a path");
			goto out;
		}
		if (mode == EX_START && c->verbose)
			log_path("", m.path.data);
		if (clean_extract_path(&xpath, &m.path) < 0) {
			add_risky_error(&m.path);
			continue;
		}
		if (mode == EX_FINISH) {
			/* bup tests the path as recorded, not xpath. */
			if (is_dir(m.path.data)) {
				dirs_add(&dirs, &m);
				continue;
			}
			if (c->verbose)
				log_path("", m.path.data);
			if ((ret = apply(c, &m, xpath.data)))
				goto out;
			continue;
		}
		set_str(&m.path, xpath.data, xpath.len);
		if (mode == EX_BOTH && c->verbose)
			log_path("+ ", m.path.data);
		if ((ret = set_up_path(c, &m)))
			goto out;
		if (mode == EX_START)
			continue;
		if (is_dir(m.path.data)) {
			dirs_add(&dirs, &m);
			continue;
		}
		if (c->verbose)
			log_path("= ", m.path.data);
		if ((ret = apply(c, &m, m.path.data)))
			goto out;
	}
	if (r < 0) {
		ret = -1;
		goto out;
	}
	sort_dirs(&dirs);
	for (size_t i = 0; i < dirs.nr; i++) {
		const struct meta *d = &dirs.m[i];

		/* Only safe paths were queued. */
		clean_extract_path(&xpath, &d->path);
		if (c->verbose)
			log_path(mode == EX_BOTH ? "= " : "",
				 mode == EX_BOTH ? xpath.data : d->path.data);
		if ((ret = apply(c, d, xpath.data)))
			goto out;
	}
out:
	meta_release(&m);
	dirs_release(&dirs);
	buf_release(&xpath);
	return ret;
}

/* ------------------------------------------------------------------ */
/* --edit                                                              */

/* Python's int(str) for the values bup converts; 0 or -1. */
static int py_int(const char *s, int64_t *out)
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
				return -1;
			continue;
		}
		if (ch < '0' || ch > '9')
			return -1;
		if (v > (lim - (uint64_t)(ch - '0')) / 10)
			return -1;   /* beyond what a vint can hold here */
		v = v * 10 + (uint64_t)(ch - '0');
		digits++;
	}
	if (!digits)
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static const char *given(const struct opts *o, const char *name)
{
	const struct opt_value *v = opt_get(o, name);
	return v && v->count ? v->value : NULL;
}

static int do_edit(struct meta_cmd *c)
{
	struct opts *o = c->o;
	/* bup: "opt.set_X is not None", i.e. given, even as "" or "0" */
	const char *set_uid = given(o, "set-uid");
	const char *set_gid = given(o, "set-gid");
	const char *set_user = given(o, "set-user");
	const char *set_group = given(o, "set-group");
	int unset_user = 0, unset_group = 0, ret = 0;
	struct meta m;

	/* True if --unset-X was the last of --set-X / --unset-X. */
	for (size_t i = 0; i < o->nr_flags; i++) {
		const char *f = o->flags[i].flag;
		if (!strcmp(f, "set-user"))
			unset_user = 0;
		else if (!strcmp(f, "unset-user"))
			unset_user = 1;
		else if (!strcmp(f, "set-group"))
			unset_group = 0;
		else if (!strcmp(f, "unset-group"))
			unset_group = 1;
	}

	meta_init(&m);
	for (int i = 0; i < o->argc && !ret; i++) {
		struct archive_in in;
		int r;

		if (archive_open(&in, o->argv[i]) < 0) {
			ret = -1;
			break;
		}
		while ((r = archive_next(&in, &m)) == 1) {
			int64_t id;

			if (set_uid) {
				if (py_int(set_uid, &id) < 0) {
					fflush(c->out);
					cli_usage_fatal(o, "uid must be an "
							"integer");
				}
				m.uid = id;
			}
			if (set_gid) {
				if (py_int(set_gid, &id) < 0) {
					fflush(c->out);
					cli_usage_fatal(o, "gid must be an "
							"integer");
				}
				m.gid = id;
			}
			if (unset_user)
				buf_reset(&m.user);
			else if (set_user)
				set_str(&m.user, set_user, strlen(set_user));
			if (unset_group)
				buf_reset(&m.group);
			else if (set_group)
				set_str(&m.group, set_group,
					strlen(set_group));
			/* m.write(): include_path stays True for --edit */
			buf_reset(&c->enc);
			meta_encode(&c->enc, &m, 1);
			if (fwrite(c->enc.data, 1, c->enc.len, c->out) !=
			    c->enc.len) {
				ret = error("cannot write output: %s",
					    strerror(errno));
				break;
			}
		}
		if (r == 2)
			ret = error("empty metadata object in '%s'",
				    o->argv[i]);
		else if (r < 0)
			ret = -1;
		archive_close(&in);
	}
	meta_release(&m);
	return ret;
}

/* ------------------------------------------------------------------ */

static int open_output(struct meta_cmd *c, const char *name)
{
	fflush(stdout);
	if (!name) {
		c->out = stdout;
		return 0;
	}
	c->out = fopen(name, "wb");
	c->out_name = name;
	if (!c->out)
		return error("cannot open '%s': %s", name, strerror(errno));
	return 0;
}

static int close_output(struct meta_cmd *c, int ret)
{
	if (!c->out || c->out == stdout)
		return ret;
	if (fclose(c->out) != 0 && !ret)
		ret = error("cannot write '%s': %s", c->out_name,
			    strerror(errno));
	c->out = NULL;
	return ret;
}

int cmd_meta(int argc, const char **argv)
{
	struct opts o;
	struct meta_cmd c;
	struct archive_in in;
	const char **av;
	const char *file;
	int actions, ret = 0, have_in = 0;

	/* bup parses ['--paths', '--symlinks', '--recurse'] + argv[1:] */
	av = xcalloc((size_t)argc + 4, sizeof(*av));
	av[0] = argv[0];
	av[1] = "--paths";
	av[2] = "--symlinks";
	av[3] = "--recurse";
	for (int i = 1; i < argc; i++)
		av[i + 3] = argv[i];

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	buf_init(&c.enc, 0);
	cli_parse_opts(&o, meta_optspec, argc + 3, av);
	c.o = &o;
	c.verbose = opt_count(&o, "verbose") - opt_count(&o, "quiet");
	c.recurse = opt_count(&o, "recurse");
	c.paths = opt_count(&o, "paths");
	c.symlinks = opt_count(&o, "symlinks");
	c.xdev = opt_count(&o, "xdev");
	c.numeric_ids = opt_count(&o, "numeric-ids");
	file = opt_str(&o, "file");
	if (file && !*file)
		file = NULL;
	if (file && !strcmp(file, "-"))
		file = NULL;

	actions = !!opt_count(&o, "create") + !!opt_count(&o, "list") +
		  !!opt_count(&o, "extract") +
		  !!opt_count(&o, "start-extract") +
		  !!opt_count(&o, "finish-extract") + !!opt_count(&o, "edit");
	if (actions > 1)
		cli_usage_fatal(&o, "bup: only one action permitted: "
				"--create --list --extract --edit");
	if (!actions)
		cli_usage_fatal(&o, "bup: no action specified");

	if (opt_count(&o, "create")) {
		if (o.argc < 1)
			cli_usage_fatal(&o, "no paths specified for create");
		ret = open_output(&c, file);
		if (!ret)
			ret = do_create(&c);
		ret = close_output(&c, ret);
	} else if (opt_count(&o, "edit")) {
		if (o.argc < 1)
			cli_usage_fatal(&o, "no paths specified for edit");
		ret = open_output(&c, file);
		if (!ret)
			ret = do_edit(&c);
		ret = close_output(&c, ret);
	} else {
		const char *what = opt_count(&o, "list") ? "--list" :
				   opt_count(&o, "start-extract") ?
				   "--start-extract" :
				   opt_count(&o, "finish-extract") ?
				   "--finish-extract" : "--extract";
		if (o.argc > 0)
			cli_usage_fatal(&o, "cannot specify paths for %s",
					what);
		ret = archive_open(&in, file);
		have_in = !ret;
		if (ret)
			;
		else if (opt_count(&o, "list"))
			ret = do_list(&c, &in);
		else if (opt_count(&o, "start-extract"))
			ret = do_extract(&c, &in, EX_START);
		else if (opt_count(&o, "finish-extract"))
			ret = do_extract(&c, &in, EX_FINISH);
		else
			ret = do_extract(&c, &in, EX_BOTH);
	}
	if (have_in)
		archive_close(&in);
	buf_release(&c.enc);
	opt_release(&o);
	free(av);
	if (ret)
		return cli_finish_stdout(1);
	if (cli_errors()) {
		fflush(stdout);
		cli_log("WARNING: %d errors encountered.\n", cli_errors());
		return cli_finish_stdout(1);
	}
	return cli_finish_stdout(0);
}
