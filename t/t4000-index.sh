#!/bin/sh
# bup drecurse (and, once cbup index lands, bup index) against real bup
# on the same generated tree: names with spaces, newlines, non-UTF-8
# bytes, hard links, symlinks, special files (FORMAT.md 8.2).
. "$(dirname "$0")/test-lib.sh"

make_tree() {
	mkdir -p "$1/a b/c" "$1/sub/deep/er" "$1/x.d" "$1/skip/me" &&
	echo 1 >"$1/a b/c/f 1" &&
	printf x >"$1/$(printf 'new\nline')" &&
	: >"$1/$(printf 'bad\377\376')" &&
	ln -s "a b" "$1/link" &&
	ln -s /nonexistent "$1/dangling" &&
	: >"$1/sub/deep/er/z" && : >"$1/sub/y" &&
	ln "$1/sub/y" "$1/hl1" && ln "$1/sub/y" "$1/hl2" &&
	mkfifo "$1/fifo" &&
	: >"$1/a-b" && : >"$1/a.b" && : >"$1/skip/me/file" &&
	printf '%s\n' "$PWD/$1/skip" >excl.txt &&
	printf '%s\n' 'deep/' '[\d]$' >rx.txt
}

test_expect_success 'setup' '
	make_tree t
'

# run "bup drecurse ARGS" with both, compare stdout, stderr and status
cmp_drecurse() {
	{ "$BUP" drecurse "$@" >bup.out 2>bup.err; echo "rc $?" >>bup.out; } &&
	{ cbup drecurse "$@" >cbup.out 2>cbup.err; echo "rc $?" >>cbup.out; } &&
	test_cmp bup.out cbup.out &&
	test_cmp bup.err cbup.err
}

for args in "t" "t/" "$TRASH/t" "t/link" "t/hl1" "t/fifo" "-q t" \
	"--exclude t/sub t" "--exclude $TRASH/t/sub/deep $TRASH/t" \
	"--exclude-from excl.txt t" "--exclude-rx ^t/a t" \
	"--exclude-rx b\$ $TRASH/t" "--exclude-rx [\\d] t" \
	"--exclude-rx \\s t" "--exclude-rx-from rx.txt t" "-x t" \
	"nonexistent" "--exclude-from nofile t" "t t" ""; do
	test_expect_success BUP "drecurse $args" 'cmp_drecurse $args'
done

# regcomp's message differs from Python's re.error text; the usage and
# the exit status do not
test_expect_success 'drecurse rejects a bad --exclude-rx' '
	test_expect_code 97 cbup drecurse --exclude-rx "(" t 2>err &&
	grep "^error: invalid --exclude-rx pattern" err
'

test_expect_success BUP 'drecurse order equals bup index -p order' '
	"$BUP" init >/dev/null 2>&1 &&
	"$BUP" index "$TRASH/t" &&
	"$BUP" index -p "$TRASH/t" >index.out &&
	cbup drecurse "$TRASH/t" >drecurse.out &&
	test_cmp index.out drecurse.out
'

test_done
