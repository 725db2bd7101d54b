#!/usr/bin/env bash
# Coverage-guided fuzzing of every tests/fuzz/fuzz_*.c target (and the libFuzzer-only lf_*.c
# ones) with clang's libFuzzer, ASan and UBSan: `make fuzz` (FUZZ_TIME=seconds per target, default
# 60). Not part of `make test`, which runs the deterministic generator of tests/fuzz/main.c.
#
# Seeds come from tests/fuzz/corpus/NAME/ (read only: inputs worth keeping, crash inputs that
# were fixed included); what libFuzzer finds goes to build/libfuzzer/NAME-corpus/. A crash input
# is written to build/libfuzzer/ and fails the run; replay one with either build:
#   build/libfuzzer/NAME FILE            (libFuzzer binary)
#   build/tests/NAME FILE|DIR            (gcc build, tests/fuzz/main.c's replay mode)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-60}
out=build/libfuzzer
cc=${FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "libfuzzer: $cc not found (apt-get install clang)" >&2; exit 2; }
mkdir -p "$out"
rc=0
for src in tests/fuzz/fuzz_*.c tests/fuzz/lf_*.c; do
    name=$(basename "$src" .c)
    bin=$out/$name
    if [[ $name == lf_* ]]; then # libFuzzer only: on the unit tests' TCP fixture
        extra=(-Itests/fuzz/shim -Itests/unit tests/unit/tcp_fixture.c tests/unit/harness.c)
    else
        extra=(tests/fuzz/main.c)
    fi
    # shellcheck disable=SC2046
    "$cc" -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -DTS_LIBFUZZER -Iinclude -Istack \
        "${extra[@]}" "$src" $(ls stack/*.c stack/tcp/*.c stack/wire/*.c drivers/*.c) \
        -o "$bin" -lpthread -lm || { echo "libfuzzer: $name does not build" >&2; rc=1; continue; }
    mkdir -p "$out/$name-corpus" "tests/fuzz/corpus/$name"
    echo "libfuzzer: $name for $secs s"
    if ! "$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$out/$name-" -print_final_stats=1 \
        "$out/$name-corpus" "tests/fuzz/corpus/$name" >"$out/$name.log" 2>&1; then
        echo "FAIL libfuzzer $name: see $out/$name.log and $out/$name-crash-*" >&2
        tail -n 40 "$out/$name.log" >&2
        rc=1
    else
        echo "PASS libfuzzer $name ($(grep -o 'Done [0-9]* runs' "$out/$name.log"))"
    fi
done
exit $rc
