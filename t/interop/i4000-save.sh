#!/bin/sh
# cbup save against real bup 0.33.7 (FORMAT.md 0, 4, 5, 6, 8): the same
# index (each tool updating its own copy of it) must give identical tree
# and commit ids, identical messages and exit codes, and byte-identical
# bupindex files afterwards; an unchanged second save must read no file
# data; cbup's repository passes git fsck --strict and restores with bup.
. "$(dirname "$0")/../test-lib.sh"
. "$TOP/t/lib-save-both.sh"

A="$TRASH/cbup-repo"    # written by cbup save
B="$TRASH/bup-repo"     # written by bup save
S="$TRASH/src"          # the tree being saved
W="$TRASH/w"            # scratch; never inside $S's ancestors' way
D="$S/data"

test_declare_prereq XATTR

# Index PATHS... into $W/ix (with bup), then give each tool its own copy.
index_with_bup() {
	BUP_DIR=$B bup index -f "$W/ix" "$@" >/dev/null &&
	share_index
}

# On a mismatch, show where the two trees differ.
tree_diff() {
	git --git-dir="$B" ls-tree -r -t "$(head -n 1 "$W/b.out")" >"$W/b.tree"
	git --git-dir="$A" ls-tree -r -t "$(head -n 1 "$W/c.out")" >"$W/c.tree"
	diff "$W/b.tree" "$W/c.tree" | head -n 20
	return 1
}

# Everything must match, and the two updated indexes must be identical.
same_results() {
	test_cmp "$W/b.rc" "$W/c.rc" &&
	{ test_cmp "$W/b.out" "$W/c.out" || tree_diff; } &&
	test_cmp "$W/b.err" "$W/c.err" &&
	cmp "$W/b/ix" "$W/c/ix" &&
	test -s "$W/c.out"
}

# save_both + same_results for saves that keep /tmp... in the archive
# (see same_plain_save): the ids may be retried.
same_save_retry() {
	save_both "$@" &&
	for try in 1 2 3; do
		test_cmp "$W/b.out" "$W/c.out" >/dev/null && break
		tree_diff
		save_both "$@"
	done &&
	same_results
}

