#!/bin/sh
# cbup fsck against real bup 0.33.7 (lib/bup/cmd/fsck.py): clean
# repositories pass, full and --quick verification, a damaged pack or
# idx reported by name with bup's exit code, par2 recovery files
# generated (-g) under bup's names, a damaged pack repaired from them
# (-r, exit 100) byte for byte, empty or missing recovery files refused,
# and the same stdout, messages and exit codes as bup on the same
# repositories.
. "$(dirname "$0")/test-lib.sh"

P=objects/pack

# run_both ARGS...: bup fsck on $TRASH/b, cbup fsck on $TRASH/c (two
# copies of one repository); stdout, exit code and stderr (repository
# path made neutral) into out.b/out.c, rc.b/rc.c, err.b/err.c.
run_both() {
	record_rc rc.b bup -d "$TRASH/b" fsck "$@" >out.b 2>err.raw.b &&
	record_rc rc.c cbup -d "$TRASH/c" fsck "$@" >out.c 2>err.raw.c &&
	sed "s,$TRASH/b/,REPO/,g" err.raw.b >err.b &&
	sed "s,$TRASH/c/,REPO/,g" err.raw.c >err.c
}

# same_as_bup: stdout, exit code and stderr of the last run_both agree.
same_as_bup() {
	test_cmp rc.b rc.c &&
	test_cmp out.b out.c &&
	test_cmp err.b err.c
}

test_expect_success 'setup: a cbup repository with two packs passes' '
	cbup init >/dev/null 2>&1 &&
	lcg 1 400000 >f1 && lcg 2 250000 >f2 &&
	cbup split -n a f1 >/dev/null 2>&1 &&
	cbup split -n b f2 >/dev/null 2>&1 &&
	test $(ls "$BUP_DIR/$P"/*.pack | wc -l) = 2 &&
	cbup fsck 2>err && ! test -s err &&
	cbup fsck --quick 2>err && ! test -s err &&
	cbup fsck -v >out &&
	ls "$BUP_DIR/$P" | sed -n "s/\.pack$/ ok/p" | sort >want &&
	sort out >got && test_cmp want got
'

test_expect_success BUP 'clean cbup repository: the same as bup' '
	for a in "" -v -vv --quick "--quick -v" -j2 "-j 1 -vv" \
		 --disable-par2 "--disable-par2 -g -v"; do
		record_rc rc.b bup fsck $a >out.b 2>err.b &&
		record_rc rc.c cbup fsck $a >out.c 2>err.c &&
		test_cmp rc.b rc.c && test_cmp out.b out.c &&
		test_cmp err.b err.c || return 1
	done &&
	grep "^pack-[0-9a-f]\{40\} skipped$" out.c
'

test_expect_success BUP 'a repository bup wrote passes' '
	bup -d bup-repo init >/dev/null 2>&1 &&
	bup -d bup-repo split -n a f1 >/dev/null 2>&1 &&
	cbup -d bup-repo fsck -v >out.c 2>err.c &&
	! test -s err.c &&
	grep "^pack-[0-9a-f]\{40\} ok$" out.c &&
	record_rc rc.c cbup -d bup-repo fsck --quick -v >out.q &&
	bup -d bup-repo fsck --quick -v >out.b &&
	echo 0 >want && test_cmp want rc.c && test_cmp out.b out.q
'

test_expect_success BUP 'packs named on the command line, as bup' '
	pack=$(ls "$BUP_DIR/$P"/*.pack | head -n 1) &&
	idx=${pack%.pack}.idx &&
	for a in "$pack" "$idx" "${pack%.pack}" "$idx $pack"; do
		record_rc rc.b bup fsck -v $a >out.b 2>err.b &&
		record_rc rc.c cbup fsck -v $a >out.c 2>err.c &&
		test_cmp rc.b rc.c && test_cmp out.b out.c &&
		test_cmp err.b err.c || return 1
	done &&
	test $(wc -l <out.c) = 2
'

test_expect_success 'a name that is not a pack: exit 1, named' '
	test_expect_code 1 cbup fsck -v nosuch 2>err &&
	grep "b.nosuch. is not a pack file!" err
'

test_expect_success 'setup: one-pack repositories for bup and cbup' '
	cbup -d one init >/dev/null 2>&1 &&
	cbup -d one split -n a f1 >/dev/null 2>&1 &&
	test $(ls one/$P/*.pack | wc -l) = 1 &&
	cbup -d one fsck -v >out && grep " ok$" out &&
	ONE=$(ls one/$P/*.pack) && ONE=${ONE##*/} && ONE=${ONE%.pack} &&
	echo "$ONE" >one.name
