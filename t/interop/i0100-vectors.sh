#!/bin/sh
# The test vectors of t/vectors/ against their recipes: t/vectors/regen
# rebuilds every one with real bup 0.33.7 and git and compares it with
# the committed file (as root all of them; otherwise the ones that need
# root are skipped, which regen says), and it notices a changed byte.
. "$(dirname "$0")/../test-lib.sh"

test_expect_success BUP,PYTHON,ROOT 'every vector regenerates from bup and git' '
	"$TOP/t/vectors/regen" --strict --bup "$BUP"
'

test_expect_success BUP,PYTHON,NOT_ROOT 'the vectors that need no root regenerate' '
	"$TOP/t/vectors/regen" --bup "$BUP"
'

PACK=pack/pack-ec8b2ed0a19056f16e7c0b19ea9023574778ee31.pack

test_expect_success BUP,PYTHON 'regen names a vector with one byte changed' '
	cp -R "$TOP/t/vectors" vec &&
	"$CBUP_BUILD/test-tool" corrupt vec/$PACK 40 1 &&
	test_expect_code 1 vec/regen --bup "$BUP" pack >out 2>&1 &&
	grep "^differs: t/vectors/$PACK " out &&
	"$TOP/t/vectors/regen" --bup "$BUP" pack
'

test_done
