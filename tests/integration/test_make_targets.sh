#!/usr/bin/env bash
# The fresh-machine path of `make demo`, `make run` and `make test`: none of them compiles before
# tools/deps.sh has installed the packages (their recipes start with the script, which checks the
# packages first); demo and run build only what they run, never the unit tests (which need
# check.h from the libcheck package); and the package lists carry the C library headers
# (libc6-dev: gcc installed with --no-install-recommends has no stdint.h without it).
# (The whole path, on a real minimal Debian, is what tools/fresh-debian.sh proves in CI.)
. "$(dirname "$0")/lib.sh"

cd "$TS_ROOT" || ts_fail "no $TS_ROOT"
command -v make >/dev/null || ts_skip "no make"
clean=$TS_TMP/clean # an empty build directory: make -n shows everything a fresh clone would build
for t in demo run test; do
    lines=$(make -n --no-print-directory BUILD="$clean" "$t") || ts_fail "make -n $t failed"
    grep -qE '(^|[ /])(gcc|cc|clang)( |$)' <<<"$lines" && ts_fail "make $t compiles before installing: $lines"
done
[[ $(make -n --no-print-directory BUILD="$clean" demo) == tools/demo.sh* ]] || ts_fail "make demo does not start with tools/demo.sh"
[[ $(make -n --no-print-directory BUILD="$clean" run) == tools/run.sh* ]] || ts_fail "make run does not start with tools/run.sh"
grep -q 'tools/deps.sh demo' tools/demo.sh || ts_fail "tools/demo.sh does not check its packages"
grep -q 'tools/deps.sh run' tools/run.sh || ts_fail "tools/run.sh does not check its packages"
grep -q 'tools/deps.sh test' tests/run-all.sh || ts_fail "make test does not check its packages"

for t in demo-bins run-bins; do
    cmds=$(make -n --no-print-directory BUILD="$clean" "$t") || ts_fail "make -n $t failed"
    grep -qE 'tests/unit|tests/fuzz|pkg-config|-lcheck' <<<"$cmds" && ts_fail "make $t builds tests: $(grep -E 'tests/|pkg-config' <<<"$cmds" | head -n 3)"
    grep -q ' -o [^ ]*/bin/tapstack-' <<<"$cmds" || ts_fail "make $t builds no program"
done
demo_cmds=$(make -n BUILD="$clean" demo-bins)
run_cmds=$(make -n BUILD="$clean" run-bins)
for b in tapstack-sock tapstack-two-stacks tapstack-stat; do
    grep -q "bin/$b " <<<"$demo_cmds" || ts_fail "make demo-bins does not build $b"
done
for b in tapstack-httpd tapstack-echo-server tapstack-stat; do
    grep -q "bin/$b " <<<"$run_cmds" || ts_fail "make run-bins does not build $b"
done

for what in build demo run test; do
    pkgs=$(tools/deps.sh --list "$what") || ts_fail "tools/deps.sh --list $what failed"
    for p in make gcc libc6-dev; do
        grep -qx "$p" <<<"$pkgs" || ts_fail "tools/deps.sh $what does not install $p"
    done
done
for p in check pkg-config; do
    grep -qx "$p" <<<"$(tools/deps.sh --list test)" || ts_fail "tools/deps.sh test does not install $p"
    grep -qx "$p" <<<"$(tools/deps.sh --list demo)" && ts_fail "tools/deps.sh demo installs $p, which only the unit tests need"
done
bash tools/deps.sh nonsense >/dev/null 2>&1 && ts_fail "tools/deps.sh accepts an unknown purpose"
ts_pass
