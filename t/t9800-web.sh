#!/bin/sh
# cbup web beside real bup web (0.33.7, tornado) on one repository saved
# by cbup: the same directory pages byte for byte, the same redirects,
# 404s, file headers and "Serving HTTP on" lines; files byte for byte
# against cbup restore and git cat-file; what bup lacks (Range, ?tar=1,
# ?json=1) against restore and python's json; then hostile input (path
# traversal, NUL, malformed requests over a raw socket), a burst of
# parallel requests, a corrupt object (a 500, the server stays up),
# unix:// with curl --unix-socket, a headless chromium, SIGTERM, and a
# missing libmicrohttpd.
. "$(dirname "$0")/test-lib.sh"

test_skip_all_unless BUP,PYTHON,GIT,CURL,TORNADO

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_servers() {
	for f in "$TRASH"/*.wpid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
}
trap 'stop_servers; cleanup_trash' EXIT

# wait_for FILE PATTERN: until a line of FILE matches (10 s)
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# serve NAME REPO CMD ARGS...: a web server in the background, its
# stdout in NAME.out, stderr in NAME.err, pid in NAME.wpid (killed at
# exit), once it says it serves
serve() {
	sv_name=$1 sv_repo=$2 &&
	shift 2 &&
	{ BUP_DIR=$sv_repo "$@" >"$sv_name.out" 2>"$sv_name.err" </dev/null & } &&
	echo $! >"$sv_name.wpid" &&
	wait_for "$sv_name.out" "^Serving HTTP on"
}

# get BASE PATH OUT: body to OUT, "STATUS" and the headers bup and cbup
# both send (lower-cased, sorted) to OUT.h
get() {
	curl -sS --path-as-is -D "$3.raw" -o "$3" "$1$2" &&
	sed -n "1s/^HTTP\/1.1 \([0-9]*\).*/\1/p" "$3.raw" >"$3.h" &&
	tr -d '\r' <"$3.raw" | tr 'A-Z' 'a-z' |
		grep -E '^(content-type|content-length|location|last-modified|etag):' |
		sort >>"$3.h"
}

test_expect_success 'setup: a tree saved by cbup, cbup web and bup web on it' '
	mkdir -p src/sub src/.hid src/deep &&
	echo "¡excitement!" >src/data &&
	echo hi >src/a.txt &&
	echo x >"src/a&<b>\"q'\''.html" &&
	echo h >src/.hid/x &&
	: >src/.dotfile &&
	ln -s data src/link &&
	ln -s nowhere src/broken &&
	lcg 3 700000 >src/sub/big &&
	long=d123456789012345678901234567890123456789 &&
	mkdir -p "src/deep/$long/$long/$long" &&
	echo deep >"src/deep/$long/$long/$long/file-with-a-long-name-$long" &&
	chmod 640 src/a.txt &&
	touch -d "2020-02-02 02:02:02" src/data src/sub &&
	cbup init >/dev/null 2>&1 &&
	cbup index src >/dev/null &&
	cbup save -n src --strip src &&
	W=$(free_port) && B=$(free_port) &&
	echo "http://127.0.0.1:$W" >cbase && echo "http://127.0.0.1:$B" >bbase &&
	serve c "$BUP_DIR" cbup web --human-readable "127.0.0.1:$W" &&
	serve b "$BUP_DIR" bup web --human-readable "127.0.0.1:$B" &&
	echo "Serving HTTP on 127.0.0.1:$W..." >expect &&
	test_cmp expect c.out
'
C=$(cat cbase 2>/dev/null)
BB=$(cat bbase 2>/dev/null)

test_expect_success 'directory pages: byte for byte those of bup web' '
	for p in / /src/ /src/latest/ "/src/latest/?hidden=1" \
		 "/src/latest/?hidden=0" "/src/latest/?hidden=x" \
		 /src/latest/sub/ /src/latest/.hid/ /.tag/ \
		 "/src/latest/sub/?hidden=1&hidden=0"; do
		get "$BB" "$p" b.page && get "$C" "$p" c.page &&
		test_cmp b.page c.page && test_cmp b.page.h c.page.h &&
		grep -q "^200" c.page.h || return 1
	done &&
	get "$C" /src/latest/ c.page &&
	grep -q "<a href=\"a%26%3Cb%3E%22q%27.html\">a&amp;&lt;b&gt;&quot;q&#39;.html</a>" c.page
