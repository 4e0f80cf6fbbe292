/*
 * cbup gc: bup gc (lib/bup/cmd/gc.py and lib/bup/gc.py in 0.33.7) with
 * its options, verbose lines and exit codes.  The work is src/lib/pipelines/gc.c.
 *
 * Where cbup differs: it is safe beside cbup's writers (FORMAT.md 14),
 * so --unsafe is accepted and not required; live objects are copied as
 * they are stored (no inflate and deflate) unless -# asks for a level;
 * midx and bloom are rebuilt at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "pipelines/gc.h"
#include "store/repo.h"
#include "pipelines/validate.h"

int cmd_gc(int argc, const char **argv);

static const char optspec[] =
	"bup gc [options...]\n"
	"--\n"
	"v,verbose      increase log output (can be used more than once)\n"
	"threshold=     only rewrite a packfile if it's over this percent "
	"garbage [10]\n"
	"#,compress=    set compression level to # (0-9, 9 is highest) [1]\n"
	"ignore-missing don't halt halt for missing objects\n"
	"unsafe         use the command even though it may be DANGEROUS\n";

struct gc_cmd {
	int verbose;
	struct repo *r;
};

static void gc_log_line(void *ctx, const char *line)
{
	(void)ctx;
	cli_log("%s", line);
}

static void gc_progress_line(void *ctx, const char *line)
{
	size_t n = strlen(line);

	(void)ctx;
	if (n && line[n - 1] == '\n')
		cli_progress_done("%s", line);
	else
		cli_progress("%s", line);
}

static void gc_item(void *ctx, const char *refname,
		    const struct validate_item *it, uint64_t live,
		    uint64_t existing)
{
	struct gc_cmd *c = ctx;

	if (it->missing)
		cli_report_missing(refname, it);
	else if (c->verbose)
		cli_report_live_item(refname, it, live, existing, c->verbose);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* bup's lines, with its mix of path_msg() and bytes reprs. */
static void gc_pack(void *ctx, enum gc_pack_event ev, const char *path,
		    double live)
{
	struct gc_cmd *c = ctx;
	struct buf b = BUF_INIT;
	char *rel;

	if (!c->verbose)
		return;
	switch (ev) {
	case GC_DELETING:
		rel = cli_repo_rel(c->r, base_name(path));
		cli_log("deleting %s\n", rel);
		free(rel);
		break;
	case GC_KEEPING:
		rel = cli_repo_rel(c->r, base_name(path));
		cli_bytes_repr(&b, rel);
		cli_log("keeping %s (%d%% live)\n", b.data, (int)(live * 100));
		free(rel);
		break;
	case GC_REWRITING:
		cli_bytes_repr(&b, base_name(path));
		cli_log("rewriting %s (%.2f%% live)\n", b.data, live * 100);
		break;
	case GC_CREATED:
		cli_path_msg(&b, base_name(path));
		cli_log("created %s\n", b.data);
		break;
	case GC_REMOVING:
		cli_path_msg(&b, base_name(path));
		cli_log("removing %s\n", b.data);
		break;
	}
	buf_release(&b);
}

static void gc_waiting(void *ctx)
{
	(void)ctx;
	cli_log("gc: waiting for the running save, get, split or server "
		"to finish\n");
}

/* bup: int(s), as Python reads it (sign, digits, blanks around). */
static int parse_threshold(const char *s, int *out)
{
	char *end;
	long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return -1;
	v = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end || end == s || v < 0 || v > 100)
		return -1;
	*out = (int)v;
	return 0;
}

int cli_gc_run(struct repo *r, struct gc_opts *go)
{
	struct gc_cmd c = { 0 };
	struct gc_stats st;
	int ret;

	c.verbose = go->verbose;
	c.r = r;
	go->threads = cli_threads();
	go->log = gc_log_line;
	go->progress = gc_progress_line;
	go->item = gc_item;
	go->pack = gc_pack;
	go->waiting = gc_waiting;
	go->ctx = &c;
	memset(&st, 0, sizeof(st));
	ret = gc_run(r, go, &st);
	if (ret == ERR_NOTFOUND && !go->ignore_missing &&
	    !oid_is_zero(&st.missing_oid)) {
		/* bup: log('bup: missing object %r \n'); exit(1) */
		cli_log("bup: missing object '%s' \n",
			oid_hex(&st.missing_oid));
		ret = 1;
	} else if (ret) {
		error("%s", err_last());
		if (st.cleared)
			cli_log("WARNING: Collection interrupted.  Run gc "
				"(again) to completion before\nWARNING: "
				"adding any new data to the repository (e.g. "
				"via save or get).\n");
		ret = 1;
	} else if (st.missing) {
		/* bup's die_if_errors() after note_error() */
		cli_log("warning: %llu errors encountered\n",
			(unsigned long long)st.missing);
		ret = 1;
	}
	return ret;
}

int cmd_gc(int argc, const char **argv)
{
	struct opts o;
	struct gc_opts go = GC_OPTS_INIT;
	struct repo *r;
	int ret;

	memset(&o, 0, sizeof(o));
	cli_parse_opts(&o, optspec, argc, argv);
	if (o.argc)
		cli_usage_fatal(&o, "no positional parameters expected");
	if (parse_threshold(opt_str(&o, "threshold"), &go.threshold) < 0)
		cli_usage_fatal(&o, "threshold must be an integer percentage "
				"value");
	if (opt_get(&o, "#")->count) {
		long long lvl;

		if (opt_int(&o, "#", &lvl, 0) < 0 || lvl < 0 || lvl > 9)
			cli_usage_fatal(&o, "invalid compression level");
		go.level = (int)lvl;
	}
	go.verbose = opt_count(&o, "verbose");
	go.ignore_missing = opt_count(&o, "ignore-missing");
	r = cli_open_repo();
	ret = cli_gc_run(r, &go);
	repo_free(r);
	opt_release(&o);
	return ret;
}
