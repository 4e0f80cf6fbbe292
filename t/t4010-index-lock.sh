#!/bin/sh
# Two `cbup index` runs at once: each read the old index and renamed its
# own merge over it, so one run's entries were lost (bup 0.33.7 loses
# them too).  An update or a clear now holds an flock on bupindex.lock
# from before it reads the old index until the new one is in place; a
# second run waits (and says so), and the lock of a killed run is
# released by the kernel, nothing stale left behind.
. "$(dirname "$0")/test-lib.sh"

LOCK="$BUP_DIR/bupindex.lock"

# tree DIR N: DIR with N files and a subdirectory of N more
tree() {
	mkdir -p "$1/sub" &&
	for i in $(seq "$2"); do
		echo "$i" >"$1/f$i" && echo "$i" >"$1/sub/g$i" || return 1
	done
}

# count DIR: how many entries `cbup index -p` lists in DIR (DIR/ too)
count() {
	cbup index -p >p.out &&
	grep -c "^$1/" p.out
}

# index_both A B: cbup index A and cbup index B at the same time; both
# must succeed
index_both() {
	cbup index "$1" >/dev/null 2>a.err &
	pid=$!
	cbup index "$2" >/dev/null 2>b.err
	rc=$?
	wait $pid && test $rc = 0
}

# wait_for FILE: until FILE exists (at most 10 s)
wait_for() {
	for i in $(seq 100); do
		test -e "$1" && return 0
		sleep 0.1
	done
	echo >&2 "wait_for: no $1" && return 1
}

# hold_lock MARK SECS: another process takes the index lock, touches
# MARK, and holds it for SECS seconds (then touches MARK.released before
# it lets go), or with SECS "forever" until killed ($holder is its pid;
# a minute at most, should a test fail before it kills it)
hold_lock() {
	sh -c 'exec 9>"$1" && flock 9 && touch "$2" &&
		if [ "$3" = forever ]; then exec sleep 60; fi &&
		sleep "$3" && touch "$2.released"' sh "$LOCK" "$1" "$2" &
	holder=$!
	wait_for "$1"
}

test_expect_success 'setup: three disjoint trees' '
	cbup init >/dev/null 2>&1 &&
	tree A 150 && tree B 150 && tree C 50
'

test_expect_success 'two index runs at once, 20 rounds: both trees indexed' '
	for r in $(seq 20); do
		rm -f "$BUP_DIR"/bupindex* &&
		# even rounds start from an index that already holds C
		c=$((r % 2 == 0)) &&
		if [ $c = 1 ]; then cbup index C >/dev/null; fi &&
		index_both A B &&
		test "$(count A)" = 302 &&
		test "$(count B)" = 302 &&
		if [ $c = 1 ]; then test "$(count C)" = 102; fi ||
		{ echo "round $r: entries lost" && exit 1; }
	done &&
	test ! -e "$LOCK"
'

test_expect_success 'index waits for the holder of the lock, then runs' '
	rm -f "$BUP_DIR"/bupindex* held held.released &&
	hold_lock held 2 &&
	cbup index C >/dev/null 2>err &&
	test -e held.released &&
	wait $holder &&
	grep "^bup: waiting for another index run to release .*bupindex.lock" err &&
	test "$(count C)" = 102 &&
	test ! -e "$LOCK"
'

test_expect_success 'a holder killed by SIGKILL leaves no stale lock' '
	rm -f "$BUP_DIR"/bupindex* held &&
	hold_lock held forever &&
	{ timeout 3 cbup index C >/dev/null 2>err || echo $? >rc; } &&
	kill -9 $holder &&
	test_expect_code 137 wait $holder &&
	echo 124 >expect &&
	test_cmp expect rc &&
	grep "waiting for another index run" err &&
	test ! -e "$BUP_DIR/bupindex" &&
	test -e "$LOCK" &&
	timeout 60 cbup index C >/dev/null 2>err &&
	test_must_fail grep waiting err &&
	test "$(count C)" = 102 &&
	test ! -e "$LOCK"
'

test_expect_success '--clear takes the lock too' '
	rm -f held held.released &&
	test -s "$BUP_DIR/bupindex" &&
	hold_lock held 2 &&
	cbup index --clear >/dev/null 2>err &&
	test -e held.released &&
	wait $holder &&
	grep "waiting for another index run" err &&
	test ! -e "$BUP_DIR/bupindex" &&
	test ! -e "$LOCK"
'

test_done
