#!/bin/sh
# cbup prune-older against real bup 0.33.7 (lib/bup/cmd/prune_older.py):
# usage errors (missing --unsafe, bad periods, --wrt) with bup's messages
# and exit codes; --pretend and -v print the same verdicts and lines as
# bup for many periods, branch arguments and time zones (local-time
# days, months and years); a real prune leaves the same refs (so the
# same rewritten commits) as bup's on a copy of the repository, git
# fsck --strict clean, the kept saves restoring byte for byte, the
# removed ones gone, and real bup reading the result.
. "$(dirname "$0")/test-lib.sh"

export TZ=America/New_York
# 2023-11-14 17:13:20 EST: every period below ends here (--wrt)
NOW=1700000000
DAY=86400

# run_both ARGS...: bup prune-older on $TRASH/b, cbup on $TRASH/c;
# stdout, exit code and stderr into out.b/out.c, rc.b/rc.c, err.b/err.c.
run_both() {
	record_rc rc.b env BUP_DIR="$TRASH/b" bup prune-older "$@" \
		>out.b 2>err.b &&
	record_rc rc.c env BUP_DIR="$TRASH/c" cbup prune-older "$@" \
		>out.c 2>err.c
}

same_as_bup() {
	test_cmp rc.b rc.c &&
	test_cmp out.b out.c &&
	test_cmp err.b err.c
}

# fresh: b and c become copies of the repository the setup made.
fresh() {
	rm -rf b c &&
	cp -a repo b &&
	cp -a repo c
}

# The saves of main, oldest first (days before NOW, the content of f is
# the date): two on one local day, two an hour apart across local
# midnight but on one UTC day, months and years apart, and one out of
# date order (the 250-day one after the 200-day one).
MAIN_DAYS="1100 800 700 420 400 390 200 250 95 60 59 40 10 3"

# 250 dates from 1200 days before NOW, 1 s to 9 days apart (an LCG).
many_dates() {
	awk -v now=$NOW -v day=$DAY 'BEGIN {
		x = 7
		t = now - 1200 * day
		for (i = 0; i < 250; i++) {
			x = (x * 1103515245 + 12345) % 2147483648
			t += 1 + x % (9 * day)
			print t
		}
	}'
}

test_expect_success BUP 'setup: saves by bup at chosen dates, a long branch by git' '
	mkdir src &&
	bup init >/dev/null 2>&1 &&
	for d in $MAIN_DAYS; do
		t=$((NOW - d * DAY)) &&
		echo $t >src/f &&
		bup index src >/dev/null &&
		bup save -n main --date=$t src 2>/dev/null || return 1
	done &&
	# 2023-11-10 03:30 UTC (22:30 local, 11-09) and 04:30 UTC (23:30)
	# and 05:30 UTC (00:30 local, 11-10)
	for t in 1699587000 1699590600 1699594200; do
		echo $t >src/f &&
		bup index src >/dev/null &&
		bup save -n main --date=$t src 2>/dev/null || return 1
	done &&
	for d in 30 20 5; do
		t=$((NOW - d * DAY)) &&
		echo $t >src/f &&
		bup index src >/dev/null &&
		bup save -n other --date=$t src 2>/dev/null || return 1
	done &&
	tree=$(git --git-dir=repo rev-parse main^{tree}) &&
	many_dates >many.dates &&
	p= &&
	while read -r t; do
		p=$(GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b \
			GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@b \
			GIT_AUTHOR_DATE="$t +0000" GIT_COMMITTER_DATE="$t +0000" \
			git --git-dir=repo commit-tree $tree ${p:+-p $p} -m $t) ||
		return 1
	done <many.dates &&
	git --git-dir=repo update-ref refs/heads/many $p &&
	test $(git --git-dir=repo rev-list --count many) = 250 &&
	# bup writes no loose objects: pack what git wrote, beside bup'"'"'s
	git --git-dir=repo repack -dq &&
	test $(git --git-dir=repo count-objects | cut -d" " -f1) = 0
