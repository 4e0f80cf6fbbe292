#!/bin/sh
# cbup split / join end to end: usage errors and exit codes as bup's,
# known ids from the test vectors, round trips through join, refs and
# reflogs as git writes them, packs that git accepts.
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup' '
	cbup init >/dev/null 2>&1 &&
	printf "hello, world\n" >hello &&
	printf abc >abc &&
	lcg 1 1048576 >lcg1 &&
	lcg 2 100000 >lcg2
'

for args in "" "-b -t" "--copy -b" "--noop -n x" "--git-ids -t hello" \
	"-n a..b hello" "-d notadate -n x hello"
do
	test_expect_success "usage error: split $args" "
		test_expect_code 97 cbup split $args </dev/null 2>err &&
		grep -q '^usage: bup split' err &&
		grep -q '^error: ' err
	"
done

test_expect_success 'usage messages are bup texts' '
	test_expect_code 97 cbup split 2>err &&
	grep -qx "error: use one or more of -b, -t, -c, -n, --noop, --copy" err &&
	test_expect_code 97 cbup split -n "a b" hello 2>err &&
	grep -qx "error: '"'"'b'"'"'a b'"'"''"'"' is not a valid branch name." err &&
	test_expect_code 97 cbup split -d abc -n x hello 2>err &&
	grep -qx "error: invalid date format (should be a float): ValueError(\"could not convert string to float: '"'"'abc'"'"'\")" err
'

test_expect_success 'missing repository: exit 15; --noop needs none' '
	test_expect_code 15 env BUP_DIR="$TRASH/nope" cbup split -t hello &&
	echo a1418ca582c835a0d870a683a84f743fba629c01 >expect &&
	BUP_DIR="$TRASH/nope" cbup split --noop -t hello >actual &&
	test_cmp expect actual
'

test_expect_success 'vector ids (t/vectors/README.md 3)' '
	echo edfc968da748a002e63935ec54ff5706f3c35d82 >expect &&
	cbup split -t abc >actual && test_cmp expect actual &&
	echo 56e40be0eaacc3988fe4c0b2fb936831019e29a7 >expect &&
	cbup split -t lcg1 >actual && test_cmp expect actual &&
	echo ea4ea8b97f02d6a84a81a0c2eaa4395010cd9faa >expect &&
	cbup split -t --fanout 4 lcg1 >actual && test_cmp expect actual &&
	echo 4e7353521f599e33184203069b2c9def68379ad7 >expect &&
	cbup split --noop -t <lcg2 >actual && test_cmp expect actual &&
	echo 80e8960a112929e4fac8bd1a376b480446a50934 >expect &&
	cbup split --noop -t abc hello >actual && test_cmp expect actual &&
	echo eddfb064e4e429dfb519d014b4905ead0dc7ab1a >expect &&
	cbup split --noop -t --keep-boundaries abc hello >actual &&
	test_cmp expect actual &&
	echo 4b825dc642cb6eb9a060e54bf8d69288fbee4904 >expect &&
	cbup split -t </dev/null >actual && test_cmp expect actual &&
	cbup split -b </dev/null >actual && test_must_fail test -s actual
'

test_expect_success '-b lists the chunk blobs; join puts them together' '
	cbup split -b lcg1 >blobs &&
	test $(wc -l <blobs) = 155 &&
	head -n 1 blobs >actual &&
	echo c2ae171cb3d9184c7f61b9907d43021a1f666aec >expect &&
	test_cmp expect actual &&
	cbup join <blobs >out && cmp lcg1 out &&
	cbup join -o out2 $(cat blobs) && cmp lcg1 out2
'

