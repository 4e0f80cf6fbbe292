#!/bin/sh
# bup drecurse and bup index against real bup on the same generated tree:
# names with spaces, newlines, non-UTF-8 bytes, hard links, symlinks,
# special files (FORMAT.md 8.1-8.4).  The index files cbup writes are
# compared with bup's field by field (t/helper/bupindex-dump.py): every
# mtime is set in the past, every ctime is older than a second before
# indexing (so bup's tmax clamp never applies, except in the test made to
# exercise it) and every atime is settled (see settle()).
. "$(dirname "$0")/test-lib.sh"

make_tree() {
	mkdir -p "$1/a b/c" "$1/sub/deep/er" "$1/x.d" "$1/skip/me" &&
	echo 1 >"$1/a b/c/f 1" &&
	printf x >"$1/$(printf 'new\nline')" &&
	: >"$1/$(printf 'bad\377\376')" &&
	ln -s "a b" "$1/link" &&
	ln -s /nonexistent "$1/dangling" &&
	: >"$1/sub/deep/er/z" && : >"$1/sub/y" &&
	ln "$1/sub/y" "$1/hl1" && ln "$1/sub/y" "$1/hl2" &&
	mkfifo "$1/fifo" &&
	: >"$1/a-b" && : >"$1/a.b" && : >"$1/skip/me/file" &&
	printf '%s\n' "$PWD/$1/skip" >excl.txt &&
	printf '%s\n' 'deep/' '[\d]$' >rx.txt
}

test_expect_success 'setup' '
	make_tree t
'

# run "bup drecurse ARGS" with both, compare stdout, stderr and status
cmp_drecurse() {
	{ "$BUP" drecurse "$@" >bup.out 2>bup.err; echo "rc $?" >>bup.out; } &&
	{ cbup drecurse "$@" >cbup.out 2>cbup.err; echo "rc $?" >>cbup.out; } &&
	test_cmp bup.out cbup.out &&
	test_cmp bup.err cbup.err
}

for args in "t" "t/" "$TRASH/t" "t/link" "t/hl1" "t/fifo" "-q t" \
	"--exclude t/sub t" "--exclude $TRASH/t/sub/deep $TRASH/t" \
	"--exclude-from excl.txt t" "--exclude-rx ^t/a t" \
	"--exclude-rx b\$ $TRASH/t" "--exclude-rx [\\d] t" \
	"--exclude-rx \\s t" "--exclude-rx-from rx.txt t" "-x t" \
	"nonexistent" "--exclude-from nofile t" "t t" ""; do
	test_expect_success BUP "drecurse $args" 'cmp_drecurse $args'
done

# regcomp's message differs from Python's re.error text; the usage and
# the exit status do not
test_expect_success 'drecurse rejects a bad --exclude-rx' '
	test_expect_code 97 cbup drecurse --exclude-rx "(" t 2>err &&
	grep "^error: invalid --exclude-rx pattern" err
'

test_expect_success BUP 'drecurse order equals bup index -p order' '
	"$BUP" init >/dev/null 2>&1 &&
	"$BUP" index "$TRASH/t" &&
	"$BUP" index -p "$TRASH/t" >index.out &&
	cbup drecurse "$TRASH/t" >drecurse.out &&
	test_cmp index.out drecurse.out
'

# ---- bup index -------------------------------------------------------

DUMP="$TOP/t/helper/bupindex-dump.py"

# Reading updates atimes once after a change (relatime), and save records
# atimes: read everything first so both saves see the same ones.
burn_atimes() {
	find "$1" -type f -exec cat {} + >/dev/null &&
	find "$1" -type l -exec readlink {} + >/dev/null &&
	ls -laR "$1" >/dev/null
}

# the tree for the index tests: make_tree plus a bigger file and a
# directory with many entries; times in the past, ctimes > 1 s old
make_itree() {
	make_tree "$1" &&
	mkdir "$1/many" "$1/$(printf 'q\047\134\377')" \
		"$1/$(printf '\303\251 \302\205')" &&
	: >"$1/$(printf 'q\047\134\377')/in" &&
	for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
		echo "$i" >"$1/many/f$i" || return 1
	done &&
	lcg 7 300000 >"$1/big" &&
	settle "$1"
}

