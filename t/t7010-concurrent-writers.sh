#!/bin/sh
# Two writers into one repository at the same time, locally and through
# servers (-r :PATH): split -n a beside split -n b, save beside save.
# Both must land: each ref resolves, joins/restores give back what went
# in, no object is lost (git fsck --strict), and midx/bloom updates made
# concurrently leave every object findable.  Two writers to the same
# branch: the ref update is a compare-and-swap, so either both land in
# sequence or one fails cleanly, never a lost commit.
. "$(dirname "$0")/test-lib.sh"

S="$TRASH/srv"

fsck_clean() {
	git --git-dir="$1" fsck --strict >fsck.out 2>&1 ||
	{ cat fsck.out; return 1; }
	! grep -v -e "^notice: HEAD points to an unborn" -e "^dangling " \
		fsck.out
}

# Every object is found by cbup's existence check (bloom, midx, idx):
# splitting both inputs again writes no pack at all.
all_found() {
	d=$1; shift
	ls "$d/objects/pack" >before &&
	for f in "$@"; do
		BUP_DIR="$d" cbup split -t "$f" >/dev/null || return 1
	done &&
	ls "$d/objects/pack" >after &&
	test_cmp before after
}

test_expect_success 'setup' '
	BUP_DIR="$TRASH/repo" cbup init >/dev/null 2>&1 &&
	BUP_DIR="$S" cbup init >/dev/null 2>&1 &&
	lcg 11 3000000 >da && lcg 12 3000000 >db &&
	mkdir -p ta/x tb/y &&
	lcg 13 900000 >ta/x/f && lcg 14 900000 >tb/y/g &&
	lcg 15 20000 >ta/small && lcg 16 20000 >tb/small
'

for round in 1 2 3; do
	test_expect_success "two splits at once, local (round $round)" '
		{ cbup split -n a$round da & } && p1=$! &&
		{ cbup split -n b$round db & } && p2=$! &&
		wait $p1 && wait $p2 &&
		cbup join a$round | cmp - da &&
		cbup join b$round | cmp - db &&
		fsck_clean "$BUP_DIR"
	'
done

test_expect_success 'two splits at once through two servers (-r :PATH)' '
	for round in 1 2 3; do
		{ cbup split -r ":$S" -n a$round da & } && p1=$! &&
		{ cbup split -r ":$S" -n b$round db & } && p2=$! &&
		wait $p1 && wait $p2 &&
		BUP_DIR="$S" cbup join a$round | cmp - da &&
		BUP_DIR="$S" cbup join b$round | cmp - db || return 1
	done &&
	fsck_clean "$S" && all_found "$S" da db
'

test_expect_success 'two saves at once, local' '
	cbup index -f ia ta >/dev/null && cbup index -f ib tb >/dev/null &&
	{ cbup save -f ia -n sa ta >/dev/null & } && p1=$! &&
	{ cbup save -f ib -n sb tb >/dev/null & } && p2=$! &&
	wait $p1 && wait $p2 &&
	rm -rf ra rb &&
	cbup restore -C ra "/sa/latest$TRASH/ta" &&
	cbup restore -C rb "/sb/latest$TRASH/tb" &&
	cmp ra/ta/x/f ta/x/f && cmp ra/ta/small ta/small &&
	cmp rb/tb/y/g tb/y/g && cmp rb/tb/small tb/small &&
	fsck_clean "$BUP_DIR" && all_found "$BUP_DIR" da ta/x/f tb/y/g
'

test_expect_success 'two saves at once through two servers' '
	{ cbup save -r ":$S" -f ia -n sa ta >/dev/null & } && p1=$! &&
	{ cbup save -r ":$S" -f ib -n sb tb >/dev/null & } && p2=$! &&
	wait $p1 && wait $p2 &&
	rm -rf ra rb &&
	BUP_DIR="$S" cbup restore -C ra "/sa/latest$TRASH/ta" &&
	BUP_DIR="$S" cbup restore -C rb "/sb/latest$TRASH/tb" &&
	cmp ra/ta/x/f ta/x/f && cmp rb/tb/y/g tb/y/g &&
	fsck_clean "$S" && all_found "$S" da db ta/x/f tb/y/g
'

test_expect_success 'two splits to the same branch: never a lost commit' '
	# (not "lcg ... >dc && cbup split ... &": that would put the
	# generator itself in the background, racing the second split)
	lcg 17 500000 >dc &&
	{ cbup split -n same da 2>e1 & } && p1=$! &&
	{ cbup split -n same dc 2>e2 & } && p2=$! &&
	r1=0 && r2=0 &&
	{ wait $p1 || r1=$?; } && { wait $p2 || r2=$?; } &&
	test $r1 = 0 -o $r2 = 0 &&
	n=$(git --git-dir="$BUP_DIR" rev-list --count same) &&
	if test $r1 = 0 && test $r2 = 0; then
		test $n = 2
	else
		test $n = 1
	fi &&
	cbup join same >j && { cmp j da || cmp j dc; } &&
	fsck_clean "$BUP_DIR"
'

test_done