test_expect_success '-n commits "data.bup" / "data" and updates the ref' '
	cbup split -n big -d 1700000000 lcg1 &&
	git --git-dir="$BUP_DIR" rev-parse "big^{tree}" >actual &&
	echo fa32b862ffd3a38b7b300c23598f92f478a6d311 >expect &&
	test_cmp expect actual &&
	cbup split -c -n big -d 1700000001 hello >c &&
	git --git-dir="$BUP_DIR" rev-parse big >actual && test_cmp c actual &&
	git --git-dir="$BUP_DIR" rev-parse "big^{tree}" >actual &&
	git --git-dir="$BUP_DIR" ls-tree big >ls &&
	grep -q "blob 4b5fa63702dd96796042e92787f464e28f09f17d	data$" ls &&
	git --git-dir="$BUP_DIR" cat-file commit big >commit &&
	grep -q "^parent " commit &&
	grep -qx "author $(id -un) <$(id -un)@$(hostname)> 1700000001 +0000" commit &&
	grep -qx "\[b'"'"'bup'"'"', b'"'"'split'"'"', b'"'"'-c'"'"', b'"'"'-n'"'"', b'"'"'big'"'"', b'"'"'-d'"'"', b'"'"'1700000001'"'"', b'"'"'hello'"'"'\]" commit &&
	cbup join big >out && cmp hello out &&
	cbup join big~1 >out && cmp lcg1 out &&
	cbup join refs/heads/big^ >out && cmp lcg1 out
'

test_expect_success 'reflog lines are the ones git update-ref writes' '
	git --git-dir="$BUP_DIR" rev-parse big~1 big >ids &&
	GIT_DIR="$BUP_DIR" git update-ref refs/heads/g $(head -n 1 ids) "" &&
	GIT_DIR="$BUP_DIR" git update-ref refs/heads/g $(tail -n 1 ids) $(head -n 1 ids) &&
	sed "s/ [0-9]* +0000$//" "$BUP_DIR/logs/refs/heads/g" >expect &&
	sed "s/ [0-9]* +0000$//" "$BUP_DIR/logs/refs/heads/big" >actual &&
	test_cmp expect actual
'

test_expect_success 'a stale ref makes the update fail' '
	echo 0000000000000000000000000000000000000001 >"$BUP_DIR/refs/heads/big.lock" &&
	test_must_fail cbup split -n big hello 2>err &&
	grep -q "File exists" err &&
	rm "$BUP_DIR/refs/heads/big.lock"
'

test_expect_success 'join: a missing ref is an error, exit 1' '
	test_expect_code 1 cbup join nosuch >out 2>err &&
	grep -qx "error: missing ref at \[\"b'"'"'nosuch'"'"'\"\]" err &&
	test_expect_code 1 cbup join 0123456789012345678901234567890123456789 2>err
'

