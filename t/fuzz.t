#!/bin/sh
# Replays every fuzz corpus (and saved crasher) through its target built
# with the standalone driver: one TAP line per target.
cd "$(dirname "$0")/.." || exit 1
B=${CBUP_BUILD:-build}
n=0; fail=0
for src in t/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=${src##*/fuzz_}; name=${name%.c}
	n=$((n + 1))
	mkdir -p "t/fuzz/corpus/$name"
	if "$B/fuzz/fuzz_$name" "t/fuzz/corpus/$name" >/dev/null 2>&1; then
		echo "ok $n - fuzz corpus $name"
	else
		echo "not ok $n - fuzz corpus $name"; fail=1
	fi
done
echo "1..$n"
exit $fail
