/*
 * bup ftp's shell over the VFS (ftpsh.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipelines/ftpsh.h"
#include "util/err.h"
#include "util/opt.h"
#include "util/pyfnmatch.h"
#include "util/pypath.h"
#include "util/shquote.h"
#include "util/util.h"
#include "vfs/lsfmt.h"
#include "vfs/vfs.h"

struct ftpsh {
	struct ftpsh_io io;
	struct vfs *vfs;
	struct lsfmt *ls;
	struct vfs_list pwd;
	/* the candidates of the current completion */
	struct vfs_list comp_dir;
	char **comp_names;
	size_t nr_comp, alloc_comp;
	struct buf comp_word;
	int comp_qtype;
};

/*
 * Inside a command, besides FTPSH_OK/QUIT/FATAL: FTP_STOP ends the
 * command after a CommandError, the session goes on.
 */
#define FTP_OK FTPSH_OK
#define FTP_QUIT FTPSH_QUIT
#define FTP_FATAL FTPSH_FATAL
#define FTP_STOP 2

static void say(struct ftpsh *f, const char *fmt, ...) PRINTF(2, 3);
static void say(struct ftpsh *f, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	f->io.out(f->io.ctx, b.data, b.len);
	buf_release(&b);
}

/* bup's b'/'.join(name for name, item in res) */
static void join_names(struct buf *out, const struct vfs_list *res)
{
	for (size_t i = 0; i < res->nr; i++) {
		if (i)
			buf_addch(out, '/');
		buf_addstr(out, res->e[i].name);
	}
}

static void pwd_str(struct buf *out, const struct vfs_list *pwd)
{
	size_t len = out->len;

	join_names(out, pwd);
	if (out->len == len)
		buf_addch(out, '/');
}

/* bup's CommandError: "error: MSG" on stdout, the session goes on. */
static int command_error(struct ftpsh *f, const char *what, const char *path)
{
	struct buf m = BUF_INIT;

	pypath_path_msg(&m, path);
	say(f, "error: %s%s\n", what, m.data);
	buf_release(&m);
	return FTP_OK;
}

static int command_error_res(struct ftpsh *f, const char *what,
			     const struct vfs_list *res)
{
	struct buf p = BUF_INIT;
	int ret;

	join_names(&p, res);
	ret = command_error(f, what, p.data);
	buf_release(&p);
	return ret;
}

/* What bup dies of (a traceback there): the session ends. */
static int fatal(const char *fmt, ...) PRINTF(1, 2);
static int fatal(const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	err_set(ERR_GENERIC, "%s", m.data);
	buf_release(&m);
	return FTP_FATAL;
}

/* bup's vfs.resolve(repo, path, parent=parent): 0 or FTP_FATAL. */
static int resolve(struct ftpsh *f, const char *path,
		   const struct vfs_list *parent, struct vfs_list *res)
{
	int err_no = 0;

	if (!*path)   /* bup: assert len(path) */
		return fatal("cannot resolve an empty path");
	if (vfs_resolve(f->vfs, path, parent, 1, 1, res, &err_no) < 0) {
		if (err_no)
			return fatal("%s", vfs_resolve_error(f->vfs));
		return fatal("%s", err_last());
	}
	return 0;
}

static int to_out(void *ctx, const void *data, size_t len)
{
	struct ftpsh *f = ctx;

	f->io.out(f->io.ctx, data, len);
	return 0;
}

struct local_file {
	int fd;
	const char *name;
};

static int to_fd(void *ctx, const void *data, size_t len)
{
	struct local_file *lf = ctx;

	if (write_full(lf->fd, data, len) < 0)
		return err_errno("cannot write '%s'", lf->name);
	return 0;
}

/* bup's vfs.fopen(): regular files only (bup asserts). */
static int check_regular(const struct vfs_item *it, const char *path)
{
	struct buf m = BUF_INIT;

	if (S_ISREG(it->mode))
		return 0;
	pypath_path_msg(&m, path);
	fatal("'%s' is not a regular file", m.data);
	buf_release(&m);
	return FTP_FATAL;
}

/* Write item's contents into a new local file lname, as bup's get. */
static int save_file(struct ftpsh *f, const struct vfs_item *it,
		     const char *lname)
{
	struct buf m = BUF_INIT;
	struct local_file lf;
	int fd, ret;

	fd = open(lname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		pypath_path_msg(&m, lname);
		ret = fatal("cannot create '%s': %s", m.data, strerror(errno));
		buf_release(&m);
		return ret;
	}
	buf_addstr(&m, "Saving ");
	pypath_path_msg(&m, lname);
	buf_addch(&m, '\n');
	f->io.log(f->io.ctx, m.data);
	buf_release(&m);
	lf.fd = fd;
	lf.name = lname;
	ret = vfs_file_stream(f->vfs, &it->oid, to_fd, &lf);
	if (close(fd) < 0 && ret >= 0)
		ret = err_errno("cannot write '%s'", lname);
	if (ret < 0)
		return fatal("%s", err_last());
	return FTP_OK;
}

