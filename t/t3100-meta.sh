#!/bin/sh
# cbup meta and cat-file --meta/--bupm against real bup 0.33.7 (FORMAT.md
# 5.2, 5.7): archives byte-identical to bup's for the same tree, the same
# -t/-tv/-tvv listings of either archive, extraction (-x, --start-extract
# then --finish-extract) that bup's xstat cannot tell from bup's own,
# --edit, risky paths, usage errors and exit codes; cat-file --meta and
# --bupm byte-identical on a repository written by bup index + bup save.
. "$(dirname "$0")/test-lib.sh"

# Run "bup ARGS" and "cbup ARGS" in the current directory; compare stdout,
# stderr and exit code.  Tracebacks (where cbup prints one error line
# instead) are compared by exit code only: pass --rc-only first.  Both
# read stdin from the file named by $stdin (default /dev/null).
stdin=/dev/null
both() {
	rc_only=
	if [ "$1" = --rc-only ]; then rc_only=1; shift; fi
	bup "$@" <"$stdin" >"$TRASH/bup.out" 2>"$TRASH/bup.err"
	echo $? >"$TRASH/bup.rc"
	cbup "$@" <"$stdin" >"$TRASH/cbup.out" 2>"$TRASH/cbup.err"
	echo $? >"$TRASH/cbup.rc"
	cmp "$TRASH/bup.out" "$TRASH/cbup.out" &&
	test_cmp "$TRASH/bup.rc" "$TRASH/cbup.rc" &&
	if [ -z "$rc_only" ]; then
		test_cmp "$TRASH/bup.err" "$TRASH/cbup.err"
	fi
}

# bup xstat (all fields but ctime, which no restore can keep) of every
# path an archive lists, inside directory $1.  The path list comes from
# the archive so that no directory is read (which would move its atime).
# A symlink's atime is left out: xstat's own readlink() moves it.
xstat_tree() {
	(cd "$1" && tr '\n' '\0' <"$TRASH/paths" | xargs -0 bup xstat \
		--exclude-fields ctime) |
	awk '/^mode: 12/ { lnk = 1 } /^$/ { lnk = 0 }
	     !(lnk && /^atime: /) { print }'
}

