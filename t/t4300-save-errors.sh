#!/bin/sh
# Errors around save and restore, with real bup 0.33.7 as the oracle
# where it has a defined behaviour: files that vanish, shrink or grow
# between index and save or during it, unreadable files and directories
# (run as nobody), an index from an older bup or a corrupt one, a corrupt
# .bupm, a restore target that exists or is not writable, trees whose
# names would write outside the target, and symlinks planted in it.
#
# For save comparisons both tools use copies of one index made by bup
# (as in t/interop/i4000-save.sh), so that atimes read by one indexer
# cannot make the trees differ.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_SRCDIR/lib-save-both.sh"

A="$TRASH/cbup-repo"
B="$TRASH/bup-repo"
S="$TRASH/src"
W="$TRASH/w"
TT="$CBUP_BUILD/test-tool"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com \
	GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com

# index_copies SRC: bup index SRC into $W/ix (its errors are the
# cases' business), copied to $W/b/ix, $W/c/ix.
index_copies() {
	rm -f "$W/ix" "$W/ix.meta" "$W/ix.hlink" &&
	BUP_DIR=$B bup index -f "$W/ix" "$@" >/dev/null 2>&1
	share_index
}

same_save() {
	test_cmp "$W/b.rc" "$W/c.rc" &&
	test_cmp "$W/b.out" "$W/c.out" &&
	test_cmp "$W/b.err" "$W/c.err"
}

# no_crash RC: a controlled failure (1..127), not a signal or success.
no_crash() {
	test "$1" -ge 1 && test "$1" -le 127
}

test_expect_success BUP 'setup' '
	mkdir -p "$W" "$S/d" &&
	BUP_DIR=$A "$CBUP" init >/dev/null 2>&1 &&
	BUP_DIR=$B bup init >/dev/null 2>&1 &&
	echo a >"$S/a" && echo gone >"$S/gone" && echo d >"$S/d/x" &&
	lcg 1 200000 >"$S/shrink" && lcg 2 200000 >"$S/grow" &&
	lcg 3 100000 >"$S/inplace"
'

test_expect_success BUP 'vanished, shrunk, grown, rewritten: bup'"'"'s tree, errors, exit 1' '
	index_copies "$S" &&
	rm "$S/gone" &&
	head -c 1000 "$S/shrink" >"$W/t" && mv "$W/t" "$S/shrink" &&
	lcg 2 300000 >"$S/grow" &&
	lcg 4 100000 | dd of="$S/inplace" bs=1000 seek=10 count=5 \
		conv=notrunc status=none &&
	save_both -t -c -d 1700000000 -n v --strip "$S" && same_save &&
	test "$(cat "$W/c.rc")" = 1 &&
	grep "No such file or directory: .*/gone" "$W/c.err" &&
	grep "^WARNING: 1 errors encountered while saving\.$" "$W/c.err" &&
	rm -rf "$W/r" &&
	BUP_DIR=$A "$CBUP" restore -q -C "$W/r" v/latest/. &&
	for f in a shrink grow inplace d/x; do
		cmp "$S/$f" "$W/r/$f" || return 1
	done &&
	test ! -e "$W/r/gone" &&
	BUP_DIR=$A "$CBUP" ls -l v/latest/shrink >"$W/ls" &&
	grep " 1000 " "$W/ls"
'

