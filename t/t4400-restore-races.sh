#!/bin/sh
# A restore into a directory that someone else can write must never be
# turned against another file: whoever replaces a restored directory by
# a symlink (or by another directory) while the restore runs must not
# get its mode, owner, ACL or xattrs applied to the symlink's target,
# nor files created or linked there.  The same for meta -x.
#
# The races are made deterministic with strace: the command's first
# symlink creation (symlink/symlinkat; the trees hold one inside or
# after the directory under attack) is held on entry for $HOLD seconds
# by strace's delay injection.  strace writes a call's entry to its
# trace before it holds it, so the test polls the trace for the moment
# the command sits in that call, swaps the directory while it is held,
# checks that it is still held (so the swap came first), and lets the
# command finish.  Each case then checks that the victim (a file of
# mode 0600 and a directory, with their ACLs and xattrs) is as it was,
# and that the command named the swapped path.
. "$(dirname "$0")/test-lib.sh"

test_declare_prereq XATTR FS_ACL

HOLD=${CBUP_TEST_HOLD:-4}
O="$TRASH/out"
V="$TRASH/victim"
VD="$TRASH/victim-dir"
H="$TRASH/held"

# hold DIR CMD...: start CMD in DIR in the background under strace,
# its first symlink creation (the $HOLD_WHEN-th if set) held on entry,
# with the strace options of $HOLD_STRACE too; its exit code goes to
# $H.rc, its output to $H.out and $H.err.  (LeakSanitizer cannot run
# under ptrace: a sanitizer build is traced without it.)
hold() {
	settle && rm -f "$H.trace" "$H.rc" || return 1
	(cd "$1" && shift &&
	 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		record_rc "$H.rc" strace -f -qq -o "$H.trace" ${HOLD_STRACE:-} \
		-e trace=symlink,symlinkat \
		-e inject=symlink,symlinkat:delay_enter="${HOLD}s":when="${HOLD_WHEN:-1}" \
		"$@" >"$H.out" 2>"$H.err") &
	held_pid=$! &&
	echo $held_pid >"$H.pid"
}

# settle: a command a failed case left running (it writes $H.rc when
# it ends) is waited for, at most 60 s, so that it cannot write into the
# next case's directory.
settle() {
	if [ -f "$H.pid" ]; then
		settle_i=0
		until [ -f "$H.rc" ] || [ $settle_i -gt 600 ]
		do
			settle_i=$((settle_i + 1))
			sleep 0.1
		done
	fi &&
	rm -f "$H.pid"
}

# wait_held: until the command sits in the held call, the first (the
# $HOLD_WHEN-th) traced one (at most 60 s; fails if it ends first).
wait_held() {
	wait_held_i=0
	until [ "$(cat "$H.trace" 2>/dev/null | grep -c symlink)" -ge \
		"${HOLD_WHEN:-1}" ]
	do
		if [ -f "$H.rc" ]; then
			echo >&2 "wait_held: the command ended first:"
			cat >&2 "$H.err"
			return 1
		fi
		wait_held_i=$((wait_held_i + 1))
		if [ $wait_held_i -gt 1200 ]; then
			echo >&2 "wait_held: the command never reached the call"
			return 1
		fi
		sleep 0.05
	done
}

# release: the swap must have come while the call was still held (else
# the machine was too slow for $HOLD: raise CBUP_TEST_HOLD); then wait
# for the command.
release() {
	if grep -q DELAYED "$H.trace"; then
		echo >&2 "release: the held call returned before the swap"
		return 1
	fi
	wait "$held_pid" && test -f "$H.rc" && cat "$H.err"
}

# victim_state: what the swap must not change (mode, owner, size,
# mtime, links, contents; the ACL and xattrs where the file system has
# them), for the victim file and the victim directory.
victim_state() {
	for v in "$V" "$VD" "$VD/h1"; do
		stat -c "%n %A %u %g %s %Y %h %i" "$v" &&
		if test_have_prereq FS_ACL; then
			getfacl -cnp "$v" 2>&1
		fi &&
		if test_have_prereq XATTR; then
			getfattr --absolute-names -d -m - "$v" 2>&1
		fi || return 1
	done &&
	cat "$V" && ls -ln "$VD"
}

