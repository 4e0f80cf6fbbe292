/*
 * The protocol server (server.h): the remote end of bup's protocol
 * (FORMAT.md 7).  Every 0.33.7 command of the 7.3
 * table is served; the session is confined to the repository chosen by
 * set-dir/init-dir (or the default one): index names, ref names and object
 * specs from the client are validated so that no command reads or
 * writes a path outside it.
 *
 * Differences from bup that only make the server stricter: received
 * objects are inflated and hashed against the id the client sent, on
 * the pack writer's workers (a bad object would otherwise poison dedup
 * forever; pack_verify_raw); update-ref refuses
 * a new value that is not in the repository, and a commit whose parent
 * is missing or not a commit (check_parents); a malformed or oversized
 * request gets "\nerror ...\n" and the connection is closed, where bup
 * raised an exception.  A connection that drops inside
 * receive-objects-v2 leaves no pack behind (packwriter_abort).
 *
 * Under `cbup daemon` (FORMAT.md 7.4) two settings of the daemon reach
 * the server: its root (CBUP_DAEMON_ROOT), which confines the repositories a
 * client may name (set-dir, init-dir, the default one) to a directory,
 * resolved with realpath so that neither ".." nor a symlink leads out
 * (confine); and the idle timeout, a receive timeout on the socket that
 * is our stdin: a read that times out ends the session as an error,
 * aborting a pack in progress, and server_run() returns SERVER_IDLE so
 * that the daemon can log why.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "store/commit.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/pack.h"
#include "store/packwriter.h"
#include "remote/proto.h"
#include "remote/server.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/repolock.h"
#include "store/tree.h"
#include "vfs/vfs.h"
#include "util/strv.h"

/* cat-batch reads every ref before answering (as bup); bound that. */
#define MAX_BATCH_BYTES (64U << 20)
/* rev-list and refs: at most this many ref/pattern lines. */
#define MAX_REF_LINES 100000

struct server {
	const struct server_opts *o;
	struct proto_conn conn;
	struct repo *repo;
	struct vfs *vfs;
	int dumb;
	struct packwriter *suspended;
	/* idx names finished during the current receive (on_pack) */
	char **new_idx;
	size_t nr_new_idx, alloc_new_idx;
	struct buf frame;
	int wfail;      /* a reply could not be written: client gone */
	const char *root;       /* o->root */
};

static void say(struct server *s, const char *fmt, ...) PRINTF(2, 3);
static void say(struct server *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vsendf(s->o->log, s->o->ctx, fmt, ap);
	va_end(ap);
}

/* bup's debug1(): only with BUP_DEBUG set */
#define debug1(s, ...) \
	do { if ((s)->o->debug >= 1) say((s), __VA_ARGS__); } while (0)

/* ---- session ---------------------------------------------------- */

/* s->suspended becomes w; the caller learns which writer is pending */
static void set_pending(struct server *s, struct packwriter *w)
{
	s->suspended = w;
	if (s->o->pending)
		s->o->pending(s->o->ctx, w);
}

static int open_repo(struct server *s, const char *path)
{
	struct repo *r;
	char *dumb;
	int ret;

	if ((ret = repo_open(&r, path)) < 0)
		return ret;
	if (s->suspended) {
		/* a new repository: the old one's pending pack is moot */
		struct packwriter *w = s->suspended;

		set_pending(s, NULL);
		packwriter_abort(w);
	}
	if (s->vfs) {
		vfs_free(s->vfs);
		s->vfs = NULL;
	}
	if (s->repo)
		repo_free(s->repo);
	s->repo = r;
	if (s->o->opened)
		s->o->opened(s->o->ctx, r->path);
	dumb = xstrfmt("%s/bup-dumb-server", r->path);
	s->dumb = !access(dumb, F_OK);
	free(dumb);
	debug1(s, "bup server: bupdir is %s\n", r->path);
	debug1(s, "bup server: serving in %s mode\n", s->dumb ? "dumb" : "smart");
	return 0;
}

/*
 * With CBUP_DAEMON_ROOT, a repository the client names must resolve
 * inside the root; *out is the resolved path, which the caller opens or
 * creates, so that nothing is resolved a second time.  Without a root,
 * *out is path as given (bup: any path).
 */
static int confine(struct server *s, char **out, const char *cmd,
		   const char *path, int may_create)
{
	size_t n;
	int ret;

	if (!s->root) {
		*out = xstrdup(path);
		return 0;
	}
	if ((ret = repo_real_path(out, path, may_create)) < 0)
		return ret;
	n = strlen(s->root);
	if (!strcmp(s->root, "/") ||
	    (!strncmp(*out, s->root, n) && ((*out)[n] == '/' || !(*out)[n])))
		return 0;
	ret = err_set(ERR_USAGE, "%s: '%s' is outside CBUP_DAEMON_ROOT '%s'",
		      cmd, path, s->root);
	free(*out);
	*out = NULL;
	return ret;
}