test_expect_success BUP 'setup: a tree with every file type' '
	mkdir -p src/d/e src/empty &&
	(
		cd src &&
		printf "hello\n" >f &&
		printf "#!/bin/sh\n" >exe && chmod 4755 exe &&
		ln -s f link && ln -s /no/such/target dangling &&
		mkfifo fifo && chmod 2750 d &&
		printf x >"sp ace" && printf y >"q\"uote" &&
		printf z >"$(printf "hi\\377")" &&
		printf deep >d/e/g && ln d/e/g d/hl &&
		touch -d @-1.5 old && touch -d @1700000000.000000005 nano &&
		touch -h -d @1700000000.5 link &&
		touch -d @1600000000 d/e
	) &&
	if command -v python3 >/dev/null; then
		(cd src && python3 -c "import socket
s = socket.socket(socket.AF_UNIX); s.bind(\"sock\")")
	fi &&
	if [ "$(id -u)" = 0 ]; then
		(
			cd src && mknod chr c 1 3 && mknod blk b 7 300 &&
			: >own && chown 12345:54321 own
		)
	fi &&
	if (cd src && setfattr -n user.foo -v bar f 2>/dev/null); then
		(cd src && setfattr -n user.abc -v xyz f &&
		 setfattr -n user.bin -v 0x00ff01 nano)
	fi &&
	if command -v setfacl >/dev/null &&
	   (cd src && setfacl -m u:nobody:r f 2>/dev/null); then
		(cd src && setfacl -m u:nobody:rwx d &&
		 setfacl -d -m u:nobody:rx d)
	fi &&
	# Reading a directory or a symlink moves its atime once (relatime:
	# the atime is not after the ctime yet); after that it stays put,
	# so the archives below do not depend on which program ran first.
	bup meta -c src >/dev/null && bup meta -c src >/dev/null
'

test_expect_success BUP 'meta -c: byte-identical archives' '
	bup meta -c src >bup.meta &&
	cbup meta -c src >cbup.meta &&
	cmp bup.meta cbup.meta &&
	test $(wc -c <cbup.meta) -gt 1000 &&
	both meta -cv src
'

test_expect_success BUP 'meta -c: path cleaning, --no-recurse, -f' '
	both meta -c --no-recurse -v src ./src/../src/f src/ "$TRASH/src/link" \
		src/d/. src//d//e &&
	both meta -c -R --xdev -v src/d ../"$(basename "$TRASH")"/src/f &&
	cbup meta -c -f c.meta src/d &&
	bup meta -c --file=b.meta src/d &&
	cmp b.meta c.meta &&
	cbup meta -c -f - src/d >c2.meta &&
	cmp b.meta c2.meta
'

test_expect_success BUP 'meta -c: --no-paths, --no-symlinks, -q' '
	both meta -c --no-paths src &&
	both meta -c --no-symlinks src &&
	both meta -cq src
'

test_expect_success BUP 'meta -c: missing paths' '
	both meta -c src/nope src/f &&
	test_cmp bup.rc - <<-\EOF &&
	1
	EOF
	both --rc-only meta -c --no-recurse src/nope
'

test_expect_success BUP 'meta -t, -tv, -tvv, -tq of both archives' '
	for a in bup.meta cbup.meta; do
		for v in -t -tv -tvv -tvvv -tq; do
			both meta $v -f $a || return 1
		done &&
		stdin=$a both meta -tv &&
		stdin=$a both meta -t --file=- || return 1
	done &&
	both meta -tvv -f bup.meta &&
	grep "^path: src/f$" cbup.out &&
	grep "^link-target: f$" cbup.out
'

test_expect_success BUP 'meta -t: an archive without paths' '
	bup meta -c --no-paths src/f >nopath.meta &&
	both meta -t -f nopath.meta &&
	test_cmp bup.rc - <<-\EOF &&
	1
	EOF
	both meta -tv -f nopath.meta
'

test_expect_success BUP 'meta -x of bup'"'"'s archive: same tree as bup -x' '
	bup meta -t -f bup.meta >paths &&
	mkdir xb xc &&
	(cd xb && bup meta -xv -f ../bup.meta) 2>xb.err &&
	(cd xc && cbup meta -xv -f ../bup.meta) 2>xc.err &&
	test_cmp xb.err xc.err &&
	xstat_tree xb >xb.stat &&
	xstat_tree xc >xc.stat &&
	test_cmp xb.stat xc.stat &&
	grep -c "^path: " xc.stat >count &&
	test $(cat count) -gt 15
'

test_expect_success BUP 'meta -x restores what the source had (but sizes)' '
	# The kernel lists the ACL xattrs where they were set; the ACLs
	# themselves are compared in the posix1e-acl lines.
	xstat_tree . | grep -av "^size: \|^linux-xattr: system.posix" \
		>src.stat &&
	xstat_tree xc | grep -av "^size: \|^linux-xattr: system.posix" \
		>xc2.stat &&
	test_cmp src.stat xc2.stat
'

test_expect_success BUP '--start-extract then --finish-extract' '
	mkdir sb sc &&
	(cd sb && bup meta --start-extract -v -f ../bup.meta &&
	 bup meta --finish-extract -v -f ../bup.meta) 2>sb.err &&
	(cd sc && cbup meta --start-extract -v -f ../bup.meta &&
	 cbup meta --finish-extract -v -f ../bup.meta) 2>sc.err &&
	test_cmp sb.err sc.err &&
	xstat_tree sb >sb.stat &&
	xstat_tree sc >sc.stat &&
	test_cmp sb.stat sc.stat &&
	test_cmp xb.stat sc.stat
'

test_expect_success BUP 'meta -x --numeric-ids' '
	mkdir nb nc &&
	(cd nb && bup meta -x --numeric-ids <../bup.meta) &&
	(cd nc && cbup meta -x --numeric-ids <../bup.meta) &&
	xstat_tree nb >nb.stat &&
	xstat_tree nc >nc.stat &&
	test_cmp nb.stat nc.stat
'

test_expect_success BUP 'meta -x --no-symlinks' '
	mkdir lb lc &&
	(cd lb && record_rc ../b.rc bup meta -x --no-symlinks -f ../bup.meta \
		2>../b.err) &&
	(cd lc && record_rc ../c.rc cbup meta -x --no-symlinks -f ../bup.meta \
		2>../c.err) &&
	test_cmp b.rc c.rc &&
	test_cmp b.rc - <<-\EOF &&
	1
	EOF
	(cd lb && find . | sort) >b.list && (cd lc && find . | sort) >c.list &&
	test_cmp b.list c.list &&
	# (bup dies at the symlink with a traceback; cbup stops there
	# with a message: both after the same entries)
	grep "sp ace" c.list && grep "src/link" c.err &&
	! test -h lc/src/link
'

test_expect_success BUP 'extraction skips risky paths' '
	bup meta -c --no-paths src/f >rec &&
	{
		printf "\001\005\004../x" && cat rec &&
		printf "\001\010\007a/../.." && cat rec &&
		printf "\001\004\003/ab" && cat rec &&
		printf "\001\003\002ok" && cat rec
	} >risky.meta &&
	mkdir rb rc &&
	(cd rb && both meta -xv -f ../risky.meta) &&
	test_cmp bup.rc - <<-\EOF &&
	1
	EOF
	grep "skipping risky path" cbup.err &&
	(cd rc && test_expect_code 1 cbup meta -x -f ../risky.meta 2>err &&
	 grep "skipping risky path" err &&
	 test -f ab && test -f ok && ! test -e ../x)
'

test_expect_success BUP 'an empty object stops extraction' '
	{ printf "\001\003\002k1" && cat rec && printf "\000" &&
	  printf "\001\003\002k2" && cat rec; } >stop.meta &&
	mkdir eb ec &&
	(cd eb && bup meta -x -f ../stop.meta) &&
	(cd ec && cbup meta -x -f ../stop.meta) &&
	test -f ec/k1 && ! test -e ec/k2 && ! test -e eb/k2
'

test_expect_success BUP 'truncated archive fails' '
	head -c 100 bup.meta >trunc.meta &&
	both --rc-only meta -t -f trunc.meta &&
	test_cmp bup.rc - <<-\EOF
	1
	EOF
'

test_expect_success BUP 'meta --edit: byte-identical to bup' '
	both meta --edit --set-uid 5 --set-gid=0 --set-user xx \
		--unset-group bup.meta cbup.meta &&
	test -s cbup.out &&
	both meta --edit --unset-user --set-user yy --set-group g \
		--unset-group --set-group h bup.meta &&
	both meta --edit --set-uid " -1_0 " --unset-user bup.meta &&
	both meta --edit --set-uid 1 -f edited.meta cbup.meta &&
	bup meta --edit --set-uid 1 cbup.meta >bup-edited.meta &&
	cmp bup-edited.meta edited.meta &&
	cbup meta --edit --set-uid 77 cbup.meta | cbup meta -tvv >e.out &&
	grep "^uid: 77$" e.out
'

test_expect_success BUP 'meta --edit: bad ids are usage errors' '
	both meta --edit --set-uid x bup.meta &&
	test_cmp bup.rc - <<-\EOF &&
	97
	EOF
	both meta --edit --set-gid "" bup.meta &&
	both meta --edit --set-uid x nopath.meta &&
	both --rc-only meta --edit --set-uid 1 no-such-archive
'

test_expect_success BUP 'meta: usage errors' '
	both meta &&
	test_cmp bup.rc - <<-\EOF &&
	97
	EOF
	both meta -c -t src &&
	both meta -c &&
	both meta --edit &&
	both meta -t src &&
	both meta -x src &&
	both meta --start-extract src &&
	both meta --finish-extract src &&
	both meta --bogus &&
	both meta -h
'

test_expect_success BUP 'setup: bup index + bup save' '
	bup init >/dev/null 2>&1 &&
	bup index src >/dev/null &&
	bup save -n b src >/dev/null &&
	bup save -n b src >/dev/null 2>&1 &&
	S=/b/latest$TRASH/src &&
	echo "$S" >savepath
'

test_expect_success BUP 'cat-file --meta: byte-identical to bup' '
	S=$(cat savepath) &&
	for p in f exe link dangling fifo d d/e d/e/g d/hl old nano empty \
		sock chr blk own "sp ace" "$(printf "hi\\377")"; do
		test -e "src/$p" || test -h "src/$p" || continue
		both cat-file --meta "$S/$p" || return 1
		test -s cbup.out || return 1
	done &&
	for p in "$S" "$S/" /b/latest/ /b/latest/.. "/b/latest$TRASH" \
		"$S/d/../f"; do
		both cat-file --meta "$p" || return 1
	done
'

test_expect_success BUP 'cat-file --bupm: byte-identical to bup' '
	S=$(cat savepath) &&
	for p in "$S" "$S/d" "$S/d/e" "$S/empty" /b/latest/ /b/latest/.. \
		"/b/latest$TRASH"; do
		both cat-file --bupm "$p" || return 1
		test -s cbup.out || return 1
	done &&
	bup cat-file --bupm "$S/d" >bupm &&
	both meta -tvv -f bupm &&
	both cat-file --bupm "$S/f" &&
	test_cmp bup.rc - <<-\EOF
	97
	EOF
'

test_expect_success BUP 'cat-file --meta/--bupm: errors and missing paths' '
	S=$(cat savepath) &&
	both cat-file --meta "$S/nope" &&
	both cat-file --bupm "$S/nope/x" &&
	both cat-file --meta --bupm "$S/f" &&
	both cat-file --meta /b &&
	both --rc-only cat-file --meta /b/latest &&
	both --rc-only cat-file --meta "$S/f/" &&
	test_cmp bup.rc - <<-\EOF &&
	1
	EOF
	both cat-file "$S/f" &&
	both cat-file "$S/d"
'

test_done
