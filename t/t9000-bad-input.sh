#!/bin/sh
# Damaged and hostile repository contents (git's t5303 in spirit): truncated
# and bit-flipped packs, idx, midx and bloom files, idx offsets past the
# pack end, wrong checksums, missing objects, refs naming absent objects,
# an unwritable repository and a full stdout.  Each must end in a clear
# message naming the file or the object id and a non-zero exit: never a
# crash (signal, sanitizer report), never a hang (every command runs under
# a 60 s timeout), and the repository is left as it was (reads change
# nothing; failed writes leave no visible half-written pack, no temporary
# and no lock, and git fsck stays clean).
#
# Offsets follow FORMAT.md 2.2 (pack), 2.4.1 (idx v2), 2.5 (midx), 2.6
# (bloom).  midx and bloom files only speed up existence checks, so for
# them a reader may also ignore the damage (bup warns and skips a midx of
# an unknown version); what it must not do is crash, hang, or let the
# damage lose data in a later split.

. "$(dirname "$0")/test-lib.sh"
. "$TEST_SRCDIR/lib-bad-input.sh"

# --- helpers ---------------------------------------------------------------

reset_repo() {
	rm -rf "$BUP_DIR" && cp -a "$TRASH/${1:-good}" "$BUP_DIR"
}

tt() {
	"$CBUP_BUILD/test-tool" "$@"
}

# u32 at OFFSET of FILE, in decimal.
peek32() {
	printf '%d\n' "0x$(tt peek "$1" "$2" 4)"
}

# A read that must fail cleanly, naming one of the strings in the comma-
# separated list $1, and must not change the repository.
read_fails() {
	names=$1; shift
	snapshot_repo "$TRASH/snap.before" &&
	fails_cleanly "$@" &&
	snapshot_repo "$TRASH/snap.after" &&
	test_cmp "$TRASH/snap.before" "$TRASH/snap.after" &&
	(IFS=,; set -f; err_mentions $names)
}