static void ls_out(void *ctx, const char *data, size_t len)
{
	struct ftpsh *f = ctx;

	f->io.out(f->io.ctx, data, len);
}

static void ls_log(void *ctx, const char *line)
{
	struct ftpsh *f = ctx;

	f->io.log(f->io.ctx, line);
}

static int do_ls(struct ftpsh *f, int argc, const char **argv)
{
	struct lsfmt_opts lo;
	struct lsfmt_output out = { ls_out, ls_log, NULL, 0, 0 };
	struct opts o;
	struct buf pwd = BUF_INIT;
	int r;

	pwd_str(&pwd, &f->pwd);
	r = lsfmt_parse(&lo, &o, argc, argv, pwd.data);
	if (r != OPT_OK) {
		/* bup: the usage, and ftp goes on (onabort=OptionError) */
		struct buf u = BUF_INIT;

		buf_add(&u, o.usage.data, o.usage.len);
		if (r == OPT_ERROR)
			buf_addf(&u, "\nerror: %s\n", o.error.data);
		f->io.log(f->io.ctx, u.data);
		buf_release(&u);
	} else {
		out.ctx = f;
		out.tty = f->io.tty;
		out.width = f->io.width;
		lsfmt_run(f->ls, &lo, pwd.data, &out);
	}
	opt_release(&o);
	buf_release(&pwd);
	return FTP_OK;
}

static int do_cd(struct ftpsh *f, int argc, const char **argv)
{
	struct vfs_list np, res;
	int ret = FTP_OK;

	vfs_list_init(&np);
	vfs_list_copy(&np, &f->pwd);
	for (int i = 1; i < argc; i++) {
		vfs_list_init(&res);
		if (resolve(f, argv[i], &np, &res) < 0) {
			ret = FTP_FATAL;
		} else if (res.e[res.nr - 1].item.kind == VFS_MISSING) {
			ret = command_error_res(f, "path does not exist: ",
						&res);
		} else if (!S_ISDIR(res.e[res.nr - 1].item.mode)) {
			ret = command_error(f, "path is not a directory: ",
					    argv[i]);
		} else {
			vfs_list_release(&np);
			np = res;
			continue;
		}
		/* an error leaves the working directory as it was */
		vfs_list_release(&res);
		vfs_list_release(&np);
		return ret;
	}
	vfs_list_release(&f->pwd);
	f->pwd = np;
	return FTP_OK;
}

static int do_cat(struct ftpsh *f, int argc, const char **argv)
{
	int ret = FTP_OK;

	for (int i = 1; i < argc && ret == FTP_OK; i++) {
		struct vfs_list res;
		const struct vfs_item *it;

		vfs_list_init(&res);
		if (resolve(f, argv[i], &f->pwd, &res) < 0) {
			ret = FTP_FATAL;
		} else if ((it = &res.e[res.nr - 1].item)->kind ==
			   VFS_MISSING) {
			/* a CommandError: the rest of the line is skipped */
			command_error_res(f, "path does not exist: ", &res);
			ret = FTP_STOP;
		} else if (check_regular(it, argv[i]) < 0) {
			ret = FTP_FATAL;
		} else if (vfs_file_stream(f->vfs, &it->oid, to_out, f) < 0) {
			ret = fatal("%s", err_last());
		}
		vfs_list_release(&res);
	}
	return ret == FTP_FATAL ? FTP_FATAL : FTP_OK;
}

static int do_get(struct ftpsh *f, int argc, const char **argv)
{
	struct vfs_list res;
	const struct vfs_item *it;
	const char *rname, *base, *lname;
	int ret;

	if (argc != 2 && argc != 3) {
		say(f, "error: Usage: get <filename> [localname]\n");
		return FTP_OK;
	}
	rname = argv[1];
	base = strrchr(rname, '/');
	base = base ? base + 1 : rname;
	lname = argc > 2 && *argv[2] ? argv[2] : base;
	vfs_list_init(&res);
	if (resolve(f, rname, &f->pwd, &res) < 0)
		ret = FTP_FATAL;
	else if ((it = &res.e[res.nr - 1].item)->kind == VFS_MISSING)
		ret = command_error_res(f, "path does not exist: ", &res);
	else if (check_regular(it, rname) < 0)
		ret = FTP_FATAL;
	else
		ret = save_file(f, it, lname);
	vfs_list_release(&res);
	return ret;
}

