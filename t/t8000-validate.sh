#!/bin/sh
# cbup validate-ref-links, validate-object-links and damage against real
# bup 0.33.7 on the same repositories: an intact one and copies with a
# file's blob, a directory's tree, a .bupm, a chunk of a chunked file or
# a parent commit dropped from the pack, a ref naming a missing commit,
# and a bad ref after good ones.  Each gives bup's stdout, stderr and
# exit code (bup's traceback aside); -v to -vvvv give bup's lines; and
# damage with --seed changes copies of one file byte for byte as bup's.
. "$(dirname "$0")/test-lib.sh"

test_skip_all_unless BUP

# both REPO ARGS...: bup and cbup on REPO; same stdout, stderr, status.
both() {
	both_repo_=$1 && shift &&
	record_rc b.rc env BUP_DIR="$both_repo_" bup "$@" >b.out 2>b.err &&
	record_rc c.rc env BUP_DIR="$both_repo_" cbup "$@" >c.out 2>c.err &&
	test_cmp b.rc c.rc &&
	test_cmp b.out c.out &&
	test_cmp b.err c.err
}

# drop REPO OID...: repack REPO without the given objects (no deltas,
# bup's idx files and midx/bloom gone, as dev/perforate-repo leaves it).
drop() {
	drop_repo_=$1 && shift &&
	printf '%s\n' "$@" >gone &&
	git --git-dir="$drop_repo_" cat-file --batch-all-objects \
		--batch-check='%(objectname)' | grep -v -f gone >keep &&
	rm -rf newpack && mkdir newpack &&
	git --git-dir="$drop_repo_" pack-objects -q --window=0 newpack/pack \
		<keep >/dev/null &&
	rm -f "$drop_repo_"/objects/pack/* &&
	mv newpack/* "$drop_repo_"/objects/pack/
}

R=$TRASH/r

test_expect_success BUP,GIT 'setup: two saves and a branch by bup, damaged copies' '
	mkdir -p src/a src/b &&
	echo 1 >src/a/1 && echo 2 >src/a/2 && echo 3 >src/b/3 &&
	seq 1 200000 >src/b/big &&
	bup -d "$R" init >/dev/null 2>&1 &&
	BUP_DIR="$R" bup index src >/dev/null &&
	BUP_DIR="$R" bup save -n src --strip -d 1600000000 src 2>/dev/null &&
	echo 4 >src/a/4 &&
	BUP_DIR="$R" bup index src >/dev/null &&
	BUP_DIR="$R" bup save -n src --strip -d 1600000100 src 2>/dev/null &&
	BUP_DIR="$R" bup save -n other --strip -d 1600000200 src/a 2>/dev/null &&
	for k in blob tree bupm chunk parent commit badref; do
		cp -R "$R" "r-$k" || return 1
	done &&
	drop r-blob $(git --git-dir="$R" rev-parse src:a/2) &&
	drop r-tree $(git --git-dir="$R" rev-parse src:a) &&
	drop r-bupm $(git --git-dir="$R" rev-parse src:b/.bupm) &&
	chunk=$(git --git-dir="$R" ls-tree src:b/big.bup | sed -n "2s/.* blob \([0-9a-f]*\).*/\1/p") &&
	test -n "$chunk" &&
	drop r-chunk "$chunk" &&
	drop r-parent $(git --git-dir="$R" rev-parse src~1) &&
	drop r-commit $(git --git-dir="$R" rev-parse other) &&
	echo 1111111111111111111111111111111111111111 >r-badref/refs/heads/zzz
'

test_expect_success BUP,GIT 'intact repository: nothing missing, exit 0' '
	both "$R" validate-object-links &&
	both "$R" validate-ref-links &&
	test ! -s c.out &&
	test ! -s c.err
'

test_expect_success BUP,GIT 'validate-object-links on each damaged copy' '
	for k in blob tree bupm chunk parent commit badref; do
		both "r-$k" validate-object-links || return 1
	done &&
	both r-blob validate-object-links &&
	grep "^no $(git --git-dir="$R" rev-parse src:a/2) for " c.out &&
	echo 1 >want.rc &&
	test_cmp want.rc c.rc
'

test_expect_success BUP,GIT 'validate-ref-links on each damaged copy' '
	for k in blob tree bupm chunk parent commit; do
		both "r-$k" validate-ref-links || return 1
	done &&
	both r-chunk validate-ref-links &&
	grep "^missing refs/heads/src:[0-9a-f]*/b/big.bup//" c.err &&
	both r-parent validate-ref-links &&
	grep "^missing refs/heads/src:\$" c.err
'

test_expect_success BUP,GIT 'a ref to a missing commit listed first: nothing checked, exit 0' '
	both r-commit validate-ref-links &&
	grep "^fatal: git show-ref: bad ref refs/heads/other " c.err &&
	echo 0 >want.rc &&
	test_cmp want.rc c.rc
'

test_expect_success BUP,GIT 'a bad ref after good ones: exit 2 after git'"'"'s message' '
	record_rc b.rc env BUP_DIR=r-badref bup validate-ref-links 2>b.err &&
	record_rc c.rc env BUP_DIR=r-badref cbup validate-ref-links 2>c.err &&
	test_cmp b.rc c.rc &&
	head -n 1 b.err >b.first &&
	head -n 1 c.err >c.first &&
	test_cmp b.first c.first &&
	echo 2 >want.rc &&
	test_cmp want.rc c.rc
'

test_expect_success BUP,GIT 'an annotated tag: skipped with a warning; a ref to it fails' '
	cp -R "$R" r-tag &&
	GIT_COMMITTER_NAME=a GIT_COMMITTER_EMAIL=a@b \
		git --git-dir=r-tag tag -a -m t1 t1 src &&
	git --git-dir=r-tag repack -adq &&
	both r-tag validate-object-links &&
	grep "^warning: skipping tag object $(git --git-dir=r-tag rev-parse t1)\$" c.err &&
	record_rc b.rc env BUP_DIR=r-tag bup validate-ref-links 2>b.err &&
	record_rc c.rc env BUP_DIR=r-tag cbup validate-ref-links 2>c.err &&
	test_cmp b.rc c.rc &&
	grep "unexpected repository object type" c.err
'

test_expect_success BUP,GIT 'refs and VFS paths named on the command line' '
	for k in "$R" r-blob r-chunk r-commit; do
		for a in src /src other /other /other/latest /src/latest/a \
			 /src/latest/a/2 src/latest/b/big /src/latest/b \
			 /nonexistent /.tag / "src other"; do
			both "$k" validate-ref-links $a || return 1
		done || return 1
	done &&
	both r-commit validate-ref-links other &&
	printf "missing other" >want.err &&
	test_cmp want.err c.err
'

test_expect_success BUP,GIT 'a path into a branch lacking a commit, or through a missing tree, fails' '
	record_rc b.rc env BUP_DIR=r-parent bup validate-ref-links /src/latest/a 2>b.err &&
	record_rc c.rc env BUP_DIR=r-parent cbup validate-ref-links /src/latest/a 2>c.err &&
	test_cmp b.rc c.rc &&
	echo 2 >want.rc &&
	test_cmp want.rc c.rc &&
	grep "$(git --git-dir="$R" rev-parse src~1)" c.err &&
	both r-parent validate-ref-links src &&
	record_rc b.rc env BUP_DIR=r-tree bup validate-ref-links /src/latest/a/1 2>b.err &&
	record_rc c.rc env BUP_DIR=r-tree cbup validate-ref-links /src/latest/a/1 2>c.err &&
	test_cmp b.rc c.rc &&
	grep "$(git --git-dir="$R" rev-parse src:a)" c.err &&
	both r-tree validate-ref-links /src/latest/a
'

test_expect_success BUP,GIT '-v to -vvvv: bup'"'"'s progress lines and counts' '
	for v in -v -vv -vvv -vvvv; do
		both "$R" validate-ref-links $v &&
		both r-chunk validate-ref-links $v &&
		both r-blob validate-ref-links $v src || return 1
	done &&
	grep "^scanned [0-9.]*% src:[0-9a-f]*/b/big.bup//" c.err
'

test_expect_success BUP 'usage errors exit 97 as bup' '
	both "$R" validate-object-links extra &&
	both "$R" validate-ref-links --nope &&
	both "$R" damage &&
	grep "^error: filenames expected" c.err
'

test_expect_success BUP 'damage --seed: the same bytes changed as bup' '
	seq 1 50000 >orig &&
	mkdir -p db dc &&
	while read -r args; do
		cp orig db/f && cp orig db/g && cp orig dc/f && cp orig dc/g &&
		(cd db && record_rc ../b.rc bup damage $args f g 2>../b.err) &&
		(cd dc && record_rc ../c.rc cbup damage $args f g 2>../c.err) &&
		test_cmp b.rc c.rc &&
		test_cmp b.err c.err &&
		cmp db/f dc/f && cmp db/g dc/g || return 1
	done <<-\EOF &&
	--seed=5
	-S 1 -n 3 -s 4
	-S 007 -n 20 --percent 2
	-S -12345678901234567890 --equal -n 7 -s 100
	-S abc --percent=1.5 -s 3000
	-S 9 -n -2
	-S 3 --percent 0 -s 0
	-S 42 -n 2 --percent 100
	-S 8 -s 70000
	EOF
	! cmp orig dc/f
'

test_expect_success BUP 'damage of a missing file: status 1 after the same line' '
	record_rc b.rc bup damage -S 1 nonexistent 2>b.err &&
	record_rc c.rc cbup damage -S 1 nonexistent 2>c.err &&
	test_cmp b.rc c.rc &&
	head -n 1 b.err >b.first &&
	head -n 1 c.err >c.first &&
	test_cmp b.first c.first &&
	grep nonexistent c.err | tail -n 1 | grep "No such file"
'

test_expect_success BUP 'damage -n 007 (a string to bup): status 1, file unchanged' '
	for a in "-n 007" "-s abc" "-n -0"; do
		cp orig db/f && cp orig dc/f &&
		(cd db && record_rc ../b.rc bup damage -S 1 $a f 2>../b.err) &&
		(cd dc && record_rc ../c.rc cbup damage -S 1 $a f 2>../c.err) &&
		test_cmp b.rc c.rc &&
		head -n 1 b.err >b.first &&
		head -n 1 c.err >c.first &&
		test_cmp b.first c.first &&
		cmp orig db/f && cmp orig dc/f || return 1
	done &&
	grep "^fatal: invalid --num" c.err
'

test_done
