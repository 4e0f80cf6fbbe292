/*
 * The restorer (restore.h): bup 0.33.7's restore walk over the VFS
 * (FORMAT.md 6.2), local or a server's (FORMAT.md 7.3: the same walk
 * over client_vfs_new, file contents through one `join` each):
 * directories are created first and get their metadata after their
 * contents (so times and read-only modes stick), files are streamed
 * blob by blob, hard links are re-created from the recorded targets
 * (FORMAT.md 5.6).
 *
 * Safety: names come from trees, which are untrusted input.  A name that
 * is empty, "." or "..", or contains a slash is refused, and everything
 * is made relative to directory descriptors opened without following a
 * symlink (see "Directories" below), so nothing is ever written outside
 * the target directory, nor any metadata applied there, even if symlinks
 * are planted on the way or swapped in while the restore runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/meta.h"
#include "pipelines/restore.h"
#include "pipelines/restore_writer.h"
#include "platform/fs.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/pypath.h"
#include "util/util.h"
#include "vfs/vfs.h"

struct hardlink {
	char *target;       /* recorded hardlink target */
	char *path;         /* where we restored one of its files */
	struct oid oid;
	struct meta meta;
};

/* One level of the directories being restored (see "Directories"). */
struct rdir {
	int fd;             /* -1: parked */
	int lost;           /* replaced: nothing more is done in it */
	dev_t dev;
	ino_t ino;
	char *name;         /* in its parent ("." for the target) */
	char *path;         /* for messages: "/a/b" ("" for the target) */
};

struct restore_ctx {
	struct vfs *vfs;
	const struct restore_opts *o;
	struct hardlink *links;
	size_t nr_links, alloc_links;
	const char *top;            /* the target, for messages */
	int topfd;                  /* open on it: dirs[0].fd */
	struct rdir *dirs;          /* dirs[0] the target, then each level */
	size_t nr_dirs, alloc_dirs;
	size_t nr_open, max_open;   /* levels held open, and the bound */
	unsigned long total;
	struct buf wbuf;            /* small pieces gathered for one write */
	struct restore_writer *w;   /* NULL: everything on this thread */
};

/* bup's add_error(): through the caller's callback */
static PRINTF(2, 3) void report(struct restore_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(c->o->error, c->o->data, fmt, ap);
	va_end(ap);
}

static void output(struct restore_ctx *c, const char *line)
{
	if (c->o->output)
		c->o->output(c->o->data, line);
}

static void warn_cb(void *ctx, const char *msg)
{
	report(ctx, "%s", msg);
}

/* A tree entry name we can create safely in the current directory. */
static int safe_name(const char *name)
{
	return name[0] && strcmp(name, ".") && strcmp(name, "..") &&
	       !strchr(name, '/');
}

static int excluded(struct restore_ctx *c, const char *path)
{
	for (size_t i = 0; i < c->o->nr_exclude; i++)
		if (!regexec(&c->o->exclude[i], path, 0, NULL, 0))
			return 1;
	return 0;
}

static const char *map_lookup(const struct restore_map *m, const char *v)
{
	for (size_t i = 0; i < m->nr; i++)
		if (!strcmp(m->old[i], v))
			return m->new[i];
	return NULL;
}

/*
 * The owner mappings of --map-*, then meta_apply_at (bup's
 * apply_metadata) on name in dirfd, or through fd when it is open on the
 * object (a regular file, a directory).
 */
static void apply_meta(struct restore_ctx *c, const struct meta *src,
		       const char *name, int dirfd, int fd)
{
	struct meta_at at = { dirfd, name, name, fd };
	struct meta m;
	const char *v;
	char num[32];

	meta_init(&m);
	meta_copy(&m, src);
	if ((v = map_lookup(&c->o->maps[RESTORE_MAP_USER], m.user.data))) {
		buf_reset(&m.user);
		buf_addstr(&m.user, v);
	}
	if ((v = map_lookup(&c->o->maps[RESTORE_MAP_GROUP], m.group.data))) {
		buf_reset(&m.group);
		buf_addstr(&m.group, v);
	}
	snprintf(num, sizeof(num), "%lld", (long long)m.uid);
	if ((v = map_lookup(&c->o->maps[RESTORE_MAP_UID], num)))
		m.uid = strtoll(v, NULL, 10);
	snprintf(num, sizeof(num), "%lld", (long long)m.gid);
	if ((v = map_lookup(&c->o->maps[RESTORE_MAP_GID], num)))
		m.gid = strtoll(v, NULL, 10);
	if (meta_apply_at(&m, &at, c->o->numeric_ids ? META_NUMERIC_IDS : 0,
			  warn_cb, c) < 0)
		report(c, "%s", err_last());
	meta_release(&m);
}

