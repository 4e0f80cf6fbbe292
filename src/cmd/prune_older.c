/*
 * bup prune-older --unsafe [--keep-KIND-for PERIOD...] [BRANCH...]
 *
 * bup 0.33.7's lib/bup/cmd/prune_older.py: classify each branch's saves
 * (prune.h), then either print the verdicts (--pretend: "+ NAME" kept,
 * "- NAME" dropped, in rev-list order) or remove the dropped saves as
 * `bup rm` would (cli_rm_paths(), rewrite.h), by their vfs names, and
 * collect garbage (gc.h) unless --no-gc.  Options, messages and exit
 * codes are bup's, including its crashes on bad input (exit 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "pipelines/gc.h"
#include "store/odb.h"
#include "pipelines/prune.h"
#include "util/pypath.h"
#include "store/refs.h"
#include "store/repo.h"
#include "store/revwalk.h"

static const char optspec[] =
	"bup prune-older [options...] [BRANCH...]\n"
	"--\n"
	"keep-all-for=       retain all saves within the PERIOD\n"
	"keep-dailies-for=   retain the newest save per day within the PERIOD\n"
	"keep-monthlies-for= retain the newest save per month within the PERIOD\n"
	"keep-yearlies-for=  retain the newest save per year within the PERIOD\n"
	"wrt=                end all periods at this number of seconds since the epoch\n"
	"pretend       don't prune, just report intended actions to standard output\n"
	"gc            collect garbage after removals [1]\n"
	"gc-threshold= only rewrite a packfile if it's over this percent garbage [10]\n"
	"#,compress=   set compression level to # (0-9, 9 is highest) [1]\n"
	"v,verbose     increase log output (can be used more than once)\n"
	"unsafe        use the command even though it may be DANGEROUS\n";

static const char *const keep_opt[PRUNE_NR] = {
	"keep-all-for", "keep-dailies-for", "keep-monthlies-for",
	"keep-yearlies-for",
};

/* Where bup dies with a Python exception: its last line, exit 1. */
static NORETURN void py_crash(const char *line)
{
	fflush(stdout);
	fprintf(stderr, "%s\n", line);
	exit(1);
}

/*
 * Python's UnicodeEncodeError for extent.encode('ascii') of an argument
 * decoded with surrogateescape: the first character that is not ASCII,
 * counted in characters.
 */
static NORETURN void ascii_crash(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t pos = 0;
	uint32_t cp;
	struct buf m = BUF_INIT;

	while (*p < 0x80) {
		p++;
		pos++;
	}
	buf_addstr(&m, "UnicodeEncodeError: 'ascii' codec can't encode "
		   "character '");
	/* surrogateescape: a byte that starts no UTF-8 is U+DC80..DCFF */
	if (!pypath_utf8_decode(p, strlen((const char *)p), &cp))
		cp = 0xdc00 | *p;
	if (cp < 0x100)
		buf_addf(&m, "\\x%02x", cp);
	else if (cp < 0x10000)
		buf_addf(&m, "\\u%04x", cp);
	else
		buf_addf(&m, "\\U%08x", cp);
	buf_addf(&m, "' in position %zu: ordinal not in range(128)", pos);
	py_crash(m.data);
}

/*
 * bup's log lines for -v: "keeping KIND since DATE", or, for forever,
 * "keeping all KIND" without a newline (bup's).  localtime() of a start
 * out of time_t's range is an OverflowError in bup, of a year that
 * does not fit struct tm an OSError (EOVERFLOW).
 */
static void log_start(enum prune_kind k, const struct prune_start *s)
{
	struct tm tm;
	time_t t;
	char when[64];

	if (!s->set)
		return;
	if (s->neg_inf) {
		cli_log("keeping all %s", prune_kind_name[k]);
		return;
	}
	if (s->utc < INT64_MIN || s->utc > INT64_MAX)
		py_crash("OverflowError: timestamp out of range for platform "
			 "time_t");
	t = (time_t)s->utc;
	if (!localtime_r(&t, &tm))
		py_crash("OSError: [Errno 75] Value too large for defined "
			 "data type");
	strftime(when, sizeof(when), "%Y-%m-%d-%H%M%S", &tm);
	cli_log("keeping %s since %s\n", prune_kind_name[k], when);
}

