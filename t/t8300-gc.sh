#!/bin/sh
# cbup gc against real bup 0.33.7 (lib/bup/gc.py): what no ref reaches
# goes, what one reaches restores byte for byte; a pack with a dead tree
# is rewritten (no incomplete tree survives); the same objects remain as
# after bup's gc of the same repository, and in zlib mode the same pack
# files; bup's verbose lines, usage errors, missing-object stop and
# --ignore-missing report; each tool reads what the other collected;
# and the gc lock (FORMAT.md 14, an flock on objects/): gc waits for
# writers, writers wait for gc.
. "$(dirname "$0")/test-lib.sh"

P=objects/pack

# objects REPO: every object of REPO, sorted ("id type size" lines)
objects() {
	git --git-dir="$1" cat-file --batch-all-objects --batch-check |
		sort
}

# restores REPO PATH DIR: restore PATH of REPO and compare it with DIR
restores() {
	rm -rf "$TRASH/r" &&
	cbup -d "$1" restore -C "$TRASH/r" "$2" >/dev/null &&
	diff -r "$3" "$TRASH/r/$(basename "$2")"
}

# hold -s|-x FILE: hold an flock on FILE in a background process (pid in
# $holder) and return once it is held
hold() {
	rm -f held
	sh -c 'exec 9<"$2" && flock "$1" 9 && touch held && exec sleep 600' \
		sh "$1" "$2" &
	holder=$!
	wait_for_file held
}

