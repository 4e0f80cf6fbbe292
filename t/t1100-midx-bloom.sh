#!/bin/sh
# cbup midx / bloom / margin against real bup 0.33.7 (FORMAT.md 2.5, 2.6):
# byte-identical files, each accepts the other's, dedup through cbup's
# files, corruption reported cleanly, same messages and exit codes.
. "$(dirname "$0")/test-lib.sh"

P=objects/pack

test_expect_success BUP 'setup: a bup repository with two packs' '
	bup init >/dev/null 2>&1 &&
	lcg 1 1500000 >f1 && lcg 2 900000 >f2 &&
	bup split -n a f1 >/dev/null 2>&1 &&
	bup split -n b f2 >/dev/null 2>&1 &&
	test $(ls "$BUP_DIR/$P"/*.idx | wc -l) = 2 &&
	rm -f "$BUP_DIR/$P"/*.midx "$BUP_DIR/$P/bup.bloom" &&
	cp -a "$BUP_DIR" "$TRASH/bup-copy"
'

test_expect_success BUP 'midx -f: byte-identical to bup, same name' '
	cbup midx -f &&
	BUP_DIR="$TRASH/bup-copy" bup midx -f &&
	ls "$BUP_DIR/$P"/*.midx | sed "s,.*/,," >ours &&
	ls "$TRASH/bup-copy/$P"/*.midx | sed "s,.*/,," >theirs &&
	test $(wc -l <ours) = 1 &&
	cmp "$BUP_DIR/$P/$(cat ours)" "$TRASH/bup-copy/$P/$(cat theirs)"
'

test_expect_success BUP 'midx --check: bup accepts cbup midx, cbup accepts it' '
	bup midx --check -a 2>err && grep "All tests passed" err &&
	cbup midx --check -a 2>err && grep "All tests passed" err &&
	grep "^Checking objects/pack/midx-[0-9a-f]\{7\}\*\.midx\.$" err
'

test_expect_success BUP 'bloom: byte-identical to bup, bup bloom -c accepts' '
	cbup bloom &&
	BUP_DIR="$TRASH/bup-copy" bup bloom &&
	cmp "$BUP_DIR/$P/bup.bloom" "$TRASH/bup-copy/$P/bup.bloom" &&
	for i in "$BUP_DIR/$P"/*.idx; do
		bup bloom -c "${i##*/}" 2>err &&
		grep "All tests passed" err &&
		cbup bloom -c "${i##*/}" 2>err2 &&
		test_cmp err err2 || return 1
	done
'