struct branch {
	char *name;          /* without refs/heads/ */
	struct oid oid;
};

struct branch_list {
	struct branch *b;
	size_t nr, alloc;
	int npat;
	const char **pat;
};

/*
 * bup lists branches with `git show-ref --heads -- refs/heads/NAME...`:
 * a pattern matches a ref it equals or that ends in "/" + pattern, each
 * ref listed once, in ref order.  No pattern: every branch.
 */
static int ref_matches(const char *ref, const char *pat)
{
	size_t rl = strlen(ref), pl = strlen(pat);

	if (pl > rl || memcmp(ref + rl - pl, pat, pl))
		return 0;
	return pl == rl || ref[rl - pl - 1] == '/';
}

static int collect_branch(void *ctx, const char *refname,
			  const struct oid *oid)
{
	struct branch_list *l = ctx;
	int keep = !l->npat;

	for (int i = 0; i < l->npat && !keep; i++)
		keep = ref_matches(refname, l->pat[i]);
	if (!keep)
		return 0;
	ALLOC_GROW(l->b, l->nr + 1, l->alloc);
	l->b[l->nr].name = xstrdup(refname + strlen("refs/heads/"));
	l->b[l->nr++].oid = *oid;
	return 0;
}

/* bup's save_name(): BRANCH/ + the local author time. */
static int save_name(struct buf *out, const char *branch, int64_t utc)
{
	time_t t = (time_t)utc;
	struct tm tm;
	char when[64];

	if (!localtime_r(&t, &tm))
		return -1;
	strftime(when, sizeof(when), "%Y-%m-%d-%H%M%S", &tm);
	buf_addf(out, "%s/%s", branch, when);
	return 0;
}

/*
 * bup's bup_gc(threshold, compression, verbosity), the same run and
 * lines as `cbup gc` (cli_gc_run()).  As cbup gc, live objects are
 * copied as stored unless -# or --compress asks for a level.  Returns
 * the exit code.
 */
static int collect_garbage(struct repo *repo, struct opts *o, int verbose)
{
	struct gc_opts go = GC_OPTS_INIT;
	long long threshold, level;

	/* bup hands the value on unchecked; its gc then fails on it */
	if (opt_int(o, "gc-threshold", &threshold, 0) < 0 ||
	    threshold < 0 || threshold > 100)
		die("invalid --gc-threshold %s", opt_str(o, "gc-threshold"));
	go.threshold = (int)threshold;
	if (opt_get(o, "#")->count && !opt_int(o, "#", &level, 0))
		go.level = (int)level;
	go.verbose = verbose;
	return cli_gc_run(repo, &go);
}

