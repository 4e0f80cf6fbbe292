# Helpers shared by the remote-repository tests (t6000, t6100, i6000).
# Source after test-lib.sh.

# packs REPO: how many packs REPO holds
packs() { ls "$1/objects/pack" | awk '/\.pack$/ { n++ } END { print n + 0 }'; }

# refs_ok REPO: every ref of REPO names an object git can read
refs_ok() {
	git --git-dir="$1" for-each-ref --format="%(objectname)" |
	while read -r o; do
		git --git-dir="$1" cat-file -e "$o" || return 1
	done
}

# make_fakessh: $TRASH/fakessh/ssh runs its command here instead of on
# a host, with $TRASH/fakebin (where cbup answers as "bup") first in
# PATH, so "ssh HOST -- bup server" reaches a cbup server.
make_fakessh() {
	mkdir -p "$TRASH/fakessh" "$TRASH/fakebin" &&
	ln -s "$CBUP" "$TRASH/fakebin/bup" &&
	cat >"$TRASH/fakessh/ssh" <<-EOF &&
	#!/bin/sh
	# ssh [-p PORT] HOST -- CMD: run CMD here, cbup standing in for bup
	while [ \$# -gt 0 ]; do
		case "\$1" in
		-p) shift 2 ;;
		--) shift; break ;;
		*) shift ;;
		esac
	done
	PATH="$TRASH/fakebin:\$PATH" exec sh -c "\$*"
	EOF
	chmod +x "$TRASH/fakessh/ssh"
}