# wait_for_file FILE [LINE]: poll (60 s at most) until FILE exists, or
# has the line LINE
wait_for_file() {
	n=0
	while ! { test -e "$1" && { test $# = 1 || grep -qx "$2" "$1"; }; }; do
		n=$((n + 1))
		test $n -lt 600 || return 1
		sleep 0.1
	done
}

# in_bg ERRFILE CMD...: CMD in the background, stderr to ERRFILE, pid in
# $bgpid.  ERRFILE is emptied before the command starts: truncated by the
# background job's own redirection, a file of the same name from an
# earlier case could still hold the line a wait_for_file is looking for.
in_bg() {
	f=$1
	shift
	: >"$f" || return 1
	"$@" 2>>"$f" &
	bgpid=$!
}

# pack_of REPO OID: the pack (without .idx) of REPO that holds OID
pack_of() {
	for i in "$1"/objects/pack/*.idx; do
		if git show-index <"$i" | grep -q " $2 "; then
			echo "${i%.idx}"
		fi
	done
}

# fsck_clean REPO: git fsck --strict (dangling aside) and cbup fsck pass
fsck_clean() {
	git --git-dir="$1" fsck --strict --no-dangling 2>fsck.err &&
	! grep -v "^Checking\|notice: HEAD points to an unborn" fsck.err &&
	cbup -d "$1" fsck
}

test_expect_success 'setup: two branches, one of them large' '
	mkdir -p src/a src/b &&
	lcg 1 2000 >src/a/1 && lcg 2 3000000 >src/b/1 &&
	echo small >src/a/2 &&
	cbup init >/dev/null 2>&1 &&
	cbup index src >/dev/null &&
	cbup save --strip -n ab src &&
	cbup index --clear && cbup index src/a >/dev/null &&
	cbup save --strip -n a src/a &&
	test $(ls "$BUP_DIR/$P"/*.pack | wc -l) = 2 &&
	cp -a "$BUP_DIR" base
'

test_expect_success 'nothing unreachable: every pack kept, nothing lost' '
	objects "$BUP_DIR" >before &&
	cbup gc -v 2>err &&
	grep "^found [0-9]* objects$" err &&
	grep "^keeping b.pack-[0-9a-f]\{7\}\*\.idx. (100% live)$" err &&
	grep "^discarded 0% of objects$" err &&
	objects "$BUP_DIR" >after &&
	test_cmp before after &&
	restores "$BUP_DIR" /a/latest src/a &&
	restores "$BUP_DIR" /ab/latest src
'

test_expect_success 'a removed branch: its data goes, the rest restores' '
	du -sk "$BUP_DIR/objects" | cut -f1 >size.before &&
	rm "$BUP_DIR/refs/heads/ab" &&
	cbup gc -v 2>err &&
	grep "^rewriting b.pack-[0-9a-f]*\.idx. ([0-9.]*% live)$" err &&
	grep "^created pack-[0-9a-f]\{40\}$" err &&
	grep "^removing pack-[0-9a-f]\{40\}\.pack$" err &&
	du -sk "$BUP_DIR/objects" | cut -f1 >size.after &&
	test $(cat size.before) -gt 2500 && test $(cat size.after) -lt 200 &&
	restores "$BUP_DIR" /a/latest src/a &&
	test_must_fail cbup restore -C r2 /ab/latest 2>err &&
	blob=$(git --git-dir=base ls-tree "ab:b/1.bup" | awk "NR == 1 { print \$3 }") &&
	test -n "$blob" && git --git-dir=base cat-file -e "$blob" &&
	test_must_fail git --git-dir="$BUP_DIR" cat-file -e "$blob" &&
	fsck_clean "$BUP_DIR" &&
	ls "$BUP_DIR/$P" >packs &&
	grep "^bup\.bloom$" packs &&
	! grep "lock\|tmp" packs
'

test_expect_success BUP 'the same objects remain as after bup gc' '
	for t in 0 10 50 100; do
		rm -rf b c && cp -a base b && cp -a base c &&
		rm b/refs/heads/ab c/refs/heads/ab &&
		bup -d b gc --unsafe --threshold $t >/dev/null 2>&1 &&
		cbup -d c gc --threshold $t 2>err &&
		! test -s err &&
		objects b >obj.b && objects c >obj.c &&
		test_cmp obj.b obj.c || return 1
	done
'

test_expect_success BUP 'zlib mode: the same pack files and lines as bup gc -v' '
	rm -rf b c z && cbup -d z init >/dev/null 2>&1 &&
	git --git-dir=z config cbup.compressor zlib &&
	cbup -d z index src >/dev/null &&
	cbup -d z save --strip -n ab src &&
	cbup -d z index --clear && cbup -d z index src/a >/dev/null &&
	cbup -d z save --strip -n a src/a &&
	mkdir -p more && lcg 3 400000 >more/3 &&
	cbup -d z index more >/dev/null &&
	cbup -d z save -n more more &&
	cp -a z b && cp -a z c &&
	rm b/refs/heads/ab c/refs/heads/ab &&
	bup -d b gc --unsafe -v 2>err.b &&
	cbup -d c gc -v 2>err.c &&
	ls b/$P | grep "\.pack$" >packs.b &&
	ls c/$P | grep "\.pack$" >packs.c &&
	test_cmp packs.b packs.c &&
	grep "^created " err.c &&
	sort err.b >sorted.b && sort err.c >sorted.c &&
	test_cmp sorted.b sorted.c
'

test_expect_success BUP 'a rewrite removes incomplete trees (bup 0.33.7)' '
	rm -rf it && cbup -d it init >/dev/null 2>&1 &&
	git --git-dir=it config pack.packSizeLimit 1000k &&
	mkdir -p st/1-hold st/2-straddle st/3-transient &&
	lcg 11 945000 >st/3-transient/data &&
	lcg 12 100000 >st/2-straddle/data &&
	lcg 13 945000 >st/1-hold/data &&
	cbup -d it index st >/dev/null &&
	cbup -d it save --strip -n src st &&
	test $(ls it/$P/*.pack | wc -l) = 2 &&
	cbup -d complete init >/dev/null 2>&1 &&
	cbup -d complete index st >/dev/null &&
	cbup -d complete save --strip -n src st &&
	cbup -d it get --append: src/latest/1-hold hold >/dev/null 2>&1 &&
	cbup -d it rm --unsafe src &&
	cbup -d it gc -v --threshold 10 2>err &&
	cbup -d it get -s complete --append src >/dev/null 2>&1 &&
	cbup -d it join "$(git --git-dir=it rev-parse src)" >/dev/null &&
	bup -d it join "$(git --git-dir=it rev-parse src)" >/dev/null &&
	fsck_clean it
'

test_expect_success BUP 'each tool reads what the other collected' '
	rm -rf b c && cp -a base b && cp -a base c &&
	rm b/refs/heads/ab c/refs/heads/ab &&
	bup -d b gc --unsafe >/dev/null 2>&1 &&
	cbup -d c gc &&
	rm -rf r && cbup -d b restore -C r /a/latest >/dev/null &&
	diff -r src/a r/latest &&
	rm -rf r && bup -d c restore -C r /a/latest >/dev/null 2>&1 &&
	diff -r src/a r/latest &&
	bup -d c fsck && fsck_clean b &&
	mkdir -p bupsrc/x bupsrc/y &&
	lcg 5 300000 >bupsrc/x/x && echo y >bupsrc/y/y &&
	bup -d bb init >/dev/null 2>&1 &&
	bup -d bb index bupsrc >/dev/null &&
	bup -d bb save --strip -n x bupsrc/x >/dev/null 2>&1 &&
	bup -d bb save --strip -n y bupsrc/y >/dev/null 2>&1 &&
	rm bb/refs/heads/x &&
	cbup -d bb gc &&
	rm -rf r && bup -d bb restore -C r /y/latest >/dev/null 2>&1 &&
	diff -r bupsrc/y r/latest &&
	test_must_fail git --git-dir=bb cat-file -e \
		$(git hash-object bupsrc/x/x | cut -c1-40) &&
	fsck_clean bb
'

test_expect_success 'gc keeps tags and reflogs are emptied' '
	rm -rf c && cp -a base c &&
	cbup -d c tag keep ab &&
	rm c/refs/heads/ab &&
	mkdir -p c/logs/refs/heads &&
	echo "0000000000000000000000000000000000000000 $(git --git-dir=base rev-parse ab) A <a@b> 1 +0000	x" \
		>c/logs/refs/heads/ab &&
	cbup -d c gc &&
	! test -s c/logs/refs/heads/ab &&
	rm -rf r && cbup -d c restore -C r /.tag/keep >/dev/null &&
	diff -r src r/keep &&
	fsck_clean c
'

test_expect_success BUP 'a missing tree stops gc as bup, nothing changed' '
	rm -rf b c && cp -a base b &&
	mkdir -p m && lcg 7 200 >m/lost && echo kept >m/kept &&
	cbup -d b index m >/dev/null &&
	cbup -d b save --strip -n tmp m &&
	victim=$(pack_of b $(git --git-dir=b rev-parse tmp^{tree})) &&
	test -n "$victim" &&
	cbup -d b save --strip -n m m &&
	test "$(pack_of b $(git --git-dir=b rev-parse m^{tree}))" = "$victim" &&
	test "$(pack_of b $(git --git-dir=b rev-parse m))" != "$victim" &&
	rm b/refs/heads/tmp "$victim.pack" "$victim.idx" &&
	rm -f b/$P/*.midx b/$P/bup.bloom &&
	cp -a b c &&
	ls c/$P >before &&
	record_rc rc.b bup -d b gc --unsafe 2>err.b &&
	record_rc rc.c cbup -d c gc 2>err.c &&
	test_cmp rc.b rc.c && echo 1 >want && test_cmp want rc.c &&
	test_cmp err.b err.c &&
	tree=$(git --git-dir=c cat-file commit m | sed -n "s/^tree //p") &&
	grep "^bup: missing object .$tree. $" err.c &&
	ls c/$P >after && test_cmp before after
'

test_expect_success BUP 'a missing blob goes unnoticed without --ignore-missing, as bup' '
	rm -rf b c && cp -a base b &&
	lcg 8 200 >m/lost &&
	cbup -d b split -n tmp m/lost >/dev/null &&
	victim=$(pack_of b $(git hash-object m/lost)) &&
	test -n "$victim" &&
	cbup -d b index m >/dev/null &&
	cbup -d b save --strip -n mb m &&
	rm b/refs/heads/tmp "$victim.pack" "$victim.idx" &&
	rm -f b/$P/*.midx b/$P/bup.bloom &&
	cp -a b c &&
	record_rc rc.b bup -d b gc --unsafe 2>err.b &&
	record_rc rc.c cbup -d c gc 2>err.c &&
	test_cmp rc.b rc.c && echo 0 >want && test_cmp want rc.c &&
	test_cmp err.b err.c &&
	rm -rf b2 c2 && cp -a c b2 && cp -a c c2
'

test_expect_success BUP '--ignore-missing: bup'"'"'s report, exit 1, the rest kept' '
	rm -rf b2 c2 && cp -a c b2 && cp -a c c2 &&
	record_rc rc.b bup -d b2 gc --unsafe --ignore-missing 2>err.b &&
	record_rc rc.c cbup -d c2 gc --ignore-missing 2>err.c &&
	test_cmp rc.b rc.c && echo 1 >want && test_cmp want rc.c &&
	test_cmp err.b err.c &&
	grep "^missing refs/heads/mb:[0-9a-f]\{40\}/lost$" err.c &&
	rm -rf r && cbup -d c2 restore -C r /a/latest >/dev/null &&
	diff -r src/a r/latest
'

test_expect_success BUP 'usage errors: bup'"'"'s messages and exit codes' '
	for a in "--threshold x" "--threshold 101" "--threshold -1" \
		 "extra" "--nosuch"; do
		record_rc rc.b bup gc --unsafe $a 2>err.b &&
		record_rc rc.c cbup gc --unsafe $a 2>err.c &&
		test_cmp rc.b rc.c && test_cmp err.b err.c || return 1
	done &&
	echo 97 >want && test_cmp want rc.c &&
	record_rc rc.b bup gc -h 2>help.b &&
	record_rc rc.c cbup gc -h 2>help.c &&
	test_cmp rc.b rc.c && test_cmp help.b help.c
'

test_expect_success 'an empty repository: nothing to collect' '
	cbup -d empty init >/dev/null 2>&1 &&
	cbup -d empty gc -v 2>err &&
	printf "found 0 objects\nnothing to collect\n" >want &&
	test_cmp want err
'

test_expect_success 'gc waits for a writer holding the lock' '
	rm -rf c && cp -a base c && rm c/refs/heads/ab &&
	hold -s c/objects &&
	in_bg gc.err cbup -d c gc -v &&
	gcpid=$bgpid &&
	wait_for_file gc.err \
		"gc: waiting for the running save, get, split or server to finish" &&
	! grep "^found" gc.err &&
	kill -0 $gcpid &&
	kill $holder &&
	wait $gcpid &&
	grep "^discarded [0-9]*% of objects$" gc.err &&
	restores c /a/latest src/a
'

test_expect_success 'a waiting gc is not starved by new writers' '
	rm -rf c && cp -a base c && rm c/refs/heads/ab &&
	hold -s c/objects &&
	in_bg gc.err cbup -d c gc &&
	gcpid=$bgpid &&
	wait_for_file gc.err \
		"gc: waiting for the running save, get, split or server to finish" &&
	mkdir -p w2 && echo late >w2/f &&
	in_bg late.err cbup -d c split -n late w2/f &&
	lpid=$bgpid &&
	wait_for_file late.err "waiting for the running gc to finish" &&
	kill -0 $gcpid && kill -0 $lpid &&
	kill $holder &&
	wait $gcpid && wait $lpid &&
	git --git-dir=c rev-parse -q --verify late &&
	restores c /a/latest src/a
'

test_expect_success 'writers wait for a running gc' '
	rm -rf c && cp -a base c &&
	hold -x c/objects &&
	mkdir -p w && echo w >w/f &&
	cbup -d c index w >/dev/null &&
	in_bg save.err cbup -d c save --strip -n w w &&
	spid=$bgpid &&
	in_bg tag.err cbup -d c tag t a &&
	tpid=$bgpid &&
	in_bg split.err cbup -d c split -n sp w/f &&
	ppid=$bgpid &&
	for f in save.err tag.err split.err; do
		wait_for_file $f "waiting for the running gc to finish" ||
		return 1
	done &&
	kill -0 $spid && kill -0 $tpid && kill -0 $ppid &&
	! git --git-dir=c rev-parse -q --verify w &&
	kill $holder &&
	wait $spid && wait $tpid && wait $ppid &&
	git --git-dir=c rev-parse -q --verify refs/tags/t &&
	git --git-dir=c rev-parse -q --verify sp &&
	restores c /w/latest w
'

test_done