# every time of the tree in the past, then wait out bup's tmax; last,
# read everything once so that no later read changes an atime (relatime
# updates it on the first read after a change, and both the index and
# save record atimes: whichever tool ran first would see other ones)
settle() {
	find "$1" -exec touch -h -d "2020-01-02 03:04:05.123456789" {} + &&
	sleep 1.1 &&
	burn_atimes "$1"
}

# norm NAME: NAME.err with repository names and rates made comparable
norm() {
	sed -e "s|$TRASH/r[bc]/|REPO/|g" -e "s|$TRASH/r[bc]'|REPO'|g" \
	    -e 's/([0-9]* paths\/s)/(N paths\/s)/g' \
	    -e '/^Warning: Linux xattr support missing/d' \
	    "$1.err" >"$1.err2"
}

# "index ARGS" with bup on repository rb and cbup on rc (with -f
# rX/$IDXF when IDXF is set); stdout, stderr and exit status must match
both_index() {
	{ BUP_DIR="$TRASH/rb" "$BUP" index ${IDXF:+-f "$TRASH/rb/$IDXF"} \
		"$@" >bup.out 2>bup.err; echo "rc $?" >>bup.out; }
	{ BUP_DIR="$TRASH/rc" cbup index ${IDXF:+-f "$TRASH/rc/$IDXF"} \
		"$@" >cbup.out 2>cbup.err; echo "rc $?" >>cbup.out; }
	norm bup && norm cbup &&
	test_cmp bup.out cbup.out &&
	test_cmp bup.err2 cbup.err2
}

# the index, .meta and .hlink files of rb and rc (or rX/$IDXF) agree
cmp_index_files() {
	f=${IDXF:-bupindex}
	python3 "$DUMP" "$TRASH/rb/$f" >b.dump &&
	python3 "$DUMP" "$TRASH/rc/$f" >c.dump &&
	test_cmp b.dump c.dump &&
	cmp "$TRASH/rb/$f.meta" "$TRASH/rc/$f.meta" &&
	if test -e "$TRASH/rb/$f.hlink"; then
		cmp "$TRASH/rb/$f.hlink" "$TRASH/rc/$f.hlink"
	else
		test ! -e "$TRASH/rc/$f.hlink"
	fi
}

test_expect_success BUP 'index setup' '
	make_itree it &&
	"$BUP" -d rb init >/dev/null 2>&1 &&
	"$BUP" -d rc init >/dev/null 2>&1
'

test_expect_success BUP 'index a new tree: output and files as bup' '
	both_index it &&
	cmp_index_files &&
	grep "hl1" b.dump
'

test_expect_success BUP 'the hard link database is the pickle bup writes' '
	test -s rc/bupindex.hlink &&
	python3 -c "import pickle,sys; d=pickle.load(open(sys.argv[1],\"rb\"),encoding=\"bytes\"); print(sorted(sorted(v) for v in d.values()))" rc/bupindex.hlink >hl &&
	grep "hl1" hl && grep "hl2" hl && grep "sub/y" hl
'

for args in "-p" "-s" "-m" "-l" "-H" "-sHl it" "-p it/sub" "-s it/sub/" \
	"-p it/link" "-m $TRASH/it" "-p /" "-s nonexistent it" \
	"-p it it/sub" "-l it/hl1" "-pm it/many" "-s it/fifo" \
	"-p $TRASH/it/many/../sub/" "-p it/dangling"; do
	test_expect_success BUP "index $args as bup" 'both_index $args'
done

test_expect_success BUP 'cbup prints the index bup wrote as bup does' '
	for a in -p -s -l -H -m; do
		BUP_DIR=rb "$BUP" index $a -s it >bup.out 2>&1 &&
		BUP_DIR=rb cbup index $a -s it >cbup.out 2>&1 &&
		test_cmp bup.out cbup.out || return 1
	done
'

test_expect_success BUP 'a path missing from the index: controlled failure' '
	mkdir -p notindexed &&
	test_expect_code 1 env BUP_DIR=rc cbup index -p notindexed 2>err &&
	grep "cannot find b.$TRASH/notindexed/." err &&
	test_expect_code 1 env BUP_DIR=rb "$BUP" index -p notindexed 2>/dev/null
