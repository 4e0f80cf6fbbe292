#!/bin/sh
# A full disk (ENOSPC) while writing: the repository lives on a 2 MiB
# tmpfs.  A split of more data than fits must fail with a clear "No space
# left on device", leave no *.pack/*.idx in objects/pack that is not
# complete and valid (git verify-pack), no temporary pack directory and no
# lock, and keep what was there before intact.  Then the disk is filled to
# a series of levels so that the failure lands in turn in the pack data,
# the idx, the midx/bloom upkeep and the ref update (FORMAT.md 2.4, 1.4):
# each run either succeeds completely or fails cleanly.  Last, gc on a
# full disk: filled so that its new pack, that pack's idx, or the midx
# and bloom it makes at the end run out of space, it fails naming the
# file and "No space left on device", the repository is intact (every
# ref reads back, git fsck and cbup fsck clean), and once space is freed
# gc completes, with the objects of a gc that never failed.
#
# Needs root for mount(2); the script re-executes itself in a private
# mount namespace (unshare -m) so no mount can outlive it, and skips with
# a clear message where mounting a tmpfs is not permitted.

if [ -z "${CBUP_T9010_NS:-}" ] && [ "$(id -u)" = 0 ] &&
   command -v unshare >/dev/null 2>&1 &&
   unshare -m --propagation private true 2>/dev/null; then
	CBUP_T9010_NS=1 exec unshare -m --propagation private /bin/sh "$0" "$@"
fi

. "$(dirname "$0")/test-lib.sh"
. "$TEST_SRCDIR/lib-bad-input.sh"

DISK="$TRASH/disk"
mkdir -p "$DISK"
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP mounting a tmpfs needs root"
	exit 0
fi
if ! mount -t tmpfs -o size=2m,mode=0755 cbup-t9010 "$DISK" 2>"$TRASH/mount.err"
then
	echo "1..0 # SKIP cannot mount a tmpfs: $(cat "$TRASH/mount.err")"
	exit 0
fi
trap 'cd /; umount "$DISK" 2>/dev/null; cleanup_trash' EXIT

export BUP_DIR="$DISK/repo"
STASH="$TRASH/stash"   # copies of the repository live off the tmpfs

# Bytes free on the tmpfs.
avail() {
	df -B1 --output=avail "$DISK" | tail -n 1 | tr -d ' '
}

# fill_to BYTES: grow $DISK/filler until about BYTES remain free (tmpfs
# counts whole 4 KiB pages).
fill_to() {
	rm -f "$DISK/filler" &&
	fill_cur=$(avail) &&
	if [ "$fill_cur" -gt "$1" ]; then
		fallocate -l $((fill_cur - $1)) "$DISK/filler"
	fi
}

reset_repo() {
	rm -rf "$BUP_DIR" "$DISK/filler" && cp -a "$STASH" "$BUP_DIR"
}

# The earlier data is intact and nothing half-written is visible.
earlier_intact() {
	repo_consistent &&
	cbup join a >"$TRASH/out.a" && cmp "$TRASH/out.a" data1
}

test_expect_success 'setup: repository on a 2 MiB tmpfs, branch a' '
	lcg 1 300000 >data1 &&
	lcg 2 4000000 >data-big &&
	lcg 3 200000 >data3 &&
	cbup init &&
	cbup split -n a data1 &&
	cbup join a >out && cmp out data1 &&
	repo_consistent &&
	cp -a "$BUP_DIR" "$STASH" &&
	test $(avail) -gt 1000000
'

test_expect_success 'split of more than fits fails with ENOSPC' '
	reset_repo &&
	fails_cleanly cbup split -n b data-big &&
	err_mentions "No space left on device" &&
	! git -C "$BUP_DIR" rev-parse -q --verify refs/heads/b &&
	earlier_intact
'

test_expect_success 'the repository works again once space is freed' '
	cbup split -n b data3 &&
	cbup join b >out && cmp out data3 &&
	earlier_intact
'

# data3 is incompressible: its pack is about 200 kB and its idx a few kB.
# Leave free space from well below to just above what the split needs, in
# 4 KiB steps around the end, so ENOSPC hits each stage of the write.
levels="16384 65536 131072 196608"
i=0
while [ $i -lt 24 ]; do
	levels="$levels $((200704 + 4096 * i))"
	i=$((i + 1))
done