# hold_restore WHAT: in a fresh $O, a held "cbup restore -q -C $O WHAT",
# waited for until it sits in the held call.
hold_restore() {
	rm -rf "$O" && mkdir "$O" &&
	hold . cbup restore -q -C "$O" "$1" &&
	wait_held
}

# swap_for_symlink PATH TARGET RC: while the command is held, PATH is
# moved to PATH.moved and replaced by a symlink to TARGET; then the
# command must end with RC, and the victim must be as it was.
swap_for_symlink() {
	mv "$1" "$1.moved" && ln -s "$2" "$1" &&
	release &&
	victim_state >victim.after &&
	test_cmp victim.before victim.after &&
	test "$(cat "$H.rc")" = "$3"
}

# The restore of s2/latest/deep into $O with 40 descriptors, as
# sh -c "$RESTORE_40" - "$O" (strace runs it, so not a function).
RESTORE_40='ulimit -n 40 && exec cbup restore -q -C "$1" s2/latest/deep'

# deep_list DIR: the tree deep/ in DIR, with modes and mtimes.
deep_list() {
	(cd "$1" && find deep -printf "%p %m %T@\n" | sort)
}

mkdir -p src/d
if setfattr -n user.race -v 1 src/d 2>/dev/null
then
	test_set_prereq XATTR
else
	say "# user xattrs not supported under $TRASH: not checking them"
fi
if test_have_prereq ACL && setfacl -m u:nobody:rwx src/d 2>/dev/null
then
	test_set_prereq FS_ACL
else
	say "# POSIX ACLs not supported under $TRASH: not checking them"
fi

test_expect_success 'setup: a tree with a directory to attack' '
	mkdir -p src/a src/m src/z "$VD" &&
	chmod 750 src/m &&
	echo data >src/d/f && ln -s f src/d/s &&
	chmod 751 src/d &&
	echo secret >"$V" && chmod 600 "$V" &&
	echo other >"$VD/h1" && chmod 600 "$VD/h1" && chmod 700 "$VD" &&
	echo linked >src/a/h1 && ln src/a/h1 src/z/h2 &&
	ln -s nowhere src/m/s &&
	cbup init >/dev/null 2>&1 &&
	cbup index src >/dev/null &&
	cbup save -n s --strip src >/dev/null &&
	cbup meta -c -R src >src.meta &&
	victim_state >victim.before
'

test_expect_success STRACE 'the held call and the swap work (no swap: the restore is whole)' '
	hold_restore s/latest/d &&
	release &&
	test "$(cat "$H.rc")" = 0 &&
	grep "symlink.*\"s\") *= 0 (DELAYED)" "$H.trace" &&
	test "$(stat -c %a "$O/d")" = "$(stat -c %a src/d)" &&
	test "$(cat "$O/d/f")" = data && test -L "$O/d/s"
'

test_expect_success STRACE 'a directory swapped for a symlink to a file: its metadata is not applied there' '
	hold_restore s/latest/d &&
	swap_for_symlink "$O/d" "$V" 1 &&
	grep "^error: .*d. was replaced while restoring" "$H.err" &&
	test "$(cat "$O/d.moved/f")" = data &&
	test "$(stat -c %a "$O/d.moved")" = 700
'

test_expect_success STRACE 'a directory swapped for a symlink to a directory' '
	hold_restore s/latest/d &&
	swap_for_symlink "$O/d" "$VD" 1 &&
	grep "^error: .*d. was replaced while restoring" "$H.err"
'

test_expect_success STRACE 'a directory swapped for another directory' '
	hold_restore s/latest/d &&
	mv "$O/d" "$O/d.moved" && mkdir "$O/d" && chmod 700 "$O/d" &&
	release &&
	test "$(stat -c %a "$O/d")" = 700 &&
	! test -e "$O/d/f" &&
	test "$(cat "$H.rc")" = 1 &&
	grep "^error: .*d. was replaced while restoring" "$H.err"
'

test_expect_success STRACE 'a hardlink source swapped for a symlink: no link to the victim' '
	hold_restore s/latest/. &&
	swap_for_symlink "$O/a" "$VD" 0 &&
	test "$(stat -c %i "$O/z/h2")" != "$(stat -c %i "$VD/h1")" &&
	test "$(cat "$O/z/h2")" = linked
