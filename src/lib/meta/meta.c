/*
 * bup metadata records (FORMAT.md 5.2-5.7; bup's lib/bup/metadata.py).
 *
 * Encoding: a metadata object is a run of (vuint tag, bvec payload)
 * records closed by tag 0; bup writes them in the fixed order 1, 10, 3,
 * 8, 11, 6, 7 and leaves out every record whose payload would be empty.
 * Decoding accepts what bup's Metadata.read() accepts: the legacy common
 * records (tags 2 and 9), the v1 ACL record (tag 4, newline separated),
 * and unknown tags, which are skipped.  It is stricter than bup only
 * where bup would crash or silently read garbage: truncated payloads,
 * integers beyond 64 bits, a symlink target whose length contradicts the
 * recorded size.
 *
 * from_path and apply follow metadata.py's _add_* and _apply_* methods
 * and bup's _helpers.c (read_acl, get/set_linux_file_attr); the platform
 * calls live in src/platform/.  Messages handed to the warn callback are
 * bup's add_error() texts, including the Python renderings of OSError
 * ("[Errno 2] No such file or directory: b'x'"), so cbup's stderr reads
 * like bup's.
 *
 * create and apply act on a name in a directory descriptor (struct
 * meta_at), never by a path that someone could have redirected since:
 * creation with mkdirat/openat(O_EXCL | O_NOFOLLOW)/symlinkat/mknodat,
 * metadata through the object's own descriptor where the caller holds
 * one (the file just made, the directory kept open), otherwise by the
 * *at calls with AT_SYMLINK_NOFOLLOW, or by an O_PATH | O_NOFOLLOW
 * descriptor and its /proc/self/fd path where Linux has no such call
 * (chmod of a device node, ACLs, xattrs).  Nothing here follows a
 * symlink in the last component of a name.
 */
#include "meta/meta.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/err.h"
#include "util/pypath.h"
#include "util/vint.h"
#include "platform/acl.h"
#include "platform/attr.h"
#include "platform/fs.h"
#include "platform/xattr.h"

#define NSEC_PER_SEC 1000000000

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

void meta_init(struct meta *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->user, 0);
	buf_init(&m->group, 0);
	buf_init(&m->path, 0);
	buf_init(&m->symlink_target, 0);
	buf_init(&m->hardlink_target, 0);
	for (int i = 0; i < 4; i++)
		buf_init(&m->acl[i], 0);
	m->size = -1;
}

void meta_release(struct meta *m)
{
	buf_release(&m->user);
	buf_release(&m->group);
	buf_release(&m->path);
	buf_release(&m->symlink_target);
	buf_release(&m->hardlink_target);
	for (int i = 0; i < 4; i++)
		buf_release(&m->acl[i]);
	for (size_t i = 0; i < m->alloc_xattrs; i++) {
		buf_release(&m->xattrs[i].name);
		buf_release(&m->xattrs[i].value);
	}
	free(m->xattrs);
	meta_init(m);
}

void meta_reset(struct meta *m)
{
	m->mode = m->uid = m->gid = m->rdev = 0;
	memset(&m->atime, 0, sizeof(m->atime));
	memset(&m->mtime, 0, sizeof(m->mtime));
	memset(&m->ctime, 0, sizeof(m->ctime));
	m->size = -1;
	buf_reset(&m->user);
	buf_reset(&m->group);
	buf_reset(&m->path);
	buf_reset(&m->symlink_target);
	buf_reset(&m->hardlink_target);
	m->has_acl = 0;
	for (int i = 0; i < 4; i++)
		buf_reset(&m->acl[i]);
	m->linux_attr = 0;
	/* xattr slots beyond nr_xattrs keep their buffers for reuse. */
	m->nr_xattrs = 0;
}

static void set_buf(struct buf *dst, const void *p, size_t n)
{
	buf_reset(dst);
	buf_add(dst, p, n);
}

void meta_add_xattr(struct meta *m, const void *name, size_t name_len,
		    const void *value, size_t value_len)
{
	struct meta_xattr *x;

	if (m->nr_xattrs == m->alloc_xattrs) {
		size_t old = m->alloc_xattrs;
		ALLOC_GROW(m->xattrs, m->nr_xattrs + 1, m->alloc_xattrs);
		for (size_t i = old; i < m->alloc_xattrs; i++) {
			buf_init(&m->xattrs[i].name, 0);
			buf_init(&m->xattrs[i].value, 0);
		}
	}
	x = &m->xattrs[m->nr_xattrs++];
	set_buf(&x->name, name, name_len);
	set_buf(&x->value, value, value_len);
}

void meta_copy(struct meta *dst, const struct meta *src)
{
	meta_reset(dst);
	dst->mode = src->mode;
	dst->uid = src->uid;
	dst->gid = src->gid;
	dst->rdev = src->rdev;
	dst->atime = src->atime;
	dst->mtime = src->mtime;
	dst->ctime = src->ctime;
	dst->size = src->size;
	set_buf(&dst->user, src->user.data, src->user.len);
	set_buf(&dst->group, src->group.data, src->group.len);
	set_buf(&dst->path, src->path.data, src->path.len);
	set_buf(&dst->symlink_target, src->symlink_target.data,
		src->symlink_target.len);
	set_buf(&dst->hardlink_target, src->hardlink_target.data,
		src->hardlink_target.len);
	dst->has_acl = src->has_acl;
	for (int i = 0; i < 4; i++)
		set_buf(&dst->acl[i], src->acl[i].data, src->acl[i].len);
	dst->linux_attr = src->linux_attr;
	for (size_t i = 0; i < src->nr_xattrs; i++)
		meta_add_xattr(dst, src->xattrs[i].name.data,
			       src->xattrs[i].name.len,
			       src->xattrs[i].value.data,
			       src->xattrs[i].value.len);
}

int meta_is_empty(const struct meta *m)
{
	return !m->mode && !m->path.len && !m->symlink_target.len &&
	       !m->hardlink_target.len && !m->has_acl && !m->linux_attr &&
	       !m->nr_xattrs;
}

/* ------------------------------------------------------------------ */
/* Encoding (FORMAT.md 5.2, 5.3)                                       */

/* A record whose payload is a plain byte string (tags 3 and 8). */
static void put_record(struct buf *out, unsigned tag, const struct buf *p)
{
	if (!p->len)
		return;
	vint_put_vuint(out, tag);
	vint_put_bvec(out, p->data, p->len);
}