/* bup's _init_session(): the default repository unless one is set. */
static int need_repo(struct server *s)
{
	const char *path;
	char *real;
	int ret;

	if (s->repo)
		return 0;
	path = s->o->default_repo;
	ret = confine(s, &real, "default repository", path, 0);
	if (!ret)
		ret = open_repo(s, real);
	free(real);
	return ret;
}

/*
 * need_repo() for the commands a writing client relies on: the idx
 * list it dedups against, the objects, the ref.  From the first of them
 * until the connection ends the server holds the gc lock shared
 * (FORMAT.md 14), so no gc removes what the client was told exists.
 */
static void writer_waiting(void *ctx, enum repolock_mode mode)
{
	(void)mode;
	/* on stderr, which the client shares: the user sees why it waits */
	say(ctx, "bup server: waiting for the running gc to finish\n");
}

static int need_writer(struct server *s)
{
	int ret = need_repo(s);

	if (!ret)
		ret = repolock_take(s->repo, REPOLOCK_WRITER, 1,
				    writer_waiting, s);
	return ret;
}

/* ---- simple commands ----------------------------------------------- */

static int do_help(struct server *s)
{
	int ret = proto_write(&s->conn, "Commands:\n", 10);

	for (size_t i = 0; ret >= 0 && proto_command_names[i]; i++)
		ret = proto_writef(&s->conn, "    %s\n",
				   proto_command_names[i]);
	return ret < 0 ? ret : proto_ok(&s->conn);
}

static int do_init_dir(struct server *s, const char *path)
{
	char *real;
	int ret = confine(s, &real, "init-dir", path, 1);

	if (ret < 0)
		return ret;
	if ((ret = repo_init(real)) < 0)
		goto out;
	debug1(s, "bup server: bupdir initialized: %s\n", path);
	if ((ret = open_repo(s, real)) < 0)
		goto out;
	ret = proto_ok(&s->conn);
out:
	free(real);
	return ret;
}

