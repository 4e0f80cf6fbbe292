#!/bin/sh
# gc beside cbup's writers (FORMAT.md 14): nothing a completed writer
# made is ever lost, and nothing waits forever.
#
# The lock, directly (t8300 has gc waiting for a shared holder, and
# save, tag and split waiting for an exclusive one): get and the server
# (split -r, save -r) wait for a running gc with a message, then
# succeed; a split stopped (SIGSTOP injected by strace, so no timing is
# involved) after it deduplicated against the objects of a removed
# branch and wrote its pack, just before its ref: gc waits for it, and
# its data restores; and the control: bup's gc, which takes no lock,
# run at the same point, loses that data.
#
# Then rounds of writers in background loops, each under a timeout so
# that a deadlock fails instead of hanging: local saves of changing
# trees, saves through the server (save -r) into a second repository,
# splits (local and -r), gets both ways between the repositories; and,
# on each repository, a loop that removes the branches the writers make
# to be garbage ("junk-*", whose packs also hold data that the kept
# branches deduplicate against) with cbup rm and runs cbup gc.  Each
# writer's iteration waits for the gcs of the one before (a bounded
# handshake, not a timing: a gc always has writers to overlap with,
# and is not starved by their shared locks), and each gc loop runs
# once after each iteration a writer completes.  Every completed save,
# split and get is recorded with what it must give back (a copy of the
# tree it saved, compared by t/helper/manifest; the input file); after
# each round every record so far restores or joins byte for byte, git
# fsck --strict and cbup fsck are clean on both repositories.  And a save from an index whose
# remembered blob ids gc removed (local and -r) writes them again.
. "$(dirname "$0")/test-lib.sh"

MANIFEST="$TOP/t/helper/manifest"
W="$TRASH/w"
A="$TRASH/a"            # a local repository
O="$TRASH/o"            # the other, written through servers
C="$TRASH/cli"          # the client of the writes into $O
TO=${CBUP_T8310_TIMEOUT:-600}   # seconds for each background process
ROUNDS="1 2 3"
ITER=3                  # iterations of each writer in a round
export W A O C MANIFEST TO ITER
TT="$CBUP_BUILD/test-tool"
export TT

# fsck_clean REPO: git fsck --strict (dangling objects aside) and cbup
# fsck are clean
fsck_clean() {
	git --git-dir="$1" fsck --strict >"$W/fsck.out" 2>&1 || {
		cat "$W/fsck.out"; return 1; }
	if grep -v -e "^dangling " -e "^notice: HEAD points to an unborn" \
		"$W/fsck.out"; then
		echo "git fsck: more than dangling objects in $1"
		return 1
	fi
	BUP_DIR="$1" cbup fsck
}

# hold -s|-x PATH: hold an flock on PATH (the gc lock is one on the
# repository's objects/, FORMAT.md 14) in a background process (pid in
# $holder) and return once it is held
hold() {
	rm -f "$W/held" &&
	{ sh -c 'exec 9<"$2" && flock "$1" 9 && touch "$3" && exec sleep 600' \
		sh "$1" "$2" "$W/held" & } &&
	holder=$! &&
	wait_for "$W/held"
}

