/*
 * cbup get: copy branches, saves, commits, trees, blobs and tags from a
 * source repository (-s, default BUP_DIR) into a destination repository
 * (BUP_DIR, or -r HOST:PATH through the server protocol, FORMAT.md 7),
 * by the methods of bup 0.33.7's lib/bup/cmd/get.py: --ff, --append,
 * --pick, --force-pick, --new-tag, --replace and --unnamed.  Option
 * parsing, usage text, messages, output and exit codes are bup's.
 *
 * bup get parses its own arguments (argparse, not options.py); this
 * file does the same, opens both repositories and the destination's
 * writer, and runs the transfer (pipelines/transfer.h: resolution, the
 * copy walk, new commits, ref updates), printing what it reports.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipelines/transfer.h"
#include "remote/client.h"
#include "store/packwriter.h"
#include "store/repo.h"
#include "util/err.h"
#include "util/pypath.h"
#include "vfs/vfs.h"

int cmd_get(int argc, const char **argv);

/* ---- usage ------------------------------------------------------------ */

/*
 * bup get builds its usage text by hand (not from an optspec): each
 * piece goes through textwrap.fill at the terminal width.  The preamble
 * keeps the indentation of bup's source once its newlines become spaces.
 */
static const char usage_line[] =
	"usage: bup get [-s source] [-r remote] (<--ff|--append|...> REF "
	"[DEST])...";
static const char preamble[] =
	"Transfer data from a source repository to a destination repository\n"
	"    according to the methods specified (--ff, --ff:, --append, etc.).\n"
	"    Both repositories default to BUP_DIR.  A remote destination may be\n"
	"    specified with -r, and data may be pulled from a remote repository\n"
	"    with the related \"bup on HOST get ...\" command.";

static const char *const usage_groups[][2] = {
	{ NULL, "optional arguments:" },
	{ "-h, --help", "show this help message and exit" },
	{ "-v, --verbose",
	  "increase log output (can be specified more than once)" },
	{ "-q, --quiet", "don't show progress meter" },
	{ "-s SOURCE, --source SOURCE",
	  "path to the source repository (defaults to BUP_DIR)" },
	{ "-r REMOTE, --remote REMOTE",
	  "hostname:/path/to/repo of remote destination repository" },
	{ "-t --print-trees", "output a tree id for each ref set" },
	{ "-c, --print-commits", "output a commit id for each ref set" },
	{ "--print-tags", "output an id for each tag" },
	{ "--bwlimit BWLIMIT", "maximum bytes/sec to transmit to server" },
	{ "-0, -1, -2, -3, -4, -5, -6, -7, -8, -9, --compress LEVEL",
	  "set compression LEVEL (default: 1)" },
	{ NULL, "transfer methods:" },
	{ "--ff REF, --ff: REF DEST",
	  "fast-forward dest REF (or DEST) to match source REF" },
	{ "--append REF, --append: REF DEST",
	  "append REF (treeish or committish) to dest REF (or DEST)" },
	{ "--pick REF, --pick: REF DEST",
	  "append single source REF commit to dest REF (or DEST)" },
	{ "--force-pick REF, --force-pick: REF DEST",
	  "--pick, overwriting REF (or DEST)" },
	{ "--new-tag REF, --new-tag: REF DEST",
	  "tag source ref REF as REF (or DEST) in dest unless it already "
	  "exists" },
	{ "--replace, --replace: REF DEST",
	  "overwrite REF (or DEST) in dest with source REF" },
	{ "--unnamed REF",
	  "fetch REF anonymously (without destination ref)" },
};

