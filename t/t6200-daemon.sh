#!/bin/sh
# bup daemon and -r bup://HOST[:PORT]/PATH: a TCP connection to a daemon
# that runs `mux -- server` on it (FORMAT.md 7.4).  cbup's daemon with
# cbup's and real bup's clients, cbup's client with real bup's daemon
# (which can only listen on port 1982: its -p takes no value), a refused
# connection, garbage on the socket, and no zombie children.  Then the
# daemon's own settings (FORMAT.md 10): the connection limit, the idle
# timeout, the root that confines init-dir/set-dir, and the warning on
# an address that is not loopback.

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
	# (and so are those of start_daemon)
	for f in "$TRASH"/*.dpid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
}
trap 'stop_daemons; cleanup_trash' EXIT

# wait_for FILE PATTERN: until a line of FILE matches (5 s)
wait_for() {
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 \
		 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 \
		 41 42 43 44 45 46 47 48 49 50; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_listening FILE: until the daemon's log says it listens (5 s)
wait_listening() {
	wait_for "$1" "listening on"
}

# start_daemon NAME [VAR=VALUE...] cbup daemon ARGS...: in the
# background, its log in NAME.err and its pid in NAME.dpid (stopped at
# exit whatever happens), once it listens
start_daemon() {
	sd_name=$1 &&
	shift &&
	{ env "$@" 2>"$sd_name.err" & } &&
	echo $! >"$sd_name.dpid" &&
	wait_listening "$sd_name.err"
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
	: "the src trees: the directories above change as others use /tmp" &&
	test "$(git --git-dir=repo rev-parse "$t_local:${TRASH#/}/src")" = \
	     "$(git --git-dir=srv rev-parse "$t_remote:${TRASH#/}/src")" &&
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

test_expect_success 'CBUP_DAEMON_MAX_CONNECTIONS: one past the limit is told why and closed, the others stay; a freed slot serves again' '
	P=$(free_port) &&
	start_daemon lim CBUP_DAEMON_MAX_CONNECTIONS=2 \
		cbup daemon -l 127.0.0.1 -p "$P" &&
	python3 - "$P" "bup://127.0.0.1:$P$TRASH/srv" <<-\EOF &&
	import socket, subprocess, sys, time
	port, url = int(sys.argv[1]), sys.argv[2]
	def connect():
	    s = socket.create_connection(("127.0.0.1", port))
	    s.settimeout(10)
	    return s
	def read_all(s):
	    data = b""
	    while True:
	        b = s.recv(65536)
	        if not b:
	            return data
	        data += b
	held = [connect(), connect()]
	for s in held:
	    got = b""
	    while len(got) < 6:
	        got += s.recv(6 - len(got))
	    if got != b"BUPMUX":
	        sys.exit("a held connection is not served: %r" % got)
	extra = read_all(connect())
	if b"too many connections (2, CBUP_DAEMON_MAX_CONNECTIONS)" not in extra:
	    sys.exit("past the limit: %r" % extra)
	for s in held:
	    s.settimeout(0.5)
	    try:
	        sys.exit("a held connection got %r" % s.recv(1))
	    except socket.timeout:
	        pass
	r = subprocess.run(["cbup", "ls", "-r", url, "/"], capture_output=True)
	if r.returncode == 0 or b"too many connections" not in r.stderr:
	    sys.exit("a client past the limit: %r" % (r,))
	held[0].close()
	# (the slot frees once that server has seen the end of its input)
	for i in range(100):
	    r = subprocess.run(["cbup", "ls", "-r", url, "/s"],
	                       capture_output=True)
	    if r.returncode == 0 or b"too many connections" not in r.stderr:
	        break
	    time.sleep(0.1)
	if r.returncode != 0 or b"latest" not in r.stdout:
	    sys.exit("after a slot freed: %r" % (r,))
	EOF
	grep -c "refused connection from (.127.0.0.1., [0-9]*): 2 connections open (CBUP_DAEMON_MAX_CONNECTIONS)$" \
		lim.err >n && test "$(cat n)" -ge 2 &&
	kill "$(cat lim.dpid)"
'

test_expect_success 'CBUP_DAEMON_IDLE_TIMEOUT: a silent client is cut, logged, and its pack in progress removed' '
	P=$(free_port) &&
	: "(CBUP_THREADS=0: a received object goes into the pack at once)" &&
	start_daemon idle CBUP_DAEMON_IDLE_TIMEOUT=1 CBUP_THREADS=0 \
		cbup daemon -l 127.0.0.1 -p "$P" &&
	ls srv/objects/pack >packs.before &&
	python3 - "$P" "$TRASH/srv" <<-\EOF &&
	import glob, hashlib, socket, struct, sys, time, zlib
	port, repo = int(sys.argv[1]), sys.argv[2]
	blob = b"sent, then silence\n"
	oid = hashlib.sha1(b"blob %d\0" % len(blob) + blob).digest()
	data = bytes([0x80 | 0x30 | len(blob) & 15, len(blob) >> 4]) + \
	    zlib.compress(blob)
	frame = oid + struct.pack("!I", zlib.crc32(data)) + data
	s = socket.create_connection(("127.0.0.1", port))
	s.sendall(b"set-dir %s\nreceive-objects-v2\n" % repo.encode() +
	          struct.pack("!I", len(frame)) + frame)
	open("idle.oid", "w").write(oid.hex() + "\n")
	# the pack being written exists while the client is silent ...
	s.setblocking(False)
	saw_tmp, data = False, b""
	deadline = time.time() + 20
	while time.time() < deadline:
	    saw_tmp = saw_tmp or bool(glob.glob(repo + "/objects/pack-tmp-*"))
	    try:
	        b = s.recv(65536)
	        if not b:
	            break
	        data += b
	    except BlockingIOError:
	        time.sleep(0.02)
	else:
	    sys.exit("the silent connection is still open: %r" % data)
	if not saw_tmp:
	    sys.exit("no pack was in progress")
	msg = b"nothing received from the client for 1 second, closing the connection"
	if msg not in data:
	    sys.exit("no reason given: %r" % data)
	EOF
	wait_for idle.err "closed the connection from (.127.0.0.1., [0-9]*): nothing received for 1 second (CBUP_DAEMON_IDLE_TIMEOUT)$" &&
	: "... and is gone with it: no temporary, no pack, no object" &&
	ls srv/objects/pack >packs.after &&
	test_cmp packs.before packs.after &&
	find srv/objects -name "*tmp*" >tmps && test ! -s tmps &&
	test_must_fail git --git-dir=srv cat-file -e "$(cat idle.oid)" &&
	kill -0 "$(cat idle.dpid)"
'

test_expect_success 'CBUP_DAEMON_IDLE_TIMEOUT: a save that keeps sending for longer is not cut' '
	mkdir slow && lcg 11 3000000 >slow/big &&
	cbup index slow &&
	RI="bup://127.0.0.1:$(sed -n "s/^bup daemon: listening on 127.0.0.1://p" idle.err)$TRASH/srv" &&
	: "(at 1 MB/s the transfer lasts about 3 s)" &&
	cbup save -r "$RI" --bwlimit=1m -n slow slow &&
	cbup restore -r "$RI" -C slow.back "/slow/latest$TRASH/slow/" &&
	cmp slow/big slow.back/big &&
	grep -c "^Socket accepted connection" idle.err >n &&
	test "$(cat n)" = 3 &&
	grep -c "closed the connection" idle.err >n &&
	test "$(cat n)" = 1 &&
	kill "$(cat idle.dpid)"
'

test_expect_success 'CBUP_DAEMON_ROOT: repositories inside the root are served' '
	mkdir root outside &&
	P=$(free_port) && echo "$P" >root.port &&
	start_daemon root CBUP_DAEMON_ROOT="$TRASH/root" \
		cbup daemon -l 127.0.0.1 -p "$P" &&
	RR="bup://127.0.0.1:$P$TRASH/root" &&
	cbup init -r "$RR/r1" 2>err &&
	test -d root/r1/objects/pack &&
	cbup save -r "$RR/r1" -n s src &&
	cbup ls -r "$RR/r1" /s >ls.out && grep -q latest ls.out &&
	: "a symlink that stays inside, and .. that stays inside" &&
	ln -s r1 root/inlink &&
	cbup ls -r "$RR/inlink" /s >ls.out && grep -q latest ls.out &&
	cbup ls -r "$RR/r1/../r1" /s >ls.out && grep -q latest ls.out &&
	cbup init -r "$RR/inlink/../r2" 2>err &&
	test -d root/r2/objects/pack
'

test_expect_success 'CBUP_DAEMON_ROOT: .. and symlinks out of the root are refused, nothing is created' '
	P=$(cat root.port) &&
	RR="bup://127.0.0.1:$P$TRASH/root" &&
	ln -s "$TRASH/outside" root/link &&
	ln -s "$TRASH/srv" root/srvlink &&
	test_must_fail cbup init -r "$RR/../escaped" 2>err &&
	grep "init-dir: .$TRASH/root/../escaped. is outside CBUP_DAEMON_ROOT" err &&
	test_must_fail cbup init -r "$RR/link/r3" 2>err &&
	grep "init-dir: .$TRASH/root/link/r3. is outside CBUP_DAEMON_ROOT" err &&
	test_must_fail cbup init -r "$RR/nope/../../escaped" 2>err &&
	grep "cannot resolve .$TRASH/root/nope/../../escaped.: .\.\.. after a directory that does not exist" err &&
	test ! -e escaped && test ! -e outside/r3 && test ! -e root/nope &&
	test_must_fail cbup ls -r "$RR/../srv" /s 2>err &&
	grep "set-dir: .$TRASH/root/../srv. is outside CBUP_DAEMON_ROOT" err &&
	test_must_fail cbup ls -r "$RR/srvlink" /s 2>err &&
	grep "set-dir: .$TRASH/root/srvlink. is outside CBUP_DAEMON_ROOT" err &&
	test_must_fail cbup save -r "$RR/srvlink" -n t src 2>err &&
	grep "set-dir: .$TRASH/root/srvlink. is outside CBUP_DAEMON_ROOT" err &&
	test_must_fail git --git-dir=srv rev-parse --verify -q refs/heads/t &&
	: "a client that names no repository gets no BUP_DIR outside the root" &&
	test_must_fail cbup ls -r "bup://127.0.0.1:$P" / 2>err &&
	grep "default repository: .$TRASH/repo. is outside CBUP_DAEMON_ROOT" err
'

test_expect_success BUP 'real bup client against a daemon with a root' '
	P=$(cat root.port) &&
	RR="bup://127.0.0.1:$P$TRASH/root" &&
	BUP_DIR="$TRASH/bl" "$BUP" save -r "$RR/r1" -n bs src &&
	git --git-dir=root/r1 rev-parse --verify -q refs/heads/bs &&
	test_must_fail env BUP_DIR="$TRASH/bl" "$BUP" ls -r "$RR/srvlink" / \
		2>err &&
	grep "set-dir: .$TRASH/root/srvlink. is outside CBUP_DAEMON_ROOT" err &&
	kill "$(cat root.dpid)"
'

test_expect_success 'bad settings: the daemon does not start' '
	P=$(free_port) &&
	test_expect_code 1 env CBUP_DAEMON_MAX_CONNECTIONS=0 \
		timeout 10 cbup daemon -l 127.0.0.1 -p "$P" 2>err &&
	grep "CBUP_DAEMON_MAX_CONNECTIONS must be a whole number from 1 to 4096, not .0." err &&
	test_expect_code 1 env CBUP_DAEMON_IDLE_TIMEOUT=soon \
		timeout 10 cbup daemon -l 127.0.0.1 -p "$P" 2>err &&
	grep "CBUP_DAEMON_IDLE_TIMEOUT must be a whole number from 0 to" err &&
	test_expect_code 1 env CBUP_DAEMON_ROOT="$TRASH/no-such-dir" \
		timeout 10 cbup daemon -l 127.0.0.1 -p "$P" 2>err &&
	grep "CBUP_DAEMON_ROOT .$TRASH/no-such-dir.: No such file or directory" err
'

test_expect_success 'no WARNING on loopback; one on 0.0.0.0, naming CBUP_DAEMON_ROOT' '
	! grep WARNING daemon.err &&
	P=$(free_port) &&
	start_daemon lo cbup daemon -l localhost -p "$P" &&
	cbup ls -r "bup://127.0.0.1:$P$TRASH/srv" /s >ls.out &&
	kill "$(cat lo.dpid)" &&
	grep -q latest ls.out && ! grep WARNING lo.err &&
	: "(stopped as soon as it answered: anyone could reach it)" &&
	P=$(free_port) &&
	start_daemon any cbup daemon -l 0.0.0.0 -p "$P" &&
	cbup ls -r "bup://127.0.0.1:$P$TRASH/srv" /s >ls.out &&
	kill "$(cat any.dpid)" &&
	grep -q latest ls.out &&
	grep WARNING any.err >warn &&
	echo "WARNING: bup daemon: 0.0.0.0:$P is not a loopback address and there is no authentication or encryption: anyone who can connect can read and write every repository this user can (CBUP_DAEMON_ROOT=DIR confines them to DIR)" >expect &&
	test_cmp expect warn
'

test_done
