#!/bin/sh
# git is the oracle for the repository format: what cbup split writes
# passes `git fsck --strict`, and cbup keeps reading a repository after
# git has had its way with it: `git gc --aggressive` (OFS_DELTA chains,
# packed-refs, old packs gone, so bup's midx and bloom go stale), a
# repack with REF_DELTA bases, and loose objects and refs made by
# `git hash-object -w` / `mktree` / `commit-tree` (FORMAT.md 1.3, 2.2, 9:
# bup never writes these, but must read them).  Real bup reads what cbup
# wrote, and cbup and bup join the same bytes.

. "$(dirname "$0")/../test-lib.sh"

# fsck_strict: git fsck --strict exits 0 and reports nothing but the
# unborn HEAD notice bup repositories always have (FORMAT.md 1.3).
fsck_strict() {
	git -C "$BUP_DIR" fsck --strict --no-progress >fsck.out 2>&1 || {
		cat fsck.out; return 1; }
	if grep -v -e '^notice: HEAD points to an unborn branch' \
		   -e '^dangling ' fsck.out | grep .; then
		echo "git fsck --strict reported the lines above"
		return 1
	fi
}

# Every object id in every pack idx, sorted.
packed_ids() {
	for idx in "$BUP_DIR"/objects/pack/*.idx; do
		git show-index <"$idx" | cut -d" " -f2
	done | sort
}

# Text-like input with a small edit in the middle, so that git finds
# deltas between the two versions' chunks.
test_expect_success 'setup: two versions of a text-like file' '
	i=0 &&
	while [ $i -lt 3000 ]; do
		echo "line $i: the quick brown fox jumps over the lazy dog $((i * 7919 % 10007))" &&
		i=$((i + 1)) || exit 1
	done >v1 &&
	lcg 1 200000 >>v1 &&
	sed "1500s/fox/cat/" v1 >v2 &&
	! cmp -s v1 v2 &&
	lcg 2 300000 >rnd
'

test_expect_success 'cbup split writes what git fsck --strict accepts' '
	cbup init &&
	cbup split -n a v1 &&
	cbup split -n a v2 &&
	cbup split -n b rnd &&
	fsck_strict &&
	test "$(git -C "$BUP_DIR" rev-parse a~1^{tree})" != \
		"$(git -C "$BUP_DIR" rev-parse a^{tree})" &&
	git -C "$BUP_DIR" cat-file -p a | grep "^parent " &&
	cbup join a >out && cmp out v2 &&
	cbup join a~1 >out && cmp out v1 &&
	cbup join b >out && cmp out rnd
'

test_expect_success 'cbup split -t and -c print the ids git sees' '
	tree=$(cbup split -t rnd) &&
	test "$(git -C "$BUP_DIR" cat-file -t $tree)" = tree &&
	commit=$(cbup split -c rnd) &&
	test "$(git -C "$BUP_DIR" rev-parse $commit^{tree})" = $tree &&
	fsck_strict
'

test_expect_success BUP 'real bup reads what cbup wrote' '
	bup join a >out && cmp out v2 &&
	bup join b >out && cmp out rnd &&
	bup cat-file /a/latest/data >out && cmp out v2
'

test_expect_success 'cbup and git agree on every object (cat-file --batch)' '
	git -C "$BUP_DIR" rev-list --objects --all | cut -c1-40 >ids &&
	test $(wc -l <ids) -gt 20 &&
	git -C "$BUP_DIR" cat-file --batch-check <ids >types &&
	! grep missing types
'

test_expect_success 'git gc --aggressive: deltas, packed-refs, stale midx' '
	cp -a "$BUP_DIR" before-gc &&
	git -C "$BUP_DIR" gc --aggressive --prune=now -q &&
	test -s "$BUP_DIR/packed-refs" &&
	! test -e "$BUP_DIR/refs/heads/a" &&
	for idx in "$BUP_DIR"/objects/pack/*.idx; do
		git verify-pack -v "$idx" || exit 1
	done >verify.out &&
	grep -E "^chain length = [1-9]" verify.out &&
	fsck_strict
'

test_expect_success 'cbup join reads the gc-ed repository' '
	cbup join a >out && cmp out v2 &&
	cbup join a~1 >out && cmp out v1 &&
	cbup join b >out && cmp out rnd
'

test_expect_success 'cbup cat-file reads the gc-ed repository' '
	cbup cat-file /a/latest/data >out && cmp out v2 &&
	cbup cat-file /b/latest/data >out && cmp out rnd
'

test_expect_success BUP 'bup and cbup join the same bytes after gc' '
	bup join a~1 >bup.out &&
	cbup join a~1 >cbup.out &&
	cmp bup.out cbup.out
'

test_expect_success 'cbup split onto a packed ref keeps the history' '
	old=$(git -C "$BUP_DIR" rev-parse a) &&
	lcg 3 50000 >v3 &&
	cbup split -n a v3 &&
	test "$(git -C "$BUP_DIR" rev-parse a~1)" = "$old" &&
	cbup join a >out && cmp out v3 &&
	cbup join a~1 >out && cmp out v2 &&
	fsck_strict
'

test_expect_success 'repack with REF_DELTA bases' '
	git -C "$BUP_DIR" -c repack.useDeltaBaseOffset=false \
		repack -a -d -f --depth=50 --window=250 -q &&
	for idx in "$BUP_DIR"/objects/pack/*.idx; do
		git verify-pack -v "$idx" || exit 1
	done >verify.out &&
	grep -E "^chain length = [1-9]" verify.out &&
	cbup join a~1 >out && cmp out v2 &&
	cbup join a~2 >out && cmp out v1 &&
	cbup cat-file /a/latest/data >out && cmp out v3
'

test_expect_success 'loose objects and a loose ref made by git' '
	lcg 4 5000 >f1 &&
	echo hello >f2 &&
	b1=$(git -C "$BUP_DIR" hash-object -w --stdin <f1) &&
	b2=$(git -C "$BUP_DIR" hash-object -w --stdin <f2) &&
	test -f "$BUP_DIR/objects/$(echo $b1 | cut -c1-2)/$(echo $b1 | cut -c3-)" &&
	cbup join $b1 >out && cmp out f1 &&
	tree=$(printf "100644 blob %s\tf1\n100644 blob %s\tf2\n" $b1 $b2 |
	       git -C "$BUP_DIR" mktree) &&
	commit=$(echo loose | GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t \
		 GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t \
		 git -C "$BUP_DIR" commit-tree $tree) &&
	git -C "$BUP_DIR" update-ref refs/heads/loose $commit &&
	cat f1 f2 >want &&
	cbup join loose >out && cmp out want &&
	cbup cat-file /loose/latest/f2 >out && cmp out f2 &&
	cbup cat-file /loose/latest/f1 >out && cmp out f1 &&
	fsck_strict
'

test_expect_success 'cbup split dedups against packs, rewrites loose objects' '
	b2=$(git -C "$BUP_DIR" hash-object --stdin <f2) &&
	! packed_ids | grep $b2 &&
	cbup split -n f f2 &&
	cbup join f >out && cmp out f2 &&
	packed_ids >ids.f &&
	grep $b2 ids.f &&
	fsck_strict &&
	cbup split -n b2 rnd &&
	cbup join b2 >out && cmp out rnd &&
	test "$(git -C "$BUP_DIR" rev-parse b2^{tree})" = \
		"$(git -C "$BUP_DIR" rev-parse b^{tree})" &&
	packed_ids >ids.b2 &&
	test $(wc -l <ids.b2) = $(($(wc -l <ids.f) + 1))
'

test_expect_success BUP 'bup reads the mixed repository cbup wrote into' '
	bup join f >out && cmp out f2 &&
	bup join a >out && cmp out v3 &&
	bup join loose >out && cmp out want
'

# repo.h / zlib.h: with cbup.compressor = zlib, cbup deflates exactly as
# bup does (zlib level 1, window 15, memLevel 8), so for the same input
# the pack and idx are the same bytes (-t writes no commit, whose date
# would differ).
test_expect_success BUP 'cbup.compressor = zlib: packs byte-identical to bup' '
	for f in v1 rnd; do
		rm -rf zb zc &&
		BUP_DIR=$PWD/zb bup init 2>/dev/null &&
		BUP_DIR=$PWD/zc cbup init 2>/dev/null &&
		git -C zc config cbup.compressor zlib &&
		BUP_DIR=$PWD/zb bup split -t $f >tb &&
		BUP_DIR=$PWD/zc cbup split -t $f >tc &&
		test_cmp tb tc &&
		(cd zb/objects/pack && ls pack-*) >lb &&
		(cd zc/objects/pack && ls pack-*) >lc &&
		test_cmp lb lc &&
		for p in $(cat lb); do
			cmp zb/objects/pack/$p zc/objects/pack/$p || exit 1
		done
	done
'

test_done