test_expect_success BUP 'bloom update in place matches bup' '
	lcg 3 300000 >f3 &&
	bup split -n c f3 >/dev/null 2>&1 &&
	cp -a "$BUP_DIR/$P"/pack-* "$TRASH/bup-copy/$P/" &&
	cp "$BUP_DIR/$P/bup.bloom" "$TRASH/bup-copy/$P/bup.bloom" &&
	rm -f "$BUP_DIR/$P"/*.midx "$TRASH/bup-copy/$P"/*.midx &&
	cbup bloom && BUP_DIR="$TRASH/bup-copy" bup bloom &&
	cmp "$BUP_DIR/$P/bup.bloom" "$TRASH/bup-copy/$P/bup.bloom"
'

# A table of several MiB: the in-place update walks it in order and
# releases what it has passed (bloom.c, bloom_add_shas_sorted); the bits
# must still be bup's.
test_expect_success BUP 'bloom update in place of a large table matches bup' '
	cbup -d big1 init >/dev/null 2>&1 &&
	"$CBUP_BUILD/test-tool" gen-packs big1/objects 1300000 200000 7 &&
	cbup -d big1 bloom &&
	test $(wc -c <big1/objects/pack/bup.bloom) -gt 4000000 &&
	cp -a big1 big2 &&
	lcg 4 200000 >f4 &&
	cbup -d big1 split -n d f4 >/dev/null &&
	cp big1/objects/pack/bup.bloom cbup.bloom &&
	cp -a big1/objects/pack/pack-* big2/objects/pack/ &&
	bup -d big2 bloom &&
	cmp cbup.bloom big2/objects/pack/bup.bloom
'

test_expect_success BUP 'bup split dedups through cbup midx and bloom' '
	cbup midx -f && cbup bloom &&
	n=$(ls "$BUP_DIR/$P"/*.pack | wc -l) &&
	bup split -t f1 >/dev/null 2>&1 &&
	test $(ls "$BUP_DIR/$P"/*.pack | wc -l) = $n
'

test_expect_success BUP 'margin: same output as bup' '
	bup margin >m1 2>e1 && cbup margin >m2 2>e2 &&
	test_cmp m1 m2 && test_cmp e1 e2 &&
	record_rc r1 bup margin --ignore-midx --predict >p1 2>/dev/null &&
	record_rc r2 cbup margin --ignore-midx --predict >p2 2>/dev/null &&
	test_cmp p1 p2 && test_cmp r1 r2
'

test_expect_success BUP 'usage errors as bup: exit 97 and message' '
	test_expect_code 97 bup midx 2>e1 &&
	test_expect_code 97 cbup midx 2>e2 && test_cmp e1 e2 &&
	test_expect_code 97 bup midx --check 2>e1 &&
	test_expect_code 97 cbup midx --check 2>e2 && test_cmp e1 e2 &&
	test_expect_code 97 bup bloom -k 3 2>e1 &&
	test_expect_code 97 cbup bloom -k 3 2>e2 && test_cmp e1 e2
'

# Progress on a terminal (BUP_FORCE_TTY=3; stderr is a file here): the
# lines bup bloom (do_bloom's progress/qprogress) and bup midx (the C
# merge_into, one per 102424 ids) print while they write, byte for byte.
# tty_both ARGS: bup on tb, cbup on tc (copies of one repository); their
# stderr in tb.err and tc.err must be the same bytes.
tty_both() {
	BUP_DIR="$TRASH/tb" BUP_FORCE_TTY=3 bup "$@" >/dev/null 2>tb.err &&
	BUP_DIR="$TRASH/tc" BUP_FORCE_TTY=3 cbup "$@" >/dev/null 2>tc.err &&
	test_cmp tb.err tc.err
}
# nobjs REPO: how many ids REPO's idx files hold
nobjs() {
	for i in "$1/$P"/*.idx; do git show-index <"$i" || return 1; done |
	wc -l
}

# Only the first "writing" line: the next idx comes within bup's 0.1 s.
test_expect_success BUP 'tty: bloom creating a filter prints bup'"'"'s lines' '
	bup -d tb init >/dev/null 2>&1 &&
	bup -d tb split -n a f1 >/dev/null 2>&1 &&
	bup -d tb split -n b f2 >/dev/null 2>&1 &&
	rm -f tb/$P/bup.bloom tb/$P/*.midx && cp -a tb tc &&
	n=$(nobjs tb) && test "$n" -gt 0 &&
	tty_both bloom &&
	printf "bloom: counting: %s\r" 0 1 >expect &&
	printf "bloom: creating from 2 files (%s objects).\r" $n >>expect &&
	printf "bloom: writing 0.00%% (0/%s objects)\r" $n >>expect &&
	test_cmp expect tc.err &&
	BUP_DIR=tc cbup bloom -f 2>err && test_cmp /dev/null err
'

test_expect_success BUP 'tty: bloom with nothing to do counts as bup' '
	tty_both bloom &&
	printf "bloom: counting: %s\r" 0 1 >expect &&
	test_cmp expect tc.err
'

test_expect_success BUP 'tty: bloom adding to a filter prints bup'"'"'s lines' '
	bup -d tx init >/dev/null 2>&1 && lcg 5 100000 >f5 &&
	bup -d tx split -n e f5 >/dev/null 2>&1 &&
	cp tx/$P/pack-* tb/$P/ && cp tx/$P/pack-* tc/$P/ &&
	k=$(nobjs tx) && test "$k" -gt 0 &&
	tty_both bloom &&
	printf "bloom: counting: %s\r" 0 1 2 >expect &&
	printf "bloom: adding 1 file (%s objects).\r" $k >>expect &&
	printf "bloom: writing 0.00%% (0/%s objects)\r" $k >>expect &&
	test_cmp expect tc.err
'

# 7 packs of 30000 ids: -a merges the 6 smallest (180000 ids, lines at 0
# and 102424), -f all 7 (210000 ids, three lines); then nothing to do.
test_expect_success BUP 'tty: midx -a and -f print bup'"'"'s lines' '
	rm -rf tb tc && cbup -d tb init >/dev/null 2>&1 &&
	"$CBUP_BUILD/test-tool" gen-packs tb/objects 210000 30000 9 &&
	cp -a tb tc &&
	tty_both midx -a &&
	printf "midx: writing %s\r" "0.00% (0/180000)" \
		"56.90% (102424/180000)" >expect &&
	test_cmp expect tc.err &&
	tty_both midx -f &&
	printf "midx: writing %s\r" "0.00% (0/210000)" \
		"48.77% (102424/210000)" "97.55% (204848/210000)" >expect &&
	test_cmp expect tc.err &&
	tty_both midx -a && test_cmp /dev/null tc.err &&
	BUP_DIR=tc cbup midx -f 2>err && test_cmp /dev/null err
'

# Corruption: copies of the midx with bytes changed at computed offsets.
corrupt_midx() {
	m=$(ls "$BUP_DIR/$P"/*.midx | head -1) &&
	cp "$m" "$TRASH/good.midx" &&
	python3 -c '
import sys, struct
p, how = sys.argv[1], sys.argv[2]
d = bytearray(open(p, "rb").read())
bits = struct.unpack("!I", d[8:12])[0]; nf = 1 << bits
n = struct.unpack("!I", d[8 + 4 * nf:12 + 4 * nf])[0]
w = 12 + 4 * nf + 20 * n + 4 * 3
if how == "truncate": d = d[:12 + 4 * nf + 20 * n // 2]
if how == "header": d[5] ^= 0x40
if how == "fanout": d[8 + 4 * nf:12 + 4 * nf] = struct.pack("!I", n + 1000)
if how == "which": d[w:w + 4] = struct.pack("!I", 99)
open(p, "wb").write(d)
' "$m" "$1"
}

for how in truncate header fanout which; do
	test_expect_success BUP "corrupt midx ($how): --check fails cleanly" '
		corrupt_midx '$how' &&
		test_must_fail cbup midx --check -a 2>err &&
		grep "corrupt midx" err && grep "midx-[0-9a-f]*\.midx" err &&
		grep "WARNING: 1 errors encountered." err &&
		cp "$TRASH/good.midx" "$m"
	'
done

test_expect_success BUP 'corrupt bloom: --check fails cleanly' '
	b="$BUP_DIR/$P/bup.bloom" && cp "$b" good.bloom &&
	i=$(ls "$BUP_DIR/$P"/*.idx | head -1) && i=${i##*/} &&
	head -c 1000 good.bloom >"$b" &&
	test_must_fail cbup bloom -c "$i" 2>err &&
	grep "bup.bloom.* is invalid" err &&
	cp good.bloom "$b" && printf "\377" | dd of="$b" bs=1 seek=11 conv=notrunc 2>/dev/null &&
	test_must_fail cbup bloom -c "$i" 2>err &&
	grep "corrupt bloom" err &&
	cp good.bloom "$b" && cbup bloom --ruin &&
	test_must_fail cbup bloom -c "$i" 2>err &&
	grep "bloom: ERROR: object [0-9a-f]* missing" err &&
	cbup bloom -f && cbup bloom -c "$i"
'

test_done