static int do_set_dir(struct server *s, const char *path)
{
	char *real;
	int ret = confine(s, &real, "set-dir", path, 0);

	if (ret < 0)
		return ret;
	if ((ret = open_repo(s, real)) >= 0)
		ret = proto_ok(&s->conn);
	free(real);
	return ret;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static int do_list_indexes(struct server *s)
{
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if ((ret = need_writer(s)) < 0)
		return ret;
	d = opendir(s->repo->packdir);
	if (!d)
		return err_errno("cannot open '%s'", s->repo->packdir);
	/* bup: os.listdir order, every *.idx */
	while (ret >= 0 && (de = readdir(d)))
		if (de->d_name[0] != '.' && has_suffix(de->d_name, ".idx"))
			ret = proto_writef(&s->conn, "%s%s\n", de->d_name,
					   s->dumb ? " load" : "");
	closedir(d);
	return ret < 0 ? ret : proto_ok(&s->conn);
}

static int do_send_index(struct server *s, const char *name)
{
	struct buf b = BUF_INIT;
	char *path;
	int ret;

	if ((ret = need_writer(s)) < 0)
		return ret;
	/* name is "pack-<hex>.idx" (proto_parse_command): no path escape */
	path = xstrfmt("%s/%s", s->repo->packdir, name);
	if (buf_read_file(&b, path) < 0) {
		ret = err_errno("cannot read '%s'", path);
		goto out;
	}
	if (b.len > UINT32_MAX) {
		ret = err_set(ERR_CORRUPT, "'%s' is too large to send", path);
		goto out;
	}
	if ((ret = proto_write_u32(&s->conn, (uint32_t)b.len)) < 0 ||
	    (ret = proto_write(&s->conn, b.data, b.len)) < 0)
		goto out;
	ret = proto_ok(&s->conn);
out:
	free(path);
	buf_release(&b);
	return ret;
}

/*
 * Refs the client names are matched as git show-ref patterns: equal to
 * the ref or to its tail after a '/'.
 */
static int pattern_match(const char *refname, const char *pat)
{
	size_t a = strlen(refname), b = strlen(pat);

	if (a == b)
		return !strcmp(refname, pat);
	return a > b && refname[a - b - 1] == '/' &&
	       !strcmp(refname + a - b, pat);
}

struct ref_match {
	const char *const *pats;
	size_t nr_pats;
	struct proto_conn *conn;
	int found;
	struct oid oid;
};

static int read_ref_cb(void *ctx, const char *refname, const struct oid *oid)
{
	struct ref_match *m = ctx;

	if (!pattern_match(refname, m->pats[0]))
		return 0;
	if (m->found++)
		return err_set(ERR_CORRUPT, "ref '%s' is ambiguous", m->pats[0]);
	m->oid = *oid;
	return 0;
}

static int do_read_ref(struct server *s, const char *refname)
{
	struct ref_match m = { 0 };
	int ret;

	if ((ret = need_repo(s)) < 0)
		return ret;
	/* bup: git show-ref --heads -- REFNAME */
	m.pats = &refname;
	m.nr_pats = 1;
	if ((ret = refs_for_each(s->repo, "refs/heads/", read_ref_cb, &m)) < 0)
		return ret;
	if (m.found && (ret = proto_writef(&s->conn, "%s\n",
					   oid_hex(&m.oid))) < 0)
		return ret;
	return proto_ok(&s->conn);
}

static char *strip(char *p)
{
	char *e = p + strlen(p);

	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return p;
}

/* The object is in the repository (a pack, or loose as git wrote it). */
static int have_object(struct server *s, const struct oid *oid)
{
	struct odb *odb = repo_odb(s->repo);
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret;

	if (!odb)
		return ERR_IO;
	if ((ret = odb_refresh(odb)) < 0)
		return ret;
	if (odb_exists(odb, oid))
		return 1;
	ret = odb_read(odb, oid, &type, &b);
	buf_release(&b);
	if (ret == ERR_NOTFOUND)
		return 0;
	return ret < 0 ? ret : 1;
}

/*
 * A commit whose parent is missing or is not a commit breaks the
 * history (git fsck --strict rejects it).  bup leaves this to git
 * update-ref, which lets a blob parent through; refuse every such
 * commit, as a local save refuses its branch (cli_check_parent).
 * Other objects, and commits we cannot parse, are not looked into.
 */
static int check_parents(struct server *s, const char *refname,
			 const struct oid *oid)
{
	struct odb *odb = repo_odb(s->repo);
	struct commit_info ci;
	struct buf b = BUF_INIT;
	enum obj_type type;
	char hex[OID_HEXSZ + 1];
	int ret;

	if (!odb)
		return ERR_IO;
	if ((ret = odb_read(odb, oid, &type, &b)) < 0)
		goto out;
	if (type != OBJ_COMMIT || commit_parse(&ci, b.data, b.len) < 0) {
		err_clear();
		goto out;
	}
	oid_to_hex(oid, hex);
	for (size_t i = 0; i < ci.nr_parents && !ret; i++) {
		const struct oid *p = &ci.parents[i];

		buf_reset(&b);
		ret = odb_read(odb, p, &type, &b);
		if (ret == ERR_NOTFOUND)
			ret = err_set(ERR_NOTFOUND, "update-ref %s: parent %s "
				      "of commit %s is not in the repository",
				      refname, oid_hex(p), hex);
		else if (!ret && type != OBJ_COMMIT)
			ret = err_set(ERR_CORRUPT, "update-ref %s: parent %s "
				      "of commit %s is a %s, not a commit",
				      refname, oid_hex(p), hex,
				      obj_type_name(type));
	}
	commit_release(&ci);
out:
	buf_release(&b);
	return ret;
}

static int do_update_ref(struct server *s, const char *refname)
{
	struct buf nl = BUF_INIT, ol = BUF_INIT;
	struct oid new_oid, old_oid;
	char *nv, *ov;
	int ret;

	if ((ret = need_writer(s)) < 0)
		goto out;
	if ((ret = proto_read_line(&s->conn, &nl, PROTO_MAX_LINE)) <= 0 ||
	    (ret = proto_read_line(&s->conn, &ol, PROTO_MAX_LINE)) <= 0) {
		if (!ret)
			ret = err_set(ERR_IO, "update-ref: unexpected EOF");
		goto out;
	}
	nv = strip(nl.data);
	ov = strip(ol.data);
	if (oid_from_hex(&new_oid, nv) < 0 || strlen(nv) != OID_HEXSZ ||
	    (*ov && (oid_from_hex(&old_oid, ov) < 0 ||
		     strlen(ov) != OID_HEXSZ))) {
		ret = err_set(ERR_CORRUPT, "update-ref: malformed object id");
		goto out;
	}
	/* never let a ref point at something the repository lacks */
	if ((ret = have_object(s, &new_oid)) <= 0) {
		if (!ret)
			ret = err_set(ERR_NOTFOUND, "update-ref %s: object %s "
				      "is not in the repository", refname,
				      oid_hex(&new_oid));
		goto out;
	}
	if ((ret = check_parents(s, refname, &new_oid)) < 0)
		goto out;
	ret = refs_update(s->repo, refname, &new_oid, *ov ? &old_oid : NULL,
			  0, NULL);
	if (ret < 0)
		goto out;
	ret = proto_ok(&s->conn);
out:
	buf_release(&nl);
	buf_release(&ol);
	return ret;
}

/*
 * An object spec from the client may be an id, a ref name and git's
 * ^/~ suffixes; its ref part must stay inside refs/ (no "..", no
 * absolute path, no control characters).
 */
static int safe_spec(const char *spec)
{
	size_t n = strcspn(spec, "^~");

	if (!n || spec[0] == '/' || spec[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)spec[i] < 0x20 ||
		    (spec[i] == '.' && spec[i + 1] == '.'))
			return 0;
	return 1;
}

/* ---- join / cat --------------------------------------------------- */

static int join_walk(struct server *s, const struct oid *oid, int depth)
{
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret;

	/* a fanout tree is a few levels; a cycle would be a bad object */
	if (depth > 64)
		return err_set(ERR_CORRUPT, "join: tree nesting too deep at %s",
			       oid_hex(oid));
	ret = odb_read(repo_odb(s->repo), oid, &type, &b);
	if (ret == ERR_NOTFOUND)
		ret = err_set(ERR_NOTFOUND, "missing ref at %s", oid_hex(oid));
	if (ret < 0)
		goto out;
	if (type == OBJ_BLOB) {
		if (b.len && ((ret = proto_write_u32(&s->conn,
						     (uint32_t)b.len)) < 0 ||
			      (ret = proto_write(&s->conn, b.data, b.len)) < 0)) {
			s->wfail = 1;
			goto out;
		}
	} else if (type == OBJ_TREE) {
		struct tree_iter it;
		struct tree_entry e;
		int r;

		tree_iter_init(&it, b.data, b.len);
		while (ret >= 0 && (r = tree_iter_next(&it, &e)) == 1)
			ret = join_walk(s, &e.oid, depth + 1);
		if (ret >= 0 && r < 0)
			ret = r;
	} else if (type == OBJ_COMMIT) {
		struct commit_info ci;

		if ((ret = commit_parse(&ci, b.data, b.len)) < 0)
			goto out;
		ret = join_walk(s, &ci.tree, depth + 1);
		commit_release(&ci);
	} else {
		ret = err_set(ERR_CORRUPT, "ref %s type %s is not "
			      "blob/tree/commit", oid_hex(oid),
			      obj_type_name(type));
	}
out:
	buf_release(&b);
	return ret;
}

/* Returns < 0 only when the connection is unusable. */
static int do_join(struct server *s, const char *spec)
{
	struct oid oid;
	int ret;

	if ((ret = need_repo(s)) < 0)
		return ret;
	if (!safe_spec(spec))
		ret = err_set(ERR_NOTFOUND, "missing ref at '%s'", spec);
	else if ((ret = refs_resolve(s->repo, spec, &oid)) < 0)
		ret = err_set(ERR_NOTFOUND, "missing ref at '%s'", spec);
	else
		ret = join_walk(s, &oid, 0);
	if (ret < 0) {
		/* a write error means the client is gone */
		if (s->wfail)
			return ret;
		say(s, "server: error: %s\n", err_last());
		if (proto_write(&s->conn, "\0\0\0\0", 4) < 0)
			return ERR_IO;
		return proto_error(&s->conn, err_last());
	}
	if ((ret = proto_write(&s->conn, "\0\0\0\0", 4)) < 0)
		return ret;
	return proto_ok(&s->conn);
}

/* Read lines up to an empty one (bup's lines_until_sentinel). */
static int read_until_empty(struct server *s, char ***out, size_t *nr,
			    size_t max_lines, size_t max_bytes)
{
	struct buf line = BUF_INIT;
	size_t alloc = 0, total = 0;
	int ret;

	*out = NULL;
	*nr = 0;
	for (;;) {
		ret = proto_read_line(&s->conn, &line, PROTO_MAX_LINE);
		if (!ret)
			ret = err_set(ERR_IO, "Hit EOF while reading line");
		if (ret < 0)
			break;
		if (!line.len) {
			ret = 0;
			break;
		}
		total += line.len + 1;
		if (*nr >= max_lines || total > max_bytes) {
			ret = err_set(ERR_CORRUPT, "too many lines in request");
			break;
		}
		if (memchr(line.data, '\0', line.len)) {
			ret = err_set(ERR_CORRUPT, "NUL byte in request");
			break;
		}
		ALLOC_GROW(*out, *nr + 1, alloc);
		(*out)[(*nr)++] = buf_detach(&line, NULL);
	}
	buf_release(&line);
	return ret;
}

static int do_cat_batch(struct server *s)
{
	char **refs;
	size_t nr;
	struct buf b = BUF_INIT;
	int ret;

	if ((ret = need_repo(s)) < 0)
		return ret;
	if ((ret = read_until_empty(s, &refs, &nr, SIZE_MAX,
				    MAX_BATCH_BYTES)) < 0)
		goto out;
	for (size_t i = 0; i < nr && ret >= 0; i++) {
		struct oid oid;
		enum obj_type type;
		int r = -1;

		if (safe_spec(refs[i]) &&
		    !refs_resolve(s->repo, refs[i], &oid)) {
			buf_reset(&b);
			r = odb_read(repo_odb(s->repo), &oid, &type, &b);
			if (r < 0 && r != ERR_NOTFOUND) {
				ret = r;
				break;
			}
		}
		if (r < 0) {
			ret = proto_write(&s->conn, "missing\n", 8);
			continue;
		}
		if ((ret = proto_writef(&s->conn, "%s %s %zu\n", oid_hex(&oid),
					obj_type_name(type), b.len)) >= 0)
			ret = proto_write(&s->conn, b.data, b.len);
	}
	if (ret >= 0)
		ret = proto_ok(&s->conn);
out:
	strv_free(refs, nr);
	buf_release(&b);
	return ret;
}

struct refs_ctx {
	char **pats;
	size_t nr;
	int heads, tags;
	struct proto_conn *conn;
};

static int refs_cb(void *ctx, const char *refname, const struct oid *oid)
{
	struct refs_ctx *r = ctx;
	int match = !r->nr;

	if ((r->heads || r->tags) &&
	    !((r->heads && !strncmp(refname, "refs/heads/", 11)) ||
	      (r->tags && !strncmp(refname, "refs/tags/", 10))))
		return 0;
	for (size_t i = 0; !match && i < r->nr; i++)
		match = pattern_match(refname, r->pats[i]);
	if (!match || strchr(refname, '\n'))
		return 0;
	return proto_writef(r->conn, "%s %s\n", oid_hex(oid), refname);
}

static int do_refs(struct server *s, int heads, int tags)
{
	struct refs_ctx r = { 0 };
	int ret;

	if ((ret = need_repo(s)) < 0)
		return ret;
	if ((ret = read_until_empty(s, &r.pats, &r.nr, MAX_REF_LINES,
				    MAX_BATCH_BYTES)) < 0)
		goto out;
	r.heads = heads;
	r.tags = tags;
	r.conn = &s->conn;
	/* bup: git show-ref [--heads] [--tags] -- PATTERNS */
	if ((ret = refs_for_each(s->repo, "refs/", refs_cb, &r)) < 0)
		goto out;
	if ((ret = proto_write(&s->conn, "\n", 1)) >= 0)
		ret = proto_ok(&s->conn);
out:
	strv_free(r.pats, r.nr);
	return ret;
}

static int do_rev_list(struct server *s)
{
	struct buf count = BUF_INIT, fmt = BUF_INIT;
	char **refs = NULL;
	size_t nr = 0;
	const char **av = NULL;
	char *pretty = NULL, *gitdir = NULL;
	int ret, pfd[2] = { -1, -1 }, status;
	pid_t pid;

	if ((ret = need_repo(s)) < 0)
		goto out;
	ret = proto_read_line(&s->conn, &count, PROTO_MAX_LINE);
	if (!ret)
		ret = err_set(ERR_IO, "Unexpected EOF while reading rev-list "
			      "count");
	if (ret < 0)
		goto out;
	if (count.len) {
		ret = err_set(ERR_CORRUPT, "rev-list: count is not supported");
		goto out;
	}
	ret = proto_read_line(&s->conn, &fmt, PROTO_MAX_LINE);
	if (!ret)
		ret = err_set(ERR_IO, "Unexpected EOF while reading rev-list "
			      "format");
	if (ret < 0)
		goto out;
	if ((ret = read_until_empty(s, &refs, &nr, MAX_REF_LINES,
				    MAX_BATCH_BYTES)) < 0)
		goto out;
	av = xcalloc(nr + 5, sizeof(*av));
	av[0] = "git";
	av[1] = "rev-list";
	{
		size_t k = 2;
		if (fmt.len) {
			pretty = xstrfmt("--pretty=format:%s", fmt.data);
			av[k++] = pretty;
		}
		for (size_t i = 0; i < nr; i++) {
			/* bup asserts this: no options smuggled in */
			if (refs[i][0] == '-') {
				ret = err_set(ERR_CORRUPT, "rev-list: invalid "
					      "ref '%s'", refs[i]);
				goto out;
			}
			av[k++] = refs[i];
		}
		av[k++] = "--";
		av[k] = NULL;
	}
	if (pipe(pfd) < 0) {
		ret = err_errno("pipe");
		goto out;
	}
	gitdir = xstrdup(s->repo->path);
	if ((ret = proto_flush(&s->conn)) < 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		ret = err_errno("fork");
		goto out;
	}
	if (!pid) {
		int null = open("/dev/null", O_RDONLY);
		dup2(pfd[1], 1);
		if (null >= 0)
			dup2(null, 0);
		close(pfd[0]);
		close(pfd[1]);
		setenv("GIT_DIR", gitdir, 1);
		execvp("git", (char *const *)av);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		char tmp[65536];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if ((ret = proto_write(&s->conn, tmp, (size_t)n)) < 0)
			break;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret < 0)
		goto out;
	if ((ret = proto_write(&s->conn, "\n", 1)) < 0)
		goto out;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		int rv = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		ret = err_set(ERR_GENERIC, "git rev-list returned error %d",
			      rv);
		goto out;
	}
	ret = proto_ok(&s->conn);
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(av);
	free(pretty);
	free(gitdir);
	strv_free(refs, nr);
	buf_release(&count);
	buf_release(&fmt);
	return ret;
}