'

test_expect_success BUP 'without --unsafe: refused as bup, exit 97' '
	fresh &&
	run_both --keep-all-for 1d &&
	same_as_bup &&
	echo 97 >want && test_cmp want rc.c &&
	grep "^error: refusing to run dangerous, experimental command without --unsafe$" err.c &&
	grep "^usage: bup prune-older \[options...\] \[BRANCH...\]$" err.c
'

test_expect_success BUP 'bad periods, no keep option, bad --wrt: bup messages, exit 97' '
	fresh &&
	while read -r args; do
		eval "run_both --unsafe $args" &&
		same_as_bup &&
		echo 97 >want && test_cmp want rc.c ||
		{ echo "differs: $args"; return 1; }
	done <<-\EOF &&
	--keep-all-for 0d
	--keep-all-for 000y
	--keep-dailies-for 1x
	--keep-monthlies-for -1d
	--keep-yearlies-for 1D
	--keep-all-for 1.5d
	--keep-all-for "1 d"
	--keep-all-for "1d'\''x"
	--keep-all-for 1d --keep-yearlies-for never
	--keep-all-for ""
	--keep-all-for 0
	--wrt abc --keep-all-for 1d
	--wrt +5 --keep-all-for 1d
	--wrt 1.5 --keep-all-for 1d
	EOF
	run_both --unsafe --keep-dailies-for 1x &&
	grep "^error: '\''1x'\'' is not a valid period$" err.c &&
	run_both --unsafe --keep-all-for "1d'\''x" &&
	grep "^error: \"1d'\''x\" is not a valid period$" err.c &&
	run_both --unsafe --pretend &&
	grep "^error: at least one keep argument is required$" err.c &&
	run_both --unsafe --wrt abc --keep-all-for 1d &&
	grep "^error: --wrt value abc is not an integer$" err.c
'

test_expect_success BUP 'where bup crashes on a period, exit 1 with its last line' '
	fresh &&
	for p in 5 "$(printf "1\377d")" "1é"; do
		run_both --unsafe --pretend --keep-all-for "$p" &&
		test_cmp rc.b rc.c &&
		echo 1 >want && test_cmp want rc.c &&
		tail -n 1 err.b >want && test_cmp want err.c || return 1
	done &&
	grep "^UnicodeEncodeError: '\''ascii'\'' codec can'\''t encode character '\''\\\\xe9'\'' in position 1" err.c &&
	run_both --unsafe --pretend -v --keep-all-for 99999999999999999999y &&
	tail -n 1 err.b >want && test_cmp want err.c &&
	grep "^OverflowError: timestamp out of range for platform time_t$" err.c &&
	run_both --unsafe --pretend -v --keep-all-for 10000000000y &&
	tail -n 1 err.b >want && test_cmp want err.c &&
	grep "^OSError: \[Errno 75\]" err.c
'

test_expect_success BUP 'no repository: bup message, exit 15' '
	record_rc rc.b env BUP_DIR="$TRASH/none" bup prune-older --unsafe \
		--keep-all-for 1d >out.b 2>err.b &&
	record_rc rc.c env BUP_DIR="$TRASH/none" cbup prune-older --unsafe \
		--keep-all-for 1d >out.c 2>err.c &&
	same_as_bup &&
	echo 15 >want && test_cmp want rc.c &&
	grep "^error: repository b'\''$TRASH/none/'\'' does not exist" err.c
'

# Periods and branch arguments compared with --pretend -v: the kinds in
# turn, overlapping and empty periods, forever, units of every size.
cat >specs <<\EOF
--keep-all-for 1w
--keep-all-for 1w --keep-dailies-for 1m
--keep-dailies-for 2m
--keep-dailies-for 400d
--keep-dailies-for 3y
--keep-monthlies-for 1y
--keep-monthlies-for 30000h --keep-dailies-for 5w
--keep-yearlies-for forever
--keep-yearlies-for 10y --keep-dailies-for 1d
--keep-all-for 2w --keep-dailies-for 2m --keep-monthlies-for 1y --keep-yearlies-for 3y
--keep-all-for forever
--keep-dailies-for forever --keep-all-for 100min
--keep-all-for 1s
--keep-all-for 5000000s --keep-monthlies-for 26w
--keep-all-for 1y --keep-dailies-for 1w
--keep-monthlies-for 13m --keep-yearlies-for 1y
EOF