test_expect_success 'a file growing during the save: a consistent prefix' '
	lcg 5 4000000 >"$S/growing" &&
	rm -f "$W/gx"* && BUP_DIR=$A "$CBUP" index -f "$W/gx" "$S" >/dev/null &&
	lcg 6 65536 >"$W/chunk" &&
	{
		( i=0 && while [ $i -lt 100 ]; do
			cat "$W/chunk" >>"$S/growing" && i=$((i + 1)) &&
			sleep 0.01 || exit 1
		  done ) &
	} &&
	writer=$! &&
	record_rc "$W/g.rc" env BUP_DIR=$A CBUP_THREADS=1 "$CBUP" save \
		-f "$W/gx" -n grow --strip "$S" 2>"$W/g.err" &&
	wait $writer &&
	test "$(cat "$W/g.rc")" = 0 &&
	rm -rf "$W/r" &&
	BUP_DIR=$A "$CBUP" restore -q -C "$W/r" grow/latest/growing &&
	n=$(stat -c %s "$W/r/growing") &&
	test "$n" -ge 4000000 &&
	head -c "$n" "$S/growing" | cmp - "$W/r/growing" &&
	BUP_DIR=$A "$CBUP" ls -l grow/latest/growing >"$W/ls" &&
	grep " $n " "$W/ls" &&
	git --git-dir="$A" fsck --strict --no-dangling >/dev/null 2>&1
'

# as_nobody CMD...: run CMD as nobody (CI runs as root; the kernel then
# really denies reads, unlike for root), with HOME in a directory nobody
# owns.  nobody runs a copy of cbup in $TRASH: the build directory may
# sit in a directory only root may enter (a clone in mktemp -d).
NB="$TRASH/nb"
NB_CBUP="$TRASH/nbin/cbup"
as_nobody() {
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		env HOME="$NB" "$@"
}

test_expect_success ROOT,BUP 'setup: a tree with unreadable parts, repos nobody owns' '
	command -v setpriv &&
	chmod 755 "$TRASH" &&
	mkdir -p "$NB" "$TRASH/u/closed" "$TRASH/u/open" &&
	chown nobody "$NB" &&
	mkdir -p "$TRASH/nbin" && cp "$CBUP" "$NB_CBUP" &&
	echo secret >"$TRASH/u/secret" && chmod 000 "$TRASH/u/secret" &&
	echo in >"$TRASH/u/closed/f" && chmod 000 "$TRASH/u/closed" &&
	echo ok >"$TRASH/u/open/f" && echo ok2 >"$TRASH/u/z" &&
	"$TOP/t/helper/manifest" --future-atimes "$TRASH/u" &&
	as_nobody env BUP_DIR="$NB/A" "$NB_CBUP" init >/dev/null 2>&1 &&
	as_nobody env BUP_DIR="$NB/B" bup init >/dev/null 2>&1 &&
	record_rc "$NB/bi.rc" as_nobody env BUP_DIR="$NB/B" bup index \
		-f "$NB/ix" "$TRASH/u" >/dev/null 2>"$NB/bi.err" &&
	test -s "$NB/ix" && grep "Permission denied" "$NB/bi.err" &&
	as_nobody cp "$NB/ix" "$NB/ix.c" &&
	as_nobody cp "$NB/ix.meta" "$NB/ix.c.meta"
'

test_expect_success ROOT,BUP 'unreadable file and directory: bup'"'"'s errors and exit 1, the rest saved' '
	(cd "$NB" && record_rc "$W/b.rc" as_nobody env BUP_DIR="$NB/B" bup \
		save -f ix -t -c -n u --strip "$TRASH/u") >"$W/b.out" \
		2>"$W/b.err" &&
	(cd "$NB" && record_rc "$W/c.rc" as_nobody env BUP_DIR="$NB/A" \
		"$NB_CBUP" save -f ix.c -t -c -n u --strip "$TRASH/u") \
		>"$W/c.out" 2>"$W/c.err" &&
	test_cmp "$W/b.rc" "$W/c.rc" && test "$(cat "$W/c.rc")" = 1 &&
	test_cmp "$W/b.err" "$W/c.err" &&
	head -n 1 "$W/b.out" >"$W/b.tree" && head -n 1 "$W/c.out" >"$W/c.tree" &&
	test_cmp "$W/b.tree" "$W/c.tree" &&
	grep "secret.*Permission denied" "$W/c.err" &&
	rm -rf "$W/r" &&
	BUP_DIR="$NB/A" "$CBUP" restore -q -C "$W/r" u/latest/. &&
	test "$(cat "$W/r/open/f")" = ok && test "$(cat "$W/r/z")" = ok2 &&
	test ! -e "$W/r/secret" &&
	git --git-dir="$NB/A" fsck --strict --no-dangling >/dev/null 2>&1