static int do_resolve(struct server *s, unsigned flags)
{
	struct vfs_list parent, res;
	struct buf path = BUF_INIT;
	int ret, err_no = 0;

	vfs_list_init(&parent);
	vfs_list_init(&res);
	if ((ret = need_repo(s)) < 0)
		goto out;
	if (!s->vfs && (ret = vfs_new(&s->vfs, s->repo)) < 0)
		goto out;
	if ((flags & PROTO_RESOLVE_PARENT) &&
	    (ret = proto_read_resolution(&s->conn, &parent)) < 0)
		goto out;
	if ((ret = proto_read_bvec(&s->conn, &path, PROTO_MAX_LINE)) < 0)
		goto out;
	if (!path.len || memchr(path.data, '\0', path.len)) {
		ret = err_set(ERR_CORRUPT, "Empty resolve path");
		goto out;
	}
	if ((flags & PROTO_RESOLVE_PARENT) &&
	    (!parent.nr || parent.e[0].item.kind != VFS_ROOT)) {
		ret = err_set(ERR_CORRUPT, "resolve: parent does not start "
			      "at the root");
		goto out;
	}
	ret = vfs_resolve(s->vfs, path.data,
			  (flags & PROTO_RESOLVE_PARENT) ? &parent : NULL,
			  !!(flags & PROTO_RESOLVE_WANT_META),
			  !!(flags & PROTO_RESOLVE_FOLLOW), &res, &err_no);
	if (ret < 0 && err_no) {
		/*
		 * A VFS IOError travels to the client (vfs.write_ioerror):
		 * its strerror, whole, without the "[Errno N] " of str().
		 */
		const char *full = vfs_resolve_error(s->vfs);
		const char *p = !strncmp(full, "[Errno ", 7) ?
				strstr(full, "] ") : NULL;
		char *msg = xstrdup(p ? p + 2 : full);
		if ((ret = proto_write(&s->conn, "\0", 1)) >= 0)
			ret = proto_write_ioerror(&s->conn, err_no, msg, &res);
		free(msg);
	} else if (ret >= 0) {
		if ((ret = proto_write(&s->conn, "\1", 1)) >= 0)
			ret = proto_write_resolution(&s->conn, &res);
	}
	if (ret >= 0)
		ret = proto_ok(&s->conn);
out:
	vfs_list_release(&parent);
	vfs_list_release(&res);
	buf_release(&path);
	return ret;
}