# Without --strip/--graft the archive holds /, /tmp... whose metadata can
# change under us (others create files in /tmp): require the saved
# subtree to be identical, and the root too, giving it one retry.
same_plain_save() {
	save_both -t "$@" &&
	rel=${D#/} &&
	bt=$(git --git-dir="$B" rev-parse "$(cat "$W/b.out"):$rel") &&
	ct=$(git --git-dir="$A" rev-parse "$(cat "$W/c.out"):$rel") &&
	test "$bt" = "$ct" &&
	test_cmp "$W/b.rc" "$W/c.rc" &&
	test_cmp "$W/b.err" "$W/c.err" &&
	cmp "$W/b/ix" "$W/c/ix" &&
	for try in 1 2 3; do
		test_cmp "$W/b.out" "$W/c.out" >/dev/null && return 0
		tree_diff
		save_both -t "$@"
	done
	test_cmp "$W/b.out" "$W/c.out"
}

test_expect_success BUP 'setup: repositories and a tree with every kind of file' '
	BUP_DIR=$A "$CBUP" init >/dev/null 2>&1 &&
	BUP_DIR=$B bup init >/dev/null 2>&1 &&
	mkdir -p "$W" "$D/sub/deeper" "$D/emptydir" "$D/with space" "$D/d.bup" &&
	echo hello >"$D/hello.txt" &&
	: >"$D/empty" &&
	lcg 1 3000000 >"$D/big" &&
	lcg 2 100000 >"$D/z.bup" &&
	echo small >"$D/y.bup" &&
	echo small >"$D/x.bupl" &&
	echo meta >"$D/a.bupm" &&
	echo dash >"$D/big-x" &&
	echo "#!/bin/sh" >"$D/exe.sh" && chmod 755 "$D/exe.sh" &&
	ln -s hello.txt "$D/link" &&
	ln -s /nonexistent/target "$D/dangling" &&
	mkfifo "$D/fifo" &&
	python3 -c "import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$D/sock" &&
	if [ "$(id -u)" = 0 ]; then mknod "$D/chardev" c 1 3; fi &&
	echo linked >"$D/sub/h1" && ln "$D/sub/h1" "$D/h2" &&
	ln "$D/sub/h1" "$D/sub/deeper/h3" &&
	echo space >"$D/with space/f g" &&
	printf "bytes" >"$D/$(printf "n\377\376")" &&
	echo inner >"$D/d.bup/f" &&
	echo deep >"$D/sub/deeper/f" &&
	echo "!" >"$D/!first" &&
	mkdir "$D/many" &&
	(cd "$D/many" && i=0 && while [ $i -lt 1500 ]; do
		: >"file-with-a-fairly-long-name-number-$i" &&
		i=$((i + 1)) || exit 1; done) &&
	# (xattrs where the file system has them: t3000 checks them on
	# their own, as a prerequisite)
	if setfattr -n user.foo -v bar "$D/hello.txt" 2>/dev/null; then
		setfattr -n user.abc -v xyz "$D/hello.txt" &&
		setfattr -n user.dir -v 1 "$D/sub"
	fi &&
	touch -d "2001-02-03 04:05:06.789" "$D/hello.txt" &&
	# atimes ahead: one tool'"'"'s reads must not change what the other
	# records (relatime updates an atime that is not after mtime)
	"$TOP/t/helper/manifest" --future-atimes "$D" &&
	index_with_bup "$D"
'
if getfattr -n user.foo "$D/hello.txt" >/dev/null 2>&1; then
	test_set_prereq XATTR
else
	say "# no user xattrs under $TRASH: their restore is not checked"
fi

test_expect_success BUP 'first save: same tree as bup, same index updates' '
	same_plain_save "$D"
'

test_expect_success BUP 'the .bupm of a 1500-file directory is chunked identically' '
	t=$(cat "$W/c.out") &&
	git --git-dir="$A" ls-tree "$t:${D#/}/many" >"$W/many.ls" &&
	grep "^040000 tree [0-9a-f]*	\.bupm$" "$W/many.ls"
'

test_expect_success BUP 'unchanged second save: same tree, no file data read' '
	save_both -t "$D" &&
	same_plain_save "$D"
'

test_expect_success BUP,STRACE 'unchanged save: no file data read (strace)' '
	(cd "$W/c" && ASAN_OPTIONS=detect_leaks=0 BUP_DIR=$A \
		strace -f -e trace=open,openat -o "$W/trace" \
		"$CBUP" save -f ix -t "$D" >"$W/t.out") &&
	grep "ix\.meta" "$W/trace" >/dev/null &&
	test "$(git --git-dir="$A" rev-parse "$(cat "$W/t.out"):${D#/}")" \
		= "$(git --git-dir="$A" rev-parse "$(cat "$W/c.out"):${D#/}")" &&
	! grep -E "data/(big|hello.txt|empty|sub/h1|many/file)" "$W/trace"
'

test_expect_success BUP 'changed files: incremental save matches (index-sourced metadata)' '
	echo more >>"$D/hello.txt" &&
	echo new >"$D/sub/new" &&
	rm "$D/many/file-with-a-fairly-long-name-number-7" &&
	index_with_bup "$D" &&
	same_plain_save "$D" &&
	echo again >>"$D/sub/deeper/f" &&
	BUP_DIR=$B bup index -f "$W/b/ix" "$D" >/dev/null &&
	BUP_DIR=$B bup index -f "$W/c/ix" "$D" >/dev/null &&
	cmp "$W/b/ix" "$W/c/ix" &&
	same_plain_save "$D"
'

test_expect_success BUP '--strip, --strip-path and --graft give bup'"'"'s trees' '
	save_both -t --strip "$D" && same_results &&
	save_both -t --strip "$D/sub" "$D/with space" && same_results &&
	save_both -t --strip-path "$S" "$D" && same_results &&
	same_save_retry -t --strip-path "$D/sub" "$D" &&
	save_both -t --graft "$D=/x/y" "$D" && same_results &&
	save_both -t --graft "$D=/" "$D" && same_results &&
	save_both -t --graft "$D/sub=/s" --graft "$D=/d" "$D" && same_results &&
	save_both -t --graft "$D=/a/b/c" "$D/sub" "$D/d.bup" && same_results &&
	save_both -t --graft "$D/../data=/z/../w" "$D" && same_results &&
	# bup tests string prefixes, not path components: keep its quirks
	save_both -t --graft "$S/da=/x" "$D" && same_results &&
	save_both -t --strip-path "$S/da" "$D" && same_results &&
	save_both -t --strip "$D/sub" "$D" "$D/d.bup" && same_results
'

test_expect_success BUP 'several sources and a root collision' '
	mkdir -p "$S/other/sub" && echo o >"$S/other/sub/o" &&
	index_with_bup "$D" "$S/other" &&
	save_both -t --strip "$D/sub" "$S/other" && same_results &&
	save_both -t --strip "$D/sub" "$S/other/sub" && same_results &&
	save_both -t --graft "$D=/q" --graft "$S/other=/q" "$D" "$S/other" &&
	same_results && grep "duplicate path" "$W/c.err"
'

test_expect_success BUP 'commits and branches: same ids, parents, ref updates' '
	index_with_bup "$D" &&
	save_both -n br -c --strip --date 1700000100 "$D" && same_results &&
	save_both -n br -c --strip --date 1700000200.7 "$D" && same_results &&
	c=$(cat "$W/c.out") &&
	test "$(git --git-dir="$A" rev-parse refs/heads/br)" = "$c" &&
	git --git-dir="$A" cat-file -p "$c" >"$W/commit" &&
	grep "^parent " "$W/commit" &&
	grep "^\[.save., .-f., .ix., .-n., .br., .-c., .--strip.," "$W/commit" &&
	git --git-dir="$A" log -g --format=%H refs/heads/br >"$W/reflog" &&
	test $(wc -l <"$W/reflog") -eq 2
'

test_expect_success BUP '-v, -vv and --smaller print what bup prints' '
	echo changed >>"$D/empty" && echo x >>"$D/sub/deeper/f" &&
	index_with_bup "$D" &&
	save_both -t -v --strip "$D" && same_results &&
	echo y >>"$D/sub/deeper/f" && index_with_bup "$D" &&
	save_both -t -vv --strip "$D" && same_results &&
	echo z >>"$D/sub/deeper/f" && echo w >>"$D/big-x" &&
	index_with_bup "$D" &&
	save_both -t -v --smaller 1000 --strip "$D" && same_results
'

test_expect_success BUP 'progress lines (BUP_FORCE_TTY=2) end like bup'"'"'s' '
	echo p >>"$D/sub/deeper/f" && index_with_bup "$D" &&
	BUP_FORCE_TTY=2 save_both -t --strip "$D" &&
	test_cmp "$W/b.out" "$W/c.out" && cmp "$W/b/ix" "$W/c/ix" &&
	tr "\r" "\n" <"$W/b.err" | grep ", done\." >"$W/b.done" &&
	tr "\r" "\n" <"$W/c.err" | grep ", done\." >"$W/c.done" &&
	test_cmp "$W/b.done" "$W/c.done" &&
	grep "^Reading index: [0-9]*, done\.$" "$W/c.done" &&
	grep "^Saving: [0-9.]*% ([0-9]*/[0-9]*k, [0-9]*/[0-9]* files), done\.    $" "$W/c.done"
'

test_expect_success BUP 'vanished and retyped files: bup'"'"'s errors, exit 1' '
	echo g >"$D/gone" && echo c >"$D/retyped" &&
	index_with_bup "$D" &&
	rm "$D/gone" "$D/retyped" && mkfifo "$D/retyped" &&
	save_both -t --strip "$D" && same_results &&
	test "$(cat "$W/c.rc")" = 1 &&
	grep "No such file or directory: .*gone" "$W/c.err" &&
	grep "retyped: mode changed since indexing, skipping\." "$W/c.err" &&
	grep "^WARNING: 2 errors encountered while saving\.$" "$W/c.err" &&
	rm "$D/retyped" && index_with_bup "$D"
'

test_expect_success BUP 'usage errors: same text, exit 97' '
	for args in "" "-t" "-t --date x $D" "-t --date 0x10 $D" \
		"-t --date nan(1) $D" "-t --date 1__0 $D" "-n a..b $D" \
		"-t --strip --strip-path=/x $D" "-t --strip --graft a=b $D" \
		"-t --strip-path=/x --graft a=b $D" "-t --graft ab $D" \
		"-t --graft a=b=c $D" "-t --graft =b $D" "-t --nosuch $D"
	do
		save_both $args &&
		test "$(cat "$W/c.rc")" = 97 &&
		test_cmp "$W/b.err" "$W/c.err" || return 1
	done
'

test_expect_success BUP 'no index: bup'"'"'s message, exit 1' '
	record_rc "$W/b.rc" env BUP_DIR=$B bup save -f "$W/none" -t "$D" \
		2>"$W/b.err" &&
	record_rc "$W/c.rc" env BUP_DIR=$A "$CBUP" save -f "$W/none" -t "$D" \
		2>"$W/c.err" &&
	test_cmp "$W/b.rc" "$W/c.rc" && test_cmp "$W/b.err" "$W/c.err" &&
	grep "have you run bup index?" "$W/c.err"
'

test_expect_success 'save -r: a server that cannot start is a clean error' '
	BUP_DIR=$A CBUP_SSH=false test_expect_code 1 "$CBUP" save \
		-r host:/x -t "$D" 2>"$W/r.err" &&
	grep "^error: server exited unexpectedly with code 1" "$W/r.err"
'

test_expect_success GIT 'git fsck --strict is clean on what cbup saved' '
	git --git-dir="$A" fsck --strict 2>"$W/fsck.err" &&
	! grep -v "^notice: HEAD points to an unborn branch" "$W/fsck.err"
'

test_expect_success BUP 'bup ls -l and bup restore read cbup'"'"'s save' '
	index_with_bup "$D" &&
	save_both -n rs -c --strip --date 1700000300 "$D" && same_results &&
	BUP_DIR=$A bup ls -l rs/latest/ >"$W/c.ls" &&
	BUP_DIR=$B bup ls -l rs/latest/ >"$W/b.ls" &&
	test_cmp "$W/b.ls" "$W/c.ls" &&
	grep "link -> hello.txt" "$W/c.ls" &&
	rm -rf "$W/restore" &&
	BUP_DIR=$A bup restore -q -C "$W/restore" rs/latest/. &&
	diff -r --no-dereference -x fifo -x sock -x chardev "$D" "$W/restore" &&
	test "$(stat -c %i "$W/restore/h2")" = "$(stat -c %i "$W/restore/sub/h1")" &&
	test "$(stat -c %Y "$W/restore/hello.txt")" = "$(stat -c %Y "$D/hello.txt")" &&
	test -p "$W/restore/fifo" && test -S "$W/restore/sock" &&
	if [ "$(id -u)" = 0 ]; then test -c "$W/restore/chardev"; fi
'

test_expect_success BUP,XATTR 'the restore keeps the xattrs' '
	getfattr -n user.foo --only-values "$W/restore/hello.txt" >"$W/xa" &&
	test "$(cat "$W/xa")" = bar
'

if "$CBUP" index -h 2>&1 | grep -q "usage: bup index"; then
test_expect_success BUP 'cbup index + cbup save end to end' '
	rm -f "$W/e2e"* &&
	BUP_DIR=$A "$CBUP" index -f "$W/e2e" "$D" >/dev/null &&
	BUP_DIR=$B bup index -f "$W/e2eb" "$D" >/dev/null &&
	BUP_DIR=$A "$CBUP" save -f "$W/e2e" -t --strip "$D" >"$W/e.c" &&
	BUP_DIR=$B bup save -f "$W/e2eb" -t --strip "$D" >"$W/e.b" &&
	test_cmp "$W/e.b" "$W/e.c"
'
fi

test_done
