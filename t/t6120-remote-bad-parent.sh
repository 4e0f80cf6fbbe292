#!/bin/sh
# A remote save or split onto a branch whose ref names no readable
# commit (a tree, a blob, an object the server lacks) is refused as a
# local one is (t4310): exit 1, the same message, nothing sent, the ref
# unchanged.  The client asks the server for the object (cat-batch)
# before it writes anything; the server's update-ref also refuses a
# commit whose parent is missing or not a commit, whoever the client.
#
# Real bup 0.33.7 through its server: a blob parent is a commit that git
# fsck --strict rejects, exit 0; a missing one is exit 1 after the whole
# pack was sent (git update-ref refuses); a tree either (t4310).
. "$(dirname "$0")/test-lib.sh"
. "$TEST_SRCDIR/lib-remote.sh"

S="$TRASH/srv"
MISSING=1234567890123456789012345678901234567890

test_expect_success 'setup: a branch on the server, its tree and a blob' '
	mkdir d && echo hi >d/f && lcg 1 200000 >d/big &&
	make_fakessh &&
	cbup init >/dev/null 2>&1 &&
	cbup init -r ":$S" >/dev/null 2>&1 &&
	cbup index d >/dev/null &&
	cbup save -r ":$S" -n b d >/dev/null 2>&1 &&
	git --git-dir="$S" rev-parse b >commit &&
	git --git-dir="$S" rev-parse "b^{tree}" >tree &&
	git --git-dir="$S" ls-tree -r b >ls &&
	awk "\$2 == \"blob\" { print \$3; exit }" ls >blob &&
	test -s blob &&
	echo $MISSING >missing
'

# refused OID_FILE MESSAGE CMD...: with the server's branch pointing at
# the object named in OID_FILE, CMD exits 1 with MESSAGE; the ref keeps
# its value and the server gets no pack.
refused() {
	oidf=$1 msg=$2 &&
	shift 2 &&
	cp "$oidf" "$S/refs/heads/b" &&
	ls "$S/objects/pack" >packs.before &&
	{
		test_expect_code 1 "$@" 2>err &&
		grep "^error: refs/heads/b points to $msg" err ||
		{ cat err; return 1; }
	} &&
	test_cmp "$oidf" "$S/refs/heads/b" &&
	ls "$S/objects/pack" >packs.after &&
	test_cmp packs.before packs.after
}

for k in "tree|a tree|a tree, not a commit" \
	"blob|a blob|a blob, not a commit" \
	"missing|a missing object|an unreadable commit: .*$MISSING.* is missing"
do
	oidf=${k%%|*} what=${k#*|} msg=${k##*|}
	what=${what%%|*}
	test_expect_success "save -r :PATH onto a ref naming $what: exit 1" "
		refused $oidf '$msg' cbup save -r ':$S' -n b d
	"
	test_expect_success "save -r HOST:PATH (ssh) onto $what: exit 1" "
		PATH=\"\$TRASH/fakessh:\$PATH\" &&
		refused $oidf '$msg' cbup save -r 'localhost:$S' -n b d
	"
	test_expect_success "split -r onto $what: exit 1" "
		refused $oidf '$msg' cbup split -r ':$S' -n b d/big
	"
done

test_expect_success 'the server stays fsck-clean; the old ref saves again' '
	cp commit "$S/refs/heads/b" &&
	git --git-dir="$S" fsck --strict --no-dangling >/dev/null &&
	cbup save -r ":$S" -n b d >/dev/null 2>&1 &&
	git --git-dir="$S" rev-parse b^ >parent &&
	test_cmp commit parent &&
	git --git-dir="$S" fsck --strict --no-dangling >/dev/null
'

# server_update REF NEW: update-ref sent to a cbup server by hand, as a
# client that does not check first would send it
server_update() {
	printf "set-dir %s\nupdate-ref %s\n%s\n\nquit\n" "$S" "$1" "$2" |
		cbup server >out 2>err
}

# commit_on PARENT_FILE: a commit of b's tree with that parent, written
# loose into the server's repository (--literally: git checks nothing)
commit_on() {
	printf "tree %s\nparent %s\nauthor a <a@b> 1700000000 +0000\ncommitter a <a@b> 1700000000 +0000\n\nx\n" \
		"$(cat tree)" "$(cat "$1")" |
		git --git-dir="$S" hash-object -t commit --literally -w --stdin
}

test_expect_success 'server: update-ref to a commit on a blob, a tree, nothing: refused' '
	for k in "blob:is a blob, not a commit" "tree:is a tree, not a commit" \
		"missing:is not in the repository"; do
		f=${k%%:*} &&
		c=$(commit_on $f) &&
		test_expect_code 1 server_update refs/heads/x "$c" &&
		grep "update-ref refs/heads/x: parent $(cat $f) of commit $c ${k#*:}\$" \
			err &&
		grep "^error update-ref refs/heads/x: parent $(cat $f)" out &&
		test_must_fail git --git-dir="$S" rev-parse -q --verify \
			refs/heads/x >/dev/null || exit 1
	done
'

test_expect_success 'server: update-ref to a commit on a commit: done' '
	c=$(commit_on commit) &&
	server_update refs/heads/x "$c" &&
	echo "$c" >expect &&
	git --git-dir="$S" rev-parse refs/heads/x >actual &&
	test_cmp expect actual
'

test_expect_success BUP 'bup save -r -> cbup server onto a blob: refused, ref kept' '
	cbup -d "$TRASH/bl" init >/dev/null 2>&1 &&
	BUP_DIR="$TRASH/bl" bup index d >/dev/null &&
	cp blob "$S/refs/heads/b" &&
	PATH="$TRASH/fakessh:$PATH" &&
	test_expect_code 1 env BUP_DIR="$TRASH/bl" bup save \
		-r "localhost:$S" -n b d >/dev/null 2>err &&
	grep "update-ref refs/heads/b: parent $(cat blob) of commit .* is a blob, not a commit" err &&
	test_cmp blob "$S/refs/heads/b"
'

test_expect_success BUP 'cbup save -r -> bup server onto a blob: refused' '
	cp blob "$S/refs/heads/b" &&
	test_expect_code 1 env CBUP_REMOTE_BUP=bup cbup save -r ":$S" -n b d \
		2>err &&
	grep "^error: refs/heads/b points to a blob, not a commit" err &&
	test_cmp blob "$S/refs/heads/b"
'

test_done