test_expect_success BUP '--pretend -v: the same verdicts and log as bup' '
	fresh &&
	while read -r spec; do
		for br in "" "main nosuch" "other many"; do
			run_both --unsafe --pretend -v --wrt $NOW $spec $br &&
			same_as_bup || { echo "differs: $spec $br"; return 1; }
		done || return 1
	done <specs &&
	run_both --unsafe --pretend --wrt $NOW --keep-dailies-for 2m main &&
	grep "^+ main/2023-11-09-233000$" out.c &&
	grep "^- main/2023-11-09-223000$" out.c &&
	grep "^+ main/2023-11-10-003000$" out.c &&
	run_both --unsafe --pretend -v --wrt $NOW --keep-yearlies-for forever \
		--keep-all-for 1d &&
	printf "keeping all since 2023-11-13-171320\nkeeping all yearlies" >want &&
	test_cmp want err.c
'

test_expect_success BUP '--pretend in other time zones' '
	for tz in UTC Australia/Lord_Howe; do
		while read -r spec; do
			TZ=$tz run_both --unsafe --pretend -v --wrt $NOW $spec &&
			same_as_bup || { echo "differs: $tz $spec"; return 1; }
		done <specs || return 1
	done
'

test_expect_success BUP '--wrt beyond 64 bits: the same verdicts and crash as bup' '
	run_both --unsafe --pretend --wrt 123456789012345678901234567890 \
		--keep-all-for 1d main &&
	same_as_bup &&
	grep "^- main/" out.c && ! grep "^+" out.c &&
	run_both --unsafe --pretend --wrt -1234567890123456789012345 \
		--keep-all-for 1d main &&
	same_as_bup &&
	grep "^+ main/" out.c && ! grep "^-" out.c &&
	run_both --unsafe --pretend -v --wrt -1234567890123456789012345 \
		--keep-dailies-for 1d main &&
	test_cmp rc.b rc.c && test_cmp out.b out.c &&
	tail -n 1 err.b >want && test_cmp want err.c &&
	grep "^OverflowError: timestamp out of range for platform time_t$" err.c
'

test_expect_success BUP 'show-ref matching of branch arguments' '
	fresh &&
	for d in b c; do
		git --git-dir=$d update-ref refs/heads/x/refs/heads/other other ||
		return 1
	done &&
	run_both --unsafe --pretend --wrt $NOW --keep-all-for 1d other &&
	same_as_bup &&
	grep "^- x/refs/heads/other/" out.c &&
	run_both --unsafe --pretend --wrt $NOW --keep-all-for 1d ther &&
	same_as_bup && ! test -s out.c
'

# prune SPEC...: prune b with bup and c with cbup (--no-gc), compare
# everything they print and the refs they leave.
prune() {
	fresh &&
	run_both --unsafe --no-gc -v --wrt $NOW "$@" &&
	same_as_bup &&
	git --git-dir=b show-ref >refs.b &&
	git --git-dir=c show-ref >refs.c &&
	test_cmp refs.b refs.c
}

# fsck_clean DIR: git fsck --strict reports nothing but dangling objects.
fsck_clean() {
	git --git-dir="$1" fsck --strict >fsck.out 2>&1 &&
	! grep -v -e "^dangling" -e "^notice: HEAD points to an unborn" \
		-e "^Checking" fsck.out
}