static void usage_text(struct buf *out)
{
	long w = opt_tty_width();
	char *pre = xstrdup(preamble);

	for (char *p = pre; *p; p++)
		if (*p == '\n')
			*p = ' ';
	opt_textwrap(out, usage_line, w, "", "  ");
	buf_addstr(out, "\n\n");
	opt_textwrap(out, pre, w, "", "");
	buf_addch(out, '\n');
	for (size_t i = 0; i < ARRAY_SIZE(usage_groups); i++) {
		if (!usage_groups[i][0]) {
			buf_addf(out, "\n%s\n", usage_groups[i][1]);
			continue;
		}
		opt_textwrap(out, usage_groups[i][0], w, "  ", "    ");
		buf_addch(out, '\n');
		opt_textwrap(out, usage_groups[i][1], w, "      ", "      ");
		buf_addch(out, '\n');
	}
	free(pre);
}

/*
 * bup's misuse() (the usage, then "error: MSG") when usage is set, else
 * "error: MSG"; then the cleanups and exit 1.  An empty MSG: no line.
 */
static NORETURN PRINTF(2, 3) void quit(int usage, const char *fmt, ...)
{
	struct buf u = BUF_INIT, m = BUF_INIT;
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	if (usage)
		usage_text(&u);
	if (m.len)
		buf_addf(&u, "%serror: %s\n", usage ? "\n" : "", m.data);
	write_full(2, u.data, u.len);
	buf_release(&u);
	buf_release(&m);
	cli_run_cleanups();
	exit(1);
}

struct get_ctx {
	int verbose, print_commits, print_trees, print_tags;
	int64_t compress;
	const char *source, *remote;
	struct transfer_spec *specs;
	size_t nr_specs, alloc_specs;
	struct transfer_opts to;
	struct repo *repo;       /* BUP_DIR: the local destination */
	struct transfer_dest dst;
	struct transfer_src src;
};

/*
 * bup's "-xyz": "-x -y -z" in place of the argument; each "-x" is in a
 * static table, as long-lived as argv.
 */
static void expand_short(const char ***rem, size_t *nr, size_t *alloc,
			 size_t at)
{
	static char flags[256][3];
	const char *arg = (*rem)[at];
	size_t n = strlen(arg) - 1;

	ALLOC_GROW(*rem, *nr + n - 1, *alloc);
	memmove(*rem + at + n, *rem + at + 1,
		(*nr - at - 1) * sizeof(**rem));
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)arg[1 + k];
		flags[c][0] = '-';
		flags[c][1] = (char)c;
		(*rem)[at + k] = flags[c];
	}
	*nr += n - 1;
}