/*
 * bup's augment_item_meta: an item without a record gets a stand-in
 * with its mode, no owner (uid/gid -1: left alone) and zero times.
 */
static int item_meta(struct restore_ctx *c, const struct vfs_item *it,
		     struct meta *out)
{
	uint64_t size;
	int ret;

	if (it->has_meta) {
		meta_copy(out, &it->meta);
		if (out->size < 0 && S_ISREG(it->mode)) {
			ret = vfs_item_size(c->vfs, it, &size);
			if (ret < 0)
				return ret;
			out->size = (int64_t)size;
		}
		return 0;
	}
	meta_reset(out);
	out->mode = it->mode;
	out->uid = out->gid = -1;
	if (S_ISLNK(it->mode)) {
		ret = vfs_readlink(c->vfs, it, &out->symlink_target);
		if (ret < 0)
			return ret;
		out->size = (int64_t)out->symlink_target.len;
	}
	return 0;
}

struct content_out {
	int fd;
	int sparse;
	uint64_t pending;           /* zeros not yet written (--sparse) */
	const char *name;
	struct buf *wbuf;
	struct restore_writer *w;   /* the writer thread, or NULL */
};

/*
 * Pieces arrive a chunk (about 8 KiB) at a time: gather them into
 * writes of up to WRITE_GATHER bytes, which halves the write calls of a
 * restore of ordinary files.
 */
#define WRITE_GATHER (128 * 1024)

static int flush_gathered(struct content_out *o)
{
	if (!o->wbuf->len)
		return 0;
	if (o->w) {
		restore_writer_data(o->w, o->fd, o->wbuf, o->name);
		return 0;
	}
	if (write_full(o->fd, o->wbuf->data, o->wbuf->len) < 0)
		return err_errno("write error on '%s'", o->name);
	buf_reset(o->wbuf);
	return 0;
}

static int put_piece(void *ctx, const void *data, size_t len)
{
	struct content_out *o = ctx;
	const unsigned char *p = data;
	size_t i = 0;

	if (!o->sparse) {
		if (len >= WRITE_GATHER / 2 && !o->w) {
			if (flush_gathered(o) < 0 ||
			    write_full(o->fd, p, len) < 0)
				goto werr;
			return 0;
		}
		/* whole buffers of WRITE_GATHER: the queue stays bounded */
		while (len) {
			size_t n = MIN(len, WRITE_GATHER - o->wbuf->len);
			buf_add(o->wbuf, p, n);
			p += n;
			len -= n;
			if (o->wbuf->len == WRITE_GATHER &&
			    flush_gathered(o) < 0)
				return -1;
		}
		return 0;
	}
	/*
	 * --sparse: runs of zeros of 512 bytes or more (and zeros at the
	 * end of the file) become holes, as bup's write_sparsely.
	 */
	while (i < len) {
		size_t z = i, d;
		while (z < len && !p[z])
			z++;
		if (z == len) {         /* zeros up to the end */
			o->pending += len - i;
			break;
		}
		if (z - i >= 512 || (i == 0 && o->pending + z >= 512)) {
			o->pending += z - i;
		} else if (z > i || o->pending) {
			/* a short zero run: write it as data */
			if (o->pending) {
				if (o->pending < 512) {
					static const char zeros[512];
					if (write_full(o->fd, zeros,
						       (size_t)o->pending) < 0)
						goto werr;
				} else if (lseek(o->fd, (off_t)o->pending,
						 SEEK_CUR) < 0) {
					goto werr;
				}
				o->pending = 0;
			}
			if (z > i && write_full(o->fd, p + i, z - i) < 0)
				goto werr;
		}
		if (o->pending >= 512) {
			if (lseek(o->fd, (off_t)o->pending, SEEK_CUR) < 0)
				goto werr;
			o->pending = 0;
		}
		d = z;
		while (d < len && p[d])
			d++;
		if (o->pending) {
			static const char zeros[512];
			if (write_full(o->fd, zeros, (size_t)o->pending) < 0)
				goto werr;
			o->pending = 0;
		}
		if (write_full(o->fd, p + z, d - z) < 0)
			goto werr;
		i = d;
	}
	return 0;
werr:
	return err_errno("write error on '%s'", o->name);
}

