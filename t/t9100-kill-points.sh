#!/bin/sh
# SIGKILL at chosen system calls, and nothing is lost.
#
# strace's fault injection kills a writer exactly at the Nth call of a
# system call (-e inject=SYSCALL:signal=KILL:when=N; the count is per
# thread, so the runs that choose by count run on one thread,
# CBUP_THREADS=0).  The operations:
#
#   save    an incremental save onto an existing branch
#   save-mt the same with two worker threads (a few points)
#   split   split -n onto an existing branch
#   get     get --ff of one branch and --append of another between two
#           repositories (two ref updates in one run)
#   remote  the server of save -r :PATH (CBUP_REMOTE_BUP names a wrapper
#           that runs the server under strace): only the server is
#           killed, the client must fail cleanly
#   index   index of a changed tree (the index, its temporaries, its lock)
#   midx    midx -f
#   bloom   bloom -f
#   gc      gc -v of a repository where it has work of every kind: a
#           branch removed whose pack has nothing else (deleted), a
#           branch removed whose commit shares a pack with another
#           branch's data (that pack rewritten, into three packs by
#           pack.packSizeLimit), packs kept; then midx and bloom made
#
# Each operation runs once under strace first, which counts its calls
# of rename, fsync, fdatasync, link, flock, unlink, rmdir, ftruncate,
# fallocate and of the writes into the repository's files; the kill
# points are chosen from those counts (every call where there are few,
# four spread over the run where there are more; the first and last
# write into each file; for gc, where the order of new packs and
# removals is the point, every rename, successful unlink, fsync,
# fdatasync, flock, truncate and ftruncate) and printed as "# kill
# at ..." lines.  The
# server's writes into its files are counted among those on the file
# (strace -P): how often it writes to the client depends on timing (its
# "index" suggestions).  Every point starts from a copy of the same
# repositories, and after the kill:
#   - cbup (or the server) died by SIGKILL at the chosen call (strace
#     exits 137, and its log names the call and the file);
#   - git fsck --strict is clean (dangling objects aside) and every ref
#     names an object that exists;
#   - each ref the run updates names its old commit or the new one
#     (whose parent is the old one and whose tree is what the
#     uninterrupted run saved);
#   - every earlier save restores byte for byte (t/helper/manifest), and
#     earlier splits join back to their input (gc: every ref, all left
#     where they were, and cbup fsck is clean);
#   - the same operation run again, without strace and without any
#     manual step, succeeds, and what it made restores correctly (gc:
#     the repository then holds exactly the objects that the
#     uninterrupted gc left, git cat-file --batch-all-objects);
#   - after that run no temporary, lock or lock owner file of the
#     killed run is left (tmpfile.h: the writers sweep dead writers'
#     temporaries).
# CBUP_KILL_OPS="save get ..." runs the points of some operations only.
. "$(dirname "$0")/test-lib.sh"

# strace -y prints real paths: compare with the real path of the trash
W=$(cd "$TRASH" && pwd -P)/w
S="$W/src"              # the saved tree: states 1, 2, then 3
T="$W/t"                # the indexed tree of the index operation
B="$W/base"             # the repositories every point starts from
K="$W/k"                # the copies a point works on
MANIFEST="$TOP/t/helper/manifest"
TRACED=rename,renameat,renameat2,fsync,fdatasync,link,linkat,flock,unlink,unlinkat,rmdir,truncate,ftruncate,fallocate,write,pwrite64
NAME1=2023-11-14-221320 # the saves dated 1700000000 and 1700000100
NAME2=2023-11-14-221500
export CBUP_THREADS=0

# untraced_leaks: ASAN_OPTIONS for a sanitizer build run under strace
# (LeakSanitizer cannot run under ptrace)
untraced_leaks() {
	echo "${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
}

# future_atimes DIR: atimes an hour ahead, so that reading DIR during
# the runs never changes the metadata a save records
future_atimes() {
	"$MANIFEST" --future-atimes "$1"
}

