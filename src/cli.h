/*
 * What every subcommand shares: bup's message conventions and exit codes
 * (FORMAT.md 11), opening the repository, progress lines.  This is the
 * only place besides cmd/ that prints.
 */
#ifndef CBUP_CLI_H
#define CBUP_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "util/opt.h"
#include "util/util.h"

struct repo;
struct odb;
struct client;
struct client_writer;
struct packwriter;
struct packwriter_opts;
struct objsink;
struct drecurse_opts;
struct oid;

/* The command table (main.c).  Each cmd_X returns the exit code. */
struct cli_cmd {
	const char *name;
	int (*fn)(int argc, const char **argv);
	const char *summary;    /* bup's "common" commands only, else NULL */
};

/* The command named `name` in the table, or NULL (main.c). */
const struct cli_cmd *cli_find_cmd(const char *name);
/* The whole table, *n entries (main.c). */
const struct cli_cmd *cli_commands(size_t *n);

/* Global state set by main.c from -d, --debug, argv[0]. */
extern const char *cli_argv0;     /* "bup" or "cbup" as invoked */
extern int cli_debug;
/* Full process argv as bup would see it, for split's commit message. */
extern int cli_full_argc;
extern const char **cli_full_argv;
/*
 * The whole command line as bup's commit messages quote it
 * (bup_main.argv(), commit_argv_repr): a program named "cbup..." shows
 * as "bup...", so messages match bup's.
 */
void cli_full_argv_repr(struct buf *out);

/* "fatal: " + msg to stderr, run cleanups, exit 1 (or code). */
NORETURN void die(const char *fmt, ...) PRINTF(1, 2);
NORETURN void die_code(int code, const char *fmt, ...) PRINTF(2, 3);
/* "error: " + msg; returns -1. */
int error(const char *fmt, ...) PRINTF(1, 2);
/* "warning: " + msg. */
void warning(const char *fmt, ...) PRINTF(1, 2);
/*
 * A command's failure as bup's main reports an exception: stdout
 * flushed first, then "error: " and err_last().  Returns 1, the exit
 * code.
 */
int cli_error_last(void);
/*
 * save's and get's count of the errors they carried on after: with n
 * nonzero, stdout flushed and bup's "WARNING: N errors encountered
 * while saving."; returns the exit code, 1 then, else 0.
 */
int cli_saving_errors(int n);
/* Plain message to stderr (bup's log()). */
void cli_log(const char *fmt, ...) PRINTF(1, 2);
/*
 * bup's add_error: print "%-70s\n" of the message to stderr and count it;
 * cli_errors() returns the count.
 */
void cli_add_error(const char *fmt, ...) PRINTF(1, 2);
/*
 * bup's add_error() of an OSError: prefix (may be NULL), then
 * pypath_oserror() of err and path (bytes: the call took a bytes path).
 */
void cli_add_oserror(const char *prefix, int err, const char *path,
		     int bytes);
int cli_errors(void);

/*
 * The server's exit status when its client sent nothing for the
 * connection's receive timeout (SO_RCVTIMEO, set by the daemon from
 * CBUP_DAEMON_IDLE_TIMEOUT), so that the daemon can log why the
 * connection ended.  124, as timeout(1).
 */
#define CLI_EXIT_IDLE 124

/* Register a cleanup run by die() and on SIGINT/SIGTERM. */
void cli_atexit(void (*fn)(void *), void *ctx);
void cli_atexit_remove(void (*fn)(void *), void *ctx);
/* Run (and forget) every registered cleanup, last registered first. */
void cli_run_cleanups(void);
/* Install the signal handlers (main.c calls this once). */
void cli_init(void);

/*
 * bup's top-level usage text to stderr, then "\n<msg>\n" if msg is
 * non-empty; exits 99.
 */
NORETURN void main_usage(const char *msg);

/* pypath_bytes_repr() of a C string: b'...', as bup prints some paths. */
void cli_bytes_repr(struct buf *out, const char *s);
/* bup's path_msg(): pypath_path_msg(). */
void cli_path_msg(struct buf *out, const char *s);

/*
 * Parse options with bup's behaviour: on -h or error print the usage
 * (and the error) to stderr and exit 97.  Returns only on success.
 */
void cli_parse_opts(struct opts *o, const char *optspec, int argc,
		    const char **argv);
/*
 * What cli_parse_opts() prints for opt_parse()'s result r (OPT_USAGE or
 * OPT_ERROR), without exiting: bup's Options.usage() with an onabort
 * that returns (ftp's ls).
 */