'

test_expect_success BUP 'a damaged pack: reported by name, exit 1, as bup' '
	ONE=$(cat one.name) &&
	rm -rf b c && cp -a one b && cp -a one c &&
	"$CBUP_BUILD/test-tool" corrupt b/$P/$ONE.pack 100 &&
	"$CBUP_BUILD/test-tool" corrupt c/$P/$ONE.pack 100 &&
	run_both --quick -v &&
	same_as_bup &&
	echo 1 >want && test_cmp want rc.c &&
	grep "^$ONE failed$" out.c &&
	grep "^error: expected b.[0-9a-f]\{40\}., got .[0-9a-f]\{40\}.$" err.c &&
	grep "^b.$ONE. git verify: failed (1)$" err.c &&
	run_both -v --disable-par2 &&
	test_cmp rc.b rc.c && test_cmp out.b out.c &&
	test_cmp want rc.c &&
	grep "^b.$ONE. git verify: failed (1)$" err.c &&
	grep "^b.$ONE. git verify: failed (1)$" err.b &&
	grep "^error: .*$ONE.pack" err.c
'

test_expect_success BUP 'a damaged idx: the full check fails, --quick does not' '
	ONE=$(cat one.name) &&
	rm -rf b c && cp -a one b && cp -a one c &&
	chmod u+w b/$P/$ONE.idx c/$P/$ONE.idx &&
	"$CBUP_BUILD/test-tool" corrupt b/$P/$ONE.idx 1100 &&
	"$CBUP_BUILD/test-tool" corrupt c/$P/$ONE.idx 1100 &&
	run_both --quick -v && same_as_bup &&
	echo "$ONE ok" >want && sed "/^\$/d" out.c >got && test_cmp want got &&
	run_both -v --disable-par2 &&
	test_cmp rc.b rc.c && test_cmp out.b out.c &&
	echo 1 >want && test_cmp want rc.c &&
	grep "^b.$ONE. git verify: failed (1)$" err.c &&
	grep "^error: .*$ONE.idx" err.c
'

test_expect_success GIT,BUP 'a pack git repacked with deltas: verified, damage found' '
	git init -q g &&
	for i in 1 2 3 4 5; do
		seq 1 $((3000 + i * 7)) >g/f &&
		git -C g add f &&
		git -C g -c user.name=a -c user.email=a@b commit -qm $i ||
		return 1
	done &&
	git -C g repack -a -d -f -q &&
	git -C g verify-pack -v "$TRASH/$(ls g/.git/$P/*.idx)" >vp &&
	grep "^chain length = 1:" vp &&
	pack=$(ls g/.git/$P/*.pack) && stem=${pack%.pack} &&
	record_rc rc.b bup fsck -v "$pack" >out.b 2>err.b &&
	record_rc rc.c cbup fsck -v "$pack" >out.c 2>err.c &&
	test_cmp rc.b rc.c && test_cmp out.b out.c && test_cmp err.b err.c &&
	echo "${stem##*/} ok" >want && test_cmp want out.c &&
	off=$(awk "NF == 7 { print \$5 + 3; exit }" vp) &&
	chmod u+w "$pack" &&
	"$CBUP_BUILD/test-tool" corrupt "$pack" $off &&
	record_rc rc.b bup fsck -v "$pack" >out.b 2>err.b &&
	record_rc rc.c cbup fsck -v "$pack" >out.c 2>err.c &&
	test_cmp rc.b rc.c && test_cmp out.b out.c &&
	grep "^b.${stem##*/}. git verify: failed (1)$" err.c &&
	grep "^error: .*at offset $((off - 3))" err.c