# After damage to an accelerator (midx, bloom): reading a must give data1
# or fail cleanly naming the file; a new split must then either work or
# fail cleanly; once the accelerators are removed, every ref still reads
# back exactly and git fsck is clean.
survives_accelerator_damage() {
	name=$1
	ok_or_fails_cleanly cbup join a || return 1
	if [ $run_rc = 0 ]; then
		cmp out data1 || return 1
	else
		err_mentions "$name" || return 1
	fi
	ok_or_fails_cleanly cbup split -n c data3 || return 1
	split_rc=$run_rc
	[ $split_rc = 0 ] || err_mentions "$name" || return 1
	rm -f "$BUP_DIR"/objects/pack/*.midx "$BUP_DIR"/objects/pack/bup.bloom &&
	repo_consistent &&
	cbup join a >out && cmp out data1 &&
	cbup join b >out && cmp out data2 || return 1
	if [ $split_rc = 0 ]; then
		cbup join c >out && cmp out data3
	else
		! git -C "$BUP_DIR" rev-parse -q --verify refs/heads/c
	fi
}

# test_if COND TITLE BODY REASON: skip (with the reason) when a capability
# probe left COND empty.
test_if() {
	if [ -n "$1" ]; then
		test_expect_success "$2" "$3"
	else
		test_count=$((test_count + 1))
		test_skipped=$((test_skipped + 1))
		say "ok $test_count # skip $2 ($4)"
	fi
}

# Run CMD... with DIR made read-only by a bind mount in a private mount
# namespace (root only; nothing outlives the command).
RO_RUN='d=$1; shift; mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" && exec "$@"'

# --- setup -----------------------------------------------------------------

test_expect_success 'setup: two packs (branches a and b), loose object' '
	cbup init &&
	lcg 1 300000 >data1 &&
	lcg 2 200000 >data2 &&
	lcg 3 150000 >data3 &&
	cbup split -n a data1 &&
	ls "$BUP_DIR"/objects/pack/*.pack >packs.a &&
	test $(wc -l <packs.a) = 1 &&
	cbup split -n b data2 &&
	ls "$BUP_DIR"/objects/pack/*.pack >packs.ab &&
	test $(wc -l <packs.ab) = 2 &&
	cbup join a >out && cmp out data1 &&
	cbup join b >out && cmp out data2 &&
	repo_consistent &&
	cp -a "$BUP_DIR" "$TRASH/good"
'

# Names used below, computed once in the main shell.
PACK1=$(cat packs.a 2>/dev/null)
PACK1=${PACK1#"$BUP_DIR/"}
STEM1=$(basename "${PACK1%.pack}")         # pack-<hex>, names pack and idx
IDX1=${PACK1%.pack}.idx
NR1=0; VICTIM=; VICTIM_POS=0; COMMIT_A=
if [ -n "$PACK1" ] && [ -f "$BUP_DIR/$IDX1" ]; then
	NR1=$(peek32 "$BUP_DIR/$IDX1" 1028)
	# The first object in the pack (offset 12): a chunk blob of data1.
	git show-index <"$BUP_DIR/$IDX1" | awk '{ print NR - 1, $1, $2 }' \
		>idx1.list
	VICTIM=$(awk '$2 == 12 { print $3 }' idx1.list)
	VICTIM_POS=$(awk '$2 == 12 { print $1 }' idx1.list)
	COMMIT_A=$(git -C "$BUP_DIR" rev-parse refs/heads/a)
fi
BUP_REF_A="missing ref at [\"b'a'\"]"
OFFTAB1=$((1032 + 24 * NR1))       # idx v2 offset table (FORMAT.md 2.4.1)
PACK1_SIZE=$(stat -c %s "$BUP_DIR/$PACK1" 2>/dev/null || echo 0)

test_expect_success 'setup: victim object is a blob of a' '
	test -n "$VICTIM" &&
	test "$(git -C "$BUP_DIR" cat-file -t "$VICTIM")" = blob &&
	test "$NR1" -gt 10
'

# --- packs -----------------------------------------------------------------
#
# The header, the object count and the trailer of a pack are checked
# against its idx when the pack is opened (git's open_packed_git: "packfile
# is version 3", "claims to have N objects", "does not match index"); all
# three are cheap; odb.c makes them when it opens a pack.

test_expect_success 'pack truncated inside its objects' '
	reset_repo &&
	truncate -s 5000 "$BUP_DIR/$PACK1" &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'pack truncated by one byte (trailer cut)' '
	reset_repo &&
	truncate -s $((PACK1_SIZE - 1)) "$BUP_DIR/$PACK1" &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'pack truncated to nothing' '
	reset_repo &&
	: >"$BUP_DIR/$PACK1" &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'pack signature damaged' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$PACK1" 0 0x20 &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'pack version 4 (git knows 2 and 3)' '
	reset_repo &&
	tt poke "$BUP_DIR/$PACK1" 4 00000004 &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'pack object count disagrees with its idx' '
	reset_repo &&
	tt poke "$BUP_DIR/$PACK1" 8 $(printf %08x $((NR1 + 1))) &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'pack object body bit-flipped (zlib stream)' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$PACK1" 40 0x04 &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

test_expect_success 'pack object body bit-flipped: cat-file' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$PACK1" 40 0x04 &&
	read_fails "$STEM1,$VICTIM" cbup cat-file /a/latest/data
'

test_expect_success 'pack object header: invalid type 5' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$PACK1" 12 0x60 &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

test_expect_success 'pack object header: size varint never ends' '
	reset_repo &&
	tt poke "$BUP_DIR/$PACK1" 12 bfffffffffffffffffffffff &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

test_expect_success 'pack trailer checksum wrong' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$PACK1" -1 0x01 &&
	read_fails "$STEM1" cbup join a
'

# Without its pack an idx is useless (git skips such packs too), so
# naming the pack, or the first object found missing, or the ref in bup's
# own words (error: missing ref at ["b'a'"]) are all fine.
test_expect_success 'pack missing, idx present' '
	reset_repo &&
	rm "$BUP_DIR/$PACK1" &&
	read_fails "$STEM1,$COMMIT_A,$BUP_REF_A" cbup join a
'

# --- idx -------------------------------------------------------------------

test_expect_success 'idx truncated to half' '
	reset_repo &&
	truncate -s $(($(stat -c %s "$BUP_DIR/$IDX1") / 2)) "$BUP_DIR/$IDX1" &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'idx truncated to half: cat-file' '
	reset_repo &&
	truncate -s $(($(stat -c %s "$BUP_DIR/$IDX1") / 2)) "$BUP_DIR/$IDX1" &&
	read_fails "$STEM1" cbup cat-file /a/latest/data
'

# A writer cannot dedup against an idx it cannot read: failing (naming
# the idx) is best; writing duplicates is tolerable; crashing is not.
test_expect_success 'idx truncated to half: split' '
	reset_repo &&
	cp "$BUP_DIR/$IDX1" idx.saved &&
	truncate -s $(($(stat -c %s "$BUP_DIR/$IDX1") / 2)) "$BUP_DIR/$IDX1" &&
	ok_or_fails_cleanly cbup split -n c data3 &&
	if [ $run_rc != 0 ]; then err_mentions "$STEM1"; fi &&
	cp idx.saved "$BUP_DIR/$IDX1" &&
	repo_consistent &&
	cbup join a >out && cmp out data1 &&
	if [ $run_rc = 0 ]; then cbup join c >out && cmp out data3; fi
'

test_expect_success 'idx empty' '
	reset_repo &&
	: >"$BUP_DIR/$IDX1" &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'idx version 3' '
	reset_repo &&
	tt poke "$BUP_DIR/$IDX1" 4 00000003 &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'idx fanout not monotonic' '
	reset_repo &&
	tt poke "$BUP_DIR/$IDX1" $((8 + 4 * 16)) ffffff00 &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'idx object count larger than the file' '
	reset_repo &&
	tt poke "$BUP_DIR/$IDX1" 1028 00ffffff &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'idx offset points past the pack end' '
	reset_repo &&
	tt poke "$BUP_DIR/$IDX1" $((OFFTAB1 + 4 * VICTIM_POS)) 7fff0000 &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

test_expect_success 'idx offset points into the pack trailer' '
	reset_repo &&
	tt poke "$BUP_DIR/$IDX1" $((OFFTAB1 + 4 * VICTIM_POS)) \
		$(printf %08x $((PACK1_SIZE - 10))) &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

test_expect_success 'idx offset points at the pack header' '
	reset_repo &&
	tt poke "$BUP_DIR/$IDX1" $((OFFTAB1 + 4 * VICTIM_POS)) 00000000 &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

test_expect_success 'idx large offset index out of range' '
	reset_repo &&
	tt poke "$BUP_DIR/$IDX1" $((OFFTAB1 + 4 * VICTIM_POS)) 80000007 &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

test_expect_success 'idx pack checksum disagrees with the pack' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$IDX1" -40 0x01 &&
	read_fails "$STEM1" cbup join a
'

test_expect_success 'idx object id bit-flipped: object missing' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$IDX1" $((1032 + 20 * VICTIM_POS + 19)) 0x01 &&
	read_fails "$STEM1,$VICTIM" cbup join a
'

# git's load_idx does not hash the whole idx on open either (that is
# git fsck's job, and it would cost a full read of every idx per command);
# so a wrong idx trailer may be noticed or not, but never crash.
test_expect_success 'idx own checksum wrong: no crash, no wrong data' '
	reset_repo &&
	tt corrupt "$BUP_DIR/$IDX1" -1 0x01 &&
	ok_or_fails_cleanly cbup join a &&
	if [ $run_rc = 0 ]; then cmp out data1; else err_mentions "$STEM1"; fi
'

test_expect_success 'idx missing, pack present' '
	reset_repo &&
	rm "$BUP_DIR/$IDX1" &&
	read_fails "$COMMIT_A,$STEM1,$BUP_REF_A" cbup join a
'

# --- missing objects and bad refs -------------------------------------------

test_expect_success 'object missing from the repository' '
	reset_repo &&
	(
		cd "$BUP_DIR" &&
		git rev-list --objects --all | cut -c1-40 | grep -v "$VICTIM" |
			git pack-objects --window=0 -q objects/pack/pack >/dev/null &&
		rm "$PACK1" "$IDX1" && rm -f objects/pack/*.midx objects/pack/bup.bloom
	) &&
	! git -C "$BUP_DIR" cat-file -e "$VICTIM" &&
	read_fails "$VICTIM" cbup join a &&
	read_fails "$VICTIM" cbup cat-file /a/latest/data &&
	cbup join b >out && cmp out data2
'

test_expect_success 'ref names an absent object' '
	reset_repo &&
	echo 0123456789abcdef0123456789abcdef01234567 \
		>"$BUP_DIR/refs/heads/ghost" &&
	read_fails "0123456789abcdef0123456789abcdef01234567,ghost" \
		cbup join ghost
'

test_expect_success 'ref holds garbage' '
	reset_repo &&
	echo "not an object id" >"$BUP_DIR/refs/heads/junk" &&
	read_fails junk cbup join junk
'

test_expect_success 'join of an unknown ref or absent id' '
	reset_repo &&
	read_fails nosuch cbup join nosuch &&
	read_fails 0123456789abcdef0123456789abcdef01234567 \
		cbup join 0123456789abcdef0123456789abcdef01234567
'

# bup 0.33.7 reads the old value with git show-ref and writes a commit
# whose parent is missing, which git fsck then reports as a broken link;
# cbup should refuse instead.  NEEDSWORK: it does what bup does.
test_expect_success 'split onto a ref naming an absent object fails' '
	reset_repo &&
	echo 0123456789abcdef0123456789abcdef01234567 \
		>"$BUP_DIR/refs/heads/ghost" &&
	fails_cleanly cbup split -n ghost data3 &&
	err_mentions 0123456789abcdef0123456789abcdef01234567 ghost &&
	grep -q ^0123456789abcdef0123456789abcdef01234567 \
		"$BUP_DIR/refs/heads/ghost" &&
	rm -f "$BUP_DIR/refs/heads/ghost" "$BUP_DIR/logs/refs/heads/ghost" &&
	repo_consistent &&
	cbup join a >out && cmp out data1 &&
	cbup join b >out && cmp out data2
'

test_expect_success 'split onto a ref holding garbage' '
	reset_repo &&
	echo "not an object id" >"$BUP_DIR/refs/heads/junk" &&
	ok_or_fails_cleanly cbup split -n junk data3 &&
	if [ $run_rc = 0 ]; then
		cbup join junk >out && cmp out data3
	else
		err_mentions junk
	fi &&
	rm "$BUP_DIR/refs/heads/junk" &&
	repo_consistent &&
	cbup join a >out && cmp out data1
'

test_expect_success 'loose object truncated' '
	reset_repo &&
	lcg 4 3000 >loose &&
	id=$(git -C "$BUP_DIR" hash-object -w --stdin <loose) &&
	cbup join $id >out && cmp out loose &&
	f="$BUP_DIR/objects/$(echo $id | cut -c1-2)/$(echo $id | cut -c3-)" &&
	chmod u+w "$f" &&
	truncate -s 40 "$f" &&
	read_fails "$id,${f#"$BUP_DIR/"}" cbup join $id
'

test_expect_success 'loose object is not zlib' '
	reset_repo &&
	lcg 5 3000 >loose &&
	id=$(git -C "$BUP_DIR" hash-object -w --stdin <loose) &&
	f="$BUP_DIR/objects/$(echo $id | cut -c1-2)/$(echo $id | cut -c3-)" &&
	chmod u+w "$f" &&
	lcg 6 100 >"$f" &&
	read_fails "$id,${f#"$BUP_DIR/"}" cbup join $id
'

# --- midx --------------------------------------------------------------------

MIDX=
test_expect_success 'setup: midx and bloom over both packs' '
	reset_repo &&
	cbup midx -f &&
	cbup bloom &&
	ls "$BUP_DIR"/objects/pack/*.midx >midx.list &&
	test $(wc -l <midx.list) = 1 &&
	test -f "$BUP_DIR/objects/pack/bup.bloom" &&
	cbup join a >out && cmp out data1 &&
	cp -a "$BUP_DIR" "$TRASH/good-midx"
'
MIDX=$(cat midx.list 2>/dev/null)
MIDX=${MIDX#"$BUP_DIR/"}
MIDXNAME=$(basename "${MIDX:-none}")
MIDX_NR=0
[ -f "$BUP_DIR/$MIDX" ] && MIDX_NR=$(peek32 "$BUP_DIR/$MIDX" 12)  # bits=0
MIDX_BITS=0
[ -f "$BUP_DIR/$MIDX" ] && MIDX_BITS=$(peek32 "$BUP_DIR/$MIDX" 8)
MIDX_FAN=$((1 << MIDX_BITS))
[ -f "$BUP_DIR/$MIDX" ] &&
	MIDX_NR=$(peek32 "$BUP_DIR/$MIDX" $((12 + 4 * (MIDX_FAN - 1))))
MIDX_SHAS=$((12 + 4 * MIDX_FAN))
MIDX_WHICH=$((MIDX_SHAS + 20 * MIDX_NR))

test_expect_success 'midx truncated after its header' '
	reset_repo good-midx &&
	truncate -s 12 "$BUP_DIR/$MIDX" &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx truncated inside the id table' '
	reset_repo good-midx &&
	truncate -s $((MIDX_SHAS + 20 * (MIDX_NR / 2))) "$BUP_DIR/$MIDX" &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx with 40 bits' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$MIDX" 8 00000028 &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx version 5 (bup ignores it with a warning)' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$MIDX" 4 00000005 &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx total larger than the file' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$MIDX" $((MIDX_SHAS - 4)) 0fffffff &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx fanout not monotonic' '
	reset_repo good-midx &&
	if [ $MIDX_FAN -ge 2 ]; then v=7fffffff; else v=00000000; fi &&
	tt poke "$BUP_DIR/$MIDX" 12 $v &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx names an idx out of range' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$MIDX" $MIDX_WHICH ffffffff &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx id table bit-flipped' '
	reset_repo good-midx &&
	tt corrupt "$BUP_DIR/$MIDX" $((MIDX_SHAS + 20 * 5)) 0x80 &&
	survives_accelerator_damage "$MIDXNAME"
'

test_expect_success 'midx idx name list damaged' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$MIDX" -10 2f2e2e2f2e2e &&
	survives_accelerator_damage "$MIDXNAME"
'

# The dangerous one: a stale midx lists objects whose pack is gone.  If a
# writer trusted it, the new split would skip writing them and the branch
# would point at missing objects.
test_expect_success 'midx names a pack that was deleted: split rewrites' '
	reset_repo good-midx &&
	pack2=$(grep -v -F "$PACK1" packs.ab) &&
	rm "$pack2" "${pack2%.pack}.idx" "$BUP_DIR/refs/heads/b" &&
	rm -f "$BUP_DIR/logs/refs/heads/b" &&
	run_limited cbup split -n b2 data2 &&
	test $run_rc = 0 &&
	cbup join b2 >out && cmp out data2 &&
	git -C "$BUP_DIR" fsck --no-progress 2>&1 | tee fsck.b2 &&
	! grep -E "^(missing|broken|error)" fsck.b2 &&
	cbup join a >out && cmp out data1
'

# --- bloom -------------------------------------------------------------------

BLOOM=objects/pack/bup.bloom

test_expect_success 'bloom truncated after its header' '
	reset_repo good-midx &&
	truncate -s 16 "$BUP_DIR/$BLOOM" &&
	survives_accelerator_damage bup.bloom
'

test_expect_success 'bloom truncated inside the table' '
	reset_repo good-midx &&
	truncate -s 100 "$BUP_DIR/$BLOOM" &&
	survives_accelerator_damage bup.bloom
'

test_expect_success 'bloom with 60 bits' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$BLOOM" 8 003c &&
	survives_accelerator_damage bup.bloom
'

test_expect_success 'bloom with k = 9' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$BLOOM" 10 0009 &&
	survives_accelerator_damage bup.bloom
'

test_expect_success 'bloom version 3' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$BLOOM" 4 00000003 &&
	survives_accelerator_damage bup.bloom
'

test_expect_success 'bloom table cleared in part (false negatives)' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$BLOOM" 16 0000000000000000000000000000000000000000 &&
	survives_accelerator_damage bup.bloom
'

test_expect_success 'bloom entry count huge' '
	reset_repo good-midx &&
	tt poke "$BUP_DIR/$BLOOM" 12 ffffffff &&
	survives_accelerator_damage bup.bloom
'

# --- output and permissions --------------------------------------------------

test_expect_success 'join to a full stdout' '
	reset_repo &&
	fails_cleanly sh -c "exec cbup join a >/dev/full" &&
	err_mentions "No space left on device"
'

test_expect_success 'cat-file to a full stdout' '
	reset_repo &&
	fails_cleanly sh -c "exec cbup cat-file /a/latest/data >/dev/full" &&
	err_mentions "No space left on device"
'

RO_OK=
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
   unshare -m sh -c "$RO_RUN" ro "$TRASH/home" true 2>/dev/null &&
   ! unshare -m sh -c "$RO_RUN" ro "$TRASH/home" touch "$TRASH/home/probe" 2>/dev/null
then
	RO_OK=1
fi
rm -f "$TRASH/home/probe"
NOBODY_OK=
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
   chmod 755 "$TRASH" &&
   setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$CBUP" 2>/dev/null
then
	NOBODY_OK=1
fi
NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups --"

test_if "$RO_OK" 'read-only repository: split fails, nothing changes' '
	reset_repo &&
	snapshot_repo snap.before &&
	fails_cleanly unshare -m sh -c "$RO_RUN" ro "$BUP_DIR" \
		cbup split -n c data3 &&
	err_mentions "Read-only file system" &&
	err_mentions "$BUP_DIR" &&
	snapshot_repo snap.after &&
	test_cmp snap.before snap.after &&
	repo_consistent
' 'needs root and mount namespaces'

test_if "$RO_OK" 'read-only repository: reading works' '
	reset_repo &&
	run_limited unshare -m sh -c "$RO_RUN" ro "$BUP_DIR" cbup join a &&
	test $run_rc = 0 && cmp out data1
' 'needs root and mount namespaces'

test_if "$RO_OK" 'read-only refs: split fails at the ref update, cleanly' '
	reset_repo &&
	fails_cleanly unshare -m sh -c "$RO_RUN" ro "$BUP_DIR/refs" \
		cbup split -n c data3 &&
	err_mentions "refs/heads/c" &&
	! test -e "$BUP_DIR/refs/heads/c" &&
	repo_consistent &&
	cbup join a >out && cmp out data1 &&
	cbup join b >out && cmp out data2
' 'needs root and mount namespaces'

test_if "$RO_OK" 'read-only objects/pack: split fails, no temporary left' '
	reset_repo &&
	fails_cleanly unshare -m sh -c "$RO_RUN" ro "$BUP_DIR/objects/pack" \
		cbup split -n c data3 &&
	err_mentions "$BUP_DIR/objects" &&
	! test -e "$BUP_DIR/refs/heads/c" &&
	repo_consistent &&
	cbup join a >out && cmp out data1
' 'needs root and mount namespaces'

test_if "$NOBODY_OK" 'repository owned by another user: split fails' '
	reset_repo &&
	chmod -R go-w "$BUP_DIR" && chmod -R go+rX "$BUP_DIR" &&
	chmod go+r data3 &&
	snapshot_repo snap.before &&
	fails_cleanly $NOBODY cbup split -n c data3 &&
	err_mentions "Permission denied" &&
	snapshot_repo snap.after &&
	test_cmp snap.before snap.after &&
	repo_consistent
' 'needs root and setpriv'

test_if "$NOBODY_OK" 'repository owned by another user: join works' '
	reset_repo &&
	chmod -R go-w "$BUP_DIR" && chmod -R go+rX "$BUP_DIR" &&
	run_limited $NOBODY cbup join a &&
	test $run_rc = 0 && cmp out data1
' 'needs root and setpriv'

test_expect_success NOT_ROOT 'unwritable repository (non-root): split fails' '
	reset_repo &&
	chmod -R a-w "$BUP_DIR" &&
	fails_cleanly cbup split -n c data3 &&
	err_mentions "Permission denied" &&
	chmod -R u+w "$BUP_DIR" &&
	! test -e "$BUP_DIR/refs/heads/c" &&
	repo_consistent
'

test_done
