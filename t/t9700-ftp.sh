#!/bin/sh
# cbup ftp against real bup 0.33.7 on the same repositories (one saved by
# cbup, one by bup): the same command scripts, given as arguments and on
# stdin, with the same stdout, stderr and exit status; files written by
# get and mget byte for byte.  Where bup dies of a Python exception (an
# empty path, an unknown command) only stdout and the status are
# compared, and cbup's one-line message is checked.  The terminal mode
# runs under a pseudo-terminal: prompt, a completed path, quit.
. "$(dirname "$0")/test-lib.sh"

# ftp_both NAME REPO ARGS...: bup ftp and cbup ftp, each in its own
# directory NAME.bup / NAME.cbup, stdin from ./script when no ARGS.
ftp_both() {
	n=$1 repo_=$2 && shift 2 &&
	rm -rf "$n.bup" "$n.cbup" && mkdir "$n.bup" "$n.cbup" &&
	(cd "$n.bup" && BUP_DIR=$repo_ record_rc ../$n.bup.rc bup ftp "$@" \
		<../script >../$n.bup.out 2>../$n.bup.err) &&
	(cd "$n.cbup" && BUP_DIR=$repo_ record_rc ../$n.cbup.rc cbup ftp "$@" \
		<../script >../$n.cbup.out 2>../$n.cbup.err) &&
	test_cmp $n.bup.rc $n.cbup.rc &&
	test_cmp $n.bup.out $n.cbup.out &&
	diff -r "$n.bup" "$n.cbup"
}

test_expect_success BUP 'set up a tree saved by bup and by cbup' '
	mkdir -p src/dir "src/sp ace" &&
	echo excitement >src/file-1 &&
	echo more >src/dir/file-2 &&
	ln -s file-1 src/file-symlink &&
	ln -s dir src/dir-symlink &&
	ln -s not-there src/bad-symlink &&
	printf x >"src/$(printf "bad\377name")" &&
	echo q >"src/sp ace/it'\''s \"q\"" &&
	lcg 7 3000000 >src/big &&
	BUP_DIR=$TRASH/b bup init >/dev/null 2>&1 &&
	BUP_DIR=$TRASH/b bup index src >/dev/null &&
	BUP_DIR=$TRASH/b bup save -n src --strip src 2>/dev/null &&
	BUP_DIR=$TRASH/c cbup init >/dev/null 2>&1 &&
	BUP_DIR=$TRASH/c cbup index src >/dev/null &&
	BUP_DIR=$TRASH/c cbup save -n src --strip src 2>/dev/null &&
	git --git-dir=b ls-tree -r src >tree &&
	grep "	big.bup/" tree
'

