/*
 * The filesystem walk of bup index/drecurse (FORMAT.md 8.2; drecurse.h
 * says what it does and how it differs from bup's Python).
 */
#include "index/drecurse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/pypath.h"
#include "util/strv.h"

void drecurse_opts_release(struct drecurse_opts *o)
{
	for (size_t i = 0; i < o->nr_excluded; i++)
		free(o->excluded[i]);
	free(o->excluded);
	for (size_t i = 0; i < o->nr_rxs; i++)
		regfree(&o->rxs[i]);
	free(o->rxs);
	for (size_t i = 0; i < o->nr_xdev_exceptions; i++)
		free(o->xdev_exceptions[i]);
	free(o->xdev_exceptions);
	free(o->bup_dir);
	free(o->exclude_if_present);
	memset(o, 0, sizeof(*o));
}

/*
 * bup: '%s: %s' % (path, e) with a bytes path, which Python 3 shows as
 * its repr (b'...').
 */
static void add_path_prefix(struct buf *msg, const char *path)
{
	pypath_bytes_repr(msg, path, strlen(path));
	buf_addstr(msg, ": ");
}

/* ---- option helpers -------------------------------------------------- */

void drecurse_add_exclude(struct drecurse_opts *o, const char *path)
{
	struct buf b = BUF_INIT;
	pypath_resolve_parent(&b, path);
	ALLOC_GROW(o->excluded, o->nr_excluded + 1, o->alloc_excluded);
	o->excluded[o->nr_excluded++] = buf_detach(&b, NULL);
	o->sorted = 0;
}

static int read_lines(const char *file, struct buf *b)
{
	struct buf path = BUF_INIT;
	int r;

	pypath_resolve_parent(&path, file);
	r = buf_read_file(b, path.data);
	buf_release(&path);
	if (r < 0)
		return err_set(ERR_IO, "couldn't read %s", file);
	return 0;
}

int drecurse_add_exclude_from(struct drecurse_opts *o, const char *file)
{
	struct buf b = BUF_INIT;
	char *line, *next;

	if (read_lines(file, &b))
		return ERR_IO;
	for (line = b.data; line < b.data + b.len; line = next) {
		char *end = memchr(line, '\n', (size_t)(b.data + b.len - line));
		next = end ? end + 1 : b.data + b.len;
		if (!end)
			end = b.data + b.len;
		/* bytes.strip(): ASCII whitespace both ends */
		while (line < end && strchr(" \t\n\r\v\f", *line) && *line)
			line++;
		while (end > line && strchr(" \t\n\r\v\f", end[-1]) && end[-1])
			end--;
		if (end > line) {
			char *p = xstrndup(line, (size_t)(end - line));
			drecurse_add_exclude(o, p);
			free(p);
		}
	}
	buf_release(&b);
	return 0;
}

static const char *rel_to(const char *path, const char *cwd)
{
	size_t n = strlen(cwd);
	if (!strcmp(path, cwd))
		return ".";
	if (!strcmp(cwd, "/"))
		return path + 1;
	if (!strncmp(path, cwd, n) && path[n] == '/')
		return path + n + 1;
	return NULL;
}

void drecurse_relativize_excludes(struct drecurse_opts *o)
{
	char cwd[PATH_MAX];

	if (!getcwd(cwd, sizeof(cwd)))
		return;
	for (size_t i = 0; i < o->nr_excluded; i++) {
		const char *r = rel_to(o->excluded[i], cwd);
		struct buf b = BUF_INIT;
		if (r) {
			buf_addstr(&b, r);
		} else {
			/* os.path.relpath with ".." components */
			const char *c = cwd, *p = o->excluded[i];
			size_t common = 0, k = 0;
			while (c[k] && c[k] == p[k]) {
				if (c[k] == '/')
					common = k;
				k++;
			}
			if (!c[k] && p[k] == '/')
				common = k;
			for (const char *s = c + common; *s; s++)
				if (*s == '/' && s[1])
					buf_addstr(&b, b.len ? "/.." : "..");
			if (p[common] == '/' && p[common + 1]) {
				if (b.len)
					buf_addch(&b, '/');
				buf_addstr(&b, p + common + 1);
			}
			if (!b.len)
				buf_addch(&b, '.');
		}
		free(o->excluded[i]);
		o->excluded[i] = buf_detach(&b, NULL);
	}
	o->sorted = 0;
}