/*
 * Structured payloads are written in place after the tag; rec_end()
 * then slides the payload right to make room for its length.  Payloads
 * are small (tens of bytes; xattrs at most 64 KiB each), so the move
 * costs less than a scratch buffer would.
 */
static size_t rec_begin(struct buf *out, unsigned tag)
{
	vint_put_vuint(out, tag);
	return out->len;
}

static void rec_end(struct buf *out, size_t start)
{
	unsigned char len[VINT_MAX];
	size_t n = out->len - start;
	size_t k = vint_encode_vuint(len, n);

	buf_grow(out, k);
	memmove(out->data + start + k, out->data + start, n);
	memcpy(out->data + start, len, k);
	buf_setlen(out, out->len + k);
}

void meta_encode(struct buf *out, const struct meta *m, int include_path)
{
	size_t at;

	if (include_path && m->path.len) {
		/* The path payload is itself a bvec. */
		at = rec_begin(out, META_TAG_PATH);
		vint_put_bvec(out, m->path.data, m->path.len);
		rec_end(out, at);
	}
	if (m->mode) {
		/* "vvsvsvvVvVvVv" */
		at = rec_begin(out, META_TAG_COMMON_V3);
		vint_put_vint(out, m->mode);
		vint_put_vint(out, m->uid);
		vint_put_bvec(out, m->user.data, m->user.len);
		vint_put_vint(out, m->gid);
		vint_put_bvec(out, m->group.data, m->group.len);
		vint_put_vint(out, m->rdev);
		vint_put_vint(out, m->atime.sec);
		vint_put_vuint(out, (uint64_t)m->atime.nsec);
		vint_put_vint(out, m->mtime.sec);
		vint_put_vuint(out, (uint64_t)m->mtime.nsec);
		vint_put_vint(out, m->ctime.sec);
		vint_put_vuint(out, (uint64_t)m->ctime.nsec);
		vint_put_vint(out, m->size >= 0 ? m->size : -1);
		rec_end(out, at);
	}
	/* Tags 3 and 8: the payload is the raw target, not a bvec. */
	put_record(out, META_TAG_SYMLINK_TARGET, &m->symlink_target);
	put_record(out, META_TAG_HARDLINK_TARGET, &m->hardlink_target);
	if (m->has_acl) {
		at = rec_begin(out, META_TAG_POSIX1E_ACL_V2);
		for (int i = 0; i < 4; i++)
			vint_put_bvec(out, m->acl[i].data, m->acl[i].len);
		rec_end(out, at);
	}
	if (m->linux_attr) {
		at = rec_begin(out, META_TAG_LINUX_ATTR);
		vint_put_vuint(out, m->linux_attr);
		rec_end(out, at);
	}
	if (m->nr_xattrs) {
		at = rec_begin(out, META_TAG_LINUX_XATTR);
		vint_put_vuint(out, m->nr_xattrs);
		for (size_t i = 0; i < m->nr_xattrs; i++) {
			vint_put_bvec(out, m->xattrs[i].name.data,
				      m->xattrs[i].name.len);
			vint_put_bvec(out, m->xattrs[i].value.data,
				      m->xattrs[i].value.len);
		}
		rec_end(out, at);
	}
	vint_put_vuint(out, META_TAG_END);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

static int get_bvec_into(struct vint_reader *r, struct buf *dst)
{
	const unsigned char *p;
	size_t n;
	int ret = vint_get_bvec(r, &p, &n);

	if (!ret)
		set_buf(dst, p, n);
	return ret;
}

/*
 * bup keeps times as integer nanoseconds, so a recorded nsec beyond
 * 999999999 (never written by bup) is folded into the seconds when
 * the object is re-encoded; do the same, refusing overflow.
 */
static int make_time(struct meta_time *t, int64_t sec, uint64_t nsec)
{
	uint64_t carry = nsec / NSEC_PER_SEC;

	if (carry > (uint64_t)INT64_MAX ||
	    (sec > 0 && (uint64_t)sec + carry > (uint64_t)INT64_MAX))
		return err_set(ERR_CORRUPT, "metadata time out of range");
	t->sec = sec + (int64_t)carry;
	t->nsec = (int32_t)(nsec % NSEC_PER_SEC);
	return 0;
}

static int get_signed(struct vint_reader *r, int is_signed, int64_t *out)
{
	uint64_t u;
	int ret;

	if (is_signed)
		return vint_get_vint(r, out);
	ret = vint_get_vuint(r, &u);
	if (ret)
		return ret;
	if (u > (uint64_t)INT64_MAX)
		return err_set(ERR_CORRUPT, "metadata integer out of range");
	*out = (int64_t)u;
	return 0;
}

/*
 * Common record, versions 1 ("VVsVsVvVvVvV"), 2 ("vvsvsvvVvVvV") and 3
 * (v2 + "v" size).  Trailing bytes in the payload are ignored, as
 * bup's unpack() does.
 */
static int load_common(struct meta *m, const unsigned char *p, size_t n,
		       int version)
{
	struct vint_reader r;
	int64_t secs[3], size = -1;
	uint64_t nsecs[3];
	int sgn = version >= 2;
	int ret;

	vint_reader_init(&r, p, n);
	if ((ret = get_signed(&r, sgn, &m->mode)) ||
	    (ret = get_signed(&r, sgn, &m->uid)) ||
	    (ret = get_bvec_into(&r, &m->user)) ||
	    (ret = get_signed(&r, sgn, &m->gid)) ||
	    (ret = get_bvec_into(&r, &m->group)) ||
	    (ret = vint_get_vint(&r, &m->rdev)))
		return ret;
	for (int i = 0; i < 3; i++)
		if ((ret = vint_get_vint(&r, &secs[i])) ||
		    (ret = vint_get_vuint(&r, &nsecs[i])))
			return ret;
	if (version == 3 && (ret = vint_get_vint(&r, &size)))
		return ret;
	if ((ret = make_time(&m->atime, secs[0], nsecs[0])) ||
	    (ret = make_time(&m->mtime, secs[1], nsecs[1])) ||
	    (ret = make_time(&m->ctime, secs[2], nsecs[2])))
		return ret;
	/* bup: "if size >= 0: self.size = size", else it is left alone. */
	if (version == 3 && size >= 0)
		m->size = size;
	return 0;
}

static int load_acl(struct meta *m, const unsigned char *p, size_t n,
		    int version)
{
	struct vint_reader r;
	int ret;

	vint_reader_init(&r, p, n);
	for (int i = 0; i < 4; i++)
		if ((ret = get_bvec_into(&r, &m->acl[i])))
			return ret;
	m->has_acl = 1;
	if (version == 1) {
		/*
		 * v1 used '\n' separators; bup turns them into ',' and
		 * drops the whole ACL (with an error message) if a field
		 * already holds a ','.  Only the entries bup keeps are
		 * checked: the default pair is dropped when empty.
		 */
		int nr = m->acl[META_ACL_DEF_TEXT].len ? 4 : 2;
		for (int i = 0; i < nr; i++)
			if (memchr(m->acl[i].data, ',', m->acl[i].len)) {
				m->has_acl = 0;
				for (int j = 0; j < 4; j++)
					buf_reset(&m->acl[j]);
				return 0;
			}
		for (int i = 0; i < 4; i++)
			for (size_t k = 0; k < m->acl[i].len; k++)
				if (m->acl[i].data[k] == '\n')
					m->acl[i].data[k] = ',';
	}
	return 0;
}

static int load_xattrs(struct meta *m, const unsigned char *p, size_t n)
{
	struct vint_reader r;
	uint64_t count;
	int ret;

	vint_reader_init(&r, p, n);
	if ((ret = vint_get_vuint(&r, &count)))
		return ret;
	/* Each pair takes at least two bytes: bound before allocating. */
	if (count > vint_reader_left(&r) / 2)
		return err_set(ERR_CORRUPT, "xattr count %llu exceeds record",
			       (unsigned long long)count);
	m->nr_xattrs = 0;
	for (uint64_t i = 0; i < count; i++) {
		const unsigned char *k, *v;
		size_t kn, vn;

		if ((ret = vint_get_bvec(&r, &k, &kn)) ||
		    (ret = vint_get_bvec(&r, &v, &vn)))
			return ret;
		meta_add_xattr(m, k, kn, v, vn);
	}
	return 0;
}

int meta_decode(struct meta *m, const void *buf, size_t len, size_t *used)
{
	struct vint_reader r;
	int ret;

	meta_reset(m);
	vint_reader_init(&r, buf, len);
	for (;;) {
		const unsigned char *p;
		uint64_t tag;
		size_t n;

		if ((ret = vint_get_vuint(&r, &tag)))
			return err_set(ERR_CORRUPT, "truncated metadata");
		if (tag == META_TAG_END)
			break;
		if ((ret = vint_get_bvec(&r, &p, &n)))
			return err_set(ERR_CORRUPT,
				       "truncated metadata record %llu",
				       (unsigned long long)tag);
		switch (tag) {
		case META_TAG_PATH: {
			struct vint_reader pr;
			vint_reader_init(&pr, p, n);
			ret = get_bvec_into(&pr, &m->path);
			break;
		}
		case META_TAG_COMMON_V1:
			ret = load_common(m, p, n, 1);
			break;
		case META_TAG_COMMON_V2:
			ret = load_common(m, p, n, 2);
			break;
		case META_TAG_COMMON_V3:
			ret = load_common(m, p, n, 3);
			break;
		case META_TAG_SYMLINK_TARGET:
			/* Checked against the size after the last record. */
			set_buf(&m->symlink_target, p, n);
			if (m->size < 0)
				m->size = (int64_t)n;
			break;
		case META_TAG_HARDLINK_TARGET:
			set_buf(&m->hardlink_target, p, n);
			break;
		case META_TAG_POSIX1E_ACL_V1:
			ret = load_acl(m, p, n, 1);
			break;
		case META_TAG_POSIX1E_ACL_V2:
			ret = load_acl(m, p, n, 2);
			break;
		case META_TAG_LINUX_ATTR: {
			struct vint_reader ar;
			vint_reader_init(&ar, p, n);
			ret = vint_get_vuint(&ar, &m->linux_attr);
			break;
		}
		case META_TAG_LINUX_XATTR:
			ret = load_xattrs(m, p, n);
			break;
		default:
			/* Unknown (or NFSv4, tag 5): skipped, as bup does. */
			break;
		}
		if (ret)
			return err_set(ERR_CORRUPT,
				       "bad metadata record %llu: %s",
				       (unsigned long long)tag, err_last());
	}
	/*
	 * bup asserts size == len(target) when it reads a symlink target
	 * after a common record with a size; every object bup writes
	 * agrees, so a disagreement (in any record order) is corruption.
	 */
	if (m->symlink_target.len && (uint64_t)m->size != m->symlink_target.len)
		return err_set(ERR_CORRUPT,
			       "symlink target length %zu does not match size "
			       "%lld", m->symlink_target.len,
			       (long long)m->size);
	*used = (size_t)(r.p - (const unsigned char *)buf);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Python-style messages                                               */

static void warnf(meta_warn_fn warn, void *ctx, const char *fmt, ...)
	PRINTF(3, 4);
static void warnf(meta_warn_fn warn, void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(warn, ctx, fmt, ap);
	va_end(ap);
}

/* warn(prefix + str(OSError(errno, path))). */
static void warn_oserror(meta_warn_fn warn, void *ctx, const char *prefix,
			 int e, const char *path, int bytes)
{
	struct buf b = BUF_INIT;

	if (!warn)
		return;
	buf_addstr(&b, prefix);
	pypath_oserror(&b, e, path, bytes);
	warn(ctx, b.data);
	buf_release(&b);
}

/* ------------------------------------------------------------------ */
/* uid/gid <-> name                                                    */

/*
 * bup caches every lookup for the life of the process (pwdgrp.py);
 * a small direct-mapped cache gives the same answers without a
 * getpwuid_r per file.  Entries are never freed (process lifetime).
 */
#define NAME_CACHE_SIZE 64
struct name_ent {
	int valid;
	int64_t id;
	char *name;  /* NULL: no such entry */
};
static struct name_ent uid_cache[NAME_CACHE_SIZE], gid_cache[NAME_CACHE_SIZE];
static pthread_mutex_t name_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * One NSS query by the reentrant calls, by name when name is set (the
 * id found goes to *id_out), else by id (a copy of the name found goes
 * to *name_out).  The scratch buffer grows on ERANGE, up to 1 MiB.
 * Returns 1 if the entry exists, 0 if not (or if the lookup failed).
 */
static int nss_query(int group, const char *name, int64_t id,
		     char **name_out, int64_t *id_out)
{
	char stack[1024], *heap = NULL, *scratch = stack;
	const char *found_name = NULL;
	size_t sz = sizeof(stack);
	int64_t found_id = -1;
	int rc, found = 0;

	for (;;) {
		if (group) {
			struct group g, *gp = NULL;
			rc = name ? getgrnam_r(name, &g, scratch, sz, &gp) :
			     getgrgid_r((gid_t)id, &g, scratch, sz, &gp);
			if ((found = !rc && gp)) {
				found_name = gp->gr_name;
				found_id = gp->gr_gid;
			}
		} else {
			struct passwd pw, *pp = NULL;
			rc = name ? getpwnam_r(name, &pw, scratch, sz, &pp) :
			     getpwuid_r((uid_t)id, &pw, scratch, sz, &pp);
			if ((found = !rc && pp)) {
				found_name = pp->pw_name;
				found_id = pp->pw_uid;
			}
		}
		if (rc != ERANGE || sz >= (1 << 20))
			break;
		sz *= 4;
		free(heap);
		scratch = heap = xmalloc(sz);
	}
	/* found_name points into scratch: copied before heap is freed */
	if (found && name)
		*id_out = found_id;
	else if (found)
		*name_out = xstrdup(found_name);
	free(heap);
	return found;
}

static char *lookup_name(int64_t id, int group)
{
	char *name = NULL;

	if (id < 0 || id > (int64_t)UINT32_MAX)
		return NULL;
	nss_query(group, NULL, id, &name, NULL);
	return name;
}

static void add_id_name(struct buf *out, int64_t id, int group)
{
	struct name_ent *cache = group ? gid_cache : uid_cache;
	struct name_ent *e = &cache[(uint64_t)id % NAME_CACHE_SIZE];
	char *name;

	buf_reset(out);
	pthread_mutex_lock(&name_lock);
	if (e->valid && e->id == id) {
		if (e->name)
			buf_addstr(out, e->name);
		pthread_mutex_unlock(&name_lock);
		return;
	}
	pthread_mutex_unlock(&name_lock);

	name = lookup_name(id, group);
	if (name)
		buf_addstr(out, name);
	pthread_mutex_lock(&name_lock);
	if (e->valid)
		free(e->name);
	e->valid = 1;
	e->id = id;
	e->name = name;
	pthread_mutex_unlock(&name_lock);
}

/* Returns 0 and the id of a user or group name, -1 if there is none. */
/*
 * Names seen by this process, with their ids (or their absence): a
 * restore asks for the same few owners once per file, and each NSS
 * lookup reads /etc/passwd or asks a daemon.  bup caches these too
 * (pwd_from_name).  Locked: restore's writer thread applies metadata.
 */
struct id_cache_ent {
	char *name;
	int group, found;
	int64_t id;
};
static struct id_cache_ent *id_cache;
static size_t id_cache_nr, id_cache_alloc;
static pthread_mutex_t id_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int id_from_name(const char *name, int group, int64_t *id)
{
	int found;
	int64_t v = -1;

	pthread_mutex_lock(&id_cache_lock);
	for (size_t i = 0; i < id_cache_nr; i++) {
		struct id_cache_ent *e = &id_cache[i];
		if (e->group == group && !strcmp(e->name, name)) {
			found = e->found;
			v = e->id;
			pthread_mutex_unlock(&id_cache_lock);
			if (found)
				*id = v;
			return found ? 0 : -1;
		}
	}
	pthread_mutex_unlock(&id_cache_lock);
	found = nss_query(group, name, 0, NULL, &v);
	pthread_mutex_lock(&id_cache_lock);
	if (id_cache_nr < 4096) {     /* bounded: beyond, ask every time */
		ALLOC_GROW(id_cache, id_cache_nr + 1, id_cache_alloc);
		id_cache[id_cache_nr].name = xstrdup(name);
		id_cache[id_cache_nr].group = group;
		id_cache[id_cache_nr].found = found;
		id_cache[id_cache_nr].id = v;
		id_cache_nr++;
	}
	pthread_mutex_unlock(&id_cache_lock);
	if (found)
		*id = v;
	return found ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* from_path (FORMAT.md 5.4)                                           */

static int add_one_xattr(void *ctx, const char *name, const void *value,
			 size_t len)
{
	meta_add_xattr(ctx, name, strlen(name), value, len);
	return 0;
}

int meta_from_path(struct meta *m, const char *path, const struct stat *st,
		   unsigned flags, meta_warn_fn warn, void *warn_ctx)
{
	return meta_from_path_fd(m, path, -1, st, flags, warn, warn_ctx);
}

int meta_from_path_fd(struct meta *m, const char *path, int fd,
		      const struct stat *st, unsigned flags,
		      meta_warn_fn warn, void *warn_ctx)
{
	struct stat lst;
	mode_t mode;
	int xrc, xerr, no_xattrs;

	meta_reset(m);
	if (!st) {
		if (lstat(path, &lst) < 0)
			return err_errno("cannot stat '%s'", path);
		st = &lst;
	}
	mode = st->st_mode;

	/* _add_common */
	m->mode = mode;
	m->uid = st->st_uid;
	m->gid = st->st_gid;
	m->size = st->st_size;
	if (!(flags & META_ZERO_TIMES)) {
		m->atime.sec = st->st_atim.tv_sec;
		m->atime.nsec = (int32_t)st->st_atim.tv_nsec;
		m->mtime.sec = st->st_mtim.tv_sec;
		m->mtime.nsec = (int32_t)st->st_mtim.tv_nsec;
		m->ctime.sec = st->st_ctim.tv_sec;
		m->ctime.nsec = (int32_t)st->st_ctim.tv_nsec;
	}
	add_id_name(&m->user, m->uid, 0);
	add_id_name(&m->group, m->gid, 1);
	/* Only for mknod() at restore: other types' rdev is not stable. */
	m->rdev = (S_ISCHR(mode) || S_ISBLK(mode)) ? (int64_t)st->st_rdev : 0;

	/* _add_symlink_target */
	if (S_ISLNK(mode) && !(flags & META_NO_SYMLINKS)) {
		size_t want = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
		for (;;) {
			ssize_t n;
			buf_reset(&m->symlink_target);
			buf_grow(&m->symlink_target, want);
			n = readlink(path, m->symlink_target.data, want);
			if (n < 0) {
				warn_oserror(warn, warn_ctx, "readlink: ",
					     errno, path, 1);
				break;
			}
			if ((size_t)n < want) {
				buf_setlen(&m->symlink_target, (size_t)n);
				/* The link may have changed since lstat. */
				m->size = n;
				break;
			}
			want *= 2;
		}
	}

	/*
	 * The xattrs are read first (their errors still surface at bup's
	 * step, below): when a successful listing is empty, the file has
	 * no system.posix_acl_* attribute either, and the two ACL probes
	 * of acl_extended_file() (getxattr) are skipped.
	 */
	xrc = plat_xattr_get_all(path, add_one_xattr, m);
	xerr = errno;
	no_xattrs = xrc == 0 && m->nr_xattrs == 0;

	/* _add_posix1e_acl (bup's read_acl) */
	if (!S_ISLNK(mode) && !no_xattrs) {
		char *acl[4];
		int rc = plat_acl_read(path, S_ISDIR(mode), acl);
		if (rc < 0)
			return err_errno("cannot read ACL of '%s'", path);
		if (rc > 0) {
			m->has_acl = 1;
			for (int i = 0; i < 4; i++) {
				buf_addstr(&m->acl[i], acl[i]);
				free(acl[i]);
			}
		}
	}

	/* _add_linux_attr: regular files and directories only. */
	if (S_ISREG(mode) || S_ISDIR(mode)) {
		unsigned int attr = 0;
		/* fd: the caller's open of the file, one open fewer */
		if ((fd >= 0 && S_ISREG(mode) ? plat_attr_get_fd(fd, &attr) :
		     plat_attr_get(path, &attr)) < 0) {
			int e = errno;
			if (e == EACCES) {
				warn_oserror(warn, warn_ctx,
					     "read Linux attr: ", e, path, 0);
			} else if (e == ENOTTY || e == ENOSYS ||
				   e == EOPNOTSUPP) {
				/* the filesystem has no attrs */
			} else if (e == EINVAL) {
				/*
				 * bup logs "Ignoring attr EINVAL; ..." once
				 * per process; this is its only message
				 * that is not an error.
				 */
				static int warned;
				if (!warned) {
					warned = 1;
					warnf(warn, warn_ctx,
					      "Ignoring attr EINVAL; if you're "
					      "not using ntfs-3g, please "
					      "report: %s", path);
				}
			} else {
				errno = e;
				return err_errno("cannot read Linux attr "
						 "of '%s'", path);
			}
		} else {
			m->linux_attr = attr;
		}
	}

	/* _add_linux_xattr (read above) */
	if (xrc < 0) {
		errno = xerr;
		if (errno != EOPNOTSUPP)
			return err_errno("cannot read xattrs of '%s'", path);
		m->nr_xattrs = 0;
	}

	/* Only files and symlinks keep a size in a save. */
	if ((flags & META_NORMALIZE) && !S_ISREG(mode) && !S_ISLNK(mode))
		m->size = -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* create_path and apply_to_path                                        */

static int recognized_type(int64_t mode)
{
	mode_t t = (mode_t)mode & S_IFMT;
	return t == S_IFREG || t == S_IFDIR || t == S_IFCHR ||
	       t == S_IFBLK || t == S_IFIFO || t == S_IFSOCK || t == S_IFLNK;
}

/*
 * bind() takes a path: name in dirfd is reached through the /proc path
 * of dirfd, which leads to that directory whatever was renamed since.
 */
static int make_socket(int dirfd, const char *name)
{
	struct sockaddr_un sa;
	struct buf path = BUF_INIT;
	int fd = -1, e;

	if (dirfd == AT_FDCWD)
		buf_addstr(&path, name);
	else
		plat_fs_proc_path(&path, dirfd, name);
	if (path.len >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path.data, path.len);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	close(fd);
	buf_release(&path);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	errno = e;
	return -1;
}

int meta_create(const struct meta *m, const char *path, unsigned flags,
		meta_warn_fn warn, void *warn_ctx)
{
	struct meta_at at = { AT_FDCWD, path, path, -1 };

	return meta_create_at(m, &at, flags, warn, warn_ctx, NULL);
}

int meta_create_at(const struct meta *m, const struct meta_at *at,
		   unsigned flags, meta_warn_fn warn, void *warn_ctx,
		   int *fdp)
{
	mode_t t = (mode_t)m->mode & S_IFMT;
	const char *path = at->path ? at->path : at->name;
	int dirfd = at->dirfd;
	const char *name = at->name;
	struct stat st;
	int fd;

	if (fdp)
		*fdp = -1;
	if (!m->mode)
		return err_set(ERR_USAGE, "no metadata - cannot create path %s",
			       path);
	/*
	 * A restore writes into fresh directories: try the creation first
	 * (O_EXCL: nothing is replaced) and take bup's lstat-and-remove
	 * path only when it fails, which then reports as bup does.  One
	 * lstat less per file.
	 */
	if (t == S_IFREG) {
		fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			goto made_file;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0) {
				if (errno == ENOTEMPTY || errno == EEXIST)
					return err_set(ERR_EXISTS,
						       "refusing to overwrite "
						       "non-empty dir %s", path);
				return err_errno("cannot remove '%s'", path);
			}
		} else if (unlinkat(dirfd, name, 0) < 0) {
			return err_errno("cannot remove '%s'", path);
		}
	} else if (errno != ENOENT) {
		return err_errno("cannot stat '%s'", path);
	}

	switch (t) {
	case S_IFREG:
		fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return err_errno("cannot create '%s'", path);
made_file:
		if (fdp)
			*fdp = fd;  /* the caller writes the content */
		else
			close(fd);
		break;
	case S_IFDIR:
		if (mkdirat(dirfd, name, 0700) < 0)
			return err_errno("cannot create directory '%s'", path);
		break;
	case S_IFCHR:
	case S_IFBLK:
		if (mknodat(dirfd, name, 0600 | t, (dev_t)m->rdev) < 0)
			return err_errno("cannot create device '%s'", path);
		break;
	case S_IFIFO:
		if (mkfifoat(dirfd, name, 0600) < 0)
			return err_errno("cannot create fifo '%s'", path);
		break;
	case S_IFSOCK:
		if (mknodat(dirfd, name, 0600 | S_IFSOCK, 0) < 0) {
			if (errno != EINVAL && errno != EPERM)
				return err_errno("cannot create socket '%s'",
						 path);
			if (make_socket(dirfd, name) < 0)
				return err_errno("cannot create socket '%s'",
						 path);
		}
		break;
	case S_IFLNK:
		/*
		 * bup sets the umask around symlink() for macOS; Linux
		 * ignores it for symlinks, and umask is process-wide, so
		 * it is not touched here.
		 */
		if (m->symlink_target.len &&
		    !(flags & META_NO_CREATE_SYMLINKS) &&
		    symlinkat(m->symlink_target.data, dirfd, name) < 0)
			return err_errno("cannot create symlink '%s'", path);
		break;
	default:
		warnf(warn, warn_ctx,
		      "not creating \"%s\" with unrecognized mode \"0x%llx\"\n",
		      path, (unsigned long long)m->mode);
		break;
	}
	return 0;
}

/* bup's getgroups(): the supplementary groups plus the egid. */
static int in_our_groups(int64_t gid)
{
	gid_t groups[256];
	int n = getgroups(ARRAY_SIZE(groups), groups);

	if ((int64_t)getegid() == gid)
		return 1;
	for (int i = 0; i < n; i++)
		if ((int64_t)groups[i] == gid)
			return 1;
	return 0;
}

static int our_group_named(const char *name)
{
	gid_t groups[257];
	int n = getgroups(256, groups);
	struct buf g = BUF_INIT;
	int found = 0;

	if (n < 0)
		n = 0;
	groups[n++] = getegid();
	for (int i = 0; i < n && !found; i++) {
		add_id_name(&g, groups[i], 1);
		found = g.len && !strcmp(g.data, name);
	}
	buf_release(&g);
	return found;
}

/*
 * What the apply_*() steps act on: the object's own descriptor when the
 * caller holds one (fd), else `name` in dirfd through calls that never
 * follow a symlink there; pfd is an O_PATH | O_NOFOLLOW descriptor on
 * that name, opened by the first step that needs one.
 */
struct target {
	const char *path;   /* in messages */
	int dirfd;
	const char *name;
	int fd;
	int pfd;
};

/* A descriptor on the object itself (-1 with errno if there is none). */
static int target_fd(struct target *t)
{
	if (t->fd >= 0)
		return t->fd;
	if (t->pfd < 0)
		t->pfd = plat_fs_open_nofollow(t->dirfd, t->name);
	return t->pfd;
}

static int target_chmod(struct target *t, mode_t mode)
{
	int fd = target_fd(t);

	return fd < 0 ? -1 : plat_fs_chmod(fd, mode);
}

/* _apply_common_rec: times, then owner, then mode. */
/*
 * The effective uid does not change while a command runs: one geteuid()
 * instead of one per restored file (relaxed atomics: threads may race
 * to store the same value).
 */
static uid_t euid(void)
{
	static long id = -1;
	long v = __atomic_load_n(&id, __ATOMIC_RELAXED);

	if (v < 0) {
		v = (long)geteuid();
		__atomic_store_n(&id, v, __ATOMIC_RELAXED);
	}
	return (uid_t)v;
}

static int apply_common(const struct meta *m, struct target *t,
			unsigned flags, meta_warn_fn warn, void *ctx)
{
	struct timespec ts[2];
	int64_t uid = -1, gid = -1, id;
	int numeric = flags & META_NUMERIC_IDS;

	ts[0].tv_sec = m->atime.sec;
	ts[0].tv_nsec = m->atime.nsec;
	ts[1].tv_sec = m->mtime.sec;
	ts[1].tv_nsec = m->mtime.nsec;
	if ((t->fd >= 0 ? plat_fs_utimens(t->fd, ts) :
	     utimensat(t->dirfd, t->name, ts, AT_SYMLINK_NOFOLLOW)) < 0) {
		if (errno == EACCES) {
			/* An ApplyError: skip the rest of this record. */
			warn_oserror(warn, ctx, S_ISLNK(m->mode) ?
				     "lutime: " : "utime: ", errno, t->path,
				     1);
			return 0;
		}
		return err_errno("cannot set times of '%s'", t->path);
	}

	if (euid() == 0) {
		uid = m->uid;
		gid = m->gid;
		if (!numeric) {
			if (m->uid != 0 && m->user.len &&
			    !id_from_name(m->user.data, 0, &id))
				uid = id;
			if (m->gid != 0 && m->group.len &&
			    !id_from_name(m->group.data, 1, &id))
				gid = id;
		}
	} else {
		if (in_our_groups(m->gid))
			gid = m->gid;
		if (!numeric && m->gid != 0 && m->group.len &&
		    our_group_named(m->group.data) &&
		    !id_from_name(m->group.data, 1, &id))
			gid = id;
	}
	if (uid != -1 || gid != -1) {
		if ((t->fd >= 0 ? plat_fs_chown(t->fd, (uid_t)uid, (gid_t)gid) :
		     fchownat(t->dirfd, t->name, (uid_t)uid, (gid_t)gid,
			      AT_SYMLINK_NOFOLLOW)) < 0) {
			if (errno != EPERM)
				return err_errno("cannot change owner of '%s'",
						 t->path);
			warn_oserror(warn, ctx, "lchown: ", errno, t->path, 1);
		}
	}

	/* Linux has no lchmod; a symlink's mode cannot be changed. */
	if (!S_ISLNK(m->mode) &&
	    target_chmod(t, (mode_t)m->mode & 07777) < 0)
		return err_errno("cannot change mode of '%s'", t->path);
	return 0;
}

static int apply_acl(const struct meta *m, struct target *t,
		     unsigned flags, meta_warn_fn warn, void *ctx)
{
	int offs = (flags & META_NUMERIC_IDS) ? 1 : 0;
	const char *def = NULL;
	struct buf b = BUF_INIT;
	int fd;

	if (!m->has_acl)
		return 0;
	/* bup drops an empty default pair on load: len(acls) == 2. */
	if (m->acl[META_ACL_DEF_TEXT].len)
		def = m->acl[offs + 2].data;
	fd = target_fd(t);
	if (fd >= 0 && !plat_acl_apply_fd(fd, m->acl[offs].data, def))
		return 0;
	switch (errno) {
	case EINVAL:
		/* libacl: a user or group in the text does not exist. */
		buf_addstr(&b, "POSIX1e ACL: can't create [");
		for (int i = 0; i < (def ? 4 : 2); i++) {
			if (i)
				buf_addstr(&b, ", ");
			pypath_bytes_repr(&b, m->acl[i].data, m->acl[i].len);
		}
		buf_addstr(&b, "] for ");
		pypath_str_repr(&b, t->path);
		if (warn)
			warn(ctx, b.data);
		buf_release(&b);
		return 0;
	case EPERM:
	case EOPNOTSUPP:
		warn_oserror(warn, ctx, "POSIX1e ACL applyto: ", errno, NULL,
			     0);
		return 0;
	default:
		return err_errno("cannot set ACL of '%s'", t->path);
	}
}

static int apply_linux_attr(const struct meta *m, struct target *t,
			    meta_warn_fn warn, void *ctx)
{
	struct buf b = BUF_INIT;
	int e, fd;

	if (!m->linux_attr)
		return 0;
	fd = target_fd(t);
	if (fd >= 0 && !plat_attr_set_fd(fd, (unsigned int)m->linux_attr))
		return 0;
	e = errno;
	if (e != EACCES && e != ENOTTY && e != EOPNOTSUPP && e != ENOSYS &&
	    e != EINVAL)
		return err_errno("cannot set Linux attr of '%s'", t->path);
	/* bup prints "(0x%s)" of hex(): the "0x0x" is its own. */
	buf_addstr(&b, "Linux chattr: ");
	pypath_oserror(&b, e, t->path, 0);
	buf_addf(&b, " (0x0x%llx)", (unsigned long long)m->linux_attr);
	if (e == EINVAL)
		buf_addstr(&b, " (if you're not using ntfs-3g, please report)");
	if (warn)
		warn(ctx, b.data);
	buf_release(&b);
	return 0;
}

static void warn_xattr(meta_warn_fn warn, void *ctx, const char *what,
		       const char *path, int e)
{
	struct buf b = BUF_INIT;

	if (!warn)
		return;
	buf_addf(&b, "xattr.%s ", what);
	pypath_str_repr(&b, path);
	buf_addstr(&b, ": ");
	pypath_oserror(&b, e, NULL, 0);
	warn(ctx, b.data);
	buf_release(&b);
}

static int apply_xattrs(const struct meta *m, struct target *t,
			meta_warn_fn warn, void *ctx)
{
	struct buf names = BUF_INIT, cur = BUF_INIT;
	const char *path = t->path;
	char *done = NULL;
	int ret = 0, fd;

	if (!m->nr_xattrs)
		return 0;
	fd = target_fd(t);
	if (fd < 0 || plat_xattr_list_fd(fd, &names) < 0) {
		if (errno == EACCES)
			warn_xattr(warn, ctx, "set", path, errno);
		else
			ret = err_errno("cannot list xattrs of '%s'", path);
		goto out;
	}
	/* Marks listed names that the metadata also carries. */
	done = xcalloc(names.len + 1, 1);
	for (size_t i = 0; i < m->nr_xattrs; i++) {
		const struct meta_xattr *x = &m->xattrs[i];
		int present = 0;

		for (size_t off = 0; off < names.len;) {
			size_t n = strlen(names.data + off);
			if (n == x->name.len &&
			    !memcmp(names.data + off, x->name.data, n)) {
				present = 1;
				done[off] = 1;
			}
			off += n + 1;
		}
		if (present && !plat_xattr_get_fd(fd, x->name.data, &cur) &&
		    cur.len == x->value.len &&
		    !memcmp(cur.data, x->value.data, cur.len))
			continue;
		if (plat_xattr_set_fd(fd, x->name.data, x->value.data,
				      x->value.len) < 0) {
			if (errno == EPERM || errno == EOPNOTSUPP)
				warn_xattr(warn, ctx, "set", path, errno);
			else
				ret = err_errno("cannot set xattr '%s' of '%s'",
						x->name.data, path);
			goto out;
		}
	}
	for (size_t off = 0; off < names.len;) {
		const char *name = names.data + off;
		size_t n = strlen(name);

		if (n && !done[off] && plat_xattr_remove_fd(fd, name) < 0) {
			if (errno == EPERM || errno == EACCES)
				warn_xattr(warn, ctx, "remove", path, errno);
			else
				ret = err_errno("cannot remove xattr '%s' of "
						"'%s'", name, path);
			goto out;
		}
		off += n + 1;
	}
out:
	free(done);
	buf_release(&names);
	buf_release(&cur);
	return ret;
}

int meta_apply(const struct meta *m, const char *path, unsigned flags,
	       meta_warn_fn warn, void *warn_ctx)
{
	struct meta_at at = { AT_FDCWD, path, path, -1 };

	return meta_apply_at(m, &at, flags, warn, warn_ctx);
}

int meta_apply_at(const struct meta *m, const struct meta_at *at,
		  unsigned flags, meta_warn_fn warn, void *warn_ctx)
{
	struct target t = { at->path ? at->path : at->name, at->dirfd,
			    at->name, -1, -1 };
	int own = -1, ret;

	if (!m->mode)
		return err_set(ERR_USAGE, "no metadata - cannot apply to %s",
			       t.path);
	if (!recognized_type(m->mode)) {
		warnf(warn, warn_ctx, "not applying metadata to \"%s\" with "
		      "unrecognized mode \"0x%llx\"\n", t.path,
		      (unsigned long long)m->mode);
		return 0;
	}
	/* an fd is only trusted for what it must be: a file or directory */
	if (S_ISREG(m->mode) || S_ISDIR(m->mode))
		t.fd = at->fd;
	/*
	 * A directory is changed through a descriptor (fchmod, acl_set_fd
	 * ...): opened here when the caller holds none.  A symlink in its
	 * place is refused, never followed; anything else falls back to
	 * the name, whose calls report as before (ENOENT ...).
	 */
	if (S_ISDIR(m->mode) && t.fd < 0) {
		own = plat_fs_open_dir_nofollow(at->dirfd, at->name,
						PLAT_FS_PATH_IF_UNREADABLE);
		if (own < 0 && errno == ELOOP)
			return err_set(ERR_GENERIC,
				       "'%s' is a symlink: not following it",
				       t.path);
		t.fd = own;
	}
	if ((ret = apply_common(m, &t, flags, warn, warn_ctx)) ||
	    (ret = apply_acl(m, &t, flags, warn, warn_ctx)))
		goto out;
	/*
	 * bup applies the attr flags before the xattrs; an immutable or
	 * append-only file then refuses its xattrs.  Doing the flags last
	 * gives the same result for every other file.
	 */
	if ((ret = apply_xattrs(m, &t, warn, warn_ctx)) ||
	    (ret = apply_linux_attr(m, &t, warn, warn_ctx)))
		goto out;
out:
	if (own >= 0)
		close(own);
	if (t.pfd >= 0)
		close(t.pfd);
	return ret;
}

static int buf_eq(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

int meta_same_file(const struct meta *a, const struct meta *b)
{
	if (a->uid != b->uid || a->gid != b->gid || a->rdev != b->rdev ||
	    a->mtime.sec != b->mtime.sec || a->mtime.nsec != b->mtime.nsec ||
	    a->ctime.sec != b->ctime.sec || a->ctime.nsec != b->ctime.nsec ||
	    !buf_eq(&a->user, &b->user) || !buf_eq(&a->group, &b->group) ||
	    a->size != b->size)
		return 0;
	if (!buf_eq(&a->hardlink_target, &b->hardlink_target))
		return 0;
	if (a->has_acl != b->has_acl)
		return 0;
	for (int i = 0; a->has_acl && i < 4; i++)
		if (!buf_eq(&a->acl[i], &b->acl[i]))
			return 0;
	if (a->linux_attr != b->linux_attr || a->nr_xattrs != b->nr_xattrs)
		return 0;
	for (size_t i = 0; i < a->nr_xattrs; i++)
		if (!buf_eq(&a->xattrs[i].name, &b->xattrs[i].name) ||
		    !buf_eq(&a->xattrs[i].value, &b->xattrs[i].value))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* .bupm streams (FORMAT.md 5.7)                                       */

static int cmp_entry(const void *a, const void *b)
{
	const struct meta_bupm_entry *x = a, *y = b;
	/* strcmp compares as unsigned char: plain byte order. */
	return strcmp(x->name, y->name);
}

void meta_bupm_build(struct buf *out, const struct meta *dir,
		     struct meta_bupm_entry *entries, size_t nr)
{
	if (dir)
		meta_encode(out, dir, 0);
	else
		vint_put_vuint(out, META_TAG_END);
	if (nr > 1)
		qsort(entries, nr, sizeof(*entries), cmp_entry);
	for (size_t i = 0; i < nr; i++)
		meta_encode(out, entries[i].meta, 0);
}

void meta_reader_init(struct meta_reader *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
}

int meta_reader_next(struct meta_reader *r, struct meta *m)
{
	size_t used;
	int ret;

	if (r->off >= r->len)
		return 0;
	ret = meta_decode(m, r->buf + r->off, r->len - r->off, &used);
	if (ret)
		return err_set(ret, "metadata at offset %zu: %s", r->off,
			       err_last());
	r->off += used;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Display helpers                                                     */

void meta_mode_str(char *out, int64_t mode)
{
	static const char bits[] = "rwxrwxrwx";
	mode_t t = (mode_t)mode & S_IFMT;

	out[0] = t == S_IFREG ? '-' : t == S_IFDIR ? 'd' : t == S_IFCHR ? 'c' :
		 t == S_IFBLK ? 'b' : t == S_IFIFO ? 'p' : t == S_IFLNK ? 'l' :
		 t == S_IFSOCK ? 's' : '?';
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400 >> i)) ? bits[i] : '-';
	out[10] = '\0';
}

void meta_time_str(struct buf *out, const struct meta_time *t)
{
	int64_t s = t->sec;

	/* bup's fstime_to_sec_bytes: "if s < 0: s += 1" (sic). */
	if (s < 0)
		s += 1;
	if (!t->nsec)
		buf_addf(out, "%lld", (long long)s);
	else
		buf_addf(out, "%lld.%09d", (long long)s, (int)t->nsec);
}

/* metadata.detailed_bytes(), moved here from cmd/xstat.c for meta -tvv. */
void meta_detailed(struct buf *out, const struct meta *m, unsigned f)
{
	int first = 1;
	char ms[11];

#define LINE() do { if (!first) buf_addch(out, '\n'); first = 0; } while (0)
	if (f & META_F_PATH) {
		LINE();
		buf_addstr(out, "path: ");
		buf_add(out, m->path.data, m->path.len);
	}
	if (f & META_F_MODE) {
		LINE();
		meta_mode_str(ms, m->mode);
		buf_addf(out, "mode: %llo (%s)", (unsigned long long)m->mode,
			 ms);
	}
	if ((f & META_F_LINK_TARGET) && S_ISLNK(m->mode)) {
		LINE();
		buf_addstr(out, "link-target: ");
		buf_add(out, m->symlink_target.data, m->symlink_target.len);
	}
	if (f & META_F_RDEV) {
		LINE();
		if (m->rdev)
			buf_addf(out, "rdev: %u,%u", major((dev_t)m->rdev),
				 minor((dev_t)m->rdev));
		else
			buf_addstr(out, "rdev: 0");
	}
	if ((f & META_F_SIZE) && m->size >= 0) {
		LINE();
		buf_addf(out, "size: %lld", (long long)m->size);
	}
	if (f & META_F_UID) {
		LINE();
		buf_addf(out, "uid: %lld", (long long)m->uid);
	}
	if (f & META_F_GID) {
		LINE();
		buf_addf(out, "gid: %lld", (long long)m->gid);
	}
	if (f & META_F_USER) {
		LINE();
		buf_addstr(out, "user: ");
		buf_add(out, m->user.data, m->user.len);
	}
	if (f & META_F_GROUP) {
		LINE();
		buf_addstr(out, "group: ");
		buf_add(out, m->group.data, m->group.len);
	}
	/* Linux has lutime, so symlink times are shown too. */
	if (f & META_F_ATIME) {
		LINE();
		buf_addstr(out, "atime: ");
		meta_time_str(out, &m->atime);
	}
	if (f & META_F_MTIME) {
		LINE();
		buf_addstr(out, "mtime: ");
		meta_time_str(out, &m->mtime);
	}
	if (f & META_F_CTIME) {
		LINE();
		buf_addstr(out, "ctime: ");
		meta_time_str(out, &m->ctime);
	}
	if ((f & META_F_LINUX_ATTR) && m->linux_attr) {
		LINE();
		buf_addf(out, "linux-attr: %llx",
			 (unsigned long long)m->linux_attr);
	}
	if (f & META_F_LINUX_XATTR) {
		for (size_t i = 0; i < m->nr_xattrs; i++) {
			LINE();
			buf_addstr(out, "linux-xattr: ");
			buf_add(out, m->xattrs[i].name.data,
				m->xattrs[i].name.len);
			buf_addstr(out, " -> ");
			buf_add(out, m->xattrs[i].value.data,
				m->xattrs[i].value.len);
		}
	}
	if ((f & META_F_POSIX1E_ACL) && m->has_acl) {
		LINE();
		buf_addstr(out, "posix1e-acl: ");
		buf_add(out, m->acl[META_ACL_TEXT].data,
			m->acl[META_ACL_TEXT].len);
		buf_addch(out, '\n');
		if (S_ISDIR(m->mode)) {
			LINE();
			buf_addstr(out, "posix1e-acl-default: ");
			buf_add(out, m->acl[META_ACL_DEF_TEXT].data,
				m->acl[META_ACL_DEF_TEXT].len);
			buf_addch(out, '\n');
		}
	}
#undef LINE
}
