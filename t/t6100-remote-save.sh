#!/bin/sh
# save, restore and ls against remote repositories (FORMAT.md 7):
#   - cbup save -r :PATH and through a fake ssh (CBUP_SSH drops the host
#     and runs the command here, cbup standing in for the remote "bup"):
#     the trees equal a local save of the same index, a second save sends
#     nothing the server has, the ref moves with a parent;
#   - restore -r and ls -r print and extract exactly what the local
#     commands do on the server's repository;
#   - `cbup on - save` (reverse mode over fds 3/4);
#   - cbup save -r to real `bup server` and `bup save -r` to `cbup
#     server`, identical trees (BUP prerequisite);
#   - a save killed mid-transfer leaves the server fsck-clean, with no
#     ref to a missing object, and the next save -r completes.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_SRCDIR/lib-remote.sh"

D="$TRASH/d"            # the saved tree lives in $D/src; $D never changes
S="$TRASH/srv"          # served by cbup
BS="$TRASH/bupsrv"      # served by real bup
MANIFEST="$TOP/t/helper/manifest"


# Metadata reprs in vfs error messages name Python object addresses.
noaddr() { sed 's/instance at 0x[0-9a-f]*/instance at X/g'; }

# --strip-path keeps /tmp and $TRASH (which other tests and this one
# change) out of the tree: the root gets $D's metadata.
save() { cbup save --strip-path "$D" "$@" "$D/src"; }

# A save's tree depends on the index it starts from and on what the
# destination already has (bup takes an unchanged file's metadata from
# bupindex.meta only when its object is already saved), so each
# comparison runs from its own copy of one index: ixcopy NAME.
ixcopy() {
	for e in "" .meta .hlink; do
		if test -e "$TRASH/ix0$e"; then
			cp "$TRASH/ix0$e" "$TRASH/$1$e" || return 1
		fi
	done
}

test_expect_success 'setup' '
	mkdir -p "$D/src/sub/deeper" "$D/src/empty" &&
	lcg 1 3000000 >"$D/src/big" &&
	head -c 700000 /dev/urandom >"$D/src/sub/rand" &&
	echo hello >"$D/src/x" && ln -s x "$D/src/link" &&
	ln "$D/src/x" "$D/src/sub/hardx" &&
	mkfifo "$D/src/fifo" && printf "" >"$D/src/sub/deeper/zero" &&
	head -c 2000 /dev/zero >"$D/src/sub/zeros" &&
	chmod 750 "$D/src/sub" && touch -d @1600000000 "$D/src/x" &&
	# atimes ahead of the clock: reading never changes them (relatime)
	find "$D" -exec touch -a -h -d @$(($(date +%s) + 86400)) {} + &&
	make_fakessh &&
	cbup init >/dev/null 2>&1 &&
	cbup index -f ix0 "$D/src" >/dev/null &&
	for i in L R S O B C; do ixcopy ix$i || return 1; done &&
	cbup init -r ":$S" >/dev/null 2>&1 &&
	cbup init -r ":$TRASH/ref" >/dev/null 2>&1
'

# local saves into $TRASH/ref from ixL: the reference trees
test_expect_success 'save -r :PATH: the tree of a local save, fsck-clean' '
	BUP_DIR="$TRASH/ref" save -f ixL -t >expect1 &&
	save -f ixR -r ":$S" -t -n rs -d 1700000000 >actual &&
	test_cmp expect1 actual &&
	test "$(git --git-dir="$S" rev-parse rs^{tree})" = "$(cat expect1)" &&
	git --git-dir="$S" fsck --strict >fsck 2>&1 &&
	test_must_fail grep -v "^notice" fsck &&
	refs_ok "$S" &&
	test -n "$(ls "$BUP_DIR"/index-cache/None__*srv/*.idx)"
'

test_expect_success 'save -r again: the local tree, nothing sent' '
	BUP_DIR="$TRASH/ref" save -f ixL -t >expect2 &&
	n=$(packs "$S") &&
	save -f ixR -r ":$S" -t >actual &&
	test_cmp expect2 actual &&
	test "$(packs "$S")" = "$n"
'