/* os.path.split(p): the head (a copy) and *tail into p. */
static char *split_head(const char *p, const char **tail)
{
	size_t head_len, tail_ofs;

	pypath_split(p, strlen(p), &head_len, &tail_ofs);
	*tail = p + tail_ofs;
	return xstrndup(p, head_len);
}

static int mget_one(struct ftpsh *f, const char *parm)
{
	struct vfs_list res, l;
	const char *base;
	char *dir = split_head(parm, &base);
	int ret = FTP_OK;

	vfs_list_init(&res);
	vfs_list_init(&l);
	if (resolve(f, dir, &f->pwd, &res) < 0) {
		ret = FTP_FATAL;
		goto out;
	}
	if (res.e[res.nr - 1].item.kind == VFS_MISSING) {
		command_error(f, "path does not exist: ", dir);
		ret = FTP_STOP;
		goto out;
	}
	if (!S_ISDIR(res.e[res.nr - 1].item.mode)) {
		ret = fatal("'%s' is not a directory", dir);
		goto out;
	}
	if (vfs_contents(f->vfs, &res.e[res.nr - 1].item, 1, &l) < 0) {
		ret = fatal("%s", err_last());
		goto out;
	}
	for (size_t i = 0; i < l.nr && ret == FTP_OK; i++) {
		const struct vfs_entry *e = &l.e[i];
		const struct vfs_item *it = &e->item;
		struct vfs_list deref;

		if (!strcmp(e->name, ".") || !pyfnmatch_match(e->name, base))
			continue;
		vfs_list_init(&deref);
		if (S_ISLNK(it->mode)) {
			/* bup saves what the symlink points to */
			if (resolve(f, e->name, &res, &deref) < 0) {
				ret = FTP_FATAL;
			} else if (deref.e[deref.nr - 1].item.kind ==
				   VFS_MISSING) {
				command_error_res(f, "path does not exist: ",
						  &res);
				ret = FTP_STOP;
			}
			it = ret == FTP_OK ? &deref.e[deref.nr - 1].item : NULL;
		}
		if (ret == FTP_OK) {
			if (check_regular(it, e->name) < 0)
				ret = FTP_FATAL;
			else
				ret = save_file(f, it, e->name);
		}
		vfs_list_release(&deref);
	}
out:
	vfs_list_release(&l);
	vfs_list_release(&res);
	free(dir);
	return ret;
}

static int do_mget(struct ftpsh *f, int argc, const char **argv)
{
	for (int i = 1; i < argc; i++) {
		int r = mget_one(f, argv[i]);
		if (r == FTP_FATAL)
			return r;
		if (r)   /* a CommandError ends the command */
			break;
	}
	return FTP_OK;
}

/* bytes.strip() is empty: only ASCII whitespace */
static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\n\r\v\f", s[i]) || !s[i])
			return 0;
	return 1;
}

