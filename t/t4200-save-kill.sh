#!/bin/sh
# cbup save killed with SIGKILL at many points of its run (before any
# pack is written, while chunks are hashed and packs written, while idx,
# midx and bloom are finished, around the ref update, after it exits).
# After each kill:
#   - the repository passes git fsck --strict, and every ref names an
#     object that exists;
#   - the earlier save is intact: ls works and its restore matches;
#   - the next index + save into the same repository, with the index
#     the killed save was updating in place, completes, and what it
#     saved restores identical to the source: entries the killed save
#     had marked valid in the index must not be trusted when their
#     objects never reached a finished pack (bup checks that every
#     hash-valid entry's object exists).
#   - the next save leaves no temporary and no lock file behind: what
#     the killed save left (a pack-tmp directory with space allocated
#     ahead, midx or bloom temporaries, its ref lock) is removed by it.
# Every point starts from a copy of the same repository and index, so
# the points are independent and the repository does not grow.
#
# Before the points, chosen moments (strace stops the save at a given
# system call: STRACE): killed mid-pack, at its first rename (split,
# bloom, midx), holding its ref lock; and what must survive: the
# temporaries and ref lock of a live (stopped, held) save, bup's and
# other hosts' temporaries, and a ref lock no cbup owns (git's, bup's),
# which stays with a message saying what to do.
#
# Knobs: CBUP_KILL_POINTS (default 20), CBUP_KILL_MB (tree size, default
# 100: about half a second to a second of saving on one thread).
. "$(dirname "$0")/test-lib.sh"

POINTS=${CBUP_KILL_POINTS:-20}
MB=${CBUP_KILL_MB:-100}
S="$TRASH/src"
W="$TRASH/w"
R="$TRASH/repo-k"       # the repository a point works on
MANIFEST="$TOP/t/helper/manifest"
export CBUP_THREADS=1

# Counted in hundredths of a second: sleep takes fractions, sh does not.
now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}

test_expect_success 'setup: a base save, then a large tree to save' '
	mkdir -p "$W" "$S/base" "$S/big" &&
	echo one >"$S/base/one" && lcg 1 300000 >"$S/base/two" &&
	ln -s one "$S/base/link" &&
	BUP_DIR="$W/repo0" "$CBUP" init >/dev/null 2>&1 &&
	BUP_DIR="$W/repo0" "$CBUP" index -f "$W/ix0" "$S" >/dev/null &&
	BUP_DIR="$W/repo0" "$CBUP" save -f "$W/ix0" -n base --strip "$S/base" &&
	"$MANIFEST" --no-root "$S/base" >"$W/base.man" &&
	# files of 1 MB and a few of 8 MB, and 300 small ones, of data that
	# neither compresses nor dedups (the LCG streams of different seeds
	# are shifts of one 16 MB cycle: they would dedup)
	n=$((MB * 3 / 5)) && i=0 &&
	while [ $i -lt $n ]; do
		head -c 1000000 /dev/urandom >"$S/big/f$i" &&
		i=$((i + 1)) || exit 1
	done &&
	i=0 &&
	while [ $i -lt $((MB / 20)) ]; do
		head -c 8000000 /dev/urandom >"$S/big/g$i" &&
		i=$((i + 1)) || exit 1
	done &&
	mkdir "$S/big/small" && i=0 &&
	while [ $i -lt 300 ]; do
		echo "small $i" >"$S/big/small/s$i" &&
		i=$((i + 1)) || exit 1
	done &&
	# atimes an hour ahead: reads during the runs leave them alone, so
	# every index records the same metadata and every save the same tree
	"$MANIFEST" --future-atimes "$S" &&
	BUP_DIR="$W/repo0" "$CBUP" index -f "$W/ix0" "$S" >/dev/null &&
	"$MANIFEST" --no-root "$S/big" >"$W/big.man"
'

# fresh: the repository and index as they were before the big save.
fresh() {
	rm -rf "$R" "$W/ix" "$W/ix.meta" "$W/ix.hlink" &&
	cp -a "$W/repo0" "$R" &&
	for s in "" .meta .hlink; do
		if [ -e "$W/ix0$s" ]; then cp "$W/ix0$s" "$W/ix$s"; fi ||
		return 1
	done
}

save_big() {
	BUP_DIR=$R "$CBUP" save -f "$W/ix" -n big --strip "$S/big"
}

test_expect_success 'an uninterrupted save, timed' '
	fresh &&
	t0=$(now_cs) && save_big && t1=$(now_cs) &&
	echo $((t1 - t0)) >"$W/duration" &&
	echo "save of the big tree: $(cat "$W/duration")0 ms" &&
	git --git-dir="$R" rev-parse "big^{tree}" >"$W/big.tree" &&
	rm -rf "$W/out" &&
	BUP_DIR=$R "$CBUP" restore -q -C "$W/out" big/latest/. &&
	"$MANIFEST" --no-root "$W/out" >"$W/out.man" &&
	test_cmp "$W/big.man" "$W/out.man"