'

# (Saving as nobody reads root's files without O_NOATIME, which needs
# ownership: their atimes must be in the future for both saves to see
# the same ones; see t/helper/manifest --future-atimes.)

# cbup index quotes the directory without bup's b'...' around it:
#   bup:  b'/x/u/': [Errno 13] Permission denied: b'closed/'
#   cbup: /x/u/: [Errno 13] Permission denied: b'closed/'
test_expect_success ROOT,BUP 'unreadable directory: cbup index prints bup'"'"'s message' '
	record_rc "$NB/ci.rc" as_nobody env BUP_DIR="$NB/A" "$NB_CBUP" index \
		-f "$NB/ix2" "$TRASH/u" >/dev/null 2>"$NB/ci.err" &&
	test_cmp "$NB/bi.rc" "$NB/ci.rc" &&
	test_cmp "$NB/bi.err" "$NB/ci.err"
'

test_expect_success ROOT,BUP 'a target nobody may write: bup'"'"'s exit code, nothing written' '
	mkdir -p "$TRASH/ro" && chmod 755 "$TRASH/ro" &&
	(cd "$NB" && record_rc "$W/b.rc" as_nobody env BUP_DIR="$NB/B" bup \
		restore -q -C "$TRASH/ro/out" u/latest/.) >/dev/null \
		2>"$W/b.err" &&
	(cd "$NB" && record_rc "$W/c.rc" as_nobody env BUP_DIR="$NB/A" \
		"$NB_CBUP" restore -q -C "$TRASH/ro/out" u/latest/.) \
		>/dev/null 2>"$W/c.err" &&
	test_cmp "$W/b.rc" "$W/c.rc" && no_crash "$(cat "$W/c.rc")" &&
	grep "Permission denied" "$W/c.err" &&
	test ! -e "$TRASH/ro/out"
'

test_expect_success BUP 'an index from an older bup (header version 6): warned, treated as empty' '
	index_copies "$S" &&
	printf "BUPI\\000\\000\\000\\006" >"$W/v6" &&
	dd if="$W/ix" of="$W/v6" bs=8 skip=1 seek=1 status=none &&
	cp "$W/v6" "$W/b/ix" && cp "$W/v6" "$W/c/ix" &&
	save_both -t --strip "$S" &&
	test_cmp "$W/b.rc" "$W/c.rc" && test "$(cat "$W/c.rc")" = 1 &&
	grep "header: expected b.BUPI.x00.x00.x00.x07., got b.BUPI.x00.x00.x00.x06." \
		"$W/c.err" &&
	grep "cannot find b./" "$W/c.err" &&
	! grep Traceback "$W/c.err" &&
	BUP_DIR=$A "$CBUP" index -f "$W/c/ix" "$S" >/dev/null 2>"$W/ci.err" &&
	grep "header: expected" "$W/ci.err" &&
	BUP_DIR=$A "$CBUP" save -f "$W/c/ix" -t --strip "$S" >"$W/c.out" &&
	test -s "$W/c.out"
'

test_expect_success BUP 'an index from an older bup: cbup save warns in bup'"'"'s words' '
	cp "$W/v6" "$W/b/ix" && cp "$W/v6" "$W/c/ix" &&
	save_both -t --strip "$S" &&
	grep "^warning:" "$W/b.err" >"$W/b.w" &&
	grep "^warning:" "$W/c.err" >"$W/c.w" &&
	test_cmp "$W/b.w" "$W/c.w"
'

