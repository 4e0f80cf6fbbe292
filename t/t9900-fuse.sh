#!/bin/sh
# cbup fuse: a repository saved by cbup, mounted, against `cbup restore`
# of the same save (every file's bytes, and with --meta the mode, owner,
# mtime and size of everything) and against real `bup fuse` (bup 0.33.7's
# stat fields with and without --meta, and its errors for writes) where
# bup's fuse works here; a large file read at random offsets and by two
# readers at once; latest and .tag; symlinks; a damaged chunk giving EIO
# for its file only while the mount stays up; and clean ends (fusermount
# -u, SIGTERM: exit status 0, mount point empty).
#
# Mounting needs /dev/fuse and the right to mount: root (libfuse3 calls
# mount(2) itself) or the fuse3 package's fusermount3.  Without them the
# whole script is skipped.  CBUP_TEST_FUSE_BIG_MB sizes the large file
# (300 MiB, 64 under the sanitizers).
. "$(dirname "$0")/test-lib.sh"

test_declare_prereq FUSE BUPFUSE
if [ -c /dev/fuse ] && [ -r /dev/fuse ] && [ -w /dev/fuse ] &&
   grep -qw fuse /proc/filesystems &&
   { [ "$(id -u)" = 0 ] || command -v fusermount3 >/dev/null; } &&
   command -v fusermount >/dev/null && command -v mountpoint >/dev/null
then
	test_set_prereq FUSE
fi
test_skip_all_unless FUSE

case "$CBUP_BUILD" in
*-san) big_mb=${CBUP_TEST_FUSE_BIG_MB:-64} ;;
*) big_mb=${CBUP_TEST_FUSE_BIG_MB:-300} ;;
esac

