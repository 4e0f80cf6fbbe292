# Shell harness for end-to-end tests, in git's t/ style, emitting TAP.
#
#   . ./test-lib.sh          (from t/ or t/interop/; sets $CBUP, $BUP)
#   test_expect_success 'title' 'commands chained with &&'
#   test_expect_failure ...  (known breakage; does not fail the run)
#   test_must_fail cmd       (non-zero exit, but not a crash: >128 fails)
#   test_expect_code N cmd
#   test_cmp expected actual
#   test_have_prereq BUP|ROOT|NOT_ROOT|GIT|ACL  /  prereq list on a test:
#   test_expect_success BUP 'title' 'body'
#   test_done
#
# Each script runs in its own trash directory with HOME and BUP_DIR inside
# it; the binary under test is "$CBUP" (also reachable as "cbup" on PATH,
# plus a "bup" symlink dir in $CBUP_AS_BUP_DIR for stand-in tests).

set -u
TEST_NAME=$(basename "$0" .sh)
TEST_SRCDIR=$(cd "$(dirname "$0")" && pwd)
case "$TEST_SRCDIR" in
*/t/interop) TOP=$(cd "$TEST_SRCDIR/../.." && pwd) ;;
*) TOP=$(cd "$TEST_SRCDIR/.." && pwd) ;;
esac
CBUP_BUILD=${CBUP_BUILD:-$TOP/build}
CBUP="$CBUP_BUILD/cbup"
TESTVECTORS=${CBUP_TESTVECTORS:-$TOP/../shared/testvectors}
export CBUP TESTVECTORS

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/cbup-$TEST_NAME.XXXXXX")
mkdir -p "$TRASH/home" "$TRASH/bin"
ln -s "$CBUP" "$TRASH/bin/cbup"
export HOME="$TRASH/home"
export BUP_DIR="$TRASH/repo"
export GIT_CONFIG_NOSYSTEM=1
export TZ=UTC LC_ALL=C
# (modes of what the tests make must not depend on the caller's umask:
# some cases run as nobody and compare modes with bup's)
umask 022
unset BUP_FORCE_TTY BUP_TTY_WIDTH BUP_DEBUG
PATH="$TRASH/bin:$PATH"
BUP=$(command -v bup || true)
cd "$TRASH" || exit 1

test_count=0
test_failed=0
test_fixed=0
test_broken=0
test_skipped=0
test_verbose=${TEST_VERBOSE:-}

cleanup_trash() {
	cd /
	[ -n "${KEEP_TRASH:-}" ] || rm -rf "$TRASH"
}
trap cleanup_trash EXIT

say() { printf '%s\n' "$*"; }

test_have_prereq() {
	for p in $(echo "$1" | tr ',' ' '); do
		case "$p" in
		BUP) [ -n "$BUP" ] || return 1 ;;
		GIT) command -v git >/dev/null || return 1 ;;
		ROOT) [ "$(id -u)" = 0 ] || return 1 ;;
		NOT_ROOT) [ "$(id -u)" != 0 ] || return 1 ;;
		ACL) command -v setfacl >/dev/null || return 1 ;;
		PAR2) command -v par2 >/dev/null || return 1 ;;
		EXPENSIVE) [ -n "${CBUP_TEST_EXPENSIVE:-}" ] || return 1 ;;
		*) say "# unknown prereq $p"; return 1 ;;
		esac
	done
	return 0
}

test_run_() {
	# Run the body in a subshell of this shell so failures stay contained;
	# output is captured and shown only on failure (or with TEST_VERBOSE).
	out="$TRASH/.test-output"
	( eval "$1" ) >"$out" 2>&1
	test_rc_=$?
	if [ -n "$test_verbose" ] || [ $test_rc_ != 0 ]; then
		sed 's/^/# /' "$out" | tail -n 40
	fi
	return $test_rc_
}

test_expect_success() {
	prereq=
	if [ $# = 3 ]; then prereq=$1; shift; fi
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		say "ok $test_count # skip $1 (missing $prereq)"
		test_skipped=$((test_skipped + 1))
		return 0
	fi
	if test_run_ "$2"; then
		say "ok $test_count - $1"
	else
		say "not ok $test_count - $1"
		test_failed=$((test_failed + 1))
	fi
}

test_expect_failure() {
	prereq=
	if [ $# = 3 ]; then prereq=$1; shift; fi
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		say "ok $test_count # skip $1 (missing $prereq)"
		return 0
	fi
	if test_run_ "$2"; then
		say "ok $test_count - $1 # TODO known breakage vanished"
		test_fixed=$((test_fixed + 1))
	else
		say "not ok $test_count - $1 # TODO known breakage"
		test_broken=$((test_broken + 1))
	fi
}

# Fails on success and on a crash (signal), passes on a controlled failure.
test_must_fail() {
	"$@"
	rc=$?
	if [ $rc = 0 ]; then
		echo >&2 "test_must_fail: command succeeded: $*"
		return 1
	elif [ $rc -gt 128 ] && [ $rc -le 192 ]; then
		echo >&2 "test_must_fail: died by signal $((rc - 128)): $*"
		return 1
	elif [ $rc = 127 ]; then
		echo >&2 "test_must_fail: command not found: $*"
		return 1
	fi
	return 0
}

test_expect_code() {
	want=$1; shift
	"$@"
	rc=$?
	if [ $rc != "$want" ]; then
		echo >&2 "test_expect_code: want $want, got $rc: $*"
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

# Generate n bytes of the LCG stream of TEST-VECTORS.md section 1.
lcg() {
	"$CBUP_BUILD/test-tool" lcg "$1" "$2"
}

test_done() {
	say "1..$test_count"
	say "# passed $((test_count - test_failed - test_broken - test_skipped)), failed $test_failed, skipped $test_skipped, known broken $test_broken"
	[ $test_failed = 0 ]
	exit $?
}
