/*
 * Checking packs and keeping par2 recovery data beside them, as bup
 * 0.33.7's fsck (lib/bup/cmd/fsck.py) does:
 *
 *  - verification: fsck_quick_verify() checks the pack's trailing
 *    SHA-1 only; fsck_full_verify() checks what `git verify-pack` does
 *    (every object inflated and hashed, its CRC-32, the idx checksum and
 *    its table against the pack, the trailer), in process;
 *  - par2: `par2 create/verify/repair`, run without a shell with bup's
 *    arguments and file names (pack-X.par2, pack-X.vol000+200.par2),
 *    their output (stdout and stderr, in the order written) kept in the
 *    result so that the caller prints it where bup would have;
 *  - fsck_run(): bup's do_pack() decision for each pack, on worker
 *    threads, each result handed to a callback on the caller's thread
 *    in the order the packs were given, so output does not depend on
 *    the thread count.
 *
 * Nothing here prints.  Functions return 0 or a negative enum err_code
 * with the message in err_last(); a damaged pack is a result (code and
 * message in struct fsck_result), not an error of fsck_run().
 */
#ifndef CBUP_FSCK_H
#define CBUP_FSCK_H

#include <stddef.h>

#include "util/buf.h"

/* bup's exit code for a pack par2 repaired (fsck.py do_pack). */
#define FSCK_REPAIRED 100

/* The two recovery files bup keeps per pack: "<stem>" + suffix. */
#define FSCK_PAR2_NR 2
extern const char *const fsck_par2_suffix[FSCK_PAR2_NR];

/* bup's par2_recovery_file_status(). */
enum fsck_par2_status {
	FSCK_PAR2_BAD = -1,    /* one is empty, or only one exists */
	FSCK_PAR2_NONE = 0,    /* neither exists */
	FSCK_PAR2_OK = 1,      /* both exist, neither is empty */
};

/*
 * Classify the recovery files of stem.  Bit i of *empty / *missing is
 * set when "<stem><fsck_par2_suffix[i]>" is empty / does not exist (bup
 * reports the empty ones, and the missing ones only when the status is
 * FSCK_PAR2_BAD and nothing is empty).
 */
enum fsck_par2_status fsck_par2_status(const char *stem, unsigned *empty,
				       unsigned *missing);

/* 1 if `par2 --help` could be started (bup's par2_setup()). */
int fsck_par2_found(void);

/*
 * bup's is_par2_parallel(): run `par2 create -qq -t1` on a canary file
 * in a temporary directory; *parallel = 1 if it exits 0.  What it wrote
 * to stdout goes to *out, to stderr to *err (bup lets the first through
 * to its own stdout).  0 or a negative error (temporary directory).
 */
int fsck_par2_probe(int *parallel, struct buf *out, struct buf *err);

/*
 * Check the trailing SHA-1 of "<stem>.pack".  0, or ERR_CORRUPT with
 * bup's "expected b'HEX', got 'HEX'", or ERR_IO.
 */
int fsck_quick_verify(const char *stem);
/*
 * Check "<stem>.pack" against "<stem>.idx" as `git verify-pack` does:
 * the idx's own checksum, the pack's trailer and the idx's copy of it,
 * the object count, every object's extent, CRC-32 and id (deltas
 * resolved within the pack).  0, ERR_CORRUPT naming the file and the
 * first problem, ERR_NOTFOUND or ERR_IO.
 */
int fsck_full_verify(const char *stem);

struct fsck_opts {
	int repair;        /* -r */
	int generate;      /* -g */
	int quick;         /* --quick */
	int verbose;       /* -v count: chooses par2's -q or -qq */
	int stderr_tty;    /* bup's istty2: par2 always gets -qq */
	int par2_ok;       /* par2 found and not --disable-par2 */
	int par2_parallel; /* par2 takes -t1 */
	int threads;       /* packs checked at once (at least 1) */
};

/* What happened to one pack (bup's do_pack()). */
struct fsck_result {
	char *stem;                    /* as given, "<dir>/pack-X" */
	enum fsck_par2_status par2;    /* fsck_par2_status() of stem */
	unsigned empty, missing;       /* its masks */
	int code;                      /* 0, FSCK_REPAIRED or a failure */
	const char *action;            /* "ok", "failed", "repaired", ... */
	const char *step;              /* the failed step ("git verify",
					  "par2 repair" ...), the repaired
					  one, or NULL */
	int used_par2;                 /* par2 was run for this pack */
	char *error;                   /* verification message, or NULL */
	struct buf output;             /* par2's output, in order */
	char **unexpected;             /* bup's "Unexpected par2 file" */
	size_t nr_unexpected;
};

void fsck_result_init(struct fsck_result *r, const char *stem);
void fsck_result_release(struct fsck_result *r);

/*
 * bup's do_pack() for one pack: classify its recovery files (r->par2,
 * r->empty, r->missing); unless they are FSCK_PAR2_BAD (then action
 * stays NULL and nothing is checked), verify, and generate or repair
 * from par2 as o asks.  Never fails: problems are the result's code and
 * messages.
 */
void fsck_pack(const struct fsck_opts *o, struct fsck_result *r);

/* Called on the caller's thread, once per pack, in order. */
typedef void (*fsck_done_fn)(void *ctx, struct fsck_result *r);

/*
 * fsck_pack() for each result, o->threads at a time (one at a time when
 * a stem is given twice, so that the second sees what the first did, as
 * in bup).  `done` sees each in order as soon as it and all before it
 * are finished.
 */
void fsck_run(const struct fsck_opts *o, struct fsck_result *res,
	      size_t nr, fsck_done_fn done, void *ctx);

#endif
