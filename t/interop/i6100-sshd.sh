#!/bin/sh
# Remote repositories over real ssh (FORMAT.md 7.1): an OpenSSH server on
# 127.0.0.1 at a free port, with its host key, the user key, the
# authorized keys, config, pid file and log all in the trash directory.
# The server's PATH (sshd's SetEnv) has cbup as "bup"; CBUP_REMOTE_BUP
# names real bup there instead.  The matrix, each over `ssh localhost`:
#   cbup -> cbup, bup -> cbup, cbup -> bup: split -n/-t, join, save (the
#   tree of a local save from a copy of the same index), restore and ls.
#
# Needs root (sshd) and openssh-server/openssh-client (scripts/install-
# deps); skips with a message otherwise.  Installs nothing; the only
# thing outside the trash is sshd's privilege separation directory
# /run/sshd, created if missing as the Debian service would.
. "$(dirname "$0")/../test-lib.sh"

SSHD=/usr/sbin/sshd
test_skip_all_unless ROOT,SSHD,PYTHON

K="$TRASH/sshd"         # everything sshd uses
D="$TRASH/d"            # the saved tree lives in $D/src
MANIFEST="$TOP/t/helper/manifest"
SSHD_PID=

stop_sshd() {
	if [ -n "$SSHD_PID" ]; then
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=
	fi
}
trap 'stop_sshd; cleanup_trash' EXIT

# A copy of one index per comparison (see t6100): ixcopy NAME.
ixcopy() {
	for e in "" .meta .hlink; do
		if test -e "$TRASH/ix0$e"; then
			cp "$TRASH/ix0$e" "$TRASH/$1$e" || return 1
		fi
	done
}

# ssh reads ~/.ssh/config from the passwd home, not $HOME: the "ssh"
# that both clients run is a wrapper passing the test HOME's config.
export PATH="$TRASH/sshbin:$PATH"
REAL_BUP=$(command -v bup) || REAL_BUP=

