/*
 * cbup split: hashsplit files or stdin into blobs and fanout trees
 * (FORMAT.md 3.3-3.5), optionally commit them under a branch (6.1).
 * Options, messages, output and exit codes are bup 0.33.7's
 * (lib/bup/cmd/split.py).
 *
 * The splitting is pipelines/splitter's; here: the options, the object
 * sink (pack writer, remote writer, or hash-only for --noop), the
 * commit, then the pack closed before the ref is updated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "remote/client.h"
#include "store/commit.h"
#include "util/err.h"
#include "chunk/hashsplit.h"
#include "store/odb.h"
#include "store/packwriter.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/tree.h"
#include "pipelines/splitter.h"

int cmd_split(int argc, const char **argv);

static const char optspec[] =
	"bup split [-t] [-c] [-n name] OPTIONS [--git-ids | filenames...]\n"
	"bup split -b OPTIONS [--git-ids | filenames...]\n"
	"bup split --copy OPTIONS [--git-ids | filenames...]\n"
	"bup split --noop [-b|-t] OPTIONS [--git-ids | filenames...]\n"
	"--\n"
	" Modes:\n"
	"b,blobs    output a series of blob ids.  Implies --fanout=0.\n"
	"t,tree     output a tree id\n"
	"c,commit   output a commit id\n"
	"n,name=    save the result under the given name\n"
	"noop       split the input, but throw away the result\n"
	"copy       split the input, copy it to stdout, don't save to repo\n"
	" Options:\n"
	"r,remote=  remote repository path\n"
	"d,date=    date for the commit (seconds since the epoch)\n"
	"q,quiet    don't print progress messages\n"
	"v,verbose  increase log output (can be used more than once)\n"
	"git-ids    read a list of git object ids from stdin and split their "
	"contents\n"
	"keep-boundaries  don't let one chunk span two input files\n"
	"bench      print benchmark timings to stderr\n"
	"max-pack-size=  maximum bytes in a single pack\n"
	"max-pack-objects=  maximum number of objects in a single pack\n"
	"fanout=    average number of blobs in a single tree\n"
	"bwlimit=   maximum bytes/sec to transmit to server\n"
	"#,compress=  set compression level to # (0-9, 9 is highest) [1]\n";

/* -b: one blob id a line */
static int print_blob(void *ctx, const struct oid *oid)
{
	char hex[OID_HEXSZ + 1];

	(void)ctx;
	oid_to_hex(oid, hex);
	hex[OID_HEXSZ] = '\n';
	if (fwrite(hex, 1, sizeof(hex), stdout) != sizeof(hex))
		return err_errno("write error");
	return 0;
}

/* --copy */
static int copy_out(void *ctx, const void *data, size_t len)
{
	(void)ctx;
	if (fwrite(data, 1, len, stdout) != len)
		return err_errno("write error");
	return 0;
}

/*
 * -vv: bup sets git.verbose, and its PackWriter._write() logs ">" on
 * stderr for each object it writes (not for those the repository or the
 * pack already has), local or remote alike.  This sink in front of the
 * writer asks the same question the writer asks before writing.
 */
struct verbose_sink {
	struct objsink sink;
	struct objsink *inner;
};

static int verbose_write(struct objsink *s, enum obj_type type,
			 const void *data, size_t len, struct oid *out)
{
	struct verbose_sink *v = (struct verbose_sink *)s;
	struct oid oid;

	oid_hash_object(&oid, type, data, len);
	if (!v->inner->exists || !v->inner->exists(v->inner, &oid))
		cli_log(">");
	return objsink_write(v->inner, type, data, len, out);
}

static int verbose_write_known(struct objsink *s, enum obj_type type,
			       const void *data, size_t len,
			       const struct oid *id)
{
	struct verbose_sink *v = (struct verbose_sink *)s;
	struct oid out;

	if (!v->inner->exists || !v->inner->exists(v->inner, id))
		cli_log(">");
	return objsink_write_known(v->inner, type, data, len, id, &out);
}

static int verbose_exists(struct objsink *s, const struct oid *oid)
{
	struct verbose_sink *v = (struct verbose_sink *)s;

	return v->inner->exists && v->inner->exists(v->inner, oid);
}

static void verbose_sink_init(struct verbose_sink *v, struct objsink *inner)
{
	v->sink.write = verbose_write;
	v->sink.exists = verbose_exists;
	v->sink.write_known = verbose_write_known;
	v->inner = inner;
}

/*
 * bup's readfile_iter reports before every read (so "0 kbytes" first,
 * and once more before the read that finds the end) the bytes read so
 * far.
 */