static int write_content(struct restore_ctx *c, const struct vfs_item *it,
			 const char *name, int fd, struct restore_writer *w)
{
	struct content_out o = { fd, c->o->sparse, 0, name, &c->wbuf, w };
	int ret;

	/*
	 * meta_create_fd() has just made the file, empty (O_EXCL), and
	 * left it open: no second open, and no O_TRUNC (ext4 flushes a
	 * truncated-then-written file at close: auto_da_alloc).
	 */
	/* one streamed join from a server, blob by blob locally */
	buf_reset(&c->wbuf);
	ret = vfs_file_stream(c->vfs, &it->oid, put_piece, &o);
	if (ret < 0)
		return ret;
	if (flush_gathered(&o) < 0)
		return -1;
	if (o.pending) {
		off_t end = lseek(o.fd, (off_t)o.pending, SEEK_CUR);
		if (end < 0 || ftruncate(o.fd, end) < 0)
			return err_errno("write error on '%s'", name);
	}
	return 0;
}

/*
 * Link name in dfd to the file restored at path ("/a/b", under the
 * target): its directory is opened beneath the target without following
 * a symlink, so a link never leads to a file outside it, whatever was
 * swapped in since.  1 if linked, 0 if that file is not there (bup's
 * lstat fails) or is on another file system, or an error.
 */
