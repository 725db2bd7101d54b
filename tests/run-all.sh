#!/usr/bin/env bash
# Everything `make test` runs: the normal build with its unit and integration tests, then the
# AddressSanitizer + UndefinedBehaviorSanitizer build with the same tests. Ends with one line
# "N passed, N failed" (", N skipped" when some were) and a non-zero status if anything failed.
# A build that fails counts as one failed test.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

tools/deps.sh test || {
    echo "0 passed, 1 failed"
    exit 1
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
export TS_RESULTS=$results

phase() { echo; echo "==== $* ===="; }

phase "build"
if make -j2 all; then
    phase "unit tests"
    tests/run-unit.sh build
    phase "integration tests"
    tests/run-integration.sh build
else
    echo "0 1 0" >>"$results"
fi

phase "sanitizer build (ASan + UBSan)"
if make -j2 SAN=1 all; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export TS_SAN=1
    phase "unit tests (sanitizers)"
    tests/run-unit.sh build/san
    phase "integration tests (sanitizers)"
    tests/run-integration.sh build/san
else
    echo "0 1 0" >>"$results"
fi

read -r p f s < <(awk '{p += $1; f += $2; s += $3} END {print p + 0, f + 0, s + 0}' "$results")
echo
echo "make test took $((SECONDS / 60)) min $((SECONDS % 60)) s"
line="$p passed, $f failed"
[[ $s -gt 0 ]] && line+=", $s skipped"
echo "$line"
[[ $f -eq 0 ]]
