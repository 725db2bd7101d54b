#!/usr/bin/env bash
# `make demo WATCH=1 STEP=2,3`: the tour watched in a browser. One namespace for both steps; each
# step's tapstack-sock serves the live TCP page on port 8080 (segments recorded from its start);
# tour_watch_browser.py, inside that namespace, polls the endpoints as curl would and keeps a
# headless Chromium on http://10.0.0.2:8080/tcp across both steps: step 2's connection and states
# (LISTEN -> SYN_RECV -> ESTABLISHED, its ladder) show while step 2 runs, and when step 3's stack
# replaces it the data starts afresh (another instance, its trace from 1, nothing of step 2's on
# the page, which says a new server came). Also: the lesson is the same as without WATCH (step 2's
# exact chain), the browser's own connections stay out of the terminal, and nothing is left
# behind. A screenshot is kept in BUILD/artifacts/tour-watch.png.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tour_lib.sh"

[[ $(id -u) -eq 0 ]] || ts_skip "need root for network namespaces and taps"
[[ -e /dev/net/tun ]] || ts_skip "no /dev/net/tun"
for b in tapstack-sock tapstack-stat; do
    [[ -x $TS_BIN/$b ]] || ts_skip "$TS_BIN/$b is not built"
done
command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
    ts_skip "no chromium (apt-get install chromium; tools/deps.sh test installs it)"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

out=$TS_TMP/app-tour.log
set -m # its own process group, as make demo in a terminal
TOUR_NO_BUILD=1 TOUR_BUILD=$TS_BUILD TOUR_LOGS=$TS_TMP/tour TOUR_PACE=0.5 TOUR_WATCH_HOLD=6 \
    timeout --kill-after=10 300 "$TS_ROOT/tools/demo.sh" --watch --step 2,3 >"$out" 2>&1 </dev/null &
pid=$!
set +m
TS_PIDS+=("$pid")
for _ in $(seq 300); do
    grep -q 'a stack is up at 10.0.0.2, serving the page' "$out" && break
    kill -0 "$pid" 2>/dev/null || ts_fail "the demo ended before its first stack was up"
    sleep 0.1
done
grep -q 'a stack is up at 10.0.0.2, serving the page' "$out" || ts_fail "the page's first stack did not come up within 30 s"
TOUR_PID=$(grep -o 'tstour[0-9]*' "$out" | head -n 1 | sed 's/tstour//')
ns=ts-tour-$TOUR_PID-watch
grep -q "sudo ip netns exec $ns .*chromium.*--user-data-dir=.* http://10.0.0.2:8080/tcp" "$out" ||
    ts_fail "the demo does not print the command that opens the page in a browser inside $ns"

artifacts=$TS_BUILD/artifacts
mkdir -p "$artifacts"
ip netns exec "$ns" timeout 280 "$PY" "$(dirname "$0")/tour_watch_browser.py" \
    http://10.0.0.2:8080/tcp "$artifacts" >"$TS_TMP/browser.log" 2>&1
brc=$?
cat "$TS_TMP/browser.log" >&2
wait "$pid"
rc=$?
[[ $brc == 0 ]] || ts_fail "the watcher failed (exit $brc): $(grep -m1 '^FAIL' "$TS_TMP/browser.log")"
[[ $rc == 0 ]] || ts_fail "tools/demo.sh --watch --step 2,3 failed (exit status $rc)"
tour_check_nothing_left

# The lesson is the one of test_tour_2_connect.sh.
t=$TS_TMP/tour/step2/trace.log
peer=$(tour_peer "$t" 10.0.0.2:80)
[[ -n $peer ]] || ts_fail "no connection in step 2's trace"
tour_expect_chain_prefix "step 2 in watch mode" "$t" 10.0.0.2:80 "$peer" \
    "LISTEN -> SYN_RECV (rcvd SYN) | SYN_RECV -> ESTABLISHED (rcvd ACK of SYN) | ESTABLISHED -> FIN_WAIT1 (app close)"
tour_host_has "$TS_TMP/tour/step2/host-SYN-SENT.txt" SYN-SENT "$peer" 10.0.0.2:80 ||
    ts_fail "the host's ss did not show $peer in SYN-SENT: $(cat "$TS_TMP/tour/step2/host-SYN-SENT.txt")"
# The viewers' connections are in the stacks' traces, not on the terminal.
grep -q ' 10\.0\.0\.2:8080 > 10\.0\.0\.1:' "$t" || ts_fail "step 2's stack served no viewer (no :8080 connection in its trace)"
if grep -E '10\.0\.0\.[0-9]+:8080 ' "$out" | grep -v 'http://' >"$TS_TMP/leaked.txt"; then
    ts_fail "the terminal shows the viewers' connections: $(head -n 3 "$TS_TMP/leaked.txt")"
fi
[[ -s $artifacts/tour-watch.png ]] || ts_fail "no screenshot in $artifacts"
ts_pass "steps 2 and 3 watched through the page and its endpoints; screenshot $artifacts/tour-watch.png"