'

test_expect_success BUP 're-index without changes: -v, -vv as bup' '
	both_index -v it &&
	both_index -vv it &&
	cmp_index_files &&
	test $(wc -l <cbup.out) -gt 30
'

test_expect_success BUP 'progress on a terminal as bup' '
	BUP_FORCE_TTY=2 both_index it &&
	grep "Indexing: 0 (N paths/s)" cbup.err2 &&
	grep "Indexing: [0-9]*, done (N paths/s)\\." cbup.err2 &&
	echo more >it/many/new && settle it &&
	BUP_FORCE_TTY=2 both_index it &&
	grep "bup: merging indexes" cbup.err2 &&
	cmp_index_files
'

test_expect_success BUP 'modify, delete and add files, then re-index' '
	echo changed >>"it/a b/c/f 1" &&
	rm "it/$(printf "new\nline")" it/hl2 it/many/f3 &&
	rm -r it/sub/deep &&
	mkdir -p it/newdir/in && echo n >it/newdir/in/file &&
	ln -s elsewhere it/newlink && rm it/link && ln -s x.d it/link &&
	chmod 600 it/a-b &&
	settle it &&
	both_index it &&
	cmp_index_files &&
	both_index -s it &&
	grep "^D it/sub/deep/$" cbup.out &&
	grep "^A it/newdir/in/file$" cbup.out
'

test_expect_success BUP 'save from a cbup index gives the tree bup gives' '
	burn_atimes it &&
	tb=$(BUP_DIR=rb "$BUP" save --strip -t it) &&
	tc=$(BUP_DIR=rc "$BUP" save --strip -t it) &&
	test -n "$tb" && test "$tb" = "$tc" &&
	both_index -s it &&
	! grep "^[AM] it/." cbup.out &&
	cmp_index_files
'

test_expect_success BUP 'cbup save from a bup index gives the tree bup save gives' '
	burn_atimes it &&
	"$BUP" -d re init >/dev/null 2>&1 &&
	"$BUP" -d rf init >/dev/null 2>&1 &&
	BUP_DIR=re "$BUP" index it &&
	cp re/bupindex re/bupindex.meta re/bupindex.hlink rf/ &&
	te=$(BUP_DIR=re "$BUP" save --strip -t it) &&
	tf=$(BUP_DIR=rf cbup save --strip -t it) &&
	test -n "$te" && test "$te" = "$tf"
'

test_expect_success BUP 'incremental re-index after a save' '
	echo again >>it/many/f1 && rm it/many/f2 && echo x >it/many/f20 &&
	settle it &&
	both_index --check -v -u -s it &&
	cmp_index_files &&
	grep "before merging: newfile" cbup.err &&
	both_index -m it &&
	both_index -sH it/many &&
	grep "^M [0-9a-f]* it/many/f1$" cbup.out &&
	grep "^D [0-9a-f]* it/many/f2$" cbup.out &&
	grep "^A 0000000000000000000000000000000000000000 it/many/f20$" cbup.out &&
	burn_atimes it &&
	tb=$(BUP_DIR=rb "$BUP" save --strip -t it) &&
	tc=$(BUP_DIR=rc "$BUP" save --strip -t it) &&
	test "$tb" = "$tc"
'

test_expect_success BUP '--fake-valid and --fake-invalid as bup' '
	IDXF=fake.idx &&
	both_index --fake-valid it/many &&
	cmp_index_files &&
	both_index -s it/many &&
	echo y >>it/many/f4 && settle it &&
	both_index --fake-valid it &&
	cmp_index_files &&
	both_index --fake-invalid it/sub &&
	cmp_index_files &&
	both_index -sH it
'

test_expect_success BUP 'excludes as bup' '
	IDXF=excl.idx &&
	printf "%s\n" "[0-9]$" >rxs &&
	both_index --exclude it/sub --exclude-rx "b\$" --exclude-from excl.txt \
		--exclude-rx-from rxs it &&
	cmp_index_files &&
	both_index -p it &&
	! grep "it/sub" cbup.out && ! grep "f1$" cbup.out &&
	both_index -x it &&
	cmp_index_files
