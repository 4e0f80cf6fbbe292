/*
 * prune: bup's period syntax (period_as_secs and prune-older's `if not
 * secs`), starts, and classify_saves over synthetic timestamps: the
 * leading runs of each kind, groupby's consecutive-only grouping (the
 * same day of different years falls into one group when nothing lies
 * between), local-time bucketing, and saves out of date order.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "util/err.h"
#include "pipelines/prune.h"
#include "unit.h"
#include "util/util.h"

#define DAY 86400
/* 2021-03-10 12:00:00 UTC, a Wednesday */
#define NOW 1615377600

UNIT_TEST(prune, periods)
{
	static const struct {
		const char *s;
		long long secs;
	} good[] = {
		{ "1s", 1 }, { "2min", 120 }, { "3h", 3 * 3600 },
		{ "4d", 4 * DAY }, { "5w", 5 * 7 * DAY }, { "6m", 6 * 31 * DAY },
		{ "7y", 7 * 366LL * DAY }, { "007d", 7 * DAY },
		/* Python's $ matches before a final newline */
		{ "1d\n", DAY },
	};
	static const char *const bad[] = {
		"", "d", "1", "1D", "-1d", "+1d", " 1d", "1d ", "1 d", "1dd",
		"1mi", "1mins", "1.5d", "0d", "000y", "0s", "1d\n\n", "\n1d",
		"forever\n", "Forever",
		"1\331\241d",   /* an Arabic-Indic one: [0-9] is ASCII */
	};
	struct prune_period p;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		CHECK(prune_parse_period(&p, good[i].s) == 0);
		CHECK(!p.forever && p.secs == good[i].secs);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(prune_parse_period(&p, bad[i]) == ERR_USAGE);
	CHECK(prune_parse_period(&p, "forever") == 0 && p.forever);
	/* bup's integers have no bound: still a period, beyond time_t */
	CHECK(prune_parse_period(&p, "99999999999999999999999999999999999y")
	      == 0);
	CHECK(!p.forever && p.secs > (__int128)INT64_MAX * 1000);
}

UNIT_TEST(prune, wrt_as_python_int)
{
	static const char *const bad[] = {
		"", "-", "+5", "05", "-0", "00", " 5", "5 ", "1.5", "1e3",
		"abc", "5x", "--5",
	};
	__int128 v;

	CHECK(prune_parse_wrt(&v, "0") == 0 && v == 0);
	CHECK(prune_parse_wrt(&v, "1700000000") == 0 && v == 1700000000);
	CHECK(prune_parse_wrt(&v, "-99999999999999") == 0 &&
	      v == -99999999999999LL);
	/* bup's ints have no bound; far beyond 64 bits, still an int */
	CHECK(prune_parse_wrt(&v, "123456789012345678901234567890") == 0 &&
	      v > (__int128)INT64_MAX * 1000000);
	CHECK(prune_parse_wrt(&v, "-9999999999999999999999999999999999999999"
			      "99999999") == 0 && v < -(__int128)INT64_MAX *
	      INT64_MAX / 100);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(prune_parse_wrt(&v, bad[i]) == ERR_USAGE);
}

UNIT_TEST(prune, starts)
{
	struct prune_period p;
	struct prune_start s;

	CHECK(prune_parse_period(&p, "2d") == 0);
	prune_start_at(&s, NOW, &p);
	CHECK(s.set && !s.neg_inf && s.utc == NOW - 2 * DAY);
	/* --wrt may be negative, and the start far before 1970 */
	prune_start_at(&s, -5, &p);
	CHECK(s.utc == -5 - 2 * DAY);
	CHECK(prune_parse_period(&p, "forever") == 0);
	prune_start_at(&s, NOW, &p);
	CHECK(s.set && s.neg_inf);
}

/* Classify n times against the given periods ("" for none). */
static void classify(int *keep, const int64_t *t, size_t n,
		     const char *all, const char *dailies,
		     const char *monthlies, const char *yearlies)
{
	const char *spec[PRUNE_NR] = { all, dailies, monthlies, yearlies };
	struct prune_start start[PRUNE_NR];

	memset(start, 0, sizeof(start));
	for (int k = 0; k < PRUNE_NR; k++) {
		struct prune_period p;
		if (!*spec[k])
			continue;
		CHECK(prune_parse_period(&p, spec[k]) == 0);
		prune_start_at(&start[k], NOW, &p);
	}
	CHECK(prune_classify(keep, t, n, start) == 0);
}

static void check_keep(const int *keep, const char *want, size_t n)
{
	struct buf got = BUF_INIT;

	for (size_t i = 0; i < n; i++)
		buf_addch(&got, keep[i] ? '+' : '-');
	CHECK(!strcmp(got.data, want));
	if (strcmp(got.data, want))
		unit_fail(__FILE__, __LINE__, "got %s, want %s", got.data,
			  want);
	buf_release(&got);
}

/* Set TZ; NULL puts back what the runner had (other tests follow). */
static void set_tz(const char *tz)
{
	static char *orig;
	static int saved;

	if (!saved) {
		const char *o = getenv("TZ");
		orig = o ? xstrdup(o) : NULL;
		saved = 1;
	}
	if (!tz)
		tz = orig;
	if (tz)
		setenv("TZ", tz, 1);
	else
		unsetenv("TZ");
	tzset();
}