static int link_to(struct restore_ctx *c, const char *path, int dfd,
		   const char *name, const char *fullname)
{
	const char *base = path + 1, *slash = strrchr(base, '/');
	int sfd = c->topfd, ret = 0, e;
	struct stat st;

	if (slash) {
		char *dir = xstrndup(base, (size_t)(slash - base));
		sfd = plat_fs_open_dir(c->topfd, dir, PLAT_FS_PATH);
		free(dir);
		base = slash + 1;
		if (sfd < 0)
			return 0;
	}
	if (fstatat(sfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto out;
	if (linkat(sfd, base, dfd, name, 0) == 0) {
		ret = 1;
	} else if (errno != EXDEV) {
		char *prev;
		e = errno;
		prev = xstrfmt("%s%s", c->top, path);
		errno = e;
		ret = err_errno("cannot link '%s' to '%s'", prev, fullname);
		free(prev);
	}
out:
	if (sfd != c->topfd)
		close(sfd);
	return ret;
}

/* bup's hardlink_if_possible; returns 1 if a link was made. */
static int hardlink_if_possible(struct restore_ctx *c, const char *fullname,
				const struct vfs_item *it,
				const struct meta *m, int dfd,
				const char *name)
{
	const char *target = m->hardlink_target.data;

	for (size_t i = 0; i < c->nr_links; i++) {
		struct hardlink *h = &c->links[i];
		int ret;
		if (strcmp(h->target, target))
			continue;
		if (!oid_eq(&h->oid, &it->oid) || h->meta.mode != m->mode ||
		    h->meta.mtime.sec != m->mtime.sec ||
		    h->meta.mtime.nsec != m->mtime.nsec ||
		    h->meta.ctime.sec != m->ctime.sec ||
		    h->meta.ctime.nsec != m->ctime.nsec ||
		    !meta_same_file(&h->meta, m))
			continue;
		ret = link_to(c, h->path, dfd, name, fullname);
		if (ret)
			return ret;
	}
	ALLOC_GROW(c->links, c->nr_links + 1, c->alloc_links);
	c->links[c->nr_links].target = xstrdup(target);
	c->links[c->nr_links].path = xstrdup(fullname);
	c->links[c->nr_links].oid = it->oid;
	meta_init(&c->links[c->nr_links].meta);
	meta_copy(&c->links[c->nr_links].meta, m);
	c->nr_links++;
	return 0;
}

static void progress(struct restore_ctx *c)
{
	if (c->o->verbosity >= 0 && c->o->progress)
		c->o->progress(c->o->data, c->total);
}

/*
 * Directories.  Everything is made relative to a directory descriptor:
 * the target's, opened once, then each restored directory's, opened from
 * its parent's right after mkdirat() without following a symlink
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or O_NOFOLLOW), and
 * held while its contents are made and until its metadata is applied
 * through it (futimens, fchown, fchmod, acl_set_fd, fsetxattr).  So
 * whoever can write the target and swaps a restored directory for a
 * symlink, or for another directory, while the restore runs changes
 * nothing outside it: the contents still go into the directory restore
 * made, and its metadata is refused, with a message naming it, once its
 * name no longer leads to it; it is never applied to what the name
 * leads to by then.
 *
 * That is a descriptor per level of depth.  Beyond max_open levels (half
 * of RLIMIT_NOFILE) the shallowest ones are closed ("parked") and opened
 * again when the walk comes back to them, name by name from the nearest
 * open level, never following a symlink, each one checked to be the
 * directory it was (st_dev, st_ino); one that is not was replaced, and
 * the restore leaves it and everything under it alone.
 */
static int dirs_init(struct restore_ctx *c)
{
	struct rlimit rl;
	struct stat st;
	size_t max = 1024;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		max = (size_t)rl.rlim_cur;
	/* the other half: packs, the writer's files, the server's pipes */
	c->max_open = MAX(max / 2, 8);
	if (fstat(c->topfd, &st) < 0)
		return err_errno("cannot stat '%s'", c->top);
	ALLOC_GROW(c->dirs, 1, c->alloc_dirs);
	c->dirs[0].fd = c->topfd;
	c->dirs[0].lost = 0;
	c->dirs[0].dev = st.st_dev;
	c->dirs[0].ino = st.st_ino;
	c->dirs[0].name = xstrdup(".");
	c->dirs[0].path = xstrdup("");
	c->nr_dirs = 1;
	c->nr_open = 1;
	return 0;
}

static void dirs_release(struct restore_ctx *c)
{
	for (size_t i = 1; i < c->nr_dirs; i++)
		if (c->dirs[i].fd >= 0)
			close(c->dirs[i].fd);
	for (size_t i = 0; i < c->nr_dirs; i++) {
		free(c->dirs[i].name);
		free(c->dirs[i].path);
	}
	free(c->dirs);
}

/* Park the shallowest open levels below `keep` while over the bound. */
static void dirs_trim(struct restore_ctx *c, size_t keep)
{
	for (size_t i = 1; i < keep && c->nr_open > c->max_open; i++) {
		if (c->dirs[i].fd < 0)
			continue;
		close(c->dirs[i].fd);
		c->dirs[i].fd = -1;
		c->nr_open--;
	}
}

/* Level `level` and everything under it were replaced: say so, once. */
static void dirs_replaced(struct restore_ctx *c, size_t level)
{
	report(c, "error: '%s' was replaced while restoring; "
		      "leaving it alone", c->dirs[level].path);
	for (size_t i = level; i < c->nr_dirs; i++)
		c->dirs[i].lost = 1;
}

/*
 * The descriptor of a level, opened again if it was parked; -1 when the
 * level (or one above it) was replaced, which has been reported.
 */
static int dirs_fd(struct restore_ctx *c, size_t level)
{
	size_t k = level, room;
	int prev;

	/* dirs[0] is never parked nor lost */
	while (!c->dirs[k].lost && c->dirs[k].fd < 0)
		k--;
	for (size_t i = k; i <= level; i++)
		if (c->dirs[i].lost)
			return -1;
	if (k == level)
		return c->dirs[level].fd;
	/*
	 * The levels reopened on the way are kept while there is room,
	 * the deepest first: the walk climbs back through them next.
	 */
	room = c->max_open > c->nr_open ? c->max_open - c->nr_open : 0;
	prev = c->dirs[k].fd;
	for (size_t i = k + 1; i <= level; i++) {
		struct rdir *d = &c->dirs[i];
		struct stat st;
		int fd = plat_fs_open_dir(prev, d->name,
					  PLAT_FS_PATH_IF_UNREADABLE);
		int e = errno;

		if (prev != c->dirs[i - 1].fd)
			close(prev);    /* a level we could not keep */
		if (fd >= 0 && fstat(fd, &st) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
		if (fd < 0 && e != ENOENT && e != ELOOP && e != ENOTDIR) {
			report(c, "error: cannot enter '%s': %s", d->path,
				      strerror(e));
			for (size_t j = i; j < c->nr_dirs; j++)
				c->dirs[j].lost = 1;
			return -1;
		}
		if (fd < 0 || st.st_dev != d->dev || st.st_ino != d->ino) {
			if (fd >= 0)
				close(fd);
			dirs_replaced(c, i);
			return -1;
		}
		if (level - i < MAX(room, 1)) {
			d->fd = fd;
			c->nr_open++;
		}
		prev = fd;
	}
	dirs_trim(c, level ? level - 1 : 0);
	return c->dirs[level].fd;
}

static void dirs_push(struct restore_ctx *c, const char *name,
		      const char *path, int fd, const struct stat *st)
{
	struct rdir *d;

	ALLOC_GROW(c->dirs, c->nr_dirs + 1, c->alloc_dirs);
	d = &c->dirs[c->nr_dirs++];
	d->fd = fd;
	d->lost = 0;
	d->dev = st->st_dev;
	d->ino = st->st_ino;
	d->name = xstrdup(name);
	d->path = xstrdup(path);
	c->nr_open++;
	/* (the new level and its parent stay open) */
	dirs_trim(c, c->nr_dirs - 2);
}

static void dirs_pop(struct restore_ctx *c)
{
	struct rdir *d = &c->dirs[--c->nr_dirs];

	if (d->fd >= 0) {
		close(d->fd);
		c->nr_open--;
	}
	free(d->name);
	free(d->path);
}

/*
 * The metadata of the directory at `level`, once its contents are made:
 * through its descriptor, and only while its name in its parent still
 * leads to it.
 */
static void dirs_finish(struct restore_ctx *c, size_t level,
			const struct meta *m)
{
	struct rdir *d = &c->dirs[level];
	struct stat st;
	int pfd, fd;

	if (d->lost)
		return;
	pfd = dirs_fd(c, level - 1);
	fd = pfd < 0 ? -1 : dirs_fd(c, level);
	if (fd < 0)
		return;
	if (fstatat(pfd, d->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != d->dev || st.st_ino != d->ino) {
		dirs_replaced(c, level);
		return;
	}
	apply_meta(c, m, d->name, pfd, fd);
}

static int restore_item(struct restore_ctx *c, size_t level, int dfd,
			const char *parent, const char *name,
			const struct vfs_item *it);

static int restore_dir_contents(struct restore_ctx *c, size_t level,
				const char *fullname,
				const struct vfs_list *l)
{
	for (size_t i = 1; i < l->nr; i++) {
		/* (again for each entry: a subdirectory may park it) */
		int dfd = dirs_fd(c, level), ret;
		if (dfd < 0)
			return 0;       /* replaced: reported */
		ret = restore_item(c, level, dfd, fullname, l->e[i].name,
				   &l->e[i].item);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* name in the directory of `level`, open as dfd */
static int restore_item(struct restore_ctx *c, size_t level, int dfd,
			const char *parent, const char *name,
			const struct vfs_item *it)
{
	struct buf full = BUF_INIT, rxpath = BUF_INIT;
	struct meta_at at = { dfd, name, name, -1 };
	struct meta m;
	int dir = S_ISDIR(it->mode), fd = -1;
	int ret = 0;

	meta_init(&m);
	buf_addf(&full, "%s/%s", parent, name);
	if (!safe_name(name)) {
		report(c, "error: refusing to restore unsafe name '%s' in '%s/'",
			      name, parent);
		goto out;
	}
	buf_addf(&rxpath, "%s%s", full.data, dir ? "/" : "");
	if (excluded(c, rxpath.data))
		goto out;

	if (dir) {
		struct vfs_list l;
		struct stat st;

		if (c->o->verbosity >= 1) {
			buf_addch(&full, '/');
			output(c, full.data);
			buf_setlen(&full, full.len - 1);
		}
		vfs_list_init(&l);
		ret = vfs_contents(c->vfs, it, 1, &l);
		if (ret < 0) {
			vfs_list_release(&l);
			goto out;
		}
		ret = item_meta(c, &l.e[0].item, &m);
		if (ret < 0) {
			vfs_list_release(&l);
			goto out;
		}
		if (meta_create_at(&m, &at, 0, warn_cb, c, NULL) < 0) {
			report(c, "%s", err_last());
			vfs_list_release(&l);
			goto out;
		}
		fd = plat_fs_open_dir(dfd, name, 0);
		if (fd < 0 || fstat(fd, &st) < 0) {
			report(c, "error: cannot enter '%s': %s", full.data,
				      strerror(errno));
			vfs_list_release(&l);
			goto out;
		}
		dirs_push(c, name, full.data, fd, &st);
		fd = -1;
		c->total++;
		progress(c);
		ret = restore_dir_contents(c, level + 1, full.data, &l);
		vfs_list_release(&l);
		if (ret >= 0)
			dirs_finish(c, level + 1, &m);
		dirs_pop(c);
		goto out;
	}

	ret = item_meta(c, it, &m);
	if (ret < 0)
		goto out;
	if (S_ISLNK(m.mode) && c->o->verbosity >= 2) {
		struct buf line = BUF_INIT;
		buf_addf(&line, "%s@ -> %s", full.data, m.symlink_target.data);
		output(c, line.data);
		buf_release(&line);
	} else if (c->o->verbosity >= 2) {
		output(c, full.data);
	}
	if (m.hardlink_target.len) {
		ret = hardlink_if_possible(c, full.data, it, &m, dfd, name);
		if (ret < 0)
			goto out;
		if (ret == 1) {
			ret = 0;
			c->total++;
			progress(c);
			goto out;
		}
	}
	if (meta_create_at(&m, &at, 0, warn_cb, c, &fd) < 0) {
		report(c, "%s", err_last());
		goto out;
	}
	/*
	 * To the writer thread (restore_writer.h), except files with ACLs
	 * or xattrs: finished here, their warnings then come in walk
	 * order, as bup's.
	 */
	if (fd >= 0 && c->w && !m.has_acl && !m.nr_xattrs) {
		ret = write_content(c, it, name, fd, c->w);
		/* what was queued gets written; the fd closes there */
		restore_writer_finish(c->w, fd, &m, name, ret >= 0);
		fd = -1;
		if (ret < 0)
			goto out;
		c->total++;
		progress(c);
		ret = restore_writer_failed(c->w);
		goto out;
	}
	if (fd >= 0) {
		ret = write_content(c, it, name, fd, NULL);
		if (ret < 0)
			goto out;
	}
	c->total++;
	progress(c);
	/* through the still open fd: futimens/fchown/fchmod */
	apply_meta(c, &m, name, dfd, fd);
	if (fd >= 0) {
		int e = close(fd);
		fd = -1;
		if (e < 0)
			ret = err_errno("write error on '%s'", name);
	}
out:
	if (fd >= 0)
		close(fd);
	meta_release(&m);
	buf_release(&full);
	buf_release(&rxpath);
	return ret;
}

/* bup's valid_restore_path: at least /BRANCH/REVISION. */
int restore_valid_path(const char *path)
{
	const char *p = path;

	while (*p == '/')
		p++;
	for (; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			return 1;
	return 0;
}

static void restore_one(struct restore_ctx *c, const char *path)
{
	struct vfs_list res, tmp, l;
	struct buf r1 = BUF_INIT, r2 = BUF_INIT;
	const char *slash = strrchr(path, '/');
	const char *path_name = slash ? slash + 1 : path;
	struct vfs_entry *leaf;
	int err_no, ret;

	vfs_list_init(&res);
	vfs_list_init(&tmp);
	vfs_list_init(&l);
	if (!restore_valid_path(path)) {
		pypath_bytes_repr(&r1, path, strlen(path));
		report(c, "path %s doesn't include a branch and revision",
			      r1.data);
		goto out;
	}
	ret = vfs_resolve(c->vfs, path, NULL, 1, 0, &res, &err_no);
	if (ret < 0) {
		report(c, "%s", err_last());
		goto out;
	}
	if (res.nr == 3 && !strcmp(res.e[2].name, "latest")) {
		struct vfs_list parent;
		vfs_list_init(&parent);
		vfs_list_copy(&parent, &res);
		parent.nr--;                         /* borrow, not owned */
		ret = vfs_resolve(c->vfs, "latest", &parent, 1, 1, &tmp,
				  &err_no);
		parent.nr++;
		vfs_list_release(&parent);
		if (ret < 0) {
			report(c, "%s", err_last());
			goto out;
		}
		if (tmp.nr >= 3) {
			free(tmp.e[2].name);
			tmp.e[2].name = xstrdup("latest");
		}
		vfs_list_release(&res);
		res = tmp;
		vfs_list_init(&tmp);
	}
	leaf = &res.e[res.nr - 1];
	if (leaf->item.kind == VFS_MISSING) {
		struct buf joined = BUF_INIT;
		for (size_t i = 0; i < res.nr; i++)
			buf_addf(&joined, "%s%s", i ? "/" : "", res.e[i].name);
		pypath_bytes_repr(&r1, joined.data, joined.len);
		pypath_bytes_repr(&r2, path, strlen(path));
		report(c, "error: cannot access %s in %s", r1.data,
			      r2.data);
		buf_release(&joined);
		goto out;
	}
	if (!*path_name || !strcmp(path_name, ".")) {
		struct meta m;
		if (!S_ISDIR(leaf->item.mode)) {
			pypath_bytes_repr(&r1, path, strlen(path));
			report(c, "%s cannot be restored as a directory",
				      r1.data);
			goto out;
		}
		ret = vfs_contents(c->vfs, &leaf->item, 1, &l);
		if (ret < 0) {
			report(c, "%s", err_last());
			goto out;
		}
		if (restore_dir_contents(c, 0, "", &l) < 0)
			report(c, "%s", err_last());
		if (!strcmp(path_name, ".")) {
			meta_init(&m);
			if (item_meta(c, &l.e[0].item, &m) == 0)
				apply_meta(c, &m, ".", AT_FDCWD, c->topfd);
			meta_release(&m);
		}
	} else if (restore_item(c, 0, c->topfd, "", leaf->name,
				&leaf->item) < 0) {
		report(c, "%s", err_last());
	}
out:
	buf_release(&r1);
	buf_release(&r2);
	vfs_list_release(&res);
	vfs_list_release(&tmp);
	vfs_list_release(&l);
}


void restore_opts_init(struct restore_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->threads = 1;
}

void restore_opts_release(struct restore_opts *o)
{
	for (int k = 0; k < RESTORE_MAP_NR; k++) {
		struct restore_map *m = &o->maps[k];
		for (size_t i = 0; i < m->nr; i++) {
			free(m->old[i]);
			free(m->new[i]);
		}
		free(m->old);
		free(m->new);
		memset(m, 0, sizeof(*m));
	}
}

void restore_map_add(struct restore_map *m, const char *old, const char *new)
{
	ALLOC_GROW(m->old, m->nr + 1, m->alloc);
	m->new = xrealloc(m->new, m->alloc * sizeof(*m->new));
	m->old[m->nr] = xstrdup(old);
	m->new[m->nr] = xstrdup(new);
	m->nr++;
}

/* The writer's "finish" of a file: its metadata, through its fd. */
static void finish_on_writer(void *data, int fd, const struct meta *m,
			     const char *name)
{
	apply_meta(data, m, name, -1, fd);
}

int restore_run(struct vfs *v, const struct restore_opts *opts,
		const char *const *paths, size_t nr, unsigned long *total)
{
	struct restore_ctx c;
	int ret;

	*total = 0;
	memset(&c, 0, sizeof(c));
	c.vfs = v;
	c.o = opts;
	c.top = opts->target_msg ? opts->target_msg : opts->target;
	/* opened once: nothing below is looked up through its path again */
	c.topfd = plat_fs_open_dir_nofollow(AT_FDCWD, opts->target,
					    PLAT_FS_PATH_IF_UNREADABLE);
	if (c.topfd < 0)
		return err_errno("cannot open '%s'", c.top);
	if ((ret = dirs_init(&c)) < 0) {
		close(c.topfd);
		return ret;
	}
	buf_init(&c.wbuf, WRITE_GATHER + 1);
	/*
	 * --sparse seeks and truncates: kept on this thread.  No thread
	 * (it could not start): everything on this one.
	 */
	if (!opts->sparse && opts->threads > 0 &&
	    restore_writer_new(&c.w, finish_on_writer, &c) < 0)
		c.w = NULL;
	for (size_t i = 0; i < nr; i++)
		restore_one(&c, paths[i]);
	/* a failure not yet taken by the walk is reported here */
	if (restore_writer_free(c.w) < 0)
		report(&c, "%s", err_last());
	c.w = NULL;
	*total = c.total;

	buf_release(&c.wbuf);
	for (size_t i = 0; i < c.nr_links; i++) {
		free(c.links[i].target);
		free(c.links[i].path);
		meta_release(&c.links[i].meta);
	}
	free(c.links);
	dirs_release(&c);
	close(c.topfd);
	return 0;
}