test_expect_success 'save -r asks the index cache whether a file is saved' '
	# already_saved(): hash-valid in the index and in the destination;
	# then the file is not read again, even if it changed unindexed
	E="$TRASH/esrc" && mkdir -p "$E/src" && echo one >"$E/src/f" &&
	cbup index -f ixE "$E/src" >/dev/null &&
	cp ixE ixEL && cp ixE.meta ixEL.meta &&
	cbup init -r ":$TRASH/ref2" >/dev/null 2>&1 &&
	cbup init -r ":$TRASH/srv2" >/dev/null 2>&1 &&
	BUP_DIR="$TRASH/ref2" cbup save -f ixEL --strip-path "$E" -t \
		"$E/src" >expect &&
	cbup save -f ixE -r ":$TRASH/srv2" --strip-path "$E" -t "$E/src" \
		>actual &&
	test_cmp expect actual &&
	echo two >"$E/src/f" &&
	BUP_DIR="$TRASH/ref2" cbup save -f ixEL --strip-path "$E" -t \
		"$E/src" >expect &&
	cbup save -f ixE -r ":$TRASH/srv2" --strip-path "$E" -t "$E/src" \
		>actual &&
	test_cmp expect actual &&
	git --git-dir="$TRASH/ref2" cat-file blob "$(cat expect):src/f" >f &&
	echo one >one && test_cmp one f
'

test_expect_success 'save -r -n: the commit has the old head as parent' '
	old=$(git --git-dir="$S" rev-parse rs) &&
	save -f ixR -r ":$S" -c -n rs -d 1700000100 >commit &&
	test "$(git --git-dir="$S" rev-parse rs)" = "$(cat commit)" &&
	test "$(git --git-dir="$S" rev-parse rs^)" = "$old" &&
	git --git-dir="$S" cat-file commit rs | grep -q "^bup save$" &&
	refs_ok "$S"
'