test_expect_success BUP 'a real prune: the same refs as bup, fsck clean' '
	while read -r spec; do
		prune $spec && fsck_clean c || { echo "differs: $spec"; return 1; }
	done <<-EOF
	--keep-all-for 2w --keep-dailies-for 2m --keep-monthlies-for 1y
	--keep-dailies-for 3y
	--keep-yearlies-for forever
	--keep-all-for 1w main
	EOF
'

test_expect_success BUP 'kept saves restore byte for byte, removed ones are gone' '
	fresh &&
	BUP_DIR=$TRASH/c cbup prune-older --unsafe --pretend --wrt $NOW \
		--keep-all-for 2w --keep-monthlies-for 1y main >verdicts &&
	sed -n "s,^+ main/,,p" verdicts | sort >want &&
	sed -n "s,^- main/,,p" verdicts >gone &&
	test -s gone &&
	prune --keep-all-for 2w --keep-monthlies-for 1y &&
	grep "^updated refs/heads/main ([0-9a-f]\{40\} -> [0-9a-f]\{40\})$" err.c &&
	BUP_DIR=$TRASH/c cbup ls main >ls.c &&
	BUP_DIR=$TRASH/b bup ls main >ls.b &&
	test_cmp ls.b ls.c &&
	grep -v latest ls.c | sort >got &&
	test_cmp want got &&
	while read -r s; do
		! grep -x "$s" ls.c || return 1
	done <gone &&
	for s in $(cat want); do
		rm -rf out &&
		BUP_DIR=$TRASH/c cbup restore -C out "/main/$s/${TRASH#/}/src/f" \
			>/dev/null 2>&1 &&
		t=$(cat out/f) &&
		test "$(date -d @$t +%Y-%m-%d-%H%M%S)" = "$s" || return 1
	done
'

test_expect_success BUP 'real bup reads the pruned cbup repository' '
	prune --keep-dailies-for 1m --keep-yearlies-for 2y &&
	fsck_clean c &&
	for br in main other many; do
		BUP_DIR=$TRASH/c bup ls -l $br >bup.ls &&
		BUP_DIR=$TRASH/c cbup ls -l $br >cbup.ls &&
		test_cmp bup.ls cbup.ls || return 1
	done &&
	latest=$(BUP_DIR=$TRASH/c bup ls main | grep -v latest | tail -n 1) &&
	rm -rf out &&
	BUP_DIR=$TRASH/c bup restore -C out "/main/$latest/${TRASH#/}/src/f" \
		>/dev/null 2>&1 &&
	test "$(date -d @$(cat out/f) +%Y-%m-%d-%H%M%S)" = "$latest" &&
	BUP_DIR=$TRASH/c bup prune-older --unsafe --pretend --wrt $NOW \
		--keep-dailies-for 1m --keep-yearlies-for 2y >again &&
	test -s again &&
	! grep "^-" again
'

test_expect_success BUP 'every save dropped: the branch is deleted, as bup' '
	prune --keep-all-for 1s other &&
	echo "keeping all since 2023-11-14-171319" >want &&
	test_cmp want err.c &&
	! grep " refs/heads/other$" refs.c &&
	grep " refs/heads/main$" refs.c
'

test_expect_success BUP 'saves sharing a second: bup refuses to remove them, so does cbup' '
	fresh &&
	export GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b GIT_COMMITTER_NAME=a \
		GIT_COMMITTER_EMAIL=a@b &&
	for d in b c; do
		tree=$(git --git-dir=$d rev-parse main^{tree}) &&
		p=$(GIT_AUTHOR_DATE="1500000000 +0000" \
			GIT_COMMITTER_DATE="1500000000 +0000" \
			git --git-dir=$d commit-tree $tree -m one) &&
		p=$(GIT_AUTHOR_DATE="1500000000 +0000" \
			GIT_COMMITTER_DATE="1500000000 +0000" \
			git --git-dir=$d commit-tree $tree -p $p -m two) &&
		git --git-dir=$d update-ref refs/heads/dup $p || return 1
	done &&
	run_both --unsafe --no-gc --wrt $NOW --keep-all-for 1d dup &&
	same_as_bup &&
	echo 1 >want && test_cmp want rc.c &&
	grep "^error: cannot access /dup/2017-07-13-224000 in dup/2017-07-13-224000 *$" err.c &&
	grep "^not proceeding with any removals$" err.c &&
	git --git-dir=c rev-list --count dup >n &&
	echo 2 >want && test_cmp want n
