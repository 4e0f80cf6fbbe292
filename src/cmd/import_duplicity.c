/*
 * cbup import-duplicity: bup 0.33.7's lib/bup/cmd/import_duplicity.py.
 * `duplicity collection-status` lists the backup sets of the source URL
 * (lines " full 20150222T073111Z ..." and " inc ..."); each is restored
 * with `duplicity restore -t TIME` into a temporary directory and saved
 * on the given name, dated TIME (UTC), through `bup index -uxf` and
 * `bup save --strip`.  Every command is logged to stderr as bup's
 * shstr() quotes it before it runs; -n only logs.
 *
 * Where cbup differs: a failed command ends the import with "error:
 * ... failed" and exit 1 where bup shows a Python traceback (also exit
 * 1); with -n the temporary directory is removed too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/proc.h"
#include "store/repo.h"
#include "util/util.h"

int cmd_import_duplicity(int argc, const char **argv);

static const char optspec[] =
	"bup import-duplicity [-n] <duplicity-source-url> <bup-save-name>\n"
	"--\n"
	"n,dry-run  don't do anything; just print what would be done\n";

/* bup's bquote(): as is when only [-_./a-zA-Z0-9], else single-quoted. */
static void bquote(struct buf *out, const char *s)
{
	size_t n = strspn(s, "-_./abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

	if (*s && !s[n]) {
		buf_addstr(out, s);
		return;
	}
	buf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			buf_addstr(out, "'\"'\"'");
		else
			buf_addch(out, *s);
	}
	buf_addch(out, '\'');
}

/* bup's logcmd(): the command line, shell-quoted, on stderr. */
static void logcmd(const char *const *argv)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; argv[i]; i++) {
		if (i)
			buf_addch(&b, ' ');
		bquote(&b, argv[i]);
	}
	cli_log("%s\n", b.data);
	buf_release(&b);
}

/* bup's exc()/exo(): log, then run unless dry_run; 0 or -1 on failure. */
static int exc(int dry_run, const char *const *argv, struct buf *out)
{
	struct proc_fd fds[3] = {
		/* redirect_dup_output(): the log fd and stderr join stdout */
		{ 1, out, -1 }, { 3, out, -1 }, { 2, out, -1 },
	};
	int status = 0;

	logcmd(argv);
	if (dry_run)
		return 0;
	fflush(stdout);
	fflush(stderr);
	if (proc_run(argv, NULL, fds, out ? 3 : 0, &status) < 0) {
		error("%s", err_last());
		return -1;
	}
	if (status) {
		error("%s failed with exit status %d", argv[0], status);
		return -1;
	}
	return 0;
}

/* strptime(ts, '%Y%m%dT%H%M%SZ') and timegm(); -1 if malformed. */
static long long parse_dup_time(const char *ts)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(ts, "%Y%m%dT%H%M%SZ", &tm);
	if (!end || *end)
		return -1;
	return (long long)timegm(&tm);
}

int cmd_import_duplicity(int argc, const char **argv)
{
	struct opts o;
	struct buf status = BUF_INIT;
	struct repo *r;
	const char *url, *name;
	char *tmpdir, *cache, *restoredir, *tmpidx, *self;
	const char *tmp = getenv("TMPDIR");
	int dry_run, rc = 0;
	char *line, *save;

	cli_log("\nbup: import-duplicity is EXPERIMENTAL (proceed with "
		"caution)\n\n");
	memset(&o, 0, sizeof(o));
	cli_parse_opts(&o, optspec, argc, argv);
	dry_run = opt_count(&o, "dry-run");
	if (o.argc < 1 || !*o.argv[0])
		cli_usage_fatal(&o, "duplicity source URL required");
	if (o.argc < 2 || !*o.argv[1])
		cli_usage_fatal(&o, "bup destination save name required");
	if (o.argc > 2)
		cli_usage_fatal(&o, "too many arguments");
	url = o.argv[0];
	name = o.argv[1];
	r = cli_open_repo();
	repo_free(r);

	self = proc_self_exe();
	tmpdir = xstrfmt("%s/bup-import-dup-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
	if (!self || !mkdtemp(tmpdir))
		die("cannot create a temporary directory: %s",
		    strerror(errno));
	cache = xstrfmt("%s/dup-cache", tmpdir);
	restoredir = xstrfmt("%s/restore", tmpdir);
	tmpidx = xstrfmt("%s/index", tmpdir);
	{
		const char *cs[] = { "duplicity", "--archive-dir", cache,
				     "collection-status", "--log-fd=3", url,
				     NULL };
		if (exc(dry_run, cs, &status) < 0)
			rc = 1;
	}
	buf_addch(&status, '\0');
	for (line = strtok_r(status.data, "\n", &save); !rc && line;
	     line = strtok_r(NULL, "\n", &save)) {
		char ts[17], secs[32];
		long long t;
		size_t skip = !strncmp(line, " inc ", 5) ? 5 :
			      !strncmp(line, " full ", 6) ? 6 : 0;

		if (!skip)
			continue;
		if (strlen(line + skip) < 16) {
			error("malformed duplicity line: %s", line);
			rc = 1;
			break;
		}
		memcpy(ts, line + skip, 16);
		ts[16] = '\0';
		t = parse_dup_time(ts);
		if (t < 0) {
			error("malformed duplicity time: %s", ts);
			rc = 1;
			break;
		}
		snprintf(secs, sizeof(secs), "%lld", t);
		{
			const char *rm[] = { "rm", "-rf", restoredir, NULL };
			const char *rs[] = { "duplicity", "--archive-dir",
					     cache, "restore", "-t", ts, url,
					     restoredir, NULL };
			const char *ix[] = { self, "index", "-uxf", tmpidx,
					     restoredir, NULL };
			const char *sv[] = { self, "save", "--strip", "--date",
					     secs, "-f", tmpidx, "-n", name,
					     restoredir, NULL };

			if (exc(dry_run, rm, NULL) < 0 ||
			    exc(dry_run, rs, NULL) < 0 ||
			    exc(dry_run, ix, NULL) < 0 ||
			    exc(dry_run, sv, NULL) < 0)
				rc = 1;
		}
	}
	{
		const char *rm[] = { "rm", "-rf", tmpdir, NULL };

		if (exc(0, rm, NULL) < 0)
			rc = 1;
	}
	free(self);
	free(tmpdir);
	free(cache);
	free(restoredir);
	free(tmpidx);
	buf_release(&status);
	opt_release(&o);
	return rc;
}
