/*
 * bup restore [-C outdir] [--sparse] [--numeric-ids] [--exclude-rx RX]
 *             [--map-user/group/uid/gid OLD=NEW] [-v] [-q] PATH...
 *
 * Extracts saved paths from the VFS (FORMAT.md 6.2), local or, with -r,
 * the server's (FORMAT.md 7.3; the same walk over client_vfs_new, file
 * contents through one `join` each): directories are
 * created first and get their metadata after their contents (so times
 * and read-only modes stick), files are streamed blob by blob, hard
 * links are re-created from the recorded targets (FORMAT.md 5.6).
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
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "remote/client.h"
#include "util/err.h"
#include "meta/meta.h"
#include "store/repo.h"
#include "vfs/vfs.h"
#include "platform/fs.h"

static const char optspec[] =
	"bup restore [-r host:path] [-C outdir] </branch/revision/path/to/dir ...>\n"
	"--\n"
	"r,remote=   remote repository path\n"
	"C,outdir=   change to given outdir before extracting files\n"
	"numeric-ids restore numeric IDs (user, group, etc.) rather than names\n"
	"exclude-rx= skip paths matching the unanchored regex (may be repeated)\n"
	"exclude-rx-from= skip --exclude-rx patterns in file (may be repeated)\n"
	"sparse      create sparse files\n"
	"v,verbose   increase log output (can be used more than once)\n"
	"map-user=   given OLD=NEW, restore OLD user as NEW user\n"
	"map-group=  given OLD=NEW, restore OLD group as NEW group\n"
	"map-uid=    given OLD=NEW, restore OLD uid as NEW uid\n"
	"map-gid=    given OLD=NEW, restore OLD gid as NEW gid\n"
	"q,quiet     don't show progress meter\n";

struct owner_map {
	char **old, **new;
	size_t nr, alloc;
};

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
	int verbosity;
	int sparse;
	int numeric_ids;
	regex_t *rx;
	size_t nr_rx, alloc_rx;
	struct owner_map maps[4];   /* user, group, uid, gid */
	struct hardlink *links;
	size_t nr_links, alloc_links;
	char *top;                  /* absolute restore directory */
	int topfd;                  /* open on it: dirs[0].fd */
	struct rdir *dirs;          /* dirs[0] the target, then each level */
	size_t nr_dirs, alloc_dirs;
	size_t nr_open, max_open;   /* levels held open, and the bound */
	unsigned long total;
	struct buf wbuf;            /* small pieces gathered for one write */
	struct writer *w;           /* NULL: everything on this thread */
};

enum { MAP_USER, MAP_GROUP, MAP_UID, MAP_GID };

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	cli_add_error("%s", msg);
}

/* A tree entry name we can create safely in the current directory. */
static int safe_name(const char *name)
{
	return name[0] && strcmp(name, ".") && strcmp(name, "..") &&
	       !strchr(name, '/');
}

static int excluded(struct restore_ctx *c, const char *path)
{
	for (size_t i = 0; i < c->nr_rx; i++)
		if (!regexec(&c->rx[i], path, 0, NULL, 0))
			return 1;
	return 0;
}

static const char *map_lookup(const struct owner_map *m, const char *v)
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
	if ((v = map_lookup(&c->maps[MAP_USER], m.user.data))) {
		buf_reset(&m.user);
		buf_addstr(&m.user, v);
	}
	if ((v = map_lookup(&c->maps[MAP_GROUP], m.group.data))) {
		buf_reset(&m.group);
		buf_addstr(&m.group, v);
	}
	snprintf(num, sizeof(num), "%lld", (long long)m.uid);
	if ((v = map_lookup(&c->maps[MAP_UID], num)))
		m.uid = strtoll(v, NULL, 10);
	snprintf(num, sizeof(num), "%lld", (long long)m.gid);
	if ((v = map_lookup(&c->maps[MAP_GID], num)))
		m.gid = strtoll(v, NULL, 10);
	if (meta_apply_at(&m, &at, c->numeric_ids ? META_NUMERIC_IDS : 0,
			  warn_cb, NULL) < 0)
		cli_add_error("%s", err_last());
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

