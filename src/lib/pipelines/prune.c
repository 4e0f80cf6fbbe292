/*
 * prune-older's classification of saves (prune.h), after bup 0.33.7's
 * classify_saves() and period_as_secs().
 */
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "pipelines/prune.h"

const char *const prune_kind_name[PRUNE_NR] = {
	"all", "dailies", "monthlies", "yearlies",
};

/*
 * Magnitudes stop growing here: 1e25 times the largest unit (366 days)
 * is still far inside an __int128 and far outside any time_t, so every
 * larger number classifies and reports (an overflow) the same.
 */
#define MAG_CAP ((__int128)10000000000000LL * 1000000000000LL)

int prune_parse_period(struct prune_period *out, const char *s)
{
	static const struct {
		const char *unit;
		int64_t secs;
	} units[] = {
		{ "s", 1 }, { "min", 60 }, { "h", 60 * 60 },
		{ "d", 60 * 60 * 24 }, { "w", 60 * 60 * 24 * 7 },
		{ "m", 60 * 60 * 24 * 31 }, { "y", 60 * 60 * 24 * 366 },
	};
	const char *p = s;
	__int128 mag = 0;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!strcmp(s, "forever")) {
		out->forever = 1;
		return 0;
	}
	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++)
		if (mag < MAG_CAP)
			mag = mag * 10 + (*p - '0');
	len = strlen(p);
	/* Python's $ matches at the end and before a final newline */
	if (len && p[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].unit) != len ||
		    memcmp(units[i].unit, p, len))
			continue;
		/* bup: `if not secs`, so "0d" is refused too */
		if (!mag)
			goto bad;
		out->secs = mag * units[i].secs;
		return 0;
	}
bad:
	return err_set(ERR_USAGE, "not a valid period");
}

/*
 * |now| stays below 10^36 and a period below 4 * 10^32 (MAG_CAP times
 * 366 days), so now - secs cannot overflow an __int128 (1.7 * 10^38),
 * and a saturated now still gives a start beyond any time_t.
 */
#define WRT_CAP ((__int128)1000000000000000000LL * 1000000000000000000LL)

int prune_parse_wrt(__int128 *out, const char *s)
{
	const char *p = s;
	int neg = *p == '-';
	__int128 v = 0;

	if (neg)
		p++;
	/* str(int(s)) == s: digits only, no leading zero, no "-0" */
	if (*p < '0' || *p > '9' || (*p == '0' && (p[1] || neg)))
		return err_set(ERR_USAGE, "not an integer");
	for (; *p >= '0' && *p <= '9'; p++)
		if (v < WRT_CAP)
			v = v * 10 + (*p - '0');
	if (*p)
		return err_set(ERR_USAGE, "not an integer");
	if (v > WRT_CAP)
		v = WRT_CAP;
	*out = neg ? -v : v;
	return 0;
}

void prune_start_at(struct prune_start *out, __int128 now,
		    const struct prune_period *p)
{
	out->set = 1;
	out->neg_inf = p->forever;
	out->utc = p->forever ? 0 : now - p->secs;
}

static int in_period(const struct prune_start *s, int64_t utc)
{
	return s->set && (s->neg_inf || (__int128)utc >= s->utc);
}

/* The field of the local time that names the period of kind. */
static int region_of(enum prune_kind kind, int64_t utc, int *out)
{
	time_t t = (time_t)utc;
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return err_set(ERR_GENERIC, "no local time for %lld",
			       (long long)utc);
	*out = kind == PRUNE_DAILIES ? tm.tm_yday :
	       kind == PRUNE_MONTHLIES ? tm.tm_mon : tm.tm_year;
	return 0;
}

int prune_classify(int *keep, const int64_t *utc, size_t n,
		   const struct prune_start start[PRUNE_NR])
{
	size_t i = 0;

	/* bup's partition(): each kind takes the leading run that matches */
	for (; i < n && in_period(&start[PRUNE_ALL], utc[i]); i++)
		keep[i] = 1;
	for (int k = PRUNE_DAILIES; k < PRUNE_NR; k++) {
		int have = 0, prev = 0, cur = 0;
		for (; i < n && in_period(&start[k], utc[i]); i++) {
			int ret = region_of(k, utc[i], &cur);
			if (ret)
				return ret;
			/* groupby: the newest (first) of each run is kept */
			keep[i] = !have || cur != prev;
			have = 1;
			prev = cur;
		}
	}
	for (; i < n; i++)
		keep[i] = 0;
	return 0;
}