/* ---- receive-objects-v2 --------------------------------------------- */

static void on_pack(void *ctx, const char *idx_path)
{
	struct server *s = ctx;
	const char *base = strrchr(idx_path, '/');

	ALLOC_GROW(s->new_idx, s->nr_new_idx + 1, s->alloc_new_idx);
	s->new_idx[s->nr_new_idx++] = xstrdup(base ? base + 1 : idx_path);
}

struct suggested {
	char **names;
	size_t nr, alloc;
};

static int suggest(struct server *s, struct suggested *sg, const char *name,
		   const struct oid *oid)
{
	for (size_t i = 0; i < sg->nr; i++)
		if (!strcmp(sg->names[i], name))
			return 0;
	debug1(s, "bup server: suggesting index %s\n", name);
	debug1(s, "bup server:   because of object %s\n", oid_hex(oid));
	ALLOC_GROW(sg->names, sg->nr + 1, sg->alloc);
	sg->names[sg->nr++] = xstrdup(name);
	return proto_writef(&s->conn, "index %s\n", name);
}

static int do_receive_objects(struct server *s)
{
	struct packwriter *w = NULL;
	struct suggested sg = { 0 };
	struct odb *odb;
	uint64_t count = 0;
	int ret;

	if ((ret = need_writer(s)) < 0)
		return ret;
	if (!(odb = repo_odb(s->repo)))
		return ERR_IO;
	/* objects other writers added since we looked */
	if ((ret = odb_refresh(odb)) < 0)
		return ret;
	if (s->suspended) {
		w = s->suspended;
	} else {
		struct packwriter_opts po = { 0 };

		/* objects arrive compressed: the level is bup's, unused */
		packwriter_opts_from_repo(&po, s->repo, 1);
		po.no_upkeep = s->dumb;   /* bup: run_midx=not dumb */
		/* received objects are verified on these workers */
		po.threads = s->o->threads;
		po.progress = s->o->upkeep_progress;
		po.on_pack = on_pack;
		po.on_pack_ctx = s;
		if ((ret = packwriter_new(&w, s->repo->objdir,
					  s->dumb ? NULL : odb, &po)) < 0)
			return ret;
	}
	/* a signal mid-transfer must not leave a pack behind */
	set_pending(s, w);
	for (;;) {
		uint32_t n;
		struct oid oid;
		const unsigned char *p;
		const char *where;

		ret = proto_read_u32(&s->conn, &n);
		if (ret < 0) {
			err_set(ERR_IO, "object read: expected length header, "
				"got EOF");
			ret = ERR_IO;
			break;
		}
		if (!n) {
			/*
			 * bup prints its writer's count, which runs on over
			 * suspend/resume (the writer is kept): ours too.
			 */
			struct packwriter_stats st;

			if ((ret = packwriter_drain(w)) < 0)
				break;
			packwriter_get_stats(w, &st);
			count = st.objects;
			debug1(s, "bup server: received %llu object%s.\n",
			       (unsigned long long)count,
			       count != 1 ? "s" : "");
			set_pending(s, NULL);
			ret = packwriter_close(w);
			w = NULL;
			for (size_t i = 0; ret >= 0 && i < s->nr_new_idx; i++)
				ret = proto_writef(&s->conn, "%s\n",
						   s->new_idx[i]);
			if (ret >= 0)
				ret = proto_ok(&s->conn);
			break;
		}
		if (n == PROTO_SUSPEND) {
			/* keep the pack open for the resumed command */
			ret = proto_ok(&s->conn);
			w = NULL;
			break;
		}
		if (n < OID_RAWSZ + 4 + 1 || n > PROTO_MAX_FRAME) {
			ret = err_set(ERR_CORRUPT, "object read: bad frame "
				      "length %u", n);
			break;
		}
		buf_reset(&s->frame);
		buf_grow(&s->frame, n);
		if ((ret = proto_read(&s->conn, s->frame.data, n)) < 0) {
			err_set(ERR_IO, "object read: expected %u bytes, got "
				"EOF", n);
			break;
		}
		p = (const unsigned char *)s->frame.data;
		memcpy(oid.hash, p, OID_RAWSZ);
		if (!s->dumb && odb_exists_where(odb, &oid, &where)) {
			if (where && (ret = suggest(s, &sg, where, &oid)) < 0)
				break;
			continue;
		}
		if (packwriter_exists(w, &oid))
			continue;
		ret = packwriter_write_received(w, &oid, p + 24, n - 24,
						get_be32(p + 20));
		if (ret < 0)
			break;
	}
	if (w) {
		/* error or EOF: nothing of this transfer becomes visible */
		set_pending(s, NULL);
		packwriter_abort(w);
	}
	for (size_t i = 0; i < s->nr_new_idx; i++)
		free(s->new_idx[i]);
	s->nr_new_idx = 0;
	for (size_t i = 0; i < sg.nr; i++)
		free(sg.names[i]);
	free(sg.names);
	return ret;
}

