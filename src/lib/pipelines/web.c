/*
 * `bup web` (web.h): bup 0.33.7's lib/bup/cmd/web.py and its template
 * lib/web/list-directory.html as tornado 6 renders them, over
 * libmicrohttpd, which is loaded with dlopen() by web_start() only.
 * The VFS paths are FORMAT.md 6.2's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* the types only: the functions come from dlsym() (struct mhd) */
#include <microhttpd.h>

#include "pipelines/web.h"
#include "meta/metafmt.h"
#include "store/odb.h"
#include "store/repo.h"
#include "util/err.h"
#include "util/oid.h"
#include "util/pypath.h"
#include "util/util.h"
#include "vfs/vfs.h"

/* --- pure parts ------------------------------------------------------ */

int web_unquote(struct buf *out, const char *s, size_t len, int plus)
{
	int nul = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%' && i + 2 < len && util_hexval(s[i + 1]) >= 0 &&
		    util_hexval(s[i + 2]) >= 0) {
			c = util_hexval(s[i + 1]) << 4 | util_hexval(s[i + 2]);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (!c)
			nul = 1;
		buf_addch(out, c);
	}
	return nul ? -1 : 0;
}

void web_quote(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("_.-~/", c)) {
			/* strchr finds the NUL too, but names hold none */
			if (c) {
				buf_addch(out, c);
				continue;
			}
		}
		buf_addch(out, '%');
		buf_addch(out, hex[c >> 4]);
		buf_addch(out, hex[c & 15]);
	}
}

void web_html_escape(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '&': buf_addstr(out, "&amp;"); break;
		case '<': buf_addstr(out, "&lt;"); break;
		case '>': buf_addstr(out, "&gt;"); break;
		case '"': buf_addstr(out, "&quot;"); break;
		case '\'': buf_addstr(out, "&#39;"); break;
		default: buf_addch(out, s[i]);
		}
	}
}

int web_query_true(const char *v)
{
	int64_t n;

	/*
	 * bup: int() raising ValueError is False.  NEEDSWORK: a number
	 * beyond 64 bits is true in Python, false here.
	 */
	if (pypath_parse_int(v, &n) < 0)
		return 0;
	return n != 0;
}

/* The tornado template's "single" whitespace mode, as it renders here. */
static const char html_head[] =
	"\n<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" "
	"\"http://www.w3.org/TR/html4/loose.dtd\">\n<html>\n<head>\n"
	"<meta http-equiv=\"Content-Type\" content=\"text/html; "
	"charset=UTF-8\">\n<title>Directory listing for ";
static const char html_head2[] =
	"</title>\n<link rel=\"stylesheet\" href=\"/static/styles.css\" />\n"
	"</head>\n<body>\n<div id=\"wrapper\">\n<div id=\"breadcrumb\">\n";

static int is_hidden(const struct web_row *r)
{
	return r->kind != WEB_DOTDOT && r->name[0] == '.';
}

void web_html_listing(struct buf *out, const char *path,
		      const struct web_row *rows, size_t nr,
		      int show_hidden, int human)
{
	const char *q = show_hidden ? "?hidden=1" : "";
	const char *p, *slash;
	int files_hidden = 0;

	buf_addstr(out, html_head);
	web_html_escape(out, path, strlen(path));
	buf_addstr(out, html_head2);

	/* bup's _compute_breadcrumbs(): path.split('/')[1:-1] */
	buf_addstr(out, "\n<a href=\"/\">[root]</a> /\n");
	for (p = path + 1; (slash = strchr(p, '/')); p = slash + 1) {
		buf_addstr(out, "\n<a href=\"");
		web_html_escape(out, path, slash + 1 - path);
		web_html_escape(out, q, strlen(q));
		buf_addstr(out, "\">");
		web_html_escape(out, p, slash - p);
		buf_addstr(out, "</a> /\n");
	}
	buf_addstr(out, "\n</div>\n");

	for (size_t i = 0; i < nr; i++)
		files_hidden |= is_hidden(&rows[i]);
	if (files_hidden)
		buf_addstr(out, show_hidden ?
			   "\n<div id=\"message\">\n\n<a href=\".\">Hide hidden "
			   "files</a>\n\n</div>\n" :
			   "\n<div id=\"message\">\n\n<a href=\"?hidden=1\">"
			   "Show hidden files</a>\n\n</div>\n");
	buf_addstr(out, "\n<table>\n<tr>\n<th class=\"dir-name\">Name</th>\n"
		   "<th class=\"dir-size\">Size</th>\n</tr>\n");

	for (size_t i = 0; i < nr; i++) {
		const struct web_row *r = &rows[i];
		const char *name = r->kind == WEB_DOTDOT ? ".." : r->name;

		if (!show_hidden && is_hidden(r))
			continue;
		buf_addstr(out, "\n<tr>\n<td class=\"dir-name\">\n<a href=\"");
		web_quote(out, name, strlen(name));
		if (r->kind == WEB_DOTDOT || r->kind == WEB_DIR)
			buf_addch(out, '/');
		buf_addstr(out, q);
		buf_addstr(out, "\">");
		web_html_escape(out, name, strlen(name));
		if (r->kind == WEB_DIR)
			buf_addch(out, '/');
		else if (r->kind == WEB_SYMLINK)
			buf_addch(out, '@');
		buf_addstr(out, "</a>\n</td>\n<td class=\"dir-size\">");
		if (r->kind == WEB_FILE) {
			if (human)
				metafmt_filesize(out, r->size);
			else
				buf_addf(out, "%llu",
					 (unsigned long long)r->size);
		} else {
			buf_addstr(out, "&nbsp;");
		}
		buf_addstr(out, "</td>\n</tr>\n");
	}
	buf_addstr(out, "\n</table>\n</div>\n</body>\n</html>\n");
}

/* A JSON string of bytes: UTF-8 as is, other bytes as \udcXX. */
static void json_str(struct buf *out, const char *s)
{
	size_t len = strlen(s);

	buf_addch(out, '"');
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = pypath_utf8_decode(s + i, len - i, &cp);
		unsigned char c = s[i];

		if (!n) {
			buf_addf(out, "\\udc%02x", c);
			i++;
			continue;
		}
		if (c == '"' || c == '\\')
			buf_addf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_addf(out, "\\u%04x", c);
		else
			buf_add(out, s + i, n);
		i += n;
	}
	buf_addch(out, '"');
}

static const char *kind_type(const struct web_row *r)
{
	if (S_ISDIR(r->mode))
		return "dir";
	if (S_ISLNK(r->mode))
		return "symlink";
	if (S_ISREG(r->mode))
		return "file";
	if (S_ISFIFO(r->mode))
		return "fifo";
	if (S_ISSOCK(r->mode))
		return "socket";
	if (S_ISCHR(r->mode))
		return "chardev";
	if (S_ISBLK(r->mode))
		return "blockdev";
	return "unknown";
}

