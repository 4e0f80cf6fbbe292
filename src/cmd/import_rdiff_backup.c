/*
 * cbup import-rdiff-backup: bup 0.33.7's lib/cmd/bup-import-rdiff-backup
 * (a bash script) in C.  Every increment `rdiff-backup --list-increments
 * --parsable-output ROOT` lists is restored (`rdiff-backup -r TIME`)
 * into a temporary directory made in the current directory, then saved
 * on BRANCH dated TIME through `bup index -ux -f` and `bup save
 * --strip`.  As the script, -n prints the bup commands instead of
 * running them (rdiff-backup still runs), the messages go to stderr,
 * usage and a missing root print to stdout and exit 1, and a failed
 * step stops the import with its exit code.
 */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/proc.h"
#include "util/util.h"

int cmd_import_rdiff_backup(int argc, const char **argv);

static int usage(void)
{
	printf("Usage: bup import-rdiff-backup [-n] <path to rdiff-backup "
	       "root> <backup name>\n"
	       "-n,--dry-run: just print what would be done\n");
	return 1;
}

/* The script's `must`: a failed step stops everything with its code. */
static int must(const char *const *argv, struct buf *out)
{
	struct proc_fd fd = { 1, out, -1 };
	int status = 0;

	fflush(stdout);
	fflush(stderr);
	if (proc_run(argv, NULL, out ? &fd : NULL, out ? 1 : 0, &status)) {
		error("%s", err_last());
		return 127;
	}
	if (status)
		fprintf(stderr, "import-rdiff-backup: %s failed (exit %d)\n",
			argv[0], status);
	return status;
}

/* `date -d @T +%c` in the user's locale. */
static void print_date(long long t)
{
	char s[128];
	time_t tt = (time_t)t;
	struct tm tm;
	char *old = xstrdup(setlocale(LC_TIME, NULL));
	const char *fmt = "%c";  /* date's own choice, two-digit years too */

	setlocale(LC_TIME, "");
	if (!localtime_r(&tt, &tm) || !strftime(s, sizeof(s), fmt, &tm))
		snprintf(s, sizeof(s), "@%lld", t);
	setlocale(LC_TIME, old);
	free(old);
	fputs(s, stderr);
}

/*
 * mktemp -d, or mktemp -u (a name nothing has yet), in the current
 * directory: the prefix and 7 random characters.
 */
static char *temp_name(const char *prefix, int dir)
{
	char *p = xstrfmt("%sXXXXXXX", prefix);
	int fd;

	if (dir) {
		if (mkdtemp(p))
			return p;
	} else if ((fd = mkstemp(p)) >= 0) {
		close(fd);
		unlink(p);
		return p;
	}
	free(p);
	return NULL;
}

static int import_one(int dry_run, const char *root, const char *branch,
		      long long ts, size_t counter, size_t count)
{
	char tsbuf[32], datebuf[48];
	char *tmpdir, *tmpidx = NULL;
	int rc;

	snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
	snprintf(datebuf, sizeof(datebuf), "--date=%lld", ts);
	tmpdir = temp_name("import-rdiff-backup-", 1);
	if (!tmpdir) {
		fprintf(stderr, "mktemp: %s\n", strerror(errno));
		return 1;
	}
	fputs("Importing backup from ", stderr);
	print_date(ts);
	fprintf(stderr, "  (%zu / %zu)\n\n", counter, count);
	fputs("Restoring from rdiff-backup...\n", stderr);
	{
		const char *r[] = { "rdiff-backup", "-r", tsbuf, root, tmpdir,
				    NULL };
		rc = must(r, NULL);
	}
	if (rc)
		goto out;
	fputs("\nImporting into bup...\n", stderr);
	tmpidx = temp_name("import-rdiff-backup-idx-", 0);
	if (!tmpidx) {
		fprintf(stderr, "mktemp: %s\n", strerror(errno));
		rc = 1;
		goto out;
	}
	if ((rc = cli_import_save(dry_run, tmpidx, tmpdir, datebuf, branch)))
		goto out;
	unlink(tmpidx);
	fputs("\n\n", stderr);
out:
	if (tmpdir) {
		const char *rm[] = { "rm", "-rf", tmpdir, NULL };
		int st;

		/* the script leaves it behind when a step fails */
		if (!rc && proc_run(rm, NULL, NULL, 0, &st) < 0)
			error("%s", err_last());
	}
	free(tmpidx);
	free(tmpdir);
	return rc;
}

int cmd_import_rdiff_backup(int argc, const char **argv)
{
	struct buf list = BUF_INIT;
	const char *root, *branch;
	int dry_run, i = cli_import_flags(argc, argv, &dry_run), rc;
	size_t count = 0, counter = 0;
	char *line, *save;

	if (argc - i != 2 || !*argv[i])
		return usage();
	root = argv[i];
	branch = argv[i + 1];
	if (!cli_import_root_ok(root))
		return 1;
	{
		const char *l[] = { "rdiff-backup", "--list-increments",
				    "--parsable-output", root, NULL };
		rc = must(l, &list);
	}
	if (rc)
		goto out;
	buf_addch(&list, '\0');
	for (const char *p = list.data; *p; p++)
		count += *p == '\n';
	for (line = strtok_r(list.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *end;
		long long ts = strtoll(line, &end, 10);

		if (end == line)
			continue;
		rc = import_one(dry_run, root, branch, ts, ++counter, count);
		if (rc)
			break;
	}
out:
	buf_release(&list);
	return rc;
}