'

test_expect_success BUP 'several paths, relative and overlapping' '
	IDXF=multi.idx &&
	both_index it/many it/many/f1 it/x.d "$TRASH/it/many/" it/link &&
	cmp_index_files &&
	both_index -p it/many it/link it/x.d
'

# clamp_run TOOL DIR REPO: a file created in the second an index runs.
# bup, which slept into the next second first, records mtime tmax (older
# than it is), so the next run finds it stale.  cbup waits for that second
# to end, looks at the file again and records its real time (FORMAT.md
# 8.2), so it stays valid.  d1 holds the first run's entry, d2 the next's.
clamp_run() {
	"$1" tick && sleep 0.3 && echo new >"$2/new" &&
	real=$(stat -c %.9Y "$2/new") &&
	BUP_DIR=$3 "$1" index -f "$3/cl.idx" --fake-valid "$2" &&
	python3 "$DUMP" "$3/cl.idx" | grep "b.new. " >d1 &&
	BUP_DIR=$3 "$1" index -f "$3/cl.idx" "$2" &&
	python3 "$DUMP" "$3/cl.idx" | grep "b.new. " >d2 &&
	grep -q " m=$real " d2 &&
	BUP_DIR=$3 "$1" index -f "$3/cl.idx" -s "$2"
}

test_expect_success BUP 'a file changed in the second of the run: bup clamps, cbup looks again' '
	mkdir cl cl2 && echo old >cl/old && echo old >cl2/old &&
	settle cl && settle cl2 &&
	clamp_run "$BUP" cl2 rb >bup.st &&
	! grep " m=$real " d1 &&
	printf "  cl2/old\nM cl2/new\nM cl2/\n" >expect &&
	test_cmp expect bup.st &&
	clamp_run cbup cl rc >cbup.st &&
	grep " m=$real " d1 &&
	printf "  cl/old\n  cl/new\n  cl/\n" >expect &&
	test_cmp expect cbup.st
'

# The race bup's sleep guards against: a file indexed and saved, then
# rewritten (same size) in the same second.  Whatever the timestamp
# granularity, the next index must not take the old hash for it.
test_expect_success 'a file rewritten in the second it was indexed is saved again' '
	cbup -d rs init &&
	mkdir rt && echo aaaa >rt/f && settle rt &&
	for c in aaaa bbbb cccc; do
		echo $c >rt/f &&
		BUP_DIR=rs cbup index rt &&
		BUP_DIR=rs cbup save -n s rt &&
		rm -rf out &&
		BUP_DIR=rs cbup restore -C out "/s/latest$TRASH/rt/f" &&
		echo $c >want && test_cmp want out/f || return 1
	done
'

# bup's test-index: files written before "bup tick" are older than the
# second the index runs in, so --fake-valid leaves them valid and the
# next run keeps them so.
test_expect_success BUP 'written before a tick, --fake-valid entries stay valid, as bup' '
	for t in "$BUP" cbup; do
		rm -rf fv fvr && mkdir fv && : >fv/a && lcg 3 1000 >fv/b &&
		"$t" -d fvr init >/dev/null 2>&1 && "$t" tick &&
		BUP_DIR=fvr "$t" index -us fv >"fv0.${t##*/}" &&
		BUP_DIR=fvr "$t" index -us fv/a fv/b --fake-valid \
			>"fv1.${t##*/}" &&
		BUP_DIR=fvr "$t" index -us fv/a >"fv2.${t##*/}" || return 1
	done &&
	printf "A fv/b\nA fv/a\nA fv/\n" >expect && test_cmp expect fv0.cbup &&
	printf "  fv/b\n  fv/a\n" >expect && test_cmp expect fv1.cbup &&
	printf "  fv/a\n" >expect && test_cmp expect fv2.cbup &&
	test_cmp fv0.bup fv0.cbup &&
	test_cmp fv1.bup fv1.cbup &&
	test_cmp fv2.bup fv2.cbup
'