test_expect_success 'setup: keys, sshd_config, sshd on 127.0.0.1' '
	mkdir -p "$K" "$HOME/.ssh" sshbin srvbin "$D/src/sub" &&
	chmod 700 "$HOME/.ssh" &&
	ssh-keygen -q -t ed25519 -N "" -f "$K/host_key" &&
	ssh-keygen -q -t ed25519 -N "" -f "$HOME/.ssh/id_test" &&
	cp "$HOME/.ssh/id_test.pub" "$K/authorized_keys" &&
	ln -s "$CBUP" srvbin/bup &&
	port=$(python3 -c "import socket; s = socket.socket(); \
s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	cat >"$K/sshd_config" <<-EOF &&
	ListenAddress 127.0.0.1
	Port $port
	HostKey $K/host_key
	AuthorizedKeysFile $K/authorized_keys
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	StrictModes no
	UsePAM no
	PidFile $K/sshd.pid
	SetEnv PATH=$TRASH/srvbin:/usr/local/bin:/usr/bin:/bin
	EOF
	cat >"$HOME/.ssh/config" <<-EOF &&
	Host localhost
		HostName 127.0.0.1
		Port $port
		User $(id -un)
		IdentityFile $HOME/.ssh/id_test
		IdentitiesOnly yes
		StrictHostKeyChecking no
		UserKnownHostsFile /dev/null
		BatchMode yes
		LogLevel ERROR
	EOF
	cat >sshbin/ssh <<-EOF &&
	#!/bin/sh
	exec /usr/bin/ssh -F "$HOME/.ssh/config" "\$@"
	EOF
	chmod +x sshbin/ssh &&
	# privilege separation needs it; the Debian service makes it too
	{ test -d /run/sshd || mkdir -m 755 /run/sshd; } &&
	"$SSHD" -t -f "$K/sshd_config" &&
	{ "$SSHD" -f "$K/sshd_config" -D -E "$K/log" & echo $! >"$K/bgpid"; } &&
	i=0 && while ! ssh localhost true 2>/dev/null && test $i -lt 50; do
		sleep 0.1 && i=$((i + 1)) || exit 1
	done &&
	test "$(ssh localhost "command -v bup")" = "$TRASH/srvbin/bup"
'
SSHD_PID=$(cat "$K/bgpid" 2>/dev/null) || SSHD_PID=

test_expect_success 'setup: data, index and reference saves' '
	lcg 1 2500000 >data &&
	lcg 5 2000000 >"$D/src/big" && echo hi >"$D/src/x" &&
	ln -s x "$D/src/link" && head -c 300000 /dev/urandom >"$D/src/sub/r" &&
	find "$D" -exec touch -a -h -d @$(($(date +%s) + 86400)) {} + &&
	cbup init >/dev/null 2>&1 &&
	cbup index -f ix0 "$D/src" >/dev/null &&
	for i in L CC BC CB; do ixcopy ix$i || return 1; done &&
	cbup init -r ":$TRASH/ref" >/dev/null 2>&1 &&
	BUP_DIR="$TRASH/ref" cbup save -f ixL --strip-path "$D" -t \
		"$D/src" >tree.expect &&
	cbup split -t data >split.expect &&
	"$MANIFEST" --no-root "$D" >src.man
'

# restore's output dir holds "src": compare it with $D's manifest
check_restore() {
	"$MANIFEST" --no-root "$1" >"$1.man" && test_cmp src.man "$1.man"
}

test_expect_success 'cbup -> cbup over ssh: init, split, join' '
	cbup init -r "localhost:$TRASH/cc" >/dev/null 2>&1 &&
	test -d "$TRASH/cc/objects/pack" &&
	cbup split -r "localhost:$TRASH/cc" -n s data &&
	cbup split -r "localhost:$TRASH/cc" -t data >actual &&
	test_cmp split.expect actual &&
	cbup join -r "localhost:$TRASH/cc" s >out && cmp data out &&
	git --git-dir="$TRASH/cc" fsck --strict &&
	ls "$BUP_DIR"/index-cache/localhost_*cc/*.idx >/dev/null
'

test_expect_success 'cbup -> cbup over ssh: save, ls, restore' '
	cbup save -f ixCC --strip-path "$D" -r "localhost:$TRASH/cc" -n sv \
		"$D/src" &&
	test "$(git --git-dir="$TRASH/cc" rev-parse sv^{tree})" = \
		"$(cat tree.expect)" &&
	git --git-dir="$TRASH/cc" fsck --strict &&
	cbup ls -r "localhost:$TRASH/cc" -l sv/latest/src >actual &&
	cbup -d "$TRASH/cc" ls -l sv/latest/src >expect &&
	test_cmp expect actual &&
	cbup restore -r "localhost:$TRASH/cc" -C rcc sv/latest/src \
		>/dev/null 2>&1 &&
	check_restore rcc
'

test_expect_success BUP 'bup -> cbup over ssh: init, split, join' '
	bup init -r "localhost:$TRASH/bc" >/dev/null 2>&1 &&
	test -d "$TRASH/bc/objects/pack" &&
	bup split -r "localhost:$TRASH/bc" -n s data &&
	bup split -r "localhost:$TRASH/bc" -t data >actual &&
	test_cmp split.expect actual &&
	bup join -r "localhost:$TRASH/bc" s >out && cmp data out &&
	cbup -d "$TRASH/bc" join s >out && cmp data out &&
	git --git-dir="$TRASH/bc" fsck --strict
'

test_expect_success BUP 'bup -> cbup over ssh: save, ls, restore' '
	bup save -f ixBC --strip-path "$D" -r "localhost:$TRASH/bc" -n sv \
		"$D/src" &&
	test "$(git --git-dir="$TRASH/bc" rev-parse sv^{tree})" = \
		"$(cat tree.expect)" &&
	git --git-dir="$TRASH/bc" fsck --strict &&
	bup ls -r "localhost:$TRASH/bc" -l sv/latest/src >actual &&
	cbup -d "$TRASH/bc" ls -l sv/latest/src >expect &&
	test_cmp expect actual &&
	bup restore -r "localhost:$TRASH/bc" -C rbc sv/latest/src \
		>/dev/null 2>&1 &&
	check_restore rbc
'

test_expect_success BUP 'cbup -> bup over ssh: init, split, join' '
	CBUP_REMOTE_BUP="$REAL_BUP" cbup init -r "localhost:$TRASH/cb" \
		>/dev/null 2>&1 &&
	test -d "$TRASH/cb/objects/pack" &&
	CBUP_REMOTE_BUP="$REAL_BUP" cbup split -r "localhost:$TRASH/cb" \
		-n s data &&
	CBUP_REMOTE_BUP="$REAL_BUP" cbup split -r "localhost:$TRASH/cb" \
		-t data >actual &&
	test_cmp split.expect actual &&
	CBUP_REMOTE_BUP="$REAL_BUP" cbup join -r "localhost:$TRASH/cb" s \
		>out && cmp data out &&
	bup -d "$TRASH/cb" join s >out && cmp data out &&
	git --git-dir="$TRASH/cb" fsck --strict
'

test_expect_success BUP 'cbup -> bup over ssh: save, ls, restore' '
	CBUP_REMOTE_BUP="$REAL_BUP" cbup save -f ixCB --strip-path "$D" \
		-r "localhost:$TRASH/cb" -n sv "$D/src" &&
	test "$(git --git-dir="$TRASH/cb" rev-parse sv^{tree})" = \
		"$(cat tree.expect)" &&
	git --git-dir="$TRASH/cb" fsck --strict &&
	CBUP_REMOTE_BUP="$REAL_BUP" cbup ls -r "localhost:$TRASH/cb" -l \
		sv/latest/src >actual &&
	bup -d "$TRASH/cb" ls -l sv/latest/src >expect &&
	test_cmp expect actual &&
	CBUP_REMOTE_BUP="$REAL_BUP" cbup restore -r "localhost:$TRASH/cb" \
		-C rcb sv/latest/src >/dev/null 2>&1 &&
	check_restore rcb
'

test_expect_success 'a missing remote repository over ssh fails cleanly' '
	test_expect_code 1 cbup save -f ixL --strip-path "$D" \
		-r "localhost:$TRASH/none" -n x "$D/src" 2>err &&
	grep -q "^error: .*does not exist" err &&
	test_must_fail test -e "$TRASH/none"
'

test_expect_success 'sshd stops; it served every connection' '
	test "$(grep -c "Accepted publickey for $(id -un)" "$K/log")" -ge 20 &&
	test -n "$SSHD_PID" && kill "$SSHD_PID" &&
	# (started by an earlier test'"'"'s subshell: not a child to wait for)
	i=0 && while kill -0 "$SSHD_PID" 2>/dev/null && test $i -lt 50; do
		sleep 0.1 && i=$((i + 1)) || exit 1
	done &&
	test_must_fail kill -0 "$SSHD_PID" 2>/dev/null &&
	test_must_fail ssh -o ConnectTimeout=2 localhost true 2>/dev/null
'

test_done