void web_json_listing(struct buf *out, const char *path,
		      const struct web_row *rows, size_t nr)
{
	int first = 1;

	buf_addstr(out, "{\"path\": ");
	json_str(out, path);
	buf_addstr(out, ", \"entries\": [");
	for (size_t i = 0; i < nr; i++) {
		const struct web_row *r = &rows[i];

		if (r->kind == WEB_DOTDOT)
			continue;
		buf_addstr(out, first ? "\n  {\"name\": " : ",\n  {\"name\": ");
		first = 0;
		json_str(out, r->name);
		buf_addf(out, ", \"type\": \"%s\", \"size\": ", kind_type(r));
		if (r->kind == WEB_FILE || r->kind == WEB_SYMLINK)
			buf_addf(out, "%llu", (unsigned long long)r->size);
		else
			buf_addstr(out, "null");
		buf_addf(out, ", \"mode\": %u, \"mtime\": ", r->mode);
		if (r->has_mtime)
			buf_addf(out, "%lld", (long long)r->mtime);
		else
			buf_addstr(out, "null");
		buf_addstr(out, ", \"oid\": ");
		if (r->oid)
			buf_addf(out, "\"%s\"}", r->oid);
		else
			buf_addstr(out, "null}");
	}
	buf_addstr(out, first ? "]}\n" : "\n]}\n");
}

/* Octal into a field of w bytes (w-1 digits and a NUL); 0 if too big. */
static int tar_octal(char *field, size_t w, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)(w - 1),
			 (unsigned long long)v);

	if (n < 0 || (size_t)n > w - 1)
		return 0;
	memcpy(field, tmp, w - 1);
	field[w - 1] = '\0';
	return 1;
}

/* One pax record "LEN key=value\n"; LEN counts its own digits. */
static void pax_record(struct buf *pax, const char *key, const char *val,
		       size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, n = base + 1;

	while (n != base + snprintf(NULL, 0, "%zu", n))
		n = base + snprintf(NULL, 0, "%zu", n);
	buf_addf(pax, "%zu %s=", n, key);
	buf_add(pax, val, vlen);
	buf_addch(pax, '\n');
}

/* The 512-byte ustar block; name/prefix already decided by the caller. */
static void tar_block(struct buf *out, const char *name, size_t nlen,
		      const char *prefix, size_t plen, char type,
		      const struct web_tar_entry *e, uint64_t size,
		      int64_t mtime)
{
	char h[512];
	unsigned sum = 0;
	size_t l;

	memset(h, 0, sizeof(h));
	memcpy(h, name, nlen < 100 ? nlen : 100);
	tar_octal(h + 100, 8, e->mode & 07777);
	if (!tar_octal(h + 108, 8, e->uid < 0 ? 0 : (uint64_t)e->uid))
		tar_octal(h + 108, 8, 0);
	if (!tar_octal(h + 116, 8, e->gid < 0 ? 0 : (uint64_t)e->gid))
		tar_octal(h + 116, 8, 0);
	if (!tar_octal(h + 124, 12, size))
		tar_octal(h + 124, 12, 0);
	if (mtime < 0 || !tar_octal(h + 136, 12, (uint64_t)mtime))
		tar_octal(h + 136, 12, 0);
	h[156] = type;
	if (e->linkname) {
		l = strlen(e->linkname);
		memcpy(h + 157, e->linkname, l < 100 ? l : 100);
	}
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	l = e->uname ? strlen(e->uname) : 0;
	if (l <= 32)
		memcpy(h + 265, e->uname, l);
	l = e->gname ? strlen(e->gname) : 0;
	if (l <= 32)
		memcpy(h + 297, e->gname, l);
	if (type == '3' || type == '4') {
		tar_octal(h + 329, 8, e->devmajor);
		tar_octal(h + 337, 8, e->devminor);
	}
	memcpy(h + 345, prefix, plen);
	/* the checksum is computed with its own field as spaces */
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	h[155] = ' ';
	buf_add(out, h, sizeof(h));
}

void web_tar_header(struct buf *out, const struct web_tar_entry *e)
{
	struct buf pax = BUF_INIT;
	const char *name = e->name;
	size_t len = strlen(name), split = 0, plen = 0;
	char num[32];
	int fits;

	/*
	 * ustar: prefix (155) '/' name (100); directories keep their
	 * trailing '/' in the name part.
	 */
	if (len <= 100) {
		fits = 1;
	} else {
		fits = 0;
		for (size_t i = len - 1; i > 0; i--) {
			if (name[i] != '/' || i == len - 1)
				continue;
			if (len - i - 1 <= 100 && len - i - 1 > 0 && i <= 155) {
				split = i;
				fits = 1;
				break;
			}
		}
	}
	if (!fits)
		pax_record(&pax, "path", name, len);
	if (e->linkname && strlen(e->linkname) > 100)
		pax_record(&pax, "linkpath", e->linkname, strlen(e->linkname));
	if (e->size > 077777777777ULL) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)e->size);
		pax_record(&pax, "size", num, strlen(num));
	}
	if (e->mtime < 0 || (uint64_t)e->mtime > 077777777777ULL) {
		snprintf(num, sizeof(num), "%lld", (long long)e->mtime);
		pax_record(&pax, "mtime", num, strlen(num));
	}
	if (e->uid < 0 || e->uid > 07777777) {
		snprintf(num, sizeof(num), "%lld", (long long)e->uid);
		pax_record(&pax, "uid", num, strlen(num));
	}
	if (e->gid < 0 || e->gid > 07777777) {
		snprintf(num, sizeof(num), "%lld", (long long)e->gid);
		pax_record(&pax, "gid", num, strlen(num));
	}
	if (e->uname && strlen(e->uname) > 32)
		pax_record(&pax, "uname", e->uname, strlen(e->uname));
	if (e->gname && strlen(e->gname) > 32)
		pax_record(&pax, "gname", e->gname, strlen(e->gname));

	if (pax.len) {
		struct web_tar_entry x = { .mode = 0644, .uname = "",
					   .gname = "" };
		struct buf xname = BUF_INIT;
		const char *base = strrchr(name, '/');

		/* GNU tar's default: "PaxHeaders/" and the base name */
		buf_addstr(&xname, "PaxHeaders/");
		base = base && base[1] ? base + 1 : name;
		buf_add(&xname, base, strlen(base) > 88 ? 88 : strlen(base));
		tar_block(out, xname.data, xname.len, "", 0, 'x', &x, pax.len,
			  e->mtime < 0 ? 0 : e->mtime);
		buf_add(out, pax.data, pax.len);
		while (out->len % 512)
			buf_addch(out, '\0');
		buf_release(&xname);
	}
	if (split) {
		plen = split;
		tar_block(out, name + split + 1, len - split - 1, name, plen,
			  e->type, e, e->size, e->mtime);
	} else {
		tar_block(out, name, len, "", 0, e->type, e, e->size,
			  e->mtime);
	}
	buf_release(&pax);
}

static int parse_u64(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	*v = n;
	*pp = p;
	return 0;
}

