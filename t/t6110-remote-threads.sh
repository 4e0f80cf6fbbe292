#!/bin/sh
# Remote writes with compression workers (src/lib/store/zpool.h): save -r,
# split -r and get -r send their frames in write order whatever
# CBUP_THREADS is, so the server's packs are byte-identical to those of
# a single-threaded run, across pack limits too; a connection that
# breaks mid-transfer fails the command as it does without workers,
# and nothing hangs.  Also bup's "Receiving index from server" lines
# while the client fetches an idx, on a terminal only.
. "$(dirname "$0")/test-lib.sh"

D="$TRASH/d"            # the saved tree; never changes after setup

# Each run happens in its own directory $TRASH/NAME with the server's
# repository at the relative path "r", so the command line (which bup
# records in the commit message) is the same for every run.
fresh() {
	rm -rf "$TRASH/$1" && mkdir "$TRASH/$1" &&
	(cd "$TRASH/$1" && cbup init -r :r >/dev/null 2>&1)
}

# CBUP_THREADS for a run: "d" leaves it unset (one worker per core)
threads() {
	t=$1 && shift &&
	if test "$t" = d; then
		env -u CBUP_THREADS "$@"
	else
		env CBUP_THREADS="$t" "$@"
	fi
}

# rsave NAME THREADS: save $D/src into NAME/r from a copy of index ix0
rsave() {
	fresh "$1" &&
	for e in "" .meta .hlink; do
		if test -e "$TRASH/ix0$e"; then
			cp "$TRASH/ix0$e" "$TRASH/$1/ix$e" || return 1
		fi
	done &&
	(cd "$TRASH/$1" && threads "$2" cbup save -f ix \
		--strip-path "$D" -d 1700000000 -r :r -n t "$D/src" \
		>/dev/null)
}

# same_packs A B: the server repositories A/r and B/r hold the same
# pack files, byte for byte
same_packs() {
	(cd "$TRASH/$1/r/objects/pack" && ls *.pack) >"$TRASH/$1.packs" &&
	(cd "$TRASH/$2/r/objects/pack" && ls *.pack) >"$TRASH/$2.packs" &&
	test -s "$TRASH/$1.packs" &&
	test_cmp "$TRASH/$1.packs" "$TRASH/$2.packs" &&
	while read -r p; do
		cmp "$TRASH/$1/r/objects/pack/$p" \
			"$TRASH/$2/r/objects/pack/$p" || return 1
	done <"$TRASH/$1.packs"
}

test_expect_success 'setup' '
	mkdir -p "$D/src/sub" "$D/src/many" &&
	lcg 1 3000000 >"$D/src/big" &&
	lcg 2 700000 >"$D/src/sub/mid" &&
	seq 1 300000 >"$D/src/sub/text" &&
	i=0 && while test $i -lt 300; do
		echo "file $i" >"$D/src/many/f$i" &&
		lcg $i $((i * 97)) >>"$D/src/many/f$i" &&
		i=$((i + 1)) || return 1
	done &&
	# atimes ahead of the clock: reading never changes them (relatime)
	find "$D" -exec touch -a -h -d @$(($(date +%s) + 86400)) {} + &&
	cbup init >/dev/null 2>&1 &&
	# several packs, so pack ends fall between workers batches
	git --git-dir="$BUP_DIR" config pack.packSizeLimit 1500000 &&
	cbup index -f ix0 "$D/src" >/dev/null
'

test_expect_success 'save -r: the same packs with 0, 1, 3 and default workers' '
	rsave s0 0 &&
	test "$(ls "$TRASH/s0/r/objects/pack" | grep -c "\.pack$")" -gt 2 &&
	for t in 1 3 d; do
		rsave s$t $t && same_packs s0 s$t || return 1
	done &&
	git --git-dir="$TRASH/s3/r" fsck --strict 2>/dev/null &&
	BUP_DIR="$TRASH/s3/r" cbup restore -C "$TRASH/rs" /t/latest/src/big \
		>/dev/null 2>&1 &&
	cmp "$D/src/big" "$TRASH/rs/big"
'

test_expect_success 'split -r: the same packs with 0 and 3 workers' '
	for t in 0 3; do
		fresh p$t &&
		(cd "$TRASH/p$t" && CBUP_THREADS=$t cbup split -r :r -n s \
			-d 1700000000 --max-pack-objects 100 "$D/src/big" \
			"$D/src/sub/text" >/dev/null) || return 1
	done &&
	same_packs p0 p3 &&
	BUP_DIR="$TRASH/p3/r" cbup join s >joined &&
	cat "$D/src/big" "$D/src/sub/text" | cmp - joined
'

