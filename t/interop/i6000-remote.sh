#!/bin/sh
# The server protocol between cbup and real bup 0.33.7, both ways:
#   cbup client -> `bup server` (CBUP_REMOTE_BUP=bup runs it locally),
#   bup client  -> `cbup server` (a fake ssh that drops the host and runs
#                  the command with a "bup" -> cbup symlink first in PATH),
#   bup on / cbup on across the two (reverse mode, mux/demux).
# Ids must equal local saves/splits; every repository passes fsck.
. "$(dirname "$0")/../test-lib.sh"
. "$TOP/t/lib-remote.sh"

BS="$TRASH/bupsrv"     # served by real bup
CS="$TRASH/cbupsrv"    # served by cbup

test_expect_success BUP 'setup: fake ssh serving cbup as bup' '
	make_fakessh &&
	bup init >/dev/null 2>&1 &&
	lcg 3 2500000 >data &&
	mkdir -p src/sub && lcg 4 300000 >src/sub/f && echo hi >src/x &&
	ln -s x src/link
'

test_expect_success BUP 'cbup client -> bup server: init, split, join' '
	CBUP_REMOTE_BUP=bup cbup init -r ":$BS" >/dev/null 2>&1 &&
	CBUP_REMOTE_BUP=bup cbup split -r ":$BS" -n s data &&
	git --git-dir="$BS" fsck --strict &&
	bup -d "$BS" join s >out && cmp data out &&
	CBUP_REMOTE_BUP=bup cbup join -r ":$BS" s >out && cmp data out &&
	bup split -t data >expect &&
	CBUP_REMOTE_BUP=bup cbup split -r ":$BS" -t data >actual &&
	test_cmp expect actual
'

test_expect_success BUP 'cbup client -> bup server: suggestions after cache loss' '
	rm -rf "$BUP_DIR/index-cache" &&
	CBUP_REMOTE_BUP=bup cbup split -r ":$BS" -n s2 data &&
	test "$(ls "$BS"/objects/pack/*.pack | wc -l)" -eq 2 &&
	CBUP_REMOTE_BUP=bup cbup join -r ":$BS" s2 >out && cmp data out
'

test_expect_success BUP 'bup client -> cbup server: init, split, join' '
	PATH="$TRASH/fakessh:$PATH" bup init -r "localhost:$CS" \
		>/dev/null 2>&1 &&
	test -d "$CS/objects/pack" &&
	PATH="$TRASH/fakessh:$PATH" bup split -r "localhost:$CS" -n s data &&
	git --git-dir="$CS" fsck --strict &&
	cbup -d "$CS" join s >out && cmp data out &&
	PATH="$TRASH/fakessh:$PATH" bup join -r "localhost:$CS" s >out &&
	cmp data out &&
	bup split -t data >expect &&
	PATH="$TRASH/fakessh:$PATH" bup split -r "localhost:$CS" -t data >actual &&
	test_cmp expect actual
'

test_expect_success BUP 'bup save/ls/restore through cbup server' '
	# atimes ahead, so that the first save'"'"'s reads cannot change what
	# the second records (relatime updates an atime not after mtime)
	"$TOP/t/helper/manifest" --future-atimes src &&
	bup index src >/dev/null &&
	PATH="$TRASH/fakessh:$PATH" bup save -r "localhost:$CS" -n sv \
		-d 1700000000 src &&
	bup save -n sv -d 1700000000 src &&
	# the tree of $TRASH, not the root: the saves record the metadata of
	# every directory above it too, and other processes on the machine
	# may touch /tmp between the two saves
	test "$(git --git-dir="$CS" rev-parse "sv:${TRASH#/}")" = \
		"$(git --git-dir="$BUP_DIR" rev-parse "sv:${TRASH#/}")" &&
	git --git-dir="$CS" fsck --strict &&
	PATH="$TRASH/fakessh:$PATH" bup ls -r "localhost:$CS" \
		"sv/latest$TRASH/src" >actual 2>lserr &&
	bup ls "sv/latest$TRASH/src" >expect &&
	test_cmp expect actual &&
	PATH="$TRASH/fakessh:$PATH" bup restore -r "localhost:$CS" -C rest \
		"sv/latest$TRASH/src" >/dev/null 2>&1 &&
	diff -r src rest/src
'

test_expect_success BUP 'bup client -> cbup server: dedup suggests indexes' '
	rm -rf "$BUP_DIR/index-cache" &&
	n=$(ls "$CS"/objects/pack/*.pack | wc -l) &&
	PATH="$TRASH/fakessh:$PATH" bup split -r "localhost:$CS" -n s3 data &&
	test "$(ls "$CS"/objects/pack/*.pack | wc -l)" -eq $((n + 1)) &&
	ls "$BUP_DIR"/index-cache/localhost_*/*.idx >/dev/null &&
	cbup -d "$CS" join s3 >out && cmp data out
'

test_expect_success BUP 'bup on (real) with cbup on--server/mux remotely' '
	PATH="$TRASH/fakessh:$PATH" bup on localhost split -n on1 data \
		2>err &&
	bup join on1 >out && cmp data out &&
	git --git-dir="$BUP_DIR" fsck --strict
'

test_expect_success BUP 'cbup on - with real bup on--server' '
	CBUP_REMOTE_BUP=bup cbup on - split -n on2 data 2>err &&
	cbup join on2 >out && cmp data out &&
	git --git-dir="$BUP_DIR" fsck --strict
'

test_done
