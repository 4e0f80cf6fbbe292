#!/bin/sh
# The command-line layer and repositories: init's layout against real
# bup's, git fsck, exit codes and messages for missing and non
# repositories, -d/--bup-dir/BUP_DIR/~/.bup and DIR/.git, the global
# options, and cbup standing in for bup under a "bup" symlink.
. "$(dirname "$0")/test-lib.sh"

tree_manifest() {
	(cd "$1" && find . -printf '%M %s %p\n' | sort -k3)
}

test_expect_success 'init creates a repository that git accepts' '
	cbup init 2>err &&
	grep "^Initialized empty Git repository in $TRASH/repo/\$" err &&
	test -d repo/objects/pack &&
	git --git-dir=repo fsck 2>&1 | tee fsck &&
	! grep -v -e "^notice:" fsck
'

test_expect_success BUP 'init layout and files equal bup init' '
	BUP_DIR=$TRASH/b bup init 2>berr &&
	BUP_DIR=$TRASH/c cbup init 2>cerr &&
	tree_manifest b >b.list &&
	tree_manifest c >c.list &&
	test_cmp b.list c.list &&
	diff -r b c &&
	sed "s|/b/\$|/X/|" berr >berr.n &&
	sed "s|/c/\$|/X/|" cerr >cerr.n &&
	test_cmp berr.n cerr.n
'

test_expect_success BUP 're-init matches bup and changes nothing' '
	cp -a c c.before &&
	BUP_DIR=$TRASH/c cbup init 2>cerr &&
	BUP_DIR=$TRASH/b bup init 2>berr &&
	diff -r c.before c &&
	echo "Reinitialized existing Git repository in $TRASH/c/" >want &&
	test_cmp want cerr &&
	sed "s|/b/\$|/c/|" berr >berr.n &&
	test_cmp want berr.n
'

test_expect_success 'init fails for a missing parent and for a file' '
	test_expect_code 1 env BUP_DIR=nope/x cbup init 2>err &&
	echo "bup: error: could not init repository: parent directory \"nope\" does not exist" >want &&
	test_cmp want err &&
	: >afile &&
	test_expect_code 1 env BUP_DIR=afile cbup init 2>err &&
	grep "could not init repository" err
'

test_expect_success BUP 'missing repository: exit 15 and bup message' '
	test_expect_code 15 env BUP_DIR=$TRASH/nope cbup midx -a 2>c.err &&
	test_expect_code 15 env BUP_DIR=$TRASH/nope bup midx -a 2>b.err &&
	test_cmp b.err c.err &&
	grep "^error: repository b'\''$TRASH/nope/'\'' does not exist (see \"bup help init\")\$" c.err &&
	test_expect_code 15 env BUP_DIR="$TRASH/it'\''s" cbup midx -a 2>c.err &&
	test_expect_code 15 env BUP_DIR="$TRASH/it'\''s" bup midx -a 2>b.err &&
	test_cmp b.err c.err
'

test_expect_success BUP 'not a repository: exit 14 and bup message' '
	mkdir -p notrepo/sub &&
	test_expect_code 14 env BUP_DIR=$TRASH/notrepo cbup midx -a 2>c.err &&
	test_expect_code 14 env BUP_DIR=$TRASH/notrepo bup midx -a 2>b.err &&
	test_cmp b.err c.err &&
	echo "error: $TRASH/notrepo/ is not a repository" >want &&
	test_cmp want c.err
'

test_expect_success 'DIR/.git is the repository when it exists' '
	mkdir -p wt/.git &&
	test_expect_code 14 env BUP_DIR=$TRASH/wt cbup midx -a 2>c.err &&
	echo "error: $TRASH/wt/.git/ is not a repository" >want &&
	test_cmp want c.err &&
	BUP_DIR=$TRASH/wt cbup init 2>err &&
	grep "in $TRASH/wt/.git/\$" err &&
	test -d wt/.git/objects/pack && ! test -d wt/objects
'

test_expect_success '-d, --bup-dir, --bup-dir= and ~/.bup choose the repository' '
	(cd home && cbup -d rel init 2>../err) &&
	test -d home/rel/objects/pack &&
	cbup --bup-dir "$TRASH/d2" init 2>/dev/null &&
	test -d d2/objects/pack &&
	cbup --bup-dir=d3 init 2>/dev/null &&
	test -d d3/objects/pack &&
	(unset BUP_DIR && cbup init 2>/dev/null) &&
	test -d home/.bup/objects/pack &&
	test_expect_code 15 cbup -d "$TRASH/x/../nope" midx -a 2>err &&
	grep "b'\''$TRASH/nope/'\''" err
'

test_expect_success 'global option errors exit 99 with bup usage' '
	test_expect_code 99 cbup 2>err &&
	grep "^Usage: bup " err &&
	test_expect_code 99 cbup -d 2>err &&
	tail -n 1 err >last &&
	echo "error: no value provided for b'\''-d'\'' option" >want &&
	test_cmp want last &&
	test_expect_code 99 cbup --bup-dir= 2>err &&
	tail -n 1 err | grep "b'\''--bup-dir='\''" &&
	test_expect_code 99 cbup -h 2>err &&
	tail -n 1 err | grep "^error: unexpected option \"-h\"\$" &&
	test_expect_code 99 cbup nosuch 2>err &&
	tail -n 1 err | grep "^error: unknown command \"nosuch\"\$" &&
	test_expect_code 99 cbup "" 2>err &&
	tail -n 1 err | grep "^See " &&
	test_expect_code 99 cbup --help 2>err &&
	test_expect_code 99 cbup help 2>err
'

test_expect_success 'version and -V print 0.33.7' '
	echo 0.33.7 >want &&
	cbup version >out && test_cmp want out &&
	cbup -V >out && test_cmp want out &&
	cbup --version extra >out && test_cmp want out &&
	test_expect_code 97 cbup version --date --commit 2>err &&
	tail -n 1 err | grep "^error: at most one option expected\$"
'

test_expect_success 'cbup works as "bup" and as "bup-CMD"' '
	mkdir -p asbup &&
	ln -s "$CBUP" asbup/bup &&
	ln -s "$CBUP" asbup/bup-version &&
	asbup/bup version >out && echo 0.33.7 >want && test_cmp want out &&
	asbup/bup-version >out && test_cmp want out &&
	BUP_DIR=$TRASH/asrepo asbup/bup init 2>/dev/null &&
	test -d asrepo/objects/pack
'

test_expect_success BUP 'random output equals bup random' '
	for n in 0 1 1000 1024 5000 100000; do
		cbup random -S 3 $n >c.bin &&
		bup random -S 3 $n >b.bin 2>/dev/null &&
		cmp c.bin b.bin || return 1
	done &&
	cbup random 2000 >c.bin && bup random 2000 >b.bin &&
	cmp c.bin b.bin
'

test_expect_success 'tick sleeps to the next second' '
	cbup tick &&
	test_expect_code 97 cbup tick x 2>err &&
	tail -n 1 err | grep "^error: no arguments expected\$"
'

test_done