int web_parse_range(const char *hdr, uint64_t size, uint64_t *first,
		    uint64_t *last)
{
	const char *p = hdr;
	uint64_t a, b;

	if (!hdr)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "bytes=", 6))
		return 0;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '-') {
		/* a suffix: the last b bytes */
		p++;
		if (parse_u64(&p, &b) < 0)
			return 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			return 0; /* several ranges, or junk: whole body */
		if (!b || !size)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (parse_u64(&p, &a) < 0 || *p++ != '-')
		return 0;
	if (*p >= '0' && *p <= '9') {
		if (parse_u64(&p, &b) < 0 || b < a)
			return 0;
	} else {
		b = UINT64_MAX;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return 0;
	if (a >= size)
		return -1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}

void web_http_date(struct buf *out, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[64];

	/* bup: time.strftime('%a, %d %b %Y %H:%M:%S', time.gmtime(t)) */
	if (!gmtime_r(&tt, &tm) ||
	    !strftime(s, sizeof(s), "%a, %d %b %Y %H:%M:%S", &tm))
		s[0] = '\0';
	buf_addstr(out, s);
}

/* --- libmicrohttpd, loaded at run time -------------------------------- */

#define WEB_MHD_LIB "libmicrohttpd.so.12"

struct mhd {
	void *dl;
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_create_response_from_buffer) from_buffer;
	__typeof__(&MHD_create_response_from_callback) from_callback;
	__typeof__(&MHD_add_response_header) add_header;
	__typeof__(&MHD_queue_response) queue;
	__typeof__(&MHD_destroy_response) destroy;
	__typeof__(&MHD_lookup_connection_value) lookup;
	__typeof__(&MHD_get_connection_values) values;
};

static int mhd_load(struct mhd *m, const char *lib)
{
	const char *name = lib ? lib : WEB_MHD_LIB;
	struct {
		const char *sym;
		void **slot;
	} syms[] = {
		{ "MHD_start_daemon", (void **)&m->start_daemon },
		{ "MHD_stop_daemon", (void **)&m->stop_daemon },
		{ "MHD_create_response_from_buffer", (void **)&m->from_buffer },
		{ "MHD_create_response_from_callback",
		  (void **)&m->from_callback },
		{ "MHD_add_response_header", (void **)&m->add_header },
		{ "MHD_queue_response", (void **)&m->queue },
		{ "MHD_destroy_response", (void **)&m->destroy },
		{ "MHD_lookup_connection_value", (void **)&m->lookup },
		{ "MHD_get_connection_values", (void **)&m->values },
	};

	memset(m, 0, sizeof(*m));
	m->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!m->dl)
		return err_set(ERR_NOTFOUND, "cbup web needs libmicrohttpd12: "
			       "apt-get install libmicrohttpd12 (%s)",
			       dlerror());
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		/* POSIX: a function pointer may be read through void * */
		*syms[i].slot = dlsym(m->dl, syms[i].sym);
		if (!*syms[i].slot) {
			int ret = err_set(ERR_NOTFOUND, "cbup web needs "
					  "libmicrohttpd12: %s lacks %s",
					  name, syms[i].sym);
			dlclose(m->dl);
			m->dl = NULL;
			return ret;
		}
	}
	return 0;
}

/* --- the server ------------------------------------------------------ */

/*
 * A cache of objects in front of the repository's vfs_source, one per
 * worker: every request resolves its path again from the refs (so new
 * saves show at once), which reads and inflates the same trees and
 * .bupm blobs each time.  An object's id names its bytes, so a cached
 * object is never stale.  Direct-mapped by id, objects up to
 * CACHE_MAX_OBJ bytes, CACHE_LIMIT bytes in all per worker.
 */
#define CACHE_SLOTS 4096
#define CACHE_MAX_OBJ (256 * 1024)
#define CACHE_LIMIT (16 * 1024 * 1024)

struct cache_slot {
	struct oid oid;
	enum obj_type type;
	struct buf data;
	int used;
};

/*
 * A loose ref's id, kept while the file's stat is unchanged: refs are
 * replaced by rename (git's lock protocol, refs.c), so an update is a
 * new inode; one stat() instead of open, read, close per request.
 */
struct ref_memo {
	char *name;
	struct oid oid;
	struct stat st;
};

struct cache_source {
	struct vfs_source src;
	struct vfs_source *inner;
	struct repo *repo;
	struct cache_slot *slots;
	size_t bytes;
	struct ref_memo *refs;
	size_t nr_refs, alloc_refs;
	struct buf path;
};

static int cache_cat(struct vfs_source *s, const struct oid *oid,
		     enum obj_type *type, struct buf *out)
{
	struct cache_source *c = (struct cache_source *)s;
	struct cache_slot *slot;
	size_t len0 = out->len;
	unsigned h;
	int ret;

	memcpy(&h, oid->hash, sizeof(h));
	slot = &c->slots[h % CACHE_SLOTS];
	if (slot->used && oid_eq(&slot->oid, oid)) {
		*type = slot->type;
		buf_add(out, slot->data.data, slot->data.len);
		return 0;
	}
	ret = c->inner->ops->cat(c->inner, oid, type, out);
	if (ret == ERR_NOTFOUND) {
		/* a save since this worker opened the odb: look again */
		struct odb *odb = repo_odb(c->repo);

		if (odb && !odb_refresh(odb))
			ret = c->inner->ops->cat(c->inner, oid, type, out);
	}
	if (ret < 0 || out->len - len0 > CACHE_MAX_OBJ)
		return ret;
	if (slot->used) {
		c->bytes -= slot->data.len;
		slot->used = 0;
	}
	if (c->bytes + (out->len - len0) > CACHE_LIMIT)
		return 0;
	buf_reset(&slot->data);
	buf_add(&slot->data, out->data + len0, out->len - len0);
	slot->oid = *oid;
	slot->type = *type;
	slot->used = 1;
	c->bytes += slot->data.len;
	return 0;
}