'

# check_repo [FSCK-OPTION]: fsck, refs resolve, the base save intact.
check_repo() {
	git --git-dir="$R" fsck --strict --no-dangling ${1:-} >"$W/fsck.out" 2>&1 || {
		cat "$W/fsck.out"; return 1; }
	if grep -v "^notice: HEAD points to an unborn branch" "$W/fsck.out" |
		grep . ; then return 1; fi
	git --git-dir="$R" for-each-ref --format="%(objectname)" >"$W/refs" &&
	git --git-dir="$R" cat-file --batch-check <"$W/refs" >"$W/refs.chk" &&
	! grep missing "$W/refs.chk" &&
	BUP_DIR=$R "$CBUP" ls base/latest/ >"$W/ls" &&
	grep "^two\$" "$W/ls" &&
	rm -rf "$W/bo" &&
	BUP_DIR=$R "$CBUP" restore -q -C "$W/bo" base/latest/. &&
	"$MANIFEST" --no-root "$W/bo" >"$W/bo.man" &&
	test_cmp "$W/base.man" "$W/bo.man"
}

# kill_at CS: start the big save, SIGKILL it after CS hundredths of a
# second; succeeds whether or not it was still running.
kill_at() {
	# exec: $! must be cbup itself, not a subshell waiting for it
	(BUP_DIR=$R exec "$CBUP" save -f "$W/ix" -n big --strip "$S/big" \
		>/dev/null 2>"$W/killed.err") &
	pid=$!
	if [ "$1" -gt 0 ]; then
		sleep "$(awk -v c="$1" "BEGIN { printf \"%.2f\", c / 100 }")"
	fi
	if kill -KILL $pid 2>/dev/null; then state=killed; else state=finished; fi
	wait $pid
	echo "$state (exit $?)"
}

# bg_save: start the big save in the background, its pid in $W/bg.pid.
bg_save() {
	(BUP_DIR=$R exec "$CBUP" save -f "$W/ix" -n big --strip "$S/big" \
		>/dev/null 2>"$W/bg.err") &
	echo $! >"$W/bg.pid"
}

# wait_tmp_pack MIB: wait (30 s at most) until a pack being written in
# a temporary directory has MIB MiB; its directory in $W/tmpdir.
wait_tmp_pack() {
	i=0
	while [ $i -lt 600 ]; do
		for p in "$R"/objects/pack-tmp-*/pack; do
			if [ -f "$p" ] &&
			   [ "$(stat -c %s "$p")" -ge $(($1 << 20)) ]; then
				dirname "$p" >"$W/tmpdir"
				return 0
			fi
		done
		sleep 0.05
		i=$((i + 1))
	done
	echo "no temporary pack of $1 MiB in $R/objects"
	return 1
}

