#!/usr/bin/env bash
# Ctrl-C in the middle of the tour (step 4, while tapstack waits in FIN_WAIT2 with the host's
# socket open) leaves nothing behind: the demo exits at once with 130, and no namespace, no
# process and no temporary directory of it remains. Ctrl-C is SIGINT to the whole foreground
# process group, so the demo runs here in a process group of its own (job control on).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

[[ $(id -u) -eq 0 ]] || ts_skip "need root for network namespaces and taps"
[[ -x $TS_BIN/tapstack-sock ]] || ts_skip "$TS_BIN/tapstack-sock is not built"
out=$TS_TMP/app-tour.log
# The demo's temporary directory goes under a TMPDIR of this test's own, so another demo running
# on the machine at the same time cannot be mistaken for what this one left.
tourtmp=$TS_TMP/tourtmp
mkdir -p "$tourtmp"
set -m
TMPDIR=$tourtmp TOUR_NO_BUILD=1 TOUR_BUILD=$TS_BUILD "$TS_ROOT/tools/demo.sh" --step 4 >"$out" 2>&1 &
pid=$!
set +m
TS_PIDS+=("$pid")
for _ in $(seq 300); do
    grep -q 'FIN_WAIT1 -> FIN_WAIT2' "$out" && break
    kill -0 "$pid" 2>/dev/null || ts_fail "the demo ended before FIN_WAIT2"
    sleep 0.1
done
grep -q 'FIN_WAIT1 -> FIN_WAIT2' "$out" || ts_fail "the demo never reached FIN_WAIT2"
TOUR_PID=$(grep -o 'tstour[0-9]*' "$out" | head -n 1 | sed 's/tstour//')
ip netns list | grep -q "^ts-tour-$TOUR_PID-4" || ts_fail "the step's namespace is not there while it runs"
compgen -G "$tourtmp/ts-tour.*" >/dev/null || ts_fail "the demo's temporary directory is not in TMPDIR while it runs"
kill -INT -- -"$pid"
for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && ts_fail "the demo did not stop within 10 s of Ctrl-C"
wait "$pid"
rc=$?
[[ $rc -eq 130 ]] || ts_fail "the demo exited with $rc after Ctrl-C, not 130"
tour_check_nothing_left
new=$(ls -d "$tourtmp"/ts-tour.* 2>/dev/null || true)
[[ -z $new ]] || ts_fail "the demo left its temporary directory: $new"
grep -q 'interrupted' "$out" || ts_fail "the demo did not say it was interrupted"
ts_pass
