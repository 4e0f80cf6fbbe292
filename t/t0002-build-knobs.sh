#!/bin/sh
# The Makefile's knobs, on a stub tree of three tiny sources built with
# the project's Makefile (cheap: no real build): CC= rebuilds with that
# compiler, O= builds into that directory, SANITIZE= builds a sanitized
# binary in $(O)-san after a plain build, changed CFLAGS rebuild, and
# make install honours PREFIX, DESTDIR and BUP_SYMLINK.
. "$(dirname "$0")/test-lib.sh"

# (under "make SANITIZE=... check" the outer make's variables would reach
# the stub's make through MAKEFLAGS and the environment)
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES SANITIZE O CC CFLAGS LDFLAGS

test_declare_prereq CLANG
if command -v clang >/dev/null; then test_set_prereq CLANG; fi

# by_clang BIN: clang compiled some of BIN (its .comment section names
# the compilers; gcc's start-up files are there whatever CC was)
by_clang() {
	readelf -p .comment "$1" | grep -qi clang
}

test_expect_success 'setup: a stub tree with the real Makefile' '
	mkdir -p stub/src/lib/util stub/src/cmd stub/src/platform stub/scripts &&
	cp "$TOP/Makefile" stub/ &&
	printf "#!/bin/sh\nexit 0\n" >stub/scripts/install-deps &&
	chmod +x stub/scripts/install-deps &&
	printf "int stub_lib(void);\nint main(void) { return stub_lib(); }\n" \
		>stub/src/main.c &&
	printf "int stub_cli(void);\nint stub_cli(void) { return 0; }\n" \
		>stub/src/cli.c &&
	printf "int stub_lib(void);\nint stub_lib(void) { return 0; }\n" \
		>stub/src/lib/util/stub.c &&
	make -C stub -j2 >out 2>&1 &&
	test -x stub/build/cbup && stub/build/cbup &&
	test "$(readlink stub/cbup)" = build/cbup
'

test_expect_success CLANG 'make CC=clang after a gcc build rebuilds with clang' '
	make -C stub -j2 CC=gcc >out 2>&1 &&
	test_must_fail by_clang stub/build/cbup &&
	make -C stub -j2 CC=clang >out 2>&1 &&
	grep "^clang .* -c -o build/src/lib/util/stub.o" out &&
	by_clang stub/build/cbup
'

test_expect_success 'changed CFLAGS rebuild; the same ones do not' '
	make -C stub -j2 CC=gcc CFLAGS=-O1 >out 2>&1 &&
	grep "gcc .* -O1 .*-c -o build/src/main.o" out &&
	make -C stub -j2 CC=gcc CFLAGS=-O1 >out 2>&1 &&
	test_must_fail grep " -c -o " out
'

test_expect_success 'make SANITIZE=... after a plain build builds $(O)-san' '
	make -C stub -j2 CC=gcc >out 2>&1 &&
	make -C stub -j2 CC=gcc SANITIZE=address,undefined >out 2>&1 &&
	test -x stub/build-san/cbup &&
	nm stub/build-san/cbup | grep -q __asan_init &&
	test "$(readlink stub/cbup)" = build/cbup
'

test_expect_success 'make O=DIR builds into DIR' '
	make -C stub -j2 O="$TRASH/elsewhere" >out 2>&1 &&
	test -x "$TRASH/elsewhere/cbup" &&
	test -f "$TRASH/elsewhere/src/lib/util/stub.o"
'

test_expect_success 'make install: PREFIX, DESTDIR, the bup link only on request' '
	mkdir -p stub/docs/man &&
	echo ".TH CBUP 1" >stub/docs/man/cbup.1 &&
	make -C stub install PREFIX=/opt/c DESTDIR="$TRASH/dest" >out 2>&1 &&
	test -x dest/opt/c/bin/cbup &&
	test -f dest/opt/c/share/man/man1/cbup.1 &&
	test_must_fail test -e dest/opt/c/bin/bup &&
	make -C stub install PREFIX=/opt/c DESTDIR="$TRASH/dest" \
		BUP_SYMLINK=1 >out 2>&1 &&
	test "$(readlink dest/opt/c/bin/bup)" = cbup
'

test_done