# leftovers: list the temporaries in the repository (none: fails)
leftovers() {
	found=1
	for f in "$R"/objects/pack-tmp-* "$R"/objects/pack/*.tmp-* \
		 "$R"/objects/pack/*cbup@*; do
		if [ -e "$f" ]; then
			echo "$f"
			found=0
		fi
	done
	return $found
}

# other_writer: a small split into the repository (a writer that does
# not touch the big save's branch)
other_writer() {
	BUP_DIR=$R "$CBUP" split -n other "$S/base/two" >/dev/null
}

test_expect_success 'a save killed while writing a pack: the next writer removes its temporaries' '
	fresh &&
	bg_save && pid=$(cat "$W/bg.pid") &&
	wait_tmp_pack 16 &&
	kill -KILL $pid &&
	test_expect_code 137 wait $pid &&
	tmp=$(cat "$W/tmpdir") &&
	# the space allocated ahead of the writes is still held
	echo "$(du -sk "$tmp" | cut -f1) KiB in $tmp" &&
	test "$(du -sk "$tmp" | cut -f1)" -ge 65536 &&
	other_writer &&
	if leftovers; then
		echo "left behind after the next writer" && exit 1
	fi &&
	check_repo &&
	git --git-dir="$R" rev-parse --verify -q other >/dev/null
'

test_expect_success 'the temporaries of a live (stopped) save are left alone' '
	fresh &&
	bg_save && pid=$(cat "$W/bg.pid") &&
	wait_tmp_pack 8 &&
	kill -STOP $pid &&
	tmp=$(cat "$W/tmpdir") &&
	other_writer &&
	test -f "$tmp/pack" &&
	kill -CONT $pid &&
	wait $pid &&
	test_must_fail test -d "$tmp" &&
	check_repo &&
	git --git-dir="$R" rev-parse "big^{tree}" >"$W/tree" &&
	test_cmp "$W/big.tree" "$W/tree"
'

test_expect_success 'temporaries of bup, of older cbup and of other hosts are left alone' '
	fresh &&
	mkdir "$R/objects/pack-tmp-ab_c12de" "$R/objects/pack-tmp-XXaB3dE9" &&
	echo bup >"$R/objects/pack-tmp-ab_c12de/pack" &&
	echo old >"$R/objects/pack-tmp-XXaB3dE9/pack" &&
	echo bup >"$R/objects/pack/bup.tmp.bloom" &&
	echo old >"$R/objects/pack/bup.bloom.tmp-12-0" &&
	echo other >"$R/objects/pack/bup.bloom.cbup@elsewhere-12-aB3dE9" &&
	mkdir "$R/objects/pack-tmp-cbup@elsewhere-12-aB3dE9" &&
	other_writer &&
	test -f "$R/objects/pack-tmp-ab_c12de/pack" &&
	test -f "$R/objects/pack-tmp-XXaB3dE9/pack" &&
	test -f "$R/objects/pack/bup.tmp.bloom" &&
	test -f "$R/objects/pack/bup.bloom.tmp-12-0" &&
	test -f "$R/objects/pack/bup.bloom.cbup@elsewhere-12-aB3dE9" &&
	test -d "$R/objects/pack-tmp-cbup@elsewhere-12-aB3dE9"
'

# killed_at_rename CMD...: run CMD (in $R) under strace, killed by
# SIGKILL when it starts its first rename.
killed_at_rename() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	BUP_DIR=$R strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:signal=KILL "$@" \
		>/dev/null 2>&1
	rc=$?
	if [ $rc != 137 ]; then
		echo "not killed at its first rename (exit $rc): $*"
		return 1
	fi
}

test_expect_success STRACE 'killed at its first rename: pack and idx left in their directory, then removed' '
	fresh &&
	killed_at_rename "$CBUP" split -n other "$S/base/two" &&
	test -f "$(echo "$R"/objects/pack-tmp-*/pack)" &&
	test -f "$(echo "$R"/objects/pack-tmp-*/idx)" &&
	other_writer &&
	if leftovers; then
		echo "left behind after the next writer" && exit 1
	fi &&
	check_repo
'

test_expect_success STRACE 'bloom and midx killed before their renames: the next writer removes their temporaries' '
	fresh &&
	other_writer &&
	killed_at_rename "$CBUP" bloom -f &&
	killed_at_rename "$CBUP" midx -f &&
	leftovers >"$W/left" &&
	cat "$W/left" &&
	test $(wc -l <"$W/left") = 2 &&
	BUP_DIR=$R "$CBUP" split -n other2 "$S/base/one" >/dev/null &&
	if leftovers; then
		echo "left behind after the next writer" && exit 1
	fi &&
	check_repo
'

# locks: list the lock files in the repository (none: fails)
locks() {
	find "$R/refs" "$R/logs" "$R/packed-refs.lock" -name "*.lock" \
		2>/dev/null | grep .
}