/* Python-only escapes that ERE lacks, outside brackets. */
static void translate_rx(struct buf *out, const char *p)
{
	int in_bracket = 0;

	for (; *p; p++) {
		if (in_bracket) {
			/* Python's class escapes inside [...]; ERE takes a
			 * backslash literally there. */
			if (*p == '\\' && p[1]) {
				const char *rep = NULL;
				switch (p[1]) {
				case 'd': rep = "0-9"; break;
				case 'w': rep = "[:alnum:]_"; break;
				case 's': rep = "[:space:]"; break;
				case '\\': rep = "\\"; break;
				case ']': rep = "]"; break;
				case '-': rep = "-"; break;
				}
				if (rep) {
					buf_addstr(out, rep);
					p++;
					in_bracket++;
					continue;
				}
			}
			buf_addch(out, *p);
			if (*p == ']' && in_bracket > 1)
				in_bracket = 0;
			else
				in_bracket++;
			continue;
		}
		if (*p == '[') {
			in_bracket = 1;
			buf_addch(out, *p);
			if (p[1] == '^') {
				buf_addch(out, *++p);
			}
			continue;
		}
		if (*p == '\\' && p[1]) {
			const char *rep = NULL;
			switch (p[1]) {
			case 'd': rep = "[0-9]"; break;
			case 'D': rep = "[^0-9]"; break;
			case 'w': rep = "[[:alnum:]_]"; break;
			case 'W': rep = "[^[:alnum:]_]"; break;
			case 's': rep = "[[:space:]]"; break;
			case 'S': rep = "[^[:space:]]"; break;
			}
			if (rep) {
				buf_addstr(out, rep);
				p++;
				continue;
			}
			buf_addch(out, *p++);
		}
		buf_addch(out, *p);
	}
}

int drecurse_add_rx(struct drecurse_opts *o, const char *pattern)
{
	struct buf b = BUF_INIT;
	regex_t rx;
	int e;

	translate_rx(&b, pattern);
	e = regcomp(&rx, b.data, REG_EXTENDED | REG_NOSUB);
	buf_release(&b);
	if (e) {
		char msg[256];
		regerror(e, &rx, msg, sizeof(msg));
		return err_set(ERR_USAGE, "%s", msg);
	}
	ALLOC_GROW(o->rxs, o->nr_rxs + 1, o->alloc_rxs);
	o->rxs[o->nr_rxs++] = rx;
	return 0;
}

int drecurse_add_rx_from(struct drecurse_opts *o, const char *file)
{
	struct buf b = BUF_INIT;
	char *line, *next;
	int r = 0;

	if (read_lines(file, &b))
		return ERR_IO;
	for (line = b.data; line < b.data + b.len && !r; line = next) {
		char *end = memchr(line, '\n', (size_t)(b.data + b.len - line));
		next = end ? end + 1 : b.data + b.len;
		if (!end)
			end = b.data + b.len;
		if (end > line) {
			char *p = xstrndup(line, (size_t)(end - line));
			r = drecurse_add_rx(o, p);
			if (r)
				err_set(r, "invalid --exclude-rx pattern (%s): %s",
					p, err_last());
			free(p);
		}
	}
	buf_release(&b);
	return r;
}

void drecurse_add_xdev_exception(struct drecurse_opts *o, const char *path)
{
	ALLOC_GROW(o->xdev_exceptions, o->nr_xdev_exceptions + 1,
		   o->alloc_xdev_exceptions);
	o->xdev_exceptions[o->nr_xdev_exceptions++] = xstrdup(path);
}