test_expect_success 'a corrupt index: an error, no crash; a new index works' '
	rm -f "$W/cx"* &&
	BUP_DIR=$A "$CBUP" index -f "$W/cx" "$S" >/dev/null &&
	for how in "truncate -s 100" "truncate -s 7" "$TT corrupt -3" \
		"$TT corrupt 60" "$TT corrupt 200"; do
		cp "$W/cx" "$W/cy" && cp "$W/cx.meta" "$W/cy.meta" &&
		case $how in
		truncate*) $how "$W/cy" ;;
		*) set -- $how && "$1" "$2" "$W/cy" "$3" ;;
		esac &&
		record_rc "$W/rc" env BUP_DIR=$A "$CBUP" save -f "$W/cy" -t \
			--strip "$S" >"$W/c.out" 2>"$W/c.err" &&
		rc=$(cat "$W/rc") &&
		echo "$how: save exit $rc: $(head -n 1 "$W/c.err")" &&
		# a damaged index: saved from what is readable, or refused
		# with a message
		{ test $rc = 0 || test -s "$W/c.err"; } &&
		record_rc "$W/rc" env BUP_DIR=$A "$CBUP" index -f "$W/cy" "$S" \
			>/dev/null 2>"$W/c.err" &&
		rc=$(cat "$W/rc") &&
		echo "$how: index exit $rc: $(head -n 1 "$W/c.err")" &&
		{ test $rc = 0 || test -s "$W/c.err"; } || return 1
	done &&
	rm -f "$W/cy"* &&
	BUP_DIR=$A "$CBUP" index -f "$W/cy" "$S" >/dev/null &&
	BUP_DIR=$A "$CBUP" save -f "$W/cy" -t --strip "$S" >"$W/c.out" &&
	test -s "$W/c.out"
'

# graft_bupm REPO COMMIT-ISH PATH FILE: a new commit whose tree is that of
# COMMIT-ISH with PATH/.bupm (PATH "" for the root) replaced by FILE, as
# one blob (the original may be a chunk tree: .bupm is hashsplit too).
graft_bupm() {
	g_blob=$(git --git-dir="$1" hash-object -w "$4") &&
	g_root=$(git --git-dir="$1" rev-parse "$2^{tree}") &&
	if [ -z "$3" ]; then
		g_new=$(git --git-dir="$1" ls-tree "$g_root" |
			sed "s/^[0-7]* [a-z]* [0-9a-f]*	\\.bupm\$/100644 blob $g_blob	.bupm/" |
			git --git-dir="$1" mktree)
	else
		g_sub=$(git --git-dir="$1" ls-tree "$g_root:$3" |
			sed "s/^[0-7]* [a-z]* [0-9a-f]*	\\.bupm\$/100644 blob $g_blob	.bupm/" |
			git --git-dir="$1" mktree) &&
		g_new=$(git --git-dir="$1" ls-tree "$g_root" |
			sed "s/ [0-9a-f]*	$3\$/ $g_sub	$3/" |
			git --git-dir="$1" mktree)
	fi &&
	echo corrupt | git --git-dir="$1" commit-tree "$g_new"
}

test_expect_success 'a corrupt .bupm: ls and restore report it, no crash' '
	BUP_DIR=$A "$CBUP" index -f "$W/cz" "$S" >/dev/null &&
	BUP_DIR=$A "$CBUP" save -f "$W/cz" -n good --strip "$S" &&
	BUP_DIR=$A "$CBUP" join "$(git --git-dir="$A" rev-parse good:.bupm)" \
		>"$W/good.bupm" &&
	head -c 30 "$W/good.bupm" >"$W/trunc.bupm" &&
	lcg 9 64 >"$W/garbage.bupm" &&
	i=0 &&
	for f in trunc garbage; do
		for p in "" d; do
			i=$((i + 1)) &&
			c=$(graft_bupm "$A" good "$p" "$W/$f.bupm") &&
			git --git-dir="$A" update-ref refs/heads/bad$i "$c" &&
			for cmd in "ls -l bad$i/latest/" "ls -l bad$i/latest/d" \
				"ls -la bad$i/latest/d/" "restore -q -C $W/r$i bad$i/latest/."
			do
				record_rc "$W/rc" env BUP_DIR=$A "$CBUP" $cmd \
					>"$W/o" 2>"$W/e" &&
				rc=$(cat "$W/rc") &&
				echo "$f ${p:-/}: $cmd: exit $rc: $(head -n 1 "$W/e")" &&
				# a failure must say what it is
				{ test $rc = 0 || test -s "$W/e"; } || return 1
			done &&
			# (one at a time: see the known breakage below)
			git --git-dir="$A" update-ref -d refs/heads/bad$i || return 1
		done
	done &&
	# a corrupt .bupm in a subdirectory: the rest restores
	c=$(graft_bupm "$A" good d "$W/trunc.bupm") &&
	git --git-dir="$A" update-ref refs/heads/bad "$c" &&
	rm -rf "$W/r" &&
	record_rc "$W/rc" env BUP_DIR=$A "$CBUP" restore -q -C "$W/r" \
		bad/latest/. 2>"$W/e" &&
	git --git-dir="$A" update-ref -d refs/heads/bad &&
	no_crash "$(cat "$W/rc")" && grep "metadata" "$W/e" &&
	cmp "$S/a" "$W/r/a"
