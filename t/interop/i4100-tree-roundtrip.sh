#!/bin/sh
# Backup and restore end to end, cbup against real bup 0.33.7, on a tree
# with every awkward thing a file system can hold: names with spaces,
# newlines, non-UTF-8 bytes and leading dashes, 255-byte names, empty
# files and directories, hard links across directories, symlinks
# (dangling, absolute, to directories), a fifo, a socket, device nodes
# (as root), sparse files, user xattrs and POSIX ACLs (access and
# default), set-id bits, other owners, timestamps before 1970 and with
# nanoseconds, and one file over 100 MB.
#
#   bup index + bup save  and  cbup index + cbup save  give the same tree;
#   bup restore of cbup's save and cbup restore of bup's save reproduce
#   the source, compared with t/helper/manifest (type, mode, owner, size,
#   ns mtime, symlink target, rdev, xattrs, ACL text, sha1 of contents,
#   hard-link groups), not only diff -r;
#   bup ls and cbup ls agree on both repositories; git fsck --strict is
#   clean on both.
#
# A path longer than PATH_MAX (4096) lives in a second tree: bup 0.33.7
# cannot index it (ENAMETOOLONG from lstat of the full path, 4 errors),
# and cbup reproduces exactly that; saving it whole is marked as a known
# breakage shared with bup.
. "$(dirname "$0")/../test-lib.sh"

S="$TRASH/src"          # the main tree
DS="$TRASH/deep-src"    # the tree with a path over PATH_MAX
A="$TRASH/cbup-repo"    # written by cbup index + cbup save
B="$TRASH/bup-repo"     # written by bup index + bup save
W="$TRASH/w"
MANIFEST="$TOP/t/helper/manifest"
BIG=${CBUP_TEST_BIG:-104857601}     # bytes of the one big file (> 100 MB)

# make_tree DIR: the main tree (see the top of this file).
make_tree() {
	mkdir -p "$1" && (
	cd "$1" &&
	bad=$(printf 'bad\377\376name') &&
	nl=$(printf 'nl\ndir') &&
	n255=$(printf '%0255d' 0 | tr 0 n) &&
	d254=$(printf '%0254d' 0 | tr 0 d) &&
	mkdir "with space" "$nl" "$bad" ./-dash empty-dir a b sparse attrs \
		special "d$d254" &&
	echo one >"with space/file with  spaces " &&
	echo two >"$nl/$(printf 'new\nline')" &&
	printf 'x\0y' >"$bad/$(printf '\351t\351')" &&
	echo tab >"$(printf 'tab\there')" &&
	echo dash >./-dash/-f &&
	echo dd >./--double &&
	echo long >"$n255" &&
	echo inlong >"d$d254/$n255" &&
	: >empty-file &&
	echo linked >a/h1 && ln a/h1 b/h2 && ln a/h1 a/h3 &&
	echo other >b/o1 && ln b/o1 o2 &&
	ln -s /nonexistent/dangling dangling &&
	ln -s /etc absolute &&
	ln -s a dirlink &&
	ln -s "with space/file with  spaces " rel-space &&
	ln -s "$bad" badlink &&
	mkfifo fifo &&
	python3 -c "import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])" special/sock &&
	if [ "$(id -u)" = 0 ]; then
		mknod special/null c 1 3 && mknod special/blk b 7 200 &&
		echo owned >special/owned &&
		chown 12345:54321 special/owned &&
		echo nob >special/nobody &&
		chown nobody special/nobody &&
		chown -h 12345 dangling
	fi &&
	# sparse: 50 MB with data in the middle, and 1 MB of only hole
	truncate -s 50M sparse/holes &&
	printf data | dd of=sparse/holes bs=1 seek=10000000 conv=notrunc \
		status=none &&
	printf tail >>sparse/holes &&
	truncate -s 1M sparse/allhole &&
	echo x >attrs/x &&
	setfattr -n user.one -v 1 attrs/x &&
	setfattr -n user.bin -v 0sAAEC/w== attrs/x &&
	setfattr -n user.d -v dir attrs &&
	echo acl >attrs/acl &&
	setfacl -m u:12345:rw-,g:54321:r--,m::rw- attrs/acl &&
	mkdir attrs/dacl && setfacl -d -m u:12345:rwx attrs/dacl &&
	setfacl -m u:nobody:r-x attrs/dacl &&
	echo sub >attrs/dacl/inherited &&
	echo old >old && chmod 4755 old &&
	touch -d "1960-05-06 07:08:09.123456789" old &&
	echo ns >ns && chmod 2711 ns &&
	touch -d "2020-01-02 03:04:05.987654321" ns &&
	touch -h -d "1999-12-31 23:59:59.5" absolute &&
	chmod 1777 empty-dir && chmod 000 empty-file &&
	lcg 7 "$BIG" >big &&
	touch -d "1969-12-31 23:59:59.999999999" "with space" )
}

