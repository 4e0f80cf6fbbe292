/*
 * What every subcommand shares (cli.h): bup's message conventions and
 * exit codes (FORMAT.md 11), its top-level usage text, opening the
 * repository with bup's checks (FORMAT.md 1.1), cleanups run on die()
 * and on signals, and rate-limited progress lines.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "remote/client.h"
#include "store/commit.h"
#include "index/drecurse.h"
#include "util/err.h"
#include "store/odb.h"
#include "store/packwriter.h"
#include "store/refs.h"
#include "util/proc.h"
#include "util/pypath.h"
#include "store/repo.h"
#include "store/repolock.h"
#include "util/strv.h"
#include "pipelines/validate.h"

/* ---- messages ---------------------------------------------------- */

static double last_prog;  /* bup's helpers._last_prog */
/*
 * Messages may come from a command's worker threads too (restore's
 * writer): one line at a time, and last_prog/nr_errors kept whole.
 */
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;

static void vlog_prefixed(const char *prefix, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	/* bup's log() flushes stdout first so output interleaves sanely. */
	fflush(stdout);
	buf_addstr(&b, prefix);
	buf_vaddf(&b, fmt, ap);
	buf_addch(&b, '\n');
	write_full(2, b.data, b.len);
	buf_release(&b);
	last_prog = 0;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_prefixed("fatal: ", fmt, ap);
	va_end(ap);
	cli_run_cleanups();
	exit(1);
}

void die_code(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_prefixed("fatal: ", fmt, ap);
	va_end(ap);
	cli_run_cleanups();
	exit(code);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_prefixed("error: ", fmt, ap);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_prefixed("warning: ", fmt, ap);
	va_end(ap);
}

void cli_log(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	write_full(2, b.data, b.len);
	buf_release(&b);
	last_prog = 0;
}

static int nr_errors;

void cli_add_error(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	/* bup: log('%-70s\n' % e) */
	while (b.len < 70)
		buf_addch(&b, ' ');
	buf_addch(&b, '\n');
	pthread_mutex_lock(&msg_lock);
	fflush(stdout);
	write_full(2, b.data, b.len);
	last_prog = 0;
	nr_errors++;
	pthread_mutex_unlock(&msg_lock);
	buf_release(&b);
}

void cli_add_oserror(const char *prefix, int err, const char *path,
		     int bytes)
{
	struct buf b = BUF_INIT;

	if (prefix)
		buf_addstr(&b, prefix);
	pypath_oserror(&b, err, path, bytes);
	cli_add_error("%s", b.data);
	buf_release(&b);
}

int cli_errors(void)
{
	int n;

	pthread_mutex_lock(&msg_lock);
	n = nr_errors;
	pthread_mutex_unlock(&msg_lock);
	return n;
}

/* ---- cleanups and signals ---------------------------------------- */

struct cleanup {
	void (*fn)(void *);
	void *ctx;
};

#define MAX_CLEANUPS 64
static struct cleanup cleanups[MAX_CLEANUPS];
static volatile sig_atomic_t nr_cleanups;

void cli_atexit(void (*fn)(void *), void *ctx)
{
	if (nr_cleanups >= MAX_CLEANUPS)
		BUG("too many cleanup handlers");
	cleanups[nr_cleanups].fn = fn;
	cleanups[nr_cleanups].ctx = ctx;
	nr_cleanups++;
}

void cli_atexit_remove(void (*fn)(void *), void *ctx)
{
	for (int i = nr_cleanups - 1; i >= 0; i--) {
		if (cleanups[i].fn == fn && cleanups[i].ctx == ctx) {
			memmove(&cleanups[i], &cleanups[i + 1],
				(nr_cleanups - i - 1) * sizeof(cleanups[0]));
			nr_cleanups--;
			return;
		}
	}
}

void cli_run_cleanups(void)
{
	/* Last registered runs first; each runs at most once. */
	while (nr_cleanups > 0) {
		struct cleanup c = cleanups[nr_cleanups - 1];
		nr_cleanups--;
		c.fn(c.ctx);
	}
}