static int cache_refs(struct vfs_source *s, const char *prefix,
		      vfs_ref_fn fn, void *ctx)
{
	struct cache_source *c = (struct cache_source *)s;

	return c->inner->ops->refs(c->inner, prefix, fn, ctx);
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
		a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
		a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
		a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
		a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int cache_read_ref(struct vfs_source *s, const char *refname,
			  struct oid *out)
{
	struct cache_source *c = (struct cache_source *)s;
	struct ref_memo *m = NULL;
	struct stat before, after;
	int ret;

	buf_reset(&c->path);
	buf_addf(&c->path, "%s/%s", c->repo->path, refname);
	/*
	 * A packed or missing ref, or a symbolic one (whose target may
	 * move while it stays; an id and its newline are 41 bytes): read
	 * it every time.
	 */
	if (stat(c->path.data, &before) < 0 || !S_ISREG(before.st_mode) ||
	    before.st_size != OID_HEXSZ + 1)
		return c->inner->ops->read_ref(c->inner, refname, out);
	for (size_t i = 0; i < c->nr_refs; i++) {
		if (!strcmp(c->refs[i].name, refname)) {
			m = &c->refs[i];
			break;
		}
	}
	if (m && same_stat(&m->st, &before)) {
		*out = m->oid;
		return 0;
	}
	ret = c->inner->ops->read_ref(c->inner, refname, out);
	/* keep it only if the file did not change while it was read */
	if (ret < 0 || stat(c->path.data, &after) < 0 ||
	    !same_stat(&before, &after))
		return ret;
	if (!m) {
		ALLOC_GROW(c->refs, c->nr_refs + 1, c->alloc_refs);
		m = &c->refs[c->nr_refs++];
		m->name = xstrdup(refname);
	}
	m->oid = *out;
	m->st = after;
	return 0;
}

static void cache_free(struct vfs_source *s)
{
	struct cache_source *c = (struct cache_source *)s;

	for (size_t i = 0; i < CACHE_SLOTS; i++)
		buf_release(&c->slots[i].data);
	free(c->slots);
	for (size_t i = 0; i < c->nr_refs; i++)
		free(c->refs[i].name);
	free(c->refs);
	buf_release(&c->path);
	if (c->inner->ops->free)
		c->inner->ops->free(c->inner);
	free(c);
}

static const struct vfs_source_ops cache_ops = {
	.cat = cache_cat,
	.refs = cache_refs,
	.free = cache_free,
};

static const struct vfs_source_ops cache_ops_read_ref = {
	.cat = cache_cat,
	.refs = cache_refs,
	.read_ref = cache_read_ref,
	.free = cache_free,
};

/* A vfs over r's objects through a cache (takes nothing on failure). */
static int cached_vfs_new(struct vfs **out, struct repo *r)
{
	struct vfs_source *inner;
	struct cache_source *c;
	int ret = vfs_source_local_new(&inner, r);

	if (ret < 0)
		return ret;
	/* the vfs does the optional operations itself through these two */
	c = xcalloc(1, sizeof(*c));
	c->src.ops = inner->ops->read_ref ? &cache_ops_read_ref : &cache_ops;
	c->inner = inner;
	c->repo = r;
	buf_init(&c->path, 0);
	c->slots = xcalloc(CACHE_SLOTS, sizeof(*c->slots));
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		buf_init(&c->slots[i].data, 0);
	return vfs_new_source(out, &c->src);
}

struct web_worker {
	struct repo *repo;
	struct vfs *vfs;
};

struct web_server {
	struct web_opts o;
	char *repo_path;
	struct mhd mhd;
	struct MHD_Daemon *d;
	pthread_key_t key;
	pthread_mutex_t log_lock;
};

/* Also the thread's destructor: it runs in the worker as it ends. */
static void worker_free(void *p)
{
	struct web_worker *w = p;

	if (!w)
		return;
	if (w->vfs)
		vfs_free(w->vfs);
	if (w->repo)
		repo_free(w->repo);
	free(w);
	oid_thread_release();
}

/* This thread's repository and vfs, opened on its first request. */
static struct web_worker *worker_get(struct web_server *s)
{
	struct web_worker *w = pthread_getspecific(s->key);

	if (w)
		return w;
	w = xcalloc(1, sizeof(*w));
	if (repo_open(&w->repo, s->repo_path) < 0 ||
	    cached_vfs_new(&w->vfs, w->repo) < 0) {
		worker_free(w);
		return NULL;
	}
	if (pthread_setspecific(s->key, w)) {
		worker_free(w);
		err_set(ERR_GENERIC, "pthread_setspecific failed");
		return NULL;
	}
	return w;
}

static void log_line(struct web_server *s, int to_err, const char *line)
{
	void (*fn)(void *, const char *) = to_err ? s->o.err : s->o.out;

	if (!fn)
		return;
	/* one whole line at a time, whichever worker writes it */
	pthread_mutex_lock(&s->log_lock);
	fn(s->o.ctx, line);
	pthread_mutex_unlock(&s->log_lock);
}

static enum MHD_Result reply(struct web_server *s, struct MHD_Connection *c,
			     unsigned status, struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = s->mhd.queue(c, status, r);
	s->mhd.destroy(r);
	return ret;
}

static struct MHD_Response *buf_response(struct web_server *s,
					 struct buf *b, const char *ctype)
{
	size_t len;
	char *data = buf_detach(b, &len);
	struct MHD_Response *r;

	r = s->mhd.from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(data);
		return NULL;
	}
	if (ctype)
		s->mhd.add_header(r, "Content-Type", ctype);
	return r;
}

/* tornado's send_error() page. */
static enum MHD_Result error_page(struct web_server *s,
				  struct MHD_Connection *c, unsigned status)
{
	const char *what = status == 404 ? "Not Found" :
		status == 400 ? "Bad Request" :
		status == 405 ? "Method Not Allowed" :
		"Internal Server Error";
	struct buf b = BUF_INIT;

	buf_addf(&b, "<html><title>%u: %s</title><body>%u: %s</body></html>",
		 status, what, status, what);
	return reply(s, c, status,
		     buf_response(s, &b, "text/html; charset=UTF-8"));
}

static enum MHD_Result server_error(struct web_server *s,
				    struct MHD_Connection *c,
				    const char *path, const char *msg)
{
	struct buf line = BUF_INIT;

	buf_addstr(&line, "error: ");
	if (path) {
		pypath_path_msg(&line, path);
		buf_addstr(&line, ": ");
	}
	buf_addstr(&line, msg);
	buf_addch(&line, '\n');
	log_line(s, 1, line.data);
	buf_release(&line);
	return error_page(s, c, 500);
}

/* bup's lib/web/static/styles.css, byte for byte (bup's test compares) */
static const char styles_css[] =
	"body {\n    font-family: sans-serif\n}\n\n#wrapper {\n"
	"    width: 90%;\n    margin: auto;\n}\n\n#breadcrumb {\n"
	"    margin: 10px 0;\n}\n\ntable {\n    width: auto;\n}\n\n"
	"th {\n    text-align: left;\n}\n\n.dir-size {\n"
	"    padding-left:15px;\n}";

#define STYLES_CSS_SHA512 \
	"33a7fe86025d09969350cda8fcc74e7908da3c61350dc23f18d0b6df129ecd8d" \
	"5ead00912bb80747a9c026d40896d5592a2e7c665d5d4058729fe9833d259d16"

/* The query arguments web.py (and the extras) look at. */
struct query {
	struct buf hidden, tar, json;
	int has_hidden, has_tar, has_json;
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct query *q = cls;
	struct buf *b = NULL;
	int *has = NULL;

	(void)kind;
	if (!strcmp(key, "hidden")) {
		b = &q->hidden;
		has = &q->has_hidden;
	} else if (!strcmp(key, "tar")) {
		b = &q->tar;
		has = &q->has_tar;
	} else if (!strcmp(key, "json")) {
		b = &q->json;
		has = &q->has_json;
	}
	if (b) {
		/* the last one wins, as tornado's get_argument() */
		buf_reset(b);
		*has = 1;
		if (value)
			web_unquote(b, value, strlen(value), 1);
	}
	return MHD_YES;
}