# make_deep DIR: 20 nested 250-byte directory names (over 5000 bytes of
# path) with a file and a symlink at the bottom, made by changing into
# each level (a full path that long cannot be used in one call, and the
# shell's cd composes full paths: python's os.chdir does not).
make_deep() {
	mkdir -p "$1" && python3 - "$1" <<-\EOF
	import os, sys
	os.chdir(sys.argv[1])
	for i in range(20):
	    n = ('%0249d' % i).replace('0', 'e')
	    os.mkdir(n)
	    os.chdir(n)
	with open('bottom', 'w') as f:
	    f.write('bottom\n')
	os.symlink('../..', 'up')
	EOF
}

# Both tools store atime, and ctime, in the .bupm (FORMAT.md 8), taken
# from the index (which stats every path), so both indexes must see the
# same times.  Reading a directory (index) or a file (save, manifest)
# updates its atime under relatime whenever atime <= mtime or ctime; so
# just before the runs every atime is set an hour into the future, above
# any mtime and ctime: relatime then leaves them alone for the whole run,
# and the ctime that this touch sets is the one both indexes record.
# Then wait 2 s: an index entry whose ctime or mtime is within the last
# second is clamped to tmax and stays stale (FORMAT.md 8.2), so whether a
# later index update re-reads an entry would depend on timing: for the
# fifo it decides whether the next save records its size as 0 (bup's
# metastore keeps st_size) or as none.
settle_times() {
	"$MANIFEST" --future-atimes "$1"
}

# manifest_of DIR > OUT: the manifest, with the top directory's own line.
manifest_of() {
	"$MANIFEST" "$1"
}

test_expect_success BUP,ACL 'setup: the trees, repositories and manifests' '
	command -v setfattr >/dev/null && command -v python3 >/dev/null &&
	mkdir -p "$W" &&
	make_tree "$S" && make_deep "$DS" &&
	"$CBUP" -d "$A" init >/dev/null 2>&1 &&
	bup -d "$B" init >/dev/null 2>&1 &&
	settle_times "$S" && settle_times "$DS" && sleep 2 &&
	manifest_of "$S" >"$W/src.man" &&
	test $(wc -l <"$W/src.man") -ge 40 &&
	grep "^big f 0644 0 0 $BIG " "$W/src.man" &&
	grep "^old f 4755 0 0 4 -304707110876543211 " "$W/src.man" &&
	grep "^a/h3 .* a/h1\$" "$W/src.man" &&
	grep "^attrs/acl .*u:12345:rw-" "$W/src.man"
'

test_expect_success BUP 'bup index + save and cbup index + save: same tree' '
	BUP_DIR=$B bup index -f "$W/b.ix" "$S" >/dev/null 2>"$W/bi.err" &&
	BUP_DIR=$A "$CBUP" index -f "$W/c.ix" "$S" >/dev/null 2>"$W/ci.err" &&
	test_cmp "$W/bi.err" "$W/ci.err" &&
	BUP_DIR=$B bup save -f "$W/b.ix" -t -c -n rt --strip "$S" \
		>"$W/b.save" 2>"$W/bs.err" &&
	BUP_DIR=$A "$CBUP" save -f "$W/c.ix" -t -c -n rt --strip "$S" \
		>"$W/c.save" 2>"$W/cs.err" &&
	test_cmp "$W/bs.err" "$W/cs.err" &&
	head -n 1 "$W/b.save" >"$W/b.tree" &&
	head -n 1 "$W/c.save" >"$W/c.tree" &&
	{ test_cmp "$W/b.tree" "$W/c.tree" || {
		git --git-dir="$B" ls-tree -r "$(cat "$W/b.tree")" >"$W/b.ls" &&
		git --git-dir="$A" ls-tree -r "$(cat "$W/c.tree")" >"$W/c.ls" &&
		diff "$W/b.ls" "$W/c.ls" | head -n 20 && false; }; }
