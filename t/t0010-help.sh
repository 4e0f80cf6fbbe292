#!/bin/sh
# The help contract (git's t0012-help.sh): for every implemented command
# in src/cmd/cmds.h, `cbup CMD -h` prints exactly what `bup CMD -h`
# prints to stderr, nothing to stdout, and both exit 97; the same for
# --usage, an unknown option, and at several terminal widths.  Bare
# cbup, `cbup help` and unknown commands give bup's top-level usage and
# exit 99.
. "$(dirname "$0")/test-lib.sh"

CMDS=$(sed -n 's/^CMD("\([^"]*\)".*/\1/p' "$TOP/src/cmd/cmds.h")

# A command still a placeholder says so; the contract covers the rest.
implemented() {
	"$CBUP" "$1" -h 2>&1 | grep -q "not implemented yet" && return 1
	return 0
}

compare_help() {
	# $1 command, $2.. extra arguments
	c=$1; shift
	"$CBUP" "$c" "$@" >c.out 2>c.err; crc=$?
	"$BUP" "$c" "$@" >b.out 2>b.err; brc=$?
	grep -v "^Warning: Linux xattr support missing" b.err >b.err2
	if [ $crc != $brc ]; then
		echo "$c $*: exit $crc, bup $brc"; return 1
	fi
	test_cmp b.out c.out && test_cmp b.err2 c.err
}

for c in $CMDS; do
	[ "$c" = help ] && continue
	implemented "$c" || { say "# $c: not implemented yet, skipped"; continue; }
	test_expect_success BUP "$c -h, --usage and a bad option as bup" '
		for w in 70 40 132; do
			BUP_TTY_WIDTH=$w compare_help $c -h || return 1
		done &&
		compare_help $c --usage &&
		compare_help $c --no-such-option-xyz &&
		compare_help $c -Z
	'
done

test_expect_success BUP 'bare cbup: bup usage, exit 99' '
	for w in 70 30 200; do
		BUP_TTY_WIDTH=$w "$CBUP" >c.out 2>c.err; crc=$?
		BUP_TTY_WIDTH=$w "$BUP" >b.out 2>b.err; brc=$?
		test $crc = 99 && test $brc = 99 &&
		test_cmp b.out c.out && test_cmp b.err c.err || return 1
	done
'

test_expect_success BUP 'unknown command and help without a command: exit 99' '
	test_expect_code 99 "$CBUP" no-such-cmd 2>c.err &&
	test_expect_code 99 "$BUP" no-such-cmd 2>b.err &&
	test_cmp b.err c.err &&
	test_expect_code 99 "$CBUP" help 2>c.err &&
	test_expect_code 99 "$BUP" help 2>b.err &&
	test_cmp b.err c.err &&
	test_expect_code 99 "$CBUP" --help 2>c.err &&
	test_cmp b.err c.err
'

# The usage lists exactly the commands of the table: every name it
# prints runs (no "unknown command" exit 99), and every command of the
# table is printed.
test_expect_success 'the usage lists exactly the commands that exist' '
	BUP_TTY_WIDTH=70 test_expect_code 99 "$CBUP" help 2>c.err &&
	awk "/^Common commands:/ { part = 1; next }
	     /^Other available commands:/ { part = 2; next }
	     /^See / { part = 0 }
	     part == 1 && NF { print \$1 }
	     part == 2 { for (i = 1; i <= NF; i++) print \$i }" c.err |
		sort >listed &&
	printf "%s\n" $CMDS | sort >table &&
	test_cmp table listed &&
	while read -r c; do
		"$CBUP" "$c" --usage >/dev/null 2>&1; rc=$? &&
		test $rc != 99 || { echo "$c: exit 99"; return 1; }
	done <listed
'

test_expect_success BUP 'help with two commands: usage error as bup' '
	compare_help help a b &&
	test_expect_code 97 "$CBUP" help a b 2>/dev/null
'

test_expect_success 'help CMD runs man bup-CMD' '
	mkdir -p fakebin &&
	printf "#!/bin/sh\necho \"man \$*\"\n" >fakebin/man &&
	chmod +x fakebin/man &&
	PATH=$TRASH/fakebin:$PATH "$CBUP" help split >out &&
	echo "man bup-split" >want && test_cmp want out &&
	PATH=$TRASH/fakebin:$PATH "$CBUP" version --help >out &&
	echo "man bup-version" >want && test_cmp want out &&
	PATH=$TRASH/fakebin:$PATH "$CBUP" --help tick >out &&
	echo "man bup-tick" >want && test_cmp want out
'

test_done
