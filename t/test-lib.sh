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
TESTVECTORS=${CBUP_TESTVECTORS:-$TOP/t/vectors}
export CBUP TESTVECTORS

# (make check makes $CBUP_TRASH_ROOT/NAME for each script before they
# run: see the Makefile's check target)
if [ -n "${CBUP_TRASH_ROOT:-}" ] && [ -d "$CBUP_TRASH_ROOT/$TEST_NAME" ]; then
	TRASH=$(mktemp -d "$CBUP_TRASH_ROOT/$TEST_NAME/cbup-$TEST_NAME.XXXXXX")
else
	TRASH=$(mktemp -d "${TMPDIR:-/tmp}/cbup-$TEST_NAME.XXXXXX")
fi
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
BUP=$(command -v bup) || BUP=
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

# Prerequisites.  Those that scripts/install-deps installs are the
# README's set-up: under "make check" (CBUP_TEST_REQUIRE_PREREQS=1) a
# missing one fails the test instead of skipping it, so that a machine
# that lacks them cannot pass by skipping.  The others (ROOT, a file
# system's features, the ones a script sets with test_set_prereq) skip,
# with the reason on the TAP line.
test_prereqs_set_=" "
test_set_prereq() {
	test_prereqs_set_="$test_prereqs_set_$1 "
}

# test_prereq_installable_ NAME: the package that provides NAME, if
# scripts/install-deps installs it.
test_prereq_installable_() {
	case "$1" in
	BUP) echo bup ;;
	GIT) echo git ;;
	PYTHON) echo python3 ;;
	ACL) echo acl ;;
	ATTR) echo attr ;;
	PAR2) echo par2 ;;
	SSHD) echo openssh-server ;;
	STRACE) echo strace ;;
	RDIFF) echo rdiff-backup ;;
	DUPLICITY) echo duplicity ;;
	CURL) echo curl ;;
	TORNADO) echo python3-tornado ;;
	CHROMIUM) echo chromium ;;
	*) return 1 ;;
	esac
}

test_have_one_prereq_() {
	case "$1" in
	BUP) [ -n "$BUP" ] ;;
	GIT) command -v git >/dev/null ;;
	PYTHON) command -v python3 >/dev/null ;;
	ROOT) [ "$(id -u)" = 0 ] ;;
	NOT_ROOT) [ "$(id -u)" != 0 ] ;;
	ACL) command -v setfacl >/dev/null ;;
	ATTR) command -v setfattr >/dev/null ;;
	PAR2) command -v par2 >/dev/null ;;
	SSHD) [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null &&
		command -v ssh-keygen >/dev/null ;;
	STRACE) command -v strace >/dev/null ;;
	RDIFF) command -v rdiff-backup >/dev/null ;;
	DUPLICITY) command -v duplicity >/dev/null ;;
	CURL) command -v curl >/dev/null ;;
	TORNADO) /usr/bin/python3 -c "import tornado" 2>/dev/null ;;
	CHROMIUM) command -v chromium >/dev/null ;;
	EXPENSIVE) [ -n "${CBUP_TEST_EXPENSIVE:-}" ] ;;
	*)
		case "$test_prereqs_set_" in
		*" $1 "*) return 0 ;;
		esac
		test_prereq_installable_ "$1" >/dev/null && return 1
		# a script's own prerequisite that it did not set
		case " ${test_prereqs_known_:-} " in
		*" $1 "*) return 1 ;;
		esac
		echo >&2 "test-lib: unknown prerequisite $1"
		return 2 ;;
	esac
}

# test_have_prereq LIST: all of the comma-separated prerequisites hold.
# Sets test_missing_ (the first that does not) and
# test_missing_required_ (non-empty when it is one the set-up installs
# and make check requires).
test_have_prereq() {
	test_missing_=
	test_missing_required_=
	for p in $(echo "$1" | tr ',' ' '); do
		test_have_one_prereq_ "$p"
		case $? in
		0) continue ;;
		2) test_missing_="$p (an unknown prerequisite)"
		   test_missing_required_="nothing: fix the test" ;;
		*) test_missing_=$p
		   if [ -n "${CBUP_TEST_REQUIRE_PREREQS:-}" ] &&
		      pkg=$(test_prereq_installable_ "$p"); then
			   test_missing_required_=$pkg
		   fi ;;
		esac
		return 1
	done
	return 0
}

# test_skip_all_unless LIST: the whole script needs these prerequisites;
# without them it is skipped with the reason, or under make check fails
# when the set-up would have installed what is missing.
test_skip_all_unless() {
	test_have_prereq "$1" && return 0
	if [ -n "$test_missing_required_" ]; then
		say "1..1"
		say "not ok 1 - missing $test_missing_: run scripts/install-deps," \
			"which installs $test_missing_required_"
		exit 1
	fi
	say "1..0 # SKIP missing $test_missing_"
	exit 0
}

# test_declare_prereq NAME...: prerequisites the script may set later
# with test_set_prereq (a typo in a prerequisite is an error).
test_declare_prereq() {
	test_prereqs_known_="${test_prereqs_known_:-} $*"
}

