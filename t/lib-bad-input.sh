# Helpers shared by the bad-input tests (t9000, t9010): run a command with
# a time limit and classify its end, and check that a repository is still
# consistent after a failure.  Source after test-lib.sh.

# Sanitizer builds report errors with exit status 1 by default, which
# would pass for a controlled failure: make them abort instead, and also
# look for their reports on stderr (below).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}abort_on_error=1:print_stacktrace=1"

CBUP_TIMEOUT=${CBUP_TIMEOUT:-60}

# run_limited CMD...: run with a time limit; stdout to ./out, stderr to
# ./err (also copied to our stderr so a failing test shows it).  Sets
# run_rc.  Returns 1 (with a reason) for a hang, a signal, a sanitizer
# report or a command that was not found, else 0.
run_limited() {
	timeout -k 5 "$CBUP_TIMEOUT" "$@" >out 2>err
	run_rc=$?
	sed -n '1,20p' err >&2
	case $run_rc in
	124|137)
		echo >&2 "run_limited: hung, killed after ${CBUP_TIMEOUT}s: $*"
		return 1 ;;
	126|127)
		echo >&2 "run_limited: could not run: $*"
		return 1 ;;
	esac
	if [ $run_rc -gt 128 ]; then
		echo >&2 "run_limited: died by signal $((run_rc - 128)): $*"
		return 1
	fi
	if grep -q -e 'Sanitizer' -e 'runtime error:' -e '^BUG' err; then
		echo >&2 "run_limited: sanitizer report or BUG: $*"
		return 1
	fi
	return 0
}

# fails_cleanly CMD...: CMD must exit non-zero, without a hang, signal or
# sanitizer report, and say something on stderr.
fails_cleanly() {
	run_limited "$@" || return 1
	if [ $run_rc = 0 ]; then
		echo >&2 "fails_cleanly: command succeeded: $*"
		return 1
	fi
	if ! [ -s err ]; then
		echo >&2 "fails_cleanly: no message on stderr: $*"
		return 1
	fi
	return 0
}

# err_mentions STRING...: stderr of the last run names one of the strings
# (a file name, an object id).
err_mentions() {
	for s in "$@"; do
		grep -q -F -e "$s" err && return 0
	done
	echo >&2 "err_mentions: stderr names none of: $*"
	return 1
}

# ok_or_fails_cleanly CMD...: for damage a reader may legitimately work
# around (a midx or bloom is only an accelerator): success, or a clean
# failure.  Sets run_rc; the caller checks the output when run_rc = 0.
ok_or_fails_cleanly() {
	run_limited "$@" || return 1
	if [ $run_rc != 0 ] && ! [ -s err ]; then
		echo >&2 "ok_or_fails_cleanly: failed without a message: $*"
		return 1
	fi
	return 0
}

# snapshot_repo FILE: checksums of every pack, idx and ref of $BUP_DIR, so
# a reading command can be shown to have changed nothing that matters.
snapshot_repo() {
	(cd "$BUP_DIR" &&
	 find objects/pack refs packed-refs -type f \
		\( -name '*.pack' -o -name '*.idx' -o -path 'refs/*' \
		   -o -name packed-refs \) 2>/dev/null |
	 LC_ALL=C sort | xargs -r sha1sum) >"$1"
}

# repo_consistent: no half-written pack is visible, every pack verifies,
# no temporary or lock file is left behind, and git fsck is clean
# (dangling objects from an aborted run are allowed: fsck exits 0).
repo_consistent() {
	(
	cd "$BUP_DIR" || exit 1
	st=0
	for f in objects/pack/*.pack objects/pack/*.idx; do
		[ -e "$f" ] || continue
		case $f in
		*.pack) [ -e "${f%.pack}.idx" ] || {
			echo >&2 "repo_consistent: $f has no idx"; st=1; } ;;
		*.idx) [ -e "${f%.idx}.pack" ] || {
			echo >&2 "repo_consistent: $f has no pack"; st=1; }
		       git verify-pack "$f" >/dev/null || {
			echo >&2 "repo_consistent: $f does not verify"; st=1; } ;;
		esac
	done
	for f in objects/pack-tmp-* objects/pack/*.tmp objects/pack/tmp_* \
		 objects/pack/*.tmp-* objects/pack/*cbup@* \
		 objects/pack/bup.tmp.bloom objects/pack/*-*/pending; do
		[ -e "$f" ] && { echo >&2 "repo_consistent: left behind: $f"; st=1; }
	done
	locks=$(find refs logs -name '*.lock' 2>/dev/null)
	[ -z "$locks" ] || { echo >&2 "repo_consistent: locks left: $locks"; st=1; }
	git fsck --no-progress >"$TRASH/fsck.out" 2>&1 || {
		cat "$TRASH/fsck.out" >&2; echo >&2 "repo_consistent: git fsck failed"
		st=1; }
	if grep -E -e '^(error|fatal)' -e '^(missing|broken)' "$TRASH/fsck.out" >&2; then
		echo >&2 "repo_consistent: git fsck reports damage"; st=1
	fi
	exit $st
	)
}