'

# restore_check TOOL REPO OUT: restore rt/latest/. with TOOL from REPO
# into OUT, and compare its manifest with the source's.
restore_check() {
	rm -rf "$3" &&
	if [ "$1" = bup ]; then
		BUP_DIR=$2 bup restore -q -C "$3" rt/latest/. 2>"$W/r.err"
	else
		BUP_DIR=$2 "$CBUP" restore -q -C "$3" rt/latest/. 2>"$W/r.err"
	fi &&
	test_cmp /dev/null "$W/r.err" &&
	manifest_of "$3" >"$3.man" &&
	test_cmp "$W/src.man" "$3.man" &&
	diff -r --no-dereference -x fifo -x special "$S" "$3"
}

test_expect_success BUP 'bup restore of cbup'"'"'s save reproduces the tree' '
	restore_check bup "$A" "$W/bup-from-cbup"
'

test_expect_success BUP 'cbup restore of bup'"'"'s save reproduces the tree' '
	restore_check cbup "$B" "$W/cbup-from-bup"
'

test_expect_success BUP 'cbup restore of its own save reproduces the tree' '
	restore_check cbup "$A" "$W/cbup-from-cbup"
'

test_expect_success BUP 'restore --sparse: holes like bup'"'"'s, same contents' '
	rm -rf "$W/bs" "$W/cs" &&
	BUP_DIR=$A bup restore -q --sparse -C "$W/bs" rt/latest/sparse &&
	BUP_DIR=$B "$CBUP" restore -q --sparse -C "$W/cs" rt/latest/sparse &&
	for f in holes allhole; do
		cmp "$S/sparse/$f" "$W/cs/sparse/$f" &&
		b=$(stat -c %b "$W/bs/sparse/$f") &&
		c=$(stat -c %b "$W/cs/sparse/$f") &&
		echo "$f: bup $b blocks, cbup $c blocks" &&
		test "$c" -le "$b" || return 1
	done &&
	test $(stat -c %b "$W/cs/sparse/holes") -lt 1000
'

test_expect_success BUP 'restoring single awkward paths, as bup does' '
	for p in "$(printf "nl\\ndir/new\\nline")" "-dash/-f" \
		"$(printf "bad\\377\\376name")" "with space" a/h3 dirlink
	do
		rm -rf "$W/bp" "$W/cp" &&
		BUP_DIR=$B bup restore -q -C "$W/bp" "rt/latest/$p" &&
		BUP_DIR=$B "$CBUP" restore -q -C "$W/cp" "rt/latest/$p" &&
		"$MANIFEST" --no-root "$W/bp" >"$W/bp.man" &&
		"$MANIFEST" --no-root "$W/cp" >"$W/cp.man" &&
		test_cmp "$W/bp.man" "$W/cp.man" || return 1
	done
'

# ls_both REPO ARGS...: bup ls and cbup ls, stdout, stderr and status.
ls_both() {
	r=$1; shift
	{ BUP_DIR=$r bup ls "$@"; echo "rc $?"; } >"$W/lb" 2>&1
	{ BUP_DIR=$r "$CBUP" ls "$@"; echo "rc $?"; } >"$W/lc" 2>&1
	test_cmp "$W/lb" "$W/lc"
}

test_expect_success BUP 'bup ls and cbup ls agree on both repositories' '
	for r in "$A" "$B"; do
		for p in / rt rt/latest/ rt/latest/special rt/latest/attrs \
			rt/latest/a rt/latest/sparse/holes \
			"rt/latest/$(printf "nl\\ndir")" "rt/latest/$(printf "bad\\377\\376name")"
		do
			for o in "" -l -la -A -s -ls --numeric-ids -n -F; do
				ls_both "$r" $o "$p" || return 1
			done
		done &&
		BUP_DIR=$r "$CBUP" ls -l rt/latest/ >"$W/l" &&
		grep " $BIG .* big\$" "$W/l" &&
		grep "^lrwxrwxrwx .* dirlink -> a\$" "$W/l" || return 1
	done