test_expect_success BUP 'a session on stdin: every command, errors included' '
	cat >script <<-\EOS &&
	pwd
	cd src/latest/file-1
	cd /nope
	cd src/latest/sp\ ace
	pwd
	ls
	ls -l
	cat "it'\''s \"q\""
	cd ..
	ls -A
	ls -s -F
	ls x y
	mget ./file-*
	mget d*/*
	get file-symlink got
	mget ../../src/latest/dir-symlink/file-2
	cd /src/latest/bad-symlink
	cat dir/file-2 nope file-1
	get nope
	get
	get a b c
	help
	?
	  
	ls -z
	LS --file-type
	ls -h
	quit
	pwd
	EOS
	for r in b c; do
		ftp_both s$r $TRASH/$r &&
		test_cmp s$r.bup.err s$r.cbup.err || return 1
	done &&
	grep "^error: path is not a directory: src/latest/file-1$" sc.cbup.out &&
	grep "^Saving got$" sc.cbup.err
'

test_expect_success BUP 'the same commands as arguments' '
	: >script &&
	for r in b c; do
		ftp_both a$r $TRASH/$r pwd "cd src/latest/dir-symlink" pwd ls \
			"cd ../sp ace" "cat \"it'\''s \\\"q\\\"\"" "cd /x" help \
			quit pwd &&
		test_cmp a$r.bup.err a$r.cbup.err || return 1
	done &&
	grep "^error: path does not exist: /x$" ac.cbup.out
'

test_expect_success BUP 'chunked files: cat and get byte for byte' '
	: >script &&
	for r in b c; do
		ftp_both c$r $TRASH/$r "cat src/latest/big" \
			"get src/latest/big big" "mget src/latest/b?g" &&
		test_cmp src/big c$r.cbup/big &&
		cat src/big src/big >expect &&
		cat c$r.cbup.out c$r.cbup/big >actual &&
		test_cmp expect actual || return 1
	done
'

test_expect_success BUP 'non-UTF-8 names and mget globs' '
	: >script &&
	ftp_both n $TRASH/c "cd src/latest" "ls -l" "mget ./bad?name ./[f]ile-[0-9]" \
		"mget ./*-symlink" "get bad$(printf "\377")name" &&
	test_cmp n.bup.err n.cbup.err &&
	test -f n.cbup/file-1 &&
	grep "Saving bad\\\\xffname" n.cbup.err
'

test_expect_success BUP 'what kills bup ends cbup with status 1 too' '
	printf "pwd\nfrob\npwd\n" >script &&
	ftp_both k1 $TRASH/c &&
	grep "^error: no such command: frob$" k1.cbup.err &&
	printf "cd src/latest\nmget file-*\npwd\n" >script &&
	ftp_both k2 $TRASH/c &&
	grep "^error: cannot resolve an empty path$" k2.cbup.err &&
	printf "cat src/latest/dir\npwd\n" >script &&
	ftp_both k3 $TRASH/c &&
	grep "is not a regular file" k3.cbup.err &&
	echo 1 >expect &&
	test_cmp expect k3.cbup.rc
'

test_expect_success BUP 'usage' '
	: >script &&
	ftp_both u $TRASH/c -h &&
	test_cmp u.bup.err u.cbup.err &&
	grep "^usage: bup ftp" u.cbup.err
'

# The terminal session: bup and cbup under a pseudo-terminal (TERM=dumb,
# so that readline sends no escape sequences), the same keys, the same
# transcript.  The deadline only keeps a broken build from hanging.
test_expect_success PYTHON,BUP 'terminal: prompt, tab completion, quit' '
	cat >term.py <<-\EOS &&
	import os, pty, select, sys, time
	pid, fd = pty.fork()
	if pid == 0:
	    os.environ["TERM"] = "dumb"
	    os.execvp(sys.argv[1], [sys.argv[1], "ftp"])
	out = b""
	def read_until(s, n=1):
	    global out
	    deadline = time.time() + 60
	    while out.count(s) < n and time.time() < deadline:
	        if select.select([fd], [], [], 1)[0]:
	            try:
	                d = os.read(fd, 4096)
	            except OSError:
	                return
	            if not d:
	                return
	            out += d
	read_until(b"bup /> ")
	os.write(fd, b"ls src/\t\n")
	read_until(b"bup /> ", 2)
	os.write(fd, b"cd sr\t\n")
	read_until(b"bup /> ", 3)
	os.write(fd, b"pwd\n")
	read_until(b"bup /> ", 4)
	os.write(fd, b"cat latest/dir/file-2\n")
	read_until(b"bup /> ", 5)
	os.write(fd, b"ls \x27sr\t\n")
	read_until(b"bup /> ", 6)
	os.write(fd, b"ls \"\t\n")
	read_until(b"bup /> ", 7)
	os.write(fd, b"quit\n")
	read_until(b"never printed")
	_, st = os.waitpid(pid, 0)
	sys.stdout.buffer.write(out)
	sys.exit(os.waitstatus_to_exitcode(st))
	EOS
	BUP_DIR=$TRASH/c python3 term.py bup >term.bup &&
	BUP_DIR=$TRASH/c python3 term.py cbup >term.cbup &&
	test_cmp term.bup term.cbup &&
	grep "bup /> cd src/ " term.cbup &&
	grep "^/src" term.cbup &&
	grep "^more" term.cbup &&
	grep "bup /> ls src/[0-9-]*/ " term.cbup &&
	grep "file-symlink" term.cbup &&
	grep "bup /> ls .src/ " term.cbup &&
	grep "bup /> quit" term.cbup
'

test_done