# wait_for FILE [TEXT]: poll (60 s at most) until FILE exists, or has a
# line containing TEXT
wait_for() {
	n=0 &&
	while ! { test -e "$1" && { test $# = 1 || grep -qF "$2" "$1"; }; }; do
		n=$((n + 1)) &&
		if test $n -ge 600; then
			echo "no '${2:-$1}' in ${1} after 60 s" &&
			return 1
		fi &&
		sleep 0.1
	done
}

# restores REPO PATH MANIFEST: what restore PATH/. extracts from REPO
# matches MANIFEST
restores() {
	rm -rf "$W/out" &&
	BUP_DIR=$1 cbup restore -q -C "$W/out" "$2/." &&
	"$MANIFEST" --no-root "$W/out" >"$W/out.man" &&
	test_cmp "$3" "$W/out.man"
}

test_expect_success 'setup: two repositories, a client of the second' '
	mkdir -p "$W/snap" "$W/data" &&
	BUP_DIR="$A" cbup init >/dev/null 2>&1 &&
	BUP_DIR="$C" cbup init -r ":$O" >/dev/null 2>&1 &&
	test -d "$O/objects/pack" &&
	lcg 21 400000 >"$W/D" &&
	lcg 22 300000 >"$W/E" &&
	BUP_DIR="$A" cbup split -n s "$W/D"
'

test_expect_success 'get waits for a running gc of its destination' '
	hold -x "$O/objects" &&
	{ BUP_DIR="$O" cbup get -s "$A" --ff s 2>"$W/get.err" & } &&
	gp=$! &&
	wait_for "$W/get.err" "waiting for the running gc to finish" &&
	kill -0 $gp &&
	! git --git-dir="$O" rev-parse -q --verify s &&
	kill $holder &&
	wait $gp &&
	BUP_DIR="$O" cbup join s >"$W/j" && cmp "$W/D" "$W/j"
'

test_expect_success 'the server waits for a running gc (split -r, save -r)' '
	mkdir -p "$W/t" && echo t >"$W/t/f" &&
	BUP_DIR="$C" cbup index -f "$W/ix-t" "$W/t" >/dev/null &&
	hold -x "$O/objects" &&
	{ BUP_DIR="$C" cbup split -r ":$O" -n e "$W/E" 2>"$W/rsplit.err" & } &&
	sp=$! &&
	{ BUP_DIR="$C" cbup save -r ":$O" -f "$W/ix-t" -n t --strip "$W/t" \
		2>"$W/rsave.err" & } &&
	vp=$! &&
	wait_for "$W/rsplit.err" \
		"bup server: waiting for the running gc to finish" &&
	wait_for "$W/rsave.err" \
		"bup server: waiting for the running gc to finish" &&
	kill -0 $sp && kill -0 $vp &&
	! git --git-dir="$O" rev-parse -q --verify e &&
	! git --git-dir="$O" rev-parse -q --verify t &&
	kill $holder &&
	wait $sp && wait $vp &&
	BUP_DIR="$O" cbup join e >"$W/j" && cmp "$W/E" "$W/j" &&
	"$MANIFEST" --no-root "$W/t" >"$W/t.man" &&
	restores "$O" /t/latest "$W/t.man"
'

# stopped_split REPO: in REPO, where branch "old" (a split of D) was
# just removed, start split -n new D under strace, which stops it with
# SIGSTOP at its link(2) of refs/heads/new.lock: after its dedup and its
# pack, before its ref.  Returns once it is stopped; $sp is strace (its
# exit status is the split'"'"'s), $stopped the split; the split'"'"'s pack
# must hold a few objects only (its data deduplicated against old'"'"'s).
stopped_split() {
	rm -rf "$1" &&
	BUP_DIR="$1" cbup init >/dev/null 2>&1 &&
	BUP_DIR="$1" cbup split -n old "$W/D" &&
	git --git-dir="$1" update-ref -d refs/heads/old &&
	ls "$1"/objects/pack/*.idx >"$W/idx.before" &&
	rm -f "$W/stop.log" &&
	# (LeakSanitizer cannot run under ptrace: a sanitizer build runs
	# without it there)
	{ BUP_DIR="$1" CBUP_THREADS=0 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -o "$W/stop.log" \
		-e trace=link -e inject=link:signal=STOP \
		"$CBUP" split -n new "$W/D" 2>"$W/split.err" & } &&
	sp=$! &&
	wait_for "$W/stop.log" "stopped by SIGSTOP" &&
	stopped=$(awk "/stopped by SIGSTOP/ { print \$1 }" "$W/stop.log") &&
	grep "link(.*refs/heads/new.lock\"" "$W/stop.log" &&
	! git --git-dir="$1" rev-parse -q --verify new &&
	ls "$1"/objects/pack/*.idx >"$W/idx.now" &&
	comm -13 "$W/idx.before" "$W/idx.now" >"$W/idx.new" &&
	test $(wc -l <"$W/idx.new") = 1 &&
	n_new=$(git show-index <"$(cat "$W/idx.new")" | wc -l) &&
	n_old=$(git show-index <"$(cat "$W/idx.before")" | wc -l) &&
	echo "the split wrote $n_new objects, old has $n_old" &&
	test $n_new -le 3 && test $n_old -gt 10
}

test_expect_success STRACE 'a writer stopped after its dedup: gc waits, its data stays' '
	stopped_split "$W/n" &&
	{ cbup -d "$W/n" gc -v 2>"$W/gc.err" & } &&
	gp=$! &&
	wait_for "$W/gc.err" \
		"gc: waiting for the running save, get, split or server to finish" &&
	kill -0 $gp &&
	! grep "^found" "$W/gc.err" &&
	kill -CONT $stopped &&
	wait $sp &&
	wait $gp &&
	cat "$W/gc.err" &&
	grep "^discarded" "$W/gc.err" &&
	BUP_DIR="$W/n" cbup join new >"$W/j" && cmp "$W/D" "$W/j" &&
	fsck_clean "$W/n"
'

test_expect_success STRACE,BUP 'the control: bup gc, without the lock, loses that data' '
	stopped_split "$W/n" &&
	bup -d "$W/n" gc --unsafe -v 2>"$W/bupgc.err" &&
	cat "$W/bupgc.err" &&
	kill -CONT $stopped &&
	wait $sp &&
	git --git-dir="$W/n" rev-parse -q --verify new &&
	test_must_fail git --git-dir="$W/n" fsck --strict >"$W/fsck.out" 2>&1 &&
	cat "$W/fsck.out" &&
	grep "new: invalid sha1 pointer\|missing" "$W/fsck.out" &&
	test_must_fail env BUP_DIR="$W/n" cbup join new >"$W/j" 2>"$W/join.err" &&
	cat "$W/join.err" &&
	grep -i "missing\|not found" "$W/join.err"
'

# The index remembers the blob of each file it saw saved (bup's
# hashvalid): a save from it must not trust those ids once a gc removed
# the objects (bup checks that they exist; so must cbup, locally and
# through the server's idx list).
test_expect_success 'a save from an index whose objects gc removed writes them again' '
	mkdir -p "$W/x/d" && lcg 31 100000 >"$W/x/d/f" &&
	echo "the file g of t8310" >"$W/x/g" &&
	"$MANIFEST" --no-root "$W/x" >"$W/x.man" &&
	BUP_DIR="$A" cbup index -f "$W/ix-x" "$W/x" >/dev/null &&
	BUP_DIR="$A" cbup save -f "$W/ix-x" -n x --strip "$W/x" &&
	BUP_DIR="$C" cbup index -f "$W/ix-xr" "$W/x" >/dev/null &&
	BUP_DIR="$C" cbup save -f "$W/ix-xr" -r ":$O" -n x --strip "$W/x" &&
	blob=$(git --git-dir="$A" rev-parse "x:g") &&
	for repo in "$A" "$O"; do
		git --git-dir="$repo" update-ref -d refs/heads/x &&
		BUP_DIR=$repo cbup gc &&
		test_must_fail git --git-dir="$repo" cat-file -e $blob ||
		return 1
	done &&
	BUP_DIR="$A" cbup save -f "$W/ix-x" -n y --strip "$W/x" &&
	BUP_DIR="$C" cbup save -f "$W/ix-xr" -r ":$O" -n y --strip "$W/x" &&
	for repo in "$A" "$O"; do
		git --git-dir="$repo" cat-file -e $blob &&
		restores "$repo" /y/latest "$W/x.man" &&
		fsck_clean "$repo" || return 1
	done
'

# ---- rounds ------------------------------------------------------------

# The writers and the gc loops, run as "sh SCRIPT KIND ROUND": each
# records what it completed in $W/rec-KIND, one line "REPO PATH COMMIT
# KIND FILE": a save (PATH restores as FILE says), a split (COMMIT joins
# to FILE) or a get (COMMIT, at PATH in REPO, is the save recorded with
# that commit).
cat >"$W/writer.sh" <<'EOF'
set -e
kind=$1 R=$2
lcg() { "$TT" lcg "$1" "$2"; }
name() { date -u -d "@$1" +%Y-%m-%d-%H%M%S; }
# wait_gcs N: the gc loops of both repositories completed N runs
wait_gcs() {
	for g in a o; do
		while [ "$(cat "$W/gcs-$g-$R" 2>/dev/null | wc -l)" -lt "$1" ]; do
			sleep 0.1
		done
	done
}
# the trees are past: the index records their times as they are
past() { find "$1" -exec touch -h -d @1600000000 {} +; }
case $kind in
l) repo=$A bupdir=$A remote= off=0 ;;
r) repo=$O bupdir=$C remote="-r :$O" off=1 ;;
s) off=2 ;;
g) off=3 ;;
esac
i=1
while [ $i -le "$ITER" ]; do
	wait_gcs $((i - 1))
	seed=$((R * 1000 + i * 10 + off))
	d=$((1700000000 + off * 10000000 + R * 10000 + i * 10))
	case $kind in
	l|r)
		t=$W/tree-$kind
		mkdir -p "$t/sub"
		lcg $seed 60000 >"$t/f$R-$i"
		lcg $((seed + 1)) 30000 >"$t/a"
		echo "$R $i" >"$t/sub/n"
		rm -f "$t/f$R-$((i - 2))"
		# first a save with a file of its own, on a branch that
		# becomes garbage: the kept save then dedups against it
		lcg $((seed + 2)) 40000 >"$t/junk"
		past "$t"
		BUP_DIR=$bupdir cbup index -f "$W/ix-$kind" "$t" >/dev/null
		BUP_DIR=$bupdir cbup save -f "$W/ix-$kind" $remote \
			-n junk-$kind-$R-$i -d $((d + 1)) --strip "$t"
		rm "$t/junk"
		past "$t"
		BUP_DIR=$bupdir cbup index -f "$W/ix-$kind" "$t" >/dev/null
		BUP_DIR=$bupdir cbup save -f "$W/ix-$kind" $remote \
			-n keep-$kind -d $d --strip "$t"
		# (a copy of the tree as saved, times and modes kept)
		m=$W/snap/$kind-$R-$i
		cp -a "$t" "$m"
		c=$(git --git-dir="$repo" rev-parse keep-$kind)
		echo "$repo /keep-$kind/$(name $d) $c save $m" >>"$W/rec-$kind"
		;;
	s)
		# the kept data begins with the garbage data
		j=$W/data/j-$R-$i f=$W/data/s-$R-$i
		lcg $((seed + 2)) 50000 >"$j"
		{ cat "$j" && lcg $seed 50000; } >"$f"
		if [ $((i % 2)) = 1 ]; then
			repo=$A
			BUP_DIR=$A cbup split -n junk-s-$R-$i "$j"
			BUP_DIR=$A cbup split -n keep-s -d $d "$f"
			c=$(git --git-dir=$A rev-parse keep-s)
		else
			repo=$O
			BUP_DIR=$C cbup split -r ":$O" -n junk-s-$R-$i "$j"
			BUP_DIR=$C cbup split -r ":$O" -n keep-s -d $d "$f"
			c=$(git --git-dir=$O rev-parse keep-s)
		fi
		echo "$repo - $c split $f" >>"$W/rec-s"
		;;
	g)
		# from the saves of the other writers, both ways
		if [ $((i % 2)) = 1 ]; then
			src=$A dst=$O from=keep-l to=g-l
		else
			src=$O dst=$A from=keep-r to=g-r
		fi
		while ! git --git-dir="$src" rev-parse -q --verify $from \
			>/dev/null; do
			sleep 0.1
		done
		# (get reads its source without the lock, as restore does:
		# a pack that the source'"'"'s gc removed under it fails it
		# cleanly, before its ref, FORMAT.md 14; that is no loss)
		if BUP_DIR=$dst cbup get -s "$src" --ff: $from $to \
			2>"$W/get.err"; then
			c=$(git --git-dir="$dst" rev-parse $to)
			echo "$dst /$to $c get -" >>"$W/rec-g"
		else
			cat "$W/get.err"
			grep "$src/objects/pack/pack-.*No such file or directory" \
				"$W/get.err"
			echo "get: a pack of $src went away under it"
		fi
		cat "$W/get.err" >&2
		;;
	esac
	echo "$kind $i" >>"$W/prog-$R"
	i=$((i + 1))
done
echo "$kind: $ITER done"
EOF

cat >"$W/gcloop.sh" <<'EOF'
set -e
g=$1 R=$2
case $g in a) repo=$A ;; o) repo=$O ;; esac
# (a run after each iteration a writer completes: no busy loop)
seen=-1
while ! [ -e "$W/stop-$R" ]; do
	now=$(cat "$W/prog-$R" 2>/dev/null | wc -l)
	if [ "$now" = "$seen" ]; then
		sleep 0.1
		continue
	fi
	seen=$now
	junk=$(git --git-dir="$repo" for-each-ref --format="%(refname:short)" \
		"refs/heads/junk-*")
	if [ -n "$junk" ]; then
		BUP_DIR=$repo cbup rm --unsafe $junk
	fi
	BUP_DIR=$repo cbup gc -v
	echo ok >>"$W/gcs-$g-$R"
done
echo "gc $g: $(wc -l <"$W/gcs-$g-$R") runs"
EOF

# check_records: every record so far restores or joins byte for byte
# (the saves restored side by side into $W/all/NNNN, the copies of what
# they saved into $W/want/NNNN, and the two compared in one manifest
# each)
check_records() {
	cat "$W"/rec-* >"$W/recs" &&
	rm -rf "$W/all" "$W/want" && mkdir "$W/all" "$W/want" &&
	r_n=0 &&
	while read -r r_repo r_path r_commit r_kind r_file; do
		r_n=$((r_n + 1)) &&
		r_dir=$(printf %04d $r_n) &&
		case $r_kind in
		save)
			BUP_DIR=$r_repo cbup restore -q -C "$W/all/$r_dir" \
				"$r_path/." &&
			cp -a "$r_file" "$W/want/$r_dir" ;;
		split)
			BUP_DIR=$r_repo cbup join "$r_commit" >"$W/j" &&
			cmp "$r_file" "$W/j" ;;
		get)
			# (the save that made the commit: its name and manifest)
			r_name=$(awk -v c="$r_commit" \
				"\$3 == c && \$4 == \"save\" { print \$2 }" "$W/recs") &&
			r_man=$(awk -v c="$r_commit" \
				"\$3 == c && \$4 == \"save\" { print \$5 }" "$W/recs") &&
			test -n "$r_name" &&
			BUP_DIR=$r_repo cbup restore -q -C "$W/all/$r_dir" \
				"$r_path/${r_name##*/}/." &&
			cp -a "$r_man" "$W/want/$r_dir" ;;
		esac || {
			echo "record failed: $r_repo $r_path $r_commit $r_kind" &&
			return 1
		}
	done <"$W/recs" &&
	"$MANIFEST" --no-root "$W/want" | grep / >"$W/all.want" &&
	"$MANIFEST" --no-root "$W/all" | grep / >"$W/all.got" &&
	test -s "$W/all.want" &&
	test_cmp "$W/all.want" "$W/all.got" &&
	echo "$(wc -l <"$W/recs") records restore"
}

for R in $ROUNDS; do
	test_expect_success "round $R: writers beside gc and branch removal" '
		git --git-dir="$A" config pack.packSizeLimit 150000 &&
		git --git-dir="$O" config pack.packSizeLimit 150000 &&
		: >"$W/gcs-a-$R" && : >"$W/gcs-o-$R" && : >"$W/prog-$R" &&
		pids= &&
		for k in l r s g; do
			{ timeout -k 10 $TO sh "$W/writer.sh" $k $R \
				>"$W/log-$k-$R" 2>&1 & } &&
			pids="$pids $!" || return 1
		done &&
		{ timeout -k 10 $TO sh "$W/gcloop.sh" a $R >"$W/log-gca-$R" 2>&1 & } &&
		ga=$! &&
		{ timeout -k 10 $TO sh "$W/gcloop.sh" o $R >"$W/log-gco-$R" 2>&1 & } &&
		go=$! &&
		failed= &&
		for p in $pids; do
			if ! wait $p; then failed="$failed $p"; fi || return 1
		done &&
		touch "$W/stop-$R" &&
		{ wait $ga || failed="$failed gc-a"; } &&
		{ wait $go || failed="$failed gc-o"; } &&
		for f in "$W"/log-*-$R; do
			echo "== $f" && tail -n 5 "$f" || return 1
		done &&
		test -z "$failed" &&
		# a last removal and gc on each, in the foreground
		for repo in "$A" "$O"; do
			junk=$(git --git-dir="$repo" for-each-ref \
				--format="%(refname:short)" "refs/heads/junk-*") &&
			if test -n "$junk"; then
				BUP_DIR=$repo cbup rm --unsafe $junk
			fi &&
			BUP_DIR=$repo cbup gc -v 2>>"$W/log-gcz-$R" || return 1
		done &&
		git --git-dir="$A" for-each-ref "refs/heads/junk-*" >"$W/junk" &&
		git --git-dir="$O" for-each-ref "refs/heads/junk-*" >>"$W/junk" &&
		test ! -s "$W/junk" &&
		echo "gc runs: $(cat "$W/gcs-a-$R" "$W/gcs-o-$R" | wc -l)," \
			"packs deleted: $(cat "$W"/log-gc?-$R | grep -c "^deleting")," \
			"rewritten: $(cat "$W"/log-gc?-$R | grep -c "^rewriting")" &&
		grep -q "^deleting\|^rewriting" "$W"/log-gc?-$R &&
		check_records &&
		fsck_clean "$A" && fsck_clean "$O"
	'
done

test_done
