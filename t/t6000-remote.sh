#!/bin/sh
# Remote repositories (FORMAT.md 7) between cbup and cbup: init/split/
# join over -r :PATH (a local `cbup server`, no ssh), the index cache and
# the server's "index" suggestions, pack limits, bup on's reverse mode,
# a server fed malformed, oversized or truncated input, and a client
# killed mid-transfer: the server repository stays fsck-clean, no ref
# points at a missing object, no partial pack is left behind.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_SRCDIR/lib-remote.sh"

S="$TRASH/srv"


test_expect_success 'setup' '
	cbup init >/dev/null 2>&1 &&
	lcg 1 3000000 >data &&
	lcg 2 200000 >small
'

test_expect_success 'init -r creates the remote repository' '
	cbup init -r ":$S" >out 2>&1 &&
	test -d "$S/objects/pack" && test -f "$S/config" &&
	git --git-dir="$S" fsck --strict >fsck 2>&1 &&
	test_must_fail grep -v "^notice" fsck
'

test_expect_success 'split -r and join -r round trip; ids as local' '
	cbup split -r ":$S" -n big data &&
	cbup join -r ":$S" big >out && cmp data out &&
	git --git-dir="$S" fsck --strict &&
	cbup split -t data >expect &&
	cbup split -r ":$S" -t data >actual &&
	test_cmp expect actual &&
	test -n "$(ls "$BUP_DIR"/index-cache/None__*srv/*.idx)" &&
	refs_ok "$S"
'

test_expect_success 'a second split -n has the old commit as parent' '
	old=$(git --git-dir="$S" rev-parse big) &&
	cbup split -r ":$S" -n big small &&
	test "$(git --git-dir="$S" rev-parse big^)" = "$old" &&
	cbup join -r ":$S" big >out && cmp small out
'

test_expect_success 'known objects are not sent again' '
	n=$(packs "$S") &&
	cbup split -r ":$S" -t data >/dev/null &&
	test "$(packs "$S")" = "$n"
'

test_expect_success 'server suggests its index when the cache is gone' '
	rm -rf "$BUP_DIR/index-cache" &&
	n=$(packs "$S") &&
	cbup --debug split -r ":$S" -n big2 data 2>err &&
	grep -q "bup server: suggesting index pack-" err &&
	grep -q "bup server: received 1 object" err &&
	test "$(packs "$S")" = "$((n + 1))" &&
	ls "$BUP_DIR"/index-cache/None__*srv/ >cache &&
	test "$(grep -c "\.idx$" cache)" -ge 2 &&
	cbup join -r ":$S" big2 >out && cmp data out
'

test_expect_success '--max-pack-size splits the transfer into packs' '
	cbup init -r ":$TRASH/srv2" >/dev/null 2>&1 &&
	cbup split --max-pack-size=300000 -r ":$TRASH/srv2" -n x data &&
	test "$(packs "$TRASH/srv2")" -gt 3 &&
	cbup join -r ":$TRASH/srv2" x >out && cmp data out &&
	git --git-dir="$TRASH/srv2" fsck --strict
'

test_expect_success 'join -r of a missing ref fails with the server message' '
	test_expect_code 1 cbup join -r ":$S" nosuch >out 2>err &&
	grep -q "^error: missing ref at .nosuch." err &&
	test_must_fail test -s out
'

test_expect_success 'split -r to a missing repository fails cleanly' '
	test_must_fail cbup split -r ":$TRASH/none" -n x small 2>err &&
	grep -q "does not exist" err
'

test_expect_success 'bup on - runs split in reverse mode into the local repo' '
	cbup on - split -n onb small 2>err &&
	cbup join onb >out && cmp small out &&
	cbup on - split -t data >actual &&
	cbup split -t data >expect && test_cmp expect actual
'

test_expect_success 'reverse mode refuses -r' '
	BUP_SERVER_REVERSE=h test_expect_code 97 cbup split -r ":$S" -t small \
		2>err 3</dev/null 4>/dev/null &&
	grep -q "^error: don.t use -r in reverse mode" err