test_expect_success 'setup: saves, a split, a get and a remote save to build on' '
	mkdir -p "$W" "$B" "$S/sub" "$T/d" &&
	lcg 1 200000 >"$S/a" && echo one >"$S/b" && ln -s b "$S/link" &&
	echo c >"$S/sub/c" && future_atimes "$S" &&
	"$MANIFEST" --no-root "$S" >"$W/m1" &&
	BUP_DIR="$B/repo" cbup init >/dev/null 2>&1 &&
	git --git-dir="$B/repo" symbolic-ref HEAD refs/heads/s &&
	BUP_DIR="$B/repo" cbup index "$S" >/dev/null &&
	BUP_DIR="$B/repo" cbup save -n s -d 1700000000 --strip "$S" &&
	BUP_DIR="$B/dst" cbup init >/dev/null 2>&1 &&
	git --git-dir="$B/dst" symbolic-ref HEAD refs/heads/s &&
	BUP_DIR="$B/dst" cbup get -s "$B/repo" --ff s >/dev/null 2>&1 &&
	lcg 6 50000 >"$W/data0" &&
	BUP_DIR="$B/dst" cbup split -n sp -d 1700000000 "$W/data0" &&
	BUP_DIR="$B/cli" cbup init -r ":$B/srv" >/dev/null 2>&1 &&
	git --git-dir="$B/srv" symbolic-ref HEAD refs/heads/rs &&
	BUP_DIR="$B/cli" cbup index -f "$B/cli/ixr" "$S" >/dev/null &&
	BUP_DIR="$B/cli" cbup save -f "$B/cli/ixr" -r ":$B/srv" -n rs \
		-d 1700000000 --strip "$S" &&

	echo "one two" >"$S/b" && lcg 2 100000 >"$S/sub/d" &&
	future_atimes "$S" && "$MANIFEST" --no-root "$S" >"$W/m2" &&
	BUP_DIR="$B/repo" cbup index "$S" >/dev/null &&
	BUP_DIR="$B/repo" cbup save -n s -d 1700000100 --strip "$S" &&
	BUP_DIR="$B/cli" cbup index -f "$B/cli/ixr" "$S" >/dev/null &&
	BUP_DIR="$B/cli" cbup save -f "$B/cli/ixr" -r ":$B/srv" -n rs \
		-d 1700000100 --strip "$S" &&
	lcg 4 300000 >"$W/data1" &&
	BUP_DIR="$B/repo" cbup split -n sp -d 1700000000 "$W/data1" &&
	lcg 5 250000 >"$W/data2" &&

	echo three >"$S/sub/e" && lcg 3 150000 >"$S/a" &&
	future_atimes "$S" && "$MANIFEST" --no-root "$S" >"$W/m3" &&

	echo a >"$T/f1" && lcg 7 100000 >"$T/f2" && echo b >"$T/d/f3" &&
	future_atimes "$T" &&
	BUP_DIR="$B/repo" cbup index -f "$B/ix" "$T" >/dev/null &&
	echo changed >"$T/f1" && echo c >"$T/d/f4" && future_atimes "$T" &&
	"$MANIFEST" --no-root "$T" >"$W/mt" &&

	# The index records the times of what changed less than a second
	# before it ran clamped (older than they are), and save takes an
	# unchanged file'"'"'s times from the index, a file it reads from the
	# file: the tree of the next save would depend on where the kill
	# was.  So state 3 is indexed once its times are in the past.
	sleep 2 &&
	BUP_DIR="$B/repo" cbup index "$S" >/dev/null &&
	BUP_DIR="$B/cli" cbup index -f "$B/cli/ixr" "$S" >/dev/null &&

	# what the earlier saves must restore to, both in one manifest
	{ sed "s|^|$NAME1/|" "$W/m1" && sed "s|^|$NAME2/|" "$W/m2"; } \
		>"$W/saves.man" &&
	for r in repo dst srv; do
		git --git-dir="$B/$r" for-each-ref \
			--format="%(refname:short) %(objectname)" \
			>"$W/$r.refs" || return 1
	done &&
	cat "$W/repo.refs" "$W/dst.refs" "$W/srv.refs" &&
	cat >"$W/srv-wrap" <<-EOF &&
	#!/bin/sh
	# cbup server under strace with the options in KP_TRACE, its trace
	# in KP_LOG and the exit status of strace in KP_LOG.rc
	ASAN_OPTIONS=\$(echo "\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0") \
		strace -f -qq -y -o "\$KP_LOG" \$KP_TRACE "$CBUP" server
	echo \$? >"\$KP_LOG.rc"
	EOF
	chmod +x "$W/srv-wrap"