test_expect_success 'save -r through ssh (CBUP_SSH): same tree' '
	cbup init -r ":$TRASH/srvssh" >/dev/null 2>&1 &&
	CBUP_SSH="$TRASH/fakessh/ssh" save -f ixS -r "somehost:$TRASH/srvssh" \
		-n viassh -d 1700000200 &&
	test "$(git --git-dir="$TRASH/srvssh" rev-parse viassh^{tree})" = \
		"$(cat expect1)" &&
	ls "$BUP_DIR"/index-cache/somehost_*srvssh/*.idx >/dev/null &&
	git --git-dir="$TRASH/srvssh" fsck --strict
'

test_expect_success 'save -r after the index cache is lost' '
	rm -rf "$BUP_DIR/index-cache" &&
	save -f ixR -r ":$S" -n rs >/dev/null &&
	ls "$BUP_DIR"/index-cache/None__*srv/*.idx >/dev/null &&
	git --git-dir="$S" fsck --strict && refs_ok "$S"
'

test_expect_success 'save -r to a missing repository fails cleanly' '
	test_expect_code 1 save -r ":$TRASH/none" -n x 2>err &&
	grep -q "^error: .*does not exist" err &&
	test_must_fail test -e "$TRASH/none"
'

test_expect_success 'save: -r in reverse mode is refused' '
	BUP_SERVER_REVERSE=h test_expect_code 97 save -r ":$S" -t \
		2>err 3</dev/null 4>/dev/null &&
	grep -q "^error: don.t use -r in reverse mode" err
'

test_expect_success 'bup on - save: reverse mode into the local repo' '
	cbup on - save -f "$TRASH/ixO" --strip-path "$D" -n onsave \
		-d 1700000000 "$D/src" 2>err &&
	test "$(git --git-dir="$BUP_DIR" rev-parse onsave^{tree})" = \
		"$(cat expect1)" &&
	cbup on - save -f "$TRASH/ixO" --strip-path "$D" -t "$D/src" \
		>actual &&
	test_cmp expect2 actual &&
	git --git-dir="$BUP_DIR" fsck --strict >fsck 2>&1 &&
	test_must_fail grep -v "^notice" fsck
'

# ls -r and restore -r against `cbup -d SRV ls/restore` on the same repo.
P=rs/latest/src

test_expect_success 'ls -r prints what a local ls prints' '
	git --git-dir="$S" tag t1 rs &&
	for opts in "" -l -s -la -A -F --file-type "--commit-hash -l" -d \
		"-ls --numeric-ids" "--human-readable -l" -sd; do
		for p in / rs rs/latest $P $P/ $P/. $P/link $P/sub \
			$P/sub/rand $P/x/nope $P/nosuch nosuch .tag .tag/t1 \
			rs/latest/src/sub/deeper/../hardx; do
			record_rc expect.rc env BUP_DIR="$S" cbup ls $opts "$p" \
				>expect 2>&1 &&
			record_rc actual.rc cbup ls -r ":$S" $opts "$p" \
				>actual 2>&1 &&
			noaddr <expect >e && noaddr <actual >a &&
			test_cmp expect.rc actual.rc &&
			test_cmp e a || { echo "ls $opts $p"; return 1; }
		done
	done &&
	cbup ls -r ":$S" / rs .tag >actual 2>&1 &&
	BUP_DIR="$S" cbup ls / rs .tag >expect 2>&1 &&
	test_cmp expect actual
'

test_expect_success 'ls -r names a vfs error as a local ls does' '
	test_expect_code 1 cbup ls -r ":$S" -l $P/x/nope >out 2>err &&
	grep -q "^bup: \[Errno 20\] path b.$P/x/nope. ends internally" err &&
	grep -q "Item(meta=<<class .bup.metadata.Metadata.> instance" err
'

test_expect_success 'restore -r extracts what a local restore does' '
	BUP_DIR="$S" cbup restore -C l1 $P >/dev/null 2>&1 &&
	cbup restore -r ":$S" -C r1 $P >/dev/null 2>&1 &&
	"$MANIFEST" --no-root l1 >expect &&
	"$MANIFEST" --no-root r1 >actual &&
	test_cmp expect actual &&
	cmp "$D/src/big" r1/src/big &&
	cmp "$D/src/sub/rand" r1/src/sub/rand &&
	BUP_DIR="$S" cbup restore -C l2 --sparse $P/. >/dev/null 2>&1 &&
	cbup restore -r ":$S" -C r2 --sparse $P/. >/dev/null 2>&1 &&
	"$MANIFEST" --no-root l2 >expect &&
	"$MANIFEST" --no-root r2 >actual &&
	test_cmp expect actual &&
	BUP_DIR="$S" cbup restore -C l3 rs/latest/src/sub/ $P/big \
		>/dev/null 2>&1 &&
	cbup restore -r ":$S" -C r3 rs/latest/src/sub/ $P/big \
		>/dev/null 2>&1 &&
	"$MANIFEST" --no-root l3 >expect &&
	"$MANIFEST" --no-root r3 >actual &&
	test_cmp expect actual
'

test_expect_success 'restore -r reports errors as a local restore does' '
	BUP_DIR="$S" test_expect_code 1 cbup restore -C l4 $P/x/nope \
		$P/nosuch nobranch >/dev/null 2>expect &&
	test_expect_code 1 cbup restore -r ":$S" -C r4 $P/x/nope $P/nosuch \
		nobranch >/dev/null 2>actual &&
	noaddr <expect >e && noaddr <actual >a &&
	test_cmp e a && grep -q "cannot access" a
'

test_expect_success 'restore -r and ls -r through ssh (CBUP_SSH)' '
	CBUP_SSH="$TRASH/fakessh/ssh" cbup restore -r "h:$S" -C r5 $P \
		>/dev/null 2>&1 &&
	"$MANIFEST" --no-root r5 >actual &&
	"$MANIFEST" --no-root r1 >expect &&
	test_cmp expect actual &&
	CBUP_SSH="$TRASH/fakessh/ssh" cbup ls -r "h:$S" -l $P >actual &&
	BUP_DIR="$S" cbup ls -l $P >expect &&
	test_cmp expect actual
'

test_expect_success 'ls -r / restore -r of a missing repository' '
	test_expect_code 1 cbup ls -r ":$TRASH/none" / 2>err &&
	grep -q "^error: .*does not exist" err &&
	test_expect_code 1 cbup restore -r ":$TRASH/none" -C r6 $P 2>err &&
	grep -q "^error: .*does not exist" err
'

# ---- against real bup ----

test_expect_success BUP 'cbup save -r -> bup server: the local tree' '
	CBUP_REMOTE_BUP=bup cbup init -r ":$BS" >/dev/null 2>&1 &&
	CBUP_REMOTE_BUP=bup save -f ixB -r ":$BS" -n cs -d 1700000000 &&
	test "$(git --git-dir="$BS" rev-parse cs^{tree})" = "$(cat expect1)" &&
	git --git-dir="$BS" fsck --strict &&
	n=$(packs "$BS") &&
	CBUP_REMOTE_BUP=bup save -f ixB -r ":$BS" -t >actual &&
	test_cmp expect2 actual && test "$(packs "$BS")" = "$n" &&
	bup -d "$BS" restore -C b1 cs/latest/src >/dev/null 2>&1 &&
	cmp "$D/src/big" b1/src/big &&
	CBUP_REMOTE_BUP=bup cbup restore -r ":$BS" -C c1 cs/latest/src \
		>/dev/null 2>&1 &&
	"$MANIFEST" --no-root b1 >expect.man &&
	"$MANIFEST" --no-root c1 >actual.man &&
	test_cmp expect.man actual.man &&
	CBUP_REMOTE_BUP=bup cbup ls -r ":$BS" -l cs/latest/src/sub >actual &&
	bup -d "$BS" ls -l cs/latest/src/sub >expect &&
	test_cmp expect actual
'

test_expect_success BUP 'bup save -r -> cbup server: the local tree' '
	cbup init -r ":$TRASH/csrv" >/dev/null 2>&1 &&
	PATH="$TRASH/fakessh:$PATH" bup save -f ixC --strip-path "$D" \
		-r "localhost:$TRASH/csrv" -n bs -d 1700000000 "$D/src" &&
	test "$(git --git-dir="$TRASH/csrv" rev-parse bs^{tree})" = \
		"$(cat expect1)" &&
	bup -d "$TRASH/bupref" init >/dev/null 2>&1 &&
	ixcopy ixBL &&
	BUP_DIR="$TRASH/bupref" bup save -f ixBL --strip-path "$D" -t \
		"$D/src" >actual &&
	test_cmp expect1 actual &&
	git --git-dir="$TRASH/csrv" fsck --strict &&
	PATH="$TRASH/fakessh:$PATH" bup ls -r "localhost:$TRASH/csrv" -l \
		bs/latest/src >actual &&
	cbup -d "$TRASH/csrv" ls -l bs/latest/src >expect &&
	test_cmp expect actual &&
	PATH="$TRASH/fakessh:$PATH" bup restore -r "localhost:$TRASH/csrv" \
		-C b2 bs/latest/src >/dev/null 2>&1 &&
	cbup -d "$TRASH/csrv" restore -C c2 bs/latest/src >/dev/null 2>&1 &&
	"$MANIFEST" --no-root b2 >expect.man &&
	"$MANIFEST" --no-root c2 >actual.man &&
	test_cmp expect.man actual.man
'

test_expect_success BUP 'bup on (real bup server here): cbup save reversed' '
	bup -d "$TRASH/onrepo" init >/dev/null 2>&1 &&
	ixcopy ixON &&
	BUP_DIR="$TRASH/onrepo" PATH="$TRASH/fakessh:$PATH" bup on localhost \
		save -f "$TRASH/ixON" --strip-path "$D" -n onb "$D/src" &&
	test "$(git --git-dir="$TRASH/onrepo" rev-parse onb^{tree})" = \
		"$(cat expect1)" &&
	git --git-dir="$TRASH/onrepo" fsck --strict &&
	ls "$TRASH"/onrepo/index-cache/*_/*.idx >/dev/null
'

test_expect_success BUP 'bup and cbup ls -r agree on vfs errors' '
	PATH="$TRASH/fakessh:$PATH" test_expect_code 1 bup ls \
		-r "localhost:$S" -l $P/x/nope >/dev/null 2>expect &&
	test_expect_code 1 cbup ls -r ":$S" -l $P/x/nope >/dev/null 2>actual &&
	noaddr <expect >e && noaddr <actual >a &&
	test_cmp e a
'

# On a terminal, bup's server prints the lines of the midx/bloom upkeep
# it runs after finishing a pack (git.auto_midx on the repository), and
# the client those of the index transfer and of the same upkeep on its
# index cache (at connect and after each idx it receives).  split's data
# gives the same objects whatever the clock: the same bytes, but for the
# "Splitting:" lines (qprogress, by the clock).  The second split starts
# with a cached idx ("counting" at connect); each filter is then too
# small for both idx files and made anew.
cr_lines() { sed "s/\r/<CR>\n/g" "$1" | grep -v "^Splitting: "; }
test_expect_success BUP 'split -r on a tty: the upkeep and index lines of bup' '
	mkdir tty && lcg 9 200000 >tty/s1 && lcg 10 100000 >tty/s2 &&
	for t in bup cbup; do
		(cd tty && BUP_DIR="$PWD/$t-sl" $t init >/dev/null 2>&1 &&
		 $t init -r ":$PWD/$t-sr" >/dev/null 2>&1 &&
		 for f in s1 s2; do
			BUP_DIR="$PWD/$t-sl" BUP_FORCE_TTY=3 $t split -n $f \
				-r ":$PWD/$t-sr" $f >/dev/null 2>$t.$f.err &&
			cr_lines $t.$f.err >$t.$f || exit 1
		 done) || return 1
	done &&
	test_cmp tty/bup.s1 tty/cbup.s1 && test_cmp tty/bup.s2 tty/cbup.s2 &&
	test "$(grep -cx "bloom: creating from 1 file ([0-9]* objects).<CR>" \
		tty/cbup.s1)" = 2 &&
	grep -x "Receiving index from server: [0-9]*/[0-9]*, done." \
		tty/cbup.s1 &&
	test "$(sed -n 1p tty/cbup.s2)" = "bloom: counting: 0<CR>" &&
	test "$(grep -c "^bloom: creating from 2 files " tty/cbup.s2)" = 2 &&
	(cd tty && lcg 11 1000 >s3 && BUP_DIR="$PWD/cbup-sl" cbup split \
		-r ":$PWD/cbup-sr" -n s3 s3 >/dev/null 2>err) &&
	test_cmp /dev/null tty/err
