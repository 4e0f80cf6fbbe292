#!/bin/sh
# split -v/-vv/-vvv and memtest --existing/--ignore-midx against real
# bup 0.33.7: the same stderr from split at each verbosity (the bench
# line's timings aside), locally and over -r, and the same memtest
# search counts on the same repository (memory and time figures aside).
. "$(dirname "$0")/../test-lib.sh"

A="$TRASH/cbup-repo"    # written by cbup
B="$TRASH/bup-repo"     # written by bup

# the bench line's figures are timings
norm() {
	sed "s/bup: \([0-9.]*\) kbytes in [0-9.]* secs = [0-9.]* kbytes\/sec$/bup: \1 kbytes in T secs = R kbytes\/sec/" "$1"
}

# run "split ARGS" with cbup on $A and bup on $B, compare out and err
compare_split() {
	BUP_DIR=$A cbup split "$@" >c.out 2>c.err &&
	BUP_DIR=$B bup split "$@" >b.out 2>b.err &&
	test_cmp b.out c.out &&
	norm b.err >b.norm && norm c.err >c.norm &&
	test_cmp b.norm c.norm
}

test_expect_success BUP 'setup' '
	BUP_DIR=$A cbup init >/dev/null 2>&1 &&
	BUP_DIR=$B bup init >/dev/null 2>&1 &&
	lcg 21 300000 >a &&
	lcg 22 200000 >b &&
	lcg 23 1000 >small &&
	: >empty
'

for v in -v -vv -vvv; do
	for args in "-t a" "-b b" "-t --fanout 3 a b" "--noop -t a" \
		"-t --keep-boundaries small a empty" "-b empty" \
		"-c -n br$v -d 1700000000 small" "-n br$v -d 1700000001 a"
	do
		test_expect_success BUP "split $v $args: stderr as bup's" "
			compare_split $v $args
		"
	done
done

test_expect_success BUP 'split -vv, every object new, then none' '
	lcg 24 100000 >new &&
	compare_split -vv -t new &&
	grep -q "^>>>*$" c.err &&
	compare_split -vv -t new &&
	test -z "$(head -n 1 c.err)"
'

test_expect_success BUP 'split -vv -r: a ">" per object sent, as bup' '
	BUP_DIR=$A cbup init -r ":$TRASH/c-srv" >/dev/null 2>&1 &&
	BUP_DIR=$B bup init -r ":$TRASH/b-srv" >/dev/null 2>&1 &&
	BUP_DIR=$A cbup split -vv -r ":$TRASH/c-srv" -n r -d 1700000002 a >c.out 2>c.err &&
	BUP_DIR=$B bup split -vv -r ":$TRASH/b-srv" -n r -d 1700000002 a >b.out 2>b.err &&
	norm b.err >b.norm && norm c.err >c.norm &&
	test_cmp b.norm c.norm &&
	grep -q "^>>>*$" c.err
'

# memtest: everything after the table (the counts, "Total time") but the
# time itself; the table must have the same shape.
memtest_tail() {
	sed -e "1,/^ *$2 /d" -e "s/^Total time: .*/Total time: T/" "$1"
}

compare_memtest() {
	# $1 repository, $2 the last row's count, then memtest options
	repo=$1 last=$2; shift 2
	BUP_DIR=$repo cbup memtest "$@" >c.out &&
	BUP_DIR=$repo bup memtest "$@" >b.out &&
	test $(wc -l <b.out) = $(wc -l <c.out) &&
	sed 1q b.out >b.head && sed 1q c.out >c.head &&
	test_cmp b.head c.head &&
	memtest_tail b.out $last >b.tail && memtest_tail c.out $last >c.tail &&
	test_cmp b.tail c.tail
}

# bup orders indexes of equal size as a Python set iterates, which
# varies between runs: the packs here all differ in size.
A="$TRASH/cbup-repo2"
B="$TRASH/bup-repo2"

# the object counts of the idx files in repository $1, one a line
idx_sizes() {
	for i in "$1"/objects/pack/*.idx; do
		git show-index <"$i" | wc -l || return 1
	done
}

# two midx files by tool $1 in repository $2: the two smallest idx files,
# then the three smallest (which makes the first one redundant).  bup
# orders its indexes by object count and leaves ties in Python's set
# order, which changes from run to run; with the smallest ones merged no
# midx has as many objects as an idx left out (10+20+23 objects against
# 32 and 65, where the first three by name could give 10+23+32 = 65).
make_midx() {
	d=$2/objects/pack
	BUP_DIR=$2 $1 midx -o "$d/two.midx" $(ls -Sr "$d"/*.idx | sed 2q) \
		>/dev/null 2>&1 &&
	BUP_DIR=$2 $1 midx -o "$d/three.midx" $(ls -Sr "$d"/*.idx | sed 3q) \
		>/dev/null 2>&1
}

test_expect_success BUP,GIT 'setup: packs, midx and bloom files in both repositories' '
	BUP_DIR=$A cbup init >/dev/null 2>&1 &&
	BUP_DIR=$B bup init >/dev/null 2>&1 &&
	for i in 1 2 3 4 5; do
		lcg $((30 + i)) $((i * 60000)) >p$i &&
		BUP_DIR=$A cbup split -n p$i p$i &&
		BUP_DIR=$B bup split -n p$i p$i || return 1
	done &&
	rm -f "$A"/objects/pack/*.midx "$B"/objects/pack/*.midx &&
	make_midx cbup "$A" && make_midx bup "$B" &&
	ls "$A"/objects/pack/three.midx "$B"/objects/pack/two.midx &&
	test -f "$A"/objects/pack/bup.bloom &&
	test -f "$B"/objects/pack/bup.bloom &&
	idx_sizes "$A" | sort | uniq -d >dups &&
	test_must_fail test -s dups &&
	idx_sizes "$B" | sort | uniq -d >dups &&
	test_must_fail test -s dups
'

for repo in A B; do
	for opts in "--existing" "--existing --ignore-midx"; do
		test_expect_success BUP "memtest $opts on the $repo repository: bup's counts" "
			compare_memtest \$$repo 3000 -n 1000 -c 3 $opts &&
			grep -q '^bloom: 1 objects searched' c.out &&
			grep -q '^idx: ' c.out
		"
	done
done

# Random ids come from random() seeded with the time in seconds: two runs
# in the same second search the same ids.  Retry if a second boundary
# fell between them.
test_expect_success BUP 'memtest with random ids: the same counts as bup' '
	same= &&
	for try in 1 2 3; do
		# (a failed try is retried: "same" says whether one matched)
		if compare_memtest $A 400 -n 200 -c 2; then same=1 && break; fi
	done &&
	test -n "$same" &&
	grep -q "^bloom: 400 objects searched" c.out
'

test_expect_success BUP 'memtest without a bloom filter: the same counts' '
	mv "$B"/objects/pack/bup.bloom bloom.saved &&
	compare_memtest $B 1000 -n 500 -c 2 --existing &&
	mv bloom.saved "$B"/objects/pack/bup.bloom &&
	! grep -q "^bloom:" c.out
'

test_done