void cli_write_usage(struct opts *o, int r);
/* Print "usage...\nerror: msg" and exit 97 (bup's o.fatal). */
NORETURN void cli_usage_fatal(struct opts *o, const char *fmt, ...)
	PRINTF(2, 3);
/*
 * bup's parse_date_or_fatal(): str as Python's float() reads it
 * (opt_parse_float()), or cli_usage_fatal() with bup's message.
 */
double cli_parse_date(struct opts *o, const char *str);

/*
 * Open the repository from BUP_DIR/-d or ~/.bup; on failure print bup's
 * message and exit 15 or 14.
 */
struct repo *cli_open_repo(void);
/*
 * Take the gc lock shared for a command that writes objects or refs
 * into r (FORMAT.md 14), waiting (with a message) while a gc runs; dies
 * if the lock cannot be taken.  Call before the first odb lookup and
 * before any thread starts.
 */
void cli_lock_writer(struct repo *r);
/*
 * The repository's object database; on failure (an unreadable or corrupt
 * idx/midx/pack) print the error naming the file and exit 1.
 */
struct odb *cli_odb(struct repo *r);
/*
 * A branch about to get a new commit must name a commit we can read:
 * otherwise the new commit's parent would be missing and the history
 * broken (git fsck would fail).  With cli, the object is read from the
 * server (cat-batch; a server without it is not asked), else from r.
 * Returns 0, or a negative error code with a message naming the ref
 * (err_last()); it never exits, so it may run while worker threads do.
 */
int cli_check_parent(struct repo *r, struct client *cli,
		     const char *refname, const struct oid *parent);

/*
 * The branch a save or split will commit on top of: refname read from
 * the server (cli) or from r into *old, *have_old set when it exists,
 * and checked with cli_check_parent().  Returns 0 or a negative error
 * code (err_last()); it never exits.
 */
int cli_read_branch(struct repo *r, struct client *cli, const char *refname,
		    struct oid *old, int *have_old);

/*
 * The object writer of save, split and get, chosen once: with cli the
 * client's remote writer (bwlimit bytes per second on the wire, 0 for
 * no limit), else r's pack writer.  *pw or *cw is set, and *sink (when
 * sink is not NULL) to its objsink.  po comes from
 * packwriter_opts_from_repo() with the command's limits; its worker
 * count (cli_threads()) and upkeep progress (cli_upkeep_progress) are
 * set here.  Returns 0 or a negative error code (err_last()).
 */
int cli_open_writer(struct packwriter **pw, struct client_writer **cw,
		    struct objsink **sink, struct repo *r, struct client *cli,
		    struct packwriter_opts *po, uint64_t bwlimit);
/*
 * The end of a save or split that went well, in the order that never
 * leaves a ref naming objects not yet stored: the writer closed (its
 * pack complete), then refname (unless NULL) moved from old_oid (NULL:
 * a new branch) to new_oid, on the server with cli, else in r, then
 * the connection closed.  Each of *pw, *cw and *cli is NULL once
 * closed; what a failure leaves is for cli_abort_writer().  Returns 0
 * or a negative error code (err_last()).
 */
int cli_finish_writer(struct packwriter **pw, struct client_writer **cw,
		      struct client **cli, struct repo *r,
		      const char *refname, const struct oid *new_oid,
		      const struct oid *old_oid);
/*
 * After a failure, or what cli_finish_writer() left: the local pack
 * removed, the remote writer dropped and the connection hung up without
 * quit (the server keeps nothing of an unfinished transfer).  NULLs
 * are fine.
 */
void cli_abort_writer(struct packwriter *pw, struct client_writer *cw,
		      struct client *cli);

/*
 * Worker threads for hashing and compression: CBUP_THREADS if set (0 =
 * everything inline on the calling thread), else the number of online
 * CPUs.  Output never depends on it (the pack writer appends in order).
 */
int cli_threads(void);

/*
 * bup's parse_excludes() and parse_rx_excludes() for index and drecurse:
 * --exclude, --exclude-from, --exclude-rx, --exclude-rx-from into d;
 * bad input is a usage error (exit 97).
 */
void cli_parse_excludes(struct opts *o, struct drecurse_opts *d);

/* bup's shorten_hash: each 40-character [0-9a-z] run becomes 7 + "*". */
void cli_shorten_hash(struct buf *out, const char *s);
/*
 * bup's path_msg(repo_rel(path)) for midx/bloom messages: relative to
 * the repository (and its index-cache/), hashes shortened (caller frees).
 */
char *cli_repo_rel(const struct repo *r, const char *path);