static void parse_args(struct get_ctx *g, int argc, const char **argv)
{
	static const char *const one[] = { "--ff", "--append", "--pick",
		"--force-pick", "--new-tag", "--replace", "--unnamed" };
	size_t nr = 0, alloc = 0, i = 0;
	const char **rem = NULL;

	for (int k = 1; k < argc; k++) {
		ALLOC_GROW(rem, nr + 1, alloc);
		rem[nr++] = argv[k];
	}
	g->compress = 1;
	while (i < nr) {
		const char *arg = rem[i];
		size_t need = 0, m;
		const char **vals = rem + i + 1;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			struct buf u = BUF_INIT;
			usage_text(&u);
			fwrite(u.data, 1, u.len, stdout);
			buf_release(&u);
			exit(cli_finish_stdout(0));
		}
		for (m = 0; m < ARRAY_SIZE(one); m++) {
			size_t l = strlen(one[m]);
			if (!strncmp(arg, one[m], l) &&
			    (!arg[l] || (!strcmp(arg + l, ":") &&
					 m != TRANSFER_UNNAMED)))
				break;
		}
		if (m < ARRAY_SIZE(one))
			need = arg[strlen(one[m])] ? 2 : 1;
		else if (!strcmp(arg, "-s") || !strcmp(arg, "--source") ||
			 !strcmp(arg, "-r") || !strcmp(arg, "--remote") ||
			 !strcmp(arg, "--compress") ||
			 !strcmp(arg, "--bwlimit"))
			need = 1;
		if (need && nr - i - 1 < need)
			quit(1, "%s argument requires %zu value%s", arg, need,
			     need == 1 ? "" : "s");

		if (m < ARRAY_SIZE(one)) {
			/* bup tests the destination's truth: "" is none */
			struct transfer_spec s = {
				(enum transfer_method)m, vals[0],
				need == 2 && *vals[1] ? vals[1] : NULL
			};
			ALLOC_GROW(g->specs, g->nr_specs + 1, g->alloc_specs);
			g->specs[g->nr_specs++] = s;
		} else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
			g->verbose++;
		} else if (!strcmp(arg, "--ignore-missing")) {
			g->to.ignore_missing = 1;
		} else if (!strcmp(arg, "--no-ignore-missing")) {
			g->to.ignore_missing = 0;
		} else if (!strcmp(arg, "-s") || !strcmp(arg, "--source")) {
			g->source = vals[0];
		} else if (!strcmp(arg, "-r") || !strcmp(arg, "--remote")) {
			g->remote = vals[0];
		} else if (!strcmp(arg, "-c") ||
			   !strcmp(arg, "--print-commits")) {
			g->print_commits = 1;
		} else if (!strcmp(arg, "-t") ||
			   !strcmp(arg, "--print-trees")) {
			g->print_trees = 1;
		} else if (!strcmp(arg, "--print-tags")) {
			g->print_tags = 1;
		} else if (arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9' &&
			   !arg[2]) {
			g->compress = arg[1] - '0';
		} else if (!strcmp(arg, "--compress") ||
			   !strcmp(arg, "--bwlimit")) {
			int64_t bw;
			/* the client has no bandwidth limit; checked only */
			if (pypath_parse_int(vals[0], arg[2] == 'c' ?
					     &g->compress : &bw) < 0)
				quit(0, "invalid literal for int() with base "
				     "10: '%s'", vals[0]);
		} else if (arg[0] == '-' && strlen(arg) > 2) {
			/*
			 * bup tries "-xyz" as "-x -y -z" last, so that a
			 * value may start with '-'.  (In bup even "--foo"
			 * goes this way, and ends as "--": a misuse.)
			 */
			expand_short(&rem, &nr, &alloc, i);
			continue;
		} else {
			quit(1, "%s", "");
		}
		i += 1 + need;
	}
	free(rem);
	if (g->to.ignore_missing)
		for (size_t k = 0; k < g->nr_specs; k++)
			if (g->specs[k].method != TRANSFER_UNNAMED)
				quit(1, "currently only --unnamed allows "
				     "--ignore-missing");
}

/* Run by die()/quit() while a pack or a connection is open. */
static void abort_transfer(void *ctx)
{
	transfer_dest_abort(&((struct get_ctx *)ctx)->dst);
}

static int open_writer(struct get_ctx *g)
{
	struct packwriter_opts po = { 0 };

	packwriter_opts_from_repo(&po, g->repo, (int)g->compress);
	return cli_open_writer(&g->dst.pw, &g->dst.cw, NULL, g->repo,
			       g->dst.cli, &po, 0);
}

/* ---- what the transfer reports ----------------------------------------- */

static void on_note(void *data, const char *msg)
{
	(void)data;
	cli_log("%s\n", msg);
}

/* bup's log_item() */
static void on_item(void *data, const struct transfer_item *it)
{
	struct get_ctx *g = data;

	if (it->tag && g->print_tags)
		printf("%s\n", oid_hex(it->tag));
	if (it->tree && g->print_trees)
		printf("%s\n", oid_hex(it->tree));
	if (it->commit && g->print_commits)
		printf("%s\n", oid_hex(it->commit));
	if (g->verbose) {
		struct buf m = BUF_INIT;
		cli_path_msg(&m, it->src);
		if (it->dirlike)
			buf_addch(&m, '/');
		fflush(stdout);
		cli_log("%s\n", m.data);
		buf_release(&m);
	}
}