'

test_expect_success GIT 'git fsck --strict is clean on both repositories' '
	for r in "$A" "$B"; do
		git --git-dir="$r" fsck --strict --no-dangling 2>"$W/fsck.err" &&
		! grep -v "^notice: HEAD points to an unborn branch" \
			"$W/fsck.err" || return 1
	done
'

# bup quirk: the first save records a fifo's size as none (metadata read
# at save time, normalized), later ones as 0 (from the index's
# metastore, which keeps st_size): the second save's tree differs from
# the first, in bup as in cbup.  The third is the same as the second.
test_expect_success BUP 'second and third unchanged saves: same trees as bup' '
	for n in 2 3; do
		BUP_DIR=$B bup index -f "$W/b.ix" "$S" >/dev/null &&
		BUP_DIR=$A "$CBUP" index -f "$W/c.ix" "$S" >/dev/null &&
		BUP_DIR=$B bup save -f "$W/b.ix" -t --strip "$S" >"$W/b$n.tree" &&
		ls "$A/objects/pack" >"$W/packs.before" &&
		BUP_DIR=$A "$CBUP" save -f "$W/c.ix" -t --strip "$S" \
			>"$W/c$n.tree" &&
		ls "$A/objects/pack" >"$W/packs.after" &&
		test_cmp "$W/b$n.tree" "$W/c$n.tree" || return 1
	done &&
	test_cmp "$W/c2.tree" "$W/c3.tree" &&
	test_cmp "$W/packs.before" "$W/packs.after"
'

test_expect_success BUP 'a path over PATH_MAX: the same errors and tree as bup' '
	record_rc "$W/bdi.rc" env BUP_DIR=$B bup index -f "$W/bd.ix" "$DS" \
		>/dev/null 2>"$W/bdi.err" &&
	record_rc "$W/cdi.rc" env BUP_DIR=$A "$CBUP" index -f "$W/cd.ix" "$DS" \
		>/dev/null 2>"$W/cdi.err" &&
	test_cmp "$W/bdi.rc" "$W/cdi.rc" &&
	grep -c "File name too long" "$W/bdi.err" >"$W/bdi.n" &&
	grep -c "File name too long" "$W/cdi.err" >"$W/cdi.n" &&
	test_cmp "$W/bdi.n" "$W/cdi.n" &&
	grep "^WARNING: $(cat "$W/cdi.n") errors encountered\.\$" "$W/cdi.err" &&
	BUP_DIR=$B bup save -f "$W/bd.ix" -t -c -n deep --strip "$DS" \
		>"$W/bd.save" &&
	BUP_DIR=$A "$CBUP" save -f "$W/cd.ix" -t -c -n deep --strip "$DS" \
		>"$W/cd.save" &&
	test "$(head -n 1 "$W/bd.save")" = "$(head -n 1 "$W/cd.save")" &&
	rm -rf "$W/bdr" "$W/cdr" &&
	BUP_DIR=$A bup restore -q -C "$W/bdr" deep/latest/. &&
	BUP_DIR=$B "$CBUP" restore -q -C "$W/cdr" deep/latest/. &&
	manifest_of "$W/bdr" >"$W/bdr.man" && manifest_of "$W/cdr" >"$W/cdr.man" &&
	test_cmp "$W/bdr.man" "$W/cdr.man" &&
	test $(wc -l <"$W/cdr.man") -ge 15
'

# Known breakage shared with bup 0.33.7: entries whose full path exceeds
# PATH_MAX are dropped at index time.  Fixing it would change tree ids
# relative to bup, so it stays as bup has it.
test_expect_failure 'a path over PATH_MAX is saved and restored whole' '
	rm -rf "$W/cdr" &&
	BUP_DIR=$A "$CBUP" restore -q -C "$W/cdr" deep/latest/. &&
	manifest_of "$DS" >"$W/ds.man" && manifest_of "$W/cdr" >"$W/cdr.man" &&
	test_cmp "$W/ds.man" "$W/cdr.man"
'

test_done