/* ---- main loop ----------------------------------------------------- */

/* The receive timeout of our input, in whole seconds (0: none). */
static long long rcv_timeout(int fd)
{
	struct timeval tv = { 0 };
	socklen_t len = sizeof(tv);

	if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len))
		return 0;
	return (long long)tv.tv_sec;
}

/*
 * The client sent nothing for the socket's receive timeout (the
 * daemon's CBUP_DAEMON_IDLE_TIMEOUT): say so, to the client too in
 * case it is only slow, and exit with the status the daemon logs.
 */
static int idle(struct server *s, long long secs)
{
	char *msg = xstrfmt("nothing received from the client for %lld "
			    "second%s, closing the connection", secs,
			    secs == 1 ? "" : "s");

	say(s, "bup server: %s\n", msg);
	proto_error(&s->conn, msg);
	proto_flush(&s->conn);
	free(msg);
	return SERVER_IDLE;
}

/* Fatal for the session: tell the client (if it listens), then stop. */
static int fail(struct server *s, const char *what)
{
	long long secs;
	char *msg;

	/* (EAGAIN from a non-blocking input is no timeout) */
	if (s->conn.timed_out && (secs = rcv_timeout(s->conn.in_fd)) > 0)
		return idle(s, secs);
	msg = xstrdup(err_last());

	say(s, "bup server: %s%s\n", what, msg);
	proto_error(&s->conn, msg);
	proto_flush(&s->conn);
	free(msg);
	return SERVER_FAILED;
}

