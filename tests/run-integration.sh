#!/usr/bin/env bash
# Run every tests/integration/test_*.sh against the binaries of BUILD.
#
#   tests/run-integration.sh [BUILD]          (default build)
#
# Each script exits 0 (pass), 77 (skip) or anything else (fail); its output is shown when it
# fails or skips. Without root every script is counted as skipped. Ends with
# "integration tests (BUILD): N passed, N failed[, N skipped]"; if TS_RESULTS is set, appends
# "PASSED FAILED SKIPPED" to that file.
set -uo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export TS_BUILD=$build
per_test_timeout=${TS_INTEGRATION_TIMEOUT:-600}

passed=0
failed=0
skipped=0
shopt -s nullglob
scripts=(tests/integration/test_*.sh)

if [[ $(id -u) -ne 0 ]]; then
    echo "integration tests skipped: need root for network namespaces and taps"
    skipped=${#scripts[@]}
else
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    for s in "${scripts[@]}"; do
        name=$(basename "$s" .sh)
        start=$SECONDS
        # Its own process group, so a timeout kills whatever the script started too; the script's
        # own trap removes its namespace on TERM.
        timeout --kill-after=20 "$per_test_timeout" bash "$s" >"$tmp" 2>&1
        rc=$?
        secs=$((SECONDS - start))
        case $rc in
        0)
            passed=$((passed + 1))
            echo "PASS $name (${secs}s)"
            ;;
        77)
            skipped=$((skipped + 1))
            echo "SKIP $name: $(grep -m1 '^SKIP' "$tmp" | sed 's/^SKIP: [^:]*: //')"
            ;;
        *)
            failed=$((failed + 1))
            [[ $rc -eq 124 ]] && echo "FAIL $name: timed out after ${per_test_timeout}s" ||
                echo "FAIL $name (exit status $rc, ${secs}s)"
            tail -n 150 "$tmp"
            ;;
        esac
    done
fi

line="integration tests ($build): $passed passed, $failed failed"
[[ $skipped -gt 0 ]] && line+=", $skipped skipped"
echo "$line"
[[ -n ${TS_RESULTS:-} ]] && echo "$passed $failed $skipped" >>"$TS_RESULTS"
[[ $failed -eq 0 ]]