'

# The repository of the gc operation: repo as above, plus a branch
# "gone" whose pack nothing else uses and a branch "r1" whose commit
# shares a pack with the data of "r2" (a split of the same data: its own
# pack holds its commit alone), both removed; pack.packSizeLimit makes
# the rewrite of r1'"'"'s pack three packs.
test_expect_success 'setup: a repository where gc has work of every kind' '
	cp -a "$B/repo" "$B/gc" &&
	lcg 8 200000 >"$W/data-gone" && lcg 9 300000 >"$W/data-r" &&
	BUP_DIR="$B/gc" cbup split -n gone -d 1700000000 "$W/data-gone" &&
	BUP_DIR="$B/gc" cbup split -n r1 -d 1700000000 "$W/data-r" &&
	BUP_DIR="$B/gc" cbup split -n r2 -d 1700000100 "$W/data-r" &&
	git --git-dir="$B/gc" update-ref -d refs/heads/gone &&
	git --git-dir="$B/gc" update-ref -d refs/heads/r1 &&
	git --git-dir="$B/gc" config pack.packSizeLimit 100000 &&
	git --git-dir="$B/gc" for-each-ref \
		--format="%(refname:short) %(objectname)" >"$W/gc.refs" &&
	cat "$W/gc.refs"
'

# old REPO REF: REF in REPO of the base repositories
old() {
	awk -v r="$2" '$1 == r { print $2 }' "$W/$1.refs"
}

# fresh OP: the repositories OP works on, as in the base, in $K
fresh() {
	rm -rf "$K" && mkdir "$K" &&
	case $1 in
	save|save-mt|split|midx|bloom)
		cp -a "$B/repo" "$K/repo" ;;
	get)
		cp -a "$B/repo" "$K/repo" && cp -a "$B/dst" "$K/dst" ;;
	remote)
		cp -a "$B/srv" "$K/srv" && cp -a "$B/cli" "$K/cli" ;;
	index)
		cp -a "$B/repo" "$K/repo" && cp -a "$B/ix" "$K/ix" &&
		cp -a "$B/ix.meta" "$K/ix.meta" ;;
	gc)
		cp -a "$B/gc" "$K/repo" ;;
	esac
}

# op_run OP [PREFIX...]: run OP, PREFIX (strace and its options) before
# cbup; stdout and stderr in $W/op.out and $W/op.err
op_run() {
	kp_op=$1 && shift &&
	case $kp_op in
	save)
		BUP_DIR="$K/repo" "$@" "$CBUP" save -n s -d 1700000200 \
			--strip "$S" ;;
	save-mt)
		BUP_DIR="$K/repo" CBUP_THREADS=2 "$@" "$CBUP" save -n s \
			-d 1700000200 --strip "$S" ;;
	split)
		BUP_DIR="$K/repo" "$@" "$CBUP" split -n sp -d 1700000300 \
			"$W/data2" ;;
	get)
		BUP_DIR="$K/dst" "$@" "$CBUP" get -s "$K/repo" --ff s \
			--append sp ;;
	remote)
		BUP_DIR="$K/cli" "$@" "$CBUP" save -f "$K/cli/ixr" \
			-r ":$K/srv" -n rs -d 1700000200 --strip "$S" ;;
	index)
		BUP_DIR="$K/repo" "$@" "$CBUP" index -f "$K/ix" "$T" ;;
	midx)
		BUP_DIR="$K/repo" "$@" "$CBUP" midx -f ;;
	bloom)
		BUP_DIR="$K/repo" "$@" "$CBUP" bloom -f ;;
	gc)
		BUP_DIR="$K/repo" "$@" "$CBUP" gc -v ;;
	esac >"$W/op.out" 2>"$W/op.err"
}