/*
 * The writer thread.  Restoring is reading objects (inflate: user time)
 * and making files (creat, write, close, times, owner: kernel time); on
 * one thread the two add up.  The walk stays on the main thread: it
 * makes every file and directory (so names, order and errors stay as
 * bup's) and reads the content; the writer gets the open fd with
 * gathered data, then a "finish" that sets the file's metadata through
 * the fd and closes it.  Only calls on that fd run there.  Files with
 * ACLs or xattrs are finished on the main thread (their warnings then
 * come in walk order, as bup's), and so is everything under --sparse.
 * Jobs of one file are contiguous and in order; the queue is bounded
 * (WQ_SLOTS buffers of WRITE_GATHER bytes).
 */
#define WQ_SLOTS 4

enum wjob_kind { WJOB_DATA, WJOB_FINISH };

struct wjob {
	enum wjob_kind kind;
	int apply;                  /* WJOB_FINISH: set the metadata */
	int fd;
	struct buf data;
	struct meta m;
	char *name;
};

struct writer {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t more, room;
	struct wjob q[WQ_SLOTS];
	size_t head, nr;
	int stop;
	int bad_fd;                 /* the file whose write failed */
	char *failed;               /* its message, for the main thread */
	struct restore_ctx *c;
};

static void apply_meta(struct restore_ctx *c, const struct meta *src,
		       const char *name, int dirfd, int fd);

/*
 * A failed write stops the restore as it does on one thread: the
 * message waits in w->failed for the main thread (writer_failed).
 */
static void writer_fail(struct writer *w, struct wjob *j)
{
	char *msg = xstrfmt("write error on '%s': %s", j->name,
			    strerror(errno));

	w->bad_fd = j->fd;
	pthread_mutex_lock(&w->lock);
	if (!w->failed)
		w->failed = msg;
	else
		free(msg);
	pthread_mutex_unlock(&w->lock);
}

static void writer_run(struct writer *w, struct wjob *j)
{
	if (j->kind == WJOB_DATA) {
		if (j->fd != w->bad_fd &&
		    write_full(j->fd, j->data.data, j->data.len) < 0)
			writer_fail(w, j);
		buf_reset(&j->data);
	} else {
		if (j->apply && j->fd != w->bad_fd)
			apply_meta(w->c, &j->m, j->name, -1, j->fd);
		if (close(j->fd) < 0 && j->fd != w->bad_fd)
			writer_fail(w, j);
		w->bad_fd = -1;
		meta_reset(&j->m);
	}
	free(j->name);
	j->name = NULL;
}

/* The writer's first failure as this thread's error (once), or 0. */
static int writer_failed(struct writer *w)
{
	char *msg;

	pthread_mutex_lock(&w->lock);
	msg = w->failed;
	w->failed = NULL;
	pthread_mutex_unlock(&w->lock);
	if (!msg)
		return 0;
	err_set(ERR_IO, "%s", msg);
	free(msg);
	return -1;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct wjob *j;
		while (!w->nr && !w->stop)
			pthread_cond_wait(&w->more, &w->lock);
		if (!w->nr)
			break;
		j = &w->q[w->head];
		pthread_mutex_unlock(&w->lock);
		writer_run(w, j);
		pthread_mutex_lock(&w->lock);
		w->head = (w->head + 1) % WQ_SLOTS;
		w->nr--;
		pthread_cond_signal(&w->room);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void writer_start(struct restore_ctx *c)
{
	struct writer *w = xcalloc(1, sizeof(*w));

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->more, NULL);
	pthread_cond_init(&w->room, NULL);
	for (size_t i = 0; i < WQ_SLOTS; i++) {
		w->q[i].data = (struct buf)BUF_INIT;
		meta_init(&w->q[i].m);
	}
	w->bad_fd = -1;
	w->c = c;
	if (pthread_create(&w->tid, NULL, writer_main, w)) {
		for (size_t i = 0; i < WQ_SLOTS; i++)
			meta_release(&w->q[i].m);
		free(w);
		return;     /* no thread: restore on this one */
	}
	c->w = w;
}

/* A free slot at the tail, waiting while the queue is full. */
static struct wjob *writer_slot(struct writer *w)
{
	struct wjob *j;

	pthread_mutex_lock(&w->lock);
	while (w->nr == WQ_SLOTS)
		pthread_cond_wait(&w->room, &w->lock);
	j = &w->q[(w->head + w->nr) % WQ_SLOTS];
	pthread_mutex_unlock(&w->lock);
	return j;
}

static void writer_push(struct writer *w)
{
	pthread_mutex_lock(&w->lock);
	w->nr++;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
}

