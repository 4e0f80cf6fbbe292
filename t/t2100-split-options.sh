#!/bin/sh
# split -v/-vv/-vvv and --bwlimit, memtest --existing and --ignore-midx:
# what each option changes, checked on cbup alone (t/interop/
# i2000-split-options.sh compares the same runs with real bup's output).
. "$(dirname "$0")/test-lib.sh"

S="$TRASH/srv"   # a remote repository, reached as -r :PATH

# objects in the packs of repository $1
count_objects() {
	for i in "$1"/objects/pack/*.idx; do
		git show-index <"$i" || return 1
	done | wc -l
}

# the '>' marks on the first line of err
marks() {
	head -n 1 err | tr -cd '>' | wc -c
}

test_expect_success 'setup' '
	cbup init >/dev/null 2>&1 &&
	lcg 1 300000 >a &&
	lcg 2 200000 >b &&
	lcg 3 400000 >c
'

test_expect_success '-v: one newline on stderr, nothing else' '
	cbup split -v --noop -t a >out 2>err &&
	printf "\n" >expect &&
	test_cmp expect err &&
	test $(wc -l <out) = 1
'

test_expect_success GIT '-vv: a ">" per object written, then the timings' '
	cbup split -vv -t a >out 2>err &&
	test $(wc -l <err) = 2 &&
	test $(marks) = $(count_objects "$BUP_DIR") &&
	test $(marks) -gt 10 &&
	sed -n 2p err | grep -q "^bup: 292.97 kbytes in .* secs = .* kbytes/sec$"
'

test_expect_success '-vv: objects already stored are not written again' '
	cbup split -vv -t a >out2 2>err &&
	test_cmp out out2 &&
	test $(marks) = 0 &&
	test $(wc -l <err) = 2
'

test_expect_success GIT '-vvv prints as -vv; the commit comes after the newline' '
	before=$(count_objects "$BUP_DIR") &&
	cbup split -vvv -n br -d 1700000000 b >out 2>err &&
	after=$(count_objects "$BUP_DIR") &&
	test $(wc -l <err) = 2 &&
	test $(($(marks) + 1)) = $((after - before)) &&
	sed -n 2p err | grep -q "^>bup: 195.31 kbytes in "
'

test_expect_success '-vv with --noop or --copy writes nothing, marks nothing' '
	cbup split -vv --noop -b c >out 2>err &&
	test $(marks) = 0 &&
	cbup split -vv --copy c >out 2>err &&
	cmp c out &&
	test $(marks) = 0
'

test_expect_success GIT '-vv -r: a ">" per object sent to the server' '
	cbup init -r ":$S" >/dev/null 2>&1 &&
	cbup split -vv -r ":$S" -t a >out 2>err &&
	test $(marks) = $(count_objects "$S") &&
	cbup split -vv -r ":$S" -t a >out 2>err &&
	test $(marks) = 0
'

# bup's client.bwlimit paces only the remote pack writer: 4 KiB pieces,
# each after the time the previous one is worth.  400000 bytes of
# incompressible data at 100 KiB/s are worth 3.9 s: the sleeps cbup asks
# the kernel for (strace) must add up to about that, whatever the
# machine's speed (no wall-clock time is asserted: timings belong in
# make bench).
# sleeps TRACE: the seconds of sleep requested in an strace output
sleeps() {
	sed -n "s/.*nanosleep(.*tv_sec=\([0-9]*\), tv_nsec=\([0-9]*\)}.*/\1 \2/p" "$1" |
	awk "{ t += \$1 + \$2 / 1e9 } END { printf \"%d\n\", t * 10 }"
}

test_expect_success STRACE '--bwlimit paces what split -r sends' '
	ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=nanosleep,clock_nanosleep \
		-o tr \
		cbup split --bwlimit 100k -r ":$S" -n paced c 2>err &&
	tenths=$(sleeps tr) && echo "slept $tenths tenths of a second" &&
	test "$tenths" -ge 30 && test "$tenths" -le 40 &&
	cbup join -r ":$S" paced >out &&
	cmp c out
'

# At 1 KiB/s these 400000 bytes would be worth over six minutes: a local
# split does not sleep at all, as bup leaves the limit alone there.
test_expect_success STRACE '--bwlimit does not slow down a local split' '
	lcg 4 400000 >d &&
	ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=nanosleep,clock_nanosleep \
		-o tr \
		cbup split --bwlimit 1k -n local d &&
	test "$(sleeps tr)" = 0 &&
	cbup join local >out &&
	cmp d out
'

# bup dies with a ValueError traceback (exit 1) on a bad number
test_expect_success '--bwlimit takes bup numbers' '
	cbup split --bwlimit 1.5k --noop -t a >/dev/null &&
	test_must_fail cbup split --bwlimit lots --noop -t a 2>err &&
	grep -qx "error: invalid number for --bwlimit: '"'"'lots'"'"'" err
'

# memtest: a header, a row for 0 and one per cycle, then the search
# counts of bloom, midx and idx lookups (each only if it searched), then
# the total time.
memtest_rows() {
	sed -n "1p" out | grep -q "^ *RSS *MajFlt *user *sys *ms $" &&
	for n in $(seq 0 "$2" "$1"); do
		grep -q "^ *$n  " out || return 1
	done
}