/*
 * A file's bytes on their way into a response: the piece
 * vfs_file_next() gave last (what of it is not sent yet), and how much
 * of the file the response still promises.
 */
struct file_bytes {
	struct vfs_file *f;
	const unsigned char *piece;
	size_t piece_len;
	uint64_t left;
};

/*
 * Copies what it can of the piece to out (room bytes at most, never
 * more than is left) and returns the count.
 */
static size_t file_bytes_take(struct file_bytes *b, char *out, size_t room)
{
	size_t n = b->piece_len;

	if (n > room)
		n = room;
	if (n > b->left)
		n = (size_t)b->left;
	memcpy(out, b->piece, n);
	b->piece += n;
	b->piece_len -= n;
	b->left -= n;
	return n;
}

/* A file's bytes, streamed from a vfs_file of this thread's vfs. */
struct file_reader {
	struct file_bytes b;
	struct web_server *s;
};

static void file_reader_free(void *cls)
{
	struct file_reader *fr = cls;

	vfs_file_close(fr->b.f);
	free(fr);
}

static ssize_t file_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct file_reader *fr = cls;
	size_t done = 0;

	(void)pos;
	while (done < max && fr->b.left) {
		if (!fr->b.piece_len) {
			long long got = vfs_file_next(fr->b.f, &fr->b.piece);

			if (got < 0) {
				struct buf l = BUF_INIT;

				buf_addf(&l, "error: %s\n", err_last());
				log_line(fr->s, 1, l.data);
				buf_release(&l);
				return MHD_CONTENT_READER_END_WITH_ERROR;
			}
			if (!got)
				break;
			fr->b.piece_len = (size_t)got;
		}
		done += file_bytes_take(&fr->b, out + done, max - done);
	}
	if (done)
		return (ssize_t)done;
	/* short data: the length promised cannot be kept, drop the link */
	return fr->b.left ? MHD_CONTENT_READER_END_WITH_ERROR :
		MHD_CONTENT_READER_END_OF_STREAM;
}

/* Files are read whole into memory up to this size. */
#define SMALL_FILE (64 * 1024)

/* bup's Last-Modified and Etag (the object id), and Accept-Ranges. */
static void file_headers(struct web_server *s, struct MHD_Response *r,
			 const struct vfs_item *it, struct buf *tmp)
{
	char hex[OID_HEXSZ + 1];

	buf_reset(tmp);
	web_http_date(tmp, it->has_meta ? it->meta.mtime.sec : 0);
	s->mhd.add_header(r, "Last-Modified", tmp->data);
	s->mhd.add_header(r, "Etag", oid_to_hex(&it->oid, hex));
	s->mhd.add_header(r, "Accept-Ranges", "bytes");
}

static enum MHD_Result serve_file(struct web_server *s,
				  struct MHD_Connection *c,
				  struct web_worker *w, const char *path,
				  const struct vfs_item *it)
{
	struct file_reader *fr;
	struct MHD_Response *r;
	struct buf hdr = BUF_INIT;
	uint64_t size, first = 0, last = 0;
	long long got;
	unsigned status = 200;
	int range;

	if (!S_ISREG(it->mode))
		return server_error(s, c, path, "not a regular file");
	if (vfs_item_size(w->vfs, it, &size) < 0)
		return server_error(s, c, path, err_last());
	fr = xcalloc(1, sizeof(*fr));
	fr->s = s;
	if (vfs_file_open(w->vfs, &it->oid, &fr->b.f) < 0) {
		free(fr);
		return server_error(s, c, path, err_last());
	}
	/*
	 * Read the first piece now: a missing or corrupt object is then a
	 * 500 rather than a connection dropped after a 200.
	 */
	got = vfs_file_next(fr->b.f, &fr->b.piece);
	if (got < 0) {
		file_reader_free(fr);
		return server_error(s, c, path, err_last());
	}
	fr->b.piece_len = (size_t)got;

	range = web_parse_range(s->mhd.lookup(c, MHD_HEADER_KIND, "Range"),
				size, &first, &last);
	if (!range && size <= SMALL_FILE) {
		/*
		 * A small file is read whole: libmicrohttpd sends headers
		 * and body in one call, and a damaged chunk is a 500.
		 */
		struct buf data = BUF_INIT;

		while (fr->b.piece_len) {
			buf_add(&data, fr->b.piece, fr->b.piece_len);
			got = data.len > size ? 0 :
				vfs_file_next(fr->b.f, &fr->b.piece);
			if (got < 0) {
				buf_release(&data);
				file_reader_free(fr);
				return server_error(s, c, path, err_last());
			}
			fr->b.piece_len = (size_t)got;
		}
		file_reader_free(fr);
		if (data.len != size) {
			buf_release(&data);
			return server_error(s, c, path, "file size differs "
					    "from its metadata");
		}
		r = buf_response(s, &data, "text/plain");
		if (!r)
			return MHD_NO;
		file_headers(s, r, it, &hdr);
		buf_release(&hdr);
		return reply(s, c, 200, r);
	}
	if (range < 0) {
		struct buf b = BUF_INIT;

		file_reader_free(fr);
		r = buf_response(s, &b, "text/plain");
		if (!r)
			return MHD_NO;
		buf_addf(&hdr, "bytes */%llu", (unsigned long long)size);
		s->mhd.add_header(r, "Content-Range", hdr.data);
		buf_release(&hdr);
		return reply(s, c, 416, r);
	}
	if (range > 0) {
		/*
		 * Go down the chunk tree to the range's first byte
		 * (vfs_file_seek) rather than read what lies before it.
		 */
		if (first &&
		    ((got = vfs_file_seek(fr->b.f, first)) < 0 ||
		     (got = vfs_file_next(fr->b.f, &fr->b.piece)) < 0)) {
			file_reader_free(fr);
			return server_error(s, c, path, err_last());
		}
		if (first)
			fr->b.piece_len = (size_t)got;
		fr->b.left = last - first + 1;
		status = 206;
	} else {
		fr->b.left = size;
	}
	r = s->mhd.from_callback(fr->b.left, 64 * 1024, file_read, fr,
				 file_reader_free);
	if (!r) {
		file_reader_free(fr);
		return MHD_NO;
	}
	s->mhd.add_header(r, "Content-Type", "text/plain");
	file_headers(s, r, it, &hdr);
	if (range > 0) {
		buf_reset(&hdr);
		buf_addf(&hdr, "bytes %llu-%llu/%llu",
			 (unsigned long long)first, (unsigned long long)last,
			 (unsigned long long)size);
		s->mhd.add_header(r, "Content-Range", hdr.data);
	}
	buf_release(&hdr);
	return reply(s, c, status, r);
}

/* --- ?tar=1: the directory as a ustar stream ---------------------------- */

struct tar_frame {
	struct vfs_list l;
	size_t i;
	size_t plen;       /* the path's length before this directory */
};