# untraced_leaks: ASAN_OPTIONS for a sanitizer build run under strace
# (LeakSanitizer cannot run under ptrace)
untraced_leaks() {
	echo "${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

test_expect_success STRACE 'a save killed holding the ref lock: the next save takes the branch' '
	fresh &&
	test_expect_code 137 env BUP_DIR="$R" ASAN_OPTIONS="$(untraced_leaks)" \
		strace -f -qq -o /dev/null -P "$R/refs/heads/big.lock" \
		-e trace=rename -e inject=rename:signal=KILL \
		"$CBUP" save -f "$W/ix" -n big --strip "$S/big" \
		>/dev/null 2>"$W/killed.err" &&
	test -f "$R/refs/heads/big.lock" &&
	test_must_fail git --git-dir="$R" rev-parse --verify -q big &&
	BUP_DIR=$R "$CBUP" index -f "$W/ix" "$S" >/dev/null &&
	save_big &&
	if locks; then
		echo "lock files left behind" && exit 1
	fi &&
	check_repo &&
	git --git-dir="$R" rev-parse "big^{tree}" >"$W/tree" &&
	test_cmp "$W/big.tree" "$W/tree"
'

# owner_name LOCK PID: the name of the owner file a cbup process PID on
# this host links to its ref lock (src/lib/store/refs.c)
owner_name() {
	echo "$1~cbup@$(uname -n | tr -c "A-Za-z0-9._\n-" _)-$2-aB3dE9.lock"
}

test_expect_success 'a ref lock left by a dead cbup (its owner file) is removed by the next save' '
	fresh &&
	l="$R/refs/heads/big.lock" &&
	git --git-dir="$R" rev-parse base >"$l" &&
	ln "$l" "$(owner_name "$l" 999999)" &&
	save_big &&
	if locks; then
		echo "lock files left behind" && exit 1
	fi &&
	git --git-dir="$R" rev-parse "big^{tree}" >"$W/tree" &&
	test_cmp "$W/big.tree" "$W/tree"
'

test_expect_success 'a ref lock without a cbup owner (git, bup) stays: the message says what to do' '
	fresh &&
	l="$R/refs/heads/big.lock" &&
	git --git-dir="$R" rev-parse base >"$l" &&
	test_expect_code 1 env BUP_DIR="$R" "$CBUP" save -f "$W/ix" -n big \
		--strip "$S/big" 2>"$W/err" &&
	cat "$W/err" &&
	grep "^error: Unable to create .$l.: File exists\.\$" "$W/err" &&
	grep "^If no other process is running on this repository, remove .$l. and try again\.\$" "$W/err" &&
	test -f "$l" &&
	test_must_fail git --git-dir="$R" rev-parse --verify -q big &&
	rm "$l" &&
	save_big
'

# held_save: start the big save in the background under strace, which
# holds it for 4 s when it renames its ref lock; its pid in $W/bg.pid
held_save() {
	(BUP_DIR=$R ASAN_OPTIONS=$(untraced_leaks) exec strace -f -qq \
		-o /dev/null -P "$R/refs/heads/big.lock" -e trace=rename \
		-e inject=rename:delay_enter=4000000 \
		"$CBUP" save -f "$W/ix" -n big --strip "$S/big" \
		>/dev/null 2>"$W/bg.err") &
	echo $! >"$W/bg.pid"
}

# wait_for FILE: wait (30 s at most) until FILE exists
wait_for() {
	i=0
	while [ ! -e "$1" ]; do
		if [ $i -ge 600 ]; then
			echo "no $1"
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

test_expect_success STRACE 'the ref lock of a live save is respected' '
	fresh &&
	l="$R/refs/heads/big.lock" &&
	held_save &&
	wait_for "$l" &&
	test_expect_code 1 env BUP_DIR="$R" "$CBUP" split -n big \
		"$S/base/one" 2>"$W/err" &&
	cat "$W/err" &&
	grep "^error: Unable to create .$l.: File exists\.\$" "$W/err" &&
	grep "^Another cbup process is updating the ref" "$W/err" &&
	wait "$(cat "$W/bg.pid")" &&
	if locks; then
		echo "lock files left behind" && exit 1
	fi &&
	git --git-dir="$R" rev-parse "big^{tree}" >"$W/tree" &&
	test_cmp "$W/big.tree" "$W/tree"
'

d=1
k=0
while [ $k -lt "$POINTS" ]; do
	test_expect_success "SIGKILL at point $k of $POINTS: repository sound, next save completes" '
		dur=$(cat "$W/duration") &&
		# spread over 1.1 times the duration: the last points land after
		# the save is done
		cs=$((dur * 11 * k / (10 * (POINTS - 1)))) &&
		fresh &&
		echo "kill after ${cs}0 ms: $(kill_at $cs)" &&
		ls "$R/objects" >"$W/objdirs" && cat "$W/objdirs" &&
		check_repo &&
		BUP_DIR=$R "$CBUP" index -f "$W/ix" "$S" >/dev/null &&
		save_big &&
		if leftovers; then
			echo "temporaries left behind by the next save" && exit 1
		fi &&
		# a ref lock the kill left was the next save'"'"'s to remove
		if locks; then
			echo "lock files left behind by the next save" && exit 1
		fi &&
		# objects were hashed by the full fsck above or are new: checking
		# that all are there is enough (and the tree id, or a restore)
		check_repo --connectivity-only &&
		git --git-dir="$R" rev-parse --verify -q big >/dev/null &&
		if [ $((k % 4)) = 3 ] || [ $k = $((POINTS - 1)) ]; then
			rm -rf "$W/out" &&
			BUP_DIR=$R "$CBUP" restore -q -C "$W/out" big/latest/. &&
			"$MANIFEST" --no-root "$W/out" >"$W/out.man" &&
			test_cmp "$W/big.man" "$W/out.man"
		else
			# the same tree as the uninterrupted save, object by object
			# (and fsck above saw every object of it)
			git --git-dir="$R" rev-parse "big^{tree}" >"$W/tree" &&
			test_cmp "$W/big.tree" "$W/tree"
		fi
	'
	k=$((k + 1))
done

test_done