# start_fuse MNT CMD...: CMD (a fuse server, in the foreground) on MNT in
# the background; its pid goes to MNT.pid, its exit status to MNT.rc
# when it ends, its stderr to MNT.err.  Waits (10 s at most) for the
# mount.
start_fuse() {
	m=$1; shift
	mkdir -p "$m" && rm -f "$m.rc" "$m.pid" &&
	( sh -c 'echo $$ >"$0.pid" && exec "$@"' "$m" "$@" "$m" \
		</dev/null >"$m.out" 2>"$m.err"
	  echo $? >"$m.rc" ) >/dev/null 2>&1 &
	i=0
	while ! mountpoint -q "$m"; do
		[ -f "$m.rc" ] && { cat "$m.err" >&2; return 1; }
		[ $i -ge 100 ] && { echo >&2 "$m: not mounted"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
}

# wait_end MNT: the server of MNT has ended (10 s at most); 0 if it
# exited 0.
wait_end() {
	i=0
	while [ ! -s "$1.rc" ]; do
		[ $i -ge 100 ] && { echo >&2 "$1: server still running"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	echo 0 >"$1.rc-want" && test_cmp "$1.rc-want" "$1.rc"
}

stop_fuse() {
	fusermount -u "$1" && wait_end "$1"
}

# Every mount below the trash directory, from the kernel's list: a case
# runs in a subshell, so what start_fuse notes there is lost, and a
# dead server's mount fails stat (ENOTCONN) for mountpoint(1).
cleanup_mounts() {
	for m in $(awk -v t="$TRASH/" 'index($2, t) == 1 { print $2 }' \
			/proc/self/mounts); do
		fusermount -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
}
trap 'cleanup_mounts; cleanup_trash' EXIT

# Is real bup's fuse usable here (python3-fuse, fusermount)?  Probed on
# an empty repository, outside the cases: it is the oracle, not under
# test.
if [ -n "$BUP" ] && BUP_DIR=$TRASH/probe bup init >/dev/null 2>&1 &&
   BUP_DIR=$TRASH/probe start_fuse probe-mnt bup fuse -f 2>/dev/null &&
   stop_fuse probe-mnt 2>/dev/null
then
	test_set_prereq BUPFUSE
fi

test_line_count_() {
	[ "$(wc -l <"$2")" = "$1" ] || { cat "$2" >&2; return 1; }
}

# stat_lines DIR: "name mode uid gid size nlink atime mtime ctime blocks"
# for everything below DIR, sorted.
stat_lines() {
	(cd "$1" && find . -mindepth 1 -print0 | sort -z |
		xargs -0 stat -c '%n %f %u %g %s %h %X %Y %Z %b')
}

test_expect_success 'setup: a tree of every kind saved by cbup, restored' '
	mkdir -p src/dir/deeper "src/sp ace" src/empty-dir &&
	echo content >src/plain &&
	printf "" >src/empty &&
	echo secret >src/private && chmod 600 src/private &&
	printf "#!/bin/sh\n" >src/exec && chmod 755 src/exec &&
	echo owned >src/owned && chown 1234:5678 src/owned &&
	echo deep >src/dir/deeper/f &&
	echo spaced >"src/sp ace/a b" &&
	echo old >src/pre-epoch && touch -t 196907202018 src/pre-epoch &&
	touch -t 201111111111 src/plain &&
	ln -s plain src/link &&
	ln -s dir src/dirlink &&
	ln -s nowhere src/dangling &&
	lcg 3 2000000 >src/medium &&
	head -c $((big_mb * 1048576)) /dev/urandom >src/big &&
	cbup init >/dev/null 2>&1 &&
	cbup index src >/dev/null &&
	cbup save -n src --strip src 2>/dev/null &&
	echo changed >src/plain &&
	touch -t 201212121212 src/plain &&
	cbup index src >/dev/null &&
	cbup save -n src --strip src 2>/dev/null &&
	cbup tag t1 src &&
	cbup ls /src >saves &&
	test_line_count_ 3 saves &&
	cbup restore -C restored /src/latest/ 2>/dev/null &&
	cmp src/big restored/big &&
	git --git-dir=repo ls-tree -r src >tree &&
	grep "	big.bup/" tree
'

test_expect_success 'usage errors are bup'"'"'s' '
	record_rc c.rc cbup fuse 2>c.err &&
	echo 97 >want.rc &&
	test_cmp want.rc c.rc &&
	grep "^error: only one mount point argument expected" c.err &&
	record_rc c2.rc cbup fuse a b 2>c2.err &&
	test_cmp want.rc c2.rc &&
	grep "^error: only one mount point argument expected" c2.err
'

test_expect_success 'mount: branches, saves, latest and .tag' '
	start_fuse mnt cbup fuse -f &&
	ls -a mnt >root &&
	printf ".\n..\n.tag\nsrc\n" >want &&
	test_cmp want root &&
	ls mnt/src >branch &&
	sort saves >want &&
	test_cmp want branch &&
	readlink mnt/src/latest >latest &&
	grep -v latest saves | tail -n 1 >want &&
	test_cmp want latest &&
	ls mnt/.tag >tags &&
	echo t1 >want &&
	test_cmp want tags &&
	cmp mnt/.tag/t1/plain src/plain &&
	cmp mnt/src/latest/plain src/plain &&
	first=$(head -n 1 saves) &&
	echo content >want &&
	cmp "mnt/src/$first/plain" want
'

# random_offsets SIZE: "offset length" lines, 40 fixed pseudo-random
# ones, the end (past it) and the start
random_offsets() {
	awk -v size="$1" 'BEGIN {
		srand(7)
		for (i = 0; i < 40; i++) {
			o = int(rand() * size); n = 1 + int(rand() * 300000)
			print o, n
		}
		print size - 10, 100
		print 0, 1
	}'
}

test_expect_success 'a large file read at random offsets' '
	random_offsets $((big_mb * 1048576)) >offsets &&
	test_line_count_ 42 offsets &&
	while read o n
	do
		dd if=mnt/src/latest/big iflag=skip_bytes,count_bytes \
			skip=$o count=$n bs=65536 status=none >got &&
		dd if=src/big iflag=skip_bytes,count_bytes \
			skip=$o count=$n bs=65536 status=none >want &&
		cmp want got || return 1
	done <offsets
'

# two readers at once: one over the whole file, one from its middle
parallel_read() {
	half=$(( $(stat -c %s src/big) / 2 ))
	( cmp mnt/src/latest/big src/big; echo $? >rc1 ) &
	( tail -c +$((half + 1)) mnt/src/latest/big >tail-got; echo $? >rc2 ) &
	( cmp mnt/src/latest/medium src/medium; echo $? >rc3 ) &
	wait
	echo 0 >rc-want &&
	test_cmp rc-want rc1 && test_cmp rc-want rc2 && test_cmp rc-want rc3 &&
	tail -c +$((half + 1)) src/big | cmp - tail-got
}

test_expect_success 'two readers at once' '
	parallel_read
'

test_expect_success 'every file as restore writes it' '
	(cd restored && find . -mindepth 1 | sort) >want &&
	(cd mnt/src/latest/ && find . -mindepth 1 | sort) >got &&
	test_cmp want got &&
	(cd restored && find . -type f) >files &&
	while read f
	do
		cmp "restored/$f" "mnt/src/latest/$f" || return 1
	done <files &&
	(cd restored && find . -type l) >links &&
	while read f
	do
		echo "$(readlink "restored/$f")" >want &&
		echo "$(readlink "mnt/src/latest/$f")" >got &&
		test_cmp want got || return 1
	done <links &&
	cmp mnt/src/latest/link src/plain &&
	cmp mnt/src/latest/dirlink/deeper/f src/dir/deeper/f &&
	test_must_fail cat mnt/src/latest/dangling 2>err &&
	grep "No such file" err
'

test_expect_success 'without --meta: bup'"'"'s defaults' '
	(cd mnt/src/latest/ && find . -mindepth 1 -print0 | sort -z |
		xargs -0 stat -c "%n %A %u %g %h %X %Y %Z") >got &&
	(cd restored && find . -mindepth 1 -print0 | sort -z |
		xargs -0 stat -c "%n %F") >types &&
	sed -e "s/ regular empty file$/ -rw-r--r--/" \
	    -e "s/ regular file$/ -rw-r--r--/" \
	    -e "s/ directory$/ drwxr-xr-x/" \
	    -e "s/ symbolic link$/ lrwxr-xr-x/" \
	    -e "s/$/ 0 0 1 0 0 0/" types >want &&
	test_cmp want got &&
	(cd restored && find . -mindepth 1 ! -type d -print0 | sort -z |
		xargs -0 stat -c "%n %s") >want &&
	(cd mnt/src/latest/ && find . -mindepth 1 ! -type d -print0 |
		sort -z | xargs -0 stat -c "%n %s") >got &&
	test_cmp want got
'

test_expect_success 'writes fail as bup'"'"'s do' '
	test_must_fail touch mnt/src/latest/new 2>err &&
	grep "Function not implemented" err &&
	test_must_fail sh -c "echo x >>mnt/src/latest/plain" 2>err &&
	grep "Permission denied" err &&
	test_must_fail mkdir mnt/src/latest/d 2>err &&
	grep "Function not implemented" err &&
	test_must_fail rm mnt/src/latest/plain 2>err &&
	grep "Function not implemented" err &&
	cmp mnt/src/latest/plain src/plain
'

test_expect_success BUPFUSE 'without --meta: the same stat fields as bup fuse' '
	start_fuse bmnt bup fuse -f &&
	stat_lines bmnt/src/latest/ >want &&
	stat_lines mnt/src/latest/ >got &&
	test_cmp want got &&
	ls -a bmnt/src >want &&
	ls -a mnt/src >got &&
	test_cmp want got &&
	stat -c "%n %f %s %h %Y" bmnt bmnt/src bmnt/src/latest bmnt/.tag \
		| sed "s/^bmnt/mnt/" >want &&
	stat -c "%n %f %s %h %Y" mnt mnt/src mnt/src/latest mnt/.tag >got &&
	test_cmp want got &&
	stop_fuse bmnt
'

test_expect_success 'a clean unmount: status 0, mount point empty' '
	stop_fuse mnt &&
	ls -A mnt >left &&
	test_line_count_ 0 left
'

test_expect_success 'with --meta: mode, owner, mtime and size as restored' '
	start_fuse mmnt cbup fuse -f --meta &&
	(cd restored && find . -mindepth 1 ! -name pre-epoch -print0 |
		sort -z | xargs -0 stat -c "%n %f %u %g %Y") >want &&
	(cd mmnt/src/latest/ && find . -mindepth 1 ! -name pre-epoch -print0 |
		sort -z | xargs -0 stat -c "%n %f %u %g %Y") >got &&
	test_cmp want got &&
	(cd restored && find . -mindepth 1 ! -type d -print0 | sort -z |
		xargs -0 stat -c "%n %s") >want &&
	(cd mmnt/src/latest/ && find . -mindepth 1 ! -type d -print0 |
		sort -z | xargs -0 stat -c "%n %s") >got &&
	test_cmp want got &&
	stat -c "%U %G" mmnt/src/latest/owned >got &&
	stat -c "%U %G" restored/owned >want &&
	test_cmp want got &&
	echo 0 >want &&
	stat -c %Y mmnt/src/latest/pre-epoch >got &&
	test_cmp want got
'

test_expect_success BUPFUSE 'with --meta: the same stat fields as bup fuse --meta' '
	start_fuse bmmnt bup fuse -f --meta &&
	stat_lines bmmnt/src/latest/ >want &&
	stat_lines mmnt/src/latest/ >got &&
	test_cmp want got &&
	stop_fuse bmmnt
'

test_expect_success 'SIGTERM ends the server cleanly' '
	kill -TERM "$(cat mmnt.pid)" &&
	wait_end mmnt &&
	! mountpoint -q mmnt &&
	ls -A mmnt >left &&
	test_line_count_ 0 left
'

test_expect_success 'a damaged chunk: EIO for its file, the rest reads on' '
	mkdir dsrc &&
	head -c 400000 /dev/urandom >dsrc/victim &&
	echo fine >dsrc/fine &&
	BUP_DIR=$TRASH/drepo cbup init >/dev/null 2>&1 &&
	BUP_DIR=$TRASH/drepo cbup index dsrc >/dev/null &&
	BUP_DIR=$TRASH/drepo cbup save -n d --strip dsrc 2>/dev/null &&
	git --git-dir=drepo ls-tree -r d >dtree &&
	blob=$(sed -n "s/^100644 blob \([0-9a-f]*\)	victim.bup\/.*/\1/p" dtree |
		sed -n 3p) &&
	test -n "$blob" &&
	idx=$(ls drepo/objects/pack/*.idx) &&
	ofs=$(git show-index <"$idx" | sed -n "s/^\([0-9]*\) $blob .*/\1/p") &&
	test -n "$ofs" &&
	"$CBUP_BUILD/test-tool" corrupt "${idx%.idx}.pack" $((ofs + 40)) &&
	BUP_DIR=$TRASH/drepo start_fuse dmnt cbup fuse -f &&
	test_must_fail cat dmnt/d/latest/victim >/dev/null 2>err &&
	grep "Input/output error" err &&
	grep "victim" dmnt.err &&
	cmp dmnt/d/latest/fine dsrc/fine &&
	test_must_fail cat dmnt/d/latest/victim >/dev/null 2>err &&
	grep "Input/output error" err &&
	mountpoint -q dmnt &&
	test ! -s dmnt.rc &&
	stop_fuse dmnt
'

test_done