/* Hand over the gathered bytes (a buffer swap, no copy). */
static void writer_data(struct writer *w, int fd, struct buf *data,
			const char *name)
{
	struct wjob *j = writer_slot(w);
	struct buf t = j->data;

	j->kind = WJOB_DATA;
	j->fd = fd;
	j->data = *data;
	*data = t;
	j->name = xstrdup(name);
	writer_push(w);
}

static void writer_finish(struct writer *w, int fd, const struct meta *m,
			  const char *name, int apply)
{
	struct wjob *j = writer_slot(w);

	j->kind = WJOB_FINISH;
	j->apply = apply;
	j->fd = fd;
	meta_copy(&j->m, m);
	j->name = xstrdup(name);
	writer_push(w);
}

/*
 * Wait for every job, stop the thread and free the queue; a failure not
 * yet taken by the main thread is reported here.
 */
static void writer_stop(struct restore_ctx *c)
{
	struct writer *w = c->w;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->tid, NULL);
	if (writer_failed(w))
		cli_add_error("%s", err_last());
	for (size_t i = 0; i < WQ_SLOTS; i++) {
		buf_release(&w->q[i].data);
		meta_release(&w->q[i].m);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->room);
	free(w);
	c->w = NULL;
}

/* Where file contents go while they stream in (vfs_file_stream). */
struct content_out {
	int fd;
	int sparse;
	uint64_t pending;           /* zeros not yet written (--sparse) */
	const char *name;
	struct buf *wbuf;
	struct writer *w;           /* the writer thread, or NULL */
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
		writer_data(o->w, o->fd, o->wbuf, o->name);
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
			 const char *name, int fd, struct writer *w)
{
	struct content_out o = { fd, c->sparse, 0, name, &c->wbuf, w };
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
	if (c->verbosity >= 0)
		cli_progress("Restoring: %lu\r", c->total);
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
static void dirs_init(struct restore_ctx *c)
{
	struct rlimit rl;
	struct stat st;
	size_t max = 1024;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		max = (size_t)rl.rlim_cur;
	/* the other half: packs, the writer's files, the server's pipes */
	c->max_open = MAX(max / 2, 8);
	if (fstat(c->topfd, &st) < 0)
		die("cannot stat '%s': %s", c->top, strerror(errno));
	ALLOC_GROW(c->dirs, 1, c->alloc_dirs);
	c->dirs[0].fd = c->topfd;
	c->dirs[0].lost = 0;
	c->dirs[0].dev = st.st_dev;
	c->dirs[0].ino = st.st_ino;
	c->dirs[0].name = xstrdup(".");
	c->dirs[0].path = xstrdup("");
	c->nr_dirs = 1;
	c->nr_open = 1;
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
	cli_add_error("error: '%s' was replaced while restoring; "
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
			cli_add_error("error: cannot enter '%s': %s", d->path,
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
		cli_add_error("error: refusing to restore unsafe name '%s' in '%s/'",
			      name, parent);
		goto out;
	}
	buf_addf(&rxpath, "%s%s", full.data, dir ? "/" : "");
	if (excluded(c, rxpath.data))
		goto out;

	if (dir) {
		struct vfs_list l;
		struct stat st;

		if (c->verbosity >= 1)
			printf("%s/\n", full.data);
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
		if (meta_create_at(&m, &at, 0, warn_cb, NULL, NULL) < 0) {
			cli_add_error("%s", err_last());
			vfs_list_release(&l);
			goto out;
		}
		fd = plat_fs_open_dir(dfd, name, 0);
		if (fd < 0 || fstat(fd, &st) < 0) {
			cli_add_error("error: cannot enter '%s': %s", full.data,
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
	if (S_ISLNK(m.mode)) {
		if (c->verbosity >= 2)
			printf("%s@ -> %s\n", full.data, m.symlink_target.data);
	} else if (c->verbosity >= 2) {
		printf("%s\n", full.data);
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
	if (meta_create_at(&m, &at, 0, warn_cb, NULL, &fd) < 0) {
		cli_add_error("%s", err_last());
		goto out;
	}
	/* on the main thread: see "The writer thread" */
	if (fd >= 0 && c->w && !m.has_acl && !m.nr_xattrs) {
		ret = write_content(c, it, name, fd, c->w);
		/* what was queued gets written; the fd closes there */
		writer_finish(c->w, fd, &m, name, ret >= 0);
		fd = -1;
		if (ret < 0)
			goto out;
		c->total++;
		progress(c);
		ret = writer_failed(c->w);
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
static int valid_restore_path(const char *path)
{
	const char *p = path;

	while (*p == '/')
		p++;
	for (; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			return 1;
	return 0;
}

static void add_rx(struct restore_ctx *c, struct opts *o, const char *rx)
{
	ALLOC_GROW(c->rx, c->nr_rx + 1, c->alloc_rx);
	if (regcomp(&c->rx[c->nr_rx], rx, REG_EXTENDED | REG_NOSUB))
		cli_usage_fatal(o, "invalid --exclude-rx pattern (%s)", rx);
	c->nr_rx++;
}

static void parse_excludes(struct restore_ctx *c, struct opts *o)
{
	const struct opt_value *v = opt_get(o, "exclude-rx");

	for (size_t i = 0; v && i < v->nr_values; i++)
		add_rx(c, o, v->values[i]);
	v = opt_get(o, "exclude-rx-from");
	for (size_t i = 0; v && i < v->nr_values; i++) {
		struct buf b = BUF_INIT;
		char *line, *save = NULL;
		if (buf_read_file(&b, v->values[i]) < 0)
			die("cannot read '%s': %s", v->values[i],
			    strerror(errno));
		for (line = strtok_r(b.data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			if (*line)
				add_rx(c, o, line);
		buf_release(&b);
	}
}

static void parse_map(struct restore_ctx *c, struct opts *o, int which,
		      const char *flag, int numeric)
{
	const struct opt_value *v = opt_get(o, flag);

	for (size_t i = 0; v && i < v->nr_values; i++) {
		const char *s = v->values[i], *eq = strchr(s, '=');
		struct owner_map *m = &c->maps[which];
		int ok = eq && eq != s && !strchr(eq + 1, '=');
		if (ok && numeric) {
			char *end;
			strtoll(s, &end, 10);
			ok = end == eq;
			strtoll(eq + 1, &end, 10);
			ok = ok && eq[1] && !*end;
		}
		if (!ok) {
			struct buf r = BUF_INIT;
			cli_bytes_repr(&r, s);
			cli_usage_fatal(o, "couldn't parse %s as %s mapping",
					r.data, flag + 4);
		}
		ALLOC_GROW(m->old, m->nr + 1, m->alloc);
		m->new = xrealloc(m->new, m->alloc * sizeof(*m->new));
		m->old[m->nr] = xstrndup(s, (size_t)(eq - s));
		m->new[m->nr] = xstrdup(eq + 1);
		m->nr++;
	}
}

static void restore_path(struct restore_ctx *c, const char *path)
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
	if (!valid_restore_path(path)) {
		cli_bytes_repr(&r1, path);
		cli_add_error("path %s doesn't include a branch and revision",
			      r1.data);
		goto out;
	}
	ret = vfs_resolve(c->vfs, path, NULL, 1, 0, &res, &err_no);
	if (ret < 0) {
		cli_add_error("%s", err_last());
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
			cli_add_error("%s", err_last());
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
		cli_bytes_repr(&r1, joined.data);
		cli_bytes_repr(&r2, path);
		cli_add_error("error: cannot access %s in %s", r1.data,
			      r2.data);
		buf_release(&joined);
		goto out;
	}
	if (!*path_name || !strcmp(path_name, ".")) {
		struct meta m;
		if (!S_ISDIR(leaf->item.mode)) {
			cli_bytes_repr(&r1, path);
			cli_add_error("%s cannot be restored as a directory",
				      r1.data);
			goto out;
		}
		ret = vfs_contents(c->vfs, &leaf->item, 1, &l);
		if (ret < 0) {
			cli_add_error("%s", err_last());
			goto out;
		}
		if (restore_dir_contents(c, 0, "", &l) < 0)
			cli_add_error("%s", err_last());
		if (!strcmp(path_name, ".")) {
			meta_init(&m);
			if (item_meta(c, &l.e[0].item, &m) == 0)
				apply_meta(c, &m, ".", AT_FDCWD, c->topfd);
			meta_release(&m);
		}
	} else if (restore_item(c, 0, c->topfd, "", leaf->name,
				&leaf->item) < 0) {
		cli_add_error("%s", err_last());
	}
out:
	buf_release(&r1);
	buf_release(&r2);
	vfs_list_release(&res);
	vfs_list_release(&tmp);
	vfs_list_release(&l);
}

int cmd_restore(int argc, const char **argv);
int cmd_restore(int argc, const char **argv)
{
	struct restore_ctx c;
	struct opts o;
	struct repo *repo;
	struct client *cli = NULL;
	const char *outdir, *remote;
	char cwd[PATH_MAX];
	int ret;

	memset(&c, 0, sizeof(c));
	buf_init(&c.wbuf, WRITE_GATHER + 1);
	cli_parse_opts(&o, optspec, argc, argv);
	c.verbosity = opt_count(&o, "quiet") ? -1 : opt_count(&o, "verbose");
	c.sparse = opt_count(&o, "sparse") > 0;
	c.numeric_ids = opt_count(&o, "numeric-ids") > 0;
	remote = opt_str(&o, "remote");
	repo = cli_open_repo();
	if (!o.argc)
		cli_usage_fatal(&o, "must specify at least one filename to restore");
	parse_excludes(&c, &o);
	parse_map(&c, &o, MAP_USER, "map-user", 0);
	parse_map(&c, &o, MAP_GROUP, "map-group", 0);
	parse_map(&c, &o, MAP_UID, "map-uid", 1);
	parse_map(&c, &o, MAP_GID, "map-gid", 1);

	outdir = opt_str(&o, "outdir");
	if (outdir) {
		struct buf p = BUF_INIT;
		/* mkdirp: create every missing component */
		for (const char *s = outdir; *s; s++) {
			buf_addch(&p, *s);
			if ((s[1] == '/' || !s[1]) && p.len &&
			    mkdir(p.data, 0777) < 0 && errno != EEXIST)
				die("cannot create '%s': %s", p.data,
				    strerror(errno));
		}
		buf_release(&p);
		if (chdir(outdir) < 0)
			die("cannot enter '%s': %s", outdir, strerror(errno));
	}
	if (!getcwd(cwd, sizeof(cwd)))
		die("cannot get the current directory: %s", strerror(errno));
	c.top = xstrdup(cwd);
	/* opened once: nothing below is looked up through its path again */
	c.topfd = plat_fs_open_dir_nofollow(AT_FDCWD, ".",
					    PLAT_FS_PATH_IF_UNREADABLE);
	if (c.topfd < 0)
		die("cannot open '%s': %s", cwd, strerror(errno));
	dirs_init(&c);
	/* bup: RemoteRepo(opt.remote), after the chdir to outdir */
	if (remote && *remote) {
		if (cli_client_open(&cli, remote, repo->path, 0) < 0) {
			error("%s", err_last());
			dirs_release(&c);
			close(c.topfd);
			free(c.top);
			repo_free(repo);
			opt_release(&o);
			return 1;
		}
		ret = client_vfs_new(&c.vfs, cli);
	} else {
		ret = vfs_new(&c.vfs, repo);
	}
	if (ret < 0)
		die("%s", err_last());
	/* --sparse seeks and truncates: kept on this thread */
	if (!c.sparse && cli_threads() > 0)
		writer_start(&c);
	for (int i = 0; i < o.argc; i++)
		restore_path(&c, o.argv[i]);
	writer_stop(&c);
	fflush(stdout);
	if (c.verbosity >= 0)
		cli_progress_done("Restoring: %lu, done.\n", c.total);

	vfs_free(c.vfs);
	buf_release(&c.wbuf);
	if (cli && client_close(cli) < 0)
		cli_add_error("%s", err_last());
	for (size_t i = 0; i < c.nr_rx; i++)
		regfree(&c.rx[i]);
	free(c.rx);
	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; i < c.maps[k].nr; i++) {
			free(c.maps[k].old[i]);
			free(c.maps[k].new[i]);
		}
		free(c.maps[k].old);
		free(c.maps[k].new);
	}
	for (size_t i = 0; i < c.nr_links; i++) {
		free(c.links[i].target);
		free(c.links[i].path);
		meta_release(&c.links[i].meta);
	}
	free(c.links);
	dirs_release(&c);
	close(c.topfd);
	free(c.top);
	repo_free(repo);
	opt_release(&o);
	if (cli_errors()) {
		cli_log("warning: %d errors encountered\n", cli_errors());
		return 1;
	}
	return 0;
}
