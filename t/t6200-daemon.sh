#!/bin/sh
# bup daemon and -r bup://HOST[:PORT]/PATH: a TCP connection to a daemon
# that runs `mux -- server` on it (FORMAT.md 7.4).  cbup's daemon with
# cbup's and real bup's clients, cbup's client with real bup's daemon
# (which can only listen on port 1982: its -p takes no value), a refused
# connection, garbage on the socket, and no zombie children.

. "$(dirname "$0")/test-lib.sh"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

DPID=
BPID=
stop_daemons() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null
	[ -n "$BPID" ] && kill "$BPID" 2>/dev/null
	# (the bup daemon is started in a test's subshell: its pid is in a
	# file, and it must not outlive a failed test, holding port 1982)
	[ -s "$TRASH/bpid" ] && kill "$(cat "$TRASH/bpid")" 2>/dev/null
	wait 2>/dev/null
}
trap 'stop_daemons; cleanup_trash' EXIT

# wait_listening FILE: until the daemon's log says it listens (5 s)
wait_listening() {
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 \
		 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 \
		 41 42 43 44 45 46 47 48 49 50; do
		grep -q "listening on" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

test_expect_success 'setup: a tree, a local repository, a daemon' '
	mkdir -p src/sub && echo hello >src/a && lcg 3 300000 >src/b &&
	printf "x\n" >"src/sub/$(printf "n\303\251w")" &&
	: "read once: later reads leave atimes alone (relatime)" &&
	cat src/a src/b src/sub/* >/dev/null && ls -laR src >/dev/null &&
	cbup init >/dev/null 2>&1 &&
	cbup index src &&
	PORT=$(free_port) && echo "$PORT" >port &&
	{ cbup daemon -l 127.0.0.1 -p "$PORT" 2>daemon.err & } &&
	DPID=$! && echo "$DPID" >dpid &&
	wait_listening daemon.err &&
	echo "bup daemon: listening on 127.0.0.1:$PORT" >expect &&
	test_cmp expect daemon.err
'
PORT=$(cat port 2>/dev/null)
DPID=$(cat dpid 2>/dev/null)
R="bup://127.0.0.1:$PORT$TRASH/srv"

test_expect_success 'init, save, ls, restore, join over bup://' '
	cbup init -r "$R" &&
	test -d srv/objects/pack &&
	cbup save -r "$R" -n s src &&
	t_local=$(cbup save -t src) &&
	t_remote=$(cbup save -t -r "$R" src) &&
	test "$t_local" = "$t_remote" &&
	cbup ls -r "$R" "/s/latest$TRASH/src" >ls.out &&
	printf "a\nb\nsub\n" >expect && test_cmp expect ls.out &&
	cbup restore -r "$R" -C out "/s/latest$TRASH/src/" &&
	diff -r src out &&
	cbup split -r "$R" -n f src/b &&
	cbup join -r "$R" f >joined && cmp src/b joined &&
	git --git-dir=srv fsck --strict &&
	grep -c "^Socket accepted connection from ('"'"'127.0.0.1'"'"', [0-9]*)$" \
		daemon.err >n && test "$(cat n)" -ge 6
'

test_expect_success 'a refused connection: clear error, no crash' '
	p=$(free_port) &&
	test_expect_code 1 cbup ls -r "bup://127.0.0.1:$p/x" / 2>err &&
	grep "cannot connect to bup://127.0.0.1:$p: Connection refused" err
'

test_expect_success 'garbage on the socket: that connection ends, the daemon serves on' '
	python3 - "$PORT" <<-\EOF &&
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(b"no-such-command\n" + b"\xff" * 5000)
	s.shutdown(socket.SHUT_WR)
	while s.recv(65536):
	    pass
	EOF
	cbup ls -r "$R" /s >out2 && grep -q latest out2 &&
	kill -0 "$DPID"
'

test_expect_success 'finished connections are reaped' '
	sleep 0.5 && cbup ls -r "$R" / >/dev/null &&
	sleep 0.5 &&
	kill -0 "$DPID" &&
	# (ps exits 1 when the daemon has no child at all)
	{ ps -o stat= --ppid "$DPID" >kids || test ! -s kids; } &&
	! grep Z kids
'

test_expect_success BUP 'real bup client against the cbup daemon' '
	BUP_DIR="$TRASH/bl" "$BUP" init >/dev/null 2>&1 &&
	BUP_DIR="$TRASH/bl" "$BUP" index src &&
	BUP_DIR="$TRASH/bl" "$BUP" save -r "$R" -n bs src &&
	BUP_DIR="$TRASH/bl" "$BUP" join -r "$R" f >bjoined &&
	cmp src/b bjoined &&
	: "the saved src trees (the trash directory around them changed)" &&
	tb=$(git --git-dir=srv rev-parse "bs:${TRASH#/}/src") &&
	tc=$(git --git-dir=srv rev-parse "s:${TRASH#/}/src") &&
	test "$tb" = "$tc" &&
	git --git-dir=srv fsck --strict
'

# real bup's daemon listens on port 1982 only (its -p takes no value)
test_declare_prereq PORT1982
if python3 -c "import socket; socket.socket().bind((\"127.0.0.1\", 1982))" \
	2>/dev/null; then
	test_set_prereq PORT1982
fi

test_expect_success BUP,PORT1982 'cbup client against the real bup daemon' '
	{ "$BUP" daemon 2>bdaemon.err & } &&
	BPID=$! && echo "$BPID" >bpid &&
	wait_listening bdaemon.err &&
	RB="bup://127.0.0.1$TRASH/srvb" &&
	cbup init -r "$RB" 2>/dev/null &&
	cbup save -r "$RB" -n s src &&
	cbup restore -r "$RB" -C outb "/s/latest$TRASH/src/" &&
	diff -r src outb &&
	test "$(git --git-dir=srvb rev-parse "s:${TRASH#/}/src")" = \
	     "$(git --git-dir=srv rev-parse "s:${TRASH#/}/src")" &&
	git --git-dir=srvb fsck --strict &&
	kill "$BPID"
'

test_done