test_expect_success 'packs pass git fsck --strict and verify-pack' '
	git --git-dir="$BUP_DIR" fsck --strict >fsck 2>&1 &&
	! grep -v -e "^dangling" -e "^notice: HEAD" fsck &&
	for p in "$BUP_DIR"/objects/pack/*.idx; do
		git verify-pack "$p" || return 1
	done
'

# A pack larger than the write buffer has its space allocated ahead of
# its writes (packwriter.c); what lies beyond its end is given back.
test_expect_success 'a large pack is whole and holds no space beyond its end' '
	cbup -d spill init >/dev/null 2>&1 &&
	lcg 31 20000000 >spill.in &&
	CBUP_THREADS=0 cbup -d spill split -n s spill.in &&
	CBUP_THREADS=2 cbup -d spill split -n s2 hello &&
	for p in spill/objects/pack/*.pack; do
		git verify-pack "${p%.pack}.idx" || return 1
		set -- $(stat -c "%b %B %s" "$p") &&
		test $(($1 * $2)) -le $(($3 + 1048576)) || {
			echo "$p: $(($1 * $2)) bytes allocated for $3"; return 1; }
	done &&
	cbup -d spill join s >spill.out &&
	cmp spill.in spill.out
'

# bup creates a pack and its idx with Python's open(): 0666 less the umask.
test_expect_success 'packs and idx files are 0666 less the umask, as bup' '
	for u in 022 002; do
		rm -rf um &&
		cbup -d um init >/dev/null 2>&1 &&
		(umask $u && cbup -d um split -n m lcg2) &&
		stat -c %a um/objects/pack/pack-*.pack \
			um/objects/pack/pack-*.idx >modes &&
		printf "%o\n%o\n" $((0666 & ~0$u)) $((0666 & ~0$u)) >expect &&
		test_cmp expect modes || return 1
	done
'

test_expect_success BUP 'pack and idx modes as bup' '
	rm -rf umb umc &&
	bup -d umb init >/dev/null 2>&1 &&
	cbup -d umc init >/dev/null 2>&1 &&
	bup -d umb split -n m lcg2 2>/dev/null &&
	cbup -d umc split -n m lcg2 &&
	(cd umb/objects/pack && stat -c "%a %n" pack-*) | cut -c1-4 >expect &&
	(cd umc/objects/pack && stat -c "%a %n" pack-*) | cut -c1-4 >actual &&
	test_cmp expect actual
'

test_expect_success '--bench and -v speak on stderr only' '
	cbup split --noop -t --bench hello >out 2>err &&
	grep -q "^bup: .* kbytes in .* secs = .* kbytes/sec$" err &&
	test $(wc -l <out) = 1
'

# bup's PackWriter runs `bup midx --auto` and `bup bloom` after each pack
# it finishes; on a terminal their lines land in the command's stderr.
# The sixth pack makes midx --auto merge.  "Splitting:" lines go by the
# clock (qprogress), so they are left out of the comparison.
nosplitting() { sed "s/\r/<CR>\n/g" "$1" | grep -v "^Splitting: "; }
test_expect_success BUP 'split on a tty: the midx/bloom lines of bup' '
	bup -d ub init >/dev/null 2>&1 && cbup -d uc init >/dev/null 2>&1 &&
	for i in 1 2 3 4 5 6; do
		lcg $((20 + i)) $((i * 20000)) >u$i &&
		BUP_DIR=ub BUP_FORCE_TTY=3 bup split -n u$i u$i \
			>/dev/null 2>ub.err &&
		BUP_DIR=uc BUP_FORCE_TTY=3 cbup split -n u$i u$i \
			>/dev/null 2>uc.err &&
		nosplitting ub.err >ub.$i && nosplitting uc.err >uc.$i &&
		test_cmp ub.$i uc.$i || return 1
	done &&
	grep -x "bloom: counting: 0<CR>" uc.1 &&
	grep -x "bloom: creating from 1 file ([0-9]* objects).<CR>" uc.1 &&
	grep -x "bloom: writing 0.00% (0/[0-9]* objects)<CR>" uc.1 &&
	grep -x "bloom: creating from 2 files ([0-9]* objects).<CR>" uc.2 &&
	grep -x "bloom: adding 1 file ([0-9]* objects).<CR>" uc.3 &&
	! grep "^midx" uc.5 &&
	grep -x "midx: writing 0.00% (0/[0-9]*)<CR>" uc.6 &&
	lcg 27 20000 >u7 && BUP_DIR=uc cbup split -n u7 u7 >/dev/null 2>err &&
	test_cmp /dev/null err
'

# bup reports the bytes read before every read (readfile_iter), so its
# first line is "0 kbytes"; later lines go by the clock, but a small
# file split at once shows only the first, -q or not.
test_expect_success BUP 'split on a tty: the first "Splitting:" line as bup' '
	lcg 31 12345 >s1 &&
	for q in "" -q; do
		BUP_DIR=ub BUP_FORCE_TTY=3 bup split $q -n s1$q s1 \
			>/dev/null 2>sb.err &&
		BUP_DIR=uc BUP_FORCE_TTY=3 cbup split $q -n s1$q s1 \
			>/dev/null 2>sc.err &&
		sed "s/\r/<CR>\n/g" sb.err | head -n 1 >sb.first &&
		sed "s/\r/<CR>\n/g" sc.err | head -n 1 >sc.first &&
		echo "Splitting: 0 kbytes<CR>" >want &&
		test_cmp want sb.first && test_cmp want sc.first || return 1
	done
'

test_done
