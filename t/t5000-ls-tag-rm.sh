#!/bin/sh
# cbup ls, tag, rm and features against real bup 0.33.7 on one repository
# made by bup (FORMAT.md 6.2): the same stdout, stderr and exit code for
# every ls option combination, tags on commits, trees and blobs, and rm of
# saves and branches giving the same refs (and so the same rewritten
# commits) as bup rm, with git fsck --strict clean afterwards.
. "$(dirname "$0")/test-lib.sh"

export TZ=America/New_York

# Run "bup ARGS" and "cbup ARGS"; compare output, errors and exit code.
# Python object addresses in bup's VFS error texts are masked.
bup_cmp() {
	bup "$@" >bup.out 2>bup.err
	echo $? >>bup.out
	cbup "$@" >cbup.out 2>cbup.err
	echo $? >>cbup.out
	sed -i 's/instance at 0x[0-9a-f]*/instance at X/g' bup.err cbup.err
	test_cmp bup.out cbup.out &&
	test_cmp bup.err cbup.err
}

# bup_cmp over each line of stdin (words split as the shell does).
cmp_lines() {
	fail=0
	while read -r line; do
		eval "bup_cmp $line" || { echo "differs: $line"; fail=1; }
	done
	return $fail
}

S=/main/latest$TRASH/src

test_expect_success BUP 'setup: saves of a tree of every kind' '
	mkdir -p src/sub/deeper "src/with space" src/empty &&
	echo hello >src/a.txt &&
	seq 1 60000 >src/big &&
	ln src/big src/big-hl &&
	ln -s a.txt src/link &&
	ln -s /nonexistent src/dangling &&
	ln -s sub src/sublink &&
	ln -s loop2 src/loop1 && ln -s loop1 src/loop2 &&
	mkfifo src/fifo &&
	echo x >src/sub/deeper/f &&
	printf "#!/bin/sh\n" >src/run.sh && chmod 755 src/run.sh &&
	echo s >"src/with space/file one" &&
	printf q >"src/it'\''s" &&
	printf b >"src/$(printf "bad\377name")" &&
	: >src/.hidden &&
	touch -d "2001-02-03 04:05:06" src/a.txt &&
	bup init >/dev/null 2>&1 &&
	bup index src >/dev/null &&
	bup save -n main --date=1600000000 src 2>/dev/null &&
	bup save -n main --date=1600000000 src 2>/dev/null &&
	echo more >>src/a.txt &&
	bup index src >/dev/null &&
	bup save -n main --date=1600000000 src 2>/dev/null &&
	bup save -n main --date=1600100000 src 2>/dev/null &&
	bup save -n other --date=1500000000 src/sub 2>/dev/null &&
	bup tag tc main &&
	bup tag tc2 main &&
	bup tag tt "$(git --git-dir=repo rev-parse main^{tree})" &&
	bup tag tb "$(git --git-dir=repo rev-parse main:${TRASH#/}/src/a.txt)" &&
	bup tag to other
'