/* PREFIX, the ref's repr, then the rest, on stderr as bup's log() */
static PRINTF(3, 4) void log_ref(const char *prefix, const char *ref,
				 const char *fmt, ...)
{
	struct buf m = BUF_INIT;
	va_list ap;

	buf_addstr(&m, prefix);
	cli_bytes_repr(&m, ref);
	va_start(ap, fmt);
	buf_vaddf(&m, fmt, ap);
	va_end(ap);
	fflush(stdout);
	write_full(2, m.data, m.len);
	buf_release(&m);
}

static void on_ref_error(void *data, const char *ref, const char *msg)
{
	(void)data;
	/* bup: note_error */
	log_ref("unable to update ref ", ref, ": %s\n", msg);
}

static void on_ref_updated(void *data, const char *ref,
			   const struct oid *old, const struct oid *new)
{
	struct get_ctx *g = data;
	char hex[OID_HEXSZ + 1];

	if (g->verbose && old)
		log_ref("updated ", ref, " (b'%s' -> b'%s')\n",
			oid_to_hex(old, hex), oid_hex(new));
	else if (g->verbose)
		log_ref("updated ", ref, " (b'%s')\n", oid_hex(new));
}

int cmd_get(int argc, const char **argv)
{
	struct get_ctx g = { 0 };
	struct buf msg = BUF_INIT;
	int reverse = getenv("BUP_SERVER_REVERSE") != NULL;
	int ret = 0, code = 0, errors = 0, misuse_err = 0;
	char *src_path;

	parse_args(&g, argc, argv);
	g.repo = cli_open_repo();
	g.dst.repo = g.repo;
	if (reverse && g.remote)
		quit(1, "don't use -r in reverse mode; it's automatic");
	if (g.compress < 0 || g.compress > 9)
		quit(0, "bad compression level %" PRId64, g.compress);
	if (!g.remote && !reverse)
		cli_lock_writer(g.repo);

	cli_atexit(abort_transfer, &g);
	if ((g.remote || reverse) &&
	    (ret = cli_client_open(&g.dst.cli, g.remote, g.repo->path, 0)) < 0)
		goto fail;
	if (!g.dst.cli && (ret = vfs_new(&g.dst.vfs, g.repo)) < 0)
		goto fail;

	src_path = g.source ? xstrdup(g.source) : repo_default_path();
	ret = repo_open(&g.src.repo, src_path);
	if (ret < 0) {
		/* bup fails at the first look into the source, as git does */
		if (g.nr_specs) {
			fflush(stdout);
			fprintf(stderr, "fatal: not a git repository: '%s'\n",
				src_path);
			free(src_path);
			code = 1;
			goto out;
		}
		free(src_path);
		ret = 0;
		goto done;
	}
	free(src_path);
	if ((ret = transfer_src_init(&g.src)) < 0)
		goto fail;
	if ((ret = open_writer(&g)) < 0)
		goto fail;

	buf_addstr(&msg, "bup save\n\nGenerated by command:\n");
	cli_full_argv_repr(&msg);
	buf_addch(&msg, '\n');
	g.to = (struct transfer_opts){ g.specs, g.nr_specs,
		g.to.ignore_missing, msg.data, on_note, on_item, on_ref_error,
		on_ref_updated, &g };
	ret = transfer_run(&g.dst, &g.src, &g.to, &misuse_err);
	if (ret < 0 && misuse_err)
		quit(1, "%s", err_last());
	if (ret < 0)
		goto fail;
	errors = ret;
	ret = 0;
done:
	if (g.dst.cli) {
		ret = client_close(g.dst.cli);
		g.dst.cli = NULL;
		if (ret < 0)
			goto fail;
	}
	code = cli_saving_errors(errors);
	goto out;

fail:
	code = cli_error_last();
out:
	abort_transfer(&g);
	cli_atexit_remove(abort_transfer, &g);
	buf_release(&msg);
	transfer_src_release(&g.src);
	vfs_free(g.dst.vfs);
	repo_free(g.repo);
	free(g.specs);
	return code;
}