int server_run(const struct server_opts *o)
{
	struct server s;
	struct buf line = BUF_INIT;
	int code = 0, quit = 0;

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.root = o->root;
	proto_conn_init(&s.conn, o->in_fd, o->out_fd);
	buf_init(&s.frame, 0);
	if (o->debug >= 2)
		say(&s, "bup server: reading from stdin.\n");

	for (;;) {
		struct proto_request req;
		int r = proto_read_line(&s.conn, &line, PROTO_MAX_LINE);

		if (r == 0)
			break;
		if (r < 0) {
			code = fail(&s, "");
			break;
		}
		if (proto_parse_command(&req, line.data, line.len) < 0) {
			code = fail(&s, "");
			break;
		}
		if (req.cmd == PROTO_CMD_NONE)
			continue;
		debug1(&s, "bup server: command: '%s'\n", line.data);
		switch (req.cmd) {
		case PROTO_CMD_QUIT:
			quit = 1;
			r = 1;
			break;
		case PROTO_CMD_HELP:
			r = do_help(&s);
			break;
		case PROTO_CMD_INIT_DIR:
			r = do_init_dir(&s, req.arg);
			break;
		case PROTO_CMD_SET_DIR:
			r = do_set_dir(&s, req.arg);
			break;
		case PROTO_CMD_LIST_INDEXES:
			r = do_list_indexes(&s);
			break;
		case PROTO_CMD_SEND_INDEX:
			r = do_send_index(&s, req.arg);
			break;
		case PROTO_CMD_RECEIVE_OBJECTS_V2:
			r = do_receive_objects(&s);
			break;
		case PROTO_CMD_READ_REF:
			r = do_read_ref(&s, req.arg);
			break;
		case PROTO_CMD_UPDATE_REF:
			r = do_update_ref(&s, req.arg);
			break;
		case PROTO_CMD_JOIN:
			r = do_join(&s, req.arg);
			break;
		case PROTO_CMD_CAT_BATCH:
			r = do_cat_batch(&s);
			break;
		case PROTO_CMD_REFS:
			r = do_refs(&s, req.heads, req.tags);
			break;
		case PROTO_CMD_REV_LIST:
			r = do_rev_list(&s);
			break;
		case PROTO_CMD_RESOLVE:
			r = do_resolve(&s, req.flags);
			break;
		default:
			r = err_set(ERR_CORRUPT, "unhandled command");
			break;
		}
		proto_request_release(&req);
		if (r == 1)
			break;
		if (r < 0) {
			code = fail(&s, "");
			break;
		}
		/* the reply is complete: let the client see it */
		if (proto_flush(&s.conn) < 0) {
			code = SERVER_FAILED;
			break;
		}
	}
	proto_flush(&s.conn);
	debug1(&s, "bup server: done\n");
	if (s.suspended) {
		/* a clean quit keeps what a suspended transfer sent, as bup */
		struct packwriter *w = s.suspended;

		set_pending(&s, NULL);
		if (code || !quit)
			packwriter_abort(w);
		else if (packwriter_close(w) < 0) {
			say(&s, "error: %s\n", err_last());
			code = SERVER_FAILED;
		}
	}
	for (size_t i = 0; i < s.nr_new_idx; i++)
		free(s.new_idx[i]);
	free(s.new_idx);
	if (s.vfs)
		vfs_free(s.vfs);
	if (s.repo)
		repo_free(s.repo);
	buf_release(&line);
	buf_release(&s.frame);
	proto_conn_release(&s.conn);
	return code;
}