/* ---- the walk -------------------------------------------------------- */

struct dent {
	size_t name;   /* offset in names */
	size_t len;
	struct stat st;
};

struct walk {
	struct drecurse_opts *o;
	drecurse_fn fn;
	void *data;
	struct buf path;
	struct buf tmp;
	int has_xdev;
	dev_t xdev;
};

static void report(struct walk *w, struct buf *msg)
{
	if (w->o->error)
		w->o->error(w->o->error_data, msg->data);
	buf_reset(msg);
}

static int is_excluded(struct walk *w, const char *path)
{
	struct drecurse_opts *o = w->o;
	const char *key;

	if (!o->nr_excluded)
		return 0;
	if (!o->sorted) {
		qsort(o->excluded, o->nr_excluded, sizeof(char *), strv_cmp);
		o->sorted = 1;
	}
	buf_reset(&w->tmp);
	pypath_normpath(&w->tmp, path);
	key = w->tmp.data;
	return bsearch(&key, o->excluded, o->nr_excluded, sizeof(char *),
		       strv_cmp) != NULL;
}

static int rx_excluded(struct walk *w, const char *path)
{
	for (size_t i = 0; i < w->o->nr_rxs; i++)
		if (!regexec(&w->o->rxs[i], path, 0, NULL, 0))
			return 1;
	return 0;
}

static int xdev_exception(struct walk *w, const char *path)
{
	for (size_t i = 0; i < w->o->nr_xdev_exceptions; i++)
		if (!strcmp(w->o->xdev_exceptions[i], path))
			return 1;
	return 0;
}

static int name_cmp_desc(const void *a, const void *b, void *names)
{
	const struct dent *x = a, *y = b;
	const char *n = names;
	int c = memcmp(n + x->name, n + y->name, MIN(x->len, y->len));
	if (!c)
		c = x->len < y->len ? -1 : x->len > y->len;
	return -c;
}

static int walk_dir(struct walk *w, int dfd);

