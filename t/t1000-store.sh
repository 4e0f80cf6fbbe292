#!/bin/sh
# cbup list-idx and cat-file against real bup 0.33.7: same output, same
# messages and exit codes, on packs written by bup and on corrupt files.
. "$(dirname "$0")/test-lib.sh"

P=objects/pack

# Run the same command under bup and cbup; stdout, stderr and exit status
# must agree.
same() {
	bup "$@" >bup.out 2>bup.err; echo $? >>bup.out
	cbup "$@" >cbup.out 2>cbup.err; echo $? >>cbup.out
	test_cmp bup.out cbup.out && test_cmp bup.err cbup.err
}

test_expect_success BUP 'setup: a bup repository' '
	bup init >/dev/null 2>&1 &&
	lcg 1 300000 >f1 && printf abc >abc &&
	bup split -n big f1 >/dev/null 2>&1 &&
	bup split -n small abc >/dev/null 2>&1 &&
	mkdir -p src/sub && cp f1 src/big && printf "hello\n" >src/sub/h &&
	ln -s sub/h src/link &&
	bup index src >/dev/null 2>&1 && bup save -n s src >/dev/null 2>&1
'

test_expect_success BUP 'list-idx: every object of every idx' '
	same list-idx "$BUP_DIR/$P"/*.idx &&
	test $(wc -l <cbup.out) -gt 10
'

test_expect_success BUP 'list-idx --find: prefixes, full ids, upper case' '
	id=$(sed -n 1p cbup.out | cut -d" " -f2) &&
	same list-idx --find=00 "$BUP_DIR/$P"/*.idx &&
	same list-idx --find=A "$BUP_DIR/$P"/*.idx &&
	same list-idx --find=ab "$BUP_DIR/$P"/*.idx &&
	same list-idx --find=$id "$BUP_DIR/$P"/*.idx &&
	test $(wc -l <cbup.out) = 2 &&
	same list-idx --find=$(echo $id | tr a-f A-F) "$BUP_DIR/$P"/*.idx
'

test_expect_success BUP 'list-idx: midx files too' '
	bup midx -f >/dev/null 2>&1 &&
	same list-idx --find=a "$BUP_DIR/$P"/*.midx &&
	same list-idx "$BUP_DIR/$P"/*.midx
'

test_expect_success BUP 'list-idx: --find=0 is a number to bup: lists all' '
	same list-idx --find=0 "$BUP_DIR/$P"/*.idx &&
	test_expect_code 1 cbup list-idx --find=1 "$BUP_DIR/$P"/*.idx
'

test_expect_success BUP 'list-idx: usage errors' '
	same list-idx &&
	same list-idx --find=0123456789012345678901234567890123456789a x.idx
'

test_expect_success BUP 'list-idx: bad names and versions are counted errors' '
	same list-idx foo.txt "$BUP_DIR/$P"/*.idx &&
	printf "\377tOc\0\0\0\3" >v3.idx &&
	same list-idx v3.idx
'

test_expect_success 'list-idx: corrupt idx files fail cleanly' '
	printf "junkjunkjunk" >bad.idx &&
	test_expect_code 1 cbup list-idx bad.idx 2>err &&
	grep "bad.idx" err &&
	grep "WARNING: 1 errors" err &&
	test_expect_code 1 cbup list-idx missing.idx
'

test_expect_success BUP 'cat-file: plain and chunked files, byte for byte' '
	cbup cat-file /s/latest$TRASH/src/sub/h >out && test_cmp src/sub/h out &&
	cbup cat-file /s/latest$TRASH/src/big >out && cmp f1 out
'

test_expect_success BUP 'cat-file: usage errors as bup' '
	same cat-file &&
	same cat-file /x &&
	same cat-file a/b c/d &&
	same cat-file --meta --bupm /s/latest
'

test_expect_success BUP 'cat-file: missing paths and non-files as bup' '
	same cat-file /s/latest/nonexistent/x &&
	same cat-file /nobranch/latest &&
	same cat-file /s/latest$TRASH/src/sub &&
	same cat-file /s/latest$TRASH/src/link
'

test_done