'

test_expect_success 'bup on - split refuses to read standard input' '
	test_expect_code 97 cbup on - split -n onstdin <small 2>err &&
	grep -q "^error: \"bup on ... split\" does not support reading from standard input$" err &&
	test_expect_code 97 cbup on - split --git-ids -n onstdin </dev/null \
		2>err &&
	grep -q "^error: \"bup on ... split\" does not support reading" err &&
	test_must_fail git --git-dir="$BUP_DIR" rev-parse -q --verify \
		refs/heads/onstdin
'

test_expect_success BUP 'bup on - split from standard input: as bup' '
	record_rc b.rc bup on - split -n onstdin <small 2>b.err &&
	record_rc c.rc cbup on - split -n onstdin <small 2>c.err &&
	test_cmp b.rc c.rc &&
	tail -n 1 b.err >expect &&
	tail -n 1 c.err >actual &&
	test_cmp expect actual
'

# ---- the server against hostile or broken clients ----

test_expect_success 'server: help lists the 0.33.7 commands' '
	printf "help\nquit\n" | cbup server >out &&
	printf "Commands:\n" >expect &&
	for c in cat cat-batch help init-dir join list-indexes quit read-ref \
		receive-objects-v2 refs resolve rev-list send-index set-dir \
		update-ref; do printf "    %s\n" $c; done >>expect &&
	printf "\nok\n" >>expect &&
	test_cmp expect out
'

for bad in "bogus" "send-index ../../../etc/passwd" \
	"send-index pack-x.idx" "update-ref refs/heads/../../../x" \
	"update-ref HEAD" "refs 2 0" "resolve 9" "set-dir"
do
	test_expect_success "server rejects '$bad'" "
		printf 'set-dir %s\n%s\nhelp\n' '$S' '$bad' |
			test_must_fail cbup server >out 2>err &&
		grep -q '^error ' out &&
		test_must_fail grep -q Commands out
	"
done

test_expect_success 'server rejects an oversized line' '
	{ head -c 70000 /dev/zero | tr "\0" a; echo; } |
		test_must_fail cbup server >out 2>err &&
	grep -q "^error line longer than" out
'

test_expect_success 'server rejects a NUL in a command' '
	printf "read-ref a\0b\n" | test_must_fail cbup server >out 2>err &&
	grep -q "^error NUL byte" out
'

test_expect_success 'update-ref to an object the server lacks is refused' '
	printf "set-dir %s\nupdate-ref refs/heads/evil\n%s\n\n" "$S" \
		1111111111111111111111111111111111111111 |
		test_must_fail cbup server >out 2>err &&
	grep -q "^error update-ref refs/heads/evil: object 1111" out &&
	test_must_fail git --git-dir="$S" rev-parse -q --verify evil
'

test_expect_success 'update-ref compares the old value' '
	cur=$(git --git-dir="$S" rev-parse big) &&
	printf "set-dir %s\nupdate-ref refs/heads/big\n%s\n%s\n" "$S" \
		"$cur" 2222222222222222222222222222222222222222 |
		test_must_fail cbup server >out 2>err &&
	test "$(git --git-dir="$S" rev-parse big)" = "$cur"
'

test_expect_success 'a frame whose content does not match its id is refused' '
	n=$(packs "$S") &&
	# a whole frame: the id of a different object, the right CRC-32 of
	# the pack form (header 0x31, zlib of "x": blob c1b0730e...)
	printf "set-dir %s\nreceive-objects-v2\n" "$S" >in &&
	printf "\000\000\000\042" >>in &&
	printf "1111111111111111111\001" >>in &&
	printf "\324\077\375\360\061\170\001\253\000\000\000\171\000\171" >>in &&
	printf "\000\000\000\000" >>in &&
	# checked inline, and on the pack writer'"'"'s workers
	for t in 0 2; do
		CBUP_THREADS=$t test_must_fail cbup server <in >out 2>err &&
		grep "^error object 3131313131313131313131313131313131313101: content hashes to c1b0730e0133447badcfd47fd144e254807b06e1" out &&
		test "$(packs "$S")" = "$n" &&
		test_must_fail ls -d "$S"/objects/pack-tmp-* 2>/dev/null ||
		return 1
	done
