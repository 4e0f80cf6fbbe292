/*
 * bup ftp [commands...]
 *
 * bup 0.33.7's ftp-like shell over the VFS (FORMAT.md 6.2): ls, cd, pwd,
 * cat, get, mget, help, quit.  Commands come from the arguments, else
 * from stdin: plain lines, or on a terminal through GNU readline with
 * bup's prompt ("bup /> ") and tab completion of repository paths.
 * Lines split as bup's shquote (shquote.h); ls is bup's ls (lsfmt.h)
 * run in the working directory.
 *
 * bup's own failures are kept as failures: what raises a Python
 * exception in bup (an unknown command, an empty line after quotes, a
 * path through a non-directory, cat or get of a directory, a local file
 * that cannot be written) ends the session with exit status 1, a clean
 * message on stderr instead of bup's traceback.  CommandError messages
 * go to stdout, as bup writes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"
#include "util/err.h"
#include "vfs/lsfmt.h"
#include "util/pyfnmatch.h"
#include "util/pypath.h"
#include "store/repo.h"
#include "util/shquote.h"
#include "vfs/vfs.h"

static const char optspec[] =
	"bup ftp [commands...]\n";

struct ftp {
	struct vfs *vfs;
	struct lsfmt *ls;
	struct vfs_list pwd;
	/* the end of the line being completed (bup's _attempt_end) */
	int attempt_end;
	/* the candidates of the current completion */
	struct vfs_list comp_dir;
	char **comp_names;
	size_t nr_comp, alloc_comp;
	struct buf comp_word;
	int comp_qtype;
};

/*
 * A command's outcome: go on, quit, or end as bup's exception would;
 * FTP_STOP (inside a command only) ends the command after a
 * CommandError, the session goes on.
 */
enum { FTP_OK = 0, FTP_QUIT = 1, FTP_STOP = 2, FTP_FATAL = -1 };

static struct ftp *the_ftp;     /* for readline's callbacks */

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
static int command_error(const char *what, const char *path)
{
	struct buf m = BUF_INIT;

	pypath_path_msg(&m, path);
	printf("error: %s%s\n", what, m.data);
	fflush(stdout);
	buf_release(&m);
	return FTP_OK;
}

static int command_error_res(const char *what, const struct vfs_list *res)
{
	struct buf p = BUF_INIT;
	int ret;

	join_names(&p, res);
	ret = command_error(what, p.data);
	buf_release(&p);
	return ret;
}

/* What bup dies of (a traceback there): a message, exit status 1. */
static int fatal(const char *fmt, ...) PRINTF(1, 2);
static int fatal(const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	fflush(stdout);
	cli_log("error: %s\n", m.data);
	buf_release(&m);
	return FTP_FATAL;
}

/* bup's vfs.resolve(repo, path, parent=parent): 0 or FTP_FATAL. */
static int resolve(struct ftp *f, const char *path,
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

static int to_stdout(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	if (fwrite(data, 1, len, stdout) != len)
		return err_errno("cannot write to stdout");
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
static int save_file(struct ftp *f, const struct vfs_item *it,
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
	pypath_path_msg(&m, lname);
	fflush(stdout);
	cli_log("Saving %s\n", m.data);
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
	(void)ctx;
	fwrite(data, 1, len, stdout);
}

static void ls_log(void *ctx, const char *line)
{
	(void)ctx;
	fflush(stdout);
	cli_log("%s", line);
}

static int do_ls(struct ftp *f, int argc, const char **argv)
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
		cli_write_usage(&o, r);
	} else {
		out.tty = cli_stdout_is_tty();
		out.width = opt_tty_width();
		lsfmt_run(f->ls, &lo, pwd.data, &out);
	}
	fflush(stdout);
	opt_release(&o);
	buf_release(&pwd);
	return FTP_OK;
}

static int do_cd(struct ftp *f, int argc, const char **argv)
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
			ret = command_error_res("path does not exist: ", &res);
		} else if (!S_ISDIR(res.e[res.nr - 1].item.mode)) {
			ret = command_error("path is not a directory: ",
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

static int do_cat(struct ftp *f, int argc, const char **argv)
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
			command_error_res("path does not exist: ", &res);
			ret = FTP_STOP;
		} else if (check_regular(it, argv[i]) < 0) {
			ret = FTP_FATAL;
		} else if (vfs_file_stream(f->vfs, &it->oid, to_stdout,
					   NULL) < 0) {
			ret = fatal("%s", err_last());
		}
		vfs_list_release(&res);
	}
	fflush(stdout);
	return ret == FTP_FATAL ? FTP_FATAL : FTP_OK;
}