# get sends blobs in their packed form (write_raw) between objects it
# compresses: the pool is drained before each, and the order holds.
test_expect_success 'get -r: the same packs with 0 and 3 workers' '
	for t in 0 3; do
		fresh g$t &&
		(cd "$TRASH/g$t" && CBUP_THREADS=$t cbup get -s "$TRASH/s0/r" \
			-r :r --ff t >/dev/null 2>&1) || return 1
	done &&
	same_packs g0 g3 &&
	git --git-dir="$TRASH/g3/r" fsck --strict 2>/dev/null
'

# bup's sync_index(): "Receiving index from server: %d/%d\r" when it
# fetches an idx (here the one of the pack the save just finished):
# progress() before and after, qprogress() per 64 KiB piece; only when
# stderr is a terminal (or BUP_FORCE_TTY & 2).
test_expect_success 'save -r prints the index transfer lines on a tty' '
	fresh y && cp "$TRASH/ix0" "$TRASH/y/ix" &&
	cp "$TRASH/ix0.meta" "$TRASH/y/ix.meta" &&
	(cd "$TRASH/y" && BUP_DIR="$TRASH/y/l" cbup init >/dev/null 2>&1 &&
	 BUP_DIR="$TRASH/y/l" cbup save -f ix --strip-path "$D" -r :r \
		-n t "$D/src" 2>err.notty &&
	 cbup init -r :r2 >/dev/null 2>&1 &&
	 BUP_DIR="$TRASH/y/l" BUP_FORCE_TTY=2 cbup save -f ix \
		--strip-path "$D" -r :r2 -n t "$D/src" 2>err.tty) &&
	test_must_fail grep -q Receiving "$TRASH/y/err.notty" &&
	tr "\r" "\n" <"$TRASH/y/err.tty" | grep "^Receiving index" >lines &&
	# one idx per pack, the first of them (pack-limit ends) and the last
	n=$(ls "$TRASH/y/r2/objects/pack" | grep -c "\.idx$") &&
	test "$(grep -c ", done\.$" lines)" = "$n" &&
	sed -n 1p lines | grep -qx "Receiving index from server: 0/[0-9]*" &&
	tail -n 1 lines |
	grep -qx "Receiving index from server: \([0-9]*\)/\1, done\."
'

# the same file in two places (stripped, so no parents' metadata can
# dedup by chance): the same number of objects, so the same idx size
# and the same lines (one piece: no rate-limited gaps)
test_expect_success BUP 'the index transfer lines are bup'"'"'s' '
	for t in bup cbup; do
		mkdir "$t-w" && seq 1 100000 >"$t-w/a" &&
		(cd "$t-w" && BUP_DIR="$PWD/l" $t init >/dev/null 2>&1 &&
		 $t init -r ":$PWD/r" >/dev/null 2>&1 &&
		 BUP_DIR="$PWD/l" $t index "$PWD/a" >/dev/null 2>&1 &&
		 BUP_DIR="$PWD/l" BUP_FORCE_TTY=2 $t save -r ":$PWD/r" -n t \
			--strip-path "$PWD" "$PWD/a" >/dev/null 2>err) ||
		return 1
	done &&
	# the first and the final line: those in between are rate-limited
	# (0.1 s), so how many there are depends on the machine'"'"'s load
	tr "\r" "\n" <bup-w/err | grep "^Receiving index" | sed -n "1p;\$p" \
		>expect &&
	tr "\r" "\n" <cbup-w/err | grep "^Receiving index" | sed -n "1p;\$p" \
		>actual &&
	test $(wc -l <expect) = 2 && grep ", done\.$" expect &&
	test_cmp expect actual
'

# A server whose input ends after the first 400 kB: the client's writes
# then fail (EPIPE) or its reads see the server gone.
cat >"$TRASH/cut" <<EOF
#!/bin/sh
"$TEST_SRCDIR/helper/pass-bytes" 400000 | "\$CBUP" server
EOF
chmod +x "$TRASH/cut"

test_expect_success 'a connection cut mid-save fails it, workers or not' '
	for t in 0 3; do
		fresh c$t && cp "$TRASH/ix0" "$TRASH/c$t/ix" &&
		cp "$TRASH/ix0.meta" "$TRASH/c$t/ix.meta" &&
		(cd "$TRASH/c$t" && CBUP_REMOTE_BUP="$TRASH/cut" \
			CBUP_THREADS=$t timeout 60 cbup save -f ix \
			--strip-path "$D" -r :r -n t "$D/src" \
			>out 2>err; echo $? >rc) &&
		rc=$(cat "$TRASH/c$t/rc") &&
		test "$rc" != 0 && test "$rc" != 124 && test "$rc" -lt 128 &&
		grep -q "^error: " "$TRASH/c$t/err" &&
		test_must_fail git --git-dir="$TRASH/c$t/r" rev-parse -q \
			--verify t || return 1
	done &&
	test "$(cat "$TRASH/c0/rc")" = "$(cat "$TRASH/c3/rc")"
'

test_done
