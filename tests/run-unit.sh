#!/usr/bin/env bash
# Run every unit test binary BUILD/tests/test_* (libcheck) and fuzz binary BUILD/tests/fuzz_*
# (no arguments: a deterministic run, one test each), the layer check of stack/ (`make
# deps-check`) and the shell tests tests/unit/test_*.sh.
#
#   tests/run-unit.sh [BUILD]          (default build)
#
# libcheck prints "NN%: Checks: N, Failures: F, Errors: E" for each suite runner; the checks are
# summed. A binary that crashes, exits non-zero with no failure counted, or prints no summary
# counts as one failure. The output of every failing binary is printed.
# Ends with "unit tests (BUILD): N passed, N failed"; if TS_RESULTS is set, appends
# "PASSED FAILED SKIPPED" to that file (tests/run-all.sh sums them).
set -uo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

# libcheck's per-test timeout (4 s by default) is a safety net against hangs, not a speed test:
# the sanitizer build on a loaded machine needs more.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
per_binary_timeout=${TS_UNIT_TIMEOUT:-600}

passed=0
failed=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

shopt -s nullglob
tests=("$build"/tests/test_* "$build"/tests/fuzz_*)
if [[ ${#tests[@]} -eq 0 ]]; then
    echo "run-unit: no test binaries in $build/tests (build them with: make -j2 all)" >&2
fi

for t in "${tests[@]}"; do
    [[ -x $t && ! -d $t ]] || continue
    [[ $t == *.d || $t == *.o ]] && continue
    name=$(basename "$t")
    timeout --signal=KILL "$per_binary_timeout" "$t" >"$tmp" 2>&1
    rc=$?
    if [[ $name == fuzz_* ]]; then
        # The deterministic run, then a replay of the corpus the coverage-guided campaigns kept
        # (tests/fuzz/corpus/NAME, `make fuzz`), each counted as one test.
        corpus=$root/tests/fuzz/corpus/$name
        for what in "" corpus; do
            if [[ $what == corpus ]]; then
                [[ -d $corpus ]] || continue
                timeout --signal=KILL "$per_binary_timeout" "$t" "$corpus" >"$tmp" 2>&1
                rc=$?
            fi
            if [[ $rc -eq 0 ]]; then
                passed=$((passed + 1))
                echo "PASS $name${what:+ ($what)}"
            else
                failed=$((failed + 1))
                echo "FAIL $name${what:+ ($what)} (exit status $rc)"
                tail -n 80 "$tmp"
            fi
        done
        continue
    fi
    # Sum every runner's summary line in this binary's output.
    read -r n f e < <(awk '
        match($0, /Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/) {
            s = substr($0, RSTART, RLENGTH); gsub(/[^0-9]+/, " ", s); split(s, v, " ")
            n += v[1]; f += v[2]; e += v[3]; seen = 1
        }
        END { if (seen) print n, f, e; else print -1, 0, 0 }' "$tmp")
    if [[ $n -lt 0 ]]; then
        failed=$((failed + 1))
        echo "FAIL $name (exit status $rc, no libcheck summary: crashed or not a check binary)"
        tail -n 80 "$tmp"
        continue
    fi
    bad=$((f + e))
    if [[ $rc -ne 0 && $bad -eq 0 ]]; then
        # Exited non-zero with every check passing: a sanitizer or leak report at exit.
        bad=1
    fi
    passed=$((passed + n - (f + e < n ? f + e : n)))
    failed=$((failed + bad))
    if [[ $bad -eq 0 ]]; then
        echo "PASS $name ($n checks)"
    else
        echo "FAIL $name ($n checks, $f failures, $e errors, exit status $rc)"
        grep -vE '^(Running suite|[0-9]+%: Checks)' "$tmp" | tail -n 120
    fi
done

# The layering of stack/ (`make deps-check`), one test; then the shell tests of tests/unit/,
# each "ok - NAME" line one test.
if tools/layers-check.py "$build" >"$tmp" 2>&1; then
    passed=$((passed + 1))
    echo "PASS deps-check ($(tail -n 1 "$tmp"))"
else
    failed=$((failed + 1))
    echo "FAIL deps-check"
    grep -E '^layers-check: ' "$tmp"
fi
for t in tests/unit/test_*.sh; do
    name=$(basename "$t" .sh)
    timeout --signal=KILL "$per_binary_timeout" "$t" "$build" >"$tmp" 2>&1
    rc=$?
    n=$(grep -c '^ok - ' "$tmp")
    f=$(grep -c '^not ok - ' "$tmp")
    [[ $rc -ne 0 && $f -eq 0 ]] && f=1
    passed=$((passed + n))
    failed=$((failed + f))
    if [[ $f -eq 0 ]]; then
        echo "PASS $name ($n checks)"
    else
        echo "FAIL $name ($n passed, $f failed, exit status $rc)"
        tail -n 60 "$tmp"
    fi
done

echo "unit tests ($build): $passed passed, $failed failed"
[[ -n ${TS_RESULTS:-} ]] && echo "$passed $failed 0" >>"$TS_RESULTS"
[[ $failed -eq 0 ]]