'

# A corrupt .bupm at the top of one branch makes cbup fail to restore or
# list any other branch: resolving "good/latest" reads the metadata of
# every branch's root (bup reads only the one it resolves).
test_expect_success 'a corrupt .bupm in one branch does not break another' '
	c=$(graft_bupm "$A" good "" "$W/trunc.bupm") &&
	git --git-dir="$A" update-ref refs/heads/bad "$c" &&
	rm -rf "$W/r" &&
	BUP_DIR=$A "$CBUP" restore -q -C "$W/r" good/latest/. &&
	BUP_DIR=$A "$CBUP" ls good/latest/ >/dev/null &&
	cmp "$S/a" "$W/r/a"
'
git --git-dir="$A" update-ref -d refs/heads/bad 2>/dev/null

test_expect_success BUP 'restoring into a target that exists: as bup does' '
	for t in bup cbup; do
		rm -rf "$W/ex-$t" && mkdir -p "$W/ex-$t" &&
		echo keep >"$W/ex-$t/unrelated" &&
		if [ $t = bup ]; then prog=bup; else prog=$CBUP; fi &&
		record_rc "$W/$t.rc1" env BUP_DIR=$A "$prog" restore -q \
			-C "$W/ex-$t" good/latest/. 2>"$W/$t.err1" &&
		record_rc "$W/$t.rc2" env BUP_DIR=$A "$prog" restore -q \
			-C "$W/ex-$t" good/latest/. 2>"$W/$t.err2" &&
		record_rc "$W/$t.rc3" env BUP_DIR=$A "$prog" restore -q \
			-C "$W/ex-$t" good/latest/a 2>"$W/$t.err3" || return 1
	done &&
	for n in 1 2 3; do
		test_cmp "$W/bup.rc$n" "$W/cbup.rc$n" || return 1
	done &&
	test "$(cat "$W/cbup.rc1")" = 0 && test "$(cat "$W/cbup.rc2")" = 1 &&
	grep "refusing to overwrite non-empty dir d" "$W/cbup.err2" &&
	test "$(cat "$W/ex-cbup/unrelated")" = keep &&
	cmp "$S/a" "$W/ex-cbup/a"
'

# mktree_raw REPO MODE NAME OID ...: write a tree object with exactly
# these entries, in this order, names taken as raw bytes (git mktree
# would refuse most of them).
mktree_raw() {
	r=$1; shift
	python3 -c '
import sys
a = sys.argv[1:]
out = b""
for i in range(0, len(a), 3):
    out += a[i].encode() + b" " + a[i + 1].encode("utf-8", "surrogateescape") \
        + b"\0" + bytes.fromhex(a[i + 2])
sys.stdout.buffer.write(out)' "$@" |
	git --git-dir="$r" hash-object -t tree --literally -w --stdin
}