'

test_expect_success 'redirects, 404s and the stylesheet as bup web' '
	for p in /src /src/latest /src/latest/sub /src/latest/nope \
		 /src/latest/broken /nope/ /static/styles.css /src/latest/link; do
		get "$BB" "$p" b.r && get "$C" "$p" c.r &&
		grep -v "^last-modified: .* gmt" b.r.h >b.r.h2 &&
		grep -v "^last-modified: .* gmt" c.r.h >c.r.h2 &&
		test_cmp b.r c.r && test_cmp b.r.h2 c.r.h2 || return 1
	done &&
	: "tornado answers these with a traceback (debug mode): status only" &&
	for p in /static/nope /favicon.ico /robots.txt; do
		get "$BB" "$p" b.r && get "$C" "$p" c.r &&
		grep -q "^404" b.r.h && grep -q "^404" c.r.h || return 1
	done &&
	get "$C" /src/latest/nope c.r && grep -q "^404" c.r.h &&
	grep -q "Handling request for b'\''/src/latest/nope'\''" c.out &&
	grep -q "Redirecting from /src/latest/sub to /src/latest/sub/" c.out
'

test_expect_success 'files: bup headers, bytes as restore and git cat-file' '
	cbup restore -C r /src/latest/ &&
	for f in a.txt data sub/big "a&<b>\"q'\''.html" .hid/x link; do
		q=$(printf "%s" "$f" | python3 -c "import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.buffer.read()))") &&
		get "$BB" "/src/latest/$q" b.f && get "$C" "/src/latest/$q" c.f &&
		test_cmp b.f.h c.f.h && cmp "r/$f" c.f || return 1
	done &&
	git --git-dir="$BUP_DIR" rev-parse src:a.txt >oid &&
	git --git-dir="$BUP_DIR" cat-file blob "$(cat oid)" >expect &&
	get "$C" /src/latest/a.txt c.f && cmp expect c.f &&
	grep -q "^etag: $(cat oid)" c.f.h
'

test_expect_success 'Range: first bytes, middle, suffix, open end, 416' '
	F=/src/latest/sub/big &&
	cp r/sub/big big &&
	curl -sS -r 0-99 -D h "$C$F" >got && head -c 100 big >want &&
	cmp want got && grep -q "^HTTP/1.1 206" h &&
	grep -q "Content-Range: bytes 0-99/700000" h &&
	curl -sS -r 300000-499999 "$C$F" >got &&
	tail -c +300001 big | head -c 200000 >want && cmp want got &&
	curl -sS -r -1234 "$C$F" >got && tail -c 1234 big >want &&
	cmp want got &&
	curl -sS -r 699990- "$C$F" >got && tail -c 10 big >want &&
	cmp want got &&
	curl -sS -r 700000- -D h -o /dev/null "$C$F" &&
	grep -q "^HTTP/1.1 416" h && grep -q "Content-Range: bytes \*/700000" h &&
	for r in "1 1" "8191 8192" "65535 131072" "123457 654321" \
		 "699999 699999"; do
		set -- $r &&
		curl -sS -r "$1-$2" "$C$F" >got &&
		tail -c +$(($1 + 1)) big | head -c $(($2 - $1 + 1)) >want &&
		cmp want got || return 1
	done &&
	curl -sS -r 2-5 "$C/src/latest/a.txt" >got &&
	tail -c +3 r/a.txt | head -c 4 >want && cmp want got
'

test_expect_success '?tar=1: a ustar stream that extracts to the restore' '
	curl -sS -D h -o src.tar "$C/src/latest/?tar=1" &&
	grep -q "Content-Type: application/x-tar" h &&
	tar -tvf src.tar >listing &&
	grep -q "file-with-a-long-name" listing &&
	mkdir x && tar -xf src.tar -C x &&
	cbup restore -C rr /src/latest &&
	diff -r --no-dereference rr/latest x/latest &&
	(cd rr && find . -exec stat -c "%n %A %Y %s" {} + | sort) >want &&
	(cd x && find . -exec stat -c "%n %A %Y %s" {} + | sort) >got &&
	grep -v "^\. " want >want2 && grep -v "^\. " got >got2 &&
	test_cmp want2 got2 &&
	test "$(stat -c %a x/latest/a.txt)" = 640 &&
	test "$(readlink x/latest/broken)" = nowhere