# traced OP LOG STRACE-OPTION...: OP under strace, its trace in LOG; the
# remote operation traces the server only, through the wrapper
traced() {
	kp_op=$1 && kp_log=$2 && shift 2 &&
	if [ "$kp_op" = remote ]; then
		rm -f "$kp_log.rc" &&
		KP_TRACE="$*" KP_LOG=$kp_log CBUP_REMOTE_BUP="$W/srv-wrap" \
			op_run remote
	else
		op_run "$kp_op" env ASAN_OPTIONS="$(untraced_leaks)" \
			strace -f -qq -y -o "$kp_log" "$@"
	fi
}

# calls TRACE: one line per system call of an strace -f -y log:
# "PID<tab>SYSCALL<tab>FILE<tab>RESULT", FILE the file it names (the
# path of its fd, or its path argument; both for rename and link),
# relative to $K, with the random and pid parts of temporary names
# replaced by "*"
calls() {
	awk -v top="$K/" '
	function norm(p,   h, i) {
		if (p "/" == top)
			p = "."
		else if (index(p, top) == 1)
			p = substr(p, length(top) + 1)
		gsub(/cbup@[^\/]*-[0-9]+-[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]/, "cbup@*", p)
		gsub(/\.tmp-[0-9]+(-[0-9]+)?/, ".tmp-*", p)
		gsub(/pipe:\[[0-9]+\]/, "pipe", p)
		h = "[0-9a-f]"
		for (i = 1; i < 40; i++)
			h = h "[0-9a-f]"
		gsub(h, "*", p)
		return p
	}
	# the string that opens s (which starts with a quote)
	function str(s) {
		s = substr(s, 2)
		return substr(s, 1, index(s, "\"") - 1)
	}
	/ resumed>/ || / \+\+\+ / || / --- / { next }
	{
		pid = $1
		line = $0
		sub(/^ *[0-9]+ +/, "", line)
		if (line !~ /^[a-z0-9_]+\(/)
			next
		sc = line
		sub(/\(.*/, "", sc)
		args = substr(line, length(sc) + 2)
		ret = line
		if (line ~ /<unfinished \.\.\.>$/)
			ret = "unfinished"
		else
			sub(/.* = /, "", ret)
		if (args ~ /^(AT_FDCWD|[0-9]+)</ && sc ~ /at2?$/) {
			args = substr(args, index(args, ", ") + 2)
		}
		if (args ~ /^[0-9]+</) {
			f = substr(args, index(args, "<") + 1)
			f = substr(f, 1, index(f, ">") - 1)
		} else if (args ~ /^"/) {
			f = str(args)
			rest = substr(args, length(f) + 3)
			if (sc ~ /^(rename|link)/ && rest ~ /^, (AT_FDCWD<[^>]*>, )?"/) {
				sub(/^, (AT_FDCWD<[^>]*>, )?/, "", rest)
				f = f " -> " norm(str(rest))
			}
		} else {
			f = "?"
		}
		printf "%s\t%s\t%s\t%s\n", pid, sc, norm(f), ret
	}' "$1"
}

# choose OP TRACE: the kill points of OP from its counting run, one line
# "OP<tab>SYSCALL<tab>N<tab>FILE<tab>HOW" each.  N counts the calls of
# SYSCALL in the thread that makes them all (a system call made by
# several threads is left out: which one reaches N first is not
# determined); with HOW "P", only its calls on FILE (strace -P).
# Writes (write, pwrite64): the first and the last into each file of
# the repositories but the reflogs.  Other calls: every one where there
# are at most four, else four spread from the first to the last.
# save-mt: the first and last rename and fdatasync, the link.
choose() {
	calls "$2" | awk -F '\t' -v op="$1" '
	{
		if (!(($2, "pids") in seen)) {
			seen[$2, "pids"] = $1
			order[++nsc] = $2
		} else if (seen[$2, "pids"] != $1) {
			multi[$2] = 1
		}
		k = ++n[$2]
		file[$2, k] = $3
		ret[$2, k] = $4
		if ($2 ~ /^(write|pwrite64)$/ && $3 !~ /^(\/|pipe|\?|[^\/]*\/logs\/)/) {
			if (!(($2, $3) in first)) {
				first[$2, $3] = k
				files[$2, ++nf[$2]] = $3
			}
			last[$2, $3] = k
			# the calls on this file alone (strace -P)
			kf = ++nfile[$2, $3]
			if (kf == 1)
				pfirst[$2, $3] = k
			plast[$2, $3] = k
			pk[$2, k] = kf
		}
	}
	function point(sc, k) {
		if (!((sc, k) in done))
			printf "%s\t%s\t%d\t%s\t-\n", op, sc, k, file[sc, k]
		done[sc, k] = 1
	}
	# the same, counted among the calls on its file (strace -P FILE)
	function ppoint(sc, k) {
		if (!((sc, k) in done))
			printf "%s\t%s\t%d\t%s\tP\n", op, sc, pk[sc, k],
				file[sc, k]
		done[sc, k] = 1
	}
	END {
		for (i = 1; i <= nsc; i++) {
			sc = order[i]
			c = n[sc]
			if (sc in multi) {
				printf "# %s: %s is made by several threads: no point\n",
					op, sc > "/dev/stderr"
				continue
			}
			if (op == "save-mt") {
				# (which thread syncs a pack varies from run to run,
				# and strace counts per thread: the renames and the
				# ref lock are made by the main thread)
				if (sc ~ /^(rename|link)$/) {
					point(sc, 1)
					point(sc, c)
				}
			} else if (sc ~ /^(write|pwrite64)$/ && op == "remote") {
				# how many times the server writes to the client
				# depends on what the client has sent by then: the
				# files of fixed names only, by their own count
				for (j = 1; j <= nf[sc]; j++) {
					f = files[sc, j]
					if (f ~ /cbup@/)
						continue
					ppoint(sc, pfirst[sc, f])
					ppoint(sc, plast[sc, f])
				}
			} else if (sc ~ /^(write|pwrite64)$/) {
				for (j = 1; j <= nf[sc]; j++) {
					point(sc, first[sc, files[sc, j]])
					point(sc, last[sc, files[sc, j]])
				}
			} else if (op == "gc" &&
				   sc ~ /^(rename|unlink|fsync|fdatasync|flock|f?truncate)$/) {
				# (an unlink that fails, ENOENT, changes nothing:
				# a kill there is a kill after the call before)
				for (k = 1; k <= c; k++)
					if (sc != "unlink" || ret[sc, k] !~ /^-1/)
						point(sc, k)
			} else if (c <= 4) {
				for (k = 1; k <= c; k++)
					point(sc, k)
			} else {
				for (j = 0; j < 4; j++)
					point(sc, 1 + int((c - 1) * j / 3 + 0.5))
			}
		}
	}'
}

# ---- what must hold ----------------------------------------------------

# sound REPO: git fsck --strict is clean (dangling objects aside) and
# every ref names an object that exists
sound() {
	git --git-dir="$1" fsck --strict >"$W/fsck.out" 2>&1 || {
		cat "$W/fsck.out"; return 1; }
	if grep -v "^dangling " "$W/fsck.out"; then
		echo "git fsck: more than dangling objects in $1"
		return 1
	fi
	git --git-dir="$1" for-each-ref --format="%(objectname)" >"$W/ids" &&
	git --git-dir="$1" cat-file --batch-check <"$W/ids" >"$W/ids.chk" &&
	if grep missing "$W/ids.chk"; then
		echo "a ref of $1 names a missing object"
		return 1
	fi
}

# old_or_new REPO REF OLD TREE: REF is OLD, or a commit on OLD with TREE
old_or_new() {
	kp_cur=$(git --git-dir="$1" rev-parse --verify -q "$2") || {
		echo "$2 is gone from $1"; return 1; }
	if [ "$kp_cur" = "$3" ]; then
		echo "$2 not moved"
		return 0
	fi
	echo "$2 moved" &&
	test "$(git --git-dir="$1" rev-parse "$2^")" = "$3" &&
	test "$(git --git-dir="$1" rev-parse "$2^{tree}")" = "$4"
}

# after REPO REF OLD TREE: after the next run, REF has OLD in its
# history and TREE
after() {
	git --git-dir="$1" merge-base --is-ancestor "$3" "$2" &&
	test "$(git --git-dir="$1" rev-parse "$2^{tree}")" = "$4"
}

# restores REPO MANIFEST PATH...: what restore PATH... extracts from
# REPO matches MANIFEST (without the entries at the top, the saves' own
# directories, unless PATH ends in "/.")
restores() {
	kp_repo=$1 && kp_man=$2 && shift 2 &&
	rm -rf "$W/out" &&
	BUP_DIR=$kp_repo cbup restore -q -C "$W/out" "$@" &&
	"$MANIFEST" --no-root "$W/out" >"$W/out.all" &&
	case $1 in
	*/.) cp "$W/out.all" "$W/out.man" ;;
	*) grep / "$W/out.all" >"$W/out.man" ;;
	esac &&
	test_cmp "$kp_man" "$W/out.man"
}

