#!/bin/sh
# The durability order of what a writer makes visible (DEVELOPERS.md,
# "Rules that bite"; src/lib/store/packwriter.c): pack data synced, idx synced,
# both renamed into objects/pack, objects/pack synced, and only then the
# ref written, synced, renamed and refs/heads synced.  Otherwise a power
# cut can keep a ref whose pack is lost.  Each case runs a command under
# strace and t/helper/sync-order checks the order from the trace: a first
# save (midx and bloom written through renames), a small save after it
# (bloom updated in place: no rename of its own to sync objects/pack), a
# save finishing several packs on worker threads, split -n, and a save
# through a local server (-r :PATH).
. "$(dirname "$0")/test-lib.sh"

# strace -y prints real paths: the repository's must have no symlink
R=$(cd "$TRASH" && pwd -P)/repo
export BUP_DIR="$R"
CHECK="$TOP/t/helper/sync-order"

# (LeakSanitizer cannot run under ptrace: a sanitizer build is traced
# without it)
traced() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -y -o "$TRASH/trace" \
		-e trace=fsync,fdatasync,rename,renameat,renameat2 "$@"
}

test_expect_success 'setup' '
	cbup init >/dev/null 2>&1 &&
	mkdir src && lcg 1 2000000 >src/a && echo one >src/one &&
	cbup index src >/dev/null
'

test_expect_success STRACE 'first save: packs, midx, bloom, then the ref' '
	traced cbup save -n s src &&
	"$CHECK" "$R" "$TRASH/trace" &&
	git --git-dir="$R" rev-parse --verify -q s >/dev/null
'

test_expect_success STRACE 'a small save after it (bloom grown in place)' '
	echo two >src/two && cbup index src >/dev/null &&
	traced cbup save -n s src &&
	grep "^[0-9]* *fdatasync([0-9]*<$R/objects/pack/bup.bloom>) = 0" \
		"$TRASH/trace" >/dev/null &&
	"$CHECK" "$R" "$TRASH/trace" &&
	git --git-dir="$R" rev-parse --verify -q s~1 >/dev/null
'

test_expect_success STRACE 'several packs finished on worker threads' '
	git --git-dir="$R" config pack.packSizeLimit 400000 &&
	lcg 2 1500000 >src/b && cbup index src >/dev/null &&
	CBUP_THREADS=2 traced cbup save -n s src &&
	git --git-dir="$R" config --unset pack.packSizeLimit &&
	test $(grep -c "rename(.*\.pack\") = 0" "$TRASH/trace") -ge 3 &&
	"$CHECK" "$R" "$TRASH/trace"
'

test_expect_success STRACE 'split -n' '
	lcg 3 300000 >data &&
	traced cbup split -n sp data &&
	"$CHECK" "$R" "$TRASH/trace" &&
	git --git-dir="$R" rev-parse --verify -q sp >/dev/null
'

test_expect_success STRACE 'a save through a local server (-r :PATH)' '
	echo three >src/three && cbup index src >/dev/null &&
	traced cbup save -r ":$R" -n s src &&
	"$CHECK" "$R" "$TRASH/trace" &&
	git --git-dir="$R" rev-parse --verify -q s~2 >/dev/null
'

test_expect_success 'the checker rejects a trace out of order' '
	p="$R/objects/pack" &&
	cat >bad-trace <<-EOF &&
	1 fdatasync(5<$R/objects/pack-tmp-x/pack>) = 0
	1 fdatasync(6<$R/objects/pack-tmp-x/idx>) = 0
	1 rename("$R/objects/pack-tmp-x/pack", "$p/pack-01.pack") = 0
	1 rename("$R/objects/pack-tmp-x/idx", "$p/pack-01.idx") = 0
	1 fsync(7<$R/objects>) = 0
	1 fsync(5<$R/refs/heads/s.lock>) = 0
	1 rename("$R/refs/heads/s.lock", "$R/refs/heads/s") = 0
	1 fsync(5<$p>) = 0
	EOF
	test_expect_code 1 "$CHECK" "$R" bad-trace >out &&
	grep "^sync-order: $p not synced between renaming $p/pack-01.pack and the ref rename on trace line 7\$" out &&
	grep "^sync-order: ref directory not synced after renaming $R/refs/heads/s\$" out
'

test_done