# The TAP line for a test whose prerequisites do not hold: a skip with
# the reason, or under make check a failure when the set-up would have
# installed what is missing.
test_skip_() {
	if [ -n "$test_missing_required_" ]; then
		say "not ok $test_count - $1 (missing $test_missing_: run" \
			"scripts/install-deps, which installs $test_missing_required_)"
		test_failed=$((test_failed + 1))
	else
		say "ok $test_count # skip $1 (missing $test_missing_)"
		test_skipped=$((test_skipped + 1))
	fi
}

LF='
'

# git's chain-lint: a body is run once behind "(exit 117) &&" before it
# runs for real.  With every command joined by "&&" the whole chain is
# skipped and 117 comes out; a ";" or a bare newline lets the rest run
# and another status comes out.  Such a body could pass with any of its
# earlier commands failing, so it is an error of the test itself, and
# the body is not run.  (A break inside a subshell, brace group or loop
# is t/chainlint's to find, statically.)
test_chain_lint_() {
	[ -n "${CBUP_TEST_NO_CHAIN_LINT:-}" ] && return 0
	# (the status is echoed to fd 3: a run-away here-doc that swallows
	# the echo shows as a break too)
	test_lint_out_=$( ( eval "(exit 117) && $1${LF}${LF}echo OK-\$? >&3" ) \
		3>&1 >/dev/null 2>&1 </dev/null)
	[ "$test_lint_out_" = OK-117 ]
}

test_run_() {
	# Run the body in a subshell of this shell so failures stay contained;
	# output is captured and shown only on failure (or with TEST_VERBOSE).
	out="$TRASH/.test-output"
	if ! test_chain_lint_ "$1"; then
		say "# BUG in the test: broken &&-chain (a ';' or newline where" \
			"'&&' belongs): $1" | sed '2,$s/^/# /'
		return 1
	fi
	[ -n "${CBUP_TEST_LINT_ONLY:-}" ] && return 0
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
		test_skip_ "$1"
		return 0
	fi
	test_honest_begin_
	if test_run_ "$2"; then
		say "ok $test_count - $1"
		test_honest_end_ ok "$1"
	else
		say "not ok $test_count - $1"
		test_failed=$((test_failed + 1))
		test_honest_end_ fail "$1"
	fi
}

# make check-honest (scripts/check-honest) runs the scripts with a
# stand-in cbup that always fails and logs each run to
# $CBUP_HONEST_LOG; each case's result, and whether it ran cbup, goes
# to $CBUP_HONEST_RESULTS for the driver to judge.
test_honest_begin_() {
	[ -n "${CBUP_HONEST_RESULTS:-}" ] || return 0
	test_honest_runs_=$(wc -l <"$CBUP_HONEST_LOG")
}
test_honest_end_() {
	[ -n "${CBUP_HONEST_RESULTS:-}" ] || return 0
	if [ "$(wc -l <"$CBUP_HONEST_LOG")" != "$test_honest_runs_" ]; then
		ran=cbup
	else
		ran=no-cbup
	fi
	printf '%s\t%s\t%s\t%s\n' "$TEST_NAME" "$1" "$ran" "$2" \
		>>"$CBUP_HONEST_RESULTS"
}

test_expect_failure() {
	prereq=
	if [ $# = 3 ]; then prereq=$1; shift; fi
	test_count=$((test_count + 1))
	if [ -n "$prereq" ] && ! test_have_prereq "$prereq"; then
		test_skip_ "$1"
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
	fi
	test_no_crash_ test_must_fail "$@"
}

# test_no_crash_ WHO CMD...: $rc, CMD's status, is not a death by a
# signal nor "command not found" (says so on stderr, as WHO, if it is)
test_no_crash_() {
	test_no_crash_who_=$1; shift
	if [ $rc -gt 128 ] && [ $rc -le 192 ]; then
		echo >&2 "$test_no_crash_who_: died by signal $((rc - 128)): $*"
		return 1
	elif [ $rc = 127 ]; then
		echo >&2 "$test_no_crash_who_: command not found: $*"
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

# record_rc FILE CMD...: run CMD and write its exit status to FILE, so
# that two tools' statuses can be compared with test_cmp.  Succeeds
# unless CMD died by a signal or was not found.
record_rc() {
	record_rc_file_=$1; shift
	"$@"
	rc=$?
	echo $rc >"$record_rc_file_"
	test_no_crash_ record_rc "$@"
}

test_cmp() {
	diff -u "$1" "$2"
}

# Generate n bytes of the LCG stream of t/vectors/README.md section 1.
lcg() {
	"$CBUP_BUILD/test-tool" lcg "$1" "$2"
}

test_done() {
	say "1..$test_count"
	say "# passed $((test_count - test_failed - test_broken - test_skipped)), failed $test_failed, skipped $test_skipped, known broken $test_broken"
	[ $test_failed = 0 ]
	exit $?
}