'

test_expect_success '?json=1: names, types, sizes, modes, mtimes, ids' '
	curl -sS -D h "$C/src/latest/?json=1" >l.json &&
	grep -q "Content-Type: application/json" h &&
	python3 -c "
import json, sys
d = json.load(open(\"l.json\"))
e = {x[\"name\"]: x for x in d[\"entries\"]}
assert d[\"path\"] == \"/src/latest/\", d
assert e[\"sub\"][\"type\"] == \"dir\"
assert e[\"link\"][\"type\"] == \"symlink\" and e[\"link\"][\"size\"] == 4
assert e[\"a.txt\"][\"size\"] == 3 and e[\"a.txt\"][\"mode\"] == 0o100640
assert e[\"data\"][\"mtime\"] == int(sys.argv[1]), e[\"data\"]
assert e[\"a.txt\"][\"oid\"] == sys.argv[2]
assert \".hid\" in e and \".dotfile\" in e
print(sorted(e))
" "$(stat -c %Y src/data)" "$(cat oid)" >names &&
	grep -q "a&<b>" names
'

test_expect_success 'paths outside the VFS: 404 or 400, never a file' '
	for p in /../../../../etc/passwd /%2e%2e/%2e%2e/%2e%2e/etc/passwd \
		 /src/latest/%2E%2E/%2e%2e/%2e%2e/%2e%2e/etc/passwd \
		 "/src/latest/..%2f..%2f..%2f..%2fetc/passwd"; do
		get "$C" "$p" t && grep -q "^404" t.h &&
		! grep -q "root:" t || return 1
	done &&
	get "$C" /src/latest/a%00.txt t && grep -q "^400" t.h &&
	get "$C" "/%2e%2e/src/latest/a.txt" t && grep -q "^200" t.h &&
	echo hi >want && cmp want t
'

test_expect_success 'a burst of 200 parallel requests, all correct' '
	get "$C" /src/latest/ page && get "$C" /src/latest/sub/big file &&
	sha256sum <page >page.sum && sha256sum <file >file.sum &&
	i=0 && : >urls &&
	while [ $i -lt 100 ]; do
		echo "page $C/src/latest/" >>urls &&
		echo "file $C/src/latest/sub/big" >>urls &&
		i=$((i + 1)) || return 1
	done &&
	xargs -P 16 -L 1 sh -c "curl -sS --fail \"\$1\" | sha256sum | cmp - \"\$0.sum\" && echo ok" <urls >oks &&
	test "$(grep -c ok oks)" = 200
'

test_expect_success 'malformed requests over a raw socket; then it still answers' '
	python3 -c "
import socket, sys
port = int(sys.argv[1])
def talk(data, wait=True):
    s = socket.create_connection((\"127.0.0.1\", port), timeout=3)
    try:
        s.sendall(data)
        if not wait:
            s.close()
            return b\"(closed)\"
        s.shutdown(socket.SHUT_WR)
        out = b\"\"
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        out = b\"(no answer yet)\"
    except OSError:
        out = b\"(reset)\"
    s.close()
    return out
print(talk(b\"GARBAGE\\r\\n\\r\\n\")[:40])
print(talk(b\"GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Big: \" + b\"a\" * (1 << 20) + b\"\\r\\n\\r\\n\")[:40])
print(talk(b\"GET /src/lat\", False))
print(talk(b\"GET / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 5\\r\\n\\r\\nab\", False))
print(talk(b\"\\x00\\xff\\r\\n\" * 1000)[:40])
" "${C##*:}" >raw.out &&
	get "$C" /src/latest/ again && cmp page again
'

test_expect_success 'a corrupt object: 500 for it, the server stays up' '
	mkdir bad && echo small >bad/f && echo other >bad/g &&
	BUP_DIR=$TRASH/badrepo cbup init >/dev/null 2>&1 &&
	BUP_DIR=$TRASH/badrepo cbup index bad >/dev/null &&
	BUP_DIR=$TRASH/badrepo cbup save -n bad --strip bad &&
	oid=$(git --git-dir=badrepo rev-parse bad:f) &&
	pack=$(ls badrepo/objects/pack/*.pack) &&
	off=$(git verify-pack -v "${pack%.pack}.idx" | awk -v o=$oid "\$1 == o { print \$5 }") &&
	test -n "$off" &&
	"$CBUP_BUILD/test-tool" corrupt "$pack" $((off + 4)) &&
	P=$(free_port) &&
	serve bad "$TRASH/badrepo" cbup web "127.0.0.1:$P" &&
	get "http://127.0.0.1:$P" /bad/latest/f t && grep -q "^500" t.h &&
	grep -q "^error: " bad.err &&
	get "http://127.0.0.1:$P" /bad/latest/g t && grep -q "^200" t.h &&
	echo other >want && cmp want t &&
	get "http://127.0.0.1:$P" /bad/latest/ t && grep -q "^200" t.h
'

test_expect_success 'unix://: curl --unix-socket, sizes without -h as bup' '
	serve cu "$BUP_DIR" cbup web unix://csock &&
	serve bu "$BUP_DIR" bup web unix://bsock &&
	echo "Serving HTTP on filesystem socket '\''csock'\''" >expect &&
	test_cmp expect cu.out &&
	test "$(stat -c %a csock)" = "$(stat -c %a bsock)" &&
	curl -sS --unix-socket csock http://localhost/src/latest/sub/ >c.u &&
	curl -sS --unix-socket bsock http://localhost/src/latest/sub/ >b.u &&
	test_cmp b.u c.u && grep -q ">700000<" c.u &&
	curl -sS --unix-socket csock http://localhost/src/latest/sub/big >f &&
	cmp f file
'

test_expect_success CHROMIUM 'a headless chromium shows the listing' '
	HOME=$TRASH/chrome-home timeout 60 chromium --headless --no-sandbox \
		--disable-gpu --user-data-dir="$TRASH/chrome" \
		--dump-dom "$C/src/latest/?hidden=1" >dom 2>/dev/null &&
	grep -q "Directory listing for /src/latest/" dom &&
	grep -q ">a.txt</a>" dom && grep -q ">sub/</a>" dom &&
	grep -q ">link@</a>" dom && grep -q ">.hid/</a>" dom
'

test_expect_success 'a save while it serves: the new head at once' '
	echo changed >src/a.txt &&
	cbup index src >/dev/null &&
	cbup save -n src --strip src &&
	cbup save -n newb --strip src &&
	get "$C" /src/latest/a.txt t && echo changed >want && cmp want t &&
	get "$C" /newb/latest/a.txt t && cmp want t &&
	get "$C" / t && grep -q "<a href=\"newb/\">newb/</a>" t
'

test_expect_success 'SIGTERM: "Shutdown requested", exit 0, as bup' '
	P=$(free_port) &&
	{ cbup web "127.0.0.1:$P" >t.out 2>t.err </dev/null & } &&
	pid=$! && echo $pid >term.wpid &&
	wait_for t.out "^Serving" &&
	get "http://127.0.0.1:$P" /src/ t && grep -q "^200" t.h &&
	kill -TERM $pid && record_rc rc wait $pid &&
	echo 0 >expect && test_cmp expect rc &&
	echo "Shutdown requested" >expect && test_cmp expect t.err
'

test_expect_success 'no libmicrohttpd: a clear error, exit 1' '
	P=$(free_port) &&
	test_expect_code 1 env CBUP_WEB_LIBMICROHTTPD=libno-such-mhd.so.0 \
		cbup web "127.0.0.1:$P" >o 2>e &&
	grep -q "^error: cbup web needs libmicrohttpd12: apt-get install libmicrohttpd12" e
'

test_expect_success 'usage errors as bup' '
	for a in "a b" "127.0.0.1:x" ":y"; do
		record_rc b.rc bup web $a >b.o 2>b.e &&
		record_rc c.rc cbup web $a >c.o 2>c.e &&
		test_cmp b.rc c.rc && test_cmp b.e c.e || return 1
	done &&
	echo 97 >expect && test_cmp expect c.rc
'

test_done
