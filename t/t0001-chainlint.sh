#!/bin/sh
# The static half of the chain lint (t/chainlint.pl) over every test
# script: inside loops and brace groups, where the run-time check of
# test-lib.sh does not see, no status is thrown away.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'the lint finds what it must' '
	# (the fixture is data for the lint, never run; its discarded status
	# is spelled through a variable so that this file holds none)
	discard="|""| true" &&
	cat >bad.sh <<-EOF &&
	test_expect_success "x" "
		for i in 1 2; do
			false
			echo \\\$i $discard
		done
	"
	EOF
	test_must_fail perl "$TOP/t/chainlint.pl" bad.sh >out &&
	grep "bad.sh:3: inside a loop" out &&
	grep "bad.sh:4: .|""| true. throws" out &&
	grep "bad.sh:4: a loop body" out
'

for f in "$TOP"/t/t[0-9]*.sh "$TOP"/t/interop/*.sh; do
	test_expect_success "no broken chain in ${f#$TOP/}" '
		perl "$TOP/t/chainlint.pl" "$f"
	'
done

test_done