'

# The same for save, whose .bupm files hold ctimes: how many objects a
# save makes can differ by a chunk boundary from one run to the next, so
# each tool is held to the lines bup prints for its own idx files.
# bloom_new N, bloom_add N: bup bloom creating from / adding one idx of
# N ids (counting one and two idx files); recv_idx SIZE: bup's
# sync_index lines for an idx of SIZE bytes (one 64 KiB piece).
bloom_new() {
	printf "bloom: counting: 0\rbloom: creating from 1 file (%s objects).\r" $1
	printf "bloom: writing 0.00%% (0/%s objects)\r" $1
}
bloom_add() {
	printf "bloom: counting: 0\rbloom: counting: 1\r"
	printf "bloom: adding 1 file (%s objects).\r" $1
	printf "bloom: writing 0.00%% (0/%s objects)\r" $1
}
recv_idx() {
	printf "Receiving index from server: %s\r" 0/$1 $1/$1 &&
	printf "Receiving index from server: %s/%s, done.\n" $1 $1
}
nids() { git show-index <"$1" | wc -l; }
test_expect_success BUP 'save -r on a tty: the upkeep and index lines of bup' '
	mkdir -p tty/src && lcg 8 300000 >tty/src/a &&
	for t in bup cbup; do
		(cd tty && BUP_DIR="$PWD/$t-l" $t init >/dev/null 2>&1 &&
		 $t init -r ":$PWD/$t-r" >/dev/null 2>&1 &&
		 BUP_DIR="$PWD/$t-l" $t index "$PWD/src" >/dev/null 2>&1 &&
		 BUP_DIR="$PWD/$t-l" BUP_FORCE_TTY=3 $t save -q \
			-r ":$PWD/$t-r" -n t "$PWD/src" >/dev/null 2>$t.1 &&
		 i1=$(ls $t-r/objects/pack/*.idx) &&
		 cp src/a src/b && echo more >>src/b &&
		 BUP_DIR="$PWD/$t-l" $t index "$PWD/src" >/dev/null 2>&1 &&
		 BUP_DIR="$PWD/$t-l" BUP_FORCE_TTY=3 $t save -q \
			-r ":$PWD/$t-r" -n t "$PWD/src" >/dev/null 2>$t.2 &&
		 i2=$(ls $t-r/objects/pack/*.idx | grep -v "^$i1$") &&
		 rm src/b &&
		 { bloom_new $(nids $i1) && recv_idx $(wc -c <$i1) &&
		   bloom_new $(nids $i1); } >$t.exp1 &&
		 { printf "bloom: counting: 0\r" && bloom_add $(nids $i2) &&
		   recv_idx $(wc -c <$i2) && bloom_add $(nids $i2); } >$t.exp2
		) || return 1
	done &&
	test_cmp tty/bup.exp1 tty/bup.1 && test_cmp tty/bup.exp2 tty/bup.2 &&
	test_cmp tty/cbup.exp1 tty/cbup.1 &&
	test_cmp tty/cbup.exp2 tty/cbup.2 &&
	(cd tty && BUP_DIR="$PWD/cbup-l" cbup save -q -r ":$PWD/cbup-r" \
		-n t "$PWD/src" >/dev/null 2>err) &&
	test_cmp /dev/null tty/err
'

# ---- a client killed mid-save (last: it adds to $D/src) ----

# A server whose input gets the first MB as it comes, then nothing for
# 3 s: the client is surely blocked in receive-objects-v2 when it is
# killed (perl forwards at once, where head -c would hold bytes back).
cat >"$TRASH/stall" <<EOF
#!/bin/sh
"$TEST_SRCDIR/helper/pass-bytes" 1000000 3 | "\$CBUP" server
EOF
chmod +x "$TRASH/stall"

test_expect_success 'save -r killed mid-transfer: server clean, next save ok' '
	mkdir -p "$D/src/more" &&
	head -c 6000000 /dev/urandom >"$D/src/more/r1" &&
	head -c 6000000 /dev/urandom >"$D/src/more/r2" &&
	cbup index -f ixR "$D/src" >/dev/null &&
	n=$(packs "$S") && old=$(git --git-dir="$S" rev-parse rs) &&
	{ CBUP_REMOTE_BUP="$TRASH/stall" cbup save -f ixR --strip-path "$D" \
		-r ":$S" -n rs "$D/src" 2>/dev/null & pid=$!; } &&
	i=0 && while ! ls -d "$S"/objects/pack-tmp-* >/dev/null 2>&1 &&
		test $i -lt 50; do sleep 0.1 && i=$((i + 1)) || exit 1; done &&
	sleep 0.5 &&
	mid=$(ls -d "$S"/objects/pack-tmp-* 2>/dev/null | wc -l) &&
	kill -9 $pid && test_expect_code 137 wait $pid &&
	test $mid -gt 0 &&
	i=0 && while ls -d "$S"/objects/pack-tmp-* >/dev/null 2>&1 &&
		test $i -lt 100; do sleep 0.1; i=$((i + 1)); done &&
	test_must_fail ls -d "$S"/objects/pack-tmp-* 2>/dev/null &&
	test "$(packs "$S")" = "$n" &&
	test "$(git --git-dir="$S" rev-parse rs)" = "$old" &&
	git --git-dir="$S" fsck --strict && refs_ok "$S" &&
	save -f ixR -r ":$S" -n rs >/dev/null &&
	test "$(git --git-dir="$S" rev-parse rs^)" = "$old" &&
	git --git-dir="$S" fsck --strict && refs_ok "$S" &&
	cbup restore -r ":$S" -C r7 $P/more >/dev/null 2>&1 &&
	cmp "$D/src/more/r1" r7/more/r1 && cmp "$D/src/more/r2" r7/more/r2
'

test_done