# A jail around the restore target: after a restore of a malicious tree,
# nothing but the target itself may have changed inside the jail.
J="$TRASH/jail"
jail_state() {
	(cd "$J" && find . -path ./out -prune -o -print | sort)
}

test_expect_success 'names that would escape the target are refused' '
	mkdir -p "$J/esc-dir" &&
	blob=$(echo pwned | git --git-dir="$A" hash-object -w --stdin) &&
	inner=$(mktree_raw "$A" 100644 escaped "$blob") &&
	jail_state >"$W/jail.before" &&
	for name in .. . "x/../../esc" "../esc" "$TRASH/abs-escape" "a/b"; do
		t=$(mktree_raw "$A" 40000 "$name" "$inner" 100644 ok "$blob") &&
		c=$(echo evil | git --git-dir="$A" commit-tree "$t") &&
		git --git-dir="$A" update-ref refs/heads/evil "$c" &&
		rm -rf "$J/out" && mkdir "$J/out" &&
		(cd "$J" && record_rc "$W/rc" env BUP_DIR=$A "$CBUP" restore \
			-C out evil/latest/) >/dev/null 2>"$W/e" &&
		rc=$(cat "$W/rc") &&
		echo "name $name: exit $rc: $(tr "\\r" "\\n" <"$W/e" | head -n 1)" &&
		test $rc = 1 && grep "unsafe name" "$W/e" &&
		test "$(cat "$J/out/ok")" = pwned &&
		test ! -e "$TRASH/abs-escape" &&
		jail_state >"$W/jail.after" &&
		test_cmp "$W/jail.before" "$W/jail.after" || return 1
	done
'

test_expect_success 'a symlink and a directory of the same name: nothing written through it' '
	blob=$(echo pwned | git --git-dir="$A" hash-object -w --stdin) &&
	lnk=$(printf ../esc-dir | git --git-dir="$A" hash-object -w --stdin) &&
	inner=$(mktree_raw "$A" 100644 f "$blob") &&
	t=$(mktree_raw "$A" 120000 a "$lnk" 40000 a "$inner") &&
	c=$(echo evil | git --git-dir="$A" commit-tree "$t") &&
	git --git-dir="$A" update-ref refs/heads/evil "$c" &&
	jail_state >"$W/jail.before" &&
	rm -rf "$J/out" && mkdir "$J/out" &&
	(cd "$J" && record_rc "$W/rc" env BUP_DIR=$A "$CBUP" restore -q \
		-C out evil/latest/) >/dev/null 2>"$W/e" &&
	cat "$W/e" &&
	# the tree is restored, one of the two entries wins; none leads out
	test "$(cat "$W/rc")" = 0 &&
	{ test -L "$J/out/a" || test -d "$J/out/a"; } &&
	test ! -e "$J/esc-dir/f" &&
	jail_state >"$W/jail.after" &&
	test_cmp "$W/jail.before" "$W/jail.after"
'

test_expect_success BUP 'symlinks planted in the target are replaced, not followed' '
	rm -rf "$J/out" "$J/outside" && mkdir -p "$J/out" "$J/outside" &&
	echo victim >"$J/outside/victim" &&
	ln -s ../outside "$J/out/d" &&
	ln -s ../outside/victim "$J/out/a" &&
	jail_state >"$W/jail.before" &&
	(cd "$J" && BUP_DIR=$A "$CBUP" restore -q -C out good/latest/.) &&
	test -d "$J/out/d" && ! test -L "$J/out/d" &&
	! test -L "$J/out/a" && cmp "$S/a" "$J/out/a" &&
	test "$(cat "$J/outside/victim")" = victim &&
	jail_state >"$W/jail.after" &&
	test_cmp "$W/jail.before" "$W/jail.after" &&
	rm -rf "$J/out" && mkdir -p "$J/out" &&
	ln -s ../outside "$J/out/good-sub" &&
	(cd "$J" && BUP_DIR=$A "$CBUP" restore -q -C out/good-sub good/latest/d) &&
	test -f "$J/outside/d/x"
'

test_done