static void on_signal(int sig)
{
	cli_run_cleanups();
	/*
	 * bup turns SIGINT into KeyboardInterrupt, which wrap_main() turns
	 * into exit status 130 without a message.  Other signals keep
	 * their default disposition (death by signal), as in Python.
	 */
	if (sig == SIGINT)
		_exit(130);
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* Keep an ignored SIGINT ignored (background jobs of a shell). */
	if (sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN) {
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
	}
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/*
	 * Python ignores SIGPIPE; writes then fail with EPIPE, which
	 * cli_finish_stdout() and the commands handle.
	 */
	signal(SIGPIPE, SIG_IGN);
}

/* ---- usage ------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	const struct cli_cmd *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/*
 * bup 0.33.7's main.py usage(), from the command table: the commands
 * with a summary as bup's "common" ones, the others in columns, each
 * list sorted.  So it lists exactly the commands this binary has; with
 * all of bup's built, the text is bup's.
 */
void main_usage(const char *msg)
{
	struct buf b = BUF_INIT;
	const struct cli_cmd *cmds, **sorted;
	const char **other;
	size_t n, nr_other = 0;

	buf_addstr(&b, "Usage: bup [-?|--help] [-d BUP_DIR] [--debug] "
		   "[--profile] <command> [options...]\n\n");
	buf_addstr(&b, "Common commands:\n");
	cmds = cli_commands(&n);
	sorted = xcalloc(n, sizeof(*sorted));
	other = xcalloc(n, sizeof(*other));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &cmds[i];
	qsort(sorted, n, sizeof(*sorted), by_name);
	for (size_t i = 0; i < n; i++)
		if (sorted[i]->summary)
			buf_addf(&b, "    %-10s %s\n", sorted[i]->name,
				 sorted[i]->summary);
		else
			other[nr_other++] = sorted[i]->name;
	buf_addstr(&b, "\nOther available commands:\n");
	strv_columnate(&b, other, nr_other, "    ", opt_tty_width());
	buf_addstr(&b, "\nSee 'bup help COMMAND' for more information on "
		   "a specific command.\n");
	if (msg && *msg)
		buf_addf(&b, "\n%s\n", msg);
	fflush(stdout);
	write_full(2, b.data, b.len);
	buf_release(&b);
	free(sorted);
	free(other);
	exit(99);
}

/* ---- options ----------------------------------------------------- */

static NORETURN void write_usage_and_exit(struct opts *o, const char *msg)
{
	fflush(stdout);
	write_full(2, o->usage.data, o->usage.len);
	if (msg && *msg)
		write_full(2, msg, strlen(msg));
	cli_run_cleanups();
	exit(97);
}

void cli_parse_opts(struct opts *o, const char *optspec, int argc,
		    const char **argv)
{
	int r = opt_parse(o, optspec, argc, argv);
	struct buf m = BUF_INIT;

	if (r == OPT_OK)
		return;
	if (r == OPT_ERROR)
		buf_addf(&m, "\nerror: %s\n", o->error.data);
	write_usage_and_exit(o, m.data);
}

void cli_write_usage(struct opts *o, int r)
{
	fflush(stdout);
	write_full(2, o->usage.data, o->usage.len);
	if (r == OPT_ERROR) {
		struct buf m = BUF_INIT;
		buf_addf(&m, "\nerror: %s\n", o->error.data);
		write_full(2, m.data, m.len);
		buf_release(&m);
	}
}

void cli_usage_fatal(struct opts *o, const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	buf_addstr(&m, "\nerror: ");
	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	buf_addch(&m, '\n');
	write_usage_and_exit(o, m.data);
}

double cli_parse_date(struct opts *o, const char *str)
{
	struct buf m = BUF_INIT;
	double date;

	if (!opt_parse_float(str, &date))
		return date;
	/* bup: '... %r' % e, the repr of the ValueError */
	pypath_str_repr(&m, err_last());
	cli_usage_fatal(o, "invalid date format (should be a float): "
			"ValueError(%s)", m.data);
}

/* ---- repository -------------------------------------------------- */

void cli_bytes_repr(struct buf *out, const char *s)
{
	pypath_bytes_repr(out, s, strlen(s));
}

void cli_path_msg(struct buf *out, const char *s)
{
	pypath_path_msg(out, s);
}