'

# gc_both SPEC...: a real prune with bup's default --gc on b and c;
# the same output but for pack names (cbup's compressor makes other
# pack bytes) and the order of the pack lines (cbup visits packs in
# name order, FORMAT.md 14), the same refs, the same objects left.
gc_both() {
	fresh &&
	run_both --unsafe -v --wrt $NOW "$@" &&
	test_cmp rc.b rc.c &&
	test_cmp out.b out.c &&
	sed "s/pack-[0-9a-f]*/pack-X/g" err.b | sort >err.b.masked &&
	sed "s/pack-[0-9a-f]*/pack-X/g" err.c | sort >err.c.masked &&
	test_cmp err.b.masked err.c.masked &&
	git --git-dir=b show-ref >refs.b &&
	git --git-dir=c show-ref >refs.c &&
	test_cmp refs.b refs.c &&
	for d in b c; do
		git --git-dir=$d cat-file --batch-all-objects \
			--batch-check="%(objectname) %(objecttype)" >objs.$d ||
		return 1
	done &&
	test_cmp objs.b objs.c
}

test_expect_success BUP '--gc (the default): the same objects left as by bup' '
	gc_both --keep-all-for 2w --keep-monthlies-for 1y &&
	grep "^found [0-9]* objects$" err.c &&
	grep "^removing unreachable data$" err.c &&
	grep "^discarded [0-9]*% of objects$" err.c &&
	fsck_clean c &&
	BUP_DIR=$TRASH/c cbup prune-older --unsafe --pretend --wrt $NOW \
		--keep-all-for 2w --keep-monthlies-for 1y main >verdicts &&
	! grep "^-" verdicts &&
	git --git-dir=repo rev-list --count main >n.before &&
	git --git-dir=c rev-list --count main >n.after &&
	test $(cat n.after) -lt $(cat n.before) &&
	for s in $(sed -n "s,^+ main/,,p" verdicts); do
		rm -rf out &&
		BUP_DIR=$TRASH/c cbup restore -C out \
			"/main/$s/${TRASH#/}/src/f" >/dev/null 2>&1 &&
		test "$(date -d @$(cat out/f) +%Y-%m-%d-%H%M%S)" = "$s" ||
		return 1
	done
'

test_expect_success BUP '--gc: the files of removed saves are gone' '
	fresh &&
	BUP_DIR=$TRASH/c cbup prune-older --unsafe --pretend --wrt $NOW \
		--keep-dailies-for 1m main >verdicts &&
	sed -n "s,^- main/,,p" verdicts >gone &&
	test -s gone &&
	gc_both --keep-dailies-for 1m main &&
	fsck_clean c &&
	for s in $(cat gone); do
		t=$(TZ=$TZ date -d "$(echo $s |
			sed "s/\(....\)-\(..\)-\(..\)-\(..\)\(..\)\(..\)/\1-\2-\3 \4:\5:\6/")" +%s) &&
		blob=$(echo $t | git hash-object --stdin) &&
		git --git-dir=repo cat-file -e $blob &&
		test_must_fail git --git-dir=c cat-file -e $blob || return 1
	done &&
	BUP_DIR=$TRASH/c bup ls main >ls.bup &&
	BUP_DIR=$TRASH/c cbup ls main >ls.cbup &&
	test_cmp ls.bup ls.cbup
'

test_expect_success BUP '--gc-threshold and -# reach the gc, as bup' '
	gc_both --keep-monthlies-for 1y --gc-threshold 50 -9 &&
	fsck_clean c &&
	gc_both --keep-all-for 1s other --gc-threshold 0 &&
	fsck_clean c
'

test_done
