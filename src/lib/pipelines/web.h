/*
 * `bup web`: the repository's VFS (vfs.h) over HTTP, as bup 0.33.7's
 * lib/bup/cmd/web.py serves it (tornado), plus two extras for scripts:
 *
 *   GET /PATH/          bup's directory page (list-directory.html as
 *                       tornado renders it); ?hidden=1 shows dot files
 *   GET /PATH           a directory: 301 to /PATH/; a file: its bytes,
 *                       with bup's headers (Content-Type text/plain,
 *                       Last-Modified, Etag = the object id), and Range
 *                       requests (206/416), which bup lacks
 *   GET /static/...     bup's stylesheet
 *   GET /DIR/?tar=1     the whole directory as a ustar stream (pax
 *                       headers for long names), streamed
 *   GET /DIR/?json=1    the listing as JSON
 *
 * The pure parts (path and query decoding, the HTML, the JSON, tar
 * headers, Range parsing) are functions of their arguments and have
 * unit tests.  The server is GNU libmicrohttpd, loaded with dlopen()
 * when web_start() runs: linking it would load gnutls into every cbup
 * start.  Each of its worker threads opens its own repository and vfs
 * (a vfs is not thread-safe), on its first request.
 *
 * Never prints, never exits: bup's per-request lines go to the log
 * callbacks of struct web_opts (called from any worker thread, one
 * whole line each).  Errors of a request are answered (404, 500) and
 * logged; the server goes on.
 */
#ifndef CBUP_WEB_H
#define CBUP_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* --- pure parts ------------------------------------------------------ */

/*
 * Percent-decode s (len bytes) into out, as Python's
 * urllib.parse.unquote_to_bytes() does (a '%' not followed by two hex
 * digits stays as it is); with plus, '+' is a space (query values).
 * Returns -1 if the result holds a NUL byte (out then holds it anyway),
 * else 0.
 */
int web_unquote(struct buf *out, const char *s, size_t len, int plus);

/*
 * tornado's url_escape(name, plus=False) (Python's quote()): every byte
 * but A-Z a-z 0-9 "_.-~/" as %XX.
 */
void web_quote(struct buf *out, const char *s, size_t len);

/* tornado's xhtml_escape(): & < > " ' as entities. */
void web_html_escape(struct buf *out, const char *s, size_t len);

/*
 * Python's bool(int(value)) for a query value (pypath_parse_int()); 0
 * when it is not a number, as bup's ValueError branch.
 */
int web_query_true(const char *value);

/* One row of a directory page or JSON listing. */
enum web_kind {
	WEB_DOTDOT,    /* the ".." row bup makes of "." */
	WEB_DIR,
	WEB_SYMLINK,
	WEB_FILE,      /* regular files and everything else */
};

struct web_row {
	const char *name;
	enum web_kind kind;
	unsigned mode;        /* st_mode */
	uint64_t size;        /* files and symlinks */
	int has_mtime;
	int64_t mtime;        /* seconds */
	const char *oid;      /* hex, or NULL for items without an id */
};

/*
 * bup's directory page for path (decoded, ending in '/'): the rows
 * (".." first), dot files only with show_hidden, sizes as
 * format_filesize() with human.  Appended to out, byte for byte what
 * bup 0.33.7's template gives under tornado (for names that are
 * UTF-8; tornado fails on others, cbup shows their bytes).
 */
void web_html_listing(struct buf *out, const char *path,
		      const struct web_row *rows, size_t nr,
		      int show_hidden, int human);

/*
 * The JSON listing: {"path": P, "entries": [{"name", "type", "size",
 * "mode", "mtime", "oid"}...]} with every row but "..", hidden or not.
 * Bytes that are not UTF-8 become \udcXX (Python's surrogateescape,
 * so os.fsencode() gives the name back).
 */
void web_json_listing(struct buf *out, const char *path,
		      const struct web_row *rows, size_t nr);

/* A tar member's header fields. */
struct web_tar_entry {
	const char *name;      /* member path, no leading '/' */
	char type;             /* '0' file, '5' dir, '2' symlink, '3' '4' '6' */
	unsigned mode;         /* permission bits */
	uint64_t size;         /* file data size (0 for others) */
	int64_t mtime;
	int64_t uid, gid;
	const char *uname, *gname;  /* "" if unknown */
	const char *linkname;  /* symlinks */
	unsigned devmajor, devminor;
};

/*
 * Append e's ustar header to out: one 512-byte block, preceded by a pax
 * extended header ('x' and its records, padded) when the name or link
 * name do not fit ustar's fields, or the size, times or ids exceed its
 * octal fields.
 */
void web_tar_header(struct buf *out, const struct web_tar_entry *e);

/*
 * Parse a Range header (RFC 9110 14.1.2, one range) against a body of
 * size bytes.  Returns 1 and [*first, *last] for a satisfiable range,
 * 0 to ignore it (absent, malformed, several ranges: the whole body),
 * -1 for an unsatisfiable one (416).
 */
int web_parse_range(const char *hdr, uint64_t size, uint64_t *first,
		    uint64_t *last);

/* bup's Last-Modified value: "%a, %d %b %Y %H:%M:%S" in UTC, no zone. */
void web_http_date(struct buf *out, int64_t t);

/* --- the server ------------------------------------------------------ */

struct web_opts {
	const char *repo_path;   /* each worker opens it (repo_open) */
	int listen_fd;           /* bound and listening (web_listen_*) */
	int human_readable;
	unsigned threads;        /* worker threads, at least 1 */
	const char *libname;     /* NULL: "libmicrohttpd.so.12" */
	/* bup's stdout lines ("Handling request for b'/'\n") */
	void (*out)(void *ctx, const char *line);
	/* errors answered with a 500, for stderr */
	void (*err)(void *ctx, const char *line);
	void *ctx;
};

/*
 * Bind and listen the way tornado's bind_sockets() does (SO_REUSEADDR,
 * backlog 128): host "" means every IPv4 address.  shown gets bup's
 * "HOST:PORT" of the socket.  ERR_IO on failure.
 */
int web_listen_inet(int *fd, struct buf *shown, const char *host, int port);
/*
 * tornado's bind_unix_socket(): an existing socket file is replaced, any
 * other file is an error; the socket is made mode 0600.
 */
int web_listen_unix(int *fd, const char *path);

struct web_server;

/*
 * Load libmicrohttpd and start serving on o->listen_fd, which the
 * server owns from then on (also on failure).  ERR_NOTFOUND when the
 * library is missing, with a message that says which package to
 * install.
 */
int web_start(struct web_server **out, const struct web_opts *o);
/* Stop accepting, finish the requests under way, free everything. */
void web_stop(struct web_server *s);

#endif
