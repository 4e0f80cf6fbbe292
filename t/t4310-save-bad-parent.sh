#!/bin/sh
# save and split onto a branch whose ref names no readable commit (a
# tree, a blob, an object the repository lacks): refused with exit 1 and
# a message naming the ref, before anything is written, and never a
# crash.  The check used to run after the pack writer had started its
# compression workers and exit() from there, racing them (OpenSSL's exit
# handlers ran under a worker still hashing: SIGSEGV or SIGABRT in about
# one run of four); many runs with many workers catch that.
#
# Real bup 0.33.7 reads the ref and leaves the check to git update-ref,
# after it has written its pack.  For a missing object it exits 1 (with
# git's messages and a Python traceback).  Onto a blob it writes a commit
# whose parent is that blob and exits 0: git fsck --strict then rejects
# the repository.  Onto a tree it does either, depending on whether git
# met the id as a tree first (it does when the new commit has that very
# tree).  cbup refuses all three, with its own message.
. "$(dirname "$0")/test-lib.sh"

B="$TRASH/bup-repo"
MISSING=1234567890123456789012345678901234567890

test_expect_success 'setup: a branch, its tree and a blob' '
	mkdir d && echo hi >d/f &&
	cbup init >/dev/null 2>&1 &&
	cbup index d >/dev/null &&
	cbup save -n b d >/dev/null 2>&1 &&
	git --git-dir="$BUP_DIR" rev-parse b >commit &&
	git --git-dir="$BUP_DIR" rev-parse "b^{tree}" >tree &&
	git --git-dir="$BUP_DIR" ls-tree -r b >ls &&
	awk "\$2 == \"blob\" { print \$3; exit }" ls >blob &&
	test -s blob &&
	echo $MISSING >missing
'

# refused OID_FILE MESSAGE: with the branch pointing at the object named
# in OID_FILE, 40 saves on 16 workers each exit 1 with MESSAGE; the ref
# keeps its value and no pack is written.
refused() {
	cp "$1" "$BUP_DIR/refs/heads/b" &&
	ls "$BUP_DIR/objects/pack" >packs.before &&
	for i in $(seq 40); do
		test_expect_code 1 cbup save -n b d 2>err &&
		grep "^error: refs/heads/b points to $2" err ||
			{ cat err; exit 1; }
	done &&
	test_cmp "$1" "$BUP_DIR/refs/heads/b" &&
	ls "$BUP_DIR/objects/pack" >packs.after &&
	test_cmp packs.before packs.after
}

test_expect_success 'save onto a ref naming a tree: exit 1, never a crash' '
	export CBUP_THREADS=16 &&
	refused tree "a tree, not a commit$"
'

test_expect_success 'save onto a ref naming a blob: exit 1, never a crash' '
	export CBUP_THREADS=16 &&
	refused blob "a blob, not a commit$"
'

test_expect_success 'save onto a ref naming a missing object: exit 1' '
	export CBUP_THREADS=16 &&
	refused missing "an unreadable commit: .*$MISSING"
'

test_expect_success 'split onto a ref naming a tree, a blob, nothing: exit 1' '
	for k in tree blob missing; do
		cp $k "$BUP_DIR/refs/heads/b" || exit 1
		echo data | test_expect_code 1 cbup split -n b 2>err &&
		grep "^error: refs/heads/b points to " err ||
			{ cat err; exit 1; }
		test_cmp $k "$BUP_DIR/refs/heads/b" || exit 1
	done
'

test_expect_success 'the repository stays fsck-clean; the old ref saves again' '
	cp commit "$BUP_DIR/refs/heads/b" &&
	git --git-dir="$BUP_DIR" fsck --strict --no-dangling >/dev/null &&
	cbup save -n b d >/dev/null 2>&1 &&
	git --git-dir="$BUP_DIR" rev-parse b^ >parent &&
	test_cmp commit parent &&
	git --git-dir="$BUP_DIR" fsck --strict --no-dangling >/dev/null
'

# bup's side of the comparison in the header, on a repository of its own
test_expect_success BUP 'bup: a missing parent is exit 1, a blob parent a broken commit' '
	BUP_DIR="$B" bup init >/dev/null 2>&1 &&
	BUP_DIR="$B" bup index d >/dev/null &&
	BUP_DIR="$B" bup save -n b d >/dev/null 2>&1 &&
	git --git-dir="$B" ls-tree -r b >bls &&
	awk "\$4 ~ /\/d\/f\$/ { print \$3 }" bls >bblob &&
	test -s bblob &&
	cp missing "$B/refs/heads/b" &&
	test_expect_code 1 env BUP_DIR="$B" bup save -n b d >/dev/null 2>&1 &&
	cp bblob "$B/refs/heads/b" &&
	BUP_DIR="$B" bup save -n b d >/dev/null 2>&1 &&
	git --git-dir="$B" cat-file -p b >bcommit &&
	grep "^parent $(cat bblob)\$" bcommit &&
	test_must_fail git --git-dir="$B" fsck --strict --no-dangling \
		>/dev/null 2>&1
'

test_done