# bup's test-rm-between-index-and-save: a file saved, unchanged since and
# still valid in the index, is kept by a save after it was removed (save
# does not read it again); the next index finds it gone.
rm_between() {
	rm -rf rmb rmr && mkdir rmb &&
	"$1" -d rmr init >/dev/null 2>&1 &&
	echo content >rmb/foo && echo content >rmb/bar &&
	"$1" tick && BUP_DIR=rmr "$1" index -ux rmb &&
	BUP_DIR=rmr "$1" save -n s rmb &&
	echo content >rmb/baz &&
	"$1" tick && BUP_DIR=rmr "$1" index -ux rmb &&
	BUP_DIR=rmr "$1" index -s rmb >"$2.st" &&
	rm rmb/foo &&
	BUP_DIR=rmr "$1" save -n s rmb 2>"$2.err" &&
	BUP_DIR=rmr "$1" ls -A "s/latest$TRASH/rmb" >"$2.ls1" &&
	"$1" tick && BUP_DIR=rmr "$1" index -ux rmb &&
	BUP_DIR=rmr "$1" save -n s rmb &&
	BUP_DIR=rmr "$1" ls -A "s/latest$TRASH/rmb" >"$2.ls2"
}

test_expect_success BUP 'a file removed between index and save is kept, as bup' '
	rm_between "$BUP" b &&
	rm_between cbup c &&
	printf "  rmb/foo\nA rmb/baz\n  rmb/bar\nM rmb/\n" >expect &&
	test_cmp expect c.st &&
	test_cmp /dev/null c.err &&
	printf "bar\nbaz\nfoo\n" >expect && test_cmp expect c.ls1 &&
	printf "bar\nbaz\n" >expect && test_cmp expect c.ls2 &&
	test_cmp b.st c.st && test_cmp b.ls1 c.ls1 && test_cmp b.ls2 c.ls2
'

# bup's test-save-with-valid-parent: a file indexed in the second it was
# made, saved, then saved again alone from the same index (valid, so
# its metadata comes from the index): restored, it has its real mtime.
test_expect_success 'a file indexed in the second it was made keeps its mtime in a later save' '
	cbup -d vpr init >/dev/null 2>&1 &&
	mkdir -p vp/a vp/b && : >vp/a/1 && : >vp/b/2 &&
	BUP_DIR=vpr cbup index -u vp &&
	BUP_DIR=vpr cbup save -n src vp &&
	BUP_DIR=vpr cbup save -n src vp/b &&
	BUP_DIR=vpr cbup save -n src vp/a/1 &&
	BUP_DIR=vpr cbup restore -C vpo "src/latest$TRASH/" &&
	test ! -e vpo/vp/b &&
	stat -c %.9Y vp/a/1 >expect &&
	stat -c %.9Y vpo/vp/a/1 >actual &&
	test_cmp expect actual
'

test_expect_success BUP 'errors: bad paths, usage, repositories' '
	both_index nonexistent &&
	both_index it/many nonexistent &&
	both_index -u &&
	both_index -p --fake-valid it &&
	both_index --fake-valid --fake-invalid it &&
	both_index --clear -f x &&
	both_index --exclude-from nofile it &&
	both_index --exclude-if-present .nobackup it &&
	test_expect_code 15 env BUP_DIR=nowhere cbup index -p 2>c.err &&
	test_expect_code 15 env BUP_DIR=nowhere "$BUP" index -p 2>b.err &&
	test_cmp b.err c.err &&
	mkdir notrepo &&
	test_expect_code 14 env BUP_DIR=notrepo cbup index it 2>c.err &&
	test_expect_code 14 env BUP_DIR=notrepo "$BUP" index it 2>b.err &&
	test_cmp b.err c.err
'

test_expect_success BUP '--check as bup' '
	both_index --check &&
	both_index --check -v &&
	both_index --check -p it/many &&
	grep "check: passed" cbup.err
'