static void progress(void *ctx, int nfile, uint64_t nread)
{
	(void)ctx;
	if (nfile > 0)
		cli_progress("Splitting: file #%d, %llu kbytes\r", nfile + 1,
			     (unsigned long long)(nread / 1024));
	else
		cli_progress("Splitting: %llu kbytes\r",
			     (unsigned long long)(nread / 1024));
}

static int read_line(FILE *f, struct buf *line)
{
	int ch;

	buf_reset(line);
	while ((ch = getc(f)) != EOF && ch != '\n')
		buf_addch(line, ch);
	return ch == EOF && !line->len ? 0 : 1;
}

static char *trim_ws(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' ||
	       *s == '\f')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\v' || e[-1] == '\f'))
		*--e = '\0';
	return s;
}

static long long num_opt(struct opts *o, const char *flag)
{
	long long v = 0;

	if (!opt_count(o, flag))
		return 0;
	if (opt_int(o, flag, &v, 1) < 0)
		cli_usage_fatal(o, "invalid number for --%s: '%s'", flag,
				opt_str(o, flag));
	return v;
}

int cmd_split(int argc, const char **argv)
{
	struct opts o = { 0 };
	int blobs, tree_mode, commit_mode, noop, copy, git_ids, verbose;
	int keep, bench, writing, ret = 0, code = 0;
	const char *name = NULL;
	long long max_pack_size, max_pack_objects, fanout;
	double date;
	struct repo *repo = NULL;
	struct packwriter *pw = NULL;
	struct client *cli = NULL;          /* -r or reverse mode */
	struct client_writer *cw = NULL;
	const char *remote = NULL;
	int reverse = getenv("BUP_SERVER_REVERSE") != NULL;
	struct objsink hash_sink, *sink = NULL;
	struct verbose_sink vsink;
	long long bwlimit;
	struct splitter_opts so = { 0 };
	struct splitter sp;
	int have_splitter = 0;
	char *refname = NULL;
	struct oid oldref, tree_oid, commit_oid;
	int have_old = 0, have_commit = 0;
	double start = util_now();
	struct buf line = BUF_INIT;

	cli_parse_opts(&o, optspec, argc, argv);
	blobs = opt_count(&o, "b") > 0;
	tree_mode = opt_count(&o, "t") > 0;
	commit_mode = opt_count(&o, "c") > 0;
	if (opt_count(&o, "n") > 0 && opt_str(&o, "n") && *opt_str(&o, "n"))
		name = opt_str(&o, "n");
	noop = opt_count(&o, "noop") > 0;
	copy = opt_count(&o, "copy") > 0;
	git_ids = opt_count(&o, "git-ids") > 0;
	keep = opt_count(&o, "keep-boundaries") > 0;
	bench = opt_count(&o, "bench") > 0;
	verbose = opt_count(&o, "v");

	if (!(blobs || tree_mode || commit_mode || name || noop || copy))
		cli_usage_fatal(&o, "use one or more of -b, -t, -c, -n, "
				"--noop, --copy");
	if (copy && (blobs || tree_mode))
		cli_usage_fatal(&o, "--copy is incompatible with -b, -t");
	if ((noop || copy) && (commit_mode || name))
		cli_usage_fatal(&o, "--noop and --copy are incompatible with "
				"-c, -n");
	if (blobs && (tree_mode || commit_mode || name))
		cli_usage_fatal(&o, "-b is incompatible with -t, -c, -n");
	if (o.argc && git_ids)
		cli_usage_fatal(&o, "don't provide filenames when using "
				"--git-ids");
	if (verbose >= 2)
		bench = 1;
	max_pack_size = num_opt(&o, "max-pack-size");
	max_pack_objects = num_opt(&o, "max-pack-objects");
	fanout = num_opt(&o, "fanout");
	/* bup: client.bwlimit, which only its remote pack writer obeys */
	bwlimit = num_opt(&o, "bwlimit");
	if (opt_count(&o, "d") && opt_str(&o, "d") && *opt_str(&o, "d")) {
		date = cli_parse_date(&o, opt_str(&o, "d"));
	} else {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		date = (double)tv.tv_sec + tv.tv_usec / 1e6;
	}
	if (name && !refs_valid_save_name(name)) {
		struct buf m = BUF_INIT;
		/* bup: "'%r' is not a valid branch name." of the bytes */
		cli_bytes_repr(&m, name);
		cli_usage_fatal(&o, "'%s' is not a valid branch name.", m.data);
	}
	if (opt_count(&o, "r") && opt_str(&o, "r") && *opt_str(&o, "r"))
		remote = opt_str(&o, "r");
	if (reverse && remote)
		cli_usage_fatal(&o, "don't use -r in reverse mode; it's "
				"automatic");
	/* on--server gives the command /dev/null as its stdin */
	if (reverse && (!o.argc || git_ids))
		cli_usage_fatal(&o, "\"bup on ... split\" does not support "
				"reading from standard input");

	writing = !(noop || copy);
	if (writing || git_ids)
		repo = cli_open_repo();
	if (writing && !remote && !reverse)
		cli_lock_writer(repo);
	/* FORMAT.md 7: objects and refs go to the server */
	if (writing && (remote || reverse) &&
	    (ret = cli_client_open(&cli, remote, repo->path, 0)) < 0)
		goto fail;

	if (name && writing) {
		refname = xstrfmt("refs/heads/%s", name);
		ret = cli_read_branch(repo, cli, refname, &oldref, &have_old);
		if (ret)
			goto fail;
	}

	if (writing) {
		struct packwriter_opts po = { 0 };
		int cmd_level = -1;

		/* given at all: -0 is level 0 (opt_count() is its truth) */
		if (opt_get(&o, "#")->count) {
			long long lvl;
			if (opt_int(&o, "#", &lvl, 0) < 0)
				cli_usage_fatal(&o, "invalid compression level");
			cmd_level = (int)lvl;
		}
		packwriter_opts_from_repo(&po, repo, cmd_level);
		if (max_pack_size) {
			po.max_size = (uint64_t)max_pack_size;
			po.max_objects = MAX(1, po.max_size / 5000);
		}
		if (max_pack_objects)
			po.max_objects = (uint64_t)max_pack_objects;
		if ((ret = cli_open_writer(&pw, &cw, &sink, repo, cli, &po,
					   bwlimit > 0 ? (uint64_t)bwlimit : 0)))
			goto fail;
		if (verbose >= 2) {
			verbose_sink_init(&vsink, sink);
			sink = &vsink.sink;
		}
	} else if (blobs || tree_mode) {
		objsink_hash_only_init(&hash_sink);
		sink = &hash_sink;
	}

	so.sink = sink;
	so.tree = name ? SPLITTER_DATA_TREE :
		  tree_mode || commit_mode ? SPLITTER_TREE : SPLITTER_NO_TREE;
	so.fanout = (int)fanout;
	so.blobs = blobs;
	so.keep_boundaries = keep;
	so.threads = cli_threads();
	so.on_blob = blobs ? print_blob : NULL;
	so.on_copy = copy ? copy_out : NULL;
	so.progress = progress;
	splitter_init(&sp, &so);
	have_splitter = 1;
	if (git_ids) {
		for (int nfile = 0; !ret && read_line(stdin, &line); nfile++)
			ret = splitter_object(&sp, repo, trim_ws(line.data),
					      nfile);
	} else if (!o.argc) {
		ret = splitter_fd(&sp, 0, 0);
	} else {
		for (int i = 0; i < o.argc && !ret; i++) {
			int fd = open(o.argv[i], O_RDONLY);

			if (fd < 0) {
				ret = err_errno("cannot open '%s'", o.argv[i]);
				break;
			}
			ret = splitter_fd(&sp, fd, i);
			close(fd);
		}
	}
	if (!ret)
		ret = splitter_finish(&sp, &tree_oid);
	if (ret)
		goto fail;
	if (verbose)
		cli_log("\n");
	if (tree_mode)
		printf("%s\n", oid_hex(&tree_oid));

	if (commit_mode || name) {
		struct buf msg = BUF_INIT, ident = BUF_INIT, text = BUF_INIT;
		int64_t secs = (int64_t)date;   /* "%d" % float truncates */

		buf_addstr(&msg, "bup split\n\nGenerated by command:\n");
		cli_full_argv_repr(&msg);
		buf_addch(&msg, '\n');
		commit_default_ident(&ident);
		commit_format(&text, &tree_oid, have_old ? &oldref : NULL,
			      ident.data, secs, commit_local_tz(secs),
			      msg.data, msg.len);
		ret = objsink_write(sink, OBJ_COMMIT, text.data, text.len,
				    &commit_oid);
		buf_release(&msg);
		buf_release(&ident);
		buf_release(&text);
		if (ret)
			goto fail;
		have_commit = 1;
		if (commit_mode)
			printf("%s\n", oid_hex(&commit_oid));
	}

	if ((ret = cli_finish_writer(&pw, &cw, &cli, repo,
				     have_commit ? refname : NULL, &commit_oid,
				     have_old ? &oldref : NULL)))
		goto fail;
	if (bench) {
		double secs = util_now() - start;
		cli_log("bup: %.2f kbytes in %.2f secs = %.2f kbytes/sec\n",
			sp.total / 1024.0, secs, sp.total / 1024.0 / secs);
	}
	goto out;

fail:
	code = cli_error_last();
out:
	cli_abort_writer(pw, cw, cli);
	if (have_splitter)
		splitter_release(&sp);
	buf_release(&line);
	free(refname);
	if (repo)
		repo_free(repo);
	opt_release(&o);
	return code;
}
