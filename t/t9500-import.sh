#!/bin/sh
# The importers against real bup 0.33.7's: import-rsnapshot (the same
# branches, dates and tree ids as bup's from the same snapshot root),
# import-rdiff-backup and import-duplicity (one save per increment,
# dated by it, whose contents are the increment's; the same dates and
# listings as bup's import), -n, usage and error exits.
. "$(dirname "$0")/test-lib.sh"

# history REPO BRANCH: "date tree" of each save of BRANCH, oldest first
history() {
	git --git-dir="$1" log --reverse --format="%at %T" "$2"
}

test_expect_success 'setup: an rsnapshot root with two intervals' '
	mkdir -p snap/daily.0/host1/etc snap/daily.0/host2 \
		snap/daily.1/host1/etc snap/weekly.0/host1 &&
	echo a >snap/daily.1/host1/etc/a &&
	lcg 1 100000 >snap/daily.1/host1/big &&
	echo b >snap/daily.0/host1/etc/a &&
	lcg 2 50000 >snap/daily.0/host2/data &&
	echo w >snap/weekly.0/host1/w &&
	echo notadir >snap/stray-file &&
	cbup -d c init >/dev/null 2>&1 &&
	bup -d b init >/dev/null 2>&1
'

test_expect_success BUP 'import-rsnapshot: the branches, dates and trees of bup'"'"'s' '
	cbup -d "$TRASH/c" import-rsnapshot snap 2>err.c &&
	bup -d "$TRASH/b" import-rsnapshot snap 2>err.b &&
	test_cmp err.b err.c &&
	grep "^snapshot=.daily.0. branch=.host1.$" err.c &&
	git --git-dir=c for-each-ref --format="%(refname)" >refs.c &&
	git --git-dir=b for-each-ref --format="%(refname)" >refs.b &&
	test_cmp refs.b refs.c &&
	printf "refs/heads/host1\nrefs/heads/host2\n" >want &&
	test_cmp want refs.c &&
	for br in host1 host2; do
		history c $br >h.c && history b $br >h.b &&
		test_cmp h.b h.c || return 1
	done &&
	test $(history c host1 | wc -l) = 3 &&
	ls -a snap >left.c &&
	rm -rf r && cbup -d c restore -C r /host2/latest >/dev/null &&
	cmp snap/daily.0/host2/data r/latest/data
'

test_expect_success BUP 'import-rsnapshot TARGET: only that branch' '
	rm -rf c2 && cbup -d c2 init >/dev/null 2>&1 &&
	cbup -d "$TRASH/c2" import-rsnapshot snap host2 2>err &&
	git --git-dir=c2 for-each-ref --format="%(refname)" >refs &&
	echo refs/heads/host2 >want && test_cmp want refs
'

test_expect_success 'import-rsnapshot -n: the commands, nothing saved' '
	rm -rf c3 && cbup -d c3 init >/dev/null 2>&1 &&
	cbup -d "$TRASH/c3" import-rsnapshot -n snap >out 2>err &&
	test $(grep -c " index -ux -f bupindex\.host1\.tmp daily\.0/host1/$" out) = 1 &&
	grep " save --strip --date=[0-9]* -f bupindex\.host2\.tmp -n host2 daily\.0/host2/$" out &&
	test $(wc -l <out) = 8 &&
	test_must_fail git --git-dir=c3 rev-parse -q --verify host1
'

test_expect_success BUP 'import-rsnapshot usage and a missing root: bup'"'"'s output' '
	for a in "" "-n" "a b c" "nosuch"; do
		record_rc rc.b bup -d "$TRASH/b" import-rsnapshot $a >out.b 2>&1 &&
		record_rc rc.c cbup -d "$TRASH/c" import-rsnapshot $a >out.c 2>&1 &&
		test_cmp rc.b rc.c && test_cmp out.b out.c || return 1
	done &&
	echo 1 >want && test_cmp want rc.c &&
	grep "^.nosuch. isn.t a directory!$" out.c
'

test_expect_success RDIFF 'setup: an rdiff-backup repository with two increments' '
	mkdir -p rsrc/d && echo one >rsrc/d/f && lcg 3 80000 >rsrc/big &&
	rdiff-backup rsrc rdb >/dev/null 2>&1 &&
	sleep 1 &&
	echo two >rsrc/d/f && echo new >rsrc/new &&
	rdiff-backup rsrc rdb >/dev/null 2>&1 &&
	rdiff-backup --list-increments --parsable-output rdb >incs &&
	test $(wc -l <incs) = 2
'

