#!/bin/sh
# cbup split/join against real bup 0.33.7: identical blob, tree and commit
# ids for many inputs (both chunker quirks, block boundaries, several
# files, fanouts), each join reads the other's repository byte for byte,
# and git fsck --strict is clean on what cbup wrote.
. "$(dirname "$0")/../test-lib.sh"

A="$TRASH/cbup-repo"    # written by cbup
B="$TRASH/bup-repo"     # written by bup

test_expect_success BUP 'setup repositories and inputs' '
	BUP_DIR=$A "$CBUP" init >/dev/null 2>&1 &&
	BUP_DIR=$B bup init >/dev/null 2>&1 &&
	mkdir in &&
	: >in/empty &&
	printf x >in/one &&
	lcg 11 32767 >in/r32767 &&
	lcg 12 32768 >in/r32768 &&
	lcg 13 32769 >in/r32769 &&
	lcg 14 8388608 >in/r8M &&
	lcg 15 8388607 >in/r8M-1 &&
	lcg 16 8388609 >in/r8M+1 &&
	head -c 300000 /dev/zero >in/zeros &&
	{ lcg 17 50000 && head -c 100000 /dev/zero && lcg 18 50000; } >in/zrun &&
	{ head -c 32768 /dev/zero | tr "\0" "\1" &&
	  printf "\315\337\206\257\226\001\375\132" &&
	  head -c 33760 /dev/zero | tr "\0" "\1"; } >in/corner &&
	cat /usr/share/common-licenses/* >in/text &&
	lcg 19 3000000 >in/r3M
'

for f in empty one r32767 r32768 r32769 r8M r8M-1 r8M+1 zeros zrun corner text r3M
do
	test_expect_success BUP "same ids for $f (-t, -b)" "
		BUP_DIR=\$A cbup split -t in/$f >c.t &&
		BUP_DIR=\$B bup split -t in/$f >b.t &&
		test_cmp b.t c.t &&
		BUP_DIR=\$A cbup split -b in/$f >c.b &&
		BUP_DIR=\$B bup split -b in/$f >b.b &&
		test_cmp b.b c.b &&
		BUP_DIR=\$B bup join <c.t >out.b &&
		cmp in/$f out.b &&
		BUP_DIR=\$A cbup join \$(cat b.t) >out.c &&
		cmp in/$f out.c
	"
done

test_expect_success BUP 'stdin input gives the same tree' '
	BUP_DIR=$A cbup split -t <in/r8M+1 >c.t &&
	BUP_DIR=$B bup split --noop -t <in/r8M+1 >b.t &&
	test_cmp b.t c.t
'

test_expect_success BUP 'several files, with and without --keep-boundaries' '
	BUP_DIR=$A cbup split -t in/one in/r32769 in/text in/corner >c.t &&
	BUP_DIR=$B bup split -t in/one in/r32769 in/text in/corner >b.t &&
	test_cmp b.t c.t &&
	BUP_DIR=$A cbup split -t --keep-boundaries in/one in/r32769 in/text in/corner >c.k &&
	BUP_DIR=$B bup split -t --keep-boundaries in/one in/r32769 in/text in/corner >b.k &&
	test_cmp b.k c.k &&
	! test_cmp c.t c.k >/dev/null &&
	BUP_DIR=$A cbup split -b --keep-boundaries in/r8M-1 in/zeros >c.b &&
	BUP_DIR=$B bup split --noop -b --keep-boundaries in/r8M-1 in/zeros >b.b &&
	test_cmp b.b c.b
'

test_expect_success BUP 'fanout variants' '
	for n in 0 2 3 4 64 256; do
		BUP_DIR=$A cbup split --noop -t --fanout $n in/r3M >c.f &&
		BUP_DIR=$B bup split --noop -t --fanout $n in/r3M >b.f &&
		test_cmp b.f c.f || return 1
	done
'

test_expect_success BUP '--git-ids splits object contents' '
	git --git-dir=$A rev-parse $(cat c.t) >ids &&
	head -n 3 b.b >>ids &&
	echo 0000000000000000000000000000000000000000 >>ids &&
	BUP_DIR=$A cbup split --git-ids -t <ids >c.g &&
	BUP_DIR=$A bup split --git-ids -t <ids >b.g &&
	test_cmp b.g c.g
'

test_expect_success BUP 'same commit id with -n and --date' '
	BUP_DIR=$A cbup split -n br -d 1700000000 in/text >c.n &&
	BUP_DIR=$B bup split -n br -d 1700000000 in/text >b.n &&
	git --git-dir=$A rev-parse br >c.id &&
	git --git-dir=$B rev-parse br >b.id &&
	test_cmp b.id c.id &&
	BUP_DIR=$A cbup split -c -n br -d 1700000001 in/one >c.c &&
	BUP_DIR=$B bup split -c -n br -d 1700000001 in/one >b.c &&
	test_cmp b.c c.c &&
	git --git-dir=$A rev-parse br >c.id &&
	test_cmp b.c c.id &&
	BUP_DIR=$B bup join br >out.b && cmp in/one out.b &&
	BUP_DIR=$A cbup join br~1 >out.c && cmp in/text out.c
'

# bup's test-comparative-split-join: a fresh repository of each after the
# same split -t holds the same files with the same modes and bytes (packs,
# pack names, idx, bloom), HEAD and the config aside, when cbup compresses
# with zlib at bup's settings (cbup.compressor = zlib; by default it uses
# libdeflate, faster, with other pack bytes and names).
test_expect_success BUP 'cbup.compressor = zlib: the same files as bup after split -t' '
	for f in empty one r32769 zrun text r3M; do
		rm -rf fb fc &&
		BUP_DIR=$TRASH/fb bup init >/dev/null 2>&1 &&
		BUP_DIR=$TRASH/fc cbup init >/dev/null 2>&1 &&
		git --git-dir=fc config cbup.compressor zlib &&
		git --git-dir=fb config cbup.compressor zlib &&
		BUP_DIR=$TRASH/fb bup split -t in/$f >b.t 2>/dev/null &&
		BUP_DIR=$TRASH/fc cbup split -t in/$f >c.t &&
		test_cmp b.t c.t &&
		rm fb/HEAD fc/HEAD &&
		(cd fb && find . -printf "%y %m %p\n" | sort) >lb &&
		(cd fc && find . -printf "%y %m %p\n" | sort) >lc &&
		test_cmp lb lc &&
		grep -q "^f [0-7]* ./objects/pack/pack-.*\.pack$" lc &&
		for p in $(cd fb && find . -type f); do
			cmp fb/$p fc/$p || return 1
		done || return 1
	done
'

# The setting read as git reads its configuration: from the user's
# ~/.gitconfig (git config --global), so repositories made afterwards by a
# plain `cbup init`, as bup's test-comparative-split-join makes them, get
# bup's packs; and a repository's own setting still overrides it.
test_expect_success BUP 'cbup.compressor = zlib in ~/.gitconfig: bup'"'"'s packs from a plain init' '
	mkdir h2 && rm -rf gb gc gd &&
	(HOME=$TRASH/h2 && export HOME &&
	 git config --global cbup.compressor zlib &&
	 BUP_DIR=$TRASH/gb bup init >/dev/null 2>&1 &&
	 BUP_DIR=$TRASH/gc cbup init >/dev/null 2>&1 &&
	 BUP_DIR=$TRASH/gd cbup init >/dev/null 2>&1 &&
	 git --git-dir=gd config cbup.compressor libdeflate &&
	 BUP_DIR=$TRASH/gb bup split -t in/text >b.t 2>/dev/null &&
	 BUP_DIR=$TRASH/gc cbup split -t in/text >c.t &&
	 BUP_DIR=$TRASH/gd cbup split -t in/text >d.t) &&
	test_cmp b.t c.t && test_cmp b.t d.t &&
	(cd gb/objects/pack && ls pack-*.pack pack-*.idx) >lb &&
	(cd gc/objects/pack && ls pack-*.pack pack-*.idx) >lc &&
	test_cmp lb lc &&
	while read -r f; do
		cmp gb/objects/pack/$f gc/objects/pack/$f || return 1
	done <lb &&
	(cd gd/objects/pack && ls pack-*.pack) >ld &&
	test "$(wc -l <ld)" = 1 &&
	test_must_fail cmp -s gb/objects/pack/$(sed -n "/pack$/p" lb) \
		gd/objects/pack/$(cat ld)
'

test_expect_success BUP 'a 100 MB input (once)' '
	lcg 20 104857601 >big &&
	BUP_DIR=$A cbup split -t big >c.t &&
	BUP_DIR=$B bup split --noop -t big >b.t &&
	test_cmp b.t c.t &&
	BUP_DIR=$A bup join $(cat c.t) | cmp - big &&
	rm -f big
'

test_expect_success GIT 'git fsck --strict is clean on the cbup repository' '
	git --git-dir=$A fsck --strict >fsck.out 2>&1 &&
	! grep -v -e "^dangling" -e "^notice: HEAD points to an unborn" fsck.out
'

test_done