# corrupt rX/IDXF in the same way for both
test_expect_success BUP '--check on a corrupted index: clear error, no crash' '
	cp rc/bupindex rc/bad.idx &&
	"$CBUP_BUILD/test-tool" poke rc/bad.idx -28 00000000ffffff00 &&
	test_expect_code 1 env BUP_DIR=rc cbup index -f rc/bad.idx --check 2>err &&
	grep "corrupt" err &&
	test_expect_code 1 env BUP_DIR=rc cbup index -f rc/bad.idx -p 2>err &&
	grep "corrupt" err &&
	test_expect_code 1 env BUP_DIR=rc cbup index -f rc/bad.idx it 2>err &&
	grep "corrupt" err &&
	cp rc/bupindex rc/bad2.idx &&
	"$CBUP_BUILD/test-tool" poke rc/bad2.idx -30 c000 &&
	test_expect_code 1 env BUP_DIR=rc cbup index -f rc/bad2.idx --check 2>err &&
	grep "index error! at ./." err &&
	grep "valid entry without a hash" err &&
	head -c 1000 rc/bupindex >rc/bad3.idx &&
	test_expect_code 1 env BUP_DIR=rc cbup index -f rc/bad3.idx --check 2>err &&
	grep "corrupt" err &&
	: >rc/bad4.idx &&
	test_expect_code 1 env BUP_DIR=rc cbup index -f rc/bad4.idx -p 2>err
'

test_expect_success BUP 'a bad header: bup warning, index treated as empty' '
	IDXF=hdr.idx &&
	printf "GARBAGE!GARBAGE!" >rb/hdr.idx && cp rb/hdr.idx rc/hdr.idx &&
	both_index --check &&
	grep "header: expected" cbup.err &&
	both_index it/x.d &&
	cmp_index_files
'

test_expect_success BUP '--clear -v as bup' '
	cp -r rb rb2 && cp -r rc rc2 &&
	both_index --clear -v &&
	test ! -e rc/bupindex && test ! -e rc/bupindex.meta &&
	test ! -e rc/bupindex.hlink &&
	both_index --clear -v &&
	rm -rf rb rc && mv rb2 rb && mv rc2 rc
'

test_expect_success 'index leaves no temporary files' '
	touch it/new-file &&
	cbup -d rc index it >/dev/null &&
	ls rc >files && grep "^bupindex$" files &&
	! grep tmp files
'

# bup's test-index-check-device: the same files on another device.  Two
# copies of one small ext3 image are loop-mounted and bound in turn on one
# mount point, so only the device changes.
test_declare_prereq LOOP
if test_have_prereq ROOT && command -v mke2fs >/dev/null &&
	dd if=/dev/zero of=dev1.img bs=1M count=8 2>/dev/null &&
	mke2fs -q -F -j -m 0 dev1.img >/dev/null 2>&1 &&
	mkdir -p m1 m2 msrc && mount -o loop dev1.img m1 2>/dev/null
then
	trap 'cd "$TRASH" && umount msrc m1 m2 2>/dev/null; cleanup_trash' EXIT
	test_set_prereq LOOP
fi

test_expect_success LOOP '--check-device and --no-check-device after the device changed' '
	date >m1/foo &&
	umount m1 &&
	cp dev1.img dev2.img &&
	mount -o ro,loop dev1.img m1 &&
	mount -o ro,loop dev2.img m2 &&
	cbup -d dvr init >/dev/null 2>&1 &&
	mount -o ro --bind m1 msrc &&
	BUP_DIR=dvr cbup index --fake-valid msrc &&
	umount msrc && mount -o ro --bind m2 msrc &&
	BUP_DIR=dvr cbup index msrc &&
	BUP_DIR=dvr cbup index --status msrc >st1 &&
	umount msrc && mount -o ro --bind m1 msrc &&
	BUP_DIR=dvr cbup index --clear 2>/dev/null &&
	BUP_DIR=dvr cbup index --fake-valid msrc &&
	umount msrc && mount -o ro --bind m2 msrc &&
	BUP_DIR=dvr cbup index --no-check-device msrc &&
	BUP_DIR=dvr cbup index --status msrc >st2 &&
	umount msrc &&
	printf "M msrc/lost+found/\nM msrc/foo\nM msrc/\n" >expect &&
	test_cmp expect st1 &&
	printf "  msrc/lost+found/\n  msrc/foo\n  msrc/\n" >expect &&
	test_cmp expect st2
'

test_done