test_expect_success RDIFF,BUP 'import-rdiff-backup: one save per increment, as bup' '
	rm -rf c b && cbup -d c init >/dev/null 2>&1 &&
	bup -d b init >/dev/null 2>&1 &&
	cbup -d "$TRASH/c" import-rdiff-backup rdb imp >out.c 2>err.c &&
	bup -d "$TRASH/b" import-rdiff-backup rdb imp >out.b 2>err.b &&
	grep "^Importing backup from .*  (2 / 2)$" err.c &&
	history c imp | cut -d" " -f1 >d.c &&
	history b imp | cut -d" " -f1 >d.b &&
	test_cmp d.b d.c &&
	cut -d" " -f1 incs >d.want && test_cmp d.want d.c &&
	cbup -d c ls -A imp/latest >ls.c && bup -d b ls -A imp/latest >ls.b &&
	test_cmp ls.b ls.c &&
	rm -rf r && cbup -d c restore -C r /imp/latest >/dev/null &&
	diff -r rsrc r/latest &&
	first=$(cbup -d c ls imp | sed -n 1p) &&
	rm -rf r && cbup -d c restore -C r "/imp/$first" >/dev/null &&
	echo one >want && test_cmp want r/$first/d/f &&
	! test -e r/$first/new &&
	test -z "$(find . -maxdepth 1 -type d -name "import-rdiff-backup-*")"
'

test_expect_success RDIFF 'import-rdiff-backup -n: bup commands printed, none run' '
	rm -rf c && cbup -d c init >/dev/null 2>&1 &&
	cbup -d "$TRASH/c" import-rdiff-backup -n rdb imp >out 2>err &&
	test $(grep -c " index -ux -f import-rdiff-backup-idx-" out) = 2 &&
	test $(grep -c " save --strip --date=[0-9]* -f import-rdiff-backup-idx-.* -n imp import-rdiff-backup-" out) = 2 &&
	test_must_fail git --git-dir=c rev-parse -q --verify imp
'

test_expect_success RDIFF 'import-rdiff-backup errors: usage, missing root, not a repository' '
	test_expect_code 1 cbup import-rdiff-backup only-one >out &&
	grep "^Usage: bup import-rdiff-backup \[-n\] <path to rdiff-backup root> <backup name>$" out &&
	test_expect_code 1 cbup import-rdiff-backup nosuch x >out &&
	grep "^.nosuch. isn.t a directory!$" out &&
	mkdir -p plain &&
	test_must_fail cbup import-rdiff-backup plain x 2>err &&
	grep "rdiff-backup failed" err
'

test_expect_success DUPLICITY,BUP 'import-duplicity: one save per backup set, as bup' '
	mkdir -p dsrc && echo one >dsrc/f && lcg 4 30000 >dsrc/big &&
	PASSPHRASE=p duplicity --archive-dir "$TRASH/dcache" dsrc file://dup \
		>/dev/null 2>&1 &&
	sleep 1 &&
	echo two >dsrc/f &&
	PASSPHRASE=p duplicity --archive-dir "$TRASH/dcache" dsrc file://dup \
		>/dev/null 2>&1 &&
	rm -rf c b && cbup -d c init >/dev/null 2>&1 &&
	bup -d b init >/dev/null 2>&1 &&
	PASSPHRASE=p cbup -d "$TRASH/c" import-duplicity file://dup imp \
		>out.c 2>err.c &&
	PASSPHRASE=p bup -d "$TRASH/b" import-duplicity file://dup imp \
		>out.b 2>err.b &&
	grep "^bup: import-duplicity is EXPERIMENTAL (proceed with caution)$" err.c &&
	grep "^duplicity --archive-dir /.*/dup-cache restore -t [0-9T]*Z .file://dup. /.*/restore$" err.c &&
	history c imp | cut -d" " -f1 >d.c &&
	history b imp | cut -d" " -f1 >d.b &&
	test_cmp d.b d.c && test $(wc -l <d.c) = 2 &&
	rm -rf r && cbup -d c restore -C r /imp/latest >/dev/null &&
	diff -r dsrc r/latest
'

test_expect_success BUP 'import-duplicity usage errors: bup'"'"'s messages' '
	for a in "" "url" "url name extra"; do
		record_rc rc.b bup -d "$TRASH/b" import-duplicity $a 2>err.b &&
		record_rc rc.c cbup -d "$TRASH/c" import-duplicity $a 2>err.c &&
		test_cmp rc.b rc.c && test_cmp err.b err.c || return 1
	done &&
	echo 97 >want && test_cmp want rc.c
'

test_done