'

test_expect_success 'more packs than jobs, one damaged: -j2 reports it' '
	rm -rf m && cp -a "$BUP_DIR" m &&
	lcg 3 300000 >f3 &&
	cbup -d m split -n c f3 --max-pack-size=50000 >/dev/null 2>&1 &&
	test $(ls m/$P/*.pack | wc -l) -gt 4 &&
	bad=$(ls m/$P/*.pack | sed -n 3p) && bad=${bad##*/} &&
	"$CBUP_BUILD/test-tool" corrupt m/$P/$bad 40 &&
	test_expect_code 1 cbup -d m fsck -j2 -v >out 2>err &&
	grep "^b.${bad%.pack}. git verify: failed (1)$" err &&
	test $(grep -c " ok$" out) = $(($(ls m/$P/*.pack | wc -l) - 1)) &&
	grep "^${bad%.pack} failed$" out &&
	test_expect_code 1 cbup -d m fsck --quick 2>err &&
	grep "^b.${bad%.pack}. git verify: failed (1)$" err
'

test_expect_success BUP '--quick: packs hashed side by side, damage found as bup finds it' '
	rm -rf b c && cp -a m b &&
	big=$(ls -S b/$P/*.pack | head -n 1) &&
	test $(wc -c <"$big") -gt 300000 &&
	"$CBUP_BUILD/test-tool" corrupt "$big" 200000 &&
	last=$(ls -S b/$P/*.pack | sed -n 4p) &&
	"$CBUP_BUILD/test-tool" corrupt "$last" -21 &&
	cp -a b c &&
	run_both --quick -v && same_as_bup &&
	echo 1 >want && test_cmp want rc.c &&
	test $(grep -c " failed$" out.c) = 3 &&
	grep "^$(basename "${big%.pack}") failed$" out.c &&
	grep "^$(basename "${last%.pack}") failed$" out.c &&
	for j in 1 2 3 5; do
		record_rc rc.c cbup -d c fsck --quick -v -j$j >out.c 2>err.raw.c &&
		sed "s,$TRASH/c/,REPO/,g" err.raw.c >err.c &&
		same_as_bup || return 1
	done
'

test_expect_success '--quick: a pack shorter than its trailer, named' '
	rm -rf c && cp -a m c &&
	short=$(ls c/$P/*.pack | sed -n 2p) &&
	head -c 10 "$short" >short.tmp && cat short.tmp >"$short" &&
	test_expect_code 1 cbup -d c fsck --quick -j2 -v >out 2>err &&
	grep "^error: .$TRASH/${short}. is too short for a pack (10 bytes)$" err &&
	test $(grep -c " failed$" out) = 2
'

test_expect_success PAR2 '--par2-ok: 0 with par2, 1 and a warning without' '
	cbup fsck --par2-ok 2>err && ! test -s err &&
	test_expect_code 1 env PATH=/nonexistent "$CBUP" fsck --par2-ok 2>err &&
	grep "^fsck: warning: par2 not found; disabling recovery features.$" err
'

test_expect_success 'without par2, -g skips and -r just verifies' '
	rm -rf np && cp -a one np &&
	ONE=$(cat one.name) &&
	env PATH=/nonexistent "$CBUP" -d np fsck -g -v >out 2>err &&
	echo "$ONE skipped" >want && sed "/^\$/d" out >got && test_cmp want got &&
	grep "par2 not found" err &&
	! ls np/$P | grep par2 &&
	env PATH=/nonexistent "$CBUP" -d np fsck -r -v >out 2>err &&
	echo "$ONE ok" >want && sed "/^\$/d" out >got && test_cmp want got
'

test_expect_success BUP,PAR2 '-g: bup par2 files, the same output as bup' '
	ONE=$(cat one.name) &&
	rm -rf b c && cp -a one b && cp -a one c &&
	run_both -g -v && same_as_bup &&
	echo 0 >want && test_cmp want rc.c &&
	grep "^$ONE generated$" out.c &&
	ls c/$P | grep par2 >got &&
	printf "%s\n" $ONE.par2 $ONE.vol000+200.par2 >want &&
	test_cmp want got &&
	ls b/$P >want && ls c/$P >got && test_cmp want got &&
	run_both -g -v && same_as_bup && grep "^$ONE exists$" out.c &&
	run_both -vv && same_as_bup && grep "^$ONE ok$" out.c &&
	grep "(par2)$" err.c &&
	run_both -r -v && same_as_bup && grep "^$ONE ok$" out.c
'

test_expect_success BUP,PAR2 'damage, then -r repairs it byte for byte (exit 100)' '
	ONE=$(cat one.name) &&
	cp c/$P/$ONE.pack saved.pack &&
	"$CBUP_BUILD/test-tool" corrupt b/$P/$ONE.pack 1000 &&
	"$CBUP_BUILD/test-tool" corrupt c/$P/$ONE.pack 1000 &&
	run_both --quick -v --disable-par2 && same_as_bup &&
	grep "^b.$ONE. git verify: failed (1)$" err.c &&
	run_both -v && same_as_bup &&
	echo 1 >want && test_cmp want rc.c &&
	grep "^b.$ONE. par2 verify: failed (1)$" err.c &&
	echo "$ONE failed" >want && sed "/^\$/d" out.c >got && test_cmp want got &&
	run_both -r -v && same_as_bup &&
	echo 100 >want && test_cmp want rc.c &&
	grep "^b.$ONE. par2 repair: succeeded (0)$" err.c &&
	echo "$ONE repaired" >want && sed "/^\$/d" out.c >got && test_cmp want got &&
	cmp saved.pack c/$P/$ONE.pack &&
	cmp saved.pack b/$P/$ONE.pack &&
	run_both -v && same_as_bup &&
	echo "$ONE ok" >want && sed "/^\$/d" out.c >got && test_cmp want got &&
	cbup -d c fsck --disable-par2 -v >out && sed "/^\$/d" out >got && test_cmp want got
'

test_expect_success BUP,PAR2 'too much damage: -r fails with par2 exit code' '
	ONE=$(cat one.name) &&
	for off in $(seq 20 500 400000); do
		"$CBUP_BUILD/test-tool" corrupt b/$P/$ONE.pack $off &&
		"$CBUP_BUILD/test-tool" corrupt c/$P/$ONE.pack $off || return 1
	done &&
	run_both -r -v && same_as_bup &&
	grep "^b.$ONE. par2 repair: failed ([1-9][0-9]*)$" err.c &&
	echo "$ONE failed" >want && sed "/^\$/d" out.c >got && test_cmp want got &&
	cp saved.pack b/$P/$ONE.pack && cp saved.pack c/$P/$ONE.pack
'

test_expect_success BUP,PAR2 'empty or missing par2 files: refused, as bup' '
	ONE=$(cat one.name) &&
	cp c/$P/$ONE.par2 saved.par2 &&
	cp c/$P/$ONE.vol000+200.par2 saved.vol &&
	: >b/$P/$ONE.par2 && : >c/$P/$ONE.par2 &&
	for a in -v -vr -vg; do
		run_both $a && same_as_bup &&
		echo 2 >want && test_cmp want rc.c &&
		! test -s out.c &&
		test $(grep -c "^error: empty par2 file - REPO/$P/$ONE.par2$" \
			err.c) = 2 &&
		test -e c/$P/$ONE.par2 && ! test -s c/$P/$ONE.par2 || return 1
	done &&
	cp saved.par2 b/$P/$ONE.par2 && cp saved.par2 c/$P/$ONE.par2 &&
	rm b/$P/$ONE.vol000+200.par2 c/$P/$ONE.vol000+200.par2 &&
	run_both -v && same_as_bup &&
	echo 2 >want && test_cmp want rc.c &&
	grep "^error: missing par2 file - REPO/$P/$ONE.vol000+200.par2$" \
		err.c &&
	cp saved.vol c/$P/$ONE.vol000+200.par2 &&
	cbup -d c fsck -v >out && echo "$ONE ok" >want && sed "/^\$/d" out >got && test_cmp want got
'

test_done