'

test_expect_success 'a frame with a wrong CRC-32 is refused' '
	n=$(packs "$S") &&
	printf "set-dir %s\nreceive-objects-v2\n" "$S" >in &&
	printf "\000\000\000\042" >>in &&
	printf "\301\260\163\016\001\063\104\173\255\317\324\177\321\104\342\124\200\173\006\341" >>in &&
	printf "\324\077\375\361\061\170\001\253\000\000\000\171\000\171" >>in &&
	printf "\000\000\000\000" >>in &&
	for t in 0 2; do
		CBUP_THREADS=$t test_must_fail cbup server <in >out 2>err &&
		grep "^error object c1b0730e0133447badcfd47fd144e254807b06e1: CRC mismatch" out &&
		test "$(packs "$S")" = "$n" || return 1
	done
'

test_expect_success 'EOF inside receive-objects-v2 leaves no pack' '
	n=$(packs "$S") &&
	printf "set-dir %s\nreceive-objects-v2\n\000\000\001\000abc" "$S" |
		test_must_fail cbup server >out 2>err &&
	grep -i "eof\|end of\|short\|truncated" err &&
	test "$(packs "$S")" = "$n" &&
	test_must_fail ls -d "$S"/objects/pack-tmp-* 2>/dev/null
'

test_expect_success 'connection cut mid-transfer: nothing visible' '
	n=$(packs "$S") &&
	cat >cut <<-EOF &&
	#!/bin/sh
	dd bs=4096 count=100 2>/dev/null | "$CBUP" server
	EOF
	chmod +x cut &&
	lcg 7 3000000 >fresh &&
	CBUP_REMOTE_BUP="$TRASH/cut" test_expect_code 1 timeout 60 cbup split \
		-r ":$S" -n cut fresh 2>err &&
	test "$(packs "$S")" = "$n" &&
	test_must_fail git --git-dir="$S" rev-parse -q --verify cut &&
	test_must_fail ls -d "$S"/objects/pack-tmp-* 2>/dev/null &&
	git --git-dir="$S" fsck --strict && refs_ok "$S"
'

test_expect_success 'client killed mid-transfer: server cleans up' '
	n=$(packs "$S") &&
	lcg 8 12000000 >part &&
	# the input stalls, so the client is surely mid-transfer when killed
	{ { cat part; sleep 3; cat part; } |
	  cbup split -r ":$S" -n killed 2>/dev/null & pid=$!; } &&
	sleep 1.5 && ls -d "$S"/objects/pack-tmp-* >/dev/null &&
	kill -9 $pid && test_expect_code 137 wait $pid &&
	i=0 && while ls -d "$S"/objects/pack-tmp-* >/dev/null 2>&1 &&
		test $i -lt 50; do sleep 0.1; i=$((i + 1)); done &&
	test_must_fail ls -d "$S"/objects/pack-tmp-* 2>/dev/null &&
	test "$(packs "$S")" = "$n" &&
	test_must_fail git --git-dir="$S" rev-parse -q --verify killed &&
	git --git-dir="$S" fsck --strict && refs_ok "$S"
'

test_expect_success 'cat-batch, refs and rev-list answer as bup' '
	big=$(git --git-dir="$S" rev-parse big) &&
	printf "set-dir %s\nrefs 1 0\n\nrev-list\n\n\nbig\n\ncat-batch\nbig\nnope\n\nquit\n" "$S" |
		cbup server >out &&
	grep -q "^$big refs/heads/big$" out &&
	grep -qx "$(git --git-dir="$S" rev-parse big^)" out &&
	grep -q "^$big commit [0-9]*$" out &&
	grep -qx missing out
'

test_done