void cli_shorten_hash(struct buf *out, const char *s)
{
	const char *p = s;

	while (*p) {
		size_t n = 0;
		while ((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' &&
							p[n] <= 'z'))
			n++;
		if (n == 40) {
			buf_add(out, p, 7);
			buf_addch(out, '*');
			p += n;
		} else if (n) {
			buf_add(out, p, n);
			p += n;
		} else {
			buf_addch(out, *p++);
		}
	}
}

char *cli_repo_rel(const struct repo *r, const char *path)
{
	struct buf out = BUF_INIT, pm = BUF_INIT, full = BUF_INIT,
		   top = BUF_INIT;
	const char *rel = path;

	/* bup: os.path.abspath() of both, no symlink resolved */
	pypath_abspath(&full, path);
	pypath_abspath(&top, r->path);
	if (!top.len || top.data[top.len - 1] != '/')
		buf_addch(&top, '/');
	if (!strncmp(full.data, top.data, top.len))
		rel = full.data + top.len;
	if (!strncmp(rel, "index-cache/", 12))
		rel += 12;
	cli_shorten_hash(&out, rel);
	cli_path_msg(&pm, out.data);
	buf_release(&full);
	buf_release(&top);
	buf_release(&out);
	return buf_detach(&pm, NULL);
}

void cli_parse_excludes(struct opts *o, struct drecurse_opts *d)
{
	const struct opt_value *v;

	v = opt_get(o, "exclude");
	for (size_t i = 0; v && i < v->nr_values; i++)
		drecurse_add_exclude(d, v->values[i]);
	v = opt_get(o, "exclude-from");
	for (size_t i = 0; v && i < v->nr_values; i++)
		if (drecurse_add_exclude_from(d, v->values[i]))
			cli_usage_fatal(o, "couldn't read '%s'", v->values[i]);
	v = opt_get(o, "exclude-rx");
	for (size_t i = 0; v && i < v->nr_values; i++)
		if (drecurse_add_rx(d, v->values[i]))
			cli_usage_fatal(o, "invalid --exclude-rx pattern ('%s'): %s",
					v->values[i], err_last());
	v = opt_get(o, "exclude-rx-from");
	for (size_t i = 0; v && i < v->nr_values; i++) {
		int r = drecurse_add_rx_from(d, v->values[i]);
		if (r == ERR_IO)
			cli_usage_fatal(o, "couldn't read '%s'", v->values[i]);
		if (r)
			cli_usage_fatal(o, "%s", err_last());
	}
}

