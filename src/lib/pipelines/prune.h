/*
 * Which saves prune-older keeps, as bup 0.33.7's prune-older
 * (lib/bup/cmd/prune_older.py classify_saves, helpers.period_as_secs;
 * FORMAT.md 6.4):
 *
 *  - a period is "forever" or N followed by s, min, h, d, w, m (31
 *    days) or y (366 days), N a decimal number; zero is no period;
 *  - each --keep-KIND-for gives KIND a start, `now - period`; a KIND
 *    not given starts at +infinity (keeps nothing), "forever" at
 *    -infinity (matches every save);
 *  - the saves, in `git rev-list` order, are cut into consecutive runs:
 *    the leading saves at or after the start of "all" are kept; of the
 *    following saves, the leading ones at or after the start of
 *    "dailies" are grouped by local day of the year (consecutive saves
 *    with the same tm_yday, as itertools.groupby), and the first of
 *    each group is kept; the same for "monthlies" (tm_mon) and
 *    "yearlies" (tm_year) on what follows; the rest is dropped.
 *    Local time is localtime_r's, i.e. TZ.
 *
 * Starts are kept as 128-bit numbers: bup's integers have no bound, so
 * `--keep-all-for 99999999999999999999y` is valid there and matches
 * every save.  Pure functions, thread-safe.
 */
#ifndef CBUP_PRUNE_H
#define CBUP_PRUNE_H

#include <stddef.h>
#include <stdint.h>

enum prune_kind {
	PRUNE_ALL,
	PRUNE_DAILIES,
	PRUNE_MONTHLIES,
	PRUNE_YEARLIES,
	PRUNE_NR
};

/* "all", "dailies", "monthlies", "yearlies" (bup's names). */
extern const char *const prune_kind_name[PRUNE_NR];

struct prune_period {
	int forever;
	__int128 secs;       /* saturated far beyond any time_t */
};

/*
 * bup's period_as_secs(): 0 with *out set, or ERR_USAGE when s is not
 * a period (no match of ^([0-9]+)(s|min|h|d|w|m|y)$, where Python's $
 * also matches before a final newline) or is zero, which bup's
 * `if not secs` refuses alike.
 */
int prune_parse_period(struct prune_period *out, const char *s);

/*
 * --wrt as bup reads it (options._intify, then `isinstance(now, int)`):
 * 0 when s is an integer written as Python writes it (an optional '-',
 * no leading zero, not "-0"), of any size, or ERR_USAGE.  Beyond
 * +-10^36 the value saturates, which changes no verdict and no message
 * (every start is then out of time_t's range either way).
 */
int prune_parse_wrt(__int128 *out, const char *s);

struct prune_start {
	int set;             /* given; else +infinity */
	int neg_inf;         /* "forever": -infinity */
	__int128 utc;        /* now - secs otherwise */
};

/* The start of a period given at `now`. */
void prune_start_at(struct prune_start *out, __int128 now,
		    const struct prune_period *p);

/*
 * Classify n saves, given by author time in rev-list order: keep[i] is
 * 1 to keep save i, 0 to drop it.  0, or ERR_GENERIC when a time has no
 * local date (localtime_r fails; bup dies with an OSError there).
 */
int prune_classify(int *keep, const int64_t *utc, size_t n,
		   const struct prune_start start[PRUNE_NR]);

#endif