struct tar_reader {
	struct web_server *s;
	struct web_worker *w;
	struct tar_frame *st;
	size_t nr, alloc;
	struct buf path;       /* "top/sub/" */
	struct buf pend;       /* header or padding not yet sent */
	size_t pend_off;
	struct file_bytes b;   /* the member whose data is being sent */
	size_t pad;
	int done;
};

static void tar_reader_free(void *cls)
{
	struct tar_reader *t = cls;

	while (t->nr)
		vfs_list_release(&t->st[--t->nr].l);
	free(t->st);
	if (t->b.f)
		vfs_file_close(t->b.f);
	buf_release(&t->path);
	buf_release(&t->pend);
	free(t);
}

static void tar_fill_entry(struct web_tar_entry *e, const struct vfs_item *it)
{
	e->mode = it->mode & 07777;
	e->mtime = 0;
	e->uid = e->gid = 0;
	e->uname = e->gname = "";
	if (it->has_meta && it->meta.mode) {
		e->mtime = it->meta.mtime.sec;
		e->uid = it->meta.uid;
		e->gid = it->meta.gid;
		e->uname = it->meta.user.data;
		e->gname = it->meta.group.data;
	}
}

static int is_dir_item(const struct vfs_item *it)
{
	return it->kind == VFS_ROOT || it->kind == VFS_TAGS ||
		it->kind == VFS_REVLIST || it->kind == VFS_COMMIT ||
		S_ISDIR(it->mode);
}

/* List dir, queue its header under the current path, push it. */
static int tar_push_dir(struct tar_reader *t, const char *name,
			const struct vfs_item *dir)
{
	struct tar_frame *fr;
	struct web_tar_entry e = { 0 };
	size_t plen = t->path.len;
	int ret;

	ALLOC_GROW(t->st, t->nr + 1, t->alloc);
	fr = &t->st[t->nr];
	vfs_list_init(&fr->l);
	ret = vfs_contents(t->w->vfs, dir, 1, &fr->l);
	if (ret < 0) {
		vfs_list_release(&fr->l);
		return ret;
	}
	t->nr++;
	fr->i = 0;
	fr->plen = plen;
	buf_addstr(&t->path, name);
	buf_addch(&t->path, '/');
	/* "." carries the directory's own metadata, when it has some */
	tar_fill_entry(&e, fr->l.nr && !strcmp(fr->l.e[0].name, ".") ?
		       &fr->l.e[0].item : dir);
	e.name = t->path.data;
	e.type = '5';
	web_tar_header(&t->pend, &e);
	return 0;
}

/* Queue the next member's header (and open its data); 0 at the end. */
static int tar_next(struct tar_reader *t)
{
	while (t->nr) {
		struct tar_frame *fr = &t->st[t->nr - 1];
		struct web_tar_entry e = { 0 };
		const struct vfs_entry *ent;
		const struct vfs_item *it;
		struct buf name = BUF_INIT, target = BUF_INIT;
		uint64_t size;
		int ret = 0;

		if (fr->i >= fr->l.nr) {
			buf_setlen(&t->path, fr->plen);
			vfs_list_release(&fr->l);
			t->nr--;
			continue;
		}
		ent = &fr->l.e[fr->i++];
		it = &ent->item;
		if (!strcmp(ent->name, ".") || !strcmp(ent->name, ".."))
			continue;
		if (is_dir_item(it) && it->kind != VFS_FAKELINK)
			return tar_push_dir(t, ent->name, it) < 0 ? -1 : 1;

		buf_addf(&name, "%s%s", t->path.data, ent->name);
		tar_fill_entry(&e, it);
		e.name = name.data;
		if (it->kind == VFS_FAKELINK || S_ISLNK(it->mode)) {
			e.type = '2';
			if (it->kind == VFS_FAKELINK)
				buf_addstr(&target, it->target);
			else if (it->has_meta && it->meta.symlink_target.len)
				buf_add(&target, it->meta.symlink_target.data,
					it->meta.symlink_target.len);
			else
				ret = vfs_readlink(t->w->vfs, it, &target);
			e.linkname = target.data;
		} else if (S_ISREG(it->mode)) {
			e.type = '0';
			ret = vfs_item_size(t->w->vfs, it, &size);
			if (!ret)
				ret = vfs_file_open(t->w->vfs, &it->oid,
						    &t->b.f);
			if (!ret) {
				e.size = size;
				t->b.left = size;
				t->pad = (512 - size % 512) % 512;
				t->b.piece_len = 0;
			}
		} else if (S_ISFIFO(it->mode)) {
			e.type = '6';
		} else if (S_ISCHR(it->mode) || S_ISBLK(it->mode)) {
			e.type = S_ISCHR(it->mode) ? '3' : '4';
			if (it->has_meta) {
				e.devmajor = major(it->meta.rdev);
				e.devminor = minor(it->meta.rdev);
			}
		} else {
			buf_release(&name);
			continue; /* sockets: tar has no type for them */
		}
		if (ret >= 0)
			web_tar_header(&t->pend, &e);
		buf_release(&name);
		buf_release(&target);
		return ret < 0 ? -1 : 1;
	}
	return 0;
}

static ssize_t tar_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct tar_reader *t = cls;
	size_t done = 0;

	(void)pos;
	while (done < max) {
		size_t n;

		if (t->pend_off < t->pend.len) {
			n = t->pend.len - t->pend_off;
			if (n > max - done)
				n = max - done;
			memcpy(out + done, t->pend.data + t->pend_off, n);
			t->pend_off += n;
			done += n;
			continue;
		}
		buf_reset(&t->pend);
		t->pend_off = 0;
		if (t->b.f) {
			if (!t->b.left) {
				vfs_file_close(t->b.f);
				t->b.f = NULL;
				buf_grow(&t->pend, t->pad);
				memset(t->pend.data, 0, t->pad);
				buf_setlen(&t->pend, t->pad);
				continue;
			}
			if (!t->b.piece_len) {
				long long got = vfs_file_next(t->b.f,
							      &t->b.piece);

				if (got <= 0) {
					if (!got)
						err_set(ERR_CORRUPT, "file "
							"shorter than its "
							"recorded size");
					goto fail;
				}
				t->b.piece_len = (size_t)got;
			}
			done += file_bytes_take(&t->b, out + done,
						max - done);
			continue;
		}
		if (t->done)
			break;
		switch (tar_next(t)) {
		case 0:
			/* the end: two zero blocks */
			buf_grow(&t->pend, 1024);
			memset(t->pend.data, 0, 1024);
			buf_setlen(&t->pend, 1024);
			t->done = 1;
			break;
		case 1:
			break;
		default:
			goto fail;
		}
	}
	if (done)
		return (ssize_t)done;
	return MHD_CONTENT_READER_END_OF_STREAM;