test_expect_success BUP 'ls: listings, options and errors match bup' '
	cmp_lines <<-EOF
	ls
	ls /
	ls -a /
	ls -A /
	ls -l /
	ls -lA /
	ls -las /
	ls -lds /
	ls -F /
	ls /main
	ls -l /main
	ls -la /main
	ls -s /main
	ls -s --commit-hash /main
	ls -l --commit-hash /main
	ls -F /main
	ls -l /main/latest
	ls -ld /main/latest
	ls -lds --commit-hash /main/latest
	ls -lds --commit-hash /main/latest/
	ls -d /main/latest/
	ls -sd --commit-hash /main/2020-09-13-082640-1
	ls -lsd --commit-hash /main/2020-09-13-082640-0
	ls -lsd --commit-hash /main
	ls -la $S
	ls -lA $S
	ls -lF $S
	ls -lsn $S
	ls --file-type $S
	ls -F $S
	ls -a -s $S
	ls -A --commit-hash $S
	ls -a --commit-hash /main/latest
	ls -la --commit-hash /main/latest /.tag/tc
	ls -las --commit-hash $S/sub
	ls -ls --human-readable $S
	ls -l --human-readable $S/big
	ls -d $S/sublink
	ls -ld $S/sublink
	ls $S/sublink
	ls -l $S/sublink
	ls $S/dangling
	ls -l $S/dangling
	ls -d $S/dangling
	ls -d $S/loop1
	ls -l $S/a.txt $S/fifo $S/nope
	ls -n -l $S/a.txt
	ls -s -a $S/sub
	ls -l $S/sub/
	ls -d $S/sub/
	ls -l $S/../../..
	ls -ls "$S/with space"
	ls -l "$S/with space/file one"
	ls $S/a.txt/x
	ls -l $S/a.txt/x
	ls -ld $S/link/
	ls $S/link/
	ls $S/loop1/x
	ls /nope
	ls /nope /main $S/nope /main/nope/x /
	ls /main/nope/x
	ls nope
	ls main/latest/../latest/${TRASH#/}
	ls //main
	ls -la /.tag
	ls -s /.tag
	ls -s --commit-hash /.tag
	ls -l --commit-hash -s /.tag
	ls -las --commit-hash / /.tag
	ls /.tag/tc
	ls -l /.tag/tb
	ls -d /.tag/tt
	ls -ld /.tag/tc
	ls -l /other/latest
	ls --bad-option
	EOF
'

test_expect_success BUP 'ls: columns on a tty' '
	for w in 1 20 40 80 200; do
		BUP_FORCE_TTY=1 BUP_TTY_WIDTH=$w bup_cmp ls -s $S &&
		BUP_FORCE_TTY=1 BUP_TTY_WIDTH=$w bup_cmp ls -F $S /main /nope &&
		BUP_FORCE_TTY=1 BUP_TTY_WIDTH=$w bup_cmp ls $S/a.txt /nope / &&
		BUP_FORCE_TTY=1 BUP_TTY_WIDTH=$w bup_cmp ls -d $S ||
		return 1
	done &&
	BUP_FORCE_TTY=1 bup_cmp ls -l $S
'

test_expect_success BUP 'ls: other time zones' '
	TZ=UTC bup_cmp ls -l /main &&
	TZ=Asia/Kolkata bup_cmp ls -la $S
'

test_expect_success 'ls -r: a server that cannot start is a clean error' '
	CBUP_SSH=false test_expect_code 1 cbup ls -r host:path / 2>err &&
	grep "^error: server exited unexpectedly with code 1" err
'

test_expect_success 'ls: a symlink loop is an error, not a crash' '
	test_expect_code 1 cbup ls -l $S/loop1 2>err &&
	grep "^bup: \[Errno 40\] too many symlinks" err
'

test_expect_success BUP 'tag: list, create, replace, delete, errors' '
	cp -a repo repo.bup && cp -a repo repo.cbup &&
	tree=$(git --git-dir=repo rev-parse main^{tree}) &&
	while read -r line; do
		record_rc bup.rc env BUP_DIR=$TRASH/repo.bup bup tag $line \
			>bup.out 2>bup.err &&
		record_rc cbup.rc env BUP_DIR=$TRASH/repo.cbup cbup tag $line \
			>cbup.out 2>cbup.err &&
		test_cmp bup.rc cbup.rc &&
		test_cmp bup.out cbup.out && test_cmp bup.err cbup.err ||
		{ echo "differs: tag $line"; return 1; }
	done <<-EOF &&

	y 0123456789012345678901234567890123456789
	y main~1
	-f -d nope
	-d nope
	tc main
	-f tc other
	t2 heads/other
	t3 refs/heads/main
	.x main
	one
	a b c
	--bad
	-d tc2
	n/m $tree

	EOF
	git --git-dir=repo.bup show-ref >refs.bup &&
	git --git-dir=repo.cbup show-ref >refs.cbup &&
	test_cmp refs.bup refs.cbup &&
	git --git-dir=repo.cbup fsck --strict
'

# rm in a copy with bup and in another with cbup: refs (so the rewritten
# commits) and listings must be the same, and fsck clean.
rm_cmp() {
	rm -rf rm.bup rm.cbup &&
	cp -a repo rm.bup && cp -a repo rm.cbup &&
	BUP_DIR=$TRASH/rm.bup bup rm "$@" >bup.out 2>bup.err
	echo $? >>bup.out
	BUP_DIR=$TRASH/rm.cbup cbup rm "$@" >cbup.out 2>cbup.err
	echo $? >>cbup.out
	test_cmp bup.out cbup.out &&
	test_cmp bup.err cbup.err &&
	git --git-dir=rm.bup show-ref >refs.bup &&
	git --git-dir=rm.cbup show-ref >refs.cbup &&
	test_cmp refs.bup refs.cbup &&
	git --git-dir=rm.cbup fsck --strict &&
	BUP_DIR=$TRASH/rm.bup bup ls -s /main /other >ls.bup 2>&1
	BUP_DIR=$TRASH/rm.cbup cbup ls -s /main /other >ls.cbup 2>&1
	test_cmp ls.bup ls.cbup
}

test_expect_success BUP 'rm: saves in the middle, at the tip, the oldest' '
	rm_cmp --unsafe -v /main/2020-09-13-082640-1 &&
	rm_cmp --unsafe -v /main/2020-09-14-121320 &&
	rm_cmp --unsafe /main/2020-09-13-082640-0 &&
	rm_cmp --unsafe -9 -v /main/2020-09-13-082640-0 /main/2020-09-14-121320
'

test_expect_success BUP 'rm: every save, a branch, and a branch with saves' '
	rm_cmp --unsafe -v /other/latest/ &&
	rm_cmp --unsafe /other &&
	rm_cmp --unsafe -v /main/2020-09-13-082640-2 /main /other/latest/ &&
	rm_cmp --unsafe -v /main/2020-09-13-082640-0 /main/2020-09-13-082640-1 \
		/main/2020-09-13-082640-2 /main/2020-09-14-121320
'

test_expect_success BUP 'rm: refusals and errors leave the refs alone' '
	rm_cmp /main &&
	rm_cmp --unsafe &&
	rm_cmp --unsafe /main/latest &&
	rm_cmp --unsafe /nope /main/2020-09-13-082640-1 &&
	rm_cmp --unsafe /main/latest/${TRASH#/}/src &&
	rm_cmp --unsafe /.tag &&
	rm_cmp --unsafe $S/a.txt/x
'

test_expect_success 'features: bup layout' '
	cbup features >out &&
	sed -n 1p out | grep -x "bup 0.33.7" &&
	sed -n 2p out | grep "^Source " &&
	grep -x "    Command line editing (e.g. bup ftp): yes" out &&
	grep -x "    Saving and restoring POSIX ACLs: yes" out &&
	grep -x "    Saving and restoring extended attributes (xattrs): yes" out &&
	test $(wc -l <out) = 6
'

test_done
