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
# Every point starts from a copy of the same repository and index, so
# the points are independent and the repository does not grow.
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
		head -c 1000000 /dev/urandom >"$S/big/f$i" || return 1
		i=$((i + 1))
	done &&
	i=0 &&
	while [ $i -lt $((MB / 20)) ]; do
		head -c 8000000 /dev/urandom >"$S/big/g$i" || return 1
		i=$((i + 1))
	done &&
	mkdir "$S/big/small" && i=0 &&
	while [ $i -lt 300 ]; do
		echo "small $i" >"$S/big/small/s$i" || return 1
		i=$((i + 1))
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
		for l in $(find "$R" -name "*.lock"); do
			# like git, a ref lock left by a kill stays until removed
			echo "stale lock $l" && rm -f "$l"
		done &&
		check_repo &&
		BUP_DIR=$R "$CBUP" index -f "$W/ix" "$S" >/dev/null &&
		save_big &&
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