fail:
	{
		struct buf l = BUF_INIT;

		buf_addf(&l, "error: tar stream: %s\n", err_last());
		log_line(t->s, 1, l.data);
		buf_release(&l);
	}
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result serve_tar(struct web_server *s,
				 struct MHD_Connection *c,
				 struct web_worker *w, const char *path,
				 const char *leaf, const struct vfs_item *dir)
{
	struct tar_reader *t = xcalloc(1, sizeof(*t));
	struct MHD_Response *r;
	struct buf disp = BUF_INIT;
	const char *top = *leaf ? leaf : "root";

	t->s = s;
	t->w = w;
	buf_init(&t->path, 0);
	buf_init(&t->pend, 0);
	/* list the top now: an unreadable directory is a 500 */
	if (tar_push_dir(t, top, dir) < 0) {
		tar_reader_free(t);
		return server_error(s, c, path, err_last());
	}
	r = s->mhd.from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, tar_read, t,
				 tar_reader_free);
	if (!r) {
		tar_reader_free(t);
		return MHD_NO;
	}
	s->mhd.add_header(r, "Content-Type", "application/x-tar");
	buf_addstr(&disp, "attachment; filename*=UTF-8''");
	web_quote(&disp, top, strlen(top));
	buf_addstr(&disp, ".tar");
	s->mhd.add_header(r, "Content-Disposition", disp.data);
	buf_release(&disp);
	return reply(s, c, 200, r);
}

static enum MHD_Result serve_dir(struct web_server *s,
				 struct MHD_Connection *c,
				 struct web_worker *w, const char *path,
				 const struct vfs_list *res,
				 const struct query *q)
{
	const struct vfs_entry *leaf = &res->e[res->nr - 1];
	struct vfs_list l;
	struct web_row *rows;
	char (*hex)[OID_HEXSZ + 1];
	struct buf b = BUF_INIT;
	struct MHD_Response *r;
	int json = q->has_json && web_query_true(q->json.data);
	int ret;

	if (q->has_tar && web_query_true(q->tar.data)) {
		/* named as the path names it, as restore does ("latest") */
		struct buf top = BUF_INIT;
		const char *end = path + strlen(path), *p;

		while (end > path && end[-1] == '/')
			end--;
		for (p = end; p > path && p[-1] != '/'; p--)
			;
		buf_add(&top, p, end - p);
		ret = serve_tar(s, c, w, path, top.data, &leaf->item);
		buf_release(&top);
		return ret;
	}

	vfs_list_init(&l);
	ret = vfs_contents(w->vfs, &leaf->item, 1, &l);
	if (ret < 0) {
		vfs_list_release(&l);
		return server_error(s, c, path, err_last());
	}
	rows = xcalloc(l.nr ? l.nr : 1, sizeof(*rows));
	hex = xcalloc(l.nr ? l.nr : 1, sizeof(*hex));
	for (size_t i = 0; i < l.nr && ret >= 0; i++) {
		const struct vfs_item *it = &l.e[i].item;
		struct web_row *row = &rows[i];

		row->name = l.e[i].name;
		row->mode = it->mode;
		if (!strcmp(row->name, "."))
			row->kind = WEB_DOTDOT;
		else if (S_ISDIR(it->mode))
			row->kind = WEB_DIR;
		else if (S_ISLNK(it->mode))
			row->kind = WEB_SYMLINK;
		else
			row->kind = WEB_FILE;
		/* the JSON gives directories their own .bupm's mtime */
		if (json && row->kind == WEB_DIR && it->kind == VFS_ITEM &&
		    !it->has_meta)
			ret = vfs_fill_dir_meta(w->vfs, &l.e[i].item);
		if (it->has_meta && it->meta.mode) {
			row->has_mtime = 1;
			row->mtime = it->meta.mtime.sec;
		}
		if (!oid_is_zero(&it->oid))
			row->oid = oid_to_hex(&it->oid, hex[i]);
		/* sizes: bup shows files'; the JSON has symlinks' too */
		if (row->kind == WEB_FILE ||
		    (json && row->kind == WEB_SYMLINK))
			ret = vfs_item_size(w->vfs, it, &row->size);
	}
	if (ret < 0) {
		ret = server_error(s, c, path, err_last());
	} else if (json) {
		web_json_listing(&b, path, rows, l.nr);
		ret = reply(s, c, 200, buf_response(s, &b, "application/json"));
	} else {
		int hidden = q->has_hidden && web_query_true(q->hidden.data);
		unsigned char sha[OID_RAWSZ];
		struct oid etag;
		char tag[OID_HEXSZ + 3];

		web_html_listing(&b, path, rows, l.nr, hidden,
				 s->o.human_readable);
		/* tornado's Etag: the body's SHA-1, quoted */
		sha1_buf(sha, b.data, b.len);
		memcpy(etag.hash, sha, OID_RAWSZ);
		tag[0] = '"';
		oid_to_hex(&etag, tag + 1);
		tag[OID_HEXSZ + 1] = '"';
		tag[OID_HEXSZ + 2] = '\0';
		r = buf_response(s, &b, "text/html; charset=UTF-8");
		if (r)
			s->mhd.add_header(r, "Etag", tag);
		ret = reply(s, c, 200, r);
	}
	buf_release(&b);
	free(rows);
	free(hex);
	vfs_list_release(&l);
	return ret;
}

static enum MHD_Result serve_static(struct web_server *s,
				    struct MHD_Connection *c, const char *url)
{
	struct MHD_Response *r;