test_expect_success 'setup: several packs, a midx, a bloom filter' '
	for i in 5 6 7; do
		lcg $i $((i * 40000)) >p$i &&
		cbup split -n p$i p$i || return 1
	done &&
	cbup midx -f >/dev/null 2>&1 &&
	cbup bloom >/dev/null 2>&1 &&
	lcg 8 50000 >p8 &&
	cbup split -n p8 p8 &&
	ls "$BUP_DIR"/objects/pack/*.midx &&
	test -f "$BUP_DIR"/objects/pack/bup.bloom
'

test_expect_success 'memtest: random ids, asked of the bloom filter' '
	cbup memtest -n 50 -c 3 >out &&
	test $(wc -l <out) -ge 6 &&
	memtest_rows 150 50 &&
	grep -q "^bloom: 150 objects searched in [0-9]* steps: avg [0-9.]* steps/object$" out &&
	tail -n 1 out | grep -q "^Total time: [0-9]*\.[0-9][0-9][0-9]s$"
'

# bup counts an idx search per call, less one per midx asked: for ids
# that are all found, the midx and idx counts add up to the lookups (a
# count of 0 is not printed).  The first lookup finds its id in the
# bloom filter, which is then left alone until a lookup misses.
test_expect_success 'memtest --existing: every lookup finds its object' '
	cbup memtest -n 400 -c 2 --existing >out &&
	memtest_rows 800 400 &&
	grep -qx "bloom: 1 objects searched in 5 steps: avg 5.000 steps/object" out &&
	m=$(sed -n "s/^midx: \([0-9]*\) objects .*/\1/p" out) &&
	i=$(sed -n "s/^idx: \([0-9]*\) objects .*/\1/p" out) &&
	test -n "$m" &&
	test $((m + ${i:-0})) = 800 &&
	if test -n "$i"; then lines=8; else lines=7; fi &&
	test $(wc -l <out) = $lines &&
	tail -n 1 out | grep -q "^Total time: "
'

test_expect_success 'memtest --existing --ignore-midx: only idx lookups' '
	cbup memtest -n 400 -c 2 --existing --ignore-midx >out &&
	! grep -q "^midx:" out &&
	grep -qx "bloom: 1 objects searched in 5 steps: avg 5.000 steps/object" out &&
	grep -q "^idx: 800 objects searched in [0-9]* steps: " out
'

test_expect_success GIT 'memtest --existing cycles through the ids again' '
	test $(count_objects "$BUP_DIR") -lt 1500 &&
	cbup memtest -n 1000 -c 3 --existing --ignore-midx >out &&
	grep -q "^idx: 3000 objects searched" out
'

test_expect_success 'memtest --ignore-midx: random ids without the midx' '
	cbup memtest -n 100 -c 1 --ignore-midx >out &&
	! grep -q "^midx:" out &&
	grep -q "^bloom: 100 objects searched" out
'

test_expect_success 'memtest without a bloom filter: every id goes to the indexes' '
	mv "$BUP_DIR"/objects/pack/bup.bloom bloom.saved &&
	cbup memtest -n 100 -c 1 >out &&
	mv bloom.saved "$BUP_DIR"/objects/pack/bup.bloom &&
	! grep -q "^bloom:" out &&
	grep -q "^midx: [0-9]* objects searched" out
'

test_expect_success 'memtest --existing on an empty repository fails (bup spins)' '
	BUP_DIR="$TRASH/empty" cbup init >/dev/null 2>&1 &&
	test_expect_code 1 env BUP_DIR="$TRASH/empty" \
		cbup memtest -n 10 -c 1 --existing >out 2>err &&
	grep -qx "error: --existing: no objects in the repository'"'"'s indexes" err &&
	BUP_DIR="$TRASH/empty" cbup memtest -n 10 -c 1 >out &&
	grep -qx "idx: 10 objects searched in 0 steps: avg 0.000 steps/object" out
'

test_expect_success 'memtest: usage errors' '
	test_expect_code 97 cbup memtest extra 2>err &&
	grep -qx "error: no arguments expected" err &&
	test_expect_code 97 cbup memtest --existing=1 2>err &&
	grep -q "^usage: bup memtest" err
'

# -0 is a level like any other (bup: zlib.compressobj(0), stored blocks),
# not an absent option.  (The saves record the file's atime, so their
# packs may differ by a byte.)
test_expect_success '-0 and --compress=0 store, -9 compresses (split, save)' '
	seq 1 40000 >text &&
	mkdir -p lvt && cp text lvt/ &&
	for l in -0 --compress=0 -9; do
		rm -rf lv &&
		cbup -d lv init >/dev/null 2>&1 &&
		cbup -d lv split $l -t text >/dev/null &&
		cat lv/objects/pack/*.pack | wc -c >"split$l" &&
		rm -rf lv &&
		cbup -d lv init >/dev/null 2>&1 &&
		cbup -d lv index lvt >/dev/null &&
		cbup -d lv save $l -t lvt >/dev/null &&
		cat lv/objects/pack/*.pack | wc -c >"save$l" || return 1
	done &&
	test $(cat split-0) -gt $(wc -c <text) &&
	test $(cat split--compress=0) = $(cat split-0) &&
	test $(cat split-9) -lt $(($(wc -c <text) / 2)) &&
	test $(cat save-0) -gt $(wc -c <text) &&
	test $(cat save--compress=0) -gt $(wc -c <text) &&
	test $(cat save-9) -lt $(($(wc -c <text) / 2))
'

# (with cbup.compressor = zlib: libdeflate, the default, stores other bytes)
test_expect_success BUP 'split -0, compressor zlib: bup'"'"'s pack, byte for byte' '
	rm -rf lb lc &&
	bup -d lb init >/dev/null 2>&1 && cbup -d lc init >/dev/null 2>&1 &&
	git --git-dir=lc config cbup.compressor zlib &&
	bup -d lb split -0 -t text >/dev/null 2>&1 &&
	cbup -d lc split -0 -t text >/dev/null &&
	(cd lb/objects/pack && ls pack-* && cat pack-*.pack | wc -c) >expect &&
	(cd lc/objects/pack && ls pack-* && cat pack-*.pack | wc -c) >actual &&
	test_cmp expect actual
'

test_done