test_expect_success 'ENOSPC at every stage: success or a clean failure' '
	ok=0 failed=0 &&
	for free in $levels; do
		reset_repo &&
		fill_to $free &&
		ok_or_fails_cleanly cbup split -n c data3 || {
			echo "at $free bytes free"; exit 1; }
		if [ $run_rc = 0 ]; then
			ok=$((ok + 1)) &&
			cbup join c >out && cmp out data3 || {
				echo "at $free bytes free: c reads back wrong"; exit 1; }
		else
			failed=$((failed + 1)) &&
			err_mentions "No space left on device" &&
			! git -C "$BUP_DIR" rev-parse -q --verify refs/heads/c || {
				echo "at $free bytes free: bad failure"; exit 1; }
		fi &&
		rm -f "$DISK/filler" &&
		earlier_intact || { echo "at $free bytes free: damage"; exit 1; }
	done &&
	echo "$ok succeeded, $failed failed" &&
	test $failed -gt 0 && test $ok -gt 0
'

test_expect_success BUP 'after ENOSPC, real bup reads the repository' '
	reset_repo &&
	fill_to 65536 &&
	fails_cleanly cbup split -n c data3 &&
	rm -f "$DISK/filler" &&
	bup join a >out && cmp out data1
'

# Restore's writer thread: a write that fails with ENOSPC stops the
# restore as on one thread, with a message naming the file, exit 1.
test_expect_success 'restore onto a full disk: clear error, no hang' '
	rm -rf "$DISK"/* &&
	cbup -d "$TRASH/rr" init &&
	mkdir rt && lcg 5 300000 >rt/big1 && lcg 6 300000 >rt/big2 &&
	lcg 7 300000 >rt/big3 && lcg 8 300000 >rt/big4 && echo s >rt/small &&
	BUP_DIR="$TRASH/rr" cbup index rt &&
	BUP_DIR="$TRASH/rr" cbup save -n r rt &&
	fill_to 700000 &&
	test_expect_code 1 timeout 60 env BUP_DIR="$TRASH/rr" \
		cbup restore -C "$DISK/out" "/r/latest$TRASH/rt/" 2>err &&
	grep "write error on .*big[0-9].*No space left on device" err &&
	test_expect_code 1 timeout 60 env BUP_DIR="$TRASH/rr" CBUP_THREADS=0 \
		cbup restore -C "$DISK/out2" "/r/latest$TRASH/rt/" 2>err0 &&
	grep "No space left on device" err0 &&
	rm -rf "$DISK"/* &&
	: "tmpfs has no inode flags: bup and cbup warn (chattr), exit 1" &&
	test_expect_code 1 env BUP_DIR="$TRASH/rr" \
		cbup restore -C "$DISK/out" "/r/latest$TRASH/rt/" 2>err2 &&
	! grep "write error" err2 &&
	for f in big1 big2 big3 big4 small; do
		cmp rt/$f "$DISK/out/$f" || return 1
	done
'

# ---- gc ---------------------------------------------------------------

# A repository where gc has work: "a" and "r2" and "tiny" kept; "gone"
# (its own pack) and "r1" (whose commit shares a pack with r2'"'"'s data:
# that pack is rewritten, in packs of 100 kB) removed.  "tiny", a save of
# 400 small files, makes the midx and bloom several pages large.
G="$DISK/g"
GSTASH="$TRASH/gstash"

# g_reset: the gc repository as set up, and the disk otherwise empty
g_reset() {
	rm -rf "$G" "$DISK/filler" && cp -a "$GSTASH" "$G"
}

# g_intact: every ref of the gc repository reads back, its packs are
# whole (repo_consistent), cbup fsck is clean
g_intact() {
	BUP_DIR=$G repo_consistent &&
	BUP_DIR=$G cbup join a >"$TRASH/out.a" && cmp data1 "$TRASH/out.a" &&
	BUP_DIR=$G cbup join r2 >"$TRASH/out.r" && cmp data-r "$TRASH/out.r" &&
	rm -rf "$TRASH/out.t" &&
	BUP_DIR=$G cbup restore -q -C "$TRASH/out.t" "/tiny/latest$TRASH/tiny/." &&
	diff -r tiny "$TRASH/out.t" &&
	BUP_DIR=$G cbup fsck
}

# g_objects: every object of the gc repository, sorted
g_objects() {
	git --git-dir="$G" cat-file --batch-all-objects --batch-check | sort
}

test_expect_success 'gc setup: a repository with work for gc, on the tmpfs' '
	rm -rf "$DISK"/* &&
	lcg 8 100000 >data-gone && lcg 9 250000 >data-r &&
	mkdir tiny && i=0 &&
	while test $i -lt 400; do
		echo "tiny file $i" >tiny/f$i && i=$((i + 1)) || return 1
	done &&
	export BUP_DIR="$G" &&
	cbup init >/dev/null 2>&1 &&
	cbup split -n a data1 &&
	cbup split -n gone data-gone &&
	cbup split -n r1 -d 1700000000 data-r &&
	cbup split -n r2 -d 1700000100 data-r &&
	cbup index tiny >/dev/null && cbup save -n tiny tiny &&
	git --git-dir="$G" update-ref -d refs/heads/gone &&
	git --git-dir="$G" update-ref -d refs/heads/r1 &&
	git --git-dir="$G" config pack.packSizeLimit 100000 &&
	g_intact &&
	cp -a "$G" "$GSTASH" &&
	: "the objects of an uninterrupted gc" &&
	cbup gc -v 2>err &&
	cat err &&
	grep "^deleting" err && grep "^rewriting" err &&
	test $(grep -c "^created" err) -ge 2 &&
	ls "$G/objects/pack" >packs && grep "midx$" packs && grep bup.bloom packs &&
	g_objects >gc.objects &&
	git --git-dir="$G" for-each-ref >g.refs &&
	g_intact
'

# g_level FREE: gc with FREE bytes free, and the old packs held open (by
# this shell, as a reader such as restore would: their space comes back
# only when the last holder closes them, so that what gc needs grows
# with each file it writes, whatever the order of the packs); records
# the stage that ran out of space ("pack", "idx", "midx", "bloom") or
# "ok" in ./stages; the repository must be intact after a failure, and
# after the next gc with space hold the objects of an uninterrupted gc
g_level() {
	g_reset &&
	set -- "$G"/objects/pack/*.pack &&
	test $# = 5 &&
	exec 5<"$1" 6<"$2" 7<"$3" 8<"$4" 9<"$5" &&
	fill_to $g_free &&
	ok_or_fails_cleanly env BUP_DIR="$G" cbup gc || {
		echo "at $g_free bytes free" && return 1; }
	exec 5<&- 6<&- 7<&- 8<&- 9<&- &&
	if [ $run_rc = 0 ]; then
		echo "ok $g_free" >>stages
	else
		err_mentions "No space left on device" &&
		grep "^error: .*'$G/objects/[^']*': No space left on device" err \
			>named &&
		case $(cat named) in
		*/pack-tmp-*/pack?:*) echo "pack $g_free" ;;
		*/pack-tmp-*/idx?:*) echo "idx $g_free" ;;
		*.midx*) echo "midx $g_free" ;;
		*bup.bloom*) echo "bloom $g_free" ;;
		*) echo "other: $(cat named)" ;;
		esac >>stages &&
		rm -f "$DISK/filler" &&
		g_intact &&
		BUP_DIR=$G cbup gc || {
			echo "at $g_free bytes free: bad failure or damage" &&
			return 1; }
	fi &&
	# (the objects of the uninterrupted gc, whose refs read back, the
	# refs unmoved and every pack whole: what read back then does now)
	g_objects >gc.now &&
	test_cmp gc.objects gc.now &&
	git --git-dir="$G" for-each-ref >g.refs.now &&
	test_cmp g.refs g.refs.now &&
	BUP_DIR=$G cbup fsck || {
		echo "at $g_free bytes free: not collected" && return 1; }
}

# From 16 kB free up in steps of 32 kB to the first level where gc
# succeeds, then that last step again in 4 kB pages: the end of the last
# new pack, its idx, the midx and the bloom each run out of space there.
test_expect_success 'gc on a full disk: a clean failure naming the file, or success' '
	: >stages &&
	g_free=16384 &&
	while ! grep -q "^ok " stages; do
		g_level &&
		g_free=$((g_free + 32768)) &&
		test $g_free -lt 1048576 || return 1
	done &&
	g_top=$((g_free - 32768)) &&
	g_free=$((g_top - 28672)) &&
	while test $g_free -lt $g_top; do
		g_level &&
		g_free=$((g_free + 4096)) || return 1
	done &&
	cat stages &&
	! grep other stages &&
	grep "^pack " stages && grep "^idx " stages &&
	grep "^midx " stages && grep "^bloom " stages && grep "^ok " stages
'

test_done