	if (strcmp(url, "/static/styles.css"))
		return error_page(s, c, 404);
	r = s->mhd.from_buffer(sizeof(styles_css) - 1, (void *)styles_css,
			       MHD_RESPMEM_PERSISTENT);
	if (r) {
		s->mhd.add_header(r, "Content-Type", "text/css");
		/* tornado's static Etag: the file's SHA-512 */
		s->mhd.add_header(r, "Etag", "\"" STYLES_CSS_SHA512 "\"");
		s->mhd.add_header(r, "Accept-Ranges", "bytes");
	}
	return reply(s, c, 200, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct web_server *s = cls;
	struct web_worker *w;
	struct buf path = BUF_INIT, line = BUF_INIT;
	struct vfs_list res;
	struct query q;
	const struct vfs_item *leaf;
	enum MHD_Result ret;
	int err_no = 0;

	(void)version;
	(void)upload;
	/*
	 * The first call comes with the headers: answering then would
	 * make libmicrohttpd close the connection (a response queued
	 * "early"), so wait for the second, when the request is whole.
	 */
	if (!*con_cls) {
		*con_cls = s;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a body: nothing of ours takes one */
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return error_page(s, c, 405);
	/* tornado routes on the raw path: /static/, then everything */
	if (url[0] != '/')
		return error_page(s, c, 404);
	if (!strncmp(url, "/static/", 8) || !strcmp(url, "/favicon.ico") ||
	    !strcmp(url, "/robots.txt"))
		return serve_static(s, c, url);
	/*
	 * The path as bup sees it: percent-decoded bytes.  A NUL cannot
	 * be in a VFS name (and would cut the C string): 400.  ".." is
	 * resolved inside the VFS, whose root is its own parent, so no
	 * path leads outside the repository's tree.
	 */
	if (web_unquote(&path, url, strlen(url), 0) < 0) {
		buf_release(&path);
		return error_page(s, c, 400);
	}
	buf_addstr(&line, "Handling request for ");
	pypath_bytes_repr(&line, path.data, path.len);
	buf_addch(&line, '\n');
	log_line(s, 0, line.data);
	buf_reset(&line);

	w = worker_get(s);
	if (!w) {
		ret = server_error(s, c, NULL, err_last());
		goto out_path;
	}
	memset(&q, 0, sizeof(q));
	buf_init(&q.hidden, 0);
	buf_init(&q.tar, 0);
	buf_init(&q.json, 0);
	s->mhd.values(c, MHD_GET_ARGUMENT_KIND, query_arg, &q);

	vfs_list_init(&res);
	if (vfs_resolve(w->vfs, path.data, NULL, 1, 1, &res, &err_no) < 0) {
		/* bup: ENOTDIR and ELOOP escape web.py: a 500 */
		ret = server_error(s, c, path.data, err_no ?
				   vfs_resolve_error(w->vfs) : err_last());
		goto out;
	}
	leaf = &res.e[res.nr - 1].item;
	if (leaf->kind == VFS_MISSING) {
		ret = error_page(s, c, 404);
	} else if (is_dir_item(leaf)) {
		if (path.data[path.len - 1] != '/') {
			struct MHD_Response *r;
			struct buf loc = BUF_INIT, empty = BUF_INIT;
			int ctl = 0;

			buf_addstr(&line, "Redirecting from ");
			pypath_path_msg(&line, path.data);
			buf_addstr(&line, " to ");
			pypath_path_msg(&line, path.data);
			buf_addstr(&line, "/\n");
			log_line(s, 0, line.data);
			/*
			 * bup sends the decoded bytes back; control bytes
			 * cannot go in a header, so such a path goes back
			 * quoted (tornado fails there with a 500).
			 */
			for (size_t i = 0; i < path.len; i++)
				ctl |= (unsigned char)path.data[i] < 0x20 ||
					path.data[i] == 0x7f;
			if (ctl)
				web_quote(&loc, path.data, path.len);
			else
				buf_add(&loc, path.data, path.len);
			buf_addch(&loc, '/');
			r = buf_response(s, &empty, "text/html; charset=UTF-8");
			if (r)
				s->mhd.add_header(r, "Location", loc.data);
			buf_release(&loc);
			ret = reply(s, c, 301, r);
		} else {
			ret = serve_dir(s, c, w, path.data, &res, &q);
		}
	} else {
		ret = serve_file(s, c, w, path.data, leaf);
	}
out:
	vfs_list_release(&res);
	buf_release(&q.hidden);
	buf_release(&q.tar);
	buf_release(&q.json);
out_path:
	buf_release(&path);
	buf_release(&line);
	return ret;
}

/* Keep the raw path and query: web.py's decoding is done above. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return err_errno("cannot make the listening socket "
				 "non-blocking");
	return 0;
}

int web_start(struct web_server **out, const struct web_opts *o)
{
	struct web_server *s = xcalloc(1, sizeof(*s));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	int ret;

	*out = NULL;
	s->o = *o;
	s->repo_path = xstrdup(o->repo_path);
	s->o.repo_path = s->repo_path;
	pthread_mutex_init(&s->log_lock, NULL);
	ret = mhd_load(&s->mhd, o->libname);
	if (ret < 0)
		goto fail;
	ret = set_nonblock(o->listen_fd);
	if (ret < 0)
		goto fail;
	if (pthread_key_create(&s->key, worker_free)) {
		ret = err_set(ERR_GENERIC, "pthread_key_create failed");
		goto fail;
	}
	s->d = s->mhd.start_daemon(flags, 0, NULL, NULL, on_request, s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)o->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)(o->threads ? o->threads : 1),
		MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, 60u,
		MHD_OPTION_END);
	if (!s->d) {
		pthread_key_delete(s->key);
		ret = err_set(ERR_GENERIC, "libmicrohttpd could not start "
			      "on the listening socket");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	close(o->listen_fd);
	if (s->mhd.dl)
		dlclose(s->mhd.dl);
	pthread_mutex_destroy(&s->log_lock);
	free(s->repo_path);
	free(s);
	return ret;
}

void web_stop(struct web_server *s)
{
	if (!s)
		return;
	/* joins the workers, whose vfs go with their threads (worker_free) */
	s->mhd.stop_daemon(s->d);
	pthread_key_delete(s->key);
	dlclose(s->mhd.dl);
	pthread_mutex_destroy(&s->log_lock);
	free(s->repo_path);
	free(s);
}

int web_listen_inet(int *fd, struct buf *shown, const char *host, int port)
{
	struct addrinfo hints, *ai = NULL;
	char serv[16], h[NI_MAXHOST];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, rc, sock = -1, ret;

	*fd = -1;
	if (port < 0 || port > 65535)
		return err_set(ERR_USAGE, "port must be 0-65535");
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	/* tornado binds every address for ""; cbup takes IPv4's */
	hints.ai_family = *host ? AF_UNSPEC : AF_INET;
	snprintf(serv, sizeof(serv), "%d", port);
	rc = getaddrinfo(*host ? host : NULL, serv, &hints, &ai);
	if (rc)
		return err_set(ERR_IO, "cannot resolve '%s': %s", host,
			       gai_strerror(rc));
	sock = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		ret = err_errno("cannot create a socket");
		goto out;
	}
	setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(sock, ai->ai_addr, ai->ai_addrlen) < 0) {
		ret = err_errno("cannot bind %s:%d", host, port);
		goto out;
	}
	if (listen(sock, 128) < 0) {
		ret = err_errno("cannot listen on %s:%d", host, port);
		goto out;
	}
	if (getsockname(sock, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV)) {
		ret = err_errno("cannot read the socket's address");
		goto out;
	}
	buf_addf(shown, "%s:%s", h, serv);
	*fd = sock;
	sock = -1;
	ret = 0;
out:
	if (sock >= 0)
		close(sock);
	freeaddrinfo(ai);
	return ret;
}

int web_listen_unix(int *fd, const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int sock;

	*fd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(ERR_USAGE, "socket path too long: '%s'", path);
	memcpy(sa.sun_path, path, strlen(path));
	if (!lstat(path, &st)) {
		/* tornado's bind_unix_socket(): replace an old socket only */
		if (!S_ISSOCK(st.st_mode))
			return err_set(ERR_EXISTS, "File %s exists and is not "
				       "a socket", path);
		if (unlink(path) < 0)
			return err_errno("cannot remove '%s'", path);
	} else if (errno != ENOENT) {
		return err_errno("cannot stat '%s'", path);
	}
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return err_errno("cannot create a socket");
	if (bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(sock, 128) < 0) {
		int ret = err_errno("cannot listen on '%s'", path);

		close(sock);
		return ret;
	}
	*fd = sock;
	return 0;
}