int cli_threads(void)
{
	const char *env = getenv("CBUP_THREADS");
	long n;

	if (env && *env) {
		n = strtol(env, NULL, 10);
		return n < 0 ? 0 : n > 64 ? 64 : (int)n;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

struct odb *cli_odb(struct repo *r)
{
	struct odb *odb = repo_odb(r);

	if (!odb)
		die("%s", err_last());
	return odb;
}

int cli_check_parent(struct repo *r, struct client *cli,
		     const char *refname, const struct oid *parent)
{
	struct buf b = BUF_INIT;
	enum obj_type type;
	int ret;

	if (cli) {
		struct oid got;

		/* a server without cat-batch checks what it can itself */
		if (!client_has_command(cli, "cat-batch"))
			return 0;
		ret = client_cat(cli, oid_hex(parent), &got, &type, &b);
	} else {
		struct odb *odb = repo_odb(r);

		if (!odb)
			return err_last_code() < 0 ? err_last_code() : ERR_IO;
		ret = odb_read(odb, parent, &type, &b);
	}
	buf_release(&b);
	if (ret < 0) {
		/* err_set must not format from its own buffer */
		char *why = xstrdup(err_last());
		ret = err_set(ret, "%s points to an unreadable commit: %s",
			      refname, why);
		free(why);
		return ret;
	}
	if (type != OBJ_COMMIT)
		return err_set(ERR_CORRUPT, "%s points to a %s, not a commit",
			       refname, obj_type_name(type));
	return 0;
}

int cli_read_branch(struct repo *r, struct client *cli, const char *refname,
		    struct oid *old, int *have_old)
{
	int ret = cli ? client_read_ref(cli, refname, old)
		      : refs_read(r, refname, old);

	*have_old = 0;
	if (ret == ERR_NOTFOUND)
		return 0;
	if (ret)
		return ret;
	*have_old = 1;
	return cli_check_parent(r, cli, refname, old);
}

int cli_open_writer(struct packwriter **pw, struct client_writer **cw,
		    struct objsink **sink, struct repo *r, struct client *cli,
		    struct packwriter_opts *po, uint64_t bwlimit)
{
	int ret;

	po->threads = cli_threads();
	po->progress = cli_upkeep_progress;
	if (cli) {
		struct client_writer_opts co;

		client_writer_opts_from(&co, po);
		co.bwlimit = bwlimit;
		if ((ret = client_writer_new(cw, cli, &co)))
			return ret;
		if (sink)
			*sink = client_writer_sink(*cw);
		return 0;
	}
	if ((ret = packwriter_new(pw, r->objdir, cli_odb(r), po)))
		return ret;
	if (sink)
		*sink = packwriter_sink(*pw);
	return 0;
}

int cli_finish_writer(struct packwriter **pw, struct client_writer **cw,
		      struct client **cli, struct repo *r,
		      const char *refname, const struct oid *new_oid,
		      const struct oid *old_oid)
{
	int ret = 0;

	if (*pw) {
		ret = packwriter_close(*pw);
		*pw = NULL;
	} else if (*cw) {
		ret = client_writer_close(*cw);
		*cw = NULL;
	}
	if (!ret && refname)
		ret = *cli ? client_update_ref(*cli, refname, new_oid, old_oid)
			   : refs_update(r, refname, new_oid, old_oid, 0, NULL);
	if (!ret && *cli) {
		ret = client_close(*cli);
		*cli = NULL;
	}
	return ret;
}

void cli_abort_writer(struct packwriter *pw, struct client_writer *cw,
		      struct client *cli)
{
	if (pw)
		packwriter_abort(pw);
	client_writer_abort(cw);
	client_abort(cli);
}

struct repo *cli_open_repo(void)
{
	struct repo *r = NULL;
	char *dir = repo_default_path();
	int rc = repo_open(&r, dir);
	struct buf m = BUF_INIT;
	char *top;

	if (!rc) {
		free(dir);
		return r;
	}
	if (rc != ERR_NOTFOUND && rc != ERR_CORRUPT)
		die("%s", err_last());
	/* bup prints git.repo(), i.e. the effective dir joined with '' */
	top = repo_effective_path(dir);
	if (!*top || top[strlen(top) - 1] != '/') {
		char *t = xstrfmt("%s/", top);
		free(top);
		top = t;
	}
	if (rc == ERR_NOTFOUND) {
		buf_addstr(&m, "error: repository ");
		cli_bytes_repr(&m, top);
		buf_addstr(&m, " does not exist (see \"bup help init\")\n");
		fflush(stdout);
		write_full(2, m.data, m.len);
		exit(15);
	}
	buf_addstr(&m, "error: ");
	cli_path_msg(&m, top);
	buf_addstr(&m, " is not a repository\n");
	fflush(stdout);
	write_full(2, m.data, m.len);
	exit(14);
}

/* ---- tty and progress -------------------------------------------- */

static int force_tty(void)
{
	const char *s = getenv("BUP_FORCE_TTY");
	return s ? (int)strtol(s, NULL, 10) : 0;
}

int cli_stderr_is_tty(void)
{
	static int cached = -1;
	if (cached < 0)
		cached = isatty(2) || (force_tty() & 2);
	return cached;
}

int cli_stdout_is_tty(void)
{
	static int cached = -1;
	if (cached < 0)
		cached = isatty(1) || (force_tty() & 1);
	return cached;
}

static void vprogress(const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	buf_vaddf(&b, fmt, ap);
	fflush(stdout);
	write_full(2, b.data, b.len);
	buf_release(&b);
}

void cli_progress(const char *fmt, ...)
{
	double now;
	va_list ap;

	if (!cli_stderr_is_tty())
		return;
	/* bup's qprogress(): at most one line per 0.1 s. */
	now = util_now();
	pthread_mutex_lock(&msg_lock);
	if (now - last_prog > 0.1) {
		va_start(ap, fmt);
		vprogress(fmt, ap);
		va_end(ap);
		last_prog = now;
	}
	pthread_mutex_unlock(&msg_lock);
}

void cli_progress_done(const char *fmt, ...)
{
	va_list ap;

	if (!cli_stderr_is_tty())
		return;
	pthread_mutex_lock(&msg_lock);
	va_start(ap, fmt);
	vprogress(fmt, ap);
	va_end(ap);
	last_prog = 0;
	pthread_mutex_unlock(&msg_lock);
}

void cli_upkeep_progress(int rate_limited, const char *line)
{
	/* the child's helpers._last_prog: 0 at its start, as here */
	static double last;
	double now;

	if (!cli_stderr_is_tty())
		return;
	pthread_mutex_lock(&msg_lock);
	now = util_now();
	if (!rate_limited || now - last > 0.1) {
		/*
		 * No fflush(stdout): a child cannot flush its parent's
		 * buffer, and bup midx/bloom write nothing to stdout.
		 */
		write_full(2, line, strlen(line));
		/*
		 * Every child run begins with plain lines ("counting"),
		 * and each child's clock starts at 0: the next limited
		 * line of a run always shows, as its first does in bup.
		 */
		last = rate_limited ? now : 0;
	}
	pthread_mutex_unlock(&msg_lock);
}

/* client.h's index-transfer lines: bup's qprogress() and progress() */
static void client_progress(int rate_limited, const char *line)
{
	if (rate_limited)
		cli_progress("%s", line);
	else
		cli_progress_done("%s", line);
}

static int env_int(const char *name)
{
	const char *v = getenv(name);

	return v ? (int)strtol(v, NULL, 10) : 0;
}

int cli_client_open(struct client **out, const char *remote,
		    const char *bupdir, int create)
{
	struct client_opts o = {
		.progress = client_progress,
		/* bup's midx/bloom children print straight to our stderr */
		.upkeep_progress = cli_upkeep_progress,
		.ssh = getenv("CBUP_SSH"),
		.remote_bup = getenv("CBUP_REMOTE_BUP"),
		.reverse = getenv("BUP_SERVER_REVERSE"),
		.debug = env_int("BUP_DEBUG"),
		.force_tty = env_int("BUP_FORCE_TTY"),
		.has_tty_width = getenv("BUP_TTY_WIDTH") != NULL,
		.tty_width = env_int("BUP_TTY_WIDTH"),
	};

	return client_open(out, remote, bupdir, create, &o);
}

int cli_finish_stdout(int code)
{
	if (fflush(stdout) || ferror(stdout)) {
		/* A closed pipe is the reader's choice, not our error. */
		if (errno != EPIPE)
			error("write error on stdout: %s", strerror(errno));
		return code ? code : 1;
	}
	return code;
}

int cli_error_last(void)
{
	fflush(stdout);
	error("%s", err_last());
	return 1;
}

int cli_saving_errors(int n)
{
	if (!n)
		return 0;
	fflush(stdout);
	cli_log("WARNING: %d errors encountered while saving.\n", n);
	return 1;
}

int cli_finish_counted(int failed)
{
	if (failed)
		return cli_finish_stdout(1);
	if (cli_errors()) {
		fflush(stdout);
		cli_log("WARNING: %d errors encountered.\n", cli_errors());
		return cli_finish_stdout(1);
	}
	return cli_finish_stdout(0);
}

void cli_full_argv_repr(struct buf *out)
{
	int argc = cli_full_argc;
	const char **v = xcalloc((size_t)argc + 1, sizeof(*v));
	char *a0 = NULL;

	for (int i = 0; i < argc; i++)
		v[i] = cli_full_argv[i];
	if (argc) {
		const char *base = strrchr(v[0], '/');
		base = base ? base + 1 : v[0];
		if (!strncmp(base, "cbup", 4)) {
			a0 = xstrfmt("%.*s%s", (int)(base - v[0]), v[0],
				     base + 1);
			v[0] = a0;
		}
	}
	commit_argv_repr(out, argc, v, 1);
	free(a0);
	free(v);
}

/* bup's gc.report_live_item() */
void cli_report_live_item(const char *refname,
			  const struct validate_item *it, uint64_t n,
			  uint64_t existing, int v)
{
	struct buf ref = BUF_INIT, path = BUF_INIT, pm = BUF_INIT;
	char status[64];
	const char *slash = it->type == OBJ_TREE ? "/" : "";

	snprintf(status, sizeof(status), "scanned %02.2f%%",
		 existing ? (double)n * 100.0 / (double)existing : 0.0);
	cli_path_msg(&ref, refname);
	if (it->nchunk) {
		if (v >= 4) {
			validate_item_path(&path, it, 0);
			cli_path_msg(&pm, path.data);
			cli_log("%s %s:%s%s\n", status, ref.data, pm.data, slash);
		}
	} else if (it->npath && validate_item_demangled_len(it)) {
		validate_item_path(&path, it, 1);
		cli_path_msg(&pm, path.data);
		if (v == 1)
			cli_progress("%s %s:%s%s\r", status, ref.data, pm.data,
				     slash);
		else if ((v > 1 && it->type == OBJ_TREE) ||
			 (v > 2 && it->type == OBJ_BLOB))
			cli_log("%s %s:%s%s\n", status, ref.data, pm.data, slash);
	} else if (v > 3) {
		validate_item_path(&path, it, 0);
		cli_path_msg(&pm, path.data);
		cli_log("%s %s:%s%s\n", status, ref.data, pm.data, slash);
	}
	buf_release(&ref);
	buf_release(&path);
	buf_release(&pm);
}

/* bup's gc.report_missing() */
void cli_report_missing(const char *refname, const struct validate_item *it)
{
	struct buf ref = BUF_INIT, path = BUF_INIT, pm = BUF_INIT;

	cli_path_msg(&ref, refname);
	validate_item_path(&path, it, 1);
	cli_path_msg(&pm, path.data);
	cli_log("missing %s:%s%s\n", ref.data, pm.data,
		it->type == OBJ_TREE ? "/" : "");
	buf_release(&ref);
	buf_release(&path);
	buf_release(&pm);
}

static void writer_waiting(void *ctx, enum repolock_mode mode)
{
	(void)ctx;
	(void)mode;
	cli_log("waiting for the running gc to finish\n");
}

void cli_lock_writer(struct repo *r)
{
	if (repolock_take(r, REPOLOCK_WRITER, 1, writer_waiting, NULL) < 0)
		die("%s", err_last());
}

int cli_run_bup(int dry_run, const char *const *args)
{
	char *self = proc_self_exe();
	const char **argv;
	size_t n = 0, nargs = 0;
	int status = 0;

	if (!self)
		die("cannot find own executable: %s", strerror(errno));
	while (args[nargs])
		nargs++;
	argv = xcalloc(nargs + 2, sizeof(*argv));
	argv[n++] = self;
	while (*args)
		argv[n++] = *args++;
	if (dry_run) {
		/* the scripts' `echo "$cmd_dir/bup" "$@"` */
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? " " : "", argv[i]);
		putchar('\n');
		fflush(stdout);
	} else {
		fflush(stdout);
		fflush(stderr);
		if (proc_run(argv, NULL, NULL, 0, &status) < 0) {
			error("%s", err_last());
			status = 1;
		}
	}
	free(argv);
	free(self);
	return status;
}

int cli_import_flags(int argc, const char **argv, int *dry_run)
{
	int i = 1;

	*dry_run = 0;
	while (i < argc && (!strcmp(argv[i], "-n") ||
			    !strcmp(argv[i], "--dry-run"))) {
		*dry_run = 1;
		i++;
	}
	return i;
}

int cli_import_root_ok(const char *root)
{
	char *probe = xstrfmt("%s/.", root);
	int ok = !access(probe, F_OK);

	free(probe);
	if (!ok)
		printf("'%s' isn't a directory!\n", root);
	return ok;
}

int cli_import_save(int dry_run, const char *idx, const char *dir,
		    const char *date_arg, const char *branch)
{
	const char *ix[] = { "index", "-ux", "-f", idx, dir, NULL };
	const char *sv[] = { "save", "--strip", date_arg, "-f", idx, "-n",
			     branch, dir, NULL };
	int rc = cli_run_bup(dry_run, ix);

	return rc ? rc : cli_run_bup(dry_run, sv);
}