int cmd_prune_older(int argc, const char **argv);
int cmd_prune_older(int argc, const char **argv)
{
	struct prune_start start[PRUNE_NR];
	struct branch_list branches;
	const char **removals = NULL;
	size_t nr_rm = 0, alloc_rm = 0;
	struct repo *repo;
	struct opts o;
	__int128 now;
	long long level = 1;
	int verbose, pretend, any = 0, ret = 0;

	cli_parse_opts(&o, optspec, argc, argv);
	if (!opt_count(&o, "unsafe"))
		cli_usage_fatal(&o, "refusing to run dangerous, experimental "
				"command without --unsafe");
	if (!opt_str(&o, "wrt"))
		now = time(NULL);
	else if (prune_parse_wrt(&now, opt_str(&o, "wrt")) < 0)
		cli_usage_fatal(&o, "--wrt value %s is not an integer",
				opt_str(&o, "wrt"));

	memset(start, 0, sizeof(start));
	for (int k = 0; k < PRUNE_NR; k++) {
		const char *extent = opt_str(&o, keep_opt[k]);
		struct prune_period p;
		long long as_int;

		/* bup: `if extent:`, after _intify: "" and 0 are not given */
		if (!extent || !*extent)
			continue;
		if (!opt_int(&o, keep_opt[k], &as_int, 0)) {
			if (!as_int)
				continue;
			py_crash("AttributeError: 'int' object has no "
				 "attribute 'encode'");
		}
		for (const unsigned char *c = (const unsigned char *)extent;
		     *c; c++)
			if (*c >= 0x80)
				ascii_crash(extent);
		if (prune_parse_period(&p, extent) < 0) {
			struct buf r = BUF_INIT;
			/* bup: '%r' % extent, a str */
			pypath_str_repr(&r, extent);
			cli_usage_fatal(&o, "%s is not a valid period", r.data);
		}
		prune_start_at(&start[k], now, &p);
		any = 1;
	}
	if (!any)
		cli_usage_fatal(&o, "at least one keep argument is required");

	verbose = opt_count(&o, "verbose");
	pretend = opt_count(&o, "pretend");
	if (verbose)
		for (int k = 0; k < PRUNE_NR; k++)
			log_start(k, &start[k]);

	repo = cli_open_repo();
	memset(&branches, 0, sizeof(branches));
	branches.npat = o.argc;
	branches.pat = xcalloc((size_t)o.argc + 1, sizeof(*branches.pat));
	for (int i = 0; i < o.argc; i++)
		branches.pat[i] = xstrfmt("refs/heads/%s", o.argv[i]);
	if (refs_for_each(repo, "refs/heads/", collect_branch, &branches) < 0)
		die("%s", err_last());

	for (size_t b = 0; b < branches.nr; b++) {
		struct revwalk_entry *revs = NULL;
		int64_t *utc;
		int *keep;
		size_t n = 0;

		/* bup: git rev-list --pretty=format:%at BRANCH_ID */
		if (revwalk_list(&branches.b[b].oid, NULL, revwalk_read_odb,
				 cli_odb(repo), &revs, &n) < 0)
			die("%s", err_last());
		utc = xcalloc(n + 1, sizeof(*utc));
		keep = xcalloc(n + 1, sizeof(*keep));
		for (size_t i = 0; i < n; i++)
			utc[i] = revs[i].author_time;
		if (prune_classify(keep, utc, n, start) < 0)
			die("%s", err_last());
		for (size_t i = 0; i < n; i++) {
			struct buf name = BUF_INIT;
			if (save_name(&name, branches.b[b].name, utc[i]) < 0)
				py_crash("OSError: [Errno 75] Value too large "
					 "for defined data type");
			if (pretend) {
				printf("%c %s\n", keep[i] ? '+' : '-',
				       name.data);
				buf_release(&name);
			} else if (!keep[i]) {
				ALLOC_GROW(removals, nr_rm + 1, alloc_rm);
				removals[nr_rm++] = buf_detach(&name, NULL);
			} else {
				buf_release(&name);
			}
		}
		free(keep);
		free(utc);
		free(revs);
	}

	if (!pretend) {
		/* bup's PackWriter takes the level; zlib refuses others */
		if (opt_int(&o, "#", &level, 0) < 0 || level < 0 || level > 9)
			die("invalid compression level %s", opt_str(&o, "#"));
		if (cli_rm_paths(repo, (int)nr_rm, removals, (int)level,
				 verbose)) {
			ret = 1;
			goto out;
		}
		if (opt_count(&o, "gc") && !cli_errors() &&
		    collect_garbage(repo, &o, verbose)) {
			ret = 1;
			goto out;
		}
	}
	if (cli_errors()) {
		cli_log("warning: %d errors encountered\n", cli_errors());
		ret = 1;
	}
out:
	for (size_t i = 0; i < nr_rm; i++)
		free((char *)removals[i]);
	free(removals);
	for (size_t i = 0; i < branches.nr; i++)
		free(branches.b[i].name);
	free(branches.b);
	for (int i = 0; i < branches.npat; i++)
		free((char *)branches.pat[i]);
	free(branches.pat);
	repo_free(repo);
	opt_release(&o);
	return cli_finish_stdout(ret);
}