/* List dfd (which is consumed), then visit its entries. */
static int walk_dir(struct walk *w, int dfd)
{
	struct buf names = BUF_INIT, msg = BUF_INIT;
	struct dent *ents = NULL;
	size_t nr = 0, alloc = 0, base = w->path.len;
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		add_path_prefix(&msg, w->path.data);
		pypath_oserror(&msg, errno, w->path.data, 1);
		report(w, &msg);
		goto out;
	}
	while ((errno = 0, de = readdir(d))) {
		struct dent *e;
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' &&
		    (n == 1 || (n == 2 && de->d_name[1] == '.')))
			continue;
		ALLOC_GROW(ents, nr + 1, alloc);
		e = &ents[nr];
		if (fstatat(dirfd(d), de->d_name, &e->st,
			    AT_SYMLINK_NOFOLLOW) < 0) {
			/* bup: '%s: %s' % (resolve_parent(n), e) */
			buf_setlen(&w->path, base);
			buf_add(&w->path, de->d_name, n);
			buf_reset(&w->tmp);
			pypath_resolve_parent(&w->tmp, w->path.data);
			add_path_prefix(&msg, w->tmp.data);
			pypath_oserror(&msg, errno, de->d_name, 0);
			report(w, &msg);
			continue;
		}
		e->name = names.len;
		buf_add(&names, de->d_name, n);
		if (S_ISDIR(e->st.st_mode)) {
			buf_addch(&names, '/');
			n++;
		}
		buf_addch(&names, '\0');
		e->len = n;
		nr++;
	}
	if (errno) {
		buf_setlen(&w->path, base);
		add_path_prefix(&msg, w->path.data);
		pypath_oserror(&msg, errno, w->path.data, 1);
		report(w, &msg);
	}
	if (nr)
		qsort_r(ents, nr, sizeof(*ents), name_cmp_desc, names.data);

	for (size_t i = 0; i < nr && !r; i++) {
		struct dent *e = &ents[i];
		const char *name = names.data + e->name;

		buf_setlen(&w->path, base);
		buf_add(&w->path, name, e->len);
		if (is_excluded(w, w->path.data) ||
		    rx_excluded(w, w->path.data))
			continue;
		if (name[e->len - 1] == '/') {
			int skip_contents = 0;
			if (w->o->bup_dir) {
				buf_reset(&w->tmp);
				pypath_normpath(&w->tmp, w->path.data);
				if (!strcmp(w->tmp.data, w->o->bup_dir))
					continue;
			}
			if (w->has_xdev && e->st.st_dev != w->xdev &&
			    !xdev_exception(w, w->path.data))
				skip_contents = 1;
			if (!skip_contents && w->o->exclude_if_present) {
				char *m = xstrfmt("%.*s/%s", (int)e->len - 1,
						  name, w->o->exclude_if_present);
				struct stat mst;
				if (!fstatat(dirfd(d), m, &mst,
					     AT_SYMLINK_NOFOLLOW))
					skip_contents = 1;
				free(m);
			}
			if (!skip_contents) {
				char *n = xstrndup(name, e->len - 1);
				int cfd = openat(dirfd(d), n,
						 O_RDONLY | O_NOFOLLOW |
						 O_NONBLOCK | O_DIRECTORY |
						 O_CLOEXEC);
				free(n);
				if (cfd < 0) {
					int err = errno;
					buf_setlen(&w->path, base);
					add_path_prefix(&msg, w->path.data);
					pypath_oserror(&msg, err, name, 1);
					report(w, &msg);
					buf_add(&w->path, name, e->len);
				} else {
					r = walk_dir(w, cfd);
					if (r)
						break;
					buf_setlen(&w->path, base);
					buf_add(&w->path, name, e->len);
				}
			}
		}
		r = w->fn(w->data, w->path.data, w->path.len, &e->st);
	}
out:
	buf_setlen(&w->path, base);
	if (d)
		closedir(d);
	free(ents);
	buf_release(&names);
	buf_release(&msg);
	return r;
}

int drecurse_walk(struct drecurse_opts *o, const char *const *paths,
		  size_t nr, drecurse_fn fn, void *data)
{
	struct walk w;
	struct buf msg = BUF_INIT;
	int r = 0;

	memset(&w, 0, sizeof(w));
	w.o = o;
	w.fn = fn;
	w.data = data;
	for (size_t i = 0; i < nr && !r; i++) {
		const char *path = paths[i];
		struct stat st;
		int fd;

		if (lstat(path, &st) < 0) {
			buf_addstr(&msg, "recursive_dirlist: ");
			pypath_oserror(&msg, errno, path, 0);
			report(&w, &msg);
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			r = fn(data, path, strlen(path), &st);
			continue;
		}
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			pypath_oserror(&msg, errno, path, 1);
			report(&w, &msg);
			continue;
		}
		if (fstat(fd, &st) < 0) {
			pypath_oserror(&msg, errno, path, 1);
			report(&w, &msg);
			close(fd);
			continue;
		}
		/* bup: xdev = pst.st_dev if xdev else None, per top path */
		w.has_xdev = o->xdev;
		w.xdev = st.st_dev;
		buf_reset(&w.path);
		buf_addstr(&w.path, path);
		if (S_ISDIR(st.st_mode)) {
			/* os.path.join(path, b'') */
			if (!w.path.len || w.path.data[w.path.len - 1] != '/')
				buf_addch(&w.path, '/');
			r = walk_dir(&w, fd);
			if (r)
				break;
		} else {
			close(fd);
		}
		r = fn(data, w.path.data, w.path.len, &st);
	}
	buf_release(&w.path);
	buf_release(&w.tmp);
	buf_release(&msg);
	return r;
}