UNIT_TEST(prune, kinds_in_turn)
{
	/* newest first, as rev-list gives them */
	const int64_t t[] = {
		NOW - 3600,            /* within all (1d) */
		NOW - 2 * 3600,        /* within all */
		NOW - 2 * DAY,         /* 03-08 12:00: dailies */
		NOW - 2 * DAY - 60,    /* 03-08: same day, dropped */
		NOW - 3 * DAY,         /* 03-07 */
		NOW - 40 * DAY,        /* 01-29: monthlies */
		NOW - 45 * DAY,        /* 01-24: same month, dropped */
		NOW - 50 * DAY,        /* 01-19: dropped */
		NOW - 70 * DAY,        /* 12-30-2020 */
		NOW - 400 * DAY,       /* 2020-02-04: yearlies */
		NOW - 500 * DAY,       /* 2019-10 */
		NOW - 600 * DAY,       /* 2019-07: dropped */
		NOW - 5000 * DAY,      /* beyond every period */
	};
	int keep[ARRAY_SIZE(t)];

	set_tz("UTC");
	classify(keep, t, ARRAY_SIZE(t), "1d", "10d", "3m", "3y");
	check_keep(keep, "+++-++--+++--", ARRAY_SIZE(t));
	/* without all: the dailies period takes the newest too */
	classify(keep, t, ARRAY_SIZE(t), "", "10d", "", "");
	check_keep(keep, "+-+-+--------", ARRAY_SIZE(t));
	/* only yearlies, forever: one per year (12-30 is 2020's newest) */
	classify(keep, t, ARRAY_SIZE(t), "", "", "", "forever");
	check_keep(keep, "+-------+-+-+", ARRAY_SIZE(t));
	/* all forever keeps everything; nothing given drops everything */
	classify(keep, t, ARRAY_SIZE(t), "forever", "", "", "");
	check_keep(keep, "+++++++++++++", ARRAY_SIZE(t));
	classify(keep, t, ARRAY_SIZE(t), "", "", "", "");
	check_keep(keep, "-------------", ARRAY_SIZE(t));
	/* a huge period is -infinity in effect */
	classify(keep, t, ARRAY_SIZE(t), "999999999999999999999999y", "", "",
		 "");
	check_keep(keep, "+++++++++++++", ARRAY_SIZE(t));
	/* and a huge --wrt with a huge period: still beyond every save */
	{
		struct prune_start s[PRUNE_NR];
		struct prune_period p;
		__int128 now;
		memset(s, 0, sizeof(s));
		CHECK(prune_parse_wrt(&now, "1" "000000000000000000000000000"
				      "000000000000000000") == 0);
		CHECK(prune_parse_period(&p, "99999999999999999999999999y")
		      == 0);
		prune_start_at(&s[PRUNE_ALL], now, &p);
		CHECK(prune_classify(keep, t, ARRAY_SIZE(t), s) == 0);
		check_keep(keep, "-------------", ARRAY_SIZE(t));
	}
	set_tz(NULL);
}

UNIT_TEST(prune, groupby_is_consecutive)
{
	/*
	 * 2021-03-08 and 2020-03-07 (a leap year) share tm_yday 66:
	 * with nothing between them, groupby puts them in one group and
	 * bup keeps only the newer.
	 */
	const int64_t t[] = {
		1615204800,   /* 2021-03-08 12:00 UTC, yday 66 */
		1583582400,   /* 2020-03-07 12:00 UTC, yday 66 */
		1583496000,   /* 2020-03-06 12:00 UTC, yday 65 */
	};
	/* months: 2021-01 then 2020-01, nothing between */
	const int64_t m[] = {
		1610280000,   /* 2021-01-10 */
		1579000000,   /* 2020-01-14 */
		1575000000,   /* 2019-11-29 */
	};
	int keep[3];

	set_tz("UTC");
	classify(keep, t, 3, "", "2y", "", "");
	check_keep(keep, "+-+", 3);
	classify(keep, m, 3, "", "", "5y", "");
	check_keep(keep, "+-+", 3);
	set_tz(NULL);
}

UNIT_TEST(prune, local_time_buckets)
{
	/* 2021-03-09 03:00 UTC is still 03-08 in New York */
	const int64_t t[] = {
		1615258800,   /* 2021-03-09 03:00 UTC */
		1615230000,   /* 2021-03-08 19:00 UTC */
	};
	int keep[2];

	set_tz("UTC");
	classify(keep, t, 2, "", "1w", "", "");
	check_keep(keep, "++", 2);
	set_tz("America/New_York");
	classify(keep, t, 2, "", "1w", "", "");
	check_keep(keep, "+-", 2);
	set_tz(NULL);
}

UNIT_TEST(prune, partition_stops_at_first_miss)
{
	/*
	 * rev-list order is committer order: an old author date among
	 * newer ones ends the "all" run there, as bup's partition() does,
	 * and what follows goes on to the next kind.
	 */
	const int64_t t[] = {
		NOW - 60,
		NOW - 100 * DAY,   /* out of all: the run ends */
		NOW - 120,         /* would be within all, but too late */
		NOW - 180,
	};
	int keep[4];

	set_tz("UTC");
	classify(keep, t, 4, "1d", "", "", "");
	check_keep(keep, "+---", 4);
	/* dailies catches the rest only if it covers the first of them */
	classify(keep, t, 4, "1d", "1y", "", "");
	check_keep(keep, "+++-", 4);
	set_tz(NULL);
}
