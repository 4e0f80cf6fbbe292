#!/bin/sh
# prove wrapper: the unit-test binary already speaks TAP.
cd "$(dirname "$0")/.." || exit 1
exec "${CBUP_BUILD:-build}/unit-tests"