/* 1 if progress output should go to stderr (tty or BUP_FORCE_TTY & 2). */
int cli_stderr_is_tty(void);
int cli_stdout_is_tty(void);
/* Rate-limited "\r" progress line (0.1 s), only if cli_stderr_is_tty. */
void cli_progress(const char *fmt, ...) PRINTF(1, 2);
/* Final progress line, ends in "\n". */
void cli_progress_done(const char *fmt, ...) PRINTF(1, 2);
/*
 * The progress callback of the midx and bloom upkeep (midx_opts.progress,
 * bloom_update_ex): `line` as is, only if cli_stderr_is_tty; with
 * rate_limited at most one line per 0.1 s.  bup runs that upkeep as
 * `bup midx` / `bup bloom` child processes, each with its own qprogress()
 * clock, so this one keeps its own too: the command's progress lines
 * and the upkeep's do not hold each other back.
 */
void cli_upkeep_progress(int rate_limited, const char *line);

/*
 * client_open() (client.h) as every command connects: progress lines
 * and the upkeep's through cli_progress and cli_upkeep_progress, and
 * what bup's client reads from the environment (CBUP_SSH,
 * CBUP_REMOTE_BUP, BUP_SERVER_REVERSE, BUP_DEBUG, BUP_FORCE_TTY,
 * BUP_TTY_WIDTH) read now, after main() has set the tty variables.
 */
int cli_client_open(struct client **out, const char *remote,
		    const char *bupdir, int create);

/*
 * bup's bup_rm() (lib/bup/rm.py), shared by rm and prune-older
 * (cmd/rm.c): remove the branches and saves named by paths (rewrite.h),
 * writing new commits at zlib `level`.  Rejected paths are reported as
 * bup's add_error and nothing is removed: then it logs "not proceeding
 * with any removals" and returns 1.  A ref that cannot be changed is
 * reported (and counted, cli_errors()) and the others are still tried;
 * with verbose each rewritten branch is logged.  Returns 0 otherwise;
 * a failure while writing dies.
 */
int cli_rm_paths(struct repo *r, int n, const char **paths, int level,
		 int verbose);

/*
 * bup's bup_gc() (lib/bup/gc.py), shared by gc and prune-older
 * (cmd/gc.c): gc_run() with go's threshold, level, verbose and
 * ignore_missing, bup's lines through the callbacks it sets, and its
 * messages on failure.  Returns the exit code, 0 or 1.
 */
struct gc_opts;
int cli_gc_run(struct repo *r, struct gc_opts *go);

/* Flush stdout; a write error (EPIPE, ENOSPC) becomes exit 1. */
int cli_finish_stdout(int code);
/*
 * The exit code of meta and xstat: 1 after a failure (failed nonzero),
 * or after errors recorded by cli_add_error() (then bup's "WARNING: N
 * errors encountered."), else 0; through cli_finish_stdout().
 */
int cli_finish_counted(int failed);

/*
 * Run this program with args (a bup subcommand and its arguments, NULL
 * ended) as bup's import scripts run "$cmd_dir/bup"; with dry_run only
 * print the command line to stdout, as their `echo`.  The exit status
 * (128 + signal), 1 when it could not be started (with a message).
 */
int cli_run_bup(int dry_run, const char *const *args);
/*
 * What bup's import-rdiff-backup and import-rsnapshot scripts share.
 * cli_import_flags(): their leading -n/--dry-run (*dry_run set), and
 * the index of the first other argument.  cli_import_root_ok(): 1 if
 * root is a directory, else "'ROOT' isn't a directory!" on stdout and
 * 0.  cli_import_save(): one snapshot saved, `bup index -ux -f idx dir`
 * then `bup save --strip date_arg -f idx -n branch dir` (date_arg is
 * "--date=T") through cli_run_bup(), stopping at the first failure;
 * its exit status, or 0.
 */
int cli_import_flags(int argc, const char **argv, int *dry_run);
int cli_import_root_ok(const char *root);
int cli_import_save(int dry_run, const char *idx, const char *dir,
		    const char *date_arg, const char *branch);

struct validate_item;
/*
 * bup's lines for the objects of a ref walk (gc.py report_live_item and
 * report_missing), shared by gc and validate-ref-links: n live objects
 * counted before this one of `existing`, at bup's -v count v.
 */
void cli_report_live_item(const char *refname,
			  const struct validate_item *it, uint64_t n,
			  uint64_t existing, int v);
void cli_report_missing(const char *refname, const struct validate_item *it);

#endif
