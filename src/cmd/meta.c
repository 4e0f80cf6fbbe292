/*
 * cbup meta: bup 0.33.7's `bup meta` (cmd/meta.py); archives are read,
 * their paths cleaned and extracted by meta/metaarchive.
 *
 *   -c   save_tree(): one object per path (walked with drecurse unless
 *        --no-recurse), paths cleaned by _clean_up_path_for_archive
 *   -t   display_archive(): paths, summary lines (-v) or the detailed
 *        layout of xstat (-vv)
 *   -x, --start-extract, --finish-extract   metaarchive_extract()
 *   --edit  rewrite uid/gid/user/group of every object
 *
 * Messages, their order and exit codes are bup's.  Where bup dies with
 * a Python traceback (unreadable input, a truncated archive, an empty
 * object where it expects one with a path) cbup prints one "error:"
 * line instead and exits 1, as bup does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "index/drecurse.h"
#include "util/err.h"
#include "meta/meta.h"
#include "meta/metafmt.h"
#include "meta/metaarchive.h"
#include "util/pypath.h"
#include "platform/fs.h"

int cmd_meta(int argc, const char **argv);

static const char meta_optspec[] =
	"bup meta --create [OPTION ...] <PATH ...>\n"
	"bup meta --list [OPTION ...]\n"
	"bup meta --extract [OPTION ...]\n"
	"bup meta --start-extract [OPTION ...]\n"
	"bup meta --finish-extract [OPTION ...]\n"
	"bup meta --edit [OPTION ...] <PATH ...>\n"
	"--\n"
	"c,create       write metadata for PATHs to stdout (or --file)\n"
	"t,list         display metadata\n"
	"x,extract      perform --start-extract followed by --finish-extract\n"
	"start-extract  build tree matching metadata provided on standard "
	"input (or --file)\n"
	"finish-extract finish applying standard input (or --file) metadata "
	"to filesystem\n"
	"edit           alter metadata; write to stdout (or --file)\n"
	"f,file=        specify source or destination file\n"
	"R,recurse      recurse into subdirectories\n"
	"xdev,one-file-system  don't cross filesystem boundaries\n"
	"numeric-ids    apply numeric IDs (user, group, etc.) rather than "
	"names\n"
	"symlinks       handle symbolic links (default is true)\n"
	"paths          include paths in metadata (default is true)\n"
	"set-uid=       set metadata uid (via --edit)\n"
	"set-gid=       set metadata gid (via --edit)\n"
	"set-user=      set metadata user (via --edit)\n"
	"unset-user     remove metadata user (via --edit)\n"
	"set-group=     set metadata group (via --edit)\n"
	"unset-group    remove metadata group (via --edit)\n"
	"v,verbose      increase log output (can be used more than once)\n"
	"q,quiet        don't show progress meter\n";

struct meta_cmd {
	struct opts *o;
	int verbose;          /* metadata.verbose: -v count minus -q count */
	int recurse, paths, symlinks, xdev, numeric_ids;
	FILE *out;            /* --create / --edit */
	const char *out_name; /* NULL: stdout */
	struct buf enc;       /* one encoded object, reused */
};

static void set_str(struct buf *b, const char *s, size_t n)
{
	buf_reset(b);
	buf_add(b, s, n);
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	cli_add_error("%s", msg);
}

/* print(path_msg(p), file=sys.stderr), with an optional prefix. */
static void log_path(void *ctx, const char *prefix, const char *p)
{
	struct buf b = BUF_INIT;

	(void)ctx;
	cli_path_msg(&b, p);
	cli_log("%s%s\n", prefix, b.data);
	buf_release(&b);
}

/* ------------------------------------------------------------------ */
/* --create                                                            */

static int write_obj(struct meta_cmd *c, const struct meta *m)
{
	buf_reset(&c->enc);
	meta_encode(&c->enc, m, c->paths);
	if (fwrite(c->enc.data, 1, c->enc.len, c->out) != c->enc.len)
		return error("cannot write '%s': %s",
			     c->out_name ? c->out_name : "-", strerror(errno));
	return 0;
}