static int do_get(struct ftp *f, int argc, const char **argv)
{
	struct vfs_list res;
	const struct vfs_item *it;
	const char *rname, *base, *lname;
	int ret;

	if (argc != 2 && argc != 3) {
		printf("error: Usage: get <filename> [localname]\n");
		fflush(stdout);
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
		ret = command_error_res("path does not exist: ", &res);
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

static int mget_one(struct ftp *f, const char *parm)
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
		command_error("path does not exist: ", dir);
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
				command_error_res("path does not exist: ", &res);
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

static int do_mget(struct ftp *f, int argc, const char **argv)
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

static int run_line(struct ftp *f, const char *line, size_t len)
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
		printf("%s\n", p.data);
		fflush(stdout);
		buf_release(&p);
	} else if (!strcmp(cmd.data, "cat")) {
		ret = do_cat(f, argc, argv);
	} else if (!strcmp(cmd.data, "get")) {
		ret = do_get(f, argc, argv);
	} else if (!strcmp(cmd.data, "mget")) {
		ret = do_mget(f, argc, argv);
	} else if (!strcmp(cmd.data, "help") || !strcmp(cmd.data, "?")) {
		printf("Commands: ls cd pwd cat get mget help quit\n");
		fflush(stdout);
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

/* ---- terminal: readline and bup's completion -------------------------- */

static void comp_reset(struct ftp *f)
{
	for (size_t i = 0; i < f->nr_comp; i++)
		free(f->comp_names[i]);
	f->nr_comp = 0;
	vfs_list_release(&f->comp_dir);
	vfs_list_init(&f->comp_dir);
	buf_reset(&f->comp_word);
}

/* bup's _completer_get_subs(repo, line). */
static int comp_subs(struct ftp *f, const char *line)
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

static char **attempt_completion(const char *text, int start, int end)
{
	(void)text;
	(void)start;
	the_ftp->attempt_end = end;
	return NULL;   /* readline goes on with the entry function */
}

/* bup's enter_completion(text, iteration). */
static char *enter_completion(const char *text, int state)
{
	struct ftp *f = the_ftp;
	struct vfs_list res;
	struct buf full = BUF_INIT, add = BUF_INIT, out = BUF_INIT;
	const struct vfs_item *leaf;
	int err_no = 0;
	char *line;

	if (!state) {
		int end = f->attempt_end;
		if (end < 0 || end > (int)strlen(rl_line_buffer))
			end = (int)strlen(rl_line_buffer);
		line = xstrndup(rl_line_buffer, (size_t)end);
		if (comp_subs(f, line) < 0)
			comp_reset(f);
		free(line);
	}
	if ((size_t)state >= f->nr_comp)
		return NULL;
	vfs_list_init(&res);
	if (lsfmt_try_resolve(f->vfs, f->comp_names[state], &f->comp_dir, 1,
			      &res, &err_no) < 0) {
		vfs_list_release(&res);
		return NULL;
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
		shquote_what_to_add(&add, f->comp_qtype, f->comp_word.data,
				    f->comp_word.len, full.data, full.len, 0);
	} else {
		shquote_what_to_add(&add, f->comp_qtype, f->comp_word.data,
				    f->comp_word.len, full.data, full.len, 1);
		buf_addch(&add, ' ');
	}
	buf_addstr(&out, text);
	buf_addstr(&out, add.data);
	buf_release(&full);
	buf_release(&add);
	vfs_list_release(&res);
	return buf_detach(&out, NULL);
}

static int run_terminal(struct ftp *f)
{
	struct buf prompt = BUF_INIT;
	int ret = FTP_OK;

	/*
	 * bup: the prompt shows the directory the session started in
	 * (its input generator holds the first pwd), "bup /> " whatever
	 * cd does.
	 */
	buf_addstr(&prompt, "bup ");
	pwd_str(&prompt, &f->pwd);
	buf_addstr(&prompt, "> ");
	the_ftp = f;
	rl_readline_name = "bup";
	/* bup's settings: '/' breaks words, so one level completes at a time */
	rl_completer_word_break_characters = (char *)" \t\n\r/";
	rl_attempted_completion_function = attempt_completion;
	rl_completion_entry_function = enter_completion;
	rl_parse_and_bind((char[]){ "tab: complete" });
	while (ret == FTP_OK) {
		char *line;

		fflush(stdout);
		line = readline(prompt.data);
		if (!line) {
			/* clear the line for the terminal's next prompt */
			putchar('\n');
			break;
		}
		if (*line)
			add_history(line);
		ret = run_line(f, line, strlen(line));
		free(line);
	}
	buf_release(&prompt);
	return ret;
}

static int run_stdin(struct ftp *f)
{
	char *line = NULL;
	size_t alloc = 0;
	ssize_t n;
	int ret = FTP_OK;

	while (ret == FTP_OK && (n = getline(&line, &alloc, stdin)) >= 0)
		ret = run_line(f, line, (size_t)n);
	free(line);
	return ret;
}

int cmd_ftp(int argc, const char **argv);
int cmd_ftp(int argc, const char **argv)
{
	struct opts o;
	struct repo *repo;
	struct ftp f;
	int ret = FTP_OK;

	memset(&f, 0, sizeof(f));
	cli_parse_opts(&o, optspec, argc, argv);
	repo = cli_open_repo();
	if (vfs_new(&f.vfs, repo) < 0)
		die("%s", err_last());
	f.ls = lsfmt_new(f.vfs);
	vfs_list_init(&f.pwd);
	vfs_list_init(&f.comp_dir);
	buf_init(&f.comp_word, 0);
	if (resolve(&f, "/", NULL, &f.pwd) < 0) {
		ret = FTP_FATAL;
	} else if (o.argc) {
		for (int i = 0; i < o.argc && ret == FTP_OK; i++)
			ret = run_line(&f, o.argv[i], strlen(o.argv[i]));
	} else if (isatty(0)) {
		ret = run_terminal(&f);
	} else {
		ret = run_stdin(&f);
	}
	comp_reset(&f);
	free(f.comp_names);
	buf_release(&f.comp_word);
	vfs_list_release(&f.pwd);
	lsfmt_free(f.ls);
	vfs_free(f.vfs);
	repo_free(repo);
	opt_release(&o);
	return cli_finish_stdout(ret == FTP_FATAL ? 1 : 0);
}