'

# A tree deeper than the descriptors restore may hold (half of
# RLIMIT_NOFILE, here 20 of 40): the shallowest levels are closed while
# the deepest are made, and opened again, by name and checked, on the
# way back up.
test_expect_success 'setup: a tree of 62 levels' '
	p=src2/deep && i=1 &&
	while [ $i -le 60 ]
	do
		p=$p/l$i && mkdir -p "$p" && i=$((i + 1)) || return 1
	done &&
	echo bottom >"$p/f" && ln -s f "$p/s" &&
	find src2 -type d -exec chmod 751 {} + &&
	cbup index src2 >/dev/null &&
	cbup save -n s2 --strip src2 >/dev/null
'

test_expect_success 'with 40 descriptors: every level restored, metadata too' '
	rm -rf "$O" && mkdir "$O" &&
	(ulimit -n 40 && cbup restore -q -C "$O" s2/latest/deep) &&
	deep_list src2 >deep.src &&
	deep_list "$O" >deep.out &&
	test_cmp deep.src deep.out &&
	test $(wc -l <deep.out) = 63
'

test_expect_success STRACE 'with 40 descriptors: a closed level swapped for a symlink' '
	rm -rf "$O" && mkdir "$O" &&
	hold . sh -c "$RESTORE_40" - "$O" &&
	wait_held &&
	swap_for_symlink "$O/deep/l1" "$VD" 1 &&
	grep "^error: ./deep/l1. was replaced while restoring" "$H.err" &&
	test $(grep -c "was replaced" "$H.err") = 1 &&
	test "$(stat -c %a "$O/deep")" = 751 &&
	test "$(stat -c %a "$O/deep/l1.moved")" = 700 &&
	find "$O/deep/l1.moved" -type l -name s >links &&
	test $(wc -l <links) = 1
'

# Kernels before 5.6 have no openat2: restore then walks with
# openat(O_NOFOLLOW), which strace's error injection shows here (one
# openat2 call, answered ENOSYS, and never another).
test_expect_success STRACE 'without openat2: every level restored, metadata too' '
	rm -rf "$O" && mkdir "$O" &&
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -o nosys.trace -e trace=openat2 \
		-e inject=openat2:error=ENOSYS \
		sh -c "$RESTORE_40" - "$O" &&
	test $(grep -c "openat2(.*= -1 ENOSYS" nosys.trace) = 1 &&
	test $(grep -c openat2 nosys.trace) = 1 &&
	deep_list "$O" >deep.out &&
	test_cmp deep.src deep.out
'

test_expect_success STRACE 'without openat2: a closed level swapped for a symlink' '
	rm -rf "$O" && mkdir "$O" &&
	HOLD_STRACE="-e inject=openat2:error=ENOSYS" &&
	hold . sh -c "$RESTORE_40" - "$O" &&
	wait_held &&
	swap_for_symlink "$O/deep/l1" "$VD" 1 &&
	grep "^error: ./deep/l1. was replaced while restoring" "$H.err" &&
	test "$(stat -c %a "$O/deep/l1.moved")" = 700
'

# bup meta -c lists children before their parents: src/m/s, the first
# symlink, comes before src/m/ itself (src/m is made by mkdirp for
# src/m/s), and directories get their metadata at the very end.
test_expect_success STRACE 'meta -x: a finished directory swapped for a symlink to a file' '
	rm -rf "$O" && mkdir "$O" &&
	HOLD_WHEN=2 &&
	hold "$O" cbup meta -x -f ../src.meta &&
	wait_held &&
	grep "symlink.*nowhere.* = 0$" "$H.trace" &&
	swap_for_symlink "$O/src/m" "$V" 1 &&
	grep "^error: .*src/m.*symlink" "$H.err"
'

test_expect_success STRACE 'meta -x: a directory swapped for a symlink to a directory' '
	rm -rf "$O" && mkdir "$O" &&
	hold "$O" cbup meta -x -f ../src.meta &&
	wait_held &&
	swap_for_symlink "$O/src/m" "$VD" 1 &&
	grep "^error: .*src/m.*symlink" "$H.err"
'

# (a case that failed before it waited leaves its command to this)
settle
test_done