struct create_ctx {
	struct meta_cmd *c;
	struct meta m;
	struct buf safe, repr;
};

static int create_one(struct create_ctx *x, const char *p,
		      const struct stat *st, int dir_slash)
{
	struct meta_cmd *c = x->c;
	unsigned flags = c->symlinks ? 0 : META_NO_SYMLINKS;

	metaarchive_clean_path(&x->safe, p);
	if (dir_slash && S_ISDIR(st->st_mode))
		buf_addch(&x->safe, '/');
	if (meta_from_path(&x->m, p, st, flags, warn_cb, NULL) < 0)
		return error("%s", err_last());
	set_str(&x->m.path, x->safe.data, x->safe.len);
	if (c->verbose) {
		/* print(m.path): the repr of a bytes object */
		buf_reset(&x->repr);
		cli_bytes_repr(&x->repr, x->m.path.data);
		cli_log("%s\n", x->repr.data);
	}
	return write_obj(c, &x->m);
}

static int create_walk_fn(void *data, const char *path, size_t len,
			  const struct stat *st)
{
	(void)len;
	return create_one(data, path, st, 0) < 0 ? -1 : 0;
}

static void walk_error(void *data, const char *msg)
{
	(void)data;
	cli_add_error("%s", msg);
}

/* save_tree() */
static int do_create(struct meta_cmd *c)
{
	struct create_ctx x;
	struct buf pm1 = BUF_INIT, pm2 = BUF_INIT;
	int ret = 0;

	memset(&x, 0, sizeof(x));
	x.c = c;
	meta_init(&x.m);
	buf_init(&x.safe, 0);
	buf_init(&x.repr, 0);

	/* Top-level rewrite warnings come first, for every path. */
	for (int i = 0; i < c->o->argc; i++) {
		const char *p = c->o->argv[i];
		metaarchive_clean_path(&x.safe, p);
		if (!strcmp(x.safe.data, p))
			continue;
		buf_reset(&pm1);
		buf_reset(&pm2);
		cli_path_msg(&pm1, p);
		cli_path_msg(&pm2, x.safe.data);
		cli_log("archiving \"%s\" as \"%s\"\n", pm1.data, pm2.data);
	}

	if (!c->recurse) {
		for (int i = 0; i < c->o->argc && !ret; i++) {
			const char *p = c->o->argv[i];
			struct stat st;

			if (lstat(p, &st) < 0) {
				ret = error("cannot stat '%s': %s", p,
					    strerror(errno));
				break;
			}
			ret = create_one(&x, p, &st, 1);
		}
	} else {
		struct drecurse_opts dopts = DRECURSE_OPTS_INIT;

		dopts.xdev = c->xdev;
		dopts.error = walk_error;
		ret = drecurse_walk(&dopts, c->o->argv, (size_t)c->o->argc,
				    create_walk_fn, &x);
		drecurse_opts_release(&dopts);
	}
	meta_release(&x.m);
	buf_release(&x.safe);
	buf_release(&x.repr);
	buf_release(&pm1);
	buf_release(&pm2);
	return ret < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* --list                                                              */

/* display_archive() */
static int do_list(struct meta_cmd *c, struct metaarchive_reader *in)
{
	struct meta m;
	struct buf b = BUF_INIT;
	int first = 1, r, ret = 0;

	/* bup has no branch for verbose < 0: nothing is even read. */
	if (c->verbose < 0)
		return 0;
	meta_init(&m);
	while ((r = metaarchive_next(in, &m)) > 0) {
		buf_reset(&b);
		if (r == 2) {
			/* bup dies on None here (AttributeError). */
			ret = error("empty metadata object in archive");
			break;
		}
		if (c->verbose > 1) {
			if (!first)
				buf_addch(&b, '\n');
			meta_detailed(&b, &m, META_F_ALL);
			buf_addch(&b, '\n');
			first = 0;
		} else if (c->verbose > 0) {
			metafmt_summary(&b, &m, m.path.data,
					METAFMT_CLASS_NONE, 0);
			buf_addch(&b, '\n');
		} else {
			if (!m.path.len) {
				fflush(stdout);
				cli_log("bup: no metadata path, but asked to "
					"only display path (increase "
					"verbosity?)");
				ret = -1;
				break;
			}
			buf_add(&b, m.path.data, m.path.len);
			buf_addch(&b, '\n');
		}
		fwrite(b.data, 1, b.len, stdout);
	}
	if (r < 0)
		ret = error("%s", err_last());
	meta_release(&m);
	buf_release(&b);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Extraction                                                          */

static int do_extract(struct meta_cmd *c, struct metaarchive_reader *in,
		      const char *what)
{
	struct metaarchive_extract_opts xo = { 0 };

	xo.mode = !strcmp(what, "--start-extract") ? METAARCHIVE_START :
		  !strcmp(what, "--finish-extract") ? METAARCHIVE_FINISH :
		  METAARCHIVE_BOTH;
	xo.verbose = c->verbose;
	xo.symlinks = c->symlinks;
	xo.numeric_ids = c->numeric_ids;
	xo.log = log_path;
	xo.warn = warn_cb;
	if (metaarchive_extract(in, &xo) < 0)
		return error("%s", err_last());
	return 0;
}

/* ------------------------------------------------------------------ */
/* --edit                                                              */

static const char *given(const struct opts *o, const char *name)
{
	const struct opt_value *v = opt_get(o, name);
	return v && v->count ? v->value : NULL;
}

static int do_edit(struct meta_cmd *c)
{
	struct opts *o = c->o;
	/* bup: "opt.set_X is not None", i.e. given, even as "" or "0" */
	const char *set_uid = given(o, "set-uid");
	const char *set_gid = given(o, "set-gid");
	const char *set_user = given(o, "set-user");
	const char *set_group = given(o, "set-group");
	int unset_user = 0, unset_group = 0, ret = 0;
	struct meta m;

	/* True if --unset-X was the last of --set-X / --unset-X. */
	for (size_t i = 0; i < o->nr_flags; i++) {
		const char *f = o->flags[i].flag;
		if (!strcmp(f, "set-user"))
			unset_user = 0;
		else if (!strcmp(f, "unset-user"))
			unset_user = 1;
		else if (!strcmp(f, "set-group"))
			unset_group = 0;
		else if (!strcmp(f, "unset-group"))
			unset_group = 1;
	}

	meta_init(&m);
	for (int i = 0; i < o->argc && !ret; i++) {
		struct metaarchive_reader in;
		int r;

		if (metaarchive_open(&in, o->argv[i]) < 0) {
			ret = error("%s", err_last());
			break;
		}
		while ((r = metaarchive_next(&in, &m)) == 1) {
			int64_t id;

			if (set_uid) {
				if (pypath_parse_int(set_uid, &id) < 0) {
					fflush(c->out);
					cli_usage_fatal(o, "uid must be an "
							"integer");
				}
				m.uid = id;
			}
			if (set_gid) {
				if (pypath_parse_int(set_gid, &id) < 0) {
					fflush(c->out);
					cli_usage_fatal(o, "gid must be an "
							"integer");
				}
				m.gid = id;
			}
			if (unset_user)
				buf_reset(&m.user);
			else if (set_user)
				set_str(&m.user, set_user, strlen(set_user));
			if (unset_group)
				buf_reset(&m.group);
			else if (set_group)
				set_str(&m.group, set_group,
					strlen(set_group));
			/* m.write(): include_path stays True for --edit */
			buf_reset(&c->enc);
			meta_encode(&c->enc, &m, 1);
			if (fwrite(c->enc.data, 1, c->enc.len, c->out) !=
			    c->enc.len) {
				ret = error("cannot write output: %s",
					    strerror(errno));
				break;
			}
		}
		if (r == 2)
			ret = error("empty metadata object in '%s'",
				    o->argv[i]);
		else if (r < 0)
			ret = error("%s", err_last());
		metaarchive_close(&in);
	}
	meta_release(&m);
	return ret;
}

/* ------------------------------------------------------------------ */

static int open_output(struct meta_cmd *c, const char *name)
{
	fflush(stdout);
	if (!name) {
		c->out = stdout;
		return 0;
	}
	c->out = fopen(name, "wb");
	c->out_name = name;
	if (!c->out)
		return error("cannot open '%s': %s", name, strerror(errno));
	return 0;
}

static int close_output(struct meta_cmd *c, int ret)
{
	if (!c->out || c->out == stdout)
		return ret;
	if (fclose(c->out) != 0 && !ret)
		ret = error("cannot write '%s': %s", c->out_name,
			    strerror(errno));
	c->out = NULL;
	return ret;
}

int cmd_meta(int argc, const char **argv)
{
	struct opts o;
	struct meta_cmd c;
	struct metaarchive_reader in;
	const char **av;
	const char *file;
	int actions, ret = 0, have_in = 0;

	/* bup parses ['--paths', '--symlinks', '--recurse'] + argv[1:] */
	av = xcalloc((size_t)argc + 4, sizeof(*av));
	av[0] = argv[0];
	av[1] = "--paths";
	av[2] = "--symlinks";
	av[3] = "--recurse";
	for (int i = 1; i < argc; i++)
		av[i + 3] = argv[i];

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	buf_init(&c.enc, 0);
	cli_parse_opts(&o, meta_optspec, argc + 3, av);
	c.o = &o;
	c.verbose = opt_count(&o, "verbose") - opt_count(&o, "quiet");
	c.recurse = opt_count(&o, "recurse");
	c.paths = opt_count(&o, "paths");
	c.symlinks = opt_count(&o, "symlinks");
	c.xdev = opt_count(&o, "xdev");
	c.numeric_ids = opt_count(&o, "numeric-ids");
	file = opt_str(&o, "file");
	if (file && !*file)
		file = NULL;
	if (file && !strcmp(file, "-"))
		file = NULL;

	actions = !!opt_count(&o, "create") + !!opt_count(&o, "list") +
		  !!opt_count(&o, "extract") +
		  !!opt_count(&o, "start-extract") +
		  !!opt_count(&o, "finish-extract") + !!opt_count(&o, "edit");
	if (actions > 1)
		cli_usage_fatal(&o, "bup: only one action permitted: "
				"--create --list --extract --edit");
	if (!actions)
		cli_usage_fatal(&o, "bup: no action specified");

	if (opt_count(&o, "create")) {
		if (o.argc < 1)
			cli_usage_fatal(&o, "no paths specified for create");
		ret = open_output(&c, file);
		if (!ret)
			ret = do_create(&c);
		ret = close_output(&c, ret);
	} else if (opt_count(&o, "edit")) {
		if (o.argc < 1)
			cli_usage_fatal(&o, "no paths specified for edit");
		ret = open_output(&c, file);
		if (!ret)
			ret = do_edit(&c);
		ret = close_output(&c, ret);
	} else {
		const char *what = opt_count(&o, "list") ? "--list" :
				   opt_count(&o, "start-extract") ?
				   "--start-extract" :
				   opt_count(&o, "finish-extract") ?
				   "--finish-extract" : "--extract";
		if (o.argc > 0)
			cli_usage_fatal(&o, "cannot specify paths for %s",
					what);
		ret = metaarchive_open(&in, file);
		have_in = !ret;
		if (ret)
			ret = error("%s", err_last());
		else if (opt_count(&o, "list"))
			ret = do_list(&c, &in);
		else
			ret = do_extract(&c, &in, what);
	}
	if (have_in)
		metaarchive_close(&in);
	buf_release(&c.enc);
	opt_release(&o);
	free(av);
	return cli_finish_counted(ret);
}