int ftpsh_run_line(struct ftpsh *f, const char *line, size_t len)
{
	struct shquote_words ws = SHQUOTE_WORDS_INIT;
	const char **argv = NULL;
	struct buf cmd = BUF_INIT, m = BUF_INIT;
	int ret = FTP_OK, argc;

	if (blank(line, len))
		return FTP_OK;
	shquote_split(&ws, line, len);
	if (!ws.nr) {
		/* bup: words[0] of an empty list (IndexError) */
		ret = fatal("no command in line");
		goto out;
	}
	argc = (int)ws.nr;
	argv = xcalloc(ws.nr + 1, sizeof(*argv));
	for (size_t i = 0; i < ws.nr; i++)
		argv[i] = ws.w[i].word;
	/* bytes.lower(): ASCII only */
	for (const char *p = argv[0]; *p; p++)
		buf_addch(&cmd, *p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (!strcmp(cmd.data, "ls")) {
		ret = do_ls(f, argc, argv);
	} else if (!strcmp(cmd.data, "cd")) {
		ret = do_cd(f, argc, argv);
	} else if (!strcmp(cmd.data, "pwd")) {
		struct buf p = BUF_INIT;
		if (f->pwd.nr == 1)
			buf_addch(&p, '/');
		join_names(&p, &f->pwd);
		say(f, "%s\n", p.data);
		buf_release(&p);
	} else if (!strcmp(cmd.data, "cat")) {
		ret = do_cat(f, argc, argv);
	} else if (!strcmp(cmd.data, "get")) {
		ret = do_get(f, argc, argv);
	} else if (!strcmp(cmd.data, "mget")) {
		ret = do_mget(f, argc, argv);
	} else if (!strcmp(cmd.data, "help") || !strcmp(cmd.data, "?")) {
		say(f, "Commands: ls cd pwd cat get mget help quit\n");
	} else if (!strcmp(cmd.data, "quit") || !strcmp(cmd.data, "exit") ||
		   !strcmp(cmd.data, "bye")) {
		ret = FTP_QUIT;
	} else {
		/*
		 * bup 0.33.7 means to print this as a CommandError, but
		 * dies building it (bytes has no encode()).
		 */
		pypath_path_msg(&m, cmd.data);
		ret = fatal("no such command: %s", m.data);
	}
out:
	free(argv);
	buf_release(&cmd);
	buf_release(&m);
	shquote_words_release(&ws);
	return ret;
}

/* ---- completion ---------------------------------------------------- */

static void comp_reset(struct ftpsh *f)
{
	for (size_t i = 0; i < f->nr_comp; i++)
		free(f->comp_names[i]);
	f->nr_comp = 0;
	vfs_list_release(&f->comp_dir);
	vfs_list_init(&f->comp_dir);
	buf_reset(&f->comp_word);
}

/* bup's _completer_get_subs(repo, line). */
static int comp_subs(struct ftpsh *f, const char *line)
{
	struct vfs_list l;
	const char *name;
	char *dir;
	int err_no = 0, ret;

	comp_reset(f);
	f->comp_qtype = shquote_unfinished_word(&f->comp_word, line,
						strlen(line));
	if (f->comp_qtype < 0)
		return -1;
	dir = split_head(f->comp_word.data, &name);
	/* bup: relative to the root, not to the working directory */
	ret = vfs_resolve(f->vfs, *dir ? dir : "/", NULL, 1, 1, &f->comp_dir,
			  &err_no);
	free(dir);
	if (ret < 0 || f->comp_dir.e[f->comp_dir.nr - 1].item.kind ==
	    VFS_MISSING)
		return ret;
	vfs_list_init(&l);
	ret = vfs_contents(f->vfs, &f->comp_dir.e[f->comp_dir.nr - 1].item,
			   1, &l);
	for (size_t i = 0; ret >= 0 && i < l.nr; i++) {
		if (!strcmp(l.e[i].name, ".") ||
		    strncmp(l.e[i].name, name, strlen(name)))
			continue;
		ALLOC_GROW(f->comp_names, f->nr_comp + 1, f->alloc_comp);
		f->comp_names[f->nr_comp++] = xstrdup(l.e[i].name);
	}
	vfs_list_release(&l);
	return ret;
}

int ftpsh_complete(struct ftpsh *f, const char *line, int state,
		   struct buf *add)
{
	struct vfs_list res;
	struct buf full = BUF_INIT;
	const struct vfs_item *leaf;
	int err_no = 0;

	buf_reset(add);
	if (!state && comp_subs(f, line) < 0)
		comp_reset(f);
	if (state < 0 || (size_t)state >= f->nr_comp)
		return 0;
	vfs_list_init(&res);
	if (lsfmt_try_resolve(f->vfs, f->comp_names[state], &f->comp_dir, 1,
			      &res, &err_no) < 0) {
		vfs_list_release(&res);
		return 0;
	}
	/* os.path.join(*names): the root's "" adds nothing */
	for (size_t i = 1; i < res.nr; i++) {
		if (i > 1)
			buf_addch(&full, '/');
		buf_addstr(&full, res.e[i].name);
	}
	leaf = &res.e[res.nr - 1].item;
	if (S_ISDIR(leaf->mode)) {
		buf_addch(&full, '/');
		shquote_what_to_add(add, f->comp_qtype, f->comp_word.data,
				    f->comp_word.len, full.data, full.len, 0);
	} else {
		shquote_what_to_add(add, f->comp_qtype, f->comp_word.data,
				    f->comp_word.len, full.data, full.len, 1);
		buf_addch(add, ' ');
	}
	buf_release(&full);
	vfs_list_release(&res);
	return 1;
}

void ftpsh_pwd(struct ftpsh *f, struct buf *out)
{
	pwd_str(out, &f->pwd);
}

int ftpsh_new(struct ftpsh **out, struct vfs *v, const struct ftpsh_io *io)
{
	struct ftpsh *f = xcalloc(1, sizeof(*f));
	int ret;

	f->io = *io;
	f->vfs = v;
	f->ls = lsfmt_new(v);
	vfs_list_init(&f->pwd);
	vfs_list_init(&f->comp_dir);
	buf_init(&f->comp_word, 0);
	if ((ret = resolve(f, "/", NULL, &f->pwd)) < 0) {
		ftpsh_free(f);
		*out = NULL;
		return ret;
	}
	*out = f;
	return 0;
}

void ftpsh_free(struct ftpsh *f)
{
	if (!f)
		return;
	comp_reset(f);
	free(f->comp_names);
	buf_release(&f->comp_word);
	vfs_list_release(&f->comp_dir);
	vfs_list_release(&f->pwd);
	lsfmt_free(f->ls);
	free(f);
}