# earlier REPO BRANCH: the two earlier saves of BRANCH restore byte for
# byte
earlier() {
	restores "$1" "$W/saves.man" "$2/$NAME1" "$2/$NAME2"
}

# joins REPO REF FILE: cbup join REF gives back FILE
joins() {
	BUP_DIR=$1 cbup join "$2" >"$W/joined" &&
	cmp "$3" "$W/joined"
}

# leftovers: the temporaries, locks and lock owner files under $K
leftovers() {
	find "$K" \( -name "*cbup@*" -o -name "pack-tmp-*" -o -name "*.tmp-*" \
		-o -name "*.tmp" -o -name "bup.tmp.bloom" -o -name "*.lock" \) |
	grep .
}

# objects REPO: every object of REPO, sorted (packs and loose)
objects() {
	git --git-dir="$1" cat-file --batch-all-objects --batch-check | sort
}

# orphans: the packs of $K/repo without an idx
orphans() {
	for kp_p in "$K"/repo/objects/pack/*.pack; do
		test -e "${kp_p%.pack}.idx" || echo "$kp_p" || return 1
	done
}

# gc_data_ok: the refs of the gc repository are where they were, every
# commit of each restores or joins byte for byte, and cbup fsck is clean
# on every pack that has an idx (a kill between the renames of a new
# pack and its idx, or between the removals of an old idx and its pack,
# leaves a pack without one, which nothing reads; fsck, bup'"'"'s as
# cbup'"'"'s, would fail on it: the next gc removes it)
gc_data_ok() {
	git --git-dir="$K/repo" for-each-ref \
		--format="%(refname:short) %(objectname)" >"$W/gc.refs.now" &&
	test_cmp "$W/gc.refs" "$W/gc.refs.now" &&
	earlier "$K/repo" s &&
	joins "$K/repo" sp "$W/data1" &&
	joins "$K/repo" r2 "$W/data-r" &&
	BUP_DIR="$K/repo" cbup fsck "$K"/repo/objects/pack/*.idx
}

# expect OP: record what the uninterrupted run of OP made
expect() {
	case $1 in
	save|save-mt)
		git --git-dir="$K/repo" rev-parse "s^{tree}" >"$W/save.tree" ;;
	split)
		git --git-dir="$K/repo" rev-parse "sp^{tree}" >"$W/split.tree" ;;
	get)
		git --git-dir="$K/dst" rev-parse "sp^{tree}" >"$W/get.tree" ;;
	remote)
		git --git-dir="$K/srv" rev-parse "rs^{tree}" >"$W/remote.tree" ;;
	index)
		BUP_DIR="$K/repo" cbup index -s -f "$K/ix" "$T" >"$W/index.s" ;;
	midx|bloom)
		ls "$K/repo/objects/pack" >"$W/$1.ls" ;;
	gc)
		# (the work is all there: a pack deleted, one rewritten into
		# three, packs kept; and the garbage is gone)
		cat "$W/op.err" &&
		grep "^deleting pack-" "$W/op.err" &&
		grep "^rewriting b.pack-" "$W/op.err" &&
		test $(grep -c "^created pack-" "$W/op.err") = 3 &&
		grep "^keeping b.pack-" "$W/op.err" &&
		objects "$K/repo" >"$W/gc.objects" &&
		objects "$B/gc" >"$W/gc.before" &&
		test $(wc -l <"$W/gc.objects") -lt $(wc -l <"$W/gc.before") &&
		gc_data_ok ;;
	esac
}

# killed_ok OP: what must hold right after OP was killed
killed_ok() {
	case $1 in
	save|save-mt)
		sound "$K/repo" &&
		old_or_new "$K/repo" s "$(old repo s)" "$(cat "$W/save.tree")" &&
		earlier "$K/repo" s &&
		joins "$K/repo" "$(old repo sp)" "$W/data1" ;;
	split)
		sound "$K/repo" &&
		old_or_new "$K/repo" sp "$(old repo sp)" "$(cat "$W/split.tree")" &&
		earlier "$K/repo" s &&
		joins "$K/repo" "$(old repo sp)" "$W/data1" ;;
	get)
		sound "$K/dst" &&
		kp_s=$(git --git-dir="$K/dst" rev-parse s) &&
		{ test "$kp_s" = "$(old dst s)" ||
		  test "$kp_s" = "$(old repo s)"; } &&
		old_or_new "$K/dst" sp "$(old dst sp)" "$(cat "$W/get.tree")" &&
		restores "$K/dst" "$W/m1" s/$NAME1/. &&
		joins "$K/dst" "$(old dst sp)" "$W/data0" ;;
	remote)
		sound "$K/srv" &&
		old_or_new "$K/srv" rs "$(old srv rs)" "$(cat "$W/remote.tree")" &&
		earlier "$K/srv" rs ;;
	index)
		sound "$K/repo" &&
		BUP_DIR="$K/repo" cbup index -p -f "$K/ix" "$T" >/dev/null ;;
	midx|bloom)
		sound "$K/repo" &&
		earlier "$K/repo" s ;;
	gc)
		sound "$K/repo" &&
		gc_data_ok ;;
	esac
}

# next_ok OP: what the next run of OP made is right
next_ok() {
	case $1 in
	save|save-mt)
		sound "$K/repo" &&
		after "$K/repo" s "$(old repo s)" "$(cat "$W/save.tree")" &&
		restores "$K/repo" "$W/m3" s/latest/. ;;
	split)
		sound "$K/repo" &&
		after "$K/repo" sp "$(old repo sp)" "$(cat "$W/split.tree")" &&
		joins "$K/repo" sp "$W/data2" ;;
	get)
		sound "$K/dst" &&
		test "$(git --git-dir="$K/dst" rev-parse s)" = "$(old repo s)" &&
		after "$K/dst" sp "$(old dst sp)" "$(cat "$W/get.tree")" &&
		earlier "$K/dst" s &&
		joins "$K/dst" sp "$W/data1" ;;
	remote)
		sound "$K/srv" &&
		after "$K/srv" rs "$(old srv rs)" "$(cat "$W/remote.tree")" &&
		restores "$K/srv" "$W/m3" rs/latest/. ;;
	index)
		BUP_DIR="$K/repo" cbup index -s -f "$K/ix" "$T" >"$W/index.now" &&
		test_cmp "$W/index.s" "$W/index.now" &&
		BUP_DIR="$K/repo" cbup save -f "$K/ix" -n t --strip "$T" &&
		restores "$K/repo" "$W/mt" t/latest/. ;;
	midx)
		ls "$K/repo/objects/pack" >"$W/midx.now" &&
		test_cmp "$W/midx.ls" "$W/midx.now" &&
		BUP_DIR="$K/repo" cbup midx --check -a &&
		earlier "$K/repo" s ;;
	bloom)
		ls "$K/repo/objects/pack" >"$W/bloom.now" &&
		test_cmp "$W/bloom.ls" "$W/bloom.now" &&
		for i in "$K"/repo/objects/pack/*.idx; do
			BUP_DIR="$K/repo" cbup bloom -c "$i" || return 1
		done &&
		earlier "$K/repo" s ;;
	gc)
		# (the objects of the uninterrupted gc, whose refs restored,
		# the refs unmoved, and every pack whole: what restored then
		# restores now)
		sound "$K/repo" &&
		objects "$K/repo" >"$W/gc.now" &&
		test_cmp "$W/gc.objects" "$W/gc.now" &&
		git --git-dir="$K/repo" for-each-ref \
			--format="%(refname:short) %(objectname)" >"$W/gc.refs.now" &&
		test_cmp "$W/gc.refs" "$W/gc.refs.now" &&
		orphans >"$W/orphans" &&
		cat "$W/orphans" && test ! -s "$W/orphans" &&
		BUP_DIR="$K/repo" cbup fsck ;;
	esac
}

# kill_run OP SYSCALL N FILE HOW: OP killed at the Nth SYSCALL (HOW
# "P": the Nth on FILE), which names FILE.  ($K has no blank, being
# mktemp's: the options split on blanks.)
kill_run() {
	kp_sc=$2 &&
	kp_opts="-e trace=$kp_sc -e inject=$kp_sc:signal=KILL:when=$3" &&
	if [ "$5" = P ]; then
		kp_opts="$kp_opts -P $K/$4"
	fi &&
	if [ "$1" = remote ]; then
		test_must_fail traced remote "$W/kill.log" $kp_opts &&
		cat "$W/op.err" &&
		echo "server: exit $(cat "$W/kill.log.rc")" &&
		test "$(cat "$W/kill.log.rc")" = 137
	else
		test_expect_code 137 traced "$1" "$W/kill.log" $kp_opts
	fi &&
	grep "+++ killed by SIGKILL +++" "$W/kill.log" >/dev/null &&
	calls "$W/kill.log" | awk -F '\t' '$4 == "?"' >"$W/killed" &&
	cat "$W/killed" &&
	if [ "$1" = save-mt ]; then
		# (with worker threads strace may show the killed call as
		# "<unfinished ...>" when another thread's line comes between)
		calls "$W/kill.log" |
		awk -F '\t' '$4 == "?" || $4 == "unfinished" { print $2 }' |
		grep -qx "$kp_sc"
	else
		test $(wc -l <"$W/killed") = 1 &&
		test "$(cut -f2 "$W/killed")" = "$kp_sc" &&
		test "$(cut -f3 "$W/killed")" = "$4"
	fi
}

OPS=${CBUP_KILL_OPS:-"save split get remote index midx bloom save-mt gc"}

for op in $OPS; do
	test_expect_success STRACE "$op: counted, points chosen" '
		fresh $op &&
		traced $op "$W/$op.trace" -e trace=$TRACED &&
		if [ $op = remote ]; then
			test "$(cat "$W/$op.trace.rc")" = 0
		fi &&
		calls "$W/$op.trace" >"$W/$op.calls" &&
		cut -f2 "$W/$op.calls" | sort | uniq -c &&
		expect $op &&
		test_must_fail leftovers &&
		choose $op "$W/$op.trace" >"$W/$op.points" &&
		test -s "$W/$op.points"
	'
done

# the points, in the TAP output
say "# kill points (operation, system call, its number in the run, the file):"
for op in $OPS; do
	if [ -f "$W/$op.points" ]; then
		say "# $op: $(wc -l <"$W/$op.points") points:" \
			"$(cut -f2 "$W/$op.points" | uniq -c |
			   awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')"
		awk -F '\t' '{ printf "# kill at %s %s #%d %s\n", $1, $2, $3,
			($5 == "P" ? "of those on " $4 : "(" $4 ")") }' \
			"$W/$op.points"
	fi
done
say "# total: $(cat "$W"/*.points 2>/dev/null | wc -l) kill points"

for op in $OPS; do
	[ -f "$W/$op.points" ] || continue
	while IFS='	' read -r p_op p_sc p_n p_file p_how; do
		if [ "$p_how" = P ]; then
			p_what="#$p_n of those on $p_file"
		else
			p_what="#$p_n ($p_file)"
		fi
		test_expect_success STRACE "$p_op killed at $p_sc $p_what" '
			fresh $p_op &&
			kill_run $p_op $p_sc $p_n "$p_file" $p_how &&
			killed_ok $p_op &&
			op_run $p_op &&
			next_ok $p_op &&
			if leftovers; then
				echo "left behind after the next run" && exit 1
			fi
		' </dev/null
	done <"$W/$op.points"
done

test_done
